//! `kvsim check`, `kvsim list` and `kvsim catalog`: scenario validation and listings.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The scenario file (RON).
    pub file: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct CatalogArgs {}

pub fn check(_args: &CheckArgs) -> ExitCode {
    eprintln!("kvsim check: not built yet");
    ExitCode::from(1)
}

pub fn list() -> ExitCode {
    ExitCode::SUCCESS
}

pub fn catalog(_args: &CatalogArgs) -> ExitCode {
    ExitCode::SUCCESS
}
