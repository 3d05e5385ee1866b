//! LZF as Redis 7.0.15 builds it (`lzf_c.c` with `lzfP.h`'s HLOG 16, VERY_FAST 1,
//! ULTRA_FAST 0), ported line by line so that an RDB string's compressed length, and
//! whether it is compressed at all, are what redis-server writes. The port keeps the
//! C code's output-bound checks, which are conservative (a result that would fit may be
//! refused when the limit is near): Redis passes `len - 4` as the bound, and the refusal
//! is what decides between a compressed and a verbatim string.
//!
//! Invariant: [`compress`] returns exactly the bytes `lzf_compress` writes for the same
//! input and bound when its hash table starts empty, and [`decompress`] inverts it.
//! Redis leaves the table uninitialised (INIT_HTAB 0); a stale entry can only offer a
//! match that a clean table lacks, and the tests against redis-server's files measure
//! no difference on the data shapes they cover.

/// log2 of the hash table's slots (HLOG).
const HASH_LOG: u32 = 16;
const HASH_SLOTS: usize = 1 << HASH_LOG;
/// Longest literal run (MAX_LIT), farthest back-reference (MAX_OFF), longest
/// back-reference (MAX_REF).
const MAX_LITERAL_RUN: usize = 1 << 5;
const MAX_OFFSET: usize = 1 << 13;
const MAX_MATCH: usize = (1 << 8) + (1 << 3);

/// FRST: the first two bytes of a triple.
#[inline]
fn first(input: &[u8], ip: usize) -> u32 {
    (u32::from(input[ip]) << 8) | u32::from(input[ip + 1])
}

/// NEXT: shifts the third byte in (the value keeps older bytes above bit 24, as the
/// C `unsigned int` does).
#[inline]
fn next(hval: u32, input: &[u8], ip: usize) -> u32 {
    (hval << 8) | u32::from(input[ip + 2])
}

/// IDX with VERY_FAST: the slot of a hash value.
#[inline]
fn slot(hval: u32) -> usize {
    ((hval >> (3 * 8 - HASH_LOG)).wrapping_sub(hval.wrapping_mul(5)) as usize) & (HASH_SLOTS - 1)
}

/// lzf_compress's hash table, kept from call to call: each entry is tagged with the
/// call that wrote it, so a call sees an empty table without clearing 64 K entries
/// (which would cost more than compressing a short string). The table is allocated by
/// the first compression: many encoders never compress.
#[derive(Default)]
pub(crate) struct Compressor {
    /// (generation << 32) | (position + 1); an entry of another generation is empty.
    table: Vec<u64>,
    generation: u64,
}

impl Compressor {
    /// Compresses `input` into at most `out_limit` bytes, as `lzf_compress(in, len, out,
    /// out_limit)` does; `None` where it returns 0 (empty input, zero bound, or the
    /// output would not fit by its checks), and for inputs of 4 GiB or more, which no
    /// Redis string reaches (proto-max-bulk-len caps them at 512 MiB). The result
    /// replaces `out`'s contents.
    pub(crate) fn compress(
        &mut self,
        input: &[u8],
        out_limit: usize,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        if input.len() >= u32::MAX as usize {
            out.clear();
            return None;
        }
        if self.table.is_empty() {
            self.table = vec![0; HASH_SLOTS];
        }
        self.generation += 1;
        if self.generation > u64::from(u32::MAX) {
            self.generation = 1;
            self.table.iter_mut().for_each(|e| *e = 0);
        }
        compress_with(
            &mut self.table,
            self.generation << 32,
            input,
            out_limit,
            out,
        )
    }
}

fn compress_with(
    table: &mut [u64],
    tag: u64,
    input: &[u8],
    out_limit: usize,
    out: &mut Vec<u8>,
) -> Option<usize> {
    out.clear();
    if input.is_empty() || out_limit == 0 {
        return None;
    }
    // The C code writes up to out_limit bytes plus the byte Redis allocates beyond it;
    // a few more keep every index in bounds without changing what is returned.
    out.resize(out_limit + 4, 0);
    let in_end = input.len();
    let mut ip = 0usize;
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    // Fewer than 3 bytes: the loop is skipped and everything is a literal.
    let mut hval = if in_end >= 2 { first(input, ip) } else { 0 };
    while in_end >= 3 && ip < in_end - 2 {
        hval = next(hval, input, ip);
        let hslot = slot(hval);
        let stored = table[hslot];
        table[hslot] = tag | (ip as u64 + 1);
        let reference = (stored >> 32 == tag >> 32).then(|| (stored & 0xffff_ffff) as usize - 1);
        let matched = reference.filter(|&r| {
            r < ip
                && ip - r - 1 < MAX_OFFSET
                && r > 0
                && input[r + 2] == input[ip + 2]
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1]
        });
        if let Some(r) = matched {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_end - ip - len).min(MAX_MATCH);
            if op + 3 + 1 >= out_limit && op - usize::from(lit == 0) + 3 + 1 >= out_limit {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= usize::from(lit == 0); // undo run if length is zero
            'scan: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'scan;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // len is now #octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip >= in_end - 2 {
                break;
            }
            // VERY_FAST: hash the last two positions of the match.
            ip -= 2;
            hval = first(input, ip);
            hval = next(hval, input, ip);
            table[slot(hval)] = tag | (ip as u64 + 1);
            ip += 1;
            hval = next(hval, input, ip);
            table[slot(hval)] = tag | (ip as u64 + 1);
            ip += 1;
        } else {
            if op >= out_limit {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LITERAL_RUN {
                out[op - lit - 1] = (lit - 1) as u8; // stop run
                lit = 0;
                op += 1; // start run
            }
        }
    }
    if op + 3 > out_limit {
        return None;
    }
    while ip < in_end {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LITERAL_RUN {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(op)
}

/// Decompresses `input` into `out` (cleared first), expecting `expected_len` bytes, as
/// `lzf_decompress` does; `None` on malformed input or a length mismatch. RESTORE reads
/// compressed strings of a DUMP payload with it.
pub(crate) fn decompress(input: &[u8], expected_len: usize, out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    out.reserve(expected_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < MAX_LITERAL_RUN {
            let run = ctrl + 1;
            let literal = input.get(ip..ip + run)?;
            if out.len() + run > expected_len {
                return None;
            }
            out.extend_from_slice(literal);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(ip)?);
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(ip)?) + 1;
            ip += 1;
            let len = len + 2;
            let start = out.len().checked_sub(back)?;
            if out.len() + len > expected_len {
                return None;
            }
            // Byte by byte: a reference may overlap what it produces.
            for i in 0..len {
                let byte = out[start + i];
                out.push(byte);
            }
        }
    }
    (out.len() == expected_len).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(input: &[u8]) -> Option<usize> {
        let mut out = Vec::new();
        let n = Compressor::default().compress(input, input.len().saturating_sub(4), &mut out)?;
        let mut back = Vec::new();
        decompress(&out, input.len(), &mut back).expect("decompresses");
        assert_eq!(back, input);
        Some(n)
    }

    #[test]
    fn repeated_bytes_compress_to_a_few_percent() {
        let n = roundtrip(&[b'x'; 1000]).expect("compressible");
        // A run of two literals, four back-references (264, 264, 264, 204 bytes) of 3
        // bytes each, and a run of the last two literals.
        assert_eq!(n, 3 + 3 * 4 + 3);
    }

    #[test]
    fn short_and_incompressible_inputs_are_refused() {
        assert_eq!(roundtrip(b""), None);
        assert_eq!(roundtrip(b"abcdefghijklmnopqrstuvwxyz"), None);
    }
}
