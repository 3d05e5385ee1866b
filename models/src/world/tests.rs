//! Tests of the world's component seams: a mechanism added as a component (the probe)
//! carries its own traffic on its own flow kind, and that traffic shows in the results
//! and on the NICs it crosses.

use super::flows::FlowKind;
use super::probe::ProbeConfig;
use super::{Ev, RunResult, World};
use crate::scenario::load_str;
use crate::scenario::resolve::RunConfig;
use sim::{Scheduler, SimDuration};

/// Two shards, a fixed number of requests per connection (so client traffic is the same
/// whatever else shares the NICs), 2 s.
fn two_shards() -> RunConfig {
    let text = r#"(
        name: "probe", description: "two shards", seed: 5, duration_s: 2,
        cluster: (engine: redis, mode: cluster, shards: 2, instance: "cache.r7g.large"),
        clients: (workload: (ratio: "1:4", key_maximum: 2000, data_size: 300,
                             clients: 4, threads: 1, requests: 200)),
    )"#;
    let scenario = load_str(text, "probe.ron").expect("the test scenario loads");
    scenario.resolved_variants()[0].config.clone()
}

fn run(config: &RunConfig, probe: Option<ProbeConfig>) -> (RunResult, Option<Vec<u64>>, u64) {
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let extras = super::TestExtras {
        probe,
        ..Default::default()
    };
    let mut world = World::build_with(config, &mut sched, extras).expect("the world builds");
    world.run(&mut sched);
    let delivered = world.probe.as_ref().map(|p| p.delivered.clone());
    let sent = world.probe.as_ref().map_or(0, |p| p.sent());
    (world.finish(sched.events_run()), delivered, sent)
}

#[test]
fn a_probe_component_adds_its_own_traffic_and_nothing_else() {
    let config = two_shards();
    let probe = ProbeConfig {
        from_node: 0,
        to_node: 1,
        period: SimDuration::from_ms(100),
        payload_bytes: 20_000,
        reset_at: None,
    };
    let (plain, _, _) = run(&config, None);
    let (probed, delivered, sent) = run(&config, Some(probe));
    let delivered = delivered.expect("the probe ran");

    // A message every 100 ms of a 2 s run, the last at 1.9 s: 19, each delivered once,
    // in order.
    assert_eq!(sent, 19);
    assert_eq!(delivered, (0..19).collect::<Vec<u64>>());

    // The results count them under the probe's kind, apart from client traffic.
    let kind = |r: &RunResult, k: super::flows::FlowKind| {
        r.flows
            .iter()
            .find(|f| f.kind == k)
            .cloned()
            .expect("every kind is listed")
    };
    let p = kind(&probed, super::flows::FlowKind::Probe);
    assert_eq!(
        (p.messages_delivered, p.payload_bytes_delivered),
        (19, 19 * 20_000)
    );
    // A world without probe flows lists no probe kind at all.
    assert!(!plain
        .flows
        .iter()
        .any(|f| f.kind == super::flows::FlowKind::Probe));
    for k in [
        super::flows::FlowKind::ClientRequest,
        super::flows::FlowKind::ClientReply,
    ] {
        assert_eq!(
            kind(&plain, k),
            kind(&probed, k),
            "{k:?} traffic is unchanged"
        );
    }

    // Their bytes cross node 0's egress and node 1's ingress, framed into packets.
    let n = &config.network;
    let mss = u64::from(n.mtu_bytes - n.ip_tcp_header_bytes);
    let packets = 20_000u64.div_ceil(mss);
    let wire = 20_000 + packets * u64::from(n.ip_tcp_header_bytes + n.link_header_bytes);
    assert_eq!(
        probed.hosts[0].egress.wire_bytes - plain.hosts[0].egress.wire_bytes,
        19 * wire
    );
    assert_eq!(
        probed.hosts[1].ingress.wire_bytes - plain.hosts[1].ingress.wire_bytes,
        19 * wire
    );
    assert_eq!(probed.hosts[0].ingress, plain.hosts[0].ingress);
    assert_eq!(
        probed.hosts[1].egress.wire_bytes,
        plain.hosts[1].egress.wire_bytes
    );
    assert_eq!(
        probed.sets.count + probed.gets.count,
        plain.sets.count + plain.gets.count
    );
}

#[test]
fn a_run_result_reads_back_losslessly_and_renders_the_same_report() {
    let result = run(&two_shards(), None).0;
    let json = result.to_json();
    let back = RunResult::from_json(&json).expect("a result reads back");
    assert_eq!(back, result);
    assert_eq!(back.to_json(), json);
    let a = crate::report::variant_report(&result);
    let b = crate::report::variant_report(&back);
    assert_eq!(
        serde_json::to_string(&a).expect("reports serialize"),
        serde_json::to_string(&b).expect("reports serialize")
    );
    assert!(
        result.sets.count + result.gets.count > 0,
        "the run measured requests"
    );
}

/// A run shorter than the rule's three seconds, with a saturated main thread, names the
/// thread: it never blames the offered load when a resource was saturated.
#[test]
fn a_short_run_with_a_saturated_thread_names_it() {
    let text = r#"(
        name: "short", description: "1.8 s at full CPU", seed: 2, duration_ms: 1800,
        cluster: (mode: standalone, instance: "cache.r7g.large",
                  cpu_cost: (per_command_ns: 20000)),
        clients: (workload: (key_maximum: 1000, clients: 20, threads: 2, pipeline: 4,
                             test_time_s: 2)),
    )"#;
    let scenario = load_str(text, "short.ron").expect("loads");
    let config = &scenario.resolved_variants()[0].config;
    let report = crate::report::variant_report(&crate::world::simulate(config).expect("runs"));
    assert_eq!(report.findings_window.binding_seconds, 1);
    let f = report.findings.first().expect("a finding");
    assert!(f.binding);
    assert_eq!(format!("{:?}", f.resource), "Cpu");
    assert_eq!(f.thread, Some(0));
    assert!(f.utilization_mean >= 0.9, "{}", f.utilization_mean);

    // With no whole second after warm-up, the report says it cannot judge.
    let mut tiny = config.clone();
    tiny.duration_ns = 900_000_000;
    tiny.clients.workload.test_time_ns = Some(900_000_000);
    let report = crate::report::variant_report(&crate::world::simulate(&tiny).expect("runs"));
    assert_eq!(report.findings_window.binding_seconds, 0);
    assert!(report.findings.is_empty());
    let text = crate::report::build_report(&scenario, vec![report]).to_text();
    assert!(text.contains("too short to judge"), "{text}");
}

/// A connection torn down and reopened keeps its flow: the flow is reset in place (same
/// id, no flow added), what was in flight is never delivered, and what is sent after
/// arrives in order.
#[test]
fn a_probe_connection_reset_mid_run_reuses_its_flow() {
    let text = r#"(
        name: "reset", description: "a slow link", seed: 5, duration_s: 2,
        instances: { "slow": (vcpu: 2, memory_bytes: 1_073_741_824,
                              baseline_bits_per_s: 100_000_000,
                              queue_limit_bytes: 64_000_000, source: "test") },
        cluster: (mode: cluster, shards: 2, instance: "slow"),
        clients: (workload: (key_maximum: 100, clients: 1, threads: 1, requests: 20)),
    )"#;
    let scenario = load_str(text, "reset.ron").expect("the test scenario loads");
    let config = scenario.resolved_variants()[0].config.clone();
    // A slow link and large messages keep several in flight when the reset comes.
    let probe = ProbeConfig {
        from_node: 0,
        to_node: 1,
        period: SimDuration::from_ms(10),
        payload_bytes: 400_000,
        reset_at: Some(SimDuration::from_ms(1_000)),
    };
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let extras = super::TestExtras {
        probe: Some(probe),
        ..Default::default()
    };
    let mut world = World::build_with(&config, &mut sched, extras).expect("builds");
    let probe_flows = world.flows.count(FlowKind::Probe);
    let flow = world.probe.as_ref().expect("probe").flow();
    world.run(&mut sched);
    let p = world.probe.as_ref().expect("probe");
    assert_eq!(world.flows.count(FlowKind::Probe), probe_flows);
    assert_eq!(p.flow(), flow);
    let stats = world.net.flow_stats(flow);
    assert_eq!(stats.resets, 1);
    // Tokens are sequence numbers: the reset comes at the tick of t = 1 s (token 99);
    // messages sent before it that had not arrived are gone, and every one delivered
    // after it was sent after it, in order.
    let first_after = p
        .delivered
        .iter()
        .position(|&t| t >= 99)
        .expect("deliveries after the reset");
    let after = &p.delivered[first_after..];
    assert_eq!(
        after[0], 99,
        "the first message after the reset is the reset tick's"
    );
    assert!(
        after.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none lost"
    );
    assert!(
        stats.discarded_messages > 0,
        "messages were in flight at the reset"
    );
    assert!(p.delivered[..first_after]
        .windows(2)
        .all(|w| w[1] == w[0] + 1));
    assert!(world.net.conservation().holds());
}

/// The node rows carry what ElastiCache users look for: evictions (Evictions), expired
/// keys (Reclaimed) over the measured window, and connections (CurrConnections).
#[test]
fn node_rows_count_evictions_expiries_and_connections() {
    let text = r#"(
        name: "keys", description: "tight memory, short TTLs", seed: 8, duration_s: 4,
        warmup_s: 1,
        cluster: (mode: cluster, shards: 2, instance: "cache.r7g.large",
                  node: (maxmemory_bytes: 3_000_000, maxmemory_policy: allkeys_lru)),
        clients: (workload: (ratio: "1:1", key_maximum: 50000, data_size: 500, clients: 3,
                             threads: 2, test_time_s: 4, expiry_range: "1-2")),
        prefill: (keys: 5000),
    )"#;
    let scenario = load_str(text, "keys.ron").expect("loads");
    let config = &scenario.resolved_variants()[0].config;
    let result = crate::world::simulate(config).expect("runs");
    let report = crate::report::variant_report(&result);
    for (n, h) in report.nodes.iter().zip(&result.hosts) {
        assert_eq!(
            n.connections, 6,
            "3 clients x 2 threads, one connection each to {}",
            n.name
        );
        assert!(n.evicted_keys > 0, "{}: memory is tight", n.name);
        assert!(n.expired_keys > 0, "{}: TTLs of 1-2 s in a 4 s run", n.name);
        assert!(
            n.evicted_keys < h.evicted_keys,
            "{}: the warm-up's evictions are left out",
            n.name
        );
    }
    assert_eq!(report.client_hosts[0].connections, 12);
}

/// Memory per simulated second is bounded by what happens in it: a run whose clients
/// stop after 2 s of a 600 s run keeps a latency histogram for the seconds with
/// completions only, and its long idle tail costs none.
#[test]
fn an_idle_tail_keeps_no_latency_histograms() {
    let text = r#"(
        name: "idle", description: "2 s of traffic, then 598 s of nothing", seed: 3,
        duration_s: 600,
        cluster: (instance: "cache.r7g.large"),
        clients: (workload: (key_maximum: 100, clients: 1, threads: 1, test_time_s: 2)),
        prefill: (keys: 0),
    )"#;
    let scenario = load_str(text, "idle.ron").expect("loads");
    let result = crate::world::simulate(&scenario.resolved_variants()[0].config).expect("runs");
    let seconds: Vec<u64> = result.latency_per_s.iter().map(|s| s.second).collect();
    // The replies to the last requests sent arrive just after 2 s.
    assert_eq!(
        seconds,
        vec![0, 1, 2],
        "histograms only for the seconds with replies"
    );
    assert!(result.latency_in_second(1).is_some());
    assert!(result.latency_in_second(300).is_none());
    let report = crate::report::variant_report(&result);
    let p99 = report
        .timeseries
        .series
        .iter()
        .find(|s| s.name == "latency_ms_p99")
        .expect("a p99 series");
    assert_eq!(p99.values.len(), 600);
    assert!(p99.values[1] > 0.0 && p99.values[3..].iter().all(|&v| v == 0.0));
}

/// Watching a run does not change it: stopping the scheduler every 37 ms of simulated
/// time (off every second and warm-up boundary) to observe progress gives the same
/// results, byte for byte, as running straight through, and the observer sees the
/// simulated time advance to the end with the events counted so far.
#[test]
fn observing_progress_changes_no_result() {
    let text = r#"(
        name: "observed", description: "jitter, an open loop above the baseline, warm-up off the second",
        seed: 11, duration_ms: 2500, warmup_ms: 700,
        network: (latency_us: 80, jitter_us: 40),
        cluster: (mode: cluster, shards: 3, instance: "cache.t4g.small"),
        clients: (workload: (ratio: "1:4", key_maximum: 2000, data_size: 700, clients: 2,
                             threads: 2, pipeline: 2,
                             open_loop: (process: poisson, rate_rps: 40000, queue_depth: 4))),
        net_credits_at_start: empty,
        prefill: (keys: 500),
    )"#;
    let scenario = load_str(text, "observed.ron").expect("loads");
    let config = &scenario.resolved_variants()[0].config;
    let straight = {
        let mut sched = sim::Scheduler::with_capacity(64);
        let mut world = World::build(config, &mut sched).expect("builds");
        world.run(&mut sched);
        world.finish(sched.events_run())
    };
    assert!(
        straight.simulation.client_queue_overflows > 0,
        "arrivals held at the end"
    );
    let mut sched = sim::Scheduler::with_capacity(64);
    let mut world = World::build(config, &mut sched).expect("builds");
    let mut seen = Vec::new();
    world.run_observed(
        &mut sched,
        sim::SimDuration::from_ns(37_000_000),
        &mut |t, events| seen.push((t.as_ns(), events)),
    );
    let observed = world.finish(sched.events_run());
    assert_eq!(observed.digest(), straight.digest());
    assert_eq!(seen.len(), 68, "ceil(2500 / 37) stops");
    assert_eq!(seen.last().map(|s| s.0), Some(2_500_000_000));
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    assert_eq!(seen.last().map(|s| s.1), Some(straight.simulation.events));
}

/// A Zipf workload over 10^12 keys runs end to end (no prefill: the default one would
/// cover the whole range, which is refused): its exact shard shares come in bounded work
/// with their error bound, which the text report states.
#[test]
fn a_trillion_key_range_reports_bounded_shares() {
    let text = r#"(
        name: "trillion", description: "Zipf over 10^12 keys", seed: 5, duration_s: 2,
        cluster: (mode: cluster, shards: 10, placement: crc16, instance: "cache.r7g.large"),
        clients: (workload: (key_pattern: "Z:Z", key_zipf_exp: 1.0, key_minimum: 1,
                             key_maximum: 1_000_000_000_000, clients: 1, threads: 1,
                             test_time_s: 1)),
        prefill: (keys: 0),
    )"#;
    let scenario = load_str(text, "trillion.ron").expect("loads");
    let result = crate::world::simulate(&scenario.resolved_variants()[0].config).expect("runs");
    let shares = &result.shards.share_exact;
    assert_eq!(shares.len(), 10);
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let bound = result.shards.share_exact_error_bound;
    assert!(bound > 0.0 && bound < 1e-8, "bound {bound}");
    let report = crate::report::variant_report(&result);
    assert_eq!(report.shards.share_exact_error_bound, bound);
    let text = crate::report::build_report(&scenario, vec![report]).to_text();
    assert!(text.contains("each exact share within"), "{text}");
}

/// One 2 s open-loop run of 25,000-byte GETs from a cache.t4g.small with its credits
/// spent (about 635 replies a second at its 0.128 Gbps baseline), at `rate_rps`.
fn overloaded(process: &str, rate_rps: u64) -> (RunResult, u64, u64) {
    let text = format!(
        r#"(
        name: "overload", description: "open loop above the baseline", seed: 9, duration_s: 2,
        cluster: (instance: "cache.t4g.small"),
        net_credits_at_start: empty,
        clients: (workload: (ratio: "0:1", key_minimum: 1, key_maximum: 100, data_size: 25000,
                             clients: 5, threads: 2, test_time_s: 2,
                             open_loop: (process: {process}, rate_rps: {rate_rps}, queue_depth: 20))),
        prefill: (keys: 100, key_minimum: 1, value_bytes: 25000),
    )"#
    );
    let config = load_str(&text, "overload.ron")
        .expect("loads")
        .resolved_variants()[0]
        .config
        .clone();
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build(&config, &mut sched).expect("the world builds");
    world.run(&mut sched);
    let sent = world.clients.sent_total();
    let queued: u64 = world
        .clients
        .clients
        .iter()
        .map(|c| c.backlog.len() as u64)
        .sum();
    (world.finish(sched.events_run()), sent, queued)
}

/// An offered rate far above what the node serves costs what is served, not what is
/// offered: at 10^9 requests a second (2 x 10^9 offered) the run takes about as many
/// events as at four times the served rate, and every arrival is accounted for (sent,
/// still queued, or dropped; fixed-rate arrivals are counted exactly).
#[test]
fn an_open_loop_far_above_capacity_costs_what_is_served() {
    for process in ["fixed_rate", "poisson"] {
        let (moderate, _, _) = overloaded(process, 2_500);
        let (extreme, sent, queued) = overloaded(process, 1_000_000_000);
        let served = |r: &RunResult| r.ops_per_s.iter().sum::<u64>();
        assert!(served(&extreme) > 1_000, "{process}: {}", served(&extreme));
        assert!(
            extreme.simulation.events
                <= moderate.simulation.events + moderate.simulation.events / 4,
            "{process}: {} events at 10^9/s against {} at 2,500/s",
            extreme.simulation.events,
            moderate.simulation.events
        );
        let accounted = sent + queued + extreme.simulation.client_queue_overflows;
        if process == "fixed_rate" {
            assert_eq!(accounted, 2_000_000_000, "{process}");
        } else {
            // A Poisson count of mean 2 x 10^9: five standard deviations are 223,607.
            assert!(
                accounted.abs_diff(2_000_000_000) < 223_607,
                "{process}: {accounted}"
            );
        }
    }
}

/// A request count per connection near 2^64 does not overflow the measured window's
/// end (the expected total, count x connections, saturates): the run ends at its time.
#[test]
fn a_huge_request_count_ends_the_window_at_the_run_end() {
    let text = r#"(
        name: "huge", description: "huge request count", seed: 1, duration_ms: 50,
        cluster: (instance: "cache.r7g.large"),
        clients: (workload: (key_maximum: 10, clients: 20, threads: 1,
                             requests: 922337203685477581)),
    )"#;
    let config = load_str(text, "huge.ron")
        .expect("loads")
        .resolved_variants()[0]
        .config
        .clone();
    let result = crate::world::simulate(&config).expect("runs");
    assert_eq!(result.window_end_ns, result.end_ns);
    assert!(result.simulation.requests_sent > 0);
}

/// A node that crashes stops answering, and restarts empty: its store has none of the
/// prefilled keys (a GET-only workload creates none), every connection to it is reset
/// once, at the restart (the outage is far shorter than the reset time), and the
/// requests that were waiting on them fail, counted; the other node keeps its keys and
/// serves throughout, and the restarted one serves again.
#[test]
fn a_crashed_node_restarts_empty_and_its_connections_are_reset() {
    let text = r#"(
        name: "crash", description: "crash", seed: 5, duration_ms: 1500,
        cluster: (mode: cluster, shards: 2, instance: "cache.r7g.large"),
        clients: (workload: (ratio: "0:1", key_maximum: 2000, data_size: 300,
                             clients: 4, threads: 1)),
        faults: [(at_ms: 500, for_ms: 300, crash: "redis-1")],
    )"#;
    let config = load_str(text, "crash.ron")
        .expect("loads")
        .resolved_variants()[0]
        .config
        .clone();
    let (r, _, _) = run(&config, None);
    assert!(r.hosts[0].keys > 900, "{}", r.hosts[0].keys);
    assert_eq!(r.hosts[1].keys, 0, "restarted empty");
    let f = r.faults.as_ref().expect("a fault timeline");
    assert_eq!(f.timeline.len(), 1);
    assert_eq!(
        (f.timeline[0].kind.as_str(), f.timeline[0].target.as_str()),
        ("crash", "redis-1")
    );
    assert_eq!(
        (f.timeline[0].began_ns, f.timeline[0].ended_ns),
        (500_000_000, Some(800_000_000))
    );
    assert_eq!(
        f.connection_resets, 4,
        "each of the 4 connections to redis-1, once"
    );
    assert_eq!(f.timeline[0].connection_resets, 4);
    assert!(f.requests_reset >= 1 && f.requests_reset == f.timeline[0].requests_reset);
    assert!(
        f.timeline[0].dropped_messages > 0,
        "the cut dropped what was sent to it"
    );
    // Served before the crash and after the restart; nothing completes while it is
    // down but what was already on its way back.
    let node1 = &r.hosts[1].ops_per_s;
    assert!(node1[0] > 0 && node1[1] > 0, "{node1:?}");
    assert_eq!(
        r.simulation.requests_sent,
        r.simulation.requests_completed_total + r.simulation.requests_in_flight + f.requests_reset
    );
}

/// Zones set each connection's latency (same zone: network.latency_us; across:
/// the cross-zone figure), and the bytes between two hosts in two zones are counted on
/// both, the same from either end; a node in the client's zone counts only its
/// cluster-bus messages to the node across.
#[test]
fn zones_time_each_connection_and_count_cross_zone_bytes() {
    let text = r#"(
        name: "zones", description: "zones", seed: 5, duration_s: 1,
        network: (latency_us: 50, zones: ["a", "b"], cross_zone_latency_us: 1000),
        cluster: (mode: cluster, shards: 2, instance: "cache.r7g.large", zones: ["a", "b"]),
        clients: (zones: ["a"], workload: (key_maximum: 2000, data_size: 300, clients: 4,
                                             threads: 1, requests: 100)),
    )"#;
    let config = load_str(text, "zones.ron")
        .expect("loads")
        .resolved_variants()[0]
        .config
        .clone();
    let (r, _, _) = run(&config, None);
    let cz = |i: usize| r.hosts[i].cross_zone_bytes.expect("zones are named");
    // redis-0 shares the client's zone: what it sends across is the cluster bus to
    // redis-1, and redis-1's cross-zone bytes are the client's plus that bus.
    let bus = r.bus.as_ref().expect("cluster mode runs the bus");
    assert!(bus.nodes[0].bytes_sent > 0 && cz(0).sent >= bus.nodes[0].bytes_sent);
    assert!(cz(2).sent > 0 && cz(2).received > 0);
    assert_eq!(cz(1).received, cz(2).sent + cz(0).sent);
    assert_eq!(cz(1).sent, cz(2).received + cz(0).received);
    // Half the requests go each way: mean propagation (both ways) between the two.
    let mean_us = r.breakdown.propagation.mean_ns() / 1e3;
    assert!((500.0..1_500.0).contains(&mean_us), "{mean_us}");
    let p = |us: u64| {
        r.breakdown
            .propagation
            .percentile_ns(50.0)
            .abs_diff(us * 1_000)
    };
    assert!(
        p(100) < 5_000 || p(2_000) < 20_000,
        "propagation is one of the two paths"
    );
}

/// Building a world hashes each prefilled key once, whatever the number of nodes: the
/// table of the keys' shards is built once and every node reads its own keys from it
/// (before, every node of a range over 2^25 keys hashed the whole range again).
#[test]
fn a_world_build_hashes_each_prefilled_key_once() {
    // 2^25 + 1,000 keys: past the size up to which a table used to be built.
    for (shards, keys) in [(3u32, 20_000u64), (60, 20_000), (2, (1 << 25) + 1_000)] {
        let text = format!(
            r#"(
            name: "hash-once", description: "prefill across shards", seed: 2,
            duration_ms: 10, warmup_s: 0,
            cluster: (mode: cluster, shards: {shards}, replicas_per_shard: 1,
                      instance: "cache.r7g.large"),
            clients: (workload: (clients: 1, threads: 1, test_time_s: 1)),
            prefill: (keys: {keys}),
        )"#
        );
        let scenario = load_str(&text, "hash-once.ron").expect("loads");
        let config = &scenario.resolved_variants()[0].config;
        let before = crate::placement::SHARD_OF_CALLS.with(|c| c.get());
        let mut sched = sim::Scheduler::with_capacity(64);
        let world = World::build(config, &mut sched).expect("builds");
        let hashed = crate::placement::SHARD_OF_CALLS.with(|c| c.get()) - before;
        assert_eq!(hashed, keys, "{shards} shards");
        // And every key is on exactly one primary (and its replica).
        let held: u64 = world.nodes.nodes.iter().map(|n| n.db.dbsize()).sum();
        assert_eq!(held, 2 * keys, "{shards} shards, one replica each");
    }
}
