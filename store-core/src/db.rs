//! The database: the keyspace, expiry, memory accounting, eviction, prefilled ranges and
//! cluster slots, behind one entry point, [`Db::execute`]. Every call that depends on
//! time takes `now_ms` (Unix milliseconds); every random choice draws from the caller's
//! RNG, so the same calls give the same replies and state in any process.
//!
//! Invariants: `dataset_bytes` equals the sum of `entry_bytes` over stored entries;
//! `prefilled_default_bytes` and `prefilled_live_keys` equal the sums of the ranges'
//! `default_bytes` and `live_defaults()`; a key is logically present iff it is stored (and not expired at the caller's `now`)
//! or it is an unoverridden member of a prefilled range; `dbsize()` counts both.

use crate::blob::{Arg, Blob};
use crate::commands::{self, Ctx};
use crate::config::{Config, Session};
use crate::evict::EvictionPool;
use crate::keyspace::{Entry, Keyspace};
use crate::mem;
use crate::multi::Watches;
use crate::prefill::{PrefillError, PrefillRange, Prefilled};
use crate::repl::{Command, Propagation};
use crate::reply::Reply;
use crate::slots::{NodeRef, SlotState, SlotTable};
use crate::value::Value;
use rand::RngCore;

/// Counters INFO stats reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub total_commands_processed: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub expired_stale_perc_x100: u64,
    pub active_expire_cycles: u64,
}

impl Stats {
    /// Adds another store's counters (a thread-per-core store's shards); the stale
    /// share of the last expire cycle is the larger of the two.
    pub fn add(&mut self, o: &Stats) {
        self.total_commands_processed += o.total_commands_processed;
        self.keyspace_hits += o.keyspace_hits;
        self.keyspace_misses += o.keyspace_misses;
        self.expired_keys += o.expired_keys;
        self.evicted_keys += o.evicted_keys;
        self.active_expire_cycles += o.active_expire_cycles;
        self.expired_stale_perc_x100 = self.expired_stale_perc_x100.max(o.expired_stale_perc_x100);
    }
}

/// What one active expire cycle did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireCycleStats {
    /// Keys with an expiry examined.
    pub keys_sampled: u64,
    /// Of those, keys found expired and deleted.
    pub keys_expired: u64,
    /// Sampling rounds of up to 20 keys each.
    pub rounds: u64,
    /// Whether the cycle stopped because it reached its work budget.
    pub budget_exhausted: bool,
}

/// Where a live key's state is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Stored at this position of the keyspace.
    Stored(usize),
    /// An untouched key of prefilled range `range` at `index`.
    Prefilled { range: usize, index: u64 },
}

/// A Redis-compatible database.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) config: Config,
    pub(crate) keyspace: Keyspace,
    pub(crate) prefilled: Vec<Prefilled>,
    /// Sum of `default_bytes` over `prefilled`, and of their keys still at their
    /// default: kept as totals because `used_memory` is checked before every command
    /// under maxmemory.
    pub(crate) prefilled_default_bytes: u64,
    pub(crate) prefilled_live_keys: u64,
    /// Sum of `entry_bytes` over stored entries.
    pub(crate) dataset_bytes: u64,
    pub(crate) stats: Stats,
    pub(crate) eviction_pool: EvictionPool,
    /// Position in `keyspace.expires` where the next active expire cycle resumes.
    pub(crate) expire_cursor: usize,
    /// INFO keyspace's avg_ttl: a moving average of the TTLs the active cycle samples.
    pub(crate) avg_ttl_ms: u64,
    pub(crate) slots: Option<Box<SlotTable>>,
    /// Clients connected to the server this store runs in (INFO's
    /// `connected_clients`): the store serves no sockets, so its caller says.
    pub(crate) connected_clients: u64,
    /// Redis's `server.dirty`: changes made to the dataset, bumped by write commands as
    /// Redis's do; a call that moves it propagates its command.
    pub(crate) dirty: u64,
    /// What propagation has collected, while it is on (`set_propagation`).
    pub(crate) propagation: Option<Box<Propagation>>,
    /// Acting as a replica: no active expiry, no eviction, expired keys read as missing
    /// but kept for the master's DEL, writes from normal clients refused.
    pub(crate) replica: bool,
    /// The command running comes from the master's stream (Redis's `current_client ==
    /// server.master`): keys are never expired for it.
    pub(crate) applying_master: bool,
    /// The session the master's stream runs in (its MULTI state), made on first use.
    pub(crate) master_session: Option<Box<Session>>,
    /// WATCHed keys, per session id.
    pub(crate) watches: Watches,
    /// CONFIG SET maxmemory asked for an eviction pass once the command is done (Redis's
    /// eviction timer, which runs before the event loop reads the next command).
    pub(crate) evict_after_command: bool,
    /// Sizes the DUMP payloads of migrated keys, its samples kept between batches.
    pub(crate) dump_sizer: crate::rdb::DumpSizerCache,
    /// Migrated synthetic letters and memtier data are sized from samples
    /// (`set_dump_sampling`).
    pub(crate) dump_sampling: bool,
}

/// Redis's LRU clock: seconds, 24 bits.
pub(crate) const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// LFU_INIT_VAL: a new key's logarithmic access counter.
pub(crate) const LFU_INIT_VAL: u32 = 5;

impl Db {
    pub fn new(config: Config) -> Db {
        let slots = config
            .cluster_enabled
            .then(|| Box::new(SlotTable::default()));
        Db {
            config,
            keyspace: Keyspace::default(),
            prefilled: Vec::new(),
            prefilled_default_bytes: 0,
            prefilled_live_keys: 0,
            dataset_bytes: 0,
            stats: Stats::default(),
            eviction_pool: EvictionPool::default(),
            expire_cursor: 0,
            avg_ttl_ms: 0,
            slots,
            connected_clients: 1,
            dirty: 0,
            propagation: None,
            replica: false,
            applying_master: false,
            master_session: None,
            watches: Watches::default(),
            evict_after_command: false,
            dump_sizer: crate::rdb::DumpSizerCache::default(),
            dump_sampling: false,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Tells the store how many clients its server has connected, for INFO's
    /// `connected_clients` (1, the asking client, until told otherwise).
    pub fn set_connected_clients(&mut self, clients: u64) {
        self.connected_clients = clients;
    }

    /// Replaces the settings (as CONFIG SET would, one at a time).
    pub fn set_config(&mut self, config: Config) {
        if config.cluster_enabled && self.slots.is_none() {
            self.slots = Some(Box::default());
        }
        self.config = config;
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Executes one command and returns its reply. `argv[0]` is the command name.
    /// `now_ms` is the current Unix time in milliseconds; random choices (eviction
    /// sampling, SPOP, RANDOMKEY, LFU counters) draw from `rng`.
    pub fn execute<R: RngCore + ?Sized>(
        &mut self,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        let mut rng = RngRef(rng);
        let mut ctx = Ctx {
            db: self,
            session,
            now_ms,
            rng: &mut rng,
        };
        commands::dispatch(&mut ctx, argv)
    }

    /// Turns propagation on or off. While on, every `execute`, active expire cycle and
    /// eviction records what Redis 7.0.15 would propagate to replicas and the AOF (see
    /// [`crate::repl`]); [`Db::drain_propagated`] takes it. Turning it off drops what was
    /// not drained.
    pub fn set_propagation(&mut self, on: bool) {
        if on {
            self.propagation.get_or_insert_with(Box::default);
        } else {
            self.propagation = None;
        }
    }

    /// Moves the propagated commands recorded so far to `out`, in order.
    pub fn drain_propagated(&mut self, out: &mut Vec<Command>) {
        if let Some(p) = self.propagation.as_deref_mut() {
            out.append(&mut p.ready);
        }
    }

    /// Makes this Db act as a replica (or a master again): no active expiry and no
    /// eviction (replica-ignore-maxmemory), keys past their expiry read as missing by
    /// normal clients but kept until the master's DEL, and write commands from normal
    /// clients refused with READONLY.
    pub fn set_replica(&mut self, on: bool) {
        self.replica = on;
    }

    pub fn is_replica(&self) -> bool {
        self.replica
    }

    /// Applies one command of the master's replication stream, as a replica's master
    /// client runs it: no reply, no cluster redirect, no OOM refusal, keys never
    /// expired for it, MULTI ... EXEC in the stream applied as one unit (the commands in
    /// between are queued in the master's session). With propagation on, the command is
    /// recorded as received, as a replica proxies its master's stream to its own
    /// replicas.
    pub fn apply_replicated<R: RngCore + ?Sized>(
        &mut self,
        cmd: &[Blob],
        now_ms: u64,
        rng: &mut R,
    ) {
        fn arg(blob: &Blob) -> Arg<'_> {
            match blob {
                Blob::Bytes(b) => Arg::Bytes(b),
                Blob::Synthetic { len, seed } => Arg::Synthetic {
                    len: *len,
                    seed: *seed,
                },
            }
        }
        // A replica applies every write of its master: the usual short command is
        // borrowed into an array on the stack, not a vector per command.
        let mut short = [Arg::Bytes(&[]); 8];
        let long: Vec<Arg<'_>>;
        let argv: &[Arg<'_>] = if cmd.len() <= short.len() {
            for (slot, blob) in short.iter_mut().zip(cmd) {
                *slot = arg(blob);
            }
            &short[..cmd.len()]
        } else {
            long = cmd.iter().map(arg).collect();
            &long
        };
        let mut session = self
            .master_session
            .take()
            .unwrap_or_else(|| Box::new(Session::new(u64::MAX)));
        let propagation = self.propagation.take();
        self.applying_master = true;
        let _ = self.execute(&mut session, argv, now_ms, rng);
        self.applying_master = false;
        self.propagation = propagation;
        self.master_session = Some(session);
        if let Some(p) = self.propagation.as_deref_mut() {
            p.ready.push(cmd.to_vec());
        }
    }

    /// Forgets a closed connection's WATCHed keys.
    pub fn forget_session(&mut self, client_id: u64) {
        self.watches.reset_client(client_id);
    }

    /// Runs one slow active expire cycle (Redis's `activeExpireCycle`): rounds of up to
    /// 20 keys with an expiry, taken from where the previous cycle stopped, deleting
    /// the expired ones, repeated while more than 10% of a round was expired, bounded by
    /// `Config::active_expire_keys_budget` keys. Deterministic: like Redis's slow cycle
    /// it walks a cursor and draws no random numbers; `rng` is taken so a future fast
    /// cycle or sampled variant does not change the signature.
    pub fn active_expire_cycle<R: RngCore + ?Sized>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
    ) -> ExpireCycleStats {
        if self.replica {
            // Replicas wait for their master's DELs.
            return ExpireCycleStats::default();
        }
        let stats = crate::expire::active_expire_cycle(self, now_ms, &mut RngRef(rng));
        // Active expiry propagates its DELs one by one, never wrapped.
        if let Some(p) = self.propagation.as_deref_mut() {
            p.flush(false);
        }
        stats
    }

    /// `used_memory` as INFO memory reports it: baseline + keys and values in their
    /// Redis encodings and jemalloc classes + the dict bucket arrays.
    #[inline]
    pub fn used_memory(&self) -> u64 {
        self.config.baseline_used_memory_bytes + self.dataset_used_memory()
    }

    /// `used_memory` minus the empty server's baseline.
    #[inline]
    pub fn dataset_used_memory(&self) -> u64 {
        self.dataset_bytes
            + self.prefilled_default_bytes
            + mem::dict_buckets_bytes(self.dbsize())
            + mem::dict_buckets_bytes(self.keyspace.expires.len() as u64)
    }

    /// The memory a lookup of `key` reads first, for a caller that knows a command's
    /// key ahead of running it and wants those lines in cache by then (the simulator
    /// prefetches them one job ahead). Reading the addresses changes nothing.
    #[inline]
    pub fn lookup_lines(&self, key: &[u8]) -> Option<[*const u8; 2]> {
        self.keyspace.lookup_lines(key)
    }

    /// Keys in the database, counting expired keys not yet reclaimed (as DBSIZE does)
    /// and untouched keys of prefilled ranges.
    #[inline]
    pub fn dbsize(&self) -> u64 {
        self.keyspace.len() as u64 + self.prefilled_live_keys
    }

    /// Keys that carry an expiry (INFO keyspace's `expires`), expired ones not yet
    /// reclaimed included.
    pub fn keys_with_expiry(&self) -> u64 {
        self.keyspace.expires.len() as u64
    }

    /// Adds a prefilled range of keys `prefix + decimal(index)`; see [`PrefillRange`].
    /// Keys of the range that already exist keep their stored state.
    pub fn prefill(&mut self, range: PrefillRange) -> Result<(), PrefillError> {
        crate::prefill::add_range(self, range, None::<fn(u64, u64) -> u64>)
    }

    /// Makes this Db a cluster node serving exactly `slots`; every other slot answers
    /// CLUSTERDOWN until [`Db::set_slot_state`] says who serves it.
    pub fn set_owned_slots(&mut self, slots: impl IntoIterator<Item = u16>) {
        let mut table = SlotTable::unassigned();
        for slot in slots {
            table.set(slot, SlotState::Owned);
        }
        self.config.cluster_enabled = true;
        self.slots = Some(Box::new(table));
    }

    /// Makes this Db node `me` of a converged cluster: node `NodeRef(i)` is at
    /// `addrs[i]`, slot s is served by node `owners[s]` (`u16::MAX`: by nobody), so a
    /// slot served elsewhere answers `MOVED slot addr`. Both tables are shared with every
    /// node given the same `Arc`s until this node's view changes (then copied), so a
    /// cluster of thousands of nodes holds one owner array. This node's address
    /// (`cluster_node_addr`) becomes `addrs[me]`.
    pub fn join_cluster(
        &mut self,
        addrs: std::sync::Arc<Vec<Box<str>>>,
        me: NodeRef,
        owners: std::sync::Arc<Vec<u16>>,
    ) {
        if let Some(addr) = addrs.get(usize::from(me.0)) {
            self.config.cluster_node_addr = addr.to_string();
        }
        self.config.cluster_enabled = true;
        self.slots = Some(Box::new(SlotTable::shared(addrs, me, owners)));
    }

    /// Serves the slots of cluster node `primary` as its replica (reads, as for clients
    /// that sent READONLY), describing them as `primary`'s in CLUSTER SLOTS; None: no
    /// longer a replica (a promotion then gives it slots with [`Db::set_slot_state`]).
    pub fn set_cluster_replica_of(&mut self, primary: Option<NodeRef>) {
        if let Some(table) = self.slots.as_deref_mut() {
            table.set_replica_of(primary);
        }
    }

    /// The reference of the cluster node at `addr` in this node's address table (added
    /// if new), for [`SlotState::Elsewhere`] and [`SlotState::Migrating`].
    pub fn cluster_node(&mut self, addr: &str) -> NodeRef {
        self.config.cluster_enabled = true;
        self.slots.get_or_insert_with(Box::default).node(addr)
    }

    /// The address of cluster node `node` in this node's address table.
    pub fn cluster_node_addr(&self, node: NodeRef) -> Option<&str> {
        let table = self.slots.as_deref()?;
        let addr = table.addr(node);
        (addr != "?").then_some(addr)
    }

    /// Sets what this node does with one slot (owned, migrating, importing, elsewhere).
    pub fn set_slot_state(&mut self, slot: u16, state: SlotState) {
        self.config.cluster_enabled = true;
        self.slots.get_or_insert_with(Box::default).set(slot, state);
    }

    /// What this node does with `slot`, when it is a cluster node.
    pub fn slot_state(&self, slot: u16) -> Option<SlotState> {
        self.slots.as_deref().map(|t| t.state(slot))
    }

    /// An order-independent digest of the logical state (keys, values, expiries, and
    /// prefilled ranges): equal states give equal digests whatever the insertion order.
    pub fn state_digest(&self) -> u64 {
        crate::digest::state_digest(self)
    }

    /// The [`Db::state_digest`] of the union of several Dbs' keys (cluster nodes hold
    /// disjoint keys): unchanged by moving a key, with its value and expiry, from one
    /// to another. `union_state_digest(&[db]) == db.state_digest()`.
    pub fn union_state_digest(dbs: &[&Db]) -> u64 {
        crate::digest::union_digest(dbs)
    }

    // ----- key access used by the command families -----

    /// LRU/LFU metadata for a key created now.
    pub(crate) fn new_lru(&self, now_ms: u64) -> u32 {
        if self.config.maxmemory_policy.is_lfu() {
            (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL
        } else {
            lru_clock(now_ms)
        }
    }

    /// Whether integers may share Redis's preallocated objects (costing no memory).
    pub(crate) fn shared_integers(&self) -> bool {
        self.config.maxmemory_bytes == 0 || !self.config.maxmemory_policy.needs_access_metadata()
    }

    /// Bytes Redis charges for a stored entry: dictEntry, key sds, value, expires entry.
    pub(crate) fn entry_bytes(entry: &Entry) -> u64 {
        let expire = if entry.expire_pos != crate::keyspace::NO_EXPIRE {
            mem::DICT_ENTRY_BYTES
        } else {
            0
        };
        mem::DICT_ENTRY_BYTES
            + mem::sds_bytes(entry.key.as_bytes().len() as u64)
            + entry.value.redis_bytes()
            + expire
    }

    /// Finds a live key: lazily deletes it when expired at `now_ms` (strictly past its
    /// expiry, as Redis's `keyIsExpired`), and falls back to prefilled ranges.
    #[inline]
    pub(crate) fn find(&mut self, key: &[u8], now_ms: u64) -> Option<Found> {
        if let Some(pos) = self.keyspace.find(key) {
            let entry = &self.keyspace.entry(pos);
            if entry.expire_pos != crate::keyspace::NO_EXPIRE && now_ms > entry.expire_at_ms {
                return self.expire_found(pos);
            }
            return Some(Found::Stored(pos));
        }
        if self.prefilled.is_empty() {
            return None;
        }
        crate::prefill::find_default(&self.prefilled, key)
            .map(|(range, index)| Found::Prefilled { range, index })
    }

    /// A key `find` found past its expiry (expireIfNeeded): a master deletes it and
    /// propagates its DEL; a replica keeps it for the master's DEL, reporting it missing
    /// to normal clients and present to the master's stream.
    #[cold]
    fn expire_found(&mut self, pos: usize) -> Option<Found> {
        if self.replica {
            return self.applying_master.then_some(Found::Stored(pos));
        }
        let entry = self.delete_at(pos);
        self.stats.expired_keys += 1;
        self.propagate_deletion(entry.key.as_bytes());
        None
    }

    /// Whether a stored key is past its expiry at `now_ms` as the running client sees it
    /// (never, for the master's stream on a replica).
    pub(crate) fn is_expired_entry(&self, entry: &Entry, now_ms: u64) -> bool {
        entry.expire_pos != crate::keyspace::NO_EXPIRE
            && now_ms > entry.expire_at_ms
            && !(self.replica && self.applying_master)
    }

    /// propagateDeletion: queues `DEL key` (lazyfree-lazy-expire and
    /// lazyfree-lazy-eviction are off by default, so DEL rather than UNLINK).
    pub(crate) fn propagate_deletion(&mut self, key: &[u8]) {
        if let Some(p) = self.propagation.as_deref_mut() {
            p.pending
                .push(vec![Blob::from_slice(b"DEL"), Blob::from_slice(key)]);
        }
    }

    /// rewriteClientCommandVector: the running command propagates as `cmd` instead of
    /// its own argv (if it made a change). `cmd` is built only when propagation is on.
    #[inline]
    pub(crate) fn propagate_as(&mut self, cmd: impl FnOnce() -> Command) {
        if let Some(p) = self.propagation.as_deref_mut() {
            p.rewrite = Some(cmd());
        }
    }

    /// alsoPropagate: queues an extra effect of the running command, before its own.
    #[inline]
    pub(crate) fn also_propagate(&mut self, cmd: impl FnOnce() -> Command) {
        if let Some(p) = self.propagation.as_deref_mut() {
            p.pending.push(cmd());
        }
    }

    /// preventCommandPropagation: the running command's own argv is not propagated.
    #[inline]
    pub(crate) fn prevent_propagation(&mut self) {
        if let Some(p) = self.propagation.as_deref_mut() {
            p.prevent = true;
        }
    }

    /// touchWatchedKey for a key just changed (call after the change).
    #[inline]
    pub(crate) fn touch_watched(&mut self, key: &[u8]) {
        if !self.watches.is_empty() {
            let stored = self.keyspace.find(key).is_some();
            self.watches.touch(key, stored);
        }
    }

    /// Finds a live key and makes sure it is stored (materializing a prefilled default),
    /// returning its position.
    pub(crate) fn find_stored(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        match self.find(key, now_ms)? {
            Found::Stored(pos) => Some(pos),
            Found::Prefilled { range, index } => Some(self.materialize(range, index, key)),
        }
    }

    /// Stores a prefilled range's default key, charging it as a stored entry.
    pub(crate) fn materialize(&mut self, range: usize, index: u64, key: &[u8]) -> usize {
        let value = self.prefilled[range].default_value(index);
        let lru = self.prefilled[range].lru;
        crate::prefill::override_default(self, range, index);
        let pos = self.keyspace.insert_new(key, value, lru);
        self.dataset_bytes += Self::entry_bytes(self.keyspace.entry(pos));
        pos
    }

    /// The value of a live key, read-only, or None. Prefilled keys yield their default.
    pub(crate) fn value_of(&self, found: Found) -> std::borrow::Cow<'_, Value> {
        match found {
            Found::Stored(pos) => std::borrow::Cow::Borrowed(&self.keyspace.entry(pos).value),
            Found::Prefilled { range, index } => {
                std::borrow::Cow::Owned(self.prefilled[range].default_value(index))
            }
        }
    }

    /// Marks a stored key as accessed (LRU clock or LFU counter), as `lookupKey` does.
    #[inline]
    pub(crate) fn touch(&mut self, pos: usize, now_ms: u64, rng: &mut dyn RngCore) {
        let policy = self.config.maxmemory_policy;
        let decay_min = self.config.lfu_decay_time_min;
        let log_factor = self.config.lfu_log_factor;
        let entry = self.keyspace.entry_mut(pos);
        if policy.is_lfu() {
            let counter = lfu_decr_and_return(entry.lru, now_ms, decay_min);
            let counter = lfu_log_incr(counter, log_factor, rng);
            entry.lru = (lfu_minutes(now_ms) << 8) | counter;
        } else {
            // Skip the store when the clock has not moved (1 s resolution): a clean line
            // needs no write-back.
            let clock = lru_clock(now_ms);
            if entry.lru != clock {
                entry.lru = clock;
            }
        }
    }

    /// Adds a new key (absent, checked by the caller); returns its position.
    pub(crate) fn add(&mut self, key: &[u8], value: Value, now_ms: u64) -> usize {
        let lru = self.new_lru(now_ms);
        let pos = self.keyspace.insert_new(key, value, lru);
        self.dataset_bytes += Self::entry_bytes(self.keyspace.entry(pos));
        if !self.prefilled.is_empty() {
            crate::prefill::mark_overridden(self, key);
        }
        self.touch_watched(key);
        pos
    }

    /// touchWatchedKey for the stored key at `pos`.
    #[inline]
    fn touch_watched_at(&mut self, pos: usize) {
        if !self.watches.is_empty() {
            let key = self.keyspace.entry(pos).key.as_bytes().to_vec();
            self.watches.touch(&key, true);
        }
    }

    /// Deletes the stored entry at `pos`.
    pub(crate) fn delete_at(&mut self, pos: usize) -> Entry {
        self.dataset_bytes -= Self::entry_bytes(self.keyspace.entry(pos));
        let entry = self.keyspace.remove_at(pos);
        self.touch_watched(entry.key.as_bytes());
        entry
    }

    /// Deletes a live key (stored or prefilled); returns whether it existed.
    pub(crate) fn delete_key(&mut self, key: &[u8], now_ms: u64) -> bool {
        match self.find(key, now_ms) {
            Some(Found::Stored(pos)) => {
                self.delete_at(pos);
                true
            }
            Some(Found::Prefilled { range, index }) => {
                crate::prefill::delete_default(self, range, index);
                self.touch_watched(key);
                true
            }
            None => false,
        }
    }

    /// Mutates the value at `pos`, keeping `dataset_bytes` in step.
    #[inline]
    pub(crate) fn update<T>(&mut self, pos: usize, f: impl FnOnce(&mut Value) -> T) -> T {
        let before = Self::entry_bytes(self.keyspace.entry(pos));
        let out = f(&mut self.keyspace.entry_mut(pos).value);
        let after = Self::entry_bytes(self.keyspace.entry(pos));
        self.dataset_bytes = self.dataset_bytes + after - before;
        // No touch of watched keys here: an update may change nothing (SADD of a
        // member present), and Redis signals only changes; `call` touches the key of a
        // command that changed the dataset.
        out
    }

    /// Replaces the value at `pos` (keeping expiry and access metadata). Only the value's
    /// own bytes change, so the charge moves by their difference.
    #[inline]
    pub(crate) fn replace_value(&mut self, pos: usize, value: Value) {
        let new_bytes = value.redis_bytes();
        let entry = self.keyspace.entry_mut(pos);
        let old_bytes = entry.value.redis_bytes();
        entry.value = value;
        self.dataset_bytes = self.dataset_bytes + new_bytes - old_bytes;
        self.touch_watched_at(pos);
    }

    /// Sets the expiry of the key at `pos`.
    pub(crate) fn set_expire(&mut self, pos: usize, at_ms: u64) {
        let before = Self::entry_bytes(self.keyspace.entry(pos));
        self.keyspace.set_expire(pos, at_ms);
        let after = Self::entry_bytes(self.keyspace.entry(pos));
        self.dataset_bytes = self.dataset_bytes + after - before;
        self.touch_watched_at(pos);
    }

    /// Removes the expiry of the key at `pos`; returns whether it had one.
    pub(crate) fn persist(&mut self, pos: usize) -> bool {
        let had = self.keyspace.clear_expire(pos);
        if had {
            self.dataset_bytes -= mem::DICT_ENTRY_BYTES;
            self.touch_watched_at(pos);
        }
        had
    }

    /// Removes every key (FLUSHDB/FLUSHALL), prefilled ranges included.
    pub(crate) fn flush(&mut self) {
        if !self.watches.is_empty() {
            // touchAllWatchedKeysInDb: a watched key that existed (expired or not) is
            // touched, before the keys go.
            let mut watches = std::mem::take(&mut self.watches);
            watches.touch_all_flushed(|key| {
                self.keyspace.find(key).is_some()
                    || crate::prefill::find_default(&self.prefilled, key).is_some()
            });
            self.watches = watches;
        }
        self.keyspace.clear();
        self.prefilled.clear();
        self.prefilled_default_bytes = 0;
        self.prefilled_live_keys = 0;
        self.dataset_bytes = 0;
        self.eviction_pool = EvictionPool::default();
        self.expire_cursor = 0;
        self.avg_ttl_ms = 0;
    }

    /// Frees memory per the policy until under `maxmemory`; false when it cannot
    /// (noeviction, or nothing left to evict), which makes write commands answer OOM.
    /// Checked before every command: the common case, under the limit, is one
    /// comparison of O(1) totals and no call.
    #[inline]
    pub(crate) fn perform_evictions(&mut self, now_ms: u64, rng: &mut dyn RngCore) -> bool {
        let limit = self.config.maxmemory_bytes;
        if limit == 0 || self.used_memory() <= limit || self.replica {
            return true;
        }
        let ok = crate::evict::perform_evictions(self, now_ms, rng);
        // The evictions' DELs go out on their own, unwrapped, before the command.
        if let Some(p) = self.propagation.as_deref_mut() {
            p.flush(false);
        }
        ok
    }

    /// Builds the reply value of a string for GET-like commands (synthetic stays synthetic).
    pub(crate) fn string_reply(value: &Value) -> Option<Reply> {
        match value {
            Value::Synthetic { len, seed } => Some(Reply::Bulk(Blob::Synthetic {
                len: *len,
                seed: *seed,
            })),
            other => other.string_blob().map(Reply::Bulk),
        }
    }
}

/// Redis's LRU_CLOCK at `now_ms` (1 s resolution, 24 bits).
pub(crate) fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) & u64::from(LRU_CLOCK_MAX)) as u32
}

/// LFUGetTimeInMinutes: minutes, 16 bits.
pub(crate) fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// LFUDecrAndReturn: the counter decayed by one per `decay_min` minutes idle.
pub(crate) fn lfu_decr_and_return(lru: u32, now_ms: u64, decay_min: u32) -> u32 {
    let last_minutes = lru >> 8;
    let counter = lru & 0xff;
    let now_minutes = lfu_minutes(now_ms);
    let elapsed = if now_minutes >= last_minutes {
        now_minutes - last_minutes
    } else {
        65_535 - last_minutes + now_minutes
    };
    let periods = elapsed.checked_div(decay_min).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// LFULogIncr: increments with probability 1 / ((counter - 5) * factor + 1).
pub(crate) fn lfu_log_incr(counter: u32, factor: u32, rng: &mut dyn RngCore) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let r = (rng.next_u32() as f64) / (u32::MAX as f64);
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * f64::from(factor) + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// Adapts a possibly unsized RNG to `&mut dyn RngCore`.
pub(crate) struct RngRef<'a, R: RngCore + ?Sized>(pub &'a mut R);

impl<R: RngCore + ?Sized> RngCore for RngRef<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
}
