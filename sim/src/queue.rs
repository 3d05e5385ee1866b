//! The pending-event set: a radix heap keyed by time, FIFO among equal times. Invariant:
//! `pop` returns events in nondecreasing time, and events of equal time in the order they
//! were pushed.
//!
//! Why a radix heap: a discrete-event simulation never schedules before the last event it
//! ran, so keys are monotone and a radix heap applies. Pushes are O(1) appends, each
//! element moves between buckets at most once per differing bit of its time, and memory
//! access is sequential, which matters at large pending counts where a comparison heap
//! misses the cache on every level. Measured with `sim/examples/phold.rs` against
//! `BinaryHeap<Reverse<(u64, u64, u32)>>` (figures in the README's benchmark section).
//!
//! Why FIFO holds without a sequence number in the key: a bucket is a function of the
//! time, so elements of equal time always share a bucket, and every operation keeps
//! their relative order (a push appends after the older ones; a split, a rebase and the
//! drain of bucket 0 all walk elements front to back). Bucket 0, which holds the
//! elements equal to the minimum, is consumed front first.
//!
//! The one non-monotone case, a push below a time that `peek_time` already promoted (a
//! run that stopped at a time limit, then scheduled before the next pending event), is
//! handled by rebucketing everything against the new minimum: O(pending), once per stop.

use crate::time::SimTime;

/// Bucket 0 holds times equal to `last_ns`; bucket b >= 1 holds times whose highest bit
/// that differs from `last_ns` is bit b - 1.
const BUCKETS: usize = 65;

#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    time_ns: u64,
    event: E,
}

/// A min-queue of `E` ordered by (time, insertion order).
#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    buckets: [Vec<Entry<E>>; BUCKETS],
    /// Bucket 0 is consumed from this index on (so it drains front first without shifting).
    head0: usize,
    /// The time every bucket is relative to: the last popped or promoted time.
    last_ns: u64,
    /// Bit b set when bucket b is non-empty: the first non-empty bucket is one
    /// `trailing_zeros`, not a scan.
    occupied: u128,
    /// The smallest time in each bucket (u64::MAX when empty), kept on every push so a
    /// split needs one pass over the bucket, not two.
    mins: [u64; BUCKETS],
    len: usize,
    pushed: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn bucket_of(time_ns: u64, last_ns: u64) -> usize {
    64 - (time_ns ^ last_ns).leading_zeros() as usize
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// `capacity` pre-sizes bucket 0 (the others grow on demand and keep their
    /// allocations).
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buckets: [Vec<Entry<E>>; BUCKETS] = std::array::from_fn(|_| Vec::new());
        buckets[0].reserve(capacity.min(1 << 16));
        EventQueue {
            buckets,
            head0: 0,
            last_ns: 0,
            occupied: 0,
            mins: [u64::MAX; BUCKETS],
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
        self.put(bucket_of(time_ns, self.last_ns), Entry { time_ns, event });
        self.len += 1;
    }

    /// The time of the earliest event, if any.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.len == 0 {
            return None;
        }
        self.promote_min();
        Some(SimTime::from_ns(self.last_ns))
    }

    /// Removes and returns the earliest event (FIFO among equal times).
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.len == 0 {
            return None;
        }
        self.promote_min();
        let bucket0 = &mut self.buckets[0];
        if bucket0.len() == 1 {
            // The common case when times are distinct: no read cursor to maintain.
            let e = bucket0.pop().expect("len is 1");
            self.occupied &= !1;
            self.len -= 1;
            return Some((SimTime::from_ns(e.time_ns), e.event));
        }
        let e = bucket0[self.head0];
        self.head0 += 1;
        if self.head0 == bucket0.len() {
            bucket0.clear();
            self.head0 = 0;
            self.occupied &= !1;
        }
        self.len -= 1;
        Some((SimTime::from_ns(e.time_ns), e.event))
    }

    /// Makes bucket 0 hold the minimum: splits the first non-empty bucket against its own
    /// minimum, which becomes `last_ns`.
    #[inline]
    fn promote_min(&mut self) {
        if self.occupied & 1 != 0 {
            return;
        }
        debug_assert!(self.occupied != 0, "len > 0 means some bucket is non-empty");
        let b = self.occupied.trailing_zeros() as usize;
        self.occupied &= !(1u128 << b);
        let mut moving = std::mem::take(&mut self.buckets[b]);
        let min_ns = std::mem::replace(&mut self.mins[b], u64::MAX);
        debug_assert_eq!(Some(min_ns), moving.iter().map(|e| e.time_ns).min());
        self.last_ns = min_ns;
        for &e in &moving {
            let nb = bucket_of(e.time_ns, min_ns);
            debug_assert!(nb < b, "radix heap elements only move down");
            self.put(nb, e);
        }
        moving.clear();
        // Keep the allocation for the next time this bucket fills.
        self.buckets[b] = moving;
    }

    /// Rebuckets every element against a new, lower reference time (see the module doc).
    #[cold]
    fn rebase(&mut self, time_ns: u64) {
        // Equal times share a bucket, so walking each bucket front to back keeps their
        // relative order; order across different times does not matter.
        let mut all: Vec<Entry<E>> = Vec::with_capacity(self.len);
        all.extend(self.buckets[0].drain(..).skip(self.head0));
        for b in &mut self.buckets[1..] {
            all.append(b);
        }
        self.head0 = 0;
        self.occupied = 0;
        self.mins = [u64::MAX; BUCKETS];
        self.last_ns = time_ns;
        for e in all {
            self.put(bucket_of(e.time_ns, time_ns), e);
        }
    }

    #[inline]
    fn put(&mut self, bucket: usize, e: Entry<E>) {
        self.occupied |= 1u128 << bucket;
        self.mins[bucket] = self.mins[bucket].min(e.time_ns);
        self.buckets[bucket].push(e);
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
