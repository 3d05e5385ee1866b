//! The active expire cycle (Redis's `activeExpireCycle`, slow mode at effort 1): keys
//! with an expiry are examined in rounds of ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP = 20 from a
//! cursor that persists across cycles; expired ones are deleted; another round runs while
//! more than ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE = 10% of the last round had expired.
//! Redis bounds a cycle by CPU time; here the bound is a key budget, so the cycle is a
//! pure function of the state and `now_ms`. Invariant: only keys strictly past their
//! expiry are deleted, and the cursor always stays within the expires index.

use crate::db::{Db, ExpireCycleStats};
use rand::RngCore;

pub const KEYS_PER_LOOP: u64 = 20;
pub const ACCEPTABLE_STALE_PERCENT: u64 = 10;

pub(crate) fn active_expire_cycle(
    db: &mut Db,
    now_ms: u64,
    _rng: &mut dyn RngCore,
) -> ExpireCycleStats {
    let mut stats = ExpireCycleStats::default();
    let budget = u64::from(db.config.active_expire_keys_budget);
    db.stats.active_expire_cycles += 1;
    loop {
        let with_expiry = db.keyspace.expires.len() as u64;
        if with_expiry == 0 {
            break;
        }
        let round_size = with_expiry.min(KEYS_PER_LOOP);
        let mut sampled = 0u64;
        let mut expired = 0u64;
        let (mut ttl_sum_ms, mut ttl_samples) = (0u64, 0u64);
        while sampled < round_size && !db.keyspace.expires.is_empty() {
            if db.expire_cursor >= db.keyspace.expires.len() {
                db.expire_cursor = 0;
            }
            let key = db.keyspace.expires[db.expire_cursor].clone();
            let Some(pos) = db.keyspace.find(key.as_bytes()) else {
                db.expire_cursor += 1;
                continue;
            };
            sampled += 1;
            if now_ms > db.keyspace.entry(pos).expire_at_ms {
                // The last expires slot moves into the cursor's place: examine it next.
                let entry = db.delete_at(pos);
                db.stats.expired_keys += 1;
                db.propagate_deletion(entry.key.as_bytes());
                expired += 1;
            } else {
                let ttl = db.keyspace.entry(pos).expire_at_ms - now_ms;
                if ttl > 0 {
                    ttl_sum_ms += ttl;
                    ttl_samples += 1;
                }
                db.expire_cursor += 1;
            }
        }
        // Redis's running estimate: avg = avg/50*49 + round_avg/50, seeded by the first.
        if let Some(round_avg) = ttl_sum_ms.checked_div(ttl_samples) {
            if db.avg_ttl_ms == 0 {
                db.avg_ttl_ms = round_avg;
            }
            db.avg_ttl_ms = (db.avg_ttl_ms / 50) * 49 + round_avg / 50;
        }
        stats.rounds += 1;
        stats.keys_sampled += sampled;
        stats.keys_expired += expired;
        if budget > 0 && stats.keys_sampled >= budget {
            stats.budget_exhausted = true;
            break;
        }
        if sampled == 0 || expired * 100 / sampled <= ACCEPTABLE_STALE_PERCENT {
            break;
        }
    }
    if let Some(perc) = (stats.keys_expired * 10_000).checked_div(stats.keys_sampled) {
        db.stats.expired_stale_perc_x100 = perc;
    }
    stats
}
