//! A replica fed its primary's propagated commands stays equal to it: random command
//! sequences (every write family, transactions, expiries relative and absolute, lazy
//! and active expiry, evictions under maxmemory, prefilled keys read and written) run on
//! a primary with propagation on, and a `Db` in replica mode applies what it propagated.
//! Also the replica's own rules: READONLY for normal clients' writes, expired keys hidden
//! but kept until the master's DEL, no active expiry, no eviction.

use proptest::prelude::*;
use rand::SeedableRng;
use store_core::repl::{command_len, encode_command, Command};
use store_core::{Arg, Config, Db, EvictionPolicy, PrefillRange, Reply, Session};

const START_MS: u64 = 1_700_000_000_000;

fn run(
    db: &mut Db,
    session: &mut Session,
    args: &[&str],
    now_ms: u64,
    rng: &mut impl rand::RngCore,
) -> Reply {
    let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a.as_bytes())).collect();
    db.execute(session, &argv, now_ms, rng)
}

/// One step of a scenario: a client command, or the clock / background work.
#[derive(Clone, Debug)]
enum Step {
    Command(Vec<String>),
    /// A transaction of these commands.
    Transaction(Vec<Vec<String>>),
    Tick(u64),
    ActiveExpire,
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u8..3).prop_map(|k| format!("k{k}")),
        // Keys of the prefilled range, some past its end.
        1 => (0u8..10).prop_map(|k| format!("p:{k}")),
    ]
}

fn value() -> impl Strategy<Value = String> {
    proptest::sample::select(vec!["a", "bb", "1", "10", "-3", "2.5", "hello"])
        .prop_map(String::from)
}

fn command() -> impl Strategy<Value = Vec<String>> {
    let ttl = 1u64..4_000;
    prop_oneof![
        (key(), value()).prop_map(|(k, v)| vec!["SET".into(), k, v]),
        (key(), value(), ttl.clone()).prop_map(|(k, v, t)| vec![
            "SET".into(),
            k,
            v,
            "PX".into(),
            t.to_string()
        ]),
        (key(), value(), 1u64..4).prop_map(|(k, v, t)| vec![
            "SET".into(),
            k,
            v,
            "EX".into(),
            t.to_string(),
            "GET".into()
        ]),
        (key(), value()).prop_map(|(k, v)| vec!["SET".into(), k, v, "PXAT".into(), "1".into()]),
        (key(), value(), 1u64..4).prop_map(|(k, v, t)| vec!["SETEX".into(), k, t.to_string(), v]),
        key().prop_map(|k| vec!["GET".into(), k]),
        key().prop_map(|k| vec!["DEL".into(), k]),
        key().prop_map(|k| vec!["GETDEL".into(), k]),
        (key(), ttl.clone()).prop_map(|(k, t)| vec!["PEXPIRE".into(), k, t.to_string()]),
        key().prop_map(|k| vec!["EXPIRE".into(), k, "-1".into()]),
        key().prop_map(|k| vec!["PERSIST".into(), k]),
        (key(), ttl).prop_map(|(k, t)| vec!["GETEX".into(), k, "PX".into(), t.to_string()]),
        key().prop_map(|k| vec!["GETEX".into(), k, "PERSIST".into()]),
        key().prop_map(|k| vec!["INCR".into(), k]),
        key().prop_map(|k| vec!["INCRBYFLOAT".into(), k, "1.25".into()]),
        (key(), value()).prop_map(|(k, v)| vec!["APPEND".into(), k, v]),
        (key(), value()).prop_map(|(k, v)| vec!["SETRANGE".into(), k, "2".into(), v]),
        (key(), key()).prop_map(|(a, b)| vec!["RENAME".into(), a, b]),
        (key(), value()).prop_map(|(k, v)| vec!["SADD".into(), k, v, "x".into(), "y".into()]),
        (key(), value()).prop_map(|(k, v)| vec!["SREM".into(), k, v]),
        key().prop_map(|k| vec!["SPOP".into(), k]),
        (key(), 0u8..4).prop_map(|(k, n)| vec!["SPOP".into(), k, n.to_string()]),
        (key(), value()).prop_map(|(k, v)| vec!["HSET".into(), k, "f".into(), v]),
        key().prop_map(|k| vec!["HDEL".into(), k, "f".into()]),
        key().prop_map(|k| vec!["HINCRBY".into(), k, "n".into(), "3".into()]),
        (key(), value()).prop_map(|(k, v)| vec!["LPUSH".into(), k, v]),
        key().prop_map(|k| vec!["RPOP".into(), k]),
        key().prop_map(|k| vec!["LTRIM".into(), k, "0".into(), "1".into()]),
        (key(), value()).prop_map(|(k, v)| vec!["ZADD".into(), k, "1".into(), v]),
        (key(), value()).prop_map(|(k, v)| vec!["ZINCRBY".into(), k, "2".into(), v]),
        (key(), value()).prop_map(|(k, v)| vec!["ZREM".into(), k, v]),
        (key(), value(), key(), value()).prop_map(|(a, v, b, w)| vec!["MSET".into(), a, v, b, w]),
        Just(vec!["FLUSHALL".to_string()]),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => command().prop_map(Step::Command),
        1 => proptest::collection::vec(command(), 0..4).prop_map(Step::Transaction),
        2 => (0u64..1_500).prop_map(Step::Tick),
        1 => Just(Step::ActiveExpire),
    ]
}

/// The prefilled range both start from, as a full resync would leave them.
fn prefill(db: &mut Db) {
    db.prefill(PrefillRange::fixed("p:", 8, 30, 5))
        .expect("valid range");
}

fn check_replica_follows(steps: &[Step], config: Config) -> Result<(), TestCaseError> {
    let mut primary = Db::new(config.clone());
    let mut replica = Db::new(config);
    prefill(&mut primary);
    prefill(&mut replica);
    primary.set_propagation(true);
    replica.set_replica(true);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut replica_rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut session = Session::new(1);
    let mut now_ms = START_MS;
    let mut stream: Vec<Command> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Command(args) => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&mut primary, &mut session, &args, now_ms, &mut rng);
            }
            Step::Transaction(cmds) => {
                run(&mut primary, &mut session, &["MULTI"], now_ms, &mut rng);
                for args in cmds {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    run(&mut primary, &mut session, &args, now_ms, &mut rng);
                }
                run(&mut primary, &mut session, &["EXEC"], now_ms, &mut rng);
            }
            Step::Tick(ms) => now_ms += ms,
            Step::ActiveExpire => {
                primary.active_expire_cycle(now_ms, &mut rng);
            }
        }
        stream.clear();
        primary.drain_propagated(&mut stream);
        for cmd in &stream {
            let mut wire = Vec::new();
            encode_command(cmd, &mut wire);
            prop_assert_eq!(wire.len() as u64, command_len(cmd));
            replica.apply_replicated(cmd, now_ms, &mut replica_rng);
        }
        prop_assert_eq!(
            primary.state_digest(),
            replica.state_digest(),
            "after step {} ({:?}): {:?}",
            i,
            step,
            stream
        );
        prop_assert_eq!(primary.dbsize(), replica.dbsize());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// For any sequence of writes, reads, transactions, clock advances and active expire
    /// cycles on a primary, a replica that started from the same state and applied
    /// everything the primary propagated has, after every step, the same keys, types,
    /// values and expiry times (equal digests and DBSIZE), and each propagated command's
    /// computed length is its encoding's.
    #[test]
    fn replica_follows_primary(steps in proptest::collection::vec(step(), 1..120)) {
        check_replica_follows(&steps, Config::default())?;
    }

    /// The same under maxmemory with an LRU policy: evictions on the primary reach the
    /// replica as DELs, and reads that materialize prefilled keys on the primary only
    /// do not make the two differ.
    #[test]
    fn replica_follows_evicting_primary(steps in proptest::collection::vec(step(), 1..120)) {
        let config = Config {
            maxmemory_bytes: store_core::mem::BASELINE_USED_MEMORY_BYTES + 1_500,
            maxmemory_policy: EvictionPolicy::AllKeysLru,
            ..Config::default()
        };
        check_replica_follows(&steps, config)?;
    }
}

#[test]
fn replica_refuses_writes_from_clients() {
    let mut replica = Db::new(Config::default());
    replica.set_replica(true);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut session = Session::new(1);
    let readonly = Reply::error("READONLY You can't write against a read only replica.");
    assert_eq!(
        run(
            &mut replica,
            &mut session,
            &["SET", "k", "v"],
            START_MS,
            &mut rng
        ),
        readonly
    );
    assert_eq!(
        run(
            &mut replica,
            &mut session,
            &["GET", "k"],
            START_MS,
            &mut rng
        ),
        Reply::Null
    );
    // A write queued in MULTI fails the transaction.
    assert_eq!(
        run(&mut replica, &mut session, &["MULTI"], START_MS, &mut rng),
        Reply::Ok
    );
    assert_eq!(
        run(
            &mut replica,
            &mut session,
            &["DEL", "k"],
            START_MS,
            &mut rng
        ),
        readonly
    );
    assert_eq!(
        run(&mut replica, &mut session, &["EXEC"], START_MS, &mut rng),
        Reply::error("EXECABORT Transaction discarded because of previous errors.")
    );
    // The master's stream writes.
    let set: Command = ["SET", "k", "v"]
        .iter()
        .map(|a| store_core::Blob::from_slice(a.as_bytes()))
        .collect();
    replica.apply_replicated(&set, START_MS, &mut rng);
    assert_eq!(
        run(
            &mut replica,
            &mut session,
            &["GET", "k"],
            START_MS,
            &mut rng
        ),
        Reply::bulk(b"v")
    );
}

fn blobs(args: &[&str]) -> Command {
    args.iter()
        .map(|a| store_core::Blob::from_slice(a.as_bytes()))
        .collect()
}

#[test]
fn replica_keeps_expired_keys_for_the_masters_del() {
    let mut replica = Db::new(Config::default());
    replica.set_replica(true);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut session = Session::new(1);
    let at = (START_MS + 1_000).to_string();
    replica.apply_replicated(&blobs(&["SET", "k", "v", "PXAT", &at]), START_MS, &mut rng);
    let later = START_MS + 5_000;
    // Expired for normal clients, but kept: no lazy deletion, no active expiry.
    assert_eq!(
        run(&mut replica, &mut session, &["GET", "k"], later, &mut rng),
        Reply::Null
    );
    assert_eq!(
        run(
            &mut replica,
            &mut session,
            &["EXISTS", "k"],
            later,
            &mut rng
        ),
        Reply::Integer(0)
    );
    replica.active_expire_cycle(later, &mut rng);
    assert_eq!(replica.dbsize(), 1);
    assert_eq!(replica.stats().expired_keys, 0);
    // The master's stream still sees it (an APPEND from the master extends it).
    replica.apply_replicated(&blobs(&["APPEND", "k", "w"]), later, &mut rng);
    replica.apply_replicated(&blobs(&["PERSIST", "k"]), later, &mut rng);
    assert_eq!(
        run(&mut replica, &mut session, &["GET", "k"], later, &mut rng),
        Reply::bulk(b"vw")
    );
    replica.apply_replicated(&blobs(&["DEL", "k"]), later, &mut rng);
    assert_eq!(replica.dbsize(), 0);
}

#[test]
fn replica_applies_transactions_from_the_stream_and_ignores_maxmemory() {
    let config = Config {
        maxmemory_bytes: 1,
        maxmemory_policy: EvictionPolicy::AllKeysRandom,
        ..Config::default()
    };
    let mut replica = Db::new(config);
    replica.set_replica(true);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut session = Session::new(1);
    for cmd in [
        blobs(&["SELECT", "0"]),
        blobs(&["PING"]),
        blobs(&["MULTI"]),
        blobs(&["SET", "a", "1"]),
        blobs(&["SET", "b", "2"]),
    ] {
        replica.apply_replicated(&cmd, START_MS, &mut rng);
    }
    // Queued, not applied, until EXEC.
    assert_eq!(replica.dbsize(), 0);
    replica.apply_replicated(&blobs(&["EXEC"]), START_MS, &mut rng);
    assert_eq!(replica.dbsize(), 2);
    // Reads from clients do not evict either.
    assert_eq!(
        run(
            &mut replica,
            &mut session,
            &["GET", "a"],
            START_MS,
            &mut rng
        ),
        Reply::bulk(b"1")
    );
    assert_eq!(replica.dbsize(), 2);
    assert_eq!(replica.stats().evicted_keys, 0);
}

#[test]
fn active_expiry_and_eviction_propagate_unwrapped_dels() {
    let mut db = Db::new(Config::default());
    db.set_propagation(true);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut session = Session::new(1);
    for k in ["a", "b", "c"] {
        run(
            &mut db,
            &mut session,
            &["SET", k, "v", "PX", "10"],
            START_MS,
            &mut rng,
        );
    }
    let mut out = Vec::new();
    db.drain_propagated(&mut out);
    assert_eq!(out.len(), 3);
    out.clear();
    db.active_expire_cycle(START_MS + 100, &mut rng);
    db.drain_propagated(&mut out);
    let mut deleted: Vec<Command> = out.clone();
    deleted.sort_by_key(|c| c[1].to_vec());
    assert_eq!(
        deleted,
        vec![
            blobs(&["DEL", "a"]),
            blobs(&["DEL", "b"]),
            blobs(&["DEL", "c"])
        ]
    );

    // Eviction: the victim's DEL goes out alone, before the command that caused it.
    let mut config = db.config().clone();
    config.maxmemory_policy = EvictionPolicy::AllKeysRandom;
    db.set_config(config.clone());
    run(
        &mut db,
        &mut session,
        &["SET", "big", &"x".repeat(100_000)],
        START_MS,
        &mut rng,
    );
    config.maxmemory_bytes = db.used_memory() - 50_000;
    db.set_config(config);
    out.clear();
    db.drain_propagated(&mut out);
    out.clear();
    run(
        &mut db,
        &mut session,
        &["SET", "small", "1"],
        START_MS,
        &mut rng,
    );
    db.drain_propagated(&mut out);
    assert_eq!(
        out,
        vec![blobs(&["DEL", "big"]), blobs(&["SET", "small", "1"])]
    );
}

#[test]
fn propagation_off_records_nothing() {
    let mut db = Db::new(Config::default());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut session = Session::new(1);
    run(
        &mut db,
        &mut session,
        &["SET", "k", "v"],
        START_MS,
        &mut rng,
    );
    let mut out = Vec::new();
    db.drain_propagated(&mut out);
    assert!(out.is_empty());
    db.set_propagation(true);
    run(
        &mut db,
        &mut session,
        &["SET", "k", "v"],
        START_MS,
        &mut rng,
    );
    db.set_propagation(false);
    db.drain_propagated(&mut out);
    assert!(out.is_empty());
}

#[test]
fn synthetic_values_propagate_synthetic() {
    let mut db = Db::new(Config::default());
    db.set_propagation(true);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut session = Session::new(1);
    let value = Arg::Synthetic {
        len: 25_000,
        seed: 9,
    };
    let argv = [
        Arg::Bytes(b"SET"),
        Arg::Bytes(b"k"),
        value,
        Arg::Bytes(b"EX"),
        Arg::Bytes(b"10"),
    ];
    db.execute(&mut session, &argv, START_MS, &mut rng);
    let mut out = Vec::new();
    db.drain_propagated(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0][2],
        store_core::Blob::Synthetic {
            len: 25_000,
            seed: 9
        }
    );
    assert_eq!(
        out[0][4],
        store_core::Blob::from_slice((START_MS + 10_000).to_string().as_bytes())
    );
    assert!(command_len(&out[0]) > 25_000);
}

#[test]
fn digests_ignore_insertion_order_and_how_a_key_is_held() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut session = Session::new(1);
    // The same keys inserted in opposite orders.
    let mut forward = Db::new(Config::default());
    let mut backward = Db::new(Config::default());
    let keys: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
    for k in &keys {
        run(
            &mut forward,
            &mut session,
            &["SET", k, k, "PXAT", "99999999999999"],
            START_MS,
            &mut rng,
        );
    }
    for k in keys.iter().rev() {
        run(
            &mut backward,
            &mut session,
            &["SET", k, k, "PXAT", "99999999999999"],
            START_MS,
            &mut rng,
        );
    }
    assert_eq!(forward.state_digest(), backward.state_digest());
    // A compact prefilled range, the same range stored key by key, and the compact one
    // with a few keys materialized by reads under an LRU policy.
    let range = PrefillRange::fixed("p:", 500, 40, 3);
    let mut compact = Db::new(Config::default());
    compact.prefill(range.clone()).expect("valid range");
    let mut stored = Db::new(Config::default());
    stored
        .prefill(PrefillRange {
            materialize: true,
            ..range.clone()
        })
        .expect("valid range");
    let mut touched = Db::new(Config {
        maxmemory_bytes: 1 << 40,
        maxmemory_policy: EvictionPolicy::AllKeysLru,
        ..Config::default()
    });
    touched.prefill(range).expect("valid range");
    for k in ["p:0", "p:17", "p:499"] {
        run(&mut touched, &mut session, &["GET", k], START_MS, &mut rng);
    }
    assert_eq!(compact.state_digest(), stored.state_digest());
    assert_eq!(compact.state_digest(), touched.state_digest());
    // And a change shows.
    run(
        &mut touched,
        &mut session,
        &["DEL", "p:17"],
        START_MS,
        &mut rng,
    );
    assert_ne!(compact.state_digest(), touched.state_digest());
}
