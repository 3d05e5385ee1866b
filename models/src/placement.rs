//! Which shard a key lives on, and the exact expected load of every shard. Redis
//! Cluster placement takes the key's CRC16 slot and splits slots into contiguous ranges
//! as `redis-cli --cluster create` does; rank-modulo puts the key of popularity rank r
//! on shard r mod S (the idealized placement of back-of-envelope estimates). Invariant:
//! every key maps to exactly one shard in [0, shards), and exact loads sum to 1.

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
        let placement = config.cluster.placement;
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
                (lo + hi) as f64 / 2.0
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
    let shards = router.shards() as usize;
    let mut loads = vec![0.0; shards];
    if shards == 1 {
        loads[0] = 1.0;
        return loads;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
