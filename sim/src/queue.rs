//! The pending-event set: a radix heap keyed by time with 8-bit digits (a hierarchical
//! timing wheel that never loses precision) whose buckets are linked lists threaded
//! through one pool of nodes, FIFO among equal times. Invariant: `pop` returns events in
//! nondecreasing time, and events of equal time in the order they were pushed.
//!
//! Why a radix heap: a discrete-event simulation never schedules before the last event it
//! ran, so keys are monotone and a radix heap applies: pushes are O(1) appends and no
//! comparison of two times is ever made. Why 8-bit digits: an element moves down at most
//! once per level it skips, so most events (scheduled a few microseconds to milliseconds
//! ahead) move once or twice in their life, where a 1-bit radix heap moves them once per
//! differing bit (about ten times each in the simulator's own runs). Why linked lists in
//! one pool: the pool holds exactly the pending events (a free list recycles nodes last
//! in, first out), so a few hundred pending events stay in a few kilobytes that remain in
//! cache, and moving an element relinks it instead of copying it; a vector per bucket
//! would spread them over hundreds of separate allocations, each cold when next touched.
//! Measured with `sim/examples/phold.rs` against `BinaryHeap<Reverse<(u64, u64, u32)>>`
//! and with `kvsim bench` (the PHOLD figures are in ARCHITECTURE.md's code map, under
//! `queue`).
//!
//! The buckets: relative to a reference time `last_ns` (never above any queued time), an
//! element lives at level `l`, the most significant 8-bit digit where its time differs
//! from `last_ns` (level 0 when equal), in bucket `d`, its own digit there. Every element
//! of level `l` is later than every element of the levels below, and within a level a
//! lower digit is earlier; a level-0 bucket holds one exact time. Popping takes the head
//! of the first level-0 bucket; when level 0 is empty, the first bucket of the lowest
//! non-empty level is redistributed against its own base time, which becomes `last_ns`.
//!
//! Why FIFO holds without a sequence number in the key: a bucket is a function of the
//! time, so elements of equal time always share a bucket, and every operation keeps
//! their relative order (a push appends at the tail; a redistribution and a rebase walk
//! lists head to tail, appending).
//!
//! The one non-monotone case, a push below `last_ns` (a run that stopped at a time limit
//! after peeking, then scheduled before the next pending event), is handled by
//! rebucketing everything against the new time: O(pending), once per stop.

use crate::time::SimTime;

const DIGIT_BITS: u32 = 8;
const DIGITS: usize = 1 << DIGIT_BITS;
const LEVELS: usize = 64 / DIGIT_BITS as usize;
const WORDS: usize = DIGITS / 64;
/// The end of a list.
const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node<E> {
    time_ns: u64,
    /// The next node of the same bucket (or of the free list).
    next: u32,
    event: E,
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

/// (level, digit) of `time_ns` relative to `last_ns` (`time_ns >= last_ns`).
#[inline]
fn bucket_of(time_ns: u64, last_ns: u64) -> (usize, usize) {
    let diff = time_ns ^ last_ns;
    let level = if diff == 0 {
        0
    } else {
        (63 - diff.leading_zeros()) / DIGIT_BITS
    };
    let digit = (time_ns >> (level * DIGIT_BITS)) as usize & (DIGITS - 1);
    (level as usize, digit)
}

/// A min-queue of `E` ordered by (time, insertion order).
#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    nodes: Vec<Node<E>>,
    /// Head of the list of recycled nodes.
    free: u32,
    /// `LEVELS x DIGITS` buckets, level-major.
    buckets: Box<[List]>,
    /// Per level, bit `d` set when bucket `d` is non-empty.
    occupied: [[u64; WORDS]; LEVELS],
    /// Per level, bit `w` set when `occupied[level][w]` is not zero: the first non-empty
    /// bucket is two `trailing_zeros`, not a scan.
    words: [u32; LEVELS],
    /// Bit `l` set when level `l` has a non-empty bucket.
    levels: u32,
    /// The time every bucket is relative to.
    last_ns: u64,
    len: usize,
    pushed: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// `capacity` pre-sizes the node pool.
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            nodes: Vec::with_capacity(capacity),
            free: NIL,
            buckets: vec![EMPTY; LEVELS * DIGITS].into_boxed_slice(),
            occupied: [[0; WORDS]; LEVELS],
            words: [0; LEVELS],
            levels: 0,
            last_ns: 0,
            len: 0,
            pushed: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many events were ever pushed.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Adds `event` at `time`; it runs after every event already queued at the same time.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        self.pushed += 1;
        let time_ns = time.as_ns();
        if time_ns < self.last_ns {
            self.rebase(time_ns);
        }
        let node = Node {
            time_ns,
            next: NIL,
            event,
        };
        let n = if self.free != NIL {
            let n = self.free;
            self.free = self.nodes[n as usize].next;
            self.nodes[n as usize] = node;
            n
        } else {
            let n = u32::try_from(self.nodes.len()).expect("fewer than 2^32 pending events");
            assert!(n != NIL, "fewer than 2^32 - 1 pending events");
            self.nodes.push(node);
            n
        };
        let (level, digit) = bucket_of(time_ns, self.last_ns);
        self.append(level, digit, n);
        self.len += 1;
    }

    /// The time of the earliest event, if any.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.len == 0 {
            return None;
        }
        let digit = self.first_level0_digit();
        let n = self.buckets[digit].head;
        Some(SimTime::from_ns(self.nodes[n as usize].time_ns))
    }

    /// True only if every pending event is strictly later than `time` (always when none
    /// is pending). Decided without reorganizing anything, from the lower bound of the
    /// earliest non-empty bucket, so it may answer false when the earliest event is in
    /// fact later but shares a coarse bucket's range with `time`.
    #[inline]
    pub fn all_later_than(&self, time: SimTime) -> bool {
        if self.len == 0 {
            return true;
        }
        let level = self.levels.trailing_zeros();
        let digit = self.first_set(level as usize) as u64;
        let shift = level * DIGIT_BITS;
        let above_shift = shift + DIGIT_BITS;
        let above = if above_shift >= 64 {
            0
        } else {
            (self.last_ns >> above_shift) << above_shift
        };
        // Every event of bucket (level, digit) is at or after this time, and every other
        // bucket's events are later still (the radix heap's order).
        let bucket_start_ns = above | (digit << shift);
        time.as_ns() < bucket_start_ns
    }

    /// Counts an event as pushed and popped at once (see
    /// [`crate::Scheduler::run_next_at`]), so counts stay those of a push and a pop.
    #[inline]
    pub(crate) fn count_pass_through(&mut self) {
        self.pushed += 1;
    }

    /// Removes and returns the earliest event (FIFO among equal times).
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_until(SimTime::MAX)
    }

    /// Removes and returns the earliest event if it is at or before `limit` (one lookup
    /// of the minimum where `peek_time` then `pop` would take two).
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        if self.len == 0 {
            return None;
        }
        let digit = self.first_level0_digit();
        let n = self.buckets[digit].head;
        let node = &mut self.nodes[n as usize];
        if node.time_ns > limit.as_ns() {
            return None;
        }
        self.len -= 1;
        let (time_ns, event, next) = (node.time_ns, node.event, node.next);
        node.next = self.free;
        self.free = n;
        let bucket = &mut self.buckets[digit];
        bucket.head = next;
        if next == NIL {
            bucket.tail = NIL;
            self.clear_bit(0, digit);
        }
        Some((SimTime::from_ns(time_ns), event))
    }

    /// The digit of the first non-empty level-0 bucket, redistributing higher levels
    /// until there is one (`len > 0`).
    #[inline]
    fn first_level0_digit(&mut self) -> usize {
        if self.levels & 1 == 0 {
            self.refill_level0();
        }
        self.first_set(0)
    }

    /// Redistributes the first bucket of the lowest non-empty level until level 0 has an
    /// element.
    #[inline(never)]
    fn refill_level0(&mut self) {
        while self.levels & 1 == 0 {
            debug_assert!(self.levels != 0, "len > 0 means some bucket is non-empty");
            let level = self.levels.trailing_zeros() as usize;
            let digit = self.first_set(level);
            self.clear_bit(level, digit);
            let shift = level as u32 * DIGIT_BITS;
            // The bucket's base: `last_ns`'s digits above this level, then this digit,
            // then zeros. Every element of the bucket is at or after it, and it is after
            // every time already popped (they share `last_ns`'s digit at this level,
            // which is lower).
            let above_shift = shift + DIGIT_BITS;
            let above = if above_shift >= 64 {
                0
            } else {
                (self.last_ns >> above_shift) << above_shift
            };
            let base = above | ((digit as u64) << shift);
            debug_assert!(base > self.last_ns);
            self.last_ns = base;
            let list = std::mem::replace(&mut self.buckets[level * DIGITS + digit], EMPTY);
            let mut n = list.head;
            while n != NIL {
                let node = &mut self.nodes[n as usize];
                let next = node.next;
                node.next = NIL;
                let (l, d) = bucket_of(node.time_ns, base);
                debug_assert!(l < level, "radix heap elements only move down");
                self.append(l, d, n);
                n = next;
            }
        }
    }

    /// Rebuckets every element against a new, lower reference time (see the module doc).
    #[cold]
    fn rebase(&mut self, time_ns: u64) {
        // Equal times share a bucket, so walking each bucket head to tail keeps their
        // relative order; order across different times does not matter.
        // Only the buckets the bitmaps mark non-empty are walked.
        let mut all: Vec<u32> = Vec::with_capacity(self.len);
        for level in 0..LEVELS {
            for (w, &word) in self.occupied[level].iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let digit = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let list = std::mem::replace(&mut self.buckets[level * DIGITS + digit], EMPTY);
                    let mut n = list.head;
                    while n != NIL {
                        all.push(n);
                        n = self.nodes[n as usize].next;
                    }
                }
            }
        }
        self.occupied = [[0; WORDS]; LEVELS];
        self.words = [0; LEVELS];
        self.levels = 0;
        self.last_ns = time_ns;
        for n in all {
            self.nodes[n as usize].next = NIL;
            let (l, d) = bucket_of(self.nodes[n as usize].time_ns, time_ns);
            self.append(l, d, n);
        }
    }

    /// Appends node `n` (its `next` is NIL) to bucket (`level`, `digit`).
    #[inline]
    fn append(&mut self, level: usize, digit: usize, n: u32) {
        let list = &mut self.buckets[level * DIGITS + digit];
        if list.tail == NIL {
            list.head = n;
            self.occupied[level][digit / 64] |= 1u64 << (digit % 64);
            self.words[level] |= 1 << (digit / 64);
            self.levels |= 1 << level;
        } else {
            self.nodes[list.tail as usize].next = n;
        }
        list.tail = n;
    }

    #[inline]
    fn clear_bit(&mut self, level: usize, digit: usize) {
        let word = &mut self.occupied[level][digit / 64];
        *word &= !(1u64 << (digit % 64));
        if *word == 0 {
            self.words[level] &= !(1 << (digit / 64));
            if self.words[level] == 0 {
                self.levels &= !(1 << level);
            }
        }
    }

    /// The first non-empty bucket of `level` (which has one).
    #[inline]
    fn first_set(&self, level: usize) -> usize {
        debug_assert!(self.words[level] != 0, "first_set on an empty level");
        let w = self.words[level].trailing_zeros() as usize;
        w * 64 + self.occupied[level][w].trailing_zeros() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_among_equal_times_and_ordered_by_time() {
        let mut q = EventQueue::new();
        for (t, id) in [(5, 0), (1, 1), (5, 2), (3, 3), (1, 4), (5, 5)] {
            q.push(SimTime::from_ns(t), id);
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![1, 4, 3, 0, 2, 5]);
        assert!(q.is_empty());
    }

    #[test]
    fn push_below_a_peeked_time_rebases() {
        let mut q = EventQueue::new();
        q.push(SimTime::from_ns(100), 'a');
        q.push(SimTime::from_ns(200), 'b');
        assert_eq!(q.peek_time(), Some(SimTime::from_ns(100)));
        q.push(SimTime::from_ns(50), 'c');
        q.push(SimTime::from_ns(100), 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['c', 'a', 'd', 'b']);
    }
}
