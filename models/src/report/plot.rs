//! SVG plots of a report's per-second series: one chart per (variant, series name),
//! one line per node, the warm-up boundary marked. Invariant: a pure function of the
//! `Report` (no fonts are loaded, nothing depends on the machine), so the same report
//! always gives the same bytes.

use super::{Report, Series};
use plotters::prelude::*;

/// Lines drawn per chart at most: the ones with the largest totals (ties: listed order).
const MAX_LINES: usize = 12;

/// (file name, SVG text) for every chart of the variants that ask for plots (or of all
/// variants when `all` is set).
pub fn svg_plots(report: &Report, all: bool) -> Result<Vec<(String, String)>, String> {
    let mut files = Vec::new();
    for v in report
        .variants
        .iter()
        .filter(|v| all || v.config.report.plots)
    {
        let mut names: Vec<&str> = Vec::new();
        for s in &v.timeseries.series {
            if !names.contains(&s.name.as_str()) {
                names.push(&s.name);
            }
        }
        for name in names {
            let mut lines: Vec<&Series> = v
                .timeseries
                .series
                .iter()
                .filter(|s| s.name == name)
                .collect();
            if lines.len() > MAX_LINES {
                let total = |s: &Series| s.values.iter().sum::<f64>();
                lines.sort_by(|a, b| total(b).total_cmp(&total(a)));
                lines.truncate(MAX_LINES);
            }
            let title = format!("{} / {}: {name}", report.scenario.name, v.name);
            let svg = chart(
                &title,
                name,
                &lines,
                v.timeseries.seconds,
                v.timeseries.warmup_s,
            )
            .map_err(|e| format!("plot {title}: {e}"))?;
            files.push((format!("{}-{name}.svg", file_safe(&v.name)), svg));
        }
    }
    Ok(files)
}

/// A compact axis label: 1.25G, 800M, 3.5k, 0.25.
fn si(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.2}")
    }
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn chart(
    title: &str,
    y_desc: &str,
    lines: &[&Series],
    seconds: usize,
    warmup_s: f64,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let y_max = lines
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.05;
        let x_max = seconds.max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("simulated second")
            .y_desc(y_desc)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| si(*y))
            .draw()
            .map_err(|e| e.to_string())?;
        if warmup_s > 0.0 {
            chart
                .draw_series(LineSeries::new(
                    [(warmup_s, 0.0), (warmup_s, y_max)],
                    BLACK.mix(0.3),
                ))
                .map_err(|e| e.to_string())?
                .label("end of warm-up")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.3)));
        }
        for (i, s) in lines.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            // A counter covers its second (plotted at the middle); a gauge is a sample
            // at the second's start.
            let offset = if s.gauge { 0.0 } else { 0.5 };
            let points = s
                .values
                .iter()
                .enumerate()
                .map(move |(sec, &y)| (sec as f64 + offset, y));
            let label = s.node.clone().unwrap_or_else(|| "all".to_string());
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
