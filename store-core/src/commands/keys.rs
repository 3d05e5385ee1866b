//! Generic key commands (db.c, expire.c): deletion, existence, type, rename, expiry,
//! DBSIZE, FLUSHDB, RANDOMKEY, SCAN and KEYS. Invariant: expiry arithmetic is done in
//! i64 milliseconds with Redis's overflow checks, and a key whose new expiry is not in
//! the future is deleted at once (checkAlreadyExpired), except through SET, which Redis
//! 7.0 lets store an already-past expiry until the key is next looked up.

use super::{bytes, int_arg, is, lookup_read, lookup_write, text, Ctx, SYNTAX};
use crate::blob::{Arg, Blob};
use crate::db::Found;
use crate::glob::glob_match;
use crate::reply::Reply;

/// # Format
/// `DEL key [key ...]`
pub(crate) fn del(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let mut deleted = 0;
    for key in &argv[1..] {
        if ctx.db.delete_key(&bytes(key), ctx.now_ms) {
            deleted += 1;
        }
    }
    ctx.db.dirty += deleted as u64;
    Reply::Integer(deleted)
}

/// # Format
/// `UNLINK key [key ...]`
pub(crate) fn unlink(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    del(ctx, argv)
}

/// # Format
/// `EXISTS key [key ...]`
pub(crate) fn exists(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let mut count = 0;
    for key in &argv[1..] {
        if ctx.db.find(&bytes(key), ctx.now_ms).is_some() {
            count += 1;
        }
    }
    Reply::Integer(count)
}

/// # Format
/// `TYPE key`
pub(crate) fn type_(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    match ctx.db.find(&bytes(&argv[1]), ctx.now_ms) {
        Some(found) => Reply::simple(ctx.db.value_of(found).type_name()),
        None => Reply::simple("none"),
    }
}

fn rename_generic(ctx: &mut Ctx<'_>, argv: &[Arg<'_>], nx: bool) -> Reply {
    let from = bytes(&argv[1]);
    let to = bytes(&argv[2]);
    let Some(pos) = lookup_write(ctx, &from) else {
        return Reply::error("ERR no such key");
    };
    if from == to {
        return if nx { Reply::Integer(0) } else { Reply::Ok };
    }
    let expire = ctx.db.keyspace.entry(pos).expire_at();
    let lru = ctx.db.keyspace.entry(pos).lru;
    if let Some(target) = lookup_write(ctx, &to) {
        if nx {
            return Reply::Integer(0);
        }
        ctx.db.delete_at(target);
    }
    // Positions move on removal: find the source again.
    let Some(pos) = ctx.db.keyspace.find(&from) else {
        return Reply::error("ERR no such key");
    };
    let entry = ctx.db.delete_at(pos);
    let new_pos = ctx.db.add(&to, entry.value, ctx.now_ms);
    ctx.db.keyspace.entry_mut(new_pos).lru = lru;
    if let Some(at) = expire {
        ctx.db.set_expire(new_pos, at);
    }
    ctx.db.dirty += 1;
    if nx {
        Reply::Integer(1)
    } else {
        Reply::Ok
    }
}

/// # Format
/// `RENAME key newkey`
pub(crate) fn rename(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    rename_generic(ctx, argv, false)
}

/// # Format
/// `RENAMENX key newkey`
pub(crate) fn renamenx(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    rename_generic(ctx, argv, true)
}

/// expireGenericCommand: `base_ms` is now for relative forms, 0 for absolute ones.
fn expire_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Arg<'_>],
    base_ms: i64,
    seconds: bool,
    command: &str,
) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &argv[3..] {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return Reply::error(format!("ERR Unsupported option {}", text(opt)));
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return Reply::error("ERR GT and LT options at the same time are not compatible");
    }
    let mut when = match int_arg(&argv[2]) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let invalid = || Reply::error(format!("ERR invalid expire time in '{command}' command"));
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return invalid();
        }
        when *= 1000;
    }
    if when > i64::MAX - base_ms {
        return invalid();
    }
    when += base_ms;
    let key = bytes(&argv[1]);
    let Some(pos) = lookup_write(ctx, &key) else {
        return Reply::Integer(0);
    };
    let current = ctx.db.keyspace.entry(pos).expire_at().map(|t| t as i64);
    if nx && current.is_some() {
        return Reply::Integer(0);
    }
    if xx && current.is_none() {
        return Reply::Integer(0);
    }
    if gt && current.is_none_or(|c| when <= c) {
        return Reply::Integer(0);
    }
    if lt && current.is_some_and(|c| when >= c) {
        return Reply::Integer(0);
    }
    ctx.db.dirty += 1;
    // checkAlreadyExpired: a replica never deletes on its own.
    if when <= ctx.now_ms as i64 && !ctx.db.replica {
        ctx.db.delete_at(pos);
        ctx.db
            .propagate_as(|| vec![Blob::from_slice(b"DEL"), argv[1].to_blob()]);
    } else {
        ctx.db.set_expire(pos, when.max(0) as u64);
        // Propagated as PEXPIREAT <ms>, the options kept; a PEXPIREAT as sent.
        if base_ms != 0 || seconds {
            ctx.db.propagate_as(|| {
                let mut cmd: Vec<Blob> = argv.iter().map(Arg::to_blob).collect();
                cmd[0] = Blob::from_slice(b"PEXPIREAT");
                cmd[2] = Blob::from_slice(when.to_string().as_bytes());
                cmd
            });
        }
    }
    Reply::Integer(1)
}

/// # Format
/// `EXPIRE key seconds [NX | XX | GT | LT]`
pub(crate) fn expire(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let now = ctx.now_ms as i64;
    expire_generic(ctx, argv, now, true, "expire")
}

/// # Format
/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
pub(crate) fn pexpire(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let now = ctx.now_ms as i64;
    expire_generic(ctx, argv, now, false, "pexpire")
}

/// # Format
/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`
pub(crate) fn expireat(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    expire_generic(ctx, argv, 0, true, "expireat")
}

/// # Format
/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`
pub(crate) fn pexpireat(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    expire_generic(ctx, argv, 0, false, "pexpireat")
}

/// ttlGenericCommand: -2 missing, -1 no expiry, else remaining (or absolute) time,
/// seconds rounded half up.
fn ttl_generic(ctx: &mut Ctx<'_>, argv: &[Arg<'_>], in_ms: bool, absolute: bool) -> Reply {
    let key = bytes(&argv[1]);
    let Some(found) = lookup_read(ctx, &key) else {
        return Reply::Integer(-2);
    };
    let expire = match found {
        Found::Stored(pos) => ctx.db.keyspace.entry(pos).expire_at(),
        Found::Prefilled { .. } => None,
    };
    let Some(at) = expire else {
        return Reply::Integer(-1);
    };
    let at = at as i64;
    let ttl = if absolute {
        at
    } else {
        (at - ctx.now_ms as i64).max(0)
    };
    Reply::Integer(if in_ms { ttl } else { (ttl + 500) / 1000 })
}

/// # Format
/// `TTL key`
pub(crate) fn ttl(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    ttl_generic(ctx, argv, false, false)
}

/// # Format
/// `PTTL key`
pub(crate) fn pttl(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    ttl_generic(ctx, argv, true, false)
}

/// # Format
/// `EXPIRETIME key`
pub(crate) fn expiretime(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    ttl_generic(ctx, argv, false, true)
}

/// # Format
/// `PEXPIRETIME key`
pub(crate) fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    ttl_generic(ctx, argv, true, true)
}

/// # Format
/// `PERSIST key`
pub(crate) fn persist(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    match lookup_write(ctx, &key) {
        Some(pos) => {
            let removed = ctx.db.persist(pos);
            ctx.db.dirty += u64::from(removed);
            Reply::Integer(i64::from(removed))
        }
        None => Reply::Integer(0),
    }
}

/// # Format
/// `DBSIZE`
pub(crate) fn dbsize(ctx: &mut Ctx<'_>, _argv: &[Arg<'_>]) -> Reply {
    Reply::Integer(ctx.db.dbsize() as i64)
}

fn flush_generic(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    if argv.len() > 2 || (argv.len() == 2 && !is(&argv[1], "sync") && !is(&argv[1], "async")) {
        return Reply::error(SYNTAX);
    }
    ctx.db.flush();
    // forceCommandPropagation: a flush propagates even when there was nothing to flush.
    ctx.db.dirty += 1;
    Reply::Ok
}

/// # Format
/// `FLUSHDB [ASYNC | SYNC]`
pub(crate) fn flushdb(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    flush_generic(ctx, argv)
}

/// # Format
/// `FLUSHALL [ASYNC | SYNC]`
pub(crate) fn flushall(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    flush_generic(ctx, argv)
}

/// # Format
/// `RANDOMKEY`
pub(crate) fn randomkey(ctx: &mut Ctx<'_>, _argv: &[Arg<'_>]) -> Reply {
    // Bounded like dbRandomKey: an expired pick is deleted and another drawn.
    for _ in 0..100 {
        let Some(key) = crate::evict::random_key(ctx.db, ctx.rng) else {
            return Reply::Null;
        };
        if ctx.db.find(&key, ctx.now_ms).is_some() {
            return Reply::Bulk(crate::blob::Blob::Bytes(key.into()));
        }
    }
    Reply::Null
}

/// Bits of a SCAN cursor that hold the position within a segment (the keyspace is
/// segment 0, prefilled range r is segment r + 1).
const SCAN_SEGMENT_SHIFT: u32 = 40;

/// parseScanCursorOrReply: `strtoul` base 10 over the whole string, no leading space;
/// a leading '-' negates modulo 2^64 as strtoul does ("-1" is the largest cursor).
fn parse_cursor(text: &[u8]) -> Option<u64> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// # Format
/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
///
/// The cursor is a position: stored keys by table slot, then each prefilled range by
/// offset; like Redis it collects up to COUNT keys, visiting at most 10 x COUNT
/// positions. A key present for the whole
/// iteration is returned unless the table grew, or a deletion shifted it back past the
/// cursor, meanwhile; Redis's reverse-binary cursor does not have that gap.
pub(crate) fn scan(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let cursor_text = bytes(&argv[1]);
    let Some(cursor) = parse_cursor(&cursor_text) else {
        return Reply::error("ERR invalid cursor");
    };
    let mut count: i64 = 10;
    let mut pattern: Option<Vec<u8>> = None;
    let mut type_filter: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < argv.len() {
        let has_value = argv.len() - i >= 2;
        if is(&argv[i], "count") && has_value {
            count = match int_arg(&argv[i + 1]) {
                Ok(c) => c,
                Err(e) => return e,
            };
            if count < 1 {
                return Reply::error(SYNTAX);
            }
        } else if is(&argv[i], "match") && has_value {
            pattern = Some(bytes(&argv[i + 1]).into_owned());
        } else if is(&argv[i], "type") && has_value {
            type_filter = Some(bytes(&argv[i + 1]).into_owned());
        } else {
            return Reply::error(SYNTAX);
        }
        i += 2;
    }
    let mut segment = (cursor >> SCAN_SEGMENT_SHIFT) as usize;
    let mut position = cursor & ((1 << SCAN_SEGMENT_SHIFT) - 1);
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    // As scanGenericCommand: stop once COUNT keys are collected or after visiting ten
    // times COUNT positions.
    let mut budget = (count as u64).saturating_mul(10);
    while budget > 0 && (candidates.len() as u64) < count as u64 {
        if segment == 0 {
            if position >= ctx.db.keyspace.slot_count() as u64 {
                segment = 1;
                position = 0;
                continue;
            }
            if let Some(e) = ctx.db.keyspace.entry_at(position as usize) {
                candidates.push(e.key.as_bytes().to_vec());
            }
        } else {
            let Some(range) = ctx.db.prefilled.get(segment - 1) else {
                break;
            };
            if position >= range.spec.count {
                segment += 1;
                position = 0;
                continue;
            }
            if !range.is_overridden(position) {
                candidates.push(range.key_of(range.spec.first_index + position));
            }
        }
        position += 1;
        budget -= 1;
    }
    let done = segment > ctx.db.prefilled.len();
    let next_cursor = if done {
        0
    } else {
        ((segment as u64) << SCAN_SEGMENT_SHIFT) | position
    };
    let mut keys = Vec::new();
    for key in candidates {
        if let Some(p) = &pattern {
            if !glob_match(p, &key) {
                continue;
            }
        }
        let Some(found) = ctx.db.find(&key, ctx.now_ms) else {
            continue; // expired: deleted by the lookup, as scanGenericCommand does
        };
        if let Some(t) = &type_filter {
            if !ctx
                .db
                .value_of(found)
                .type_name()
                .as_bytes()
                .eq_ignore_ascii_case(t)
            {
                continue;
            }
        }
        keys.push(Reply::Bulk(crate::blob::Blob::Bytes(key.into())));
    }
    Reply::Array(vec![
        Reply::bulk(next_cursor.to_string().as_bytes()),
        Reply::Array(keys),
    ])
}

/// # Format
/// `KEYS pattern`
pub(crate) fn keys(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let pattern = bytes(&argv[1]);
    let all = pattern.as_ref() == b"*";
    let now = ctx.now_ms;
    let mut out = Vec::new();
    for entry in ctx.db.keyspace.iter() {
        let key = entry.key.as_bytes();
        if entry.expire_at().is_some_and(|at| now > at) {
            continue;
        }
        if all || glob_match(&pattern, key) {
            out.push(Reply::bulk(key));
        }
    }
    for range in &ctx.db.prefilled {
        for offset in 0..range.spec.count {
            if range.is_overridden(offset) {
                continue;
            }
            let key = range.key_of(range.spec.first_index + offset);
            if all || glob_match(&pattern, &key) {
                out.push(Reply::Bulk(crate::blob::Blob::Bytes(key.into())));
            }
        }
    }
    Reply::Array(out)
}
