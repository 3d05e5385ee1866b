//! The measurement of a real, idle Redis cluster's bus traffic that
//! `examples/record_bus.rs` records into `tests/bus_reference.json` and
//! `tests/bus_redis.rs` compares the simulator with. Invariant: every rate is per node
//! per second over the recorded window, averaged over the nodes.

/// What an idle cluster sent on its bus during the window, per node per second
/// (averaged over the nodes).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BusMeasurement {
    pub nodes: u32,
    pub node_timeout_ms: u64,
    /// The wall-clock length of the window (between the midpoints of the two snapshots).
    pub seconds: f64,
    /// `cluster_stats_messages_ping_sent`.
    pub ping_sent_per_node_s: f64,
    /// `cluster_stats_messages_pong_sent`.
    pub pong_sent_per_node_s: f64,
    /// Everything else in `cluster_stats_messages_sent` (MEET, FAIL, UPDATE, PUBLISH, ...).
    pub other_sent_per_node_s: f64,
    /// TCP payload bytes sent on bus sockets, from the kernel's `bytes_sent` counters.
    pub bus_bytes_sent_per_node_s: f64,
    /// Bus bytes over bus messages: the wire size of an average message.
    pub mean_message_bytes: f64,
    /// Cross-check for the bytes: `wchar` of /proc/<pid>/io, every byte the processes
    /// wrote by any syscall. Idle, that is the bus plus our few CLUSTER INFO replies.
    pub wchar_per_node_s: f64,
    /// Bus sockets that appeared during the window (counted from zero, so exact).
    pub bus_sockets_opened: u32,
    /// Bus sockets that vanished during the window: what they sent between the first
    /// snapshot and their close is missing from the byte count (the kernel drops the
    /// counters with the socket), so a non-zero value means bytes are slightly low.
    pub bus_sockets_closed: u32,
}

impl std::fmt::Display for BusMeasurement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} nodes, node timeout {} ms, {:.1} s: per node per second {:.3} pings, \
             {:.3} pongs, {:.3} other, {:.0} bus bytes (wchar {:.0}); mean message {:.1} \
             bytes; bus sockets opened {}, closed {}",
            self.nodes,
            self.node_timeout_ms,
            self.seconds,
            self.ping_sent_per_node_s,
            self.pong_sent_per_node_s,
            self.other_sent_per_node_s,
            self.bus_bytes_sent_per_node_s,
            self.wchar_per_node_s,
            self.mean_message_bytes,
            self.bus_sockets_opened,
            self.bus_sockets_closed,
        )
    }
}
