//! The network: NICs (an egress and an ingress [`Shaper`] each), flows between them, and
//! the transport that makes each flow a reliable, ordered byte stream the way TCP does.
//! Every message travels on a flow, and the flows crossing a NIC share its shapers
//! fairly. A cache model has client request and reply flows today; replication streams
//! and cluster-bus messages, once modelled, become flows of their own and share the same
//! shapers.
//!
//! A message's path: sender egress shaper -> link (propagation, jitter, fault rules) ->
//! receiver ingress shaper -> in-order delivery. Invariants: within a flow, messages are
//! delivered in the order they were sent, each exactly once unless a reset discards it;
//! bytes are conserved (offered = delivered + dropped + discarded + queued + in flight,
//! where each attempt of a retransmitted message counts as offered once); a dropped
//! message is retransmitted about one RTT after the loss when more data follows it on its
//! flow (fast retransmit), else after a retransmission timeout (200 ms minimum, doubling
//! per timeout of the same message), and later messages of its flow wait for it
//! (head-of-line blocking). Drops happen before bytes are serialized at the dropping
//! shaper, so under sustained overload a flow's goodput settles at its share of the
//! shaped rate.
//!
//! A flow can be reset in place ([`Network::reset_flow`]), as a connection torn down and
//! opened again: every message it has not delivered is discarded wherever it is and never
//! delivered, and the flow starts over as if newly opened (the span between two resets is
//! an epoch of the flow). Events already scheduled for it (an arrival, the end of ingress
//! service, a retransmission timer, acknowledgements coming back) find their message
//! marked discarded, or the flow in a state they cannot change, and do nothing.
//!
//! Faults and shaping are data: a link carries a list of [`LinkRule`]s tried in order,
//! each of which may return a verdict (drop, or deliver after an extra delay); faults on
//! a timeline (outages and degradations between sets of NICs, NIC rate caps) are added
//! with their start and end times and flip per-flow state when they begin and end (see
//! [`faults`]).
//!
//! Per NIC direction the bytes are accounted too ([`Network::nic_accounts`]): offered =
//! passed + queued + in service + dropped + discarded, where an egress passes a message
//! onto the link when its last chunk starts and an ingress when it is received.
//!
//! The model's event type wraps [`NetEvent`] (`E: From<NetEvent>`); the model hands each
//! back to [`Network::handle`], which appends completed deliveries to a vector.

mod acks;
pub mod faults;
pub mod shaper;

use acks::AckQueue;
pub use faults::{FaultEffect, FaultId, FaultStats, LinkFault};
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
    /// A link fault begins (see [`faults`]).
    FaultStart {
        fault: u32,
    },
    /// A link fault ends.
    FaultEnd {
        fault: u32,
    },
    /// A NIC's rate cap changes.
    RateChange {
        change: u32,
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
    // Its flow was reset while an event for it was pending: that event, and no other
    // (an event for a slot freed and reused would reach the wrong message), frees it
    // undelivered.
    /// Was in transit: freed by its arrival.
    DiscardedOnWire,
    /// Was finishing its ingress service: freed when it is received.
    DiscardedInService,
    /// Was lost: freed by the retransmission timer pending then.
    DiscardedLost,
}

/// The sequence number of a message discarded in ingress service: never the one its
/// flow delivers next, so that when it is received it takes the out-of-order path,
/// where it is recognised; the in-order path checks nothing more than it did.
const DISCARDED_SEQ: u64 = u64::MAX;

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
    /// Some timeline fault covers the flow now (`FlowCold::faults` is not empty).
    faulted: bool,
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
    rng: Option<Box<SimRng>>,
    held: BTreeMap<u64, u32>,
    /// Lost messages with no later data yet: waiting for their timeout, or for new data
    /// whose duplicate acknowledgements trigger a fast retransmit.
    tail_losses: Vec<u32>,
    /// Messages waiting for room in the window, in order.
    send_buffer: VecDeque<u32>,
    /// Slow-start threshold, in wire bytes.
    ssthresh_bytes: u64,
    /// `messages_sent` and `messages_delivered` count the epochs before the last reset
    /// only: the current one's are the flow's sequence numbers.
    stats: FlowStats,
    /// The timeline faults covering the flow now, by id.
    faults: Vec<u32>,
}

/// Per-flow transport counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Messages sent, over every epoch (resets do not restart the counts).
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub drops: u64,
    pub fast_retransmits: u64,
    pub timeout_retransmits: u64,
    /// Times the flow was reset ([`Network::reset_flow`]).
    pub resets: u64,
    /// Messages sent and never delivered because a reset discarded them: sent =
    /// delivered + discarded + those still on their way.
    pub discarded_messages: u64,
    /// Resets the network made itself, a message having waited through timeouts
    /// adding up to the reset time (counted in `resets` too).
    pub aborts: u64,
}

/// Network-wide byte accounting (wire bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conservation {
    pub offered: u64,
    pub delivered: u64,
    pub dropped: u64,
    /// Bytes of attempts under way when their flow was reset (an attempt already
    /// dropped is counted as dropped, and a message still in its sender's buffer was
    /// never offered). Some may still occupy a wire: they are discarded all the same.
    pub discarded: u64,
    pub queued: u64,
    pub in_flight: u64,
}

impl Conservation {
    /// Whether offered = delivered + dropped + discarded + queued + in flight.
    pub fn holds(&self) -> bool {
        self.offered
            == self.delivered + self.dropped + self.discarded + self.queued + self.in_flight
    }
}

/// One NIC direction's byte account (wire bytes), kept by the network from the
/// messages' moves, independently of the shaper's own counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionAccount {
    /// Every attempt offered to this direction's shaper.
    pub offered: u64,
    /// Passed on: onto the link (egress) or to the receiving flow (ingress).
    pub passed: u64,
    pub queued: u64,
    /// Finishing its ingress service (always 0 for an egress).
    pub in_service: u64,
    /// Refused by the full queue.
    pub dropped: u64,
    /// Taken back by a flow's reset while queued or in service.
    pub discarded: u64,
}

impl DirectionAccount {
    /// Whether offered = passed + queued + in service + dropped + discarded.
    pub fn holds(&self) -> bool {
        self.offered == self.passed + self.queued + self.in_service + self.dropped + self.discarded
    }
}

/// A NIC's two accounts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicAccount {
    pub egress: DirectionAccount,
    pub ingress: DirectionAccount,
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
    discarded_wire_bytes: u64,
    /// Messages a reset frees, kept between resets so that a reset allocates nothing.
    reset_scratch: Vec<usize>,
    /// See [`Network::set_eager_acks`].
    eager_acks: bool,
    /// The last retransmission-timer generation handed out. Network-wide, not per
    /// message: a message's slot is reused once it is delivered, and a timer left
    /// pending by a superseded retransmission must never match the slot's next message.
    last_generation: u32,
    /// Per NIC, the counted parts of its accounts (queued and in service are read from
    /// the messages' states).
    accounts: Vec<NicAccount>,
    faults: Vec<faults::FaultState>,
    rate_changes: Vec<faults::RateChange>,
    reset_after: Option<SimDuration>,
    /// Flows reset by the network and not yet taken by the model.
    aborted: Vec<FlowId>,
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
            discarded_wire_bytes: 0,
            reset_scratch: Vec::new(),
            eager_acks: false,
            last_generation: 0,
            accounts: Vec::new(),
            faults: Vec::new(),
            rate_changes: Vec::new(),
            reset_after: None,
            aborted: Vec::new(),
        }
    }

    pub fn add_nic(&mut self, cfg: NicConfig) -> NicId {
        self.nics.push(Nic {
            egress: Shaper::new(cfg.egress, cfg.framing),
            ingress: Shaper::new(cfg.ingress, cfg.framing),
        });
        self.accounts.push(NicAccount::default());
        NicId((self.nics.len() - 1) as u32)
    }

    /// The physical host grants NIC `id` at most `cap_bits_per_s` of burst rate, both
    /// ways, from `now` on (`None`: its own); see [`Shaper::set_host_burst_cap`].
    pub fn set_host_burst_cap(&mut self, now: SimTime, id: NicId, cap_bits_per_s: Option<u64>) {
        let nic = &mut self.nics[id.0 as usize];
        nic.egress.set_host_burst_cap(now, cap_bits_per_s);
        nic.ingress.set_host_burst_cap(now, cap_bits_per_s);
    }

    pub fn nic(&self, id: NicId) -> &Nic {
        &self.nics[id.0 as usize]
    }

    pub fn nics(&self) -> &[Nic] {
        &self.nics
    }

    /// Makes room for `additional` more flows, of which `per_nic[i]` (egress, ingress)
    /// cross NIC i, for a model that knows it will open them during the run: the flow
    /// tables then never regrow, which would copy them and have the kernel clear the
    /// fresh pages of every larger table. Changes no result.
    pub fn reserve_flows(&mut self, additional: usize, per_nic: &[(NicId, usize, usize)]) {
        self.flows.reserve(additional);
        self.cold.reserve(additional);
        for &(nic, egress, ingress) in per_nic {
            let n = &mut self.nics[nic.0 as usize];
            n.egress.reserve_flows(egress);
            n.ingress.reserve_flows(ingress);
        }
    }

    /// Opens a one-way flow from `src` to `dst` (a connection is two flows). Its random
    /// stream (drawn from only when the link has jitter or fault rules) is named by the
    /// flow's number: see [`Network::open_flow_labelled`] for one that is not.
    pub fn open_flow(&mut self, src: NicId, dst: NicId, link: LinkConfig) -> FlowId {
        let index = self.flows.len() as u64;
        self.open_flow_labelled(src, dst, link, "net.flow", index)
    }

    /// Opens a flow as [`Network::open_flow`] does, with its random stream named
    /// (`label`, `index`) instead of by the flow's number, so that its draws do not
    /// depend on how many flows were opened before it: a variant that opens more or
    /// fewer flows elsewhere leaves this one's losses and delays as they were. Two flows
    /// with the same label and index draw the same numbers; `open_flow` uses the label
    /// "net.flow" with the flow's number.
    pub fn open_flow_labelled(
        &mut self,
        src: NicId,
        dst: NicId,
        link: LinkConfig,
        label: &str,
        index: u64,
    ) -> FlowId {
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
            faulted: false,
            dst,
            ingress_local,
            next_deliver_seq: 0,
            acks: AckQueue::default(),
        });
        self.cold.push(FlowCold {
            rng: needs_rng.then(|| Box::new(self.streams.stream(label, index))),
            ssthresh_bytes: link.max_window_bytes,
            link,
            held: BTreeMap::new(),
            tail_losses: Vec::new(),
            send_buffer: VecDeque::new(),
            stats: FlowStats::default(),
            faults: Vec::new(),
        });
        if !self.faults.is_empty() {
            self.cover_new_flow(id.0 as usize);
        }
        id
    }

    /// Resets `flow` in place, for a connection torn down and opened again later (a
    /// replica reconnecting, a cluster-bus link after a crash): the [`FlowId`] stays
    /// valid with its NICs, link and shaper queues. Every message sent on it and not
    /// yet delivered is discarded wherever it is (sender's buffer, NIC queues, the
    /// wire, held for reordering, lost) and is never delivered; bytes already in
    /// service at a NIC still occupy it. The flow then behaves as a newly opened one
    /// with the same link: sequence numbers from zero, the window and slow-start
    /// threshold at their maximum, nothing in flight or buffered. Its statistics go on
    /// (see [`FlowStats::resets`]), and so does its random stream, so that an epoch
    /// does not replay the losses and delays of the one before.
    ///
    /// A reset schedules nothing (it takes the scheduler as every call that changes a
    /// flow does): what is pending for the flow is recognised as stale when it runs. An
    /// `Ack` event still pending needs no mark: it only takes in the acknowledgements
    /// that have arrived and sends what the window then allows, and it is due within
    /// one latency of the reset, before any acknowledgement of the new epoch can arrive
    /// (two latencies and a serialization after it), so it finds the flow as the
    /// reset left it, or as sends since have, and changes nothing. It costs a pass
    /// over the messages in the network unless the flow has none outstanding.
    pub fn reset_flow<E: From<NetEvent> + Copy>(
        &mut self,
        _sched: &mut Scheduler<E>,
        flow: FlowId,
    ) {
        let i = flow.0 as usize;
        let f = &self.flows[i];
        let outstanding = f.next_seq - f.next_deliver_seq;
        let in_egress = self.nics[f.src.0 as usize]
            .egress
            .discard_flow(f.egress_local);
        let in_ingress = self.nics[f.dst.0 as usize]
            .ingress
            .discard_flow(f.ingress_local);
        let (src, dst) = (f.src.0 as usize, f.dst.0 as usize);
        let mut free = std::mem::take(&mut self.reset_scratch);
        let mut found = 0;
        let (mut egress_queued, mut ingress_queued) = (0, 0);
        for (id, m) in self.msgs.iter_mut() {
            if found == outstanding {
                break;
            }
            if m.flow != flow {
                continue;
            }
            match m.state {
                // Left over from an earlier reset.
                MsgState::DiscardedOnWire
                | MsgState::DiscardedInService
                | MsgState::DiscardedLost => continue,
                MsgState::Transit => {
                    self.discarded_wire_bytes += m.wire_bytes;
                    m.state = MsgState::DiscardedOnWire;
                    m.link_dropped = true;
                }
                MsgState::IngressService => {
                    self.discarded_wire_bytes += m.wire_bytes;
                    self.accounts[dst].ingress.discarded += m.wire_bytes;
                    m.state = MsgState::DiscardedInService;
                    m.seq = DISCARDED_SEQ;
                }
                MsgState::Lost => m.state = MsgState::DiscardedLost,
                // Nothing is pending for these (the shapers no longer hold them).
                MsgState::EgressQueued => {
                    egress_queued += 1;
                    self.discarded_wire_bytes += m.wire_bytes;
                    self.accounts[src].egress.discarded += m.wire_bytes;
                    free.push(id);
                }
                MsgState::IngressQueued => {
                    ingress_queued += 1;
                    self.discarded_wire_bytes += m.wire_bytes;
                    self.accounts[dst].ingress.discarded += m.wire_bytes;
                    free.push(id);
                }
                MsgState::Held => {
                    self.discarded_wire_bytes += m.wire_bytes;
                    free.push(id);
                }
                MsgState::SendBuffered => free.push(id),
            }
            found += 1;
        }
        debug_assert_eq!(found, outstanding, "every message not delivered is found");
        debug_assert_eq!((egress_queued, ingress_queued), (in_egress, in_ingress));
        for id in free.drain(..) {
            self.msgs.remove(id);
        }
        self.reset_scratch = free;

        let cold = &mut self.cold[i];
        let f = &mut self.flows[i];
        cold.stats.messages_sent += f.next_seq;
        cold.stats.messages_delivered += f.next_deliver_seq;
        cold.stats.discarded_messages += outstanding;
        cold.stats.resets += 1;
        cold.held.clear();
        cold.tail_losses.clear();
        cold.send_buffer.clear();
        cold.ssthresh_bytes = cold.link.max_window_bytes;
        f.next_seq = 0;
        f.unacked_payload_bytes = 0;
        f.inflight_wire_bytes = 0;
        f.window_bytes = cold.link.max_window_bytes;
        f.window_at_max = true;
        f.last_arrival = SimTime::ZERO;
        f.holding = false;
        f.tail_loss_pending = false;
        f.ack_event_pending = false;
        f.buffering = false;
        f.next_deliver_seq = 0;
        f.acks.clear();
    }

    pub fn flow_stats(&self, flow: FlowId) -> FlowStats {
        let f = &self.flows[flow.0 as usize];
        let before = &self.cold[flow.0 as usize].stats;
        FlowStats {
            messages_sent: before.messages_sent + f.next_seq,
            messages_delivered: before.messages_delivered + f.next_deliver_seq,
            ..*before
        }
    }

    /// Retransmissions (fast and by timeout) of every flow `nic` sends on.
    pub fn retransmits_from(&self, nic: NicId) -> u64 {
        self.retransmits_by_nic()[nic.0 as usize]
    }

    /// Retransmissions of every NIC's outgoing flows, by NIC id, in one pass over the
    /// flows (a report asking NIC by NIC would pass over them once per NIC).
    pub fn retransmits_by_nic(&self) -> Vec<u64> {
        let mut by_nic = vec![0; self.nics.len()];
        for (f, c) in self.flows.iter().zip(&self.cold) {
            by_nic[f.src.0 as usize] += c.stats.fast_retransmits + c.stats.timeout_retransmits;
        }
        by_nic
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

    /// For an observer of a pending `NetEvent::Arrive { msg }`: the message's flow, and
    /// whether the link has lost it (a loss rule, a fault, or a reset discarding it).
    pub fn arrival_of(&self, msg: u32) -> Option<(FlowId, bool)> {
        self.msgs
            .get(msg as usize)
            .map(|m| (m.flow, m.link_dropped))
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
        // An outage cuts the path: no duplicate acknowledgement crosses it.
        let cut = self.flows[flow.0 as usize].faulted && self.under_outage(flow.0 as usize);
        let f = &mut self.flows[flow.0 as usize];
        let wire = self.nics[f.src.0 as usize]
            .egress
            .framing()
            .wire_bytes(payload_bytes);
        let seq = f.next_seq;
        f.next_seq += 1;
        f.unacked_payload_bytes += payload_bytes;
        // New data after a tail loss: its duplicate acknowledgements trigger a fast
        // retransmit of the lost messages about one RTT from now (unless an outage cuts
        // the path: no acknowledgement crosses it, and the timeouts alone recover).
        if f.tail_loss_pending && !cut {
            let rtt = f.latency + f.latency;
            let cold = &mut self.cold[flow.0 as usize];
            let msgs = &mut self.msgs;
            let last_generation = &mut self.last_generation;
            // A lost retransmission stays with its timeout: duplicate acks cannot tell
            // the sender it was lost again.
            cold.tail_losses.retain(|&m| {
                let msg = &mut msgs[m as usize];
                if msg.retransmitted {
                    return true;
                }
                *last_generation = last_generation.wrapping_add(1);
                msg.generation = *last_generation;
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
                    // A reset marks the messages it discards on the wire as dropped by
                    // the link, so that their arrival costs the common path nothing.
                    if m.state == MsgState::DiscardedOnWire {
                        self.free_discarded(msg);
                        return;
                    }
                    m.link_dropped = false;
                    self.lost(sched, msg);
                    return;
                }
                m.state = MsgState::IngressQueued;
                let (flow, payload, wire) = (m.flow, m.payload_bytes, m.wire_bytes);
                let f = &self.flows[flow.0 as usize];
                let (dst, local) = (f.dst, f.ingress_local);
                self.accounts[dst.0 as usize].ingress.offered += wire;
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
                    self.accounts[dst.0 as usize].ingress.dropped += wire;
                    self.lost(sched, msg);
                }
            }
            NetEvent::Received { msg } => self.received(sched, msg, delivered),
            NetEvent::Ack { flow } => {
                self.flows[flow.0 as usize].ack_event_pending = false;
                self.pump(sched, flow);
            }
            NetEvent::FaultStart { fault } => self.fault_start(sched, fault),
            NetEvent::FaultEnd { fault } => self.fault_end(fault),
            NetEvent::RateChange { change } => self.rate_change(now, change),
            NetEvent::Retransmit { msg, generation } => {
                let Some(m) = self.msgs.get_mut(msg as usize) else {
                    return;
                };
                if m.generation != generation || m.state != MsgState::Lost {
                    // Superseded by a fast retransmit, or its flow was reset: the
                    // timer a reset found pending frees the message.
                    if m.state == MsgState::DiscardedLost && m.generation == generation {
                        self.free_discarded(msg);
                    }
                    return;
                }
                if m.retransmit_by_timeout
                    && self
                        .reset_after
                        .is_some_and(|after| faults::backoff_elapsed(m.timeouts) >= after)
                {
                    self.abort(sched, msg);
                    return;
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

    /// Resets the flow of `msg`, a lost message whose timer has just fired and which has
    /// waited long enough (see [`Network::set_reset_after`]), and reports it.
    #[cold]
    #[inline(never)]
    fn abort<E: From<NetEvent> + Copy>(&mut self, sched: &mut Scheduler<E>, msg: u32) {
        let flow = self.msgs[msg as usize].flow;
        self.reset_flow(sched, flow);
        // The reset marked it to be freed by its pending timer, which is this one.
        self.free_discarded(msg);
        self.cold[flow.0 as usize].stats.aborts += 1;
        self.aborted.push(flow);
    }

    /// Frees a message a reset discarded, when the event it had pending runs. Out of
    /// line: the paths that check for one must not grow for a flow never reset.
    #[cold]
    #[inline(never)]
    fn free_discarded(&mut self, msg: u32) {
        self.msgs.remove(msg as usize);
    }

    fn offer_egress<E: From<NetEvent> + Copy>(&mut self, sched: &mut Scheduler<E>, msg: u32) {
        let now = sched.now();
        let m = &self.msgs[msg as usize];
        self.offered_wire_bytes += m.wire_bytes;
        let f = &self.flows[m.flow.0 as usize];
        let (src, local, payload) = (f.src, f.egress_local, m.payload_bytes);
        let wire = m.wire_bytes;
        self.accounts[src.0 as usize].egress.offered += wire;
        self.out.finished.clear();
        self.out.wake_at = None;
        let accepted =
            self.nics[src.0 as usize]
                .egress
                .offer(now, local, msg, payload, &mut self.out);
        self.after_egress(sched, src);
        if !accepted {
            self.accounts[src.0 as usize].egress.dropped += wire;
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
            self.accounts[nic.0 as usize].egress.passed += m.wire_bytes;
            let f = &mut self.flows[m.flow.0 as usize];
            let mut arrival = done_at + f.latency;
            if f.faulted {
                let (flow, wire) = (m.flow.0 as usize, m.wire_bytes);
                match self.fault_verdict(flow, wire) {
                    faults::Verdict::Deliver(extra) => arrival += extra,
                    faults::Verdict::Lost => self.msgs[msg as usize].link_dropped = true,
                    faults::Verdict::Cut => {
                        // Lost as it leaves: the sender's timer runs from its send, as
                        // TCP's does, and nothing of it reaches the other side.
                        self.lost(sched, msg);
                        continue;
                    }
                }
            }
            let m = &mut self.msgs[msg as usize];
            let f = &mut self.flows[m.flow.0 as usize];
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
        self.last_generation = self.last_generation.wrapping_add(1);
        m.generation = self.last_generation;
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
        let outage = f.faulted
            && cold
                .faults
                .iter()
                .any(|&id| self.faults[id as usize].is_outage());
        if f.next_seq > m.seq + 1 && !m.retransmitted && !outage {
            // Later data is already on its way: duplicate acks arrive about one RTT on
            // (unless an outage cuts the path, when only the timeout recovers).
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
            if m.state == MsgState::DiscardedInService {
                let flow = m.flow;
                self.free_discarded(msg);
                return flow;
            }
            self.accounts[f.dst.0 as usize].ingress.passed += m.wire_bytes;
            m.state = MsgState::Held;
            self.cold[m.flow.0 as usize].held.insert(m.seq, msg);
            f.holding = true;
            return m.flow;
        }
        let flow = m.flow.0 as usize;
        self.accounts[f.dst.0 as usize].ingress.passed += m.wire_bytes;
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

    /// Each NIC's byte account by direction, in NIC order: the counted moves, with what
    /// is queued and in service read from the messages' states.
    pub fn nic_accounts(&self) -> Vec<NicAccount> {
        let mut accounts = self.accounts.clone();
        for (_, m) in &self.msgs {
            let f = &self.flows[m.flow.0 as usize];
            match m.state {
                MsgState::EgressQueued => accounts[f.src.0 as usize].egress.queued += m.wire_bytes,
                MsgState::IngressQueued => {
                    accounts[f.dst.0 as usize].ingress.queued += m.wire_bytes
                }
                MsgState::IngressService => {
                    accounts[f.dst.0 as usize].ingress.in_service += m.wire_bytes
                }
                _ => {}
            }
        }
        accounts
    }

    /// The byte accounting, computed from the messages' states (a checker independent
    /// of the counters the shapers keep).
    pub fn conservation(&self) -> Conservation {
        let mut c = Conservation {
            offered: self.offered_wire_bytes,
            delivered: self.delivered_wire_bytes,
            dropped: self.dropped_wire_bytes,
            discarded: self.discarded_wire_bytes,
            ..Default::default()
        };
        for (_, m) in &self.msgs {
            match m.state {
                MsgState::EgressQueued | MsgState::IngressQueued => c.queued += m.wire_bytes,
                MsgState::Transit | MsgState::IngressService | MsgState::Held => {
                    c.in_flight += m.wire_bytes
                }
                MsgState::Lost
                | MsgState::SendBuffered
                | MsgState::DiscardedOnWire
                | MsgState::DiscardedInService
                | MsgState::DiscardedLost => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Ratio;
    use crate::scheduler::{Model, RunLimit};
    use std::collections::BTreeSet;

    #[derive(Clone, Copy, Debug)]
    enum Ev {
        Net(NetEvent),
        Send {
            flow: FlowId,
            token: u64,
            payload_bytes: u64,
        },
        Reset,
    }

    impl From<NetEvent> for Ev {
        fn from(e: NetEvent) -> Ev {
            Ev::Net(e)
        }
    }

    struct World {
        net: Network,
        /// The flow that is reset.
        flow: FlowId,
        delivered: Vec<(SimTime, FlowId, u64)>,
        buf: Vec<Delivery>,
        /// The reset flow's last token sent, as of its reset.
        last_token_before_reset: Option<u64>,
        last_token_sent: Option<u64>,
        states_at_reset: BTreeSet<String>,
        /// Deliveries before the reset.
        delivered_before_reset: usize,
    }

    impl Model for World {
        type Event = Ev;
        fn handle(&mut self, sched: &mut Scheduler<Ev>, ev: Ev) {
            match ev {
                Ev::Net(e) => {
                    self.buf.clear();
                    self.net.handle(sched, e, &mut self.buf);
                    let now = sched.now();
                    self.delivered
                        .extend(self.buf.iter().map(|d| (now, d.flow, d.token)));
                }
                Ev::Send {
                    flow,
                    token,
                    payload_bytes,
                } => {
                    if flow == self.flow {
                        self.last_token_sent = Some(token);
                    }
                    self.net.send(sched, flow, payload_bytes, token);
                }
                Ev::Reset => {
                    for (_, m) in &self.net.msgs {
                        if m.flow == self.flow {
                            self.states_at_reset.insert(format!("{:?}", m.state));
                        }
                    }
                    self.last_token_before_reset = self.last_token_sent;
                    self.delivered_before_reset = self.delivered.len();
                    self.net.reset_flow(sched, self.flow);
                    assert!(self.net.conservation().holds());
                }
            }
        }
    }

    /// What a flow's transport knows, for comparing a reset flow with a new one.
    fn transport_state(net: &Network, flow: FlowId) -> String {
        let f = &net.flows[flow.0 as usize];
        let c = &net.cold[flow.0 as usize];
        format!(
            "{:?}",
            (
                (f.next_seq, f.unacked_payload_bytes, f.inflight_wire_bytes),
                (f.window_bytes, f.window_at_max, c.ssthresh_bytes),
                (f.last_arrival, f.holding, f.tail_loss_pending),
                (f.ack_event_pending, f.buffering, f.next_deliver_seq),
                (f.acks.front(), c.held.len(), c.tail_losses.len()),
                c.send_buffer.len(),
            )
        )
    }

    /// Resets a busy, lossy flow at each of many instants, which between them find its
    /// messages in every state: none sent before the reset is delivered after it, every
    /// one sent after it is delivered in order, the reset flow's transport is that of a
    /// newly opened flow, and once the network drains no message is left behind.
    #[test]
    fn a_reset_discards_messages_in_every_state() {
        let mut seen = BTreeSet::new();
        for k in 1..120u64 {
            let reset_at = SimTime::from_ns(k * 83_000);
            let shaping = |bits_per_s: u64, queue_bytes: u64| ShaperConfig {
                baseline_bits_per_s: bits_per_s,
                burst_bits_per_s: bits_per_s,
                credit_capacity_bits: 0,
                initial_credit_bits: 0,
                queue_capacity_bytes: queue_bytes,
                pps_limit: None,
                flow_cap_bits_per_s: None,
                chunk_bytes: 16_384,
                line_rate_bits_per_s: bits_per_s,
            };
            let framing = Framing {
                mtu_bytes: 1500,
                ip_tcp_header_bytes: 40,
                link_header_bytes: 18,
            };
            let mut net = Network::new(RngStreams::new(k));
            let a = net.add_nic(NicConfig {
                egress: shaping(400_000_000, 60_000),
                ingress: ShaperConfig::unlimited(),
                framing,
            });
            let b = net.add_nic(NicConfig {
                egress: ShaperConfig::unlimited(),
                ingress: shaping(150_000_000, 1_000_000),
                framing,
            });
            let lossy = LinkConfig {
                latency: SimDuration::from_us(100),
                jitter: SimDuration::from_us(20),
                rules: vec![LinkRule::Loss {
                    probability: Ratio::new(1, 10),
                }],
                max_window_bytes: 100_000,
            };
            let flow = net.open_flow(a, b, lossy.clone());
            let background = net.open_flow(a, b, LinkConfig::default());
            let mut sched = Scheduler::new();
            let sizes = [300, 5_000, 40_000, 1_200, 9_000];
            for i in 0..200u64 {
                sched.schedule_at(
                    SimTime::from_us(i * 50),
                    Ev::Send {
                        flow,
                        token: i,
                        payload_bytes: sizes[i as usize % sizes.len()],
                    },
                );
                if i % 4 == 0 {
                    sched.schedule_at(
                        SimTime::from_us(i * 50 + 7),
                        Ev::Send {
                            flow: background,
                            token: i,
                            payload_bytes: 20_000,
                        },
                    );
                }
            }
            sched.schedule_at(reset_at, Ev::Reset);
            let mut w = World {
                net,
                flow,
                delivered: Vec::new(),
                buf: Vec::new(),
                last_token_before_reset: None,
                last_token_sent: None,
                states_at_reset: BTreeSet::new(),
                delivered_before_reset: 0,
            };
            sched.run(&mut w, RunLimit::Until(reset_at));
            // The reset has run (what follows it at its instant concerns discarded
            // messages only): its flow's transport is a new flow's, opened alike.
            let fresh = w.net.open_flow(a, b, lossy.clone());
            assert_eq!(
                transport_state(&w.net, flow),
                transport_state(&w.net, fresh)
            );
            sched.run(&mut w, RunLimit::Empty);

            let first_after = w.last_token_before_reset.map_or(0, |t| t + 1);
            let after: Vec<u64> = w.delivered[w.delivered_before_reset..]
                .iter()
                .filter(|(_, f, _)| *f == flow)
                .map(|(_, _, t)| *t)
                .collect();
            assert_eq!(
                after,
                (first_after..200).collect::<Vec<_>>(),
                "reset at {reset_at}: only what was sent after it, all of it, in order"
            );
            let stats = w.net.flow_stats(flow);
            assert_eq!(stats.resets, 1);
            assert_eq!(stats.messages_sent, 200);
            assert_eq!(
                stats.messages_delivered + stats.discarded_messages,
                200,
                "{stats:?}"
            );
            let c = w.net.conservation();
            assert!(c.holds() && c.queued == 0 && c.in_flight == 0, "{c:?}");
            assert!(w.net.msgs.is_empty(), "every discarded message was freed");
            seen.extend(w.states_at_reset);
        }
        let every_state = [
            "SendBuffered",
            "EgressQueued",
            "Transit",
            "IngressQueued",
            "IngressService",
            "Held",
            "Lost",
        ];
        for state in every_state {
            assert!(
                seen.contains(state),
                "no reset found a message {state}: {seen:?}"
            );
        }
    }
}
