//! Flows by kind. Every flow of the world carries one kind of traffic (a client
//! connection's requests, its replies, a replication link's stream and its control
//! messages, the cluster bus between two nodes), and each kind owns a contiguous range
//! of flow ids reserved when the world is built. A delivery finds its kind by comparing
//! its flow id with the ranges' bounds (no table lookup per message), and its index
//! within the kind by subtracting the range's start. Flows opened at run time take the
//! next ids after every reserved one, in the order they are opened, and a table maps
//! them back to their kind and index: a new flow of a kind (`open_late`: the cluster bus
//! opens one per ordered pair of nodes at its first message, a million in a 1,000-node
//! cluster, most never needed in a short run; its index is `reserved + k` for the
//! kind's k-th), or a replacement standing for an existing index (`open_extra`). Each kind has its own message table, which a delivery's token indexes:
//! a client request's token is its slot in the request table, a bus message will not be
//! a request. A flow torn down and reopened later keeps its id and is reset in place.
//! A connection whose ends change during the run (a replication link re-pointed to a
//! promoted replica) gets a flow opened then, past the reserved ranges: an extra flow
//! that stands for index `index` of its kind from then on.
//!
//! Invariant: the ranges are disjoint, in the order of [`FlowKind`], and together cover
//! every flow the network had when the world was built; flow `index` of a kind is
//! `start + index`, and its random stream is labelled by its kind and index, so adding a
//! kind or a flow never changes another flow's draws; extra flows follow, in the order
//! opened, each with a stream of its own.

use serde::{Deserialize, Serialize};
use sim::net::{FlowId, LinkConfig, Network, NicId};

/// What a flow carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// A client connection's requests, client to node.
    ClientRequest,
    /// A client connection's replies, node to client.
    ClientReply,
    /// A replication link's stream (snapshots, then the propagated writes), primary to
    /// replica.
    ReplicationStream,
    /// A replication link's PSYNC and REPLCONF ACKs, replica to primary.
    ReplicationControl,
    /// The test probe's messages between two nodes (see `world::probe`).
    #[cfg(test)]
    Probe,
    /// Cluster-bus messages from one node to another (see `world::bus`), opened at
    /// their first message.
    ClusterBus,
    /// Resharding (see `world::reshard`): redis-cli's commands and their replies, and
    /// MIGRATE's keys and the target's answers, opened at their first message.
    Resharding,
}

impl FlowKind {
    /// Every kind, in id order.
    pub const ALL: &'static [FlowKind] = &[
        FlowKind::ClientRequest,
        FlowKind::ClientReply,
        FlowKind::ReplicationStream,
        FlowKind::ReplicationControl,
        #[cfg(test)]
        FlowKind::Probe,
        FlowKind::ClusterBus,
        FlowKind::Resharding,
    ];

    /// The number of kinds.
    pub const COUNT: usize = FlowKind::ALL.len();

    /// The label and index of the random stream (jitter, fault rules) of flow `index`
    /// of this kind. Client flows keep the streams they had when a connection's two
    /// flows were numbered 2c and 2c + 1 in one sequence, so a scenario with jitter
    /// replays as it did before kinds existed; later kinds take labels of their own.
    fn stream(self, index: u32) -> (&'static str, u64) {
        let index = u64::from(index);
        match self {
            FlowKind::ClientRequest => ("net.flow", 2 * index),
            FlowKind::ClientReply => ("net.flow", 2 * index + 1),
            FlowKind::ReplicationStream => ("net.flow.repl", index),
            FlowKind::ReplicationControl => ("net.flow.repl_control", index),
            #[cfg(test)]
            FlowKind::Probe => ("net.flow.probe", index),
            FlowKind::ClusterBus => ("net.flow.bus", index),
            FlowKind::Resharding => ("net.flow.reshard", index),
        }
    }
}

/// The flow-id ranges of every kind.
#[derive(Clone, Debug)]
pub struct FlowMap {
    /// `starts[k]` is the first id of kind k; `starts[COUNT]` is one past the last
    /// reserved flow.
    starts: [u32; FlowKind::COUNT + 1],
    /// Flows opened at run time, by id from `starts[COUNT]`: their kind and index.
    late: Vec<(FlowKind, u32)>,
    /// Each kind's late flows' ids, by index past its reserved ones.
    late_ids: [Vec<u32>; FlowKind::COUNT],
}

impl FlowMap {
    /// Reserves `counts[k]` flows for each kind k, in kind order.
    pub fn reserve(counts: [u32; FlowKind::COUNT]) -> FlowMap {
        let mut starts = [0u32; FlowKind::COUNT + 1];
        for (k, &n) in counts.iter().enumerate() {
            starts[k + 1] = starts[k]
                .checked_add(n)
                .expect("fewer than 2^32 flows in a world");
        }
        FlowMap {
            starts,
            late: Vec::new(),
            late_ids: Default::default(),
        }
    }

    /// Flows reserved for `kind`.
    fn reserved(&self, kind: FlowKind) -> u32 {
        self.starts[kind as usize + 1] - self.starts[kind as usize]
    }

    /// Flows of `kind`: reserved, and opened during the run as new ones.
    pub fn count(&self, kind: FlowKind) -> u32 {
        self.reserved(kind) + self.late_ids[kind as usize].len() as u32
    }

    /// Every flow: reserved, and opened during the run.
    pub fn total(&self) -> u32 {
        self.starts[FlowKind::COUNT] + self.late.len() as u32
    }

    /// Flow `index` of `kind`.
    #[inline]
    pub fn flow(&self, kind: FlowKind, index: u32) -> FlowId {
        let reserved = self.reserved(kind);
        if index < reserved {
            FlowId(self.starts[kind as usize] + index)
        } else {
            self.late_flow(kind, index - reserved)
        }
    }

    #[cold]
    #[inline(never)]
    fn late_flow(&self, kind: FlowKind, k: u32) -> FlowId {
        FlowId(self.late_ids[kind as usize][k as usize])
    }

    /// The kind of `flow` and its index within the kind.
    #[inline]
    pub fn locate(&self, flow: FlowId) -> (FlowKind, u32) {
        if flow.0 >= self.starts[FlowKind::COUNT] {
            return self.locate_late(flow);
        }
        // Kinds are few: a comparison with each later range's start, in a loop whose
        // bounds the compiler sees, so it unrolls with no bounds checks.
        let mut k = 0;
        while k + 1 < FlowKind::COUNT && flow.0 >= self.starts[k + 1] {
            k += 1;
        }
        (FlowKind::ALL[k], flow.0 - self.starts[k])
    }

    #[cold]
    #[inline(never)]
    fn locate_late(&self, flow: FlowId) -> (FlowKind, u32) {
        self.late[(flow.0 - self.starts[FlowKind::COUNT]) as usize]
    }

    /// Checks that `got` is the next flow id after every flow opened so far.
    fn check_next(&self, got: FlowId) {
        assert_eq!(
            got,
            FlowId(self.total()),
            "every reserved flow is opened before any opened during the run"
        );
    }

    /// Opens, during the run, a flow from `src` to `dst` that stands for index `index`
    /// of `kind` (its deliveries are located there; the caller keeps its id). Its random
    /// stream is labelled by its rank among the flows opened during the run, which the
    /// run's events alone decide.
    pub fn open_extra(
        &mut self,
        net: &mut Network,
        kind: FlowKind,
        index: u32,
        src: NicId,
        dst: NicId,
        link: LinkConfig,
    ) -> FlowId {
        let rank = self.late.len() as u32;
        let got = net.open_flow_labelled(src, dst, link, "net.flow.extra", u64::from(rank));
        self.check_next(got);
        self.late.push((kind, index));
        got
    }

    /// Opens the next flow of `kind` during the run and returns it with its index in
    /// the kind (`count(kind)` before it). Its random stream is labelled by the kind and
    /// `stream_index` (for the bus, the ordered pair of nodes; for a client connection,
    /// as a reserved connection's), so its draws do not depend on the order flows are
    /// opened in.
    pub fn open_late(
        &mut self,
        net: &mut Network,
        kind: FlowKind,
        stream_index: u64,
        src: NicId,
        dst: NicId,
        link: LinkConfig,
    ) -> (FlowId, u32) {
        let (label, _) = kind.stream(0);
        let flow = net.open_flow_labelled(src, dst, link, label, stream_index);
        self.check_next(flow);
        let index = self.count(kind);
        self.late.push((kind, index));
        self.late_ids[kind as usize].push(flow.0);
        (flow, index)
    }

    /// Opens a client connection during the run from `client` to `node`: its request
    /// flow and its reply flow, each the next of its kind (the two kinds grow together,
    /// so both have the connection's index, which this returns).
    pub fn open_conn(
        &mut self,
        net: &mut Network,
        client: NicId,
        node: NicId,
        link: LinkConfig,
    ) -> u32 {
        let conn = self.count(FlowKind::ClientRequest);
        let c = u64::from(conn);
        let (_, req) = self.open_late(
            net,
            FlowKind::ClientRequest,
            2 * c,
            client,
            node,
            link.clone(),
        );
        let (_, rep) = self.open_late(net, FlowKind::ClientReply, 2 * c + 1, node, client, link);
        assert_eq!(
            (req, rep),
            (conn, conn),
            "a connection's two flows share its index"
        );
        conn
    }

    /// Opens flow `index` of `kind` from `src` to `dst`. Flows must be opened in id
    /// order (kind by kind, index by index), which this checks: the reservation is
    /// the numbering.
    pub fn open(
        &self,
        net: &mut Network,
        kind: FlowKind,
        index: u32,
        src: NicId,
        dst: NicId,
        link: LinkConfig,
    ) -> FlowId {
        let want = self.flow(kind, index);
        let (label, stream) = kind.stream(index);
        let got = net.open_flow_labelled(src, dst, link, label, stream);
        assert_eq!(
            got, want,
            "flows are opened in the order they were reserved"
        );
        got
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flow_is_located_in_its_kind_at_its_index() {
        let mut counts = [0u32; FlowKind::COUNT];
        for (k, c) in counts.iter_mut().enumerate() {
            *c = 3 + 2 * k as u32;
        }
        let map = FlowMap::reserve(counts);
        let mut id = 0;
        for &kind in FlowKind::ALL {
            for index in 0..map.count(kind) {
                assert_eq!(map.flow(kind, index), FlowId(id));
                assert_eq!(map.locate(FlowId(id)), (kind, index));
                id += 1;
            }
        }
        assert_eq!(map.total(), id);
    }

    #[test]
    fn an_empty_kind_owns_no_id() {
        let mut counts = [4u32; FlowKind::COUNT];
        counts[FlowKind::ClientReply as usize] = 0;
        let map = FlowMap::reserve(counts);
        assert_eq!(map.locate(FlowId(3)), (FlowKind::ClientRequest, 3));
        assert_ne!(map.locate(FlowId(4)).0, FlowKind::ClientReply);
    }
}
