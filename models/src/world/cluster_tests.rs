//! Tests of clients following a cluster whose slot ownership changes mid-run: a test
//! changes nodes' slot tables between two stretches of a run (as the cluster bus and
//! resharding will), and the clients must follow MOVED and ASK as cluster clients do.
//! Invariant checked throughout: every request sent is answered once, failed, reset or
//! still in flight.

use super::cluster::{SlotMap, NO_NODE};
use super::{Ev, RunResult, World};
use crate::scenario::load_str;
use crate::scenario::resolve::RunConfig;
use crate::workload::generator::format_key;
use proptest::prelude::*;
use sim::{RunLimit, Scheduler, SimTime};
use store_core::{key_hash_slot, Arg, NodeRef, SlotState};

/// `shards` shards, 4 clients of pipeline `pipeline`, reads and writes over 2,000 keys
/// for `duration_ms`.
fn config(shards: u32, pipeline: u32, duration_ms: u64) -> RunConfig {
    config_with(shards, pipeline, duration_ms, "")
}

/// [`config`], with `clients.cluster` settings `cluster` (RON fields).
fn config_with(shards: u32, pipeline: u32, duration_ms: u64, cluster: &str) -> RunConfig {
    config_text(shards, 0, "1:4", pipeline, duration_ms, cluster)
}

fn config_text(
    shards: u32,
    replicas: u32,
    ratio: &str,
    pipeline: u32,
    duration_ms: u64,
    cluster: &str,
) -> RunConfig {
    let text = format!(
        r#"(
        name: "moves", description: "ownership moves", seed: 11, duration_ms: {duration_ms},
        cluster: (engine: redis, mode: cluster, shards: {shards}, replicas_per_shard: {replicas},
                  instance: "cache.r7g.large"),
        clients: (workload: (ratio: "{ratio}", key_maximum: 2000, data_size: 100,
                             clients: 4, threads: 1, pipeline: {pipeline}),
                  cluster: ({cluster})),
    )"#
    );
    let scenario = load_str(&text, "moves.ron").expect("the test scenario loads");
    scenario.resolved_variants()[0].config.clone()
}

/// A change of the cluster made at some time: what each named node's table says of
/// some slots from then on.
#[derive(Clone, Debug)]
struct Change {
    at_ms: u64,
    /// (node, slot, its new state in that node's view).
    states: Vec<(u32, u16, SlotState)>,
    /// Keys (by index) deleted from a node then: (node, key index).
    deletes: Vec<(u32, u64)>,
    /// Replicas promoted then (they stop serving their primary's slots as replicas).
    promote: Vec<u32>,
    /// Nodes that stop answering then (their threads run nothing more).
    stop: Vec<u32>,
}

/// What a test looks at in a world before its results are taken.
struct Seen {
    maps: Vec<SlotMap>,
    start_owners: std::sync::Arc<Vec<u16>>,
    replies: Vec<(u32, u64)>,
    answered_by_non_owner: u64,
}

/// Runs `config`, making `changes` (in time order) between stretches of the run.
fn run_with(config: &RunConfig, changes: &[Change]) -> (Seen, RunResult) {
    let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
    let mut world = World::build(config, &mut sched).expect("the world builds");
    for change in changes {
        sched.run(&mut world, RunLimit::Until(SimTime::from_ms(change.at_ms)));
        check(&world);
        apply(&mut world, change);
    }
    world.run(&mut sched);
    check(&world);
    let seen = Seen {
        maps: world
            .clients
            .clients
            .iter()
            .map(|c| c.map.clone().expect("a map"))
            .collect(),
        start_owners: world.cluster.view.as_ref().expect("a view").owners.clone(),
        replies: world.replies_seen.clone(),
        answered_by_non_owner: world.engine.answered_by_non_owner,
    };
    (seen, world.finish(sched.events_run()))
}

/// The world's instant invariants (a request in exactly one place, the clients'
/// accounts agree with the request table, the NICs' books balance).
fn check(world: &World) {
    if let Err(e) = super::invariants::check_instant(world) {
        panic!("{e}");
    }
}

fn apply(world: &mut World, change: &Change) {
    for &node in &change.stop {
        world.nodes.nodes[node as usize].down = true;
    }
    for &node in &change.promote {
        world.nodes.nodes[node as usize]
            .db
            .only_mut()
            .set_cluster_replica_of(None);
    }
    for &(node, slot, state) in &change.states {
        world.nodes.nodes[node as usize]
            .db
            .set_slot_state(slot, state);
    }
    let mut key = Vec::new();
    let mut session = store_core::Session::new(u64::MAX);
    for &(node, index) in &change.deletes {
        format_key(&world.clients.key_prefix, index, &mut key);
        let n = &mut world.nodes.nodes[node as usize];
        n.execute(&mut session, &[Arg::Bytes(b"DEL"), Arg::Bytes(&key)], 0);
    }
}

/// Slots `from..to` of node `a` handed to node `b`, in both nodes' views.
fn hand_over(at_ms: u64, slots: std::ops::Range<u16>, a: u32, b: u32) -> Change {
    let mut states = Vec::new();
    for slot in slots {
        states.push((a, slot, SlotState::Elsewhere(NodeRef(b as u16))));
        states.push((b, slot, SlotState::Owned));
    }
    Change {
        at_ms,
        states,
        deletes: Vec::new(),
        promote: Vec::new(),
        stop: Vec::new(),
    }
}

/// Every request sent is completed, failed, or in flight at the end.
fn assert_accounted(r: &RunResult) {
    let failed = r.cluster_clients.as_ref().map_or(0, |c| c.total.failed);
    let reset = r.faults.as_ref().map_or(0, |f| f.requests_reset);
    assert_eq!(
        r.simulation.requests_completed_total + failed + reset + r.simulation.requests_in_flight,
        r.simulation.requests_sent,
        "every request is answered, failed, reset or in flight"
    );
}

/// Slots 0..1000 (shard 0's) move to node 1 at 20 ms: each client is told MOVED once,
/// refreshes its map from node 1, and sends every later request of those slots
/// straight to node 1.
#[test]
fn a_moved_slot_range_costs_each_client_one_redirection() {
    let config = config(2, 1, 200);
    let (seen, result) = run_with(&config, &[hand_over(20, 0..1000, 0, 1)]);
    let counts = result
        .cluster_clients
        .as_ref()
        .expect("clients were redirected");
    assert_eq!(
        counts.by_client.len(),
        4,
        "every client hit the moved range"
    );
    for (client, c) in &counts.by_client {
        assert_eq!(
            (c.moved, c.refreshes, c.failed, c.ask),
            (1, 1, 0, 0),
            "client {client}"
        );
    }
    // Each client's map is now node 1's view, one copy shared by all.
    let base = seen.maps[0].base.clone();
    for map in &seen.maps {
        assert!(std::sync::Arc::ptr_eq(&map.base, &base) && map.moved.is_empty());
        for slot in 0..1000 {
            assert_eq!(map.owner(slot), 1);
        }
        assert_eq!(map.owner(5000), 0, "slots that did not move stay");
    }
    assert_eq!(result.simulation.errors, 0, "a redirection is no error");
    assert_accounted(&result);
}

/// Shard 0's first key's slot migrates to node 1, and the keys of that slot are gone
/// from node 0: requests for them are answered ASK, sent again with ASKING to node 1,
/// and served there; the clients' maps do not change.
#[test]
fn ask_sends_asking_to_the_importing_node_and_keeps_the_map() {
    let config = config(2, 4, 200);
    let mut key = Vec::new();
    let slot_of = |i: u64, key: &mut Vec<u8>| {
        format_key(&config.clients.workload.key_prefix, i, key);
        key_hash_slot(key)
    };
    // The slots of the first keys that live on shard 0 (slots below 8192).
    let keys: Vec<u64> = (0..2000)
        .filter(|&i| slot_of(i, &mut key) < 8192)
        .take(40)
        .collect();
    let slots: std::collections::BTreeSet<u16> =
        keys.iter().map(|&i| slot_of(i, &mut key)).collect();
    let mut states = Vec::new();
    for &slot in &slots {
        states.push((0, slot, SlotState::Migrating(NodeRef(1))));
        states.push((1, slot, SlotState::Importing));
    }
    let deletes = (0..2000)
        .filter(|&i| slots.contains(&slot_of(i, &mut key)))
        .map(|i| (0, i))
        .collect();
    let change = Change {
        at_ms: 20,
        states,
        deletes,
        promote: Vec::new(),
        stop: Vec::new(),
    };
    let (seen, result) = run_with(&config, &[change]);
    let counts = result
        .cluster_clients
        .as_ref()
        .expect("clients were redirected");
    assert!(counts.total.ask > 0, "{counts:?}");
    assert_eq!(
        (
            counts.total.moved,
            counts.total.refreshes,
            counts.total.failed
        ),
        (0, 0, 0)
    );
    for map in &seen.maps {
        assert!(std::sync::Arc::ptr_eq(&map.base, &seen.start_owners));
        assert!(map.moved.is_empty());
    }
    // The importing node served them (as it does only after ASKING).
    assert_eq!(seen.answered_by_non_owner, 0);
    assert_eq!(result.simulation.errors, 0);
    assert_accounted(&result);
}

/// Two nodes that each say the other serves some slots send a request back and forth:
/// it fails after `max_redirects` redirections, each a MOVED; a slot nobody serves is
/// retried after `retry_delay_ms`, `max_redirects` times, then fails.
#[test]
fn redirections_and_retries_are_bounded_by_the_settings() {
    let config = config_with(2, 1, 200, "max_redirects: 2, retry_delay_ms: 10");
    assert_eq!(config.clients.cluster.max_redirects, 2);
    let mut loop_ = hand_over(20, 0..2000, 0, 1);
    // Node 1 says node 0 serves them: a loop.
    loop_.states.retain(|&(node, _, _)| node == 0);
    for slot in 0..2000 {
        loop_
            .states
            .push((1, slot, SlotState::Elsewhere(NodeRef(0))));
    }
    let (_, looped) = run_with(&config, &[loop_]);
    let c = looped.cluster_clients.expect("redirected").total;
    assert!(c.failed > 0, "{c:?}");
    // Three MOVED a failed request (first answer and two redirections), and at most one
    // request a client in flight at the end.
    assert!(
        c.moved >= 3 * c.failed && c.moved <= 3 * (c.failed + 4),
        "{c:?}"
    );

    let down = Change {
        at_ms: 20,
        states: (0..2000)
            .flat_map(|slot| {
                [
                    (0, slot, SlotState::Unassigned),
                    (1, slot, SlotState::Unassigned),
                ]
            })
            .collect(),
        deletes: Vec::new(),
        promote: Vec::new(),
        stop: Vec::new(),
    };
    let (_, downed) = run_with(&config, &[down]);
    let c = downed.cluster_clients.expect("retried").total;
    assert!(c.failed > 0 && c.clusterdown >= 3 * c.failed, "{c:?}");
    // Every CLUSTERDOWN but the last of a failed request was retried.
    assert_eq!(c.retries, c.clusterdown - c.failed, "{c:?}");
    // Each failed request waited two retry delays (20 ms): in the 180 ms after the
    // change, at most 9 a client, one at a time.
    assert!(c.failed <= 4 * 9, "{c:?}");
}

/// Shard 0's replica (node 2) takes over its slots, as after a failover: each client
/// (connected to the primaries only) is told MOVED once, opens a connection to node 2
/// at run time, refreshes its map there, and reads from node 2 from then on.
#[test]
fn clients_open_a_connection_to_a_promoted_replica() {
    let config = config_text(2, 1, "0:1", 1, 200, "");
    let mut change = hand_over(20, 0..8192, 0, 2);
    for slot in 0..8192 {
        change
            .states
            .push((1, slot, SlotState::Elsewhere(NodeRef(2))));
    }
    change.promote.push(2);
    let (seen, result) = run_with(&config, &[change]);
    let counts = result
        .cluster_clients
        .as_ref()
        .expect("clients were redirected");
    assert_eq!(counts.by_client.len(), 4);
    for (client, c) in &counts.by_client {
        assert_eq!(
            (c.moved, c.refreshes, c.failed, c.unreachable),
            (1, 1, 0, 0),
            "client {client}"
        );
    }
    for map in &seen.maps {
        assert_eq!((map.owner(0), map.owner(8191), map.owner(8192)), (2, 2, 1));
    }
    // Node 2 served reads: it is a host with client traffic now.
    let node2 = &result.hosts[2];
    assert!(node2.ops > 0, "{}", node2.ops);
    assert_eq!(seen.answered_by_non_owner, 0);
    assert_eq!(result.simulation.errors, 0);
    assert_accounted(&result);
}

/// A failover as clients see it: node 0 stops answering at 20 ms; at 25 ms its replica
/// (node 2) is promoted and node 1 learns of it. Requests to node 0 time out, each
/// client asks node 1 for the map, and from then on reads go to node 2.
#[test]
fn a_timeout_leads_clients_to_the_promoted_replica() {
    let config = config_text(2, 1, "0:1", 1, 200, "request_timeout_ms: 10");
    assert_eq!(config.clients.cluster.request_timeout_ns, Some(10_000_000));
    let stop = Change {
        at_ms: 20,
        states: Vec::new(),
        deletes: Vec::new(),
        promote: Vec::new(),
        stop: vec![0],
    };
    let mut promote = hand_over(25, 0..8192, 0, 2);
    promote.states.retain(|&(node, _, _)| node != 0);
    for slot in 0..8192 {
        promote
            .states
            .push((1, slot, SlotState::Elsewhere(NodeRef(2))));
    }
    promote.promote.push(2);
    let (seen, result) = run_with(&config, &[stop, promote]);
    let counts = result.cluster_clients.as_ref().expect("clients timed out");
    assert_eq!(counts.by_client.len(), 4);
    for (client, c) in &counts.by_client {
        assert!(
            c.timeouts >= 1 && c.refreshes >= 1,
            "client {client}: {c:?}"
        );
        assert_eq!(c.failed, c.timeouts, "client {client}: {c:?}");
    }
    for map in &seen.maps {
        assert_eq!((map.owner(0), map.owner(8192)), (2, 1));
    }
    assert!(result.hosts[2].ops > 0);
    assert_eq!(seen.answered_by_non_owner, 0);
    assert_accounted(&result);
}

/// Same seed, same changes: the same results, byte for byte.
#[test]
fn redirections_are_deterministic() {
    let config = config(3, 2, 100);
    let changes = [
        hand_over(10, 0..3000, 0, 2),
        hand_over(40, 10000..12000, 1, 0),
    ];
    let (_, a) = run_with(&config, &changes);
    let (_, b) = run_with(&config, &changes);
    assert!(a.cluster_clients.is_some());
    assert_eq!(a.to_json(), b.to_json());
}

/// A world without redirections serializes no cluster-client section.
#[test]
fn a_run_without_changes_reports_no_cluster_client_counts() {
    let (_, result) = run_with(&config(2, 1, 50), &[]);
    assert!(result.cluster_clients.is_none());
    assert!(!result.to_json().contains("cluster_clients"));
    assert_accounted(&result);
}

/// A random change: slots `first..first + len` get owner `owner` in the views of the
/// nodes in `nodes` (a bit per node), at `at_ms`.
#[derive(Clone, Debug)]
struct RandomChange {
    at_ms: u64,
    first: u16,
    len: u16,
    owner: u32,
    nodes: u8,
    /// Unassign instead (CLUSTERDOWN).
    unassign: bool,
}

/// A random world: shards, pipeline, request timeout (ms, if any), a node that stops
/// answering (at ms, node), and ownership changes.
type RandomCase = (u32, u32, Option<u64>, Option<(u64, u32)>, Vec<RandomChange>);

fn random_changes() -> impl Strategy<Value = RandomCase> {
    (2u32..4, 1u32..4).prop_flat_map(|(shards, pipeline)| {
        let change = (
            1u64..60,
            0u16..16384,
            1u16..4000,
            0..shards,
            1u8..8,
            prop::bool::weighted(0.15),
        )
            .prop_map(|(at_ms, first, len, owner, nodes, unassign)| RandomChange {
                at_ms,
                first,
                len,
                owner,
                nodes,
                unassign,
            });
        (
            Just(shards),
            Just(pipeline),
            prop::option::of(2u64..20),
            prop::option::of((1u64..60, 0..shards)),
            prop::collection::vec(change, 0..5),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever the ownership changes (consistent or not across nodes' views, slots
    /// unassigned included), with or without a request timeout and a node that stops
    /// answering: every request sent is answered once (by a node that
    /// served its slot in its own view at that moment: only then is the answer no
    /// redirection), counted as failed (after its redirections, or at its timeout), or
    /// still in flight at
    /// the end; none is lost or answered twice; and every client's map names only
    /// nodes of the world.
    #[test]
    fn every_request_is_answered_by_an_owner_or_counted(case in random_changes()) {
        let (shards, pipeline, timeout_ms, stop, mut changes) = case;
        changes.sort_by_key(|c| c.at_ms);
        let cluster = timeout_ms.map_or(String::new(), |ms| format!("request_timeout_ms: {ms}"));
        let config = config_with(shards, pipeline, 80, &cluster);
        let changes: Vec<Change> = changes
            .iter()
            .map(|c| {
                let end = (u32::from(c.first) + u32::from(c.len)).min(16384) as u16;
                let mut states = Vec::new();
                for node in 0..shards {
                    if c.nodes & (1 << node) == 0 {
                        continue;
                    }
                    for slot in c.first..end {
                        let state = if c.unassign {
                            SlotState::Unassigned
                        } else if node == c.owner {
                            SlotState::Owned
                        } else {
                            SlotState::Elsewhere(NodeRef(c.owner as u16))
                        };
                        states.push((node, slot, state));
                    }
                }
                Change { at_ms: c.at_ms, states, deletes: Vec::new(), promote: Vec::new(), stop: Vec::new() }
            })
            .collect();
        let mut changes = changes;
        if let Some((at_ms, node)) = stop {
            changes.push(Change {
                at_ms,
                states: Vec::new(),
                deletes: Vec::new(),
                promote: Vec::new(),
                stop: vec![node],
            });
            changes.sort_by_key(|c| c.at_ms);
        }
        let (seen, result) = run_with(&config, &changes);
        let failed = result.cluster_clients.as_ref().map_or(0, |c| c.total.failed);
        prop_assert_eq!(
            result.simulation.requests_completed_total + failed + result.simulation.requests_in_flight,
            result.simulation.requests_sent
        );
        // Answered means served: a redirection is never recorded as an answer (the
        // engine's error count holds only errors other than redirections).
        prop_assert_eq!(result.simulation.errors, 0);
        prop_assert_eq!(seen.answered_by_non_owner, 0);
        // Each request is answered at most once: the per-connection order check sees
        // every reply once, in send order.
        let mut replies = seen.replies.clone();
        let total = replies.len();
        replies.sort_unstable();
        replies.dedup();
        prop_assert_eq!(replies.len(), total, "a reply delivered twice");
        for map in &seen.maps {
            for slot in 0..16384u16 {
                let owner = map.owner(slot);
                prop_assert!(owner == NO_NODE || u32::from(owner) < shards);
            }
        }
    }
}
