//! DUMP, RESTORE and RESTORE-ASKING (cluster.c): a value serialized as redis-server
//! 7.0.15 serializes it, and a key created from such a payload. Invariant: replies,
//! errors and their order of checks are restoreCommand's; a RESTORE that creates a key
//! propagates with its TTL made absolute (ABSTTL appended), one that only deleted a key
//! (REPLACE with a TTL already past) propagates as DEL.

use super::{bytes, is, lookup_read, Ctx, NOT_INTEGER, SYNTAX};
use crate::blob::{Arg, Blob};
use crate::db::{lfu_minutes, lru_clock, LRU_CLOCK_MAX};
use crate::reply::Reply;

/// # Format
/// `DUMP key`
pub(crate) fn dump(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let Some(found) = lookup_read(ctx, &key) else {
        return Reply::Null;
    };
    let mut payload = Vec::new();
    crate::rdb::write_dump_payload(&ctx.db.value_of(found), &mut payload);
    Reply::Bulk(Blob::Bytes(payload.into()))
}

/// # Format
/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`
/// (and RESTORE-ASKING, the same served in an importing slot)
pub(crate) fn restore(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let (mut replace, mut absttl) = (false, false);
    let (mut lfu_freq, mut lru_idle): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < argv.len() {
        let additional = argv.len() - j - 1;
        if is(&argv[j], "replace") {
            replace = true;
        } else if is(&argv[j], "absttl") {
            absttl = true;
        } else if is(&argv[j], "idletime") && additional >= 1 && lfu_freq.is_none() {
            let idle = match super::int_arg(&argv[j + 1]) {
                Ok(idle) => idle,
                Err(e) => return e,
            };
            if idle < 0 {
                return Reply::error("ERR Invalid IDLETIME value, must be >= 0");
            }
            lru_idle = Some(idle);
            j += 1;
        } else if is(&argv[j], "freq") && additional >= 1 && lru_idle.is_none() {
            let freq = match super::int_arg(&argv[j + 1]) {
                Ok(freq) => freq,
                Err(e) => return e,
            };
            if !(0..=255).contains(&freq) {
                return Reply::error("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            lfu_freq = Some(freq);
            j += 1;
        } else {
            return Reply::error(SYNTAX);
        }
        j += 1;
    }
    let key = bytes(&argv[1]);
    let now_ms = ctx.now_ms;
    if !replace && ctx.db.find(&key, now_ms).is_some() {
        return Reply::error(crate::migrate::BUSYKEY);
    }
    let Some(ttl) = crate::numbers::parse_i64(&bytes(&argv[2])) else {
        return Reply::error(NOT_INTEGER);
    };
    if ttl < 0 {
        return Reply::error("ERR Invalid TTL value, must be >= 0");
    }
    let payload = bytes(&argv[3]);
    if !crate::dump::verify(&payload) {
        return Reply::error("ERR DUMP payload version or checksum are wrong");
    }
    let Some(value) = crate::dump::load(&payload, ctx.db.shared_integers()) else {
        return Reply::error("ERR Bad data format");
    };
    let deleted = replace && ctx.db.delete_key(&key, now_ms);
    let expire_at_ms = match (ttl, absttl) {
        (0, _) => None,
        (ttl, true) => Some(ttl),
        (ttl, false) => Some(ttl.saturating_add(now_ms as i64)),
    };
    // checkAlreadyExpired: a replica keeps the key for its master's DEL.
    if expire_at_ms.is_some_and(|at| at <= now_ms as i64) && !ctx.db.is_replica() {
        if deleted {
            ctx.db
                .propagate_as(|| vec![Blob::from_slice(b"DEL"), Blob::from_slice(&key)]);
            ctx.db.dirty += 1;
        }
        return Reply::Ok;
    }
    let pos = ctx.db.add(&key, value, now_ms);
    if let Some(at) = expire_at_ms {
        ctx.db.set_expire(pos, at as u64);
        if !absttl {
            ctx.db.propagate_as(|| {
                let mut cmd: Vec<Blob> = argv.iter().map(Arg::to_blob).collect();
                cmd[2] = Blob::from_slice(at.to_string().as_bytes());
                cmd.push(Blob::from_slice(b"ABSTTL"));
                cmd
            });
        }
    }
    // objectSetLRUOrLFU: FREQ under an LFU policy, IDLETIME under any other.
    let lfu = ctx.db.config.maxmemory_policy.is_lfu();
    let lru = match (lfu, lfu_freq, lru_idle) {
        (true, Some(freq), _) => Some((lfu_minutes(now_ms) << 8) | freq as u32),
        (false, _, Some(idle)) => {
            let clock = i64::from(lru_clock(now_ms));
            let mut at = clock - idle;
            if at < 0 {
                at += i64::from(LRU_CLOCK_MAX);
            }
            // The object's lru field is 24 bits wide.
            Some(at as u32 & LRU_CLOCK_MAX)
        }
        _ => None,
    };
    if let Some(lru) = lru {
        ctx.db.keyspace.entry_mut(pos).lru = lru;
    }
    ctx.db.dirty += 1;
    Reply::Ok
}
