//! The memory model behind `used_memory`: what Redis 7.0 allocates for each object given
//! its encoding (embstr/raw/int strings, listpack, intset, quicklist, hashtable, skiplist),
//! rounded up to jemalloc 5.3's size classes as `zmalloc_size` reports them. Invariant:
//! every function is a pure function of lengths and counts, so the same logical state
//! always costs the same bytes whatever order it was built in.

/// The baseline `Config::default()` adds the dataset to: close to redis-server 7.0.15's
/// startup allocation (MEMORY STATS reports 876,104), before any client. Simulated
/// reports are pinned to it; a caller modelling a node that serves clients should use
/// [`SERVING_BASELINE_USED_MEMORY_BYTES`] instead.
pub const BASELINE_USED_MEMORY_BYTES: u64 = 866_000;

/// `used_memory` of a redis-server 7.0.15 holding no keys, with one client that has
/// already sent pipelined commands: 1,013,616 bytes measured. Its query and reply
/// buffers and lazily created server structures (about 99 KB over a fresh server) stay
/// allocated, so a serving node reaches `maxmemory` with that much less room for keys.
pub const SERVING_BASELINE_USED_MEMORY_BYTES: u64 = 1_013_616;

/// `used_memory` of the same server right after start, with only the INFO client
/// connected: the base a test measures when it sets `maxmemory` on a fresh server.
pub const IDLE_USED_MEMORY_BYTES: u64 = 914_352;

/// `sizeof(robj)`.
pub const ROBJ_BYTES: u64 = 16;
/// `sizeof(dictEntry)` (24) in its jemalloc class.
pub const DICT_ENTRY_BYTES: u64 = 32;
/// `sizeof(dict)` in 7.0 (56) in its jemalloc class.
pub const DICT_BYTES: u64 = 64;
/// Redis's shared integers 0..OBJ_SHARED_INTEGERS cost nothing per key.
pub const SHARED_INTEGERS: i64 = 10_000;
/// Strings up to this length are allocated as one embstr block.
pub const EMBSTR_MAX_LEN: u64 = 44;

/// The usable size jemalloc 5.3 returns for a request of `size` bytes (4 KiB pages,
/// 16-byte quantum): 8, then steps of 16 up to 128, then four classes per doubling.
pub fn size_class(size: u64) -> u64 {
    if size <= 8 {
        return 8;
    }
    if size <= 128 {
        return (size + 15) & !15;
    }
    let lg = 63 - (size - 1).leading_zeros() as u64; // floor(log2(size - 1))
    let spacing = 1u64 << (lg - 2);
    (size + spacing - 1) & !(spacing - 1)
}

/// Bytes of an sds string of `len` bytes created by `sdsnewlen` (type 5 below 32 bytes,
/// then 8/16/32-bit headers), header and terminator included, in its size class.
pub fn sds_bytes(len: u64) -> u64 {
    let header = if len < 32 {
        1
    } else if len < 256 {
        3
    } else if len < 65_536 {
        5
    } else if len < (1 << 32) {
        9
    } else {
        17
    };
    size_class(header + len + 1)
}

/// A string value object as SET stores it after `tryObjectEncoding`.
pub fn string_object_bytes(len: u64) -> u64 {
    if len <= EMBSTR_MAX_LEN {
        size_class(ROBJ_BYTES + 3 + len + 1)
    } else {
        ROBJ_BYTES + sds_bytes(len)
    }
}

/// Bucket array of a dict holding `count` entries: Redis grows the table to the next
/// power of two when it fills (ratio 1), starting at 4; an empty dict has no table.
pub fn dict_buckets_bytes(count: u64) -> u64 {
    if count == 0 {
        return 0;
    }
    size_class(8 * count.max(4).next_power_of_two())
}

/// Bytes one element takes inside a listpack: encoding, payload and back-length.
pub fn listpack_entry_bytes(element: &[u8]) -> u64 {
    if let Some(value) = crate::numbers::parse_i64(element) {
        return listpack_int_entry_bytes(value);
    }
    listpack_str_entry_bytes(element.len() as u64)
}

/// Listpack entry size of an integer element.
pub fn listpack_int_entry_bytes(value: i64) -> u64 {
    let encoded = if (0..=127).contains(&value) {
        1
    } else if (-4096..=4095).contains(&value) {
        2
    } else if (-32_768..=32_767).contains(&value) {
        3
    } else if (-8_388_608..=8_388_607).contains(&value) {
        4
    } else if i32::try_from(value).is_ok() {
        5
    } else {
        9
    };
    encoded + 1
}

/// Listpack entry size of a non-integer string of `len` bytes.
pub fn listpack_str_entry_bytes(len: u64) -> u64 {
    let encoded = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    encoded + listpack_backlen_bytes(encoded)
}

fn listpack_backlen_bytes(encoded: u64) -> u64 {
    match encoded {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=268_435_455 => 4,
        _ => 5,
    }
}

/// A listpack's allocation given the sum of its entry sizes (6-byte header, end byte).
pub fn listpack_bytes(entries_bytes: u64) -> u64 {
    size_class(6 + entries_bytes + 1)
}

/// Quicklist nodes hold listpacks of at most 8 KiB (list-max-listpack-size -2).
pub const QUICKLIST_NODE_LIMIT_BYTES: u64 = 8192;

/// A quicklist's bytes given its entries' listpack sizes summed: the quicklist struct, a
/// 32-byte node per 8 KiB of listpack, and each node's listpack allocation. Nodes are
/// filled to the limit in push order, which is how pushes at one end pack them.
pub fn quicklist_bytes(entries_bytes: u64, count: u64) -> u64 {
    if count == 0 {
        return 0;
    }
    let per_node_payload = QUICKLIST_NODE_LIMIT_BYTES - 7;
    let full_nodes = entries_bytes / per_node_payload;
    let remainder = entries_bytes % per_node_payload;
    let mut bytes = size_class(40) + full_nodes * (32 + listpack_bytes(per_node_payload));
    if remainder > 0 || full_nodes == 0 {
        bytes += 32 + listpack_bytes(remainder);
    }
    bytes
}

/// Skiplist node of `level` levels: ele, score, backward, and a (forward, span) per level.
pub fn skiplist_node_bytes(level: u32) -> u64 {
    size_class(24 + 16 * u64::from(level))
}

/// Fixed part of a skiplist-encoded sorted set: zset struct, its dict, the zskiplist
/// struct and the 32-level header node.
pub fn skiplist_fixed_bytes() -> u64 {
    size_class(16) + DICT_BYTES + size_class(32) + skiplist_node_bytes(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_classes() {
        let expect = [
            (1, 8),
            (8, 8),
            (9, 16),
            (18, 32),
            (24, 32),
            (33, 48),
            (104, 112),
            (129, 160),
            (257, 320),
            (536, 640),
            (1006, 1024),
            (1025, 1280),
            (14_337, 16_384),
            (16_385, 20_480),
        ];
        for (size, class) in expect {
            assert_eq!(size_class(size), class, "size {size}");
        }
    }

    #[test]
    fn listpack_entries() {
        assert_eq!(listpack_entry_bytes(b"12"), 2);
        assert_eq!(listpack_entry_bytes(b"1000"), 3);
        assert_eq!(listpack_entry_bytes(b"field:1"), 9);
        assert_eq!(listpack_str_entry_bytes(100), 103);
    }
}

/// The old bucket array a Redis dict keeps while it rehashes incrementally. A dict
/// doubles when an insert finds it full (used == size); from then on each insert or
/// delete moves one bucket, and the old array is freed once every non-empty bucket has
/// moved, about (1 - 1/e) of them at load factor 1. Collections rely on this alone (the
/// server's cron only rehashes the keyspace dicts), so a set that just grew past a power
/// of two still pays for both arrays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rehash {
    old_buckets: u64,
    steps_left: u64,
}

impl Rehash {
    /// Before inserting into a dict that holds `used` entries.
    pub fn before_insert(&mut self, used: u64) {
        self.step();
        if self.steps_left == 0 && used >= 4 && used.is_power_of_two() {
            self.old_buckets = used;
            self.steps_left = (used * 632).div_ceil(1000);
        }
    }

    /// Before deleting from the dict.
    pub fn step(&mut self) {
        if self.steps_left > 0 {
            self.steps_left -= 1;
            if self.steps_left == 0 {
                self.old_buckets = 0;
            }
        }
    }

    /// Bytes of the old bucket array still allocated.
    pub fn bytes(&self) -> u64 {
        if self.old_buckets == 0 {
            0
        } else {
            size_class(8 * self.old_buckets)
        }
    }
}
