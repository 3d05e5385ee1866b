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

/// Redis's `keyHashSlot`: CRC-16/XMODEM of the key, or of the content of the first
/// `{...}` when it is non-empty, masked to 14 bits.
pub fn key_hash_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(0) | None => key,
            Some(len) => &key[open + 1..open + 1 + len],
        },
        None => key,
    };
    XMODEM.checksum(hashed) & 0x3fff
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
}
