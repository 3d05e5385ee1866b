//! The network: NICs (an egress and an ingress [`Shaper`] each), flows between them, and
//! the transport that makes each flow a reliable, ordered byte stream the way TCP does.
//! Every message travels on a flow, and the flows crossing a NIC share its shapers
//! fairly. A cache model has client request and reply flows today; replication streams
//! and cluster-bus messages, once modelled, become flows of their own and share the same
//! shapers.
//!
//! A message's path: sender egress shaper -> link (propagation, jitter, fault rules) ->
//! receiver ingress shaper -> in-order delivery. Invariants: within a flow, messages are
//! delivered in the order they were sent, each exactly once; bytes are conserved
//! (offered = delivered + dropped + queued + in flight, where each attempt of a
//! retransmitted message counts as offered once); a dropped message is retransmitted
//! about one RTT after the loss when more data follows it on its flow (fast retransmit),
//! else after a retransmission timeout (200 ms minimum, doubling per timeout of the same
//! message), and later messages of its flow wait for it (head-of-line blocking). Drops
//! happen before bytes are serialized at the dropping shaper, so under sustained
//! overload a flow's goodput settles at its share of the shaped rate.
//!
//! Faults and shaping are data: a link carries a list of [`LinkRule`]s tried in order,
//! each of which may return a verdict (drop, or deliver after an extra delay).
//!
//! The model's event type wraps [`NetEvent`] (`E: From<NetEvent>`); the model hands each
//! back to [`Network::handle`], which appends completed deliveries to a vector.

mod acks;
pub mod shaper;

use acks::AckQueue;
pub use shaper::{Framing, LocalFlow, Shaper, ShaperConfig, ShaperCounters, ShaperOutput};

use crate::rng::{below, Ratio, RngStreams, SimRng};
use crate::scheduler::Scheduler;
use crate::time::{SimDuration, SimTime};
use slab::Slab;
use std::collections::{BTreeMap, VecDeque};

/// The smallest retransmission timeout (Linux's TCP_RTO_MIN).
pub const RTO_MIN: SimDuration = SimDuration::from_ms(200);
/// The largest retransmission timeout (Linux's TCP_RTO_MAX).
pub const RTO_MAX: SimDuration = SimDuration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NicId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId(pub u32);

/// A NIC: shaping in each direction, and how it frames messages into packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NicConfig {
    pub egress: ShaperConfig,
    pub ingress: ShaperConfig,
    pub framing: Framing,
}

/// A rule of a link's fault policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LinkRule {
    /// Drops a message with this probability.
    Loss { probability: Ratio },
    /// Adds `extra_ns` of delay with this probability.
    Delay { probability: Ratio, extra_ns: u64 },
}

/// What a link does with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Deliver { extra: SimDuration },
    Drop,
}

/// The path of a flow between two NICs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// One-way propagation latency.
    pub latency: SimDuration,
    /// Extra delay drawn uniformly from [0, jitter] per message (order is preserved).
    pub jitter: SimDuration,
    /// Fault rules, tried in order; the first drop wins, delays add up.
    pub rules: Vec<LinkRule>,
    /// The most wire bytes in flight (sent, not yet acknowledged) on the flow: the
    /// send window of a long-lived connection. Halved on each loss, regrown Reno-style.
    pub max_window_bytes: u64,
}

/// Linux's default maximum send buffer (net.ipv4.tcp_wmem max, 4 MiB).
pub const DEFAULT_MAX_WINDOW_BYTES: u64 = 4 * 1024 * 1024;

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: SimDuration::ZERO,
            jitter: SimDuration::ZERO,
            rules: Vec::new(),
            max_window_bytes: DEFAULT_MAX_WINDOW_BYTES,
        }
    }
}

/// The network's events, wrapped by the model's event enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetEvent {
    EgressWake {
        nic: NicId,
    },
    IngressWake {
        nic: NicId,
    },
    /// A message's last bit reaches the receiving NIC.
    Arrive {
        msg: u32,
    },
    /// A message has passed the receiving NIC's ingress shaper.
    Received {
        msg: u32,
    },
    /// A retransmission timer (stale when `generation` no longer matches).
    Retransmit {
        msg: u32,
        generation: u32,
    },
    /// Acknowledgements reach a sender whose window was full.
    Ack {
        flow: FlowId,
    },
}

/// A message handed to the receiving application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub flow: FlowId,
    pub token: u64,
    pub payload_bytes: u64,
    /// When the application first sent it.
    pub sent_at: SimTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MsgState {
    /// Waiting in the sender's buffer for room in the window (not yet offered).
    SendBuffered,
    EgressQueued,
    Transit,
    IngressQueued,
    IngressService,
    Held,
    /// Dropped; waiting for its retransmission.
    Lost,
}

#[derive(Clone, Copy, Debug)]
struct Msg {
    flow: FlowId,
    token: u64,
    payload_bytes: u64,
    wire_bytes: u64,
    seq: u64,
    sent_at: SimTime,
    timeouts: u32,
    generation: u32,
    /// Whether the pending retransmission is a timeout (else a fast retransmit).
    retransmit_by_timeout: bool,
    /// Sent more than once: a lost retransmission cannot be detected by duplicate
    /// acknowledgements, so it waits for the timeout (as TCP without RACK does).
    retransmitted: bool,
    link_dropped: bool,
    state: MsgState,
}

/// What every message of a flow touches, in two cache lines: the sender's line, and
/// the receiver's with the acknowledgements on their way back. Cold state lives in
/// [`FlowCold`]: with tens of thousands of connections, the flow table's cache
/// footprint is what a message costs.
#[derive(Debug)]
#[repr(C, align(64))]
struct Flow {
    // The sender's line.
    src: NicId,
    egress_local: LocalFlow,
    latency: SimDuration,
    next_seq: u64,
    unacked_payload_bytes: u64,
    inflight_wire_bytes: u64,
    /// Congestion window, in wire bytes.
    window_bytes: u64,
    last_arrival: SimTime,
    /// The link draws randomness (jitter or fault rules): see `FlowCold::rng`.
    randomized: bool,
    /// Messages are held for reordering (`FlowCold::held` is not empty).
    holding: bool,
    /// Some lost message waits for later data (`FlowCold::tail_losses` is not empty).
    tail_loss_pending: bool,
    ack_event_pending: bool,
    /// Messages wait for room in the window (`FlowCold::send_buffer` is not empty).
    buffering: bool,
    /// The window is at its maximum, where acknowledgements cannot grow it: taking them
    /// in needs nothing from `FlowCold`.
    window_at_max: bool,
    // The receiver's line.
    dst: NicId,
    ingress_local: LocalFlow,
    next_deliver_seq: u64,
    acks: AckQueue,
}

const _: () = assert!(
    std::mem::size_of::<Flow>() == 128,
    "a flow is two cache lines"
);

/// What only loss, reordering, a full window, randomness and reports touch.
#[derive(Debug)]
struct FlowCold {
    link: LinkConfig,
    /// Present when the link draws randomness (jitter or rules): a stream per flow, so
    /// adding a flow never changes another's draws.
    rng: Option<SimRng>,
    held: BTreeMap<u64, u32>,
    /// Lost messages with no later data yet: waiting for their timeout, or for new data
    /// whose duplicate acknowledgements trigger a fast retransmit.
    tail_losses: Vec<u32>,
    /// Messages waiting for room in the window, in order.
    send_buffer: VecDeque<u32>,
    /// Slow-start threshold, in wire bytes.
    ssthresh_bytes: u64,
    stats: FlowStats,
}

/// Per-flow transport counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub drops: u64,
    pub fast_retransmits: u64,
    pub timeout_retransmits: u64,
}

/// Network-wide byte accounting (wire bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conservation {
    pub offered: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub queued: u64,
    pub in_flight: u64,
}

impl Conservation {
    /// Whether offered = delivered + dropped + queued + in flight.
    pub fn holds(&self) -> bool {
        self.offered == self.delivered + self.dropped + self.queued + self.in_flight
    }
}

/// A NIC's two shapers.
#[derive(Debug)]
pub struct Nic {
    pub egress: Shaper,
    pub ingress: Shaper,
}

/// All NICs and flows of a world.
#[derive(Debug)]
pub struct Network {
    streams: RngStreams,
    nics: Vec<Nic>,
    flows: Vec<Flow>,
    cold: Vec<FlowCold>,
    msgs: Slab<Msg>,
    out: ShaperOutput,
    offered_wire_bytes: u64,
    delivered_wire_bytes: u64,
    dropped_wire_bytes: u64,
    /// See [`Network::set_eager_acks`].
    eager_acks: bool,
}

impl Network {
    pub fn new(streams: RngStreams) -> Network {
        Network {
            streams,
            nics: Vec::new(),
            flows: Vec::new(),
            cold: Vec::new(),
            msgs: Slab::new(),
            out: ShaperOutput::default(),
            offered_wire_bytes: 0,
            delivered_wire_bytes: 0,
            dropped_wire_bytes: 0,
            eager_acks: false,
        }
    }

    pub fn add_nic(&mut self, cfg: NicConfig) -> NicId {
        self.nics.push(Nic {
            egress: Shaper::new(cfg.egress, cfg.framing),
            ingress: Shaper::new(cfg.ingress, cfg.framing),
        });
        NicId((self.nics.len() - 1) as u32)
    }

    pub fn nic(&self, id: NicId) -> &Nic {
        &self.nics[id.0 as usize]
    }

    pub fn nics(&self) -> &[Nic] {
        &self.nics
    }

    /// Opens a one-way flow from `src` to `dst` (a connection is two flows).
    pub fn open_flow(&mut self, src: NicId, dst: NicId, link: LinkConfig) -> FlowId {
        let id = FlowId(self.flows.len() as u32);
        let egress_local = self.nics[src.0 as usize].egress.add_flow();
        let ingress_local = self.nics[dst.0 as usize].ingress.add_flow();
        let needs_rng = link.jitter > SimDuration::ZERO || !link.rules.is_empty();
        assert!(
            link.max_window_bytes > 0,
            "a flow needs a window of at least one byte"
        );
        self.flows.push(Flow {
            src,
            egress_local,
            latency: link.latency,
            next_seq: 0,
            unacked_payload_bytes: 0,
            inflight_wire_bytes: 0,
            window_bytes: link.max_window_bytes,
            last_arrival: SimTime::ZERO,
            randomized: needs_rng,
            holding: false,
            tail_loss_pending: false,
            ack_event_pending: false,
            buffering: false,
            window_at_max: true,
            dst,
            ingress_local,
            next_deliver_seq: 0,
            acks: AckQueue::default(),
        });
        self.cold.push(FlowCold {
            rng: needs_rng.then(|| self.streams.stream("net.flow", id.0 as u64)),
            ssthresh_bytes: link.max_window_bytes,
            link,
            held: BTreeMap::new(),
            tail_losses: Vec::new(),
            send_buffer: VecDeque::new(),
            stats: FlowStats::default(),
        });
        id
    }

    pub fn flow_stats(&self, flow: FlowId) -> FlowStats {
        let f = &self.flows[flow.0 as usize];
        FlowStats {
            messages_sent: f.next_seq,
            messages_delivered: f.next_deliver_seq,
            ..self.cold[flow.0 as usize].stats
        }
    }

    /// Retransmissions (fast and by timeout) of every flow `nic` sends on.
    pub fn retransmits_from(&self, nic: NicId) -> u64 {
        self.flows
            .iter()
            .zip(&self.cold)
            .filter(|(f, _)| f.src == nic)
            .map(|(_, c)| c.stats.fast_retransmits + c.stats.timeout_retransmits)
            .sum()
    }

    /// Payload bytes sent on `flow` and not yet delivered (a socket's send buffer plus
    /// what is in flight): what an output-buffer limit is checked against.
    pub fn unacked_payload_bytes(&self, flow: FlowId) -> u64 {
        self.flows[flow.0 as usize].unacked_payload_bytes
    }

    /// Acknowledgements of `flow` held on the heap rather than inline: at most those
    /// still on their way back (a check of memory, not of behaviour).
    pub fn acks_spilled(&self, flow: FlowId) -> usize {
        self.flows[flow.0 as usize].acks.spilled()
    }

    /// Takes acknowledgements in at every chance (each send and delivery) instead of
    /// lazily. Results never depend on it; this exists so that tests can check they
    /// do not.
    pub fn set_eager_acks(&mut self, eager: bool) {
        self.eager_acks = eager;
    }

    /// Starts loading the lines a send on `flow` reads, for a caller that knows a send
    /// is coming (a node, one job ahead of its replies). A hint: no effect on any
    /// result.
    #[inline]
    pub fn prefetch_flow(&self, flow: FlowId) {
        if let Some(f) = self.flows.get(flow.0 as usize) {
            crate::hint::prefetch_all(f);
        }
    }

    /// The round-trip time a sender would measure on an idle path.
    pub fn base_rtt(&self, flow: FlowId) -> SimDuration {
        let l = self.flows[flow.0 as usize].latency;
        l + l
    }

    /// Sends `payload_bytes` on `flow`; `token` comes back in its [`Delivery`].
    pub fn send<E: From<NetEvent> + Copy>(
        &mut self,
        sched: &mut Scheduler<E>,
        flow: FlowId,
        payload_bytes: u64,
        token: u64,
    ) {
        let now = sched.now();
        if self.eager_acks {
            self.take_acks(now, flow);
        }
        let f = &mut self.flows[flow.0 as usize];
        let wire = self.nics[f.src.0 as usize]
            .egress
            .framing()
            .wire_bytes(payload_bytes);
        let seq = f.next_seq;
        f.next_seq += 1;
        f.unacked_payload_bytes += payload_bytes;
        // New data after a tail loss: its duplicate acknowledgements trigger a fast
        // retransmit of the lost messages about one RTT from now.
        if f.tail_loss_pending {
            let rtt = f.latency + f.latency;
            let cold = &mut self.cold[flow.0 as usize];
            let msgs = &mut self.msgs;
            // A lost retransmission stays with its timeout: duplicate acks cannot tell
            // the sender it was lost again.
            cold.tail_losses.retain(|&m| {
                let msg = &mut msgs[m as usize];
                if msg.retransmitted {
                    return true;
                }
                msg.generation += 1;
                msg.retransmit_by_timeout = false;
                sched.schedule_at(
                    now + rtt,
                    E::from(NetEvent::Retransmit {
                        msg: m,
                        generation: msg.generation,
                    }),
                );
                false
            });
            f.tail_loss_pending = !cold.tail_losses.is_empty();
        }
        // The window has room and nothing waits before it: straight to the NIC. (Decided
        // before the message is stored, which changes nothing the decision reads, so the
        // message is written once in its final state.)
        let straight = !f.buffering
            && (f.inflight_wire_bytes == 0 || f.inflight_wire_bytes + wire <= f.window_bytes);
        if straight {
            f.inflight_wire_bytes += wire;
        }
        let m = self.msgs.insert(Msg {
            flow,
            token,
            payload_bytes,
            wire_bytes: wire,
            seq,
            sent_at: now,
            timeouts: 0,
            generation: 0,
            retransmit_by_timeout: false,
            retransmitted: false,
            link_dropped: false,
            state: if straight {
                MsgState::EgressQueued
            } else {
                MsgState::SendBuffered
            },
        });
        let m = u32::try_from(m).expect("fewer than 2^32 messages in flight");
        if straight {
            self.offer_egress(sched, m);
            return;
        }
        self.flows[flow.0 as usize].buffering = true;
        self.cold[flow.0 as usize].send_buffer.push_back(m);
        self.pump(sched, flow);
    }

    /// Takes in the acknowledgements that have arrived and offers buffered messages
    /// while the window has room (always at least one message when nothing is in
    /// flight, so a message larger than the window still goes).
    fn pump<E: From<NetEvent> + Copy>(&mut self, sched: &mut Scheduler<E>, flow: FlowId) {
        let now = sched.now();
        // Acknowledgements are taken in lazily: only when the window would block, when
        // a loss halves it (taking them in first), or when a delivery would spill them
        // to the heap. Intake only grows the window (a loss never sets it above its
        // maximum), and growth depends only on the order of intake, so this changes no
        // decision; a test compares it with intake at every chance.
        loop {
            let f = &mut self.flows[flow.0 as usize];
            let Some(&m) = self.cold[flow.0 as usize].send_buffer.front() else {
                f.buffering = false;
                break;
            };
            let wire = self.msgs[m as usize].wire_bytes;
            if f.inflight_wire_bytes > 0 && f.inflight_wire_bytes + wire > f.window_bytes {
                if f.acks.front().is_some_and(|(at, _)| at <= now) {
                    self.take_acks(now, flow);
                    continue;
                }
                break;
            }
            self.cold[flow.0 as usize].send_buffer.pop_front();
            f.inflight_wire_bytes += wire;
            self.msgs[m as usize].state = MsgState::EgressQueued;
            self.offer_egress(sched, m);
        }
        self.arm_ack(sched, flow);
    }

    /// Takes in the acknowledgements that have arrived by `now`.
    fn take_acks(&mut self, now: SimTime, flow: FlowId) {
        let f = &mut self.flows[flow.0 as usize];
        while let Some((at, wire)) = f.acks.front() {
            if at > now {
                break;
            }
            f.acks.pop_front();
            f.inflight_wire_bytes -= wire;
            if f.window_at_max {
                continue;
            }
            // Reno: exponential growth below the threshold, one MSS a window above it.
            let cold = &self.cold[flow.0 as usize];
            let growth = if f.window_bytes < cold.ssthresh_bytes {
                wire
            } else {
                let mss = self.nics[f.src.0 as usize].egress.framing().mss_bytes();
                (mss * wire / f.window_bytes).max(1)
            };
            let max = cold.link.max_window_bytes;
            f.window_bytes = (f.window_bytes + growth).min(max);
            f.window_at_max = f.window_bytes == max;
        }
    }

    /// A sender with buffered data waits for its next acknowledgement.
    #[inline]
    fn arm_ack<E: From<NetEvent> + Copy>(&mut self, sched: &mut Scheduler<E>, flow: FlowId) {
        let f = &mut self.flows[flow.0 as usize];
        if f.buffering && !f.ack_event_pending {
            if let Some((at, _)) = f.acks.front() {
                f.ack_event_pending = true;
                sched.schedule_at(at.max(sched.now()), E::from(NetEvent::Ack { flow }));
            }
        }
    }

    /// Handles one of the network's events; deliveries are appended to `delivered`.
    /// The clock may have moved when it returns: a message that finishes passing its
    /// receiving NIC before anything else is due is received within the same call
    /// (see [`Scheduler::run_next_at`]), so deliveries can follow an `Arrive` or an
    /// `IngressWake`, and the caller must read `sched.now()` after the call.
    pub fn handle<E: From<NetEvent> + Copy>(
        &mut self,
        sched: &mut Scheduler<E>,
        event: NetEvent,
        delivered: &mut Vec<Delivery>,
    ) {
        let now = sched.now();
        match event {
            NetEvent::EgressWake { nic } => {
                self.out.finished.clear();
                self.out.wake_at = None;
                self.nics[nic.0 as usize].egress.wake(now, &mut self.out);
                self.after_egress(sched, nic);
            }
            NetEvent::IngressWake { nic } => {
                self.out.finished.clear();
                self.out.wake_at = None;
                self.nics[nic.0 as usize].ingress.wake(now, &mut self.out);
                self.after_ingress(sched, nic, delivered);
            }
            NetEvent::Arrive { msg } => {
                let m = &mut self.msgs[msg as usize];
                if m.link_dropped {
                    m.link_dropped = false;
                    self.lost(sched, msg);
                    return;
                }
                m.state = MsgState::IngressQueued;
                let (flow, payload) = (m.flow, m.payload_bytes);
                let f = &self.flows[flow.0 as usize];
                let (dst, local) = (f.dst, f.ingress_local);
                self.out.finished.clear();
                self.out.wake_at = None;
                let accepted = self.nics[dst.0 as usize].ingress.offer(
                    now,
                    local,
                    msg,
                    payload,
                    &mut self.out,
                );
                debug_assert!(accepted || self.out.finished.is_empty());
                self.after_ingress(sched, dst, delivered);
                if !accepted {
                    self.lost(sched, msg);
                }
            }
            NetEvent::Received { msg } => self.received(sched, msg, delivered),
            NetEvent::Ack { flow } => {
                self.flows[flow.0 as usize].ack_event_pending = false;
                self.pump(sched, flow);
            }
            NetEvent::Retransmit { msg, generation } => {
                let Some(m) = self.msgs.get_mut(msg as usize) else {
                    return;
                };
                if m.generation != generation || m.state != MsgState::Lost {
                    return; // superseded by a fast retransmit
                }
                m.state = MsgState::EgressQueued;
                m.retransmitted = true;
                let flow = m.flow.0 as usize;
                let cold = &mut self.cold[flow];
                if m.retransmit_by_timeout {
                    cold.stats.timeout_retransmits += 1;
                    // No longer waiting for later data: once retransmitted it may be
                    // delivered and its slot reused, so it must leave the list now.
                    cold.tail_losses.retain(|&t| t != msg);
                    self.flows[flow].tail_loss_pending = !cold.tail_losses.is_empty();
                } else {
                    cold.stats.fast_retransmits += 1;
                }
                self.offer_egress(sched, msg);
            }
        }
    }

    fn offer_egress<E: From<NetEvent> + Copy>(&mut self, sched: &mut Scheduler<E>, msg: u32) {
        let now = sched.now();
        let m = &self.msgs[msg as usize];
        self.offered_wire_bytes += m.wire_bytes;
        let f = &self.flows[m.flow.0 as usize];
        let (src, local, payload) = (f.src, f.egress_local, m.payload_bytes);
        self.out.finished.clear();
        self.out.wake_at = None;
        let accepted =
            self.nics[src.0 as usize]
                .egress
                .offer(now, local, msg, payload, &mut self.out);
        self.after_egress(sched, src);
        if !accepted {
            self.lost(sched, msg);
        }
    }

    /// Messages whose last chunk left `nic`'s egress go onto their links.
    fn after_egress<E: From<NetEvent> + Copy>(&mut self, sched: &mut Scheduler<E>, nic: NicId) {
        if let Some(at) = self.out.wake_at {
            sched.schedule_at(at, E::from(NetEvent::EgressWake { nic }));
        }
        for i in 0..self.out.finished.len() {
            let (msg, done_at) = self.out.finished[i];
            let m = &mut self.msgs[msg as usize];
            m.state = MsgState::Transit;
            let f = &mut self.flows[m.flow.0 as usize];
            let mut arrival = done_at + f.latency;
            if f.randomized {
                let cold = &mut self.cold[m.flow.0 as usize];
                let rng = cold.rng.as_mut().expect("randomized flows have a stream");
                if cold.link.jitter > SimDuration::ZERO {
                    arrival += SimDuration::from_ns(below(rng, cold.link.jitter.as_ns() + 1));
                }
                match apply_rules(&cold.link.rules, rng) {
                    Verdict::Drop => m.link_dropped = true,
                    Verdict::Deliver { extra } => arrival += extra,
                }
            }
            // Jitter never reorders a flow: a message cannot arrive before its predecessor.
            arrival = arrival.max(f.last_arrival);
            f.last_arrival = arrival;
            sched.schedule_at(arrival, E::from(NetEvent::Arrive { msg }));
        }
    }

    /// Messages that have passed `nic`'s ingress shaper are received when they finish.
    /// A lone message that would be the very next event is received at once (see
    /// [`Scheduler::run_next_at`]): two of a request's five events are these, and most
    /// finish within nanoseconds, before anything else is due.
    fn after_ingress<E: From<NetEvent> + Copy>(
        &mut self,
        sched: &mut Scheduler<E>,
        nic: NicId,
        delivered: &mut Vec<Delivery>,
    ) {
        if let Some(at) = self.out.wake_at {
            sched.schedule_at(at, E::from(NetEvent::IngressWake { nic }));
        }
        if let [(msg, done_at)] = self.out.finished[..] {
            if sched.run_next_at(done_at) {
                self.received(sched, msg, delivered);
                return;
            }
        }
        for i in 0..self.out.finished.len() {
            let (msg, done_at) = self.out.finished[i];
            self.msgs[msg as usize].state = MsgState::IngressService;
            sched.schedule_at(done_at, E::from(NetEvent::Received { msg }));
        }
    }

    /// A message was dropped: schedule its retransmission.
    fn lost<E: From<NetEvent> + Copy>(&mut self, sched: &mut Scheduler<E>, msg: u32) {
        let now = sched.now();
        // The window is halved from its value with every acknowledgement that has
        // arrived taken in, as a sender processing them on arrival would have it: lazy
        // intake must not change what a loss does.
        let flow = self.msgs[msg as usize].flow;
        self.take_acks(now, flow);
        let m = &mut self.msgs[msg as usize];
        m.state = MsgState::Lost;
        m.generation += 1;
        self.dropped_wire_bytes += m.wire_bytes;
        let f = &mut self.flows[m.flow.0 as usize];
        let cold = &mut self.cold[m.flow.0 as usize];
        cold.stats.drops += 1;
        // Multiplicative decrease, never below two full packets.
        let floor = 2 * self.nics[f.src.0 as usize]
            .egress
            .framing()
            .wire_bytes(self.nics[f.src.0 as usize].egress.framing().mss_bytes());
        // Never above the maximum, which intake would otherwise cut back to: the
        // window must not shrink on intake, or when acknowledgements are taken in
        // would change decisions.
        f.window_bytes = (f.window_bytes / 2)
            .max(floor)
            .min(cold.link.max_window_bytes);
        f.window_at_max = f.window_bytes == cold.link.max_window_bytes;
        cold.ssthresh_bytes = f.window_bytes;
        if f.next_seq > m.seq + 1 && !m.retransmitted {
            // Later data is already on its way: duplicate acks arrive about one RTT on.
            m.retransmit_by_timeout = false;
            let rtt = f.latency + f.latency;
            sched.schedule_at(
                now + rtt,
                E::from(NetEvent::Retransmit {
                    msg,
                    generation: m.generation,
                }),
            );
        } else {
            m.retransmit_by_timeout = true;
            let rto = RTO_MIN
                .checked_mul(1u64 << m.timeouts.min(20))
                .unwrap_or(RTO_MAX)
                .min(RTO_MAX);
            m.timeouts += 1;
            cold.tail_losses.push(msg);
            f.tail_loss_pending = true;
            sched.schedule_at(
                now + rto,
                E::from(NetEvent::Retransmit {
                    msg,
                    generation: m.generation,
                }),
            );
        }
    }

    /// A message has passed its receiving NIC (now): deliver it in order, and wake its
    /// sender if acknowledgements are what it waits for.
    fn received<E: From<NetEvent> + Copy>(
        &mut self,
        sched: &mut Scheduler<E>,
        msg: u32,
        delivered: &mut Vec<Delivery>,
    ) {
        let flow = self.receive(sched.now(), msg, delivered);
        self.arm_ack(sched, flow);
    }

    /// In-order delivery: hold a message until every earlier one of its flow arrived.
    /// Returns the message's flow.
    fn receive(&mut self, now: SimTime, msg: u32, delivered: &mut Vec<Delivery>) -> FlowId {
        let m = &mut self.msgs[msg as usize];
        let f = &mut self.flows[m.flow.0 as usize];
        if m.seq != f.next_deliver_seq {
            m.state = MsgState::Held;
            self.cold[m.flow.0 as usize].held.insert(m.seq, msg);
            f.holding = true;
            return m.flow;
        }
        let flow = m.flow.0 as usize;
        let mut next = Some(msg);
        while let Some(id) = next {
            if self.eager_acks || self.flows[flow].acks.would_spill() {
                // Make room by taking in those that have arrived, rather than spill:
                // only acknowledgements still in the air may wait on the heap.
                self.take_acks(now, FlowId(flow as u32));
            }
            let f = &mut self.flows[flow];
            let m = self.msgs.remove(id as usize);
            self.delivered_wire_bytes += m.wire_bytes;
            f.next_deliver_seq += 1;
            f.unacked_payload_bytes -= m.payload_bytes;
            f.acks.push_back(now + f.latency, m.wire_bytes);
            delivered.push(Delivery {
                flow: m.flow,
                token: m.token,
                payload_bytes: m.payload_bytes,
                sent_at: m.sent_at,
            });
            next = if f.holding {
                let held = &mut self.cold[flow].held;
                let next = held.remove(&f.next_deliver_seq);
                f.holding = !held.is_empty();
                next
            } else {
                None
            };
        }
        FlowId(flow as u32)
    }

    /// The byte accounting, computed from the messages' states (a checker independent
    /// of the counters the shapers keep).
    pub fn conservation(&self) -> Conservation {
        let mut c = Conservation {
            offered: self.offered_wire_bytes,
            delivered: self.delivered_wire_bytes,
            dropped: self.dropped_wire_bytes,
            ..Default::default()
        };
        for (_, m) in &self.msgs {
            match m.state {
                MsgState::EgressQueued | MsgState::IngressQueued => c.queued += m.wire_bytes,
                MsgState::Transit | MsgState::IngressService | MsgState::Held => {
                    c.in_flight += m.wire_bytes
                }
                MsgState::Lost | MsgState::SendBuffered => {}
            }
        }
        c
    }
}

fn apply_rules(rules: &[LinkRule], rng: &mut SimRng) -> Verdict {
    let mut extra = SimDuration::ZERO;
    for rule in rules {
        match *rule {
            LinkRule::Loss { probability } => {
                if probability.sample(rng) {
                    return Verdict::Drop;
                }
            }
            LinkRule::Delay {
                probability,
                extra_ns,
            } => {
                if probability.sample(rng) {
                    extra += SimDuration::from_ns(extra_ns);
                }
            }
        }
    }
    Verdict::Deliver { extra }
}
