//! Keys by cluster slot, as `CLUSTER COUNTKEYSINSLOT` and `CLUSTER GETKEYSINSLOT` see
//! them: stored keys (expired ones not yet reclaimed included, as Redis's per-slot key
//! lists hold them) and the live keys of prefilled ranges.
//!
//! Stored keys: an index of (slot, key) the keyspace builds on the first query and keeps
//! up to date from then on (nothing is paid for it by a Db that is never asked).
//!
//! Prefilled keys: enumerated per slot without a scan of the range and without an index,
//! by CRC-16's linearity. XMODEM starts from zero and has no final XOR, so for messages
//! of equal length `crc(a ^ b) = crc(a) ^ crc(b)`, and leading zero bytes change nothing.
//! A key `prefix + high + low` whose `low` is its last `L` decimal digits thus hashes to
//! `crc(prefix + high + 0^L) ^ crc(low)`, and the 14-bit mask distributes over the XOR.
//! A table, built once per process for each `L <= 6`, lists the `10^L` digit strings
//! by the slot bits of their CRC; a slot's keys are then, for each `high` of the range,
//! one bucket of that table. Cost per call: one CRC per distinct `high` (the range's
//! count / 10^6 for 7+ digit indices) plus one probe of the overridden bitset per key of
//! the slot; GETKEYSINSLOT stops after `count` keys. The tables take 4 MB at most.
//!
//! Invariant: a key is listed for slot `s` iff it is logically present in the Db (stored,
//! or a live key of a prefilled range) and `key_hash_slot(key) == s`; each key is listed
//! once; order is deterministic (stored keys by bytes, then ranges in prefill order),
//! and differs from Redis's (newest key first).

use crate::db::Db;
use crate::prefill::{decimal_digits, Prefilled};
use crate::slots::{crc16, SLOT_COUNT};
use std::sync::OnceLock;

/// The most trailing digits one table covers: 10^6 entries, 4 MB.
const MAX_LOW_DIGITS: u32 = 6;
/// The slot bits of a CRC.
const SLOT_MASK: u16 = 0x3fff;

/// Every string of exactly `L` ASCII digits, grouped by the slot bits of its CRC.
struct LowTable {
    /// `lows[starts[s]..starts[s + 1]]` are the values whose digit string's CRC has slot
    /// bits `s`, ascending.
    starts: Vec<u32>,
    lows: Vec<u32>,
}

impl LowTable {
    fn build(digits: u32) -> LowTable {
        let span = 10u32.pow(digits);
        let width = digits as usize;
        let slot_of = |v: u32| usize::from(crc16(format!("{v:0width$}").as_bytes()) & SLOT_MASK);
        let slots: Vec<u16> = (0..span).map(|v| slot_of(v) as u16).collect();
        // A counting sort by slot keeps each bucket ascending.
        let mut starts = vec![0u32; SLOT_COUNT + 1];
        for &s in &slots {
            starts[usize::from(s) + 1] += 1;
        }
        for s in 0..SLOT_COUNT {
            starts[s + 1] += starts[s];
        }
        let mut next = starts.clone();
        let mut lows = vec![0u32; span as usize];
        for (v, &s) in slots.iter().enumerate() {
            let at = &mut next[usize::from(s)];
            lows[*at as usize] = v as u32;
            *at += 1;
        }
        LowTable { starts, lows }
    }

    fn bucket(&self, slot_bits: u16) -> &[u32] {
        let s = usize::from(slot_bits);
        &self.lows[self.starts[s] as usize..self.starts[s + 1] as usize]
    }
}

/// The table for `digits` trailing digits (1..=6), built on first use.
fn low_table(digits: u32) -> &'static LowTable {
    static TABLES: [OnceLock<LowTable>; MAX_LOW_DIGITS as usize] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    TABLES[digits as usize - 1].get_or_init(|| LowTable::build(digits))
}

/// The one slot of every key of a range whose prefix holds a non-empty `{tag}`; `None`
/// when keys hash whole (the digits hold no brace, so a tag can only be in the prefix).
fn prefix_tag_slot(prefix: &[u8]) -> Option<u16> {
    let open = prefix.iter().position(|&b| b == b'{')?;
    let len = prefix[open + 1..].iter().position(|&b| b == b'}')?;
    (len > 0).then(|| crc16(&prefix[open + 1..open + 1 + len]) & SLOT_MASK)
}

/// Calls `visit(index)` for each live key of `range` in `slot` until it returns false;
/// returns false when stopped.
pub(crate) fn for_each_in_slot(
    range: &Prefilled,
    slot: u16,
    visit: &mut dyn FnMut(u64) -> bool,
) -> bool {
    let spec = &range.spec;
    let first = spec.first_index;
    let end = first + spec.count;
    if let Some(tag_slot) = prefix_tag_slot(&spec.prefix) {
        if tag_slot != slot {
            return true;
        }
        let mut offset = range.next_live(0);
        while let Some(live) = offset {
            if !visit(first + live) {
                return false;
            }
            offset = range.next_live(live + 1);
        }
        return true;
    }
    let mut base = spec.prefix.clone();
    let mut band_start = first;
    while band_start < end {
        let digits = decimal_digits(band_start);
        let band_end = if digits >= 20 {
            end
        } else {
            10u64.pow(digits as u32).min(end)
        };
        let low_digits = (digits as u32).min(MAX_LOW_DIGITS);
        let span = 10u64.pow(low_digits);
        let table = low_table(low_digits);
        for high in band_start / span..=(band_end - 1) / span {
            // prefix + high's digits (none when the whole index is the low part) + zeros.
            base.truncate(spec.prefix.len());
            if u64::from(low_digits) < digits {
                base.extend_from_slice(high.to_string().as_bytes());
            }
            base.resize(base.len() + low_digits as usize, 0);
            let need = slot ^ (crc16(&base) & SLOT_MASK);
            for &low in table.bucket(need) {
                let index = high * span + u64::from(low);
                if index < band_start || index >= band_end || range.is_overridden(index - first) {
                    continue;
                }
                if !visit(index) {
                    return false;
                }
            }
        }
        band_start = band_end;
    }
    true
}

impl Db {
    /// `CLUSTER COUNTKEYSINSLOT slot`: the keys in `slot`, stored ones (expired but not
    /// yet reclaimed included, as Redis counts them) and live prefilled ones; 0 for a
    /// slot out of range. The first call builds the stored keys' slot index (one pass
    /// over the keyspace); see the module doc for the prefilled ranges' cost.
    pub fn count_keys_in_slot(&mut self, slot: u16) -> u64 {
        if usize::from(slot) >= SLOT_COUNT {
            return 0;
        }
        let mut count = self.keyspace.slot_index().keys_in(slot).count() as u64;
        for range in &self.prefilled {
            for_each_in_slot(range, slot, &mut |_| {
                count += 1;
                true
            });
        }
        count
    }

    /// `CLUSTER GETKEYSINSLOT slot count`: up to `count` keys of `slot`, stored keys
    /// first (by bytes), then prefilled ranges' keys; the same keys Redis would list when
    /// `count` covers the slot, in another order (Redis lists the newest first).
    pub fn keys_in_slot(&mut self, slot: u16, count: usize) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        if usize::from(slot) >= SLOT_COUNT || count == 0 {
            return keys;
        }
        keys.extend(
            self.keyspace
                .slot_index()
                .keys_in(slot)
                .take(count)
                .map(|k| k.to_vec()),
        );
        for range in &self.prefilled {
            if keys.len() >= count {
                break;
            }
            for_each_in_slot(range, slot, &mut |index| {
                keys.push(range.key_of(index));
                keys.len() < count
            });
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::key_hash_slot;

    #[test]
    fn tables_group_every_digit_string_by_its_slot() {
        for digits in 1..=3 {
            let table = low_table(digits);
            assert_eq!(table.lows.len(), 10usize.pow(digits));
            for slot in 0..SLOT_COUNT as u16 {
                for &low in table.bucket(slot) {
                    let text = format!("{low:0width$}", width = digits as usize);
                    assert_eq!(key_hash_slot(text.as_bytes()), slot, "{text}");
                }
            }
        }
    }

    #[test]
    fn tags_in_the_prefix_fix_the_slot() {
        assert_eq!(prefix_tag_slot(b"user:{42}:"), Some(key_hash_slot(b"42")));
        assert_eq!(prefix_tag_slot(b"a{}b{c}"), None);
        assert_eq!(prefix_tag_slot(b"open{"), None);
        assert_eq!(prefix_tag_slot(b"memtier-"), None);
    }
}
