//! The scheduler's ordering guarantees.

use proptest::prelude::*;
use sim::{Model, RunLimit, Scheduler, SimDuration, SimTime};

#[derive(Clone, Copy, Debug)]
struct Tagged {
    /// Global insertion order, assigned when scheduled.
    order: u64,
    /// Children to schedule when this runs: offsets drawn from `offsets`.
    spawn: u8,
}

struct Recorder {
    next_order: u64,
    offsets: Vec<u64>,
    cursor: usize,
    log: Vec<(SimTime, u64)>,
}

impl Model for Recorder {
    type Event = Tagged;
    fn handle(&mut self, sched: &mut Scheduler<Tagged>, ev: Tagged) {
        self.log.push((sched.now(), ev.order));
        for _ in 0..ev.spawn {
            let offset = self.offsets[self.cursor % self.offsets.len()];
            self.cursor += 1;
            let order = self.next_order;
            self.next_order += 1;
            sched.schedule_in(
                SimDuration::from_ns(offset),
                Tagged {
                    order,
                    spawn: (offset % 2) as u8,
                },
            );
        }
    }
}

proptest! {
    /// The clock never goes backwards, and events at equal times run in the order they
    /// were scheduled, including events scheduled for "now" by a running event and runs
    /// that stop at a time limit and resume.
    #[test]
    fn clock_is_monotone_and_equal_times_are_fifo(
        initial in prop::collection::vec((0u64..50, 0u8..3), 1..60),
        offsets in prop::collection::vec(prop_oneof![Just(0u64), 0u64..20], 1..20),
        stops in prop::collection::vec(0u64..200, 0..4),
    ) {
        let mut sched = Scheduler::new();
        let mut model = Recorder { next_order: 0, offsets, cursor: 0, log: Vec::new() };
        for (t, spawn) in initial {
            let order = model.next_order;
            model.next_order += 1;
            sched.schedule_at(SimTime::from_ns(t), Tagged { order, spawn });
        }
        let mut stops = stops;
        stops.sort();
        for stop in stops {
            if SimTime::from_ns(stop) >= sched.now() {
                sched.run(&mut model, RunLimit::Until(SimTime::from_ns(stop)));
            }
        }
        sched.run(&mut model, RunLimit::Events(10_000));
        for w in model.log.windows(2) {
            let ((t0, o0), (t1, o1)) = (w[0], w[1]);
            prop_assert!(t0 <= t1, "clock went backwards: {t0} then {t1}");
            if t0 == t1 {
                prop_assert!(o0 < o1, "equal-time events out of insertion order at {t0}: {o0} then {o1}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "event scheduled in the past: at t=5ns, now t=10ns")]
fn scheduling_in_the_past_panics_with_both_times() {
    struct Nop;
    impl Model for Nop {
        type Event = ();
        fn handle(&mut self, _: &mut Scheduler<()>, _: ()) {}
    }
    let mut sched = Scheduler::new();
    sched.schedule_at(SimTime::from_ns(10), ());
    sched.run(&mut Nop, RunLimit::Empty);
    sched.schedule_at(SimTime::from_ns(5), ());
}

#[test]
fn run_until_sets_the_clock_and_leaves_later_events() {
    struct Count(u32);
    impl Model for Count {
        type Event = ();
        fn handle(&mut self, _: &mut Scheduler<()>, _: ()) {
            self.0 += 1;
        }
    }
    let mut sched = Scheduler::new();
    for t in [1, 5, 10, 11] {
        sched.schedule_at(SimTime::from_ns(t), ());
    }
    let mut m = Count(0);
    sched.run(&mut m, RunLimit::Until(SimTime::from_ns(10)));
    assert_eq!(
        (m.0, sched.now(), sched.pending()),
        (3, SimTime::from_ns(10), 1)
    );
    assert_eq!(
        sched.run(&mut m, RunLimit::Events(5)),
        sim::RunOutcome::QueueEmpty
    );
    assert_eq!(m.0, 4);
}

/// One step of a queue workload.
#[derive(Clone, Debug)]
enum QueueOp {
    /// Push at (last popped time + delta).
    Push(u64),
    /// Push before the last popped time (the queue itself allows it; the scheduler
    /// refuses it one level up).
    PushBefore(u64),
    /// Push at the `k`-th multiple of 2^(8 x level) after the last popped time: exactly
    /// on the boundary of a bucket of that level.
    PushAligned {
        k: u64,
        level: u32,
    },
    Pop,
    /// Pop only an event at or before (last popped time + delta).
    PopUntil(u64),
    Peek,
    /// Ask whether every pending event is later than (last popped time + delta).
    AllLaterThan(u64),
}

/// Offsets at every scale the queue's digit levels distinguish: equal times, within one
/// 8-bit digit, within two, microseconds to hours, and up to the top bits of the clock.
fn spread_offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0u64..4,
        0u64..300,
        0u64..70_000,
        0u64..20_000_000,
        0u64..(1 << 42),
        0u64..(1 << 62),
        (u64::MAX - 3)..=u64::MAX,
    ]
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    prop_oneof![
        4 => spread_offset().prop_map(QueueOp::Push),
        1 => (1u64..1_000).prop_map(QueueOp::PushBefore),
        1 => (1u64..4, 1u32..4).prop_map(|(k, level)| QueueOp::PushAligned { k, level }),
        3 => Just(QueueOp::Pop),
        1 => spread_offset().prop_map(QueueOp::PopUntil),
        1 => Just(QueueOp::Peek),
        1 => spread_offset().prop_map(QueueOp::AllLaterThan),
    ]
}

proptest! {
    /// The event queue, under any interleaving of pushes (at times spread over every
    /// digit level up to the clock's last value, including below a time a peek already
    /// looked at and below the last popped time), pops, bounded pops
    /// and peeks, returns exactly what a stable sort of the pushed events by time would:
    /// the earliest time first, equal times in push order, nothing lost or duplicated,
    /// and a bounded pop returns nothing exactly when the earliest time is past its bound.
    /// Asked whether every pending event is later than a time, it never says yes
    /// wrongly, and always says yes when nothing is pending.
    #[test]
    fn event_queue_matches_a_stable_sort(ops in prop::collection::vec(queue_op(), 1..400)) {
        let mut queue = sim::EventQueue::new();
        // The reference: pending (time, push order), earliest = smallest pair.
        let mut pending: std::collections::BTreeSet<(u64, u64)> = Default::default();
        let mut pushed = 0u64;
        let mut now = 0u64;
        for op in ops {
            match op {
                QueueOp::Push(_) | QueueOp::PushAligned { .. } | QueueOp::PushBefore(_) => {
                    let t = match op {
                        QueueOp::PushBefore(delta) => now.saturating_sub(delta),
                        QueueOp::PushAligned { k, level } => {
                            let shift = 8 * level;
                            ((now >> shift).saturating_add(k)).saturating_mul(1 << shift)
                        }
                        QueueOp::Push(delta) => now.saturating_add(delta),
                        _ => unreachable!(),
                    };
                    queue.push(SimTime::from_ns(t), pushed);
                    pending.insert((t, pushed));
                    pushed += 1;
                }
                QueueOp::Pop | QueueOp::PopUntil(_) => {
                    let limit = match op {
                        QueueOp::PopUntil(delta) => now.saturating_add(delta),
                        _ => u64::MAX,
                    };
                    let expected = pending.first().copied().filter(|&(t, _)| t <= limit);
                    let got = queue
                        .pop_until(SimTime::from_ns(limit))
                        .map(|(t, id)| (t.as_ns(), id));
                    prop_assert_eq!(got, expected);
                    if let Some(e) = expected {
                        pending.remove(&e);
                        now = e.0;
                    }
                }
                QueueOp::Peek => {
                    let expected = pending.first().map(|&(t, _)| SimTime::from_ns(t));
                    prop_assert_eq!(queue.peek_time(), expected);
                }
                QueueOp::AllLaterThan(delta) => {
                    let time = now.saturating_add(delta);
                    let truth = pending.first().is_none_or(|&(t, _)| t > time);
                    let answer = queue.all_later_than(SimTime::from_ns(time));
                    prop_assert!(!answer || truth, "said all later than {} with {:?} pending", time, pending.first());
                    prop_assert!(answer || !pending.is_empty(), "said no with nothing pending");
                }
            }
            prop_assert_eq!(queue.len(), pending.len());
        }
        // Draining returns the rest in order.
        while let Some(e) = pending.pop_first() {
            prop_assert_eq!(queue.pop().map(|(t, id)| (t.as_ns(), id)), Some(e));
        }
        prop_assert!(queue.is_empty());
    }
}

/// A model whose events spawn follow-ups, each either scheduled or, when `pass_through`
/// allows, run at once through `Scheduler::run_next_at`.
struct Spawner {
    pass_through: bool,
    offsets: Vec<u64>,
    cursor: usize,
    next_id: u64,
    log: Vec<(SimTime, u64)>,
    budget: u32,
}

impl Spawner {
    fn run_event(&mut self, sched: &mut Scheduler<u64>, id: u64) {
        self.log.push((sched.now(), id));
        let mut follow_up = None;
        for _ in 0..2 {
            if self.budget == 0 {
                break;
            }
            self.budget -= 1;
            let offset = self.offsets[self.cursor % self.offsets.len()];
            self.cursor += 1;
            let child = self.next_id;
            self.next_id += 1;
            let at = sched.now() + SimDuration::from_ns(offset);
            // Only the last thing an event does may pass through: anything scheduled
            // after it would otherwise be reordered.
            if let Some((t, c)) = follow_up.replace((at, child)) {
                sched.schedule_at(t, c);
            }
        }
        if let Some((at, child)) = follow_up {
            if self.pass_through && sched.run_next_at(at) {
                self.run_event(sched, child);
            } else {
                sched.schedule_at(at, child);
            }
        }
    }
}

impl Model for Spawner {
    type Event = u64;
    fn handle(&mut self, sched: &mut Scheduler<u64>, id: u64) {
        self.run_event(sched, id);
    }
}

proptest! {
    /// Running an event at once through `run_next_at` is invisible: the same events run
    /// at the same times in the same order, the event count and the trace digest are
    /// those of scheduling it, and a run stops at its time limit either way.
    #[test]
    fn passing_through_the_queue_changes_nothing(
        initial in prop::collection::vec(0u64..300, 1..20),
        offsets in prop::collection::vec(prop_oneof![Just(0u64), 0u64..4, 0u64..500, 0u64..100_000], 1..20),
        stop in 0u64..200_000,
    ) {
        let mut outcomes = Vec::new();
        for pass_through in [false, true] {
            let mut sched = Scheduler::new();
            sched.enable_trace_digest();
            let mut model = Spawner { pass_through, offsets: offsets.clone(), cursor: 0, next_id: 0, log: Vec::new(), budget: 300 };
            for &t in &initial {
                let id = model.next_id;
                model.next_id += 1;
                sched.schedule_at(SimTime::from_ns(t), id);
            }
            sched.run(&mut model, RunLimit::Until(SimTime::from_ns(stop)));
            let first = (model.log.clone(), sched.events_run(), sched.trace_digest(), sched.now(), sched.pending());
            sched.run(&mut model, RunLimit::Empty);
            outcomes.push((first, model.log, sched.events_run(), sched.trace_digest()));
        }
        prop_assert_eq!(&outcomes[0], &outcomes[1]);
    }
}

#[test]
fn run_next_at_declines_outside_a_timed_run_and_before_pending_events() {
    let mut sched: Scheduler<u64> = Scheduler::new();
    // Outside `run`, and in an event-count run, nothing may pass through.
    assert!(!sched.run_next_at(SimTime::from_ns(5)));
    sched.schedule_at(SimTime::from_ns(10), 1);
    struct Probe(Vec<(u64, bool, bool, bool)>);
    impl Model for Probe {
        type Event = u64;
        fn handle(&mut self, sched: &mut Scheduler<u64>, id: u64) {
            if id != 1 {
                return;
            }
            let now = sched.now().as_ns();
            // Pending: 20. At the pending time (not strictly before) and past the
            // run's end (25) it declines; strictly before it accepts.
            let at_pending = sched.run_next_at(SimTime::from_ns(20));
            let past_end = sched.run_next_at(SimTime::from_ns(30));
            let before = sched.run_next_at(SimTime::from_ns(15));
            self.0.push((now + id, at_pending, past_end, before));
        }
    }
    sched.schedule_at(SimTime::from_ns(20), 2);
    let mut probe = Probe(Vec::new());
    sched.run(&mut probe, RunLimit::Until(SimTime::from_ns(25)));
    assert_eq!(probe.0[0], (11, false, false, true));
    assert_eq!(sched.events_run(), 3, "the pass-through counts as an event");

    // An event-count run declines too: a pass-through would escape the count.
    struct Asks(Vec<bool>);
    impl Model for Asks {
        type Event = u64;
        fn handle(&mut self, sched: &mut Scheduler<u64>, _: u64) {
            let soon = sched.now() + SimDuration::from_ns(1);
            self.0.push(sched.run_next_at(soon));
        }
    }
    let mut sched: Scheduler<u64> = Scheduler::new();
    sched.schedule_at(SimTime::from_ns(5), 1);
    let mut asks = Asks(Vec::new());
    sched.run(&mut asks, RunLimit::Events(1));
    assert_eq!((asks.0, sched.events_run()), (vec![false], 1));
}
