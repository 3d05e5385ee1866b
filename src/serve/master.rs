//! `kvsim serve` as a replication master: it answers a replica's handshake (`REPLCONF`,
//! `PSYNC`, `SYNC`) and streams what the store propagates, as redis-server 7.0.15 does,
//! so a real `redis-server --replicaof` can follow it. The replication log
//! (`store_core::repl::ReplicationLog`) is created when the first replica asks to sync,
//! as Redis creates its backlog then; from that moment the store records what it
//! propagates, and every command goes into the log, from which each replica's
//! connection takes what it has not been sent yet. A partial resync (`PSYNC <id>
//! <offset>` inside the backlog) resends from the log; a full resync sends a snapshot.
//!
//! The snapshot is the store's RDB (`store_core::rdb`, as redis-server 7.0.15 writes
//! it, with the replication id and offset in its AUX fields), sent in the disk-based
//! form (`$<len>\r\n<bytes>`), which every replica accepts.
//!
//! Invariants: a replica's connection is sent the log's bytes in order, without gaps
//! (one that falls behind the backlog is dropped, as an output-buffer limit would drop
//! it); every command the store propagated after the log exists is in the log, before
//! any later PSYNC is decided.

use rand_chacha::ChaCha8Rng;
use store_core::rdb::{write_rdb, RdbInfo};
use store_core::repl::{encode_command, ping, Psync, ReplicationLog, DEFAULT_BACKLOG_SIZE_BYTES};
use store_core::ShardedDb;

/// repl-ping-replica-period: a PING goes into the stream this often while replicas
/// are attached.
const PING_PERIOD_MS: u64 = 10_000;

/// What the master side of replication keeps.
pub struct Master {
    log: Option<ReplicationLog>,
    /// When the next PING goes into the stream.
    next_ping_ms: u64,
    /// Replica links attached.
    replicas: u64,
    /// Reused buffer for the store's propagated commands.
    drained: Vec<store_core::repl::Command>,
}

/// A connection that became a replica's link: the offset of the next byte to send it.
pub struct ReplicaLink {
    pub next_offset: u64,
}

impl Master {
    pub fn new() -> Master {
        Master {
            log: None,
            next_ping_ms: 0,
            replicas: 0,
            drained: Vec::new(),
        }
    }

    /// Moves what the store propagated into the log (nothing before the first sync).
    pub fn absorb(&mut self, db: &mut ShardedDb) {
        let Some(log) = self.log.as_mut() else {
            return;
        };
        db.only_mut().drain_propagated(&mut self.drained);
        for cmd in self.drained.drain(..) {
            log.append(cmd);
        }
    }

    /// The replicationCron's PING, due every PING_PERIOD_MS while replicas are attached.
    pub fn cron(&mut self, now_ms: u64) {
        let Some(log) = self.log.as_mut() else {
            return;
        };
        if self.replicas > 0 && now_ms >= self.next_ping_ms {
            log.append(ping());
            self.next_ping_ms = now_ms.saturating_add(PING_PERIOD_MS);
        }
    }

    /// Handles `PSYNC <replid> <offset>` (or `SYNC`, `psync: None`): appends the reply
    /// and, when the sync starts, the snapshot or the backlog to `output`, and returns
    /// the new replica link; `None` when it was refused (an error reply is appended).
    pub fn sync(
        &mut self,
        db: &mut ShardedDb,
        rng: &mut ChaCha8Rng,
        now_ms: u64,
        psync: Option<(&[u8], &[u8])>,
        output: &mut Vec<u8>,
    ) -> Option<ReplicaLink> {
        if db.shard_count() > 1 {
            output.extend_from_slice(
                b"-ERR replication from a store of several thread shards is not modelled\r\n",
            );
            return None;
        }
        if self.log.is_none() {
            // Redis creates the backlog, with a fresh replication id, for its first
            // replica; from now on the store's effects are kept.
            self.log = Some(ReplicationLog::new(DEFAULT_BACKLOG_SIZE_BYTES, rng));
            db.only_mut().set_propagation(true);
        }
        self.absorb(db);
        let log = self.log.as_mut()?;
        let decision = match psync {
            Some((replid, offset)) => {
                let replid = std::str::from_utf8(replid).unwrap_or("?");
                let offset = std::str::from_utf8(offset)
                    .ok()
                    .and_then(|o| o.parse::<i64>().ok())
                    .unwrap_or(-1);
                log.psync(replid, offset)
            }
            None => Psync::FullResync {
                replid: log.replid().to_string(),
                offset: log.master_repl_offset(),
            },
        };
        match decision {
            Psync::Continue { from_offset } => {
                output.extend_from_slice(format!("+CONTINUE {}\r\n", log.replid()).as_bytes());
                self.replicas += 1;
                Some(ReplicaLink {
                    next_offset: from_offset,
                })
            }
            Psync::FullResync { replid, offset } => {
                if psync.is_some() {
                    output
                        .extend_from_slice(format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes());
                }
                let mut rdb = Vec::new();
                let info = RdbInfo::replication(&replid, i64::try_from(offset).unwrap_or(i64::MAX));
                write_rdb(db.only(), now_ms, &info, &mut rdb);
                output.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
                output.extend_from_slice(&rdb);
                // The stream after a full resync starts with SELECT 0.
                log.mark_full_resync();
                self.replicas += 1;
                Some(ReplicaLink {
                    next_offset: offset + 1,
                })
            }
        }
    }

    /// Replica links attached (INFO's connected_clients leaves them out).
    pub fn replicas(&self) -> u64 {
        self.replicas
    }

    /// A replica's link closed.
    pub fn detach(&mut self) {
        self.replicas = self.replicas.saturating_sub(1);
    }

    /// Appends to `output` what the log holds from `link.next_offset` on, moving the link
    /// to the log's end. False when the link fell behind the backlog (drop it).
    pub fn feed(&self, link: &mut ReplicaLink, output: &mut Vec<u8>) -> bool {
        let Some(log) = self.log.as_ref() else {
            return true;
        };
        let end = log.master_repl_offset() + 1;
        if link.next_offset >= end {
            return true;
        }
        if link.next_offset < log.backlog_first_byte_offset() {
            return false;
        }
        let mut wire = Vec::new();
        for (start, cmd) in log.commands_from(link.next_offset) {
            wire.clear();
            encode_command(cmd, &mut wire);
            // A link that stopped inside a command has had its first bytes already.
            let skip = link.next_offset.saturating_sub(start) as usize;
            output.extend_from_slice(wire.get(skip..).unwrap_or_default());
        }
        link.next_offset = end;
        true
    }
}
