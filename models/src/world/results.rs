//! The results boundary: what a finished world leaves behind, as plain data. A
//! [`RunResult`] holds the resolved configuration, per-command totals and HDR histograms,
//! where requests' time went, per-second series, every host's figures, the shard loads,
//! and one registry of resources (each CPU thread, each NIC direction, packets per second
//! where an allowance is known) whose per-second use the findings, the node table and
//! the time series all read. Reports are rendered from a `RunResult` alone, never from a
//! live world.
//!
//! Invariant: a `RunResult` serializes and reads back losslessly (histograms included,
//! in HdrHistogram's V2 interchange encoding), so results can be stored, compared by
//! [`RunResult::digest`] and merged across seeds and machines; nothing in it depends on
//! the machine, the wall clock or hash order.

use super::flows::FlowKind;
use crate::engine::CostModel;
use crate::scenario::resolve::RunConfig;
use serde::{Deserialize, Serialize};
use sim::stats::LatencyHistogram;
use sim::time::NS_PER_S;

/// Everything one variant's run produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub config: RunConfig,
    /// The engine's CPU cost model after the scenario's overrides.
    pub cpu_cost: CostModel,
    /// The simulated end of the run.
    pub end_ns: u64,
    /// The end of the measured window (see `Metrics::window_end`); it starts at the
    /// end of warm-up.
    pub window_end_ns: u64,
    pub sets: CommandResult,
    pub gets: CommandResult,
    pub breakdown: BreakdownResult,
    /// Requests completed in each second, warm-up included.
    pub ops_per_s: Vec<u64>,
    /// Latency (from the actual send) of the requests completed in each second that saw
    /// a completion, in second order: a second without any has no histogram, so an idle
    /// stretch costs no memory.
    pub latency_per_s: Vec<SecondLatency>,
    /// Server nodes first (node i is shard i's primary; then each shard's replicas,
    /// shard by shard), then client hosts.
    pub hosts: Vec<HostResult>,
    /// The resource registry, host by host in `hosts` order: each host's CPU threads
    /// (main first), then NIC egress, packets out, NIC ingress, packets in.
    pub resources: Vec<ResourceResult>,
    pub shards: ShardsResult,
    /// Traffic per flow kind, in kind order.
    pub flows: Vec<FlowKindTotals>,
    pub simulation: SimulationTotals,
    /// The fault timeline and the connection resets, when the scenario has faults or a
    /// connection was reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultsResult>,
    /// Replication, when the shards have replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<super::replication::ReplicationResult>,
    /// The cluster bus, in cluster mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<super::bus::BusResult>,
    /// What following the cluster cost the clients, when some client was redirected,
    /// retried or refreshed its map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_clients: Option<ClusterClientsResult>,
    /// The resharding timeline, when the scenario has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resharding: Option<super::reshard::ReshardResult>,
    /// Shared hosts and their neighbours, when the scenario has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbours: Option<super::neighbours::NeighboursResult>,
    /// The thread-per-core engine's hops and kernel work, when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_per_core: Option<ThreadPerCoreResult>,
}

/// What the thread-per-core engine's threads did besides executing: hops between
/// threads, and the kernel's network work on the hosts' vCPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadPerCoreResult {
    /// Commands executed on their connection's own thread (no hop), over the run.
    pub inline_commands: u64,
    /// Hops sent to other threads (one per batch and owning thread), over the run.
    pub hops: u64,
    /// Per server node: the kernel's network work, vCPU-ns per second.
    pub kernel_ns_per_s: Vec<Vec<u64>>,
}

/// What following the cluster (redirections, retries, map refreshes) cost the clients.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterClientsResult {
    /// Over every client.
    pub total: ClusterClientCounts,
    /// Each client with a count that is not zero, by index (host by host, client by
    /// client), in index order.
    pub by_client: Vec<(u32, ClusterClientCounts)>,
}

/// One client's (or every client's) counts of what following the cluster cost. Zero
/// counts are left out of the serialized form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterClientCounts {
    /// `MOVED` answers: the slot's owner changed in the client's map.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved: u64,
    /// `ASK` answers: the request went again to the named node, after ASKING.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ask: u64,
    /// `CLUSTERDOWN` answers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clusterdown: u64,
    /// `TRYAGAIN` answers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tryagain: u64,
    /// Requests sent again after the retry delay (CLUSTERDOWN, TRYAGAIN).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u64,
    /// Map refreshes (`CLUSTER SLOTS`) sent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refreshes: u64,
    /// Requests given up after the request timeout (failed; map refreshes included,
    /// which are not failures).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeouts: u64,
    /// Redirections to a node the client has no connection to (failed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreachable: u64,
    /// Requests that failed: out of redirections and retries, or unreachable.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ClusterClientCounts {
    pub fn is_empty(&self) -> bool {
        *self == ClusterClientCounts::default()
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &ClusterClientCounts) {
        self.moved += other.moved;
        self.ask += other.ask;
        self.clusterdown += other.clusterdown;
        self.tryagain += other.tryagain;
        self.retries += other.retries;
        self.refreshes += other.refreshes;
        self.timeouts += other.timeouts;
        self.unreachable += other.unreachable;
        self.failed += other.failed;
    }
}

/// The fault timeline of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultsResult {
    /// One entry per fault, in the scenario's order.
    pub timeline: Vec<FaultRecordResult>,
    /// Client connections reset (their node restarted, or a message waited through
    /// timeouts adding up to the reset time), and the requests that failed with them.
    pub connection_resets: u64,
    pub requests_reset: u64,
}

/// One fault: what it hit, when, and what it led to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecordResult {
    /// "outage", "degrade", "nic_rate" or "crash".
    pub kind: String,
    pub target: String,
    pub began_ns: u64,
    /// `None`: it lasted until the end of the run.
    pub ended_ns: Option<u64>,
    /// Resets charged to it: the connections whose message it cut or degraded while
    /// they waited (a reset may come after the fault ends: a connection gives up when
    /// a timer finds it has waited long enough, as Linux does), or those its node's
    /// restart reset.
    pub connection_resets: u64,
    pub requests_reset: u64,
    /// Message attempts it dropped on the link (link faults and crashes).
    pub dropped_messages: u64,
    pub dropped_wire_bytes: u64,
}

/// Wire bytes a host exchanged with hosts in other zones (delivered messages, headers
/// included, retransmissions not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossZoneBytes {
    pub sent: u64,
    pub received: u64,
}

/// Totals of one command type over the measured window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    pub count: u64,
    pub hits: u64,
    pub misses: u64,
    pub request_bytes: u64,
    pub reply_bytes: u64,
    /// From the actual send (memtier's measure).
    pub latency: LatencyHistogram,
    /// From the intended send (no coordinated omission).
    pub latency_intended: LatencyHistogram,
}

impl CommandResult {
    /// The totals of `self` and `other` together.
    pub fn combined(&self, other: &CommandResult) -> CommandResult {
        let mut latency = self.latency.clone();
        latency.merge(&other.latency);
        let mut latency_intended = self.latency_intended.clone();
        latency_intended.merge(&other.latency_intended);
        CommandResult {
            count: self.count + other.count,
            hits: self.hits + other.hits,
            misses: self.misses + other.misses,
            request_bytes: self.request_bytes + other.request_bytes,
            reply_bytes: self.reply_bytes + other.reply_bytes,
            latency,
            latency_intended,
        }
    }
}

/// Where the measured requests' time went, one histogram per component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BreakdownResult {
    pub client_queue: LatencyHistogram,
    pub network_queues: LatencyHistogram,
    pub propagation: LatencyHistogram,
    pub cpu_queue: LatencyHistogram,
    pub service: LatencyHistogram,
    /// From a reply's arrival at its client host to the end of its parse: waiting for
    /// the client's thread, and parsing.
    pub client_cpu: LatencyHistogram,
}

/// What a host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostRole {
    Primary,
    Replica,
    Client,
}

impl HostRole {
    pub fn label(self) -> &'static str {
        match self {
            HostRole::Primary => "primary",
            HostRole::Replica => "replica",
            HostRole::Client => "client",
        }
    }
}

/// One host's figures: a server node or a client host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostResult {
    pub name: String,
    pub role: HostRole,
    /// The shard a node serves (0 for client hosts).
    pub shard: u32,
    pub instance: String,
    /// The instance's vCPUs, which the host's threads share.
    pub vcpus: u32,
    /// Nanoseconds the host's threads were runnable without a vCPU (more threads than
    /// vCPUs wanted to run), summed over its threads, per second.
    pub cpu_contended_ns_per_s: Vec<u64>,
    /// Nanoseconds the host's threads were runnable on a vCPU that had no core (a
    /// shared host's other tenants took them: steal), summed over its threads, per
    /// second; empty, and left out, when there was none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu_steal_ns_per_s: Vec<u64>,
    /// Requests this node served that completed in the measured window; for a client
    /// host, the replies its clients received in that window.
    pub ops: u64,
    /// The same requests by the second they completed in.
    pub ops_per_s: Vec<u64>,
    pub used_memory_bytes: u64,
    pub keys: u64,
    /// Keys deleted because their TTL passed, and keys evicted under maxmemory, over the
    /// whole run and at the start of the measured window (server nodes only).
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub expired_keys_at_window_start: u64,
    pub evicted_keys_at_window_start: u64,
    /// Client connections to this node, or from this client host.
    pub connections: u64,
    /// Memory in use at the start of each second (server nodes only).
    pub used_memory_bytes_at_s: Vec<u64>,
    pub egress: NicDirectionResult,
    pub ingress: NicDirectionResult,
    /// Retransmissions of the flows this host sends on.
    pub retransmits: u64,
    pub retransmits_at_window_start: u64,
    /// Bytes to and from other zones, when the scenario names zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone_bytes: Option<CrossZoneBytes>,
}

/// The latency of the requests completed in one second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecondLatency {
    pub second: u64,
    pub latency: LatencyHistogram,
}

impl RunResult {
    /// The latency histogram of second `second`, if any request completed in it.
    pub fn latency_in_second(&self, second: u64) -> Option<&LatencyHistogram> {
        self.latency_per_s
            .binary_search_by_key(&second, |s| s.second)
            .ok()
            .map(|i| &self.latency_per_s[i].latency)
    }
}

/// A NIC direction's counters at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicCounts {
    pub wire_bytes: u64,
    pub dropped_messages: u64,
    pub bw_allowance_exceeded: u64,
    pub pps_allowance_exceeded: u64,
}

/// One direction of a NIC over the whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NicDirectionResult {
    /// The counters when the measured window began (all zero without warm-up): the
    /// window's figures are the run's totals less these.
    pub at_window_start: NicCounts,
    pub wire_bytes: u64,
    pub dropped_messages: u64,
    pub bw_allowance_exceeded: u64,
    pub pps_allowance_exceeded: u64,
    pub credits_end_bits: u64,
    pub credits_depleted_at_ns: Option<u64>,
    pub wire_bytes_per_s: Vec<u64>,
    pub drops_per_s: Vec<u64>,
    pub bw_allowance_exceeded_per_s: Vec<u64>,
    /// Credits at the start of each second (server nodes only).
    pub credits_bits_at_s: Vec<u64>,
    /// The rate allowed forever, and while credits last (equal when it cannot burst).
    pub baseline_bits_per_s: u64,
    pub burst_bits_per_s: u64,
    /// Wire bytes served at the baseline because the credits were spent, per second.
    pub throttled_wire_bytes_per_s: Vec<u64>,
    /// Burst a shared host denied, in bits per second (see `Shaper`); empty when it
    /// denied none, and left out then, as before shared hosts existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub burst_denied_bits_per_s: Vec<u64>,
}

/// A kind of resource in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Cpu,
    NicOut,
    NicIn,
    PpsOut,
    PpsIn,
}

impl ResourceKind {
    pub fn describe(self) -> &'static str {
        match self {
            ResourceKind::Cpu => "CPU thread",
            ResourceKind::NicOut => "NIC egress (at its allowed rate)",
            ResourceKind::NicIn => "NIC ingress (at its allowed rate)",
            ResourceKind::PpsOut => "packets/s out (of the pps allowance)",
            ResourceKind::PpsIn => "packets/s in (of the pps allowance)",
        }
    }
}

/// One resource of the registry: how much of it was used in each second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceResult {
    /// Index into [`RunResult::hosts`].
    pub host: u32,
    pub kind: ResourceKind,
    /// The CPU thread (0 = main), for CPU resources.
    pub thread: Option<u32>,
    /// Use in each second, in the unit of `capacity_per_s` (busy ns for a CPU thread
    /// or a NIC direction at its allowed rate; packets for a pps allowance).
    pub used_per_s: Vec<u64>,
    /// What one second offers at 100%.
    pub capacity_per_s: u64,
}

impl ResourceResult {
    /// Utilization of second `s`, 0 past the end of the series.
    pub fn utilization(&self, s: usize) -> f64 {
        self.used_per_s.get(s).copied().unwrap_or(0) as f64 / self.capacity_per_s as f64
    }

    /// A busy-time resource (CPU thread, NIC direction) from its busy ns per second.
    pub fn busy(host: u32, kind: ResourceKind, thread: Option<u32>, busy: &[u64]) -> Self {
        ResourceResult {
            host,
            kind,
            thread,
            used_per_s: busy.to_vec(),
            capacity_per_s: NS_PER_S,
        }
    }
}

/// Load per shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardsResult {
    /// "crc16" or "rank_modulo".
    pub placement: String,
    /// Requests per shard completed in the measured window.
    pub ops: Vec<u64>,
    /// Each shard's expected share of requests, from the key distribution and the
    /// placement (no sampling).
    pub share_exact: Vec<f64>,
    /// A bound on |share_exact - the true expected share| of any shard: 0 when shares
    /// are summed key by key or counted exactly, positive for Zipf and Gaussian key
    /// distributions over ranges too large for that (see `placement`). Absent from
    /// results written before it existed, which all summed key by key.
    #[serde(default)]
    pub share_exact_error_bound: f64,
}

/// Messages and payload bytes delivered on one kind of flow over the whole run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowKindTotals {
    pub kind: FlowKind,
    pub messages_delivered: u64,
    pub payload_bytes_delivered: u64,
}

/// Counts about the run itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationTotals {
    pub events: u64,
    /// Requests sent by clients over the whole run.
    pub requests_sent: u64,
    /// Requests completed over the whole run, warm-up included.
    pub requests_completed_total: u64,
    /// Requests sent and not completed when the run ended.
    pub requests_in_flight: u64,
    pub errors: u64,
    pub client_queue_overflows: u64,
}

impl NicDirectionResult {
    /// The counters over the whole run.
    pub fn totals(&self) -> NicCounts {
        NicCounts {
            wire_bytes: self.wire_bytes,
            dropped_messages: self.dropped_messages,
            bw_allowance_exceeded: self.bw_allowance_exceeded,
            pps_allowance_exceeded: self.pps_allowance_exceeded,
        }
    }

    /// The counters over the measured window (from its start to the run's end).
    pub fn in_window(&self) -> NicCounts {
        let (t, s) = (self.totals(), self.at_window_start);
        NicCounts {
            wire_bytes: t.wire_bytes - s.wire_bytes,
            dropped_messages: t.dropped_messages - s.dropped_messages,
            bw_allowance_exceeded: t.bw_allowance_exceeded - s.bw_allowance_exceeded,
            pps_allowance_exceeded: t.pps_allowance_exceeded - s.pps_allowance_exceeded,
        }
    }
}

impl RunResult {
    /// Lossless JSON of the whole result.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("results serialize")
    }

    /// Reads back what [`RunResult::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<RunResult, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Hex SHA-256 of the JSON: equal for equal results.
    pub fn digest(&self) -> String {
        crate::catalog::sha256_hex(self.to_json().as_bytes())
    }

    /// The length of the measured window in seconds (at least 1 ns).
    pub fn window_seconds(&self) -> f64 {
        let from = self.config.warmup_ns;
        (self.window_end_ns.max(from) - from).max(1) as f64 / 1e9
    }

    /// Whole seconds the run covers (the last may be partial).
    pub fn seconds(&self) -> usize {
        self.config.duration_ns.div_ceil(NS_PER_S) as usize
    }

    /// The registry entries of host `host`, in registry order.
    pub fn resources_of(&self, host: usize) -> impl Iterator<Item = &ResourceResult> {
        self.resources
            .iter()
            .filter(move |r| r.host as usize == host)
    }
}
