//! The simulated world of one variant, as components: server nodes (each a store-core
//! `Db` on an instance's NIC and CPU credits), the engine that runs requests on the
//! nodes' threads, memtier-style clients, the flows between them by kind, the
//! per-second sampler, and what they measure. Every request is executed for real by its
//! node's `Db`, and its reply's real encoded size is what crosses the network.
//!
//! A request's life: the client sends it on its connection's request flow (client NIC
//! egress, propagation, server NIC ingress); the engine reads every request waiting on
//! the connection as one batch when a thread is free and executes it on the node's
//! `Db`; the replies leave on the connection's reply flow when the batch's CPU time is
//! over; the client records latency from the actual send (as memtier does) and from the
//! intended send (no coordinated omission).
//!
//! Each component lives in its own file, owns its state and handles its own variant of
//! [`Ev`] through a [`Ctx`] that lends it the scheduler, the network, the flow map and
//! the metrics; a delivery goes to the component that owns its flow's kind. When the
//! run ends, [`World::finish`] turns everything into a [`RunResult`], which is all a
//! report reads. Adding a mechanism: a new file with its state and its event enum, a
//! variant of `Ev`, a line in `build`, a flow kind (and its message table) if it sends
//! anything, and its resources in `finish`'s registry.
//!
//! Invariants: the world is a pure function of its `RunConfig` (all randomness comes
//! from streams derived from the seed, one per component and flow); a request is in
//! exactly one place at a time (client pipeline on the wire, connection queue, a batch,
//! or done); each connection has at most one batch in progress, so replies leave in
//! request order.

mod build;
pub mod bus;
#[cfg(test)]
mod bus_props;
pub mod client;
mod cluster;
#[cfg(test)]
mod cluster_tests;
pub mod engine;
#[cfg(test)]
mod failover_tests;
mod faults;
mod finish;
pub mod flows;
#[cfg(test)]
mod invariants;
#[cfg(test)]
mod io_threads_tests;
pub mod metrics;
pub mod neighbours;
#[cfg(test)]
mod neighbours_props;
pub mod node;
#[cfg(test)]
mod probe;
pub mod replication;
#[cfg(test)]
mod replication_props;
mod requests;
pub mod reshard;
#[cfg(test)]
mod reshard_props;
pub mod results;
mod sampler;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tpc_tests;
mod zones;

pub(crate) use build::shaper as build_shaper;
pub use metrics::Metrics;
pub use results::RunResult;

use bus::{Bus, BusEv};
use client::{ClientEv, Clients};
use engine::{Engine, EngineEv};
use flows::{FlowKind, FlowMap};
use node::{NodeEv, Nodes};
use replication::{ReplEv, Replication};
use requests::Requests;
use sampler::Sampler;
use sim::net::{Delivery, NetEvent, Network};
use sim::{Model, RunLimit, Scheduler, SimDuration, SimTime};

/// Simulated time 0 as Unix milliseconds (2026-01-01T00:00:00Z): what the stores see
/// as the wall clock, so expiry times are realistic and identical run to run.
pub const EPOCH_UNIX_MS: u64 = 1_767_225_600_000;

/// The store's wall clock at simulated time `now`.
#[inline]
pub(crate) fn now_unix_ms(now: SimTime) -> u64 {
    EPOCH_UNIX_MS + now.as_ns() / 1_000_000
}

/// The world's events, one variant per component. Small and Copy: indices into the
/// components' tables.
#[derive(Clone, Copy, Debug)]
pub enum Ev {
    Net(NetEvent),
    Client(ClientEv),
    Engine(EngineEv),
    Node(NodeEv),
    Repl(ReplEv),
    Bus(BusEv),
    Reshard(reshard::ReshardEv),
    Neighbour(neighbours::NeighbourEv),
    /// Once a second: gauges (credits, memory).
    Sample,
    /// The end of warm-up, when it is not on a whole second (a `Sample` marks it
    /// otherwise).
    WindowStart,
    #[cfg(test)]
    Probe(probe::ProbeEv),
}

impl From<NetEvent> for Ev {
    fn from(e: NetEvent) -> Ev {
        Ev::Net(e)
    }
}

/// What tests add to a world: a probe component, fault rules on every link.
#[cfg(test)]
#[derive(Clone, Debug, Default)]
pub(crate) struct TestExtras {
    pub probe: Option<probe::ProbeConfig>,
    pub link_rules: Vec<sim::net::LinkRule>,
}

/// What a component's handler may use besides its own state.
pub(crate) struct Ctx<'a> {
    pub sched: &'a mut Scheduler<Ev>,
    pub net: &'a mut Network,
    pub flows: &'a mut FlowMap,
    pub metrics: &'a mut Metrics,
    /// The cluster's addresses, and the map refreshes on their way to clients.
    pub cluster: &'a mut cluster::ClusterShared,
}

/// One variant's world.
pub struct World {
    config: RunConfig,
    net: Network,
    flows: FlowMap,
    metrics: Metrics,
    /// The client-connection kinds' message table.
    requests: Requests,
    clients: Clients,
    nodes: Nodes,
    engine: Engine,
    replication: Replication,
    /// The cluster bus, in cluster mode.
    bus: Option<Bus>,
    /// The resharding timeline's driver (idle without one).
    resharding: reshard::Resharding,
    /// Shared hosts and their neighbours (none without `hosts`).
    neighbours: neighbours::Neighbours,
    sampler: Sampler,
    faults: faults::Faults,
    /// The cluster's addresses and what clients share about it.
    cluster: cluster::ClusterShared,
    /// Cross-zone bytes, when the world names zones.
    zone_traffic: Option<zones::ZoneTraffic>,
    /// Each client host's NIC, in host order.
    client_nics: Vec<sim::net::NicId>,
    #[cfg(test)]
    probe: Option<probe::Probe>,
    deliveries: Vec<Delivery>,
    end: SimTime,
    /// Every reply delivered, as (connection, request sequence), for order checks.
    #[cfg(test)]
    replies_seen: Vec<(u32, u64)>,
}

use crate::scenario::resolve::RunConfig;

impl Model for World {
    type Event = Ev;

    // Inlined into the scheduler's loop: the dispatch is a few instructions per event,
    // and as a call of its own its register saves and restores cost more than it does.
    #[inline(always)]
    fn handle(&mut self, sched: &mut Scheduler<Ev>, ev: Ev) {
        let World {
            net,
            flows,
            metrics,
            requests,
            clients,
            nodes,
            engine,
            replication,
            bus,
            resharding,
            neighbours,
            sampler,
            deliveries,
            faults,
            zone_traffic,
            config,
            cluster,
            #[cfg(test)]
            probe,
            #[cfg(test)]
            replies_seen,
            ..
        } = self;
        if let Ev::Net(e) = ev {
            deliveries.clear();
            net.handle(sched, e, deliveries);
        }
        let mut ctx = Ctx {
            sched,
            net,
            flows,
            metrics,
            cluster,
        };
        match ev {
            Ev::Net(_) => {
                for d in deliveries.iter() {
                    let (kind, _) = ctx.flows.locate(d.flow);
                    let counts = &mut ctx.metrics.flow_kinds[kind as usize];
                    counts.messages_delivered += 1;
                    counts.payload_bytes_delivered += d.payload_bytes;
                    if let Some(z) = zone_traffic {
                        let (_, index) = ctx.flows.locate(d.flow);
                        z.on_delivery(kind, index, d.payload_bytes, |l| replication.link_ends(l));
                    }
                    match kind {
                        FlowKind::ClientRequest => engine.on_request(
                            &mut ctx,
                            nodes,
                            requests,
                            replication,
                            d.token as u32,
                        ),
                        FlowKind::ClientReply => {
                            #[cfg(test)]
                            {
                                let r = &requests[d.token as usize];
                                replies_seen.push((r.conn, r.seq));
                            }
                            clients.on_reply(&mut ctx, requests, d.token as u32)
                        }
                        FlowKind::ReplicationStream | FlowKind::ReplicationControl => {
                            let (_, link) = ctx.flows.locate(d.flow);
                            replication
                                .on_delivery(&mut ctx, nodes, engine, requests, kind, link, d);
                        }
                        FlowKind::ClusterBus => {
                            let bus = bus.as_mut().expect("bus flows only with a bus");
                            if let Some(z) = zone_traffic {
                                let (from, to) = bus.message_ends(d.token);
                                z.on_node_pair_delivery(from, to, d.payload_bytes);
                            }
                            bus.on_delivery(
                                &mut ctx,
                                nodes,
                                engine,
                                requests,
                                replication,
                                d.token,
                            );
                        }
                        FlowKind::Resharding => {
                            let bus = bus.as_mut().expect("resharding only with a bus");
                            if let (Some(z), Some((from, to))) =
                                (zone_traffic.as_mut(), resharding.message_ends(d.token))
                            {
                                z.on_node_pair_delivery(from, to, d.payload_bytes);
                            }
                            let mut p = reshard::Parts {
                                nodes,
                                engine,
                                reqs: requests,
                                repl: replication,
                                bus,
                            };
                            resharding.on_delivery(&mut ctx, &mut p, d.token);
                        }
                        #[cfg(test)]
                        FlowKind::Probe => probe
                            .as_mut()
                            .expect("probe flows only with a probe")
                            .on_delivery(&mut ctx, d),
                    }
                }
                if ctx.net.has_aborted() {
                    faults.on_aborted(
                        &mut ctx,
                        engine,
                        clients,
                        requests,
                        replication,
                        bus,
                        resharding,
                    );
                }
            }
            Ev::Client(e) => clients.handle(&mut ctx, requests, e),
            Ev::Engine(e) => {
                engine.handle(&mut ctx, nodes, requests, replication, e);
                if !engine.bus_done.is_empty() {
                    let bus = bus.as_mut().expect("bus jobs only with a bus");
                    let done = std::mem::take(&mut engine.bus_done);
                    for &(node, work_ns, messages) in &done {
                        bus.work_done(
                            &mut ctx,
                            nodes,
                            engine,
                            requests,
                            replication,
                            node,
                            work_ns,
                            messages,
                        );
                    }
                    engine.bus_done = done;
                    engine.bus_done.clear();
                }
                if !engine.admin_done.is_empty() {
                    let bus = bus.as_mut().expect("resharding only with a bus");
                    let done = std::mem::take(&mut engine.admin_done);
                    let mut p = reshard::Parts {
                        nodes,
                        engine,
                        reqs: requests,
                        repl: replication,
                        bus,
                    };
                    resharding.admin_done(&mut ctx, &mut p, &done);
                }
            }
            Ev::Node(e @ (NodeEv::Crash { .. } | NodeEv::Restart { .. })) => {
                faults.on_node(
                    &mut ctx,
                    config,
                    nodes,
                    engine,
                    clients,
                    requests,
                    replication,
                    e,
                );
                if let Some(bus) = bus {
                    match e {
                        NodeEv::Crash { node } => bus.on_crash(node),
                        NodeEv::Restart { node } => bus.on_restart(&mut ctx, node, replication),
                        NodeEv::ExpireCycle { .. } => {}
                    }
                }
            }
            Ev::Repl(e) => replication.handle(&mut ctx, nodes, e),
            Ev::Bus(e) => bus.as_mut().expect("bus events only with a bus").handle(
                &mut ctx,
                nodes,
                engine,
                requests,
                replication,
                e,
            ),
            Ev::Reshard(e) => {
                let mut p = reshard::Parts {
                    nodes,
                    engine,
                    reqs: requests,
                    repl: replication,
                    bus: bus.as_mut().expect("resharding only with a bus"),
                };
                resharding.handle(&mut ctx, &mut p, e);
            }
            Ev::Neighbour(e) => {
                if let Some((node, demand_milli)) = neighbours.handle(&mut ctx, e) {
                    engine.set_co_tenant_demand(&mut ctx, node, demand_milli);
                }
            }
            Ev::Node(e @ NodeEv::ExpireCycle { node }) => {
                nodes.handle(&mut ctx, e);
                replication.drain_node(&mut ctx, nodes, node);
            }
            Ev::WindowStart => sampler.window_start(ctx.net, nodes),
            Ev::Sample => {
                sampler.sample(&mut ctx, nodes);
                replication.sample(ctx.sched.now());
            }
            #[cfg(test)]
            Ev::Probe(e) => probe
                .as_mut()
                .expect("probe events only with a probe")
                .handle(&mut ctx, e),
        }
        // Connections clients opened at run time get their node's end.
        if !clients.opened.is_empty() {
            for o in std::mem::take(&mut clients.opened) {
                engine.add_conn(o.conn, o.node);
                faults.add_conn(o.conn, o.host);
                if let Some(z) = zone_traffic {
                    z.add_conn(config, o.node, o.host);
                }
                if !metrics.propagation_by_conn.is_empty() {
                    let z = &config.zones;
                    let n = &config.network;
                    let (latency_ns, _) = z.link(
                        z.client_zones[o.host as usize],
                        z.node_zones[o.node as usize],
                        (n.latency_ns, n.jitter_ns),
                    );
                    metrics
                        .propagation_by_conn
                        .push(SimDuration::from_ns(latency_ns));
                }
            }
        }
        // Clients that prefer replicas in sync learn of a change at once.
        if replication.in_sync_changed {
            replication.in_sync_changed = false;
            clients.replicas_changed(&replication.in_sync);
        }
    }
}

impl World {
    /// Promotes replica `node` to its shard's primary now (see
    /// [`Replication::promote`]): the entry point of a failover decided outside the
    /// event loop (tests; the cluster bus calls `Replication` from its handler).
    #[cfg_attr(not(test), allow(dead_code))] // until the cluster bus calls it
    pub(crate) fn promote(
        &mut self,
        sched: &mut Scheduler<Ev>,
        node: u32,
    ) -> replication::Promotion {
        let (mut ctx, replication, nodes) = self.ctx_for_replication(sched);
        let promotion = replication.promote(&mut ctx, nodes, node);
        self.after_role_change();
        promotion
    }

    /// Makes `node` a replica of its shard's current primary now (see
    /// [`Replication::rejoin_as_replica`]).
    #[cfg_attr(not(test), allow(dead_code))] // until the cluster bus calls it
    pub(crate) fn rejoin_as_replica(&mut self, sched: &mut Scheduler<Ev>, node: u32) {
        let (mut ctx, replication, nodes) = self.ctx_for_replication(sched);
        replication.rejoin_as_replica(&mut ctx, nodes, node);
        self.after_role_change();
    }

    #[cfg_attr(not(test), allow(dead_code))]
    fn ctx_for_replication<'a>(
        &'a mut self,
        sched: &'a mut Scheduler<Ev>,
    ) -> (Ctx<'a>, &'a mut Replication, &'a mut Nodes) {
        (
            Ctx {
                sched,
                net: &mut self.net,
                flows: &mut self.flows,
                metrics: &mut self.metrics,
                cluster: &mut self.cluster,
            },
            &mut self.replication,
            &mut self.nodes,
        )
    }

    /// Clients that prefer replicas in sync learn of a change at once, as after an
    /// event.
    #[cfg_attr(not(test), allow(dead_code))]
    fn after_role_change(&mut self) {
        if self.replication.in_sync_changed {
            self.replication.in_sync_changed = false;
            self.clients.replicas_changed(&self.replication.in_sync);
        }
    }

    /// Runs the world to its end time.
    pub fn run(&mut self, sched: &mut Scheduler<Ev>) {
        sched.run(self, RunLimit::Until(self.end));
        self.at_end();
    }

    /// What the run's end settles before results are taken: open-loop arrivals held at
    /// a full client queue count as dropped.
    fn at_end(&mut self) {
        self.clients.release_held_arrivals(&mut self.metrics);
    }

    /// Runs the world to its end time in stretches of `every` simulated time, calling
    /// `observe(simulated time reached, events run so far)` after each. Stopping the
    /// scheduler at a time and going on changes nothing it computes (a test checks the
    /// results are identical), so an observer sees progress without changing it.
    pub fn run_observed(
        &mut self,
        sched: &mut Scheduler<Ev>,
        every: SimDuration,
        observe: &mut dyn FnMut(SimTime, u64),
    ) {
        let mut reached = sched.now();
        while reached < self.end {
            reached = (reached + every).min(self.end);
            sched.run(self, RunLimit::Until(reached));
            observe(reached, sched.events_run());
        }
        self.at_end();
    }
}

/// Runs one variant's world to its end and returns its results.
pub fn simulate(config: &RunConfig) -> Result<RunResult, String> {
    simulate_observed(config, &mut |_, _| {})
}

/// Simulated time between two calls of a progress observer: short enough for a
/// progress line to move every few wall-clock seconds on the largest worlds, long
/// enough that stopping costs nothing measurable.
pub const OBSERVE_EVERY: SimDuration = SimDuration::from_ns(100_000_000);

/// [`simulate`], calling `observe(simulated time reached, events run so far)` every
/// [`OBSERVE_EVERY`] of simulated time; the results are the same.
pub fn simulate_observed(
    config: &RunConfig,
    observe: &mut dyn FnMut(SimTime, u64),
) -> Result<RunResult, String> {
    let mut sched = Scheduler::with_capacity(4096);
    let mut world = World::build(config, &mut sched)?;
    world.run_observed(&mut sched, OBSERVE_EVERY, observe);
    Ok(world.finish(sched.events_run()))
}
