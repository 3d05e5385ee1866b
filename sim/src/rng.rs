//! Randomness. One root seed enters a run; every component draws from its own ChaCha8
//! stream derived from (root seed, stable label, index), so adding a component never
//! changes another's draws (common random numbers across compared variants). Invariant:
//! a stream's draws depend only on (root seed, label, index) and the pinned crate
//! versions, never on the platform: transcendental math goes through `libm`, which is
//! correctly rounded software, not the platform's libm.

mod zipf;

pub use zipf::{Zipf, ALIAS_MAX_RANKS};

use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hash::Hasher;

/// The generator every component uses.
pub type SimRng = ChaCha8Rng;

/// Derives independent streams from one root seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngStreams {
    root_seed: u64,
}

impl RngStreams {
    pub fn new(root_seed: u64) -> RngStreams {
        RngStreams { root_seed }
    }

    pub fn root_seed(&self) -> u64 {
        self.root_seed
    }

    /// The stream named `label` (e.g. `"client"`), instance `index` (e.g. a connection
    /// number). The ChaCha key comes from the root seed and the 64-bit stream id from a
    /// FNV-1a hash of the label and index, which is stable across versions and platforms.
    pub fn stream(&self, label: &str, index: u64) -> SimRng {
        let mut h = fnv::FnvHasher::default();
        h.write(label.as_bytes());
        h.write(&[0xff]);
        h.write(&index.to_le_bytes());
        let mut rng = ChaCha8Rng::seed_from_u64(self.root_seed);
        rng.set_stream(h.finish());
        rng
    }
}

/// A uniform draw in [0, 1) with 53 random bits.
#[inline]
pub fn unit_f64<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform draw in (0, 1]: safe to take the logarithm of.
#[inline]
pub fn unit_f64_nonzero<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in [0, n), unbiased (Lemire's method with rejection). `n` > 0.
#[inline]
pub fn below<R: RngCore + ?Sized>(rng: &mut R, n: u64) -> u64 {
    assert!(n > 0, "below(0) has no values");
    let mut m = rng.next_u64() as u128 * n as u128;
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = rng.next_u64() as u128 * n as u128;
        }
    }
    (m >> 64) as u64
}

/// An exponential draw with the given mean, by inversion: `-mean * ln(U)`, U in (0, 1].
#[inline]
pub fn exponential<R: RngCore + ?Sized>(rng: &mut R, mean: f64) -> f64 {
    -mean * libm::log(unit_f64_nonzero(rng))
}

/// A standard normal draw (Box-Muller, one of the pair).
pub fn standard_normal<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    let u1 = unit_f64_nonzero(rng);
    let u2 = unit_f64(rng);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
}

/// Words a [`Lookahead`] can hold: peeks reach 15 draws of 64 bits ahead.
const LOOKAHEAD_WORDS: usize = 32;

/// A stream that can be looked ahead in: [`Lookahead::peek_u64`] shows a later draw
/// without taking it, so a caller that draws random indices into a large table can
/// have the cache load the entries it will pick a few draws early. Its draws are the
/// inner stream's, word for word: a 64-bit draw is two 32-bit words, the first the
/// low half, as ChaCha's block generator yields them, and a peek only moves words
/// the inner stream has generated into a small ring from which the next draws come.
/// Invariant: the ring holds the inner stream's next `len` words, in order, from
/// `head`.
#[derive(Clone, Debug)]
pub struct Lookahead<R: RngCore> {
    inner: R,
    words: [u32; LOOKAHEAD_WORDS],
    head: usize,
    len: usize,
}

impl<R: RngCore> Lookahead<R> {
    /// The farthest draw [`Lookahead::peek_u64`] reaches.
    pub const MAX_PEEK: usize = LOOKAHEAD_WORDS / 2 - 1;

    pub fn new(inner: R) -> Lookahead<R> {
        Lookahead {
            inner,
            words: [0; LOOKAHEAD_WORDS],
            head: 0,
            len: 0,
        }
    }

    /// The 64-bit draw `k` draws from now (0: the next), without taking it.
    #[inline]
    pub fn peek_u64(&mut self, k: usize) -> u64 {
        assert!(
            k <= Self::MAX_PEEK,
            "a peek reaches {} draws",
            Self::MAX_PEEK
        );
        if self.len + 2 == 2 * k + 2 {
            // A caller peeking a fixed distance ahead of its draws needs one more draw.
            let w = self.inner.next_u64();
            self.words[(self.head + self.len) % LOOKAHEAD_WORDS] = w as u32;
            self.words[(self.head + self.len + 1) % LOOKAHEAD_WORDS] = (w >> 32) as u32;
            self.len += 2;
        } else if self.len < 2 * k + 2 {
            self.fill(2 * k + 2);
        }
        let lo = self.words[(self.head + 2 * k) % LOOKAHEAD_WORDS];
        let hi = self.words[(self.head + 2 * k + 1) % LOOKAHEAD_WORDS];
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// What [`below`]`(n)` returns from the draw `k` draws from now, unless that draw is
    /// rejected (a chance below n / 2^64), without taking it.
    #[inline]
    pub fn peek_below(&mut self, k: usize, n: u64) -> u64 {
        ((self.peek_u64(k) as u128 * n as u128) >> 64) as u64
    }

    /// Moves the inner stream's next words into the ring until it holds `len`: by 64-bit
    /// draws (one call for two words, in the same order) while two fit.
    #[inline(never)]
    fn fill(&mut self, len: usize) {
        while self.len + 2 <= len {
            let w = self.inner.next_u64();
            self.words[(self.head + self.len) % LOOKAHEAD_WORDS] = w as u32;
            self.words[(self.head + self.len + 1) % LOOKAHEAD_WORDS] = (w >> 32) as u32;
            self.len += 2;
        }
        if self.len < len {
            self.words[(self.head + self.len) % LOOKAHEAD_WORDS] = self.inner.next_u32();
            self.len += 1;
        }
    }

    #[inline(never)]
    fn next_u64_slow(&mut self) -> u64 {
        if self.len == 0 {
            return self.inner.next_u64();
        }
        let lo = self.pop_word();
        let hi = self.next_u32();
        (u64::from(hi) << 32) | u64::from(lo)
    }

    #[inline]
    fn pop_word(&mut self) -> u32 {
        let w = self.words[self.head];
        self.head = (self.head + 1) % LOOKAHEAD_WORDS;
        self.len -= 1;
        w
    }
}

impl<R: RngCore> RngCore for Lookahead<R> {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        if self.len == 0 {
            self.inner.next_u32()
        } else {
            self.pop_word()
        }
    }

    /// A draw that was peeked at (the common case for a caller that looks ahead) takes
    /// two words from the ring, inline.
    #[inline(always)]
    fn next_u64(&mut self) -> u64 {
        if self.len < 2 {
            return self.next_u64_slow();
        }
        let lo = self.words[self.head];
        let hi = self.words[(self.head + 1) % LOOKAHEAD_WORDS];
        self.head = (self.head + 2) % LOOKAHEAD_WORDS;
        self.len -= 2;
        (u64::from(hi) << 32) | u64::from(lo)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if self.len == 0 {
            self.inner.fill_bytes(dest);
        } else {
            rand_core::impls::fill_bytes_via_next(self, dest);
        }
    }
}

/// An exact probability `numerator / denominator`, so decisions that drive the
/// simulation never depend on float rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
}

impl Ratio {
    pub const NEVER: Ratio = Ratio {
        numerator: 0,
        denominator: 1,
    };

    pub fn new(numerator: u64, denominator: u64) -> Ratio {
        assert!(
            denominator > 0 && numerator <= denominator,
            "ratio {numerator}/{denominator} is not a probability"
        );
        Ratio {
            numerator,
            denominator,
        }
    }

    /// True with probability numerator / denominator.
    #[inline]
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> bool {
        self.numerator > 0 && below(rng, self.denominator) < self.numerator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let s = RngStreams::new(42);
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(s.stream("client", 0), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(s.stream("client", 0), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(s.stream("client", 1), |r, _| Some(r.next_u64()))
            .collect();
        let d: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(RngStreams::new(43).stream("client", 0), |r, _| {
                Some(r.next_u64())
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn stream_values_are_pinned() {
        // A change here changes every simulated result: it must come with updated
        // snapshots and a commit message saying why.
        let mut r = RngStreams::new(1).stream("pinned", 0);
        let first = r.next_u64();
        let mut r2 = RngStreams::new(1).stream("pinned", 0);
        assert_eq!(first, r2.next_u64());
        assert_eq!(
            exponential(&mut RngStreams::new(1).stream("pinned", 0), 1.0),
            -libm::log(((first >> 11) + 1) as f64 / (1u64 << 53) as f64)
        );
    }

    /// Whatever is peeked in between, a lookahead stream draws what its inner stream
    /// draws, in 32- and 64-bit draws and bytes mixed, across ChaCha's block boundaries
    /// (64 words); a peek shows the draw that follows.
    #[test]
    fn lookahead_draws_what_its_stream_draws() {
        let stream = || RngStreams::new(5).stream("lookahead", 0);
        let mut plain = stream();
        let mut ahead = Lookahead::new(stream());
        let mut pick = RngStreams::new(6).stream("pick", 0);
        for step in 0..5_000 {
            let k = below(&mut pick, Lookahead::<SimRng>::MAX_PEEK as u64 + 1) as usize;
            let peeked = ahead.peek_u64(k);
            if step % 3 == 0 {
                ahead.peek_u64(0);
            }
            match below(&mut pick, 4) {
                0 => assert_eq!(ahead.next_u32(), plain.next_u32(), "step {step}"),
                1 => assert_eq!(ahead.next_u64(), plain.next_u64(), "step {step}"),
                2 => {
                    let len = below(&mut pick, 20) as usize;
                    let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
                    ahead.fill_bytes(&mut a[..len]);
                    plain.fill_bytes(&mut b[..len]);
                    assert_eq!(a, b, "step {step}");
                }
                _ => {
                    let mut again = plain.clone();
                    // k draws of 64 bits, then the peeked one.
                    for _ in 0..k {
                        again.next_u64();
                    }
                    assert_eq!(peeked, again.next_u64(), "step {step}");
                    assert_eq!(below(&mut ahead, 1000), below(&mut plain, 1000));
                }
            }
        }
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut r = RngStreams::new(7).stream("below", 0);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            seen[below(&mut r, 7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800 && c < 1200), "{seen:?}");
    }

    #[test]
    fn exponential_mean_is_close() {
        let mut r = RngStreams::new(9).stream("exp", 0);
        let n = 200_000;
        let mean = (0..n).map(|_| exponential(&mut r, 3.0)).sum::<f64>() / n as f64;
        assert!((mean - 3.0).abs() < 0.03, "{mean}");
    }
}
