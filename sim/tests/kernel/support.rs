//! A small world for tests: sources that send messages on flows at given times, and a
//! log of what the network delivered.

use sim::net::{Delivery, FlowId, LinkConfig, NetEvent, Network, NicConfig, ShaperConfig};
use sim::RngStreams;
use sim::{Model, Scheduler, SimTime};

#[derive(Clone, Copy, Debug)]
pub enum Ev {
    Net(NetEvent),
    Send {
        flow: FlowId,
        payload_bytes: u64,
        token: u64,
    },
}

impl From<NetEvent> for Ev {
    fn from(e: NetEvent) -> Ev {
        Ev::Net(e)
    }
}

pub struct World {
    pub net: Network,
    pub delivered: Vec<(SimTime, Delivery)>,
    buf: Vec<Delivery>,
}

impl World {
    pub fn new(net: Network) -> World {
        World {
            net,
            delivered: Vec::new(),
            buf: Vec::new(),
        }
    }
}

impl Model for World {
    type Event = Ev;
    fn handle(&mut self, sched: &mut Scheduler<Ev>, ev: Ev) {
        match ev {
            Ev::Net(e) => {
                self.buf.clear();
                self.net.handle(sched, e, &mut self.buf);
                let now = sched.now();
                self.delivered.extend(self.buf.iter().map(|d| (now, *d)));
            }
            Ev::Send {
                flow,
                payload_bytes,
                token,
            } => self.net.send(sched, flow, payload_bytes, token),
        }
    }
}

pub fn framing() -> sim::net::Framing {
    sim::net::Framing {
        mtu_bytes: 1500,
        ip_tcp_header_bytes: 40,
        link_header_bytes: 18,
    }
}

/// Two NICs shaped alike in both directions, and one flow from the first to the second.
pub fn pair(seed: u64, shaping: ShaperConfig, link: LinkConfig) -> (World, FlowId) {
    let mut net = Network::new(RngStreams::new(seed));
    let nic = NicConfig {
        egress: shaping,
        ingress: shaping,
        framing: framing(),
    };
    let a = net.add_nic(nic);
    let b = net.add_nic(nic);
    let f = net.open_flow(a, b, link);
    (World::new(net), f)
}

/// Schedules a send of `payload_bytes` on `flow` at `at`.
pub fn send_at(
    sched: &mut sim::Scheduler<Ev>,
    at: sim::SimTime,
    flow: FlowId,
    payload_bytes: u64,
    token: u64,
) {
    sched.schedule_at(
        at,
        Ev::Send {
            flow,
            payload_bytes,
            token,
        },
    );
}
