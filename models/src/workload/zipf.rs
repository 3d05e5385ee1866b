//! memtier_benchmark's Zipf key sampler (obj_gen.cpp `zipf_distribution`): rejection-
//! inversion (Hörmann and Derflinger, "Rejection-inversion to generate variates from
//! monotone discrete distributions", ACM TOMACS 6(3), 1996) over ranks
//! `zipf_min..=zipf_max`, where the rank *is* the key index (rank 1 = `memtier-1`, the
//! hottest key) and a key_minimum of 0 counts as 1 ("Z ... will limit keys to positive").
//!
//! Invariant: every draw is inside `zipf_min..=zipf_max` and P(k) is proportional to
//! k^-exponent. Math goes through `libm` (pinned) so draws are bit-identical on every
//! platform. [`draw`] is the one place the generator samples a Zipf rank, so switching to
//! the kernel's sampler (`sim::rng`) is a one-line change.

use rand::Rng;

/// Exponents closer than this to 0 or 1 take memtier's special cases.
const EPS: f64 = 1e-4;

#[derive(Clone, Debug, PartialEq)]
pub struct ZipfSampler {
    min: u64,
    max: u64,
    exponent: f64,
    h_min: f64,
    h_max: f64,
    s: f64,
    one_minus_exp: f64,
    one_minus_exp_inv: f64,
}

impl ZipfSampler {
    /// memtier's `set_key_zipf_distribution` for keys `key_minimum..=key_maximum`.
    pub fn new(key_minimum: u64, key_maximum: u64, exponent: f64) -> ZipfSampler {
        let exponent = if exponent < EPS {
            0.0
        } else if (exponent - 1.0).abs() < EPS {
            1.0
        } else {
            exponent
        };
        let min = key_minimum.max(1);
        let max = key_maximum.max(min);
        let mut z = ZipfSampler {
            min,
            max,
            exponent,
            h_min: 0.0,
            h_max: 0.0,
            s: 0.0,
            one_minus_exp: 0.0,
            one_minus_exp_inv: 0.0,
        };
        let (minf, maxf) = (min as f64, max as f64);
        if exponent == 0.0 {
            // Degenerates to uniform.
        } else if exponent == 1.0 {
            z.h_min = libm::log(minf + 0.5) - 1.0 / minf;
            z.h_max = libm::log(maxf + 0.5);
            let t = libm::log(minf + 1.5) - 1.0 / (minf + 1.0);
            z.s = minf + 1.0 - libm::exp(t);
        } else {
            z.one_minus_exp = 1.0 - exponent;
            z.one_minus_exp_inv = 1.0 / z.one_minus_exp;
            z.h_min = libm::pow(minf + 0.5, z.one_minus_exp)
                - z.one_minus_exp * libm::pow(minf, -exponent);
            z.h_max = libm::pow(maxf + 0.5, z.one_minus_exp);
            let t = libm::pow(minf + 1.5, z.one_minus_exp)
                - z.one_minus_exp * libm::pow(minf + 1.0, -exponent);
            z.s = minf + 1.0 - libm::pow(t, z.one_minus_exp_inv);
        }
        z
    }

    pub fn min(&self) -> u64 {
        self.min
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// One rank. The rejection loop accepts with probability well above 1/2 per round
    /// (the method's bound), so it ends after a few rounds; 64 rounds without acceptance
    /// would mean broken floating point, and the last candidate is returned instead.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        if self.min == self.max {
            return self.min;
        }
        if self.exponent == 0.0 {
            return rng.random_range(self.min..=self.max);
        }
        let (minf, maxf) = (self.min as f64, self.max as f64);
        let mut k = minf;
        for _ in 0..64 {
            let p: f64 = rng.random();
            let u = p * (self.h_max - self.h_min) + self.h_min;
            let mut x = if self.exponent == 1.0 {
                libm::exp(u)
            } else {
                libm::pow(u, self.one_minus_exp_inv)
            };
            if x < minf - 0.5 {
                x = minf + 0.5;
            }
            if x >= maxf + 0.5 {
                x = maxf;
            }
            k = libm::floor(x + 0.5);
            if k - x <= self.s {
                break;
            }
            let accept = if self.exponent == 1.0 {
                u > libm::log(k + 0.5) - 1.0 / k
            } else {
                let t = u - libm::pow(k + 0.5, self.one_minus_exp);
                self.one_minus_exp_inv * t > -libm::pow(k, -self.exponent)
            };
            if accept {
                break;
            }
        }
        (k as u64).clamp(self.min, self.max)
    }
}

/// The generator's single Zipf draw.
pub fn draw<R: Rng + ?Sized>(sampler: &ZipfSampler, rng: &mut R) -> u64 {
    sampler.sample(rng)
}

/// Exact probability of rank `k` under Zipf(`exponent`) on `min..=max` (k^-s / H), for
/// tests and for exact expected loads.
pub fn pmf(min: u64, max: u64, exponent: f64, k: u64) -> f64 {
    let h: f64 = (min..=max).map(|i| libm::pow(i as f64, -exponent)).sum();
    libm::pow(k as f64, -exponent) / h
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn frequencies(min: u64, max: u64, exp: f64, n: usize) -> Vec<f64> {
        let z = ZipfSampler::new(min, max, exp);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = vec![0u64; (max - z.min() + 1) as usize];
        for _ in 0..n {
            let k = z.sample(&mut rng);
            assert!((z.min()..=z.max()).contains(&k));
            counts[(k - z.min()) as usize] += 1;
        }
        counts.iter().map(|c| *c as f64 / n as f64).collect()
    }

    #[test]
    fn matches_the_pmf_for_several_exponents() {
        for exp in [0.5, 0.821, 1.0, 1.5] {
            let f = frequencies(1, 20, exp, 200_000);
            for (i, fi) in f.iter().enumerate() {
                let k = i as u64 + 1;
                let p = pmf(1, 20, exp, k);
                // 200k draws: 5 standard errors of a binomial proportion.
                let tol = 5.0 * (p * (1.0 - p) / 200_000.0).sqrt();
                assert!((fi - p).abs() <= tol, "exp {exp} rank {k}: {fi} vs {p}");
            }
        }
    }

    #[test]
    fn key_minimum_zero_counts_as_one() {
        let z = ZipfSampler::new(0, 100, 0.9);
        assert_eq!(z.min(), 1);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((0..10_000).all(|_| z.sample(&mut rng) >= 1));
    }

    #[test]
    fn rank_one_is_the_hottest_key() {
        let f = frequencies(1, 1000, 0.99, 100_000);
        assert!(f[0] > f[1] && f[1] > f[9] && f[9] > f[999]);
    }

    #[test]
    fn single_key_range_always_returns_it() {
        let z = ZipfSampler::new(5, 5, 1.2);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(z.sample(&mut rng), 5);
    }
}
