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
        // Cross-protocol scripting: an HTTP request sent to the port.
        b"PING\r\nPOST / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        b"Host: localhost\r\nPING\r\n".to_vec(),
        b"*1\r\n$4\r\npost\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
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

/// INFO's connected_clients counts the connections the server has open.
#[test]
fn info_counts_the_connected_clients() {
    let kvsim = start_kvsim(&[]);
    let connected = |client: &mut Client| -> String {
        let Frame::Bulk(info) = client.call(&["INFO", "clients"]).expect("INFO") else {
            panic!("INFO answers a bulk string");
        };
        let info = String::from_utf8(info).expect("UTF-8");
        let line = info
            .lines()
            .find(|l| l.starts_with("connected_clients:"))
            .expect("connected_clients");
        line.to_string()
    };
    let mut first = Client::connect(kvsim.port).unwrap();
    assert_eq!(connected(&mut first), "connected_clients:1");
    let mut others: Vec<Client> = (0..3)
        .map(|_| Client::connect(kvsim.port).unwrap())
        .collect();
    // Each is served (and so accepted) before the count is read.
    for c in &mut others {
        c.call(&["PING"]).unwrap();
    }
    assert_eq!(connected(&mut first), "connected_clients:4");
    drop(others.pop());
    // The close is seen when its event is handled; a PING on each survivor after it
    // orders nothing, so ask until the count settles (bounded).
    let mut seen = String::new();
    for _ in 0..200 {
        seen = connected(&mut first);
        if seen == "connected_clients:3" {
            break;
        }
    }
    assert_eq!(seen, "connected_clients:3");
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

/// The server runs Redis's active expire cycle ten times a second of its clock: a key
/// with a short TTL that nobody touches leaves DBSIZE (which counts expired keys not yet
/// reclaimed) at the first cycle after it expires, not before. On a manual clock, so the
/// test controls time instead of waiting for it.
#[test]
fn active_expiry_reclaims_untouched_keys() {
    let start_ms = "1767225600000";
    let kvsim = start_kvsim(&["--manual-clock", start_ms]);
    let mut client = Client::connect(kvsim.port).unwrap();
    let ok = Frame::Simple(b"OK".to_vec());
    assert_eq!(
        client.call(&["SET", "short", "v", "PX", "100"]).unwrap(),
        ok
    );
    assert_eq!(client.call(&["SET", "long", "v"]).unwrap(), ok);
    // t = 150 ms: expired at 100 ms, but the cycle at 100 ms ran when it was not yet
    // past its expiry (Redis expires strictly after), and no cycle has run since.
    assert_eq!(advance(&mut client, "150"), ok);
    assert_eq!(client.call(&["DBSIZE"]).unwrap(), Frame::Integer(2));
    // t = 210 ms: the cycle at 200 ms reclaimed it.
    assert_eq!(advance(&mut client, "60"), ok);
    assert_eq!(client.call(&["DBSIZE"]).unwrap(), Frame::Integer(1));
    assert_eq!(client.call(&["PTTL", "long"]).unwrap(), Frame::Integer(-1));
}

/// Sends `DEBUG ADVANCE-CLOCK ms` and returns the reply.
fn advance(client: &mut Client, ms: &str) -> Frame {
    client.call(&["DEBUG", "ADVANCE-CLOCK", ms]).unwrap()
}

/// DEBUG ADVANCE-CLOCK is refused on the real clock, with a bad amount, past an hour
/// at a time and past the end of the clock, with Redis-style errors, and the
/// connection stays usable.
#[test]
fn advance_clock_needs_a_manual_clock_and_a_number() {
    let real = start_kvsim(&[]);
    let mut client = Client::connect(real.port).unwrap();
    assert_eq!(
        advance(&mut client, "10"),
        Frame::Error(b"ERR DEBUG ADVANCE-CLOCK needs kvsim serve --manual-clock".to_vec())
    );
    let manual = start_kvsim(&["--manual-clock", "0"]);
    let mut client = Client::connect(manual.port).unwrap();
    assert_eq!(
        advance(&mut client, "-5"),
        Frame::Error(b"ERR value is not an integer or out of range".to_vec())
    );
    // A huge step would run billions of cycles: refused, not a hung server.
    assert_eq!(
        advance(&mut client, "18446744073709551615"),
        Frame::Error(b"ERR DEBUG ADVANCE-CLOCK moves at most 3600000 ms at a time".to_vec())
    );
    let near_the_end = start_kvsim(&["--manual-clock", "18446744073709551600"]);
    let mut end_client = Client::connect(near_the_end.port).unwrap();
    assert_eq!(
        advance(&mut end_client, "100"),
        Frame::Error(b"ERR the clock would pass the largest Unix time in ms".to_vec())
    );
    assert_eq!(
        advance(&mut end_client, "15"),
        Frame::Simple(b"OK".to_vec())
    );
    assert_eq!(
        client.call(&["PING"]).unwrap(),
        Frame::Simple(b"PONG".to_vec())
    );
}

/// redis-cli, the reference client, works against it (handshake, commands, replies).
#[test]
fn redis_cli_works() {
    let kvsim = start_kvsim(&[]);
    let port = kvsim.port.to_string();
    let cli = |args: &[&str]| {
        // coreutils' timeout bounds a redis-cli that would wait forever on a mute server.
        let out = std::process::Command::new("timeout")
            .args(["10", "redis-cli", "-h", "127.0.0.1", "-p", &port])
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

/// Builds one pseudo-random request stream: valid multibulk and inline commands mixed
/// with the malformed pieces a buggy client sends (bad headers, unbalanced quotes, NUL
/// bytes, stray type bytes). Payload bytes are ASCII (control bytes included): a stream
/// that falls out of step turns payloads into inline command names, and an unknown
/// command whose name is not UTF-8 is a known gap (`Reply::Error` holds text, so the store
/// answers U+FFFD where Redis echoes the raw byte).
fn random_stream(rng: &mut impl rand_chacha::rand_core::RngCore) -> Vec<u8> {
    let mut pick = |n: u32| rng.next_u32() % n;
    let mut out = Vec::new();
    let pieces = 1 + pick(6);
    for _ in 0..pieces {
        let mut payload: Vec<u8> = (0..pick(12)).map(|_| pick(128) as u8).collect();
        if pick(2) == 0 {
            payload.retain(|b| b.is_ascii_alphanumeric());
        }
        let key = format!("k{}", pick(3));
        match pick(12) {
            0 => encode_request(&[&b"ECHO"[..], &payload], &mut out),
            1 => encode_request(&[&b"SET"[..], key.as_bytes(), &payload], &mut out),
            2 => encode_request(&["GET", &key], &mut out),
            3 => encode_request(&[&b"APPEND"[..], key.as_bytes(), &payload], &mut out),
            4 => encode_request(&["INCR", &key], &mut out),
            5 => {
                let spaces = [" ", "  ", "\t", " \t "];
                let sep = spaces[pick(4) as usize];
                let words = [
                    "PING",
                    "ECHO",
                    "GET",
                    "SET",
                    "\"a b\"",
                    "'c'",
                    "\"\\x41\\n\"",
                    "x",
                ];
                let mut line = String::new();
                for i in 0..1 + pick(4) {
                    if i > 0 {
                        line.push_str(sep);
                    }
                    line.push_str(words[pick(words.len() as u32) as usize]);
                }
                out.extend_from_slice(line.as_bytes());
                out.extend_from_slice(if pick(2) == 0 { b"\r\n" } else { b"\n" });
            }
            6 => out
                .extend_from_slice([&b"\r\n"[..], b"\n", b"*0\r\n", b"*-1\r\n"][pick(4) as usize]),
            7 => {
                let bad: [&[u8]; 14] = [
                    b"*abc\r\n",
                    b"*1\r\n$",
                    b"*1\r\n$x\r\n",
                    b"*2\r\n$4\r\nECHO\r\n:1\r\n",
                    b"$4\r\nPING\r\n",
                    b"ECHO \"unbalanced\r\n",
                    b"ECHO 'x'y\r\n",
                    b"*1\r\n$4\r\nPINGxx",
                    b"*1\0\r\n",
                    b"PI\0NG\r\n",
                    b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$-1\r\n",
                    b"*1\r\n$2\r\nab",
                    b"+OK\r\n",
                    b"*-5\r\n",
                ];
                out.extend_from_slice(bad[pick(bad.len() as u32) as usize]);
            }
            _ => {
                // Noise from the bytes that matter to the parser.
                let alphabet = b"*$\r\n0123-\"'\\ x\0";
                for _ in 0..pick(10) {
                    out.push(alphabet[pick(alphabet.len() as u32) as usize]);
                }
            }
        }
    }
    out
}

/// Sends `input`, then closes the sending side: both servers answer what they parsed and
/// close, so the whole exchange is known without waiting for a timeout.
fn exchange_half_closed(server: &Server, input: &[u8]) -> Vec<u8> {
    let mut client = Client::connect(server.port).expect("connect");
    client.send_raw(input).expect("send");
    client.shutdown_write();
    let (bytes, _) = client.read_to_close();
    bytes
}

/// A thousand pseudo-random request streams (fixed seed) get the same bytes back from
/// kvsim as from redis-server: the request parser agrees with Redis's on where requests
/// end, what their arguments are, and which error ends a connection.
#[test]
fn random_request_streams_match_redis() {
    use rand_chacha::rand_core::SeedableRng;
    let redis = start_redis();
    let kvsim = start_kvsim(&[]);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let mut report = Vec::new();
    for case in 0..1000 {
        let input = random_stream(&mut rng);
        // Each case starts from the same keys on both servers.
        for server in [&redis, &kvsim] {
            Client::connect(server.port)
                .and_then(|mut c| c.call(&["FLUSHALL"]))
                .expect("FLUSHALL");
        }
        let expected = exchange_half_closed(&redis, &input);
        let actual = exchange_half_closed(&kvsim, &input);
        if expected != actual {
            report.push(format!(
                "case {case} (seed 0x5eed), input {}\n  redis-server: {}\n         kvsim: {}",
                escape(&input),
                escape(&expected),
                escape(&actual)
            ));
        }
    }
    assert!(
        report.is_empty(),
        "{} cases differ:\n{}",
        report.len(),
        report.join("\n")
    );
}

/// SIGTERM stops the server cleanly: it exits with status 0 (polled a bounded number of
/// times), and the port no longer answers.
#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut kvsim = start_kvsim(&[]);
    let mut client = Client::connect(kvsim.port).unwrap();
    assert_eq!(
        client.call(&["PING"]).unwrap(),
        Frame::Simple(b"PONG".to_vec())
    );
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &kvsim.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let status = kvsim.wait_exit(Duration::from_secs(5));
    let status = status.expect("kvsim serve exits within 5 s of SIGTERM");
    assert!(status.success(), "exit status {status}");
    let (_, closed) = client.read_to_close();
    assert!(closed, "the connection is closed");
}

/// Settings `kvsim serve` would not read are refused before it listens: a thread count
/// for the one-keyspace redis engine, or a thread count out of range.
#[test]
fn serve_refuses_threads_it_would_not_use() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kvsim"))
            .arg("serve")
            .args(args)
            .output()
            .expect("kvsim runs")
    };
    let out = run(&["--port", "0", "--threads", "4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --engine dragonfly"));
    let out = run(&["--port", "0", "--engine", "dragonfly", "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
}
