//! The RESP2/RESP3 wire codec, as Redis 7.0 speaks it: an incremental request parser
//! (multibulk and inline commands, with Redis's limits and its exact protocol error
//! texts), a reply frame parser for clients and tests, and the reply encoder together
//! with [`encoded_len`], which computes the encoded size without encoding so that a
//! simulated 25 KB synthetic value is never materialized just to be counted.
//!
//! Invariants: `encoded_len(r, p) == encode(r, p).len()` for every reply and protocol;
//! no input, however malformed, makes a parser panic (it returns an error value, or
//! `Ok(None)` while a request is still incomplete); a request split across reads at any
//! byte boundary parses exactly as it does in one piece.

use crate::{Arg, Reply};

/// Longest inline request, or multibulk header line, that Redis buffers while waiting for
/// its line end (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX_BYTES: usize = 64 * 1024;
/// Longest bulk argument Redis accepts (`proto-max-bulk-len`, 512 MB by default).
pub const BULK_MAX_BYTES: i64 = 512 * 1024 * 1024;
/// Most arguments in one multibulk request (Redis 7.0 checks against `INT_MAX`).
pub const MULTIBULK_MAX_ARGS: i64 = i32::MAX as i64;
/// Deepest nesting of aggregate reply frames the frame parser follows; deeper input is an
/// error rather than a stack overflow. Redis itself never nests replies beyond a handful.
pub const FRAME_MAX_DEPTH: usize = 128;

/// The protocol version a connection speaks, switched by `HELLO`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    /// The number `HELLO` takes and reports (2 or 3).
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }

    pub fn from_version(version: i64) -> Option<Protocol> {
        match version {
            2 => Some(Protocol::Resp2),
            3 => Some(Protocol::Resp3),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// A malformed request. Redis answers it with this error and closes the connection after
/// the reply: the connection cannot continue, because the byte stream can no longer be
/// split into requests. Commands parsed before it on the same connection are unaffected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// The error line without the leading `-`, e.g. `ERR Protocol error: invalid bulk
    /// length`. Bytes, not text: Redis echoes the offending byte of `expected '$', got
    /// 'x'` raw, and that byte need not be UTF-8.
    text: Box<[u8]>,
}

impl ProtocolError {
    fn new(text: &str) -> ProtocolError {
        ProtocolError {
            text: text.as_bytes().into(),
        }
    }

    /// The error line without the leading `-` and the trailing CRLF.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// Appends the wire form (`-ERR Protocol error: ...\r\n`), the same in RESP2 and RESP3.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'-');
        out.extend_from_slice(&self.text);
        out.extend_from_slice(b"\r\n");
    }

    /// As a reply value (a non-UTF-8 byte becomes U+FFFD; [`ProtocolError::encode`] keeps
    /// the raw byte as Redis does).
    pub fn to_reply(&self) -> Reply {
        Reply::Error(String::from_utf8_lossy(&self.text).into())
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text))
    }
}

impl std::error::Error for ProtocolError {}

/// Where one parsed argument lies: in the request's own bytes (multibulk), or in the
/// parser's scratch buffer (inline arguments, which may have been unquoted/unescaped).
/// Offsets are relative to the start of the request, so the caller may drop bytes before
/// the request from its buffer between calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    Input { start: usize, end: usize },
    Scratch { start: usize, end: usize },
}

/// Where a partially received multibulk request stands, so that a request arriving in
/// many reads is scanned once rather than from its start on every read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Progress {
    /// Arguments still to read; 0 when the header line has not been read yet.
    args_left: i64,
    /// Offset (from the request start) of the next unread byte.
    pos: usize,
    /// Offset up to which the current line was already searched for its end.
    scanned: usize,
}

/// An incremental request parser with Redis 7.0's behaviour (`processMultibulkBuffer`,
/// `processInlineBuffer` and `sdssplitargs` in Redis's networking.c and sds.c).
///
/// Use: call [`RequestParser::parse`] with the connection's unread bytes. `Ok(None)`
/// means the request is incomplete: call again, once more bytes arrived, with the same
/// unread bytes (the request still starting at index 0) followed by the new ones.
/// `Ok(Some(n))` means a whole request of `n` bytes was parsed; its arguments are read
/// through [`RequestParser::args`] with the same input, until the next `parse`.
#[derive(Clone, Debug, Default)]
pub struct RequestParser {
    spans: Vec<Span>,
    scratch: Vec<u8>,
    progress: Progress,
}

impl RequestParser {
    pub fn new() -> RequestParser {
        RequestParser::default()
    }

    /// Forgets a partially parsed request (a new connection, or after an error).
    pub fn reset(&mut self) {
        self.spans.clear();
        self.scratch.clear();
        self.progress = Progress::default();
    }

    /// Parses one request from the start of `input`. Returns `Ok(Some(consumed))` when a
    /// whole request was read (it may have no arguments: Redis skips an empty inline line,
    /// `*0` and `*-1` silently, and so should the caller), `Ok(None)` when more bytes are
    /// needed, and the protocol error Redis would answer otherwise.
    pub fn parse(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(&first) = input.first() else {
            return Ok(None);
        };
        let result = if first == b'*' {
            self.parse_multibulk(input)
        } else {
            self.parse_inline(input)
        };
        match result {
            Ok(Some(_)) => self.progress = Progress::default(),
            Ok(None) => {}
            Err(_) => self.reset(),
        }
        result
    }

    /// Number of arguments of the request last parsed.
    pub fn argc(&self) -> usize {
        self.spans.len()
    }

    /// Argument `index` of the request last parsed; `input` must be the slice given to
    /// the `parse` call that returned it (another slice yields empty arguments, never a
    /// panic).
    pub fn arg<'a>(&'a self, input: &'a [u8], index: usize) -> Option<&'a [u8]> {
        self.spans.get(index).map(|span| self.resolve(input, *span))
    }

    /// The arguments of the request last parsed, in order (see [`RequestParser::arg`]).
    pub fn args<'a>(&'a self, input: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.spans
            .iter()
            .map(move |span| self.resolve(input, *span))
    }

    fn resolve<'a>(&'a self, input: &'a [u8], span: Span) -> &'a [u8] {
        match span {
            Span::Input { start, end } => input.get(start..end).unwrap_or(&[]),
            Span::Scratch { start, end } => self.scratch.get(start..end).unwrap_or(&[]),
        }
    }

    fn parse_multibulk(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.progress.args_left == 0 {
            // A new request: read the `*<count>\r\n` header.
            self.spans.clear();
            self.scratch.clear();
            let Some(cr) = self.find_line_end(input, 0, b'\r') else {
                if input.len() > INLINE_MAX_BYTES {
                    return Err(ProtocolError::new(
                        "ERR Protocol error: too big mbulk count string",
                    ));
                }
                return Ok(None);
            };
            // Redis waits for one more byte after the '\r' but does not check it is '\n'.
            if cr + 2 > input.len() {
                return Ok(None);
            }
            let count = match string_to_i64(&input[1..cr]) {
                Some(count) if count <= MULTIBULK_MAX_ARGS => count,
                _ => {
                    return Err(ProtocolError::new(
                        "ERR Protocol error: invalid multibulk length",
                    ))
                }
            };
            let pos = cr + 2;
            if count <= 0 {
                return Ok(Some(pos));
            }
            self.progress = Progress {
                args_left: count,
                pos,
                scanned: pos,
            };
        }
        while self.progress.args_left > 0 {
            let pos = self.progress.pos;
            let Some(cr) = self.find_line_end(input, pos, b'\r') else {
                if input.len() - pos > INLINE_MAX_BYTES {
                    return Err(ProtocolError::new(
                        "ERR Protocol error: too big bulk count string",
                    ));
                }
                return Ok(None);
            };
            if cr + 2 > input.len() {
                return Ok(None);
            }
            if input[pos] != b'$' {
                // Redis formats the byte with %c and then turns CR and LF into spaces so
                // that the error line stays one line.
                let got = match input[pos] {
                    b'\r' | b'\n' => b' ',
                    other => other,
                };
                let mut text = b"ERR Protocol error: expected '$', got '".to_vec();
                text.push(got);
                text.push(b'\'');
                return Err(ProtocolError {
                    text: text.into_boxed_slice(),
                });
            }
            let len = match string_to_i64(&input[pos + 1..cr]) {
                Some(len) if (0..=BULK_MAX_BYTES).contains(&len) => len as usize,
                _ => {
                    return Err(ProtocolError::new(
                        "ERR Protocol error: invalid bulk length",
                    ))
                }
            };
            let start = cr + 2;
            // The payload and the two bytes after it, which Redis skips unchecked.
            if input.len() - start < len + 2 {
                return Ok(None);
            }
            self.spans.push(Span::Input {
                start,
                end: start + len,
            });
            self.progress.pos = start + len + 2;
            self.progress.scanned = self.progress.pos;
            self.progress.args_left -= 1;
        }
        Ok(Some(self.progress.pos))
    }

    fn parse_inline(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        self.spans.clear();
        self.scratch.clear();
        let Some(lf) = self.find_line_end(input, 0, b'\n') else {
            if input.len() > INLINE_MAX_BYTES {
                return Err(ProtocolError::new(
                    "ERR Protocol error: too big inline request",
                ));
            }
            return Ok(None);
        };
        let line_end = if lf > 0 && input[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        if !split_args(&input[..line_end], &mut self.scratch, &mut self.spans) {
            self.spans.clear();
            self.scratch.clear();
            return Err(ProtocolError::new(
                "ERR Protocol error: unbalanced quotes in request",
            ));
        }
        Ok(Some(lf + 1))
    }

    /// Finds `needle` at or after `from`, as Redis's `strchr` on the query buffer does:
    /// the search also stops, unsuccessfully, at a NUL byte. Remembers how far it looked,
    /// so a long line arriving in many reads is scanned once.
    fn find_line_end(&mut self, input: &[u8], from: usize, needle: u8) -> Option<usize> {
        let begin = self.progress.scanned.max(from).min(input.len());
        for (offset, &byte) in input[begin..].iter().enumerate() {
            if byte == needle {
                return Some(begin + offset);
            }
            if byte == 0 {
                // strchr stops here for good: nothing after a NUL is ever found.
                self.progress.scanned = begin + offset;
                return None;
            }
        }
        self.progress.scanned = input.len();
        None
    }
}

/// Splits an inline request line into arguments as Redis's `sdssplitargs` does: blanks
/// separate arguments, "double quotes" understand `\n \r \t \b \a \xHH` and `\<c>`,
/// 'single quotes' understand only `\'`, and a closing quote must be followed by a blank
/// or the end of the line. Returns false on unbalanced quotes. `line` holds no NUL (the
/// line search stops at one), and the C code's reads past the end see a NUL: `get`
/// returning `None` plays that part here.
fn split_args(line: &[u8], scratch: &mut Vec<u8>, spans: &mut Vec<Span>) -> bool {
    // C's isspace in the "C" locale.
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return true;
        }
        let start = scratch.len();
        let (mut in_double, mut in_single, mut done) = (false, false, false);
        while !done {
            let c = at(p);
            if in_double {
                if c == b'\\'
                    && at(p + 1) == b'x'
                    && at(p + 2).is_ascii_hexdigit()
                    && at(p + 3).is_ascii_hexdigit()
                {
                    scratch.push(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    scratch.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return false;
                    }
                    done = true;
                } else if c == 0 {
                    return false;
                } else {
                    scratch.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    scratch.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return false;
                    }
                    done = true;
                } else if c == 0 {
                    return false;
                } else {
                    scratch.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    other => scratch.push(other),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        spans.push(Span::Scratch {
            start,
            end: scratch.len(),
        });
    }
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// Redis's `string2ll`: the canonical decimal form of an i64 and nothing else (no sign
/// other than a leading '-', no leading zeros, no "-0", no blanks, at most 20 bytes).
pub fn string_to_i64(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    if text == b"0" {
        return Some(0);
    }
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Appends a request in the multibulk form clients send (`*N\r\n$len\r\narg\r\n...`).
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    out.push(b'*');
    write_decimal(out, args.len() as i64);
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        write_decimal(out, arg.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// The number of bytes a client sends for `args` as a multibulk request, computed
/// without encoding: a synthetic argument counts its full length but is never
/// materialized. This is what the simulator charges to the network for a request.
pub fn encoded_request_len(args: &[Arg<'_>]) -> u64 {
    header_len(args.len() as u64)
        + args
            .iter()
            .map(|arg| header_len(arg.len()) + arg.len() + 2)
            .sum::<u64>()
}

// ---------------------------------------------------------------------------------------
// Replies: encoding
// ---------------------------------------------------------------------------------------

/// Appends the wire form of `reply` as Redis 7.0 writes it in `protocol`.
///
/// RESP2 has no map, set, double, boolean, null or verbatim types, so, as Redis does: a
/// map is a flat array of key, value, ...; a set an array; a double a bulk string
/// formatted with `%.17g` (`inf`/`-inf` spelled out); a boolean the integer 1 or 0; a
/// null `$-1` (or `*-1` for a null array); a verbatim string a plain bulk string. In
/// RESP3 a null of either kind is `_`. Error and status texts have CR and LF replaced by
/// spaces, as Redis does for error texts, so that a reply is always one well-formed frame.
pub fn encode(reply: &Reply, protocol: Protocol, out: &mut Vec<u8>) {
    let resp3 = protocol == Protocol::Resp3;
    match reply {
        Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
        Reply::Simple(text) => write_line(out, b'+', text.as_bytes()),
        Reply::Error(text) => write_line(out, b'-', text.as_bytes()),
        Reply::Integer(value) => {
            out.push(b':');
            write_decimal(out, *value);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Bulk(blob) => {
            write_header(out, b'$', blob.len());
            blob.write_to(out);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Null if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::Null => out.extend_from_slice(b"$-1\r\n"),
        Reply::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(items) => {
            write_header(out, b'*', items.len() as u64);
            for item in items {
                encode(item, protocol, out);
            }
        }
        Reply::Set(items) => {
            write_header(out, if resp3 { b'~' } else { b'*' }, items.len() as u64);
            for item in items {
                encode(item, protocol, out);
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                write_header(out, b'%', pairs.len() as u64);
            } else {
                write_header(out, b'*', 2 * pairs.len() as u64);
            }
            for (key, value) in pairs {
                encode(key, protocol, out);
                encode(value, protocol, out);
            }
        }
        Reply::Double(value) => {
            let mut buf = [0u8; DOUBLE_MAX_BYTES];
            let text = format_double(*value, &mut buf);
            if resp3 {
                out.push(b',');
                out.extend_from_slice(text);
            } else {
                write_header(out, b'$', text.len() as u64);
                out.extend_from_slice(text);
            }
            out.extend_from_slice(b"\r\n");
        }
        Reply::Bool(value) => out.extend_from_slice(match (resp3, value) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        }),
        Reply::Verbatim { format, text } => {
            if resp3 {
                write_header(out, b'=', text.len() as u64 + 4);
                out.extend_from_slice(format);
                out.push(b':');
            } else {
                write_header(out, b'$', text.len() as u64);
            }
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The number of bytes [`encode`] would append for `reply`, computed without encoding:
/// a synthetic bulk value counts its full length but is never materialized. This is what
/// the simulator charges to the network for a reply.
pub fn encoded_len(reply: &Reply, protocol: Protocol) -> u64 {
    let resp3 = protocol == Protocol::Resp3;
    match reply {
        Reply::Ok => 5,
        // Type byte, text, CRLF.
        Reply::Simple(text) | Reply::Error(text) => 1 + text.len() as u64 + 2,
        Reply::Integer(value) => 1 + decimal_len(*value) + 2,
        Reply::Bulk(blob) => header_len(blob.len()) + blob.len() + 2,
        Reply::Null | Reply::NullArray if resp3 => 3,
        Reply::Null | Reply::NullArray => 5,
        Reply::Array(items) | Reply::Set(items) => {
            header_len(items.len() as u64)
                + items
                    .iter()
                    .map(|item| encoded_len(item, protocol))
                    .sum::<u64>()
        }
        Reply::Map(pairs) => {
            let count = if resp3 { pairs.len() } else { 2 * pairs.len() };
            header_len(count as u64)
                + pairs
                    .iter()
                    .map(|(k, v)| encoded_len(k, protocol) + encoded_len(v, protocol))
                    .sum::<u64>()
        }
        Reply::Double(value) => {
            let mut buf = [0u8; DOUBLE_MAX_BYTES];
            let text_len = format_double(*value, &mut buf).len() as u64;
            if resp3 {
                1 + text_len + 2
            } else {
                header_len(text_len) + text_len + 2
            }
        }
        Reply::Bool(_) => 4,
        Reply::Verbatim { text, .. } => {
            let len = text.len() as u64 + if resp3 { 4 } else { 0 };
            header_len(len) + len + 2
        }
    }
}

/// Encodes into a new vector (convenience for tests and clients).
pub fn encode_to_vec(reply: &Reply, protocol: Protocol) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode(reply, protocol, &mut out);
    out
}

fn write_line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend(text.iter().map(|&b| match b {
        b'\r' | b'\n' => b' ',
        other => other,
    }));
    out.extend_from_slice(b"\r\n");
}

/// `<kind><count>\r\n`.
fn write_header(out: &mut Vec<u8>, kind: u8, count: u64) {
    out.push(kind);
    write_unsigned(out, count);
    out.extend_from_slice(b"\r\n");
}

/// Length of `<kind><count>\r\n`.
fn header_len(count: u64) -> u64 {
    1 + unsigned_len(count) + 2
}

fn write_decimal(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    write_unsigned(out, value.unsigned_abs());
}

fn write_unsigned(out: &mut Vec<u8>, mut value: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

fn decimal_len(value: i64) -> u64 {
    u64::from(value < 0) + unsigned_len(value.unsigned_abs())
}

fn unsigned_len(value: u64) -> u64 {
    match value.checked_ilog10() {
        Some(log) => u64::from(log) + 1,
        None => 1,
    }
}

/// Room for the longest `%.17g` text: sign, 17 digits, point, `e-308`.
pub const DOUBLE_MAX_BYTES: usize = 32;

/// Formats `value` as Redis 7.0's `addReplyDouble` does: C's `%.17g` (17 significant
/// digits, trailing zeros dropped, exponent form below 1e-4 and from 1e17 on, with at
/// least two exponent digits), `inf`/`-inf` for infinities and glibc's `nan`/`-nan`.
/// Rust's `{:.16e}` rounds the exact binary value half-to-even, as glibc's printf does,
/// so the 17 digits agree; only their layout is rebuilt here.
pub fn format_double(value: f64, buf: &mut [u8; DOUBLE_MAX_BYTES]) -> &[u8] {
    let mut len = 0;
    let mut push = |buf: &mut [u8; DOUBLE_MAX_BYTES], byte: u8| {
        if len < DOUBLE_MAX_BYTES {
            buf[len] = byte;
            len += 1;
        }
    };
    if value.is_nan() || value.is_infinite() {
        if value.is_sign_negative() {
            push(buf, b'-');
        }
        for &b in if value.is_nan() { b"nan" } else { b"inf" } {
            push(buf, b);
        }
        return &buf[..len];
    }
    // Scientific form with 17 significant digits: "-d.dddddddddddddddde-5".
    let mut sci = [0u8; DOUBLE_MAX_BYTES];
    let sci_len = {
        use std::io::Write;
        let mut cursor = std::io::Cursor::new(&mut sci[..]);
        // Cannot fail: the longest form is 25 bytes.
        let _ = write!(cursor, "{value:.16e}");
        cursor.position() as usize
    };
    let sci = &sci[..sci_len];
    let (negative, sci) = match sci.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, sci),
    };
    let e_at = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
    let mut digits = [0u8; 17];
    let mut n_digits = 0;
    for &b in &sci[..e_at] {
        if b.is_ascii_digit() && n_digits < digits.len() {
            digits[n_digits] = b;
            n_digits += 1;
        }
    }
    let exponent = std::str::from_utf8(sci.get(e_at + 1..).unwrap_or(&[]))
        .ok()
        .and_then(|text| text.parse::<i32>().ok())
        .unwrap_or(0);
    // Significant digits that survive trailing-zero removal (at least the first).
    let mut kept = n_digits;
    while kept > 1 && digits[kept - 1] == b'0' {
        kept -= 1;
    }
    if negative {
        push(buf, b'-');
    }
    if (-4..17).contains(&exponent) {
        if exponent >= 0 {
            let int_digits = exponent as usize + 1;
            // Exponents below 17 leave at most 17 integer digits: all significant.
            for &d in &digits[..int_digits.min(n_digits)] {
                push(buf, d);
            }
            if kept > int_digits {
                push(buf, b'.');
                for &d in &digits[int_digits..kept] {
                    push(buf, d);
                }
            }
        } else {
            push(buf, b'0');
            push(buf, b'.');
            for _ in 0..(-exponent - 1) {
                push(buf, b'0');
            }
            for &d in &digits[..kept] {
                push(buf, d);
            }
        }
    } else {
        push(buf, digits[0]);
        if kept > 1 {
            push(buf, b'.');
            for &d in &digits[1..kept] {
                push(buf, d);
            }
        }
        push(buf, b'e');
        push(buf, if exponent < 0 { b'-' } else { b'+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude >= 100 {
            push(buf, b'0' + (magnitude / 100) as u8);
        }
        push(buf, b'0' + (magnitude / 10 % 10) as u8);
        push(buf, b'0' + (magnitude % 10) as u8);
    }
    &buf[..len]
}

// ---------------------------------------------------------------------------------------
// Replies: parsing (for clients and tests)
// ---------------------------------------------------------------------------------------

/// One RESP2/RESP3 frame exactly as it appears on the wire: parsing then encoding a
/// frame gives back the same bytes. Doubles and big numbers keep their text, so a
/// comparison of frames is a comparison of bytes. Ordered, so that a test can sort the
/// elements of a reply whose order Redis leaves unspecified.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Frame {
    /// `+text`
    Simple(Vec<u8>),
    /// `-text`
    Error(Vec<u8>),
    /// `:n`
    Integer(i64),
    /// `$len` + bytes
    Bulk(Vec<u8>),
    /// `$-1` (RESP2 null)
    NullBulk,
    /// `*-1` (RESP2 null array)
    NullArray,
    /// `_` (RESP3 null)
    Null,
    /// `*n`
    Array(Vec<Frame>),
    /// `%n` (RESP3)
    Map(Vec<(Frame, Frame)>),
    /// `~n` (RESP3)
    Set(Vec<Frame>),
    /// `>n` (RESP3 out-of-band push)
    Push(Vec<Frame>),
    /// `|n` (RESP3 attribute, which precedes the reply it describes)
    Attribute(Vec<(Frame, Frame)>),
    /// `,text` (RESP3), the text as sent
    Double(Vec<u8>),
    /// `#t` / `#f` (RESP3)
    Bool(bool),
    /// `(digits` (RESP3), the text as sent
    BigNumber(Vec<u8>),
    /// `!len` + bytes (RESP3)
    BlobError(Vec<u8>),
    /// `=len` + `fmt:` + bytes (RESP3)
    Verbatim { format: [u8; 3], text: Vec<u8> },
}

/// Why bytes are not a well-formed reply frame. The stream cannot be resynchronized
/// after it: a client closes the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed reply frame: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

/// Parses one frame from the start of `input`: `Ok(Some((frame, consumed)))`, `Ok(None)`
/// when the frame is not complete yet, or an error for bytes that are not RESP. Stateless:
/// call again with the whole frame once more bytes arrived.
pub fn parse_frame(input: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let mut pos = 0;
    match parse_frame_at(input, &mut pos, 0)? {
        Some(frame) => Ok(Some((frame, pos))),
        None => Ok(None),
    }
}

fn parse_frame_at(
    input: &[u8],
    pos: &mut usize,
    depth: usize,
) -> Result<Option<Frame>, FrameError> {
    if depth > FRAME_MAX_DEPTH {
        return Err(FrameError(format!(
            "aggregates nested deeper than {FRAME_MAX_DEPTH}"
        )));
    }
    let Some(&kind) = input.get(*pos) else {
        return Ok(None);
    };
    let Some(line) = read_line(input, *pos + 1)? else {
        return Ok(None);
    };
    let text = &input[*pos + 1..line];
    let after_line = line + 2;
    let frame = match kind {
        b'+' | b'-' | b',' | b'(' => {
            let text = text.to_vec();
            *pos = after_line;
            match kind {
                b'+' => Frame::Simple(text),
                b'-' => Frame::Error(text),
                b',' => Frame::Double(text),
                _ => Frame::BigNumber(text),
            }
        }
        b':' => {
            let value = string_to_i64(text)
                .ok_or_else(|| FrameError("integer is not a canonical i64".into()))?;
            *pos = after_line;
            Frame::Integer(value)
        }
        b'_' => {
            if !text.is_empty() {
                return Err(FrameError("null with a payload".into()));
            }
            *pos = after_line;
            Frame::Null
        }
        b'#' => {
            let value = match text {
                b"t" => true,
                b"f" => false,
                _ => return Err(FrameError("boolean is neither t nor f".into())),
            };
            *pos = after_line;
            Frame::Bool(value)
        }
        b'$' | b'!' | b'=' => {
            let len = string_to_i64(text)
                .ok_or_else(|| FrameError("bulk length is not an integer".into()))?;
            if len == -1 && kind == b'$' {
                *pos = after_line;
                return Ok(Some(Frame::NullBulk));
            }
            if !(0..=BULK_MAX_BYTES).contains(&len) {
                return Err(FrameError("bulk length out of range".into()));
            }
            let len = len as usize;
            if input.len() - after_line < len + 2 {
                return Ok(None);
            }
            let payload = &input[after_line..after_line + len];
            if &input[after_line + len..after_line + len + 2] != b"\r\n" {
                return Err(FrameError("bulk payload not followed by CRLF".into()));
            }
            *pos = after_line + len + 2;
            match kind {
                b'$' => Frame::Bulk(payload.to_vec()),
                b'!' => Frame::BlobError(payload.to_vec()),
                _ => {
                    if len < 4 || payload[3] != b':' {
                        return Err(FrameError("verbatim string without its format".into()));
                    }
                    Frame::Verbatim {
                        format: [payload[0], payload[1], payload[2]],
                        text: payload[4..].to_vec(),
                    }
                }
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count = string_to_i64(text)
                .ok_or_else(|| FrameError("aggregate length is not an integer".into()))?;
            if count == -1 && kind == b'*' {
                *pos = after_line;
                return Ok(Some(Frame::NullArray));
            }
            if count < 0 {
                return Err(FrameError("negative aggregate length".into()));
            }
            let paired = matches!(kind, b'%' | b'|');
            let elements = if paired { count * 2 } else { count };
            let mut cursor = after_line;
            // Never trust the count for the allocation: every element takes at least 3
            // bytes, so what is already buffered bounds what can be real.
            let mut items = Vec::with_capacity((elements as usize).min(input.len() / 3 + 1));
            for _ in 0..elements {
                match parse_frame_at(input, &mut cursor, depth + 1)? {
                    Some(item) => items.push(item),
                    None => return Ok(None),
                }
            }
            *pos = cursor;
            if paired {
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut iter = items.into_iter();
                while let (Some(k), Some(v)) = (iter.next(), iter.next()) {
                    pairs.push((k, v));
                }
                if kind == b'%' {
                    Frame::Map(pairs)
                } else {
                    Frame::Attribute(pairs)
                }
            } else {
                match kind {
                    b'*' => Frame::Array(items),
                    b'~' => Frame::Set(items),
                    _ => Frame::Push(items),
                }
            }
        }
        other => {
            return Err(FrameError(format!(
                "unknown type byte {:?}",
                char::from(other)
            )))
        }
    };
    Ok(Some(frame))
}

/// The index of the CR of the CRLF that ends the line starting at `from`; `Ok(None)` if
/// it has not arrived. A bare CR or LF inside a line is an error: RESP lines hold neither.
fn read_line(input: &[u8], from: usize) -> Result<Option<usize>, FrameError> {
    let Some(rest) = input.get(from..) else {
        return Ok(None);
    };
    match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        None => Ok(None),
        Some(offset) if rest[offset] == b'\n' => Err(FrameError("LF without CR".into())),
        Some(offset) => match rest.get(offset + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(from + offset)),
            Some(_) => Err(FrameError("CR without LF".into())),
        },
    }
}

impl Frame {
    /// Appends the wire form; `parse_frame` of it gives back `self`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let line = |out: &mut Vec<u8>, kind: u8, text: &[u8]| {
            out.push(kind);
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        };
        match self {
            Frame::Simple(text) => line(out, b'+', text),
            Frame::Error(text) => line(out, b'-', text),
            Frame::Double(text) => line(out, b',', text),
            Frame::BigNumber(text) => line(out, b'(', text),
            Frame::Integer(value) => {
                out.push(b':');
                write_decimal(out, *value);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Null => out.extend_from_slice(b"_\r\n"),
            Frame::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Bool(value) => out.extend_from_slice(if *value { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::Bulk(bytes) | Frame::BlobError(bytes) => {
                let kind = if matches!(self, Frame::Bulk(_)) {
                    b'$'
                } else {
                    b'!'
                };
                write_header(out, kind, bytes.len() as u64);
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Verbatim { format, text } => {
                write_header(out, b'=', text.len() as u64 + 4);
                out.extend_from_slice(format);
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
                let kind = match self {
                    Frame::Array(_) => b'*',
                    Frame::Set(_) => b'~',
                    _ => b'>',
                };
                write_header(out, kind, items.len() as u64);
                for item in items {
                    item.encode(out);
                }
            }
            Frame::Map(pairs) | Frame::Attribute(pairs) => {
                let kind = if matches!(self, Frame::Map(_)) {
                    b'%'
                } else {
                    b'|'
                };
                write_header(out, kind, pairs.len() as u64);
                for (key, value) in pairs {
                    key.encode(out);
                    value.encode(out);
                }
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Blob;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut parser = RequestParser::new();
        let mut pos = 0;
        let mut requests = Vec::new();
        while let Some(n) = parser.parse(&input[pos..])? {
            requests.push(parser.args(&input[pos..]).map(<[u8]>::to_vec).collect());
            pos += n;
        }
        Ok(requests)
    }

    fn err(input: &[u8]) -> String {
        String::from_utf8_lossy(parse_all(input).unwrap_err().text()).into_owned()
    }

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_inline_requests() {
        assert_eq!(
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n").unwrap(),
            vec![args(&["GET", "k"]), args(&["PING"])]
        );
        // Redis skips the two bytes after a payload without looking at them.
        assert_eq!(
            parse_all(b"*1\r\n$4\r\nPINGxx").unwrap(),
            vec![args(&["PING"])]
        );
        assert_eq!(
            parse_all(b"*0\r\n*-9\r\n\r\n").unwrap(),
            vec![Vec::<Vec<u8>>::new(); 3]
        );
        assert_eq!(
            parse_all(b"ECHO \"a\\x41\\n\" 'b\\'c' d\x0be\n").unwrap(),
            vec![vec![
                b"ECHO".to_vec(),
                b"aA\n".to_vec(),
                b"b'c".to_vec(),
                b"d\x0be".to_vec()
            ]]
        );
        assert_eq!(parse_all(b"  \t\r\n").unwrap(), vec![Vec::<Vec<u8>>::new()]);
    }

    #[test]
    fn protocol_errors_have_redis_texts() {
        assert_eq!(
            err(b"*x\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*-0\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*01\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*2147483648\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*1\r\nx4\r\n"),
            "ERR Protocol error: expected '$', got 'x'"
        );
        assert_eq!(
            err(b"*1\r\n\r\n"),
            "ERR Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            err(b"*1\r\n$04\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"*1\r\n$-1\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"*1\r\n$536870913\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"ECHO \"abc\"d\r\n"),
            "ERR Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err(b"ECHO 'abc\r\n"),
            "ERR Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err(&[b'x'; INLINE_MAX_BYTES + 1]),
            "ERR Protocol error: too big inline request"
        );
        let mut long = b"*".to_vec();
        long.resize(INLINE_MAX_BYTES + 2, b'1');
        assert_eq!(err(&long), "ERR Protocol error: too big mbulk count string");
        let mut long = b"*1\r\n$".to_vec();
        long.resize(INLINE_MAX_BYTES + 10, b'1');
        assert_eq!(err(&long), "ERR Protocol error: too big bulk count string");
    }

    #[test]
    fn incomplete_requests_wait() {
        let mut parser = RequestParser::new();
        assert_eq!(parser.parse(b"*1\r\n$4\r\nPI"), Ok(None));
        assert_eq!(parser.parse(b"*1\r\n$4\r\nPING\r"), Ok(None));
        assert_eq!(parser.parse(b"*1\r\n$4\r\nPING\r\n"), Ok(Some(14)));
        // strchr stops at a NUL, so Redis waits (until the line is too big).
        assert_eq!(parser.parse(b"*1\0\r\n"), Ok(None));
        parser.reset();
        assert_eq!(parser.parse(b"PING"), Ok(None));
    }

    #[test]
    fn doubles_format_like_percent_17g() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (0.0, "0"),
            (-0.0, "-0"),
            (3.0, "3"),
            (1e300, "1.0000000000000001e+300"),
            (12345678901234567890.0, "1.2345678901234567e+19"),
            (2f64.powi(-25), "2.9802322387695312e-08"),
            (1e-4, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (-123.25, "-123.25"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
        ];
        for &(value, text) in cases {
            let mut buf = [0u8; DOUBLE_MAX_BYTES];
            assert_eq!(
                std::str::from_utf8(format_double(value, &mut buf)).unwrap(),
                text,
                "{value:e}"
            );
        }
    }

    #[test]
    fn replies_encode_like_redis() {
        let r2 = |r: &Reply| String::from_utf8(encode_to_vec(r, Protocol::Resp2)).unwrap();
        let r3 = |r: &Reply| String::from_utf8(encode_to_vec(r, Protocol::Resp3)).unwrap();
        let map = Reply::Map(vec![(Reply::bulk(b"a"), Reply::Integer(-1))]);
        assert_eq!(r2(&map), "*2\r\n$1\r\na\r\n:-1\r\n");
        assert_eq!(r3(&map), "%1\r\n$1\r\na\r\n:-1\r\n");
        assert_eq!(r2(&Reply::Double(0.1)), "$19\r\n0.10000000000000001\r\n");
        assert_eq!(r3(&Reply::Double(0.1)), ",0.10000000000000001\r\n");
        assert_eq!(r2(&Reply::Double(f64::INFINITY)), "$3\r\ninf\r\n");
        assert_eq!(r3(&Reply::Double(f64::NEG_INFINITY)), ",-inf\r\n");
        assert_eq!(r2(&Reply::Null), "$-1\r\n");
        assert_eq!(r2(&Reply::NullArray), "*-1\r\n");
        assert_eq!(r3(&Reply::Null), "_\r\n");
        assert_eq!(r3(&Reply::NullArray), "_\r\n");
        assert_eq!(r2(&Reply::Bool(true)), ":1\r\n");
        assert_eq!(r3(&Reply::Bool(false)), "#f\r\n");
        let verbatim = Reply::Verbatim {
            format: *b"txt",
            text: b"hi"[..].into(),
        };
        assert_eq!(r2(&verbatim), "$2\r\nhi\r\n");
        assert_eq!(r3(&verbatim), "=6\r\ntxt:hi\r\n");
        assert_eq!(r2(&Reply::error("ERR a\r\nb")), "-ERR a  b\r\n");
        let set = Reply::Set(vec![Reply::Ok]);
        assert_eq!(r2(&set), "*1\r\n+OK\r\n");
        assert_eq!(r3(&set), "~1\r\n+OK\r\n");
    }

    #[test]
    fn encoded_len_of_a_synthetic_value_does_not_materialize_it() {
        // 1 TB would not fit in memory: only the length is computed.
        let huge = Reply::Bulk(Blob::Synthetic {
            len: 1 << 40,
            seed: 3,
        });
        assert_eq!(
            encoded_len(&huge, Protocol::Resp2),
            1 + 13 + 2 + (1 << 40) + 2
        );
    }

    #[test]
    fn frames_parse_and_reencode() {
        let wire: &[u8] = b"%2\r\n+a\r\n,1.5\r\n$-1\r\n*2\r\n#t\r\n=6\r\ntxt:hi\r\n";
        let (frame, used) = parse_frame(wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(frame.to_bytes(), wire);
        assert_eq!(parse_frame(&wire[..wire.len() - 1]), Ok(None));
        assert!(parse_frame(b"?x\r\n").is_err());
        assert!(parse_frame(b"*99999999999\r\n").unwrap().is_none());
    }
}
