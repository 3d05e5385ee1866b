//! `kvsim import memtier` and `kvsim import redis-benchmark` as a user runs them: the real
//! binary, its printed scenario written to a file, and `kvsim check --resolved` on that
//! file. Each case asserts that the resolved workload carries the value the tool's own
//! source gives the argv (memtier_benchmark.cpp's option parsing and
//! `config_init_defaults`; redis-benchmark.c 7.0.15's `parseOptions` and `main`),
//! defaults included; that every flag without a model is named in a warning; and that
//! bad input exits 2 with the flag named and nothing on stdout.

use models::scenario::{ClusterMode, RunConfig};
use models::workload::{DataSize, KeyDist, KeyPattern, RateLimit, Ratio, WorkloadConfig};
use std::path::PathBuf;
use std::process::Output;

#[path = "support/cli.rs"]
mod cli;
use cli::{kvsim, text};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `kvsim import TOOL -- ARGV`.
fn import(tool: &str, argv: &[&str]) -> Output {
    let mut args = vec!["import", tool, "--"];
    args.extend_from_slice(argv);
    kvsim(&args)
}

/// A fresh scratch file (cases run in parallel threads of this binary).
fn scratch() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_import");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(format!(
        "import-{}.ron",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// What an accepted import gives: the scenario text, the warnings, and every variant's
/// resolved configuration as `kvsim check --resolved` prints it.
struct Imported {
    scenario: String,
    stderr: String,
    variants: Vec<(String, RunConfig)>,
}

impl Imported {
    /// The one variant's configuration.
    fn config(&self) -> &RunConfig {
        assert_eq!(self.variants.len(), 1, "{}", self.scenario);
        &self.variants[0].1
    }

    fn workload(&self) -> &WorkloadConfig {
        &self.config().clients.workload
    }

    /// Asserts a warning naming `flag` (as `warning: FLAG...`).
    fn warns(&self, flag: &str) -> &Self {
        let prefix = format!("warning: {flag}");
        assert!(
            self.stderr.lines().any(|l| l.starts_with(&prefix)),
            "no warning for {flag} in: {}",
            self.stderr
        );
        self
    }
}

/// Imports, asserts success, checks the printed scenario and reads back its resolution.
fn imported(tool: &str, argv: &[&str]) -> Imported {
    let out = import(tool, argv);
    let scenario = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{tool} {argv:?}: {stderr}");
    assert!(
        scenario.contains(&format!("//     {}", tool_program(tool))),
        "the argv comment: {scenario}"
    );
    let path = scratch();
    std::fs::write(&path, &scenario).expect("write the scenario");
    let check = kvsim(&["check", "--resolved", path.to_str().unwrap()]);
    let checked = text(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{tool} {argv:?}: kvsim check: {}\n{scenario}",
        text(&check.stderr)
    );
    let variants = checked
        .split("// variant ")
        .skip(1)
        .map(|part| {
            let (name, ron) = part.split_once('\n').expect("a variant's name line");
            let config: RunConfig = ron::from_str(ron).unwrap_or_else(|e| {
                panic!("{tool} {argv:?}: the resolved RON of {name} reads back: {e}")
            });
            (name.to_string(), config)
        })
        .collect();
    Imported {
        scenario,
        stderr,
        variants,
    }
}

fn tool_program(tool: &str) -> &str {
    match tool {
        "memtier" => "memtier_benchmark",
        other => other,
    }
}

fn memtier(argv: &[&str]) -> Imported {
    imported("memtier", argv)
}

fn redis_benchmark(argv: &[&str]) -> Imported {
    imported("redis-benchmark", argv)
}

/// Asserts exit status 2, an empty stdout, and a message holding every fragment.
fn rejects(tool: &str, argv: &[&str], fragments: &[&str]) {
    let out = import(tool, argv);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{tool} {argv:?}: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{tool} {argv:?}: {}",
        text(&out.stdout)
    );
    assert!(stderr.starts_with("error: "), "{tool} {argv:?}: {stderr}");
    for f in fragments {
        assert!(
            stderr.contains(f),
            "{tool} {argv:?}: missing {f:?} in: {stderr}"
        );
    }
}

fn pattern(set: KeyDist, get: KeyDist) -> KeyPattern {
    KeyPattern { set, get }
}

// memtier_benchmark

#[test]
fn memtier_defaults_are_memtiers() {
    // config_init_defaults: 50 clients x 4 threads, 1:10, pipeline 1, 32-byte values,
    // keys memtier-0..10,000,000 R:R, 10,000 requests per connection.
    let i = memtier(&[]);
    assert!(i.stderr.is_empty(), "{}", i.stderr);
    let w = i.workload();
    assert_eq!(w.ratio, Ratio { set: 1, get: 10 });
    assert_eq!(w.key_pattern, pattern(KeyDist::Random, KeyDist::Random));
    assert_eq!((w.key_minimum, w.key_maximum), (0, 10_000_000));
    assert_eq!(w.key_prefix, "memtier-");
    assert_eq!(w.data_size, DataSize::Fixed(32));
    assert!(!w.random_data);
    assert_eq!(w.expiry_range_s, None);
    assert_eq!((w.pipeline, w.clients, w.threads), (1, 50, 4));
    assert_eq!(w.rate_limit, None);
    assert_eq!(w.requests_per_connection, Some(10_000));
    assert_eq!(w.test_time_ns, None);
    assert_eq!(w.open_loop, None);
    let c = i.config();
    assert_eq!(c.cluster.mode, ClusterMode::Standalone);
    assert_eq!(c.clients.hosts, 1);
    assert_eq!(c.warmup_ns, 0);
    // The run is long enough for the requests: at least 10 s.
    assert!(c.duration_ns >= 10_000_000_000);
    // The scenario names its source and says where each value came from.
    assert!(i.scenario.contains("name: \"memtier-import\""));
    assert!(i
        .scenario
        .contains("description: \"Imported from: memtier_benchmark\""));
    assert!(i.scenario.contains("ratio: \"1:10\", // memtier's default"));
}

#[test]
fn memtier_connection_layout_flags() {
    assert_eq!(memtier(&["--clients=7"]).workload().clients, 7);
    assert_eq!(memtier(&["-c", "7"]).workload().clients, 7);
    assert_eq!(memtier(&["-c7"]).workload().clients, 7);
    assert_eq!(memtier(&["--threads", "3"]).workload().threads, 3);
    assert_eq!(memtier(&["-t", "3"]).workload().threads, 3);
    assert_eq!(memtier(&["--pipeline=16"]).workload().pipeline, 16);
    // getopt_long: an unambiguous prefix of a long option, and the last repeat wins.
    assert_eq!(memtier(&["--pipe=4"]).workload().pipeline, 4);
    assert_eq!(memtier(&["-c", "5", "--clients=9"]).workload().clients, 9);
    let w = memtier(&["--ratio=1:1"]);
    assert_eq!(w.workload().ratio, Ratio { set: 1, get: 1 });
    assert!(w.scenario.contains("ratio: \"1:1\", // --ratio"));
    assert_eq!(
        memtier(&["--ratio", "0:1"]).workload().ratio,
        Ratio { set: 0, get: 1 }
    );
}

#[test]
fn memtier_request_count_and_test_time() {
    let w = memtier(&["--requests=500"]);
    assert_eq!(w.workload().requests_per_connection, Some(500));
    assert_eq!(w.workload().test_time_ns, None);
    assert_eq!(
        memtier(&["-n", "500"]).workload().requests_per_connection,
        Some(500)
    );
    // --requests=allkeys: key_maximum - key_minimum (config_init_defaults) ...
    let w = memtier(&[
        "--requests=allkeys",
        "--key-minimum=10",
        "--key-maximum=1000",
    ]);
    assert_eq!(w.workload().requests_per_connection, Some(990));
    // ... divided over the connections, plus one, with P:P.
    let w = memtier(&[
        "-n",
        "allkeys",
        "--key-maximum=1000",
        "--key-pattern=P:P",
        "-c",
        "2",
        "-t",
        "2",
    ]);
    assert_eq!(w.workload().requests_per_connection, Some(1000 / 4 + 1));
    // An empty range: the default count, as memtier applies it afterwards.
    let w = memtier(&["-n", "allkeys", "--key-minimum=7", "--key-maximum=7"]);
    assert_eq!(w.workload().requests_per_connection, Some(10_000));

    let w = memtier(&["--test-time=30"]);
    assert_eq!(w.workload().test_time_ns, Some(30_000_000_000));
    assert_eq!(w.workload().requests_per_connection, None);
    // The run lasts as long as the clients send.
    assert_eq!(w.config().duration_ns, 30_000_000_000);
}

#[test]
fn memtier_rate_limiting() {
    let w = memtier(&["--rate-limiting=100"]);
    assert_eq!(w.workload().rate_limit, Some(RateLimit::from_rate(100)));
    // 10,000 requests at 100 a second take 100 s: the run gives them twice that.
    assert_eq!(w.config().duration_ns, 200_000_000_000);
    let w = memtier(&["--rate-limiting=50", "--test-time=4"]);
    assert_eq!(w.workload().rate_limit, Some(RateLimit::from_rate(50)));
    assert_eq!(w.config().duration_ns, 4_000_000_000);
}

#[test]
fn memtier_key_flags() {
    let w = memtier(&["--key-prefix=user:"]);
    assert_eq!(w.workload().key_prefix, "user:");
    // Any character survives the trip through RON.
    let odd = "a\"b\\c\nd é";
    let w = memtier(&[&format!("--key-prefix={odd}")]);
    assert_eq!(w.workload().key_prefix, odd);
    assert_eq!(memtier(&["--key-minimum=5"]).workload().key_minimum, 5);
    assert_eq!(
        memtier(&["--key-maximum=1000"]).workload().key_maximum,
        1000
    );
    let w = memtier(&["--key-pattern=S:R"]);
    assert_eq!(
        w.workload().key_pattern,
        pattern(KeyDist::Sequential, KeyDist::Random)
    );
    // Z with no exponent: 1.0 (memtier: "user can't specify 0.0, so 0.0 means unset").
    let w = memtier(&["--key-pattern=S:Z"]);
    assert_eq!(
        w.workload().key_pattern,
        pattern(KeyDist::Sequential, KeyDist::Zipf)
    );
    assert_eq!(w.workload().key_zipf_exp, 1.0);
    let w = memtier(&["--key-pattern=Z:Z", "--key-zipf-exp=0.821"]);
    assert_eq!(w.workload().key_zipf_exp, 0.821);
    let w = memtier(&[
        "--key-pattern=G:G",
        "--key-stddev=250.5",
        "--key-median=5000",
    ]);
    assert_eq!(
        w.workload().key_pattern,
        pattern(KeyDist::Gaussian, KeyDist::Gaussian)
    );
    assert_eq!(w.workload().key_stddev, 250.5);
    assert_eq!(w.workload().key_median, 5000.0);
    let w = memtier(&["--key-pattern=P:P"]);
    assert_eq!(
        w.workload().key_pattern,
        pattern(KeyDist::Parallel, KeyDist::Parallel)
    );
    // memtier ignores a Zipf exponent without a Z pattern: kept out, and said.
    let w = memtier(&["--key-zipf-exp=2"]);
    w.warns("--key-zipf-exp");
    assert_eq!(w.workload().key_zipf_exp, 1.0);
    assert!(!w.scenario.contains("key_zipf_exp"));
}

#[test]
fn memtier_value_flags() {
    assert_eq!(
        memtier(&["--data-size=100"]).workload().data_size,
        DataSize::Fixed(100)
    );
    assert_eq!(
        memtier(&["-d", "100"]).workload().data_size,
        DataSize::Fixed(100)
    );
    let range = |min, max, spread_over_keys| DataSize::Range {
        min,
        max,
        spread_over_keys,
    };
    assert_eq!(
        memtier(&["--data-size-range=10-100"]).workload().data_size,
        range(10, 100, false)
    );
    // config_range swaps a reversed range.
    assert_eq!(
        memtier(&["--data-size-range=100-10"]).workload().data_size,
        range(10, 100, false)
    );
    assert_eq!(
        memtier(&["--data-size-range=10-100", "--data-size-pattern=S"])
            .workload()
            .data_size,
        range(10, 100, true)
    );
    // Without a range memtier ignores the pattern.
    let w = memtier(&["--data-size-pattern=S"]);
    w.warns("--data-size-pattern");
    assert_eq!(w.workload().data_size, DataSize::Fixed(32));
    assert_eq!(
        memtier(&["--data-size-list=32:10,1024:1"])
            .workload()
            .data_size,
        DataSize::Weighted(vec![(32, 10), (1024, 1)])
    );
    assert!(memtier(&["--random-data"]).workload().random_data);
    assert!(memtier(&["-R"]).workload().random_data);
    assert_eq!(
        memtier(&["--expiry-range=10-100"])
            .workload()
            .expiry_range_s,
        Some((10, 100))
    );
    assert_eq!(
        memtier(&["--expiry-range=100-0"]).workload().expiry_range_s,
        Some((0, 100))
    );
}

#[test]
fn memtier_cluster_mode() {
    let w = memtier(&["--cluster-mode"]);
    w.warns("--cluster-mode");
    let c = w.config();
    assert_eq!(c.cluster.mode, ClusterMode::Cluster);
    assert_eq!(c.cluster.shards, 3);
}

#[test]
fn memtier_combinations() {
    // A typical sizing run.
    let w = memtier(&[
        "-s",
        "10.0.0.1",
        "-p",
        "6379",
        "-c",
        "20",
        "-t",
        "4",
        "--ratio=1:4",
        "-d",
        "256",
        "--pipeline=8",
        "--key-maximum=99999",
        "--key-pattern=G:G",
        "--test-time=5",
        "--distinct-client-seed",
        "--hide-histogram",
    ]);
    let wl = w.workload();
    assert_eq!((wl.clients, wl.threads, wl.pipeline), (20, 4, 8));
    assert_eq!(wl.ratio, Ratio { set: 1, get: 4 });
    assert_eq!(wl.data_size, DataSize::Fixed(256));
    assert_eq!((wl.key_minimum, wl.key_maximum), (0, 99_999));
    assert_eq!(
        wl.key_pattern,
        pattern(KeyDist::Gaussian, KeyDist::Gaussian)
    );
    assert_eq!(wl.test_time_ns, Some(5_000_000_000));
    w.warns("--server")
        .warns("--port")
        .warns("--distinct-client-seed")
        .warns("--hide-histogram");
    // Warnings come in argv order.
    let order: Vec<&str> = w.stderr.lines().collect();
    assert!(order[0].starts_with("warning: --server"), "{}", w.stderr);
    assert!(
        order[3].starts_with("warning: --hide-histogram"),
        "{}",
        w.stderr
    );

    // Hot keys with expiry, rate-limited, values spread over the keys.
    let w = memtier(&[
        "--key-pattern=Z:Z",
        "--key-zipf-exp=1.2",
        "--key-minimum=1",
        "--key-maximum=50000",
        "--expiry-range=60-600",
        "--rate-limiting=500",
        "--data-size-range=64-4096",
        "--data-size-pattern=S",
        "--random-data",
        "--requests=2000",
        "--key-prefix=hot:",
    ]);
    let wl = w.workload();
    assert_eq!(wl.key_zipf_exp, 1.2);
    assert_eq!((wl.key_minimum, wl.key_maximum), (1, 50_000));
    assert_eq!(wl.expiry_range_s, Some((60, 600)));
    assert_eq!(wl.rate_limit, Some(RateLimit::from_rate(500)));
    assert_eq!(
        wl.data_size,
        DataSize::Range {
            min: 64,
            max: 4096,
            spread_over_keys: true
        }
    );
    assert!(wl.random_data);
    assert_eq!(wl.requests_per_connection, Some(2000));
    assert_eq!(wl.key_prefix, "hot:");
    assert!(w.stderr.is_empty(), "{}", w.stderr);
}

#[test]
fn memtier_flags_without_a_model_are_named() {
    // Each alone: the import succeeds, the workload keeps memtier's defaults, and the
    // warning names the flag.
    let cases: &[(&[&str], &str)] = &[
        (&["--server=db"], "--server"),
        (&["-s", "db"], "--server"),
        (&["--host=db"], "--host"),
        (&["-h", "db"], "--host"),
        (&["--port=7000"], "--port"),
        (&["--unix-socket=/tmp/r.sock"], "--unix-socket"),
        (&["-4"], "--ipv4"),
        (&["-6"], "--ipv6"),
        (&["--protocol=resp3"], "--protocol=resp3"),
        (&["--tls"], "--tls"),
        (&["--cert=c.pem"], "--cert"),
        (&["--key=k.pem"], "--key"),
        (&["--cacert=ca.pem"], "--cacert"),
        (&["--tls-skip-verify"], "--tls-skip-verify"),
        (&["--sni=db"], "--sni"),
        (&["--tls-protocols=TLSv1.2"], "--tls-protocols"),
        (&["--authenticate=secret"], "--authenticate"),
        (&["-a", "secret"], "--authenticate"),
        (&["--uri=redis://db:6379"], "--uri"),
        (&["--select-db=2"], "--select-db"),
        (&["--out-file=o.txt"], "--out-file"),
        (&["--hdr-file-prefix=h"], "--hdr-file-prefix"),
        (&["--client-stats=c"], "--client-stats"),
        (&["--json-out-file=o.json"], "--json-out-file"),
        (&["--run-count=3"], "--run-count"),
        (&["-D"], "--debug"),
        (&["--show-config"], "--show-config"),
        (&["--hide-histogram"], "--hide-histogram"),
        (&["--print-percentiles=50,90,99"], "--print-percentiles"),
        (&["--print-all-runs"], "--print-all-runs"),
        (
            &["--command-stats-breakdown=line"],
            "--command-stats-breakdown",
        ),
        (&["--statsd-host=s"], "--statsd-host"),
        (&["--statsd-port=8125"], "--statsd-port"),
        (&["--statsd-prefix=p"], "--statsd-prefix"),
        (&["--statsd-run-label=l"], "--statsd-run-label"),
        (&["--graphite-port=8080"], "--graphite-port"),
        (&["--distinct-client-seed"], "--distinct-client-seed"),
        (&["--randomize"], "--randomize"),
        (&["--reconnect-interval=100"], "--reconnect-interval"),
        (&["--reconnect-on-error"], "--reconnect-on-error"),
        (&["--max-reconnect-attempts=3"], "--max-reconnect-attempts"),
        (
            &["--reconnect-backoff-factor=2"],
            "--reconnect-backoff-factor",
        ),
        (&["--connection-timeout=5"], "--connection-timeout"),
        (
            &["--thread-conn-start-max-jitter-micros=100"],
            "--thread-conn-start-max-jitter-micros",
        ),
        (
            &[
                "--thread-conn-start-min-jitter-micros=10",
                "--thread-conn-start-max-jitter-micros=100",
            ],
            "--thread-conn-start-min-jitter-micros",
        ),
        (&["--multi-key-get=10"], "--multi-key-get"),
        (&["--wait-ratio=1:10"], "--wait-ratio"),
        (&["--num-slaves=1-2"], "--num-slaves"),
        (&["--wait-timeout=10-20"], "--wait-timeout"),
        (&["--data-offset=5"], "--data-offset"),
        (
            &[
                "--clients-start=5",
                "--clients-step=5",
                "--step-duration=2",
                "--test-time=10",
            ],
            "--clients-start",
        ),
        (&["--generate-keys"], "--generate-keys"),
        (&["--monitor-pattern=R"], "--monitor-pattern"),
    ];
    for (argv, flag) in cases {
        let w = memtier(argv);
        w.warns(flag);
        let wl = w.workload();
        assert_eq!((wl.clients, wl.threads), (50, 4), "{argv:?}");
        assert_eq!(wl.ratio, Ratio { set: 1, get: 10 }, "{argv:?}");
    }
    // resp2 and redis are what the simulated clients speak: nothing to say.
    assert!(memtier(&["--protocol=resp2"]).stderr.is_empty());
    assert!(memtier(&["-P", "redis"]).stderr.is_empty());
}

#[test]
fn memtier_bad_input_exits_2_naming_the_flag() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--bogus"],
            &["'--bogus'", "not one of memtier_benchmark's options"],
        ),
        (&["-Q"], &["'-Q'"]),
        // getopt_long refuses an ambiguous prefix too.
        (
            &["--cli=5"],
            &[
                "'--cli'",
                "ambiguous abbreviation of --client-stats, --clients",
            ],
        ),
        (&["--clients=x"], &["--clients", "greater than zero"]),
        (&["--clients=0"], &["--clients", "greater than zero"]),
        (&["-c"], &["--clients", "value is required"]),
        (&["--threads=-1"], &["--threads"]),
        (&["--ratio=1-10"], &["--ratio", "[0-n]:[0-n]"]),
        (&["--ratio=0:0"], &["--ratio", "above zero"]),
        (&["--pipeline=0"], &["--pipeline"]),
        (&["--data-size=big"], &["--data-size"]),
        (
            &["--data-size-range=0-10"],
            &["--data-size-range", "[1-n]-[1-n]"],
        ),
        (
            &["--data-size-list=32"],
            &["--data-size-list", "size1:weight1"],
        ),
        (
            &["--data-size-pattern=Q"],
            &["--data-size-pattern", "R or S"],
        ),
        (&["--expiry-range=0-0"], &["--expiry-range", "[0-n]-[1-n]"]),
        (
            &["--key-minimum=0"],
            &["--key-minimum", "greater than zero"],
        ),
        (&["--key-maximum=x"], &["--key-maximum"]),
        (
            &["--key-pattern=R"],
            &["--key-pattern", "[S/R/G/P/Z]:[S/R/G/P/Z]"],
        ),
        (
            &["--key-pattern=P:R"],
            &["--key-pattern", "both SET and GET"],
        ),
        (&["--key-zipf-exp=5"], &["--key-zipf-exp", "(0, 5)"]),
        (&["--key-stddev=-1"], &["--key-stddev"]),
        (
            &["--key-stddev=10"],
            &["--key-stddev", "key-pattern set to G"],
        ),
        (
            &["--key-pattern=G:G", "--key-maximum=100", "--key-median=500"],
            &["--key-median", "between key-minimum and key-maximum"],
        ),
        (
            &["--key-minimum=10", "--key-maximum=5"],
            &["--key-minimum", "key_maximum"],
        ),
        (&["--requests=0"], &["--requests", "allkeys"]),
        (
            &["--requests=5", "--test-time=3"],
            &["--test-time", "mutually exclusive"],
        ),
        (&["--test-time=0"], &["--test-time"]),
        (&["--test-time=4294967295"], &["--test-time", "30 days"]),
        (&["--rate-limiting=0"], &["--rate-limiting"]),
        (
            &["--data-size=10", "--data-size-range=1-5"],
            &["--data-size", "data-size-range"],
        ),
        (
            &["--data-size-list=1:1", "--data-size-range=1-5"],
            &["--data-size-list"],
        ),
        (&["--port=0"], &["--port", "[1-65535]"]),
        (&["--protocol=http"], &["--protocol", "http"]),
        (
            &["--protocol=memcache_text"],
            &["--protocol", "not modelled"],
        ),
        (&["--command=HSET k f v"], &["--command", "not modelled"]),
        (&["--command-ratio=1"], &["--command-ratio", "--command"]),
        (&["--command-key-pattern=R"], &["--command-key-pattern"]),
        (&["--data-import=f.txt"], &["--data-import", "not modelled"]),
        (&["--data-verify"], &["--data-verify", "--data-import"]),
        (&["--verify-only"], &["--verify-only", "--data-import"]),
        (&["--no-expiry"], &["--no-expiry", "--data-import"]),
        (
            &["--monitor-input=m.txt"],
            &["--monitor-input", "not modelled"],
        ),
        (
            &["--scan-incremental-iteration"],
            &["--scan-incremental-iteration"],
        ),
        (&["--clients-start=5"], &["--clients-start", "together"]),
        (
            &[
                "--clients-start=50",
                "--clients-step=5",
                "--step-duration=2",
                "--test-time=9",
            ],
            &["--clients-start", "less than --clients (50)"],
        ),
        (
            &["--clients-start=5", "--clients-step=5", "--step-duration=2"],
            &["--clients-start", "--test-time is required"],
        ),
        (
            &["--thread-conn-start-min-jitter-micros=10"],
            &["--thread-conn-start-min-jitter-micros"],
        ),
        (
            &["--cluster-mode", "--multi-key-get=3"],
            &["--multi-key-get", "cluster mode"],
        ),
        (&["--help"], &["--help"]),
        (&["-v"], &["--version"]),
        (&["--print-percentiles=a,b"], &["--print-percentiles"]),
    ];
    for (argv, fragments) in cases {
        rejects("memtier", argv, fragments);
    }
    // Without `--` the tool's flags are kvsim's, which has no such flag.
    let out = kvsim(&["import", "memtier", "--clients=5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--clients"));
}

#[test]
fn a_prefill_too_large_for_the_default_instance_starts_empty_and_says_so() {
    // 10M keys of 100 KB: far beyond one cache.r7g.large.
    let w = memtier(&["-d", "100000"]);
    w.warns("prefill");
    assert_eq!(w.config().prefill.key_count, 0);
    assert!(w.scenario.contains("prefill: (keys: 0)"));
}

// redis-benchmark

#[test]
fn redis_benchmark_defaults_are_redis_benchmarks() {
    // main: 50 clients, 100,000 requests, 3-byte values, pipeline 1, no threads; no -r:
    // one key; the suite's SET and GET tests as two variants, in its order.
    let i = redis_benchmark(&[]);
    i.warns("-t (absent)");
    assert!(i.stderr.contains("PING_INLINE") && i.stderr.contains("MSET (10 keys)"));
    let names: Vec<&str> = i.variants.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["SET", "GET"]);
    let set = &i.variants[0].1.clients.workload;
    let get = &i.variants[1].1.clients.workload;
    assert_eq!(set.ratio, Ratio { set: 1, get: 0 });
    assert_eq!(get.ratio, Ratio { set: 0, get: 1 });
    for w in [set, get] {
        // One process is one thread driving its 50 connections; -n is their total.
        assert_eq!((w.clients, w.threads, w.pipeline), (50, 1, 1));
        assert_eq!(w.requests_per_connection, Some(100_000 / 50));
        assert_eq!(w.test_time_ns, None);
        assert_eq!(w.data_size, DataSize::Fixed(3));
        assert!(w.random_data);
        // key:__rand_int__: one key of 16 bytes.
        assert_eq!(w.key_prefix, "key:");
        assert_eq!(
            (w.key_minimum, w.key_maximum),
            (100_000_000_000, 100_000_000_000)
        );
        assert_eq!(w.key_pattern, pattern(KeyDist::Random, KeyDist::Random));
    }
    let c = &i.variants[0].1;
    assert_eq!(c.cluster.mode, ClusterMode::Standalone);
    // One redis-benchmark process: about 15 us a request and its reply.
    assert_eq!(c.clients.cpu_cost.per_request_ns, 5_000);
    assert_eq!(c.clients.cpu_cost.per_reply_ns, 10_000);
}

#[test]
fn redis_benchmark_flags_alone() {
    let w = redis_benchmark(&["-t", "get", "-c", "20"]);
    assert_eq!(w.workload().clients, 20);
    assert_eq!(w.workload().requests_per_connection, Some(100_000 / 20));
    let w = redis_benchmark(&["-t", "get", "-n", "4000"]);
    assert_eq!(w.workload().requests_per_connection, Some(4000 / 50));
    let w = redis_benchmark(&["-t", "get", "-d", "25000"]);
    assert_eq!(w.workload().data_size, DataSize::Fixed(25_000));
    let w = redis_benchmark(&["-t", "get", "-P", "16"]);
    assert_eq!(w.workload().pipeline, 16);
    // -r N: N keys, each key: and twelve digits.
    let w = redis_benchmark(&["-t", "get", "-r", "100000"]);
    assert_eq!(
        (w.workload().key_minimum, w.workload().key_maximum),
        (100_000_000_000, 100_000_099_999)
    );
    let w = redis_benchmark(&["-t", "set"]);
    assert_eq!(w.workload().ratio, Ratio { set: 1, get: 0 });
    assert!(w.variants[0].0 == "base");
    // -t is case-blind, and lists in any order run in the suite's order.
    let w = redis_benchmark(&["-t", "GET,Set"]);
    let names: Vec<&str> = w.variants.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["SET", "GET"]);
    // --threads N: the connections dealt over N memtier-style threads.
    let w = redis_benchmark(&["-t", "get", "--threads", "5"]);
    assert_eq!((w.workload().threads, w.workload().clients), (5, 10));
    assert!(w.stderr.is_empty(), "{}", w.stderr);
    // -k 1 is the default.
    assert!(redis_benchmark(&["-t", "get", "-k", "1"]).stderr.is_empty());
}

#[test]
fn redis_benchmark_clamps_as_redis_benchmark_does() {
    // -d below 1 is 1, above 1 GiB is 1 GiB (which kvsim refuses: see below); -P below
    // 1 is 1; -r below 0 is 0 (one key); --threads below 0 is 0.
    let w = redis_benchmark(&[
        "-t",
        "get",
        "-d",
        "0",
        "-P",
        "-3",
        "-r",
        "-5",
        "--threads",
        "-2",
    ]);
    let wl = w.workload();
    assert_eq!(wl.data_size, DataSize::Fixed(1));
    assert_eq!(wl.pipeline, 1);
    assert_eq!(wl.key_minimum, wl.key_maximum);
    assert_eq!(wl.threads, 1);
    let w = redis_benchmark(&["-t", "get", "-r", "0"]);
    assert_eq!(w.workload().key_minimum, w.workload().key_maximum);
    // More threads than connections: the extra threads get none.
    let w = redis_benchmark(&["-t", "get", "-c", "3", "--threads", "8"]);
    assert_eq!((w.workload().threads, w.workload().clients), (3, 1));
    // --threads above 500 is 500.
    let w = redis_benchmark(&["-t", "get", "-c", "1000", "--threads", "900"]);
    assert_eq!((w.workload().threads, w.workload().clients), (500, 2));
}

#[test]
fn redis_benchmark_rounding_is_said() {
    // 50 connections over 4 threads: 13, 13, 12, 12; the scenario gives each 13.
    let w = redis_benchmark(&["-t", "get", "--threads", "4"]);
    assert_eq!((w.workload().threads, w.workload().clients), (4, 13));
    w.warns("-c 50 over 4 threads");
    // 1,000 requests over 3 connections: 334 each.
    let w = redis_benchmark(&["-t", "get", "-c", "3", "-n", "1000"]);
    assert_eq!(w.workload().requests_per_connection, Some(334));
    w.warns("-n 1000 over 3 connections");
}

#[test]
fn redis_benchmark_cluster() {
    // --cluster without --threads: one thread per primary.
    let w = redis_benchmark(&["--cluster", "-t", "get", "-c", "30"]);
    w.warns("--cluster");
    let c = w.config();
    assert_eq!(c.cluster.mode, ClusterMode::Cluster);
    assert_eq!(c.cluster.shards, 3);
    assert_eq!(
        (c.clients.workload.threads, c.clients.workload.clients),
        (3, 10)
    );
    let w = redis_benchmark(&["--cluster", "-t", "get", "-c", "30", "--threads", "2"]);
    assert_eq!(w.workload().threads, 2);
}

#[test]
fn redis_benchmark_combination() {
    // The lab measurement's command line (scenarios/lab-tbf-100mbit.ron).
    let w = redis_benchmark(&[
        "-h", "10.0.0.2", "-p", "6379", "-c", "20", "-n", "4000", "-d", "25000", "-t", "get", "-q",
    ]);
    let wl = w.workload();
    assert_eq!(wl.ratio, Ratio { set: 0, get: 1 });
    assert_eq!((wl.clients, wl.threads), (20, 1));
    assert_eq!(wl.requests_per_connection, Some(200));
    assert_eq!(wl.data_size, DataSize::Fixed(25_000));
    assert_eq!(wl.key_minimum, wl.key_maximum);
    w.warns("-h").warns("-p").warns("-q");
    let lines: Vec<&str> = w.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", w.stderr);
    assert!(lines[2].starts_with("warning: -q"), "{}", w.stderr);
}

#[test]
fn redis_benchmark_flags_without_a_model_are_named() {
    let cases: &[(&[&str], &str)] = &[
        (&["-h", "db"], "-h"),
        (&["-p", "7000"], "-p"),
        (&["-s", "/tmp/r.sock"], "-s"),
        (&["-a", "secret"], "-a"),
        (&["--user", "me"], "--user"),
        (&["-u", "redis://db"], "-u"),
        (&["--dbnum", "2"], "--dbnum"),
        (&["-3"], "-3"),
        (&["--tls"], "--tls"),
        (&["--sni", "db"], "--sni"),
        (&["--cacert", "ca.pem"], "--cacert"),
        (&["--cacertdir", "certs"], "--cacertdir"),
        (&["--insecure"], "--insecure"),
        (&["--cert", "c.pem"], "--cert"),
        (&["--key", "k.pem"], "--key"),
        (&["--tls-ciphers", "HIGH"], "--tls-ciphers"),
        (
            &["--tls-ciphersuites", "TLS_AES_128_GCM_SHA256"],
            "--tls-ciphersuites",
        ),
        (&["-q"], "-q"),
        (&["--csv"], "--csv"),
        (&["--precision", "3"], "--precision"),
        (&["-l"], "-l"),
        (&["--enable-tracking"], "--enable-tracking"),
        (&["-e"], "-e"),
        (&["-x"], "-x"),
        (&["-k", "0"], "-k 0"),
        (&["-t", "get,incr,lrange"], "-t: the tests"),
    ];
    for (argv, flag) in cases {
        let mut full = vec!["-t", "get"];
        if argv.contains(&"-t") {
            full.clear();
        }
        full.extend_from_slice(argv);
        let w = redis_benchmark(&full);
        w.warns(flag);
        assert_eq!(w.workload().clients, 50, "{argv:?}");
    }
    let w = redis_benchmark(&["-t", "get,incr,lrange"]);
    assert!(
        w.stderr
            .contains("INCR, LPUSH (needed to benchmark LRANGE), LRANGE_100"),
        "{}",
        w.stderr
    );
}

#[test]
fn redis_benchmark_bad_input_exits_2_naming_the_flag() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--bogus"],
            &["'--bogus'", "not one of redis-benchmark's options"],
        ),
        (&["-c", "x"], &["-c", "integer"]),
        (&["-c", "0"], &["-c", "from 1"]),
        (&["-c"], &["-c", "value is required"]),
        (&["-n", "-5"], &["-n", "from 1"]),
        (&["-d", "ten"], &["-d", "integer"]),
        (&["-P", "x"], &["-P", "integer"]),
        (&["-r", "-x"], &["-r", "integer"]),
        (&["--threads", "many"], &["--threads", "integer"]),
        (&["-t", "foo"], &["-t", "unknown test \"foo\"", "get"]),
        (&["-t", ","], &["-t", "comma-separated"]),
        (
            &["-t", "ping,incr"],
            &["-t", "none of the selected tests is modelled"],
        ),
        (&["-I"], &["-I", "not modelled"]),
        (&["SET", "k", "v"], &["SET k v", "not modelled"]),
        (&["-c", "5", "LPUSH", "l", "-1"], &["LPUSH l -1"]),
        (&["--help"], &["--help"]),
        (&["--version"], &["--version"]),
        // Clamped to 1 GiB, as redis-benchmark does, which is above Redis's 512 MiB limit.
        (&["-t", "get", "-d", "2000000000"], &["-d", "512 MiB"]),
    ];
    for (argv, fragments) in cases {
        rejects("redis-benchmark", argv, fragments);
    }
    // No advice about `--`, which would be about kvsim's own command line.
    let out = import("redis-benchmark", &["--bogus"]);
    assert!(!text(&out.stderr).contains("'-- "), "{}", text(&out.stderr));
}
