//! Figures in the units people read: memory in KiB, MiB or GiB (binary, as `INFO
//! memory`'s `used_memory_human` and the ElastiCache console show it), rates in Mbps or
//! Gbps (decimal, as instance types are sold), durations in s, ms or us. Every function is pure
//! and total: any `u64` or finite `f64` gives a string, so a report never fails on a
//! figure.

/// `bytes` with a binary unit: "512 B", "12.5 KiB", "110.6 MiB", "13.1 GiB".
pub fn bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    }
}

/// A rate in bits per second, decimal, in the largest unit that keeps it at 1 or more:
/// "750 kbps", "128 Mbps", "4.80 Gbps".
pub fn bits_per_s(bits_per_s: f64) -> String {
    let b = if bits_per_s.is_finite() {
        bits_per_s.max(0.0)
    } else {
        0.0
    };
    if b < 1e6 {
        format!("{:.0} kbps", b / 1e3)
    } else if b < 1e9 {
        format!("{:.0} Mbps", b / 1e6)
    } else {
        format!("{:.2} Gbps", b / 1e9)
    }
}

/// A duration in seconds, in the unit that keeps its digits: "459.6 s", "5.4 s",
/// "850 ms", "12 us".
pub fn seconds(s: f64) -> String {
    let s = if s.is_finite() { s.max(0.0) } else { 0.0 };
    if s >= 1.0 {
        format!("{s:.1} s")
    } else if s >= 1e-3 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{:.0} us", s * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_pick_the_unit_that_keeps_the_figure_readable() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(110 * 1024 * 1024 + 629_146), "110.6 MiB");
        assert_eq!(bytes(13 * 1024 * 1024 * 1024), "13.0 GiB");
        assert_eq!(bytes(u64::MAX), "17179869184.0 GiB");
    }

    #[test]
    fn rates_are_decimal_like_instance_types() {
        assert_eq!(bits_per_s(750_000.0), "750 kbps");
        assert_eq!(bits_per_s(128e6), "128 Mbps");
        assert_eq!(bits_per_s(5e9), "5.00 Gbps");
        assert_eq!(bits_per_s(f64::NAN), "0 kbps");
        assert_eq!(seconds(459.64), "459.6 s");
        assert_eq!(seconds(0.000_847), "847 us");
        assert_eq!(seconds(0.2), "200 ms");
        assert_eq!(seconds(f64::INFINITY), "0 us");
    }
}
