//! Cache-cluster models built on the `sim` kernel and `store_core`: engines, instance
//! catalog, workloads, scenario schema and reports. Nothing here reads the wall clock or
//! a terminal: a run is a pure function of scenario and seed.

pub mod catalog;
pub mod scenario;
pub mod workload;
