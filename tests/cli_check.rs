//! `kvsim check`, `kvsim list` and `kvsim catalog` as a user runs them: the real binary,
//! real files. Every bad input exits with status 2 and a message on stderr that names
//! the file, the line:column or field path, and what was expected; nothing goes to
//! stdout. Every bundled scenario passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kvsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(args)
        .output()
        .expect("the kvsim binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `contents` to a file named `name` in this test binary's scratch directory.
fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_check");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write scratch file");
    path
}

/// Runs `kvsim check` on `contents` and asserts exit status 2, nothing on stdout, and
/// every fragment in the message (the file name is always required).
fn check_rejects(name: &str, contents: &str, fragments: &[&str]) {
    let path = scratch(name, contents);
    let out = kvsim(&["check", path.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name}: status; stderr: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{name}: stdout should be empty: {}",
        text(&out.stdout)
    );
    assert!(stderr.starts_with("error: "), "{name}: {stderr}");
    assert!(
        stderr.contains(&path.display().to_string()),
        "{name}: no file name in: {stderr}"
    );
    for f in fragments {
        assert!(stderr.contains(f), "{name}: missing {f:?} in: {stderr}");
    }
}

/// A valid scenario to break one piece at a time.
const VALID: &str = r#"// A small valid scenario.
(
    name: "valid",
    description: "valid",
    seed: 3,
    duration_s: 5,
    warmup_s: 1,
    cluster: (
        engine: valkey,
        mode: cluster,
        shards: 3,
        instance: "cache.r7g.large",
    ),
    clients: (
        workload: (
            ratio: "1:10",
            key_minimum: 1,
            key_maximum: 1000,
            data_size: 100,
        ),
    ),
)
"#;

fn valid_with(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from:?} not in VALID");
    VALID.replacen(from, to, 1)
}

#[test]
fn every_bundled_scenario_passes_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("scenarios/") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ron") {
            continue;
        }
        n += 1;
        let out = kvsim(&["check", path.to_str().unwrap()]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
        let expected_prefix = format!("ok: {}: ", path.display());
        assert!(stdout.starts_with(&expected_prefix), "{stdout}");
        let scenario = models::scenario::load_file(&path).expect("bundled scenarios load");
        let names: Vec<&str> = scenario
            .resolved_variants()
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        let mut lines = stdout.lines();
        let first = lines.next().unwrap_or_default();
        assert!(first.ends_with(&names.join(", ")), "{stdout}");
        // Then the estimate: a heading, the column names, a line per variant in the
        // listed order, and the run's total; nothing over the default budget.
        let rest: Vec<&str> = lines.collect();
        assert!(rest[0].starts_with("estimate"), "{stdout}");
        assert!(
            rest[1].contains("requests") && rest[1].contains("peak memory"),
            "{stdout}"
        );
        assert_eq!(rest.len(), 3 + names.len(), "{stdout}");
        for (line, name) in rest[2..].iter().zip(&names) {
            assert!(line.trim_start().starts_with(name), "{name}: {line}");
        }
        assert!(
            rest[2 + names.len()].trim_start().starts_with("run ("),
            "{stdout}"
        );
    }
    assert_eq!(
        n, 13,
        "the five experiments of issue 4, the partition of one shard, the replication backlog, the gossip overhead, the failover, the scale-out event, the noisy neighbours, the engine thread scaling, scale up against scale out"
    );
}

#[test]
fn valid_scenario_reports_its_variant_count() {
    let path = scratch("valid.ron", VALID);
    let out = kvsim(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().next(),
        Some(format!("ok: {}: 1 variant: base", path.display()).as_str())
    );
    // memtier's 10,000 requests for each of 200 connections, done within the 5 s.
    let base = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("base "))
        .expect("an estimate line for the base");
    assert!(base.contains(" 2.0M "), "{stdout}");
    assert!(
        base.ends_with("the request count per connection"),
        "{stdout}"
    );
    let out = kvsim(&["check", "--resolved", path.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("// variant base"), "{stdout}");
    assert!(stdout.contains("maxmemory_bytes"), "{stdout}");
}

#[test]
fn malformed_ron() {
    // Line 3 lacks its comma; ron reports where the next field starts.
    check_rejects(
        "missing-comma.ron",
        "(\n    name: \"x\",\n    description: \"d\"\n    seed: 1,\n)\n",
        &["missing-comma.ron:4:5", "expected `,` or a closing bracket"],
    );
    check_rejects(
        "unclosed.ron",
        "(\n    name: \"x\",\n    cluster: (instance: \"m5.large\"\n",
        &["unclosed.ron:", "the file ends here", "unclosed"],
    );
    check_rejects("empty.ron", "", &["empty.ron:1:1"]);
    check_rejects(
        "garbage.ron",
        "\u{0}\u{1}not ron at all",
        &["garbage.ron:1:"],
    );
}

#[test]
fn unknown_fields() {
    check_rejects(
        "unknown-top.ron",
        &valid_with("    seed: 3,\n", "    seed: 3,\n    sede: 4,\n"),
        &[
            "unknown-top.ron:6:5",
            "Unexpected field named `sede`",
            "expected one of",
            "`seed`",
        ],
    );
    check_rejects(
        "unknown-nested.ron",
        &valid_with("        shards: 3,\n", "        shardz: 3,\n"),
        &[
            "unknown-nested.ron:11:9",
            "`shardz`",
            "in `cluster`",
            "`shards`",
        ],
    );
    check_rejects(
        "unknown-workload.ron",
        &valid_with(
            "            data_size: 100,\n",
            "            data-size: 100,\n",
        ),
        &["unknown-workload.ron:19:"],
    );
}

#[test]
fn wrong_types() {
    check_rejects(
        "string-for-int.ron",
        &valid_with("shards: 3", "shards: \"three\""),
        &[
            "string-for-int.ron:11:",
            "cluster.shards: expected an integer",
        ],
    );
    check_rejects(
        "int-for-string.ron",
        &valid_with("instance: \"cache.r7g.large\"", "instance: 7"),
        &[
            "int-for-string.ron:12:",
            "cluster.instance: expected a string",
        ],
    );
    check_rejects(
        "bad-enum.ron",
        &valid_with("engine: valkey", "engine: memcached"),
        &[
            "bad-enum.ron:9:",
            "cluster.engine: ",
            "`memcached`",
            "expected one of `redis`, `valkey`, or `dragonfly`",
        ],
    );
    check_rejects(
        "negative.ron",
        &valid_with("duration_s: 5", "duration_s: -5"),
        &[
            "negative.ron:6:",
            "duration_s",
            "expected a non-negative integer",
        ],
    );
}

#[test]
fn invalid_values() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "zero-shards.ron",
            "shards: 3",
            "shards: 0",
            &[
                "zero-shards.ron:11:17: cluster.shards",
                "expected at least 1 shard, got 0",
            ],
        ),
        (
            "warmup-too-long.ron",
            "warmup_s: 1",
            "warmup_s: 5",
            &["warmup_s", "expected a warm-up shorter than the duration"],
        ),
        (
            "zero-duration.ron",
            "duration_s: 5",
            "duration_s: 0",
            &["duration_s", "expected a positive duration"],
        ),
        (
            "ratio-zero.ron",
            "ratio: \"1:10\"",
            "ratio: \"0:0\"",
            &[
                "clients.workload.ratio",
                "expected at least one non-zero side",
            ],
        ),
        (
            "ratio-syntax.ron",
            "ratio: \"1:10\"",
            "ratio: \"1/10\"",
            &["clients.workload.ratio", "expected \"SET:GET\""],
        ),
        (
            "key-range.ron",
            "key_minimum: 1",
            "key_minimum: 5000",
            &[
                "clients.workload.key_minimum",
                "expected key_minimum <= key_maximum",
            ],
        ),
        (
            "zero-size.ron",
            "data_size: 100",
            "data_size: 0",
            &["clients.workload.data_size", "expected a positive size"],
        ),
        (
            "key-pattern.ron",
            "ratio: \"1:10\"",
            "ratio: \"1:10\", key_pattern: \"Q:R\"",
            &["clients.workload.key_pattern", "S, R, G, P, Z"],
        ),
        (
            "zero-rate.ron",
            "data_size: 100,",
            "data_size: 100, open_loop: (rate_rps: 0),",
            &[
                "clients.workload.open_loop.rate_rps",
                "expected a positive rate",
            ],
        ),
        (
            "standalone-shards.ron",
            "mode: cluster",
            "mode: standalone",
            &["cluster.shards", "standalone mode has exactly one shard"],
        ),
        (
            "credits.ron",
            "seed: 3,",
            "seed: 3, net_credits_at_start: fraction(2.0),",
            &["net_credits_at_start", "[0, 1]"],
        ),
    ];
    for (name, from, to, fragments) in cases {
        check_rejects(name, &valid_with(from, to), fragments);
    }
}

#[test]
fn invalid_value_in_a_variant_points_into_its_patch() {
    let text = valid_with(
        "    seed: 3,\n",
        "    seed: 3,\n    variants: [(name: \"ok\"), (name: \"none\", patch: (cluster: (shards: 0)))],\n",
    );
    check_rejects(
        "variant.ron",
        &text,
        &[
            "variant.ron:6:",
            "variants[1].patch.cluster.shards",
            "expected at least 1 shard",
        ],
    );
}

#[test]
fn unknown_instance_type_lists_the_closest_names() {
    check_rejects(
        "unknown-instance.ron",
        &valid_with("cache.r7g.large", "cache.r7g.larg"),
        &[
            "cluster.instance",
            "unknown instance type \"cache.r7g.larg\"",
            "closest known: cache.r7g.large",
        ],
    );
    check_rejects(
        "unknown-client-instance.ron",
        &valid_with(
            "        workload: (\n",
            "        instance: \"c7gn.16xlarg\",\n        workload: (\n",
        ),
        &["clients.instance", "closest known: c7gn.16xlarge"],
    );
}

#[test]
fn missing_file() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_check/does-not-exist.ron");
    let out = kvsim(&["check", path.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("cannot read scenario file"), "{stderr}");
    assert!(stderr.contains("No such file or directory"), "{stderr}");
}

#[test]
fn a_directory_is_not_a_scenario() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = kvsim(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot read scenario file"));
}

#[test]
fn list_shows_every_bundled_scenario_once() {
    // From a directory without scenarios/: the list is embedded in the binary.
    let out = Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .arg("list")
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "engine-thread-scaling",
            "failover",
            "gossip-overhead",
            "lab-tbf-100mbit",
            "m6g-25kb-get",
            "noisy-neighbours",
            "partition-one-shard",
            "r7g-family",
            "replication-backlog",
            "scale-out-event",
            "scale-up-vs-scale-out",
            "t4g-burst-depletion",
            "zipf-hot-shards"
        ]
    );
    assert!(
        stdout.lines().all(|l| l.split_whitespace().count() > 3),
        "each line has a summary: {stdout}"
    );
}

#[test]
fn catalog_in_three_formats() {
    let out = kvsim(&["catalog"]);
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    assert!(table.starts_with("instance"), "{table}");
    assert!(
        table.contains("cache.m6g.large") && table.contains("0.75"),
        "{table}"
    );
    assert!(table.contains("catalog digest: "));

    let out = kvsim(&["catalog", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("catalog JSON parses");
    assert_eq!(
        json["instances"]["cache.t4g.small"]["baseline_bits_per_s"],
        128_000_000
    );
    assert_eq!(
        json["instances"]["cache.r7g.8xlarge"]["burst_bits_per_s"],
        serde_json::Value::Null
    );

    let out = kvsim(&["catalog", "--format", "ron"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("\"cache.c7gn.16xlarge\": ("));

    let out = kvsim(&["catalog", "--format", "yaml"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap rejects an unknown format with status 2"
    );
}

#[test]
fn the_readme_example_scenario_passes_check() {
    // The indented RON block under "## Scenarios" in README.md, so the docs cannot rot.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("    (\n        name: \"my-test\"")
        .expect("README example present");
    let end = start
        + readme[start..]
            .find("\n    )\n")
            .expect("README example closed")
        + "\n    )\n".len();
    let example: String = readme[start..end]
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let path = scratch("readme-example.ron", &example);
    let out = kvsim(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .lines()
            .next()
            .is_some_and(|l| l.ends_with(": 2 variants: 3-shards, 6-shards")),
        "{}",
        text(&out.stdout)
    );
}

/// The base of a scenario with variants is validated although only its variants run:
/// a patch must not hide a bad base value.
#[test]
fn a_bad_base_is_refused_even_when_every_variant_patches_it() {
    let text = valid_with("        shards: 3,\n", "        shards: 0,\n").replacen(
        "    seed: 3,\n",
        "    seed: 3,\n    variants: [(name: \"fixed\", patch: (cluster: (shards: 3)))],\n",
        1,
    );
    check_rejects(
        "bad-base.ron",
        &text,
        &["cluster.shards", "expected at least 1 shard"],
    );
}

/// Replica counts, buffer limits, backlog sizes and timeouts out of range are refused
/// by `check` and by `run` (exit 2, naming the field and what is expected), never run.
#[test]
fn replication_settings_out_of_range_are_refused() {
    let scenario = valid_with(
        "        shards: 3,\n",
        "        shards: 3,\n        replicas_per_shard: 6,\n",
    );
    let fragments = [
        "replicas.ron:12:29:",
        "cluster.replicas_per_shard",
        "at most 5",
    ];
    check_rejects("replicas.ron", &scenario, &fragments);
    let path = scratch("replicas-run.ron", &scenario);
    let out = kvsim(&["run", path.to_str().unwrap(), "--format", "json"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "no report for a refused scenario");
    // In a variant's patch the path points into the patch.
    let patched = valid_with(
        "    seed: 3,\n",
        "    seed: 3,\n    variants: [(name: \"r\", patch: (cluster: (replicas_per_shard: 9)))],\n",
    );
    check_rejects(
        "replicas-variant.ron",
        &patched,
        &["variants[0].patch.cluster.replicas_per_shard", "at most 5"],
    );
    for (name, replace, fragments) in [
        (
            "repl-without-replicas.ron",
            "        shards: 3,\n        replication: (backlog_bytes: 1048576),\n",
            &["cluster.replication", "need replicas"][..],
        ),
        (
            "repl-backlog.ron",
            "        shards: 3,\n        replicas_per_shard: 1,\n        replication: (backlog_bytes: 100),\n",
            &["cluster.replication.backlog_bytes", "16384"][..],
        ),
        (
            "repl-timeout.ron",
            "        shards: 3,\n        replicas_per_shard: 1,\n        replication: (timeout_s: 0),\n",
            &["cluster.replication.timeout_s", "1 to 86400"][..],
        ),
        (
            "repl-limit.ron",
            "        shards: 3,\n        replicas_per_shard: 1,\n        replication: (output_buffer_hard_limit_bytes: 2199023255552),\n",
            &["cluster.replication.output_buffer_hard_limit_bytes", "at most 1 TiB"][..],
        ),
        (
            "repl-min-replicas.ron",
            "        shards: 3,\n        replicas_per_shard: 1,\n        replication: (min_replicas_to_write: 2),\n",
            &["cluster.replication.min_replicas_to_write", "at most replicas_per_shard (1)"][..],
        ),
    ] {
        let scenario = valid_with("        shards: 3,\n", replace);
        check_rejects(name, &scenario, fragments);
    }
    // Reads from replicas need replicas.
    let scenario = valid_with(
        "    clients: (\n",
        "    clients: (\n        read_from: replica,\n",
    );
    check_rejects(
        "read-from.ron",
        &scenario,
        &["clients.read_from", "need replicas"],
    );
    // In range, they pass.
    let ok = valid_with(
        "        shards: 3,\n",
        "        shards: 3,\n        replicas_per_shard: 2,\n        replication: (backlog_bytes: 16384, timeout_s: 5),\n",
    );
    let path = scratch("replicas-ok.ron", &ok);
    assert_eq!(
        kvsim(&["check", path.to_str().unwrap()]).status.code(),
        Some(0)
    );
}

/// `check` takes the bundled names that `run` takes.
#[test]
fn check_accepts_a_bundled_name() {
    let out = kvsim(&["check", "zipf-hot-shards"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: zipf-hot-shards: 4 variants"));
    let out = kvsim(&["check", "no-such-bundled-scenario"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such-bundled-scenario"));
}

/// A file far larger than any scenario (or an endless device) is refused with exit 2
/// after reading at most the limit, not read whole.
#[test]
fn an_oversized_file_is_refused_without_reading_it_whole() {
    let out = kvsim(&["check", "/dev/zero"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/dev/zero"), "{stderr}");
    assert!(stderr.contains("at most 67108864 bytes"), "{stderr}");
    let out = kvsim(&["check", "/dev/null"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an empty file is not a scenario"
    );
    let binary = scratch("binary.ron", "");
    std::fs::write(&binary, [0xff, 0xfe, 0x28]).expect("write");
    let out = kvsim(&["check", binary.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not UTF-8"),
        "{}",
        text(&out.stderr)
    );
}

/// A scenario far over any machine's memory (a billion keys and a billion connections:
/// a million clients to each of a thousand shards) is
/// checked all the same: `check` prints its estimate and says that `run` refuses it,
/// naming the fields that drive it; the exit status is 0, the file being valid.
#[test]
fn check_says_when_run_would_refuse_a_scenario() {
    let path = scratch(
        "huge.ron",
        &valid_with("shards: 3,", "shards: 1000,")
            .replacen("key_maximum: 1000,", "key_maximum: 1000000000,", 1)
            .replacen(
                "data_size: 100,",
                "data_size: 100, clients: 250000, threads: 4,",
                1,
            ),
    );
    let out = kvsim(&["check", path.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("`kvsim run` refuses it with the default budget"),
        "{stdout}"
    );
    assert!(stdout.contains("  memory: estimated peak"), "{stdout}");
    assert!(stdout.contains("prefill.keys"), "{stdout}");
    assert!(stdout.contains("cluster.shards"), "{stdout}");
}

/// Zones and faults that cannot be run: each exits with status 2, naming the field and
/// where the file sets it.
#[test]
fn invalid_zones_and_faults() {
    let fault = |f: &str| valid_with("warmup_s: 1,", &format!("warmup_s: 1,\n    faults: [{f}],"));
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "fault-unknown-host.ron",
            fault("(at_s: 1, for_s: 1, outage: ([\"valkey-9\"], [\"client-0\"]))"),
            vec![
                "fault-unknown-host.ron:8:42: faults[0].outage",
                "unknown host \"valkey-9\"",
            ],
        ),
        (
            "fault-zero-length.ron",
            fault("(at_s: 1, for_ms: 0, crash: \"valkey-1\")"),
            vec!["faults[0].for_ms", "expected a positive length"],
        ),
        (
            "fault-past-end.ron",
            fault("(at_s: 4, for_s: 2, crash: \"valkey-1\")"),
            vec!["faults[0].for_s", "after the run"],
        ),
        (
            "fault-starts-after-end.ron",
            fault("(at_s: 5, crash: \"valkey-1\")"),
            vec!["faults[0].at_s", "before the end of the run"],
        ),
        (
            "fault-negative.ron",
            fault("(at_s: -1, crash: \"valkey-1\")"),
            vec!["fault-negative.ron:8:", "faults[0].at_s"],
        ),
        (
            "fault-overlap.ron",
            fault("(at_s: 1, for_s: 2, crash: \"valkey-1\"), (at_ms: 2500, crash: \"valkey-1\")"),
            vec![
                "faults[1].at_ms",
                "overlaps faults[0] on the same target (valkey-1)",
            ],
        ),
        (
            "fault-rate-above-nic.ron",
            fault("(at_s: 1, nic_rate: (host: \"valkey-0\", bits_per_s: 100_000_000_000))"),
            vec!["faults[0].nic_rate.bits_per_s", "the NIC's own peak rate"],
        ),
        (
            "fault-unknown-zone.ron",
            fault("(at_s: 1, outage: ([\"zone:x\"], [\"client-0\"]))"),
            vec!["faults[0].outage", "unknown zone \"x\""],
        ),
        (
            "zone-unknown.ron",
            valid_with(
                "instance: \"cache.r7g.large\",",
                "instance: \"cache.r7g.large\", zones: [\"a\", \"c\"],",
            )
            .replacen("seed: 3,", "seed: 3, network: (zones: [\"a\", \"b\"]),", 1),
            vec!["cluster.zones[1]", "unknown zone \"c\""],
        ),
    ];
    for (name, contents, fragments) in &cases {
        check_rejects(name, contents, fragments);
    }
}

/// `extends`: `kvsim check --resolved` shows the fully resolved child (the parent's
/// fields with the child's over them), and a cycle exits 2 naming the chain.
#[test]
fn extends_resolves_and_a_cycle_exits_2_with_its_chain() {
    let child = scratch(
        "extends-child.ron",
        r#"(extends: "bundled:lab-tbf-100mbit", name: "lab-child", seed: 5)"#,
    );
    let out = kvsim(&["check", "--resolved", child.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("lab-child") && stdout.contains("seed: 5"),
        "{stdout}"
    );
    scratch("extends-a.ron", r#"(extends: "extends-b.ron", name: "a")"#);
    check_rejects(
        "extends-b.ron",
        r#"(extends: "extends-a.ron")"#,
        &[
            "extends",
            "a cycle of extends",
            "extends-a.ron -> ",
            "extends-b.ron",
        ],
    );
}
