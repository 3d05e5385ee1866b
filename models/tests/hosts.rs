//! Hosts: a node's threads bound by its vCPUs, and clients bound by their own CPU, each
//! against a closed form.

use models::report::variant_report;
use models::scenario::load_str;
use models::scenario::resolve::RunConfig;
use models::world::results::HostRole;
use models::world::{simulate, RunResult};

/// A 2-vCPU node with 16 I/O threads serving 20 KB GETs, as a new user tried it: its
/// threads share 2 vCPUs, so it can do no more than 2 vCPU-seconds of work a second.
const MANY_THREADS: &str = r#"(
    name: "threads", description: "16 io-threads on 2 vCPUs", seed: 1,
    duration_s: 4, warmup_s: 1,
    instances: {
        "small": (vcpu: 2, memory_bytes: 8_589_934_592, baseline_bits_per_s: 100_000_000_000,
                  source: "test"),
    },
    cluster: (engine: valkey, mode: standalone, instance: "small", node: (io_threads: 16)),
    clients: (workload: (ratio: "0:1", key_maximum: 999, data_size: 20000, clients: 50,
                         threads: 4, test_time_s: 4)),
    prefill: (keys: 1000, key_minimum: 0, value_bytes: 20000),
    variants: [
        (name: "16-io-threads", patch: ()),
        (name: "2-io-threads", patch: (cluster: (node: (io_threads: 2)))),
    ],
)"#;

#[test]
fn threads_beyond_the_vcpus_share_them() {
    let scenario = load_str(MANY_THREADS, "threads.ron").unwrap();
    let variants = scenario.resolved_variants();
    let sixteen = simulate(&variants[0].config).unwrap();
    let two = simulate(&variants[1].config).unwrap();

    // No second holds more than 2 vCPU-seconds of the node's threads' work.
    let node_threads: Vec<_> = sixteen
        .resources_of(0)
        .filter(|r| r.kind == models::report::Resource::Cpu)
        .collect();
    assert_eq!(node_threads.len(), 16);
    for s in 0..sixteen.seconds() {
        let vcpus_busy: f64 = node_threads.iter().map(|r| r.utilization(s)).sum();
        assert!(
            vcpus_busy <= 2.0 + 1e-9,
            "second {s}: {vcpus_busy} vCPUs busy"
        );
    }
    // And they were contended: more threads wanted to run than there were vCPUs.
    let contended: u64 = sixteen.hosts[0].cpu_contended_ns_per_s.iter().sum();
    assert!(contended > 0);

    // The work of one request (pipeline 1: a read, an execution, a write) on the
    // default cost model bounds throughput at 2 vCPUs' worth.
    let cost = sixteen.cpu_cost;
    let report16 = variant_report(&sixteen);
    let report2 = variant_report(&two);
    let gets = &report16.all_stats.totals;
    let reply_bytes = 20_000 + 9; // "$20000\r\n" + value + "\r\n"
                                  // Requests cost their bytes too; leaving them out only lowers the bound's cost, so
                                  // the bound stays an upper one.
    let per_request_ns = cost.per_read_batch_ns
        + cost.per_command_ns
        + (reply_bytes * cost.per_byte_ps).div_ceil(1000);
    let vcpu_bound = 2e9 / per_request_ns as f64;
    assert!(
        gets.ops_per_sec <= vcpu_bound,
        "{} ops/s above the 2-vCPU bound {vcpu_bound}",
        gets.ops_per_sec
    );
    // With 2 io-threads, the one I/O thread binds (a read and a write a request on one
    // vCPU). Sixteen threads can use both vCPUs, no more: at most twice as much
    // (before hosts bound them, 16 threads served 3.7x as much as 2).
    assert!(
        gets.ops_per_sec <= report2.all_stats.totals.ops_per_sec * 2.0,
        "16 threads {} vs 2 threads {}",
        gets.ops_per_sec,
        report2.all_stats.totals.ops_per_sec
    );
    // The report says how many threads waited for a vCPU.
    assert!(report16.nodes[0].cpu_threads_waiting_mean > 0.5);
    assert_eq!(report16.nodes[0].vcpus, 2);
}

/// One client thread driving 50 connections (redis-benchmark's shape) with a costly
/// client, against a server far from its limits: the client's thread binds.
const CLIENT_BOUND: &str = r#"(
    name: "client-bound", description: "one client thread, 50 connections", seed: 2,
    duration_s: 4, warmup_s: 1,
    cluster: (engine: redis, mode: standalone, instance: "cache.r7g.16xlarge"),
    clients: (
        workload: (ratio: "0:1", key_maximum: 9999, data_size: 100, clients: 50, threads: 1,
                   test_time_s: 4),
        cpu_cost: (per_request_ns: 5000, per_reply_ns: 9000, per_byte_ps: 1000),
    ),
    prefill: (keys: 10000, key_minimum: 0, value_bytes: 100),
)"#;

/// The client's CPU a request of the run takes, at its mean request and reply sizes
/// (GETs only).
fn client_ns_per_request(config: &RunConfig, result: &RunResult) -> f64 {
    let gets = &result.gets;
    config.clients.cpu_cost.ns_per_request(
        gets.request_bytes as f64 / gets.count as f64,
        gets.reply_bytes as f64 / gets.count as f64,
    )
}

#[test]
fn a_client_bound_run_names_the_client_thread_at_its_closed_form_ceiling() {
    let scenario = load_str(CLIENT_BOUND, "client-bound.ron").unwrap();
    let config = &scenario.resolved_variants()[0].config;
    let result = simulate(config).unwrap();
    let report = variant_report(&result);

    // Every request is the same: GET memtier-N with N of 1 to 4 digits, and a 100-byte
    // bulk reply. The closed form uses the measured mean request size.
    let per_request_ns = client_ns_per_request(config, &result);
    let ceiling = 1e9 / per_request_ns;
    let served = report.all_stats.totals.ops_per_sec;
    assert!(
        (served - ceiling).abs() <= 0.02 * ceiling,
        "served {served} vs the client's ceiling {ceiling}"
    );

    let binding = report
        .findings
        .iter()
        .find(|f| f.binding)
        .expect("a finding binds");
    assert_eq!(binding.role, HostRole::Client);
    assert_eq!(binding.thread, Some(0));
    assert!(
        binding.summary().contains("client-0 client thread 0"),
        "{}",
        binding.summary()
    );
    assert!(
        (binding.ceiling_ops_per_s - ceiling).abs() <= 0.02 * ceiling,
        "finding's ceiling {} vs {ceiling}",
        binding.ceiling_ops_per_s
    );
    // The estimate knows the client binds: its request bound is the client's CPU, an
    // upper bound within a few percent of what was sent.
    let e = models::estimate::estimate(config);
    assert_eq!(e.requests_bound, models::estimate::RequestsBound::ClientCpu);
    let sent = result.simulation.requests_sent;
    assert!(
        sent <= e.requests && e.requests as f64 <= 1.1 * sent as f64,
        "sent {sent}, estimate {}",
        e.requests
    );
    // Where the time went has the client's part: at least its parse.
    let client_cpu = report
        .latency_breakdown
        .iter()
        .find(|c| c.component.starts_with("client CPU"))
        .unwrap();
    assert!(client_cpu.mean_us >= 9.0 + 0.1, "{}", client_cpu.mean_us);
}

/// Four client threads on a 2-vCPU client host share its vCPUs: the run is bound at
/// what 2 vCPUs of client work allow, half of what four threads of their own would.
#[test]
fn client_threads_beyond_the_client_vcpus_share_them() {
    let text = CLIENT_BOUND
        .replace(
            r#"cluster: (engine"#,
            r#"instances: { "two-vcpus": (vcpu: 2, memory_bytes: 1_073_741_824,
                             baseline_bits_per_s: 100_000_000_000, source: "test") },
    cluster: (engine"#,
        )
        .replace("threads: 1,", "threads: 4,")
        .replace("clients: 50,", "clients: 25,")
        .replace(
            "workload: (ratio",
            "instance: \"two-vcpus\", workload: (ratio",
        );
    let scenario = load_str(&text, "shared.ron").unwrap();
    let config = &scenario.resolved_variants()[0].config;
    let result = simulate(config).unwrap();
    let report = variant_report(&result);

    let per_request_ns = client_ns_per_request(config, &result);
    let two_vcpus = 2e9 / per_request_ns;
    let served = report.all_stats.totals.ops_per_sec;
    assert!(
        (served - two_vcpus).abs() <= 0.02 * two_vcpus,
        "served {served} vs 2 vCPUs of client work {two_vcpus}"
    );
    // No second holds more than 2 vCPU-seconds of the client's threads' work, and the
    // threads waited for a vCPU.
    let client = result
        .hosts
        .iter()
        .position(|h| h.role == HostRole::Client)
        .unwrap();
    let threads: Vec<_> = result
        .resources_of(client)
        .filter(|r| r.kind == models::report::Resource::Cpu)
        .collect();
    assert_eq!(threads.len(), 4);
    for s in 0..result.seconds() {
        let vcpus_busy: f64 = threads.iter().map(|r| r.utilization(s)).sum();
        assert!(vcpus_busy <= 2.0 + 1e-9, "second {s}: {vcpus_busy}");
    }
    assert!(report.client_hosts[0].cpu_threads_waiting_mean > 1.0);
}
