//! The instance catalog: vCPU, memory, network baseline and burst, burst credit capacity,
//! the NIC's line rate and CPU credits of every cloud instance type a scenario may name,
//! each figure with the source it comes from.
//!
//! The shipped catalog is `models/catalog.ron`, embedded at compile time so the binary
//! needs no data files. Invariant: every entry of a parsed [`Catalog`] has passed
//! [`InstanceSpec::validate`] (non-zero vCPU, memory and baseline; a burst rate above the
//! baseline always comes with a credit capacity; a line rate at least the peak rate), so
//! models may divide by these numbers.
//! Entries keep the file's order (an `IndexMap`), which makes listings and the digest
//! stable.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The catalog text shipped with kvsim.
pub const CATALOG_RON: &str = include_str!("../catalog.ron");

/// Seconds of baseline traffic that fill a burstable instance's network credit bucket:
/// capacity_bits = baseline_bits_per_s x this. Derived in `catalog.ron`'s header from
/// the c5.xlarge / c5.2xlarge throttling measurement (docs/REFERENCES.md section 1).
pub const NET_CREDIT_CAPACITY_S_OF_BASELINE: u64 = 5_672;

/// One instance type as the catalog describes it. All bandwidths are per direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    pub vcpu: u32,
    pub memory_bytes: u64,
    /// Sustained rate each direction may keep up forever.
    pub baseline_bits_per_s: u64,
    /// Rate allowed while credits last ("up to X"); `None` when the type does not burst.
    pub burst_bits_per_s: Option<u64>,
    /// Size of the network credit bucket; `None` when the type does not burst.
    pub net_credit_capacity_bits: Option<u64>,
    /// The NIC's own rate each direction, at least the peak (burst, else baseline) rate.
    /// It never slows traffic: the allowance counters count a packet only when the
    /// allowance holds it back where a wire this fast would have sent it.
    pub line_rate_bits_per_s: u64,
    /// Burstable CPU (T types); `None` for fixed-performance types.
    #[serde(default)]
    pub cpu_credits: Option<CpuCreditSpec>,
    /// Packets per second allowance (in + out), where known. AWS publishes none.
    #[serde(default)]
    pub pps_limit_per_s: Option<u64>,
    /// Bytes the shaper queues before it drops, where known; `None` leaves it to the
    /// network model's default.
    #[serde(default)]
    pub queue_limit_bytes: Option<u64>,
    pub source: InstanceSources,
}

/// Burstable CPU credits: 1 credit = 1 vCPU at 100% for 1 minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuCreditSpec {
    pub earn_per_hour: u32,
    pub max_credits: u32,
    /// Baseline utilization per vCPU in permille (200 = 20%).
    pub baseline_permille_per_vcpu: u32,
}

/// Where each figure of an entry comes from (a source named in docs/REFERENCES.md, or
/// "derived: ...").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSources {
    pub vcpu: String,
    pub memory: String,
    pub network: String,
    pub line_rate: String,
    #[serde(default)]
    pub net_credits: Option<String>,
    #[serde(default)]
    pub cpu_credits: Option<String>,
}

impl InstanceSpec {
    /// Checks the invariant the models rely on; the error says which field is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.vcpu == 0 {
            return Err("vcpu: expected at least 1, got 0".into());
        }
        if self.memory_bytes == 0 {
            return Err("memory_bytes: expected a positive size, got 0".into());
        }
        if self.baseline_bits_per_s == 0 {
            return Err("baseline_bits_per_s: expected a positive rate, got 0".into());
        }
        if let Some(burst) = self.burst_bits_per_s {
            if burst < self.baseline_bits_per_s {
                return Err(format!(
                    "burst_bits_per_s: expected at least baseline_bits_per_s ({}), got {burst}",
                    self.baseline_bits_per_s
                ));
            }
            if burst > self.baseline_bits_per_s && self.net_credit_capacity_bits.is_none() {
                return Err(
                    "net_credit_capacity_bits: a type that bursts above its baseline needs a credit capacity"
                        .into(),
                );
            }
        }
        if self.line_rate_bits_per_s < self.peak_bits_per_s() {
            return Err(format!(
                "line_rate_bits_per_s: expected at least the peak rate ({}, the burst or else the baseline), got {}",
                self.peak_bits_per_s(),
                self.line_rate_bits_per_s
            ));
        }
        if self.pps_limit_per_s == Some(0) {
            return Err("pps_limit_per_s: expected a positive rate, got 0".into());
        }
        if let Some(c) = self.cpu_credits {
            if c.baseline_permille_per_vcpu == 0 || c.baseline_permille_per_vcpu > 1000 {
                return Err(format!(
                    "cpu_credits.baseline_permille_per_vcpu: expected 1..=1000, got {}",
                    c.baseline_permille_per_vcpu
                ));
            }
        }
        Ok(())
    }

    /// Whether the network may run above baseline while credits last.
    pub fn is_net_burstable(&self) -> bool {
        matches!(self.burst_bits_per_s, Some(b) if b > self.baseline_bits_per_s)
    }

    /// The rate the NIC may send at while credits last (the baseline when not burstable).
    pub fn peak_bits_per_s(&self) -> u64 {
        self.burst_bits_per_s
            .unwrap_or(self.baseline_bits_per_s)
            .max(self.baseline_bits_per_s)
    }
}

/// A named instance: what a resolved scenario hands the world builder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub name: String,
    pub spec: InstanceSpec,
}

/// How a price is paid: on demand by the hour, or a 3-year reservation (its total
/// spread over the hours of the term).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", rename = "price_basis")]
pub enum PriceBasis {
    OnDemand,
    #[serde(rename = "reserved_3yr")]
    Reserved3yr,
}

impl PriceBasis {
    pub fn describe(self) -> &'static str {
        match self {
            PriceBasis::OnDemand => "on-demand",
            PriceBasis::Reserved3yr => "3-year reserved",
        }
    }
}

/// What one node of a type costs, with where the figure comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub basis: PriceBasis,
    /// The engine the price is for (ElastiCache prices Valkey below Redis OSS); absent
    /// for an EC2 type, which runs whatever engine it is given at one price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<crate::scenario::spec::Engine>,
    pub usd_per_hour: f64,
    pub region: String,
    /// A source named in docs/REFERENCES.md section 7, or "derived: ...".
    pub source: String,
    /// When the figure was read (YYYY-MM-DD): prices change.
    pub date: String,
}

/// The parsed catalog, in file order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub instances: IndexMap<String, InstanceSpec>,
    /// Prices per instance type, where known.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub prices: IndexMap<String, Vec<Price>>,
}

impl Catalog {
    /// The catalog shipped with kvsim. Panics only if the embedded file is broken, which
    /// the unit tests rule out (a build-time invariant, not bad user input).
    pub fn builtin() -> Catalog {
        Catalog::parse(CATALOG_RON)
            .expect("invariant: the embedded catalog.ron parses and validates")
    }

    /// Parses and validates a catalog text.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let catalog: Catalog = ron::Options::default().from_str(text).map_err(|e| {
            format!(
                "catalog: {}:{}: {}",
                e.span.start.line, e.span.start.col, e.code
            )
        })?;
        for (name, spec) in &catalog.instances {
            spec.validate()
                .map_err(|e| format!("catalog: instances.\"{name}\".{e}"))?;
        }
        for (name, prices) in &catalog.prices {
            if !catalog.instances.contains_key(name) {
                return Err(format!(
                    "catalog: prices.\"{name}\": not an instance type of the catalog"
                ));
            }
            for (i, p) in prices.iter().enumerate() {
                let at = format!("catalog: prices.\"{name}\"[{i}]");
                if !(p.usd_per_hour.is_finite() && p.usd_per_hour > 0.0) {
                    return Err(format!("{at}.usd_per_hour: expected a positive price"));
                }
                if p.region.is_empty() || p.source.is_empty() {
                    return Err(format!("{at}: a price states its region and source"));
                }
                let date_ok = p.date.len() == 10
                    && p.date.bytes().enumerate().all(|(j, b)| {
                        if j == 4 || j == 7 {
                            b == b'-'
                        } else {
                            b.is_ascii_digit()
                        }
                    });
                if !date_ok {
                    return Err(format!("{at}.date: expected YYYY-MM-DD, got {:?}", p.date));
                }
                if prices[..i]
                    .iter()
                    .any(|q| q.basis == p.basis && q.engine == p.engine)
                {
                    return Err(format!(
                        "{at}: a second price for the same basis and engine"
                    ));
                }
            }
        }
        Ok(catalog)
    }

    /// The price of one node of `instance` running `engine` on `basis`: the engine's own
    /// price, else the type's engine-independent one.
    pub fn price(
        &self,
        instance: &str,
        engine: crate::scenario::spec::Engine,
        basis: PriceBasis,
    ) -> Option<&Price> {
        let prices = self.prices.get(instance)?;
        prices
            .iter()
            .find(|p| p.basis == basis && p.engine == Some(engine))
            .or_else(|| {
                prices
                    .iter()
                    .find(|p| p.basis == basis && p.engine.is_none())
            })
    }

    pub fn get(&self, name: &str) -> Option<&InstanceSpec> {
        self.instances.get(name)
    }

    /// Up to `limit` known names closest to `name` by edit distance (ties in file order),
    /// for "unknown instance type" messages.
    pub fn closest_names(&self, name: &str, limit: usize) -> Vec<String> {
        closest_names(self.instances.keys().map(String::as_str), name, limit)
    }

    /// Canonical serialized form: compact RON of the parsed catalog (comments and layout
    /// of the file do not matter, values and order do).
    pub fn canonical(&self) -> String {
        ron::to_string(self).expect("invariant: a catalog always serializes")
    }

    /// The catalog as pretty RON (the shipped file's form, without its comments).
    pub fn to_ron_pretty(&self) -> Result<String, String> {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .map_err(|e| e.to_string())
    }

    /// Hex SHA-256 of [`Catalog::canonical`]: names the exact figures a report used.
    pub fn digest(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }

    /// A human-readable table, one line per type, for `kvsim catalog`.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<20} {:>5} {:>10} {:>13} {:>10} {:>9} {:>12} {:>11}",
            "instance",
            "vcpu",
            "memory_gib",
            "baseline_gbps",
            "burst_gbps",
            "line_gbps",
            "credits_gbit",
            "cpu_credits"
        );
        for (name, s) in &self.instances {
            let burst = match s.burst_bits_per_s {
                Some(b) => gbps(b),
                None => "-".to_string(),
            };
            let credits = match s.net_credit_capacity_bits {
                Some(c) => format!("{:.1}", c as f64 / 1e9),
                None => "-".to_string(),
            };
            let cpu = match s.cpu_credits {
                Some(c) => format!("{}/h max {}", c.earn_per_hour, c.max_credits),
                None => "-".to_string(),
            };
            let _ = writeln!(
                out,
                "{:<20} {:>5} {:>10.2} {:>13} {:>10} {:>9} {:>12} {:>11}",
                name,
                s.vcpu,
                s.memory_bytes as f64 / (1u64 << 30) as f64,
                gbps(s.baseline_bits_per_s),
                burst,
                gbps(s.line_rate_bits_per_s),
                credits,
                cpu
            );
        }
        if !self.prices.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<20} {:<16} {:<8} {:>12} {:<10} {:<10}  source",
                "prices", "basis", "engine", "usd_per_hour", "region", "read"
            );
            for (name, prices) in &self.prices {
                for p in prices {
                    let engine = p
                        .engine
                        .map_or("any".to_string(), |e| format!("{e:?}").to_lowercase());
                    let _ = writeln!(
                        out,
                        "{:<20} {:<16} {:<8} {:>12.6} {:<10} {:<10}  {}",
                        name,
                        p.basis.describe(),
                        engine,
                        p.usd_per_hour,
                        p.region,
                        p.date,
                        p.source
                    );
                }
            }
        }
        let _ = writeln!(out, "catalog digest: {}", self.digest());
        out
    }
}

fn gbps(bits_per_s: u64) -> String {
    // Enough digits to show 0.064 and 0.937 exactly, without trailing noise.
    let s = format!("{:.3}", bits_per_s as f64 / 1e9);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Up to `limit` of `candidates` closest to `name` by Levenshtein distance (ties keep
/// the candidates' order), skipping ones too far to be a plausible typo.
pub fn closest_names<'a>(
    candidates: impl Iterator<Item = &'a str>,
    name: &str,
    limit: usize,
) -> Vec<String> {
    let mut scored: Vec<(usize, usize, &str)> = candidates
        .enumerate()
        .map(|(i, c)| (strsim::levenshtein(name, c), i, c))
        .collect();
    scored.sort();
    let max_distance = (name.len() / 2).max(3);
    scored
        .into_iter()
        .filter(|(d, _, _)| *d <= max_distance)
        .take(limit)
        .map(|(_, _, c)| c.to_string())
        .collect()
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_has_every_referenced_node_type() {
        let c = Catalog::builtin();
        for name in [
            "cache.t4g.micro",
            "cache.t4g.small",
            "cache.t4g.medium",
            "cache.m6g.large",
            "cache.m7g.large",
            "cache.r7g.large",
            "cache.r7g.xlarge",
            "cache.r7g.2xlarge",
            "cache.r7g.4xlarge",
            "cache.r7g.8xlarge",
            "cache.r7g.12xlarge",
            "cache.r7g.16xlarge",
            "cache.c7gn.large",
            "cache.c7gn.xlarge",
            "cache.c7gn.2xlarge",
            "cache.c7gn.4xlarge",
            "cache.c7gn.16xlarge",
            "c7gn.16xlarge",
            "c6gn.16xlarge",
            "c7g.16xlarge",
            "m5.large",
            "c5.xlarge",
            "c5.2xlarge",
        ] {
            assert!(c.get(name).is_some(), "{name} missing from the catalog");
        }
    }

    #[test]
    fn figures_match_the_references() {
        let c = Catalog::builtin();
        let m6g = c.get("cache.m6g.large").unwrap();
        assert_eq!(m6g.baseline_bits_per_s, 750_000_000);
        assert_eq!(m6g.burst_bits_per_s, Some(10_000_000_000));
        // 6.38 GiB rounded to the byte.
        assert_eq!(m6g.memory_bytes, 6_850_472_837);
        let t4g = c.get("cache.t4g.small").unwrap();
        assert_eq!(t4g.cpu_credits.unwrap().max_credits, 576);
        assert_eq!(
            t4g.net_credit_capacity_bits,
            Some(t4g.baseline_bits_per_s * NET_CREDIT_CAPACITY_S_OF_BASELINE)
        );
        let r7g8 = c.get("cache.r7g.8xlarge").unwrap();
        assert_eq!(r7g8.burst_bits_per_s, None);
        assert_eq!(r7g8.net_credit_capacity_bits, None);
        assert!(!r7g8.is_net_burstable());
    }

    #[test]
    fn every_burstable_type_has_capacity_scaled_from_its_baseline() {
        for (name, s) in &Catalog::builtin().instances {
            if s.is_net_burstable() {
                assert_eq!(
                    s.net_credit_capacity_bits,
                    Some(s.baseline_bits_per_s * NET_CREDIT_CAPACITY_S_OF_BASELINE),
                    "{name}"
                );
                assert!(
                    s.source.net_credits.is_some(),
                    "{name} lacks a credit source"
                );
            }
        }
    }

    /// The two rules of `catalog.ron`'s header: a type rated "up to X" has X as its
    /// line rate, a fixed-rate type the rating of its family's largest size.
    #[test]
    fn line_rates_follow_the_catalog_rules() {
        let c = Catalog::builtin();
        let family = |name: &str| {
            let name = name.strip_prefix("cache.").unwrap_or(name);
            name.split('.').next().expect("a family").to_string()
        };
        for (name, s) in &c.instances {
            assert!(s.line_rate_bits_per_s >= s.peak_bits_per_s(), "{name}");
            if s.is_net_burstable() {
                assert_eq!(Some(s.line_rate_bits_per_s), s.burst_bits_per_s, "{name}");
            } else {
                let largest = c
                    .instances
                    .iter()
                    .filter(|(n, _)| family(n) == family(name))
                    .map(|(_, t)| t.peak_bits_per_s())
                    .max();
                assert_eq!(Some(s.line_rate_bits_per_s), largest, "{name}");
            }
            assert!(s.source.line_rate.starts_with("derived: "), "{name}");
        }
        assert_eq!(
            c.get("cache.r7g.8xlarge").unwrap().line_rate_bits_per_s,
            30_000_000_000
        );
        assert_eq!(
            c.get("c7gn.16xlarge").unwrap().line_rate_bits_per_s,
            200_000_000_000
        );
        assert_eq!(
            c.get("cache.m6g.large").unwrap().line_rate_bits_per_s,
            10_000_000_000
        );
    }

    #[test]
    fn a_line_rate_below_the_peak_is_refused_by_name() {
        let mut spec = Catalog::builtin().get("cache.t4g.small").unwrap().clone();
        spec.line_rate_bits_per_s = 4_999_999_999;
        let e = spec.validate().unwrap_err();
        assert!(
            e.starts_with("line_rate_bits_per_s: expected at least the peak rate (5000000000"),
            "{e}"
        );
        let text = CATALOG_RON.replacen(
            "line_rate_bits_per_s: 5_000_000_000",
            "line_rate_bits_per_s: 1",
            1,
        );
        let e = Catalog::parse(&text).unwrap_err();
        assert!(
            e.starts_with("catalog: instances.\"cache.t4g.micro\".line_rate_bits_per_s:"),
            "{e}"
        );
    }

    #[test]
    fn a_price_is_found_for_its_engine_or_for_any_engine() {
        use crate::scenario::spec::Engine;
        let c = Catalog::builtin();
        let valkey = c
            .price("cache.r7g.large", Engine::Valkey, PriceBasis::OnDemand)
            .unwrap();
        assert!((valkey.usd_per_hour - 0.1752).abs() < 1e-4, "{valkey:?}");
        let redis = c
            .price("cache.r7g.large", Engine::Redis, PriceBasis::OnDemand)
            .unwrap();
        // ElastiCache prices Valkey 20% below Redis OSS.
        assert!((redis.usd_per_hour * 0.8 - valkey.usd_per_hour).abs() < 1e-6);
        // Reserved, the same 20%.
        let reserved = |e| {
            c.price("cache.r7g.large", e, PriceBasis::Reserved3yr)
                .unwrap()
                .usd_per_hour
        };
        assert!((reserved(Engine::Redis) * 0.8 - reserved(Engine::Valkey)).abs() < 1e-6);
        // No price for an engine ElastiCache does not run, and no EC2 price there.
        assert!(c
            .price("cache.r7g.large", Engine::Dragonfly, PriceBasis::OnDemand)
            .is_none());
        // An EC2 type has one price, whatever the engine.
        let a = c.price("c7gn.16xlarge", Engine::Redis, PriceBasis::Reserved3yr);
        let b = c.price("c7gn.16xlarge", Engine::Valkey, PriceBasis::Reserved3yr);
        assert!(a.is_some() && a == b);
        assert!(c
            .price("cache.t4g.small", Engine::Redis, PriceBasis::OnDemand)
            .is_none());
        // Every price is for a type of the catalog, positive, sourced and dated.
        for (name, prices) in &c.prices {
            assert!(c.instances.contains_key(name));
            for p in prices {
                assert!(p.usd_per_hour > 0.0 && !p.source.is_empty() && p.date.len() == 10);
            }
        }
    }

    #[test]
    fn bad_prices_are_refused_by_name() {
        let cases = [
            (
                "usd_per_hour: 0.1752,",
                "usd_per_hour: 0.0,",
                "usd_per_hour: expected a positive price",
            ),
            (
                "\"cache.r7g.large\": [",
                "\"cache.r7g.nano\": [",
                "not an instance type of the catalog",
            ),
            (
                "date: \"2026-12-07\"",
                "date: \"7 Dec 2026\"",
                "date: expected YYYY-MM-DD",
            ),
        ];
        let prices_at = CATALOG_RON.find("prices: {").unwrap();
        for (from, to, expected) in cases {
            let (head, tail) = CATALOG_RON.split_at(prices_at);
            assert!(tail.contains(from), "{from}");
            let text = format!("{head}{}", tail.replacen(from, to, 1));
            let e = Catalog::parse(&text).unwrap_err();
            assert!(
                e.starts_with("catalog: prices.") && e.contains(expected),
                "{e}"
            );
        }
    }

    #[test]
    fn digest_is_stable_and_content_sensitive() {
        let a = Catalog::builtin();
        assert_eq!(a.digest(), Catalog::builtin().digest());
        assert_eq!(a.digest().len(), 64);
        let mut b = a.clone();
        b.instances.get_mut("m5.large").unwrap().vcpu = 3;
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn closest_names_suggest_typos() {
        let c = Catalog::builtin();
        let near = c.closest_names("cache.m6g.larg", 3);
        assert_eq!(near[0], "cache.m6g.large");
        assert!(c
            .closest_names("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 3)
            .is_empty());
    }

    #[test]
    fn table_lists_every_type() {
        let c = Catalog::builtin();
        let t = c.to_table();
        // Header, a line per type; a blank line, header and a line per price; digest.
        let prices: usize = c.prices.values().map(Vec::len).sum();
        assert_eq!(t.lines().count(), c.instances.len() + 1 + 2 + prices + 1);
        assert!(t.contains("c7gn.16xlarge        3-year reserved  any"));
        assert!(t.contains("cache.t4g.micro"));
        assert!(t.contains("0.064"));
    }

    #[test]
    fn sha256_known_answer() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
