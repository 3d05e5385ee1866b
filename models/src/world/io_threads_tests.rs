//! Redis 7.0's I/O threads against Valkey 8's: Redis deals writes (and, with
//! `io-threads-do-reads`, reads) out over its threads only while enough clients wait,
//! its main thread paying its share; Valkey offloads reading, parsing and writing
//! asynchronously, its main thread only executing.

use super::{Ev, RunResult, World};
use crate::scenario::load_str;
use sim::Scheduler;

fn run(engine: &str, node: &str, clients: u32) -> RunResult {
    let text = format!(
        r#"(
        name: "io", description: "io threads", seed: 3, duration_s: 2, warmup_s: 1,
        cluster: (engine: {engine}, instance: "cache.r7g.4xlarge", node: ({node})),
        clients: (workload: (ratio: "1:0", key_maximum: 10000, data_size: 512, clients: {clients}, threads: 10)),
        prefill: (keys: 10000, value_bytes: 512),
    )"#
    );
    let config = load_str(&text, "io.ron")
        .expect("loads")
        .resolved_variants()[0]
        .config
        .clone();
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build(&config, &mut sched).expect("builds");
    world.run(&mut sched);
    world.finish(sched.events_run())
}

fn ops_per_s(r: &RunResult) -> f64 {
    r.ops_per_s[1] as f64
}

/// The busy share of thread `t` of node 0 in second 1.
fn busy(r: &RunResult, t: u32) -> f64 {
    r.resources_of(0)
        .find(|x| x.thread == Some(t))
        .map_or(0.0, |x| x.utilization(1))
}

/// Saturated by 650 connections, 9 threads: Redis 7.0's main thread pays half the batch
/// cost (the read), the command, and a ninth of the other half (the write) with the
/// reply; with do-reads a ninth of both; Valkey 8's pays only the command. Each
/// throughput is its main thread's ceiling, and they order as the designs do.
#[test]
fn redis_deals_out_writes_and_valkey_offloads_everything() {
    let writes = run("redis", "io_threads: 9", 65);
    let reads = run("redis", "io_threads: 9, io_threads_do_reads: true", 65);
    let valkey = run("valkey", "io_threads: 9", 65);
    let c = &writes.cpu_cost;
    let (read_ns, write_ns) = c.read_write_split(549, 5);
    let command = c.per_command_ns as f64;
    let ceiling = |main_ns: f64| 1e9 / main_ns;
    let redis_writes = ceiling(read_ns as f64 + command + write_ns as f64 / 9.0);
    let redis_reads = ceiling((read_ns + write_ns) as f64 / 9.0 + command);
    for (r, want) in [(&writes, redis_writes), (&reads, redis_reads)] {
        assert!(
            (ops_per_s(r) / want - 1.0).abs() < 0.03,
            "{} vs {want}",
            ops_per_s(r)
        );
        assert!(busy(r, 0) > 0.99, "the main thread binds");
    }
    assert!(ops_per_s(&writes) < ops_per_s(&reads));
    assert!(ops_per_s(&reads) < ops_per_s(&valkey));
    assert!((ops_per_s(&valkey) / ceiling(command) - 1.0).abs() < 0.03);
}

/// Redis 7.0 stops its threads while fewer than twice as many clients wait to be
/// written to as there are threads: with 4 connections and 9 threads, the main thread
/// does everything, as with one thread, and the I/O threads stay idle.
#[test]
fn redis_threads_stay_idle_with_few_clients() {
    let one = run("redis", "io_threads: 1", 1);
    let nine = run("redis", "io_threads: 9", 1);
    assert_eq!(one.ops_per_s[1], nine.ops_per_s[1]);
    for t in 1..9 {
        assert_eq!(busy(&nine, t), 0.0, "I/O thread {t}");
    }
}
