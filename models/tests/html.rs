//! The HTML report as a function of the report: the same report gives the same bytes,
//! text from the scenario (names, descriptions) is escaped so it cannot become markup,
//! and each variant brings its totals, its findings and a plot per series.

use models::report::html::run_html;
use models::run::run_scenario;
use models::scenario::load_str;

const SCENARIO: &str = r#"(
    name: "html <b>&\"check\"",
    description: "A <script>alert(1)</script> description & more",
    seed: 7,
    duration_s: 2,
    warmup_s: 0,
    cluster: (engine: redis, mode: standalone, instance: "cache.r7g.large"),
    clients: (instance: "c7gn.16xlarge", workload: (ratio: "1:1", data_size: 100, clients: 4)),
    variants: [(name: "v<1>")],
)"#;

#[test]
fn the_page_is_deterministic_and_escapes_scenario_text() {
    let scenario = load_str(SCENARIO, "html.ron").expect("a valid scenario");
    let report = run_scenario(&scenario, None, 1, &|_| {}).expect("it runs");
    let page = run_html(&report).expect("it renders");
    let again = run_html(&run_scenario(&scenario, None, 2, &|_| {}).unwrap()).unwrap();
    assert_eq!(page, again, "same scenario and seed, same page");
    assert!(!page.contains("<script"), "the description became markup");
    assert!(page.contains("A &lt;script&gt;alert(1)&lt;/script&gt; description &amp; more"));
    assert!(page.contains("<h1>kvsim: html &lt;b&gt;&amp;\"check\"</h1>"));
    assert!(page.contains("Variant v&lt;1&gt;"));
    // In attributes, quotes are escaped too.
    assert!(page
        .contains("data-title=\"html &lt;b&gt;&amp;&quot;check&quot; / v&lt;1&gt;: ops_per_s\""));
    assert!(page.contains("<h3>Findings</h3>"));
    let v = &report.variants[0];
    let mut names: Vec<&str> = v
        .timeseries
        .series
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    names.dedup();
    let figures = page.matches("<figure class=\"plot\"").count();
    // A figure per series name, and the per-shard bars.
    assert_eq!(figures, names.len() + 1);
}

#[test]
fn the_page_shows_only_the_sections_the_report_settings_ask_for() {
    let text = SCENARIO.replace(
        "variants: [",
        "report: (sections: [totals]),\n    variants: [",
    );
    let scenario = load_str(&text, "html.ron").expect("a valid scenario");
    let page = run_html(&run_scenario(&scenario, None, 1, &|_| {}).unwrap()).unwrap();
    assert!(page.contains("<th>Ops/sec</th>"), "the totals table");
    assert!(!page.contains("<h3>Findings</h3>"));
    assert!(
        !page.contains("<figure"),
        "no plots without the timeseries section"
    );
    assert!(page.contains("<h3>Cost</h3>"));
}

/// With several variants, the page compares them, and says how near its capacity each
/// ran: its busiest node's CPU and NIC and the resource that would bind first, as the
/// text report's headroom table does.
#[test]
fn several_variants_are_compared_with_their_headroom() {
    let text = SCENARIO.replace(
        r#"variants: [(name: "v<1>")],"#,
        r#"variants: [(name: "one"), (name: "io", patch: (cluster: (engine: valkey, node: (io_threads: 2))))],"#,
    );
    let scenario = load_str(&text, "html2.ron").expect("a valid scenario");
    let report = run_scenario(&scenario, None, 1, &|_| {}).expect("it runs");
    let page = run_html(&report).expect("it renders");
    assert!(page.contains("<h2>Comparison across variants</h2>"));
    assert!(page.contains("<th>First to bind (most utilized resource)</th>"));
    for c in &report.comparison {
        let h = c.headroom.as_ref().expect("headroom");
        assert!(
            page.contains(&format!("{} at ", h.first_to_bind)),
            "{}",
            h.first_to_bind
        );
    }
}
