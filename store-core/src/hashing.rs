//! The one hasher store-core uses: foldhash with a fixed seed, so hash tables built from
//! the same operations have the same layout and iteration order in every process
//! (determinism rule 5). Invariant: `hash_bytes(k)` is a pure function of `k`.

use std::hash::BuildHasher;

/// foldhash's fast hasher with a fixed per-hasher seed.
pub type FixedState = foldhash::fast::FixedState;

const SEED: u64 = 0x6b76_7369_6d5f_7374; // "kvsim_st"

pub fn fixed_state() -> FixedState {
    FixedState::with_seed(SEED)
}

/// Hash of a byte string with the fixed state.
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    fixed_state().hash_one(bytes)
}

/// SplitMix64's finalizer: a fast, well-mixed pure function used to derive per-key
/// seeds and sizes from a range seed and an index.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
