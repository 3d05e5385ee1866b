//! An order-independent digest of a Db's logical state, for determinism tests: each
//! stored key contributes a hash of (key, type, value, expiry), combined by wrapping
//! addition so insertion order and table layout do not matter; each prefilled range
//! contributes its description and overridden set. Invariant: equal logical states built
//! through the same representation give equal digests.

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

pub(crate) fn state_digest(db: &Db) -> u64 {
    let mut digest = 0u64;
    for entry in db.keyspace.iter() {
        let mut h = hash_bytes(entry.key.as_bytes());
        h = combine(h, value_digest(&entry.value));
        h = combine(h, entry.expire_at().map_or(u64::MAX, |t| t));
        digest = digest.wrapping_add(h);
    }
    for range in &db.prefilled {
        let mut h = hash_bytes(&range.spec.prefix);
        h = combine(h, range.spec.first_index);
        h = combine(h, range.spec.count);
        h = combine(h, range.spec.seed);
        for (w, word) in range.overridden.iter().enumerate() {
            if *word != 0 {
                h = combine(combine(h, w as u64), *word);
            }
        }
        digest = digest.wrapping_add(h);
    }
    combine(digest, db.dbsize())
}
