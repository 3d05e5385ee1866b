//! Which shard a key lives on, and the expected share of requests of every shard. Redis
//! Cluster placement takes the key's CRC16 slot and splits slots into contiguous ranges
//! as `redis-cli --cluster create` does; rank-modulo puts the key of popularity rank r
//! on shard r mod S (the idealized placement of back-of-envelope estimates).
//!
//! Expected shares ([`exact_shard_loads`]) weigh every key index of the workload's range
//! by its key distribution and add it to its shard. Ranges up to
//! [`KEY_BY_KEY_MAX_KEYS`] keys are summed key by key. Larger ones (memtier takes key
//! ranges up to 2^64 - 2) in work bounded whatever the range:
//! - uniform distributions (R, S, P) are counted exactly: residues modulo S in closed
//!   form, CRC16 slots by decimal blocks whose slot distribution follows from one CRC
//!   (CRC16 is linear; `blocks` explains how), about 360 blocks and 3 million
//!   additions for any range;
//! - Zipf and Gaussian weights are taken as chords over aligned decimal blocks, each as
//!   wide as a chord error within a tolerance allows (`weights`), about a million
//!   blocks for 10^12 keys; each key's error is bounded, the bounds follow the keys to
//!   their shards, and the result carries the largest share error they allow.
//!
//! Invariant: every key maps to exactly one shard in [0, shards); shares sum to 1, and
//! each is within the returned `error_bound` of the exact expected share (0 for the
//! key-by-key sums and the uniform counts, up to floating-point rounding).

mod blocks;
mod residues;
mod weights;

use crate::scenario::resolve::RunConfig;
use crate::scenario::spec::{ClusterMode, Placement};
use crate::workload::generator::format_key;
use crate::workload::{KeyDist, WorkloadConfig};
use blocks::{CrcBlocks, SlotWeights};
use residues::ResidueWeights;
use store_core::key_hash_slot;
use weights::{KeyWeights, Piece, Tolerance, TOLERANCE};

pub const SLOTS: usize = 16_384;

#[cfg(test)]
thread_local! {
    /// Keys placed through [`Router::shard_of`] on this thread (tests count the
    /// hashing a world build does).
    pub(crate) static SHARD_OF_CALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

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
        #[cfg(test)]
        SHARD_OF_CALLS.with(|c| c.set(c.get() + 1));
        self.route(key, key_index).0
    }

    /// The shard of a key, and its hash slot when routing computed it (CRC16 placement
    /// over several shards).
    #[inline]
    pub fn route(&self, key: &[u8], key_index: u64) -> (u32, Option<u16>) {
        if self.shards == 1 {
            return (0, None);
        }
        match self.placement {
            Placement::Crc16 => {
                let slot = key_hash_slot(key);
                (self.slot_owner[slot as usize] as u32, Some(slot))
            }
            Placement::RankModulo => ((key_index % self.shards as u64) as u32, None),
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

/// The expected share of requests of every shard, and a bound on the error of each.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardLoads {
    /// Per shard, summing to 1.
    pub shares: Vec<f64>,
    /// For any shard, |share - the true expected share| is at most this: 0 where the
    /// shares are summed key by key or counted in closed form (floating-point rounding
    /// of those sums and divisions aside); otherwise the bound of the chord pieces
    /// (Zipf and Gaussian over more than [`KEY_BY_KEY_MAX_KEYS`] keys), rounding included.
    pub error_bound: f64,
}

/// Ranges up to this many keys are summed key by key, as they always were (every bundled
/// scenario's shares stay bit for bit what they were); larger ones take bounded work.
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
            let (median, stddev) = weights::gaussian_parameters(w);
            // Redrawn until inside the range: the density renormalized over the range.
            let cdf = move |x: f64| {
                0.5 * (1.0 + libm::erf((x - median) / (stddev * std::f64::consts::SQRT_2)))
            };
            let mass = cdf(hi as f64 + 0.5) - cdf(lo as f64 - 0.5);
            Box::new(move |k| (cdf(k as f64 + 0.5) - cdf(k as f64 - 0.5)) / mass)
        }
    }
}

/// The expected share of requests each shard receives, from the key distributions of
/// SETs and GETs weighted by the ratio and the placement, with its error bound. The work
/// is bounded whatever the key range: see the module documentation.
pub fn exact_shard_loads(config: &RunConfig, router: &Router) -> ShardLoads {
    let w = &config.clients.workload;
    if router.shards() == 1 {
        return ShardLoads {
            shares: vec![1.0],
            error_bound: 0.0,
        };
    }
    if w.key_count() <= KEY_BY_KEY_MAX_KEYS {
        return ShardLoads {
            shares: shares_key_by_key(w, router),
            error_bound: 0.0,
        };
    }
    bounded_shard_loads(w, router, TOLERANCE)
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

/// Shares in bounded work: per key distribution, exact counts for the uniform ones and
/// chord pieces within `tol` for the others, mixed by the SET:GET ratio.
fn bounded_shard_loads(w: &WorkloadConfig, router: &Router, tol: Tolerance) -> ShardLoads {
    let (set, get) = (w.ratio.set, w.ratio.get);
    let (set_dist, get_dist) = (w.key_pattern.set, w.key_pattern.get);
    // One distribution alone (or two with the same weights: the uniform ones are all
    // alike) keeps its shares as they are, summing to 1 already: no mixing, so exact
    // counts stay exact.
    let same = KeyWeights::new(w, set_dist) == KeyWeights::new(w, get_dist);
    let (shares, bounds) = if set == 0 || same {
        distribution_shares(w, get_dist, router, tol)
    } else if get == 0 {
        distribution_shares(w, set_dist, router, tol)
    } else {
        let (set_shares, set_bounds) = distribution_shares(w, set_dist, router, tol);
        let (get_shares, get_bounds) = distribution_shares(w, get_dist, router, tol);
        let (set, get) = (f64::from(set), f64::from(get));
        let mix = |a: &[f64], b: &[f64]| -> Vec<f64> {
            a.iter()
                .zip(b)
                .map(|(x, y)| (set * x + get * y) / (set + get))
                .collect()
        };
        (mix(&set_shares, &get_shares), mix(&set_bounds, &get_bounds))
    };
    ShardLoads {
        shares,
        error_bound: bounds.iter().fold(0.0, |m: f64, b| m.max(*b)),
    }
}

/// One key distribution's shares and per-shard error bounds.
fn distribution_shares(
    w: &WorkloadConfig,
    dist: KeyDist,
    router: &Router,
    tol: Tolerance,
) -> (Vec<f64>, Vec<f64>) {
    let (lo, hi) = (w.key_minimum, w.key_maximum);
    let shards = router.shards() as usize;
    let Some(weights) = KeyWeights::new(w, dist) else {
        // Uniform: exact counts. A shard holds at most every key, so u64 sums suffice.
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
        return (
            counts.iter().map(|&n| n as f64 / keys).collect(),
            vec![0.0; shards],
        );
    };
    let mut pieces = 0u64;
    // The widest aligned block the guess allows, narrowed until the tolerance holds.
    let mut choose = |x: u64, most: u32| -> (u32, Piece) {
        let span = weights.span(x, tol);
        let mut free = most;
        while free > 0 && 10u64.pow(free) > span {
            free -= 1;
        }
        loop {
            let len = 10u64.pow(free);
            let piece = weights.piece(x, x + (len - 1));
            if free == 0 || weights.accepts(&piece, len, tol) {
                pieces += 1;
                return (free, piece);
            }
            free -= 1;
        }
    };
    let (mass, error) = match router.placement() {
        Placement::RankModulo => {
            let mut sink = ResidueWeights::new(shards as u64);
            blocks::decimal_blocks(lo, hi, |x, most| {
                let (free, piece) = choose(x, most);
                sink.add(x, 10u64.pow(free), &piece);
                free
            });
            sink.finish()
        }
        Placement::Crc16 => {
            let crc = CrcBlocks::new(&w.key_prefix);
            if let Some(slot) = crc.tagged_slot() {
                let mut shares = vec![0.0; shards];
                shares[router.slot_owner[slot as usize] as usize] = 1.0;
                return (shares, vec![0.0; shards]);
            }
            let mut sink = SlotWeights::new(crc);
            blocks::decimal_blocks(lo, hi, |x, most| {
                let (free, piece) = choose(x, most);
                sink.add(x, free, &piece);
                free
            });
            let (slot_mass, slot_error) = sink.finish();
            let mut mass = vec![0.0; shards];
            let mut error = vec![0.0; shards];
            for slot in 0..SLOTS {
                let shard = router.slot_owner[slot] as usize;
                mass[shard] += slot_mass[slot];
                error[shard] += slot_error[slot];
            }
            (mass, error)
        }
    };
    shares_within(&mass, &error, pieces)
}

/// Shares from approximate masses, each true mass within `error` of its approximation,
/// and a bound on each share's error. A share is W_s / (W_s + W_rest), increasing in W_s
/// and decreasing in W_rest: its extremes put the two at the ends of their intervals.
///
/// On top of that, rounding: each mass is a sum whose additions along any path number at
/// most the pieces, plus 19 x 10 pushed down, plus 16,384 slots or 1,000 residues into a
/// shard, and whose terms in absolute value (chord weights, slopes times offsets, and
/// the difference arrays' constants) sum to at most about twice the total mass. So a
/// mass is off by at most (pieces + 20,000) 2^-53 x 2 x the total from rounding alone,
/// and a share by twice that: 2 (pieces + 20,000) x 2^-52 in all, about 4e-10 for a
/// million pieces, far below the six decimals a report prints.
fn shares_within(mass: &[f64], error: &[f64], pieces: u64) -> (Vec<f64>, Vec<f64>) {
    let total: f64 = mass.iter().sum();
    let total_error: f64 = error.iter().sum();
    let rounding = 2.0 * (pieces as f64 + 20_000.0) * f64::EPSILON;
    let mut shares = Vec::with_capacity(mass.len());
    let mut bounds = Vec::with_capacity(mass.len());
    for (&m, &e) in mass.iter().zip(error) {
        let e = e.max(0.0);
        let share = m / total;
        let rest = total - m;
        let rest_error = (total_error - e).max(0.0);
        let low_mass = (m - e).max(0.0);
        let low = low_mass / (low_mass + rest + rest_error);
        let high_mass = m + e;
        let high_rest = (rest - rest_error).max(0.0);
        let high = if high_mass > 0.0 {
            high_mass / (high_mass + high_rest)
        } else {
            0.0
        };
        shares.push(share);
        bounds.push((share - low).max(high - share) + rounding);
    }
    (shares, bounds)
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
        let uses = |d: char| pattern.contains(d);
        WorkloadSpec {
            ratio: Some(ratio.to_string()),
            key_pattern: Some(pattern.to_string()),
            key_minimum: Some(lo),
            key_maximum: Some(hi),
            key_zipf_exp: uses('Z').then_some(0.821),
            ..Default::default()
        }
        .resolve()
        .unwrap()
    }

    fn pattern() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["R:R", "S:S", "P:P", "Z:Z", "G:G", "R:Z", "Z:G", "G:S"])
    }

    /// A tolerance loose enough that small ranges go in wide chords, not key by key.
    const LOOSE: Tolerance = Tolerance {
        relative: 1e-4,
        absolute: 1e-12,
    };

    /// Against the key-by-key sums over the same range: bounded shares differ by at most
    /// their error bound (plus the key-by-key sums' own rounding), for both placements,
    /// any mix of distributions, Zipf exponents and Gaussian deviations, prefixes with
    /// tags; the bound is 0 for uniform distributions, whose shares are exact.
    #[test]
    fn bounded_shares_are_within_their_bound_of_key_by_key_sums() {
        proptest!(ProptestConfig::with_cases(64), |(
            pattern in pattern(), set in 0u32..3, get in 1u32..4,
            lo in prop_oneof![0u64..3, 1u64..1_000_000], width in 1_000u64..60_000,
            exponent in 0.05f64..3.0, stddev_fraction in prop::option::of(0.001f64..0.5),
            shards in 2u32..40, crc16 in any::<bool>(),
            prefix in prop::sample::select(vec!["memtier-", "", "k{", "{tag}", "a{}b"]),
        )| {
            let mut w = workload(pattern, &format!("{set}:{get}"), lo, lo + width);
            w.key_zipf_exp = exponent;
            w.key_stddev = stddev_fraction.map_or(0.0, |f| f * width as f64);
            w.key_prefix = prefix.to_string();
            let placement = if crc16 { Placement::Crc16 } else { Placement::RankModulo };
            let router = Router::with_placement(shards, placement);
            let reference = shares_key_by_key(&w, &router);
            let loads = bounded_shard_loads(&w, &router, LOOSE);
            let uniform = |d: KeyDist| KeyWeights::new(&w, d).is_none();
            let exact = (set == 0 || uniform(w.key_pattern.set)) && uniform(w.key_pattern.get);
            if exact {
                prop_assert_eq!(loads.error_bound, 0.0);
            }
            prop_assert!((loads.shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            for (s, (b, r)) in loads.shares.iter().zip(&reference).enumerate() {
                prop_assert!((b - r).abs() <= loads.error_bound + 1e-12,
                    "shard {}: bounded {} key by key {} bound {}", s, b, r, loads.error_bound);
            }
        });
    }

    /// Ranges up to the key-by-key limit keep the key-by-key sums, bit for bit.
    #[test]
    fn small_ranges_are_summed_key_by_key() {
        let mut config = crate::scenario::bundled::find("zipf-hot-shards")
            .unwrap()
            .unwrap()
            .resolved_variants()[0]
            .config
            .clone();
        config.clients.workload.key_maximum = KEY_BY_KEY_MAX_KEYS;
        let router = Router::new(&config);
        let loads = exact_shard_loads(&config, &router);
        assert_eq!(loads.error_bound, 0.0);
        assert_eq!(
            loads.shares,
            shares_key_by_key(&config.clients.workload, &router)
        );
    }

    const TRILLION: u64 = 1_000_000_000_000;

    /// 10^12 uniform keys over 100 CRC16 shards: exact counts, so each share is within
    /// a whisker of the shard's slot fraction (10^12 keys spread about 6 x 10^7 to a slot)
    /// and the bound is 0. Over rank-modulo shards, 100 divides the count: exactly 1/100.
    #[test]
    fn a_trillion_uniform_keys() {
        let w = workload("R:R", "1:10", 1, TRILLION);
        let router = Router::with_placement(100, Placement::Crc16);
        let loads = bounded_shard_loads(&w, &router, TOLERANCE);
        assert_eq!(loads.error_bound, 0.0);
        assert!((loads.shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        for (shard, share) in loads.shares.iter().enumerate() {
            let slots = router.slots_of(shard as u32).len() as f64 / SLOTS as f64;
            assert!(
                (share - slots).abs() < 1e-5 * slots,
                "shard {shard}: {share} vs {slots}"
            );
        }
        let router = Router::with_placement(100, Placement::RankModulo);
        let loads = bounded_shard_loads(&w, &router, TOLERANCE);
        assert_eq!(loads.error_bound, 0.0);
        assert!(
            loads.shares.iter().all(|&s| s == 0.01),
            "{:?}",
            loads.shares
        );
    }

    /// sum over k in first..=last of k^-s by Euler-Maclaurin (first large): the integral,
    /// the end corrections, and the first derivative term; what follows is below
    /// 1e-20 relative from first = 10^5 on.
    fn zipf_sum(first: f64, last: f64, s: f64) -> f64 {
        let integral = if (s - 1.0).abs() < 1e-12 {
            libm::log(last / first)
        } else {
            (libm::pow(last, 1.0 - s) - libm::pow(first, 1.0 - s)) / (1.0 - s)
        };
        let f = |x: f64| libm::pow(x, -s);
        let df = |x: f64| -s * libm::pow(x, -s - 1.0);
        integral + (f(first) + f(last)) / 2.0 + (df(last) - df(first)) / 12.0
    }

    /// 10^12 Zipf keys (exponent 1) over 100 rank-modulo shards, against an independent
    /// evaluation of each residue's sum (its first 10^5 terms one by one, the rest by
    /// Euler-Maclaurin): within the stated bound, itself below 1e-8. Over 100 CRC16
    /// shards: the shares sum to 1, the bound is below 1e-8, and a 100 times looser
    /// tolerance gives shares within the sum of the two bounds (a bound too small
    /// would fail this).
    #[test]
    fn a_trillion_zipf_keys() {
        let s = 1.0;
        let mut w = workload("Z:Z", "1:10", 1, TRILLION);
        w.key_zipf_exp = s;
        let shards = 100u64;
        let router = Router::with_placement(shards as u32, Placement::RankModulo);
        let loads = bounded_shard_loads(&w, &router, TOLERANCE);
        assert!(loads.error_bound < 1e-8, "bound {}", loads.error_bound);
        let head = 100_000u64;
        let sums: Vec<f64> = (0..shards)
            .map(|r| {
                // Keys r, r + S, ...: k = m S + r, from m = (r == 0) as u64 on.
                let m0 = u64::from(r == 0);
                let direct: f64 = (m0..m0 + head)
                    .map(|m| libm::pow((m * shards + r) as f64, -s))
                    .sum();
                let first = ((m0 + head) * shards + r) as f64;
                let last = (TRILLION - (shards - r) % shards) as f64;
                // The tail in m: sum of (m S + r)^-s = S^-s sum of (m + r / S)^-s.
                let scale = libm::pow(shards as f64, -s);
                direct + scale * zipf_sum(first / shards as f64, last / shards as f64, s)
            })
            .collect();
        let total: f64 = sums.iter().sum();
        for (r, share) in loads.shares.iter().enumerate() {
            let expected = sums[r] / total;
            assert!(
                (share - expected).abs() <= loads.error_bound + 1e-12,
                "residue {r}: {share} vs {expected}"
            );
        }

        let router = Router::with_placement(shards as u32, Placement::Crc16);
        let fine = bounded_shard_loads(&w, &router, TOLERANCE);
        assert!((fine.shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(fine.error_bound < 1e-8, "bound {}", fine.error_bound);
        let coarse_tolerance = Tolerance {
            relative: TOLERANCE.relative * 100.0,
            absolute: TOLERANCE.absolute * 100.0,
        };
        let coarse = bounded_shard_loads(&w, &router, coarse_tolerance);
        assert!(coarse.error_bound > fine.error_bound);
        for (a, b) in fine.shares.iter().zip(&coarse.shares) {
            assert!((a - b).abs() <= fine.error_bound + coarse.error_bound);
        }
    }

    /// 10^12 Gaussian keys (memtier's default centre and deviation) over 100 CRC16
    /// shards: shares sum to 1 with a bound below 1e-8; the distribution is symmetric
    /// and CRC16 scatters both halves, so every share is close to its slot fraction.
    #[test]
    fn a_trillion_gaussian_keys() {
        let w = workload("G:G", "1:10", 1, TRILLION);
        let router = Router::with_placement(100, Placement::Crc16);
        let loads = bounded_shard_loads(&w, &router, TOLERANCE);
        assert!((loads.shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(loads.error_bound < 1e-8, "bound {}", loads.error_bound);
        for (shard, share) in loads.shares.iter().enumerate() {
            let slots = router.slots_of(shard as u32).len() as f64 / SLOTS as f64;
            assert!(
                (share - slots).abs() < 1e-3 * slots,
                "shard {shard}: {share} vs {slots}"
            );
        }
    }
}
