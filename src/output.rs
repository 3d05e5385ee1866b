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
