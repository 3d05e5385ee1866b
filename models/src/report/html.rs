//! The HTML report: one self-contained page per run, sweep or comparison, with its
//! summary tables, its findings and its plots inline as SVG. Invariants: the page loads
//! nothing (no scripts, fonts, styles or images from anywhere), it is a pure function
//! of its input (the same report gives the same bytes), and every plot's `<figure>`
//! states what it drew (`data-lines`, `data-bands`, `data-bars`: colour and number of
//! points), so a browser test can check the drawing against the data.

use super::plot::{self, Bars, Line, Plot, XAxis};
use super::{MemtierStats, Report, VariantReport};
use crate::diff::Diff;
use crate::scenario::spec::{ReportSection, TimeSeriesKind};
use crate::sweep::SweepReport;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use std::fmt::Write;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{margin-top:1.5em}\
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}\
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}\
th:first-child,td:first-child,td.t{text-align:left}th{background:#f4f4f4}\
pre{background:#f8f8f8;padding:.8em;overflow-x:auto;font-size:.8em;white-space:pre-wrap}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto}\
figcaption{font-size:.85em;color:#555}.meta{color:#555;font-size:.9em}\
.worse{color:#b00}.better{color:#070}";

/// A whole page around `body`.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        text(title)
    )
}

/// A plot as a `<figure>` that states what it drew.
fn figure(p: &Plot) -> String {
    let lines: Vec<(String, usize)> = p
        .drawn
        .lines
        .iter()
        .map(|(_, c, n)| (c.clone(), *n))
        .collect();
    let bars: Vec<(String, usize)> = p
        .drawn
        .bars
        .iter()
        .map(|(_, c, n)| (c.clone(), *n))
        .collect();
    let json = |v: &[(String, usize)]| serde_json::to_string(v).unwrap_or_default();
    format!(
        "<figure class=\"plot\" data-title=\"{}\" data-lines=\"{}\" data-bands=\"{}\" data-bars=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
        attr(&p.title),
        attr(&json(&lines)),
        attr(&json(&p.drawn.bands)),
        attr(&json(&bars)),
        // plotters writes an XML declaration-free <svg> element: inline as is.
        p.svg.trim(),
        text(&p.title)
    )
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut o = String::from("<table>\n<tr>");
    for h in head {
        let _ = write!(o, "<th>{}</th>", text(h));
    }
    o.push_str("</tr>\n");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            // Numbers (and intervals of them) align right, words left.
            let numeric = c
                .trim_start_matches(['[', '+', '-'])
                .starts_with(|ch: char| ch.is_ascii_digit());
            if numeric {
                let _ = write!(o, "<td>{}</td>", text(c));
            } else {
                let _ = write!(o, "<td class=\"t\">{}</td>", text(c));
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
    o
}

fn pre(body: &str) -> String {
    format!("<pre>{}</pre>\n", text(body.trim_matches('\n')))
}

fn fmt(x: f64, decimals: usize) -> String {
    format!("{x:.decimals$}")
}

fn memtier_row(kind: &str, s: &MemtierStats) -> Vec<String> {
    let pct = |k: &str| {
        s.percentile_latencies
            .get(k)
            .map_or("-".to_string(), |v| fmt(*v, 3))
    };
    vec![
        kind.to_string(),
        fmt(s.ops_per_sec, 2),
        fmt(s.hits_per_sec, 2),
        fmt(s.misses_per_sec, 2),
        fmt(s.average_latency, 3),
        pct("p50.00"),
        pct("p99.00"),
        pct("p99.90"),
        fmt(s.kb_per_sec, 2),
    ]
}

/// The kinds of series shown under each heading, in the report's order; the other
/// kinds go under "other series".
const SERIES_GROUPS: &[(&str, &[TimeSeriesKind])] = &[
    (
        "Throughput and tail latency",
        &[
            TimeSeriesKind::Ops,
            TimeSeriesKind::LatencyP99,
            TimeSeriesKind::LatencyP999,
        ],
    ),
    ("Network per node", &[TimeSeriesKind::NetBits]),
    (
        "Burst credits, allowance exceeded and drops",
        &[
            TimeSeriesKind::NetCredits,
            TimeSeriesKind::AllowanceExceeded,
            TimeSeriesKind::Drops,
        ],
    ),
    ("CPU per node and thread", &[TimeSeriesKind::CpuUtilization]),
];

/// One variant: the sections its report settings show (totals, findings, per-second
/// plots, shard loads), its cost, and its full text report folded away.
fn variant_section(o: &mut String, scenario: &str, v: &VariantReport) -> Result<(), String> {
    let shows = |section| v.config.report.shows(section);
    let _ = writeln!(
        o,
        "<h2 id=\"variant-{}\">Variant {}</h2>",
        attr(&v.name),
        text(&v.name)
    );
    if shows(ReportSection::Totals) {
        let s = &v.all_stats;
        o.push_str(&table(
            &super::text::MEMTIER_COLUMNS,
            &[
                memtier_row("Sets", &s.sets),
                memtier_row("Gets", &s.gets),
                memtier_row("Totals", &s.totals),
            ],
        ));
    }
    if shows(ReportSection::Findings) {
        let _ = writeln!(o, "<h3>Findings</h3>");
        o.push_str(&pre(&super::text::findings_text(v)));
    }
    let _ = writeln!(o, "<h3>Cost</h3>");
    o.push_str(&pre(&super::cost::describe(&v.cost)));
    let names = plot::series_names(v);
    let kind = |n: &str| TimeSeriesKind::of_series(n);
    let mut shown: Vec<&str> = Vec::new();
    if shows(ReportSection::Timeseries) {
        for (heading, kinds) in SERIES_GROUPS {
            let members: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| kind(n).is_some_and(|k| kinds.contains(&k)))
                .collect();
            if members.is_empty() {
                continue;
            }
            let _ = writeln!(o, "<h3>{}</h3>", text(heading));
            for name in members {
                o.push_str(&figure(&plot::series_plot(scenario, v, name)?));
                shown.push(name);
            }
        }
    }
    if shows(ReportSection::Shards) {
        let _ = writeln!(o, "<h3>Load per shard</h3>");
        let shards = &v.shards.per_shard;
        let categories: Vec<String> = shards.iter().map(|s| s.shard.to_string()).collect();
        let bars = plot::bar_chart(
            &format!("{scenario} / {}: share of requests per shard", v.name),
            "shard",
            "share of requests",
            &categories,
            &[
                Bars {
                    label: "measured".into(),
                    values: shards.iter().map(|s| s.share_measured).collect(),
                    whiskers: None,
                },
                Bars {
                    label: "exact".into(),
                    values: shards.iter().map(|s| s.share_exact).collect(),
                    whiskers: None,
                },
            ],
        )?;
        o.push_str(&figure(&bars));
        let _ = writeln!(
            o,
            "<p>Hottest over coldest shard: {} measured, {} exact.</p>",
            fmt(v.shards.load_ratio_measured, 3),
            fmt(v.shards.load_ratio_exact, 3)
        );
    }
    let rest: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !shown.contains(n))
        .collect();
    if shows(ReportSection::Timeseries) && !rest.is_empty() {
        let _ = writeln!(o, "<details>\n<summary>Other series</summary>");
        for name in rest {
            o.push_str(&figure(&plot::series_plot(scenario, v, name)?));
        }
        let _ = writeln!(o, "</details>");
    }
    let _ = writeln!(
        o,
        "<details>\n<summary>The full text report of this variant</summary>"
    );
    o.push_str(&pre(&super::text::variant_text(v)));
    let _ = writeln!(o, "</details>");
    Ok(())
}

/// The page of one run's report: each variant's totals, findings, per-second plots and
/// shard loads, then the comparison across variants.
pub fn run_html(r: &Report) -> Result<String, String> {
    let mut o = String::new();
    let _ = writeln!(o, "<h1>kvsim: {}</h1>", text(&r.scenario.name));
    let _ = writeln!(o, "<p>{}</p>", text(&r.scenario.description));
    let _ = writeln!(
        o,
        "<p class=\"meta\">kvsim {}, seed {}, scenario digest {}, catalog digest {}, {} variant(s)</p>",
        text(&r.kvsim_version),
        r.seed,
        text(&r.scenario.digest),
        text(&r.catalog_digest),
        r.variants.len()
    );
    let shows_comparison = r
        .variants
        .first()
        .is_some_and(|v| v.config.report.shows(ReportSection::Comparison));
    if shows_comparison && r.variants.len() > 1 {
        let _ = writeln!(o, "<h2>Comparison across variants</h2>");
        let rows: Vec<Vec<String>> = r
            .comparison
            .iter()
            .map(|c| {
                vec![
                    c.variant.clone(),
                    fmt(c.ops_per_sec, 2),
                    fmt(c.latency_ms_p50, 3),
                    fmt(c.latency_ms_p99, 3),
                    fmt(c.latency_ms_p99_intended, 3),
                    fmt(c.kb_per_sec, 2),
                    fmt(c.load_ratio_measured, 3),
                    c.usd_per_hour.map_or("-".into(), |x| fmt(x, 4)),
                    c.usd_per_million_requests.map_or("-".into(), |x| fmt(x, 6)),
                    c.binding.clone(),
                ]
            })
            .collect();
        o.push_str(&table(
            &[
                "Variant",
                "Ops/sec",
                "p50 ms",
                "p99 ms",
                "p99 ms (intended)",
                "KB/sec",
                "Hot/cold",
                "USD/hour",
                "USD/M requests",
                "Binding resource",
            ],
            &rows,
        ));
        // How near its capacity each variant ran: where more load meets a limit.
        let headroom: Vec<Vec<String>> = r
            .comparison
            .iter()
            .filter_map(|c| {
                let h = c.headroom.as_ref()?;
                Some(vec![
                    c.variant.clone(),
                    fmt(c.latency_ms_p999_all, 3),
                    h.hottest_node.clone(),
                    format!("{}%", fmt(h.hottest_node_cpu_utilization * 100.0, 1)),
                    format!("{}%", fmt(h.hottest_node_nic_utilization * 100.0, 1)),
                    format!(
                        "{} at {}%",
                        h.first_to_bind,
                        fmt(h.first_to_bind_utilization * 100.0, 1)
                    ),
                ])
            })
            .collect();
        if !headroom.is_empty() {
            o.push_str(&table(
                &[
                    "Variant",
                    "p99.9 ms",
                    "Hottest node",
                    "Its CPU (busiest thread)",
                    "Its NIC (busier direction)",
                    "First to bind (most utilized resource)",
                ],
                &headroom,
            ));
        }
        let names: Vec<String> = r.comparison.iter().map(|c| c.variant.clone()).collect();
        let bars = plot::bar_chart(
            &format!("{}: throughput per variant", r.scenario.name),
            "variant",
            "Ops/sec",
            &names,
            &[Bars {
                label: "Ops/sec".into(),
                values: r.comparison.iter().map(|c| c.ops_per_sec).collect(),
                whiskers: None,
            }],
        )?;
        o.push_str(&figure(&bars));
    }
    for v in &r.variants {
        variant_section(&mut o, &r.scenario.name, v)?;
    }
    Ok(page(&format!("kvsim: {}", r.scenario.name), &o))
}

/// Whether every value parses as a number.
fn numeric(values: &[&str]) -> Option<Vec<f64>> {
    values.iter().map(|v| v.parse::<f64>().ok()).collect()
}

/// The page of a sweep: per metric, its table with intervals and a metric-versus-
/// parameter plot (x: the parameter with the most values; a line per combination of
/// the other parameters and the variant, its 95% interval as a band).
pub fn sweep_html(s: &SweepReport) -> Result<String, String> {
    let mut o = String::new();
    let _ = writeln!(o, "<h1>kvsim sweep: {}</h1>", text(&s.sweep));
    let _ = writeln!(
        o,
        "<p class=\"meta\">kvsim {}, digest {}, seed {}, {} replication(s) a point; 95% intervals: Student t over replications, percentiles from merged histograms with a bootstrap over replications</p>",
        text(&s.kvsim_version),
        text(&s.digest),
        s.seed,
        s.replications
    );
    let metrics: Vec<String> = s
        .points
        .first()
        .map(|p| p.metrics.iter().map(|m| m.metric.clone()).collect())
        .unwrap_or_default();
    for (mi, metric) in metrics.iter().enumerate() {
        let _ = writeln!(o, "<h2>{}</h2>", text(metric));
        let rows: Vec<Vec<String>> = s
            .points
            .iter()
            .map(|p| {
                let m = &p.metrics[mi];
                let point = p
                    .values
                    .iter()
                    .map(|(k, v)| format!("{}={v}", short_param(k)))
                    .collect::<Vec<_>>()
                    .join(" ");
                vec![
                    point,
                    p.variant.clone(),
                    fmt(m.estimate, 3),
                    match (m.ci95_low, m.ci95_high) {
                        (Some(lo), Some(hi)) => format!("[{lo:.3}, {hi:.3}]"),
                        _ => "-".into(),
                    },
                ]
            })
            .collect();
        o.push_str(&table(
            &["Point", "Variant", "Estimate", "95% interval"],
            &rows,
        ));
        o.push_str(&figure(&sweep_plot(s, mi)?));
    }
    Ok(page(&format!("kvsim sweep: {}", s.sweep), &o))
}

/// Metric `mi` of a sweep against its parameter: x is the parameter with the most
/// values (ties: the first listed; the variant when there is none), a line per
/// combination of the other parameters and the variant, its 95% interval as a band.
pub fn sweep_plot(s: &SweepReport, mi: usize) -> Result<Plot, String> {
    let metric = s
        .points
        .first()
        .and_then(|p| p.metrics.get(mi))
        .map(|m| m.metric.clone())
        .ok_or_else(|| format!("the sweep has no metric {mi}"))?;
    // The x parameter: the one with the most distinct values (ties: the first listed).
    let params: Vec<String> = s
        .points
        .first()
        .map(|p| p.values.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let distinct = |i: usize| {
        let mut v: Vec<&str> = Vec::new();
        for p in &s.points {
            if let Some((_, x)) = p.values.get(i) {
                if !v.contains(&x.as_str()) {
                    v.push(x);
                }
            }
        }
        v
    };
    let x_param = (0..params.len())
        .max_by(|&a, &b| distinct(a).len().cmp(&distinct(b).len()).then(b.cmp(&a)));
    let x_values: Vec<&str> = match x_param {
        Some(i) => distinct(i),
        None => {
            let mut v: Vec<&str> = Vec::new();
            for p in &s.points {
                if !v.contains(&p.variant.as_str()) {
                    v.push(&p.variant);
                }
            }
            v
        }
    };
    let x_numbers = numeric(&x_values);
    let x_of = |p: &crate::sweep::PointSummary| -> f64 {
        let key = match x_param {
            Some(i) => p.values[i].1.as_str(),
            None => p.variant.as_str(),
        };
        let idx = x_values.iter().position(|v| *v == key).unwrap_or(0);
        x_numbers.as_ref().map_or(idx as f64, |n| n[idx])
    };
    // A parameter the x value determines (zipped with it) varies along a line, not
    // between lines.
    let follows_x = |i: usize| {
        let Some(x) = x_param else { return false };
        let mut seen: Vec<(&str, &str)> = Vec::new();
        s.points.iter().all(|p| {
            let (xv, v) = (p.values[x].1.as_str(), p.values[i].1.as_str());
            match seen.iter().find(|(a, _)| *a == xv) {
                Some((_, b)) => *b == v,
                None => {
                    seen.push((xv, v));
                    true
                }
            }
        })
    };
    let along_x: Vec<bool> = (0..params.len()).map(follows_x).collect();
    // The line a point belongs to: the other parameters' values and the variant.
    let group_of = |p: &crate::sweep::PointSummary| -> String {
        let mut parts: Vec<String> = p
            .values
            .iter()
            .enumerate()
            .filter(|(i, _)| !along_x[*i])
            .map(|(_, (k, v))| format!("{}={v}", short_param(k)))
            .collect();
        if x_param.is_some() {
            parts.push(p.variant.clone());
        }
        parts.join(" ")
    };
    let mut groups: Vec<(String, Vec<CurvePoint>)> = Vec::new();
    for p in &s.points {
        let g = group_of(p);
        let m = &p.metrics[mi];
        let point = (x_of(p), m.estimate, m.ci95_low.zip(m.ci95_high));
        match groups.iter_mut().find(|(name, _)| *name == g) {
            Some((_, pts)) => pts.push(point),
            None => groups.push((g, vec![point])),
        }
    }
    // Beyond plot::MAX_LINES lines the colours would repeat: the first ones are drawn,
    // and the title says how many of how many.
    let total = groups.len();
    groups.truncate(plot::MAX_LINES);
    let lines: Vec<Line> = groups
        .into_iter()
        .map(|(label, mut pts)| {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let band = pts
                .iter()
                .map(|&(x, _, ci)| ci.map(|(lo, hi)| (x, lo, hi)))
                .collect::<Option<Vec<_>>>();
            Line {
                label: if label.is_empty() {
                    metric.clone()
                } else {
                    label
                },
                points: pts.iter().map(|&(x, y, _)| (x, y)).collect(),
                band,
            }
        })
        .collect();
    let x_desc = x_param.map_or("variant".to_string(), |i| params[i].clone());
    let categories: Vec<String> = x_values.iter().map(|v| v.to_string()).collect();
    let (axis, range) = match &x_numbers {
        Some(n) => {
            let lo = n.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = n.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let pad = ((hi - lo) * 0.03).max(1e-9);
            (XAxis::Numeric(&x_desc), (lo - pad, hi + pad))
        }
        None => (
            XAxis::Categories(&x_desc, &categories),
            (-0.5, categories.len() as f64 - 0.5),
        ),
    };
    let shown = if total > plot::MAX_LINES {
        format!(" (the first {} of {total} lines)", plot::MAX_LINES)
    } else {
        String::new()
    };
    plot::line_chart(
        &format!("{}: {metric}{shown}", s.sweep),
        axis,
        &metric,
        &lines,
        range,
        None,
    )
}

/// (file name, SVG) of each metric's plot, for `--out DIR/plots`.
pub fn sweep_svgs(s: &SweepReport) -> Result<Vec<(String, String)>, String> {
    let n = s.points.first().map_or(0, |p| p.metrics.len());
    let mut files: Vec<(String, String)> = Vec::with_capacity(n);
    for mi in 0..n {
        let p = sweep_plot(s, mi)?;
        let mut name = plot::file_safe(&s.points[0].metrics[mi].metric);
        // Two metrics that differ only in characters a file name cannot hold.
        if files.iter().any(|(f, _)| *f == format!("{name}.svg")) {
            name = format!("{name}-{mi}");
        }
        files.push((format!("{name}.svg"), p.svg));
    }
    Ok(files)
}

/// A sweep curve's point: x, the estimate, and its 95% interval if it has one.
type CurvePoint = (f64, f64, Option<(f64, f64)>);

/// A field path's last part, for labels: `clients.workload.key_zipf_exp` is `key_zipf_exp`.
fn short_param(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// The page of a comparison: the table of deltas and, per metric, A and B side by side
/// for every row.
pub fn diff_html(d: &Diff, a_name: &str, b_name: &str) -> Result<String, String> {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<h1>kvsim diff</h1>\n<p class=\"meta\">A: {}<br>B: {}<br>two {}</p>",
        text(a_name),
        text(b_name),
        text(&d.kind)
    );
    let rows: Vec<Vec<String>> = d
        .deltas
        .iter()
        .map(|x| {
            vec![
                x.row.clone(),
                x.metric.clone(),
                fmt(x.a, 3),
                fmt(x.b, 3),
                fmt(x.delta, 3),
                x.delta_percent.map_or("-".into(), |p| format!("{p:+.2}%")),
                match (x.ci95_low, x.ci95_high) {
                    (Some(lo), Some(hi)) => format!("[{lo:.3}, {hi:.3}]"),
                    _ => "-".into(),
                },
                x.verdict.words().to_string(),
            ]
        })
        .collect();
    o.push_str(&table(
        &[
            "Row",
            "Metric",
            "A",
            "B",
            "B - A",
            "B vs A",
            "95% interval",
            "Verdict",
        ],
        &rows,
    ));
    let mut metrics: Vec<&str> = Vec::new();
    for x in &d.deltas {
        if !metrics.contains(&x.metric.as_str()) {
            metrics.push(&x.metric);
        }
    }
    for metric in metrics {
        let of: Vec<_> = d.deltas.iter().filter(|x| x.metric == metric).collect();
        let categories: Vec<String> = of.iter().map(|x| x.row.clone()).collect();
        let p = plot::bar_chart(
            &format!("{metric}: A and B"),
            "row",
            metric,
            &categories,
            &[
                Bars {
                    label: "A".into(),
                    values: of.iter().map(|x| x.a).collect(),
                    whiskers: None,
                },
                Bars {
                    label: "B".into(),
                    values: of.iter().map(|x| x.b).collect(),
                    whiskers: None,
                },
            ],
        )?;
        o.push_str(&figure(&p));
    }
    Ok(page("kvsim diff", &o))
}
