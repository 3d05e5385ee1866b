//! Property tests of the RESP codec (`store_core::resp`): the parsers never panic, valid
//! frames round-trip, a request or frame split at any byte boundary parses exactly as it
//! does whole, and `encoded_len` always equals the length of what `encode` writes.

use proptest::prelude::*;
use store_core::resp::{
    encode, encode_request, encode_to_vec, encoded_len, encoded_request_len, parse_frame, Frame,
    Protocol, ProtocolError, RequestParser,
};
use store_core::{Arg, Blob, Reply};

/// Every request the parser yields from `input`, then how it stopped: `Ok(rest)` with the
/// unparsed tail length when it needs more bytes, or the protocol error.
type Outcome = (Vec<Vec<Vec<u8>>>, Result<usize, ProtocolError>);

fn parse_stream(input: &[u8]) -> Outcome {
    let mut parser = RequestParser::new();
    let mut pos = 0;
    let mut requests = Vec::new();
    loop {
        match parser.parse(&input[pos..]) {
            Ok(Some(n)) => {
                requests.push(parser.args(&input[pos..]).map(<[u8]>::to_vec).collect());
                pos += n;
            }
            Ok(None) => return (requests, Ok(input.len() - pos)),
            Err(e) => return (requests, Err(e)),
        }
    }
}

/// Parses `input` as it would arrive in two reads, split after `split` bytes: the parser
/// first sees the prefix, then (for the request it was in the middle of) the whole rest.
fn parse_stream_split(input: &[u8], split: usize) -> Outcome {
    let mut parser = RequestParser::new();
    let mut pos = 0;
    let mut requests = Vec::new();
    let mut available = split.min(input.len());
    loop {
        match parser.parse(&input[pos..available]) {
            Ok(Some(n)) => {
                requests.push(
                    parser
                        .args(&input[pos..available])
                        .map(<[u8]>::to_vec)
                        .collect(),
                );
                pos += n;
            }
            Ok(None) if available < input.len() => available = input.len(),
            Ok(None) => return (requests, Ok(input.len() - pos)),
            Err(e) => return (requests, Err(e)),
        }
    }
}

/// Parses `input` arriving one byte per read.
fn parse_stream_bytewise(input: &[u8]) -> Outcome {
    let mut parser = RequestParser::new();
    let mut pos = 0;
    let mut requests = Vec::new();
    for available in 1..=input.len() {
        loop {
            match parser.parse(&input[pos..available]) {
                Ok(Some(n)) => {
                    requests.push(
                        parser
                            .args(&input[pos..available])
                            .map(<[u8]>::to_vec)
                            .collect(),
                    );
                    pos += n;
                }
                Ok(None) => break,
                Err(e) => return (requests, Err(e)),
            }
        }
    }
    (requests, Ok(input.len() - pos))
}

fn arg_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        "[a-zA-Z0-9:_-]{0,12}".prop_map(String::into_bytes),
    ]
}

/// A request as a client may send it: multibulk, or inline with words that need no
/// quoting, or inline with double-quoted arguments escaped as redis-cli would.
fn request_strategy() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>)> {
    let multibulk = proptest::collection::vec(arg_strategy(), 1..6).prop_map(|args| {
        let mut wire = Vec::new();
        encode_request(&args, &mut wire);
        (args, wire)
    });
    let inline_plain = proptest::collection::vec("[a-zA-Z0-9:_-]{1,10}", 1..6).prop_map(|words| {
        let wire = format!("{}\r\n", words.join(" ")).into_bytes();
        (words.into_iter().map(String::into_bytes).collect(), wire)
    });
    let inline_quoted = proptest::collection::vec(arg_strategy(), 1..5).prop_map(|args| {
        let mut wire = Vec::new();
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                wire.push(b' ');
            }
            wire.push(b'"');
            for &b in arg {
                wire.extend_from_slice(format!("\\x{b:02x}").as_bytes());
            }
            wire.push(b'"');
        }
        wire.extend_from_slice(b"\n");
        (args, wire)
    });
    prop_oneof![multibulk, inline_plain, inline_quoted]
}

fn line_text() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..20,
    )
}

fn frame_strategy() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        line_text().prop_map(Frame::Simple),
        line_text().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Frame::Bulk),
        Just(Frame::NullBulk),
        Just(Frame::NullArray),
        Just(Frame::Null),
        any::<f64>().prop_map(|d| Frame::Double(d.to_string().into_bytes())),
        any::<bool>().prop_map(Frame::Bool),
        "-?[1-9][0-9]{0,40}".prop_map(|s| Frame::BigNumber(s.into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Frame::BlobError),
        (
            any::<[u8; 3]>(),
            proptest::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(format, text)| Frame::Verbatim { format, text }),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Frame::Map),
            proptest::collection::vec((inner.clone(), inner), 0..3).prop_map(Frame::Attribute),
        ]
    })
}

fn reply_strategy() -> impl Strategy<Value = Reply> {
    let leaf = prop_oneof![
        Just(Reply::Ok),
        ".{0,12}".prop_map(Reply::simple),
        ".{0,12}".prop_map(Reply::error),
        any::<i64>().prop_map(Reply::Integer),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Reply::bulk(&b)),
        (0u64..3000, any::<u64>())
            .prop_map(|(len, seed)| Reply::Bulk(Blob::Synthetic { len, seed })),
        Just(Reply::Null),
        Just(Reply::NullArray),
        any::<f64>().prop_map(Reply::Double),
        prop_oneof![
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(0.1)
        ]
        .prop_map(Reply::Double),
        any::<bool>().prop_map(Reply::Bool),
        (
            any::<[u8; 3]>(),
            proptest::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(format, text)| Reply::Verbatim {
                format,
                text: text.into_boxed_slice()
            }),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Reply::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Reply::Set),
            proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Reply::Map),
        ]
    })
}

fn protocol_strategy() -> impl Strategy<Value = Protocol> {
    prop_oneof![Just(Protocol::Resp2), Just(Protocol::Resp3)]
}

proptest! {
    /// Arbitrary bytes never make the request parser panic, whether they arrive whole or
    /// one byte at a time, and parsing them in two reads split anywhere gives the same
    /// requests and the same final outcome (wait for more, or the same protocol error) as
    /// parsing them in one.
    #[test]
    fn request_parser_is_total_and_split_invariant(
        input in proptest::collection::vec(any::<u8>(), 0..200),
        split in any::<prop::sample::Index>(),
    ) {
        let whole = parse_stream(&input);
        let split_at = split.index(input.len() + 1);
        prop_assert_eq!(&parse_stream_split(&input, split_at), &whole);
        prop_assert_eq!(&parse_stream_bytewise(&input), &whole);
    }

    /// Arbitrary bytes biased towards RESP syntax (type bytes, digits, CR, LF) never make
    /// either parser panic, and a split anywhere changes nothing.
    #[test]
    fn parsers_are_total_on_resp_like_noise(
        input in proptest::collection::vec(
            prop_oneof![
                Just(b'*'), Just(b'$'), Just(b'\r'), Just(b'\n'), Just(b'"'), Just(b'\''),
                Just(b'\\'), Just(b'-'), Just(b'%'), Just(b'='), Just(b' '), Just(0u8),
                b'0'..=b'9', any::<u8>()
            ],
            0..200,
        ),
        split in any::<prop::sample::Index>(),
    ) {
        let whole = parse_stream(&input);
        prop_assert_eq!(&parse_stream_split(&input, split.index(input.len() + 1)), &whole);
        let _ = parse_frame(&input);
    }

    /// A stream of well-formed requests (multibulk and inline) parses to exactly the
    /// arguments that were encoded, with nothing left over, and split at every byte
    /// boundary it parses the same.
    #[test]
    fn valid_requests_round_trip_at_every_split(
        requests in proptest::collection::vec(request_strategy(), 1..5),
    ) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (args, bytes) in &requests {
            wire.extend_from_slice(bytes);
            expected.push(args.clone());
        }
        let whole = parse_stream(&wire);
        prop_assert_eq!(&whole, &(expected, Ok(0)));
        for split in 0..=wire.len() {
            prop_assert_eq!(&parse_stream_split(&wire, split), &whole, "split at {}", split);
        }
        prop_assert_eq!(&parse_stream_bytewise(&wire), &whole);
    }

    /// Arbitrary bytes never make the frame parser panic, and whatever it accepts
    /// re-encodes to exactly the bytes it consumed.
    #[test]
    fn frame_parser_is_total(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Some((frame, used))) = parse_frame(&input) {
            prop_assert_eq!(frame.to_bytes(), input[..used].to_vec());
        }
    }

    /// A valid frame round-trips (parse of its encoding gives it back, consuming every
    /// byte), and every proper prefix of its encoding is reported incomplete, never as an
    /// error or as a different frame.
    #[test]
    fn valid_frames_round_trip_at_every_split(frame in frame_strategy()) {
        let wire = frame.to_bytes();
        prop_assert_eq!(parse_frame(&wire), Ok(Some((frame.clone(), wire.len()))));
        for split in 0..wire.len() {
            prop_assert_eq!(parse_frame(&wire[..split]), Ok(None), "split at {}", split);
        }
    }

    /// `encoded_len` equals the length of `encode`'s output for every reply in both
    /// protocols, and that output is exactly one well-formed frame.
    #[test]
    fn encoded_len_matches_encode(reply in reply_strategy(), protocol in protocol_strategy()) {
        let mut wire = b"prefix".to_vec();
        encode(&reply, protocol, &mut wire);
        let wire = &wire[6..];
        prop_assert_eq!(encoded_len(&reply, protocol), wire.len() as u64);
        prop_assert_eq!(encode_to_vec(&reply, protocol), wire.to_vec());
        let parsed = parse_frame(wire);
        prop_assert!(matches!(parsed, Ok(Some((_, used))) if used == wire.len()), "{:?}", parsed);
    }

    /// `encoded_request_len` equals the length of the multibulk request a client sends
    /// for the same arguments, synthetic ones materialized.
    #[test]
    fn encoded_request_len_matches_encode_request(
        args in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..30).prop_map(Ok),
                (0u64..3000, any::<u64>()).prop_map(Err),
            ],
            0..8,
        ),
    ) {
        let blobs: Vec<Blob> = args
            .iter()
            .map(|a| match a {
                Ok(bytes) => Blob::from_slice(bytes),
                Err((len, seed)) => Blob::Synthetic { len: *len, seed: *seed },
            })
            .collect();
        let argv: Vec<Arg<'_>> = blobs
            .iter()
            .map(|b| match b {
                Blob::Bytes(bytes) => Arg::Bytes(bytes),
                Blob::Synthetic { len, seed } => Arg::Synthetic { len: *len, seed: *seed },
            })
            .collect();
        let materialized: Vec<Vec<u8>> = blobs.iter().map(Blob::to_vec).collect();
        let mut wire = Vec::new();
        encode_request(&materialized, &mut wire);
        prop_assert_eq!(encoded_request_len(&argv), wire.len() as u64);
    }
}
