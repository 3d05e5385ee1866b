//! One direction of a NIC (egress or ingress): a token bucket with burst credits that
//! sets the allowed rate, a drop-tail queue in bytes, a packets-per-second allowance, a
//! per-flow rate cap, and round-robin service of flows by chunks. Invariants: credits
//! stay within [0, capacity]; bits served over any interval never exceed
//! baseline x time + credits spent (plus the ns rounding of each chunk, which only ever
//! rounds durations up); a message's bytes are queued, in service, out or discarded (its
//! flow's connection was closed), never two at once; each flow's messages leave in the
//! order they were offered.
//!
//! Why finish times never need correcting: the shaper serves one chunk at a time and
//! computes a chunk's duration when it starts, from state that is fully known then:
//! credits can only deplete at a computable instant inside the chunk (handled by splitting
//! the chunk into a burst part and a baseline part), and a flow joining or leaving only
//! affects which chunk is served next. So a message's finish time, reported when its last
//! chunk starts, is exact. Large messages are cut into chunks, so a multi-gigabyte
//! transfer shares the rate with client replies chunk by chunk instead of freezing them.
//!
//! The wire and the allowance. The allowance is what shapes the traffic: the token
//! bucket (baseline, burst, credits), the packet allowance and the drop-tail queue. The
//! wire is the NIC's line rate (`line_rate_bits_per_s`, at least the burst rate); it is
//! never slower than the allowance, so it sets no finish time and only decides what
//! `bw_allowance_exceeded` and `pps_allowance_exceeded` count. The shaper follows a
//! virtual wire that sends the chunks the shaper starts, in the same order, at line rate,
//! each as soon as the wire is free, its message has been offered and its flow's cap
//! allows (the per-flow cap is a limit of its own, not the instance's allowance). A chunk
//! that starts later under the allowance than on that wire was held back by the
//! allowance, and its packets count: as `pps_allowance_exceeded` when the chunk before it
//! was stretched by the packet allowance, else as `bw_allowance_exceeded`. A packet that
//! waits behind others no longer than it would at line rate counts nothing. A message the
//! full queue drops counts (all its packets, attributed the same way) when the wire, fed
//! the same accepted messages through a queue of the same size, could have made room for
//! it: when the bytes it could have sent since finishing the chunks started so far cover
//! the overflow; otherwise the wire itself is the bottleneck and the drop counts nothing.
//! The wire's durations round up to whole ns as the allowance's do, so while the
//! allowance serves at the line rate (a burst at full credits, where the wire is the
//! burst rate) nothing counts.
//!
//! Units: credits and in-service amounts are kept in nanobits (bits x 10^9), so that a
//! rate in bits/s times a duration in ns is an exact integer.

use crate::stats::{BusySeries, CounterSeries};
use crate::time::{div_ceil_u128, SimDuration, SimTime, NS_PER_S};
use std::collections::VecDeque;

/// Nanobits (bits x 10^9) in one byte: a byte count times this, divided by a rate in
/// bits/s, is a duration in ns.
const NANOBITS_PER_BYTE: u64 = 8 * NS_PER_S;

/// How messages become packets on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Framing {
    /// The IP MTU (1500 on the internet, 9001 inside an AWS VPC).
    pub mtu_bytes: u32,
    /// IP + TCP headers per packet, counted inside the MTU (40, or 52 with TCP
    /// timestamps as Linux sends by default).
    pub ip_tcp_header_bytes: u32,
    /// Link-layer bytes per packet outside the MTU (Ethernet header: 14; with FCS 18).
    pub link_header_bytes: u32,
}

impl Framing {
    /// The TCP payload of a full packet.
    #[inline]
    pub fn mss_bytes(&self) -> u64 {
        (self.mtu_bytes - self.ip_tcp_header_bytes) as u64
    }

    /// Packets needed for `payload_bytes` (at least one: an empty message is still sent).
    #[inline]
    pub fn packets(&self, payload_bytes: u64) -> u64 {
        let mss = self.mss_bytes();
        // Most messages fit one packet: a compare instead of a division.
        if payload_bytes <= mss {
            1
        } else {
            payload_bytes.div_ceil(mss)
        }
    }

    /// Header bytes per packet on the wire.
    #[inline]
    pub fn header_bytes(&self) -> u64 {
        (self.ip_tcp_header_bytes + self.link_header_bytes) as u64
    }

    /// Bytes on the wire for `payload_bytes`, headers included.
    #[inline]
    pub fn wire_bytes(&self, payload_bytes: u64) -> u64 {
        payload_bytes + self.packets(payload_bytes) * self.header_bytes()
    }
}

/// The shaping of one NIC direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShaperConfig {
    /// The rate sustained forever; credits refill at this rate.
    pub baseline_bits_per_s: u64,
    /// The rate while credits last (equal to the baseline when the NIC cannot burst).
    pub burst_bits_per_s: u64,
    /// The credit bucket's size, in bits.
    pub credit_capacity_bits: u64,
    /// Credits at the start of the run, in bits (AWS: full at launch).
    pub initial_credit_bits: u64,
    /// The queue's size in wire bytes, excluding the chunk in service; a message that
    /// would overflow it is dropped (drop-tail).
    pub queue_capacity_bytes: u64,
    /// The packets-per-second allowance, if any.
    pub pps_limit: Option<u64>,
    /// The cap on any single flow (AWS: 5 Gbps per flow outside a placement group).
    pub flow_cap_bits_per_s: Option<u64>,
    /// Wire bytes served per turn of a flow (rounded to whole packets, at least one).
    pub chunk_bytes: u64,
    /// The wire's own rate (at least the burst rate): what the allowance counters compare
    /// the allowance with. It never sets a finish time.
    pub line_rate_bits_per_s: u64,
}

impl ShaperConfig {
    /// A shaper that never limits anything in practice: 1 Tbit/s, no credits needed.
    pub fn unlimited() -> ShaperConfig {
        ShaperConfig {
            baseline_bits_per_s: 1_000_000_000_000,
            burst_bits_per_s: 1_000_000_000_000,
            credit_capacity_bits: 0,
            initial_credit_bits: 0,
            queue_capacity_bytes: u64::MAX,
            pps_limit: None,
            flow_cap_bits_per_s: None,
            chunk_bytes: 65_536,
            line_rate_bits_per_s: 1_000_000_000_000,
        }
    }

    /// What is wrong with this configuration, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.baseline_bits_per_s == 0 {
            return Err("baseline_bits_per_s must be > 0".into());
        }
        if self.burst_bits_per_s < self.baseline_bits_per_s {
            return Err(format!(
                "burst_bits_per_s ({}) must be >= baseline_bits_per_s ({})",
                self.burst_bits_per_s, self.baseline_bits_per_s
            ));
        }
        if self.line_rate_bits_per_s < self.burst_bits_per_s {
            return Err(format!(
                "line_rate_bits_per_s ({}) must be >= burst_bits_per_s ({})",
                self.line_rate_bits_per_s, self.burst_bits_per_s
            ));
        }
        if self.initial_credit_bits > self.credit_capacity_bits {
            return Err("initial_credit_bits must be <= credit_capacity_bits".into());
        }
        if self.pps_limit == Some(0) || self.flow_cap_bits_per_s == Some(0) {
            return Err("pps_limit and flow_cap_bits_per_s must be > 0 when set".into());
        }
        if self.chunk_bytes == 0 {
            return Err("chunk_bytes must be > 0".into());
        }
        Ok(())
    }
}

/// A flow's index within one shaper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalFlow(pub u32);

/// A message waiting in (or being served by) a flow's queue.
#[derive(Clone, Copy, Debug)]
struct Queued {
    token: u32,
    /// When the message was offered: the earliest its chunks could start on the wire.
    offered_at: SimTime,
    payload_left: u64,
    packets_left: u64,
    /// Wire bytes not yet started (what the queue-capacity check counts).
    wire_left: u64,
}

#[derive(Clone, Debug, Default)]
struct FlowQueue {
    msgs: VecDeque<Queued>,
    /// Earliest start of this flow's next chunk under the per-flow cap, unless this is
    /// the shaper's `latest_flow` (see [`Shaper::eligible_at`]).
    eligible_at: SimTime,
    in_ring: bool,
    dequeued_wire_bytes: u64,
    /// Deficit round robin: bytes this flow may still send in its current turn.
    deficit_bytes: u64,
    turn_started: bool,
}

/// One chunk's size, and whether it ends its message.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    wire: u64,
    packets: u64,
    payload: u64,
    last: bool,
}

/// What a shaper did in response to an offer or a wake-up: messages whose last chunk
/// started (with their exact finish times), and when it needs waking next.
#[derive(Clone, Debug, Default)]
pub struct ShaperOutput {
    /// (token, finish time of the message's last bit).
    pub finished: Vec<(u32, SimTime)>,
    /// Set when the caller must call [`Shaper::wake`] at this time: never for a time at
    /// or after a wake still pending, so only when nothing is pending or the shaper needs
    /// waking earlier than the pending wake. A wake that comes after an earlier one has
    /// made it needless does nothing the shaper would not do anyway.
    pub wake_at: Option<SimTime>,
}

/// Counters named after the ENA driver's where one exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShaperCounters {
    /// Wire bytes of every message offered (accepted or dropped): at every instant,
    /// offered = served (`wire_bytes`, counted when a chunk starts) + queued + dropped.
    pub offered_wire_bytes: u64,
    pub messages: u64,
    pub payload_bytes: u64,
    pub wire_bytes: u64,
    pub packets: u64,
    pub dropped_messages: u64,
    pub dropped_wire_bytes: u64,
    /// Messages taken back by [`Shaper::discard_flow`] (neither served nor dropped),
    /// and their wire bytes not yet started.
    pub discarded_messages: u64,
    pub discarded_wire_bytes: u64,
    /// Packets the bandwidth allowance held back, or dropped, where the wire could have
    /// sent them (ENA: `bw_out_allowance_exceeded` / `bw_in_allowance_exceeded`; the
    /// module doc gives the rule).
    pub bw_allowance_exceeded: u64,
    /// The same for packets held back behind a chunk the packets-per-second allowance
    /// stretched (ENA: `pps_allowance_exceeded`).
    pub pps_allowance_exceeded: u64,
}

/// One NIC direction.
#[derive(Clone, Debug)]
pub struct Shaper {
    /// The shaping in force: `configured` with the caps applied.
    cfg: ShaperConfig,
    /// The shaping the NIC was built with.
    configured: ShaperConfig,
    /// A fault's cap on the allowed rate (baseline and burst), if any.
    rate_cap: Option<u64>,
    /// The burst rate the physical host grants when it is shared and full, if it holds
    /// this NIC below its own burst rate.
    host_burst_cap: Option<u64>,
    /// The burst rate this NIC would have without the host's cap (the configured burst
    /// under the fault's cap), while the host's cap holds it lower; 0 otherwise.
    own_burst_bits_per_s: u64,
    framing: Framing,
    chunk_packets: u64,
    /// Bytes a flow may send per turn: at least one chunk (so any chunk fits in one turn).
    quantum_bytes: u64,
    credits_nanobits: u128,
    capacity_nanobits: u128,
    /// (burst - baseline) x 8 x 10^9 = burst x spend_quot + spend_rem: the credits a
    /// chunk of w wire bytes spends at burst are exactly w x spend_quot +
    /// ceil(w x spend_rem / burst) nanobits, which [`Self::burst_spend`] computes in u64.
    spend_quot: u64,
    spend_rem: u64,
    /// Credits are exact as of this instant (the end of the last chunk, or a refill).
    clock: SimTime,
    /// The end of the chunk in service (<= now when idle).
    busy_until: SimTime,
    flows: Vec<FlowQueue>,
    /// Flows with queued data, in round-robin order.
    ring: VecDeque<LocalFlow>,
    queued_wire_bytes: u64,
    /// The latest `eligible_at` of any flow: at or after it every flow is eligible, so
    /// the fast path need not read the flow's own entry (a cache miss per message with
    /// tens of thousands of flows).
    all_eligible_at: SimTime,
    /// The flow of the latest chunk and its `eligible_at`, kept here rather than in the
    /// flow's entry: a chunk start writes no flow entry (a cache miss per message with
    /// tens of thousands of flows) unless the previous chunk's flow is still held back
    /// at that time. A flow's entry is stale only when its true time has passed, and a
    /// past time decides nothing, so reads see the same answers.
    latest_flow: LocalFlow,
    latest_eligible_at: SimTime,
    /// The earliest wake asked for and not yet called (`SimTime::MAX` when none).
    wake_pending_at: SimTime,
    /// When credits first reached zero, if they have.
    depleted_at: Option<SimTime>,
    /// The virtual wire (see the module doc): when it would finish sending the chunks
    /// started so far.
    wire_free_at: SimTime,
    /// ceil(8 x 10^9 x 2^32 / line rate): a chunk's time on the wire in ns is its wire
    /// bytes times this, shifted down 32 bits (and corrected by one product), instead of
    /// a division per chunk.
    wire_ns_per_byte_q32: u128,
    /// Whether the latest chunk's duration was set by the packet allowance: a chunk held
    /// back behind it exceeded that allowance, not the bandwidth's.
    latest_pps_bound: bool,
    pub counters: ShaperCounters,
    pub busy: BusySeries,
    pub wire_bytes_per_s: CounterSeries,
    pub packets_per_s: CounterSeries,
    pub drops_per_s: CounterSeries,
    pub bw_allowance_exceeded_per_s: CounterSeries,
    /// Wire bytes served at the baseline rate because the credits were spent (only for
    /// a NIC that can burst): which seconds ran in which regime.
    pub throttled_wire_bytes_per_s: CounterSeries,
    /// Burst the physical host denied: bits this NIC could have sent at its own burst
    /// rate, with credits left, in the time it served at the rate the host granted.
    pub burst_denied_bits_per_s: CounterSeries,
}

impl Shaper {
    pub fn new(cfg: ShaperConfig, framing: Framing) -> Shaper {
        if let Err(e) = cfg.validate() {
            panic!("invalid shaper configuration (validate configurations before building): {e}");
        }
        let packet_wire = framing.mss_bytes() + framing.header_bytes();
        let chunk_packets = (cfg.chunk_bytes / packet_wire).max(1);
        let extra_nanobits_per_byte =
            (cfg.burst_bits_per_s - cfg.baseline_bits_per_s) as u128 * NANOBITS_PER_BYTE as u128;
        let burst = cfg.burst_bits_per_s as u128;
        Shaper {
            // The quotient is below 8 x 10^9 (extra < burst) and the remainder below burst.
            spend_quot: (extra_nanobits_per_byte / burst) as u64,
            spend_rem: (extra_nanobits_per_byte % burst) as u64,
            chunk_packets,
            quantum_bytes: cfg.chunk_bytes.max(chunk_packets * packet_wire),
            credits_nanobits: cfg.initial_credit_bits as u128 * NS_PER_S as u128,
            capacity_nanobits: cfg.credit_capacity_bits as u128 * NS_PER_S as u128,
            cfg,
            configured: cfg,
            rate_cap: None,
            host_burst_cap: None,
            own_burst_bits_per_s: 0,
            framing,
            clock: SimTime::ZERO,
            busy_until: SimTime::ZERO,
            flows: Vec::new(),
            ring: VecDeque::new(),
            queued_wire_bytes: 0,
            all_eligible_at: SimTime::ZERO,
            latest_flow: LocalFlow(u32::MAX),
            latest_eligible_at: SimTime::ZERO,
            wake_pending_at: SimTime::MAX,
            wire_free_at: SimTime::ZERO,
            wire_ns_per_byte_q32: ((NANOBITS_PER_BYTE as u128) << 32)
                .div_ceil(cfg.line_rate_bits_per_s as u128),
            latest_pps_bound: false,
            depleted_at: if cfg.initial_credit_bits == 0
                && cfg.burst_bits_per_s > cfg.baseline_bits_per_s
            {
                Some(SimTime::ZERO)
            } else {
                None
            },
            counters: ShaperCounters::default(),
            busy: BusySeries::default(),
            wire_bytes_per_s: CounterSeries::default(),
            packets_per_s: CounterSeries::default(),
            drops_per_s: CounterSeries::default(),
            bw_allowance_exceeded_per_s: CounterSeries::default(),
            throttled_wire_bytes_per_s: CounterSeries::default(),
            burst_denied_bits_per_s: CounterSeries::default(),
        }
    }

    /// The shaping the NIC was built with (a rate cap in force is not shown here).
    pub fn config(&self) -> &ShaperConfig {
        &self.configured
    }

    /// Caps the allowed rate at `cap_bits_per_s` from `now` on (`None` lifts the cap):
    /// baseline and burst each become at most the cap (at least 1 bit/s). Credits
    /// earned until `now` (or until the end of the chunk in service, which finishes as
    /// it was started) are kept; from then on they are earned at the new baseline.
    pub fn set_rate_cap(&mut self, now: SimTime, cap_bits_per_s: Option<u64>) {
        self.rate_cap = cap_bits_per_s;
        self.apply_caps(now);
    }

    /// The physical host grants at most `cap_bits_per_s` of burst rate from `now` on
    /// (`None`: the NIC's own burst rate); never below the baseline, which the host
    /// guarantees. Credits are spent only on what is sent above the baseline, so a
    /// tenant held back spends them more slowly; the time it serves at the granted rate
    /// with credits left counts its denied burst.
    pub fn set_host_burst_cap(&mut self, now: SimTime, cap_bits_per_s: Option<u64>) {
        self.host_burst_cap = cap_bits_per_s;
        self.apply_caps(now);
    }

    /// The burst rate in force, as the host granted it (the NIC's own when not held).
    pub fn burst_bits_per_s(&self) -> u64 {
        self.cfg.burst_bits_per_s
    }

    fn apply_caps(&mut self, now: SimTime) {
        self.refill(now);
        let c = self.configured;
        let (baseline, own_burst) = match self.rate_cap {
            Some(cap) => (
                c.baseline_bits_per_s.min(cap).max(1),
                c.burst_bits_per_s.min(cap).max(1),
            ),
            None => (c.baseline_bits_per_s, c.burst_bits_per_s),
        };
        let burst = match self.host_burst_cap {
            Some(cap) => own_burst.min(cap).max(baseline),
            None => own_burst,
        };
        self.own_burst_bits_per_s = if burst < own_burst { own_burst } else { 0 };
        self.cfg.baseline_bits_per_s = baseline;
        self.cfg.burst_bits_per_s = burst;
        let extra_nanobits_per_byte = (burst - baseline) as u128 * NANOBITS_PER_BYTE as u128;
        self.spend_quot = (extra_nanobits_per_byte / burst as u128) as u64;
        self.spend_rem = (extra_nanobits_per_byte % burst as u128) as u64;
    }

    /// Records the burst the host denied over `burst_ns` served at the granted burst
    /// rate `granted` (the baseline when it grants none) with credits left.
    #[cold]
    fn count_denied(&mut self, now: SimTime, granted: u64, burst_ns: u64) {
        let denied = (self.own_burst_bits_per_s - granted) as u128 * burst_ns as u128;
        self.burst_denied_bits_per_s
            .add(now, (denied / NS_PER_S as u128) as u64);
    }

    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// Makes room for `additional` more flows (see [`crate::net::Network::reserve_flows`]).
    pub fn reserve_flows(&mut self, additional: usize) {
        self.flows.reserve(additional);
    }

    pub fn add_flow(&mut self) -> LocalFlow {
        self.flows.push(FlowQueue::default());
        LocalFlow((self.flows.len() - 1) as u32)
    }

    /// Wire bytes of `flow` served after waiting in the queue (a message offered to an
    /// idle shaper with nothing queued is served at once and not counted: such a flow is
    /// not backlogged, which is what fairness is about).
    pub fn flow_dequeued_wire_bytes(&self, flow: LocalFlow) -> u64 {
        self.flows[flow.0 as usize].dequeued_wire_bytes
    }

    /// Whether `flow` has bytes waiting.
    pub fn flow_backlogged(&self, flow: LocalFlow) -> bool {
        !self.flows[flow.0 as usize].msgs.is_empty()
    }

    /// Wire bytes waiting (not yet started).
    pub fn queued_wire_bytes(&self) -> u64 {
        self.queued_wire_bytes
    }

    /// Credits in bits at `now` (not before the end of the chunk in service).
    pub fn credits_bits(&self, now: SimTime) -> u64 {
        let mut c = self.credits_nanobits;
        if now > self.clock {
            c = (c + self.cfg.baseline_bits_per_s as u128 * (now - self.clock).as_ns() as u128)
                .min(self.capacity_nanobits);
        }
        (c / NS_PER_S as u128) as u64
    }

    /// When the credits first ran out, if they have.
    pub fn depleted_at(&self) -> Option<SimTime> {
        self.depleted_at
    }

    /// The rate allowed right now: burst while credits last, else baseline.
    pub fn allowed_bits_per_s(&self, now: SimTime) -> u64 {
        if self.cfg.burst_bits_per_s > self.cfg.baseline_bits_per_s && self.credits_bits(now) > 0 {
            self.cfg.burst_bits_per_s
        } else {
            self.cfg.baseline_bits_per_s
        }
    }

    /// Whether a chunk is in service at `now`.
    pub fn is_busy(&self, now: SimTime) -> bool {
        self.busy_until > now
    }

    /// Takes back every message of `flow` with bytes not yet started, and returns how
    /// many: its connection was closed, so they never leave. A chunk already in service
    /// stays on the wire (a NIC cannot recall a frame it is sending); the rest of its
    /// message is discarded with the others. What the flow has sent still holds it back
    /// under the per-flow cap, as it would any flow.
    pub fn discard_flow(&mut self, flow: LocalFlow) -> usize {
        let fq = &mut self.flows[flow.0 as usize];
        let discarded = fq.msgs.len();
        for q in fq.msgs.drain(..) {
            self.queued_wire_bytes -= q.wire_left;
            self.counters.discarded_wire_bytes += q.wire_left;
        }
        self.counters.discarded_messages += discarded as u64;
        if fq.in_ring {
            // Only the ring's front can be in the middle of its turn; whoever follows
            // starts a turn of its own, as after any flow that runs out of data.
            fq.in_ring = false;
            fq.deficit_bytes = 0;
            fq.turn_started = false;
            self.ring.retain(|&f| f != flow);
        }
        discarded
    }

    /// Offers a message of `payload_bytes` on `flow`. Returns false when the queue
    /// cannot hold it (drop-tail); the message is then gone from this shaper.
    pub fn offer(
        &mut self,
        now: SimTime,
        flow: LocalFlow,
        token: u32,
        payload_bytes: u64,
        out: &mut ShaperOutput,
    ) -> bool {
        let packets = self.framing.packets(payload_bytes);
        let wire = payload_bytes + packets * self.framing.header_bytes();
        self.counters.offered_wire_bytes += wire;
        let must_wait = self.busy_until > now || !self.ring.is_empty();
        let queued_after = self.queued_wire_bytes.saturating_add(wire);
        if must_wait && queued_after > self.cfg.queue_capacity_bytes {
            self.counters.dropped_messages += 1;
            self.counters.dropped_wire_bytes += wire;
            self.drops_per_s.add(now, 1);
            // The wire, with a queue of the same size, would have taken the message if what
            // it could have sent since finishing the chunks started so far covers the
            // overflow.
            let overflow_bytes = queued_after - self.cfg.queue_capacity_bytes;
            if now > self.wire_free_at
                && (now - self.wire_free_at).as_ns() as u128 * self.cfg.line_rate_bits_per_s as u128
                    >= overflow_bytes as u128 * NANOBITS_PER_BYTE as u128
            {
                self.count_exceeded(now, packets);
            }
            return false;
        }
        if !must_wait
            && packets <= self.chunk_packets
            && (now >= self.all_eligible_at || self.eligible_at(flow) <= now)
        {
            // Idle shaper, nothing queued, one chunk: serve it at once. This is exactly
            // what queueing then picking would do (the flow's turn starts and ends with
            // this chunk), without touching the queues.
            let chunk = Chunk {
                wire,
                packets,
                payload: payload_bytes,
                last: true,
            };
            self.start_chunk(now, flow, token, chunk, now, out);
            return true;
        }
        self.queued_wire_bytes += wire;
        let f = &mut self.flows[flow.0 as usize];
        f.msgs.push_back(Queued {
            token,
            offered_at: now,
            payload_left: payload_bytes,
            packets_left: packets,
            wire_left: wire,
        });
        if !f.in_ring {
            f.in_ring = true;
            self.ring.push_back(flow);
        }
        self.try_start(now, out);
        true
    }

    /// Earliest start of `flow`'s next chunk under the per-flow cap (exact when in the
    /// future; possibly an earlier past time otherwise).
    #[inline]
    fn eligible_at(&self, flow: LocalFlow) -> SimTime {
        if flow == self.latest_flow {
            self.latest_eligible_at
        } else {
            self.flows[flow.0 as usize].eligible_at
        }
    }

    /// Called at a time the shaper asked for in `wake_at`.
    pub fn wake(&mut self, now: SimTime, out: &mut ShaperOutput) {
        if now >= self.wake_pending_at {
            self.wake_pending_at = SimTime::MAX;
        }
        self.try_start(now, out);
    }

    /// Asks to be woken at `at`, unless a wake at or before it is pending: that wake
    /// starts what it can and asks again for what it cannot. A wake pending at a later
    /// time does not make an earlier one needless: with every queued flow held back by
    /// its cap until then, a flow that offers in between and sends one chunk needs its
    /// next chunk started when that chunk ends.
    fn request_wake(&mut self, at: SimTime, out: &mut ShaperOutput) {
        if at < self.wake_pending_at {
            self.wake_pending_at = at;
            out.wake_at = Some(at);
        }
    }

    /// Starts the next chunk if the shaper is idle and some flow is eligible.
    fn try_start(&mut self, now: SimTime, out: &mut ShaperOutput) {
        if self.busy_until > now {
            if !self.ring.is_empty() {
                let at = self.busy_until;
                self.request_wake(at, out);
            }
            return;
        }
        // Deficit round robin over flows with data (quantum: one chunk), skipping flows
        // held back by their cap. A flow keeps its turn while its deficit covers its next
        // chunk, so flows of small messages get the same bytes per turn as bulk flows.
        let mss = self.framing.mss_bytes();
        let header = self.framing.header_bytes();
        let mut earliest_eligible = SimTime::MAX;
        let mut picked = None;
        // Every flow gains a quantum >= any chunk when its turn starts, so two passes
        // always find a flow to serve unless every flow is held back by its cap.
        for _ in 0..2 * self.ring.len() {
            let flow = *self.ring.front().expect("loop bounded by ring length");
            let eligible_at = self.eligible_at(flow);
            let fq = &mut self.flows[flow.0 as usize];
            if eligible_at > now {
                earliest_eligible = earliest_eligible.min(eligible_at);
                self.ring.rotate_left(1);
                continue;
            }
            if !fq.turn_started {
                fq.turn_started = true;
                fq.deficit_bytes += self.quantum_bytes;
            }
            let head = fq.msgs.front().expect("flows in the ring have data");
            let packets = head.packets_left.min(self.chunk_packets);
            let payload = if packets == head.packets_left {
                head.payload_left
            } else {
                packets * mss
            };
            if payload + packets * header <= fq.deficit_bytes {
                picked = Some((flow, packets, payload));
                break;
            }
            fq.turn_started = false;
            self.ring.rotate_left(1);
        }
        let Some((flow, packets, payload)) = picked else {
            if earliest_eligible != SimTime::MAX {
                self.request_wake(earliest_eligible, out);
            }
            return;
        };
        let fq = &mut self.flows[flow.0 as usize];
        let head = fq.msgs.front_mut().expect("picked flows have data");
        let wire = payload + packets * header;
        head.packets_left -= packets;
        head.payload_left -= payload;
        head.wire_left -= wire;
        let last_chunk = head.packets_left == 0;
        let token = head.token;
        let offered_at = head.offered_at;
        if last_chunk {
            fq.msgs.pop_front();
        }
        fq.deficit_bytes -= wire;
        fq.dequeued_wire_bytes += wire;
        if fq.msgs.is_empty() {
            // An idle flow keeps no credit for later (DRR's rule).
            fq.deficit_bytes = 0;
            fq.turn_started = false;
            fq.in_ring = false;
            self.ring.pop_front();
        }
        self.queued_wire_bytes -= wire;

        self.start_chunk(
            now,
            flow,
            token,
            Chunk {
                wire,
                packets,
                payload,
                last: last_chunk,
            },
            offered_at,
            out,
        );
    }

    /// Puts a chunk of a message offered at `offered_at` in service at `now` (the shaper
    /// is idle): the wire's view of it, its duration, the flow's cap, the counters, and
    /// the message's finish time if it is the last chunk.
    fn start_chunk(
        &mut self,
        now: SimTime,
        flow: LocalFlow,
        token: u32,
        c: Chunk,
        offered_at: SimTime,
        out: &mut ShaperOutput,
    ) {
        let need_nanobits = c.wire as u128 * NANOBITS_PER_BYTE as u128;
        self.send_on_wire(now, flow, offered_at, c, need_nanobits);
        let duration = self.serve(now, need_nanobits, c.wire, c.packets);
        let end = now + duration;
        if let Some(cap) = self.cfg.flow_cap_bits_per_s {
            // As SimDuration::for_bytes_at(c.wire, cap), from the product already made.
            let cap_ns = div_ceil_u128(need_nanobits, cap as u128);
            let eligible_at = now + SimDuration::from_ns(cap_ns);
            let latest = self.latest_flow;
            if latest != flow && self.latest_eligible_at > now {
                self.flows[latest.0 as usize].eligible_at = self.latest_eligible_at;
            }
            self.latest_flow = flow;
            self.latest_eligible_at = eligible_at;
            self.all_eligible_at = self.all_eligible_at.max(eligible_at);
        }
        self.busy_until = end;
        self.busy.add(now, end);
        self.wire_bytes_per_s.add(now, c.wire);
        self.packets_per_s.add(now, c.packets);
        self.counters.wire_bytes += c.wire;
        self.counters.packets += c.packets;
        self.counters.payload_bytes += c.payload;
        if c.last {
            self.counters.messages += 1;
            out.finished.push((token, end));
        }
        if !self.ring.is_empty() {
            self.request_wake(end, out);
        }
    }

    /// The chunk on the virtual wire (see the module doc): it starts there once its
    /// message is offered, the wire is free and its flow's cap allows; if the allowance
    /// starts it later (`now`), its packets count as exceeding the allowance.
    #[inline]
    fn send_on_wire(
        &mut self,
        now: SimTime,
        flow: LocalFlow,
        offered_at: SimTime,
        c: Chunk,
        need_nanobits: u128,
    ) {
        let mut wire_start = offered_at.max(self.wire_free_at);
        if now > wire_start
            && self.cfg.flow_cap_bits_per_s.is_some()
            && self.all_eligible_at > wire_start
        {
            // The flow's cap held it, and the wire obeys the cap too (at most `now`: the
            // flow is eligible, or it would not have been picked).
            wire_start = wire_start.max(self.eligible_at(flow));
        }
        if now > wire_start {
            self.count_exceeded(now, c.packets);
        }
        self.wire_free_at = wire_start + SimDuration::from_ns(self.wire_ns(c.wire, need_nanobits));
    }

    /// `packets` held back or dropped by the allowance: the packet allowance's if it
    /// stretched the latest chunk, else the bandwidth allowance's.
    #[inline]
    fn count_exceeded(&mut self, now: SimTime, packets: u64) {
        if self.latest_pps_bound {
            self.counters.pps_allowance_exceeded += packets;
        } else {
            self.counters.bw_allowance_exceeded += packets;
            self.bw_allowance_exceeded_per_s.add(now, packets);
        }
    }

    /// ns to send `wire_bytes` (`need` nanobits) at line rate, rounded up as
    /// [`Self::serve`] rounds: ceil(need / line). The reciprocal's product overshoots the
    /// exact quotient by less than one ns below 4 GiB, so one product decides between it
    /// and one less.
    #[inline]
    fn wire_ns(&self, wire_bytes: u64, need: u128) -> u64 {
        let line = self.cfg.line_rate_bits_per_s as u128;
        if wire_bytes > u32::MAX as u64 {
            return div_ceil_u128(need, line);
        }
        let approx =
            ((wire_bytes as u128 * self.wire_ns_per_byte_q32 + u32::MAX as u128) >> 32) as u64;
        if approx > 0 && (approx - 1) as u128 * line >= need {
            approx - 1
        } else {
            approx
        }
    }

    /// Serves `wire_bytes` (`need` nanobits) in `packets` starting at `now` (idle until
    /// then): returns the duration and updates the credits.
    #[inline]
    fn serve(&mut self, now: SimTime, need: u128, wire_bytes: u64, packets: u64) -> SimDuration {
        if self.capacity_nanobits == 0 && self.cfg.pps_limit.is_none() {
            // No credit bucket (so no burst above the baseline) and no packet allowance:
            // the baseline alone sets the duration, and credits stay at zero.
            let duration_ns = div_ceil_u128(need, self.cfg.baseline_bits_per_s as u128);
            self.clock = now + SimDuration::from_ns(duration_ns);
            return SimDuration::from_ns(duration_ns);
        }
        self.refill(now);
        let baseline = self.cfg.baseline_bits_per_s as u128;
        let burst = self.cfg.burst_bits_per_s as u128;
        let extra = burst - baseline;
        let mut duration_ns = if extra == 0 || self.credits_nanobits == 0 {
            if extra > 0 {
                self.throttled_wire_bytes_per_s.add(now, wire_bytes);
            }
            let d = div_ceil_u128(need, baseline);
            if self.own_burst_bits_per_s > 0 && self.credits_nanobits > 0 {
                // The host grants no burst at all, and the NIC has credits for some.
                self.count_denied(now, baseline as u64, d);
            }
            d
        } else {
            let at_burst_ns = div_ceil_u128(need, burst);
            // Spend for the exact (unrounded) time at burst: extra x need / burst. Charging
            // the rounded-up duration would bias depletion early by up to a bit a chunk.
            let spend = self.burst_spend(wire_bytes, need);
            if spend <= self.credits_nanobits {
                self.credits_nanobits -= spend;
                if self.own_burst_bits_per_s > 0 {
                    self.count_denied(now, burst as u64, at_burst_ns);
                }
                at_burst_ns
            } else {
                // Credits run out inside this chunk: burst until they do, baseline after.
                // (Credits left over below one ns of burst are dropped: < 1 bit.)
                let burst_ns = (self.credits_nanobits / extra) as u64;
                let sent = (burst * burst_ns as u128).min(need);
                self.credits_nanobits = 0;
                self.depleted_at
                    .get_or_insert(now + SimDuration::from_ns(burst_ns));
                if self.own_burst_bits_per_s > 0 {
                    self.count_denied(now, burst as u64, burst_ns);
                }
                burst_ns + div_ceil_u128(need - sent, baseline)
            }
        };
        if self.credits_nanobits == 0 && extra > 0 {
            self.depleted_at.get_or_insert(now);
        }
        self.latest_pps_bound = false;
        if let Some(pps) = self.cfg.pps_limit {
            let pps_ns = SimDuration::for_count_at(packets, pps).as_ns();
            if pps_ns > duration_ns {
                // The packet allowance binds: the bucket idles (and earns) for the rest.
                self.latest_pps_bound = true;
                let idle = (pps_ns - duration_ns) as u128;
                self.credits_nanobits =
                    (self.credits_nanobits + baseline * idle).min(self.capacity_nanobits);
                duration_ns = pps_ns;
            }
        }
        self.clock = now + SimDuration::from_ns(duration_ns);
        SimDuration::from_ns(duration_ns)
    }

    /// The credits serving `wire_bytes` (`need` nanobits) at burst spends: extra x need /
    /// burst, rounded up. Since extra x need = burst x (wire x spend_quot) + wire x
    /// spend_rem, that is wire x spend_quot + ceil(wire x spend_rem / burst): the same
    /// integer in u64 arithmetic whenever the products fit (chunks below megabytes),
    /// instead of a 128-bit product and division per chunk.
    #[inline]
    fn burst_spend(&self, wire_bytes: u64, need: u128) -> u128 {
        let burst = self.cfg.burst_bits_per_s;
        match (
            wire_bytes.checked_mul(self.spend_quot),
            wire_bytes.checked_mul(self.spend_rem),
        ) {
            (Some(whole), Some(rem)) => whole as u128 + rem.div_ceil(burst) as u128,
            _ => {
                let extra = (burst - self.cfg.baseline_bits_per_s) as u128;
                (extra * need).div_ceil(burst as u128)
            }
        }
    }

    /// Earns credits at the baseline for the idle time since the last chunk.
    fn refill(&mut self, now: SimTime) {
        if now > self.clock {
            let idle = (now - self.clock).as_ns() as u128;
            self.credits_nanobits = (self.credits_nanobits
                + self.cfg.baseline_bits_per_s as u128 * idle)
                .min(self.capacity_nanobits);
            self.clock = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaper(baseline_bits_per_s: u64, burst_bits_per_s: u64) -> Shaper {
        let framing = Framing {
            mtu_bytes: 9001,
            ip_tcp_header_bytes: 52,
            link_header_bytes: 18,
        };
        Shaper::new(
            ShaperConfig {
                baseline_bits_per_s,
                burst_bits_per_s,
                credit_capacity_bits: 1 << 40,
                initial_credit_bits: 1 << 40,
                line_rate_bits_per_s: burst_bits_per_s,
                ..ShaperConfig::unlimited()
            },
            framing,
        )
    }

    #[test]
    fn burst_spend_equals_the_wide_formula() {
        let rates = [
            (1, 2),
            (937_000_000, 12_500_000_000),
            (750_000_000, 10_000_000_000),
            (3_000_000_001, 7_777_777_777),
            (1_000_000_000, 1_000_000_001),
            (1, u64::MAX / 2),
            (u64::MAX / 3, u64::MAX),
        ];
        let wires = [0, 1, 7, 152, 1_500, 9_071, 65_536, 1 << 24, 1 << 30];
        for (baseline, burst) in rates {
            let s = shaper(baseline, burst);
            for wire in wires {
                let need = wire as u128 * NANOBITS_PER_BYTE as u128;
                let wide = ((burst - baseline) as u128 * need).div_ceil(burst as u128);
                assert_eq!(s.burst_spend(wire, need), wide, "{baseline} {burst} {wire}");
            }
        }
    }

    /// A shaper with no credit bucket and no packet allowance takes a shortcut in
    /// `serve`; one that must take the full path (an allowance too large to bind) serves
    /// the same messages at the same times.
    #[test]
    fn credit_free_shortcut_matches_the_full_path() {
        let framing = Framing {
            mtu_bytes: 1500,
            ip_tcp_header_bytes: 40,
            link_header_bytes: 18,
        };
        let config = ShaperConfig {
            baseline_bits_per_s: 3_000_000_007,
            burst_bits_per_s: 3_000_000_007,
            credit_capacity_bits: 0,
            initial_credit_bits: 0,
            flow_cap_bits_per_s: Some(1_000_000_003),
            chunk_bytes: 16_384,
            ..ShaperConfig::unlimited()
        };
        let mut fast = Shaper::new(config, framing);
        let mut full = Shaper::new(
            ShaperConfig {
                pps_limit: Some(u64::MAX / 4),
                ..config
            },
            framing,
        );
        let flows: Vec<_> = (0..3).map(|_| (fast.add_flow(), full.add_flow())).collect();
        let mut finished = [Vec::new(), Vec::new()];
        let mut wakes: [Option<SimTime>; 2] = [None, None];
        for step in 0..300u64 {
            let now = SimTime::from_ns(step * 977);
            for (i, s) in [&mut fast, &mut full].into_iter().enumerate() {
                let mut out = ShaperOutput::default();
                if wakes[i].is_some_and(|w| w <= now) {
                    wakes[i] = None;
                    s.wake(now, &mut out);
                }
                let (a, b) = flows[(step % 3) as usize];
                let flow = if i == 0 { a } else { b };
                s.offer(now, flow, step as u32, 1 + step * 131 % 40_000, &mut out);
                finished[i].extend(out.finished);
                wakes[i] = earliest(wakes[i], out.wake_at);
            }
        }
        assert!(!finished[0].is_empty());
        assert_eq!(finished[0], finished[1]);
    }

    enum Step {
        Offer { flow: usize, payload_bytes: u64 },
        Discard { flow: usize },
    }

    /// Runs `steps` (at their times, in order) on a shaper with `flows` flows, waking
    /// it whenever it asks, until it is idle: the messages finished (token, time), in
    /// order, and the shaper. Tokens number the offers from 0.
    fn drive(
        cfg: ShaperConfig,
        flows: usize,
        steps: &[(u64, Step)],
    ) -> (Vec<(u32, SimTime)>, Shaper) {
        let mut s = Shaper::new(cfg, framing_1500());
        let ids: Vec<_> = (0..flows).map(|_| s.add_flow()).collect();
        let mut out = ShaperOutput::default();
        let mut finished = Vec::new();
        let mut wake: Option<SimTime> = None;
        let mut token = 0;
        let mut steps = steps.iter().peekable();
        loop {
            let next_step = steps.peek().map(|(t, _)| SimTime::from_ns(*t));
            let now = match (next_step, wake) {
                (None, None) => break,
                (Some(a), Some(w)) => a.min(w),
                (a, w) => a.or(w).expect("one is set"),
            };
            out.finished.clear();
            out.wake_at = None;
            if wake == Some(now) {
                wake = None;
                s.wake(now, &mut out);
            } else {
                match steps.next().expect("a step is due").1 {
                    Step::Offer {
                        flow,
                        payload_bytes,
                    } => {
                        assert!(s.offer(now, ids[flow], token, payload_bytes, &mut out));
                        token += 1;
                    }
                    Step::Discard { flow } => {
                        s.discard_flow(ids[flow]);
                    }
                }
            }
            finished.extend(out.finished.iter().copied());
            wake = earliest(wake, out.wake_at);
        }
        (finished, s)
    }

    /// A host that grants 2 of a NIC's 5 Gbit/s of burst: a message leaves at 2 Gbit/s,
    /// credits go at 2 - 1 Gbit/s, and the 3 Gbit/s withheld over its time count as
    /// denied; lifting the cap restores the NIC's own burst and counts nothing more.
    #[test]
    fn a_host_burst_cap_slows_the_burst_and_counts_what_it_denies() {
        let mut s = shaper(1_000_000_000, 5_000_000_000);
        let flow = s.add_flow();
        let credits0 = s.credits_bits(SimTime::ZERO);
        s.set_host_burst_cap(SimTime::ZERO, Some(2_000_000_000));
        assert_eq!(s.burst_bits_per_s(), 2_000_000_000);
        let mut out = ShaperOutput::default();
        // 8 packets of 8,949 + 70 header bytes: 72,152 wire bytes, 288,608 ns at 2G.
        let payload = 8 * 8_949;
        s.offer(SimTime::ZERO, flow, 0, payload, &mut out);
        let mut now = SimTime::ZERO;
        while out.finished.is_empty() {
            now = out.wake_at.take().expect("a wake");
            s.wake(now, &mut out);
        }
        let wire_bits = 8 * 9_019 * 8u64;
        let at_2g_ns = wire_bits.div_ceil(2);
        let done = out.finished[0].1.as_ns();
        assert!(done.abs_diff(at_2g_ns) <= 8, "{done} vs {at_2g_ns}");
        let spent = credits0 - s.credits_bits(SimTime::from_ns(done));
        assert!(spent.abs_diff(wire_bits / 2) <= 16, "spent {spent}");
        let denied: u64 = s.burst_denied_bits_per_s.values().iter().sum();
        assert!(denied.abs_diff(3 * wire_bits / 2) <= 16, "denied {denied}");
        s.set_host_burst_cap(now, None);
        assert_eq!(s.burst_bits_per_s(), 5_000_000_000);
        let mut out = ShaperOutput::default();
        s.offer(now, flow, 1, payload, &mut out);
        while out.finished.is_empty() {
            let at = out.wake_at.take().expect("a wake");
            s.wake(at, &mut out);
        }
        let after: u64 = s.burst_denied_bits_per_s.values().iter().sum();
        assert_eq!(after, denied);
    }

    /// A flow whose queued messages are discarded before any of their bytes start
    /// leaves the others served exactly as if it had never offered them.
    #[test]
    fn discarding_a_waiting_flow_is_as_if_it_never_offered() {
        let cfg = ShaperConfig {
            baseline_bits_per_s: 1_000_000_000,
            burst_bits_per_s: 1_000_000_000,
            credit_capacity_bits: 0,
            initial_credit_bits: 0,
            chunk_bytes: 16_384,
            ..ShaperConfig::unlimited()
        };
        let offer = |flow, payload_bytes| Step::Offer {
            flow,
            payload_bytes,
        };
        // Flow 0 starts at once; flows 1 and 2 wait behind it; flow 1 is discarded.
        let (with, shaper) = drive(
            cfg,
            3,
            &[
                (0, offer(0, 40_000)),
                (0, offer(1, 30_000)),
                (0, offer(2, 5_000)),
                (0, offer(1, 700)),
                (0, offer(2, 20_000)),
                (1_000, Step::Discard { flow: 1 }),
            ],
        );
        let (without, _) = drive(
            cfg,
            3,
            &[
                (0, offer(0, 40_000)),
                (0, offer(2, 5_000)),
                (0, offer(2, 20_000)),
            ],
        );
        // Same messages at the same times (tokens differ: renumber flow 2's).
        let times = |f: &[(u32, SimTime)]| f.iter().map(|(_, t)| *t).collect::<Vec<_>>();
        assert_eq!(with.len(), 3);
        assert_eq!(times(&with), times(&without));
        let wire = |p| framing_1500().wire_bytes(p);
        assert_eq!(shaper.counters.discarded_messages, 2);
        assert_eq!(
            shaper.counters.discarded_wire_bytes,
            wire(30_000) + wire(700)
        );
        assert_eq!(shaper.counters.messages, 3);
        assert_eq!(shaper.queued_wire_bytes(), 0);
    }

    /// A message discarded while one of its chunks is in service: that chunk stays on
    /// the wire to its end, the rest is never sent, and the next flow starts when the
    /// chunk ends.
    #[test]
    fn discarding_a_message_in_service_keeps_its_chunk_on_the_wire() {
        let cfg = ShaperConfig {
            baseline_bits_per_s: 1_000_000_000,
            burst_bits_per_s: 1_000_000_000,
            credit_capacity_bits: 0,
            initial_credit_bits: 0,
            chunk_bytes: 16_384,
            ..ShaperConfig::unlimited()
        };
        let (finished, shaper) = drive(
            cfg,
            2,
            &[
                (
                    0,
                    Step::Offer {
                        flow: 0,
                        payload_bytes: 100_000,
                    },
                ),
                (
                    0,
                    Step::Offer {
                        flow: 1,
                        payload_bytes: 1_000,
                    },
                ),
                (50_000, Step::Discard { flow: 0 }),
            ],
        );
        let framing = framing_1500();
        let chunk_packets = 16_384 / (framing.mss_bytes() + framing.header_bytes());
        let chunk_wire = chunk_packets * (framing.mss_bytes() + framing.header_bytes());
        let chunk_ns = SimDuration::for_bytes_at(chunk_wire, 1_000_000_000).as_ns();
        let small_ns = SimDuration::for_bytes_at(framing.wire_bytes(1_000), 1_000_000_000).as_ns();
        assert!(
            chunk_ns > 50_000,
            "the discard falls inside the first chunk"
        );
        assert_eq!(finished, vec![(1, SimTime::from_ns(chunk_ns + small_ns))]);
        assert_eq!(
            shaper.counters.wire_bytes,
            chunk_wire + framing.wire_bytes(1_000)
        );
        assert_eq!(shaper.counters.discarded_messages, 1);
        assert_eq!(
            shaper.counters.discarded_wire_bytes,
            framing.wire_bytes(100_000) - chunk_wire
        );
        assert_eq!(shaper.queued_wire_bytes(), 0);
    }

    /// The earlier of two pending wakes: the shaper needs only the earliest it asked for.
    fn earliest(a: Option<SimTime>, b: Option<SimTime>) -> Option<SimTime> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn framing_1500() -> Framing {
        Framing {
            mtu_bytes: 1500,
            ip_tcp_header_bytes: 40,
            link_header_bytes: 18,
        }
    }

    #[test]
    fn packets_round_up_and_count_empty_messages() {
        let f = Framing {
            mtu_bytes: 1500,
            ip_tcp_header_bytes: 40,
            link_header_bytes: 14,
        };
        let cases = [(0, 1), (1, 1), (1460, 1), (1461, 2), (2920, 2), (2921, 3)];
        for (payload, packets) in cases {
            assert_eq!(f.packets(payload), packets, "{payload}");
        }
    }
}
