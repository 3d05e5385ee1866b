//! Byte strings that may be synthetic: a value held as (length, seed) produces its bytes
//! only when read through the wire, so a simulated 25 KB value costs a few bytes of
//! memory while counting 25 KB wherever size matters. Invariant: a synthetic blob's bytes
//! are a pure function of (len, seed), and `len()` is always the true byte length.
//!
//! What the bytes are (their [`SyntheticFill`]) rides in the seed's top two bits, so a
//! seed alone says how compressible its value is (an RDB snapshot compresses strings)
//! without widening `Blob`, `Arg` or the store's values.

/// A byte string: either owned bytes or a synthetic value described by (len, seed).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Blob {
    /// Real bytes, as a client sent them.
    Bytes(Box<[u8]>),
    /// `len` bytes produced deterministically from `seed` (see [`Blob::synthetic_byte`]).
    Synthetic { len: u64, seed: u64 },
}

impl Blob {
    pub fn from_slice(bytes: &[u8]) -> Blob {
        Blob::Bytes(bytes.into())
    }

    /// The byte length, the same whether the bytes are real or synthetic.
    pub fn len(&self) -> u64 {
        match self {
            Blob::Bytes(b) => b.len() as u64,
            Blob::Synthetic { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the bytes to `out` (materializing a synthetic value).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Blob::Bytes(b) => out.extend_from_slice(b),
            Blob::Synthetic { len, seed } => {
                out.reserve(*len as usize);
                out.extend((0..*len).map(|i| Self::synthetic_byte(*seed, i)));
            }
        }
    }

    /// The bytes as a vector (materializing a synthetic value).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len() as usize);
        self.write_to(&mut v);
        v
    }

    /// Byte `index` of the synthetic value with `seed`, per the seed's
    /// [`SyntheticFill`]: a pseudo-random lowercase letter, the seed's repeated byte, or
    /// a pseudo-random byte.
    pub fn synthetic_byte(seed: u64, index: u64) -> u8 {
        match SyntheticFill::of_seed(seed) {
            SyntheticFill::Letters => b'a' + splitmix_byte(seed, index) % 26,
            SyntheticFill::Repeat(byte) => byte,
            SyntheticFill::Random => splitmix_byte(seed, index),
            SyntheticFill::MemtierRandom => memtier_random_byte(seed, index),
        }
    }
}

/// Byte `index % 8` of SplitMix64 of (seed, index / 8).
fn splitmix_byte(seed: u64, index: u64) -> u8 {
    let mut z = seed
        .wrapping_add((index / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> ((index % 8) * 8)) as u8
}

/// memtier_benchmark's `--random-data` buffer (obj_gen.cpp, `alloc_value_buffer`) at
/// `index`: 64-byte blocks of one 64-byte random buffer `b1`, block `k` XORed with
/// `b2[k % 64]` and with its group's number `k / 64 + 1`; both buffers are read anew
/// every 20 groups (80 KiB). Here they are drawn from (seed, refresh epoch).
fn memtier_random_byte(seed: u64, index: u64) -> u8 {
    let block = index / 64;
    let group = block / 64;
    let epoch_seed = seed.wrapping_add((group / 20).wrapping_mul(0xD605_BBB5_8C8A_BBAB));
    let b1 = splitmix_byte(epoch_seed, index % 64);
    let b2 = splitmix_byte(epoch_seed ^ 0x5851_F42D_4C95_7F2D, block % 64);
    b1 ^ b2 ^ (group + 1) as u8
}

/// What a synthetic value's bytes are, carried in its seed's top two bits (00 letters,
/// 01 a repeated byte, 10 random bytes, 11 memtier's random data) so that every existing
/// place a seed travels (requests, stored values, prefilled ranges) carries it too.
/// Seeds below 2^62, which every caller passed before fills existed, keep their
/// letters byte for byte.
///
/// The kinds are what a benchmark sends, and they differ in what an RDB snapshot makes
/// of them: LZF turns a repeated byte into about 1% of its length and leaves random bytes
/// as they are. memtier_benchmark sends `'x'` repeated by default (its value buffer is
/// `memset` to `'x'`, `Repeat(b'x')`) and, with `--random-data`, bytes from /dev/urandom
/// laid out in 64-byte blocks that repeat (`MemtierRandom`); `Random` is the
/// incompressible limit of that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyntheticFill {
    /// Pseudo-random lowercase letters: readable replies; LZF finds some repeats in long
    /// values, so their compressed size varies a little from seed to seed.
    Letters,
    /// One byte repeated (memtier_benchmark's default is `Repeat(b'x')`).
    Repeat(u8),
    /// Pseudo-random bytes, uniform over 0..=255: LZF leaves them as they are.
    Random,
    /// The bytes memtier_benchmark sends with `--random-data`: blocks of one random
    /// buffer, so that LZF finds repeats in long values (an RDB holds a 1 KB value at
    /// about 98% of its length, a 25 KB one at about 72%, a 100 KB one at about 68%).
    MemtierRandom,
}

const FILL_SHIFT: u32 = 62;
const PAYLOAD_MASK: u64 = (1 << FILL_SHIFT) - 1;

impl SyntheticFill {
    /// A seed whose value has this fill: `payload`'s low 62 bits with the fill's tag
    /// above them (for `Repeat`, the repeated byte replaces the payload's low byte).
    pub const fn seed(self, payload: u64) -> u64 {
        match self {
            SyntheticFill::Letters => payload & PAYLOAD_MASK,
            SyntheticFill::Repeat(byte) => {
                (1 << FILL_SHIFT) | (payload & PAYLOAD_MASK & !0xff) | byte as u64
            }
            SyntheticFill::Random => (2 << FILL_SHIFT) | (payload & PAYLOAD_MASK),
            SyntheticFill::MemtierRandom => (3 << FILL_SHIFT) | (payload & PAYLOAD_MASK),
        }
    }

    /// The fill a seed says.
    pub const fn of_seed(seed: u64) -> SyntheticFill {
        match seed >> FILL_SHIFT {
            0 => SyntheticFill::Letters,
            1 => SyntheticFill::Repeat(seed as u8),
            2 => SyntheticFill::Random,
            _ => SyntheticFill::MemtierRandom,
        }
    }
}

/// One argument of a command as the caller hands it to the store: borrowed bytes (a real
/// client's argument, or a key the simulator formatted into a reusable buffer) or a
/// synthetic value. Borrowing keeps the simulator's per-request path allocation-free
/// until the store decides to keep the argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg<'a> {
    Bytes(&'a [u8]),
    Synthetic { len: u64, seed: u64 },
}

impl Arg<'_> {
    pub fn len(&self) -> u64 {
        match self {
            Arg::Bytes(b) => b.len() as u64,
            Arg::Synthetic { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Converts to an owned blob, keeping a synthetic value synthetic.
    pub fn to_blob(&self) -> Blob {
        match *self {
            Arg::Bytes(b) => Blob::from_slice(b),
            Arg::Synthetic { len, seed } => Blob::Synthetic { len, seed },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_bytes_are_deterministic_and_sized() {
        let a = Blob::Synthetic { len: 1000, seed: 7 }.to_vec();
        let b = Blob::Synthetic { len: 1000, seed: 7 }.to_vec();
        let c = Blob::Synthetic { len: 1000, seed: 8 }.to_vec();
        assert_eq!(a.len(), 1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(u8::is_ascii_lowercase));
    }

    #[test]
    fn fills_ride_in_the_seed() {
        for fill in [
            SyntheticFill::Letters,
            SyntheticFill::Repeat(b'x'),
            SyntheticFill::Repeat(0),
            SyntheticFill::Random,
            SyntheticFill::MemtierRandom,
        ] {
            for payload in [0, 7, u64::MAX] {
                assert_eq!(SyntheticFill::of_seed(fill.seed(payload)), fill);
            }
        }
        let x = SyntheticFill::Repeat(b'x').seed(99);
        assert_eq!(Blob::Synthetic { len: 5, seed: x }.to_vec(), b"xxxxx");
        let random = Blob::Synthetic {
            len: 4096,
            seed: SyntheticFill::Random.seed(3),
        }
        .to_vec();
        assert!(random.iter().any(|b| !b.is_ascii_lowercase()));
    }
}
