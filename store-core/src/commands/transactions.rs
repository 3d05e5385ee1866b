//! Transaction commands (multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH. Queueing
//! itself happens in `dispatch`, as in Redis's `processCommand`. Invariant: EXEC runs
//! the queued commands back to back through `call`, so their effects propagate as one
//! unit (wrapped in MULTI/EXEC when more than one), and EXEC itself never propagates.

use super::{bytes, call, find_command, Ctx};
use crate::blob::{Arg, Blob};
use crate::multi::MultiState;
use crate::reply::Reply;

/// discardTransaction: leaves MULTI, unwatches every key and clears the CAS flag.
pub(crate) fn discard_transaction(ctx: &mut Ctx<'_>) {
    ctx.session.take_multi();
    ctx.db.watches.reset_client(ctx.session.client_id);
}

/// # Format
/// `MULTI`
pub(crate) fn multi(ctx: &mut Ctx<'_>, _argv: &[Arg<'_>]) -> Reply {
    if ctx.session.multi().is_some() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    ctx.session.begin_multi();
    Reply::Ok
}

/// # Format
/// `DISCARD`
pub(crate) fn discard(ctx: &mut Ctx<'_>, _argv: &[Arg<'_>]) -> Reply {
    if ctx.session.multi().is_none() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    discard_transaction(ctx);
    Reply::Ok
}

/// Whether a stored key is past its expiry now (keyIsExpired: no deletion).
fn key_is_expired(ctx: &Ctx<'_>, key: &[u8]) -> bool {
    ctx.db.keyspace.find(key).is_some_and(|pos| {
        ctx.db
            .is_expired_entry(ctx.db.keyspace.entry(pos), ctx.now_ms)
    })
}

/// # Format
/// `EXEC`
pub(crate) fn exec(ctx: &mut Ctx<'_>, _argv: &[Arg<'_>]) -> Reply {
    let Some(state) = ctx.session.take_multi() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    let MultiState {
        queued, dirty_exec, ..
    } = state;
    let client_id = ctx.session.client_id;
    let watched_expired = ctx
        .db
        .watches
        .live_watched_keys(client_id)
        .iter()
        .any(|key| key_is_expired(ctx, key));
    let dirty_cas = watched_expired || ctx.db.watches.is_dirty(client_id);
    discard_transaction(ctx);
    if dirty_exec {
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    if dirty_cas {
        return Reply::NullArray;
    }
    let mut replies = Vec::with_capacity(queued.len());
    for command in &queued {
        let argv: Vec<Arg<'_>> = command
            .iter()
            .map(|blob| match blob {
                Blob::Bytes(b) => Arg::Bytes(b),
                Blob::Synthetic { len, seed } => Arg::Synthetic {
                    len: *len,
                    seed: *seed,
                },
            })
            .collect();
        let spec = match argv.first() {
            Some(Arg::Bytes(name)) => find_command(name),
            _ => None,
        };
        // Queued commands passed the lookup and arity checks; a miss cannot happen.
        let Some(spec) = spec else {
            replies.push(Reply::error("ERR unknown command"));
            continue;
        };
        replies.push(call(ctx, spec, &argv));
    }
    // EXEC's own argv never propagates: the queued commands' effects do.
    ctx.db.prevent_propagation();
    Reply::Array(replies)
}

/// # Format
/// `WATCH key [key ...]`
pub(crate) fn watch(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    if ctx.session.multi().is_some() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    for arg in &argv[1..] {
        let key = bytes(arg);
        let expired = key_is_expired(ctx, &key);
        ctx.db.watches.watch(ctx.session.client_id, &key, expired);
    }
    Reply::Ok
}

/// # Format
/// `UNWATCH`
pub(crate) fn unwatch(ctx: &mut Ctx<'_>, _argv: &[Arg<'_>]) -> Reply {
    ctx.db.watches.reset_client(ctx.session.client_id);
    Reply::Ok
}
