//! Command dispatch: the table of commands (name, arity, flags, key positions, handler,
//! docs), argument helpers shared by the command families, and the checks Redis's
//! `processCommand` makes before running a command, in its order: unknown command,
//! arity, cluster redirection, maxmemory. Invariant: every reply, error or not, is what
//! Redis 7.0 sends for the same argv and state; no input panics.

use crate::blob::Arg;
use crate::config::Session;
use crate::db::Db;
use crate::reply::Reply;
use crate::slots::{key_hash_slot, SlotState};
use rand::RngCore;
use std::borrow::Cow;

mod dump;
mod hashes;
mod keys;
mod lists;
pub(crate) mod server;
mod sets;
mod strings;
mod transactions;
mod zsets;

/// What a command handler gets: the Db, the caller's session, the time and the RNG.
pub(crate) struct Ctx<'a> {
    pub db: &'a mut Db,
    pub session: &'a mut Session,
    pub now_ms: u64,
    pub rng: &'a mut dyn RngCore,
}

pub(crate) type Handler = fn(&mut Ctx<'_>, &[Arg<'_>]) -> Reply;

/// Command flags (a subset of Redis's, as COMMAND reports them).
pub(crate) mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 2;
    pub const DENYOOM: u32 = 4;
    pub const FAST: u32 = 8;
    pub const ADMIN: u32 = 16;
    pub const NOSCRIPT: u32 = 32;
    pub const LOADING: u32 = 64;
    pub const STALE: u32 = 128;
    pub const RANDOM: u32 = 256;
    /// Runs even inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH).
    /// Internal: not one of the flags COMMAND reports.
    pub const NOT_QUEUED: u32 = 1 << 16;
    /// May lazily expire any number of keys (RANDOMKEY, SCAN): run directly, its DELs
    /// propagate unwrapped, like active expiry's (CMD_TOUCHES_ARBITRARY_KEYS). Internal.
    pub const TOUCHES_ARBITRARY_KEYS: u32 = 1 << 17;
    /// Served in an importing slot without a preceding ASKING (CMD_ASKING:
    /// RESTORE-ASKING). Internal.
    pub const ASKING: u32 = 1 << 18;
}

/// One command.
pub(crate) struct CommandSpec {
    pub name: &'static str,
    /// Redis arity: exact count when positive, minimum count when negative.
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub handler: Handler,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
}

pub(crate) const WRONGTYPE: &str =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
pub(crate) const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub(crate) const NOT_FLOAT: &str = "ERR value is not a valid float";
pub(crate) const SYNTAX: &str = "ERR syntax error";
pub(crate) const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub(crate) const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub(crate) const READONLY_REPLICA: &str = "READONLY You can't write against a read only replica.";
pub(crate) const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $handler:path, $group:literal, $since:literal, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            key_step: $step,
            handler: $handler,
            group: $group,
            since: $since,
            summary: $summary,
        }
    };
}

use flags::*;

/// Every command, hot ones first (the lookup is a scan).
pub(crate) static COMMANDS: &[CommandSpec] = &[
    cmd!("get", 2, READONLY | FAST, 1, 1, 1, strings::get, "string", "1.0.0", "Get the value of a key"),
    cmd!("set", -3, WRITE | DENYOOM, 1, 1, 1, strings::set, "string", "1.0.0", "Set the string value of a key"),
    cmd!("del", -2, WRITE, 1, -1, 1, keys::del, "generic", "1.0.0", "Delete a key"),
    cmd!("exists", -2, READONLY | FAST, 1, -1, 1, keys::exists, "generic", "1.0.0", "Determine if a key exists"),
    cmd!("mget", -2, READONLY | FAST, 1, -1, 1, strings::mget, "string", "1.0.0", "Get the values of all the given keys"),
    cmd!("mset", -3, WRITE | DENYOOM, 1, -1, 2, strings::mset, "string", "1.0.1", "Set multiple keys to multiple values"),
    cmd!("msetnx", -3, WRITE | DENYOOM, 1, -1, 2, strings::msetnx, "string", "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist"),
    cmd!("setnx", 3, WRITE | DENYOOM | FAST, 1, 1, 1, strings::setnx, "string", "1.0.0", "Set the value of a key, only if the key does not exist"),
    cmd!("setex", 4, WRITE | DENYOOM, 1, 1, 1, strings::setex, "string", "2.0.0", "Set the value and expiration of a key"),
    cmd!("psetex", 4, WRITE | DENYOOM, 1, 1, 1, strings::psetex, "string", "2.6.0", "Set the value and expiration in milliseconds of a key"),
    cmd!("getset", 3, WRITE | DENYOOM | FAST, 1, 1, 1, strings::getset, "string", "1.0.0", "Set the string value of a key and return its old value"),
    cmd!("getdel", 2, WRITE | FAST, 1, 1, 1, strings::getdel, "string", "6.2.0", "Get the value of a key and delete the key"),
    cmd!("getex", -2, WRITE | FAST, 1, 1, 1, strings::getex, "string", "6.2.0", "Get the value of a key and optionally set its expiration"),
    cmd!("append", 3, WRITE | DENYOOM | FAST, 1, 1, 1, strings::append, "string", "2.0.0", "Append a value to a key"),
    cmd!("strlen", 2, READONLY | FAST, 1, 1, 1, strings::strlen, "string", "2.2.0", "Get the length of the value stored in a key"),
    cmd!("getrange", 4, READONLY, 1, 1, 1, strings::getrange, "string", "2.4.0", "Get a substring of the string stored at a key"),
    cmd!("setrange", 4, WRITE | DENYOOM, 1, 1, 1, strings::setrange, "string", "2.2.0", "Overwrite part of a string at key starting at the specified offset"),
    cmd!("incr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, strings::incr, "string", "1.0.0", "Increment the integer value of a key by one"),
    cmd!("decr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, strings::decr, "string", "1.0.0", "Decrement the integer value of a key by one"),
    cmd!("incrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, strings::incrby, "string", "1.0.0", "Increment the integer value of a key by the given amount"),
    cmd!("decrby", 3, WRITE | DENYOOM | FAST, 1, 1, 1, strings::decrby, "string", "1.0.0", "Decrement the integer value of a key by the given number"),
    cmd!("incrbyfloat", 3, WRITE | DENYOOM | FAST, 1, 1, 1, strings::incrbyfloat, "string", "2.6.0", "Increment the float value of a key by the given amount"),
    cmd!("unlink", -2, WRITE | FAST, 1, -1, 1, keys::unlink, "generic", "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking."),
    cmd!("type", 2, READONLY | FAST, 1, 1, 1, keys::type_, "generic", "1.0.0", "Determine the type stored at key"),
    cmd!("rename", 3, WRITE, 1, 2, 1, keys::rename, "generic", "1.0.0", "Rename a key"),
    cmd!("renamenx", 3, WRITE | FAST, 1, 2, 1, keys::renamenx, "generic", "1.0.0", "Rename a key, only if the new key does not exist"),
    cmd!("expire", -3, WRITE | FAST, 1, 1, 1, keys::expire, "generic", "1.0.0", "Set a key's time to live in seconds"),
    cmd!("pexpire", -3, WRITE | FAST, 1, 1, 1, keys::pexpire, "generic", "2.6.0", "Set a key's time to live in milliseconds"),
    cmd!("expireat", -3, WRITE | FAST, 1, 1, 1, keys::expireat, "generic", "1.2.0", "Set the expiration for a key as a UNIX timestamp"),
    cmd!("pexpireat", -3, WRITE | FAST, 1, 1, 1, keys::pexpireat, "generic", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds"),
    cmd!("ttl", 2, READONLY | FAST, 1, 1, 1, keys::ttl, "generic", "1.0.0", "Get the time to live for a key in seconds"),
    cmd!("pttl", 2, READONLY | FAST, 1, 1, 1, keys::pttl, "generic", "2.6.0", "Get the time to live for a key in milliseconds"),
    cmd!("expiretime", 2, READONLY | FAST, 1, 1, 1, keys::expiretime, "generic", "7.0.0", "Get the expiration Unix timestamp for a key"),
    cmd!("pexpiretime", 2, READONLY | FAST, 1, 1, 1, keys::pexpiretime, "generic", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds"),
    cmd!("dump", 2, READONLY, 1, 1, 1, dump::dump, "generic", "2.6.0", "Return a serialized version of the value stored at the specified key."),
    cmd!("restore", -4, WRITE | DENYOOM, 1, 1, 1, dump::restore, "generic", "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP."),
    cmd!("restore-asking", -4, WRITE | DENYOOM | ASKING, 1, 1, 1, dump::restore, "server", "3.0.0", "An internal command for migrating keys in a cluster"),
    cmd!("persist", 2, WRITE | FAST, 1, 1, 1, keys::persist, "generic", "2.2.0", "Remove the expiration from a key"),
    cmd!("dbsize", 1, READONLY | FAST, 0, 0, 0, keys::dbsize, "server", "1.0.0", "Return the number of keys in the selected database"),
    cmd!("flushdb", -1, WRITE, 0, 0, 0, keys::flushdb, "server", "1.0.0", "Remove all keys from the current database"),
    cmd!("flushall", -1, WRITE, 0, 0, 0, keys::flushall, "server", "1.0.0", "Remove all keys from all databases"),
    cmd!("randomkey", 1, READONLY | RANDOM | TOUCHES_ARBITRARY_KEYS, 0, 0, 0, keys::randomkey, "generic", "1.0.0", "Return a random key from the keyspace"),
    cmd!("scan", -2, READONLY | RANDOM | TOUCHES_ARBITRARY_KEYS, 0, 0, 0, keys::scan, "generic", "2.8.0", "Incrementally iterate the keys space"),
    cmd!("keys", 2, READONLY, 0, 0, 0, keys::keys, "generic", "1.0.0", "Find all keys matching the given pattern"),
    cmd!("hset", -4, WRITE | DENYOOM | FAST, 1, 1, 1, hashes::hset, "hash", "2.0.0", "Set the string value of a hash field"),
    cmd!("hmset", -4, WRITE | DENYOOM | FAST, 1, 1, 1, hashes::hmset, "hash", "2.0.0", "Set multiple hash fields to multiple values"),
    cmd!("hget", 3, READONLY | FAST, 1, 1, 1, hashes::hget, "hash", "2.0.0", "Get the value of a hash field"),
    cmd!("hmget", -3, READONLY | FAST, 1, 1, 1, hashes::hmget, "hash", "2.0.0", "Get the values of all the given hash fields"),
    cmd!("hdel", -3, WRITE | FAST, 1, 1, 1, hashes::hdel, "hash", "2.0.0", "Delete one or more hash fields"),
    cmd!("hexists", 3, READONLY | FAST, 1, 1, 1, hashes::hexists, "hash", "2.0.0", "Determine if a hash field exists"),
    cmd!("hlen", 2, READONLY | FAST, 1, 1, 1, hashes::hlen, "hash", "2.0.0", "Get the number of fields in a hash"),
    cmd!("hgetall", 2, READONLY, 1, 1, 1, hashes::hgetall, "hash", "2.0.0", "Get all the fields and values in a hash"),
    cmd!("hkeys", 2, READONLY, 1, 1, 1, hashes::hkeys, "hash", "2.0.0", "Get all the fields in a hash"),
    cmd!("hvals", 2, READONLY, 1, 1, 1, hashes::hvals, "hash", "2.0.0", "Get all the values in a hash"),
    cmd!("hincrby", 4, WRITE | DENYOOM | FAST, 1, 1, 1, hashes::hincrby, "hash", "2.0.0", "Increment the integer value of a hash field by the given number"),
    cmd!("lpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, lists::lpush, "list", "1.0.0", "Prepend one or multiple elements to a list"),
    cmd!("rpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, lists::rpush, "list", "1.0.0", "Append one or multiple elements to a list"),
    cmd!("lpop", -2, WRITE | FAST, 1, 1, 1, lists::lpop, "list", "1.0.0", "Remove and get the first elements in a list"),
    cmd!("rpop", -2, WRITE | FAST, 1, 1, 1, lists::rpop, "list", "1.0.0", "Remove and get the last elements in a list"),
    cmd!("llen", 2, READONLY | FAST, 1, 1, 1, lists::llen, "list", "1.0.0", "Get the length of a list"),
    cmd!("lrange", 4, READONLY, 1, 1, 1, lists::lrange, "list", "1.0.0", "Get a range of elements from a list"),
    cmd!("lindex", 3, READONLY, 1, 1, 1, lists::lindex, "list", "1.0.0", "Get an element from a list by its index"),
    cmd!("ltrim", 4, WRITE, 1, 1, 1, lists::ltrim, "list", "1.0.0", "Trim a list to the specified range"),
    cmd!("sadd", -3, WRITE | DENYOOM | FAST, 1, 1, 1, sets::sadd, "set", "1.0.0", "Add one or more members to a set"),
    cmd!("srem", -3, WRITE | FAST, 1, 1, 1, sets::srem, "set", "1.0.0", "Remove one or more members from a set"),
    cmd!("sismember", 3, READONLY | FAST, 1, 1, 1, sets::sismember, "set", "1.0.0", "Determine if a given value is a member of a set"),
    cmd!("smembers", 2, READONLY, 1, 1, 1, sets::smembers, "set", "1.0.0", "Get all the members in a set"),
    cmd!("scard", 2, READONLY | FAST, 1, 1, 1, sets::scard, "set", "1.0.0", "Get the number of members in a set"),
    cmd!("spop", -2, WRITE | FAST | RANDOM, 1, 1, 1, sets::spop, "set", "1.0.0", "Remove and return one or multiple random members from a set"),
    cmd!("srandmember", -2, READONLY | RANDOM, 1, 1, 1, sets::srandmember, "set", "1.0.0", "Get one or multiple random members from a set"),
    cmd!("sinter", -2, READONLY, 1, -1, 1, sets::sinter, "set", "1.0.0", "Intersect multiple sets"),
    cmd!("sunion", -2, READONLY, 1, -1, 1, sets::sunion, "set", "1.0.0", "Add multiple sets"),
    cmd!("zadd", -4, WRITE | DENYOOM | FAST, 1, 1, 1, zsets::zadd, "sorted-set", "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists"),
    cmd!("zrem", -3, WRITE | FAST, 1, 1, 1, zsets::zrem, "sorted-set", "1.2.0", "Remove one or more members from a sorted set"),
    cmd!("zscore", 3, READONLY | FAST, 1, 1, 1, zsets::zscore, "sorted-set", "1.2.0", "Get the score associated with the given member in a sorted set"),
    cmd!("zincrby", 4, WRITE | DENYOOM | FAST, 1, 1, 1, zsets::zincrby, "sorted-set", "1.2.0", "Increment the score of a member in a sorted set"),
    cmd!("zcard", 2, READONLY | FAST, 1, 1, 1, zsets::zcard, "sorted-set", "1.2.0", "Get the number of members in a sorted set"),
    cmd!("zrange", -4, READONLY, 1, 1, 1, zsets::zrange, "sorted-set", "1.2.0", "Return a range of members in a sorted set"),
    cmd!("zrank", 3, READONLY | FAST, 1, 1, 1, zsets::zrank, "sorted-set", "2.0.0", "Determine the index of a member in a sorted set"),
    cmd!("zcount", 4, READONLY | FAST, 1, 1, 1, zsets::zcount, "sorted-set", "2.0.0", "Count the members in a sorted set with scores within the given values"),
    cmd!("multi", 1, NOSCRIPT | LOADING | STALE | FAST | NOT_QUEUED, 0, 0, 0, transactions::multi, "transactions", "1.2.0", "Mark the start of a transaction block"),
    cmd!("exec", 1, NOSCRIPT | LOADING | STALE | NOT_QUEUED, 0, 0, 0, transactions::exec, "transactions", "1.2.0", "Execute all commands issued after MULTI"),
    cmd!("discard", 1, NOSCRIPT | LOADING | STALE | FAST | NOT_QUEUED, 0, 0, 0, transactions::discard, "transactions", "2.0.0", "Discard all commands issued after MULTI"),
    cmd!("watch", -2, NOSCRIPT | LOADING | STALE | FAST | NOT_QUEUED, 1, -1, 1, transactions::watch, "transactions", "2.2.0", "Monitor changes to keys to determine execution of the MULTI/EXEC block"),
    cmd!("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST, 0, 0, 0, transactions::unwatch, "transactions", "2.2.0", "Forget about all watched keys"),
    cmd!("ping", -1, FAST | STALE, 0, 0, 0, server::ping, "connection", "1.0.0", "Ping the server"),
    cmd!("echo", 2, FAST | STALE | LOADING, 0, 0, 0, server::echo, "connection", "1.0.0", "Echo the given string"),
    cmd!("hello", -1, FAST | NOSCRIPT | LOADING | STALE, 0, 0, 0, server::hello, "connection", "6.0.0", "Handshake with Redis"),
    cmd!("select", 2, FAST | LOADING | STALE, 0, 0, 0, server::select, "connection", "1.0.0", "Change the selected database for the current connection"),
    cmd!("client", -2, 0, 0, 0, 0, server::client, "connection", "2.4.0", "A container for client connection commands"),
    cmd!("command", -1, LOADING | STALE, 0, 0, 0, server::command, "server", "2.8.13", "Get array of Redis command details"),
    cmd!("config", -2, 0, 0, 0, 0, server::config, "server", "2.0.0", "A container for server configuration commands"),
    cmd!("info", -1, LOADING | STALE, 0, 0, 0, server::info, "server", "1.0.0", "Get information and statistics about the server"),
    cmd!("cluster", -2, 0, 0, 0, 0, server::cluster, "cluster", "3.0.0", "A container for cluster commands"),
    cmd!("asking", 1, FAST, 0, 0, 0, server::asking, "cluster", "3.0.0", "Sent by cluster clients after an -ASK redirect"),
    cmd!("readonly", 1, FAST | LOADING | STALE, 0, 0, 0, server::readonly, "cluster", "3.0.0", "Enables read queries for a connection to a Redis Cluster replica node"),
    cmd!("readwrite", 1, FAST | LOADING | STALE, 0, 0, 0, server::readonly, "cluster", "3.0.0", "Enables read-write queries for a connection to a Redis Cluster replica node"),
];

/// Finds a command by its lowercase name.
#[inline]
pub(crate) fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    // The simulator's hot path: GET and SET, the first two entries of the table.
    if let [a, b, c] = name {
        let word = [
            a.to_ascii_lowercase(),
            b.to_ascii_lowercase(),
            c.to_ascii_lowercase(),
        ];
        match &word {
            b"get" => return COMMANDS.first(),
            b"set" => return COMMANDS.get(1),
            _ => {}
        }
    }
    let mut lower = [0u8; 24];
    if name.len() > lower.len() {
        return None;
    }
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    let lower = &lower[..name.len()];
    COMMANDS.iter().find(|c| c.name.as_bytes() == lower)
}

/// The bytes of an argument (a synthetic argument is materialized: only values are
/// synthetic in practice, and commands that parse values need their bytes).
pub(crate) fn bytes<'a>(arg: &'a Arg<'_>) -> Cow<'a, [u8]> {
    match arg {
        Arg::Bytes(b) => Cow::Borrowed(b),
        Arg::Synthetic { .. } => Cow::Owned(arg.to_blob().to_vec()),
    }
}

/// Case-insensitive comparison of an option argument with a lowercase word.
pub(crate) fn is(arg: &Arg<'_>, word: &str) -> bool {
    match arg {
        Arg::Bytes(b) => b.eq_ignore_ascii_case(word.as_bytes()),
        Arg::Synthetic { .. } => false,
    }
}

/// Parses an integer argument (Redis's getLongLongFromObjectOrReply).
pub(crate) fn int_arg(arg: &Arg<'_>) -> Result<i64, Reply> {
    crate::numbers::parse_i64(&bytes(arg)).ok_or_else(|| Reply::error(NOT_INTEGER))
}

/// Parses a float argument (Redis's getDoubleFromObjectOrReply).
pub(crate) fn float_arg(arg: &Arg<'_>) -> Result<f64, Reply> {
    crate::numbers::parse_f64(&bytes(arg)).ok_or_else(|| Reply::error(NOT_FLOAT))
}

pub(crate) fn arity_error(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// Text of an argument for error messages, lossy for non-UTF-8 bytes.
pub(crate) fn text(arg: &Arg<'_>) -> String {
    String::from_utf8_lossy(&bytes(arg)).into_owned()
}

fn unknown_command(argv: &[Arg<'_>]) -> Reply {
    let name = bytes(&argv[0]);
    let name = String::from_utf8_lossy(&name[..name.len().min(128)]).into_owned();
    let mut args = String::new();
    for arg in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let a = bytes(arg);
        args.push('\'');
        args.push_str(&String::from_utf8_lossy(&a[..a.len().min(room)]));
        args.push_str("' ");
    }
    let message = format!("ERR unknown command '{name}', with args beginning with: {args}");
    Reply::error(message.replace(['\r', '\n'], " "))
}

/// The keys a command touches, per its (first, last, step) key positions.
pub(crate) fn command_keys<'a, 'b>(
    spec: &CommandSpec,
    argv: &'a [Arg<'b>],
) -> impl Iterator<Item = &'a Arg<'b>> {
    let argc = argv.len() as i32;
    let first = spec.first_key;
    let last = if spec.last_key < 0 {
        argc + spec.last_key
    } else {
        spec.last_key
    };
    let step = spec.key_step.max(1);
    let range = if first == 0 {
        0..0
    } else {
        first..(last + 1).min(argc)
    };
    range.step_by(step as usize).map(move |i| &argv[i as usize])
}

/// Cluster redirection (Redis's getNodeByQuery): CROSSSLOT, MOVED, ASK, CLUSTERDOWN.
fn cluster_redirect(
    ctx: &mut Ctx<'_>,
    spec: &CommandSpec,
    argv: &[Arg<'_>],
    slot_hint: Option<u16>,
) -> Option<Reply> {
    // The simulator's hot path, answered as the general walk below would: one key, in a
    // slot this node owns, and no key with an expiry (so no lookup is due).
    if spec.first_key == 1 && spec.last_key == 1 && ctx.db.keyspace.expires.is_empty() {
        if let (Some(Arg::Bytes(key)), Some(table)) = (argv.get(1), ctx.db.slots.as_deref()) {
            let slot = match slot_hint {
                Some(slot) => {
                    debug_assert_eq!(slot, key_hash_slot(key), "a wrong slot hint");
                    slot
                }
                None => key_hash_slot(key),
            };
            if matches!(table.state(slot), SlotState::Owned) {
                ctx.session.asking = false;
                return None;
            }
        }
    }
    let mut slot: Option<u16> = None;
    let mut missing_keys = 0;
    let mut total_keys = 0;
    for key in command_keys(spec, argv) {
        let key = bytes(key);
        let s = key_hash_slot(&key);
        match slot {
            None => slot = Some(s),
            Some(prev) if prev != s => {
                return Some(Reply::error(
                    "CROSSSLOT Keys in request don't hash to the same slot",
                ));
            }
            _ => {}
        }
        total_keys += 1;
        // Only a migrating slot counts missing keys (as getNodeByQuery looks keys up only
        // then), but the lookup also lazily deletes an expired key, so it must still run
        // whenever some key has an expiry. Skipping it otherwise changes nothing and
        // spares the simulator's hot path a second keyspace probe per request.
        let migrating = matches!(
            ctx.db.slots.as_deref().map(|t| t.state(s)),
            Some(SlotState::Migrating(_))
        );
        if (migrating || !ctx.db.keyspace.expires.is_empty())
            && ctx.db.find(&key, ctx.now_ms).is_none()
        {
            missing_keys += 1;
        }
    }
    let slot = slot?;
    let asking = std::mem::take(&mut ctx.session.asking) || spec.flags & ASKING != 0;
    let table = ctx.db.slots.as_ref()?;
    match table.state(slot) {
        SlotState::Owned => None,
        SlotState::Migrating(node) => {
            if missing_keys > 0 && missing_keys == total_keys {
                Some(Reply::error(format!("ASK {slot} {}", table.addr(node))))
            } else if missing_keys > 0 {
                Some(Reply::error(
                    "TRYAGAIN Multiple keys request during rehashing of slot",
                ))
            } else {
                None
            }
        }
        // Without ASKING, an importing slot is its owner's, still the source
        // (getNodeByQuery's base case: MOVED to `server.cluster->slots[slot]`).
        SlotState::Importing if asking => None,
        SlotState::Importing => match table.owner_state(slot) {
            SlotState::Elsewhere(node) => {
                Some(Reply::error(format!("MOVED {slot} {}", table.addr(node))))
            }
            SlotState::Unassigned => Some(Reply::error("CLUSTERDOWN Hash slot not served")),
            _ => None,
        },
        SlotState::Elsewhere(node) => {
            Some(Reply::error(format!("MOVED {slot} {}", table.addr(node))))
        }
        SlotState::Unassigned => Some(Reply::error("CLUSTERDOWN Hash slot not served")),
    }
}

pub(crate) fn dispatch(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    // A hint is for this command only, whatever becomes of it.
    let slot_hint = ctx.session.slot_hint.take();
    let Some(first) = argv.first() else {
        return Reply::error("ERR empty command");
    };
    let spec = match first {
        Arg::Bytes(name) => find_command(name),
        Arg::Synthetic { .. } => None,
    };
    let Some(spec) = spec else {
        return reject(ctx, None, unknown_command(argv));
    };
    let argc = argv.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        return reject(ctx, Some(spec), arity_error(spec.name));
    }
    ctx.db.stats.total_commands_processed += 1;
    let from_master = ctx.db.applying_master;
    if ctx.db.config.cluster_enabled && spec.first_key != 0 && !from_master {
        if let Some(redirect) = cluster_redirect(ctx, spec, argv, slot_hint) {
            return reject(ctx, Some(spec), redirect);
        }
    }
    if ctx.db.config.maxmemory_bytes > 0 && !ctx.db.replica {
        let ok = ctx.db.perform_evictions(ctx.now_ms, ctx.rng);
        let is_exec = spec.name == "exec";
        let denyoom = if is_exec {
            ctx.session.multi().is_some_and(|m| m.flags & DENYOOM != 0)
        } else {
            spec.flags & DENYOOM != 0 || (ctx.session.multi().is_some() && spec.name != "discard")
        };
        if !ok && denyoom && !from_master {
            return reject(ctx, Some(spec), Reply::error(OOM));
        }
    }
    if ctx.db.replica && !from_master {
        let is_write = spec.flags & WRITE != 0
            || (spec.name == "exec" && ctx.session.multi().is_some_and(|m| m.flags & WRITE != 0));
        if is_write {
            return reject(ctx, Some(spec), Reply::error(READONLY_REPLICA));
        }
    }
    if let Some(multi) = ctx.session.multi_mut() {
        if spec.flags & NOT_QUEUED == 0 {
            if !multi.dirty_exec {
                multi.queued.push(argv.iter().map(Arg::to_blob).collect());
                multi.flags |= spec.flags;
            }
            return Reply::simple("QUEUED");
        }
    }
    let reply = call(ctx, spec, argv);
    // afterCommand: the top-level call propagates what it accumulated.
    if let Some(p) = ctx.db.propagation.as_deref_mut() {
        p.flush(spec.flags & TOUCHES_ARBITRARY_KEYS == 0);
    }
    if ctx.db.evict_after_command {
        ctx.db.evict_after_command = false;
        ctx.db.perform_evictions(ctx.now_ms, ctx.rng);
    }
    reply
}

/// rejectCommand: a command refused before it ran fails the transaction it was to be
/// queued in, and aborts an EXEC outright.
#[cold]
fn reject(ctx: &mut Ctx<'_>, spec: Option<&CommandSpec>, error: Reply) -> Reply {
    let is_exec = spec.is_some_and(|s| s.name == "exec");
    if is_exec && ctx.session.multi().is_some() {
        transactions::discard_transaction(ctx);
        let Reply::Error(text) = &error else {
            return error;
        };
        return Reply::error(format!(
            "EXECABORT Transaction discarded because of: {text}"
        ));
    }
    if let Some(multi) = ctx.session.multi_mut() {
        multi.dirty_exec = true;
    }
    error
}

/// call(): runs the handler; when propagation is on and the command changed the dataset
/// (Redis's `server.dirty` moved), queues its argv, or what it rewrote it to, after the
/// effects it queued itself.
#[inline]
pub(crate) fn call(ctx: &mut Ctx<'_>, spec: &CommandSpec, argv: &[Arg<'_>]) -> Reply {
    let dirty_before = ctx.db.dirty;
    let reply = (spec.handler)(ctx, argv);
    if ctx.db.dirty != dirty_before
        && !ctx.db.watches.is_empty()
        && spec.first_key == 1
        && spec.last_key == 1
    {
        // signalModifiedKey for the single-key commands that change a value in place
        // (the keyspace primitives signal additions, deletions and expiries).
        if let Some(key) = argv.get(1) {
            ctx.db.touch_watched(&bytes(key));
        }
    }
    if let Some(p) = ctx.db.propagation.as_deref_mut() {
        let rewrite = p.rewrite.take();
        let prevent = std::mem::take(&mut p.prevent);
        if ctx.db.dirty != dirty_before && !prevent {
            p.pending
                .push(rewrite.unwrap_or_else(|| argv.iter().map(Arg::to_blob).collect()));
        }
    }
    reply
}

/// lookupKeyRead: finds a live key for reading, counts a keyspace hit or miss, and
/// records the access (materializing a prefilled key only when the policy needs the
/// access metadata for eviction).
#[inline]
pub(crate) fn lookup_read(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<crate::db::Found> {
    use crate::db::Found;
    let found = ctx.db.find(key, ctx.now_ms);
    match found {
        Some(Found::Stored(pos)) => {
            ctx.db.stats.keyspace_hits += 1;
            ctx.db.touch(pos, ctx.now_ms, ctx.rng);
            found
        }
        Some(Found::Prefilled { range, index }) => {
            ctx.db.stats.keyspace_hits += 1;
            if ctx.db.config.maxmemory_policy.needs_access_metadata() {
                let pos = ctx.db.materialize(range, index, key);
                ctx.db.touch(pos, ctx.now_ms, ctx.rng);
                Some(Found::Stored(pos))
            } else {
                found
            }
        }
        None => {
            ctx.db.stats.keyspace_misses += 1;
            None
        }
    }
}

/// lookupKeyWrite: finds a live key for writing, storing it if it was a prefilled
/// default, and records the access.
#[inline]
pub(crate) fn lookup_write(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<usize> {
    let pos = ctx.db.find_stored(key, ctx.now_ms)?;
    ctx.db.touch(pos, ctx.now_ms, ctx.rng);
    Some(pos)
}

/// The stored value at `pos`.
pub(crate) fn value_at<'a>(ctx: &'a Ctx<'_>, pos: usize) -> &'a crate::value::Value {
    &ctx.db.keyspace.entry(pos).value
}
