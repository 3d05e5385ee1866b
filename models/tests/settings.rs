//! Every field of a resolved `RunConfig` is read by the world: perturbing it changes the
//! result's figures (compared by digest, with the configuration itself set aside), unless
//! the field is listed here as report-only, with the reason. Four small base scenarios
//! between them set every optional field, so each field is perturbed from a set value
//! in at least one of them. Only what the run measured is compared: the figures a
//! result carries straight from the configuration (the cost model, the exact shard
//! shares, allowances, the run's length) are set aside with the configuration. A field
//! added to `RunConfig` and read by nothing fails this test until it is read or listed.
//! A perturbation that makes the world panic (an MTU below its headers, say: the
//! resolver would refuse it) counts as not read.

use models::scenario::load_str;
use models::scenario::resolve::RunConfig;
use models::world::{simulate, RunResult};
use serde_json::Value;
use std::collections::BTreeMap;

/// Fields that do not change a run's figures, and why. A path ending in `.*` covers
/// everything below it.
const REPORT_ONLY: &[(&str, &str)] = &[
    ("scenario_name", "names the report"),
    ("variant_name", "names the report"),
    ("report.*", "chooses what the report shows"),
    (
        "cluster.instance.name",
        "names the type; its figures are in `spec`",
    ),
    (
        "clients.instance.name",
        "names the type; its figures are in `spec`",
    ),
    (
        "cluster.instance.spec.source.*",
        "where each figure comes from",
    ),
    (
        "clients.instance.spec.source.*",
        "where each figure comes from",
    ),
    (
        "cluster.instance.spec.memory_bytes",
        "read at resolution: it sets node.maxmemory_bytes, which the world reads",
    ),
    (
        "clients.instance.spec.memory_bytes",
        "client hosts hold no data",
    ),
    (
        "clients.workload.rate_limit.requests_per_second",
        "memtier's --rate-limiting as given; the world reads the interval and the \
         requests per interval resolved from it",
    ),
    (
        "cluster.replicas_per_shard",
        "always 0: a value above 0 is refused until replication is modelled",
    ),
    (
        "zones.names[]",
        "names the zones in reports; hosts and pairs refer to zones by index",
    ),
];

fn report_only(path: &str) -> bool {
    REPORT_ONLY.iter().any(|(p, _)| match p.strip_suffix(".*") {
        Some(prefix) => path == prefix || path.starts_with(&format!("{prefix}.")),
        None => path == *p,
    })
}

/// Enum names any string field might take.
const ENUM_NAMES: &[&str] = &[
    "redis",
    "valkey",
    "standalone",
    "cluster",
    "crc16",
    "rank_modulo",
    "noeviction",
    "allkeys_lru",
    "allkeys_lfu",
    "allkeys_random",
    "volatile_lru",
    "volatile_lfu",
    "volatile_random",
    "volatile_ttl",
    "full",
    "empty",
    "poisson",
    "fixed_rate",
    "sequential",
    "random",
    "gaussian",
    "parallel",
    "zipf",
];

const BASES: [&str; 5] = [
    // Cluster of burstable nodes with CPU credits, prefill, expiries, closed loop.
    r#"(name: "a", description: "a", seed: 3, duration_ms: 1500, warmup_ms: 300,
        network: (latency_us: 30, jitter_us: 5),
        instances: {
            "tclient": (vcpu: 2, memory_bytes: 1_073_741_824, baseline_bits_per_s: 5_000_000_000,
                        cpu_credits: (earn_per_hour: 24, max_credits: 576,
                                      baseline_permille_per_vcpu: 200),
                        source: "test"),
        },
        cluster: (engine: redis, mode: cluster, shards: 2, instance: "cache.t4g.micro",
                  node: (io_threads: 1, maxmemory_policy: allkeys_lru),
                  cpu_cost: (per_read_batch_ns: 3000, per_command_ns: 900, per_byte_ps: 300)),
        clients: (hosts: 1, instance: "tclient",
                  cpu_cost: (per_request_ns: 1500, per_reply_ns: 2500, per_byte_ps: 200),
                  workload: (ratio: "1:3", key_pattern: "R:G", key_minimum: 5,
                  key_maximum: 3000, key_prefix: "k-", key_stddev: 300.0, key_median: 1200.0,
                  data_size: 400, pipeline: 2, clients: 3, threads: 2, test_time_s: 1,
                  expiry_range: "1-2")),
        prefill: (keys: 2000, key_minimum: 3, value_bytes: 300),
        net_credits_at_start: fraction(0.000001),
        cpu_credits_at_start: empty,
    )"#,
    // Open loop, Zipf keys, rank-modulo placement, I/O threads, a request count, a
    // shaped custom instance with a pps allowance and a small queue.
    r#"(name: "b", description: "b", seed: 4, duration_ms: 1500, warmup_ms: 200,
        network: (latency_us: 60, jitter_us: 0, mtu_bytes: 1500, ip_tcp_header_bytes: 52,
                  link_header_bytes: 14),
        instances: {
            "shaped": (vcpu: 2, memory_bytes: 1_073_741_824, baseline_bits_per_s: 20_000_000,
                       burst_bits_per_s: 80_000_000, net_credit_capacity_bits: 30_000_000,
                       pps_limit_per_s: 3_000, queue_limit_bytes: 200_000,
                       cpu_credits: (earn_per_hour: 12, max_credits: 288,
                                     baseline_permille_per_vcpu: 100),
                       source: "test"),
            "client": (vcpu: 4, memory_bytes: 1_073_741_824, baseline_bits_per_s: 150_000_000,
                       burst_bits_per_s: 300_000_000, net_credit_capacity_bits: 90_000_000,
                       pps_limit_per_s: 9_000, queue_limit_bytes: 300_000,
                       cpu_credits: (earn_per_hour: 12, max_credits: 288,
                                     baseline_permille_per_vcpu: 100),
                       source: "test"),
        },
        cluster: (engine: valkey, mode: cluster, shards: 3, instance: "shaped",
                  placement: rank_modulo, node: (io_threads: 3)),
        clients: (instance: "client", hosts: 2,
                  workload: (ratio: "2:5", key_pattern: "Z:Z", key_zipf_exp: 0.9,
                             key_maximum: 5000, data_size_range: "100-3000", pipeline: 3,
                             clients: 2, threads: 1, requests: 150,
                             open_loop: (process: poisson, rate_rps: 900, queue_depth: 3))),
        net_credits_at_start: fraction(0.5),
    )"#,
    // Standalone, rate-limited, weighted sizes, sequential keys, tight memory.
    // Its client host is burstable, with a sliver of CPU credits that runs out.
    r#"(name: "c", description: "c", seed: 5, duration_ms: 1500, warmup_ms: 100,
        instances: {
            "tc": (vcpu: 1, memory_bytes: 1_073_741_824, baseline_bits_per_s: 5_000_000_000,
                   cpu_credits: (earn_per_hour: 6, max_credits: 1,
                                 baseline_permille_per_vcpu: 200),
                   source: "test"),
        },
        cpu_credits_at_start: fraction(0.0001),
        cluster: (engine: redis, mode: standalone, instance: "cache.r7g.large",
                  node: (maxmemory_bytes: 1_200_000, maxmemory_policy: allkeys_random)),
        clients: (instance: "tc", workload: (ratio: "3:1", key_pattern: "S:S", key_maximum: 20000,
                             data_size_list: "200:3,900:1", pipeline: 1, clients: 4,
                             threads: 1, rate_limiting: 400, test_time_s: 1)),
        prefill: (keys: 500, key_minimum: 10000),
    )"#,
    // CPU credits that run out: a credit is a vCPU-minute, so only a long run with
    // costly commands spends a whole bucket (here 1 credit, gone after about 60 s).
    r#"(name: "d", description: "d", seed: 6, duration_s: 90, warmup_s: 1,
        instances: {
            "burstable": (vcpu: 2, memory_bytes: 1_073_741_824, baseline_bits_per_s: 1_000_000_000,
                          cpu_credits: (earn_per_hour: 1, max_credits: 1,
                                        baseline_permille_per_vcpu: 200),
                          source: "test"),
        },
        cluster: (mode: standalone, instance: "burstable",
                  cpu_cost: (per_command_ns: 10_000_000)),
        clients: (workload: (key_maximum: 100, clients: 2, threads: 1, test_time_s: 90)),
    )"#,
    // Zones with a pair of their own, and a fault of every kind: an outage longer than
    // the reset time, a degradation, a NIC rate cap that binds, a crash and restart.
    r#"(name: "e", description: "e", seed: 7, duration_ms: 2500, warmup_ms: 200,
        network: (latency_us: 40, jitter_us: 4, zones: ["a", "b", "c"],
                  cross_zone_latency_us: 300, cross_zone_jitter_us: 20,
                  zone_pairs: [(zones: ("c", "a"), latency_us: 700, jitter_us: 10)],
                  tcp_reset_after_ms: 600),
        cluster: (mode: cluster, shards: 3, instance: "cache.r7g.large", zones: ["a", "b", "c"]),
        clients: (hosts: 2, zones: ["a", "c"],
                  workload: (key_maximum: 2000, data_size: 3000, pipeline: 4, clients: 3,
                             threads: 1)),
        faults: [
            (at_ms: 300, for_ms: 1000, outage: (["client-0"], ["redis-0"])),
            (at_ms: 200, degrade: (between: (["client-1"], ["redis-1"]),
                                   extra_latency_us: 500, loss: 0.05)),
            (at_ms: 500, for_ms: 1000, nic_rate: (host: "redis-2", bits_per_s: 20_000_000)),
            (at_ms: 1500, for_ms: 500, crash: "redis-1"),
        ],
    )"#,
];

fn base_config(text: &str) -> RunConfig {
    let scenario = load_str(text, "settings.ron").unwrap_or_else(|e| panic!("{e}"));
    scenario.resolved_variants()[0].config.clone()
}

/// The digest of what a run measured: the configuration, and the figures a result
/// copies or computes from it without simulating, are replaced by the base run's.
fn figures(config: &RunConfig, base: &RunResult) -> Option<String> {
    let mut result: RunResult = std::panic::catch_unwind(|| simulate(config)).ok()?.ok()?;
    result.config = base.config.clone();
    result.cpu_cost = base.cpu_cost;
    result.end_ns = base.end_ns;
    result.shards.placement = base.shards.placement.clone();
    result.shards.share_exact = base.shards.share_exact.clone();
    result.shards.share_exact_error_bound = base.shards.share_exact_error_bound;
    for (r, b) in result.resources.iter_mut().zip(&base.resources) {
        r.capacity_per_s = b.capacity_per_s;
    }
    Some(result.digest())
}

/// Every leaf of a JSON value with its dotted path (array elements as `[]`).
fn leaves(
    v: &Value,
    path: &str,
    out: &mut Vec<(String, Vec<PathStep>, Value)>,
    steps: Vec<PathStep>,
) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let mut s = steps.clone();
                s.push(PathStep::Key(k.clone()));
                leaves(child, &p, out, s);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let mut s = steps.clone();
                s.push(PathStep::Index(i));
                leaves(child, &format!("{path}[]"), out, s);
            }
        }
        leaf => out.push((path.to_string(), steps, leaf.clone())),
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, steps: &[PathStep]) -> &'a mut Value {
    steps.iter().fold(v, |v, s| match s {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

/// Other values to try for a leaf, most likely to matter first.
fn candidates(v: &Value) -> Vec<Value> {
    match v {
        Value::Bool(b) => vec![Value::Bool(!b)],
        Value::Number(n) if n.is_u64() => {
            let n = n.as_u64().expect("u64");
            let mut c = vec![n.saturating_mul(2), n / 2, n + 1, 1, 1_000, 1_000_000];
            c.retain(|&x| x != n);
            c.dedup();
            c.into_iter().map(Value::from).collect()
        }
        Value::Number(n) => {
            let x = n.as_f64().expect("a number");
            [x * 2.0, x / 2.0, x + 0.5, 0.5, 1.2]
                .into_iter()
                .filter(|&y| y != x)
                .map(Value::from)
                .collect()
        }
        Value::String(s) => ENUM_NAMES
            .iter()
            .filter(|&&e| e != s)
            .map(|&e| Value::from(e))
            .chain([Value::from(format!("{s}x"))])
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_setting_changes_the_figures_or_is_listed_as_report_only() {
    // Some perturbations make a world that panics (an MTU below its headers, say): that
    // counts as not reading the field, and its message would only be noise.
    std::panic::set_hook(Box::new(|_| {}));
    // Per field: set in some base, read in some base.
    let mut set_in: BTreeMap<String, bool> = BTreeMap::new();
    let mut read_in: BTreeMap<String, bool> = BTreeMap::new();
    for text in BASES {
        let base = base_config(text);
        let base_json = serde_json::to_value(&base).expect("configs serialize");
        let base_result = simulate(&base).expect("the base runs");
        let base_figures = figures(&base, &base_result).expect("the base runs");
        let mut fields = Vec::new();
        leaves(&base_json, "", &mut fields, Vec::new());
        for (path, steps, value) in fields {
            let set = !value.is_null();
            *set_in.entry(path.clone()).or_default() |= set;
            read_in.entry(path.clone()).or_default();
            if !set || report_only(&path) || read_in[&path] {
                continue;
            }
            for candidate in candidates(&value) {
                let mut json = base_json.clone();
                *at(&mut json, &steps) = candidate;
                let Ok(perturbed) = serde_json::from_value::<RunConfig>(json) else {
                    continue;
                };
                if figures(&perturbed, &base_result).is_some_and(|f| f != base_figures) {
                    read_in.insert(path.clone(), true);
                    break;
                }
            }
        }
    }
    drop(std::panic::take_hook());
    // An option unset in one base is covered by its fields where another sets it.
    let covered = |p: &str| {
        set_in.iter().any(|(k, &set)| {
            set && (k == p || k.starts_with(&format!("{p}.")) || k.starts_with(&format!("{p}[")))
        })
    };
    let never_set: Vec<&String> = set_in
        .keys()
        .filter(|p| !covered(p) && !report_only(p))
        .collect();
    assert!(
        never_set.is_empty(),
        "no base sets these fields: {never_set:?}"
    );
    let unread: Vec<&String> = read_in
        .iter()
        .filter(|(p, &read)| !read && set_in[*p] && !report_only(p))
        .map(|(p, _)| p)
        .collect();
    assert!(
        unread.is_empty(),
        "perturbing these fields changes no figure; read them or list them as report-only: {unread:?}"
    );
    // The list names only fields that exist.
    for (p, _) in REPORT_ONLY {
        let prefix = p.strip_suffix(".*").unwrap_or(p);
        assert!(
            set_in
                .keys()
                .any(|k| k == prefix || k.starts_with(&format!("{prefix}."))),
            "REPORT_ONLY names {p}, which is not a field"
        );
    }
}
