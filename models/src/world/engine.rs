//! The engine: Redis's (and Valkey's) request pipeline on a node's threads, and its CPU
//! cost. A connection's waiting requests are read as one batch when a thread is free
//! (FIFO across connections, like Redis's event loop). Without I/O threads one thread
//! does the whole batch (a `Full` job). With them the two engines differ:
//!
//! - Valkey 8's I/O threads are asynchronous: an I/O thread reads and parses (`Read`),
//!   the main thread executes (`Exec`) and the I/O thread writes the replies (`Write`),
//!   the main thread never waiting for them.
//! - Redis 7.0's are synchronous with the main thread (`networking.c`,
//!   `handleClientsWithPendingWritesUsingThreads`): the main thread reads, parses and
//!   executes (`Full`), and in each event-loop iteration with at least twice as many
//!   clients to write to as threads, the writes are dealt out over all the threads, the
//!   main thread writing its share and spinning until the others are done; with
//!   `io-threads-do-reads` the reads are dealt out the same way. So a batch's main
//!   thread pays its 1/N share of those (the wall time of the phase) and its I/O thread
//!   the rest (`IoWork`, which no reply waits for); with fewer clients pending (counted
//!   as the jobs queued on the main thread) the main thread does all, as Redis stops
//!   its threads then.
//!
//! Each job costs CPU per [`CostModel`]; a batch's replies leave on the connection's
//! reply flow when its last job ends. A node's threads run on its instance's vCPUs ([`HostCpu`]): more
//! threads than vCPUs share them, and every job then takes longer.
//!
//! The thread-per-core engine (Dragonfly's design) runs no I/O threads: each of a
//! node's threads owns a shard of its store and the connections assigned to it. A
//! connection's thread reads and parses its batch and executes the commands whose keys
//! its own shard holds (a `Full` job); each other thread that owns a key of the batch
//! gets one message (a `Hop` job, executing that thread's commands at the hop's cost);
//! when the last hop is back, the connection's thread resumes and writes the replies
//! (a `Reply` job). The kernel's network work for each request is demand on the host's
//! vCPUs ahead of the threads, set every millisecond from the requests of the last one.
//!
//! Invariant: each connection has at most one batch in progress (`busy`), so replies
//! leave in request order; a thread runs one job at a time, in the order queued; a
//! completion event acts only if it is its thread's live one (the host reschedules
//! completions when threads contend).

use super::cluster::Outcome;
use super::flows::FlowKind;
use super::node::Nodes;
use super::replication::{Command, Replication};
use super::requests::{with_argv, ReqList, Requests, NO_REQ, NO_SLOT};
use super::{Ctx, Ev};
use crate::engine::CostModel;
use crate::workload::generator::{format_key, OpKind};
use sim::host::{Completion, HostCpu};
use sim::{SimDuration, SimTime};
use std::collections::VecDeque;
use store_core::resp::{encoded_len, Protocol};
use store_core::{Arg, Reply, Session};

/// Redis's reply to a write refused by min-replicas-to-write.
const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// The engine's events.
#[derive(Clone, Copy, Debug)]
pub enum EngineEv {
    /// A node thread's current job is due to finish (stale unless `epoch` is the
    /// thread's live one).
    JobDone { node: u32, thread: u16, epoch: u16 },
    /// Thread-per-core: every node's kernel network demand is set from the requests it
    /// received in the last period.
    KernelTick,
}

/// How often the kernel's network demand follows the request rate.
const KERNEL_TICK: SimDuration = SimDuration::from_ms(1);

impl From<EngineEv> for Ev {
    fn from(e: EngineEv) -> Ev {
        Ev::Engine(e)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Job {
    /// Read, execute and write a connection's batch (a thread without I/O helpers).
    Full { conn: u32 },
    /// I/O thread: read and parse the connection's waiting requests.
    Read { conn: u32 },
    /// Main thread: execute the connection's batch.
    Exec { conn: u32 },
    /// I/O thread: write the batch's replies.
    Write { conn: u32 },
    /// A replica's main thread: apply the replication stream it has received.
    Apply { link: u32 },
    /// A replica's main thread: load a received snapshot.
    Load { link: u32 },
    /// The main thread's cluster-bus work: messages to process, a cron, pings to build.
    Bus,
    /// The main thread runs a resharding command (`Engine::admin[token]`).
    Admin { token: u32 },
    /// Redis 7.0: an I/O thread's share of an event-loop iteration's reads and writes,
    /// done in parallel with the main thread's (nothing waits for it).
    IoWork { ns: u32 },
    /// Thread-per-core: a thread runs the commands of connection `conn`'s batch whose
    /// keys it owns, sent to it by the connection's thread.
    Hop { conn: u32 },
    /// Thread-per-core: the connection's thread resumes once every hop is back, and
    /// writes the replies.
    Reply { conn: u32 },
}

/// A command of the resharding driver for a node's main thread (see `world::reshard`),
/// run on the node's store when its job starts, as a client's command is.
#[derive(Debug)]
pub(crate) enum AdminCmd {
    /// `CLUSTER SETSLOT slot IMPORTING | MIGRATING | NODE`: set in the node's store,
    /// and the bus's when it gives the slot to its node, at once when the job ends
    /// (a bus message processed at the end of a job just before must not see the
    /// store's change without the bus's).
    SetSlot {
        slot: u16,
        state: store_core::SlotState,
    },
    /// `CLUSTER GETKEYSINSLOT slot count`; the job leaves the keys in `keys`.
    GetKeys {
        slot: u16,
        count: u32,
        keys: Vec<Vec<u8>>,
    },
    /// MIGRATE's first half on the source; the job leaves what it sends in `batch`
    /// and the thread held (MIGRATE blocks its node until the target answers).
    MigrateOut {
        keys: Vec<Vec<u8>>,
        select: bool,
        batch: store_core::migrate::MigrateBatch,
    },
    /// The target's RESTORE-ASKINGs; the job leaves the replies in `replies`.
    MigrateIn {
        batch: store_core::migrate::MigrateBatch,
        replies: store_core::migrate::MigrateReplies,
    },
    /// MIGRATE's second half on the source, with the target's replies.
    MigrateFinish {
        batch: store_core::migrate::MigrateBatch,
        replies: store_core::migrate::MigrateReplies,
        reply_bytes: u64,
    },
}

/// A node's cluster-bus work for its main thread: what has accrued since the last bus
/// job started, and what the running one took.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BusWork {
    pending_ns: u64,
    pending_messages: u32,
    queued: bool,
    taken_ns: u64,
    taken_messages: u32,
}

/// A thread's jobs: the one it runs (its CPU is the host's) and those queued.
pub(crate) struct Thread {
    queue: VecDeque<Job>,
    current: Option<Job>,
    /// Blocked in a MIGRATE, waiting for its target: starts nothing meanwhile.
    held: bool,
}

impl Thread {
    pub fn new() -> Thread {
        Thread {
            queue: VecDeque::new(),
            current: None,
            held: false,
        }
    }
}

/// A node's end of one client connection: one cache line, since a request touches its
/// connection's (one of ten thousand) at each step on the node.
#[repr(align(64))]
pub(crate) struct Conn {
    pub session: Session,
    /// Requests that reached the node and wait to be read, in arrival order.
    pub waiting: ReqList,
    /// The batch being processed.
    pub batch: ReqList,
    pub node: u32,
    pub io_thread: u16,
    /// A job for this connection is queued or running.
    pub busy: bool,
    /// The batch belongs to a connection reset since it was read (see `world::faults`):
    /// it is not executed, and its requests are freed instead of answered.
    pub orphaned: bool,
}

const _: () = assert!(
    std::mem::size_of::<Conn>() == 64,
    "a connection is one cache line"
);

/// The engine of every node: its threads and its ends of the client connections.
pub(crate) struct Engine {
    /// `threads[node][0]` is the node's main thread; the rest are I/O threads.
    pub threads: Vec<Vec<Thread>>,
    /// Each node's vCPUs, which its threads share (thread t of the node is thread t of
    /// its host).
    pub cpus: Vec<HostCpu>,
    /// Completions to schedule, reused.
    completions: Vec<Completion>,
    /// Connection c is the client connection whose flows are index c of the client
    /// request and reply kinds.
    pub conns: Vec<Conn>,
    pub cost: CostModel,
    pub key_prefix: String,
    key_buf: Vec<u8>,
    /// The key index whose name `key_buf` holds (a key's name depends on nothing else):
    /// the prefetch of a job names the key its execution will name again.
    key_buf_index: u64,
    argv_buf: Vec<u8>,
    /// What the command being executed propagates, reused.
    propagated: Vec<Command>,
    /// The content of the values SETs write (memtier's).
    pub value_fill: store_core::SyntheticFill,
    /// Each node's cluster-bus work (empty without a bus).
    pub bus_work: Vec<BusWork>,
    /// Bus jobs finished and not yet handed to the bus: (node, work, messages).
    pub bus_done: Vec<(u32, u64, u32)>,
    /// Resharding commands queued, running or done and not yet collected.
    pub admin: slab::Slab<(u32, AdminCmd)>,
    /// Resharding commands done and not yet handed to the driver, in order.
    pub admin_done: Vec<u32>,
    /// The thread-per-core engine's state (None for Redis and Valkey).
    pub tpc: Option<ThreadPerCore>,
    /// Redis 7.0's synchronous I/O threads (`Some(do_reads)`) rather than Valkey 8's
    /// asynchronous ones (None); read only with I/O threads.
    pub redis_io: Option<bool>,
    /// Requests answered (no redirection) by a node whose own view did not serve their
    /// slot then: always 0 (tests check).
    #[cfg(test)]
    pub answered_by_non_owner: u64,
}

/// The thread-per-core engine's bookkeeping: the hops each connection's batch waits
/// for, and the kernel's network work.
pub(crate) struct ThreadPerCore {
    /// Per connection: the threads its batch's commands hop to (a bit per thread), set
    /// while its `Full` job runs.
    hop_targets: Vec<[u64; 4]>,
    /// Per connection: hops sent and not yet back.
    hops_pending: Vec<u16>,
    /// Per node: requests received since the last kernel tick.
    kernel_requests: Vec<u64>,
    /// Per node: the kernel's network work, vCPU-ns per second.
    pub kernel_ns_per_s: Vec<Vec<u64>>,
    /// Hops sent, over the run.
    pub hops: u64,
    /// Commands executed on their connection's own thread, over the run.
    pub inline_commands: u64,
    /// The end of the run: no kernel tick after it.
    end: SimTime,
}

impl ThreadPerCore {
    pub fn new(nodes: usize, conns: usize, end: SimTime) -> ThreadPerCore {
        ThreadPerCore {
            hop_targets: vec![[0; 4]; conns],
            hops_pending: vec![0; conns],
            kernel_requests: vec![0; nodes],
            kernel_ns_per_s: vec![Vec::new(); nodes],
            hops: 0,
            inline_commands: 0,
            end,
        }
    }

    /// Starts the kernel ticks.
    pub fn start(&self, sched: &mut sim::Scheduler<Ev>) {
        sched.schedule_at(SimTime::ZERO + KERNEL_TICK, EngineEv::KernelTick.into());
    }
}

impl Engine {
    pub fn new(
        threads: Vec<Vec<Thread>>,
        cpus: Vec<HostCpu>,
        conns: Vec<Conn>,
        cost: CostModel,
        key_prefix: String,
    ) -> Engine {
        Engine {
            threads,
            cpus,
            completions: Vec::new(),
            conns,
            cost,
            key_prefix,
            key_buf: Vec::with_capacity(64),
            key_buf_index: u64::MAX,
            argv_buf: Vec::with_capacity(64),
            propagated: Vec::new(),
            value_fill: store_core::SyntheticFill::Repeat(b'x'),
            bus_work: Vec::new(),
            bus_done: Vec::new(),
            admin: slab::Slab::new(),
            admin_done: Vec::new(),
            tpc: None,
            redis_io: None,
            #[cfg(test)]
            answered_by_non_owner: 0,
        }
    }

    /// A request has reached its node.
    pub fn on_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        req: u32,
    ) {
        let now = ctx.sched.now();
        let r = &mut reqs[req as usize];
        r.received = now;
        let conn = r.conn;
        let cn = &mut self.conns[conn as usize];
        cn.waiting.push_back(reqs, req);
        if let Some(tpc) = &mut self.tpc {
            tpc.kernel_requests[cn.node as usize] += 1;
        }
        if !cn.busy {
            cn.busy = true;
            let node = cn.node;
            let (thread, job) = self.first_job(node, conn);
            self.enqueue(ctx, nodes, reqs, repl, node, thread, job);
        }
    }

    pub fn handle(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        ev: EngineEv,
    ) {
        match ev {
            EngineEv::JobDone {
                node,
                thread,
                epoch,
            } => {
                let now = ctx.sched.now();
                let live = self.cpus[node as usize].finish(
                    now,
                    thread as u32,
                    epoch,
                    &mut self.completions,
                );
                if !self.completions.is_empty() {
                    self.schedule_completions(ctx, node);
                }
                if live {
                    self.job_done(ctx, nodes, reqs, repl, node, thread as u32);
                }
            }
            EngineEv::KernelTick => self.kernel_tick(ctx),
        }
    }

    /// Sets each node's kernel network demand from the requests it received in the
    /// last period (each costs `kernel_per_request_ns` of a vCPU), and records it.
    fn kernel_tick(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.sched.now();
        let per_request_ns = self.cost.kernel_per_request_ns;
        let tick_ns = KERNEL_TICK.as_ns();
        let second = (now.as_ns() / sim::time::NS_PER_S) as usize;
        let nodes = self.cpus.len();
        for node in 0..nodes {
            let tpc = self
                .tpc
                .as_mut()
                .expect("kernel ticks only for thread-per-core");
            let work_ns = std::mem::take(&mut tpc.kernel_requests[node]) * per_request_ns;
            let demand_milli = work_ns * 1_000 / tick_ns;
            self.cpus[node].set_kernel_demand(now, demand_milli, &mut self.completions);
            // What runs in the coming period, in the second it falls in (periods divide
            // seconds).
            let applied = self.cpus[node].kernel_demand_milli() * tick_ns / 1_000;
            let series = &mut tpc.kernel_ns_per_s[node];
            if series.len() <= second {
                series.resize(second + 1, 0);
            }
            series[second] += applied;
            if !self.completions.is_empty() {
                self.schedule_completions(ctx, node as u32);
            }
        }
        let next = now + KERNEL_TICK;
        if next < self.tpc.as_ref().expect("checked").end {
            ctx.sched.schedule_at(next, EngineEv::KernelTick.into());
        }
    }

    /// The job that starts a connection's next batch, and the thread it runs on: the
    /// connection's I/O thread reading it (Valkey), the main thread (Redis, and any
    /// node without I/O threads), or the connection's own thread (thread-per-core).
    fn first_job(&self, node: u32, conn: u32) -> (u32, Job) {
        let io = u32::from(self.conns[conn as usize].io_thread);
        if self.tpc.is_some() {
            (io, Job::Full { conn })
        } else if self.threads[node as usize].len() > 1 && self.redis_io.is_none() {
            (io, Job::Read { conn })
        } else {
            (0, Job::Full { conn })
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn enqueue(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        node: u32,
        thread: u32,
        job: Job,
    ) {
        self.threads[node as usize][thread as usize]
            .queue
            .push_back(job);
        self.kick(ctx, nodes, reqs, repl, node, thread);
    }

    /// Starts the thread's next job if it is idle.
    fn kick(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        node: u32,
        thread: u32,
    ) {
        let now = ctx.sched.now();
        let t = &mut self.threads[node as usize][thread as usize];
        // A crashed node's threads start nothing until it restarts.
        if t.current.is_some() || t.held || nodes.nodes[node as usize].down {
            return;
        }
        let Some(job) = t.queue.pop_front() else {
            return;
        };
        let work = self.start_job(ctx, nodes, reqs, repl, now, node, thread, job);
        self.threads[node as usize][thread as usize].current = Some(job);
        let c = self.cpus[node as usize].start(now, thread, work, &mut self.completions);
        ctx.sched.schedule_at(
            c.at,
            EngineEv::JobDone {
                node,
                thread: c.thread as u16,
                epoch: c.epoch,
            }
            .into(),
        );
        if !self.completions.is_empty() {
            self.schedule_completions(ctx, node);
        }
        if let Job::Full { conn } | Job::Write { conn } = job {
            // Its replies are sent when the job ends.
            ctx.net
                .prefetch_flow(ctx.flows.flow(FlowKind::ClientReply, conn));
        }
        self.prefetch_next(nodes, reqs, node, thread);
        if let (Some(_), Job::Full { conn }) = (self.redis_io, job) {
            // Its I/O thread's share of the iteration's reads and writes, if dealt out.
            let io = u32::from(self.conns[conn as usize].io_thread);
            if io != thread {
                self.kick(ctx, nodes, reqs, repl, node, io);
            }
        }
    }

    /// The other tenants of `node`'s physical host now run `demand_milli` milli-vCPUs:
    /// its running jobs' completions move with their new share of the cores.
    pub(crate) fn set_co_tenant_demand(&mut self, ctx: &mut Ctx<'_>, node: u32, demand_milli: u64) {
        let now = ctx.sched.now();
        self.cpus[node as usize].set_co_tenant_demand(now, demand_milli, &mut self.completions);
        if !self.completions.is_empty() {
            self.schedule_completions(ctx, node);
        }
    }

    /// Schedules the completions the node's host has rescheduled (its threads
    /// contend), and empties the list.
    #[cold]
    #[inline(never)]
    fn schedule_completions(&mut self, ctx: &mut Ctx<'_>, node: u32) {
        for c in self.completions.drain(..) {
            ctx.sched.schedule_at(
                c.at,
                EngineEv::JobDone {
                    node,
                    thread: c.thread as u16,
                    epoch: c.epoch,
                }
                .into(),
            );
        }
    }

    /// Starts loading the keyspace lines the thread's next command will read: a random
    /// key of a large keyspace misses every cache level, and the next job is known a
    /// whole job ahead. A hint only; it changes no result.
    fn prefetch_next(&mut self, nodes: &Nodes, reqs: &Requests, node: u32, thread: u32) {
        let req = match self.threads[node as usize][thread as usize].queue.front() {
            Some(Job::Full { conn }) => self.conns[*conn as usize].waiting.head,
            Some(Job::Exec { conn }) => self.conns[*conn as usize].batch.head,
            _ => NO_REQ,
        };
        if req != NO_REQ {
            let key_index = reqs[req as usize].key_index;
            self.name_key(key_index);
            let db = &nodes.nodes[node as usize].db;
            for line in db.lookup_lines(&self.key_buf).into_iter().flatten() {
                sim::hint::prefetch(line);
            }
        }
    }

    /// Puts key `key_index`'s name in `key_buf`.
    #[inline]
    fn name_key(&mut self, key_index: u64) {
        if self.key_buf_index != key_index {
            format_key(&self.key_prefix, key_index, &mut self.key_buf);
            self.key_buf_index = key_index;
        }
    }

    /// What a job does when it starts, and its CPU cost.
    #[allow(clippy::too_many_arguments)]
    fn start_job(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        now: SimTime,
        node: u32,
        thread: u32,
        job: Job,
    ) -> SimDuration {
        match job {
            Job::Full { conn } if self.tpc.is_some() => {
                let request_bytes = self.take_batch(reqs, conn);
                let thread = u32::from(self.conns[conn as usize].io_thread);
                let (commands, reply_bytes) =
                    self.execute_on_thread(ctx, nodes, reqs, repl, now, node, conn, thread, true);
                self.cost.read(request_bytes)
                    + self.cost.execute(commands)
                    + self.cost.write(reply_bytes)
            }
            Job::Hop { conn } => {
                let (commands, reply_bytes) = if self.conns[conn as usize].orphaned {
                    (0, 0)
                } else {
                    self.execute_on_thread(ctx, nodes, reqs, repl, now, node, conn, thread, false)
                };
                self.cost.hop() + self.cost.execute(commands) + self.cost.write(reply_bytes)
            }
            Job::Reply { .. } => self.cost.hop(),
            Job::Full { conn } => {
                let request_bytes = self.take_batch(reqs, conn);
                let reply_bytes = self.execute_batch(ctx, nodes, reqs, repl, now, node, conn);
                // Writing the stream into each attached replica's socket is the main
                // thread's work too (Redis keeps replicas on the main thread's list).
                let stream_bytes = repl.pending_bytes(node) * repl.attached(node);
                let commands = self.conns[conn as usize].batch.len as u64;
                let threads = self.threads[node as usize].len() as u64;
                // Redis 7.0's threads are active while at least twice as many clients
                // wait to be written to as there are threads (this one included).
                let pending = self.threads[node as usize][thread as usize].queue.len() as u64 + 1;
                match self.redis_io {
                    Some(do_reads) if threads > 1 && pending >= 2 * threads => {
                        // The batch's fixed cost is its read (and epoll) and its write
                        // syscalls: half each, the write's half dealt out with the bytes.
                        let (read, write) = self.cost.read_write_split(request_bytes, reply_bytes);
                        let dealt = write + if do_reads { read } else { 0 };
                        let main_share = dealt / threads;
                        let io = self.conns[conn as usize].io_thread as u32;
                        let ns = u32::try_from(dealt - main_share).unwrap_or(u32::MAX);
                        self.threads[node as usize][io as usize]
                            .queue
                            .push_back(Job::IoWork { ns });
                        SimDuration::from_ns(main_share + if do_reads { 0 } else { read })
                            + self.cost.execute(commands)
                            + self.cost.write(stream_bytes)
                    }
                    _ => self
                        .cost
                        .batch(commands, request_bytes, reply_bytes + stream_bytes),
                }
            }
            Job::IoWork { ns } => SimDuration::from_ns(u64::from(ns)),
            // A job of a link its node left (promoted) does nothing.
            Job::Apply { link } | Job::Load { link } if !repl.job_is_live(link, node) => {
                SimDuration::ZERO
            }
            Job::Apply { link } => {
                let (commands, bytes) = repl.start_apply(nodes, link, now);
                self.cost.batch(commands.max(1), bytes, 0)
            }
            Job::Bus => {
                let w = &mut self.bus_work[node as usize];
                w.queued = false;
                w.taken_ns = std::mem::take(&mut w.pending_ns);
                w.taken_messages = std::mem::take(&mut w.pending_messages);
                SimDuration::from_ns(w.taken_ns)
            }
            Job::Admin { token } => self.start_admin(nodes, repl, now, node, token),
            Job::Load { link } => {
                let rdb_bytes = repl.start_load(nodes, link);
                SimDuration::from_ns(
                    (u128::from(rdb_bytes) * 1_000_000_000
                        / u128::from(repl.config.rdb_load_bytes_per_s.max(1)))
                        as u64,
                )
            }
            Job::Read { conn } => {
                let request_bytes = self.take_batch(reqs, conn);
                self.cost.read(request_bytes)
            }
            Job::Exec { conn } => {
                if !self.conns[conn as usize].orphaned {
                    self.execute_batch(ctx, nodes, reqs, repl, now, node, conn);
                }
                let stream_bytes = repl.pending_bytes(node) * repl.attached(node);
                self.cost
                    .execute(self.conns[conn as usize].batch.len as u64)
                    + self.cost.write(stream_bytes)
            }
            Job::Write { conn } => {
                let bytes = self.conns[conn as usize].batch.sum(reqs, |r| r.reply_bytes);
                self.cost.write(bytes)
            }
        }
    }

    /// Moves the connection's waiting requests into its batch; returns their bytes.
    fn take_batch(&mut self, reqs: &Requests, conn: u32) -> u64 {
        let cn = &mut self.conns[conn as usize];
        debug_assert!(cn.batch.is_empty(), "one batch per connection at a time");
        cn.batch = std::mem::replace(&mut cn.waiting, ReqList::EMPTY);
        cn.batch.sum(reqs, |r| r.request_bytes)
    }

    /// Thread-per-core: executes the commands of `conn`'s batch whose keys thread
    /// `thread` owns; returns how many and their replies' bytes. With `note_hops` (the
    /// connection's own thread parsing the batch), records the threads owning the rest.
    #[allow(clippy::too_many_arguments)]
    fn execute_on_thread(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        _repl: &mut Replication,
        now: SimTime,
        node: u32,
        conn: u32,
        thread: u32,
        note_hops: bool,
    ) -> (u64, u64) {
        let now_ms = super::now_unix_ms(now);
        let n = &mut nodes.nodes[node as usize];
        let cn = &mut self.conns[conn as usize];
        let tpc = self.tpc.as_mut().expect("thread-per-core");
        let (mut commands, mut total) = (0, 0);
        let mut targets = [0u64; 4];
        let mut req = cn.batch.head;
        while req != NO_REQ {
            let id = req;
            let r = &mut reqs[req as usize];
            req = r.next;
            if self.key_buf_index != r.key_index {
                format_key(&self.key_prefix, r.key_index, &mut self.key_buf);
                self.key_buf_index = r.key_index;
            }
            // A map refresh (CLUSTER SHARDS) names no key: the connection's thread
            // answers it.
            let owner = if r.refresh {
                u32::from(cn.io_thread)
            } else {
                n.db.shard_of(&self.key_buf) as u32
            };
            if owner != thread {
                if note_hops {
                    targets[owner as usize / 64] |= 1 << (owner % 64);
                }
                continue;
            }
            if r.slot != NO_SLOT {
                cn.session.hint_slot(r.slot);
            }
            let reply = with_argv(
                r,
                &self.key_buf,
                self.value_fill,
                &mut self.argv_buf,
                |argv| n.execute(&mut cn.session, argv, now_ms),
            );
            if r.refresh {
                ctx.cluster
                    .refresh_replies
                    .insert(id, store_core::resp::encode_to_vec(&reply, Protocol::Resp2));
            }
            note_reply(ctx, r, &reply);
            r.reply_bytes = encoded_len(&reply, Protocol::Resp2);
            r.cpu_start = now;
            total += r.reply_bytes;
            commands += 1;
        }
        if note_hops {
            tpc.hop_targets[conn as usize] = targets;
            tpc.inline_commands += commands;
        }
        (commands, total)
    }

    /// Executes the batch's commands on the node's Db; returns the replies' bytes.
    #[allow(clippy::too_many_arguments)]
    fn execute_batch(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        now: SimTime,
        node: u32,
        conn: u32,
    ) -> u64 {
        let now_ms = super::now_unix_ms(now);
        let n = &mut nodes.nodes[node as usize];
        let cn = &mut self.conns[conn as usize];
        let propagates = repl.propagates(node);
        let refuse_writes = propagates && repl.refuses_writes(node);
        let is_replica = !propagates && repl.link_of(node).is_some();
        let mut total = 0;
        let mut req = cn.batch.head;
        while req != NO_REQ {
            let id = req;
            let r = &mut reqs[req as usize];
            req = r.next;
            // ASKING rides in the same write as the command it is for: it only sets the
            // session's flag the command then clears.
            let asking_reply_bytes = if r.asking {
                let ok = n.execute(&mut cn.session, &[Arg::Bytes(b"ASKING")], now_ms);
                encoded_len(&ok, Protocol::Resp2)
            } else {
                0
            };
            if self.key_buf_index != r.key_index {
                format_key(&self.key_prefix, r.key_index, &mut self.key_buf);
                self.key_buf_index = r.key_index;
            }
            if r.slot != NO_SLOT {
                cn.session.hint_slot(r.slot);
            }
            let reply = if refuse_writes && r.kind == OpKind::Set {
                Reply::error(NOREPLICAS)
            } else if propagates {
                let reply = with_argv(
                    r,
                    &self.key_buf,
                    self.value_fill,
                    &mut self.argv_buf,
                    |argv| n.execute(&mut cn.session, argv, now_ms),
                );
                n.db.only_mut().drain_propagated(&mut self.propagated);
                if !self.propagated.is_empty() {
                    repl.record_key(node, r.key_index);
                }
                repl.record(node, &mut self.propagated);
                reply
            } else {
                if r.kind == OpKind::Get && is_replica {
                    repl.on_replica_read(node, r.key_index, r.received);
                }
                with_argv(
                    r,
                    &self.key_buf,
                    self.value_fill,
                    &mut self.argv_buf,
                    |argv| n.execute(&mut cn.session, argv, now_ms),
                )
            };
            note_reply(ctx, r, &reply);
            #[cfg(test)]
            if r.outcome == Outcome::Answered && r.slot != NO_SLOT && !r.refresh {
                let served = match n.db.slot_state(r.slot) {
                    Some(store_core::SlotState::Owned | store_core::SlotState::Migrating(_)) => {
                        true
                    }
                    Some(store_core::SlotState::Importing) => r.asking,
                    _ => false,
                };
                self.answered_by_non_owner += u64::from(!served);
            }
            if r.refresh {
                ctx.cluster
                    .refresh_replies
                    .insert(id, store_core::resp::encode_to_vec(&reply, Protocol::Resp2));
            }
            r.reply_bytes = encoded_len(&reply, Protocol::Resp2) + asking_reply_bytes;
            r.cpu_start = now;
            total += r.reply_bytes;
        }
        total
    }

    fn job_done(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        node: u32,
        thread: u32,
    ) {
        let now = ctx.sched.now();
        let job = self.threads[node as usize][thread as usize]
            .current
            .take()
            .expect("a job was running");
        match job {
            Job::Read { conn } => self.enqueue(ctx, nodes, reqs, repl, node, 0, Job::Exec { conn }),
            Job::IoWork { .. } => {}
            Job::Apply { link } | Job::Load { link } if !repl.job_is_live(link, node) => {}
            Job::Apply { link } => repl.apply_done(ctx, nodes, self, reqs, link),
            Job::Load { link } => repl.load_done(ctx, nodes, self, reqs, link),
            Job::Bus => {
                let w = &mut self.bus_work[node as usize];
                let done = (node, w.taken_ns, w.taken_messages);
                self.bus_done.push(done);
            }
            Job::Admin { token } => {
                if repl.propagates(node) {
                    repl.commit(ctx, node);
                }
                if matches!(self.admin[token as usize].1, AdminCmd::MigrateOut { .. }) {
                    self.threads[node as usize][0].held = true;
                }
                self.admin_done.push(token);
            }
            Job::Exec { conn } => {
                if repl.propagates(node) {
                    repl.commit(ctx, node);
                }
                let io = self.conns[conn as usize].io_thread as u32;
                self.enqueue(ctx, nodes, reqs, repl, node, io, Job::Write { conn });
            }
            Job::Full { conn }
                if self
                    .tpc
                    .as_ref()
                    .is_some_and(|t| t.hop_targets[conn as usize] != [0; 4]) =>
            {
                let tpc = self.tpc.as_mut().expect("checked");
                let targets = std::mem::take(&mut tpc.hop_targets[conn as usize]);
                if self.conns[conn as usize].orphaned {
                    // Reset while parsing: nothing is sent on; the batch is freed.
                    self.finish_batch(ctx, nodes, reqs, repl, node, conn, now);
                } else {
                    let count: u32 = targets.iter().map(|w| w.count_ones()).sum();
                    tpc.hops_pending[conn as usize] = count as u16;
                    tpc.hops += u64::from(count);
                    for (w, &word) in targets.iter().enumerate() {
                        let mut bits = word;
                        while bits != 0 {
                            let b = bits.trailing_zeros();
                            bits &= bits - 1;
                            let target = w as u32 * 64 + b;
                            self.enqueue(ctx, nodes, reqs, repl, node, target, Job::Hop { conn });
                        }
                    }
                }
            }
            Job::Hop { conn } => {
                let tpc = self.tpc.as_mut().expect("hops only for thread-per-core");
                let pending = &mut tpc.hops_pending[conn as usize];
                *pending -= 1;
                if *pending == 0 {
                    let own = u32::from(self.conns[conn as usize].io_thread);
                    self.enqueue(ctx, nodes, reqs, repl, node, own, Job::Reply { conn });
                }
            }
            Job::Full { conn } | Job::Write { conn } | Job::Reply { conn } => {
                if matches!(job, Job::Full { .. }) && repl.propagates(node) {
                    repl.commit(ctx, node);
                }
                self.finish_batch(ctx, nodes, reqs, repl, node, conn, now);
            }
        }
        self.kick(ctx, nodes, reqs, repl, node, thread);
    }

    /// The batch of `conn` is done: its replies leave (or, orphaned, it is freed), and
    /// the connection's next batch starts if requests wait.
    #[allow(clippy::too_many_arguments)]
    fn finish_batch(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        node: u32,
        conn: u32,
        now: SimTime,
    ) {
        let reply_flow = ctx.flows.flow(FlowKind::ClientReply, conn);
        let cn = &mut self.conns[conn as usize];
        let mut batch = std::mem::replace(&mut cn.batch, ReqList::EMPTY);
        if cn.orphaned {
            cn.orphaned = false;
            super::faults::free_orphans(reqs, batch);
            batch = ReqList::EMPTY;
        }
        let mut req = batch.head;
        while req != NO_REQ {
            let r = &mut reqs[req as usize];
            r.cpu_end = now;
            let bytes = r.reply_bytes;
            let next = r.next;
            ctx.net.send(ctx.sched, reply_flow, bytes, req as u64);
            req = next;
        }
        let cn = &mut self.conns[conn as usize];
        cn.busy = false;
        if !cn.waiting.is_empty() {
            cn.busy = true;
            let (thread, job) = self.first_job(node, conn);
            self.enqueue(ctx, nodes, reqs, repl, node, thread, job);
        }
    }

    /// Queues a replication job (`apply` the stream received, or load a snapshot) for
    /// link `link` on its replica's main thread.
    pub(crate) fn enqueue_replica_job(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        link: u32,
        apply: bool,
    ) {
        let node = repl.replica_node(link);
        let job = if apply {
            Job::Apply { link }
        } else {
            Job::Load { link }
        };
        self.enqueue(ctx, nodes, reqs, repl, node, 0, job);
    }

    /// Adds cluster-bus work (`messages` of it delivered messages) for node `node`'s
    /// main thread: it joins the bus job queued if one has not started yet, or a new
    /// one is queued. Bus jobs run in turn with the requests, as Redis's event loop
    /// handles a readable bus link like a readable client.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn enqueue_bus_work(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        node: u32,
        work_ns: u64,
        messages: u32,
    ) {
        let w = &mut self.bus_work[node as usize];
        w.pending_ns += work_ns;
        w.pending_messages += messages;
        if !w.queued {
            w.queued = true;
            self.enqueue(ctx, nodes, reqs, repl, node, 0, Job::Bus);
        }
    }

    /// Queues resharding command `cmd` on node `node`'s main thread (first in its
    /// queue when `front`: MIGRATE's second half runs as soon as the target answers);
    /// returns its token. A thread held in a MIGRATE is released first.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn enqueue_admin(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        node: u32,
        cmd: AdminCmd,
        front: bool,
    ) -> u32 {
        let token = self.admin.insert((node, cmd)) as u32;
        let main = &mut self.threads[node as usize][0];
        if front {
            main.held = false;
            main.queue.push_front(Job::Admin { token });
            self.kick(ctx, nodes, reqs, repl, node, 0);
        } else {
            self.enqueue(ctx, nodes, reqs, repl, node, 0, Job::Admin { token });
        }
        token
    }

    /// Runs resharding command `token` on its node's store; returns its CPU cost:
    /// a command's, with its bytes read and written (a MIGRATE's payload is
    /// serialized on the source and parsed on the target, like a request's bytes).
    fn start_admin(
        &mut self,
        nodes: &mut Nodes,
        repl: &mut Replication,
        now: SimTime,
        node: u32,
        token: u32,
    ) -> SimDuration {
        let now_ms = super::now_unix_ms(now);
        let n = &mut nodes.nodes[node as usize];
        let cost = match &mut self.admin[token as usize].1 {
            // Its effect is the driver's, at the job's end, with the bus's own (see
            // `Resharding::admin_done`).
            AdminCmd::SetSlot { .. } => self.cost.batch(1, 0, 0),
            AdminCmd::GetKeys { slot, count, keys } => {
                *keys = n.db.only_mut().keys_in_slot(*slot, *count as usize);
                let bytes: u64 = keys.iter().map(|k| k.len() as u64 + 8).sum();
                self.cost.batch(1, 0, bytes)
            }
            AdminCmd::MigrateOut {
                keys,
                select,
                batch,
            } => {
                *batch = n.db.only_mut().migrate_out(keys, now_ms);
                batch.select = *select;
                self.cost.batch(1, 0, batch.request_bytes())
            }
            AdminCmd::MigrateIn { batch, replies } => {
                *replies = n.db.only_mut().migrate_in(batch, now_ms, &mut n.rng);
                self.cost.batch(
                    batch.keys.len() as u64,
                    batch.request_bytes(),
                    replies.reply_bytes(),
                )
            }
            AdminCmd::MigrateFinish {
                batch,
                replies,
                reply_bytes,
            } => {
                let reply = n.db.only_mut().migrate_finish(batch, replies);
                *reply_bytes = store_core::migrate::migrate_reply_bytes(&reply);
                self.cost.batch(batch.keys.len() as u64, 0, *reply_bytes)
            }
        };
        if repl.propagates(node) {
            n.db.only_mut().drain_propagated(&mut self.propagated);
            repl.record(node, &mut self.propagated);
        }
        cost + self
            .cost
            .write(repl.pending_bytes(node) * repl.attached(node))
    }

    /// The node's end of connection `conn`, opened by its client at run time (the next
    /// index), with its I/O thread chosen as the build chooses it.
    pub(crate) fn add_conn(&mut self, conn: u32, node: u32) {
        assert_eq!(conn as usize, self.conns.len(), "connections open in order");
        let io_threads = self.threads[node as usize].len() as u32;
        let io_thread = if let Some(tpc) = &mut self.tpc {
            tpc.hop_targets.push([0; 4]);
            tpc.hops_pending.push(0);
            conn % io_threads
        } else if io_threads > 1 {
            1 + conn % (io_threads - 1)
        } else {
            0
        };
        self.conns.push(Conn {
            node,
            session: Session::new(u64::from(conn) + 1),
            waiting: ReqList::EMPTY,
            batch: ReqList::EMPTY,
            busy: false,
            orphaned: false,
            io_thread: u16::try_from(io_thread).expect("at most 128 threads"),
        });
    }

    /// A restarted node's threads take up their queues again.
    pub(crate) fn resume_node(
        &mut self,
        ctx: &mut Ctx<'_>,
        nodes: &mut Nodes,
        reqs: &mut Requests,
        repl: &mut Replication,
        node: u32,
    ) {
        for thread in 0..self.threads[node as usize].len() as u32 {
            self.kick(ctx, nodes, reqs, repl, node, thread);
        }
    }

    /// Requests in connection lists, for checks: (waiting, in a batch).
    #[cfg(test)]
    pub fn queued_requests(&self) -> (u64, u64) {
        self.conns.iter().fold((0, 0), |(w, b), c| {
            (w + c.waiting.len as u64, b + c.batch.len as u64)
        })
    }
}

/// Records what a request's reply says: a hit, and its outcome (answered, or a
/// redirection or retry for its client); an error that is an answer counts as one (a
/// redirection or a retry is the client's to count, see `world::client`).
#[inline]
fn note_reply(ctx: &mut Ctx<'_>, r: &mut super::requests::Req, reply: &Reply) {
    r.hit = matches!(reply, Reply::Bulk(_));
    r.outcome = match reply {
        Reply::Error(text) => Outcome::of_error(text.as_bytes(), ctx.cluster.view.as_ref()),
        _ => Outcome::Answered,
    };
    if reply.is_error() && r.outcome == Outcome::Answered {
        ctx.metrics.errors += 1;
    }
}
