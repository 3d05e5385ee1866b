//! The per-second sampler: at the start of every second it records the gauges that
//! change continuously (each node's network credits in both directions, its memory in
//! use), and at the start of the measured window it records every NIC's counters, so
//! that tables can show the window alone. Invariant: sample i is taken at exactly i
//! seconds, for every second the run covers (the last sample no later than the run's
//! end); the window's counters are taken once, at the end of warm-up (none without it).

use super::node::Nodes;
use super::results::NicCounts;
use super::{Ctx, Ev};
use sim::net::{Network, NicId, Shaper};
use sim::{Scheduler, SimTime};

/// A NIC's counters at the start of the measured window.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NicAtWindowStart {
    pub egress: NicCounts,
    pub ingress: NicCounts,
    pub retransmits: u64,
}

pub(crate) struct Sampler {
    /// Each node's NIC, in node order.
    pub node_nics: Vec<NicId>,
    pub end: SimTime,
    /// The end of warm-up.
    pub measure_from: SimTime,
    /// Every NIC's counters when the measured window began, by NIC id (empty until
    /// then, and without warm-up).
    pub at_window_start: Vec<NicAtWindowStart>,
    /// Each node's (expired, evicted) keys when the measured window began.
    pub keys_at_window_start: Vec<(u64, u64)>,
}

fn counts(shaper: &Shaper) -> NicCounts {
    NicCounts {
        wire_bytes: shaper.counters.wire_bytes,
        dropped_messages: shaper.counters.dropped_messages,
        bw_allowance_exceeded: shaper.counters.bw_allowance_exceeded,
        pps_allowance_exceeded: shaper.counters.pps_allowance_exceeded,
    }
}

impl Sampler {
    /// Schedules the first sample, at t = 0, and the window's start when it does not
    /// fall on a whole second (a sample takes it otherwise).
    pub fn start(&self, sched: &mut Scheduler<Ev>) {
        sched.schedule_at(SimTime::ZERO, Ev::Sample);
        let w = self.measure_from;
        if w > SimTime::ZERO && w != SimTime::from_secs(w.whole_secs()) && w <= self.end {
            sched.schedule_at(w, Ev::WindowStart);
        }
    }

    /// Records every NIC's and node's counters: the measured window starts now.
    pub fn window_start(&mut self, net: &Network, nodes: &Nodes) {
        self.keys_at_window_start = nodes
            .nodes
            .iter()
            .map(|n| (n.db.stats().expired_keys, n.db.stats().evicted_keys))
            .collect();
        self.at_window_start = net
            .nics()
            .iter()
            .zip(net.retransmits_by_nic())
            .map(|(nic, retransmits)| NicAtWindowStart {
                egress: counts(&nic.egress),
                ingress: counts(&nic.ingress),
                retransmits,
            })
            .collect();
    }

    pub fn sample(&mut self, ctx: &mut Ctx<'_>, nodes: &Nodes) {
        let now = ctx.sched.now();
        if now == self.measure_from && now > SimTime::ZERO {
            self.window_start(ctx.net, nodes);
        }
        ctx.metrics
            .sample(now, ctx.net, &self.node_nics, &nodes.used_memory_bytes());
        let next = SimTime::from_secs(now.whole_secs() + 1);
        if next <= self.end {
            ctx.sched.schedule_at(next, Ev::Sample);
        }
    }
}
