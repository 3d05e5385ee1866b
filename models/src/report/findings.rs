//! Findings by a stated rule. For every resource (each CPU thread, each NIC direction
//! at its currently allowed rate, packets per second where an allowance is known) the
//! per-second utilization after warm-up is computed; a resource binds when it is at or
//! above 0.9 for three consecutive whole seconds (every whole second of a measured
//! window shorter than three; a window with no whole second is too short to judge), its
//! onset the first of them; the binding resource is the most utilized of those (mean
//! over the measured window). The candidates are exactly the entries of the result's
//! resource registry.
//!
//! A NIC that bursts serves at two allowed rates: while credits last and after they
//! are spent. Its seconds are split into regimes (stretches at one rate, each second
//! classed by whether most of its bytes went at the baseline because the credits were
//! spent), and what the resource would carry at 100% is computed per regime; the
//! finding's ceiling is that of the last regime, the one a sustained load meets.
//! Invariant: findings come only from this rule, in a fixed order (binding first, then
//! by mean utilization, ties by node and resource name).

use super::{round3, Resource};
use crate::scenario::resolve::RunConfig;
use crate::world::results::{HostRole, NicDirectionResult, ResourceResult, RunResult};
use serde::Serialize;

/// The threshold of the rule.
pub const BINDING_UTILIZATION: f64 = 0.9;
/// Consecutive seconds at or above it.
pub const BINDING_SECONDS: usize = 3;

/// The whole seconds after warm-up.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub first_s: usize,
    pub end_s: usize,
}

impl Window {
    /// Whole seconds from the end of warm-up to `window_end_ns`.
    pub fn of(config: &RunConfig, window_end_ns: u64) -> Window {
        Window {
            first_s: config.warmup_ns.div_ceil(1_000_000_000) as usize,
            end_s: (window_end_ns / 1_000_000_000) as usize,
        }
    }

    fn seconds(&self) -> std::ops::Range<usize> {
        self.first_s..self.end_s.max(self.first_s)
    }

    /// Whole seconds in the window.
    pub fn len(&self) -> usize {
        self.seconds().len()
    }

    /// Consecutive seconds at or above the threshold that make a resource bind: three,
    /// or every whole second of a shorter window (0: too short to judge).
    pub fn binding_seconds(&self) -> usize {
        BINDING_SECONDS.min(self.len())
    }

    /// The mean over the window's seconds of a per-second series.
    pub fn mean_of(&self, per_s: &[u64]) -> f64 {
        mean(
            &self
                .seconds()
                .map(|s| per_s.get(s).copied().unwrap_or(0) as f64)
                .collect::<Vec<_>>(),
        )
    }

    /// The resource's mean utilization over the window's seconds.
    pub fn mean_utilization(&self, r: &ResourceResult) -> f64 {
        mean(&self.seconds().map(|s| r.utilization(s)).collect::<Vec<_>>())
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// One resource at or above the threshold.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub resource: Resource,
    /// The CPU thread (on a node 0 = main; on a client host, the memtier thread), for
    /// CPU findings.
    pub thread: Option<u32>,
    pub node: String,
    /// What the host is: a node, or a client host.
    pub role: HostRole,
    /// The first of the consecutive seconds at or above 0.9.
    pub onset_s: u64,
    pub utilization_mean: f64,
    pub utilization_peak: f64,
    /// The most utilized resource at or above 0.9.
    pub binding: bool,
    /// A thread-per-core node's threads are peers, named `thread t` (no main thread).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub peer_threads: bool,
    /// The host's measured ops/s (a client host's: the replies it received) divided by
    /// the utilization: what the resource would carry at 100% with the same mix, in the
    /// last regime. For a client thread, its host's replies per thread.
    pub ceiling_ops_per_s: f64,
    /// The stretches of the measured window at one allowed rate, in time order (one
    /// for a resource whose capacity never changes).
    pub regimes: Vec<Regime>,
}

/// Which allowed rate a stretch of seconds ran at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegimeKind {
    /// The resource's capacity never changes.
    Constant,
    /// A NIC with credits left: its burst rate.
    Burst,
    /// A NIC whose credits are spent: its baseline rate.
    CreditsSpent,
}

/// One stretch of the measured window at one allowed rate.
#[derive(Clone, Debug, Serialize)]
pub struct Regime {
    pub regime: RegimeKind,
    /// Whole seconds [from_s, to_s).
    pub from_s: u64,
    pub to_s: u64,
    /// The rate allowed in this regime (NIC directions).
    pub allowed_bits_per_s: Option<u64>,
    pub utilization_mean: f64,
    pub ops_per_s: f64,
    /// What the resource would carry at 100% in this regime.
    pub ceiling_ops_per_s: f64,
}

impl Finding {
    /// One line: resource, node, onset and utilization.
    pub fn summary(&self) -> String {
        let what = resource_label(self.resource, self.role, self.thread, self.peer_threads);
        format!(
            "{} {} from t={}s at {:.1}% (mean), {:.1}% (peak)",
            self.node,
            what,
            self.onset_s,
            self.utilization_mean * 100.0,
            self.utilization_peak * 100.0
        )
    }
}

struct Candidate<'a> {
    resource: Resource,
    thread: Option<u32>,
    node: String,
    role: HostRole,
    per_s: Vec<f64>,
    node_ops_per_s: f64,
    /// The node's measured requests per second.
    node_ops_by_s: &'a [u64],
    /// The NIC direction, for NIC resources.
    nic: Option<&'a NicDirectionResult>,
}

fn onset(per_s: &[f64], window: &Window) -> Option<usize> {
    let need = window.binding_seconds();
    if need == 0 {
        return None;
    }
    let s: Vec<usize> = window.seconds().collect();
    s.windows(need)
        .find(|w| {
            w.iter()
                .all(|&i| per_s.get(i).copied().unwrap_or(0.0) >= BINDING_UTILIZATION)
        })
        .map(|w| w[0])
}

/// The regime of each second of the window for a NIC direction (None: no bursting).
fn nic_regimes(nic: &NicDirectionResult, window: &Window) -> Option<Vec<RegimeKind>> {
    if nic.burst_bits_per_s <= nic.baseline_bits_per_s {
        return None;
    }
    let at = |v: &[u64], s: usize| v.get(s).copied().unwrap_or(0);
    let mut last = RegimeKind::Burst;
    Some(
        window
            .seconds()
            .map(|s| {
                let (wire, throttled) = (
                    at(&nic.wire_bytes_per_s, s),
                    at(&nic.throttled_wire_bytes_per_s, s),
                );
                // A second that served nothing keeps the regime before it.
                if wire > 0 {
                    last = if 2 * throttled >= wire {
                        RegimeKind::CreditsSpent
                    } else {
                        RegimeKind::Burst
                    };
                }
                last
            })
            .collect(),
    )
}

impl Candidate<'_> {
    /// The regimes of the window, each with what the resource would carry at 100%.
    fn regimes(&self, window: &Window, utilization_mean: f64) -> Vec<Regime> {
        let ceiling = |ops: f64, util: f64| round3(if util > 0.0 { ops / util } else { 0.0 });
        let labels = self.nic.and_then(|nic| nic_regimes(nic, window));
        let whole = |kind: RegimeKind, allowed: Option<u64>| Regime {
            regime: kind,
            from_s: window.first_s as u64,
            to_s: window.seconds().end as u64,
            allowed_bits_per_s: allowed,
            utilization_mean: round3(utilization_mean),
            ops_per_s: round3(self.node_ops_per_s),
            ceiling_ops_per_s: ceiling(self.node_ops_per_s, utilization_mean),
        };
        let allowed = |kind: RegimeKind| {
            self.nic.map(|n| match kind {
                RegimeKind::Burst => n.burst_bits_per_s,
                _ => n.baseline_bits_per_s,
            })
        };
        let Some(labels) = labels else {
            return vec![whole(RegimeKind::Constant, allowed(RegimeKind::Constant))];
        };
        let seconds: Vec<usize> = window.seconds().collect();
        let mut regimes = Vec::new();
        let mut i = 0;
        while i < labels.len() {
            let kind = labels[i];
            let mut j = i;
            while j < labels.len() && labels[j] == kind {
                j += 1;
            }
            regimes.push((kind, i, j));
            i = j;
        }
        if regimes.len() <= 1 {
            let kind = regimes.first().map_or(RegimeKind::Burst, |r| r.0);
            return vec![whole(kind, allowed(kind))];
        }
        regimes
            .into_iter()
            .map(|(kind, i, j)| {
                let span = &seconds[i..j];
                let n = span.len() as f64;
                let util = span
                    .iter()
                    .map(|&s| self.per_s.get(s).copied().unwrap_or(0.0))
                    .sum::<f64>()
                    / n;
                let ops = span
                    .iter()
                    .map(|&s| self.node_ops_by_s.get(s).copied().unwrap_or(0) as f64)
                    .sum::<f64>()
                    / n;
                Regime {
                    regime: kind,
                    from_s: span[0] as u64,
                    to_s: span[span.len() - 1] as u64 + 1,
                    allowed_bits_per_s: allowed(kind),
                    utilization_mean: round3(util),
                    ops_per_s: round3(ops),
                    ceiling_ops_per_s: ceiling(ops, util),
                }
            })
            .collect()
    }
}

/// The findings of a run: every registered resource is a candidate.
/// What a resource of a host is called: a client thread, a node's main or I/O thread (a
/// thread-per-core node's `thread t`), or a NIC direction.
pub fn resource_label(
    resource: Resource,
    role: HostRole,
    thread: Option<u32>,
    peer_threads: bool,
) -> String {
    match (role, thread) {
        (HostRole::Client, Some(t)) => format!("client thread {t}"),
        (_, Some(t)) if peer_threads => format!("thread {t}"),
        (_, Some(0)) => "main thread".to_string(),
        (_, Some(t)) => format!("I/O thread {t}"),
        (_, None) => resource.describe().to_string(),
    }
}

/// How near its capacity a run came: the resource nearest it (the first to bind as the
/// load grows, whatever its utilization), and the busiest server node's CPU and NIC.
#[derive(Clone, Debug, Serialize)]
pub struct Headroom {
    pub first_to_bind: String,
    pub first_to_bind_utilization: f64,
    /// The server node that served the most requests.
    pub hottest_node: String,
    /// Its busiest CPU thread.
    pub hottest_node_cpu_utilization: f64,
    /// Its busier NIC direction, at its allowed rate.
    pub hottest_node_nic_utilization: f64,
}

/// The run's [`Headroom`], over the measured window's whole seconds, or over the run
/// when the window holds none.
pub fn headroom(result: &RunResult, window: &Window) -> Option<Headroom> {
    let peers = result.config.cluster.engine.is_thread_per_core();
    let utilization = |r: &ResourceResult| {
        if window.len() > 0 {
            window.mean_utilization(r)
        } else {
            let used: u64 = r.used_per_s.iter().sum();
            used as f64 / (r.capacity_per_s as f64 * result.end_ns.max(1) as f64 / 1e9)
        }
    };
    let hottest = result
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, h)| h.role != HostRole::Client)
        .max_by(|a, b| a.1.ops.cmp(&b.1.ops).then_with(|| b.0.cmp(&a.0)))?
        .0;
    let mut first: Option<(f64, String)> = None;
    let (mut cpu, mut nic) = (0.0f64, 0.0f64);
    for r in &result.resources {
        let host = &result.hosts[r.host as usize];
        let u = utilization(r);
        if r.host as usize == hottest {
            match r.kind {
                Resource::Cpu => cpu = cpu.max(u),
                Resource::NicOut | Resource::NicIn => nic = nic.max(u),
                _ => {}
            }
        }
        if first.as_ref().is_none_or(|(best, _)| u > *best) {
            let peer = peers && host.role != HostRole::Client;
            let label = resource_label(r.kind, host.role, r.thread, peer);
            first = Some((u, format!("{} {label}", host.name)));
        }
    }
    let (first_u, first_name) = first?;
    Some(Headroom {
        first_to_bind: first_name,
        first_to_bind_utilization: round3(first_u),
        hottest_node: result.hosts[hottest].name.clone(),
        hottest_node_cpu_utilization: round3(cpu),
        hottest_node_nic_utilization: round3(nic),
    })
}

pub fn findings(result: &RunResult, window: &Window) -> Vec<Finding> {
    let seconds = result.seconds();
    let measured_s = result.window_seconds();
    // A client host's replies are shared by its threads: a thread's ceiling is its part.
    let mut threads_of_host = vec![0u32; result.hosts.len()];
    for r in &result.resources {
        if r.kind == Resource::Cpu {
            threads_of_host[r.host as usize] += 1;
        }
    }
    let candidates = result.resources.iter().map(|r| {
        let host = &result.hosts[r.host as usize];
        let share = if host.role == HostRole::Client && r.kind == Resource::Cpu {
            f64::from(threads_of_host[r.host as usize].max(1))
        } else {
            1.0
        };
        Candidate {
            resource: r.kind,
            thread: r.thread,
            node: host.name.clone(),
            role: host.role,
            per_s: (0..seconds).map(|s| r.utilization(s)).collect(),
            node_ops_per_s: host.ops as f64 / measured_s / share,
            node_ops_by_s: &host.ops_per_s,
            nic: match r.kind {
                Resource::NicOut => Some(&host.egress),
                Resource::NicIn => Some(&host.ingress),
                _ => None,
            },
        }
    });
    let mut found: Vec<Finding> = candidates
        .into_iter()
        .filter_map(|c| {
            let start = onset(&c.per_s, window)?;
            let measured: Vec<f64> = window
                .seconds()
                .map(|s| c.per_s.get(s).copied().unwrap_or(0.0))
                .collect();
            let utilization_mean = mean(&measured);
            let utilization_peak = measured.iter().cloned().fold(0.0, f64::max);
            let regimes = c.regimes(window, utilization_mean);
            let ceiling_ops_per_s = regimes.last().map_or(0.0, |r| r.ceiling_ops_per_s);
            Some(Finding {
                resource: c.resource,
                thread: c.thread,
                node: c.node,
                role: c.role,
                onset_s: start as u64,
                utilization_mean: round3(utilization_mean),
                utilization_peak: round3(utilization_peak),
                binding: false,
                peer_threads: c.role != HostRole::Client
                    && result.config.cluster.engine.is_thread_per_core(),
                ceiling_ops_per_s,
                regimes,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        b.utilization_mean
            .total_cmp(&a.utilization_mean)
            .then_with(|| a.node.cmp(&b.node))
            .then_with(|| a.resource.cmp(&b.resource))
            .then_with(|| a.thread.cmp(&b.thread))
    });
    if let Some(first) = found.first_mut() {
        first.binding = true;
    }
    found
}
