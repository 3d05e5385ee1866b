//! A small world for tests: sources that send messages on flows at given times, and a
//! log of what the network delivered.

use sim::net::{Delivery, FlowId, NetEvent, Network};
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
        tcp_ip_header_bytes: 40,
        link_header_bytes: 18,
    }
}
