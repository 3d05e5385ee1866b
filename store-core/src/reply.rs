//! The semantic reply of a command, independent of protocol version. The `resp` module
//! encodes it as RESP2 or RESP3 (a `Map` is a flat array in RESP2, a `Double` a bulk
//! string, a `Bool` an integer), and computes its encoded length without encoding, which
//! is what the simulator charges to the network. Invariant: the same `Reply` always
//! encodes to the same bytes for a given protocol version.

use crate::blob::Blob;

/// What a command answers. Error texts are stored whole, prefix included
/// (`"ERR syntax error"`, `"WRONGTYPE Operation against a key holding the wrong kind of
/// value"`), exactly as Redis 7.0 writes them after the `-`.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Ok,
    /// A simple string other than OK (`+PONG`, `+QUEUED`, a TYPE name).
    Simple(Box<str>),
    /// An error line, prefix included, without the leading `-`.
    Error(Box<str>),
    Integer(i64),
    /// A bulk string, real or synthetic.
    Bulk(Blob),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Null,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NullArray,
    Array(Vec<Reply>),
    /// A map (RESP3 `%`; a flat array of key, value, ... in RESP2).
    Map(Vec<(Reply, Reply)>),
    /// A set (RESP3 `~`; an array in RESP2).
    Set(Vec<Reply>),
    /// A double (RESP3 `,`; a bulk string in RESP2, formatted as Redis does).
    Double(f64),
    /// A boolean (RESP3 `#`; the integer 1 or 0 in RESP2).
    Bool(bool),
    /// A verbatim string (RESP3 `=` with a 3-letter format; a bulk string in RESP2).
    Verbatim {
        format: [u8; 3],
        text: Box<[u8]>,
    },
}

impl Reply {
    pub fn error(text: impl Into<Box<str>>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn simple(text: impl Into<Box<str>>) -> Reply {
        Reply::Simple(text.into())
    }

    pub fn bulk(bytes: &[u8]) -> Reply {
        Reply::Bulk(Blob::from_slice(bytes))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}
