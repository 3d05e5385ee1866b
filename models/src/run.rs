//! Running a scenario: every variant in its own independent world, on as many threads
//! as asked, with results collected in the listed order. Invariant: the report is the
//! same whatever the number of threads (each world is single-threaded and a pure
//! function of its configuration).

use crate::report::{build_report, variant_report, Report, VariantReport};
use crate::scenario::{ResolvedVariant, Scenario};
use crate::world::{simulate_observed, RunResult};
use rayon::prelude::*;

/// Why a run failed (the scenario was valid; this is a runtime failure).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("variant {variant:?} (seed {seed}): {message}")]
    Variant {
        variant: String,
        seed: u64,
        message: String,
    },
    #[error("could not start {jobs} worker threads: {message}")]
    Threads { jobs: usize, message: String },
}

/// The variants of `scenario`, with the seed replaced when `seed` is given.
pub fn variants_with_seed(scenario: &Scenario, seed: Option<u64>) -> Vec<ResolvedVariant> {
    let mut variants = scenario.variants();
    if let Some(seed) = seed {
        for v in &mut variants {
            v.config.seed = seed;
        }
    }
    variants
}

/// Where one variant's simulation stands, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    pub variant: &'a str,
    /// Simulated time reached, of the variant's duration.
    pub simulated_ns: u64,
    pub duration_ns: u64,
    /// Events run so far.
    pub events: u64,
}

/// One variant, simulated and reported.
pub struct VariantRun {
    pub result: RunResult,
    pub report: VariantReport,
}

/// Simulates one variant and renders its report: the one place where the two meet.
/// `on_progress` sees the simulation advance (for display only: results never depend
/// on it).
pub fn run_variant(
    v: &ResolvedVariant,
    on_progress: &(dyn Fn(&Progress) + Sync),
) -> Result<VariantRun, RunError> {
    let mut observe = |reached: sim::SimTime, events: u64| {
        on_progress(&Progress {
            variant: &v.name,
            simulated_ns: reached.as_ns(),
            duration_ns: v.config.duration_ns,
            events,
        })
    };
    let result =
        simulate_observed(&v.config, &mut observe).map_err(|message| RunError::Variant {
            variant: v.name.clone(),
            seed: v.config.seed,
            message,
        })?;
    let report = variant_report(&result);
    Ok(VariantRun { result, report })
}

/// Runs every variant on `jobs` threads (1 runs them in turn on this thread) and
/// assembles the report; `on_progress` is called as each variant's simulation
/// advances, from whichever thread runs it (for progress display only).
pub fn run_scenario(
    scenario: &Scenario,
    seed: Option<u64>,
    jobs: usize,
    on_progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Report, RunError> {
    let variants = variants_with_seed(scenario, seed);
    let one = |v: &ResolvedVariant| Ok(run_variant(v, on_progress)?.report);
    let reports: Result<Vec<_>, RunError> = if jobs <= 1 {
        variants.iter().map(one).collect()
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| RunError::Threads {
                jobs,
                message: e.to_string(),
            })?;
        // par_iter().map().collect() keeps the input order.
        pool.install(|| variants.par_iter().map(one).collect())
    };
    Ok(build_report(scenario, reports?))
}
