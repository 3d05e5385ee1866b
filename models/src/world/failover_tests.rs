//! Failover at the replication level, driven step by step: a World runs to an instant,
//! the test promotes a replica or has a node rejoin as the cluster bus will, writes go
//! straight to a node's store (client routing does not follow a promotion yet), and
//! the run goes on. The checks: what a promotion reports lost is exactly the writes
//! acknowledged and never received, the new primary's log grows with its writes, a
//! deposed primary restarts as no shard's primary, rejoins with a full resync, and the
//! other replicas continue with a partial resync through the previous replication id;
//! every replica ends with its primary's data; cross-zone bytes follow a re-pointed
//! link's new ends.

use super::{Ev, World};
use crate::scenario::load_str;
use crate::scenario::resolve::RunConfig;
use crate::world::replication::{DisconnectReason, LinkEvent, RoleChangeKind};
use sim::{RunLimit, Scheduler, SimTime};
use store_core::{Arg, Session};

/// One shard of `replicas` replicas, GET-only clients (so the test's own writes are
/// the only ones), no diskless sync delay (a full resync forks at once), a PING a
/// second to attached replicas, the faults given, 6 s.
fn config(replicas: u32, faults: &str) -> RunConfig {
    config_in_zones(replicas, faults, false)
}

/// [`config`]; with `zones`, the primary and the clients in zone a, the replicas in b.
fn config_in_zones(replicas: u32, faults: &str, zones: bool) -> RunConfig {
    let (network, cluster, clients) = if zones {
        (
            r#", zones: ["a", "b"], cross_zone_latency_us: 500"#,
            r#"zones: ["a"], replica_zones: ["b"],"#,
            r#"zones: ["a"],"#,
        )
    } else {
        ("", "", "")
    };
    let text = format!(
        r#"(
        name: "failover", description: "failover", seed: 3, duration_ms: 6000, warmup_ms: 0,
        network: (latency_us: 40, tcp_reset_after_ms: 10000{network}),
        faults: [{faults}],
        instances: {{
            "small": (vcpu: 2, memory_bytes: 4_294_967_296, baseline_bits_per_s: 200000000,
                      queue_limit_bytes: 16777216, source: "test"),
        }},
        cluster: (engine: redis, mode: standalone, shards: 1, instance: "small",
                  replicas_per_shard: {replicas}, {cluster}
                  replication: (diskless_sync_delay_s: 0, ping_replica_period_s: 1)),
        clients: ({clients} workload: (ratio: "0:1", key_maximum: 500, data_size: 100, pipeline: 1,
                             clients: 2, threads: 1, rate_limiting: 20, test_time_s: 6)),
        prefill: (keys: 500, value_bytes: 100),
        )"#
    );
    load_str(&text, "failover.ron")
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .resolved_variants()[0]
        .config
        .clone()
}

/// Writes `key` (a value of 200 bytes) on `node`'s store now, as a client's batch
/// would: its propagated commands enter the log and its acknowledgement leaves at
/// once. Returns the stream bytes it propagated.
fn write(world: &mut World, sched: &mut Scheduler<Ev>, node: u32, key: &str) -> u64 {
    let now = sched.now();
    let n = &mut world.nodes.nodes[node as usize];
    let argv = [
        Arg::Bytes(b"SET"),
        Arg::Bytes(key.as_bytes()),
        Arg::Synthetic { len: 200, seed: 7 },
    ];
    let reply = n.execute(&mut Session::new(1), &argv, super::now_unix_ms(now));
    assert!(!reply.is_error(), "{reply:?}");
    let mut cmds = Vec::new();
    n.db.only_mut().drain_propagated(&mut cmds);
    let bytes = cmds.iter().map(|c| store_core::repl::command_len(c)).sum();
    assert!(
        world.replication.propagates(node),
        "node {node} is the primary"
    );
    world.replication.record(node, &mut cmds);
    let (mut ctx, replication, _) = world.ctx_for_replication(sched);
    replication.commit(&mut ctx, node);
    bytes
}

fn run_to(world: &mut World, sched: &mut Scheduler<Ev>, ms: u64) {
    sched.run(world, RunLimit::Until(SimTime::from_ns(ms * 1_000_000)));
}

/// One replica: the primary (node 0) is cut from its replica at 800 ms and crashes at
/// 1 s (back, empty, at 2 s). The replica (node 1) is promoted at 1.2 s: exactly the 30
/// writes acknowledged during the cut are reported lost, with their stream bytes;
/// writes on node 1 then grow its log (after a SELECT, as a new primary's stream
/// starts) under a new id whose replid2 is the old one. The old primary restarts as
/// no shard's primary (the log is untouched, its store empty), rejoins as a replica
/// at 2.1 s, resyncs in full and ends with node 1's data; the results list both role
/// changes.
#[test]
fn promoted_replica_takes_writes_and_the_old_primary_rejoins_with_a_full_resync() {
    let config = config(
        1,
        r#"(at_ms: 800, for_ms: 400, outage: (["redis-0"], ["redis-0-r1"])),
           (at_ms: 1000, for_ms: 1000, crash: "redis-0"),"#,
    );
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build(&config, &mut sched).expect("builds");
    run_to(&mut world, &mut sched, 500);
    for i in 0..50 {
        write(&mut world, &mut sched, 0, &format!("a:{i}"));
    }
    run_to(&mut world, &mut sched, 900);
    let received_before_cut = world.replication.offsets()[0];
    assert_eq!(
        received_before_cut.applied, received_before_cut.primary_offset,
        "the replica had everything before the cut"
    );
    let mut cut_bytes = 0;
    for i in 0..30 {
        cut_bytes += write(&mut world, &mut sched, 0, &format!("b:{i}"));
    }
    run_to(&mut world, &mut sched, 1200);
    let (old_offset, old_id, _) = world.replication.log_state(0);
    assert_eq!(old_offset, received_before_cut.applied + cut_bytes);
    let p = world.promote(&mut sched, 1);
    assert_eq!((p.shard, p.previous_primary), (0, 0));
    assert_eq!(p.offset, received_before_cut.applied);
    assert_eq!((p.lost_writes, p.lost_stream_bytes), (30, cut_bytes));
    assert!(world.replication.propagates(1) && !world.replication.propagates(0));
    assert_eq!(world.replication.link_of(1), None);
    let (offset, id, replid2) = world.replication.log_state(0);
    assert_eq!((offset, replid2), (p.offset, Some(old_id)));
    assert_ne!(id, old_id);
    let mut new_bytes = 0;
    for i in 0..20 {
        new_bytes += write(&mut world, &mut sched, 1, &format!("c:{i}"));
    }
    let select = store_core::repl::command_len(&store_core::repl::select_db0());
    assert_eq!(
        world.replication.log_state(0).0,
        p.offset + select + new_bytes
    );

    run_to(&mut world, &mut sched, 2100);
    assert!(!world.nodes.nodes[0].down);
    assert_eq!(world.nodes.nodes[0].db.dbsize(), 0, "restarted empty");
    assert!(!world.replication.propagates(0), "not a primary again");
    assert_eq!(
        world.replication.log_state(0).1,
        id,
        "its restart left the log"
    );
    world.rejoin_as_replica(&mut sched, 0);
    assert_eq!(world.replication.link_of(0), Some(0));
    // Half a second after a cron, its PING has arrived.
    run_to(&mut world, &mut sched, 5500);
    let o = world.replication.offsets()[0];
    assert_eq!(o.replica_replid, Some(o.primary_replid));
    assert_eq!(o.applied, o.primary_offset);
    let digest = |n: usize| world.nodes.nodes[n].db.state_digest();
    assert_eq!(
        digest(0),
        digest(1),
        "the rejoined node holds its primary's data"
    );
    // Prefill, the writes before the cut, and the new primary's: none of the lost ones.
    assert_eq!(world.nodes.nodes[1].db.dbsize(), 500 + 50 + 20);

    let result = world.finish(sched.events_run());
    let repl = result.replication.as_ref().expect("replication results");
    let x = &repl.replicas[0];
    assert_eq!(
        (x.name.as_str(), x.primary.as_str()),
        ("redis-0", "redis-0-r1")
    );
    let full_after_rejoin = x
        .events
        .iter()
        .filter(|e| matches!(e, LinkEvent::FullResync { at_ns, .. } if *at_ns >= 2_100_000_000))
        .count();
    assert_eq!(full_after_rejoin, 1, "{:?}", x.events);
    assert_eq!(repl.primaries[0].name, "redis-0-r1");
    let changes: Vec<_> = repl
        .role_changes
        .iter()
        .map(|c| {
            (
                c.at_ns,
                c.kind,
                c.node.as_str(),
                c.primary.as_str(),
                c.lost_writes,
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                1_200_000_000,
                RoleChangeKind::Promoted,
                "redis-0-r1",
                "redis-0",
                30
            ),
            (
                2_100_000_000,
                RoleChangeKind::Rejoined,
                "redis-0",
                "redis-0-r1",
                0
            ),
        ]
    );
}

/// Two replicas: node 2 is cut from the primary at 800 ms, so it misses the 25 writes
/// made then, which node 1 receives; the primary crashes at 1 s and node 1 is promoted
/// at 1.2 s, losing nothing. Node 2 drops its link for the failover, reconnects to node
/// 1 with its old id and offset, and continues with a partial resync through replid2
/// (no full resync after the promotion) that carries the writes it missed and node 1's
/// own; it ends with node 1's data and id, and node 1 PINGs it as a primary does. The
/// old primary then rejoins with a full
/// resync, and all three hold the same data.
#[test]
fn the_other_replica_continues_through_replid2() {
    let config = config(
        2,
        r#"(at_ms: 800, for_ms: 400, outage: (["redis-0"], ["redis-0-r2"])),
           (at_ms: 1000, for_ms: 1000, crash: "redis-0"),"#,
    );
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build(&config, &mut sched).expect("builds");
    run_to(&mut world, &mut sched, 500);
    for i in 0..40 {
        write(&mut world, &mut sched, 0, &format!("a:{i}"));
    }
    run_to(&mut world, &mut sched, 900);
    let mut missed_bytes = 0;
    for i in 0..25 {
        missed_bytes += write(&mut world, &mut sched, 0, &format!("b:{i}"));
    }
    run_to(&mut world, &mut sched, 1200);
    let before = world.replication.offsets();
    assert_eq!(
        before[0].applied, before[0].primary_offset,
        "node 1 has it all"
    );
    assert_eq!(before[1].applied + missed_bytes, before[1].primary_offset);
    // What an election ranks the replicas by.
    let rank = |n| world.replication.replica_offset(n);
    assert_eq!(
        (rank(0), rank(1), rank(2)),
        (None, Some(before[0].applied), Some(before[1].applied))
    );
    let p = world.promote(&mut sched, 1);
    assert_eq!((p.lost_writes, p.lost_stream_bytes), (0, 0));
    let mut new_bytes = 0;
    for i in 0..10 {
        new_bytes += write(&mut world, &mut sched, 1, &format!("c:{i}"));
    }
    run_to(&mut world, &mut sched, 4500);
    let o = world.replication.offsets()[1];
    assert_eq!(
        o.replica_replid,
        Some(o.primary_replid),
        "took up the new id"
    );
    assert_eq!(o.applied, o.primary_offset);
    // The new primary PINGs its replica once it is attached (cron at 3 s: node 2's
    // PSYNC goes out after the PINGs; at 4 s: one PING).
    let select = store_core::repl::command_len(&store_core::repl::select_db0());
    assert_eq!(o.primary_offset, p.offset + select + new_bytes + 14);
    let digest = |world: &World, n: usize| world.nodes.nodes[n].db.state_digest();
    assert_eq!(digest(&world, 2), digest(&world, 1));
    world.rejoin_as_replica(&mut sched, 0);
    run_to(&mut world, &mut sched, 5500);
    assert_eq!(digest(&world, 0), digest(&world, 1));
    assert_eq!(world.nodes.nodes[1].db.dbsize(), 500 + 40 + 25 + 10);

    let result = world.finish(sched.events_run());
    let repl = result.replication.as_ref().expect("replication results");
    let x = &repl.replicas[1];
    assert_eq!(
        (x.name.as_str(), x.primary.as_str()),
        ("redis-0-r2", "redis-0-r1")
    );
    let after: Vec<_> = x
        .events
        .iter()
        .filter(|e| {
            let at = match e {
                LinkEvent::Disconnect { at_ns, .. }
                | LinkEvent::PartialResync { at_ns, .. }
                | LinkEvent::FullResync { at_ns, .. } => *at_ns,
            };
            at >= 1_200_000_000
        })
        .collect();
    assert!(
        matches!(
            after.as_slice(),
            [
                LinkEvent::Disconnect { reason: DisconnectReason::Failover, .. },
                LinkEvent::PartialResync { payload_bytes, .. },
            ] if *payload_bytes >= missed_bytes + new_bytes
        ),
        "{after:?}"
    );
    // The old primary's slot: a full resync from node 1.
    let old = &repl.replicas[0];
    assert_eq!(old.name, "redis-0");
    assert_eq!(old.full_resyncs(), 1, "{:?}", old.events);
}

/// Cross-zone bytes follow a link's ends after a failover: with the primary in zone a
/// and both replicas in b, node 2's stream crosses zones until node 1 is promoted; its
/// partial resync and stream from node 1 then stay in zone b and add nothing to its
/// cross-zone bytes, though it receives the writes made on node 1.
#[test]
fn cross_zone_bytes_follow_a_re_pointed_link() {
    let config = config_in_zones(2, r#"(at_ms: 1000, for_ms: 1000, crash: "redis-0"),"#, true);
    assert_eq!(config.zones.node_zones, [0, 1, 1]);
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build(&config, &mut sched).expect("builds");
    run_to(&mut world, &mut sched, 500);
    for i in 0..20 {
        write(&mut world, &mut sched, 0, &format!("a:{i}"));
    }
    run_to(&mut world, &mut sched, 1200);
    let received = |world: &World| {
        world
            .zone_traffic
            .as_ref()
            .expect("zones are named")
            .node_received[2]
    };
    let before = received(&world);
    assert!(before > 0, "the primary's stream crossed zones");
    let offset_before = world.replication.offsets()[1].applied;
    world.promote(&mut sched, 1);
    for i in 0..20 {
        write(&mut world, &mut sched, 1, &format!("c:{i}"));
    }
    run_to(&mut world, &mut sched, 4500);
    assert!(world.replication.offsets()[1].applied > offset_before);
    assert_eq!(received(&world), before, "node 1 to node 2 stays in zone b");
}
