//! Clients: memtier_benchmark's connections. Each client is one request generator and
//! pipeline with a connection to every shard (a cluster-aware client routes each key to
//! the node its own slot map names), sending as its pipeline, its rate limit (memtier's
//! `--rate-limiting` timer) or its open-loop arrival schedule allow, until its request
//! count or the test time runs out. Invariant: a client never has more than `pipeline`
//! requests outstanding, and every request it sends is either answered exactly once
//! (its reply delivered, `on_reply`, then parsed, `parsed`, which records its latency),
//! fails with a reset of its connection (`on_requests_failed`), or fails after
//! `max_redirects` redirections and retries (`fail_request`).
//!
//! In a cluster, a request answered `MOVED` updates its client's map (and the client
//! asks the new owner for the whole map with `CLUSTER SLOTS`, one refresh at a time,
//! outside its pipeline) and goes to the named node; one answered `ASK` goes to the named
//! node after `ASKING`, map unchanged; one answered `CLUSTERDOWN` or `TRYAGAIN` is sent
//! again after the retry delay. A client with no connection to a node it must reach
//! opens one then (new flows, after every flow of the build). Its latency runs from its
//! first send.
//!
//! Clients cost CPU ([`ClientCpuCost`]): memtier's clients are spread over its threads
//! (`clients` connections each), and each thread is a FIFO server on the client host's
//! vCPUs (one of its own while the threads are no more than the vCPUs; sharing them by
//! processor sharing beyond, [`SharedClientCpu`], its work then a queue of jobs). A delivered reply waits for its thread, which parses it; only then is the
//! request done (its latency recorded, as memtier records it in its read callback) and
//! its slot free. Building a request costs the thread too: the request leaves when its
//! thread takes it up, and the thread is busy building it after the work already
//! queued. A start, a rate-limit tick or an arrival that finds its thread busy sends
//! once the work queued then is done. So a thread serving many connections tops out at
//! one request per `request + reply` cost, whatever the servers could do.
//!
//! An open-loop client whose queue is full drops every arrival until a reply lets it
//! send again, so it then schedules no arrival events: it keeps the time of the next
//! arrival and, when it next takes one from its queue (or when the run ends), counts the
//! arrivals dropped meanwhile in one step. The work of a run is then what is served,
//! however far the offered rate is above it; the figures are those of one event per
//! arrival (an arrival at the very nanosecond of the reply that frees a slot counts as
//! dropped).

use super::cluster::{Outcome, SlotMap, NO_NODE};
use super::flows::FlowKind;
use super::requests::{with_argv, Req, Requests, NO_REQ, NO_SLOT};
use super::results::ClusterClientCounts;
use super::{Ctx, Ev};
use crate::client_cpu::ClientCpuCost;
use crate::placement::Router;
use crate::scenario::resolve::ClusterClientConfig;
use crate::scenario::spec::ReadFrom;
use crate::workload::arrivals::ArrivalGen;
use crate::workload::generator::{format_key, OpKind, RateBudget, WorkloadGen};
use sim::host::{Completion, CpuCredits, CpuThread, HostCpu};
use sim::{SimDuration, SimRng, SimTime};
use std::collections::VecDeque;
use store_core::resp::encoded_request_len;

/// The clients' events.
#[derive(Clone, Copy, Debug)]
pub enum ClientEv {
    /// A client's connections are up: start sending (once its thread is free).
    Start { client: u32 },
    /// memtier's rate-limiting timer.
    RateTick { client: u32 },
    /// An open-loop arrival.
    Arrival { client: u32 },
    /// A reply's parse is over: the request is done.
    Parsed { req: u32 },
    /// The client's turn on its thread, for a start, tick or arrival that found it
    /// busy.
    Wake { client: u32 },
    /// A job of a client thread sharing its host's vCPUs is due to finish (stale
    /// unless `epoch` is the thread's live one).
    JobDone { host: u32, thread: u16, epoch: u16 },
    /// A request answered CLUSTERDOWN or TRYAGAIN has waited its retry delay: it is
    /// sent again, where the client's map now says.
    Retry { req: u32 },
    /// A request's timeout, for its send number `attempt` (stale if it was answered,
    /// redirected or freed since).
    Timeout { req: u32, attempt: u32 },
}

impl From<ClientEv> for Ev {
    fn from(e: ClientEv) -> Ev {
        Ev::Client(e)
    }
}

/// One memtier client.
pub(crate) struct Client {
    pub gen: WorkloadGen,
    pub rng: SimRng,
    /// Its connection to shard s is connection `first_conn + s`.
    pub first_conn: u32,
    pub outstanding: u32,
    pub sent: u64,
    /// Replies received in the measured window (what its host's row reports).
    pub replies_in_window: u64,
    pub budget: Option<RateBudget>,
    /// When the current rate budget was granted (the intended send time of requests
    /// it pays for).
    pub budget_at: SimTime,
    /// Open loop: intended send times waiting for a pipeline slot.
    pub backlog: VecDeque<SimTime>,
    pub arrivals: Option<ArrivalGen>,
    /// Open loop with the queue full: the next arrival, for which no event is scheduled
    /// (every arrival until a slot frees is dropped, and counted when it does).
    pub arrivals_held: Option<SimTime>,
    /// Its memtier thread (an index into [`Clients::threads`]).
    pub thread: u32,
    /// A `Wake` is scheduled.
    pub wake_pending: bool,
    /// Reads it has sent to replicas: the next goes to replica `reads_to_replicas mod
    /// replicas` of its shard, in turn.
    pub reads_to_replicas: u32,
    /// Connections it opened at run time: (node, connection).
    pub opened: Vec<(u32, u32)>,
    /// Its slot map (a CRC16 cluster only): where it sends each slot's requests.
    pub map: Option<SlotMap>,
    /// Its map refresh (`CLUSTER SLOTS`) in flight, if any: at most one at a time.
    pub refreshing: bool,
    /// What following the cluster cost it.
    pub counts: ClusterClientCounts,
    /// Sends so far, redirections and refreshes included (each send's sequence number
    /// on its connection, for the tests' order checks).
    #[cfg(test)]
    pub sends: u64,
}

/// A client connection opened at run time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpenedConn {
    pub conn: u32,
    pub node: u32,
    pub host: u32,
}

/// One memtier thread: a FIFO server on its client host's vCPUs.
pub(crate) struct ClientThread {
    pub cpu: CpuThread,
    /// Its host (an index into [`Clients::host_credits`]).
    pub host: u32,
}

/// A job of a client thread that shares its host's vCPUs.
#[derive(Clone, Copy, Debug)]
enum ClientJob {
    /// Parse a delivered reply.
    Parse { req: u32 },
    /// Build requests already sent (charged after them, as in FIFO mode).
    Build { work_ns: u64 },
    /// A client's turn: it sends what it may.
    Turn { client: u32 },
}

/// Client hosts with more memtier threads than vCPUs: the threads share the vCPUs
/// ([`HostCpu`], processor sharing), so a thread's work is a queue of jobs, each ending
/// with an event (the completion times move as threads contend).
pub(crate) struct SharedClientCpu {
    /// Each client host's vCPUs (and CPU credits).
    pub hosts: Vec<HostCpu>,
    /// Memtier threads a host.
    pub threads_per_host: u32,
    queues: Vec<VecDeque<ClientJob>>,
    current: Vec<Option<ClientJob>>,
    completions: Vec<Completion>,
}

impl SharedClientCpu {
    pub fn new(hosts: Vec<HostCpu>, threads_per_host: u32) -> SharedClientCpu {
        let threads = hosts.len() * threads_per_host as usize;
        SharedClientCpu {
            hosts,
            threads_per_host,
            queues: (0..threads).map(|_| VecDeque::new()).collect(),
            current: vec![None; threads],
            completions: Vec::new(),
        }
    }

    fn busy(&self, thread: u32) -> bool {
        self.current[thread as usize].is_some() || !self.queues[thread as usize].is_empty()
    }
}

/// Every client of the world.
pub(crate) struct Clients {
    pub clients: Vec<Client>,
    /// Which shard (and so which of a client's connections) each key goes to.
    pub router: Router,
    pub key_prefix: String,
    pub pipeline: u32,
    pub requests_per_connection: Option<u64>,
    /// Open loop: arrivals a client holds while its pipeline is full.
    pub queue_depth: usize,
    /// No request is sent from this time on (memtier's test time, or the run's end).
    pub stop_sending_at: SimTime,
    pub key_buf: Vec<u8>,
    pub argv_buf: Vec<u8>,
    /// Every memtier thread, host by host.
    pub threads: Vec<ClientThread>,
    /// Each client host's CPU credits (burstable types).
    pub host_credits: Vec<Option<CpuCredits>>,
    pub cpu_cost: ClientCpuCost,
    /// Replies delivered whose parse is not over (for checks: a request in one place).
    pub awaiting_parse: u64,
    /// When the memtier threads outnumber their host's vCPUs: the shared vCPUs (and
    /// `threads` and `host_credits` go unused).
    pub shared: Option<SharedClientCpu>,
    /// Where reads go; with replicas read from, a client has a connection to every
    /// node (primaries, then each shard's replicas), otherwise to every primary.
    pub read_from: ReadFrom,
    pub shards: u32,
    pub replicas_per_shard: u32,
    /// Each replica's link is in sync, by replica (for `replica_preferred`).
    pub replica_in_sync: Vec<bool>,
    /// A client has a connection to nodes `0..connected` (connection `first_conn + n`)
    /// from the start; to others once it first sends them a request.
    pub connected: u32,
    /// Each node's NIC and each client host's, to open a connection at run time.
    pub node_nics: Vec<sim::net::NicId>,
    pub host_nics: Vec<sim::net::NicId>,
    /// The path of a connection opened at run time (its latency per zones, if any).
    pub link: sim::net::LinkConfig,
    pub zones: crate::scenario::resolve::ZonesConfig,
    /// Connections opened at run time, for the world to give their node ends.
    pub opened: Vec<OpenedConn>,
    /// How clients follow redirections and retries.
    pub redirects: ClusterClientConfig,
    /// Requests waiting out their retry delay (for checks: a request in one place).
    pub awaiting_retry: u64,
    /// Requests given up at their timeout and still in the table (on their way).
    pub timed_out_in_flight: u64,
    /// Sends with a timeout so far, by every client, wrapping (a timeout names the send
    /// it is for).
    pub attempts: u32,
}

impl Clients {
    /// Schedules every client's start at t = 0.
    pub fn start(&self, sched: &mut sim::Scheduler<Ev>) {
        for client in 0..self.clients.len() as u32 {
            sched.schedule_at(SimTime::ZERO, ClientEv::Start { client }.into());
        }
    }

    pub fn handle(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, ev: ClientEv) {
        let now = ctx.sched.now();
        match ev {
            ClientEv::Start { client } => {
                let c = &mut self.clients[client as usize];
                if let Some(budget) = &c.budget {
                    c.budget_at = now;
                    ctx.sched.schedule_at(
                        now + SimDuration::from_ns(budget.interval_ns()),
                        ClientEv::RateTick { client }.into(),
                    );
                }
                if let Some(arrivals) = &mut c.arrivals {
                    let first = arrivals.first_arrival_ns(&mut c.rng);
                    ctx.sched.schedule_at(
                        now + SimDuration::from_ns(first),
                        ClientEv::Arrival { client }.into(),
                    );
                }
                self.fill_or_wait(ctx, reqs, client);
            }
            ClientEv::RateTick { client } => {
                if now >= self.stop_sending_at {
                    return;
                }
                let c = &mut self.clients[client as usize];
                let budget = c
                    .budget
                    .as_mut()
                    .expect("ticks only for rate-limited clients");
                budget.on_tick();
                c.budget_at = now;
                let interval = budget.interval_ns();
                ctx.sched.schedule_at(
                    now + SimDuration::from_ns(interval),
                    ClientEv::RateTick { client }.into(),
                );
                self.fill_or_wait(ctx, reqs, client);
            }
            ClientEv::Arrival { client } => {
                if now >= self.stop_sending_at {
                    return;
                }
                let c = &mut self.clients[client as usize];
                let full = c.backlog.len() >= self.queue_depth;
                if !full {
                    c.backlog.push_back(now);
                } else if now >= ctx.metrics.measure_from {
                    ctx.metrics.client_queue_overflows += 1;
                }
                let gap = c
                    .arrivals
                    .as_mut()
                    .expect("arrivals only for open-loop clients")
                    .next_gap_ns(&mut c.rng);
                let next = now + SimDuration::from_ns(gap.max(1));
                if full {
                    // Nothing can leave the queue before a reply: hold the arrivals.
                    c.arrivals_held = Some(next);
                } else {
                    ctx.sched
                        .schedule_at(next, ClientEv::Arrival { client }.into());
                }
                self.fill_or_wait(ctx, reqs, client);
            }
            ClientEv::Parsed { req } => {
                self.awaiting_parse -= 1;
                self.parsed(ctx, reqs, req)
            }
            ClientEv::Wake { client } => {
                // Its turn on the thread, behind the work queued when it began to wait.
                self.clients[client as usize].wake_pending = false;
                self.fill(ctx, reqs, client);
            }
            ClientEv::JobDone {
                host,
                thread,
                epoch,
            } => self.shared_job_done(ctx, reqs, host, thread as u32, epoch),
            ClientEv::Timeout { req, attempt } => self.timeout(ctx, reqs, req, attempt),
            ClientEv::Retry { req } => {
                self.awaiting_retry -= 1;
                let r = &reqs[req as usize];
                let node = self.owner_of(r.client, r.slot, r.shard);
                self.resend(ctx, reqs, req, node, false);
            }
        }
    }

    /// A shared thread's job is due: if it is live, what it was for happens, and the
    /// thread takes up its next job.
    #[cold]
    #[inline(never)]
    fn shared_job_done(
        &mut self,
        ctx: &mut Ctx<'_>,
        reqs: &mut Requests,
        host: u32,
        thread: u32,
        epoch: u16,
    ) {
        let now = ctx.sched.now();
        let shared = self.shared.as_mut().expect("jobs only on shared vCPUs");
        let live = shared.hosts[host as usize].finish(now, thread, epoch, &mut shared.completions);
        Self::schedule_shared(ctx, shared, host);
        if !live {
            return;
        }
        let t = host * shared.threads_per_host + thread;
        let job = shared.current[t as usize]
            .take()
            .expect("a job was running");
        match job {
            ClientJob::Parse { req } => {
                self.awaiting_parse -= 1;
                self.parsed(ctx, reqs, req);
            }
            ClientJob::Build { .. } => {}
            ClientJob::Turn { client } => {
                self.clients[client as usize].wake_pending = false;
                self.fill(ctx, reqs, client);
            }
        }
        self.kick_shared(ctx, reqs, t);
    }

    /// Queues a job on shared thread `t` (global index) and starts it if the thread is
    /// idle.
    fn enqueue_shared(&mut self, ctx: &mut Ctx<'_>, reqs: &Requests, t: u32, job: ClientJob) {
        let shared = self.shared.as_mut().expect("shared vCPUs");
        shared.queues[t as usize].push_back(job);
        self.kick_shared(ctx, reqs, t);
    }

    /// Starts shared thread `t`'s next job if it is idle.
    fn kick_shared(&mut self, ctx: &mut Ctx<'_>, reqs: &Requests, t: u32) {
        let now = ctx.sched.now();
        let cost = self.cpu_cost;
        let shared = self.shared.as_mut().expect("shared vCPUs");
        if shared.current[t as usize].is_some() {
            return;
        }
        let Some(job) = shared.queues[t as usize].pop_front() else {
            return;
        };
        let work = match job {
            ClientJob::Parse { req } => cost.reply(reqs[req as usize].reply_bytes),
            ClientJob::Build { work_ns } => SimDuration::from_ns(work_ns),
            ClientJob::Turn { .. } => SimDuration::ZERO,
        };
        shared.current[t as usize] = Some(job);
        let (host, thread) = (t / shared.threads_per_host, t % shared.threads_per_host);
        let c = shared.hosts[host as usize].start(now, thread, work, &mut shared.completions);
        shared.completions.push(c);
        Self::schedule_shared(ctx, shared, host);
    }

    fn schedule_shared(ctx: &mut Ctx<'_>, shared: &mut SharedClientCpu, host: u32) {
        for c in shared.completions.drain(..) {
            ctx.sched.schedule_at(
                c.at,
                ClientEv::JobDone {
                    host,
                    thread: c.thread as u16,
                    epoch: c.epoch,
                }
                .into(),
            );
        }
    }

    /// When the client's thread is busy at `now`, the time it is free.
    #[inline]
    fn thread_busy(&self, client: u32, now: SimTime) -> Option<SimTime> {
        if self.cpu_cost.is_free() || self.shared.is_some() {
            return None;
        }
        let t = &self.threads[self.clients[client as usize].thread as usize];
        let free_at = t.cpu.busy_until();
        (free_at > now).then_some(free_at)
    }

    /// Sends what the client may now or, when its thread is busy, once the work queued
    /// on the thread is done (one `Wake` at most pending a client, so a run's wakes are
    /// at most its starts, ticks and arrivals).
    fn fill_or_wait(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, client: u32) {
        let now = ctx.sched.now();
        if let Some(shared) = &self.shared {
            let t = self.clients[client as usize].thread;
            if shared.busy(t) && !self.clients[client as usize].wake_pending {
                self.clients[client as usize].wake_pending = true;
                self.enqueue_shared(ctx, reqs, t, ClientJob::Turn { client });
            } else if !shared.busy(t) {
                self.fill(ctx, reqs, client);
            }
            return;
        }
        match self.thread_busy(client, now) {
            None => self.fill(ctx, reqs, client),
            Some(free_at) => {
                let c = &mut self.clients[client as usize];
                if !c.wake_pending {
                    c.wake_pending = true;
                    ctx.sched
                        .schedule_at(free_at, ClientEv::Wake { client }.into());
                }
            }
        }
    }

    /// Runs `work` on the client's thread from `now`; returns when it is done.
    #[inline]
    fn run_on_thread(&mut self, client: u32, now: SimTime, work: SimDuration) -> SimTime {
        let t = &mut self.threads[self.clients[client as usize].thread as usize];
        let credits = self.host_credits[t.host as usize].as_mut();
        t.cpu.submit(now, work, credits)
    }

    /// A request's reply has reached its client host: it waits for the client's thread,
    /// which parses it.
    pub fn on_reply(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, req: u32) {
        let now = ctx.sched.now();
        let r = &mut reqs[req as usize];
        r.delivered = now;
        if self.cpu_cost.is_free() {
            return self.parsed(ctx, reqs, req);
        }
        let (client, work) = (r.client, self.cpu_cost.reply(r.reply_bytes));
        self.awaiting_parse += 1;
        if self.shared.is_some() {
            let t = self.clients[client as usize].thread;
            return self.enqueue_shared(ctx, reqs, t, ClientJob::Parse { req });
        }
        let done = self.run_on_thread(client, now, work);
        ctx.sched.schedule_at(done, ClientEv::Parsed { req }.into());
    }

    /// A reply has been parsed: the request is done, or, redirected or to retry, goes
    /// on.
    fn parsed(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, req: u32) {
        let now = ctx.sched.now();
        let (refresh, outcome, timed_out) = {
            let r = &reqs[req as usize];
            (r.refresh, r.outcome, r.timed_out)
        };
        if timed_out {
            // Its client gave it up already: the late reply is dropped.
            reqs.remove(req as usize);
            self.timed_out_in_flight -= 1;
            return;
        }
        if refresh {
            return self.refresh_parsed(ctx, reqs, req);
        }
        if outcome != Outcome::Answered {
            return self.redirected(ctx, reqs, req, outcome);
        }
        let r = reqs.remove(req as usize);
        ctx.metrics.record_completion(now, &r);
        let c = r.client;
        let client = &mut self.clients[c as usize];
        client.outstanding -= 1;
        client.replies_in_window += u64::from(now >= ctx.metrics.measure_from);
        self.fill(ctx, reqs, c);
    }

    fn can_send(&self, c: u32, now: SimTime) -> bool {
        let client = &self.clients[c as usize];
        if now >= self.stop_sending_at {
            return false;
        }
        if let Some(limit) = self.requests_per_connection {
            if client.sent >= limit {
                return false;
            }
        }
        client.outstanding < self.pipeline
    }

    /// Sends as many requests as the pipeline, the rate budget and (open loop) the
    /// backlog allow.
    fn fill(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, c: u32) {
        let now = ctx.sched.now();
        while self.can_send(c, now) {
            let client = &mut self.clients[c as usize];
            let intended = if client.arrivals.is_some() {
                if client.arrivals_held.is_some() {
                    self.release_arrivals(ctx, c, now);
                }
                let client = &mut self.clients[c as usize];
                match client.backlog.pop_front() {
                    Some(t) => t,
                    None => return,
                }
            } else if let Some(budget) = &mut client.budget {
                if !budget.try_take() {
                    return;
                }
                client.budget_at
            } else {
                now
            };
            self.send_request(ctx, reqs, c, intended);
        }
    }

    /// Counts the arrivals a client held while its queue was full, up to `now`, as
    /// dropped, and schedules the next one (if it falls before sending stops).
    fn release_arrivals(&mut self, ctx: &mut Ctx<'_>, c: u32, now: SimTime) {
        let client = &mut self.clients[c as usize];
        let Some(next) = client.arrivals_held.take() else {
            return;
        };
        let end = (now + SimDuration::from_ns(1)).min(self.stop_sending_at);
        let (dropped, next) = client
            .arrivals
            .as_mut()
            .expect("held arrivals only for open-loop clients")
            .skip(
                next.as_ns(),
                end.as_ns(),
                ctx.metrics.measure_from.as_ns(),
                &mut client.rng,
            );
        ctx.metrics.client_queue_overflows += dropped;
        let next = SimTime::from_ns(next);
        if next < self.stop_sending_at {
            ctx.sched
                .schedule_at(next, ClientEv::Arrival { client: c }.into());
        }
    }

    /// At the end of the run: counts the arrivals still held (those before sending
    /// stopped) as dropped, as their events would have.
    pub fn release_held_arrivals(&mut self, metrics: &mut super::Metrics) {
        let stop = self.stop_sending_at.as_ns();
        for client in &mut self.clients {
            let Some(next) = client.arrivals_held.take() else {
                continue;
            };
            if let Some(arrivals) = client.arrivals.as_mut() {
                let (dropped, _) = arrivals.skip(
                    next.as_ns(),
                    stop,
                    metrics.measure_from.as_ns(),
                    &mut client.rng,
                );
                metrics.client_queue_overflows += dropped;
            }
        }
    }

    fn send_request(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, c: u32, intended: SimTime) {
        let now = ctx.sched.now();
        let client = &mut self.clients[c as usize];
        let op = client.gen.next(&mut client.rng);
        client.outstanding += 1;
        client.sent += 1;
        let first_conn = client.first_conn;
        format_key(&self.key_prefix, op.key_index, &mut self.key_buf);
        let (shard, slot) = self.router.route(&self.key_buf, op.key_index);
        let owner = self.owner_of(c, slot.unwrap_or(NO_SLOT), shard);
        let node = if op.kind == OpKind::Get && self.read_from != ReadFrom::Primary {
            let turn = self.clients[c as usize].reads_to_replicas;
            self.clients[c as usize].reads_to_replicas = turn.wrapping_add(1);
            // A node that is no shard's first primary (one promoted since) has no
            // replicas this client knows of: it reads from it.
            if owner < self.shards {
                self.read_node(owner, turn)
            } else {
                owner
            }
        } else {
            owner
        };
        let conn = if node < self.connected {
            first_conn + node
        } else {
            self.conn_to(ctx, c, node)
                .expect("a map names only nodes of the world")
        };
        let req = reqs.insert(Req {
            next: NO_REQ,
            client: c,
            conn,
            kind: op.kind,
            key_index: op.key_index,
            value_len: op.value_len,
            expiry_s: op.expiry_s,
            shard: node,
            slot: slot.unwrap_or(NO_SLOT),
            request_bytes: 0,
            reply_bytes: 0,
            hit: false,
            intended,
            sent: now,
            received: now,
            cpu_start: now,
            cpu_end: now,
            delivered: now,
            outcome: Outcome::Answered,
            redirects: 0,
            asking: false,
            refresh: false,
            timed_out: false,
            reset: false,
            attempt: 0,
            #[cfg(test)]
            seq: 0,
        });
        self.transmit(ctx, reqs, req as u32);
    }

    /// Sends request `req` (its key in `key_buf`) on its connection, and charges its
    /// building to its client's thread.
    fn transmit(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, req: u32) {
        let now = ctx.sched.now();
        let r = &mut reqs[req as usize];
        let c = r.client;
        #[cfg(test)]
        {
            let client = &mut self.clients[c as usize];
            r.seq = client.sends;
            client.sends += 1;
        }
        if let Some(timeout_ns) = self.redirects.request_timeout_ns {
            r.attempt = self.attempts;
            self.attempts = self.attempts.wrapping_add(1);
            ctx.sched.schedule_at(
                now + SimDuration::from_ns(timeout_ns),
                ClientEv::Timeout {
                    req,
                    attempt: r.attempt,
                }
                .into(),
            );
        }
        let mut request_bytes = with_argv(
            r,
            &self.key_buf,
            store_core::SyntheticFill::Repeat(b'x'),
            &mut self.argv_buf,
            encoded_request_len,
        );
        if r.asking {
            request_bytes += encoded_request_len(&[store_core::Arg::Bytes(b"ASKING")]);
        }
        r.request_bytes = request_bytes;
        let flow = ctx.flows.flow(FlowKind::ClientRequest, r.conn);
        ctx.net.send(ctx.sched, flow, request_bytes, u64::from(req));
        if !self.cpu_cost.is_free() {
            let work = self.cpu_cost.request(request_bytes);
            if self.shared.is_some() {
                let t = self.clients[c as usize].thread;
                let job = ClientJob::Build {
                    work_ns: work.as_ns(),
                };
                self.enqueue_shared(ctx, reqs, t, job);
            } else {
                self.run_on_thread(c, now, work);
            }
        }
    }

    /// The node client `c`'s map says serves `slot`; `fallback` (the shard routing
    /// chose) outside a CRC16 cluster or for a slot its map gives to nobody.
    #[inline]
    fn owner_of(&self, c: u32, slot: u16, fallback: u32) -> u32 {
        match &self.clients[c as usize].map {
            Some(map) if slot != NO_SLOT => match map.owner(slot) {
                NO_NODE => fallback,
                n => u32::from(n),
            },
            _ => fallback,
        }
    }

    /// Client `c`'s connection to `node`, opened now if it has none (None: no such
    /// node).
    fn conn_to(&mut self, ctx: &mut Ctx<'_>, c: u32, node: u32) -> Option<u32> {
        let client = &self.clients[c as usize];
        if node < self.connected {
            return Some(client.first_conn + node);
        }
        if let Some(&(_, conn)) = client.opened.iter().find(|&&(n, _)| n == node) {
            return Some(conn);
        }
        let node_nic = *self.node_nics.get(node as usize)?;
        let host = self.threads[client.thread as usize].host;
        let mut link = self.link.clone();
        if !self.zones.is_empty() {
            let z = &self.zones;
            let (latency_ns, jitter_ns) = z.link(
                z.client_zones[host as usize],
                z.node_zones[node as usize],
                (link.latency.as_ns(), link.jitter.as_ns()),
            );
            link.latency = SimDuration::from_ns(latency_ns);
            link.jitter = SimDuration::from_ns(jitter_ns);
        }
        let conn = ctx
            .flows
            .open_conn(ctx.net, self.host_nics[host as usize], node_nic, link);
        self.clients[c as usize].opened.push((node, conn));
        self.opened.push(OpenedConn { conn, node, host });
        Some(conn)
    }

    /// A request's node answered MOVED, ASK, CLUSTERDOWN or TRYAGAIN: it follows, as a
    /// cluster client does, unless it has had its share of redirections.
    fn redirected(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, req: u32, outcome: Outcome) {
        let r = &reqs[req as usize];
        let (c, slot) = (r.client, r.slot);
        let exhausted = r.redirects >= self.redirects.max_redirects;
        let counts = &mut self.clients[c as usize].counts;
        match outcome {
            Outcome::Moved { .. } => counts.moved += 1,
            Outcome::Ask { .. } => counts.ask += 1,
            Outcome::ClusterDown => counts.clusterdown += 1,
            Outcome::TryAgain => counts.tryagain += 1,
            Outcome::Answered => unreachable!("an answer is no redirection"),
        }
        if let Outcome::Moved { node } = outcome {
            // The slot is served elsewhere from now on, for every later request too; the
            // rest of the map may have changed as well: ask the new owner for it all.
            if let Some(map) = &mut self.clients[c as usize].map {
                map.moved.insert(slot, node as u16);
            }
            if !self.clients[c as usize].refreshing {
                self.send_refresh(ctx, reqs, c, node);
            }
        }
        if exhausted {
            return self.fail_request(ctx, reqs, req);
        }
        reqs[req as usize].redirects += 1;
        match outcome {
            Outcome::Moved { node } => self.resend(ctx, reqs, req, node, false),
            Outcome::Ask { node } => self.resend(ctx, reqs, req, node, true),
            _ => {
                self.clients[c as usize].counts.retries += 1;
                self.awaiting_retry += 1;
                let at = ctx.sched.now() + SimDuration::from_ns(self.redirects.retry_delay_ns);
                ctx.sched.schedule_at(at, ClientEv::Retry { req }.into());
            }
        }
    }

    /// A request's timeout: if that send is still unanswered, its client gives it up
    /// (a timeout, and a failed request), and asks another node for the map, as cluster
    /// clients do when a node stops answering.
    fn timeout(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, req: u32, attempt: u32) {
        let Some(r) = reqs.get_mut(req as usize) else {
            return;
        };
        // Stale: answered (its reply delivered), sent again since, given up already, or
        // failed with its connection's reset.
        if r.attempt != attempt || r.delivered > r.sent || r.timed_out || r.reset {
            return;
        }
        let (c, node, refresh) = (r.client, r.shard, r.refresh);
        r.timed_out = true;
        self.timed_out_in_flight += 1;
        let client = &mut self.clients[c as usize];
        client.counts.timeouts += 1;
        if refresh {
            client.refreshing = false;
        } else {
            client.counts.failed += 1;
            client.outstanding -= 1;
        }
        if client.map.is_some() && !client.refreshing && self.shards > 1 {
            let other = if node < self.shards {
                (node + 1) % self.shards
            } else {
                0
            };
            self.send_refresh(ctx, reqs, c, other);
        }
        self.fill(ctx, reqs, c);
    }

    /// Sends request `req` again, to `node` (after ASKING when `asking`); its latency
    /// still runs from its first send, as memtier measures it.
    fn resend(
        &mut self,
        ctx: &mut Ctx<'_>,
        reqs: &mut Requests,
        req: u32,
        node: u32,
        asking: bool,
    ) {
        let c = reqs[req as usize].client;
        let Some(conn) = self.conn_to(ctx, c, node) else {
            self.clients[c as usize].counts.unreachable += 1;
            return self.fail_request(ctx, reqs, req);
        };
        let r = &mut reqs[req as usize];
        r.conn = conn;
        r.shard = node;
        r.asking = asking;
        r.outcome = Outcome::Answered;
        // Not delivered yet on this connection (a reset of it fails the request).
        r.delivered = r.sent;
        format_key(&self.key_prefix, r.key_index, &mut self.key_buf);
        self.transmit(ctx, reqs, req);
    }

    /// A request that ran out of redirections (or has no way to its node) fails: it
    /// leaves its client's pipeline unanswered.
    fn fail_request(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, req: u32) {
        let c = reqs.remove(req as usize).client;
        let client = &mut self.clients[c as usize];
        client.counts.failed += 1;
        client.outstanding -= 1;
        self.fill(ctx, reqs, c);
    }

    /// Asks `node` for the whole slot map (`CLUSTER SLOTS`), outside the pipeline.
    fn send_refresh(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, c: u32, node: u32) {
        let Some(conn) = self.conn_to(ctx, c, node) else {
            return;
        };
        let now = ctx.sched.now();
        let client = &mut self.clients[c as usize];
        client.refreshing = true;
        client.counts.refreshes += 1;
        let req = reqs.insert(Req {
            next: NO_REQ,
            client: c,
            conn,
            kind: OpKind::Get,
            key_index: 0,
            value_len: 0,
            expiry_s: 0,
            shard: node,
            slot: NO_SLOT,
            request_bytes: 0,
            reply_bytes: 0,
            hit: false,
            intended: now,
            sent: now,
            received: now,
            cpu_start: now,
            cpu_end: now,
            delivered: now,
            outcome: Outcome::Answered,
            redirects: 0,
            asking: false,
            refresh: true,
            timed_out: false,
            reset: false,
            attempt: 0,
            #[cfg(test)]
            seq: 0,
        });
        self.transmit(ctx, reqs, req as u32);
    }

    /// A map refresh's reply is parsed: it is the client's map from now on (shared with
    /// the clients told the same).
    fn refresh_parsed(&mut self, ctx: &mut Ctx<'_>, reqs: &mut Requests, req: u32) {
        let c = reqs.remove(req as usize).client;
        self.clients[c as usize].refreshing = false;
        let reply = ctx.cluster.refresh_replies.remove(&req);
        let owners = match (&ctx.cluster.view, reply) {
            (Some(view), Some(reply)) => view.parse_cluster_slots(&reply),
            _ => None,
        };
        let Some(owners) = owners else {
            return;
        };
        let base = match &ctx.cluster.last_parsed {
            Some(last) if **last == owners => last.clone(),
            _ => {
                let base = std::sync::Arc::new(owners);
                ctx.cluster.last_parsed = Some(base.clone());
                base
            }
        };
        if let Some(map) = &mut self.clients[c as usize].map {
            map.base = base;
            map.moved.clear();
        }
    }

    /// The node a read of `shard` goes to: its replicas in turn (`n` counts the
    /// client's reads sent to replicas), or, preferring replicas, the next one in sync
    /// and the primary when none is.
    fn read_node(&self, shard: u32, n: u32) -> u32 {
        let r = self.replicas_per_shard;
        let first_link = shard * r;
        let turn = n % r;
        match self.read_from {
            ReadFrom::Primary => shard,
            ReadFrom::Replica => self.shards + first_link + turn,
            ReadFrom::ReplicaPreferred => (0..r)
                .map(|i| (turn + i) % r)
                .find(|&k| self.replica_in_sync[(first_link + k) as usize])
                .map_or(shard, |k| self.shards + first_link + k),
        }
    }

    /// Replication links went in or out of sync.
    pub fn replicas_changed(&mut self, in_sync: &[bool]) {
        self.replica_in_sync.clear();
        self.replica_in_sync.extend_from_slice(in_sync);
    }

    /// Requests sent over the whole run, by every client.
    pub fn sent_total(&self) -> u64 {
        self.clients.iter().map(|c| c.sent).sum()
    }
}

impl Clients {
    /// `failed` of `client`'s requests are gone with a connection reset (see
    /// `world::faults`): they leave its pipeline unanswered, and it sends again as
    /// memtier does on its reconnected connection.
    pub(crate) fn on_requests_failed(
        &mut self,
        ctx: &mut Ctx<'_>,
        reqs: &mut Requests,
        client: u32,
        failed: u32,
        refresh_failed: bool,
    ) {
        self.clients[client as usize].outstanding -= failed;
        if refresh_failed {
            // The next MOVED asks again.
            self.clients[client as usize].refreshing = false;
        }
        // Its thread learns of the reset in its turn, like any other event.
        self.fill_or_wait(ctx, reqs, client);
    }
}
