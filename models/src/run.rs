//! Running a scenario: every variant in its own independent world, on as many threads
//! as asked, with results collected in the listed order. Invariant: the report is the
//! same whatever the number of threads (each world is single-threaded and a pure
//! function of its configuration).

use crate::report::{build_report, variant_report, Report, VariantReport};
use crate::scenario::{ResolvedVariant, Scenario};
use crate::world::{simulate, RunResult};
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

/// One variant, simulated and reported.
pub struct VariantRun {
    pub result: RunResult,
    pub report: VariantReport,
}

/// Simulates one variant and renders its report: the one place where the two meet.
pub fn run_variant(v: &ResolvedVariant) -> Result<VariantRun, RunError> {
    let result = simulate(&v.config).map_err(|message| RunError::Variant {
        variant: v.name.clone(),
        seed: v.config.seed,
        message,
    })?;
    let report = variant_report(&result);
    Ok(VariantRun { result, report })
}

/// Runs every variant on `jobs` threads (1 runs them in turn on this thread) and
/// assembles the report; `on_variant_done` is called once per finished variant, in
/// whatever order they finish (for progress display only).
pub fn run_scenario(
    scenario: &Scenario,
    seed: Option<u64>,
    jobs: usize,
    on_variant_done: &(dyn Fn(&str) + Sync),
) -> Result<Report, RunError> {
    let variants = variants_with_seed(scenario, seed);
    let one = |v: &ResolvedVariant| {
        let run = run_variant(v)?;
        on_variant_done(&v.name);
        Ok(run.report)
    };
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
