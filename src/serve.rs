//! `kvsim serve`: the store behind a real TCP server on loopback, on the real clock.

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// TCP port to listen on.
    #[arg(long, default_value_t = 6379)]
    pub port: u16,
    /// Answer as a cluster node owning all 16384 slots.
    #[arg(long)]
    pub cluster: bool,
}

pub fn serve(_args: &ServeArgs) -> ExitCode {
    eprintln!("kvsim serve: not built yet");
    ExitCode::from(1)
}
