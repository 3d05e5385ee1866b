//! Counting and weighing keys by residue modulo the shard count (rank-modulo placement:
//! key index k on shard k mod S) without visiting every key.
//!
//! Invariant: [`residue_counts`] is exactly the number of indices of each residue in
//! the range.

/// Indices of `lo..=hi` congruent to each residue modulo `shards`: the count divided
/// evenly, plus one for the residues of the first `count mod shards` indices.
pub fn residue_counts(lo: u64, hi: u64, shards: u64) -> Vec<u64> {
    // hi - lo + 1 overflows only for the whole u64 range, which validation refuses.
    let count = hi - lo + 1;
    let (whole, extra) = (count / shards, count % shards);
    (0..shards)
        .map(|r| whole + u64::from((r + shards - lo % shards) % shards < extra))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The closed form counts each residue's indices as visiting every index does.
    #[test]
    fn residue_counts_match_every_index() {
        proptest!(|(lo in prop_oneof![0u64..1_000, (u64::MAX - 5_000)..(u64::MAX - 2_000)],
                    width in 0u64..2_000, shards in 1u64..=1_000)| {
            let hi = lo + width;
            let mut expected = vec![0u64; shards as usize];
            for k in lo..=hi {
                expected[(k % shards) as usize] += 1;
            }
            prop_assert_eq!(residue_counts(lo, hi, shards), expected);
        });
    }
}
