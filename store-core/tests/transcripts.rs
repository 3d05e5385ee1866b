//! Replays the command transcripts in `tests/transcripts/` against a fresh `Db` and
//! checks every reply byte for byte against what redis-server 7.0.15 answered
//! (recorded by `record_transcripts.py`). Expiry in the transcripts uses absolute times
//! far in the past or future only, so the recorded replies do not depend on the clock.

use rand::SeedableRng;
use store_core::resp::{encode_to_vec, Protocol};
use store_core::{Arg, Config, Db, Session};

/// A fixed "now" between the far past and far future times the transcripts use.
const NOW_MS: u64 = 1_764_000_000_000;

fn split_args(line: &str) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let mut current = Vec::new();
    let mut in_quotes = false;
    let mut has_token = false;
    for c in line.bytes() {
        match c {
            b'"' => {
                in_quotes = !in_quotes;
                has_token = true;
            }
            b' ' if !in_quotes => {
                if has_token {
                    args.push(std::mem::take(&mut current));
                    has_token = false;
                }
            }
            other => {
                current.push(other);
                has_token = true;
            }
        }
    }
    if has_token {
        args.push(current);
    }
    args
}

fn escape(data: &[u8]) -> String {
    let mut out = String::new();
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

fn check_transcript(name: &str) {
    let path = format!("{}/tests/transcripts/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("transcript readable");
    let mut db = Db::new(Config::default());
    let mut session = Session::new(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut failures = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(expected) = lines.next().and_then(|l| l.strip_prefix("< ")) else {
            panic!("{name}: command without a recorded reply: {line}");
        };
        let args = split_args(line);
        let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a)).collect();
        let protocol = if session.protocol() == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        let reply = db.execute(&mut session, &argv, NOW_MS, &mut rng);
        let got = escape(&encode_to_vec(&reply, protocol));
        if expected != "(any)" && got != expected {
            failures.push(format!("{line}\n  redis: {expected}\n  store: {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} replies differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn strings_match_redis() {
    check_transcript("strings.txt");
}

#[test]
fn keys_match_redis() {
    check_transcript("keys.txt");
}

#[test]
fn hashes_match_redis() {
    check_transcript("hashes.txt");
}

#[test]
fn lists_match_redis() {
    check_transcript("lists.txt");
}

#[test]
fn sets_match_redis() {
    check_transcript("sets.txt");
}

#[test]
fn zsets_match_redis() {
    check_transcript("zsets.txt");
}

#[test]
fn resp3_replies_match_redis() {
    check_transcript("resp3.txt");
}

#[test]
fn server_commands_match_redis() {
    check_transcript("server.txt");
}
