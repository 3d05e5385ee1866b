//! Findings by a stated rule. For every resource (each CPU thread, each NIC direction
//! at its currently allowed rate, packets per second where an allowance is known) the
//! per-second utilization after warm-up is computed; a resource binds when it is at or
//! above 0.9 for three consecutive seconds, its onset the first of them; the binding
//! resource is the most utilized of those (mean over the measured window). The
//! candidates are exactly the entries of the result's resource registry. Invariant:
//! findings come only from this rule, in a fixed order (binding first, then by mean
//! utilization, ties by node and resource name).

use super::{round3, Resource};
use crate::scenario::resolve::RunConfig;
use crate::world::results::{ResourceResult, RunResult};
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
    /// The CPU thread (0 = main), for CPU findings.
    pub thread: Option<u32>,
    pub node: String,
    /// The first of three consecutive seconds at or above 0.9.
    pub onset_s: u64,
    pub utilization_mean: f64,
    pub utilization_peak: f64,
    /// The most utilized resource at or above 0.9.
    pub binding: bool,
    /// The node's measured ops/s divided by the utilization: what the resource would
    /// carry at 100% with the same mix (0 for client hosts).
    pub ceiling_ops_per_s: f64,
}

impl Finding {
    /// One line: resource, node, onset and utilization.
    pub fn summary(&self) -> String {
        let what = match self.thread {
            Some(0) => "main thread".to_string(),
            Some(t) => format!("I/O thread {t}"),
            None => self.resource.describe().to_string(),
        };
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

struct Candidate {
    resource: Resource,
    thread: Option<u32>,
    node: String,
    per_s: Vec<f64>,
    node_ops_per_s: f64,
}

fn onset(per_s: &[f64], window: &Window) -> Option<usize> {
    let s: Vec<usize> = window.seconds().collect();
    s.windows(BINDING_SECONDS)
        .find(|w| {
            w.iter()
                .all(|&i| per_s.get(i).copied().unwrap_or(0.0) >= BINDING_UTILIZATION)
        })
        .map(|w| w[0])
}

/// The findings of a run: every registered resource is a candidate.
pub fn findings(result: &RunResult, window: &Window) -> Vec<Finding> {
    let seconds = result.seconds();
    let measured_s = result.window_seconds();
    let candidates = result.resources.iter().map(|r| {
        let host = &result.hosts[r.host as usize];
        Candidate {
            resource: r.kind,
            thread: r.thread,
            node: host.name.clone(),
            per_s: (0..seconds).map(|s| r.utilization(s)).collect(),
            node_ops_per_s: host.ops as f64 / measured_s,
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
            Some(Finding {
                resource: c.resource,
                thread: c.thread,
                node: c.node,
                onset_s: start as u64,
                utilization_mean: round3(utilization_mean),
                utilization_peak: round3(utilization_peak),
                binding: false,
                ceiling_ops_per_s: round3(if utilization_mean > 0.0 {
                    c.node_ops_per_s / utilization_mean
                } else {
                    0.0
                }),
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
