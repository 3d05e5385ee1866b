//! `kvsim serve` as a replication master, followed by a real redis-server 7.0.15
//! started with `--replicaof`: the replica completes its handshake and full sync (an
//! RDB of the keys written before it attached), applies the writes kvsim streams,
//! expiries as absolute times and INCRBYFLOAT as its result included, and after its
//! link is killed resumes with a partial resync from kvsim's backlog.
//!
//! Waits are bounded polls of the replica, each pause a read timeout on a socket.

#[path = "support/servers.rs"]
mod servers;

use servers::{start_kvsim, start_redis_with, Client};
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;
use store_core::resp::Frame;

/// Polls at most this many times, pausing POLL_PAUSE between: 15 s in all.
const POLL_ATTEMPTS: u32 = 300;
const POLL_PAUSE: Duration = Duration::from_millis(50);

/// A pause that is a read timeout on an idle connection to `port` (nothing is sent, so
/// nothing comes back before the timeout).
fn pause_on_socket(port: u16) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(POLL_PAUSE)).expect("timeout");
    let mut byte = [0u8; 1];
    let _ = stream.read(&mut byte);
}

/// Polls `probe` on the replica until it holds, pausing on a socket between polls.
fn wait_for(
    replica: &mut Client,
    pause_port: u16,
    what: &str,
    mut probe: impl FnMut(&mut Client) -> bool,
) {
    for _ in 0..POLL_ATTEMPTS {
        if probe(replica) {
            return;
        }
        pause_on_socket(pause_port);
    }
    panic!("the replica did not reach this within 15 s: {what}");
}

fn bulk(client: &mut Client, args: &[&str]) -> Option<Vec<u8>> {
    match client.call(args).expect("a reply") {
        Frame::Bulk(b) => Some(b),
        _ => None,
    }
}

fn info_has(client: &mut Client, section: &str, needle: &str) -> bool {
    bulk(client, &["INFO", section])
        .is_some_and(|text| String::from_utf8_lossy(&text).contains(needle))
}

#[test]
fn a_real_replica_follows_kvsim_serve() {
    let kvsim = start_kvsim(&[]);
    let port = kvsim.port.to_string();
    // Keys the full resync's snapshot carries.
    let mut early = Client::connect(kvsim.port).expect("connect to kvsim");
    for cmd in [
        &["SET", "pre", "42"][..],
        &["SET", "pre-ttl", "v", "EX", "1000"],
        &["RPUSH", "pre-list", "a", "b", "c"],
        &["HSET", "pre-hash", "f", "v"],
        &["ZADD", "pre-zset", "1.5", "m"],
        &["SADD", "pre-set", "1", "2", "x"],
    ] {
        early.call(cmd).expect("kvsim answers");
    }
    // A replica loading a disk-based snapshot writes it to its directory: a scratch
    // one, removed at the end.
    let dir = std::env::temp_dir().join(format!("kvsim-serve-replica-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let dir_arg = dir.to_string_lossy().into_owned();
    let replica_server = start_redis_with(&["--replicaof", "127.0.0.1", &port, "--dir", &dir_arg]);
    let mut replica = Client::connect(replica_server.port).expect("connect to the replica");
    let mut master = Client::connect(kvsim.port).expect("connect to kvsim");
    wait_for(&mut replica, kvsim.port, "master_link_status:up", |r| {
        info_has(r, "replication", "master_link_status:up")
    });

    for cmd in [
        &["SET", "a", "1"][..],
        &["SET", "ttl", "v", "EX", "1000"],
        &["INCRBYFLOAT", "f", "2.5"],
        &["RPUSH", "l", "x", "y"],
        &["HSET", "h", "f", "v"],
        &["SADD", "s", "m"],
        &["SPOP", "s"],
        &["MULTI"],
        &["INCR", "n"],
        &["INCR", "n"],
        &["EXEC"],
    ] {
        master.call(cmd).expect("kvsim answers");
    }
    wait_for(&mut replica, kvsim.port, "GET n = 2", |r| {
        bulk(r, &["GET", "n"]).as_deref() == Some(b"2")
    });
    assert_eq!(
        bulk(&mut replica, &["GET", "a"]).as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(
        bulk(&mut replica, &["GET", "pre"]).as_deref(),
        Some(&b"42"[..])
    );
    assert_eq!(
        replica.call(&["LLEN", "pre-list"]).expect("reply"),
        Frame::Integer(3)
    );
    assert_eq!(
        replica.call(&["SCARD", "pre-set"]).expect("reply"),
        Frame::Integer(3)
    );
    assert_eq!(
        bulk(&mut replica, &["HGET", "pre-hash", "f"]).as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(
        bulk(&mut replica, &["ZSCORE", "pre-zset", "m"]).as_deref(),
        Some(&b"1.5"[..])
    );
    let Frame::Integer(pre_ttl) = replica.call(&["TTL", "pre-ttl"]).expect("reply") else {
        panic!("TTL answers an integer");
    };
    assert!(
        (990..=1000).contains(&pre_ttl),
        "the snapshot kept the expiry: {pre_ttl}"
    );
    assert_eq!(
        bulk(&mut replica, &["GET", "f"]).as_deref(),
        Some(&b"2.5"[..])
    );
    assert_eq!(
        replica.call(&["LLEN", "l"]).expect("reply"),
        Frame::Integer(2)
    );
    assert_eq!(
        replica.call(&["EXISTS", "s"]).expect("reply"),
        Frame::Integer(0)
    );
    let Frame::Integer(ttl) = replica.call(&["TTL", "ttl"]).expect("reply") else {
        panic!("TTL answers an integer");
    };
    assert!(
        (990..=1000).contains(&ttl),
        "the expiry arrived as an absolute time: {ttl}"
    );
    assert_eq!(
        replica.call(&["DBSIZE"]).expect("reply"),
        master.call(&["DBSIZE"]).expect("reply")
    );

    assert!(info_has(
        &mut replica,
        "persistence",
        "rdb_last_load_keys_loaded:6\r\n"
    ));
    // Kill the link: the replica reconnects and asks to continue from its offset, and
    // kvsim continues from its backlog (a full resync would load a new snapshot).
    replica
        .call(&["CLIENT", "KILL", "TYPE", "master"])
        .expect("reply");
    master
        .call(&["SET", "after", "reconnect"])
        .expect("kvsim answers");
    wait_for(&mut replica, kvsim.port, "GET after", |r| {
        bulk(r, &["GET", "after"]).as_deref() == Some(b"reconnect")
    });
    assert!(info_has(
        &mut replica,
        "replication",
        "master_link_status:up"
    ));
    // Still the first snapshot's six keys: the reconnection loaded no new one.
    assert!(info_has(
        &mut replica,
        "persistence",
        "rdb_last_load_keys_loaded:6\r\n"
    ));
    drop(replica_server);
    let _ = std::fs::remove_dir_all(&dir);
}
