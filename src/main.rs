//! The `kvsim` command line: parses arguments, loads files, calls into `models` and
//! prints. It holds no model logic; exit status 2 means bad input, 1 a runtime failure.

use clap::Parser;

/// Deterministic discrete-event simulator of cache clusters (Redis, Valkey, Dragonfly) on
/// cloud instances.
#[derive(Parser, Debug)]
#[command(name = "kvsim", version, about, long_about = None)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
