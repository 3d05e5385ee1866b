//! Reports: what one run of a scenario found, as a stable serde structure that renders
//! to JSON (the machine interface), CSV (the per-second series) and text (for people,
//! snapshot-tested). JSON keys inside `ALL STATS` follow memtier_benchmark's names,
//! shape and units (latencies in ms, KB/sec) so memtier tooling reads them; every other
//! name carries its unit last. A variant's report is rendered from its `RunResult`
//! alone. Invariant: a report holds no wall time, no machine path and nothing
//! hash-ordered, so the same scenario and seed give byte-identical output.

pub mod bus;
pub mod cost;
mod findings;
pub mod html;
pub mod neighbours;
pub mod plot;
pub mod replication;
pub mod reshard;
mod text;

pub use crate::world::results::ResourceKind as Resource;
pub use findings::Finding;

use crate::scenario::resolve::RunConfig;
use crate::scenario::spec::TimeSeriesKind;
use crate::scenario::Scenario;
use crate::world::results::{CommandResult, HostResult, RunResult};
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

/// A node's (or client host's) row. Counts (ops, bytes, allowance exceeded, drops,
/// retransmits) and utilizations cover the measured window; credits, memory and keys are
/// the values at the end of the run.
#[derive(Clone, Debug, Serialize)]
pub struct NodeReport {
    pub name: String,
    pub role: String,
    pub shard: u32,
    pub instance: String,
    pub ops: u64,
    /// Per thread (main first; on a client host, its memtier threads), the vCPU-time it
    /// consumed as a fraction of the measured window.
    pub cpu_utilization: Vec<f64>,
    /// The instance's vCPUs.
    pub vcpus: u32,
    /// Threads waiting for a vCPU, on average over the measured window (0 unless the
    /// host runs more runnable threads than it has vCPUs).
    pub cpu_threads_waiting_mean: f64,
    /// vCPUs runnable but without a core (steal, on a shared host), on average over the
    /// measured window; absent when the run recorded none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_steal_vcpus_mean: Option<f64>,
    pub net_in_bytes: u64,
    pub net_out_bytes: u64,
    /// The same bytes as mean rates over the measured window, in bits per second.
    pub net_in_bits_per_s: f64,
    pub net_out_bits_per_s: f64,
    /// The instance's sustained rate per direction, to read those rates against.
    pub net_baseline_bits_per_s: u64,
    /// Packets the bandwidth allowance held back or dropped where the NIC's wire, at its
    /// line rate, could have sent them (`sim::net::shaper` states the rule).
    pub bw_in_allowance_exceeded: u64,
    pub bw_out_allowance_exceeded: u64,
    /// The same for the packet allowance, both directions.
    pub pps_allowance_exceeded: u64,
    /// Network credits left in the egress bucket at the end, in bits.
    pub net_credits_end: u64,
    pub net_credits_in_end_bits: u64,
    pub net_credits_depleted_at_ms: Option<f64>,
    pub drops: u64,
    /// Drops before the measured window (the row's other counts leave them out).
    pub drops_during_warmup: u64,
    pub retransmits: u64,
    pub used_memory_bytes: u64,
    pub keys: u64,
    /// Keys whose TTL passed and keys evicted under maxmemory, in the measured window.
    pub expired_keys: u64,
    pub evicted_keys: u64,
    /// Client connections to the node (from the host, for a client host).
    pub connections: u64,
    /// Wire bytes sent to and received from hosts in other zones over the whole run
    /// (what a cloud bill charges for), when the scenario names zones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_zone_bytes: Option<crate::world::results::CrossZoneBytes>,
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
    /// A bound on the error of any shard's exact share: 0 when shares are summed key by
    /// key or counted exactly, positive when a huge range of non-uniform keys was weighed
    /// in bounded work.
    pub share_exact_error_bound: f64,
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
    /// The whole seconds the findings rule judged, and how many consecutive ones at or
    /// above 90% make a resource bind (0: the window is too short to judge).
    pub findings_window: FindingsWindow,
    /// The load the clients were asked to offer (open loop, or rate-limited), averaged
    /// over the measured window like `ALL STATS`, beside what was served; `None` for a
    /// closed loop, which offers what it is answered.
    /// The measured window's length, in seconds: from the end of warm-up to the end of
    /// the run (for a request-count run, to the last reply).
    pub measured_window_s: f64,
    pub offered_ops_per_s: Option<f64>,
    pub timeseries: TimeSeries,
    pub simulation: SimulationInfo,
    /// The fault timeline (each fault's window, target, drops and the connection resets
    /// charged to it), when the scenario has faults or a connection was reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<crate::world::results::FaultsResult>,
    /// Replication, when the shards have replicas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<replication::ReplicationReport>,
    /// The cluster bus, in cluster mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<bus::BusReport>,
    /// What following the cluster cost the clients, when something moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_clients: Option<crate::world::results::ClusterClientsResult>,
    /// The resharding timeline, when the scenario has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resharding: Option<reshard::ReshardReport>,
    /// Shared hosts and their neighbours, when the scenario has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neighbours: Option<neighbours::NeighboursReport>,
    /// The latency objective's verdict, when the scenario states one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<neighbours::SloReport>,
    /// The thread-per-core engine's hops and kernel work, when it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_per_core: Option<ThreadPerCoreReport>,
    /// How near its capacity the run came (see [`findings::Headroom`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headroom: Option<findings::Headroom>,
    /// What the simulated deployment costs.
    pub cost: cost::CostReport,
}

#[derive(Clone, Debug, Serialize)]
pub struct FindingsWindow {
    pub first_s: u64,
    pub end_s: u64,
    pub binding_seconds: u64,
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
    /// Replication across the variant's replicas, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationComparison>,
    /// With a latency objective: the whole p99.9, and the seconds that breached it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms_p999: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_seconds_breached: Option<u64>,
    /// With shared hosts: the steal and the burst denied, over the shared nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steal_vcpus_mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_denied_mbps_mean: Option<f64>,
    /// The whole p99.9 (latency from the actual send).
    pub latency_ms_p999_all: f64,
    /// How near its capacity the variant ran: the busiest node's CPU and NIC, and the
    /// resource that would bind first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headroom: Option<findings::Headroom>,
    /// The deployment's cost, where the catalog prices it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_hour: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_month: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_million_requests: Option<f64>,
}

/// A variant's replication in one row: does the resync loop stop?
#[derive(Clone, Debug, Serialize)]
pub struct ReplicationComparison {
    pub replicas: u64,
    pub disconnects: u64,
    pub partial_resyncs: u64,
    pub full_resyncs: u64,
    /// Replicas in sync with their primary at the end.
    pub in_sync_at_end: u64,
    /// Replicas that full-resynced more than once: the loop.
    pub replicas_in_loop: u64,
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

fn memtier(stats: &CommandResult, seconds: f64, hist: &LatencyHistogram) -> MemtierStats {
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

/// The report of one variant's run.
pub fn variant_report(result: &RunResult) -> VariantReport {
    let config = &result.config;
    let measured_s = result.window_seconds();
    let totals = result.sets.combined(&result.gets);
    let all_stats = AllStats {
        sets: memtier(&result.sets, measured_s, &result.sets.latency),
        gets: memtier(&result.gets, measured_s, &result.gets.latency),
        totals: memtier(&totals, measured_s, &totals.latency),
    };
    let li = &totals.latency_intended;
    let latency_intended = IntendedLatency {
        latency_ms_avg: ms(if li.count() == 0 { 0.0 } else { li.mean_ns() }),
        latency_ms_p50: ms(li.percentile_ns(50.0) as f64),
        latency_ms_p99: ms(li.percentile_ns(99.0) as f64),
        latency_ms_p999: ms(li.percentile_ns(99.9) as f64),
    };
    let b = &result.breakdown;
    let latency_breakdown = [
        ("client queue", &b.client_queue),
        ("NIC queues and serialization", &b.network_queues),
        ("propagation", &b.propagation),
        ("CPU queue", &b.cpu_queue),
        ("service (batch CPU time)", &b.service),
        ("client CPU (queue and parse)", &b.client_cpu),
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

    let window = findings::Window::of(config, result.window_end_ns);
    let mut nodes = Vec::new();
    let mut client_hosts = Vec::new();
    for (i, host) in result.hosts.iter().enumerate() {
        let cpu_utilization = result
            .resources_of(i)
            .filter(|r| r.kind == Resource::Cpu)
            .map(|r| {
                round3(if window.len() == 0 {
                    run_utilization(r, result.end_ns)
                } else {
                    window.mean_utilization(r)
                })
            })
            .collect();
        let baseline = match host.role {
            crate::world::results::HostRole::Primary | crate::world::results::HostRole::Replica => {
                &config.cluster.instance
            }
            crate::world::results::HostRole::Client => &config.clients.instance,
        }
        .spec
        .baseline_bits_per_s;
        let row = host_report(host, &window, cpu_utilization, measured_s, baseline);
        match host.role {
            crate::world::results::HostRole::Primary | crate::world::results::HostRole::Replica => {
                nodes.push(row)
            }
            crate::world::results::HostRole::Client => client_hosts.push(row),
        }
    }

    let exact = &result.shards.share_exact;
    let shard_ops = &result.shards.ops;
    let total_ops: u64 = shard_ops.iter().sum();
    let per_shard: Vec<ShardLoad> = shard_ops
        .iter()
        .enumerate()
        .map(|(i, &ops)| ShardLoad {
            shard: i as u32,
            ops,
            share_measured: round6(ops as f64 / total_ops.max(1) as f64),
            // A shard the resharding timeline added starts with no slots.
            share_exact: round6(exact.get(i).copied().unwrap_or(0.0)),
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
    let measured: Vec<f64> = shard_ops.iter().map(|&o| o as f64).collect();
    let shards = ShardsReport {
        placement: result.shards.placement.clone(),
        load_ratio_measured: ratio(&measured),
        load_ratio_exact: ratio(exact),
        share_exact_error_bound: result.shards.share_exact_error_bound,
        per_shard,
    };

    let findings = findings::findings(result, &window);
    let findings_window = FindingsWindow {
        first_s: window.first_s as u64,
        end_s: window.end_s.max(window.first_s) as u64,
        binding_seconds: window.binding_seconds() as u64,
    };
    let w = &config.clients.workload;
    let connections = f64::from(config.clients.connections_total());
    // The clients' target rate, averaged over the measured window: they offer it only
    // until the test time ends.
    let sending_ns = w
        .test_time_ns
        .unwrap_or(config.duration_ns)
        .min(result.window_end_ns)
        .saturating_sub(config.warmup_ns);
    let sending_share = sending_ns as f64 / 1e9 / measured_s;
    let offered_ops_per_s = match (&w.open_loop, &w.rate_limit) {
        (Some(o), _) => Some(o.rate_rps as f64),
        (None, Some(r)) => {
            Some(connections * f64::from(r.requests_per_interval) * 1e9 / r.interval_ns as f64)
        }
        (None, None) => None,
    }
    .map(|rate| round3(rate * sending_share.min(1.0)));
    let timeseries = timeseries(result);
    let nodes_priced = nodes.len() as u64;
    let all_stats_ops = all_stats.totals.ops_per_sec;
    VariantReport {
        name: config.variant_name.clone(),
        config: config.clone(),
        cpu_cost: result.cpu_cost,
        all_stats,
        latency_intended,
        latency_breakdown,
        nodes,
        client_hosts,
        shards,
        findings,
        findings_window,
        measured_window_s: round6(measured_s),
        offered_ops_per_s,
        timeseries,
        simulation: SimulationInfo {
            events: result.simulation.events,
            requests_completed: totals.count,
            errors: result.simulation.errors,
            client_queue_overflows: result.simulation.client_queue_overflows,
        },
        faults: result.faults.clone(),
        replication: replication::replication_report(result),
        bus: bus::bus_report(result),
        cluster_clients: result.cluster_clients.clone(),
        resharding: reshard::reshard_report(result),
        neighbours: neighbours::neighbours_report(result),
        thread_per_core: thread_per_core_report(result),
        headroom: findings::headroom(result, &window),
        slo: neighbours::slo_report(result),
        cost: cost::cost_report(config, nodes_priced, all_stats_ops),
    }
}

/// A host's row: every count over the measured window (from the end of warm-up to the
/// end of the run), gauges at the end, and the drops of the warm-up on their own.
fn host_report(
    host: &HostResult,
    window: &findings::Window,
    cpu_utilization: Vec<f64>,
    measured_s: f64,
    net_baseline_bits_per_s: u64,
) -> NodeReport {
    let (e, i) = (host.egress.in_window(), host.ingress.in_window());
    let rate = |bytes: u64| {
        if measured_s > 0.0 {
            round3(bytes as f64 * 8.0 / measured_s)
        } else {
            0.0
        }
    };
    NodeReport {
        name: host.name.clone(),
        role: host.role.label().into(),
        shard: host.shard,
        instance: host.instance.clone(),
        ops: host.ops,
        cpu_utilization,
        vcpus: host.vcpus,
        cpu_threads_waiting_mean: round3(window.mean_of(&host.cpu_contended_ns_per_s) / 1e9),
        cpu_steal_vcpus_mean: (!host.cpu_steal_ns_per_s.is_empty())
            .then(|| round6(window.mean_of(&host.cpu_steal_ns_per_s) / 1e9)),
        net_in_bytes: i.wire_bytes,
        net_out_bytes: e.wire_bytes,
        net_in_bits_per_s: rate(i.wire_bytes),
        net_out_bits_per_s: rate(e.wire_bytes),
        net_baseline_bits_per_s,
        bw_in_allowance_exceeded: i.bw_allowance_exceeded,
        bw_out_allowance_exceeded: e.bw_allowance_exceeded,
        pps_allowance_exceeded: e.pps_allowance_exceeded + i.pps_allowance_exceeded,
        net_credits_end: host.egress.credits_end_bits,
        net_credits_in_end_bits: host.ingress.credits_end_bits,
        net_credits_depleted_at_ms: host.egress.credits_depleted_at_ns.map(|t| ms(t as f64)),
        drops: e.dropped_messages + i.dropped_messages,
        drops_during_warmup: host.egress.at_window_start.dropped_messages
            + host.ingress.at_window_start.dropped_messages,
        retransmits: host.retransmits - host.retransmits_at_window_start,
        used_memory_bytes: host.used_memory_bytes,
        keys: host.keys,
        expired_keys: host.expired_keys - host.expired_keys_at_window_start,
        evicted_keys: host.evicted_keys - host.evicted_keys_at_window_start,
        connections: host.connections,
        cross_zone_bytes: host.cross_zone_bytes,
    }
}

pub(crate) fn round6(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        0.0
    }
}

fn timeseries(result: &RunResult) -> TimeSeries {
    let config = &result.config;
    let seconds = result.seconds();
    let at = |v: &[u64], s: usize| v.get(s).copied().unwrap_or(0);
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
        per_s("ops_per_s", None, &|s| at(&result.ops_per_s, s) as f64),
        per_s("latency_ms_p99", None, &|s| {
            result
                .latency_in_second(s as u64)
                .map(|h| ms(h.percentile_ns(99.0) as f64))
                .unwrap_or(0.0)
        }),
    ];
    // The tail per second, with an objective or shared hosts (left out otherwise, so
    // reports without them are as before): p99.9, and whether each second held enough
    // requests to estimate p99 and p99.9 (1: yes).
    if config.slo.is_some() || !config.hosts.is_empty() {
        series.push(per_s("latency_ms_p999", None, &|s| {
            result
                .latency_in_second(s as u64)
                .map(|h| ms(h.percentile_ns(99.9) as f64))
                .unwrap_or(0.0)
        }));
        for (name, p) in [
            ("latency_p99_estimable", 99.0),
            ("latency_p999_estimable", 99.9),
        ] {
            let min = neighbours::min_requests_for(p);
            series.push(per_s(name, None, &|s| {
                let n = result.latency_in_second(s as u64).map_or(0, |h| h.count());
                if n >= min {
                    1.0
                } else {
                    0.0
                }
            }));
        }
    }
    for (i, host) in result.hosts.iter().enumerate() {
        if host.role == crate::world::results::HostRole::Client {
            // A client host's series: its memtier threads' CPU.
            for r in result.resources_of(i).filter(|r| r.kind == Resource::Cpu) {
                let t = r.thread.unwrap_or(0);
                series.push(per_s(
                    &format!("cpu_utilization_thread{t}"),
                    Some(host.name.as_str()),
                    &|s| round3(r.utilization(s)),
                ));
            }
            continue;
        }
        let node = host.name.as_str();
        let (e, g) = (&host.egress, &host.ingress);
        series.push(per_s("net_out_bits_per_s", Some(node), &|s| {
            (at(&e.wire_bytes_per_s, s) * 8) as f64
        }));
        series.push(per_s("net_in_bits_per_s", Some(node), &|s| {
            (at(&g.wire_bytes_per_s, s) * 8) as f64
        }));
        series.push(gauge("net_credits_bits", node, &e.credits_bits_at_s));
        series.push(gauge("net_credits_in_bits", node, &g.credits_bits_at_s));
        series.push(gauge(
            "used_memory_bytes",
            node,
            &host.used_memory_bytes_at_s,
        ));
        series.push(per_s("bw_out_allowance_exceeded_per_s", Some(node), &|s| {
            at(&e.bw_allowance_exceeded_per_s, s) as f64
        }));
        series.push(per_s("drops_per_s", Some(node), &|s| {
            (at(&e.drops_per_s, s) + at(&g.drops_per_s, s)) as f64
        }));
        for r in result.resources_of(i).filter(|r| r.kind == Resource::Cpu) {
            let t = r.thread.unwrap_or(0);
            series.push(per_s(
                &format!("cpu_utilization_thread{t}"),
                Some(node),
                &|s| round3(r.utilization(s)),
            ));
        }
        // Only a node whose threads outnumber its vCPUs ever waits for one.
        if host.cpu_contended_ns_per_s.iter().any(|&ns| ns > 0) {
            series.push(per_s("cpu_threads_waiting", Some(node), &|s| {
                round3(at(&host.cpu_contended_ns_per_s, s) as f64 / 1e9)
            }));
        }
    }
    // Each shared host: the node's steal and the burst it was denied, the time the NIC
    // was full and the time some neighbour was on.
    if let Some(n) = &result.neighbours {
        for h in &n.hosts {
            let host = &result.hosts[h.node as usize];
            let node = host.name.as_str();
            series.push(per_s("cpu_steal_vcpus", Some(node), &|s| {
                round6(at(&host.cpu_steal_ns_per_s, s) as f64 / 1e9)
            }));
            series.push(per_s("burst_denied_bits_per_s", Some(node), &|s| {
                (at(&host.egress.burst_denied_bits_per_s, s)
                    + at(&host.ingress.burst_denied_bits_per_s, s)) as f64
            }));
            series.push(per_s("host_nic_full_share", Some(node), &|s| {
                round6(at(&h.full_ns_per_s, s) as f64 / 1e9)
            }));
            series.push(per_s("neighbour_on_share", Some(node), &|s| {
                round6(at(&h.neighbour_on_ns_per_s, s) as f64 / 1e9)
            }));
        }
    }
    // Each replica's output buffer (its peak in the second) and lag, at the start of
    // each second.
    if let Some(r) = &result.replication {
        for x in &r.replicas {
            series.push(gauge(
                "replication_buffer_peak_bytes",
                &x.name,
                &x.buffer_peak_bytes_per_s,
            ));
            series.push(gauge("replication_lag_bytes", &x.name, &x.lag_bytes_at_s));
            let lag_s: Vec<u64> = x.lag_ns_at_s.iter().map(|ns| ns / 1_000_000).collect();
            series.push(gauge("replication_lag_ms", &x.name, &lag_s));
        }
    }
    // Each node's cluster bus: what it sent, and its main thread's share.
    if let Some(b) = &result.bus {
        for n in &b.nodes {
            series.push(per_s("bus_messages_sent_per_s", Some(&n.node), &|s| {
                at(&n.messages_sent_per_s, s) as f64
            }));
            series.push(per_s("bus_bytes_sent_per_s", Some(&n.node), &|s| {
                at(&n.bytes_sent_per_s, s) as f64
            }));
            series.push(per_s("bus_main_thread_share", Some(&n.node), &|s| {
                round6(at(&n.cpu_ns_per_s, s) as f64 / 1e9)
            }));
        }
    }
    // The resharding's pace.
    if let Some(r) = &result.resharding {
        series.push(per_s("reshard_migrated_bytes_per_s", None, &|s| {
            at(&r.migrated_bytes_per_s, s) as f64
        }));
        series.push(per_s("reshard_slots_moved_per_s", None, &|s| {
            at(&r.slots_moved_per_s, s) as f64
        }));
    }
    // Only the kinds the scenario asks for (all by default); a series of no known kind
    // is kept, so that a new one is never silently dropped.
    series.retain(|s| {
        TimeSeriesKind::of_series(&s.name).is_none_or(|k| config.report.timeseries.contains(&k))
    });
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
            replication: v.replication.as_ref().map(|r| ReplicationComparison {
                replicas: r.replicas.len() as u64,
                disconnects: r.replicas.iter().map(|x| x.disconnects).sum(),
                partial_resyncs: r.replicas.iter().map(|x| x.partial_resyncs).sum(),
                full_resyncs: r.replicas.iter().map(|x| x.full_resyncs).sum(),
                in_sync_at_end: r.replicas.iter().filter(|x| x.in_sync_at_end).count() as u64,
                replicas_in_loop: r.replicas.iter().filter(|x| x.full_resyncs > 1).count() as u64,
            }),
            latency_ms_p999: v
                .slo
                .as_ref()
                .map(|_| v.all_stats.totals.percentile_latencies["p99.90"]),
            slo_seconds_breached: v.slo.as_ref().map(|s| s.seconds_breached),
            steal_vcpus_mean: v
                .neighbours
                .as_ref()
                .map(|n| round6(n.hosts.iter().map(|h| h.steal_vcpus_mean).sum())),
            burst_denied_mbps_mean: v
                .neighbours
                .as_ref()
                .map(|n| round3(n.hosts.iter().map(|h| h.burst_denied_mbps_mean).sum())),
            latency_ms_p999_all: v.all_stats.totals.percentile_latencies["p99.90"],
            headroom: v.headroom.clone(),
            usd_per_hour: v.cost.usd_per_hour,
            usd_per_month: v.cost.usd_per_month,
            usd_per_million_requests: v.cost.usd_per_million_requests,
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
        crate::pretty_json(self)
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

    /// Every node and client host of every variant, one row each, with the JSON's
    /// field names as columns (`cpu_utilization` as space-separated fractions, main
    /// thread first; an absent depletion time as an empty field): the full table that
    /// the text report summarizes when it is long. When some variant names zones, two
    /// more columns give each host's cross-zone bytes (`cross_zone_sent_bytes`,
    /// `cross_zone_received_bytes`; empty for a variant without zones), so a table
    /// without zones keeps its columns.
    pub fn nodes_csv(&self) -> String {
        const COLUMNS: [&str; 28] = [
            "variant",
            "name",
            "role",
            "shard",
            "instance",
            "ops",
            "cpu_utilization",
            "vcpus",
            "cpu_threads_waiting_mean",
            "net_in_bytes",
            "net_out_bytes",
            "net_in_bits_per_s",
            "net_out_bits_per_s",
            "net_baseline_bits_per_s",
            "bw_in_allowance_exceeded",
            "bw_out_allowance_exceeded",
            "pps_allowance_exceeded",
            "net_credits_end",
            "net_credits_in_end_bits",
            "net_credits_depleted_at_ms",
            "drops",
            "drops_during_warmup",
            "retransmits",
            "used_memory_bytes",
            "keys",
            "expired_keys",
            "evicted_keys",
            "connections",
        ];
        let zones = self
            .variants
            .iter()
            .flat_map(|v| &v.nodes)
            .any(|n| n.cross_zone_bytes.is_some());
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<&str> = COLUMNS.to_vec();
        if zones {
            header.extend(["cross_zone_sent_bytes", "cross_zone_received_bytes"]);
        }
        w.write_record(&header).expect("in-memory CSV");
        for v in &self.variants {
            for n in v.nodes.iter().chain(&v.client_hosts) {
                let cpu: Vec<String> = n.cpu_utilization.iter().map(f64::to_string).collect();
                let row = [
                    v.name.clone(),
                    n.name.clone(),
                    n.role.clone(),
                    n.shard.to_string(),
                    n.instance.clone(),
                    n.ops.to_string(),
                    cpu.join(" "),
                    n.vcpus.to_string(),
                    n.cpu_threads_waiting_mean.to_string(),
                    n.net_in_bytes.to_string(),
                    n.net_out_bytes.to_string(),
                    n.net_in_bits_per_s.to_string(),
                    n.net_out_bits_per_s.to_string(),
                    n.net_baseline_bits_per_s.to_string(),
                    n.bw_in_allowance_exceeded.to_string(),
                    n.bw_out_allowance_exceeded.to_string(),
                    n.pps_allowance_exceeded.to_string(),
                    n.net_credits_end.to_string(),
                    n.net_credits_in_end_bits.to_string(),
                    n.net_credits_depleted_at_ms
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    n.drops.to_string(),
                    n.drops_during_warmup.to_string(),
                    n.retransmits.to_string(),
                    n.used_memory_bytes.to_string(),
                    n.keys.to_string(),
                    n.expired_keys.to_string(),
                    n.evicted_keys.to_string(),
                    n.connections.to_string(),
                ];
                let mut row = row.to_vec();
                if zones {
                    let cz = n.cross_zone_bytes;
                    row.push(cz.map(|c| c.sent.to_string()).unwrap_or_default());
                    row.push(cz.map(|c| c.received.to_string()).unwrap_or_default());
                }
                w.write_record(&row).expect("in-memory CSV");
            }
        }
        String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields")
    }

    /// The text report (see `report::text`).
    pub fn to_text(&self) -> String {
        text::render(self)
    }
}

/// The thread-per-core engine's work besides executing, over the whole run.
#[derive(Clone, Debug, Serialize)]
pub struct ThreadPerCoreReport {
    pub threads: u32,
    /// Commands that ran on their connection's own thread, of all commands executed.
    pub inline_share: f64,
    /// Hops to other threads per command executed.
    pub hops_per_command: f64,
    /// Per server node: (name, the kernel's network work in vCPUs, mean over the run).
    pub kernel_vcpus_mean: Vec<(String, f64)>,
}

fn thread_per_core_report(result: &RunResult) -> Option<ThreadPerCoreReport> {
    let t = result.thread_per_core.as_ref()?;
    let threads = result.config.cluster.node.threads?;
    let commands = (t.inline_commands + t.hops).max(1);
    let run_s = (result.end_ns.max(1)) as f64 / 1e9;
    Some(ThreadPerCoreReport {
        threads,
        inline_share: round6(t.inline_commands as f64 / commands as f64),
        hops_per_command: round6(t.hops as f64 / commands as f64),
        kernel_vcpus_mean: t
            .kernel_ns_per_s
            .iter()
            .zip(&result.hosts)
            .map(|(series, host)| {
                let total: u64 = series.iter().sum();
                (host.name.clone(), round6(total as f64 / 1e9 / run_s))
            })
            .collect(),
    })
}

/// A resource's utilization over the whole run, for a measured window shorter than a
/// second: the per-second buckets cannot part the window from the warm-up before it,
/// so the node table reports the run (and says so) rather than a mean over no second.
fn run_utilization(r: &crate::world::results::ResourceResult, end_ns: u64) -> f64 {
    let used: u64 = r.used_per_s.iter().sum();
    let capacity = r.capacity_per_s as f64 * end_ns.max(1) as f64 / 1e9;
    used as f64 / capacity
}
