//! The end of a run: [`World::finish`] takes the world apart into a [`RunResult`],
//! registering every resource (each node's CPU threads, every NIC direction and its
//! packet allowance) in one registry, host by host. Invariant: everything a report
//! shows comes from here; once finished, the world is gone.

use super::replication::{PrimaryReplicationResult, ReplicationResult};
use super::results::{
    CrossZoneBytes, HostResult, HostRole, NicCounts, NicDirectionResult, ResourceKind,
    ResourceResult, RunResult, ShardsResult, SimulationTotals,
};
use super::World;
use crate::placement::exact_shard_loads;
use crate::scenario::resolve::HostRef;
use crate::scenario::spec::Placement;
use sim::net::{Network, NicId, Shaper};
use sim::SimTime;

/// One NIC direction's totals and series; `credits_at_s` are the sampled gauges.
fn nic_direction(
    shaper: &Shaper,
    end: SimTime,
    credits_at_s: Vec<u64>,
    at_window_start: NicCounts,
) -> NicDirectionResult {
    NicDirectionResult {
        at_window_start,
        wire_bytes: shaper.counters.wire_bytes,
        dropped_messages: shaper.counters.dropped_messages,
        bw_allowance_exceeded: shaper.counters.bw_allowance_exceeded,
        pps_allowance_exceeded: shaper.counters.pps_allowance_exceeded,
        credits_end_bits: shaper.credits_bits(end),
        credits_depleted_at_ns: shaper.depleted_at().map(|t| t.as_ns()),
        wire_bytes_per_s: shaper.wire_bytes_per_s.values().to_vec(),
        drops_per_s: shaper.drops_per_s.values().to_vec(),
        bw_allowance_exceeded_per_s: shaper.bw_allowance_exceeded_per_s.values().to_vec(),
        credits_bits_at_s: credits_at_s,
        baseline_bits_per_s: shaper.config().baseline_bits_per_s,
        burst_bits_per_s: shaper.config().burst_bits_per_s,
        throttled_wire_bytes_per_s: shaper.throttled_wire_bytes_per_s.values().to_vec(),
        burst_denied_bits_per_s: shaper.burst_denied_bits_per_s.values().to_vec(),
    }
}

/// Registers a NIC's resources: egress, packets out, ingress, packets in (the packet
/// allowances only where the instance has one).
fn register_nic(resources: &mut Vec<ResourceResult>, host: u32, net: &Network, nic: NicId) {
    let nic = net.nic(nic);
    for (busy_kind, pps_kind, shaper) in [
        (ResourceKind::NicOut, ResourceKind::PpsOut, &nic.egress),
        (ResourceKind::NicIn, ResourceKind::PpsIn, &nic.ingress),
    ] {
        resources.push(ResourceResult::busy(
            host,
            busy_kind,
            None,
            shaper.busy.busy_ns_per_s(),
        ));
        if let Some(pps) = shaper.config().pps_limit {
            resources.push(ResourceResult {
                host,
                kind: pps_kind,
                thread: None,
                used_per_s: shaper.packets_per_s.values().to_vec(),
                capacity_per_s: pps,
            });
        }
    }
}

/// Second by second sums of several series.
fn sum_series<'a>(series: impl Iterator<Item = &'a [u64]>) -> Vec<u64> {
    let mut sum: Vec<u64> = Vec::new();
    for s in series {
        if sum.len() < s.len() {
            sum.resize(s.len(), 0);
        }
        for (a, b) in sum.iter_mut().zip(s) {
            *a += b;
        }
    }
    sum
}

impl World {
    /// Ends the run: every figure a report needs, as plain data. `events` is the
    /// number of events the scheduler ran.
    pub fn finish(self, events: u64) -> RunResult {
        let World {
            config,
            net,
            mut metrics,
            requests,
            client_nics,
            clients,
            nodes,
            mut engine,
            sampler,
            end,
            faults,
            zone_traffic,
            replication,
            bus,
            resharding,
            neighbours,
            flows: flow_map,
            ..
        } = self;
        let cross_zone = |sent: &dyn Fn(&super::zones::ZoneTraffic) -> (u64, u64)| {
            zone_traffic.as_ref().map(|z| {
                let (sent, received) = sent(z);
                CrossZoneBytes { sent, received }
            })
        };
        // Jobs still running count up to the end.
        for cpu in &mut engine.cpus {
            cpu.settle(end);
        }
        let mut clients = clients;
        if let Some(shared) = &mut clients.shared {
            for cpu in &mut shared.hosts {
                cpu.settle(end);
            }
        }
        let keys_at_start = |node: usize| {
            sampler
                .keys_at_window_start
                .get(node)
                .copied()
                .unwrap_or_default()
        };
        let start = |nic: NicId| {
            sampler
                .at_window_start
                .get(nic.0 as usize)
                .copied()
                .unwrap_or_default()
        };
        let expected = config
            .clients
            .workload
            .requests_per_connection
            .map(|n| n.saturating_mul(clients.clients.len() as u64));
        let sent: u64 = clients.clients.iter().map(|c| c.sent).sum();
        // The clients stopped before the run's end: they sent their request counts, or
        // their test time was shorter than the run.
        let stopped_early = expected == Some(sent) || clients.stop_sending_at < end;
        // Requests that failed with their connection will never complete: the rest decide
        // whether every request was answered.
        let window_end = metrics.window_end(
            end,
            stopped_early,
            sent.saturating_sub(faults.requests_reset),
        );
        let loads = exact_shard_loads(&config, &clients.router);
        let placement = match clients.router.placement() {
            Placement::Crc16 => "crc16",
            Placement::RankModulo => "rank_modulo",
        };

        // One pass each over the flows and the connections, not one per host.
        let retransmits = net.retransmits_by_nic();
        let mut connections_per_node = vec![0u64; nodes.nodes.len()];
        for c in &engine.conns {
            connections_per_node[c.node as usize] += 1;
        }
        let mut hosts = Vec::new();
        let mut resources = Vec::new();
        for (i, n) in nodes.nodes.iter().enumerate() {
            let host = hosts.len() as u32;
            let gauges = &metrics.node_gauges[i];
            let nic = net.nic(n.nic);
            hosts.push(HostResult {
                name: n.name.clone(),
                role: if replication.link_of(i as u32).is_some() {
                    HostRole::Replica
                } else {
                    HostRole::Primary
                },
                shard: n.shard,
                instance: config.cluster.instance.name.clone(),
                vcpus: engine.cpus[i].vcpus(),
                cpu_contended_ns_per_s: sum_series(
                    engine.cpus[i]
                        .threads()
                        .iter()
                        .map(|t| t.contended.busy_ns_per_s()),
                ),
                cpu_steal_ns_per_s: sum_series(
                    engine.cpus[i]
                        .threads()
                        .iter()
                        .map(|t| t.stolen.busy_ns_per_s()),
                ),
                ops: metrics.shard_ops[i],
                ops_per_s: metrics.shard_ops_per_s[i].values().to_vec(),
                used_memory_bytes: n.db.used_memory(),
                keys: n.db.dbsize(),
                expired_keys: n.db.stats().expired_keys,
                evicted_keys: n.db.stats().evicted_keys,
                expired_keys_at_window_start: keys_at_start(i).0,
                evicted_keys_at_window_start: keys_at_start(i).1,
                connections: connections_per_node[i],
                used_memory_bytes_at_s: gauges.used_memory_bytes.clone(),
                egress: nic_direction(
                    &nic.egress,
                    end,
                    gauges.egress_credits_bits.clone(),
                    start(n.nic).egress,
                ),
                ingress: nic_direction(
                    &nic.ingress,
                    end,
                    gauges.ingress_credits_bits.clone(),
                    start(n.nic).ingress,
                ),
                retransmits: retransmits[n.nic.0 as usize],
                retransmits_at_window_start: start(n.nic).retransmits,
                cross_zone_bytes: cross_zone(&|z| (z.node_sent[i], z.node_received[i])),
            });
            for (t, thread) in engine.cpus[i].threads().iter().enumerate() {
                resources.push(ResourceResult::busy(
                    host,
                    ResourceKind::Cpu,
                    Some(t as u32),
                    thread.busy.busy_ns_per_s(),
                ));
            }
            register_nic(&mut resources, host, &net, n.nic);
        }
        // Clients are built host by host, the same number on each.
        let clients_per_host = clients.clients.len() / client_nics.len().max(1);
        for (i, &id) in client_nics.iter().enumerate() {
            let host = hosts.len() as u32;
            let nic = net.nic(id);
            let replies: u64 = clients.clients[i * clients_per_host..(i + 1) * clients_per_host]
                .iter()
                .map(|c| c.replies_in_window)
                .sum();
            hosts.push(HostResult {
                name: format!("client-{i}"),
                role: HostRole::Client,
                shard: 0,
                instance: config.clients.instance.name.clone(),
                vcpus: config.clients.instance.spec.vcpu,
                // Only threads sharing their host's vCPUs ever wait for one.
                cpu_contended_ns_per_s: clients.shared.as_ref().map_or(Vec::new(), |s| {
                    sum_series(
                        s.hosts[i]
                            .threads()
                            .iter()
                            .map(|t| t.contended.busy_ns_per_s()),
                    )
                }),
                cpu_steal_ns_per_s: Vec::new(),
                ops: replies,
                ops_per_s: Vec::new(),
                used_memory_bytes: 0,
                keys: 0,
                expired_keys: 0,
                evicted_keys: 0,
                expired_keys_at_window_start: 0,
                evicted_keys_at_window_start: 0,
                connections: u64::from(config.clients.workload.connections_per_host())
                    * nodes.nodes.len() as u64,
                used_memory_bytes_at_s: Vec::new(),
                egress: nic_direction(&nic.egress, end, Vec::new(), start(id).egress),
                ingress: nic_direction(&nic.ingress, end, Vec::new(), start(id).ingress),
                retransmits: retransmits[id.0 as usize],
                retransmits_at_window_start: start(id).retransmits,
                cross_zone_bytes: cross_zone(&|z| (z.host_sent[i], z.host_received[i])),
            });
            let threads = config.clients.workload.threads as usize;
            let busy: Vec<&[u64]> = match &clients.shared {
                Some(s) => s.hosts[i]
                    .threads()
                    .iter()
                    .map(|t| t.busy.busy_ns_per_s())
                    .collect(),
                None => clients.threads[i * threads..(i + 1) * threads]
                    .iter()
                    .map(|t| t.cpu.busy.busy_ns_per_s())
                    .collect(),
            };
            for (t, busy) in busy.into_iter().enumerate() {
                resources.push(ResourceResult::busy(
                    host,
                    ResourceKind::Cpu,
                    Some(t as u32),
                    busy,
                ));
            }
            register_nic(&mut resources, host, &net, id);
        }

        let requests_sent = clients.sent_total();
        let flows = metrics.flow_kind_totals(&flow_map);
        // Requests by shard: its primary's and its replicas'.
        let mut shard_ops = vec![0u64; config.cluster.total_shards() as usize];
        for (i, n) in nodes.nodes.iter().enumerate() {
            shard_ops[n.shard as usize] += metrics.shard_ops[i];
        }
        let ops_per_s = metrics.ops_per_s.values().to_vec();
        let simulation = SimulationTotals {
            events,
            requests_sent,
            requests_completed_total: metrics.completed_total,
            // Map refreshes are no workload requests (they are not in `requests_sent`),
            // and a request given up is counted failed.
            requests_in_flight: requests
                .iter()
                .filter(|(_, r)| !r.refresh && !r.timed_out)
                .count() as u64,
            errors: metrics.errors,
            client_queue_overflows: metrics.client_queue_overflows,
        };
        let cpu_cost = engine.cost;
        let thread_per_core = engine
            .tpc
            .take()
            .map(|t| super::results::ThreadPerCoreResult {
                inline_commands: t.inline_commands,
                hops: t.hops,
                kernel_ns_per_s: t.kernel_ns_per_s,
            });
        let host_name = |h: HostRef| match h {
            HostRef::Node(i) => hosts[i as usize].name.clone(),
            HostRef::Client(i) => hosts[nodes.nodes.len() + i as usize].name.clone(),
        };
        let faults = faults.finish(&net, &host_name);
        let latency_per_s = std::mem::take(&mut metrics.latency_per_s);
        let replication_result = (config.cluster.replicas_per_shard > 0).then(|| {
            let names: Vec<String> = nodes.nodes.iter().map(|n| n.name.clone()).collect();
            let stream = replication.stream_bytes();
            ReplicationResult {
                replicas: replication.finish(&names),
                primaries: (0..config.cluster.total_shards() as usize)
                    .map(|s| PrimaryReplicationResult {
                        // The shard's primary at the end; its replies are those of
                        // every node that was its primary.
                        name: names[replication.primary_of(s as u32) as usize].clone(),
                        stream_bytes: stream[s],
                        client_reply_bytes: replication
                            .primaries_of(s as u32)
                            .iter()
                            .map(|&n| metrics.reply_bytes_by_node[n as usize])
                            .sum(),
                        rdb_bytes_sent: replication.rdb_bytes_sent_by_shard[s],
                        replication_bytes_delivered: replication.bytes_delivered_by_shard[s],
                    })
                    .collect(),
                role_changes: replication.role_changes(&names),
            }
        });
        let bus = bus.map(|b| {
            let names: Vec<String> = nodes.nodes.iter().map(|n| n.name.clone()).collect();
            b.finish(&names, sim::SimDuration::from_ns(end.as_ns()))
        });
        let (sets, gets, breakdown) = metrics.finish();
        let cluster_clients = {
            let mut result = super::results::ClusterClientsResult::default();
            for (i, c) in clients.clients.iter().enumerate() {
                if !c.counts.is_empty() {
                    result.total.add(&c.counts);
                    result.by_client.push((i as u32, c.counts));
                }
            }
            (!result.by_client.is_empty()).then_some(result)
        };
        RunResult {
            cpu_cost,
            end_ns: end.as_ns(),
            window_end_ns: window_end.as_ns(),
            sets,
            gets,
            breakdown,
            ops_per_s,
            latency_per_s,
            hosts,
            resources,
            shards: ShardsResult {
                placement: placement.to_string(),
                ops: shard_ops,
                share_exact: loads.shares,
                share_exact_error_bound: loads.error_bound,
            },
            flows,
            simulation,
            faults,
            replication: replication_result,
            bus,
            cluster_clients,
            resharding: resharding.finish(),
            neighbours: neighbours.finish(end),
            thread_per_core,
            config,
        }
    }
}
