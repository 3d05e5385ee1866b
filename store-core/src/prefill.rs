//! Prefilled key ranges: `count` keys named `prefix + decimal(index)` (memtier's
//! "memtier-123" form) with synthetic values whose sizes follow a distribution, held as
//! a description plus a bitset of overridden indices. A key costs real memory only once
//! its state differs from the default (written, deleted, expiry set, or accessed under an
//! LRU/LFU policy); until then its value is derived from (seed, index) on demand.
//!
//! Invariants: a range key is logically present with its default value iff its bit is
//! clear; `default_bytes` equals the Redis-model bytes of exactly the clear-bit keys; a
//! key with its bit set is either stored in the keyspace or deleted.

use crate::blob::SyntheticFill;
use crate::db::Db;
use crate::hashing::mix64;
use crate::mem;
use crate::value::Value;

/// How long each value of a range is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueSize {
    /// Every value has this many bytes.
    Fixed(u64),
    /// Uniform over `min..=max` bytes.
    Uniform { min: u64, max: u64 },
    /// (size in bytes, weight) pairs; a value takes a size with probability
    /// weight / total weight.
    Weighted(Vec<(u64, u32)>),
}

/// A range of keys to prefill: `prefix + decimal(first_index + i)` for `i < count`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefillRange {
    pub prefix: Vec<u8>,
    pub first_index: u64,
    pub count: u64,
    pub value_size: ValueSize,
    /// Seeds each key's value bytes and size: key i's value is a pure function of
    /// (seed, i). Its top two bits are the values' [`SyntheticFill`] (see
    /// [`PrefillRange::with_fill`]); a seed below 2^62 means letters.
    pub seed: u64,
    /// Unix ms the keys count as created at (their LRU/LFU access time).
    pub created_at_ms: u64,
    /// Store every key as an ordinary key instead (the reference the compact form is
    /// tested against; costs real memory).
    pub materialize: bool,
}

impl PrefillRange {
    /// A range of `count` keys `prefix0 .. prefix{count-1}` with fixed-size values.
    pub fn fixed(prefix: &str, count: u64, value_bytes: u64, seed: u64) -> PrefillRange {
        PrefillRange {
            prefix: prefix.as_bytes().to_vec(),
            first_index: 0,
            count,
            value_size: ValueSize::Fixed(value_bytes),
            seed,
            created_at_ms: 0,
            materialize: false,
        }
    }

    /// The same range with values of `fill` (the seed's top bits say it).
    pub fn with_fill(mut self, fill: SyntheticFill) -> PrefillRange {
        self.seed = fill.seed(self.seed);
        self
    }

    /// What the range's values are made of.
    pub fn fill(&self) -> SyntheticFill {
        SyntheticFill::of_seed(self.seed)
    }
}

/// Why a range was refused (the Db is unchanged; the caller can go on without it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefillError {
    /// Its keys could collide with an existing range's (one prefix starts the other).
    OverlapsRange,
    /// A weighted size list with no positive weight, or min > max.
    BadValueSize,
    /// first_index + count overflows u64.
    IndexOverflow,
}

impl std::fmt::Display for PrefillError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrefillError::OverlapsRange => write!(f, "prefix overlaps an existing prefilled range"),
            PrefillError::BadValueSize => write!(f, "value size distribution is empty or inverted"),
            PrefillError::IndexOverflow => write!(f, "first_index + count overflows"),
        }
    }
}

impl std::error::Error for PrefillError {}

/// A range in the Db.
#[derive(Clone, Debug)]
pub(crate) struct Prefilled {
    pub(crate) spec: PrefillRange,
    total_weight: u64,
    /// Bit i set: key `first_index + i` is overridden (stored or deleted).
    pub(crate) overridden: Vec<u64>,
    pub(crate) overridden_count: u64,
    /// Redis-model bytes of the keys still at their default.
    pub(crate) default_bytes: u64,
    pub(crate) lru: u32,
}

pub(crate) fn decimal_digits(n: u64) -> u64 {
    n.checked_ilog10().map_or(1, |log| u64::from(log) + 1)
}

/// The memory `count` keys named `prefix + decimal(index)` from `first_index` cost with
/// values of `value_bytes` each, as `used_memory` accounts them (entry, key and value;
/// not the dict's bucket array, which depends on the whole keyspace): what such a range
/// adds to a store that keeps all of it. The cost depends only on a key's digit count,
/// so this sums by band of equal digit counts, in O(20) whatever the count.
pub fn fixed_range_bytes(prefix_len: u64, first_index: u64, count: u64, value_bytes: u64) -> u64 {
    let value = mem::string_object_bytes(value_bytes);
    let end = first_index.saturating_add(count);
    let mut bytes = 0u64;
    let mut band_start = first_index;
    while band_start < end {
        let digits = decimal_digits(band_start);
        let band_end = if digits >= 20 {
            end
        } else {
            10u64.pow(digits as u32).min(end)
        };
        let per_key = mem::DICT_ENTRY_BYTES + mem::sds_bytes(prefix_len + digits) + value;
        bytes = bytes.saturating_add(per_key.saturating_mul(band_end - band_start));
        band_start = band_end;
    }
    bytes
}

impl Prefilled {
    pub(crate) fn live_defaults(&self) -> u64 {
        self.spec.count - self.overridden_count
    }

    pub(crate) fn is_overridden(&self, offset: u64) -> bool {
        self.overridden
            .get((offset / 64) as usize)
            .is_some_and(|w| w & (1 << (offset % 64)) != 0)
    }

    /// The first offset at or after `from` whose key is still at its default, scanning
    /// the bitset a word at a time.
    pub(crate) fn next_live(&self, from: u64) -> Option<u64> {
        let count = self.spec.count;
        let mut offset = from;
        while offset < count {
            let word = self
                .overridden
                .get((offset / 64) as usize)
                .copied()
                .unwrap_or(0);
            let free = !word >> (offset % 64);
            if free == 0 {
                offset = (offset / 64 + 1) * 64;
                continue;
            }
            let found = offset + u64::from(free.trailing_zeros());
            return (found < count).then_some(found);
        }
        None
    }

    /// Sets the bit; returns whether it was clear.
    fn set_overridden(&mut self, offset: u64) -> bool {
        let word = &mut self.overridden[(offset / 64) as usize];
        let bit = 1u64 << (offset % 64);
        let was_clear = *word & bit == 0;
        *word |= bit;
        if was_clear {
            self.overridden_count += 1;
        }
        was_clear
    }

    /// The value size of key `index`.
    pub(crate) fn value_len(&self, index: u64) -> u64 {
        let draw = mix64(self.spec.seed ^ mix64(index));
        match &self.spec.value_size {
            ValueSize::Fixed(n) => *n,
            ValueSize::Uniform { min, max } => {
                let span = max - min + 1;
                min + if span == 0 { draw } else { draw % span }
            }
            ValueSize::Weighted(list) => {
                let mut pick = draw % self.total_weight.max(1);
                for (size, weight) in list {
                    if pick < u64::from(*weight) {
                        return *size;
                    }
                    pick -= u64::from(*weight);
                }
                list.last().map(|(s, _)| *s).unwrap_or(0)
            }
        }
    }

    /// Key `index`'s value seed: a mix of (seed, index) carrying the range's fill.
    pub(crate) fn value_seed(&self, index: u64) -> u64 {
        self.spec.fill().seed(mix64(
            self.spec
                .seed
                .wrapping_add(index.wrapping_mul(0x2545_F491_4F6C_DD1D)),
        ))
    }

    /// Overridden keys among offsets `from..to`, a bitset word at a time.
    pub(crate) fn overridden_between(&self, from: u64, to: u64) -> u64 {
        let mut count = 0u64;
        let mut offset = from;
        while offset < to {
            let word = self
                .overridden
                .get((offset / 64) as usize)
                .copied()
                .unwrap_or(0);
            let low = offset % 64;
            let high = (to - (offset - low)).min(64);
            let mask = if high == 64 {
                !0u64
            } else {
                (1u64 << high) - 1
            } & (!0u64 << low);
            count += u64::from((word & mask).count_ones());
            offset = offset - low + 64;
        }
        count
    }

    pub(crate) fn default_value(&self, index: u64) -> Value {
        Value::Synthetic {
            len: self.value_len(index),
            seed: self.value_seed(index),
        }
    }

    pub(crate) fn key_of(&self, index: u64) -> Vec<u8> {
        let mut key = self.spec.prefix.clone();
        key.extend_from_slice(index.to_string().as_bytes());
        key
    }

    /// Bytes of the keys at offsets `start + b` for the bits `b` set in `bits` (`b <
    /// n`), as [`Prefilled::default_entry_bytes`] adds them one by one.
    fn bytes_of_offsets(&self, start: u64, n: u64, bits: u64) -> u64 {
        let first = self.spec.first_index + start;
        let ValueSize::Fixed(value_len) = self.spec.value_size else {
            let mut bytes = 0;
            let mut rest = bits;
            while rest != 0 {
                let b = u64::from(rest.trailing_zeros());
                bytes += self.default_entry_bytes(first + b);
                rest &= rest - 1;
            }
            return bytes;
        };
        // Runs of one digit count: at most one power of ten falls in 64 indices.
        let value = mem::string_object_bytes(value_len);
        let mut bytes = 0;
        let mut b = 0;
        while b < n {
            let digits = decimal_digits(first + b);
            let run_end = if digits >= 20 {
                n
            } else {
                (10u64.pow(digits as u32) - first).min(n)
            };
            let mask = run_mask(b, run_end);
            let keys = u64::from((bits & mask).count_ones());
            let per_key = mem::DICT_ENTRY_BYTES
                + mem::sds_bytes(self.spec.prefix.len() as u64 + digits)
                + value;
            bytes += keys * per_key;
            b = run_end;
        }
        bytes
    }

    /// Bytes of key `index` as a stored entry (no expiry).
    fn default_entry_bytes(&self, index: u64) -> u64 {
        let key_len = self.spec.prefix.len() as u64 + decimal_digits(index);
        mem::DICT_ENTRY_BYTES
            + mem::sds_bytes(key_len)
            + mem::string_object_bytes(self.value_len(index))
    }
}

/// Overrides key `index` of range `range` (about to be stored, or deleted): if it was at
/// its default, its default bytes stop counting, in the range and in the Db's totals.
/// Returns whether it was at its default.
pub(crate) fn override_default(db: &mut Db, range: usize, index: u64) -> bool {
    let r = &mut db.prefilled[range];
    if !r.set_overridden(index - r.spec.first_index) {
        return false;
    }
    let bytes = r.default_entry_bytes(index);
    r.default_bytes -= bytes;
    db.prefilled_default_bytes -= bytes;
    db.prefilled_live_keys -= 1;
    true
}

/// The (range, index) of a key still at its default, if any.
pub(crate) fn find_default(ranges: &[Prefilled], key: &[u8]) -> Option<(usize, u64)> {
    for (r, range) in ranges.iter().enumerate() {
        let Some(rest) = key.strip_prefix(range.spec.prefix.as_slice()) else {
            continue;
        };
        let Some(index) = parse_index(rest) else {
            continue;
        };
        let first = range.spec.first_index;
        if index < first || index - first >= range.spec.count {
            continue;
        }
        if range.is_overridden(index - first) {
            return None;
        }
        return Some((r, index));
    }
    None
}

/// A canonical decimal index (no sign, no leading zeros) as the range names keys.
fn parse_index(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// Called when `key` is stored directly: if it belongs to a range and was at its
/// default, the default stops counting.
pub(crate) fn mark_overridden(db: &mut Db, key: &[u8]) {
    for r in 0..db.prefilled.len() {
        let range = &db.prefilled[r];
        let Some(rest) = key.strip_prefix(range.spec.prefix.as_slice()) else {
            continue;
        };
        let Some(index) = parse_index(rest) else {
            continue;
        };
        let first = range.spec.first_index;
        if index < first || index - first >= range.spec.count {
            continue;
        }
        override_default(db, r, index);
    }
}

/// The bits [from, to) of a word (to <= 64).
fn run_mask(from: u64, to: u64) -> u64 {
    let upto = if to >= 64 { u64::MAX } else { (1u64 << to) - 1 };
    upto & !((1u64 << from) - 1)
}

/// Deletes a key still at its default.
pub(crate) fn delete_default(db: &mut Db, range: usize, index: u64) {
    override_default(db, range, index);
}

impl Db {
    /// Like [`Db::prefill`], keeping only the keys for which `keep(index)` holds (the
    /// key of index `i` is the range's prefix followed by `i` in decimal); the others
    /// count as deleted (absent, costing no memory). A cluster node keeps the keys of its
    /// own slots, so a range spread over shards is held once across them. The filter
    /// takes the index, not the key, so that a caller that already knows each index's
    /// owner (a table built once for all nodes) costs no key formatting per node.
    pub fn prefill_where(
        &mut self,
        range: PrefillRange,
        mut keep: impl FnMut(u64) -> bool,
    ) -> Result<(), PrefillError> {
        let words =
            |first: u64, n: u64| (0..n).fold(0u64, |m, b| m | (u64::from(keep(first + b)) << b));
        add_range(self, range, Some(words))
    }

    /// [`Db::prefill_where`] asked a word at a time: `kept(first, n)` gives the keys
    /// kept among the `n` (at most 64) from index `first` on, bit b for key `first + b`.
    /// For a caller that can answer 64 keys at once (a slice of a shard table).
    pub fn prefill_where_words(
        &mut self,
        range: PrefillRange,
        kept: impl FnMut(u64, u64) -> u64,
    ) -> Result<(), PrefillError> {
        add_range(self, range, Some(kept))
    }
}

/// Adds a range; `kept(first, n)`, when given, says which of the `n` (at most 64) keys
/// from index `first` on the Db keeps (bit b: key `first + b`). It is asked once per
/// word of 64 keys, in order.
pub(crate) fn add_range<K: FnMut(u64, u64) -> u64>(
    db: &mut Db,
    spec: PrefillRange,
    mut kept: Option<K>,
) -> Result<(), PrefillError> {
    spec.first_index
        .checked_add(spec.count)
        .ok_or(PrefillError::IndexOverflow)?;
    let total_weight = match &spec.value_size {
        ValueSize::Fixed(_) => 0,
        ValueSize::Uniform { min, max } => {
            if min > max {
                return Err(PrefillError::BadValueSize);
            }
            0
        }
        ValueSize::Weighted(list) => {
            let total: u64 = list.iter().map(|(_, w)| u64::from(*w)).sum();
            if total == 0 {
                return Err(PrefillError::BadValueSize);
            }
            total
        }
    };
    for existing in &db.prefilled {
        if existing.spec.prefix.starts_with(&spec.prefix)
            || spec.prefix.starts_with(&existing.spec.prefix)
        {
            return Err(PrefillError::OverlapsRange);
        }
    }
    let lru = db.new_lru(spec.created_at_ms);
    let mut range = Prefilled {
        overridden: vec![0; spec.count.div_ceil(64) as usize],
        spec,
        total_weight,
        overridden_count: 0,
        default_bytes: 0,
        lru,
    };
    if range.spec.materialize {
        let spec = range.spec.clone();
        db.keyspace.reserve(spec.count as usize);
        let mut word = u64::MAX;
        for i in 0..spec.count {
            let index = spec.first_index + i;
            if i % 64 == 0 {
                if let Some(k) = kept.as_mut() {
                    word = k(index, (spec.count - i).min(64));
                }
            }
            let key = range.key_of(index);
            if word & (1 << (i % 64)) == 0 || db.keyspace.find(&key).is_some() {
                continue;
            }
            let value = range.default_value(index);
            let pos = db.keyspace.insert_new(&key, value, lru);
            db.dataset_bytes += Db::entry_bytes(db.keyspace.entry(pos));
        }
        return Ok(());
    }
    let first = range.spec.first_index;
    range.default_bytes = match range.spec.value_size {
        ValueSize::Fixed(len) => {
            fixed_range_bytes(range.spec.prefix.len() as u64, first, range.spec.count, len)
        }
        _ => (0..range.spec.count)
            .map(|i| range.default_entry_bytes(first + i))
            .sum(),
    };
    // Keys already stored keep their state: they override their defaults.
    let prefix = range.spec.prefix.clone();
    let stored: Vec<u64> = db
        .keyspace
        .iter()
        .filter_map(|e| {
            e.key
                .as_bytes()
                .strip_prefix(prefix.as_slice())
                .and_then(parse_index)
        })
        .filter(|index| *index >= first && index - first < range.spec.count)
        .collect();
    for index in stored {
        let b = range.default_entry_bytes(index);
        if range.set_overridden(index - first) {
            range.default_bytes -= b;
        }
    }
    // Keys the caller does not keep count as deleted: overridden, and not stored. A
    // word of 64 keys at a time, so that a node keeping a small share of a large range
    // pays a few operations per word, not the bytes of every key it drops: with a fixed
    // value size, keys of one digit count all cost the same, so a word inside one digit
    // count only adds its dropped keys to that count's tally.
    if let Some(mut kept) = kept {
        let count = range.spec.count;
        let fixed = matches!(range.spec.value_size, ValueSize::Fixed(_));
        let mut dropped_by_digits = [0u64; 21];
        for w in 0..count.div_ceil(64) {
            let start = w * 64;
            let n = (count - start).min(64);
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            let dropped = !kept(first + start, n) & mask;
            let new = dropped & !range.overridden[w as usize];
            if new == 0 {
                continue;
            }
            range.overridden[w as usize] |= new;
            range.overridden_count += u64::from(new.count_ones());
            let digits = decimal_digits(first + start);
            if fixed && decimal_digits(first + start + n - 1) == digits {
                dropped_by_digits[digits as usize] += u64::from(new.count_ones());
            } else {
                let bytes = range.bytes_of_offsets(start, n, new);
                range.default_bytes -= bytes;
            }
        }
        if let ValueSize::Fixed(value_len) = range.spec.value_size {
            let value = mem::string_object_bytes(value_len);
            for (digits, keys) in dropped_by_digits.iter().enumerate() {
                let per_key = mem::DICT_ENTRY_BYTES
                    + mem::sds_bytes(range.spec.prefix.len() as u64 + digits as u64)
                    + value;
                range.default_bytes -= keys * per_key;
            }
        }
    }
    db.prefilled_default_bytes += range.default_bytes;
    db.prefilled_live_keys += range.live_defaults();
    db.prefilled.push(range);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::decimal_digits;

    #[test]
    fn decimal_digits_match_formatting() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            999_999,
            1_000_000,
            u64::MAX / 10,
            u64::MAX,
        ] {
            assert_eq!(decimal_digits(n), n.to_string().len() as u64, "{n}");
        }
    }
}
