//! `kvsim bench`: times the simulator itself on an embedded benchmark scenario
//! (`benches/r7g-10-shards.ron`): simulated requests per wall-clock second on one core,
//! every request executed by store-core, and peak resident memory; or, with
//! `--estimate` (`bench_estimate`), each bundled variant's estimated against its measured
//! wall time and peak memory. Wall-clock figures are the point here, so this command
//! (and only this one) reads the wall clock; they never enter a report.
#![allow(clippy::disallowed_methods)] // Instant::now: timing the simulator is the job

use models::scenario::load_str;
use models::world::World;
use sim::Scheduler;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const BENCH_SCENARIO: &str = include_str!("../benches/r7g-10-shards.ron");

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Run only this variant (throughput, replicated-writes, throughput-100-faults,
    /// throughput-neighbours, build-50m-60, writes-10m); repeat to run several, in the
    /// benchmark's order (the ratios to `throughput` are printed when it runs too).
    #[arg(long)]
    pub variant: Vec<String>,
    /// Instead, hold the estimate `kvsim check` prints to measured runs: each variant of
    /// every bundled scenario (or of the scenarios named) in a process of its own, its
    /// estimated and measured wall time and peak memory, and their ratios.
    #[arg(long, conflicts_with = "variant")]
    pub estimate: bool,
    /// With --estimate: scenario files or bundled names (default: every bundled one).
    pub scenarios: Vec<PathBuf>,
    /// The process `--estimate` starts for one variant (this variant of the one scenario
    /// named), run as `kvsim run --jobs 1` runs it.
    #[arg(long, hide = true, value_name = "VARIANT")]
    pub estimate_child: Option<String>,
}

/// Peak resident set size of this process, in bytes (Linux; None elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU seconds this process has used (user + system; Linux; None elsewhere). On a
/// machine shared with other work, requests per CPU-second is the fair figure.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux ABI the project targets.
    Some((utime + stime) / 100.0)
}

/// Resets the peak so each variant reports its own (Linux: clear_refs value 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn bench(args: &BenchArgs) -> ExitCode {
    if let Some(variant) = &args.estimate_child {
        let [scenario] = args.scenarios.as_slice() else {
            eprintln!("kvsim bench: --estimate-child takes one scenario");
            return ExitCode::from(2);
        };
        return crate::bench_estimate::run_child(variant, scenario);
    }
    if args.estimate {
        return crate::bench_estimate::check_estimates(&args.scenarios);
    }
    if !args.scenarios.is_empty() {
        eprintln!("kvsim bench: scenarios are named only with --estimate");
        return ExitCode::from(2);
    }
    let scenario = match load_str(BENCH_SCENARIO, "benches/r7g-10-shards.ron") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kvsim bench: the embedded benchmark does not load: {e}");
            return ExitCode::from(1);
        }
    };
    let names: Vec<String> = scenario
        .resolved_variants()
        .iter()
        .map(|v| v.name.clone())
        .collect();
    if let Some(unknown) = args.variant.iter().find(|n| !names.contains(n)) {
        eprintln!(
            "kvsim bench: no variant named {unknown:?} (one of {})",
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    // (variant, requests a CPU second), for the ratios the floors are stated in.
    let mut rates: Vec<(String, f64)> = Vec::new();
    for v in scenario.resolved_variants() {
        if !args.variant.is_empty() && !args.variant.contains(&v.name) {
            continue;
        }
        reset_peak_rss();
        let start = Instant::now();
        let cpu_start = cpu_seconds();
        // The simulation is timed, building and running the world; turning it into
        // results (histograms copied out, exact shard loads over the whole key range) is
        // the report's work and is timed on its own.
        let mut sched = Scheduler::with_capacity(4096);
        let mut world = match World::build(&v.config, &mut sched) {
            Ok(world) => world,
            Err(e) => {
                eprintln!("kvsim bench: variant {}: {e}", v.name);
                return ExitCode::from(1);
            }
        };
        world.run(&mut sched);
        let wall_s = start.elapsed().as_secs_f64();
        let cpu_after_run = cpu_seconds();
        let cpu_s = match (cpu_start, cpu_after_run) {
            (Some(a), Some(b)) => b - a,
            _ => wall_s,
        };
        let finish_start = Instant::now();
        let result = world.finish(sched.events_run());
        let finish_cpu_s = match (cpu_after_run, cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => finish_start.elapsed().as_secs_f64(),
        };
        let requests = result.simulation.requests_completed_total;
        let events = result.simulation.events;
        let keys: u64 = result.hosts.iter().map(|h| h.keys).sum();
        rates.push((v.name.clone(), requests as f64 / cpu_s.max(1e-9)));
        println!(
            "variant={} simulated_requests={requests} wall_s={wall_s:.3} cpu_s={cpu_s:.3} requests_per_s={:.0} requests_per_cpu_s={:.0} events_per_cpu_s={:.0} keys_at_end={keys} finish_cpu_s={finish_cpu_s:.3} peak_rss_mb={}",
            v.name,
            requests as f64 / wall_s,
            requests as f64 / cpu_s.max(1e-9),
            events as f64 / cpu_s.max(1e-9),
            peak_rss_bytes().map(|b| format!("{:.1}", b as f64 / 1_048_576.0)).unwrap_or_else(|| "unknown".into()),
        );
    }
    let rate = |name: &str| rates.iter().find(|(n, _)| n == name).map(|(_, r)| *r);
    if let Some(base) = rate("throughput") {
        for other in [
            "throughput-100-faults",
            "throughput-neighbours",
            "replicated-writes",
        ] {
            if let Some(r) = rate(other) {
                println!(
                    "ratio {other}/throughput requests_per_cpu_s={:.3}",
                    r / base
                );
            }
        }
    }
    ExitCode::SUCCESS
}
