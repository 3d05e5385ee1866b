//! A thread-per-core store: the keyspace split into `n` [`Db`] shards, each owned by one
//! thread, as Dragonfly splits it (its `docs/df-share-nothing.md`). A key belongs to the
//! shard Dragonfly's `Shard()` gives it: XXH64 of the key (of its hash tag, on a cluster
//! node) with seed 120577240643, modulo the shard count. [`ShardedDb::execute`] answers
//! a command as one store would:
//!
//! - a command whose keys all live on one shard (every single-key command) runs there;
//! - MGET, MSET, DEL, UNLINK, EXISTS and TOUCH over several shards run as one sub-command
//!   per shard, their replies merged in argument order (Dragonfly's multi-shard
//!   transactions of those commands, in their VLL hops);
//! - any other command over keys on several shards runs on the first key's shard, the
//!   other keys moved there for it (DUMP, then RESTORE with their TTL) and moved home
//!   after, so its reply is the one store's;
//! - commands over the whole keyspace (DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL, FLUSHDB,
//!   SWAPDB, CONFIG SET) visit every shard; SCAN's cursor carries the shard in its low
//!   8 bits;
//! - MULTI queues and EXEC runs the queued commands through this same routing.
//!
//! `maxmemory` is split evenly over the shards, as Dragonfly budgets memory per shard.
//! The callers are single-threaded, so every command is atomic across shards: no
//! reader ever sees half of an MSET (a property test checks it).
//!
//! Not modelled over more than one shard, and refused with an error reply rather than
//! answered wrongly: WATCH (its dirty-key tracking is per shard), INFO (its counters are
//! per shard), and the replication and cluster-migration commands.
//!
//! Invariant: every key lives in exactly one shard, the one [`ShardedDb::shard_of`]
//! names; with one shard the store is exactly a [`Db`].

use crate::blob::{Arg, Blob};
use crate::commands::{bytes, command_keys, find_command};
use crate::config::{Config, Session};
use crate::db::{Db, Stats};
use crate::reply::Reply;
use rand_core::RngCore;
use xxhash_rust::xxh64::xxh64;

/// Dragonfly's seed for the XXH64 that picks a key's shard (`src/server/engine_shard.cc`).
pub const SHARD_HASH_SEED: u64 = 120_577_240_643;

/// At most this many shards: SCAN's cursor keeps the shard in 8 bits.
pub const MAX_SHARDS: usize = 256;

/// The thread shard of `key` among `shards` (Dragonfly's `Shard()`); with
/// `hash_tags` (a cluster node), a key's `{tag}` alone decides, so keys of one slot
/// share a shard.
pub fn shard_of_key(key: &[u8], shards: usize, hash_tags: bool) -> usize {
    if shards <= 1 {
        return 0;
    }
    let hashed = if hash_tags {
        crate::slots::hash_tag(key)
    } else {
        key
    };
    (xxh64(hashed, SHARD_HASH_SEED) % shards as u64) as usize
}

/// Commands that run over several shards as one sub-command per shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Split {
    /// MGET: an array, each element in its key's place.
    Mget,
    /// MSET: OK.
    Mset,
    /// DEL, UNLINK, EXISTS, TOUCH: the sum of the counts.
    Count,
}

/// The store of a thread-per-core node.
#[derive(Clone)]
pub struct ShardedDb {
    shards: Vec<Db>,
    hash_tags: bool,
    /// The whole store's maxmemory (each shard holds its share), as CONFIG GET says it.
    maxmemory_bytes: u64,
}

impl ShardedDb {
    /// A store of `shards` (1 to [`MAX_SHARDS`]) shards, `config`'s maxmemory split
    /// evenly over them.
    pub fn new(config: Config, shards: usize) -> ShardedDb {
        assert!(
            (1..=MAX_SHARDS).contains(&shards),
            "1 to {MAX_SHARDS} shards, got {shards}"
        );
        let hash_tags = config.cluster_enabled;
        let per_shard = per_shard_config(&config, shards);
        ShardedDb {
            shards: (0..shards).map(|_| Db::new(per_shard.clone())).collect(),
            hash_tags,
            maxmemory_bytes: config.maxmemory_bytes,
        }
    }

    /// One shard: exactly `db`.
    pub fn single(db: Db) -> ShardedDb {
        ShardedDb {
            hash_tags: db.config().cluster_enabled,
            maxmemory_bytes: db.config().maxmemory_bytes,
            shards: vec![db],
        }
    }

    /// Places keys by their hash tag (a cluster node's shards, so that the keys of one
    /// slot share a shard) or by the whole key.
    pub fn set_hash_tags(&mut self, on: bool) {
        self.hash_tags = on;
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The shard key `key` lives on.
    #[inline]
    pub fn shard_of(&self, key: &[u8]) -> usize {
        shard_of_key(key, self.shards.len(), self.hash_tags)
    }

    pub fn shards(&self) -> &[Db] {
        &self.shards
    }

    pub fn shards_mut(&mut self) -> &mut [Db] {
        &mut self.shards
    }

    /// The only shard of a one-shard store: what the mechanisms modelled for one store
    /// (replication, the cluster bus, resharding) work on. Panics with more shards, which
    /// scenario validation refuses for them.
    pub fn only(&self) -> &Db {
        assert_eq!(self.shards.len(), 1, "a one-shard store");
        &self.shards[0]
    }

    pub fn only_mut(&mut self) -> &mut Db {
        assert_eq!(self.shards.len(), 1, "a one-shard store");
        &mut self.shards[0]
    }

    /// Tells every shard how many clients the server has connected (INFO's
    /// `connected_clients`).
    pub fn set_connected_clients(&mut self, clients: u64) {
        for db in &mut self.shards {
            db.set_connected_clients(clients);
        }
    }

    /// Keys in all shards.
    pub fn dbsize(&self) -> u64 {
        self.shards.iter().map(Db::dbsize).sum()
    }

    /// Memory used by all shards (each counts its own baseline, as each Dragonfly shard
    /// keeps its own tables).
    pub fn used_memory(&self) -> u64 {
        self.shards.iter().map(Db::used_memory).sum()
    }

    /// The shards' statistics, summed.
    pub fn stats(&self) -> Stats {
        let mut sum = Stats::default();
        for s in self.shards.iter().map(Db::stats) {
            sum.add(s);
        }
        sum
    }

    /// The digest of the union of the shards' keys: equal to one `Db`'s holding the
    /// same keys, however they are spread.
    pub fn state_digest(&self) -> u64 {
        let dbs: Vec<&Db> = self.shards.iter().collect();
        Db::union_state_digest(&dbs)
    }

    /// Each shard's active expire cycle (each Dragonfly thread runs its own).
    pub fn active_expire_cycle<R: RngCore + ?Sized>(&mut self, now_ms: u64, rng: &mut R) {
        for db in &mut self.shards {
            db.active_expire_cycle(now_ms, rng);
        }
    }

    /// Sets a slot's state on every shard (a control plane's slot table is the node's).
    pub fn set_slot_state(&mut self, slot: u16, state: crate::SlotState) {
        for db in &mut self.shards {
            db.set_slot_state(slot, state);
        }
    }

    pub fn slot_state(&self, slot: u16) -> Option<crate::SlotState> {
        self.shards[0].slot_state(slot)
    }

    /// The cache lines a lookup of `key` reads first, on its shard.
    pub fn lookup_lines(&self, key: &[u8]) -> Option<[*const u8; 2]> {
        self.shards[self.shard_of(key)].lookup_lines(key)
    }

    /// Executes one command on the shards it touches (see the module documentation).
    pub fn execute<R: RngCore + ?Sized>(
        &mut self,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        if self.shards.len() == 1 {
            return self.shards[0].execute(session, argv, now_ms, rng);
        }
        let Some(spec) = argv.first().and_then(|a| match a {
            Arg::Bytes(name) => find_command(name),
            Arg::Synthetic { .. } => None,
        }) else {
            // Unknown: shard 0 words the error as Redis does.
            return self.shards[0].execute(session, argv, now_ms, rng);
        };
        let argc = argv.len() as i32;
        if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
            // Shard 0 words the arity error (and fails a transaction being queued).
            return self.shards[0].execute(session, argv, now_ms, rng);
        }
        // Inside MULTI every command but EXEC and DISCARD is queued, once it passes the
        // checks shard 0 makes (arity, OOM against its share), as Redis queues it.
        if session.multi().is_some() {
            return match spec.name {
                "exec" => self.exec(session, now_ms, rng),
                _ => self.shards[0].execute(session, argv, now_ms, rng),
            };
        }
        match spec.name {
            "watch" | "sync" | "psync" | "replconf" | "migrate" | "restore-asking" | "wait" => {
                return Reply::error(format!(
                    "ERR {} is not modelled on a store of {} thread shards",
                    spec.name.to_ascii_uppercase(),
                    self.shards.len()
                ));
            }
            "dbsize" => {
                let reply = self.shards[0].execute(session, argv, now_ms, rng);
                return match reply {
                    Reply::Integer(_) => Reply::Integer(self.dbsize() as i64),
                    other => other,
                };
            }
            "flushall" | "flushdb" | "swapdb" | "config" | "select" => {
                return self.broadcast(session, argv, now_ms, rng);
            }
            "keys" => return self.keys(session, argv, now_ms, rng),
            "cluster" => return self.cluster(session, argv, now_ms, rng),
            "info" => {
                use crate::commands::server::{info_reply, InfoFigures};
                self.shards[0].stats.total_commands_processed += 1;
                let mut figures = InfoFigures::default();
                for db in &self.shards {
                    figures.add(&InfoFigures::of(db));
                }
                return info_reply(&self.shards[0], &figures, argv);
            }
            "scan" => return self.scan(session, argv, now_ms, rng),
            "randomkey" => return self.randomkey(session, argv, now_ms, rng),
            _ => {}
        }
        if spec.first_key == 0 {
            return self.shards[0].execute(session, argv, now_ms, rng);
        }
        let mut first: Option<usize> = None;
        let mut spans = false;
        for key in command_keys(spec, argv) {
            let s = self.shard_of(&bytes(key));
            match first {
                None => first = Some(s),
                Some(f) if f != s => spans = true,
                _ => {}
            }
        }
        let Some(home) = first else {
            return self.shards[0].execute(session, argv, now_ms, rng);
        };
        if !spans {
            return self.shards[home].execute(session, argv, now_ms, rng);
        }
        if self.hash_tags {
            // A cluster node refuses keys of several slots (CROSSSLOT) before anything
            // runs: the home shard words it. Keys of one slot may still sit on several
            // shards (a slot is CRC16's, a shard XXH64's of the same tag).
            let mut slots = command_keys(spec, argv).map(|k| crate::key_hash_slot(&bytes(k)));
            let first_slot = slots.next();
            if slots.any(|s| Some(s) != first_slot) {
                return self.shards[home].execute(session, argv, now_ms, rng);
            }
        }
        let split = match spec.name {
            "mget" => Some(Split::Mget),
            "mset" => Some(Split::Mset),
            "del" | "unlink" | "exists" | "touch" => Some(Split::Count),
            _ => None,
        };
        match split {
            Some(split) => self.split(
                split,
                spec.key_step.max(1) as usize,
                session,
                argv,
                now_ms,
                rng,
            ),
            None => self.gathered(home, spec, session, argv, now_ms, rng),
        }
    }

    /// Runs a command on every shard; shard 0's reply answers (they all agree).
    fn broadcast<R: RngCore + ?Sized>(
        &mut self,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        // CONFIG SET maxmemory sets each shard's share.
        let is_config = crate::commands::is(&argv[0], "config");
        if is_config && argv.len() >= 2 && crate::commands::is(&argv[1], "set") {
            // Shard 0 takes the whole setting, as one store would; then every shard
            // takes the settings with its share of maxmemory.
            let mut whole = self.shards[0].config().clone();
            whole.maxmemory_bytes = self.maxmemory_bytes;
            self.shards[0].set_config(whole);
            let reply = self.shards[0].execute(session, argv, now_ms, rng);
            let whole = self.shards[0].config().clone();
            self.maxmemory_bytes = whole.maxmemory_bytes;
            let per_shard = per_shard_config(&whole, self.shards.len());
            for db in &mut self.shards {
                db.set_config(per_shard.clone());
            }
            return reply;
        }
        if is_config {
            // CONFIG GET and the rest read the settings: shard 0's, with the whole
            // store's maxmemory.
            let mut whole = self.shards[0].config().clone();
            let per_shard = whole.clone();
            whole.maxmemory_bytes = self.maxmemory_bytes;
            self.shards[0].set_config(whole);
            let reply = self.shards[0].execute(session, argv, now_ms, rng);
            self.shards[0].set_config(per_shard);
            return reply;
        }
        let mut first = None;
        for db in &mut self.shards {
            let reply = db.execute(session, argv, now_ms, rng);
            first.get_or_insert(reply);
        }
        first.expect("at least one shard")
    }

    fn split<R: RngCore + ?Sized>(
        &mut self,
        split: Split,
        step: usize,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        let n = self.shards.len();
        // Each shard's sub-command, and where its keys sit in the original.
        let mut parts: Vec<(Vec<Arg<'_>>, Vec<usize>)> =
            (0..n).map(|_| (vec![argv[0]], Vec::new())).collect();
        let mut position = 0;
        let mut i = 1;
        while i < argv.len() {
            let s = self.shard_of(&bytes(&argv[i]));
            parts[s]
                .0
                .extend_from_slice(&argv[i..(i + step).min(argv.len())]);
            parts[s].1.push(position);
            position += 1;
            i += step;
        }
        let mut values: Vec<Reply> = vec![Reply::Null; position];
        let mut count = 0i64;
        for (s, (sub, places)) in parts.iter().enumerate() {
            if places.is_empty() {
                continue;
            }
            let reply = self.shards[s].execute(session, sub, now_ms, rng);
            match (split, reply) {
                (Split::Mget, Reply::Array(items)) => {
                    for (place, item) in places.iter().zip(items) {
                        values[*place] = item;
                    }
                }
                (Split::Count, Reply::Integer(c)) => count += c,
                (Split::Mset, Reply::Ok) => {}
                (_, other) => return other,
            }
        }
        match split {
            Split::Mget => Reply::Array(values),
            Split::Count => Reply::Integer(count),
            Split::Mset => Reply::Ok,
        }
    }

    /// Runs a command over keys of several shards on `home`, the other keys moved
    /// there for it and moved back after, each to the shard it belongs to.
    fn gathered<R: RngCore + ?Sized>(
        &mut self,
        home: usize,
        spec: &crate::commands::CommandSpec,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        let keys: Vec<Vec<u8>> = command_keys(spec, argv)
            .map(|k| bytes(k).into_owned())
            .collect();
        for key in &keys {
            let s = self.shard_of(key);
            if s != home {
                self.move_key(key, s, home, now_ms, rng);
            }
        }
        let reply = self.shards[home].execute(session, argv, now_ms, rng);
        for key in &keys {
            let s = self.shard_of(key);
            if s != home {
                self.move_key(key, home, s, now_ms, rng);
            }
        }
        reply
    }

    /// Moves `key`, with its value and remaining TTL, from shard `from` to shard `to`.
    fn move_key<R: RngCore + ?Sized>(
        &mut self,
        key: &[u8],
        from: usize,
        to: usize,
        now_ms: u64,
        rng: &mut R,
    ) {
        let mut internal = Session::new(0);
        let dump = self.shards[from].execute(
            &mut internal,
            &[Arg::Bytes(b"DUMP"), Arg::Bytes(key)],
            now_ms,
            rng,
        );
        let Reply::Bulk(payload) = dump else {
            return; // absent
        };
        let ttl = self.shards[from].execute(
            &mut internal,
            &[Arg::Bytes(b"PTTL"), Arg::Bytes(key)],
            now_ms,
            rng,
        );
        let ttl_ms = match ttl {
            Reply::Integer(t) if t > 0 => t,
            _ => 0,
        };
        self.shards[from].execute(
            &mut internal,
            &[Arg::Bytes(b"DEL"), Arg::Bytes(key)],
            now_ms,
            rng,
        );
        let payload = payload.to_vec();
        let ttl_text = ttl_ms.to_string();
        self.shards[to].execute(
            &mut internal,
            &[
                Arg::Bytes(b"RESTORE"),
                Arg::Bytes(key),
                Arg::Bytes(ttl_text.as_bytes()),
                Arg::Bytes(&payload),
                Arg::Bytes(b"REPLACE"),
            ],
            now_ms,
            rng,
        );
    }

    fn exec<R: RngCore + ?Sized>(
        &mut self,
        session: &mut Session,
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        let state = session.take_multi().expect("inside MULTI");
        if state.dirty_exec {
            return Reply::error("EXECABORT Transaction discarded because of previous errors.");
        }
        let mut replies = Vec::with_capacity(state.queued.len());
        for command in &state.queued {
            let argv: Vec<Arg<'_>> = command.iter().map(blob_arg).collect();
            replies.push(self.execute(session, &argv, now_ms, rng));
        }
        Reply::Array(replies)
    }

    fn keys<R: RngCore + ?Sized>(
        &mut self,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        match self.gather(session, argv, now_ms, rng) {
            Ok(all) => Reply::Array(all),
            Err(error) => error,
        }
    }

    /// Runs a command that answers an array on every shard, and concatenates the
    /// arrays in shard order; the first other reply (an error) is returned instead.
    fn gather<R: RngCore + ?Sized>(
        &mut self,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Reply>, Reply> {
        let mut all = Vec::new();
        for db in &mut self.shards {
            match db.execute(session, argv, now_ms, rng) {
                Reply::Array(items) => all.extend(items),
                other => return Err(other),
            }
        }
        Ok(all)
    }

    /// CLUSTER: the slot table is every shard's, so changes to it go to all; the keys
    /// of a slot are spread over the shards, so COUNTKEYSINSLOT sums and GETKEYSINSLOT
    /// gathers them.
    fn cluster<R: RngCore + ?Sized>(
        &mut self,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        let sub = bytes(&argv[1]).to_ascii_lowercase();
        match sub.as_slice() {
            b"countkeysinslot" => {
                let mut total = 0;
                for db in &mut self.shards {
                    match db.execute(session, argv, now_ms, rng) {
                        Reply::Integer(n) => total += n,
                        other => return other,
                    }
                }
                Reply::Integer(total)
            }
            b"getkeysinslot" => {
                let limit = argv
                    .get(3)
                    .and_then(|a| std::str::from_utf8(&bytes(a)).ok()?.parse::<usize>().ok())
                    .unwrap_or(0);
                match self.gather(session, argv, now_ms, rng) {
                    Ok(mut keys) => {
                        keys.truncate(limit);
                        Reply::Array(keys)
                    }
                    Err(error) => error,
                }
            }
            b"addslots" | b"addslotsrange" | b"delslots" | b"delslotsrange" | b"setslot"
            | b"flushslots" | b"forget" | b"meet" | b"replicate" | b"reset" | b"bumpepoch"
            | b"set-config-epoch" => self.broadcast(session, argv, now_ms, rng),
            _ => self.shards[0].execute(session, argv, now_ms, rng),
        }
    }

    /// SCAN over the shards in turn: the cursor is the shard's own cursor shifted left
    /// by 8 bits, with the shard in the low 8. A call that finishes a shard with fewer
    /// than COUNT keys goes on to the next, so a small keyspace is returned in one call,
    /// as Redis returns it.
    fn scan<R: RngCore + ?Sized>(
        &mut self,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        let text = bytes(&argv[1]);
        let Some(cursor) = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
        else {
            return self.shards[0].execute(session, argv, now_ms, rng); // Redis's error
        };
        let mut shard = (cursor & 0xff) as usize;
        if shard >= self.shards.len() {
            return Reply::error("ERR invalid cursor");
        }
        let count = argv
            .windows(2)
            .skip(2)
            .find(|w| crate::commands::is(&w[0], "count"))
            .and_then(|w| {
                std::str::from_utf8(&bytes(&w[1]))
                    .ok()?
                    .parse::<usize>()
                    .ok()
            })
            .unwrap_or(10);
        let mut inner = cursor >> 8;
        let mut items = Vec::new();
        loop {
            let inner_text = inner.to_string();
            let mut sub: Vec<Arg<'_>> = argv.to_vec();
            sub[1] = Arg::Bytes(inner_text.as_bytes());
            let reply = self.shards[shard].execute(session, &sub, now_ms, rng);
            let Reply::Array(mut parts) = reply else {
                return reply;
            };
            let next_inner = match parts.first() {
                Some(Reply::Bulk(b)) => std::str::from_utf8(&b.to_vec())
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok())
                    .unwrap_or(0),
                _ => 0,
            };
            if let Some(Reply::Array(found)) = parts.pop() {
                items.extend(found);
            }
            if next_inner != 0 {
                let next = (next_inner << 8) | shard as u64;
                return scan_reply(next, items);
            }
            shard += 1;
            if shard == self.shards.len() {
                return scan_reply(0, items);
            }
            inner = 0;
            if items.len() >= count {
                return scan_reply(shard as u64, items);
            }
        }
    }

    /// A random key: a shard drawn with weight its key count, then a key of it.
    fn randomkey<R: RngCore + ?Sized>(
        &mut self,
        session: &mut Session,
        argv: &[Arg<'_>],
        now_ms: u64,
        rng: &mut R,
    ) -> Reply {
        let total = self.dbsize();
        if total == 0 {
            return self.shards[0].execute(session, argv, now_ms, rng);
        }
        let mut pick = rng.next_u64() % total;
        for db in &mut self.shards {
            let n = db.dbsize();
            if pick < n {
                return db.execute(session, argv, now_ms, rng);
            }
            pick -= n;
        }
        Reply::Null
    }
}

fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::bulk(cursor.to_string().as_bytes()),
        Reply::Array(items),
    ])
}

fn blob_arg(blob: &Blob) -> Arg<'_> {
    match blob {
        Blob::Bytes(b) => Arg::Bytes(b),
        Blob::Synthetic { len, seed } => Arg::Synthetic {
            len: *len,
            seed: *seed,
        },
    }
}

/// `config` with maxmemory split evenly over `shards`.
fn per_shard_config(config: &Config, shards: usize) -> Config {
    let mut c = config.clone();
    if c.maxmemory_bytes > 0 {
        c.maxmemory_bytes = (c.maxmemory_bytes / shards as u64).max(1);
    }
    c
}
