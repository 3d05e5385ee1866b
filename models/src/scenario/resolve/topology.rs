//! Zones and faults, resolved: zone names to indices, every host to its zone, every
//! pair of zones to its latency and jitter, and the fault timeline to windows in
//! nanoseconds over hosts by index. Invariant: a resolved timeline has no window that
//! is empty, starts at or after the run's end or ends after it, names an unknown host
//! or zone, caps a NIC above its own rate, or overlaps another window on the same
//! target (the same node crashing, the same NIC capped, or a host pair under two link
//! faults).

use super::{fe, ClientsConfig, ClusterConfig, NS_PER_MS, NS_PER_S};
use crate::scenario::error::FieldError;
use crate::scenario::spec::{ClientsSpec, ClusterSpec, Engine, FaultSpec, NetworkSpec};
use serde::{Deserialize, Serialize};

/// Defaults of the zone model, each with its reason (docs/REFERENCES.md section 8).
pub mod defaults {
    /// One-way latency between two zones: half of a 1 ms round trip. AWS places its
    /// zones "usually" within 1 ms of each other (at most 2 ms); measured round trips
    /// between zones of one region run from about 1.3 to 2.1 ms. Ours: the round
    /// trip AWS calls usual, not a measurement.
    pub const CROSS_ZONE_LATENCY_US: u64 = 500;
    pub const CROSS_ZONE_JITTER_US: u64 = 0;
    /// Linux's default: tcp_retries2 = 15 timeouts from 200 ms, doubling up to 120 s.
    pub const TCP_RESET_AFTER_MS: u64 = 924_600;
}

/// The zones of a world; empty when the scenario names none (one zone, every link
/// timed by `network.latency_ns` / `jitter_ns`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZonesConfig {
    pub names: Vec<String>,
    /// Each node's zone (index into `names`): the primaries in shard order, then the
    /// replicas shard by shard.
    pub node_zones: Vec<u32>,
    /// Each client host's zone, in host order.
    pub client_zones: Vec<u32>,
    /// Every pair of different zones (a < b), with its one-way latency and jitter.
    pub pairs: Vec<ZonePairConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZonePairConfig {
    pub a: u32,
    pub b: u32,
    pub latency_ns: u64,
    pub jitter_ns: u64,
}

impl ZonesConfig {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// One-way latency and jitter between zones `a` and `b`; `same` within a zone.
    pub fn link(&self, a: u32, b: u32, same: (u64, u64)) -> (u64, u64) {
        if a == b {
            return same;
        }
        let (a, b) = (a.min(b), a.max(b));
        self.pairs
            .iter()
            .find(|p| p.a == a && p.b == b)
            .map_or(same, |p| (p.latency_ns, p.jitter_ns))
    }
}

/// A host of the world: node i (shard order) or client host i.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HostRef {
    Node(u32),
    Client(u32),
}

/// One fault, resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultConfig {
    pub from_ns: u64,
    /// `None`: until the end of the run.
    pub until_ns: Option<u64>,
    pub kind: FaultKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FaultKind {
    Outage {
        a: Vec<HostRef>,
        b: Vec<HostRef>,
    },
    Degrade {
        a: Vec<HostRef>,
        b: Vec<HostRef>,
        extra_latency_ns: u64,
        /// The probability of a loss, in parts per million.
        loss_per_million: u64,
    },
    NicRate {
        host: HostRef,
        bits_per_s: u64,
    },
    Crash {
        node: u32,
    },
}

pub fn default_tcp_reset_after_ns() -> u64 {
    defaults::TCP_RESET_AFTER_MS * NS_PER_MS
}

pub fn is_default_tcp_reset_after_ns(ns: &u64) -> bool {
    *ns == default_tcp_reset_after_ns()
}

/// A primary's name, as results and fault timelines name it.
pub fn node_name(engine: Engine, shard: u32) -> String {
    let engine = match engine {
        Engine::Redis => "redis",
        Engine::Valkey => "valkey",
        Engine::Dragonfly => "dragonfly",
    };
    format!("{engine}-{shard}")
}

/// The name of node `node` of a world with `shards` primaries (nodes 0 to shards - 1)
/// and `replicas` replicas each (after them, shard by shard): `redis-3` for a primary,
/// `redis-3-r1` for shard 3's first replica.
pub fn any_node_name(engine: Engine, shards: u32, replicas: u32, node: u32) -> String {
    if node < shards || replicas == 0 {
        return node_name(engine, node);
    }
    let r = node - shards;
    format!("{}-r{}", node_name(engine, r / replicas), r % replicas + 1)
}

/// A client host's name.
pub fn client_name(host: u32) -> String {
    format!("client-{host}")
}

pub(super) fn resolve_reset_after(n: &NetworkSpec) -> Result<u64, FieldError> {
    match n.tcp_reset_after_ms {
        None => Ok(default_tcp_reset_after_ns()),
        Some(0) => Err(fe(
            "network.tcp_reset_after_ms",
            "expected a positive time, got 0",
        )),
        Some(ms) if ms > 30 * 24 * 3_600 * 1_000 => Err(fe(
            "network.tcp_reset_after_ms",
            format!("expected at most 30 days, got {ms} ms"),
        )),
        Some(ms) => Ok(ms * NS_PER_MS),
    }
}

fn zone_index(names: &[String], zone: &str, path: &str) -> Result<u32, FieldError> {
    names
        .iter()
        .position(|n| n == zone)
        .map(|i| i as u32)
        .ok_or_else(|| {
            if names.is_empty() {
                fe(
                    path,
                    format!("unknown zone {zone:?}: no zones are declared (network.zones)"),
                )
            } else {
                fe(
                    path,
                    format!("unknown zone {zone:?}; expected one of network.zones: {names:?}"),
                )
            }
        })
}

/// Each host's zone, round robin over a list of zone names (all in zone 0 without one).
fn spread(
    names: &[String],
    list: Option<&Vec<String>>,
    count: u32,
    path: &str,
) -> Result<Vec<u32>, FieldError> {
    let Some(list) = list else {
        return Ok(if names.is_empty() {
            Vec::new()
        } else {
            vec![0; count as usize]
        });
    };
    if list.is_empty() {
        return Err(fe(
            path,
            "expected at least one zone; omit the field for the first",
        ));
    }
    let zones = list
        .iter()
        .enumerate()
        .map(|(i, z)| zone_index(names, z, &format!("{path}[{i}]")))
        .collect::<Result<Vec<u32>, _>>()?;
    Ok((0..count as usize)
        .map(|h| zones[h % zones.len()])
        .collect())
}

pub(super) fn resolve_zones(
    n: &NetworkSpec,
    cluster: &ClusterSpec,
    shards: u32,
    replicas: u32,
    clients: &ClientsSpec,
    hosts: u32,
) -> Result<ZonesConfig, FieldError> {
    let names = n.zones.clone().unwrap_or_default();
    for (i, z) in names.iter().enumerate() {
        let path = format!("network.zones[{i}]");
        if z.trim().is_empty() || z.starts_with("zone:") {
            return Err(fe(&path, format!("expected a zone name, got {z:?}")));
        }
        if names[..i].contains(z) {
            return Err(fe(&path, format!("duplicate zone {z:?}")));
        }
    }
    if n.zones.is_some() && names.is_empty() {
        return Err(fe(
            "network.zones",
            "expected at least one zone; omit the field for a single zone",
        ));
    }
    let cross_latency_us = n
        .cross_zone_latency_us
        .unwrap_or(defaults::CROSS_ZONE_LATENCY_US);
    let cross_jitter_us = n
        .cross_zone_jitter_us
        .unwrap_or(defaults::CROSS_ZONE_JITTER_US);
    for (path, set) in [
        (
            "network.cross_zone_latency_us",
            n.cross_zone_latency_us.is_some(),
        ),
        (
            "network.cross_zone_jitter_us",
            n.cross_zone_jitter_us.is_some(),
        ),
        ("network.zone_pairs", n.zone_pairs.is_some()),
    ] {
        if set && names.len() < 2 {
            return Err(fe(
                path,
                "expected at least two zones in network.zones for a cross-zone setting",
            ));
        }
    }
    check_latency(cross_latency_us, cross_jitter_us, "network.cross_zone_")?;
    let mut pairs = Vec::new();
    for a in 0..names.len() as u32 {
        for b in a + 1..names.len() as u32 {
            pairs.push(ZonePairConfig {
                a,
                b,
                latency_ns: cross_latency_us * 1_000,
                jitter_ns: cross_jitter_us * 1_000,
            });
        }
    }
    let mut seen = Vec::new();
    for (i, p) in n.zone_pairs.iter().flatten().enumerate() {
        let path = format!("network.zone_pairs[{i}]");
        let a = zone_index(&names, &p.zones.0, &format!("{path}.zones"))?;
        let b = zone_index(&names, &p.zones.1, &format!("{path}.zones"))?;
        if a == b {
            return Err(fe(
                &format!("{path}.zones"),
                format!(
                    "expected two different zones, got {:?} twice (within a zone, \
                     network.latency_us applies)",
                    p.zones.0
                ),
            ));
        }
        let key = (a.min(b), a.max(b));
        if seen.contains(&key) {
            return Err(fe(
                &format!("{path}.zones"),
                format!("the pair {:?} is given twice", p.zones),
            ));
        }
        seen.push(key);
        let jitter_us = p.jitter_us.unwrap_or(0);
        check_latency(p.latency_us, jitter_us, &format!("{path}."))?;
        let pair = pairs
            .iter_mut()
            .find(|q| (q.a, q.b) == key)
            .expect("every pair of zones is listed");
        pair.latency_ns = p.latency_us * 1_000;
        pair.jitter_ns = jitter_us * 1_000;
    }
    if names.is_empty()
        && (cluster.zones.is_some() || clients.zones.is_some() || cluster.replica_zones.is_some())
    {
        let path = if cluster.zones.is_some() {
            "cluster.zones"
        } else if cluster.replica_zones.is_some() {
            "cluster.replica_zones"
        } else {
            "clients.zones"
        };
        return Err(fe(
            path,
            "no zones are declared: list them in network.zones first",
        ));
    }
    let mut node_zones = spread(&names, cluster.zones.as_ref(), shards, "cluster.zones")?;
    if replicas > 0 && !names.is_empty() {
        if cluster.replica_zones.is_some() {
            node_zones.extend(spread(
                &names,
                cluster.replica_zones.as_ref(),
                shards * replicas,
                "cluster.replica_zones",
            )?);
        } else {
            // Multi-AZ: replica k of a shard in the k-th zone after its primary's,
            // skipping the primary's zone while there is another.
            let z = names.len() as u32;
            for shard in 0..shards as usize {
                let primary = node_zones[shard];
                for k in 0..replicas {
                    let step = if z > 1 { 1 + k % (z - 1) } else { 0 };
                    node_zones.push((primary + step) % z);
                }
            }
        }
    }
    Ok(ZonesConfig {
        node_zones,
        client_zones: spread(&names, clients.zones.as_ref(), hosts, "clients.zones")?,
        names,
        pairs,
    })
}

fn check_latency(latency_us: u64, jitter_us: u64, prefix: &str) -> Result<(), FieldError> {
    if latency_us > 10_000_000 {
        return Err(fe(
            &format!("{prefix}latency_us"),
            format!("expected at most 10 s, got {latency_us} us"),
        ));
    }
    if jitter_us > latency_us {
        return Err(fe(
            &format!("{prefix}jitter_us"),
            format!("expected jitter_us <= latency_us ({latency_us}), got {jitter_us}"),
        ));
    }
    Ok(())
}

/// The hosts a fault may name.
struct Hosts<'a> {
    engine: Engine,
    shards: u32,
    replicas: u32,
    client_hosts: u32,
    zones: &'a ZonesConfig,
}

impl Hosts<'_> {
    fn name(&self, h: HostRef) -> String {
        match h {
            HostRef::Node(i) => any_node_name(self.engine, self.shards, self.replicas, i),
            HostRef::Client(i) => client_name(i),
        }
    }

    fn all(&self) -> impl Iterator<Item = HostRef> + '_ {
        (0..self.shards * (1 + self.replicas))
            .map(HostRef::Node)
            .chain((0..self.client_hosts).map(HostRef::Client))
    }

    fn zone_of(&self, h: HostRef) -> Option<u32> {
        match h {
            HostRef::Node(i) => self.zones.node_zones.get(i as usize).copied(),
            HostRef::Client(i) => self.zones.client_zones.get(i as usize).copied(),
        }
    }

    /// The hosts `name` stands for: one host, or every host of a zone.
    fn lookup(&self, name: &str, path: &str) -> Result<Vec<HostRef>, FieldError> {
        if let Some(zone) = name.strip_prefix("zone:") {
            let z = zone_index(&self.zones.names, zone, path)?;
            return Ok(self.all().filter(|&h| self.zone_of(h) == Some(z)).collect());
        }
        self.all()
            .find(|&h| self.name(h) == name)
            .map(|h| vec![h])
            .ok_or_else(|| {
                fe(
                    path,
                    format!(
                        "unknown host {name:?}; expected a node ({} to {}), a client host \
                     (client-0 to client-{}) or zone:NAME",
                        self.name(HostRef::Node(0)),
                        self.name(HostRef::Node(self.shards * (1 + self.replicas) - 1)),
                        self.client_hosts - 1
                    ),
                )
            })
    }

    fn set(&self, names: &[String], path: &str) -> Result<Vec<HostRef>, FieldError> {
        if names.is_empty() {
            return Err(fe(path, "expected at least one host on each side"));
        }
        let mut out = Vec::new();
        for n in names {
            out.extend(self.lookup(n, path)?);
        }
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(fe(path, format!("no host is in {names:?}")));
        }
        Ok(out)
    }

    fn between(
        &self,
        sides: &(Vec<String>, Vec<String>),
        path: &str,
    ) -> Result<(Vec<HostRef>, Vec<HostRef>), FieldError> {
        let a = self.set(&sides.0, path)?;
        let b = self.set(&sides.1, path)?;
        if let Some(h) = a.iter().find(|h| b.contains(h)) {
            return Err(fe(
                path,
                format!(
                    "{} is on both sides; expected two disjoint sets of hosts",
                    self.name(*h)
                ),
            ));
        }
        Ok((a, b))
    }
}

fn window_ns(
    f: &FaultSpec,
    path: &str,
    duration_ns: u64,
) -> Result<(u64, Option<u64>), FieldError> {
    let at_path = if f.at_ms.is_some() {
        format!("{path}.at_ms")
    } else {
        format!("{path}.at_s")
    };
    let from = match (f.at_s, f.at_ms) {
        (Some(_), Some(_)) => {
            return Err(fe(&at_path, "at_s and at_ms say the same thing; set one"))
        }
        (Some(s), None) => s.saturating_mul(NS_PER_S),
        (None, Some(ms)) => ms.saturating_mul(NS_PER_MS),
        (None, None) => {
            return Err(fe(
                &format!("{path}.at_s"),
                "required: when the fault begins, as at_s or at_ms",
            ))
        }
    };
    if from >= duration_ns {
        return Err(fe(
            &at_path,
            format!(
                "expected a start before the end of the run ({} ms), got {} ms",
                duration_ns / NS_PER_MS,
                from / NS_PER_MS
            ),
        ));
    }
    let for_path = if f.for_ms.is_some() {
        format!("{path}.for_ms")
    } else {
        format!("{path}.for_s")
    };
    let length = match (f.for_s, f.for_ms) {
        (Some(_), Some(_)) => {
            return Err(fe(
                &for_path,
                "for_s and for_ms say the same thing; set one",
            ))
        }
        (Some(s), None) => Some(s.saturating_mul(NS_PER_S)),
        (None, Some(ms)) => Some(ms.saturating_mul(NS_PER_MS)),
        (None, None) => None,
    };
    let until = match length {
        None => None,
        Some(0) => {
            return Err(fe(
                &for_path,
                "expected a positive length, got 0; omit it to last until the end",
            ))
        }
        Some(l) => {
            let until = from.saturating_add(l);
            if until > duration_ns {
                return Err(fe(
                    &for_path,
                    format!(
                        "the fault would end at {} ms, after the run ({} ms); shorten it, \
                         or omit it to last until the end",
                        until / NS_PER_MS,
                        duration_ns / NS_PER_MS
                    ),
                ));
            }
            Some(until)
        }
    };
    Ok((from, until))
}

/// What two faults both act on, if they overlap in time and target.
fn shared_target(a: &FaultConfig, b: &FaultConfig, hosts: &Hosts) -> Option<String> {
    let end = |f: &FaultConfig| f.until_ns.unwrap_or(u64::MAX);
    if a.from_ns >= end(b) || b.from_ns >= end(a) {
        return None;
    }
    let sides = |k: &FaultKind| match k {
        FaultKind::Outage { a, b } | FaultKind::Degrade { a, b, .. } => {
            Some((a.clone(), b.clone()))
        }
        _ => None,
    };
    match (&a.kind, &b.kind) {
        (FaultKind::Crash { node: x }, FaultKind::Crash { node: y }) if x == y => {
            Some(hosts.name(HostRef::Node(*x)))
        }
        (FaultKind::NicRate { host: x, .. }, FaultKind::NicRate { host: y, .. }) if x == y => {
            Some(format!("the NIC of {}", hosts.name(*x)))
        }
        (ka, kb) => {
            let ((a1, b1), (a2, b2)) = (sides(ka)?, sides(kb)?);
            for (x1, y1) in [(&a1, &b1), (&b1, &a1)] {
                if let Some(x) = x1.iter().find(|h| a2.contains(h)) {
                    if let Some(y) = y1.iter().find(|h| b2.contains(h)) {
                        return Some(format!(
                            "the link between {} and {}",
                            hosts.name(*x),
                            hosts.name(*y)
                        ));
                    }
                }
            }
            None
        }
    }
}

pub(super) fn resolve_faults(
    list: &[FaultSpec],
    duration_ns: u64,
    cluster: &ClusterConfig,
    clients: &ClientsConfig,
    zones: &ZonesConfig,
) -> Result<Vec<FaultConfig>, FieldError> {
    if list.len() > 10_000 {
        return Err(fe(
            "faults",
            format!("expected at most 10,000 faults, got {}", list.len()),
        ));
    }
    let hosts = Hosts {
        engine: cluster.engine,
        shards: cluster.total_shards(),
        replicas: cluster.replicas_per_shard,
        client_hosts: clients.hosts,
        zones,
    };
    let mut out: Vec<FaultConfig> = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let path = format!("faults[{i}]");
        let set = [
            f.outage.is_some(),
            f.degrade.is_some(),
            f.nic_rate.is_some(),
            f.crash.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(fe(
                &path,
                "expected exactly one of outage, degrade, nic_rate or crash",
            ));
        }
        let (from_ns, until_ns) = window_ns(f, &path, duration_ns)?;
        let kind = if let Some(sides) = &f.outage {
            let (a, b) = hosts.between(sides, &format!("{path}.outage"))?;
            FaultKind::Outage { a, b }
        } else if let Some(d) = &f.degrade {
            let (a, b) = hosts.between(&d.between, &format!("{path}.degrade.between"))?;
            let extra_us = d.extra_latency_us.unwrap_or(0);
            if extra_us > 10_000_000 {
                return Err(fe(
                    &format!("{path}.degrade.extra_latency_us"),
                    format!("expected at most 10 s, got {extra_us} us"),
                ));
            }
            let loss = d.loss.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&loss) {
                return Err(fe(
                    &format!("{path}.degrade.loss"),
                    format!("expected a probability in [0, 1], got {loss}"),
                ));
            }
            if extra_us == 0 && loss == 0.0 {
                return Err(fe(
                    &format!("{path}.degrade"),
                    "expected extra_latency_us or loss to be set above 0 (a degradation \
                     that changes nothing)",
                ));
            }
            FaultKind::Degrade {
                a,
                b,
                extra_latency_ns: extra_us * 1_000,
                loss_per_million: libm::round(loss * 1e6) as u64,
            }
        } else if let Some(r) = &f.nic_rate {
            let p = format!("{path}.nic_rate.host");
            let found = hosts.lookup(&r.host, &p)?;
            let [host] = found[..] else {
                return Err(fe(&p, "expected one host, not a zone"));
            };
            let spec = match host {
                HostRef::Node(_) => &cluster.instance.spec,
                HostRef::Client(_) => &clients.instance.spec,
            };
            let peak = spec
                .burst_bits_per_s
                .unwrap_or(spec.baseline_bits_per_s)
                .max(spec.baseline_bits_per_s);
            if r.bits_per_s == 0 || r.bits_per_s > peak {
                return Err(fe(
                    &format!("{path}.nic_rate.bits_per_s"),
                    format!(
                        "expected a rate in 1..={peak} (the NIC's own peak rate), got {}",
                        r.bits_per_s
                    ),
                ));
            }
            FaultKind::NicRate {
                host,
                bits_per_s: r.bits_per_s,
            }
        } else {
            let name = f.crash.as_deref().unwrap_or_default();
            let p = format!("{path}.crash");
            match hosts.lookup(name, &p)?[..] {
                [HostRef::Node(node)] => FaultKind::Crash { node },
                _ => {
                    return Err(fe(
                        &p,
                        format!("expected a node's name (a client host or a zone cannot crash), got {name:?}"),
                    ))
                }
            }
        };
        let fault = FaultConfig {
            from_ns,
            until_ns,
            kind,
        };
        for (j, earlier) in out.iter().enumerate() {
            if let Some(target) = shared_target(earlier, &fault, &hosts) {
                let at = if f.at_ms.is_some() { "at_ms" } else { "at_s" };
                return Err(fe(
                    &format!("{path}.{at}"),
                    format!(
                        "overlaps faults[{j}] on the same target ({target}); expected \
                         windows on one target one after the other"
                    ),
                ));
            }
        }
        out.push(fault);
    }
    Ok(out)
}
