//! Resolving shared hosts and the latency objective: the scenario's `hosts` (physical
//! hosts, the instance each carries, the neighbours beside it) and `slo`, checked and
//! turned into plain numbers. Invariant: a resolved host carries exactly one of the
//! scenario's server nodes, no node is on two hosts, the tenants' vCPUs fit the host's
//! cores x overcommit, the tenants' baselines fit its NIC and so does each tenant's burst
//! rate, every neighbour asks for something and never more than its own instance
//! allows, and a schedule's windows are ordered, disjoint and inside the run. A world
//! without hosts carries none and serializes as before they existed.

use super::super::error::FieldError;
use super::super::spec::{ActivitySpec, HostSpec, NeighbourSpec, SloSpec};
use super::topology::any_node_name;
use super::{fe, ClusterConfig, NS_PER_MS};
use serde::{Deserialize, Serialize};

/// The most hosts and neighbours per host a scenario may declare.
const MAX_HOSTS: usize = 10_000;
const MAX_NEIGHBOURS_PER_HOST: usize = 64;
/// The most windows in one neighbour's schedule.
const MAX_SCHEDULE_WINDOWS: usize = 100_000;
/// The fastest rate accepted anywhere on a shared host (10 Tbit/s): sums of a host's
/// rates then stay far from overflow.
const MAX_BITS_PER_S: u64 = 10_000_000_000_000;

fn check_rate(v: u64, path: &str) -> Result<(), FieldError> {
    if v > MAX_BITS_PER_S {
        return Err(fe(
            path,
            format!("expected at most 10 Tbit/s (10000000000000), got {v}"),
        ));
    }
    Ok(())
}

/// A physical host, resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhysicalHostConfig {
    pub name: String,
    pub nic_bits_per_s: u64,
    pub cores: u32,
    pub overcommit: f64,
    /// The server node it carries (node index: primaries in shard order, then the
    /// replicas shard by shard).
    pub node: u32,
    pub neighbours: Vec<NeighbourConfig>,
}

/// A neighbour, resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeighbourConfig {
    pub name: String,
    pub vcpus: u32,
    pub baseline_bits_per_s: u64,
    /// At least the baseline.
    pub burst_bits_per_s: u64,
    /// `None`: its burst never runs out of credits.
    pub credit_capacity_bits: Option<u64>,
    pub activity: Activity,
    pub net_bits_per_s: u64,
    /// vCPUs busy while on, in thousandths.
    pub cpu_milli_vcpus: u64,
}

/// When a neighbour is on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Activity {
    Always,
    Exponential {
        on_mean_ns: u64,
        off_mean_ns: u64,
    },
    Pareto {
        on_mean_ns: u64,
        off_mean_ns: u64,
        shape: f64,
    },
    /// Windows [from, until) in ns, ordered and disjoint.
    Schedule(Vec<(u64, u64)>),
}

impl Activity {
    /// The long-run share of time on (a schedule's over the run of `duration_ns`).
    pub fn duty_cycle(&self, duration_ns: u64) -> f64 {
        match self {
            Activity::Always => 1.0,
            Activity::Exponential {
                on_mean_ns,
                off_mean_ns,
            }
            | Activity::Pareto {
                on_mean_ns,
                off_mean_ns,
                ..
            } => *on_mean_ns as f64 / (on_mean_ns + off_mean_ns) as f64,
            Activity::Schedule(w) => {
                w.iter().map(|(a, b)| b - a).sum::<u64>() as f64 / duration_ns as f64
            }
        }
    }

    /// How the activity reads in a report.
    pub fn describe(&self) -> String {
        let ms = |ns: u64| ns as f64 / NS_PER_MS as f64;
        match self {
            Activity::Always => "always on".to_string(),
            Activity::Exponential {
                on_mean_ns,
                off_mean_ns,
            } => format!(
                "exponential on/off, mean on {} ms, mean off {} ms",
                ms(*on_mean_ns),
                ms(*off_mean_ns)
            ),
            Activity::Pareto {
                on_mean_ns,
                off_mean_ns,
                shape,
            } => format!(
                "Pareto on/off (shape {shape}), mean on {} ms, mean off {} ms",
                ms(*on_mean_ns),
                ms(*off_mean_ns)
            ),
            Activity::Schedule(w) => format!("a schedule of {} window(s)", w.len()),
        }
    }
}

/// A latency objective per second, in ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SloConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p999_ns: Option<u64>,
}

pub(super) fn resolve_slo(slo: Option<&SloSpec>) -> Result<Option<SloConfig>, FieldError> {
    let Some(slo) = slo else {
        return Ok(None);
    };
    let bound = |v: Option<f64>, path: &str| -> Result<Option<u64>, FieldError> {
        match v {
            None => Ok(None),
            Some(ms) if ms.is_finite() && ms > 0.0 && ms <= 3_600_000.0 => {
                Ok(Some(libm::round(ms * NS_PER_MS as f64) as u64))
            }
            Some(ms) => Err(fe(
                path,
                format!("expected a latency in ms above 0 and at most one hour, got {ms}"),
            )),
        }
    };
    let p99_ns = bound(slo.p99_ms, "slo.p99_ms")?;
    let p999_ns = bound(slo.p999_ms, "slo.p999_ms")?;
    if p99_ns.is_none() && p999_ns.is_none() {
        return Err(fe(
            "slo",
            "expected p99_ms, p999_ms or both (an objective with no bound checks nothing)",
        ));
    }
    Ok(Some(SloConfig { p99_ns, p999_ns }))
}

pub(super) fn resolve_hosts(
    list: &[HostSpec],
    duration_ns: u64,
    cluster: &ClusterConfig,
) -> Result<Vec<PhysicalHostConfig>, FieldError> {
    if list.len() > MAX_HOSTS {
        return Err(fe(
            "hosts",
            format!("expected at most {MAX_HOSTS} hosts, got {}", list.len()),
        ));
    }
    let shards = cluster.total_shards();
    let replicas = cluster.replicas_per_shard;
    let nodes = shards * (1 + replicas);
    let mut placed: Vec<Option<usize>> = vec![None; nodes as usize];
    let mut out = Vec::with_capacity(list.len());
    for (i, h) in list.iter().enumerate() {
        let path = format!("hosts[{i}]");
        if h.name.trim().is_empty() {
            return Err(fe(&format!("{path}.name"), "expected a non-empty name"));
        }
        if let Some(j) = list[..i].iter().position(|o| o.name == h.name) {
            return Err(fe(
                &format!("{path}.name"),
                format!("{:?} names hosts[{j}] too; expected unique names", h.name),
            ));
        }
        if h.cores == 0 || h.cores > 1_024 {
            return Err(fe(
                &format!("{path}.cores"),
                format!("expected 1 to 1,024 cores, got {}", h.cores),
            ));
        }
        let overcommit = h.overcommit.unwrap_or(1.0);
        if !(overcommit.is_finite() && (1.0..=16.0).contains(&overcommit)) {
            return Err(fe(
                &format!("{path}.overcommit"),
                format!("expected vCPUs per core from 1 to 16, got {overcommit}"),
            ));
        }
        if h.nic_bits_per_s == 0 {
            return Err(fe(
                &format!("{path}.nic_bits_per_s"),
                "expected a positive rate",
            ));
        }
        check_rate(h.nic_bits_per_s, &format!("{path}.nic_bits_per_s"))?;
        let node = match h.instances.as_slice() {
            [one] => node_index(one, shards, replicas, cluster, &format!("{path}.instances[0]"))?,
            [] => {
                return Err(fe(
                    &format!("{path}.instances"),
                    "expected the scenario's instance on this host (a host with none changes nothing)",
                ))
            }
            _ => {
                return Err(fe(
                    &format!("{path}.instances"),
                    format!(
                        "expected one instance per host, got {}: two of the scenario's instances sharing a host are not modelled yet",
                        h.instances.len()
                    ),
                ))
            }
        };
        if let Some(j) = placed[node as usize] {
            return Err(fe(
                &format!("{path}.instances[0]"),
                format!(
                    "{:?} is on hosts[{j}] already; an instance runs on one host",
                    h.instances[0]
                ),
            ));
        }
        placed[node as usize] = Some(i);
        if h.neighbours.is_empty() {
            return Err(fe(
                &format!("{path}.neighbours"),
                "expected at least one neighbour (a host alone with the instance changes nothing)",
            ));
        }
        if h.neighbours.len() > MAX_NEIGHBOURS_PER_HOST {
            return Err(fe(
                &format!("{path}.neighbours"),
                format!(
                    "expected at most {MAX_NEIGHBOURS_PER_HOST} neighbours, got {}",
                    h.neighbours.len()
                ),
            ));
        }
        let neighbours = h
            .neighbours
            .iter()
            .enumerate()
            .map(|(k, n)| resolve_neighbour(n, duration_ns, &format!("{path}.neighbours[{k}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some((k, n)) = neighbours
            .iter()
            .enumerate()
            .find(|(k, n)| neighbours[..*k].iter().any(|o| o.name == n.name))
        {
            return Err(fe(
                &format!("{path}.neighbours[{k}].name"),
                format!(
                    "{:?} is used twice on this host; expected unique names",
                    n.name
                ),
            ));
        }
        // What the host sells must fit it.
        let spec = &cluster.instance.spec;
        let vcpus: u64 =
            u64::from(spec.vcpu) + neighbours.iter().map(|n| u64::from(n.vcpus)).sum::<u64>();
        let sellable = libm::floor(f64::from(h.cores) * overcommit) as u64;
        if vcpus > sellable {
            return Err(fe(
                &path,
                format!(
                    "the tenants have {vcpus} vCPUs ({} for {} and the neighbours'), more than {} cores x overcommit {overcommit} = {sellable}",
                    spec.vcpu, h.instances[0], h.cores
                ),
            ));
        }
        let baselines = neighbours
            .iter()
            .map(|n| n.baseline_bits_per_s)
            .fold(spec.baseline_bits_per_s, u64::saturating_add);
        if baselines > h.nic_bits_per_s {
            return Err(fe(
                &format!("{path}.nic_bits_per_s"),
                format!(
                    "expected at least the tenants' baselines added up ({baselines} bits/s): a host guarantees every baseline"
                ),
            ));
        }
        let own_burst = spec.burst_bits_per_s.unwrap_or(spec.baseline_bits_per_s);
        let peak = neighbours
            .iter()
            .map(|n| n.burst_bits_per_s)
            .chain([own_burst])
            .max()
            .unwrap_or(0);
        if peak > h.nic_bits_per_s {
            return Err(fe(
                &format!("{path}.nic_bits_per_s"),
                format!(
                    "expected at least every tenant's burst rate ({peak} bits/s): a NIC slower than an instance's own rate is a different instance"
                ),
            ));
        }
        out.push(PhysicalHostConfig {
            name: h.name.clone(),
            nic_bits_per_s: h.nic_bits_per_s,
            cores: h.cores,
            overcommit,
            node,
            neighbours,
        });
    }
    Ok(out)
}

fn node_index(
    name: &str,
    shards: u32,
    replicas: u32,
    cluster: &ClusterConfig,
    path: &str,
) -> Result<u32, FieldError> {
    let nodes = shards * (1 + replicas);
    if let Some(n) =
        (0..nodes).find(|&n| any_node_name(cluster.engine, shards, replicas, n) == name)
    {
        return Ok(n);
    }
    let hint = if name.starts_with("client-") {
        "client hosts on shared hosts are not modelled yet; expected a server node"
    } else {
        "expected a server node"
    };
    Err(fe(
        path,
        format!(
            "unknown instance {name:?}; {hint} ({} to {})",
            any_node_name(cluster.engine, shards, replicas, 0),
            any_node_name(cluster.engine, shards, replicas, nodes - 1)
        ),
    ))
}

fn resolve_neighbour(
    n: &NeighbourSpec,
    duration_ns: u64,
    path: &str,
) -> Result<NeighbourConfig, FieldError> {
    if n.name.trim().is_empty() {
        return Err(fe(&format!("{path}.name"), "expected a non-empty name"));
    }
    if n.vcpus == 0 || n.vcpus > 1_024 {
        return Err(fe(
            &format!("{path}.vcpus"),
            format!("expected 1 to 1,024 vCPUs, got {}", n.vcpus),
        ));
    }
    if n.baseline_bits_per_s == 0 {
        return Err(fe(
            &format!("{path}.baseline_bits_per_s"),
            "expected a positive rate",
        ));
    }
    check_rate(
        n.baseline_bits_per_s,
        &format!("{path}.baseline_bits_per_s"),
    )?;
    if let Some(b) = n.burst_bits_per_s {
        check_rate(b, &format!("{path}.burst_bits_per_s"))?;
    }
    let burst = n.burst_bits_per_s.unwrap_or(n.baseline_bits_per_s);
    if burst < n.baseline_bits_per_s {
        return Err(fe(
            &format!("{path}.burst_bits_per_s"),
            format!(
                "expected at least the baseline ({}), got {burst}",
                n.baseline_bits_per_s
            ),
        ));
    }
    if n.credit_capacity_bits.is_some() && burst == n.baseline_bits_per_s {
        return Err(fe(
            &format!("{path}.credit_capacity_bits"),
            "a neighbour that cannot burst (burst_bits_per_s equal to its baseline) spends no credits",
        ));
    }
    if n.credit_capacity_bits == Some(0) {
        return Err(fe(
            &format!("{path}.credit_capacity_bits"),
            "expected a positive capacity; omit it for a burst that never runs out",
        ));
    }
    let net = n.net_bits_per_s.unwrap_or(0);
    if net > burst {
        return Err(fe(
            &format!("{path}.net_bits_per_s"),
            format!("expected at most its burst rate ({burst}), got {net}"),
        ));
    }
    let cpu = n.cpu_vcpus.unwrap_or(0.0);
    if !(cpu.is_finite() && cpu >= 0.0 && cpu <= f64::from(n.vcpus)) {
        return Err(fe(
            &format!("{path}.cpu_vcpus"),
            format!("expected 0 to its {} vCPUs, got {cpu}", n.vcpus),
        ));
    }
    let cpu_milli_vcpus = libm::round(cpu * 1_000.0) as u64;
    if net == 0 && cpu_milli_vcpus == 0 {
        return Err(fe(
            path,
            "expected a demand while on: net_bits_per_s, cpu_vcpus or both (a neighbour asking for nothing changes nothing)",
        ));
    }
    let activity = resolve_activity(&n.activity, duration_ns, &format!("{path}.activity"))?;
    Ok(NeighbourConfig {
        name: n.name.clone(),
        vcpus: n.vcpus,
        baseline_bits_per_s: n.baseline_bits_per_s,
        burst_bits_per_s: burst,
        credit_capacity_bits: n.credit_capacity_bits,
        activity,
        net_bits_per_s: net,
        cpu_milli_vcpus,
    })
}

fn resolve_activity(
    a: &ActivitySpec,
    duration_ns: u64,
    path: &str,
) -> Result<Activity, FieldError> {
    let mean = |ms: u64, field: &str| -> Result<u64, FieldError> {
        if ms == 0 || ms > 86_400_000 {
            return Err(fe(
                &format!("{path}.{field}"),
                format!("expected 1 ms to one day, got {ms}"),
            ));
        }
        Ok(ms * NS_PER_MS)
    };
    Ok(match a {
        ActivitySpec::Always => Activity::Always,
        ActivitySpec::Exponential {
            on_mean_ms,
            off_mean_ms,
        } => Activity::Exponential {
            on_mean_ns: mean(*on_mean_ms, "on_mean_ms")?,
            off_mean_ns: mean(*off_mean_ms, "off_mean_ms")?,
        },
        ActivitySpec::Pareto {
            on_mean_ms,
            off_mean_ms,
            shape,
        } => {
            if !(shape.is_finite() && *shape > 1.0 && *shape <= 100.0) {
                return Err(fe(
                    &format!("{path}.shape"),
                    format!(
                        "expected a shape above 1 (a finite mean) and at most 100, got {shape}"
                    ),
                ));
            }
            Activity::Pareto {
                on_mean_ns: mean(*on_mean_ms, "on_mean_ms")?,
                off_mean_ns: mean(*off_mean_ms, "off_mean_ms")?,
                shape: *shape,
            }
        }
        ActivitySpec::Schedule(windows) => {
            if windows.is_empty() {
                return Err(fe(path, "expected at least one (at_ms, for_ms) window"));
            }
            if windows.len() > MAX_SCHEDULE_WINDOWS {
                return Err(fe(
                    path,
                    format!(
                        "expected at most {MAX_SCHEDULE_WINDOWS} windows, got {}",
                        windows.len()
                    ),
                ));
            }
            let mut out: Vec<(u64, u64)> = Vec::with_capacity(windows.len());
            for (k, &(at_ms, for_ms)) in windows.iter().enumerate() {
                let wpath = format!("{path}[{k}]");
                let from = at_ms.saturating_mul(NS_PER_MS);
                let until = at_ms.saturating_add(for_ms).saturating_mul(NS_PER_MS);
                if for_ms == 0 {
                    return Err(fe(&wpath, "expected a window longer than 0 ms"));
                }
                if until > duration_ns {
                    return Err(fe(
                        &wpath,
                        format!(
                            "expected a window inside the run ({} ms), got {at_ms} + {for_ms} ms",
                            duration_ns / NS_PER_MS
                        ),
                    ));
                }
                if let Some(&(_, prev_until)) = out.last() {
                    if from < prev_until {
                        return Err(fe(
                            &wpath,
                            "expected windows in time order, each starting after the one before ends",
                        ));
                    }
                }
                out.push((from, until));
            }
            Activity::Schedule(out)
        }
    })
}
