//! Replication: every shard's primary streams its writes to its replicas, as Redis 7.0
//! does. Each write's propagated commands are appended to the shard's replication log
//! (its offsets are bytes of the RESP stream); each replica's link holds the primary's
//! side (the output buffer, counted as Redis counts it: stream bytes not yet written to
//! the socket; the socket's send buffer apart; the output-buffer limits; the last ACK)
//! and the replica's (the offset it has received and applied, its replication id).
//! Streams and snapshots cross the shaped NICs as the `ReplicationStream` flow kind,
//! sharing the primary's egress fairly with client replies; PSYNC and REPLCONF ACK go
//! back on `ReplicationControl`. A replica applies the stream to its own `Db` on its
//! main thread (an engine job at the engine's CPU cost) and loads a snapshot there too.
//!
//! The cycle of redis/redis#4697 follows from the rules alone: a link over its hard
//! limit (or over the soft one for longer than its seconds) is dropped, the replica
//! reconnects at its next cron and asks to PSYNC from its offset; the primary continues
//! from the backlog when the offset is inside its window, and otherwise forks (after
//! the diskless sync delay) and sends an RDB while new writes pile up in the buffer.
//!
//! Failover (the cluster bus decides it; [`Replication::promote`] and
//! [`Replication::rejoin_as_replica`] carry it out) follows `replicationUnsetMaster`:
//! the promoted replica keeps its data and its offset, its replication id shifts (the
//! old one stays valid as replid2 up to its offset), the shard's other replicas re-point
//! to it and continue with a partial resync through replid2 when their offset allows,
//! as `masterTryPartialResynchronization` decides; a deposed primary becomes a replica
//! of its successor only when told to, in the link slot the promoted replica left. A
//! node's shard never changes; which node is a shard's primary and which node holds a
//! link are looked up, never derived from node numbers.
//!
//! Invariants: a replica's applied offset never exceeds its received offset, which
//! never exceeds its primary's offset; within one replication id offsets only grow; a
//! link's output buffer is `log offset - sent offset` while attached and 0 otherwise; a
//! partial resync is granted only when the requested offset is inside the backlog
//! window and the replica's history is the primary's (its id, or the previous id up to
//! where it was valid), and every full resync's RDB is sent on the link's stream flow
//! (so its bytes are in the primary's egress counters); each shard has exactly one
//! primary node, and a node holds at most one link.

use super::engine::Engine;
use super::flows::FlowKind;
use super::node::Nodes;
use super::requests::Requests;
use super::{Ctx, Ev};
use crate::scenario::resolve::ReplicationConfig;
use serde::{Deserialize, Serialize};
use sim::net::{Delivery, FlowId};
use sim::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use store_core::{Blob, Db};

pub use store_core::repl::Command;

/// The largest message a link hands the network at once: small enough that a replica
/// sees a snapshot or a burst of writes arrive progressively.
const MAX_MESSAGE_BYTES: u64 = 256 * 1024;
/// REPLCONF ACK <offset> and PSYNC <replid> <offset> as a replica sends them (about).
const CONTROL_MESSAGE_BYTES: u64 = 64;
/// Token bit of a stream message carrying snapshot bytes (the rest: where it ends).
const RDB_TOKEN: u64 = 1 << 63;
/// Control message kinds, in a control token's low bits.
const CONTROL_ACK: u64 = 0;
const CONTROL_PSYNC: u64 = 1;
/// replicationCron's period.
const CRON_PERIOD: SimDuration = SimDuration::from_ms(1_000);
/// `*1\r\n$4\r\nPING\r\n`.
const PING_BYTES: u64 = 14;

/// Replication's own events.
#[derive(Clone, Copy, Debug)]
pub enum ReplEv {
    /// replicationCron, once a second on every node: ACKs, PINGs, timeouts, soft
    /// limits, reconnections, min-replicas.
    Cron,
    /// A shard's diskless sync delay is over: the primary forks its snapshot.
    Fork { shard: u32 },
}

impl From<ReplEv> for Ev {
    fn from(e: ReplEv) -> Ev {
        Ev::Repl(e)
    }
}

/// Why a link was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectReason {
    /// The output buffer reached the hard limit.
    HardLimit,
    /// The output buffer stayed above the soft limit for longer than its seconds.
    SoftLimit,
    /// Nothing heard for repl-timeout (by the primary: no ACK; by the replica: no data).
    Timeout,
    /// The network gave up on the connection (tcp_retries2).
    ConnectionReset,
    /// The primary or the replica restarted.
    Restart,
    /// The shard's primary changed (a replica was promoted): the replica re-points to
    /// the new one.
    Failover,
}

impl DisconnectReason {
    pub fn label(self) -> &'static str {
        match self {
            DisconnectReason::HardLimit => "output buffer over its hard limit",
            DisconnectReason::SoftLimit => "output buffer over its soft limit for too long",
            DisconnectReason::Timeout => "repl-timeout",
            DisconnectReason::ConnectionReset => "connection reset",
            DisconnectReason::Restart => "restart",
            DisconnectReason::Failover => "failover",
        }
    }
}

/// One event in a link's life, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum LinkEvent {
    Disconnect {
        at_ns: u64,
        reason: DisconnectReason,
        /// The output buffer when the link was dropped.
        buffer_bytes: u64,
    },
    /// Continued from the backlog: `payload_bytes` resent from it.
    PartialResync { at_ns: u64, payload_bytes: u64 },
    /// A snapshot of `rdb_bytes` forked at `at_ns` for this replica.
    FullResync { at_ns: u64, rdb_bytes: u64 },
}

/// One write's commands in the log.
struct Entry {
    /// Stream offset one past its last byte.
    end: u64,
    /// Its stream bytes.
    bytes: u64,
    /// When the primary acknowledged it (its replies left).
    at: SimTime,
    /// Client write commands acknowledged with it (0 for a PING or an expiry's DELs).
    writes: u32,
    cmds: Vec<Command>,
}

/// A shard's replication log: the master offset, its id, and the entries a replica of
/// this id has not applied yet.
struct Log {
    /// The replication id, as a number (a fresh one each time the primary restarts or a
    /// replica is promoted).
    replid: u64,
    /// The previous id (replid2), a promoted replica's former primary's, and the
    /// largest PSYNC offset it is valid for (Redis's `second_replid_offset`: the old
    /// offset + 1, the first byte a replica with the whole shared history lacks).
    replid2: Option<u64>,
    second_replid_offset: u64,
    /// master_repl_offset.
    offset: u64,
    /// The first offset of this log's history (a partial resync cannot go before it).
    id_start: u64,
    entries: VecDeque<Entry>,
    /// Entries dropped from the front so far.
    popped: u64,
    /// Client writes appended under this id, and their entries' stream bytes.
    writes: u64,
    write_bytes: u64,
}

impl Log {
    fn new(replid: u64) -> Log {
        Log {
            replid,
            replid2: None,
            second_replid_offset: 0,
            offset: 0,
            id_start: 0,
            entries: VecDeque::new(),
            popped: 0,
            writes: 0,
            write_bytes: 0,
        }
    }

    fn append(&mut self, cmds: Vec<Command>, bytes: u64, at: SimTime, writes: u32) {
        self.offset += bytes;
        if writes > 0 {
            self.writes += u64::from(writes);
            self.write_bytes += bytes;
        }
        self.entries.push_back(Entry {
            end: self.offset,
            bytes,
            at,
            writes,
            cmds,
        });
    }

    /// Whether a replica of history `replid` that has processed `offset` bytes shares
    /// this log's history up to there: this id, or the previous one as far as it was
    /// valid (a replica asks for byte `offset + 1`).
    fn shares(&self, replid: Option<u64>, offset: u64) -> bool {
        replid == Some(self.replid)
            || (replid.is_some()
                && replid == self.replid2
                // It asks for byte `offset + 1`, at most `second_replid_offset`.
                && offset < self.second_replid_offset)
    }

    /// The PSYNC decision of `masterTryPartialResynchronization` (Redis 7.0.15) for a
    /// replica of history `replid` (`None`: `PSYNC ? -1`) that has processed `offset`
    /// bytes and so asks for byte `offset + 1`: continue when the id is this log's, or
    /// the previous one and the asked offset is at most `second_replid_offset`, and the
    /// asked offset is within [oldest backlog byte, oldest + backlog length].
    fn psync_continues(&self, replid: Option<u64>, offset: u64, backlog_bytes: u64) -> bool {
        if !self.shares(replid, offset) {
            return false;
        }
        let psync_offset = offset + 1;
        let start = self.backlog_start(backlog_bytes);
        // repl_backlog->offset and histlen.
        let (first, histlen) = (start + 1, self.offset - start);
        psync_offset >= first && psync_offset <= first + histlen
    }

    /// The oldest offset a partial resync may start from.
    fn backlog_start(&self, backlog_bytes: u64) -> u64 {
        self.offset.saturating_sub(backlog_bytes).max(self.id_start)
    }

    /// Drops entries that end at or before `keep_from`.
    fn trim(&mut self, keep_from: u64) {
        while self.entries.front().is_some_and(|e| e.end <= keep_from) {
            self.entries.pop_front();
            self.popped += 1;
        }
    }

    /// [`Log::first_after`], starting from `hint`, an entry's number counted from the
    /// first of this id's log (an entry keeps its number as older ones are dropped):
    /// a replica's next entry is almost always the one after the last it applied.
    fn first_after_from(&self, offset: u64, hint: u64) -> usize {
        if let Some(i) = hint.checked_sub(self.popped) {
            let i = i as usize;
            let before = i == 0 || self.entries.get(i - 1).is_some_and(|e| e.end <= offset);
            if before && self.entries.get(i).is_none_or(|e| e.end > offset) {
                return i;
            }
        }
        self.first_after(offset)
    }

    /// Index of the first entry ending after `offset`.
    fn first_after(&self, offset: u64) -> usize {
        self.entries.partition_point(|e| e.end <= offset)
    }
}

/// The primary's side of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PrimarySide {
    /// No connection.
    Detached,
    /// Asked for a full resync; waits for the next fork.
    WaitFork,
    /// Sending the snapshot: `written` of `total` bytes handed to the socket.
    Rdb { written: u64, total: u64 },
    /// Streaming.
    Online,
}

/// The replica's side of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplicaSide {
    /// Will send PSYNC at its next cron from `at`.
    Connecting { at: SimTime },
    /// Sent PSYNC; waits for the answer (and then the snapshot or the stream).
    Handshake,
    /// Receiving a snapshot.
    Receiving,
    /// Streaming.
    Connected,
}

/// One replica and its link to its primary.
struct Link {
    shard: u32,
    /// The replica's node and its primary's. While the link is vacant (its replica was
    /// promoted and no node has taken the slot yet) `node` is the deposed primary, the
    /// node expected to take it.
    node: u32,
    primary: u32,
    vacant: bool,
    stream: FlowId,
    control: FlowId,
    side: PrimarySide,
    /// Stream bytes written to the socket: the next byte to write.
    sent_offset: u64,
    /// Bytes in the socket, not yet read by the replica.
    socket_bytes: u64,
    soft_since: Option<SimTime>,
    last_ack_at: SimTime,
    replica: ReplicaSide,
    /// The replica's replication id and offsets (`None`: it has no data to resume), and
    /// where its history starts (its last full sync's offset; its backlog, were it
    /// promoted, starts there).
    replid: Option<u64>,
    history_start: u64,
    received: u64,
    applied: u64,
    /// Snapshot bytes received so far, and the snapshot on its way.
    rdb_received: u64,
    snapshot: Option<Arc<Snapshot>>,
    /// Loading a snapshot: stream bytes delivered meanwhile wait unread.
    loading: bool,
    unread_bytes: u64,
    /// An apply job is queued or running on the replica's main thread.
    apply_queued: bool,
    /// The number of the log entry after the last it applied (a hint: see
    /// [`Log::first_after_from`]).
    next_entry: u64,
    last_io_at: SimTime,
    // Results.
    events: Vec<LinkEvent>,
    buffer_peak_bytes_per_s: Vec<u64>,
    buffer_peak_bytes: u64,
    lag_bytes_at_s: Vec<u64>,
    lag_ns_at_s: Vec<u64>,
    stream_bytes_applied: u64,
}

impl Link {
    /// The output buffer, as Redis counts it: stream bytes not yet written.
    fn buffer_bytes(&self, log: &Log) -> u64 {
        match self.side {
            PrimarySide::Rdb { .. } | PrimarySide::Online => log.offset - self.sent_offset,
            PrimarySide::Detached | PrimarySide::WaitFork => 0,
        }
    }
}

/// A forked snapshot: the primary's data at `offset`, and its RDB size.
pub(crate) struct Snapshot {
    db: Db,
    replid: u64,
    offset: u64,
    rdb_bytes: u64,
}

/// A shard's primary side.
struct Shard {
    /// The node that is the shard's primary now.
    primary: u32,
    /// Client writes among `pending`.
    pending_writes: u32,
    log: Log,
    /// When the scheduled fork is due (the diskless delay runs), if one is. A `Fork`
    /// event at another time is stale: the process that scheduled it restarted.
    fork_due: Option<SimTime>,
    /// Links still sending the current fork's snapshot.
    rdb_transfers: u32,
    /// Writes refused: fewer good replicas than min-replicas-to-write.
    refuse_writes: bool,
    /// The next entry starts with SELECT 0 (Redis resets `slaveseldb` when it starts
    /// and when a full resync forks, so the next command propagated selects the db).
    select_pending: bool,
    /// Propagated commands of the batch running on the primary, and their bytes.
    pending: Vec<Command>,
    pending_bytes: u64,
    /// Stream bytes appended, and client reply bytes the primary sent, for reports.
    stream_bytes: u64,
    next_ping_at: SimTime,
    next_replid: u64,
}

/// Every shard's replication.
pub(crate) struct Replication {
    pub config: ReplicationConfig,
    shards: Vec<Shard>,
    links: Vec<Link>,
    /// Each node's shard (it never changes), and the link it holds as a replica.
    node_shard: Vec<u32>,
    node_link: Vec<Option<u32>>,
    replicas_per_shard: u32,
    /// The network path between two nodes, for links re-pointed during the run.
    paths: Paths,
    /// Promotions and rejoins, in order.
    role_changes: Vec<RoleChangeAt>,
    end: SimTime,
    /// Each replica's link is in sync (for clients that prefer replicas).
    pub in_sync: Vec<bool>,
    pub in_sync_changed: bool,
    /// With clients reading from replicas: each shard's keys by the stream offset that
    /// ends their last write and the time it was acknowledged, and the keys the batch
    /// running on the primary writes.
    last_writes: Option<Vec<BTreeMap<u64, (u64, SimTime)>>>,
    pending_keys: Vec<Vec<u64>>,
    /// Reads each replica served, and of those the stale ones.
    reads: Vec<u64>,
    stale_reads: Vec<u64>,
    /// Snapshot bytes each shard's primary handed its sockets, and all replication
    /// bytes it did.
    pub rdb_bytes_sent_by_shard: Vec<u64>,
    /// Replication bytes (streams and snapshots) that crossed to a replica, by shard.
    pub bytes_delivered_by_shard: Vec<u64>,
}

impl Replication {
    /// Replication for `shards` shards of `replicas` replicas each: replica k of shard
    /// s is node `shards + s * replicas + k`. `stream(l)` and `control(l)` are link
    /// l's flows.
    pub fn build(
        config: ReplicationConfig,
        shards: u32,
        replicas: u32,
        flows: &super::flows::FlowMap,
        end: SimTime,
        track_stale_reads: bool,
        paths: Paths,
    ) -> Replication {
        let links = (0..shards * replicas)
            .map(|l| Link {
                shard: l / replicas,
                node: shards + l,
                primary: l / replicas,
                vacant: false,
                stream: flows.flow(FlowKind::ReplicationStream, l),
                control: flows.flow(FlowKind::ReplicationControl, l),
                side: PrimarySide::Detached,
                sent_offset: 0,
                socket_bytes: 0,
                soft_since: None,
                last_ack_at: SimTime::ZERO,
                replica: ReplicaSide::Connecting { at: SimTime::ZERO },
                replid: None,
                history_start: 0,
                received: 0,
                applied: 0,
                rdb_received: 0,
                snapshot: None,
                loading: false,
                unread_bytes: 0,
                apply_queued: false,
                next_entry: 0,
                last_io_at: SimTime::ZERO,
                events: Vec::new(),
                buffer_peak_bytes_per_s: Vec::new(),
                buffer_peak_bytes: 0,
                lag_bytes_at_s: Vec::new(),
                lag_ns_at_s: Vec::new(),
                stream_bytes_applied: 0,
            })
            .collect();
        Replication {
            config,
            shards: (0..shards)
                .map(|s| Shard {
                    primary: s,
                    pending_writes: 0,
                    log: Log::new(1),
                    fork_due: None,
                    rdb_transfers: 0,
                    refuse_writes: false,
                    select_pending: true,
                    pending: Vec::new(),
                    pending_bytes: 0,
                    stream_bytes: 0,
                    next_ping_at: SimTime::ZERO,
                    next_replid: 2,
                })
                .collect(),
            links,
            node_shard: (0..shards)
                .chain((0..shards * replicas).map(|l| l / replicas))
                .collect(),
            node_link: (0..shards)
                .map(|_| None)
                .chain((0..shards * replicas).map(Some))
                .collect(),
            replicas_per_shard: replicas,
            paths,
            role_changes: Vec::new(),
            end,
            in_sync: vec![false; (shards * replicas) as usize],
            in_sync_changed: false,
            last_writes: track_stale_reads.then(|| vec![BTreeMap::new(); shards as usize]),
            pending_keys: vec![Vec::new(); shards as usize],
            reads: vec![0; (shards * replicas) as usize],
            stale_reads: vec![0; (shards * replicas) as usize],
            rdb_bytes_sent_by_shard: vec![0; shards as usize],
            bytes_delivered_by_shard: vec![0; shards as usize],
        }
    }

    /// The replicas start in sync with their primaries, as after a first full sync
    /// before the run (their stores are the primaries' prefill): streaming from
    /// offset 0 of the primary's id.
    pub fn start(&mut self, sched: &mut sim::Scheduler<Ev>) {
        if self.links.is_empty() {
            return;
        }
        for (l, link) in self.links.iter_mut().enumerate() {
            link.side = PrimarySide::Online;
            link.replica = ReplicaSide::Connected;
            link.replid = Some(self.shards[link.shard as usize].log.replid);
            self.in_sync[l] = true;
        }
        for s in &mut self.shards {
            s.next_ping_at = SimTime::ZERO;
        }
        sched.schedule_at(SimTime::ZERO + CRON_PERIOD, ReplEv::Cron.into());
    }

    /// Link `l`'s replica node.
    pub fn replica_node(&self, l: u32) -> u32 {
        self.links[l as usize].node
    }

    /// Link `l`'s (primary, replica) nodes now.
    #[inline]
    pub fn link_ends(&self, l: u32) -> (u32, u32) {
        let link = &self.links[l as usize];
        (link.primary, link.node)
    }

    /// Whether a replication job of link `l` queued on `node`'s main thread is still
    /// the link's: a promoted replica's queue may hold jobs of the link it left.
    pub fn job_is_live(&self, l: u32, node: u32) -> bool {
        let link = &self.links[l as usize];
        !link.vacant && link.node == node
    }

    /// The replica node's link, if `node` is a replica.
    #[inline]
    pub fn link_of(&self, node: u32) -> Option<u32> {
        self.node_link.get(node as usize).copied().flatten()
    }

    /// `node`'s shard, when the shards have replicas.
    #[inline]
    fn shard_of(&self, node: u32) -> u32 {
        self.node_shard[node as usize]
    }

    /// Shard `shard`'s primary node now (without replicas, node `shard` for good).
    pub fn primary_of(&self, shard: u32) -> u32 {
        self.shards.get(shard as usize).map_or(shard, |s| s.primary)
    }

    /// The offset replica `node` has processed (what Redis Cluster ranks replicas by
    /// when it elects one), if it is a replica.
    #[cfg_attr(not(test), allow(dead_code))] // until the cluster bus ranks replicas
    pub fn replica_offset(&self, node: u32) -> Option<u64> {
        self.link_of(node).map(|l| self.links[l as usize].applied)
    }

    /// Whether writes on `node` (a primary) are refused for want of good replicas.
    #[inline]
    pub fn refuses_writes(&self, node: u32) -> bool {
        self.propagates(node) && self.shards[self.shard_of(node) as usize].refuse_writes
    }

    /// Whether `node` is a primary whose writes are propagated.
    #[inline]
    pub fn propagates(&self, node: u32) -> bool {
        self.node_shard
            .get(node as usize)
            .is_some_and(|&s| self.shards[s as usize].primary == node)
    }

    /// The commands one client write propagated on `node`'s primary, to be appended
    /// when its batch ends (when Redis writes replicas' buffers, before it sleeps).
    pub fn record(&mut self, node: u32, cmds: &mut Vec<Command>) {
        if cmds.is_empty() {
            return;
        }
        let shard = self.shard_of(node);
        self.shards[shard as usize].pending_writes += 1;
        self.push_pending(shard, cmds);
    }

    fn push_pending(&mut self, shard: u32, cmds: &mut Vec<Command>) {
        let s = &mut self.shards[shard as usize];
        for c in cmds.drain(..) {
            s.pending_bytes += store_core::repl::command_len(&c);
            s.pending.push(c);
        }
    }

    /// What `node`'s store propagated outside a command (its active expire cycle's
    /// DELs) enters the log at once.
    pub fn drain_node(&mut self, ctx: &mut Ctx<'_>, nodes: &mut Nodes, node: u32) {
        if !self.propagates(node) {
            return;
        }
        let mut cmds = Vec::new();
        nodes.nodes[node as usize]
            .db
            .only_mut()
            .drain_propagated(&mut cmds);
        if !cmds.is_empty() {
            self.push_pending(self.shard_of(node), &mut cmds);
            self.commit(ctx, node);
        }
    }

    /// The batch on primary `node` wrote key `key_index` (kept only to count stale
    /// reads from replicas).
    #[inline]
    pub fn record_key(&mut self, node: u32, key_index: u64) {
        if self.last_writes.is_some() {
            let shard = self.shard_of(node);
            self.pending_keys[shard as usize].push(key_index);
        }
    }

    /// Replica `node` serves a read of `key_index` that reached it at `arrived`: stale
    /// when its primary had acknowledged a write of the key before then that the
    /// replica has not applied (the key's last write, which is the one a read must
    /// see).
    pub fn on_replica_read(&mut self, node: u32, key_index: u64, arrived: SimTime) {
        let Some(l) = self.link_of(node) else {
            return;
        };
        let link = &self.links[l as usize];
        self.reads[l as usize] += 1;
        let Some(writes) = &self.last_writes else {
            return;
        };
        if let Some(&(end, at)) = writes[link.shard as usize].get(&key_index) {
            let log = &self.shards[link.shard as usize].log;
            let applied = if log.shares(link.replid, link.applied) {
                link.applied
            } else {
                0
            };
            if at < arrived && end > applied {
                self.stale_reads[l as usize] += 1;
            }
        }
    }

    /// Stream bytes the batch running on `node` has propagated so far.
    pub fn pending_bytes(&self, node: u32) -> u64 {
        if !self.propagates(node) {
            return 0;
        }
        self.shards[self.shard_of(node) as usize].pending_bytes
    }

    /// The replicas a primary feeds (attached links).
    pub fn attached(&self, node: u32) -> u64 {
        if !self.propagates(node) {
            return 0;
        }
        self.shard_links(self.shard_of(node))
            .filter(|l| {
                matches!(
                    self.links[*l as usize].side,
                    PrimarySide::Online | PrimarySide::Rdb { .. }
                )
            })
            .count() as u64
    }

    fn shard_links(&self, shard: u32) -> std::ops::Range<u32> {
        shard * self.replicas_per_shard..(shard + 1) * self.replicas_per_shard
    }

    /// The batch on `node` ended: its writes enter the log and the links' buffers, the
    /// limits are checked, and the links write what their sockets take, as the batch's
    /// replies leave: a client never has the acknowledgement of a write before the
    /// stream carrying it is on its way (Redis writes replies and replicas' streams in
    /// the same turn of its event loop). With nothing written, the links still write
    /// what their sockets now take.
    pub fn commit(&mut self, ctx: &mut Ctx<'_>, node: u32) {
        let now = ctx.sched.now();
        let shard = self.shard_of(node);
        let s = &mut self.shards[shard as usize];
        if !s.pending.is_empty() {
            if s.select_pending {
                s.select_pending = false;
                let select = store_core::repl::select_db0();
                s.pending_bytes += store_core::repl::command_len(&select);
                s.pending.insert(0, select);
            }
            let cmds = std::mem::take(&mut s.pending);
            let bytes = std::mem::take(&mut s.pending_bytes);
            let writes = std::mem::take(&mut s.pending_writes);
            s.stream_bytes += bytes;
            s.log.append(cmds, bytes, now, writes);
            if let Some(last) = &mut self.last_writes {
                let end = s.log.offset;
                for key in self.pending_keys[shard as usize].drain(..) {
                    last[shard as usize].insert(key, (end, now));
                }
            }
            for l in self.shard_links(shard) {
                self.check_limits(ctx, l, now);
            }
        }
        for l in self.shard_links(shard) {
            self.pump(ctx, l);
        }
    }

    /// Entries appended outside a batch (a PING): the links write them and the limits
    /// are checked.
    fn after_append(&mut self, ctx: &mut Ctx<'_>, shard: u32) {
        let now = ctx.sched.now();
        for l in self.shard_links(shard) {
            self.pump(ctx, l);
            self.check_limits(ctx, l, now);
        }
        self.trim(shard);
    }

    /// Drops the log entries no replica will apply: those every replica of this id has
    /// applied. The backlog is bytes, which a partial resync resends from a replica's
    /// own offset, so its window is a matter of offsets (`Log::backlog_start`), not of
    /// entries kept; a replica of another id (or none) resyncs in full.
    fn trim(&mut self, shard: u32) {
        let log = &self.shards[shard as usize].log;
        let mut keep = log.offset;
        for l in self.shard_links(shard) {
            let link = &self.links[l as usize];
            if log.shares(link.replid, link.applied) {
                keep = keep.min(link.applied);
            }
        }
        if log.entries.front().is_some_and(|e| e.end <= keep) {
            self.shards[shard as usize].log.trim(keep);
        }
    }

    fn check_limits(&mut self, ctx: &mut Ctx<'_>, l: u32, now: SimTime) {
        let link = &self.links[l as usize];
        let buffer = link.buffer_bytes(&self.shards[link.shard as usize].log);
        let link = &mut self.links[l as usize];
        link.buffer_peak_bytes = link.buffer_peak_bytes.max(buffer);
        let c = &self.config;
        if c.output_buffer_hard_limit_bytes > 0 && buffer >= c.output_buffer_hard_limit_bytes {
            self.disconnect(ctx, l, DisconnectReason::HardLimit);
            return;
        }
        if c.output_buffer_soft_limit_bytes > 0 && buffer >= c.output_buffer_soft_limit_bytes {
            match link.soft_since {
                None => link.soft_since = Some(now),
                Some(since) if now - since > SimDuration::from_ns(c.output_buffer_soft_ns) => {
                    self.disconnect(ctx, l, DisconnectReason::SoftLimit);
                }
                Some(_) => {}
            }
        } else {
            link.soft_since = None;
        }
    }

    /// Writes what the link's socket takes: the rest of a snapshot, then the stream.
    fn pump(&mut self, ctx: &mut Ctx<'_>, l: u32) {
        let cap = self.config.socket_buffer_bytes;
        loop {
            let link = &mut self.links[l as usize];
            let room = cap.saturating_sub(link.socket_bytes);
            if room == 0 {
                return;
            }
            match link.side {
                PrimarySide::Rdb { written, total } => {
                    let n = room.min(total - written).min(MAX_MESSAGE_BYTES);
                    if n > 0 {
                        ctx.net
                            .send(ctx.sched, link.stream, n, RDB_TOKEN | (written + n));
                        link.socket_bytes += n;
                        self.rdb_bytes_sent_by_shard[link.shard as usize] += n;
                    }
                    if written + n < total {
                        link.side = PrimarySide::Rdb {
                            written: written + n,
                            total,
                        };
                        continue;
                    }
                    // replicaPutOnline: the buffered stream follows the snapshot.
                    link.side = PrimarySide::Online;
                    link.last_ack_at = ctx.sched.now();
                    let shard = link.shard;
                    let s = &mut self.shards[shard as usize];
                    s.rdb_transfers -= 1;
                    if s.rdb_transfers == 0 {
                        self.fork_if_waiting(ctx, shard);
                    }
                }
                PrimarySide::Online => {
                    let offset = self.shards[link.shard as usize].log.offset;
                    let n = room.min(offset - link.sent_offset).min(MAX_MESSAGE_BYTES);
                    if n == 0 {
                        return;
                    }
                    link.sent_offset += n;
                    link.socket_bytes += n;
                    ctx.net.send(ctx.sched, link.stream, n, link.sent_offset);
                }
                PrimarySide::Detached | PrimarySide::WaitFork => return,
            }
        }
    }

    /// Drops link `l`: the primary frees its buffer and closes the socket; the replica
    /// reconnects at its next cron.
    fn disconnect(&mut self, ctx: &mut Ctx<'_>, l: u32, reason: DisconnectReason) {
        let now = ctx.sched.now();
        let link = &self.links[l as usize];
        let buffer_bytes = link.buffer_bytes(&self.shards[link.shard as usize].log);
        self.links[l as usize].events.push(LinkEvent::Disconnect {
            at_ns: now.as_ns(),
            reason,
            buffer_bytes,
        });
        self.detach(ctx, l);
    }

    /// Closes link `l`'s connection (both ends), with no event of its own.
    fn detach(&mut self, ctx: &mut Ctx<'_>, l: u32) {
        let now = ctx.sched.now();
        let link = &mut self.links[l as usize];
        if let PrimarySide::Rdb { .. } = link.side {
            let s = &mut self.shards[link.shard as usize];
            s.rdb_transfers -= 1;
        }
        link.side = PrimarySide::Detached;
        link.socket_bytes = 0;
        link.soft_since = None;
        link.unread_bytes = 0;
        link.rdb_received = 0;
        link.snapshot = None;
        // The replica's query buffer goes with the connection.
        link.received = link.applied;
        link.replica = ReplicaSide::Connecting {
            at: now + CRON_PERIOD,
        };
        ctx.net.reset_flow(ctx.sched, link.stream);
        ctx.net.reset_flow(ctx.sched, link.control);
        let shard = link.shard;
        self.set_in_sync(l, false);
        if self.shards[shard as usize].rdb_transfers == 0 {
            self.fork_if_waiting(ctx, shard);
        }
    }

    fn set_in_sync(&mut self, l: u32, v: bool) {
        if self.in_sync[l as usize] != v {
            self.in_sync[l as usize] = v;
            self.in_sync_changed = true;
        }
    }

    /// Schedules a fork if links wait for one and none is scheduled or sending.
    fn fork_if_waiting(&mut self, ctx: &mut Ctx<'_>, shard: u32) {
        let waiting = self
            .shard_links(shard)
            .any(|l| self.links[l as usize].side == PrimarySide::WaitFork);
        let s = &mut self.shards[shard as usize];
        if waiting && s.fork_due.is_none() && s.rdb_transfers == 0 {
            let at = ctx.sched.now() + SimDuration::from_ns(self.config.diskless_sync_delay_ns);
            s.fork_due = Some(at);
            if at <= self.end {
                ctx.sched.schedule_at(at, ReplEv::Fork { shard }.into());
            }
        }
    }

    pub fn handle(&mut self, ctx: &mut Ctx<'_>, nodes: &mut Nodes, ev: ReplEv) {
        match ev {
            ReplEv::Cron => self.cron(ctx, nodes),
            ReplEv::Fork { shard } => self.fork(ctx, nodes, shard),
        }
    }

    /// replicationCron.
    fn cron(&mut self, ctx: &mut Ctx<'_>, nodes: &mut Nodes) {
        let now = ctx.sched.now();
        let c = self.config;
        // The primaries' PINGs, into the stream (and its offsets) like any command.
        for shard in 0..self.shards.len() as u32 {
            let s = &mut self.shards[shard as usize];
            let primary = s.primary;
            if now >= s.next_ping_at && !nodes.nodes[primary as usize].down {
                s.next_ping_at = now + SimDuration::from_ns(c.ping_replica_period_ns);
                if self.attached(primary) > 0 {
                    let s = &mut self.shards[shard as usize];
                    s.log
                        .append(vec![vec![Blob::from_slice(b"PING")]], PING_BYTES, now, 0);
                    s.stream_bytes += PING_BYTES;
                    self.after_append(ctx, shard);
                }
            }
        }
        let timeout = SimDuration::from_ns(c.timeout_ns);
        for l in 0..self.links.len() as u32 {
            let link = &self.links[l as usize];
            if link.vacant {
                continue;
            }
            let (primary_down, replica_down) = (
                nodes.nodes[link.primary as usize].down,
                nodes.nodes[link.node as usize].down,
            );
            // The primary's side.
            if !primary_down {
                if link.side == PrimarySide::Online && now - link.last_ack_at > timeout {
                    self.disconnect(ctx, l, DisconnectReason::Timeout);
                    continue;
                }
                self.check_limits(ctx, l, now);
            }
            if replica_down {
                continue;
            }
            // The replica's side.
            let link = &mut self.links[l as usize];
            match link.replica {
                ReplicaSide::Connecting { at } if now >= at => {
                    link.replica = ReplicaSide::Handshake;
                    link.last_io_at = now;
                    ctx.net.send(
                        ctx.sched,
                        link.control,
                        CONTROL_MESSAGE_BYTES,
                        CONTROL_PSYNC,
                    );
                }
                ReplicaSide::Connecting { .. } => {}
                ReplicaSide::Handshake | ReplicaSide::Receiving | ReplicaSide::Connected => {
                    if now - link.last_io_at > timeout {
                        self.disconnect(ctx, l, DisconnectReason::Timeout);
                        continue;
                    }
                    if link.replica == ReplicaSide::Connected && !link.loading {
                        ctx.net.send(
                            ctx.sched,
                            link.control,
                            CONTROL_MESSAGE_BYTES,
                            CONTROL_ACK | (link.applied << 2),
                        );
                    }
                }
            }
        }
        for shard in 0..self.shards.len() as u32 {
            self.trim(shard);
        }
        // min-replicas-to-write, refreshed each cron.
        if c.min_replicas_to_write > 0 {
            let max_lag = SimDuration::from_ns(c.min_replicas_max_lag_ns);
            for shard in 0..self.shards.len() as u32 {
                let good = self
                    .shard_links(shard)
                    .filter(|&l| {
                        let link = &self.links[l as usize];
                        link.side == PrimarySide::Online && now - link.last_ack_at <= max_lag
                    })
                    .count() as u32;
                self.shards[shard as usize].refuse_writes = good < c.min_replicas_to_write;
            }
        }
        let next = now + CRON_PERIOD;
        if next <= self.end {
            ctx.sched.schedule_at(next, ReplEv::Cron.into());
        }
    }

    /// The diskless delay is over: snapshot the primary and start sending it to every
    /// link that waits for one.
    fn fork(&mut self, ctx: &mut Ctx<'_>, nodes: &mut Nodes, shard: u32) {
        let now = ctx.sched.now();
        let s = &mut self.shards[shard as usize];
        if s.fork_due != Some(now) {
            return;
        }
        s.fork_due = None;
        let primary = &nodes.nodes[s.primary as usize];
        if primary.down {
            return;
        }
        s.select_pending = true;
        let snapshot = Arc::new(Snapshot {
            rdb_bytes: rdb_bytes(
                primary.db.only(),
                super::now_unix_ms(now),
                s.log.replid,
                s.log.offset,
            ),
            db: primary.db.only().clone(),
            replid: s.log.replid,
            offset: s.log.offset,
        });
        for l in self.shard_links(shard) {
            let link = &mut self.links[l as usize];
            if link.side != PrimarySide::WaitFork {
                continue;
            }
            link.side = PrimarySide::Rdb {
                written: 0,
                total: snapshot.rdb_bytes,
            };
            link.sent_offset = snapshot.offset;
            link.snapshot = Some(snapshot.clone());
            link.rdb_received = 0;
            link.replica = ReplicaSide::Receiving;
            link.events.push(LinkEvent::FullResync {
                at_ns: now.as_ns(),
                rdb_bytes: snapshot.rdb_bytes,
            });
            self.shards[shard as usize].rdb_transfers += 1;
        }
        for l in self.shard_links(shard) {
            self.pump(ctx, l);
        }
    }

    /// A message on a replication flow arrived.
    #[allow(clippy::too_many_arguments)]
    pub fn on_delivery(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        engine: &mut Engine,
        reqs: &mut Requests,
        kind: FlowKind,
        l: u32,
        d: &Delivery,
    ) {
        let now = ctx.sched.now();
        match kind {
            FlowKind::ReplicationStream => {
                let link = &mut self.links[l as usize];
                self.bytes_delivered_by_shard[link.shard as usize] += d.payload_bytes;
                link.last_io_at = now;
                if d.token & RDB_TOKEN != 0 {
                    link.rdb_received += d.payload_bytes;
                    link.socket_bytes -= d.payload_bytes;
                    let snapshot = link.snapshot.as_ref().expect("a snapshot is on its way");
                    if link.rdb_received == snapshot.rdb_bytes {
                        link.loading = true;
                        engine.enqueue_replica_job(ctx, nodes, reqs, self, l, false);
                    }
                    self.pump(ctx, l);
                    return;
                } else {
                    link.received = d.token;
                    if link.loading {
                        link.unread_bytes += d.payload_bytes;
                    } else {
                        link.socket_bytes -= d.payload_bytes;
                        self.queue_apply(ctx, nodes, engine, reqs, l);
                    }
                }
                self.pump(ctx, l);
            }
            FlowKind::ReplicationControl => {
                if d.token & 3 == CONTROL_PSYNC {
                    self.psync(ctx, l);
                } else {
                    let link = &mut self.links[l as usize];
                    link.last_ack_at = now;
                }
            }
            _ => unreachable!("replication owns only its two kinds"),
        }
    }

    /// Queues an apply job when a whole entry has arrived that is not applied yet (a
    /// message may end inside an entry, whose commands wait for the rest).
    fn queue_apply(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        engine: &mut Engine,
        reqs: &mut Requests,
        l: u32,
    ) {
        let link = &self.links[l as usize];
        if link.apply_queued || link.loading || link.received <= link.applied {
            return;
        }
        let log = &self.shards[link.shard as usize].log;
        let whole = link.replid == Some(log.replid)
            && log
                .entries
                .get(log.first_after_from(link.applied, link.next_entry))
                .is_some_and(|e| e.end <= link.received);
        if whole {
            self.links[l as usize].apply_queued = true;
            engine.enqueue_replica_job(ctx, nodes, reqs, self, l, true);
        }
    }

    /// PSYNC reached the primary: continue from the backlog when the replica's id
    /// and offset allow it, otherwise a full resync.
    fn psync(&mut self, ctx: &mut Ctx<'_>, l: u32) {
        let now = ctx.sched.now();
        let link = &self.links[l as usize];
        if link.replica != ReplicaSide::Handshake {
            return;
        }
        let shard = link.shard;
        let log = &self.shards[shard as usize].log;
        let can_continue =
            log.psync_continues(link.replid, link.applied, self.config.backlog_bytes);
        let link = &mut self.links[l as usize];
        link.last_io_at = now;
        if can_continue {
            // +CONTINUE <new id>: a replica of the previous id takes up the new one.
            link.replid = Some(log.replid);
            link.side = PrimarySide::Online;
            link.replica = ReplicaSide::Connected;
            link.sent_offset = link.applied;
            link.received = link.applied;
            link.last_ack_at = now;
            link.events.push(LinkEvent::PartialResync {
                at_ns: now.as_ns(),
                payload_bytes: log.offset - link.applied,
            });
            self.set_in_sync(l, true);
            self.pump(ctx, l);
        } else {
            link.side = PrimarySide::WaitFork;
            self.fork_if_waiting(ctx, shard);
        }
    }

    /// The replica's main thread takes up the stream it has received: the commands of
    /// every complete entry, applied now to its store. Returns (commands, bytes) for
    /// the job's cost.
    pub fn start_apply(&mut self, nodes: &mut Nodes, l: u32, now: SimTime) -> (u64, u64) {
        let link = &mut self.links[l as usize];
        let log = &self.shards[link.shard as usize].log;
        if link.replid != Some(log.replid) {
            return (0, 0);
        }
        let node = &mut nodes.nodes[link.node as usize];
        let now_ms = super::now_unix_ms(now);
        let (mut cmds, from) = (0, link.applied);
        let mut i = log.first_after_from(link.applied, link.next_entry);
        while let Some(e) = log.entries.get(i) {
            if e.end > link.received {
                break;
            }
            for c in &e.cmds {
                apply(node.db.only_mut(), c, now_ms, &mut node.rng);
                cmds += 1;
            }
            link.applied = e.end;
            i += 1;
        }
        link.next_entry = log.popped + i as u64;
        let bytes = link.applied - from;
        link.stream_bytes_applied += bytes;
        (cmds, bytes)
    }

    /// The apply job ended: another if more has arrived.
    pub fn apply_done(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        engine: &mut Engine,
        reqs: &mut Requests,
        l: u32,
    ) {
        self.links[l as usize].apply_queued = false;
        let shard = self.links[l as usize].shard;
        self.queue_apply(ctx, nodes, engine, reqs, l);
        self.trim(shard);
    }

    /// The replica's main thread loads the snapshot now; returns its RDB bytes.
    pub fn start_load(&mut self, nodes: &mut Nodes, l: u32) -> u64 {
        let link = &mut self.links[l as usize];
        let Some(snapshot) = link.snapshot.take() else {
            return 0;
        };
        let node = &mut nodes.nodes[link.node as usize];
        *node.db.only_mut() = snapshot.db.clone();
        make_replica(node.db.only_mut());
        link.replid = Some(snapshot.replid);
        link.history_start = snapshot.offset;
        link.applied = snapshot.offset;
        if link.received < snapshot.offset {
            link.received = snapshot.offset;
        }
        snapshot.rdb_bytes
    }

    /// The load ended: the replica reads what waited in its socket and streams on.
    pub fn load_done(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        engine: &mut Engine,
        reqs: &mut Requests,
        l: u32,
    ) {
        let link = &mut self.links[l as usize];
        link.loading = false;
        link.socket_bytes -= link.unread_bytes.min(link.socket_bytes);
        link.unread_bytes = 0;
        if link.replica == ReplicaSide::Receiving {
            link.replica = ReplicaSide::Connected;
            link.last_io_at = ctx.sched.now();
            self.set_in_sync(l, true);
        }
        self.queue_apply(ctx, nodes, engine, reqs, l);
        self.pump(ctx, l);
    }

    /// The network reset a replication connection (tcp_retries2).
    pub fn on_aborted(&mut self, ctx: &mut Ctx<'_>, l: u32) {
        let link = &self.links[l as usize];
        let already_down = link.side == PrimarySide::Detached
            && matches!(link.replica, ReplicaSide::Connecting { .. });
        if !already_down {
            self.disconnect(ctx, l, DisconnectReason::ConnectionReset);
        }
    }

    /// `node` restarted empty: as a primary, under a new replication id (its replicas
    /// will need a full resync, and get its empty data); as a replica, with nothing to
    /// resume from.
    pub fn on_restart(&mut self, ctx: &mut Ctx<'_>, node: u32) {
        if let Some(l) = self.link_of(node) {
            let link = &mut self.links[l as usize];
            link.replid = None;
            link.applied = 0;
            link.received = 0;
            link.loading = false;
            link.apply_queued = false;
            self.disconnect(ctx, l, DisconnectReason::Restart);
            return;
        }
        // A deposed primary (its shard has another primary now) restarts as a node of
        // no role: it neither serves the shard's data as its primary nor gives the
        // shard's replicas a new history to resync from, until the bus has it rejoin.
        if !self.propagates(node) {
            return;
        }
        let shard = self.shard_of(node);
        // Drop the links while the old log is still there: a link's buffer is
        // `log offset - sent offset`, which the new log's offset 0 would underflow.
        for l in self.shard_links(shard) {
            if !self.links[l as usize].vacant {
                self.disconnect(ctx, l, DisconnectReason::Restart);
            }
        }
        let s = &mut self.shards[shard as usize];
        let replid = s.next_replid;
        s.next_replid += 1;
        s.log = Log::new(replid);
        s.select_pending = true;
        s.pending.clear();
        s.pending_bytes = 0;
        s.pending_writes = 0;
        s.rdb_transfers = 0;
        s.fork_due = None;
    }

    /// Replica `node` of shard s becomes its primary, as `replicationUnsetMaster` and
    /// `shiftReplicationId` make it one: it first executes the stream it has received
    /// whole (Redis processes its master's stream as it reads it; here an apply job may
    /// still wait for its main thread), its store leaves replica mode, its log goes on
    /// from its offset under a new replication id with the old one as replid2 (valid up
    /// to that offset + 1), its link is left vacant for the deposed primary to take,
    /// and the shard's other replicas drop their links and reconnect to it (a partial
    /// resync through replid2 when their offset allows). The deposed primary, up or
    /// down, is no longer the shard's primary; if it is up its store stops
    /// propagating. Returns what the failover lost: the writes the old primary had
    /// acknowledged by now beyond what `node` had received.
    pub(crate) fn promote(&mut self, ctx: &mut Ctx<'_>, nodes: &mut Nodes, node: u32) -> Promotion {
        let now = ctx.sched.now();
        let l = self
            .link_of(node)
            .unwrap_or_else(|| panic!("node {node} promoted is a replica"));
        let shard = self.links[l as usize].shard;
        let previous = self.shards[shard as usize].primary;
        {
            let link = &self.links[l as usize];
            if link.replica == ReplicaSide::Connected && !link.loading {
                self.start_apply(nodes, l, now);
            }
        }
        let link = &self.links[l as usize];
        let (have_id, have, history_start) = (link.replid, link.applied, link.history_start);
        let log = &self.shards[shard as usize].log;
        let shares = log.shares(have_id, have);
        let (lost_writes, lost_stream_bytes) = if shares {
            log.entries
                .iter()
                .filter(|e| e.end > have && e.writes > 0 && e.at <= now)
                .fold((0, 0), |(w, b), e| (w + u64::from(e.writes), b + e.bytes))
        } else {
            // It has none of this id's history: every write under it is lost.
            (log.writes, log.write_bytes)
        };
        // Every link of the shard drops: the promoted replica's, without an event (it
        // is the primary now), and the others', which re-point to it.
        for k in self.shard_links(shard) {
            let link = &self.links[k as usize];
            if link.vacant {
                continue;
            }
            if k == l {
                self.detach(ctx, k);
            } else {
                self.disconnect(ctx, k, DisconnectReason::Failover);
            }
        }
        // The new log: the shared history up to its offset (its backlog, from its last
        // full sync), then its own writes under a new id.
        let s = &mut self.shards[shard as usize];
        let replid = s.next_replid;
        s.next_replid += 1;
        let old = std::mem::replace(&mut s.log, Log::new(replid));
        s.log.replid2 = have_id;
        s.log.second_replid_offset = have + 1;
        s.log.offset = have;
        if shares {
            let mut entries = old.entries;
            while entries.back().is_some_and(|e| e.end > have) {
                entries.pop_back();
            }
            s.log.entries = entries;
            s.log.popped = old.popped;
            s.log.id_start = history_start.max(old.id_start).min(have);
        } else {
            s.log.id_start = have;
        }
        s.primary = node;
        s.pending.clear();
        s.pending_bytes = 0;
        s.pending_writes = 0;
        s.select_pending = true;
        s.fork_due = None;
        s.rdb_transfers = 0;
        s.refuse_writes = false;
        s.next_ping_at = now;
        self.pending_keys[shard as usize].clear();
        if let Some(last) = &mut self.last_writes {
            // Writes past its offset were lost; their offsets will be reused.
            last[shard as usize].retain(|_, (end, _)| *end <= have);
        }
        make_primary(nodes.nodes[node as usize].db.only_mut());
        let old_db = nodes.nodes[previous as usize].db.only_mut();
        old_db.set_propagation(false);
        old_db.set_replica(false);
        self.node_link[node as usize] = None;
        let link = &mut self.links[l as usize];
        link.vacant = true;
        link.node = previous;
        link.replid = None;
        link.applied = 0;
        link.received = 0;
        link.history_start = 0;
        link.loading = false;
        link.apply_queued = false;
        link.next_entry = 0;
        for k in self.shard_links(shard) {
            self.links[k as usize].primary = node;
            if !self.links[k as usize].vacant {
                self.open_flows(ctx, k);
            }
        }
        self.role_changes.push(RoleChangeAt {
            at: now,
            shard,
            node,
            kind: RoleChangeKind::Promoted,
            primary: previous,
            lost_writes,
            lost_stream_bytes,
        });
        Promotion {
            shard,
            previous_primary: previous,
            offset: have,
            lost_writes,
            lost_stream_bytes,
        }
    }

    /// `node` of shard s, not its primary (the deposed primary, typically restarted
    /// empty, with no persistence), becomes a replica of the current primary: it takes
    /// the link slot a promotion left vacant (the one left for it, else the first),
    /// its store enters replica mode, and it connects as a replica does at its next
    /// cron: PSYNC with no history, so a full resync (snapshot over the shaped link,
    /// loaded on its main thread).
    pub(crate) fn rejoin_as_replica(&mut self, ctx: &mut Ctx<'_>, nodes: &mut Nodes, node: u32) {
        let now = ctx.sched.now();
        let shard = self.shard_of(node);
        assert!(
            !self.propagates(node) && self.link_of(node).is_none(),
            "node {node} rejoins: neither the primary nor a replica"
        );
        let vacant: Vec<u32> = self
            .shard_links(shard)
            .filter(|&k| self.links[k as usize].vacant)
            .collect();
        let l = *vacant
            .iter()
            .find(|&&k| self.links[k as usize].node == node)
            .or(vacant.first())
            .unwrap_or_else(|| panic!("shard {shard} has a vacant link for node {node}"));
        let primary = self.shards[shard as usize].primary;
        let link = &mut self.links[l as usize];
        link.vacant = false;
        link.node = node;
        link.primary = primary;
        link.replid = None;
        link.applied = 0;
        link.received = 0;
        link.history_start = 0;
        link.replica = ReplicaSide::Connecting { at: now };
        link.last_io_at = now;
        self.node_link[node as usize] = Some(l);
        make_replica(nodes.nodes[node as usize].db.only_mut());
        self.open_flows(ctx, l);
        self.role_changes.push(RoleChangeAt {
            at: now,
            shard,
            node,
            kind: RoleChangeKind::Rejoined,
            primary,
            lost_writes: 0,
            lost_stream_bytes: 0,
        });
    }

    /// Opens link `l`'s flows between its primary and its replica now (a link whose
    /// ends changed): the old ones, reset when the link dropped, stay idle.
    fn open_flows(&mut self, ctx: &mut Ctx<'_>, l: u32) {
        let link = &self.links[l as usize];
        let (p, r) = (link.primary, link.node);
        let (pn, rn) = (self.paths.nics[p as usize], self.paths.nics[r as usize]);
        let path = self.paths.link(p, r);
        let stream = ctx.flows.open_extra(
            ctx.net,
            FlowKind::ReplicationStream,
            l,
            pn,
            rn,
            path.clone(),
        );
        let control = ctx
            .flows
            .open_extra(ctx.net, FlowKind::ReplicationControl, l, rn, pn, path);
        let link = &mut self.links[l as usize];
        link.stream = stream;
        link.control = control;
    }

    /// The per-second gauges: each link's buffer peak over the second, lag in bytes
    /// and in seconds.
    pub fn sample(&mut self, now: SimTime) {
        if self.links.is_empty() {
            return;
        }
        for l in 0..self.links.len() {
            let link = &self.links[l];
            let log = &self.shards[link.shard as usize].log;
            let buffer = link.buffer_bytes(log);
            let shares = log.shares(link.replid, link.applied);
            let lag_bytes = if link.vacant {
                0
            } else if shares {
                log.offset.saturating_sub(link.applied)
            } else {
                log.offset
            };
            let oldest = log
                .entries
                .get(log.first_after(link.applied))
                .filter(|_| shares && lag_bytes > 0);
            let lag_ns = match oldest {
                Some(e) => (now - e.at.min(now)).as_ns(),
                None if lag_bytes > 0 => now.as_ns(),
                None => 0,
            };
            let link = &mut self.links[l];
            link.buffer_peak_bytes_per_s
                .push(link.buffer_peak_bytes.max(buffer));
            link.buffer_peak_bytes = buffer;
            link.lag_bytes_at_s.push(lag_bytes);
            link.lag_ns_at_s.push(lag_ns);
        }
    }

    /// The results, one per replica.
    pub fn finish(&self, names: &[String]) -> Vec<ReplicaResult> {
        self.links
            .iter()
            .enumerate()
            .map(|(l, link)| {
                let log = &self.shards[link.shard as usize].log;
                ReplicaResult {
                    name: names[link.node as usize].clone(),
                    primary: names[link.primary as usize].clone(),
                    shard: link.shard,
                    events: link.events.clone(),
                    buffer_peak_bytes_per_s: link.buffer_peak_bytes_per_s.clone(),
                    lag_bytes_at_s: link.lag_bytes_at_s.clone(),
                    lag_ns_at_s: link.lag_ns_at_s.clone(),
                    offset_end: link.applied,
                    primary_offset_end: log.offset,
                    in_sync_at_end: link.replid == Some(log.replid)
                        && link.side == PrimarySide::Online,
                    reads: self.reads[l],
                    stale_reads: self.stale_reads[l],
                    stream_bytes_applied: link.stream_bytes_applied,
                }
            })
            .collect()
    }

    /// The promotions and rejoins, in order, with nodes named by `names`.
    pub fn role_changes(&self, names: &[String]) -> Vec<RoleChange> {
        self.role_changes
            .iter()
            .map(|c| RoleChange {
                at_ns: c.at.as_ns(),
                shard: c.shard,
                node: names[c.node as usize].clone(),
                kind: c.kind,
                primary: names[c.primary as usize].clone(),
                lost_writes: c.lost_writes,
                lost_stream_bytes: c.lost_stream_bytes,
            })
            .collect()
    }

    /// The nodes that have been shard `shard`'s primary, first to last (each once).
    pub fn primaries_of(&self, shard: u32) -> Vec<u32> {
        let mut v = vec![shard];
        for c in &self.role_changes {
            if c.shard == shard && c.kind == RoleChangeKind::Promoted && !v.contains(&c.node) {
                v.push(c.node);
            }
        }
        v
    }

    /// Stream bytes each primary appended over the run, by shard.
    pub fn stream_bytes(&self) -> Vec<u64> {
        self.shards.iter().map(|s| s.stream_bytes).collect()
    }

    /// For checks: shard `shard`'s log offset and replication ids (id, replid2).
    #[cfg(test)]
    pub fn log_state(&self, shard: u32) -> (u64, u64, Option<u64>) {
        let log = &self.shards[shard as usize].log;
        (log.offset, log.replid, log.replid2)
    }

    /// For checks: every link's offsets and replication ids.
    #[cfg(test)]
    pub fn offsets(&self) -> Vec<LinkOffsets> {
        self.links
            .iter()
            .map(|l| {
                let log = &self.shards[l.shard as usize].log;
                LinkOffsets {
                    applied: l.applied,
                    received: l.received,
                    primary_offset: log.offset,
                    replica_replid: l.replid,
                    primary_replid: log.replid,
                }
            })
            .collect()
    }
}

/// What a promotion lost and where the new primary's log starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Promotion {
    pub shard: u32,
    pub previous_primary: u32,
    /// The promoted replica's offset, where its log goes on.
    pub offset: u64,
    /// Client writes the old primary acknowledged by then that the promoted replica
    /// had not received, and their entries' stream bytes.
    pub lost_writes: u64,
    pub lost_stream_bytes: u64,
}

/// A role change as it happened (nodes by number).
struct RoleChangeAt {
    at: SimTime,
    shard: u32,
    node: u32,
    kind: RoleChangeKind,
    primary: u32,
    lost_writes: u64,
    lost_stream_bytes: u64,
}

/// What a role change was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleChangeKind {
    /// A replica became its shard's primary.
    Promoted,
    /// A node that was not the shard's primary became a replica of it.
    Rejoined,
}

/// A promotion or a rejoin, for a report's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChange {
    pub at_ns: u64,
    pub shard: u32,
    /// The node promoted, or the node that rejoined.
    pub node: String,
    pub kind: RoleChangeKind,
    /// The primary it replaced (promoted), or the one it now replicates (rejoined).
    pub primary: String,
    /// Acknowledged writes lost: client writes the replaced primary had acknowledged
    /// that the promoted replica had not received, and their stream bytes (0 for a
    /// rejoin).
    pub lost_writes: u64,
    pub lost_stream_bytes: u64,
}

/// What a re-pointed link's flows need: each node's NIC, and the path between two
/// nodes (timed by their zones when the world has zones, as at build).
pub(crate) struct Paths {
    pub nics: Vec<sim::net::NicId>,
    pub base: sim::net::LinkConfig,
    pub zones: crate::scenario::resolve::ZonesConfig,
}

impl Paths {
    fn link(&self, a: u32, b: u32) -> sim::net::LinkConfig {
        let zone = |n: u32| self.zones.node_zones.get(n as usize).copied().unwrap_or(0);
        super::zones::path_between(&self.zones, zone(a), zone(b), &self.base)
    }
}

/// A link's offsets and ids, for checks.
#[cfg(test)]
#[derive(Clone, Copy, Debug)]
pub struct LinkOffsets {
    pub applied: u64,
    pub received: u64,
    pub primary_offset: u64,
    pub replica_replid: Option<u64>,
    pub primary_replid: u64,
}

/// Replication's figures over the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicationResult {
    /// Every replica, shard by shard.
    pub replicas: Vec<ReplicaResult>,
    /// Every primary, in shard order.
    pub primaries: Vec<PrimaryReplicationResult>,
    /// Promotions and rejoins, in order (none without failovers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_changes: Vec<RoleChange>,
}

/// What a primary's egress carried: its replication stream (once per replica, plus
/// snapshots) against its client replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryReplicationResult {
    pub name: String,
    /// Stream bytes appended to its log (each replica is sent them once).
    pub stream_bytes: u64,
    /// Reply bytes to clients.
    pub client_reply_bytes: u64,
    /// Snapshot bytes written for full resyncs.
    pub rdb_bytes_sent: u64,
    /// Stream and snapshot bytes its replicas received (a buffer dropped with its link
    /// never crossed).
    pub replication_bytes_delivered: u64,
}

/// One replica's figures over the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaResult {
    pub name: String,
    pub primary: String,
    pub shard: u32,
    pub events: Vec<LinkEvent>,
    /// The output buffer's peak in each second.
    pub buffer_peak_bytes_per_s: Vec<u64>,
    /// Stream bytes not yet applied, at the start of each second.
    pub lag_bytes_at_s: Vec<u64>,
    /// Time since the primary acknowledged the oldest write not yet applied, at the
    /// start of each second (0 when caught up).
    pub lag_ns_at_s: Vec<u64>,
    pub offset_end: u64,
    pub primary_offset_end: u64,
    pub in_sync_at_end: bool,
    pub stream_bytes_applied: u64,
    /// Reads it served (clients reading from replicas), and of those the stale ones:
    /// the key's last write was acknowledged by the primary before the read arrived and
    /// not yet applied here.
    pub reads: u64,
    pub stale_reads: u64,
}

impl ReplicaResult {
    pub fn full_resyncs(&self) -> u64 {
        self.events
            .iter()
            .filter(|e| matches!(e, LinkEvent::FullResync { .. }))
            .count() as u64
    }

    pub fn partial_resyncs(&self) -> u64 {
        self.events
            .iter()
            .filter(|e| matches!(e, LinkEvent::PartialResync { .. }))
            .count() as u64
    }

    pub fn disconnects(&self) -> u64 {
        self.events
            .iter()
            .filter(|e| matches!(e, LinkEvent::Disconnect { .. }))
            .count() as u64
    }

    pub fn rdb_bytes(&self) -> u64 {
        self.events
            .iter()
            .map(|e| match e {
                LinkEvent::FullResync { rdb_bytes, .. } => *rdb_bytes,
                _ => 0,
            })
            .sum()
    }
}

/// Makes a store a replica's (what a replica refuses and defers to its primary).
pub(crate) fn make_replica(db: &mut Db) {
    db.set_propagation(false);
    db.set_replica(true);
}

/// Makes a store a primary that records what it propagates.
pub(crate) fn make_primary(db: &mut Db) {
    db.set_replica(false);
    db.set_propagation(true);
}

/// Applies one command of the stream to a replica's store, as its master client.
fn apply(db: &mut Db, cmd: &[Blob], now_ms: u64, rng: &mut sim::SimRng) {
    db.apply_replicated(cmd, now_ms, rng);
}

/// A snapshot's payload on the wire: its RDB as redis-server 7.0 writes it (values of
/// memtier's random data counted by length, as memtier sends them: see
/// `store_core::rdb::rdb_len_sampled`), framed as a diskless sync (Redis 7.0's default)
/// sends it.
fn rdb_bytes(db: &Db, now_ms: u64, replid: u64, offset: u64) -> u64 {
    let info = store_core::rdb::RdbInfo::replication(&format!("{replid:040x}"), offset as i64);
    store_core::rdb::diskless_payload_len(store_core::rdb::rdb_len_sampled(db, now_ms, &info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use store_core::repl::{Psync, ReplicationLog};

    /// The World's PSYNC decision is Redis's `masterTryPartialResynchronization`, which
    /// store-core's `ReplicationLog::psync` transcribes: for a log promoted from a
    /// replica (id shifted after 20 PINGs, 3 more PINGs under the new id), a replica
    /// asking with the previous id continues up to offset `second_replid_offset`
    /// exactly and resyncs in full one byte past it; with the current id it continues
    /// anywhere in the backlog; with another id, or none, never; and both decisions
    /// agree at every offset from 0 to past the end.
    #[test]
    fn psync_through_replid2_stops_at_second_replid_offset() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let backlog = 1 << 20;
        let mut redis = ReplicationLog::new(backlog, &mut rng);
        let mut log = Log::new(1);
        let append = |redis: &mut ReplicationLog, log: &mut Log| {
            let before = redis.master_repl_offset();
            let end = redis.append(store_core::repl::ping());
            log.append(
                vec![store_core::repl::ping()],
                end - before,
                SimTime::ZERO,
                0,
            );
            assert_eq!(log.offset, end);
        };
        for _ in 0..20 {
            append(&mut redis, &mut log);
        }
        let (old_id, promoted_at) = (redis.replid().to_string(), log.offset);
        redis.shift_replid(&mut rng);
        // What `promote` does to the World's log.
        log.replid2 = Some(log.replid);
        log.second_replid_offset = log.offset + 1;
        log.replid = 2;
        for _ in 0..3 {
            append(&mut redis, &mut log);
        }
        assert_eq!(redis.second_replid_offset(), promoted_at as i64 + 1);
        // A replica with the whole shared history asks for byte promoted_at + 1:
        // accepted; a replica one byte further (it had a byte the promoted one had not)
        // is refused.
        assert!(log.psync_continues(Some(1), promoted_at, backlog));
        assert!(!log.psync_continues(Some(1), promoted_at + 1, backlog));
        assert!(matches!(
            redis.psync(&old_id, promoted_at as i64 + 1),
            Psync::Continue { .. }
        ));
        assert!(matches!(
            redis.psync(&old_id, promoted_at as i64 + 2),
            Psync::FullResync { .. }
        ));
        let new_id = redis.replid().to_string();
        for offset in 0..=log.offset + 2 {
            for (ours, theirs) in [
                (Some(1), old_id.as_str()),
                (Some(2), new_id.as_str()),
                (Some(9), "0123456789012345678901234567890123456789"),
                (None, "?"),
            ] {
                let redis_continues = matches!(
                    redis.psync(theirs, offset as i64 + 1),
                    Psync::Continue { .. }
                );
                assert_eq!(
                    log.psync_continues(ours, offset, backlog),
                    redis_continues,
                    "id {ours:?} at offset {offset}"
                );
            }
        }
    }
}
