//! Statistics: HDR latency histograms, and per-second time series of counters and busy
//! time. Invariant: a series' bucket i covers simulated time [i s, (i + 1) s),
//! and busy time split across buckets sums to the busy time recorded; a histogram
//! serializes (as HdrHistogram's V2 encoding in base64, a form HdrHistogram tools read)
//! and reads back with the same counts, so every figure it gives is the same.

use crate::time::{SimDuration, SimTime, NS_PER_S};
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A latency histogram in nanoseconds, 3 significant figures, from 1 ns to 1 hour
/// (values beyond are clamped to the top and counted in `clamped`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "EncodedHistogram", try_from = "EncodedHistogram")]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    clamped: u64,
}

const HIST_MAX_NS: u64 = 3_600 * NS_PER_S;

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram {
            hist: Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid static bounds"),
            clamped: 0,
        }
    }

    pub fn record(&mut self, d: SimDuration) {
        self.record_n(d, 1);
    }

    /// Records `d` `count` times (the same as `count` calls of `record`).
    pub fn record_n(&mut self, d: SimDuration, count: u64) {
        let ns = d.as_ns().max(1);
        let v = if ns > HIST_MAX_NS {
            self.clamped += count;
            HIST_MAX_NS
        } else {
            ns
        };
        self.hist.record_n(v, count).expect("value within bounds");
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Values recorded above the histogram's top (one hour).
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    pub fn mean_ns(&self) -> f64 {
        self.hist.mean()
    }

    /// The value at `percentile` (0..=100), in ns; 0 when empty.
    pub fn percentile_ns(&self, percentile: f64) -> u64 {
        if self.hist.is_empty() {
            0
        } else {
            self.hist.value_at_percentile(percentile)
        }
    }

    pub fn max_ns(&self) -> u64 {
        self.hist.max()
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.hist.add(&other.hist).expect("same bounds");
        self.clamped += other.clamped;
    }

    pub fn inner(&self) -> &Histogram<u64> {
        &self.hist
    }
}

/// A [`LatencyHistogram`] as it is serialized.
#[derive(Serialize, Deserialize)]
struct EncodedHistogram {
    /// HdrHistogram's V2 encoding, in standard base64. Uncompressed: its bytes are a
    /// function of the counts alone, whereas a compressor's output may change with its
    /// version, and results are compared by digest.
    hdr: String,
    clamped: u64,
}

impl From<LatencyHistogram> for EncodedHistogram {
    fn from(h: LatencyHistogram) -> EncodedHistogram {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&h.hist, &mut bytes)
            .expect("a histogram encodes into memory");
        EncodedHistogram {
            hdr: base64::engine::general_purpose::STANDARD.encode(bytes),
            clamped: h.clamped,
        }
    }
}

impl TryFrom<EncodedHistogram> for LatencyHistogram {
    type Error = String;

    fn try_from(e: EncodedHistogram) -> Result<LatencyHistogram, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(e.hdr.as_bytes())
            .map_err(|err| format!("histogram: not base64: {err}"))?;
        let decoded: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|err| format!("histogram: not an HdrHistogram V2 encoding: {err:?}"))?;
        let mut h = LatencyHistogram::new();
        h.hist
            .add(&decoded)
            .map_err(|err| format!("histogram: outside 1 ns to 1 hour: {err:?}"))?;
        h.clamped = e.clamped;
        Ok(h)
    }
}

/// A per-second series of a counter: `add(now, v)` adds to the bucket of `now`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterSeries {
    per_s: Vec<u64>,
}

impl CounterSeries {
    #[inline]
    pub fn add(&mut self, now: SimTime, v: u64) {
        let i = now.whole_secs() as usize;
        match self.per_s.get_mut(i) {
            Some(count) => *count += v,
            None => self.grow_and_add(i, v),
        }
    }

    /// The first add of a second past the end: kept out of line so `add` inlines.
    #[inline(never)]
    fn grow_and_add(&mut self, i: usize, v: u64) {
        self.per_s.resize(i + 1, 0);
        self.per_s[i] += v;
    }

    /// The value of second `i` (0 past the end).
    pub fn get(&self, i: usize) -> u64 {
        self.per_s.get(i).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.per_s.len()
    }

    pub fn is_empty(&self) -> bool {
        self.per_s.is_empty()
    }

    pub fn values(&self) -> &[u64] {
        &self.per_s
    }

    pub fn total(&self) -> u64 {
        self.per_s.iter().sum()
    }
}

/// `N` per-second counter series of one owner, stored second by second: an owner that
/// adds to several of them at once (a message's bytes and its count) touches one place
/// in memory, where `N` [`CounterSeries`] are `N` buffers, each a cache miss when the
/// owner is one of thousands. Column c reads as a [`CounterSeries`] given the same adds
/// would: up to the last second added to, an add of 0 included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterColumns<const N: usize> {
    per_s: Vec<[u64; N]>,
    /// Each column's length as a series.
    lens: [usize; N],
}

impl<const N: usize> Default for CounterColumns<N> {
    fn default() -> Self {
        CounterColumns {
            per_s: Vec::new(),
            lens: [0; N],
        }
    }
}

impl<const N: usize> CounterColumns<N> {
    #[inline]
    pub fn add(&mut self, now: SimTime, column: usize, v: u64) {
        let i = now.whole_secs() as usize;
        if i >= self.per_s.len() {
            self.grow(i);
        }
        self.per_s[i][column] += v;
        if self.lens[column] <= i {
            self.lens[column] = i + 1;
        }
    }

    /// The first add of a second past the end: kept out of line so `add` inlines.
    #[inline(never)]
    fn grow(&mut self, i: usize) {
        self.per_s.resize(i + 1, [0; N]);
    }

    /// Column `column` as a series.
    pub fn values(&self, column: usize) -> Vec<u64> {
        self.per_s[..self.lens[column]]
            .iter()
            .map(|s| s[column])
            .collect()
    }
}

/// Busy nanoseconds per second of a resource (a CPU thread, a NIC direction): the basis
/// of utilization findings. Intervals may be recorded ahead of time (a transfer whose end
/// is already known); they are split exactly at second boundaries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BusySeries {
    busy_ns_per_s: Vec<u64>,
    total_ns: u64,
}

impl BusySeries {
    /// Adds the busy interval [start, end) (nothing if empty).
    #[inline]
    pub fn add(&mut self, start: SimTime, end: SimTime) {
        let (start_ns, end_ns) = (start.as_ns(), end.as_ns());
        if end_ns <= start_ns {
            return;
        }
        // Nearly every interval (a NIC chunk, a CPU job) lies inside one second whose
        // bucket exists already: add it without the splitting loop, which stays out of
        // line so that this path inlines into its hot callers.
        let i = (start_ns / NS_PER_S) as usize;
        if end_ns <= (i as u64 + 1) * NS_PER_S {
            if let Some(bucket) = self.busy_ns_per_s.get_mut(i) {
                *bucket += end_ns - start_ns;
                self.total_ns += end_ns - start_ns;
                return;
            }
        }
        self.add_split(start_ns, end_ns);
    }

    /// Adds [start_ns, end_ns) (not empty), split at second boundaries.
    #[inline(never)]
    fn add_split(&mut self, start_ns: u64, end_ns: u64) {
        self.total_ns += end_ns - start_ns;
        let mut t = start_ns;
        let end = end_ns;
        while t < end {
            let i = (t / NS_PER_S) as usize;
            let boundary = (i as u64 + 1) * NS_PER_S;
            let upto = boundary.min(end);
            if self.busy_ns_per_s.len() <= i {
                self.busy_ns_per_s.resize(i + 1, 0);
            }
            self.busy_ns_per_s[i] += upto - t;
            t = upto;
        }
    }

    /// Adds `num / den` of the interval [start, end) (a share of a resource held over
    /// it), split at second boundaries, each second's part rounded down: the shares of
    /// one interval whose numerators sum to `den` never sum to more than the interval.
    pub fn add_share(&mut self, start: SimTime, end: SimTime, num: u64, den: u64) {
        debug_assert!(den > 0 && num <= den);
        let (mut t, end_ns) = (start.as_ns(), end.as_ns());
        while t < end_ns {
            let i = (t / NS_PER_S) as usize;
            let upto = ((i as u64 + 1) * NS_PER_S).min(end_ns);
            let share = ((upto - t) as u128 * num as u128 / den as u128) as u64;
            if self.busy_ns_per_s.len() <= i {
                self.busy_ns_per_s.resize(i + 1, 0);
            }
            self.busy_ns_per_s[i] += share;
            self.total_ns += share;
            t = upto;
        }
    }

    /// Busy ns of every second recorded so far.
    pub fn busy_ns_per_s(&self) -> &[u64] {
        &self.busy_ns_per_s
    }

    /// Busy ns in second `i`.
    pub fn busy_ns(&self, i: usize) -> u64 {
        self.busy_ns_per_s.get(i).copied().unwrap_or(0)
    }

    /// Utilization of second `i`, in [0, 1].
    pub fn utilization(&self, i: usize) -> f64 {
        self.busy_ns(i) as f64 / NS_PER_S as f64
    }

    pub fn total_ns(&self) -> u64 {
        self.total_ns
    }

    pub fn len(&self) -> usize {
        self.busy_ns_per_s.len()
    }

    pub fn is_empty(&self) -> bool {
        self.busy_ns_per_s.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each column reads as a series given the same adds, lengths included (an add of
    /// 0 past the end extends it).
    #[test]
    fn counter_columns_read_as_series() {
        let mut columns = CounterColumns::<3>::default();
        let mut series: [CounterSeries; 3] = Default::default();
        let adds = [
            (0, 0, 5),
            (1_500_000_000, 1, 7),
            (1_600_000_000, 0, 1),
            (4_000_000_000, 2, 0),
            (4_100_000_000, 1, 3),
            (9_000_000_000, 1, 2),
        ];
        for (ns, c, v) in adds {
            columns.add(SimTime::from_ns(ns), c, v);
            series[c].add(SimTime::from_ns(ns), v);
        }
        for (c, s) in series.iter().enumerate() {
            assert_eq!(columns.values(c), s.values(), "column {c}");
        }
        assert_eq!(columns.values(1).len(), 10);
        assert_eq!(CounterColumns::<2>::default().values(1), Vec::<u64>::new());
    }

    #[test]
    fn a_histogram_reads_back_with_every_figure_the_same() {
        let mut h = LatencyHistogram::new();
        for ns in [1, 7, 999, 1_000, 123_456, 9_999_999, 2 * HIST_MAX_NS] {
            h.record_n(SimDuration::from_ns(ns), ns % 5 + 1);
        }
        let json = serde_json::to_string(&h).expect("a histogram serializes");
        let back: LatencyHistogram = serde_json::from_str(&json).expect("and reads back");
        assert_eq!(back, h);
        assert_eq!(back.clamped(), 1);
        for p in [0.0, 50.0, 99.0, 99.9, 100.0] {
            assert_eq!(back.percentile_ns(p), h.percentile_ns(p));
        }
        assert_eq!(back.mean_ns(), h.mean_ns());
        assert_eq!(back.max_ns(), h.max_ns());
        assert!(
            json.contains("\"hdr\":\"HIST"),
            "HdrHistogram's own encoding: {json}"
        );
    }

    #[test]
    fn a_damaged_histogram_is_refused_not_misread() {
        for bad in [
            r#"{"hdr":"not base64!","clamped":0}"#,
            r#"{"hdr":"AAAA","clamped":0}"#,
        ] {
            let err = serde_json::from_str::<LatencyHistogram>(bad).expect_err(bad);
            assert!(err.to_string().contains("histogram"), "{err}");
        }
    }

    #[test]
    fn busy_time_splits_at_second_boundaries() {
        let mut b = BusySeries::default();
        b.add(
            SimTime::from_ns(900_000_000),
            SimTime::from_ns(2_100_000_000),
        );
        assert_eq!(b.busy_ns(0), 100_000_000);
        assert_eq!(b.busy_ns(1), 1_000_000_000);
        assert_eq!(b.busy_ns(2), 100_000_000);
        assert_eq!(b.total_ns(), 1_200_000_000);
        assert_eq!(b.utilization(1), 1.0);
    }

    #[test]
    fn histogram_percentiles() {
        let mut h = LatencyHistogram::new();
        for us in 1..=100 {
            h.record(SimDuration::from_us(us));
        }
        assert_eq!(h.count(), 100);
        let p50 = h.percentile_ns(50.0);
        assert!((49_900..=50_100).contains(&p50), "{p50}");
        assert!(h.percentile_ns(99.0) >= 98_900);
    }
}
