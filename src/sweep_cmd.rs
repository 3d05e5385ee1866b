//! `kvsim sweep FILE`: every point of a sweep x its replications, run on all cores and
//! collected in point order, then each metric summarized with a 95% interval. The
//! first run goes alone, so that a metric missing from the report is refused in
//! seconds rather than after the whole sweep. Invariant: stdout depends only on the
//! sweep file and what it names, never on the number of threads or the terminal (the
//! progress bar goes to stderr, and only when it is a terminal).

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use models::sweep::{self, RunOutcome};
use rayon::prelude::*;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The sweep file (RON): base scenario, parameters, replications, metrics.
    pub file: PathBuf,
    /// Runs in parallel on this many threads (default: all cores). The output is the
    /// same whatever the number.
    #[arg(long)]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value_t = SweepFormat::Text)]
    pub format: SweepFormat,
    /// List the metrics a sweep can name (from its first run's report) instead of
    /// running it.
    #[arg(long)]
    pub metrics: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SweepFormat {
    Text,
    Json,
}

pub fn sweep(args: &SweepArgs) -> ExitCode {
    let sweep = match sweep::load_sweep(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kvsim sweep: {e}");
            return ExitCode::from(2);
        }
    };
    let runs = sweep.runs();
    let first = match sweep::run_one(&sweep, runs[0]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kvsim sweep: {}: the first run failed: {e}", sweep.origin);
            return ExitCode::from(1);
        }
    };
    if args.metrics {
        for path in sweep::metric_paths(&first.1) {
            println!("{path}");
        }
        println!("ALL STATS.{{Sets,Gets,Totals}}.Percentile Latencies.pNN.NN  (any percentile, from the merged histograms)");
        return ExitCode::SUCCESS;
    }
    if let Err(e) = sweep::check_metrics(&sweep, &first.1) {
        eprintln!("kvsim sweep: {e}");
        return ExitCode::from(2);
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(runs.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("sweep [{bar:30}] {pos}/{len} runs, ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.inc(1);
        Some(bar)
    } else {
        None
    };
    let one = |run: &(usize, usize, u32)| -> Result<RunOutcome, String> {
        let out = sweep::run_one(&sweep, *run).map(|(o, _)| o);
        if let Some(b) = &bar {
            b.inc(1);
        }
        out
    };
    let rest: Result<Vec<RunOutcome>, String> =
        match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
            // par_iter().map().collect() keeps the input order.
            Ok(pool) => pool.install(|| runs[1..].par_iter().map(one).collect()),
            Err(e) => Err(format!("cannot start {jobs} threads: {e}")),
        };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut outcomes = vec![first.0];
    match rest {
        Ok(r) => outcomes.extend(r),
        Err(e) => {
            eprintln!("kvsim sweep: {}: {e}", sweep.origin);
            return ExitCode::from(1);
        }
    }
    let report = sweep::summarize(&sweep, &outcomes);
    let text = match args.format {
        SweepFormat::Text => report.to_text(),
        SweepFormat::Json => report.to_json(),
    };
    crate::output::emit(&text)
}
