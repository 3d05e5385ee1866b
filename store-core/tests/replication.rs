//! The replication differential: each command script in `tests/replication/*.txt` runs
//! against a real redis-server 7.0.15 that has one replica, this test, attached by the
//! replication protocol (`REPLCONF`, `PSYNC ? -1`, the RDB skipped), and against a `Db`
//! with propagation on. The replication stream the server sends must equal, byte for
//! byte, `SELECT 0` followed by the commands the `Db` propagated; every reply must match
//! too. Absolute expiry times differ only by when each read the clock: the `Db` runs
//! each command at the server's TIME taken just before it was sent, so a time in the
//! server's stream is accepted in place of the `Db`'s when it is later by no more than
//! the server's TIME just after the reply. (The test reads no clock of its own.)
//!
//! After each script line the test sends `PUBLISH __marker__ <line>` to the server, which
//! propagates it, and appends the same command to the store's stream: the stream up to
//! that marker is the line's effects, so a mismatch is reported at its line. The
//! server runs with active expiry off (`DEBUG SET-ACTIVE-EXPIRE 0`), so every expiry
//! is the lazy one the script provokes, and the `Db` never runs an active cycle.
//!
//! Script syntax: one command per line, split like an inline request ("double quotes"
//! group an argument); `#` starts a comment. A line may start with `@N ` to run on
//! client N (default 1; each client is its own connection and `Session`), and with
//! `@any ` to skip comparing its reply (the stream is still compared).
//!
//! Set `REPL_DUMP=1` to print each line's share of the server's stream.
//!
//! Every wait is bounded: sockets have read timeouts, and the replica link re-sends
//! `REPLCONF ACK` on each timeout (the server starts streaming to a new replica on its
//! first ACK) for a bounded number of attempts.

use rand::SeedableRng;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use store_core::repl::{
    encode_command, select_db0, Psync, ReplicationLog, DEFAULT_BACKLOG_SIZE_BYTES,
};
use store_core::resp::{
    encode_request, encode_to_vec, parse_frame, Frame, Protocol, RequestParser,
};
use store_core::{Arg, Blob, Config, Db, Session};

/// How long one read may block before the test re-sends an ACK or gives up.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// Read timeouts tolerated while waiting for one reply or marker: 10 s in all.
const READ_ATTEMPTS: u32 = 100;
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// `*1\r\n$4\r\nPING\r\n`, which the server sends on its own every
/// repl-ping-replica-period (set long here, so none is expected).
const PING_BYTES: u64 = 14;

struct RedisServer {
    port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn redis_server_path() -> &'static str {
    for candidate in [
        "redis-server",
        "/usr/bin/redis-server",
        "/usr/local/bin/redis-server",
    ] {
        if Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
        {
            return candidate;
        }
    }
    panic!(
        "redis-server not found: the replication differential needs redis-server 7.0.15 on PATH"
    );
}

/// Starts redis-server on a free port with diskless full syncs that start at once, and
/// waits until it prints that it accepts connections (no polling).
fn start_redis() -> RedisServer {
    start_redis_with(&[])
}

/// As `start_redis`, with more arguments (`--replicaof` for a real replica).
fn start_redis_with(extra_args: &[&str]) -> RedisServer {
    use std::io::BufRead;
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("store-core-repl-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let mut child = Command::new(redis_server_path())
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args([
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ])
        .args(["--enable-debug-command", "yes"])
        .args(["--repl-ping-replica-period", "3600"])
        .args(extra_args)
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("redis-server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("Ready to accept connections") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    let server = RedisServer { port, child, dir };
    rx.recv_timeout(START_TIMEOUT)
        .expect("redis-server did not become ready within 10 s");
    server
}

/// A socket with a buffer of bytes received and not yet consumed.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn connect(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, args: &[&[u8]]) {
        let mut wire = Vec::new();
        encode_request(args, &mut wire);
        self.stream.write_all(&wire).expect("send");
    }

    /// Reads more bytes; false on a timeout. `on_timeout` runs at each timeout.
    fn fill(&mut self, attempts: &mut u32, on_timeout: &mut dyn FnMut(&mut TcpStream)) {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                *attempts += 1;
                assert!(
                    *attempts < READ_ATTEMPTS,
                    "no data from the server within 10 s"
                );
                on_timeout(&mut self.stream);
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    /// One whole frame and its exact bytes.
    fn read_frame(&mut self, on_timeout: &mut dyn FnMut(&mut TcpStream)) -> (Frame, Vec<u8>) {
        let mut attempts = 0;
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf).expect("valid RESP") {
                let bytes = self.buf.drain(..used).collect();
                return (frame, bytes);
            }
            self.fill(&mut attempts, on_timeout);
        }
    }

    /// One line ending in CRLF, without it.
    fn read_line(&mut self) -> Vec<u8> {
        let mut attempts = 0;
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..end].to_vec();
                self.buf.drain(..end + 2);
                return line;
            }
            self.fill(&mut attempts, &mut |_| {});
        }
    }

    fn read_exact_buffered(&mut self, n: usize) -> Vec<u8> {
        let mut attempts = 0;
        while self.buf.len() < n {
            self.fill(&mut attempts, &mut |_| {});
        }
        self.buf.drain(..n).collect()
    }
}

fn send_ack(stream: &mut TcpStream) {
    let mut wire = Vec::new();
    encode_request(&[&b"REPLCONF"[..], b"ACK", b"0"], &mut wire);
    let _ = stream.write_all(&wire);
}

/// Attaches as a replica: the handshake, `PSYNC ? -1`, and the RDB payload skipped.
/// Returns the link and the replication id and offset the server announced.
fn attach_replica(port: u16) -> (Conn, String, u64) {
    let mut link = Conn::connect(port);
    link.send(&[b"REPLCONF", b"listening-port", b"6380"]);
    assert_eq!(link.read_line(), b"+OK");
    link.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]);
    assert_eq!(link.read_line(), b"+OK");
    link.send(&[b"PSYNC", b"?", b"-1"]);
    let reply = String::from_utf8(link.read_line()).expect("text");
    let mut words = reply.split(' ');
    assert_eq!(
        words.next(),
        Some("+FULLRESYNC"),
        "PSYNC answered {reply:?}"
    );
    let replid = words.next().expect("a replication id").to_string();
    let offset: u64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .expect("an offset");
    // The payload may be preceded by newlines the master sends while it prepares it.
    // (Newlines carry no CR, so they prefix the header's line.)
    let line = link.read_line();
    let header: Vec<u8> = line.into_iter().skip_while(|&b| b == b'\n').collect();
    if let Some(mark) = header.strip_prefix(b"$EOF:") {
        // Diskless: the RDB ends with the 40-byte mark.
        let mut attempts = 0;
        loop {
            if let Some(at) = link.buf.windows(mark.len()).position(|w| w == mark) {
                link.buf.drain(..at + mark.len());
                break;
            }
            link.fill(&mut attempts, &mut |_| {});
        }
    } else {
        let len: usize = std::str::from_utf8(&header[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("an RDB length");
        link.read_exact_buffered(len);
    }
    send_ack(&mut link.stream);
    (link, replid, offset)
}

/// What the server answers `PSYNC replid offset` with: true for +CONTINUE.
fn server_psync_continues(port: u16, replid: &str, offset: i64) -> bool {
    let mut link = Conn::connect(port);
    link.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]);
    assert_eq!(link.read_line(), b"+OK");
    let offset = offset.to_string();
    link.send(&[b"PSYNC", replid.as_bytes(), offset.as_bytes()]);
    let reply = link.read_line();
    if reply.starts_with(b"+CONTINUE") {
        true
    } else {
        assert!(
            reply.starts_with(b"+FULLRESYNC"),
            "PSYNC answered {reply:?}"
        );
        false
    }
}

/// Waits until the server reports the replica online: its snapshot child has exited
/// then (a FLUSHALL would otherwise kill it, and the sync with it). Each poll waits on
/// the link socket's read timeout, re-sending the ACK that puts a replica online.
fn wait_online(admin: &mut Conn, link: &mut Conn) {
    let mut attempts = 0;
    for _ in 0..READ_ATTEMPTS {
        admin.send(&[b"INFO", b"replication"]);
        let (frame, _) = admin.read_frame(&mut |_| {});
        if let Frame::Bulk(text) = frame {
            if String::from_utf8_lossy(&text).contains("state=online") {
                return;
            }
        }
        link.fill(&mut attempts, &mut send_ack);
    }
    panic!("the server did not put the test's replica online");
}

/// The server's `master_repl_offset` (INFO replication).
fn server_repl_offset(conn: &mut Conn) -> u64 {
    conn.send(&[b"INFO", b"replication"]);
    let (frame, _) = conn.read_frame(&mut |_| {});
    let Frame::Bulk(text) = frame else {
        panic!("INFO answered {frame:?}");
    };
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO replication has master_repl_offset")
}

/// A script line's arguments, split as Redis splits an inline request (quotes, `\xHH`).
fn split_args(line: &str) -> Vec<Vec<u8>> {
    let mut wire = line.as_bytes().to_vec();
    wire.extend_from_slice(b"\r\n");
    let mut parser = RequestParser::new();
    match parser.parse(&wire) {
        Ok(Some(_)) if parser.argc() > 0 => parser.args(&wire).map(<[u8]>::to_vec).collect(),
        other => panic!("not a command line ({other:?}): {line}"),
    }
}

/// The server's clock (TIME), in ms: the test reads no clock of its own.
fn server_time_ms(conn: &mut Conn) -> u64 {
    conn.send(&[b"TIME"]);
    let (frame, _) = conn.read_frame(&mut |_| {});
    let parts: Vec<u64> = match frame {
        Frame::Array(items) => items
            .iter()
            .filter_map(|f| match f {
                Frame::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
                _ => None,
            })
            .collect(),
        other => panic!("TIME answered {other:?}"),
    };
    assert_eq!(parts.len(), 2, "TIME answers seconds and microseconds");
    parts[0] * 1000 + parts[1] / 1000
}

fn frame_argv(frame: &Frame) -> Vec<Vec<u8>> {
    match frame {
        Frame::Array(items) => items
            .iter()
            .map(|f| match f {
                Frame::Bulk(b) => b.clone(),
                other => panic!("a stream command argument is not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("a stream frame is not a command: {other:?}"),
    }
}

fn is_ping(argv: &[Vec<u8>]) -> bool {
    argv.len() == 1 && argv[0].eq_ignore_ascii_case(b"PING")
}

/// An absolute time in ms, as propagated expiries carry them.
fn as_time_ms(arg: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(arg).ok()?;
    let n: u64 = text.parse().ok()?;
    (n > 1_000_000_000_000 && n.to_string() == text).then_some(n)
}

/// Replaces each absolute time in the server's commands by the store's at the same
/// place when it is later by at most `window_ms` (the server read its clock after the
/// test did, within the round trip).
fn align_times(server: &mut [Vec<Vec<u8>>], store: &[Vec<Vec<u8>>], window_ms: u64) {
    for (s_cmd, d_cmd) in server.iter_mut().zip(store) {
        for (s_arg, d_arg) in s_cmd.iter_mut().zip(d_cmd) {
            if let (Some(s), Some(d)) = (as_time_ms(s_arg), as_time_ms(d_arg)) {
                if s >= d && s - d <= window_ms {
                    *s_arg = d_arg.clone();
                }
            }
        }
    }
}

/// Commands whose effects depend on a random draw or on the order of a hash table:
/// SPOP's members, the victims (and their order) of evictions CONFIG SET starts, the
/// expired keys SCAN meets in its order. Their share of the stream is compared by
/// `same_up_to_chance`.
const RANDOM_EFFECTS: &[&[u8]] = &[b"SPOP", b"CONFIG", b"SCAN"];

/// Equal as multisets once SREM's member is masked: the same commands on the same keys,
/// whichever members and victims the draws chose, in whatever order.
fn same_up_to_chance(server: &[Vec<Vec<u8>>], store: &[Vec<Vec<u8>>]) -> bool {
    let masked = |cmds: &[Vec<Vec<u8>>]| {
        let mut out: Vec<Vec<Vec<u8>>> = cmds
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if c.len() == 3 && c[0].eq_ignore_ascii_case(b"SREM") {
                    c[2] = b"*".to_vec();
                }
                c
            })
            .collect();
        out.sort();
        out
    };
    masked(server) == masked(store)
}

fn encode_all(cmds: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for cmd in cmds {
        let blobs: Vec<Blob> = cmd.iter().map(|a| Blob::from_slice(a)).collect();
        encode_command(&blobs, &mut out);
    }
    out
}

fn blob_argv(cmd: &[Blob]) -> Vec<Vec<u8>> {
    cmd.iter().map(Blob::to_vec).collect()
}

fn escape(data: &[u8]) -> String {
    data.iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

fn run_script(path: &Path) -> Vec<String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_default();
    let text = std::fs::read_to_string(path).expect("script readable");
    let server = start_redis();
    let mut admin = Conn::connect(server.port);
    admin.send(&[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"]);
    assert_eq!(admin.read_frame(&mut |_| {}).1, b"+OK\r\n");
    let (mut link, server_replid, start_offset) = attach_replica(server.port);
    wait_online(&mut admin, &mut link);
    // The store's side of the link: a log fed what the store propagates (it emits the
    // SELECT 0 a full resync calls for by itself).
    let mut log_rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut log =
        ReplicationLog::with_offset(DEFAULT_BACKLOG_SIZE_BYTES, start_offset, &mut log_rng);
    let mut pings = 0u64;

    let mut db = Db::new(Config::default());
    db.set_propagation(true);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut clients: BTreeMap<u64, (Conn, Session)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut first_chunk = true;
    let mut store_out = Vec::new();

    for (number, raw) in text.lines().enumerate() {
        let number = number + 1;
        let mut line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut client_id = 1;
        let mut any_reply = false;
        while let Some(rest) = line.strip_prefix('@') {
            let (directive, rest) = rest.split_once(' ').expect("@directive command");
            match directive.parse() {
                Ok(id) => client_id = id,
                // `@any`, or a directive of the reply differential's scripts (a reply
                // compared loosely there): the stream is still compared.
                Err(_) => any_reply = true,
            }
            line = rest.trim_start();
        }
        if std::env::var_os("REPL_TRACE").is_some() {
            eprintln!("{name}:{number}: {line}");
        }
        let args = split_args(line);
        let arg_refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let (conn, session) = clients
            .entry(client_id)
            .or_insert_with(|| (Conn::connect(server.port), Session::new(client_id)));

        let before_ms = server_time_ms(&mut admin);
        conn.send(&arg_refs);
        let (_, server_reply) = conn.read_frame(&mut |_| {});
        let after_ms = server_time_ms(&mut admin);

        let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a)).collect();
        let reply = db.execute(session, &argv, before_ms, &mut rng);
        let protocol = if session.protocol() == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        let store_reply = encode_to_vec(&reply, protocol);
        if !any_reply && store_reply != server_reply {
            failures.push(format!(
                "{name}:{number}: `{line}` replies differ\n  redis: {}\n  store: {}",
                escape(&server_reply),
                escape(&store_reply)
            ));
        }

        // The marker closes this line's share of the server's stream. PUBLISH is
        // propagated (forced) and never refused for memory, and changes no key; the
        // store does not run it, its stream gets the same command appended.
        let marker = number.to_string();
        let marker_args: [&[u8]; 3] = [b"PUBLISH", b"__marker__", marker.as_bytes()];
        admin.send(&marker_args);
        admin.read_frame(&mut |_| {});

        let mut server_cmds = Vec::new();
        loop {
            let (frame, _) = link.read_frame(&mut send_ack);
            let argv = frame_argv(&frame);
            if is_ping(&argv) {
                pings += 1;
                continue;
            }
            let done = argv.len() == 3 && argv[1] == b"__marker__" && argv[2] == marker.as_bytes();
            server_cmds.push(argv);
            if done {
                break;
            }
        }
        store_out.clear();
        if first_chunk {
            store_out.push(select_db0());
            first_chunk = false;
        }
        let first_own = store_out.len();
        db.drain_propagated(&mut store_out);
        // Redis evicts before running the marker, as before any command: PING does the
        // same in the store.
        db.execute(
            &mut Session::new(0),
            &[Arg::Bytes(b"PING")],
            after_ms,
            &mut rng,
        );
        db.drain_propagated(&mut store_out);
        store_out.push(marker_args.iter().map(|a| Blob::from_slice(a)).collect());
        for cmd in &store_out[first_own..] {
            log.append(cmd.clone());
        }
        let store_cmds: Vec<Vec<Vec<u8>>> = store_out.iter().map(|c| blob_argv(c)).collect();
        align_times(&mut server_cmds, &store_cmds, after_ms - before_ms);
        let (server_bytes, store_bytes) = (encode_all(&server_cmds), encode_all(&store_cmds));
        if std::env::var_os("REPL_DUMP").is_some() {
            eprintln!("{name}:{number} {}", escape(&server_bytes));
        }
        let random = args
            .first()
            .is_some_and(|c| RANDOM_EFFECTS.iter().any(|r| c.eq_ignore_ascii_case(r)));
        if server_bytes != store_bytes && !(random && same_up_to_chance(&server_cmds, &store_cmds))
        {
            failures.push(format!(
                "{name}:{number}: `{line}` propagates differently\n  redis: {}\n  store: {}",
                escape(&server_bytes),
                escape(&store_bytes)
            ));
        }
    }
    // Offsets count the same bytes (PINGs the server sent included), and PSYNC decides
    // alike at the edges of the backlog window.
    let server_offset = server_repl_offset(&mut admin);
    let store_offset = log.master_repl_offset() + pings * PING_BYTES;
    if server_offset != store_offset {
        failures.push(format!(
            "{name}: master_repl_offset {server_offset} on the server, {store_offset} in the log"
        ));
    }
    let end = log.master_repl_offset() as i64;
    let first = log.backlog_first_byte_offset() as i64;
    // Continuations first: a full resync restarts the stream's SELECT. (Only when no
    // PING made the server's history longer than the log's.)
    for offset in [end + 1, end, first, first + 1, first - 1, end + 2, 0] {
        if pings != 0 {
            break;
        }
        let server = server_psync_continues(server.port, &server_replid, offset);
        let store = matches!(log.psync(log.replid(), offset), Psync::Continue { .. });
        if server != store {
            failures.push(format!(
                "{name}: PSYNC at {offset} (backlog {first}..={end}): continue on the server {server}, in the log {store}"
            ));
        }
    }
    let unknown = "0123456789012345678901234567890123456789";
    if server_psync_continues(server.port, unknown, end + 1) {
        failures.push(format!("{name}: PSYNC with an unknown id continued"));
    }
    failures
}

#[test]
fn replication_streams_match_redis() {
    run_scripts_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replication"));
}

/// The reply differential's scripts (the workspace's `tests/differential/`, cluster
/// ones apart): every write there propagates as redis-server propagates it.
#[test]
fn differential_suite_streams_match_redis() {
    run_scripts_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/differential"));
}

fn run_scripts_in(dir: &Path) {
    let mut scripts: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty(), "no scripts in {}", dir.display());
    let mut failures = Vec::new();
    for script in &scripts {
        failures.extend(run_script(script));
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The replica differential: a master redis-server with two replicas, a real one
/// (`--replicaof`) and this test's link feeding a `Db` in replica mode through
/// `apply_replicated`. Lines starting with `M ` go to the master; the others go to both
/// replicas once each has applied everything the master sent (`WAIT` for the real one,
/// the stream up to a marker for the `Db`), and their replies must match: reads of keys
/// past their expiry that the master has not deleted yet, READONLY for writes, and
/// the master's DEL reaching both.
#[test]
fn replica_replies_match_a_redis_replica() {
    let script = [
        "M SET k v",
        "M SET gone v PXAT 1",
        "M RPUSH l a b c",
        "M SET later v EX 1000",
        "GET k",
        "GET gone",
        "EXISTS gone k",
        "TTL gone",
        "TYPE gone",
        "DBSIZE",
        "@sort KEYS *",
        "LRANGE l 0 -1",
        "SET x 1",
        "DEL k",
        "MULTI",
        "GET k",
        "SET y 2",
        "EXEC",
        "MULTI",
        "GET k",
        "EXEC",
        "HELLO 2",
        "M GET gone",
        "DBSIZE",
        "EXISTS gone",
        "M MULTI",
        "M INCR n",
        "M INCRBYFLOAT f 1.5",
        "M EXEC",
        "GET n",
        "GET f",
        "M FLUSHALL",
        "DBSIZE",
    ];
    let master = start_redis();
    let mut admin = Conn::connect(master.port);
    admin.send(&[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"]);
    assert_eq!(admin.read_frame(&mut |_| {}).1, b"+OK\r\n");
    let (mut link, _, _) = attach_replica(master.port);
    wait_online(&mut admin, &mut link);
    let port = master.port.to_string();
    let real = start_redis_with(&["--replicaof", "127.0.0.1", &port]);
    let mut real_client = Conn::connect(real.port);
    // Script lines for the master run on a connection of their own (it may be inside
    // MULTI while `admin` syncs).
    let mut master_client = Conn::connect(master.port);

    let mut db = Db::new(Config::default());
    db.set_replica(true);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut apply_rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    // The session takes the real client's id, which HELLO reports.
    real_client.send(&[b"CLIENT", b"ID"]);
    let Frame::Integer(client_id) = real_client.read_frame(&mut |_| {}).0 else {
        panic!("CLIENT ID answers an integer");
    };
    let mut session = Session::new(client_id as u64);
    let mut failures = Vec::new();
    // Syncs both replicas with the master: a marker through the stream for the Db, and
    // WAIT for the real replica (which ACKs; the test's link ACKs 0, so it never
    // counts). The first WAIT also waits out the real replica's initial sync.
    let mut sync = |admin: &mut Conn, link: &mut Conn, db: &mut Db, now_ms: u64, tag: &str| {
        let marker: [&[u8]; 3] = [b"PUBLISH", b"__marker__", tag.as_bytes()];
        admin.send(&marker);
        admin.read_frame(&mut |_| {});
        admin.send(&[b"WAIT", b"1", b"10000"]);
        let (frame, _) = admin.read_frame(&mut |_| {});
        assert_eq!(
            frame,
            Frame::Integer(1),
            "the real replica did not catch up in 10 s"
        );
        loop {
            let (frame, _) = link.read_frame(&mut send_ack);
            let argv = frame_argv(&frame);
            if argv[0].eq_ignore_ascii_case(b"PUBLISH")
                && argv.get(2).is_some_and(|t| t == tag.as_bytes())
            {
                break;
            }
            // PINGs and the GETACKs that WAIT sends are not commands to apply.
            if is_ping(&argv) || argv[0].eq_ignore_ascii_case(b"REPLCONF") {
                continue;
            }
            let cmd: Vec<Blob> = argv.iter().map(|a| Blob::from_slice(a)).collect();
            db.apply_replicated(&cmd, now_ms, &mut apply_rng);
        }
    };
    admin.send(&[b"SET", b"__sync__", b"1"]);
    admin.read_frame(&mut |_| {});
    let now_ms = server_time_ms(&mut admin);
    sync(&mut admin, &mut link, &mut db, now_ms, "start");
    for (number, line) in script.iter().enumerate() {
        let now_ms = server_time_ms(&mut admin);
        if let Some(command) = line.strip_prefix("M ") {
            let args = split_args(command);
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            master_client.send(&refs);
            master_client.read_frame(&mut |_| {});
            sync(&mut admin, &mut link, &mut db, now_ms, &number.to_string());
            continue;
        }
        let (sorted, command) = match line.strip_prefix("@sort ") {
            Some(rest) => (true, rest),
            None => (false, *line),
        };
        let args = split_args(command);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        real_client.send(&refs);
        let (real_frame, real_bytes) = real_client.read_frame(&mut |_| {});
        let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a)).collect();
        let reply = db.execute(&mut session, &argv, now_ms, &mut rng);
        let store_bytes = encode_to_vec(&reply, Protocol::Resp2);
        let same = if sorted {
            let sort = |f: Frame| match f {
                Frame::Array(mut items) => {
                    items.sort();
                    Frame::Array(items)
                }
                other => other,
            };
            let store_frame = parse_frame(&store_bytes).ok().flatten().map(|(f, _)| f);
            store_frame.map(sort) == Some(sort(real_frame))
        } else {
            real_bytes == store_bytes
        };
        if !same {
            failures.push(format!(
                "line {}: `{line}`\n  redis replica: {}\n  store replica: {}",
                number + 1,
                escape(&real_bytes),
                escape(&store_bytes)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
