//! The values a key can hold, one variant per Redis type and string encoding, each
//! collection tracking the bytes Redis would allocate for it incrementally (so
//! `used_memory` is O(1) to update after any command). Invariant: a collection's
//! `*_entries_bytes` sums always equal what recomputing them from the elements gives,
//! and an encoding only ever converts the way Redis 7.0 converts it (listpack/intset to
//! hashtable/skiplist, never back).

use crate::blob::Blob;
use crate::hashing::{fixed_state, FixedState};
use crate::mem;
use crate::numbers;
use indexmap::{IndexMap, IndexSet};
use std::collections::VecDeque;

/// zset-max-listpack-entries (Redis 7.0's default).
pub const MAX_LISTPACK_ENTRIES: usize = 128;
/// hash-max-listpack-entries: 512 as redis-server 7.0 compiles it in (config.c); the
/// redis.conf it ships says 128, which only a server started with that file uses.
pub const MAX_HASH_LISTPACK_ENTRIES: usize = 512;
/// hash-max-listpack-value / zset-max-listpack-value.
pub const MAX_LISTPACK_VALUE: u64 = 64;
/// set-max-intset-entries.
pub const MAX_INTSET_ENTRIES: usize = 512;

/// A key's value. Strings keep Redis's encodings because they cost different memory.
#[derive(Clone, Debug)]
pub enum Value {
    /// An integer-encoded string; `shared` when Redis would point at a shared integer
    /// object (0..10000 without an LRU/LFU policy) and so charge nothing for it.
    Int {
        value: i64,
        shared: bool,
    },
    /// A string held as real bytes (embstr up to 44 bytes, raw beyond).
    Bytes(Box<[u8]>),
    /// A string held as (length, seed): costs its length in `used_memory`, a few bytes here.
    Synthetic {
        len: u64,
        seed: u64,
    },
    Hash(Box<HashValue>),
    List(Box<ListValue>),
    Set(Box<SetValue>),
    ZSet(Box<ZSetValue>),
}

impl Value {
    /// The TYPE reply for this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int { .. } | Value::Bytes(_) | Value::Synthetic { .. } => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(
            self,
            Value::Int { .. } | Value::Bytes(_) | Value::Synthetic { .. }
        )
    }

    /// Bytes Redis allocates for this value object (not the key or dict entry).
    pub fn redis_bytes(&self) -> u64 {
        match self {
            Value::Int { shared: true, .. } => 0,
            Value::Int { shared: false, .. } => mem::ROBJ_BYTES,
            Value::Bytes(b) => mem::string_object_bytes(b.len() as u64),
            Value::Synthetic { len, .. } => mem::string_object_bytes(*len),
            Value::Hash(h) => h.redis_bytes(),
            Value::List(l) => l.redis_bytes(),
            Value::Set(s) => s.redis_bytes(),
            Value::ZSet(z) => z.redis_bytes(),
        }
    }

    /// The string's length without materializing it; `None` for non-strings.
    pub fn string_len(&self) -> Option<u64> {
        match self {
            Value::Int { value, .. } => Some(numbers::format_i64(*value).len() as u64),
            Value::Bytes(b) => Some(b.len() as u64),
            Value::Synthetic { len, .. } => Some(*len),
            _ => None,
        }
    }

    /// The string as a blob (synthetic stays synthetic); `None` for non-strings.
    pub fn string_blob(&self) -> Option<Blob> {
        match self {
            Value::Int { value, .. } => Some(Blob::Bytes(numbers::format_i64(*value).into())),
            Value::Bytes(b) => Some(Blob::Bytes(b.clone())),
            Value::Synthetic { len, seed } => Some(Blob::Synthetic {
                len: *len,
                seed: *seed,
            }),
            _ => None,
        }
    }

    /// The string's bytes, materialized; `None` for non-strings.
    pub fn string_bytes(&self) -> Option<Vec<u8>> {
        self.string_blob().map(|b| b.to_vec())
    }

    /// A string value built from bytes the way SET's `tryObjectEncoding` would encode it.
    pub fn string_from_bytes(bytes: &[u8], shared_integers: bool) -> Value {
        if bytes.len() <= 20 {
            if let Some(value) = numbers::parse_i64(bytes) {
                return Value::int(value, shared_integers);
            }
        }
        Value::Bytes(bytes.into())
    }

    /// An integer string as INCR creates it.
    pub fn int(value: i64, shared_integers: bool) -> Value {
        Value::Int {
            value,
            shared: shared_integers && (0..mem::SHARED_INTEGERS).contains(&value),
        }
    }
}

/// Listpack bytes of a blob element (synthetic values are never integers).
pub fn blob_listpack_bytes(blob: &Blob) -> u64 {
    match blob {
        Blob::Bytes(b) => mem::listpack_entry_bytes(b),
        Blob::Synthetic { len, .. } => mem::listpack_str_entry_bytes(*len),
    }
}

/// A hash: fields in insertion order (a listpack's order; a hashtable's order is
/// unspecified in Redis, so insertion order is as good as any and deterministic).
#[derive(Clone, Debug)]
pub struct HashValue {
    pub fields: IndexMap<Box<[u8]>, Blob, FixedState>,
    listpack: bool,
    lp_entries_bytes: u64,
    table_entries_bytes: u64,
    rehash: mem::Rehash,
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue {
            fields: IndexMap::with_hasher(fixed_state()),
            listpack: true,
            lp_entries_bytes: 0,
            table_entries_bytes: 0,
            rehash: mem::Rehash::default(),
        }
    }
}

impl HashValue {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn pair_costs(field: &[u8], value: &Blob) -> (u64, u64) {
        let lp = mem::listpack_entry_bytes(field) + blob_listpack_bytes(value);
        let table = mem::DICT_ENTRY_BYTES
            + mem::sds_bytes(field.len() as u64)
            + mem::sds_bytes(value.len());
        (lp, table)
    }

    /// Sets a field; returns true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: Blob) -> bool {
        if field.len() as u64 > MAX_LISTPACK_VALUE || value.len() > MAX_LISTPACK_VALUE {
            self.listpack = false;
        }
        let (lp, table) = Self::pair_costs(field, &value);
        self.lp_entries_bytes += lp;
        self.table_entries_bytes += table;
        let old = if let Some(slot) = self.fields.get_mut(field) {
            Some(std::mem::replace(slot, value))
        } else {
            if !self.listpack {
                self.rehash.before_insert(self.fields.len() as u64);
            }
            self.fields.insert(field.into(), value);
            None
        };
        if let Some(old) = &old {
            let (lp, table) = Self::pair_costs(field, old);
            self.lp_entries_bytes -= lp;
            self.table_entries_bytes -= table;
        }
        if self.fields.len() > MAX_HASH_LISTPACK_ENTRIES {
            self.listpack = false;
        }
        old.is_none()
    }

    /// Removes a field; returns true when it existed. Keeps listpack order (shift) while
    /// listpack-encoded, as Redis's listpack delete does.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let removed = if self.listpack {
            self.fields.shift_remove_entry(field)
        } else {
            self.rehash.step();
            self.fields.swap_remove_entry(field)
        };
        match removed {
            Some((f, v)) => {
                let (lp, table) = Self::pair_costs(&f, &v);
                self.lp_entries_bytes -= lp;
                self.table_entries_bytes -= table;
                true
            }
            None => false,
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&Blob> {
        self.fields.get(field)
    }

    /// Whether Redis holds this hash as a listpack (else a hashtable).
    pub fn is_listpack(&self) -> bool {
        self.listpack
    }

    pub fn redis_bytes(&self) -> u64 {
        if self.listpack {
            mem::ROBJ_BYTES + mem::listpack_bytes(self.lp_entries_bytes)
        } else {
            mem::ROBJ_BYTES
                + mem::DICT_BYTES
                + mem::dict_buckets_bytes(self.fields.len() as u64)
                + self.rehash.bytes()
                + self.table_entries_bytes
        }
    }
}

/// A list (a quicklist of listpack nodes in Redis 7.0).
#[derive(Clone, Debug, Default)]
pub struct ListValue {
    pub items: VecDeque<Blob>,
    lp_entries_bytes: u64,
}

impl ListValue {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn push_front(&mut self, item: Blob) {
        self.lp_entries_bytes += blob_listpack_bytes(&item);
        self.items.push_front(item);
    }

    pub fn push_back(&mut self, item: Blob) {
        self.lp_entries_bytes += blob_listpack_bytes(&item);
        self.items.push_back(item);
    }

    pub fn pop_front(&mut self) -> Option<Blob> {
        let item = self.items.pop_front()?;
        self.lp_entries_bytes -= blob_listpack_bytes(&item);
        Some(item)
    }

    pub fn pop_back(&mut self) -> Option<Blob> {
        let item = self.items.pop_back()?;
        self.lp_entries_bytes -= blob_listpack_bytes(&item);
        Some(item)
    }

    /// Keeps only `start..end` (indices already clamped by the caller).
    pub fn retain_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.items.len());
        let start = start.min(end);
        self.items.truncate(end);
        self.items.drain(..start);
        self.lp_entries_bytes = self.items.iter().map(blob_listpack_bytes).sum();
    }

    pub fn redis_bytes(&self) -> u64 {
        mem::ROBJ_BYTES + mem::quicklist_bytes(self.lp_entries_bytes, self.items.len() as u64)
    }
}

/// A set: an intset (sorted integers) while every member is an integer and there are at
/// most 512, else a hashtable (members in insertion order, removal by swap).
#[derive(Clone, Debug)]
pub enum SetValue {
    Ints {
        members: Vec<i64>,
        width_bytes: u64,
    },
    Table {
        members: IndexSet<Box<[u8]>, FixedState>,
        entries_bytes: u64,
        rehash: mem::Rehash,
    },
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Ints {
            members: Vec::new(),
            width_bytes: 2,
        }
    }
}

fn intset_width(value: i64) -> u64 {
    if i16::try_from(value).is_ok() {
        2
    } else if i32::try_from(value).is_ok() {
        4
    } else {
        8
    }
}

fn set_member_table_bytes(member: &[u8]) -> u64 {
    mem::DICT_ENTRY_BYTES + mem::sds_bytes(member.len() as u64)
}

impl SetValue {
    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints { members, .. } => members.len(),
            SetValue::Table { members, .. } => members.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn convert_to_table(&mut self) {
        if let SetValue::Ints { members, .. } = self {
            let mut table = IndexSet::with_capacity_and_hasher(members.len(), fixed_state());
            let mut entries_bytes = 0;
            for m in members.iter() {
                let bytes = numbers::format_i64(*m);
                entries_bytes += set_member_table_bytes(&bytes);
                table.insert(bytes.into_boxed_slice());
            }
            *self = SetValue::Table {
                members: table,
                entries_bytes,
                rehash: mem::Rehash::default(),
            };
        }
    }

    /// Adds a member; returns true when it was new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if let SetValue::Ints {
            members,
            width_bytes,
        } = self
        {
            match numbers::parse_i64(member) {
                Some(v) => {
                    return match members.binary_search(&v) {
                        Ok(_) => false,
                        Err(at) => {
                            members.insert(at, v);
                            *width_bytes = (*width_bytes).max(intset_width(v));
                            if members.len() > MAX_INTSET_ENTRIES {
                                self.convert_to_table();
                            }
                            true
                        }
                    };
                }
                None => self.convert_to_table(),
            }
        }
        match self {
            SetValue::Table {
                members,
                entries_bytes,
                rehash,
            } => {
                if members.contains(member) {
                    false
                } else {
                    rehash.before_insert(members.len() as u64);
                    *entries_bytes += set_member_table_bytes(member);
                    members.insert(member.into());
                    true
                }
            }
            SetValue::Ints { .. } => false,
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Ints { members, .. } => match numbers::parse_i64(member) {
                Some(v) => match members.binary_search(&v) {
                    Ok(at) => {
                        members.remove(at);
                        true
                    }
                    Err(_) => false,
                },
                None => false,
            },
            SetValue::Table {
                members,
                entries_bytes,
                rehash,
            } => {
                rehash.step();
                if members.swap_remove(member) {
                    *entries_bytes -= set_member_table_bytes(member);
                    true
                } else {
                    false
                }
            }
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::Ints { members, .. } => {
                numbers::parse_i64(member).is_some_and(|v| members.binary_search(&v).is_ok())
            }
            SetValue::Table { members, .. } => members.contains(member),
        }
    }

    /// Member at position `index` (0..len) in the set's own order.
    pub fn member_at(&self, index: usize) -> Option<Vec<u8>> {
        match self {
            SetValue::Ints { members, .. } => members.get(index).map(|v| numbers::format_i64(*v)),
            SetValue::Table { members, .. } => members.get_index(index).map(|m| m.to_vec()),
        }
    }

    /// All members in the set's own order (ascending for an intset, as Redis answers).
    pub fn members(&self) -> Vec<Vec<u8>> {
        (0..self.len()).filter_map(|i| self.member_at(i)).collect()
    }

    pub fn redis_bytes(&self) -> u64 {
        match self {
            SetValue::Ints {
                members,
                width_bytes,
            } => mem::ROBJ_BYTES + mem::size_class(8 + members.len() as u64 * width_bytes),
            SetValue::Table {
                members,
                entries_bytes,
                rehash,
            } => {
                mem::ROBJ_BYTES
                    + mem::DICT_BYTES
                    + mem::dict_buckets_bytes(members.len() as u64)
                    + rehash.bytes()
                    + entries_bytes
            }
        }
    }
}

/// A sorted set: members ordered by (score, member bytes), Redis's order, in a sorted
/// vector (rank = index), plus a member -> score map for O(1) lookups.
#[derive(Clone, Debug)]
pub struct ZSetValue {
    pub sorted: Vec<(f64, Box<[u8]>)>,
    scores: hashbrown::HashMap<Box<[u8]>, f64, FixedState>,
    listpack: bool,
    lp_entries_bytes: u64,
    skiplist_entries_bytes: u64,
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue {
            sorted: Vec::new(),
            scores: hashbrown::HashMap::with_hasher(fixed_state()),
            listpack: true,
            lp_entries_bytes: 0,
            skiplist_entries_bytes: 0,
        }
    }
}

fn zset_order(a: &(f64, Box<[u8]>), score: f64, member: &[u8]) -> std::cmp::Ordering {
    a.0.partial_cmp(&score)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then_with(|| a.1.as_ref().cmp(member))
}

/// The level Redis's random skiplist level would give, drawn from the member's hash so
/// the memory estimate is deterministic (P = 1/4, at most 32 levels).
fn skiplist_level(member: &[u8]) -> u32 {
    let mut h = crate::hashing::hash_bytes(member);
    let mut level = 1;
    while h & 3 == 0 && level < 32 {
        level += 1;
        h >>= 2;
    }
    level
}

impl ZSetValue {
    /// A sorted set created for a first element whose member is `first_member_len` long:
    /// Redis starts it as a skiplist when the member exceeds the listpack value limit.
    pub fn for_first_member(first_member_len: usize) -> ZSetValue {
        let mut z = ZSetValue::default();
        if first_member_len as u64 > MAX_LISTPACK_VALUE {
            z.listpack = false;
        }
        z
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Whether Redis holds this sorted set as a listpack (else a skiplist).
    pub fn is_listpack(&self) -> bool {
        self.listpack
    }

    fn lp_pair_bytes(member: &[u8], score: f64) -> u64 {
        mem::listpack_entry_bytes(member)
            + mem::listpack_entry_bytes(numbers::d2string(score).as_bytes())
    }

    fn skiplist_member_bytes(member: &[u8]) -> u64 {
        mem::DICT_ENTRY_BYTES
            + mem::sds_bytes(member.len() as u64)
            + mem::skiplist_node_bytes(skiplist_level(member))
    }

    /// Inserts or updates; returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let old = self.remove(member);
        let stays_listpack = self.listpack
            && self.sorted.len() < MAX_LISTPACK_ENTRIES
            && member.len() as u64 <= MAX_LISTPACK_VALUE;
        // A listpack keeps the score as d2string's text, which drops the sign of -0; a
        // skiplist keeps the double itself.
        let score = if stays_listpack && score == 0.0 {
            0.0
        } else {
            score
        };
        if member.len() as u64 > MAX_LISTPACK_VALUE {
            self.listpack = false;
        }
        let at = self
            .sorted
            .binary_search_by(|e| zset_order(e, score, member))
            .unwrap_or_else(|at| at);
        self.sorted.insert(at, (score, member.into()));
        self.scores.insert(member.into(), score);
        self.lp_entries_bytes += Self::lp_pair_bytes(member, score);
        self.skiplist_entries_bytes += Self::skiplist_member_bytes(member);
        if self.sorted.len() > MAX_LISTPACK_ENTRIES {
            self.listpack = false;
        }
        old
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.remove(member)?;
        if let Ok(at) = self
            .sorted
            .binary_search_by(|e| zset_order(e, score, member))
        {
            self.sorted.remove(at);
        }
        self.lp_entries_bytes -= Self::lp_pair_bytes(member, score);
        self.skiplist_entries_bytes -= Self::skiplist_member_bytes(member);
        Some(score)
    }

    /// 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        self.sorted
            .binary_search_by(|e| zset_order(e, score, member))
            .ok()
    }

    pub fn redis_bytes(&self) -> u64 {
        if self.listpack {
            mem::ROBJ_BYTES + mem::listpack_bytes(self.lp_entries_bytes)
        } else {
            mem::ROBJ_BYTES
                + mem::skiplist_fixed_bytes()
                + mem::dict_buckets_bytes(self.sorted.len() as u64)
                + self.skiplist_entries_bytes
        }
    }
}
