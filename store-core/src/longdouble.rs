//! INCRBYFLOAT's arithmetic: x86-64 Redis parses with `strtold`, adds in 80-bit long
//! double and prints with `%.17Lf` before trimming trailing zeros (ld2string's
//! LD_STR_HUMAN). This module reproduces that with `rustc_apfloat`'s software x87 type
//! and an exact big-integer decimal conversion. Invariant: results are bit-identical to
//! the x87 hardware's round-to-nearest-even, on every host.

use rustc_apfloat::ieee::X87DoubleExtended;
use rustc_apfloat::{Float, Round, Status};

/// Redis's MAX_LONG_DOUBLE_CHARS: longer inputs are rejected, as string2ld does.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// An 80-bit extended-precision value.
#[derive(Clone, Copy, Debug)]
pub struct LongDouble(X87DoubleExtended);

impl LongDouble {
    /// Redis's `string2ld`: the whole string must be a number (strtold syntax), no leading
    /// space, not NaN, not out of range.
    pub fn parse(bytes: &[u8]) -> Option<LongDouble> {
        if bytes.is_empty() || bytes.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        if text.as_bytes()[0].is_ascii_whitespace() {
            return None;
        }
        let negative = text.starts_with('-');
        let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
        let lower = unsigned.to_ascii_lowercase();
        if lower == "inf" || lower == "infinity" {
            let inf = X87DoubleExtended::INFINITY;
            return Some(LongDouble(if negative { -inf } else { inf }));
        }
        if let Some(hex) = lower.strip_prefix("0x") {
            // strtold reads hexadecimal too; integers are the form clients send.
            let magnitude = u128::from_str_radix(hex, 16).ok()?;
            if hex.starts_with(['+', '-']) {
                return None;
            }
            let value = X87DoubleExtended::from_u128(magnitude).value;
            return Some(LongDouble(if negative { -value } else { value }));
        }
        if unsigned.is_empty()
            || !unsigned
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            || !unsigned.bytes().any(|b| b.is_ascii_digit())
        {
            return None;
        }
        // strtold accepts "5." and ".5"; make both forms explicit for the parser.
        let mut normalized = String::with_capacity(unsigned.len() + 2);
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => (&unsigned[..at], &unsigned[at..]),
            None => (unsigned, ""),
        };
        if mantissa.is_empty() || mantissa == "." || mantissa.matches('.').count() > 1 {
            return None;
        }
        if exponent.len() == 1 {
            return None;
        }
        if mantissa.starts_with('.') {
            normalized.push('0');
        }
        normalized.push_str(mantissa);
        if mantissa.ends_with('.') {
            normalized.push('0');
        }
        normalized.push_str(exponent);
        let parsed = X87DoubleExtended::from_str_r(&normalized, Round::NearestTiesToEven).ok()?;
        let value = parsed.value;
        if parsed.status.intersects(Status::OVERFLOW) || value.is_infinite() {
            return None;
        }
        if value.is_zero() && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            return None;
        }
        if value.is_nan() {
            return None;
        }
        Some(LongDouble(if negative { -value } else { value }))
    }

    pub fn zero() -> LongDouble {
        LongDouble(X87DoubleExtended::ZERO)
    }

    pub fn plus(self, other: LongDouble) -> LongDouble {
        LongDouble(self.0.add_r(other.0, Round::NearestTiesToEven).value)
    }

    pub fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    /// `ld2string(.., LD_STR_HUMAN)`: `%.17Lf`, then trailing zeros and a bare dot
    /// removed; infinities spelled "inf"/"-inf".
    pub fn format_human(self) -> String {
        if self.0.is_infinite() {
            return if self.0.is_negative() {
                "-inf".into()
            } else {
                "inf".into()
            };
        }
        let mut text = self.format_fixed17();
        if text.contains('.') {
            while text.ends_with('0') {
                text.pop();
            }
            if text.ends_with('.') {
                text.pop();
            }
        }
        text
    }

    /// `%.17Lf` computed exactly: value = significand * 2^exponent, scaled by 10^17 and
    /// rounded half to even, as glibc does.
    fn format_fixed17(self) -> String {
        let bits = self.0.to_bits();
        let significand = bits as u64;
        let biased_exponent = ((bits >> 64) & 0x7fff) as i64;
        let negative = (bits >> 79) & 1 == 1;
        // Denormals use the minimum exponent; the explicit integer bit is in the significand.
        let exponent = biased_exponent.max(1) - 16383 - 63;
        let mut digits = BigUint::from_u64(significand);
        digits.mul_small(100_000_000_000_000_000);
        let rounded = if exponent >= 0 {
            digits.shl(exponent as u32);
            digits
        } else {
            digits.shr_round_half_even((-exponent) as u32)
        };
        let mut decimal = rounded.to_decimal();
        while decimal.len() < 18 {
            decimal.insert(0, '0');
        }
        let split = decimal.len() - 17;
        let mut out = String::with_capacity(decimal.len() + 2);
        if negative {
            out.push('-');
        }
        out.push_str(&decimal[..split]);
        out.push('.');
        out.push_str(&decimal[split..]);
        out
    }
}

/// A minimal little-endian big unsigned integer, enough for exact decimal printing.
struct BigUint {
    limbs: Vec<u32>,
}

impl BigUint {
    fn from_u64(value: u64) -> BigUint {
        BigUint {
            limbs: vec![value as u32, (value >> 32) as u32],
        }
    }

    fn mul_small(&mut self, factor: u64) {
        // Multiply by a factor below 2^64 as two 32-bit halves.
        let low = factor & 0xffff_ffff;
        let high = factor >> 32;
        let mut shifted = BigUint {
            limbs: self.limbs.clone(),
        };
        self.mul_u32(low as u32);
        shifted.mul_u32(high as u32);
        shifted.limbs.insert(0, 0);
        self.add(&shifted);
    }

    fn mul_u32(&mut self, factor: u32) {
        let mut carry = 0u64;
        for limb in &mut self.limbs {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry > 0 {
            self.limbs.push(carry as u32);
        }
    }

    fn add(&mut self, other: &BigUint) {
        if self.limbs.len() < other.limbs.len() {
            self.limbs.resize(other.limbs.len(), 0);
        }
        let mut carry = 0u64;
        for (i, limb) in self.limbs.iter_mut().enumerate() {
            let sum = u64::from(*limb) + u64::from(*other.limbs.get(i).unwrap_or(&0)) + carry;
            *limb = sum as u32;
            carry = sum >> 32;
        }
        if carry > 0 {
            self.limbs.push(carry as u32);
        }
    }

    fn shl(&mut self, bits: u32) {
        let words = (bits / 32) as usize;
        let rest = bits % 32;
        if rest > 0 {
            let mut carry = 0u32;
            for limb in &mut self.limbs {
                let next = *limb >> (32 - rest);
                *limb = (*limb << rest) | carry;
                carry = next;
            }
            if carry > 0 {
                self.limbs.push(carry);
            }
        }
        for _ in 0..words {
            self.limbs.insert(0, 0);
        }
    }

    fn bit(&self, index: u32) -> bool {
        let word = (index / 32) as usize;
        self.limbs
            .get(word)
            .is_some_and(|limb| (limb >> (index % 32)) & 1 == 1)
    }

    fn any_bit_below(&self, index: u32) -> bool {
        (0..index).any(|i| self.bit(i))
    }

    /// `self >> bits`, rounded to nearest with ties to even.
    fn shr_round_half_even(&self, bits: u32) -> BigUint {
        let total_bits = self.limbs.len() as u32 * 32;
        if bits > total_bits + 1 {
            return BigUint { limbs: vec![0] };
        }
        let half = bits.checked_sub(1).map(|i| self.bit(i)).unwrap_or(false);
        let sticky = bits >= 2 && self.any_bit_below(bits - 1);
        let mut out = BigUint {
            limbs: vec![0; self.limbs.len()],
        };
        for i in bits..total_bits {
            if self.bit(i) {
                let j = i - bits;
                out.limbs[(j / 32) as usize] |= 1 << (j % 32);
            }
        }
        let odd = out.bit(0);
        if half && (sticky || odd) {
            out.add(&BigUint { limbs: vec![1] });
        }
        out
    }

    fn to_decimal(&self) -> String {
        let mut limbs = self.limbs.clone();
        let mut chunks = Vec::new();
        while limbs.iter().any(|l| *l != 0) {
            let mut remainder = 0u64;
            for limb in limbs.iter_mut().rev() {
                let current = (remainder << 32) | u64::from(*limb);
                *limb = (current / 1_000_000_000) as u32;
                remainder = current % 1_000_000_000;
            }
            chunks.push(remainder as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        if chunks.is_empty() {
            return "0".into();
        }
        let mut out = chunks.last().map(|c| c.to_string()).unwrap_or_default();
        for chunk in chunks.iter().rev().skip(1) {
            out.push_str(&format!("{chunk:09}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).unwrap();
        let b = LongDouble::parse(b.as_bytes()).unwrap();
        a.plus(b).format_human()
    }

    #[test]
    fn matches_x87_redis() {
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("1", "0.2"), "1.2");
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("5.0e3", "2.0e2"), "5200");
        assert_eq!(incr("0", "-5"), "-5");
        assert_eq!(incr("3", "1.1"), "4.1");
        assert_eq!(incr("1", "1e-20"), "1");
    }

    #[test]
    fn rejects_what_string2ld_rejects() {
        for bad in ["", " 1", "1 ", "abc", "nan", "1e", "e5", ".", "1e99999"] {
            assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad}");
        }
        assert!(LongDouble::parse(b"inf").is_some());
        assert!(LongDouble::parse(b".5").is_some());
        assert!(LongDouble::parse(b"5.").is_some());
        assert_eq!(LongDouble::parse(b"0x10").unwrap().format_human(), "16");
    }
}
