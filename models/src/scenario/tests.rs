//! Loading, variants, defaults and error locations. Each case is an input text and the
//! expectation about what comes out.

use super::*;

const MINIMAL: &str = r#"(
    name: "t",
    description: "d",
    seed: 7,
    duration_s: 10,
    cluster: (instance: "cache.r7g.large"),
)"#;

fn load(text: &str) -> Result<Scenario, ScenarioError> {
    load_str(text, "t.ron")
}

fn invalid(text: &str) -> (String, String) {
    match load(text) {
        Err(ScenarioError::Invalid { path, message, .. }) => (path, message),
        other => panic!("expected an invalid-value error, got {other:?}"),
    }
}

fn with(extra: &str) -> String {
    MINIMAL.replacen("seed: 7,", &format!("seed: 7, {extra}"), 1)
}

#[test]
fn minimal_scenario_is_one_base_variant_with_defaults() {
    let s = load(MINIMAL).unwrap();
    let v = s.variants();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].name, "base");
    let c = &v[0].config;
    assert_eq!((c.seed, c.duration_ns, c.warmup_ns), (7, 10_000_000_000, 0));
    assert_eq!(c.network.mtu_bytes, 9_001);
    assert_eq!(
        (c.network.ip_tcp_header_bytes, c.network.link_header_bytes),
        (40, 18)
    );
    assert_eq!(c.cluster.engine, Engine::Redis);
    assert_eq!(c.cluster.shards, 1);
    assert_eq!(c.cluster.replicas_per_shard, 0);
    assert_eq!(c.cluster.placement, Placement::Crc16);
    let mem = c.cluster.instance.spec.memory_bytes;
    assert_eq!(c.cluster.node.maxmemory_bytes, mem - mem / 4);
    assert_eq!(c.clients.instance.name, "c7gn.16xlarge");
    assert_eq!(c.clients.workload.connections_per_host(), 200);
    assert_eq!(c.prefill.key_count, 10_000_001);
    assert_eq!(c.prefill.value_bytes, 32);
    assert_eq!(c.net_credits_at_start, CreditLevel::Full);
    assert!(c.report.shows(ReportSection::Findings));
}

#[test]
fn variants_patch_any_field_and_share_the_seed() {
    let text = with(
        r#"variants: [
            (name: "a", patch: ()),
            (name: "b", patch: (cluster: (instance: "cache.r7g.xlarge", mode: cluster, shards: 3),
                                clients: (workload: (ratio: "1:1")))),
        ],"#,
    );
    let s = load(&text).unwrap();
    let v = s.variants();
    assert_eq!(
        v.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(v[0].config.cluster.instance.name, "cache.r7g.large");
    assert_eq!(v[1].config.cluster.instance.name, "cache.r7g.xlarge");
    assert_eq!(v[1].config.cluster.shards, 3);
    assert_eq!(v[1].config.clients.workload.ratio.set, 1);
    assert!(v.iter().all(|v| v.config.seed == 7));
    assert_eq!(v[1].config.variant_name, "b");
}

#[test]
fn duration_in_milliseconds_and_patch_switching_units() {
    let text = MINIMAL.replace("duration_s: 10,", "duration_ms: 1500, warmup_ms: 500,");
    let s = load(&text).unwrap();
    assert_eq!(s.variants()[0].config.duration_ns, 1_500_000_000);
    let text = with(r#"variants: [(name: "long", patch: (duration_ms: 20000))],"#);
    assert_eq!(
        load(&text).unwrap().variants()[0].config.duration_ns,
        20_000_000_000
    );
}

#[test]
fn semantic_errors_name_the_field_and_the_expectation() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"cluster: (instance: "cache.r7g.large", mode: cluster, shards: 0),"#,
            "cluster.shards",
            "at least 1",
        ),
        ("warmup_s: 10,", "warmup_s", "shorter than the duration"),
        (
            // The last key fits, one past it does not: the store could not hold it.
            "prefill: (keys: 2, key_minimum: 18446744073709551614),",
            "prefill.keys",
            "overflows a 64-bit key index",
        ),
        (
            r#"clients: (workload: (ratio: "0:0")),"#,
            "clients.workload.ratio",
            "non-zero",
        ),
        (
            r#"clients: (workload: (key_minimum: 9, key_maximum: 3)),"#,
            "clients.workload.key_minimum",
            "key_minimum <= key_maximum",
        ),
        (
            r#"clients: (workload: (data_size: 0)),"#,
            "clients.workload.data_size",
            "positive",
        ),
        (
            r#"network: (mtu_bytes: 20),"#,
            "network.mtu_bytes",
            "68..=65535",
        ),
        (
            "net_credits_at_start: fraction(1.5),",
            "net_credits_at_start",
            "[0, 1]",
        ),
        (r#"clients: (hosts: 0),"#, "clients.hosts", "at least 1"),
        (
            r#"clients: (cluster: (max_redirects: 256)),"#,
            "clients.cluster.max_redirects",
            "at most 255",
        ),
        (
            r#"clients: (cluster: (request_timeout_ms: 0)),"#,
            "clients.cluster.request_timeout_ms",
            "positive",
        ),
        (
            r#"clients: (cluster: (retry_delay_ms: 0)),"#,
            "clients.cluster.retry_delay_ms",
            "positive",
        ),
        (
            r#"clients: (workload: (open_loop: (process: poisson))),"#,
            "clients.workload.open_loop.rate_rps",
            "required",
        ),
    ];
    for (extra, path, expect) in cases {
        // The cluster override replaces MINIMAL's own cluster line.
        let text = if extra.starts_with("cluster") {
            MINIMAL.replace(r#"cluster: (instance: "cache.r7g.large"),"#, extra)
        } else {
            with(extra)
        };
        let (p, m) = invalid(&text);
        assert_eq!(&p, path, "{extra}: {m}");
        assert!(m.contains(expect), "{extra}: {m}");
    }
}

#[test]
fn report_cpu_cost_credits_and_node_settings_resolve() {
    let text = with(
        r#"report: (sections: [findings, totals, findings], timeseries: [net_credits], plots: true),
        net_credits_at_start: fraction(0.5),
        cpu_credits_at_start: empty,
        cluster: (instance: "cache.t4g.small",
                  node: (maxmemory_bytes: 1000000, maxmemory_policy: allkeys_lfu, io_threads: 2),
                  cpu_cost: (per_command_ns: 900)),
        prefill: (keys: 1000),"#,
    )
    .replace(r#"cluster: (instance: "cache.r7g.large"),"#, "");
    let s = load(&text).unwrap();
    let c = &s.variants()[0].config;
    assert_eq!(
        c.report.sections,
        vec![ReportSection::Totals, ReportSection::Findings]
    );
    assert_eq!(c.report.timeseries, vec![TimeSeriesKind::NetCredits]);
    assert!(c.report.plots);
    assert_eq!(c.net_credits_at_start, CreditLevel::Fraction(0.5));
    let cap = c.cluster.instance.spec.net_credit_capacity_bits.unwrap();
    assert_eq!(c.net_credits_at_start.of_capacity(cap), cap / 2);
    assert_eq!(c.cpu_credits_at_start, CreditLevel::Empty);
    assert_eq!(c.cluster.node.maxmemory_bytes, 1_000_000);
    assert_eq!(c.cluster.node.maxmemory_policy.redis_name(), "allkeys-lfu");
    assert_eq!(c.cluster.node.io_threads, 2);
    assert_eq!(c.cluster.cpu_cost.per_command_ns, Some(900));
    assert_eq!(c.cluster.cpu_cost.per_read_batch_ns, None);
    // One type, two forms: the scenario omits unset parts (its digest input), the
    // resolved configuration (a report's `config`) lists all three.
    assert!(s
        .canonical()
        .contains("cpu_cost:Some((per_command_ns:Some(900)))"));
    assert_eq!(
        serde_json::to_value(&c.cluster).unwrap()["cpu_cost"].to_string(),
        r#"{"per_read_batch_ns":null,"per_command_ns":900,"per_byte_ps":null}"#
    );
}

#[test]
fn prefill_defaults_follow_the_workload() {
    let text = with(
        r#"clients: (workload: (key_minimum: 10, key_maximum: 19, data_size_list: "100:1,300:1")),"#,
    );
    let p = load(&text).unwrap().variants()[0].config.prefill.clone();
    assert_eq!((p.key_minimum, p.key_count, p.value_bytes), (10, 10, 200));
    assert_eq!(p.key_prefix, "memtier-");
    let text = with(r#"prefill: (keys: 0),"#);
    assert_eq!(
        load(&text).unwrap().variants()[0].config.prefill.key_count,
        0
    );
}

#[test]
fn zero_duration_is_invalid() {
    let (p, m) = invalid(&MINIMAL.replace("duration_s: 10", "duration_s: 0"));
    assert_eq!(p, "duration_s");
    assert!(m.contains("positive"));
}

#[test]
fn unknown_instance_lists_the_closest_names() {
    let (p, m) = invalid(&MINIMAL.replace("cache.r7g.large", "cache.r7g.larg"));
    assert_eq!(p, "cluster.instance");
    assert!(
        m.contains("unknown instance type \"cache.r7g.larg\""),
        "{m}"
    );
    assert!(m.contains("closest known: cache.r7g.large"), "{m}");
}

#[test]
fn errors_in_a_patch_point_into_the_patch() {
    let text = with(
        r#"variants: [(name: "ok", patch: ()), (name: "bad", patch: (cluster: (mode: cluster, shards: 0)))],"#,
    );
    let (p, m) = invalid(&text);
    assert_eq!(p, "variants[1].patch.cluster.shards");
    assert!(m.contains("at least 1"));
    // A base value that only fails in combination with a patch names the variant.
    let text = with(r#"warmup_s: 5, variants: [(name: "short", patch: (duration_s: 3))],"#);
    let (p, m) = invalid(&text);
    assert_eq!(p, "warmup_s");
    assert!(m.contains("variant \"short\""), "{m}");
}

#[test]
fn a_patch_cannot_change_the_seed_or_name() {
    let (p, _) = invalid(&with(r#"variants: [(name: "x", patch: (seed: 3))],"#));
    assert_eq!(p, "variants[0].patch.seed");
    let (p, _) = invalid(&with(r#"variants: [(name: "x"), (name: "x")],"#));
    assert_eq!(p, "variants[1].name");
    let (p, m) = invalid(&with(r#"variants: [(name: "a/b")],"#));
    assert_eq!(p, "variants[0].name");
    assert!(m.contains("path separators"), "{m}");
    let (p, _) = invalid(&MINIMAL.replace("name: \"t\"", "name: \"\""));
    assert_eq!(p, "name");
}

#[test]
fn custom_and_overridden_instances() {
    let text = with(
        r#"instances: {
            "cache.r7g.large": (net_credit_capacity_bits: 1000),
            "my-box": (vcpu: 4, memory_bytes: 1000000, baseline_bits_per_s: 5000000),
        },
        clients: (instance: "my-box"),"#,
    );
    let s = load(&text).unwrap();
    let c = &s.variants()[0].config;
    assert_eq!(c.cluster.instance.spec.net_credit_capacity_bits, Some(1000));
    assert_eq!(
        c.cluster.instance.spec.source.net_credits.as_deref(),
        Some("scenario override")
    );
    assert_eq!(c.clients.instance.spec.baseline_bits_per_s, 5_000_000);
    let (p, m) = invalid(&with(r#"instances: {"my-box": (vcpu: 4)},"#));
    assert_eq!(p, "instances[\"my-box\"].memory_bytes");
    assert!(m.contains("required for a custom instance type"));
}

#[test]
fn line_rates_of_custom_and_overridden_instances() {
    // A custom type without a line rate gets its peak rate, and says so.
    let text = with(
        r#"instances: {
            "bursty": (vcpu: 2, memory_bytes: 17179869184, baseline_bits_per_s: 1000000,
                       burst_bits_per_s: 8000000, net_credit_capacity_bits: 1000),
            "flat": (vcpu: 4, memory_bytes: 1000000, baseline_bits_per_s: 3000000,
                     line_rate_bits_per_s: 9000000, source: "bench notes"),
        },
        clients: (instance: "flat"),"#,
    )
    .replace(r#"instance: "cache.r7g.large""#, r#"instance: "bursty""#);
    let s = load(&text).unwrap();
    let c = &s.variants()[0].config;
    assert_eq!(c.cluster.instance.spec.line_rate_bits_per_s, 8_000_000);
    assert!(c
        .cluster
        .instance
        .spec
        .source
        .line_rate
        .starts_with("derived: the peak rate"));
    assert_eq!(c.clients.instance.spec.line_rate_bits_per_s, 9_000_000);
    assert_eq!(c.clients.instance.spec.source.line_rate, "bench notes");
    // A line rate below the peak is refused where it is set ...
    let (p, m) = invalid(&with(
        r#"instances: {"cache.r7g.large": (line_rate_bits_per_s: 1000000000)},"#,
    ));
    assert_eq!(p, "instances[\"cache.r7g.large\"].line_rate_bits_per_s");
    assert!(m.contains("at least the peak rate (12500000000"), "{m}");
    // ... and so is a burst raised above the catalog's line rate without it.
    let (p, _) = invalid(&with(
        r#"instances: {"cache.r7g.large": (burst_bits_per_s: 20000000000)},"#,
    ));
    assert_eq!(p, "instances[\"cache.r7g.large\"].line_rate_bits_per_s");
    let s = load(&with(
        r#"instances: {"cache.r7g.large": (burst_bits_per_s: 20000000000,
                                           line_rate_bits_per_s: 25000000000)},"#,
    ))
    .unwrap();
    let spec = &s.variants()[0].config.cluster.instance.spec;
    assert_eq!(spec.line_rate_bits_per_s, 25_000_000_000);
    assert_eq!(spec.source.line_rate, "scenario override");
}

#[test]
fn syntax_and_type_errors_carry_line_and_column() {
    let cases: &[(&str, usize, &str)] = &[
        ("(\n  name: \"t\",\n  bogus: 1,\n)", 3, "bogus"),
        ("(\n  name: \"t\",\n  seed: \"seven\",\n)", 3, ""),
        ("(\n  name: \"t\"\n  seed: 1,\n)", 3, ""),
        ("(\n  cluster: (engine: mysql),\n)", 2, "mysql"),
    ];
    for (text, line, needle) in cases {
        match load(text) {
            Err(ScenarioError::Parse {
                line: l,
                message,
                origin,
                ..
            }) => {
                assert_eq!(origin, "t.ron");
                assert_eq!(l, *line, "{text}: {message}");
                assert!(message.contains(needle), "{text}: {message}");
            }
            other => panic!("{text}: expected a parse error, got {other:?}"),
        }
    }
}

#[test]
fn type_errors_also_name_the_field_path() {
    let cases: &[(&str, &str)] = &[
        ("(name: \"t\", seed: \"x\")", "seed: expected an integer"),
        ("(cluster: (shards: \"x\"))", "cluster.shards: "),
        (
            "(variants: [(name: \"a\", patch: (clients: (hosts: \"x\")))])",
            "variants[0].patch.clients.hosts: ",
        ),
        (
            "(instances: {\"a.b\": (vcpu: \"x\")})",
            "instances[\"a.b\"].vcpu: ",
        ),
        (
            "(cluster: (bogus: 1))",
            "cluster.bogus: Unexpected field named `bogus` in `cluster`",
        ),
    ];
    for (text, needle) in cases {
        let e = load(text).unwrap_err().to_string();
        assert!(e.contains(needle), "{text}: {e}");
    }
}

#[test]
fn missing_required_fields_say_what_to_write() {
    let (p, m) = invalid(
        "(name: \"t\", description: \"d\", duration_s: 1, cluster: (instance: \"m5.large\"))",
    );
    assert_eq!(p, "seed");
    assert!(m.contains("seed: 42"));
    let (p, _) =
        invalid("(name: \"t\", description: \"d\", seed: 1, cluster: (instance: \"m5.large\"))");
    assert_eq!(p, "duration_s");
    let (p, _) = invalid("(name: \"t\", description: \"d\", seed: 1, duration_s: 1)");
    assert_eq!(p, "cluster.instance");
}

#[test]
fn error_display_names_the_origin() {
    let e = load("(\n  bogus: 1,\n)").unwrap_err().to_string();
    assert!(e.starts_with("t.ron:2:"), "{e}");
    let e = load(&MINIMAL.replace("seed: 7", "seed: 7, warmup_s: 99"))
        .unwrap_err()
        .to_string();
    // Invalid values are located where the file sets them...
    assert!(
        e.starts_with("t.ron:4:24: warmup_s: expected a warm-up shorter"),
        "{e}"
    );
    // ... inside a variant's patch too ...
    let text = with(r#"variants: [(name: "a", patch: (cluster: (mode: cluster, shards: 0)))],"#);
    let e = load(&text).unwrap_err().to_string();
    assert!(
        e.starts_with("t.ron:4:78: variants[0].patch.cluster.shards: "),
        "{e}"
    );
    // ... and a missing field, which the file does not set, has only its path.
    let e = load("(name: \"t\", description: \"d\", duration_s: 1)")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t.ron: seed: required"), "{e}");
    let e = load_file("/nonexistent/dir/x.ron").unwrap_err().to_string();
    assert!(
        e.contains("/nonexistent/dir/x.ron") && e.contains("No such file"),
        "{e}"
    );
}

#[test]
fn digest_ignores_layout_and_follows_values() {
    let a = load(MINIMAL).unwrap();
    let b = load(&format!("// comment\n{}", MINIMAL.replace('\n', "\n\n"))).unwrap();
    assert_eq!(a.digest(), b.digest());
    let c = load(&MINIMAL.replace("seed: 7", "seed: 8")).unwrap();
    assert_ne!(a.digest(), c.digest());
    assert_eq!(
        a.catalog_digest(),
        crate::catalog::Catalog::builtin().digest()
    );
}

#[test]
fn every_bundled_scenario_loads_round_trips_and_is_listed() {
    let mut files: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".ron"))
            .collect();
    files.sort();
    let bundled: Vec<&str> = bundled::BUNDLED.iter().map(|(f, _)| *f).collect();
    assert_eq!(files, bundled, "scenarios/ and bundled::BUNDLED disagree");
    for (file, loaded) in bundled::all() {
        let s = loaded.unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            format!("{}.ron", s.name()),
            file,
            "a scenario's name is its file name"
        );
        assert!(!s.summary().is_empty());
        // Round trip: the pretty form parses back to the same spec and digest.
        let again =
            load_str(&s.to_ron_pretty(), file).unwrap_or_else(|e| panic!("{file} round trip: {e}"));
        assert_eq!(again.spec, s.spec, "{file}");
        assert_eq!(again.digest(), s.digest(), "{file}");
        assert_eq!(again.variants(), s.variants(), "{file}");
    }
    assert!(bundled::find(bundled::DEFAULT_SCENARIO).is_some());
    assert!(bundled::default_scenario().is_ok());
}

#[test]
fn bundled_key_figures() {
    let m6g = bundled::find("m6g-25kb-get").unwrap().unwrap();
    let v = m6g.variants();
    assert_eq!(v.len(), 6);
    let c = &v[0].config;
    assert_eq!(c.cluster.instance.spec.baseline_bits_per_s, 750_000_000);
    assert_eq!(c.net_credits_at_start, CreditLevel::Empty);
    // One reply: RESP "$25000\r\n" + value + "\r\n" on the wire.
    assert_eq!(c.network.wire_bytes(25_010), 25_184);
    assert_eq!(
        v[5].config.clients.workload.open_loop.unwrap().rate_rps,
        8_000
    );

    let lab = bundled::find("lab-tbf-100mbit").unwrap().unwrap();
    let c = &lab.variants()[0].config;
    assert_eq!(c.network.mss_bytes(), 1_448);
    assert_eq!(c.network.wire_bytes(25_010), 26_198);
    assert_eq!(
        c.cluster.instance.spec.net_credit_capacity_bits,
        Some(8_388_608)
    );
    assert_eq!(c.clients.workload.requests_per_connection, Some(200));
    assert_eq!(c.clients.connections_total(), 20);
    assert_eq!(
        lab.variants()[1].config.net_credits_at_start,
        CreditLevel::Empty
    );

    let t4g = bundled::find("t4g-burst-depletion").unwrap().unwrap();
    let c = &t4g.variants()[0].config;
    assert_eq!(
        c.cluster.instance.spec.net_credit_capacity_bits,
        Some(26_160_000_000)
    );
    assert_eq!(c.cluster.instance.spec.baseline_bits_per_s, 128_000_000);
    assert_eq!(
        t4g.variants()[1].config.clients.workload.test_time_ns,
        Some(2_000_000_000)
    );

    let r7g = bundled::find("r7g-family").unwrap().unwrap();
    let names: Vec<String> = r7g
        .variants()
        .iter()
        .map(|v| v.config.cluster.instance.name.clone())
        .collect();
    assert_eq!(names.len(), 7);
    assert_eq!(names[6], "cache.r7g.16xlarge");

    let zipf = bundled::find("zipf-hot-shards").unwrap().unwrap();
    let v = zipf.variants();
    assert_eq!(v[1].config.cluster.shards, 10);
    assert_eq!(v[2].config.cluster.placement, Placement::RankModulo);
    assert!((v[0].config.clients.workload.key_zipf_exp - 0.821).abs() < 1e-12);
}

/// Invariant: loading never panics, whatever the input; bad input is always an `Err`.
/// Inputs are arbitrary bytes (read as lossy UTF-8), and bundled scenarios cut short or
/// with a byte replaced, which reach deeper into validation than random bytes do.
mod never_panics {
    use super::super::{bundled, load_str};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = load_str(&text, "fuzz.ron");
        }

        #[test]
        fn mutated_bundled_scenarios(which in 0usize..6, cut in any::<prop::sample::Index>(),
                                     at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let text = bundled::BUNDLED[which % bundled::BUNDLED.len()].1;
            let mut bytes = text.as_bytes().to_vec();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            let mutated = String::from_utf8_lossy(&bytes).into_owned();
            let _ = load_str(&mutated, "fuzz.ron");
            let truncated = &text[..text.floor_char_boundary_compat(cut.index(text.len()))];
            let _ = load_str(truncated, "fuzz.ron");
        }

        #[test]
        fn extreme_numbers_in_a_valid_scenario(n in any::<u64>(), field in 0usize..8) {
            let fields = ["shards", "duration_ms", "latency_us", "data_size", "rate_rps",
                          "memory_bytes", "key_maximum", "queue_depth"];
            let text = format!(
                "(name: \"f\", description: \"d\", seed: 1, duration_s: 10,
                  cluster: (instance: \"big\", mode: cluster),
                  instances: {{\"big\": (vcpu: 1, memory_bytes: {m}, baseline_bits_per_s: 1)}},
                  network: (latency_us: {l}),
                  clients: (workload: (key_maximum: {k}, data_size: {d},
                            open_loop: (rate_rps: {r}, queue_depth: {q}))))",
                m = if fields[field] == "memory_bytes" { n } else { 1 << 30 },
                l = if fields[field] == "latency_us" { n } else { 50 },
                k = if fields[field] == "key_maximum" { n } else { 100 },
                d = if fields[field] == "data_size" { n } else { 10 },
                r = if fields[field] == "rate_rps" { n } else { 10 },
                q = if fields[field] == "queue_depth" { n } else { 10 },
            );
            let _ = load_str(&text, "fuzz.ron");
        }
    }

    /// `str::floor_char_boundary` is not stable on the pinned toolchain.
    trait FloorCharBoundary {
        fn floor_char_boundary_compat(&self, i: usize) -> usize;
    }

    impl FloorCharBoundary for str {
        fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
            i = i.min(self.len());
            while !self.is_char_boundary(i) {
                i -= 1;
            }
            i
        }
    }
}

#[test]
fn a_prefill_larger_than_maxmemory_is_refused_naming_the_fields() {
    // 1M keys of 100 bytes (about 190 MiB with their entries) on one node whose
    // maxmemory is 10 MB: Redis would load it and refuse every write.
    let text = with(
        r#"cluster: (instance: "cache.r7g.large", node: (maxmemory_bytes: 10000000)),
           prefill: (keys: 1000000, value_bytes: 100),"#,
    )
    .replacen(r#"    cluster: (instance: "cache.r7g.large"),"#, "", 1);
    let (path, message) = invalid(&text);
    assert_eq!(path, "prefill.keys");
    assert!(
        message.contains("cluster.node.maxmemory_bytes"),
        "{message}"
    );
    assert!(message.contains("9.5 MiB"), "{message}");
    // The same keys over 40 shards fit (about 5.6 MiB a node).
    let spread = text.replacen("node: (", "shards: 40, mode: cluster, node: (", 1);
    assert!(load(&spread).is_ok(), "{:?}", load(&spread).err());
}

/// A scenario with `n` variants, each patching the shard count.
fn with_variants(n: usize) -> String {
    let list: String = (0..n)
        .map(|i| {
            format!(
                "(name: \"v{i}\", patch: (cluster: (shards: {}))),\n",
                1 + i % 7
            )
        })
        .collect();
    MINIMAL.replacen(
        "cluster: (instance: \"cache.r7g.large\"),",
        &format!("cluster: (mode: cluster, instance: \"cache.r7g.large\"),\nvariants: [\n{list}],"),
        1,
    )
}

/// Copies of variant specs made while loading a scenario of `n` variants.
fn variant_copies_to_load(n: usize) -> u64 {
    let text = with_variants(n);
    spec::VARIANT_SPEC_CLONES.with(|c| c.set(0));
    let s = load(&text).unwrap();
    assert_eq!(s.resolved_variants().len(), n);
    spec::VARIANT_SPEC_CLONES.with(|c| c.get())
}

/// Checking is linear in the number of variants: resolving a variant copies the base
/// without the variant list, so no variant's resolution copies the other variants, and
/// the copies made per variant are the same at 1,000 and at 2,000 variants (copying the
/// whole list per variant made 10,000 variants take a minute).
#[test]
fn resolution_copies_no_other_variant() {
    let small = variant_copies_to_load(1_000);
    let large = variant_copies_to_load(2_000);
    assert!(small <= 1_000, "{small} copies for 1,000 variants");
    assert!(large <= 2_000, "{large} copies for 2,000 variants");
    assert!(large <= 2 * small + 1, "{small} then {large}: not linear");
}

/// A duplicate name is found however far apart the two variants are.
#[test]
fn duplicate_variant_names_are_found_anywhere_in_a_long_list() {
    let text = with_variants(500).replacen("name: \"v499\"", "name: \"v3\"", 1);
    let (path, message) = invalid(&text);
    assert_eq!(path, "variants[499].name");
    assert!(
        message.contains("duplicate variant name \"v3\""),
        "{message}"
    );
}

/// Zones spread round robin, pairs take the cross-zone default unless listed, and a
/// scenario without zones resolves to none (one zone, network.latency_us everywhere).
#[test]
fn zones_spread_round_robin_with_their_pair_latencies() {
    let s = load(&with(
        r#"network: (latency_us: 40, zones: ["a", "b", "c"], cross_zone_latency_us: 600,
                     zone_pairs: [(zones: ("c", "a"), latency_us: 900, jitter_us: 30)]),
           clients: (hosts: 2, zones: ["c"]),"#,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let s = s.variants()[0].config.clone();
    let z = &s.zones;
    assert_eq!(z.names, ["a", "b", "c"]);
    assert_eq!(z.node_zones, [0]);
    assert_eq!(z.client_zones, [2, 2]);
    assert_eq!(z.link(0, 0, (40_000, 0)), (40_000, 0));
    assert_eq!(z.link(0, 1, (40_000, 0)), (600_000, 0));
    assert_eq!(z.link(2, 0, (40_000, 0)), (900_000, 30_000));
    assert!(load(MINIMAL).unwrap().variants()[0].config.zones.is_empty());
    assert_eq!(
        load(MINIMAL).unwrap().variants()[0]
            .config
            .tcp_reset_after_ns,
        924_600_000_000
    );
}

/// [`with`], leaving out the minimal scenario's cluster when `extra` has its own.
fn without_cluster(extra: &str) -> String {
    let text = with(extra);
    if extra.contains("cluster:") {
        text.replacen(r#"cluster: (instance: "cache.r7g.large"),"#, "", 1)
    } else {
        text
    }
}

/// Faults resolve to windows in ns over hosts by index; `zone:NAME` stands for the
/// zone's hosts.
#[test]
fn faults_resolve_to_windows_over_hosts() {
    use crate::scenario::resolve::{FaultKind, HostRef};
    let s = load(&without_cluster(
        r#"network: (zones: ["a", "b"], tcp_reset_after_ms: 2000),
           cluster: (mode: cluster, shards: 2, instance: "cache.r7g.large", zones: ["a", "b"]),
           clients: (hosts: 2, zones: ["b"]),
           faults: [
               (at_ms: 1500, for_s: 2, outage: (["zone:a"], ["zone:b"])),
               (at_s: 1, degrade: (between: (["client-0"], ["redis-1"]), loss: 0.25)),
               (at_s: 4, for_s: 1, crash: "redis-1"),
               (at_s: 2, for_s: 3, nic_rate: (host: "client-1", bits_per_s: 1_000_000)),
           ],"#,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let c = s.variants()[0].config.clone();
    assert_eq!(c.tcp_reset_after_ns, 2_000_000_000);
    let f = &c.faults;
    assert_eq!(
        (f[0].from_ns, f[0].until_ns),
        (1_500_000_000, Some(3_500_000_000))
    );
    assert_eq!(
        f[0].kind,
        FaultKind::Outage {
            a: vec![HostRef::Node(0)],
            b: vec![HostRef::Node(1), HostRef::Client(0), HostRef::Client(1)],
        }
    );
    assert_eq!(f[1].until_ns, None);
    assert!(matches!(
        f[1].kind,
        FaultKind::Degrade {
            loss_per_million: 250_000,
            ..
        }
    ));
    assert_eq!(f[2].kind, FaultKind::Crash { node: 1 });
    assert!(matches!(
        f[3].kind,
        FaultKind::NicRate {
            host: HostRef::Client(1),
            bits_per_s: 1_000_000
        }
    ));
}

/// Every kind of bad fault or zone input is refused with its field path and what was
/// expected.
#[test]
fn bad_faults_and_zones_name_the_field() {
    let cluster = r#"cluster: (mode: cluster, shards: 2, instance: "cache.r7g.large"),"#;
    let faults = |list: &str| format!("{cluster} faults: [{list}],");
    let cases: &[(String, &str, &str)] = &[
        (faults("(at_s: 1)"), "faults[0]", "exactly one of"),
        (
            faults(r#"(for_s: 1, crash: "redis-0")"#),
            "faults[0].at_s",
            "required",
        ),
        (
            faults(r#"(at_s: 1, at_ms: 5, crash: "redis-0")"#),
            "faults[0].at_ms",
            "set one",
        ),
        (
            faults(r#"(at_s: 1, for_s: 0, crash: "redis-0")"#),
            "faults[0].for_s",
            "positive length",
        ),
        (
            faults(r#"(at_s: 10, crash: "redis-0")"#),
            "faults[0].at_s",
            "before the end of the run",
        ),
        (
            faults(r#"(at_s: 9, for_s: 2, crash: "redis-0")"#),
            "faults[0].for_s",
            "after the run",
        ),
        (
            faults(r#"(at_s: 1, crash: "client-0")"#),
            "faults[0].crash",
            "expected a node's name",
        ),
        (
            faults(r#"(at_s: 1, crash: "redis-2")"#),
            "faults[0].crash",
            "unknown host \"redis-2\"",
        ),
        (
            faults(r#"(at_s: 1, outage: (["redis-0"], ["redis-0", "client-0"]))"#),
            "faults[0].outage",
            "on both sides",
        ),
        (
            faults(r#"(at_s: 1, outage: ([], ["client-0"]))"#),
            "faults[0].outage",
            "at least one host",
        ),
        (
            faults(r#"(at_s: 1, degrade: (between: (["redis-0"], ["client-0"]), loss: 1.5))"#),
            "faults[0].degrade.loss",
            "probability in [0, 1]",
        ),
        (
            faults(r#"(at_s: 1, degrade: (between: (["redis-0"], ["client-0"])))"#),
            "faults[0].degrade",
            "changes nothing",
        ),
        (
            faults(r#"(at_s: 1, nic_rate: (host: "redis-0", bits_per_s: 0))"#),
            "faults[0].nic_rate.bits_per_s",
            "expected a rate in 1..=",
        ),
        (
            faults(r#"(at_s: 1, nic_rate: (host: "redis-0", bits_per_s: 999_000_000_000))"#),
            "faults[0].nic_rate.bits_per_s",
            "peak rate",
        ),
        (
            faults(
                r#"(at_s: 1, for_s: 4, outage: (["redis-0", "redis-1"], ["client-0"])),
                   (at_s: 3, degrade: (between: (["client-0"], ["redis-1"]), loss: 0.5))"#,
            ),
            "faults[1].at_s",
            "overlaps faults[0] on the same target (the link between client-0 and redis-1)",
        ),
        (
            faults(
                r#"(at_s: 1, for_s: 2, nic_rate: (host: "redis-0", bits_per_s: 1000)),
                   (at_s: 2, nic_rate: (host: "redis-0", bits_per_s: 2000))"#,
            ),
            "faults[1].at_s",
            "overlaps faults[0] on the same target (the NIC of redis-0)",
        ),
        (
            faults(r#"(at_s: 1, outage: (["zone:a"], ["client-0"]))"#),
            "faults[0].outage",
            "no zones are declared",
        ),
        (
            "network: (zones: [\"a\", \"a\"]),".to_string(),
            "network.zones[1]",
            "duplicate zone",
        ),
        (
            "network: (zones: []),".to_string(),
            "network.zones",
            "at least one zone",
        ),
        (
            "network: (cross_zone_latency_us: 5),".to_string(),
            "network.cross_zone_latency_us",
            "at least two zones",
        ),
        (
            "network: (zones: [\"a\", \"b\"], cross_zone_latency_us: 5, cross_zone_jitter_us: 6),"
                .to_string(),
            "network.cross_zone_jitter_us",
            "jitter_us <= latency_us",
        ),
        (
            r#"network: (zones: ["a", "b"], zone_pairs: [(zones: ("a", "a"), latency_us: 5)]),"#
                .to_string(),
            "network.zone_pairs[0].zones",
            "two different zones",
        ),
        (
            r#"network: (zones: ["a", "b"], zone_pairs: [(zones: ("a", "q"), latency_us: 5)]),"#
                .to_string(),
            "network.zone_pairs[0].zones",
            "unknown zone \"q\"",
        ),
        (
            r#"clients: (zones: ["a"]),"#.to_string(),
            "clients.zones",
            "no zones are declared",
        ),
        (
            r#"network: (zones: ["a"]), clients: (zones: ["b"]),"#.to_string(),
            "clients.zones[0]",
            "unknown zone \"b\"",
        ),
        (
            "network: (tcp_reset_after_ms: 0),".to_string(),
            "network.tcp_reset_after_ms",
            "positive time",
        ),
    ];
    for (extra, path, fragment) in cases {
        let (p, m) = invalid(&without_cluster(extra));
        assert_eq!(&p, path, "{extra}: {m}");
        assert!(m.contains(fragment), "{extra}: {m}");
    }
}

/// Every kind of bad resharding step is refused with its field path and what was
/// expected; a valid timeline resolves sorted by time, with the shards it adds.
#[test]
fn bad_resharding_names_the_field() {
    let cluster = r#"cluster: (mode: cluster, shards: 2, instance: "cache.r7g.large"),"#;
    let steps = |list: &str| format!("{cluster} resharding: [{list}],");
    let cases: &[(String, &str, &str)] = &[
        (steps("(at_s: 1)"), "resharding[0]", "exactly one of"),
        (steps("(add_shards: 1)"), "resharding[0].at_s", "required"),
        (
            steps("(at_s: 1, at_ms: 5, add_shards: 1)"),
            "resharding[0].at_ms",
            "set one",
        ),
        (
            steps("(at_s: 10, add_shards: 1)"),
            "resharding[0].at_s",
            "before the end",
        ),
        (
            steps("(at_s: 1, add_shards: 0)"),
            "resharding[0].add_shards",
            "expected 1 to",
        ),
        (
            steps("(at_s: 1, add_shards: 999)"),
            "resharding[0].add_shards",
            "at most 1,000",
        ),
        (
            steps(r#"(at_s: 1, reshard: (to: "redis-2", slots: 10))"#),
            "resharding[0].reshard.to",
            "unknown primary \"redis-2\"",
        ),
        (
            // Due before the shard that would receive them is added.
            steps(r#"(at_s: 2, add_shards: 1), (at_s: 1, reshard: (to: "redis-2", slots: 10))"#),
            "resharding[1].reshard.to",
            "shards added earlier included",
        ),
        (
            steps(r#"(at_s: 1, reshard: (to: "redis-0-r1", slots: 10))"#),
            "resharding[0].reshard.to",
            "unknown primary",
        ),
        (
            steps(r#"(at_s: 1, reshard: (to: "redis-1", slots: 10, from: ["redis-1"]))"#),
            "resharding[0].reshard.from[0]",
            "the target",
        ),
        (
            steps(
                r#"(at_s: 1, reshard: (to: "redis-1", slots: 10, from: ["redis-0", "redis-0"]))"#,
            ),
            "resharding[0].reshard.from[1]",
            "listed twice",
        ),
        (
            steps(r#"(at_s: 1, reshard: (to: "redis-1", slots: 10, from: []))"#),
            "resharding[0].reshard.from",
            "at least one primary",
        ),
        (
            steps(r#"(at_s: 1, reshard: (to: "redis-1", slots: 0))"#),
            "resharding[0].reshard.slots",
            "expected 1 to 8192 slots",
        ),
        (
            steps(r#"(at_s: 1, reshard: (to: "redis-1", slots: 8193))"#),
            "resharding[0].reshard.slots",
            "what the sources own by then",
        ),
        (
            steps(r#"(at_s: 1, reshard: (to: "redis-1", slots: 5, pipeline: 0))"#),
            "resharding[0].reshard.pipeline",
            "keys per MIGRATE",
        ),
        (
            r#"resharding: [(at_s: 1, add_shards: 1)],"#.to_string(),
            "resharding",
            "mode: cluster",
        ),
        (
            r#"cluster: (mode: cluster, shards: 2, replicas_per_shard: 1,
                         instance: "cache.r7g.large"),
               faults: [(at_s: 1, crash: "redis-0")], resharding: [(at_s: 2, add_shards: 1)],"#
                .to_string(),
            "faults[0].crash",
            "not modelled together",
        ),
    ];
    for (extra, path, fragment) in cases {
        let (p, m) = invalid(&without_cluster(extra));
        assert_eq!(&p, path, "{extra}: {m}");
        assert!(m.contains(fragment), "{extra}: {m}");
    }
}

/// Faults are part of the scenario, so of its digest.
#[test]
fn faults_change_the_digest() {
    let a = load(&with(r#"faults: [(at_s: 1, crash: "redis-0")],"#)).unwrap();
    let b = load(&with(r#"faults: [(at_s: 2, crash: "redis-0")],"#)).unwrap();
    assert_ne!(a.digest(), b.digest());
    assert_ne!(a.digest(), load(MINIMAL).unwrap().digest());
}

/// A shared host as the tests below vary it: `host` replaces the host's own fields,
/// `nb` the neighbour's.
fn shared_host(host: &str, nb: &str) -> String {
    format!(
        r#"hosts: [(name: "h0", nic_bits_per_s: 25000000000, cores: 8, {host}
                    neighbours: [(name: "n0", vcpus: 2, baseline_bits_per_s: 1000000000, {nb})])],"#
    )
}

/// Every malformed shared host or objective is refused with the field's path and what
/// is expected; none panics.
#[test]
fn bad_hosts_and_objectives_name_the_field() {
    let ok_host = r#"instances: ["redis-0"],"#;
    let ok_nb = r#"activity: always, net_bits_per_s: 1000000000"#;
    let cases: &[(String, &str, &str)] = &[
        (
            shared_host(r#"instances: [],"#, ok_nb),
            "hosts[0].instances",
            "changes nothing",
        ),
        (
            shared_host(r#"instances: ["redis-0", "redis-0"],"#, ok_nb),
            "hosts[0].instances",
            "not modelled yet",
        ),
        (
            shared_host(r#"instances: ["redis-9"],"#, ok_nb),
            "hosts[0].instances[0]",
            "unknown instance",
        ),
        (
            shared_host(r#"instances: ["client-0"],"#, ok_nb),
            "hosts[0].instances[0]",
            "client hosts",
        ),
        (
            shared_host(&format!("{ok_host} overcommit: 0.5,"), ok_nb),
            "hosts[0].overcommit",
            "from 1 to 16",
        ),
        (
            shared_host(ok_host, r#"activity: always"#),
            "hosts[0].neighbours[0]",
            "a demand while on",
        ),
        (
            shared_host(ok_host, r#"activity: always, net_bits_per_s: 5000000000"#),
            "hosts[0].neighbours[0].net_bits_per_s",
            "at most its burst rate",
        ),
        (
            shared_host(ok_host, r#"activity: always, cpu_vcpus: 3.0"#),
            "hosts[0].neighbours[0].cpu_vcpus",
            "expected 0 to its 2 vCPUs",
        ),
        (
            shared_host(
                ok_host,
                r#"activity: exponential(on_mean_ms: 0, off_mean_ms: 10), cpu_vcpus: 1.0"#,
            ),
            "hosts[0].neighbours[0].activity.on_mean_ms",
            "1 ms to one day",
        ),
        (
            shared_host(
                ok_host,
                r#"activity: pareto(on_mean_ms: 5, off_mean_ms: 10, shape: 1.0), cpu_vcpus: 1.0"#,
            ),
            "hosts[0].neighbours[0].activity.shape",
            "above 1",
        ),
        (
            shared_host(
                ok_host,
                r#"activity: schedule([(1000, 500), (1200, 10)]), cpu_vcpus: 1.0"#,
            ),
            "hosts[0].neighbours[0].activity[1]",
            "time order",
        ),
        (
            shared_host(
                ok_host,
                r#"activity: schedule([(9000, 5000)]), cpu_vcpus: 1.0"#,
            ),
            "hosts[0].neighbours[0].activity[0]",
            "inside the run",
        ),
        (
            shared_host(
                ok_host,
                r#"credit_capacity_bits: 100, activity: always, cpu_vcpus: 1.0"#,
            ),
            "hosts[0].neighbours[0].credit_capacity_bits",
            "cannot burst",
        ),
        (
            // 2 vCPUs for the node and 2 for the neighbour on 1 core.
            r#"hosts: [(name: "h0", nic_bits_per_s: 25000000000, cores: 1, instances: ["redis-0"],
                        neighbours: [(name: "n0", vcpus: 2, baseline_bits_per_s: 1000000000,
                                      activity: always, cpu_vcpus: 1.0)])],"#
                .to_string(),
            "hosts[0]",
            "more than 1 cores x overcommit",
        ),
        (
            // Slower than the node's own 12.5 Gbps burst.
            r#"hosts: [(name: "h0", nic_bits_per_s: 10000000000, cores: 8, instances: ["redis-0"],
                        neighbours: [(name: "n0", vcpus: 2, baseline_bits_per_s: 1000000000,
                                      activity: always, cpu_vcpus: 1.0)])],"#
                .to_string(),
            "hosts[0].nic_bits_per_s",
            "every tenant's burst rate",
        ),
        (r#"slo: (),"#.to_string(), "slo", "p99_ms, p999_ms or both"),
        (
            r#"slo: (p99_ms: -1.0),"#.to_string(),
            "slo.p99_ms",
            "above 0",
        ),
    ];
    for (extra, path, fragment) in cases {
        let (p, m) = invalid(&with(extra));
        assert_eq!(&p, path, "{extra}: {m}");
        assert!(m.contains(fragment), "{extra}: {m}");
    }
    // A typo in a neighbour is a parse error with its line and column.
    let typo = with(&shared_host(
        ok_host,
        r#"activity: always, net_bits_per_sec: 1"#,
    ));
    match load(&typo) {
        Err(e @ ScenarioError::Parse { .. }) => {
            let m = e.to_string();
            assert!(m.contains("net_bits_per_sec"), "{m}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// Shared hosts and the objective are part of the scenario, so of its digest; a
/// scenario without them resolves to a configuration that serializes as before.
#[test]
fn shared_hosts_change_the_digest_and_are_absent_otherwise() {
    let host = shared_host(
        r#"instances: ["redis-0"],"#,
        r#"activity: always, cpu_vcpus: 1.0"#,
    );
    let a = load(&with(&host)).unwrap();
    assert_ne!(a.digest(), load(MINIMAL).unwrap().digest());
    let b = load(&with(r#"slo: (p99_ms: 1.0),"#)).unwrap();
    assert_ne!(b.digest(), load(MINIMAL).unwrap().digest());
    let plain = serde_json::to_string(&load(MINIMAL).unwrap().variants()[0].config).unwrap();
    assert!(
        !plain.contains("\"hosts\":[") && !plain.contains("\"slo\""),
        "{plain}"
    );
    let c = &a.variants()[0].config;
    assert_eq!(c.hosts.len(), 1);
    assert_eq!(c.hosts[0].neighbours[0].cpu_milli_vcpus, 1_000);
}

/// Rates beyond 10 Tbit/s on a shared host are refused, so a host's sums never overflow.
#[test]
fn shared_host_rates_are_bounded() {
    let host = r#"hosts: [(name: "h0", nic_bits_per_s: 18446744073709551615, cores: 8, instances: ["redis-0"],
                    neighbours: [(name: "n0", vcpus: 2, baseline_bits_per_s: 1000000000, activity: always, cpu_vcpus: 1.0)])],"#;
    let (p, m) = invalid(&with(host));
    assert_eq!(p, "hosts[0].nic_bits_per_s", "{m}");
    assert!(m.contains("10 Tbit/s"), "{m}");
    let host = r#"hosts: [(name: "h0", nic_bits_per_s: 25000000000, cores: 8, instances: ["redis-0"],
                    neighbours: [(name: "n0", vcpus: 2, baseline_bits_per_s: 18446744073709551615, activity: always, cpu_vcpus: 1.0)])],"#;
    let (p, m) = invalid(&with(host));
    assert_eq!(p, "hosts[0].neighbours[0].baseline_bits_per_s", "{m}");
}

/// The thread-per-core engine takes `node.threads` (default: one per vCPU); its own
/// settings are refused elsewhere, and what it does not model yet is refused, each
/// with the field that says it.
#[test]
fn the_thread_per_core_engine_takes_threads_and_refuses_what_it_does_not_model() {
    let df = |cluster: &str| {
        MINIMAL.replacen(
            r#"cluster: (instance: "cache.r7g.large"),"#,
            &format!("cluster: (engine: dragonfly, instance: \"c7gn.16xlarge\", {cluster}),"),
            1,
        )
    };
    let s = load(&df("node: (threads: 8)")).unwrap();
    let c = &s.variants()[0].config.cluster;
    assert_eq!(c.engine, Engine::Dragonfly);
    assert_eq!(c.node.threads, Some(8));
    assert_eq!(c.node.thread_count(), 8);
    // Default: every vCPU of the c7gn.16xlarge.
    let s = load(&df("")).unwrap();
    assert_eq!(s.variants()[0].config.cluster.node.threads, Some(64));
    let cases = [
        (
            df("node: (io_threads: 4)"),
            "cluster.node.io_threads",
            "no I/O threads",
        ),
        (
            df("node: (threads: 0)"),
            "cluster.node.threads",
            "at least 1",
        ),
        (
            df("node: (threads: 257)"),
            "cluster.node.threads",
            "at most 256",
        ),
        (
            df("replicas_per_shard: 1"),
            "cluster.replicas_per_shard",
            "not modelled yet",
        ),
        (
            df("mode: cluster, shards: 3, bus: ()"),
            "cluster.bus",
            "no gossip bus",
        ),
        (
            with("").replacen(
                r#"cluster: (instance: "cache.r7g.large"),"#,
                r#"cluster: (instance: "cache.r7g.large", node: (threads: 4)),"#,
                1,
            ),
            "cluster.node.threads",
            "only the thread-per-core engine",
        ),
        (
            with("").replacen(
                r#"cluster: (instance: "cache.r7g.large"),"#,
                r#"cluster: (instance: "cache.r7g.large", cpu_cost: (per_hop_ns: 100)),"#,
                1,
            ),
            "cluster.cpu_cost.per_hop_ns",
            "only the thread-per-core engine",
        ),
    ];
    for (text, path, words) in cases {
        let (p, m) = invalid(&text);
        assert_eq!(p, path, "{m}");
        assert!(m.contains(words), "{path}: {m}");
    }
}

/// `io_threads_do_reads` is Redis 7.0's, and needs I/O threads.
#[test]
fn io_threads_do_reads_is_redis_only_and_needs_io_threads() {
    let node = |engine: &str, node: &str| {
        MINIMAL.replacen(
            r#"cluster: (instance: "cache.r7g.large"),"#,
            &format!("cluster: (engine: {engine}, instance: \"cache.r7g.large\", node: ({node})),"),
            1,
        )
    };
    let s = load(&node("redis", "io_threads: 4, io_threads_do_reads: true")).unwrap();
    assert!(s.variants()[0].config.cluster.node.io_threads_do_reads);
    for (text, words) in [
        (
            node("valkey", "io_threads: 4, io_threads_do_reads: true"),
            "a Redis 7.0 setting",
        ),
        (
            node("redis", "io_threads_do_reads: true"),
            "no effect without I/O threads",
        ),
    ] {
        let (p, m) = invalid(&text);
        assert_eq!(p, "cluster.node.io_threads_do_reads");
        assert!(m.contains(words), "{m}");
    }
}
