//! `kvsim run`: runs a scenario (a file, a bundled name, or the embedded default) and
//! prints its report as text, JSON or CSV, optionally writing every format to a folder.
//! Progress goes to stderr, only when stderr is a terminal and once a run has taken a
//! couple of seconds: one line with the variant, its simulated time, the events
//! simulated per second and the time left. A run whose estimate is over its budget
//! (`budget`) is refused, exit 2, before anything is simulated or written.

use crate::budget::{estimates, over_budget, parse_budget, Budget, BudgetArg};
use crate::output::emit;
use crate::scenario_cmds::load_scenario_arg;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use models::run::{run_scenario, Progress};
use models::scenario::Scenario;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

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
    /// Also write report.txt, report.json, report.html (self-contained, plots inline),
    /// timeseries.csv and nodes.csv into this folder, and SVG plots of the time series
    /// for variants whose report asks for them.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With --out: plot every variant, whatever its report settings say.
    #[arg(long, requires = "out")]
    pub plots: bool,
    /// Variants run in parallel on this many threads (default: all cores). The output
    /// is the same whatever the number.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Raise the run budget: memory=SIZE and/or hours=H, e.g. memory=8GiB,hours=4
    /// (default: half this machine's memory and one hour). A run whose estimate (see
    /// `kvsim check`) is over it is refused before it starts.
    #[arg(long, value_parser = parse_budget, value_name = "memory=SIZE,hours=H")]
    pub budget: Option<BudgetArg>,
}

/// `--jobs`, or every core this process may use (at least 1).
pub(crate) fn jobs_or_all_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
    .max(1)
}

pub fn run(args: &RunArgs) -> ExitCode {
    let scenario = match load_scenario_arg(args.file.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let jobs = jobs_or_all_cores(args.jobs);
    // A run over its budget is refused before anything is simulated or written.
    let budget = Budget::new(args.budget);
    if let Some(why) = over_budget(&estimates(&scenario), jobs, &budget) {
        eprintln!("error: {}: {why}", scenario.origin());
        return ExitCode::from(2);
    }
    // A folder that cannot take the results is bad input, found before any simulating.
    if let Some(dir) = &args.out {
        if let Err(e) = prepare_out(dir) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let progress = ProgressLine::new(&scenario);
    let on_progress = |p: &Progress| {
        if let Some(line) = &progress {
            line.update(p);
        }
    };
    // A panic inside a simulation is a broken invariant (a bug), not bad input: report
    // it with what replays it (scenario and seed) and exit 1.
    let seed = args.seed.unwrap_or_else(|| scenario.seed());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_scenario(&scenario, args.seed, jobs, &on_progress)
    }));
    let report = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            if let Some(line) = &progress {
                line.bar.abandon();
            }
            eprintln!("kvsim run: {}: {e}", scenario.origin());
            return ExitCode::from(1);
        }
        Err(_) => {
            if let Some(line) = &progress {
                line.bar.abandon();
            }
            eprintln!(
                "kvsim run: {}: internal error (a bug; the panic message is above); replay with --seed {seed}",
                scenario.origin()
            );
            return ExitCode::from(1);
        }
    };
    if let Some(line) = &progress {
        line.bar.finish_and_clear();
    }
    if let Some(dir) = &args.out {
        let plots = match models::report::plot::svg_plots(&report, args.plots) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("kvsim run: {e}");
                return ExitCode::from(1);
            }
        };
        let html = match models::report::html::run_html(&report) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("kvsim run: {e}");
                return ExitCode::from(1);
            }
        };
        let files = [
            ("report.txt".to_string(), report.to_text()),
            ("report.html".to_string(), html),
            ("report.json".to_string(), report.to_json()),
            ("timeseries.csv".to_string(), report.to_csv()),
            ("nodes.csv".to_string(), report.nodes_csv()),
        ]
        .into_iter()
        .chain(
            plots
                .into_iter()
                .map(|(name, svg)| (format!("{PLOTS_DIR}/{name}"), svg)),
        );
        if let Err(e) = crate::output::write_files(dir, files) {
            eprintln!("kvsim run: {e}");
            return ExitCode::from(1);
        }
    }
    let body = match args.format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json(),
        Format::Csv => report.to_csv(),
    };
    emit(&body)
}

/// The subfolder of `--out` that holds the plots: kvsim's own, emptied at each run so
/// that a reused folder never shows a previous run's charts.
const PLOTS_DIR: &str = "plots";

/// Makes `dir` ready for a run's files before the run: created if missing, refused if
/// it is not a writable folder, and its plots folder emptied.
fn prepare_out(dir: &Path) -> Result<(), String> {
    crate::output::prepare_dir(dir)?;
    crate::output::fresh_subdir(dir, PLOTS_DIR)
}

/// The progress line: the share of all variants' simulated time done, the variant that
/// last moved, events per wall-clock second, and an ETA. Hidden for the first
/// seconds, so quick runs print nothing.
struct ProgressLine {
    bar: ProgressBar,
    /// Per variant: simulated ns reached and events run.
    reached: Mutex<BTreeMap<String, (u64, u64)>>,
}

/// Runs shorter than this never show the line.
const PROGRESS_AFTER: Duration = Duration::from_secs(2);

impl ProgressLine {
    fn new(scenario: &Scenario) -> Option<ProgressLine> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let variants = scenario.resolved_variants();
        let total_ns: u64 = variants.iter().map(|v| v.config.duration_ns).sum();
        let bar = ProgressBar::with_draw_target(Some(total_ns), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {msg}, ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(scenario.name().to_string());
        Some(ProgressLine {
            bar,
            reached: Mutex::new(BTreeMap::new()),
        })
    }

    fn update(&self, p: &Progress) {
        let Ok(mut reached) = self.reached.lock() else {
            return;
        };
        reached.insert(p.variant.to_string(), (p.simulated_ns, p.events));
        let simulated_ns: u64 = reached.values().map(|r| r.0).sum();
        let events: u64 = reached.values().map(|r| r.1).sum();
        drop(reached);
        let elapsed = self.bar.elapsed();
        if self.bar.is_hidden() && elapsed >= PROGRESS_AFTER {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_position(simulated_ns);
        self.bar.set_message(format!(
            "{} at {:.1} s of {:.1} s simulated, {:.2}M events/s",
            p.variant,
            p.simulated_ns as f64 / 1e9,
            p.duration_ns as f64 / 1e9,
            events as f64 / elapsed.as_secs_f64().max(1e-3) / 1e6
        ));
    }
}
