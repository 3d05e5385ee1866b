//! Property tests of the world's invariants over random small scenarios: 1 to 6 shards,
//! random workloads (ratios, key patterns, value sizes, pipelines, closed loop, rate
//! limits, open loop), shaped NICs with small queues and burst credits, jitter, loss on
//! every link, and random fault timelines (outages between a client host and a node,
//! degradations, node crashes and restarts, short reset times). The checks are made
//! from outside the components: from the request table, the connection queues, the
//! network's per-flow counts, its per-NIC accounts and the NICs' counters.

use super::flows::FlowKind;
use super::{Ev, RunResult, TestExtras, World};
use crate::scenario::load_str;
use crate::scenario::resolve::RunConfig;
use proptest::prelude::*;
use sim::net::LinkRule;
use sim::rng::Ratio;
use sim::{RunLimit, Scheduler, SimDuration, SimTime};
use std::collections::BTreeMap;

/// A random small scenario.
#[derive(Clone, Debug)]
struct Case {
    shards: u32,
    sets: u32,
    gets: u32,
    key_pattern: &'static str,
    key_maximum: u64,
    data_size: u32,
    pipeline: u32,
    clients: u32,
    threads: u32,
    /// 0: closed loop; 1: rate-limited; 2: open loop.
    loop_kind: u8,
    rate: u32,
    baseline_mbit: u64,
    burst: bool,
    queue_kib: u64,
    jitter_us: u64,
    io_threads: u32,
    requests: Option<u32>,
    loss_per_mille: u64,
    seed: u64,
    /// (kind 0 outage / 1 degrade / 2 crash, node, from ms, length ms or until the end).
    faults: Vec<(u8, u32, u64, Option<u64>)>,
    reset_after_ms: u64,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        (
            1u32..=6,
            0u32..4,
            0u32..4,
            0usize..3,
            1u64..3_000,
            16u32..20_000,
        ),
        (1u32..=8, 1u32..=3, 1u32..=2, 0u8..3, 50u32..5_000),
        (
            5u64..2_000,
            any::<bool>(),
            64u64..2_048,
            0u64..=40,
            1u32..=3,
        ),
        (proptest::option::of(20u32..300), 0u64..30, any::<u64>()),
        (
            proptest::collection::vec(
                (
                    0u8..3,
                    0u32..6,
                    0u64..1_400,
                    proptest::option::of(1u64..600),
                ),
                0..4,
            ),
            200u64..2_000,
        ),
    )
        .prop_map(
            |(
                (shards, sets, gets, pattern, key_maximum, data_size),
                (pipeline, clients, threads, loop_kind, rate),
                (baseline_mbit, burst, queue_kib, jitter_us, io_threads),
                (requests, loss_per_mille, seed),
                (faults, reset_after_ms),
            )| Case {
                shards,
                // At least one command type.
                sets: if sets + gets == 0 { 1 } else { sets },
                gets,
                key_pattern: ["R:R", "G:G", "Z:Z"][pattern],
                key_maximum,
                data_size,
                pipeline,
                clients,
                threads,
                loop_kind,
                rate,
                baseline_mbit,
                burst,
                queue_kib,
                jitter_us,
                io_threads,
                requests: if loop_kind == 2 { None } else { requests },
                loss_per_mille,
                seed,
                faults,
                reset_after_ms,
            },
        )
}

impl Case {
    fn config(&self) -> RunConfig {
        let mode = if self.shards > 1 {
            "cluster"
        } else {
            "standalone"
        };
        let loop_knobs = match self.loop_kind {
            1 => format!("rate_limiting: {},", self.rate.min(2_000)),
            2 => format!(
                "open_loop: (process: poisson, rate_rps: {}, queue_depth: 4),",
                self.rate * 4
            ),
            _ => String::new(),
        };
        let length = match self.requests {
            Some(n) => format!("requests: {n},"),
            None => String::new(),
        };
        let burst = if self.burst {
            format!(
                "burst_bits_per_s: {}, net_credit_capacity_bits: {},",
                self.baseline_mbit * 4_000_000,
                self.baseline_mbit * 200_000
            )
        } else {
            String::new()
        };
        // One fault per node at most, kinds as drawn: windows on one target never
        // overlap, and every window ends by the end of the run.
        let mut faults = String::new();
        let mut used = Vec::new();
        for &(kind, node, from_ms, length_ms) in &self.faults {
            let node = node % self.shards;
            if used.contains(&node) {
                continue;
            }
            used.push(node);
            let until = match length_ms {
                Some(l) => format!("for_ms: {},", l.min(1_500 - from_ms)),
                None => String::new(),
            };
            let what = match kind {
                0 => format!(r#"outage: (["client-0"], ["redis-{node}"])"#),
                1 => format!(
                    r#"degrade: (between: (["client-0"], ["redis-{node}"]), extra_latency_us: 300, loss: 0.2)"#
                ),
                _ => format!(r#"crash: "redis-{node}""#),
            };
            faults.push_str(&format!("(at_ms: {from_ms}, {until} {what}),"));
        }
        let text = format!(
            r#"(
            name: "invariants", description: "random", seed: {seed}, duration_ms: 1500,
            warmup_ms: 300,
            network: (latency_us: 40, jitter_us: {jitter}, tcp_reset_after_ms: {reset}),
            faults: [{faults}],
            instances: {{
                "small": (vcpu: 2, memory_bytes: 4_294_967_296,
                          baseline_bits_per_s: {baseline}, {burst}
                          queue_limit_bytes: {queue}, source: "test"),
                "one-vcpu-client": (vcpu: 1, memory_bytes: 4_294_967_296,
                                    baseline_bits_per_s: 100_000_000_000, source: "test"),
            }},
            cluster: (engine: redis, mode: {mode}, shards: {shards}, instance: "small",
                      node: (io_threads: {io})),
            clients: (instance: "one-vcpu-client",
                      workload: (ratio: "{sets}:{gets}", key_pattern: "{pattern}",
                                 key_maximum: {keys}, data_size: {size},
                                 pipeline: {pipeline}, clients: {clients},
                                 threads: {threads}, {loop_knobs} {length})),
            )"#,
            seed = self.seed,
            jitter = self.jitter_us,
            reset = self.reset_after_ms,
            baseline = self.baseline_mbit * 1_000_000,
            queue = self.queue_kib * 1024,
            shards = self.shards,
            io = self.io_threads,
            sets = self.sets,
            gets = self.gets,
            pattern = self.key_pattern,
            keys = self.key_maximum,
            size = self.data_size,
            pipeline = self.pipeline,
            clients = self.clients,
            threads = self.threads,
        );
        let scenario = load_str(&text, "invariants.ron").unwrap_or_else(|e| panic!("{e}\n{text}"));
        scenario.resolved_variants()[0].config.clone()
    }

    /// Whether the seed moves when things happen, not only which keys are used.
    fn timing_is_random(&self) -> bool {
        self.loop_kind == 2
            || self.jitter_us > 0
            || self.loss_per_mille > 0
            || self.faults.iter().any(|f| f.0 == 1)
    }

    fn extras(&self) -> TestExtras {
        TestExtras {
            link_rules: if self.loss_per_mille > 0 {
                vec![LinkRule::Loss {
                    probability: Ratio::new(self.loss_per_mille, 1000),
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }
}

/// Runs the case, checking at every sampled instant; returns the result and the
/// replies in delivery order.
fn run_checked(
    case: &Case,
    config: &RunConfig,
) -> Result<(RunResult, Vec<(u32, u64)>), TestCaseError> {
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build_with(config, &mut sched, case.extras())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let end = SimTime::from_ns(config.duration_ns);
    // Each crash's node NIC and window, and what its ingress had been offered when a
    // sample first fell inside the window.
    let mut crashes: Vec<(usize, u64, u64, Option<u64>)> = config
        .faults
        .iter()
        .filter_map(|f| match f.kind {
            crate::scenario::resolve::FaultKind::Crash { node } => Some((
                world.nodes.nodes[node as usize].nic.0 as usize,
                f.from_ns,
                f.until_ns.unwrap_or(u64::MAX),
                None,
            )),
            _ => None,
        })
        .collect();
    let mut t = SimTime::ZERO;
    while t < end {
        t = (t + SimDuration::from_ms(37)).min(end);
        sched.run(&mut world, RunLimit::Until(t));
        check_instant(&world)?;
        let accounts = world.net.nic_accounts();
        for (nic, from, until, offered) in &mut crashes {
            let now = t.as_ns();
            if now < *from || now >= *until {
                continue;
            }
            // Nothing reaches a crashed node: its ingress is offered no byte while it
            // is down (samples after its first inside the window).
            let seen = accounts[*nic].ingress.offered;
            match offered {
                None => *offered = Some(seen),
                Some(before) => prop_assert_eq!(*before, seen, "a byte reached a crashed node"),
            }
        }
    }
    let replies = std::mem::take(&mut world.replies_seen);
    let sent = world.clients.sent_total();
    let in_flight = world.requests.len() as u64;
    let reset = world.faults.requests_reset;
    let orphaned = orphaned_requests(&world);
    let result = world.finish(sched.events_run());
    // Requests issued = completed + in flight + reset with their connection; the
    // transport retransmits every loss, so no other request is lost for good. (An
    // orphaned request is both in the table and counted as reset until its batch ends.)
    prop_assert_eq!(
        sent + orphaned,
        result.simulation.requests_completed_total + in_flight + reset,
        "issued = completed + in flight + reset"
    );
    prop_assert_eq!(result.simulation.requests_sent, sent);
    prop_assert_eq!(result.simulation.requests_in_flight, in_flight);
    Ok((result, replies))
}

/// Requests in batches orphaned by a connection reset.
fn orphaned_requests(world: &World) -> u64 {
    world
        .engine
        .conns
        .iter()
        .filter(|c| c.orphaned)
        .map(|c| c.batch.len as u64)
        .sum()
}

/// The checks of one instant.
pub(super) fn check_instant(world: &World) -> Result<(), TestCaseError> {
    // A request is in exactly one place: the places, counted independently, add up to
    // the request table, and so do the clients' own outstanding counts.
    let table = world.requests.len() as u64;
    let mut on_network = 0;
    for kind in [FlowKind::ClientRequest, FlowKind::ClientReply] {
        for i in 0..world.flows.count(kind) {
            let stats = world.net.flow_stats(world.flows.flow(kind, i));
            on_network += stats.messages_sent - stats.messages_delivered - stats.discarded_messages;
        }
    }
    let (waiting, in_batch) = world.engine.queued_requests();
    let parsing = world.clients.awaiting_parse;
    let retrying = world.clients.awaiting_retry;
    prop_assert_eq!(
        on_network + waiting + in_batch + parsing + retrying,
        table,
        "requests on the network {} + waiting {} + in a batch {} + waiting for their client's parse {} + waiting to be retried {} = in flight",
        on_network,
        waiting,
        in_batch,
        parsing,
        retrying
    );
    let outstanding: u64 = world
        .clients
        .clients
        .iter()
        .map(|c| c.outstanding as u64)
        .sum();
    // Orphaned requests (their connection reset while a node thread held their batch)
    // have left their clients and wait in the table for the batch to end.
    // A client's map refresh is in the table, outside its pipeline.
    let refreshing = world
        .clients
        .clients
        .iter()
        .filter(|c| c.refreshing)
        .count() as u64;
    let timed_out = world.clients.timed_out_in_flight;
    prop_assert_eq!(
        outstanding + refreshing + timed_out + orphaned_requests(world),
        table
    );
    // Per NIC direction, from the network's own account: offered = passed + queued +
    // in service + dropped + discarded.
    for a in world.net.nic_accounts() {
        prop_assert!(a.egress.holds() && a.ingress.holds(), "{:?}", a);
    }
    // Per NIC direction: offered = served (its last bit possibly still on the wire) +
    // queued + dropped + discarded by a flow's reset.
    for nic in world.net.nics() {
        for shaper in [&nic.egress, &nic.ingress] {
            let c = &shaper.counters;
            prop_assert_eq!(
                c.offered_wire_bytes,
                c.wire_bytes
                    + shaper.queued_wire_bytes()
                    + c.dropped_wire_bytes
                    + c.discarded_wire_bytes
            );
        }
    }
    // And over the whole network, from the messages' own states.
    prop_assert!(world.net.conservation().holds());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Over random small scenarios with random fault timelines: a request is in exactly
    /// one place at every sampled instant (on the network, waiting on its connection,
    /// in its connection's batch, or delivered and waiting for its client's thread to
    /// parse it); no host's threads consume more than its vCPUs in any second; at the
    /// end, requests issued = completed + in flight + reset with their connection (none
    /// is otherwise dropped for good: the transport retransmits); per NIC direction,
    /// wire bytes offered = served + queued + dropped + discarded at every instant, by
    /// the shaper's counters and by the network's own account; no byte reaches a
    /// crashed node while it is down; replies on a connection arrive in the order its
    /// requests were sent; the same scenario and seed give the same result digest, and
    /// another seed a different one where timing is random (Poisson arrivals, jitter,
    /// loss or a degradation; random keys alone may leave every figure the same).
    #[test]
    fn the_world_keeps_its_invariants(case in cases()) {
        let config = case.config();
        let (result, replies) = run_checked(&case, &config)?;

        for (h, host) in result.hosts.iter().enumerate() {
            for s in 0..result.seconds() {
                let busy_ns: u64 = result
                    .resources_of(h)
                    .filter(|r| r.kind == super::results::ResourceKind::Cpu)
                    .map(|r| r.used_per_s.get(s).copied().unwrap_or(0))
                    .sum();
                prop_assert!(
                    busy_ns <= u64::from(host.vcpus) * 1_000_000_000,
                    "{} second {}: {} vCPU-ns on {} vCPUs", host.name, s, busy_ns, host.vcpus
                );
            }
        }

        let mut last: BTreeMap<u32, u64> = BTreeMap::new();
        for (conn, seq) in replies {
            if let Some(&before) = last.get(&conn) {
                prop_assert!(seq > before, "connection {} replied {} after {}", conn, seq, before);
            }
            last.insert(conn, seq);
        }

        let (again, _) = run_checked(&case, &config)?;
        prop_assert_eq!(again.digest(), result.digest(), "same seed, same digest");
        if !case.timing_is_random() {
            return Ok(());
        }
        let mut reseeded = config.clone();
        reseeded.seed = config.seed.wrapping_add(1);
        let (mut other, _) = run_checked(&case, &reseeded)?;
        // Compared without the configuration, which names the seed: the figures differ.
        other.config = result.config.clone();
        prop_assert_ne!(other.digest(), result.digest(), "another seed, another digest");
    }
}
