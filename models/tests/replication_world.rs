//! Replication in the simulated world, end to end from scenario text: where replicas
//! are placed among zones and what their streams cost across zones, min-replicas-to-write
//! refusing writes while a replica does not acknowledge, crashes of a primary or a
//! replica and the full resyncs they lead to, and link outages ending in a partial or a
//! full resync depending on repl-timeout and the backlog.

use models::scenario::load_str;
use models::scenario::resolve::RunConfig;
use models::world::replication::{DisconnectReason, LinkEvent, ReplicaResult};
use models::world::{simulate, RunResult};

fn config(text: &str) -> RunConfig {
    let s = load_str(text, "replication-world.ron").unwrap_or_else(|e| panic!("{e}\n{text}"));
    s.resolved_variants()[0].config.clone()
}

fn run(text: &str) -> RunResult {
    simulate(&config(text)).unwrap()
}

/// A standalone primary `redis-0` with one replica `redis-0-r1` on 1 Gbps NICs, fed by
/// 10 connections at `rate` requests a second each (SET:GET `ratio`) of 100-byte
/// values for `test_time_s`, over a run of `duration_s`, with `replication` settings
/// and `faults`.
fn one_replica(
    duration_s: u32,
    test_time_s: u32,
    ratio: &str,
    rate: u32,
    replication: &str,
    faults: &str,
) -> String {
    format!(
        r#"(
    name: "replication-world", description: "one replica", seed: 11,
    duration_s: {duration_s}, warmup_s: 0,
    network: (latency_us: 50),
    faults: [{faults}],
    instances: {{
        "gbit": (vcpu: 2, memory_bytes: 4_294_967_296, baseline_bits_per_s: 1_000_000_000,
                 source: "test"),
    }},
    cluster: (engine: redis, mode: standalone, instance: "gbit", replicas_per_shard: 1,
              replication: ({replication})),
    clients: (workload: (ratio: "{ratio}", key_minimum: 0, key_maximum: 99_999,
                         data_size: 100, pipeline: 1, clients: 10, threads: 1,
                         rate_limiting: {rate}, test_time_s: {test_time_s})),
    prefill: (keys: 5000, key_minimum: 0, value_bytes: 100),
)"#
    )
}

fn replica(r: &RunResult) -> &ReplicaResult {
    &r.replication
        .as_ref()
        .expect("replication results")
        .replicas[0]
}

/// Node indices of the standalone world: the primary, then its replica.
const PRIMARY: usize = 0;
const REPLICA: usize = 1;

// Zones.

fn zones_text(shards: u32, replicas: u32, replica_zones: &str) -> String {
    format!(
        r#"(
    name: "zones", description: "replica placement", seed: 1, duration_s: 1,
    network: (latency_us: 50, zones: ["a", "b", "c"]),
    cluster: (mode: cluster, shards: {shards}, instance: "cache.r7g.large",
              zones: ["a", "b", "c"], replicas_per_shard: {replicas} {replica_zones}),
    clients: (workload: (key_maximum: 2000, data_size: 100, clients: 2, threads: 1,
                         requests: 10)),
)"#
    )
}

/// By default (Multi-AZ), replica k of a shard goes to the k-th zone after its
/// primary's, skipping the primary's: with three zones, no replica shares its
/// primary's zone and a shard's two replicas are in the two other zones. Replica k of
/// shard s is node `shards + s * replicas + k`.
#[test]
fn replicas_default_to_other_zones_than_their_primary() {
    let (shards, replicas) = (3u32, 2u32);
    let c = config(&zones_text(shards, replicas, ""));
    let z = &c.zones.node_zones;
    assert_eq!(z.len(), (shards + shards * replicas) as usize);
    assert_eq!(&z[..3], &[0, 1, 2], "cluster.zones places the primaries");
    for s in 0..shards {
        let primary = z[s as usize];
        let of_shard: Vec<u32> = (0..replicas)
            .map(|k| z[(shards + s * replicas + k) as usize])
            .collect();
        assert!(
            of_shard.iter().all(|&r| r != primary),
            "shard {s}: replicas {of_shard:?} share the primary's zone {primary}"
        );
        assert_ne!(
            of_shard[0], of_shard[1],
            "shard {s}: both replicas in one zone"
        );
    }
}

/// `cluster.replica_zones` overrides the default: the replicas, shard by shard, take
/// its zones round robin, even when that puts one in its primary's zone.
#[test]
fn replica_zones_override_the_placement_round_robin() {
    let c = config(&zones_text(2, 2, r#", replica_zones: ["c", "a", "b"]"#));
    // Primaries a, b; replicas (shard 0: c, a), (shard 1: b, c).
    assert_eq!(c.zones.node_zones, vec![0, 1, 2, 0, 1, 2]);
    let c = config(&zones_text(2, 1, r#", replica_zones: ["a"]"#));
    assert_eq!(c.zones.node_zones, vec![0, 1, 0, 0]);
}

/// A world of one primary and one replica, clients in the primary's zone, writes only,
/// with `replica_zones` appended to the cluster (empty: the default placement, zone b).
fn cross_zone_run(replica_zones: &str) -> RunResult {
    run(&format!(
        r#"(
    name: "cross-zone", description: "replication across zones", seed: 2, duration_s: 2,
    warmup_s: 0,
    network: (latency_us: 50, zones: ["a", "b"]),
    cluster: (mode: standalone, instance: "cache.r7g.large", zones: ["a"],
              replicas_per_shard: 1 {replica_zones}),
    clients: (zones: ["a"],
              workload: (ratio: "1:0", key_maximum: 2000, data_size: 500, clients: 4,
                         threads: 1, rate_limiting: 100, test_time_s: 2)),
)"#
    ))
}

/// The replication stream is cross-zone traffic when the replica is in another zone
/// than its primary: the primary's cross-zone bytes sent are at least the replication
/// bytes its replica received (wire bytes carry headers too), and they are exactly
/// what the replica received across zones (the clients share the primary's zone, so
/// nothing else crosses). With the replica placed in the primary's zone, the primary
/// sends nothing across zones.
#[test]
fn replication_traffic_counts_as_cross_zone_only_across_zones() {
    let across = cross_zone_run("");
    assert_eq!(across.config.zones.node_zones, vec![0, 1]);
    let p = across.hosts[PRIMARY]
        .cross_zone_bytes
        .expect("zones are named");
    let r = across.hosts[REPLICA]
        .cross_zone_bytes
        .expect("zones are named");
    let delivered = across.replication.as_ref().unwrap().primaries[0].replication_bytes_delivered;
    assert!(
        delivered > 100_000,
        "the stream carried the writes: {delivered}"
    );
    assert!(p.sent >= delivered, "{} < {delivered}", p.sent);
    assert_eq!(p.sent, r.received);
    assert_eq!(p.received, r.sent);
    assert!(p.received > 0, "the replica's ACKs cross back");

    let same = cross_zone_run(r#", replica_zones: ["a"]"#);
    assert_eq!(same.config.zones.node_zones, vec![0, 0]);
    assert!(same.replication.as_ref().unwrap().primaries[0].replication_bytes_delivered > 100_000);
    let p = same.hosts[PRIMARY]
        .cross_zone_bytes
        .expect("zones are named");
    assert_eq!((p.sent, p.received), (0, 0));
}

// min-replicas-to-write.

/// 10 connections x 100 requests a second, SET:GET 1:1: 500 SETs a second.
const SETS_PER_S: u64 = 500;

fn min_replicas_run(duration_s: u32, min_replicas: u32, outage: bool) -> RunResult {
    let faults = if outage {
        r#"(at_ms: 2500, for_s: 3, outage: (["redis-0"], ["redis-0-r1"]))"#
    } else {
        ""
    };
    run(&one_replica(
        duration_s,
        duration_s,
        "1:1",
        100,
        &format!("min_replicas_to_write: {min_replicas}, min_replicas_max_lag_s: 1"),
        faults,
    ))
}

/// min-replicas-to-write 1 with a lag of 1 s: while an outage (2.5 s to 5.5 s) keeps
/// the only replica's ACKs from its primary, the primary refuses SETs (NOREPLICAS,
/// counted as errors) from its first cron that sees the last ACK over 1 s old, so
/// between about 1 and 4 s of SETs are refused (the ACKs held during the outage arrive
/// once retransmitted after it). Once the replica acknowledges again writes are
/// accepted: a run 4 s longer has exactly the same errors. With the replica
/// acknowledging throughout, or with the default (0, off) despite the outage, no write
/// is refused.
#[test]
fn min_replicas_to_write_refuses_writes_only_while_the_replica_is_silent() {
    let refused = min_replicas_run(10, 1, true);
    let errors = refused.simulation.errors;
    assert!(
        (SETS_PER_S..=4 * SETS_PER_S).contains(&errors),
        "errors {errors}: expected 1 to 4 s of SETs"
    );
    assert!(errors < refused.sets.count, "only some SETs are refused");
    // The replica was not dropped (repl-timeout 60 s) and got the writes accepted.
    assert_eq!(replica(&refused).disconnects(), 0);
    assert!(replica(&refused).in_sync_at_end);
    let longer = min_replicas_run(14, 1, true);
    assert_eq!(
        longer.simulation.errors, errors,
        "no write refused after the replica acknowledges again"
    );
    assert_eq!(min_replicas_run(10, 1, false).simulation.errors, 0);
    assert_eq!(min_replicas_run(10, 0, true).simulation.errors, 0);
}

// Crashes.

fn events_after(x: &ReplicaResult, at_ns: u64) -> Vec<LinkEvent> {
    x.events
        .iter()
        .copied()
        .filter(|e| {
            let t = match e {
                LinkEvent::Disconnect { at_ns, .. }
                | LinkEvent::PartialResync { at_ns, .. }
                | LinkEvent::FullResync { at_ns, .. } => *at_ns,
            };
            t >= at_ns
        })
        .collect()
}

const CRASH_AT_NS: u64 = 1_000_000_000;
const RESTART_AT_NS: u64 = 2_000_000_000;

/// Writes (SETs only, 1,000 a second) from 0 to 4 s; `node` crashes at 1 s and
/// restarts at 2 s; the run ends at 10 s, time to resync and drain (diskless sync
/// delay 0).
fn crash_run(node: &str) -> RunResult {
    run(&one_replica(
        10,
        4,
        "1:0",
        100,
        "diskless_sync_delay_s: 0",
        &format!(r#"(at_s: 1, for_s: 1, crash: "{node}")"#),
    ))
}

/// A primary that crashes and restarts comes back empty under a new replication id:
/// its replica's link is dropped at the restart and, on reconnecting, cannot continue
/// (its id is the old one), so it gets a full resync after the restart and none
/// partial. It then holds exactly what the primary holds: the keys written after the
/// restart, not the 5,000 prefilled ones it held before (which the primary lost).
#[test]
fn a_restarted_primary_full_resyncs_its_replica_to_its_new_data() {
    let r = crash_run("redis-0");
    let x = replica(&r);
    let after = events_after(x, RESTART_AT_NS);
    assert!(
        matches!(
            after.first(),
            Some(LinkEvent::Disconnect {
                at_ns: RESTART_AT_NS,
                reason: DisconnectReason::Restart,
                ..
            })
        ),
        "{:?}",
        x.events
    );
    assert!(
        after
            .iter()
            .any(|e| matches!(e, LinkEvent::FullResync { .. })),
        "{:?}",
        x.events
    );
    assert!(
        !after
            .iter()
            .any(|e| matches!(e, LinkEvent::PartialResync { .. })),
        "{:?}",
        x.events
    );
    assert!(x.in_sync_at_end, "{x:?}");
    let (primary_keys, replica_keys) = (r.hosts[PRIMARY].keys, r.hosts[REPLICA].keys);
    assert!(
        primary_keys > 0 && primary_keys < 5000,
        "the primary restarted empty and wrote some keys: {primary_keys}"
    );
    assert_eq!(replica_keys, primary_keys);
}

/// A replica that crashes and restarts has nothing to resume from: after its restart it
/// gets a full resync (never a partial one), and ends in sync with its primary, holding
/// the same number of keys.
#[test]
fn a_restarted_replica_gets_a_full_resync_and_ends_in_sync() {
    let r = crash_run("redis-0-r1");
    let x = replica(&r);
    let after = events_after(x, RESTART_AT_NS);
    assert!(
        after
            .iter()
            .any(|e| matches!(e, LinkEvent::FullResync { .. })),
        "{:?}",
        x.events
    );
    assert!(
        !after
            .iter()
            .any(|e| matches!(e, LinkEvent::PartialResync { .. })),
        "{:?}",
        x.events
    );
    assert!(
        events_after(x, CRASH_AT_NS).len() == x.events.len(),
        "nothing happened to the link before the crash: {:?}",
        x.events
    );
    assert!(x.in_sync_at_end, "{x:?}");
    assert_eq!(x.offset_end, x.primary_offset_end);
    assert!(r.hosts[PRIMARY].keys > 5000, "the writes added keys");
    assert_eq!(r.hosts[REPLICA].keys, r.hosts[PRIMARY].keys);
}

// Link outages.

/// Writes (SETs only, 1,000 a second of 100 bytes: about 150 KB of stream a second)
/// from 0 to 8 s; an outage between the primary and its replica from 1.5 s for
/// `outage_ms`; the run ends at 14 s.
fn outage_run(outage_ms: u64, replication: &str) -> RunResult {
    run(&one_replica(
        14,
        8,
        "1:0",
        100,
        replication,
        &format!(r#"(at_ms: 1500, for_ms: {outage_ms}, outage: (["redis-0"], ["redis-0-r1"]))"#),
    ))
}

/// An outage (2 s) shorter than repl-timeout (5 s), with a backlog (4 MiB) holding far
/// more than the outage's writes (about 300 KB): the link is either not dropped at all
/// or continued from the backlog, never fully resynced, and the replica ends in sync,
/// holding its primary's keys.
#[test]
fn a_short_outage_with_a_large_backlog_never_full_resyncs() {
    let r = outage_run(2_000, "timeout_s: 5, backlog_bytes: 4194304");
    let x = replica(&r);
    assert_eq!(x.full_resyncs(), 0, "{:?}", x.events);
    assert!(
        x.disconnects() == 0 || x.partial_resyncs() >= x.disconnects(),
        "{:?}",
        x.events
    );
    assert!(x.in_sync_at_end, "{x:?}");
    assert_eq!(r.hosts[REPLICA].keys, r.hosts[PRIMARY].keys);
    assert!(r.hosts[PRIMARY].keys > 5000);
}

/// An outage (3 s) longer than repl-timeout (2 s), with a backlog (4 MiB) still
/// holding everything written since (about 450 KB): the link times out, and on
/// reconnecting after the outage the replica continues from the backlog (a partial
/// resync resending at most the backlog), never a full one, and ends in sync holding
/// its primary's keys.
#[test]
fn a_timed_out_link_within_the_backlog_partially_resyncs() {
    let r = outage_run(
        3_000,
        "timeout_s: 2, backlog_bytes: 4194304, ping_replica_period_s: 1",
    );
    let x = replica(&r);
    assert!(
        x.events.iter().any(|e| matches!(
            e,
            LinkEvent::Disconnect {
                reason: DisconnectReason::Timeout,
                ..
            }
        )),
        "the link times out: {:?}",
        x.events
    );
    assert_eq!(x.full_resyncs(), 0, "{:?}", x.events);
    let resent: Vec<u64> = x
        .events
        .iter()
        .filter_map(|e| match e {
            LinkEvent::PartialResync { payload_bytes, .. } => Some(*payload_bytes),
            _ => None,
        })
        .collect();
    assert!(
        resent.iter().any(|&b| b > 0) && resent.iter().all(|&b| b <= 4_194_304),
        "{:?}",
        x.events
    );
    assert!(x.in_sync_at_end, "{x:?}");
    assert_eq!(r.hosts[REPLICA].keys, r.hosts[PRIMARY].keys);
}

/// An outage (5 s) longer than repl-timeout (2 s), with the smallest backlog (16 KiB,
/// a tenth of a second of writes) and writes continuing: the link times out, the
/// replica's offset falls out of the backlog, and on reconnecting after the outage it
/// gets a full resync (no partial one after the timeout), then ends in sync holding
/// its primary's keys. The primary PINGs every second: as Redis warns, a repl-timeout
/// not above repl-ping-replica-period (10 s by default) drops idle links, which would
/// drop this one once the writes stop.
#[test]
fn a_long_outage_with_a_tiny_backlog_full_resyncs() {
    let r = outage_run(
        5_000,
        "timeout_s: 2, backlog_bytes: 16384, diskless_sync_delay_s: 0, ping_replica_period_s: 1",
    );
    let x = replica(&r);
    let timeout_at = x
        .events
        .iter()
        .find_map(|e| match e {
            LinkEvent::Disconnect {
                at_ns,
                reason: DisconnectReason::Timeout,
                ..
            } => Some(*at_ns),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the link times out: {:?}", x.events));
    let after = events_after(x, timeout_at);
    assert!(
        after
            .iter()
            .any(|e| matches!(e, LinkEvent::FullResync { at_ns, .. } if *at_ns >= 6_500_000_000)),
        "a full resync once the outage is over: {:?}",
        x.events
    );
    assert_eq!(x.partial_resyncs(), 0, "{:?}", x.events);
    assert!(x.in_sync_at_end, "{x:?}");
    assert_eq!(r.hosts[REPLICA].keys, r.hosts[PRIMARY].keys);
}

/// A primary that crashes while it sends a snapshot (its replica, restarted, is being
/// fully resynced through a 1 Mbps NIC: the prefill's RDB, about 200 KB, takes about
/// 2 s, and a 64 KiB socket buffer keeps most of it in the primary's hands; at 4 s it
/// is on its way) drops that transfer at its restart and no longer counts it, so the
/// next fork is not held back by a transfer that does not exist (a count wrapped below
/// zero would wait forever): the replica gets a full resync of the restarted primary's
/// data after the restart and ends in sync, holding the primary's keys.
#[test]
fn a_primary_crashing_during_a_full_resync_resyncs_after_its_restart() {
    let r = run(r#"(
    name: "replication-world", description: "crash during a snapshot", seed: 12,
    duration_s: 12, warmup_s: 0,
    network: (latency_us: 50),
    faults: [(at_s: 1, for_s: 1, crash: "redis-0-r1"), (at_s: 4, for_s: 1, crash: "redis-0")],
    instances: {
        "slow": (vcpu: 2, memory_bytes: 4_294_967_296, baseline_bits_per_s: 1_000_000,
                 queue_limit_bytes: 16777216, source: "test"),
    },
    cluster: (engine: redis, mode: standalone, instance: "slow", replicas_per_shard: 1,
              replication: (diskless_sync_delay_s: 0, timeout_s: 5, ping_replica_period_s: 1,
                            socket_buffer_bytes: 65536)),
    clients: (workload: (ratio: "1:0", key_minimum: 0, key_maximum: 99_999,
                         data_size: 100, pipeline: 1, clients: 10, threads: 1,
                         rate_limiting: 20, test_time_s: 7)),
    prefill: (keys: 5000, key_minimum: 0, value_bytes: 1000),
)"#);
    let x = replica(&r);
    let restart_ns = 5_000_000_000;
    // The snapshot sent from 3 s was not delivered whole at the crash.
    assert!(x.lag_bytes_at_s[4] > 0, "{:?}", x.lag_bytes_at_s);
    let before: Vec<u64> = x
        .events
        .iter()
        .filter_map(|e| match e {
            LinkEvent::FullResync { at_ns, .. } if *at_ns < 4_000_000_000 => Some(*at_ns),
            _ => None,
        })
        .collect();
    assert_eq!(
        before.len(),
        1,
        "a snapshot on its way at the crash: {:?}",
        x.events
    );
    assert!(
        events_after(x, restart_ns)
            .iter()
            .any(|e| matches!(e, LinkEvent::FullResync { .. })),
        "{:?}",
        x.events
    );
    assert!(x.in_sync_at_end, "{x:?}");
    let (primary_keys, replica_keys) = (r.hosts[PRIMARY].keys, r.hosts[REPLICA].keys);
    assert!(primary_keys > 0 && primary_keys < 5000, "{primary_keys}");
    assert_eq!(replica_keys, primary_keys);
}

/// A fork scheduled before its primary crashed dies with the process: a replica that
/// waits for a snapshot (from 3 s, the fork due at 8 s after the default 5 s
/// diskless sync delay) when its primary crashes (4 s) and restarts (5 s), asks again
/// at its next cron (6 s) and gets its snapshot a whole delay later (11 s), not from
/// the fork the crashed process had planned.
#[test]
fn a_fork_planned_before_a_primary_crash_does_not_run_after_its_restart() {
    let r = run(&one_replica(
        16,
        10,
        "1:0",
        100,
        "ping_replica_period_s: 1",
        r#"(at_s: 1, for_s: 1, crash: "redis-0-r1"), (at_s: 4, for_s: 1, crash: "redis-0")"#,
    ));
    let x = replica(&r);
    let fulls: Vec<u64> = x
        .events
        .iter()
        .filter_map(|e| match e {
            LinkEvent::FullResync { at_ns, .. } => Some(*at_ns),
            _ => None,
        })
        .collect();
    assert!(
        !fulls.is_empty() && fulls.iter().all(|&t| t >= 11_000_000_000),
        "{:?}",
        x.events
    );
    assert!(x.in_sync_at_end, "{x:?}");
    assert_eq!(r.hosts[REPLICA].keys, r.hosts[PRIMARY].keys);
}
