//! `kvsim search SCENARIO`: for each variant, the highest offered load it serves with
//! p99.9 under an objective (see `models::search`), variants searched in parallel and
//! printed in their listed order. Invariant: stdout depends only on the scenario and
//! the options, never on the number of threads.

use crate::run_cmd::jobs_or_all_cores;
use crate::scenario_cmds::load_scenario_arg;
use models::run::variants_with_seed;
use models::search::{search_variant, SearchResult, SearchSpec};
use rayon::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// Scenario file (RON), or the name of a bundled scenario (see `kvsim list`).
    pub file: PathBuf,
    /// The objective: p99.9 from the intended send under this many milliseconds.
    #[arg(long, default_value_t = 10.0, value_parser = parse_positive_ms)]
    pub p999_ms: f64,
    /// Bisection steps after the first bracket (each halves the uncertainty).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub steps: u32,
    /// Search only these variants (repeatable; default: all).
    #[arg(long)]
    pub variant: Vec<String>,
    /// Replace the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Variants searched in parallel on this many threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn parse_positive_ms(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "expected a positive number of milliseconds, got {s:?}"
        )),
    }
}

pub fn search(args: &SearchArgs) -> ExitCode {
    let scenario = match load_scenario_arg(Some(&args.file)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut variants = variants_with_seed(&scenario, args.seed);
    for name in &args.variant {
        if !variants.iter().any(|v| &v.name == name) {
            let known: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
            eprintln!(
                "error: {}: no variant {name:?}; the variants are {}",
                scenario.origin(),
                known.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    if !args.variant.is_empty() {
        variants.retain(|v| args.variant.contains(&v.name));
    }
    let spec = SearchSpec {
        p999_ms: args.p999_ms,
        steps: args.steps,
    };
    let jobs = jobs_or_all_cores(args.jobs);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("kvsim search: could not start {jobs} threads: {e}");
            return ExitCode::from(1);
        }
    };
    let results: Result<Vec<SearchResult>, _> = pool.install(|| {
        variants
            .par_iter()
            .map(|v| search_variant(v, spec))
            .collect()
    });
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kvsim search: {}: {e}", scenario.origin());
            return ExitCode::from(1);
        }
    };
    if args.json {
        let doc = serde_json::json!({
            "scenario": scenario.name(),
            "p999_ms": args.p999_ms,
            "variants": results,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("search results serialize")
        );
    } else {
        print!("{}", table(scenario.name(), args.p999_ms, &results));
    }
    ExitCode::SUCCESS
}

fn table(name: &str, p999_ms: f64, results: &[SearchResult]) -> String {
    let mut out = format!(
        "load search: {name}: the highest offered rate served with p99.9 under {p999_ms} ms\n"
    );
    out.push_str(&format!(
        "{:<24} {:>16} {:>16} {:>16} {:>10} {:>7}\n",
        "variant", "closed-loop op/s", "offered op/s", "served op/s", "p99.9 ms", "probes"
    ));
    for r in results {
        let (offered, served, p999) = match &r.best {
            Some(b) => (
                b.offered_rps.to_string(),
                format!("{:.0}", b.ops_per_s),
                format!("{:.3}", b.latency_ms_p999),
            ),
            None => ("none".into(), "-".into(), "-".into()),
        };
        out.push_str(&format!(
            "{:<24} {:>16.0} {:>16} {:>16} {:>10} {:>7}\n",
            r.variant,
            r.saturated_ops_per_s,
            offered,
            served,
            p999,
            r.probes.len()
        ));
    }
    out
}
