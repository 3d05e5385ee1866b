//! An order-independent digest of a Db's logical state, for determinism and replication
//! tests: each key, stored or a prefilled default, contributes a hash of (key, type,
//! value, expiry), combined by wrapping addition so insertion order, table layout and
//! whether a key is prefilled or stored do not matter. Invariant: equal logical states
//! give equal digests, a synthetic string value counting by its (len, seed) description
//! (so a value materialized into bytes digests differently). The digest of several Dbs'
//! keys together (cluster nodes) is the same sum over all of them, so moving a key from
//! one node to another leaves it unchanged. Cost: one hash per live key, prefilled ones
//! included.

use crate::db::Db;
use crate::hashing::{hash_bytes, mix64};
use crate::value::Value;

fn combine(h: u64, x: u64) -> u64 {
    mix64(h ^ x.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn value_digest(value: &Value) -> u64 {
    match value {
        Value::Int { value, .. } => hash_bytes(value.to_string().as_bytes()),
        Value::Bytes(b) => hash_bytes(b),
        Value::Synthetic { len, seed } => combine(combine(1, *len), *seed),
        Value::Hash(h) => h
            .fields
            .iter()
            .map(|(f, v)| combine(hash_bytes(f), hash_bytes(&v.to_vec())))
            .fold(2, u64::wrapping_add),
        Value::List(l) => l
            .items
            .iter()
            .fold(3, |h, item| combine(h, hash_bytes(&item.to_vec()))),
        Value::Set(s) => s
            .members()
            .iter()
            .map(|m| hash_bytes(m))
            .fold(4, u64::wrapping_add),
        Value::ZSet(z) => z.sorted.iter().fold(5, |h, (score, m)| {
            combine(combine(h, score.to_bits()), hash_bytes(m))
        }),
    }
}

/// One logical key's contribution: (key, type and value, expiry).
fn key_digest(key: &[u8], value: &Value, expire_at_ms: Option<u64>) -> u64 {
    let h = combine(hash_bytes(key), value_digest(value));
    combine(h, expire_at_ms.unwrap_or(u64::MAX))
}

pub(crate) fn state_digest(db: &Db) -> u64 {
    union_digest(&[db])
}

/// The digest of the keys of all `dbs` taken together, as if one Db held them all
/// (for cluster nodes, whose keys are disjoint): a key moved from one to another leaves
/// it unchanged. Equals `state_digest` for one Db.
pub(crate) fn union_digest(dbs: &[&Db]) -> u64 {
    let (sum, keys) = dbs.iter().fold((0u64, 0u64), |(sum, keys), db| {
        (sum.wrapping_add(keys_digest(db)), keys + db.dbsize())
    });
    combine(sum, keys)
}

/// The sum of the keys' contributions.
fn keys_digest(db: &Db) -> u64 {
    let mut digest = 0u64;
    for entry in db.keyspace.iter() {
        digest = digest.wrapping_add(key_digest(
            entry.key.as_bytes(),
            &entry.value,
            entry.expire_at(),
        ));
    }
    // A prefilled key still at its default counts as the stored key it stands for, so
    // a range compares equal to the same keys materialized (by reads under an LRU
    // policy, by `PrefillRange::materialize`, or by a replica that stored them).
    for range in &db.prefilled {
        let mut offset = 0;
        while let Some(live) = range.next_live(offset) {
            let index = range.spec.first_index + live;
            let value = range.default_value(index);
            digest = digest.wrapping_add(key_digest(&range.key_of(index), &value, None));
            offset = live + 1;
        }
    }
    digest
}
