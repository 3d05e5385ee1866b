//! The run loop. A model owns its state and a closed event enum; the scheduler owns the
//! clock and the pending events and hands each event to the model by static dispatch
//! (`Model::handle` is a `match` on the model's enum, no boxing, no downcasts).
//!
//! Ordering guarantees a model may rely on:
//! - events run in nondecreasing time; the clock never goes backwards;
//! - events scheduled for the same time run in the order they were scheduled;
//! - scheduling an event before `now` is a bug and panics with both times;
//! - the trace digest folds every executed (time, sequence) pair, so two runs that
//!   executed the same events at the same times have the same digest.

use crate::queue::EventQueue;
use crate::time::{SimDuration, SimTime};

/// A simulated system: its state plus the handler of its events.
pub trait Model {
    /// The model's events: small and `Copy` (indices into slabs, not boxes).
    type Event: Copy;
    /// Handles one event at `sched.now()`; may schedule more.
    fn handle(&mut self, sched: &mut Scheduler<Self::Event>, event: Self::Event);
}

/// When [`Scheduler::run`] stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunLimit {
    /// Run every event at or before this time, then set the clock to it.
    Until(SimTime),
    /// Run at most this many more events.
    Events(u64),
    /// Run until no event is pending.
    Empty,
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    ReachedTime,
    ReachedEventCount,
    QueueEmpty,
}

/// The clock and the pending events of one run.
#[derive(Debug)]
pub struct Scheduler<E> {
    now: SimTime,
    /// The latest time the current `run` may reach (an event-count run: none may be
    /// taken by `run_next_at`, which would bypass the count).
    pass_through_limit: Option<SimTime>,
    /// `run_next_at` may answer yes (see [`Scheduler::set_pass_through`]).
    pass_through: bool,
    queue: EventQueue<E>,
    events_run: u64,
    /// Folded only when enabled: the digest costs two multiplies an event.
    trace: Option<TraceDigest>,
}

impl<E: Copy> Default for Scheduler<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> Scheduler<E> {
    pub fn new() -> Self {
        Self::with_capacity(1024)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Scheduler {
            now: SimTime::ZERO,
            pass_through_limit: None,
            pass_through: true,
            queue: EventQueue::with_capacity(capacity),
            events_run: 0,
            trace: None,
        }
    }

    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events executed so far.
    pub fn events_run(&self) -> u64 {
        self.events_run
    }

    /// Events pending.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Starts folding every executed event into the trace digest.
    pub fn enable_trace_digest(&mut self) {
        self.trace.get_or_insert_with(TraceDigest::default);
    }

    /// A digest of every (time, sequence) executed since the digest was enabled (`None`
    /// if it never was): equal for equal traces.
    pub fn trace_digest(&self) -> Option<u64> {
        self.trace.map(TraceDigest::value)
    }

    /// Schedules `event` at `at`. Panics if `at` is before now: a model that does this
    /// has a bug, and running on would break causality.
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) {
        if at < self.now {
            panic!("event scheduled in the past: at {at}, now {}", self.now);
        }
        self.queue.push(at, event);
    }

    /// For a model about to schedule an event at `at` that it would handle itself: when
    /// that event would run next anyway (every pending event is strictly later, and the
    /// current run reaches `at`), advances the clock to `at`, counts the event as
    /// scheduled and run, and returns true; the caller then handles it at once, with no
    /// trip through the queue. Otherwise returns false and the caller schedules it.
    /// Either way the events run in the same order at the same times, provided that
    /// the caller does nothing else before handling it: this must be the last thing
    /// the current event does (anything it scheduled afterwards might belong before).
    #[inline]
    pub fn run_next_at(&mut self, at: SimTime) -> bool {
        let Some(limit) = self.pass_through_limit else {
            return false;
        };
        if !self.pass_through {
            return false;
        }
        if at < self.now || at > limit || !self.queue.all_later_than(at) {
            return false;
        }
        self.queue.count_pass_through();
        self.start_event_at(at);
        true
    }

    /// The clock moves to an event about to run (taken from the queue or passed
    /// through it): counted, and folded into the trace digest.
    #[inline]
    fn start_event_at(&mut self, time: SimTime) {
        self.now = time;
        self.events_run += 1;
        if let Some(trace) = &mut self.trace {
            trace.fold(
                time.as_ns(),
                self.queue.pushed() ^ (self.queue.len() as u64) << 32,
            );
        }
    }

    /// Turns `run_next_at` off (it then always declines) or back on. Results never
    /// depend on it; this exists so that tests can check they do not.
    pub fn set_pass_through(&mut self, enabled: bool) {
        self.pass_through = enabled;
    }

    /// Schedules `event` after `delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        let at = self.now + delay;
        self.queue.push(at, event);
    }

    /// Removes the next event and advances the clock to it.
    #[inline]
    pub fn pop(&mut self) -> Option<E> {
        self.pop_until(SimTime::MAX)
    }

    /// Like `pop`, for an event at or before `limit` only.
    #[inline]
    fn pop_until(&mut self, limit: SimTime) -> Option<E> {
        let (time, event) = self.queue.pop_until(limit)?;
        debug_assert!(
            time >= self.now,
            "queue returned {time} before now {}",
            self.now
        );
        self.start_event_at(time);
        Some(event)
    }

    /// Runs `model` until `limit`.
    // Inlined into each caller: the event loop and the model's dispatch then compile as
    // one, whether a world runs straight through or in observed stretches.
    #[inline]
    pub fn run<M: Model<Event = E>>(&mut self, model: &mut M, limit: RunLimit) -> RunOutcome {
        match limit {
            RunLimit::Until(end) => {
                self.pass_through_limit = Some(end);
                while let Some(event) = self.pop_until(end) {
                    model.handle(self, event);
                }
                self.pass_through_limit = None;
                if end > self.now {
                    self.now = end;
                }
                RunOutcome::ReachedTime
            }
            RunLimit::Events(count) => {
                for _ in 0..count {
                    match self.pop() {
                        Some(event) => model.handle(self, event),
                        None => return RunOutcome::QueueEmpty,
                    }
                }
                RunOutcome::ReachedEventCount
            }
            RunLimit::Empty => {
                self.pass_through_limit = Some(SimTime::MAX);
                while let Some(event) = self.pop() {
                    model.handle(self, event);
                }
                self.pass_through_limit = None;
                RunOutcome::QueueEmpty
            }
        }
    }
}

/// A running digest of executed events. It folds the event's time and a count that
/// depends on the queue's state, so it changes when the order or timing of events does.
#[derive(Clone, Copy, Debug, Default)]
struct TraceDigest(u64);

impl TraceDigest {
    #[inline]
    fn fold(&mut self, time_ns: u64, salt: u64) {
        // One multiply-xorshift round per event (the 64-bit finalizer of MurmurHash3):
        // cheap enough to leave on, and every input bit reaches every output bit.
        let mut z = self.0 ^ time_ns.rotate_left(17) ^ salt;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        self.0 = z ^ (z >> 33);
    }
    fn value(self) -> u64 {
        self.0
    }
}
