//! Property test of resharding: random keyspaces (prefilled ranges of several prefixes,
//! hash tags and index widths, with keys overwritten, deleted or given an expiry, and
//! stored strings, synthetic values, hashes, lists, sets and sorted sets) on a source
//! node, a few keys of its own on the target, and random slots moved from source to
//! target as `redis-cli --cluster reshard` moves them (GETKEYSINSLOT n, MIGRATE those
//! keys, until the slot is empty) with a random batch size.
//!
//! Invariant, in words: migration moves keys, it never duplicates, loses or changes
//! one. The digest of both nodes' keys together, and their total key count, are what
//! they were before; each migrated slot is empty on the source and holds on the target
//! every key the two nodes had in it; every MIGRATE answers OK.

use proptest::prelude::*;
use rand::SeedableRng;
use store_core::{
    key_hash_slot, Arg, Config, Db, PrefillRange, Reply, Session, SlotState, SyntheticFill,
    ValueSize,
};

const NOW_MS: u64 = 1_764_000_000_000;

#[derive(Clone, Debug)]
enum Op {
    Set(usize, Vec<u8>),
    SetSynthetic(usize, u64, SyntheticFill),
    HSet(usize, Vec<(u8, Vec<u8>)>),
    RPush(usize, Vec<Vec<u8>>),
    SAdd(usize, Vec<Vec<u8>>),
    ZAdd(usize, Vec<(i32, Vec<u8>)>),
    /// An expiry this many ms ahead (always in the future: a key already due would
    /// expire, not move).
    ExpireIn(usize, u64),
    Del(usize),
}

const PREFIXES: [&str; 4] = ["memtier-", "k:", "user:{7}:", "p{}"];

fn fill() -> impl Strategy<Value = SyntheticFill> {
    prop_oneof![
        Just(SyntheticFill::Letters),
        any::<u8>().prop_map(SyntheticFill::Repeat),
        Just(SyntheticFill::Random),
        Just(SyntheticFill::MemtierRandom),
    ]
}

fn element() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0i64..1000).prop_map(|v| v.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..20),
        (1usize..120, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ]
}

fn range() -> impl Strategy<Value = (usize, u64, u64, u64, SyntheticFill)> {
    (
        0..PREFIXES.len(),
        0u64..120_000,
        0u64..3_000,
        1u64..600,
        fill(),
    )
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0usize..64;
    prop_oneof![
        (key.clone(), element()).prop_map(|(k, v)| Op::Set(k, v)),
        (key.clone(), 0u64..3_000, fill()).prop_map(|(k, n, f)| Op::SetSynthetic(k, n, f)),
        (
            key.clone(),
            proptest::collection::vec((0u8..100, element()), 1..8)
        )
            .prop_map(|(k, f)| Op::HSet(k, f)),
        (key.clone(), proptest::collection::vec(element(), 1..8))
            .prop_map(|(k, v)| Op::RPush(k, v)),
        (key.clone(), proptest::collection::vec(element(), 1..8)).prop_map(|(k, v)| Op::SAdd(k, v)),
        (
            key.clone(),
            proptest::collection::vec((-100i32..100, element()), 1..8)
        )
            .prop_map(|(k, v)| Op::ZAdd(k, v)),
        (key.clone(), 1u64..1_000_000).prop_map(|(k, ms)| Op::ExpireIn(k, ms)),
        key.prop_map(Op::Del),
    ]
}

/// The key pool: names outside any range, and names inside (or near) the ranges.
fn pool_key(ranges: &[PrefillRange], k: usize) -> Vec<u8> {
    match ranges.get(k % 4) {
        Some(r) if k >= 16 => {
            let index = r.first_index + (k as u64 * 37) % (r.count + 2);
            let mut key = r.prefix.clone();
            key.extend_from_slice(index.to_string().as_bytes());
            key
        }
        _ => format!("key:{k}").into_bytes(),
    }
}

fn run(db: &mut Db, args: &[&[u8]]) -> Reply {
    let mut session = Session::new(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a)).collect();
    db.execute(&mut session, &argv, NOW_MS, &mut rng)
}

fn apply(db: &mut Db, ranges: &[PrefillRange], op: &Op) {
    let mut session = Session::new(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let key_of = |k: usize| pool_key(ranges, k);
    match op {
        Op::Set(k, v) => {
            run(db, &[b"SET", &key_of(*k), v]);
        }
        Op::SetSynthetic(k, len, fill) => {
            let key = key_of(*k);
            let argv = [
                Arg::Bytes(b"SET"),
                Arg::Bytes(&key),
                Arg::Synthetic {
                    len: *len,
                    seed: fill.seed(*len),
                },
            ];
            db.execute(&mut session, &argv, NOW_MS, &mut rng);
        }
        Op::HSet(k, fields) => {
            let key = key_of(*k);
            let names: Vec<Vec<u8>> = fields
                .iter()
                .map(|(f, _)| format!("f{f}").into_bytes())
                .collect();
            let mut args: Vec<&[u8]> = vec![b"HSET", &key];
            for (name, (_, value)) in names.iter().zip(fields) {
                args.push(name);
                args.push(value);
            }
            run(db, &args);
        }
        Op::RPush(k, items) | Op::SAdd(k, items) => {
            let key = key_of(*k);
            let name: &[u8] = if matches!(op, Op::RPush(..)) {
                b"RPUSH"
            } else {
                b"SADD"
            };
            let mut args: Vec<&[u8]> = vec![name, &key];
            args.extend(items.iter().map(Vec::as_slice));
            run(db, &args);
        }
        Op::ZAdd(k, members) => {
            let key = key_of(*k);
            let scores: Vec<Vec<u8>> = members
                .iter()
                .map(|(s, _)| (f64::from(*s) / 4.0).to_string().into_bytes())
                .collect();
            let mut args: Vec<&[u8]> = vec![b"ZADD", &key];
            for (score, (_, member)) in scores.iter().zip(members) {
                args.push(score);
                args.push(member);
            }
            run(db, &args);
        }
        Op::ExpireIn(k, ms) => {
            run(db, &[b"PEXPIRE", &key_of(*k), ms.to_string().as_bytes()]);
        }
        Op::Del(k) => {
            run(db, &[b"DEL", &key_of(*k)]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn migration_moves_keys_without_duplicating_losing_or_changing_one(
        range_specs in proptest::collection::vec(range(), 0..3),
        ops in proptest::collection::vec(op(), 0..80),
        target_keys in proptest::collection::vec((0u8..50, element()), 0..10),
        picked in proptest::collection::vec(0usize..64, 1..5),
        extra_slot in 0u16..16_384,
        batch in 1usize..20,
    ) {
        let cluster = Config { cluster_enabled: true, ..Config::default() };
        let mut source = Db::new(cluster.clone());
        let mut target = Db::new(cluster);
        let mut ranges = Vec::new();
        for (p, first_index, count, value_bytes, fill) in range_specs {
            let range = PrefillRange {
                first_index,
                value_size: ValueSize::Uniform { min: 1, max: value_bytes },
                ..PrefillRange::fixed(PREFIXES[p], count, 0, value_bytes).with_fill(fill)
            };
            if source.prefill(range.clone()).is_ok() {
                ranges.push(range);
            }
        }
        for op in &ops {
            apply(&mut source, &ranges, op);
        }
        // The target's own keys have names the source never uses.
        for (k, value) in &target_keys {
            run(&mut target, &[b"SET", format!("target:{k}").as_bytes(), value]);
        }
        let before_digest = Db::union_state_digest(&[&source, &target]);
        let before_keys = source.dbsize() + target.dbsize();
        let mut slots: Vec<u16> = picked.iter().map(|&k| key_hash_slot(&pool_key(&ranges, k))).collect();
        slots.push(extra_slot);
        slots.sort_unstable();
        slots.dedup();
        for &slot in &slots {
            let expected = source.count_keys_in_slot(slot) + target.count_keys_in_slot(slot);
            let node = source.cluster_node("target:6379");
    source.set_slot_state(slot, SlotState::Migrating(node));
            target.set_slot_state(slot, SlotState::Importing);
            // Bounded: each round moves at least one key.
            for _ in 0..=expected {
                let keys = source.keys_in_slot(slot, batch);
                if keys.is_empty() {
                    break;
                }
                let out = source.migrate_out(&keys, NOW_MS);
                prop_assert_eq!(out.keys.len(), keys.len());
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
                let replies = target.migrate_in(&out, NOW_MS, &mut rng);
                prop_assert_eq!(source.migrate_finish(&out, &replies), Reply::Ok);
            }
            prop_assert_eq!(source.count_keys_in_slot(slot), 0);
            prop_assert_eq!(target.count_keys_in_slot(slot), expected);
            let node = source.cluster_node("target:6379");
    source.set_slot_state(slot, SlotState::Elsewhere(node));
            target.set_slot_state(slot, SlotState::Owned);
        }
        prop_assert_eq!(source.dbsize() + target.dbsize(), before_keys);
        prop_assert_eq!(Db::union_state_digest(&[&source, &target]), before_digest);
    }
}
