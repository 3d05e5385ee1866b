//! Byte strings that may be synthetic: a value held as (length, seed) produces its bytes
//! only when read through the wire, so a simulated 25 KB value costs a few bytes of
//! memory while counting 25 KB wherever size matters. Invariant: a synthetic blob's bytes
//! are a pure function of (len, seed), and `len()` is always the true byte length.

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

    /// Byte `index` of the synthetic value with `seed`: printable ASCII ('a'..='z'), as
    /// memtier's and redis-benchmark's payloads are, so replies stay readable and the
    /// encoded size never depends on escaping. SplitMix64 of (seed, index / 8).
    pub fn synthetic_byte(seed: u64, index: u64) -> u8 {
        let mut z = seed
            .wrapping_add((index / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let byte = (z >> ((index % 8) * 8)) as u8;
        b'a' + byte % 26
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
}
