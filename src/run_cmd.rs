//! `kvsim run`: runs a scenario (a file, a bundled name, or the embedded default) and
//! prints its report as text, JSON or CSV, optionally writing every format to a folder.
//! Progress goes to stderr, and only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressStyle};
use models::run::run_scenario;
use models::scenario::{self, bundled, Scenario};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario file (RON), or the name of a bundled scenario (see `kvsim list`).
    /// Without it, the embedded default experiment runs.
    pub file: Option<PathBuf>,
    /// Replace the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write report.txt, report.json and timeseries.csv into this folder, and SVG
    /// plots of the time series for variants whose report asks for them.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With --out: plot every variant, whatever its report settings say.
    #[arg(long, requires = "out")]
    pub plots: bool,
    /// Variants run in parallel on this many threads (default: all cores). The output
    /// is the same whatever the number.
    #[arg(long)]
    pub jobs: Option<usize>,
}

pub fn run(args: &RunArgs) -> ExitCode {
    let scenario = match load_scenario_arg(args.file.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let variants = scenario.resolved_variants().len() as u64;
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(variants);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} variants {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(scenario.name().to_string());
        Some(bar)
    } else {
        None
    };
    let on_done = |name: &str| {
        if let Some(bar) = &progress {
            bar.set_message(name.to_string());
            bar.inc(1);
        }
    };
    // A panic inside a simulation is a broken invariant (a bug), not bad input: report
    // it with what replays it (scenario and seed) and exit 1.
    let seed = args.seed.unwrap_or_else(|| scenario.seed());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_scenario(&scenario, args.seed, jobs, &on_done)
    }));
    let report = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            if let Some(bar) = &progress {
                bar.abandon();
            }
            eprintln!("kvsim run: {}: {e}", scenario.origin());
            return ExitCode::from(1);
        }
        Err(_) => {
            if let Some(bar) = &progress {
                bar.abandon();
            }
            eprintln!(
                "kvsim run: {}: internal error (a bug; the panic message is above); replay with --seed {seed}",
                scenario.origin()
            );
            return ExitCode::from(1);
        }
    };
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    if let Some(dir) = &args.out {
        let plots = match models::report::plot::svg_plots(&report, args.plots) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("kvsim run: {e}");
                return ExitCode::from(1);
            }
        };
        let files = [
            ("report.txt".to_string(), report.to_text()),
            ("report.json".to_string(), report.to_json()),
            ("timeseries.csv".to_string(), report.to_csv()),
        ]
        .into_iter()
        .chain(plots);
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("kvsim run: cannot create {}: {e}", dir.display());
            return ExitCode::from(1);
        }
        for (name, body) in files {
            let path = dir.join(&name);
            if let Err(e) = std::fs::write(&path, body) {
                eprintln!("kvsim run: cannot write {}: {e}", path.display());
                return ExitCode::from(1);
            }
        }
    }
    let body = match args.format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json(),
        Format::Csv => report.to_csv(),
    };
    let mut out = std::io::stdout().lock();
    if out
        .write_all(body.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        // A closed pipe (kvsim run | head) is not a failure of the run.
        return ExitCode::SUCCESS;
    }
    ExitCode::SUCCESS
}

/// Loads what `kvsim run` was given: a file path, else a bundled scenario's name, else
/// (nothing given) the embedded default. Bad input prints why and yields exit status 2.
fn load_scenario_arg(arg: Option<&Path>) -> Result<Scenario, ExitCode> {
    let loaded = match arg {
        None => bundled::default_scenario(),
        Some(p) if !p.exists() && p.components().count() == 1 => {
            match bundled::find(&p.to_string_lossy()) {
                Some(s) => s,
                None => scenario::load_file(p),
            }
        }
        Some(p) => scenario::load_file(p),
    };
    loaded.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}
