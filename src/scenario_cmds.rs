//! `kvsim check`, `kvsim list` and `kvsim catalog`: scenario validation and listings.
//! Everything here is presentation; loading, validation and the catalog live in
//! `models`. Exit status: 0 success, 2 bad input (the scenario or an argument), as the
//! crate documents.

use crate::budget::{estimate_table, estimates, over_budget, Budget};
use crate::output::emit;
use models::catalog::Catalog;
use models::scenario::{self, bundled, Scenario};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The scenario file (RON), or the name of a bundled scenario (see `kvsim list`).
    pub file: PathBuf,
    /// Also print every variant's fully resolved configuration (RON).
    #[arg(long)]
    pub resolved: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CatalogFormat {
    /// A readable table.
    #[default]
    Table,
    /// The catalog as RON (the same form as the shipped catalog.ron, without comments).
    Ron,
    /// The catalog as JSON.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct CatalogArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
    pub format: CatalogFormat,
}

/// Exit status for a scenario that cannot be used.
const BAD_INPUT: u8 = 2;

/// Loads a scenario named on the command line: a file path, else a bundled scenario's
/// name, else (nothing given) the embedded default. Bad input prints why and yields exit
/// status 2. `run` and `check` take the same names.
pub fn load_scenario_arg(arg: Option<&Path>) -> Result<Scenario, ExitCode> {
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
        ExitCode::from(BAD_INPUT)
    })
}

pub fn check(args: &CheckArgs) -> ExitCode {
    let s = match load_scenario_arg(Some(&args.file)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let n = s.resolved_variants().len();
    let names: Vec<&str> = s
        .resolved_variants()
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    // Say what `run` will run: with variants, the base runs only through them.
    let mut text = format!(
        "ok: {}: {n} variant{}: {}\n",
        args.file.display(),
        if n == 1 { "" } else { "s" },
        names.join(", ")
    );
    // And what it will cost, with `run`'s default threads and budget.
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let estimates = estimates(&s);
    text.push_str(&estimate_table(&estimates, jobs));
    if let Some(why) = over_budget(&estimates, jobs, &Budget::new(None)) {
        let _ = writeln!(
            text,
            "`kvsim run` refuses it with the default budget: {why}"
        );
    }
    if args.resolved {
        for v in s.resolved_variants() {
            match v.to_ron_pretty() {
                Ok(ron) => {
                    let _ = writeln!(text, "// variant {}\n{ron}", v.name);
                }
                Err(e) => {
                    eprintln!("error: cannot print variant {}: {e}", v.name);
                    return ExitCode::from(1);
                }
            }
        }
    }
    emit(&text)
}

pub fn list() -> ExitCode {
    let all = bundled::all();
    let width = all
        .iter()
        .map(|(f, _)| f.trim_end_matches(".ron").len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    let mut failed = false;
    for (file, loaded) in all {
        let name = file.trim_end_matches(".ron");
        match loaded {
            Ok(s) => {
                let _ = writeln!(text, "{name:<width$}  {}", s.summary());
            }
            Err(e) => {
                // A bundled scenario that does not load is a build defect, not bad input.
                eprintln!("error: bundled scenario {file}: {e}");
                failed = true;
            }
        }
    }
    let status = emit(&text);
    if failed {
        ExitCode::from(1)
    } else {
        status
    }
}

pub fn catalog(args: &CatalogArgs) -> ExitCode {
    let catalog = Catalog::builtin();
    let text = match args.format {
        CatalogFormat::Table => Ok(catalog.to_table()),
        CatalogFormat::Ron => catalog.to_ron_pretty().map(|t| t + "\n"),
        CatalogFormat::Json => serde_json::to_string_pretty(&catalog)
            .map(|t| t + "\n")
            .map_err(|e| e.to_string()),
    };
    match text {
        Ok(t) => emit(&t),
        Err(e) => {
            eprintln!("error: cannot print the catalog: {e}");
            ExitCode::from(1)
        }
    }
}
