//! Writing to standard output. A reader that stops early (`kvsim list | head -1`)
//! closes the pipe: that ends the output quietly, as it does for other Unix tools,
//! instead of a panic from `println!`. Invariant: every command prints its stdout
//! through [`emit`], so none can fail on a closed pipe.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

/// Writes `text` to stdout. A closed pipe is success (the reader had what it wanted);
/// any other write error is a runtime failure (exit 1).
pub fn emit(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kvsim: cannot write to stdout: {e}");
            ExitCode::from(1)
        }
    }
}

/// Creates `dir` (and its parents) for a command's `--out`, before any work, so that
/// a folder that cannot take the results is bad input found at once.
pub fn prepare_dir(dir: &std::path::Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!("--out {}: is not a folder", dir.display()));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("--out {}: cannot create it: {e}", dir.display()))
}

/// Writes each (file name, body) into `dir`; the first failure is returned.
pub fn write_files<N: AsRef<std::path::Path>>(
    dir: &std::path::Path,
    files: impl IntoIterator<Item = (N, String)>,
) -> Result<(), String> {
    for (name, body) in files {
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `dir/name` made empty: kvsim's own folder under `--out` (its plots), emptied at
/// each run so that a reused folder never shows an earlier run's files.
pub fn fresh_subdir(dir: &std::path::Path, name: &str) -> Result<(), String> {
    let sub = dir.join(name);
    if sub.exists() {
        if !sub.is_dir() {
            return Err(format!("--out: {} is not a folder", sub.display()));
        }
        std::fs::remove_dir_all(&sub)
            .map_err(|e| format!("--out: cannot empty {}: {e}", sub.display()))?;
    }
    std::fs::create_dir(&sub)
        .map_err(|e| format!("--out {}: cannot write in it: {e}", dir.display()))
}
