//! Load search: the highest offered load a variant serves within a latency objective,
//! as published capacity figures are stated ("the highest throughput with p99.9 under
//! 10 ms"). The variant runs once as written (its clients closed-loop as memtier's) to
//! find the throughput it saturates at; then its clients are made open-loop (Poisson
//! arrivals over every connection, as memtier's `--rate-limiting` cannot give) and the
//! rate is bisected between a rate known to pass and one known to fail. A probe passes
//! when its p99.9 from the intended send time (no coordinated omission) is under the
//! objective and it served what was offered (at least 98%; the rest queued or dropped).
//!
//! Invariant: a search is a pure function of the variant and the objective: the same
//! probes, in the same order, with the same results, on every machine and whatever the
//! number of threads running other variants.

use crate::report::variant_report;
use crate::run::RunError;
use crate::scenario::ResolvedVariant;
use crate::workload::{ArrivalProcess, OpenLoop};
use crate::world::simulate;
use serde::Serialize;

/// What a probe must achieve to pass, and how finely to search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchSpec {
    /// The latency objective on p99.9 from the intended send, in ms.
    pub p999_ms: f64,
    /// Bisection steps after the bracket is found (each halves the interval).
    pub steps: u32,
}

impl Default for SearchSpec {
    fn default() -> SearchSpec {
        SearchSpec {
            p999_ms: 10.0,
            steps: 7,
        }
    }
}

/// The share of the offered rate a passing probe must serve.
const SERVED_SHARE_MIN: f64 = 0.98;

/// One run at one offered rate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Probe {
    pub offered_rps: u64,
    pub ops_per_s: f64,
    pub latency_ms_p999: f64,
    pub passes: bool,
}

/// A variant's search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchResult {
    pub variant: String,
    /// The throughput of the variant as written (closed-loop clients: saturated when
    /// they are enough).
    pub saturated_ops_per_s: f64,
    /// The highest passing probe, if any passed.
    pub best: Option<Probe>,
    /// Every probe, in the order run.
    pub probes: Vec<Probe>,
}

impl SearchResult {
    /// The throughput found: the best passing probe's, 0 when none passed.
    pub fn ops_per_s(&self) -> f64 {
        self.best.as_ref().map_or(0.0, |p| p.ops_per_s)
    }
}

fn run_once(v: &ResolvedVariant, open_rps: Option<u64>) -> Result<(f64, f64), RunError> {
    let mut config = v.config.clone();
    if let Some(rate_rps) = open_rps {
        let w = &mut config.clients.workload;
        let queue_depth = w
            .open_loop
            .map_or(crate::workload::defaults::OPEN_LOOP_QUEUE_DEPTH, |o| {
                o.queue_depth
            });
        w.open_loop = Some(OpenLoop {
            process: ArrivalProcess::Poisson,
            rate_rps,
            queue_depth,
        });
        w.rate_limit = None;
    }
    let result = simulate(&config).map_err(|message| RunError::Variant {
        variant: v.name.clone(),
        seed: v.config.seed,
        message,
    })?;
    let report = variant_report(&result);
    Ok((
        report.all_stats.totals.ops_per_sec,
        report.latency_intended.latency_ms_p999,
    ))
}

/// Searches variant `v` (see the module documentation).
pub fn search_variant(v: &ResolvedVariant, spec: SearchSpec) -> Result<SearchResult, RunError> {
    let (saturated, _) = run_once(v, None)?;
    let mut probes = Vec::new();
    let mut probe = |rate: u64| -> Result<bool, RunError> {
        let (ops, p999) = run_once(v, Some(rate.max(1)))?;
        let passes = p999 < spec.p999_ms && ops >= rate as f64 * SERVED_SHARE_MIN;
        probes.push(Probe {
            offered_rps: rate,
            ops_per_s: ops,
            latency_ms_p999: p999,
            passes,
        });
        Ok(passes)
    };
    // The bracket: the closed loop's throughput bounds what can be served (a little
    // above it, in case its clients were too few to saturate); half of it usually passes.
    let top = (saturated * 1.05).ceil() as u64;
    let (mut lo, mut hi) = if probe(top)? {
        (top, top)
    } else if probe(top / 2)? {
        (top / 2, top)
    } else {
        (0, top / 2)
    };
    for _ in 0..spec.steps {
        if hi - lo <= 1 {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        if probe(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let best = probes
        .iter()
        .filter(|p| p.passes)
        .max_by_key(|p| p.offered_rps)
        .cloned();
    Ok(SearchResult {
        variant: v.name.clone(),
        saturated_ops_per_s: saturated,
        best,
        probes,
    })
}
