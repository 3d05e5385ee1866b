//! Replication against closed forms: N replicas sharing their primary's egress B with
//! client replies C, each fed a write stream W, each see their output buffer grow at
//! (N W + C - B) / N while that is positive, so the hard limit L is reached after
//! N L / (N W + C - B).

use models::scenario::load_str;
use models::world::replication::LinkEvent;
use models::world::simulate;

/// A primary with `replicas` replicas on a 100 Mbps NIC without burst, fed SETs of
/// 10 KB at a fixed rate (100 rate-limited memtier connections, each far from its own
/// limit, so that queueing on the shared egress does not slow the writes), Redis's
/// 256 MiB hard limit (large beside the few MiB a link's first second adds while its
/// TCP window opens), no soft limit, and a 64 KiB socket buffer: enough to keep the egress
/// busy, small beside the limit (what the socket holds is not in the buffer), and too
/// small to overflow the NIC's queue (a drop would slow one link's TCP and share the
/// egress unevenly, which the closed form does not describe). `get_ratio` GETs of the
/// prefilled 10 KB values per SET make the client replies C.
fn scenario(replicas: u32, requests_per_connection_per_s: u32, get_ratio: u32) -> String {
    format!(
        r#"(
    name: "closed-form", description: "buffer growth", seed: 3,
    duration_s: 200, warmup_s: 0,
    instances: {{
        "nic100": (vcpu: 8, memory_bytes: 8_589_934_592, baseline_bits_per_s: 100_000_000,
                   source: "test"),
    }},
    cluster: (engine: redis, mode: standalone, instance: "nic100", replicas_per_shard: {replicas},
              replication: (output_buffer_hard_limit_bytes: 268435456,
                            output_buffer_soft_limit_bytes: 0, socket_buffer_bytes: 65536)),
    clients: (workload: (ratio: "1:{get_ratio}", key_minimum: 0, key_maximum: 999,
                         data_size: 10000, pipeline: 1, clients: 100, threads: 1,
                         rate_limiting: {requests_per_connection_per_s}, test_time_s: 200)),
    prefill: (keys: 1000, key_minimum: 0, value_bytes: 10000),
)"#
    )
}

/// B: the primary's egress baseline in payload bytes a second, as this traffic uses it:
/// the baseline times the share of its wire bytes that were payload (the rest is each
/// packet's headers and the TCP acknowledgements of the requests it receives).
fn payload_rate(r: &models::world::RunResult) -> f64 {
    let p = &r
        .replication
        .as_ref()
        .expect("replication results")
        .primaries[0];
    let payload = (p.client_reply_bytes + p.replication_bytes_delivered) as f64;
    let wire = r.hosts[0].egress.wire_bytes as f64;
    100e6 / 8.0 * payload / wire
}

/// The simulated time of the first hard-limit disconnect, against N L / (N W + C - B)
/// with W and C measured as the run's mean rates and B the baseline in payload bytes.
fn check(replicas: u32, rate: u32, get_ratio: u32) {
    let text = scenario(replicas, rate, get_ratio);
    let s = load_str(&text, "closed-form.ron").unwrap();
    let config = &s.resolved_variants()[0].config;
    let r = simulate(config).unwrap();
    let repl = r.replication.as_ref().expect("replication results");
    let first_drop_ns = repl
        .replicas
        .iter()
        .filter_map(|x| {
            x.events.iter().find_map(|e| match e {
                LinkEvent::Disconnect { at_ns, .. } => Some(*at_ns),
                _ => None,
            })
        })
        .min()
        .expect("a replica is dropped");
    let seconds = r.end_ns as f64 / 1e9;
    let p = &repl.primaries[0];
    let w = p.stream_bytes as f64 / seconds;
    let c = p.client_reply_bytes as f64 / seconds;
    let b = payload_rate(&r);
    let n = f64::from(replicas);
    let l = 268_435_456.0;
    assert!(n * w + c > b, "the streams must not fit: {w} {c} {b}");
    let expected_s = n * l / (n * w + c - b);
    let got_s = first_drop_ns as f64 / 1e9;
    assert!(
        (got_s - expected_s).abs() <= 0.02 * expected_s,
        "N = {replicas}: first drop at {got_s:.3} s, closed form {expected_s:.3} s"
    );
}

/// With several replicas the egress is shared between their links nearly, not exactly,
/// evenly (each link's TCP and its place in the shaper's round differ), so the first
/// buffer to reach L does so a little early and the others are a little short of it;
/// what the closed form fixes exactly is their sum, N W + C - B a second: at the first
/// drop the buffers add up to (N W + C - B) x t, within 2%; and the first drop comes
/// within 2% of N L / (N W + C - B) (0.25% here: 142.8 s against 143.2 s).
fn check_shared(replicas: u32, rate: u32, get_ratio: u32) {
    let text = scenario(replicas, rate, get_ratio);
    let s = load_str(&text, "closed-form.ron").unwrap();
    let config = &s.resolved_variants()[0].config;
    let r = simulate(config).unwrap();
    let repl = r.replication.as_ref().expect("replication results");
    let (first, first_drop_ns, dropped_bytes) = repl
        .replicas
        .iter()
        .enumerate()
        .filter_map(|(i, x)| {
            x.events.iter().find_map(|e| match e {
                LinkEvent::Disconnect {
                    at_ns,
                    buffer_bytes,
                    ..
                } => Some((i, *at_ns, *buffer_bytes)),
                _ => None,
            })
        })
        .min_by_key(|&(_, at, _)| at)
        .expect("a replica is dropped");
    let second = (first_drop_ns / 1_000_000_000) as usize;
    let others: u64 = repl
        .replicas
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != first)
        .map(|(_, x)| x.buffer_peak_bytes_per_s[second])
        .sum();
    let seconds = r.end_ns as f64 / 1e9;
    let p = &repl.primaries[0];
    let w = p.stream_bytes as f64 / seconds;
    let c = p.client_reply_bytes as f64 / seconds;
    let b = payload_rate(&r);
    let n = f64::from(replicas);
    let t = first_drop_ns as f64 / 1e9;
    let sum = (dropped_bytes + others) as f64;
    let expected_sum = (n * w + c - b) * t;
    assert!(
        (sum - expected_sum).abs() <= 0.02 * expected_sum,
        "N = {replicas}: buffers add up to {sum} at {t:.3} s, closed form {expected_sum}"
    );
    let expected_s = n * 268_435_456.0 / (n * w + c - b);
    assert!(
        (t - expected_s).abs() <= 0.02 * expected_s,
        "N = {replicas}: first drop at {t:.3} s, closed form {expected_s:.3} s"
    );
}

#[test]
fn one_replica_reaches_the_hard_limit_at_the_closed_form_time() {
    // The primary's ingress is capped like its egress, so one stream alone cannot
    // exceed it: 100 connections x 14 requests a second, half SETs and half GETs of
    // 10 KB: W = 7 MB/s and C = 7 MB/s against B = 12.4 MB/s.
    check(1, 14, 1);
}

#[test]
fn two_replicas_reach_the_hard_limit_at_the_closed_form_time() {
    // W = 8 MB/s to each of two replicas: 16 MB/s against B = 12.4 MB/s.
    check_shared(2, 8, 0);
}

/// Reads from replicas: with `read_from: replica` every GET is served by a replica
/// (none by the primary); while a replica lags behind a stream its egress cannot carry,
/// some reads are stale (the key's last write acknowledged before the read arrived and
/// not applied), and with the stream carried easily none are; `replica_preferred`
/// sends reads to the primary while no replica is in sync.
#[test]
fn reads_from_replicas_are_counted_and_stale_ones_found() {
    let text = |read_from: &str, baseline: u64| {
        format!(
            r#"(
    name: "reads", description: "reads from replicas", seed: 9, duration_s: 8, warmup_s: 0,
    instances: {{
        "nic": (vcpu: 8, memory_bytes: 8_589_934_592, baseline_bits_per_s: {baseline},
                source: "test"),
    }},
    cluster: (engine: redis, mode: standalone, instance: "nic", replicas_per_shard: 2),
    clients: (read_from: {read_from},
              workload: (ratio: "1:1", key_minimum: 0, key_maximum: 99, data_size: 5000,
                         pipeline: 1, clients: 50, threads: 1, rate_limiting: 100,
                         test_time_s: 8)),
    prefill: (keys: 100, key_minimum: 0, value_bytes: 5000),
)"#
        )
    };
    let run = |read_from: &str, baseline: u64| {
        let t = text(read_from, baseline);
        let s = load_str(&t, "reads.ron").unwrap();
        simulate(&s.resolved_variants()[0].config).unwrap()
    };
    // 2,500 SETs of 5 KB a second: 12.5 MB/s to each of two replicas, through 20 MB/s.
    let lagging = run("replica", 160_000_000);
    let repl = lagging.replication.as_ref().unwrap();
    let reads: u64 = repl.replicas.iter().map(|x| x.reads).sum();
    let stale: u64 = repl.replicas.iter().map(|x| x.stale_reads).sum();
    // Every GET completed was served by a replica (a few more were served whose replies
    // were still on their way at the end); the primary answered only the SETs.
    assert!(lagging.gets.count > 0 && reads >= lagging.gets.count);
    assert!(reads <= lagging.gets.count + 50, "{reads}");
    assert_eq!(lagging.hosts[0].ops, lagging.sets.count);
    assert!(stale > 0, "a lagging replica serves stale reads");
    // With 10 Gbps, the replicas keep up within a few microseconds.
    let fast = run("replica", 10_000_000_000);
    let repl = fast.replication.as_ref().unwrap();
    let stale_fast: u64 = repl.replicas.iter().map(|x| x.stale_reads).sum();
    assert!(stale_fast < stale / 10, "{stale_fast} vs {stale}");
    // Preferring replicas, the reads go to them while they are in sync.
    let preferred = run("replica_preferred", 10_000_000_000);
    let repl = preferred.replication.as_ref().unwrap();
    assert!(repl.replicas.iter().all(|x| x.reads > 0));
}
