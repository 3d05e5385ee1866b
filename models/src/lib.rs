//! Cache-cluster models built on the `sim` kernel and `store_core`: engines, instance
//! catalog, workloads, scenario schema, the simulated world and its reports. Nothing
//! here reads the wall clock or a terminal: a run is a pure function of scenario and
//! seed.

pub mod catalog;
pub mod client_cpu;
pub mod diff;
pub mod engine;
pub mod estimate;
pub mod placement;
pub mod report;
pub mod run;
pub mod scenario;
pub mod search;
pub mod sweep;
pub mod units;
pub mod workload;
pub mod world;

/// Pretty JSON, newline-terminated: how every kvsim result prints (reports, sweeps,
/// comparisons).
pub(crate) fn pretty_json<T: serde::Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("invariant: kvsim's results serialize");
    s.push('\n');
    s
}
