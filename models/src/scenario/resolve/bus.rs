//! Resolving the cluster bus: the scenario's `cluster.bus` settings with Redis 7.0's
//! defaults (and ours for its CPU cost) filled in and every value checked. Invariant: a
//! `BusConfig` exists exactly in cluster mode (a standalone world has no bus and
//! carries none, so it serializes as before the bus existed), and bus settings given in
//! standalone mode are refused rather than ignored.

use super::super::error::FieldError;
use super::super::spec::{BusSpec, ClusterMode};
use serde::{Deserialize, Serialize};

/// Redis 7.0's defaults (redis.conf), and ours where Redis has none.
pub mod defaults {
    /// cluster-node-timeout 15000.
    pub const NODE_TIMEOUT_MS: u64 = 15_000;
    /// Ours (docs/REFERENCES.md section 10): a read or a write of one message, its
    /// header checks (a 2 KiB slot bitmap compared) and its dispatch.
    pub const PER_MESSAGE_NS: u64 = 10_000;
    /// Fitted: with the two others, an idle 900-node cluster (node_timeout 15 s) spends
    /// about 12% of each main thread on the bus (10.9% simulated), as redis/redis#13789
    /// reports. The simulated cluster sends and receives about 50 messages a second per
    /// node there, 90 gossip entries each, so the entries carry nearly all of it; the report's conditions
    /// (timeout, version, replicas) are not stated, so this is a stated assumption,
    /// overridable per scenario.
    pub const PER_GOSSIP_ENTRY_NS: u64 = 23_500;
    /// Ours: clusterCron's two walks over the node table, per node.
    pub const PER_NODE_PER_CRON_NS: u64 = 100;
}

/// What the world reads of the cluster bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusConfig {
    pub node_timeout_ms: u64,
    pub per_message_ns: u64,
    pub per_gossip_entry_ns: u64,
    pub per_node_per_cron_ns: u64,
}

fn fe(path: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new(path, msg)
}

/// `cluster.bus` for a cluster in `mode` (paths relative to `cluster`).
pub(crate) fn resolve_bus(
    spec: Option<&BusSpec>,
    mode: ClusterMode,
) -> Result<Option<BusConfig>, FieldError> {
    if mode == ClusterMode::Standalone {
        if spec.is_some() {
            return Err(fe(
                "bus",
                "the cluster bus exists only in cluster mode: set mode: cluster, or remove bus",
            ));
        }
        return Ok(None);
    }
    let s = spec.copied().unwrap_or_default();
    // Redis accepts any positive timeout; below 100 ms (one cron) its rules degenerate,
    // and above a day nothing in a run could time out.
    let node_timeout_ms = s.node_timeout_ms.unwrap_or(defaults::NODE_TIMEOUT_MS);
    if !(100..=86_400_000).contains(&node_timeout_ms) {
        return Err(fe(
            "bus.node_timeout_ms",
            format!("expected 100 to 86400000 ms, got {node_timeout_ms}"),
        ));
    }
    let cost = s.cpu_cost.unwrap_or_default();
    let part = |v: Option<u64>, d: u64, name: &str| -> Result<u64, FieldError> {
        let v = v.unwrap_or(d);
        if v > 1_000_000_000 {
            return Err(fe(
                &format!("bus.cpu_cost.{name}"),
                format!("expected at most 1e9 ns, got {v}"),
            ));
        }
        Ok(v)
    };
    Ok(Some(BusConfig {
        node_timeout_ms,
        per_message_ns: part(
            cost.per_message_ns,
            defaults::PER_MESSAGE_NS,
            "per_message_ns",
        )?,
        per_gossip_entry_ns: part(
            cost.per_gossip_entry_ns,
            defaults::PER_GOSSIP_ENTRY_NS,
            "per_gossip_entry_ns",
        )?,
        per_node_per_cron_ns: part(
            cost.per_node_per_cron_ns,
            defaults::PER_NODE_PER_CRON_NS,
            "per_node_per_cron_ns",
        )?,
    }))
}
