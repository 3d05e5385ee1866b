//! Cost in the report: the deployment's server nodes (primaries and replicas) at the
//! catalog's price for the cluster's type, engine and basis; per hour, per 730-hour
//! month and per million requests at the throughput served. A type or basis the
//! catalog does not price gets no figure and a reason, never a guessed one.

use models::catalog::PriceBasis;
use models::run::run_scenario;
use models::scenario::load_str;

fn report(engine: &str, basis: &str, instance: &str) -> models::report::Report {
    let text = format!(
        r#"(
            name: "cost", description: "cost check", seed: 1, duration_s: 2, warmup_s: 1,
            cluster: (engine: {engine}, mode: cluster, shards: 2, replicas_per_shard: 1, instance: "{instance}"),
            clients: (instance: "c7gn.16xlarge", workload: (ratio: "1:10", data_size: 100, clients: 4)),
            {basis}
        )"#
    );
    let scenario = load_str(&text, "cost.ron").expect("a valid scenario");
    run_scenario(&scenario, None, 1, &|_| {}).expect("it runs")
}

#[test]
fn four_redis_nodes_on_demand_cost_four_times_the_redis_price() {
    let r = report("redis", "", "cache.r7g.large");
    let v = &r.variants[0];
    let c = &v.cost;
    assert_eq!(c.basis, PriceBasis::OnDemand);
    assert_eq!(c.nodes, 4, "2 primaries and their replicas");
    assert_eq!(v.nodes.len(), 4);
    let each = c.usd_per_hour_per_node.expect("priced");
    assert!(
        (each - 0.219).abs() < 1e-6,
        "Redis OSS is the Valkey price / 0.8: {each}"
    );
    let hour = c.usd_per_hour.unwrap();
    assert!((hour - 4.0 * each).abs() < 1e-6);
    assert!((c.usd_per_month.unwrap() - hour * 730.0).abs() < 1e-3);
    let ops = v.all_stats.totals.ops_per_sec;
    assert!(ops > 0.0);
    let per_million = c.usd_per_million_requests.unwrap();
    assert!(
        (per_million - hour / (ops * 3600.0) * 1e6).abs() < 1e-6,
        "{per_million}"
    );
    assert_eq!(c.region.as_deref(), Some("us-east-1"));
    assert!(r
        .to_text()
        .contains("cost: 4 x cache.r7g.large at $0.2190/h (on-demand, us-east-1)"));
    assert_eq!(r.comparison[0].usd_per_hour, c.usd_per_hour);
}

#[test]
fn valkey_is_cheaper_and_an_unpriced_basis_says_so() {
    let valkey = report("valkey", "", "cache.r7g.large");
    let each = valkey.variants[0].cost.usd_per_hour_per_node.unwrap();
    assert!((each - 0.1752).abs() < 1e-4, "{each}");
    let reserved = report(
        "valkey",
        "report: (price_basis: reserved_3yr),",
        "cache.r7g.large",
    );
    let each = reserved.variants[0].cost.usd_per_hour_per_node.unwrap();
    assert!((each - 690.64 / 8760.0).abs() < 1e-6, "{each}");
    // Redis OSS reserved: Valkey's / 0.8, as on demand.
    let redis_reserved = report(
        "redis",
        "report: (price_basis: reserved_3yr),",
        "cache.r7g.large",
    );
    let each = redis_reserved.variants[0]
        .cost
        .usd_per_hour_per_node
        .unwrap();
    assert!((each * 0.8 - 690.64 / 8760.0).abs() < 1e-6, "{each}");
    // No price at all for t4g, none on demand for an EC2 type: a reason, no figure.
    for (engine, basis, instance) in [
        ("redis", "", "cache.t4g.small"),
        ("redis", "", "c7g.16xlarge"),
    ] {
        let r = report(engine, basis, instance);
        let c = &r.variants[0].cost;
        assert!(c.usd_per_hour.is_none() && c.usd_per_million_requests.is_none());
        let why = c.unpriced.as_deref().unwrap();
        assert!(
            why.contains("the catalog has no") && why.contains(instance),
            "{why}"
        );
        assert!(r.to_text().contains("no cost: the catalog has no"));
    }
}

#[test]
fn a_type_the_scenario_modifies_is_not_priced() {
    let r = report(
        "redis",
        r#"instances: {"cache.r7g.large": (vcpu: 4, source: "a test's own machine")},"#,
        "cache.r7g.large",
    );
    let c = &r.variants[0].cost;
    assert!(c.usd_per_hour.is_none());
    let why = c.unpriced.as_deref().unwrap();
    assert!(why.contains("modifies cache.r7g.large"), "{why}");
}
