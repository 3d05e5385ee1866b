//! `kvsim sweep` through the binary: the output is byte-identical with 1 and 2 worker
//! threads; `--metrics` lists what a sweep can name; a bad sweep file, an unknown metric
//! and a missing base exit 2 naming the file and what is wrong.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{kvsim, text};

fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_sweep");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write scratch file");
    path
}

const BASE: &str = r#"(name: "tiny", description: "d", seed: 3, duration_ms: 400,
    cluster: (instance: "cache.r7g.large"),
    clients: (workload: (ratio: "1:10", key_maximum: 100, data_size: 100, clients: 2,
                         threads: 1, test_time_s: 1)),
    prefill: (keys: 100, value_bytes: 100))"#;

fn sweep_file(name: &str, metrics: &str) -> PathBuf {
    scratch("base.ron", BASE);
    scratch(
        name,
        &format!(
            r#"(base: "base.ron", seed: 4, replications: 3, metrics: [{metrics}],
                parameters: [(path: "clients.workload.pipeline", values: [1, 8]),
                             (path: "clients.workload.data_size", range: (from: 100, to: 300, step: 200))])"#
        ),
    )
}

#[test]
fn a_sweep_prints_the_same_bytes_on_one_thread_and_two() {
    let path = sweep_file(
        "ok.ron",
        r#""ALL STATS.Totals.Ops/sec", "ALL STATS.Totals.Percentile Latencies.p99.00""#,
    );
    let p = path.to_str().unwrap();
    let one = kvsim(&["sweep", p, "--jobs", "1"]);
    let two = kvsim(&["sweep", p, "--jobs", "2"]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    assert_eq!(
        one.stdout, two.stdout,
        "the output depends on the thread count"
    );
    let stdout = text(&one.stdout);
    assert!(
        stdout.contains("== ALL STATS.Totals.Ops/sec =="),
        "{stdout}"
    );
    assert!(stdout.contains("pipeline=8 data_size=300"), "{stdout}");
    let json = kvsim(&["sweep", p, "--jobs", "2", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(v["points"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        v["points"][0]["metrics"][0]["values"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // More pipelining raises throughput, beyond the interval.
    let high = |i: usize| v["points"][i]["metrics"][0]["ci95_high"].as_f64().unwrap();
    let low = |i: usize| v["points"][i]["metrics"][0]["ci95_low"].as_f64().unwrap();
    assert!(low(2) > high(0), "{}", v["points"]);
}

#[test]
fn metrics_are_listed_and_an_unknown_one_is_refused() {
    let path = sweep_file("unknown-metric.ron", r#""ALL STATS.Totals.Ops/sek""#);
    let p = path.to_str().unwrap();
    let out = kvsim(&["sweep", p]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("metrics[0]") && stderr.contains("Ops/sek") && stderr.contains("--metrics"),
        "{stderr}"
    );
    let list = kvsim(&["sweep", p, "--metrics"]);
    assert_eq!(list.status.code(), Some(0));
    let stdout = text(&list.stdout);
    assert!(
        stdout.lines().any(|l| l == "ALL STATS.Totals.Ops/sec"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l == "shards.load_ratio_measured"),
        "{stdout}"
    );
}

#[test]
fn bad_sweep_files_exit_2_naming_the_file() {
    let typo = scratch("typo.ron", "(base: \"base.ron\",\n seed: 1, replications: 2, metrics: [\"x\"], parameters: [], sed: 3)");
    let out = kvsim(&["sweep", typo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("typo.ron:2:") && stderr.contains("sed"),
        "{stderr}"
    );
    let missing = scratch(
        "missing-base.ron",
        r#"(base: "nowhere.ron", seed: 1, replications: 2, metrics: ["x"], parameters: [])"#,
    );
    let out = kvsim(&["sweep", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nowhere.ron"),
        "{}",
        text(&out.stderr)
    );
}

/// Shards 1/3, 2/3 and 3/3 run separately (the second through `--shard-index` and
/// `--shard-count`, as a batch system's array index passes them), then `kvsim merge`
/// prints the one-machine sweep's output byte for byte; running a shard again skips
/// what is there; a missing or duplicated run makes merge exit 2 naming it.
#[test]
fn shards_merge_into_the_one_machine_report() {
    let path = sweep_file(
        "sharded.ron",
        r#""ALL STATS.Totals.Ops/sec", "ALL STATS.Gets.Percentile Latencies.p99.00""#,
    );
    let p = path.to_str().unwrap();
    let whole = kvsim(&["sweep", p, "--jobs", "2"]);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_sweep/shards");
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    for shard in [
        vec!["--shard", "1/3"],
        vec!["--shard-index", "1", "--shard-count", "3"],
        vec!["--shard", "3/3"],
    ] {
        let mut args = vec!["sweep", p, "--out", d];
        args.extend(shard);
        let out = kvsim(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty());
    }
    // 4 points x 3 replications, one file each.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 12);
    let again = kvsim(&["sweep", p, "--out", d, "--shard", "1/3"]);
    assert!(
        text(&again.stderr).contains("0 run(s) of this shard written"),
        "{}",
        text(&again.stderr)
    );
    // The report cannot go into the shards' own folder: the next merge would choke.
    let into_shards = kvsim(&["merge", d, "--out", d]);
    assert_eq!(into_shards.status.code(), Some(2));
    assert!(text(&into_shards.stderr).contains("the shards' folder itself"));
    let merged = kvsim(&["merge", d]);
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged.stderr));
    assert_eq!(
        merged.stdout, whole.stdout,
        "merge differs from the one-machine sweep"
    );
    // A duplicated run, then a missing one.
    let first = dir.join("run-000000-0000-000000.json");
    std::fs::copy(&first, dir.join("copy.json")).unwrap();
    let dup = kvsim(&["merge", d]);
    assert_eq!(dup.status.code(), Some(2));
    assert!(
        text(&dup.stderr).contains("is there twice") && text(&dup.stderr).contains("replication 0"),
        "{}",
        text(&dup.stderr)
    );
    std::fs::remove_file(dir.join("copy.json")).unwrap();
    std::fs::remove_file(&first).unwrap();
    let missing = kvsim(&["merge", d]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains("is missing") && stderr.contains("pipeline=1"),
        "{stderr}"
    );
}

/// The README's Slurm array script: its loop body, run with the array index set by hand,
/// runs that task's shard.
#[test]
fn the_slurm_script_runs_its_shard() {
    let readme = include_str!("../README.md");
    let script = readme
        .split("#SBATCH --array=0-2")
        .nth(1)
        .and_then(|s| s.split("```").next().or(Some(s)))
        .expect("the README's Slurm script");
    let command = script
        .lines()
        .find(|l| l.trim_start().starts_with("kvsim sweep"))
        .expect("its kvsim line")
        .trim();
    assert!(
        command.contains("--shard-index \"$SLURM_ARRAY_TASK_ID\""),
        "{command}"
    );
    let path = sweep_file("slurm.ron", r#""ALL STATS.Totals.Ops/sec""#);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_sweep/slurm");
    let _ = std::fs::remove_dir_all(&dir);
    // The line as the script runs it, with the array index and the file set by hand.
    let line = command
        .replace("\"$SLURM_ARRAY_TASK_ID\"", "1")
        .replace("my-sweep.ron", path.to_str().unwrap())
        .replace("results/", &format!("{}/", dir.display()));
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let out = kvsim(&args);
    assert_eq!(out.status.code(), Some(0), "{line}: {}", text(&out.stderr));
    // Shard 2 of 3 of 12 runs: 4 files.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 4, "{line}");
}

/// A shard checks the metrics on its first run too: a bad one exits 2 before the rest.
#[test]
fn a_shard_refuses_an_unknown_metric() {
    let path = sweep_file("shard-bad-metric.ron", r#""ALL STATS.Totals.Ops/sek""#);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_sweep/bad-shard");
    let _ = std::fs::remove_dir_all(&dir);
    let out = kvsim(&[
        "sweep",
        path.to_str().unwrap(),
        "--shard",
        "1/2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("metrics[0]"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn the_bundled_zipf_sweep_loads_with_its_fourteen_points() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps/zipf-exponents.ron");
    let sweep = models::sweep::load_sweep(&path).expect("the bundled sweep loads");
    // Exponents 0.6 to 1.2 by 0.1 (7) x shards 10 and 100, one variant.
    assert_eq!(sweep.points.len(), 14);
    assert_eq!(sweep.spec.replications, 20);
    assert_eq!(sweep.runs().len(), 14 * 20);
}
