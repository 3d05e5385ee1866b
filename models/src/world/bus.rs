//! The cluster bus, as Redis 7.0.15 runs it (`src/cluster.c`): every node of a Redis
//! Cluster (primaries and replicas) holds a view of every other node (last ping sent,
//! last pong received, last data received, PFAIL/FAIL flags, failure reports) and runs
//! `clusterCron` every 100 ms: once a second it pings the node with the oldest pong
//! among 5 random picks, and at every cron it pings each node with no ping in flight
//! whose pong is older than node_timeout / 2, flags PFAIL a node with a ping in flight
//! not heard from for node_timeout, and frees a link silent for half of it. Every PING
//! is answered by a PONG; both carry a gossip section (max(3, N/10) entries capped at
//! N - 2, drawn by Redis's bounded random picks, plus every PFAIL node) whose pong times
//! in whole seconds move the receiver's pong times forward and so postpone its pings
//! (`clusterProcessGossipSection`). Failure reports from primaries that see a node
//! PFAIL turn it FAIL once a majority of slot-owning primaries agree, and the FAIL is
//! broadcast.
//!
//! Messages cross the shaped NICs as the `ClusterBus` flow kind (one flow per ordered
//! pair of nodes, opened at its first message), at their exact sizes (header 2,256
//! bytes, 104 per gossip entry, FAIL 2,296), and cost the receiving node's main thread
//! CPU per message and per gossip entry (its cron costs per known node): a message
//! waits for the main thread like a client request does, and its effects (a PONG sent,
//! views updated) happen when the thread has processed it.
//!
//! Views are split in two arrays: the fields every gossip entry reads at a random peer
//! (pong time, flags, link down, ping in flight) in 8 bytes, the rest apart, so a
//! 1,000-node cluster's million views mostly hit the cache. The speed-ups (that split,
//! a bitset for the gossip dedup, a bucketed half-timeout queue) change no result.
//!
//! Invariants: a node's view of a peer with no ping in flight has exactly one live
//! entry in its half-timeout queue, due no later than when the rule fires; a ping in
//! flight is in the node's `pinging` list, and its hot `pinging` bit is set, exactly
//! while its `ping_sent_ms` is set; the gossip dedup bitset is all clear between
//! messages;
//! every message sent is counted once at its sender and, when delivered, once at its
//! receiver; a crashed node runs no cron and processes nothing until it restarts.
//!
//! Shards the resharding timeline adds (see `world::reshard`) run no bus until they
//! join: then every node knows them at once (the MEET handshake's spread by gossip is
//! not modelled) and links to them at its next cron, with the handshake's PING. A slot
//! that moves joins its new shard's slot list and the shard's log of slots gained; a
//! node that hears the new owner's claim applies the slots gained since it last did
//! (the header's slot bitmap, read as a difference), as `clusterUpdateSlotsConfigWith`
//! would.

use super::engine::Engine;
use super::flows::FlowKind;
use super::node::Nodes;
use super::replication::Replication;
use super::requests::Requests;
use super::{Ctx, Ev};
use crate::scenario::resolve::bus::BusConfig;
use crate::scenario::resolve::topology::ZonesConfig;
use serde::{Deserialize, Serialize};
use sim::net::{FlowId, LinkConfig, NicId};
use sim::rng::{below, Lookahead};
use sim::stats::CounterColumns;
use sim::{RngStreams, SimDuration, SimRng, SimTime};
use std::collections::BTreeMap;

/// `sizeof(clusterMsg) - sizeof(union clusterMsgData)` in 7.0: the header every message
/// carries, 2,048 bytes of it the sender's slot bitmap.
pub const HEADER_BYTES: u64 = 2_256;
/// `sizeof(clusterMsgDataGossip)`.
pub const GOSSIP_ENTRY_BYTES: u64 = 104;
/// `sizeof(clusterMsgDataFail)`: the failing node's 40-byte name.
pub const FAIL_DATA_BYTES: u64 = 40;
/// `sizeof(clusterMsgDataUpdate)`: config epoch, node name, slot bitmap.
pub const UPDATE_DATA_BYTES: u64 = 8 + 40 + 2_048;
/// clusterCron's period.
pub const CRON_PERIOD: SimDuration = SimDuration::from_ms(100);
/// ae's event loop sleeps in whole milliseconds rounded up (`aeApiPoll`'s epoll
/// timeout), so a timer fires up to this much after it is due.
const TIMER_ROUNDING_NS: u64 = 1_000_000;
/// CLUSTER_FAIL_REPORT_VALIDITY_MULT: a failure report is valid for twice the timeout.
const FAIL_REPORT_VALIDITY_MULT: u64 = 2;
/// CLUSTER_FAIL_UNDO_TIME_MULT: a FAIL primary still owning slots is cleared when it
/// answers again this many timeouts after it failed.
const FAIL_UNDO_TIME_MULT: u64 = 2;

/// The bus keeps its times as milliseconds since one day before the run started, in
/// 32 bits (the part of a node's view of a peer read per gossip entry is then 8 bytes,
/// the rest 20: a million of them fit the cache far better): pong times start up to half a timeout in the past, and a run with a bus
/// is refused beyond [`MAX_BUS_RUN_DAYS`].
const BUS_TIME_OFFSET_MS: u64 = 86_400_000;
/// The longest run with a cluster bus, in days (its 32-bit times last 49.7).
pub const MAX_BUS_RUN_DAYS: u64 = 40;

/// Bus time at simulated time `now`.
#[inline]
fn bus_ms(now: SimTime) -> u64 {
    now.as_ns() / 1_000_000 + BUS_TIME_OFFSET_MS
}

/// A bus time as whole Unix seconds (what a gossip entry carries).
#[inline]
fn unix_s(bus_ms: u64) -> u64 {
    // The epoch first: a pong time from before the run is below the offset (the same
    // value, without the subtraction overflowing in a debug build).
    (bus_ms + super::EPOCH_UNIX_MS - BUS_TIME_OFFSET_MS) / 1000
}

/// Whole Unix seconds back to bus time (both offsets are whole seconds, so a pong
/// time floors to the same second either way).
#[inline]
fn bus_ms_of_unix_s(s: u64) -> u64 {
    (s * 1000 + BUS_TIME_OFFSET_MS).saturating_sub(super::EPOCH_UNIX_MS)
}

/// PING, PONG and MEET: the header and `entries` gossip entries (7.0 sends no
/// extension unless a hostname is set, which no simulated node has).
pub const fn ping_bytes(entries: u64) -> u64 {
    HEADER_BYTES + GOSSIP_ENTRY_BYTES * entries
}

/// A FAIL message.
pub const FAIL_BYTES: u64 = HEADER_BYTES + FAIL_DATA_BYTES;
/// An UPDATE message.
pub const UPDATE_BYTES: u64 = HEADER_BYTES + UPDATE_DATA_BYTES;
/// FAILOVER_AUTH_REQUEST and FAILOVER_AUTH_ACK: the header alone.
pub const AUTH_BYTES: u64 = HEADER_BYTES;

/// The gossip entries a PING or PONG wants in a cluster of `nodes` (before the PFAIL
/// nodes appended): `max(3, nodes / 10)`, at most `nodes - 2` (`freshnodes`).
pub fn wanted_gossip_entries(nodes: u64) -> u64 {
    (nodes / 10).max(3).min(nodes.saturating_sub(2))
}

/// The bus's events.
#[derive(Clone, Copy, Debug)]
pub enum BusEv {
    /// A node's clusterCron.
    Cron { node: u32 },
}

impl From<BusEv> for Ev {
    fn from(e: BusEv) -> Ev {
        Ev::Bus(e)
    }
}

/// Message types, in `cluster_stats_messages_*` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgType {
    Ping,
    Pong,
    Fail,
    Update,
    FailoverAuthRequest,
    FailoverAuthAck,
}

impl MsgType {
    pub const ALL: [MsgType; 6] = [
        MsgType::Ping,
        MsgType::Pong,
        MsgType::Fail,
        MsgType::Update,
        MsgType::FailoverAuthRequest,
        MsgType::FailoverAuthAck,
    ];
    pub const COUNT: usize = MsgType::ALL.len();

    pub fn label(self) -> &'static str {
        match self {
            MsgType::Ping => "ping",
            MsgType::Pong => "pong",
            MsgType::Fail => "fail",
            MsgType::Update => "update",
            MsgType::FailoverAuthRequest => "auth-req",
            MsgType::FailoverAuthAck => "auth-ack",
        }
    }
}

/// Node flags a gossip entry carries (the ones the rules read).
const FLAG_PFAIL: u8 = 1;
const FLAG_FAIL: u8 = 2;

/// One gossip entry: a node, its pong time in whole seconds as the sender sees it, and
/// its failure flags in the sender's view (12 bytes, Unix seconds in 32 bits as on
/// the wire: a message's section is read back when it arrives, long evicted).
#[derive(Clone, Copy, Debug)]
struct Gossip {
    node: u32,
    pong_received_s: u32,
    flags: u8,
}

/// A message on its way (or waiting for its receiver's main thread).
struct Msg {
    ty: MsgType,
    from: u32,
    to: u32,
    bytes: u64,
    /// A PONG answering the receiver's own PING (it arrives on the receiver's outbound
    /// link, so it counts as the pong the receiver waits for).
    reply: bool,
    /// A FAIL's failing node.
    about: u32,
    /// The sender's currentEpoch (every header carries it).
    current_epoch: u64,
    /// The shard whose slots the sender claims as a primary, with its configEpoch
    /// (the header's slot bitmap and configEpoch); `u32::MAX`: none (a replica).
    claim_shard: u32,
    claim_epoch: u64,
    gossip: Vec<Gossip>,
}

/// The part of one node's view of another read for every gossip entry it sends or
/// receives, at a random peer: kept apart from the rest in 8 bytes, a million of them
/// (a 1,000-node cluster) stay in the cache where 32-byte views missed it on most
/// entries.
#[derive(Clone, Copy, Debug)]
struct Hot {
    pong_received_ms: u32,
    flags: u8,
    /// The outbound link is down (freed); the next cron reconnects it.
    link_down: bool,
    /// A ping is in flight (`Cold::ping_sent_ms` is set): the gossip rule reads this
    /// instead of the cold time.
    pinging: bool,
}

/// The rest of one node's view of another, read per message or per cron.
#[derive(Clone, Copy, Debug)]
struct Cold {
    /// 0 when no ping is in flight.
    ping_sent_ms: u32,
    data_received_ms: u32,
    fail_time_ms: u32,
    /// The due time of the peer's live entry in the half-timeout queue (u32::MAX: none).
    queued_due_ms: u32,
    /// When the outbound link was (re)created.
    link_created_ms: u32,
}

/// How many random views ahead gossip building asks the cache to load (a miss costs
/// about as long as drawing and handling this many picks that hit).
const BUILD_PREFETCH_AHEAD: u64 = 12;
/// The same for gossip processing, whose entries that hit cost less.
const PROCESS_PREFETCH_AHEAD: usize = 24;

/// A half-timeout wheel bucket spans `1 << WHEEL_SHIFT` ms (128 ms: a cron every
/// 100 ms empties one or two buckets).
const WHEEL_SHIFT: u32 = 7;

/// One node's half-timeout queue: (due, peer) entries in buckets by due time, a ring
/// covering a little more than the half timeout any entry is due within. A binary heap
/// of a thousand entries per node cost a cache miss per level on every pop; a cron
/// here empties the one or two buckets it reached and sorts what was due, which yields
/// the heap's (due, peer) order exactly.
struct DueWheel {
    buckets: Vec<Vec<(u32, u32)>>,
    /// No entry sits in a bucket numbered (due >> WHEEL_SHIFT) below this: every entry
    /// is due after the cron that last emptied the wheel.
    floor: u64,
}

impl DueWheel {
    fn new(half_ms: u64, now_ms: u64) -> DueWheel {
        let slots = ((half_ms + 1) >> WHEEL_SHIFT) as usize + 3;
        DueWheel {
            buckets: vec![Vec::new(); slots],
            floor: now_ms >> WHEEL_SHIFT,
        }
    }

    fn push(&mut self, due: u64, peer: u32) {
        let slot = ((due >> WHEEL_SHIFT) % self.buckets.len() as u64) as usize;
        self.buckets[slot].push((due as u32, peer));
    }

    /// Empties the wheel (a restart), every entry pushed from now on due after `now_ms`.
    fn clear(&mut self, now_ms: u64) {
        for b in &mut self.buckets {
            b.clear();
        }
        self.floor = now_ms >> WHEEL_SHIFT;
    }

    /// Moves every entry due by `now_ms` to `out`, sorted by (due, peer). The buckets
    /// from the floor to now's are visited (all of them, once, if that is more than the
    /// ring): an entry's due time, not its bucket, decides, so a ring that wraps onto
    /// later entries keeps them.
    fn take_due(&mut self, now_ms: u64, out: &mut Vec<(u32, u32)>) {
        let last = now_ms >> WHEEL_SHIFT;
        let len = self.buckets.len() as u64;
        let first = self.floor.max((last + 1).saturating_sub(len));
        for k in first..=last {
            self.buckets[(k % len) as usize].retain(|&(due, peer)| {
                if u64::from(due) <= now_ms {
                    out.push((due, peer));
                    false
                } else {
                    true
                }
            });
        }
        self.floor = last;
        out.sort_unstable();
    }
}

/// Per-node counters.
#[derive(Clone, Debug, Default)]
struct NodeStats {
    sent: [u64; MsgType::COUNT],
    received: [u64; MsgType::COUNT],
    bytes_sent: u64,
    bytes_received: u64,
    /// Per second, by the columns below: a message sent or received adds to two of them
    /// in one place.
    per_s: CounterColumns<5>,
    cpu_ns: u64,
    gossip_entries_sent: u64,
}

/// Columns of `NodeStats::per_s`.
const BYTES_SENT: usize = 0;
const MESSAGES_SENT: usize = 1;
const BYTES_RECEIVED: usize = 2;
const MESSAGES_RECEIVED: usize = 3;
const CPU_NS: usize = 4;

/// One node's bus state.
struct BusNode {
    /// Looked ahead in by gossip building (see `send_ping`).
    rng: Lookahead<SimRng>,
    iteration: u64,
    /// Peers with a ping in flight.
    pinging: Vec<u32>,
    /// (due, peer): when each peer with no ping in flight next needs one by the
    /// half-timeout rule, as of the last time it was queued (pong times only move
    /// forward in between, so an entry is never late; a popped entry is checked).
    due: DueWheel,
    /// PFAIL nodes counted at the last cron (`stats_pfail_nodes`).
    pfail_nodes: u32,
    /// The peers this node flags PFAIL now, in the order flagged.
    pfail: Vec<u32>,
    /// The peers whose outbound link is down, for the next cron to reconnect.
    links_down: Vec<u32>,
    /// Failure reports on each peer: (reporter, time).
    reports: BTreeMap<u32, Vec<(u32, u64)>>,
    /// Messages delivered and not yet processed by the main thread, in arrival order.
    inbox: Vec<usize>,
    is_primary: bool,
    owns_slots: bool,
    /// The node's shard (a replica's is its primary's).
    shard: u32,
    current_epoch: u64,
    /// A primary's configEpoch (as after `redis-cli --cluster create`: distinct).
    config_epoch: u64,
    /// The epoch of this primary's last vote.
    last_vote_epoch: u64,
    /// When this primary last voted for a replica of each failed primary.
    voted_at_ms: BTreeMap<u32, u64>,
    /// A replica's election: when it may ask for votes (0: none scheduled), whether
    /// it has asked, for which epoch, and the votes it has.
    auth_time_ms: u64,
    auth_sent: bool,
    auth_epoch: u64,
    auth_count: u32,
    /// Restarted after a successor took its slots: it learns so at its first message.
    replaced: bool,
    stats: NodeStats,
}

/// A moment of failure detection, for the report's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum BusEvent {
    /// The first node to flag `node` PFAIL.
    Pfail { at_ns: u64, node: u32, by: u32 },
    /// A node reached the quorum and flagged `node` FAIL (the broadcast follows).
    Fail { at_ns: u64, node: u32, by: u32 },
    /// `node`'s FAIL flag cleared by the first node to hear from it again.
    FailCleared { at_ns: u64, node: u32, by: u32 },
    /// Replica `node` asked for votes to replace its failed primary `by`.
    Election { at_ns: u64, node: u32, by: u32 },
    /// Replica `node` won its election and replaced primary `by`, losing the writes
    /// `by` had acknowledged and not sent it.
    Promoted {
        at_ns: u64,
        node: u32,
        by: u32,
        lost_writes: u64,
        lost_bytes: u64,
    },
    /// Node `node`, restarted after `by` took its slots, became `by`'s replica.
    Rejoined { at_ns: u64, node: u32, by: u32 },
}

/// The cluster bus of every node.
pub(crate) struct Bus {
    config: BusConfig,
    n: u32,
    /// `hot[i * n + j]` and `cold[i * n + j]`: node i's view of node j.
    hot: Vec<Hot>,
    cold: Vec<Cold>,
    /// One bit per node: the peers already in the gossip section being built (Redis
    /// marks each peer with the ping's number, `last_in_ping_gossip`; a bitset set
    /// and cleared per message skips the same duplicates without a store per view).
    in_gossip: Vec<u64>,
    /// The entries a cron found due, reused.
    due_scratch: Vec<(u32, u32)>,
    /// The messages a `work_done` processes, reused.
    batch_scratch: Vec<usize>,
    nodes: Vec<BusNode>,
    /// Primaries owning slots (`cluster->size`, the failure quorum's base).
    slot_owners: u32,
    /// Flow index (within the kind) of the ordered pair `i * n + j`; `u32::MAX`: not open.
    pair_flow: Vec<u32>,
    /// The pair of each open flow.
    flow_pair: Vec<(u32, u32)>,
    node_nics: Vec<NicId>,
    node_zones: Vec<u32>,
    zones: ZonesConfig,
    base_link: LinkConfig,
    msgs: slab::Slab<Msg>,
    spare_gossip: Vec<Vec<Gossip>>,
    /// Which nodes are down (crashed, not restarted).
    down: Vec<bool>,
    events: Vec<BusEvent>,
    /// Nodes with a PFAIL event recorded since they were last heard from.
    pfail_recorded: Vec<bool>,
    /// Nodes currently flagged FAIL by some node, for the timeline.
    fail_recorded: Vec<bool>,
    /// Each node's view of each shard's owner, from the claims it has heard.
    owners: OwnerViews,
    shards: u32,
    /// Each shard's slots (empty without CRC16 placement).
    shard_slots: Vec<Vec<u16>>,
    /// Which nodes have joined the cluster (all but the shards resharding adds, until
    /// their step), and how many.
    joined: Vec<bool>,
    joined_count: u32,
    /// Each slot's shard now (with CRC16 placement).
    slot_shard: Vec<u32>,
    /// Each shard's slots gained by resharding, in order.
    shard_gained: Vec<Vec<u16>>,
    end: SimTime,
}

/// A slot `db`'s node is importing: a claim on it does not move it
/// (`clusterUpdateSlotsConfigWith` skips `importing_slots_from`), so a reshard's
/// SETSLOT NODE decides.
fn importing(db: &store_core::Db, slot: u16) -> bool {
    db.slot_state(slot) == Some(store_core::SlotState::Importing)
}

/// One node's view of one shard: its owner, the owner's configEpoch, and how many of
/// the shard's gained slots (`Bus::shard_gained`) the node has applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ShardView {
    owner: u32,
    epoch: u64,
    seen: u32,
}

/// Every node's view of every shard: the view every node had at build (`base[s]`),
/// and per node the shards it sees otherwise, sorted by shard (none until a failover
/// or a reshard). A table of nodes x shards (16 MB at 1,000 nodes) cost a cache miss
/// on every message a primary sent, evicting the views the gossip reads, to confirm
/// what nearly always is the build's view.
struct OwnerViews {
    base: Vec<ShardView>,
    changed: Vec<Vec<(u32, ShardView)>>,
}

impl OwnerViews {
    fn get(&self, me: u32, shard: u32) -> ShardView {
        let changed = &self.changed[me as usize];
        if changed.is_empty() {
            return self.base[shard as usize];
        }
        match changed.binary_search_by_key(&shard, |c| c.0) {
            Ok(k) => changed[k].1,
            Err(_) => self.base[shard as usize],
        }
    }

    fn set(&mut self, me: u32, shard: u32, view: ShardView) {
        let changed = &mut self.changed[me as usize];
        match changed.binary_search_by_key(&shard, |c| c.0) {
            Ok(k) => changed[k].1 = view,
            Err(k) => {
                if view != self.base[shard as usize] {
                    changed.insert(k, (shard, view));
                }
            }
        }
    }
}

impl Bus {
    /// The bus of a converged cluster of `node_nics.len()` nodes (the first
    /// `primaries` are primaries, of which the first `initial` own slots and have
    /// joined; every node from `primaries` on is a replica, joined with its primary):
    /// pong times spread uniformly over the last node_timeout / 2 from a seeded
    /// stream, each node's cron at a random phase of its 100 ms.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        config: BusConfig,
        streams: &RngStreams,
        node_nics: Vec<NicId>,
        node_zones: Vec<u32>,
        zones: ZonesConfig,
        base_link: LinkConfig,
        primaries: u32,
        initial: u32,
        node_shard: Vec<u32>,
        shard_slots: Vec<Vec<u16>>,
        end: SimTime,
    ) -> Bus {
        let n = node_nics.len() as u32;
        let joined: Vec<bool> = node_shard.iter().map(|&s| s < initial).collect();
        let mut slot_shard = vec![
            u32::MAX;
            if shard_slots.iter().all(Vec::is_empty) {
                0
            } else {
                store_core::slots::SLOT_COUNT
            }
        ];
        for (s, slots) in shard_slots.iter().enumerate() {
            for &slot in slots {
                slot_shard[usize::from(slot)] = s as u32;
            }
        }
        let half_ms = config.node_timeout_ms / 2;
        let now_ms = bus_ms(SimTime::ZERO);
        let mut start = streams.stream("bus.start", 0);
        let mut hot = Vec::with_capacity((n as usize) * (n as usize));
        let mut cold = Vec::with_capacity((n as usize) * (n as usize));
        for i in 0..n {
            for j in 0..n {
                let age = if i == j {
                    0
                } else {
                    below(&mut start, half_ms.max(1))
                };
                let pong = now_ms - age;
                hot.push(Hot {
                    pong_received_ms: pong as u32,
                    flags: 0,
                    link_down: false,
                    pinging: false,
                });
                cold.push(Cold {
                    ping_sent_ms: 0,
                    data_received_ms: pong as u32,
                    fail_time_ms: 0,
                    queued_due_ms: u32::MAX,
                    link_created_ms: (now_ms - half_ms) as u32,
                });
            }
        }
        let nodes = (0..n)
            .map(|i| BusNode {
                rng: Lookahead::new(streams.stream("bus.node", u64::from(i))),
                iteration: 0,
                pinging: Vec::new(),
                due: DueWheel::new(half_ms, now_ms),
                pfail_nodes: 0,
                pfail: Vec::new(),
                links_down: Vec::new(),
                reports: BTreeMap::new(),
                inbox: Vec::new(),
                is_primary: i < primaries,
                owns_slots: i < initial,
                shard: node_shard[i as usize],
                current_epoch: u64::from(initial),
                config_epoch: if i < initial { u64::from(i) + 1 } else { 0 },
                last_vote_epoch: 0,
                voted_at_ms: BTreeMap::new(),
                auth_time_ms: 0,
                auth_sent: false,
                auth_epoch: 0,
                auth_count: 0,
                replaced: false,
                stats: NodeStats::default(),
            })
            .collect();
        let mut bus = Bus {
            config,
            n,
            hot,
            cold,
            in_gossip: vec![0; (n as usize).div_ceil(64)],
            due_scratch: Vec::new(),
            batch_scratch: Vec::new(),
            nodes,
            slot_owners: initial,
            pair_flow: vec![u32::MAX; (n as usize) * (n as usize)],
            flow_pair: Vec::with_capacity((n as usize) * (n as usize).saturating_sub(1)),
            node_nics,
            node_zones,
            zones,
            base_link,
            msgs: slab::Slab::new(),
            spare_gossip: Vec::new(),
            down: vec![false; n as usize],
            events: Vec::new(),
            pfail_recorded: vec![false; n as usize],
            fail_recorded: vec![false; n as usize],
            owners: OwnerViews {
                base: (0..primaries)
                    .map(|s| ShardView {
                        owner: s,
                        epoch: if s < initial { u64::from(s) + 1 } else { 0 },
                        seen: 0,
                    })
                    .collect(),
                changed: vec![Vec::new(); n as usize],
            },
            shards: primaries,
            shard_gained: vec![Vec::new(); shard_slots.len()],
            shard_slots,
            joined_count: joined.iter().filter(|&&j| j).count() as u32,
            joined,
            slot_shard,
            end,
        };
        for i in 0..n {
            for j in 0..n {
                if i != j && bus.joined[i as usize] && bus.joined[j as usize] {
                    bus.queue_due(i, j);
                }
            }
        }
        bus
    }

    /// `redis-cli --cluster add-node` for every node in `added`: each joins, every
    /// node knowing every other at once, with no link yet (each links at its next
    /// cron, with the handshake's PING), its pong times now; an added node takes the
    /// cluster's currentEpoch, every owner (and every slot moved before it joined),
    /// and starts its cron.
    pub fn join(&mut self, ctx: &mut Ctx<'_>, nodes: &mut Nodes, added: &[u32]) {
        let now = ctx.sched.now();
        let now_ms = bus_ms(now);
        let epoch = self
            .nodes
            .iter()
            .map(|b| b.current_epoch)
            .max()
            .unwrap_or(0);
        for &k in added {
            if self.joined[k as usize] {
                continue;
            }
            self.joined[k as usize] = true;
            self.joined_count += 1;
            self.nodes[k as usize].current_epoch = epoch;
            // Its store was built with the owners at the start: the slots moved since
            // go to their owners now.
            for s in 0..self.shards {
                let v = self.owners.get(0, s);
                self.owners.set(k, s, ShardView { seen: 0, ..v });
                self.apply_gained(nodes, k, v.owner, s);
            }
            self.nodes[k as usize].due.clear(now_ms);
            for j in 0..self.n {
                if j == k || !self.joined[j as usize] {
                    continue;
                }
                for (a, b) in [(j, k), (k, j)] {
                    self.hot_mut(a, b).pong_received_ms = now_ms as u32;
                    let c = self.cold_mut(a, b);
                    c.data_received_ms = now_ms as u32;
                    c.link_created_ms = now_ms as u32;
                    self.mark_link_down(a, b);
                    self.queue_due(a, b);
                }
            }
            let offset = below(&mut self.nodes[k as usize].rng, CRON_PERIOD.as_ns());
            ctx.sched.schedule_at(
                now + SimDuration::from_ns(offset),
                BusEv::Cron { node: k }.into(),
            );
        }
    }

    /// Whether node `node` has joined the cluster.
    pub fn has_joined(&self, node: u32) -> bool {
        self.joined[node as usize]
    }

    /// Every slot's shard now (empty without CRC16 placement).
    pub fn slot_shards(&self) -> &[u32] {
        &self.slot_shard
    }

    /// `CLUSTER SETSLOT slot NODE target` reached `target`, the primary of shard
    /// `to`, which imported the slot: the slot joins the shard, and the target bumps
    /// its configEpoch unless it is already the cluster's greatest
    /// (`clusterBumpConfigEpochWithoutConsensus`), so its claim wins everywhere. A
    /// primary left with no slot stops counting towards the failure quorum.
    pub fn move_slot(&mut self, slot: u16, to: u32, target: u32) {
        let from = self.slot_shard[usize::from(slot)];
        if from == to {
            return;
        }
        self.shard_slots[from as usize].retain(|&s| s != slot);
        self.shard_slots[to as usize].push(slot);
        self.shard_gained[to as usize].push(slot);
        self.slot_shard[usize::from(slot)] = to;
        if !self.nodes[target as usize].owns_slots {
            self.nodes[target as usize].owns_slots = true;
            self.slot_owners += 1;
        }
        if self.shard_slots[from as usize].is_empty() {
            for b in self
                .nodes
                .iter_mut()
                .filter(|b| b.shard == from && b.is_primary)
            {
                if b.owns_slots {
                    b.owns_slots = false;
                    self.slot_owners -= 1;
                }
            }
        }
        let max_epoch = self
            .nodes
            .iter()
            .map(|b| b.config_epoch)
            .max()
            .unwrap_or(0)
            .max(self.nodes[target as usize].current_epoch);
        let t = &mut self.nodes[target as usize];
        if t.config_epoch == 0 || t.config_epoch != max_epoch {
            t.current_epoch = max_epoch + 1;
            t.config_epoch = t.current_epoch;
        }
        let view = ShardView {
            owner: target,
            epoch: t.config_epoch,
            seen: self.shard_gained[to as usize].len() as u32,
        };
        self.owners.set(target, to, view);
    }

    /// Schedules every node's first cron.
    pub fn start(&mut self, sched: &mut sim::Scheduler<Ev>) {
        for node in 0..self.n {
            let offset = below(&mut self.nodes[node as usize].rng, CRON_PERIOD.as_ns());
            if self.joined[node as usize] {
                sched.schedule_at(SimTime::from_ns(offset), BusEv::Cron { node }.into());
            }
        }
    }

    #[inline]
    fn hot(&self, i: u32, j: u32) -> &Hot {
        &self.hot[(i * self.n + j) as usize]
    }

    #[inline]
    fn hot_mut(&mut self, i: u32, j: u32) -> &mut Hot {
        &mut self.hot[(i * self.n + j) as usize]
    }

    #[inline]
    fn cold(&self, i: u32, j: u32) -> &Cold {
        &self.cold[(i * self.n + j) as usize]
    }

    #[inline]
    fn cold_mut(&mut self, i: u32, j: u32) -> &mut Cold {
        &mut self.cold[(i * self.n + j) as usize]
    }

    /// Sets or clears node i's ping in flight to j, keeping the hot bit with the time.
    #[inline]
    fn set_ping_sent(&mut self, i: u32, j: u32, ms: u64) {
        self.cold_mut(i, j).ping_sent_ms = ms as u32;
        self.hot_mut(i, j).pinging = ms != 0;
    }

    /// Queues peer j of node i at the time the half-timeout rule will fire for it.
    fn queue_due(&mut self, i: u32, j: u32) {
        let half = self.config.node_timeout_ms / 2;
        let due = u64::from(self.hot(i, j).pong_received_ms) + half + 1;
        self.cold_mut(i, j).queued_due_ms = due as u32;
        self.nodes[i as usize].due.push(due, j);
    }

    pub fn handle(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        engine: &mut Engine,
        reqs: &mut Requests,
        repl: &mut Replication,
        ev: BusEv,
    ) {
        match ev {
            BusEv::Cron { node } => {
                let now = ctx.sched.now();
                let work_ns = if self.down[node as usize] {
                    0
                } else {
                    let work_ns = self.cron(ctx, node);
                    if !self.nodes[node as usize].is_primary {
                        self.replica_failover(ctx, nodes, repl, node);
                    }
                    engine.enqueue_bus_work(ctx, nodes, reqs, repl, node, work_ns, 0);
                    work_ns
                };
                // ae re-arms the 100 ms timer when the handler returns, and its event
                // loop sleeps in whole milliseconds rounded up, so each period runs a
                // little long: over a second the cron drifts against the whole-second
                // pong times of the gossip, which the half-timeout rule resonates with
                // at a 2 s node timeout.
                let late_ns = below(&mut self.nodes[node as usize].rng, TIMER_ROUNDING_NS);
                let next = now + CRON_PERIOD + SimDuration::from_ns(work_ns + late_ns);
                if next <= self.end {
                    ctx.sched.schedule_at(next, BusEv::Cron { node }.into());
                }
            }
        }
    }

    /// One clusterCron of node `me`; returns its CPU work (the walks and the pings it
    /// built).
    fn cron(&mut self, ctx: &mut Ctx<'_>, me: u32) -> u64 {
        let now_ms = bus_ms(ctx.sched.now());
        let timeout = self.config.node_timeout_ms;
        let n = self.n;
        let mut work_ns = self.config.per_node_per_cron_ns * u64::from(self.joined_count);
        let node = &mut self.nodes[me as usize];
        node.iteration += 1;
        let iteration = node.iteration;

        // clusterNodeCronHandleReconnect: count PFAIL nodes, reconnect freed links (the
        // new link pings at once, keeping an older ping's time).
        let node = &mut self.nodes[me as usize];
        node.pfail_nodes = node.pfail.len() as u32;
        let reconnect = std::mem::take(&mut node.links_down);
        for j in reconnect {
            let old = u64::from(self.cold(me, j).ping_sent_ms);
            self.hot_mut(me, j).link_down = false;
            self.cold_mut(me, j).link_created_ms = now_ms as u32;
            work_ns += self.send_ping(ctx, me, j, MsgType::Ping, false);
            if old != 0 {
                self.set_ping_sent(me, j, old);
            }
        }

        // Once a second: ping the oldest pong among 5 random nodes.
        if iteration % 10 == 0 {
            let mut best: Option<(u64, u32)> = None;
            for _ in 0..5 {
                let j = below(&mut self.nodes[me as usize].rng, u64::from(n)) as u32;
                let v = self.hot(me, j);
                if j == me || v.link_down || v.pinging || !self.joined[j as usize] {
                    continue;
                }
                if best.is_none_or(|(p, _)| p > u64::from(v.pong_received_ms)) {
                    best = Some((u64::from(v.pong_received_ms), j));
                }
            }
            if let Some((_, j)) = best {
                work_ns += self.send_ping(ctx, me, j, MsgType::Ping, false);
            }
        }

        // Pings in flight: free a silent link, flag PFAIL a node silent for the timeout.
        let pinging = std::mem::take(&mut self.nodes[me as usize].pinging);
        // Each is a random view: have them all loading before the first is read.
        for &j in &pinging {
            sim::hint::prefetch_all(self.cold(me, j));
        }
        for &j in &pinging {
            let v = *self.cold(me, j);
            let ping_delay = now_ms.saturating_sub(u64::from(v.ping_sent_ms));
            let data_delay = now_ms.saturating_sub(u64::from(v.data_received_ms));
            if !self.hot(me, j).link_down
                && now_ms.saturating_sub(u64::from(v.link_created_ms)) > timeout
                && ping_delay > timeout / 2
                && data_delay > timeout / 2
            {
                self.free_link(ctx, me, j);
            }
            if ping_delay.min(data_delay) > timeout
                && self.hot(me, j).flags & (FLAG_PFAIL | FLAG_FAIL) == 0
            {
                self.set_pfail(me, j, true);
                if !self.pfail_recorded[j as usize] {
                    self.pfail_recorded[j as usize] = true;
                    self.events.push(BusEvent::Pfail {
                        at_ns: ctx.sched.now().as_ns(),
                        node: j,
                        by: me,
                    });
                }
            }
        }
        debug_assert!(self.nodes[me as usize].pinging.is_empty());
        self.nodes[me as usize].pinging = pinging;

        // The half-timeout rule: ping every node whose pong is older than timeout / 2,
        // in (due, peer) order. What is due is known before any is handled: a requeued
        // entry is due after now.
        let mut due_now = std::mem::take(&mut self.due_scratch);
        self.nodes[me as usize].due.take_due(now_ms, &mut due_now);
        for &(_, j) in &due_now {
            sim::hint::prefetch_all(self.cold(me, j));
            sim::hint::prefetch_all(self.hot(me, j));
        }
        for &(due, j) in &due_now {
            let queued = self.cold(me, j).queued_due_ms;
            let v = *self.hot(me, j);
            if queued != due || v.pinging {
                // A stale entry, or a ping in flight (the pong requeues it).
                if queued == due {
                    self.cold_mut(me, j).queued_due_ms = u32::MAX;
                }
                continue;
            }
            if now_ms.saturating_sub(u64::from(v.pong_received_ms)) > timeout / 2 && !v.link_down {
                self.cold_mut(me, j).queued_due_ms = u32::MAX;
                work_ns += self.send_ping(ctx, me, j, MsgType::Ping, false);
            } else {
                // Gossip moved the pong forward (or the link is being reconnected).
                let later = (u64::from(v.pong_received_ms) + timeout / 2 + 1).max(now_ms + 1);
                self.cold_mut(me, j).queued_due_ms = later as u32;
                self.nodes[me as usize].due.push(later, j);
            }
        }
        due_now.clear();
        self.due_scratch = due_now;
        work_ns
    }

    /// Sets or clears node `me`'s PFAIL flag on `j`, keeping its list of PFAIL peers.
    fn set_pfail(&mut self, me: u32, j: u32, on: bool) {
        let v = self.hot_mut(me, j);
        let was = v.flags & FLAG_PFAIL != 0;
        if on {
            v.flags |= FLAG_PFAIL;
        } else {
            v.flags &= !FLAG_PFAIL;
        }
        let list = &mut self.nodes[me as usize].pfail;
        if on && !was {
            list.push(j);
        } else if !on && was {
            if let Some(k) = list.iter().position(|&x| x == j) {
                list.remove(k);
            }
        }
    }

    /// Marks node `me`'s outbound link to `j` down, for the next cron to reconnect.
    fn mark_link_down(&mut self, me: u32, j: u32) {
        let v = self.hot_mut(me, j);
        if !v.link_down {
            v.link_down = true;
            self.nodes[me as usize].links_down.push(j);
        }
    }

    /// Frees node `me`'s outbound link to `j`: its flow is reset (what was on its way is
    /// lost), and the next cron reconnects.
    fn free_link(&mut self, ctx: &mut Ctx<'_>, me: u32, j: u32) {
        self.mark_link_down(me, j);
        let f = self.pair_flow[(me * self.n + j) as usize];
        if f != u32::MAX {
            let flow = ctx.flows.flow(FlowKind::ClusterBus, f);
            ctx.net.reset_flow(ctx.sched, flow);
        }
    }

    /// The flow from `a` to `b`, opened at its first message.
    fn flow(&mut self, ctx: &mut Ctx<'_>, a: u32, b: u32) -> FlowId {
        let pair = (a * self.n + b) as usize;
        let f = self.pair_flow[pair];
        if f != u32::MAX {
            return ctx.flows.flow(FlowKind::ClusterBus, f);
        }
        let link = super::zones::path_between(
            &self.zones,
            self.node_zones[a as usize],
            self.node_zones[b as usize],
            &self.base_link,
        );
        let (flow, index) = ctx.flows.open_late(
            ctx.net,
            FlowKind::ClusterBus,
            u64::from(a) * u64::from(self.n) + u64::from(b),
            self.node_nics[a as usize],
            self.node_nics[b as usize],
            link,
        );
        debug_assert_eq!(index as usize, self.flow_pair.len());
        self.pair_flow[pair] = index;
        self.flow_pair.push((a, b));
        flow
    }

    /// Builds and sends a PING or PONG from `me` to `to` (clusterSendPing); returns
    /// the CPU work of building it.
    fn send_ping(&mut self, ctx: &mut Ctx<'_>, me: u32, to: u32, ty: MsgType, reply: bool) -> u64 {
        let now_ms = bus_ms(ctx.sched.now());
        let n = self.n;
        let mut gossip = self.spare_gossip.pop().unwrap_or_default();
        gossip.clear();
        let mut fresh = u64::from(self.joined_count).saturating_sub(2);
        let wanted = wanted_gossip_entries(u64::from(self.joined_count));
        if ty == MsgType::Ping && !reply {
            if !self.hot(me, to).pinging {
                self.nodes[me as usize].pinging.push(to);
            }
            self.set_ping_sent(me, to, now_ms);
        }
        let mut iterations = wanted * 3;
        // The message leaves on the pair's flow once its gossip is built: have the
        // flow's state (a random one of a million) loading meanwhile.
        let f = self.pair_flow[(me * n + to) as usize];
        if f != u32::MAX {
            ctx.net
                .prefetch_flow(ctx.flows.flow(FlowKind::ClusterBus, f));
        }
        let base = (me * n) as usize;
        let row = &self.hot[base..base + n as usize];
        let nodes = &mut self.nodes;
        // The picks are random views, each a likely cache miss: the node's stream is
        // looked ahead in to load the view picked BUILD_PREFETCH_AHEAD draws on (a peek
        // takes no draw, so the picks are what they would be without it).
        for k in 0..BUILD_PREFETCH_AHEAD.min(iterations) {
            let ahead = nodes[me as usize].rng.peek_below(k as usize, u64::from(n));
            sim::hint::prefetch_all(&row[ahead as usize]);
        }
        while fresh > 0 && (gossip.len() as u64) < wanted && iterations > 0 {
            iterations -= 1;
            if iterations >= BUILD_PREFETCH_AHEAD {
                let ahead = nodes[me as usize]
                    .rng
                    .peek_below(BUILD_PREFETCH_AHEAD as usize, u64::from(n));
                sim::hint::prefetch_all(&row[ahead as usize]);
            }
            let j = below(&mut nodes[me as usize].rng, u64::from(n)) as u32;
            if j == me || !self.joined[j as usize] {
                continue;
            }
            let v = &row[j as usize];
            if v.flags & FLAG_PFAIL != 0 {
                continue;
            }
            // A node with no link and no slots (a replica we cannot reach) is skipped.
            if v.link_down && !(nodes[j as usize].owns_slots) {
                fresh -= 1;
                continue;
            }
            let (word, bit) = ((j / 64) as usize, 1u64 << (j % 64));
            if self.in_gossip[word] & bit != 0 {
                continue;
            }
            self.in_gossip[word] |= bit;
            gossip.push(Gossip {
                node: j,
                pong_received_s: unix_s(u64::from(v.pong_received_ms)) as u32,
                flags: v.flags,
            });
            fresh -= 1;
        }
        for g in &gossip {
            self.in_gossip[(g.node / 64) as usize] = 0;
        }
        let pfail_wanted = self.nodes[me as usize].pfail_nodes as usize;
        for k in 0..pfail_wanted.min(self.nodes[me as usize].pfail.len()) {
            let j = self.nodes[me as usize].pfail[k];
            let v = self.hot(me, j);
            gossip.push(Gossip {
                node: j,
                pong_received_s: unix_s(u64::from(v.pong_received_ms)) as u32,
                flags: v.flags,
            });
        }
        let entries = gossip.len() as u64;
        let bytes = ping_bytes(entries);
        self.nodes[me as usize].stats.gossip_entries_sent += entries;
        self.transmit(
            ctx,
            Msg {
                ty,
                from: me,
                to,
                bytes,
                reply,
                about: 0,
                current_epoch: self.nodes[me as usize].current_epoch,
                claim_shard: self.claim_of(me).0,
                claim_epoch: self.claim_of(me).1,
                gossip,
            },
        );
        self.config.per_message_ns + self.config.per_gossip_entry_ns * entries
    }

    /// Sends a message on its pair's flow, counting it at the sender.
    fn transmit(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        let now = ctx.sched.now();
        let (from, to, bytes, ty) = (msg.from, msg.to, msg.bytes, msg.ty);
        let flow = self.flow(ctx, from, to);
        let s = &mut self.nodes[from as usize].stats;
        s.sent[ty as usize] += 1;
        s.bytes_sent += bytes;
        s.per_s.add(now, BYTES_SENT, bytes);
        s.per_s.add(now, MESSAGES_SENT, 1);
        let token = self.msgs.insert(msg) as u64;
        ctx.net.send(ctx.sched, flow, bytes, token);
    }

    /// The sender and receiver of message `token`.
    pub fn message_ends(&self, token: u64) -> (u32, u32) {
        let m = &self.msgs[token as usize];
        (m.from, m.to)
    }

    /// A message reached its receiver: it waits for the receiver's main thread.
    #[allow(clippy::too_many_arguments)]
    pub fn on_delivery(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        engine: &mut Engine,
        reqs: &mut Requests,
        repl: &mut Replication,
        token: u64,
    ) {
        let now = ctx.sched.now();
        let m = &self.msgs[token as usize];
        let (to, bytes, ty, entries) = (m.to, m.bytes, m.ty, m.gossip.len() as u64);
        if self.down[to as usize] {
            self.free_msg(token as usize);
            return;
        }
        let s = &mut self.nodes[to as usize].stats;
        s.received[ty as usize] += 1;
        s.bytes_received += bytes;
        s.per_s.add(now, BYTES_RECEIVED, bytes);
        s.per_s.add(now, MESSAGES_RECEIVED, 1);
        self.nodes[to as usize].inbox.push(token as usize);
        // Its gossip is read when the main thread has processed it, milliseconds on:
        // start loading it now, from wherever it went since it was written.
        let gossip = &self.msgs[token as usize].gossip;
        for k in (0..gossip.len()).step_by(64 / std::mem::size_of::<Gossip>()) {
            sim::hint::prefetch_all(&gossip[k]);
        }
        let work = self.config.per_message_ns + self.config.per_gossip_entry_ns * entries;
        engine.enqueue_bus_work(ctx, nodes, reqs, repl, to, work, 1);
    }

    /// Node `node`'s main thread has done `work_ns` of bus work, which processed its
    /// first `messages` waiting messages.
    #[allow(clippy::too_many_arguments)]
    pub fn work_done(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        engine: &mut Engine,
        reqs: &mut Requests,
        repl: &mut Replication,
        node: u32,
        work_ns: u64,
        messages: u32,
    ) {
        let now = ctx.sched.now();
        let s = &mut self.nodes[node as usize].stats;
        s.cpu_ns += work_ns;
        s.per_s.add(now, CPU_NS, work_ns);
        let take = (messages as usize).min(self.nodes[node as usize].inbox.len());
        let mut batch = std::mem::take(&mut self.batch_scratch);
        batch.extend(self.nodes[node as usize].inbox.drain(..take));
        let mut reply_work = 0;
        for &token in &batch {
            reply_work += self.process(ctx, nodes, repl, token);
        }
        batch.clear();
        self.batch_scratch = batch;
        if reply_work > 0 {
            engine.enqueue_bus_work(ctx, nodes, reqs, repl, node, reply_work, 0);
        }
    }

    fn free_msg(&mut self, token: usize) {
        let m = self.msgs.remove(token);
        self.spare_gossip.push(m.gossip);
    }

    /// clusterProcessPacket for one message at its receiver; returns the CPU work of
    /// what it sent in answer.
    fn process(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        repl: &mut Replication,
        token: usize,
    ) -> u64 {
        let now_ms = bus_ms(ctx.sched.now());
        let m = self.msgs.remove(token);
        let (me, from) = (m.to, m.from);
        let mut work = 0;
        if self.down[me as usize] {
            self.spare_gossip.push(m.gossip);
            return 0;
        }
        self.cold_mut(me, from).data_received_ms = now_ms as u32;
        // The header: a newer currentEpoch is adopted; a restarted node that lost its
        // slots learns it (the UPDATE any node answers its stale claim with); a claim
        // with a newer configEpoch moves the shard's slots in this node's view.
        let node = &mut self.nodes[me as usize];
        node.current_epoch = node.current_epoch.max(m.current_epoch);
        if node.replaced {
            node.replaced = false;
            self.rejoin(ctx, nodes, repl, me);
        }
        if m.claim_shard != u32::MAX {
            self.learn_claim(nodes, repl, ctx, me, from, m.claim_shard, m.claim_epoch);
        }
        match m.ty {
            MsgType::Ping | MsgType::Pong => {
                if m.ty == MsgType::Ping {
                    work += self.send_ping(ctx, me, from, MsgType::Pong, true);
                }
                if m.ty == MsgType::Pong && m.reply {
                    let was_pinging = self.hot(me, from).pinging;
                    self.hot_mut(me, from).pong_received_ms = now_ms as u32;
                    self.set_ping_sent(me, from, 0);
                    if was_pinging {
                        let p = &mut self.nodes[me as usize].pinging;
                        if let Some(k) = p.iter().position(|&x| x == from) {
                            p.swap_remove(k);
                        }
                    }
                    let flags = self.hot(me, from).flags;
                    if flags & FLAG_PFAIL != 0 {
                        self.set_pfail(me, from, false);
                        self.pfail_recorded[from as usize] = false;
                    } else if flags & FLAG_FAIL != 0 {
                        self.clear_failure_if_needed(ctx, me, from, now_ms);
                    }
                    self.queue_due(me, from);
                }
                self.process_gossip(ctx, me, from, &m.gossip, now_ms);
            }
            MsgType::Fail => {
                let failing = m.about;
                if failing != me && self.hot(me, failing).flags & FLAG_FAIL == 0 {
                    self.set_pfail(me, failing, false);
                    self.hot_mut(me, failing).flags |= FLAG_FAIL;
                    self.cold_mut(me, failing).fail_time_ms = now_ms as u32;
                }
            }
            MsgType::FailoverAuthRequest => self.maybe_vote(ctx, me, from, m.current_epoch, now_ms),
            MsgType::FailoverAuthAck => {
                let b = &self.nodes[from as usize];
                let counts = b.is_primary && b.owns_slots;
                let r = &mut self.nodes[me as usize];
                if counts && r.auth_sent && m.current_epoch >= r.auth_epoch {
                    r.auth_count += 1;
                    // A majority of the slot-owning primaries (needed_quorum).
                    if r.auth_count > self.slot_owners / 2 && !r.is_primary {
                        self.promote(ctx, nodes, repl, me);
                    }
                }
            }
            MsgType::Update => {}
        }
        self.spare_gossip.push(m.gossip);
        work
    }

    /// clusterProcessGossipSection.
    fn process_gossip(
        &mut self,
        ctx: &mut Ctx<'_>,
        me: u32,
        sender: u32,
        gossip: &[Gossip],
        now_ms: u64,
    ) {
        let sender_is_primary = self.nodes[sender as usize].is_primary;
        // Mostly no entry is flagged and the node holds no failure report: then none is
        // added, dropped or counted, and the entries only move pong times forward.
        let quiet = self.nodes[me as usize].reports.is_empty()
            && gossip
                .iter()
                .all(|g| g.flags & (FLAG_PFAIL | FLAG_FAIL) == 0);
        let base = (me * self.n) as usize;
        for g in gossip.iter().take(PROCESS_PREFETCH_AHEAD) {
            sim::hint::prefetch_all(&self.hot[base + g.node as usize]);
        }
        for (k, g) in gossip.iter().enumerate() {
            // Each entry is a random view: load the one PROCESS_PREFETCH_AHEAD entries on.
            if let Some(next) = gossip.get(k + PROCESS_PREFETCH_AHEAD) {
                sim::hint::prefetch_all(&self.hot[base + next.node as usize]);
            }
            let j = g.node;
            if j == me {
                continue;
            }
            if sender_is_primary && !quiet {
                if g.flags & (FLAG_PFAIL | FLAG_FAIL) != 0 {
                    self.add_failure_report(me, j, sender, now_ms);
                    self.mark_failing_if_needed(ctx, me, j, now_ms);
                } else {
                    self.del_failure_report(me, j, sender);
                }
            }
            if g.flags & (FLAG_PFAIL | FLAG_FAIL) == 0
                && !self.hot(me, j).pinging
                && (quiet || self.failure_reports(me, j, now_ms) == 0)
            {
                let pong_ms = bus_ms_of_unix_s(u64::from(g.pong_received_s));
                let v = self.hot_mut(me, j);
                if pong_ms <= now_ms + 500 && pong_ms > u64::from(v.pong_received_ms) {
                    v.pong_received_ms = (pong_ms) as u32;
                }
            }
        }
    }

    fn add_failure_report(&mut self, me: u32, about: u32, reporter: u32, now_ms: u64) {
        let list = self.nodes[me as usize].reports.entry(about).or_default();
        match list.iter_mut().find(|(r, _)| *r == reporter) {
            Some(r) => r.1 = now_ms,
            None => list.push((reporter, now_ms)),
        }
    }

    fn del_failure_report(&mut self, me: u32, about: u32, reporter: u32) {
        // Most nodes hold no report at all: skip the map's walk.
        if self.nodes[me as usize].reports.is_empty() {
            return;
        }
        if let Some(list) = self.nodes[me as usize].reports.get_mut(&about) {
            list.retain(|(r, _)| *r != reporter);
            if list.is_empty() {
                self.nodes[me as usize].reports.remove(&about);
            }
        }
    }

    /// clusterNodeFailureReportsCount, after dropping reports older than their validity.
    fn failure_reports(&mut self, me: u32, about: u32, now_ms: u64) -> u32 {
        let validity = self.config.node_timeout_ms * FAIL_REPORT_VALIDITY_MULT;
        let reports = &mut self.nodes[me as usize].reports;
        // Most nodes hold no report at all: skip the map's walk.
        if reports.is_empty() {
            return 0;
        }
        let Some(list) = reports.get_mut(&about) else {
            return 0;
        };
        list.retain(|&(_, t)| now_ms.saturating_sub(t) <= validity);
        let count = list.len() as u32;
        if count == 0 {
            reports.remove(&about);
        }
        count
    }

    /// markNodeAsFailingIfNeeded.
    fn mark_failing_if_needed(&mut self, ctx: &mut Ctx<'_>, me: u32, about: u32, now_ms: u64) {
        let quorum = self.slot_owners / 2 + 1;
        let v = self.hot(me, about);
        if v.flags & FLAG_PFAIL == 0 || v.flags & FLAG_FAIL != 0 {
            return;
        }
        let mut failures = self.failure_reports(me, about, now_ms);
        if self.nodes[me as usize].is_primary {
            failures += 1;
        }
        if failures < quorum {
            return;
        }
        self.set_pfail(me, about, false);
        self.hot_mut(me, about).flags |= FLAG_FAIL;
        self.cold_mut(me, about).fail_time_ms = now_ms as u32;
        if !self.fail_recorded[about as usize] {
            self.fail_recorded[about as usize] = true;
            self.events.push(BusEvent::Fail {
                at_ns: ctx.sched.now().as_ns(),
                node: about,
                by: me,
            });
        }
        // clusterSendFail: to every node with a link (the failing one included).
        for j in 0..self.n {
            if j == me || self.hot(me, j).link_down || !self.joined[j as usize] {
                continue;
            }
            let msg = self.control_msg(MsgType::Fail, me, j, FAIL_BYTES, about);
            self.transmit(ctx, msg);
        }
    }

    /// clearNodeFailureIfNeeded: `about` answered `me` while flagged FAIL.
    fn clear_failure_if_needed(&mut self, ctx: &mut Ctx<'_>, me: u32, about: u32, now_ms: u64) {
        let timeout = self.config.node_timeout_ms;
        let owns = self.nodes[about as usize].owns_slots;
        let fail_time_ms = u64::from(self.cold(me, about).fail_time_ms);
        let clear = !owns || now_ms.saturating_sub(fail_time_ms) > timeout * FAIL_UNDO_TIME_MULT;
        if clear {
            self.hot_mut(me, about).flags &= !FLAG_FAIL;
            if self.fail_recorded[about as usize] {
                self.fail_recorded[about as usize] = false;
                self.events.push(BusEvent::FailCleared {
                    at_ns: ctx.sched.now().as_ns(),
                    node: about,
                    by: me,
                });
            }
        }
    }

    /// A message with no gossip and no claim (FAIL, votes), from `from` with its
    /// currentEpoch.
    fn control_msg(&mut self, ty: MsgType, from: u32, to: u32, bytes: u64, about: u32) -> Msg {
        Msg {
            ty,
            from,
            to,
            bytes,
            reply: false,
            about,
            current_epoch: self.nodes[from as usize].current_epoch,
            claim_shard: u32::MAX,
            claim_epoch: 0,
            gossip: self.spare_gossip.pop().unwrap_or_default(),
        }
    }

    /// What a node's header claims: its shard and configEpoch when it is a primary
    /// owning slots.
    fn claim_of(&self, me: u32) -> (u32, u64) {
        let b = &self.nodes[me as usize];
        if b.is_primary && b.owns_slots {
            (b.shard, b.config_epoch)
        } else {
            (u32::MAX, 0)
        }
    }

    /// clusterUpdateSlotsConfigWith, by shard: `from` claims shard `shard`'s slots
    /// with `epoch`; if that is newer than the owner `me` knows, `me`'s view (and its
    /// store's slot table) moves them to `from`, and a replica of the shard follows its
    /// new primary.
    #[allow(clippy::too_many_arguments)]
    fn learn_claim(
        &mut self,
        nodes: &mut Nodes,
        repl: &mut Replication,
        ctx: &mut Ctx<'_>,
        me: u32,
        from: u32,
        shard: u32,
        epoch: u64,
    ) {
        let v = self.owners.get(me, shard);
        let gained = self.shard_gained[shard as usize].len() as u32;
        if epoch <= v.epoch || v.owner == from {
            if v.owner == from {
                if epoch > v.epoch {
                    self.owners.set(me, shard, ShardView { epoch, ..v });
                }
                if v.seen != gained {
                    self.apply_gained(nodes, me, from, shard);
                }
            }
            return;
        }
        let view = ShardView {
            owner: from,
            epoch,
            seen: gained,
        };
        self.owners.set(me, shard, view);
        if me == from {
            return;
        }
        let db = nodes.nodes[me as usize].db.only_mut();
        let to = store_core::NodeRef(from as u16);
        for &slot in &self.shard_slots[shard as usize] {
            if !importing(db, slot) {
                db.set_slot_state(slot, store_core::SlotState::Elsewhere(to));
            }
        }
        if self.nodes[me as usize].shard == shard {
            db.set_cluster_replica_of(Some(to));
            // A primary that lost its slots to a newer epoch becomes its replica.
            if self.nodes[me as usize].is_primary {
                self.nodes[me as usize].is_primary = false;
                self.nodes[me as usize].owns_slots = false;
                if repl.primary_of(shard) != me && repl.link_of(me).is_none() {
                    self.rejoin(ctx, nodes, repl, me);
                }
            }
        }
    }

    /// Node `me` heard the claim of `from`, the owner of `shard`, whose slot list has
    /// grown since `me` last applied it: the slots gained since (those still the
    /// shard's) are `from`'s in `me`'s store.
    fn apply_gained(&mut self, nodes: &mut Nodes, me: u32, from: u32, shard: u32) {
        let v = self.owners.get(me, shard);
        let gained = &self.shard_gained[shard as usize];
        let seen = v.seen as usize;
        if me != from {
            let db = nodes.nodes[me as usize].db.only_mut();
            let to = store_core::NodeRef(from as u16);
            for &slot in &gained[seen..] {
                if self.slot_shard[usize::from(slot)] == shard && !importing(db, slot) {
                    db.set_slot_state(slot, store_core::SlotState::Elsewhere(to));
                }
            }
        }
        let seen = gained.len() as u32;
        self.owners.set(me, shard, ShardView { seen, ..v });
    }

    /// A node whose shard has another primary now becomes that primary's replica.
    fn rejoin(&mut self, ctx: &mut Ctx<'_>, nodes: &mut Nodes, repl: &mut Replication, me: u32) {
        let shard = self.nodes[me as usize].shard;
        let primary = repl.primary_of(shard);
        if primary == me || repl.link_of(me).is_some() {
            return;
        }
        let b = &mut self.nodes[me as usize];
        b.is_primary = false;
        b.owns_slots = false;
        repl.rejoin_as_replica(ctx, nodes, me);
        let to = store_core::NodeRef(primary as u16);
        let db = nodes.nodes[me as usize].db.only_mut();
        for &slot in &self.shard_slots[shard as usize] {
            db.set_slot_state(slot, store_core::SlotState::Elsewhere(to));
        }
        db.set_cluster_replica_of(Some(to));
        let v = self.owners.get(me, shard);
        let epoch = self.nodes[primary as usize].config_epoch;
        self.owners.set(
            me,
            shard,
            ShardView {
                owner: primary,
                epoch,
                ..v
            },
        );
        self.events.push(BusEvent::Rejoined {
            at_ns: ctx.sched.now().as_ns(),
            node: me,
            by: primary,
        });
    }

    /// clusterHandleSlaveFailover, at each cron of replica `me`: once its primary is
    /// FAIL in its view, it waits 500 ms + a random 0-500 ms + 1 s per sibling replica
    /// with a larger replication offset, then asks every node for its vote in a new
    /// epoch; an election not won in max(2 x node_timeout, 2 s) is retried after twice
    /// that.
    fn replica_failover(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        repl: &mut Replication,
        me: u32,
    ) {
        let _ = nodes;
        let now_ms = bus_ms(ctx.sched.now());
        let shard = self.nodes[me as usize].shard;
        let primary = repl.primary_of(shard);
        if primary == me
            || repl.link_of(me).is_none()
            || self.hot(me, primary).flags & FLAG_FAIL == 0
            || !self.nodes[primary as usize].owns_slots
        {
            return;
        }
        let auth_timeout = (2 * self.config.node_timeout_ms).max(2_000);
        let b = &self.nodes[me as usize];
        let age = now_ms.saturating_sub(b.auth_time_ms);
        if b.auth_time_ms == 0 || (now_ms >= b.auth_time_ms && age > 2 * auth_timeout) {
            let mine = repl.replica_offset(me).unwrap_or(0);
            let rank = (0..self.n)
                .filter(|&k| k != me && self.nodes[k as usize].shard == shard)
                .filter(|&k| repl.replica_offset(k).is_some_and(|o| o > mine))
                .count() as u64;
            let jitter = below(&mut self.nodes[me as usize].rng, 500);
            let b = &mut self.nodes[me as usize];
            b.auth_time_ms = now_ms + 500 + jitter + 1_000 * rank;
            b.auth_sent = false;
            b.auth_count = 0;
            return;
        }
        if now_ms < b.auth_time_ms || age > auth_timeout || b.auth_sent {
            return;
        }
        let b = &mut self.nodes[me as usize];
        b.current_epoch += 1;
        b.auth_epoch = b.current_epoch;
        b.auth_sent = true;
        self.events.push(BusEvent::Election {
            at_ns: ctx.sched.now().as_ns(),
            node: me,
            by: primary,
        });
        for j in 0..self.n {
            if j == me || self.hot(me, j).link_down || !self.joined[j as usize] {
                continue;
            }
            let msg = self.control_msg(MsgType::FailoverAuthRequest, me, j, AUTH_BYTES, primary);
            self.transmit(ctx, msg);
        }
    }

    /// clusterSendFailoverAuthIfNeeded: primary `me` votes for replica `from` once per
    /// epoch, when the replica's primary is FAIL in its view and it has not voted for a
    /// replica of that primary within twice the node timeout.
    fn maybe_vote(&mut self, ctx: &mut Ctx<'_>, me: u32, from: u32, epoch: u64, now_ms: u64) {
        let b = &self.nodes[me as usize];
        if !(b.is_primary && b.owns_slots) || epoch < b.current_epoch {
            return;
        }
        if b.last_vote_epoch == b.current_epoch {
            return;
        }
        let shard = self.nodes[from as usize].shard;
        let failed = self.owners.get(me, shard).owner;
        if failed == from || self.hot(me, failed).flags & FLAG_FAIL == 0 {
            return;
        }
        let window = 2 * self.config.node_timeout_ms;
        if b.voted_at_ms
            .get(&failed)
            .is_some_and(|&t| now_ms.saturating_sub(t) < window)
        {
            return;
        }
        let b = &mut self.nodes[me as usize];
        b.last_vote_epoch = b.current_epoch;
        b.voted_at_ms.insert(failed, now_ms);
        let msg = self.control_msg(MsgType::FailoverAuthAck, me, from, AUTH_BYTES, 0);
        self.transmit(ctx, msg);
    }

    /// clusterFailoverReplaceYourMaster: replica `me` won; it becomes its shard's
    /// primary (replication promotes it, its store takes the slots), its configEpoch
    /// the election's, and it broadcasts a PONG so every node learns at once.
    fn promote(&mut self, ctx: &mut Ctx<'_>, nodes: &mut Nodes, repl: &mut Replication, me: u32) {
        let shard = self.nodes[me as usize].shard;
        let old = repl.primary_of(shard);
        let promotion = repl.promote(ctx, nodes, me);
        let db = nodes.nodes[me as usize].db.only_mut();
        db.set_cluster_replica_of(None);
        for &slot in &self.shard_slots[shard as usize] {
            db.set_slot_state(slot, store_core::SlotState::Owned);
        }
        let epoch = self.nodes[me as usize].auth_epoch;
        let b = &mut self.nodes[me as usize];
        b.is_primary = true;
        b.owns_slots = true;
        b.config_epoch = epoch;
        b.auth_time_ms = 0;
        b.auth_sent = false;
        let o = &mut self.nodes[old as usize];
        o.is_primary = false;
        o.owns_slots = false;
        let v = self.owners.get(me, shard);
        self.owners.set(
            me,
            shard,
            ShardView {
                owner: me,
                epoch,
                ..v
            },
        );
        self.events.push(BusEvent::Promoted {
            at_ns: ctx.sched.now().as_ns(),
            node: me,
            by: old,
            lost_writes: promotion.lost_writes,
            lost_bytes: promotion.lost_stream_bytes,
        });
        for j in 0..self.n {
            if j != me && !self.hot(me, j).link_down && self.joined[j as usize] {
                self.send_ping(ctx, me, j, MsgType::Pong, false);
            }
        }
    }

    /// A node crashed: it runs nothing until it restarts.
    pub fn on_crash(&mut self, node: u32) {
        self.down[node as usize] = true;
    }

    /// A crashed node restarts with its cluster config (nodes.conf survives a restart,
    /// the data does not): pong times of the peers it knew reset to now, as
    /// `clusterLoadConfig` does, no ping in flight, links reconnected by the next cron.
    pub fn on_restart(&mut self, ctx: &mut Ctx<'_>, node: u32, repl: &Replication) {
        let now_ms = bus_ms(ctx.sched.now());
        self.down[node as usize] = false;
        let shard = self.nodes[node as usize].shard;
        if repl.primary_of(shard) != node && repl.link_of(node).is_none() {
            self.nodes[node as usize].replaced = true;
        }
        let inbox = std::mem::take(&mut self.nodes[node as usize].inbox);
        for token in inbox {
            self.free_msg(token);
        }
        let b = &mut self.nodes[node as usize];
        b.pinging.clear();
        b.due.clear(now_ms);
        b.reports.clear();
        b.pfail_nodes = 0;
        b.pfail.clear();
        b.links_down.clear();
        for j in 0..self.n {
            self.set_ping_sent(node, j, 0);
            self.cold_mut(node, j).data_received_ms = now_ms as u32;
            let v = self.hot_mut(node, j);
            v.pong_received_ms = now_ms as u32;
            v.flags = 0;
            v.link_down = false;
            if j != node && self.joined[j as usize] {
                self.mark_link_down(node, j);
                self.queue_due(node, j);
                // Its old connections are gone: peers' links to it are reset too.
                let f = self.pair_flow[(j * self.n + node) as usize];
                if f != u32::MAX {
                    let flow = ctx.flows.flow(FlowKind::ClusterBus, f);
                    ctx.net.reset_flow(ctx.sched, flow);
                }
            }
        }
    }

    /// The network gave up on a bus flow: its sender's link is freed.
    pub fn on_aborted(&mut self, ctx: &mut Ctx<'_>, index: u32) {
        let (a, b) = self.flow_pair[index as usize];
        self.mark_link_down(a, b);
        let _ = ctx;
    }

    /// The bus's results.
    pub fn finish(&self, names: &[String], elapsed: SimDuration) -> BusResult {
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let s = &b.stats;
                NodeBusResult {
                    node: names[i].clone(),
                    messages_sent: MsgType::ALL
                        .iter()
                        .map(|&t| (t, s.sent[t as usize]))
                        .filter(|&(_, c)| c > 0)
                        .collect(),
                    messages_received: MsgType::ALL
                        .iter()
                        .map(|&t| (t, s.received[t as usize]))
                        .filter(|&(_, c)| c > 0)
                        .collect(),
                    bytes_sent: s.bytes_sent,
                    bytes_received: s.bytes_received,
                    gossip_entries_sent: s.gossip_entries_sent,
                    cpu_ns: s.cpu_ns,
                    bytes_sent_per_s: s.per_s.values(BYTES_SENT),
                    bytes_received_per_s: s.per_s.values(BYTES_RECEIVED),
                    messages_sent_per_s: s.per_s.values(MESSAGES_SENT),
                    messages_received_per_s: s.per_s.values(MESSAGES_RECEIVED),
                    cpu_ns_per_s: s.per_s.values(CPU_NS),
                }
            })
            .collect();
        BusResult {
            node_timeout_ms: self.config.node_timeout_ms,
            elapsed_ns: elapsed.as_ns(),
            flows_opened: self.flow_pair.len() as u64,
            nodes,
            events: self.events.iter().map(|e| e.with_names(names)).collect(),
        }
    }
}

impl BusEvent {
    fn with_names(&self, names: &[String]) -> NamedBusEvent {
        let (at_ns, event, node, by, lost) = match *self {
            BusEvent::Pfail { at_ns, node, by } => (at_ns, "pfail", node, by, None),
            BusEvent::Fail { at_ns, node, by } => (at_ns, "fail", node, by, None),
            BusEvent::FailCleared { at_ns, node, by } => (at_ns, "fail_cleared", node, by, None),
            BusEvent::Election { at_ns, node, by } => (at_ns, "election", node, by, None),
            BusEvent::Promoted {
                at_ns,
                node,
                by,
                lost_writes,
                lost_bytes,
            } => (at_ns, "promoted", node, by, Some((lost_writes, lost_bytes))),
            BusEvent::Rejoined { at_ns, node, by } => (at_ns, "rejoined", node, by, None),
        };
        NamedBusEvent {
            at_ns,
            event: event.into(),
            node: names[node as usize].clone(),
            by: names[by as usize].clone(),
            lost_writes: lost.map(|(w, _)| w),
            lost_stream_bytes: lost.map(|(_, b)| b),
        }
    }
}

/// One timeline event, with node names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedBusEvent {
    pub at_ns: u64,
    pub event: String,
    pub node: String,
    pub by: String,
    /// A promotion's acknowledged writes lost with the old primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_writes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_stream_bytes: Option<u64>,
}

/// One node's bus traffic and CPU over the whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeBusResult {
    pub node: String,
    pub messages_sent: Vec<(MsgType, u64)>,
    pub messages_received: Vec<(MsgType, u64)>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub gossip_entries_sent: u64,
    /// Main-thread time spent on the bus.
    pub cpu_ns: u64,
    pub bytes_sent_per_s: Vec<u64>,
    pub bytes_received_per_s: Vec<u64>,
    pub messages_sent_per_s: Vec<u64>,
    pub messages_received_per_s: Vec<u64>,
    pub cpu_ns_per_s: Vec<u64>,
}

/// The cluster bus's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BusResult {
    pub node_timeout_ms: u64,
    /// The simulated time the counts cover (the whole run).
    pub elapsed_ns: u64,
    /// Ordered pairs of nodes that exchanged at least one message.
    pub flows_opened: u64,
    pub nodes: Vec<NodeBusResult>,
    /// Failure detection's timeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NamedBusEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each message type's size is Redis 7.0.15's: the 2,256-byte header, then its data.
    #[test]
    fn message_sizes_follow_cluster_h() {
        assert_eq!(ping_bytes(0), 2_256);
        assert_eq!(ping_bytes(3), 2_568, "6 or 30 nodes: 3 gossip entries");
        assert_eq!(ping_bytes(10), 3_296, "100 nodes");
        assert_eq!(ping_bytes(100), 12_656, "1,000 nodes");
        assert_eq!(FAIL_BYTES, 2_296);
        assert_eq!(UPDATE_BYTES, 4_352);
        assert_eq!(AUTH_BYTES, 2_256);
    }

    /// max(3, N / 10) entries, never more than N - 2 (the sender and the receiver).
    #[test]
    fn gossip_entries_are_a_tenth_at_least_three_at_most_n_minus_two() {
        for (n, want) in [
            (2, 0),
            (3, 1),
            (4, 2),
            (5, 3),
            (6, 3),
            (30, 3),
            (39, 3),
            (40, 4),
            (100, 10),
            (1000, 100),
        ] {
            assert_eq!(wanted_gossip_entries(n), want, "{n} nodes");
        }
    }

    /// Bus time and whole Unix seconds convert both ways at whole seconds, and a time
    /// within a second floors to that second.
    #[test]
    fn bus_time_floors_to_the_unix_second() {
        let t = bus_ms(SimTime::from_ns(12_345_000_000));
        assert_eq!(unix_s(t), super::super::EPOCH_UNIX_MS / 1000 + 12);
        assert_eq!(
            bus_ms_of_unix_s(unix_s(t)),
            bus_ms(SimTime::from_ns(12_000_000_000))
        );
    }
}
