//! `Db::prefill_where`: a range filtered to some keys (a cluster node's own slots)
//! behaves exactly like a Db holding only those keys, fully stored.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use store_core::{key_hash_slot, Arg, Db, PrefillRange, Reply, Session};

fn get(db: &mut Db, key: &str) -> Reply {
    let mut s = Session::new(1);
    db.execute(
        &mut s,
        &[Arg::Bytes(b"GET"), Arg::Bytes(key.as_bytes())],
        0,
        &mut ChaCha8Rng::seed_from_u64(1),
    )
}

#[test]
fn a_filtered_range_equals_the_kept_keys_materialized() {
    let keep = |index: u64| key_hash_slot(format!("memtier-{index}").as_bytes()) < 8192;
    let range = PrefillRange::fixed("memtier-", 5_000, 100, 7);
    let mut filtered = Db::new(Default::default());
    filtered
        .prefill_where(range.clone(), keep)
        .expect("valid range");
    let mut full = Db::new(Default::default());
    full.prefill_where(
        PrefillRange {
            materialize: true,
            ..range
        },
        keep,
    )
    .expect("valid range");
    let kept = (0..5_000u64).filter(|i| keep(*i)).count() as u64;
    assert!(kept > 2_000 && kept < 3_000, "about half the keys: {kept}");
    assert_eq!(filtered.dbsize(), kept);
    assert_eq!(full.dbsize(), kept);
    assert_eq!(filtered.used_memory(), full.used_memory());
    for i in [0u64, 1, 17, 2_500, 4_999] {
        let key = format!("memtier-{i}");
        assert_eq!(get(&mut filtered, &key), get(&mut full, &key), "{key}");
    }
    // The filter changes the logical state, so the digest.
    let mut unfiltered = Db::new(Default::default());
    unfiltered
        .prefill(PrefillRange::fixed("memtier-", 5_000, 100, 7))
        .expect("valid range");
    assert_ne!(filtered.state_digest(), unfiltered.state_digest());
    assert_eq!(unfiltered.dbsize(), 5_000);
}

/// The dropped keys' bytes are counted a word of 64 keys at a time (a digit count's
/// keys together when values have one size): ranges that start mid-word and cross
/// powers of ten, with fixed and varying value sizes and keys already stored, still
/// count exactly what the same keys stored one by one count.
#[test]
fn dropped_bytes_counted_by_word_match_the_kept_keys_stored() {
    use store_core::ValueSize;
    let sizes = [
        ValueSize::Fixed(33),
        ValueSize::Uniform { min: 1, max: 300 },
        ValueSize::Weighted(vec![(10, 3), (1000, 1)]),
    ];
    for (first_index, count) in [
        (0u64, 130u64),
        (5, 1_000),
        (95, 17),
        (9_990, 40),
        (999_937, 200),
    ] {
        for size in &sizes {
            let range = PrefillRange {
                first_index,
                count,
                value_size: size.clone(),
                ..PrefillRange::fixed("k:", 0, 0, 11)
            };
            let keep = |index: u64| index % 3 != 0 && index % 7 != 1;
            let mut filtered = Db::new(Default::default());
            let mut full = Db::new(Default::default());
            // A key of the range stored before: it keeps its stored state either way.
            for db in [&mut filtered, &mut full] {
                let mut s = Session::new(1);
                let key = format!("k:{}", first_index + 1);
                db.execute(
                    &mut s,
                    &[
                        Arg::Bytes(b"SET"),
                        Arg::Bytes(key.as_bytes()),
                        Arg::Bytes(b"v"),
                    ],
                    0,
                    &mut ChaCha8Rng::seed_from_u64(1),
                );
            }
            filtered.prefill_where(range.clone(), keep).unwrap();
            // Asked a word at a time, the same filter gives the same store.
            let mut by_words = Db::new(Default::default());
            by_words
                .prefill_where_words(range.clone(), |first, n| {
                    (0..n).fold(0u64, |m, b| m | (u64::from(keep(first + b)) << b))
                })
                .unwrap();
            let mut plain = Db::new(Default::default());
            plain.prefill_where(range.clone(), keep).unwrap();
            full.prefill_where(
                PrefillRange {
                    materialize: true,
                    ..range
                },
                keep,
            )
            .unwrap();
            let at = format!("{first_index}+{count} {size:?}");
            assert_eq!(filtered.dbsize(), full.dbsize(), "{at}");
            assert_eq!(filtered.used_memory(), full.used_memory(), "{at}");
            assert_eq!(by_words.state_digest(), plain.state_digest(), "{at}");
            assert_eq!(by_words.used_memory(), plain.used_memory(), "{at}");
        }
    }
}
