//! Sorted set commands (t_zset.c). Invariant: members are ordered by (score, member
//! bytes) as Redis orders them; a NaN score is never stored; a sorted set never stays
//! stored empty.

use super::{bytes, float_arg, int_arg, is, lookup_read, lookup_write, Ctx, SYNTAX, WRONGTYPE};
use crate::blob::Arg;
use crate::reply::Reply;
use crate::value::{Value, ZSetValue};

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

/// # Format
/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`
pub(crate) fn zadd(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    zadd_generic(ctx, argv, false)
}

/// # Format
/// `ZINCRBY key increment member`
pub(crate) fn zincrby(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    zadd_generic(ctx, argv, true)
}

fn zadd_generic(ctx: &mut Ctx<'_>, argv: &[Arg<'_>], zincrby: bool) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, zincrby);
    let mut score_idx = 2;
    if !zincrby {
        while score_idx < argv.len() {
            let opt = &argv[score_idx];
            if is(opt, "nx") {
                nx = true;
            } else if is(opt, "xx") {
                xx = true;
            } else if is(opt, "ch") {
                ch = true;
            } else if is(opt, "incr") {
                incr = true;
            } else if is(opt, "gt") {
                gt = true;
            } else if is(opt, "lt") {
                lt = true;
            } else {
                break;
            }
            score_idx += 1;
        }
    }
    let elements = argv.len() - score_idx;
    if elements % 2 == 1 || elements == 0 {
        return Reply::error(SYNTAX);
    }
    let elements = elements / 2;
    if nx && xx {
        return Reply::error("ERR XX and NX options at the same time are not compatible");
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Reply::error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && elements > 1 {
        return Reply::error("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        match float_arg(&argv[score_idx + j * 2]) {
            Ok(s) => scores.push(s),
            Err(e) => return e,
        }
    }
    let key = bytes(&argv[1]);
    let pos = match lookup_write(ctx, &key) {
        Some(pos) => {
            if !matches!(ctx.db.keyspace.entry(pos).value, Value::ZSet(_)) {
                return Reply::error(WRONGTYPE);
            }
            pos
        }
        None => {
            if xx {
                return if incr { Reply::Null } else { Reply::Integer(0) };
            }
            let first_len = argv[score_idx + 1].len() as usize;
            ctx.db.add(
                &key,
                Value::ZSet(Box::new(ZSetValue::for_first_member(first_len))),
                ctx.now_ms,
            )
        }
    };
    let outcome = ctx.db.update(pos, |v| {
        let Value::ZSet(z) = v else {
            return Err(Reply::error(WRONGTYPE));
        };
        let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
        let mut last_score = None;
        for (j, &score) in scores.iter().enumerate() {
            let member = bytes(&argv[score_idx + j * 2 + 1]);
            match z.score(&member) {
                Some(current) => {
                    if nx {
                        continue;
                    }
                    let new = if incr {
                        let s = current + score;
                        if s.is_nan() {
                            return Err(Reply::error(NAN_SCORE));
                        }
                        s
                    } else {
                        score
                    };
                    if (lt && new >= current) || (gt && new <= current) {
                        continue;
                    }
                    last_score = Some(new);
                    processed += 1;
                    if new != current {
                        z.insert(&member, new);
                        updated += 1;
                    }
                }
                None => {
                    if xx {
                        continue;
                    }
                    z.insert(&member, score);
                    added += 1;
                    processed += 1;
                    last_score = Some(score);
                }
            }
        }
        Ok((added, updated, processed, last_score, z.is_empty()))
    });
    match outcome {
        Err(e) => {
            if let Value::ZSet(z) = &ctx.db.keyspace.entry(pos).value {
                if z.is_empty() {
                    ctx.db.delete_at(pos);
                }
            }
            e
        }
        Ok((added, updated, processed, last_score, empty)) => {
            if empty {
                ctx.db.delete_at(pos);
            }
            ctx.db.dirty += (added + updated) as u64;
            if incr {
                match (processed, last_score) {
                    (p, Some(s)) if p > 0 => Reply::Double(s),
                    _ => Reply::Null,
                }
            } else if ch {
                Reply::Integer(added + updated)
            } else {
                Reply::Integer(added)
            }
        }
    }
}

/// # Format
/// `ZREM key member [member ...]`
pub(crate) fn zrem(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let key = bytes(&argv[1]);
    let Some(pos) = lookup_write(ctx, &key) else {
        return Reply::Integer(0);
    };
    if !matches!(ctx.db.keyspace.entry(pos).value, Value::ZSet(_)) {
        return Reply::error(WRONGTYPE);
    }
    let (removed, empty) = ctx.db.update(pos, |v| {
        let Value::ZSet(z) = v else { return (0, false) };
        let mut removed = 0;
        for m in &argv[2..] {
            if z.remove(&bytes(m)).is_some() {
                removed += 1;
                if z.is_empty() {
                    break;
                }
            }
        }
        (removed, z.is_empty())
    });
    if empty {
        ctx.db.delete_at(pos);
    }
    ctx.db.dirty += removed as u64;
    Reply::Integer(removed)
}

fn with_zset(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: Reply,
    f: impl FnOnce(&ZSetValue) -> Reply,
) -> Reply {
    let Some(found) = lookup_read(ctx, key) else {
        return missing;
    };
    match &*ctx.db.value_of(found) {
        Value::ZSet(z) => f(z),
        _ => Reply::error(WRONGTYPE),
    }
}

/// # Format
/// `ZSCORE key member`
pub(crate) fn zscore(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let member = bytes(&argv[2]);
    with_zset(ctx, &bytes(&argv[1]), Reply::Null, |z| {
        z.score(&member).map_or(Reply::Null, Reply::Double)
    })
}

/// # Format
/// `ZCARD key`
pub(crate) fn zcard(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    with_zset(ctx, &bytes(&argv[1]), Reply::Integer(0), |z| {
        Reply::Integer(z.len() as i64)
    })
}

/// # Format
/// `ZRANK key member`
pub(crate) fn zrank(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let member = bytes(&argv[2]);
    with_zset(ctx, &bytes(&argv[1]), Reply::Null, |z| {
        z.rank(&member)
            .map_or(Reply::Null, |r| Reply::Integer(r as i64))
    })
}

/// A score bound: value and whether it is exclusive ("(1.5").
#[derive(Clone, Copy)]
struct Bound {
    value: f64,
    exclusive: bool,
}

/// zslParseRange's parsing of one bound.
fn parse_bound(arg: &Arg<'_>) -> Option<Bound> {
    let b = bytes(arg);
    let (exclusive, number) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, &b[..]),
    };
    let value = crate::numbers::parse_strtod(number)?;
    Some(Bound { value, exclusive })
}

fn above_min(score: f64, min: Bound) -> bool {
    if min.exclusive {
        score > min.value
    } else {
        score >= min.value
    }
}

fn below_max(score: f64, max: Bound) -> bool {
    if max.exclusive {
        score < max.value
    } else {
        score <= max.value
    }
}

/// A lexicographic bound: `-`, `+`, `[member` (inclusive) or `(member` (exclusive).
enum LexBound {
    Min,
    Max,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

/// zslParseLexRangeItem.
fn parse_lex_bound(arg: &Arg<'_>) -> Option<LexBound> {
    let b = bytes(arg);
    match b.first() {
        Some(b'-') if b.len() == 1 => Some(LexBound::Min),
        Some(b'+') if b.len() == 1 => Some(LexBound::Max),
        Some(b'[') => Some(LexBound::Inclusive(b[1..].to_vec())),
        Some(b'(') => Some(LexBound::Exclusive(b[1..].to_vec())),
        _ => None,
    }
}

fn lex_above_min(member: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Inclusive(m) => member >= m.as_slice(),
        LexBound::Exclusive(m) => member > m.as_slice(),
    }
}

fn lex_below_max(member: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Inclusive(m) => member <= m.as_slice(),
        LexBound::Exclusive(m) => member < m.as_slice(),
    }
}

/// # Format
/// `ZCOUNT key min max`
pub(crate) fn zcount(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let (Some(min), Some(max)) = (parse_bound(&argv[2]), parse_bound(&argv[3])) else {
        return Reply::error("ERR min or max is not a float");
    };
    with_zset(ctx, &bytes(&argv[1]), Reply::Integer(0), |z| {
        Reply::Integer(
            z.sorted
                .iter()
                .filter(|(s, _)| above_min(*s, min) && below_max(*s, max))
                .count() as i64,
        )
    })
}

fn range_reply(items: Vec<(f64, Box<[u8]>)>, with_scores: bool, protocol: u8) -> Reply {
    if !with_scores {
        return Reply::Array(items.into_iter().map(|(_, m)| Reply::bulk(&m)).collect());
    }
    if protocol >= 3 {
        Reply::Array(
            items
                .into_iter()
                .map(|(s, m)| Reply::Array(vec![Reply::bulk(&m), Reply::Double(s)]))
                .collect(),
        )
    } else {
        Reply::Array(
            items
                .into_iter()
                .flat_map(|(s, m)| [Reply::bulk(&m), Reply::Double(s)])
                .collect(),
        )
    }
}

/// # Format
/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
///
/// BYLEX ranges filter members in score order, which is lexicographic order when all
/// scores are equal (the only case Redis defines).
pub(crate) fn zrange(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let (mut by_score, mut by_lex, mut rev, mut with_scores) = (false, false, false, false);
    let mut limit: Option<(i64, i64)> = None;
    let mut j = 4;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let opt = &argv[j];
        if is(opt, "withscores") {
            with_scores = true;
        } else if is(opt, "limit") && left >= 2 {
            let offset = match int_arg(&argv[j + 1]) {
                Ok(o) => o,
                Err(e) => return e,
            };
            let count = match int_arg(&argv[j + 2]) {
                Ok(c) => c,
                Err(e) => return e,
            };
            limit = Some((offset, count));
            j += 2;
        } else if !rev && is(opt, "rev") {
            rev = true;
        } else if !by_score && !by_lex && is(opt, "bylex") {
            by_lex = true;
        } else if !by_score && !by_lex && is(opt, "byscore") {
            by_score = true;
        } else {
            return Reply::error(SYNTAX);
        }
        j += 1;
    }
    if limit.is_some() && !by_score && !by_lex {
        return Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if with_scores && by_lex {
        return Reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        );
    }
    let protocol = ctx.session.protocol;
    let key = bytes(&argv[1]);
    if by_lex {
        let (min_arg, max_arg) = if rev {
            (&argv[3], &argv[2])
        } else {
            (&argv[2], &argv[3])
        };
        let (Some(min), Some(max)) = (parse_lex_bound(min_arg), parse_lex_bound(max_arg)) else {
            return Reply::error("ERR min or max not valid string range item");
        };
        let (offset, count) = limit.unwrap_or((0, -1));
        return with_zset(ctx, &key, Reply::Array(Vec::new()), |z| {
            if offset < 0 {
                return Reply::Array(Vec::new());
            }
            let in_range =
                |(_, m): &&(f64, Box<[u8]>)| lex_above_min(m, &min) && lex_below_max(m, &max);
            let items = window(&z.sorted, rev, in_range, offset, count);
            range_reply(items, false, protocol)
        });
    }
    if by_score {
        let (min_arg, max_arg) = if rev {
            (&argv[3], &argv[2])
        } else {
            (&argv[2], &argv[3])
        };
        let (Some(min), Some(max)) = (parse_bound(min_arg), parse_bound(max_arg)) else {
            return Reply::error("ERR min or max is not a float");
        };
        let (offset, count) = limit.unwrap_or((0, -1));
        return with_zset(ctx, &key, Reply::Array(Vec::new()), |z| {
            if offset < 0 {
                return Reply::Array(Vec::new());
            }
            let in_range = |(s, _): &&(f64, Box<[u8]>)| above_min(*s, min) && below_max(*s, max);
            let items = window(&z.sorted, rev, in_range, offset, count);
            range_reply(items, with_scores, protocol)
        });
    }
    let (start, end) = match (int_arg(&argv[2]), int_arg(&argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    with_zset(ctx, &key, Reply::Array(Vec::new()), |z| {
        let len = z.len() as i64;
        let mut start = if start < 0 { len + start } else { start };
        let mut end = if end < 0 { len + end } else { end };
        start = start.max(0);
        if start > end || start >= len {
            return Reply::Array(Vec::new());
        }
        if end >= len {
            end = len - 1;
        }
        let items: Vec<_> = if rev {
            z.sorted
                .iter()
                .rev()
                .skip(start as usize)
                .take((end - start + 1) as usize)
                .cloned()
                .collect()
        } else {
            z.sorted[start as usize..=end as usize].to_vec()
        };
        range_reply(items, with_scores, protocol)
    })
}

/// The members in range, in order (reversed for REV), after skipping `offset` and
/// taking `count` (all when negative): ZRANGE's LIMIT over BYSCORE or BYLEX.
fn window(
    sorted: &[(f64, Box<[u8]>)],
    rev: bool,
    in_range: impl Fn(&&(f64, Box<[u8]>)) -> bool,
    offset: i64,
    count: i64,
) -> Vec<(f64, Box<[u8]>)> {
    let take = usize::try_from(count).unwrap_or(usize::MAX);
    let pick = |it: &mut dyn Iterator<Item = &(f64, Box<[u8]>)>| {
        it.filter(|x| in_range(x))
            .skip(offset as usize)
            .take(take)
            .cloned()
            .collect()
    };
    if rev {
        pick(&mut sorted.iter().rev())
    } else {
        pick(&mut sorted.iter())
    }
}
