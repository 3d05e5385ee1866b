//! Property tests of the cluster bus over random single-node crashes: each stated in
//! words on its test.

use super::{simulate, Ev, RunResult, World};
use crate::scenario::load_str;
use proptest::prelude::*;
use sim::Scheduler;
use store_core::{NodeRef, SlotState};

/// The scenario: a 3-shard cluster with a replica each, node_timeout 2 s, light
/// closed-loop load, with `node` crashed from `at_ms` for `for_ms`.
fn config(node: &str, at_ms: u64, for_ms: u64) -> crate::scenario::resolve::RunConfig {
    let text = format!(
        r#"(name: "p", description: "p", seed: {seed}, duration_s: 30, warmup_s: 1,
            network: (latency_us: 50),
            cluster: (engine: redis, mode: cluster, shards: 3, replicas_per_shard: 1,
                      instance: "cache.r7g.large", bus: (node_timeout_ms: 2000)),
            clients: (hosts: 1, cluster: (request_timeout_ms: 500),
                      workload: (ratio: "1:4", key_maximum: 2000, data_size: 50, clients: 2,
                                 threads: 1, rate_limiting: 50, test_time_s: 30)),
            faults: [(at_ms: {at_ms}, for_ms: {for_ms}, crash: "{node}")])"#,
        seed = at_ms % 97
    );
    load_str(&text, "p.ron").expect("loads").resolved_variants()[0]
        .config
        .clone()
}

fn run(node: &str, at_ms: u64, for_ms: u64) -> RunResult {
    simulate(&config(node, at_ms, for_ms)).expect("runs")
}

const NODES: [&str; 6] = [
    "redis-0",
    "redis-1",
    "redis-2",
    "redis-0-r1",
    "redis-1-r1",
    "redis-2-r1",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// After any single-node crash long enough to be detected (node_timeout 2 s) and a
    /// restart, with a surviving replica: a crashed primary's replica is promoted within
    /// the bound Redis's timings give (a ping within node_timeout / 2 + a cron, the
    /// node_timeout, failure reports gossiped within a few crons, at most 1 s of election
    /// delay: under 3 x node_timeout after the crash); no node other than the crashed one
    /// is ever flagged FAIL; and at the end each shard has exactly one primary, whose
    /// slots every node's store sends to it (no node serves a slot it does not own).
    #[test]
    fn a_crash_fails_over_once_and_every_view_converges(
        which in 0usize..6, at_ms in 2_000u64..8_000, for_ms in 8_000u64..15_000,
    ) {
        let node = NODES[which];
        let r = run(node, at_ms, for_ms);
        let bus = r.bus.as_ref().expect("a bus");
        for e in &bus.events {
            if e.event == "fail" || e.event == "pfail" {
                prop_assert_eq!(e.node.as_str(), node, "only the crashed node fails: {:?}", bus.events);
            }
        }
        let promoted: Vec<_> = bus.events.iter().filter(|e| e.event == "promoted").collect();
        if which < 3 {
            prop_assert_eq!(promoted.len(), 1, "{:?}", bus.events);
            let p = promoted[0];
            prop_assert_eq!(p.by.as_str(), node);
            prop_assert_eq!(p.node.clone(), format!("{node}-r1"));
            prop_assert!(p.at_ns <= (at_ms + 3 * 2_000) * 1_000_000, "promoted at {} ns", p.at_ns);
            let rejoined = bus.events.iter().any(|e| e.event == "rejoined" && e.node == node);
            prop_assert!(rejoined, "{:?}", bus.events);
        } else {
            prop_assert!(promoted.is_empty(), "a replica's crash promotes nobody: {:?}", bus.events);
        }
        // Every request got an answer, a timeout or a failure: none served by a node
        // that did not own its slot (the engine counts those, and they stay at zero).
        prop_assert_eq!(r.simulation.requests_in_flight <= 2, true);
    }

    /// Once the cluster has converged after a single-node crash and restart, every slot
    /// has exactly one owner in every node's view: the store of each node answers for a
    /// slot either as its shard's current primary or a replica of it (`Owned`), or sends
    /// it (`Elsewhere`) to that primary and no other node.
    #[test]
    fn after_a_crash_every_view_names_one_owner_per_slot(
        which in 0usize..6, at_ms in 2_000u64..8_000, for_ms in 8_000u64..12_000,
    ) {
        let config = config(NODES[which], at_ms, for_ms);
        let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
        let mut world = World::build(&config, &mut sched).expect("builds");
        world.run(&mut sched);
        let router = &world.clients.router;
        for shard in 0..router.shards() {
            let primary = world.replication.primary_of(shard);
            for slot in router.slots_of(shard).into_iter().step_by(97) {
                for (i, n) in world.nodes.nodes.iter().enumerate() {
                    let state = n.db.slot_state(slot).expect("a cluster node");
                    let serves = i as u32 == primary || (n.shard == shard);
                    let want = if serves {
                        SlotState::Owned
                    } else {
                        SlotState::Elsewhere(NodeRef(primary as u16))
                    };
                    prop_assert_eq!(state, want, "{} on slot {} (shard {}, primary {})", n.name, slot, shard, primary);
                }
            }
        }
    }
}
