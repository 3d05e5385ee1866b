//! The cluster-bus section of a report: per node, the bus's messages and bytes per
//! second in and out, their share of the node's baseline bandwidth, and the share of
//! its main thread the bus takes; the same figures summed over the cluster and summed
//! up over nodes (mean, least, most); and failure detection's timeline. Invariant:
//! every rate is a count over the measured window's whole seconds divided by their
//! number, from the run's `BusResult` and the instance's published baseline; nothing
//! here is estimated.

use super::{round3, round6};
use crate::world::bus::{MsgType, NamedBusEvent};
use crate::world::results::RunResult;
use serde::Serialize;

/// ElastiCache's nodes per cluster (cluster mode enabled; primaries and replicas):
/// docs/REFERENCES.md section 10.
pub const ELASTICACHE_MAX_NODES_PER_CLUSTER: usize = 500;

/// One node's bus, as rates over the measured window.
#[derive(Clone, Debug, Serialize)]
pub struct NodeBusReport {
    pub name: String,
    pub pings_sent_per_s: f64,
    pub pongs_sent_per_s: f64,
    pub messages_sent_per_s: f64,
    pub messages_received_per_s: f64,
    pub bytes_sent_per_s: f64,
    pub bytes_received_per_s: f64,
    /// Bytes sent as a share of the instance's baseline bandwidth (payload bytes).
    pub egress_baseline_share: f64,
    /// The main thread's time spent on the bus, as a share of the window.
    pub main_thread_share: f64,
}

/// Least, mean and most over the nodes.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    pub min: f64,
    pub mean: f64,
    pub max: f64,
}

impl Spread {
    fn of(values: impl Iterator<Item = f64> + Clone) -> Spread {
        let n = values.clone().count().max(1) as f64;
        Spread {
            min: round6(values.clone().fold(f64::INFINITY, f64::min)),
            mean: round6(values.clone().sum::<f64>() / n),
            max: round6(values.fold(f64::NEG_INFINITY, f64::max)),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BusReport {
    pub node_timeout_ms: u64,
    pub nodes: u64,
    /// The whole seconds the rates cover.
    pub window_s: u64,
    pub messages_sent_per_s_total: f64,
    pub bits_sent_per_s_total: f64,
    pub per_node_messages_sent_per_s: Spread,
    pub per_node_bytes_sent_per_s: Spread,
    pub per_node_egress_baseline_share: Spread,
    pub per_node_main_thread_share: Spread,
    pub egress_baseline_bits_per_s: u64,
    pub per_node: Vec<NodeBusReport>,
    /// Failure detection and failover: first PFAIL, FAIL, FAIL cleared, elections,
    /// promotions, rejoins, in time order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NamedBusEvent>,
    /// Beyond ElastiCache's limit of nodes per cluster, what a user should know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_limit_note: Option<String>,
    /// Each promotion: how long its shard's slots had no primary answering (from the
    /// old primary's crash, when a crash fault caused it, to the promotion).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failovers: Vec<FailoverReport>,
}

/// One failover, from the crash to the promotion.
#[derive(Clone, Debug, Serialize)]
pub struct FailoverReport {
    pub failed: String,
    pub promoted: String,
    /// The crash of `failed` that began it, when a fault crashed it.
    pub crashed_at_s: Option<f64>,
    pub promoted_at_s: f64,
    /// From the crash to the promotion: the shard's slots unavailable for writes and
    /// reads from the primary.
    pub unavailable_s: Option<f64>,
    /// The start of the first whole second from the promotion on whose completed
    /// requests reach 95% of the clients' mean over the measured seconds before the
    /// crash: when the clients had recovered (None: not within the run, or no measured
    /// second before the crash to compare with).
    pub clients_recovered_at_s: Option<f64>,
    pub lost_writes: u64,
    pub lost_stream_bytes: u64,
}

/// The share of the clients' throughput before a crash that counts as recovered.
pub const RECOVERED_SHARE: f64 = 0.95;

/// See [`FailoverReport::clients_recovered_at_s`]; `first` is the first measured second.
fn clients_recovered_at_s(
    ops_per_s: &[u64],
    first: usize,
    crashed_ns: u64,
    promoted_ns: u64,
) -> Option<f64> {
    let crash_s = (crashed_ns / 1_000_000_000) as usize;
    let before = ops_per_s.get(first..crash_s.min(ops_per_s.len()))?;
    if before.is_empty() {
        return None;
    }
    let mean = before.iter().sum::<u64>() as f64 / before.len() as f64;
    let from = promoted_ns.div_ceil(1_000_000_000) as usize;
    // The last second may be partial: only whole seconds count.
    let whole = ops_per_s.len().saturating_sub(1);
    (from..whole)
        .find(|&s| ops_per_s[s] as f64 >= RECOVERED_SHARE * mean)
        .map(|s| s as f64)
}

/// The section for `result`, in cluster mode.
pub fn bus_report(result: &RunResult) -> Option<BusReport> {
    let b = result.bus.as_ref()?;
    // The measured window's whole seconds: from the first second at or after the end of
    // warm-up to the last second that ends by the window's end.
    let first = result.config.warmup_ns.div_ceil(1_000_000_000) as usize;
    let last = (result.window_end_ns / 1_000_000_000) as usize;
    let window_s = last.saturating_sub(first).max(1);
    let sum = |series: &[u64]| -> f64 {
        series
            .iter()
            .skip(first)
            .take(last.saturating_sub(first))
            .sum::<u64>() as f64
    };
    let seconds = window_s as f64;
    let baseline = result.config.cluster.instance.spec.baseline_bits_per_s;
    // Pings and pongs per node come from the whole-run counts scaled to the window's
    // share of messages, so the two add up to what the series say.
    let per_node: Vec<NodeBusReport> = b
        .nodes
        .iter()
        .map(|n| {
            let sent = sum(&n.messages_sent_per_s);
            let total_sent: u64 = n.messages_sent.iter().map(|&(_, c)| c).sum();
            let share_of = |t: MsgType| -> f64 {
                let c = n
                    .messages_sent
                    .iter()
                    .find(|&&(x, _)| x == t)
                    .map_or(0, |&(_, c)| c);
                if total_sent == 0 {
                    0.0
                } else {
                    sent * c as f64 / total_sent as f64
                }
            };
            let bytes_sent = sum(&n.bytes_sent_per_s) / seconds;
            NodeBusReport {
                name: n.node.clone(),
                pings_sent_per_s: round3(share_of(MsgType::Ping) / seconds),
                pongs_sent_per_s: round3(share_of(MsgType::Pong) / seconds),
                messages_sent_per_s: round3(sent / seconds),
                messages_received_per_s: round3(sum(&n.messages_received_per_s) / seconds),
                bytes_sent_per_s: round3(bytes_sent),
                bytes_received_per_s: round3(sum(&n.bytes_received_per_s) / seconds),
                egress_baseline_share: round6(bytes_sent * 8.0 / baseline.max(1) as f64),
                main_thread_share: round6(sum(&n.cpu_ns_per_s) / seconds / 1e9),
            }
        })
        .collect();
    Some(BusReport {
        node_timeout_ms: b.node_timeout_ms,
        nodes: b.nodes.len() as u64,
        window_s: window_s as u64,
        messages_sent_per_s_total: round3(per_node.iter().map(|n| n.messages_sent_per_s).sum()),
        bits_sent_per_s_total: round3(per_node.iter().map(|n| n.bytes_sent_per_s * 8.0).sum()),
        per_node_messages_sent_per_s: Spread::of(per_node.iter().map(|n| n.messages_sent_per_s)),
        per_node_bytes_sent_per_s: Spread::of(per_node.iter().map(|n| n.bytes_sent_per_s)),
        per_node_egress_baseline_share: Spread::of(
            per_node.iter().map(|n| n.egress_baseline_share),
        ),
        per_node_main_thread_share: Spread::of(per_node.iter().map(|n| n.main_thread_share)),
        egress_baseline_bits_per_s: baseline,
        per_node,
        node_limit_note: (result.config.cluster.instance.name.starts_with("cache.")
            && b.nodes.len() > ELASTICACHE_MAX_NODES_PER_CLUSTER)
            .then(|| {
                format!(
                    "{} nodes: ElastiCache allows at most {} per cluster (Valkey 7.2+ and Redis OSS \
                     5.0.6+; 250 below): a cluster this large is self-managed Redis Cluster on EC2",
                    b.nodes.len(),
                    ELASTICACHE_MAX_NODES_PER_CLUSTER
                )
            }),
        failovers: b
            .events
            .iter()
            .filter(|e| e.event == "promoted")
            .map(|e| {
                let crashed_ns = result.faults.as_ref().and_then(|f| {
                    f.timeline
                        .iter()
                        .filter(|r| r.kind == "crash" && r.target == e.by && r.began_ns <= e.at_ns)
                        .map(|r| r.began_ns)
                        .max()
                });
                FailoverReport {
                    failed: e.by.clone(),
                    promoted: e.node.clone(),
                    crashed_at_s: crashed_ns.map(|ns| round3(ns as f64 / 1e9)),
                    promoted_at_s: round3(e.at_ns as f64 / 1e9),
                    unavailable_s: crashed_ns.map(|ns| round3((e.at_ns - ns) as f64 / 1e9)),
                    clients_recovered_at_s: crashed_ns.and_then(|ns| {
                        clients_recovered_at_s(&result.ops_per_s, first, ns, e.at_ns)
                    }),
                    lost_writes: e.lost_writes.unwrap_or(0),
                    lost_stream_bytes: e.lost_stream_bytes.unwrap_or(0),
                }
            })
            .collect(),
        events: b.events.clone(),
    })
}
