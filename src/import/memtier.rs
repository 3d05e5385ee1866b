//! memtier_benchmark's command line as a clap command, and its mapping onto kvsim's
//! workload, which takes memtier's names and defaults (`models::workload`), so most flags
//! map one to one.
//!
//! Source followed: RedisLabs/memtier_benchmark, memtier_benchmark.cpp (`long_options`,
//! `config_parse_args`, `config_init_defaults`, and the checks in `main`) and
//! config_types.cpp (`config_range`, `config_ratio`, `config_weight_list`). Each value
//! is checked as memtier checks it and its error says what memtier expects; getopt_long's
//! habits are kept: `--opt=value` or `--opt value`, an unambiguous prefix of a long option
//! (`--cli=5`), and the last of a repeated option winning.
//!
//! Invariant: every option in memtier's table has an argument here, and every argument
//! given lands in exactly one of three places: a workload field (or the cluster's mode),
//! a warning naming it ([`UNMODELLED`]), or a refusal naming it.

use super::{
    argv_error, duration_for_requests_s, given, position, Draft, Field, DURATION_FOR_REQUESTS_NOTE,
};
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use models::client_cpu::ClientCpuCost;
use models::workload::defaults;

/// memtier_benchmark's options, as its `long_options` table lists them (short letters
/// from its getopt string "vs:S:p:P:o:x:DRn:c:t:d:a:h:46u:").
#[derive(Parser, Debug)]
#[command(
    name = "memtier_benchmark",
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    infer_long_args = true,
    args_override_self = true
)]
pub struct MemtierArgv {
    // Connection.
    #[arg(short = 's', long = "server", value_name = "ADDR")]
    server: Option<String>,
    #[arg(short = 'h', long = "host", value_name = "ADDR")]
    host: Option<String>,
    #[arg(short = 'p', long = "port", value_name = "PORT", value_parser = port)]
    port: Option<u16>,
    #[arg(short = 'S', long = "unix-socket", value_name = "SOCKET")]
    unix_socket: Option<String>,
    #[arg(short = '4', long = "ipv4")]
    ipv4: bool,
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,
    #[arg(short = 'P', long = "protocol", value_enum, value_name = "PROTOCOL")]
    protocol: Option<Protocol>,
    #[arg(long = "tls")]
    tls: bool,
    #[arg(long = "cert", value_name = "FILE")]
    cert: Option<String>,
    #[arg(long = "key", value_name = "FILE")]
    key: Option<String>,
    #[arg(long = "cacert", value_name = "FILE")]
    cacert: Option<String>,
    #[arg(long = "tls-skip-verify")]
    tls_skip_verify: bool,
    #[arg(long = "sni", value_name = "STRING")]
    sni: Option<String>,
    #[arg(long = "tls-protocols", value_name = "PROTOCOLS")]
    tls_protocols: Option<String>,
    #[arg(short = 'a', long = "authenticate", value_name = "CREDENTIALS")]
    authenticate: Option<String>,
    #[arg(short = 'u', long = "uri", value_name = "URI")]
    uri: Option<String>,
    #[arg(long = "select-db", value_name = "DB", value_parser = non_negative_u32)]
    select_db: Option<u32>,

    // Output.
    #[arg(short = 'o', long = "out-file", value_name = "FILE")]
    out_file: Option<String>,
    #[arg(long = "hdr-file-prefix", value_name = "FILE")]
    hdr_file_prefix: Option<String>,
    #[arg(long = "client-stats", value_name = "FILE")]
    client_stats: Option<String>,
    #[arg(long = "json-out-file", value_name = "FILE")]
    json_out_file: Option<String>,
    #[arg(short = 'x', long = "run-count", value_name = "NUMBER", value_parser = positive_u32)]
    run_count: Option<u32>,
    #[arg(short = 'D', long = "debug", action = clap::ArgAction::Count)]
    debug: u8,
    #[arg(long = "show-config")]
    show_config: bool,
    #[arg(long = "hide-histogram")]
    hide_histogram: bool,
    #[arg(long = "print-percentiles", value_name = "PERCENTILES", value_parser = quantiles)]
    print_percentiles: Option<String>,
    #[arg(long = "print-all-runs")]
    print_all_runs: bool,
    #[arg(long = "command-stats-breakdown", value_name = "command|line", value_parser = stats_breakdown)]
    command_stats_breakdown: Option<String>,
    #[arg(long = "statsd-host", value_name = "HOST")]
    statsd_host: Option<String>,
    #[arg(long = "statsd-port", value_name = "PORT", value_parser = port)]
    statsd_port: Option<u16>,
    #[arg(long = "statsd-prefix", value_name = "PREFIX")]
    statsd_prefix: Option<String>,
    #[arg(long = "statsd-run-label", value_name = "LABEL")]
    statsd_run_label: Option<String>,
    #[arg(long = "graphite-port", value_name = "PORT", value_parser = port)]
    graphite_port: Option<u16>,

    // Test.
    #[arg(short = 'n', long = "requests", value_name = "NUMBER", value_parser = requests)]
    requests: Option<Requests>,
    #[arg(short = 'c', long = "clients", value_name = "NUMBER", value_parser = positive_u32)]
    clients: Option<u32>,
    #[arg(short = 't', long = "threads", value_name = "NUMBER", value_parser = positive_u32)]
    threads: Option<u32>,
    #[arg(long = "test-time", value_name = "SECS", value_parser = positive_u32)]
    test_time: Option<u32>,
    #[arg(long = "ratio", value_name = "RATIO", value_parser = ratio)]
    ratio: Option<(u32, u32)>,
    #[arg(long = "pipeline", value_name = "NUMBER", value_parser = positive_u32)]
    pipeline: Option<u32>,
    #[arg(long = "rate-limiting", value_name = "NUMBER", value_parser = positive_u32)]
    rate_limiting: Option<u32>,
    #[arg(long = "distinct-client-seed")]
    distinct_client_seed: bool,
    #[arg(long = "randomize")]
    randomize: bool,
    #[arg(long = "cluster-mode")]
    cluster_mode: bool,
    #[arg(long = "reconnect-interval", value_name = "NUM", value_parser = positive_u32)]
    reconnect_interval: Option<u32>,
    #[arg(long = "reconnect-on-error")]
    reconnect_on_error: bool,
    #[arg(long = "max-reconnect-attempts", value_name = "NUM", value_parser = non_negative_u32)]
    max_reconnect_attempts: Option<u32>,
    #[arg(long = "reconnect-backoff-factor", value_name = "NUM", value_parser = positive_f64)]
    reconnect_backoff_factor: Option<f64>,
    #[arg(long = "connection-timeout", value_name = "SECS", value_parser = non_negative_u32)]
    connection_timeout: Option<u32>,
    #[arg(long = "thread-conn-start-min-jitter-micros", value_name = "NUM", value_parser = non_negative_u32)]
    thread_conn_start_min_jitter_micros: Option<u32>,
    #[arg(long = "thread-conn-start-max-jitter-micros", value_name = "NUM", value_parser = non_negative_u32)]
    thread_conn_start_max_jitter_micros: Option<u32>,
    #[arg(long = "multi-key-get", value_name = "NUM", value_parser = positive_u32)]
    multi_key_get: Option<u32>,
    #[arg(long = "wait-ratio", value_name = "RATIO", value_parser = ratio)]
    wait_ratio: Option<(u32, u32)>,
    #[arg(long = "num-slaves", value_name = "RANGE", value_parser = range)]
    num_slaves: Option<(u32, u32)>,
    #[arg(long = "wait-timeout", value_name = "RANGE", value_parser = range)]
    wait_timeout: Option<(u32, u32)>,
    #[arg(long = "clients-start", value_name = "NUMBER", value_parser = positive_u32)]
    clients_start: Option<u32>,
    #[arg(long = "clients-step", value_name = "NUMBER", value_parser = positive_u32)]
    clients_step: Option<u32>,
    #[arg(long = "step-duration", value_name = "SECS", value_parser = positive_u32)]
    step_duration: Option<u32>,

    // Arbitrary commands and replays.
    #[arg(long = "command", value_name = "COMMAND", action = clap::ArgAction::Append)]
    command: Vec<String>,
    #[arg(long = "command-key-pattern", value_name = "PATTERN", action = clap::ArgAction::Append)]
    command_key_pattern: Vec<String>,
    #[arg(long = "command-ratio", value_name = "RATIO", action = clap::ArgAction::Append)]
    command_ratio: Vec<String>,
    #[arg(long = "monitor-input", value_name = "FILE")]
    monitor_input: Option<String>,
    #[arg(long = "monitor-pattern", value_name = "S|R", value_parser = monitor_pattern)]
    monitor_pattern: Option<char>,
    #[arg(long = "scan-incremental-iteration")]
    scan_incremental_iteration: bool,
    #[arg(long = "scan-incremental-max-iterations", value_name = "NUM", value_parser = non_negative_u32)]
    scan_incremental_max_iterations: Option<u32>,

    // Objects.
    #[arg(short = 'd', long = "data-size", value_name = "SIZE", value_parser = positive_u32)]
    data_size: Option<u32>,
    #[arg(long = "data-offset", value_name = "OFFSET", value_parser = non_negative_u32)]
    data_offset: Option<u32>,
    #[arg(short = 'R', long = "random-data")]
    random_data: bool,
    #[arg(long = "data-size-range", value_name = "RANGE", value_parser = data_size_range)]
    data_size_range: Option<(u32, u32)>,
    #[arg(long = "data-size-list", value_name = "LIST", value_parser = weight_list)]
    data_size_list: Option<String>,
    #[arg(long = "data-size-pattern", value_name = "R|S", value_parser = data_size_pattern)]
    data_size_pattern: Option<char>,
    #[arg(long = "expiry-range", value_name = "RANGE", value_parser = range)]
    expiry_range: Option<(u32, u32)>,

    // Imported data.
    #[arg(long = "data-import", value_name = "FILE")]
    data_import: Option<String>,
    #[arg(long = "data-verify")]
    data_verify: bool,
    #[arg(long = "verify-only")]
    verify_only: bool,
    #[arg(long = "generate-keys")]
    generate_keys: bool,
    #[arg(long = "no-expiry")]
    no_expiry: bool,

    // Keys.
    #[arg(long = "key-prefix", value_name = "PREFIX")]
    key_prefix: Option<String>,
    #[arg(long = "key-minimum", value_name = "NUMBER", value_parser = key_bound)]
    key_minimum: Option<u64>,
    #[arg(long = "key-maximum", value_name = "NUMBER", value_parser = key_bound)]
    key_maximum: Option<u64>,
    #[arg(long = "key-pattern", value_name = "PATTERN", value_parser = key_pattern)]
    key_pattern: Option<String>,
    #[arg(long = "key-stddev", value_name = "NUMBER", value_parser = positive_f64)]
    key_stddev: Option<f64>,
    #[arg(long = "key-median", value_name = "NUMBER", value_parser = positive_f64)]
    key_median: Option<f64>,
    #[arg(long = "key-zipf-exp", value_name = "EXP", value_parser = zipf_exp)]
    key_zipf_exp: Option<f64>,

    // memtier prints and exits on these.
    #[arg(long = "help")]
    help: bool,
    #[arg(short = 'v', long = "version")]
    version: bool,
}

/// `--protocol`'s values (memtier_benchmark.cpp, case 'P').
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Protocol {
    Redis,
    Resp2,
    Resp3,
    #[value(name = "memcache_text")]
    MemcacheText,
    #[value(name = "memcache_binary")]
    MemcacheBinary,
}

/// `--requests`: a count, or `allkeys` (one request per key of the range).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Requests {
    Count(u64),
    AllKeys,
}

/// Flags kvsim has no model for, with what the warning says. A flag is here when it
/// leaves the workload as the fields give it (a connection detail, an output choice) or
/// changes it in a way the scenario cannot carry (said as "not modelled").
const UNMODELLED: &[(&str, &str)] = &[
    ("server", "a connection detail, not used: the clients reach the simulated cluster"),
    ("host", "a connection detail, not used: the clients reach the simulated cluster"),
    ("port", "a connection detail, not used: the clients reach the simulated cluster"),
    ("ipv4", "a connection detail, not used"),
    ("ipv6", "a connection detail, not used"),
    ("authenticate", "a connection detail, not used (no AUTH is simulated)"),
    ("uri", "a connection detail, not used: the clients reach the simulated cluster"),
    ("select_db", "a connection detail, not used (the simulated store has database 0 only)"),
    ("unix_socket", "not modelled: the clients reach the cluster over the simulated TCP network, whose latency and packets a Unix socket would not have"),
    ("tls", "not modelled: TLS's encryption CPU and record bytes are not simulated; the scenario runs in plain TCP"),
    ("cert", "a TLS detail, not used (TLS is not modelled)"),
    ("key", "a TLS detail, not used (TLS is not modelled)"),
    ("cacert", "a TLS detail, not used (TLS is not modelled)"),
    ("tls_skip_verify", "a TLS detail, not used (TLS is not modelled)"),
    ("sni", "a TLS detail, not used (TLS is not modelled)"),
    ("tls_protocols", "a TLS detail, not used (TLS is not modelled)"),
    ("out_file", "an output choice, not used: `kvsim run --out DIR` writes the report"),
    ("hdr_file_prefix", "an output choice, not used: `kvsim run --out DIR` writes the report"),
    ("client_stats", "an output choice, not used: `kvsim run --out DIR` writes the report"),
    ("json_out_file", "an output choice, not used: `kvsim run --format json` prints the report in memtier's JSON shape"),
    ("debug", "an output choice, not used"),
    ("show_config", "an output choice, not used: `kvsim check --resolved` shows the configuration"),
    ("hide_histogram", "an output choice, not used"),
    ("print_percentiles", "an output choice, not used: the report gives p50, p99 and p99.9 (memtier's default)"),
    ("print_all_runs", "an output choice, not used (the scenario runs once)"),
    ("command_stats_breakdown", "an output choice, not used"),
    ("statsd_host", "an output choice, not used"),
    ("statsd_port", "an output choice, not used"),
    ("statsd_prefix", "an output choice, not used"),
    ("statsd_run_label", "an output choice, not used"),
    ("graphite_port", "an output choice, not used"),
    ("run_count", "not modelled: the scenario runs once, and the same seed gives the same report (vary `seed` for repetitions)"),
    ("distinct_client_seed", "kvsim always does this: each connection draws its keys from a stream of its own, derived from the scenario's seed"),
    ("randomize", "not used: the scenario's seed sets every random draw"),
    ("reconnect_interval", "not modelled: connections stay open for the whole run"),
    ("reconnect_on_error", "not modelled: a connection is reopened only after a reset (as memtier does on a reset)"),
    ("max_reconnect_attempts", "not modelled: a connection is reopened only after a reset"),
    ("reconnect_backoff_factor", "not modelled: a connection is reopened only after a reset"),
    ("connection_timeout", "not modelled: connecting takes no time in the simulation"),
    ("thread_conn_start_min_jitter_micros", "not modelled: every connection starts at the start of the run"),
    ("thread_conn_start_max_jitter_micros", "not modelled: every connection starts at the start of the run"),
    ("multi_key_get", "not modelled: every GET is a single-key GET, not an MGET of this many keys"),
    ("wait_ratio", "not modelled: no WAIT commands are sent"),
    ("num_slaves", "not modelled: no WAIT commands are sent"),
    ("wait_timeout", "not modelled: no WAIT commands are sent"),
    ("data_offset", "not modelled: values are written whole with SET, not at an offset with SETRANGE"),
    ("clients_start", "not modelled: every connection opens at the start, none is added in steps"),
    ("clients_step", "not modelled: every connection opens at the start, none is added in steps"),
    ("step_duration", "not modelled: every connection opens at the start, none is added in steps"),
    ("generate_keys", "no effect without --data-import (memtier ignores it)"),
    ("monitor_pattern", "no effect without --monitor-input (memtier ignores it)"),
];

/// Parses memtier's argv into a scenario draft, or says which flag is wrong and why.
pub fn draft(argv: &[String]) -> Result<Draft, String> {
    const TOOL: &str = "memtier_benchmark";
    let command = MemtierArgv::command();
    let m = command
        .clone()
        .try_get_matches_from(argv)
        .map_err(|e| argv_error(TOOL, &command, &e))?;
    let a = MemtierArgv::from_arg_matches(&m).map_err(|e| argv_error(TOOL, &command, &e))?;
    let flag = |id: &str| -> String {
        command
            .get_arguments()
            .find(|arg| arg.get_id() == id)
            .and_then(|arg| arg.get_long())
            .map(|l| format!("--{l}"))
            .unwrap_or_else(|| id.to_string())
    };
    let refuse = |id: &str, why: &str| Err(format!("{TOOL}: {}: {why}", flag(id)));

    // Whole workloads kvsim cannot model: refused, since a SET/GET scenario in their
    // place would measure something else.
    if a.help || a.version {
        let id = if a.help { "help" } else { "version" };
        return refuse(
            id,
            "memtier_benchmark prints and exits on it: there is no benchmark to import",
        );
    }
    if a.data_import.is_some() {
        return refuse("data_import", "not modelled: kvsim generates its keys and values (memtier's --key-* and --data-size* options); it cannot replay an imported data file");
    }
    for id in ["data_verify", "verify_only", "no_expiry"] {
        if given(&m, id) {
            // memtier: "use data-verify only with data-import" (and the same for the others).
            return refuse(
                id,
                "only used with --data-import (memtier refuses it otherwise)",
            );
        }
    }
    if !a.command.is_empty() {
        return refuse("command", "not modelled: kvsim's workload is memtier's SET:GET mix (--ratio); arbitrary commands are not simulated");
    }
    for id in ["command_key_pattern", "command_ratio"] {
        if given(&m, id) {
            return refuse(
                id,
                "only used with --command (memtier: \"no arbitrary command found\")",
            );
        }
    }
    if a.monitor_input.is_some() {
        return refuse(
            "monitor_input",
            "not modelled: kvsim cannot replay a MONITOR capture",
        );
    }
    if a.scan_incremental_iteration || a.scan_incremental_max_iterations.is_some() {
        let id = if a.scan_incremental_iteration {
            "scan_incremental_iteration"
        } else {
            "scan_incremental_max_iterations"
        };
        return refuse(id, "not modelled: it requires a --command with a SCAN command, and arbitrary commands are not simulated");
    }
    if matches!(
        a.protocol,
        Some(Protocol::MemcacheText | Protocol::MemcacheBinary)
    ) {
        return refuse("protocol", "not modelled: kvsim simulates Redis and Valkey servers, which speak the redis protocol (redis, resp2, resp3)");
    }

    // memtier's own checks on combinations (memtier_benchmark.cpp), each refused with its
    // message.
    if a.requests.is_some() && a.test_time.is_some() {
        return refuse(
            "test_time",
            "--test-time and --requests are mutually exclusive (memtier's rule)",
        );
    }
    if a.data_size.is_some() && (a.data_size_list.is_some() || a.data_size_range.is_some()) {
        return refuse(
            "data_size",
            "data-size cannot be used with data-size-list or data-size-range (memtier's rule)",
        );
    }
    if a.data_size_list.is_some() && a.data_size_range.is_some() {
        return refuse(
            "data_size_list",
            "data-size-list cannot be used with data-size-range (memtier's rule)",
        );
    }
    let staircase = [
        a.clients_start.is_some(),
        a.clients_step.is_some(),
        a.step_duration.is_some(),
    ];
    if staircase.iter().any(|s| *s) {
        if !staircase.iter().all(|s| *s) {
            return refuse("clients_start", "--clients-start, --clients-step, and --step-duration must all be specified together (memtier's rule)");
        }
        if a.requests.is_some() {
            return refuse("requests", "--requests cannot be used with client staircase mode; use --test-time instead (memtier's rule)");
        }
        if a.test_time.is_none() {
            return refuse(
                "clients_start",
                "--test-time is required when using client staircase mode (memtier's rule)",
            );
        }
        let clients = a.clients.unwrap_or(defaults::CLIENTS);
        if a.clients_start.unwrap_or(0) >= clients {
            return refuse(
                "clients_start",
                &format!("must be less than --clients ({clients}) (memtier's rule)"),
            );
        }
    }
    if a.thread_conn_start_min_jitter_micros.unwrap_or(0)
        > a.thread_conn_start_max_jitter_micros.unwrap_or(0)
    {
        return refuse(
            "thread_conn_start_min_jitter_micros",
            "cannot be greater than --thread-conn-start-max-jitter-micros (memtier's rule)",
        );
    }
    if a.cluster_mode {
        // memtier_benchmark.cpp `verify_cluster_option`.
        for (id, set) in [
            ("reconnect_interval", a.reconnect_interval.is_some()),
            ("multi_key_get", a.multi_key_get.is_some()),
            ("wait_ratio", a.wait_ratio.is_some()),
            ("unix_socket", a.unix_socket.is_some()),
        ] {
            if set {
                return refuse(id, "cluster mode does not support it (memtier's rule)");
            }
        }
    }
    if a.data_offset.is_some_and(|o| o > 0) && a.expiry_range.is_some() {
        return refuse(
            "data_offset",
            "data-offset cannot be used with expiry (memtier's rule)",
        );
    }

    // The workload, memtier's defaults where a flag is absent (config_init_defaults).
    let from = |id: &str| -> String {
        if given(&m, id) {
            flag(id)
        } else {
            "memtier's default".to_string()
        }
    };
    let mut workload = Vec::new();
    let (set, get) = a.ratio.unwrap_or((1, 10));
    let ratio = format!("{set}:{get}");
    workload.push(Field::string("ratio", &ratio, from("ratio")));
    let pattern = a
        .key_pattern
        .clone()
        .unwrap_or_else(|| defaults::KEY_PATTERN.to_string());
    workload.push(Field::string("key_pattern", &pattern, from("key_pattern")));
    let key_minimum = a.key_minimum.unwrap_or(defaults::KEY_MINIMUM);
    let key_maximum = a.key_maximum.unwrap_or(defaults::KEY_MAXIMUM);
    workload.push(Field::new(
        "key_minimum",
        key_minimum.to_string(),
        from("key_minimum"),
    ));
    workload.push(Field::new(
        "key_maximum",
        key_maximum.to_string(),
        from("key_maximum"),
    ));
    let prefix = a
        .key_prefix
        .clone()
        .unwrap_or_else(|| defaults::KEY_PREFIX.to_string());
    workload.push(Field::string("key_prefix", &prefix, from("key_prefix")));
    let uses = |letter: char| pattern.starts_with(letter) || pattern.ends_with(letter);
    let mut warnings = Vec::new();
    if a.key_stddev.is_some() || a.key_median.is_some() {
        let id = if a.key_stddev.is_some() {
            "key_stddev"
        } else {
            "key_median"
        };
        if !uses('G') {
            return refuse(id, "key-stddev and key-median are only allowed together with key-pattern set to G (memtier's rule)");
        }
        if let Some(median) = a.key_median {
            if median < key_minimum as f64 || median > key_maximum as f64 {
                return refuse(
                    "key_median",
                    "key-median must be between key-minimum and key-maximum (memtier's rule)",
                );
            }
        }
    }
    if let Some(s) = a.key_stddev {
        workload.push(Field::new("key_stddev", ron_f64(s), flag("key_stddev")));
    }
    if let Some(s) = a.key_median {
        workload.push(Field::new("key_median", ron_f64(s), flag("key_median")));
    }
    if uses('Z') {
        let exp = a.key_zipf_exp.unwrap_or(defaults::KEY_ZIPF_EXP);
        workload.push(Field::new(
            "key_zipf_exp",
            ron_f64(exp),
            from("key_zipf_exp"),
        ));
    } else if a.key_zipf_exp.is_some() {
        warnings.push((
            position(&m, "key_zipf_exp"),
            format!(
                "{}: no effect without a Z key pattern (memtier ignores it)",
                flag("key_zipf_exp")
            ),
        ));
    }
    let value_bytes_max;
    if let Some((lo, hi)) = a.data_size_range {
        value_bytes_max = hi;
        workload.push(Field::string(
            "data_size_range",
            &format!("{lo}-{hi}"),
            flag("data_size_range"),
        ));
        let p = a.data_size_pattern.unwrap_or('R');
        workload.push(Field::string(
            "data_size_pattern",
            &p.to_string(),
            from("data_size_pattern"),
        ));
    } else {
        if let Some(list) = &a.data_size_list {
            value_bytes_max = models::workload::parse_weight_list(list)
                .and_then(|l| l.iter().map(|(s, _)| *s).max())
                .unwrap_or(defaults::DATA_SIZE);
            workload.push(Field::string(
                "data_size_list",
                list,
                flag("data_size_list"),
            ));
        } else {
            let size = a.data_size.unwrap_or(defaults::DATA_SIZE);
            value_bytes_max = size;
            workload.push(Field::new("data_size", size.to_string(), from("data_size")));
        }
        if a.data_size_pattern.is_some() {
            warnings.push((
                position(&m, "data_size_pattern"),
                format!(
                    "{}: no effect without --data-size-range (memtier ignores it)",
                    flag("data_size_pattern")
                ),
            ));
        }
    }
    workload.push(Field::new(
        "random_data",
        a.random_data.to_string(),
        from("random_data"),
    ));
    if let Some((lo, hi)) = a.expiry_range {
        workload.push(Field::string(
            "expiry_range",
            &format!("{lo}-{hi}"),
            flag("expiry_range"),
        ));
    }
    let pipeline = a.pipeline.unwrap_or(defaults::PIPELINE);
    let clients = a.clients.unwrap_or(defaults::CLIENTS);
    let threads = a.threads.unwrap_or(defaults::THREADS);
    workload.push(Field::new(
        "pipeline",
        pipeline.to_string(),
        from("pipeline"),
    ));
    workload.push(Field::new("clients", clients.to_string(), from("clients")));
    workload.push(Field::new("threads", threads.to_string(), from("threads")));
    if let Some(r) = a.rate_limiting {
        workload.push(Field::new(
            "rate_limiting",
            r.to_string(),
            flag("rate_limiting"),
        ));
    }
    let (duration_s, duration_note, duration_flag);
    if let Some(t) = a.test_time {
        workload.push(Field::new("test_time_s", t.to_string(), flag("test_time")));
        duration_s = u64::from(t);
        duration_note = "--test-time: the run lasts as long as the clients send".to_string();
        duration_flag = Some("--test-time");
    } else {
        // config_init_defaults: `allkeys` is the key range's width (not counting its
        // last key), split over the connections with P:P; a zero result falls back to
        // the default count, as memtier applies that default afterwards.
        let (requests, why) = match a.requests {
            Some(Requests::Count(n)) => (n, flag("requests")),
            Some(Requests::AllKeys) => {
                let mut n = key_maximum.saturating_sub(key_minimum);
                if pattern == "P:P" {
                    n = n / (u64::from(clients) * u64::from(threads)) + 1;
                }
                if n == 0 {
                    (
                        defaults::REQUESTS,
                        "--requests=allkeys over an empty range: memtier's default".to_string(),
                    )
                } else {
                    (n, "--requests=allkeys".to_string())
                }
            }
            None => (
                defaults::REQUESTS,
                format!("memtier's default ({})", defaults::REQUESTS),
            ),
        };
        workload.push(Field::new("requests", requests.to_string(), why));
        duration_s = duration_for_requests_s(
            requests,
            clients,
            pipeline,
            a.rate_limiting,
            ClientCpuCost::DEFAULT,
            value_bytes_max,
        );
        duration_note = DURATION_FOR_REQUESTS_NOTE.to_string();
        duration_flag = None;
    }
    if matches!(a.protocol, Some(Protocol::Resp3)) {
        warnings.push((position(&m, "protocol"), format!("{}=resp3: not modelled: the simulated clients speak RESP2 and send no HELLO (a SET's and a GET's replies are the same bytes in RESP3)", flag("protocol"))));
    }
    let cluster_shards = if a.cluster_mode {
        warnings.push((position(&m, "cluster_mode"), format!("{}: the scenario's cluster is a Redis Cluster of {} shards: memtier's argv does not say how many primaries the cluster has (set cluster.shards)", flag("cluster_mode"), super::CLUSTER_SHARDS_DEFAULT)));
        Some(super::CLUSTER_SHARDS_DEFAULT)
    } else {
        None
    };
    for (id, why) in UNMODELLED {
        if given(&m, id) {
            warnings.push((position(&m, id), format!("{}: {why}", flag(id))));
        }
    }

    let mut notes = vec![
        "memtier's connections repeat one key sequence unless --distinct-client-seed; kvsim's always draw their own.".to_string(),
    ];
    if a.distinct_client_seed {
        notes.clear();
    }
    notes.push("The prefill is kvsim's default (the whole key range, as a `--ratio=1:0 --key-pattern=P:P` run leaves it): the argv does not say what the server holds.".to_string());

    Ok(Draft {
        tool: TOOL,
        argv: argv.to_vec(),
        name: "memtier-import",
        duration_s,
        duration_note,
        cluster_shards,
        workload,
        cpu_cost: None,
        variants: Vec::new(),
        notes,
        warnings,
        flag_of: workload_flag,
        duration_flag,
    })
}

/// The memtier flag behind a workload field, for naming it when the model refuses a value.
fn workload_flag(field: &str) -> Option<&'static str> {
    Some(match field {
        "ratio" => "--ratio",
        "key_pattern" => "--key-pattern",
        "key_minimum" => "--key-minimum",
        "key_maximum" => "--key-maximum",
        "key_prefix" => "--key-prefix",
        "key_stddev" => "--key-stddev",
        "key_median" => "--key-median",
        "key_zipf_exp" => "--key-zipf-exp",
        "data_size" => "--data-size",
        "data_size_range" => "--data-size-range",
        "data_size_list" => "--data-size-list",
        "data_size_pattern" => "--data-size-pattern",
        "expiry_range" => "--expiry-range",
        "pipeline" => "--pipeline",
        "clients" => "--clients",
        "threads" => "--threads",
        "rate_limiting" => "--rate-limiting",
        "requests" => "--requests",
        "test_time_s" => "--test-time",
        _ => return None,
    })
}

/// A float as RON reads it back exactly (Rust's shortest round-trip form, with a point).
fn ron_f64(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains(['.', 'e', 'E']) || !v.is_finite() {
        s
    } else {
        format!("{s}.0")
    }
}

// Value checks, each as memtier_benchmark.cpp makes it (strtoul/strtod with nothing
// left over), with memtier's message.

fn positive_u32(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err("expected an integer greater than zero".into()),
    }
}

fn non_negative_u32(s: &str) -> Result<u32, String> {
    s.parse::<u32>()
        .map_err(|_| "expected an integer greater than or equal to zero".into())
}

fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err("expected a port number in the range [1-65535]".into()),
    }
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("expected a number greater than zero".into()),
    }
}

fn zipf_exp(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 5.0 => Ok(v),
        _ => Err("expected a number within the interval (0, 5)".into()),
    }
}

fn key_bound(s: &str) -> Result<u64, String> {
    // memtier: "key-minimum must be greater than zero" (the default 0 is only reachable
    // by leaving the flag out).
    match s.parse::<u64>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err("expected an integer greater than zero".into()),
    }
}

fn requests(s: &str) -> Result<Requests, String> {
    if s == "allkeys" {
        return Ok(Requests::AllKeys);
    }
    match s.parse::<u64>() {
        Ok(v) if v > 0 => Ok(Requests::Count(v)),
        _ => Err("expected an integer greater than zero, or allkeys".into()),
    }
}

/// config_ratio: "[0-n]:[0-n]", at least one side non-zero.
fn ratio(s: &str) -> Result<(u32, u32), String> {
    let parsed = s
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    match parsed {
        Some((a, b)) if a > 0 || b > 0 => Ok((a, b)),
        _ => Err("expected [0-n]:[0-n] with a side above zero, e.g. 1:10".into()),
    }
}

/// config_range: "min-max", swapped when min > max, defined when max > 0.
fn range(s: &str) -> Result<(u32, u32), String> {
    let parsed = s
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    match parsed {
        Some((a, b)) if a.max(b) > 0 => Ok((a.min(b), a.max(b))),
        _ => Err("expected [0-n]-[1-n], e.g. 10-100".into()),
    }
}

fn data_size_range(s: &str) -> Result<(u32, u32), String> {
    match range(s) {
        Ok((lo, hi)) if lo >= 1 => Ok((lo, hi)),
        _ => Err("expected [1-n]-[1-n], e.g. 32-1024".into()),
    }
}

/// config_weight_list: "size1:weight1,...,sizeN:weightN".
fn weight_list(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.split(',').all(|item| {
            item.split_once(':')
                .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
        });
    if ok {
        Ok(s.to_string())
    } else {
        Err("expected [size1:weight1],...[sizeN:weightN], e.g. 32:10,1024:1".into())
    }
}

fn key_pattern(s: &str) -> Result<String, String> {
    let c: Vec<char> = s.chars().collect();
    let letter = |c: char| "SRGPZ".contains(c);
    if c.len() != 3 || c[1] != ':' || !letter(c[0]) || !letter(c[2]) {
        return Err("expected [S/R/G/P/Z]:[S/R/G/P/Z], e.g. R:R".into());
    }
    if (c[0] == 'P' || c[2] == 'P') && c[0] != c[2] {
        return Err("expected P for both SET and GET or for neither (memtier: \"parallel key-pattern must be configured for both SET and GET commands\")".into());
    }
    Ok(s.to_string())
}

fn data_size_pattern(s: &str) -> Result<char, String> {
    match s {
        "R" => Ok('R'),
        "S" => Ok('S'),
        _ => Err("expected R or S".into()),
    }
}

fn monitor_pattern(s: &str) -> Result<char, String> {
    match s.to_ascii_uppercase().as_str() {
        "S" => Ok('S'),
        "R" => Ok('R'),
        _ => Err("expected S (sequential) or R (random)".into()),
    }
}

fn stats_breakdown(s: &str) -> Result<String, String> {
    if s.eq_ignore_ascii_case("command") || s.eq_ignore_ascii_case("line") {
        Ok(s.to_string())
    } else {
        Err("expected command or line".into())
    }
}

/// config_quantiles: "[0.0-100.0],[0.0-100.0](,...)".
fn quantiles(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.split(',').all(|q| q.parse::<f32>().is_ok()) {
        Ok(s.to_string())
    } else {
        Err("expected [0.0-100.0],[0.0-100.0](,...), e.g. 50,99,99.9".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_a_place() {
        // Each argument is mapped (a workload field or the cluster's mode), warned about
        // (UNMODELLED) or refused; this list holds the mapped and refused ones, so a flag
        // added to the command without a decision fails here.
        const MAPPED_OR_REFUSED: &[&str] = &[
            "requests",
            "clients",
            "threads",
            "test_time",
            "ratio",
            "pipeline",
            "rate_limiting",
            "cluster_mode",
            "data_size",
            "random_data",
            "data_size_range",
            "data_size_list",
            "data_size_pattern",
            "expiry_range",
            "key_prefix",
            "key_minimum",
            "key_maximum",
            "key_pattern",
            "key_stddev",
            "key_median",
            "key_zipf_exp",
            "protocol",
            "command",
            "command_key_pattern",
            "command_ratio",
            "monitor_input",
            "scan_incremental_iteration",
            "scan_incremental_max_iterations",
            "data_import",
            "data_verify",
            "verify_only",
            "no_expiry",
            "help",
            "version",
        ];
        super::super::assert_every_option_placed(
            &MemtierArgv::command(),
            UNMODELLED,
            MAPPED_OR_REFUSED,
        );
    }

    #[test]
    fn the_readme_names_every_flag() {
        let part = super::super::readme_part("memtier_benchmark (");
        assert!(part.contains("| flag |"), "the README's table");
        for arg in MemtierArgv::command().get_arguments() {
            assert!(
                super::super::readme_names(part, arg),
                "the README does not name {:?}",
                arg.get_id()
            );
        }
    }
}
