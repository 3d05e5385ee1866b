//! `kvsim diff` through the binary: two reports give deltas marked single run, two
//! sweeps give intervals and verdicts, `--fail-on-regression` exits 3 beyond its
//! threshold and 0 within it, and bad inputs exit 2 naming the file or the metric.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{kvsim, text};

fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_diff");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write scratch file");
    path
}

/// A small closed-loop scenario of `clients` connections: more of them, more throughput.
fn scenario(clients: u32) -> String {
    format!(
        r#"(name: "tiny", description: "d", seed: 3, duration_ms: 400,
            cluster: (instance: "cache.r7g.large"),
            clients: (workload: (ratio: "1:10", key_maximum: 100, data_size: 100, clients: {clients},
                                 threads: 1, test_time_s: 1)),
            prefill: (keys: 100, value_bytes: 100))"#
    )
}

fn report(name: &str, clients: u32) -> PathBuf {
    let file = scratch(&format!("{name}.ron"), scenario(clients).as_bytes());
    let out = kvsim(&["run", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    scratch(&format!("{name}.json"), &out.stdout)
}

#[test]
fn two_reports_give_deltas_and_the_gate_exits_3_on_a_regression() {
    let a = report("a", 8);
    let b = report("b", 2);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let out = kvsim(&["diff", a, b]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ALL STATS.Totals.Ops/sec") && stdout.contains("single run"),
        "{stdout}"
    );
    // Fewer connections: throughput falls far more than 1%.
    let gate = kvsim(&[
        "diff",
        a,
        b,
        "--fail-on-regression",
        "ALL STATS.Totals.Ops/sec:1",
    ]);
    assert_eq!(gate.status.code(), Some(3), "{}", text(&gate.stderr));
    assert!(
        text(&gate.stderr).contains("worse by"),
        "{}",
        text(&gate.stderr)
    );
    // The other way round it is better: no regression.
    let fine = kvsim(&[
        "diff",
        b,
        a,
        "--fail-on-regression",
        "ALL STATS.Totals.Ops/sec:1",
    ]);
    assert_eq!(fine.status.code(), Some(0), "{}", text(&fine.stderr));
    // A metric the comparison does not hold, and one of unknown direction.
    let unknown = kvsim(&["diff", a, b, "--fail-on-regression", "nope:1"]);
    assert_eq!(unknown.status.code(), Some(2));
    let undirected = kvsim(&[
        "diff",
        a,
        b,
        "--metric",
        "simulation.events",
        "--fail-on-regression",
        "simulation.events:1",
    ]);
    assert_eq!(
        undirected.status.code(),
        Some(2),
        "{}",
        text(&undirected.stderr)
    );
    assert!(text(&undirected.stderr).contains("no known direction"));
}

#[test]
fn two_sweeps_give_intervals_and_verdicts() {
    let sweeps: Vec<PathBuf> = [("sa", 2), ("sb", 8)]
        .iter()
        .map(|(name, clients)| {
            scratch(&format!("{name}-base.ron"), scenario(*clients).as_bytes());
            let file = scratch(
                &format!("{name}.ron"),
                format!(
                    r#"(base: "{name}-base.ron", seed: 4, replications: 4,
                        metrics: ["ALL STATS.Totals.Ops/sec", "ALL STATS.Totals.Percentile Latencies.p99.00"],
                        parameters: [(path: "clients.workload.pipeline", values: [1, 2])])"#
                )
                .as_bytes(),
            );
            let out = kvsim(&["sweep", file.to_str().unwrap(), "--format", "json"]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            scratch(&format!("{name}.json"), &out.stdout)
        })
        .collect();
    let out = kvsim(&[
        "diff",
        sweeps[0].to_str().unwrap(),
        sweeps[1].to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let deltas = v["deltas"].as_array().expect("deltas");
    assert_eq!(deltas.len(), 4);
    let ops = deltas
        .iter()
        .find(|d| d["metric"] == "ALL STATS.Totals.Ops/sec")
        .unwrap();
    assert_eq!(ops["verdict"], "better", "{ops}");
    assert!(ops["ci95_low"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_inputs_exit_2_naming_the_file() {
    let junk = scratch("junk.json", b"{ not json");
    let a = report("c", 2);
    let out = kvsim(&["diff", junk.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("junk.json:1:"),
        "{}",
        text(&out.stderr)
    );
    let sweep = scratch("points.json", br#"{"points": []}"#);
    let mixed = kvsim(&["diff", a.to_str().unwrap(), sweep.to_str().unwrap()]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(text(&mixed.stderr).contains("two of a kind"));
    let gate = kvsim(&[
        "diff",
        a.to_str().unwrap(),
        a.to_str().unwrap(),
        "--fail-on-regression",
        "x",
    ]);
    assert_eq!(gate.status.code(), Some(2));
}
