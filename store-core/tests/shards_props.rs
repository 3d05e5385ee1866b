//! Property tests of the thread-per-core store ([`ShardedDb`]): it answers as one store
//! does, every key lives in exactly one shard, and a multi-key write is atomic.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use store_core::shards::shard_of_key;
use store_core::{Arg, Config, Db, Reply, Session, ShardedDb};

const NOW_MS: u64 = 1_764_000_000_000;

fn run(db: &mut ShardedDb, session: &mut Session, args: &[String], rng: &mut ChaCha8Rng) -> Reply {
    let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a.as_bytes())).collect();
    db.execute(session, &argv, NOW_MS, rng)
}

fn run_one(db: &mut Db, session: &mut Session, args: &[String], rng: &mut ChaCha8Rng) -> Reply {
    let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a.as_bytes())).collect();
    db.execute(session, &argv, NOW_MS, rng)
}

/// A command over keys `k0`..`k11`: single-key ones, the split multi-key ones, and
/// multi-key ones that run gathered on one shard (RENAME, SUNIONSTORE, MSETNX, COPY).
fn command() -> impl Strategy<Value = Vec<String>> {
    let key = (0u32..12).prop_map(|k| format!("k{k}"));
    let keys = prop::collection::vec((0u32..12).prop_map(|k| format!("k{k}")), 1..5);
    let value = (0u32..100).prop_map(|v| v.to_string());
    prop_oneof![
        (key.clone(), value.clone()).prop_map(|(k, v)| vec!["SET".into(), k, v]),
        key.clone().prop_map(|k| vec!["GET".into(), k]),
        key.clone().prop_map(|k| vec!["INCR".into(), k]),
        (key.clone(), value.clone()).prop_map(|(k, v)| vec!["SADD".into(), k, v]),
        (key.clone(), 1u32..100_000).prop_map(|(k, ms)| vec!["PEXPIRE".into(), k, ms.to_string()]),
        key.clone().prop_map(|k| vec!["PTTL".into(), k]),
        keys.clone()
            .prop_map(|ks| [vec!["MGET".into()], ks].concat()),
        keys.clone()
            .prop_map(|ks| [vec!["DEL".into()], ks].concat()),
        keys.clone()
            .prop_map(|ks| [vec!["EXISTS".into()], ks].concat()),
        (keys.clone(), value.clone()).prop_map(|(ks, v)| {
            let mut c = vec!["MSET".to_string()];
            for k in ks {
                c.push(k);
                c.push(v.clone());
            }
            c
        }),
        (keys.clone(), value.clone()).prop_map(|(ks, v)| {
            let mut c = vec!["MSETNX".to_string()];
            for k in ks {
                c.push(k);
                c.push(v.clone());
            }
            c
        }),
        (key.clone(), key.clone()).prop_map(|(a, b)| vec!["RENAME".into(), a, b]),
        (key.clone(), key.clone()).prop_map(|(a, b)| vec!["COPY".into(), a, b]),
        (key.clone(), keys.clone())
            .prop_map(|(d, ks)| [vec!["SUNIONSTORE".into(), d], ks].concat()),
        Just(vec!["DBSIZE".to_string()]),
        Just(vec!["KEYS".to_string(), "*".to_string()]),
    ]
}

/// Sorts the elements of KEYS' reply, whose order depends on the shards' tables.
fn canonical(args: &[String], reply: Reply) -> Reply {
    match (args[0].as_str(), reply) {
        ("KEYS", Reply::Array(mut items)) => {
            items.sort_by_key(|r| format!("{r:?}"));
            Reply::Array(items)
        }
        (_, r) => r,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Over random commands, single- and multi-key, on 1 to 8 shards: every reply is the
    /// one a single store gives (KEYS compared as a set); after every command each key
    /// present lives in exactly one shard, the one `shard_of` names; and the union of the
    /// shards holds the same data as the single store (equal digests).
    #[test]
    fn sharded_store_answers_as_one_store(
        shards in 1usize..9,
        commands in prop::collection::vec(command(), 1..60),
    ) {
        let mut sharded = ShardedDb::new(Config::default(), shards);
        let mut single = Db::new(Config::default());
        let (mut rng_a, mut rng_b) = (ChaCha8Rng::seed_from_u64(1), ChaCha8Rng::seed_from_u64(1));
        let (mut sa, mut sb) = (Session::new(1), Session::new(1));
        for c in &commands {
            let a = canonical(c, run(&mut sharded, &mut sa, c, &mut rng_a));
            let b = canonical(c, run_one(&mut single, &mut sb, c, &mut rng_b));
            prop_assert_eq!(&a, &b, "{:?}", c);
            for k in 0..12 {
                let key = format!("k{k}");
                let holders: Vec<usize> = (0..shards)
                    .filter(|&s| {
                        let mut probe = Session::new(99);
                        let mut rng = ChaCha8Rng::seed_from_u64(0);
                        let mut db = sharded.shards()[s].clone();
                        db.execute(&mut probe, &[Arg::Bytes(b"EXISTS"), Arg::Bytes(key.as_bytes())], NOW_MS, &mut rng)
                            == Reply::Integer(1)
                    })
                    .collect();
                prop_assert!(holders.len() <= 1, "{key} on shards {holders:?}");
                if let Some(&s) = holders.first() {
                    prop_assert_eq!(s, shard_of_key(key.as_bytes(), shards, false));
                }
            }
            prop_assert_eq!(sharded.state_digest(), single.state_digest(), "after {:?}", c);
        }
    }

    /// Connections on different threads interleave at random: writers MSET all eight
    /// keys (spread over the shards) to their own value, readers MGET them. A multi-key
    /// command is atomic, so every MGET sees all eight keys with one writer's value (or
    /// none set yet): never half of an MSET.
    #[test]
    fn mset_is_atomic_across_thread_shards(
        shards in 2usize..9,
        schedule in prop::collection::vec((0u32..6, any::<bool>()), 1..80),
    ) {
        let mut db = ShardedDb::new(Config::default(), shards);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut sessions: Vec<Session> = (0..6).map(|c| Session::new(c + 1)).collect();
        let keys: Vec<String> = (0..8).map(|k| format!("key:{k}")).collect();
        let spread: std::collections::BTreeSet<usize> =
            keys.iter().map(|k| shard_of_key(k.as_bytes(), shards, false)).collect();
        prop_assume!(spread.len() > 1);
        for (step, (conn, write)) in schedule.iter().enumerate() {
            let session = &mut sessions[*conn as usize];
            if *write {
                let mut c = vec!["MSET".to_string()];
                for k in &keys {
                    c.push(k.clone());
                    c.push(format!("{conn}-{step}"));
                }
                prop_assert_eq!(run(&mut db, session, &c, &mut rng), Reply::Ok);
            } else {
                let c = [vec!["MGET".to_string()], keys.clone()].concat();
                let Reply::Array(values) = run(&mut db, session, &c, &mut rng) else {
                    panic!("MGET answers an array");
                };
                let first = format!("{:?}", values[0]);
                prop_assert!(values.iter().all(|v| format!("{v:?}") == first), "{values:?}");
            }
        }
    }
}

/// A key belongs to the shard Dragonfly's `Shard()` gives it: XXH64 with Dragonfly's
/// seed, modulo the shard count (the expected values computed independently with the
/// reference xxHash implementation's XXH64).
#[test]
fn shard_of_key_is_dragonflys_hash() {
    let h = xxh64_reference(b"key:1", store_core::shards::SHARD_HASH_SEED);
    for n in [2usize, 3, 4, 7, 64] {
        assert_eq!(shard_of_key(b"key:1", n, false), (h % n as u64) as usize);
    }
    // A hash tag decides alone on a cluster node.
    assert_eq!(
        shard_of_key(b"{user1}:a", 16, true),
        shard_of_key(b"{user1}:b", 16, true)
    );
    assert_eq!(shard_of_key(b"anything", 1, false), 0);
}

/// XXH64 per the xxHash specification (for inputs under 32 bytes), written out here so
/// the test does not check the crate against itself.
fn xxh64_reference(input: &[u8], seed: u64) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const P3: u64 = 0x1656_67B1_9E37_79F9;
    const P4: u64 = 0x85EB_CA77_C2B2_AE63;
    const P5: u64 = 0x27D4_EB2F_1656_67C5;
    assert!(input.len() < 32);
    let mut acc = seed.wrapping_add(P5).wrapping_add(input.len() as u64);
    let mut rest = input;
    while rest.len() >= 8 {
        let lane = u64::from_le_bytes(rest[..8].try_into().unwrap());
        let k = lane.wrapping_mul(P2).rotate_left(31).wrapping_mul(P1);
        acc = (acc ^ k).rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        let lane = u64::from(u32::from_le_bytes(rest[..4].try_into().unwrap()));
        acc = (acc ^ lane.wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        acc = (acc ^ u64::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    acc ^= acc >> 33;
    acc = acc.wrapping_mul(P2);
    acc ^= acc >> 29;
    acc = acc.wrapping_mul(P3);
    acc ^ (acc >> 32)
}
