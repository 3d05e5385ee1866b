//! Every bundled scenario runs; its JSON is byte-identical across two runs on different
//! thread counts; its text report matches its snapshot in `snapshots/`; and its key
//! figure is asserted numerically here, so a snapshot update cannot silently accept a
//! wrong number. A different seed changes measured figures, not only the printed seed.

use models::report::{Report, VariantReport};
use models::run::run_scenario;
use models::scenario::load_file;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

/// One scenario's report, computed by whichever test asks first.
type Cell = Arc<OnceLock<&'static Report>>;

/// A scenario's report, computed once per test binary (tests share it).
fn report(file: &str) -> &'static Report {
    static CACHE: LazyLock<Mutex<BTreeMap<String, Cell>>> = LazyLock::new(Default::default);
    let cell = CACHE
        .lock()
        .expect("cache lock")
        .entry(file.to_string())
        .or_default()
        .clone();
    cell.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(file);
        let scenario = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let parallel = run_scenario(&scenario, None, 2, &|_| {}).unwrap_or_else(|e| panic!("{e}"));
        let serial = run_scenario(&scenario, None, 1, &|_| {}).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            parallel.to_json() == serial.to_json(),
            "{file} (seed {}): JSON differs between a 2-thread and a 1-thread run",
            scenario.seed()
        );
        Box::leak(Box::new(parallel))
    })
}

fn variant<'a>(r: &'a Report, name: &str) -> &'a VariantReport {
    r.variants
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no variant {name}"))
}

fn ops(v: &VariantReport) -> f64 {
    v.all_stats.totals.ops_per_sec
}

#[test]
fn bundled_scenarios_match_their_snapshots() {
    insta::glob!("../scenarios", "*.ron", |path| {
        let file = path
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .to_string();
        let text = report(&file).to_text();
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("../snapshots");
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_snapshot!(text));
    });
}

/// m6g-25kb-get: throughput plateaus at the analytic network cap (baseline over the
/// wire bytes of a reply, headers and RESP framing included) within 0.5%; the naive
/// figure ignores overhead; past the cap latency climbs and allowance-exceeded counts
/// and drops appear.
#[test]
fn m6g_plateaus_at_the_network_cap() {
    let r = report("m6g-25kb-get.ron");
    let v = variant(r, "8000rps");
    let net = &v.config.network;
    let reply_bytes = 1 + 5 + 2 + 25_000 + 2; // "$25000\r\n" + value + "\r\n"
    let baseline = v.config.cluster.instance.spec.baseline_bits_per_s as f64;
    let cap = baseline / 8.0 / net.wire_bytes(reply_bytes) as f64;
    let naive = baseline / 8.0 / 25_000.0;
    assert!((naive - 3_750.0).abs() < 1e-9);
    for name in ["4000rps", "6000rps", "8000rps"] {
        let measured = ops(variant(r, name));
        assert!(
            (measured / cap - 1.0).abs() < 0.005,
            "{name}: {measured} ops/s vs cap {cap:.1}"
        );
    }
    let below = variant(r, "2000rps");
    assert!(
        (ops(below) / 2_000.0 - 1.0).abs() < 0.02,
        "below the cap throughput follows the offer"
    );
    let p50 = |v: &VariantReport| v.all_stats.totals.percentile_latencies["p50.00"];
    assert!(p50(v) > 10.0 * p50(below), "latency climbs past the cap");
    assert!(v.nodes[0].bw_out_allowance_exceeded > 0 && v.nodes[0].drops > 0);
    assert!(v.findings[0].binding && v.findings[0].node == "redis-0");
}

/// lab-tbf-100mbit: the mirror of the measured tbf run lands within 2% on throughput
/// (482 RPS with a full bucket, 478 drained) and within 10% on the p50 (41.9 ms).
#[test]
fn lab_tbf_mirror_matches_the_measurement() {
    let r = report("lab-tbf-100mbit.ron");
    let full = variant(r, "full-bucket");
    let drained = variant(r, "drained");
    assert!(
        (ops(full) / 482.0 - 1.0).abs() < 0.02,
        "full bucket: {}",
        ops(full)
    );
    assert!(
        (ops(drained) / 478.0 - 1.0).abs() < 0.02,
        "drained: {}",
        ops(drained)
    );
    let p50 = full.all_stats.totals.percentile_latencies["p50.00"];
    assert!((p50 / 41.9 - 1.0).abs() < 0.10, "p50 {p50} ms");
}

/// t4g-burst-depletion: credits run out within one message time of
/// t = capacity / (offered wire rate - baseline), and the egress then carries the
/// baseline; a 2 s burst whose 5-minute average is far below the baseline still trips
/// allowance-exceeded.
#[test]
fn t4g_credits_deplete_at_the_closed_form_time() {
    let r = report("t4g-burst-depletion.ron");
    let v = variant(r, "sustained-1gbps");
    let spec = &v.config.cluster.instance.spec;
    let rate_rps = v
        .config
        .clients
        .workload
        .open_loop
        .expect("open loop")
        .rate_rps as f64;
    let wire_bits = v.config.network.wire_bytes(1 + 5 + 2 + 25_000 + 2) as f64 * 8.0;
    let offered_bits_per_s = rate_rps * wire_bits;
    let capacity = spec.net_credit_capacity_bits.expect("burstable") as f64;
    let expected_ms = capacity / (offered_bits_per_s - spec.baseline_bits_per_s as f64) * 1e3;
    let message_time_ms = 1e3 / rate_rps;
    let depleted_ms = v.nodes[0]
        .net_credits_depleted_at_ms
        .expect("credits ran out");
    assert!(
        (depleted_ms - expected_ms).abs() <= message_time_ms,
        "depleted at {depleted_ms} ms, closed form {expected_ms:.3} ms"
    );
    let out = v
        .timeseries
        .series
        .iter()
        .find(|s| s.name == "net_out_bits_per_s")
        .expect("series");
    let late = out.values[45];
    assert!(
        (late / spec.baseline_bits_per_s as f64 - 1.0).abs() < 0.01,
        "second 45 carried {late} bit/s"
    );
    // The NIC binds in two regimes; the ceiling a sustained load meets is the baseline's
    // (about 635 ops/s of 25 KB replies), not the burst's.
    let f = &v.findings[0];
    assert_eq!(format!("{:?}", f.resource), "NicOut");
    assert_eq!(f.regimes.len(), 2, "{:?}", f.regimes);
    let at_baseline = spec.baseline_bits_per_s as f64 / wire_bits;
    assert!(
        (f.ceiling_ops_per_s / at_baseline - 1.0).abs() < 0.02,
        "ceiling {} vs the baseline's {at_baseline:.0} ops/s",
        f.ceiling_ops_per_s
    );
    assert_eq!(f.regimes[1].from_s, f.regimes[0].to_s);
    assert!(f.regimes[0].ceiling_ops_per_s > 20.0 * f.ceiling_ops_per_s);
    let bursty = variant(r, "bursty-empty-credits");
    let five_minute_average = bursty.nodes[0].net_out_bytes as f64 * 8.0 / 300.0;
    assert!(five_minute_average < spec.baseline_bits_per_s as f64 / 10.0);
    assert!(bursty.nodes[0].bw_out_allowance_exceeded > 0);
}

/// r7g-family: the network binds on cache.r7g.large (at baseline / 8 / wire bytes of a
/// 1,000-byte reply) and the single main thread on every larger size.
#[test]
fn r7g_family_binding_resource_by_size() {
    let r = report("r7g-family.ron");
    let large = variant(r, "large");
    let baseline = large.config.cluster.instance.spec.baseline_bits_per_s as f64;
    let cap = baseline / 8.0 / large.config.network.wire_bytes(1 + 4 + 2 + 1_000 + 2) as f64;
    assert!(
        (ops(large) / cap - 1.0).abs() < 0.005,
        "{} vs {cap}",
        ops(large)
    );
    assert_eq!(format!("{:?}", large.findings[0].resource), "NicOut");
    for name in [
        "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
    ] {
        let v = variant(r, name);
        let f = &v.findings[0];
        assert!(
            f.binding && format!("{:?}", f.resource) == "Cpu" && f.thread == Some(0),
            "{name}: {:?}",
            f.summary()
        );
    }
}

/// zipf-hot-shards: exact hottest/coldest ratios under rank-modulo placement are the
/// source article's 4.08 (100 shards) and 1.27 (10 shards) to 3 significant digits;
/// CRC16 placement is asserted too, and the measured ratios are within 5% of the exact.
#[test]
fn zipf_hot_shard_ratios() {
    let r = report("zipf-hot-shards.ron");
    let exact = |name: &str| variant(r, name).shards.load_ratio_exact;
    assert_eq!(format!("{:.2}", exact("rank-modulo-100-shards")), "4.08");
    assert_eq!(format!("{:.2}", exact("rank-modulo-10-shards")), "1.27");
    assert_eq!(format!("{:.2}", exact("crc16-100-shards")), "5.10");
    assert_eq!(format!("{:.2}", exact("crc16-10-shards")), "1.53");
    for v in &r.variants {
        let (m, e) = (v.shards.load_ratio_measured, v.shards.load_ratio_exact);
        assert!(
            (m / e - 1.0).abs() < 0.05,
            "{}: measured {m} vs exact {e}",
            v.name
        );
    }
}

/// A different seed changes measured figures, not only the printed seed.
/// A 5 s partition of one shard of three stops the whole closed loop (every client
/// soon waits on the cut shard); with Linux's timeouts it resumes at the first
/// retransmission after the partition, 200 + 400 + 800 + 1,600 + 3,200 ms after the
/// loss, so in the second from 9 s, not 8 s; connections that give up after a second
/// are reset, their requests counted as failed, and traffic is back in the second
/// from 8 s.
#[test]
fn a_partitioned_shard_stalls_the_closed_loop_until_the_first_timeout_after_it() {
    let r = report("partition-one-shard.ron");
    let ops = |v: &VariantReport| -> Vec<f64> {
        v.timeseries
            .series
            .iter()
            .find(|s| s.name == "ops_per_s")
            .expect("ops series")
            .values
            .clone()
    };
    let linux = variant(r, "linux-timeouts");
    let o = ops(linux);
    assert!(o[2] > 100_000.0 && o[10] > 100_000.0, "{o:?}");
    assert!(
        o[4..9].iter().all(|&x| x == 0.0),
        "stalled from 4 s to 9 s: {o:?}"
    );
    assert!(
        o[9] > 50_000.0 && o[9] < o[10],
        "resumes inside the second from 9 s: {o:?}"
    );
    let f = linux.faults.as_ref().expect("a fault timeline");
    assert_eq!(f.connection_resets, 0);
    assert!(f.timeline[0].dropped_messages > 0);

    let reset = variant(r, "reset-after-1s");
    let o = ops(reset);
    assert!(o[4..8].iter().all(|&x| x < 1_000.0), "{o:?}");
    assert!(o[8] > 10_000.0, "back in the second from 8 s: {o:?}");
    let f = reset.faults.as_ref().expect("a fault timeline");
    assert!(
        f.connection_resets >= 16,
        "every connection to redis-1 at least once"
    );
    assert_eq!(f.timeline[0].connection_resets, f.connection_resets);
    assert_eq!(f.requests_reset, f.timeline[0].requests_reset);
}

/// replication-backlog: on cache.t4g.small two replicas' streams (2 x 0.12 Gbps) do not
/// fit the 0.128 Gbps egress, so output buffers reach their limit and replicas
/// full-resync more than once, and the finding names the loop with its arithmetic;
/// each remedy that makes the streams fit (a larger node, more shards, one replica,
/// fewer writes) has no disconnect at all; a larger backlog replaces some snapshots by
/// partial resyncs but does not stop the drops. Every full resync's snapshot bytes are
/// in its primary's egress.
#[test]
fn replication_backlog_loops_until_the_streams_fit() {
    let r = report("replication-backlog.ron");
    let base = variant(r, "t4g-small-2-replicas");
    let repl = base.replication.as_ref().expect("a replication section");
    assert!(
        repl.replicas.iter().any(|x| x.full_resyncs >= 2),
        "{:?}",
        repl.replicas
    );
    let finding = repl.resync_loop.as_deref().expect("the loop is named");
    assert!(finding.contains("full-resynced"), "{finding}");
    assert!(finding.contains("egress baseline 128 Mbps <"), "{finding}");
    assert!(repl
        .replicas
        .iter()
        .all(|x| x.output_buffer_peak_bytes >= 200 << 20));
    for p in &repl.primaries {
        // What a primary wrote for replication never exceeds what its egress carried.
        let node = base.nodes.iter().find(|n| n.name == p.name).expect("node");
        assert!(
            p.replication_bits_per_s <= node.net_out_bits_per_s * 1.05,
            "{} {} > {}",
            p.name,
            p.replication_bits_per_s,
            node.net_out_bits_per_s
        );
    }
    for name in ["larger-node", "more-shards", "one-replica", "fewer-writes"] {
        let v = variant(r, name);
        let repl = v.replication.as_ref().expect("a replication section");
        assert!(
            repl.replicas
                .iter()
                .all(|x| x.disconnects == 0 && x.full_resyncs == 0 && x.in_sync_at_end),
            "{name}: {:?}",
            repl.replicas
        );
        assert!(repl.resync_loop.is_none(), "{name}");
    }
    let backlog = variant(r, "larger-backlog");
    let repl = backlog.replication.as_ref().expect("a replication section");
    assert!(repl.replicas.iter().map(|x| x.partial_resyncs).sum::<u64>() > 0);
    assert!(repl.replicas.iter().map(|x| x.disconnects).sum::<u64>() > 0);
}

/// gossip-overhead: an idle 6-node cluster with node_timeout 15 s sends one PING and one
/// PONG a node a second, 2,568 bytes each (3 gossip entries; measured on redis-server
/// 7.0.15: 0.99 pings and 5,094 bytes per node a second); the bus's messages, bytes and
/// main-thread share per node grow with the node count; message sizes stay within the
/// header plus max(3, N/10) entries (a node in PFAIL would add more, and none is, as no
/// pong is late); the same cluster on a larger instance sends the same traffic, a
/// smaller share of its baseline.
#[test]
fn gossip_overhead_grows_with_the_cluster() {
    let r = report("gossip-overhead.ron");
    let bus = |name: &str| variant(r, name).bus.as_ref().expect("a bus section");
    let six = bus("idle-6");
    let mean = |f: &dyn Fn(&models::report::bus::NodeBusReport) -> f64,
                b: &models::report::bus::BusReport| {
        b.per_node.iter().map(f).sum::<f64>() / b.per_node.len() as f64
    };
    let pings = mean(&|n| n.pings_sent_per_s, six);
    let bytes = mean(&|n| n.bytes_sent_per_s, six);
    assert!((pings - 1.0).abs() < 0.1, "idle-6 pings/s {pings}");
    assert!((bytes - 5_124.0).abs() < 512.0, "idle-6 bytes/s {bytes}");
    let mut last = (0.0, 0.0, 0.0);
    for (name, nodes) in [
        ("idle-6", 6u64),
        ("idle-30", 30),
        ("idle-100", 100),
        ("idle-300", 300),
        ("idle-1000", 1000),
    ] {
        let b = bus(name);
        assert_eq!(b.nodes, nodes);
        assert!(
            b.events.is_empty(),
            "{name}: failure detection fired in an idle cluster: {:?}",
            b.events
        );
        let m = b.per_node_messages_sent_per_s.mean;
        let by = b.per_node_bytes_sent_per_s.mean;
        let cpu = b.per_node_main_thread_share.mean;
        assert!(
            m > last.0 && by > last.1 && cpu > last.2,
            "{name}: {m} msgs/s, {by} B/s, {cpu} of the main thread"
        );
        let size = by / m;
        let entries = models::world::bus::wanted_gossip_entries(nodes);
        assert!(
            size <= models::world::bus::ping_bytes(entries) as f64 + 1e-6
                && size >= models::world::bus::ping_bytes(entries) as f64 * 0.97,
            "{name}: mean message {size} B"
        );
        last = (m, by, cpu);
    }
    assert!(
        last.2 > 0.05,
        "1,000 idle nodes spend {} of a main thread on the bus",
        last.2
    );
    assert!(bus("idle-6").per_node_main_thread_share.mean < 0.001);
    let (small, large) = (bus("idle-1000"), bus("idle-1000-4xlarge"));
    let share_ratio =
        small.per_node_egress_baseline_share.mean / large.per_node_egress_baseline_share.mean;
    let bytes_ratio = small.per_node_bytes_sent_per_s.mean / large.per_node_bytes_sent_per_s.mean;
    let baseline_ratio =
        large.egress_baseline_bits_per_s as f64 / small.egress_baseline_bits_per_s as f64;
    assert!((share_ratio / bytes_ratio - baseline_ratio).abs() < 1e-3 * baseline_ratio);
    // Under a load each node carries at 75% of its main thread without the bus: up to
    // 300 nodes no main thread binds and the p99 stays that of the 75% queue; at 1,000
    // the bus takes over 10% of the mean node's main thread, the busiest binds, and the
    // p99 is many times the small clusters'.
    let p99 = |name: &str| variant(r, name).all_stats.totals.percentile_latencies["p99.00"];
    let main_thread = |f: &models::report::Finding| {
        format!("{:?}", f.resource) == "Cpu" && f.thread == Some(0) && f.node.starts_with("redis-")
    };
    for name in ["loaded-6", "loaded-30", "loaded-100"] {
        let v = variant(r, name);
        assert!(
            v.findings.iter().all(|f| !main_thread(f)),
            "{name}: {:?}",
            v.findings
        );
        assert!(
            p99(name) < 1.5 * p99("loaded-6"),
            "{name}: p99 {} ms",
            p99(name)
        );
    }
    let busy = variant(r, "loaded-1000");
    assert!(bus("loaded-1000").per_node_main_thread_share.mean > 0.1);
    assert!(busy.findings.iter().any(main_thread), "{:?}", busy.findings);
    assert!(p99("loaded-1000") > 10.0 * p99("loaded-6"));
}

/// failover: redis-1 crashes at 5 s (node_timeout 15 s). It is flagged PFAIL no earlier
/// than 15 s after the crash and FAIL after that; its replica is promoted within the
/// bound Redis's timings give (a ping within node_timeout / 2 of the crash, 15 s
/// unanswered, reports gossiped, 0.5-1 s of election delay: well inside 2 x 15 s), and
/// the restarted node rejoins as its replica after its restart at 35 s. Clients stall
/// while the shard has no primary and are back at the offered rate after the
/// promotion. An in-sync replica loses (almost) nothing; one whose link lagged by 200 ms
/// loses the writes of those 200 ms (about 5: 800 ops/s, a fifth SETs, a sixth of them
/// on the shard).
#[test]
fn failover_promotes_the_replica_within_redis_timings() {
    let r = report("failover.ron");
    for (name, lost) in [("in-sync-replica", 0..=2u64), ("lagging-replica", 2..=10)] {
        let v = variant(r, name);
        let bus = v.bus.as_ref().expect("a bus section");
        let at = |event: &str| {
            bus.events
                .iter()
                .find(|e| e.event == event)
                .unwrap_or_else(|| panic!("{name}: no {event} event: {:?}", bus.events))
        };
        let s = |e: &models::world::bus::NamedBusEvent| e.at_ns as f64 / 1e9;
        let (pfail, fail, promoted, rejoined) =
            (at("pfail"), at("fail"), at("promoted"), at("rejoined"));
        assert_eq!(
            (pfail.node.as_str(), fail.node.as_str()),
            ("redis-1", "redis-1")
        );
        assert_eq!(
            (promoted.node.as_str(), promoted.by.as_str()),
            ("redis-1-r1", "redis-1")
        );
        assert_eq!(
            (rejoined.node.as_str(), rejoined.by.as_str()),
            ("redis-1", "redis-1-r1")
        );
        assert!(
            s(pfail) >= 20.0 && s(pfail) < s(fail) && s(fail) < s(promoted),
            "{name}: {:?}",
            bus.events
        );
        assert!(
            s(promoted) <= 5.0 + 2.0 * 15.0,
            "{name}: promoted at {}",
            s(promoted)
        );
        assert!(s(rejoined) >= 35.0);
        let f = &bus.failovers[0];
        assert_eq!(f.crashed_at_s, Some(5.0));
        let recovered = f.clients_recovered_at_s.expect("the clients recover");
        assert!(
            recovered >= s(promoted).floor() && recovered <= s(promoted) + 3.0,
            "{name}: recovered at {recovered} s, promoted at {} s",
            s(promoted)
        );
        assert!(
            lost.contains(&f.lost_writes),
            "{name}: {} writes lost",
            f.lost_writes
        );
        // Throughput: stalled while the shard has no primary, back after the promotion.
        let ops = &v
            .timeseries
            .series
            .iter()
            .find(|x| x.name == "ops_per_s" && x.node.is_none())
            .expect("an ops series")
            .values;
        let mean = |a: usize, b: usize| ops[a..b].iter().sum::<f64>() / (b - a) as f64;
        assert!(mean(8, 20) < 0.2 * 800.0, "{name}: {ops:?}");
        let back = s(promoted).ceil() as usize + 2;
        assert!(mean(back, 45) > 0.95 * 800.0, "{name}: {ops:?}");
        let c = v.cluster_clients.as_ref().expect("clients timed out");
        assert!(c.total.timeouts > 0 && c.total.refreshes > 0);
    }
}

/// scale-out-event: redis-cli's table moves a few slots fewer than asked (ceil for
/// the first source, floor for the others), the second reshard starts when the first
/// ends, a quarter of the keys move with at least their values' bytes, the new
/// primaries then serve their share, clients met ASK and MOVED and lost nothing, and
/// the move raises the p99 while it runs.
#[test]
fn scale_out_moves_a_quarter_of_the_keys_under_load() {
    let r = report("scale-out-event.ron");
    for v in &r.variants {
        let name = &v.name;
        let rs = v.resharding.as_ref().expect("a resharding section");
        let [add, first, second] = &rs.steps[..] else {
            panic!("{name}: three steps, got {:?}", rs.steps);
        };
        assert_eq!((add.kind.as_str(), add.started_s), ("add_shards", 10.0));
        assert_eq!((first.node.as_str(), first.started_s), ("redis-6", 12.0));
        assert_eq!(second.node, "redis-7");
        assert_eq!(
            Some(second.started_s),
            first.ended_s,
            "{name}: one at a time"
        );
        for s in [first, second] {
            assert!(
                s.slots_planned < 2048 && s.slots_planned > 2040,
                "{name}: {s:?}"
            );
            assert_eq!(s.slots_moved, s.slots_planned, "{name}: {s:?}");
            // Each slot's move: one at a time, in order, its keys adding up.
            assert_eq!(s.slots.len() as u64, s.slots_moved);
            assert_eq!(s.slots.iter().map(|m| m.keys).sum::<u64>(), s.keys_moved);
            assert!(s.slots.windows(2).all(|w| w[0].ended_s <= w[1].started_s));
            assert!(s
                .slots
                .iter()
                .all(|m| m.started_s < m.ended_s && m.from != s.node));
        }
        let end = second.ended_s.expect("the reshard ends within the run");
        let share = rs.keys_moved as f64 / 300_000.0;
        let slots = rs.slots_moved as f64 / 16_384.0;
        assert!(
            (share - slots).abs() < 0.01,
            "{name}: {share} of the keys moved"
        );
        assert!(rs.migrated_bytes >= rs.keys_moved * 1_000, "{name}: {rs:?}");
        let shard_ops = |s: u32| {
            v.shards
                .per_shard
                .iter()
                .find(|x| x.shard == s)
                .unwrap()
                .ops
        };
        assert!(shard_ops(6) > 0 && shard_ops(7) > 0);
        let c = v.cluster_clients.as_ref().expect("clients were redirected");
        assert!(c.total.moved > 0 && c.total.ask > 0, "{name}: {c:?}");
        assert_eq!(v.simulation.errors, 0, "{name}");
        let p99 = &v
            .timeseries
            .series
            .iter()
            .find(|x| x.name == "latency_ms_p99" && x.node.is_none())
            .expect("a p99 series")
            .values;
        let mean = |a: usize, b: usize| p99[a..b].iter().sum::<f64>() / (b - a) as f64;
        let (before, during) = (mean(3, 10), mean(12, end.floor() as usize));
        assert!(
            during > 1.2 * before,
            "{name}: p99 {before} ms before, {during} ms during"
        );
    }
}

/// The thread-per-core engine's closed-loop throughput grows with its threads, by the
/// hops: with T threads (T - 1) / T of the commands hop, each hop paid twice; at 64
/// threads on 64 vCPUs the kernel's network work takes its share of them. One thread
/// and 64 land near Dragonfly's published 302,603 and 6,432,982 ops/s (the load search
/// in tests/calibration.rs checks every thread count).
#[test]
fn engine_thread_scaling_grows_by_the_hops_and_stops_at_the_cores() {
    let r = report("engine-thread-scaling.ron");
    let at = |t: u32| ops(variant(r, &format!("threads-{t}")));
    let counts = [1u32, 2, 4, 8, 16, 32, 64];
    for w in counts.windows(2) {
        assert!(at(w[1]) > at(w[0]), "{} threads: {}", w[1], at(w[1]));
    }
    assert!((at(1) / 302_603.0 - 1.0).abs() < 0.05, "{}", at(1));
    assert!((at(64) / 6_432_982.0 - 1.0).abs() < 0.10, "{}", at(64));
    // From 4 to 16 threads, nearly linear: the hop share barely moves ((T-1)/T).
    let per_thread = |t: u32| at(t) / f64::from(t);
    assert!((per_thread(16) / per_thread(4) - 1.0).abs() < 0.15);
    // At 64 threads the kernel leaves the threads less than the 64 vCPUs: per thread,
    // clearly below 32 threads' (which leave 32 vCPUs for the kernel).
    assert!(per_thread(64) < 0.8 * per_thread(32));
    let t = variant(r, "threads-4")
        .thread_per_core
        .as_ref()
        .expect("thread-per-core report");
    assert!(
        (t.hops_per_command - 0.75).abs() < 0.02,
        "{}",
        t.hops_per_command
    );
}

/// Scale up or scale out, at 500K ops/s over 50 GB: each deployment serves the offered
/// load; more shards spread the Zipfian keys less evenly; the small single-threaded
/// nodes run nearest their limit, the thread-per-core nodes furthest; and the prices
/// order as the catalog's do (two large ElastiCache nodes cheapest here, the EC2 pair
/// dearest).
#[test]
fn scale_up_against_scale_out_serves_the_load_at_different_costs() {
    let r = report("scale-up-vs-scale-out.ron");
    let (redis, valkey, dragonfly) = (
        variant(r, "redis-8x-r7g.large"),
        variant(r, "valkey-2x-r7g.2xlarge"),
        variant(r, "dragonfly-2x-c7g.16xlarge"),
    );
    for v in [redis, valkey, dragonfly] {
        assert!(
            (ops(v) / 500_000.0 - 1.0).abs() < 0.01,
            "{}: {}",
            v.name,
            ops(v)
        );
        assert!(v.findings.iter().all(|f| !f.binding), "{} binds", v.name);
    }
    assert!(redis.shards.load_ratio_measured > valkey.shards.load_ratio_measured);
    let cpu = |v: &models::report::VariantReport| {
        v.headroom
            .as_ref()
            .expect("headroom")
            .hottest_node_cpu_utilization
    };
    assert!(
        cpu(dragonfly) < 0.5 * cpu(redis),
        "{} vs {}",
        cpu(dragonfly),
        cpu(redis)
    );
    let hour = |v: &models::report::VariantReport| v.cost.usd_per_hour.expect("priced");
    assert!(hour(valkey) < hour(redis) && hour(redis) < hour(dragonfly));
    // The bus runs where there is one: Redis Cluster's and Valkey's, not the control
    // plane's.
    assert!(redis.bus.is_some() && valkey.bus.is_some() && dragonfly.bus.is_none());
}

#[test]
fn a_different_seed_changes_measured_figures() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/m6g-25kb-get.ron");
    let scenario = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let a = run_scenario(&scenario, None, 2, &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    let b = run_scenario(&scenario, Some(scenario.seed() + 1), 2, &|_| {})
        .unwrap_or_else(|e| panic!("{e}"));
    let figures = |r: &Report| {
        r.variants
            .iter()
            .map(|v| {
                (
                    v.all_stats.totals.count,
                    v.latency_intended.latency_ms_p99.to_bits(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_ne!(figures(&a), figures(&b));
}

/// The nodes table covers the measured window only, like `ALL STATS`: a node's bytes out
/// are what its per-second series carried from the end of warm-up on (within one
/// 64 KiB chunk, which may start on the window's first instant either side of it).
#[test]
fn node_counts_cover_the_measured_window() {
    let r = report("m6g-25kb-get.ron");
    for v in &r.variants {
        assert!(v.config.warmup_ns > 0, "a scenario with warm-up");
        let first = v.findings_window.first_s as usize;
        for n in &v.nodes {
            let series = v
                .timeseries
                .series
                .iter()
                .find(|s| s.name == "net_out_bits_per_s" && s.node.as_deref() == Some(&n.name))
                .expect("series");
            let in_window: f64 = series.values[first..].iter().sum::<f64>() / 8.0;
            let whole_run: f64 = series.values.iter().sum::<f64>() / 8.0;
            let out = n.net_out_bytes as f64;
            assert!(
                (out - in_window).abs() <= 65_536.0 + 58.0 * 8.0,
                "{}: {out} bytes out in the table, {in_window} in the window's seconds",
                v.name
            );
            assert!(whole_run - out > 1e6, "{}: the warm-up is left out", v.name);
        }
    }
}

/// The text report speaks in units people read: memory in MiB/GiB, credits in Gbit with
/// the seconds of burst they buy, rates beside the baseline, "started empty" for a
/// bucket that began empty, the offered load beside what was served, the client host's
/// row saying what the clients did, and a long nodes table summarized with the binding
/// and extreme rows kept.
#[test]
fn the_text_report_uses_units_people_read() {
    let t4g = report("t4g-burst-depletion.ron").to_text();
    for needle in [
        "maxmemory 1.0 GiB volatile-lru",
        "26.16 Gbit of credits (5.4 s at full burst; full at start)",
        "(5.4 s at full burst; empty at start)",
        "started empty",
        "at 29.75 s",
        "0.564 (0.128)",
        "offered load (open-loop arrivals, averaged over the window): 5000.00 ops/s; served 2799.38 ops/s",
        "client-0: 20 connection(s), 167963 replies received",
    ] {
        assert!(t4g.contains(needle), "t4g report lacks {needle:?}");
    }
    assert!(!t4g.contains("depleted"), "no 'depleted at 0.0 ms'");
    let zipf = report("zipf-hot-shards.ron");
    let text = zipf.to_text();
    assert!(
        text.contains("(showing 7 of 100 nodes: the busiest three, the median, the idlest three")
    );
    // The busiest node of the 100-shard crc16 variant is listed.
    let v = &zipf.variants[0];
    let busiest = v.nodes.iter().max_by_key(|n| n.ops).expect("nodes");
    let section = text.split("== variant").nth(1).expect("a first variant");
    assert!(
        section.contains(&format!("  {} ", busiest.name)),
        "{} hidden",
        busiest.name
    );
}

/// t4g-burst-depletion's 2 s burst on empty credits (memtier --test-time=2 in a 60 s
/// run): its rate is over the time the requests took, as memtier reports it, not over
/// the 58 idle seconds after; that rate is the baseline over a reply's wire bytes within
/// 1%; and the finding names the NIC egress as binding over the window's two whole
/// seconds rather than blaming the clients.
#[test]
fn a_short_test_time_is_measured_over_its_own_time() {
    let r = report("t4g-burst-depletion.ron");
    let v = variant(r, "bursty-empty-credits");
    assert!(
        v.measured_window_s > 2.0 && v.measured_window_s < 2.1,
        "{}",
        v.measured_window_s
    );
    let spec = &v.config.cluster.instance.spec;
    let wire_bits = v.config.network.wire_bytes(1 + 5 + 2 + 25_000 + 2) as f64 * 8.0;
    let cap = spec.baseline_bits_per_s as f64 / wire_bits;
    assert!(
        (ops(v) - cap).abs() <= 0.01 * cap,
        "{} ops/s, cap {cap:.1}",
        ops(v)
    );
    assert_eq!(v.findings_window.binding_seconds, 2);
    let f = v
        .findings
        .iter()
        .find(|f| f.binding)
        .expect("a binding finding");
    assert_eq!(f.node, "redis-0");
    assert_eq!(f.resource, models::world::results::ResourceKind::NicOut);
}

/// Every bundled variant runs within the estimate `kvsim check` prints for it: its
/// events, keys and `used_memory` (summed over nodes) are at most the estimate's, and
/// so are the requests it completed (every second's, warm-up included); and the
/// estimate is not a guess: the requests completed are at least half of it, and so is
/// the `used_memory`.
#[test]
fn bundled_variants_run_within_their_estimates() {
    for file in [
        "failover.ron",
        "gossip-overhead.ron",
        "lab-tbf-100mbit.ron",
        "m6g-25kb-get.ron",
        "noisy-neighbours.ron",
        "partition-one-shard.ron",
        "r7g-family.ron",
        "replication-backlog.ron",
        "scale-out-event.ron",
        "t4g-burst-depletion.ron",
        "zipf-hot-shards.ron",
    ] {
        for v in &report(file).variants {
            let e = models::estimate::estimate(&v.config);
            let at = format!("{file} {}", v.name);
            let completed: f64 = v
                .timeseries
                .series
                .iter()
                .find(|s| s.name == "ops_per_s" && s.node.is_none())
                .expect("an ops series")
                .values
                .iter()
                .sum();
            let completed = completed as u64;
            assert!(
                completed <= e.requests,
                "{at}: {completed} > {}",
                e.requests
            );
            // The estimate does not model faults: it stays an upper bound, but a run
            // whose clients stall through a partition serves far less than it.
            assert!(
                e.requests <= 2 * completed || !v.config.faults.is_empty(),
                "{at}: {} for {completed}",
                e.requests
            );
            assert!(v.simulation.events <= e.events, "{at}: events");
            let keys: u64 = v.nodes.iter().map(|n| n.keys).sum();
            assert!(keys <= e.keys, "{at}: {keys} keys > {}", e.keys);
            let used: u64 = v.nodes.iter().map(|n| n.used_memory_bytes).sum();
            assert!(used <= e.store_memory_bytes, "{at}: used_memory");
            assert!(e.store_memory_bytes <= 2 * used, "{at}: used_memory");
        }
    }
}

/// noisy-neighbours: the same workload and neighbour activity on four small nodes and on
/// one large node. Alone on their hosts, both meet the objective in every second, and
/// their reports carry no shared-host figures. Shared: every node was denied burst, only
/// in seconds its host's NIC was full, and each neighbour was on about its stated third
/// of the time; the small nodes' tail grows but stays within a few seconds of breach;
/// the large node, which needs more than a host with one neighbour on leaves it (9 of
/// its 12.3 Gbps), is NIC-bound and breaches the objective in most seconds; steal
/// appears, and more of it on the large node, whose five threads overcommit the cores
/// with two neighbours on where a small node's one thread needs all three.
#[test]
fn neighbours_cost_the_large_node_more_than_the_small_ones_here() {
    let r = report("noisy-neighbours.ron");
    for alone in ["small-alone", "large-alone"] {
        let v = variant(r, alone);
        assert!(v.neighbours.is_none(), "{alone}");
        assert_eq!(
            v.slo.as_ref().expect("an objective").seconds_breached,
            0,
            "{alone}"
        );
        assert!(
            v.nodes.iter().all(|n| n.cpu_steal_vcpus_mean.is_none()),
            "{alone}"
        );
        assert!(
            !v.timeseries
                .series
                .iter()
                .any(|s| s.name == "burst_denied_bits_per_s" || s.name == "cpu_steal_vcpus"),
            "{alone}"
        );
    }
    let small = variant(r, "small-shared");
    let large = variant(r, "large-shared");
    let p99 = |v: &VariantReport| v.all_stats.totals.percentile_latencies["p99.00"];
    assert!(
        p99(small) > 1.5 * p99(variant(r, "small-alone")),
        "{}",
        p99(small)
    );
    assert!(
        p99(large) > 2.0 * p99(variant(r, "large-alone")),
        "{}",
        p99(large)
    );
    let breached = |v: &VariantReport| v.slo.as_ref().expect("an objective").seconds_breached;
    let seconds = large.slo.as_ref().expect("an objective").seconds;
    assert_eq!(seconds, 18);
    assert!(breached(small) <= 6, "small: {}", breached(small));
    assert!(breached(large) >= 12, "large: {}", breached(large));
    assert!(large
        .findings
        .iter()
        .any(|f| f.binding && f.summary().contains("NIC egress")));
    let mut on = Vec::new();
    for v in [small, large] {
        let n = v.neighbours.as_ref().expect("shared hosts");
        let series = |name: &str, node: &str| {
            v.timeseries
                .series
                .iter()
                .find(|s| s.name == name && s.node.as_deref() == Some(node))
                .unwrap_or_else(|| panic!("{}: no {name} for {node}", v.name))
                .values
                .clone()
        };
        for h in &n.hosts {
            assert!(h.seconds_with_burst_denied > 0, "{}: {h:?}", v.name);
            let denied = series("burst_denied_bits_per_s", &h.node);
            let full = series("host_nic_full_share", &h.node);
            for (s, (d, f)) in denied.iter().zip(&full).enumerate() {
                assert!(
                    *d == 0.0 || *f > 0.0,
                    "{} {}: denied in second {s} with the NIC never full",
                    v.name,
                    h.node
                );
            }
            on.extend(h.neighbours.iter().map(|x| x.on_fraction));
        }
    }
    // 15 neighbour draws of 18 s each, at 2 s on and 4 s off: about a third on.
    let mean_on = on.iter().sum::<f64>() / on.len() as f64;
    assert!((0.2..0.45).contains(&mean_on), "{mean_on}");
    // Steal per node (only while a thread is runnable, so small at these loads).
    let steal = |v: &VariantReport| {
        let hosts = &v.neighbours.as_ref().expect("shared hosts").hosts;
        hosts.iter().map(|h| h.steal_vcpus_mean).sum::<f64>() / hosts.len() as f64
    };
    assert!(
        steal(large) > 2.0 * steal(small) && steal(small) > 0.0,
        "{} vs {}",
        steal(large),
        steal(small)
    );
}
