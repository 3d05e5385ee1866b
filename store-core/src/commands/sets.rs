//! Set commands (t_set.c). Invariant: a set never stays stored empty; random choices
//! draw from the caller's RNG only.

use super::{bytes, int_arg, lookup_read, lookup_write, Ctx, NOT_POSITIVE, SYNTAX, WRONGTYPE};
use crate::blob::{Arg, Blob};
use crate::reply::Reply;
use crate::value::{SetValue, Value};

fn members_reply(members: Vec<Vec<u8>>) -> Reply {
    Reply::Set(
        members
            .into_iter()
            .map(|m| Reply::Bulk(crate::blob::Blob::Bytes(m.into())))
            .collect(),
    )
}

/// # Format
/// `SADD key member [member ...]`
pub(crate) fn sadd(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let pos = match lookup_write(ctx, &key) {
        Some(pos) => {
            if !matches!(ctx.db.keyspace.entry(pos).value, Value::Set(_)) {
                return Reply::error(WRONGTYPE);
            }
            pos
        }
        None => ctx.db.add(&key, Value::Set(Box::default()), ctx.now_ms),
    };
    let added = ctx.db.update(pos, |v| {
        let Value::Set(s) = v else { return 0 };
        argv[2..].iter().filter(|m| s.insert(&bytes(m))).count()
    });
    ctx.db.dirty += added as u64;
    Reply::Integer(added as i64)
}

/// # Format
/// `SREM key member [member ...]`
pub(crate) fn srem(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let Some(pos) = lookup_write(ctx, &key) else {
        return Reply::Integer(0);
    };
    if !matches!(ctx.db.keyspace.entry(pos).value, Value::Set(_)) {
        return Reply::error(WRONGTYPE);
    }
    let (removed, empty) = ctx.db.update(pos, |v| {
        let Value::Set(s) = v else { return (0, false) };
        let mut removed = 0;
        for m in &argv[2..] {
            if s.remove(&bytes(m)) {
                removed += 1;
                if s.is_empty() {
                    break;
                }
            }
        }
        (removed, s.is_empty())
    });
    if empty {
        ctx.db.delete_at(pos);
    }
    ctx.db.dirty += removed as u64;
    Reply::Integer(removed)
}

fn with_set(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: Reply,
    f: impl FnOnce(&SetValue) -> Reply,
) -> Reply {
    let Some(found) = lookup_read(ctx, key) else {
        return missing;
    };
    match &*ctx.db.value_of(found) {
        Value::Set(s) => f(s),
        _ => Reply::error(WRONGTYPE),
    }
}

/// # Format
/// `SISMEMBER key member`
pub(crate) fn sismember(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let member = bytes(&argv[2]);
    with_set(ctx, &bytes(&argv[1]), Reply::Integer(0), |s| {
        Reply::Integer(i64::from(s.contains(&member)))
    })
}

/// # Format
/// `SMEMBERS key`
pub(crate) fn smembers(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    with_set(ctx, &bytes(&argv[1]), Reply::Set(Vec::new()), |s| {
        members_reply(s.members())
    })
}

/// # Format
/// `SCARD key`
pub(crate) fn scard(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    with_set(ctx, &bytes(&argv[1]), Reply::Integer(0), |s| {
        Reply::Integer(s.len() as i64)
    })
}

/// # Format
/// `SPOP key [count]`
pub(crate) fn spop(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    if argv.len() > 3 {
        return Reply::error(SYNTAX);
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
            Reply::Set(Vec::new())
        } else {
            Reply::Null
        };
    };
    if !matches!(ctx.db.keyspace.entry(pos).value, Value::Set(_)) {
        return Reply::error(WRONGTYPE);
    }
    if count == Some(0) {
        return Reply::Set(Vec::new());
    }
    let size = match &ctx.db.keyspace.entry(pos).value {
        Value::Set(s) => s.len() as u64,
        _ => 0,
    };
    let rng = &mut *ctx.rng;
    let (popped, empty) = ctx.db.update(pos, |v| {
        let Value::Set(s) = v else {
            return (Vec::new(), false);
        };
        let n = count.unwrap_or(1).min(s.len() as u64);
        let mut popped = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let index = (rng.next_u64() % s.len() as u64) as usize;
            if let Some(m) = s.member_at(index) {
                s.remove(&m);
                popped.push(m);
            }
        }
        (popped, s.is_empty())
    });
    if empty {
        ctx.db.delete_at(pos);
    }
    ctx.db.dirty += popped.len() as u64;
    // Propagated as SREM of the popped member; with a count, as DEL when the whole set
    // went, else one SREM per member, in reply order (spopWithCountCommand).
    match count {
        None => {
            if let Some(m) = popped.first() {
                ctx.db.propagate_as(|| {
                    vec![
                        Blob::from_slice(b"SREM"),
                        argv[1].to_blob(),
                        Blob::from_slice(m),
                    ]
                });
            }
        }
        Some(n) if n >= size => {
            ctx.db
                .propagate_as(|| vec![Blob::from_slice(b"DEL"), argv[1].to_blob()]);
        }
        Some(_) => {
            for m in &popped {
                ctx.db.also_propagate(|| {
                    vec![
                        Blob::from_slice(b"SREM"),
                        argv[1].to_blob(),
                        Blob::from_slice(m),
                    ]
                });
            }
            ctx.db.prevent_propagation();
        }
    }
    match count {
        Some(_) => members_reply(popped),
        None => popped.into_iter().next().map_or(Reply::Null, |m| {
            Reply::Bulk(crate::blob::Blob::Bytes(m.into()))
        }),
    }
}

/// # Format
/// `SRANDMEMBER key [count]`
pub(crate) fn srandmember(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    if argv.len() > 3 {
        return Reply::error(SYNTAX);
    }
    let count = if argv.len() == 3 {
        match int_arg(&argv[2]) {
            Ok(n) if n > i64::MIN => Some(n),
            Ok(_) => {
                return Reply::error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            }
            Err(e) => return e,
        }
    } else {
        None
    };
    let key = bytes(&argv[1]);
    let missing = if count.is_some() {
        Reply::Array(Vec::new())
    } else {
        Reply::Null
    };
    let Some(found) = lookup_read(ctx, &key) else {
        return missing;
    };
    let value = ctx.db.value_of(found).into_owned();
    let Value::Set(s) = value else {
        return Reply::error(WRONGTYPE);
    };
    let len = s.len() as u64;
    let pick = |rng: &mut dyn rand::RngCore| (rng.next_u64() % len) as usize;
    match count {
        None => s.member_at(pick(ctx.rng)).map_or(Reply::Null, |m| {
            Reply::Bulk(crate::blob::Blob::Bytes(m.into()))
        }),
        Some(0) => Reply::Array(Vec::new()),
        Some(n) if n < 0 => Reply::Array(
            // Bounded so an absurd count cannot exhaust memory (Redis would try).
            (0..n.unsigned_abs().min(1 << 24))
                .filter_map(|_| s.member_at(pick(ctx.rng)))
                .map(|m| Reply::Bulk(crate::blob::Blob::Bytes(m.into())))
                .collect(),
        ),
        Some(n) => {
            let n = (n as u64).min(len) as usize;
            // Distinct members: a partial Fisher-Yates shuffle of positions.
            let mut positions: Vec<usize> = (0..len as usize).collect();
            for i in 0..n {
                let j = i + (ctx.rng.next_u64() % (positions.len() - i) as u64) as usize;
                positions.swap(i, j);
            }
            Reply::Array(
                positions[..n]
                    .iter()
                    .filter_map(|&p| s.member_at(p))
                    .map(|m| Reply::Bulk(crate::blob::Blob::Bytes(m.into())))
                    .collect(),
            )
        }
    }
}

/// The sets named by `keys` (None for a missing key), or WRONGTYPE.
fn load_sets(ctx: &mut Ctx<'_>, keys: &[Arg<'_>]) -> Result<Vec<Option<SetValue>>, Reply> {
    let mut sets = Vec::with_capacity(keys.len());
    for key in keys {
        match lookup_read(ctx, &bytes(key)) {
            None => sets.push(None),
            Some(found) => match ctx.db.value_of(found).into_owned() {
                Value::Set(s) => sets.push(Some(*s)),
                _ => return Err(Reply::error(WRONGTYPE)),
            },
        }
    }
    Ok(sets)
}

/// # Format
/// `SINTER key [key ...]`
pub(crate) fn sinter(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let sets = match load_sets(ctx, &argv[1..]) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if sets.iter().any(Option::is_none) {
        return Reply::Set(Vec::new());
    }
    let mut sets: Vec<SetValue> = sets.into_iter().flatten().collect();
    // Iterate the smallest set, as Redis does, probing the others.
    sets.sort_by_key(SetValue::len);
    let Some((smallest, others)) = sets.split_first() else {
        return Reply::Set(Vec::new());
    };
    let members = smallest
        .members()
        .into_iter()
        .filter(|m| others.iter().all(|s| s.contains(m)))
        .collect();
    members_reply(members)
}

/// # Format
/// `SUNION key [key ...]`
pub(crate) fn sunion(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let sets = match load_sets(ctx, &argv[1..]) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let mut union = SetValue::default();
    for s in sets.into_iter().flatten() {
        for m in s.members() {
            union.insert(&m);
        }
    }
    members_reply(union.members())
}
