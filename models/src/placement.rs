//! Which shard a key lives on, and the exact expected load of every shard. Redis
//! Cluster placement takes the key's CRC16 slot and splits slots into contiguous ranges
//! as `redis-cli --cluster create` does; rank-modulo puts the key of popularity rank r
//! on shard r mod S (the idealized placement of back-of-envelope estimates).
//!
//! Expected loads ([`exact_shard_loads`]) weigh every key index of the workload's range
//! by its key distribution and add it to its shard. Ranges up to
//! [`KEY_BY_KEY_MAX_KEYS`] keys are summed key by key. Over larger ones (memtier takes
//! key ranges up to 2^64 - 2), uniform distributions (R, S, P) are counted exactly
//! whatever the range: residues modulo S in closed form, CRC16 slots by decimal blocks
//! whose slot distribution follows from one CRC (CRC16 is linear; `blocks` explains
//! how), about 360 blocks and 3 million additions.
//!
//! Invariant: every key maps to exactly one shard in [0, shards), and exact loads sum
//! to 1.

mod blocks;
mod residues;

use crate::scenario::resolve::RunConfig;
use crate::scenario::spec::{ClusterMode, Placement};
use crate::workload::generator::format_key;
use crate::workload::{KeyDist, WorkloadConfig};
use store_core::key_hash_slot;

pub const SLOTS: usize = 16_384;

/// Routes keys to shards.
#[derive(Clone, Debug)]
pub struct Router {
    shards: u32,
    placement: Placement,
    /// For CRC16 placement: the shard of each slot.
    slot_owner: Vec<u16>,
}

impl Router {
    pub fn new(config: &RunConfig) -> Router {
        let shards = match config.cluster.mode {
            ClusterMode::Standalone => 1,
            ClusterMode::Cluster => config.cluster.shards,
        };
        Router::with_placement(shards, config.cluster.placement)
    }

    /// A router over `shards` shards (at least 1).
    pub fn with_placement(shards: u32, placement: Placement) -> Router {
        let slot_owner = if placement == Placement::Crc16 {
            slot_owners(shards)
        } else {
            Vec::new()
        };
        Router {
            shards,
            placement,
            slot_owner,
        }
    }

    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// The shard of key `key` whose memtier index is `key_index`.
    #[inline]
    pub fn shard_of(&self, key: &[u8], key_index: u64) -> u32 {
        if self.shards == 1 {
            return 0;
        }
        match self.placement {
            Placement::Crc16 => self.slot_owner[key_hash_slot(key) as usize] as u32,
            Placement::RankModulo => (key_index % self.shards as u64) as u32,
        }
    }

    /// The slots shard `shard` owns (empty for rank-modulo placement).
    pub fn slots_of(&self, shard: u32) -> Vec<u16> {
        (0..SLOTS as u16)
            .filter(|s| self.slot_owner.get(*s as usize) == Some(&(shard as u16)))
            .collect()
    }

    pub fn placement(&self) -> Placement {
        self.placement
    }
}

/// Contiguous slot ranges per master, as redis-cli's clusterManagerCommandCreate:
/// slots_per_node = 16384 / masters (a double); master j gets
/// [first, lround(cursor + slots_per_node - 1)], the last master up to 16383.
pub fn slot_owners(masters: u32) -> Vec<u16> {
    let mut owner = vec![0u16; SLOTS];
    let per_node = SLOTS as f64 / masters as f64;
    let mut first: i64 = 0;
    let mut cursor = 0.0;
    for j in 0..masters {
        let mut last = libm::round(cursor + per_node - 1.0) as i64;
        if last > SLOTS as i64 || j == masters - 1 {
            last = SLOTS as i64 - 1;
        }
        if last < first {
            last = first;
        }
        for s in first..=last.min(SLOTS as i64 - 1) {
            owner[s as usize] = j as u16;
        }
        first = last + 1;
        cursor += per_node;
    }
    owner
}

/// Ranges up to this many keys are summed key by key, as they always were (every bundled
/// scenario's shares stay bit for bit what they were).
pub const KEY_BY_KEY_MAX_KEYS: u64 = 2_000_000;

/// The probability that one request of the workload touches key index `k`, for a key
/// distribution (sequential and parallel walks are uniform over the range in the long
/// run).
fn key_probabilities(w: &WorkloadConfig, dist: KeyDist) -> Box<dyn Fn(u64) -> f64 + '_> {
    let (lo, hi) = (w.key_minimum, w.key_maximum);
    let n = (hi - lo + 1) as f64;
    match dist {
        KeyDist::Sequential | KeyDist::Parallel | KeyDist::Random => Box::new(move |_| 1.0 / n),
        KeyDist::Zipf => {
            // k^-s / H with H summed once (rank r is key index r; index 0 counts as 1,
            // as the generator's sampler does).
            let exp = w.key_zipf_exp;
            let weight = move |k: u64| libm::pow(k.max(1) as f64, -exp);
            let h: f64 = (lo..=hi).rev().map(weight).sum();
            Box::new(move |k| weight(k) / h)
        }
        KeyDist::Gaussian => {
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
            // Redrawn until inside the range: the density renormalized over the range.
            let cdf = move |x: f64| {
                0.5 * (1.0 + libm::erf((x - median) / (stddev * std::f64::consts::SQRT_2)))
            };
            let mass = cdf(hi as f64 + 0.5) - cdf(lo as f64 - 0.5);
            Box::new(move |k| (cdf(k as f64 + 0.5) - cdf(k as f64 - 0.5)) / mass)
        }
    }
}

/// The exact expected share of requests each shard receives, from the key
/// distributions of SETs and GETs weighted by the ratio and the placement.
pub fn exact_shard_loads(config: &RunConfig, router: &Router) -> Vec<f64> {
    let w = &config.clients.workload;
    if router.shards() == 1 {
        return vec![1.0];
    }
    let uniform =
        |d: KeyDist| matches!(d, KeyDist::Random | KeyDist::Sequential | KeyDist::Parallel);
    if w.key_count() > KEY_BY_KEY_MAX_KEYS
        && uniform(w.key_pattern.set)
        && uniform(w.key_pattern.get)
    {
        return uniform_shares(w, router);
    }
    shares_key_by_key(w, router)
}

/// Shares summed over every key of the range: one probability, and for CRC16 placement
/// one formatted and hashed key, per key index.
fn shares_key_by_key(w: &WorkloadConfig, router: &Router) -> Vec<f64> {
    let mut loads = vec![0.0; router.shards() as usize];
    let total = (w.ratio.set + w.ratio.get) as f64;
    let set_weight = w.ratio.set as f64 / total;
    let get_weight = w.ratio.get as f64 / total;
    let p_set = key_probabilities(w, w.key_pattern.set);
    let p_get = key_probabilities(w, w.key_pattern.get);
    let mut key = Vec::with_capacity(w.key_prefix.len() + 20);
    for k in w.key_minimum..=w.key_maximum {
        let p = set_weight * p_set(k) + get_weight * p_get(k);
        let shard = match router.placement() {
            Placement::RankModulo => router.shard_of(&[], k),
            Placement::Crc16 => {
                format_key(&w.key_prefix, k, &mut key);
                router.shard_of(&key, k)
            }
        };
        loads[shard as usize] += p;
    }
    let sum: f64 = loads.iter().sum();
    loads.iter_mut().for_each(|l| *l /= sum);
    loads
}

/// Exact shares of keys uniform over the range: keys per shard over keys. A shard holds
/// at most every key, so u64 sums suffice.
fn uniform_shares(w: &WorkloadConfig, router: &Router) -> Vec<f64> {
    let (lo, hi) = (w.key_minimum, w.key_maximum);
    let shards = router.shards() as usize;
    let counts = match router.placement() {
        Placement::RankModulo => residues::residue_counts(lo, hi, shards as u64),
        Placement::Crc16 => {
            let mut per_shard = vec![0u64; shards];
            for (slot, n) in blocks::slot_counts(&w.key_prefix, lo, hi)
                .iter()
                .enumerate()
            {
                per_shard[router.slot_owner[slot] as usize] += n;
            }
            per_shard
        }
    };
    let keys = w.key_count() as f64;
    counts.iter().map(|&n| n as f64 / keys).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::WorkloadSpec;
    use proptest::prelude::*;

    #[test]
    fn slot_ranges_match_redis_cli() {
        // redis-cli --cluster create with 3 masters: 0-5460, 5461-10922, 10923-16383.
        let o = slot_owners(3);
        assert_eq!(
            (o[0], o[5460], o[5461], o[10922], o[10923], o[16383]),
            (0, 0, 1, 1, 2, 2)
        );
        let o = slot_owners(100);
        assert_eq!(o.iter().filter(|s| **s == 0).count(), 164);
        assert_eq!(o[16383], 99);
    }

    fn workload(pattern: &str, ratio: &str, lo: u64, hi: u64) -> WorkloadConfig {
        WorkloadSpec {
            ratio: Some(ratio.to_string()),
            key_pattern: Some(pattern.to_string()),
            key_minimum: Some(lo),
            key_maximum: Some(hi),
            ..Default::default()
        }
        .resolve()
        .unwrap()
    }

    /// Uniform keys counted by blocks and residues get the key-by-key sums' shares, to
    /// their rounding, for both placements and prefixes with tags.
    #[test]
    fn uniform_shares_match_key_by_key_sums() {
        proptest!(ProptestConfig::with_cases(64), |(
            pattern in prop::sample::select(vec!["R:R", "S:S", "P:P", "R:S"]),
            lo in prop_oneof![0u64..3, 1u64..1_000_000], width in 1_000u64..60_000,
            shards in 2u32..40, crc16 in any::<bool>(),
            prefix in prop::sample::select(vec!["memtier-", "", "k{", "{tag}", "a{}b"]),
        )| {
            let mut w = workload(pattern, "1:10", lo, lo + width);
            w.key_prefix = prefix.to_string();
            let placement = if crc16 { Placement::Crc16 } else { Placement::RankModulo };
            let router = Router::with_placement(shards, placement);
            let reference = shares_key_by_key(&w, &router);
            for (s, (u, r)) in uniform_shares(&w, &router).iter().zip(&reference).enumerate() {
                prop_assert!((u - r).abs() <= 1e-12, "shard {}: counted {} key by key {}", s, u, r);
            }
        });
    }

    const TRILLION: u64 = 1_000_000_000_000;

    /// 10^12 uniform keys over 100 CRC16 shards: exact counts, so each share is within
    /// a whisker of the shard's slot fraction (10^12 keys spread about 6 x 10^7 to a
    /// slot). Over rank-modulo shards, 100 divides the count: exactly 1/100.
    #[test]
    fn a_trillion_uniform_keys() {
        let w = workload("R:R", "1:10", 1, TRILLION);
        let router = Router::with_placement(100, Placement::Crc16);
        let shares = uniform_shares(&w, &router);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        for (shard, share) in shares.iter().enumerate() {
            let slots = router.slots_of(shard as u32).len() as f64 / SLOTS as f64;
            assert!(
                (share - slots).abs() < 1e-5 * slots,
                "shard {shard}: {share} vs {slots}"
            );
        }
        let router = Router::with_placement(100, Placement::RankModulo);
        let shares = uniform_shares(&w, &router);
        assert!(shares.iter().all(|&s| s == 0.01), "{shares:?}");
    }
}
