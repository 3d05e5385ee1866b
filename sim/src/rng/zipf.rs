//! Zipf-distributed ranks: rank k in [0, n) is drawn with probability proportional to
//! 1 / (k + 1)^s. O(1) per draw and bounded memory up to 200M ranks: an alias table
//! (`rand_distr::weighted::WeightedAliasIndex`, 12 bytes a rank) up to
//! `ALIAS_MAX_RANKS`, Hörmann and Derflinger's rejection-inversion beyond (constant
//! memory, a few transcendental calls a draw). Invariant: draws are identical on every
//! platform (weights and inversions use `libm`).

use rand::RngCore;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::Distribution;

/// Ranks up to this count use the alias table (about 50 MB at the limit).
pub const ALIAS_MAX_RANKS: u64 = 4_000_000;

/// A Zipf sampler over ranks 0..n (rank 0 is the most popular).
#[derive(Clone, Debug)]
pub struct Zipf {
    n: u64,
    exponent: f64,
    method: Method,
}

#[derive(Clone, Debug)]
enum Method {
    Alias(WeightedAliasIndex<f64>),
    RejectionInversion(RejectionInversion),
}

/// Why a Zipf sampler could not be built.
#[derive(Clone, Debug, PartialEq)]
pub enum ZipfError {
    NoRanks,
    BadExponent(f64),
}

impl std::fmt::Display for ZipfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZipfError::NoRanks => write!(f, "a Zipf distribution needs at least one rank"),
            ZipfError::BadExponent(s) => {
                write!(f, "a Zipf exponent must be finite and > 0, got {s}")
            }
        }
    }
}

impl std::error::Error for ZipfError {}

impl Zipf {
    pub fn new(n: u64, exponent: f64) -> Result<Zipf, ZipfError> {
        if n == 0 {
            return Err(ZipfError::NoRanks);
        }
        if !(exponent.is_finite() && exponent > 0.0) {
            return Err(ZipfError::BadExponent(exponent));
        }
        let method = if n <= ALIAS_MAX_RANKS {
            let weights: Vec<f64> = (1..=n).map(|k| libm::pow(k as f64, -exponent)).collect();
            Method::Alias(WeightedAliasIndex::new(weights).expect("positive finite weights"))
        } else {
            Method::RejectionInversion(RejectionInversion::new(n, exponent))
        };
        Ok(Zipf {
            n,
            exponent,
            method,
        })
    }

    pub fn ranks(&self) -> u64 {
        self.n
    }

    pub fn exponent(&self) -> f64 {
        self.exponent
    }

    /// The exact probability of rank `k` (for reports and checks, not for sampling).
    pub fn probability(&self, k: u64) -> f64 {
        libm::pow((k + 1) as f64, -self.exponent) / self.normalizer()
    }

    /// The sum of 1 / k^s over 1..=n (the harmonic number H(n, s)).
    pub fn normalizer(&self) -> f64 {
        // Summed from the smallest terms up to limit rounding error.
        (1..=self.n)
            .rev()
            .map(|k| libm::pow(k as f64, -self.exponent))
            .sum()
    }

    /// Draws a rank in [0, n).
    #[inline]
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> u64 {
        match &self.method {
            Method::Alias(table) => table.sample(rng) as u64,
            Method::RejectionInversion(ri) => ri.sample(rng) - 1,
        }
    }
}

/// Rejection-inversion sampling of ranks 1..=n (W. Hörmann, G. Derflinger, "Rejection-
/// inversion to generate variates from monotone discrete distributions", ACM TOMACS
/// 1996), in the formulation of Apache Commons RNG's `RejectionInversionZipfSampler`.
#[derive(Clone, Debug)]
struct RejectionInversion {
    n: u64,
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    threshold: f64,
}

impl RejectionInversion {
    fn new(n: u64, s: f64) -> Self {
        let mut ri = RejectionInversion {
            n,
            s,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            threshold: 0.0,
        };
        ri.h_integral_x1 = ri.h_integral(1.5) - 1.0;
        ri.h_integral_n = ri.h_integral(n as f64 + 0.5);
        ri.threshold = 2.0 - ri.h_integral_inverse(ri.h_integral(2.5) - ri.h(2.0));
        ri
    }

    fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> u64 {
        loop {
            let u =
                self.h_integral_n + super::unit_f64(rng) * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = ((x + 0.5) as u64).clamp(1, self.n);
            let kf = k as f64;
            if kf - x <= self.threshold || u >= self.h_integral(kf + 0.5) - self.h(kf) {
                return k;
            }
        }
    }

    fn h(&self, x: f64) -> f64 {
        libm::exp(-self.s * libm::log(x))
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = libm::log(x);
        helper2((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        libm::exp(helper1(t) * x)
    }
}

/// ln(1 + x) / x, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        libm::log1p(x) / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (exp(x) - 1) / x, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        libm::expm1(x) / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RngStreams;

    fn frequencies(z: &Zipf, draws: u64, buckets: usize) -> Vec<f64> {
        let mut r = RngStreams::new(3).stream("zipf", 0);
        let mut counts = vec![0u64; buckets];
        for _ in 0..draws {
            let k = z.sample(&mut r);
            assert!(k < z.ranks());
            if (k as usize) < buckets {
                counts[k as usize] += 1;
            }
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    #[test]
    fn alias_matches_probabilities() {
        let z = Zipf::new(1000, 0.99).unwrap();
        let f = frequencies(&z, 400_000, 5);
        for (k, fk) in f.iter().enumerate() {
            let p = z.probability(k as u64);
            assert!((fk - p).abs() < 0.01 * p + 0.002, "rank {k}: {fk} vs {p}");
        }
    }

    #[test]
    fn rejection_inversion_matches_probabilities() {
        // Force the large-n method on a small n so exact probabilities are cheap.
        let ri = RejectionInversion::new(1000, 0.99);
        let z = Zipf::new(1000, 0.99).unwrap();
        let mut r = RngStreams::new(4).stream("zipf", 0);
        let draws = 400_000u64;
        let mut counts = [0u64; 5];
        for _ in 0..draws {
            let k = ri.sample(&mut r) - 1;
            assert!(k < 1000);
            if k < 5 {
                counts[k as usize] += 1;
            }
        }
        for (k, &c) in counts.iter().enumerate() {
            let p = z.probability(k as u64);
            let fk = c as f64 / draws as f64;
            assert!((fk - p).abs() < 0.01 * p + 0.002, "rank {k}: {fk} vs {p}");
        }
    }

    #[test]
    fn large_key_spaces_use_constant_memory() {
        let z = Zipf::new(200_000_000, 0.9).unwrap();
        assert!(matches!(z.method, Method::RejectionInversion(_)));
        let mut r = RngStreams::new(5).stream("zipf", 0);
        assert!((0..1000).all(|_| z.sample(&mut r) < 200_000_000));
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert_eq!(Zipf::new(0, 1.0).unwrap_err(), ZipfError::NoRanks);
        assert!(matches!(Zipf::new(10, 0.0), Err(ZipfError::BadExponent(_))));
        assert!(matches!(
            Zipf::new(10, f64::NAN),
            Err(ZipfError::BadExponent(_))
        ));
    }
}
