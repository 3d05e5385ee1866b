//! Open-loop arrival schedules: when each connection's next request arrives, whatever
//! the replies are doing (so latency can be measured from the intended send time,
//! free of coordinated omission).
//!
//! The total offered rate is split evenly over every connection of every client host;
//! each connection runs its own schedule from its own RNG stream. Invariant: over any
//! number of gaps the fixed-rate schedule's mean is exact (an integer remainder is
//! carried, no rounding drift), and the Poisson schedule's gaps are exponential with
//! mean connections x 1e9 / rate_rps ns.

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
}
