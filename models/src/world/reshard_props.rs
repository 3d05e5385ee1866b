//! Property tests of resharding over random timelines (shards added, slots moved to
//! them and back, any pipeline), each stated in words on its test.

use super::{Ev, World};
use crate::scenario::load_str;
use proptest::prelude::*;
use sim::Scheduler;
use store_core::{Db, NodeRef, SlotState};

/// A 3-shard cluster (`replicas` each) of 3,000 prefilled keys under light load
/// (`read_only`: GETs only), growing by `added` shards at 1 s; then `first` slots move
/// to redis-3 (from every primary, or from redis-0 and redis-2), and `back` slots (if
/// any) from redis-3 to redis-1, then (`late_add`) one more shard joins, after the
/// slots moved; when `outage_ms` is not 0, nothing crosses between
/// redis-0 and redis-3 for that long from 1.3 s (a MIGRATE caught in it waits).
#[allow(clippy::too_many_arguments)]
fn config(
    replicas: u32,
    read_only: bool,
    added: u32,
    first: u32,
    some_sources: bool,
    back: u32,
    pipeline: u32,
    outage_ms: u64,
    late_add: bool,
) -> crate::scenario::resolve::RunConfig {
    let from = if some_sources {
        r#", from: ["redis-0", "redis-2"]"#
    } else {
        ""
    };
    let back = if back > 0 {
        format!(r#", (at_ms: 1500, reshard: (to: "redis-1", slots: {back}, from: ["redis-3"]))"#)
    } else {
        String::new()
    };
    let late = if late_add {
        ", (at_ms: 1600, add_shards: 1)"
    } else {
        ""
    };
    let ratio = if read_only { "0:1" } else { "1:4" };
    let faults = if outage_ms > 0 {
        format!(
            r#"faults: [(at_ms: 1300, for_ms: {outage_ms}, outage: (["redis-0"], ["redis-3"]))],"#
        )
    } else {
        String::new()
    };
    let text = format!(
        r#"(name: "p", description: "p", seed: {seed}, duration_s: 30, warmup_s: 1,
            network: (latency_us: 50),
            cluster: (engine: redis, mode: cluster, shards: 3, replicas_per_shard: {replicas},
                      instance: "cache.r7g.large"),
            clients: (hosts: 1,
                      workload: (ratio: "{ratio}", key_maximum: 2999, data_size: 100,
                                 clients: 4, threads: 1, rate_limiting: 200, test_time_s: 30)),
            prefill: (keys: 3000, key_minimum: 0, value_bytes: 100), {faults}
            resharding: [(at_ms: 1000, add_shards: {added}),
                         (at_ms: 1200, reshard: (to: "redis-3", slots: {first}, pipeline: {pipeline}{from})){back}{late}])"#,
        seed = u64::from(first) % 89,
    );
    load_str(&text, "p.ron").expect("loads").resolved_variants()[0]
        .config
        .clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// After every reshard of the timeline has ended (a partition between a source and
    /// the target included, and a shard added after the moves): every key is on the primary of
    /// its slot's shard now, so every key of a moved slot is on its new owner and none
    /// is left on the old one; with GETs only, the primaries together hold exactly the
    /// keys and values they held before (migration moves keys, never loses, duplicates
    /// or changes one); every primary's store owns exactly its shard's slots and sends
    /// every other slot to its owner; and no request was answered by a node that, in
    /// its own view at that moment, neither owned the slot nor imported it under ASKING.
    #[test]
    fn after_a_reshard_every_key_is_on_its_slot_owner(
        replicas in 0u32..2, read_only in any::<bool>(), added in 1u32..3,
        first in 1u32..4_000, some_sources in any::<bool>(), back in 0u32..600,
        pipeline in 1u32..25, outage_ms in prop_oneof![Just(0u64), 200u64..3_000],
        late_add in any::<bool>(),
    ) {
        let back = back.min(first / 2);
        let config = config(replicas, read_only, added, first, some_sources, back, pipeline, outage_ms, late_add);
        let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
        let mut world = World::build(&config, &mut sched).expect("builds");
        let primaries_digest = |w: &World| {
            let dbs: Vec<&Db> = (0..config.cluster.total_shards())
                .map(|s| w.nodes.nodes[w.replication.primary_of(s) as usize].db.only())
                .collect();
            Db::union_state_digest(&dbs)
        };
        let before = primaries_digest(&world);
        world.run(&mut sched);
        let result = world.resharding.finish().expect("a timeline");
        for step in &result.steps {
            prop_assert!(step.ended_ns.is_some(), "{:?}", step);
            prop_assert_eq!(step.slots_moved, step.slots_planned);
        }
        prop_assert_eq!(world.engine.answered_by_non_owner, 0);
        if read_only {
            prop_assert_eq!(primaries_digest(&world), before);
        }
        let bus = world.bus.as_ref().expect("a bus");
        let owners = bus.slot_shards().to_vec();
        let moved = owners.iter().filter(|&&s| s >= 3).count();
        prop_assert!(moved > 0);
        // Every node, replicas too (they applied their primary's DELs and RESTOREs,
        // and learned the new owners from the bus).
        let primaries: Vec<u32> = (0..config.cluster.total_shards())
            .map(|s| world.replication.primary_of(s))
            .collect();
        for n in world.nodes.nodes.iter_mut() {
            for slot in 0..16_384u16 {
                let owner = owners[usize::from(slot)];
                let want = if owner == n.shard {
                    SlotState::Owned
                } else {
                    SlotState::Elsewhere(NodeRef(primaries[owner as usize] as u16))
                };
                prop_assert_eq!(n.db.slot_state(slot), Some(want), "slot {} on {}", slot, &n.name);
                if owner != n.shard {
                    prop_assert_eq!(n.db.only_mut().count_keys_in_slot(slot), 0, "slot {} left on {}", slot, &n.name);
                }
            }
        }
    }
}
