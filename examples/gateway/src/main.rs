//! `vpn-gateway`: see `vpn-gateway --help` and the crate's `cli` module.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = vpn_gateway::cli::Cli::parse();
    // The demo prints its own story; a running gateway logs what it does.
    let default = if matches!(cli.command, vpn_gateway::cli::Command::Demo) { "warn" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)))
        .with_writer(std::io::stderr)
        // Colours only on a terminal: logs written to files stay greppable.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    vpn_gateway::cli::run(cli)
}
