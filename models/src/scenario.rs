//! Scenarios: loading a RON file, applying its variants and resolving each into a
//! [`RunConfig`] the world builder can read without any defaults of its own.
//!
//! ```text
//! text --(ron, implicit Some, deny_unknown_fields)--> ScenarioSpec
//!      --(extends: merged onto its parents)--> ScenarioSpec
//!      --(base merged with each variant's patch)--> ScenarioSpec per variant
//!      --(resolve: defaults, checks, catalog lookup)--> ResolvedVariant { name, config }
//! ```
//!
//! Invariant: a [`Scenario`] value exists only if every variant resolved, so `kvsim
//! check` passing means every variant can be built. A scenario without variants is one
//! variant named `base`. Every variant has the scenario's seed. Loading never panics on
//! any input (a property test feeds it arbitrary bytes).

pub mod bundled;
pub mod error;
pub mod extends;
mod locate;
pub(crate) mod merge;
pub mod resolve;
pub mod spec;

pub use error::{FieldError, ScenarioError};
pub use resolve::{
    ClientsConfig, ClusterConfig, CpuCostOverrides, NetworkConfig, NodeConfig, PrefillConfig,
    ReportConfig, RunConfig,
};
pub use spec::{
    ClusterMode, CreditLevel, Engine, EvictionPolicy, Placement, ReportSection, ScenarioSpec,
    TimeSeriesKind, VariantSpec,
};

use crate::catalog::{sha256_hex, Catalog};
use merge::Merge;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

/// Name of the single variant of a scenario that lists none.
pub const BASE_VARIANT: &str = "base";

/// One variant, fully resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedVariant {
    pub name: String,
    pub config: RunConfig,
}

impl ResolvedVariant {
    /// The resolved configuration as pretty RON (`kvsim check --resolved`).
    pub fn to_ron_pretty(&self) -> Result<String, String> {
        ron::ser::to_string_pretty(&self.config, ron::ser::PrettyConfig::default())
            .map_err(|e| e.to_string())
    }
}

/// A loaded, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    origin: String,
    spec: ScenarioSpec,
    variants: Vec<ResolvedVariant>,
    catalog_digest: String,
}

impl Scenario {
    /// Where it was loaded from (file path or the name given to [`load_str`]).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn name(&self) -> &str {
        self.spec.name.as_deref().unwrap_or_default()
    }

    pub fn description(&self) -> &str {
        self.spec.description.as_deref().unwrap_or_default()
    }

    /// First line of the description, for listings.
    pub fn summary(&self) -> &str {
        self.description()
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default()
    }

    pub fn seed(&self) -> u64 {
        self.spec.seed.unwrap_or_default()
    }

    /// Every variant in the listed order (one named `base` when none are listed).
    pub fn variants(&self) -> Vec<ResolvedVariant> {
        self.variants.clone()
    }

    /// The same, borrowed.
    pub fn resolved_variants(&self) -> &[ResolvedVariant] {
        &self.variants
    }

    /// Canonical serialized form: compact RON of the parsed file (its `extends` chain
    /// merged in) with unset fields omitted, so comments and layout do not matter and
    /// values and order do.
    pub fn canonical(&self) -> String {
        ron::to_string(&self.spec).unwrap_or_default()
    }

    /// Hex SHA-256 of [`Scenario::canonical`].
    pub fn digest(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }

    /// Digest of the catalog the variants were resolved against.
    pub fn catalog_digest(&self) -> &str {
        &self.catalog_digest
    }

    /// Pretty RON of the parsed file (base and variant patches, unmerged, unset fields
    /// omitted; its `extends` chain merged in); it parses back to the same scenario and
    /// digest.
    pub fn to_ron_pretty(&self) -> String {
        ron::ser::to_string_pretty(&self.spec, ron::ser::PrettyConfig::default())
            .unwrap_or_default()
    }
}

/// The largest scenario file read: far above any real scenario (the bundled ones are a
/// few KiB; ten thousand variants take about a MiB), far below what would strain memory.
pub const MAX_SCENARIO_BYTES: u64 = 64 * 1024 * 1024;

/// Reads and validates a scenario file against the built-in catalog.
pub fn load_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
    let path = path.as_ref();
    let text = read_scenario_file(path)?;
    load_source(
        &text,
        extends::Source::File(path.to_path_buf()),
        &Catalog::builtin(),
    )
}

/// A scenario file's text, read with the size limit: a device or a huge file is refused
/// without being read whole (`kvsim check /dev/urandom` must not fill the memory).
pub(crate) fn read_scenario_file(path: &Path) -> Result<String, ScenarioError> {
    let origin = path.display().to_string();
    let io = |source| ScenarioError::Io {
        path: origin.clone(),
        source,
    };
    // Read at most one byte past the limit.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SCENARIO_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(ScenarioError::TooLarge {
            path: origin,
            limit_bytes: MAX_SCENARIO_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text ({e})"),
        ))
    })
}

/// Parses and validates scenario text; `origin` names it in error messages (and a
/// relative `extends` resolves against its folder).
pub fn load_str(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    load_str_with_catalog(text, origin, &Catalog::builtin())
}

/// As [`load_str`], against a given catalog.
pub fn load_str_with_catalog(
    text: &str,
    origin: &str,
    catalog: &Catalog,
) -> Result<Scenario, ScenarioError> {
    load_source(text, extends::Source::Text(origin.to_string()), catalog)
}

/// Loads `text` read from `source`: parsed, its `extends` chain merged, every variant
/// resolved. An invalid value is located in the first file of the chain that sets it.
pub(crate) fn load_source(
    text: &str,
    source: extends::Source,
    catalog: &Catalog,
) -> Result<Scenario, ScenarioError> {
    let origin = source.origin();
    let spec = parse(text, &origin)?;
    let (spec, layers) = if spec.extends.is_some() {
        extends::resolve_chain(spec, source, text)?
    } else {
        (spec, Vec::new())
    };
    let variants = resolve_variants(&spec, catalog).map_err(|e| {
        // The child first: its setting is the one merged last.
        for layer in &layers {
            if locate::locate(&layer.text, &e.path).is_some() {
                return ScenarioError::invalid(&layer.origin, &layer.text, e);
            }
        }
        ScenarioError::invalid(&origin, text, e)
    })?;
    Ok(Scenario {
        origin,
        spec,
        variants,
        catalog_digest: catalog.digest(),
    })
}

/// RON options for scenario files: `implicit_some` lets optional fields be written as
/// plain values (`shards: 10`, not `shards: Some(10)`).
fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

pub(crate) fn parse(text: &str, origin: &str) -> Result<ScenarioSpec, ScenarioError> {
    parse_as(text, origin)
}

/// A scenario's merged spec from `source` (a file path, or `bundled:NAME`), its
/// `extends` chain followed: for a sweep's base.
pub(crate) fn load_spec_chain(
    source: &str,
) -> Result<(ScenarioSpec, Vec<extends::Layer>), ScenarioError> {
    let (text, src) = match source.strip_prefix("bundled:") {
        Some(name) => {
            let file = extends::bundled_file(name);
            let text = extends::bundled_text(&file).map_err(|message| ScenarioError::Invalid {
                origin: source.to_string(),
                path: "base".into(),
                message,
                position: None,
            })?;
            (text.to_string(), extends::Source::Bundled(file))
        }
        None => {
            let path = Path::new(source);
            (
                read_scenario_file(path)?,
                extends::Source::File(path.to_path_buf()),
            )
        }
    };
    let spec = parse(&text, &src.origin())?;
    if spec.extends.is_some() {
        extends::resolve_chain(spec, src, &text)
    } else {
        Ok((spec, Vec::new()))
    }
}

/// Parses RON text in the scenario dialect (implicit `Some`, unknown fields refused)
/// into `T`, a syntax or type error located at its line, column and field path.
pub(crate) fn parse_as<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
) -> Result<T, ScenarioError> {
    let parse_error = |e: ron::error::SpannedError, path: String| {
        // Past the last non-blank character: the text stopped before the value did.
        let trimmed = text.trim_end();
        let end_line = 1 + trimmed.matches('\n').count();
        let end_col = 1 + trimmed.chars().rev().take_while(|&c| c != '\n').count();
        let start = e.span.start;
        let at_end = start.line > end_line || (start.line == end_line && start.col >= end_col);
        let message = explain(&e.code, at_end);
        ScenarioError::Parse {
            origin: origin.to_string(),
            line: start.line,
            column: start.col,
            message: if path.is_empty() {
                message
            } else {
                format!("{path}: {message}")
            },
        }
    };
    let options = ron_options();
    let mut de = ron::Deserializer::from_str_with_options(text, &options)
        .map_err(|e| parse_error(e, String::new()))?;
    // The tracker records the field being read when an error occurs, so the message
    // names it as well as its position.
    let mut track = serde_path_to_error::Track::new();
    let spec = serde::Deserialize::deserialize(serde_path_to_error::Deserializer::new(
        &mut de, &mut track,
    ))
    .map_err(|e| {
        let spanned = de.span_error(e);
        parse_error(spanned, field_path(&track.path()))
    })?;
    de.end()
        .map_err(|e| parse_error(de.span_error(e), String::new()))?;
    Ok(spec)
}

/// A tracked path as the rest of kvsim writes field paths: `cluster.shards`,
/// `variants[1].patch.seed`, `instances["cache.t4g.small"].vcpu`; segments the tracker
/// could not name are left out.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                } else {
                    out.push_str(&format!("[{key:?}]"));
                }
            }
            Segment::Unknown => break,
        }
    }
    out
}

/// ron's message, with the expectation spelled out where ron leaves it implicit.
fn explain(code: &ron::Error, at_end: bool) -> String {
    use ron::Error as E;
    let mut m = match code {
        E::IntegerOutOfBounds => {
            "integer out of range; expected a non-negative integer that fits the field".to_string()
        }
        E::ExpectedInteger => "expected an integer".to_string(),
        E::ExpectedString => "expected a string in double quotes".to_string(),
        E::ExpectedComma => "expected `,` or a closing bracket here (a missing comma, or a \
                             value of the wrong form, such as 3.0 where an integer belongs?)"
            .to_string(),
        E::SuggestRawIdentifier(id) => format!(
            "{id:?} is not an identifier; expected a name with underscores, e.g. {}",
            id.replace('-', "_")
        ),
        E::MissingStructField { field, outer } => format!(
            "missing field `{field}`{}; expected it to be set",
            outer
                .as_ref()
                .map(|o| format!(" in `{o}`"))
                .unwrap_or_default()
        ),
        other => other.to_string(),
    };
    if at_end || matches!(code, E::Eof) {
        m.push_str(" (the file ends here: an unclosed `(`, `[` or `{`?)");
    }
    m
}

fn resolve_variants(
    spec: &ScenarioSpec,
    catalog: &Catalog,
) -> Result<Vec<ResolvedVariant>, FieldError> {
    let Some(list) = &spec.variants else {
        let config = resolve::resolve(spec, BASE_VARIANT, catalog)?;
        return Ok(vec![ResolvedVariant {
            name: BASE_VARIANT.to_string(),
            config,
        }]);
    };
    if list.is_empty() {
        return Err(FieldError::new(
            "variants",
            "expected at least one variant; omit the field for a single run",
        ));
    }
    // The base must stand on its own even though only its variants run: a variant's
    // patch may hide a bad base value (shards: 0 patched to 3) that the next edit of
    // the patch would expose. It is taken without its variant list once, so that each
    // variant costs one copy of the base, not one of every variant (which made checking
    // ten thousand variants quadratic).
    let base = spec_without_variants(spec);
    resolve::resolve(&base, BASE_VARIANT, catalog)?;
    let mut out: Vec<ResolvedVariant> = Vec::with_capacity(list.len());
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for (i, v) in list.iter().enumerate() {
        let at = format!("variants[{i}]");
        if let Err(m) = check_name(&v.name) {
            return Err(FieldError::new(format!("{at}.name"), m));
        }
        if !names.insert(v.name.as_str()) {
            return Err(FieldError::new(
                format!("{at}.name"),
                format!("duplicate variant name {:?}", v.name),
            ));
        }
        for (field, set) in [
            ("extends", v.patch.extends.is_some()),
            ("name", v.patch.name.is_some()),
            ("description", v.patch.description.is_some()),
            ("seed", v.patch.seed.is_some()),
            ("variants", v.patch.variants.is_some()),
        ] {
            if set {
                return Err(FieldError::new(
                    format!("{at}.patch.{field}"),
                    format!("a variant cannot change `{field}` (every variant runs the scenario's seed and name)"),
                ));
            }
        }
        let mut merged = base.clone();
        merged.merge(v.patch.clone());
        let config = resolve::resolve(&merged, &v.name, catalog)
            .map_err(|e| locate_in_variant(e, i, &v.name, &v.patch))?;
        out.push(ResolvedVariant {
            name: v.name.clone(),
            config,
        });
    }
    Ok(out)
}

/// The scenario's fields other than its variant list, copied without copying the list.
/// (Destructured field by field, so that a new field cannot be forgotten here.)
fn spec_without_variants(spec: &ScenarioSpec) -> ScenarioSpec {
    let ScenarioSpec {
        extends,
        name,
        description,
        seed,
        duration_s,
        duration_ms,
        warmup_s,
        warmup_ms,
        network,
        cluster,
        clients,
        prefill,
        net_credits_at_start,
        cpu_credits_at_start,
        report,
        instances,
        faults,
        resharding,
        hosts,
        slo,
        variants: _,
    } = spec;
    ScenarioSpec {
        extends: extends.clone(),
        name: name.clone(),
        description: description.clone(),
        seed: *seed,
        duration_s: *duration_s,
        duration_ms: *duration_ms,
        warmup_s: *warmup_s,
        warmup_ms: *warmup_ms,
        network: network.clone(),
        cluster: cluster.clone(),
        clients: clients.clone(),
        prefill: prefill.clone(),
        net_credits_at_start: *net_credits_at_start,
        cpu_credits_at_start: *cpu_credits_at_start,
        report: report.clone(),
        instances: instances.clone(),
        faults: faults.clone(),
        resharding: resharding.clone(),
        hosts: hosts.clone(),
        slo: slo.clone(),
        variants: None,
    }
}

/// Scenario and variant names end up in report headers, JSON keys and output file
/// names, so they are short, printable and free of path separators.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("expected a non-empty name".to_string());
    }
    if name.chars().count() > 64 {
        return Err(format!(
            "expected at most 64 characters, got {}",
            name.chars().count()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || *c == '/' || *c == '\\')
    {
        return Err(format!(
            "expected printable characters without path separators, got {c:?} in {name:?}"
        ));
    }
    Ok(())
}

/// A variant's error points into its patch when the patch sets that field, otherwise
/// at the base field, naming the variant.
fn locate_in_variant(e: FieldError, index: usize, name: &str, patch: &ScenarioSpec) -> FieldError {
    if patch_sets(patch, &e.path) {
        e.under(&format!("variants[{index}].patch"))
    } else {
        FieldError::new(
            e.path,
            format!("{} (in variant {name:?}, variants[{index}])", e.message),
        )
    }
}

/// Whether the patch sets the field at `path` (dot-separated struct fields; map keys in
/// `["..."]` count as set when the map is).
pub(crate) fn patch_sets(patch: &ScenarioSpec, path: &str) -> bool {
    let Ok(text) = ron::to_string(patch) else {
        return false;
    };
    let Ok(mut value) = ron::from_str::<ron::Value>(&text) else {
        return false;
    };
    for segment in path.split('.') {
        let field = segment.split('[').next().unwrap_or(segment);
        while let ron::Value::Option(Some(inner)) = value {
            value = *inner;
        }
        let ron::Value::Map(map) = value else {
            return false;
        };
        match map.get(&ron::Value::String(field.to_string())) {
            Some(v) => value = v.clone(),
            None => return false,
        }
        if segment.contains('[') {
            return true;
        }
    }
    true
}

#[cfg(test)]
mod extends_tests;
#[cfg(test)]
mod tests;
