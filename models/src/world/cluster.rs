//! The cluster as its clients and nodes address it: every node's address
//! (`10.0.<n / 256>.<n % 256>:6379` for node n), the converged slot owners the world
//! starts with, the table address → node a client follows a redirection with, and the
//! slot map each client routes by (shared by every client until one learns of a change:
//! a `MOVED` it was sent, or a `CLUSTER SLOTS` reply it parsed). Invariant: the view is
//! a pure function of the `RunConfig` (same config, same addresses and owners), a
//! client's map names only nodes of the world, and a map is changed only by what the
//! client was told over the network.

use crate::placement::Router;
use crate::scenario::resolve::RunConfig;
use crate::scenario::spec::{ClusterMode, Placement};
use std::collections::BTreeMap;
use std::sync::Arc;
use store_core::resp::Frame;
use store_core::slots::SLOT_COUNT;

/// A slot owner no node is (a slot nobody serves in a map parsed from `CLUSTER SLOTS`).
pub(crate) const NO_NODE: u16 = u16::MAX;

/// The port every node listens on (Redis's default).
const NODE_PORT: u16 = 6379;

/// The cluster's addresses and its converged slot owners.
#[derive(Clone, Debug)]
pub(crate) struct ClusterView {
    /// Node n's address.
    pub addrs: Arc<Vec<Box<str>>>,
    /// The node serving each slot at the start (a shard's primary).
    pub owners: Arc<Vec<u16>>,
    /// Address → node, to follow a redirection.
    pub by_addr: BTreeMap<Box<str>, u32>,
}

/// Node `node`'s address.
pub(crate) fn node_addr(node: u32) -> String {
    format!("10.0.{}.{}:{NODE_PORT}", node / 256, node % 256)
}

impl ClusterView {
    /// The view of a CRC16 cluster (None otherwise: no slots, no redirections), with
    /// `nodes` nodes of which the first `router.shards()` are the primaries.
    pub fn new(config: &RunConfig, router: &Router, nodes: u32) -> Option<ClusterView> {
        if config.cluster.mode != ClusterMode::Cluster || router.placement() != Placement::Crc16 {
            return None;
        }
        assert!(nodes < u32::from(NO_NODE) - 1, "at most 65,533 nodes");
        let addrs: Vec<Box<str>> = (0..nodes).map(|n| node_addr(n).into()).collect();
        let by_addr = addrs
            .iter()
            .enumerate()
            .map(|(n, a)| (a.clone(), n as u32))
            .collect();
        let mut owners = vec![NO_NODE; SLOT_COUNT];
        for shard in 0..router.shards() {
            for slot in router.slots_of(shard) {
                owners[usize::from(slot)] = shard as u16;
            }
        }
        Some(ClusterView {
            addrs: Arc::new(addrs),
            owners: Arc::new(owners),
            by_addr,
        })
    }

    /// The node at `addr`, if it is one of the world's.
    pub fn node_at(&self, addr: &[u8]) -> Option<u32> {
        let addr = std::str::from_utf8(addr).ok()?;
        self.by_addr.get(addr).copied()
    }

    /// The slot map of a `CLUSTER SLOTS` reply (`[[start, end, [host, port, id, meta],
    /// replicas...], ...]`): slots no range covers, or whose address is unknown, have
    /// no owner. None for a reply of another shape.
    pub fn parse_cluster_slots(&self, reply: &[u8]) -> Option<Vec<u16>> {
        let (Frame::Array(ranges), _) = store_core::resp::parse_frame(reply).ok()?? else {
            return None;
        };
        let mut owners = vec![NO_NODE; SLOT_COUNT];
        for range in &ranges {
            let Frame::Array(parts) = range else {
                return None;
            };
            let (
                Some(Frame::Integer(start)),
                Some(Frame::Integer(end)),
                Some(Frame::Array(master)),
            ) = (parts.first(), parts.get(1), parts.get(2))
            else {
                return None;
            };
            let (Some(Frame::Bulk(host)), Some(Frame::Integer(port))) =
                (master.first(), master.get(1))
            else {
                return None;
            };
            let mut addr = host.clone();
            addr.push(b':');
            addr.extend_from_slice(port.to_string().as_bytes());
            let owner = self.node_at(&addr).map_or(NO_NODE, |n| n as u16);
            let (start, end) = (*start as usize, *end as usize);
            if start > end || end >= SLOT_COUNT {
                return None;
            }
            owners[start..=end].fill(owner);
        }
        Some(owners)
    }
}

/// What a node answered a request, as its client acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// An answer (a value, OK, or an error no retry changes).
    Answered,
    /// `MOVED slot addr`: the slot is served by this node.
    Moved { node: u32 },
    /// `ASK slot addr`: ask this node, once, after ASKING.
    Ask { node: u32 },
    /// `CLUSTERDOWN ...`: the slot is served by nobody this node knows of.
    ClusterDown,
    /// `TRYAGAIN ...`: the slot is being migrated; retry later.
    TryAgain,
}

impl Outcome {
    /// The outcome of an error reply's text.
    pub fn of_error(text: &[u8], view: Option<&ClusterView>) -> Outcome {
        let redirect = |rest: &[u8]| -> Option<u32> {
            let mut words = rest.split(|&b| b == b' ');
            let _slot = words.next()?;
            view?.node_at(words.next()?)
        };
        if let Some(rest) = text.strip_prefix(b"MOVED ") {
            redirect(rest).map_or(Outcome::Answered, |node| Outcome::Moved { node })
        } else if let Some(rest) = text.strip_prefix(b"ASK ") {
            redirect(rest).map_or(Outcome::Answered, |node| Outcome::Ask { node })
        } else if text.starts_with(b"CLUSTERDOWN") {
            Outcome::ClusterDown
        } else if text.starts_with(b"TRYAGAIN") {
            Outcome::TryAgain
        } else {
            Outcome::Answered
        }
    }
}

/// A client's slot map: a base shared by every client that was told the same
/// (`Arc`), and the slots it learnt of since from `MOVED` replies.
#[derive(Clone, Debug)]
pub(crate) struct SlotMap {
    pub base: Arc<Vec<u16>>,
    pub moved: BTreeMap<u16, u16>,
}

impl SlotMap {
    /// The node this map says serves `slot` ([`NO_NODE`] if none).
    #[inline]
    pub fn owner(&self, slot: u16) -> u16 {
        if !self.moved.is_empty() {
            if let Some(&n) = self.moved.get(&slot) {
                return n;
            }
        }
        self.base[usize::from(slot)]
    }
}

/// What the clients share about the cluster, lent to components through `Ctx`: the
/// view, and the `CLUSTER SLOTS` replies on their way to the clients that asked.
#[derive(Debug, Default)]
pub(crate) struct ClusterShared {
    pub view: Option<ClusterView>,
    /// The encoded reply of each map refresh in flight, by request token.
    pub refresh_replies: BTreeMap<u32, Vec<u8>>,
    /// The last map a client parsed, so clients told the same share one copy.
    pub last_parsed: Option<Arc<Vec<u16>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(shards: u32, nodes: u32) -> ClusterView {
        let text = format!(
            r#"(name: "v", description: "view", seed: 1, duration_s: 1,
                cluster: (engine: redis, mode: cluster, shards: {shards}, instance: "cache.r7g.large"))"#
        );
        let scenario = crate::scenario::load_str(&text, "v.ron").expect("the scenario loads");
        let config = scenario.resolved_variants()[0].config.clone();
        ClusterView::new(&config, &Router::new(&config), nodes).expect("a CRC16 cluster")
    }

    /// A node's real `CLUSTER SLOTS` reply parses back to the owners it was built with.
    #[test]
    fn cluster_slots_reply_parses_back_to_the_owners() {
        let v = view(3, 6);
        let mut db = store_core::Db::new(store_core::Config::default());
        db.join_cluster(v.addrs.clone(), store_core::NodeRef(1), v.owners.clone());
        let mut session = store_core::Session::new(1);
        let mut rng = sim::RngStreams::new(1).stream("t", 0);
        let reply = db.execute(
            &mut session,
            &[
                store_core::Arg::Bytes(b"CLUSTER"),
                store_core::Arg::Bytes(b"SLOTS"),
            ],
            0,
            &mut rng,
        );
        let bytes = store_core::resp::encode_to_vec(&reply, store_core::resp::Protocol::Resp2);
        assert_eq!(
            v.parse_cluster_slots(&bytes).as_deref(),
            Some(&v.owners[..])
        );
        assert_eq!(v.parse_cluster_slots(b"+OK\r\n"), None);
    }

    #[test]
    fn errors_classify_by_their_prefix() {
        let v = view(2, 2);
        let at = |t: &str| Outcome::of_error(t.as_bytes(), Some(&v));
        assert_eq!(at("MOVED 3 10.0.0.1:6379"), Outcome::Moved { node: 1 });
        assert_eq!(at("ASK 3 10.0.0.0:6379"), Outcome::Ask { node: 0 });
        // An address the world does not have is an answer, not a redirection.
        assert_eq!(at("MOVED 3 10.9.9.9:6379"), Outcome::Answered);
        assert_eq!(at("CLUSTERDOWN Hash slot not served"), Outcome::ClusterDown);
        assert_eq!(at("TRYAGAIN Multiple keys"), Outcome::TryAgain);
        assert_eq!(at("ERR x"), Outcome::Answered);
    }
}
