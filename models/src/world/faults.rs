//! The fault timeline of a world: link outages and degradations between sets of hosts
//! and NIC rate caps (handed to the network, which starts and ends them on its own),
//! node crashes and restarts, and the connection resets they lead to. A client
//! connection is reset when the network gives up on one of its flows (a message has
//! waited through retransmission timeouts adding up to `tcp_reset_after_ns`, as Linux
//! does after tcp_retries2) or when its node restarts. Its requests then fail: each is
//! counted once as reset, leaves its client's pipeline unanswered, and its client goes
//! on sending on the connection, reopened (memtier reconnects).
//!
//! Invariant: a request of a reset connection is freed at the reset, wherever it is
//! (on either flow, waiting at the node), except one in a batch a node thread is
//! working on, which is marked orphaned and freed, never answered, when that batch's
//! last job ends, and one whose reply was delivered before the reset, which its
//! client's thread goes on to parse; every request sent is completed, reset, or in
//! flight.

use super::client::Clients;
use super::engine::Engine;
use super::flows::FlowKind;
use super::node::{NodeEv, Nodes};
use super::replication::Replication;
use super::requests::{ReqList, Requests, NO_REQ};
use super::results::{FaultRecordResult, FaultsResult};
use super::{Ctx, Ev};
use crate::scenario::resolve::{FaultConfig, FaultKind, HostRef, RunConfig};
use sim::net::{FaultEffect, FaultId, FlowId, LinkFault, Network, NicId};
use sim::rng::Ratio;
use sim::{Scheduler, SimDuration, SimTime};
use std::collections::BTreeMap;

/// One fault of the timeline and what it led to.
struct Record {
    config: FaultConfig,
    /// The network's link fault for an outage, a degradation or a crash's cut.
    link: Option<FaultId>,
    connection_resets: u64,
    requests_reset: u64,
}

/// The world's fault timeline.
pub(crate) struct Faults {
    records: Vec<Record>,
    /// Connections per client host (connection c is on host c / this).
    conns_per_host: u32,
    pub connection_resets: u64,
    pub requests_reset: u64,
    aborted: Vec<FlowId>,
    reset_after_ns: u64,
    /// Connections before this one were opened at build, `conns_per_host` a host.
    first_opened: u32,
    /// The client host of each connection opened at run time.
    opened_hosts: Vec<u32>,
}

/// Frees the requests of a batch orphaned by its connection's reset.
pub(crate) fn free_orphans(reqs: &mut Requests, batch: ReqList) {
    let mut req = batch.head;
    while req != NO_REQ {
        req = reqs.remove(req as usize).next;
    }
}

impl Faults {
    /// Hands the link faults and rate caps to the network and schedules crashes and
    /// restarts. `node_nics[i]` is node i's NIC, `client_nics[h]` client host h's.
    pub fn build(
        config: &RunConfig,
        net: &mut Network,
        sched: &mut Scheduler<Ev>,
        node_nics: &[NicId],
        client_nics: &[NicId],
        conns_per_host: u32,
    ) -> Faults {
        net.set_reset_after(Some(SimDuration::from_ns(config.tcp_reset_after_ns)));
        let nic = |h: HostRef| match h {
            HostRef::Node(i) => node_nics[i as usize],
            HostRef::Client(i) => client_nics[i as usize],
        };
        let nics = |hs: &[HostRef]| hs.iter().map(|&h| nic(h)).collect::<Vec<_>>();
        let mut records = Vec::new();
        for f in &config.faults {
            let from = SimTime::from_ns(f.from_ns);
            let until = f.until_ns.map(SimTime::from_ns);
            let cut = match &f.kind {
                FaultKind::Outage { a, b } => Some((nics(a), nics(b), FaultEffect::Outage)),
                FaultKind::Degrade {
                    a,
                    b,
                    extra_latency_ns,
                    loss_per_million,
                } => Some((
                    nics(a),
                    nics(b),
                    FaultEffect::Degrade {
                        extra: SimDuration::from_ns(*extra_latency_ns),
                        loss: Ratio::new(*loss_per_million, 1_000_000),
                    },
                )),
                FaultKind::Crash { node } => {
                    let own = node_nics[*node as usize];
                    let others = node_nics
                        .iter()
                        .chain(client_nics)
                        .copied()
                        .filter(|&n| n != own)
                        .collect();
                    Some((vec![own], others, FaultEffect::Outage))
                }
                FaultKind::NicRate { host, bits_per_s } => {
                    net.schedule_rate_cap(sched, nic(*host), from, Some(*bits_per_s));
                    if let Some(until) = until {
                        net.schedule_rate_cap(sched, nic(*host), until, None);
                    }
                    None
                }
            };
            let link = cut.map(|(a, b, effect)| {
                net.add_link_fault(sched, LinkFault { a, b, effect }, from, until)
            });
            if let FaultKind::Crash { node } = f.kind {
                // After the cut's own events: at the restart the path is whole again
                // before the clients, their connections reset, send anew.
                sched.schedule_at(from, NodeEv::Crash { node }.into());
                if let Some(until) = until {
                    sched.schedule_at(until, NodeEv::Restart { node }.into());
                }
            }
            records.push(Record {
                config: f.clone(),
                link,
                connection_resets: 0,
                requests_reset: 0,
            });
        }
        Faults {
            records,
            conns_per_host: conns_per_host.max(1),
            first_opened: conns_per_host * client_nics.len() as u32,
            opened_hosts: Vec::new(),
            connection_resets: 0,
            requests_reset: 0,
            aborted: Vec::new(),
            reset_after_ns: config.tcp_reset_after_ns,
        }
    }

    /// A node crashes or restarts.
    #[allow(clippy::too_many_arguments)]
    pub fn on_node(
        &mut self,
        ctx: &mut Ctx<'_>,
        config: &RunConfig,
        nodes: &mut Nodes,
        engine: &mut Engine,
        clients: &mut Clients,
        reqs: &mut Requests,
        repl: &mut Replication,
        ev: NodeEv,
    ) {
        match ev {
            NodeEv::Crash { node } => nodes.nodes[node as usize].down = true,
            NodeEv::Restart { node } => {
                let now = ctx.sched.now().as_ns();
                let n = &mut nodes.nodes[node as usize];
                n.down = false;
                n.db = super::build::empty_db(config, ctx.cluster.view.as_ref(), node, n.shard);
                if repl.link_of(node).is_some() {
                    super::replication::make_replica(n.db.only_mut());
                } else if repl.propagates(node) {
                    super::replication::make_primary(n.db.only_mut());
                }
                repl.on_restart(ctx, node);
                let record = self.records.iter().position(|r| {
                    r.config.kind == FaultKind::Crash { node } && r.config.until_ns == Some(now)
                });
                for c in 0..engine.conns.len() as u32 {
                    if engine.conns[c as usize].node == node {
                        self.reset_connection(ctx, engine, clients, reqs, c, None, record);
                    }
                }
                engine.resume_node(ctx, nodes, reqs, repl, node);
            }
            NodeEv::ExpireCycle { .. } => unreachable!("expire cycles go to the nodes"),
        }
    }

    /// The network reset flows whose messages waited too long: their connections are
    /// reset.
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub fn on_aborted(
        &mut self,
        ctx: &mut Ctx<'_>,
        engine: &mut Engine,
        clients: &mut Clients,
        reqs: &mut Requests,
        repl: &mut Replication,
        bus: &mut Option<super::bus::Bus>,
        resharding: &mut super::reshard::Resharding,
    ) {
        let mut aborted = std::mem::take(&mut self.aborted);
        ctx.net.take_aborted(&mut aborted);
        for flow in aborted.drain(..) {
            let (kind, conn) = ctx.flows.locate(flow);
            if matches!(
                kind,
                FlowKind::ReplicationStream | FlowKind::ReplicationControl
            ) {
                repl.on_aborted(ctx, conn);
                continue;
            }
            if kind == FlowKind::ClusterBus {
                if let Some(bus) = bus.as_mut() {
                    bus.on_aborted(ctx, conn);
                }
                continue;
            }
            if kind == FlowKind::Resharding {
                resharding.on_aborted(ctx.sched.now());
                continue;
            }
            if !matches!(kind, FlowKind::ClientRequest | FlowKind::ClientReply) {
                continue;
            }
            let record = self.covering(ctx.sched.now(), engine, conn);
            self.reset_connection(ctx, engine, clients, reqs, conn, Some(flow), record);
        }
        self.aborted = aborted;
    }

    /// The fault that cut or degraded connection `conn`'s path at some time in the
    /// reset time before `now` (while its message waited), if any.
    fn covering(&self, now: SimTime, engine: &Engine, conn: u32) -> Option<usize> {
        let now = now.as_ns();
        let waited_from = now.saturating_sub(self.reset_after_ns);
        let node = HostRef::Node(engine.conns[conn as usize].node);
        let host = HostRef::Client(match conn.checked_sub(self.first_opened) {
            Some(i) => self.opened_hosts[i as usize],
            None => conn / self.conns_per_host,
        });
        self.records.iter().position(|r| {
            let active =
                r.config.from_ns <= now && r.config.until_ns.is_none_or(|u| u > waited_from);
            active
                && match &r.config.kind {
                    FaultKind::Outage { a, b } | FaultKind::Degrade { a, b, .. } => {
                        (a.contains(&node) && b.contains(&host))
                            || (b.contains(&node) && a.contains(&host))
                    }
                    FaultKind::Crash { node: n } => HostRef::Node(*n) == node,
                    FaultKind::NicRate { .. } => false,
                }
        })
    }

    /// Connection `conn`, opened at run time, is from client host `host`.
    pub fn add_conn(&mut self, conn: u32, host: u32) {
        debug_assert_eq!(conn, self.first_opened + self.opened_hosts.len() as u32);
        self.opened_hosts.push(host);
    }

    /// Resets client connection `conn` (both flows, but `already_reset`, which the
    /// network reset itself) and fails its requests; charges it to `record`.
    #[allow(clippy::too_many_arguments)]
    fn reset_connection(
        &mut self,
        ctx: &mut Ctx<'_>,
        engine: &mut Engine,
        clients: &mut Clients,
        reqs: &mut Requests,
        conn: u32,
        already_reset: Option<FlowId>,
        record: Option<usize>,
    ) {
        for kind in [FlowKind::ClientRequest, FlowKind::ClientReply] {
            let flow = ctx.flows.flow(kind, conn);
            if Some(flow) != already_reset {
                ctx.net.reset_flow(ctx.sched, flow);
            }
        }
        let cn = &mut engine.conns[conn as usize];
        cn.waiting = ReqList::EMPTY;
        // A batch already orphaned was counted at the reset that orphaned it.
        let mut batch = Vec::new();
        let mut req = cn.batch.head;
        while req != NO_REQ {
            batch.push(req as usize);
            req = reqs[req as usize].next;
        }
        let count_batch = !cn.orphaned;
        cn.orphaned |= !batch.is_empty();
        // Per client: workload requests failed, and whether its map refresh was one.
        let mut failed: BTreeMap<u32, (u32, bool)> = BTreeMap::new();
        let mut timed_out = 0;
        let mut gone = Vec::new();
        for (id, r) in reqs.iter_mut() {
            // A request whose reply was delivered before the reset waits for its
            // client's thread to parse it: it is answered, not failed.
            if r.conn != conn || r.delivered > r.sent {
                continue;
            }
            let in_batch = batch.contains(&id);
            if !in_batch {
                gone.push(id);
            }
            if r.timed_out {
                // Failed at its timeout already; it leaves the clients' account now (an
                // orphan's batch accounts for it until it is freed).
                if !in_batch || count_batch {
                    timed_out += 1;
                }
                continue;
            }
            r.reset = true;
            if !in_batch || count_batch {
                let entry = failed.entry(r.client).or_default();
                if r.refresh {
                    entry.1 = true;
                } else {
                    entry.0 += 1;
                }
            }
        }
        for id in gone {
            reqs.remove(id);
        }
        let total: u64 = failed.values().map(|&(n, _)| u64::from(n)).sum();
        self.connection_resets += 1;
        self.requests_reset += total;
        if let Some(i) = record {
            self.records[i].connection_resets += 1;
            self.records[i].requests_reset += total;
        }
        clients.timed_out_in_flight -= timed_out;
        for (client, (n, refresh)) in failed {
            clients.on_requests_failed(ctx, reqs, client, n, refresh);
        }
    }

    /// The timeline as results, with what each fault did; `None` when the scenario has
    /// no faults and no connection was reset.
    pub fn finish(
        &self,
        net: &Network,
        host_name: &dyn Fn(HostRef) -> String,
    ) -> Option<FaultsResult> {
        if self.records.is_empty() && self.connection_resets == 0 {
            return None;
        }
        let names = |hs: &[HostRef]| {
            hs.iter()
                .map(|&h| host_name(h))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let timeline = self
            .records
            .iter()
            .map(|r| {
                let (kind, target) = match &r.config.kind {
                    FaultKind::Outage { a, b } => {
                        ("outage", format!("[{}] <-> [{}]", names(a), names(b)))
                    }
                    FaultKind::Degrade {
                        a,
                        b,
                        extra_latency_ns,
                        loss_per_million,
                    } => (
                        "degrade",
                        format!(
                            "[{}] <-> [{}]: +{} us, loss {} ppm",
                            names(a),
                            names(b),
                            extra_latency_ns / 1_000,
                            loss_per_million
                        ),
                    ),
                    FaultKind::NicRate { host, bits_per_s } => (
                        "nic_rate",
                        format!(
                            "{} at most {} Mbit/s",
                            host_name(*host),
                            bits_per_s / 1_000_000
                        ),
                    ),
                    FaultKind::Crash { node } => ("crash", host_name(HostRef::Node(*node))),
                };
                let stats = r.link.map(|id| net.fault_stats(id)).unwrap_or_default();
                FaultRecordResult {
                    kind: kind.to_string(),
                    target,
                    began_ns: r.config.from_ns,
                    ended_ns: r.config.until_ns,
                    connection_resets: r.connection_resets,
                    requests_reset: r.requests_reset,
                    dropped_messages: stats.dropped_messages,
                    dropped_wire_bytes: stats.dropped_wire_bytes,
                }
            })
            .collect();
        Some(FaultsResult {
            timeline,
            connection_resets: self.connection_resets,
            requests_reset: self.requests_reset,
        })
    }
}
