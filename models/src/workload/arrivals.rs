//! Open-loop arrival schedules: when each connection's next request arrives, whatever
//! the replies are doing (so latency can be measured from the intended send time,
//! free of coordinated omission).
//!
//! The total offered rate is split evenly over every connection of every client host;
//! each connection runs its own schedule from its own RNG stream. Invariant: over any
//! number of gaps the fixed-rate schedule's mean is exact (an integer remainder is
//! carried, no rounding drift), and the Poisson schedule's gaps are exponential with
//! mean connections x 1e9 / rate_rps ns.
//!
//! A connection whose queue is full drops every arrival until a reply frees a slot, so
//! the client skips those arrivals in one step ([`ArrivalGen::skip`]) instead of one
//! event each: an offered rate far above what the cluster serves costs the simulation
//! what is served, not what is offered. Skipping is exact for the fixed-rate schedule
//! and, over a stretch of a few dozen gaps, draws the same gaps one by one as the events
//! would; over a longer stretch it draws the number of arrivals (Poisson) and the gap
//! to the next, which has the same distribution.

use super::{ArrivalProcess, OpenLoop};
use rand::Rng;

#[derive(Clone, Debug)]
pub struct ArrivalGen {
    process: ArrivalProcess,
    /// Mean gap of this connection as the exact fraction `gap_numer_ns / rate_rps`.
    gap_numer_ns: u128,
    rate_rps: u128,
    /// Fixed rate: remainder carried between gaps.
    remainder: u128,
    connection_index: u32,
    connections_total: u32,
}

impl ArrivalGen {
    /// Schedule of connection `connection_index` out of `connections_total` across all
    /// client hosts.
    pub fn new(open_loop: &OpenLoop, connection_index: u32, connections_total: u32) -> ArrivalGen {
        let total = connections_total.max(1);
        ArrivalGen {
            process: open_loop.process,
            gap_numer_ns: 1_000_000_000u128 * u128::from(total),
            rate_rps: u128::from(open_loop.rate_rps.max(1)),
            remainder: 0,
            connection_index: connection_index % total,
            connections_total: total,
        }
    }

    /// This connection's mean gap in nanoseconds (rounded down).
    pub fn mean_gap_ns(&self) -> u64 {
        u64::try_from(self.gap_numer_ns / self.rate_rps).unwrap_or(u64::MAX)
    }

    /// Offset of the first arrival from the start of the run. Fixed rate staggers the
    /// connections evenly over one gap so the aggregate is smooth; Poisson draws a gap.
    pub fn first_arrival_ns<R: Rng + ?Sized>(&mut self, rng: &mut R) -> u64 {
        match self.process {
            ArrivalProcess::FixedRate => {
                let offset = self.gap_numer_ns * u128::from(self.connection_index)
                    / (self.rate_rps * u128::from(self.connections_total));
                u64::try_from(offset).unwrap_or(u64::MAX)
            }
            ArrivalProcess::Poisson => self.next_gap_ns(rng),
        }
    }

    /// Time from one arrival to the next.
    pub fn next_gap_ns<R: Rng + ?Sized>(&mut self, rng: &mut R) -> u64 {
        match self.process {
            ArrivalProcess::FixedRate => {
                self.remainder += self.gap_numer_ns;
                let gap = self.remainder / self.rate_rps;
                self.remainder -= gap * self.rate_rps;
                u64::try_from(gap).unwrap_or(u64::MAX)
            }
            ArrivalProcess::Poisson => {
                // Inverse transform; 1 - U lies in (0, 1], so the log is finite.
                let u: f64 = rng.random();
                let mean = self.gap_numer_ns as f64 / self.rate_rps as f64;
                let gap = -libm::log(1.0 - u) * mean;
                // Float to int casts saturate, so an extreme draw cannot wrap.
                libm::round(gap) as u64
            }
        }
    }
}

/// Skipping draws gaps one by one while a stretch holds at most this many arrivals on
/// average; beyond it, one Poisson count. (The bundled scenarios skip stretches of a
/// few gaps, so their figures are those of one event per arrival.)
const SKIP_GAP_BY_GAP_MAX: u128 = 64;

impl ArrivalGen {
    /// Skips the arrivals at `first_ns` (an arrival already drawn) and after, up to but
    /// excluding `end_ns`, without an event each: returns how many of them fall at or
    /// after `counted_from_ns`, and the time of the first arrival at or after `end_ns`.
    /// Gaps are at least 1 ns, as the client schedules them.
    pub fn skip<R: Rng + ?Sized>(
        &mut self,
        first_ns: u64,
        end_ns: u64,
        counted_from_ns: u64,
        rng: &mut R,
    ) -> (u64, u64) {
        if first_ns >= end_ns {
            return (0, first_ns);
        }
        match self.process {
            ArrivalProcess::FixedRate => self.skip_fixed_rate(first_ns, end_ns, counted_from_ns),
            ArrivalProcess::Poisson => {
                let span = u128::from(end_ns - first_ns);
                if span * self.rate_rps <= SKIP_GAP_BY_GAP_MAX * self.gap_numer_ns {
                    self.skip_gap_by_gap(first_ns, end_ns, counted_from_ns, rng)
                } else {
                    self.skip_poisson_count(first_ns, end_ns, counted_from_ns, rng)
                }
            }
        }
    }

    fn skip_gap_by_gap<R: Rng + ?Sized>(
        &mut self,
        first_ns: u64,
        end_ns: u64,
        counted_from_ns: u64,
        rng: &mut R,
    ) -> (u64, u64) {
        let (mut t, mut counted) = (first_ns, 0);
        while t < end_ns {
            counted += u64::from(t >= counted_from_ns);
            t = t.saturating_add(self.next_gap_ns(rng).max(1));
        }
        (counted, t)
    }

    /// Arrival k after the one at t0 is at t0 + floor((r + k N) / R), with N / R the mean
    /// gap and r the carried remainder, when N >= R (every gap at least 1 ns); below
    /// that, every gap is floored to 1 ns.
    fn skip_fixed_rate(&mut self, first_ns: u64, end_ns: u64, counted_from_ns: u64) -> (u64, u64) {
        let (n, r, r0) = (self.gap_numer_ns, self.rate_rps, self.remainder);
        // Arrivals in [first, limit): those with r0 + k N < (limit - first) R.
        let before = |limit: u64| -> u128 {
            if limit <= first_ns {
                return 0;
            }
            let span = u128::from(limit - first_ns);
            if n < r {
                return span;
            }
            (span * r - r0).div_ceil(n)
        };
        let total = before(end_ns);
        let counted = total - before(counted_from_ns.min(end_ns));
        let next = if n < r {
            // The remainder no longer matters: every gap from here on is 1 ns.
            u128::from(first_ns) + total
        } else {
            let advanced = r0 + total * n;
            self.remainder = advanced % r;
            u128::from(first_ns) + advanced / r
        };
        (
            u64::try_from(counted).unwrap_or(u64::MAX),
            u64::try_from(next).unwrap_or(u64::MAX),
        )
    }

    /// A Poisson process's arrivals in an interval are a Poisson count, and the time to
    /// the next after it is exponential, whatever happened before (memorylessness).
    fn skip_poisson_count<R: Rng + ?Sized>(
        &mut self,
        first_ns: u64,
        end_ns: u64,
        counted_from_ns: u64,
        rng: &mut R,
    ) -> (u64, u64) {
        // The client floors gaps at 1 ns, so no schedule arrives more often than that.
        let mean_gap_ns = (self.gap_numer_ns as f64 / self.rate_rps as f64).max(1.0);
        let from = counted_from_ns.max(first_ns);
        let mut counted = u64::from(first_ns >= counted_from_ns);
        if from < end_ns {
            // The arrivals after `first` (counted above) in the counted part.
            let span_ns = (end_ns - from) as f64;
            counted = counted.saturating_add(poisson(span_ns / mean_gap_ns, rng));
        }
        let u: f64 = rng.random();
        let gap = libm::round(-libm::log(1.0 - u) * mean_gap_ns) as u64;
        (counted, (end_ns - 1).saturating_add(gap.max(1)))
    }
}

/// A Poisson(mean) draw: inversion by sequential search below a mean of 10, Hörmann's
/// transformed rejection with squeeze (PTRS; "The transformed rejection method for
/// generating Poisson random variables", Insurance: Mathematics and Economics 12, 1993)
/// above. Math through libm, so draws are the same on every platform.
fn poisson<R: Rng + ?Sized>(mean: f64, rng: &mut R) -> u64 {
    // Not positive, or NaN: no arrivals.
    if mean.is_nan() || mean <= 0.0 {
        return 0;
    }
    if mean < 10.0 {
        let mut p = libm::exp(-mean);
        let mut cumulative = p;
        let u: f64 = rng.random();
        let mut k = 0u64;
        while u > cumulative && k < 1_000 {
            k += 1;
            p *= mean / k as f64;
            cumulative += p;
        }
        return k;
    }
    let smu = libm::sqrt(mean);
    let b = 0.931 + 2.53 * smu;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    let log_mean = libm::log(mean);
    loop {
        let u = rng.random::<f64>() - 0.5;
        let v: f64 = rng.random();
        let us = 0.5 - u.abs();
        if us <= 0.0 {
            continue;
        }
        let k = libm::floor((2.0 * a / us + b) * u + mean + 0.43);
        if us >= 0.07 && v <= vr {
            return k as u64;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if libm::log(v) + libm::log(inv_alpha) - libm::log(a / (us * us) + b)
            <= -mean + k * log_mean - libm::lgamma(k + 1.0)
        {
            // Float to int casts saturate.
            return k as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn open(process: ArrivalProcess, rate_rps: u64) -> OpenLoop {
        OpenLoop {
            process,
            rate_rps,
            queue_depth: 10,
        }
    }

    #[test]
    fn fixed_rate_mean_is_exact() {
        // 3 connections sharing 7 rps: each gap is 3/7 s on average.
        let mut a = ArrivalGen::new(&open(ArrivalProcess::FixedRate, 7), 0, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let total: u64 = (0..7).map(|_| a.next_gap_ns(&mut rng)).sum();
        assert_eq!(total, 3_000_000_000);
    }

    #[test]
    fn fixed_rate_staggers_connections() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let firsts: Vec<u64> = (0..4)
            .map(|i| {
                ArrivalGen::new(&open(ArrivalProcess::FixedRate, 4_000), i, 4)
                    .first_arrival_ns(&mut rng)
            })
            .collect();
        // Each connection's gap is 1 ms; offsets split it in four.
        assert_eq!(firsts, vec![0, 250_000, 500_000, 750_000]);
    }

    #[test]
    fn poisson_mean_gap() {
        let mut a = ArrivalGen::new(&open(ArrivalProcess::Poisson, 1_000), 0, 10);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 100_000u64;
        let total: u64 = (0..n).map(|_| a.next_gap_ns(&mut rng)).sum();
        let mean = total as f64 / n as f64;
        // Mean 10 ms; the standard error of the mean is 10 ms / sqrt(n) = 31.6 us.
        assert!((mean - 10_000_000.0).abs() < 5.0 * 31_623.0, "{mean}");
        assert_eq!(a.mean_gap_ns(), 10_000_000);
    }

    /// Skips by stepping through the gaps as the client's events would.
    fn stepped(a: &mut ArrivalGen, first: u64, end: u64, from: u64) -> (u64, u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (mut t, mut counted) = (first, 0);
        while t < end {
            counted += u64::from(t >= from);
            t += a.next_gap_ns(&mut rng).max(1);
        }
        (counted, t)
    }

    /// The fixed-rate skip is exact: the same count and the same next arrival (and
    /// carried remainder) as stepping gap by gap, whatever the stretch, the counted
    /// window and the rate, including rates with gaps under 1 ns.
    #[test]
    fn fixed_rate_skip_equals_stepping() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (rate, conns) in [
            (7u64, 3u32),
            (5_000, 20),
            (3_000_000_000, 1),
            (999_999_937, 1),
        ] {
            for (first, end, from) in [
                (0u64, 10_000_000_000u64, 0u64),
                (123, 4_000_000_017, 2_000_000_000),
                (5, 6, 0),
                (1_000, 1_000_000, 999_999),
            ] {
                let mut skipped = ArrivalGen::new(&open(ArrivalProcess::FixedRate, rate), 1, conns);
                // Stepping costs a gap per arrival: keep to stretches of at most 10^7.
                if u128::from(end - first) * u128::from(rate)
                    > 10_000_000 * 1_000_000_000 * u128::from(conns)
                {
                    continue;
                }
                let mut stepping = skipped.clone();
                // Some carried remainder first.
                for _ in 0..3 {
                    skipped.next_gap_ns(&mut rng);
                    stepping.next_gap_ns(&mut rng);
                }
                let got = skipped.skip(first, end, from, &mut rng);
                let want = stepped(&mut stepping, first, end, from);
                assert_eq!(
                    got, want,
                    "rate {rate}, {conns} conns, [{first}, {end}) from {from}"
                );
                if 1_000_000_000 * u64::from(conns) >= rate {
                    assert_eq!(skipped.remainder, stepping.remainder);
                }
            }
        }
    }

    /// A short Poisson stretch draws the same gaps as stepping (the same stream gives
    /// the same figures as one event per arrival).
    #[test]
    fn short_poisson_skip_equals_stepping() {
        let gen = ArrivalGen::new(&open(ArrivalProcess::Poisson, 40), 0, 1);
        // 25 ms mean gap: a 1 s stretch holds 40 on average, under the step-by-step bound.
        let (mut a, mut b) = (gen.clone(), gen);
        let got = a.skip(
            10,
            1_000_000_010,
            500_000_000,
            &mut ChaCha8Rng::seed_from_u64(0),
        );
        assert_eq!(got, stepped(&mut b, 10, 1_000_000_010, 500_000_000));
    }

    /// A long Poisson stretch counts, on average, rate x counted time arrivals (plus the
    /// one at its start), and the next arrival falls after the stretch.
    #[test]
    fn long_poisson_skip_counts_rate_times_time() {
        let mut a = ArrivalGen::new(&open(ArrivalProcess::Poisson, 1_000_000), 0, 10);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let n = 2_000;
        let mut total = 0u64;
        for _ in 0..n {
            // 100,000 rps per connection over 1 s, 0.5 s of it counted: 50,000 + 1.
            let (counted, next) = a.skip(0, 1_000_000_000, 500_000_000, &mut rng);
            assert!(next >= 1_000_000_000);
            total += counted;
        }
        let mean = total as f64 / n as f64;
        // Standard error of the mean: sqrt(50,000 / 2,000) = 5.
        assert!((mean - 50_000.0).abs() < 25.0, "{mean}");
    }

    /// Poisson draws have the mean and variance of the distribution, below and above
    /// the switch between the two methods.
    #[test]
    fn poisson_draws_have_mean_and_variance_lambda() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for lambda in [0.5, 3.0, 9.9, 10.0, 57.0, 1e6] {
            let n = 40_000;
            let draws: Vec<f64> = (0..n).map(|_| poisson(lambda, &mut rng) as f64).collect();
            let mean = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / n as f64;
            // Standard errors: of the mean sqrt(l / n), of the variance about l sqrt(2 / n).
            let se_mean = (lambda / n as f64).sqrt();
            assert!(
                (mean - lambda).abs() < 5.0 * se_mean,
                "lambda {lambda}: mean {mean}"
            );
            assert!(
                (var - lambda).abs() < 0.05 * lambda + 0.05,
                "lambda {lambda}: variance {var}"
            );
        }
        assert_eq!(poisson(0.0, &mut rng), 0);
    }
}
