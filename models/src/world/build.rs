//! Building a world from a `RunConfig`: the network (one NIC per node and per client
//! host), the nodes with their stores prefilled, the engine's threads and connection
//! ends, the clients, and the flows of every kind, opened in the order their ids were
//! reserved. One block per component; a new mechanism adds its own. Invariant: the
//! build reads only the `RunConfig` and the seed, so the same configuration builds the
//! same world.

use super::bus::Bus;
use super::client::{Client, ClientThread, Clients, SharedClientCpu};
use super::cluster::{ClusterShared, ClusterView, SlotMap};
use super::engine::{Conn, Engine, Thread};
use super::flows::{FlowKind, FlowMap};
use super::node::{Node, Nodes};
use super::replication::Replication;
use super::requests::ReqList;
use super::sampler::Sampler;
use super::zones::path_between;
use super::{Ev, Metrics, World, EPOCH_UNIX_MS};
use crate::engine::CostModel;
use crate::placement::Router;
use crate::scenario::resolve::topology::any_node_name;
use crate::scenario::resolve::ReplicationConfig;
use crate::scenario::resolve::{CreditLevel, RunConfig};
use crate::scenario::spec::ReadFrom;
use crate::workload::arrivals::ArrivalGen;
use crate::workload::generator::{format_key, RateBudget};
use sim::host::{CpuCreditConfig, CpuCredits, CpuThread, HostCpu};
use sim::net::{Framing, LinkConfig, Network, NicConfig, NicId, ShaperConfig};
use sim::{RngStreams, Scheduler, SimDuration, SimTime};
use slab::Slab;
use std::collections::VecDeque;
use store_core::{Db, Session, ShardedDb};

/// Per-flow rate cap outside a cluster placement group (docs/REFERENCES.md section 1: AWS EC2
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

/// The shaping of one NIC direction of an instance (the estimate reads it too).
pub(crate) fn shaper(spec: &crate::catalog::InstanceSpec, credits: CreditLevel) -> ShaperConfig {
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
        line_rate_bits_per_s: spec.line_rate_bits_per_s,
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

/// The shard of every prefilled key, in index order, when there are several shards:
/// each key is hashed once for the whole world (2 bytes a key, freed once the nodes are
/// built), and each node keeps the keys the table gives it. Building is then O(keys)
/// in hashing whatever the number of nodes.
fn prefill_owners(config: &RunConfig, router: &Router) -> Option<Vec<u16>> {
    let p = &config.prefill;
    if router.shards() <= 1 || p.key_count == 0 {
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

/// The thread shard of every prefilled key, in index order, when the engine splits its
/// store over several threads (XXH64 as Dragonfly's `Shard()`): hashed once for the
/// whole world, like [`prefill_owners`].
fn prefill_thread_shards(config: &RunConfig) -> Option<Vec<u8>> {
    let p = &config.prefill;
    let threads = store_shards(config);
    if threads <= 1 || p.key_count == 0 {
        return None;
    }
    let hash_tags = config.cluster.mode == crate::scenario::ClusterMode::Cluster;
    let mut key = Vec::with_capacity(p.key_prefix.len() + 20);
    let shards = (p.key_minimum..p.key_minimum + p.key_count)
        .map(|index| {
            format_key(&p.key_prefix, index, &mut key);
            // At most 256 threads (validated), so a shard fits a byte.
            store_core::shards::shard_of_key(&key, threads, hash_tags) as u8
        })
        .collect();
    Some(shards)
}

/// A node's store: its maxmemory and policy, the slots it owns, its share of the
/// prefilled keys, each thread shard holding the keys that hash to it.
fn node_db(
    config: &RunConfig,
    view: Option<&ClusterView>,
    owners: &Option<Vec<u16>>,
    thread_shards: &Option<Vec<u8>>,
    shard: u32,
) -> Result<ShardedDb, String> {
    let mut db = empty_db(config, view, shard, shard);
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
        }
        .with_fill(config.clients.workload.value_fill());
        // Each shard holds only the keys placed on it, and each of its thread shards
        // only the keys hashed to that thread.
        let first = p.key_minimum;
        for (thread, part) in db.shards_mut().iter_mut().enumerate() {
            let filled = match (owners, thread_shards) {
                (None, None) => part.prefill(range.clone()),
                // A word of the tables at a time: 64 comparisons the compiler can
                // vectorize.
                _ => part.prefill_where_words(range.clone(), |index, n| {
                    let at = (index - first) as usize;
                    let to = at + n as usize;
                    let by_owner = owners
                        .as_ref()
                        .map_or(u64::MAX, |o| kept_word(&o[at..to], shard as u16));
                    let by_thread = thread_shards
                        .as_ref()
                        .map_or(u64::MAX, |t| kept_word(&t[at..to], thread as u8));
                    by_owner & by_thread
                }),
            };
            filled.map_err(|e| format!("prefill of node {shard}: {e}"))?;
        }
    }
    Ok(db)
}

/// Bit b set where `owners[b]` is `shard`: 64 comparisons folded into a mask, in
/// groups of 16 so that each group is a vector compare.
#[inline]
fn kept_mask<T: Copy + PartialEq>(owners: &[T; 64], shard: T) -> u64 {
    let mut mask = 0u64;
    for (g, group) in owners.chunks_exact(16).enumerate() {
        let mut bits = 0u16;
        for (b, &o) in group.iter().enumerate() {
            bits |= u16::from(o == shard) << b;
        }
        mask |= u64::from(bits) << (16 * g);
    }
    mask
}

/// Bit b set where `owners[b]` is `shard`, for a word of any length up to 64.
#[inline]
fn kept_word<T: Copy + PartialEq>(owners: &[T], shard: T) -> u64 {
    match <&[T; 64]>::try_from(owners) {
        // A whole word: a fixed trip count the compiler unrolls.
        Ok(words) => kept_mask(words, shard),
        Err(_) => owners
            .iter()
            .enumerate()
            .fold(0u64, |m, (b, &o)| m | (u64::from(o == shard) << b)),
    }
}

/// The thread shards of a node's store: one for Redis and Valkey, the engine's
/// threads for the thread-per-core engine.
fn store_shards(config: &RunConfig) -> usize {
    config.cluster.node.threads.map_or(1, |t| t as usize)
}

/// A node's store as it starts, before any prefill: its maxmemory and policy, and, in a
/// CRC16 cluster, its place in the converged cluster (what a node restarted after a
/// crash gets): the slots of its shard served, every other slot answered with `MOVED`
/// to its owner. A replica serves its primary's slots and answers as its primary does
/// (as a replica does for clients that sent READONLY). The thread-per-core engine's
/// store is split over its threads, maxmemory with it.
pub(super) fn empty_db(
    config: &RunConfig,
    view: Option<&ClusterView>,
    node: u32,
    shard: u32,
) -> ShardedDb {
    let db_config = store_core::Config {
        maxmemory_bytes: config.cluster.node.maxmemory_bytes,
        maxmemory_policy: store_policy(config.cluster.node.maxmemory_policy),
        ..store_core::Config::default()
    };
    let mut db = ShardedDb::new(db_config, store_shards(config));
    if let Some(view) = view {
        for part in db.shards_mut() {
            join_cluster(part, view, node, shard);
        }
        db.set_hash_tags(true);
    }
    db
}

/// Makes `db` node `node` of the converged cluster, a replica of `shard`'s primary
/// unless it is that primary.
fn join_cluster(db: &mut Db, view: &ClusterView, node: u32, shard: u32) {
    let r = |n: u32| store_core::NodeRef(u16::try_from(n).expect("at most 65,533 nodes"));
    db.join_cluster(view.addrs.clone(), r(node), view.owners.clone());
    if node != shard {
        db.set_cluster_replica_of(Some(r(shard)));
    }
}

/// The CPU credits of a burstable instance type, starting at `level`.
fn cpu_credits(spec: &crate::catalog::InstanceSpec, level: CreditLevel) -> Option<CpuCredits> {
    spec.cpu_credits.map(|c| {
        let max = c.max_credits as u64;
        CpuCredits::new(CpuCreditConfig {
            earned_per_hour: c.earn_per_hour as u64,
            max_balance: max,
            initial_balance: level.of_capacity(max),
            baseline_percent: (c.baseline_permille_per_vcpu as u64 / 10).clamp(1, 100),
        })
    })
}

impl World {
    /// Builds the world of `config`; the clients start at t = 0.
    pub fn build(config: &RunConfig, sched: &mut Scheduler<Ev>) -> Result<World, String> {
        World::build_with(
            config,
            sched,
            #[cfg(test)]
            super::TestExtras::default(),
        )
    }

    /// [`World::build`], with what tests add (a probe, link fault rules).
    pub(crate) fn build_with(
        config: &RunConfig,
        sched: &mut Scheduler<Ev>,
        #[cfg(test)] extras: super::TestExtras,
    ) -> Result<World, String> {
        #[cfg(test)]
        let probe = extras.probe;
        let streams = RngStreams::new(config.seed);
        let mut net = Network::new(streams);
        let n = &config.network;
        let framing = Framing {
            mtu_bytes: n.mtu_bytes,
            ip_tcp_header_bytes: n.ip_tcp_header_bytes,
            link_header_bytes: n.link_header_bytes,
        };
        #[allow(unused_mut)] // tests may add fault rules
        let mut link = LinkConfig {
            latency: SimDuration::from_ns(n.latency_ns),
            jitter: SimDuration::from_ns(n.jitter_ns),
            ..LinkConfig::default()
        };
        #[cfg(test)]
        {
            link.rules = extras.link_rules;
        }
        let router = Router::new(config);
        let initial_shards = router.shards();
        // Each shard's slots, for the cluster bus to move at a failover.
        // Shards the resharding timeline adds start with no slots and no keys.
        let shards = router.shards() + config.cluster.added_shards;
        let shard_slots: Vec<Vec<u16>> = if config.cluster.bus.is_some()
            && router.placement() == crate::scenario::Placement::Crc16
        {
            (0..shards)
                .map(|s| {
                    if s < router.shards() {
                        router.slots_of(s)
                    } else {
                        Vec::new()
                    }
                })
                .collect()
        } else {
            vec![Vec::new(); shards as usize]
        };
        let w = &config.clients.workload;

        // Nodes: one per shard, each on its own NIC; then each shard's replicas, each
        // on a host of its own, starting with their primary's data (as after a first
        // sync before the run).
        let server = &config.cluster.instance.spec;
        let owners = prefill_owners(config, &router);
        let thread_shards = prefill_thread_shards(config);
        let view = ClusterView::new(
            config,
            &router,
            shards * (1 + config.cluster.replicas_per_shard),
        );
        // A node's threads: the main thread and its I/O threads, or the thread-per-core
        // engine's threads.
        let io_threads = config.cluster.node.thread_count() as usize;
        let thread_per_core = config.cluster.engine.is_thread_per_core();
        let replicas = config.cluster.replicas_per_shard;
        let mut nodes = Vec::new();
        let mut node_cpus = Vec::new();
        for node in 0..shards * (1 + replicas) {
            let shard = if node < shards {
                node
            } else {
                (node - shards) / replicas
            };
            let server_shaper = shaper(server, config.net_credits_at_start);
            let nic = net.add_nic(NicConfig {
                egress: server_shaper,
                ingress: server_shaper,
                framing,
            });
            let credits = cpu_credits(server, config.cpu_credits_at_start);
            node_cpus.push(HostCpu::new(server.vcpu, io_threads as u32, credits));
            let db = if node < shards {
                let mut db = if shard < router.shards() {
                    node_db(config, view.as_ref(), &owners, &thread_shards, shard)?
                } else {
                    empty_db(config, view.as_ref(), shard, shard)
                };
                if replicas > 0 {
                    super::replication::make_primary(db.only_mut());
                }
                db
            } else {
                let mut db = nodes
                    .iter()
                    .map(|n: &Node| &n.db)
                    .nth(shard as usize)
                    .expect("primaries first")
                    .clone();
                super::replication::make_replica(db.only_mut());
                if let Some(view) = &view {
                    join_cluster(db.only_mut(), view, node, shard);
                }
                db
            };
            nodes.push(Node {
                name: any_node_name(config.cluster.engine, shards, replicas, node),
                shard,
                nic,
                db,
                rng: streams.stream("node", node as u64),
                down: false,
            });
        }
        drop(owners);
        drop(thread_shards);

        // Client hosts: one NIC each, always starting with full credits.
        let client_shaper = shaper(&config.clients.instance.spec, CreditLevel::Full);
        let client_nics: Vec<NicId> = (0..config.clients.hosts)
            .map(|_| {
                net.add_nic(NicConfig {
                    egress: client_shaper,
                    ingress: client_shaper,
                    framing,
                })
            })
            .collect();

        // Clients, each with a connection to every primary (and every replica when it
        // reads from them); the engine holds the nodes' ends. Connection c of host h's
        // client i is h * per_host * n + i * n + node, with n the nodes connected to.
        let connected = if config.clients.read_from == ReadFrom::Primary {
            shards as usize
        } else {
            nodes.len()
        };
        let per_host = w.connections_per_host();
        let total_clients = config.clients.connections_total();
        let mut clients = Vec::new();
        let mut conns = Vec::new();
        let mut conn_ends: Vec<(NicId, NicId)> = Vec::new();
        for (host, &cnic) in client_nics.iter().enumerate() {
            for i in 0..per_host {
                let client_index = host as u32 * per_host + i;
                let first_conn = conns.len() as u32;
                for (index, node) in nodes[..connected].iter().enumerate() {
                    let conn = conns.len() as u32;
                    conn_ends.push((cnic, node.nic));
                    let io_thread = if thread_per_core {
                        conn % io_threads as u32
                    } else if io_threads > 1 {
                        1 + conn % (io_threads as u32 - 1)
                    } else {
                        0
                    };
                    conns.push(Conn {
                        node: index as u32,
                        session: Session::new(conn as u64 + 1),
                        waiting: ReqList::EMPTY,
                        batch: ReqList::EMPTY,
                        busy: false,
                        orphaned: false,
                        io_thread: u16::try_from(io_thread).expect("at most 128 threads"),
                    });
                }
                clients.push(Client {
                    thread: host as u32 * w.threads + i / w.clients,
                    wake_pending: false,
                    reads_to_replicas: 0,
                    gen: w.generator(i),
                    rng: streams.stream("client", client_index as u64),
                    first_conn,
                    outstanding: 0,
                    sent: 0,
                    replies_in_window: 0,
                    budget: w.rate_limit.map(RateBudget::new),
                    budget_at: SimTime::ZERO,
                    backlog: VecDeque::new(),
                    arrivals: w
                        .open_loop
                        .as_ref()
                        .map(|ol| ArrivalGen::new(ol, client_index, total_clients)),
                    arrivals_held: None,
                    map: view.as_ref().map(|v| SlotMap {
                        base: v.owners.clone(),
                        moved: Default::default(),
                    }),
                    refreshing: false,
                    opened: Vec::new(),
                    counts: Default::default(),
                    #[cfg(test)]
                    sends: 0,
                });
            }
        }

        // Flows, kind by kind: every connection's request flow, then its reply flow.
        let conn_count = u32::try_from(conns.len()).expect("fewer than 2^32 connections");
        let mut counts = [0u32; FlowKind::COUNT];
        counts[FlowKind::ClientRequest as usize] = conn_count;
        counts[FlowKind::ClientReply as usize] = conn_count;
        let links = shards * replicas;
        counts[FlowKind::ReplicationStream as usize] = links;
        counts[FlowKind::ReplicationControl as usize] = links;
        #[cfg(test)]
        {
            counts[FlowKind::Probe as usize] = u32::from(probe.is_some());
        }
        let flows = FlowMap::reserve(counts);
        // Each connection's path, by its ends' zones (one link for all without zones).
        let conns_per_host = per_host * connected as u32;
        let z = &config.zones;
        let conn_link = |c: usize| -> LinkConfig {
            if z.is_empty() {
                return link.clone();
            }
            let client_zone = z.client_zones[c / conns_per_host as usize];
            path_between(z, client_zone, z.node_zones[conns[c].node as usize], &link)
        };
        for (c, &(cnic, snic)) in conn_ends.iter().enumerate() {
            flows.open(
                &mut net,
                FlowKind::ClientRequest,
                c as u32,
                cnic,
                snic,
                conn_link(c),
            );
        }
        for (c, &(cnic, snic)) in conn_ends.iter().enumerate() {
            flows.open(
                &mut net,
                FlowKind::ClientReply,
                c as u32,
                snic,
                cnic,
                conn_link(c),
            );
        }
        // Replication links: link l is replica node shards + l of shard l / replicas.
        let link_ends: Vec<(u32, u32)> = (0..links)
            .map(|l| (l / replicas.max(1), shards + l))
            .collect();
        let node_link = |a: u32, b: u32| -> LinkConfig {
            if z.is_empty() {
                return link.clone();
            }
            path_between(z, z.node_zones[a as usize], z.node_zones[b as usize], &link)
        };
        for (l, &(p, r)) in link_ends.iter().enumerate() {
            let (pn, rn) = (nodes[p as usize].nic, nodes[r as usize].nic);
            flows.open(
                &mut net,
                FlowKind::ReplicationStream,
                l as u32,
                pn,
                rn,
                node_link(p, r),
            );
        }
        for (l, &(p, r)) in link_ends.iter().enumerate() {
            let (pn, rn) = (nodes[p as usize].nic, nodes[r as usize].nic);
            flows.open(
                &mut net,
                FlowKind::ReplicationControl,
                l as u32,
                rn,
                pn,
                node_link(p, r),
            );
        }
        let zone_traffic =
            super::zones::ZoneTraffic::build(config, &conns, conns_per_host, framing);
        let faults = super::faults::Faults::build(
            config,
            &mut net,
            sched,
            &nodes.iter().map(|n| n.nic).collect::<Vec<_>>(),
            &client_nics,
            conns_per_host,
        );
        let end = SimTime::from_ns(config.duration_ns);
        #[cfg(test)]
        let probe =
            probe.map(|p| super::probe::Probe::build(p, &flows, &mut net, &nodes, &link, end));

        let stop_sending_at = match w.test_time_ns {
            Some(t) => SimTime::from_ns(t).min(end),
            None => end,
        };
        let cost =
            CostModel::default_for(config.cluster.engine).with_overrides(&config.cluster.cpu_cost);
        let node_nics: Vec<NicId> = nodes.iter().map(|n| n.nic).collect();
        let node_nics_for_paths = node_nics.clone();
        let mut metrics = Metrics::new(config, nodes.len());
        if let Some(z) = &zone_traffic {
            metrics.propagation_by_conn = z.propagation_by_conn(config);
        }
        // Memtier threads beyond their host's vCPUs share them (an event a job);
        // otherwise each runs as a server of its own (an event a reply).
        let shared_client_cpu =
            !config.clients.cpu_cost.is_free() && w.threads > config.clients.instance.spec.vcpu;
        // Each node's zone (all in zone 0 without zones), for the paths opened late.
        let node_zones = if config.zones.is_empty() {
            vec![0; nodes.len()]
        } else {
            config.zones.node_zones.clone()
        };
        let mut world = World {
            config: config.clone(),
            metrics,
            faults,
            cluster: ClusterShared {
                view,
                ..Default::default()
            },
            zone_traffic,
            requests: Slab::new(),
            clients: Clients {
                clients,
                router,
                key_prefix: w.key_prefix.clone(),
                pipeline: w.pipeline,
                requests_per_connection: w.requests_per_connection,
                queue_depth: w.open_loop.map(|o| o.queue_depth).unwrap_or(0) as usize,
                stop_sending_at,
                key_buf: Vec::with_capacity(64),
                argv_buf: Vec::with_capacity(64),
                threads: (0..config.clients.hosts)
                    .flat_map(|host| {
                        (0..w.threads).map(move |_| ClientThread {
                            cpu: CpuThread::new(),
                            host,
                        })
                    })
                    .collect(),
                host_credits: (0..config.clients.hosts)
                    .map(|_| {
                        if shared_client_cpu {
                            None
                        } else {
                            cpu_credits(&config.clients.instance.spec, config.cpu_credits_at_start)
                        }
                    })
                    .collect(),
                cpu_cost: config.clients.cpu_cost,
                read_from: config.clients.read_from,
                shards,
                replicas_per_shard: replicas,
                replica_in_sync: vec![true; links as usize],
                connected: connected as u32,
                node_nics: nodes.iter().map(|n| n.nic).collect(),
                host_nics: client_nics.clone(),
                link: link.clone(),
                zones: config.zones.clone(),
                opened: Vec::new(),
                redirects: config.clients.cluster,
                awaiting_retry: 0,
                timed_out_in_flight: 0,
                attempts: 0,
                awaiting_parse: 0,
                shared: shared_client_cpu.then(|| {
                    let spec = &config.clients.instance.spec;
                    SharedClientCpu::new(
                        (0..config.clients.hosts)
                            .map(|_| {
                                HostCpu::new(
                                    spec.vcpu,
                                    w.threads,
                                    cpu_credits(spec, config.cpu_credits_at_start),
                                )
                            })
                            .collect(),
                        w.threads,
                    )
                }),
            },
            engine: Engine::new(
                (0..nodes.len())
                    .map(|_| (0..io_threads).map(|_| Thread::new()).collect())
                    .collect(),
                node_cpus,
                conns,
                cost,
                w.key_prefix.clone(),
            ),
            replication: Replication::build(
                config
                    .cluster
                    .replication
                    .unwrap_or(ReplicationConfig::NONE),
                if replicas > 0 { shards } else { 0 },
                replicas,
                &flows,
                end,
                config.clients.read_from != ReadFrom::Primary,
                super::replication::Paths {
                    nics: node_nics_for_paths,
                    base: link.clone(),
                    zones: config.zones.clone(),
                },
            ),
            bus: config.cluster.bus.map(|b| {
                Bus::build(
                    b,
                    &streams,
                    nodes.iter().map(|n| n.nic).collect(),
                    node_zones.clone(),
                    config.zones.clone(),
                    link.clone(),
                    shards,
                    initial_shards,
                    nodes.iter().map(|n| n.shard).collect(),
                    shard_slots.clone(),
                    end,
                )
            }),
            neighbours: super::neighbours::Neighbours::build(
                &config.hosts,
                &config
                    .hosts
                    .iter()
                    .map(|h| nodes[h.node as usize].nic)
                    .collect::<Vec<_>>(),
                (
                    server.baseline_bits_per_s,
                    server
                        .burst_bits_per_s
                        .unwrap_or(server.baseline_bits_per_s),
                ),
                &streams,
            ),
            resharding: super::reshard::Resharding::build(
                config.resharding.steps.clone(),
                initial_shards,
                replicas,
                nodes.iter().map(|n| n.name.clone()).collect(),
                client_nics[0],
                config.zones.client_zones.first().copied().unwrap_or(0),
                nodes.iter().map(|n| n.nic).collect(),
                node_zones,
                config.zones.clone(),
                link.clone(),
            ),
            nodes: Nodes {
                nodes,
                uses_expiry: w.expiry_range_s.is_some(),
            },
            sampler: Sampler {
                node_nics,
                end,
                measure_from: SimTime::from_ns(config.warmup_ns),
                at_window_start: Vec::new(),
                keys_at_window_start: Vec::new(),
            },
            #[cfg(test)]
            probe,
            client_nics,
            net,
            flows,
            deliveries: Vec::new(),
            end,
            #[cfg(test)]
            replies_seen: Vec::new(),
        };
        world.engine.value_fill = config.clients.workload.value_fill();
        if config.cluster.engine == crate::scenario::spec::Engine::Redis {
            world.engine.redis_io = Some(config.cluster.node.io_threads_do_reads);
        }
        if thread_per_core {
            let tpc = super::engine::ThreadPerCore::new(
                world.nodes.nodes.len(),
                world.engine.conns.len(),
                end,
            );
            if world.engine.cost.kernel_per_request_ns > 0 {
                tpc.start(sched);
            }
            world.engine.tpc = Some(tpc);
        }
        world.clients.start(sched);
        world.nodes.start(sched);
        world.replication.start(sched);
        if let Some(bus) = &mut world.bus {
            bus.start(sched);
            let n = world.nodes.nodes.len();
            world.engine.bus_work = vec![Default::default(); n];
            let peers = n.saturating_sub(1);
            // The bus opens a flow per ordered pair of nodes, nearly all of them within
            // the first half node timeout (each node pings every other by then): room
            // for them now spares regrowing tables of up to a million flows.
            let per_nic: Vec<_> = world
                .nodes
                .nodes
                .iter()
                .map(|node| (node.nic, peers, peers))
                .collect();
            world.net.reserve_flows(n * peers, &per_nic);
        }
        for (node, cores) in world.neighbours.node_cores() {
            world.engine.cpus[node as usize].share_cores(cores);
        }
        world.neighbours.start(sched);
        world.resharding.start(sched);
        world.sampler.start(sched);
        #[cfg(test)]
        if let Some(p) = &world.probe {
            p.start(sched);
        }
        Ok(world)
    }
}
