//! Simulated time: integer nanoseconds, never floating point. `SimTime` is an instant
//! since the start of a run, `SimDuration` a span. Arithmetic is checked (overflow is a
//! broken invariant and panics with both operands); conversions between rates, byte
//! counts and durations are exact integer math whose rounding is stated on each function.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

pub const NS_PER_US: u64 = 1_000;
pub const NS_PER_MS: u64 = 1_000_000;
pub const NS_PER_S: u64 = 1_000_000_000;

/// An instant of simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_ns(ns: u64) -> SimTime {
        SimTime(ns)
    }
    pub const fn from_us(us: u64) -> SimTime {
        SimTime(us * NS_PER_US)
    }
    pub const fn from_ms(ms: u64) -> SimTime {
        SimTime(ms * NS_PER_MS)
    }
    pub const fn from_secs(s: u64) -> SimTime {
        SimTime(s * NS_PER_S)
    }
    pub const fn as_ns(self) -> u64 {
        self.0
    }
    /// Whole seconds since the start (floor): the index of this instant's per-second bucket.
    pub const fn whole_secs(self) -> u64 {
        self.0 / NS_PER_S
    }
    /// The span from `earlier` to `self`; panics if `earlier` is later (a broken invariant).
    #[inline]
    pub fn since(self, earlier: SimTime) -> SimDuration {
        match self.0.checked_sub(earlier.0) {
            Some(d) => SimDuration(d),
            None => went_backwards(self, earlier),
        }
    }
    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    pub fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        self.0.checked_add(d.0).map(SimTime)
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_ns(ns: u64) -> SimDuration {
        SimDuration(ns)
    }
    pub const fn from_us(us: u64) -> SimDuration {
        SimDuration(us * NS_PER_US)
    }
    pub const fn from_ms(ms: u64) -> SimDuration {
        SimDuration(ms * NS_PER_MS)
    }
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * NS_PER_S)
    }
    pub const fn as_ns(self) -> u64 {
        self.0
    }
    /// Seconds as a float, for reports only; never feed it back into time.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    pub fn checked_add(self, d: SimDuration) -> Option<SimDuration> {
        self.0.checked_add(d.0).map(SimDuration)
    }
    pub fn checked_mul(self, k: u64) -> Option<SimDuration> {
        self.0.checked_mul(k).map(SimDuration)
    }
    pub fn saturating_sub(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(d.0))
    }

    /// The time to move `bits` at `bits_per_s`, rounded up to the next nanosecond so that
    /// a transfer never finishes before the rate allows. Panics on a zero rate.
    #[inline]
    pub fn for_bits_at(bits: u64, bits_per_s: u64) -> SimDuration {
        assert!(
            bits_per_s > 0,
            "a rate of 0 bits/s never finishes a transfer"
        );
        SimDuration(div_ceil_u128(
            bits as u128 * NS_PER_S as u128,
            bits_per_s as u128,
        ))
    }

    /// The time to move `bytes` at `bits_per_s`, rounded up (see [`Self::for_bits_at`]).
    #[inline]
    pub fn for_bytes_at(bytes: u64, bits_per_s: u64) -> SimDuration {
        Self::for_bits_at(
            bytes.checked_mul(8).expect("byte count overflows bits"),
            bits_per_s,
        )
    }

    /// The time for `count` events at `per_s` events per second, rounded up.
    #[inline]
    pub fn for_count_at(count: u64, per_s: u64) -> SimDuration {
        Self::for_bits_at(count, per_s)
    }

    /// Whole bits moved in this span at `bits_per_s`, rounded down (never more than the
    /// rate allows).
    pub fn bits_at(self, bits_per_s: u64) -> u64 {
        let bits = self.0 as u128 * bits_per_s as u128 / NS_PER_S as u128;
        u64::try_from(bits).unwrap_or(u64::MAX)
    }
}

/// `num / den` rounded up, as u64; panics when the quotient does not fit (a duration
/// overflow). Divides in u64 when both operands fit, as they do for any chunk or job the
/// simulator sees: the same quotient without a 128-bit division's call and remainder.
#[inline]
pub(crate) fn div_ceil_u128(num: u128, den: u128) -> u64 {
    if let (Ok(n), Ok(d)) = (u64::try_from(num), u64::try_from(den)) {
        return n.div_ceil(d);
    }
    match u64::try_from(num.div_ceil(den)) {
        Ok(q) => q,
        Err(_) => quotient_overflowed(num, den),
    }
}

// The panics of the inlined arithmetic above, kept out of line so the hot paths that
// inline it carry no formatting code.

#[cold]
#[inline(never)]
fn quotient_overflowed(num: u128, den: u128) -> ! {
    panic!("duration overflow: {num} / {den} ns")
}

#[cold]
#[inline(never)]
fn went_backwards(later: SimTime, earlier: SimTime) -> ! {
    panic!("time went backwards: {later} is before {earlier}")
}

#[cold]
#[inline(never)]
fn overflowed(what: &str, a: impl fmt::Display, b: SimDuration) -> ! {
    panic!("{what} overflow: {a} + {b}")
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        match self.0.checked_add(d.0) {
            Some(t) => SimTime(t),
            None => overflowed("time", self, d),
        }
    }
}

impl AddAssign<SimDuration> for SimTime {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    #[inline]
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.since(earlier)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn add(self, d: SimDuration) -> SimDuration {
        match self.0.checked_add(d.0) {
            Some(t) => SimDuration(t),
            None => overflowed("duration", self, d),
        }
    }
}

impl AddAssign for SimDuration {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

/// Formats nanoseconds with the largest unit that keeps an integer part, three decimals
/// at most, trailing zeros trimmed: `0ns`, `750ns`, `12.5us`, `1.25ms`, `3s`.
fn fmt_ns(ns: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (unit, scale) = if ns >= NS_PER_S {
        ("s", NS_PER_S)
    } else if ns >= NS_PER_MS {
        ("ms", NS_PER_MS)
    } else if ns >= NS_PER_US {
        ("us", NS_PER_US)
    } else {
        return write!(f, "{ns}ns");
    };
    let whole = ns / scale;
    // Three decimals of the unit, rounded down so a printed time is never later than real.
    let milli = (ns % scale) * 1000 / scale;
    if milli == 0 {
        write!(f, "{whole}{unit}")
    } else {
        let frac = format!("{milli:03}");
        write!(f, "{whole}.{}{unit}", frac.trim_end_matches('0'))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t=")?;
        fmt_ns(self.0, f)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_ns(self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_formatting() {
        assert_eq!(SimDuration::from_ns(0).to_string(), "0ns");
        assert_eq!(SimDuration::from_ns(750).to_string(), "750ns");
        assert_eq!(SimDuration::from_ns(12_500).to_string(), "12.5us");
        assert_eq!(SimDuration::from_us(1_250).to_string(), "1.25ms");
        assert_eq!(SimDuration::from_secs(3).to_string(), "3s");
        assert_eq!(SimTime::from_ns(1_000_999_999).to_string(), "t=1s");
    }

    #[test]
    fn rate_conversions_round_in_the_stated_direction() {
        // 25,000 bytes at 0.75 Gbps = 266,666.67 ns, rounded up.
        assert_eq!(
            SimDuration::for_bytes_at(25_000, 750_000_000).as_ns(),
            266_667
        );
        // Exact case: 1,250 bytes at 10 Gbps = 1,000 ns.
        assert_eq!(
            SimDuration::for_bytes_at(1_250, 10_000_000_000).as_ns(),
            1_000
        );
        // The inverse rounds down: 266,667 ns at 0.75 Gbps carry 200,000 bits (floor).
        assert_eq!(SimDuration::from_ns(266_667).bits_at(750_000_000), 200_000);
        assert_eq!(SimDuration::from_ns(266_666).bits_at(750_000_000), 199_999);
    }

    #[test]
    fn narrow_and_wide_division_agree() {
        let big = u64::MAX as u128;
        let cases = [
            (0, 1),
            (1, 1),
            (7, 2),
            (big, 3),
            (big + 1, 2),
            (big * 5, big),
        ];
        for (num, den) in cases {
            let wide = u64::try_from(num.div_ceil(den)).unwrap();
            assert_eq!(div_ceil_u128(num, den), wide, "{num} / {den}");
        }
    }

    #[test]
    #[should_panic(expected = "time went backwards")]
    fn since_panics_when_reversed() {
        let _ = SimTime::from_ns(5).since(SimTime::from_ns(6));
    }

    #[test]
    #[should_panic(expected = "time overflow")]
    fn overflow_panics_with_operands() {
        let _ = SimTime::MAX + SimDuration::from_ns(1);
    }
}
