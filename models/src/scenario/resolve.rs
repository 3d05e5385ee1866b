//! From a merged [`ScenarioSpec`] to a [`RunConfig`]: required fields checked, every
//! default filled, every value validated, instance types looked up in the catalog with
//! the scenario's overrides applied. The world builder reads only plain numbers from a
//! `RunConfig` and needs no fallbacks of its own.
//!
//! Invariant: a `RunConfig` exists only if every check here passed: durations positive
//! with warm-up shorter than the run, shard and connection counts positive, rates and
//! sizes positive, instance specs valid (see `InstanceSpec::validate`).

use super::error::FieldError;
use super::spec::*;
// The world builder reads credit levels next to the RunConfig that carries them, and
// the engine the CPU cost overrides.
pub use super::spec::{CpuCostOverrides, CreditLevel};
use crate::catalog::{
    closest_names, Catalog, Instance, InstanceSources, InstanceSpec, Price, PriceBasis,
};
use crate::client_cpu::ClientCpuCost;
use crate::workload::WorkloadConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod bus;
pub mod neighbours;
pub mod replication;
pub mod reshard;
pub mod topology;
pub use neighbours::{Activity, NeighbourConfig, PhysicalHostConfig, SloConfig};
pub use replication::ReplicationConfig;
pub use reshard::{ReshardConfig, ReshardKind, ReshardStep};
pub use topology::{FaultConfig, FaultKind, HostRef, ZonePairConfig, ZonesConfig};

/// Defaults that are not memtier's, each with its reason.
pub mod defaults {
    /// One-way; a same-AZ round trip is on the order of 0.1 ms. Ours, not a sourced
    /// figure: scenarios that care set it.
    pub const LATENCY_US: u64 = 50;
    pub const JITTER_US: u64 = 0;
    /// AWS: instances in a VPC use jumbo frames (9001) by default; 1500 outside it.
    pub const MTU_BYTES: u32 = 9_001;
    /// IPv4 20 + TCP 20, no options.
    pub const IP_TCP_HEADER_BYTES: u32 = 40;
    /// Ethernet header 14 + frame check sequence 4.
    pub const LINK_HEADER_BYTES: u32 = 18;
    /// ElastiCache reserved-memory-percent default (docs/REFERENCES.md section 1).
    pub const RESERVED_MEMORY_PERCENT: u64 = 25;
    pub const CLIENT_INSTANCE: &str = "c7gn.16xlarge";
    pub const SHARDS: u32 = 1;
    pub const REPLICAS_PER_SHARD: u32 = 0;
    pub const IO_THREADS: u32 = 1;
    pub const CLIENT_HOSTS: u32 = 1;
}

const NS_PER_S: u64 = 1_000_000_000;
const NS_PER_MS: u64 = 1_000_000;
/// Longest run accepted: 30 simulated days (keeps nanosecond arithmetic far from
/// overflow).
const MAX_DURATION_NS: u64 = 30 * 24 * 3_600 * NS_PER_S;

/// Everything one variant's world is built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub scenario_name: String,
    pub variant_name: String,
    /// The same for every variant of a scenario.
    pub seed: u64,
    pub duration_ns: u64,
    /// Results count only from this time on.
    pub warmup_ns: u64,
    pub network: NetworkConfig,
    pub cluster: ClusterConfig,
    pub clients: ClientsConfig,
    pub prefill: PrefillConfig,
    pub net_credits_at_start: CreditLevel,
    pub cpu_credits_at_start: CreditLevel,
    pub report: ReportConfig,
    /// Zones and the latency between them (empty: one zone). Left out of the
    /// serialized form when empty, as are the faults and a default reset time, so that
    /// a scenario without them serializes as it did before they existed.
    #[serde(default, skip_serializing_if = "ZonesConfig::is_empty")]
    pub zones: ZonesConfig,
    /// The fault timeline, in the scenario's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultConfig>,
    /// The resharding timeline, in start order.
    #[serde(default, skip_serializing_if = "ReshardConfig::is_empty")]
    pub resharding: ReshardConfig,
    /// How long a connection retransmits one message before it is reset.
    #[serde(
        default = "topology::default_tcp_reset_after_ns",
        skip_serializing_if = "topology::is_default_tcp_reset_after_ns"
    )]
    pub tcp_reset_after_ns: u64,
    /// Physical hosts shared with neighbours (empty: every instance alone on an
    /// unlimited host, and left out of the serialized form, as before they existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<PhysicalHostConfig>,
    /// The latency objective, if the scenario states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    pub latency_ns: u64,
    pub jitter_ns: u64,
    pub mtu_bytes: u32,
    pub ip_tcp_header_bytes: u32,
    pub link_header_bytes: u32,
}

impl NetworkConfig {
    /// TCP payload per packet.
    pub fn mss_bytes(&self) -> u32 {
        self.mtu_bytes - self.ip_tcp_header_bytes
    }

    /// Packets a TCP payload of `payload_bytes` takes (at least one).
    pub fn packets(&self, payload_bytes: u64) -> u64 {
        payload_bytes.div_ceil(u64::from(self.mss_bytes())).max(1)
    }

    /// Bytes the shaper counts for `payload_bytes` of TCP payload: the payload plus
    /// per-packet IP/TCP and link headers.
    pub fn wire_bytes(&self, payload_bytes: u64) -> u64 {
        payload_bytes
            + self.packets(payload_bytes)
                * u64::from(self.ip_tcp_header_bytes + self.link_header_bytes)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterConfig {
    pub engine: Engine,
    pub mode: ClusterMode,
    /// Primaries at the start; 1 in standalone mode.
    pub shards: u32,
    /// Shards the resharding timeline adds (each a primary and its replicas); left out
    /// when none, as before they existed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub added_shards: u32,
    pub replicas_per_shard: u32,
    /// Present exactly when there are replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationConfig>,
    /// Present exactly in cluster mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<bus::BusConfig>,
    pub instance: Instance,
    pub node: NodeConfig,
    pub placement: Placement,
    /// Serialized with every part present (unlike the scenario, which omits unset ones),
    /// so a report's `config` lists all three.
    #[serde(serialize_with = "serialize_every_cpu_cost_part")]
    pub cpu_cost: CpuCostOverrides,
}

/// Writes every field of `o`, an unset one as `None` (`null` in JSON).
fn serialize_every_cpu_cost_part<S: serde::Serializer>(
    o: &CpuCostOverrides,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("CpuCostOverrides", 3)?;
    st.serialize_field("per_read_batch_ns", &o.per_read_batch_ns)?;
    st.serialize_field("per_command_ns", &o.per_command_ns)?;
    st.serialize_field("per_byte_ps", &o.per_byte_ps)?;
    // The thread-per-core engine's own parts, only where it runs.
    if o.per_hop_ns.is_some() {
        st.serialize_field("per_hop_ns", &o.per_hop_ns)?;
    }
    if o.kernel_per_request_ns.is_some() {
        st.serialize_field("kernel_per_request_ns", &o.kernel_per_request_ns)?;
    }
    st.end()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    pub maxmemory_bytes: u64,
    pub maxmemory_policy: EvictionPolicy,
    pub io_threads: u32,
    /// Redis 7.0's `io-threads-do-reads` (left out when no).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub io_threads_do_reads: bool,
    /// The thread-per-core engine's threads (and keyspace shards); absent for the
    /// single-threaded engines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
}

impl NodeConfig {
    /// The threads a node runs: the thread-per-core engine's, or the main thread and
    /// its I/O threads.
    pub fn thread_count(&self) -> u32 {
        self.threads.unwrap_or(self.io_threads).max(1)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientsConfig {
    pub instance: Instance,
    pub hosts: u32,
    /// What each host runs (connections per host = clients x threads).
    pub workload: WorkloadConfig,
    /// Each client thread's CPU cost.
    pub cpu_cost: ClientCpuCost,
    /// Where reads go; left out when `primary`, as before replicas existed.
    #[serde(default, skip_serializing_if = "is_primary")]
    pub read_from: ReadFrom,
    /// How clients follow redirections; left out at its defaults, as before it existed.
    #[serde(default, skip_serializing_if = "ClusterClientConfig::is_default")]
    pub cluster: ClusterClientConfig,
}

/// How a cluster client follows redirections and retries (see `spec::ClusterClientSpec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterClientConfig {
    /// Redirections and retries a request may have before it counts as failed.
    pub max_redirects: u8,
    /// The wait before a request answered CLUSTERDOWN or TRYAGAIN is sent again.
    pub retry_delay_ns: u64,
    /// The wait for a reply before a request is given up (None: no timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ns: Option<u64>,
}

impl ClusterClientConfig {
    /// Lettuce's `maxRedirects` (5) and redis-py's retry backoff base (100 ms).
    pub const DEFAULT: ClusterClientConfig = ClusterClientConfig {
        max_redirects: 5,
        retry_delay_ns: 100 * NS_PER_MS,
        request_timeout_ns: None,
    };

    fn is_default(&self) -> bool {
        *self == ClusterClientConfig::DEFAULT
    }
}

impl Default for ClusterClientConfig {
    fn default() -> ClusterClientConfig {
        ClusterClientConfig::DEFAULT
    }
}

/// `clients.cluster`, defaults filled in and checked.
fn resolve_cluster_client(
    spec: Option<crate::scenario::spec::ClusterClientSpec>,
) -> Result<ClusterClientConfig, FieldError> {
    let spec = spec.unwrap_or_default();
    let d = ClusterClientConfig::DEFAULT;
    let max_redirects = match spec.max_redirects {
        None => d.max_redirects,
        Some(n) => u8::try_from(n).map_err(|_| {
            fe(
                "clients.cluster.max_redirects",
                format!("expected at most 255, got {n}"),
            )
        })?,
    };
    let retry_delay_ns = match spec.retry_delay_ms {
        None => d.retry_delay_ns,
        Some(0) => {
            return Err(fe(
                "clients.cluster.retry_delay_ms",
                "expected a positive time, got 0",
            ))
        }
        Some(ms) if ms > 3_600_000 => {
            return Err(fe(
                "clients.cluster.retry_delay_ms",
                format!("expected at most one hour, got {ms} ms"),
            ))
        }
        Some(ms) => ms * NS_PER_MS,
    };
    let request_timeout_ns = match spec.request_timeout_ms {
        None => None,
        Some(0) => {
            return Err(fe(
                "clients.cluster.request_timeout_ms",
                "expected a positive time, got 0",
            ))
        }
        Some(ms) if ms > 3_600_000 => {
            return Err(fe(
                "clients.cluster.request_timeout_ms",
                format!("expected at most one hour, got {ms} ms"),
            ))
        }
        Some(ms) => Some(ms * NS_PER_MS),
    };
    Ok(ClusterClientConfig {
        max_redirects,
        retry_delay_ns,
        request_timeout_ns,
    })
}

fn is_primary(r: &ReadFrom) -> bool {
    *r == ReadFrom::Primary
}

impl ClientsConfig {
    /// Connections across every client host.
    pub fn connections_total(&self) -> u32 {
        self.hosts
            .saturating_mul(self.workload.connections_per_host())
    }
}

/// Keys `key_prefix + i` for i in key_minimum..key_minimum + key_count, each holding
/// `value_bytes`, written before t = 0 (not simulated, not counted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefillConfig {
    pub key_prefix: String,
    pub key_minimum: u64,
    pub key_count: u64,
    pub value_bytes: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportConfig {
    pub sections: Vec<ReportSection>,
    pub timeseries: Vec<TimeSeriesKind>,
    pub plots: bool,
    /// The basis costs are reported on.
    pub price_basis: PriceBasis,
    /// The catalog's price of one server node (the cluster's instance type, for its
    /// engine, on `price_basis`); None when the catalog has none, or when the scenario
    /// modifies the type (under `instances`), which makes it another machine.
    pub price: Option<Price>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub instance_modified: bool,
}

impl ReportConfig {
    pub fn shows(&self, section: ReportSection) -> bool {
        self.sections.contains(&section)
    }
}

fn fe(path: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(path, message)
}

/// Resolves the instance table: the catalog plus the scenario's overrides and custom
/// types. Errors carry the `instances["name"].field` path.
pub(crate) fn instance_table(
    catalog: &Catalog,
    overrides: Option<&BTreeMap<String, InstanceOverride>>,
) -> Result<Vec<(String, InstanceSpec)>, FieldError> {
    let mut table: Vec<(String, InstanceSpec)> = catalog
        .instances
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let Some(overrides) = overrides else {
        return Ok(table);
    };
    for (name, o) in overrides {
        let path = format!("instances[{name:?}]");
        if name.is_empty() {
            return Err(fe(&path, "expected a non-empty instance type name"));
        }
        let source = o
            .source
            .clone()
            .unwrap_or_else(|| "scenario override".to_string());
        let spec = match table.iter_mut().find(|(n, _)| n == name) {
            Some((_, base)) => {
                apply_override(base, o, &source);
                base.clone()
            }
            None => {
                let need = |v: Option<u64>, field: &str| {
                    v.ok_or_else(|| {
                        fe(
                            &format!("{path}.{field}"),
                            format!("required for a custom instance type ({name:?} is not in the catalog)"),
                        )
                    })
                };
                let vcpu = need(o.vcpu.map(u64::from), "vcpu")? as u32;
                let memory_bytes = need(o.memory_bytes, "memory_bytes")?;
                let baseline_bits_per_s = need(o.baseline_bits_per_s, "baseline_bits_per_s")?;
                // Without a line rate the wire is the peak rate: nothing counts as
                // exceeding the allowance while the type sends at its peak.
                let peak = o.burst_bits_per_s.unwrap_or(0).max(baseline_bits_per_s);
                let spec = InstanceSpec {
                    vcpu,
                    memory_bytes,
                    baseline_bits_per_s,
                    burst_bits_per_s: o.burst_bits_per_s,
                    net_credit_capacity_bits: o.net_credit_capacity_bits,
                    line_rate_bits_per_s: o.line_rate_bits_per_s.unwrap_or(peak),
                    cpu_credits: o.cpu_credits,
                    pps_limit_per_s: o.pps_limit_per_s,
                    queue_limit_bytes: o.queue_limit_bytes,
                    source: InstanceSources {
                        vcpu: source.clone(),
                        memory: source.clone(),
                        network: source.clone(),
                        line_rate: match o.line_rate_bits_per_s {
                            Some(_) => source.clone(),
                            None => {
                                "derived: the peak rate (no line_rate_bits_per_s given)".to_string()
                            }
                        },
                        net_credits: o.net_credit_capacity_bits.map(|_| source.clone()),
                        cpu_credits: o.cpu_credits.map(|_| source.clone()),
                    },
                };
                table.push((name.clone(), spec.clone()));
                spec
            }
        };
        spec.validate().map_err(|m| match m.split_once(": ") {
            Some((field, msg)) => fe(&format!("{path}.{field}"), msg),
            None => fe(&path, m),
        })?;
    }
    Ok(table)
}

fn apply_override(base: &mut InstanceSpec, o: &InstanceOverride, source: &str) {
    if let Some(v) = o.vcpu {
        base.vcpu = v;
        base.source.vcpu = source.to_string();
    }
    if let Some(v) = o.memory_bytes {
        base.memory_bytes = v;
        base.source.memory = source.to_string();
    }
    if let Some(v) = o.baseline_bits_per_s {
        base.baseline_bits_per_s = v;
        base.source.network = source.to_string();
    }
    if let Some(v) = o.burst_bits_per_s {
        base.burst_bits_per_s = Some(v);
        base.source.network = source.to_string();
    }
    if let Some(v) = o.net_credit_capacity_bits {
        base.net_credit_capacity_bits = Some(v);
        base.source.net_credits = Some(source.to_string());
    }
    if let Some(v) = o.line_rate_bits_per_s {
        base.line_rate_bits_per_s = v;
        base.source.line_rate = source.to_string();
    }
    if let Some(v) = o.cpu_credits {
        base.cpu_credits = Some(v);
        base.source.cpu_credits = Some(source.to_string());
    }
    if let Some(v) = o.pps_limit_per_s {
        base.pps_limit_per_s = Some(v);
    }
    if let Some(v) = o.queue_limit_bytes {
        base.queue_limit_bytes = Some(v);
    }
}

fn lookup(
    table: &[(String, InstanceSpec)],
    name: &str,
    path: &str,
) -> Result<Instance, FieldError> {
    match table.iter().find(|(n, _)| n == name) {
        Some((n, spec)) => Ok(Instance {
            name: n.clone(),
            spec: spec.clone(),
        }),
        None => {
            let near = closest_names(table.iter().map(|(n, _)| n.as_str()), name, 3);
            let hint = if near.is_empty() {
                "see `kvsim catalog` for the known types, or define it under `instances`"
                    .to_string()
            } else {
                format!("closest known: {}", near.join(", "))
            };
            Err(fe(
                path,
                format!("unknown instance type {name:?}; expected a catalog type ({hint})"),
            ))
        }
    }
}

fn parse_duration_ns(
    s: Option<u64>,
    ms: Option<u64>,
    name: &str,
) -> Result<Option<u64>, FieldError> {
    match (s, ms) {
        (Some(_), Some(_)) => Err(fe(
            &format!("{name}_s"),
            format!("{name}_s and {name}_ms say the same thing; set one"),
        )),
        (Some(s), None) => s
            .checked_mul(NS_PER_S)
            .filter(|ns| *ns <= MAX_DURATION_NS)
            .map(Some)
            .ok_or_else(|| {
                fe(
                    &format!("{name}_s"),
                    format!("expected at most 30 days, got {s} s"),
                )
            }),
        (None, Some(ms)) => ms
            .checked_mul(NS_PER_MS)
            .filter(|ns| *ns <= MAX_DURATION_NS)
            .map(Some)
            .ok_or_else(|| {
                fe(
                    &format!("{name}_ms"),
                    format!("expected at most 30 days, got {ms} ms"),
                )
            }),
        (None, None) => Ok(None),
    }
}

/// Resolves one merged scenario into a run configuration.
pub(crate) fn resolve(
    spec: &ScenarioSpec,
    variant_name: &str,
    catalog: &Catalog,
) -> Result<RunConfig, FieldError> {
    let scenario_name = spec.name.clone().ok_or_else(|| {
        fe(
            "name",
            "required: a short name, e.g. name: \"m6g-25kb-get\"",
        )
    })?;
    super::check_name(&scenario_name).map_err(|m| fe("name", m))?;
    if spec
        .description
        .as_deref()
        .is_none_or(|d| d.trim().is_empty())
    {
        return Err(fe(
            "description",
            "required: a non-empty description (its first line is listed by `kvsim list`)",
        ));
    }
    let seed = spec
        .seed
        .ok_or_else(|| fe("seed", "required: an unsigned integer, e.g. seed: 42"))?;

    let duration_ns = parse_duration_ns(spec.duration_s, spec.duration_ms, "duration")?
        .ok_or_else(|| {
            fe(
                "duration_s",
                "required: the simulated run length, as duration_s or duration_ms",
            )
        })?;
    if duration_ns == 0 {
        let path = if spec.duration_s.is_some() {
            "duration_s"
        } else {
            "duration_ms"
        };
        return Err(fe(path, "expected a positive duration, got 0"));
    }
    let warmup_ns = parse_duration_ns(spec.warmup_s, spec.warmup_ms, "warmup")?.unwrap_or(0);
    if warmup_ns >= duration_ns {
        let path = if spec.warmup_ms.is_some() {
            "warmup_ms"
        } else {
            "warmup_s"
        };
        return Err(fe(
            path,
            format!(
                "expected a warm-up shorter than the duration, got warm-up {} ms >= duration {} ms",
                warmup_ns / NS_PER_MS,
                duration_ns / NS_PER_MS
            ),
        ));
    }

    let network_spec = spec.network.clone().unwrap_or_default();
    let network = resolve_network(network_spec.clone())?;
    let tcp_reset_after_ns = topology::resolve_reset_after(&network_spec)?;

    let table = instance_table(catalog, spec.instances.as_ref())?;

    let cluster_spec = spec.cluster.clone().unwrap_or_default();
    let mut cluster = resolve_cluster(&cluster_spec, &table).map_err(|e| e.under("cluster"))?;
    let max_bus_ns = crate::world::bus::MAX_BUS_RUN_DAYS * 86_400 * 1_000_000_000;
    if cluster.bus.is_some() && duration_ns > max_bus_ns {
        let path = if spec.duration_s.is_some() {
            "duration_s"
        } else {
            "duration_ms"
        };
        return Err(fe(
            path,
            format!(
                "expected at most {} days in cluster mode (the cluster bus's clock), got {} s",
                crate::world::bus::MAX_BUS_RUN_DAYS,
                duration_ns / 1_000_000_000
            ),
        ));
    }

    let clients_spec = spec.clients.clone().unwrap_or_default();
    let client_instance_name = clients_spec
        .instance
        .as_deref()
        .unwrap_or(defaults::CLIENT_INSTANCE);
    let client_instance = lookup(&table, client_instance_name, "clients.instance")?;
    let hosts = match clients_spec.hosts {
        Some(0) => {
            return Err(fe(
                "clients.hosts",
                "expected at least 1 client host, got 0",
            ))
        }
        Some(h) if h > 1_000 => {
            return Err(fe(
                "clients.hosts",
                format!("expected at most 1,000, got {h}"),
            ))
        }
        Some(h) => h,
        None => defaults::CLIENT_HOSTS,
    };
    let workload = clients_spec
        .workload
        .clone()
        .unwrap_or_default()
        .resolve()
        .map_err(|e| e.under("clients.workload"))?;
    let cpu_cost = {
        let o = clients_spec.cpu_cost.unwrap_or_default();
        let d = ClientCpuCost::DEFAULT;
        ClientCpuCost {
            per_request_ns: o.per_request_ns.unwrap_or(d.per_request_ns),
            per_reply_ns: o.per_reply_ns.unwrap_or(d.per_reply_ns),
            per_byte_ps: o.per_byte_ps.unwrap_or(d.per_byte_ps),
        }
    };
    let read_from = clients_spec.read_from.unwrap_or_default();
    replication::check_read_from(read_from, cluster.replicas_per_shard)?;
    let clients = ClientsConfig {
        instance: client_instance,
        hosts,
        workload,
        cpu_cost,
        read_from,
        cluster: resolve_cluster_client(clients_spec.cluster)?,
    };
    if u64::from(hosts) * u64::from(clients.workload.connections_per_host()) > 1_000_000 {
        return Err(fe(
            "clients.hosts",
            "expected at most 1,000,000 connections in total (hosts x clients x threads)",
        ));
    }

    let prefill = resolve_prefill(spec.prefill.clone().unwrap_or_default(), &clients.workload)
        .map_err(|e| e.under("prefill"))?;
    check_prefill_fits(&prefill, &cluster)?;

    let resharding = reshard::resolve_resharding(
        spec.resharding.as_deref().unwrap_or_default(),
        duration_ns,
        &cluster,
    )?;
    cluster.added_shards = resharding.added_shards();
    if cluster.engine.is_thread_per_core() && !resharding.is_empty() {
        return Err(fe(
            "resharding",
            "moving slots of the dragonfly engine (streamed by its control plane) is not \
             modelled yet",
        ));
    }
    let zones = topology::resolve_zones(
        &network_spec,
        &cluster_spec,
        cluster.total_shards(),
        cluster.replicas_per_shard,
        &clients_spec,
        clients.hosts,
    )?;
    let faults = topology::resolve_faults(
        spec.faults.as_deref().unwrap_or_default(),
        duration_ns,
        &cluster,
        &clients,
        &zones,
    )?;
    if !resharding.is_empty() {
        if let Some(i) = faults
            .iter()
            .position(|f| matches!(f.kind, FaultKind::Crash { .. }))
        {
            return Err(fe(
                &format!("faults[{i}].crash"),
                "a crash and resharding in one run are not modelled together yet;                  run them as two scenarios",
            ));
        }
    }

    let hosts = neighbours::resolve_hosts(
        spec.hosts.as_deref().unwrap_or_default(),
        duration_ns,
        &cluster,
    )?;
    if cluster.engine.is_thread_per_core() && !hosts.is_empty() {
        // Its kernel network work already shares the vCPUs; co-tenants competing for
        // the cores as well are not modelled together with it yet.
        return Err(fe(
            "hosts",
            "noisy neighbours on the dragonfly engine's hosts are not modelled yet",
        ));
    }
    let slo = neighbours::resolve_slo(spec.slo.as_ref())?;

    let net_credits_at_start = check_level(spec.net_credits_at_start, "net_credits_at_start")?;
    let cpu_credits_at_start = check_level(spec.cpu_credits_at_start, "cpu_credits_at_start")?;

    let report_spec = spec.report.clone().unwrap_or_default();
    let mut sections = report_spec
        .sections
        .unwrap_or_else(|| ReportSection::ALL.to_vec());
    sections.sort();
    sections.dedup();
    let mut timeseries = report_spec
        .timeseries
        .unwrap_or_else(|| TimeSeriesKind::ALL.to_vec());
    timeseries.sort();
    timeseries.dedup();
    let price_basis = report_spec.price_basis.unwrap_or(PriceBasis::OnDemand);
    // A type the scenario modifies is not the machine the price is for.
    let instance_modified = spec
        .instances
        .as_ref()
        .is_some_and(|m| m.contains_key(&cluster.instance.name));
    let price = catalog
        .price(&cluster.instance.name, cluster.engine, price_basis)
        .filter(|_| !instance_modified)
        .cloned();
    let report = ReportConfig {
        sections,
        timeseries,
        plots: report_spec.plots.unwrap_or(false),
        price_basis,
        price,
        instance_modified,
    };

    Ok(RunConfig {
        scenario_name,
        variant_name: variant_name.to_string(),
        seed,
        duration_ns,
        warmup_ns,
        network,
        cluster,
        clients,
        prefill,
        net_credits_at_start,
        cpu_credits_at_start,
        report,
        zones,
        faults,
        resharding,
        tcp_reset_after_ns,
        hosts,
        slo,
    })
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ClusterConfig {
    /// Primaries at the end of the run: those at the start and those added.
    pub fn total_shards(&self) -> u32 {
        self.shards + self.added_shards
    }
}

fn check_level(level: Option<CreditLevel>, path: &str) -> Result<CreditLevel, FieldError> {
    match level {
        Some(CreditLevel::Fraction(f)) if !(0.0..=1.0).contains(&f) => Err(fe(
            path,
            format!("expected full, empty or fraction(x) with x in [0, 1], got fraction({f})"),
        )),
        Some(l) => Ok(l),
        None => Ok(CreditLevel::Full),
    }
}

fn resolve_network(n: NetworkSpec) -> Result<NetworkConfig, FieldError> {
    let latency_us = n.latency_us.unwrap_or(defaults::LATENCY_US);
    let jitter_us = n.jitter_us.unwrap_or(defaults::JITTER_US);
    if latency_us > 10_000_000 {
        return Err(fe(
            "network.latency_us",
            format!("expected at most 10 s, got {latency_us} us"),
        ));
    }
    if jitter_us > latency_us {
        return Err(fe(
            "network.jitter_us",
            format!("expected jitter_us <= latency_us ({latency_us}), got {jitter_us}"),
        ));
    }
    let ip_tcp = n
        .ip_tcp_header_bytes
        .unwrap_or(defaults::IP_TCP_HEADER_BYTES);
    let link = n.link_header_bytes.unwrap_or(defaults::LINK_HEADER_BYTES);
    let mtu = n.mtu_bytes.unwrap_or(defaults::MTU_BYTES);
    if !(68..=65_535).contains(&mtu) {
        return Err(fe(
            "network.mtu_bytes",
            format!("expected 68..=65535 (AWS: 1500, or 9001 inside a VPC), got {mtu}"),
        ));
    }
    if ip_tcp >= mtu {
        return Err(fe(
            "network.ip_tcp_header_bytes",
            format!("expected fewer header bytes than the MTU ({mtu}), got {ip_tcp}"),
        ));
    }
    if link > 1_000 {
        return Err(fe(
            "network.link_header_bytes",
            format!("expected at most 1000, got {link}"),
        ));
    }
    Ok(NetworkConfig {
        latency_ns: latency_us * 1_000,
        jitter_ns: jitter_us * 1_000,
        mtu_bytes: mtu,
        ip_tcp_header_bytes: ip_tcp,
        link_header_bytes: link,
    })
}

fn resolve_cluster(
    c: &ClusterSpec,
    table: &[(String, InstanceSpec)],
) -> Result<ClusterConfig, FieldError> {
    let engine = c.engine.unwrap_or(Engine::Redis);
    let mode = c.mode.unwrap_or(ClusterMode::Standalone);
    let shards = c.shards.unwrap_or(defaults::SHARDS);
    if shards == 0 {
        return Err(fe("shards", "expected at least 1 shard, got 0"));
    }
    if shards > 1_000 {
        return Err(fe(
            "shards",
            format!(
                "expected at most 1,000 shards (Redis Cluster's recommended limit), got {shards}"
            ),
        ));
    }
    if mode == ClusterMode::Standalone && shards != 1 {
        return Err(fe(
            "shards",
            format!(
                "standalone mode has exactly one shard, got {shards}; use mode: cluster for more"
            ),
        ));
    }
    let replicas_per_shard = c.replicas_per_shard.unwrap_or(defaults::REPLICAS_PER_SHARD);
    if replicas_per_shard > replication::defaults::MAX_REPLICAS_PER_SHARD {
        return Err(fe(
            "replicas_per_shard",
            format!(
                "expected at most {} (ElastiCache's limit), got {replicas_per_shard}",
                replication::defaults::MAX_REPLICAS_PER_SHARD
            ),
        ));
    }
    let replication = replication::resolve_replication(c.replication.as_ref(), replicas_per_shard)?;
    // The thread-per-core engine's cluster has no gossip: a control plane pushes the
    // whole slot table to every node (Dragonfly's cluster mode).
    let bus = if engine.is_thread_per_core() {
        if c.bus.is_some() {
            return Err(fe(
                "bus",
                "the dragonfly engine's cluster has no gossip bus: a control plane pushes the \
                 slot table to every node; remove bus",
            ));
        }
        None
    } else {
        bus::resolve_bus(c.bus.as_ref(), mode)?
    };
    let name = c.instance.as_deref().ok_or_else(|| {
        fe(
            "instance",
            "required: the node instance type, e.g. instance: \"cache.r7g.large\"",
        )
    })?;
    let instance = lookup(table, name, "instance")?;
    let node_spec = c.node.clone().unwrap_or_default();
    // In u128 so a custom type's huge memory size cannot overflow.
    let memory = u128::from(instance.spec.memory_bytes);
    let reserved_default =
        (memory - memory * u128::from(defaults::RESERVED_MEMORY_PERCENT) / 100) as u64;
    let maxmemory_bytes = match node_spec.maxmemory_bytes {
        Some(0) => {
            return Err(fe(
                "node.maxmemory_bytes",
                "expected a positive size, got 0",
            ))
        }
        Some(m) if m > instance.spec.memory_bytes => {
            return Err(fe(
                "node.maxmemory_bytes",
                format!(
                    "expected at most the instance memory ({} bytes), got {m}",
                    instance.spec.memory_bytes
                ),
            ))
        }
        Some(m) => m,
        None => reserved_default,
    };
    let io_threads = match node_spec.io_threads {
        Some(0) => {
            return Err(fe(
                "node.io_threads",
                "expected at least 1 (the main thread), got 0",
            ))
        }
        Some(t) if t > 128 => {
            return Err(fe(
                "node.io_threads",
                format!("expected at most 128 (Redis's limit), got {t}"),
            ))
        }
        Some(t) => t,
        None => defaults::IO_THREADS,
    };
    let threads = resolve_engine_threads(engine, &node_spec, &instance)?;
    let io_threads_do_reads = match node_spec.io_threads_do_reads {
        Some(_) if engine != Engine::Redis => {
            return Err(fe(
                "node.io_threads_do_reads",
                "a Redis 7.0 setting: Valkey 8's I/O threads always read, and the dragonfly \
                 engine has none",
            ))
        }
        Some(true) if io_threads <= 1 => {
            return Err(fe(
                "node.io_threads_do_reads",
                "has no effect without I/O threads: set node.io_threads above 1",
            ))
        }
        Some(r) => r,
        None => false,
    };
    if engine.is_thread_per_core() && replicas_per_shard > 0 {
        return Err(fe(
            "replicas_per_shard",
            "replicas of the dragonfly engine are not modelled yet; use 0",
        ));
    }
    let cpu = c.cpu_cost.unwrap_or_default();
    if !engine.is_thread_per_core() {
        for (field, v) in [
            ("per_hop_ns", cpu.per_hop_ns),
            ("kernel_per_request_ns", cpu.kernel_per_request_ns),
        ] {
            if v.is_some() {
                return Err(fe(
                    &format!("cpu_cost.{field}"),
                    "only the thread-per-core engine (engine: dragonfly) has this cost; \
                     Redis and Valkey run every command on their main thread",
                ));
            }
        }
    }
    for (field, v) in [
        ("per_read_batch_ns", cpu.per_read_batch_ns),
        ("per_command_ns", cpu.per_command_ns),
        ("per_byte_ps", cpu.per_byte_ps),
        ("per_hop_ns", cpu.per_hop_ns),
        ("kernel_per_request_ns", cpu.kernel_per_request_ns),
    ] {
        if let Some(v) = v {
            if v > 1_000_000_000 {
                return Err(fe(
                    &format!("cpu_cost.{field}"),
                    format!("expected at most 1e9, got {v}"),
                ));
            }
        }
    }
    if cpu.per_command_ns == Some(0) {
        return Err(fe(
            "cpu_cost.per_command_ns",
            "expected a positive cost, got 0",
        ));
    }
    Ok(ClusterConfig {
        engine,
        mode,
        shards,
        added_shards: 0,
        replicas_per_shard,
        replication,
        bus,
        instance,
        node: NodeConfig {
            maxmemory_bytes,
            maxmemory_policy: node_spec
                .maxmemory_policy
                .unwrap_or(EvictionPolicy::VolatileLru),
            io_threads,
            io_threads_do_reads,
            threads,
        },
        placement: c.placement.unwrap_or(Placement::Crc16),
        cpu_cost: cpu,
    })
}

/// The thread-per-core engine's thread count (default: one per vCPU, as Dragonfly
/// starts), refused for the engines that have none; and I/O threads refused for it.
fn resolve_engine_threads(
    engine: Engine,
    node: &NodeSpec,
    instance: &Instance,
) -> Result<Option<u32>, FieldError> {
    if !engine.is_thread_per_core() {
        return match node.threads {
            Some(_) => Err(fe(
                "node.threads",
                "only the thread-per-core engine (engine: dragonfly) has threads of its \
                 own; Redis and Valkey take node.io_threads",
            )),
            None => Ok(None),
        };
    }
    if node.io_threads.is_some() {
        return Err(fe(
            "node.io_threads",
            "the dragonfly engine has no I/O threads: each of its threads reads, parses \
             and executes; set node.threads",
        ));
    }
    let max = store_core::shards::MAX_SHARDS as u32;
    match node.threads {
        Some(0) => Err(fe("node.threads", "expected at least 1 thread, got 0")),
        Some(t) if t > max => Err(fe(
            "node.threads",
            format!("expected at most {max} threads, got {t}"),
        )),
        Some(t) => Ok(Some(t)),
        None => Ok(Some(instance.spec.vcpu.clamp(1, max))),
    }
}

/// Refuses a prefill that does not fit its nodes: the keys placed on an average node,
/// as `used_memory` counts them, above `maxmemory`. Redis would load such a dataset and
/// then answer every write with OOM (or evict most of it at once), which is not what a
/// prefill is for. Placement spreads a range evenly to within a few percent; a node a
/// little above its limit evicts per its policy before its first command, as Redis
/// does after a load, and `used_memory` stays within the instance's memory because
/// `maxmemory` is validated against it.
fn check_prefill_fits(p: &PrefillConfig, c: &ClusterConfig) -> Result<(), FieldError> {
    if p.key_count == 0 {
        return Ok(());
    }
    let shards = u64::from(c.shards.max(1));
    let range_bytes = store_core::prefill::fixed_range_bytes(
        p.key_prefix.len() as u64,
        p.key_minimum,
        p.key_count,
        u64::from(p.value_bytes),
    );
    let keys_per_node = p.key_count.div_ceil(shards);
    let node_bytes = store_core::mem::BASELINE_USED_MEMORY_BYTES
        .saturating_add(range_bytes / shards)
        .saturating_add(store_core::mem::dict_buckets_bytes(keys_per_node));
    let limit = c.node.maxmemory_bytes;
    if node_bytes <= limit {
        return Ok(());
    }
    let spread = if shards > 1 {
        format!(" (spread over {shards} shards)")
    } else {
        String::new()
    };
    Err(fe(
        "prefill.keys",
        format!(
            "{} keys of {}-byte values take about {} of used_memory a node{spread}, more \
             than cluster.node.maxmemory_bytes allows ({}); expected fewer keys, smaller \
             values (prefill.value_bytes), more shards, or a larger maxmemory or instance",
            p.key_count,
            p.value_bytes,
            crate::units::bytes(node_bytes),
            crate::units::bytes(limit),
        ),
    ))
}

fn resolve_prefill(p: PrefillSpec, w: &WorkloadConfig) -> Result<PrefillConfig, FieldError> {
    let key_minimum = p.key_minimum.unwrap_or(w.key_minimum);
    let key_count = p.keys.unwrap_or_else(|| w.key_count());
    // The store holds a range up to one past its last index, which must fit (as
    // key_maximum, the last index is below 2^64 - 1).
    if key_minimum.checked_add(key_count).is_none() {
        return Err(fe(
            "keys",
            "key_minimum + keys overflows a 64-bit key index; expected a last key below 2^64 - 1",
        ));
    }
    if key_count > 1_000_000_000 {
        return Err(fe(
            "keys",
            format!("expected at most 1e9 keys, got {key_count}"),
        ));
    }
    let value_bytes = match p.value_bytes {
        Some(0) if key_count > 0 => {
            return Err(fe("value_bytes", "expected a positive size, got 0"))
        }
        Some(v) => v,
        None => w.data_size.mean_bytes(),
    };
    Ok(PrefillConfig {
        key_prefix: w.key_prefix.clone(),
        key_minimum,
        key_count,
        value_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_bytes_count_headers_per_packet() {
        let n = resolve_network(NetworkSpec::default()).unwrap();
        assert_eq!(n.mss_bytes(), 8_961);
        // A 25,010-byte reply at MSS 8,961: 3 packets of 58 header bytes.
        assert_eq!(n.wire_bytes(25_010), 25_010 + 3 * 58);
        assert_eq!(n.packets(0), 1);
    }

    #[test]
    fn credit_levels() {
        assert_eq!(CreditLevel::Full.of_capacity(10), 10);
        assert_eq!(CreditLevel::Empty.of_capacity(10), 0);
        assert_eq!(CreditLevel::Fraction(0.25).of_capacity(10), 3);
    }
}
