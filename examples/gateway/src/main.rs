//! `vpn-gateway`: see `vpn-gateway --help` and the crate's `cli` module.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    vpn_gateway::cli::run(vpn_gateway::cli::Cli::parse())
}
