//! The `kvsim` command line: parses arguments, loads files, calls into `models` and
//! prints. It holds no model logic. Exit status: 0 success, 2 bad input (a malformed or
//! invalid scenario, a bad argument), 1 a runtime failure.

mod bench_cmd;
mod bench_estimate;
mod budget;
mod diff_cmd;
mod import;
mod output;
mod run_cmd;
mod scenario_cmds;
mod search_cmd;
mod serve;
mod sweep_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc backs its arenas with transparent huge pages. A simulation reads a
/// keyspace, flow tables and event pools of hundreds of megabytes at random, one
/// cache line per lookup; with 4 KiB pages nearly every such read also misses the
/// TLB, with 2 MiB pages almost none does. (Allocation addresses never reach a result:
/// nothing iterates in address order.)
///
/// Large allocations stay in the ordinary arenas. jemalloc's dedicated oversize arena
/// (`oversize_threshold`) would return freed keyspace tables at once and lower the
/// throughput benchmark's peak by about 30 MB, but its pages are not huge pages: measured
/// on that benchmark, 96 of 134 MB resident were in huge pages against 137 of 156
/// without it, and the simulation ran measurably slower.
#[cfg(target_os = "linux")]
#[allow(non_upper_case_globals)]
// jemalloc reads its options (a C string) from this symbol, declared as the
// tikv-jemallocator documentation does; naming a symbol is what makes the lint
// call it unsafe (a clash with another symbol of that name would be UB: none exists).
#[allow(unsafe_code)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"thp:always,metadata_thp:auto\0";

/// Deterministic discrete-event simulator of cache clusters (Redis, Valkey, Dragonfly) on
/// cloud instances.
#[derive(Parser, Debug)]
#[command(name = "kvsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario (a file, a bundled name, or the default experiment) and print its report.
    Run(run_cmd::RunArgs),
    /// Time the simulator on its embedded benchmark (simulated requests per second, peak memory).
    Bench(bench_cmd::BenchArgs),
    /// Validate a scenario file without running it.
    Check(scenario_cmds::CheckArgs),
    /// List the bundled scenarios, one line each.
    List,
    /// Print the instance catalog.
    Catalog(scenario_cmds::CatalogArgs),
    /// Serve the store on a real TCP port, on the real clock (RESP2/RESP3).
    Serve(serve::ServeArgs),
    /// Run a sweep: a scenario over a grid of parameter values, replicated, each
    /// metric summarized with a 95% interval.
    Sweep(sweep_cmd::SweepArgs),
    /// Merge the result files of a sweep's shards and print its report.
    Merge(sweep_cmd::MergeArgs),
    /// Compare two reports or two sweep results, metric by metric.
    Diff(diff_cmd::DiffArgs),
    /// Find, per variant, the highest offered load served with p99.9 under an objective.
    Search(search_cmd::SearchArgs),
    /// Print the scenario equivalent to a memtier_benchmark or redis-benchmark command line.
    Import(import::ImportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run_cmd::run(&args),
        Command::Bench(args) => bench_cmd::bench(&args),
        Command::Check(args) => scenario_cmds::check(&args),
        Command::List => scenario_cmds::list(),
        Command::Catalog(args) => scenario_cmds::catalog(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::Sweep(args) => sweep_cmd::sweep(&args),
        Command::Merge(args) => sweep_cmd::merge(&args),
        Command::Diff(args) => diff_cmd::diff(&args),
        Command::Search(args) => search_cmd::search(&args),
        Command::Import(args) => import::import(&args),
    }
}
