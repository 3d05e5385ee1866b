//! What the deployment a variant simulates costs: its server nodes (primaries and
//! replicas, those a resharding added included) at the catalog's price for the
//! cluster's instance type and engine, on the report's basis; per hour, per month
//! (730 hours, as AWS's pricing calculator counts one) and per million requests at the
//! throughput the variant served. Invariant: a cost is stated only with the price it
//! comes from (basis, region, source, date); without one, the report says why there is
//! none instead of a number. The client hosts are the load generator, not the
//! deployment, and are not priced.

use crate::catalog::PriceBasis;
use serde::Serialize;

/// Hours in a month, as AWS's pricing calculator counts them (8,760 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

#[derive(Clone, Debug, Serialize)]
pub struct CostReport {
    pub basis: PriceBasis,
    pub instance: String,
    /// Server nodes priced: primaries and replicas at the end of the run.
    pub nodes: u64,
    /// The catalog's price of one node, its region, source and date; absent when the
    /// catalog has no price for this type, engine and basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_hour_per_node: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_hour: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_month: Option<f64>,
    /// At the measured throughput (absent when nothing was served).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_million_requests: Option<f64>,
    /// Why there is no cost, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpriced: Option<String>,
}

fn round6(x: f64) -> f64 {
    libm::round(x * 1e6) / 1e6
}

/// The cost of `nodes` nodes of the variant's instance type serving `ops_per_sec`.
pub fn cost_report(
    config: &crate::scenario::resolve::RunConfig,
    nodes: u64,
    ops_per_sec: f64,
) -> CostReport {
    let basis = config.report.price_basis;
    let instance = config.cluster.instance.name.clone();
    let Some(price) = &config.report.price else {
        let engine = format!("{:?}", config.cluster.engine).to_lowercase();
        let why = if config.report.instance_modified {
            format!(
                "the scenario modifies {instance} under `instances`, so no catalog price is for it"
            )
        } else {
            format!(
                "the catalog has no {} price for {instance} running {engine} (see `kvsim catalog`; report: (price_basis: ...) chooses the basis)",
                basis.describe()
            )
        };
        return CostReport {
            basis,
            unpriced: Some(why),
            instance,
            nodes,
            usd_per_hour_per_node: None,
            region: None,
            source: None,
            date: None,
            usd_per_hour: None,
            usd_per_month: None,
            usd_per_million_requests: None,
        };
    };
    let per_hour = price.usd_per_hour * nodes as f64;
    let per_million = (ops_per_sec > 0.0).then(|| round6(per_hour / (ops_per_sec * 3600.0) * 1e6));
    CostReport {
        basis,
        instance,
        nodes,
        usd_per_hour_per_node: Some(price.usd_per_hour),
        region: Some(price.region.clone()),
        source: Some(price.source.clone()),
        date: Some(price.date.clone()),
        usd_per_hour: Some(round6(per_hour)),
        usd_per_month: Some(round6(per_hour * HOURS_PER_MONTH)),
        usd_per_million_requests: per_million,
        unpriced: None,
    }
}

/// The text report's lines: the cost, then where the price comes from.
pub fn describe(c: &CostReport) -> String {
    match (c.usd_per_hour, c.usd_per_hour_per_node) {
        (Some(hour), Some(each)) => format!(
            "{} x {} at ${each:.4}/h ({}, {}) = ${hour:.4}/h, ${:.2}/month, {}\n  price: {} (read {})",
            c.nodes,
            c.instance,
            c.basis.describe(),
            c.region.as_deref().unwrap_or("-"),
            c.usd_per_month.unwrap_or(0.0),
            c.usd_per_million_requests
                .map_or("no requests served".to_string(), |m| format!(
                    "${m:.6} per million requests served"
                )),
            c.source.as_deref().unwrap_or("-"),
            c.date.as_deref().unwrap_or("-"),
        ),
        _ => format!(
            "{} x {}: no cost: {}",
            c.nodes,
            c.instance,
            c.unpriced.as_deref().unwrap_or("no price")
        ),
    }
}
