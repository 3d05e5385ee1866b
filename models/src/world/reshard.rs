//! Growing a Redis Cluster during the run, as an operator does with redis-cli 7.0.15
//! (`redis-cli.c`): `--cluster add-node` (the shards' nodes join the bus, see
//! `world::bus`) and `--cluster reshard`, which moves each slot of its table
//! (`clusterManagerMoveSlot`) with one command at a time from redis-cli on client
//! host 0, each waiting for its reply:
//!
//! 1. `CLUSTER SETSLOT slot IMPORTING source` on the target, `... MIGRATING target` on
//!    the source;
//! 2. until the source lists no key of the slot: `CLUSTER GETKEYSINSLOT slot pipeline`
//!    on the source, then `MIGRATE target port "" 0 timeout KEYS k1 .. kn`. MIGRATE
//!    blocks the source's main thread while its keys cross to the target (the
//!    source-to-target flow, shaped like every other), wait for the target's main
//!    thread to RESTORE them, and the replies come back; only then does the source
//!    delete them;
//! 3. `CLUSTER SETSLOT slot NODE target` on the target (which then owns the slot and
//!    bumps its configEpoch), the source, then every other primary. Replicas, and any
//!    node redis-cli has not told yet, learn from the target's next bus message.
//!
//! Every command runs on its node's main thread in turn with the clients' requests
//! (see `Engine::enqueue_admin`), at a command's CPU cost plus its bytes; the store
//! does what redis-server does (`store_core::migrate`), so a client meets `ASK` for a
//! key already moved while its slot migrates and `MOVED` after.
//!
//! Invariants: steps run one at a time, in the resolved order, each starting when due
//! or when the one before ends; one command of a reshard is in flight at a time (from
//! redis-cli, or MIGRATE's exchange between source and target); a key leaves its
//! source only after the target acknowledged it, so no key is lost or duplicated; a
//! slot joins its new shard only when the target has run `SETSLOT NODE`.

use super::bus::Bus;
use super::engine::{AdminCmd, Engine};
use super::flows::FlowKind;
use super::node::Nodes;
use super::replication::Replication;
use super::requests::Requests;
use super::{Ctx, Ev};
use crate::scenario::resolve::reshard::reshard_table;
use crate::scenario::resolve::topology::ZonesConfig;
use crate::scenario::resolve::{ReshardKind, ReshardStep};
use serde::{Deserialize, Serialize};
use sim::net::{FlowId, LinkConfig, NicId};
use sim::stats::CounterSeries;
use sim::SimTime;
use std::collections::BTreeMap;
use store_core::migrate::{MigrateBatch, MigrateReplies};
use store_core::{NodeRef, SlotState};

/// A step of the timeline is due.
#[derive(Clone, Copy, Debug)]
pub enum ReshardEv {
    Due { step: u32 },
}

impl From<ReshardEv> for Ev {
    fn from(e: ReshardEv) -> Ev {
        Ev::Reshard(e)
    }
}

/// `CLUSTER SETSLOT <slot> IMPORTING <40-byte id>` and its like, in RESP: what each
/// SETSLOT sends (the replies are `+OK\r\n`).
const SETSLOT_REQUEST_BYTES: u64 = 86;
/// `CLUSTER GETKEYSINSLOT <slot> <count>`.
const GETKEYS_REQUEST_BYTES: u64 = 58;
/// MIGRATE's fixed part: `MIGRATE host port "" 0 60000 KEYS`.
const MIGRATE_REQUEST_BYTES: u64 = 80;
/// `+OK\r\n`.
const OK_BYTES: u64 = 5;

/// Where a moving slot is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Importing,
    Migrating,
    GetKeys,
    /// MIGRATE sent to the source; its keys then cross to the target and back.
    Migrate,
    NodeOnTarget,
    NodeOnSource,
    /// `SETSLOT NODE` on the other primaries, this one's index in `others`.
    NodeOnOthers(usize),
}

/// A reshard under way.
struct Move {
    step: u32,
    to_shard: u32,
    target: u32,
    pipeline: u32,
    table: Vec<(u16, u32)>,
    /// The slot of `table` moving now.
    pos: usize,
    source: u32,
    phase: Phase,
    /// The primaries told `SETSLOT NODE` after the source.
    others: Vec<u32>,
    keys_moved: u64,
    payload_bytes: u64,
    migrate_calls: u64,
    /// When the moving slot's first command was sent, and the keys moved before it.
    slot_started_ns: u64,
    keys_before_slot: u64,
}

/// A message of the resharding flows.
enum Wire {
    /// A command from redis-cli to `node`.
    Command { node: u32, cmd: AdminCmd },
    /// A reply to redis-cli.
    Reply,
    /// MIGRATE's keys, source to target.
    Keys {
        source: u32,
        target: u32,
        batch: MigrateBatch,
    },
    /// The target's answers, back to the source.
    Answers {
        source: u32,
        batch: MigrateBatch,
        replies: MigrateReplies,
    },
}

/// The components a resharding step drives, borrowed for one call.
pub(crate) struct Parts<'a> {
    pub nodes: &'a mut Nodes,
    pub engine: &'a mut Engine,
    pub reqs: &'a mut Requests,
    pub repl: &'a mut Replication,
    pub bus: &'a mut Bus,
}

/// One step as it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshardStepResult {
    /// `add_shards` or `reshard`.
    pub kind: String,
    /// The primary receiving slots, or those added (`redis-6, redis-7`).
    pub node: String,
    pub due_ns: u64,
    pub started_ns: u64,
    /// None: still running at the end of the run.
    pub ended_ns: Option<u64>,
    /// Slots in redis-cli's table, and those moved.
    pub slots_planned: u64,
    pub slots_moved: u64,
    pub keys_moved: u64,
    /// DUMP payloads and RESTORE-ASKING commands sent source to target.
    pub migrated_bytes: u64,
    pub migrate_calls: u64,
    /// Each slot moved, in order.
    pub slots: Vec<SlotMoveResult>,
}

/// One slot's move: from its first command (SETSLOT IMPORTING) to the last primary
/// told its new owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotMoveResult {
    pub slot: u16,
    /// The primary it left.
    pub from: String,
    pub started_ns: u64,
    pub ended_ns: u64,
    pub keys: u64,
}

/// What the resharding timeline did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshardResult {
    pub steps: Vec<ReshardStepResult>,
    pub migrated_bytes_per_s: Vec<u64>,
    pub slots_moved_per_s: Vec<u64>,
    /// Set when a flow of the resharding was reset (a partition longer than the TCP
    /// retransmission limit): redis-cli gives up, and the step never ends.
    pub aborted_at_ns: Option<u64>,
}

/// The world's resharding driver (redis-cli).
pub(crate) struct Resharding {
    steps: Vec<ReshardStep>,
    /// The next step to start.
    next: usize,
    running: Option<Move>,
    /// A step (add-node) started and ended at once, or a move running.
    results: Vec<ReshardStepResult>,
    total_shards: u32,
    replicas: u32,
    names: Vec<String>,
    driver_nic: NicId,
    driver_zone: u32,
    node_nics: Vec<NicId>,
    node_zones: Vec<u32>,
    zones: ZonesConfig,
    base_link: LinkConfig,
    /// Flow index of each ordered pair (`from * (n + 1) + to`, redis-cli being n).
    flows: BTreeMap<u64, u32>,
    /// Source-target pairs whose MIGRATE connection is open (its first MIGRATE
    /// sends SELECT 0 first).
    connected: BTreeMap<(u32, u32), ()>,
    msgs: slab::Slab<Wire>,
    /// The keys of the last GETKEYSINSLOT, until redis-cli reads its reply.
    pending_keys: Option<Vec<Vec<u8>>>,
    migrated_bytes_per_s: CounterSeries,
    slots_moved_per_s: CounterSeries,
    aborted_at_ns: Option<u64>,
}

impl Resharding {
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        steps: Vec<ReshardStep>,
        initial_shards: u32,
        replicas: u32,
        names: Vec<String>,
        driver_nic: NicId,
        driver_zone: u32,
        node_nics: Vec<NicId>,
        node_zones: Vec<u32>,
        zones: ZonesConfig,
        base_link: LinkConfig,
    ) -> Resharding {
        let total_shards = initial_shards
            + steps
                .iter()
                .map(|s| match s.kind {
                    ReshardKind::AddShards { count, .. } => count,
                    ReshardKind::Move { .. } => 0,
                })
                .sum::<u32>();
        Resharding {
            steps,
            next: 0,
            running: None,
            results: Vec::new(),
            total_shards,
            replicas,
            names,
            driver_nic,
            driver_zone,
            node_nics,
            node_zones,
            zones,
            base_link,
            flows: BTreeMap::new(),
            connected: BTreeMap::new(),
            msgs: slab::Slab::new(),
            pending_keys: None,
            migrated_bytes_per_s: CounterSeries::default(),
            slots_moved_per_s: CounterSeries::default(),
            aborted_at_ns: None,
        }
    }

    /// Schedules every step's due time.
    pub fn start(&self, sched: &mut sim::Scheduler<Ev>) {
        for (i, s) in self.steps.iter().enumerate() {
            sched.schedule_at(
                SimTime::from_ns(s.at_ns),
                ReshardEv::Due { step: i as u32 }.into(),
            );
        }
    }

    pub fn handle(&mut self, ctx: &mut Ctx<'_>, p: &mut Parts<'_>, ev: ReshardEv) {
        let ReshardEv::Due { step } = ev;
        if step as usize == self.next && self.running.is_none() && self.aborted_at_ns.is_none() {
            self.start_due(ctx, p);
        }
    }

    /// Starts the steps that are due, one at a time: add-node steps end at once, a
    /// reshard runs until its last slot.
    fn start_due(&mut self, ctx: &mut Ctx<'_>, p: &mut Parts<'_>) {
        let now = ctx.sched.now().as_ns();
        while self.running.is_none() && self.next < self.steps.len() {
            let step = self.steps[self.next].clone();
            if step.at_ns > now {
                return;
            }
            let index = self.next as u32;
            self.next += 1;
            match step.kind {
                ReshardKind::AddShards { first_shard, count } => {
                    let (total, replicas) = (self.total_shards, self.replicas);
                    let added: Vec<u32> = (first_shard..first_shard + count)
                        .flat_map(|s| {
                            std::iter::once(s)
                                .chain((0..replicas).map(move |r| total + s * replicas + r))
                        })
                        .collect();
                    p.bus.join(ctx, p.nodes, &added);
                    self.results.push(ReshardStepResult {
                        kind: "add_shards".into(),
                        node: (first_shard..first_shard + count)
                            .map(|s| self.names[s as usize].as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        due_ns: step.at_ns,
                        started_ns: now,
                        ended_ns: Some(now),
                        slots_planned: 0,
                        slots_moved: 0,
                        keys_moved: 0,
                        migrated_bytes: 0,
                        migrate_calls: 0,
                        slots: Vec::new(),
                    });
                }
                ReshardKind::Move {
                    to,
                    ref from,
                    slots,
                    pipeline,
                } => {
                    let table = reshard_table(p.bus.slot_shards(), from, slots);
                    let target = p.repl.primary_of(to);
                    self.results.push(ReshardStepResult {
                        kind: "reshard".into(),
                        node: self.names[target as usize].clone(),
                        due_ns: step.at_ns,
                        started_ns: now,
                        ended_ns: None,
                        slots_planned: table.len() as u64,
                        slots_moved: 0,
                        keys_moved: 0,
                        migrated_bytes: 0,
                        migrate_calls: 0,
                        slots: Vec::new(),
                    });
                    self.running = Some(Move {
                        step: index,
                        to_shard: to,
                        target,
                        pipeline,
                        table,
                        pos: 0,
                        source: 0,
                        phase: Phase::Importing,
                        others: Vec::new(),
                        keys_moved: 0,
                        payload_bytes: 0,
                        migrate_calls: 0,
                        slot_started_ns: now,
                        keys_before_slot: 0,
                    });
                    self.next_slot(ctx, p);
                }
            }
        }
    }

    /// Starts moving the next slot of the running reshard, or ends it.
    fn next_slot(&mut self, ctx: &mut Ctx<'_>, p: &mut Parts<'_>) {
        let m = self.running.as_mut().expect("a reshard runs");
        let Some(&(slot, source_shard)) = m.table.get(m.pos) else {
            let m = self.running.take().expect("a reshard runs");
            let r = &mut self.results[m.step as usize];
            r.ended_ns = Some(ctx.sched.now().as_ns());
            self.start_due(ctx, p);
            return;
        };
        m.source = p.repl.primary_of(source_shard);
        m.phase = Phase::Importing;
        m.slot_started_ns = ctx.sched.now().as_ns();
        m.keys_before_slot = m.keys_moved;
        let target = m.target;
        self.command(
            ctx,
            target,
            AdminCmd::SetSlot {
                slot,
                state: SlotState::Importing,
            },
            SETSLOT_REQUEST_BYTES,
        );
    }

    /// Sends `cmd` from redis-cli to `node`.
    fn command(&mut self, ctx: &mut Ctx<'_>, node: u32, cmd: AdminCmd, bytes: u64) {
        let n = self.node_nics.len() as u32;
        let token = self.msgs.insert(Wire::Command { node, cmd }) as u64;
        let flow = self.flow(ctx, n, node);
        ctx.net.send(ctx.sched, flow, bytes, token);
    }

    /// The flow from `a` to `b` (redis-cli being node index n), opened at its first
    /// message.
    fn flow(&mut self, ctx: &mut Ctx<'_>, a: u32, b: u32) -> FlowId {
        let n = self.node_nics.len() as u64;
        let key = u64::from(a) * (n + 1) + u64::from(b);
        if let Some(&index) = self.flows.get(&key) {
            return ctx.flows.flow(FlowKind::Resharding, index);
        }
        let host = |i: u32| {
            if i as usize == self.node_nics.len() {
                (self.driver_nic, self.driver_zone)
            } else {
                (self.node_nics[i as usize], self.node_zones[i as usize])
            }
        };
        let ((a_nic, a_zone), (b_nic, b_zone)) = (host(a), host(b));
        let link = super::zones::path_between(&self.zones, a_zone, b_zone, &self.base_link);
        let (flow, index) =
            ctx.flows
                .open_late(ctx.net, FlowKind::Resharding, key, a_nic, b_nic, link);
        self.flows.insert(key, index);
        flow
    }

    /// The nodes a delivered message went between (redis-cli's messages: None).
    pub fn message_ends(&self, token: u64) -> Option<(u32, u32)> {
        match &self.msgs[token as usize] {
            Wire::Keys { source, target, .. } => Some((*source, *target)),
            Wire::Answers { source, .. } => {
                let target = self.running.as_ref().map_or(*source, |m| m.target);
                Some((target, *source))
            }
            Wire::Command { .. } | Wire::Reply => None,
        }
    }

    /// A message of the resharding flows arrived.
    pub fn on_delivery(&mut self, ctx: &mut Ctx<'_>, p: &mut Parts<'_>, token: u64) {
        match self.msgs.remove(token as usize) {
            Wire::Command { node, cmd } => {
                p.engine
                    .enqueue_admin(ctx, p.nodes, p.reqs, p.repl, node, cmd, false);
            }
            Wire::Keys { target, batch, .. } => {
                let cmd = AdminCmd::MigrateIn {
                    batch,
                    replies: MigrateReplies::default(),
                };
                p.engine
                    .enqueue_admin(ctx, p.nodes, p.reqs, p.repl, target, cmd, false);
            }
            Wire::Answers {
                source,
                batch,
                replies,
            } => {
                let cmd = AdminCmd::MigrateFinish {
                    batch,
                    replies,
                    reply_bytes: 0,
                };
                p.engine
                    .enqueue_admin(ctx, p.nodes, p.reqs, p.repl, source, cmd, true);
            }
            Wire::Reply => self.on_reply(ctx, p),
        }
    }

    /// Commands the nodes' main threads finished (`engine.admin_done`).
    pub fn admin_done(&mut self, ctx: &mut Ctx<'_>, p: &mut Parts<'_>, done: &[u32]) {
        let n = self.node_nics.len() as u32;
        for &token in done {
            let (node, cmd) = p.engine.admin.remove(token as usize);
            match cmd {
                AdminCmd::SetSlot { slot, state } => {
                    p.nodes.nodes[node as usize].db.set_slot_state(slot, state);
                    let m = self.running.as_ref().expect("a reshard runs");
                    if state == SlotState::Owned && node == m.target {
                        p.bus.move_slot(slot, m.to_shard, node);
                    }
                    self.reply(ctx, node, n, OK_BYTES);
                }
                AdminCmd::GetKeys { keys, .. } => {
                    let bytes = 4 + keys.iter().map(|k| k.len() as u64 + 8).sum::<u64>();
                    let m = self.running.as_mut().expect("a reshard runs");
                    m.phase = Phase::GetKeys;
                    self.pending_keys = Some(keys);
                    self.reply(ctx, node, n, bytes);
                }
                AdminCmd::MigrateOut { batch, .. } => {
                    let m = self.running.as_ref().expect("a reshard runs");
                    let target = m.target;
                    if batch.is_empty() {
                        // NOKEY: nothing to send, MIGRATE returns at once.
                        let cmd = AdminCmd::MigrateFinish {
                            batch,
                            replies: MigrateReplies::default(),
                            reply_bytes: 0,
                        };
                        p.engine
                            .enqueue_admin(ctx, p.nodes, p.reqs, p.repl, node, cmd, true);
                        continue;
                    }
                    self.connected.insert((node, target), ());
                    let bytes = batch.request_bytes();
                    let now = ctx.sched.now();
                    self.migrated_bytes_per_s.add(now, bytes);
                    let m = self.running.as_mut().expect("a reshard runs");
                    m.payload_bytes += bytes;
                    let token = self.msgs.insert(Wire::Keys {
                        source: node,
                        target,
                        batch,
                    }) as u64;
                    let flow = self.flow(ctx, node, target);
                    ctx.net.send(ctx.sched, flow, bytes, token);
                }
                AdminCmd::MigrateIn { batch, replies } => {
                    let source = self.running.as_ref().expect("a reshard runs").source;
                    let bytes = replies.reply_bytes();
                    let token = self.msgs.insert(Wire::Answers {
                        source,
                        batch,
                        replies,
                    }) as u64;
                    let flow = self.flow(ctx, node, source);
                    ctx.net.send(ctx.sched, flow, bytes, token);
                }
                AdminCmd::MigrateFinish {
                    batch,
                    replies,
                    reply_bytes,
                } => {
                    let acked = replies
                        .restores
                        .iter()
                        .filter(|r| **r == store_core::migrate::RestoreReply::Ok)
                        .count() as u64;
                    let m = self.running.as_mut().expect("a reshard runs");
                    m.keys_moved += acked;
                    m.migrate_calls += 1;
                    let _ = batch;
                    self.reply(ctx, node, n, reply_bytes.max(OK_BYTES));
                }
            }
        }
    }

    /// Sends a reply of `bytes` from `node` to redis-cli.
    fn reply(&mut self, ctx: &mut Ctx<'_>, node: u32, driver: u32, bytes: u64) {
        let token = self.msgs.insert(Wire::Reply) as u64;
        let flow = self.flow(ctx, node, driver);
        ctx.net.send(ctx.sched, flow, bytes, token);
    }

    /// redis-cli has the reply to its command: it sends the next.
    fn on_reply(&mut self, ctx: &mut Ctx<'_>, p: &mut Parts<'_>) {
        let m = self.running.as_mut().expect("a reshard runs");
        let (slot, _) = m.table[m.pos];
        let (source, target) = (m.source, m.target);
        let setslot = |state| AdminCmd::SetSlot { slot, state };
        match m.phase {
            Phase::Importing => {
                m.phase = Phase::Migrating;
                let cmd = setslot(SlotState::Migrating(NodeRef(target as u16)));
                self.command(ctx, source, cmd, SETSLOT_REQUEST_BYTES);
            }
            Phase::Migrating | Phase::Migrate => {
                m.phase = Phase::GetKeys;
                let cmd = AdminCmd::GetKeys {
                    slot,
                    count: m.pipeline,
                    keys: Vec::new(),
                };
                self.pending_keys = None;
                self.command(ctx, source, cmd, GETKEYS_REQUEST_BYTES);
            }
            Phase::GetKeys => {
                let keys = self.pending_keys.take().unwrap_or_default();
                if keys.is_empty() {
                    m.phase = Phase::NodeOnTarget;
                    self.command(
                        ctx,
                        target,
                        setslot(SlotState::Owned),
                        SETSLOT_REQUEST_BYTES,
                    );
                } else {
                    m.phase = Phase::Migrate;
                    let bytes = MIGRATE_REQUEST_BYTES
                        + keys.iter().map(|k| k.len() as u64 + 8).sum::<u64>();
                    let select = !self.connected.contains_key(&(source, target));
                    let cmd = AdminCmd::MigrateOut {
                        keys,
                        select,
                        batch: MigrateBatch::default(),
                    };
                    self.command(ctx, source, cmd, bytes);
                }
            }
            Phase::NodeOnTarget => {
                m.phase = Phase::NodeOnSource;
                let elsewhere = setslot(SlotState::Elsewhere(NodeRef(target as u16)));
                self.command(ctx, source, elsewhere, SETSLOT_REQUEST_BYTES);
            }
            Phase::NodeOnSource | Phase::NodeOnOthers(_) => {
                let k = match m.phase {
                    Phase::NodeOnOthers(k) => k + 1,
                    _ => {
                        m.others = (0..self.total_shards)
                            .map(|s| p.repl.primary_of(s))
                            .filter(|&n| n != source && n != target && p.bus.has_joined(n))
                            .collect();
                        0
                    }
                };
                if let Some(&other) = m.others.get(k) {
                    m.phase = Phase::NodeOnOthers(k);
                    let elsewhere = setslot(SlotState::Elsewhere(NodeRef(target as u16)));
                    self.command(ctx, other, elsewhere, SETSLOT_REQUEST_BYTES);
                    return;
                }
                let now = ctx.sched.now();
                self.slots_moved_per_s.add(now, 1);
                m.pos += 1;
                let r = &mut self.results[m.step as usize];
                r.slots.push(SlotMoveResult {
                    slot,
                    from: self.names[source as usize].clone(),
                    started_ns: m.slot_started_ns,
                    ended_ns: now.as_ns(),
                    keys: m.keys_moved - m.keys_before_slot,
                });
                r.slots_moved += 1;
                r.keys_moved = m.keys_moved;
                r.migrated_bytes = m.payload_bytes;
                r.migrate_calls = m.migrate_calls;
                self.next_slot(ctx, p);
            }
        }
    }

    /// A resharding flow was reset: redis-cli exits with the error, leaving the slot
    /// it was moving open (as a real aborted reshard does, for `--cluster fix`).
    pub fn on_aborted(&mut self, now: SimTime) {
        if self.aborted_at_ns.is_none() {
            self.aborted_at_ns = Some(now.as_ns());
        }
    }

    pub fn finish(&self) -> Option<ReshardResult> {
        if self.steps.is_empty() {
            return None;
        }
        Some(ReshardResult {
            steps: self.results.clone(),
            migrated_bytes_per_s: self.migrated_bytes_per_s.values().to_vec(),
            slots_moved_per_s: self.slots_moved_per_s.values().to_vec(),
            aborted_at_ns: self.aborted_at_ns,
        })
    }
}
