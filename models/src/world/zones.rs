//! Traffic between zones: the wire bytes each host sends to and receives from hosts in
//! other zones, which cloud bills charge for. Counted on delivery, from the payload's
//! framing (headers included, retransmissions not), for the worlds that name zones;
//! a world without them has no table and its deliveries pay one `Option` check.
//!
//! Invariant: the bytes every host sent across zones equal the bytes every host
//! received across zones (a flow's two ends are counted from the same delivery).

use super::engine::Conn;
use super::flows::FlowKind;
use crate::scenario::resolve::{RunConfig, ZonesConfig};
use sim::net::Framing;
use sim::SimDuration;

/// The path between a host in zone `a` and one in zone `b`: `base` (the path within a
/// zone, and every path of a world that names no zones) with the two zones' latency
/// and jitter.
pub(crate) fn path_between(
    zones: &ZonesConfig,
    a: u32,
    b: u32,
    base: &sim::net::LinkConfig,
) -> sim::net::LinkConfig {
    if zones.is_empty() {
        return base.clone();
    }
    let (latency_ns, jitter_ns) = zones.link(a, b, (base.latency.as_ns(), base.jitter.as_ns()));
    sim::net::LinkConfig {
        latency: SimDuration::from_ns(latency_ns),
        jitter: SimDuration::from_ns(jitter_ns),
        ..base.clone()
    }
}

/// Cross-zone wire bytes by host.
pub(crate) struct ZoneTraffic {
    /// Per connection: its node, its client host, and whether its ends are in two
    /// zones.
    conns: Vec<(u32, u32, bool)>,
    /// Each node's zone (a replication link's ends change at a failover, so whether it
    /// crosses zones is decided at each delivery from its ends then).
    node_zones: Vec<u32>,
    framing: Framing,
    pub node_sent: Vec<u64>,
    pub node_received: Vec<u64>,
    pub host_sent: Vec<u64>,
    pub host_received: Vec<u64>,
}

impl ZoneTraffic {
    /// The table for `config`'s zones; `None` without zones.
    pub fn build(
        config: &RunConfig,
        conns: &[Conn],
        conns_per_host: u32,
        framing: Framing,
    ) -> Option<ZoneTraffic> {
        let z = &config.zones;
        if z.is_empty() {
            return None;
        }
        let conns: Vec<(u32, u32, bool)> = conns
            .iter()
            .enumerate()
            .map(|(c, cn)| {
                let host = c as u32 / conns_per_host.max(1);
                let crosses = z.client_zones[host as usize] != z.node_zones[cn.node as usize];
                (cn.node, host, crosses)
            })
            .collect();
        Some(ZoneTraffic {
            conns,
            node_zones: z.node_zones.clone(),
            framing,
            node_sent: vec![0; z.node_zones.len()],
            node_received: vec![0; z.node_zones.len()],
            host_sent: vec![0; z.client_zones.len()],
            host_received: vec![0; z.client_zones.len()],
        })
    }

    /// A connection opened at run time from client host `host` to `node`.
    pub fn add_conn(&mut self, config: &RunConfig, node: u32, host: u32) {
        let z = &config.zones;
        let crosses = z.client_zones[host as usize] != z.node_zones[node as usize];
        self.conns.push((node, host, crosses));
    }

    /// Each connection's one-way propagation, for the latency breakdown.
    pub fn propagation_by_conn(&self, config: &RunConfig) -> Vec<SimDuration> {
        let z = &config.zones;
        let n = &config.network;
        self.conns
            .iter()
            .map(|&(node, host, _)| {
                let (latency, _) = z.link(
                    z.client_zones[host as usize],
                    z.node_zones[node as usize],
                    (n.latency_ns, n.jitter_ns),
                );
                SimDuration::from_ns(latency)
            })
            .collect()
    }

    /// A message from node `from` to node `to` was delivered (the cluster bus's, or a
    /// MIGRATE's).
    pub fn on_node_pair_delivery(&mut self, from: u32, to: u32, payload_bytes: u64) {
        if self.node_zones[from as usize] != self.node_zones[to as usize] {
            let wire = self.framing.wire_bytes(payload_bytes);
            self.node_sent[from as usize] += wire;
            self.node_received[to as usize] += wire;
        }
    }

    /// A message of flow `index` of `kind` was delivered; `link_ends(l)` is replication
    /// link l's (primary, replica) now.
    #[inline]
    pub fn on_delivery(
        &mut self,
        kind: FlowKind,
        index: u32,
        payload_bytes: u64,
        link_ends: impl Fn(u32) -> (u32, u32),
    ) {
        let to_node = match kind {
            FlowKind::ClientRequest => true,
            FlowKind::ClientReply => false,
            FlowKind::ReplicationStream | FlowKind::ReplicationControl => {
                let (primary, replica) = link_ends(index);
                if self.node_zones[primary as usize] != self.node_zones[replica as usize] {
                    let (from, to) = if kind == FlowKind::ReplicationStream {
                        (primary, replica)
                    } else {
                        (replica, primary)
                    };
                    let wire = self.framing.wire_bytes(payload_bytes);
                    self.node_sent[from as usize] += wire;
                    self.node_received[to as usize] += wire;
                }
                return;
            }
            #[cfg(test)]
            FlowKind::Probe => return,
            // Counted by `on_node_pair_delivery`, which knows the pair; redis-cli's
            // commands to the nodes are a few bytes each, not counted.
            FlowKind::ClusterBus | FlowKind::Resharding => return,
        };
        let (node, host, crosses) = self.conns[index as usize];
        if !crosses {
            return;
        }
        let wire = self.framing.wire_bytes(payload_bytes);
        if to_node {
            self.node_received[node as usize] += wire;
            self.host_sent[host as usize] += wire;
        } else {
            self.node_sent[node as usize] += wire;
            self.host_received[host as usize] += wire;
        }
    }
}
