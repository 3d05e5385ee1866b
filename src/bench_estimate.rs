//! `kvsim bench --estimate`: holds the estimate `kvsim check` prints to what runs
//! measure. Each variant (every bundled scenario's, or those of the scenarios named)
//! runs in a process of its own, as `kvsim run --jobs 1` runs it (build the world, run
//! it, turn it into results and render the text report), so that its wall time counts
//! the process starting and its peak resident memory is its alone. One line a variant
//! gives the estimated and measured wall time and peak memory and their ratios
//! (estimate over measured), flagged when outside [1, 2]: the estimate is meant to be at
//! least what a run takes and at most twice it on a quiet machine; the ratio to the
//! process's on-CPU time, which other work stretches far less, is printed beside it.
//! Wall-clock figures never enter a report.
#![allow(clippy::disallowed_methods)] // Instant::now: timing the simulator is the job

use crate::bench_cmd::peak_rss_bytes;
use crate::scenario_cmds::load_scenario_arg;
use models::estimate::estimate;
use models::report::{build_report, variant_report};
use models::scenario::{bundled, Scenario};
use models::world::World;
use sim::Scheduler;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// The ratios (estimate over measured) an estimate is held to.
const RATIO_MIN: f64 = 1.0;
const RATIO_MAX: f64 = 2.0;

/// The scenarios to check: those named, or every bundled one.
fn scenarios(names: &[PathBuf]) -> Result<Vec<(String, Scenario)>, ExitCode> {
    if names.is_empty() {
        return bundled::all()
            .into_iter()
            .map(|(file, loaded)| {
                let name = file.trim_end_matches(".ron").to_string();
                loaded.map(|s| (name, s)).map_err(|e| {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                })
            })
            .collect();
    }
    names
        .iter()
        .map(|p| Ok((p.display().to_string(), load_scenario_arg(Some(p))?)))
        .collect()
}

/// Seconds this process's main thread has run on a CPU, to the nanosecond (Linux's
/// schedstat; 0 elsewhere): the clock ticks of `/proc/self/stat` (10 ms) are too coarse
/// for runs of a few milliseconds. The child runs on its main thread alone.
fn on_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e9)
}

/// What the child process measured, from its last line on stderr.
#[derive(Default)]
struct Measured {
    peak_rss_bytes: u64,
    cpu_s: f64,
    build_cpu_s: f64,
    run_cpu_s: f64,
    finish_cpu_s: f64,
    requests: u64,
    events: u64,
}

fn parse_measured(line: &str) -> Option<Measured> {
    let mut m = Measured::default();
    for pair in line.split_whitespace() {
        let (key, value) = pair.split_once('=')?;
        match key {
            "peak_rss_bytes" => m.peak_rss_bytes = value.parse().ok()?,
            "cpu_s" => m.cpu_s = value.parse().ok()?,
            "build_cpu_s" => m.build_cpu_s = value.parse().ok()?,
            "run_cpu_s" => m.run_cpu_s = value.parse().ok()?,
            "finish_cpu_s" => m.finish_cpu_s = value.parse().ok()?,
            "requests" => m.requests = value.parse().ok()?,
            "events" => m.events = value.parse().ok()?,
            _ => {}
        }
    }
    Some(m)
}

fn flag(ratio: f64) -> &'static str {
    if (RATIO_MIN..=RATIO_MAX).contains(&ratio) {
        ""
    } else {
        " OUTSIDE"
    }
}

/// Runs every variant of the scenarios in a child process and prints the estimate
/// against what it measured. Exit status 1 when a child fails; a ratio outside [1, 2]
/// is flagged on its line and counted on the last, not an error (the time side depends
/// on the machine's load).
pub fn check_estimates(names: &[PathBuf]) -> ExitCode {
    let scenarios = match scenarios(names) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("kvsim bench: cannot find this executable to run variants: {e}");
            return ExitCode::from(1);
        }
    };
    let (mut checked, mut outside) = (0, 0);
    for (name, scenario) in &scenarios {
        for v in scenario.resolved_variants() {
            let e = estimate(&v.config);
            let start = Instant::now();
            let child = Command::new(&exe)
                .args(["bench", "--estimate-child", &v.name])
                .arg(name)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output();
            let wall_s = start.elapsed().as_secs_f64();
            let out = match child {
                Ok(out) => out,
                Err(e) => {
                    eprintln!("kvsim bench: {name} {}: {e}", v.name);
                    return ExitCode::from(1);
                }
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            let measured = stderr.lines().last().and_then(parse_measured);
            let Some(m) = measured.filter(|_| out.status.success()) else {
                eprintln!("kvsim bench: {name} {}: {stderr}", v.name);
                return ExitCode::from(1);
            };
            let time_ratio = e.run_time_ms as f64 / 1_000.0 / wall_s.max(1e-9);
            // The same against the child's on-CPU time, which other work on the machine
            // stretches far less than its wall time.
            let cpu_ratio = e.run_time_ms as f64 / 1_000.0 / m.cpu_s.max(1e-9);
            let memory_ratio = e.peak_memory_bytes as f64 / m.peak_rss_bytes.max(1) as f64;
            checked += 1;
            outside += usize::from(!flag(time_ratio).is_empty())
                + usize::from(!flag(memory_ratio).is_empty());
            println!(
                "scenario={name} variant={} requests={} estimate_requests={} events={} estimate_s={:.3} wall_s={wall_s:.3} cpu_s={:.3} build_cpu_s={:.3} run_cpu_s={:.3} finish_cpu_s={:.3} time_ratio={time_ratio:.2}{} cpu_ratio={cpu_ratio:.2} estimate_mib={:.1} peak_rss_mib={:.1} memory_ratio={memory_ratio:.2}{}",
                v.name,
                m.requests,
                e.requests,
                m.events,
                e.run_time_ms as f64 / 1_000.0,
                m.cpu_s,
                m.build_cpu_s,
                m.run_cpu_s,
                m.finish_cpu_s,
                flag(time_ratio),
                e.peak_memory_bytes as f64 / 1_048_576.0,
                m.peak_rss_bytes as f64 / 1_048_576.0,
                flag(memory_ratio),
            );
        }
    }
    // Wall time stretches when other work shares the machine: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "checked={checked} variants, {outside} ratio(s) outside [{RATIO_MIN}, {RATIO_MAX}] (estimate over measured); loadavg={}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(",")
    );
    ExitCode::SUCCESS
}

/// The child: runs one variant as `kvsim run --jobs 1` does, the text report on stdout,
/// and prints on stderr its peak memory and CPU seconds (the process's whole, and of
/// building, running and finishing: the figures the estimate's constants come from).
pub fn run_child(variant: &str, scenario: &Path) -> ExitCode {
    let scenario = match load_scenario_arg(Some(scenario)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(v) = scenario
        .resolved_variants()
        .iter()
        .find(|v| v.name == variant)
    else {
        eprintln!("kvsim bench: no variant named {variant:?}");
        return ExitCode::from(2);
    };
    let cpu = on_cpu_s;
    let cpu_start = cpu();
    let start_rss_bytes = peak_rss_bytes().unwrap_or(0);
    let mut sched = Scheduler::with_capacity(4096);
    let mut world = match World::build(&v.config, &mut sched) {
        Ok(world) => world,
        Err(e) => {
            eprintln!("kvsim bench: variant {}: {e}", v.name);
            return ExitCode::from(1);
        }
    };
    let cpu_built = cpu();
    let built_rss_bytes = peak_rss_bytes().unwrap_or(0);
    world.run(&mut sched);
    let cpu_ran = cpu();
    let result = world.finish(sched.events_run());
    let requests = result.simulation.requests_sent;
    let events = result.simulation.events;
    let report = build_report(&scenario, vec![variant_report(&result)]);
    drop(result);
    let text = report.to_text();
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    let cpu_end = cpu();
    eprintln!(
        "start_rss_bytes={start_rss_bytes} built_rss_bytes={built_rss_bytes} peak_rss_bytes={} cpu_s={cpu_end:.3} build_cpu_s={:.3} run_cpu_s={:.3} finish_cpu_s={:.3} requests={requests} events={events}",
        peak_rss_bytes().unwrap_or(0),
        cpu_built - cpu_start,
        cpu_ran - cpu_built,
        cpu_end - cpu_ran,
    );
    ExitCode::SUCCESS
}
