//! Per-key request weights of the non-uniform key distributions (Zipf, Gaussian), and
//! their approximation by chords over runs of consecutive keys, each with a bound on
//! every key's error: what lets a range of 10^12 keys be weighed in about a million
//! pieces.
//!
//! Invariant: for every key k of a piece, |weight(k) - chord(k)| <= the piece's
//! `error_per_key`, where chord(first + o) = at_first + slope * o. The bound is the chord
//! error of a C2 function, at most (b - a)^2 / 8 times its largest |f''| on [a, b], or
//! a cruder one when that is smaller (weight and chord both lie between 0 and the
//! piece's largest weight; for a monotone weight, between its end weights).

use crate::workload::{KeyDist, WorkloadConfig};

/// When a run of keys may be weighed as one chord: its per-key error is within
/// `relative` of its lightest key's weight, or its total error (keys times per-key
/// error) is within `absolute` of the heaviest key's weight in the whole range. The
/// first keeps the error a fixed fraction of the mass; the second lets the far tails,
/// which carry next to nothing, go in a few wide pieces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub relative: f64,
    pub absolute: f64,
}

/// What `exact_shard_loads` uses: chord errors below 1e-9 of the weights, in at most a
/// few million pieces for any range, exponent or deviation memtier accepts. The shares'
/// bound comes out around 1e-11 from the chords, plus the rounding allowance (about
/// 5e-10 for a million pieces); a report prints six decimals.
pub const TOLERANCE: Tolerance = Tolerance {
    relative: 1e-9,
    absolute: 1e-17,
};

/// A run of consecutive keys weighed as a chord: key `first + o` weighs
/// `at_first + slope * o`, within `error_per_key` of its true weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Piece {
    pub at_first: f64,
    pub slope: f64,
    pub error_per_key: f64,
    /// The smaller end weight: the lightest key of the piece (both weights are unimodal).
    pub lightest: f64,
}

/// Standard deviations from this one up take the Gaussian's per-key weight from the
/// density and its derivatives (the unit interval's integral to terms in sigma^-5,
/// accurate to about z^6 / (322560 sigma^6) relative); below it, from a difference of
/// erfc, whose cancellation then costs at most a few digits.
const SERIES_MIN_STDDEV: f64 = 1e4;

const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// The unnormalized weight of each key index under a non-uniform key distribution.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyWeights {
    shape: Shape,
    /// The weight of the heaviest key of the range (the range's total is at least it).
    heaviest: f64,
}

#[derive(Clone, Debug, PartialEq)]
enum Shape {
    /// k^-exponent (index 0 weighs as index 1, as the per-key loop has it).
    Zipf { exponent: f64 },
    /// The normal density's mass over [k - 1/2, k + 1/2], renormalized over the range by
    /// the caller (memtier redraws outside it).
    Gaussian {
        /// The median's integer part and fraction, so that k - median is exact up to one
        /// rounding for every u64 k (an f64 of k loses units beyond 2^53).
        median_floor: u64,
        median_fraction: f64,
        stddev: f64,
    },
}

impl KeyWeights {
    /// The weights of `dist` over the workload's key range; `None` for the uniform
    /// distributions.
    pub fn new(w: &WorkloadConfig, dist: KeyDist) -> Option<KeyWeights> {
        let (lo, hi) = (w.key_minimum, w.key_maximum);
        let (shape, heaviest_key) = match dist {
            KeyDist::Random | KeyDist::Sequential | KeyDist::Parallel => return None,
            KeyDist::Zipf => (
                Shape::Zipf {
                    exponent: w.key_zipf_exp,
                },
                lo,
            ),
            KeyDist::Gaussian => {
                let (median, stddev) = gaussian_parameters(w);
                let median = median.clamp(0.0, u64::MAX as f64);
                let median_floor = median.floor() as u64;
                let median_fraction = median - median_floor as f64;
                let nearest = median_floor.saturating_add(u64::from(median_fraction >= 0.5));
                (
                    Shape::Gaussian {
                        median_floor,
                        median_fraction,
                        stddev,
                    },
                    nearest.clamp(lo, hi),
                )
            }
        };
        let heaviest = shape.weight(heaviest_key);
        Some(KeyWeights { shape, heaviest })
    }

    /// The unnormalized weight of key index `k`.
    pub fn weight(&self, k: u64) -> f64 {
        self.shape.weight(k)
    }

    /// The chord over keys `first..=last` and its per-key error bound.
    pub fn piece(&self, first: u64, last: u64) -> Piece {
        let at_first = self.weight(first);
        if first == last {
            return Piece {
                at_first,
                slope: 0.0,
                error_per_key: 0.0,
                lightest: at_first,
            };
        }
        let at_last = self.weight(last);
        let width = (last - first) as f64;
        let slope = (at_last - at_first) / width;
        let error_per_key = match self.shape {
            Shape::Zipf { exponent } => {
                // f'' = s (s + 1) k^(-s-2), largest at the first key. Index 0 weighs as
                // index 1, where the weight is not smooth: only the crude bound there.
                let drop = self.weight(first.max(1)) - at_last;
                if first == 0 {
                    drop
                } else {
                    let bend =
                        exponent * (exponent + 1.0) * libm::pow(first as f64, -exponent - 2.0);
                    (width * width / 8.0 * bend).min(drop)
                }
            }
            Shape::Gaussian { stddev, .. } => {
                // f(x) is the density's mass over [x - 1/2, x + 1/2], so |f''| is at most
                // the largest |phi''(z)| / s^3 = |z^2 - 1| phi(z) / s^3 over the piece
                // widened by half a key each side, and f at most the largest phi(z) / s.
                let za = (self.shape.offset_from_median(first) - 0.5) / stddev;
                let zb = (self.shape.offset_from_median(last) + 0.5) / stddev;
                let nearest = 0.0f64.clamp(za, zb);
                let phi = INV_SQRT_2PI * libm::exp(-0.5 * nearest * nearest);
                let bend = (za * za).max(zb * zb).max(1.0) * phi / (stddev * stddev * stddev);
                (width * width / 8.0 * bend).min(phi / stddev)
            }
        };
        Piece {
            at_first,
            slope,
            error_per_key,
            lightest: at_first.min(at_last),
        }
    }

    /// Whether `piece`, over `len` keys, is within the tolerance.
    pub fn accepts(&self, piece: &Piece, len: u64, tol: Tolerance) -> bool {
        piece.error_per_key <= tol.relative * piece.lightest
            || len as f64 * piece.error_per_key <= tol.absolute * self.heaviest
    }

    /// A guess at the longest piece from key `x` on that the tolerance accepts (at least
    /// 1). Callers check the piece with [`KeyWeights::accepts`] and shorten it when the
    /// guess was too long, so the guess costs retries, never accuracy.
    pub fn span(&self, x: u64, tol: Tolerance) -> u64 {
        let keys = match self.shape {
            Shape::Zipf { exponent } => {
                if x == 0 {
                    return 1;
                }
                let xf = x as f64;
                let bend = exponent * (exponent + 1.0);
                // Relative: (L / x)^2 s (s + 1) / 8 <= eps (x / (x + L))^s.
                let r = libm::sqrt(8.0 * tol.relative / bend);
                let relative = xf * r * libm::pow(1.0 + r, -exponent / 2.0);
                // Absolute: L^3 s (s + 1) x^(-s-2) / 8 <= abs * heaviest.
                let cube = 8.0 * tol.absolute * self.heaviest * libm::pow(xf, exponent + 2.0);
                relative.max(libm::cbrt(cube / bend))
            }
            Shape::Gaussian { stddev, .. } => {
                let d = self.shape.offset_from_median(x);
                let z = d / stddev;
                // Relative: L^2 max(1, z^2) / (8 s^2) <= eps, with room for the weight's
                // change across the piece.
                let relative = stddev * libm::sqrt(8.0 * tol.relative) / (z.abs().max(1.0) * 1.01);
                // Absolute: L phi(z') <= abs * heaviest * s / phi(0) = allowance, z' where
                // the piece's heaviest key is. Right of the median that is its first key;
                // left of it, its last: the length halves from half way to the median
                // until it fits (if one key at x does not, no piece from x does).
                let allowance = tol.absolute * self.heaviest * stddev / INV_SQRT_2PI;
                let absolute = if d >= 0.0 {
                    allowance * libm::exp(0.5 * z * z)
                } else if allowance * libm::exp(0.5 * z * z) < 1.0 {
                    0.0
                } else {
                    let mut keys = -d / 2.0;
                    loop {
                        let end = z + keys / stddev;
                        if keys <= 1.0 || keys * libm::exp(-0.5 * end * end) <= allowance {
                            break keys;
                        }
                        keys /= 2.0;
                    }
                };
                relative.max(absolute)
            }
        };
        // `as` saturates: beyond u64 (or infinite) becomes u64::MAX, NaN 0.
        (keys as u64).max(1)
    }
}

impl Shape {
    fn weight(&self, k: u64) -> f64 {
        match *self {
            Shape::Zipf { exponent } => libm::pow(k.max(1) as f64, -exponent),
            Shape::Gaussian { stddev, .. } => {
                let d = self.offset_from_median(k);
                if stddev >= SERIES_MIN_STDDEV {
                    gaussian_by_series(d, stddev)
                } else {
                    gaussian_by_erfc(d, stddev)
                }
            }
        }
    }

    /// k - median, exact up to one rounding (k itself for Zipf).
    fn offset_from_median(&self, k: u64) -> f64 {
        match *self {
            Shape::Gaussian {
                median_floor,
                median_fraction,
                ..
            } => (i128::from(k) - i128::from(median_floor)) as f64 - median_fraction,
            Shape::Zipf { .. } => k as f64,
        }
    }
}

/// The normal density's mass over [d - 1/2, d + 1/2], Taylor-expanded around d:
/// (phi(z) + phi''(z) / (24 s^2) + phi''''(z) / (1920 s^4)) / s.
fn gaussian_by_series(d: f64, stddev: f64) -> f64 {
    let z = d / stddev;
    let z2 = z * z;
    let s2 = stddev * stddev;
    let phi = INV_SQRT_2PI * libm::exp(-0.5 * z2);
    let second = (z2 - 1.0) / (24.0 * s2);
    let fourth = (z2 * z2 - 6.0 * z2 + 3.0) / (1920.0 * s2 * s2);
    phi * (1.0 + second + fourth) / stddev
}

/// The same mass as a difference of the normal CDF, each side of the median from its own
/// tail, where erfc keeps its relative precision.
fn gaussian_by_erfc(d: f64, stddev: f64) -> f64 {
    let scale = stddev * std::f64::consts::SQRT_2;
    let (a, b) = ((d - 0.5) / scale, (d + 0.5) / scale);
    let mass = if a + b < 0.0 {
        libm::erfc(-b) - libm::erfc(-a)
    } else {
        libm::erfc(a) - libm::erfc(b)
    };
    (0.5 * mass).max(0.0)
}

/// The Gaussian's median and standard deviation over the workload's range, with
/// memtier's defaults (the range's centre, a sixth of its width).
pub fn gaussian_parameters(w: &WorkloadConfig) -> (f64, f64) {
    let (lo, hi) = (w.key_minimum, w.key_maximum);
    let median = if w.key_median > 0.0 {
        w.key_median
    } else {
        // In u128: lo + hi can exceed u64 (and gives the same f64 when it does not).
        (u128::from(lo) + u128::from(hi)) as f64 / 2.0
    };
    let stddev = if w.key_stddev > 0.0 {
        w.key_stddev
    } else {
        (hi - lo) as f64 / 6.0
    };
    (median, stddev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::WorkloadSpec;
    use proptest::prelude::*;

    fn workload(pattern: &str, lo: u64, hi: u64, exponent: f64, stddev: f64) -> WorkloadConfig {
        let zipf = pattern.contains('Z');
        let gaussian = pattern.contains('G');
        WorkloadSpec {
            key_pattern: Some(pattern.to_string()),
            key_minimum: Some(lo),
            key_maximum: Some(hi),
            key_zipf_exp: zipf.then_some(exponent),
            key_stddev: gaussian.then_some(stddev),
            ..Default::default()
        }
        .resolve()
        .unwrap()
    }

    /// Every key of a piece is within the piece's error bound of its chord: Zipf of any
    /// exponent memtier accepts from any first key, Gaussian near and far from its median,
    /// on both sides, narrow and wide. (The float chord itself rounds: a few units in the
    /// last place of the weight are allowed on top, and the smallest normal float where
    /// the weights are subnormal.)
    #[test]
    fn chord_errors_stay_within_their_bounds() {
        proptest!(|(zipf in any::<bool>(), exponent in 0.01f64..4.99, stddev in 0.3f64..5_000.0,
                    at in 0u64..2_000_000, len in 1u64..3_000)| {
            let w = if zipf {
                workload("Z:Z", 0, 10_000_000, exponent, 0.0)
            } else {
                workload("G:G", 0, 10_000_000, 0.0, stddev)
            };
            let weights = KeyWeights::new(&w, w.key_pattern.get).unwrap();
            // Gaussian pieces from about 20 standard deviations left of the median on.
            let first = if zipf { at } else { (5_000_000 + at).saturating_sub((20.0 * stddev) as u64) };
            let last = first + len - 1;
            let piece = weights.piece(first, last);
            for k in first..=last {
                let exact = weights.weight(k);
                let chord = piece.at_first + piece.slope * (k - first) as f64;
                // Far in a Gaussian's tail the weights are subnormal, where a float
                // keeps only a few significant bits: an absolute unit at that scale too.
                prop_assert!((exact - chord).abs() <= piece.error_per_key + 1e-14 * exact + f64::MIN_POSITIVE,
                    "key {}: weight {} chord {} bound {}", k, exact, chord, piece.error_per_key);
                prop_assert!(piece.lightest <= exact * (1.0 + 1e-12) + f64::MIN_POSITIVE,
                    "key {}: lightest {} above its weight {}", k, piece.lightest, exact);
            }
        });
    }

    /// Both ways of weighing a Gaussian key agree where both are accurate (the density
    /// series from 10^4 standard deviations up, erfc differences below).
    #[test]
    fn gaussian_series_agrees_with_erfc_differences() {
        for stddev in [1e4, 3e4, 1e5] {
            for z in [-8.0, -3.0, -1.0, -0.3, 0.0, 0.5, 2.0, 6.0] {
                let d = z * stddev + 0.25;
                assert_near(
                    gaussian_by_series(d, stddev),
                    gaussian_by_erfc(d, stddev),
                    1e-8,
                );
            }
        }
    }

    fn assert_near(a: f64, b: f64, relative: f64) {
        assert!(
            (a - b).abs() <= relative * a.abs().max(b.abs()),
            "{a} vs {b}"
        );
    }
}
