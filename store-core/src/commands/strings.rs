//! String commands (t_string.c): GET/SET and their variants, counters, ranges.
//! Invariant: a string written from a client's bytes is encoded as Redis's
//! `tryObjectEncoding` would (int, embstr, raw), and a synthetic value stays synthetic
//! until a command needs its bytes (APPEND, SETRANGE), which materializes it.

use super::{
    bytes, int_arg, is, lookup_read, lookup_write, value_at, Ctx, NOT_INTEGER, OVERFLOW, SYNTAX,
    WRONGTYPE,
};
use crate::blob::{Arg, Blob};
use crate::db::Db;
use crate::longdouble::LongDouble;
use crate::reply::Reply;
use crate::value::Value;

/// proto-max-bulk-len: strings may not grow beyond 512 MB.
const MAX_STRING_BYTES: u64 = 512 * 1024 * 1024;
const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// The value a SET-like command stores for `arg`.
pub(crate) fn value_from_arg(db: &Db, arg: &Arg<'_>) -> Value {
    match *arg {
        Arg::Bytes(b) => Value::string_from_bytes(b, db.shared_integers()),
        Arg::Synthetic { len, seed } => Value::Synthetic { len, seed },
    }
}

/// Reads a string key: Ok(None) when missing, Err(WRONGTYPE) for other types.
fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Reply>, Reply> {
    let Some(found) = lookup_read(ctx, key) else {
        return Ok(None);
    };
    let value = ctx.db.value_of(found);
    match Db::string_reply(&value) {
        Some(reply) => Ok(Some(reply)),
        None => Err(Reply::error(WRONGTYPE)),
    }
}

/// # Format
/// `GET key`
pub(crate) fn get(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    match read_string(ctx, &bytes(&argv[1])) {
        Ok(Some(reply)) => reply,
        Ok(None) => Reply::Null,
        Err(e) => e,
    }
}

/// Stores `value` at `key` as setKey does: overwrite keeps nothing but (with KEEPTTL)
/// the expiry. `existing` comes from `lookup_write`, which already stamped the access
/// (the new object's LRU clock is now; LFU keeps the bumped counter, as dbSetValue does).
fn set_key(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    existing: Option<usize>,
    value: Value,
    keep_ttl: bool,
) -> usize {
    match existing {
        Some(pos) => {
            ctx.db.replace_value(pos, value);
            if !keep_ttl {
                ctx.db.persist(pos);
            }
            pos
        }
        None => ctx.db.add(key, value, ctx.now_ms),
    }
}

/// Parses an expire argument: seconds or milliseconds, relative or absolute, into an
/// absolute Unix ms (getExpireMillisecondsOrReply).
fn expire_at_ms(
    ctx: &Ctx<'_>,
    arg: &Arg<'_>,
    unit_seconds: bool,
    absolute: bool,
    command: &str,
) -> Result<i64, Reply> {
    let mut ms = int_arg(arg)?;
    let invalid = || Reply::error(format!("ERR invalid expire time in '{command}' command"));
    if ms <= 0 || (unit_seconds && ms > i64::MAX / 1000) {
        return Err(invalid());
    }
    if unit_seconds {
        ms *= 1000;
    }
    if !absolute {
        let now = ctx.now_ms as i64;
        if ms > i64::MAX - now {
            return Err(invalid());
        }
        ms += now;
    }
    Ok(ms)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, usize)>,
}

/// parseExtendedStringArgumentsOrReply for SET (`is_set`) and GETEX.
fn parse_set_options(argv: &[Arg<'_>], start: usize, is_set: bool) -> Result<SetOptions, Reply> {
    let mut o = SetOptions {
        nx: false,
        xx: false,
        get: false,
        keep_ttl: false,
        persist: false,
        expire: None,
    };
    let mut j = start;
    while j < argv.len() {
        let opt = &argv[j];
        let has_next = j + 1 < argv.len();
        let unit = o.expire.map(|(u, _)| u);
        if is(opt, "nx") && !o.xx && is_set {
            o.nx = true;
        } else if is(opt, "xx") && !o.nx && is_set {
            o.xx = true;
        } else if is(opt, "get") && is_set {
            o.get = true;
        } else if is(opt, "keepttl") && !o.persist && o.expire.is_none() && is_set {
            o.keep_ttl = true;
        } else if is(opt, "persist") && !is_set && o.expire.is_none() && !o.keep_ttl {
            o.persist = true;
        } else if is(opt, "ex")
            && !o.keep_ttl
            && !o.persist
            && matches!(unit, None | Some(ExpireUnit::Ex))
            && has_next
        {
            o.expire = Some((ExpireUnit::Ex, j + 1));
            j += 1;
        } else if is(opt, "px")
            && !o.keep_ttl
            && !o.persist
            && matches!(unit, None | Some(ExpireUnit::Px))
            && has_next
        {
            o.expire = Some((ExpireUnit::Px, j + 1));
            j += 1;
        } else if is(opt, "exat")
            && !o.keep_ttl
            && !o.persist
            && matches!(unit, None | Some(ExpireUnit::ExAt))
            && has_next
        {
            o.expire = Some((ExpireUnit::ExAt, j + 1));
            j += 1;
        } else if is(opt, "pxat")
            && !o.keep_ttl
            && !o.persist
            && matches!(unit, None | Some(ExpireUnit::PxAt))
            && has_next
        {
            o.expire = Some((ExpireUnit::PxAt, j + 1));
            j += 1;
        } else {
            return Err(Reply::error(SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

fn resolve_expire(
    ctx: &Ctx<'_>,
    argv: &[Arg<'_>],
    expire: Option<(ExpireUnit, usize)>,
    command: &str,
) -> Result<Option<i64>, Reply> {
    match expire {
        None => Ok(None),
        Some((unit, at)) => {
            let (seconds, absolute) = match unit {
                ExpireUnit::Ex => (true, false),
                ExpireUnit::Px => (false, false),
                ExpireUnit::ExAt => (true, true),
                ExpireUnit::PxAt => (false, true),
            };
            expire_at_ms(ctx, &argv[at], seconds, absolute, command).map(Some)
        }
    }
}

/// # Format
/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]`
pub(crate) fn set(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    if argv.len() == 3 {
        // The simulator's hot path: plain SET.
        let value = value_from_arg(ctx.db, &argv[2]);
        let existing = lookup_write(ctx, &key);
        set_key(ctx, &key, existing, value, false);
        ctx.db.dirty += 1;
        return Reply::Ok;
    }
    let options = match parse_set_options(argv, 3, true) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let expire = match resolve_expire(ctx, argv, options.expire, "set") {
        Ok(e) => e,
        Err(e) => return e,
    };
    let mut get_reply = None;
    if options.get {
        match read_string(ctx, &key) {
            Ok(r) => get_reply = Some(r.unwrap_or(Reply::Null)),
            Err(e) => return e,
        }
    }
    let existing = lookup_write(ctx, &key);
    if (options.nx && existing.is_some()) || (options.xx && existing.is_none()) {
        return get_reply.unwrap_or(Reply::Null);
    }
    let value = value_from_arg(ctx.db, &argv[2]);
    let pos = set_key(ctx, &key, existing, value, options.keep_ttl);
    ctx.db.dirty += 1;
    if let Some(at) = expire {
        ctx.db.set_expire(pos, at as u64);
        // Propagated as SET key value PXAT <ms>, whatever the options.
        ctx.db.propagate_as(|| {
            vec![
                Blob::from_slice(b"SET"),
                argv[1].to_blob(),
                argv[2].to_blob(),
                Blob::from_slice(b"PXAT"),
                Blob::from_slice(at.to_string().as_bytes()),
            ]
        });
    } else if options.get {
        // Propagated without its GET arguments.
        ctx.db.propagate_as(|| {
            argv.iter()
                .enumerate()
                .filter(|(j, a)| *j < 3 || !is(a, "get"))
                .map(|(_, a)| a.to_blob())
                .collect()
        });
    }
    get_reply.unwrap_or(Reply::Ok)
}

/// # Format
/// `SETNX key value`
pub(crate) fn setnx(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    if lookup_write(ctx, &key).is_some() {
        return Reply::Integer(0);
    }
    let value = value_from_arg(ctx.db, &argv[2]);
    ctx.db.add(&key, value, ctx.now_ms);
    ctx.db.dirty += 1;
    Reply::Integer(1)
}

fn setex_generic(ctx: &mut Ctx<'_>, argv: &[Arg<'_>], seconds: bool, command: &str) -> Reply {
    let key = bytes(&argv[1]);
    let at = match expire_at_ms(ctx, &argv[2], seconds, false, command) {
        Ok(at) => at,
        Err(e) => return e,
    };
    let existing = lookup_write(ctx, &key);
    let value = value_from_arg(ctx.db, &argv[3]);
    let pos = set_key(ctx, &key, existing, value, false);
    ctx.db.dirty += 1;
    ctx.db.set_expire(pos, at as u64);
    // setGenericCommand propagates SETEX and PSETEX as SET key value PXAT <ms>.
    ctx.db.propagate_as(|| {
        vec![
            Blob::from_slice(b"SET"),
            argv[1].to_blob(),
            argv[3].to_blob(),
            Blob::from_slice(b"PXAT"),
            Blob::from_slice(at.to_string().as_bytes()),
        ]
    });
    Reply::Ok
}

/// # Format
/// `SETEX key seconds value`
pub(crate) fn setex(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    setex_generic(ctx, argv, true, "setex")
}

/// # Format
/// `PSETEX key milliseconds value`
pub(crate) fn psetex(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    setex_generic(ctx, argv, false, "psetex")
}

/// # Format
/// `GETSET key value`
pub(crate) fn getset(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let old = match read_string(ctx, &key) {
        Ok(r) => r.unwrap_or(Reply::Null),
        Err(e) => return e,
    };
    let existing = lookup_write(ctx, &key);
    let value = value_from_arg(ctx.db, &argv[2]);
    set_key(ctx, &key, existing, value, false);
    ctx.db.dirty += 1;
    // Propagated as SET.
    ctx.db.propagate_as(|| {
        let mut cmd: Vec<Blob> = argv.iter().map(Arg::to_blob).collect();
        cmd[0] = Blob::from_slice(b"SET");
        cmd
    });
    old
}

/// # Format
/// `GETDEL key`
pub(crate) fn getdel(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    match read_string(ctx, &key) {
        Ok(Some(reply)) => {
            if ctx.db.delete_key(&key, ctx.now_ms) {
                ctx.db.dirty += 1;
                ctx.db
                    .propagate_as(|| vec![Blob::from_slice(b"DEL"), argv[1].to_blob()]);
            }
            reply
        }
        Ok(None) => Reply::Null,
        Err(e) => e,
    }
}

/// # Format
/// `GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]`
pub(crate) fn getex(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let options = match parse_set_options(argv, 2, false) {
        Ok(o) => o,
        Err(e) => return e,
    };
    // getexCommand looks the key up before it validates the expire time.
    let reply = match read_string(ctx, &key) {
        Ok(Some(r)) => r,
        Ok(None) => return Reply::Null,
        Err(e) => return e,
    };
    let expire = match resolve_expire(ctx, argv, options.expire, "getex") {
        Ok(e) => e,
        Err(e) => return e,
    };
    if let Some(at) = expire {
        // checkAlreadyExpired: a replica never deletes on its own.
        if at <= ctx.now_ms as i64 && !ctx.db.replica {
            ctx.db.delete_key(&key, ctx.now_ms);
            ctx.db.dirty += 1;
            ctx.db
                .propagate_as(|| vec![Blob::from_slice(b"DEL"), argv[1].to_blob()]);
        } else if let Some(pos) = ctx.db.find_stored(&key, ctx.now_ms) {
            ctx.db.set_expire(pos, at as u64);
            ctx.db.dirty += 1;
            ctx.db.propagate_as(|| {
                vec![
                    Blob::from_slice(b"PEXPIREAT"),
                    argv[1].to_blob(),
                    Blob::from_slice(at.to_string().as_bytes()),
                ]
            });
        }
    } else if options.persist {
        if let Some(pos) = ctx.db.find_stored(&key, ctx.now_ms) {
            if ctx.db.persist(pos) {
                ctx.db.dirty += 1;
                ctx.db
                    .propagate_as(|| vec![Blob::from_slice(b"PERSIST"), argv[1].to_blob()]);
            }
        }
    } else {
        // A bare GETEX changes nothing and is not propagated.
    }
    reply
}

/// # Format
/// `MGET key [key ...]`
pub(crate) fn mget(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let mut out = Vec::with_capacity(argv.len() - 1);
    for arg in &argv[1..] {
        out.push(match read_string(ctx, &bytes(arg)) {
            Ok(Some(r)) => r,
            _ => Reply::Null,
        });
    }
    Reply::Array(out)
}

/// # Format
/// `MSET key value [key value ...]`
pub(crate) fn mset(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    if argv.len() % 2 == 0 {
        return super::arity_error("mset");
    }
    for pair in argv[1..].chunks(2) {
        let key = bytes(&pair[0]);
        let existing = lookup_write(ctx, &key);
        let value = value_from_arg(ctx.db, &pair[1]);
        set_key(ctx, &key, existing, value, false);
    }
    ctx.db.dirty += (argv.len() as u64 - 1) / 2;
    Reply::Ok
}

/// # Format
/// `MSETNX key value [key value ...]`
pub(crate) fn msetnx(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    if argv.len() % 2 == 0 {
        return super::arity_error("msetnx");
    }
    for pair in argv[1..].chunks(2) {
        if ctx.db.find(&bytes(&pair[0]), ctx.now_ms).is_some() {
            return Reply::Integer(0);
        }
    }
    for pair in argv[1..].chunks(2) {
        let key = bytes(&pair[0]);
        let existing = lookup_write(ctx, &key);
        let value = value_from_arg(ctx.db, &pair[1]);
        set_key(ctx, &key, existing, value, false);
    }
    ctx.db.dirty += (argv.len() as u64 - 1) / 2;
    Reply::Integer(1)
}

/// # Format
/// `APPEND key value`
pub(crate) fn append(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let addition = argv[2].to_blob();
    match lookup_write(ctx, &key) {
        None => {
            // A new key takes the argument as SET would (tryObjectEncoding).
            let value = value_from_arg(ctx.db, &argv[2]);
            let len = argv[2].len();
            ctx.db.add(&key, value, ctx.now_ms);
            ctx.db.dirty += 1;
            Reply::Integer(len as i64)
        }
        Some(pos) => {
            let Some(mut current) = value_at(ctx, pos).string_bytes() else {
                return Reply::error(WRONGTYPE);
            };
            if current.len() as u64 + addition.len() > MAX_STRING_BYTES {
                return Reply::error(STRING_TOO_LONG);
            }
            addition.write_to(&mut current);
            let len = current.len();
            ctx.db.replace_value(pos, Value::Bytes(current.into()));
            ctx.db.dirty += 1;
            Reply::Integer(len as i64)
        }
    }
}

/// # Format
/// `STRLEN key`
pub(crate) fn strlen(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let Some(found) = lookup_read(ctx, &bytes(&argv[1])) else {
        return Reply::Integer(0);
    };
    match ctx.db.value_of(found).string_len() {
        Some(len) => Reply::Integer(len as i64),
        None => Reply::error(WRONGTYPE),
    }
}

/// # Format
/// `GETRANGE key start end`
pub(crate) fn getrange(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let (mut start, mut end) = match (int_arg(&argv[2]), int_arg(&argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let Some(found) = lookup_read(ctx, &bytes(&argv[1])) else {
        return Reply::bulk(b"");
    };
    let value = ctx.db.value_of(found);
    let Some(len) = value.string_len() else {
        return Reply::error(WRONGTYPE);
    };
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return Reply::bulk(b"");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Reply::bulk(b"");
    }
    let (start, end) = (start as u64, end as u64);
    match &*value {
        Value::Synthetic { seed, .. } => Reply::Bulk(Blob::Bytes(
            (start..=end)
                .map(|i| Blob::synthetic_byte(*seed, i))
                .collect(),
        )),
        other => {
            let b = other.string_bytes().unwrap_or_default();
            Reply::bulk(&b[start as usize..=end as usize])
        }
    }
}

/// # Format
/// `SETRANGE key offset value`
pub(crate) fn setrange(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let offset = match int_arg(&argv[2]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    if offset < 0 {
        return Reply::error("ERR offset is out of range");
    }
    let addition = argv[3].to_blob();
    let pos = lookup_write(ctx, &key);
    let current = match pos {
        Some(pos) => match value_at(ctx, pos).string_len() {
            Some(len) => len,
            None => return Reply::error(WRONGTYPE),
        },
        None => 0,
    };
    if addition.is_empty() {
        return Reply::Integer(current as i64);
    }
    if offset as u64 + addition.len() > MAX_STRING_BYTES {
        return Reply::error(STRING_TOO_LONG);
    }
    let mut bytes_now = match pos {
        Some(pos) => value_at(ctx, pos).string_bytes().unwrap_or_default(),
        None => Vec::new(),
    };
    let end = offset as usize + addition.len() as usize;
    if bytes_now.len() < end {
        bytes_now.resize(end, 0);
    }
    bytes_now[offset as usize..end].copy_from_slice(&addition.to_vec());
    let len = bytes_now.len();
    let value = Value::Bytes(bytes_now.into());
    match pos {
        Some(pos) => ctx.db.replace_value(pos, value),
        None => {
            ctx.db.add(&key, value, ctx.now_ms);
        }
    }
    ctx.db.dirty += 1;
    Reply::Integer(len as i64)
}

/// The integer a string value holds, for INCR and friends.
fn value_as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Int { value, .. } => Some(*value),
        Value::Bytes(b) => crate::numbers::parse_i64(b),
        _ => None,
    }
}

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], increment: i64) -> Reply {
    let pos = lookup_write(ctx, key);
    let old = match pos {
        Some(pos) => {
            let v = value_at(ctx, pos);
            if !v.is_string() {
                return Reply::error(WRONGTYPE);
            }
            match value_as_i64(v) {
                Some(n) => n,
                None => return Reply::error(NOT_INTEGER),
            }
        }
        None => 0,
    };
    let Some(new) = old.checked_add(increment) else {
        return Reply::error(OVERFLOW);
    };
    let value = Value::int(new, ctx.db.shared_integers());
    match pos {
        Some(pos) => ctx.db.replace_value(pos, value),
        None => {
            ctx.db.add(key, value, ctx.now_ms);
        }
    }
    ctx.db.dirty += 1;
    Reply::Integer(new)
}

/// # Format
/// `INCR key`
pub(crate) fn incr(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    incr_by(ctx, &bytes(&argv[1]), 1)
}

/// # Format
/// `DECR key`
pub(crate) fn decr(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    incr_by(ctx, &bytes(&argv[1]), -1)
}

/// # Format
/// `INCRBY key increment`
pub(crate) fn incrby(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    match int_arg(&argv[2]) {
        Ok(n) => incr_by(ctx, &bytes(&argv[1]), n),
        Err(e) => e,
    }
}

/// # Format
/// `DECRBY key decrement`
pub(crate) fn decrby(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    match int_arg(&argv[2]) {
        Ok(i64::MIN) => Reply::error("ERR decrement would overflow"),
        Ok(n) => incr_by(ctx, &bytes(&argv[1]), -n),
        Err(e) => e,
    }
}

/// # Format
/// `INCRBYFLOAT key increment`
pub(crate) fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let pos = lookup_write(ctx, &key);
    let current = match pos {
        Some(pos) => {
            let v = value_at(ctx, pos);
            let Some(b) = v.string_bytes() else {
                return Reply::error(WRONGTYPE);
            };
            match LongDouble::parse(&b) {
                Some(x) => x,
                None => return Reply::error(super::NOT_FLOAT),
            }
        }
        None => LongDouble::zero(),
    };
    let Some(increment) = LongDouble::parse(&bytes(&argv[2])) else {
        return Reply::error(super::NOT_FLOAT);
    };
    let result = current.plus(increment);
    if !result.is_finite() {
        return Reply::error("ERR increment would produce NaN or Infinity");
    }
    let text = result.format_human();
    let value = Value::Bytes(text.as_bytes().into());
    match pos {
        Some(pos) => ctx.db.replace_value(pos, value),
        None => {
            ctx.db.add(&key, value, ctx.now_ms);
        }
    }
    ctx.db.dirty += 1;
    // Always propagated as SET key <result> KEEPTTL, so replicas need not redo the
    // float arithmetic.
    ctx.db.propagate_as(|| {
        vec![
            Blob::from_slice(b"SET"),
            argv[1].to_blob(),
            Blob::from_slice(text.as_bytes()),
            Blob::from_slice(b"KEEPTTL"),
        ]
    });
    Reply::bulk(text.as_bytes())
}
