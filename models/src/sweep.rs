//! Sweeps: one scenario run over a grid of parameter values, each point replicated, each
//! metric summarized with a 95% confidence interval. A sweep file (RON) names a base
//! scenario, the parameters (any field path of a scenario, with a list of values or a
//! range with a step; cartesian unless grouped with `zip`), the replications and the
//! metrics (paths into a variant's JSON report).
//!
//! Invariants: a run's seed depends on (sweep seed, replication) only, so every point of
//! one replication sees the same random numbers (common random numbers: differences
//! between points are not seed noise); results are collected in point order, so the
//! output is byte-identical for any number of threads; a percentile is estimated from
//! the replications' merged HDR histograms, never by averaging percentiles, with a
//! seeded bootstrap interval over replications.

use crate::catalog::{sha256_hex, Catalog};
use crate::report::variant_report;
use crate::scenario::merge::Merge;
use crate::scenario::{self, ScenarioError, ScenarioSpec};
use crate::world::simulate;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sim::stats::LatencyHistogram;
use std::path::Path;

/// Points x variants x replications a sweep may run.
pub const MAX_RUNS: u64 = 1_000_000;
/// Bootstrap resamples behind a percentile's interval.
pub const BOOTSTRAP_RESAMPLES: usize = 400;

/// A sweep file as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "sweep")]
pub struct SweepSpec {
    /// The scenario swept: a path relative to the sweep file, or `bundled:NAME`.
    pub base: String,
    /// The sweep seed; replication r of every point runs seed derive(seed, r).
    pub seed: u64,
    pub replications: u32,
    pub parameters: Vec<ParameterSpec>,
    /// Groups of parameter paths varied together (equal numbers of values), each group
    /// one dimension of the grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<Vec<Vec<String>>>,
    /// Paths into a variant's JSON report (`ALL STATS.Totals.Ops/sec`); a percentile
    /// (`ALL STATS.Totals.Percentile Latencies.p99.00`) is summarized from histograms.
    pub metrics: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "parameter")]
pub struct ParameterSpec {
    /// A scenario field path, structure by structure: `clients.workload.key_zipf_exp`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<ron::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeSpec>,
}

/// Values from `from` to `to` inclusive, `step` apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "range")]
pub struct RangeSpec {
    pub from: f64,
    pub to: f64,
    pub step: f64,
}

/// One point of the grid: its parameter values (as RON text) and its scenario.
#[derive(Clone, Debug)]
pub struct Point {
    pub values: Vec<(String, String)>,
    pub scenario: scenario::Scenario,
}

/// A loaded, validated sweep.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub origin: String,
    pub spec: SweepSpec,
    pub points: Vec<Point>,
}

/// What a summary needs of its sweep, carried in every shard's result file so that
/// `kvsim merge` needs nothing else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepMeta {
    pub origin: String,
    pub digest: String,
    pub spec: SweepSpec,
    /// Each point's parameter values.
    pub point_values: Vec<Vec<(String, String)>>,
    /// Every run, in output order (point, variant, replication).
    pub runs: Vec<(usize, usize, u32)>,
}

/// One run's result as a shard writes it: self-describing, so that files from many
/// machines can be checked and merged.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunFile {
    pub kvsim_version: String,
    pub sweep: SweepMeta,
    /// The digest of the point's scenario.
    pub scenario_digest: String,
    pub outcome: RunOutcome,
}

impl RunFile {
    /// The file name of run (p, v, r).
    pub fn name((p, v, r): (usize, usize, u32)) -> String {
        format!("run-{p:06}-{v:04}-{r:06}.json")
    }
}

/// The runs of shard `k` of `n` (1-based): every n-th, from the k-th; stable whatever
/// machine computes it.
pub fn shard_runs(runs: &[(usize, usize, u32)], k: usize, n: usize) -> Vec<(usize, usize, u32)> {
    runs.iter()
        .enumerate()
        .filter(|(i, _)| i % n == k - 1)
        .map(|(_, r)| *r)
        .collect()
}

impl Sweep {
    /// What a summary needs of this sweep.
    pub fn meta(&self) -> SweepMeta {
        SweepMeta {
            origin: self.origin.clone(),
            digest: self.digest(),
            spec: self.spec.clone(),
            point_values: self.points.iter().map(|p| p.values.clone()).collect(),
            runs: self.runs(),
        }
    }

    /// Hex SHA-256 of the sweep's canonical form and every point's scenario digest.
    pub fn digest(&self) -> String {
        let mut s = ron::to_string(&self.spec).unwrap_or_default();
        for p in &self.points {
            s.push_str(&p.scenario.digest());
        }
        sha256_hex(s.as_bytes())
    }

    /// Every run, in output order: point, then variant, then replication.
    pub fn runs(&self) -> Vec<(usize, usize, u32)> {
        let mut out = Vec::new();
        for (p, point) in self.points.iter().enumerate() {
            for v in 0..point.scenario.resolved_variants().len() {
                for r in 0..self.spec.replications {
                    out.push((p, v, r));
                }
            }
        }
        out
    }
}

/// The seed of replication `r` of a sweep seeded `seed`: the same at every point.
pub fn replication_seed(seed: u64, r: u32) -> u64 {
    let hex = sha256_hex(format!("kvsim-sweep/{seed}/{r}").as_bytes());
    u64::from_str_radix(&hex[..16], 16).unwrap_or(seed)
}

fn fe(path: impl Into<String>, message: impl Into<String>) -> scenario::FieldError {
    scenario::FieldError::new(path, message)
}

/// Reads and validates a sweep file: its base scenario loaded, every point's scenario
/// resolved.
pub fn load_sweep(path: &Path) -> Result<Sweep, ScenarioError> {
    let text = scenario::read_scenario_file(path)?;
    let origin = path.display().to_string();
    let spec: SweepSpec = scenario::parse_as(&text, &origin)?;
    let invalid = |e: scenario::FieldError| ScenarioError::invalid(&origin, &text, e);
    if spec.replications == 0 || spec.replications > 10_000 {
        return Err(invalid(fe(
            "replications",
            format!(
                "expected 1 to 10,000 replications, got {}",
                spec.replications
            ),
        )));
    }
    if spec.metrics.is_empty() {
        return Err(invalid(fe(
            "metrics",
            "expected at least one metric (`kvsim sweep --metrics FILE` lists them)",
        )));
    }
    let base_source = if spec.base.starts_with("bundled:") {
        spec.base.clone()
    } else {
        scenario::extends::relative_to(path, &spec.base)
            .display()
            .to_string()
    };
    let (base_spec, _) = scenario::load_spec_chain(&base_source).map_err(|e| match e {
        ScenarioError::Io { source, .. } => invalid(fe(
            "base",
            format!("cannot read {:?} ({base_source}): {source}", spec.base),
        )),
        other => other,
    })?;
    let dims = dimensions(&spec).map_err(invalid)?;
    // A variant that sets a swept field would silently win over the sweep's value.
    for (i, p) in spec.parameters.iter().enumerate() {
        for (k, v) in base_spec.variants.iter().flatten().enumerate() {
            if scenario::patch_sets(&v.patch, &p.path) {
                return Err(invalid(fe(
                    format!("parameters[{i}].path"),
                    format!(
                        "the base's variant {:?} (variants[{k}]) sets {:?} itself, so the sweep's values would not reach it; sweep a base without that variant",
                        v.name, p.path
                    ),
                )));
            }
        }
    }
    let runs = dims
        .iter()
        .map(|d| d.len() as u64)
        .product::<u64>()
        .saturating_mul(u64::from(spec.replications));
    if runs > MAX_RUNS {
        return Err(invalid(fe(
            "parameters",
            format!("expected at most {MAX_RUNS} runs (points x replications), got {runs}"),
        )));
    }
    let catalog = Catalog::builtin();
    let mut points = Vec::new();
    for combo in grid(&dims) {
        let mut point_spec = base_spec.clone();
        let mut values = Vec::new();
        for (param, value) in combo {
            let patch_text = patch_text(&param.path, &value);
            let patch: ScenarioSpec =
                scenario::parse_as(&patch_text, "parameter").map_err(|e| {
                    invalid(fe(
                        format!("parameters[{}].path", param.index),
                        format!(
                            "{:?} = {value} is not a scenario field and value: {e}",
                            param.path
                        ),
                    ))
                })?;
            point_spec.merge(patch);
            values.push((param.path.clone(), value));
        }
        let label = values
            .iter()
            .map(|(p, v)| format!("{p}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = ron::to_string(&point_spec).unwrap_or_default();
        let scenario =
            scenario::load_str_with_catalog(&text, &format!("{origin} ({label})"), &catalog)
                .map_err(|e| {
                    invalid(fe(
                        "parameters",
                        format!("the point {label} is not a valid scenario: {e}"),
                    ))
                })?;
        points.push(Point { values, scenario });
    }
    Ok(Sweep {
        origin,
        spec,
        points,
    })
}

/// A parameter with its values as RON text.
#[derive(Clone, Debug)]
struct Param {
    index: usize,
    path: String,
    values: Vec<String>,
}

/// One entry of a dimension: the values it sets, parameter by parameter.
type Entry = Vec<(Param, String)>;
/// A dimension of the grid: its entries in order.
type Dimension = Vec<Entry>;

/// The grid's dimensions: each zip group one, each other parameter one, in the order
/// their first parameter is listed.
fn dimensions(spec: &SweepSpec) -> Result<Vec<Dimension>, scenario::FieldError> {
    let mut params = Vec::new();
    for (i, p) in spec.parameters.iter().enumerate() {
        let at = format!("parameters[{i}]");
        let ok_path = !p.path.is_empty()
            && p.path
                .split('.')
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !ok_path {
            return Err(fe(
                format!("{at}.path"),
                format!(
                    "expected field names joined by dots (clients.workload.pipeline), got {:?}",
                    p.path
                ),
            ));
        }
        if p.path.split('.').next() == Some("variants") || p.path == "seed" || p.path == "extends" {
            return Err(fe(
                format!("{at}.path"),
                "the seed, extends and variants are the sweep's own (variants are a dimension already)",
            ));
        }
        if spec.parameters[..i].iter().any(|q| q.path == p.path) {
            return Err(fe(
                format!("{at}.path"),
                format!("{:?} is swept twice", p.path),
            ));
        }
        let values = match (&p.values, &p.range) {
            (Some(v), None) if !v.is_empty() => v
                .iter()
                .map(|x| ron::to_string(x).map_err(|e| fe(format!("{at}.values"), e.to_string())))
                .collect::<Result<Vec<_>, _>>()?,
            (None, Some(r)) => range_values(r).map_err(|m| fe(format!("{at}.range"), m))?,
            _ => {
                return Err(fe(
                    at,
                    "expected exactly one of values (a non-empty list) or range (from, to, step)",
                ))
            }
        };
        params.push(Param {
            index: i,
            path: p.path.clone(),
            values,
        });
    }
    let groups = spec.zip.clone().unwrap_or_default();
    let mut grouped: Vec<Option<usize>> = vec![None; params.len()];
    for (g, group) in groups.iter().enumerate() {
        if group.len() < 2 {
            return Err(fe(
                format!("zip[{g}]"),
                "expected at least two parameter paths",
            ));
        }
        for (k, path) in group.iter().enumerate() {
            let Some(i) = params.iter().position(|p| &p.path == path) else {
                return Err(fe(
                    format!("zip[{g}][{k}]"),
                    format!("{path:?} is not a parameter's path"),
                ));
            };
            if grouped[i].is_some() {
                return Err(fe(
                    format!("zip[{g}][{k}]"),
                    format!("{path:?} is in two groups"),
                ));
            }
            grouped[i] = Some(g);
        }
    }
    let mut dims = Vec::new();
    let mut done = vec![false; params.len()];
    for i in 0..params.len() {
        if done[i] {
            continue;
        }
        let members: Vec<usize> = match grouped[i] {
            Some(g) => (0..params.len())
                .filter(|&j| grouped[j] == Some(g))
                .collect(),
            None => vec![i],
        };
        let n = params[members[0]].values.len();
        if let Some(&j) = members.iter().find(|&&j| params[j].values.len() != n) {
            return Err(fe(
                format!("parameters[{j}]"),
                format!(
                    "zipped with {:?}, so expected {n} values, got {}",
                    params[members[0]].path,
                    params[j].values.len()
                ),
            ));
        }
        let dim: Dimension = (0..n)
            .map(|k| {
                members
                    .iter()
                    .map(|&j| (params[j].clone(), params[j].values[k].clone()))
                    .collect()
            })
            .collect();
        for &j in &members {
            done[j] = true;
        }
        dims.push(dim);
    }
    Ok(dims)
}

fn range_values(r: &RangeSpec) -> Result<Vec<String>, String> {
    if !(r.from.is_finite() && r.to.is_finite() && r.step.is_finite())
        || r.step <= 0.0
        || r.to < r.from
    {
        return Err(format!(
            "expected finite from <= to and a positive step, got from {} to {} step {}",
            r.from, r.to, r.step
        ));
    }
    let count = libm::floor((r.to - r.from) / r.step + 1e-9) as u64 + 1;
    if count > 100_000 {
        return Err(format!("expected at most 100,000 values, got {count}"));
    }
    let integral = r.from.fract() == 0.0 && r.step.fract() == 0.0;
    Ok((0..count)
        .map(|k| {
            let v = r.from + k as f64 * r.step;
            if integral {
                format!("{}", v as i64)
            } else {
                // Rounded to 12 significant decimals, so 0.1 steps read as 0.3, not
                // 0.30000000000000004.
                let rounded = libm::round(v * 1e12) / 1e12;
                let s = format!("{rounded}");
                if s.contains('.') || s.contains('e') {
                    s
                } else {
                    format!("{s}.0")
                }
            }
        })
        .collect())
}

/// Every combination of one entry per dimension, the last dimension varying fastest.
fn grid(dims: &[Dimension]) -> Vec<Entry> {
    let mut out: Vec<Entry> = vec![Vec::new()];
    for dim in dims {
        let mut next = Vec::with_capacity(out.len() * dim.len());
        for prefix in &out {
            for entry in dim {
                let mut c = prefix.clone();
                c.extend(entry.iter().cloned());
                next.push(c);
            }
        }
        out = next;
    }
    out
}

/// `a.b.c` = v as a scenario patch: `(a: (b: (c: v)))`.
fn patch_text(path: &str, value: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let mut s = String::new();
    for p in &parts {
        s.push_str(&format!("({p}: "));
    }
    s.push_str(value);
    for _ in &parts {
        s.push(')');
    }
    s
}

/// What one run leaves for the summaries: each metric's value, and the latency
/// histograms a percentile metric reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutcome {
    pub point: usize,
    pub variant_index: usize,
    pub variant: String,
    pub replication: u32,
    pub seed: u64,
    /// Per metric, in the sweep's order (`None` for a percentile, read from histograms).
    pub values: Vec<Option<f64>>,
    pub sets: LatencyHistogram,
    pub gets: LatencyHistogram,
}

/// A metric that is a percentile of a command's latency histogram: (command, percentile).
fn percentile_metric(metric: &str) -> Option<(&str, f64)> {
    let rest = metric.strip_prefix("ALL STATS.")?;
    let (command, p) = rest.split_once(".Percentile Latencies.p")?;
    let p: f64 = p.parse().ok()?;
    (matches!(command, "Sets" | "Gets" | "Totals") && p > 0.0 && p < 100.0).then_some((command, p))
}

/// The value at `metric` in a report's JSON: keys matched longest first at each level
/// (keys may hold dots and spaces: `Percentile Latencies`, `p99.00`).
pub fn lookup(json: &serde_json::Value, metric: &str) -> Option<f64> {
    let mut value = json;
    let mut rest = metric;
    while !rest.is_empty() {
        let serde_json::Value::Object(map) = value else {
            return None;
        };
        let key = map
            .keys()
            .filter(|k| rest == k.as_str() || rest.starts_with(&format!("{k}.")))
            .max_by_key(|k| k.len())?;
        value = &map[key];
        rest = rest[key.len()..].strip_prefix('.').unwrap_or("");
    }
    value.as_f64()
}

/// Every scalar path of a report's JSON (arrays left out), for `--metrics`.
pub fn metric_paths(json: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, x) in map {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(x, &p, out);
                }
            }
            serde_json::Value::Number(_) => out.push(prefix.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (k, x) in json.as_object().into_iter().flatten() {
        if k == "config" || k == "timeseries" {
            continue;
        }
        walk(x, k, &mut out);
    }
    out
}

/// Runs `run` (point, variant, replication) of `sweep`: the report's metric values
/// and histograms.
pub fn run_one(
    sweep: &Sweep,
    (p, v, r): (usize, usize, u32),
) -> Result<(RunOutcome, serde_json::Value), String> {
    let variant = &sweep.points[p].scenario.resolved_variants()[v];
    let mut config = variant.config.clone();
    config.seed = replication_seed(sweep.spec.seed, r);
    let result = simulate(&config)?;
    let report = variant_report(&result);
    let json = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    let values = sweep
        .spec
        .metrics
        .iter()
        .map(|m| {
            if percentile_metric(m).is_some() {
                None
            } else {
                lookup(&json, m)
            }
        })
        .collect();
    Ok((
        RunOutcome {
            point: p,
            variant_index: v,
            variant: variant.name.clone(),
            replication: r,
            seed: config.seed,
            values,
            sets: result.sets.latency.clone(),
            gets: result.gets.latency.clone(),
        },
        json,
    ))
}

/// Checks that every metric names a number in `json` (a first run's report).
pub fn check_metrics(sweep: &Sweep, json: &serde_json::Value) -> Result<(), String> {
    for (i, m) in sweep.spec.metrics.iter().enumerate() {
        if percentile_metric(m).is_none() && lookup(json, m).is_none() {
            return Err(format!(
                "{}: metrics[{i}]: {m:?} is not a number in the report; `kvsim sweep --metrics {}` lists those that are",
                sweep.origin, sweep.origin
            ));
        }
    }
    Ok(())
}

/// One metric at one point and variant, over the replications.
#[derive(Clone, Debug, Serialize)]
pub struct MetricSummary {
    pub metric: String,
    /// Each replication's value, in replication order (empty for a percentile).
    pub values: Vec<f64>,
    /// The mean (a percentile: of the merged histograms).
    pub estimate: f64,
    /// The 95% interval: Student t over replications, or a percentile's bootstrap
    /// (None with a single replication).
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PointSummary {
    pub values: Vec<(String, String)>,
    pub variant: String,
    pub metrics: Vec<MetricSummary>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub kvsim_version: String,
    pub sweep: String,
    pub digest: String,
    pub seed: u64,
    pub replications: u32,
    pub points: Vec<PointSummary>,
}

/// Summarizes the outcomes (in run order) of `sweep`.
pub fn summarize(sweep: &SweepMeta, outcomes: &[RunOutcome]) -> SweepReport {
    let reps = sweep.spec.replications as usize;
    let mut points = Vec::new();
    for chunk in outcomes.chunks(reps) {
        let first = &chunk[0];
        let metrics = sweep
            .spec
            .metrics
            .iter()
            .enumerate()
            .map(|(i, m)| match percentile_metric(m) {
                Some((command, p)) => percentile_summary(sweep, m, command, p, chunk),
                None => mean_summary(m, chunk.iter().filter_map(|o| o.values[i]).collect()),
            })
            .collect();
        points.push(PointSummary {
            values: sweep.point_values[first.point].clone(),
            variant: first.variant.clone(),
            metrics,
        });
    }
    SweepReport {
        kvsim_version: env!("CARGO_PKG_VERSION").to_string(),
        sweep: sweep.origin.clone(),
        digest: sweep.digest.clone(),
        seed: sweep.spec.seed,
        replications: sweep.spec.replications,
        points,
    }
}

fn round6(x: f64) -> f64 {
    if x.is_finite() {
        libm::round(x * 1e6) / 1e6
    } else {
        0.0
    }
}

fn mean_summary(metric: &str, values: Vec<f64>) -> MetricSummary {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n.max(1.0);
    let (low, high) = if values.len() >= 2 {
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
        let t = student_t_975(values.len() - 1);
        let half = t * libm::sqrt(var / n);
        (Some(round6(mean - half)), Some(round6(mean + half)))
    } else {
        (None, None)
    };
    MetricSummary {
        metric: metric.to_string(),
        values: values.iter().map(|v| round6(*v)).collect(),
        estimate: round6(mean),
        ci95_low: low,
        ci95_high: high,
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom.
fn student_t_975(df: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

fn histogram(o: &RunOutcome, command: &str) -> LatencyHistogram {
    match command {
        "Sets" => o.sets.clone(),
        "Gets" => o.gets.clone(),
        _ => {
            let mut h = o.sets.clone();
            h.merge(&o.gets);
            h
        }
    }
}

fn percentile_summary(
    sweep: &SweepMeta,
    metric: &str,
    command: &str,
    p: f64,
    chunk: &[RunOutcome],
) -> MetricSummary {
    let hists: Vec<LatencyHistogram> = chunk.iter().map(|o| histogram(o, command)).collect();
    let mut all = LatencyHistogram::new();
    for h in &hists {
        all.merge(h);
    }
    let ms = |h: &LatencyHistogram| h.percentile_ns(p) as f64 / 1e6;
    let (low, high) = if hists.len() >= 2 {
        // Seeded by the sweep, the point and the metric: the same every run.
        let key = format!(
            "{}/{}/{}/{metric}",
            sweep.spec.seed, chunk[0].point, chunk[0].variant
        );
        let seed = u64::from_str_radix(&sha256_hex(key.as_bytes())[..16], 16).unwrap_or(0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut estimates: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
            .map(|_| {
                let mut h = LatencyHistogram::new();
                for _ in 0..hists.len() {
                    h.merge(&hists[rng.random_range(0..hists.len())]);
                }
                ms(&h)
            })
            .collect();
        estimates.sort_by(f64::total_cmp);
        let at = |q: f64| estimates[((estimates.len() - 1) as f64 * q).round() as usize];
        (Some(round6(at(0.025))), Some(round6(at(0.975))))
    } else {
        (None, None)
    };
    MetricSummary {
        metric: metric.to_string(),
        values: Vec::new(),
        estimate: round6(ms(&all)),
        ci95_low: low,
        ci95_high: high,
    }
}

impl SweepReport {
    pub fn to_json(&self) -> String {
        crate::pretty_json(self)
    }

    /// A table per metric: a row per point and variant, its estimate and 95% interval.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "kvsim {}: sweep {} (digest {}), seed {}, {} replication(s) a point; 95% intervals: Student t over replications, percentiles from merged histograms with a bootstrap over replications",
            self.kvsim_version,
            self.sweep,
            &self.digest[..16],
            self.seed,
            self.replications
        );
        let Some(first) = self.points.first() else {
            return o;
        };
        let labels: Vec<String> = self
            .points
            .iter()
            .map(|p| {
                let label = p
                    .values
                    .iter()
                    .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
                    .collect::<Vec<_>>()
                    .join(" ");
                if label.is_empty() {
                    "(base)".to_string()
                } else {
                    label
                }
            })
            .collect();
        let point_w = labels.iter().map(|l| l.len()).max().unwrap_or(5).max(5);
        let variant_w = self
            .points
            .iter()
            .map(|p| p.variant.len())
            .max()
            .unwrap_or(7)
            .max(7);
        for (m, metric) in first.metrics.iter().enumerate() {
            let _ = writeln!(o, "\n== {} ==", metric.metric);
            let _ = writeln!(
                o,
                "{:<point_w$}  {:<variant_w$}  {:>14}  {:>30}",
                "point", "variant", "estimate", "95% interval"
            );
            for (p, label) in self.points.iter().zip(&labels) {
                let x = &p.metrics[m];
                let ci = match (x.ci95_low, x.ci95_high) {
                    (Some(l), Some(h)) => format!("[{l:.3}, {h:.3}]"),
                    _ => "(one replication)".to_string(),
                };
                let _ = writeln!(
                    o,
                    "{label:<point_w$}  {:<variant_w$}  {:>14.3}  {ci:>30}",
                    p.variant, x.estimate
                );
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn folder(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kvsim-sweep-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        dir
    }

    const BASE: &str = r#"(name: "tiny", description: "d", seed: 3, duration_ms: 300,
        cluster: (instance: "cache.r7g.large"),
        clients: (workload: (ratio: "1:10", key_maximum: 100, data_size: 100, clients: 2,
                             threads: 1, test_time_s: 1)),
        prefill: (keys: 100, value_bytes: 100))"#;

    fn sweep_with(test: &str, body: &str) -> Result<Sweep, ScenarioError> {
        let dir = folder(test);
        std::fs::write(dir.join("base.ron"), BASE).expect("base");
        let path = dir.join("sweep.ron");
        std::fs::write(&path, format!("(base: \"base.ron\", seed: 9, {body})")).expect("sweep");
        load_sweep(&path)
    }

    fn invalid_path(r: Result<Sweep, ScenarioError>) -> (String, String) {
        match r {
            Err(ScenarioError::Invalid { path, message, .. }) => (path, message),
            other => panic!("expected an invalid sweep, got {other:?}"),
        }
    }

    /// The grid: a cartesian product, the last dimension fastest; a zip group is one
    /// dimension; a range includes its end; every point's scenario carries its values.
    #[test]
    fn points_are_the_grid_of_the_parameters() {
        let s = sweep_with(
            "grid",
            r#"replications: 2, metrics: ["ALL STATS.Totals.Ops/sec"],
               parameters: [(path: "clients.workload.pipeline", range: (from: 1, to: 3, step: 1)),
                            (path: "clients.workload.data_size", values: [100, 200, 300]),
                            (path: "clients.workload.key_maximum", values: [10, 20])],
               zip: [["clients.workload.pipeline", "clients.workload.data_size"]]"#,
        )
        .expect("loads");
        let got: Vec<(u32, u64)> = s
            .points
            .iter()
            .map(|p| {
                let w = &p.scenario.resolved_variants()[0].config.clients.workload;
                (w.pipeline, w.key_maximum)
            })
            .collect();
        assert_eq!(got, [(1, 10), (1, 20), (2, 10), (2, 20), (3, 10), (3, 20)]);
        assert_eq!(
            s.points[2].values[1],
            ("clients.workload.data_size".to_string(), "200".to_string())
        );
        assert_eq!(s.runs().len(), 12);
        assert_eq!(
            range_values(&RangeSpec {
                from: 0.6,
                to: 1.2,
                step: 0.1
            })
            .unwrap()
            .len(),
            7
        );
        assert_eq!(
            range_values(&RangeSpec {
                from: 0.6,
                to: 1.2,
                step: 0.1
            })
            .unwrap()[2],
            "0.8"
        );
    }

    /// Every bad sweep is refused with the field at fault.
    #[test]
    fn bad_sweeps_name_the_field() {
        let cases = [
            (
                r#"replications: 0, metrics: ["x"], parameters: []"#,
                "replications",
            ),
            (r#"replications: 1, metrics: [], parameters: []"#, "metrics"),
            (
                r#"replications: 1, metrics: ["x"], parameters: [(path: "cluster.shardz", values: [1])]"#,
                "parameters[0].path",
            ),
            (
                r#"replications: 1, metrics: ["x"], parameters: [(path: "cluster.shards", values: [0])]"#,
                "parameters",
            ),
            (
                r#"replications: 1, metrics: ["x"], parameters: [(path: "cluster.shards")]"#,
                "parameters[0]",
            ),
            (
                r#"replications: 1, metrics: ["x"], parameters: [(path: "seed", values: [1])]"#,
                "parameters[0].path",
            ),
            (
                r#"replications: 1, metrics: ["x"], parameters: [(path: "cluster.shards", range: (from: 3, to: 1, step: 1))]"#,
                "parameters[0].range",
            ),
            (
                r#"replications: 1, metrics: ["x"],
                   parameters: [(path: "clients.workload.pipeline", values: [1, 2]),
                                (path: "clients.workload.clients", values: [1, 2, 3])],
                   zip: [["clients.workload.pipeline", "clients.workload.clients"]]"#,
                "parameters[1]",
            ),
            (
                r#"replications: 1, metrics: ["x"], parameters: [(path: "cluster.shards", values: [1])],
                   zip: [["cluster.shards", "nope"]]"#,
                "zip[0][1]",
            ),
        ];
        for (body, path) in cases {
            let (p, m) = invalid_path(sweep_with("bad", body));
            assert_eq!(p, path, "{body}: {m}");
        }
        // A typo is a parse error with its line and column.
        match sweep_with(
            "typo",
            r#"replications: 1, metrics: ["x"], parameters: [], replicas: 2"#,
        ) {
            Err(ScenarioError::Parse { line, .. }) => assert_eq!(line, 1),
            other => panic!("{other:?}"),
        }
    }

    /// Student t over replications: 1, 2, 3 have mean 2 and a half-width of
    /// t(0.975, 2) x 1 / sqrt(3) = 4.3027 x 0.57735 = 2.4841.
    #[test]
    fn the_interval_is_student_t() {
        let m = mean_summary("x", vec![1.0, 2.0, 3.0]);
        assert_eq!(m.estimate, 2.0);
        assert!(
            (m.ci95_low.unwrap() - (2.0 - 2.484_138)).abs() < 1e-5,
            "{m:?}"
        );
        assert!(
            (m.ci95_high.unwrap() - (2.0 + 2.484_138)).abs() < 1e-5,
            "{m:?}"
        );
        assert_eq!(mean_summary("x", vec![5.0]).ci95_low, None);
    }

    /// Replication r runs the same seed at every point (common random numbers), a
    /// different one from replication r + 1; percentile metrics come from histograms,
    /// and their interval brackets the estimate.
    #[test]
    fn replications_share_seeds_across_points() {
        let s = sweep_with(
            "seeds",
            r#"replications: 2, metrics: ["ALL STATS.Totals.Ops/sec", "ALL STATS.Totals.Percentile Latencies.p99.00"],
               parameters: [(path: "clients.workload.pipeline", values: [1, 4])]"#,
        )
        .expect("loads");
        let outcomes: Vec<RunOutcome> = s
            .runs()
            .into_iter()
            .map(|r| run_one(&s, r).expect("runs").0)
            .collect();
        assert_eq!(outcomes[0].seed, outcomes[2].seed);
        assert_eq!(outcomes[1].seed, outcomes[3].seed);
        assert_ne!(outcomes[0].seed, outcomes[1].seed);
        let report = summarize(&s.meta(), &outcomes);
        assert_eq!(report.points.len(), 2);
        let p99 = &report.points[0].metrics[1];
        assert!(p99.values.is_empty() && p99.estimate > 0.0);
        assert!(
            p99.ci95_low.unwrap() <= p99.estimate && p99.estimate <= p99.ci95_high.unwrap(),
            "{p99:?}"
        );
        assert_eq!(report.points[1].metrics[0].values.len(), 2);
    }
}
