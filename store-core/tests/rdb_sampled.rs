//! `rdb_len_sampled` against `rdb_len`: the same for values whose record does not
//! depend on the seed (repeated and uniform random bytes); for memtier's random data
//! and letters, whose compressed size varies from seed to seed (up to several percent
//! for 10 KB of memtier's random data), within 10%.

use rand::SeedableRng;
use store_core::rdb::{rdb_len, rdb_len_sampled, RdbInfo};
use store_core::{Arg, Config, Db, Session, SyntheticFill};

fn db_of(fill: SyntheticFill, len: u64, keys: u64) -> Db {
    let mut db = Db::new(Config::default());
    let mut session = Session::new(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for k in 0..keys {
        let key = format!("key:{k}");
        let argv = [
            Arg::Bytes(b"SET"),
            Arg::Bytes(key.as_bytes()),
            Arg::Synthetic {
                len,
                seed: fill.seed(k),
            },
        ];
        db.execute(&mut session, &argv, 1_700_000_000_000, &mut rng);
    }
    db
}

#[test]
fn sampled_lengths_match_exact_ones_where_the_seed_does_not_matter() {
    let info = RdbInfo::default();
    for fill in [SyntheticFill::Repeat(b'x'), SyntheticFill::Random] {
        for len in [5, 100, 10_000] {
            let db = db_of(fill, len, 200);
            assert_eq!(
                rdb_len_sampled(&db, 0, &info),
                rdb_len(&db, 0, &info),
                "{fill:?} {len}"
            );
        }
    }
    for fill in [SyntheticFill::MemtierRandom, SyntheticFill::Letters] {
        for len in [100, 10_000] {
            let db = db_of(fill, len, 200);
            let exact = rdb_len(&db, 0, &info) as f64;
            let sampled = rdb_len_sampled(&db, 0, &info) as f64;
            assert!(
                (sampled - exact).abs() <= 0.10 * exact,
                "{fill:?} {len}: sampled {sampled}, exact {exact}"
            );
        }
    }
}
