//! Moving keys between cluster nodes as `redis-cli --cluster reshard` does with
//! `MIGRATE host port "" 0 timeout KEYS k1 .. kn` (cluster.c, `migrateCommand`), in three
//! steps the simulator times itself:
//!
//! 1. [`Db::migrate_out`] on the source: looks the keys up (expired ones deleted, as
//!    `lookupKeyRead` does), and takes for each key still there its name, its TTL as
//!    MIGRATE sends it, its DUMP payload length and its value as stored (a synthetic
//!    value stays synthetic: nothing is materialized). The source is blocked in MIGRATE
//!    from here to step 3 and must run nothing else meanwhile.
//! 2. [`Db::migrate_in`] on the target: one `RESTORE-ASKING key ttl payload` per key,
//!    as the target runs them (BUSYKEY for a key it already holds unless the batch says
//!    REPLACE; cluster redirection and OOM as for any command); each propagated as
//!    Redis propagates it (`RESTORE-ASKING key <absolute ms> payload ABSTTL`, or with
//!    TTL 0).
//! 3. [`Db::migrate_finish`] on the source, with the target's replies: deletes the keys
//!    the target acknowledged and propagates MIGRATE as `DEL` of those keys, wrapped in
//!    MULTI/EXEC with the lazy-expiry DELs of step 1 when there are several; returns
//!    MIGRATE's reply.
//!
//! The target's propagated RESTORE-ASKING carries the payload's real bytes (a replica
//! and an AOF need them), so a replica of the target applying it holds a migrated
//! synthetic string as real bytes of the same content: its `state_digest`, which counts
//! a synthetic value by its (length, seed), then differs from the target's.
//!
//! MIGRATE deletes keys only once the target has acknowledged them, so a key refused
//! (BUSYKEY) stays on the source; steps 1 and 3 keep that apart. The bytes on the wire
//! are [`MigrateBatch::request_bytes`] (source to target) and
//! [`MigrateReplies::reply_bytes`] (target to source).
//!
//! Invariant: after the three steps every key of the batch the target acknowledged is
//! on the target with the same value and the same absolute expiry (when both clocks
//! agree; the TTL travels relative, at least 1 ms), and on the source no more; every
//! other key is where it was. Migration moves keys: it never duplicates, loses or
//! changes one.

use crate::blob::Blob;
use crate::db::{Db, Found};
use crate::rdb::DumpSizer;
use crate::repl::{command, command_len, Command};
use crate::reply::Reply;
use crate::slots::{key_hash_slot, SlotState};
use crate::value::Value;
use rand::RngCore;
use std::borrow::Cow;

/// One key MIGRATE carries.
#[derive(Clone, Debug)]
pub struct MigratedKey {
    pub key: Box<[u8]>,
    /// The TTL MIGRATE sends, in ms: 0 for no expiry, else at least 1 (a key due to
    /// expire this very millisecond is sent with 1, as Redis rounds it).
    pub ttl_ms: u64,
    /// Bytes of the key's DUMP payload.
    pub payload_bytes: u64,
    /// The value as the source stored it.
    pub(crate) value: Value,
}

/// What one MIGRATE sends.
#[derive(Clone, Debug, Default)]
pub struct MigrateBatch {
    /// The keys found on the source, in the order asked.
    pub keys: Vec<MigratedKey>,
    /// MIGRATE's REPLACE option (`redis-cli --cluster reshard` sends it only with
    /// `--cluster-replace`): each RESTORE-ASKING carries REPLACE.
    pub replace: bool,
    /// The source's connection to the target is new (its first MIGRATE to that target,
    /// or the first after 10 s idle or an error): a `SELECT 0` goes first.
    pub select: bool,
}

/// The target's answer to one RESTORE-ASKING.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreReply {
    /// `+OK`.
    Ok,
    /// An error reply, its text without the leading `-`.
    Error(String),
}

/// The target's replies, in order: the SELECT's first when the batch sent one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrateReplies {
    pub select: Option<RestoreReply>,
    pub restores: Vec<RestoreReply>,
}

/// `+OK\r\n`.
const OK_REPLY_BYTES: u64 = 5;
/// `-BUSYKEY ...`: shared.busykeyerr.
pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";

/// Bytes of `n` in decimal.
fn decimal_len(n: u64) -> u64 {
    crate::prefill::decimal_digits(n)
}

/// Bytes of one bulk string of `len` bytes: `$len\r\n...\r\n`.
fn bulk_len(len: u64) -> u64 {
    1 + decimal_len(len) + 2 + len + 2
}

impl RestoreReply {
    fn bytes(&self) -> u64 {
        match self {
            RestoreReply::Ok => OK_REPLY_BYTES,
            RestoreReply::Error(text) => 1 + text.len() as u64 + 2,
        }
    }
}

impl MigrateReplies {
    /// Bytes the target sends back: `+OK\r\n` per RESTORE-ASKING (and per SELECT), or
    /// the error line.
    pub fn reply_bytes(&self) -> u64 {
        self.select
            .iter()
            .chain(&self.restores)
            .map(RestoreReply::bytes)
            .sum()
    }
}

impl MigratedKey {
    /// The RESTORE-ASKING command's RESP bytes: `*4` (or `*5` with REPLACE), the name,
    /// the key, the TTL in decimal, the payload.
    pub fn request_bytes(&self, replace: bool) -> u64 {
        let mut bytes = 4 + bulk_len(14) + bulk_len(self.key.len() as u64);
        bytes += bulk_len(decimal_len(self.ttl_ms)) + bulk_len(self.payload_bytes);
        if replace {
            bytes += bulk_len(7);
        }
        bytes
    }
}

impl MigrateBatch {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes the source writes to the target: `SELECT 0` when the connection is new,
    /// then every RESTORE-ASKING. An empty batch sends nothing (MIGRATE replies NOKEY
    /// before connecting).
    pub fn request_bytes(&self) -> u64 {
        if self.keys.is_empty() {
            return 0;
        }
        let select = if self.select {
            command_len(&command(&[b"SELECT", b"0"]))
        } else {
            0
        };
        select
            + self
                .keys
                .iter()
                .map(|k| k.request_bytes(self.replace))
                .sum::<u64>()
    }

    /// The RESTORE-ASKING commands as they cross the wire (materializing payloads: for
    /// tests and real sockets).
    pub fn restore_commands(&self) -> Vec<Command> {
        self.keys
            .iter()
            .map(|k| {
                let mut payload = Vec::new();
                crate::rdb::write_dump_payload(&k.value, &mut payload);
                let mut cmd = vec![
                    Blob::from_slice(b"RESTORE-ASKING"),
                    Blob::from_slice(&k.key),
                    Blob::from_slice(k.ttl_ms.to_string().as_bytes()),
                    Blob::Bytes(payload.into()),
                ];
                if self.replace {
                    cmd.push(Blob::from_slice(b"REPLACE"));
                }
                cmd
            })
            .collect()
    }
}

/// The RESP bytes of MIGRATE's own reply to its client: `+OK\r\n`, `+NOKEY\r\n`, or the
/// error `-ERR Target instance replied with error: ...\r\n`.
pub fn migrate_reply_bytes(reply: &Reply) -> u64 {
    match reply {
        Reply::Simple(text) => 1 + text.len() as u64 + 2,
        Reply::Error(text) => 1 + text.len() as u64 + 2,
        _ => OK_REPLY_BYTES,
    }
}

impl Db {
    /// A live key's value and absolute expiry, read without touching anything (no lazy
    /// deletion, no access time).
    fn peek(&self, key: &[u8], now_ms: u64) -> Option<(Cow<'_, Value>, Option<u64>)> {
        if let Some(pos) = self.keyspace.find(key) {
            let entry = self.keyspace.entry(pos);
            if self.is_expired_entry(entry, now_ms) {
                return None;
            }
            return Some((Cow::Borrowed(&entry.value), entry.expire_at()));
        }
        let (range, index) = crate::prefill::find_default(&self.prefilled, key)?;
        Some((Cow::Owned(self.prefilled[range].default_value(index)), None))
    }

    /// `DUMP key`'s payload, byte for byte as redis-server 7.0.15 makes it for the
    /// encodings the store models; `None` for a missing key. Materializes synthetic
    /// values (this is the bytes).
    pub fn dump(&self, key: &[u8], now_ms: u64) -> Option<Vec<u8>> {
        let (value, _) = self.peek(key, now_ms)?;
        let mut out = Vec::new();
        crate::rdb::write_dump_payload(&value, &mut out);
        Some(out)
    }

    /// The length of `DUMP key`'s payload without making it: synthetic strings of
    /// repeated or random bytes cost one measured sample, letters and memtier's random
    /// data one compression of their bytes (O(length), which LZF needs to know it).
    pub fn dump_len(&self, key: &[u8], now_ms: u64) -> Option<u64> {
        let (value, _) = self.peek(key, now_ms)?;
        Some(DumpSizer::new().payload_len(&value))
    }

    /// Sizes the payloads of migrated synthetic strings of letters or memtier's random
    /// data (longer than 11 bytes) from one compressed sample per (length, fill), kept
    /// across batches, as [`crate::rdb::rdb_len_sampled`] counts them: a few bytes off
    /// per value, for no compression per key (a simulator moving millions of prefilled
    /// keys). Off (the default), each is compressed and its length is exact. Repeated
    /// and random bytes are sampled either way (their length is exact from a sample).
    pub fn set_dump_sampling(&mut self, on: bool) {
        self.dump_sampling = on;
    }

    /// MIGRATE's first half on the source (see the module doc): looks each key up as
    /// `lookupKeyRead` does (an expired key is deleted and its DEL queued, a hit or
    /// miss counted) and returns the keys found, with what RESTORE-ASKING needs. Keys
    /// stay on the source until [`Db::migrate_finish`]. An empty batch is MIGRATE's
    /// NOKEY: call `migrate_finish` all the same (it replies NOKEY and propagates the
    /// lazy DELs). Cost: a lookup and a payload sizing per key (see
    /// [`Db::set_dump_sampling`]: exact sizing compresses each synthetic string of
    /// letters or memtier data, O(its length)), and a clone of each value (a synthetic
    /// value is a few bytes).
    pub fn migrate_out<K: AsRef<[u8]>>(&mut self, keys: &[K], now_ms: u64) -> MigrateBatch {
        self.stats.total_commands_processed += 1;
        let mut sizer = self.dump_sizer.take(self.dump_sampling);
        let mut batch = MigrateBatch::default();
        for key in keys {
            let key = key.as_ref();
            let Some(found) = self.find(key, now_ms) else {
                self.stats.keyspace_misses += 1;
                continue;
            };
            self.stats.keyspace_hits += 1;
            let expire_at = match found {
                Found::Stored(pos) => self.keyspace.entry(pos).expire_at(),
                Found::Prefilled { .. } => None,
            };
            let value = self.value_of(found).into_owned();
            // find() deleted a key past its expiry, so the TTL left is at least 0.
            let ttl_ms = expire_at.map_or(0, |at| at.saturating_sub(now_ms).max(1));
            batch.keys.push(MigratedKey {
                key: key.into(),
                ttl_ms,
                payload_bytes: sizer.payload_len(&value),
                value,
            });
        }
        self.dump_sizer.put_back(sizer);
        batch
    }

    /// MIGRATE's second half on the source, with the target's replies to `batch`:
    /// deletes the acknowledged keys, propagates `DEL` of them (after the lookups' lazy
    /// DELs, all wrapped in MULTI/EXEC when more than one), and returns MIGRATE's reply:
    /// `+NOKEY` for an empty batch, `+OK`, or the target's first error as
    /// `ERR Target instance replied with error: ...`.
    pub fn migrate_finish(&mut self, batch: &MigrateBatch, replies: &MigrateReplies) -> Reply {
        if batch.keys.is_empty() {
            self.flush_propagation();
            return Reply::simple("NOKEY");
        }
        let mut deleted: Command = vec![Blob::from_slice(b"DEL")];
        // A failed SELECT fails every key; otherwise each acknowledged key goes, even
        // after another key's error (migrateCommand checks each reply on its own).
        let select_failed = matches!(replies.select, Some(RestoreReply::Error(_)));
        let mut error = match &replies.select {
            Some(RestoreReply::Error(text)) => Some(text.clone()),
            _ => None,
        };
        for (key, reply) in batch.keys.iter().zip(&replies.restores) {
            match reply {
                RestoreReply::Error(text) => {
                    error.get_or_insert_with(|| text.clone());
                }
                RestoreReply::Ok if !select_failed => {
                    if let Some(pos) = self.keyspace.find(&key.key) {
                        self.delete_at(pos);
                    } else if let Some((range, index)) =
                        crate::prefill::find_default(&self.prefilled, &key.key)
                    {
                        crate::prefill::delete_default(self, range, index);
                        self.touch_watched(&key.key);
                    }
                    self.dirty += 1;
                    deleted.push(Blob::from_slice(&key.key));
                }
                RestoreReply::Ok => {}
            }
        }
        if deleted.len() > 1 {
            if let Some(p) = self.propagation.as_deref_mut() {
                p.pending.push(deleted);
            }
        }
        self.flush_propagation();
        match error {
            Some(text) => Reply::error(format!("ERR Target instance replied with error: {text}")),
            None => Reply::Ok,
        }
    }

    /// The effects of the running "command" go out, as `afterCommand` sends them.
    fn flush_propagation(&mut self) {
        if let Some(p) = self.propagation.as_deref_mut() {
            p.flush(true);
        }
    }

    /// The target's side of MIGRATE: runs each RESTORE-ASKING of `batch` as the target
    /// would (a command each: counted, checked against the slot table and maxmemory,
    /// BUSYKEY for a key present unless REPLACE, the key stored with its TTL added to
    /// `now_ms`, propagated as Redis rewrites it) and returns the replies. `rng` serves
    /// eviction. The value is stored as the source held it (synthetic stays synthetic);
    /// only a propagated command materializes its payload, when propagation is on.
    pub fn migrate_in<R: RngCore + ?Sized>(
        &mut self,
        batch: &MigrateBatch,
        now_ms: u64,
        rng: &mut R,
    ) -> MigrateReplies {
        let mut replies = MigrateReplies::default();
        if batch.keys.is_empty() {
            return replies;
        }
        if batch.select {
            self.stats.total_commands_processed += 1;
            replies.select = Some(RestoreReply::Ok);
        }
        let mut rng = crate::db::RngRef(rng);
        for key in &batch.keys {
            let reply = self.restore_asking(key, batch.replace, now_ms, &mut rng);
            self.flush_propagation();
            replies.restores.push(reply);
        }
        replies
    }

    fn restore_asking(
        &mut self,
        migrated: &MigratedKey,
        replace: bool,
        now_ms: u64,
        rng: &mut dyn RngCore,
    ) -> RestoreReply {
        self.stats.total_commands_processed += 1;
        let key = &*migrated.key;
        // getNodeByQuery: RESTORE-ASKING is served in an importing slot (CMD_ASKING).
        if let Some(table) = self.slots.as_deref() {
            let slot = key_hash_slot(key);
            match table.state(slot) {
                SlotState::Owned | SlotState::Migrating(_) | SlotState::Importing => {}
                SlotState::Elsewhere(node) => {
                    return RestoreReply::Error(format!("MOVED {slot} {}", table.addr(node)));
                }
                SlotState::Unassigned => {
                    return RestoreReply::Error("CLUSTERDOWN Hash slot not served".into());
                }
            }
        }
        if self.config.maxmemory_bytes > 0 && !self.replica && !self.perform_evictions(now_ms, rng)
        {
            return RestoreReply::Error(crate::commands::OOM.into());
        }
        if !replace && self.find(key, now_ms).is_some() {
            return RestoreReply::Error(BUSYKEY.into());
        }
        if replace {
            self.delete_key(key, now_ms);
        }
        let pos = self.add(key, migrated.value.clone(), now_ms);
        let expire_at_ms = (migrated.ttl_ms > 0).then(|| migrated.ttl_ms + now_ms);
        if let Some(at) = expire_at_ms {
            self.set_expire(pos, at);
        }
        self.dirty += 1;
        if let Some(p) = self.propagation.as_deref_mut() {
            // The TTL made absolute and ABSTTL appended, as restoreCommand rewrites it.
            let mut payload = Vec::new();
            crate::rdb::write_dump_payload(&migrated.value, &mut payload);
            let ttl = expire_at_ms.unwrap_or(0).to_string();
            let mut cmd = vec![
                Blob::from_slice(b"RESTORE-ASKING"),
                Blob::from_slice(key),
                Blob::from_slice(ttl.as_bytes()),
                Blob::Bytes(payload.into()),
            ];
            if replace {
                cmd.push(Blob::from_slice(b"REPLACE"));
            }
            if expire_at_ms.is_some() {
                cmd.push(Blob::from_slice(b"ABSTTL"));
            }
            p.pending.push(cmd);
        }
        RestoreReply::Ok
    }
}
