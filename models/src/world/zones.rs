//! Traffic between zones: the wire bytes each host sends to and receives from hosts in
//! other zones, which cloud bills charge for. Counted on delivery, from the payload's
//! framing (headers included, retransmissions not), for the worlds that name zones;
//! a world without them has no table and its deliveries pay one `Option` check.
//!
//! Invariant: the bytes every host sent across zones equal the bytes every host
//! received across zones (a flow's two ends are counted from the same delivery).

use super::engine::Conn;
use super::flows::FlowKind;
use crate::scenario::resolve::RunConfig;
use sim::net::Framing;
use sim::SimDuration;

/// Cross-zone wire bytes by host.
pub(crate) struct ZoneTraffic {
    /// Per connection: its node, its client host, and whether its ends are in two
    /// zones.
    conns: Vec<(u32, u32, bool)>,
    /// Per replication link: its primary, its replica, and whether they are in two
    /// zones.
    links: Vec<(u32, u32, bool)>,
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
        links: &[(u32, u32)],
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
        let links = links
            .iter()
            .map(|&(p, r)| (p, r, z.node_zones[p as usize] != z.node_zones[r as usize]))
            .collect();
        Some(ZoneTraffic {
            conns,
            links,
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

    /// A message of flow `index` of `kind` was delivered.
    #[inline]
    pub fn on_delivery(&mut self, kind: FlowKind, index: u32, payload_bytes: u64) {
        let to_node = match kind {
            FlowKind::ClientRequest => true,
            FlowKind::ClientReply => false,
            FlowKind::ReplicationStream | FlowKind::ReplicationControl => {
                let (primary, replica, crosses) = self.links[index as usize];
                if crosses {
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
