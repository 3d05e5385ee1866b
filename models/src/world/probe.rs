//! A test probe: the smallest mechanism that plugs into the world the way replication
//! and the cluster bus will. It owns one flow of its own kind from one node to another,
//! sends a message of a fixed size on it every period, and keeps its own message table
//! (the send time of each message, by sequence number). Invariant: its messages arrive
//! in the order sent, each once, and its bytes are counted on the NICs it crosses like
//! any other traffic.

use super::flows::{FlowKind, FlowMap};
use super::node::Node;
use super::{Ctx, Ev};
use sim::net::{Delivery, FlowId, LinkConfig, Network};
use sim::{Scheduler, SimDuration, SimTime};

/// What the probe sends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProbeConfig {
    pub from_node: u32,
    pub to_node: u32,
    pub period: SimDuration,
    pub payload_bytes: u64,
    /// Tear the probe's connection down and reopen it at the first tick from this time
    /// on: its flow is reset in place.
    pub reset_at: Option<SimDuration>,
}

#[derive(Clone, Copy, Debug)]
pub enum ProbeEv {
    Tick,
}

impl From<ProbeEv> for Ev {
    fn from(e: ProbeEv) -> Ev {
        Ev::Probe(e)
    }
}

pub(crate) struct Probe {
    config: ProbeConfig,
    flow: FlowId,
    end: SimTime,
    /// The probe kind's message table: send times, by token (the sequence number).
    sent_at: Vec<SimTime>,
    /// Tokens delivered, in delivery order.
    pub delivered: Vec<u64>,
    was_reset: bool,
}

impl Probe {
    pub fn build(
        config: ProbeConfig,
        flows: &FlowMap,
        net: &mut Network,
        nodes: &[Node],
        link: &LinkConfig,
        end: SimTime,
    ) -> Probe {
        let (from, to) = (
            nodes[config.from_node as usize].nic,
            nodes[config.to_node as usize].nic,
        );
        let flow = flows.open(net, FlowKind::Probe, 0, from, to, link.clone());
        Probe {
            config,
            flow,
            end,
            sent_at: Vec::new(),
            delivered: Vec::new(),
            was_reset: false,
        }
    }

    pub fn start(&self, sched: &mut Scheduler<Ev>) {
        sched.schedule_at(SimTime::ZERO + self.config.period, ProbeEv::Tick.into());
    }

    pub fn handle(&mut self, ctx: &mut Ctx<'_>, ev: ProbeEv) {
        let now = ctx.sched.now();
        match ev {
            ProbeEv::Tick => {
                if let Some(at) = self.config.reset_at {
                    if now >= SimTime::ZERO + at && !self.was_reset {
                        self.was_reset = true;
                        ctx.net.reset_flow(ctx.sched, self.flow);
                    }
                }
                let token = self.sent_at.len() as u64;
                self.sent_at.push(now);
                ctx.net
                    .send(ctx.sched, self.flow, self.config.payload_bytes, token);
                let next = now + self.config.period;
                if next < self.end {
                    ctx.sched.schedule_at(next, ProbeEv::Tick.into());
                }
            }
        }
    }

    pub fn on_delivery(&mut self, _ctx: &mut Ctx<'_>, d: &Delivery) {
        assert_eq!(d.flow, self.flow, "the probe owns one flow");
        assert_eq!(
            d.sent_at, self.sent_at[d.token as usize],
            "a probe message's token indexes the probe's own table"
        );
        self.delivered.push(d.token);
    }

    /// The probe's flow.
    pub fn flow(&self) -> FlowId {
        self.flow
    }

    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        self.sent_at.len() as u64
    }
}
