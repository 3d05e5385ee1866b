//! The pending-event set: a radix heap keyed by time with 8-bit digits (a hierarchical
//! timing wheel that never loses precision), FIFO among equal times. Invariant: `pop`
//! returns events in nondecreasing time, and events of equal time in the order they were
//! pushed.
//!
//! Why a radix heap: a discrete-event simulation never schedules before the last event it
//! ran, so keys are monotone and a radix heap applies. Pushes are O(1) appends, and
//! memory access is sequential, which matters at large pending counts where a comparison
//! heap misses the cache on every level. Why 8-bit digits: an element moves down at most
//! once per level it skips, and with 256 buckets a level most events (scheduled a few
//! microseconds to milliseconds ahead) move once or twice in their life, where a 1-bit
//! radix heap moves them once per differing bit. Measured with `sim/examples/phold.rs`
//! against `BinaryHeap<Reverse<(u64, u64, u32)>>` (figures in the README's benchmark
//! section).
//!
//! The buckets: relative to a reference time `last_ns` (never above any queued time), an
//! element lives at level `l`, the most significant 8-bit digit where its time differs
//! from `last_ns` (level 0 when equal), in bucket `d`, its own digit there. Every element
//! of level `l` is later than every element of the levels below, and within a level a
//! lower digit is earlier; level-0 buckets each hold one exact time. Popping takes the
//! first level-0 bucket front first; when level 0 is empty, the first bucket of the
//! lowest non-empty level is redistributed against its own base time, which becomes
//! `last_ns`.
//!
//! Why FIFO holds without a sequence number in the key: a bucket is a function of the
//! time, so elements of equal time always share a bucket, and every operation keeps
//! their relative order (a push appends after the older ones; a redistribution and a
//! rebase walk elements front to back).
//!
//! The one non-monotone case, a push below `last_ns` (a run that stopped at a time limit
//! after peeking, then scheduled before the next pending event), is handled by
//! rebucketing everything against the new time: O(pending), once per stop.

use crate::time::SimTime;

const DIGIT_BITS: u32 = 8;
const DIGITS: usize = 1 << DIGIT_BITS;
const LEVELS: usize = 64 / DIGIT_BITS as usize;
const WORDS: usize = DIGITS / 64;

#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    time_ns: u64,
    event: E,
}

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
    /// `LEVELS x DIGITS` buckets, level-major.
    buckets: Vec<Vec<Entry<E>>>,
    /// Per level, bit `d` set when bucket `d` is non-empty.
    occupied: [[u64; WORDS]; LEVELS],
    /// Bit `l` set when level `l` has a non-empty bucket.
    levels: u32,
    /// The first level-0 bucket is consumed from this index on (so it drains front first
    /// without shifting). Only that bucket is ever read from, and pushes never go below
    /// it, so one cursor suffices.
    head0: usize,
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

    /// `capacity` pre-sizes the first level-0 bucket (the others grow on demand and keep
    /// their allocations).
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buckets: Vec<Vec<Entry<E>>> = (0..LEVELS * DIGITS).map(|_| Vec::new()).collect();
        buckets[0].reserve(capacity.min(1 << 16));
        EventQueue {
            buckets,
            occupied: [[0; WORDS]; LEVELS],
            levels: 0,
            head0: 0,
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
        let (level, digit) = bucket_of(time_ns, self.last_ns);
        self.put(level, digit, Entry { time_ns, event });
        self.len += 1;
    }

    /// The time of the earliest event, if any.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.len == 0 {
            return None;
        }
        let digit = self.first_level0_digit();
        let e = &self.buckets[digit][self.head0];
        Some(SimTime::from_ns(e.time_ns))
    }

    /// Removes and returns the earliest event (FIFO among equal times).
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.len == 0 {
            return None;
        }
        let digit = self.first_level0_digit();
        self.len -= 1;
        let bucket = &mut self.buckets[digit];
        if bucket.len() == 1 {
            // The common case when times are distinct: no read cursor to maintain.
            let e = bucket.pop().expect("len is 1");
            self.clear_bit(0, digit);
            return Some((SimTime::from_ns(e.time_ns), e.event));
        }
        let e = bucket[self.head0];
        self.head0 += 1;
        if self.head0 == bucket.len() {
            bucket.clear();
            self.head0 = 0;
            self.clear_bit(0, digit);
        }
        Some((SimTime::from_ns(e.time_ns), e.event))
    }

    /// The digit of the first non-empty level-0 bucket, redistributing higher levels
    /// until there is one (`len > 0`).
    #[inline]
    fn first_level0_digit(&mut self) -> usize {
        if self.levels & 1 == 0 {
            self.refill_level0();
        }
        first_set(&self.occupied[0])
    }

    /// Redistributes the first bucket of the lowest non-empty levels until level 0 has
    /// an element.
    #[inline(never)]
    fn refill_level0(&mut self) {
        while self.levels & 1 == 0 {
            debug_assert!(self.levels != 0, "len > 0 means some bucket is non-empty");
            let level = self.levels.trailing_zeros() as usize;
            let digit = first_set(&self.occupied[level]);
            self.clear_bit(level, digit);
            let shift = level as u32 * DIGIT_BITS;
            // The bucket's base: `last_ns`'s digits above this level, then this digit,
            // then zeros. Every element of the bucket is at or after it, and it is after
            // every time already popped (see the module doc).
            let above = if shift + DIGIT_BITS >= 64 {
                0
            } else {
                (self.last_ns >> (shift + DIGIT_BITS)) << (shift + DIGIT_BITS)
            };
            let base = above | ((digit as u64) << shift);
            debug_assert!(base > self.last_ns);
            self.last_ns = base;
            let index = level * DIGITS + digit;
            let mut moving = std::mem::take(&mut self.buckets[index]);
            for &e in &moving {
                let (l, d) = bucket_of(e.time_ns, base);
                debug_assert!(l < level, "radix heap elements only move down");
                self.put(l, d, e);
            }
            moving.clear();
            // Keep the allocation for the next time this bucket fills.
            self.buckets[index] = moving;
        }
    }

    /// Rebuckets every element against a new, lower reference time (see the module doc).
    #[cold]
    fn rebase(&mut self, time_ns: u64) {
        // Equal times share a bucket, so walking each bucket front to back keeps their
        // relative order; order across different times does not matter.
        let mut all: Vec<Entry<E>> = Vec::with_capacity(self.len);
        // Only the first level-0 bucket has consumed elements (before `head0`).
        let consumed = (self.levels & 1 != 0).then(|| first_set(&self.occupied[0]));
        for (index, bucket) in self.buckets.iter_mut().enumerate() {
            let skip = if consumed == Some(index) {
                self.head0
            } else {
                0
            };
            all.extend(bucket.drain(..).skip(skip));
        }
        self.head0 = 0;
        self.occupied = [[0; WORDS]; LEVELS];
        self.levels = 0;
        self.last_ns = time_ns;
        for e in all {
            let (l, d) = bucket_of(e.time_ns, time_ns);
            self.put(l, d, e);
        }
    }

    #[inline]
    fn put(&mut self, level: usize, digit: usize, e: Entry<E>) {
        self.occupied[level][digit / 64] |= 1u64 << (digit % 64);
        self.levels |= 1 << level;
        self.buckets[level * DIGITS + digit].push(e);
    }

    #[inline]
    fn clear_bit(&mut self, level: usize, digit: usize) {
        let words = &mut self.occupied[level];
        words[digit / 64] &= !(1u64 << (digit % 64));
        if words.iter().all(|&w| w == 0) {
            self.levels &= !(1 << level);
        }
    }
}

/// The index of the first set bit (some bit is set).
#[inline]
fn first_set(words: &[u64; WORDS]) -> usize {
    for (i, &w) in words.iter().enumerate() {
        if w != 0 {
            return i * 64 + w.trailing_zeros() as usize;
        }
    }
    unreachable!("first_set on an empty level")
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
