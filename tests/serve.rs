//! `kvsim serve` as a network server: protocol errors (the same reply bytes as
//! redis-server, then that connection closes while others keep being served),
//! pipelining, requests split across writes, large values, QUIT, cluster mode, hz=10
//! active expiry, and redis-cli against it. Where redis-server defines the behaviour,
//! the test runs the same bytes against both and compares everything each sends back.

#[path = "support/servers.rs"]
mod servers;

use servers::{escape, start_kvsim, start_redis, Client, Server};
use std::time::Duration;
use store_core::resp::{encode_request, Frame};

/// What a server sent back, and whether it closed the connection.
type Exchange = (Vec<u8>, bool);

/// Sends `input` in one write and returns all bytes the server sends back until it
/// closes the connection, and whether it did close (rather than going quiet).
fn exchange(server: &Server, input: &[u8]) -> Exchange {
    let mut client = Client::connect(server.port).expect("connect");
    client.send_raw(input).expect("send");
    // A server that keeps the connection open is caught by the read timeout; one second
    // is plenty on loopback for replies that are already computed.
    client.set_read_timeout(Duration::from_secs(1));
    client.read_to_close()
}

/// Malformed requests get redis-server's exact error bytes, after the replies to the
/// valid requests before them in the same write, and the connection is closed; the
/// same holds for input Redis accepts leniently (no error, connection kept open).
#[test]
fn protocol_errors_match_redis_and_close_the_connection() {
    let redis = start_redis();
    let kvsim = start_kvsim(&[]);
    let mut too_big_inline = vec![b'x'; 70_000];
    too_big_inline.extend_from_slice(b"\r\n");
    let cases: Vec<Vec<u8>> = vec![
        b"*x\r\n".to_vec(),
        b"*-0\r\n".to_vec(),
        b"*2147483648\r\n".to_vec(),
        b"*1\r\nx4\r\n".to_vec(),
        b"*1\r\n\r\n".to_vec(),
        b"*1\r\n$-1\r\n".to_vec(),
        b"*1\r\n$04\r\nPING\r\n".to_vec(),
        b"*1\r\n$536870913\r\n".to_vec(),
        b"ECHO \"abc\r\n".to_vec(),
        b"ECHO \"abc\"d\r\n".to_vec(),
        b"ECHO 'abc\r\n".to_vec(),
        b"PING\r\nSET a b\r\nGET a\r\n*1\r\n$-5\r\nPING\r\n".to_vec(),
        b"*1\r\n$4\r\nPING\r\n*1\r\nGET\r\n".to_vec(),
        too_big_inline,
        b"PING\r\n*1\r\n$4\r\nPINGxx".to_vec(),
        b"*0\r\n*-1\r\n\r\n\n  \r\nPING\n".to_vec(),
        b"ECHO \"\\x41\\x4a\\n\\t\" 'it\\'s'\r\nECHO a b\r\n".to_vec(),
        b"QUIT\r\nPING\r\n".to_vec(),
        b"quit extra args\r\n".to_vec(),
    ];
    // Every exchange that leaves its connection open waits out the read timeout, so
    // they all run at once.
    let results: Vec<(Exchange, Exchange)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|case| {
                let expected = scope.spawn(|| exchange(&redis, case));
                let actual = scope.spawn(|| exchange(&kvsim, case));
                (expected, actual)
            })
            .collect();
        handles
            .into_iter()
            .map(|(e, a)| (e.join().expect("exchange"), a.join().expect("exchange")))
            .collect()
    });
    let mut report = Vec::new();
    for (case, (expected, actual)) in cases.iter().zip(results) {
        if expected != actual {
            report.push(format!(
                "input {}\n  redis-server: {} (closed: {})\n         kvsim: {} (closed: {})",
                escape(&case[..case.len().min(80)]),
                escape(&expected.0),
                expected.1,
                escape(&actual.0),
                actual.1
            ));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

/// A protocol error closes only the connection that sent it.
#[test]
fn other_connections_keep_being_served() {
    let kvsim = start_kvsim(&[]);
    let mut before = Client::connect(kvsim.port).unwrap();
    assert_eq!(
        before.call(&["SET", "k", "v"]).unwrap(),
        Frame::Simple(b"OK".to_vec())
    );
    let (bytes, closed) = exchange(&kvsim, b"*1\r\nx\r\n");
    assert_eq!(bytes, b"-ERR Protocol error: expected '$', got 'x'\r\n");
    assert!(closed);
    assert_eq!(
        before.call(&["GET", "k"]).unwrap(),
        Frame::Bulk(b"v".to_vec())
    );
    let mut after = Client::connect(kvsim.port).unwrap();
    assert_eq!(
        after.call(&["GET", "k"]).unwrap(),
        Frame::Bulk(b"v".to_vec())
    );
}

/// Thousands of pipelined commands in one write are answered in order, with the same
/// bytes redis-server sends.
#[test]
fn pipelined_commands_are_answered_in_order() {
    let redis = start_redis();
    let kvsim = start_kvsim(&[]);
    let mut wire = Vec::new();
    for i in 0..3000 {
        let key = format!("key:{}", i % 700);
        match i % 4 {
            0 => encode_request(&["SET", &key, &format!("value-{i}")], &mut wire),
            1 => encode_request(&["GET", &key], &mut wire),
            2 => encode_request(&["INCR", &format!("n:{}", i % 13)], &mut wire),
            _ => encode_request(&["RPUSH", &format!("l:{}", i % 7), &key], &mut wire),
        }
    }
    encode_request(&["LRANGE", "l:3", "0", "-1"], &mut wire);
    encode_request(&["QUIT"], &mut wire);
    let expected = exchange(&redis, &wire);
    let actual = exchange(&kvsim, &wire);
    assert!(expected.1 && actual.1, "QUIT closes both connections");
    assert_eq!(escape(&actual.0), escape(&expected.0));
}

/// A request arriving one byte per write, and a 3 MB value arriving in many reads,
/// parse exactly as if sent whole.
#[test]
fn split_requests_and_large_values() {
    let kvsim = start_kvsim(&[]);
    let mut client = Client::connect(kvsim.port).unwrap();
    let mut wire = Vec::new();
    encode_request(&["SET", "split", "a value"], &mut wire);
    for byte in &wire {
        client.send_raw(std::slice::from_ref(byte)).unwrap();
    }
    assert_eq!(
        client.read_reply().unwrap().0,
        Frame::Simple(b"OK".to_vec())
    );
    let value: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    client.send(&[&b"SET"[..], b"big", &value]).unwrap();
    assert_eq!(
        client.read_reply().unwrap().0,
        Frame::Simple(b"OK".to_vec())
    );
    assert_eq!(client.call(&["GET", "big"]).unwrap(), Frame::Bulk(value));
    assert_eq!(
        client.call(&["GET", "split"]).unwrap(),
        Frame::Bulk(b"a value".to_vec())
    );
}

/// With `--cluster` the server answers as a cluster node that owns every slot.
#[test]
fn cluster_mode_owns_all_slots() {
    let kvsim = start_kvsim(&["--cluster"]);
    let mut client = Client::connect(kvsim.port).unwrap();
    assert_eq!(
        client.call(&["CLUSTER", "KEYSLOT", "foo"]).unwrap(),
        Frame::Integer(12182)
    );
    assert_eq!(
        client
            .call(&["CLUSTER", "KEYSLOT", "{user1000}.following"])
            .unwrap(),
        Frame::Integer(3443)
    );
    assert_eq!(
        client.call(&["SET", "foo", "1"]).unwrap(),
        Frame::Simple(b"OK".to_vec())
    );
    assert_eq!(
        client.call(&["GET", "foo"]).unwrap(),
        Frame::Bulk(b"1".to_vec())
    );
}

/// The server runs active expiry on its own (hz=10): a key with a short TTL that nobody
/// touches leaves DBSIZE (which counts expired keys not yet reclaimed). Polled a bounded
/// number of times.
#[test]
fn active_expiry_reclaims_untouched_keys() {
    let kvsim = start_kvsim(&[]);
    let mut client = Client::connect(kvsim.port).unwrap();
    assert_eq!(
        client.call(&["SET", "short", "v", "PX", "100"]).unwrap(),
        Frame::Simple(b"OK".to_vec())
    );
    client.call(&["SET", "long", "v"]).unwrap();
    let mut dbsize = Frame::Null;
    for _ in 0..150 {
        dbsize = client.call(&["DBSIZE"]).unwrap();
        if dbsize == Frame::Integer(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        dbsize,
        Frame::Integer(1),
        "the expired key is reclaimed within 3 s"
    );
}

/// redis-cli, the reference client, works against it (handshake, commands, replies).
#[test]
fn redis_cli_works() {
    let kvsim = start_kvsim(&[]);
    let port = kvsim.port.to_string();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .expect("redis-cli runs (it ships with redis-server)");
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    };
    assert_eq!(cli(&["PING"]), "PONG");
    assert_eq!(cli(&["SET", "greeting", "hello world"]), "OK");
    assert_eq!(cli(&["GET", "greeting"]), "hello world");
    assert_eq!(
        cli(&["-3", "--no-raw", "HSET", "h", "f", "v"]),
        "(integer) 1"
    );
    assert_eq!(cli(&["--no-raw", "HGETALL", "h"]), "1) \"f\"\n2) \"v\"");
    assert_eq!(
        cli(&["-3", "--no-raw", "HGETALL", "h"]),
        "1# \"f\" => \"v\""
    );
}
