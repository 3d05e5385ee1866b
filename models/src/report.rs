//! Reports: what one run of a scenario found, as a stable serde structure that renders
//! to JSON (the machine interface), CSV (the per-second series) and text (for people,
//! snapshot-tested). JSON keys inside `ALL STATS` follow memtier_benchmark's names,
//! shape and units (latencies in ms, KB/sec) so memtier tooling reads them; every other
//! name carries its unit last. Invariant: a report holds no wall time, no machine path
//! and nothing hash-ordered, so the same scenario and seed give byte-identical output.

mod findings;
pub mod plot;
mod text;

pub use findings::{Finding, Resource};

use crate::placement::exact_shard_loads;
use crate::scenario::resolve::RunConfig;
use crate::scenario::Scenario;
use crate::world::metrics::CommandStats;
use crate::world::World;
use indexmap::IndexMap;
use serde::Serialize;
use sim::stats::LatencyHistogram;

/// The report of a whole scenario: every variant in the listed order.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub kvsim_version: String,
    pub scenario: ScenarioInfo,
    pub catalog_digest: String,
    pub seed: u64,
    pub variants: Vec<VariantReport>,
    pub comparison: Vec<ComparisonRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub digest: String,
}

/// memtier's per-command block.
#[derive(Clone, Debug, Serialize)]
pub struct MemtierStats {
    #[serde(rename = "Count")]
    pub count: u64,
    #[serde(rename = "Ops/sec")]
    pub ops_per_sec: f64,
    #[serde(rename = "Hits/sec")]
    pub hits_per_sec: f64,
    #[serde(rename = "Misses/sec")]
    pub misses_per_sec: f64,
    #[serde(rename = "Average Latency")]
    pub average_latency: f64,
    #[serde(rename = "Min Latency")]
    pub min_latency: f64,
    #[serde(rename = "Max Latency")]
    pub max_latency: f64,
    #[serde(rename = "KB/sec")]
    pub kb_per_sec: f64,
    #[serde(rename = "Percentile Latencies")]
    pub percentile_latencies: IndexMap<String, f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AllStats {
    #[serde(rename = "Sets")]
    pub sets: MemtierStats,
    #[serde(rename = "Gets")]
    pub gets: MemtierStats,
    #[serde(rename = "Totals")]
    pub totals: MemtierStats,
}

/// Latency percentiles measured from the intended send time (no coordinated omission).
#[derive(Clone, Debug, Serialize)]
pub struct IntendedLatency {
    pub latency_ms_avg: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_p999: f64,
}

/// Mean and p99 of one component of a request's time.
#[derive(Clone, Debug, Serialize)]
pub struct Component {
    pub component: String,
    pub mean_us: f64,
    pub p99_us: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeReport {
    pub name: String,
    pub role: String,
    pub shard: u32,
    pub instance: String,
    pub ops: u64,
    /// Per thread (main first), busy fraction over the measured window.
    pub cpu_utilization: Vec<f64>,
    pub net_in_bytes: u64,
    pub net_out_bytes: u64,
    pub bw_in_allowance_exceeded: u64,
    pub bw_out_allowance_exceeded: u64,
    pub pps_allowance_exceeded: u64,
    /// Network credits left in the egress bucket at the end, in bits.
    pub net_credits_end: u64,
    pub net_credits_in_end_bits: u64,
    pub net_credits_depleted_at_ms: Option<f64>,
    pub drops: u64,
    pub retransmits: u64,
    pub used_memory_bytes: u64,
    pub keys: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ShardLoad {
    pub shard: u32,
    pub ops: u64,
    pub share_measured: f64,
    pub share_exact: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ShardsReport {
    pub placement: String,
    pub per_shard: Vec<ShardLoad>,
    /// Hottest over coldest shard, from requests completed in the measured window
    /// (request-sampled: noisier, and biased upward with few requests per shard).
    pub load_ratio_measured: f64,
    /// Hottest over coldest shard, from the key distribution and placement (expected
    /// shares, no sampling).
    pub load_ratio_exact: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub name: String,
    pub node: Option<String>,
    /// True for a gauge sampled at the start of each second; false for a counter or a
    /// utilization over the whole second.
    pub gauge: bool,
    pub values: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TimeSeries {
    /// Second i covers simulated time [i s, (i + 1) s); seconds before `warmup_s` are
    /// warm-up.
    pub seconds: usize,
    pub warmup_s: f64,
    pub series: Vec<Series>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimulationInfo {
    pub events: u64,
    pub requests_completed: u64,
    pub errors: u64,
    pub client_queue_overflows: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct VariantReport {
    pub name: String,
    pub config: RunConfig,
    /// The engine's CPU cost model after the scenario's overrides.
    pub cpu_cost: crate::engine::CostModel,
    #[serde(rename = "ALL STATS")]
    pub all_stats: AllStats,
    pub latency_intended: IntendedLatency,
    pub latency_breakdown: Vec<Component>,
    pub nodes: Vec<NodeReport>,
    pub client_hosts: Vec<NodeReport>,
    pub shards: ShardsReport,
    pub findings: Vec<Finding>,
    pub timeseries: TimeSeries,
    pub simulation: SimulationInfo,
}

#[derive(Clone, Debug, Serialize)]
pub struct ComparisonRow {
    pub variant: String,
    pub ops_per_sec: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_p99_intended: f64,
    pub kb_per_sec: f64,
    pub binding: String,
    pub load_ratio_measured: f64,
}

fn ms(ns: f64) -> f64 {
    round3(ns / 1e6)
}

/// Rounds to 3 decimals: reports show what is meaningful and stay byte-stable.
pub(crate) fn round3(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

fn memtier(stats: &CommandStats, seconds: f64, hist: &LatencyHistogram) -> MemtierStats {
    let mut pct = IndexMap::new();
    for (label, p) in [("p50.00", 50.0), ("p99.00", 99.0), ("p99.90", 99.9)] {
        pct.insert(label.to_string(), ms(hist.percentile_ns(p) as f64));
    }
    let min_ns = if hist.count() == 0 {
        0
    } else {
        hist.inner().min()
    };
    MemtierStats {
        count: stats.count,
        ops_per_sec: round3(stats.count as f64 / seconds),
        hits_per_sec: round3(stats.hits as f64 / seconds),
        misses_per_sec: round3(stats.misses as f64 / seconds),
        average_latency: ms(if hist.count() == 0 {
            0.0
        } else {
            hist.mean_ns()
        }),
        min_latency: ms(min_ns as f64),
        max_latency: ms(hist.max_ns() as f64),
        kb_per_sec: round3((stats.request_bytes + stats.reply_bytes) as f64 / 1024.0 / seconds),
        percentile_latencies: pct,
    }
}

fn combined(a: &CommandStats, b: &CommandStats) -> CommandStats {
    let mut latency = a.latency.clone();
    latency.merge(&b.latency);
    let mut latency_intended = a.latency_intended.clone();
    latency_intended.merge(&b.latency_intended);
    CommandStats {
        count: a.count + b.count,
        hits: a.hits + b.hits,
        misses: a.misses + b.misses,
        request_bytes: a.request_bytes + b.request_bytes,
        reply_bytes: a.reply_bytes + b.reply_bytes,
        latency,
        latency_intended,
        ..CommandStats::default()
    }
}

/// The report of one variant's finished world.
pub fn variant_report(world: &World) -> VariantReport {
    let config = &world.config;
    let m = &world.metrics;
    let measured_s = window_seconds(world);
    let totals = combined(&m.sets, &m.gets);
    let all_stats = AllStats {
        sets: memtier(&m.sets, measured_s, &m.sets.latency),
        gets: memtier(&m.gets, measured_s, &m.gets.latency),
        totals: memtier(&totals, measured_s, &totals.latency),
    };
    let li = &totals.latency_intended;
    let latency_intended = IntendedLatency {
        latency_ms_avg: ms(if li.count() == 0 { 0.0 } else { li.mean_ns() }),
        latency_ms_p50: ms(li.percentile_ns(50.0) as f64),
        latency_ms_p99: ms(li.percentile_ns(99.0) as f64),
        latency_ms_p999: ms(li.percentile_ns(99.9) as f64),
    };
    let b = &m.breakdown;
    let latency_breakdown = [
        ("client queue", &b.client_queue),
        ("NIC queues and serialization", &b.network_queues),
        ("propagation", &b.propagation),
        ("CPU queue", &b.cpu_queue),
        ("service (batch CPU time)", &b.service),
    ]
    .iter()
    .map(|(name, h)| Component {
        component: name.to_string(),
        mean_us: round3(if h.count() == 0 {
            0.0
        } else {
            h.mean_ns() / 1e3
        }),
        p99_us: round3(h.percentile_ns(99.0) as f64 / 1e3),
    })
    .collect();

    let window = findings::Window::of(config, m.window_end);
    let nodes: Vec<NodeReport> = world
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let fin = &m.nodes_final[i];
            NodeReport {
                role: "primary".into(),
                shard: n.shard,
                ops: m.shard_ops[i],
                cpu_utilization: fin
                    .thread_busy
                    .iter()
                    .map(|b| round3(window.mean_busy(b)))
                    .collect(),
                used_memory_bytes: fin.used_memory_bytes,
                keys: fin.keys,
                ..nic_report(
                    n.name.clone(),
                    &config.cluster.instance.name,
                    &world.net,
                    n.nic,
                    m.end,
                )
            }
        })
        .collect();
    let client_hosts: Vec<NodeReport> = world
        .client_nics
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            nic_report(
                format!("client-{i}"),
                &config.clients.instance.name,
                &world.net,
                id,
                m.end,
            )
        })
        .collect();

    let exact = exact_shard_loads(config, &world.router);
    let total_ops: u64 = m.shard_ops.iter().sum();
    let per_shard: Vec<ShardLoad> = m
        .shard_ops
        .iter()
        .enumerate()
        .map(|(i, &ops)| ShardLoad {
            shard: i as u32,
            ops,
            share_measured: round6(ops as f64 / total_ops.max(1) as f64),
            share_exact: round6(exact[i]),
        })
        .collect();
    let ratio = |v: &[f64]| {
        let max = v.iter().cloned().fold(0.0, f64::max);
        let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
        if min > 0.0 {
            round3(max / min)
        } else {
            0.0
        }
    };
    let measured: Vec<f64> = m.shard_ops.iter().map(|&o| o as f64).collect();
    let shards = ShardsReport {
        placement: match world.router.placement() {
            crate::scenario::spec::Placement::Crc16 => "crc16".into(),
            crate::scenario::spec::Placement::RankModulo => "rank_modulo".into(),
        },
        load_ratio_measured: ratio(&measured),
        load_ratio_exact: ratio(&exact),
        per_shard,
    };

    let findings = findings::findings(world, &window);
    let timeseries = timeseries(world);
    VariantReport {
        name: config.variant_name.clone(),
        config: config.clone(),
        cpu_cost: world.cost,
        all_stats,
        latency_intended,
        latency_breakdown,
        nodes,
        client_hosts,
        shards,
        findings,
        timeseries,
        simulation: SimulationInfo {
            events: m.events,
            requests_completed: totals.count,
            errors: m.errors,
            client_queue_overflows: m.client_queue_overflows,
        },
    }
}

/// A host's report from its NIC alone (a client host; servers add their engine's figures).
fn nic_report(
    name: String,
    instance: &str,
    net: &sim::net::Network,
    id: sim::net::NicId,
    end: sim::SimTime,
) -> NodeReport {
    let nic = net.nic(id);
    NodeReport {
        name,
        role: "client".into(),
        shard: 0,
        instance: instance.to_string(),
        ops: 0,
        cpu_utilization: Vec::new(),
        net_in_bytes: nic.ingress.counters.wire_bytes,
        net_out_bytes: nic.egress.counters.wire_bytes,
        bw_in_allowance_exceeded: nic.ingress.counters.bw_allowance_exceeded,
        bw_out_allowance_exceeded: nic.egress.counters.bw_allowance_exceeded,
        pps_allowance_exceeded: nic.egress.counters.pps_allowance_exceeded
            + nic.ingress.counters.pps_allowance_exceeded,
        net_credits_end: nic.egress.credits_bits(end),
        net_credits_in_end_bits: nic.ingress.credits_bits(end),
        net_credits_depleted_at_ms: nic.egress.depleted_at().map(|t| ms(t.as_ns() as f64)),
        drops: nic.egress.counters.dropped_messages + nic.ingress.counters.dropped_messages,
        retransmits: net.retransmits_from(id),
        used_memory_bytes: 0,
        keys: 0,
    }
}

/// Length of the measured window in seconds (see `Metrics::window_end`).
pub(crate) fn window_seconds(world: &World) -> f64 {
    let from = world.config.warmup_ns;
    (world.metrics.window_end.as_ns().max(from) - from).max(1) as f64 / 1e9
}

fn round6(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        0.0
    }
}

fn timeseries(world: &World) -> TimeSeries {
    let config = &world.config;
    let m = &world.metrics;
    let seconds = config.duration_ns.div_ceil(1_000_000_000) as usize;
    // A total (or utilization) over each second, from a per-second lookup.
    let per_s = |name: &str, node: Option<&str>, value: &dyn Fn(usize) -> f64| Series {
        gauge: false,
        name: name.to_string(),
        node: node.map(str::to_string),
        values: (0..seconds).map(value).collect(),
    };
    // A gauge sampled at the start of each second.
    let gauge = |name: &str, node: &str, samples: &[u64]| Series {
        gauge: true,
        name: name.to_string(),
        node: Some(node.to_string()),
        values: samples.iter().take(seconds).map(|&v| v as f64).collect(),
    };
    let mut series = vec![
        per_s("ops_per_s", None, &|s| m.ops_per_s.get(s) as f64),
        per_s("latency_ms_p99", None, &|s| {
            m.latency_per_s
                .get(s)
                .map(|h| ms(h.percentile_ns(99.0) as f64))
                .unwrap_or(0.0)
        }),
    ];
    for (i, n) in world.nodes.iter().enumerate() {
        let nic = world.net.nic(n.nic);
        let node = n.name.as_str();
        let g = &m.node_gauges[i];
        series.push(per_s("net_out_bits_per_s", Some(node), &|s| {
            (nic.egress.wire_bytes_per_s.get(s) * 8) as f64
        }));
        series.push(per_s("net_in_bits_per_s", Some(node), &|s| {
            (nic.ingress.wire_bytes_per_s.get(s) * 8) as f64
        }));
        series.push(gauge("net_credits_bits", node, &g.egress_credits_bits));
        series.push(gauge("net_credits_in_bits", node, &g.ingress_credits_bits));
        series.push(gauge("used_memory_bytes", node, &g.used_memory_bytes));
        series.push(per_s("bw_out_allowance_exceeded_per_s", Some(node), &|s| {
            nic.egress.bw_allowance_exceeded_per_s.get(s) as f64
        }));
        series.push(per_s("drops_per_s", Some(node), &|s| {
            (nic.egress.drops_per_s.get(s) + nic.ingress.drops_per_s.get(s)) as f64
        }));
        for (t, busy) in m.nodes_final[i].thread_busy.iter().enumerate() {
            series.push(per_s(
                &format!("cpu_utilization_thread{t}"),
                Some(node),
                &|s| round3(busy.utilization(s)),
            ));
        }
    }
    TimeSeries {
        seconds,
        warmup_s: config.warmup_ns as f64 / 1e9,
        series,
    }
}

/// Assembles the report of `scenario` from its variants' reports, in the listed order.
pub fn build_report(scenario: &Scenario, variants: Vec<VariantReport>) -> Report {
    let comparison = variants
        .iter()
        .map(|v| ComparisonRow {
            variant: v.name.clone(),
            ops_per_sec: v.all_stats.totals.ops_per_sec,
            latency_ms_p50: v.all_stats.totals.percentile_latencies["p50.00"],
            latency_ms_p99: v.all_stats.totals.percentile_latencies["p99.00"],
            latency_ms_p99_intended: v.latency_intended.latency_ms_p99,
            kb_per_sec: v.all_stats.totals.kb_per_sec,
            binding: v
                .findings
                .iter()
                .find(|f| f.binding)
                .map(|f| f.summary())
                .unwrap_or_else(|| "none at >= 90%".into()),
            load_ratio_measured: v.shards.load_ratio_measured,
        })
        .collect();
    Report {
        kvsim_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: ScenarioInfo {
            name: scenario.name().to_string(),
            description: scenario.description().to_string(),
            digest: scenario.digest(),
        },
        catalog_digest: scenario.catalog_digest().to_string(),
        seed: variants
            .first()
            .map(|v| v.config.seed)
            .unwrap_or_else(|| scenario.seed()),
        variants,
        comparison,
    }
}

impl Report {
    /// Pretty JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("reports serialize");
        s.push('\n');
        s
    }

    /// The per-second series of every variant as CSV in long form, one row per
    /// (variant, second, series): `variant,second,series,node,value`. Long form keeps
    /// one header whatever the node count of each variant.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["variant", "second", "series", "node", "value"])
            .expect("in-memory CSV");
        for v in &self.variants {
            for s in &v.timeseries.series {
                for (sec, value) in s.values.iter().enumerate() {
                    let sec = sec.to_string();
                    let value = value.to_string();
                    let node = s.node.as_deref().unwrap_or("");
                    w.write_record([
                        v.name.as_str(),
                        sec.as_str(),
                        s.name.as_str(),
                        node,
                        value.as_str(),
                    ])
                    .expect("in-memory CSV");
                }
            }
        }
        String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields")
    }

    /// The text report (see `report::text`).
    pub fn to_text(&self) -> String {
        text::render(self)
    }
}
