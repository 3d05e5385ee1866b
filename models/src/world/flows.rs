//! Flows by kind. Every flow of the world carries one kind of traffic (a client
//! connection's requests, its replies, a replication link's stream and its control
//! messages, the cluster bus between two nodes), and each kind owns a contiguous range
//! of flow ids reserved when the world is built. A delivery finds its kind by comparing
//! its flow id with the ranges' bounds (no table lookup per message), and its index
//! within the kind by subtracting the range's start. Flows opened at run time take the
//! next ids after every reserved one, in the order they are opened, and runs of them
//! map them back to their kind and index: a new flow of a kind (`open_late`: the cluster
//! bus opens one per ordered pair of nodes at its first message, a million in a
//! 1,000-node cluster, most never needed in a short run; its index is `reserved + k` for
//! the kind's k-th), or a replacement standing for an existing index (`open_extra`).
//! Late flows are held as runs (consecutive ids of one kind with consecutive indices),
//! not one table entry per flow: the bus opens its flows in long runs, and a table of a
//! million entries cost a cache miss on every bus message sent and delivered, where a
//! few runs stay in the cache. Each kind has its own message table, which a delivery's token indexes:
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
    /// Flows opened at run time, as runs in id order (the first starts at
    /// `starts[COUNT]`, each starts where the one before ends).
    late: Vec<LateRun>,
    /// Flows opened at run time.
    late_total: u32,
    /// Each kind's new late flows (`open_late`, not `open_extra`) as runs in order of
    /// their index past the kind's reserved ones: (that index, the flow's id) at each
    /// run's start; a run ends where the next starts, the last at `late_new[kind]`.
    late_new_runs: [Vec<(u32, u32)>; FlowKind::COUNT],
    /// Each kind's new late flows.
    late_new: [u32; FlowKind::COUNT],
}

/// Flows opened at run time with consecutive ids, of one kind, standing for
/// consecutive indices of it (an extra flow is a run of its own).
#[derive(Clone, Copy, Debug)]
struct LateRun {
    first_id: u32,
    len: u32,
    kind: FlowKind,
    first_index: u32,
    /// A run of new flows, which the next new flow of its kind may extend.
    new: bool,
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
            late_total: 0,
            late_new_runs: Default::default(),
            late_new: [0; FlowKind::COUNT],
        }
    }

    /// Flows reserved for `kind`.
    fn reserved(&self, kind: FlowKind) -> u32 {
        self.starts[kind as usize + 1] - self.starts[kind as usize]
    }

    /// Flows of `kind`: reserved, and opened during the run as new ones.
    pub fn count(&self, kind: FlowKind) -> u32 {
        self.reserved(kind) + self.late_new[kind as usize]
    }

    /// Every flow: reserved, and opened during the run.
    pub fn total(&self) -> u32 {
        self.starts[FlowKind::COUNT] + self.late_total
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

    /// The bus's flows are all late: this is on every bus message's path.
    #[inline]
    fn late_flow(&self, kind: FlowKind, k: u32) -> FlowId {
        assert!(
            k < self.late_new[kind as usize],
            "flow {k} past the reserved not opened"
        );
        let runs = &self.late_new_runs[kind as usize];
        let r = runs.partition_point(|&(first, _)| first <= k) - 1;
        let (first, id) = runs[r];
        FlowId(id + (k - first))
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

    #[inline]
    fn locate_late(&self, flow: FlowId) -> (FlowKind, u32) {
        assert!(flow.0 < self.total(), "flow {} not opened", flow.0);
        let r = self.late.partition_point(|run| run.first_id <= flow.0) - 1;
        let run = self.late[r];
        (run.kind, run.first_index + (flow.0 - run.first_id))
    }

    /// Records the flow just opened (`id`, the next) as standing for `index` of `kind`.
    fn push_late(&mut self, id: FlowId, kind: FlowKind, index: u32, new: bool) {
        self.late_total += 1;
        if let Some(last) = self.late.last_mut() {
            if new
                && last.new
                && last.kind == kind
                && last.first_index + last.len == index
                && last.first_id + last.len == id.0
            {
                last.len += 1;
                return;
            }
        }
        self.late.push(LateRun {
            first_id: id.0,
            len: 1,
            kind,
            first_index: index,
            new,
        });
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
        let rank = self.late_total;
        let got = net.open_flow_labelled(src, dst, link, "net.flow.extra", u64::from(rank));
        self.check_next(got);
        self.push_late(got, kind, index, false);
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
        self.push_late(flow, kind, index, true);
        let k = self.late_new[kind as usize];
        let runs = &mut self.late_new_runs[kind as usize];
        let extends = runs
            .last()
            .is_some_and(|&(first, id)| id + (k - first) == flow.0);
        if !extends {
            runs.push((k, flow.0));
        }
        self.late_new[kind as usize] += 1;
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

    /// Late flows of several kinds opened interleaved, in runs and alone, and extra
    /// flows standing for existing indices, are each found at their kind and index,
    /// and each index of a kind at its flow.
    #[test]
    fn late_flows_are_located_across_runs() {
        use sim::net::{Framing, NicConfig, ShaperConfig};
        use sim::RngStreams;
        let mut counts = [0u32; FlowKind::COUNT];
        counts[FlowKind::ClientRequest as usize] = 2;
        counts[FlowKind::ClientReply as usize] = 2;
        counts[FlowKind::ReplicationStream as usize] = 1;
        let mut map = FlowMap::reserve(counts);
        let mut net = Network::new(RngStreams::new(1));
        let nic = net.add_nic(NicConfig {
            egress: ShaperConfig::unlimited(),
            ingress: ShaperConfig::unlimited(),
            framing: Framing {
                mtu_bytes: 9001,
                ip_tcp_header_bytes: 40,
                link_header_bytes: 18,
            },
        });
        for &kind in FlowKind::ALL {
            for index in 0..map.count(kind) {
                map.open(&mut net, kind, index, nic, nic, LinkConfig::default());
            }
        }
        // (flow, kind, index) of every late flow, as opened.
        let mut want = Vec::new();
        let mut late = |map: &mut FlowMap, net: &mut Network, kind: FlowKind| {
            let (flow, index) = map.open_late(net, kind, 0, nic, nic, LinkConfig::default());
            want.push((flow, kind, index));
        };
        for _ in 0..5 {
            late(&mut map, &mut net, FlowKind::ClusterBus);
        }
        let conn = map.open_conn(&mut net, nic, nic, LinkConfig::default());
        assert_eq!(conn, 2);
        for _ in 0..3 {
            late(&mut map, &mut net, FlowKind::ClusterBus);
        }
        let extra = map.open_extra(
            &mut net,
            FlowKind::ReplicationStream,
            0,
            nic,
            nic,
            LinkConfig::default(),
        );
        late(&mut map, &mut net, FlowKind::ClusterBus);
        late(&mut map, &mut net, FlowKind::ReplicationStream);
        late(&mut map, &mut net, FlowKind::ClusterBus);
        assert_eq!(map.locate(extra), (FlowKind::ReplicationStream, 0));
        assert_eq!(map.locate(FlowId(10)), (FlowKind::ClientRequest, 2));
        assert_eq!(map.locate(FlowId(11)), (FlowKind::ClientReply, 2));
        assert_eq!(map.flow(FlowKind::ClientReply, 2), FlowId(11));
        for &(flow, kind, index) in &want {
            assert_eq!(map.locate(flow), (kind, index));
            assert_eq!(map.flow(kind, index), flow);
        }
        let bus: Vec<u32> = want
            .iter()
            .filter(|w| w.1 == FlowKind::ClusterBus)
            .map(|w| w.2)
            .collect();
        assert_eq!(bus, (0..10).collect::<Vec<_>>());
        assert_eq!(map.count(FlowKind::ReplicationStream), 2);
        assert_eq!(
            map.total(),
            19,
            "5 reserved, 10 bus, 2 of a connection, 2 replication"
        );
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
