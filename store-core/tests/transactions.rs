//! WATCH against changes no client command makes (eviction, active expiry), and a
//! closed session's watches forgotten. The replies and propagation of MULTI / EXEC /
//! WATCH for client commands are compared with redis-server in `replication.rs`.

use rand::SeedableRng;
use store_core::{Arg, Config, Db, EvictionPolicy, Reply, Session};

const NOW_MS: u64 = 1_700_000_000_000;

fn run(db: &mut Db, session: &mut Session, args: &[&str], now_ms: u64) -> Reply {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a.as_bytes())).collect();
    db.execute(session, &argv, now_ms, &mut rng)
}

/// Runs MULTI, one SET, EXEC: the EXEC's reply.
fn transaction(db: &mut Db, session: &mut Session, now_ms: u64) -> Reply {
    assert_eq!(run(db, session, &["MULTI"], now_ms), Reply::Ok);
    assert_eq!(
        run(db, session, &["SET", "t", "1"], now_ms),
        Reply::simple("QUEUED")
    );
    run(db, session, &["EXEC"], now_ms)
}

#[test]
fn an_eviction_dirties_the_watchers_of_its_victim() {
    let mut db = Db::new(Config {
        maxmemory_policy: EvictionPolicy::VolatileRandom,
        ..Config::default()
    });
    let mut watcher = Session::new(1);
    let mut other = Session::new(2);
    run(
        &mut db,
        &mut other,
        &["SET", "victim", &"x".repeat(50_000), "EX", "100"],
        NOW_MS,
    );
    assert_eq!(
        run(&mut db, &mut watcher, &["WATCH", "victim"], NOW_MS),
        Reply::Ok
    );
    let mut config = db.config().clone();
    config.maxmemory_bytes = db.used_memory() - 10_000;
    db.set_config(config);
    // Another session's command makes room: the only volatile key goes.
    run(&mut db, &mut other, &["GET", "x"], NOW_MS);
    assert_eq!(db.stats().evicted_keys, 1);
    assert_eq!(transaction(&mut db, &mut watcher, NOW_MS), Reply::NullArray);
}

#[test]
fn active_expiry_dirties_watchers_and_a_watched_key_expiring_fails_exec() {
    let mut db = Db::new(Config::default());
    let mut watcher = Session::new(1);
    run(
        &mut db,
        &mut watcher,
        &["SET", "k", "v", "PX", "10"],
        NOW_MS,
    );
    run(&mut db, &mut watcher, &["WATCH", "k"], NOW_MS);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    db.active_expire_cycle(NOW_MS + 100, &mut rng);
    assert_eq!(
        transaction(&mut db, &mut watcher, NOW_MS + 100),
        Reply::NullArray
    );

    // Expired by time alone, not yet deleted: EXEC fails too (isWatchedKeyExpired).
    run(
        &mut db,
        &mut watcher,
        &["SET", "j", "v", "PX", "10"],
        NOW_MS,
    );
    run(&mut db, &mut watcher, &["WATCH", "j"], NOW_MS);
    assert_eq!(
        transaction(&mut db, &mut watcher, NOW_MS + 100),
        Reply::NullArray
    );

    // Unwatched after EXEC: the next transaction runs.
    assert_eq!(
        transaction(&mut db, &mut watcher, NOW_MS + 100),
        Reply::Array(vec![Reply::Ok])
    );
}

#[test]
fn a_forgotten_session_watches_nothing() {
    let mut db = Db::new(Config::default());
    let mut watcher = Session::new(1);
    let mut other = Session::new(2);
    run(&mut db, &mut watcher, &["WATCH", "k"], NOW_MS);
    db.forget_session(1);
    run(&mut db, &mut other, &["SET", "k", "v"], NOW_MS);
    // A new connection reusing the id starts clean.
    let mut reused = Session::new(1);
    assert_eq!(
        transaction(&mut db, &mut reused, NOW_MS),
        Reply::Array(vec![Reply::Ok])
    );
}

#[test]
fn exec_propagates_its_effects_as_one_unit() {
    let mut db = Db::new(Config::default());
    db.set_propagation(true);
    let mut session = Session::new(1);
    run(&mut db, &mut session, &["MULTI"], NOW_MS);
    run(&mut db, &mut session, &["SET", "a", "1"], NOW_MS);
    run(&mut db, &mut session, &["GET", "a"], NOW_MS);
    run(&mut db, &mut session, &["INCR", "a"], NOW_MS);
    let mut out = Vec::new();
    db.drain_propagated(&mut out);
    assert!(
        out.is_empty(),
        "nothing propagates while commands are queued"
    );
    run(&mut db, &mut session, &["EXEC"], NOW_MS);
    db.drain_propagated(&mut out);
    let names: Vec<Vec<u8>> = out.iter().map(|c| c[0].to_vec()).collect();
    assert_eq!(names, [&b"MULTI"[..], b"SET", b"INCR", b"EXEC"]);
}
