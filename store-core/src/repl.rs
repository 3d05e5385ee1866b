//! Replication, store side: what a Redis 7.0.15 master sends its replicas, and the
//! master's replication log. A `Db` with propagation on records, for every command it
//! executes (and every active-expire deletion and eviction), the effects Redis would
//! propagate: the command as rewritten by its handler (relative expiries made absolute,
//! SPOP as SREM, INCRBYFLOAT as SET ... KEEPTTL), the DEL of a key found expired while it
//! ran, wrapped in MULTI/EXEC when one execution propagates more than one effect
//! (an EXEC's effects together; not RANDOMKEY's or SCAN's lazy DELs, nor active
//! expiry's or evictions', which go out one by one); a command that changed nothing
//! (Redis's `server.dirty` unmoved) propagates nothing of its own.
//! [`Db::drain_propagated`](crate::Db::drain_propagated) hands them out in order.
//! [`ReplicationLog`] is the master's side of the link: replication ids, the master
//! offset, the backlog of commands and the PSYNC decision of replication.c.
//!
//! Invariant: a replica that applies, in order, the commands a master propagated since
//! a snapshot of it ends in the master's logical state (equal `state_digest`), and the
//! offsets here count the bytes of the RESP stream exactly as Redis counts them.
//! Synthetic values stay synthetic throughout: a command's length is computed, never
//! materialized, and only [`encode_command`] writes the bytes.

use crate::blob::Blob;
use rand::RngCore;
use std::collections::VecDeque;

/// One propagated command's argv, owned.
pub type Command = Vec<Blob>;

/// Bytes of a decimal `n` (no sign).
fn decimal_len(mut n: u64) -> u64 {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// The RESP multibulk byte length of `cmd` (`*N\r\n` then `$len\r\n<bytes>\r\n` per
/// argument), computed without materializing synthetic values.
pub fn command_len(cmd: &[Blob]) -> u64 {
    let mut total = 1 + decimal_len(cmd.len() as u64) + 2;
    for arg in cmd {
        let len = arg.len();
        total += 1 + decimal_len(len) + 2 + len + 2;
    }
    total
}

/// Appends the RESP multibulk encoding of `cmd` to `out` (materializing synthetic
/// values: this is the wire).
pub fn encode_command(cmd: &[Blob], out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(cmd.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in cmd {
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        arg.write_to(out);
        out.extend_from_slice(b"\r\n");
    }
}

/// An owned command from byte-string arguments.
pub fn command(args: &[&[u8]]) -> Command {
    args.iter().map(|a| Blob::from_slice(a)).collect()
}

/// `SELECT 0`: what a master emits first in a replication stream after a full resync
/// (its `slaveseldb` is reset to -1 then, so the next command is preceded by a SELECT).
pub fn select_db0() -> Command {
    command(&[b"SELECT", b"0"])
}

/// `PING`: what a master appends to its stream every repl-ping-replica-period (10 s by
/// default) while it has replicas, so they can tell a quiet master from a dead link.
pub fn ping() -> Command {
    command(&[b"PING"])
}

/// What propagation collects while a `Db` runs, present only while propagation is on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Propagation {
    /// Redis's `server.also_propagate`: the effects of the top-level call in progress.
    pub pending: Vec<Command>,
    /// Effects propagated, in order, waiting for `drain_propagated`.
    pub ready: Vec<Command>,
    /// The argv the running command asked to be propagated instead of its own
    /// (`rewriteClientCommandVector`).
    pub rewrite: Option<Command>,
    /// The running command asked not to be propagated itself (`preventCommandPropagation`).
    pub prevent: bool,
}

impl Propagation {
    /// `propagatePendingCommands`: moves the pending effects out, wrapped in MULTI/EXEC
    /// when there are several and `wrap` (false for active expiry and eviction, which
    /// set `propagate_no_multi`).
    pub fn flush(&mut self, wrap: bool) {
        if self.pending.is_empty() {
            return;
        }
        let transaction = wrap && self.pending.len() > 1;
        if transaction {
            self.ready.push(command(&[b"MULTI"]));
        }
        self.ready.append(&mut self.pending);
        if transaction {
            self.ready.push(command(&[b"EXEC"]));
        }
    }
}

/// The outcome of a PSYNC request (`masterTryPartialResynchronization`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Psync {
    /// `+CONTINUE`: resend the backlog from `from_offset` (the first byte the replica
    /// lacks, as it asked) through [`ReplicationLog::commands_from`].
    Continue { from_offset: u64 },
    /// `+FULLRESYNC <replid> <offset>`: send a snapshot taken at `offset`, then stream.
    FullResync { replid: String, offset: u64 },
}

/// Replication ids are 40 hex characters (CONFIG_RUN_ID_SIZE).
pub const REPLID_LEN: usize = 40;
/// repl-backlog-size's default: 1 MB.
pub const DEFAULT_BACKLOG_SIZE_BYTES: u64 = 1024 * 1024;

/// The master's replication state: ids, offset and backlog. A master creates it when its
/// first replica connects (Redis creates the backlog, and a fresh replication id, then;
/// before that the master offset does not advance).
///
/// Offsets are bytes of the RESP stream: `master_repl_offset` is the number of bytes
/// ever appended; the byte appended at offset `o` (1-based, as Redis numbers them) is
/// what a replica that processed `o - 1` bytes asks for with `PSYNC <id> <o>`.
///
/// The backlog keeps whole commands with their first byte's offset. Redis trims its
/// backlog in blocks of 16 KB or more, keeping the oldest block while dropping it would
/// leave no more than `repl-backlog-size` bytes; here the unit is a command, with the
/// same rule, so the history kept is at least `repl-backlog-size` bytes once that many
/// were written, and at most one command more.
#[derive(Clone, Debug)]
pub struct ReplicationLog {
    replid: String,
    replid2: String,
    second_replid_offset: i64,
    master_repl_offset: u64,
    backlog_size_bytes: u64,
    /// (offset of the command's first byte, its length, the command), oldest first.
    backlog: VecDeque<(u64, u64, Command)>,
    /// Bytes held in `backlog` (Redis's `histlen`).
    backlog_histlen_bytes: u64,
    /// The next append starts with `SELECT 0` (Redis's `slaveseldb == -1`).
    select_due: bool,
}

/// A replication id: 40 lowercase hex characters from `rng` (getRandomHexChars).
pub fn random_replid(rng: &mut dyn RngCore) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..REPLID_LEN)
        .map(|_| HEX[(rng.next_u32() & 15) as usize] as char)
        .collect()
}

impl ReplicationLog {
    /// A log with a fresh replication id from `rng`, no previous id, offset 0, and a
    /// backlog of `backlog_size_bytes` (repl-backlog-size).
    pub fn new(backlog_size_bytes: u64, rng: &mut dyn RngCore) -> ReplicationLog {
        ReplicationLog::with_offset(backlog_size_bytes, 0, rng)
    }

    /// As `new`, continuing from `master_repl_offset` (a master that had replicas
    /// before keeps its offset when it creates a new backlog).
    pub fn with_offset(
        backlog_size_bytes: u64,
        master_repl_offset: u64,
        rng: &mut dyn RngCore,
    ) -> ReplicationLog {
        ReplicationLog {
            replid: random_replid(rng),
            replid2: "0".repeat(REPLID_LEN),
            second_replid_offset: -1,
            master_repl_offset,
            backlog_size_bytes,
            backlog: VecDeque::new(),
            backlog_histlen_bytes: 0,
            select_due: true,
        }
    }

    pub fn replid(&self) -> &str {
        &self.replid
    }

    /// The previous replication id (all zeros when none).
    pub fn replid2(&self) -> &str {
        &self.replid2
    }

    /// The first offset the previous id is not valid for (-1 when there is none).
    pub fn second_replid_offset(&self) -> i64 {
        self.second_replid_offset
    }

    pub fn master_repl_offset(&self) -> u64 {
        self.master_repl_offset
    }

    pub fn backlog_size_bytes(&self) -> u64 {
        self.backlog_size_bytes
    }

    /// Changes repl-backlog-size (the backlog is trimmed at the next append).
    pub fn set_backlog_size_bytes(&mut self, bytes: u64) {
        self.backlog_size_bytes = bytes;
    }

    /// Offset of the oldest byte in the backlog (Redis's `repl_backlog->offset`).
    pub fn backlog_first_byte_offset(&self) -> u64 {
        self.master_repl_offset.saturating_add(1) - self.backlog_histlen_bytes
    }

    /// Bytes the backlog holds (Redis's `repl_backlog_histlen`).
    pub fn backlog_histlen_bytes(&self) -> u64 {
        self.backlog_histlen_bytes
    }

    /// Records that a full resync starts now: the next appended command is preceded by
    /// `SELECT 0`, as Redis resets `slaveseldb` to -1 for a replica's full sync.
    pub fn mark_full_resync(&mut self) {
        self.select_due = true;
    }

    /// Appends one propagated command (preceded by `SELECT 0` when one is due) and
    /// returns the new master offset.
    pub fn append(&mut self, cmd: Command) -> u64 {
        if self.select_due {
            self.select_due = false;
            self.push(select_db0());
        }
        self.push(cmd);
        self.master_repl_offset
    }

    fn push(&mut self, cmd: Command) {
        let len = command_len(&cmd);
        self.backlog
            .push_back((self.master_repl_offset.saturating_add(1), len, cmd));
        // Offsets are i64 in Redis: a stream never gets near 2^63 bytes; saturate
        // rather than wrap if a caller starts a log there.
        self.master_repl_offset = self.master_repl_offset.saturating_add(len);
        self.backlog_histlen_bytes = self.backlog_histlen_bytes.saturating_add(len);
        while let Some(&(_, first_len, _)) = self.backlog.front() {
            if self.backlog_histlen_bytes - first_len <= self.backlog_size_bytes {
                break;
            }
            self.backlog.pop_front();
            self.backlog_histlen_bytes -= first_len;
        }
    }

    /// The PSYNC decision, as `masterTryPartialResynchronization` makes it: continue when
    /// `replid` is this log's id, or its previous id and `offset` is within the previous
    /// id's history, and `offset` is within [oldest backlog byte, master offset + 1];
    /// otherwise a full resync (always for `PSYNC ? -1`).
    pub fn psync(&self, replid: &str, offset: i64) -> Psync {
        let full = Psync::FullResync {
            replid: self.replid.clone(),
            offset: self.master_repl_offset,
        };
        let same_id = replid.eq_ignore_ascii_case(&self.replid);
        let previous_id =
            replid.eq_ignore_ascii_case(&self.replid2) && offset <= self.second_replid_offset;
        if !same_id && !previous_id {
            return full;
        }
        let first = i64::try_from(self.backlog_first_byte_offset()).unwrap_or(i64::MAX);
        let end =
            first.saturating_add(i64::try_from(self.backlog_histlen_bytes).unwrap_or(i64::MAX));
        // Redis also refuses when it has no backlog; a log always has one.
        if offset < first || offset > end {
            return full;
        }
        Psync::Continue {
            from_offset: offset as u64,
        }
    }

    /// The backlog's commands from `offset` on, each with the offset of its first byte:
    /// the command containing byte `offset` first (its first `offset - start` bytes
    /// already sent, when a replica stopped inside it), then every later one.
    pub fn commands_from(&self, offset: u64) -> impl Iterator<Item = (u64, &Command)> + '_ {
        let start = self
            .backlog
            .partition_point(|(first, len, _)| first.saturating_add(*len) <= offset);
        self.backlog
            .range(start..)
            .map(|(first, _, cmd)| (*first, cmd))
    }

    /// Makes this log a promoted replica's: the current id becomes the previous one,
    /// valid up to the current offset + 1, and a new id is drawn from `rng`
    /// (`shiftReplicationId`).
    pub fn shift_replid(&mut self, rng: &mut dyn RngCore) {
        self.replid2 = self.replid.clone();
        self.second_replid_offset = i64::try_from(self.master_repl_offset)
            .unwrap_or(i64::MAX)
            .saturating_add(1);
        self.replid = random_replid(rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn command_len_matches_encoding() {
        let cmd = vec![
            Blob::from_slice(b"SET"),
            Blob::from_slice(b"k"),
            Blob::Synthetic {
                len: 12_345,
                seed: 3,
            },
        ];
        let mut out = Vec::new();
        encode_command(&cmd, &mut out);
        assert_eq!(out.len() as u64, command_len(&cmd));
        let mut select = Vec::new();
        encode_command(&select_db0(), &mut select);
        assert_eq!(select, b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n");
    }

    proptest::proptest! {
        /// For any backlog size and any sequence of commands appended, the master offset
        /// is the sum of their encoded lengths; the backlog keeps whole commands, at
        /// least `backlog_size_bytes` of them once that many were written and never more
        /// than that plus one command; the commands resent from the oldest byte add up
        /// to the backlog's length; and PSYNC with the log's id continues exactly for
        /// offsets from the oldest byte to one past the last.
        #[test]
        fn backlog_window_and_psync(
            backlog_size in 0u64..400,
            lens in proptest::collection::vec(0u64..120, 0..60),
            probe in -5i64..4_000,
        ) {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
            let mut log = ReplicationLog::new(backlog_size, &mut rng);
            log.mark_full_resync();
            let mut total = 0u64;
            let mut max_len = command_len(&select_db0());
            for (i, len) in lens.iter().enumerate() {
                let cmd = vec![
                    Blob::from_slice(b"SET"),
                    Blob::from_slice(i.to_string().as_bytes()),
                    Blob::Synthetic { len: *len, seed: i as u64 },
                ];
                max_len = max_len.max(command_len(&cmd));
                total += command_len(&cmd);
                if i == 0 {
                    total += command_len(&select_db0());
                }
                proptest::prop_assert_eq!(log.append(cmd), total);
            }
            let histlen = log.backlog_histlen_bytes();
            proptest::prop_assert!(histlen >= backlog_size.min(total));
            proptest::prop_assert!(histlen <= backlog_size + max_len);
            let first = log.backlog_first_byte_offset();
            let resent: u64 = log.commands_from(first).map(|(_, c)| command_len(c)).sum();
            proptest::prop_assert_eq!(resent, histlen);
            let continues = matches!(log.psync(log.replid(), probe), Psync::Continue { .. });
            let inside = probe >= first as i64 && probe <= total as i64 + 1;
            proptest::prop_assert_eq!(continues, inside);
        }
    }

    #[test]
    fn psync_decisions() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut log = ReplicationLog::new(100, &mut rng);
        assert_eq!(log.replid().len(), REPLID_LEN);
        let ping = command(&[b"PING"]);
        let ping_len = command_len(&ping);
        let mut end = 0;
        for _ in 0..20 {
            end = log.append(ping.clone());
        }
        assert_eq!(end, log.master_repl_offset());
        let id = log.replid().to_string();
        assert!(matches!(log.psync("?", -1), Psync::FullResync { .. }));
        assert_eq!(
            log.psync(&id, end as i64 + 1),
            Psync::Continue {
                from_offset: end + 1
            }
        );
        assert!(matches!(
            log.psync(&id, end as i64 + 2),
            Psync::FullResync { .. }
        ));
        assert!(matches!(log.psync(&id, 1), Psync::FullResync { .. }));
        // The backlog keeps more than its size, less one command.
        assert!(log.backlog_histlen_bytes() > 100);
        assert!(log.backlog_histlen_bytes() - ping_len <= 100);
        let first = log.backlog_first_byte_offset();
        assert_eq!(
            log.psync(&id, first as i64),
            Psync::Continue { from_offset: first }
        );
        let resent: u64 = log.commands_from(first).map(|(_, c)| command_len(c)).sum();
        assert_eq!(resent, log.backlog_histlen_bytes());
        log.shift_replid(&mut rng);
        assert_eq!(log.replid2(), id);
        assert_eq!(
            log.psync(&id, end as i64 + 1),
            Psync::Continue {
                from_offset: end + 1
            }
        );
        log.append(ping);
        assert!(matches!(
            log.psync(&id, end as i64 + 1 + ping_len as i64),
            Psync::FullResync { .. }
        ));
    }
}
