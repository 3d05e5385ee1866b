//! The main dictionary: a dense vector of entries indexed by a hash table of positions
//! (the layout of an IndexMap, written out so keys can live inline and removal can keep
//! the expires index in step). Dense positions give O(1) uniform random sampling for
//! eviction and RANDOMKEY, and a stable cursor space for SCAN and the active expire cycle.
//!
//! Invariants: `table` holds exactly one slot per entry, pointing at its position;
//! `expires` holds exactly the positions of entries with an expiry, and each such entry's
//! `expire_pos` is its index in `expires`. Removal swaps the last entry into the hole
//! and repairs both indexes.

use crate::hashing::hash_bytes;
use crate::value::Value;
use hashbrown::HashTable;

/// Keys up to this many bytes are stored inside the entry, with no allocation.
const INLINE_KEY_BYTES: usize = 22;

/// A key: inline when short (the common case: "memtier-12345678"), boxed otherwise.
#[derive(Clone, Debug)]
pub enum Key {
    Inline {
        len: u8,
        bytes: [u8; INLINE_KEY_BYTES],
    },
    Heap(Box<[u8]>),
}

impl Key {
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

/// No expiry (an `expire_pos` sentinel).
pub const NO_EXPIRE: u32 = u32::MAX;

/// One key with its value and metadata.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Key,
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; meaningful only when `expire_pos != NO_EXPIRE`.
    pub expire_at_ms: u64,
    /// Position of this entry in `Keyspace::expires`, or `NO_EXPIRE`.
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

#[derive(Clone, Debug, Default)]
pub struct Keyspace {
    pub entries: Vec<Entry>,
    table: HashTable<u32>,
    /// Positions (into `entries`) of the keys that have an expiry.
    pub expires: Vec<u32>,
}

impl Keyspace {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Position of `key`, if present.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let hash = hash_bytes(key);
        let entries = &self.entries;
        self.table
            .find(hash, |&pos| entries[pos as usize].key.as_bytes() == key)
            .map(|&pos| pos as usize)
    }

    /// Inserts a new key (the caller has checked it is absent); returns its position.
    pub fn insert_new(&mut self, key: &[u8], value: Value, lru: u32) -> usize {
        let pos = self.entries.len();
        let hash = hash_bytes(key);
        let entries = &self.entries;
        self.table.insert_unique(hash, pos as u32, |&p| {
            hash_bytes(entries[p as usize].key.as_bytes())
        });
        self.entries.push(Entry {
            key: Key::new(key),
            value,
            expire_at_ms: 0,
            expire_pos: NO_EXPIRE,
            lru,
        });
        pos
    }

    /// Removes the entry at `pos`, returning it; the last entry moves into `pos`.
    pub fn remove_at(&mut self, pos: usize) -> Entry {
        self.clear_expire(pos);
        let hash = hash_bytes(self.entries[pos].key.as_bytes());
        if let Ok(slot) = self.table.find_entry(hash, |&p| p as usize == pos) {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        if pos != last {
            let moved_hash = hash_bytes(self.entries[last].key.as_bytes());
            if let Some(slot) = self.table.find_mut(moved_hash, |&p| p as usize == last) {
                *slot = pos as u32;
            }
            let moved_expire = self.entries[last].expire_pos;
            if moved_expire != NO_EXPIRE {
                self.expires[moved_expire as usize] = pos as u32;
            }
        }
        self.entries.swap_remove(pos)
    }

    /// Sets or replaces the expiry of the entry at `pos`.
    pub fn set_expire(&mut self, pos: usize, at_ms: u64) {
        let entry = &mut self.entries[pos];
        entry.expire_at_ms = at_ms;
        if entry.expire_pos == NO_EXPIRE {
            entry.expire_pos = self.expires.len() as u32;
            self.expires.push(pos as u32);
        }
    }

    /// Removes the expiry of the entry at `pos`; returns whether it had one.
    pub fn clear_expire(&mut self, pos: usize) -> bool {
        let expire_pos = self.entries[pos].expire_pos;
        if expire_pos == NO_EXPIRE {
            return false;
        }
        self.entries[pos].expire_pos = NO_EXPIRE;
        let last = self.expires.len() - 1;
        self.expires.swap_remove(expire_pos as usize);
        if (expire_pos as usize) != last {
            let moved_entry = self.expires[expire_pos as usize] as usize;
            self.entries[moved_entry].expire_pos = expire_pos;
        }
        true
    }

    pub fn clear(&mut self) {
        self.entries = Vec::new();
        self.table = HashTable::new();
        self.expires = Vec::new();
    }

    /// Reserves room for `additional` more keys.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
        let entries = &self.entries;
        self.table.reserve(additional, |&p| {
            hash_bytes(entries[p as usize].key.as_bytes())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_invariants(ks: &Keyspace) {
        for (pos, e) in ks.entries.iter().enumerate() {
            assert_eq!(ks.find(e.key.as_bytes()), Some(pos));
            if e.expire_pos != NO_EXPIRE {
                assert_eq!(ks.expires[e.expire_pos as usize] as usize, pos);
            }
        }
        for (i, &p) in ks.expires.iter().enumerate() {
            assert_eq!(ks.entries[p as usize].expire_pos as usize, i);
        }
    }

    #[test]
    fn removal_keeps_indexes_consistent() {
        let mut ks = Keyspace::default();
        for i in 0..100u32 {
            let key = format!("key:{i}:{}", "x".repeat((i % 30) as usize));
            let pos = ks.insert_new(key.as_bytes(), Value::int(i64::from(i), false), 0);
            if i % 3 == 0 {
                ks.set_expire(pos, u64::from(i));
            }
        }
        check_invariants(&ks);
        for i in (0..100u32).step_by(7) {
            let key = format!("key:{i}:{}", "x".repeat((i % 30) as usize));
            let pos = ks.find(key.as_bytes()).unwrap();
            ks.remove_at(pos);
            check_invariants(&ks);
        }
        assert_eq!(ks.len(), 100 - 15);
    }
}
