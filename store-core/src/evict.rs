//! maxmemory eviction as Redis 7.0's evict.c approximates it. LRU, LFU and TTL policies
//! keep a 16-entry pool of candidates ordered by idle score (ascending; ties keep the
//! earlier-inserted entry first), refilled each round with `maxmemory_samples` keys drawn
//! uniformly from the keyspace (or from keys with an expiry, for volatile policies); the
//! victim is the pool's highest-scored key that still exists. Random policies evict one
//! uniformly drawn key. Invariant: eviction stops as soon as used_memory <= maxmemory,
//! and never evicts a key a volatile policy may not touch.

use crate::config::EvictionPolicy;
use crate::db::{lfu_decr_and_return, lru_clock, Db, Found, LRU_CLOCK_MAX};
use rand::RngCore;

/// EVPOOL_SIZE.
pub const POOL_SIZE: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    idle: u64,
    key: Box<[u8]>,
}

/// Candidates carried across eviction rounds, as Redis's static pool is.
#[derive(Clone, Debug, Default)]
pub struct EvictionPool {
    /// Ascending by idle score; at most POOL_SIZE.
    candidates: Vec<Candidate>,
}

impl EvictionPool {
    /// evictionPoolPopulate's insertion rule.
    fn offer(&mut self, idle: u64, key: &[u8]) {
        let k = self.candidates.iter().take_while(|c| c.idle < idle).count();
        let full = self.candidates.len() >= POOL_SIZE;
        if k == 0 && full {
            return; // worse than everything in a full pool
        }
        let candidate = Candidate {
            idle,
            key: key.into(),
        };
        if full {
            // Drop the best-to-keep (lowest idle) element to make room at k - 1.
            self.candidates.remove(0);
            self.candidates.insert(k - 1, candidate);
        } else {
            self.candidates.insert(k, candidate);
        }
    }
}

/// A key drawn uniformly among stored keys and prefilled defaults.
pub(crate) fn random_key(db: &Db, rng: &mut dyn RngCore) -> Option<Vec<u8>> {
    if db.dbsize() == 0 {
        return None;
    }
    let stored = db.keyspace.slot_count() as u64;
    let range_total: u64 = db.prefilled.iter().map(|p| p.spec.count).sum();
    // Rejection sampling over table slots plus every range index: uniform over live keys.
    for _ in 0..1000 {
        let mut r = rng.next_u64() % (stored + range_total);
        if r < stored {
            // Empty slots are rejected like overridden range keys: uniform over keys.
            match db.keyspace.entry_at(r as usize) {
                Some(e) => return Some(e.key.as_bytes().to_vec()),
                None => continue,
            }
        }
        r -= stored;
        for range in &db.prefilled {
            if r < range.spec.count {
                if !range.is_overridden(r) {
                    return Some(range.key_of(range.spec.first_index + r));
                }
                break;
            }
            r -= range.spec.count;
        }
    }
    // Live keys are too sparse for rejection sampling (a shard holding a small slice of a
    // range): pick a random position and take the next live key after it, which stays
    // close to uniform and always terminates.
    let stored_live = db.keyspace.len() as u64;
    let range_live: u64 = db.prefilled.iter().map(|p| p.live_defaults()).sum();
    let mut pick = rng.next_u64() % (stored_live + range_live);
    if pick < stored_live {
        let slots = db.keyspace.slot_count();
        let start = (rng.next_u64() % slots as u64) as usize;
        return (0..slots)
            .map(|k| (start + k) % slots)
            .find_map(|slot| db.keyspace.entry_at(slot))
            .map(|e| e.key.as_bytes().to_vec());
    }
    pick -= stored_live;
    for range in &db.prefilled {
        let live = range.live_defaults();
        if pick < live {
            let count = range.spec.count;
            let start = rng.next_u64() % count;
            return range
                .next_live(start)
                .or_else(|| range.next_live(0))
                .map(|offset| range.key_of(range.spec.first_index + offset));
        }
        pick -= live;
    }
    None
}

fn idle_score(db: &Db, lru: u32, expire_at_ms: Option<u64>, now_ms: u64) -> u64 {
    match db.config.maxmemory_policy {
        EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => {
            255 - u64::from(lfu_decr_and_return(
                lru,
                now_ms,
                db.config.lfu_decay_time_min,
            ))
        }
        EvictionPolicy::VolatileTtl => u64::MAX - expire_at_ms.unwrap_or(u64::MAX),
        _ => {
            // estimateObjectIdleTime, in ms.
            let clock = lru_clock(now_ms);
            let seconds = if clock >= lru {
                clock - lru
            } else {
                clock + (LRU_CLOCK_MAX - lru)
            };
            u64::from(seconds) * 1000
        }
    }
}

fn populate(db: &mut Db, now_ms: u64, rng: &mut dyn RngCore) -> usize {
    let samples = db.config.maxmemory_samples.max(1) as usize;
    let volatile = db.config.maxmemory_policy.is_volatile();
    let mut offered = 0;
    for _ in 0..samples {
        let (key, lru, expire) = if volatile {
            let n = db.keyspace.expires.len();
            if n == 0 {
                break;
            }
            let key = db.keyspace.expires[(rng.next_u64() % n as u64) as usize].clone();
            let Some(pos) = db.keyspace.find(key.as_bytes()) else {
                continue;
            };
            let e = db.keyspace.entry(pos);
            (e.key.as_bytes().to_vec(), e.lru, e.expire_at())
        } else {
            let Some(key) = random_key(db, rng) else {
                break;
            };
            match db.keyspace.find(&key) {
                Some(pos) => {
                    let e = &db.keyspace.entry(pos);
                    (key, e.lru, e.expire_at())
                }
                None => {
                    let lru = crate::prefill::find_default(&db.prefilled, &key)
                        .map(|(r, _)| db.prefilled[r].lru)
                        .unwrap_or(0);
                    (key, lru, None)
                }
            }
        };
        let idle = idle_score(db, lru, expire, now_ms);
        db.eviction_pool.offer(idle, &key);
        offered += 1;
    }
    offered
}

/// Picks the next victim, or None when nothing can be evicted.
fn choose_victim(db: &mut Db, now_ms: u64, rng: &mut dyn RngCore) -> Option<Vec<u8>> {
    match db.config.maxmemory_policy {
        EvictionPolicy::NoEviction => None,
        EvictionPolicy::AllKeysRandom => random_key(db, rng),
        EvictionPolicy::VolatileRandom => {
            let n = db.keyspace.expires.len();
            if n == 0 {
                return None;
            }
            Some(
                db.keyspace.expires[(rng.next_u64() % n as u64) as usize]
                    .as_bytes()
                    .to_vec(),
            )
        }
        _ => {
            // Bounded: each pass either finds a victim or drains stale pool entries.
            for _ in 0..64 {
                if populate(db, now_ms, rng) == 0 && db.eviction_pool.candidates.is_empty() {
                    return None;
                }
                while let Some(candidate) = db.eviction_pool.candidates.pop() {
                    let exists = match db.keyspace.find(&candidate.key) {
                        Some(pos) => {
                            !db.config.maxmemory_policy.is_volatile()
                                || db.keyspace.entry(pos).expire_at().is_some()
                        }
                        None => {
                            !db.config.maxmemory_policy.is_volatile()
                                && crate::prefill::find_default(&db.prefilled, &candidate.key)
                                    .is_some()
                        }
                    };
                    if exists {
                        return Some(candidate.key.into_vec());
                    }
                }
            }
            None
        }
    }
}

/// The eviction loop, entered when used_memory is over the limit (see
/// [`Db::perform_evictions`] for the check).
#[cold]
pub(crate) fn perform_evictions(db: &mut Db, now_ms: u64, rng: &mut dyn RngCore) -> bool {
    let limit = db.config.maxmemory_bytes;
    if limit == 0 {
        return true;
    }
    while db.used_memory() > limit {
        let Some(victim) = choose_victim(db, now_ms, rng) else {
            return false;
        };
        match db.find(&victim, u64::MIN) {
            Some(Found::Stored(pos)) => {
                db.delete_at(pos);
            }
            Some(Found::Prefilled { range, index }) => {
                crate::prefill::delete_default(db, range, index);
                db.touch_watched(&victim);
            }
            None => continue,
        }
        db.propagate_deletion(&victim);
        db.stats.evicted_keys += 1;
    }
    true
}
