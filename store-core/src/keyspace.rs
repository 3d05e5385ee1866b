//! The main dictionary: an open-addressing table with linear probing that stores each
//! entry (key inline when short, value, expiry, access metadata) in its slot, so a
//! lookup usually costs one cache miss. Slots are 64-byte aligned, one entry per cache
//! line; a parallel array of one control byte per slot (empty, or 7 bits of the key's
//! hash) lets a probe skip slots whose key cannot match without touching them, reading
//! the bytes of eight slots at a time (a probe at 85% load crosses a dozen). The home
//! slot of a key is `hash * capacity >> 64` (any capacity, so the table grows by 1.5x
//! and stays between 57% and 85% full); deletion shifts the following cluster back
//! instead of leaving tombstones. Uniform random sampling (eviction, RANDOMKEY) draws
//! slots until one is occupied, as Redis's dictGetRandomKey draws buckets. Keys with an
//! expiry are also listed in `expires`, Redis's expires dict, which the active expire
//! cycle walks.
//!
//! Invariants: every stored key is reachable from its home slot without crossing an
//! empty slot; `ctrl[i]` is 0 iff slot i is empty, else `tag(hash of its key)`; `len`
//! counts occupied slots; `expires` holds exactly the keys whose entry has an expiry,
//! and each such entry's `expire_pos` is its index in `expires`. Layout depends only on
//! the sequence of operations and the fixed hash seed, never on the process or the CPU
//! architecture.

use crate::hashing::hash_bytes;
use crate::slots::key_hash_slot;
use crate::value::Value;
use std::collections::BTreeSet;

/// Keys up to this many bytes are stored inside the entry, with no allocation.
const INLINE_KEY_BYTES: usize = 22;

/// A key: inline when short (the common case: "memtier-12345678"), boxed otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    Inline {
        len: u8,
        bytes: [u8; INLINE_KEY_BYTES],
    },
    Heap(Box<[u8]>),
}

impl Key {
    /// Whether this key equals `other`, comparing inline keys with a few word loads
    /// (no library call, no temporary copy of the probe).
    #[inline]
    fn equals(&self, other: &[u8]) -> bool {
        match self {
            Key::Inline { len, bytes } => {
                *len as usize == other.len() && short_bytes_eq(&bytes[..other.len()], other)
            }
            Key::Heap(b) => **b == *other,
        }
    }

    #[inline]
    pub fn new(bytes: &[u8]) -> Key {
        if bytes.len() <= INLINE_KEY_BYTES {
            let mut inline = [0u8; INLINE_KEY_BYTES];
            inline[..bytes.len()].copy_from_slice(bytes);
            Key::Inline {
                len: bytes.len() as u8,
                bytes: inline,
            }
        } else {
            Key::Heap(bytes.into())
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

#[inline]
fn word8(x: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&x[at..at + 8]);
    u64::from_ne_bytes(w)
}

#[inline]
fn word4(x: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&x[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// Equality of two slices of the same length up to 24 bytes, by overlapping word loads
/// from both ends.
#[inline]
fn short_bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n >= 8 {
        word8(a, 0) == word8(b, 0)
            && word8(a, n - 8) == word8(b, n - 8)
            && (n <= 16 || word8(a, 8) == word8(b, 8))
    } else if n >= 4 {
        word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4)
    } else {
        a == b
    }
}

/// No expiry (an `expire_pos` sentinel).
pub const NO_EXPIRE: u32 = u32::MAX;

/// One key with its value and metadata.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Key,
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; meaningful only when `expire_pos != NO_EXPIRE`.
    pub expire_at_ms: u64,
    /// Position of this entry's key in `Keyspace::expires`, or `NO_EXPIRE`.
    pub expire_pos: u32,
    /// Redis's 24-bit `lru` field: the LRU clock in seconds, or LFU's
    /// (minutes << 8 | log counter), depending on the policy.
    pub lru: u32,
}

impl Entry {
    #[inline]
    pub fn expire_at(&self) -> Option<u64> {
        (self.expire_pos != NO_EXPIRE).then_some(self.expire_at_ms)
    }
}

/// One slot, aligned to a cache line so an entry never straddles two.
#[derive(Clone, Debug, Default)]
#[repr(align(64))]
struct Slot(Option<Entry>);

/// Grow when an insert would take the table past this fill (percent).
const MAX_LOAD_PERCENT: usize = 85;

#[derive(Clone, Debug, Default)]
pub struct Keyspace {
    slots: Vec<Slot>,
    /// One byte per slot: 0 when empty, else `tag(hash)`.
    ctrl: Vec<u8>,
    len: usize,
    /// Keys that have an expiry (Redis's expires dict), in no particular order.
    pub expires: Vec<Key>,
    /// (slot, key) of every stored key, once a caller has asked for keys by slot
    /// (Redis's `slots_to_keys`); kept up to date by every insert and removal from then on.
    by_slot: Option<Box<SlotIndex>>,
}

/// Stored keys by cluster slot.
#[derive(Clone, Debug, Default)]
pub struct SlotIndex {
    keys: BTreeSet<(u16, Box<[u8]>)>,
}

impl SlotIndex {
    /// The keys of `slot`, by bytes.
    pub fn keys_in(&self, slot: u16) -> impl Iterator<Item = &[u8]> {
        let from: (u16, Box<[u8]>) = (slot, Box::default());
        self.keys
            .range(from..)
            .take_while(move |(s, _)| *s == slot)
            .map(|(_, k)| &**k)
    }
}

#[inline]
fn home(hash: u64, capacity: usize) -> usize {
    ((u128::from(hash) * capacity as u128) >> 64) as usize
}

/// Control byte of an occupied slot: the hash's low 7 bits (the home slot comes from
/// its high bits, so keys sharing a home rarely share a tag), with the high bit set.
#[inline]
fn tag(hash: u64) -> u8 {
    0x80 | (hash & 0x7f) as u8
}

/// Control bytes are scanned a word at a time: one u64 holds eight slots' bytes.
const GROUP_BYTES: usize = 8;
const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The control bytes of slots `at..at + 8` as one little-endian word (the first slot in
/// the lowest byte), or None when fewer than eight slots remain before the end.
#[inline]
fn ctrl_group(ctrl: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; GROUP_BYTES] = ctrl.get(at..at + GROUP_BYTES)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// The high bit of each empty slot's byte: occupied bytes have it set, empty ones are 0.
#[inline]
fn empty_bytes(group: u64) -> u64 {
    !group & HIGH_BITS
}

/// The high bit of each byte equal to `byte`. Exact up to the lowest match; a byte above
/// a match may be flagged spuriously, so callers confirm candidates.
#[inline]
fn bytes_equal(group: u64, byte: u8) -> u64 {
    let x = group ^ (LOW_BITS * u64::from(byte));
    x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS
}

/// The first empty slot at or after `from`, wrapping around (the table is never full).
#[inline]
fn first_empty(ctrl: &[u8], from: usize) -> usize {
    let capacity = ctrl.len();
    let mut i = from;
    loop {
        match ctrl_group(ctrl, i) {
            Some(group) => {
                let empty = empty_bytes(group);
                if empty != 0 {
                    return i + (empty.trailing_zeros() / 8) as usize;
                }
                i += GROUP_BYTES;
            }
            None => {
                if ctrl[i] == 0 {
                    return i;
                }
                i += 1;
            }
        }
        if i == capacity {
            i = 0;
        }
    }
}

impl Keyspace {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Number of slots (occupied or not), the range of `entry_at`.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The entry in slot `slot`, if occupied.
    #[inline]
    pub fn entry_at(&self, slot: usize) -> Option<&Entry> {
        self.slots.get(slot).and_then(|s| s.0.as_ref())
    }

    /// The entry at a position returned by `find` or `insert_new`.
    #[inline]
    pub fn entry(&self, pos: usize) -> &Entry {
        match &self.slots[pos].0 {
            Some(e) => e,
            None => panic!("keyspace invariant: position {pos} refers to an occupied slot"),
        }
    }

    #[inline]
    pub fn entry_mut(&mut self, pos: usize) -> &mut Entry {
        match &mut self.slots[pos].0 {
            Some(e) => e,
            None => panic!("keyspace invariant: position {pos} refers to an occupied slot"),
        }
    }

    /// Stored entries in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().filter_map(|s| s.0.as_ref())
    }

    /// The addresses a lookup of `key` reads first (its home control bytes and slot),
    /// for a caller that wants them in cache before the lookup.
    #[inline]
    pub fn lookup_lines(&self, key: &[u8]) -> Option<[*const u8; 2]> {
        let capacity = self.slots.len();
        if capacity == 0 {
            return None;
        }
        let i = home(hash_bytes(key), capacity);
        Some([self.ctrl[i..].as_ptr(), self.slots[i..].as_ptr().cast()])
    }

    /// Position of `key`, if present.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let capacity = self.slots.len();
        if capacity == 0 {
            return None;
        }
        let hash = hash_bytes(key);
        let wanted = tag(hash);
        let mut i = home(hash, capacity);
        // Terminates: the table is never full (load <= 85%).
        loop {
            let Some(group) = ctrl_group(&self.ctrl, i) else {
                // Fewer than a group's bytes before the end: one slot at a time.
                let c = self.ctrl[i];
                if c == 0 {
                    return None;
                }
                if c == wanted && self.key_at(i, key) {
                    return Some(i);
                }
                i += 1;
                if i == capacity {
                    i = 0;
                }
                continue;
            };
            let empty = empty_bytes(group);
            // Only slots up to the first empty one belong to the probe sequence.
            let run = if empty == 0 {
                u64::MAX
            } else {
                empty ^ (empty - 1)
            };
            let mut candidates = bytes_equal(group, wanted) & run;
            while candidates != 0 {
                let j = i + (candidates.trailing_zeros() / 8) as usize;
                if self.key_at(j, key) {
                    return Some(j);
                }
                candidates &= candidates - 1;
            }
            if empty != 0 {
                return None;
            }
            i += GROUP_BYTES;
            if i == capacity {
                i = 0;
            }
        }
    }

    /// Whether slot `slot` holds `key`.
    #[inline]
    fn key_at(&self, slot: usize, key: &[u8]) -> bool {
        self.slots[slot]
            .0
            .as_ref()
            .is_some_and(|e| e.key.equals(key))
    }

    /// Stores `entry`, whose key hashes to `hash`, in the first empty slot from its home.
    #[inline(always)]
    fn place(slots: &mut [Slot], ctrl: &mut [u8], hash: u64, entry: Entry) -> usize {
        let i = first_empty(ctrl, home(hash, slots.len()));
        slots[i].0 = Some(entry);
        ctrl[i] = tag(hash);
        i
    }

    /// Rebuilds the table at `capacity`, placing the entries in their old slot order (the
    /// order decides which of two colliding keys comes first, so it is part of the layout).
    #[cold]
    #[inline(never)]
    fn grow_to(&mut self, capacity: usize) {
        let mut slots = Vec::with_capacity(capacity);
        slots.resize_with(capacity, Slot::default);
        let mut old_slots = std::mem::replace(&mut self.slots, slots);
        let old_ctrl = std::mem::replace(&mut self.ctrl, vec![0; capacity]);
        for (slot, &c) in old_slots.iter_mut().zip(&old_ctrl) {
            // The control byte says which slots to move without reading the others.
            if c == 0 {
                continue;
            }
            if let Some(entry) = slot.0.take() {
                let hash = hash_bytes(entry.key.as_bytes());
                Self::place(&mut self.slots, &mut self.ctrl, hash, entry);
            }
        }
    }

    #[inline]
    fn ensure_room(&mut self, additional: usize) {
        let needed = self.len + additional;
        let mut capacity = self.slots.len();
        while needed * 100 > capacity * MAX_LOAD_PERCENT {
            capacity = (capacity + capacity / 2).max(16);
        }
        if capacity != self.slots.len() {
            self.grow_to(capacity);
        }
    }

    /// Inserts a new key (the caller has checked it is absent); returns its position.
    pub fn insert_new(&mut self, key: &[u8], value: Value, lru: u32) -> usize {
        if let Some(index) = self.by_slot.as_deref_mut() {
            index.keys.insert((key_hash_slot(key), key.into()));
        }
        self.ensure_room(1);
        self.len += 1;
        Self::place(
            &mut self.slots,
            &mut self.ctrl,
            hash_bytes(key),
            Entry {
                key: Key::new(key),
                value,
                expire_at_ms: 0,
                expire_pos: NO_EXPIRE,
                lru,
            },
        )
    }

    /// Removes the entry at `pos`, returning it. Entries after it in its cluster may
    /// move back: positions held across a removal must be looked up again.
    pub fn remove_at(&mut self, pos: usize) -> Entry {
        self.clear_expire(pos);
        let capacity = self.slots.len();
        let removed = match self.slots[pos].0.take() {
            Some(e) => e,
            None => panic!("keyspace invariant: removing an occupied slot ({pos})"),
        };
        if let Some(index) = self.by_slot.as_deref_mut() {
            let key = removed.key.as_bytes();
            index.keys.remove(&(key_hash_slot(key), Box::from(key)));
        }
        self.ctrl[pos] = 0;
        self.len -= 1;
        let mut hole = pos;
        let mut j = pos;
        loop {
            j += 1;
            if j == capacity {
                j = 0;
            }
            if self.ctrl[j] == 0 {
                break;
            }
            let Some(e) = &self.slots[j].0 else {
                break;
            };
            let k = home(hash_bytes(e.key.as_bytes()), capacity);
            // The entry at j may fill the hole iff the hole lies cyclically in [k, j).
            let reachable = if k <= j {
                k <= hole && hole < j
            } else {
                hole >= k || hole < j
            };
            if reachable {
                self.slots[hole].0 = self.slots[j].0.take();
                self.ctrl[hole] = self.ctrl[j];
                self.ctrl[j] = 0;
                hole = j;
            }
        }
        removed
    }

    /// Sets or replaces the expiry of the entry at `pos`.
    pub fn set_expire(&mut self, pos: usize, at_ms: u64) {
        let expires_len = self.expires.len() as u32;
        let entry = self.entry_mut(pos);
        entry.expire_at_ms = at_ms;
        if entry.expire_pos == NO_EXPIRE {
            entry.expire_pos = expires_len;
            let key = entry.key.clone();
            self.expires.push(key);
        }
    }

    /// Removes the expiry of the entry at `pos`; returns whether it had one.
    pub fn clear_expire(&mut self, pos: usize) -> bool {
        let expire_pos = self.entry(pos).expire_pos;
        if expire_pos == NO_EXPIRE {
            return false;
        }
        self.entry_mut(pos).expire_pos = NO_EXPIRE;
        self.expires.swap_remove(expire_pos as usize);
        if let Some(moved) = self.expires.get(expire_pos as usize) {
            let moved = moved.clone();
            if let Some(moved_pos) = self.find(moved.as_bytes()) {
                self.entry_mut(moved_pos).expire_pos = expire_pos;
            }
        }
        true
    }

    pub fn clear(&mut self) {
        *self = Keyspace::default();
    }

    /// The stored keys by slot, built by one pass over the keyspace on first use.
    pub fn slot_index(&mut self) -> &SlotIndex {
        let index = match self.by_slot.take() {
            Some(index) => index,
            None => Box::new(SlotIndex {
                keys: self
                    .iter()
                    .map(|e| (key_hash_slot(e.key.as_bytes()), Box::from(e.key.as_bytes())))
                    .collect(),
            }),
        };
        self.by_slot.insert(index)
    }

    /// Reserves room for `additional` more keys.
    pub fn reserve(&mut self, additional: usize) {
        self.ensure_room(additional);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_invariants(ks: &Keyspace) {
        let mut count = 0;
        for slot in 0..ks.slot_count() {
            if let Some(e) = ks.entry_at(slot) {
                count += 1;
                assert_eq!(ks.find(e.key.as_bytes()), Some(slot));
                if e.expire_pos != NO_EXPIRE {
                    assert_eq!(ks.expires[e.expire_pos as usize], e.key);
                }
            }
        }
        assert_eq!(count, ks.len());
        for (i, key) in ks.expires.iter().enumerate() {
            let pos = ks.find(key.as_bytes()).unwrap();
            assert_eq!(ks.entry(pos).expire_pos as usize, i);
        }
    }

    fn key(i: u32) -> String {
        format!("key:{i}:{}", "x".repeat((i % 30) as usize))
    }

    #[test]
    fn removal_keeps_every_key_reachable() {
        let mut ks = Keyspace::default();
        for i in 0..2000u32 {
            let pos = ks.insert_new(key(i).as_bytes(), Value::int(i64::from(i), false), 0);
            if i % 3 == 0 {
                ks.set_expire(pos, u64::from(i));
            }
        }
        check_invariants(&ks);
        for i in (0..2000u32).step_by(7) {
            let pos = ks.find(key(i).as_bytes()).unwrap();
            ks.remove_at(pos);
        }
        check_invariants(&ks);
        for i in 0..2000u32 {
            assert_eq!(ks.find(key(i).as_bytes()).is_some(), i % 7 != 0, "key {i}");
        }
        assert_eq!(ks.len(), 2000 - 286);
    }

    /// Every table size the growth sequence visits, with runs that wrap past the end
    /// (where probes fall back from words to single bytes).
    #[test]
    fn lookups_agree_at_every_capacity() {
        let mut ks = Keyspace::default();
        for i in 0..3000u32 {
            ks.insert_new(key(i).as_bytes(), Value::int(0, false), 0);
            if i % 97 == 0 || i < 40 {
                check_invariants(&ks);
                for j in (0..=i).step_by(13) {
                    assert!(ks.find(key(j).as_bytes()).is_some(), "key {j} of {i}");
                }
                for j in i + 1..i + 40 {
                    assert_eq!(ks.find(key(j).as_bytes()), None, "absent {j} of {i}");
                }
            }
        }
    }

    #[test]
    fn entries_fill_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
    }
}
