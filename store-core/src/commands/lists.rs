//! List commands (t_list.c). Invariant: a list never stays stored empty; index
//! arithmetic follows Redis's clamping rules exactly (negative indices from the tail).

use super::{bytes, int_arg, lookup_read, lookup_write, Ctx, NOT_POSITIVE, WRONGTYPE};
use crate::blob::Arg;
use crate::reply::Reply;
use crate::value::{ListValue, Value};

fn push_generic(ctx: &mut Ctx<'_>, argv: &[Arg<'_>], front: bool) -> Reply {
    let key = bytes(&argv[1]);
    let pos = match lookup_write(ctx, &key) {
        Some(pos) => {
            if !matches!(ctx.db.keyspace.entry(pos).value, Value::List(_)) {
                return Reply::error(WRONGTYPE);
            }
            pos
        }
        None => ctx.db.add(&key, Value::List(Box::default()), ctx.now_ms),
    };
    let len = ctx.db.update(pos, |v| {
        let Value::List(l) = v else { return 0 };
        for item in &argv[2..] {
            if front {
                l.push_front(item.to_blob());
            } else {
                l.push_back(item.to_blob());
            }
        }
        l.len()
    });
    ctx.db.dirty += argv.len() as u64 - 2;
    Reply::Integer(len as i64)
}

/// # Format
/// `LPUSH key element [element ...]`
pub(crate) fn lpush(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    push_generic(ctx, argv, true)
}

/// # Format
/// `RPUSH key element [element ...]`
pub(crate) fn rpush(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    push_generic(ctx, argv, false)
}

fn pop_generic(ctx: &mut Ctx<'_>, argv: &[Arg<'_>], front: bool, name: &str) -> Reply {
    if argv.len() > 3 {
        return super::arity_error(name);
    }
    let count = if argv.len() == 3 {
        match int_arg(&argv[2]) {
            Ok(n) if n >= 0 => Some(n as u64),
            _ => return Reply::error(NOT_POSITIVE),
        }
    } else {
        None
    };
    let key = bytes(&argv[1]);
    let Some(pos) = lookup_write(ctx, &key) else {
        return if count.is_some() {
            Reply::NullArray
        } else {
            Reply::Null
        };
    };
    if !matches!(ctx.db.keyspace.entry(pos).value, Value::List(_)) {
        return Reply::error(WRONGTYPE);
    }
    if count == Some(0) {
        return Reply::Array(Vec::new());
    }
    let (items, empty) = ctx.db.update(pos, |v| {
        let Value::List(l) = v else {
            return (Vec::new(), false);
        };
        let n = count.unwrap_or(1).min(l.len() as u64);
        let mut items = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let item = if front { l.pop_front() } else { l.pop_back() };
            if let Some(item) = item {
                items.push(Reply::Bulk(item));
            }
        }
        (items, l.is_empty())
    });
    if empty {
        ctx.db.delete_at(pos);
    }
    ctx.db.dirty += items.len() as u64;
    match count {
        Some(_) => Reply::Array(items),
        None => items.into_iter().next().unwrap_or(Reply::Null),
    }
}

/// # Format
/// `LPOP key [count]`
pub(crate) fn lpop(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    pop_generic(ctx, argv, true, "lpop")
}

/// # Format
/// `RPOP key [count]`
pub(crate) fn rpop(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    pop_generic(ctx, argv, false, "rpop")
}

fn with_list(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: Reply,
    f: impl FnOnce(&ListValue) -> Reply,
) -> Reply {
    let Some(found) = lookup_read(ctx, key) else {
        return missing;
    };
    match &*ctx.db.value_of(found) {
        Value::List(l) => f(l),
        _ => Reply::error(WRONGTYPE),
    }
}

/// # Format
/// `LLEN key`
pub(crate) fn llen(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    with_list(ctx, &bytes(&argv[1]), Reply::Integer(0), |l| {
        Reply::Integer(l.len() as i64)
    })
}

/// # Format
/// `LRANGE key start stop`
pub(crate) fn lrange(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let (start, end) = match (int_arg(&argv[2]), int_arg(&argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    with_list(ctx, &bytes(&argv[1]), Reply::Array(Vec::new()), |l| {
        let len = l.len() as i64;
        let mut start = if start < 0 { len + start } else { start };
        let mut end = if end < 0 { len + end } else { end };
        start = start.max(0);
        if start > end || start >= len {
            return Reply::Array(Vec::new());
        }
        if end >= len {
            end = len - 1;
        }
        Reply::Array(
            l.items
                .range(start as usize..=end as usize)
                .map(|b| Reply::Bulk(b.clone()))
                .collect(),
        )
    })
}

/// # Format
/// `LINDEX key index`
pub(crate) fn lindex(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let index = int_arg(&argv[2]);
    with_list(ctx, &bytes(&argv[1]), Reply::Null, |l| {
        // Redis looks the key up (nil, WRONGTYPE) before it parses the index.
        let index = match index {
            Ok(i) => i,
            Err(e) => return e,
        };
        let len = l.len() as i64;
        let i = if index < 0 { len + index } else { index };
        if i < 0 || i >= len {
            Reply::Null
        } else {
            Reply::Bulk(l.items[i as usize].clone())
        }
    })
}

/// # Format
/// `LTRIM key start stop`
pub(crate) fn ltrim(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let (start, end) = match (int_arg(&argv[2]), int_arg(&argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let key = bytes(&argv[1]);
    let Some(pos) = lookup_write(ctx, &key) else {
        return Reply::Ok;
    };
    if !matches!(ctx.db.keyspace.entry(pos).value, Value::List(_)) {
        return Reply::error(WRONGTYPE);
    }
    let (empty, removed) = ctx.db.update(pos, |v| {
        let Value::List(l) = v else { return (false, 0) };
        let before = l.len();
        let len = l.len() as i64;
        let mut start = if start < 0 { len + start } else { start };
        let mut end = if end < 0 { len + end } else { end };
        start = start.max(0);
        if start > end || start >= len {
            l.retain_range(0, 0);
        } else {
            if end >= len {
                end = len - 1;
            }
            l.retain_range(start as usize, end as usize + 1);
        }
        (l.is_empty(), before - l.len())
    });
    if empty {
        ctx.db.delete_at(pos);
    }
    ctx.db.dirty += removed as u64;
    Reply::Ok
}
