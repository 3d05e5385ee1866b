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

/// A cluster node, as an index into the address table a node's [`SlotTable`] shares
/// with the rest of its cluster (see [`crate::Db::join_cluster`]). Two bytes, so a slot
/// table of 16,384 slots on each of thousands of nodes holds no address strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeRef(pub u16);

/// What this node does with a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Served here.
    Owned,
    /// Served here, but being migrated to this node: keys not present answer
    /// `ASK slot addr`.
    Migrating(NodeRef),
    /// Served here only for clients that sent ASKING (the node importing it).
    Importing,
    /// Served by this node: `MOVED slot addr`.
    Elsewhere(NodeRef),
    /// Nobody known serves it: CLUSTERDOWN.
    Unassigned,
}

/// `owners` entry of a slot nobody serves.
const OWNER_NONE: u16 = u16::MAX;
/// `owners` entry of a slot this node serves, in a table with no `me` (a node that has
/// not joined a shared table).
const OWNER_SELF: u16 = u16::MAX - 1;

/// Slot ownership of one cluster node, as a slot → owner array and a few exceptions
/// (migrating, importing). The array and the address table are shared (`Arc`) by every
/// node built from the same converged view, and copied on a node's first change, so a
/// converged cluster of N nodes holds one 32 KiB array, not N tables of strings.
/// Invariant: `owners` has [`SLOT_COUNT`] entries, each a node index below `addrs.len()`,
/// `me`, [`OWNER_SELF`] or [`OWNER_NONE`]; `special` holds only `Migrating` and
/// `Importing` states.
#[derive(Clone, Debug)]
pub struct SlotTable {
    addrs: std::sync::Arc<Vec<Box<str>>>,
    owners: std::sync::Arc<Vec<u16>>,
    me: u16,
    /// The node whose slots this one serves as its replica ([`OWNER_NONE`]: none).
    replica_of: u16,
    special: std::collections::BTreeMap<u16, SlotState>,
}

impl Default for SlotTable {
    /// A node owning every slot (`kvsim serve --cluster`).
    fn default() -> SlotTable {
        SlotTable::filled(OWNER_SELF)
    }
}

impl SlotTable {
    /// A table whose every slot has owner `owner`, knowing no other node.
    pub(crate) fn filled(owner: u16) -> SlotTable {
        SlotTable {
            addrs: Default::default(),
            owners: std::sync::Arc::new(vec![owner; SLOT_COUNT]),
            me: OWNER_SELF,
            replica_of: OWNER_NONE,
            special: Default::default(),
        }
    }

    /// A table with no slot served (every one CLUSTERDOWN).
    pub(crate) fn unassigned() -> SlotTable {
        SlotTable::filled(OWNER_NONE)
    }

    /// The shared view of a cluster: node `addrs[i]` is `NodeRef(i)`, this node is `me`,
    /// slot s is served by `owners[s]` (`None`: nobody).
    pub(crate) fn shared(
        addrs: std::sync::Arc<Vec<Box<str>>>,
        me: NodeRef,
        owners: std::sync::Arc<Vec<u16>>,
    ) -> SlotTable {
        assert_eq!(owners.len(), SLOT_COUNT, "an owner for every slot");
        assert!(
            addrs.len() < usize::from(OWNER_SELF),
            "at most 65,533 nodes"
        );
        SlotTable {
            addrs,
            owners,
            me: me.0,
            replica_of: OWNER_NONE,
            special: Default::default(),
        }
    }

    /// What this node does with `slot`.
    #[inline]
    pub fn state(&self, slot: u16) -> SlotState {
        let slot = slot % SLOT_COUNT as u16;
        if !self.special.is_empty() {
            if let Some(&s) = self.special.get(&slot) {
                return s;
            }
        }
        self.owner_state(slot)
    }

    /// What `slot`'s owner in this node's view (`server.cluster->slots[slot]`) makes
    /// of it, migrating or importing aside: an importing slot's owner is still the
    /// node it comes from.
    pub fn owner_state(&self, slot: u16) -> SlotState {
        let slot = slot % SLOT_COUNT as u16;
        match self.owners[usize::from(slot)] {
            OWNER_NONE => SlotState::Unassigned,
            o if o == self.me || o == OWNER_SELF || o == self.replica_of => SlotState::Owned,
            o => SlotState::Elsewhere(NodeRef(o)),
        }
    }

    /// Sets what this node does with `slot` (copying the shared owner array on the
    /// first change). Slots past the last are ignored.
    pub fn set(&mut self, slot: u16, state: SlotState) {
        if usize::from(slot) >= SLOT_COUNT {
            return;
        }
        self.special.remove(&slot);
        let owner = match state {
            SlotState::Owned => self.me,
            SlotState::Elsewhere(n) => n.0,
            SlotState::Unassigned => OWNER_NONE,
            SlotState::Migrating(_) | SlotState::Importing => {
                self.special.insert(slot, state);
                return;
            }
        };
        if self.owners[usize::from(slot)] != owner {
            std::sync::Arc::make_mut(&mut self.owners)[usize::from(slot)] = owner;
        }
    }

    /// The address of cluster node `node` ("?" if this table does not know it, which
    /// [`SlotTable::node`] rules out).
    pub fn addr(&self, node: NodeRef) -> &str {
        self.addrs.get(usize::from(node.0)).map_or("?", |a| a)
    }

    /// The reference of the node at `addr`, added to this node's address table if it
    /// is not there yet.
    pub fn node(&mut self, addr: &str) -> NodeRef {
        if let Some(i) = self.addrs.iter().position(|a| &**a == addr) {
            return NodeRef(i as u16);
        }
        let addrs = std::sync::Arc::make_mut(&mut self.addrs);
        assert!(
            addrs.len() < usize::from(OWNER_SELF),
            "at most 65,533 nodes"
        );
        addrs.push(addr.into());
        NodeRef(addrs.len() as u16 - 1)
    }

    /// The address that serves `slot` as this node describes its cluster (CLUSTER SLOTS,
    /// CLUSTER NODES): `self_addr` for a slot it serves as a primary, the primary's for
    /// one it serves as a replica, None for one nobody serves.
    pub fn owner_addr<'a>(&'a self, slot: u16, self_addr: &'a str) -> Option<&'a str> {
        match self.state(slot) {
            SlotState::Migrating(_) => Some(self_addr),
            // CLUSTER SLOTS names the owner: an importing slot's is still its source.
            SlotState::Importing => match self.owner_state(slot) {
                SlotState::Elsewhere(node) => Some(self.addr(node)),
                SlotState::Unassigned => None,
                _ => Some(self_addr),
            },
            SlotState::Unassigned => None,
            SlotState::Elsewhere(node) => Some(self.addr(node)),
            SlotState::Owned => match self.owners[usize::from(slot % SLOT_COUNT as u16)] {
                o if o == self.replica_of && o != self.me => Some(self.addr(NodeRef(o))),
                _ => Some(self_addr),
            },
        }
    }

    /// Serves `primary`'s slots as its replica (None: no longer a replica).
    pub fn set_replica_of(&mut self, primary: Option<NodeRef>) {
        self.replica_of = primary.map_or(OWNER_NONE, |n| n.0);
    }

    /// This node's own reference in a shared table.
    pub fn me(&self) -> Option<NodeRef> {
        (self.me != OWNER_SELF).then_some(NodeRef(self.me))
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
