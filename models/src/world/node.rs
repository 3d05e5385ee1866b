//! Server nodes: one shard's primary each, a store-core `Db` on an instance's NIC (its
//! vCPUs and CPU credits are the engine's, which runs its threads on them). A node owns its store and its random stream (eviction sampling, active
//! expiry) and runs Redis's active expire cycle at the default hz when the workload sets
//! expiries. Invariant: every command a node executes runs on its own `Db`, at the
//! simulated time in Unix milliseconds ([`EPOCH_UNIX_MS`](super::EPOCH_UNIX_MS) plus
//! the clock).

use super::{Ctx, Ev};
use sim::net::NicId;
use sim::{SimDuration, SimRng, SimTime};
use store_core::{Arg, Reply, Session, ShardedDb};

/// Active expiry runs at Redis's default hz (10 times a second).
const EXPIRE_PERIOD: SimDuration = SimDuration::from_ms(100);

/// The nodes' own events.
#[derive(Clone, Copy, Debug)]
pub enum NodeEv {
    ExpireCycle {
        node: u32,
    },
    /// The node's host crashes: its NIC is cut from every other host (a link fault the
    /// network runs on its own) and its threads start nothing more. What a crash means
    /// for replication or the cluster bus is for those mechanisms to handle here.
    Crash {
        node: u32,
    },
    /// The host is back: the node restarts empty (a fresh `Db`, no prefill) and every
    /// connection to it is reset, as a restarted server answers an old connection with
    /// a reset.
    Restart {
        node: u32,
    },
}

impl From<NodeEv> for Ev {
    fn from(e: NodeEv) -> Ev {
        Ev::Node(e)
    }
}

/// A server node: one shard's primary.
pub(crate) struct Node {
    pub name: String,
    pub shard: u32,
    pub nic: NicId,
    /// The node's store: one shard for Redis and Valkey, one per thread for the
    /// thread-per-core engine.
    pub db: ShardedDb,
    pub rng: SimRng,
    /// Crashed and not yet restarted.
    pub down: bool,
}

impl Node {
    /// Executes one command on the node's store at `now_unix_ms` (see
    /// [`now_unix_ms`](super::now_unix_ms)).
    #[inline]
    pub fn execute(&mut self, session: &mut Session, argv: &[Arg<'_>], now_unix_ms: u64) -> Reply {
        self.db.execute(session, argv, now_unix_ms, &mut self.rng)
    }
}

/// Every node of the world.
pub(crate) struct Nodes {
    pub nodes: Vec<Node>,
    /// The workload sets expiries, so the active expire cycle runs.
    pub uses_expiry: bool,
}

impl Nodes {
    /// Schedules the first expire cycle of every node (when the workload sets expiries).
    pub fn start(&self, sched: &mut sim::Scheduler<Ev>) {
        if self.uses_expiry {
            for node in 0..self.nodes.len() as u32 {
                sched.schedule_at(
                    SimTime::ZERO + EXPIRE_PERIOD,
                    NodeEv::ExpireCycle { node }.into(),
                );
            }
        }
    }

    pub fn handle(&mut self, ctx: &mut Ctx<'_>, ev: NodeEv) {
        let now = ctx.sched.now();
        match ev {
            NodeEv::ExpireCycle { node } => {
                let n = &mut self.nodes[node as usize];
                // A crashed node runs nothing; its cycle goes on at the same beat after
                // the restart.
                if !n.down {
                    n.db.active_expire_cycle(super::now_unix_ms(now), &mut n.rng);
                }
                ctx.sched
                    .schedule_at(now + EXPIRE_PERIOD, NodeEv::ExpireCycle { node }.into());
            }
            // Handled by `world::faults`, which reaches the engine and the clients.
            NodeEv::Crash { .. } | NodeEv::Restart { .. } => {
                unreachable!("crash and restart events go to world::faults")
            }
        }
    }

    /// Each node's memory in use now.
    pub fn used_memory_bytes(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.db.used_memory()).collect()
    }
}
