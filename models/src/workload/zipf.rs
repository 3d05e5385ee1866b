//! Zipf key sampling with memtier_benchmark's rank-to-key mapping: rank r *is* key index
//! r (rank 1 = `memtier-1`, the hottest key), P(k) proportional to k^-exponent over
//! `max(key_minimum, 1)..=key_maximum` ("Z ... will limit keys to positive").
//!
//! Two samplers give that distribution. [`KeyZipf`] is what the generator uses: the
//! kernel's `sim::rng::Zipf` (an O(1) alias table, or rejection-inversion for very large
//! ranges) whenever the range starts at key 1, which is memtier's default and every
//! bundled scenario's, and memtier's own sampler otherwise (a range starting above 1 is
//! not a shifted Zipf, so the kernel's cannot express it). [`ZipfSampler`] is a port of
//! memtier's obj_gen.cpp `zipf_distribution`: rejection-inversion (Hörmann and
//! Derflinger, ACM TOMACS 6(3), 1996) over `zipf_min..=zipf_max`.
//!
//! Invariant: every draw is inside the key range and follows the pmf above. Math goes
//! through `libm` (pinned) so draws are bit-identical on every platform. [`draw`] is the
//! one place the generator samples a Zipf key.

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

/// The sampler a generator draws Zipf keys from; build it once per workload and share
/// it between connections (the alias table holds 12 bytes per key).
#[derive(Clone, Debug)]
pub enum KeyZipf {
    /// The kernel's sampler over ranks 0..n; key = rank + 1.
    Kernel(sim::rng::Zipf),
    /// memtier's sampler, for ranges that start above key 1 or exponents memtier treats
    /// as uniform.
    Memtier(ZipfSampler),
}

impl KeyZipf {
    pub fn new(key_minimum: u64, key_maximum: u64, exponent: f64) -> KeyZipf {
        let memtier = ZipfSampler::new(key_minimum, key_maximum, exponent);
        if memtier.min == 1 && memtier.exponent != 0.0 {
            if let Ok(z) = sim::rng::Zipf::new(memtier.max, memtier.exponent) {
                return KeyZipf::Kernel(z);
            }
        }
        KeyZipf::Memtier(memtier)
    }

    /// One key index.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        match self {
            KeyZipf::Kernel(z) => z.sample(rng) + 1,
            KeyZipf::Memtier(z) => z.sample(rng),
        }
    }
}

/// The generator's single Zipf draw.
#[inline]
pub fn draw<R: Rng + ?Sized>(sampler: &KeyZipf, rng: &mut R) -> u64 {
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
    fn key_sampler_uses_the_kernel_from_key_one_and_memtier_above() {
        assert!(matches!(KeyZipf::new(0, 100, 0.9), KeyZipf::Kernel(_)));
        assert!(matches!(KeyZipf::new(1, 100, 0.9), KeyZipf::Kernel(_)));
        assert!(matches!(KeyZipf::new(5, 100, 0.9), KeyZipf::Memtier(_)));
        // Both follow the same pmf: key 1's share over 1..=50 at exponent 0.821.
        let n = 200_000;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let k = KeyZipf::new(1, 50, 0.821);
        let m = ZipfSampler::new(1, 50, 0.821);
        let ones_k = (0..n).filter(|_| k.sample(&mut rng) == 1).count() as f64 / n as f64;
        let ones_m = (0..n).filter(|_| m.sample(&mut rng) == 1).count() as f64 / n as f64;
        let p = pmf(1, 50, 0.821, 1);
        let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
        assert!(
            (ones_k - p).abs() < tol && (ones_m - p).abs() < tol,
            "{ones_k} {ones_m} {p}"
        );
        // A range starting above 1 keeps memtier's pmf (k^-s over 5..=100, not shifted).
        let z = KeyZipf::new(5, 100, 1.0);
        let fives = (0..n).filter(|_| z.sample(&mut rng) == 5).count() as f64 / n as f64;
        let p5 = pmf(5, 100, 1.0, 5);
        assert!(
            (fives - p5).abs() < 5.0 * (p5 * (1.0 - p5) / n as f64).sqrt(),
            "{fives} {p5}"
        );
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
