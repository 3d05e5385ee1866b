//! The resharding timeline, resolved: each step's start in nanoseconds, shards added
//! with their indices, and each `reshard` with its target and source shards by index,
//! checked against the slots every primary owns at that point of the plan (each step
//! assumed complete before the next, as they run one after another). Invariant: a
//! resolved timeline is sorted by start, names only primaries that exist when its step
//! starts, moves at least one slot per `reshard`, and never more than its sources own;
//! [`reshard_table`] is the one place that chooses which slots move, for this check and
//! for the world that moves them.

use super::{fe, ClusterConfig, NS_PER_MS, NS_PER_S};
use crate::placement::slot_owners;
use crate::scenario::error::FieldError;
use crate::scenario::spec::{ClusterMode, Placement, ReshardActionSpec};
use serde::{Deserialize, Serialize};
use store_core::slots::SLOT_COUNT;

/// Defaults of `redis-cli --cluster reshard` (redis-cli.c in 7.0.15).
pub mod defaults {
    /// CLUSTER_MANAGER_MIGRATE_PIPELINE: keys per MIGRATE.
    pub const PIPELINE: u32 = 10;
    /// More keys per MIGRATE than this would block a source for seconds; refused.
    pub const MAX_PIPELINE: u32 = 100_000;
    /// Steps in one scenario.
    pub const MAX_STEPS: usize = 1_000;
}

/// One step of the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshardStep {
    /// When it is due; it starts then or when the step before it ends, the later.
    pub at_ns: u64,
    pub kind: ReshardKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReshardKind {
    /// Shards `first_shard` to `first_shard + count - 1` join the cluster.
    AddShards { first_shard: u32, count: u32 },
    /// `redis-cli --cluster reshard`: `slots` slots to shard `to`'s primary from the
    /// primaries of shards `from` (ascending).
    Move {
        to: u32,
        from: Vec<u32>,
        slots: u32,
        pipeline: u32,
    },
}

/// The timeline, empty without resharding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshardConfig {
    pub steps: Vec<ReshardStep>,
}

impl ReshardConfig {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Shards the steps add.
    pub fn added_shards(&self) -> u32 {
        self.steps
            .iter()
            .map(|s| match s.kind {
                ReshardKind::AddShards { count, .. } => count,
                ReshardKind::Move { .. } => 0,
            })
            .sum()
    }
}

/// `clusterManagerComputeReshardTable`: the (slot, source shard) pairs moving `slots`
/// slots to another primary from `sources`, given every slot's owning shard
/// (`owners[slot]`). Sources are taken by slot count, largest first (ties in the
/// order given: Redis's qsort leaves them in `CLUSTER NODES` order, which ours
/// stands for); each gives its lowest slots, the first ceil(slots x its share) of
/// them, the others floor of it, computed in `f32` as redis-cli does, so the table
/// can hold a few slots fewer than asked.
pub fn reshard_table(owners: &[u32], sources: &[u32], slots: u32) -> Vec<(u16, u32)> {
    let count = |shard: u32| owners.iter().filter(|&&o| o == shard).count() as u32;
    let mut sorted: Vec<(u32, u32)> = sources.iter().map(|&s| (s, count(s))).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.1));
    let total: u32 = sorted.iter().map(|s| s.1).sum();
    let mut moved = Vec::new();
    if total == 0 {
        return moved;
    }
    for (i, &(shard, owned)) in sorted.iter().enumerate() {
        let n = slots as f32 / total as f32 * owned as f32;
        let max = if i == 0 { n.ceil() } else { n.floor() } as usize;
        let own = owners.iter().enumerate().filter(|(_, &o)| o == shard);
        for (taken, (slot, _)) in own.enumerate() {
            if taken >= max || moved.len() >= slots as usize {
                break;
            }
            moved.push((slot as u16, shard));
        }
    }
    moved
}

/// Resolves `resharding` for `cluster` (whose `shards` are those at the start).
pub(super) fn resolve_resharding(
    list: &[ReshardActionSpec],
    duration_ns: u64,
    cluster: &ClusterConfig,
) -> Result<ReshardConfig, FieldError> {
    if list.is_empty() {
        return Ok(ReshardConfig::default());
    }
    if cluster.mode != ClusterMode::Cluster || cluster.placement != Placement::Crc16 {
        return Err(fe(
            "resharding",
            "resharding needs a Redis Cluster: cluster.mode: cluster with crc16 placement",
        ));
    }
    if list.len() > defaults::MAX_STEPS {
        return Err(fe(
            "resharding",
            format!(
                "expected at most {} steps, got {}",
                defaults::MAX_STEPS,
                list.len()
            ),
        ));
    }
    let mut order: Vec<(u64, usize)> = Vec::new();
    for (i, a) in list.iter().enumerate() {
        order.push((at_ns(a, &format!("resharding[{i}]"), duration_ns)?, i));
    }
    order.sort();
    let mut shards = cluster.shards;
    let mut owners: Vec<u32> = slot_owners(shards).into_iter().map(u32::from).collect();
    let mut steps = Vec::new();
    for (at_ns, i) in order {
        let a = &list[i];
        let path = format!("resharding[{i}]");
        let kind = match (a.add_shards, &a.reshard) {
            (Some(count), None) => {
                if count == 0 || shards + count > 1_000 {
                    return Err(fe(
                        &format!("{path}.add_shards"),
                        format!(
                            "expected 1 to {} shards (at most 1,000 in all; {shards} by then), \
                             got {count}",
                            1_000 - shards.min(1_000)
                        ),
                    ));
                }
                let first_shard = shards;
                shards += count;
                ReshardKind::AddShards { first_shard, count }
            }
            (None, Some(r)) => {
                let p = format!("{path}.reshard");
                let primary = |name: &str, field: &str| {
                    (0..shards)
                        .find(|&s| super::topology::node_name(cluster.engine, s) == name)
                        .ok_or_else(|| {
                            fe(
                                &format!("{p}.{field}"),
                                format!(
                                    "unknown primary {name:?}; expected one of {} to {} \
                                     (the primaries by then: shards added earlier included)",
                                    super::topology::node_name(cluster.engine, 0),
                                    super::topology::node_name(cluster.engine, shards - 1)
                                ),
                            )
                        })
                };
                let to = primary(&r.to, "to")?;
                let from = match &r.from {
                    None => (0..shards)
                        .filter(|&s| s != to && owners.contains(&s))
                        .collect(),
                    Some(names) if names.is_empty() => {
                        return Err(fe(
                            &format!("{p}.from"),
                            "expected at least one primary (leave it out for all)",
                        ))
                    }
                    Some(names) => {
                        let mut from = Vec::new();
                        for (k, name) in names.iter().enumerate() {
                            let s = primary(name, &format!("from[{k}]"))?;
                            if s == to || from.contains(&s) {
                                return Err(fe(
                                    &format!("{p}.from[{k}]"),
                                    format!(
                                        "{name:?} is {}; expected each source once, not \
                                         the target",
                                        if s == to {
                                            "the target"
                                        } else {
                                            "listed twice"
                                        }
                                    ),
                                ));
                            }
                            from.push(s);
                        }
                        from.sort_unstable();
                        from
                    }
                };
                let owned = owners.iter().filter(|o| from.contains(o)).count() as u32;
                if r.slots == 0 || r.slots > owned {
                    return Err(fe(
                        &format!("{p}.slots"),
                        format!(
                            "expected 1 to {owned} slots (what the sources own by then), \
                             got {}",
                            r.slots
                        ),
                    ));
                }
                let pipeline = r.pipeline.unwrap_or(defaults::PIPELINE);
                if pipeline == 0 || pipeline > defaults::MAX_PIPELINE {
                    return Err(fe(
                        &format!("{p}.pipeline"),
                        format!(
                            "expected 1 to {} keys per MIGRATE, got {pipeline}",
                            defaults::MAX_PIPELINE
                        ),
                    ));
                }
                for (slot, _) in reshard_table(&owners, &from, r.slots) {
                    owners[usize::from(slot)] = to;
                }
                ReshardKind::Move {
                    to,
                    from,
                    slots: r.slots,
                    pipeline,
                }
            }
            _ => return Err(fe(&path, "expected exactly one of add_shards or reshard")),
        };
        steps.push(ReshardStep { at_ns, kind });
    }
    debug_assert_eq!(owners.len(), SLOT_COUNT);
    Ok(ReshardConfig { steps })
}

fn at_ns(a: &ReshardActionSpec, path: &str, duration_ns: u64) -> Result<u64, FieldError> {
    let (at, field) = match (a.at_s, a.at_ms) {
        (Some(_), Some(_)) => {
            return Err(fe(
                &format!("{path}.at_ms"),
                "at_s and at_ms say the same thing; set one",
            ))
        }
        (Some(s), None) => (s.saturating_mul(NS_PER_S), "at_s"),
        (None, Some(ms)) => (ms.saturating_mul(NS_PER_MS), "at_ms"),
        (None, None) => {
            return Err(fe(
                &format!("{path}.at_s"),
                "required: when the step is due, as at_s or at_ms",
            ))
        }
    };
    if at >= duration_ns {
        return Err(fe(
            &format!("{path}.{field}"),
            format!(
                "expected a time before the end of the run ({} ms), got {} ms",
                duration_ns / NS_PER_MS,
                at / NS_PER_MS
            ),
        ));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 6 shards as `--cluster create` splits them, 2,048 slots to a seventh from all:
    /// the first of the largest sources gives ceil of its share, the rest floor, each
    /// its lowest slots, so redis-cli moves a few fewer than 2,048.
    #[test]
    fn the_table_takes_each_source_lowest_slots_in_proportion() {
        let owners: Vec<u32> = slot_owners(6).into_iter().map(u32::from).collect();
        let counts: Vec<usize> = (0..6)
            .map(|s| owners.iter().filter(|&&o| o == s).count())
            .collect();
        let table = reshard_table(&owners, &[0, 1, 2, 3, 4, 5], 2048);
        let largest = *counts.iter().max().unwrap();
        let first = counts.iter().position(|&c| c == largest).unwrap() as u32;
        // ceil for the first source, floor for the others: a few short of 2,048.
        let expected: usize = counts
            .iter()
            .enumerate()
            .map(|(s, &c)| {
                let n = 2048f32 / 16384f32 * c as f32;
                (if s as u32 == first {
                    n.ceil()
                } else {
                    n.floor()
                }) as usize
            })
            .sum();
        assert_eq!(table.len(), expected);
        assert!(expected < 2048, "{expected}");
        assert_eq!(table[0].1, first);
        for s in 0..6u32 {
            let lowest = owners.iter().position(|&o| o == s).unwrap() as u16;
            let given: Vec<u16> = table.iter().filter(|m| m.1 == s).map(|m| m.0).collect();
            assert_eq!(given[0], lowest, "shard {s} gives its lowest slots");
            assert!(given.windows(2).all(|w| w[1] == w[0] + 1));
        }
    }

    #[test]
    fn no_source_slots_no_table() {
        assert!(reshard_table(&[0; SLOT_COUNT], &[1], 10).is_empty());
    }
}
