//! Number parsing and formatting exactly as Redis 7.0's util.c does it (string2ll,
//! string2l, strtod-based float parsing, d2string and `%.17g`), so replies and error
//! choices match byte for byte. Invariant: every function here is total: malformed input
//! yields `None`, never a panic.

/// Redis's `string2ll`: optional '-', no '+', no leading zeros, no spaces, no overflow.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes[0] {
        b'-' => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    let first = *digits.first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        if magnitude > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((magnitude as i64).wrapping_neg())
        }
    } else if magnitude > i64::MAX as u64 {
        None
    } else {
        Some(magnitude as i64)
    }
}

/// Formats an integer in decimal into a fresh vector (Redis's `ll2string`).
pub fn format_i64(value: i64) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// Redis's `getDoubleFromObject` (strtod with its rejections): no leading space, the
/// whole string consumed, no NaN, and an out-of-range literal (overflow to infinity or
/// underflow to zero) rejected while the literals "inf"/"infinity" are accepted.
pub fn parse_f64(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty() || text.as_bytes()[0].is_ascii_whitespace() {
        return None;
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower = unsigned.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if text.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower.starts_with("nan") || lower.starts_with("inf") {
        return None;
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        // strtod accepts hexadecimal integers (and hex floats, which are rare enough to
        // reject); keep the common integer form.
        let magnitude = u64::from_str_radix(hex, 16).ok()? as f64;
        return Some(if text.starts_with('-') {
            -magnitude
        } else {
            magnitude
        });
    }
    // Rust accepts a few spellings strtod would not and vice versa; the bytes we let
    // through are digits, one dot, an exponent and signs.
    if !unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    if value.is_infinite() {
        return None; // ERANGE overflow
    }
    if value == 0.0 && mantissa_has_nonzero_digit(unsigned) {
        return None; // ERANGE underflow
    }
    Some(value)
}

fn mantissa_has_nonzero_digit(text: &str) -> bool {
    text.bytes()
        .take_while(|b| *b != b'e' && *b != b'E')
        .any(|b| (b'1'..=b'9').contains(&b))
}

/// Plain `strtod` as zslParseRange uses it: leading whitespace skipped, the rest must be
/// consumed, out-of-range values saturate to infinity or zero, NaN is refused, and the
/// empty string reads as 0 (strtod consumes nothing and stops at the terminator).
pub fn parse_strtod(bytes: &[u8]) -> Option<f64> {
    if bytes.is_empty() {
        return Some(0.0);
    }
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = std::str::from_utf8(&bytes[start..]).ok()?;
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower = unsigned.to_ascii_lowercase();
    let negative = text.starts_with('-');
    if lower == "inf" || lower == "infinity" {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        let magnitude = u64::from_str_radix(hex, 16).ok()? as f64;
        return Some(if negative { -magnitude } else { magnitude });
    }
    if unsigned.is_empty()
        || !unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    (!value.is_nan()).then_some(value)
}

/// `%.17g` of a finite double, as glibc prints it.
pub fn format_g17(value: f64) -> String {
    format_g(value, 17)
}

/// `%.{precision}g` of a double, as glibc prints it (inf/nan spelled as glibc does).
pub fn format_g(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let precision = precision.max(1);
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = trim_fraction_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        let fixed = format!("{:.*}", decimals, value);
        trim_fraction_zeros(&fixed).to_string()
    }
}

fn trim_fraction_zeros(text: &str) -> &str {
    if !text.contains('.') {
        return text;
    }
    let trimmed = text.trim_end_matches('0');
    trimmed.strip_suffix('.').unwrap_or(trimmed)
}

/// Redis's `d2string`: integers within 2^52 print without a fraction, others `%.17g`.
pub fn d2string(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    const MAX_EXACT: f64 = (1u64 << 52) as f64;
    if value.fract() == 0.0 && value.abs() < MAX_EXACT {
        return (value as i64).to_string();
    }
    format_g17(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_i64_follows_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"007"), None);
        assert_eq!(parse_i64(b"+7"), None);
        assert_eq!(parse_i64(b" 7"), None);
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b""), None);
    }

    #[test]
    fn g17_matches_printf() {
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(3.0), "3");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(1.25e-5), "1.2500000000000001e-05");
        assert_eq!(format_g17(123456789.0), "123456789");
        assert_eq!(d2string(0.1), "0.10000000000000001");
        assert_eq!(d2string(-3.0), "-3");
    }

    #[test]
    fn parse_f64_follows_strtod_rejections() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1 "), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b".5"), Some(0.5));
    }
}
