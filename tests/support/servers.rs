//! Test servers on loopback: a real `redis-server` and `kvsim serve`, each started on a
//! free port and killed when dropped, and a minimal blocking RESP client for them.
//! Invariant: every wait here is bounded (a fixed number of connection attempts, a read
//! timeout on every socket), so a broken server fails a test instead of hanging it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use store_core::resp::{encode_request, parse_frame, Frame};

/// How long a client waits for one reply before the test fails.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a server may take to print that it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new cluster master may take to log that its state is ok: Redis holds it
/// back 2 s (CLUSTER_WRITABLE_DELAY, a wall-clock gate inside redis-server).
const CLUSTER_OK_TIMEOUT: Duration = Duration::from_secs(10);
/// What redis-server logs when its cluster state turns ok (`clusterUpdateState`).
const CLUSTER_OK_LOG: &str = "Cluster state changed: ok";

/// A server process on 127.0.0.1, killed on drop (and its scratch directory removed).
pub struct Server {
    pub name: &'static str,
    pub port: u16,
    /// `None` once handed to a thread waiting for its exit (see `wait_exit`).
    child: Option<Child>,
    scratch_dir: Option<std::path::PathBuf>,
    /// The lines the server prints on stdout, as a reader thread gets them (in a
    /// mutex: tests share a server between threads).
    log: Option<std::sync::Mutex<std::sync::mpsc::Receiver<String>>>,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the process is still ours").id()
    }

    /// Blocks until the process exits, at most `timeout`: a thread waits on it and the
    /// test receives its status (no polling). `None` when it did not exit in time; the
    /// process is then killed by pid.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(timeout) {
            Ok(status) => status.ok(),
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                None
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self.scratch_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A port that was free a moment ago (the OS picks it; the listener is closed again so
/// the server can bind it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free loopback port")
}

pub fn redis_server_path() -> String {
    let candidates = [
        "redis-server",
        "/usr/bin/redis-server",
        "/usr/local/bin/redis-server",
    ];
    for candidate in candidates {
        if Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
        {
            return candidate.to_string();
        }
    }
    panic!(
        "redis-server not found: the differential suite compares kvsim with a real \
         redis-server 7.0. Install it (Debian/Ubuntu: `sudo apt-get install redis-server`; \
         CI installs it in .ci/run) and run the tests again."
    );
}

/// Starts a real redis-server on a free loopback port, without persistence.
pub fn start_redis() -> Server {
    start_redis_with(&[])
}

/// As `start_redis`, with more arguments (`--replicaof host port` for a replica).
pub fn start_redis_with(extra_args: &[&str]) -> Server {
    let path = redis_server_path();
    let port = free_port();
    let child = Command::new(&path)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(extra_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
    wait_ready(
        REDIS_READY,
        Server {
            name: "redis-server",
            port,
            child: Some(child),
            scratch_dir: None,
            log: None,
        },
    )
}

/// Starts a real redis-server as a one-node cluster owning all 16384 slots, and waits
/// (a bounded number of polls) until it reports `cluster_state:ok`.
pub fn start_redis_cluster() -> Server {
    let path = redis_server_path();
    let port = free_port();
    let dir =
        std::env::temp_dir().join(format!("kvsim-redis-cluster-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory for nodes.conf");
    let child = Command::new(&path)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--cluster-enabled",
            "yes",
        ])
        .arg("--dir")
        .arg(&dir)
        .args(["--cluster-config-file", "nodes.conf"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
    let server = wait_ready(
        REDIS_READY,
        Server {
            name: "redis-server (cluster)",
            port,
            child: Some(child),
            scratch_dir: Some(dir),
            log: None,
        },
    );
    let mut client = Client::connect(port).expect("connect to the cluster node");
    let added = client.call(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    assert_eq!(
        added.ok(),
        Some(Frame::Simple(b"OK".to_vec())),
        "CLUSTER ADDSLOTSRANGE"
    );
    // A new master waits about 2 s (CLUSTER_WRITABLE_DELAY) before reporting ok: wait
    // for the line it logs then, not on a clock of our own.
    let mut server = server;
    wait_for_line(&mut server, CLUSTER_OK_LOG, CLUSTER_OK_TIMEOUT);
    match client.call(&["CLUSTER", "INFO"]) {
        Ok(Frame::Bulk(info)) if info.starts_with(b"cluster_state:ok") => server,
        other => panic!("the one-node redis cluster logged ok but CLUSTER INFO says {other:?}"),
    }
}

/// The binary this package builds, when this module is compiled into one of its
/// integration tests (the bus recorder example includes it too, and starts no kvsim).
const KVSIM_BIN: Option<&str> = option_env!("CARGO_BIN_EXE_kvsim");

/// Starts `kvsim serve` (the binary this package builds) on a free loopback port.
pub fn start_kvsim(extra_args: &[&str]) -> Server {
    let port = free_port();
    let child = Command::new(KVSIM_BIN.expect("kvsim serve is started from the package's tests"))
        .args(["serve", "--port", &port.to_string()])
        .args(extra_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start kvsim serve: {e}"));
    wait_ready(
        KVSIM_READY,
        Server {
            name: "kvsim",
            port,
            child: Some(child),
            scratch_dir: None,
            log: None,
        },
    )
}

/// What redis-server prints on stdout once it listens.
const REDIS_READY: &str = "Ready to accept connections";
/// What `kvsim serve` prints on stdout once it listens.
const KVSIM_READY: &str = "kvsim serve: listening on";

/// Blocks until the server prints `marker` on stdout (it listens by then), at most
/// START_TIMEOUT; a reader thread keeps draining stdout afterwards so the server never
/// blocks on a full pipe. No polling: the server says when it is ready.
fn wait_ready(marker: &'static str, mut server: Server) -> Server {
    use std::io::BufRead;
    let child = server.child.as_mut().expect("a new server's process");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    server.log = Some(std::sync::Mutex::new(rx));
    wait_for_line(&mut server, marker, START_TIMEOUT);
    server
}

/// Waits (at most `timeout`) for the server to print a line containing `marker`.
// Instant::now bounds the wait on a real process; nothing here feeds the simulator.
#[allow(clippy::disallowed_methods)]
fn wait_for_line(server: &mut Server, marker: &str, timeout: Duration) {
    let log = server
        .log
        .as_ref()
        .expect("the server's stdout is read")
        .lock()
        .expect("the log's lock");
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match log.recv_timeout(left) {
            Ok(line) if line.contains(marker) => return,
            Ok(_) => {}
            Err(_) => {
                drop(log);
                let status = server
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                panic!(
                    "{} did not print {marker:?} within {timeout:?} (exit status: {status:?})",
                    server.name
                )
            }
        }
    }
}

/// A blocking RESP client: one request, one reply, in order.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<()> {
        let mut wire = Vec::new();
        encode_request(args, &mut wire);
        self.send_raw(&wire)
    }

    /// Reads one whole reply frame and returns it with its exact bytes.
    pub fn read_reply(&mut self) -> std::io::Result<(Frame, Vec<u8>)> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((frame, used))) => {
                    let bytes: Vec<u8> = self.buf.drain(..used).collect();
                    return Ok((frame, bytes));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{e}: {}", escape(&self.buf)),
                    ))
                }
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("connection closed; unparsed: {}", escape(&self.buf)),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<Frame> {
        self.send(args)?;
        self.read_reply().map(|(frame, _)| frame)
    }

    /// Everything the server sends until it closes the connection (or the read times
    /// out, reported as `None` at the end).
    pub fn read_to_close(&mut self) -> (Vec<u8>, bool) {
        let mut out = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return (out, true),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
                Err(_) => return (out, false),
            }
        }
    }

    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    pub fn set_read_timeout(&mut self, timeout: Duration) {
        let _ = self.stream.set_read_timeout(Some(timeout));
    }
}

/// Bytes as a readable string: printable ASCII as is, the rest escaped.
pub fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}
