//! A fuzz target over scenario text: mutations of the bundled scenarios (numbers,
//! strings and words replaced, bytes replaced or deleted, lines dropped or doubled,
//! fields inserted; `partition-one-shard.ron`'s fault timeline among them), random
//! scenarios built from the schema's fields, and random RON of any shape, each checked
//! by the real `kvsim check` and by the library.
//!
//! Three in ten random scenarios have replicas (one or two a shard, random backlogs,
//! hard limits and repl-timeouts), and some clients read from replicas (refused
//! without them).
//! A third of the random scenarios carry zones (`network.zones`, cross-zone latencies,
//! a zone pair, `cluster.zones`, `clients.zones`), `network.tcp_reset_after_ms` and a
//! fault timeline of outages, degradations, NIC caps and crashes over hosts and zones
//! (see [`FaultPlan`]): most valid, with windows that overlap only across targets, and
//! about a third with one flaw (overlapping windows on one target, an unknown host or
//! zone, a window at or past the end or empty, a rate above the NIC's or zero, and the
//! like), so that the acceptance and the refusal paths both run. The estimate holds
//! with faults too: it allows for their events, retransmissions and the requests
//! connection resets fail.
//!
//! A quarter carry a shared host (one node beside an on/off neighbour, valid or not in
//! one of several ways) and a latency objective.
//!
//! The property, for every case: loading and validating never panics or aborts (`kvsim
//! check` exits 0 for exactly the scenarios the library accepts and 2 for the others);
//! an invalid scenario is refused with a message naming the file and either the line
//! and column or the field path, then what is wrong; and every accepted scenario either
//! runs within its estimate or is refused by the budget. A variant whose estimate is
//! small (at most 200k requests) is simulated, and the requests it sent, the events it
//! took, its series points, and its keys and `used_memory` summed over nodes are each at
//! most the estimate's; a larger one is refused by `kvsim run` under a budget just below
//! its estimate (exit 2, nothing on stdout, the message naming scenario fields).
//!
//! CI runs 64 cases of each; a longer soak sets the count (see the README):
//! `PROPTEST_CASES=20000 cargo test --release --test fuzz_scenarios`. Failing cases are
//! kept in `fuzz_scenarios.proptest-regressions` and replayed first.

use models::estimate::{estimate, run_estimate, Estimate};
use models::report::variant_report;
use models::scenario::{bundled, load_str, Scenario, ScenarioError};
use models::world::simulate;
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Cases per property: `PROPTEST_CASES`, or a few dozen so that CI stays fast.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// An accepted variant is simulated when its estimate is at most this many requests
/// (and the whole case at most twice that); a larger one is checked for its refusal by
/// the budget only, so that CI stays bounded.
const RUN_REQUESTS_MAX: u64 = 200_000;
const RUN_EVENTS_MAX: u64 = 3_000_000;
const RUN_MEMORY_MAX_BYTES: u64 = 1 << 30;

fn kvsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(args)
        .output()
        .expect("the kvsim binary runs")
}

/// Writes the case to a file of its own (each property has its own name).
fn case_file(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz_scenarios");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the case");
    path
}

/// Whether `message` is `origin` followed by `:line:column: ` or by `: ` and a field
/// path, then a message.
fn locates(origin: &str, message: &str) -> bool {
    let Some(rest) = message.strip_prefix(origin) else {
        return false;
    };
    if let Some(rest) = rest.strip_prefix(':') {
        // origin:line:column: ...
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().unwrap_or("");
        let column = parts.next().unwrap_or("");
        let tail = parts.next().unwrap_or("");
        let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) && s != "0";
        if number(line) && number(column) && tail.starts_with(' ') && tail.len() > 1 {
            return true;
        }
        // origin: path: message (a value left to its default has no position).
        if let Some(rest) = rest.strip_prefix(' ') {
            if let Some((path, what)) = rest.split_once(": ") {
                return !path.trim().is_empty() && !what.trim().is_empty();
            }
        }
    }
    false
}

/// The property (see the module's documentation) on one case's text.
fn check_case(file_name: &str, text: &str) -> Result<(), TestCaseError> {
    // The real binary first: a panic or an abort there shows as another status, where
    // in this process it would end the test run.
    let path = case_file(file_name, text);
    let path_text = path.to_str().expect("utf-8 path");
    let out = kvsim(&["check", path_text]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    prop_assert!(
        matches!(out.status.code(), Some(0) | Some(2)),
        "check exited with {:?}: {}",
        out.status,
        stderr
    );
    let origin = "fuzz.ron";
    let loaded = load_str(text, origin);
    match &loaded {
        Ok(_) => prop_assert_eq!(out.status.code(), Some(0), "check refused: {}", stderr),
        Err(e) => {
            prop_assert_eq!(
                out.status.code(),
                Some(2),
                "check: {}; library: {}",
                stderr,
                e
            );
            let message = e.to_string();
            prop_assert!(locates(origin, &message), "unlocated: {}", message);
            let cli = stderr.strip_prefix("error: ").unwrap_or("");
            prop_assert!(locates(path_text, cli.trim_end()), "unlocated: {}", stderr);
            if let ScenarioError::Io { .. } | ScenarioError::TooLarge { .. } = e {
                prop_assert!(false, "text cannot fail to read: {}", e);
            }
        }
    }
    let Ok(scenario) = loaded else {
        return Ok(());
    };
    check_accepted(&scenario, path_text)
}

fn check_accepted(scenario: &Scenario, path: &str) -> Result<(), TestCaseError> {
    let estimates: Vec<Estimate> = scenario
        .resolved_variants()
        .iter()
        .map(|v| estimate(&v.config))
        .collect();
    let mut ran_requests = 0u64;
    let mut refused = false;
    for (v, e) in scenario.resolved_variants().iter().zip(&estimates) {
        let small = e.requests <= RUN_REQUESTS_MAX
            && e.events <= RUN_EVENTS_MAX
            && e.peak_memory_bytes <= RUN_MEMORY_MAX_BYTES
            && ran_requests + e.requests <= 2 * RUN_REQUESTS_MAX;
        if !small {
            refused = true;
            continue;
        }
        ran_requests += e.requests;
        let result = simulate(&v.config);
        prop_assert!(
            result.is_ok(),
            "variant {} failed: {:?}",
            v.name,
            result.err()
        );
        let result = result.expect("checked");
        let s = &result.simulation;
        prop_assert!(
            s.requests_sent <= e.requests,
            "variant {}: {} requests sent, estimate {} ({:?})",
            v.name,
            s.requests_sent,
            e.requests,
            e.requests_bound
        );
        prop_assert!(
            s.events <= e.events,
            "variant {}: {} events, estimate {} ({} requests sent)",
            v.name,
            s.events,
            e.events,
            s.requests_sent
        );
        let report = variant_report(&result);
        let points: u64 = report
            .timeseries
            .series
            .iter()
            .map(|s| s.values.len() as u64)
            .sum();
        prop_assert!(
            points <= e.timeseries_points,
            "{} series points, estimate {}",
            points,
            e.timeseries_points
        );
        let keys: u64 = report.nodes.iter().map(|n| n.keys).sum();
        prop_assert!(
            keys <= e.keys,
            "variant {}: {} keys, estimate {}",
            v.name,
            keys,
            e.keys
        );
        let used: u64 = report.nodes.iter().map(|n| n.used_memory_bytes).sum();
        prop_assert!(
            used <= e.store_memory_bytes,
            "variant {}: used_memory {} bytes, estimate {}",
            v.name,
            used,
            e.store_memory_bytes
        );
    }
    if refused {
        // A budget just below the run's estimate (one job at a time) refuses it.
        let total = run_estimate(&estimates, 1);
        let memory = (total.peak_memory_bytes / 2).max(1);
        let hours = (total.run_time_ms as f64 / 3_600_000.0 / 2.0).max(1e-9);
        let budget = if total.run_time_ms >= 2 {
            format!("memory={memory},hours={hours}")
        } else {
            format!("memory={memory}")
        };
        let out = kvsim(&["run", path, "--jobs", "1", "--budget", &budget]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        prop_assert_eq!(
            out.status.code(),
            Some(2),
            "run --budget {}: {}",
            budget,
            stderr
        );
        prop_assert!(out.stdout.is_empty(), "a refused run prints no report");
        prop_assert!(stderr.contains("over the budget"), "{}", stderr);
        let names_a_field = ["duration_s", "clients.", "cluster.", "prefill.", "network."]
            .iter()
            .any(|f| stderr.contains(f));
        prop_assert!(names_a_field, "no scenario field in: {}", stderr);
    }
    Ok(())
}

/// A change to a bundled scenario's text.
#[derive(Clone, Debug)]
enum Mutation {
    /// A number replaced by another, often an extreme one.
    Number(Index, String),
    /// A string literal's contents replaced.
    Str(Index, String),
    /// A bare word (enum value) replaced.
    Word(Index, String),
    /// A byte replaced by a character of RON's syntax.
    Byte(Index, char),
    /// A range of bytes deleted.
    Delete(Index, usize),
    /// A line dropped or doubled.
    Line(Index, bool),
    /// A field inserted after an opening parenthesis.
    Insert(Index, String),
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..4).prop_map(|n| n.to_string()),
        4 => (1u64..3_000).prop_map(|n| n.to_string()),
        2 => (1u64..10_000_000).prop_map(|n| n.to_string()),
        1 => Just(u32::MAX.to_string()),
        1 => Just(u64::MAX.to_string()),
        1 => Just("18446744073709551616".to_string()),
        1 => Just("-1".to_string()),
        1 => Just("1.5".to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
    ]
}

fn string_value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "cache.r7g.large",
        "cache.t4g.small",
        "cache.m6g.large",
        "cache.c7gn.16xlarge",
        "c7gn.16xlarge",
        "m5.large",
        "cache.r7g.larg",
        "",
        "1:0",
        "0:1",
        "1:1",
        "5:0",
        "0:0",
        "Z:Z",
        "P:P",
        "S:S",
        "G:G",
        "R:Z",
        "P:R",
        "32-1024",
        "1024-32",
        "32:10,1024:1",
        "1-10",
        "key:",
        "x",
    ])
    .prop_map(str::to_string)
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "cluster",
        "standalone",
        "redis",
        "valkey",
        "poisson",
        "fixed_rate",
        "full",
        "empty",
        "crc16",
        "rank_modulo",
        "noeviction",
        "allkeys_lru",
        "allkeys_random",
        "volatile_ttl",
        "true",
        "false",
        "None",
        "dragonfly",
        "ops",
        "drops",
    ])
    .prop_map(str::to_string)
}

fn field() -> impl Strategy<Value = String> {
    let n = || (1u64..64).prop_map(|n| n.to_string());
    prop_oneof![
        n().prop_map(|n| format!("pipeline: {n}, ")),
        n().prop_map(|n| format!("shards: {n}, ")),
        n().prop_map(|n| format!("io_threads: {n}, ")),
        n().prop_map(|n| format!("node: (io_threads: {n}), ")),
        n().prop_map(|n| format!("rate_limiting: {n}, ")),
        n().prop_map(|n| format!("requests: {n}, ")),
        n().prop_map(|n| format!("hosts: {n}, ")),
        n().prop_map(|n| format!("jitter_us: {n}, ")),
        n().prop_map(|n| format!("expiry_range: \"1-{n}\", ")),
        n().prop_map(|n| format!("open_loop: (rate_rps: {n}000, queue_depth: {n}), ")),
        Just("maxmemory_policy: allkeys_lru, ".to_string()),
        Just("placement: rank_modulo, ".to_string()),
        Just("duration_ms: 500, ".to_string()),
        Just("net_credits_at_start: fraction(0.5), ".to_string()),
        Just("replicas_per_shard: 1, ".to_string()),
        Just("unknown_field: 1, ".to_string()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<Index>(), number()).prop_map(|(i, n)| Mutation::Number(i, n)),
        2 => (any::<Index>(), string_value()).prop_map(|(i, s)| Mutation::Str(i, s)),
        2 => (any::<Index>(), word()).prop_map(|(i, w)| Mutation::Word(i, w)),
        1 => (any::<Index>(), prop::sample::select(vec!['(', ')', '[', ']', '{', '}', ',', ':', '"', '/', '\n', 'x', '1', '-', '.']))
            .prop_map(|(i, c)| Mutation::Byte(i, c)),
        1 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(i, b)| Mutation::Line(i, b)),
        2 => (any::<Index>(), field()).prop_map(|(i, f)| Mutation::Insert(i, f)),
    ]
}

/// Byte spans of `text` whose bytes satisfy `starts` then `continues`, outside string
/// literals and comments (for words and numbers) or exactly string literal contents.
fn spans(text: &str, kind: SpanKind) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'"' {
            let start = i + 1;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            if kind == SpanKind::Str && i <= b.len() {
                out.push((start, i.min(b.len())));
            }
            i += 1;
            continue;
        }
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
        if word(c) {
            let start = i;
            while i < b.len() && word(b[i]) {
                i += 1;
            }
            let is_number = b[start].is_ascii_digit();
            let followed_by_colon = text[i..].trim_start().starts_with(':');
            match kind {
                SpanKind::Number if is_number => out.push((start, i)),
                SpanKind::Word if !is_number && !followed_by_colon => out.push((start, i)),
                _ => {}
            }
            continue;
        }
        i += 1;
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SpanKind {
    Number,
    Str,
    Word,
}

fn replace_span(text: &mut String, spans: &[(usize, usize)], at: &Index, with: &str) {
    if spans.is_empty() {
        return;
    }
    let (a, b) = spans[at.index(spans.len())];
    text.replace_range(a..b, with);
}

fn char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &mut String, m: &Mutation) {
    match m {
        Mutation::Number(at, n) => {
            let s = spans(text, SpanKind::Number);
            replace_span(text, &s, at, n);
        }
        Mutation::Str(at, v) => {
            let s = spans(text, SpanKind::Str);
            replace_span(text, &s, at, v);
        }
        Mutation::Word(at, w) => {
            let s = spans(text, SpanKind::Word);
            replace_span(text, &s, at, w);
        }
        Mutation::Byte(at, c) => {
            let i = char_boundary(text, at.index(text.len().max(1)));
            let end = char_boundary(text, i + 1).max(i);
            let end = if end == i && i < text.len() {
                i + text[i..].chars().next().map_or(0, char::len_utf8)
            } else {
                end
            };
            text.replace_range(i..end, &c.to_string());
        }
        Mutation::Delete(at, n) => {
            let i = char_boundary(text, at.index(text.len().max(1)));
            let j = char_boundary(text, i + n);
            text.replace_range(i..j, "");
        }
        Mutation::Line(at, double) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return;
            }
            let i = at.index(lines.len());
            if *double {
                lines.insert(i, lines[i]);
            } else {
                lines.remove(i);
            }
            *text = lines.join("\n");
        }
        Mutation::Insert(at, field) => {
            let opens: Vec<usize> = text.match_indices(": (").map(|(i, _)| i + 3).collect();
            if opens.is_empty() {
                return;
            }
            let i = opens[at.index(opens.len())];
            text.insert_str(i, field);
        }
    }
}

/// Shortens every run of a scenario to a second (its warm-up to none, its faults to
/// the whole of it), so that most of its mutants are small enough to simulate.
fn shorten(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let mut l = line.to_string();
        for (field, value) in [
            ("duration_s: ", "1"),
            ("test_time_s: ", "1"),
            ("warmup_s: ", "0"),
            ("at_s: ", "0"),
            ("for_s: ", "1"),
        ] {
            if let Some(at) = l.find(field) {
                let start = at + field.len();
                let end = l[start..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(l.len(), |e| start + e);
                l.replace_range(start..end, value);
            }
        }
        out.push_str(&l);
    }
    out
}

fn mutant() -> impl Strategy<Value = String> {
    (
        0..bundled::BUNDLED.len(),
        any::<bool>(),
        prop::collection::vec(mutation(), 1..5),
    )
        .prop_map(|(which, short, mutations)| {
            let base = bundled::BUNDLED[which].1;
            let mut text = if short {
                shorten(base)
            } else {
                base.to_string()
            };
            for m in &mutations {
                apply(&mut text, m);
            }
            text
        })
}

/// A value for a numeric field: mostly small and plausible, now and then extreme (a
/// random scenario has a few dozen of them, and most should load).
fn small(lo: u64, hi: u64) -> impl Strategy<Value = String> {
    prop_oneof![
        150 => (lo..=hi).prop_map(|n| n.to_string()),
        1 => number(),
    ]
}

/// An instance type: mostly a known one.
fn instance() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::sample::select(vec![
            "cache.r7g.large", "cache.t4g.small", "cache.t4g.micro", "cache.m6g.large",
            "cache.r7g.4xlarge", "cache.c7gn.large", "m5.large", "c7gn.16xlarge",
        ])
        .prop_map(str::to_string),
        1 => string_value(),
    ]
}

fn maybe(weight: f64, s: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop::option::weighted(weight, s).prop_map(Option::unwrap_or_default)
}

/// A scenario built from the schema's fields with random values: most load, many run.
/// A third carry zones and a fault timeline (see [`FaultPlan`]).
fn random_scenario() -> impl Strategy<Value = String> {
    let network = (
        small(0, 500),
        small(0, 100),
        prop::sample::select(vec![1500u32, 9001, 576, 68]),
    )
        .prop_map(|(l, j, m)| format!("latency_us: {l}, jitter_us: {j}, mtu_bytes: {m}, "));
    let node = (
        small(1_000_000, 100_000_000),
        prop::sample::select(vec![
            "noeviction",
            "allkeys_lru",
            "allkeys_lfu",
            "allkeys_random",
            "volatile_lru",
            "volatile_ttl",
        ]),
        small(1, 6),
    )
        .prop_map(|(m, p, t)| {
            format!("node: (maxmemory_bytes: {m}, maxmemory_policy: {p}, io_threads: {t}), ")
        });
    let cpu_cost = (small(0, 10_000), small(1, 5_000), small(0, 2_000)).prop_map(|(b, c, p)| {
        format!("cpu_cost: (per_read_batch_ns: {b}, per_command_ns: {c}, per_byte_ps: {p}), ")
    });
    let cluster = (
        prop::sample::select(vec!["redis", "valkey"]),
        prop::sample::select(vec![
            ("standalone", 1u32), ("standalone", 1), ("cluster", 1), ("cluster", 3),
            ("cluster", 16), ("standalone", 2),
        ]),
        instance(),
        maybe(0.4, node),
        maybe(0.3, prop::sample::select(vec!["placement: crc16, ", "placement: rank_modulo, "]).prop_map(str::to_string)),
        maybe(0.3, cpu_cost),
        maybe(0.3, (small(1, 2), small(16_384, 2_000_000), small(0, 4_000_000), small(1, 3)).prop_map(
            |(r, b, h, t)| format!(
                "replicas_per_shard: {r}, replication: (backlog_bytes: {b}, output_buffer_hard_limit_bytes: {h}, timeout_s: {t}), "
            ),
        )),
    )
        .prop_map(|(engine, (mode, shards), instance, node, placement, cpu, replication)| {
            let fields = format!("engine: {engine}, mode: {mode}, shards: {shards}, instance: \"{instance}\", {node}{placement}{cpu}{replication}");
            (engine, shards, fields)
        });
    let sizes = prop_oneof![
        small(1, 5_000).prop_map(|d| format!("data_size: {d}, ")),
        (small(1, 100), small(100, 30_000))
            .prop_map(|(a, b)| format!("data_size_range: \"{a}-{b}\", ")),
        Just("data_size_list: \"32:10,1024:1\", ".to_string()),
        Just("data_size: 200000, ".to_string()),
    ];
    let stop = prop_oneof![
        small(1, 2).prop_map(|t| format!("test_time_s: {t}, ")),
        small(1, 300).prop_map(|r| format!("requests: {r}, ")),
        Just(String::new()),
    ];
    let pacing = prop_oneof![
        3 => Just(String::new()),
        1 => small(1, 2_000).prop_map(|r| format!("rate_limiting: {r}, ")),
        2 => (
            prop::sample::select(vec!["poisson", "fixed_rate"]),
            small(1, 200_000),
            small(1, 300),
        )
            .prop_map(|(p, r, q)| format!("open_loop: (process: {p}, rate_rps: {r}, queue_depth: {q}), ")),
    ];
    let workload = (
        prop::sample::select(vec!["1:10", "1:0", "0:1", "1:1", "3:2"]),
        prop::sample::select(vec!["R:R", "Z:Z", "G:G", "S:S", "P:P", "R:Z", "S:R"]),
        (small(0, 10), small(1, 20_000)),
        sizes,
        (small(1, 16), small(1, 20), small(1, 4)),
        stop,
        pacing,
        maybe(0.2, Just("expiry_range: \"1-3\", ".to_string())),
    )
        .prop_map(|(ratio, pattern, (kmin, kmax), sizes, (p, c, t), stop, pacing, expiry)| {
            format!(
                "workload: (ratio: \"{ratio}\", key_pattern: \"{pattern}\", key_minimum: {kmin}, key_maximum: {kmax}, {sizes}pipeline: {p}, clients: {c}, threads: {t}, {stop}{pacing}{expiry})"
            )
        });
    let clients = (
        maybe(0.3, instance().prop_map(|i| format!("instance: \"{i}\", "))),
        small(1, 2),
        workload,
        maybe(
            0.15,
            prop::sample::select(vec!["replica", "replica_preferred"])
                .prop_map(|r| format!("read_from: {r}, ")),
        ),
    )
        .prop_map(|(i, h, w, r)| (h.clone(), format!("{i}hosts: {h}, {r}{w}, ")));
    let prefill = maybe(
        0.4,
        (small(0, 20_000), small(0, 10), small(1, 3_000)).prop_map(|(k, m, v)| {
            format!("prefill: (keys: {k}, key_minimum: {m}, value_bytes: {v}),\n")
        }),
    );
    let credits = maybe(
        0.4,
        prop::sample::select(vec!["full", "empty", "fraction(0.25)", "fraction(2.0)"])
            .prop_map(|c| format!("net_credits_at_start: {c},\n")),
    );
    let variants = maybe(
        0.4,
        prop::collection::vec(
            prop_oneof![
                small(1, 8).prop_map(|s| format!("cluster: (shards: {s})")),
                small(1, 8).prop_map(|p| format!("clients: (workload: (pipeline: {p}))")),
                Just("net_credits_at_start: empty".to_string()),
                // A variant's fault list replaces the base's.
                Just("faults: []".to_string()),
                small(1, 2_000).prop_map(|ms| format!("network: (tcp_reset_after_ms: {ms})")),
                Just(String::new()),
            ],
            1..4,
        )
        .prop_map(|patches| {
            let list: Vec<String> = patches
                .iter()
                .enumerate()
                .map(|(i, p)| format!("(name: \"v{i}\", patch: ({p}))"))
                .collect();
            format!("variants: [{}],\n", list.join(", "))
        }),
    );
    // Shared hosts: one node beside a neighbour, valid or not (too few cores, an
    // overcommit below 1, a demand above its burst, a zero mean, a window past the end,
    // an unknown node), with an objective. `@` stands for the engine's name.
    let shared = maybe(
        0.25,
        (
            small(0, 3),
            small(0, 40),
            prop::sample::select(vec!["1.0", "2.0", "0.5"]),
            prop::sample::select(vec![
                "always",
                "exponential(on_mean_ms: 50, off_mean_ms: 100)",
                "pareto(on_mean_ms: 20, off_mean_ms: 60, shape: 1.5)",
                "schedule([(100, 200), (500, 100)])",
                "exponential(on_mean_ms: 0, off_mean_ms: 5)",
            ]),
            small(0, 12_000_000_000),
            prop::sample::select(vec!["1.0", "0.0", "4.0", "9.0"]),
            prop::sample::select(vec!["", "credit_capacity_bits: 1000000000, "]),
        )
            .prop_map(|(n, cores, oc, act, net, cpu, credits)| {
                format!(
                    "hosts: [(name: \"h\", nic_bits_per_s: 25000000000, cores: {cores}, overcommit: {oc}, instances: [\"@-{n}\"],\n  neighbours: [(name: \"x\", vcpus: 4, baseline_bits_per_s: 1000000000, burst_bits_per_s: 10000000000, {credits}net_bits_per_s: {net}, cpu_vcpus: {cpu}, activity: {act})])],\nslo: (p99_ms: 1.0, p999_ms: 4.0),\n"
                )
            }),
    );
    (
        small(0, 1_000),
        prop_oneof![
            small(1, 2).prop_map(|d| (format!("duration_s: {d}"), d.parse::<u64>().ok().map(|d| d.saturating_mul(1_000)))),
            small(1, 2_500).prop_map(|d| (format!("duration_ms: {d}"), d.parse().ok())),
        ],
        maybe(0.3, small(0, 500).prop_map(|w| format!("warmup_ms: {w},\n"))),
        maybe(0.3, network),
        cluster,
        clients,
        prefill,
        credits,
        variants,
        prop::option::weighted(1.0 / 3.0, fault_plan()),
        shared,
    )
        .prop_map(
            |(seed, (duration, duration_ms), warmup, network, (engine, shards, cluster), (hosts, clients), prefill, credits, variants, plan, shared)| {
                let shared = shared.replace("\"@-", &format!("\"{engine}-"));
                let shape = Shape {
                    engine,
                    shards,
                    // A count the text cannot give (the case is refused anyway) names hosts
                    // as if there were one.
                    hosts: hosts.parse().ok().filter(|h| (1..=64).contains(h)).unwrap_or(1),
                    duration_ms: duration_ms.filter(|&d| d > 0).unwrap_or(1_000),
                };
                let t = plan.map(|p| p.render(&shape)).unwrap_or_default();
                let network = if network.is_empty() && t.network.is_empty() {
                    String::new()
                } else {
                    format!("network: ({network}{}),\n", t.network)
                };
                format!(
                    "(\nname: \"fuzz\",\ndescription: \"random\",\nseed: {seed},\n{duration},\n{warmup}{network}cluster: ({cluster}{}),\nclients: ({clients}{}),\n{prefill}{credits}{shared}{}{variants})\n",
                    t.cluster, t.clients, t.faults
                )
            },
        )
}

/// What a fault timeline needs to know of its scenario: the hosts' names and the run's
/// length.
struct Shape {
    engine: &'static str,
    shards: u32,
    hosts: u32,
    duration_ms: u64,
}

impl Shape {
    fn node(&self, i: u32) -> String {
        format!("{}-{i}", self.engine)
    }

    fn client(&self, h: u32) -> String {
        format!("client-{h}")
    }
}

/// Zones and a fault timeline, drawn before the scenario's shape is known and rendered
/// against it. Valid by construction unless `flaw` is set: zones are declared before
/// they are used, hosts exist, windows lie inside the run, and the windows of one lane
/// (the link faults, each node's crashes, each NIC's caps) follow one another, so no
/// two faults overlap on a target; faults of different lanes overlap freely (a crash
/// during an outage of the same node, a capped NIC on a degraded link).
#[derive(Clone, Debug)]
struct FaultPlan {
    /// How many zones (1 to 3); `None`: no zones.
    zones: Option<usize>,
    cluster_zones: Option<Vec<Index>>,
    client_zones: Option<Vec<Index>>,
    /// Cross-zone latency and jitter (at most the latency), with two zones or more.
    cross: Option<(u64, u64)>,
    /// A zone pair's own latency, with two zones or more.
    pair: Option<(Index, u64)>,
    reset_after_ms: Option<u64>,
    links: (Lane, Vec<Link>),
    crashes: Vec<(Index, Lane)>,
    nic_caps: Vec<(Index, Lane, Vec<u64>)>,
    flaw: Option<(Flaw, Index)>,
}

/// Windows one after the other: sorted points of the run (in 65,535ths), taken in
/// pairs; in whole seconds when `seconds`, the last lasting to the end unless
/// `bounded`.
#[derive(Clone, Debug)]
struct Lane {
    points: Vec<u16>,
    seconds: bool,
    bounded: bool,
}

#[derive(Clone, Debug)]
enum Sides {
    /// Some nodes and some client hosts (bit masks).
    NodesClients(u32, u32),
    /// One node and another.
    TwoNodes(Index, Index),
    /// One zone and another.
    TwoZones(Index, Index),
    /// A zone and the client hosts outside it.
    ZoneClients(Index),
}

#[derive(Clone, Debug)]
struct Link {
    sides: Sides,
    swap: bool,
    /// `None`: an outage; else a degradation's extra latency (us) and loss.
    degrade: Option<(u64, &'static str)>,
}

/// One way to make a timeline or its zones invalid.
#[derive(Clone, Copy, Debug)]
enum Flaw {
    /// A fault given twice (the same target in the same window).
    Overlap,
    UnknownNode,
    UnknownClient,
    UnknownZone,
    /// A fault that starts at the end of the run.
    StartsAtEnd,
    /// A fault that ends after the run.
    EndsAfter,
    EmptyWindow,
    RateAboveNic,
    RateZero,
    BothSides,
    EmptySide,
    CrashClient,
    LossAboveOne,
    DegradesNothing,
    TwoKinds,
    NoStart,
    StartTwice,
    ClusterZoneUndeclared,
    DuplicateZone,
    CrossZoneAlone,
    JitterAboveLatency,
    ResetAfterZero,
}

fn lane(max_windows: usize) -> impl Strategy<Value = Lane> {
    (
        (0..=max_windows).prop_flat_map(|n| prop::collection::vec(any::<u16>(), 2 * n)),
        prop::bool::weighted(0.4),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(points, seconds, bounded)| Lane {
            points,
            seconds,
            bounded,
        })
}

fn fault_plan() -> impl Strategy<Value = FaultPlan> {
    let sides = prop_oneof![
        3 => (1u32..u32::MAX, 1u32..u32::MAX).prop_map(|(a, b)| Sides::NodesClients(a, b)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Sides::TwoNodes(a, b)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Sides::TwoZones(a, b)),
        1 => any::<Index>().prop_map(Sides::ZoneClients),
    ];
    let link = (
        sides,
        any::<bool>(),
        prop::option::weighted(
            0.5,
            (
                prop::sample::select(vec![0u64, 0, 100, 2_000, 50_000]),
                prop::sample::select(vec!["0.0", "0.01", "0.5", "1.0"]),
            ),
        ),
    )
        .prop_map(|(sides, swap, degrade)| Link {
            sides,
            swap,
            // A degradation that changes nothing is a flaw of its own.
            degrade: degrade.map(|(l, p)| {
                if l == 0 && p == "0.0" {
                    (1_000, p)
                } else {
                    (l, p)
                }
            }),
        });
    let flaw = prop::sample::select(vec![
        Flaw::Overlap,
        Flaw::Overlap,
        Flaw::UnknownNode,
        Flaw::UnknownClient,
        Flaw::UnknownZone,
        Flaw::StartsAtEnd,
        Flaw::EndsAfter,
        Flaw::EmptyWindow,
        Flaw::RateAboveNic,
        Flaw::RateZero,
        Flaw::BothSides,
        Flaw::EmptySide,
        Flaw::CrashClient,
        Flaw::LossAboveOne,
        Flaw::DegradesNothing,
        Flaw::TwoKinds,
        Flaw::NoStart,
        Flaw::StartTwice,
        Flaw::ClusterZoneUndeclared,
        Flaw::DuplicateZone,
        Flaw::CrossZoneAlone,
        Flaw::JitterAboveLatency,
        Flaw::ResetAfterZero,
    ]);
    (
        prop::option::weighted(0.6, 1usize..=3),
        prop::option::weighted(0.6, prop::collection::vec(any::<Index>(), 1..4)),
        prop::option::weighted(0.5, prop::collection::vec(any::<Index>(), 1..3)),
        prop::option::weighted(0.4, (0u64..2_000).prop_flat_map(|l| (Just(l), 0..=l))),
        prop::option::weighted(0.3, (any::<Index>(), 0u64..5_000)),
        prop::option::weighted(
            0.4,
            prop::sample::select(vec![1u64, 200, 1_000, 3_000, 924_600]),
        ),
        (lane(3), prop::collection::vec(link, 3)),
        prop::collection::vec((any::<Index>(), lane(2)), 0..3),
        prop::collection::vec(
            (
                any::<Index>(),
                lane(2),
                prop::collection::vec(
                    prop::sample::select(vec![1u64, 1_000_000, 100_000_000, 5_000_000_000]),
                    2,
                ),
            ),
            0..3,
        ),
        prop::option::weighted(0.3, (flaw, any::<Index>())),
    )
        .prop_map(
            |(
                zones,
                cluster_zones,
                client_zones,
                cross,
                pair,
                reset_after_ms,
                links,
                crashes,
                nic_caps,
                flaw,
            )| {
                FaultPlan {
                    zones,
                    cluster_zones,
                    client_zones,
                    cross,
                    pair,
                    reset_after_ms,
                    links,
                    crashes,
                    nic_caps,
                    flaw,
                }
            },
        )
}

/// A plan's text: fields for `network`, `cluster` and `clients`, and a `faults` line.
#[derive(Default)]
struct Timeline {
    network: String,
    cluster: String,
    clients: String,
    faults: String,
}

const ZONE_NAMES: [&str; 3] = ["az-a", "az-b", "az-c"];

impl Lane {
    /// The windows in ms, each `(at, Some(for))` or `(at, None)` to the end.
    fn windows(&self, duration_ms: u64) -> Vec<(u64, Option<u64>)> {
        let (unit, span) = if self.seconds && duration_ms >= 1_000 {
            (1_000u64, duration_ms / 1_000)
        } else {
            (1u64, duration_ms)
        };
        let mut points: Vec<u64> = self
            .points
            .iter()
            // In u128: a random duration may be near u64::MAX.
            .map(|&p| {
                (p as u128 * u128::from(span) / u128::from(u16::MAX) * u128::from(unit))
                    .min(u128::from(u64::MAX)) as u64
            })
            .collect();
        points.sort_unstable();
        let mut out = Vec::new();
        for (i, w) in points.chunks(2).enumerate() {
            let (from, until) = (w[0], w[1]);
            if from >= until {
                continue;
            }
            let last = i + 1 == points.len() / 2;
            let length = if last && until == duration_ms && !self.bounded {
                None
            } else {
                Some(until - from)
            };
            out.push((from, length));
        }
        out
    }
}

/// `at_s: ..` or `at_ms: ..`, and the length likewise, with a trailing comma.
fn window_text(at_ms: u64, for_ms: Option<u64>) -> String {
    let whole = at_ms % 1_000 == 0 && for_ms.is_none_or(|l| l % 1_000 == 0);
    let at = if whole {
        format!("at_s: {}, ", at_ms / 1_000)
    } else {
        format!("at_ms: {at_ms}, ")
    };
    match for_ms {
        None => at,
        Some(l) if whole => format!("{at}for_s: {}, ", l / 1_000),
        Some(l) => format!("{at}for_ms: {l}, "),
    }
}

fn list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

impl FaultPlan {
    fn render(&self, s: &Shape) -> Timeline {
        let mut t = Timeline::default();
        let zones = self.zones.unwrap_or(0);
        let zone = |i: &Index| ZONE_NAMES[i.index(zones.max(1))];
        // Each host's zone (0 without zones), as the scenario's round robin places it.
        let spread = |list: &Option<Vec<Index>>, n: u32| -> Vec<usize> {
            (0..n as usize)
                .map(|h| match list {
                    Some(l) if zones > 0 => l[h % l.len()].index(zones),
                    _ => 0,
                })
                .collect()
        };
        let node_zone = spread(&self.cluster_zones, s.shards);
        let client_zone = spread(&self.client_zones, s.hosts);
        if zones > 0 {
            t.network = format!(
                "zones: {}, ",
                list(
                    &ZONE_NAMES[..zones]
                        .iter()
                        .map(|z| z.to_string())
                        .collect::<Vec<_>>()
                )
            );
            if zones >= 2 {
                if let Some((l, j)) = self.cross {
                    t.network +=
                        &format!("cross_zone_latency_us: {l}, cross_zone_jitter_us: {j}, ");
                }
                if let Some((i, l)) = &self.pair {
                    let a = i.index(zones);
                    let b = (a + 1) % zones;
                    t.network += &format!(
                        "zone_pairs: [(zones: ({:?}, {:?}), latency_us: {l})], ",
                        ZONE_NAMES[a], ZONE_NAMES[b]
                    );
                }
            }
            for (chosen, out) in [
                (&self.cluster_zones, &mut t.cluster),
                (&self.client_zones, &mut t.clients),
            ] {
                if let Some(l) = chosen {
                    let names: Vec<String> = l.iter().map(|i| zone(i).to_string()).collect();
                    *out = format!("zones: {}, ", list(&names));
                }
            }
        }
        if let Some(ms) = self.reset_after_ms {
            t.network += &format!("tcp_reset_after_ms: {ms}, ");
        }
        let d = s.duration_ms;
        let mut faults = Vec::new();
        // The link faults, one after the other.
        let (lane, links) = &self.links;
        for ((at, length), link) in lane.windows(d).into_iter().zip(links) {
            let Some((mut a, mut b)) = self.sides(&link.sides, s, zones, &node_zone, &client_zone)
            else {
                continue;
            };
            if link.swap {
                std::mem::swap(&mut a, &mut b);
            }
            let what = match link.degrade {
                None => format!("outage: ({}, {})", list(&a), list(&b)),
                Some((l, p)) => format!(
                    "degrade: (between: ({}, {}), extra_latency_us: {l}, loss: {p})",
                    list(&a),
                    list(&b)
                ),
            };
            faults.push(format!("({}{what})", window_text(at, length)));
        }
        // Each node's crashes, one after the other (two lanes on one node are merged).
        let mut crashed = Vec::new();
        for (node, lane) in &self.crashes {
            let node = node.index(s.shards as usize) as u32;
            if crashed.contains(&node) {
                continue;
            }
            crashed.push(node);
            for (at, length) in lane.windows(d) {
                faults.push(format!(
                    "({}crash: {:?})",
                    window_text(at, length),
                    s.node(node)
                ));
            }
        }
        // Each NIC's caps, below every known instance's peak rate.
        let mut capped = Vec::new();
        let hosts = s.shards + s.hosts;
        for (host, lane, rates) in &self.nic_caps {
            let host = host.index(hosts as usize) as u32;
            if capped.contains(&host) {
                continue;
            }
            capped.push(host);
            let name = if host < s.shards {
                s.node(host)
            } else {
                s.client(host - s.shards)
            };
            for ((at, length), rate) in lane.windows(d).into_iter().zip(rates) {
                faults.push(format!(
                    "({}nic_rate: (host: {name:?}, bits_per_s: {rate}))",
                    window_text(at, length)
                ));
            }
        }
        if let Some((flaw, at)) = self.flaw {
            self.spoil(flaw, at, s, &mut faults, &mut t);
        }
        if !faults.is_empty() {
            t.faults = format!("faults: [\n  {},\n],\n", faults.join(",\n  "));
        } else if self.zones.is_none() {
            t.faults = "faults: [],\n".to_string();
        }
        t
    }

    /// Two disjoint, non-empty sets of hosts, or `None` when the shape has none.
    fn sides(
        &self,
        sides: &Sides,
        s: &Shape,
        zones: usize,
        node_zone: &[usize],
        client_zone: &[usize],
    ) -> Option<(Vec<String>, Vec<String>)> {
        let pick = |mask: u32, n: u32| -> Vec<u32> {
            let chosen: Vec<u32> = (0..n.min(32)).filter(|i| mask & (1 << i) != 0).collect();
            if chosen.is_empty() {
                vec![0]
            } else {
                chosen
            }
        };
        let nodes_clients = |a: u32, b: u32| {
            (
                pick(a, s.shards).into_iter().map(|i| s.node(i)).collect(),
                pick(b, s.hosts).into_iter().map(|h| s.client(h)).collect(),
            )
        };
        let populated = |z: usize| node_zone.contains(&z) || client_zone.contains(&z);
        Some(match sides {
            Sides::NodesClients(a, b) => nodes_clients(*a, *b),
            Sides::TwoNodes(a, b) if s.shards >= 2 => {
                let a = a.index(s.shards as usize);
                let b = (a + 1 + b.index(s.shards as usize - 1)) % s.shards as usize;
                (vec![s.node(a as u32)], vec![s.node(b as u32)])
            }
            Sides::TwoZones(a, b) if zones >= 2 => {
                let a = a.index(zones);
                let b = (a + 1 + b.index(zones - 1)) % zones;
                if !populated(a) || !populated(b) {
                    return Some(nodes_clients(1, 1));
                }
                (
                    vec![format!("zone:{}", ZONE_NAMES[a])],
                    vec![format!("zone:{}", ZONE_NAMES[b])],
                )
            }
            Sides::ZoneClients(z) if zones >= 1 => {
                let z = z.index(zones);
                let outside: Vec<String> = (0..s.hosts)
                    .filter(|&h| client_zone[h as usize] != z)
                    .map(|h| s.client(h))
                    .collect();
                if !populated(z) || outside.is_empty() {
                    return Some(nodes_clients(1, 1));
                }
                (vec![format!("zone:{}", ZONE_NAMES[z])], outside)
            }
            _ => nodes_clients(1, 1),
        })
    }

    /// Makes the timeline or its zones invalid in one way.
    fn spoil(&self, flaw: Flaw, at: Index, s: &Shape, faults: &mut Vec<String>, t: &mut Timeline) {
        let d = s.duration_ms;
        let node = s.node(0);
        let client = s.client(0);
        let bad = match flaw {
            Flaw::Overlap if !faults.is_empty() => faults[at.index(faults.len())].clone(),
            Flaw::Overlap => {
                faults.push(format!("(at_ms: 0, crash: {node:?})"));
                format!("(at_ms: {}, crash: {node:?})", d / 2)
            }
            Flaw::UnknownNode => format!("(at_ms: 0, crash: \"{}-{}\")", s.engine, s.shards),
            Flaw::UnknownClient => {
                format!("(at_ms: 0, outage: ([{node:?}], [\"client-{}\"]))", s.hosts)
            }
            Flaw::UnknownZone => format!("(at_ms: 0, outage: ([\"zone:az-q\"], [{client:?}]))"),
            Flaw::StartsAtEnd => format!("(at_ms: {d}, crash: {node:?})"),
            Flaw::EndsAfter => format!(
                "(at_ms: {}, for_ms: {}, crash: {node:?})",
                d / 2,
                d - d / 2 + 1
            ),
            Flaw::EmptyWindow => format!("(at_ms: 0, for_ms: 0, crash: {node:?})"),
            Flaw::RateAboveNic => {
                format!("(at_ms: 0, nic_rate: (host: {node:?}, bits_per_s: 1_000_000_000_000))")
            }
            Flaw::RateZero => format!("(at_ms: 0, nic_rate: (host: {client:?}, bits_per_s: 0))"),
            Flaw::BothSides => format!("(at_ms: 0, outage: ([{node:?}], [{client:?}, {node:?}]))"),
            Flaw::EmptySide => format!("(at_ms: 0, outage: ([], [{client:?}]))"),
            Flaw::CrashClient => format!("(at_ms: 0, crash: {client:?})"),
            Flaw::LossAboveOne => {
                format!("(at_ms: 0, degrade: (between: ([{node:?}], [{client:?}]), loss: 1.5))")
            }
            Flaw::DegradesNothing => {
                format!("(at_ms: 0, degrade: (between: ([{node:?}], [{client:?}])))")
            }
            Flaw::TwoKinds => format!(
                "(at_ms: 0, crash: {node:?}, nic_rate: (host: {client:?}, bits_per_s: 1000))"
            ),
            Flaw::NoStart => format!("(for_ms: 1, crash: {node:?})"),
            Flaw::StartTwice => format!("(at_s: 0, at_ms: 0, crash: {node:?})"),
            Flaw::ClusterZoneUndeclared => {
                t.cluster = "zones: [\"az-q\"], ".to_string();
                return;
            }
            Flaw::DuplicateZone => {
                // Every list of zones begins with az-a.
                if self.zones.is_some() {
                    t.network = t.network.replacen("zones: [", "zones: [\"az-a\", ", 1);
                } else {
                    t.network += "zones: [\"az-a\", \"az-a\"], ";
                }
                return;
            }
            Flaw::CrossZoneAlone => {
                t.network += match (self.zones, self.cross) {
                    (Some(2..), None) => "cross_zone_latency_us: 20_000_000, ",
                    // Without two zones the field is refused; given twice, so is the
                    // second.
                    _ => "cross_zone_latency_us: 100, ",
                };
                return;
            }
            Flaw::JitterAboveLatency => {
                t.network +=
                    "zone_pairs: [(zones: (\"az-a\", \"az-b\"), latency_us: 5, jitter_us: 6)], ";
                return;
            }
            Flaw::ResetAfterZero => {
                if let Some(ms) = self.reset_after_ms {
                    t.network = t
                        .network
                        .replace(&format!("tcp_reset_after_ms: {ms}, "), "");
                }
                t.network += "tcp_reset_after_ms: 0, ";
                return;
            }
        };
        let i = at.index(faults.len() + 1);
        faults.insert(i, bad);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Mutations of the bundled scenarios (see [`check_case`] for the property).
    #[test]
    fn mutated_bundled_scenarios_load_or_are_refused_and_run_within_their_estimate(text in mutant()) {
        check_case("mutant.ron", &text)?;
    }

    /// Random scenarios built from the schema (see [`check_case`] for the property).
    #[test]
    fn random_scenarios_load_or_are_refused_and_run_within_their_estimate(text in random_scenario()) {
        check_case("random.ron", &text)?;
    }

    /// Random RON of any shape: never a panic, always a located refusal.
    #[test]
    fn random_ron_is_refused_with_a_location(text in random_ron()) {
        check_case("ron.ron", &text)?;
    }
}

/// Any RON value: numbers, strings, words, tuples, lists, maps and structs with the
/// schema's field names and others, nested.
fn random_ron() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "name",
        "description",
        "seed",
        "duration_s",
        "cluster",
        "clients",
        "workload",
        "variants",
        "patch",
        "shards",
        "instance",
        "x",
        "prefill",
        "keys",
    ]);
    let leaf = prop_oneof![
        number(),
        string_value().prop_map(|s| format!("{s:?}")),
        word(),
        Just("()".to_string()),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((names.clone(), inner.clone()), 0..6).prop_map(|v| {
                let fields: Vec<String> = v.iter().map(|(n, x)| format!("{n}: {x}")).collect();
                format!("({})", fields.join(", "))
            }),
            prop::collection::vec((inner.clone(), inner), 0..3).prop_map(|v| {
                let entries: Vec<String> = v.iter().map(|(k, x)| format!("{k}: {x}")).collect();
                format!("{{{}}}", entries.join(", "))
            }),
        ]
    })
}

#[test]
fn locating_accepts_positions_and_paths_only() {
    assert!(locates("f.ron", "f.ron:3:7: expected an integer"));
    assert!(locates(
        "f.ron",
        "f.ron: cluster.shards: expected at least 1 shard, got 0"
    ));
    assert!(!locates("f.ron", "f.ron: something went wrong"));
    assert!(!locates("f.ron", "f.ron:0:7: x"));
    assert!(!locates("f.ron", "other.ron:3:7: x"));
}

#[test]
fn shortening_keeps_a_bundled_scenario_valid_and_small() {
    for (file, text) in bundled::BUNDLED {
        let short = shorten(text);
        let s = load_str(&short, file).expect("a shortened bundled scenario loads");
        for v in s.resolved_variants() {
            // A second at most (a scenario given in ms may be shorter already).
            assert!(v.config.duration_ns <= 1_000_000_000, "{file}");
        }
    }
}

/// The fault generator's intent, on scenarios that are otherwise valid: a plan without
/// a flaw renders zones and a timeline the library accepts, and a plan with one is
/// refused, with the field's location.
#[test]
fn fault_plans_load_exactly_when_not_flawed() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..600u32 {
        let plan = fault_plan()
            .new_tree(&mut runner)
            .expect("a plan")
            .current();
        let shape = Shape {
            engine: ["redis", "valkey"][case as usize % 2],
            shards: [1, 3, 16][case as usize % 3],
            hosts: [1, 2, 3, 5][case as usize % 4],
            duration_ms: [1_000, 1_500, 2_000, 7][case as usize % 4],
        };
        let t = plan.render(&shape);
        let text = format!(
            "(name: \"plan\", description: \"plan\", seed: 1, duration_ms: {},\n\
             network: ({}),\n\
             cluster: (engine: {}, mode: cluster, shards: {}, instance: \"cache.r7g.large\", {}),\n\
             clients: (hosts: {}, {}workload: (requests: 10)),\n{})",
            shape.duration_ms,
            t.network,
            shape.engine,
            shape.shards,
            t.cluster,
            shape.hosts,
            t.clients,
            t.faults
        );
        match (load_str(&text, "plan.ron"), plan.flaw) {
            (Ok(_), None) => accepted += 1,
            (Err(e), Some(_)) => {
                assert!(locates("plan.ron", &e.to_string()), "{e}");
                refused += 1;
            }
            (Ok(_), Some(flaw)) => panic!("{flaw:?} accepted:\n{text}"),
            (Err(e), None) => panic!("refused: {e}\n{text}"),
        }
    }
    assert!(
        accepted > 300 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
}
