//! `kvsim diff A B`: two reports or two sweep results compared metric by metric (see
//! `models::diff`), and `--fail-on-regression METRIC:PCT` for CI gates. Exit status:
//! 0 no regression, 3 a regression beyond a threshold, 2 bad input (a file that is not
//! a kvsim result, two results of different kinds, a metric neither has), 1 a runtime
//! failure.

use crate::sweep_cmd::SweepFormat;
use models::diff;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The baseline: a report (`kvsim run --format json`) or a sweep result (`kvsim
    /// sweep --format json`).
    pub a: PathBuf,
    /// The one compared with it, of the same kind.
    pub b: PathBuf,
    /// Compare this metric (repeatable; reports only: a sweep compares its own).
    #[arg(long)]
    pub metric: Vec<String>,
    /// Exit 3 when METRIC gets worse by more than PCT percent (repeatable).
    #[arg(long, value_parser = parse_gate, value_name = "METRIC:PCT")]
    pub fail_on_regression: Vec<(String, f64)>,
    #[arg(long, value_enum, default_value_t = SweepFormat::Text)]
    pub format: SweepFormat,
    /// Also write diff.txt, diff.json and report.html (A and B side by side, as bars)
    /// into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_gate(s: &str) -> Result<(String, f64), String> {
    let (m, p) = s.rsplit_once(':').ok_or_else(|| {
        format!("expected METRIC:PCT (e.g. \"ALL STATS.Totals.Ops/sec:5\"), got {s:?}")
    })?;
    let p: f64 = p
        .trim()
        .parse()
        .map_err(|_| format!("expected a percentage after the last ':', got {p:?}"))?;
    if !(p.is_finite() && p >= 0.0) || m.is_empty() {
        return Err(format!("expected METRIC:PCT with PCT >= 0, got {s:?}"));
    }
    Ok((m.to_string(), p))
}

fn read(path: &PathBuf) -> Result<serde_json::Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{}:{}:{}: not JSON ({e}); expected `kvsim run --format json` or `kvsim sweep --format json` output",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

pub fn diff(args: &DiffArgs) -> ExitCode {
    let bad = |m: String| {
        eprintln!("kvsim diff: {m}");
        ExitCode::from(2)
    };
    let (a, b) = match (read(&args.a), read(&args.b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let sweep = |v: &serde_json::Value| v.get("points").is_some();
    let result = match (sweep(&a), sweep(&b)) {
        (true, true) => {
            if !args.metric.is_empty() {
                return bad("--metric applies to reports; a sweep compares its own metrics".into());
            }
            diff::diff_sweeps(&a, &b)
        }
        (false, false) => {
            let metrics: Vec<String> = if args.metric.is_empty() {
                diff::DEFAULT_REPORT_METRICS
                    .iter()
                    .map(|m| m.to_string())
                    .collect()
            } else {
                args.metric.clone()
            };
            diff::diff_reports(&a, &b, &metrics)
        }
        _ => {
            return bad(
                "one is a report and the other a sweep result; compare two of a kind".into(),
            )
        }
    };
    let d = match result {
        Ok(d) => d,
        Err(e) => return bad(format!("{} vs {}: {e}", args.a.display(), args.b.display())),
    };
    for (m, _) in &args.fail_on_regression {
        match d.deltas.iter().find(|x| &x.metric == m) {
            None => {
                return bad(format!(
                    "--fail-on-regression: no metric {m:?} in the comparison"
                ))
            }
            Some(x) if x.regression_percent().is_none() => {
                return bad(format!(
                    "--fail-on-regression: {m:?} has no known direction (better up or down)"
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(dir) = &args.out {
        if let Err(e) = crate::output::prepare_dir(dir) {
            return bad(e);
        }
        let a_name = args.a.display().to_string();
        let b_name = args.b.display().to_string();
        let written = models::report::html::diff_html(&d, &a_name, &b_name).and_then(|html| {
            crate::output::write_files(
                dir,
                [
                    ("diff.txt", d.to_text()),
                    ("diff.json", d.to_json()),
                    ("report.html", html),
                ],
            )
        });
        if let Err(e) = written {
            eprintln!("kvsim diff: {e}");
            return ExitCode::from(1);
        }
    }
    let text = match args.format {
        SweepFormat::Text => d.to_text(),
        SweepFormat::Json => d.to_json(),
    };
    let printed = crate::output::emit(&text);
    let mut regressed = false;
    for (m, limit) in &args.fail_on_regression {
        for x in d.deltas.iter().filter(|x| &x.metric == m) {
            let pct = x.regression_percent().unwrap_or(0.0);
            if pct > *limit {
                eprintln!(
                    "kvsim diff: {} {m} worse by {pct:.2}% (limit {limit}%)",
                    x.row
                );
                regressed = true;
            }
        }
    }
    if regressed {
        ExitCode::from(3)
    } else {
        printed
    }
}
