//! Robustness: arbitrary command lines built from every command name and a pool of
//! awkward arguments (extreme integers, floats, NaN/inf spellings, empty strings, option
//! words, range markers) never panic, whatever the policy or cluster mode.

use proptest::prelude::*;
use rand::SeedableRng;
use store_core::{Arg, Blob, Config, Db, EvictionPolicy, Reply, Session, ShardedDb};

const NAMES: &[&str] = &[
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "GET",
    "SET",
    "DEL",
    "EXISTS",
    "MGET",
    "MSET",
    "MSETNX",
    "SETNX",
    "SETEX",
    "PSETEX",
    "GETSET",
    "GETDEL",
    "GETEX",
    "APPEND",
    "STRLEN",
    "GETRANGE",
    "SETRANGE",
    "INCR",
    "DECR",
    "INCRBY",
    "DECRBY",
    "INCRBYFLOAT",
    "UNLINK",
    "TYPE",
    "RENAME",
    "RENAMENX",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "PERSIST",
    "DBSIZE",
    "FLUSHDB",
    "RANDOMKEY",
    "SCAN",
    "KEYS",
    "HSET",
    "HMSET",
    "HGET",
    "HMGET",
    "HDEL",
    "HEXISTS",
    "HLEN",
    "HGETALL",
    "HKEYS",
    "HVALS",
    "HINCRBY",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "LLEN",
    "LRANGE",
    "LINDEX",
    "LTRIM",
    "SADD",
    "SREM",
    "SISMEMBER",
    "SMEMBERS",
    "SCARD",
    "SPOP",
    "SRANDMEMBER",
    "SINTER",
    "SUNION",
    "ZADD",
    "ZREM",
    "ZSCORE",
    "ZINCRBY",
    "ZCARD",
    "ZRANGE",
    "ZRANK",
    "ZCOUNT",
    "PING",
    "ECHO",
    "HELLO",
    "SELECT",
    "CLIENT",
    "COMMAND",
    "CONFIG",
    "INFO",
    "CLUSTER",
    "ASKING",
    "NOSUCH",
];

const TOKENS: &[&str] = &[
    "k1",
    "k2",
    "k3",
    "{k}1",
    "0",
    "1",
    "-1",
    "2",
    "3",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "1.5",
    "-0",
    "0.1",
    "1e400",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "",
    " ",
    "abc",
    "0x10",
    "(1",
    "[a",
    "(a",
    "-",
    "+",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "WITHSCORES",
    "LIMIT",
    "BYSCORE",
    "BYLEX",
    "REV",
    "MATCH",
    "COUNT",
    "TYPE",
    "*",
    "k*",
    "[",
    "\\",
    "SETNAME",
    "AUTH",
    "GETNAME",
    "ID",
    "KEYSLOT",
    "maxmemory",
    "maxmemory-policy",
    "allkeys-lfu",
    "maxmemory-samples",
    "DOCS",
    "INFO",
    "3",
    "SLOTS",
    "string",
    "list",
    "zset",
];

fn line() -> impl Strategy<Value = Vec<String>> {
    (
        proptest::sample::select(NAMES),
        proptest::collection::vec(proptest::sample::select(TOKENS), 0..7),
        proptest::option::of(0usize..5000),
    )
        .prop_map(|(name, args, long)| {
            let mut v = vec![name.to_string()];
            v.extend(args.iter().map(|s| s.to_string()));
            if let Some(n) = long {
                v.push("x".repeat(n));
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// No sequence of command lines makes the store panic, in standalone mode with no
    /// limit, under a tiny maxmemory with each sampled policy, as a cluster node, or as
    /// a replica applying lines from its master's stream and refusing clients' writes
    /// (propagation on in some modes, transactions included); and every reply to an
    /// unknown command is an error.
    #[test]
    fn arbitrary_commands_never_panic(lines in proptest::collection::vec(line(), 1..60), mode in 0u8..5) {
        let config = match mode {
            0 => Config::default(),
            1 => Config { maxmemory_bytes: 1_000_000, maxmemory_policy: EvictionPolicy::AllKeysLfu, ..Config::default() },
            2 => Config { maxmemory_bytes: 900_000, maxmemory_policy: EvictionPolicy::VolatileTtl, ..Config::default() },
            _ => Config { cluster_enabled: true, ..Config::default() },
        };
        let mut db = Db::new(config);
        if mode == 3 {
            db.set_owned_slots(0..9000);
        }
        db.set_propagation(mode % 2 == 1);
        db.set_replica(mode == 4);
        let mut propagated = Vec::new();
        let mut session = Session::new(1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut now = 1_764_000_000_000u64;
        for args in &lines {
            now += 700;
            let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a.as_bytes())).collect();
            if mode == 4 && now % 1400 == 0 {
                let cmd: Vec<Blob> = args.iter().map(|a| Blob::from_slice(a.as_bytes())).collect();
                db.apply_replicated(&cmd, now, &mut rng);
            } else {
                let reply = db.execute(&mut session, &argv, now, &mut rng);
                if args[0] == "NOSUCH" {
                    prop_assert!(matches!(reply, Reply::Error(_)));
                }
            }
            db.active_expire_cycle(now, &mut rng);
            db.drain_propagated(&mut propagated);
            propagated.clear();
        }
    }

    /// The same for a thread-per-core store of 2 to 5 shards (standalone, under a tiny
    /// maxmemory, or a cluster node owning some slots): no command line panics it, its
    /// routing, splitting, gathering, SCAN cursors and CLUSTER aggregation included,
    /// and an unknown command is an error.
    #[test]
    fn arbitrary_commands_never_panic_on_thread_shards(
        lines in proptest::collection::vec(line(), 1..60),
        mode in 0u8..3,
        shards in 2usize..6,
    ) {
        let config = match mode {
            0 => Config::default(),
            1 => Config { maxmemory_bytes: 4_000_000, maxmemory_policy: EvictionPolicy::AllKeysLru, ..Config::default() },
            _ => Config { cluster_enabled: true, ..Config::default() },
        };
        let mut db = ShardedDb::new(config, shards);
        if mode == 2 {
            for shard in db.shards_mut() {
                shard.set_owned_slots(0..9000);
            }
        }
        let mut session = Session::new(1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut now = 1_764_000_000_000u64;
        for args in &lines {
            now += 700;
            let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a.as_bytes())).collect();
            let reply = db.execute(&mut session, &argv, now, &mut rng);
            if args[0] == "NOSUCH" {
                prop_assert!(matches!(reply, Reply::Error(_)));
            }
            db.active_expire_cycle(now, &mut rng);
        }
    }
}
