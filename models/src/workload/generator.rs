//! The per-connection request generator, a port of memtier_benchmark's request choice
//! (client.cpp `create_request`, obj_gen.cpp `get_key_index`, `get_value`, `get_expiry`)
//! onto a caller-supplied seeded RNG.
//!
//! Invariant: [`WorkloadGen::next`] is a pure function of the generator's state and the
//! RNG: the same config, connection index and RNG stream give the same operations on
//! every platform. Every key index it returns lies inside the connection's key range.
//!
//! Where memtier differs, on purpose:
//! - memtier seeds every connection's generator with the same constant unless
//!   --distinct-client-seed; here each connection draws from the stream the caller hands
//!   it (one per connection, derived from the scenario seed), so R/G/Z keys differ per
//!   connection as with --distinct-client-seed.
//! - Uniform draws use an unbiased range sampler instead of memtier's `random() % n`.
//! - memtier's P split can hand a connection a range past key_maximum when there are
//!   more connections than keys, and its Gaussian can return key_maximum + 1 on an
//!   exact edge; both are clamped into the range here.

use super::{zipf, DataSize, KeyDist, RateLimit, Ratio, WorkloadConfig};
use rand::Rng;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Set,
    Get,
}

/// One request to issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    pub kind: OpKind,
    /// The key is `key_prefix` followed by this index in decimal (see [`format_key`]).
    pub key_index: u64,
    /// Value bytes of a SET; 0 for a GET.
    pub value_len: u32,
    /// TTL in seconds for a SET (memtier --expiry-range); 0 means none.
    pub expiry_s: u32,
}

/// Request generator for one connection.
#[derive(Clone, Debug)]
pub struct WorkloadGen {
    ratio: Ratio,
    set_dist: KeyDist,
    get_dist: KeyDist,
    /// This connection's key range (narrowed for P, the whole range otherwise).
    key_min: u64,
    key_max: u64,
    key_stddev: f64,
    key_median: f64,
    /// Shared by every connection of a workload (see [`WorkloadConfig::generators`]).
    zipf: Option<Arc<zipf::KeyZipf>>,
    data_size: DataSize,
    /// Round-robin position in a weighted size list: entry and values served from it.
    weighted_entry: usize,
    weighted_served: u32,
    expiry_range_s: Option<(u32, u32)>,
    /// Position in the SET:GET cycle.
    sets_in_cycle: u32,
    gets_in_cycle: u32,
    /// Next key of the sequential (S/P) iterators; SET and GET each have their own.
    next_set_key: u64,
    next_get_key: u64,
    /// Second value of the last Marsaglia polar pair (memtier keeps it for the next draw).
    gaussian_spare: Option<f64>,
}

impl WorkloadGen {
    /// Generator for connection `connection_index` (0-based) out of `connections`
    /// (memtier: clients x threads of one process; P splits the key range among them).
    ///
    /// Uses the config's Zipf sampler, built once on first use and shared by every
    /// generator made from the config or its clones.
    pub fn new(config: &WorkloadConfig, connection_index: u32, connections: u32) -> WorkloadGen {
        WorkloadGen::with_zipf(config, connection_index, connections, config.zipf_sampler())
    }

    /// As [`WorkloadGen::new`] with a sampler from [`WorkloadConfig::zipf_sampler`].
    pub fn with_zipf(
        config: &WorkloadConfig,
        connection_index: u32,
        connections: u32,
        zipf: Option<Arc<zipf::KeyZipf>>,
    ) -> WorkloadGen {
        let (mut key_min, mut key_max) = (config.key_minimum, config.key_maximum);
        if config.key_pattern.set == KeyDist::Parallel {
            // client.cpp setup_client: range = (max - min) / total + 1; the last
            // connection takes the leftover.
            let total = u64::from(connections.max(1));
            let index = u64::from(connection_index) % total;
            let range = (config.key_maximum - config.key_minimum) / total + 1;
            let lo = config
                .key_minimum
                .saturating_add(range.saturating_mul(index));
            let hi = if index == total - 1 {
                config.key_maximum
            } else {
                lo.saturating_add(range - 1)
            };
            key_min = lo.min(config.key_maximum);
            key_max = hi.min(config.key_maximum);
        }
        WorkloadGen {
            ratio: config.ratio,
            set_dist: config.key_pattern.set,
            get_dist: config.key_pattern.get,
            key_min,
            key_max,
            key_stddev: config.key_stddev,
            key_median: config.key_median,
            zipf,
            data_size: config.data_size.clone(),
            weighted_entry: 0,
            weighted_served: 0,
            expiry_range_s: config.expiry_range_s,
            sets_in_cycle: 0,
            gets_in_cycle: 0,
            next_set_key: key_min,
            next_get_key: key_min,
            gaussian_spare: None,
        }
    }

    /// This connection's key range (inclusive).
    pub fn key_range(&self) -> (u64, u64) {
        (self.key_min, self.key_max)
    }

    /// The next request: `ratio.set` SETs, then `ratio.get` GETs, repeated. For a SET the
    /// draws are key, then size, then expiry, in memtier's order.
    pub fn next<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Op {
        // The config invariant (ratio not 0:0) bounds this loop to two rounds.
        loop {
            if self.sets_in_cycle < self.ratio.set {
                self.sets_in_cycle += 1;
                let key_index = self.key_index(self.set_dist, true, rng);
                let value_len = self.value_len(key_index, rng);
                let expiry_s = match self.expiry_range_s {
                    Some((lo, hi)) => rng.random_range(lo..=hi),
                    None => 0,
                };
                return Op {
                    kind: OpKind::Set,
                    key_index,
                    value_len,
                    expiry_s,
                };
            }
            if self.gets_in_cycle < self.ratio.get {
                self.gets_in_cycle += 1;
                let key_index = self.key_index(self.get_dist, false, rng);
                return Op {
                    kind: OpKind::Get,
                    key_index,
                    value_len: 0,
                    expiry_s: 0,
                };
            }
            self.sets_in_cycle = 0;
            self.gets_in_cycle = 0;
        }
    }

    /// Writes this connection's key for `key_index` into `buf` (cleared first).
    pub fn key_into(&self, prefix: &str, key_index: u64, buf: &mut Vec<u8>) {
        format_key(prefix, key_index, buf);
    }

    fn key_index<R: Rng + ?Sized>(&mut self, dist: KeyDist, is_set: bool, rng: &mut R) -> u64 {
        match dist {
            KeyDist::Random => rng.random_range(self.key_min..=self.key_max),
            KeyDist::Gaussian => self.gaussian_key(rng),
            KeyDist::Zipf => match &self.zipf {
                Some(z) => zipf::draw(z, rng),
                // Unreachable by construction (a Z pattern always builds a sampler).
                None => self.key_min,
            },
            KeyDist::Sequential | KeyDist::Parallel => {
                let next = if is_set {
                    &mut self.next_set_key
                } else {
                    &mut self.next_get_key
                };
                let k = *next;
                *next = if k >= self.key_max {
                    self.key_min
                } else {
                    k + 1
                };
                k
            }
        }
    }

    /// obj_gen.cpp `gaussian_distribution_range`: median defaults to the centre (plus
    /// 0.5), stddev to range / 6; redraw until inside [min, max + 1], truncate.
    fn gaussian_key<R: Rng + ?Sized>(&mut self, rng: &mut R) -> u64 {
        if self.key_min == self.key_max {
            return self.key_min;
        }
        let (minf, maxf) = (self.key_min as f64, self.key_max as f64);
        let len = (self.key_max - self.key_min) as f64;
        let median = if self.key_median == 0.0 {
            len / 2.0 + minf + 0.5
        } else {
            self.key_median
        };
        let stddev = if self.key_stddev == 0.0 {
            len / 6.0
        } else {
            self.key_stddev
        };
        // Each round lands inside with probability > 0.3 for any median inside the range
        // (validated), so 1,000 rounds failing is impossible in practice; the median is
        // the fallback that keeps the bound explicit.
        for _ in 0..1_000 {
            let val = self.gaussian(stddev, rng) + median;
            if !(val < minf || val > maxf + 1.0) {
                return (val as u64).clamp(self.key_min, self.key_max);
            }
        }
        (median as u64).clamp(self.key_min, self.key_max)
    }

    /// Marsaglia polar method, keeping the spare as memtier does.
    fn gaussian<R: Rng + ?Sized>(&mut self, stddev: f64, rng: &mut R) -> f64 {
        if let Some(spare) = self.gaussian_spare.take() {
            return stddev * spare;
        }
        loop {
            let u = rng.random::<f64>() * 2.0 - 1.0;
            let v = rng.random::<f64>() * 2.0 - 1.0;
            let s = u * u + v * v;
            if s < 1.0 && s != 0.0 {
                let m = libm::sqrt(-2.0 * libm::log(s) / s);
                self.gaussian_spare = Some(v * m);
                return stddev * u * m;
            }
        }
    }

    fn value_len<R: Rng + ?Sized>(&mut self, key_index: u64, rng: &mut R) -> u32 {
        match &self.data_size {
            DataSize::Fixed(s) => *s,
            DataSize::Range {
                min,
                max,
                spread_over_keys: true,
            } => {
                // --data-size-pattern=S: size grows linearly with the key index.
                let span = (self.key_max - self.key_min) as f64;
                let a = if span == 0.0 {
                    0.0
                } else {
                    (key_index - self.key_min) as f64 / span
                };
                ((f64::from(*max - *min)) * a + f64::from(*min)) as u32
            }
            DataSize::Range {
                min,
                max,
                spread_over_keys: false,
            } => rng.random_range((*min).max(1)..=*max),
            DataSize::Weighted(list) => {
                // config_weight_list::get_next_size: skip entries whose weight is used up
                // (weight 0 entries immediately); the positive total weight bounds this.
                while self.weighted_served >= list[self.weighted_entry].1 {
                    self.weighted_entry = (self.weighted_entry + 1) % list.len();
                    self.weighted_served = 0;
                }
                self.weighted_served += 1;
                list[self.weighted_entry].0
            }
        }
    }
}

/// Writes `prefix` followed by `index` in decimal into `buf`, reusing its allocation.
pub fn format_key(prefix: &str, index: u64, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(prefix.as_bytes());
    buf.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
}

/// memtier's rate limiting for one connection: a budget of `requests_per_interval`,
/// reset (not accumulated) every `interval_ns` by a timer the world schedules from the
/// moment the connection is established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateBudget {
    limit: RateLimit,
    remaining: u32,
}

impl RateBudget {
    /// A full budget, as at connect time.
    pub fn new(limit: RateLimit) -> RateBudget {
        RateBudget {
            limit,
            remaining: limit.requests_per_interval,
        }
    }

    /// Takes one request's allowance; false means wait for the next tick.
    pub fn try_take(&mut self) -> bool {
        if self.remaining == 0 {
            return false;
        }
        self.remaining -= 1;
        true
    }

    /// The timer fired: the budget is reset to a full interval's worth.
    pub fn on_tick(&mut self) {
        self.remaining = self.limit.requests_per_interval;
    }

    pub fn interval_ns(&self) -> u64 {
        self.limit.interval_ns
    }

    pub fn remaining(&self) -> u32 {
        self.remaining
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::WorkloadSpec;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn config(f: impl FnOnce(&mut WorkloadSpec)) -> WorkloadConfig {
        let mut s = WorkloadSpec::default();
        f(&mut s);
        s.resolve().unwrap()
    }

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(42)
    }

    #[test]
    fn ratio_sequence_is_sets_then_gets() {
        let c = config(|s| s.ratio = Some("2:3".into()));
        let mut g = c.generator(0);
        let mut r = rng();
        let kinds: Vec<OpKind> = (0..10).map(|_| g.next(&mut r).kind).collect();
        use OpKind::*;
        assert_eq!(
            kinds,
            vec![Set, Set, Get, Get, Get, Set, Set, Get, Get, Get]
        );
    }

    #[test]
    fn get_only_and_set_only_ratios() {
        let mut r = rng();
        let mut g = config(|s| s.ratio = Some("0:1".into())).generator(0);
        assert!((0..5).all(|_| g.next(&mut r).kind == OpKind::Get));
        let mut g = config(|s| s.ratio = Some("1:0".into())).generator(0);
        assert!((0..5).all(|_| g.next(&mut r).kind == OpKind::Set));
    }

    #[test]
    fn sequential_walks_the_whole_range_per_connection_and_wraps() {
        let c = config(|s| {
            s.ratio = Some("1:0".into());
            s.key_pattern = Some("S:S".into());
            s.key_minimum = Some(3);
            s.key_maximum = Some(6);
        });
        let mut r = rng();
        for conn in [0, 7] {
            let mut g = c.generator(conn);
            let keys: Vec<u64> = (0..6).map(|_| g.next(&mut r).key_index).collect();
            assert_eq!(keys, vec![3, 4, 5, 6, 3, 4], "connection {conn}");
        }
    }

    #[test]
    fn set_and_get_sequences_are_separate() {
        let c = config(|s| {
            s.ratio = Some("1:1".into());
            s.key_pattern = Some("S:S".into());
            s.key_minimum = Some(1);
            s.key_maximum = Some(100);
        });
        let mut g = c.generator(0);
        let mut r = rng();
        let keys: Vec<u64> = (0..6).map(|_| g.next(&mut r).key_index).collect();
        assert_eq!(keys, vec![1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn parallel_splits_the_range_as_memtier() {
        // key 0..=99, 8 connections: range = 99/8 + 1 = 13; conn 1 = 13..=25; last = 91..=99.
        let c = config(|s| {
            s.key_pattern = Some("P:P".into());
            s.key_minimum = Some(0);
            s.key_maximum = Some(99);
            s.clients = Some(4);
            s.threads = Some(2);
        });
        assert_eq!(c.generator(0).key_range(), (0, 12));
        assert_eq!(c.generator(1).key_range(), (13, 25));
        assert_eq!(c.generator(7).key_range(), (91, 99));
        let mut g = c.generator(1);
        let mut r = rng();
        let keys: Vec<u64> = (0..14).map(|_| g.next(&mut r).key_index).collect();
        assert!(keys.iter().all(|k| (13..=25).contains(k)));
    }

    #[test]
    fn parallel_with_more_connections_than_keys_stays_in_range() {
        let c = config(|s| {
            s.key_pattern = Some("P:P".into());
            s.key_minimum = Some(0);
            s.key_maximum = Some(9);
        });
        let mut r = rng();
        for conn in 0..200 {
            let mut g = c.generator(conn);
            assert!(g.next(&mut r).key_index <= 9);
        }
    }

    #[test]
    fn random_is_uniform_over_the_range() {
        let c = config(|s| {
            s.ratio = Some("0:1".into());
            s.key_minimum = Some(10);
            s.key_maximum = Some(19);
        });
        let mut g = c.generator(0);
        let mut r = rng();
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            let k = g.next(&mut r).key_index;
            counts[(k - 10) as usize] += 1;
        }
        // Expected 10,000 each; the binomial standard deviation is 95, 5 of them 475.
        assert!(
            counts.iter().all(|c| c.abs_diff(10_000) < 475),
            "{counts:?}"
        );
    }

    #[test]
    fn gaussian_defaults_centre_and_range_over_six() {
        let c = config(|s| {
            s.ratio = Some("0:1".into());
            s.key_pattern = Some("G:G".into());
            s.key_minimum = Some(0);
            s.key_maximum = Some(60_000);
        });
        let mut g = c.generator(0);
        let mut r = rng();
        let n = 100_000;
        let keys: Vec<f64> = (0..n).map(|_| g.next(&mut r).key_index as f64).collect();
        let mean = keys.iter().sum::<f64>() / n as f64;
        let var = keys.iter().map(|k| (k - mean) * (k - mean)).sum::<f64>() / n as f64;
        // memtier: median = len/2 + min + 0.5 = 30,000.5, stddev = len/6 = 10,000
        // (truncation lowers the mean by 0.5; the 3-sigma cut shrinks stddev ~1.3%).
        assert!((mean - 30_000.0).abs() < 100.0, "mean {mean}");
        assert!(
            (var.sqrt() - 9_866.0).abs() < 150.0,
            "stddev {}",
            var.sqrt()
        );
        assert!(keys.iter().all(|k| *k <= 60_000.0));
    }

    #[test]
    fn gaussian_honours_median_and_stddev() {
        let c = config(|s| {
            s.ratio = Some("0:1".into());
            s.key_pattern = Some("G:G".into());
            s.key_minimum = Some(0);
            s.key_maximum = Some(1_000_000);
            s.key_median = Some(200_000.0);
            s.key_stddev = Some(1_000.0);
        });
        let mut g = c.generator(0);
        let mut r = rng();
        let n = 20_000;
        let mean = (0..n).map(|_| g.next(&mut r).key_index as f64).sum::<f64>() / n as f64;
        assert!((mean - 199_999.5).abs() < 30.0, "mean {mean}");
    }

    #[test]
    fn zipf_rank_is_key_index() {
        let c = config(|s| {
            s.ratio = Some("0:1".into());
            s.key_pattern = Some("Z:Z".into());
            s.key_minimum = Some(0);
            s.key_maximum = Some(1_000);
            s.key_zipf_exp = Some(1.0);
        });
        let mut g = c.generator(0);
        let mut r = rng();
        let mut ones = 0;
        let n = 100_000;
        for _ in 0..n {
            let k = g.next(&mut r).key_index;
            assert!((1..=1_000).contains(&k));
            ones += u32::from(k == 1);
        }
        let p1 = zipf::pmf(1, 1_000, 1.0, 1);
        assert!(
            (f64::from(ones) / n as f64 - p1).abs() < 0.005,
            "{ones} vs {p1}"
        );
    }

    #[test]
    fn generators_cover_every_connection_and_share_the_zipf_sampler() {
        let c = config(|s| {
            s.key_pattern = Some("Z:Z".into());
            s.key_maximum = Some(1_000);
            s.clients = Some(3);
            s.threads = Some(2);
        });
        let gens = c.generators();
        assert_eq!(gens.len(), 6);
        let one = c.clone().generator(2);
        assert!(Arc::ptr_eq(
            gens[0].zipf.as_ref().unwrap(),
            one.zipf.as_ref().unwrap()
        ));
        let (a, b) = (
            gens[0].zipf.as_ref().unwrap(),
            gens[5].zipf.as_ref().unwrap(),
        );
        assert!(Arc::ptr_eq(a, b));
    }

    #[test]
    fn data_size_range_random_and_spread() {
        let mut r = rng();
        let c = config(|s| {
            s.ratio = Some("1:0".into());
            s.data_size_range = Some("100-200".into());
        });
        let mut g = c.generator(0);
        assert!((0..1000).all(|_| (100..=200).contains(&g.next(&mut r).value_len)));
        let c = config(|s| {
            s.ratio = Some("1:0".into());
            s.key_pattern = Some("S:S".into());
            s.key_minimum = Some(0);
            s.key_maximum = Some(10);
            s.data_size_range = Some("100-200".into());
            s.data_size_pattern = Some("S".into());
        });
        let mut g = c.generator(0);
        let sizes: Vec<u32> = (0..11).map(|_| g.next(&mut r).value_len).collect();
        assert_eq!(
            sizes,
            vec![100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200]
        );
    }

    #[test]
    fn weighted_list_is_round_robin_by_weight() {
        let c = config(|s| {
            s.ratio = Some("1:0".into());
            s.data_size_list = Some("10:2,20:0,30:1".into());
        });
        let mut g = c.generator(0);
        let mut r = rng();
        let sizes: Vec<u32> = (0..7).map(|_| g.next(&mut r).value_len).collect();
        assert_eq!(sizes, vec![10, 10, 30, 10, 10, 30, 10]);
    }

    #[test]
    fn expiry_only_on_sets_and_in_range() {
        let c = config(|s| {
            s.ratio = Some("1:1".into());
            s.expiry_range = Some("5-9".into());
        });
        let mut g = c.generator(0);
        let mut r = rng();
        for _ in 0..100 {
            let op = g.next(&mut r);
            match op.kind {
                OpKind::Set => assert!((5..=9).contains(&op.expiry_s)),
                OpKind::Get => assert_eq!((op.expiry_s, op.value_len), (0, 0)),
            }
        }
    }

    #[test]
    fn same_seed_same_operations() {
        let c = WorkloadSpec::default().resolve().unwrap();
        let run = || {
            let mut g = c.generator(3);
            let mut r = rng();
            (0..1000).map(|_| g.next(&mut r)).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn key_formatting_reuses_the_buffer() {
        let mut buf = Vec::with_capacity(32);
        format_key("memtier-", 0, &mut buf);
        assert_eq!(buf, b"memtier-0");
        format_key("memtier-", 18_446_744_073_709_551_615, &mut buf);
        assert_eq!(buf, b"memtier-18446744073709551615");
        format_key("k", 1234, &mut buf);
        assert_eq!(buf, b"k1234");
    }

    #[test]
    fn rate_budget_resets_without_carrying_over() {
        let mut b = RateBudget::new(RateLimit::from_rate(100));
        assert!(b.try_take() && b.try_take());
        assert!(!b.try_take());
        b.on_tick();
        assert_eq!(b.remaining(), 2);
        b.on_tick();
        assert_eq!(b.remaining(), 2);
        assert_eq!(b.interval_ns(), 20_000_000);
    }
}
