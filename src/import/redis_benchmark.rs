//! redis-benchmark's command line (Redis 7.0.15) as a clap command, and its mapping onto
//! kvsim's memtier-style workload.
//!
//! Source followed: redis-7.0.15/src/redis-benchmark.c (`parseOptions`, the defaults set
//! in `main`, `createMissingClients`, `randomizeClientKey`, `genBenchmarkRandomData` and
//! the test suite in `main`). Values are clamped where redis-benchmark clamps them (`-d`
//! to [1, 1 GiB], `-P` up to 1, `-r` up to 0, `--threads` to [0, 500]); a value that is
//! not a number is refused, where redis-benchmark's `atoi` would read it as 0.
//!
//! How the tool maps onto the workload:
//! - One redis-benchmark process is one thread driving all its connections (`threads: 1,
//!   clients: -c`); with `--threads N` its `-c` connections are dealt round robin over N
//!   threads, each a memtier-style thread (`threads: N, clients: ceil(c / N)`).
//! - `-n` is a total over all connections; the workload's `requests` is per connection,
//!   so each gets `ceil(n / c)`.
//! - Each test of the suite is its own run: SET is `ratio: "1:0"`, GET `"0:1"`; both
//!   selected make two variants, SET then GET, as redis-benchmark runs them. The other
//!   tests (PING, INCR, lists, sets, ...) are not modelled and are named in a warning.
//! - Keys are `key:` and twelve digits (`key:__rand_int__`, expanded by `-r`): indices
//!   start at 10^11 so every key has twelve digits and the same 16 bytes as
//!   redis-benchmark's. Without `-r` (or with `-r 0`) every request uses one key.
//!
//! Invariant: as for memtier, every argument given lands in a workload field, a warning
//! ([`UNMODELLED`]) or a refusal, each naming it.

use super::{
    argv_error, duration_for_requests_s, given, position, Draft, Field, Variant,
    DURATION_FOR_REQUESTS_NOTE,
};
use clap::{CommandFactory, FromArgMatches, Parser};
use models::client_cpu::ClientCpuCost;

/// redis-benchmark's defaults (redis-benchmark.c `main`).
pub mod defaults {
    pub const CLIENTS: u32 = 50;
    pub const REQUESTS: u64 = 100_000;
    pub const DATA_SIZE_BYTES: u32 = 3;
    pub const PIPELINE: u32 = 1;
    /// `--threads 0`: no threads, the main event loop drives every connection.
    pub const THREADS: u32 = 0;
    pub const MAX_THREADS: u32 = 500;
    pub const MAX_DATA_SIZE_BYTES: u32 = 1024 * 1024 * 1024;
    /// The first key index: twelve digits, as `__rand_int__` expands to.
    pub const KEY_INDEX_BASE: u64 = 100_000_000_000;
    pub const KEY_PREFIX: &str = "key:";
}

/// The client cost of one redis-benchmark process, about 15 us a request and its reply
/// (docs/REFERENCES.md section 4: 64K-70K 100-byte GETs a second from one process),
/// split 1:2 between request and reply as kvsim's default cost splits it.
const REDIS_BENCHMARK_CPU: ClientCpuCost = ClientCpuCost {
    per_request_ns: 5_000,
    per_reply_ns: 10_000,
    per_byte_ps: ClientCpuCost::DEFAULT.per_byte_ps,
};

/// redis-benchmark's options, as `parseOptions` reads them (no `--opt=value` form, no
/// abbreviations: it compares each word whole).
#[derive(Parser, Debug)]
#[command(
    name = "redis-benchmark",
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct RedisBenchmarkArgv {
    #[arg(short = 'h', value_name = "hostname")]
    host: Option<String>,
    #[arg(short = 'p', value_name = "port", value_parser = integer, allow_hyphen_values = true)]
    port: Option<i64>,
    #[arg(short = 's', value_name = "socket")]
    socket: Option<String>,
    #[arg(short = 'a', value_name = "password")]
    password: Option<String>,
    #[arg(long = "user", value_name = "username")]
    user: Option<String>,
    #[arg(short = 'u', value_name = "uri")]
    uri: Option<String>,
    #[arg(short = 'c', value_name = "clients", value_parser = positive, allow_hyphen_values = true)]
    clients: Option<u32>,
    #[arg(short = 'n', value_name = "requests", value_parser = positive, allow_hyphen_values = true)]
    requests: Option<u32>,
    #[arg(short = 'd', value_name = "size", value_parser = integer, allow_hyphen_values = true)]
    data_size: Option<i64>,
    #[arg(long = "dbnum", value_name = "db", value_parser = integer, allow_hyphen_values = true)]
    dbnum: Option<i64>,
    #[arg(short = '3')]
    resp3: bool,
    #[arg(long = "threads", value_name = "num", value_parser = integer, allow_hyphen_values = true)]
    threads: Option<i64>,
    #[arg(long = "cluster")]
    cluster: bool,
    #[arg(long = "enable-tracking")]
    enable_tracking: bool,
    #[arg(short = 'k', value_name = "boolean", value_parser = integer, allow_hyphen_values = true)]
    keepalive: Option<i64>,
    #[arg(short = 'r', value_name = "keyspacelen", value_parser = integer, allow_hyphen_values = true)]
    keyspace: Option<i64>,
    #[arg(short = 'P', value_name = "numreq", value_parser = integer, allow_hyphen_values = true)]
    pipeline: Option<i64>,
    #[arg(short = 'q')]
    quiet: bool,
    #[arg(long = "precision", value_name = "digits", value_parser = integer, allow_hyphen_values = true)]
    precision: Option<i64>,
    #[arg(long = "csv")]
    csv: bool,
    #[arg(short = 'l')]
    loop_forever: bool,
    #[arg(short = 't', value_name = "tests", value_parser = tests)]
    tests: Option<TestList>,
    #[arg(short = 'I')]
    idle: bool,
    #[arg(short = 'x')]
    stdin_arg: bool,
    #[arg(short = 'e')]
    exit_on_error: bool,
    #[arg(long = "tls")]
    tls: bool,
    #[arg(long = "sni", value_name = "host")]
    sni: Option<String>,
    #[arg(long = "cacert", value_name = "file")]
    cacert: Option<String>,
    #[arg(long = "cacertdir", value_name = "dir")]
    cacertdir: Option<String>,
    #[arg(long = "insecure")]
    insecure: bool,
    #[arg(long = "cert", value_name = "file")]
    cert: Option<String>,
    #[arg(long = "key", value_name = "file")]
    key: Option<String>,
    #[arg(long = "tls-ciphers", value_name = "list")]
    tls_ciphers: Option<String>,
    #[arg(long = "tls-ciphersuites", value_name = "list")]
    tls_ciphersuites: Option<String>,
    #[arg(long = "help")]
    help: bool,
    #[arg(short = 'v', long = "version")]
    version: bool,
    /// A command to benchmark instead of the suite (`SET foo bar`).
    #[arg(value_name = "COMMAND ARGS", trailing_var_arg = true, num_args = 0..)]
    command: Vec<String>,
}

/// `-t`'s list, lower-cased as redis-benchmark lower-cases it (a type of its own: clap
/// would read a bare `Vec` as an option taking many values).
#[derive(Clone, Debug)]
struct TestList(Vec<String>);

/// redis-benchmark's tests in the order it runs them, with the names `-t` selects each
/// by (redis-benchmark.c `main`: `test_is_selected`).
const SUITE: &[(&str, &[&str])] = &[
    ("PING_INLINE", &["ping_inline", "ping"]),
    ("PING_MBULK", &["ping_mbulk", "ping"]),
    ("SET", &["set"]),
    ("GET", &["get"]),
    ("INCR", &["incr"]),
    ("LPUSH", &["lpush"]),
    ("RPUSH", &["rpush"]),
    ("LPOP", &["lpop"]),
    ("RPOP", &["rpop"]),
    ("SADD", &["sadd"]),
    ("HSET", &["hset"]),
    ("SPOP", &["spop"]),
    ("ZADD", &["zadd"]),
    ("ZPOPMIN", &["zpopmin"]),
    (
        "LPUSH (needed to benchmark LRANGE)",
        &[
            "lrange",
            "lrange_100",
            "lrange_300",
            "lrange_500",
            "lrange_600",
        ],
    ),
    ("LRANGE_100", &["lrange", "lrange_100"]),
    ("LRANGE_300", &["lrange", "lrange_300"]),
    ("LRANGE_500", &["lrange", "lrange_500"]),
    ("LRANGE_600", &["lrange", "lrange_600"]),
    ("MSET (10 keys)", &["mset"]),
];

/// Flags kvsim has no model for, with what the warning says.
const UNMODELLED: &[(&str, &str)] = &[
    ("host", "a connection detail, not used: the clients reach the simulated cluster"),
    ("port", "a connection detail, not used: the clients reach the simulated cluster"),
    ("password", "a connection detail, not used (no AUTH is simulated)"),
    ("user", "a connection detail, not used (no AUTH is simulated)"),
    ("uri", "a connection detail, not used: the clients reach the simulated cluster"),
    ("dbnum", "a connection detail, not used (the simulated store has database 0 only)"),
    ("socket", "not modelled: the clients reach the cluster over the simulated TCP network, whose latency and packets a Unix socket would not have"),
    ("resp3", "not modelled: the simulated clients speak RESP2 and send no HELLO (a SET's and a GET's replies are the same bytes in RESP3)"),
    ("tls", "not modelled: TLS's encryption CPU and record bytes are not simulated; the scenario runs in plain TCP"),
    ("sni", "a TLS detail, not used (TLS is not modelled)"),
    ("cacert", "a TLS detail, not used (TLS is not modelled)"),
    ("cacertdir", "a TLS detail, not used (TLS is not modelled)"),
    ("insecure", "a TLS detail, not used (TLS is not modelled)"),
    ("cert", "a TLS detail, not used (TLS is not modelled)"),
    ("key", "a TLS detail, not used (TLS is not modelled)"),
    ("tls_ciphers", "a TLS detail, not used (TLS is not modelled)"),
    ("tls_ciphersuites", "a TLS detail, not used (TLS is not modelled)"),
    ("quiet", "an output choice, not used"),
    ("csv", "an output choice, not used: `kvsim run --format csv` prints the time series"),
    ("precision", "an output choice, not used"),
    ("loop_forever", "not modelled: the scenario runs each test once"),
    ("enable_tracking", "not modelled: no CLIENT TRACKING (client-side caching) is simulated"),
    ("exit_on_error", "no effect (redis-benchmark says so too)"),
    ("stdin_arg", "no effect without a command to benchmark (redis-benchmark ignores it)"),
];

/// Parses redis-benchmark's argv into a scenario draft, or says which flag is wrong.
pub fn draft(argv: &[String]) -> Result<Draft, String> {
    const TOOL: &str = "redis-benchmark";
    let command = RedisBenchmarkArgv::command();
    let m = command
        .clone()
        .try_get_matches_from(argv)
        .map_err(|e| argv_error(TOOL, &command, &e))?;
    let a = RedisBenchmarkArgv::from_arg_matches(&m).map_err(|e| argv_error(TOOL, &command, &e))?;
    let flag = |id: &str| -> String {
        let arg = command.get_arguments().find(|arg| arg.get_id() == id);
        match (
            arg.and_then(|a| a.get_long()),
            arg.and_then(|a| a.get_short()),
        ) {
            (Some(l), _) => format!("--{l}"),
            (None, Some(s)) => format!("-{s}"),
            (None, None) => id.to_string(),
        }
    };
    let refuse = |id: &str, why: &str| Err(format!("{TOOL}: {}: {why}", flag(id)));

    if a.help || a.version {
        let id = if a.help { "help" } else { "version" };
        return refuse(
            id,
            "redis-benchmark prints and exits on it: there is no benchmark to import",
        );
    }
    if a.idle {
        return refuse("idle", "not modelled: idle mode opens connections and sends nothing, so there is no workload to import");
    }
    if !a.command.is_empty() {
        return Err(format!(
            "{TOOL}: the command to benchmark ({}) is not modelled: kvsim's workload is the SET and GET tests of redis-benchmark's suite (-t set,get)",
            a.command.join(" ")
        ));
    }

    // The tests to run, in the suite's order.
    let selected = |names: &[&str]| match &a.tests {
        None => true,
        Some(TestList(list)) => names.iter().any(|n| list.iter().any(|t| t == n)),
    };
    let run: Vec<&str> = SUITE
        .iter()
        .filter(|(_, names)| selected(names))
        .map(|(title, _)| *title)
        .collect();
    let modelled: Vec<&str> = run
        .iter()
        .copied()
        .filter(|t| *t == "SET" || *t == "GET")
        .collect();
    let skipped: Vec<&str> = run
        .iter()
        .copied()
        .filter(|t| *t != "SET" && *t != "GET")
        .collect();
    if modelled.is_empty() {
        return refuse(
            "tests",
            &format!(
                "none of the selected tests is modelled ({}): kvsim's workload is SET and GET",
                skipped.join(", ")
            ),
        );
    }
    let mut warnings = Vec::new();
    if !skipped.is_empty() {
        let (index, what) = if a.tests.is_some() {
            (position(&m, "tests"), "-t: the tests".to_string())
        } else {
            (
                0,
                "-t (absent): redis-benchmark's default suite also runs".to_string(),
            )
        };
        warnings.push((
            index,
            format!(
                "{what} {} are not modelled (kvsim's workload is SET and GET): the scenario has the {} test{} only",
                skipped.join(", "),
                modelled.join(" and "),
                if modelled.len() > 1 { "s" } else { "" }
            ),
        ));
    }

    let default_from = |id: &str, value: String| -> String {
        if given(&m, id) {
            flag(id)
        } else {
            format!("redis-benchmark's default ({value})")
        }
    };
    let connections = a.clients.unwrap_or(defaults::CLIENTS);
    // --threads: below 0 is 0, above 500 is 500; with --cluster and no --threads, one
    // thread per primary (redis-benchmark.c `main`).
    let cluster_shards = a.cluster.then_some(super::CLUSTER_SHARDS_DEFAULT);
    let threads_given = a
        .threads
        .map(|t| t.clamp(0, i64::from(defaults::MAX_THREADS)) as u32)
        .unwrap_or(defaults::THREADS);
    let (threads_asked, threads_from) = match (threads_given, cluster_shards) {
        (0, Some(shards)) => (
            shards,
            format!("--cluster: one thread per primary ({shards})"),
        ),
        (0, None) => (
            1,
            default_from(
                "threads",
                "no threads: its main loop drives every connection".into(),
            ),
        ),
        (t, _) => (t, flag("threads")),
    };
    // createMissingClients deals connection i to thread i mod N: threads beyond the
    // connections get none, and the others differ by at most one connection.
    let threads = threads_asked.min(connections);
    let clients = connections.div_ceil(threads);
    if clients * threads != connections {
        warnings.push((
            position(&m, "clients"),
            format!(
                "-c {connections} over {threads} threads: redis-benchmark gives some threads one connection fewer; the scenario gives each thread {clients} ({} connections)",
                clients * threads
            ),
        ));
    }
    let total = a.requests.map_or(defaults::REQUESTS, u64::from);
    let per_connection = total.div_ceil(u64::from(connections));
    if per_connection * u64::from(connections) != total {
        warnings.push((
            position(&m, "requests"),
            format!(
                "-n {total} over {connections} connections: the scenario's count is per connection, {per_connection} each ({} in all)",
                per_connection * u64::from(connections)
            ),
        ));
    }
    let data_size = a
        .data_size
        .map(|d| d.clamp(1, i64::from(defaults::MAX_DATA_SIZE_BYTES)) as u32)
        .unwrap_or(defaults::DATA_SIZE_BYTES);
    let pipeline = a
        .pipeline
        .map(|p| p.clamp(1, i64::from(u32::MAX)) as u32)
        .unwrap_or(defaults::PIPELINE);
    // -r N: keys drawn uniformly from N (randomizeClientKey: random() % N); 0 or no -r:
    // one key.
    let keys = a
        .keyspace
        .map_or(1, |r| r.clamp(1, i64::from(i32::MAX)) as u64);
    let keys_from = match a.keyspace {
        Some(r) if r > 0 => format!("-r {r}: {keys} keys"),
        Some(r) => format!("-r {r}: every request uses one key (random() % 0 is taken as 0)"),
        None => "no -r: every request uses the one key key:__rand_int__".to_string(),
    };
    let key_minimum = defaults::KEY_INDEX_BASE;
    let key_maximum = defaults::KEY_INDEX_BASE + keys - 1;

    let ratio_of = |test: &str| if test == "SET" { "1:0" } else { "0:1" };
    let mut workload = vec![Field::string(
        "ratio",
        ratio_of(modelled[0]),
        format!("the {} test", modelled[0]),
    )];
    workload.push(Field::string(
        "key_pattern",
        "R:R",
        "random keys, as __rand_int__ draws them",
    ));
    workload.push(Field::new(
        "key_minimum",
        key_minimum.to_string(),
        "twelve-digit indices, as __rand_int__ expands to: 16-byte keys",
    ));
    workload.push(Field::new(
        "key_maximum",
        key_maximum.to_string(),
        keys_from,
    ));
    workload.push(Field::string(
        "key_prefix",
        defaults::KEY_PREFIX,
        "the suite's key:__rand_int__",
    ));
    workload.push(Field::new(
        "data_size",
        data_size.to_string(),
        default_from("data_size", defaults::DATA_SIZE_BYTES.to_string()),
    ));
    workload.push(Field::new(
        "random_data",
        "true",
        "the suite's values are pseudo-random characters (genBenchmarkRandomData), not one byte repeated",
    ));
    workload.push(Field::new(
        "pipeline",
        pipeline.to_string(),
        default_from("pipeline", defaults::PIPELINE.to_string()),
    ));
    workload.push(Field::new(
        "clients",
        clients.to_string(),
        if given(&m, "clients") || threads > 1 {
            format!(
                "-c {connections} over {threads} thread{}",
                if threads > 1 { "s" } else { "" }
            )
        } else {
            format!("redis-benchmark's default ({connections})")
        },
    ));
    workload.push(Field::new("threads", threads.to_string(), threads_from));
    workload.push(Field::new(
        "requests",
        per_connection.to_string(),
        if given(&m, "requests") {
            format!("-n {total} in all, over {connections} connections")
        } else {
            format!("redis-benchmark's default -n {total} in all, over {connections} connections")
        },
    ));

    let variants = if modelled.len() > 1 {
        modelled
            .iter()
            .map(|t| Variant {
                name: t.to_string(),
                workload: vec![Field::string("ratio", ratio_of(t), format!("the {t} test"))],
            })
            .collect()
    } else {
        Vec::new()
    };

    if a.keepalive == Some(0) {
        warnings.push((position(&m, "keepalive"), "-k 0: not modelled: connections stay open (redis-benchmark would reconnect for every request)".to_string()));
    }
    if let Some(shards) = cluster_shards {
        warnings.push((
            position(&m, "cluster"),
            format!("--cluster: the scenario's cluster is a Redis Cluster of {shards} shards: redis-benchmark's argv does not say how many primaries the cluster has (set cluster.shards); keys are routed by their CRC16 slot, not redis-benchmark's per-connection {{tag}}, and are 6 bytes shorter than its key:{{tag}}:N"),
        ));
    }
    for (id, why) in UNMODELLED {
        if given(&m, id) {
            warnings.push((position(&m, id), format!("{}: {why}", flag(id))));
        }
    }

    let duration_s = duration_for_requests_s(
        per_connection,
        clients,
        pipeline,
        None,
        REDIS_BENCHMARK_CPU,
        data_size,
    );
    Ok(Draft {
        tool: TOOL,
        argv: argv.to_vec(),
        name: "redis-benchmark-import",
        duration_s,
        duration_note: DURATION_FOR_REQUESTS_NOTE.to_string(),
        cluster_shards,
        workload,
        cpu_cost: Some((
            REDIS_BENCHMARK_CPU,
            "one redis-benchmark thread: about 15 us a request and its reply (docs/REFERENCES.md section 4)",
        )),
        variants,
        notes: vec![
            "The prefill is kvsim's default (the whole key range): the argv does not say what the server holds.".to_string(),
            "redis-benchmark's -n is a total; kvsim's requests count is per connection (-n / -c, rounded up).".to_string(),
        ],
        warnings,
        flag_of: workload_flag,
        duration_flag: None,
    })
}

/// The redis-benchmark flag behind a workload field.
fn workload_flag(field: &str) -> Option<&'static str> {
    Some(match field {
        "data_size" => "-d",
        "pipeline" => "-P",
        "clients" => "-c",
        "threads" => "--threads",
        "requests" => "-n",
        "key_minimum" | "key_maximum" => "-r",
        _ => return None,
    })
}

/// `atoi`'s input, but whole: an integer, possibly negative.
fn integer(s: &str) -> Result<i64, String> {
    s.parse::<i64>()
        .map_err(|_| "expected an integer".to_string())
}

/// A count that must be at least 1 (redis-benchmark reads 0 and runs nothing).
fn positive(s: &str) -> Result<u32, String> {
    match s.parse::<i64>() {
        Ok(v) if v >= 1 && v <= i64::from(i32::MAX) => Ok(v as u32),
        _ => Err("expected an integer from 1 to 2147483647".to_string()),
    }
}

/// `-t`: a comma-separated list of the suite's test names, any case.
fn tests(s: &str) -> Result<TestList, String> {
    let known = |t: &str| SUITE.iter().any(|(_, names)| names.contains(&t));
    let list: Vec<String> = s
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if list.is_empty() {
        return Err("expected a comma-separated list of tests, e.g. set,get".to_string());
    }
    if let Some(bad) = list.iter().find(|t| !known(t)) {
        let mut names: Vec<&str> = SUITE.iter().flat_map(|(_, n)| n.iter().copied()).collect();
        names.sort_unstable();
        names.dedup();
        return Err(format!(
            "unknown test {bad:?}: expected a comma-separated list of {}",
            names.join(", ")
        ));
    }
    Ok(TestList(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_a_place() {
        const MAPPED_OR_REFUSED: &[&str] = &[
            "clients",
            "requests",
            "data_size",
            "threads",
            "cluster",
            "keepalive",
            "keyspace",
            "pipeline",
            "tests",
            "idle",
            "help",
            "version",
            "command",
        ];
        super::super::assert_every_option_placed(
            &RedisBenchmarkArgv::command(),
            UNMODELLED,
            MAPPED_OR_REFUSED,
        );
    }

    #[test]
    fn the_readme_names_every_flag() {
        let part = super::super::readme_part("\nredis-benchmark (one process");
        assert!(part.contains("| flag |"), "the README's table");
        for arg in RedisBenchmarkArgv::command().get_arguments() {
            if arg.is_positional() {
                continue;
            }
            assert!(
                super::super::readme_names(part, arg),
                "the README does not name {:?}",
                arg.get_id()
            );
        }
    }
}
