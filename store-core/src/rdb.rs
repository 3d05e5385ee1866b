//! RDB snapshots as redis-server 7.0.15 writes them (`rdbSaveRio`, RDB version 10), so
//! that a full resynchronisation carries the bytes a real master would send: what it
//! costs on the wire is [`rdb_len`], and [`write_rdb`] produces the file itself (which
//! redis-server loads). Every key is written with the type and encoding 7.0.15 picks for
//! it (strings as integers when they are one, LZF-compressed when that saves at least
//! four bytes; lists as quicklists of listpacks; hashes, sets and sorted sets as
//! listpack, intset or their full encodings, following the store's encodings), with its
//! expiry, and its LRU idle time or LFU counter under policies that keep them.
//!
//! Invariant: `rdb_len(db, now, info)` is the byte count `write_rdb(db, now, info, out)`
//! appends, for every Db but one case: prefilled values of letters or memtier's random
//! data longer than 20 bytes, whose LZF size varies a little from seed to seed, count as
//! one sample per length.
//! `rdb_len` makes no prefilled key, and no synthetic value of repeated or random bytes
//! (their records depend on length and fill alone, so each is encoded once); for a
//! range of fixed-size values it adds keys up by decimal width, in time independent of
//! the number of keys (bar a popcount of the overridden bitset).
//!
//! Where the store does not know Redis's exact layout, the writer follows the common
//! history: a list's quicklist nodes are packed as RPUSH packs them (8 KiB listpacks), and
//! keys come in the store's order rather than Redis's dict order (which changes no size).

use crate::blob::{Blob, SyntheticFill};
use crate::db::{lfu_decr_and_return, lru_clock, Db, LRU_CLOCK_MAX};
use crate::keyspace::Entry;
use crate::lzf;
use crate::numbers;
use crate::prefill::{decimal_digits, Prefilled};
use crate::value::{HashValue, ListValue, SetValue, Value, ZSetValue};
use std::collections::BTreeMap;

/// The server version the AUX field `redis-ver` announces.
pub const REDIS_VERSION: &str = "7.0.15";

const RDB_MAGIC: &[u8] = b"REDIS0010";
/// RDB_VERSION: the format version the magic names and a DUMP payload's footer carries.
pub(crate) const RDB_VERSION: u16 = 10;

const OPCODE_IDLE: u8 = 248;
const OPCODE_FREQ: u8 = 249;
const OPCODE_AUX: u8 = 250;
const OPCODE_RESIZEDB: u8 = 251;
const OPCODE_EXPIRETIME_MS: u8 = 252;
const OPCODE_SELECTDB: u8 = 254;
const OPCODE_EOF: u8 = 255;

pub(crate) const TYPE_STRING: u8 = 0;
pub(crate) const TYPE_SET: u8 = 2;
pub(crate) const TYPE_HASH: u8 = 4;
pub(crate) const TYPE_ZSET_2: u8 = 5;
pub(crate) const TYPE_SET_INTSET: u8 = 11;
pub(crate) const TYPE_HASH_LISTPACK: u8 = 16;
pub(crate) const TYPE_ZSET_LISTPACK: u8 = 17;
pub(crate) const TYPE_LIST_QUICKLIST_2: u8 = 18;

/// RDB_ENCVAL << 6 | RDB_ENC_*: an integer or an LZF string in place of a length.
pub(crate) const ENC_INT8: u8 = 0xC0;
pub(crate) const ENC_INT16: u8 = 0xC1;
pub(crate) const ENC_INT32: u8 = 0xC2;
pub(crate) const ENC_LZF: u8 = 0xC3;

/// Quicklist node containers (QUICKLIST_NODE_CONTAINER_PLAIN / _PACKED).
pub(crate) const CONTAINER_PLAIN: u8 = 1;
pub(crate) const CONTAINER_PACKED: u8 = 2;
/// list-max-listpack-size -2: a node's listpack stays within 8 KiB, counting the new
/// element's raw length plus SIZE_ESTIMATE_OVERHEAD.
const QUICKLIST_NODE_LIMIT_BYTES: u64 = 8192;
const QUICKLIST_SIZE_ESTIMATE_OVERHEAD: u64 = 8;
/// Elements this long get a plain node of their own (packed_threshold, 1 GiB).
const QUICKLIST_PACKED_THRESHOLD: u64 = 1 << 30;
/// Strings this short are never compressed (rdbSaveRawString: "under 20 bytes it's
/// unable to compress even aaaaaaaaaaaaaaaaaa").
const LZF_MIN_LEN: usize = 21;

/// What the AUX fields say besides the version and time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RdbInfo {
    /// `used-mem`; `None` takes the Db's `used_memory()`.
    pub used_mem_bytes: Option<u64>,
    /// The replication fields a master writes into an RDB for a replica (and for SAVE
    /// once it has a replication backlog); `None` writes none, as a master that never
    /// had a replica does.
    pub replication: Option<ReplicationInfo>,
}

/// `repl-stream-db`, `repl-id`, `repl-offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationInfo {
    /// The database the replication stream had selected (0 for a fresh stream).
    pub stream_db: u32,
    /// The master's replication id (40 hex characters in Redis).
    pub replication_id: String,
    /// The master's replication offset the snapshot corresponds to.
    pub offset: i64,
}

impl RdbInfo {
    /// The AUX fields of an RDB sent to a replica for a full resynchronisation.
    pub fn replication(replication_id: &str, offset: i64) -> RdbInfo {
        RdbInfo {
            used_mem_bytes: None,
            replication: Some(ReplicationInfo {
                stream_db: 0,
                replication_id: replication_id.to_string(),
                offset,
            }),
        }
    }
}

/// Appends the Db's RDB file to `out`, as redis-server 7.0.15 writes it at `now_ms`
/// (Unix ms: the `ctime` field, LRU idle times, LFU decay).
pub fn write_rdb(db: &Db, now_ms: u64, info: &RdbInfo, out: &mut Vec<u8>) {
    let start = out.len();
    let mut enc = Encoder::new(Writer { out });
    enc.header(db, now_ms, info);
    if db.dbsize() > 0 {
        enc.db_header(db);
        for entry in db.keyspace.iter() {
            enc.entry(db, entry, now_ms);
        }
        for range in &db.prefilled {
            let mut offset = 0;
            while let Some(live) = range.next_live(offset) {
                let index = range.spec.first_index + live;
                enc.key_meta(db, range.lru, now_ms);
                enc.sink.byte(TYPE_STRING);
                let key = range.key_of(index);
                enc.raw_string(&key);
                enc.string_value(&range.default_value(index));
                offset = live + 1;
            }
        }
    }
    enc.sink.byte(OPCODE_EOF);
    let checksum = CRC64_REDIS.checksum(&enc.sink.out[start..]);
    enc.sink.bytes(&checksum.to_le_bytes());
}

/// The length [`write_rdb`] would append, computed without writing it: stored keys are
/// encoded into a counter, prefilled ranges are added up (see the module's invariant).
pub fn rdb_len(db: &Db, now_ms: u64, info: &RdbInfo) -> u64 {
    rdb_len_with(db, now_ms, info, Counter::with_samples())
}

/// [`rdb_len`], with every synthetic string over 20 bytes (its length unknown to LZF
/// otherwise) counted from one compressed sample per (length, fill), as prefilled
/// ranges are. For a simulator's snapshots of memtier's values: memtier_benchmark
/// takes every value of one length from the same buffer, so all of them compress
/// alike, while a synthetic `MemtierRandom` or `Letters` value varies with its seed
/// only to keep values apart (its exact size differs by a few bytes from one seed to
/// another). Stored values of other kinds, and everything else, are counted exactly;
/// the cost is one compression per distinct length instead of one per value.
pub fn rdb_len_sampled(db: &Db, now_ms: u64, info: &RdbInfo) -> u64 {
    let mut counter = Counter::with_samples();
    counter.sample_every_fill = true;
    rdb_len_with(db, now_ms, info, counter)
}

fn rdb_len_with(db: &Db, now_ms: u64, info: &RdbInfo, counter: Counter) -> u64 {
    let mut enc = Encoder::new(counter);
    enc.header(db, now_ms, info);
    if db.dbsize() > 0 {
        enc.db_header(db);
        for entry in db.keyspace.iter() {
            enc.entry(db, entry, now_ms);
        }
        let mut samples = enc.sink.samples.take().unwrap_or_default();
        for range in &db.prefilled {
            let bytes = prefilled_range_len(db, range, now_ms, &mut samples);
            enc.sink.bytes += bytes;
        }
    }
    enc.sink.bytes + 1 + 8 // EOF opcode, checksum
}

/// The bytes of a full resynchronisation's payload as redis-server 7.0.15 sends it with
/// `repl-diskless-sync yes` (its default): `$EOF:<40-byte mark>\r\n`, the RDB, the mark
/// (`rdbSaveRioWithEOFMark`).
pub fn diskless_payload_len(rdb_bytes: u64) -> u64 {
    5 + 40 + 2 + rdb_bytes + 40
}

/// The bytes of a full resynchronisation's payload with `repl-diskless-sync no`: the
/// RDB file as a bulk string's header and body, `$<length>\r\n<rdb>` (no trailing CRLF).
pub fn disk_payload_len(rdb_bytes: u64) -> u64 {
    1 + decimal_digits(rdb_bytes) + 2 + rdb_bytes
}

pub(crate) const CRC64_REDIS: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// `createDumpPayload`: appends the DUMP payload of `value` to `out`: its type byte, the
/// value as `rdbSaveObject` writes it, the RDB version (2 bytes) and the CRC-64 of all of
/// that (8 bytes), both little-endian.
pub(crate) fn write_dump_payload(value: &Value, out: &mut Vec<u8>) {
    let start = out.len();
    let mut enc = Encoder::new(Writer { out });
    enc.sink.byte(object_type(value));
    enc.object(value);
    enc.sink.bytes(&RDB_VERSION.to_le_bytes());
    let checksum = CRC64_REDIS.checksum(&enc.sink.out[start..]);
    enc.sink.bytes(&checksum.to_le_bytes());
}

/// The length of DUMP payloads, computed without writing them, exact as [`rdb_len`] is
/// for stored keys: synthetic strings of repeated bytes and of random bytes are measured
/// once per (length, fill) and reused across the values one sizer measures, letters
/// and memtier's random data are compressed value by value (O(length) time, one value's
/// bytes of scratch memory).
pub(crate) struct DumpSizer {
    enc: Encoder<Counter>,
}

impl DumpSizer {
    pub(crate) fn new() -> DumpSizer {
        DumpSizer {
            enc: Encoder::new(Counter::with_samples()),
        }
    }

    /// Counts synthetic letters and memtier's random data longer than 11 bytes from
    /// one compressed sample per (length, fill), as [`rdb_len_sampled`] does (a few
    /// bytes off per value, but no compression per value); off, they are exact.
    pub(crate) fn set_sampling(&mut self, on: bool) {
        self.enc.sink.sample_every_fill = on;
    }

    /// Bytes of `value`'s DUMP payload.
    pub(crate) fn payload_len(&mut self, value: &Value) -> u64 {
        self.enc.sink.bytes = 0;
        self.enc.object(value);
        // The type byte, the version and the checksum.
        1 + self.enc.sink.bytes + 2 + 8
    }
}

/// A Db's sizer, kept between calls so that samples are measured once: a pure cache,
/// so a cloned Db starts with an empty one.
#[derive(Default)]
pub(crate) struct DumpSizerCache(Option<Box<DumpSizer>>);

impl DumpSizerCache {
    /// The sizer (made on first use), taken out while the caller uses the Db.
    pub(crate) fn take(&mut self, sampling: bool) -> Box<DumpSizer> {
        let mut sizer = self.0.take().unwrap_or_else(|| Box::new(DumpSizer::new()));
        sizer.set_sampling(sampling);
        sizer
    }

    pub(crate) fn put_back(&mut self, sizer: Box<DumpSizer>) {
        self.0 = Some(sizer);
    }
}

impl Clone for DumpSizerCache {
    fn clone(&self) -> Self {
        DumpSizerCache(None)
    }
}

impl std::fmt::Debug for DumpSizerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DumpSizerCache")
    }
}

/// Where encoded bytes go: a buffer, or a count of them.
trait Sink {
    fn bytes(&mut self, bytes: &[u8]);
    fn byte(&mut self, byte: u8) {
        self.bytes(&[byte]);
    }
    /// Accounts for a synthetic string's record without its bytes, where the sink only
    /// counts and the record's length is known from its (length, fill) alone; false
    /// when the caller must encode it.
    fn synthetic_record(&mut self, _len: u64, _seed: u64) -> bool {
        false
    }
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Sink for Writer<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
}

struct Counter {
    bytes: u64,
    /// Records of synthetic strings by (length, fill), for `rdb_len`: a simulated node
    /// holds millions of synthetic values of a few lengths, each of which would
    /// otherwise be made and compressed.
    samples: Option<ValueSamples>,
    /// Sample letters and memtier's random data too (see [`rdb_len_sampled`]).
    sample_every_fill: bool,
}

impl Counter {
    fn with_samples() -> Counter {
        Counter {
            bytes: 0,
            samples: Some(ValueSamples::default()),
            sample_every_fill: false,
        }
    }
}

impl Sink for Counter {
    fn bytes(&mut self, bytes: &[u8]) {
        self.bytes += bytes.len() as u64;
    }

    /// Repeated bytes are the same whatever the seed, and random bytes are never
    /// compressed or (past 11 bytes) integers, so their records are sampled; letters
    /// are encoded each time, exactly.
    fn synthetic_record(&mut self, len: u64, seed: u64) -> bool {
        let Some(samples) = &mut self.samples else {
            return false;
        };
        let sampled = match SyntheticFill::of_seed(seed) {
            SyntheticFill::Repeat(_) => true,
            SyntheticFill::Random => len > 11,
            SyntheticFill::Letters | SyntheticFill::MemtierRandom => {
                self.sample_every_fill && len > 11
            }
        };
        if sampled {
            self.bytes += samples.record_bytes(len, seed);
        }
        sampled
    }
}

/// Bytes `rdbSaveLen` takes for `len`.
fn len_bytes(len: u64) -> u64 {
    if len < 1 << 6 {
        1
    } else if len < 1 << 14 {
        2
    } else if len <= u64::from(u32::MAX) {
        5
    } else {
        9
    }
}

/// `rdbEncodeInteger`: the 2, 3 or 5 bytes of an integer that fits 32 bits.
fn encode_integer(value: i64, buf: &mut [u8; 5]) -> Option<usize> {
    let le = value.to_le_bytes();
    if (-(1 << 7)..1 << 7).contains(&value) {
        buf[0] = ENC_INT8;
        buf[1] = le[0];
        Some(2)
    } else if (-(1 << 15)..1 << 15).contains(&value) {
        buf[0] = ENC_INT16;
        buf[1..3].copy_from_slice(&le[..2]);
        Some(3)
    } else if (-(1 << 31)..1 << 31).contains(&value) {
        buf[0] = ENC_INT32;
        buf[1..5].copy_from_slice(&le[..4]);
        Some(5)
    } else {
        None
    }
}

/// The encoder, over a sink, with scratch buffers reused from key to key.
struct Encoder<S: Sink> {
    sink: S,
    /// A synthetic string's bytes, materialized one at a time.
    content: Vec<u8>,
    /// LZF's hash table and output.
    lzf: lzf::Compressor,
    compressed: Vec<u8>,
    /// A listpack or intset being built.
    blob: Vec<u8>,
}

impl<S: Sink> Encoder<S> {
    fn new(sink: S) -> Self {
        Encoder {
            sink,
            content: Vec::new(),
            lzf: lzf::Compressor::default(),
            compressed: Vec::new(),
            blob: Vec::new(),
        }
    }

    /// `rdbSaveLen`.
    fn len(&mut self, len: u64) {
        if len < 1 << 6 {
            self.sink.byte(len as u8);
        } else if len < 1 << 14 {
            self.sink.bytes(&[0x40 | (len >> 8) as u8, len as u8]);
        } else if len <= u64::from(u32::MAX) {
            self.sink.byte(0x80);
            self.sink.bytes(&(len as u32).to_be_bytes());
        } else {
            self.sink.byte(0x81);
            self.sink.bytes(&len.to_be_bytes());
        }
    }

    /// `rdbSaveRawString`: an integer when it is one of at most 11 characters that fits
    /// 32 bits, else LZF when longer than 20 bytes and LZF fits it in 4 bytes less,
    /// else the length and the bytes.
    fn raw_string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(value) = numbers::parse_i64(s) {
                let mut buf = [0u8; 5];
                if let Some(n) = encode_integer(value, &mut buf) {
                    self.sink.bytes(&buf[..n]);
                    return;
                }
            }
        }
        if s.len() >= LZF_MIN_LEN {
            if let Some(n) = self.lzf.compress(s, s.len() - 4, &mut self.compressed) {
                self.sink.byte(ENC_LZF);
                self.len(n as u64);
                self.len(s.len() as u64);
                let compressed = std::mem::take(&mut self.compressed);
                self.sink.bytes(&compressed);
                self.compressed = compressed;
                return;
            }
        }
        self.len(s.len() as u64);
        self.sink.bytes(s);
    }

    /// A blob element as `rdbSaveRawString` writes it (synthetic bytes materialized).
    fn blob_string(&mut self, blob: &Blob) {
        match blob {
            Blob::Bytes(b) => self.raw_string(b),
            Blob::Synthetic { len, seed } => {
                if self.sink.synthetic_record(*len, *seed) {
                    return;
                }
                let mut content = std::mem::take(&mut self.content);
                content.clear();
                blob.write_to(&mut content);
                self.raw_string(&content);
                self.content = content;
            }
        }
    }

    /// `rdbSaveLongLongAsStringObject`.
    fn i64_string(&mut self, value: i64) {
        let mut buf = [0u8; 5];
        match encode_integer(value, &mut buf) {
            Some(n) => self.sink.bytes(&buf[..n]),
            None => {
                let digits = numbers::format_i64(value);
                self.len(digits.len() as u64);
                self.sink.bytes(&digits);
            }
        }
    }

    /// A string value as `rdbSaveStringObject` writes it.
    fn string_value(&mut self, value: &Value) {
        match value {
            Value::Int { value, .. } => self.i64_string(*value),
            Value::Bytes(b) => self.raw_string(b),
            Value::Synthetic { len, seed } => self.blob_string(&Blob::Synthetic {
                len: *len,
                seed: *seed,
            }),
            _ => {}
        }
    }

    fn aux(&mut self, key: &str, value: &[u8]) {
        self.sink.byte(OPCODE_AUX);
        self.raw_string(key.as_bytes());
        self.raw_string(value);
    }

    /// Magic and `rdbSaveInfoAuxFields`.
    fn header(&mut self, db: &Db, now_ms: u64, info: &RdbInfo) {
        self.sink.bytes(RDB_MAGIC);
        self.aux("redis-ver", REDIS_VERSION.as_bytes());
        self.aux("redis-bits", b"64");
        self.aux("ctime", (now_ms / 1000).to_string().as_bytes());
        let used_mem = info.used_mem_bytes.unwrap_or_else(|| db.used_memory());
        self.aux("used-mem", used_mem.to_string().as_bytes());
        if let Some(repl) = &info.replication {
            self.aux("repl-stream-db", repl.stream_db.to_string().as_bytes());
            self.aux("repl-id", repl.replication_id.as_bytes());
            self.aux("repl-offset", repl.offset.to_string().as_bytes());
        }
        self.aux("aof-base", b"0");
    }

    /// SELECTDB 0 and RESIZEDB (keys, keys with an expiry).
    fn db_header(&mut self, db: &Db) {
        self.sink.byte(OPCODE_SELECTDB);
        self.len(0);
        self.sink.byte(OPCODE_RESIZEDB);
        self.len(db.dbsize());
        self.len(db.keys_with_expiry());
    }

    /// The LRU idle time or LFU counter `rdbSaveKeyValuePair` writes under policies that
    /// keep them.
    fn key_meta(&mut self, db: &Db, lru: u32, now_ms: u64) {
        if let Some((opcode, value)) = key_meta(db, lru, now_ms) {
            self.sink.byte(opcode);
            match opcode {
                OPCODE_IDLE => self.len(value),
                _ => self.sink.byte(value as u8),
            }
        }
    }

    fn entry(&mut self, db: &Db, entry: &Entry, now_ms: u64) {
        if let Some(at_ms) = entry.expire_at() {
            self.sink.byte(OPCODE_EXPIRETIME_MS);
            self.sink.bytes(&at_ms.to_le_bytes());
        }
        self.key_meta(db, entry.lru, now_ms);
        self.sink.byte(object_type(&entry.value));
        self.raw_string(entry.key.as_bytes());
        self.object(&entry.value);
    }

    /// `rdbSaveObject`: the value's body, after its type byte.
    pub(crate) fn object(&mut self, value: &Value) {
        match value {
            Value::Int { .. } | Value::Bytes(_) | Value::Synthetic { .. } => {
                self.string_value(value)
            }
            Value::List(list) => self.list(list),
            Value::Set(set) => self.set(set),
            Value::ZSet(zset) => self.zset(zset),
            Value::Hash(hash) => self.hash(hash),
        }
    }

    /// Writes the listpack in `self.blob` as a string and leaves the buffer for reuse.
    fn blob_as_string(&mut self) {
        let blob = std::mem::take(&mut self.blob);
        self.raw_string(&blob);
        self.blob = blob;
    }

    fn list(&mut self, list: &ListValue) {
        let nodes = quicklist_nodes(list, &mut self.content);
        self.len(nodes.len() as u64);
        for node in nodes {
            match node {
                QuicklistNode::Plain(i) => {
                    self.len(u64::from(CONTAINER_PLAIN));
                    if let Some(item) = list.items.get(i) {
                        self.blob_string(item);
                    }
                }
                QuicklistNode::Packed { first, count } => {
                    self.len(u64::from(CONTAINER_PACKED));
                    let mut lp = Listpack::start(&mut self.blob);
                    for item in list.items.range(first..first + count) {
                        lp.push_blob(item, &mut self.content);
                    }
                    lp.finish();
                    self.blob_as_string();
                }
            }
        }
    }

    fn set(&mut self, set: &SetValue) {
        match set {
            SetValue::Ints {
                members,
                width_bytes,
            } => {
                // intset: encoding (bytes per member), length, members little-endian.
                self.blob.clear();
                self.blob
                    .extend_from_slice(&(*width_bytes as u32).to_le_bytes());
                self.blob
                    .extend_from_slice(&(members.len() as u32).to_le_bytes());
                for m in members {
                    let le = m.to_le_bytes();
                    self.blob.extend_from_slice(&le[..*width_bytes as usize]);
                }
                self.blob_as_string();
            }
            SetValue::Table { members, .. } => {
                self.len(members.len() as u64);
                for m in members {
                    self.raw_string(m);
                }
            }
        }
    }

    fn zset(&mut self, zset: &ZSetValue) {
        if zset.is_listpack() {
            let mut lp = Listpack::start(&mut self.blob);
            for (score, member) in &zset.sorted {
                lp.push(member);
                lp.push(numbers::d2string(*score).as_bytes());
            }
            lp.finish();
            self.blob_as_string();
        } else {
            // Greatest first, each member with its score as a little-endian double.
            self.len(zset.sorted.len() as u64);
            for (score, member) in zset.sorted.iter().rev() {
                self.raw_string(member);
                self.sink.bytes(&score.to_le_bytes());
            }
        }
    }

    fn hash(&mut self, hash: &HashValue) {
        if hash.is_listpack() {
            let mut lp = Listpack::start(&mut self.blob);
            for (field, value) in &hash.fields {
                lp.push(field);
                lp.push_blob(value, &mut self.content);
            }
            lp.finish();
            self.blob_as_string();
        } else {
            self.len(hash.len() as u64);
            for (field, value) in &hash.fields {
                self.raw_string(field);
                self.blob_string(value);
            }
        }
    }
}

/// `rdbSaveObjectType`: the type byte of a value in the encoding the store models.
pub(crate) fn object_type(value: &Value) -> u8 {
    match value {
        Value::Int { .. } | Value::Bytes(_) | Value::Synthetic { .. } => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Set(set) => match **set {
            SetValue::Ints { .. } => TYPE_SET_INTSET,
            SetValue::Table { .. } => TYPE_SET,
        },
        Value::ZSet(zset) if zset.is_listpack() => TYPE_ZSET_LISTPACK,
        Value::ZSet(_) => TYPE_ZSET_2,
        Value::Hash(hash) if hash.is_listpack() => TYPE_HASH_LISTPACK,
        Value::Hash(_) => TYPE_HASH,
    }
}

/// The (opcode, value) of a key's access metadata under the Db's policy: IDLE with the
/// seconds since its LRU clock (`estimateObjectIdleTime`), or FREQ with its decayed LFU
/// counter; none under other policies.
fn key_meta(db: &Db, lru: u32, now_ms: u64) -> Option<(u8, u64)> {
    let policy = db.config.maxmemory_policy;
    if policy.is_lfu() {
        let counter = lfu_decr_and_return(lru, now_ms, db.config.lfu_decay_time_min);
        Some((OPCODE_FREQ, u64::from(counter)))
    } else if policy.needs_access_metadata() {
        let clock = lru_clock(now_ms);
        let idle_s = if clock >= lru {
            clock - lru
        } else {
            clock + (LRU_CLOCK_MAX - lru)
        };
        Some((OPCODE_IDLE, u64::from(idle_s)))
    } else {
        None
    }
}

/// Bytes of a key's access metadata (see [`key_meta`]).
fn key_meta_len(db: &Db, lru: u32, now_ms: u64) -> u64 {
    match key_meta(db, lru, now_ms) {
        Some((OPCODE_IDLE, idle)) => 1 + len_bytes(idle),
        Some(_) => 2,
        None => 0,
    }
}

/// A listpack under construction in a reused buffer: header, entries, end byte.
struct Listpack<'a> {
    buf: &'a mut Vec<u8>,
    count: u64,
}

impl<'a> Listpack<'a> {
    fn start(buf: &'a mut Vec<u8>) -> Self {
        buf.clear();
        buf.extend_from_slice(&[0; 6]);
        Listpack { buf, count: 0 }
    }

    /// Appends an element as `lpAppend` encodes it: an integer when the string is one,
    /// else a string with its length; then the entry's back-length.
    fn push(&mut self, element: &[u8]) {
        let start = self.buf.len();
        match numbers::parse_i64(element) {
            Some(v) => encode_lp_integer(v, self.buf),
            None => {
                let len = element.len();
                if len < 64 {
                    self.buf.push(0x80 | len as u8);
                } else if len < 4096 {
                    self.buf.push(0xE0 | (len >> 8) as u8);
                    self.buf.push(len as u8);
                } else {
                    self.buf.push(0xF0);
                    self.buf.extend_from_slice(&(len as u32).to_le_bytes());
                }
                self.buf.extend_from_slice(element);
            }
        }
        let encoded = (self.buf.len() - start) as u64;
        encode_backlen(encoded, self.buf);
        self.count += 1;
    }

    fn push_blob(&mut self, blob: &Blob, scratch: &mut Vec<u8>) {
        match blob {
            Blob::Bytes(b) => self.push(b),
            Blob::Synthetic { .. } => {
                scratch.clear();
                blob.write_to(scratch);
                self.push(scratch);
            }
        }
    }

    /// Writes the end byte and the header (total bytes, element count saturating at
    /// 65535, which means "count them").
    fn finish(self) {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        let count = self.count.min(u64::from(u16::MAX)) as u16;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
    }
}

/// `lpEncodeIntegerGetType`.
fn encode_lp_integer(v: i64, buf: &mut Vec<u8>) {
    if (0..=127).contains(&v) {
        buf.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = if v < 0 { (1 << 13) + v } else { v } as u64;
        buf.push(0xC0 | (u >> 8) as u8);
        buf.push(u as u8);
    } else if (-32768..=32767).contains(&v) {
        buf.push(0xF1);
        buf.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        buf.push(0xF2);
        buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if i32::try_from(v).is_ok() {
        buf.push(0xF3);
        buf.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        buf.push(0xF4);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// `lpEncodeBacklen`: the entry's encoded length, 7 bits a byte, read right to left.
fn encode_backlen(l: u64, buf: &mut Vec<u8>) {
    if l <= 127 {
        buf.push(l as u8);
    } else if l < 16383 {
        buf.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
    } else if l < 2_097_151 {
        buf.extend_from_slice(&[
            (l >> 14) as u8,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else if l < 268_435_455 {
        buf.extend_from_slice(&[
            (l >> 21) as u8,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else {
        buf.extend_from_slice(&[
            (l >> 28) as u8,
            ((l >> 21) & 127) as u8 | 128,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    }
}

/// Bytes of one listpack entry for `element`, back-length included.
fn lp_entry_bytes(element: &[u8]) -> u64 {
    let encoded = match numbers::parse_i64(element) {
        Some(v) => crate::mem::listpack_int_entry_bytes(v) - 1,
        None => {
            let len = element.len() as u64;
            len + if len < 64 {
                1
            } else if len < 4096 {
                2
            } else {
                5
            }
        }
    };
    encoded + backlen_bytes(encoded)
}

fn backlen_bytes(l: u64) -> u64 {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

/// Listpack entry bytes of a blob: integers are at most 20 bytes long, so only short
/// synthetic values are materialized to tell.
fn blob_lp_entry_bytes(blob: &Blob, scratch: &mut Vec<u8>) -> u64 {
    match blob {
        Blob::Bytes(b) => lp_entry_bytes(b),
        Blob::Synthetic { len, .. } if *len <= 20 => {
            scratch.clear();
            blob.write_to(scratch);
            lp_entry_bytes(scratch)
        }
        Blob::Synthetic { len, .. } => lp_entry_bytes_of_string(*len),
    }
}

fn lp_entry_bytes_of_string(len: u64) -> u64 {
    let encoded = len
        + if len < 64 {
            1
        } else if len < 4096 {
            2
        } else {
            5
        };
    encoded + backlen_bytes(encoded)
}

enum QuicklistNode {
    /// One element too large for a listpack, at this index.
    Plain(usize),
    /// `count` elements from `first`, in one listpack.
    Packed { first: usize, count: usize },
}

/// The nodes RPUSHing the list's elements in order would build (`quicklistPushTail`):
/// an element joins the tail node while the node's listpack bytes plus the element's
/// length plus 8 stay within 8 KiB.
fn quicklist_nodes(list: &ListValue, scratch: &mut Vec<u8>) -> Vec<QuicklistNode> {
    let mut nodes = Vec::new();
    // The tail node's listpack bytes, when it is packed.
    let mut tail_bytes: Option<u64> = None;
    for (i, item) in list.items.iter().enumerate() {
        let sz = item.len();
        if sz >= QUICKLIST_PACKED_THRESHOLD {
            nodes.push(QuicklistNode::Plain(i));
            tail_bytes = None;
            continue;
        }
        let entry = blob_lp_entry_bytes(item, scratch);
        match (tail_bytes, nodes.last_mut()) {
            (Some(bytes), Some(QuicklistNode::Packed { count, .. }))
                if bytes + sz + QUICKLIST_SIZE_ESTIMATE_OVERHEAD <= QUICKLIST_NODE_LIMIT_BYTES =>
            {
                *count += 1;
                tail_bytes = Some(bytes + entry);
            }
            _ => {
                nodes.push(QuicklistNode::Packed { first: i, count: 1 });
                tail_bytes = Some(6 + 1 + entry);
            }
        }
    }
    nodes
}

/// The string record of synthetic values by (length, fill), computed once each: exact
/// for repeated bytes (every seed gives the same bytes) and in practice for random bytes
/// (LZF never shortens them by 4 bytes), one sample for letters. Also measures single
/// records with one reused encoder.
struct ValueSamples {
    record_bytes: BTreeMap<(u64, SyntheticFill), u64>,
    measure: Encoder<PlainCounter>,
}

impl Default for ValueSamples {
    fn default() -> Self {
        ValueSamples {
            record_bytes: BTreeMap::new(),
            measure: Encoder::new(PlainCounter { bytes: 0 }),
        }
    }
}

/// A counter that encodes everything it is given.
struct PlainCounter {
    bytes: u64,
}

impl Sink for PlainCounter {
    fn bytes(&mut self, bytes: &[u8]) {
        self.bytes += bytes.len() as u64;
    }
}

impl ValueSamples {
    fn record_bytes(&mut self, len: u64, seed: u64) -> u64 {
        let fill = SyntheticFill::of_seed(seed);
        // Short random values may be integers, so each is encoded for itself.
        if matches!(fill, SyntheticFill::Random | SyntheticFill::MemtierRandom) && len <= 11 {
            return self.string_record_bytes(len, seed);
        }
        if let Some(bytes) = self.record_bytes.get(&(len, fill)) {
            return *bytes;
        }
        let bytes = self.string_record_bytes(len, seed);
        self.record_bytes.insert((len, fill), bytes);
        bytes
    }

    /// Bytes of a synthetic string's record.
    fn string_record_bytes(&mut self, len: u64, seed: u64) -> u64 {
        self.measure.sink.bytes = 0;
        self.measure.blob_string(&Blob::Synthetic { len, seed });
        self.measure.sink.bytes
    }

    /// Bytes of a key's record as `rdbSaveRawString` writes it.
    fn key_record_bytes(&mut self, key: &[u8]) -> u64 {
        self.measure.sink.bytes = 0;
        self.measure.raw_string(key);
        self.measure.sink.bytes
    }
}

/// Whether some key `prefix + decimal(index)` could be an integer (then its record
/// depends on the index's value, not just its width).
fn keys_may_be_integers(prefix: &[u8]) -> bool {
    let digits = prefix.strip_prefix(b"-").unwrap_or(prefix);
    digits.iter().all(u8::is_ascii_digit)
}

/// The bytes a prefilled range's live keys take in the RDB.
fn prefilled_range_len(db: &Db, range: &Prefilled, now_ms: u64, samples: &mut ValueSamples) -> u64 {
    let spec = &range.spec;
    // Access metadata and the type byte: the same for every key of the range.
    let per_key = key_meta_len(db, range.lru, now_ms) + 1;
    let prefix_len = spec.prefix.len() as u64;
    let first = spec.first_index;
    let end = first.saturating_add(spec.count);
    let fixed_len = match spec.value_size {
        crate::prefill::ValueSize::Fixed(len) => Some(len),
        _ => None,
    };
    let band_arithmetic = fixed_len.is_some()
        && !keys_may_be_integers(&spec.prefix)
        && !(fill_is_random(spec.seed) && fixed_len.is_some_and(|len| len <= 11));
    let mut total = 0u64;
    let mut band_start = first;
    while band_start < end {
        let digits = decimal_digits(band_start);
        let band_end = if digits >= 20 {
            end
        } else {
            10u64.pow(digits as u32).min(end)
        };
        let key_len = prefix_len + digits;
        if let (true, Some(value_len), true) =
            (band_arithmetic, fixed_len, key_len < LZF_MIN_LEN as u64)
        {
            let live = (band_end - band_start)
                - range.overridden_between(band_start - first, band_end - first);
            // Any live key's seed has the range's fill, which is all the sample needs.
            let value = samples.record_bytes(value_len, range.value_seed(band_start));
            let key = len_bytes(key_len) + key_len;
            total += live * (per_key + key + value);
        } else {
            let mut offset = range.next_live(band_start - first);
            while let Some(live) = offset.filter(|o| first + o < band_end) {
                let index = first + live;
                let key = samples.key_record_bytes(&range.key_of(index));
                let value = samples.record_bytes(range.value_len(index), range.value_seed(index));
                total += per_key + key + value;
                offset = range.next_live(live + 1);
            }
        }
        band_start = band_end;
    }
    total
}

fn fill_is_random(seed: u64) -> bool {
    matches!(
        SyntheticFill::of_seed(seed),
        SyntheticFill::Random | SyntheticFill::MemtierRandom
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_framing() {
        assert_eq!(diskless_payload_len(100), 187);
        assert_eq!(disk_payload_len(100), 106);
        assert_eq!(disk_payload_len(9), 13);
    }

    #[test]
    fn crc64_is_redis_jones() {
        // crc64.c's test vector.
        assert_eq!(CRC64_REDIS.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn lengths_and_integers_encode_as_rdb_c_does() {
        let mut out = Vec::new();
        let mut enc = Encoder::new(Writer { out: &mut out });
        enc.len(63);
        enc.len(64);
        enc.len(16_384);
        enc.raw_string(b"-129");
        enc.raw_string(b"0123");
        assert_eq!(
            out,
            [
                &[63u8][..],
                &[0x40, 64],
                &[0x80, 0, 0, 0x40, 0],
                &[ENC_INT16, 0x7f, 0xff],
                &[4, b'0', b'1', b'2', b'3'],
            ]
            .concat()
        );
    }
}
