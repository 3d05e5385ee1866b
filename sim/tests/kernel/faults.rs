//! Faults on a timeline: link outages and degradations between sets of NICs, NIC rate
//! caps, and the reset of a connection that has waited too long, checked against an
//! oracle of the test's own (the fault windows as the test wrote them), not the
//! network's state.

use crate::support::{framing, Ev};
use proptest::prelude::*;
use sim::net::faults::{backoff_elapsed, rto_after};
use sim::net::{
    Delivery, FaultEffect, FlowId, LinkConfig, LinkFault, NetEvent, Network, NicConfig, NicId,
    ShaperConfig, RTO_MAX, RTO_MIN,
};
use sim::rng::Ratio;
use sim::{Model, RngStreams, RunLimit, Scheduler, SimDuration, SimTime};

/// An outage as the test wrote it: every flow between `a` and `b` is cut over
/// [from, until).
#[derive(Clone, Debug)]
struct Cut {
    a: Vec<NicId>,
    b: Vec<NicId>,
    from: SimTime,
    until: SimTime,
}

impl Cut {
    fn covers(&self, src: NicId, dst: NicId, at: SimTime) -> bool {
        at >= self.from
            && at < self.until
            && ((self.a.contains(&src) && self.b.contains(&dst))
                || (self.b.contains(&src) && self.a.contains(&dst)))
    }
}

struct World {
    net: Network,
    /// Each flow's ends, by flow id.
    ends: Vec<(NicId, NicId)>,
    cuts: Vec<Cut>,
    delivered: Vec<(SimTime, Delivery)>,
    /// (time, flow) of every reset the network made.
    aborted: Vec<(SimTime, FlowId)>,
    /// (time, flow, token) of every message that reached its receiver under a cut.
    crossed_a_cut: Vec<(SimTime, FlowId)>,
    /// Tokens sent, per flow, with the time.
    sent: Vec<Vec<(SimTime, u64)>>,
    buf: Vec<Delivery>,
    abort_buf: Vec<FlowId>,
}

impl Model for World {
    type Event = Ev;
    fn handle(&mut self, sched: &mut Scheduler<Ev>, ev: Ev) {
        let now = sched.now();
        match ev {
            Ev::Net(e) => {
                if let NetEvent::Arrive { msg } = e {
                    if let Some((flow, lost)) = self.net.arrival_of(msg) {
                        let (src, dst) = self.ends[flow.0 as usize];
                        if !lost && self.cuts.iter().any(|c| c.covers(src, dst, now)) {
                            self.crossed_a_cut.push((now, flow));
                        }
                    }
                }
                self.buf.clear();
                self.net.handle(sched, e, &mut self.buf);
                let now = sched.now();
                self.delivered.extend(self.buf.iter().map(|d| (now, *d)));
                if self.net.has_aborted() {
                    self.net.take_aborted(&mut self.abort_buf);
                    for f in self.abort_buf.drain(..) {
                        self.aborted.push((now, f));
                    }
                }
            }
            Ev::Send {
                flow,
                payload_bytes,
                token,
            } => {
                self.sent[flow.0 as usize].push((now, token));
                self.net.send(sched, flow, payload_bytes, token);
            }
        }
    }
}

fn shaping(bits_per_s: u64, queue_bytes: u64) -> ShaperConfig {
    ShaperConfig {
        baseline_bits_per_s: bits_per_s,
        burst_bits_per_s: bits_per_s * 2,
        credit_capacity_bits: bits_per_s / 20,
        initial_credit_bits: bits_per_s / 20,
        queue_capacity_bytes: queue_bytes,
        pps_limit: None,
        flow_cap_bits_per_s: None,
        chunk_bytes: 16_384,
        line_rate_bits_per_s: bits_per_s * 2,
    }
}

/// `nics` NICs and a flow on every ordered pair.
fn build(seed: u64, nics: usize, link: &LinkConfig, queue_bytes: u64) -> (World, Vec<NicId>) {
    let mut net = Network::new(RngStreams::new(seed));
    let ids: Vec<NicId> = (0..nics)
        .map(|_| {
            net.add_nic(NicConfig {
                egress: shaping(200_000_000, queue_bytes),
                ingress: shaping(200_000_000, queue_bytes),
                framing: framing(),
            })
        })
        .collect();
    let mut ends = Vec::new();
    for &a in &ids {
        for &b in &ids {
            if a != b {
                net.open_flow(a, b, link.clone());
                ends.push((a, b));
            }
        }
    }
    let flows = ends.len();
    (
        World {
            net,
            ends,
            cuts: Vec::new(),
            delivered: Vec::new(),
            aborted: Vec::new(),
            crossed_a_cut: Vec::new(),
            sent: vec![Vec::new(); flows],
            buf: Vec::new(),
            abort_buf: Vec::new(),
        },
        ids,
    )
}

/// One fault of a random timeline.
#[derive(Clone, Debug)]
struct FaultCase {
    /// Which NICs are on side a (bit i: NIC i); side b is the rest, or one NIC.
    a_mask: u8,
    b_single: Option<usize>,
    from_ms: u64,
    for_ms: u64,
    /// 0: outage; 1: degradation; 2: a rate cap on NIC (a_mask's lowest).
    kind: u8,
    extra_us: u64,
    loss_per_mille: u64,
    cap_mbit: u64,
}

fn fault_case() -> impl Strategy<Value = FaultCase> {
    (
        1u8..7,
        prop::option::of(0usize..3),
        0u64..800,
        1u64..2_000,
        0u8..3,
        0u64..2_000,
        0u64..200,
        1u64..150,
    )
        .prop_map(
            |(a_mask, b_single, from_ms, for_ms, kind, extra_us, loss_per_mille, cap_mbit)| {
                FaultCase {
                    a_mask,
                    b_single,
                    from_ms,
                    for_ms,
                    kind,
                    extra_us,
                    loss_per_mille,
                    cap_mbit,
                }
            },
        )
}

/// What a random case produced.
struct Outcome {
    world: World,
    accounts_held: bool,
}

fn run_case(
    seed: u64,
    loss_per_mille: u64,
    reset_after_ms: Option<u64>,
    sends: &[(u64, usize, u64)],
    faults: &[FaultCase],
) -> Outcome {
    let link = LinkConfig {
        latency: SimDuration::from_ms(2),
        jitter: SimDuration::from_us(300),
        rules: if loss_per_mille > 0 {
            vec![sim::net::LinkRule::Loss {
                probability: Ratio::new(loss_per_mille, 1000),
            }]
        } else {
            Vec::new()
        },
        max_window_bytes: 200_000,
    };
    let (mut w, ids) = build(seed, 3, &link, 300_000);
    w.net
        .set_reset_after(reset_after_ms.map(SimDuration::from_ms));
    let mut sched = Scheduler::new();
    for f in faults {
        let a: Vec<NicId> = (0..3)
            .filter(|i| f.a_mask & (1 << i) != 0)
            .map(|i| ids[i])
            .collect();
        let b: Vec<NicId> = match f.b_single {
            Some(i) if !a.contains(&ids[i]) => vec![ids[i]],
            _ => (0..3)
                .filter(|i| f.a_mask & (1 << i) == 0)
                .map(|i| ids[i])
                .collect(),
        };
        let from = SimTime::from_ms(f.from_ms);
        let until = from + SimDuration::from_ms(f.for_ms);
        match f.kind {
            0 => {
                w.cuts.push(Cut {
                    a: a.clone(),
                    b: b.clone(),
                    from,
                    until,
                });
                w.net.add_link_fault(
                    &mut sched,
                    LinkFault {
                        a,
                        b,
                        effect: FaultEffect::Outage,
                    },
                    from,
                    Some(until),
                );
            }
            1 => {
                w.net.add_link_fault(
                    &mut sched,
                    LinkFault {
                        a,
                        b,
                        effect: FaultEffect::Degrade {
                            extra: SimDuration::from_us(f.extra_us),
                            loss: Ratio::new(f.loss_per_mille, 1000),
                        },
                    },
                    from,
                    Some(until),
                );
            }
            _ => {
                w.net
                    .schedule_rate_cap(&mut sched, a[0], from, Some(f.cap_mbit * 1_000_000));
                w.net.schedule_rate_cap(&mut sched, a[0], until, None);
            }
        }
    }
    let flows = w.ends.len();
    for (token, &(t_us, flow, bytes)) in sends.iter().enumerate() {
        sched.schedule_at(
            SimTime::from_us(t_us),
            Ev::Send {
                flow: FlowId((flow % flows) as u32),
                payload_bytes: bytes,
                token: token as u64,
            },
        );
    }
    let mut accounts_held = true;
    let mut t = SimTime::ZERO;
    // Long enough for every backoff to end: the faults end by 5 s, and a message lost
    // again and again waits at most RTO_MAX between attempts.
    let end = SimTime::from_secs(3_000);
    while t < end {
        t = (t + SimDuration::from_ms(97)).min(end);
        sched.run(&mut w, RunLimit::Until(t));
        let accounts = w.net.nic_accounts();
        accounts_held &= accounts
            .iter()
            .all(|a| a.egress.holds() && a.ingress.holds());
        accounts_held &= w.net.conservation().holds();
        if sched.pending() == 0 {
            break;
        }
    }
    Outcome {
        world: w,
        accounts_held,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Over random traffic on three NICs and random fault timelines (outages between
    /// sets of NICs, degradations adding latency and loss, NIC rate caps; loss on every
    /// link; some runs with a reset time): no message reaches its receiver while an
    /// outage covers its flow (checked against the test's own windows); per NIC
    /// direction, offered = passed + queued + in service + dropped + discarded at every
    /// sampled instant, and the network-wide account holds; once the faults are over,
    /// every flow the network did not reset delivers everything sent on it, in order,
    /// and a reset flow delivers in order and nothing sent before its last reset after
    /// it; the same case gives the same deliveries.
    #[test]
    fn outages_cut_accounts_hold_and_flows_recover(
        seed in 0u64..1_000,
        loss in prop::sample::select(vec![0u64, 0, 20]),
        reset_after_ms in prop::option::of(500u64..4_000),
        sends in prop::collection::vec((0u64..1_000_000, 0usize..6, 1u64..40_000), 1..200),
        faults in prop::collection::vec(fault_case(), 0..5),
    ) {
        let out = run_case(seed, loss, reset_after_ms, &sends, &faults);
        let w = &out.world;
        prop_assert!(w.crossed_a_cut.is_empty(), "crossed a cut: {:?}", w.crossed_a_cut);
        prop_assert!(out.accounts_held, "a byte account failed");
        prop_assert!(reset_after_ms.is_some() || w.aborted.is_empty());
        for (i, sent) in w.sent.iter().enumerate() {
            let flow = FlowId(i as u32);
            let got: Vec<u64> = w
                .delivered
                .iter()
                .filter(|(_, d)| d.flow == flow)
                .map(|(_, d)| d.token)
                .collect();
            let last_abort = w.aborted.iter().rev().find(|(_, f)| *f == flow).map(|(t, _)| *t);
            let want: Vec<u64> = sent.iter().map(|&(_, t)| t).collect();
            match last_abort {
                None => prop_assert_eq!(&got, &want, "flow {} delivers everything in order", i),
                Some(at) => {
                    let position = |token: u64| want.iter().position(|&t| t == token);
                    let order: Vec<Option<usize>> = got.iter().map(|&t| position(t)).collect();
                    prop_assert!(order.windows(2).all(|p| p[0] < p[1]), "in order");
                    // Everything sent after the last reset arrives.
                    let after: Vec<u64> =
                        sent.iter().filter(|&&(t, _)| t >= at).map(|&(_, t)| t).collect();
                    let tail = &got[got.len() - after.len().min(got.len())..];
                    prop_assert_eq!(tail, &after[..], "flow {} after its reset", i);
                }
            }
        }
        let again = run_case(seed, loss, reset_after_ms, &sends, &faults);
        prop_assert_eq!(&again.world.delivered, &w.delivered, "same case, same deliveries");
    }
}

/// One message on an unshaped path, sent at `send_at` into an outage over [0, cut);
/// returns (its delivery time, the first retransmission time at or
/// after the end of the cut, the path's RTT).
fn one_message_through_a_cut(
    cut: SimDuration,
    send_at: SimTime,
) -> (SimTime, SimTime, SimDuration) {
    let latency = SimDuration::from_us(500);
    let link = LinkConfig {
        latency,
        ..LinkConfig::default()
    };
    let mut net = Network::new(RngStreams::new(1));
    let nic = NicConfig {
        egress: ShaperConfig::unlimited(),
        ingress: ShaperConfig::unlimited(),
        framing: framing(),
    };
    let (a, b) = (net.add_nic(nic), net.add_nic(nic));
    net.open_flow(a, b, link);
    let mut w = World {
        net,
        ends: vec![(a, b)],
        cuts: Vec::new(),
        delivered: Vec::new(),
        aborted: Vec::new(),
        crossed_a_cut: Vec::new(),
        sent: vec![Vec::new()],
        buf: Vec::new(),
        abort_buf: Vec::new(),
    };
    let mut sched = Scheduler::new();
    let until = SimTime::ZERO + cut;
    w.net.add_link_fault(
        &mut sched,
        LinkFault {
            a: vec![a],
            b: vec![b],
            effect: FaultEffect::Outage,
        },
        SimTime::ZERO,
        Some(until),
    );
    sched.schedule_at(
        send_at,
        Ev::Send {
            flow: FlowId(0),
            payload_bytes: 100,
            token: 7,
        },
    );
    sched.run(&mut w, RunLimit::Empty);
    assert_eq!(w.delivered.len(), 1, "delivered once");
    // Lost as it leaves, within nanoseconds of its send (an unlimited shaper): the
    // timer runs from then, and restarts as each retransmission leaves.
    let lost_at = send_at;
    let mut k = 1;
    while lost_at + backoff_elapsed(k) < until {
        k += 1;
    }
    (
        w.delivered[0].0,
        lost_at + backoff_elapsed(k),
        latency + latency,
    )
}

/// A flow cut for d seconds resumes at its first retransmission timeout after the cut
/// ends (timeouts of 200 ms doubling, at most 120 s, counted from the loss), within one
/// RTT: the retransmission's one-way trip plus serialization.
#[test]
fn a_cut_flow_resumes_at_the_first_timeout_after_the_cut() {
    assert_eq!(rto_after(0), RTO_MIN);
    assert_eq!(rto_after(9), SimDuration::from_ms(102_400));
    assert_eq!(rto_after(10), RTO_MAX);
    for cut_ms in [150u64, 250, 1_000, 3_000, 10_000, 100_000, 400_000] {
        for send_ms in [0u64, 90] {
            let (delivered, resume, rtt) =
                one_message_through_a_cut(SimDuration::from_ms(cut_ms), SimTime::from_ms(send_ms));
            assert!(
                delivered >= resume && delivered <= resume + rtt + SimDuration::from_us(1),
                "cut {cut_ms} ms, sent at {send_ms} ms: delivered at {delivered}, \
                 retransmission at {resume}, RTT {rtt}"
            );
        }
    }
}

/// Linux's arithmetic: 15 retransmissions from RTO_MIN (10 doubling, 6 at RTO_MAX)
/// add up to 924.6 s, and the network resets a flow when its message's timer fires
/// with that much waited, not before.
#[test]
fn a_flow_cut_past_the_reset_time_is_reset_once_and_then_delivers() {
    assert_eq!(backoff_elapsed(16), SimDuration::from_ms(924_600));
    let reset_after = SimDuration::from_ms(924_600);
    let latency = SimDuration::from_us(500);
    let mut net = Network::new(RngStreams::new(1));
    let nic = NicConfig {
        egress: ShaperConfig::unlimited(),
        ingress: ShaperConfig::unlimited(),
        framing: framing(),
    };
    let (a, b) = (net.add_nic(nic), net.add_nic(nic));
    net.open_flow(
        a,
        b,
        LinkConfig {
            latency,
            ..LinkConfig::default()
        },
    );
    net.set_reset_after(Some(reset_after));
    let mut w = World {
        net,
        ends: vec![(a, b)],
        cuts: Vec::new(),
        delivered: Vec::new(),
        aborted: Vec::new(),
        crossed_a_cut: Vec::new(),
        sent: vec![Vec::new()],
        buf: Vec::new(),
        abort_buf: Vec::new(),
    };
    let mut sched = Scheduler::new();
    let until = SimTime::from_secs(2_000);
    w.net.add_link_fault(
        &mut sched,
        LinkFault {
            a: vec![a],
            b: vec![b],
            effect: FaultEffect::Outage,
        },
        SimTime::ZERO,
        Some(until),
    );
    for (i, at) in [SimTime::ZERO, SimTime::from_secs(2_001)]
        .into_iter()
        .enumerate()
    {
        sched.schedule_at(
            at,
            Ev::Send {
                flow: FlowId(0),
                payload_bytes: 100,
                token: i as u64,
            },
        );
    }
    sched.run(&mut w, RunLimit::Empty);
    // Lost as it left (within nanoseconds of its send); each of the 16 timers restarts
    // when its retransmission leaves, nanoseconds after it fires.
    assert_eq!(w.aborted.len(), 1);
    let (at, flow) = w.aborted[0];
    assert_eq!(flow, FlowId(0));
    let from = SimTime::ZERO + reset_after;
    assert!(
        at >= from && at <= from + SimDuration::from_us(1),
        "reset at {at}, expected {from}"
    );
    let stats = w.net.flow_stats(FlowId(0));
    assert_eq!(
        (stats.aborts, stats.resets, stats.timeout_retransmits),
        (1, 1, 15)
    );
    let tokens: Vec<u64> = w.delivered.iter().map(|(_, d)| d.token).collect();
    assert_eq!(
        tokens,
        vec![1],
        "the first message was discarded by the reset"
    );
}

/// A rate cap slows a backlogged NIC to the cap and lifting it restores the rate: 2 MB
/// through a 100 Mbit/s cap take about 160 ms, through the uncapped 1 Gbit/s about
/// 16 ms.
#[test]
fn a_rate_cap_binds_while_it_lasts() {
    let flat = |bits_per_s: u64| ShaperConfig {
        baseline_bits_per_s: bits_per_s,
        burst_bits_per_s: bits_per_s,
        credit_capacity_bits: 0,
        initial_credit_bits: 0,
        queue_capacity_bytes: u64::MAX,
        pps_limit: None,
        flow_cap_bits_per_s: None,
        chunk_bytes: 16_384,
        line_rate_bits_per_s: bits_per_s,
    };
    let time_to_send = |cap: Option<u64>| {
        let mut net = Network::new(RngStreams::new(1));
        let a = net.add_nic(NicConfig {
            egress: flat(1_000_000_000),
            ingress: ShaperConfig::unlimited(),
            framing: framing(),
        });
        let b = net.add_nic(NicConfig {
            egress: ShaperConfig::unlimited(),
            ingress: ShaperConfig::unlimited(),
            framing: framing(),
        });
        net.open_flow(a, b, LinkConfig::default());
        let mut w = World {
            net,
            ends: vec![(a, b)],
            cuts: Vec::new(),
            delivered: Vec::new(),
            aborted: Vec::new(),
            crossed_a_cut: Vec::new(),
            sent: vec![Vec::new()],
            buf: Vec::new(),
            abort_buf: Vec::new(),
        };
        let mut sched = Scheduler::new();
        if cap.is_some() {
            w.net.schedule_rate_cap(&mut sched, a, SimTime::ZERO, cap);
        }
        for i in 0..20u64 {
            sched.schedule_at(
                SimTime::from_ns(1),
                Ev::Send {
                    flow: FlowId(0),
                    payload_bytes: 100_000,
                    token: i,
                },
            );
        }
        sched.run(&mut w, RunLimit::Empty);
        w.delivered.last().expect("delivered").0
    };
    let capped = time_to_send(Some(100_000_000)).as_ns() as f64 / 1e6;
    let free = time_to_send(None).as_ns() as f64 / 1e6;
    assert!((160.0..175.0).contains(&capped), "capped: {capped} ms");
    assert!((16.0..17.5).contains(&free), "uncapped: {free} ms");
}
