//! The replication section of a report: per replica its resyncs, disconnects, output
//! buffer and lag; per primary what its egress carried for replication against client
//! replies; and the resync-loop finding, with the arithmetic behind it. Invariant:
//! every figure comes from the run's `ReplicationResult` and the instance's published
//! baseline; the loop is named only when a replica full-resynced more than once.

use super::round3;
use crate::world::replication::{LinkEvent, ReplicationResult};
use crate::world::results::RunResult;
use serde::Serialize;

/// One replica's figures.
#[derive(Clone, Debug, Serialize)]
pub struct ReplicaReport {
    pub name: String,
    pub primary: String,
    pub disconnects: u64,
    pub partial_resyncs: u64,
    pub full_resyncs: u64,
    /// Snapshot bytes of its full resyncs.
    pub rdb_bytes: u64,
    /// The output buffer's peak over the run.
    pub output_buffer_peak_bytes: u64,
    pub lag_bytes_max: u64,
    pub lag_s_max: f64,
    /// At the run's end: in sync with its primary (same replication id, streaming).
    pub in_sync_at_end: bool,
    /// Reads it served, and the stale ones among them.
    pub reads: u64,
    pub stale_reads: u64,
    /// Every disconnect and resync, in time order.
    pub events: Vec<LinkEvent>,
}

/// One primary's egress: replication against client replies, as mean rates over the
/// run.
#[derive(Clone, Debug, Serialize)]
pub struct PrimaryReplicationReport {
    pub name: String,
    /// The write stream each replica is fed.
    pub write_stream_bits_per_s: f64,
    /// What replication carried to the replicas: streams and snapshots (a buffer
    /// dropped with its link never crossed).
    pub replication_bits_per_s: f64,
    pub client_reply_bits_per_s: f64,
    pub egress_baseline_bits_per_s: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReplicationReport {
    pub replicas: Vec<ReplicaReport>,
    pub primaries: Vec<PrimaryReplicationReport>,
    /// The resync loop, named with its arithmetic, when a replica full-resynced more
    /// than once.
    pub resync_loop: Option<String>,
}

/// The section for `result`, if its shards have replicas.
pub fn replication_report(result: &RunResult) -> Option<ReplicationReport> {
    let r: &ReplicationResult = result.replication.as_ref()?;
    // Rates over the run up to the measured window's end (the clients' active time).
    let seconds = (result.window_end_ns as f64 / 1e9).max(1e-9);
    let per_shard = result.config.cluster.replicas_per_shard as f64;
    let baseline = result.config.cluster.instance.spec.baseline_bits_per_s;
    let replicas: Vec<ReplicaReport> = r
        .replicas
        .iter()
        .map(|x| ReplicaReport {
            name: x.name.clone(),
            primary: x.primary.clone(),
            disconnects: x.disconnects(),
            partial_resyncs: x.partial_resyncs(),
            full_resyncs: x.full_resyncs(),
            rdb_bytes: x.rdb_bytes(),
            output_buffer_peak_bytes: x.buffer_peak_bytes_per_s.iter().copied().max().unwrap_or(0),
            lag_bytes_max: x.lag_bytes_at_s.iter().copied().max().unwrap_or(0),
            lag_s_max: round3(x.lag_ns_at_s.iter().copied().max().unwrap_or(0) as f64 / 1e9),
            in_sync_at_end: x.in_sync_at_end,
            reads: x.reads,
            stale_reads: x.stale_reads,
            events: x.events.clone(),
        })
        .collect();
    let primaries: Vec<PrimaryReplicationReport> = r
        .primaries
        .iter()
        .map(|p| {
            let stream = p.stream_bytes as f64 * 8.0 / seconds;
            PrimaryReplicationReport {
                name: p.name.clone(),
                write_stream_bits_per_s: round3(stream),
                replication_bits_per_s: round3(
                    p.replication_bytes_delivered as f64 * 8.0 / seconds,
                ),
                client_reply_bits_per_s: round3(p.client_reply_bytes as f64 * 8.0 / seconds),
                egress_baseline_bits_per_s: baseline,
            }
        })
        .collect();
    let resync_loop = replicas
        .iter()
        .filter(|x| x.full_resyncs > 1)
        .max_by_key(|x| (x.full_resyncs, std::cmp::Reverse(x.name.clone())))
        .map(|x| {
            let p = primaries
                .iter()
                .find(|p| p.name == x.primary)
                .expect("a replica's primary is listed");
            let reason = x
                .events
                .iter()
                .find_map(|e| match e {
                    LinkEvent::Disconnect { reason, .. } => Some(reason.label()),
                    _ => None,
                })
                .unwrap_or("disconnects");
            let gbps = |b: f64| crate::units::bits_per_s(b);
            let demand = p.client_reply_bits_per_s + per_shard * p.write_stream_bits_per_s;
            let verdict = if (p.egress_baseline_bits_per_s as f64) < demand {
                "<"
            } else {
                ">="
            };
            format!(
                "{} full-resynced {} times ({} disconnect(s), first for: {}): egress baseline {} \
                 {} client replies {} + {} x write stream {}; each resync's snapshot ({}) \
                 crosses the same egress while new writes fill the output buffer",
                x.name,
                x.full_resyncs,
                x.disconnects,
                reason,
                gbps(p.egress_baseline_bits_per_s as f64),
                verdict,
                gbps(p.client_reply_bits_per_s),
                result.config.cluster.replicas_per_shard,
                gbps(p.write_stream_bits_per_s),
                crate::units::bytes(x.rdb_bytes / x.full_resyncs.max(1)),
            )
        });
    Some(ReplicationReport {
        replicas,
        primaries,
        resync_loop,
    })
}
