//! The simulated world of one variant: server nodes (each a store-core `Db` behind an
//! engine's threads on an instance's NIC and vCPUs), client hosts running memtier-style
//! connections, and the network between them. Every request is executed for real by the
//! node's `Db`, and its reply's real encoded size is what crosses the network.
//!
//! A request's life: the client sends it on its connection's request flow (client NIC
//! egress, propagation, server NIC ingress); the node reads every request waiting on the
//! connection as one batch when a thread is free (FIFO across connections, like Redis's
//! event loop); the batch costs CPU per the engine's cost model; its replies leave on
//! the reply flow when the batch completes; the client records latency from the actual
//! send (as memtier does) and from the intended send (no coordinated omission).
//!
//! Invariants: the world is a pure function of its `RunConfig` (all randomness comes
//! from streams derived from the seed, one per component); a request is in exactly one
//! place at a time (client queue, network, connection queue, a batch, or done); each
//! connection has at most one batch in progress, so replies leave in request order.

pub mod metrics;

pub use metrics::{Metrics, NodeFinal};

use crate::engine::CostModel;
use crate::placement::Router;
use crate::scenario::resolve::{CreditLevel, RunConfig};
use crate::scenario::spec::{ClusterMode, Engine};
use crate::workload::arrivals::ArrivalGen;
use crate::workload::generator::{format_key, OpKind, RateBudget, WorkloadGen};
use sim::host::{CpuCreditConfig, CpuCredits, CpuThread};
use sim::net::{
    Delivery, FlowId, Framing, LinkConfig, NetEvent, Network, NicConfig, NicId, ShaperConfig,
};
use sim::{Model, RngStreams, RunLimit, Scheduler, SimDuration, SimRng, SimTime};
use slab::Slab;
use std::collections::VecDeque;
use store_core::resp::{encoded_len, encoded_request_len, Protocol};
use store_core::{Arg, Db, Reply, Session};

/// Simulated time 0 as Unix milliseconds (2026-01-01T00:00:00Z): what the stores see
/// as the wall clock, so expiry times are realistic and identical run to run.
pub const EPOCH_UNIX_MS: u64 = 1_767_225_600_000;

/// Per-flow cap outside a cluster placement group (docs/REFERENCES.md section 1: AWS EC2
/// network bandwidth page).
pub const SINGLE_FLOW_CAP_BITS_PER_S: u64 = 5_000_000_000;

/// The shaper queue when the catalog gives none: 50 ms at the baseline rate, at least
/// 256 KiB. AWS says only that excess traffic is "queued and then dropped"; 50 ms is the
/// latency bound of the tc tbf shaper the lab measurement used. Ours, not AWS's.
pub fn default_queue_bytes(baseline_bits_per_s: u64) -> u64 {
    (baseline_bits_per_s / 8 / 20).max(256 * 1024)
}

/// Wire bytes one shaper turn serves: one TSO-sized segment.
const CHUNK_BYTES: u64 = 65_536;

/// Active expiry runs at Redis's default hz (10 times a second).
const EXPIRE_PERIOD: SimDuration = SimDuration::from_ms(100);

/// The world's events. Small and Copy: indices into the world's tables.
#[derive(Clone, Copy, Debug)]
pub enum Ev {
    Net(NetEvent),
    /// A client's connections are up: start sending.
    ClientStart {
        client: u32,
    },
    /// memtier's rate-limiting timer.
    RateTick {
        client: u32,
    },
    /// An open-loop arrival.
    Arrival {
        client: u32,
    },
    /// A node thread finished its current job.
    JobDone {
        node: u32,
        thread: u32,
    },
    ExpireCycle {
        node: u32,
    },
    /// Once a second: gauges (credits, memory).
    Sample,
}

impl From<NetEvent> for Ev {
    fn from(e: NetEvent) -> Ev {
        Ev::Net(e)
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
}

struct Thread {
    cpu: CpuThread,
    queue: VecDeque<Job>,
    current: Option<Job>,
}

impl Thread {
    fn new() -> Thread {
        Thread {
            cpu: CpuThread::new(),
            queue: VecDeque::new(),
            current: None,
        }
    }
}

/// A server node: one shard's primary.
pub struct Node {
    pub name: String,
    pub shard: u32,
    pub nic: NicId,
    pub db: Db,
    /// threads[0] is the main thread; the rest are I/O threads.
    threads: Vec<Thread>,
    credits: Option<CpuCredits>,
    rng: SimRng,
}

/// One connection of a client to one node: one cache line, since a request touches
/// its connection's (one of ten thousand) at each step on the node. Its two flows are
/// not stored: they are the flows numbered 2 x conn and 2 x conn + 1 (see
/// [`World::req_flow`]).
#[repr(align(64))]
struct Conn {
    session: Session,
    /// Requests that reached the node and wait to be read, in arrival order.
    waiting: ReqList,
    /// The batch being processed.
    batch: ReqList,
    node: u32,
    io_thread: u16,
    /// A job for this connection is queued or running.
    busy: bool,
}

const _: () = assert!(
    std::mem::size_of::<Conn>() == 64,
    "a connection is one cache line"
);

/// A memtier client: one request generator and pipeline, with a connection per shard.
struct Client {
    gen: WorkloadGen,
    rng: SimRng,
    first_conn: u32,
    outstanding: u32,
    sent: u64,
    budget: Option<RateBudget>,
    /// When the current rate budget was granted (the intended send time of requests
    /// it pays for).
    budget_at: SimTime,
    /// Open loop: intended send times waiting for a pipeline slot.
    backlog: VecDeque<SimTime>,
    arrivals: Option<ArrivalGen>,
}

/// Requests in order, linked through [`Req::next`]: a connection's waiting requests and
/// its batch. Links in the requests themselves, not a vector per connection, because a
/// request is touched anyway and ten thousand connections' vectors would each be one
/// more cold cache line per request.
#[derive(Clone, Copy, Debug)]
struct ReqList {
    head: u32,
    tail: u32,
    len: u32,
}

/// The end of a [`ReqList`].
const NO_REQ: u32 = u32::MAX;

impl ReqList {
    const EMPTY: ReqList = ReqList {
        head: NO_REQ,
        tail: NO_REQ,
        len: 0,
    };

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `req` (not in any list).
    fn push_back(&mut self, reqs: &mut Slab<Req>, req: u32) {
        reqs[req as usize].next = NO_REQ;
        if self.tail == NO_REQ {
            self.head = req;
        } else {
            reqs[self.tail as usize].next = req;
        }
        self.tail = req;
        self.len += 1;
    }
}

/// A request in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Req {
    /// The next request of the connection list it is in (waiting or batch).
    next: u32,
    pub client: u32,
    pub conn: u32,
    pub kind: OpKind,
    pub key_index: u64,
    pub value_len: u32,
    pub expiry_s: u32,
    pub shard: u32,
    pub request_bytes: u64,
    pub reply_bytes: u64,
    pub hit: bool,
    pub intended: SimTime,
    pub sent: SimTime,
    pub received: SimTime,
    pub cpu_start: SimTime,
    pub cpu_end: SimTime,
}

#[derive(Clone, Copy, Debug)]
enum FlowRole {
    Request,
    Reply,
}

/// One variant's world.
pub struct World {
    pub config: RunConfig,
    pub net: Network,
    pub nodes: Vec<Node>,
    pub client_nics: Vec<NicId>,
    pub router: Router,
    pub cost: CostModel,
    clients: Vec<Client>,
    conns: Vec<Conn>,
    reqs: Slab<Req>,
    pub metrics: Metrics,
    deliveries: Vec<Delivery>,
    key_buf: Vec<u8>,
    argv_buf: Vec<u8>,
    measure_from: SimTime,
    end: SimTime,
    stop_sending_at: SimTime,
    uses_expiry: bool,
}

fn shaper(spec: &crate::catalog::InstanceSpec, credits: CreditLevel) -> ShaperConfig {
    let burst = spec
        .burst_bits_per_s
        .unwrap_or(spec.baseline_bits_per_s)
        .max(spec.baseline_bits_per_s);
    let capacity = if burst > spec.baseline_bits_per_s {
        spec.net_credit_capacity_bits.unwrap_or(0)
    } else {
        0
    };
    ShaperConfig {
        baseline_bits_per_s: spec.baseline_bits_per_s,
        burst_bits_per_s: burst,
        credit_capacity_bits: capacity,
        initial_credit_bits: credits.of_capacity(capacity),
        queue_capacity_bytes: spec
            .queue_limit_bytes
            .unwrap_or_else(|| default_queue_bytes(spec.baseline_bits_per_s)),
        pps_limit: spec.pps_limit_per_s,
        flow_cap_bits_per_s: Some(SINGLE_FLOW_CAP_BITS_PER_S),
        chunk_bytes: CHUNK_BYTES,
    }
}

fn store_policy(p: crate::scenario::spec::EvictionPolicy) -> store_core::EvictionPolicy {
    use crate::scenario::spec::EvictionPolicy as S;
    use store_core::EvictionPolicy as D;
    match p {
        S::Noeviction => D::NoEviction,
        S::AllkeysLru => D::AllKeysLru,
        S::AllkeysLfu => D::AllKeysLfu,
        S::AllkeysRandom => D::AllKeysRandom,
        S::VolatileLru => D::VolatileLru,
        S::VolatileLfu => D::VolatileLfu,
        S::VolatileRandom => D::VolatileRandom,
        S::VolatileTtl => D::VolatileTtl,
    }
}

/// Calls `f` with the command a request sends: `GET key`, `SET key value`, or
/// `SET key value EX seconds`; the value is synthetic (its bytes are never made). One
/// builder serves both the request's size on the wire and its execution on the Db, so
/// the two always describe the same command.
fn with_argv<T>(r: &Req, key: &[u8], ex_buf: &mut Vec<u8>, f: impl FnOnce(&[Arg<'_>]) -> T) -> T {
    match r.kind {
        OpKind::Get => f(&[Arg::Bytes(b"GET"), Arg::Bytes(key)]),
        OpKind::Set => {
            let value = Arg::Synthetic {
                len: r.value_len as u64,
                seed: r.key_index,
            };
            if r.expiry_s > 0 {
                ex_buf.clear();
                ex_buf.extend_from_slice(r.expiry_s.to_string().as_bytes());
                f(&[
                    Arg::Bytes(b"SET"),
                    Arg::Bytes(key),
                    value,
                    Arg::Bytes(b"EX"),
                    Arg::Bytes(ex_buf),
                ])
            } else {
                f(&[Arg::Bytes(b"SET"), Arg::Bytes(key), value])
            }
        }
    }
}

/// Ranges up to this many keys get a table of their keys' shards (2 bytes a key).
const PREFILL_OWNER_TABLE_MAX_KEYS: u64 = 1 << 25;

/// The shard of every prefilled key, in index order, when there are several shards and
/// the range is small enough for a table: each node keeps only its own keys, and without
/// the table every node would hash every key of the range again.
fn prefill_owners(config: &RunConfig, router: &Router) -> Option<Vec<u16>> {
    let p = &config.prefill;
    if router.shards() <= 1 || p.key_count == 0 || p.key_count > PREFILL_OWNER_TABLE_MAX_KEYS {
        return None;
    }
    let mut key = Vec::with_capacity(p.key_prefix.len() + 20);
    let owners = (p.key_minimum..p.key_minimum + p.key_count)
        .map(|index| {
            format_key(&p.key_prefix, index, &mut key);
            router.shard_of(&key, index) as u16
        })
        .collect();
    Some(owners)
}

impl World {
    /// Builds the world of `config`; the clients start at t = 0.
    pub fn build(config: &RunConfig, sched: &mut Scheduler<Ev>) -> Result<World, String> {
        let streams = RngStreams::new(config.seed);
        let mut net = Network::new(streams);
        let n = &config.network;
        let framing = Framing {
            mtu_bytes: n.mtu_bytes,
            ip_tcp_header_bytes: n.ip_tcp_header_bytes,
            link_header_bytes: n.link_header_bytes,
        };
        let link = LinkConfig {
            latency: SimDuration::from_ns(n.latency_ns),
            jitter: SimDuration::from_ns(n.jitter_ns),
            ..LinkConfig::default()
        };
        let router = Router::new(config);
        let cost = CostModel::REDIS_DEFAULT.with_overrides(&config.cluster.cpu_cost);
        let server = &config.cluster.instance.spec;
        let io_threads = config.cluster.node.io_threads.max(1) as usize;
        let engine_name = match config.cluster.engine {
            Engine::Redis => "redis",
            Engine::Valkey => "valkey",
        };

        let prefill_owners = prefill_owners(config, &router);
        let mut nodes = Vec::new();
        for shard in 0..router.shards() {
            let server_shaper = shaper(server, config.net_credits_at_start);
            let nic = net.add_nic(NicConfig {
                egress: server_shaper,
                ingress: server_shaper,
                framing,
            });
            let db_config = store_core::Config {
                maxmemory_bytes: config.cluster.node.maxmemory_bytes,
                maxmemory_policy: store_policy(config.cluster.node.maxmemory_policy),
                ..store_core::Config::default()
            };
            let mut db = Db::new(db_config);
            if config.cluster.mode == ClusterMode::Cluster
                && router.placement() == crate::scenario::spec::Placement::Crc16
            {
                db.set_owned_slots(router.slots_of(shard));
            }
            let p = &config.prefill;
            if p.key_count > 0 {
                let range = store_core::PrefillRange {
                    prefix: p.key_prefix.as_bytes().to_vec(),
                    first_index: p.key_minimum,
                    count: p.key_count,
                    value_size: store_core::ValueSize::Fixed(p.value_bytes as u64),
                    seed: config.seed,
                    created_at_ms: EPOCH_UNIX_MS,
                    materialize: false,
                };
                // Each shard holds only the keys placed on it.
                let first = p.key_minimum;
                let mut key = Vec::new();
                let filled = if router.shards() > 1 {
                    db.prefill_where(range, |index| match &prefill_owners {
                        Some(owners) => owners[(index - first) as usize] == shard as u16,
                        None => {
                            format_key(&p.key_prefix, index, &mut key);
                            router.shard_of(&key, index) == shard
                        }
                    })
                } else {
                    db.prefill(range)
                };
                filled.map_err(|e| format!("prefill of node {shard}: {e}"))?;
            }
            let credits = server.cpu_credits.map(|c| {
                let max = c.max_credits as u64;
                CpuCredits::new(CpuCreditConfig {
                    earned_per_hour: c.earn_per_hour as u64,
                    max_balance: max,
                    initial_balance: config.cpu_credits_at_start.of_capacity(max),
                    baseline_percent: (c.baseline_permille_per_vcpu as u64 / 10).clamp(1, 100),
                })
            });
            nodes.push(Node {
                name: format!("{engine_name}-{shard}"),
                shard,
                nic,
                db,
                threads: (0..io_threads).map(|_| Thread::new()).collect(),
                credits,
                rng: streams.stream("node", shard as u64),
            });
        }

        let client_spec = &config.clients.instance.spec;
        let client_shaper = shaper(client_spec, CreditLevel::Full);
        let client_nics: Vec<NicId> = (0..config.clients.hosts)
            .map(|_| {
                net.add_nic(NicConfig {
                    egress: client_shaper,
                    ingress: client_shaper,
                    framing,
                })
            })
            .collect();

        let w = &config.clients.workload;
        let per_host = w.connections_per_host();
        let total_clients = config.clients.connections_total();
        let mut clients = Vec::new();
        let mut conns = Vec::new();
        for (host, &cnic) in client_nics.iter().enumerate() {
            for i in 0..per_host {
                let client_index = host as u32 * per_host + i;
                let first_conn = conns.len() as u32;
                for node in &nodes {
                    let conn = conns.len() as u32;
                    let req_flow = net.open_flow(cnic, node.nic, link.clone());
                    let rep_flow = net.open_flow(node.nic, cnic, link.clone());
                    assert_eq!(
                        (req_flow, rep_flow),
                        (Self::req_flow(conn), Self::rep_flow(conn)),
                        "a connection's flows are numbered from its index"
                    );
                    let io_thread = if io_threads > 1 {
                        1 + conn % (io_threads as u32 - 1)
                    } else {
                        0
                    };
                    conns.push(Conn {
                        node: node.shard,
                        session: Session::new(conn as u64 + 1),
                        waiting: ReqList::EMPTY,
                        batch: ReqList::EMPTY,
                        busy: false,
                        io_thread: u16::try_from(io_thread).expect("at most 128 threads"),
                    });
                }
                let arrivals = w
                    .open_loop
                    .as_ref()
                    .map(|ol| ArrivalGen::new(ol, client_index, total_clients));
                clients.push(Client {
                    gen: w.generator(i),
                    rng: streams.stream("client", client_index as u64),
                    first_conn,
                    outstanding: 0,
                    sent: 0,
                    budget: w.rate_limit.map(RateBudget::new),
                    budget_at: SimTime::ZERO,
                    backlog: VecDeque::new(),
                    arrivals,
                });
            }
        }

        let end = SimTime::from_ns(config.duration_ns);
        let measure_from = SimTime::from_ns(config.warmup_ns);
        let stop_sending_at = match w.test_time_ns {
            Some(t) => SimTime::from_ns(t).min(end),
            None => end,
        };
        let uses_expiry = w.expiry_range_s.is_some();
        let metrics = Metrics::new(config, nodes.len(), client_nics.len());
        let world = World {
            config: config.clone(),
            net,
            nodes,
            client_nics,
            router,
            cost,
            clients,
            conns,
            reqs: Slab::new(),
            metrics,
            deliveries: Vec::new(),
            key_buf: Vec::with_capacity(64),
            argv_buf: Vec::with_capacity(64),
            measure_from,
            end,
            stop_sending_at,
            uses_expiry,
        };
        for c in 0..world.clients.len() as u32 {
            sched.schedule_at(SimTime::ZERO, Ev::ClientStart { client: c });
        }
        if world.uses_expiry {
            for n in 0..world.nodes.len() as u32 {
                sched.schedule_at(SimTime::ZERO + EXPIRE_PERIOD, Ev::ExpireCycle { node: n });
            }
        }
        sched.schedule_at(SimTime::ZERO, Ev::Sample);
        Ok(world)
    }

    /// Runs the world to its end time.
    pub fn run(&mut self, sched: &mut Scheduler<Ev>) {
        sched.run(self, RunLimit::Until(self.end));
        let expected = self
            .config
            .clients
            .workload
            .requests_per_connection
            .map(|n| n * self.clients.len() as u64);
        let nodes = self.nodes_view();
        self.metrics.finish(self.end, expected, nodes);
    }

    fn nodes_view(&self) -> Vec<NodeFinal> {
        self.nodes
            .iter()
            .map(|n| NodeFinal {
                used_memory_bytes: n.db.used_memory(),
                keys: n.db.dbsize(),
                thread_busy: n.threads.iter().map(|t| t.cpu.busy.clone()).collect(),
            })
            .collect()
    }

    /// The flow connection `conn`'s requests travel on (opened in this order by
    /// [`World::build`], which checks it).
    #[inline]
    fn req_flow(conn: u32) -> FlowId {
        FlowId(2 * conn)
    }

    /// The flow connection `conn`'s replies travel on.
    #[inline]
    fn rep_flow(conn: u32) -> FlowId {
        FlowId(2 * conn + 1)
    }

    /// What `flow` carries, from the same numbering.
    #[inline]
    fn flow_role(flow: FlowId) -> FlowRole {
        if flow.0 % 2 == 0 {
            FlowRole::Request
        } else {
            FlowRole::Reply
        }
    }

    fn now_ms(now: SimTime) -> u64 {
        EPOCH_UNIX_MS + now.as_ns() / 1_000_000
    }

    // ----- clients -----

    fn can_send(&self, c: u32, now: SimTime) -> bool {
        let client = &self.clients[c as usize];
        if now >= self.stop_sending_at {
            return false;
        }
        if let Some(limit) = self.config.clients.workload.requests_per_connection {
            if client.sent >= limit {
                return false;
            }
        }
        client.outstanding < self.config.clients.workload.pipeline
    }

    /// Sends as many requests as the pipeline, the rate budget and (open loop) the
    /// backlog allow.
    fn fill(&mut self, sched: &mut Scheduler<Ev>, c: u32) {
        let now = sched.now();
        while self.can_send(c, now) {
            let client = &mut self.clients[c as usize];
            let intended = if client.arrivals.is_some() {
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
            self.send_request(sched, c, intended);
        }
    }

    fn send_request(&mut self, sched: &mut Scheduler<Ev>, c: u32, intended: SimTime) {
        let now = sched.now();
        let client = &mut self.clients[c as usize];
        let op = client.gen.next(&mut client.rng);
        client.outstanding += 1;
        client.sent += 1;
        let first_conn = client.first_conn;
        format_key(
            &self.config.clients.workload.key_prefix,
            op.key_index,
            &mut self.key_buf,
        );
        let shard = self.router.shard_of(&self.key_buf, op.key_index);
        let conn = first_conn + shard;
        let req = self.reqs.insert(Req {
            next: NO_REQ,
            client: c,
            conn,
            kind: op.kind,
            key_index: op.key_index,
            value_len: op.value_len,
            expiry_s: op.expiry_s,
            shard,
            request_bytes: 0,
            reply_bytes: 0,
            hit: false,
            intended,
            sent: now,
            received: now,
            cpu_start: now,
            cpu_end: now,
        });
        let r = &mut self.reqs[req];
        let request_bytes = with_argv(r, &self.key_buf, &mut self.argv_buf, encoded_request_len);
        r.request_bytes = request_bytes;
        self.net
            .send(sched, Self::req_flow(conn), request_bytes, req as u64);
    }

    fn complete(&mut self, sched: &mut Scheduler<Ev>, req: u32) {
        let now = sched.now();
        let r = self.reqs.remove(req as usize);
        if now >= self.measure_from {
            let propagation = SimDuration::from_ns(self.config.network.latency_ns);
            self.metrics.record_request(now, &r, propagation);
        }
        self.metrics.record_completion_series(now, &r);
        let c = r.client;
        self.clients[c as usize].outstanding -= 1;
        self.fill(sched, c);
    }

    // ----- nodes -----

    fn arrive_at_node(&mut self, sched: &mut Scheduler<Ev>, req: u32) {
        let now = sched.now();
        let r = &mut self.reqs[req as usize];
        r.received = now;
        let conn = r.conn;
        let cn = &mut self.conns[conn as usize];
        cn.waiting.push_back(&mut self.reqs, req);
        if !cn.busy {
            cn.busy = true;
            let (node, io) = (cn.node, cn.io_thread as u32);
            let job = if self.nodes[node as usize].threads.len() > 1 {
                Job::Read { conn }
            } else {
                Job::Full { conn }
            };
            self.enqueue(sched, node, io, job);
        }
    }

    fn enqueue(&mut self, sched: &mut Scheduler<Ev>, node: u32, thread: u32, job: Job) {
        self.nodes[node as usize].threads[thread as usize]
            .queue
            .push_back(job);
        self.kick(sched, node, thread);
    }

    /// Starts the thread's next job if it is idle.
    fn kick(&mut self, sched: &mut Scheduler<Ev>, node: u32, thread: u32) {
        let now = sched.now();
        let t = &self.nodes[node as usize].threads[thread as usize];
        if t.current.is_some() {
            return;
        }
        let Some(job) = self.nodes[node as usize].threads[thread as usize]
            .queue
            .pop_front()
        else {
            return;
        };
        let work = self.start_job(now, node, job);
        let n = &mut self.nodes[node as usize];
        let t = &mut n.threads[thread as usize];
        t.current = Some(job);
        let end = t.cpu.submit(now, work, n.credits.as_mut());
        sched.schedule_at(end, Ev::JobDone { node, thread });
        if let Job::Full { conn } | Job::Write { conn } = job {
            // Its replies are sent when the job ends.
            self.net.prefetch_flow(Self::rep_flow(conn));
        }
        self.prefetch_next(node, thread);
    }

    /// Starts loading the keyspace lines the thread's next command will read: a random
    /// key of a large keyspace misses every cache level, and the next job is known a
    /// whole job ahead. A hint only; it changes no result.
    fn prefetch_next(&mut self, node: u32, thread: u32) {
        let n = &self.nodes[node as usize];
        let req = match n.threads[thread as usize].queue.front() {
            Some(Job::Full { conn }) => self.conns[*conn as usize].waiting.head,
            Some(Job::Exec { conn }) => self.conns[*conn as usize].batch.head,
            _ => NO_REQ,
        };
        if req != NO_REQ {
            let key_index = self.reqs[req as usize].key_index;
            format_key(
                &self.config.clients.workload.key_prefix,
                key_index,
                &mut self.key_buf,
            );
            for line in n.db.lookup_lines(&self.key_buf).into_iter().flatten() {
                sim::hint::prefetch(line);
            }
        }
    }

    /// What a job does when it starts, and its CPU cost.
    fn start_job(&mut self, now: SimTime, node: u32, job: Job) -> SimDuration {
        match job {
            Job::Full { conn } => {
                let request_bytes = self.take_batch(conn);
                let reply_bytes = self.execute_batch(now, node, conn);
                self.cost.batch(
                    self.conns[conn as usize].batch.len as u64,
                    request_bytes,
                    reply_bytes,
                )
            }
            Job::Read { conn } => {
                let request_bytes = self.take_batch(conn);
                self.cost.read(request_bytes)
            }
            Job::Exec { conn } => {
                self.execute_batch(now, node, conn);
                self.cost
                    .execute(self.conns[conn as usize].batch.len as u64)
            }
            Job::Write { conn } => {
                let mut bytes = 0;
                let mut req = self.conns[conn as usize].batch.head;
                while req != NO_REQ {
                    let r = &self.reqs[req as usize];
                    bytes += r.reply_bytes;
                    req = r.next;
                }
                self.cost.write(bytes)
            }
        }
    }

    /// Moves the connection's waiting requests into its batch; returns their bytes.
    fn take_batch(&mut self, conn: u32) -> u64 {
        let cn = &mut self.conns[conn as usize];
        debug_assert!(cn.batch.is_empty(), "one batch per connection at a time");
        cn.batch = std::mem::replace(&mut cn.waiting, ReqList::EMPTY);
        let mut bytes = 0;
        let mut req = cn.batch.head;
        while req != NO_REQ {
            let r = &self.reqs[req as usize];
            bytes += r.request_bytes;
            req = r.next;
        }
        bytes
    }

    /// Executes the batch's commands on the node's Db; returns the replies' bytes.
    fn execute_batch(&mut self, now: SimTime, node: u32, conn: u32) -> u64 {
        let now_ms = Self::now_ms(now);
        let n = &mut self.nodes[node as usize];
        let cn = &mut self.conns[conn as usize];
        let mut total = 0;
        let mut req = cn.batch.head;
        while req != NO_REQ {
            let r = &mut self.reqs[req as usize];
            req = r.next;
            format_key(
                &self.config.clients.workload.key_prefix,
                r.key_index,
                &mut self.key_buf,
            );
            let reply = with_argv(r, &self.key_buf, &mut self.argv_buf, |argv| {
                n.db.execute(&mut cn.session, argv, now_ms, &mut n.rng)
            });
            r.hit = matches!(reply, Reply::Bulk(_));
            if reply.is_error() {
                self.metrics.errors += 1;
            }
            r.reply_bytes = encoded_len(&reply, Protocol::Resp2);
            r.cpu_start = now;
            total += r.reply_bytes;
        }
        total
    }

    fn job_done(&mut self, sched: &mut Scheduler<Ev>, node: u32, thread: u32) {
        let now = sched.now();
        let job = self.nodes[node as usize].threads[thread as usize]
            .current
            .take()
            .expect("a job was running");
        match job {
            Job::Read { conn } => self.enqueue(sched, node, 0, Job::Exec { conn }),
            Job::Exec { conn } => {
                let io = self.conns[conn as usize].io_thread as u32;
                self.enqueue(sched, node, io, Job::Write { conn });
            }
            Job::Full { conn } | Job::Write { conn } => {
                let cn = &mut self.conns[conn as usize];
                let rep_flow = Self::rep_flow(conn);
                let batch = std::mem::replace(&mut cn.batch, ReqList::EMPTY);
                let mut req = batch.head;
                while req != NO_REQ {
                    let r = &mut self.reqs[req as usize];
                    r.cpu_end = now;
                    let bytes = r.reply_bytes;
                    let next = r.next;
                    self.net.send(sched, rep_flow, bytes, req as u64);
                    req = next;
                }
                let cn = &mut self.conns[conn as usize];
                cn.busy = false;
                if !cn.waiting.is_empty() {
                    cn.busy = true;
                    let io = cn.io_thread as u32;
                    let job = if self.nodes[node as usize].threads.len() > 1 {
                        Job::Read { conn }
                    } else {
                        Job::Full { conn }
                    };
                    self.enqueue(sched, node, io, job);
                }
            }
        }
        self.kick(sched, node, thread);
    }
}

impl Model for World {
    type Event = Ev;

    fn handle(&mut self, sched: &mut Scheduler<Ev>, ev: Ev) {
        match ev {
            Ev::Net(e) => {
                let mut deliveries = std::mem::take(&mut self.deliveries);
                deliveries.clear();
                self.net.handle(sched, e, &mut deliveries);
                for d in &deliveries {
                    match Self::flow_role(d.flow) {
                        FlowRole::Request => self.arrive_at_node(sched, d.token as u32),
                        FlowRole::Reply => self.complete(sched, d.token as u32),
                    }
                }
                self.deliveries = deliveries;
            }
            Ev::ClientStart { client } => {
                let now = sched.now();
                let c = &mut self.clients[client as usize];
                if let Some(budget) = &c.budget {
                    c.budget_at = now;
                    sched.schedule_at(
                        now + SimDuration::from_ns(budget.interval_ns()),
                        Ev::RateTick { client },
                    );
                }
                if let Some(arrivals) = &mut c.arrivals {
                    let first = arrivals.first_arrival_ns(&mut c.rng);
                    sched.schedule_at(now + SimDuration::from_ns(first), Ev::Arrival { client });
                }
                self.fill(sched, client);
            }
            Ev::RateTick { client } => {
                let now = sched.now();
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
                sched.schedule_at(
                    now + SimDuration::from_ns(interval),
                    Ev::RateTick { client },
                );
                self.fill(sched, client);
            }
            Ev::Arrival { client } => {
                let now = sched.now();
                if now >= self.stop_sending_at {
                    return;
                }
                let depth = self
                    .config
                    .clients
                    .workload
                    .open_loop
                    .map(|o| o.queue_depth)
                    .unwrap_or(0) as usize;
                let c = &mut self.clients[client as usize];
                if c.backlog.len() < depth {
                    c.backlog.push_back(now);
                } else if now >= self.measure_from {
                    self.metrics.client_queue_overflows += 1;
                }
                let gap = c
                    .arrivals
                    .as_mut()
                    .expect("arrivals only for open-loop clients")
                    .next_gap_ns(&mut c.rng);
                sched.schedule_at(
                    now + SimDuration::from_ns(gap.max(1)),
                    Ev::Arrival { client },
                );
                self.fill(sched, client);
            }
            Ev::JobDone { node, thread } => self.job_done(sched, node, thread),
            Ev::ExpireCycle { node } => {
                let now = sched.now();
                let n = &mut self.nodes[node as usize];
                n.db.active_expire_cycle(Self::now_ms(now), &mut n.rng);
                sched.schedule_at(now + EXPIRE_PERIOD, Ev::ExpireCycle { node });
            }
            Ev::Sample => {
                let now = sched.now();
                self.metrics.sample(
                    now,
                    &self.net,
                    &self
                        .nodes
                        .iter()
                        .map(|n| n.db.used_memory())
                        .collect::<Vec<_>>(),
                );
                let next = SimTime::from_secs(now.whole_secs() + 1);
                if next <= self.end {
                    sched.schedule_at(next, Ev::Sample);
                }
            }
        }
    }
}

/// Runs one variant's world to its end and returns it for reporting.
pub fn simulate(config: &RunConfig) -> Result<World, String> {
    let mut sched = Scheduler::with_capacity(4096);
    let mut world = World::build(config, &mut sched)?;
    world.run(&mut sched);
    world.metrics.events = sched.events_run();
    Ok(world)
}
