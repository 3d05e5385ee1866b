//! `kvsim run` through the real binary: the README's first command prints the default
//! report; JSON carries the documented keys; output does not depend on --jobs; --out
//! writes every format; bad input exits 2 with a message naming the file.

use std::process::{Command, Output};

fn kvsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(args)
        .output()
        .expect("the kvsim binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn run_without_a_file_prints_the_default_experiment() {
    let o = kvsim(&["run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    assert!(
        text.starts_with("kvsim 0.1.0: scenario m6g-25kb-get"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert!(text.contains("ALL STATS") && text.contains("findings"));
    assert!(o.stderr.is_empty(), "no progress on a non-terminal stderr");
}

#[test]
fn json_has_the_documented_keys_and_is_independent_of_jobs() {
    let one = kvsim(&["run", "lab-tbf-100mbit", "--format", "json", "--jobs", "1"]);
    let two = kvsim(&["run", "lab-tbf-100mbit", "--format", "json", "--jobs", "2"]);
    assert!(one.status.success() && two.status.success());
    assert_eq!(
        one.stdout, two.stdout,
        "the report depends on the number of threads"
    );
    let j: serde_json::Value = serde_json::from_slice(&one.stdout).expect("valid JSON");
    for key in ["kvsim_version", "scenario", "seed", "variants"] {
        assert!(j.get(key).is_some(), "missing top-level {key}");
    }
    let v = &j["variants"][0];
    for key in [
        "name",
        "ALL STATS",
        "nodes",
        "shards",
        "findings",
        "timeseries",
    ] {
        assert!(v.get(key).is_some(), "missing variant key {key}");
    }
    for key in ["Sets", "Gets", "Totals"] {
        let s = &v["ALL STATS"][key];
        for field in [
            "Ops/sec",
            "Hits/sec",
            "Misses/sec",
            "Average Latency",
            "Percentile Latencies",
            "KB/sec",
        ] {
            assert!(s.get(field).is_some(), "ALL STATS.{key} lacks {field}");
        }
    }
    for field in [
        "name",
        "instance",
        "ops",
        "net_out_bytes",
        "bw_out_allowance_exceeded",
        "net_credits_end",
    ] {
        assert!(v["nodes"][0].get(field).is_some(), "nodes[0] lacks {field}");
    }
    for field in ["load_ratio_measured", "load_ratio_exact"] {
        assert!(v["shards"].get(field).is_some(), "shards lacks {field}");
    }
}

#[test]
fn out_writes_every_format() {
    let dir = std::env::temp_dir().join(format!("kvsim-run-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = kvsim(&[
        "run",
        "lab-tbf-100mbit",
        "--out",
        dir.to_str().expect("UTF-8 temp path"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(dir.join("report.txt")).expect("report.txt");
    assert_eq!(text, stdout(&o));
    let json = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).expect("timeseries.csv");
    assert!(csv.starts_with("variant,second,series,node,value\n"));
    assert!(csv.contains("full-bucket,0,ops_per_s,,"));
    // nodes.csv: the full nodes table, every JSON field a column, a row per host.
    let nodes = std::fs::read_to_string(dir.join("nodes.csv")).expect("nodes.csv");
    let mut lines = nodes.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let j: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let mut rows = 0;
    for v in j["variants"].as_array().expect("variants") {
        for host in v["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .chain(v["client_hosts"].as_array().expect("client hosts"))
        {
            rows += 1;
            for key in host.as_object().expect("a node object").keys() {
                assert!(header.contains(&key.as_str()), "nodes.csv lacks {key}");
            }
        }
    }
    assert_eq!(
        header.len(),
        host_fields(&j) + 1,
        "variant + each JSON field"
    );
    assert_eq!(lines.count(), rows);
    let _ = std::fs::remove_dir_all(&dir);
}

fn host_fields(j: &serde_json::Value) -> usize {
    j["variants"][0]["nodes"][0]
        .as_object()
        .expect("a node object")
        .len()
}

#[test]
fn a_missing_file_exits_2_naming_it() {
    let o = kvsim(&["run", "/nonexistent/dir/scenario.ron"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/dir/scenario.ron"), "{err}");
    assert!(o.stdout.is_empty(), "nothing on stdout for bad input");
}

#[test]
fn a_malformed_file_exits_2_with_line_and_column() {
    let path = std::env::temp_dir().join(format!("kvsim-run-bad-{}.ron", std::process::id()));
    std::fs::write(
        &path,
        "(name: \"broken\",\n  seed: 1,\n  cluster: (shards: ,\n",
    )
    .expect("temp file");
    let o = kvsim(&["run", path.to_str().expect("UTF-8 temp path")]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("kvsim-run-bad") && err.contains(":3:"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn an_unknown_format_is_bad_input() {
    let o = kvsim(&["run", "--format", "xml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn plots_are_svg_and_identical_across_runs() {
    let base = std::env::temp_dir().join(format!("kvsim-run-plots-{}", std::process::id()));
    let (a, b) = (base.join("a"), base.join("b"));
    for (dir, jobs) in [(&a, "1"), (&b, "2")] {
        let o = kvsim(&[
            "run",
            "lab-tbf-100mbit",
            "--out",
            dir.to_str().expect("UTF-8"),
            "--plots",
            "--jobs",
            jobs,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let svg = |dir: &std::path::Path| {
        let mut files: Vec<_> = std::fs::read_dir(dir.join("plots"))
            .expect("out dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "svg"))
            .collect();
        files.sort();
        files
    };
    let (fa, fb) = (svg(&a), svg(&b));
    assert!(
        fa.iter()
            .any(|p| p.ends_with("full-bucket-net_out_bits_per_s.svg")),
        "{fa:?}"
    );
    assert_eq!(fa.len(), fb.len());
    for (x, y) in fa.iter().zip(&fb) {
        let (tx, ty) = (
            std::fs::read(x).expect("svg"),
            std::fs::read(y).expect("svg"),
        );
        assert!(tx.starts_with(b"<svg"), "{x:?}");
        assert_eq!(tx, ty, "{x:?} differs between runs");
    }
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn plots_without_out_is_bad_input() {
    let o = kvsim(&["run", "--plots"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_reused_out_folder_keeps_no_previous_plots() {
    let dir = std::env::temp_dir().join(format!("kvsim-run-reuse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().expect("UTF-8");
    let o = kvsim(&["run", "lab-tbf-100mbit", "--out", d, "--plots"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.join("plots/full-bucket-ops_per_s.svg").exists());
    // The same folder for a scenario with other variants: only its own plots remain.
    let o = kvsim(&["run", "m6g-25kb-get", "--out", d, "--plots"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Vec<String> = std::fs::read_dir(dir.join("plots"))
        .expect("plots")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.is_empty());
    assert!(
        names.iter().all(|n| !n.starts_with("full-bucket-")),
        "a previous run's plots remain: {names:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_out_that_is_not_a_folder_is_bad_input_before_the_run() {
    let file = std::env::temp_dir().join(format!("kvsim-run-out-file-{}", std::process::id()));
    std::fs::write(&file, "not a folder").expect("scratch file");
    let o = kvsim(&[
        "run",
        "t4g-burst-depletion",
        "--out",
        file.to_str().expect("UTF-8"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is not a folder"), "{err}");
    assert!(o.stdout.is_empty(), "nothing ran");
    let _ = std::fs::remove_file(&file);
}

/// Every command ends quietly when its reader closes the pipe early, as `head` does.
#[test]
fn a_closed_pipe_is_not_a_failure() {
    use std::io::Read;
    use std::process::Stdio;
    for args in [
        &["list"][..],
        &["catalog"],
        &["catalog", "--format", "json"],
        &["check", "--resolved", "zipf-hot-shards"],
        &["run", "lab-tbf-100mbit", "--format", "csv"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kvsim"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kvsim starts");
        // Close the pipe before the command has started writing (it is still starting),
        // so its first write meets a closed pipe, whatever the output's size.
        drop(child.stdout.take().expect("piped stdout"));
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("piped stderr")
            .read_to_string(&mut stderr)
            .expect("stderr");
        let status = child.wait().expect("kvsim exits");
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A run whose estimate is over its budget is refused with exit 2 before anything is
/// simulated or written: the message names the budget it is over, the scenario fields
/// that drive the estimate and the `--budget` that would let it run; a budget that
/// covers the estimate lets the same scenario run.
#[test]
fn a_run_over_its_budget_is_refused_before_it_starts() {
    let out = std::env::temp_dir().join(format!("kvsim-run-budget-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_arg = out.to_str().expect("UTF-8");
    let o = kvsim(&[
        "run",
        "lab-tbf-100mbit",
        "--budget",
        "memory=1MiB",
        "--out",
        out_arg,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(o.stdout.is_empty(), "nothing ran");
    assert!(!out.exists(), "nothing was written");
    assert!(
        err.starts_with("error: scenarios/lab-tbf-100mbit.ron: over the budget"),
        "{err}"
    );
    assert!(err.contains("  memory: estimated peak"), "{err}");
    assert!(err.contains("budget 1.0 MiB (--budget)"), "{err}");
    assert!(err.contains("fields "), "{err}");
    assert!(err.contains("--budget memory="), "{err}");
    assert!(!err.contains("  time:"), "within its time budget: {err}");

    let o = kvsim(&["run", "lab-tbf-100mbit", "--budget", "hours=0.000001"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("  time: expected"), "{err}");
    // 20 connections x 200 requests: the request count sets it.
    assert!(err.contains("clients.workload.requests"), "{err}");
    assert!(err.contains("--budget hours=1"), "{err}");
    assert!(o.stdout.is_empty());

    let o = kvsim(&["run", "lab-tbf-100mbit", "--budget", "memory=4GiB,hours=2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("ALL STATS"));
}

/// A `--budget` that does not parse is bad input (exit 2) and says what is expected.
#[test]
fn a_malformed_budget_is_bad_input() {
    for (budget, expected) in [
        ("8GiB", "expected memory=SIZE and/or hours=H"),
        ("memory=8XB", "unknown unit \"XB\""),
        ("speed=3", "unknown budget \"speed\""),
        ("hours=-1", "expected a positive number"),
        ("hours=soon", "expected a number of hours"),
        ("memory=0", "expected a positive size"),
    ] {
        let o = kvsim(&["run", "lab-tbf-100mbit", "--budget", budget]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{budget}: {err}");
        assert!(err.contains(expected), "{budget}: {err}");
        assert!(o.stdout.is_empty(), "{budget}: nothing ran");
    }
}
