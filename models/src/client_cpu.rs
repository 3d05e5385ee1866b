//! The client's CPU cost: what a memtier thread (or a redis-benchmark process, which is
//! one thread driving all its connections) spends to build and write a request and to
//! read and parse its reply. Each thread is one CPU-bound loop, so a thread serving
//! many connections tops out at `1 / (per_request + per_reply + bytes x per_byte)`
//! requests a second whatever the servers could do, and its requests wait for it.
//! Invariant: costs are integers (ns, and ps per byte), as the engine's are.
//!
//! Defaults are ours, not a sourced fit: about 3 us a small request and reply, so a
//! memtier thread on a current cloud vCPU tops out near 300K small requests a second,
//! far above what the bundled scenarios ask of it. A measured client sets its own: the
//! single redis-benchmark process measured for this project (100-byte GETs, 50
//! connections) topped out at 64K-70K requests a second, about 15 us a request and
//! reply (docs/REFERENCES.md section 4).

use serde::{Deserialize, Serialize};
use sim::SimDuration;

/// A client thread's CPU cost per request and per reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCpuCost {
    /// Building and writing one request (generating its key and value, the syscall).
    pub per_request_ns: u64,
    /// Reading and parsing one reply, and recording its latency.
    pub per_reply_ns: u64,
    /// Copying or parsing one byte of request or reply, in picoseconds.
    pub per_byte_ps: u64,
}

impl ClientCpuCost {
    pub const DEFAULT: ClientCpuCost = ClientCpuCost {
        per_request_ns: 1_000,
        per_reply_ns: 2_000,
        per_byte_ps: 100,
    };

    /// Building a request of `bytes`.
    #[inline]
    pub fn request(&self, bytes: u64) -> SimDuration {
        SimDuration::from_ns(self.per_request_ns + self.bytes_ns(bytes))
    }

    /// Parsing a reply of `bytes`.
    #[inline]
    pub fn reply(&self, bytes: u64) -> SimDuration {
        SimDuration::from_ns(self.per_reply_ns + self.bytes_ns(bytes))
    }

    /// A thread's CPU time for one request and its reply, of (mean) sizes
    /// `request_bytes` and `reply_bytes`: one over the client's ceiling.
    pub fn ns_per_request(&self, request_bytes: f64, reply_bytes: f64) -> f64 {
        (self.per_request_ns + self.per_reply_ns) as f64
            + (request_bytes + reply_bytes) * self.per_byte_ps as f64 / 1_000.0
    }

    /// Whether the client costs anything at all (a zero cost keeps the old, infinitely
    /// fast client).
    pub fn is_free(&self) -> bool {
        self.per_request_ns == 0 && self.per_reply_ns == 0 && self.per_byte_ps == 0
    }

    #[inline]
    fn bytes_ns(&self, bytes: u64) -> u64 {
        (bytes * self.per_byte_ps).div_ceil(1000)
    }
}
