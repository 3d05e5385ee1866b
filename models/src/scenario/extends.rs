//! Scenario inheritance: `extends: "base.ron"` (a path relative to the extending file) or
//! `extends: "bundled:NAME"` (a bundled scenario). The parent is loaded (following its
//! own `extends`) and the child merged onto it field by field: structures deep-merged,
//! lists and maps replaced whole, the child's variants (when it lists any) replacing
//! the parent's. Invariant: a chain either resolves to one `ScenarioSpec` with no
//! `extends` left (what every later step, the digest included, sees), or fails with the
//! file that broke it: a cycle names the whole chain, a missing or unreadable parent
//! names the file that refers to it and where, a parse error in a parent names the
//! parent's own line and column.

use super::merge::Merge;
use super::spec::ScenarioSpec;
use super::{bundled, parse, read_scenario_file, ScenarioError};
use std::path::{Path, PathBuf};

/// The longest chain of `extends` followed: far beyond any real layering, short enough
/// that a chain built to exhaust memory is refused early.
pub const MAX_CHAIN: usize = 32;

/// Where a scenario's text came from, for resolving its `extends`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    File(PathBuf),
    Bundled(String),
    /// Text given directly (`load_str`): relative paths resolve against its name's
    /// folder, as if it were a file of that name.
    Text(String),
}

impl Source {
    /// How messages name it.
    pub(crate) fn origin(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Bundled(f) => format!("scenarios/{f}"),
            Source::Text(name) => name.clone(),
        }
    }

    /// The identity a cycle is judged on: the file's canonical path when it has one.
    fn key(&self) -> String {
        match self {
            Source::File(p) => std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
            Source::Bundled(f) => format!("bundled:{f}"),
            Source::Text(name) => format!("text:{name}"),
        }
    }

    /// The parent `target` names, seen from this source.
    fn parent(&self, target: &str) -> Source {
        if let Some(name) = target.strip_prefix("bundled:") {
            return Source::Bundled(bundled_file(name));
        }
        match self {
            // A bundled scenario's relative parent is another bundled one.
            Source::Bundled(_) => Source::Bundled(bundled_file(target)),
            Source::File(p) => Source::File(relative_to(p, target)),
            Source::Text(name) => Source::File(relative_to(Path::new(name), target)),
        }
    }
}

/// The text of bundled file `file`, or what to say when there is none.
pub(crate) fn bundled_text(file: &str) -> Result<&'static str, String> {
    bundled::BUNDLED
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
        .ok_or_else(|| {
            let names: Vec<&str> = bundled::BUNDLED
                .iter()
                .map(|(f, _)| f.trim_end_matches(".ron"))
                .collect();
            format!(
                "no bundled scenario {:?}; expected one of {}",
                file.trim_end_matches(".ron"),
                names.join(", ")
            )
        })
}

pub(crate) fn bundled_file(name: &str) -> String {
    if name.ends_with(".ron") {
        name.to_string()
    } else {
        format!("{name}.ron")
    }
}

/// `target` as seen from `file`: itself when absolute, else in `file`'s folder.
pub(crate) fn relative_to(file: &Path, target: &str) -> PathBuf {
    let target = Path::new(target);
    if target.is_absolute() {
        return target.to_path_buf();
    }
    file.parent()
        .map_or_else(|| target.to_path_buf(), |dir| dir.join(target))
}

/// One file of a chain: where it came from and its text, for locating errors.
#[derive(Clone, Debug)]
pub(crate) struct Layer {
    pub origin: String,
    pub text: String,
}

/// `spec` (read from `source`, whose text is `text`) with its `extends` chain resolved:
/// the merged spec, and every layer from the child to the farthest parent.
pub(crate) fn resolve_chain(
    spec: ScenarioSpec,
    source: Source,
    text: &str,
) -> Result<(ScenarioSpec, Vec<Layer>), ScenarioError> {
    let mut layers = vec![Layer {
        origin: source.origin(),
        text: text.to_string(),
    }];
    let mut chain: Vec<(String, String)> = vec![(source.key(), source.origin())];
    // Specs from the child outwards; merged from the farthest parent in.
    let mut specs = vec![spec];
    let mut current = source;
    while let Some(target) = specs.last().and_then(|s| s.extends.clone()) {
        let referring = layers.last().expect("the child's layer").clone();
        let located = |message: String| ScenarioError::Invalid {
            position: super::locate::locate(&referring.text, "extends"),
            origin: referring.origin.clone(),
            path: "extends".into(),
            message,
        };
        if target.trim().is_empty() {
            return Err(located(
                "expected a path relative to this file, or bundled:NAME".into(),
            ));
        }
        if chain.len() >= MAX_CHAIN {
            return Err(located(format!(
                "expected a chain of at most {MAX_CHAIN} scenarios"
            )));
        }
        let parent = current.parent(&target);
        let key = parent.key();
        if let Some(first) = chain.iter().position(|(k, _)| *k == key) {
            let mut names: Vec<&str> = chain[first..].iter().map(|(_, o)| o.as_str()).collect();
            let again = parent.origin();
            names.push(&again);
            return Err(located(format!(
                "a cycle of extends: {}",
                names.join(" -> ")
            )));
        }
        let parent_text = match &parent {
            Source::Bundled(f) => bundled_text(f).map_err(located)?.to_string(),
            Source::File(p) => match read_scenario_file(p) {
                Ok(text) => text,
                Err(ScenarioError::Io { source, .. }) => {
                    return Err(located(format!(
                        "cannot read {:?} ({}): {source}",
                        target,
                        p.display()
                    )))
                }
                Err(e) => return Err(e),
            },
            Source::Text(_) => unreachable!("a parent is a file or bundled"),
        };
        let parent_spec = parse(&parent_text, &parent.origin())?;
        chain.push((key, parent.origin()));
        layers.push(Layer {
            origin: parent.origin(),
            text: parent_text,
        });
        specs.push(parent_spec);
        current = parent;
    }
    let mut merged = specs.pop().expect("at least the child");
    while let Some(child) = specs.pop() {
        merged = extend(merged, child);
    }
    merged.extends = None;
    Ok((merged, layers))
}

/// `child` over `parent`: structures merged field by field, lists and maps replaced
/// whole, the child's variants replacing the parent's when it lists any.
fn extend(mut parent: ScenarioSpec, mut child: ScenarioSpec) -> ScenarioSpec {
    if child.instances.is_some() {
        parent.instances = None;
    }
    let variants = child.variants.take();
    parent.merge(child);
    if variants.is_some() {
        parent.variants = variants;
    }
    parent
}
