//! The resharding section of a report: each step of the timeline (shards added, slots
//! moved) with when it was due, started and ended, the slots, keys and bytes it
//! moved, and its migration rate. Invariant: every figure is the run's own count from
//! its `ReshardResult`; a step still running at the end of the run has no end and no
//! duration, and says so.

use super::{round3, round6};
use crate::world::results::RunResult;
use serde::Serialize;

/// One step, in seconds from the start of the run.
#[derive(Clone, Debug, Serialize)]
pub struct ReshardStepReport {
    /// `add_shards` or `reshard`.
    pub kind: String,
    /// The primary receiving the slots, or those added (`redis-6, redis-7`).
    pub node: String,
    pub due_s: f64,
    pub started_s: f64,
    /// None: still running when the run ended.
    pub ended_s: Option<f64>,
    pub duration_s: Option<f64>,
    /// Slots in redis-cli's table (it can hold a few fewer than asked) and moved.
    pub slots_planned: u64,
    pub slots_moved: u64,
    pub keys_moved: u64,
    /// DUMP payloads in their RESTORE-ASKING commands, source to target.
    pub migrated_bytes: u64,
    pub migrate_calls: u64,
    /// Migrated bytes over the step's duration (so far, for a step still running).
    pub migrated_bytes_per_s: f64,
    /// Each slot moved, in order: the primary it left, its first command and the last
    /// primary told its new owner (s), and its keys.
    pub slots: Vec<SlotMoveReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SlotMoveReport {
    pub slot: u16,
    pub from: String,
    pub started_s: f64,
    pub ended_s: f64,
    pub keys: u64,
}

/// The resharding timeline.
#[derive(Clone, Debug, Serialize)]
pub struct ReshardReport {
    pub steps: Vec<ReshardStepReport>,
    pub migrated_bytes: u64,
    pub keys_moved: u64,
    pub slots_moved: u64,
    /// When a resharding flow was reset and redis-cli gave up, leaving a slot open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aborted_s: Option<f64>,
}

pub fn reshard_report(result: &RunResult) -> Option<ReshardReport> {
    let r = result.resharding.as_ref()?;
    let s = |ns: u64| round3(ns as f64 / 1e9);
    let steps: Vec<ReshardStepReport> = r
        .steps
        .iter()
        .map(|x| {
            let until = x.ended_ns.unwrap_or(result.end_ns);
            let span_ns = until.saturating_sub(x.started_ns);
            ReshardStepReport {
                kind: x.kind.clone(),
                node: x.node.clone(),
                due_s: s(x.due_ns),
                started_s: s(x.started_ns),
                ended_s: x.ended_ns.map(s),
                duration_s: x.ended_ns.map(|e| s(e - x.started_ns)),
                slots_planned: x.slots_planned,
                slots_moved: x.slots_moved,
                keys_moved: x.keys_moved,
                migrated_bytes: x.migrated_bytes,
                migrate_calls: x.migrate_calls,
                migrated_bytes_per_s: if span_ns == 0 {
                    0.0
                } else {
                    round3(x.migrated_bytes as f64 * 1e9 / span_ns as f64)
                },
                slots: x
                    .slots
                    .iter()
                    .map(|m| SlotMoveReport {
                        slot: m.slot,
                        from: m.from.clone(),
                        started_s: round6(m.started_ns as f64 / 1e9),
                        ended_s: round6(m.ended_ns as f64 / 1e9),
                        keys: m.keys,
                    })
                    .collect(),
            }
        })
        .collect();
    Some(ReshardReport {
        migrated_bytes: steps.iter().map(|x| x.migrated_bytes).sum(),
        keys_moved: steps.iter().map(|x| x.keys_moved).sum(),
        slots_moved: steps.iter().map(|x| x.slots_moved).sum(),
        steps,
        aborted_s: r.aborted_at_ns.map(s),
    })
}
