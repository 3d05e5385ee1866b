//! Records the ground truth of the cluster-bus model: the bus traffic of real, idle
//! Redis 7.0 clusters on loopback (6 primaries at the default 15 s node timeout, 30 at
//! 2 s), each measured over 60 s of wall time, written as JSON to
//! `tests/bus_reference.json`, which `tests/bus_redis.rs` checks the simulator against.
//! Measuring a real system takes its wall time, so it is a recording run by hand, not a
//! test: `cargo run --release --example record_bus` (needs redis-server 7.0 and `ss`).
//! Invariant: the file holds exactly what was measured, with the redis-server version.

#![allow(clippy::disallowed_methods)]

#[path = "../tests/support/servers.rs"]
mod servers;

#[path = "../tests/support/bus_measurement.rs"]
mod bus_measurement;

#[path = "support/real_cluster.rs"]
mod real_cluster;

use std::time::Duration;

fn main() {
    let cases = [(6u32, 15_000u64), (30, 2_000)];
    let handles: Vec<_> = cases
        .iter()
        .map(|&(nodes, timeout_ms)| {
            std::thread::spawn(move || {
                real_cluster::measure_idle_cluster(nodes, timeout_ms, Duration::from_secs(60))
            })
        })
        .collect();
    let measured: Vec<bus_measurement::BusMeasurement> = handles
        .into_iter()
        .map(|h| h.join().expect("a measurement"))
        .collect();
    let version = std::process::Command::new(servers::redis_server_path())
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let doc = serde_json::json!({ "redis_server": version, "measurements": measured });
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bus_reference.json");
    let text = serde_json::to_string_pretty(&doc).expect("serializes") + "\n";
    std::fs::write(path, text).expect("writes the reference");
    for m in &measured {
        println!("{m}");
    }
}
