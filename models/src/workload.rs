//! The memtier_benchmark-style workload: its scenario form ([`WorkloadSpec`], field names
//! and string syntaxes as memtier's command line, so users paste what they know), the
//! resolved form ([`WorkloadConfig`], every default filled with memtier's own), and the
//! per-connection request generator ([`WorkloadGen`]).
//!
//! Invariant: a [`WorkloadConfig`] only exists validated: the ratio has at least one
//! non-zero side, key_minimum <= key_maximum, sizes, pipeline, clients and threads are
//! positive, a weighted size list has a positive total weight and "P" is used for both
//! SET and GET or neither (memtier's rule). The generator relies on this and never loops
//! without producing an operation.
//!
//! Defaults (memtier_benchmark.cpp `config_init_defaults` and option parsing): ratio
//! 1:10, key_pattern R:R, key_minimum 0, key_maximum 10,000,000, key_prefix "memtier-",
//! data_size 32 (when no range or list is given), data_size_pattern R, pipeline 1,
//! clients 50, threads 4, requests 10,000 per connection unless test_time is given,
//! key_zipf_exp 1.0 when a Z pattern is used, no rate limiting, no expiry.

pub mod arrivals;
pub mod generator;
pub mod zipf;

pub use arrivals::ArrivalGen;
pub use generator::{format_key, Op, OpKind, RateBudget, WorkloadGen};

use crate::scenario::error::FieldError;
use crate::scenario::merge::Merge;
use serde::{Deserialize, Serialize};

/// memtier's defaults, named so tests and docs can refer to them.
pub mod defaults {
    pub const RATIO: &str = "1:10";
    pub const KEY_PATTERN: &str = "R:R";
    pub const KEY_MINIMUM: u64 = 0;
    pub const KEY_MAXIMUM: u64 = 10_000_000;
    pub const KEY_PREFIX: &str = "memtier-";
    pub const DATA_SIZE: u32 = 32;
    pub const PIPELINE: u32 = 1;
    pub const CLIENTS: u32 = 50;
    pub const THREADS: u32 = 4;
    pub const REQUESTS: u64 = 10_000;
    /// memtier: "default is 1" when a Z pattern is used without --key-zipf-exp.
    pub const KEY_ZIPF_EXP: f64 = 1.0;
    /// Open loop: requests a connection may hold waiting beyond its pipeline window.
    pub const OPEN_LOOP_QUEUE_DEPTH: u32 = 1_000;
}

/// The workload as written in a scenario. Every field is optional so a variant can patch
/// any of them; string fields take memtier's command-line syntax.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "workload")]
pub struct WorkloadSpec {
    /// `--ratio`, "SET:GET", e.g. "1:10".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
    /// `--key-pattern`, "SET:GET" with S, R, G, P or Z each, e.g. "R:R".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_minimum: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_maximum: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Gaussian (G) standard deviation; default key range / 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_stddev: Option<f64>,
    /// Gaussian (G) median; default the centre of the key range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_median: Option<f64>,
    /// Zipf (Z) exponent, in (0, 5); default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_zipf_exp: Option<f64>,
    /// `--data-size`, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_size: Option<u32>,
    /// `--data-size-range`, "min-max" bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_size_range: Option<String>,
    /// `--data-size-list`, "size1:weight1,size2:weight2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_size_list: Option<String>,
    /// `--data-size-pattern`, "R" (random in the range) or "S" (spread over the keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_size_pattern: Option<String>,
    /// `--random-data`: values of random bytes (in memtier's 64-byte blocks) instead of
    /// memtier's default, one byte ('x') repeated. Only their content changes, which
    /// matters where values are compressed: a snapshot (RDB) of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_data: Option<bool>,
    /// `--expiry-range`, "min-max" seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<u32>,
    /// Connections per thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// `--rate-limiting`: requests per second per connection, paced as memtier does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limiting: Option<u32>,
    /// `--test-time`, seconds each connection runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_time_s: Option<u64>,
    /// `--requests`, per connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Open-loop arrivals instead of memtier's closed loop (not a memtier option).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_loop: Option<OpenLoopSpec>,
}

/// Open-loop arrivals: requests arrive on a schedule whatever the replies do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "open_loop")]
pub struct OpenLoopSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ArrivalProcess>,
    /// Total offered requests per second across every connection of every client host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_rps: Option<u64>,
    /// Requests one connection may hold waiting for a pipeline slot; arrivals beyond it
    /// are dropped and counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "process")]
pub enum ArrivalProcess {
    /// Exponential gaps (memoryless arrivals).
    Poisson,
    /// Equal gaps.
    FixedRate,
}

impl Merge for OpenLoopSpec {
    fn merge(&mut self, patch: Self) {
        self.process.merge(patch.process);
        self.rate_rps.merge(patch.rate_rps);
        self.queue_depth.merge(patch.queue_depth);
    }
}

impl Merge for WorkloadSpec {
    fn merge(&mut self, p: Self) {
        self.ratio.merge(p.ratio);
        self.key_pattern.merge(p.key_pattern);
        self.key_minimum.merge(p.key_minimum);
        self.key_maximum.merge(p.key_maximum);
        self.key_prefix.merge(p.key_prefix);
        self.key_stddev.merge(p.key_stddev);
        self.key_median.merge(p.key_median);
        self.key_zipf_exp.merge(p.key_zipf_exp);
        // memtier's three size options exclude each other, so setting one in a patch
        // replaces whichever the base used.
        if p.data_size.is_some() || p.data_size_range.is_some() || p.data_size_list.is_some() {
            self.data_size = p.data_size;
            self.data_size_range = p.data_size_range;
            self.data_size_list = p.data_size_list;
        }
        self.data_size_pattern.merge(p.data_size_pattern);
        self.random_data.merge(p.random_data);
        self.expiry_range.merge(p.expiry_range);
        self.pipeline.merge(p.pipeline);
        self.clients.merge(p.clients);
        self.threads.merge(p.threads);
        self.rate_limiting.merge(p.rate_limiting);
        // Likewise test time and request count.
        if p.test_time_s.is_some() || p.requests.is_some() {
            self.test_time_s = p.test_time_s;
            self.requests = p.requests;
        }
        self.open_loop.merge(p.open_loop);
    }
}

/// SET:GET ratio: `set` SETs, then `get` GETs, repeated (memtier's sequencing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    pub set: u32,
    pub get: u32,
}

/// How one command's keys are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyDist {
    /// S: each connection walks key_minimum..=key_maximum in order, wrapping.
    Sequential,
    /// R: uniform over the key range.
    Random,
    /// G: Gaussian around key_median with key_stddev, redrawn until inside the range.
    Gaussian,
    /// P: sequential over this connection's share of the key range.
    Parallel,
    /// Z: Zipf over ranks; rank r is key index r (key_minimum 0 counts as 1).
    Zipf,
}

impl KeyDist {
    fn from_char(c: char) -> Option<KeyDist> {
        Some(match c {
            'S' => KeyDist::Sequential,
            'R' => KeyDist::Random,
            'G' => KeyDist::Gaussian,
            'P' => KeyDist::Parallel,
            'Z' => KeyDist::Zipf,
            _ => return None,
        })
    }

    pub fn letter(self) -> char {
        match self {
            KeyDist::Sequential => 'S',
            KeyDist::Random => 'R',
            KeyDist::Gaussian => 'G',
            KeyDist::Parallel => 'P',
            KeyDist::Zipf => 'Z',
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPattern {
    pub set: KeyDist,
    pub get: KeyDist,
}

/// Value sizes, as memtier's --data-size, --data-size-range or --data-size-list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataSize {
    Fixed(u32),
    /// Inclusive range; `spread_over_keys` is --data-size-pattern=S (size grows linearly
    /// with the key index) instead of R (uniform random).
    Range {
        min: u32,
        max: u32,
        spread_over_keys: bool,
    },
    /// (size, weight) pairs served round-robin: `weight` consecutive values of `size`,
    /// then the next entry (memtier's config_weight_list; deterministic, not random).
    Weighted(Vec<(u32, u32)>),
}

impl DataSize {
    pub fn max_bytes(&self) -> u32 {
        match self {
            DataSize::Fixed(s) => *s,
            DataSize::Range { max, .. } => *max,
            DataSize::Weighted(list) => list.iter().map(|(s, _)| *s).max().unwrap_or(0),
        }
    }

    /// The weighted mean size, rounded down (range: midpoint): the default prefill size.
    pub fn mean_bytes(&self) -> u32 {
        match self {
            DataSize::Fixed(s) => *s,
            DataSize::Range { min, max, .. } => ((u64::from(*min) + u64::from(*max)) / 2) as u32,
            DataSize::Weighted(list) => {
                let total: u64 = list.iter().map(|(_, w)| u64::from(*w)).sum();
                let sum: u64 = list
                    .iter()
                    .map(|(s, w)| u64::from(*s) * u64::from(*w))
                    .sum();
                sum.checked_div(total).unwrap_or(0) as u32
            }
        }
    }
}

/// memtier --rate-limiting, converted as memtier does: every `interval_ns` a connection
/// may send up to `requests_per_interval` requests; unused allowance is not carried over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub requests_per_second: u32,
    pub requests_per_interval: u32,
    pub interval_ns: u64,
}

impl RateLimit {
    /// memtier_benchmark.cpp: "event resolution is (at least) 50 events per second";
    /// per_interval = ceil(rate / 50), events = rate / per_interval (integer division),
    /// interval = 1,000,000 us / events (integer division). Requires rate > 0.
    pub fn from_rate(requests_per_second: u32) -> RateLimit {
        let rate = requests_per_second.max(1);
        let per_interval = rate.div_ceil(50);
        let events_per_second = rate / per_interval;
        let interval_us = 1_000_000 / u64::from(events_per_second);
        RateLimit {
            requests_per_second: rate,
            requests_per_interval: per_interval,
            interval_ns: interval_us * 1_000,
        }
    }
}

/// Resolved open-loop arrivals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLoop {
    pub process: ArrivalProcess,
    /// Total across every connection of every client host.
    pub rate_rps: u64,
    /// Per connection.
    pub queue_depth: u32,
}

/// The fully resolved workload of one client host: plain numbers, defaults filled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadConfig {
    pub ratio: Ratio,
    pub key_pattern: KeyPattern,
    pub key_minimum: u64,
    pub key_maximum: u64,
    pub key_prefix: String,
    /// Gaussian parameters as given; 0 means memtier's default (range / 6, centre).
    pub key_stddev: f64,
    pub key_median: f64,
    /// Zipf exponent in (0, 5) (1.0 when unset).
    pub key_zipf_exp: f64,
    pub data_size: DataSize,
    /// memtier's --random-data (left out of the serialized form when off).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub random_data: bool,
    /// Inclusive expiry range in seconds; `None` sets no TTL.
    pub expiry_range_s: Option<(u32, u32)>,
    pub pipeline: u32,
    /// Connections per thread.
    pub clients: u32,
    pub threads: u32,
    pub rate_limit: Option<RateLimit>,
    /// Each connection stops after this many requests (memtier --requests) ...
    pub requests_per_connection: Option<u64>,
    /// ... or after this long (memtier --test-time). Exactly one of the two is set.
    pub test_time_ns: Option<u64>,
    /// `None`: memtier's closed loop.
    pub open_loop: Option<OpenLoop>,
    /// The Zipf sampler, built on first use and shared by every generator made from
    /// this config (and its clones), so a thousand connections do not build a thousand
    /// alias tables. Not part of the configuration: skipped by serde and equality.
    #[serde(skip)]
    pub zipf_cache: ZipfCache,
}

/// Lazily built, shared Zipf sampler of a [`WorkloadConfig`].
#[derive(Clone, Debug, Default)]
pub struct ZipfCache(std::sync::Arc<std::sync::OnceLock<Option<std::sync::Arc<zipf::KeyZipf>>>>);

impl PartialEq for ZipfCache {
    /// A cache never makes two configurations differ.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl WorkloadConfig {
    /// What the values' bytes are, as memtier_benchmark writes them.
    pub fn value_fill(&self) -> store_core::SyntheticFill {
        if self.random_data {
            store_core::SyntheticFill::MemtierRandom
        } else {
            store_core::SyntheticFill::Repeat(b'x')
        }
    }

    /// Connections one client host opens: clients x threads, as memtier.
    pub fn connections_per_host(&self) -> u32 {
        self.clients.saturating_mul(self.threads)
    }

    /// Number of distinct keys in the range.
    pub fn key_count(&self) -> u64 {
        self.key_maximum - self.key_minimum + 1
    }

    /// The generator for connection `connection_index` (0-based) of a host with
    /// `connections_per_host` connections (memtier splits P ranges per process).
    pub fn generator(&self, connection_index: u32) -> WorkloadGen {
        WorkloadGen::new(self, connection_index, self.connections_per_host())
    }

    /// Generators for every connection of one host, in connection order. (Like
    /// [`WorkloadConfig::generator`], they share the config's one Zipf sampler.)
    pub fn generators(&self) -> Vec<WorkloadGen> {
        let zipf = self.zipf_sampler();
        let n = self.connections_per_host();
        (0..n)
            .map(|i| WorkloadGen::with_zipf(self, i, n, zipf.clone()))
            .collect()
    }

    /// The Zipf key sampler when a Z pattern is used (build once, share between
    /// connections).
    pub fn zipf_sampler(&self) -> Option<std::sync::Arc<zipf::KeyZipf>> {
        self.zipf_cache
            .0
            .get_or_init(|| {
                let uses =
                    self.key_pattern.set == KeyDist::Zipf || self.key_pattern.get == KeyDist::Zipf;
                uses.then(|| {
                    std::sync::Arc::new(zipf::KeyZipf::new(
                        self.key_minimum,
                        self.key_maximum,
                        self.key_zipf_exp,
                    ))
                })
            })
            .clone()
    }

    /// memtier's command-line form of this workload, for report headers.
    pub fn memtier_args(&self) -> String {
        let mut a = format!(
            "--ratio={}:{} --key-pattern={}:{} --key-minimum={} --key-maximum={} --key-prefix={}",
            self.ratio.set,
            self.ratio.get,
            self.key_pattern.set.letter(),
            self.key_pattern.get.letter(),
            self.key_minimum,
            self.key_maximum,
            self.key_prefix
        );
        match &self.data_size {
            DataSize::Fixed(s) => a.push_str(&format!(" --data-size={s}")),
            DataSize::Range {
                min,
                max,
                spread_over_keys,
            } => a.push_str(&format!(
                " --data-size-range={min}-{max} --data-size-pattern={}",
                if *spread_over_keys { 'S' } else { 'R' }
            )),
            DataSize::Weighted(l) => {
                let parts: Vec<String> = l.iter().map(|(s, w)| format!("{s}:{w}")).collect();
                a.push_str(&format!(" --data-size-list={}", parts.join(",")));
            }
        }
        if self.random_data {
            a.push_str(" --random-data");
        }
        if self.key_pattern.set == KeyDist::Zipf || self.key_pattern.get == KeyDist::Zipf {
            a.push_str(&format!(" --key-zipf-exp={}", self.key_zipf_exp));
        }
        if self.key_stddev > 0.0 {
            a.push_str(&format!(" --key-stddev={}", self.key_stddev));
        }
        if self.key_median > 0.0 {
            a.push_str(&format!(" --key-median={}", self.key_median));
        }
        if let Some((lo, hi)) = self.expiry_range_s {
            a.push_str(&format!(" --expiry-range={lo}-{hi}"));
        }
        a.push_str(&format!(
            " --pipeline={} --clients={} --threads={}",
            self.pipeline, self.clients, self.threads
        ));
        if let Some(r) = self.rate_limit {
            a.push_str(&format!(" --rate-limiting={}", r.requests_per_second));
        }
        if let Some(n) = self.requests_per_connection {
            a.push_str(&format!(" --requests={n}"));
        }
        if let Some(t) = self.test_time_ns {
            a.push_str(&format!(" --test-time={}", t / 1_000_000_000));
        }
        a
    }
}

fn err(path: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(path, message)
}

/// Parses "a:b" with non-negative integers (memtier's config_ratio).
pub fn parse_ratio(s: &str) -> Option<Ratio> {
    let (a, b) = s.split_once(':')?;
    Some(Ratio {
        set: a.trim().parse().ok()?,
        get: b.trim().parse().ok()?,
    })
}

/// Parses "X:Y" with X, Y in S, R, G, P, Z.
pub fn parse_key_pattern(s: &str) -> Option<KeyPattern> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != 3 || chars[1] != ':' {
        return None;
    }
    Some(KeyPattern {
        set: KeyDist::from_char(chars[0])?,
        get: KeyDist::from_char(chars[2])?,
    })
}

/// Parses "min-max" (memtier's config_range).
pub fn parse_range(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Parses "size:weight,size:weight" (memtier's config_weight_list).
pub fn parse_weight_list(s: &str) -> Option<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    for item in s.split(',') {
        let (size, weight) = item.split_once(':')?;
        out.push((size.trim().parse().ok()?, weight.trim().parse().ok()?));
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

impl WorkloadSpec {
    /// Fills memtier's defaults and checks every value; errors carry a field path
    /// relative to the workload (the caller prefixes where the workload sits).
    pub fn resolve(&self) -> Result<WorkloadConfig, FieldError> {
        let ratio_text = self.ratio.as_deref().unwrap_or(defaults::RATIO);
        let ratio = parse_ratio(ratio_text).ok_or_else(|| {
            err(
                "ratio",
                format!("expected \"SET:GET\" with non-negative integers, e.g. \"1:10\", got {ratio_text:?}"),
            )
        })?;
        if ratio.set == 0 && ratio.get == 0 {
            return Err(err(
                "ratio",
                "expected at least one non-zero side, got \"0:0\"",
            ));
        }
        let pattern_text = self.key_pattern.as_deref().unwrap_or(defaults::KEY_PATTERN);
        let key_pattern = parse_key_pattern(pattern_text).ok_or_else(|| {
            err(
                "key_pattern",
                format!("expected \"X:Y\" with X and Y each one of S, R, G, P, Z, e.g. \"R:R\", got {pattern_text:?}"),
            )
        })?;
        if (key_pattern.set == KeyDist::Parallel) != (key_pattern.get == KeyDist::Parallel) {
            return Err(err(
                "key_pattern",
                format!("expected P for both SET and GET or for neither (memtier's rule), got {pattern_text:?}"),
            ));
        }
        let key_minimum = self.key_minimum.unwrap_or(defaults::KEY_MINIMUM);
        let key_maximum = self.key_maximum.unwrap_or(defaults::KEY_MAXIMUM);
        if key_minimum > key_maximum {
            return Err(err(
                "key_minimum",
                format!("expected key_minimum <= key_maximum, got {key_minimum} > {key_maximum}"),
            ));
        }
        if key_maximum == u64::MAX {
            return Err(err("key_maximum", "expected a value below 2^64 - 1"));
        }
        let key_prefix = self
            .key_prefix
            .clone()
            .unwrap_or_else(|| defaults::KEY_PREFIX.to_string());
        let uses = |d: KeyDist| key_pattern.set == d || key_pattern.get == d;
        let key_stddev = self.key_stddev.unwrap_or(0.0);
        let key_median = self.key_median.unwrap_or(0.0);
        if self.key_stddev.is_some() || self.key_median.is_some() {
            if !uses(KeyDist::Gaussian) {
                return Err(err(
                    if self.key_stddev.is_some() {
                        "key_stddev"
                    } else {
                        "key_median"
                    },
                    "only allowed with a G key pattern (memtier's rule)",
                ));
            }
            if self.key_stddev.is_some() && !(key_stddev.is_finite() && key_stddev > 0.0) {
                return Err(err(
                    "key_stddev",
                    format!("expected a positive number, got {key_stddev}"),
                ));
            }
            if self.key_median.is_some()
                && !(key_median.is_finite()
                    && key_median > key_minimum as f64
                    && key_median < key_maximum as f64)
            {
                return Err(err(
                    "key_median",
                    format!("expected a value strictly between key_minimum ({key_minimum}) and key_maximum ({key_maximum}), got {key_median}"),
                ));
            }
        }
        let key_zipf_exp = match self.key_zipf_exp {
            Some(e) => {
                if !uses(KeyDist::Zipf) {
                    return Err(err("key_zipf_exp", "only allowed with a Z key pattern"));
                }
                if !(e.is_finite() && e > 0.0 && e < 5.0) {
                    return Err(err(
                        "key_zipf_exp",
                        format!("expected a number in (0, 5) (memtier's limit), got {e}"),
                    ));
                }
                e
            }
            None => defaults::KEY_ZIPF_EXP,
        };
        let data_size = self.resolve_data_size()?;
        let expiry_range_s = match &self.expiry_range {
            None => None,
            Some(text) => {
                let (lo, hi) = parse_range(text).ok_or_else(|| {
                    err(
                        "expiry_range",
                        format!("expected \"min-max\" seconds, e.g. \"10-100\", got {text:?}"),
                    )
                })?;
                if lo > hi || hi == 0 {
                    return Err(err(
                        "expiry_range",
                        format!("expected min <= max and max > 0, got {text:?}"),
                    ));
                }
                Some((lo, hi))
            }
        };
        let positive = |name: &str, v: Option<u32>, default: u32| -> Result<u32, FieldError> {
            match v {
                Some(0) => Err(err(name, "expected a positive integer, got 0")),
                Some(v) => Ok(v),
                None => Ok(default),
            }
        };
        let pipeline = positive("pipeline", self.pipeline, defaults::PIPELINE)?;
        let clients = positive("clients", self.clients, defaults::CLIENTS)?;
        let threads = positive("threads", self.threads, defaults::THREADS)?;
        if clients.checked_mul(threads).is_none_or(|c| c > 1_000_000) {
            return Err(err(
                "clients",
                "expected clients x threads of at most 1,000,000 connections",
            ));
        }
        let rate_limit = match self.rate_limiting {
            Some(0) => {
                return Err(err(
                    "rate_limiting",
                    "expected a positive rate (requests per second per connection), got 0",
                ))
            }
            Some(r) => Some(RateLimit::from_rate(r)),
            None => None,
        };
        let (requests_per_connection, test_time_ns) = match (self.requests, self.test_time_s) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "requests",
                    "requests and test_time_s exclude each other (as in memtier); set one",
                ))
            }
            (Some(0), None) => return Err(err("requests", "expected a positive count, got 0")),
            (None, Some(0)) => {
                return Err(err("test_time_s", "expected a positive duration, got 0"))
            }
            (Some(n), None) => (Some(n), None),
            (None, Some(t)) => {
                let ns = t
                    .checked_mul(1_000_000_000)
                    .ok_or_else(|| err("test_time_s", "too large"))?;
                (None, Some(ns))
            }
            (None, None) => (Some(defaults::REQUESTS), None),
        };
        let open_loop = match &self.open_loop {
            None => None,
            Some(o) => {
                let rate_rps = match o.rate_rps {
                    None => {
                        return Err(err(
                            "open_loop.rate_rps",
                            "required: the total offered requests per second",
                        ))
                    }
                    Some(0) => {
                        return Err(err("open_loop.rate_rps", "expected a positive rate, got 0"))
                    }
                    Some(r) if r > 1_000_000_000_000 => {
                        return Err(err(
                            "open_loop.rate_rps",
                            format!("expected at most 10^12, got {r}"),
                        ))
                    }
                    Some(r) => r,
                };
                let queue_depth = match o.queue_depth {
                    Some(0) => {
                        return Err(err(
                            "open_loop.queue_depth",
                            "expected a positive depth, got 0",
                        ))
                    }
                    Some(d) => d,
                    None => defaults::OPEN_LOOP_QUEUE_DEPTH,
                };
                if rate_limit.is_some() {
                    return Err(err(
                        "open_loop",
                        "open_loop and rate_limiting exclude each other: the arrival schedule sets the rate",
                    ));
                }
                Some(OpenLoop {
                    process: o.process.unwrap_or(ArrivalProcess::Poisson),
                    rate_rps,
                    queue_depth,
                })
            }
        };
        Ok(WorkloadConfig {
            zipf_cache: ZipfCache::default(),
            ratio,
            key_pattern,
            key_minimum,
            key_maximum,
            key_prefix,
            key_stddev,
            key_median,
            key_zipf_exp,
            data_size,
            random_data: self.random_data.unwrap_or(false),
            expiry_range_s,
            pipeline,
            clients,
            threads,
            rate_limit,
            requests_per_connection,
            test_time_ns,
            open_loop,
        })
    }

    fn resolve_data_size(&self) -> Result<DataSize, FieldError> {
        let given = [
            self.data_size.is_some(),
            self.data_size_range.is_some(),
            self.data_size_list.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(err(
                "data_size",
                "data_size, data_size_range and data_size_list exclude each other (as in memtier); set one",
            ));
        }
        let spread_over_keys = match self.data_size_pattern.as_deref() {
            None | Some("R") => false,
            Some("S") => true,
            Some(other) => {
                return Err(err(
                    "data_size_pattern",
                    format!("expected \"R\" or \"S\", got {other:?}"),
                ))
            }
        };
        if self.data_size_pattern.is_some() && self.data_size_range.is_none() {
            return Err(err(
                "data_size_pattern",
                "only used together with data_size_range",
            ));
        }
        const MAX_VALUE_BYTES: u32 = 512 * 1024 * 1024; // Redis proto-max-bulk-len default
        if let Some(s) = self.data_size {
            if s == 0 {
                return Err(err("data_size", "expected a positive size in bytes, got 0"));
            }
            if s > MAX_VALUE_BYTES {
                return Err(err(
                    "data_size",
                    format!("expected at most 512 MiB (Redis proto-max-bulk-len), got {s}"),
                ));
            }
            return Ok(DataSize::Fixed(s));
        }
        if let Some(text) = &self.data_size_range {
            let (min, max) = parse_range(text).ok_or_else(|| {
                err(
                    "data_size_range",
                    format!("expected \"min-max\" bytes, e.g. \"32-1024\", got {text:?}"),
                )
            })?;
            if min == 0 || min > max || max > MAX_VALUE_BYTES {
                return Err(err(
                    "data_size_range",
                    format!("expected 1 <= min <= max <= 512 MiB, got {text:?}"),
                ));
            }
            return Ok(DataSize::Range {
                min,
                max,
                spread_over_keys,
            });
        }
        if let Some(text) = &self.data_size_list {
            let list = parse_weight_list(text).ok_or_else(|| {
                err(
                    "data_size_list",
                    format!("expected \"size:weight,...\", e.g. \"32:10,1024:1\", got {text:?}"),
                )
            })?;
            if list.iter().any(|(s, _)| *s == 0 || *s > MAX_VALUE_BYTES) {
                return Err(err(
                    "data_size_list",
                    format!("expected every size in 1..=512 MiB, got {text:?}"),
                ));
            }
            if list.iter().all(|(_, w)| *w == 0) {
                return Err(err(
                    "data_size_list",
                    format!("expected a positive total weight, got {text:?}"),
                ));
            }
            return Ok(DataSize::Weighted(list));
        }
        Ok(DataSize::Fixed(defaults::DATA_SIZE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_equal_memtiers() {
        let w = WorkloadSpec::default().resolve().unwrap();
        assert_eq!(w.ratio, Ratio { set: 1, get: 10 });
        assert_eq!(
            w.key_pattern,
            KeyPattern {
                set: KeyDist::Random,
                get: KeyDist::Random
            }
        );
        assert_eq!((w.key_minimum, w.key_maximum), (0, 10_000_000));
        assert_eq!(w.key_prefix, "memtier-");
        assert_eq!(w.data_size, DataSize::Fixed(32));
        assert_eq!((w.pipeline, w.clients, w.threads), (1, 50, 4));
        assert_eq!(w.requests_per_connection, Some(10_000));
        assert_eq!(w.test_time_ns, None);
        assert_eq!(w.connections_per_host(), 200);
        assert_eq!(w.rate_limit, None);
        assert_eq!(w.open_loop, None);
    }

    #[test]
    fn rate_limit_matches_memtiers_arithmetic() {
        // 100 rps: 2 per interval, 50 events/s, 20 ms.
        let r = RateLimit::from_rate(100);
        assert_eq!((r.requests_per_interval, r.interval_ns), (2, 20_000_000));
        // 10 rps: 1 per interval, 10 events/s, 100 ms.
        let r = RateLimit::from_rate(10);
        assert_eq!((r.requests_per_interval, r.interval_ns), (1, 100_000_000));
        // 175 rps: ceil(175/50) = 4 per interval, 175/4 = 43 events/s, 1e6/43 = 23,255 us.
        let r = RateLimit::from_rate(175);
        assert_eq!((r.requests_per_interval, r.interval_ns), (4, 23_255_000));
    }

    #[test]
    fn parses_memtier_syntaxes() {
        assert_eq!(parse_ratio("1:10"), Some(Ratio { set: 1, get: 10 }));
        assert_eq!(parse_ratio("x:1"), None);
        assert_eq!(parse_key_pattern("S:Z").unwrap().get, KeyDist::Zipf);
        assert_eq!(parse_key_pattern("S:Q"), None);
        assert_eq!(parse_key_pattern("SS:R"), None);
        assert_eq!(parse_range("32-1024"), Some((32, 1024)));
        assert_eq!(
            parse_weight_list("32:10,1024:1"),
            Some(vec![(32, 10), (1024, 1)])
        );
        assert_eq!(parse_weight_list("32"), None);
    }

    #[test]
    fn rejects_invalid_values_with_paths() {
        let bad = |spec: WorkloadSpec, path: &str| {
            let e = spec.resolve().unwrap_err();
            assert_eq!(e.path, path, "{e:?}");
        };
        bad(
            WorkloadSpec {
                ratio: Some("0:0".into()),
                ..Default::default()
            },
            "ratio",
        );
        bad(
            WorkloadSpec {
                key_minimum: Some(10),
                key_maximum: Some(5),
                ..Default::default()
            },
            "key_minimum",
        );
        bad(
            WorkloadSpec {
                key_pattern: Some("P:R".into()),
                ..Default::default()
            },
            "key_pattern",
        );
        bad(
            WorkloadSpec {
                data_size: Some(0),
                ..Default::default()
            },
            "data_size",
        );
        bad(
            WorkloadSpec {
                data_size: Some(1),
                data_size_range: Some("1-2".into()),
                ..Default::default()
            },
            "data_size",
        );
        bad(
            WorkloadSpec {
                data_size_list: Some("10:0".into()),
                ..Default::default()
            },
            "data_size_list",
        );
        bad(
            WorkloadSpec {
                key_zipf_exp: Some(1.0),
                ..Default::default()
            },
            "key_zipf_exp",
        );
        bad(
            WorkloadSpec {
                key_pattern: Some("Z:Z".into()),
                key_zipf_exp: Some(5.0),
                ..Default::default()
            },
            "key_zipf_exp",
        );
        bad(
            WorkloadSpec {
                pipeline: Some(0),
                ..Default::default()
            },
            "pipeline",
        );
        bad(
            WorkloadSpec {
                rate_limiting: Some(0),
                ..Default::default()
            },
            "rate_limiting",
        );
        bad(
            WorkloadSpec {
                requests: Some(1),
                test_time_s: Some(1),
                ..Default::default()
            },
            "requests",
        );
        bad(
            WorkloadSpec {
                open_loop: Some(OpenLoopSpec {
                    rate_rps: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "open_loop.rate_rps",
        );
    }

    #[test]
    fn merge_replaces_exclusive_size_options() {
        let mut base = WorkloadSpec {
            data_size: Some(100),
            ..Default::default()
        };
        base.merge(WorkloadSpec {
            data_size_range: Some("1-10".into()),
            ..Default::default()
        });
        assert_eq!(base.data_size, None);
        assert!(base.resolve().is_ok());
    }

    #[test]
    fn memtier_args_round_trip_the_main_options() {
        let w = WorkloadSpec {
            key_pattern: Some("Z:Z".into()),
            key_zipf_exp: Some(0.821),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let a = w.memtier_args();
        assert!(a.contains("--key-pattern=Z:Z"));
        assert!(a.contains("--key-zipf-exp=0.821"));
        assert!(a.contains("--requests=10000"));
    }
}
