//! Flows reset in place (`Network::reset_flow`): what a reset discards is never
//! delivered, and afterwards the flow is a new one.

use crate::support::{framing, send_at, World};
use proptest::prelude::*;
use sim::net::{
    Delivery, FlowId, LinkConfig, LinkRule, NetEvent, Network, NicConfig, NicId, ShaperConfig,
    RTO_MIN,
};
use sim::rng::Ratio;
use sim::{Model, RngStreams, RunLimit, Scheduler, SimDuration, SimTime};

/// A shaper with no credit bucket: once idle, it keeps no trace of what it served, so
/// a network that carried traffic and one that did not serve new messages alike.
fn flat(bits_per_s: u64, queue_bytes: u64) -> ShaperConfig {
    ShaperConfig {
        baseline_bits_per_s: bits_per_s,
        burst_bits_per_s: bits_per_s,
        credit_capacity_bits: 0,
        initial_credit_bits: 0,
        queue_capacity_bytes: queue_bytes,
        pps_limit: None,
        flow_cap_bits_per_s: None,
        chunk_bytes: 16_384,
        line_rate_bits_per_s: bits_per_s,
    }
}

/// Two NICs with the given egress shaping (ingress unlimited).
fn two_nics(net: &mut Network, egress: ShaperConfig) -> (NicId, NicId) {
    let nic = NicConfig {
        egress,
        ingress: ShaperConfig::unlimited(),
        framing: framing(),
    };
    (net.add_nic(nic), net.add_nic(nic))
}

/// (time in ns, payload bytes, token) of a send.
type Send = (u64, u64, u64);

/// What [`reset_and_fresh`] saw.
struct ResetAndFresh {
    /// Deliveries of the reset flow from its reset on.
    reset: Vec<(SimTime, Delivery)>,
    /// Deliveries of the new flow.
    fresh: Vec<(SimTime, Delivery)>,
    /// The reset flow's drops before its reset.
    drops_before: u64,
    /// Events left over from before the reset that ran once the new sends began (the
    /// reset flow's network ran these on top of the new flow's events).
    stale_events: u64,
}

/// Runs `before` on a flow, resets it at `reset_at`, then runs `after` (sent after the
/// reset, from `reset_at` on); and runs `after` alone on a new flow in a network that
/// carried nothing else.
fn reset_and_fresh(
    egress: ShaperConfig,
    link: &LinkConfig,
    before: &[Send],
    reset_at: SimTime,
    after: &[Send],
) -> ResetAndFresh {
    let mut net = Network::new(RngStreams::new(11));
    let (a, b) = two_nics(&mut net, egress);
    let flow = net.open_flow(a, b, link.clone());
    let mut w = World::new(net);
    let mut sched = Scheduler::new();
    for &(t, bytes, token) in before {
        send_at(&mut sched, SimTime::from_ns(t), flow, bytes, token);
    }
    sched.run(&mut w, RunLimit::Until(reset_at));
    let drops_before = w.net.flow_stats(flow).drops;
    let delivered_before = w.delivered.len();
    w.net.reset_flow(&mut sched, flow);
    // Scheduled after the reset, so that one at its very instant runs after it.
    for &(t, bytes, token) in after {
        send_at(&mut sched, SimTime::from_ns(t), flow, bytes, token);
    }
    let resume = SimTime::from_ns(after[0].0);
    if resume > reset_at {
        sched.run(
            &mut w,
            RunLimit::Until(SimTime::from_ns(resume.as_ns() - 1)),
        );
    }
    let events_before_resume = sched.events_run();
    sched.run(&mut w, RunLimit::Empty);
    let events_after_resume = sched.events_run() - events_before_resume;
    let c = w.net.conservation();
    assert!(c.holds() && c.queued == 0 && c.in_flight == 0, "{c:?}");
    let reset_log = w.delivered[delivered_before..].to_vec();

    let mut net = Network::new(RngStreams::new(11));
    let (a, b) = two_nics(&mut net, egress);
    let flow = net.open_flow(a, b, link.clone());
    let mut w = World::new(net);
    let mut sched = Scheduler::new();
    for &(t, bytes, token) in after {
        send_at(&mut sched, SimTime::from_ns(t), flow, bytes, token);
    }
    sched.run(&mut w, RunLimit::Empty);
    ResetAndFresh {
        reset: reset_log,
        fresh: w.delivered,
        drops_before,
        stale_events: events_after_resume - sched.events_run(),
    }
}

/// A burst of `count` sends of `bytes` every `gap_ns` from `start_ns`, tokens from
/// `first_token`.
fn burst(start_ns: u64, count: u64, gap_ns: u64, bytes: u64, first_token: u64) -> Vec<Send> {
    (0..count)
        .map(|i| (start_ns + i * gap_ns, bytes, first_token + i))
        .collect()
}

/// A flow reset in the middle of an overload (drops have halved its window, messages
/// are in every queue and on the wire, retransmission timers are pending) delivers
/// later sends at exactly the times a new flow does, once the old bytes have left the
/// wire: window, threshold and sequence numbers start over, and the old retransmission
/// timers, which fire while the new messages are under way (some of them in the
/// slots the discarded messages had), touch nothing.
#[test]
fn a_reset_flow_delivers_as_a_new_flow_does() {
    // The queue holds a third of the window: the window overflows it.
    let egress = flat(100_000_000, 10_000);
    let link = LinkConfig {
        latency: SimDuration::from_us(200),
        max_window_bytes: 30_000,
        ..Default::default()
    };
    // 1.2 Gbit/s offered into 100 Mbit/s, before and after.
    let before = burst(0, 40, 20_000, 3_000, 0);
    let reset_at = SimTime::from_ms(3);
    // Just before the old timeouts (RTO_MIN after losses before the reset) come due.
    let after = burst(199_000_000, 40, 20_000, 3_000, 1_000);
    let r = reset_and_fresh(egress, &link, &before, reset_at, &after);
    assert!(r.drops_before > 0, "the reset must find a shrunken window");
    assert!(r.stale_events > 0, "old timers fire in the new epoch");
    assert!(
        r.fresh.last().unwrap().0 > SimTime::from_ms(204),
        "the new epoch outlasts them"
    );
    assert_eq!(r.reset.len(), after.len());
    assert_eq!(r.reset, r.fresh);
}

/// The same right after the reset, with acknowledgements on their way back to a sender
/// whose window is full (an `Ack` event pending) but nothing on the wire: the pending
/// event is stale, and the new sends go as a new flow's would.
#[test]
fn a_reset_with_acknowledgements_in_the_air_is_a_new_flow() {
    let egress = flat(1_000_000_000, 1_000_000);
    let link = LinkConfig {
        latency: SimDuration::from_ms(1),
        // Three 1,000-byte messages.
        max_window_bytes: 3 * framing().wire_bytes(1_000),
        ..Default::default()
    };
    // At 1.5 ms the first three have been delivered (at about 1 ms), their
    // acknowledgements are due at about 2 ms, and seven messages wait for them.
    let before = burst(0, 10, 0, 1_000, 0);
    let reset_at = SimTime::from_us(1_500);
    let after = burst(1_500_000, 10, 0, 1_000, 100);
    let r = reset_and_fresh(egress, &link, &before, reset_at, &after);
    assert_eq!(r.stale_events, 1, "the old Ack event ran");
    assert_eq!(r.reset.len(), after.len());
    assert_eq!(r.reset, r.fresh);
}

/// A message lost as a tail and discarded by a reset still has its retransmission
/// timer pending, with the generation a new message gets at its first loss. The new
/// epoch's first message, lost the same way, must wait for its own timeout: the old
/// timer, when it fires, must not retransmit whatever message then holds the slot the
/// discarded one had.
#[test]
fn an_old_retransmission_timer_never_fires_for_a_new_message() {
    let zero_queue = ShaperConfig {
        queue_capacity_bytes: 0,
        ..ShaperConfig::unlimited()
    };
    let slow = ShaperConfig {
        baseline_bits_per_s: 1_000_000_000,
        burst_bits_per_s: 1_000_000_000,
        ..zero_queue
    };
    let latency = SimDuration::from_ms(1);
    let link = LinkConfig {
        latency,
        ..Default::default()
    };
    let mut net = Network::new(RngStreams::new(1));
    let (a, b) = two_nics(&mut net, slow);
    let flow = net.open_flow(a, b, link.clone());
    let other = net.open_flow(a, b, link);
    let mut w = World::new(net);
    let mut sched = Scheduler::new();
    // Two at once into a queue of zero bytes: the second is dropped at egress, a tail
    // loss whose timeout is due at RTO_MIN.
    send_at(&mut sched, SimTime::ZERO, flow, 100, 0);
    send_at(&mut sched, SimTime::ZERO, flow, 100, 1);
    // Another flow holds the egress busy from 4 ms to past 10 ms.
    send_at(&mut sched, SimTime::from_ms(4), other, 2_000_000, 50);
    sched.run(&mut w, RunLimit::Until(SimTime::from_ms(5)));
    w.net.reset_flow(&mut sched, flow);
    // Dropped as well, with nothing after it: its own timeout is due 10 ms after the
    // old one.
    let resend_at = SimTime::from_ms(10);
    send_at(&mut sched, resend_at, flow, 100, 100);
    sched.run(&mut w, RunLimit::Empty);
    let new: Vec<_> = w
        .delivered
        .iter()
        .filter(|(_, d)| d.flow == flow && d.token == 100)
        .collect();
    assert_eq!(new.len(), 1);
    assert!(
        new[0].0 >= resend_at + RTO_MIN + latency,
        "retransmitted early, at {}",
        new[0].0
    );
    let stats = w.net.flow_stats(flow);
    assert_eq!(
        (stats.drops, stats.timeout_retransmits),
        (2, 1),
        "{stats:?}"
    );
}

/// After a reset the flow delivers exactly what was sent after it, in order; its
/// statistics go on counting; a second reset with nothing outstanding discards nothing.
#[test]
fn after_a_reset_only_new_messages_are_delivered_in_order() {
    let mut net = Network::new(RngStreams::new(5));
    let (a, b) = two_nics(&mut net, flat(200_000_000, 50_000));
    let link = LinkConfig {
        latency: SimDuration::from_us(100),
        jitter: SimDuration::from_us(40),
        rules: vec![LinkRule::Loss {
            probability: Ratio::new(1, 8),
        }],
        max_window_bytes: 20_000,
    };
    let flow = net.open_flow(a, b, link);
    let mut w = World::new(net);
    let mut sched = Scheduler::new();
    // 200 kB offered in half a millisecond: at the reset most of it is on its way.
    for (t, bytes, token) in burst(0, 50, 10_000, 4_000, 0) {
        send_at(&mut sched, SimTime::from_ns(t), flow, bytes, token);
    }
    let reset_at = SimTime::from_us(700);
    sched.run(&mut w, RunLimit::Until(reset_at));
    let delivered_before = w.delivered.len() as u64;
    w.net.reset_flow(&mut sched, flow);
    for (t, bytes, token) in burst(reset_at.as_ns(), 50, 30_000, 4_000, 50) {
        send_at(&mut sched, SimTime::from_ns(t), flow, bytes, token);
    }
    assert_eq!(w.net.unacked_payload_bytes(flow), 0);
    let stats = w.net.flow_stats(flow);
    assert_eq!(
        (stats.resets, stats.messages_delivered),
        (1, delivered_before)
    );
    assert!(stats.discarded_messages > 0, "{stats:?}");
    sched.run(&mut w, RunLimit::Empty);
    let tokens: Vec<u64> = w.delivered[delivered_before as usize..]
        .iter()
        .map(|(_, d)| d.token)
        .collect();
    assert_eq!(tokens, (50..100).collect::<Vec<_>>());
    let stats = w.net.flow_stats(flow);
    assert_eq!(stats.messages_sent, 100);
    assert_eq!(stats.messages_delivered, delivered_before + 50);
    assert_eq!(
        stats.messages_delivered + stats.discarded_messages,
        100,
        "{stats:?}"
    );
    // Drained: a reset now has nothing to discard.
    w.net.reset_flow(&mut sched, flow);
    let again = w.net.flow_stats(flow);
    assert_eq!(again.resets, 2);
    assert_eq!(again.discarded_messages, stats.discarded_messages);
    let c = w.net.conservation();
    assert!(
        c.holds() && c.queued == 0 && c.in_flight == 0 && c.discarded > 0,
        "{c:?}"
    );
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    Net(NetEvent),
    Send { flow: usize, payload_bytes: u64 },
    Reset { flow: usize },
}

impl From<NetEvent> for Ev {
    fn from(e: NetEvent) -> Ev {
        Ev::Net(e)
    }
}

/// What happened, in the order it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Happened {
    Sent { flow: usize, token: u64 },
    Reset { flow: usize },
    Delivered { flow: usize, token: u64 },
}

/// Flows that can be reset, a journal of sends, resets and deliveries, and a check of
/// byte conservation after every event.
struct ResetWorld {
    net: Network,
    flows: Vec<FlowId>,
    journal: Vec<Happened>,
    next_token: u64,
    buf: Vec<Delivery>,
    /// The first event after which bytes were not conserved, if any.
    unconserved: Option<(SimTime, sim::net::Conservation)>,
}

impl Model for ResetWorld {
    type Event = Ev;
    fn handle(&mut self, sched: &mut Scheduler<Ev>, ev: Ev) {
        match ev {
            Ev::Net(e) => {
                self.buf.clear();
                self.net.handle(sched, e, &mut self.buf);
                for d in &self.buf {
                    let flow = self.flows.iter().position(|f| *f == d.flow).unwrap();
                    self.journal.push(Happened::Delivered {
                        flow,
                        token: d.token,
                    });
                }
            }
            Ev::Send {
                flow,
                payload_bytes,
            } => {
                let token = self.next_token;
                self.next_token += 1;
                self.journal.push(Happened::Sent { flow, token });
                self.net.send(sched, self.flows[flow], payload_bytes, token);
            }
            Ev::Reset { flow } => {
                self.journal.push(Happened::Reset { flow });
                self.net.reset_flow(sched, self.flows[flow]);
            }
        }
        let c = self.net.conservation();
        let per_nic = self
            .net
            .nic_accounts()
            .iter()
            .all(|a| a.egress.holds() && a.ingress.holds());
        if (!c.holds() || !per_nic) && self.unconserved.is_none() {
            self.unconserved = Some((sched.now(), c));
        }
    }
}

/// Per flow, from the journal: the epoch (resets so far) each token was sent in, and
/// its position among that epoch's sends; then the deliveries checked against them.
/// Returns the first violation.
fn check_journal(journal: &[Happened], flows: usize) -> Result<(), String> {
    use std::collections::BTreeMap;
    let mut epoch = vec![0u32; flows];
    // (flow, epoch) -> sends so far, deliveries so far.
    let mut sent: BTreeMap<(usize, u32), u64> = BTreeMap::new();
    let mut delivered: BTreeMap<(usize, u32), u64> = BTreeMap::new();
    // token -> (flow, epoch, position).
    let mut tokens: BTreeMap<u64, (usize, u32, u64)> = BTreeMap::new();
    for (i, h) in journal.iter().enumerate() {
        match *h {
            Happened::Sent { flow, token } => {
                let n = sent.entry((flow, epoch[flow])).or_default();
                tokens.insert(token, (flow, epoch[flow], *n));
                *n += 1;
            }
            Happened::Reset { flow } => epoch[flow] += 1,
            Happened::Delivered { flow, token } => {
                let Some(&(sent_on, sent_in, position)) = tokens.get(&token) else {
                    return Err(format!("#{i}: token {token} delivered, never sent"));
                };
                if sent_on != flow {
                    return Err(format!("#{i}: token {token} of flow {sent_on} on {flow}"));
                }
                if sent_in != epoch[flow] {
                    return Err(format!(
                        "#{i}: token {token} sent in epoch {sent_in} delivered in {}",
                        epoch[flow]
                    ));
                }
                let next = delivered.entry((flow, sent_in)).or_default();
                if position != *next {
                    return Err(format!(
                        "#{i}: token {token} is send #{position} of its epoch, expected #{next}"
                    ));
                }
                *next += 1;
            }
        }
    }
    // Drained: each flow's last epoch delivered everything it sent.
    for (flow, &e) in epoch.iter().enumerate() {
        let s = sent.get(&(flow, e)).copied().unwrap_or(0);
        let d = delivered.get(&(flow, e)).copied().unwrap_or(0);
        if s != d {
            return Err(format!(
                "flow {flow} epoch {e}: {s} sent, {d} delivered at the end"
            ));
        }
    }
    Ok(())
}

fn time_ns() -> impl Strategy<Value = u64> {
    // Some on a coarse grid, so that sends and resets share instants.
    prop_oneof![0u64..20_000_000, (0u64..20).prop_map(|k| k * 1_000_000)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Resets at random times on several flows, with random sends, losses, jitter,
    /// small queues and small windows. In words: no message sent on a flow before one
    /// of its resets is delivered after that reset; within each epoch of a flow (the
    /// time between two of its resets) its messages are delivered in the order they
    /// were sent, each at most once and none skipped; bytes are conserved after every
    /// event (offered = delivered + dropped + discarded + queued + in flight, and per
    /// NIC direction offered = passed + queued + in service + dropped + discarded); and
    /// once
    /// the network drains, nothing is queued or in flight, each flow's last epoch has
    /// delivered all it sent, and its counts add up (sent = delivered + discarded).
    #[test]
    fn no_message_outlives_a_reset_of_its_flow(
        seed in 0u64..1_000,
        sends in prop::collection::vec(
            (time_ns(), 0usize..6, prop_oneof![1u64..1_500, 1u64..60_000]),
            1..150,
        ),
        resets in prop::collection::vec((time_ns(), 0usize..6), 0..12),
        loss_per_mille in 0u64..150,
        jitter_us in 0u64..60,
        queue_bytes in 5_000u64..200_000,
        window_bytes in prop_oneof![1_000u64..4_000, 4_000u64..100_000, Just(sim::net::DEFAULT_MAX_WINDOW_BYTES)],
    ) {
        let link = LinkConfig {
            latency: SimDuration::from_us(50),
            jitter: SimDuration::from_us(jitter_us),
            rules: vec![LinkRule::Loss { probability: Ratio::new(loss_per_mille, 1000) }],
            max_window_bytes: window_bytes,
        };
        let mut net = Network::new(RngStreams::new(seed));
        let shaping = ShaperConfig {
            baseline_bits_per_s: 100_000_000,
            burst_bits_per_s: 400_000_000,
            credit_capacity_bits: 10_000_000,
            initial_credit_bits: 10_000_000,
            queue_capacity_bytes: queue_bytes,
            pps_limit: None,
            flow_cap_bits_per_s: None,
            chunk_bytes: 16_384,
            line_rate_bits_per_s: 400_000_000,
        };
        let nic = NicConfig { egress: shaping, ingress: shaping, framing: framing() };
        let nics: Vec<_> = (0..3).map(|_| net.add_nic(nic)).collect();
        let mut flows = Vec::new();
        for &a in &nics {
            for &b in &nics {
                if a != b {
                    let k = flows.len() as u64;
                    flows.push(net.open_flow_labelled(a, b, link.clone(), "test.flow", k));
                }
            }
        }
        let mut sched = Scheduler::new();
        // Scheduled in one order by time (stable), so that the journal's order is the
        // order of the instants and, within one, of this list.
        let mut events: Vec<(u64, Ev)> = sends
            .iter()
            .map(|&(t, flow, payload_bytes)| (t, Ev::Send { flow, payload_bytes }))
            .chain(resets.iter().map(|&(t, flow)| (t, Ev::Reset { flow })))
            .collect();
        events.sort_by_key(|e| e.0);
        for (t, ev) in events {
            sched.schedule_at(SimTime::from_ns(t), ev);
        }
        let mut w = ResetWorld {
            net,
            flows: flows.clone(),
            journal: Vec::new(),
            next_token: 0,
            buf: Vec::new(),
            unconserved: None,
        };
        sched.run(&mut w, RunLimit::Empty);
        prop_assert!(w.unconserved.is_none(), "not conserved: {:?}", w.unconserved);
        let c = w.net.conservation();
        prop_assert!(c.holds() && c.queued == 0 && c.in_flight == 0, "{c:?}");
        if let Err(e) = check_journal(&w.journal, flows.len()) {
            prop_assert!(false, "{}", e);
        }
        for (i, &f) in flows.iter().enumerate() {
            let stats = w.net.flow_stats(f);
            let count = |want: fn(&Happened, usize) -> bool| {
                w.journal.iter().filter(|h| want(h, i)).count() as u64
            };
            let sent = count(|h, i| matches!(h, Happened::Sent { flow, .. } if *flow == i));
            let reset = count(|h, i| matches!(h, Happened::Reset { flow } if *flow == i));
            let delivered = count(|h, i| matches!(h, Happened::Delivered { flow, .. } if *flow == i));
            prop_assert_eq!(
                (stats.messages_sent, stats.resets, stats.messages_delivered),
                (sent, reset, delivered)
            );
            prop_assert_eq!(stats.messages_delivered + stats.discarded_messages, sent);
            prop_assert_eq!(w.net.unacked_payload_bytes(f), 0);
        }
    }
}
