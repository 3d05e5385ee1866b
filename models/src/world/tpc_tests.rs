//! Tests of the thread-per-core engine in a world: keys live on the thread shard their
//! hash names, a command hops when another thread owns its key, threads beyond the
//! vCPUs share them, and the kernel's network work takes the vCPUs the threads leave.

use super::{Ev, RunResult, World};
use crate::scenario::load_str;
use crate::scenario::resolve::RunConfig;
use sim::Scheduler;
use store_core::{Arg, Reply, Session};

fn config(instance: &str, threads: u32, extra_cluster: &str, workload: &str, ms: u64) -> RunConfig {
    let text = format!(
        r#"(
        name: "tpc", description: "thread-per-core", seed: 3, duration_ms: {ms},
        cluster: (engine: dragonfly, instance: "{instance}", node: (threads: {threads}){extra_cluster}),
        clients: (workload: ({workload})),
        prefill: (keys: 2000, key_minimum: 1, value_bytes: 100),
    )"#
    );
    let scenario = load_str(&text, "tpc.ron").expect("the test scenario loads");
    scenario.resolved_variants()[0].config.clone()
}

fn run(config: &RunConfig) -> RunResult {
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build(config, &mut sched).expect("the world builds");
    world.run(&mut sched);
    world.finish(sched.events_run())
}

/// Whether shard `s` of node 0 holds `key`.
fn holds(world: &World, s: usize, key: &str) -> bool {
    holds_on(world, 0, s, key)
}

/// Whether thread shard `s` of node `node` holds `key`.
fn holds_on(world: &World, node: usize, s: usize, key: &str) -> bool {
    let mut db = world.nodes.nodes[node].db.shards()[s].clone();
    let mut rng = sim::RngStreams::new(0).stream("probe", 0);
    db.execute(
        &mut Session::new(999),
        &[Arg::Bytes(b"EXISTS"), Arg::Bytes(key.as_bytes())],
        super::EPOCH_UNIX_MS,
        &mut rng,
    ) == Reply::Integer(1)
}

/// Every key, prefilled or written during the run, lives in exactly one thread shard:
/// the one XXH64 names (Dragonfly's `Shard()`).
#[test]
fn every_key_lives_in_exactly_one_thread_shard() {
    let c = config(
        "c7gn.16xlarge",
        4,
        "",
        r#"ratio: "1:1", key_minimum: 1, key_maximum: 4000, data_size: 100, clients: 4, threads: 2, requests: 300"#,
        500,
    );
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build(&c, &mut sched).expect("the world builds");
    world.run(&mut sched);
    let db = &world.nodes.nodes[0].db;
    assert_eq!(db.shard_count(), 4);
    let mut found = 0;
    for k in 1..=4000u64 {
        let key = format!("memtier-{k}");
        let holders: Vec<usize> = (0..4).filter(|&s| holds(&world, s, &key)).collect();
        assert!(holders.len() <= 1, "{key} on {holders:?}");
        if let Some(&s) = holders.first() {
            assert_eq!(s, db.shard_of(key.as_bytes()), "{key}");
            found += 1;
        }
    }
    // The 2,000 prefilled keys, and some of the 2,000 more the SETs wrote.
    assert!(found > 2_000, "{found}");
    assert_eq!(found, db.dbsize());
    // Each shard holds about a quarter.
    for part in db.shards() {
        let share = part.dbsize() as f64 / found as f64;
        assert!((0.2..0.3).contains(&share), "{share}");
    }
}

/// With T threads and keys spread uniformly, a command's key is on another thread
/// (T - 1) / T of the time: that share of commands hops, the rest runs inline.
#[test]
fn commands_hop_when_another_thread_owns_their_key() {
    for threads in [1u32, 2, 8] {
        let c = config(
            "c7gn.16xlarge",
            threads,
            "",
            r#"ratio: "1:10", key_minimum: 1, key_maximum: 2000, data_size: 100, clients: 8, threads: 2, requests: 500"#,
            2_000,
        );
        let r = run(&c);
        let t = r.thread_per_core.as_ref().expect("thread-per-core results");
        let commands = t.inline_commands + t.hops;
        assert_eq!(commands, 16 * 500, "every request executed once");
        let hop_share = t.hops as f64 / commands as f64;
        let expected = f64::from(threads - 1) / f64::from(threads);
        assert!(
            (hop_share - expected).abs() < 0.03,
            "{threads} threads: {hop_share}"
        );
    }
}

/// Threads beyond the vCPUs share them: 8 threads on a 2-vCPU instance never use more
/// than 2 vCPU-seconds a second, and serve no more than 2 vCPUs allow at the engine's
/// cost per command.
#[test]
fn threads_beyond_the_vcpus_share_them() {
    let c = config(
        "cache.r7g.large",
        8,
        ", cpu_cost: (kernel_per_request_ns: 0)",
        r#"ratio: "0:1", key_minimum: 1, key_maximum: 2000, data_size: 100, clients: 50, threads: 4"#,
        3_000,
    );
    assert_eq!(c.cluster.instance.spec.vcpu, 2);
    let r = run(&c);
    for s in 0..3 {
        let used: u64 = r
            .resources_of(0)
            .filter(|x| x.thread.is_some())
            .map(|x| x.used_per_s.get(s).copied().unwrap_or(0))
            .sum();
        assert!(used <= 2_000_000_000, "second {s}: {used} vCPU-ns");
    }
    // Each GET costs at least a read, a command and, 7 times in 8, a hop on two threads.
    let cost = &r.cpu_cost;
    let min_ns = (cost.per_read_batch_ns + cost.per_command_ns) as f64
        + 7.0 / 8.0 * 2.0 * cost.per_hop_ns as f64;
    let ceiling = 2e9 / min_ns;
    let ops = (r.sets.count + r.gets.count) as f64 / 3.0;
    assert!(ops <= ceiling, "{ops} > {ceiling}");
    assert!(ops > 0.8 * ceiling, "{ops} far below {ceiling}");
}

/// When the threads occupy every vCPU, the kernel's network work takes its share first:
/// the same run with it serves less, by about what it costs.
#[test]
fn the_kernel_network_work_takes_the_vcpus_the_threads_leave() {
    let base = |kernel_ns: u64| {
        config(
            "cache.r7g.large",
            2,
            &format!(", cpu_cost: (kernel_per_request_ns: {kernel_ns})"),
            r#"ratio: "0:1", key_minimum: 1, key_maximum: 2000, data_size: 100, clients: 50, threads: 4"#,
            2_000,
        )
    };
    let without = run(&base(0));
    let with = run(&base(3_000));
    let ops = |r: &RunResult| (r.sets.count + r.gets.count) as f64;
    let t = with.thread_per_core.as_ref().expect("thread-per-core");
    let kernel_ns: u64 = t.kernel_ns_per_s[0].iter().sum();
    // 3 us a request of the kernel's, recorded as it was applied.
    let expected = ops(&with) * 3_000.0;
    assert!(
        (kernel_ns as f64 - expected).abs() < 0.02 * expected,
        "{kernel_ns} vs {expected}"
    );
    // Both threads saturate both vCPUs: the kernel's vCPU-seconds come out of theirs.
    let per_op = |r: &RunResult| 2.0 * 2e9 / ops(r);
    assert!(ops(&with) < ops(&without));
    let slower = per_op(&with) - per_op(&without);
    assert!(
        (slower - 3_000.0).abs() < 600.0,
        "{slower} ns more a request"
    );
}

/// A cluster of thread-per-core nodes has no gossip bus: a control plane gave every
/// node the slot table, clients route by slot from the start, and each key lives on its
/// slot's owner only, in the thread shard its hash tag names; no request is redirected.
#[test]
fn a_control_plane_cluster_keeps_each_key_at_its_slot_owner() {
    let c = config(
        "c7gn.16xlarge",
        4,
        ", mode: cluster, shards: 3",
        r#"ratio: "1:1", key_minimum: 1, key_maximum: 3000, data_size: 100, clients: 4, threads: 2, requests: 300"#,
        500,
    );
    assert!(c.cluster.bus.is_none());
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build(&c, &mut sched).expect("the world builds");
    assert!(world.bus.is_none());
    world.run(&mut sched);
    let mut found = 0;
    for k in 1..=3000u64 {
        let key = format!("memtier-{k}");
        let slot = store_core::key_hash_slot(key.as_bytes());
        for node in 0..3 {
            let db = &world.nodes.nodes[node].db;
            for s in 0..4 {
                if holds_on(&world, node, s, &key) {
                    found += 1;
                    assert_eq!(
                        db.slot_state(slot),
                        Some(store_core::SlotState::Owned),
                        "{key} on {node}"
                    );
                    assert_eq!(s, db.shard_of(key.as_bytes()), "{key}");
                }
            }
        }
    }
    let total: u64 = world.nodes.nodes.iter().map(|n| n.db.dbsize()).sum();
    assert_eq!(found, total);
    assert!(found > 1_000, "{found}");
    let r = world.finish(sched.events_run());
    assert!(r.cluster_clients.is_none(), "no client was redirected");
    assert_eq!(r.sets.count + r.gets.count, 8 * 300);
}
