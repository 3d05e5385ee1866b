//! Measures a real, idle Redis cluster's bus traffic on loopback, so the simulator's
//! cluster-bus model has a ground truth to be compared against: start `nodes` real
//! redis-server primaries, join them into one converged cluster, then count what every
//! node sends on the cluster bus over a wall-clock window (messages from each node's own
//! CLUSTER INFO counters, bytes from the kernel's per-socket TCP counters).
//! Invariant: every wait is bounded (process start, cluster convergence, each reply), so
//! a redis-server that fails to start or a cluster that never converges fails the test
//! with a message instead of hanging it; every process started here is killed, and its
//! scratch directory removed, when the measurement returns or panics.
//!
//! Include this module next to `tests/support/servers.rs` and
//! `tests/support/bus_measurement.rs` under the module names `servers` and
//! `bus_measurement` (it reuses the RESP client, the redis-server lookup and the
//! measurement's type). Only the recorder (`examples/record_bus.rs`) runs it: it waits
//! on the wall clock, which no test may.

#![allow(dead_code)]
// Instant::now: this module measures a real system's rate over wall-clock time, which is
// its whole purpose; nothing here feeds the simulator.
#![allow(clippy::disallowed_methods)]

use crate::bus_measurement::BusMeasurement;
use crate::servers::{redis_server_path, Client};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use store_core::resp::Frame;

/// Redis derives the cluster bus port from the client port (cluster-port 0, the default).
pub const BUS_PORT_OFFSET: u16 = 10_000;
/// How long one redis-server may take to print that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Fresh ports tried per node when another process grabs a probed port before
/// redis-server binds it (redis-server then exits at once, which we see).
const START_ATTEMPTS: u32 = 5;
/// Convergence budget: a flat part for the first gossip rounds plus a part per node,
/// since each node learns about the others a few gossip entries per message.
const CONVERGE_BASE: Duration = Duration::from_secs(30);
const CONVERGE_PER_NODE: Duration = Duration::from_millis(300);
const CONVERGE_POLL: Duration = Duration::from_millis(200);
/// Extra wall time after convergence before the first snapshot: the links of the last
/// nodes to join are still exchanging their first pings, and the simulation starts from
/// a cluster in its steady state.
const SETTLE: Duration = Duration::from_secs(5);
/// What redis-server prints on stdout once it listens.
const REDIS_READY: &str = "Ready to accept connections";
/// Total hash slots, split evenly over the primaries.
const SLOTS: u32 = 16_384;

/// Starts an idle cluster of `nodes` primaries with `cluster-node-timeout
/// node_timeout_ms`, waits until it has converged, and measures its bus traffic over
/// `measure` of wall time. Panics (after killing every node) if a node does not start or
/// the cluster does not converge in time.
pub fn measure_idle_cluster(nodes: u32, node_timeout_ms: u64, measure: Duration) -> BusMeasurement {
    assert!(nodes >= 3, "a Redis cluster needs at least 3 primaries");
    let started: Vec<Node> = (0..nodes).map(|_| Node::start(node_timeout_ms)).collect();
    let mut clients: Vec<Client> = started
        .iter()
        .map(|node| {
            Client::connect(node.port)
                .unwrap_or_else(|e| panic!("connect to redis-server on port {}: {e}", node.port))
        })
        .collect();
    form_cluster(&started, &mut clients);
    wait_converged(&started, &mut clients);
    std::thread::sleep(SETTLE);

    let bus_ports: BTreeSet<u16> = started
        .iter()
        .map(|node| node.port + BUS_PORT_OFFSET)
        .collect();
    let before = Snapshot::take(&started, &mut clients, &bus_ports);
    std::thread::sleep(measure);
    let after = Snapshot::take(&started, &mut clients, &bus_ports);
    after.since(&before, nodes, node_timeout_ms)
    // `started` drops here: every redis-server is killed and its directory removed.
}

/// One redis-server cluster node, killed (and its scratch directory removed) on drop.
struct Node {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Why a start attempt ended before the node was ready.
enum StartFailure {
    /// The process exited (typically: a port was taken after we probed it); its output.
    Exited(String),
    TimedOut,
}

impl Node {
    /// A cluster-enabled redis-server on a client port whose bus port is free too.
    fn start(node_timeout_ms: u64) -> Node {
        let mut last_output = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port_pair();
            match Node::try_start(port, node_timeout_ms) {
                Ok(node) => return node,
                Err(StartFailure::Exited(output)) => last_output = output,
                Err(StartFailure::TimedOut) => panic!(
                    "redis-server on port {port} did not print {REDIS_READY:?} within \
                     {START_TIMEOUT:?}"
                ),
            }
        }
        panic!(
            "redis-server exited before it was ready, {START_ATTEMPTS} times on fresh \
             ports; its last output:\n{last_output}"
        )
    }

    fn try_start(port: u16, node_timeout_ms: u64) -> Result<Node, StartFailure> {
        let path = redis_server_path();
        let dir = std::env::temp_dir().join(format!("kvsim-bus-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory for nodes.conf");
        let child = Command::new(&path)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-node-timeout", &node_timeout_ms.to_string()])
            .args(["--cluster-config-file", "nodes.conf"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
        let mut node = Node { port, child, dir };
        let stdout = node.child.stdout.take().expect("stdout is piped");
        // The reader says "ready" when redis-server prints it, or hands back the output
        // when the pipe closes first (the process exited); afterwards it keeps draining
        // stdout so the server never blocks on a full pipe. No polling.
        let (tx, rx) = mpsc::channel::<Result<(), String>>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut output = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(sender) = &tx {
                    if line.contains(REDIS_READY) {
                        let _ = sender.send(Ok(()));
                        tx = None;
                    } else {
                        output.push_str(&line);
                        output.push('\n');
                    }
                }
            }
            if let Some(sender) = tx {
                let _ = sender.send(Err(output));
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => Ok(node),
            Ok(Err(output)) => Err(StartFailure::Exited(output)),
            Err(_) => {
                drop(node);
                Err(StartFailure::TimedOut)
            }
        }
    }

    /// The process id, for /proc/<pid>/io.
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Ports handed out by this process, never handed out twice: the tests of one binary
/// run in parallel and each probes before its redis-server binds.
static CLAIMED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
static PROBES: AtomicU32 = AtomicU32::new(0);

/// A client port `p` such that `p` and `p + 10000` were both free a moment ago.
/// Both lie below the kernel's ephemeral range when it leaves room (the usual 32768..):
/// other tests' `free_port()` (bind to port 0) and every outgoing connection take ports
/// from that range, so they cannot grab ours between the probe and redis-server's bind.
/// Another process choosing ports the same way can still collide; `Node::start` then
/// sees redis-server exit and retries.
fn free_port_pair() -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let offset = u32::from(BUS_PORT_OFFSET);
    let (low, high) = if ephemeral_low >= 11_000 + offset {
        (10_000, ephemeral_low - offset)
    } else {
        (1_025, 65_536 - offset)
    };
    let span = high - low;
    // Spread processes apart by pid (each cargo test binary is one process); the
    // multiplier is odd, so successive probes of one process walk the whole span.
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    for _ in 0..span {
        let n = PROBES.fetch_add(1, Ordering::Relaxed);
        let port = (low + seed.wrapping_add(n.wrapping_mul(40_503)) % span) as u16;
        let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
        if claimed.contains(&port) {
            continue;
        }
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + BUS_PORT_OFFSET) {
            claimed.insert(port);
            return port;
        }
    }
    panic!("no loopback port p in {low}..{high} with p and p + {offset} both free")
}

/// Joins the nodes the way `redis-cli --cluster create` does, without its unbounded
/// waits: distinct config epochs (so no epoch-collision rounds), an even share of the
/// slots each, then node 0 meets every other node and gossip does the rest.
fn form_cluster(nodes: &[Node], clients: &mut [Client]) {
    let count = nodes.len() as u32;
    for (i, client) in clients.iter_mut().enumerate() {
        let i = i as u32;
        let first = SLOTS * i / count;
        let last = SLOTS * (i + 1) / count - 1;
        expect_ok(
            client,
            &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()],
        );
        expect_ok(
            client,
            &[
                "CLUSTER",
                "ADDSLOTSRANGE",
                &first.to_string(),
                &last.to_string(),
            ],
        );
    }
    for node in &nodes[1..] {
        expect_ok(
            &mut clients[0],
            &["CLUSTER", "MEET", "127.0.0.1", &node.port.to_string()],
        );
    }
}

fn expect_ok(client: &mut Client, args: &[&str]) {
    match client.call(args) {
        Ok(Frame::Simple(ok)) if ok == b"OK" => {}
        other => panic!("{args:?}: expected +OK, got {other:?}"),
    }
}

/// Blocks until every node reports `cluster_state:ok`, knows all nodes, and has its
/// outgoing bus link to every other node, at most CONVERGE_BASE plus CONVERGE_PER_NODE
/// per node. The links matter: a connection still being set up in the window would add
/// churn and first-contact messages to the measurement. Every bus connection is one
/// node's outgoing link, so these are all of them. (Incoming links are not counted: a
/// node attaches an incoming connection to its peer only when a message arrives on it
/// from a sender it already knows, which at a 15 s timeout can take tens of seconds
/// after the connection itself is up.)
fn wait_converged(nodes: &[Node], clients: &mut [Client]) {
    let count = nodes.len();
    let budget = CONVERGE_BASE + CONVERGE_PER_NODE * count as u32;
    let deadline = Instant::now() + budget;
    loop {
        let mut lagging = None;
        for (node, client) in nodes.iter().zip(clients.iter_mut()) {
            let info = cluster_info(client, node.port);
            let state_ok = info.get("cluster_state").map(String::as_str) == Some("ok");
            let known = info
                .get("cluster_known_nodes")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            let links = match client.call(&["CLUSTER", "LINKS"]) {
                Ok(Frame::Array(links)) => links.iter().filter(|l| is_outgoing(l)).count(),
                other => panic!("CLUSTER LINKS on port {}: {other:?}", node.port),
            };
            if !state_ok || known != count || links != count - 1 {
                lagging = Some(format!(
                    "port {}: cluster_state {:?}, {known} of {count} nodes known, \
                     {links} of {} outgoing links",
                    node.port,
                    info.get("cluster_state"),
                    count - 1
                ));
                break;
            }
        }
        let Some(lagging) = lagging else { return };
        if Instant::now() > deadline {
            panic!("the {count}-node cluster did not converge within {budget:?}; {lagging}");
        }
        std::thread::sleep(CONVERGE_POLL);
    }
}

/// Whether one CLUSTER LINKS entry (field, value, field, value, ...) has direction "to".
fn is_outgoing(link: &Frame) -> bool {
    let Frame::Array(fields) = link else {
        return false;
    };
    fields.chunks(2).any(
        |pair| matches!(pair, [Frame::Bulk(k), Frame::Bulk(v)] if k == b"direction" && v == b"to"),
    )
}

/// CLUSTER INFO as field -> value.
fn cluster_info(client: &mut Client, port: u16) -> BTreeMap<String, String> {
    match client.call(&["CLUSTER", "INFO"]) {
        Ok(Frame::Bulk(text)) => String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect(),
        other => panic!("CLUSTER INFO on port {port}: {other:?}"),
    }
}

fn counter(info: &BTreeMap<String, String>, field: &str) -> u64 {
    info.get(field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("CLUSTER INFO has no numeric {field}"))
}

/// Counters summed over all nodes at one moment.
struct Snapshot {
    /// The midpoint of the time the snapshot took to read.
    at: Instant,
    ping: u64,
    pong: u64,
    sent: u64,
    wchar: u64,
    /// `bytes_sent` per bus socket, keyed by (local address, peer address): the mean of
    /// two reads bracketing the message counters.
    sockets: BTreeMap<(String, String), u64>,
}

impl Snapshot {
    fn take(nodes: &[Node], clients: &mut [Client], bus_ports: &BTreeSet<u16>) -> Snapshot {
        let start = Instant::now();
        // The socket counters are read before and after the nodes' counters and
        // averaged, so they stand for the same moment as the message counters on
        // average. Read once at one end instead, the bytes' window would be shifted from
        // the messages' by however much longer one snapshot took than the other (tens of
        // milliseconds at 100 nodes, visible in the mean message size).
        let sockets_before = bus_socket_bytes(bus_ports);
        let (mut ping, mut pong, mut sent, mut wchar) = (0, 0, 0, 0);
        for (node, client) in nodes.iter().zip(clients.iter_mut()) {
            // CLUSTER INFO before reading wchar in both snapshots, so the delta holds
            // exactly one CLUSTER INFO reply per node (about 1 KB) besides the bus.
            let info = cluster_info(client, node.port);
            ping += counter(&info, "cluster_stats_messages_ping_sent");
            pong += counter(&info, "cluster_stats_messages_pong_sent");
            sent += counter(&info, "cluster_stats_messages_sent");
            wchar += proc_wchar(node.pid());
        }
        let mut sockets = bus_socket_bytes(bus_ports);
        let end = Instant::now();
        for (key, bytes) in &mut sockets {
            // A socket seen only once (opened or closed in between) keeps that reading.
            if let Some(&earlier) = sockets_before.get(key).filter(|&&b| b <= *bytes) {
                *bytes = earlier + (*bytes - earlier) / 2;
            }
        }
        for (key, bytes) in sockets_before {
            sockets.entry(key).or_insert(bytes);
        }
        Snapshot {
            at: start + (end - start) / 2,
            ping,
            pong,
            sent,
            wchar,
            sockets,
        }
    }

    /// Rates over the window from `before` to `self`.
    ///
    /// Bus sockets can open and close during the window (a node drops and reconnects a
    /// link whose pong is late). A socket in both snapshots contributes its growth; a new
    /// one, all it sent (its counter started at zero inside the window); one that closed
    /// contributes nothing, because the kernel dropped its counter: its last bytes are
    /// lost, which `bus_sockets_closed` reports and the wchar cross-check bounds.
    fn since(&self, before: &Snapshot, nodes: u32, node_timeout_ms: u64) -> BusMeasurement {
        let seconds = (self.at - before.at).as_secs_f64();
        let mut bytes = 0u64;
        let mut opened = 0u32;
        for (key, &now) in &self.sockets {
            match before.sockets.get(key) {
                // A counter that went down is a new socket on a reused address pair.
                Some(&then) if then <= now => bytes += now - then,
                _ => {
                    bytes += now;
                    opened += 1;
                }
            }
        }
        let closed = before
            .sockets
            .keys()
            .filter(|key| !self.sockets.contains_key(*key))
            .count() as u32;
        let ping = self.ping - before.ping;
        let pong = self.pong - before.pong;
        let sent = self.sent - before.sent;
        let per_node_s = |x: u64| x as f64 / f64::from(nodes) / seconds;
        BusMeasurement {
            nodes,
            node_timeout_ms,
            seconds,
            ping_sent_per_node_s: per_node_s(ping),
            pong_sent_per_node_s: per_node_s(pong),
            other_sent_per_node_s: per_node_s(sent - ping - pong),
            bus_bytes_sent_per_node_s: per_node_s(bytes),
            mean_message_bytes: if sent == 0 {
                0.0
            } else {
                bytes as f64 / sent as f64
            },
            wchar_per_node_s: per_node_s(self.wchar - before.wchar),
            bus_sockets_opened: opened,
            bus_sockets_closed: closed,
        }
    }
}

/// Bytes the process has written by any syscall (sockets, pipes, files).
fn proc_wchar(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/io");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    text.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{path} has no wchar line"))
}

/// `bytes_sent` of every TCP socket with a bus port at either end, from `ss -tinH`.
/// On loopback both ends of each bus connection are sockets on this machine, and each
/// socket's `bytes_sent` is what its own end wrote, so the sum is everything all nodes
/// sent on the bus (the accepting node's end has the bus port locally, the connecting
/// node's end has it as the peer). TCP payload only: no headers, as Redis counts.
fn bus_socket_bytes(bus_ports: &BTreeSet<u16>) -> BTreeMap<(String, String), u64> {
    let output = Command::new("ss")
        .args(["-tinH"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `ss` ({e}): the bus byte counts come from the kernel's socket \
                 statistics. Install iproute2 (Debian/Ubuntu: `sudo apt-get install \
                 iproute2`; CI installs it in .ci/run)."
            )
        });
    assert!(
        output.status.success(),
        "ss -tinH failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    // Without --oneline (not in every ss) the -i details follow on indented lines.
    let mut entries: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with(char::is_whitespace) {
            if let Some(last) = entries.last_mut() {
                last.push(' ');
                last.push_str(line);
            }
        } else if !line.is_empty() {
            entries.push(line.to_string());
        }
    }
    let port_of = |addr: &str| {
        addr.rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
    };
    let mut sockets = BTreeMap::new();
    for entry in entries {
        // State, Recv-Q, Send-Q, local address, peer address, then the details.
        let mut fields = entry.split_whitespace().skip(3);
        let (Some(local), Some(peer)) = (fields.next(), fields.next()) else {
            continue;
        };
        let on_bus = [local, peer]
            .iter()
            .any(|addr| port_of(addr).is_some_and(|p| bus_ports.contains(&p)));
        if !on_bus {
            continue;
        }
        let bytes_sent = fields
            .find_map(|f| f.strip_prefix("bytes_sent:"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        sockets.insert((local.to_string(), peer.to_string()), bytes_sent);
    }
    sockets
}
