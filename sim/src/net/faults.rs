//! Faults on a timeline: link faults between two sets of NICs (an outage, or a
//! degradation adding latency and loss) and NIC rate changes, each scheduled as events
//! that flip state when the fault begins and ends, so that a message on a path no fault
//! touches pays one flag check (`Flow::faulted`, in the line a send already reads) and
//! nothing else, however many faults the timeline holds.
//!
//! Invariants: while an outage covers a flow, none of its messages reaches the receiving
//! NIC (those already on the wire when it begins are lost there, those leaving the
//! sender during it are lost on the link); a message lost to an outage is recovered by
//! the retransmission timeout alone (no duplicate acknowledgement crosses a cut link),
//! backing off from [`RTO_MIN`](super::RTO_MIN) doubling up to
//! [`RTO_MAX`](super::RTO_MAX); a flow whose message has waited through timeouts adding
//! up to the reset time (see [`Network::set_reset_after`]) is reset by the network
//! itself, as Linux aborts a connection after `tcp_retries2` timeouts, and reported by
//! [`Network::take_aborted`]. A fault covers the flows open when it begins.
//! Acknowledgements are not messages, and an outage does not cut them: those on their
//! way back when it begins, and those of messages that crossed before it and are
//! delivered during it, still reach the sender (an approximation: it lets a window grow
//! that TCP would hold, and changes no message's fate).

use super::{MsgState, Network, NicId, RTO_MAX, RTO_MIN};
use crate::rng::{Ratio, SimRng};
use crate::scheduler::Scheduler;
use crate::time::{SimDuration, SimTime};

/// What a link fault does to the messages of the flows it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultEffect {
    /// Nothing gets through, either way.
    Outage,
    /// Every message is delayed by `extra` more, and lost with probability `loss`.
    Degrade { extra: SimDuration, loss: Ratio },
}

/// A fault on every flow between a NIC of `a` and a NIC of `b` (both directions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkFault {
    pub a: Vec<NicId>,
    pub b: Vec<NicId>,
    pub effect: FaultEffect,
}

/// The index of a fault, in the order faults were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FaultId(pub u32);

/// What a fault did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Flows it covered while active.
    pub flows: u64,
    /// Messages (attempts) the fault dropped on the link, and their wire bytes.
    pub dropped_messages: u64,
    pub dropped_wire_bytes: u64,
}

#[derive(Debug)]
pub(super) struct FaultState {
    fault: LinkFault,
    /// The flows covered while active, by index.
    flows: Vec<u32>,
    rng: SimRng,
    stats: FaultStats,
    /// Between its start and its end.
    active: bool,
}

impl FaultState {
    pub(super) fn is_outage(&self) -> bool {
        self.fault.effect == FaultEffect::Outage
    }
}

/// What the faults covering a flow do to one message.
pub(super) enum Verdict {
    Deliver(SimDuration),
    /// Lost on the link: noticed when it would have arrived.
    Lost,
    /// Cut by an outage as it leaves.
    Cut,
}

/// A scheduled change of a NIC's allowed rate (both directions).
#[derive(Clone, Copy, Debug)]
pub(super) struct RateChange {
    nic: NicId,
    /// The cap on the allowed rate from then on; `None` lifts it.
    cap_bits_per_s: Option<u64>,
}

/// The sum of the first `timeouts` retransmission timeouts of one message: how long
/// after its first loss its `timeouts`-th timer fires.
pub fn backoff_elapsed(timeouts: u32) -> SimDuration {
    let mut total = SimDuration::ZERO;
    for k in 0..timeouts {
        total += rto_after(k);
    }
    total
}

/// The retransmission timeout after `k` earlier timeouts of the same message.
pub fn rto_after(k: u32) -> SimDuration {
    RTO_MIN
        .checked_mul(1u64 << k.min(20))
        .unwrap_or(RTO_MAX)
        .min(RTO_MAX)
}

impl Network {
    /// Adds a link fault active from `from` until `until` (or the end of the run):
    /// schedules its start and end. Returns its id.
    pub fn add_link_fault<E: From<super::NetEvent> + Copy>(
        &mut self,
        sched: &mut Scheduler<E>,
        fault: LinkFault,
        from: SimTime,
        until: Option<SimTime>,
    ) -> FaultId {
        let id = u32::try_from(self.faults.len()).expect("fewer than 2^32 faults");
        self.faults.push(FaultState {
            fault,
            flows: Vec::new(),
            active: false,
            rng: self.streams.stream("net.fault", u64::from(id)),
            stats: FaultStats::default(),
        });
        sched.schedule_at(from, E::from(super::NetEvent::FaultStart { fault: id }));
        if let Some(until) = until {
            sched.schedule_at(until, E::from(super::NetEvent::FaultEnd { fault: id }));
        }
        FaultId(id)
    }

    /// Caps `nic`'s allowed rate in both directions at `cap_bits_per_s` from `at` on
    /// (`None` lifts the cap): the baseline and the burst rate each become at most the
    /// cap. A chunk in service when it comes finishes as it was started; the next one
    /// is served at the new rate, with the credits earned until then kept.
    pub fn schedule_rate_cap<E: From<super::NetEvent> + Copy>(
        &mut self,
        sched: &mut Scheduler<E>,
        nic: NicId,
        at: SimTime,
        cap_bits_per_s: Option<u64>,
    ) {
        let change = u32::try_from(self.rate_changes.len()).expect("fewer than 2^32 changes");
        self.rate_changes.push(RateChange {
            nic,
            cap_bits_per_s,
        });
        sched.schedule_at(at, E::from(super::NetEvent::RateChange { change }));
    }

    /// Resets a flow once one of its messages has waited through retransmission
    /// timeouts adding up to `after` (Linux: `tcp_retries2` = 15 timeouts from
    /// `RTO_MIN`, 924.6 s); `None` (the default) retransmits forever.
    pub fn set_reset_after(&mut self, after: Option<SimDuration>) {
        self.reset_after = after;
    }

    /// Moves the flows the network reset since the last call (see
    /// [`Network::set_reset_after`]) into `out`, in the order they were reset.
    pub fn take_aborted(&mut self, out: &mut Vec<super::FlowId>) {
        out.append(&mut self.aborted);
    }

    /// Whether some flow was reset and not yet taken (a check for every event).
    #[inline]
    pub fn has_aborted(&self) -> bool {
        !self.aborted.is_empty()
    }

    /// What fault `id` did so far.
    pub fn fault_stats(&self, id: FaultId) -> FaultStats {
        self.faults[id.0 as usize].stats
    }

    pub(super) fn fault_start<E: From<super::NetEvent> + Copy>(
        &mut self,
        _sched: &mut Scheduler<E>,
        id: u32,
    ) {
        let nics = self.nics.len();
        let state = &mut self.faults[id as usize];
        let (mut in_a, mut in_b) = (vec![false; nics], vec![false; nics]);
        for n in &state.fault.a {
            in_a[n.0 as usize] = true;
        }
        for n in &state.fault.b {
            in_b[n.0 as usize] = true;
        }
        let mut covered = vec![false; self.flows.len()];
        state.flows.clear();
        state.active = true;
        for (i, f) in self.flows.iter_mut().enumerate() {
            let (s, d) = (f.src.0 as usize, f.dst.0 as usize);
            if (in_a[s] && in_b[d]) || (in_b[s] && in_a[d]) {
                state.flows.push(i as u32);
                covered[i] = true;
                f.faulted = true;
                self.cold[i].faults.push(id);
            }
        }
        state.stats.flows += state.flows.len() as u64;
        if state.fault.effect == FaultEffect::Outage && !state.flows.is_empty() {
            // What is on the wire when the link goes down never arrives.
            for (_, m) in self.msgs.iter_mut() {
                if m.state == MsgState::Transit && !m.link_dropped && covered[m.flow.0 as usize] {
                    m.link_dropped = true;
                    state.stats.dropped_messages += 1;
                    state.stats.dropped_wire_bytes += m.wire_bytes;
                }
            }
        }
    }

    pub(super) fn fault_end(&mut self, id: u32) {
        let state = &mut self.faults[id as usize];
        state.active = false;
        for &i in &state.flows {
            let cold = &mut self.cold[i as usize];
            cold.faults.retain(|&f| f != id);
            self.flows[i as usize].faulted = !cold.faults.is_empty();
        }
        state.flows.clear();
    }

    /// A flow opened while faults are active is covered by those between its NICs, as
    /// if it had existed when they started (a connection opened across a partition is
    /// cut like the others).
    pub(super) fn cover_new_flow(&mut self, i: usize) {
        let (src, dst) = (self.flows[i].src, self.flows[i].dst);
        for (id, state) in self.faults.iter_mut().enumerate() {
            if !state.active {
                continue;
            }
            let f = &state.fault;
            let covers = (f.a.contains(&src) && f.b.contains(&dst))
                || (f.b.contains(&src) && f.a.contains(&dst));
            if covers {
                state.flows.push(i as u32);
                state.stats.flows += 1;
                self.flows[i].faulted = true;
                self.cold[i].faults.push(id as u32);
            }
        }
    }

    pub(super) fn rate_change(&mut self, now: SimTime, change: u32) {
        let c = self.rate_changes[change as usize];
        let nic = &mut self.nics[c.nic.0 as usize];
        nic.egress.set_rate_cap(now, c.cap_bits_per_s);
        nic.ingress.set_rate_cap(now, c.cap_bits_per_s);
    }

    /// Whether an outage covers flow `i` now.
    pub(super) fn under_outage(&self, i: usize) -> bool {
        self.flows[i].faulted
            && self.cold[i]
                .faults
                .iter()
                .any(|&f| self.faults[f as usize].fault.effect == FaultEffect::Outage)
    }

    /// The faults' verdict on a message of `wire_bytes` leaving on flow `i`.
    pub(super) fn fault_verdict(&mut self, i: usize, wire_bytes: u64) -> Verdict {
        let mut extra = SimDuration::ZERO;
        for &f in &self.cold[i].faults {
            let state = &mut self.faults[f as usize];
            let verdict = match state.fault.effect {
                FaultEffect::Outage => Verdict::Cut,
                FaultEffect::Degrade { extra: e, loss } => {
                    extra += e;
                    if loss.sample(&mut state.rng) {
                        Verdict::Lost
                    } else {
                        continue;
                    }
                }
            };
            state.stats.dropped_messages += 1;
            state.stats.dropped_wire_bytes += wire_bytes;
            return verdict;
        }
        Verdict::Deliver(extra)
    }
}
