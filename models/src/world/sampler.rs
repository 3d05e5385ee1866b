//! The per-second sampler: at the start of every second it records the gauges that
//! change continuously (each node's network credits in both directions, its memory in
//! use). Invariant: sample i is taken at exactly i seconds, for every second the run
//! covers (the last sample no later than the run's end).

use super::node::Nodes;
use super::{Ctx, Ev};
use sim::net::NicId;
use sim::{Scheduler, SimTime};

pub(crate) struct Sampler {
    /// Each node's NIC, in node order.
    pub node_nics: Vec<NicId>,
    pub end: SimTime,
}

impl Sampler {
    /// Schedules the first sample, at t = 0.
    pub fn start(&self, sched: &mut Scheduler<Ev>) {
        sched.schedule_at(SimTime::ZERO, Ev::Sample);
    }

    pub fn sample(&mut self, ctx: &mut Ctx<'_>, nodes: &Nodes) {
        let now = ctx.sched.now();
        ctx.metrics
            .sample(now, ctx.net, &self.node_nics, &nodes.used_memory_bytes());
        let next = SimTime::from_secs(now.whole_secs() + 1);
        if next <= self.end {
            ctx.sched.schedule_at(next, Ev::Sample);
        }
    }
}
