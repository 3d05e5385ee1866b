//! The message table of the client-connection flow kinds: every request in flight, from
//! the moment a client sends it until its reply is received, in a slab whose slot is the
//! token its request and reply messages carry through the network. Requests wait on a
//! connection in lists linked through the requests themselves. Invariant: a request is
//! in exactly one place at a time (on the request flow, in its connection's waiting
//! list, in its connection's batch, on the reply flow) and leaves the table exactly once,
//! when its reply is delivered.

use crate::workload::generator::OpKind;
use sim::SimTime;
use slab::Slab;
use store_core::Arg;

/// A request in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Req {
    /// The next request of the connection list it is in (waiting or batch).
    pub next: u32,
    pub client: u32,
    pub conn: u32,
    pub kind: OpKind,
    pub key_index: u64,
    pub value_len: u32,
    pub expiry_s: u32,
    /// The node it is sent to: its shard's primary (node = shard), or one of the
    /// shard's replicas for a read from replicas.
    pub shard: u32,
    /// The key's hash slot, when the client computed it to route the request
    /// ([`NO_SLOT`] otherwise): the node need not hash the key again.
    pub slot: u16,
    pub request_bytes: u64,
    pub reply_bytes: u64,
    pub hit: bool,
    pub intended: SimTime,
    pub sent: SimTime,
    pub received: SimTime,
    pub cpu_start: SimTime,
    pub cpu_end: SimTime,
    /// When its reply reached the client host (the client's thread parses it after).
    pub delivered: SimTime,
    /// What its node answered, for its client to act on (a redirection, a retry).
    pub outcome: super::cluster::Outcome,
    /// Redirections and retries it has had (at most the clients' `max_redirects`).
    pub redirects: u8,
    /// ASKING goes before the command, in the same write (its previous answer was ASK).
    pub asking: bool,
    /// A refresh of its client's slot map (`CLUSTER SLOTS`), not a workload request.
    pub refresh: bool,
    /// Given up by its client (no reply within the request timeout): its reply, if
    /// one comes, is dropped.
    pub timed_out: bool,
    /// Failed with its connection's reset while a node thread held it (an orphan):
    /// its client is done with it.
    pub reset: bool,
    /// Its client's count of sends when it was last sent (its timeout acts only on
    /// that send).
    pub attempt: u32,
    /// The client's count of requests sent before this one (replies must come back in
    /// this order on a connection).
    #[cfg(test)]
    pub seq: u64,
}

/// Every request in flight, by token.
pub(crate) type Requests = Slab<Req>;

/// [`Req::slot`] when the client did not compute the slot.
pub(crate) const NO_SLOT: u16 = u16::MAX;

/// The end of a [`ReqList`].
pub(crate) const NO_REQ: u32 = u32::MAX;

/// Requests in order, linked through [`Req::next`]: a connection's waiting requests and
/// its batch. Links in the requests themselves, not a vector per connection, because a
/// request is touched anyway and ten thousand connections' vectors would each be one
/// more cold cache line per request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReqList {
    pub head: u32,
    pub tail: u32,
    pub len: u32,
}

impl ReqList {
    pub const EMPTY: ReqList = ReqList {
        head: NO_REQ,
        tail: NO_REQ,
        len: 0,
    };

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `req` (not in any list).
    pub fn push_back(&mut self, reqs: &mut Requests, req: u32) {
        reqs[req as usize].next = NO_REQ;
        if self.tail == NO_REQ {
            self.head = req;
        } else {
            reqs[self.tail as usize].next = req;
        }
        self.tail = req;
        self.len += 1;
    }

    /// The sum of `f` over the list's requests, in order.
    pub fn sum(&self, reqs: &Requests, f: impl Fn(&Req) -> u64) -> u64 {
        let mut total = 0;
        let mut req = self.head;
        while req != NO_REQ {
            let r = &reqs[req as usize];
            total += f(r);
            req = r.next;
        }
        total
    }
}

/// Calls `f` with the command a request sends: `GET key`, `SET key value`, or
/// `SET key value EX seconds` (`CLUSTER SLOTS` for a map refresh); the value is synthetic (its bytes are never made, and
/// `fill` says what they are: memtier's 'x's, or its random data). One
/// builder serves both the request's size on the wire and its execution on the Db, so
/// the two always describe the same command.
pub(crate) fn with_argv<T>(
    r: &Req,
    key: &[u8],
    fill: store_core::SyntheticFill,
    ex_buf: &mut Vec<u8>,
    f: impl FnOnce(&[Arg<'_>]) -> T,
) -> T {
    if r.refresh {
        return f(&[Arg::Bytes(b"CLUSTER"), Arg::Bytes(b"SLOTS")]);
    }
    match r.kind {
        OpKind::Get => f(&[Arg::Bytes(b"GET"), Arg::Bytes(key)]),
        OpKind::Set => {
            let value = Arg::Synthetic {
                len: r.value_len as u64,
                seed: fill.seed(r.key_index),
            };
            if r.expiry_s > 0 {
                ex_buf.clear();
                ex_buf.extend_from_slice(r.expiry_s.to_string().as_bytes());
                f(&[
                    Arg::Bytes(b"SET"),
                    Arg::Bytes(key),
                    value,
                    Arg::Bytes(b"EX"),
                    Arg::Bytes(ex_buf),
                ])
            } else {
                f(&[Arg::Bytes(b"SET"), Arg::Bytes(key), value])
            }
        }
    }
}
