//! Comparing two results: two reports (`kvsim run --format json`) or two sweep results
//! (`kvsim sweep --format json`). Each metric's delta, and where both sides have
//! replications, a 95% interval on the difference and a verdict (better, worse, or no
//! significant difference); single runs give deltas only, marked so. Invariant: a
//! verdict of better or worse is given only when the interval excludes zero and the
//! metric's direction is known (throughput up is better, latency up is worse); a metric
//! of unknown direction is reported as changed or not.

use serde::Serialize;
use serde_json::Value;

/// The metrics compared in two reports unless others are named.
pub const DEFAULT_REPORT_METRICS: [&str; 7] = [
    "ALL STATS.Totals.Ops/sec",
    "ALL STATS.Totals.KB/sec",
    "ALL STATS.Totals.Average Latency",
    "ALL STATS.Totals.Percentile Latencies.p50.00",
    "ALL STATS.Totals.Percentile Latencies.p99.00",
    "ALL STATS.Totals.Percentile Latencies.p99.90",
    "latency_intended.latency_ms_p99",
];

/// Which way a metric should move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    Unknown,
}

/// A metric's direction, from its name: throughput up is better; latency, drops,
/// allowance exceeded, steal, breaches and imbalance up are worse.
pub fn direction(metric: &str) -> Direction {
    let m = metric.to_ascii_lowercase();
    let lower = [
        "latenc",
        "_ms",
        " ms",
        "drops",
        "exceeded",
        "steal",
        "breached",
        "denied",
        "load_ratio",
        "errors",
        "overflows",
        "retransmits",
        "lost",
    ];
    let higher = ["ops/sec", "kb/sec", "hits/sec", "ops_per_s", "ops_per_sec"];
    if higher.iter().any(|h| m.contains(h)) {
        Direction::HigherIsBetter
    } else if lower.iter().any(|l| m.contains(l)) {
        Direction::LowerIsBetter
    } else {
        Direction::Unknown
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Better,
    Worse,
    NoSignificantDifference,
    /// Significant, but the metric's direction is unknown.
    Changed,
    /// One run a side: no interval, no verdict.
    SingleRun,
}

impl Verdict {
    /// The verdict as the reports word it.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoSignificantDifference => "no significant difference",
            Verdict::Changed => "changed",
            Verdict::SingleRun => "single run",
        }
    }
}

/// One metric at one row (a variant, or a sweep point and variant).
#[derive(Clone, Debug, Serialize)]
pub struct Delta {
    pub row: String,
    pub metric: String,
    pub a: f64,
    pub b: f64,
    pub delta: f64,
    /// B relative to A, in percent (None when A is 0).
    pub delta_percent: Option<f64>,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
    pub verdict: Verdict,
    pub direction: Direction,
}

impl Delta {
    /// How much worse B is than A, in percent of A (0 when better or unchanged, None
    /// when the direction is unknown or A is 0).
    pub fn regression_percent(&self) -> Option<f64> {
        let pct = self.delta_percent?;
        match self.direction {
            Direction::HigherIsBetter => Some((-pct).max(0.0)),
            Direction::LowerIsBetter => Some(pct.max(0.0)),
            Direction::Unknown => None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    /// "reports" or "sweeps".
    pub kind: String,
    pub deltas: Vec<Delta>,
}

fn round6(x: f64) -> f64 {
    if x.is_finite() {
        libm::round(x * 1e6) / 1e6
    } else {
        0.0
    }
}

fn delta(row: &str, metric: &str, a: f64, b: f64, ci: Option<(f64, f64)>, single: bool) -> Delta {
    let dir = direction(metric);
    let verdict = match ci {
        _ if single => Verdict::SingleRun,
        None => Verdict::SingleRun,
        Some((lo, hi)) if lo > 0.0 || hi < 0.0 => {
            let up = lo > 0.0;
            match (dir, up) {
                (Direction::HigherIsBetter, true) | (Direction::LowerIsBetter, false) => {
                    Verdict::Better
                }
                (Direction::HigherIsBetter, false) | (Direction::LowerIsBetter, true) => {
                    Verdict::Worse
                }
                (Direction::Unknown, _) => Verdict::Changed,
            }
        }
        Some(_) => Verdict::NoSignificantDifference,
    };
    Delta {
        row: row.to_string(),
        metric: metric.to_string(),
        a: round6(a),
        b: round6(b),
        delta: round6(b - a),
        delta_percent: (a != 0.0).then(|| round6((b - a) / a.abs() * 100.0)),
        ci95_low: ci.map(|c| round6(c.0)),
        ci95_high: ci.map(|c| round6(c.1)),
        verdict,
        direction: dir,
    }
}

/// Two reports' variants, matched by name, on `metrics`; an error names what is
/// missing.
pub fn diff_reports(a: &Value, b: &Value, metrics: &[String]) -> Result<Diff, String> {
    let variants = |v: &Value, side: &str| -> Result<Vec<(String, Value)>, String> {
        v.get("variants")
            .and_then(Value::as_array)
            .map(|vs| {
                vs.iter()
                    .map(|x| {
                        (
                            x.get("name")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            x.clone(),
                        )
                    })
                    .collect()
            })
            .ok_or_else(|| format!("{side}: not a kvsim report (no variants)"))
    };
    let (va, vb) = (variants(a, "A")?, variants(b, "B")?);
    let mut deltas = Vec::new();
    for (name, x) in &va {
        let Some((_, y)) = vb.iter().find(|(n, _)| n == name) else {
            continue;
        };
        for m in metrics {
            let get = |v: &Value, side: &str| {
                crate::sweep::lookup(v, m)
                    .ok_or_else(|| format!("{side}: variant {name:?} has no number at {m:?}"))
            };
            deltas.push(delta(name, m, get(x, "A")?, get(y, "B")?, None, true));
        }
    }
    if deltas.is_empty() {
        return Err("the two reports have no variant name in common".into());
    }
    Ok(Diff {
        kind: "reports".into(),
        deltas,
    })
}

/// Two sweep results, point by point (matched by parameter values and variant) and
/// metric by metric: with replications on both sides, a Welch 95% interval on the
/// difference of means, or for a percentile (no per-replication values) the two
/// bootstrap intervals compared (disjoint: a difference).
pub fn diff_sweeps(a: &Value, b: &Value) -> Result<Diff, String> {
    let points = |v: &Value, side: &str| -> Result<Vec<Value>, String> {
        v.get("points")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| format!("{side}: not a kvsim sweep result (no points)"))
    };
    let (pa, pb) = (points(a, "A")?, points(b, "B")?);
    let key = |p: &Value| format!("{} {}", p["values"], p["variant"]);
    let label = |p: &Value| {
        let values: Vec<String> = p["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|kv| {
                format!(
                    "{}={}",
                    kv[0].as_str().unwrap_or_default(),
                    kv[1].as_str().unwrap_or_default()
                )
            })
            .collect();
        format!(
            "{} {}",
            values.join(" "),
            p["variant"].as_str().unwrap_or_default()
        )
        .trim()
        .to_string()
    };
    let mut deltas = Vec::new();
    for x in &pa {
        let Some(y) = pb.iter().find(|y| key(y) == key(x)) else {
            continue;
        };
        for mx in x["metrics"].as_array().into_iter().flatten() {
            let name = mx["metric"].as_str().unwrap_or_default();
            let Some(my) = y["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["metric"] == name)
            else {
                continue;
            };
            let (ea, eb) = (
                mx["estimate"].as_f64().unwrap_or(0.0),
                my["estimate"].as_f64().unwrap_or(0.0),
            );
            let va: Vec<f64> = mx["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect();
            let vb: Vec<f64> = my["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect();
            let ci = if va.len() >= 2 && vb.len() >= 2 {
                welch_ci(&va, &vb)
            } else {
                // A percentile: the difference is significant when the intervals are
                // disjoint; the interval shown is the widest difference they allow.
                match (
                    mx["ci95_low"].as_f64(),
                    mx["ci95_high"].as_f64(),
                    my["ci95_low"].as_f64(),
                    my["ci95_high"].as_f64(),
                ) {
                    (Some(al), Some(ah), Some(bl), Some(bh)) => Some((bl - ah, bh - al)),
                    _ => None,
                }
            };
            deltas.push(delta(&label(x), name, ea, eb, ci, ci.is_none()));
        }
    }
    if deltas.is_empty() {
        return Err("the two sweeps have no point in common".into());
    }
    Ok(Diff {
        kind: "sweeps".into(),
        deltas,
    })
}

/// Welch's 95% interval on mean(b) - mean(a).
fn welch_ci(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let stats = |v: &[f64]| {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    let ((na, ma, va), (nb, mb, vb)) = (stats(a), stats(b));
    let se2 = va / na + vb / nb;
    let d = mb - ma;
    if se2 == 0.0 {
        return Some((d, d));
    }
    let df = se2 * se2 / ((va / na).powi(2) / (na - 1.0) + (vb / nb).powi(2) / (nb - 1.0));
    let t = StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(0.975);
    let half = t * libm::sqrt(se2);
    Some((d - half, d + half))
}

impl Diff {
    pub fn to_json(&self) -> String {
        crate::pretty_json(self)
    }

    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let row_w = self
            .deltas
            .iter()
            .map(|d| d.row.len())
            .max()
            .unwrap_or(3)
            .max(3);
        let metric_w = self
            .deltas
            .iter()
            .map(|d| d.metric.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let _ = writeln!(
            o,
            "{:<row_w$}  {:<metric_w$}  {:>14}  {:>14}  {:>14}  {:>9}  {:>28}  verdict",
            "row", "metric", "A", "B", "B - A", "B/A - 1", "95% interval of B - A"
        );
        for d in &self.deltas {
            let pct = d
                .delta_percent
                .map_or("-".to_string(), |p| format!("{p:+.2}%"));
            let ci = match (d.ci95_low, d.ci95_high) {
                (Some(l), Some(h)) => format!("[{l:.3}, {h:.3}]"),
                _ => "-".to_string(),
            };
            let verdict = d.verdict.words();
            let _ = writeln!(
                o,
                "{:<row_w$}  {:<metric_w$}  {:>14.3}  {:>14.3}  {:>14.3}  {pct:>9}  {ci:>28}  {verdict}",
                d.row, d.metric, d.a, d.b, d.delta
            );
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_follow_the_metric_names() {
        assert_eq!(
            direction("ALL STATS.Totals.Ops/sec"),
            Direction::HigherIsBetter
        );
        assert_eq!(
            direction("ALL STATS.Totals.Percentile Latencies.p99.00"),
            Direction::LowerIsBetter
        );
        assert_eq!(
            direction("shards.load_ratio_measured"),
            Direction::LowerIsBetter
        );
        assert_eq!(direction("simulation.events"), Direction::Unknown);
    }

    /// Welch: two samples a mean 1 apart with small spread differ, and an increase of
    /// latency is worse, of throughput better; overlapping samples give no verdict.
    #[test]
    fn verdicts_need_an_interval_that_excludes_zero() {
        let a = [10.0, 10.1, 9.9, 10.05];
        let b = [11.0, 11.1, 10.9, 11.05];
        let ci = welch_ci(&a, &b).unwrap();
        assert!(ci.0 > 0.8 && ci.1 < 1.2, "{ci:?}");
        assert_eq!(
            delta("r", "x.Ops/sec", 10.0, 11.0, Some(ci), false).verdict,
            Verdict::Better
        );
        assert_eq!(
            delta("r", "x.Average Latency", 10.0, 11.0, Some(ci), false).verdict,
            Verdict::Worse
        );
        assert_eq!(
            delta("r", "simulation.events", 10.0, 11.0, Some(ci), false).verdict,
            Verdict::Changed
        );
        let c = [9.0, 11.0, 10.0, 12.0];
        let ci = welch_ci(&a, &c).unwrap();
        assert_eq!(
            delta("r", "x.Ops/sec", 10.0, 10.5, Some(ci), false).verdict,
            Verdict::NoSignificantDifference
        );
        let single = delta("r", "x.Ops/sec", 10.0, 9.0, None, true);
        assert_eq!(single.verdict, Verdict::SingleRun);
        assert_eq!(single.regression_percent(), Some(10.0));
    }
}
