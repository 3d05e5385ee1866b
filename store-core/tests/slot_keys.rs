//! `count_keys_in_slot` / `keys_in_slot` and the CLUSTER COUNTKEYSINSLOT /
//! GETKEYSINSLOT commands against a brute-force walk of every key: prefilled ranges of
//! several digit widths, offsets and hash tags, with keys overridden, deleted, stored
//! with an expiry (expired ones included, as Redis counts them) and stored outside any
//! range.

use rand::SeedableRng;
use std::collections::BTreeSet;
use store_core::{key_hash_slot, Arg, Config, Db, PrefillRange, Reply, Session};

const NOW_MS: u64 = 1_764_000_000_000;

fn cluster_db() -> Db {
    Db::new(Config {
        cluster_enabled: true,
        ..Config::default()
    })
}

fn run(db: &mut Db, args: &[&[u8]], now_ms: u64) -> Reply {
    let mut session = Session::new(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a)).collect();
    db.execute(&mut session, &argv, now_ms, &mut rng)
}

/// Every logical key with its slot, by brute force over the ranges' indices.
fn all_keys(
    ranges: &[PrefillRange],
    deleted: &BTreeSet<Vec<u8>>,
    stored: &[Vec<u8>],
) -> BTreeSet<Vec<u8>> {
    let mut keys: BTreeSet<Vec<u8>> = stored.iter().cloned().collect();
    for r in ranges {
        for i in r.first_index..r.first_index + r.count {
            let mut key = r.prefix.clone();
            key.extend_from_slice(i.to_string().as_bytes());
            if !deleted.contains(&key) {
                keys.insert(key);
            }
        }
    }
    keys
}

#[test]
fn slot_keys_match_a_brute_force_walk() {
    let ranges = vec![
        // Indices of 1 to 7 digits, crossing every band boundary.
        PrefillRange::fixed("memtier-", 1_200_000, 100, 1),
        // An offset range of 8-digit indices.
        PrefillRange {
            first_index: 12_345_678,
            ..PrefillRange::fixed("k:", 300_000, 10, 2)
        },
        // Every key in one slot: the tag is in the prefix.
        PrefillRange::fixed("user:{42}:", 5_000, 10, 3),
        // An empty tag: keys hash whole.
        PrefillRange::fixed("a{}b", 20_000, 10, 4),
    ];
    let mut db = cluster_db();
    for r in &ranges {
        db.prefill(r.clone()).unwrap();
    }
    let mut deleted = BTreeSet::new();
    let mut stored = Vec::new();
    // Overwrite, delete and expire some range keys; store keys outside the ranges, one
    // of them already past its expiry (Redis still lists it).
    for i in (0..1_200_000u64).step_by(9_973) {
        let key = format!("memtier-{i}");
        if i % 2 == 0 {
            assert_eq!(
                run(&mut db, &[b"DEL", key.as_bytes()], NOW_MS),
                Reply::Integer(1)
            );
            deleted.insert(key.into_bytes());
        } else {
            run(
                &mut db,
                &[b"SET", key.as_bytes(), b"v", b"PX", b"10"],
                NOW_MS,
            );
        }
    }
    for i in 0..500 {
        let key = format!("other:{i}");
        run(
            &mut db,
            &[b"SET", key.as_bytes(), b"x", b"PX", b"5"],
            NOW_MS,
        );
        stored.push(key.into_bytes());
    }
    let expected = all_keys(&ranges, &deleted, &stored);
    let later_ms = NOW_MS + 1_000; // every expiry above has passed
    let mut by_slot = vec![0u64; 16_384];
    for key in &expected {
        by_slot[usize::from(key_hash_slot(key))] += 1;
    }
    let total: u64 = (0..16_384u16).map(|s| db.count_keys_in_slot(s)).sum();
    assert_eq!(total, expected.len() as u64);
    for slot in [0u16, 1, 42, 866, key_hash_slot(b"42"), 9_999, 16_383] {
        assert_eq!(
            db.count_keys_in_slot(slot),
            by_slot[usize::from(slot)],
            "slot {slot}"
        );
        let listed = db.keys_in_slot(slot, usize::MAX);
        let listed_set: BTreeSet<Vec<u8>> = listed.iter().cloned().collect();
        assert_eq!(
            listed.len(),
            listed_set.len(),
            "a key listed twice in slot {slot}"
        );
        let want: BTreeSet<Vec<u8>> = expected
            .iter()
            .filter(|k| key_hash_slot(k) == slot)
            .cloned()
            .collect();
        assert_eq!(listed_set, want, "slot {slot}");
        // The commands answer the same, the count capped as Redis caps it, and an
        // expired key is not reclaimed by listing it.
        let reply = run(
            &mut db,
            &[b"CLUSTER", b"COUNTKEYSINSLOT", slot.to_string().as_bytes()],
            later_ms,
        );
        assert_eq!(reply, Reply::Integer(want.len() as i64));
        let reply = run(
            &mut db,
            &[
                b"CLUSTER",
                b"GETKEYSINSLOT",
                slot.to_string().as_bytes(),
                b"10",
            ],
            later_ms,
        );
        let Reply::Array(items) = reply else {
            panic!("GETKEYSINSLOT reply shape")
        };
        assert_eq!(items.len(), want.len().min(10));
        for item in items {
            let Reply::Bulk(key) = item else {
                panic!("a key is a bulk string")
            };
            assert!(want.contains(&key.to_vec()));
        }
    }
    // Keys stored after the index was built are listed too; deleted ones are not.
    let slot = key_hash_slot(b"fresh");
    let before = db.count_keys_in_slot(slot);
    run(&mut db, &[b"SET", b"fresh", b"1"], NOW_MS);
    assert_eq!(db.count_keys_in_slot(slot), before + 1);
    run(&mut db, &[b"DEL", b"fresh"], NOW_MS);
    assert_eq!(db.count_keys_in_slot(slot), before);
}

#[test]
fn slot_key_commands_check_arguments_as_redis_does() {
    let mut db = cluster_db();
    let cases: [(&[&[u8]], &str); 5] = [
        (
            &[b"CLUSTER", b"COUNTKEYSINSLOT", b"16384"],
            "ERR Invalid slot",
        ),
        (
            &[b"CLUSTER", b"COUNTKEYSINSLOT", b"x"],
            "ERR value is not an integer or out of range",
        ),
        (
            &[b"CLUSTER", b"GETKEYSINSLOT", b"-1", b"1"],
            "ERR Invalid slot or number of keys",
        ),
        (
            &[b"CLUSTER", b"GETKEYSINSLOT", b"1", b"-1"],
            "ERR Invalid slot or number of keys",
        ),
        (
            &[b"CLUSTER", b"GETKEYSINSLOT", b"1"],
            "ERR wrong number of arguments for 'cluster|getkeysinslot' command",
        ),
    ];
    for (args, error) in cases {
        assert_eq!(run(&mut db, args, NOW_MS), Reply::error(error), "{args:?}");
    }
    assert_eq!(
        run(&mut db, &[b"CLUSTER", b"GETKEYSINSLOT", b"1", b"0"], NOW_MS),
        Reply::Array(Vec::new())
    );
}
