//! `report: (timeseries: [...])` chooses the per-second series a report holds (JSON,
//! CSV, plots): exactly the kinds listed, every kind by default, and every series the
//! report can hold belongs to a kind.

use models::run::run_scenario;
use models::scenario::load_str;
use models::scenario::spec::TimeSeriesKind;

fn series_names(timeseries: &str) -> Vec<String> {
    series_names_of("mode: standalone", timeseries)
}

fn series_names_of(cluster: &str, timeseries: &str) -> Vec<String> {
    let text = format!(
        r#"(
            name: "series", description: "series choice", seed: 1, duration_s: 2, warmup_s: 0,
            cluster: (engine: redis, {cluster}, instance: "cache.r7g.large"),
            clients: (instance: "c7gn.16xlarge", workload: (ratio: "1:1", data_size: 100, clients: 4)),
            {timeseries}
        )"#
    );
    let scenario = load_str(&text, "series.ron").expect("a valid scenario");
    let report = run_scenario(&scenario, None, 1, &|_| {}).expect("it runs");
    let mut names: Vec<String> = report.variants[0]
        .timeseries
        .series
        .iter()
        .map(|s| s.name.clone())
        .collect();
    names.dedup();
    names
}

#[test]
fn only_the_listed_kinds_are_reported_and_all_by_default() {
    let all = series_names("");
    for name in &all {
        assert!(
            TimeSeriesKind::of_series(name).is_some(),
            "{name} has no kind"
        );
    }
    for must in [
        "ops_per_s",
        "latency_ms_p99",
        "net_out_bits_per_s",
        "net_credits_bits",
        "used_memory_bytes",
        "drops_per_s",
    ] {
        assert!(
            all.iter().any(|n| n == must),
            "{must} missing by default: {all:?}"
        );
    }
    assert_eq!(
        series_names("report: (timeseries: [net_credits, ops]),"),
        vec!["ops_per_s", "net_credits_bits", "net_credits_in_bits"]
    );
    let cpu = series_names("report: (timeseries: [cpu_utilization]),");
    assert!(
        !cpu.is_empty() && cpu.iter().all(|n| n.starts_with("cpu_")),
        "{cpu:?}"
    );
}

#[test]
fn a_replicated_cluster_s_series_all_have_kinds_and_filter_by_them() {
    let cluster = "mode: cluster, shards: 2, replicas_per_shard: 1";
    let all = series_names_of(cluster, "");
    assert!(all.iter().any(|n| n.starts_with("replication_")), "{all:?}");
    assert!(all.iter().any(|n| n.starts_with("bus_")), "{all:?}");
    for name in &all {
        assert!(
            TimeSeriesKind::of_series(name).is_some(),
            "{name} has no kind"
        );
    }
    let repl = series_names_of(cluster, "report: (timeseries: [replication]),");
    assert!(
        !repl.is_empty() && repl.iter().all(|n| n.starts_with("replication_")),
        "{repl:?}"
    );
}
