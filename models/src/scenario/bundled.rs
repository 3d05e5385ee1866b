//! The scenarios shipped in `scenarios/`, embedded in the binary so `kvsim list` and
//! `kvsim run` without a file work from any directory. Invariant (tested): every entry
//! loads, and the list holds exactly the `.ron` files of `scenarios/`, in name order.

use super::{load_source, Scenario, ScenarioError};
use crate::catalog::Catalog;

/// Loads bundled file `file` (its `extends` resolve among the bundled ones).
fn load_bundled(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    load_source(
        text,
        super::extends::Source::Bundled(file.to_string()),
        &Catalog::builtin(),
    )
}

/// (file name, text), sorted by file name.
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "engine-thread-scaling.ron",
        include_str!("../../../scenarios/engine-thread-scaling.ron"),
    ),
    (
        "failover.ron",
        include_str!("../../../scenarios/failover.ron"),
    ),
    (
        "gossip-overhead.ron",
        include_str!("../../../scenarios/gossip-overhead.ron"),
    ),
    (
        "lab-tbf-100mbit.ron",
        include_str!("../../../scenarios/lab-tbf-100mbit.ron"),
    ),
    (
        "m6g-25kb-get.ron",
        include_str!("../../../scenarios/m6g-25kb-get.ron"),
    ),
    (
        "noisy-neighbours.ron",
        include_str!("../../../scenarios/noisy-neighbours.ron"),
    ),
    (
        "partition-one-shard.ron",
        include_str!("../../../scenarios/partition-one-shard.ron"),
    ),
    (
        "r7g-family.ron",
        include_str!("../../../scenarios/r7g-family.ron"),
    ),
    (
        "replication-backlog.ron",
        include_str!("../../../scenarios/replication-backlog.ron"),
    ),
    (
        "scale-out-event.ron",
        include_str!("../../../scenarios/scale-out-event.ron"),
    ),
    (
        "scale-up-vs-scale-out.ron",
        include_str!("../../../scenarios/scale-up-vs-scale-out.ron"),
    ),
    (
        "t4g-burst-depletion.ron",
        include_str!("../../../scenarios/t4g-burst-depletion.ron"),
    ),
    (
        "zipf-hot-shards.ron",
        include_str!("../../../scenarios/zipf-hot-shards.ron"),
    ),
];

/// The experiment a newcomer's first `kvsim run` shows.
pub const DEFAULT_SCENARIO: &str = "m6g-25kb-get";

/// Every bundled scenario, loaded, in file-name order.
pub fn all() -> Vec<(&'static str, Result<Scenario, ScenarioError>)> {
    BUNDLED
        .iter()
        .map(|(file, text)| (*file, load_bundled(file, text)))
        .collect()
}

/// A bundled scenario by its name (`m6g-25kb-get`) or file name (`m6g-25kb-get.ron`).
pub fn find(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    let file = if name.ends_with(".ron") {
        name.to_string()
    } else {
        format!("{name}.ron")
    };
    BUNDLED
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(f, text)| load_bundled(f, text))
}

/// The default experiment.
pub fn default_scenario() -> Result<Scenario, ScenarioError> {
    find(DEFAULT_SCENARIO).unwrap_or_else(|| {
        Err(ScenarioError::Invalid {
            origin: "bundled".into(),
            path: DEFAULT_SCENARIO.into(),
            message: "missing from the bundled list".into(),
            position: None,
        })
    })
}
