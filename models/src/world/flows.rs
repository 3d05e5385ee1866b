//! Flows by kind. Every flow of the world carries one kind of traffic (a client
//! connection's requests, its replies, a replication link's stream and its control
//! messages; cluster-bus links are the kind to come), and each kind owns a contiguous range of flow ids reserved when the
//! world is built. A delivery finds its kind by comparing its flow id with the ranges'
//! bounds (no table lookup per message), and its index within the kind by subtracting the
//! range's start. Each kind has its own message table, which a delivery's token indexes:
//! a client request's token is its slot in the request table, a bus message will not be
//! a request. A flow torn down and reopened later keeps its id and is reset in place.
//!
//! Invariant: the ranges are disjoint, in the order of [`FlowKind`], and together cover
//! every flow the network has; flow `index` of a kind is `start + index`, and its random
//! stream is labelled by its kind and index, so adding a kind or a flow never changes
//! another flow's draws.

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
        }
    }
}

/// The flow-id ranges of every kind.
#[derive(Clone, Debug)]
pub struct FlowMap {
    /// `starts[k]` is the first id of kind k; `starts[COUNT]` is one past the last flow.
    starts: [u32; FlowKind::COUNT + 1],
    /// Client connections opened at run time (a client following a redirection to a
    /// node it had no connection to): connection `reserved + i` has flows
    /// `starts[COUNT] + 2i` (requests) and `+ 1` (replies), after every reserved flow.
    opened_conns: u32,
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
            opened_conns: 0,
        }
    }

    /// Flows reserved for `kind`.
    fn reserved(&self, kind: FlowKind) -> u32 {
        self.starts[kind as usize + 1] - self.starts[kind as usize]
    }

    /// Flows of `kind`: those reserved, and for client connections those opened since.
    pub fn count(&self, kind: FlowKind) -> u32 {
        let opened = match kind {
            FlowKind::ClientRequest | FlowKind::ClientReply => self.opened_conns,
            _ => 0,
        };
        self.reserved(kind) + opened
    }

    /// Every flow reserved, and opened since.
    pub fn total(&self) -> u32 {
        self.starts[FlowKind::COUNT] + 2 * self.opened_conns
    }

    /// Flow `index` of `kind`.
    #[inline]
    pub fn flow(&self, kind: FlowKind, index: u32) -> FlowId {
        debug_assert!(
            index < self.count(kind),
            "flow {index} of {kind:?} reserved"
        );
        if index < self.reserved(kind) {
            FlowId(self.starts[kind as usize] + index)
        } else {
            self.opened_flow(kind, index)
        }
    }

    /// Flow `index` of a client kind, of a connection opened at run time.
    #[cold]
    #[inline(never)]
    fn opened_flow(&self, kind: FlowKind, index: u32) -> FlowId {
        let i = index - self.reserved(kind);
        FlowId(self.starts[FlowKind::COUNT] + 2 * i + u32::from(kind == FlowKind::ClientReply))
    }

    /// Opens a client connection at run time from `client` to `node` (its request flow,
    /// then its reply flow, with random streams of their own); returns its index.
    pub fn open_conn(
        &mut self,
        net: &mut Network,
        client: NicId,
        node: NicId,
        link: LinkConfig,
    ) -> u32 {
        let conn = self.reserved(FlowKind::ClientRequest) + self.opened_conns;
        let i = u64::from(self.opened_conns);
        self.opened_conns += 1;
        let req = net.open_flow_labelled(client, node, link.clone(), "net.flow.opened", 2 * i);
        let rep = net.open_flow_labelled(node, client, link, "net.flow.opened", 2 * i + 1);
        assert_eq!(
            (req, rep),
            (
                self.flow(FlowKind::ClientRequest, conn),
                self.flow(FlowKind::ClientReply, conn)
            ),
            "run-time flows follow every other"
        );
        conn
    }

    /// The kind of `flow` and its index within the kind.
    #[inline]
    pub fn locate(&self, flow: FlowId) -> (FlowKind, u32) {
        debug_assert!(flow.0 < self.total(), "{flow:?} was reserved");
        if flow.0 >= self.starts[FlowKind::COUNT] {
            return self.locate_opened(flow);
        }
        // Kinds are few: a comparison with each later range's start, in a loop whose
        // bounds the compiler sees, so it unrolls with no bounds checks.
        let mut k = 0;
        while k + 1 < FlowKind::COUNT && flow.0 >= self.starts[k + 1] {
            k += 1;
        }
        (FlowKind::ALL[k], flow.0 - self.starts[k])
    }

    /// The kind and index of a flow opened at run time.
    #[cold]
    #[inline(never)]
    fn locate_opened(&self, flow: FlowId) -> (FlowKind, u32) {
        let off = flow.0 - self.starts[FlowKind::COUNT];
        let kind = if off % 2 == 0 {
            FlowKind::ClientRequest
        } else {
            FlowKind::ClientReply
        };
        (kind, self.reserved(kind) + off / 2)
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
