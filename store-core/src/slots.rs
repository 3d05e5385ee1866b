//! Cluster hash slots: which slot a key belongs to (CRC-16/XMODEM of the key or of its
//! first non-empty {hash tag}, modulo 16384) and which slots this node serves, so it can
//! answer MOVED / ASK like a cluster node. Invariant: `key_hash_slot` agrees with Redis's
//! `keyHashSlot` for every byte string.

/// Number of hash slots in a Redis cluster.
pub const SLOT_COUNT: usize = 16_384;

/// CRC-16/XMODEM with a 16-way sliced table: the simulator hashes every request's key,
/// so this sits on the hot path (the `crc16` crate recomputed its initial value bit by
/// bit on every call, several times slower on short keys).
const XMODEM: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_XMODEM);

/// CRC-16/XMODEM of `bytes` (no hash-tag rule, no mask): what `keyHashSlot` hashes,
/// for callers that combine CRCs of key parts by linearity.
pub(crate) fn crc16(bytes: &[u8]) -> u16 {
    XMODEM.checksum(bytes)
}

/// Sliced CRC takes whole 16-byte blocks; shorter tails go a byte at a time.
const CRC_BLOCK_BYTES: usize = 16;
/// Keys up to this long are hashed from a zero-padded copy on the stack.
const PADDED_MAX_BYTES: usize = 48;

/// A copy of a short key, aligned for the vector loads of the brace scan.
#[repr(align(16))]
struct Padded([u8; PADDED_MAX_BYTES]);

/// Redis's `keyHashSlot`: CRC-16/XMODEM of the key, or of the content of the first
/// `{...}` when it is non-empty, masked to 14 bits.
///
/// XMODEM starts from a zero register and leading zero bytes leave a zero register
/// unchanged, so a key left-padded with zeros to whole 16-byte blocks has the same CRC
/// as the key itself, and takes the sliced path instead of one table step per byte
/// ("memtier-123456" is 14 bytes). The padding holds no `{`, so the brace scan runs
/// over the whole fixed-size block.
pub fn key_hash_slot(key: &[u8]) -> u16 {
    let len = key.len();
    let pad = len.wrapping_neg() % CRC_BLOCK_BYTES;
    if pad == 0 || len > PADDED_MAX_BYTES {
        return XMODEM.checksum(hash_tag(key)) & 0x3fff;
    }
    let mut padded = Padded([0; PADDED_MAX_BYTES]);
    padded.0[pad..pad + len].copy_from_slice(key);
    // The whole fixed-size block, without stopping early: the compiler turns this into
    // a few vector compares (the bytes past the key are zeros).
    let has_brace = padded.0.iter().fold(false, |seen, &b| seen | (b == b'{'));
    if has_brace {
        return XMODEM.checksum(hash_tag(key)) & 0x3fff;
    }
    XMODEM.checksum(&padded.0[..pad + len]) & 0x3fff
}

/// The bytes Redis hashes for a key: the content of its first `{...}` when non-empty,
/// else the whole key.
pub(crate) fn hash_tag(key: &[u8]) -> &[u8] {
    match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(0) | None => key,
            Some(len) => &key[open + 1..open + 1 + len],
        },
        None => key,
    }
}

/// What this node does with a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Served here.
    Owned,
    /// Served here, but being migrated: keys not present answer `ASK slot addr`.
    Migrating(Box<str>),
    /// Served here only for clients that sent ASKING (the node importing it).
    Importing,
    /// Served by the node at this address: `MOVED slot addr`.
    Elsewhere(Box<str>),
    /// Nobody known serves it: CLUSTERDOWN.
    Unassigned,
}

/// Slot ownership of one cluster node.
#[derive(Clone, Debug)]
pub struct SlotTable {
    pub(crate) states: Vec<SlotState>,
}

impl Default for SlotTable {
    /// A node owning every slot (`kvsim serve --cluster`).
    fn default() -> SlotTable {
        SlotTable {
            states: vec![SlotState::Owned; SLOT_COUNT],
        }
    }
}

impl SlotTable {
    pub fn state(&self, slot: u16) -> &SlotState {
        &self.states[usize::from(slot) % SLOT_COUNT]
    }

    pub fn set(&mut self, slot: u16, state: SlotState) {
        if let Some(s) = self.states.get_mut(usize::from(slot)) {
            *s = state;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        assert_eq!(XMODEM.checksum(b"123456789"), 0x31C3);
        assert_eq!(key_hash_slot(b"foo"), 12182);
        assert_eq!(
            key_hash_slot(b"{user1000}.following"),
            key_hash_slot(b"user1000")
        );
        assert_eq!(key_hash_slot(b"foo{}{bar}"), key_hash_slot(b"foo{}{bar}"));
        assert_ne!(key_hash_slot(b"foo{}{bar}"), key_hash_slot(b"bar"));
        assert_eq!(key_hash_slot(b"foo{{bar}}zap"), key_hash_slot(b"{bar"));
        assert_eq!(key_hash_slot(b"foo{bar}{zap}"), key_hash_slot(b"bar"));
    }

    /// The zero-padded fast path agrees with the plain CRC for every length around the
    /// block boundaries, with and without hash tags.
    #[test]
    fn padded_crc_matches_plain() {
        for len in 0..=80usize {
            // Zero bytes included: they are ordinary key bytes to the CRC.
            let key: Vec<u8> = (0..len).map(|i| (i * 37 % 97) as u8).collect();
            assert_eq!(
                key_hash_slot(&key),
                XMODEM.checksum(hash_tag(&key)) & 0x3fff,
                "len {len}"
            );
            for at in [0, len / 2, len.saturating_sub(1)] {
                let mut tagged = key.clone();
                tagged.insert(at.min(tagged.len()), b'{');
                tagged.push(b'}');
                assert_eq!(
                    key_hash_slot(&tagged),
                    XMODEM.checksum(hash_tag(&tagged)) & 0x3fff,
                    "tagged {tagged:?}"
                );
            }
        }
        assert_eq!(
            key_hash_slot(b"memtier-123456"),
            XMODEM.checksum(b"memtier-123456") & 0x3fff
        );
    }
}
