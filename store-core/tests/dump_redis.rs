//! DUMP / RESTORE / MIGRATE against redis-server 7.0.15: the same commands sent to both
//! give DUMP payloads that are byte-identical (for every encoding whose order is not a
//! hashtable's; hashtable-encoded hashes and sets match in length, their dict order
//! being Redis's own), `dump_len` equals the length of redis-server's payload, a
//! payload made by either side restores on the other to the same content, RESTORE's
//! errors match, and what a real MIGRATE writes to its target is the bytes a
//! `MigrateBatch` says it writes.
//!
//! Each test starts its own redis-server on a free loopback port with its own scratch
//! directory, waits for it by reading its log line (bounded by a timeout), and kills it
//! and removes the directory when done.

use rand::SeedableRng;
use std::io::{Read, Write};
use std::net::TcpListener;

use store_core::resp::{encode, encode_request, parse_frame, Frame, Protocol};
use store_core::{Arg, Blob, Config, Db, Session, SyntheticFill};

#[path = "support/redis.rs"]
mod redis;
use redis::*;

/// An argument for both sides: real bytes, or a synthetic value the Db keeps synthetic
/// and redis-server receives materialized.
#[derive(Clone)]
enum A {
    B(Vec<u8>),
    S { len: u64, seed: u64 },
}

fn b(s: impl AsRef<[u8]>) -> A {
    A::B(s.as_ref().to_vec())
}

fn materialized(cmd: &[A]) -> Vec<Vec<u8>> {
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
}

fn run_on_db(db: &mut Db, cmd: &[A]) -> Frame {
    let mut session = Session::new(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
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
    let mut wire = Vec::new();
    encode(&reply, Protocol::Resp2, &mut wire);
    parse_frame(&wire)
        .expect("our reply parses")
        .expect("whole")
        .0
}

fn db_call(db: &mut Db, args: &[&[u8]]) -> Frame {
    let cmd: Vec<A> = args.iter().map(b).collect();
    run_on_db(db, &cmd)
}

/// How a key's DUMP compares: byte for byte, or in length only (a hashtable's
/// elements come in Redis's dict order).
#[derive(Clone, Copy, PartialEq)]
enum Same {
    Bytes,
    Length,
}

/// Keys of every type and encoding the store models, with the commands that make them.
fn dataset() -> Vec<(String, Vec<Vec<A>>, Same)> {
    let mut d: Vec<(String, Vec<Vec<A>>, Same)> = Vec::new();
    let mut one = |key: &str, cmd: Vec<A>, same: Same| {
        let mut full = vec![cmd[0].clone(), b(key)];
        full.extend(cmd[1..].iter().cloned());
        d.push((key.to_string(), vec![full], same));
    };
    for (key, value) in [
        ("int:small", b("42")),
        ("int:big", b("1234567890123")),
        ("int:negative", b("-5000")),
        ("str:short", b("hello")),
        ("str:leading-zero", b("007")),
        ("str:compressible", b("v".repeat(100))),
        ("str:binary", A::B((0..=255u8).collect())),
        ("str:empty", b("")),
        (
            "syn:digits",
            A::S {
                len: 5,
                seed: SyntheticFill::Repeat(b'7').seed(0),
            },
        ),
    ] {
        one(key, vec![b("SET"), value], Same::Bytes);
    }
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
            let seed = fill.seed(len + i as u64);
            one(
                &format!("syn:{i}:{len}"),
                vec![b("SET"), A::S { len, seed }],
                Same::Bytes,
            );
        }
    }
    let mut h = vec![b("HSET")];
    for j in 0..10 {
        h.push(b(format!("field:{j}")));
        h.push(if j % 3 == 0 {
            b(j.to_string())
        } else {
            b(format!("value-{j}"))
        });
    }
    h.push(b("synthetic"));
    h.push(A::S {
        len: 40,
        seed: SyntheticFill::Repeat(b'q').seed(0),
    });
    one("hash:listpack", h, Same::Bytes);
    let mut h = vec![b("HSET")];
    for j in 0..200 {
        h.push(b(format!("f{j}")));
        h.push(b("v"));
    }
    one("hash:200-fields", h, Same::Bytes);
    let mut h = vec![b("HSET")];
    for j in 0..600 {
        h.push(b(format!("f{j}")));
        h.push(b(format!("{}", j * 7)));
    }
    one("hash:table", h, Same::Length);
    one(
        "hash:long-value",
        vec![b("HSET"), b("a"), b("b".repeat(100)), b("c"), b("1")],
        Same::Length,
    );
    one(
        "list:small",
        vec![
            b("RPUSH"),
            b("1"),
            b("-77"),
            b("text"),
            b("100000"),
            b("9999999999"),
        ],
        Same::Bytes,
    );
    let mut l = vec![b("RPUSH")];
    l.extend((0..3000).map(|j| b(format!("element-{j:012}"))));
    one("list:nodes", l, Same::Bytes);
    let mut l = vec![b("RPUSH")];
    l.extend((0..5).map(|j| A::S {
        len: 5000,
        seed: SyntheticFill::Random.seed(j),
    }));
    one("list:synthetic", l, Same::Bytes);
    one(
        "set:i16",
        vec![b("SADD"), b("1"), b("-2"), b("300")],
        Same::Bytes,
    );
    one(
        "set:i32",
        vec![b("SADD"), b("1"), b("70000"), b("-70000")],
        Same::Bytes,
    );
    one(
        "set:i64",
        vec![b("SADD"), b("1"), b("5000000000")],
        Same::Bytes,
    );
    let mut s = vec![b("SADD")];
    s.extend((0..50).map(|j| b(format!("member:{j}"))));
    one("set:table", s, Same::Length);
    let mut s = vec![b("SADD")];
    s.extend((0..600).map(|j| b(j.to_string())));
    one("set:many-ints", s, Same::Length);
    one(
        "zset:listpack",
        [
            "1.5", "a", "2", "b", "-inf", "c", "inf", "d", "1e300", "e", "0.1", "f",
        ]
        .iter()
        .fold(vec![b("ZADD")], |mut v, x| {
            v.push(b(x));
            v
        }),
        Same::Bytes,
    );
    let mut z = vec![b("ZADD")];
    for j in 0..200 {
        z.push(b(format!("{}", f64::from(j) / 3.0)));
        z.push(b(format!("member:{j}")));
    }
    one("zset:skiplist", z, Same::Bytes);
    one(
        "zset:long-member",
        vec![b("ZADD"), b("1"), b("m".repeat(100))],
        Same::Bytes,
    );
    // A list made with LPUSH too: its nodes are still the ones RPUSH would make here.
    d.push((
        "list:pushed-both-ends".into(),
        vec![
            vec![b("RPUSH"), b("list:pushed-both-ends"), b("a"), b("b")],
            vec![b("LPUSH"), b("list:pushed-both-ends"), b("head")],
        ],
        Same::Bytes,
    ));
    d
}

/// The content of a key as reads answer it, order-free where Redis's order is a
/// hashtable's.
fn content(call: &mut dyn FnMut(&[&[u8]]) -> Frame, key: &[u8]) -> Vec<String> {
    let Frame::Simple(kind) = call(&[b"TYPE", key]) else {
        panic!("TYPE answers a status")
    };
    let (read, sort): (Vec<&[u8]>, bool) = match kind.as_slice() {
        b"string" => (vec![b"GET", key], false),
        b"hash" => (vec![b"HGETALL", key], true),
        b"list" => (vec![b"LRANGE", key, b"0", b"-1"], false),
        b"set" => (vec![b"SMEMBERS", key], true),
        b"zset" => (vec![b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"], false),
        other => panic!("unexpected type {other:?}"),
    };
    let frame = call(&read);
    let mut items: Vec<String> = match frame {
        Frame::Array(items) => items.iter().map(|f| format!("{f:?}")).collect(),
        other => vec![format!("{other:?}")],
    };
    if kind == b"hash" {
        let mut pairs: Vec<String> = items.chunks(2).map(|p| p.join(" ")).collect();
        pairs.sort();
        return pairs;
    }
    if sort {
        items.sort();
    }
    items.insert(0, String::from_utf8_lossy(&kind).into_owned());
    items
}

fn bulk(frame: Frame) -> Vec<u8> {
    match frame {
        Frame::Bulk(bytes) => bytes,
        other => panic!("a bulk string: {other:?}"),
    }
}

/// DUMP gives redis-server's bytes (or length, for hashtables), `dump_len` its length;
/// each side restores the other's payload to the same content, and the store's DUMP of
/// what it restored is the payload it was given.
#[test]
fn dump_payloads_match_redis_server_and_restore_across() {
    let redis = Redis::start("payloads", |_| {}, &[]);
    let mut client = redis.client();
    let mut db = Db::new(Config::default());
    for (key, commands, same) in dataset() {
        for cmd in &commands {
            let theirs = client.call(
                &materialized(cmd)
                    .iter()
                    .map(Vec::as_slice)
                    .collect::<Vec<_>>(),
            );
            assert!(!matches!(theirs, Frame::Error(_)), "{key}: {theirs:?}");
            assert!(!matches!(run_on_db(&mut db, cmd), Frame::Error(_)), "{key}");
        }
        let k = key.as_bytes();
        let theirs = bulk(client.call(&[b"DUMP", k]));
        let ours = bulk(db_call(&mut db, &[b"DUMP", k]));
        assert_eq!(
            db.dump(k, NOW_MS).as_deref(),
            Some(ours.as_slice()),
            "{key}"
        );
        match same {
            Same::Bytes => assert!(
                ours == theirs,
                "{key}: DUMP bytes differ ({} vs {} bytes)",
                ours.len(),
                theirs.len()
            ),
            Same::Length => assert_eq!(ours.len(), theirs.len(), "{key}: DUMP length"),
        }
        assert_eq!(
            db.dump_len(k, NOW_MS),
            Some(theirs.len() as u64),
            "{key}: dump_len"
        );

        // Redis's payload into the store, the store's into Redis.
        let from_redis = format!("{key}:from-redis");
        let from_store = format!("{key}:from-store");
        let reply = db_call(&mut db, &[b"RESTORE", from_redis.as_bytes(), b"0", &theirs]);
        assert_eq!(reply, Frame::Simple(b"OK".to_vec()), "{key}");
        let reply = client.call(&[b"RESTORE", from_store.as_bytes(), b"0", &ours]);
        assert_eq!(reply, Frame::Simple(b"OK".to_vec()), "{key}");
        let original = content(&mut |args| client.call(args), k);
        assert_eq!(
            content(&mut |args| db_call(&mut db, args), from_redis.as_bytes()),
            original,
            "{key} restored in the store"
        );
        assert_eq!(
            content(&mut |args| client.call(args), from_store.as_bytes()),
            original,
            "{key} restored in redis-server"
        );
        if same == Same::Bytes {
            let again = bulk(db_call(&mut db, &[b"DUMP", from_redis.as_bytes()]));
            assert!(
                again == theirs,
                "{key}: the restored key dumps to its payload"
            );
        }
    }
}

/// RESTORE's checks, in restoreCommand's order, and its options, answer as
/// redis-server answers them.
#[test]
fn restore_replies_match_redis_server() {
    let redis = Redis::start("restore", |_| {}, &[]);
    let mut client = redis.client();
    let mut db = Db::new(Config::default());
    for side in [true, false] {
        let cmd: &[&[u8]] = &[b"SET", b"present", b"v"];
        if side {
            client.call(cmd);
        } else {
            db_call(&mut db, cmd);
        }
    }
    let payload = bulk(client.call(&[b"DUMP", b"present"]));
    let mut corrupt = payload.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let far = FAR_FUTURE_MS.to_string();
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"RESTORE", b"present", b"0", &payload],
        vec![b"RESTORE", b"present", b"-1", &payload],
        vec![b"RESTORE", b"k1", b"-1", &payload],
        vec![b"RESTORE", b"k1", b"x", &payload],
        vec![b"RESTORE", b"k1", b"0", &corrupt],
        vec![b"RESTORE", b"k1", b"0", b"short"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"FOO"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"IDLETIME", b"-1"],
        vec![b"RESTORE", b"k1", b"0", &payload, b"FREQ", b"256"],
        vec![
            b"RESTORE",
            b"k1",
            b"0",
            &payload,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"1",
        ],
        vec![b"RESTORE", b"k1", b"0", &payload, b"IDLETIME"],
        vec![
            b"RESTORE",
            b"k1",
            b"0",
            &payload,
            b"REPLACE",
            b"ABSTTL",
            b"IDLETIME",
            b"10",
        ],
        vec![b"EXISTS", b"k1"],
        vec![
            b"RESTORE",
            b"present",
            far.as_bytes(),
            &payload,
            b"REPLACE",
            b"ABSTTL",
        ],
        vec![b"PEXPIRETIME", b"present"],
        // A past absolute TTL with REPLACE deletes the key and creates nothing.
        vec![
            b"RESTORE", b"present", b"1", &payload, b"REPLACE", b"ABSTTL",
        ],
        vec![b"EXISTS", b"present"],
        vec![b"RESTORE", b"k2", b"1", &payload, b"ABSTTL"],
        vec![b"EXISTS", b"k2"],
        vec![b"DUMP", b"missing"],
        vec![b"RESTORE", b"k3"],
    ];
    for args in cases {
        let theirs = client.call(&args);
        let ours = db_call(&mut db, &args);
        let shown: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(&a[..a.len().min(20)]).into_owned())
            .collect();
        assert_eq!(ours, theirs, "{shown:?}");
    }
}

/// A fake MIGRATE target on loopback: accepts one connection, answers `+OK` to each of
/// `commands` commands, and returns every byte it received.
fn fake_target(commands: usize) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("address").port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("redis-server connects");
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("timeout");
        let mut received = Vec::new();
        let mut parsed = 0;
        let mut answered = 0;
        let mut chunk = [0u8; 64 * 1024];
        while answered < commands {
            let n = stream
                .read(&mut chunk)
                .expect("a request before the timeout");
            assert!(n > 0, "redis-server closed the migration connection");
            received.extend_from_slice(&chunk[..n]);
            while let Some((_, used)) = parse_frame(&received[parsed..]).expect("RESP") {
                parsed += used;
                stream.write_all(b"+OK\r\n").expect("reply");
                answered += 1;
            }
        }
        received
    });
    (port, handle)
}

/// What redis-server writes to its target for `MIGRATE ... KEYS k1 .. kn` is SELECT 0
/// and the RESTORE commands a `MigrateBatch` of the same keys makes (outside cluster
/// mode the command is named RESTORE; in cluster mode RESTORE-ASKING, 8 bytes longer
/// each), and both sides delete the keys once acknowledged.
#[test]
fn migrate_sends_the_bytes_the_batch_counts() {
    let redis = Redis::start("migrate", |_| {}, &[]);
    let mut client = redis.client();
    let mut db = Db::new(Config::default());
    let keys: Vec<String> = dataset()
        .into_iter()
        .filter(|(key, _, same)| *same == Same::Bytes && !key.starts_with("list:nodes"))
        .map(|(key, commands, _)| {
            for cmd in &commands {
                client.call(
                    &materialized(cmd)
                        .iter()
                        .map(Vec::as_slice)
                        .collect::<Vec<_>>(),
                );
                run_on_db(&mut db, cmd);
            }
            key
        })
        .collect();
    let (port, target) = fake_target(keys.len() + 1);
    let port = port.to_string();
    let mut migrate: Vec<&[u8]> = vec![
        b"MIGRATE",
        b"127.0.0.1",
        port.as_bytes(),
        b"",
        b"0",
        b"5000",
        b"KEYS",
    ];
    migrate.extend(keys.iter().map(|k| k.as_bytes()));
    assert_eq!(client.call(&migrate), Frame::Simple(b"OK".to_vec()));
    let received = target.join().expect("the fake target");

    let key_refs: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let mut batch = db.migrate_out(&key_refs, NOW_MS);
    batch.select = true;
    let mut expected = Vec::new();
    encode_request(&[b"SELECT".as_slice(), b"0"], &mut expected);
    for mut cmd in batch.restore_commands() {
        cmd[0] = Blob::from_slice(b"RESTORE");
        let args: Vec<Vec<u8>> = cmd.iter().map(Blob::to_vec).collect();
        encode_request(&args, &mut expected);
    }
    assert!(
        received == expected,
        "MIGRATE's bytes ({} vs {})",
        received.len(),
        expected.len()
    );
    assert_eq!(
        batch.request_bytes(),
        received.len() as u64 + 8 * keys.len() as u64
    );
    for k in &keys {
        assert_eq!(
            client.call(&[b"EXISTS", k.as_bytes()]),
            Frame::Integer(0),
            "{k}"
        );
    }
    let replies = store_core::migrate::MigrateReplies {
        select: Some(store_core::migrate::RestoreReply::Ok),
        restores: vec![store_core::migrate::RestoreReply::Ok; keys.len()],
    };
    assert_eq!(replies.reply_bytes(), 5 * (keys.len() as u64 + 1));
    assert_eq!(db.migrate_finish(&batch, &replies), store_core::Reply::Ok);
    assert_eq!(db.dbsize(), 0);
}
