//! The scenario as written in a RON file. Every field is optional at this level so the
//! same structures serve as the base and as a variant's patch; which fields are
//! required, the defaults and the checks live in `resolve`. Every structure denies
//! unknown fields, so a typo is an error with its line and column, never a silently
//! ignored setting. Serialization skips unset fields, which makes the serialized form
//! canonical (the digest input) and lets files round-trip.

use super::merge::{merge_by_replacing, Merge};
use crate::catalog::CpuCreditSpec;
use crate::workload::{ArrivalProcess, WorkloadSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "scenario")]
pub struct ScenarioSpec {
    /// The scenario this one builds on: a path relative to this file, or
    /// `bundled:NAME`. This file's fields are merged onto it (structures field by field,
    /// lists and maps replaced whole); resolved away on loading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Simulated run length; give `duration_s` or `duration_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Leading part excluded from results; `warmup_s` or `warmup_ms` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<ClientsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<PrefillSpec>,
    /// Network burst credits at t = 0 of the server nodes' NICs, both directions
    /// (default full, as AWS launches instances). Client hosts' NICs always start full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_credits_at_start: Option<CreditLevel>,
    /// CPU credits of burstable (T) instances at t = 0 (default full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_credits_at_start: Option<CreditLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportSpec>,
    /// Per-scenario instance types: a catalog name overrides the given fields of that
    /// type; a new name defines a custom type (vcpu, memory_bytes and
    /// baseline_bits_per_s required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<BTreeMap<String, InstanceOverride>>,
    /// Faults on the run's timeline (a variant's list replaces the base's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Vec<FaultSpec>>,
    /// Growing the cluster on the run's timeline (mode cluster, crc16 placement): shards
    /// added and slots moved as `redis-cli --cluster add-node` and `reshard` do them (a
    /// variant's list replaces the base's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resharding: Option<Vec<ReshardActionSpec>>,
    /// Physical hosts shared with other tenants (noisy neighbours). Without them every
    /// instance is alone on a host that never limits it (a variant's list replaces the
    /// base's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<HostSpec>>,
    /// A latency objective, checked second by second over the measured window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<VariantSpec>>,
}

/// A physical host: its NIC, its cores, how many vCPUs it sells per core, the
/// scenario's instance it carries and the other tenants beside it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "host")]
pub struct HostSpec {
    pub name: String,
    /// The host's NIC, each direction: what all its tenants share.
    pub nic_bits_per_s: u64,
    /// Physical cores; a core runs one vCPU at full speed.
    pub cores: u32,
    /// vCPUs sold per core (default 1: no overcommit); the tenants' vCPUs must fit in
    /// cores x overcommit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overcommit: Option<f64>,
    /// The scenario's instances on this host, named as reports name them (`redis-0`,
    /// `redis-0-r1`); one per host.
    pub instances: Vec<String>,
    /// The other tenants.
    pub neighbours: Vec<NeighbourSpec>,
}

/// A tenant of a physical host that is not part of the scenario's cluster: a process
/// that is on or off, asking while on for bandwidth and CPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "neighbour")]
pub struct NeighbourSpec {
    pub name: String,
    /// Its instance's vCPUs (counted against the host's cores x overcommit).
    pub vcpus: u32,
    /// Its instance's network baseline, each direction: guaranteed while it asks.
    pub baseline_bits_per_s: u64,
    /// Its instance's burst rate (default: its baseline, no burst).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_bits_per_s: Option<u64>,
    /// Its burst credit bucket, full at the start (default: none, its burst never runs
    /// out of credits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_capacity_bits: Option<u64>,
    /// When it is on.
    pub activity: ActivitySpec,
    /// Bandwidth it asks for while on, each direction (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_bits_per_s: Option<u64>,
    /// vCPUs it keeps busy while on (default 0; at most its vCPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_vcpus: Option<f64>,
}

/// A neighbour's on and off periods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", rename = "activity")]
pub enum ActivitySpec {
    /// On from the start to the end.
    #[default]
    Always,
    /// Exponential on and off periods (their means in ms), starting on with the
    /// probability of the duty cycle.
    Exponential { on_mean_ms: u64, off_mean_ms: u64 },
    /// Pareto on and off periods with the given means (ms) and shape (> 1: heavy
    /// tailed, a finite mean), starting on with the probability of the duty cycle. A
    /// period is at most one day, which lowers the mean a little for shapes near 1.
    Pareto {
        on_mean_ms: u64,
        off_mean_ms: u64,
        shape: f64,
    },
    /// On in each listed window, (at_ms, for_ms), in time order.
    Schedule(Vec<(u64, u64)>),
}

/// A latency objective per second of the measured window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "slo")]
pub struct SloSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p999_ms: Option<f64>,
}

/// One step of growing the cluster: when it starts (`at_s` or `at_ms`) and exactly one
/// of what it does. Steps run one after another, as one operator's redis-cli runs
/// them: a step due while another runs starts when that one ends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "reshard_action")]
pub struct ReshardActionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    /// `redis-cli --cluster add-node`, this many times: new shards (a primary and
    /// `replicas_per_shard` replicas each, empty, named after the existing ones) join
    /// the cluster owning no slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_shards: Option<u32>,
    /// `redis-cli --cluster reshard`: moves slots to a primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reshard: Option<ReshardSpec>,
}

/// `redis-cli --cluster reshard --cluster-to TO --cluster-slots SLOTS --cluster-from
/// FROM --cluster-pipeline PIPELINE --cluster-yes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "reshard")]
pub struct ReshardSpec {
    /// The primary receiving the slots (`redis-6`).
    pub to: String,
    /// How many slots to move (1 to 16,384).
    pub slots: u32,
    /// The primaries giving them (default: every other primary owning slots, redis-cli's
    /// `all`), each in proportion to the slots it owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<String>>,
    /// Keys per MIGRATE (default 10, redis-cli's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<u32>,
}

/// One fault: when it begins (`at_s` or `at_ms`), how long it lasts (`for_s` or
/// `for_ms`; omitted, until the end of the run), and exactly one of what it does. Hosts
/// are named as reports name them (`redis-0`, `client-1`); `zone:NAME` stands for every
/// host of that zone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "fault")]
pub struct FaultSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_ms: Option<u64>,
    /// Nothing crosses between the two sets of hosts, either way (a partition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage: Option<(Vec<String>, Vec<String>)>,
    /// Messages between the two sets are delayed more, and some lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degrade: Option<DegradeSpec>,
    /// A host's NIC allows at most this rate, both ways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic_rate: Option<NicRateSpec>,
    /// A node crashes (its NIC cut from every host, its threads stopped) and, when the
    /// window ends, restarts empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "degrade")]
pub struct DegradeSpec {
    pub between: (Vec<String>, Vec<String>),
    /// One-way delay added to every message (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_latency_us: Option<u64>,
    /// The probability that a message is lost, in [0, 1] (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "nic_rate")]
pub struct NicRateSpec {
    pub host: String,
    pub bits_per_s: u64,
}

/// Latency and jitter between two zones, overriding the cross-zone defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "zone_pair")]
pub struct ZonePairSpec {
    pub zones: (String, String),
    pub latency_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_us: Option<u64>,
}

/// A named patch of the base scenario.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "variant")]
pub struct VariantSpec {
    pub name: String,
    #[serde(default)]
    pub patch: ScenarioSpec,
}

/// As derived; test builds also count the copies, so that a test can hold resolution to
/// a bounded number of copies per variant (copying the whole list once per variant made
/// checking ten thousand variants quadratic).
impl Clone for VariantSpec {
    fn clone(&self) -> Self {
        #[cfg(test)]
        VARIANT_SPEC_CLONES.with(|c| c.set(c.get() + 1));
        VariantSpec {
            name: self.name.clone(),
            patch: self.patch.clone(),
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Copies of a [`VariantSpec`] made on this thread (test builds only).
    pub(crate) static VARIANT_SPEC_CLONES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "network")]
pub struct NetworkSpec {
    /// One-way propagation delay between any two hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// Extra one-way delay of each message (not each packet), drawn uniformly in
    /// [0, jitter_us] and added to latency_us; at most latency_us. A message never
    /// arrives before the one sent ahead of it on its flow (it waits for it instead), so
    /// order is preserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu_bytes: Option<u32>,
    /// IP + TCP headers inside each packet (counted in the MTU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_tcp_header_bytes: Option<u32>,
    /// Link-layer framing outside the MTU that the shaper also counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_header_bytes: Option<u32>,
    /// Availability zones by name. Without them every host is in one zone, and
    /// latency_us / jitter_us apply everywhere; with them they apply within a zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<String>>,
    /// One-way latency and jitter between two different zones, unless `zone_pairs`
    /// says otherwise for a pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone_latency_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone_jitter_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_pairs: Option<Vec<ZonePairSpec>>,
    /// How long a connection keeps retransmitting one message before it is reset
    /// (Linux: tcp_retries2 = 15, 924.6 s from a 200 ms timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_reset_after_ms: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "cluster")]
pub struct ClusterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ClusterMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    /// Replicas per primary (0 to 5, ElastiCache's limit), each on a host of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas_per_shard: Option<u32>,
    /// Replication settings, each defaulting to Redis 7.0's (read only with replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationSpec>,
    /// The cluster bus (mode cluster only): Redis Cluster's node-to-node gossip,
    /// failure detection and failover, each setting defaulting to Redis 7.0's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<BusSpec>,
    /// The zones of the replicas, in node order (shard 0's replicas first), round robin.
    /// Default: each replica in another zone than its primary where there is one, as
    /// ElastiCache's Multi-AZ places them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_zones: Option<Vec<String>>,
    /// Instance type name (catalog or `instances`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Overrides of the engine's CPU cost model; unset parts keep the engine's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cost: Option<CpuCostOverrides>,
    /// The zones of the shards' nodes: shard i in zones[i mod len], round robin as
    /// ElastiCache spreads nodes over the zones given (default: the first zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<String>>,
}

/// Replication settings under redis.conf's names (`repl-backlog-size` is
/// `backlog_bytes`), each defaulting to Redis 7.0's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "replication")]
pub struct ReplicationSpec {
    /// repl-backlog-size (default 1 MiB): how far back a reconnecting replica can
    /// resume with a partial resync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog_bytes: Option<u64>,
    /// client-output-buffer-limit replica, hard part (default 256 MiB; 0 = none): a
    /// replica whose output buffer reaches it is disconnected at once. Redis raises a
    /// hard limit below the backlog size to the backlog size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_buffer_hard_limit_bytes: Option<u64>,
    /// The soft part (default 64 MiB; 0 = none): disconnected when above it for more
    /// than `output_buffer_soft_seconds` without a break.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_buffer_soft_limit_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_buffer_soft_seconds: Option<u64>,
    /// repl-timeout (default 60 s): a link with nothing heard for this long is dropped,
    /// by either end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
    /// repl-diskless-sync-delay (default 5 s): a full resync waits this long for more
    /// replicas to join it before the snapshot is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diskless_sync_delay_s: Option<u64>,
    /// repl-ping-replica-period (default 10 s): the primary writes a PING into the
    /// stream this often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_replica_period_s: Option<u64>,
    /// min-replicas-to-write (default 0, off): writes are refused with NOREPLICAS while
    /// fewer replicas than this have acknowledged within `min_replicas_max_lag_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas_to_write: Option<u32>,
    /// min-replicas-max-lag (default 10 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas_max_lag_s: Option<u64>,
    /// The primary's socket send buffer towards a replica: bytes written to the socket
    /// leave the output buffer (Redis counts only what is not yet written) and wait
    /// here for the network. Default 4 MiB, Linux's tcp_wmem maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_buffer_bytes: Option<u64>,
    /// How fast a replica loads a received snapshot, in MB/s of RDB (default ours:
    /// 200, see docs/REFERENCES.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdb_load_mb_per_s: Option<u64>,
}

/// The cluster bus's settings under redis.conf's names, each defaulting to Redis 7.0's
/// (the CPU costs to ours, see docs/REFERENCES.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "bus")]
pub struct BusSpec {
    /// cluster-node-timeout (default 15,000 ms): a node not heard from for this long
    /// while a ping to it is outstanding is flagged PFAIL; pongs older than half of it
    /// trigger a ping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_timeout_ms: Option<u64>,
    /// The main thread's cost of the bus; unset parts keep the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cost: Option<BusCpuCostSpec>,
}

/// What the cluster bus costs a node's main thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "cpu_cost")]
pub struct BusCpuCostSpec {
    /// Per message read or written (a read event, a header's checks, a write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_message_ns: Option<u64>,
    /// Per gossip entry built or processed (a node lookup and its updates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_gossip_entry_ns: Option<u64>,
    /// Per known node in each 100 ms clusterCron (it walks every node twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_node_per_cron_ns: Option<u64>,
}

/// Where a client sends its reads, as cluster clients offer it (Lettuce's `ReadFrom`,
/// redis-py's `read_from_replicas`): replicas serve reads on `READONLY` connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "read_from")]
pub enum ReadFrom {
    /// Every command to the shard's primary.
    #[default]
    Primary,
    /// Reads to the shard's replicas, round robin; writes to the primary.
    Replica,
    /// Reads to the replicas while one is in sync, otherwise to the primary.
    ReplicaPreferred,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "engine")]
pub enum Engine {
    Redis,
    Valkey,
    /// A thread-per-core, shared-nothing engine as Dragonfly describes its design: the
    /// keyspace split over the node's threads, each connection on one thread.
    Dragonfly,
}

impl Engine {
    /// Whether the engine splits its keyspace over its threads (Dragonfly) rather than
    /// executing every command on one main thread (Redis, Valkey).
    pub fn is_thread_per_core(self) -> bool {
        self == Engine::Dragonfly
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "mode")]
pub enum ClusterMode {
    /// One primary, clients send everything to it.
    Standalone,
    /// Redis Cluster: slots over shards, clients route by slot, nodes run the cluster
    /// bus.
    Cluster,
}

/// Which shard a key lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "placement")]
pub enum Placement {
    /// CRC16 slot of the key, slots split into contiguous ranges per shard as
    /// `redis-cli --cluster create` assigns them (Redis Cluster).
    Crc16,
    /// The key of popularity rank r (key index r) on shard r mod shards: the idealized
    /// placement of back-of-envelope estimates.
    RankModulo,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "node")]
pub struct NodeSpec {
    /// Default: instance memory less ElastiCache's 25% reserved-memory-percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmemory_bytes: Option<u64>,
    /// Default volatile_lru (ElastiCache's default parameter group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmemory_policy: Option<EvictionPolicy>,
    /// Redis io-threads (1 = the main thread does all I/O).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_threads: Option<u32>,
    /// Redis 7.0's `io-threads-do-reads`: its I/O threads read and parse too (default
    /// no: they only write). Redis only, with io_threads above 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_threads_do_reads: Option<bool>,
    /// The thread-per-core engine's threads (Dragonfly's `--proactor_threads`), each
    /// owning a shard of the keyspace; default: one per vCPU, as Dragonfly starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
}

/// Redis maxmemory-policy values (written with underscores in RON: `allkeys_lru`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "maxmemory_policy")]
pub enum EvictionPolicy {
    Noeviction,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl EvictionPolicy {
    /// The name redis.conf uses.
    pub fn redis_name(self) -> &'static str {
        match self {
            EvictionPolicy::Noeviction => "noeviction",
            EvictionPolicy::AllkeysLru => "allkeys-lru",
            EvictionPolicy::AllkeysLfu => "allkeys-lfu",
            EvictionPolicy::AllkeysRandom => "allkeys-random",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }
}

/// Overrides of the three parts of the engine's CPU cost; `None` keeps the engine's
/// default (see the engine model). The scenario's `cpu_cost` as written, and, merged,
/// the resolved `ClusterConfig::cpu_cost`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "cpu_cost")]
pub struct CpuCostOverrides {
    /// Per read from a connection (one read may carry a whole pipeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_read_batch_ns: Option<u64>,
    /// Per command executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_command_ns: Option<u64>,
    /// Per byte read or written, in picoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_byte_ps: Option<u64>,
    /// The thread-per-core engine only: a message hop to the thread that owns a key,
    /// paid by that thread and again by the connection's thread when the answer comes
    /// back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_hop_ns: Option<u64>,
    /// The thread-per-core engine only: the kernel's network work for one request and
    /// its reply (interrupts, TCP receive and send), on the host's vCPUs, which the
    /// engine's threads share when they occupy every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_per_request_ns: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "clients")]
pub struct ClientsSpec {
    /// Instance type of each client host (default c7gn.16xlarge, so the client side is
    /// not the bottleneck unless chosen to be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Client hosts, each running the workload (one memtier process each). Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadSpec>,
    /// The zones of the client hosts: host h in zones[h mod len] (default: the first
    /// zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<String>>,
    /// Overrides of a client thread's CPU cost; unset parts keep the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cost: Option<ClientCpuCostSpec>,
    /// Where reads go (default primary); other choices need replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_from: Option<ReadFrom>,
    /// How a cluster client follows redirections and retries (see `ClusterClientSpec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterClientSpec>,
}

/// How a cluster client follows `MOVED` and `ASK` and retries `CLUSTERDOWN` and
/// `TRYAGAIN`, as Lettuce and redis-py do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "cluster_client")]
pub struct ClusterClientSpec {
    /// Redirections and retries one request may have before it counts as failed
    /// (default 5, Lettuce's `maxRedirects`; at most 255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redirects: Option<u32>,
    /// How long a request answered `CLUSTERDOWN` or `TRYAGAIN` waits before it is sent
    /// again, in milliseconds (default 100, redis-py's cluster retry backoff base).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_ms: Option<u64>,
    /// How long a client waits for a reply before it gives the request up (counted as
    /// a timeout and failed) and refreshes its map from another node, in milliseconds.
    /// Default: no timeout, as memtier_benchmark (a dead node's requests then fail when
    /// their connection resets, `network.tcp_reset_after_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
}

/// Overrides of the client's CPU cost (see `models::client_cpu`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "client_cpu_cost")]
pub struct ClientCpuCostSpec {
    /// Building and writing one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_request_ns: Option<u64>,
    /// Reading and parsing one reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_reply_ns: Option<u64>,
    /// Per byte of request or reply, in picoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_byte_ps: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "prefill")]
pub struct PrefillSpec {
    /// Keys written before the run (0 = none). Default: the workload's whole key range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u64>,
    /// First key index. Default: the workload's key_minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_minimum: Option<u64>,
    /// Default: the workload's value size (weighted mean for a range or list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_bytes: Option<u32>,
}

/// Credit level at the start of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "credit_level")]
pub enum CreditLevel {
    Full,
    Empty,
    /// A fraction of the capacity in [0, 1].
    Fraction(f64),
}

impl CreditLevel {
    /// Credits at start for a bucket of `capacity` (rounded to the nearest unit).
    pub fn of_capacity(self, capacity: u64) -> u64 {
        match self {
            CreditLevel::Full => capacity,
            CreditLevel::Empty => 0,
            CreditLevel::Fraction(f) => {
                let v = libm::round(capacity as f64 * f.clamp(0.0, 1.0));
                (v as u64).min(capacity)
            }
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "report")]
pub struct ReportSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<ReportSection>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeseries: Option<Vec<TimeSeriesKind>>,
    /// Write SVG plots of the time series (with --out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plots: Option<bool>,
    /// The basis costs are reported on (default on_demand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_basis: Option<crate::catalog::PriceBasis>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "report_section")]
pub enum ReportSection {
    /// memtier-shaped totals per command.
    Totals,
    /// Where a request's time went.
    LatencyBreakdown,
    Nodes,
    Shards,
    Findings,
    /// Table across variants.
    Comparison,
    Timeseries,
}

impl ReportSection {
    pub const ALL: [ReportSection; 7] = [
        ReportSection::Totals,
        ReportSection::LatencyBreakdown,
        ReportSection::Nodes,
        ReportSection::Shards,
        ReportSection::Findings,
        ReportSection::Comparison,
        ReportSection::Timeseries,
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "time_series")]
pub enum TimeSeriesKind {
    /// Requests completed per second (`ops_per_s`).
    Ops,
    /// The p99 latency of each second, and whether it held enough requests to say.
    LatencyP99,
    /// Bits per second in and out per node.
    NetBits,
    /// Burst credits left per node, each direction.
    NetCredits,
    /// Each thread's CPU utilization per node and client host, and threads waiting.
    CpuUtilization,
    /// Packets over the bandwidth allowance per node.
    AllowanceExceeded,
    /// Packets dropped per node.
    Drops,
    /// The p99.9 latency of each second (with an SLO or shared hosts), and whether
    /// it held enough requests to say.
    LatencyP999,
    /// `used_memory` per node.
    Memory,
    /// Each replica's lag, in bytes and milliseconds, and its primary's output buffer.
    Replication,
    /// Cluster-bus messages and bytes sent, and the bus's share of the main thread.
    Bus,
    /// A resharding's pace: slots moved and bytes migrated per second.
    Reshard,
    /// Shared hosts: CPU steal, burst denied, the NIC full, neighbours on.
    Neighbours,
}

impl TimeSeriesKind {
    /// Every kind: what a report holds unless the scenario lists fewer.
    pub const ALL: [TimeSeriesKind; 13] = [
        TimeSeriesKind::Ops,
        TimeSeriesKind::LatencyP99,
        TimeSeriesKind::NetBits,
        TimeSeriesKind::NetCredits,
        TimeSeriesKind::CpuUtilization,
        TimeSeriesKind::AllowanceExceeded,
        TimeSeriesKind::Drops,
        TimeSeriesKind::LatencyP999,
        TimeSeriesKind::Memory,
        TimeSeriesKind::Replication,
        TimeSeriesKind::Bus,
        TimeSeriesKind::Reshard,
        TimeSeriesKind::Neighbours,
    ];

    /// The kind of a report series, by its name (None for a name no series has).
    pub fn of_series(name: &str) -> Option<TimeSeriesKind> {
        use TimeSeriesKind::*;
        Some(match name {
            "ops_per_s" => Ops,
            "latency_ms_p99" | "latency_p99_estimable" => LatencyP99,
            "latency_ms_p999" | "latency_p999_estimable" => LatencyP999,
            "net_out_bits_per_s" | "net_in_bits_per_s" => NetBits,
            "net_credits_bits" | "net_credits_in_bits" => NetCredits,
            "cpu_threads_waiting" => CpuUtilization,
            n if n.starts_with("cpu_utilization_thread") => CpuUtilization,
            "bw_out_allowance_exceeded_per_s" => AllowanceExceeded,
            "drops_per_s" => Drops,
            "used_memory_bytes" => Memory,
            "replication_lag_bytes" | "replication_lag_ms" | "replication_buffer_peak_bytes" => {
                Replication
            }
            "bus_bytes_sent_per_s" | "bus_messages_sent_per_s" | "bus_main_thread_share" => Bus,
            "reshard_migrated_bytes_per_s" | "reshard_slots_moved_per_s" => Reshard,
            "cpu_steal_vcpus"
            | "burst_denied_bits_per_s"
            | "host_nic_full_share"
            | "neighbour_on_share" => Neighbours,
            _ => return None,
        })
    }
}

/// Fields of a catalog type to override, or of a custom type to define.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "instance")]
pub struct InstanceOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_bits_per_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_bits_per_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_credit_capacity_bits: Option<u64>,
    /// The NIC's own rate; a custom type without one gets its peak rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_rate_bits_per_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_credits: Option<CpuCreditSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pps_limit_per_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_limit_bytes: Option<u64>,
    /// Where the overriding figures come from (recorded for every overridden field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

merge_by_replacing!(
    Engine,
    ClusterMode,
    Placement,
    EvictionPolicy,
    CreditLevel,
    ArrivalProcess,
    CpuCreditSpec,
    ReadFrom,
    crate::catalog::PriceBasis
);

/// Two fields that say the same thing in different units: setting one in a patch
/// clears the other.
fn merge_exclusive_pair(
    a: &mut Option<u64>,
    b: &mut Option<u64>,
    pa: Option<u64>,
    pb: Option<u64>,
) {
    if pa.is_some() || pb.is_some() {
        *a = pa;
        *b = pb;
    }
}

impl Merge for ScenarioSpec {
    fn merge(&mut self, p: Self) {
        self.name.merge(p.name);
        self.description.merge(p.description);
        self.seed.merge(p.seed);
        merge_exclusive_pair(
            &mut self.duration_s,
            &mut self.duration_ms,
            p.duration_s,
            p.duration_ms,
        );
        merge_exclusive_pair(
            &mut self.warmup_s,
            &mut self.warmup_ms,
            p.warmup_s,
            p.warmup_ms,
        );
        self.network.merge(p.network);
        self.cluster.merge(p.cluster);
        self.clients.merge(p.clients);
        self.prefill.merge(p.prefill);
        self.net_credits_at_start.merge(p.net_credits_at_start);
        self.cpu_credits_at_start.merge(p.cpu_credits_at_start);
        self.report.merge(p.report);
        self.instances.merge(p.instances);
        self.faults.merge(p.faults);
        self.resharding.merge(p.resharding);
        self.hosts.merge(p.hosts);
        self.slo.merge(p.slo);
        // Patches cannot hold variants or extends (checked in resolve); keep the base's.
    }
}

impl Merge for NetworkSpec {
    fn merge(&mut self, p: Self) {
        self.latency_us.merge(p.latency_us);
        self.jitter_us.merge(p.jitter_us);
        self.mtu_bytes.merge(p.mtu_bytes);
        self.ip_tcp_header_bytes.merge(p.ip_tcp_header_bytes);
        self.link_header_bytes.merge(p.link_header_bytes);
        self.zones.merge(p.zones);
        self.cross_zone_latency_us.merge(p.cross_zone_latency_us);
        self.cross_zone_jitter_us.merge(p.cross_zone_jitter_us);
        self.zone_pairs.merge(p.zone_pairs);
        self.tcp_reset_after_ms.merge(p.tcp_reset_after_ms);
    }
}

impl Merge for ClusterSpec {
    fn merge(&mut self, p: Self) {
        self.engine.merge(p.engine);
        self.mode.merge(p.mode);
        self.shards.merge(p.shards);
        self.replicas_per_shard.merge(p.replicas_per_shard);
        self.replication.merge(p.replication);
        self.bus.merge(p.bus);
        self.replica_zones.merge(p.replica_zones);
        self.instance.merge(p.instance);
        self.node.merge(p.node);
        self.placement.merge(p.placement);
        self.cpu_cost.merge(p.cpu_cost);
        self.zones.merge(p.zones);
    }
}

impl Merge for BusSpec {
    fn merge(&mut self, p: Self) {
        self.node_timeout_ms.merge(p.node_timeout_ms);
        self.cpu_cost.merge(p.cpu_cost);
    }
}

impl Merge for BusCpuCostSpec {
    fn merge(&mut self, p: Self) {
        self.per_message_ns.merge(p.per_message_ns);
        self.per_gossip_entry_ns.merge(p.per_gossip_entry_ns);
        self.per_node_per_cron_ns.merge(p.per_node_per_cron_ns);
    }
}

impl Merge for NodeSpec {
    fn merge(&mut self, p: Self) {
        self.maxmemory_bytes.merge(p.maxmemory_bytes);
        self.maxmemory_policy.merge(p.maxmemory_policy);
        self.io_threads.merge(p.io_threads);
        self.threads.merge(p.threads);
        self.io_threads_do_reads.merge(p.io_threads_do_reads);
    }
}

impl Merge for CpuCostOverrides {
    fn merge(&mut self, p: Self) {
        self.per_read_batch_ns.merge(p.per_read_batch_ns);
        self.per_command_ns.merge(p.per_command_ns);
        self.per_hop_ns.merge(p.per_hop_ns);
        self.kernel_per_request_ns.merge(p.kernel_per_request_ns);
        self.per_byte_ps.merge(p.per_byte_ps);
    }
}

impl Merge for ClientsSpec {
    fn merge(&mut self, p: Self) {
        self.instance.merge(p.instance);
        self.hosts.merge(p.hosts);
        self.workload.merge(p.workload);
        self.zones.merge(p.zones);
        self.cpu_cost.merge(p.cpu_cost);
        self.read_from.merge(p.read_from);
        self.cluster.merge(p.cluster);
    }
}

impl Merge for ClusterClientSpec {
    fn merge(&mut self, p: Self) {
        self.max_redirects.merge(p.max_redirects);
        self.retry_delay_ms.merge(p.retry_delay_ms);
        self.request_timeout_ms.merge(p.request_timeout_ms);
    }
}

impl Merge for ReplicationSpec {
    fn merge(&mut self, p: Self) {
        self.backlog_bytes.merge(p.backlog_bytes);
        self.output_buffer_hard_limit_bytes
            .merge(p.output_buffer_hard_limit_bytes);
        self.output_buffer_soft_limit_bytes
            .merge(p.output_buffer_soft_limit_bytes);
        self.output_buffer_soft_seconds
            .merge(p.output_buffer_soft_seconds);
        self.timeout_s.merge(p.timeout_s);
        self.diskless_sync_delay_s.merge(p.diskless_sync_delay_s);
        self.ping_replica_period_s.merge(p.ping_replica_period_s);
        self.min_replicas_to_write.merge(p.min_replicas_to_write);
        self.min_replicas_max_lag_s.merge(p.min_replicas_max_lag_s);
        self.socket_buffer_bytes.merge(p.socket_buffer_bytes);
        self.rdb_load_mb_per_s.merge(p.rdb_load_mb_per_s);
    }
}

impl Merge for ClientCpuCostSpec {
    fn merge(&mut self, p: Self) {
        self.per_request_ns.merge(p.per_request_ns);
        self.per_reply_ns.merge(p.per_reply_ns);
        self.per_byte_ps.merge(p.per_byte_ps);
    }
}

impl Merge for PrefillSpec {
    fn merge(&mut self, p: Self) {
        self.keys.merge(p.keys);
        self.key_minimum.merge(p.key_minimum);
        self.value_bytes.merge(p.value_bytes);
    }
}

impl Merge for SloSpec {
    fn merge(&mut self, p: Self) {
        self.p99_ms.merge(p.p99_ms);
        self.p999_ms.merge(p.p999_ms);
    }
}

impl Merge for ReportSpec {
    fn merge(&mut self, p: Self) {
        self.sections.merge(p.sections);
        self.timeseries.merge(p.timeseries);
        self.price_basis.merge(p.price_basis);
        self.plots.merge(p.plots);
    }
}

impl Merge for InstanceOverride {
    fn merge(&mut self, p: Self) {
        self.vcpu.merge(p.vcpu);
        self.memory_bytes.merge(p.memory_bytes);
        self.baseline_bits_per_s.merge(p.baseline_bits_per_s);
        self.burst_bits_per_s.merge(p.burst_bits_per_s);
        self.net_credit_capacity_bits
            .merge(p.net_credit_capacity_bits);
        self.line_rate_bits_per_s.merge(p.line_rate_bits_per_s);
        self.cpu_credits.merge(p.cpu_credits);
        self.pps_limit_per_s.merge(p.pps_limit_per_s);
        self.queue_limit_bytes.merge(p.queue_limit_bytes);
        self.source.merge(p.source);
    }
}
