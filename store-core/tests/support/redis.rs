//! A real redis-server for store-core's differential tests: started on a free port in a
//! scratch directory (after a caller's preparation, e.g. a dump.rdb to load), answering
//! over a blocking RESP connection, killed and its directory removed on drop.
//! Invariant: every wait is bounded (start and reply timeouts), so a broken server fails
//! a test instead of hanging it.

#![allow(dead_code)]

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use store_core::resp::{encode_request, parse_frame, Frame};

pub const START_TIMEOUT: Duration = Duration::from_secs(20);
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Expiries far in the future of any wall clock the test runs under (2100-01-01).
pub const FAR_FUTURE_MS: u64 = 4_102_444_800_000;
pub const NOW_MS: u64 = 1_700_000_000_000;

/// A redis-server with its scratch directory, killed and removed on drop.
pub struct Redis {
    pub child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

impl Redis {
    /// Starts redis-server in a new scratch directory, after `prepare(dir)` (which may
    /// put a dump.rdb there for it to load), with extra arguments.
    pub fn start(name: &str, prepare: impl FnOnce(&PathBuf), extra: &[&str]) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let dir =
            std::env::temp_dir().join(format!("store-core-{name}-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        prepare(&dir);
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(["--dbfilename", "dump.rdb"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server runs (Debian: apt-get install redis-server)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the log until the server is ready, then keeps draining it.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut log = String::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                log.push_str(&line);
                log.push('\n');
                if line.contains("Ready to accept connections") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(()));
                    }
                }
            }
            if let Some(tx) = tx.take() {
                let _ = tx.send(Err(log));
            }
        });
        let mut redis = Redis { child, dir, port };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => redis,
            Ok(Err(log)) => {
                redis.stop();
                panic!("redis-server exited before it was ready:\n{log}")
            }
            Err(_) => {
                redis.stop();
                panic!("redis-server was not ready within {START_TIMEOUT:?}")
            }
        }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn client(&self) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("timeout");
        Client {
            stream,
            buf: Vec::new(),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A blocking RESP client that pipelines.
pub struct Client {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

impl Client {
    pub fn read_frame(&mut self) -> Frame {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf).expect("well-formed reply") {
                self.buf.drain(..used);
                return frame;
            }
            let n = self
                .stream
                .read(&mut chunk)
                .expect("reply before the timeout");
            assert!(n > 0, "redis-server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn call(&mut self, args: &[&[u8]]) -> Frame {
        let mut wire = Vec::new();
        encode_request(args, &mut wire);
        self.stream.write_all(&wire).expect("send");
        self.read_frame()
    }
}
