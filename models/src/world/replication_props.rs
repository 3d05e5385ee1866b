//! Property tests of replication over random small worlds: 1 or 2 shards of 1 or 2
//! replicas, random write rates and value sizes, small backlogs and output-buffer
//! limits (so links drop and resync), short repl-timeouts, and random outages on the
//! replication links. The checks read the links' offsets from outside, at sampled
//! instants, and the stores and results at the end.

use super::{Ev, World};
use crate::scenario::load_str;
use crate::scenario::resolve::RunConfig;
use crate::world::replication::LinkEvent;
use proptest::prelude::*;
use sim::{RunLimit, Scheduler, SimDuration, SimTime};

#[derive(Clone, Debug)]
struct Case {
    shards: u32,
    replicas: u32,
    /// Requests a second per connection, of 10 connections, SET:GET 3:1.
    rate: u32,
    data_size: u32,
    backlog_kib: u64,
    hard_limit_kib: u64,
    baseline_mbit: u64,
    delay_s: u64,
    seed: u64,
    /// (shard, replica, from ms, length ms): outages between a primary and a replica.
    outages: Vec<(u32, u32, u64, u64)>,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        (1u32..=2, 1u32..=2, 20u32..400, 100u32..5_000),
        (
            16u64..2_048,
            256u64..8_192,
            50u64..400,
            0u64..=1,
            any::<u64>(),
        ),
        proptest::collection::vec((0u32..2, 0u32..2, 0u64..3_000, 100u64..2_500), 0..3),
    )
        .prop_map(
            |(
                (shards, replicas, rate, data_size),
                (backlog_kib, hard_limit_kib, baseline_mbit, delay_s, seed),
                outages,
            )| Case {
                shards,
                replicas,
                rate,
                data_size,
                backlog_kib,
                hard_limit_kib,
                baseline_mbit,
                delay_s,
                seed,
                outages,
            },
        )
}

/// Writes stop at 4 s; the run ends at 20 s, time for every link to time out,
/// reconnect, resync and drain (repl-timeout 2 s, outages over by 5.5 s, a snapshot of
/// at most 2,000 keys of 5 KB crossing at least 50 Mbps in under 2 s). The NICs' queues
/// hold a whole socket buffer: the transport has no congestion control, so a
/// snapshot written into a small queue would crawl through drops and retransmission
/// timeouts, longer than the short repl-timeout the test uses to make links drop.
const END_MS: u64 = 20_000;

impl Case {
    fn config(&self) -> RunConfig {
        let mode = if self.shards > 1 {
            "cluster"
        } else {
            "standalone"
        };
        let mut faults = String::new();
        let mut used = Vec::new();
        for &(shard, replica, from_ms, length_ms) in &self.outages {
            let (shard, replica) = (shard % self.shards, replica % self.replicas + 1);
            if used.contains(&(shard, replica)) {
                continue;
            }
            used.push((shard, replica));
            faults.push_str(&format!(
                r#"(at_ms: {from_ms}, for_ms: {length_ms}, outage: (["redis-{shard}"], ["redis-{shard}-r{replica}"])),"#
            ));
        }
        let text = format!(
            r#"(
            name: "replication", description: "random", seed: {seed}, duration_ms: {END_MS},
            warmup_ms: 0,
            network: (latency_us: 40, tcp_reset_after_ms: 10000),
            faults: [{faults}],
            instances: {{
                "small": (vcpu: 2, memory_bytes: 4_294_967_296,
                          baseline_bits_per_s: {baseline}, queue_limit_bytes: 16777216,
                          source: "test"),
            }},
            cluster: (engine: redis, mode: {mode}, shards: {shards}, instance: "small",
                      replicas_per_shard: {replicas},
                      replication: (backlog_bytes: {backlog}, output_buffer_hard_limit_bytes: {hard},
                                    output_buffer_soft_limit_bytes: 0, timeout_s: 2,
                                    diskless_sync_delay_s: {delay}, ping_replica_period_s: 1)),
            clients: (workload: (ratio: "3:1", key_maximum: 2000, data_size: {size},
                                 pipeline: 2, clients: 10, threads: 1,
                                 rate_limiting: {rate}, test_time_s: 4)),
            prefill: (keys: 500, value_bytes: 100),
            )"#,
            seed = self.seed,
            baseline = self.baseline_mbit * 1_000_000,
            shards = self.shards,
            replicas = self.replicas,
            backlog = self.backlog_kib * 1024,
            hard = self.hard_limit_kib * 1024,
            delay = self.delay_s,
            size = self.data_size,
            rate = self.rate,
        );
        let scenario = load_str(&text, "replication.ron").unwrap_or_else(|e| panic!("{e}\n{text}"));
        scenario.resolved_variants()[0].config.clone()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Over random small worlds with replicas, small backlogs and limits, and random
    /// outages on replication links: at every sampled instant a replica's applied
    /// offset is at most what it has received, which is at most its primary's offset
    /// when they share a replication id; within one replication id a replica's offset
    /// only grows; a partial resync resends at most the backlog (it is granted only
    /// when the replica's offset is inside the backlog window), and a replica with no
    /// usable offset gets a full one; every snapshot byte written crosses the
    /// primary's egress (the snapshot bytes written are at most those of the full
    /// resyncs begun; what replicas received and the client replies fit in the egress's
    /// wire bytes); and once the writes stop
    /// and the streams drain (all but a PING written in the run's last instant), every
    /// replica holds exactly its primary's data (equal store digests).
    #[test]
    fn replication_keeps_its_invariants(case in cases()) {
        let config = case.config();
        let mut sched: Scheduler<Ev> = Scheduler::with_capacity(1024);
        let mut world = World::build(&config, &mut sched)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let end = SimTime::from_ns(config.duration_ns);
        let mut last: Vec<Option<(u64, u64)>> = Vec::new();
        let mut t = SimTime::ZERO;
        while t < end {
            t = (t + SimDuration::from_ms(23)).min(end);
            sched.run(&mut world, RunLimit::Until(t));
            let offsets = world.replication.offsets();
            last.resize(offsets.len(), None);
            for (l, o) in offsets.iter().enumerate() {
                prop_assert!(o.applied <= o.received, "link {}: {:?}", l, o);
                if o.replica_replid == Some(o.primary_replid) {
                    prop_assert!(o.received <= o.primary_offset, "link {}: {:?}", l, o);
                }
                if let (Some(id), Some((before_id, before))) = (o.replica_replid, last[l]) {
                    if id == before_id {
                        prop_assert!(o.applied >= before, "link {} went back: {:?}", l, o);
                    }
                }
                last[l] = o.replica_replid.map(|id| (id, o.applied));
            }
        }
        // Every replica holds its primary's data once the streams have drained.
        let shards = config.cluster.shards;
        for (l, o) in world.replication.offsets().iter().enumerate() {
            let l = l as u32;
            let primary = l / config.cluster.replicas_per_shard;
            let replica = shards + l;
            prop_assert_eq!(o.replica_replid, Some(o.primary_replid), "link {} in sync", l);
            // Drained, but for a PING the primary may have written in the run's last
            // instant (14 bytes).
            prop_assert!(o.primary_offset - o.applied <= 14, "link {} drained: {:?}", l, o);
            prop_assert_eq!(
                world.nodes.nodes[replica as usize].db.state_digest(),
                world.nodes.nodes[primary as usize].db.state_digest(),
                "replica {} holds its primary's data", replica
            );
        }
        let backlog = config.cluster.replication.expect("replicas").backlog_bytes;
        let result = world.finish(sched.events_run());
        let repl = result.replication.as_ref().expect("replication results");
        for x in &repl.replicas {
            for e in &x.events {
                if let LinkEvent::PartialResync { payload_bytes, .. } = e {
                    prop_assert!(*payload_bytes <= backlog, "{}: {} > {}", x.name, payload_bytes, backlog);
                }
            }
        }
        for (s, p) in repl.primaries.iter().enumerate() {
            let begun: u64 = repl
                .replicas
                .iter()
                .filter(|x| x.shard == s as u32)
                .map(|x| x.rdb_bytes())
                .sum();
            prop_assert!(p.rdb_bytes_sent <= begun, "{}: {} > {}", p.name, p.rdb_bytes_sent, begun);
            // What its replicas received, snapshots included, and its client replies all
            // crossed its egress.
            prop_assert!(
                p.replication_bytes_delivered + p.client_reply_bytes <= result.hosts[s].egress.wire_bytes,
                "{}: replication bytes beyond its egress", p.name
            );
        }
    }
}
