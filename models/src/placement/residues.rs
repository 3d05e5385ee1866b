//! Counting and weighing keys by residue modulo the shard count (rank-modulo placement:
//! key index k on shard k mod S) without visiting every key.
//!
//! Invariant: [`residue_counts`] is exactly the number of indices of each residue in
//! the range; [`ResidueWeights`] ends with the sum, over each residue's keys, of the chord
//! weights it was given and of their error bounds, in O(1) per run of keys and O(S^2)
//! at the end.

use super::weights::Piece;

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

/// Chord weights per residue.
///
/// A run of keys from `first` weighs `a + b * o` at offset o. Its whole cycles of S keys
/// give residue r, whose first key is at offset t_r = (r - first) mod S, the m weights
/// a + b (t_r + i S), i < m: a part the same for every residue, and b m t_r, a sawtooth
/// in r anchored at first mod S (summed over anchors at the end). The last partial
/// cycle gives one key to each residue of a cyclic interval, weighing a linear function
/// of r on each of at most two plain intervals: difference arrays of a constant and of a
/// coefficient of r take them in O(1).
#[derive(Clone, Debug)]
pub struct ResidueWeights {
    shards: u64,
    /// Added to every residue (whole cycles).
    everywhere: f64,
    error_everywhere: f64,
    /// Sawtooth coefficients by anchor residue.
    sawtooth: Vec<f64>,
    /// Difference arrays (length S + 1) of the partial cycles: a constant, a coefficient
    /// of the residue, and an error bound.
    constant: Vec<f64>,
    per_residue: Vec<f64>,
    error: Vec<f64>,
}

impl ResidueWeights {
    pub fn new(shards: u64) -> ResidueWeights {
        let s = shards as usize;
        ResidueWeights {
            shards,
            everywhere: 0.0,
            error_everywhere: 0.0,
            sawtooth: vec![0.0; s],
            constant: vec![0.0; s + 1],
            per_residue: vec![0.0; s + 1],
            error: vec![0.0; s + 1],
        }
    }

    /// Adds the `len` keys from `first` on, weighed by `piece`.
    pub fn add(&mut self, first: u64, len: u64, piece: &Piece) {
        let s = self.shards;
        let (cycles, partial) = (len / s, len % s);
        let anchor = first % s;
        let (a, b, e) = (piece.at_first, piece.slope, piece.error_per_key);
        if cycles > 0 {
            let m = cycles as f64;
            self.everywhere += m * a + b * s as f64 * (m * (m - 1.0) / 2.0);
            self.error_everywhere += m * e;
            self.sawtooth[anchor as usize] += b * m;
        }
        if partial > 0 {
            // Offset cycles * S + i holds residue (anchor + i) mod S, i < partial.
            let base = a + b * (cycles * s) as f64;
            let end = anchor + partial;
            self.ramp(anchor, end.min(s), base - b * anchor as f64, b, e);
            if end > s {
                self.ramp(0, end - s, base + b * (s - anchor) as f64, b, e);
            }
        }
    }

    /// Residues `from..to` get `constant + slope * r`, and `error` each.
    fn ramp(&mut self, from: u64, to: u64, constant: f64, slope: f64, error: f64) {
        let (from, to) = (from as usize, to as usize);
        self.constant[from] += constant;
        self.constant[to] -= constant;
        self.per_residue[from] += slope;
        self.per_residue[to] -= slope;
        self.error[from] += error;
        self.error[to] -= error;
    }

    /// Per residue: the summed chord weights of its keys, and the sum of their error
    /// bounds.
    pub fn finish(self) -> (Vec<f64>, Vec<f64>) {
        let s = self.shards as usize;
        let mut weights = Vec::with_capacity(s);
        let mut errors = Vec::with_capacity(s);
        let (mut constant, mut per_residue, mut error) = (0.0, 0.0, 0.0);
        for r in 0..s {
            constant += self.constant[r];
            per_residue += self.per_residue[r];
            error += self.error[r];
            let sawtooth: f64 = self
                .sawtooth
                .iter()
                .enumerate()
                .map(|(t, c)| c * ((r + s - t) % s) as f64)
                .sum();
            weights.push(self.everywhere + sawtooth + constant + per_residue * r as f64);
            errors.push(self.error_everywhere + error);
        }
        (weights, errors)
    }
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

    /// Runs of any length (shorter than a cycle, whole cycles, cycles and a part,
    /// wrapping past residue S - 1) give each residue the chord weights and error bounds
    /// of its own keys.
    #[test]
    fn residue_weights_sum_each_keys_chord_weight() {
        proptest!(|(shards in 1u64..=60, runs in prop::collection::vec(
                        (1u64..400, 0.0f64..2.0, -1e-3f64..1e-3, 0.0f64..1e-3), 1..20),
                    start in 0u64..1_000)| {
            let mut sink = ResidueWeights::new(shards);
            let mut expected = vec![0.0; shards as usize];
            let mut expected_error = vec![0.0; shards as usize];
            let mut first = start;
            for (len, a, s, e) in runs {
                let piece = Piece { at_first: a, slope: s, error_per_key: e, lightest: 0.0 };
                sink.add(first, len, &piece);
                for o in 0..len {
                    let r = ((first + o) % shards) as usize;
                    expected[r] += a + s * o as f64;
                    expected_error[r] += e;
                }
                first += len;
            }
            let (weights, errors) = sink.finish();
            for r in 0..shards as usize {
                prop_assert!((weights[r] - expected[r]).abs() <= 1e-9 * expected[r].abs().max(1.0),
                    "residue {}: {} vs {}", r, weights[r], expected[r]);
                prop_assert!((errors[r] - expected_error[r]).abs() <= 1e-12);
            }
        });
    }
}
