//! Running the real `kvsim` binary from a test: its output, as text. Shared by the
//! command-line tests so that each says only what it checks.

use std::process::{Command, Output};

/// `kvsim ARGS`, waited for.
pub fn kvsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(args)
        .output()
        .expect("the kvsim binary runs")
}

/// Bytes of stdout or stderr as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
