//! `kvsim search` through the binary: a passing rate is found and reported, the output
//! is the same whatever the number of threads, and bad input exits 2 naming what is
//! wrong.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{kvsim, text};

fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_search");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write scratch file");
    path
}

/// Two variants of a small thread-per-core node; 60 ms runs.
const SCENARIO: &str = r#"(name: "tiny-search", description: "d", seed: 3, duration_ms: 60, warmup_ms: 10,
    cluster: (engine: dragonfly, instance: "cache.r7g.large", node: (threads: 2)),
    clients: (workload: (ratio: "1:10", key_maximum: 1000, data_size: 100, clients: 20, threads: 2)),
    prefill: (keys: 1000, value_bytes: 100),
    variants: [(name: "one", patch: (cluster: (node: (threads: 1)))),
               (name: "two", patch: (cluster: (node: (threads: 2))))])"#;

#[test]
fn a_search_finds_a_passing_rate_whatever_the_threads() {
    let file = scratch("tiny.ron", SCENARIO);
    let f = file.to_str().unwrap();
    let one = kvsim(&["search", f, "--steps", "3", "--jobs", "1", "--json"]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    let two = kvsim(&["search", f, "--steps", "3", "--jobs", "2", "--json"]);
    assert_eq!(one.stdout, two.stdout, "the output depends on --jobs");
    let doc: serde_json::Value = serde_json::from_slice(&one.stdout).expect("JSON");
    let variants = doc["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 2);
    for v in variants {
        let best = &v["best"];
        assert!(best["passes"].as_bool().unwrap(), "{v}");
        assert!(best["latency_ms_p999"].as_f64().unwrap() < 10.0);
        // What it served is at least 98% of what was offered, and no more than about
        // what the closed loop saturated at.
        let (offered, served) = (
            best["offered_rps"].as_f64().unwrap(),
            best["ops_per_s"].as_f64().unwrap(),
        );
        assert!(served >= 0.98 * offered, "{v}");
        assert!(
            served <= 1.1 * v["saturated_ops_per_s"].as_f64().unwrap(),
            "{v}"
        );
        // Every probe the bisection ran is listed.
        assert!(v["probes"].as_array().unwrap().len() >= 3);
    }
    let table = kvsim(&["search", f, "--steps", "3", "--variant", "two"]);
    assert_eq!(table.status.code(), Some(0));
    let t = text(&table.stdout);
    assert!(
        t.contains("p99.9 under 10 ms") && t.contains("two") && !t.contains("one "),
        "{t}"
    );
}

#[test]
fn bad_input_exits_2_saying_what_is_wrong() {
    let file = scratch("tiny-bad.ron", SCENARIO);
    let f = file.to_str().unwrap();
    let out = kvsim(&["search", f, "--variant", "three"]);
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(
        e.contains("no variant \"three\"") && e.contains("one, two"),
        "{e}"
    );
    let out = kvsim(&["search", f, "--p999-ms", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("positive number of milliseconds"));
    let missing = scratch("broken.ron", "(name: ");
    let out = kvsim(&["search", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("broken.ron"));
}
