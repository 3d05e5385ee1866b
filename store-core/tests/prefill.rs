//! Prefilled ranges against a fully materialized Db: the same range held compactly
//! (defaults derived on demand) and stored key by key must answer every command the
//! same way and account the same memory, through writes, deletes, expiry changes and
//! eviction.

use rand::{RngCore, SeedableRng};
use std::collections::BTreeSet;
use store_core::{Arg, Config, Db, EvictionPolicy, PrefillRange, Reply, Session, ValueSize};

const NOW_MS: u64 = 1_764_000_000_000;

fn range(materialize: bool) -> PrefillRange {
    PrefillRange {
        prefix: b"memtier-".to_vec(),
        first_index: 1000,
        count: 9000,
        value_size: ValueSize::Weighted(vec![(32, 3), (100, 5), (1000, 2)]),
        seed: 11,
        created_at_ms: NOW_MS,
        materialize,
    }
}

fn run(db: &mut Db, session: &mut Session, args: &[String], rng: &mut impl RngCore) -> Reply {
    let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a.as_bytes())).collect();
    db.execute(session, &argv, NOW_MS, rng)
}

fn scan_all(db: &mut Db, session: &mut Session, rng: &mut impl RngCore) -> BTreeSet<Vec<u8>> {
    let mut keys = BTreeSet::new();
    let mut cursor = "0".to_string();
    // Bounded: each call advances the cursor.
    for _ in 0..100_000 {
        let reply = run(
            db,
            session,
            &["SCAN".into(), cursor.clone(), "COUNT".into(), "100".into()],
            rng,
        );
        let Reply::Array(parts) = reply else {
            panic!("SCAN reply shape")
        };
        let [Reply::Bulk(next), Reply::Array(batch)] = parts.as_slice() else {
            panic!("SCAN reply shape")
        };
        for k in batch {
            if let Reply::Bulk(b) = k {
                keys.insert(b.to_vec());
            }
        }
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    keys
}

fn random_command(rng: &mut impl RngCore) -> Vec<String> {
    // Keys inside and just outside the range, plus non-canonical spellings.
    let key = match rng.next_u32() % 10 {
        0 => format!("memtier-{}", rng.next_u32() % 20),
        1 => format!("memtier-0{}", 1000 + rng.next_u32() % 9000),
        _ => format!("memtier-{}", 1000 + rng.next_u32() % 9000),
    };
    let s = |x: &str| x.to_string();
    match rng.next_u32() % 14 {
        0..=2 => vec![s("GET"), key],
        3 => vec![s("SET"), key, format!("v{}", rng.next_u32() % 100)],
        4 => vec![s("DEL"), key],
        5 => vec![s("EXISTS"), key],
        6 => vec![s("TYPE"), key],
        7 => vec![s("TTL"), key],
        8 => vec![s("PEXPIREAT"), key, s("4102444800000")],
        9 => vec![s("PERSIST"), key],
        10 => vec![s("STRLEN"), key],
        11 => vec![s("APPEND"), key, s("xyz")],
        12 => vec![s("GETRANGE"), key, s("0"), s("7")],
        _ => vec![s("DBSIZE")],
    }
}

/// A compact range and its materialized twin answer 3,000 random commands (reads,
/// overwrites, deletes, expiry changes, appends) identically, report the same DBSIZE and
/// used_memory after each, and list the same keys through SCAN and KEYS at the end.
#[test]
fn compact_range_behaves_like_stored_keys() {
    let mut compact = Db::new(Config::default());
    let mut stored = Db::new(Config::default());
    compact.prefill(range(false)).unwrap();
    stored.prefill(range(true)).unwrap();
    assert_eq!(compact.dbsize(), 9000);
    assert_eq!(compact.used_memory(), stored.used_memory());
    let mut session = Session::new(1);
    let mut rng_a = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut rng_b = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut commands = rand_chacha::ChaCha8Rng::seed_from_u64(6);
    for step in 0..3000 {
        let cmd = random_command(&mut commands);
        let a = run(&mut compact, &mut session, &cmd, &mut rng_a);
        let b = run(&mut stored, &mut session, &cmd, &mut rng_b);
        assert_eq!(a, b, "step {step}: {cmd:?}");
        assert_eq!(compact.dbsize(), stored.dbsize(), "step {step}: {cmd:?}");
        assert_eq!(
            compact.used_memory(),
            stored.used_memory(),
            "step {step}: {cmd:?}"
        );
    }
    let keys_a = scan_all(&mut compact, &mut session, &mut rng_a);
    let keys_b = scan_all(&mut stored, &mut session, &mut rng_b);
    assert_eq!(keys_a.len() as u64, compact.dbsize());
    assert_eq!(keys_a, keys_b);
    let keys = |db: &mut Db, rng: &mut rand_chacha::ChaCha8Rng| -> BTreeSet<Vec<u8>> {
        let Reply::Array(items) = run(
            db,
            &mut Session::new(2),
            &["KEYS".into(), "memtier-1*".into()],
            rng,
        ) else {
            panic!("KEYS reply shape")
        };
        items
            .into_iter()
            .map(|r| {
                if let Reply::Bulk(b) = r {
                    b.to_vec()
                } else {
                    Vec::new()
                }
            })
            .collect()
    };
    assert_eq!(
        keys(&mut compact, &mut rng_a),
        keys(&mut stored, &mut rng_b)
    );
}

/// Under maxmemory both forms evict the same number of keys and end within the limit
/// (which keys go depends on the sampling order, so only counts are compared), and with
/// noeviction both refuse writes alike.
#[test]
fn compact_range_evicts_like_stored_keys() {
    for policy in [
        EvictionPolicy::AllKeysRandom,
        EvictionPolicy::AllKeysLru,
        EvictionPolicy::NoEviction,
    ] {
        let spec = |materialize| PrefillRange {
            value_size: ValueSize::Fixed(200),
            ..range(materialize)
        };
        let mut dbs = [Db::new(Config::default()), Db::new(Config::default())];
        dbs[0].prefill(spec(false)).unwrap();
        dbs[1].prefill(spec(true)).unwrap();
        let limit = dbs[0].used_memory() - 200_000;
        let mut replies = Vec::new();
        for db in &mut dbs {
            let mut config = db.config().clone();
            config.maxmemory_bytes = limit;
            config.maxmemory_policy = policy;
            db.set_config(config);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
            let mut session = Session::new(1);
            let reply = run(
                db,
                &mut session,
                &["SET".into(), "extra".into(), "v".into()],
                &mut rng,
            );
            replies.push(reply);
        }
        assert_eq!(replies[0], replies[1], "{policy:?}");
        assert_eq!(
            dbs[0].stats().evicted_keys,
            dbs[1].stats().evicted_keys,
            "{policy:?}"
        );
        assert_eq!(dbs[0].dbsize(), dbs[1].dbsize(), "{policy:?}");
        if policy != EvictionPolicy::NoEviction {
            assert!(dbs[0].stats().evicted_keys > 0);
            assert!(dbs[0].used_memory() <= limit + 1_000, "{policy:?}");
        } else {
            assert!(replies[0].is_error());
        }
    }
}

/// A 200M-key range costs a 25 MB bitset, not 200M entries, while used_memory reports the
/// full Redis-model footprint (about 40 GB) and any key reads back.
#[test]
fn huge_range_is_cheap_to_hold() {
    let mut db = Db::new(Config::default());
    db.prefill(PrefillRange::fixed("key:", 200_000_000, 100, 1))
        .unwrap();
    assert_eq!(db.dbsize(), 200_000_000);
    assert!(db.used_memory() > 200_000_000 * 150);
    let mut session = Session::new(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let reply = run(
        &mut db,
        &mut session,
        &["GET".into(), "key:199999999".into()],
        &mut rng,
    );
    assert!(
        matches!(&reply, Reply::Bulk(b) if b.len() == 100),
        "{reply:?}"
    );
    let reply = run(
        &mut db,
        &mut session,
        &["GET".into(), "key:200000000".into()],
        &mut rng,
    );
    assert_eq!(reply, Reply::Null);
}

/// A fixed-size range spanning several key lengths (1- to 3-digit indices) costs the same
/// used_memory held compactly as stored key by key.
#[test]
fn fixed_size_range_costs_what_its_keys_cost() {
    for (first, count) in [(0u64, 1u64), (5, 200), (9, 1), (95, 10_000)] {
        let spec = |materialize| PrefillRange {
            first_index: first,
            count,
            value_size: ValueSize::Fixed(60),
            ..range(materialize)
        };
        let mut compact = Db::new(Config::default());
        let mut stored = Db::new(Config::default());
        compact.prefill(spec(false)).unwrap();
        stored.prefill(spec(true)).unwrap();
        assert_eq!(
            compact.used_memory(),
            stored.used_memory(),
            "first {first} count {count}"
        );
        assert_eq!(compact.dbsize(), count);
    }
}

/// RANDOMKEY and eviction keep finding keys when a range is almost entirely overridden
/// (a shard holding a thin slice of it), and every key they return exists.
#[test]
fn sparse_range_still_samples_live_keys() {
    let mut db = Db::new(Config::default());
    let range = PrefillRange::fixed("memtier-", 100_000, 100, 3);
    db.prefill_where(range, |index| index % 5000 == 7).unwrap();
    assert_eq!(db.dbsize(), 20);
    let mut session = Session::new(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let Reply::Bulk(key) = run(&mut db, &mut session, &["RANDOMKEY".into()], &mut rng) else {
            panic!("RANDOMKEY finds a key")
        };
        let key = String::from_utf8(key.to_vec()).unwrap();
        assert_eq!(
            run(
                &mut db,
                &mut session,
                &["EXISTS".into(), key.clone()],
                &mut rng
            ),
            Reply::Integer(1)
        );
        seen.insert(key);
    }
    assert!(
        seen.len() > 10,
        "sampling spreads over the live keys: {}",
        seen.len()
    );
}
