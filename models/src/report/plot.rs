//! SVG charts of reports, drawn with plotters: a run's per-second series (a line per
//! node, the end of warm-up marked), a sweep's metric against a parameter (a line per
//! group, its 95% band under it) and side-by-side bars (shards, variants, A and B).
//! Invariants: a pure function of its input (no fonts are loaded, nothing depends on
//! the machine), so the same report always gives the same bytes; a chart draws at most
//! `MAX_LINES` lines, each in its own colour; and every chart returns, with its SVG,
//! what it drew ([`Drawn`]: colour and number of points of each line, band and bar
//! group), for a reader to check against the picture.

use super::{Report, Series, VariantReport};
use plotters::prelude::*;

/// Lines drawn per chart at most: the ones with the largest totals (ties: listed order).
pub const MAX_LINES: usize = 12;

/// (file name, SVG text) for every chart of the variants that ask for plots (or of all
/// variants when `all` is set).
pub fn svg_plots(report: &Report, all: bool) -> Result<Vec<(String, String)>, String> {
    let mut files = Vec::new();
    for v in report
        .variants
        .iter()
        .filter(|v| all || v.config.report.plots)
    {
        for name in series_names(v) {
            let plot = series_plot(&report.scenario.name, v, name)?;
            files.push((format!("{}-{name}.svg", file_safe(&v.name)), plot.svg));
        }
    }
    Ok(files)
}

/// The variant's series names, in the order they are listed.
pub fn series_names(v: &VariantReport) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for s in &v.timeseries.series {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    names
}

/// The chart of one per-second series of a variant: a line per node (the `MAX_LINES`
/// with the largest totals), the end of warm-up marked.
pub fn series_plot(scenario: &str, v: &VariantReport, name: &str) -> Result<Plot, String> {
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
    let lines: Vec<Line> = lines
        .iter()
        .map(|s| {
            // A counter covers its second (plotted at the middle); a gauge is a sample
            // at the second's start.
            let offset = if s.gauge { 0.0 } else { 0.5 };
            Line {
                label: s.node.clone().unwrap_or_else(|| "all".to_string()),
                points: s
                    .values
                    .iter()
                    .enumerate()
                    .map(|(sec, &y)| (sec as f64 + offset, y))
                    .collect(),
                band: None,
            }
        })
        .collect();
    let title = format!("{scenario} / {}: {name}", v.name);
    let warmup_s = v.timeseries.warmup_s;
    line_chart(
        &title,
        XAxis::Numeric("simulated second"),
        name,
        &lines,
        (0.0, v.timeseries.seconds.max(1) as f64),
        (warmup_s > 0.0).then_some((warmup_s, "end of warm-up")),
    )
    .map_err(|e| format!("plot {title}: {e}"))
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
        // Up to 3 decimals, trailing zeros dropped: 0.9, 1, 1.125.
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".to_string()
        } else {
            s.to_string()
        }
    }
}

/// A name as a file name: anything but ASCII letters, digits, '-', '_' and '.' is '_'.
pub fn file_safe(name: &str) -> String {
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

/// A chart of these plots: f64 on both axes, drawn into a string.
type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Draws the legend and writes the SVG out.
fn finish<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    root: &DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// A line to draw: its legend label, its points, and an optional confidence band
/// (x, low, high) drawn under it in the same colour.
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub band: Option<Vec<(f64, f64, f64)>>,
}

/// What a chart drew, for a reader to check against the SVG: each line's stroke colour
/// (as the SVG writes it, `#RRGGBB`) with its number of points, each band's fill colour
/// with its polygon's number of vertices, and each bar group's fill with its bar count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Drawn {
    pub lines: Vec<(String, String, usize)>,
    pub bands: Vec<(String, usize)>,
    pub bars: Vec<(String, String, usize)>,
}

/// An SVG chart and what it drew.
pub struct Plot {
    pub title: String,
    pub svg: String,
    pub drawn: Drawn,
}

/// How the x axis reads: numbers with a description, or categories by index.
pub enum XAxis<'a> {
    Numeric(&'a str),
    Categories(&'a str, &'a [String]),
}

fn color_hex(c: &RGBAColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// The i-th series colour: Palette99's first colours are distinct and none is white or
/// the warm-up line's black (its grey and black come at 19 and 20, past `MAX_LINES`).
fn series_color(i: usize) -> RGBAColor {
    Palette99::pick(i).to_rgba()
}

fn finite_max(it: impl Iterator<Item = f64>) -> f64 {
    it.filter(|v| v.is_finite()).fold(0.0, f64::max)
}

/// A line chart of `lines` over x in [x_min, x_max], y from 0, with an optional vertical
/// marker (the end of warm-up).
pub fn line_chart(
    title: &str,
    x: XAxis<'_>,
    y_desc: &str,
    lines: &[Line],
    x_range: (f64, f64),
    marker: Option<(f64, &str)>,
) -> Result<Plot, String> {
    let mut svg = String::new();
    let mut drawn = Drawn::default();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let y_max = finite_max(lines.iter().flat_map(|l| {
            l.points
                .iter()
                .map(|p| p.1)
                .chain(l.band.iter().flat_map(|b| b.iter().map(|&(_, _, hi)| hi)))
        }))
        .max(1e-9)
            * 1.05;
        let (x_min, x_max) = (x_range.0, x_range.1.max(x_range.0 + 1e-9));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(x_min..x_max, 0f64..y_max)
            .map_err(|e| e.to_string())?;
        let (x_desc, categories) = match x {
            XAxis::Numeric(d) => (d, None),
            XAxis::Categories(d, c) => (d, Some(c)),
        };
        let x_fmt = |v: &f64| match categories {
            Some(c) => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < c.len() {
                    c[i as usize].clone()
                } else {
                    String::new()
                }
            }
            None => si(*v),
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|y| si(*y));
        if let Some(c) = categories {
            mesh.x_labels(c.len().max(2));
        }
        mesh.draw().map_err(|e| e.to_string())?;
        if let Some((at, label)) = marker {
            chart
                .draw_series(LineSeries::new([(at, 0.0), (at, y_max)], BLACK.mix(0.3)))
                .map_err(|e| e.to_string())?
                .label(label)
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.3)));
        }
        for (i, line) in lines.iter().enumerate() {
            let color = series_color(i);
            if let Some(band) = &line.band {
                let polygon: Vec<(f64, f64)> = band
                    .iter()
                    .map(|&(x, lo, _)| (x, lo))
                    .chain(band.iter().rev().map(|&(x, _, hi)| (x, hi)))
                    .collect();
                drawn.bands.push((color_hex(&color), polygon.len()));
                chart
                    .draw_series(std::iter::once(Polygon::new(polygon, color.mix(0.2))))
                    .map_err(|e| e.to_string())?;
            }
            drawn
                .lines
                .push((line.label.clone(), color_hex(&color), line.points.len()));
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(line.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        finish(&mut chart, &root)?;
    }
    Ok(Plot {
        title: title.to_string(),
        svg,
        drawn,
    })
}

/// A bar group: one bar per category, with an optional whisker (low, high) on each.
pub struct Bars {
    pub label: String,
    pub values: Vec<f64>,
    pub whiskers: Option<Vec<(f64, f64)>>,
}

/// Side-by-side bars: for each category, one bar per group, y from 0.
pub fn bar_chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    categories: &[String],
    groups: &[Bars],
) -> Result<Plot, String> {
    let mut svg = String::new();
    let mut drawn = Drawn::default();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let y_max = finite_max(groups.iter().flat_map(|g| {
            g.values
                .iter()
                .copied()
                .chain(g.whiskers.iter().flat_map(|w| w.iter().map(|&(_, hi)| hi)))
        }))
        .max(1e-9)
            * 1.1;
        let n = categories.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..y_max)
            .map_err(|e| e.to_string())?;
        // Category i is centred on x = i; with many, only some are labelled.
        let label = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < categories.len() {
                categories[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(n.min(20) + 1)
            .x_label_formatter(&label)
            .y_label_formatter(&|y| si(*y))
            .draw()
            .map_err(|e| e.to_string())?;
        let width = 0.8 / groups.len().max(1) as f64;
        for (g, group) in groups.iter().enumerate() {
            let color = series_color(g);
            let left = |i: usize| i as f64 - 0.4 + g as f64 * width;
            drawn
                .bars
                .push((group.label.clone(), color_hex(&color), group.values.len()));
            chart
                .draw_series(group.values.iter().enumerate().map(|(i, &v)| {
                    Rectangle::new(
                        [(left(i), 0.0), (left(i) + width, v.max(0.0))],
                        color.filled(),
                    )
                }))
                .map_err(|e| e.to_string())?
                .label(group.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(6))
                });
            if let Some(w) = &group.whiskers {
                chart
                    .draw_series(w.iter().enumerate().map(|(i, &(lo, hi))| {
                        let mid = left(i) + width / 2.0;
                        PathElement::new([(mid, lo), (mid, hi)], BLACK.stroke_width(1))
                    }))
                    .map_err(|e| e.to_string())?;
            }
        }
        finish(&mut chart, &root)?;
    }
    Ok(Plot {
        title: title.to_string(),
        svg,
        drawn,
    })
}
