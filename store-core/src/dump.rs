//! DUMP payloads as redis-server 7.0.15 makes and reads them (`createDumpPayload`,
//! `verifyDumpPayload`, `rdbLoadObject`): a value's RDB type byte, the value as an RDB
//! writes it, the RDB version (2 bytes, little-endian) and a CRC-64 (Jones, as Redis's
//! crc64.c) of all the bytes before it (8 bytes, little-endian). Writing is the RDB
//! encoder's ([`crate::rdb`]); this module reads payloads back into values, for
//! RESTORE, and answers DUMP.
//!
//! Invariant: for every value the store holds, `load(write(v))` is a value with the same
//! logical content and the encoding Redis 7.0.15 would give the loaded object (listpack,
//! intset, hashtable or skiplist, by the same limits), and a synthetic string comes back
//! as real bytes (a payload carries bytes, not a seed). Payloads of the types a 7.0.15
//! server writes for the encodings the store models are read; others (streams, modules,
//! pre-7.0 ziplists) answer "Bad data format", which a store that never holds them
//! cannot be sent by a peer of its own kind.

use crate::blob::Blob;
use crate::numbers;
use crate::rdb::{
    CONTAINER_PACKED, CONTAINER_PLAIN, CRC64_REDIS, ENC_INT16, ENC_INT32, ENC_INT8, ENC_LZF,
    RDB_VERSION, TYPE_HASH, TYPE_HASH_LISTPACK, TYPE_LIST_QUICKLIST_2, TYPE_SET, TYPE_SET_INTSET,
    TYPE_STRING, TYPE_ZSET_2, TYPE_ZSET_LISTPACK,
};
use crate::value::{HashValue, ListValue, SetValue, Value, ZSetValue, MAX_INTSET_ENTRIES};

/// The footer: 2 bytes of RDB version and 8 of CRC-64.
const FOOTER_BYTES: usize = 10;

/// `verifyDumpPayload`: the footer is there, the version is not newer than 7.0.15's,
/// and the checksum matches.
pub(crate) fn verify(payload: &[u8]) -> bool {
    if payload.len() < FOOTER_BYTES {
        return false;
    }
    let footer = &payload[payload.len() - FOOTER_BYTES..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return false;
    }
    let checksum = CRC64_REDIS.checksum(&payload[..payload.len() - 8]);
    checksum.to_le_bytes() == footer[2..]
}

/// `rdbLoadObjectType` + `rdbLoadObject` on a verified payload: the value, or `None`
/// for a malformed or unsupported one, or an empty collection (Redis refuses to create
/// an empty key). `shared_integers` as [`crate::Db`] decides it for integer strings.
pub(crate) fn load(payload: &[u8], shared_integers: bool) -> Option<Value> {
    let body = payload.get(..payload.len().checked_sub(FOOTER_BYTES)?)?;
    let mut r = Reader { buf: body, pos: 0 };
    let value = match r.byte()? {
        TYPE_STRING => r.string_value(shared_integers)?,
        TYPE_LIST_QUICKLIST_2 => {
            let mut list = ListValue::default();
            for _ in 0..r.len()? {
                let container = r.len()?;
                let blob = r.string()?;
                if container == u64::from(CONTAINER_PLAIN) {
                    list.push_back(Blob::Bytes(blob.into()));
                } else if container == u64::from(CONTAINER_PACKED) {
                    // Empty listpacks are skipped, as Redis skips them.
                    for item in listpack(&blob)? {
                        list.push_back(Blob::Bytes(item.into()));
                    }
                } else {
                    return None;
                }
            }
            (!list.is_empty()).then(|| Value::List(Box::new(list)))?
        }
        TYPE_SET => {
            let mut set = SetValue::default();
            for _ in 0..r.len()? {
                set.insert(&r.string()?);
            }
            (!set.is_empty()).then(|| Value::Set(Box::new(set)))?
        }
        TYPE_SET_INTSET => Value::Set(Box::new(intset(&r.string()?)?)),
        TYPE_HASH => {
            let mut hash = HashValue::default();
            for _ in 0..r.len()? {
                let field = r.string()?;
                let value = r.string()?;
                hash.insert(&field, Blob::Bytes(value.into()));
            }
            (!hash.is_empty()).then(|| Value::Hash(Box::new(hash)))?
        }
        TYPE_HASH_LISTPACK => {
            let items = listpack(&r.string()?)?;
            if items.is_empty() || items.len() % 2 != 0 {
                return None;
            }
            let mut hash = HashValue::default();
            for pair in items.chunks_exact(2) {
                hash.insert(&pair[0], Blob::Bytes(pair[1].clone().into()));
            }
            Value::Hash(Box::new(hash))
        }
        TYPE_ZSET_2 => {
            let mut zset = ZSetValue::default();
            for _ in 0..r.len()? {
                let member = r.string()?;
                let score = f64::from_le_bytes(r.take(8)?.try_into().ok()?);
                zset.insert(&member, score);
            }
            (!zset.is_empty()).then(|| Value::ZSet(Box::new(zset)))?
        }
        TYPE_ZSET_LISTPACK => {
            let items = listpack(&r.string()?)?;
            if items.is_empty() || items.len() % 2 != 0 {
                return None;
            }
            let mut zset = ZSetValue::default();
            for pair in items.chunks_exact(2) {
                zset.insert(&pair[0], numbers::parse_f64(&pair[1])?);
            }
            Value::ZSet(Box::new(zset))
        }
        _ => return None,
    };
    Some(value)
}

/// The payload's bytes, read front to back.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A length, or the encoding of a specially encoded string.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let bytes = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(bytes)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// `rdbLoadLenByRef`.
    fn len_or_encoding(&mut self) -> Option<Len> {
        let first = self.byte()?;
        Some(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain(u64::from(first & 0x3f) << 8 | u64::from(self.byte()?)),
            3 => Len::Encoded(first),
            _ if first == 0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().ok()?,
            ))),
            _ if first == 0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
            _ => return None,
        })
    }

    fn len(&mut self) -> Option<u64> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Some(n),
            Len::Encoded(_) => None,
        }
    }

    /// A string as its bytes, or an integer-encoded one as its value.
    fn raw_or_int(&mut self) -> Option<Result<Vec<u8>, i64>> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Some(Ok(self.take(usize::try_from(n).ok()?)?.to_vec())),
            Len::Encoded(ENC_INT8) => Some(Err(i64::from(self.byte()? as i8))),
            Len::Encoded(ENC_INT16) => Some(Err(i64::from(i16::from_le_bytes(
                self.take(2)?.try_into().ok()?,
            )))),
            Len::Encoded(ENC_INT32) => Some(Err(i64::from(i32::from_le_bytes(
                self.take(4)?.try_into().ok()?,
            )))),
            Len::Encoded(ENC_LZF) => {
                let compressed_len = usize::try_from(self.len()?).ok()?;
                let len = usize::try_from(self.len()?).ok()?;
                let compressed = self.take(compressed_len)?;
                let mut out = Vec::new();
                crate::lzf::decompress(compressed, len, &mut out)?;
                Some(Ok(out))
            }
            Len::Encoded(_) => None,
        }
    }

    /// `rdbGenericLoadStringObject` for a plain string: integers as their digits.
    fn string(&mut self) -> Option<Vec<u8>> {
        Some(match self.raw_or_int()? {
            Ok(bytes) => bytes,
            Err(value) => numbers::format_i64(value),
        })
    }

    /// A string value as `rdbLoadObject` makes it: an integer object for an integer
    /// encoding, else the bytes through `tryObjectEncoding`.
    fn string_value(&mut self, shared_integers: bool) -> Option<Value> {
        Some(match self.raw_or_int()? {
            Ok(bytes) => Value::string_from_bytes(&bytes, shared_integers),
            Err(value) => Value::int(value, shared_integers),
        })
    }
}

/// The elements of a listpack (integers as their digits); `None` when malformed.
fn listpack(lp: &[u8]) -> Option<Vec<Vec<u8>>> {
    let total = u32::from_le_bytes(lp.get(..4)?.try_into().ok()?) as usize;
    if total != lp.len() {
        return None;
    }
    let mut items = Vec::new();
    let mut p = 6;
    loop {
        let b = *lp.get(p)?;
        let at = |from: usize, n: usize| lp.get(p + from..p + from + n);
        let (item, encoded): (Vec<u8>, usize) = if b == 0xff {
            break;
        } else if b & 0x80 == 0 {
            (numbers::format_i64(i64::from(b)), 1)
        } else if b & 0xc0 == 0x80 {
            let len = usize::from(b & 0x3f);
            (at(1, len)?.to_vec(), 1 + len)
        } else if b & 0xe0 == 0xc0 {
            let u = i64::from(b & 0x1f) << 8 | i64::from(*lp.get(p + 1)?);
            let v = if u >= 1 << 12 { u - (1 << 13) } else { u };
            (numbers::format_i64(v), 2)
        } else if b & 0xf0 == 0xe0 {
            let len = usize::from(b & 0x0f) << 8 | usize::from(*lp.get(p + 1)?);
            (at(2, len)?.to_vec(), 2 + len)
        } else if b == 0xf0 {
            let len = u32::from_le_bytes(at(1, 4)?.try_into().ok()?) as usize;
            (at(5, len)?.to_vec(), 5 + len)
        } else {
            let (width, v) = match b {
                0xf1 => (2, i64::from(i16::from_le_bytes(at(1, 2)?.try_into().ok()?))),
                0xf2 => {
                    let x = at(1, 3)?;
                    // Sign-extend 24 bits through the top of an i32.
                    let v = i32::from_le_bytes([0, x[0], x[1], x[2]]) >> 8;
                    (3, i64::from(v))
                }
                0xf3 => (4, i64::from(i32::from_le_bytes(at(1, 4)?.try_into().ok()?))),
                0xf4 => (8, i64::from_le_bytes(at(1, 8)?.try_into().ok()?)),
                _ => return None,
            };
            (numbers::format_i64(v), 1 + width)
        };
        items.push(item);
        p += encoded + backlen_bytes(encoded);
    }
    Some(items)
}

/// Bytes of a listpack entry's back-length for an entry of `encoded` bytes.
fn backlen_bytes(encoded: usize) -> usize {
    match encoded {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// An intset blob: its width and members kept as they are (an intset never narrows),
/// converted to a hashtable past set-max-intset-entries as Redis converts it.
fn intset(blob: &[u8]) -> Option<SetValue> {
    let width_bytes = u32::from_le_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let len = u32::from_le_bytes(blob.get(4..8)?.try_into().ok()?) as usize;
    if !matches!(width_bytes, 2 | 4 | 8) || blob.len() != 8 + len * width_bytes || len == 0 {
        return None;
    }
    let members: Vec<i64> = blob[8..]
        .chunks_exact(width_bytes)
        .map(|c| match width_bytes {
            2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
            4 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        })
        .collect();
    if !members.windows(2).all(|w| w[0] < w[1]) {
        return None;
    }
    if members.len() > MAX_INTSET_ENTRIES {
        let mut set = SetValue::default();
        for m in &members {
            set.insert(&numbers::format_i64(*m));
        }
        return Some(set);
    }
    Some(SetValue::Ints {
        members,
        width_bytes: width_bytes as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_integers_decode_with_their_sign() {
        // lpNew + entries 5, -4096 (13-bit), -8388608 (24-bit), "ab", then the end.
        let mut lp = vec![0u8; 6];
        lp.extend_from_slice(&[5, 1]);
        lp.extend_from_slice(&[0xc0 | 0x10, 0x00, 2]);
        lp.extend_from_slice(&[0xf2, 0x00, 0x00, 0x80, 4]);
        lp.extend_from_slice(&[0x82, b'a', b'b', 3]);
        lp.push(0xff);
        let total = lp.len() as u32;
        lp[..4].copy_from_slice(&total.to_le_bytes());
        let items = listpack(&lp).unwrap();
        assert_eq!(
            items,
            vec![
                b"5".to_vec(),
                b"-4096".to_vec(),
                b"-8388608".to_vec(),
                b"ab".to_vec()
            ]
        );
    }

    #[test]
    fn a_corrupted_payload_fails_verification() {
        let mut payload = Vec::new();
        crate::rdb::write_dump_payload(&Value::Bytes(b"hello".to_vec().into()), &mut payload);
        assert!(verify(&payload));
        assert!(matches!(load(&payload, true), Some(Value::Bytes(b)) if &*b == b"hello"));
        let last = payload.len() - 1;
        payload[last] ^= 1;
        assert!(!verify(&payload));
        assert!(!verify(&payload[..9]));
    }
}
