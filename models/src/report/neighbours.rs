//! The noisy-neighbour and latency-objective sections of a report. Shared hosts: every
//! figure the scenario states about each host and neighbour (no public measurement
//! fixes them, so the report prints them beside what they led to), the rules the model
//! follows, and per node the steal and the burst denied over the measured window. The
//! objective: each whole second of the measured window judged on its own p99 and
//! p99.9, a second with too few requests to estimate a percentile counted apart, never
//! as met. Invariant: every figure comes from the `RunResult`; a run without hosts or
//! an objective has neither section.

use super::findings::Window;
use super::{round3, round6};
use crate::scenario::resolve::{PhysicalHostConfig, SloConfig};
use crate::world::results::RunResult;
use serde::Serialize;

/// Requests a second needs for its percentile p to be estimated: at least ten beyond
/// it (1,000 for p99, 10,000 for p99.9). With fewer, the percentile is set by a
/// handful of requests and the second is marked rather than judged.
pub fn min_requests_for(percentile: f64) -> u64 {
    libm::round(10.0 / (1.0 - percentile / 100.0)) as u64
}

/// The rules the shared-host model follows, printed with every report that uses it.
pub const MODEL_RULES: [&str; 4] = [
    "each tenant's network baseline is guaranteed while it asks; the host NIC's capacity left after the baselines in use is spare (an idle tenant's baseline is spare too), shared max-min fairly among the tenants asking for burst, each capped by its burst rate and its credits",
    "the scenario's node is taken to ask for its whole burst whenever the host arbitrates (it sends what its traffic needs within the grant, spending credits only above its baseline); a neighbour asks, while on, for its stated demand",
    "vCPUs share the host's cores by processor sharing: while the node's runnable vCPUs and the neighbours' CPU demand exceed the cores, each runs at cores / demand, and the wait is steal",
    "a neighbour with on/off periods starts on with the probability of its duty cycle; its periods come from its own random stream, so turning neighbours on changes no other draw",
];

#[derive(Clone, Debug, Serialize)]
pub struct NeighboursReport {
    pub rules: Vec<String>,
    pub hosts: Vec<SharedHostReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SharedHostReport {
    pub name: String,
    pub node: String,
    /// As stated in the scenario.
    pub nic_gbps: f64,
    pub cores: u32,
    pub overcommit: f64,
    /// Over the measured window's whole seconds: the share of time the NIC was full,
    /// the mean burst rate the host allowed the node above its baseline (what it could
    /// have sent, not what it sent), its steal (vCPUs waiting for a core, mean and the
    /// worst second) and the burst it was denied (mean over the window, both directions
    /// added, and the seconds with any).
    pub full_fraction: f64,
    pub node_burst_allowed_gbps_mean: f64,
    pub steal_vcpus_mean: f64,
    pub steal_vcpus_peak: f64,
    pub burst_denied_mbps_mean: f64,
    pub seconds_with_burst_denied: u64,
    pub neighbours: Vec<NeighbourReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NeighbourReport {
    pub name: String,
    /// As stated in the scenario.
    pub vcpus: u32,
    pub baseline_gbps: f64,
    pub burst_gbps: f64,
    /// None: its burst never runs out of credits.
    pub credit_capacity_gbit: Option<f64>,
    pub activity: String,
    pub duty_cycle_stated: f64,
    pub demand_gbps: f64,
    pub demand_vcpus: f64,
    /// Over the measured window's whole seconds.
    pub on_fraction: f64,
    pub burst_granted_gbps_mean_while_on: f64,
}

pub fn neighbours_report(result: &RunResult) -> Option<NeighboursReport> {
    let n = result.neighbours.as_ref()?;
    let config = &result.config;
    let window = Window::of(config, result.window_end_ns);
    let gbps = |b: u64| round6(b as f64 / 1e9);
    let hosts = n
        .hosts
        .iter()
        .zip(&config.hosts)
        .map(|(h, cfg): (_, &PhysicalHostConfig)| {
            let host = &result.hosts[h.node as usize];
            let steal = &host.cpu_steal_ns_per_s;
            let denied: Vec<u64> = (0..result.seconds())
                .map(|s| {
                    host.egress
                        .burst_denied_bits_per_s
                        .get(s)
                        .copied()
                        .unwrap_or(0)
                        + host
                            .ingress
                            .burst_denied_bits_per_s
                            .get(s)
                            .copied()
                            .unwrap_or(0)
                })
                .collect();
            let in_window = |s: &usize| *s >= window.first_s && *s < window.end_s;
            SharedHostReport {
                name: h.name.clone(),
                node: host.name.clone(),
                nic_gbps: gbps(cfg.nic_bits_per_s),
                cores: cfg.cores,
                overcommit: cfg.overcommit,
                full_fraction: round6(window.mean_of(&h.full_ns_per_s) / 1e9),
                node_burst_allowed_gbps_mean: round6(
                    window.mean_of(&h.node_burst_allowed_bits_per_s) / 1e9,
                ),
                steal_vcpus_mean: round6(window.mean_of(steal) / 1e9),
                steal_vcpus_peak: round6(
                    (0..result.seconds())
                        .filter(in_window)
                        .map(|s| steal.get(s).copied().unwrap_or(0))
                        .max()
                        .unwrap_or(0) as f64
                        / 1e9,
                ),
                burst_denied_mbps_mean: round3(window.mean_of(&denied) / 1e6),
                seconds_with_burst_denied: (0..denied.len())
                    .filter(in_window)
                    .filter(|&s| denied[s] > 0)
                    .count() as u64,
                neighbours: h
                    .neighbours
                    .iter()
                    .zip(&cfg.neighbours)
                    .map(|(r, c)| NeighbourReport {
                        name: c.name.clone(),
                        vcpus: c.vcpus,
                        baseline_gbps: gbps(c.baseline_bits_per_s),
                        burst_gbps: gbps(c.burst_bits_per_s),
                        credit_capacity_gbit: c.credit_capacity_bits.map(gbps),
                        activity: c.activity.describe(),
                        duty_cycle_stated: round6(c.activity.duty_cycle(config.duration_ns)),
                        demand_gbps: gbps(c.net_bits_per_s),
                        demand_vcpus: round3(c.cpu_milli_vcpus as f64 / 1e3),
                        on_fraction: round6(window.mean_of(&r.on_ns_per_s) / 1e9),
                        burst_granted_gbps_mean_while_on: {
                            let on_ns = window.mean_of(&r.on_ns_per_s);
                            let bits = window.mean_of(&r.burst_granted_bits_per_s);
                            if on_ns > 0.0 {
                                round6(bits / on_ns)
                            } else {
                                0.0
                            }
                        },
                    })
                    .collect(),
            }
        })
        .collect();
    Some(NeighboursReport {
        rules: MODEL_RULES.iter().map(|r| r.to_string()).collect(),
        hosts,
    })
}

/// The objective's verdict over the measured window's whole seconds.
#[derive(Clone, Debug, Serialize)]
pub struct SloReport {
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    /// Whole seconds judged (the measured window's).
    pub seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99: Option<SloBoundReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p999: Option<SloBoundReport>,
    /// Seconds that breached either bound.
    pub seconds_breached: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SloBoundReport {
    /// Seconds whose percentile was above the bound.
    pub seconds_breached: u64,
    /// Seconds with too few requests to estimate it (`min_requests` each): not judged.
    pub seconds_too_few_requests: u64,
    pub min_requests: u64,
    /// The worst estimable second's percentile, and that second.
    pub worst_ms: f64,
    pub worst_second: Option<u64>,
    /// The breached seconds, in order.
    pub breached: Vec<u64>,
}

pub fn slo_report(result: &RunResult) -> Option<SloReport> {
    let slo: SloConfig = result.config.slo?;
    let window = Window::of(&result.config, result.window_end_ns);
    let seconds: Vec<u64> = (window.first_s..window.end_s.max(window.first_s))
        .map(|s| s as u64)
        .collect();
    let judge = |bound_ns: Option<u64>, percentile: f64| {
        let bound_ns = bound_ns?;
        let min_requests = min_requests_for(percentile);
        let mut r = SloBoundReport {
            seconds_breached: 0,
            seconds_too_few_requests: 0,
            min_requests,
            worst_ms: 0.0,
            worst_second: None,
            breached: Vec::new(),
        };
        let mut worst_ns = 0;
        for &s in &seconds {
            let Some(h) = result
                .latency_in_second(s)
                .filter(|h| h.count() >= min_requests)
            else {
                r.seconds_too_few_requests += 1;
                continue;
            };
            let v = h.percentile_ns(percentile);
            if r.worst_second.is_none() || v > worst_ns {
                worst_ns = v;
                r.worst_second = Some(s);
            }
            if v > bound_ns {
                r.seconds_breached += 1;
                r.breached.push(s);
            }
        }
        r.worst_ms = round3(worst_ns as f64 / 1e6);
        Some(r)
    };
    let p99 = judge(slo.p99_ns, 99.0);
    let p999 = judge(slo.p999_ns, 99.9);
    let seconds_breached = seconds
        .iter()
        .filter(|s| {
            p99.as_ref().is_some_and(|r| r.breached.contains(s))
                || p999.as_ref().is_some_and(|r| r.breached.contains(s))
        })
        .count() as u64;
    Some(SloReport {
        p99_ms: slo.p99_ns.map(|ns| round3(ns as f64 / 1e6)),
        p999_ms: slo.p999_ns.map(|ns| round3(ns as f64 / 1e6)),
        seconds: seconds.len() as u64,
        p99,
        p999,
        seconds_breached,
    })
}
