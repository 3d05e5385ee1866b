//! The acknowledgements on their way back to one flow's sender: (arrival at the sender,
//! wire bytes acknowledged), oldest first. A few live inline, in the flow's own cache
//! line, because every message of every flow pushes one and with tens of thousands of
//! flows a queue on the heap is one more cache miss per message; the rest (a flow with
//! more acknowledgements in the air than that, or one too large for the inline form)
//! spill to a queue on the heap.
//!
//! Invariant: the queue is FIFO. Every inline entry is older than every spilled one, so
//! once something has spilled, pushes spill too until the inline part drains and the
//! spill is empty again.

use crate::time::SimTime;
use std::collections::VecDeque;

/// Entries kept inline.
pub(crate) const INLINE_ACKS: usize = 3;

#[derive(Debug, Default)]
pub(crate) struct AckQueue {
    at: [SimTime; INLINE_ACKS],
    wire: [u32; INLINE_ACKS],
    head: u8,
    len: u8,
    // Boxed: one pointer (null when unused) keeps the queue inside the flow's line,
    // where a VecDeque's 32 bytes would not fit.
    #[allow(clippy::box_collection)]
    spill: Option<Box<VecDeque<(SimTime, u64)>>>,
}

impl AckQueue {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len as usize + self.spill.as_ref().map_or(0, |s| s.len())
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a push would spill: the inline part is full, or older entries have
    /// spilled already (a push must then follow them).
    #[inline]
    pub(crate) fn would_spill(&self) -> bool {
        self.len as usize == INLINE_ACKS || self.spilling()
    }

    #[inline]
    fn spilling(&self) -> bool {
        self.spill.as_ref().is_some_and(|s| !s.is_empty())
    }

    /// Entries on the heap (for checks of how far the spill grows).
    pub(crate) fn spilled(&self) -> usize {
        self.spill.as_ref().map_or(0, |s| s.len())
    }

    #[inline]
    pub(crate) fn push_back(&mut self, at: SimTime, wire_bytes: u64) {
        match u32::try_from(wire_bytes) {
            Ok(wire) if !self.would_spill() => {
                let i = (self.head as usize + self.len as usize) % INLINE_ACKS;
                self.at[i] = at;
                self.wire[i] = wire;
                self.len += 1;
            }
            _ => self.push_spill(at, wire_bytes),
        }
    }

    #[cold]
    fn push_spill(&mut self, at: SimTime, wire_bytes: u64) {
        self.spill
            .get_or_insert_with(Default::default)
            .push_back((at, wire_bytes));
    }

    /// Forgets every entry, keeping the spill's allocation.
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        if let Some(spill) = &mut self.spill {
            spill.clear();
        }
    }

    #[inline]
    pub(crate) fn front(&self) -> Option<(SimTime, u64)> {
        if self.len > 0 {
            let i = self.head as usize;
            Some((self.at[i], self.wire[i] as u64))
        } else {
            self.spill.as_ref().and_then(|s| s.front().copied())
        }
    }

    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<(SimTime, u64)> {
        if self.len > 0 {
            let i = self.head as usize;
            self.head = ((i + 1) % INLINE_ACKS) as u8;
            self.len -= 1;
            Some((self.at[i], self.wire[i] as u64))
        } else {
            self.spill.as_mut().and_then(|s| s.pop_front())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_in_order_and_drains_back_inline() {
        let mut q = AckQueue::default();
        let t = SimTime::from_ns;
        for i in 0..5 {
            q.push_back(t(i), 100 + i);
        }
        // Too large for the inline form: spills, and stays behind the older entries.
        q.push_back(t(5), u64::from(u32::MAX) + 1);
        assert_eq!(q.len(), 6);
        assert_eq!(q.pop_front(), Some((t(0), 100)));
        // Room inline, but older entries have spilled: this one must follow them.
        q.push_back(t(6), 106);
        let rest: Vec<_> = std::iter::from_fn(|| q.pop_front()).collect();
        assert_eq!(
            rest,
            vec![
                (t(1), 101),
                (t(2), 102),
                (t(3), 103),
                (t(4), 104),
                (t(5), u64::from(u32::MAX) + 1),
                (t(6), 106)
            ]
        );
        assert!(q.is_empty());
        q.push_back(t(7), 107);
        assert_eq!(q.front(), Some((t(7), 107)));
        assert!(
            q.spill.as_ref().is_some_and(|s| s.is_empty()),
            "back inline"
        );
    }
}
