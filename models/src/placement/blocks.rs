//! Counting and weighing keys by CRC16 slot without hashing every key. memtier's keys are
//! `prefix + decimal(index)`; the key range splits into decimal blocks, each a fixed head
//! followed by every combination of j free digits, and the CRC of a whole block follows
//! from one CRC and a shift.
//!
//! Why it works: Redis's CRC16 (XMODEM: poly 0x1021, init 0, unreflected, no final xor)
//! updates its register as state' = (state << 8) ^ T[(state >> 8) ^ byte], linear over
//! GF(2) in (state, byte) together. So the CRC of `head + tail` is
//! shift(crc(head), |tail|) ^ crc0(tail), where shift feeds zero bytes and crc0 starts
//! from 0: over a block, the CRCs are the free digits' zero-state CRCs, all XORed with
//! one offset. Masking to the 14 slot bits commutes with XOR, so only slot offsets
//! matter. A block of j free digits is ten blocks of j - 1 free digits whose offsets
//! differ from its own by shift(crc0(d), j - 1) for the first free digit d: pushing each
//! level's per-offset totals down ten ways, from j = 19 to 0, ends with per-slot totals
//! (at j = 0 a block is one key and its offset is its slot). The work is one CRC per
//! block and 19 x 16,384 x 10 additions, whatever the range.
//!
//! Invariant: [`slot_counts`] is exactly the number of keys of each slot, as
//! `key_hash_slot(format_key(prefix, k))` over every k would count them, for any prefix
//! (a prefix holding a complete non-empty hash tag puts every key in the tag's slot);
//! [`SlotWeights`] ends with the sum, over each slot's keys, of the chord weights it was
//! given and of their error bounds.

use super::weights::Piece;
use crate::placement::SLOTS;
use store_core::key_hash_slot;

/// Redis's CRC16; the table-driven digest of the `crc` crate, started from any register.
const XMODEM: crc::Crc<u16, crc::Table<1>> =
    crc::Crc::<u16, crc::Table<1>>::new(&crc::CRC_16_XMODEM);

/// Free digits of the widest block: 10^19 is the largest power of ten in a u64.
pub const MAX_FREE_DIGITS: u32 = 19;

const SLOT_MASK: u16 = (SLOTS - 1) as u16;

const fn pow10(j: u32) -> u64 {
    10u64.pow(j)
}

/// Splits `lo..=hi` into decimal blocks, in order: `first` is a multiple of 10^j (j the
/// free digits), so every index of the block is `first / 10^j` followed by j digits,
/// written with the same number of digits (index 0 is a block of its own). `choose`
/// gets each block's first index and the most free digits alignment and the range allow,
/// and returns how many to take (at most that). Taking the most gives at most about
/// 2 x 9 x 20 blocks for any range.
pub fn decimal_blocks(lo: u64, hi: u64, mut choose: impl FnMut(u64, u32) -> u32) {
    let mut x = lo;
    loop {
        let mut most = 0;
        if x > 0 {
            while most < MAX_FREE_DIGITS {
                let len = pow10(most + 1);
                if x % len != 0 || len - 1 > hi - x {
                    break;
                }
                most += 1;
            }
        }
        let free = choose(x, most);
        assert!(free <= most, "a block of {free} free digits at {x}");
        let last = x + (pow10(free) - 1);
        if last >= hi {
            return;
        }
        x = last + 1;
    }
}

/// Slot offsets of decimal blocks for one key prefix.
#[derive(Clone, Debug)]
pub struct CrcBlocks {
    /// The register after the prefix.
    after_prefix: u16,
    /// `below[j][d]`: how the offset of the block one digit narrower whose first free
    /// digit is d differs from its parent's with j free digits (low 14 bits).
    below: Vec<[u16; 10]>,
    /// The slot of every key, when the prefix holds a complete non-empty hash tag.
    tagged: Option<u16>,
}

impl CrcBlocks {
    pub fn new(prefix: &str) -> CrcBlocks {
        // Redis hashes the content of the first `{...}` when non-empty. Digits hold no
        // braces: either the prefix holds such a tag and every key hashes as that tag, or
        // every key is hashed whole.
        let bytes = prefix.as_bytes();
        let tagged = bytes.iter().position(|&b| b == b'{').and_then(|open| {
            match bytes[open + 1..].iter().position(|&b| b == b'}') {
                Some(0) | None => None,
                Some(_) => Some(key_hash_slot(bytes)),
            }
        });
        let after_prefix = XMODEM.checksum(bytes);
        let below = (0..=MAX_FREE_DIGITS)
            .map(|j| {
                std::array::from_fn(|d| {
                    if j == 0 {
                        0
                    } else {
                        shift(XMODEM.checksum(&[b'0' + d as u8]), j - 1) & SLOT_MASK
                    }
                })
            })
            .collect();
        CrcBlocks {
            after_prefix,
            below,
            tagged,
        }
    }

    /// The slot every key falls in, when the prefix holds a complete hash tag.
    pub fn tagged_slot(&self) -> Option<u16> {
        self.tagged
    }

    /// The slot offset of the block of `free` free digits starting at `first`: its keys'
    /// slots are this XOR the zero-state slots of their free digits.
    pub fn offset(&self, first: u64, free: u32) -> u16 {
        let head = first / pow10(free);
        let mut digest = XMODEM.digest_with_initial(self.after_prefix);
        digest.update(itoa::Buffer::new().format(head).as_bytes());
        shift(digest.finalize(), free) & SLOT_MASK
    }
}

/// The register after `zeros` zero bytes fed from `state`.
fn shift(state: u16, zeros: u32) -> u16 {
    const ZEROS: [u8; MAX_FREE_DIGITS as usize] = [0; MAX_FREE_DIGITS as usize];
    let mut digest = XMODEM.digest_with_initial(state);
    digest.update(&ZEROS[..zeros as usize]);
    digest.finalize()
}

/// Keys per slot over a key range: exact integers (at most 2^64 - 1 keys in all, so a
/// u64 per cell never overflows).
pub fn slot_counts(prefix: &str, lo: u64, hi: u64) -> Vec<u64> {
    let blocks = CrcBlocks::new(prefix);
    if let Some(slot) = blocks.tagged_slot() {
        let mut counts = vec![0; SLOTS];
        counts[slot as usize] = hi - lo + 1;
        return counts;
    }
    // levels[j][offset]: blocks of j free digits with that offset.
    let mut levels = vec![vec![0u64; SLOTS]; MAX_FREE_DIGITS as usize + 1];
    decimal_blocks(lo, hi, |first, most| {
        levels[most as usize][blocks.offset(first, most) as usize] += 1;
        most
    });
    for j in (1..=MAX_FREE_DIGITS as usize).rev() {
        let (narrower, this) = levels.split_at_mut(j);
        let narrower = &mut narrower[j - 1];
        for (offset, &n) in this[0].iter().enumerate() {
            if n == 0 {
                continue;
            }
            for step in blocks.below[j] {
                narrower[offset ^ step as usize] += n;
            }
        }
    }
    levels.swap_remove(0)
}

/// Chord weights per slot: each block added with its chord, pushed down to keys.
#[derive(Clone, Debug)]
pub struct SlotWeights {
    blocks: CrcBlocks,
    /// Per level j and offset, sums over blocks of the chord's weight at the block's
    /// first key, of its slope, and of the per-key error bound.
    at_first: Vec<f64>,
    slope: Vec<f64>,
    error: Vec<f64>,
}

impl SlotWeights {
    pub fn new(blocks: CrcBlocks) -> SlotWeights {
        let cells = (MAX_FREE_DIGITS as usize + 1) * SLOTS;
        SlotWeights {
            blocks,
            at_first: vec![0.0; cells],
            slope: vec![0.0; cells],
            error: vec![0.0; cells],
        }
    }

    /// Adds the block of `free` free digits starting at `first`, weighed by `piece`.
    pub fn add(&mut self, first: u64, free: u32, piece: &Piece) {
        let cell = free as usize * SLOTS + self.blocks.offset(first, free) as usize;
        self.at_first[cell] += piece.at_first;
        self.slope[cell] += piece.slope;
        self.error[cell] += piece.error_per_key;
    }

    /// Per slot: the summed chord weights of its keys, and the sum of their error bounds.
    pub fn finish(mut self) -> (Vec<f64>, Vec<f64>) {
        for j in (1..=MAX_FREE_DIGITS as usize).rev() {
            // A sub-block whose first free digit is d starts d x 10^(j-1) keys into its
            // parent: its chord starts that far along the parent's.
            let stride = pow10(j as u32 - 1) as f64;
            let (top, bottom) = (j * SLOTS, (j - 1) * SLOTS);
            for offset in 0..SLOTS {
                let (a, s, e) = (
                    self.at_first[top + offset],
                    self.slope[top + offset],
                    self.error[top + offset],
                );
                if a == 0.0 && s == 0.0 && e == 0.0 {
                    continue;
                }
                for (d, step) in self.blocks.below[j].iter().enumerate() {
                    let cell = bottom + (offset ^ *step as usize);
                    self.at_first[cell] += a + s * (d as f64 * stride);
                    self.slope[cell] += s;
                    self.error[cell] += e;
                }
            }
        }
        self.at_first.truncate(SLOTS);
        self.error.truncate(SLOTS);
        (self.at_first, self.error)
    }
}

/// Keys per slot by formatting and hashing every key: the reference the block method
/// is checked against.
#[cfg(test)]
pub fn slot_counts_key_by_key(prefix: &str, lo: u64, hi: u64) -> Vec<u64> {
    use crate::workload::format_key;
    let mut counts = vec![0; SLOTS];
    let mut key = Vec::new();
    for k in lo..=hi {
        format_key(prefix, k, &mut key);
        counts[key_hash_slot(&key) as usize] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::format_key;
    use proptest::prelude::*;

    /// Ranges that cross digit-count boundaries: around 10^m, or anywhere in u64.
    fn range() -> impl Strategy<Value = (u64, u64)> {
        let near_power = (0u32..=19, 0u64..3_000, 0u64..3_000).prop_map(|(m, below, width)| {
            let lo = 10u64.pow(m).saturating_sub(below);
            (lo, lo.saturating_add(width).min(u64::MAX - 1))
        });
        let anywhere = (0u64..u64::MAX - 4_000, 0u64..3_000).prop_map(|(lo, w)| (lo, lo + w));
        let small = (0u64..200, 0u64..3_000).prop_map(|(lo, w)| (lo, lo + w));
        prop_oneof![near_power, anywhere, small]
    }

    /// Prefixes with and without braces: complete tags, empty tags, lone braces.
    fn prefix() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("memtier-".to_string()),
            Just(String::new()),
            "[a-c{}:-]{0,6}",
            "[a-z]{0,3}\\{[a-z]{0,2}\\}?[a-z{}]{0,3}",
        ]
    }

    /// Every block of [`decimal_blocks`] is aligned, lies inside the range, follows the
    /// previous one without gap or overlap, and writes all its indices with as many
    /// digits; together they are the range, in at most 2 x 9 x 20 + 1 blocks when the
    /// widest is always taken, and still the range when narrower ones are.
    #[test]
    fn decimal_blocks_partition_the_range() {
        proptest!(|((lo, hi) in range(), narrow in 0u32..3)| {
            let mut taken = Vec::new();
            decimal_blocks(lo, hi, |first, most| {
                // Narrower than allowed every other block, when `narrow` says so.
                let free = most.saturating_sub(narrow * (taken.len() as u32 % 2));
                taken.push((first, most, free));
                free
            });
            let mut next = lo;
            for (i, &(first, most, free)) in taken.iter().enumerate() {
                prop_assert_eq!(first, next);
                prop_assert!(free <= most);
                let len = 10u64.pow(free);
                let last = first + (len - 1);
                prop_assert!(last <= hi);
                prop_assert!(first == 0 && free == 0 || first % len == 0 && first > 0);
                prop_assert_eq!(first.to_string().len(), last.to_string().len());
                prop_assert_eq!(last == hi, i + 1 == taken.len());
                next = last.wrapping_add(1);
            }
            if narrow == 0 {
                prop_assert!(taken.len() <= 2 * 9 * 20 + 1, "{} blocks", taken.len());
            }
        });
    }

    /// The block method counts, slot by slot, exactly the keys that formatting and
    /// hashing every key of the range counts, for any prefix and any range: across
    /// digit-count boundaries, from index 0, of one key, near the top of u64.
    #[test]
    fn slot_counts_match_hashing_every_key() {
        proptest!(|(prefix in prefix(), (lo, hi) in range())| {
            prop_assert_eq!(slot_counts(&prefix, lo, hi), slot_counts_key_by_key(&prefix, lo, hi));
        });
    }

    #[test]
    fn slot_counts_match_on_chosen_ranges() {
        let cases: [(&str, u64, u64); 10] = [
            ("memtier-", 0, 0),
            ("memtier-", 0, 1_000_000),
            ("memtier-", 7, 7),
            ("memtier-", 9_995, 100_004),
            ("", 0, 123_456),
            ("{user}:", 5, 99_999),
            ("a{}b", 0, 20_000),
            ("{", 95, 10_400),
            ("x{y", 999_000, 1_001_000),
            ("memtier-", u64::MAX - 20_000, u64::MAX - 1),
        ];
        for (prefix, lo, hi) in cases {
            assert_eq!(
                slot_counts(prefix, lo, hi),
                slot_counts_key_by_key(prefix, lo, hi),
                "{prefix:?} {lo}..={hi}"
            );
        }
        // A complete tag puts every key in its slot.
        let tagged = slot_counts("{user}:", 0, 10u64.pow(15));
        assert_eq!(tagged[key_hash_slot(b"user") as usize], 10u64.pow(15) + 1);
    }

    /// Chord weights pushed down to slots sum, per slot, what adding each key's chord
    /// weight to its slot sums (the slope carried through every level), for blocks of
    /// any width.
    #[test]
    fn slot_weights_sum_each_keys_chord_weight() {
        proptest!(|(prefix in "[a-c-]{0,4}", lo in 0u64..100_000, width in 0u64..30_000,
                    narrow in 0u32..2, a in 0.5f64..2.0, s in -1e-6f64..1e-6)| {
            let hi = lo + width;
            let blocks = CrcBlocks::new(&prefix);
            prop_assume!(blocks.tagged_slot().is_none());
            let mut sink = SlotWeights::new(blocks);
            let mut expected = vec![0.0; SLOTS];
            let mut key = Vec::new();
            decimal_blocks(lo, hi, |first, most| {
                let free = most.saturating_sub(narrow);
                // Any chord will do: weights depending on where the block starts.
                let piece = Piece {
                    at_first: a + (first % 7) as f64,
                    slope: s * (first % 3) as f64,
                    error_per_key: 1e-3,
                    lightest: 0.0,
                };
                sink.add(first, free, &piece);
                for o in 0..10u64.pow(free) {
                    format_key(&prefix, first + o, &mut key);
                    expected[key_hash_slot(&key) as usize] +=
                        piece.at_first + piece.slope * o as f64;
                }
                free
            });
            let counts = slot_counts_key_by_key(&prefix, lo, hi);
            let (weights, errors) = sink.finish();
            for slot in 0..SLOTS {
                let scale = expected[slot].abs().max(1.0);
                prop_assert!((weights[slot] - expected[slot]).abs() <= 1e-9 * scale,
                    "slot {}: {} vs {}", slot, weights[slot], expected[slot]);
                prop_assert!((errors[slot] - 1e-3 * counts[slot] as f64).abs() <= 1e-9 * scale);
            }
        });
    }
}
