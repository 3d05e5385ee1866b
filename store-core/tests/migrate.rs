//! MIGRATE between two Dbs through `migrate_out`, `migrate_in` and `migrate_finish`:
//! what each side propagates (DEL on the source, wrapped with the lookups' lazy DELs;
//! RESTORE-ASKING with an absolute TTL and ABSTTL on the target), that a replica of the
//! target applying that stream ends with the target's keys, BUSYKEY and REPLACE,
//! redirections, NOKEY, TTL rounding, wire sizes, and a whole slot resharded as
//! `redis-cli --cluster reshard` drives it.

use rand::SeedableRng;
use store_core::migrate::{MigrateBatch, MigrateReplies, RestoreReply, BUSYKEY};
use store_core::repl::{command_len, encode_command, Command};
use store_core::{key_hash_slot, Arg, Blob, Config, Db, PrefillRange, Reply, Session, SlotState};

const NOW_MS: u64 = 1_764_000_000_000;

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(5)
}

fn run(db: &mut Db, args: &[&[u8]], now_ms: u64) -> Reply {
    let mut session = Session::new(1);
    let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a)).collect();
    db.execute(&mut session, &argv, now_ms, &mut rng())
}

fn drained(db: &mut Db) -> Vec<Vec<Vec<u8>>> {
    let mut out: Vec<Command> = Vec::new();
    db.drain_propagated(&mut out);
    out.iter()
        .map(|c| c.iter().map(Blob::to_vec).collect())
        .collect()
}

fn words(cmd: &[&str]) -> Vec<Vec<u8>> {
    cmd.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// One MIGRATE, all three steps at one time.
fn migrate(
    source: &mut Db,
    target: &mut Db,
    keys: &[Vec<u8>],
    now_ms: u64,
) -> (MigrateBatch, MigrateReplies, Reply) {
    let batch = source.migrate_out(keys, now_ms);
    let replies = target.migrate_in(&batch, now_ms, &mut rng());
    let reply = source.migrate_finish(&batch, &replies);
    (batch, replies, reply)
}

#[test]
fn propagation_on_both_sides_and_a_replica_of_the_target() {
    let mut source = Db::new(Config::default());
    let mut target = Db::new(Config::default());
    source
        .prefill(PrefillRange::fixed("pre:", 10, 30, 1))
        .unwrap();
    run(&mut source, &[b"SET", b"a", b"1"], NOW_MS);
    run(
        &mut source,
        &[b"PEXPIREAT", b"a", (NOW_MS + 5_000).to_string().as_bytes()],
        NOW_MS,
    );
    run(&mut source, &[b"RPUSH", b"list", b"x", b"y"], NOW_MS);
    run(&mut source, &[b"SET", b"gone", b"v", b"PX", b"10"], NOW_MS);
    source.set_propagation(true);
    target.set_propagation(true);
    let later = NOW_MS + 100; // "gone" has expired
    let keys: Vec<Vec<u8>> = ["a", "pre:3", "gone", "missing", "list"]
        .iter()
        .map(|k| k.as_bytes().to_vec())
        .collect();
    let (batch, replies, reply) = migrate(&mut source, &mut target, &keys, later);
    assert_eq!(reply, Reply::Ok);
    let moved: Vec<&[u8]> = batch.keys.iter().map(|k| &*k.key).collect();
    assert_eq!(moved, [&b"a"[..], b"pre:3", b"list"]);
    assert_eq!(batch.keys[0].ttl_ms, 4_900);
    assert_eq!(replies.restores, vec![RestoreReply::Ok; 3]);
    // The source: the lazy DEL and MIGRATE's DEL in one transaction.
    assert_eq!(
        drained(&mut source),
        vec![
            words(&["MULTI"]),
            words(&["DEL", "gone"]),
            words(&["DEL", "a", "pre:3", "list"]),
            words(&["EXEC"]),
        ]
    );
    // The target: one RESTORE-ASKING each, the TTL absolute.
    let propagated = drained(&mut target);
    assert_eq!(propagated.len(), 3);
    assert_eq!(propagated[0][0], b"RESTORE-ASKING");
    assert_eq!(propagated[0][2], (NOW_MS + 5_000).to_string().into_bytes());
    assert_eq!(propagated[0].last().unwrap(), b"ABSTTL");
    assert_eq!(propagated[1][2], b"0");
    assert_eq!(propagated[1].len(), 4);
    // The payload propagated is the target's DUMP of the key, and the wire size of the
    // restores is what the batch says crossed from the source (name, key, payload alike;
    // the TTL relative there).
    assert_eq!(Some(propagated[1][3].clone()), target.dump(b"pre:3", later));
    for (sent, key) in batch.restore_commands().iter().zip(&batch.keys) {
        assert_eq!(command_len(sent), key.request_bytes(false));
        let mut wire = Vec::new();
        encode_command(sent, &mut wire);
        assert_eq!(wire.len() as u64, key.request_bytes(false));
    }
    assert_eq!(
        batch.request_bytes(),
        batch
            .keys
            .iter()
            .map(|k| k.request_bytes(false))
            .sum::<u64>()
    );
    // A replica of the target that applies the stream holds the same keys.
    let mut replica = Db::new(Config::default());
    replica.set_replica(true);
    for cmd in &propagated {
        let cmd: Vec<Blob> = cmd.iter().map(|a| Blob::from_slice(a)).collect();
        replica.apply_replicated(&cmd, later, &mut rng());
    }
    assert_eq!(replica.dbsize(), 3);
    for key in ["a", "pre:3", "list"] {
        assert_eq!(
            replica.dump(key.as_bytes(), later),
            target.dump(key.as_bytes(), later),
            "{key}"
        );
    }
    assert_eq!(
        run(&mut replica, &[b"PEXPIRETIME", b"a"], later),
        Reply::Integer((NOW_MS + 5_000) as i64)
    );
    assert_eq!(source.dbsize(), 9);
    assert_eq!(target.dbsize(), 3);
}

#[test]
fn a_key_the_target_holds_stays_on_the_source_unless_replace() {
    let mut source = Db::new(Config::default());
    let mut target = Db::new(Config::default());
    for db in [&mut source, &mut target] {
        run(db, &[b"SET", b"both", b"mine"], NOW_MS);
    }
    run(&mut source, &[b"SET", b"only", b"1"], NOW_MS);
    source.set_propagation(true);
    let keys = vec![b"both".to_vec(), b"only".to_vec()];
    let (_, replies, reply) = migrate(&mut source, &mut target, &keys, NOW_MS);
    assert_eq!(
        replies.restores,
        vec![RestoreReply::Error(BUSYKEY.into()), RestoreReply::Ok]
    );
    assert_eq!(
        reply,
        Reply::error(
            "ERR Target instance replied with error: BUSYKEY Target key name already exists."
        )
    );
    // The acknowledged key went; the refused one stayed.
    assert_eq!(drained(&mut source), vec![words(&["DEL", "only"])]);
    assert_eq!(source.dbsize(), 1);
    assert_eq!(replies.reply_bytes(), (1 + BUSYKEY.len() as u64 + 2) + 5);

    run(&mut source, &[b"SET", b"both", b"newer"], NOW_MS);
    let mut batch = source.migrate_out(&[b"both"], NOW_MS);
    batch.replace = true;
    let replies = target.migrate_in(&batch, NOW_MS, &mut rng());
    assert_eq!(source.migrate_finish(&batch, &replies), Reply::Ok);
    assert_eq!(
        run(&mut target, &[b"GET", b"both"], NOW_MS),
        Reply::Bulk(Blob::from_slice(b"newer"))
    );
    assert_eq!(source.dbsize(), 0);
    assert_eq!(
        batch.restore_commands()[0].last().unwrap(),
        &Blob::from_slice(b"REPLACE")
    );
    assert_eq!(
        command_len(&batch.restore_commands()[0]),
        batch.request_bytes()
    );
}

#[test]
fn slots_not_served_by_the_target_are_refused_and_nothing_moves() {
    let mut source = Db::new(Config::default());
    let mut target = Db::new(Config::default());
    run(&mut source, &[b"SET", b"k", b"v"], NOW_MS);
    let slot = key_hash_slot(b"k");
    target.set_owned_slots([]);
    let node = target.cluster_node("10.0.0.3:6379");
    target.set_slot_state(slot, SlotState::Elsewhere(node));
    let (_, replies, reply) = migrate(&mut source, &mut target, &[b"k".to_vec()], NOW_MS);
    assert_eq!(
        replies.restores,
        vec![RestoreReply::Error(format!("MOVED {slot} 10.0.0.3:6379"))]
    );
    assert!(matches!(reply, Reply::Error(_)));
    assert_eq!((source.dbsize(), target.dbsize()), (1, 0));
    // An importing slot takes RESTORE-ASKING without ASKING; a plain RESTORE is sent
    // to the slot's owner, still the source (getNodeByQuery's base case).
    target.set_slot_state(slot, SlotState::Importing);
    let payload = source.dump(b"k", NOW_MS).unwrap();
    let mut session = Session::new(9);
    let restore = |name: &'static [u8]| {
        [
            Arg::Bytes(name),
            Arg::Bytes(b"k"),
            Arg::Bytes(b"0"),
            Arg::Bytes(&payload),
        ]
    };
    let reply = target.execute(&mut session, &restore(b"RESTORE"), NOW_MS, &mut rng());
    assert_eq!(reply, Reply::error(format!("MOVED {slot} 10.0.0.3:6379")));
    let reply = target.execute(
        &mut session,
        &restore(b"RESTORE-ASKING"),
        NOW_MS,
        &mut rng(),
    );
    assert_eq!(reply, Reply::Ok);
}

#[test]
fn nokey_sends_nothing_and_a_ttl_due_now_travels_as_one_ms() {
    let mut source = Db::new(Config::default());
    let mut target = Db::new(Config::default());
    let (batch, replies, reply) = migrate(&mut source, &mut target, &[b"none".to_vec()], NOW_MS);
    assert!(batch.is_empty());
    assert_eq!((batch.request_bytes(), replies.reply_bytes()), (0, 0));
    assert_eq!(reply, Reply::simple("NOKEY"));
    assert_eq!(store_core::migrate::migrate_reply_bytes(&reply), 8); // +NOKEY\r\n
    assert_eq!(store_core::migrate::migrate_reply_bytes(&Reply::Ok), 5);
    // Set 50 ms ahead, migrated in the very millisecond it is due (not yet expired:
    // a key expires strictly after its time).
    let due_ms = NOW_MS + 50;
    run(&mut source, &[b"SET", b"due", b"v"], NOW_MS);
    run(
        &mut source,
        &[b"PEXPIREAT", b"due", due_ms.to_string().as_bytes()],
        NOW_MS,
    );
    let mut batch = source.migrate_out(&[b"due"], due_ms);
    assert_eq!(batch.keys[0].ttl_ms, 1);
    batch.select = true;
    let replies = target.migrate_in(&batch, due_ms, &mut rng());
    assert_eq!(replies.select, Some(RestoreReply::Ok));
    assert_eq!(replies.reply_bytes(), 10);
    assert_eq!(
        batch.request_bytes(),
        command_len(&[Blob::from_slice(b"SELECT"), Blob::from_slice(b"0")])
            + batch.keys[0].request_bytes(false)
    );
    assert_eq!(
        run(&mut target, &[b"PEXPIRETIME", b"due"], due_ms),
        Reply::Integer(due_ms as i64 + 1)
    );
}

/// A slot resharded as redis-cli drives it: SETSLOT IMPORTING / MIGRATING, then
/// GETKEYSINSLOT 10 and MIGRATE until the slot is empty, then both nodes agree.
#[test]
fn a_whole_slot_moves_in_batches_of_ten() {
    let mut a = Db::new(Config {
        cluster_enabled: true,
        ..Config::default()
    });
    let mut b = Db::new(Config {
        cluster_enabled: true,
        ..Config::default()
    });
    a.prefill(PrefillRange::fixed("memtier-", 200_000, 100, 7))
        .unwrap();
    let slot = key_hash_slot(b"memtier-1234");
    run(&mut a, &[b"SET", b"memtier-1234", b"changed"], NOW_MS);
    run(&mut a, &[b"DEL", b"memtier-1235"], NOW_MS);
    let digest = Db::union_state_digest(&[&a, &b]);
    let in_slot = a.count_keys_in_slot(slot);
    assert!(
        in_slot > 5,
        "a 200k-key range puts about 12 keys in each slot"
    );
    let node = a.cluster_node("b:6379");
    a.set_slot_state(slot, SlotState::Migrating(node));
    b.set_slot_state(slot, SlotState::Importing);
    let mut calls = 0;
    loop {
        let keys = a.keys_in_slot(slot, 10);
        if keys.is_empty() {
            break;
        }
        let (batch, _, reply) = migrate(&mut a, &mut b, &keys, NOW_MS);
        assert_eq!(reply, Reply::Ok);
        assert_eq!(batch.keys.len(), keys.len());
        calls += 1;
    }
    assert_eq!(calls, in_slot.div_ceil(10));
    assert_eq!(
        (a.count_keys_in_slot(slot), b.count_keys_in_slot(slot)),
        (0, in_slot)
    );
    assert_eq!(Db::union_state_digest(&[&a, &b]), digest);
    // CLUSTER SETSLOT slot NODE b, on both.
    let node = a.cluster_node("b:6379");
    a.set_slot_state(slot, SlotState::Elsewhere(node));
    b.set_slot_state(slot, SlotState::Owned);
    assert_eq!(
        run(&mut b, &[b"GET", b"memtier-1234"], NOW_MS),
        Reply::Bulk(Blob::from_slice(b"changed"))
    );
}

/// Payload sizes: exact by default (each key's own DUMP length); sampled, letters of
/// one length count as one sample of that length, close to each exact size.
#[test]
fn payload_sizes_are_exact_or_sampled_per_length() {
    let mut db = Db::new(Config::default());
    db.prefill(PrefillRange::fixed("letters:", 50, 1_000, 3))
        .unwrap();
    db.prefill(
        PrefillRange::fixed("repeat:", 50, 5_000, 4)
            .with_fill(store_core::SyntheticFill::Repeat(b'x')),
    )
    .unwrap();
    let keys: Vec<Vec<u8>> = (0..50)
        .flat_map(|i| [format!("letters:{i}"), format!("repeat:{i}")])
        .map(String::into_bytes)
        .collect();
    let exact = db.clone().migrate_out(&keys, NOW_MS);
    for k in &exact.keys {
        let dumped = db.dump(&k.key, NOW_MS).unwrap().len() as u64;
        assert_eq!(k.payload_bytes, dumped);
        assert_eq!(db.dump_len(&k.key, NOW_MS), Some(dumped));
    }
    db.set_dump_sampling(true);
    let sampled = db.clone().migrate_out(&keys, NOW_MS);
    let letters: Vec<u64> = sampled
        .keys
        .iter()
        .filter(|k| k.key.starts_with(b"letters:"))
        .map(|k| k.payload_bytes)
        .collect();
    assert!(
        letters.windows(2).all(|w| w[0] == w[1]),
        "one sample per length"
    );
    for (s, e) in sampled.keys.iter().zip(&exact.keys) {
        if s.key.starts_with(b"repeat:") {
            assert_eq!(
                s.payload_bytes, e.payload_bytes,
                "repeated bytes stay exact"
            );
        } else {
            assert!(s.payload_bytes.abs_diff(e.payload_bytes) * 50 < e.payload_bytes);
        }
    }
}
