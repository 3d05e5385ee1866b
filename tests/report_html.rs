//! The HTML reports (`--out DIR` of `run`, `sweep` and `diff`) rendered in headless
//! Chromium: the page loads nothing from anywhere, logs nothing to the console (no
//! script error, no malformed SVG attribute, no failed load), and every plot holds what
//! the results say it should: a line per node with one point per simulated second, a
//! bar per shard, a curve per sweep group with one point per parameter value and its
//! confidence band, a pair of bars per compared row. A screenshot of each page is kept
//! under the test target folder's `artifacts/`. Chromium comes from Debian's package
//! (`.ci/run` installs it); `KVSIM_CHROMIUM` names another binary.

use scraper::{ElementRef, Html, Selector};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
#[path = "support/cli.rs"]
mod cli;
use cli::{kvsim, text};

fn chromium() -> String {
    std::env::var("KVSIM_CHROMIUM").unwrap_or_else(|_| "chromium".to_string())
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report_html")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium with a fresh profile and no background traffic: (the DOM after
/// load, the console lines it logged). Also writes a screenshot to `png`.
fn render(page: &Path, png: &Path) -> (String, Vec<String>) {
    let profile = page.with_extension("chromium-profile");
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let base = |profile: &Path| {
        let mut c = Command::new(chromium());
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
        c
    };
    let out = base(&profile)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): install Debian's chromium (apt-get install chromium; .ci/run does) or set KVSIM_CHROMIUM",
                chromium()
            )
        });
    assert!(
        out.status.success(),
        "chromium failed: {}",
        text(&out.stderr)
    );
    let console: Vec<String> = text(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    let shot = base(&profile.with_extension("shot"))
        .arg("--window-size=1200,2400")
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot.status.success(), "{}", text(&shot.stderr));
    assert!(
        std::fs::metadata(png).is_ok_and(|m| m.len() > 10_000),
        "no screenshot"
    );
    (text(&out.stdout), console)
}

fn artifact(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// What the page's source may not hold: anything that loads from elsewhere.
fn assert_self_contained(html: &str) {
    for needle in [
        "<script", "<link", " src=", " href=", "url(", "@import", "<iframe", "<img",
    ] {
        assert!(!html.contains(needle), "the page holds {needle:?}");
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

/// (colour, count) pairs of a figure's data attribute.
fn pairs(fig: &ElementRef, attr: &str) -> Vec<(String, usize)> {
    let raw = fig
        .value()
        .attr(attr)
        .unwrap_or_else(|| panic!("no {attr}"));
    serde_json::from_str(raw).unwrap()
}

fn points_in(el: &ElementRef) -> usize {
    el.value()
        .attr("points")
        .unwrap_or("")
        .split_whitespace()
        .count()
}

/// A figure as drawn: each stated line is a polyline of its colour with its number of
/// points, each band a polygon of its colour with its number of vertices, each bar
/// group as many rects of its colour as it has bars. Returns the figure's title.
fn check_figure(fig: &ElementRef) -> String {
    let title = fig.value().attr("data-title").unwrap().to_string();
    let polylines: Vec<(String, usize)> = fig
        .select(&sel("svg polyline"))
        .map(|p| {
            (
                p.value().attr("stroke").unwrap_or("").to_string(),
                points_in(&p),
            )
        })
        .collect();
    for (color, n) in pairs(fig, "data-lines") {
        // A line's legend sample is a 2-point polyline of its colour: a 2-point line
        // must be there besides it.
        let need = if n == 2 { 2 } else { 1 };
        let found = polylines
            .iter()
            .filter(|p| **p == (color.clone(), n))
            .count();
        assert!(
            found >= need,
            "{title}: no line of colour {color} with {n} points (drawn: {polylines:?})"
        );
    }
    let polygons: Vec<(String, usize)> = fig
        .select(&sel("svg polygon"))
        .map(|p| {
            (
                p.value().attr("fill").unwrap_or("").to_string(),
                points_in(&p),
            )
        })
        .collect();
    for (color, n) in pairs(fig, "data-bands") {
        assert!(
            polygons.contains(&(color.clone(), n)),
            "{title}: no band of colour {color} with {n} vertices"
        );
    }
    for (color, n) in pairs(fig, "data-bars") {
        let drawn = fig
            .select(&sel("svg rect"))
            .filter(|r| r.value().attr("fill") == Some(color.as_str()))
            .count();
        assert_eq!(drawn, n, "{title}: bars of colour {color}");
    }
    title
}

/// Every figure of a rendered page checked; (title, figure) for further checks.
fn figures(dom: &Html) -> Vec<(String, ElementRef<'_>)> {
    let figs: Vec<_> = dom
        .select(&sel("figure.plot"))
        .map(|f| (check_figure(&f), f))
        .collect();
    assert!(!figs.is_empty(), "no plot on the page");
    figs
}

fn find<'a>(figs: &'a [(String, ElementRef<'a>)], title: &str) -> &'a ElementRef<'a> {
    &figs
        .iter()
        .find(|(t, _)| t == title)
        .unwrap_or_else(|| panic!("no figure {title:?}"))
        .1
}

fn run_to(dir: &Path, scenario: &str, extra: &[&str]) -> Value {
    let mut args = vec!["run", scenario, "--format", "json", "--out"];
    let d = dir.to_str().unwrap();
    args.push(d);
    args.extend_from_slice(extra);
    let out = kvsim(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_run_page_plots_every_series_per_second_and_every_shard() {
    let dir = scratch("run");
    // Two variants of 60 s each, one node and one client host.
    let report = run_to(&dir, "t4g-burst-depletion", &[]);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_self_contained(&html);
    let (dom, console) = render(&dir.join("report.html"), &artifact("report-run.png"));
    assert!(console.is_empty(), "the page logged: {console:#?}");
    let dom = Html::parse_document(&dom);
    let figs = figures(&dom);
    let scenario = report["scenario"]["name"].as_str().unwrap();
    for v in report["variants"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let seconds = v["timeseries"]["seconds"].as_u64().unwrap() as usize;
        assert_eq!(seconds, 60);
        let series = v["timeseries"]["series"].as_array().unwrap();
        let mut names: Vec<&str> = series.iter().map(|s| s["name"].as_str().unwrap()).collect();
        names.dedup();
        for s in &names {
            let fig = find(&figs, &format!("{scenario} / {name}: {s}"));
            let lines = pairs(fig, "data-lines");
            let nodes = series.iter().filter(|x| x["name"] == *s).count();
            assert_eq!(lines.len(), nodes, "{name} {s}");
            assert!(
                lines.iter().all(|(_, n)| *n == seconds),
                "{name} {s}: {lines:?}"
            );
        }
        let shards = v["shards"]["per_shard"].as_array().unwrap().len();
        let bars = pairs(
            find(
                &figs,
                &format!("{scenario} / {name}: share of requests per shard"),
            ),
            "data-bars",
        );
        assert_eq!(
            bars.iter().map(|b| b.1).collect::<Vec<_>>(),
            vec![shards, shards]
        );
        // The memtier totals table is on the page with the report's own figure.
        let ops = format!(
            "{:.2}",
            v["ALL STATS"]["Totals"]["Ops/sec"].as_f64().unwrap()
        );
        assert!(
            dom.select(&sel("td"))
                .any(|td| td.text().collect::<String>() == ops),
            "{name}: no cell {ops}"
        );
    }
    // The comparison across the two variants: one bar each.
    let cmp = pairs(
        find(&figs, &format!("{scenario}: throughput per variant")),
        "data-bars",
    );
    assert_eq!(cmp.len(), 1);
    assert_eq!(cmp[0].1, 2);
}

#[test]
fn a_many_shard_page_draws_a_bar_per_shard_and_at_most_twelve_lines_a_chart() {
    let dir = scratch("shards");
    std::fs::write(
        dir.join("s.ron"),
        r#"(extends: "bundled:zipf-hot-shards", duration_s: 2, warmup_s: 0)"#,
    )
    .unwrap();
    let report = run_to(&dir, dir.join("s.ron").to_str().unwrap(), &["--jobs", "1"]);
    let (dom, console) = render(&dir.join("report.html"), &artifact("report-shards.png"));
    assert!(console.is_empty(), "the page logged: {console:#?}");
    let dom = Html::parse_document(&dom);
    let figs = figures(&dom);
    let v = &report["variants"][0];
    let name = v["name"].as_str().unwrap();
    let shards = v["shards"]["per_shard"].as_array().unwrap().len();
    assert_eq!(shards, 100);
    let bars = pairs(
        find(
            &figs,
            &format!("zipf-hot-shards / {name}: share of requests per shard"),
        ),
        "data-bars",
    );
    assert_eq!(bars.iter().map(|b| b.1).collect::<Vec<_>>(), vec![100, 100]);
    let net = pairs(
        find(
            &figs,
            &format!("zipf-hot-shards / {name}: net_out_bits_per_s"),
        ),
        "data-lines",
    );
    assert_eq!(net.len(), 12, "the 12 busiest of 100 nodes");
}

#[test]
fn a_sweep_page_draws_a_curve_per_group_with_its_band() {
    let dir = scratch("sweep");
    std::fs::write(
        dir.join("sweep.ron"),
        r#"(
            base: "bundled:t4g-burst-depletion",
            seed: 3,
            replications: 3,
            parameters: [(path: "duration_s", values: [2, 3, 4])],
            metrics: ["ALL STATS.Totals.Ops/sec", "ALL STATS.Totals.Percentile Latencies.p99.00"],
        )"#,
    )
    .unwrap();
    let out_dir = dir.join("out");
    let out = kvsim(&[
        "sweep",
        dir.join("sweep.ron").to_str().unwrap(),
        "--format",
        "json",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The JSON written is the JSON printed.
    assert_eq!(
        std::fs::read(out_dir.join("report.json")).unwrap(),
        out.stdout
    );
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert_self_contained(&html);
    let (dom, console) = render(&out_dir.join("report.html"), &artifact("report-sweep.png"));
    assert!(console.is_empty(), "the page logged: {console:#?}");
    let dom = Html::parse_document(&dom);
    let figs = figures(&dom);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sweep = report["sweep"].as_str().unwrap();
    for metric in [
        "ALL STATS.Totals.Ops/sec",
        "ALL STATS.Totals.Percentile Latencies.p99.00",
    ] {
        let fig = find(&figs, &format!("{sweep}: {metric}"));
        // One curve per variant of the base (2), a point per duration (3), and a band of
        // 2 x 3 vertices under each.
        let lines = pairs(fig, "data-lines");
        assert_eq!(
            lines.iter().map(|l| l.1).collect::<Vec<_>>(),
            vec![3, 3],
            "{metric}"
        );
        let bands = pairs(fig, "data-bands");
        assert_eq!(
            bands.iter().map(|b| b.1).collect::<Vec<_>>(),
            vec![6, 6],
            "{metric}"
        );
    }
}

#[test]
fn a_diff_page_draws_a_and_b_side_by_side_for_every_row() {
    let dir = scratch("diff");
    let a = run_to(&dir.join("a"), "t4g-burst-depletion", &["--seed", "1"]);
    run_to(&dir.join("b"), "t4g-burst-depletion", &["--seed", "2"]);
    let out = kvsim(&[
        "diff",
        dir.join("a/report.json").to_str().unwrap(),
        dir.join("b/report.json").to_str().unwrap(),
        "--out",
        dir.join("d").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(dir.join("d/diff.txt")).unwrap(), out.stdout);
    let (dom, console) = render(&dir.join("d/report.html"), &artifact("report-diff.png"));
    assert!(console.is_empty(), "the page logged: {console:#?}");
    let dom = Html::parse_document(&dom);
    let figs = figures(&dom);
    let rows = a["variants"].as_array().unwrap().len();
    let bars = pairs(
        find(&figs, "ALL STATS.Totals.Ops/sec: A and B"),
        "data-bars",
    );
    assert_eq!(
        bars.iter().map(|b| b.1).collect::<Vec<_>>(),
        vec![rows, rows]
    );
    // Every default metric has its chart.
    assert_eq!(
        figs.len(),
        7,
        "{:?}",
        figs.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}

#[test]
fn the_checker_catches_a_line_short_of_its_points() {
    // The checks above could pass vacuously if a figure's statement and its drawing
    // were read from the same place; a figure that states 5 points and draws 4 fails.
    let page = r##"<figure class="plot" data-title="t" data-lines='[["#E6194B",5]]' data-bands="[]" data-bars="[]"><svg><polyline stroke="#E6194B" points="1,1 2,2 3,3 4,4"/></svg></figure>"##;
    let dom = Html::parse_document(page);
    let fig = dom.select(&sel("figure.plot")).next().unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_figure(&fig)));
    assert!(caught.is_err());
}

#[test]
fn the_readme_run_plot_is_what_kvsim_draws_today() {
    let dir = scratch("readme");
    run_to(&dir, "t4g-burst-depletion", &["--plots"]);
    let drawn =
        std::fs::read_to_string(dir.join("plots/sustained-1gbps-net_out_bits_per_s.svg")).unwrap();
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plots/t4g-burst-depletion-net-out.svg"),
    )
    .unwrap();
    assert!(
        drawn == committed,
        "the README's plot is stale: run docs/plots/regenerate.sh"
    );
}
