//! The repository's citations of its own references: every "REFERENCES.md section N" in
//! a tracked `.rs`, `.ron`, `.md` or `.toml` file names a section that exists as a
//! `## N. ...` heading of `docs/REFERENCES.md`, and no file points at the facts file
//! the references replaced, which users do not have. A citation may wrap onto the next
//! comment line (`docs/REFERENCES.md` / `// section 4`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const EXTENSIONS: [&str; 4] = ["rs", "ron", "md", "toml"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The tracked files, from `git ls-files`; outside a git checkout (a source archive),
/// every file under the root except build output and version-control data.
fn text_files() -> Vec<PathBuf> {
    let tracked = Command::new("git")
        .arg("ls-files")
        .arg("-z")
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty());
    let mut files = match tracked {
        Some(o) => o
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| root().join(String::from_utf8_lossy(p).as_ref()))
            .collect(),
        None => {
            let mut all = Vec::new();
            walk(root(), &mut all);
            all
        }
    };
    files.retain(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
            && p.is_file()
    });
    files.sort();
    files
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != ".git" && name != "target" && !name.starts_with("target-") {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// Section numbers of the `## N. Title` headings.
fn sections(references: &str) -> BTreeSet<u32> {
    references
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .filter_map(|l| l.split_once(". "))
        .filter_map(|(n, _)| n.parse().ok())
        .collect()
}

/// The section numbers cited in `text`, each with its line number. After
/// "REFERENCES.md", blanks and comment leaders (`//`, `///`, `//!`, `#`) may separate
/// the file name from "section N"; a mention not followed by "section" cites no section.
fn citations(text: &str) -> Vec<(usize, u32)> {
    const NAME: &str = "REFERENCES.md";
    let mut out = Vec::new();
    for (at, _) in text.match_indices(NAME) {
        let rest = text[at + NAME.len()..]
            .trim_start_matches(|c: char| c.is_whitespace() || c == '/' || c == '!' || c == '#');
        let Some(rest) = rest.strip_prefix("section") else {
            continue;
        };
        let rest = rest.trim_start();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            out.push((1 + text[..at].matches('\n').count(), n));
        }
    }
    out
}

#[test]
fn every_cited_section_exists_and_nothing_cites_the_old_facts_file() {
    let references = std::fs::read_to_string(root().join("docs/REFERENCES.md"))
        .expect("docs/REFERENCES.md exists");
    let known = sections(&references);
    assert!(
        !known.is_empty(),
        "docs/REFERENCES.md has no `## N. ...` headings"
    );
    // Spelled in two pieces so that this file does not mention it.
    let old_file = ["FACTS", ".md"].concat();
    let mut problems = Vec::new();
    let mut cited = 0;
    for path in text_files() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let shown = path.strip_prefix(root()).unwrap_or(&path).display();
        for (line, n) in citations(&text) {
            cited += 1;
            if !known.contains(&n) {
                problems.push(format!(
                    "{shown}:{line}: cites REFERENCES.md section {n}, which does not exist"
                ));
            }
        }
        for (at, _) in text.match_indices(&old_file) {
            let line = 1 + text[..at].matches('\n').count();
            problems.push(format!(
                "{shown}:{line}: mentions {old_file}; cite docs/REFERENCES.md instead"
            ));
        }
    }
    assert!(cited > 0, "no citation found: is the file list empty?");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn citations_are_found_across_a_comment_line_break() {
    // Built from pieces so that the scan of this file does not read them as citations.
    let name = ["REFERENCES", ".md"].concat();
    let text = format!(
        "// figures (docs/{name}\n// section 4), and {name} section 12.\n\
         /// See docs/{name} for more."
    );
    assert_eq!(citations(&text), vec![(1, 4), (2, 12)]);
    assert_eq!(
        sections("# R\n\n## 1. Net\ntext\n## 4. Engines\n### 4.1 sub\n"),
        BTreeSet::from([1, 4])
    );
}
