//! Hash commands (t_hash.c). Invariant: a hash never stays stored empty: removing its
//! last field deletes the key, as Redis does.

use super::{bytes, int_arg, lookup_read, lookup_write, Ctx, OVERFLOW, WRONGTYPE};
use crate::blob::{Arg, Blob};
use crate::reply::Reply;
use crate::value::{HashValue, Value};

/// Position of the hash at `key` for writing, creating it when missing.
fn hash_for_write(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<usize, Reply> {
    match lookup_write(ctx, key) {
        Some(pos) => match ctx.db.keyspace.entry(pos).value {
            Value::Hash(_) => Ok(pos),
            _ => Err(Reply::error(WRONGTYPE)),
        },
        None => Ok(ctx.db.add(key, Value::Hash(Box::default()), ctx.now_ms)),
    }
}

/// Runs `f` on the hash at `key` for reading; `missing` when absent.
fn with_hash(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: Reply,
    f: impl FnOnce(&HashValue) -> Reply,
) -> Reply {
    let Some(found) = lookup_read(ctx, key) else {
        return missing;
    };
    match &*ctx.db.value_of(found) {
        Value::Hash(h) => f(h),
        _ => Reply::error(WRONGTYPE),
    }
}

fn hset_generic(ctx: &mut Ctx<'_>, argv: &[Arg<'_>], name: &str) -> Result<i64, Reply> {
    if argv.len() % 2 == 1 {
        return Err(super::arity_error(name));
    }
    let key = bytes(&argv[1]);
    let pos = hash_for_write(ctx, &key)?;
    let added = ctx.db.update(pos, |v| {
        let Value::Hash(h) = v else { return 0 };
        let mut added = 0;
        for pair in argv[2..].chunks(2) {
            if h.insert(&bytes(&pair[0]), pair[1].to_blob()) {
                added += 1;
            }
        }
        added
    });
    ctx.db.dirty += (argv.len() as u64 - 2) / 2;
    Ok(added)
}

/// # Format
/// `HSET key field value [field value ...]`
pub(crate) fn hset(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    match hset_generic(ctx, argv, "hset") {
        Ok(n) => Reply::Integer(n),
        Err(e) => e,
    }
}

/// # Format
/// `HMSET key field value [field value ...]`
pub(crate) fn hmset(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    match hset_generic(ctx, argv, "hmset") {
        Ok(_) => Reply::Ok,
        Err(e) => e,
    }
}

/// # Format
/// `HGET key field`
pub(crate) fn hget(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let field = bytes(&argv[2]);
    with_hash(ctx, &bytes(&argv[1]), Reply::Null, |h| {
        h.get(&field)
            .map_or(Reply::Null, |v| Reply::Bulk(v.clone()))
    })
}

/// # Format
/// `HMGET key field [field ...]`
pub(crate) fn hmget(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let fields: Vec<_> = argv[2..].iter().map(|a| bytes(a).into_owned()).collect();
    let missing = Reply::Array(vec![Reply::Null; fields.len()]);
    with_hash(ctx, &bytes(&argv[1]), missing, |h| {
        Reply::Array(
            fields
                .iter()
                .map(|f| h.get(f).map_or(Reply::Null, |v| Reply::Bulk(v.clone())))
                .collect(),
        )
    })
}

/// # Format
/// `HDEL key field [field ...]`
pub(crate) fn hdel(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let Some(pos) = lookup_write(ctx, &key) else {
        return Reply::Integer(0);
    };
    if !matches!(ctx.db.keyspace.entry(pos).value, Value::Hash(_)) {
        return Reply::error(WRONGTYPE);
    }
    let (deleted, empty) = ctx.db.update(pos, |v| {
        let Value::Hash(h) = v else { return (0, false) };
        let mut deleted = 0;
        for f in &argv[2..] {
            if h.remove(&bytes(f)) {
                deleted += 1;
                if h.is_empty() {
                    break;
                }
            }
        }
        (deleted, h.is_empty())
    });
    if empty {
        ctx.db.delete_at(pos);
    }
    ctx.db.dirty += deleted as u64;
    Reply::Integer(deleted)
}

/// # Format
/// `HEXISTS key field`
pub(crate) fn hexists(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let field = bytes(&argv[2]);
    with_hash(ctx, &bytes(&argv[1]), Reply::Integer(0), |h| {
        Reply::Integer(i64::from(h.get(&field).is_some()))
    })
}

/// # Format
/// `HLEN key`
pub(crate) fn hlen(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    with_hash(ctx, &bytes(&argv[1]), Reply::Integer(0), |h| {
        Reply::Integer(h.len() as i64)
    })
}

/// # Format
/// `HGETALL key`
pub(crate) fn hgetall(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    with_hash(ctx, &bytes(&argv[1]), Reply::Map(Vec::new()), |h| {
        Reply::Map(
            h.fields
                .iter()
                .map(|(f, v)| (Reply::bulk(f), Reply::Bulk(v.clone())))
                .collect(),
        )
    })
}

/// # Format
/// `HKEYS key`
pub(crate) fn hkeys(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    with_hash(ctx, &bytes(&argv[1]), Reply::Array(Vec::new()), |h| {
        Reply::Array(h.fields.keys().map(|f| Reply::bulk(f)).collect())
    })
}

/// # Format
/// `HVALS key`
pub(crate) fn hvals(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    with_hash(ctx, &bytes(&argv[1]), Reply::Array(Vec::new()), |h| {
        Reply::Array(h.fields.values().map(|v| Reply::Bulk(v.clone())).collect())
    })
}

/// # Format
/// `HINCRBY key field increment`
pub(crate) fn hincrby(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let increment = match int_arg(&argv[3]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let key = bytes(&argv[1]);
    let field = bytes(&argv[2]);
    let existing = lookup_write(ctx, &key);
    let current = match existing {
        Some(pos) => match &ctx.db.keyspace.entry(pos).value {
            Value::Hash(h) => match h.get(&field) {
                Some(v) => match crate::numbers::parse_i64(&v.to_vec()) {
                    Some(n) => n,
                    None => return Reply::error("ERR hash value is not an integer"),
                },
                None => 0,
            },
            _ => return Reply::error(WRONGTYPE),
        },
        None => 0,
    };
    let Some(new) = current.checked_add(increment) else {
        return Reply::error(OVERFLOW);
    };
    let pos = match hash_for_write(ctx, &key) {
        Ok(p) => p,
        Err(e) => return e,
    };
    ctx.db.update(pos, |v| {
        if let Value::Hash(h) = v {
            h.insert(&field, Blob::Bytes(new.to_string().into_bytes().into()));
        }
    });
    ctx.db.dirty += 1;
    Reply::Integer(new)
}
