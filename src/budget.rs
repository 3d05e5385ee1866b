//! The run budget: how much memory and time `kvsim run` may spend, and the refusal of a
//! run whose estimate (`models::estimate`) is over it, before anything is simulated.
//! The default is half this machine's memory (MemTotal in /proc/meminfo, or
//! [`FALLBACK_MEMORY_BYTES`] where there is none) and one hour; `--budget
//! memory=8GiB,hours=4` sets either (to raise it, mostly). Invariant: the budget is read here, in the
//! command line, and only decides whether a run starts: it never reaches a simulation
//! or a report, so a report is the same on every machine.

use models::estimate::{
    run_estimate, Estimate, Part, RunEstimate, REQUESTS_PER_CPU_S, REQUESTS_PER_CPU_S_SMALL_WORLD,
};
use models::scenario::Scenario;
use std::fmt::Write as _;

/// The memory budget where the machine's memory cannot be read (no /proc/meminfo).
pub const FALLBACK_MEMORY_BYTES: u64 = 8 << 30;

/// The default time budget.
pub const DEFAULT_HOURS: f64 = 1.0;

/// What `--budget` sets: either part, or both.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BudgetArg {
    pub memory_bytes: Option<u64>,
    pub hours: Option<f64>,
}

/// Parses `memory=8GiB,hours=4` (either part alone, in any order). Sizes take B, KB,
/// MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024); hours may be
/// fractional (`hours=0.5`).
pub fn parse_budget(text: &str) -> Result<BudgetArg, String> {
    let mut budget = BudgetArg::default();
    for part in text.split(',').map(str::trim) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!(
                "expected memory=SIZE and/or hours=H separated by a comma (e.g. memory=8GiB,hours=4), got {part:?}"
            ));
        };
        match key.trim() {
            "memory" => budget.memory_bytes = Some(parse_size(value.trim())?),
            "hours" => {
                let h: f64 = value.trim().parse().map_err(|_| {
                    format!("hours: expected a number of hours (e.g. 4 or 0.5), got {value:?}")
                })?;
                if !(h.is_finite() && h > 0.0) {
                    return Err(format!("hours: expected a positive number, got {value:?}"));
                }
                budget.hours = Some(h);
            }
            other => {
                return Err(format!(
                    "unknown budget {other:?}; expected memory=SIZE or hours=H"
                ))
            }
        }
    }
    Ok(budget)
}

/// `8GiB`, `512MB`, `1.5TiB`, `1000000` (bytes).
fn parse_size(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "memory: unknown unit {other:?}; expected B, KB, MB, GB, TB, KiB, MiB, GiB or TiB (e.g. memory=8GiB)"
            ))
        }
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("memory: expected a size such as 8GiB, got {text:?}"))?;
    let bytes = n * scale as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("memory: expected a positive size, got {text:?}"));
    }
    Ok(bytes as u64)
}

/// The budget a run is held to.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub memory_bytes: u64,
    pub hours: f64,
    /// Where the memory figure comes from, for messages.
    pub memory_source: String,
}

impl Budget {
    /// The default, with what `--budget` raises.
    pub fn new(arg: Option<BudgetArg>) -> Budget {
        let arg = arg.unwrap_or_default();
        let (memory_bytes, memory_source) = match arg.memory_bytes {
            Some(m) => (m, "--budget".to_string()),
            None => match machine_memory_bytes() {
                Some(total) => (
                    total / 2,
                    format!("half of this machine's {}", bytes(total)),
                ),
                None => (
                    FALLBACK_MEMORY_BYTES,
                    "the default where the machine's memory is unknown".to_string(),
                ),
            },
        };
        Budget {
            memory_bytes,
            hours: arg.hours.unwrap_or(DEFAULT_HOURS),
            memory_source,
        }
    }
}

/// MemTotal of /proc/meminfo, in bytes (Linux).
fn machine_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// Every variant's estimate, in the listed order.
pub fn estimates(scenario: &Scenario) -> Vec<(String, Estimate)> {
    scenario
        .resolved_variants()
        .iter()
        .map(|v| (v.name.clone(), models::estimate::estimate(&v.config)))
        .collect()
}

/// Why a run of these variants on `jobs` threads is over `budget`, naming the scenario
/// fields that drive it, in lines of its own after a heading; `None` when it is within.
pub fn over_budget(
    variants: &[(String, Estimate)],
    jobs: usize,
    budget: &Budget,
) -> Option<String> {
    let list: Vec<Estimate> = variants.iter().map(|(_, e)| e.clone()).collect();
    let total = run_estimate(&list, jobs);
    let hours = total.run_time_ms as f64 / 3_600_000.0;
    let mut lines = Vec::new();
    let mut raise = Vec::new();
    if total.peak_memory_bytes > budget.memory_bytes {
        let (name, e) = variants
            .iter()
            .max_by_key(|(_, e)| e.peak_memory_bytes)
            .expect("a scenario has a variant");
        lines.push(format!(
            "  memory: estimated peak {} ({} variant{}, {jobs} at a time), budget {} ({}); the largest, {name:?}, needs {}, mostly for {}",
            bytes(total.peak_memory_bytes),
            variants.len(),
            if variants.len() == 1 { "" } else { "s" },
            bytes(budget.memory_bytes),
            budget.memory_source,
            bytes(e.peak_memory_bytes),
            drivers(&e.memory_parts, e.peak_memory_bytes, bytes),
        ));
        raise.push(format!("memory={}", budget_size(total.peak_memory_bytes)));
    }
    if hours > budget.hours {
        let (name, e) = variants
            .iter()
            .max_by_key(|(_, e)| e.run_time_ms)
            .expect("a scenario has a variant");
        lines.push(format!(
            "  time: expected {} ({} variant{}, {jobs} at a time) at {} simulated requests a CPU second, budget {}; the longest, {name:?}, takes {}, mostly for {}",
            duration(total.run_time_ms),
            variants.len(),
            if variants.len() == 1 { "" } else { "s: the variants list" },
            speed(),
            duration((budget.hours * 3_600_000.0) as u64),
            duration(e.run_time_ms),
            drivers(&e.time_parts, e.run_time_ms, duration),
        ));
        raise.push(format!("hours={}", whole_hours_up(hours)));
    }
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "over the budget of this run (its estimate, see `kvsim check`):\n{}\n  lower those fields, or raise the budget: --budget {}",
        lines.join("\n"),
        raise.join(",")
    ))
}

/// Hours a user can pass back to --budget: rounded up, at least 1.
fn whole_hours_up(hours: f64) -> u64 {
    (hours.ceil() as u64).max(1)
}

/// The parts that make up most of `total` (the largest, and any other of at least a
/// tenth of it), each with its amount and fields.
fn drivers(parts: &[Part], total: u64, unit: fn(u64) -> String) -> String {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if p.fields.is_empty() || (i > 0 && p.amount < total / 10) {
            continue;
        }
        out.push(format!(
            "{} ({}; fields {})",
            p.what,
            unit(p.amount),
            p.fields.join(", ")
        ));
        if out.len() == 3 {
            break;
        }
    }
    out.join("; ")
}

/// A size a user can pass back to --budget: the figure rounded up to whole GiB (MiB
/// below one GiB).
fn budget_size(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{}GiB", b.div_ceil(1 << 30))
    } else {
        format!("{}MiB", b.div_ceil(1 << 20).max(1))
    }
}

/// Bytes for people: B, KiB, MiB, GiB, TiB with one decimal.
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = b as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration for people: s, min or h.
pub fn duration(ms: u64) -> String {
    let s = ms as f64 / 1_000.0;
    if s < 100.0 {
        format!("{s:.1} s")
    } else if s < 6_000.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3_600.0)
    }
}

/// A count for people: 1234 -> 1.2k, 5600000 -> 5.6M.
pub fn count(n: u64) -> String {
    let x = n as f64;
    if n < 10_000 {
        n.to_string()
    } else if x < 1e6 {
        format!("{:.1}k", x / 1e3)
    } else if x < 1e9 {
        format!("{:.1}M", x / 1e6)
    } else if x < 1e12 {
        format!("{:.1}G", x / 1e9)
    } else {
        format!("{x:.1e}")
    }
}

/// The estimate as `kvsim check` prints it: a line per variant and one for the run.
pub fn estimate_table(variants: &[(String, Estimate)], jobs: usize) -> String {
    let list: Vec<Estimate> = variants.iter().map(|(_, e)| e.clone()).collect();
    let total: RunEstimate = run_estimate(&list, jobs);
    let width = variants
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        .max("variant".len());
    let mut text = format!(
        "estimate (upper bounds; `kvsim run` refuses a run over its budget):\n  {:<width$}  {:>9}  {:>9}  {:>13}  {:>11}  {:>9}  bound\n",
        "variant", "requests", "events", "series points", "peak memory", "run time"
    );
    for (name, e) in variants {
        let _ = writeln!(
            text,
            "  {name:<width$}  {:>9}  {:>9}  {:>13}  {:>11}  {:>9}  {}",
            count(e.requests),
            count(e.events),
            count(e.timeseries_points),
            bytes(e.peak_memory_bytes),
            duration(e.run_time_ms),
            e.requests_bound.describe(),
        );
    }
    let _ = writeln!(
        text,
        "  run ({jobs} job{}): {} requests, {} events, peak memory {}, about {} at {} requests a CPU second",
        if jobs == 1 { "" } else { "s" },
        count(total.requests),
        count(total.events),
        bytes(total.peak_memory_bytes),
        duration(total.run_time_ms),
        speed(),
    );
    text
}

/// The simulator's speed the expected time assumes: faster in a small world, whose
/// connections fit the processor's caches, than in a large one.
fn speed() -> String {
    format!(
        "{} (large worlds) to {} (small ones)",
        count(REQUESTS_PER_CPU_S),
        count(REQUESTS_PER_CPU_S_SMALL_WORLD)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_in_either_order_with_decimal_and_binary_units() {
        let b = parse_budget("memory=8GiB,hours=4").unwrap();
        assert_eq!((b.memory_bytes, b.hours), (Some(8 << 30), Some(4.0)));
        let b = parse_budget("hours=0.5, memory=1.5MB").unwrap();
        assert_eq!((b.memory_bytes, b.hours), (Some(1_500_000), Some(0.5)));
        assert_eq!(
            parse_budget("memory=4096").unwrap().memory_bytes,
            Some(4096)
        );
        assert_eq!(parse_budget("hours=2").unwrap().memory_bytes, None);
        for bad in [
            "",
            "memory",
            "memory=",
            "memory=8 GiB x",
            "hours=0",
            "hours=inf",
            "disk=1",
        ] {
            assert!(parse_budget(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(duration(1_500), "1.5 s");
        assert_eq!(duration(600_000), "10 min");
        assert_eq!(duration(7_200_000), "2.0 h");
        assert_eq!(count(9_999), "9999");
        assert_eq!(count(25_248), "25.2k");
        assert_eq!(count(1_140_713), "1.1M");
        assert_eq!(budget_size(1 << 20), "1MiB");
        assert_eq!(budget_size((5 << 30) + 1), "6GiB");
    }

    fn variant(name: &str, peak_memory_bytes: u64, run_time_ms: u64) -> (String, Estimate) {
        let text = "(name: \"t\", description: \"d\", seed: 1, duration_s: 1, \
                    cluster: (instance: \"cache.r7g.large\"), \
                    clients: (workload: (key_maximum: 10, requests: 1)))";
        let scenario = models::scenario::load_str(text, "t.ron").unwrap();
        let mut e = models::estimate::estimate(&scenario.resolved_variants()[0].config);
        e.peak_memory_bytes = peak_memory_bytes;
        e.run_time_ms = run_time_ms;
        e.memory_parts = vec![Part {
            what: "keys".into(),
            amount: peak_memory_bytes,
            fields: vec!["prefill.keys"],
        }];
        e.time_parts = vec![Part {
            what: "requests".into(),
            amount: run_time_ms,
            fields: vec!["clients.workload.test_time_s"],
        }];
        (name.to_string(), e)
    }

    #[test]
    fn a_run_over_its_budget_says_which_and_why() {
        let budget = Budget {
            memory_bytes: 1 << 30,
            hours: 1.0,
            memory_source: "--budget".into(),
        };
        let within = [variant("a", 100 << 20, 60_000)];
        assert_eq!(over_budget(&within, 1, &budget), None);
        // Two of 700 MiB fit one at a time, not two at a time.
        let two = [
            variant("a", 700 << 20, 1_000),
            variant("b", 700 << 20, 1_000),
        ];
        assert_eq!(over_budget(&two, 1, &budget), None);
        let why = over_budget(&two, 2, &budget).expect("over");
        assert!(why.contains("memory: estimated peak"), "{why}");
        assert!(why.contains("fields prefill.keys"), "{why}");
        assert!(why.contains("--budget memory=2GiB"), "{why}");
        assert!(!why.contains("time:"), "{why}");
        let long = [variant("slow", 100 << 20, 5_400_000)];
        let why = over_budget(&long, 1, &budget).expect("over");
        assert!(why.contains("time: expected 90 min"), "{why}");
        assert!(why.contains("clients.workload.test_time_s"), "{why}");
        assert!(why.contains("--budget hours=2"), "{why}");
    }
}
