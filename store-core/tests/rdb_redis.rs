//! `store_core::rdb` against redis-server 7.0.15: (a) an RDB written from a Db holding
//! every type and encoding, expiries and prefilled ranges is loaded by redis-server
//! (which checks its CRC64 and structure), and every key, type, value and expiry it then
//! answers matches the Db's; (b) the same commands sent to redis-server and to a Db give
//! RDB files of the same size, on the data shapes `memory.rs` measures `used_memory` on
//! and on memtier-like values of each fill.
//!
//! Each test starts its own redis-server on a free loopback port with its own scratch
//! directory, waits for it by reading its log line (bounded by a timeout), and kills it
//! and removes the directory when done.

use rand::SeedableRng;
use std::io::Write;

use store_core::rdb::{rdb_len, write_rdb, RdbInfo};
use store_core::resp::{encode, encode_request, parse_frame, Frame, Protocol};
use store_core::{Arg, Blob, Config, Db, EvictionPolicy, PrefillRange, Session, SyntheticFill};

#[path = "support/redis.rs"]
mod redis;
use redis::*;

impl Client {
    /// Sends the commands in batches, each batch's replies read before the next, and
    /// checks none is an error.
    fn pipeline(&mut self, commands: &[Vec<Vec<u8>>]) {
        for batch in commands.chunks(500) {
            let mut wire = Vec::new();
            for cmd in batch {
                encode_request(cmd, &mut wire);
            }
            self.stream.write_all(&wire).expect("send");
            for cmd in batch {
                let reply = self.read_frame();
                assert!(
                    !matches!(reply, Frame::Error(_)),
                    "{:?} -> {reply:?}",
                    cmd.iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}

/// A command for both sides: real bytes, or a synthetic value the Db keeps synthetic
/// and redis-server receives materialized.
#[derive(Clone)]
enum A {
    B(Vec<u8>),
    S { len: u64, seed: u64 },
}

fn b(s: impl AsRef<[u8]>) -> A {
    A::B(s.as_ref().to_vec())
}

fn run_on_db(db: &mut Db, commands: &[Vec<A>]) {
    let mut session = Session::new(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for cmd in commands {
        let argv: Vec<Arg<'_>> = cmd
            .iter()
            .map(|a| match a {
                A::B(bytes) => Arg::Bytes(bytes),
                A::S { len, seed } => Arg::Synthetic {
                    len: *len,
                    seed: *seed,
                },
            })
            .collect();
        let reply = db.execute(&mut session, &argv, NOW_MS, &mut rng);
        assert!(!reply.is_error(), "{reply:?}");
    }
}

fn materialized(commands: &[Vec<A>]) -> Vec<Vec<Vec<u8>>> {
    commands
        .iter()
        .map(|cmd| {
            cmd.iter()
                .map(|a| match a {
                    A::B(bytes) => bytes.clone(),
                    A::S { len, seed } => Blob::Synthetic {
                        len: *len,
                        seed: *seed,
                    }
                    .to_vec(),
                })
                .collect()
        })
        .collect()
}

/// The Db's reply to a command, as the frame redis-server would send.
fn db_frame(db: &mut Db, args: &[&[u8]]) -> Frame {
    let mut session = Session::new(2);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a)).collect();
    let reply = db.execute(&mut session, &argv, NOW_MS, &mut rng);
    let mut wire = Vec::new();
    encode(&reply, Protocol::Resp2, &mut wire);
    parse_frame(&wire)
        .expect("our reply parses")
        .expect("whole")
        .0
}

/// An array's elements sorted (for replies whose order is a hashtable's), or pairs of
/// elements sorted as pairs.
fn sorted(frame: Frame, pairs: bool) -> Vec<Vec<Frame>> {
    let Frame::Array(items) = frame else {
        return vec![vec![frame]];
    };
    let chunk = if pairs { 2 } else { 1 };
    let mut out: Vec<Vec<Frame>> = items.chunks(chunk).map(<[Frame]>::to_vec).collect();
    out.sort_by_key(|f| format!("{f:?}"));
    out
}

/// The mixed dataset: every type and encoding, integers, synthetic fills, expiries.
fn mixed_commands() -> Vec<Vec<A>> {
    let mut c: Vec<Vec<A>> = Vec::new();
    let set = |k: &str, v: A| vec![b("SET"), b(k), v];
    c.push(set("int:small", b("42")));
    c.push(set("int:negative", b("-5000")));
    c.push(set("int:64bit", b("1234567890123")));
    c.push(set("int:min", b(i64::MIN.to_string())));
    c.push(set("str:short", b("hello")));
    c.push(set("str:leading-zero", b("007")));
    c.push(set("str:embstr", b("e".repeat(40))));
    c.push(set("str:compressible", b("v".repeat(100))));
    c.push(set(
        "str:text",
        b("the quick brown fox jumps over the lazy dog, twice: the quick brown fox"),
    ));
    c.push(set("str:empty", b("")));
    c.push(set("str:binary", A::B((0..=255u8).collect())));
    for (i, fill) in [
        SyntheticFill::Letters,
        SyntheticFill::Repeat(b'x'),
        SyntheticFill::Random,
        SyntheticFill::MemtierRandom,
    ]
    .into_iter()
    .enumerate()
    {
        for len in [5u64, 21, 1000, 30_000] {
            c.push(set(
                &format!("syn:{i}:{len}"),
                A::S {
                    len,
                    seed: fill.seed(len),
                },
            ));
        }
    }
    c.push(set(
        "syn:digits",
        A::S {
            len: 5,
            seed: SyntheticFill::Repeat(b'7').seed(0),
        },
    ));
    c.push(vec![b("APPEND"), b("str:appended"), b("12")]);
    c.push(vec![b("INCR"), b("int:counter")]);
    // Hashes: listpack (small), hashtable (many fields; a long value).
    let mut h = vec![b("HSET"), b("hash:listpack")];
    for j in 0..10 {
        h.push(b(format!("field:{j}")));
        h.push(if j % 3 == 0 {
            b(j.to_string())
        } else {
            b(format!("value-{j}-abcdef"))
        });
    }
    h.push(b("synthetic"));
    h.push(A::S {
        len: 40,
        seed: SyntheticFill::Repeat(b'q').seed(0),
    });
    c.push(h);
    // Over hash-max-listpack-entries, 512 in redis-server's compiled-in defaults.
    let mut h = vec![b("HSET"), b("hash:table")];
    for j in 0..600 {
        h.push(b(format!("f{j}")));
        h.push(b(format!("{}", j * 7)));
    }
    c.push(h);
    let mut h = vec![b("HSET"), b("hash:200-fields")];
    for j in 0..200 {
        h.push(b(format!("f{j}")));
        h.push(b("v"));
    }
    c.push(h);
    c.push(vec![
        b("HSET"),
        b("hash:long-value"),
        b("a"),
        b("b".repeat(100)),
        b("c"),
        b("1"),
    ]);
    c.push(vec![b("HDEL"), b("hash:listpack"), b("field:4")]);
    // Lists: one node; many nodes; large synthetic elements (a node each).
    c.push(vec![
        b("RPUSH"),
        b("list:small"),
        b("1"),
        b("-77"),
        b("text"),
        b("100000"),
        b("9999999999"),
    ]);
    c.push(vec![b("LPUSH"), b("list:small"), b("head")]);
    let mut l = vec![b("RPUSH"), b("list:nodes")];
    l.extend((0..3000).map(|j| b(format!("element-{j:012}"))));
    c.push(l);
    let mut l = vec![b("RPUSH"), b("list:synthetic")];
    l.extend((0..5).map(|j| A::S {
        len: 5000,
        seed: SyntheticFill::Random.seed(j),
    }));
    c.push(l);
    // Sets: intsets of each width, hashtables of strings and of many integers.
    c.push(vec![b("SADD"), b("set:i16"), b("1"), b("-2"), b("300")]);
    c.push(vec![
        b("SADD"),
        b("set:i32"),
        b("1"),
        b("70000"),
        b("-70000"),
    ]);
    c.push(vec![b("SADD"), b("set:i64"), b("1"), b("5000000000")]);
    let mut s = vec![b("SADD"), b("set:table")];
    s.extend((0..50).map(|j| b(format!("member:{j}"))));
    c.push(s);
    let mut s = vec![b("SADD"), b("set:many-ints")];
    s.extend((0..600).map(|j| b(j.to_string())));
    c.push(s);
    // Sorted sets: listpack with fractional, integer and infinite scores; skiplists.
    c.push(vec![
        b("ZADD"),
        b("zset:listpack"),
        b("1.5"),
        b("a"),
        b("2"),
        b("b"),
        b("-inf"),
        b("c"),
        b("inf"),
        b("d"),
        b("1e300"),
        b("e"),
        b("0.1"),
        b("f"),
    ]);
    let mut z = vec![b("ZADD"), b("zset:skiplist")];
    for j in 0..200 {
        z.push(b(format!("{}", f64::from(j) / 3.0)));
        z.push(b(format!("member:{j}")));
    }
    c.push(z);
    c.push(vec![
        b("ZADD"),
        b("zset:long-member"),
        b("1"),
        b("m".repeat(100)),
    ]);
    // Expiries.
    for (j, key) in [
        "int:small",
        "str:compressible",
        "hash:table",
        "list:small",
        "set:i16",
        "zset:listpack",
        "syn:1:1000",
    ]
    .iter()
    .enumerate()
    {
        c.push(vec![
            b("PEXPIREAT"),
            b(key),
            b((FAR_FUTURE_MS + j as u64 * 1000).to_string()),
        ]);
    }
    c
}

fn prefill_mixed(db: &mut Db) {
    let ranges = [
        PrefillRange::fixed("pre:x:", 2000, 500, 1).with_fill(SyntheticFill::Repeat(b'x')),
        PrefillRange::fixed("pre:r:", 500, 100, 2).with_fill(SyntheticFill::Random),
        PrefillRange::fixed("pre:l:", 300, 30, 3),
    ];
    for range in ranges {
        db.prefill(range).expect("prefix free");
    }
    run_on_db(
        db,
        &[
            vec![b("SET"), b("pre:x:5"), b("overridden")],
            vec![b("DEL"), b("pre:r:7")],
            vec![
                b("PEXPIREAT"),
                b("pre:l:9"),
                b((FAR_FUTURE_MS + 77).to_string()),
            ],
        ],
    );
}

fn keys(frame: Frame) -> Vec<Vec<u8>> {
    let Frame::Array(items) = frame else {
        panic!("KEYS answers an array: {frame:?}")
    };
    let mut keys: Vec<Vec<u8>> = items
        .into_iter()
        .map(|f| match f {
            Frame::Bulk(k) => k,
            other => panic!("a key: {other:?}"),
        })
        .collect();
    keys.sort();
    keys
}

/// Loads an RDB written from `db` into redis-server and compares every key.
fn check_loads_into_redis(name: &str, db: &mut Db, extra: &[&str]) {
    let mut file = Vec::new();
    let info = RdbInfo::replication("0123456789abcdef0123456789abcdef01234567", 987_654);
    write_rdb(db, NOW_MS, &info, &mut file);
    assert_eq!(rdb_len(db, NOW_MS, &info), file.len() as u64);
    let redis = Redis::start(
        name,
        |dir| std::fs::write(dir.join("dump.rdb"), &file).expect("write dump.rdb"),
        extra,
    );
    let mut client = redis.client();
    let ours = keys(db_frame(db, &[b"KEYS", b"*"]));
    let theirs = keys(client.call(&[b"KEYS", b"*"]));
    assert_eq!(ours.len() as u64, db.dbsize());
    assert_eq!(theirs, ours, "the same keys");
    for key in &ours {
        let name = String::from_utf8_lossy(key);
        let kind = db_frame(db, &[b"TYPE", key]);
        assert_eq!(client.call(&[b"TYPE", key]), kind, "TYPE {name}");
        let Frame::Simple(kind) = kind else {
            panic!("TYPE {name}: {kind:?}")
        };
        let (read, pairs, ordered): (Vec<&[u8]>, bool, bool) = match kind.as_slice() {
            b"string" => (vec![b"GET", key], false, true),
            b"hash" => (vec![b"HGETALL", key], true, false),
            b"list" => (vec![b"LRANGE", key, b"0", b"-1"], false, true),
            b"set" => (vec![b"SMEMBERS", key], false, false),
            b"zset" => (
                vec![b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"],
                false,
                true,
            ),
            other => panic!("{name}: unexpected type {other:?}"),
        };
        let (ours, theirs) = (db_frame(db, &read), client.call(&read));
        if ordered {
            assert_eq!(theirs, ours, "{name}");
        } else {
            assert_eq!(sorted(theirs, pairs), sorted(ours, pairs), "{name}");
        }
        assert_eq!(
            client.call(&[b"PEXPIRETIME", key]),
            db_frame(db, &[b"PEXPIRETIME", key]),
            "PEXPIRETIME {name}"
        );
    }
}

/// (a) redis-server loads what `write_rdb` writes and holds the same keys, types,
/// values and expiries; encodings are the ones the store chose.
#[test]
fn redis_server_loads_our_rdb_with_every_key_intact() {
    let mut db = Db::new(Config::default());
    prefill_mixed(&mut db);
    run_on_db(&mut db, &mixed_commands());
    check_loads_into_redis("load", &mut db, &[]);

    let redis_encoding = {
        let mut file = Vec::new();
        write_rdb(&db, NOW_MS, &RdbInfo::default(), &mut file);
        let redis = Redis::start(
            "encodings",
            |dir| std::fs::write(dir.join("dump.rdb"), &file).expect("write dump.rdb"),
            &[],
        );
        let mut client = redis.client();
        let expected: &[(&str, &str)] = &[
            ("int:small", "int"),
            ("int:64bit", "int"),
            ("str:compressible", "raw"),
            ("hash:listpack", "listpack"),
            ("hash:table", "hashtable"),
            ("hash:long-value", "hashtable"),
            ("hash:200-fields", "listpack"),
            ("list:nodes", "quicklist"),
            ("set:i64", "intset"),
            ("set:table", "hashtable"),
            ("set:many-ints", "hashtable"),
            ("zset:listpack", "listpack"),
            ("zset:skiplist", "skiplist"),
            ("zset:long-member", "skiplist"),
        ];
        expected
            .iter()
            .map(|(key, enc)| {
                let got = client.call(&[b"OBJECT", b"ENCODING", key.as_bytes()]);
                (key.to_string(), got, Frame::Bulk(enc.as_bytes().to_vec()))
            })
            .collect::<Vec<_>>()
    };
    for (key, got, want) in redis_encoding {
        assert_eq!(got, want, "OBJECT ENCODING {key}");
    }
}

/// (a) with the access metadata opcodes: LRU idle times under allkeys-lru, LFU counters
/// under allkeys-lfu.
#[test]
fn redis_server_loads_idle_times_and_frequencies() {
    for (policy, name) in [
        (EvictionPolicy::AllKeysLru, "allkeys-lru"),
        (EvictionPolicy::AllKeysLfu, "allkeys-lfu"),
    ] {
        let mut db = Db::new(Config {
            maxmemory_policy: policy,
            ..Config::default()
        });
        prefill_mixed(&mut db);
        run_on_db(&mut db, &mixed_commands());
        check_loads_into_redis(name, &mut db, &["--maxmemory-policy", name]);
    }
}

/// The datasets of `memory.rs` (as `record_memory.py` builds them), and memtier-like
/// values of each fill.
fn size_datasets() -> Vec<(&'static str, Vec<Vec<A>>)> {
    let key = |i: u64| b(format!("key:{i:012}"));
    let mut sets = vec![
        (
            "strings_100k_16b_keys_100b_values",
            (0..100_000)
                .map(|i| vec![b("SET"), key(i), b("v".repeat(100))])
                .collect(),
        ),
        (
            "strings_100k_1000b_values",
            (0..100_000)
                .map(|i| vec![b("SET"), key(i), b("v".repeat(1000))])
                .collect(),
        ),
        (
            "strings_100k_with_ttl",
            (0..100_000)
                .map(|i| vec![b("SET"), key(i), b("v".repeat(100)), b("EX"), b("100000")])
                .collect(),
        ),
        (
            "integers_100k",
            (0..100_000)
                .map(|i| vec![b("SET"), key(i), b(i.to_string())])
                .collect(),
        ),
        (
            "hashes_10k_10_fields",
            (0..10_000)
                .map(|i| {
                    let mut c = vec![b("HSET"), b(format!("hash:{i:08}"))];
                    for j in 0..10 {
                        c.push(b(format!("field:{j}")));
                        c.push(b(format!("value-{j}-abcdef")));
                    }
                    c
                })
                .collect(),
        ),
        (
            "lists_10k_100_elements",
            (0..10_000)
                .map(|i| {
                    let mut c = vec![b("RPUSH"), b(format!("list:{i:08}"))];
                    c.extend((0..100).map(|j| b(format!("element-{j}"))));
                    c
                })
                .collect(),
        ),
        (
            "sets_10k_50_members",
            (0..10_000)
                .map(|i| {
                    let mut c = vec![b("SADD"), b(format!("set:{i:08}"))];
                    c.extend((0..50).map(|j| b(format!("member:{j}"))));
                    c
                })
                .collect(),
        ),
        (
            "zsets_10k_50_members",
            (0..10_000)
                .map(|i| {
                    let mut c = vec![b("ZADD"), b(format!("zset:{i:08}"))];
                    for j in 0..50 {
                        c.push(b(j.to_string()));
                        c.push(b(format!("member:{j}")));
                    }
                    c
                })
                .collect(),
        ),
    ];
    for (name, fill) in [
        ("memtier_20k_1000b_x", SyntheticFill::Repeat(b'x')),
        ("memtier_20k_1000b_random", SyntheticFill::Random),
        ("memtier_20k_1000b_letters", SyntheticFill::Letters),
        (
            "memtier_20k_1000b_memtier_random",
            SyntheticFill::MemtierRandom,
        ),
        (
            "memtier_1k_100kb_memtier_random",
            SyntheticFill::MemtierRandom,
        ),
    ] {
        let (count, len) = if name.contains("100kb") {
            (1_000u64, 100_000)
        } else {
            (20_000, 1000)
        };
        sets.push((
            name,
            (0..count)
                .map(|i| {
                    vec![
                        b("SET"),
                        b(format!("memtier-{i}")),
                        A::S {
                            len,
                            seed: fill.seed(i),
                        },
                    ]
                })
                .collect(),
        ));
    }
    sets
}

/// (b) For each dataset, redis-server's SAVE and our `write_rdb` give files of the same
/// size (the AUX fields' lengths agree: integers of 5 bytes each), and `rdb_len` agrees.
#[test]
fn rdb_sizes_match_redis_server_save() {
    let redis = Redis::start("sizes", |_| {}, &[]);
    let mut client = redis.client();
    let mut report = Vec::new();
    let mut mismatches = Vec::new();
    for (name, commands) in size_datasets() {
        assert_eq!(client.call(&[b"FLUSHALL"]), Frame::Simple(b"OK".to_vec()));
        client.pipeline(&materialized(&commands));
        assert_eq!(client.call(&[b"SAVE"]), Frame::Simple(b"OK".to_vec()));
        let theirs = std::fs::metadata(redis.dir.join("dump.rdb"))
            .expect("SAVE wrote dump.rdb")
            .len();
        let mut db = Db::new(Config::default());
        run_on_db(&mut db, &commands);
        let mut file = Vec::new();
        write_rdb(&db, NOW_MS, &RdbInfo::default(), &mut file);
        let ours = file.len() as u64;
        assert_eq!(rdb_len(&db, NOW_MS, &RdbInfo::default()), ours, "{name}");
        let ratio = ours as f64 / theirs as f64;
        report.push(format!(
            "{name:<36} redis {theirs:>10} ours {ours:>10} ratio {ratio:.4}"
        ));
        if ours != theirs {
            mismatches.push(name);
        }
    }
    let table = report.join("\n");
    println!("{table}");
    assert!(
        mismatches.is_empty(),
        "sizes differ for {mismatches:?}:\n{table}"
    );
}

/// (b) for a prefilled range: a Db holding 100,000 memtier keys as a description gives
/// the size redis-server's SAVE gives for the same keys SET one by one, by `rdb_len`
/// and by `write_rdb`.
#[test]
fn prefilled_range_rdb_size_matches_redis_server() {
    let count = 100_000u64;
    let range =
        PrefillRange::fixed("memtier-", count, 100, 5).with_fill(SyntheticFill::Repeat(b'x'));
    let mut db = Db::new(Config::default());
    db.prefill(range).expect("one range");
    let redis = Redis::start("prefill", |_| {}, &[]);
    let mut client = redis.client();
    let commands: Vec<Vec<Vec<u8>>> = (0..count)
        .map(|i| {
            vec![
                b"SET".to_vec(),
                format!("memtier-{i}").into_bytes(),
                vec![b'x'; 100],
            ]
        })
        .collect();
    client.pipeline(&commands);
    assert_eq!(client.call(&[b"SAVE"]), Frame::Simple(b"OK".to_vec()));
    let theirs = std::fs::metadata(redis.dir.join("dump.rdb"))
        .expect("dump.rdb")
        .len();
    let mut file = Vec::new();
    write_rdb(&db, NOW_MS, &RdbInfo::default(), &mut file);
    let by_len = rdb_len(&db, NOW_MS, &RdbInfo::default());
    println!(
        "prefilled 100k x 100b 'x': redis {theirs} write_rdb {} rdb_len {by_len}",
        file.len()
    );
    assert_eq!(by_len, file.len() as u64);
    assert_eq!(by_len, theirs);
}

/// Skips one RDB string (length-prefixed, integer or LZF) at `pos`; the position after.
fn skip_rdb_string(file: &[u8], mut pos: usize) -> usize {
    let first = file[pos];
    pos += 1;
    let len = match first >> 6 {
        0 => u64::from(first & 0x3f),
        1 => {
            pos += 1;
            (u64::from(first & 0x3f) << 8) | u64::from(file[pos - 1])
        }
        2 => {
            let width = if first == 0x80 { 4 } else { 8 };
            let mut len = 0u64;
            for byte in &file[pos..pos + width] {
                len = (len << 8) | u64::from(*byte);
            }
            pos += width;
            len
        }
        _ => match first & 0x3f {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => {
                // LZF: compressed length, original length, compressed bytes.
                let (clen, after) = read_len(file, pos);
                let (_, after) = read_len(file, after);
                return after + clen as usize;
            }
        },
    };
    pos + len as usize
}

fn read_len(file: &[u8], pos: usize) -> (u64, usize) {
    let first = file[pos];
    match first >> 6 {
        0 => (u64::from(first & 0x3f), pos + 1),
        1 => (
            (u64::from(first & 0x3f) << 8) | u64::from(file[pos + 1]),
            pos + 2,
        ),
        _ => {
            let mut len = 0u64;
            for byte in &file[pos + 1..pos + 5] {
                len = (len << 8) | u64::from(*byte);
            }
            (len, pos + 5)
        }
    }
}

/// The bytes from SELECTDB to the EOF opcode: the keys, without the AUX fields (whose
/// time and memory differ from run to run) or the checksum.
fn key_section(file: &[u8]) -> &[u8] {
    let mut pos = 9;
    while file[pos] == 0xFA {
        pos = skip_rdb_string(file, pos + 1);
        pos = skip_rdb_string(file, pos);
    }
    &file[pos..file.len() - 9]
}

/// Single keys, whose records do not depend on dict order, are byte for byte what
/// redis-server's SAVE writes: LZF output (on repetitive, letter and random content),
/// quicklist nodes, listpacks, intsets, skiplists and expiry opcodes alike.
#[test]
fn single_key_records_are_byte_identical_to_redis_server() {
    let redis = Redis::start("bytes", |_| {}, &[]);
    let mut client = redis.client();
    let mixed = mixed_commands();
    let build = |key: &str| -> Vec<Vec<A>> {
        mixed
            .iter()
            .filter(|c| matches!(c.get(1), Some(A::B(k)) if k == key.as_bytes()))
            .cloned()
            .collect()
    };
    let keys = [
        "int:small",
        "int:64bit",
        "str:compressible",
        "str:text",
        "str:binary",
        "syn:0:1000",
        "syn:0:30000",
        "syn:1:30000",
        "syn:2:30000",
        "syn:3:30000",
        "syn:digits",
        "hash:listpack",
        "hash:200-fields",
        "list:small",
        "list:nodes",
        "list:synthetic",
        "set:i16",
        "set:i32",
        "set:i64",
        "zset:listpack",
        "zset:skiplist",
    ];
    for key in keys {
        let commands = build(key);
        assert!(!commands.is_empty(), "{key} is in the mixed dataset");
        assert_eq!(client.call(&[b"FLUSHALL"]), Frame::Simple(b"OK".to_vec()));
        client.pipeline(&materialized(&commands));
        assert_eq!(client.call(&[b"SAVE"]), Frame::Simple(b"OK".to_vec()));
        let theirs = std::fs::read(redis.dir.join("dump.rdb")).expect("dump.rdb");
        let mut db = Db::new(Config::default());
        run_on_db(&mut db, &commands);
        let mut ours = Vec::new();
        write_rdb(&db, NOW_MS, &RdbInfo::default(), &mut ours);
        assert!(
            key_section(&ours) == key_section(&theirs),
            "{key}: ours {} bytes, redis-server's {} bytes",
            key_section(&ours).len(),
            key_section(&theirs).len()
        );
    }
}
