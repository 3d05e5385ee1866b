//! One shaper driven directly: credits, allowance, fairness, and what the allowance
//! counters count against the wire.

use proptest::prelude::*;
use sim::net::{LocalFlow, Shaper, ShaperConfig, ShaperOutput};
use sim::{Model, RunLimit, Scheduler, SimTime};

#[derive(Clone, Copy, Debug)]
enum Ev {
    Offer { flow: u32, payload_bytes: u64 },
    Wake,
}

struct Driver {
    shaper: Shaper,
    flows: Vec<LocalFlow>,
    out: ShaperOutput,
    next_token: u32,
    /// Checked at every chunk boundary (wake): (time, credits, wire bytes served).
    boundaries: Vec<(SimTime, u64, u64)>,
    /// (time, served per flow, backlogged per flow) at every wake.
    shares: Vec<(SimTime, Vec<u64>, Vec<bool>)>,
    /// The latest finish time of any message.
    last_finish: SimTime,
    /// (token, finish time) of every message, in the order their last chunks started.
    finished: Vec<(u32, SimTime)>,
}

impl Model for Driver {
    type Event = Ev;
    fn handle(&mut self, sched: &mut Scheduler<Ev>, ev: Ev) {
        let now = sched.now();
        self.out.finished.clear();
        self.out.wake_at = None;
        match ev {
            Ev::Offer {
                flow,
                payload_bytes,
            } => {
                let token = self.next_token;
                self.next_token += 1;
                self.shaper.offer(
                    now,
                    self.flows[flow as usize],
                    token,
                    payload_bytes,
                    &mut self.out,
                );
            }
            Ev::Wake => {
                // A chunk may have started at this same instant (an offer ran first): the
                // allowance check holds at idle instants only.
                if !self.shaper.is_busy(now) {
                    self.boundaries.push((
                        now,
                        self.shaper.credits_bits(now),
                        self.shaper.counters.wire_bytes,
                    ));
                }
                self.shares.push((
                    now,
                    self.flows
                        .iter()
                        .map(|f| self.shaper.flow_dequeued_wire_bytes(*f))
                        .collect(),
                    self.flows
                        .iter()
                        .map(|f| self.shaper.flow_backlogged(*f))
                        .collect(),
                ));
                self.shaper.wake(now, &mut self.out);
            }
        }
        if let Some(at) = self.out.wake_at {
            sched.schedule_at(at, Ev::Wake);
        }
        for &(token, done) in &self.out.finished {
            self.last_finish = self.last_finish.max(done);
            self.finished.push((token, done));
        }
    }
}

fn driver(cfg: ShaperConfig, flows: usize) -> Driver {
    let mut shaper = Shaper::new(cfg, crate::support::framing());
    let flows = (0..flows).map(|_| shaper.add_flow()).collect();
    Driver {
        shaper,
        flows,
        out: ShaperOutput::default(),
        next_token: 0,
        boundaries: Vec::new(),
        shares: Vec::new(),
        last_finish: SimTime::ZERO,
        finished: Vec::new(),
    }
}

fn bucket_config() -> impl Strategy<Value = ShaperConfig> {
    (
        1_000_000u64..1_000_000_000,
        1u64..20,
        0u64..50_000_000,
        0u64..=100,
        prop::option::of(1_000u64..1_000_000),
        1u64..4,
    )
        .prop_map(
            |(baseline, burst_x, capacity, initial_pct, pps, line_x)| ShaperConfig {
                baseline_bits_per_s: baseline,
                burst_bits_per_s: baseline * burst_x,
                credit_capacity_bits: capacity,
                initial_credit_bits: capacity * initial_pct / 100,
                queue_capacity_bytes: 2_000_000,
                pps_limit: pps,
                flow_cap_bits_per_s: None,
                chunk_bytes: 16_384,
                line_rate_bits_per_s: baseline * burst_x * line_x,
            },
        )
}

/// Offers at the given times (ns), flows and sizes, run until every message is served.
fn run(cfg: ShaperConfig, flows: usize, offers: &[(u64, u32, u64)]) -> Driver {
    let mut d = driver(cfg, flows);
    let mut sched = Scheduler::new();
    for &(t, flow, payload_bytes) in offers {
        sched.schedule_at(
            SimTime::from_ns(t),
            Ev::Offer {
                flow,
                payload_bytes,
            },
        );
    }
    sched.run(&mut d, RunLimit::Empty);
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Credits stay within [0, capacity], and the bits served by any chunk boundary t
    /// never exceed what the bucket allows: baseline x t plus the credits spent
    /// (initial credits minus credits left), up to one bit of rounding per chunk.
    #[test]
    fn credits_bounded_and_service_within_allowance(
        cfg in bucket_config(),
        offers in prop::collection::vec((0u64..2_000_000_000, 0u32..3, 1u64..200_000), 1..80),
    ) {
        let mut d = driver(cfg, 3);
        let mut sched = Scheduler::new();
        for (t, flow, bytes) in offers {
            sched.schedule_at(SimTime::from_ns(t), Ev::Offer { flow, payload_bytes: bytes });
        }
        sched.run(&mut d, RunLimit::Empty);
        let end = d.last_finish.max(sched.now());
        let mut boundaries = d.boundaries.clone();
        boundaries.push((end, d.shaper.credits_bits(end), d.shaper.counters.wire_bytes));
        let chunks = d.shaper.counters.packets; // at least one packet per chunk
        for (t, credits, served_bytes) in boundaries {
            prop_assert!(credits <= cfg.credit_capacity_bits, "credits {credits} above capacity at {t}");
            let allowed_bits = (cfg.baseline_bits_per_s as u128 * t.as_ns() as u128 / 1_000_000_000) as i128
                + cfg.initial_credit_bits as i128 - credits as i128 + chunks as i128 + 1;
            prop_assert!((served_bytes as i128) * 8 <= allowed_bits,
                "served {} bits by {t}, allowed {allowed_bits}", served_bytes * 8);
        }
    }

    /// Over any interval during which two flows stay backlogged on one shaper, neither is
    /// served less than its fair share of what was served in the interval, minus one
    /// chunk (deficit round robin's bound: the two differ by at most a quantum plus a
    /// chunk, and the quantum is one chunk).
    #[test]
    fn two_backlogged_flows_share_fairly(
        a_sizes in prop::collection::vec(1u64..150_000, 5..40),
        b_sizes in prop::collection::vec(1u64..150_000, 5..40),
    ) {
        let cfg = ShaperConfig {
            baseline_bits_per_s: 100_000_000,
            burst_bits_per_s: 100_000_000,
            credit_capacity_bits: 0,
            initial_credit_bits: 0,
            queue_capacity_bytes: u64::MAX,
            pps_limit: None,
            flow_cap_bits_per_s: None,
            chunk_bytes: 16_384,
            line_rate_bits_per_s: 100_000_000,
        };
        let mut d = driver(cfg, 2);
        let mut sched = Scheduler::new();
        for s in a_sizes {
            sched.schedule_at(SimTime::ZERO, Ev::Offer { flow: 0, payload_bytes: s });
        }
        for s in b_sizes {
            sched.schedule_at(SimTime::ZERO, Ev::Offer { flow: 1, payload_bytes: s });
        }
        sched.run(&mut d, RunLimit::Empty);
        // A chunk is at most chunk_bytes rounded down to whole packets, but never less
        // than one packet.
        let chunk = 16_384u64; // the quantum: chunk_bytes, which exceeds one packet here
        let mut since: Option<&Vec<u64>> = None;
        for (t, served, backlogged) in &d.shares {
            if !backlogged.iter().all(|b| *b) {
                since = None;
                continue;
            }
            let start = *since.get_or_insert(served);
            let gained: Vec<u64> = served.iter().zip(start).map(|(s, s0)| s - s0).collect();
            let total: u64 = gained.iter().sum();
            for g in &gained {
                prop_assert!(*g + chunk >= total / 2, "at {t}: gained {gained:?} since both backlogged, total {total}");
            }
        }
    }

    /// While the allowance serves at the line rate (credits that never run out, a wire
    /// at the burst rate, no packet allowance) no packet counts as exceeding it, however
    /// the messages queue behind each other and whatever the flows' caps hold back.
    #[test]
    fn nothing_counts_while_the_allowance_serves_at_line_rate(
        baseline in 1_000_000u64..1_000_000_000,
        burst_x in 1u64..20,
        cap in prop::option::of(100_000u64..2_000_000_000),
        offers in prop::collection::vec((0u64..20_000_000, 0u32..3, 1u64..200_000), 1..80),
    ) {
        let cfg = ShaperConfig {
            baseline_bits_per_s: baseline,
            burst_bits_per_s: baseline * burst_x,
            credit_capacity_bits: 1 << 50,
            initial_credit_bits: 1 << 50,
            queue_capacity_bytes: u64::MAX,
            pps_limit: None,
            flow_cap_bits_per_s: cap,
            chunk_bytes: 16_384,
            line_rate_bits_per_s: baseline * burst_x,
        };
        let d = run(cfg, 3, &offers);
        prop_assert_eq!(d.shaper.counters.messages, offers.len() as u64);
        prop_assert_eq!(d.shaper.counters.bw_allowance_exceeded, 0);
        prop_assert_eq!(d.shaper.counters.pps_allowance_exceeded, 0);
    }
}

/// Twenty messages offered at once at full credits, far below what the credits allow,
/// queue behind each other on a wire whose rate is the burst rate: the allowance holds
/// none of them back, so none counts.
#[test]
fn a_burst_at_full_credits_on_a_burst_rate_wire_counts_nothing() {
    let cfg = ShaperConfig {
        baseline_bits_per_s: 1_000_000_000,
        burst_bits_per_s: 10_000_000_000,
        credit_capacity_bits: 1_000_000_000,
        initial_credit_bits: 1_000_000_000,
        queue_capacity_bytes: u64::MAX,
        pps_limit: None,
        flow_cap_bits_per_s: None,
        chunk_bytes: 65_536,
        line_rate_bits_per_s: 10_000_000_000,
    };
    let offers: Vec<_> = (0..20).map(|i| (0, i % 3, 4_000)).collect();
    let d = run(cfg, 3, &offers);
    assert_eq!(d.shaper.counters.messages, 20);
    // They did queue: the last finishes after all 20 x 4,174 wire bytes at 10 Gbps.
    assert_eq!(d.last_finish, SimTime::from_ns(20 * 3_340));
    assert_eq!(d.shaper.counters.bw_allowance_exceeded, 0);
    assert_eq!(d.shaper.counters.pps_allowance_exceeded, 0);
    assert!(
        d.shaper.credits_bits(d.last_finish) > 900_000_000,
        "credits barely used"
    );
}

/// A flow of one-packet messages at about 530 Mbps, above the 100 Mbps baseline, with
/// the credits spent: each waits for the one before at the baseline, where the 1 Gbps
/// wire would have sent it on arrival, so every message but the first counts.
#[test]
fn a_flow_above_baseline_after_credits_are_spent_counts_its_held_packets() {
    let cfg = ShaperConfig {
        baseline_bits_per_s: 100_000_000,
        burst_bits_per_s: 1_000_000_000,
        credit_capacity_bits: 1_000_000_000,
        initial_credit_bits: 0,
        queue_capacity_bytes: u64::MAX,
        pps_limit: None,
        flow_cap_bits_per_s: None,
        chunk_bytes: 65_536,
        line_rate_bits_per_s: 1_000_000_000,
    };
    // 1,058 wire bytes every 16 us; 84,640 ns each at the baseline.
    let offers: Vec<_> = (0..10).map(|i| (i * 16_000, 0, 1_000)).collect();
    let d = run(cfg, 1, &offers);
    assert_eq!(d.shaper.counters.messages, 10);
    assert_eq!(d.last_finish, SimTime::from_ns(10 * 84_640));
    assert_eq!(d.shaper.counters.bw_allowance_exceeded, 9);
    assert_eq!(d.shaper.counters.pps_allowance_exceeded, 0);
    // The same flow on a NIC whose wire and allowance are both the baseline queues just
    // as long, but behind the wire: nothing counts.
    let flat = ShaperConfig {
        burst_bits_per_s: 100_000_000,
        credit_capacity_bits: 0,
        line_rate_bits_per_s: 100_000_000,
        ..cfg
    };
    let d = run(flat, 1, &offers);
    assert_eq!(d.last_finish, SimTime::from_ns(10 * 84_640));
    assert_eq!(d.shaper.counters.bw_allowance_exceeded, 0);
}

/// A 4,000-byte message (3 packets, 4,174 wire bytes, 4.174 ms at 8 Mbps) every
/// millisecond into a 10,000-byte queue. At t = 3, 4, 6, 7 and 8 ms the queue holds two
/// messages and drops the new one; m1, m2, m5 and m9 wait and are served. On an 8 Gbps
/// wire every one of them would have left within 5 us, so the held and the dropped
/// packets all count; on a wire as slow as the allowance the same drops are the wire's
/// own, and nothing counts.
#[test]
fn a_queue_full_drop_counts_when_the_wire_had_room() {
    let cfg = ShaperConfig {
        baseline_bits_per_s: 8_000_000,
        burst_bits_per_s: 8_000_000,
        credit_capacity_bits: 0,
        initial_credit_bits: 0,
        queue_capacity_bytes: 10_000,
        pps_limit: None,
        flow_cap_bits_per_s: None,
        chunk_bytes: 65_536,
        line_rate_bits_per_s: 8_000_000_000,
    };
    let offers: Vec<_> = (0..10).map(|i| (i * 1_000_000, 0, 4_000)).collect();
    let d = run(cfg, 1, &offers);
    assert_eq!(d.shaper.counters.messages, 5);
    assert_eq!(d.shaper.counters.dropped_messages, 5);
    assert_eq!(d.last_finish, SimTime::from_ns(5 * 4_174_000));
    // 4 held and 5 dropped messages of 3 packets.
    assert_eq!(d.shaper.counters.bw_allowance_exceeded, (4 + 5) * 3);
    let slow_wire = ShaperConfig {
        line_rate_bits_per_s: 8_000_000,
        ..cfg
    };
    let d = run(slow_wire, 1, &offers);
    assert_eq!(d.shaper.counters.dropped_messages, 5);
    assert_eq!(d.shaper.counters.bw_allowance_exceeded, 0);
}

/// Ten 10-byte messages at once under a 1,000 pps allowance on a 10 Gbps wire: each
/// after the first waits for the packet allowance, not for the bandwidth.
#[test]
fn pps_allowance_binds_for_small_packets() {
    let cfg = ShaperConfig {
        baseline_bits_per_s: 10_000_000_000,
        burst_bits_per_s: 10_000_000_000,
        credit_capacity_bits: 0,
        initial_credit_bits: 0,
        queue_capacity_bytes: u64::MAX,
        pps_limit: Some(1_000),
        flow_cap_bits_per_s: None,
        chunk_bytes: 65_536,
        line_rate_bits_per_s: 10_000_000_000,
    };
    let offers: Vec<_> = (0..10).map(|_| (0, 0, 10)).collect();
    let d = run(cfg, 1, &offers);
    assert_eq!(
        d.last_finish,
        SimTime::from_ns(10_000_000),
        "10 packets at 1,000 pps"
    );
    assert_eq!(d.shaper.counters.pps_allowance_exceeded, 9);
    assert_eq!(d.shaper.counters.bw_allowance_exceeded, 0);
}

#[test]
fn flow_cap_limits_one_flow_but_not_the_nic() {
    let cfg = ShaperConfig {
        baseline_bits_per_s: 8_000_000_000,
        burst_bits_per_s: 8_000_000_000,
        credit_capacity_bits: 0,
        initial_credit_bits: 0,
        queue_capacity_bytes: u64::MAX,
        pps_limit: None,
        flow_cap_bits_per_s: Some(1_000_000_000),
        chunk_bytes: 65_536,
        line_rate_bits_per_s: 8_000_000_000,
    };
    // One flow: 100 x 1 MB at a 1 Gbps cap takes about 0.8 s.
    let mut d = driver(cfg, 2);
    let mut sched = Scheduler::new();
    for _ in 0..100 {
        sched.schedule_at(
            SimTime::ZERO,
            Ev::Offer {
                flow: 0,
                payload_bytes: 1_000_000,
            },
        );
    }
    sched.run(&mut d, RunLimit::Empty);
    let one = d.last_finish.as_ns();
    assert!((800_000_000..860_000_000).contains(&one), "{one}");
    // The cap is the flow's own limit, not the instance's allowance.
    assert_eq!(d.shaper.counters.bw_allowance_exceeded, 0);
    // Two flows each at their cap finish in about the same time: the NIC has room.
    let mut d = driver(cfg, 2);
    let mut sched = Scheduler::new();
    for f in 0..2 {
        for _ in 0..100 {
            sched.schedule_at(
                SimTime::ZERO,
                Ev::Offer {
                    flow: f,
                    payload_bytes: 1_000_000,
                },
            );
        }
    }
    sched.run(&mut d, RunLimit::Empty);
    let two = d.last_finish.as_ns();
    assert_eq!(d.shaper.counters.bw_allowance_exceeded, 0);
    assert!(
        two < one + one / 20,
        "two capped flows took {two} ns, one took {one} ns"
    );
}

/// A wake pending for a capped flow does not delay a flow that needs the shaper sooner.
/// Flow 0's first chunk (15,180 wire bytes, 12,144 ns at 10 Gbps) holds it back under its
/// 1 Gbps cap until 121,440 ns, and the shaper asks to be woken then. At 20,000 ns flow 1
/// offers two 158-byte messages: the first starts at once (127 ns), and the second is
/// held by flow 1's own cap only until 20,000 + 1,264 ns, not until flow 0's wake.
#[test]
fn a_later_pending_wake_does_not_hold_back_an_earlier_start() {
    let cfg = ShaperConfig {
        baseline_bits_per_s: 10_000_000_000,
        burst_bits_per_s: 10_000_000_000,
        credit_capacity_bits: 0,
        initial_credit_bits: 0,
        queue_capacity_bytes: u64::MAX,
        pps_limit: None,
        flow_cap_bits_per_s: Some(1_000_000_000),
        chunk_bytes: 16_384,
        line_rate_bits_per_s: 10_000_000_000,
    };
    let mut d = driver(cfg, 2);
    let mut sched = Scheduler::new();
    for (t, flow, payload_bytes) in [(0, 0, 20_000), (20_000, 1, 100), (20_000, 1, 100)] {
        sched.schedule_at(
            SimTime::from_ns(t),
            Ev::Offer {
                flow,
                payload_bytes,
            },
        );
    }
    sched.run(&mut d, RunLimit::Empty);
    let finish = |token: u32| {
        d.finished
            .iter()
            .find(|(t, _)| *t == token)
            .map(|(_, at)| at.as_ns())
    };
    assert_eq!(finish(1), Some(20_127));
    assert_eq!(finish(2), Some(21_264 + 127));
    // Flow 0's second and last chunk (5,632 wire bytes) still waits for its own cap.
    assert_eq!(finish(0), Some(121_440 + 4_506));
}
