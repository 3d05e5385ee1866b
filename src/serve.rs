//! `kvsim serve`: the store behind a real TCP server on loopback, on the real clock, so
//! that redis-cli, redis-benchmark and client libraries can talk to it and the
//! differential suite can compare it with redis-server byte for byte.
//!
//! Like Redis, it is one thread running a readiness event loop (mio): it owns the `Db`
//! outright (no lock), executes each connection's pipelined commands in arrival order
//! and writes their replies in that order, and runs Redis's hz=10 active expire cycle
//! between events. SIGINT or SIGTERM stops it cleanly between events (exit status 0).
//! With `--manual-clock`, time stands still until a client moves it with
//! `DEBUG ADVANCE-CLOCK <ms>`, which also runs the expire cycles that fall due: a
//! deterministic clock for tests of expiry over a real socket.
//! A replica may sync from it (`REPLCONF`, `PSYNC`, `SYNC`; see `master`): it then
//! streams what the store propagates, as a Redis 7.0.15 master does.
//! Invariants: replies on a connection are in request order; a protocol error gets
//! Redis's error reply and closes only that connection, after the replies to the
//! commands before it; only loopback addresses are ever bound.

mod master;

use clap::Args;
use master::{Master, ReplicaLink};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use signal_hook::consts::{SIGINT, SIGTERM};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store_core::resp::{encode, Protocol, RequestParser};
use store_core::{Arg, Config, Session, ShardedDb};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TCP port to listen on (0: let the OS pick one; the chosen port is printed).
    #[arg(long, default_value_t = 6379)]
    pub port: u16,
    /// Answer as a cluster node owning all 16384 slots.
    #[arg(long)]
    pub cluster: bool,
    /// Loopback address to listen on (127.0.0.0/8 or ::1; nothing else is accepted).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Seed of the store's random choices (SPOP, RANDOMKEY, eviction sampling).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop the clock at this Unix time in ms: it moves only when a client sends
    /// `DEBUG ADVANCE-CLOCK <ms>`, which runs the active expire cycles that fall due on
    /// the way (for deterministic tests of expiry).
    #[arg(long, value_name = "UNIX_MS")]
    pub manual_clock: Option<u64>,
    /// The engine's store: `redis`, one keyspace; `dragonfly`, the keyspace split over
    /// `--threads` shards as Dragonfly splits it (replies are the same; a replica cannot
    /// sync from it).
    #[arg(long, value_enum, default_value = "redis")]
    pub engine: ServeEngine,
    /// Thread shards of the dragonfly engine (1 to 256).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
}

/// The store behind `kvsim serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServeEngine {
    Redis,
    Dragonfly,
}

/// Where the server's time comes from, and when its next expire cycle is due.
enum Clock {
    /// The system clock.
    Real { next_cron_ms: u64 },
    /// Still at `now_ms` until `DEBUG ADVANCE-CLOCK`.
    Manual { now_ms: u64, next_cron_ms: u64 },
}

impl Clock {
    fn now_ms(&self) -> u64 {
        match self {
            Clock::Real { .. } => unix_now_ms(),
            Clock::Manual { now_ms, .. } => *now_ms,
        }
    }

    /// Runs the expire cycle if it is due on the real clock, and says how long the
    /// event loop may wait for the next one (forever on a manual clock).
    fn run_due_cron(&mut self, db: &mut ShardedDb, rng: &mut ChaCha8Rng) -> Option<Duration> {
        match self {
            Clock::Real { next_cron_ms } => {
                let now_ms = unix_now_ms();
                if now_ms >= *next_cron_ms {
                    db.active_expire_cycle(now_ms, rng);
                    *next_cron_ms = now_ms + CRON_PERIOD_MS;
                }
                Some(Duration::from_millis(next_cron_ms.saturating_sub(now_ms)))
            }
            Clock::Manual { .. } => None,
        }
    }

    /// `DEBUG ADVANCE-CLOCK ms`: moves a manual clock on by `ms`, running each expire
    /// cycle due on the way at its own time. The reply's bytes.
    fn advance(&mut self, ms: &[u8], db: &mut ShardedDb, rng: &mut ChaCha8Rng) -> &'static [u8] {
        let Clock::Manual {
            now_ms,
            next_cron_ms,
        } = self
        else {
            return b"-ERR DEBUG ADVANCE-CLOCK needs kvsim serve --manual-clock\r\n";
        };
        let Some(step_ms) = std::str::from_utf8(ms)
            .ok()
            .and_then(|ms| ms.parse::<u64>().ok())
        else {
            return b"-ERR value is not an integer or out of range\r\n";
        };
        // Bounded so that one call runs a bounded number of cycles (36,000) and the
        // server stays responsive.
        if step_ms > MAX_ADVANCE_MS {
            return b"-ERR DEBUG ADVANCE-CLOCK moves at most 3600000 ms at a time\r\n";
        }
        let Some(target) = now_ms.checked_add(step_ms) else {
            return b"-ERR the clock would pass the largest Unix time in ms\r\n";
        };
        while *next_cron_ms <= target {
            *now_ms = *next_cron_ms;
            db.active_expire_cycle(*now_ms, rng);
            match next_cron_ms.checked_add(CRON_PERIOD_MS) {
                Some(next) => *next_cron_ms = next,
                None => break,
            }
        }
        *now_ms = target;
        b"+OK\r\n"
    }
}

/// The listening socket's token; connections use their slot index + 1.
const LISTENER: Token = Token(0);
/// Redis's `hz`: active expire cycles per second.
const HZ: u64 = 10;
const CRON_PERIOD_MS: u64 = 1000 / HZ;
/// The most one `DEBUG ADVANCE-CLOCK` moves a manual clock: an hour.
const MAX_ADVANCE_MS: u64 = 3_600_000;
/// Bytes asked of the kernel per read (Redis's PROTO_IOBUF_LEN).
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// While a client leaves this many reply bytes unread, its further requests wait in the
/// kernel's buffers instead of growing ours without bound.
const OUTPUT_PAUSE_BYTES: usize = 64 * 1024 * 1024;
/// Events handled per poll call.
const EVENTS_CAPACITY: usize = 1024;

struct Conn {
    stream: TcpStream,
    session: Session,
    parser: RequestParser,
    /// Received bytes; `input[in_pos..]` is not parsed yet.
    input: Vec<u8>,
    in_pos: usize,
    /// Encoded replies; `output[out_pos..]` is not written yet.
    output: Vec<u8>,
    out_pos: usize,
    /// Close once `output` is flushed (after a protocol error or QUIT); read no more.
    close_after_reply: bool,
    /// The peer closed its side or the socket failed: drop the connection.
    dead: bool,
    /// Registered for WRITABLE as well as READABLE.
    wants_write: bool,
    /// The connection is a replica's link (it sent PSYNC or SYNC).
    replica: Option<ReplicaLink>,
}

/// Unix time in milliseconds: the only wall-clock read in the store's path. Determinism
/// rule 7 keeps the wall clock out of everything below the command line; a real server
/// on the real clock is exactly what this subcommand is.
#[allow(clippy::disallowed_methods)]
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

pub fn serve(args: &ServeArgs) -> ExitCode {
    if !is_loopback(args.bind) {
        eprintln!(
            "kvsim serve: --bind {} is not a loopback address; kvsim serves loopback only",
            args.bind
        );
        return ExitCode::from(2);
    }
    if args.engine == ServeEngine::Redis && args.threads != 1 {
        // Redis's store is one keyspace: a thread count it would not read is refused.
        eprintln!("kvsim serve: --threads {} needs --engine dragonfly; the redis engine's store is one keyspace", args.threads);
        return ExitCode::from(2);
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kvsim serve: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &ServeArgs) -> std::io::Result<()> {
    let mut listener = TcpListener::bind(SocketAddr::new(args.bind, args.port))?;
    let local = listener.local_addr()?;
    let config = Config {
        cluster_enabled: args.cluster,
        cluster_node_addr: local.to_string(),
        ..Config::default()
    };
    let threads = match args.engine {
        ServeEngine::Redis => 1,
        ServeEngine::Dragonfly => args.threads as usize,
    };
    let mut db = ShardedDb::new(config, threads);
    if args.cluster {
        for shard in db.shards_mut() {
            shard.set_owned_slots(0..16384);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    println!(
        "kvsim serve: listening on {local} ({}, {}, seed {})",
        if args.cluster {
            "cluster node owning all slots"
        } else {
            "standalone"
        },
        match args.engine {
            ServeEngine::Redis => "redis engine".to_string(),
            ServeEngine::Dragonfly => format!("dragonfly engine, {threads} thread shards"),
        },
        args.seed
    );

    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free_slots: Vec<usize> = Vec::new();
    let mut next_client_id: u64 = 1;
    let mut clock = match args.manual_clock {
        Some(now_ms) => Clock::Manual {
            now_ms,
            next_cron_ms: now_ms.saturating_add(CRON_PERIOD_MS),
        },
        None => Clock::Real {
            next_cron_ms: unix_now_ms() + CRON_PERIOD_MS,
        },
    };
    let mut read_buf = vec![0u8; READ_CHUNK_BYTES];
    // SIGINT and SIGTERM set this flag; a signal also interrupts the poll, so the loop
    // sees it at once and stops between events, never in the middle of a command.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }

    let mut master = Master::new();
    while !stop.load(Ordering::Relaxed) {
        let timeout = clock.run_due_cron(&mut db, &mut rng);
        master.absorb(&mut db);
        if let Clock::Real { .. } = clock {
            master.cron(unix_now_ms());
        }
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(
                    &listener,
                    &poll,
                    &mut conns,
                    &mut free_slots,
                    &mut next_client_id,
                );
                db.set_connected_clients(
                    ((conns.len() - free_slots.len()) as u64).saturating_sub(master.replicas()),
                );
                continue;
            }
            let slot = event.token().0 - 1;
            let Some(Some(conn)) = conns.get_mut(slot) else {
                continue;
            };
            if event.is_writable() {
                flush(conn);
            }
            // Also on a writable event: input paused behind unread replies resumes here.
            let peer_closed = event.is_read_closed() || event.is_error();
            read_and_execute(
                conn,
                &mut db,
                &mut rng,
                &mut clock,
                &mut master,
                &mut read_buf,
                peer_closed,
            );
            settle(
                &poll,
                &mut conns,
                &mut free_slots,
                &mut master,
                &mut db,
                slot,
            );
        }
        // INFO's connected_clients leaves replicas out (a sync this turn made one).
        db.set_connected_clients(
            ((conns.len() - free_slots.len()) as u64).saturating_sub(master.replicas()),
        );
        // Replicas get what the log gained from this turn's commands (Redis writes
        // their buffers before it sleeps).
        for slot in 0..conns.len() {
            let Some(conn) = conns[slot].as_mut() else {
                continue;
            };
            let Some(link) = conn.replica.as_mut() else {
                continue;
            };
            if !master.feed(link, &mut conn.output) {
                conn.dead = true;
            }
            flush(conn);
            settle(
                &poll,
                &mut conns,
                &mut free_slots,
                &mut master,
                &mut db,
                slot,
            );
        }
    }
    // Replies already computed go out if the socket takes them now; nothing waits.
    let mut open = 0;
    for conn in conns.iter_mut().flatten() {
        flush(conn);
        open += 1;
    }
    println!("kvsim serve: stopped by a signal; closed {open} connections");
    Ok(())
}

/// After a connection was served: drops it when finished, else registers for WRITABLE
/// exactly while it has output pending.
fn settle(
    poll: &Poll,
    conns: &mut [Option<Conn>],
    free_slots: &mut Vec<usize>,
    master: &mut Master,
    db: &mut ShardedDb,
    slot: usize,
) {
    let Some(conn) = conns[slot].as_mut() else {
        return;
    };
    let finished = conn.dead || (conn.close_after_reply && conn.out_pos == conn.output.len());
    if finished {
        if let Some(mut conn) = conns[slot].take() {
            let _ = poll.registry().deregister(&mut conn.stream);
            if conn.replica.is_some() {
                master.detach();
            }
        }
        free_slots.push(slot);
        db.set_connected_clients(
            ((conns.len() - free_slots.len()) as u64).saturating_sub(master.replicas()),
        );
        return;
    }
    let pending = conn.out_pos < conn.output.len();
    if pending != conn.wants_write {
        let interest = if pending {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if poll
            .registry()
            .reregister(&mut conn.stream, Token(slot + 1), interest)
            .is_err()
        {
            conn.dead = true;
        }
        conn.wants_write = pending;
    }
}

fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    conns: &mut Vec<Option<Conn>>,
    free_slots: &mut Vec<usize>,
    next_client_id: &mut u64,
) {
    loop {
        let (mut stream, _) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: keep serving.
                eprintln!("kvsim serve: accept: {e}");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let slot = free_slots.pop().unwrap_or_else(|| {
            conns.push(None);
            conns.len() - 1
        });
        if poll
            .registry()
            .register(&mut stream, Token(slot + 1), Interest::READABLE)
            .is_err()
        {
            free_slots.push(slot);
            continue;
        }
        conns[slot] = Some(Conn {
            stream,
            session: Session::new(*next_client_id),
            parser: RequestParser::new(),
            input: Vec::new(),
            in_pos: 0,
            output: Vec::new(),
            out_pos: 0,
            close_after_reply: false,
            dead: false,
            wants_write: false,
            replica: None,
        });
        *next_client_id += 1;
    }
}

/// Executes requests already buffered (paused ones), then reads what the socket holds,
/// executing the complete requests after each read as Redis does after each read of a
/// client. Readiness is edge-triggered, so the socket must be drained: a read that fills
/// less than the buffer has drained it (bytes arriving later raise a new event), which
/// saves the extra read that would only answer "would block". When the peer has closed
/// its side, reading goes on to the end of the stream, which raises no further event.
fn read_and_execute(
    conn: &mut Conn,
    db: &mut ShardedDb,
    rng: &mut ChaCha8Rng,
    clock: &mut Clock,
    master: &mut Master,
    read_buf: &mut [u8],
    peer_closed: bool,
) {
    execute_buffered(conn, db, rng, clock, master);
    flush(conn);
    while !conn.dead && !conn.close_after_reply {
        if conn.output.len() - conn.out_pos >= OUTPUT_PAUSE_BYTES {
            // Resumed by the writable event that drains the replies.
            return;
        }
        match conn.stream.read(read_buf) {
            Ok(0) => conn.dead = true,
            Ok(n) => {
                conn.input.extend_from_slice(&read_buf[..n]);
                execute_buffered(conn, db, rng, clock, master);
                flush(conn);
                if n < read_buf.len() && !peer_closed {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => conn.dead = true,
        }
    }
}

/// Executes every complete request in the input buffer, in order, appending replies.
fn execute_buffered(
    conn: &mut Conn,
    db: &mut ShardedDb,
    rng: &mut ChaCha8Rng,
    clock: &mut Clock,
    master: &mut Master,
) {
    while !conn.close_after_reply && conn.output.len() - conn.out_pos < OUTPUT_PAUSE_BYTES {
        let input = &conn.input[conn.in_pos..];
        match conn.parser.parse(input) {
            Ok(Some(consumed)) => {
                if conn.parser.argc() > 0 {
                    let argv: Vec<Arg<'_>> = conn.parser.args(input).map(Arg::Bytes).collect();
                    let name = conn.parser.arg(input, 0).unwrap_or_default();
                    let advance_clock = conn.parser.argc() == 3
                        && name.eq_ignore_ascii_case(b"debug")
                        && conn
                            .parser
                            .arg(input, 1)
                            .is_some_and(|a| a.eq_ignore_ascii_case(b"advance-clock"));
                    if name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:") {
                        // Redis 7.0's guard against cross-protocol scripting (an HTTP
                        // request sent to the port): the connection is closed at once,
                        // replies not yet written included, and nothing after it runs.
                        conn.output.truncate(conn.out_pos);
                        conn.dead = true;
                        return;
                    } else if name.eq_ignore_ascii_case(b"quit") {
                        // Redis 7.0 answers QUIT before the command table: +OK, then close.
                        conn.output.extend_from_slice(b"+OK\r\n");
                        conn.close_after_reply = true;
                    } else if advance_clock {
                        let ms = conn.parser.arg(input, 2).unwrap_or_default();
                        let reply = clock.advance(ms, db, rng);
                        conn.output.extend_from_slice(reply);
                        master.absorb(db);
                    } else if name.eq_ignore_ascii_case(b"replconf") {
                        // A replica's handshake and its ACKs (which get no reply).
                        let sub = conn.parser.arg(input, 1).unwrap_or_default();
                        if !sub.eq_ignore_ascii_case(b"ack") && !sub.eq_ignore_ascii_case(b"getack")
                        {
                            conn.output.extend_from_slice(b"+OK\r\n");
                        }
                    } else if (name.eq_ignore_ascii_case(b"psync") && conn.parser.argc() == 3)
                        || (name.eq_ignore_ascii_case(b"sync") && conn.parser.argc() == 1)
                    {
                        // A link already syncing ignores another request, as Redis does.
                        if conn.replica.is_none() {
                            let psync = (conn.parser.argc() == 3).then(|| {
                                (
                                    conn.parser.arg(input, 1).unwrap_or_default(),
                                    conn.parser.arg(input, 2).unwrap_or_default(),
                                )
                            });
                            let now_ms = clock.now_ms();
                            conn.replica = master.sync(db, rng, now_ms, psync, &mut conn.output);
                        }
                    } else {
                        let now_ms = clock.now_ms();
                        let reply = db.execute(&mut conn.session, &argv, now_ms, rng);
                        master.absorb(db);
                        let protocol = Protocol::from_version(i64::from(conn.session.protocol()))
                            .unwrap_or_default();
                        encode(&reply, protocol, &mut conn.output);
                    }
                }
                conn.in_pos += consumed;
            }
            Ok(None) => break,
            Err(error) => {
                error.encode(&mut conn.output);
                conn.close_after_reply = true;
            }
        }
    }
    // Drop consumed bytes; an unfinished request moves to the front (the parser's
    // offsets are relative to the request's start).
    if conn.in_pos > 0 {
        conn.input.drain(..conn.in_pos);
        conn.in_pos = 0;
    }
}

/// Writes pending replies until done or the socket would block.
fn flush(conn: &mut Conn) {
    while conn.out_pos < conn.output.len() {
        match conn.stream.write(&conn.output[conn.out_pos..]) {
            Ok(0) => {
                conn.dead = true;
                return;
            }
            Ok(n) => conn.out_pos += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                conn.dead = true;
                return;
            }
        }
    }
    conn.output.clear();
    conn.out_pos = 0;
}
