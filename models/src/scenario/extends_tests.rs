//! Tests of `extends`: merging along a chain, bundled parents, and every way a chain can
//! be broken, each refused naming the file (and line:column) at fault.

use super::{load_file, ScenarioError};
use std::path::PathBuf;

/// A fresh folder for one test's files.
fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kvsim-extends-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("a folder");
    }
    std::fs::write(&path, text).expect("a scratch file");
    path
}

const BASE: &str = r#"(
    name: "base",
    description: "the base",
    seed: 7,
    duration_s: 10,
    cluster: (mode: cluster, shards: 3, instance: "cache.r7g.large"),
    clients: (workload: (ratio: "1:10", key_maximum: 1000, data_size: 100)),
    instances: {"cache.r7g.large": (vcpu: 4)},
    faults: [(at_s: 1, for_s: 1, crash: "redis-0"), (at_s: 5, for_s: 1, crash: "redis-1")],
    variants: [(name: "three", patch: ()), (name: "six", patch: (cluster: (shards: 6)))],
)"#;

/// A child overrides single fields and keeps the rest: structures merge field by field
/// (the shard count changes, the instance and mode stay), lists and maps are replaced
/// whole (one fault left of two, the instance override dropped with its map), and the
/// parent's variants run when the child lists none.
#[test]
fn a_child_merges_onto_its_parent_field_by_field() {
    let dir = folder("merge");
    write(&dir, "base.ron", BASE);
    let child = write(
        &dir,
        "sub/child.ron",
        r#"(extends: "../base.ron", name: "child", cluster: (shards: 4),
            faults: [(at_s: 2, for_s: 1, crash: "redis-2")],
            instances: {"cache.r7g.xlarge": (vcpu: 4)})"#,
    );
    let s = load_file(&child).expect("loads");
    assert_eq!(s.name(), "child");
    assert_eq!(s.description(), "the base");
    let v = s.variants();
    assert_eq!(
        v.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["three", "six"]
    );
    let three = &v[0].config;
    assert_eq!(three.cluster.shards, 4);
    assert_eq!(three.cluster.instance.name, "cache.r7g.large");
    assert_eq!(
        three.cluster.instance.spec.vcpu, 2,
        "the parent's map is replaced whole"
    );
    assert_eq!(three.faults.len(), 1);
    assert_eq!(v[1].config.cluster.shards, 6);
    // The resolved scenario carries no extends, and reads back to the same digest.
    let again = super::load_str(&s.to_ron_pretty(), "again.ron").expect("reads back");
    assert_eq!(again.digest(), s.digest());
    assert!(!s.canonical().contains("extends"));
}

/// A child's variant list replaces its parent's; a chain of three merges from the
/// farthest parent in; a bundled scenario can be the root.
#[test]
fn chains_and_bundled_parents_resolve() {
    let dir = folder("chain");
    write(
        &dir,
        "a.ron",
        r#"(extends: "bundled:lab-tbf-100mbit", name: "a")"#,
    );
    write(&dir, "b.ron", r#"(extends: "a.ron", seed: 99)"#);
    let c = write(
        &dir,
        "c.ron",
        r#"(extends: "b.ron", variants: [(name: "only", patch: ())])"#,
    );
    let s = load_file(&c).expect("loads");
    let lab = super::bundled::find("lab-tbf-100mbit")
        .expect("bundled")
        .expect("loads");
    assert_eq!((s.name(), s.seed()), ("a", 99));
    assert_eq!(s.description(), lab.description());
    assert_eq!(s.variants().len(), 1);
    assert_eq!(
        s.variants()[0].config.clients,
        lab.variants()[0].config.clients
    );
}

/// The digest covers the resolved scenario: changing the parent changes the child's.
#[test]
fn the_digest_covers_the_parent() {
    let dir = folder("digest");
    write(&dir, "base.ron", BASE);
    let child = write(&dir, "child.ron", r#"(extends: "base.ron", name: "child")"#);
    let before = load_file(&child).expect("loads").digest();
    write(&dir, "base.ron", &BASE.replace("seed: 7", "seed: 8"));
    let after = load_file(&child).expect("loads").digest();
    assert_ne!(before, after);
}

fn invalid(result: Result<super::Scenario, ScenarioError>) -> (String, String, String) {
    match result {
        Err(ScenarioError::Invalid {
            origin,
            path,
            message,
            position,
        }) => (
            format!(
                "{origin}{}",
                position
                    .map(|(l, c)| format!(":{l}:{c}"))
                    .unwrap_or_default()
            ),
            path,
            message,
        ),
        Err(ScenarioError::Parse {
            origin,
            line,
            column,
            message,
        }) => (format!("{origin}:{line}:{column}"), String::new(), message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A cycle is refused with the whole chain; a missing parent, an unknown bundled name,
/// an empty path and a variant that tries to extend are refused at the `extends` that
/// names them; a parse error in a parent names the parent's line and column; a bad
/// value set in a parent names the parent's file and line.
#[test]
fn broken_chains_name_the_file_at_fault() {
    let dir = folder("broken");
    write(&dir, "a.ron", "(\n  extends: \"b.ron\", name: \"a\")");
    write(&dir, "b.ron", "(extends: \"a.ron\")");
    let (at, path, m) = invalid(load_file(dir.join("a.ron")));
    assert_eq!(path, "extends");
    assert!(at.ends_with("b.ron:1:11"), "{at}");
    assert!(
        m.contains("a cycle of extends") && m.contains("a.ron -> ") && m.contains("b.ron -> "),
        "{m}"
    );

    let missing = write(&dir, "missing.ron", "(\n\n  extends: \"nowhere.ron\")");
    let (at, path, m) = invalid(load_file(&missing));
    assert_eq!(
        (at.ends_with("missing.ron:3:12"), path.as_str()),
        (true, "extends"),
        "{at}"
    );
    assert!(m.contains("cannot read \"nowhere.ron\""), "{m}");

    let unknown = write(&dir, "unknown.ron", r#"(extends: "bundled:nope")"#);
    let (_, _, m) = invalid(load_file(&unknown));
    assert!(
        m.contains("no bundled scenario \"nope\"") && m.contains("m6g-25kb-get"),
        "{m}"
    );

    let empty = write(&dir, "empty.ron", r#"(extends: " ")"#);
    let (_, path, _) = invalid(load_file(&empty));
    assert_eq!(path, "extends");

    write(
        &dir,
        "broken-parent.ron",
        "(\n  name: \"x\",\n  seed: \"seven\",\n)",
    );
    let child = write(&dir, "child.ron", r#"(extends: "broken-parent.ron")"#);
    let (at, _, m) = invalid(load_file(&child));
    assert!(at.ends_with("broken-parent.ron:3:8"), "{at}: {m}");

    write(
        &dir,
        "bad-value.ron",
        &BASE.replace("shards: 3", "shards: 0"),
    );
    let child = write(&dir, "child2.ron", r#"(extends: "bad-value.ron", seed: 1)"#);
    let (at, path, _) = invalid(load_file(&child));
    assert_eq!(path, "cluster.shards");
    assert!(at.contains("bad-value.ron:6:"), "{at}");

    let variant = write(
        &dir,
        "variant.ron",
        r#"(extends: "bad-value.ron", cluster: (shards: 2),
            variants: [(name: "v", patch: (extends: "a.ron"))])"#,
    );
    let (_, path, m) = invalid(load_file(&variant));
    assert_eq!(path, "variants[0].patch.extends", "{m}");
}

/// A chain longer than the limit is refused rather than followed.
#[test]
fn a_chain_has_a_length_limit() {
    let dir = folder("long");
    for i in 0..super::extends::MAX_CHAIN + 1 {
        write(
            &dir,
            &format!("s{i}.ron"),
            &format!(r#"(extends: "s{}.ron")"#, i + 1),
        );
    }
    let (_, path, m) = invalid(load_file(dir.join("s0.ron")));
    assert_eq!(path, "extends");
    assert!(m.contains("at most 32"), "{m}");
}
