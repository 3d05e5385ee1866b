//! `kvsim sweep FILE`: every point of a sweep x its replications, run on all cores and
//! collected in point order, then each metric summarized with a 95% interval. The
//! first run goes alone, so that a metric missing from the report is refused in
//! seconds rather than after the whole sweep. With `--shard K/N --out DIR` it runs a
//! stable share of the runs and writes one self-describing file each (skipping those
//! already there for the same version and digests); `kvsim merge DIR` checks that every
//! run is there once and prints the report the one-machine sweep prints. Invariant:
//! stdout depends only on the sweep file and what it names, never on the number of
//! threads, the sharding or the terminal (the progress bar goes to stderr, and only
//! when it is a terminal).

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
    /// Run only shard K of N (1-based: 1/3, 2/3, 3/3), writing each run's result into
    /// --out; `kvsim merge` then prints the report.
    #[arg(long, value_parser = parse_shard, value_name = "K/N", requires = "out", conflicts_with_all = ["shard_index", "shard_count"])]
    pub shard: Option<(usize, usize)>,
    /// The shard's index, 0-based (a batch system's array index:
    /// $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX); with --shard-count.
    #[arg(long, requires_all = ["shard_count", "out"])]
    pub shard_index: Option<usize>,
    #[arg(long, requires = "shard_index")]
    pub shard_count: Option<usize>,
    /// With --shard: the folder the shard writes its result files into. Without: also
    /// write report.txt, report.json, report.html (plots inline) and plots/METRIC.svg
    /// into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The folder the shards wrote into.
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value_t = SweepFormat::Text)]
    pub format: SweepFormat,
    /// Also write report.txt, report.json, report.html (plots inline) and
    /// plots/METRIC.svg into this folder (the shards' folder holds their result files).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("expected K/N (e.g. 2/3), got {s:?}"))?;
    let k: usize = k
        .trim()
        .parse()
        .map_err(|_| format!("expected K/N with K a number, got {s:?}"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("expected K/N with N a number, got {s:?}"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("expected 1 <= K <= N, got {s:?}"));
    }
    Ok((k, n))
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
    let all_runs = sweep.runs();
    let shard = match (args.shard, args.shard_index, args.shard_count) {
        (Some(s), _, _) => Some(s),
        (None, Some(i), Some(n)) if n > 0 && i < n => Some((i + 1, n)),
        (None, Some(i), Some(n)) => {
            eprintln!(
                "kvsim sweep: --shard-index {i} --shard-count {n}: expected 0 <= index < count"
            );
            return ExitCode::from(2);
        }
        _ => None,
    };
    let runs = match shard {
        Some((k, n)) => sweep::shard_runs(&all_runs, k, n),
        None => all_runs,
    };
    if let (Some(_), Some(dir)) = (shard, &args.out) {
        return run_shard(&sweep, &runs, dir, args.jobs);
    }
    if let Some(dir) = &args.out {
        if let Err(e) = crate::output::prepare_dir(dir) {
            eprintln!("kvsim sweep: {e}");
            return ExitCode::from(2);
        }
    }
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
    let jobs = crate::run_cmd::jobs_or_all_cores(args.jobs);
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
    let report = sweep::summarize(&sweep.meta(), &outcomes);
    print_report(&report, args.format, args.out.as_deref(), "kvsim sweep")
}

/// Prints a sweep's report, after writing it (text, JSON, HTML) into `out` if given.
fn print_report(
    report: &sweep::SweepReport,
    format: SweepFormat,
    out: Option<&std::path::Path>,
    command: &str,
) -> ExitCode {
    if let Some(dir) = out {
        let written = (|| {
            let html = models::report::html::sweep_html(report)?;
            let svgs = models::report::html::sweep_svgs(report)?;
            crate::output::fresh_subdir(dir, "plots")?;
            crate::output::write_files(
                dir,
                [
                    ("report.txt".to_string(), report.to_text()),
                    ("report.json".to_string(), report.to_json()),
                    ("report.html".to_string(), html),
                ]
                .into_iter()
                .chain(
                    svgs.into_iter()
                        .map(|(name, svg)| (format!("plots/{name}"), svg)),
                ),
            )
        })();
        if let Err(e) = written {
            eprintln!("{command}: {e}");
            return ExitCode::from(1);
        }
    }
    let text = match format {
        SweepFormat::Text => report.to_text(),
        SweepFormat::Json => report.to_json(),
    };
    crate::output::emit(&text)
}

/// Runs `runs` of `sweep`, each into its own file in `dir`, skipping a run whose file is
/// there already for this version, sweep and scenario.
fn run_shard(
    sweep: &sweep::Sweep,
    runs: &[(usize, usize, u32)],
    dir: &std::path::Path,
    jobs: Option<usize>,
) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("kvsim sweep: --out {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let meta = sweep.meta();
    let version = env!("CARGO_PKG_VERSION");
    let todo: Vec<(usize, usize, u32)> = runs
        .iter()
        .copied()
        .filter(|&run| {
            let path = dir.join(sweep::RunFile::name(run));
            let done = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<sweep::RunFile>(&b).ok());
            !done.is_some_and(|f| {
                f.kvsim_version == version
                    && f.sweep.digest == meta.digest
                    && f.scenario_digest == sweep.points[run.0].scenario.digest()
            })
        })
        .collect();
    let jobs = crate::run_cmd::jobs_or_all_cores(jobs);
    let write = |run: (usize, usize, u32), outcome: sweep::RunOutcome| -> Result<(), String> {
        let file = sweep::RunFile {
            kvsim_version: version.to_string(),
            sweep: meta.clone(),
            scenario_digest: sweep.points[run.0].scenario.digest(),
            outcome,
        };
        let text = serde_json::to_string(&file).map_err(|e| e.to_string())?;
        // Written whole then renamed: a file is there complete or not at all.
        let path = dir.join(sweep::RunFile::name(run));
        let tmp = path.with_extension("json.part");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    // The shard's first run goes alone, so a metric missing from the report is refused
    // before the rest run (as without shards).
    if let Some(&run) = todo.first() {
        let first = sweep::run_one(sweep, run).and_then(|(outcome, json)| {
            sweep::check_metrics(sweep, &json).map_err(|e| format!("bad input: {e}"))?;
            Ok(outcome)
        });
        match first.and_then(|o| write(run, o)) {
            Ok(()) => {}
            Err(e) if e.starts_with("bad input: ") => {
                eprintln!("kvsim sweep: {}", &e["bad input: ".len()..]);
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("kvsim sweep: {}: {e}", sweep.origin);
                return ExitCode::from(1);
            }
        }
    }
    let one = |&run: &(usize, usize, u32)| -> Result<(), String> {
        let (outcome, _) = sweep::run_one(sweep, run)?;
        write(run, outcome)
    };
    let done: Result<Vec<()>, String> =
        match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
            Ok(pool) => pool.install(|| todo.par_iter().map(one).collect()),
            Err(e) => Err(format!("cannot start {jobs} threads: {e}")),
        };
    match done {
        Ok(_) => {
            eprintln!(
                "kvsim sweep: {} run(s) of this shard written to {}, {} already there",
                todo.len(),
                dir.display(),
                runs.len() - todo.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kvsim sweep: {}: {e}", sweep.origin);
            ExitCode::from(1)
        }
    }
}

/// `kvsim merge DIR`: every run of the sweep present once, from one version and sweep,
/// then the report a one-machine sweep prints.
pub fn merge(args: &MergeArgs) -> ExitCode {
    let bad = |m: String| {
        eprintln!("kvsim merge: {}: {m}", args.dir.display());
        ExitCode::from(2)
    };
    if let Some(out) = &args.out {
        // The shards' folder holds their result files only: a report.json there would
        // stop the next merge.
        let same = matches!(
            (out.canonicalize(), args.dir.canonicalize()),
            (Ok(a), Ok(b)) if a == b
        );
        if same {
            eprintln!(
                "kvsim merge: --out {}: the shards' folder itself; name another",
                out.display()
            );
            return ExitCode::from(2);
        }
        if let Err(e) = crate::output::prepare_dir(out) {
            eprintln!("kvsim merge: {e}");
            return ExitCode::from(2);
        }
    }
    let mut names: Vec<PathBuf> = match std::fs::read_dir(&args.dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => return bad(format!("cannot read the folder: {e}")),
    };
    names.sort();
    if names.is_empty() {
        return bad("no result files (run-*.json) in it".into());
    }
    let mut files: Vec<(PathBuf, sweep::RunFile)> = Vec::new();
    for path in names {
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<sweep::RunFile>(&b).map_err(|e| e.to_string()));
        match parsed {
            Ok(f) => files.push((path, f)),
            Err(e) => return bad(format!("{}: not a sweep result file: {e}", path.display())),
        }
    }
    let meta = files[0].1.sweep.clone();
    let version = env!("CARGO_PKG_VERSION");
    for (path, f) in &files {
        if f.kvsim_version != version {
            return bad(format!(
                "{}: written by kvsim {}, this is {version}",
                path.display(),
                f.kvsim_version
            ));
        }
        if f.sweep.digest != meta.digest {
            return bad(format!(
                "{}: from another sweep (digest {}, not {})",
                path.display(),
                &f.sweep.digest[..16],
                &meta.digest[..16]
            ));
        }
    }
    let describe = |(p, v, r): (usize, usize, u32)| {
        let values = meta.point_values[p]
            .iter()
            .map(|(k, x)| format!("{k}={x}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("point {p} ({values}), variant {v}, replication {r}")
    };
    let mut by_run: Vec<Option<sweep::RunOutcome>> = vec![None; meta.runs.len()];
    for (path, f) in files {
        let Some(i) = meta.runs.iter().position(|&(p, v, r)| {
            p == f.outcome.point && r == f.outcome.replication && v == f.outcome.variant_index
        }) else {
            return bad(format!("{}: a run the sweep does not have", path.display()));
        };
        if by_run[i].is_some() {
            return bad(format!(
                "{} is there twice ({})",
                describe(meta.runs[i]),
                path.display()
            ));
        }
        by_run[i] = Some(f.outcome);
    }
    let mut outcomes = Vec::with_capacity(by_run.len());
    for (i, o) in by_run.into_iter().enumerate() {
        match o {
            Some(o) => outcomes.push(o),
            None => {
                return bad(format!(
                    "{} is missing: run its shard again",
                    describe(meta.runs[i])
                ))
            }
        }
    }
    let report = sweep::summarize(&meta, &outcomes);
    print_report(&report, args.format, args.out.as_deref(), "kvsim merge")
}
