//! Command line: `vpn-gateway <run|demo|status|initiate|terminate|check>`.
//!
//! Each subcommand is a function here returning the process exit code; the ones that need the IKE
//! endpoint and the transport driver are stubs until those crates land (exit code 2).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, DEFAULT_CONTROL_SOCKET};

/// Exit code of a command that is not implemented yet.
pub const EXIT_NOT_IMPLEMENTED: u8 = 2;

/// An IKEv2/IPsec VPN gateway.
#[derive(Debug, Parser)]
#[command(name = "vpn-gateway", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway in the foreground (logs to stderr; RUST_LOG is respected).
    Run {
        /// Config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Write IKE and ESP keys in Wireshark's decryption-table formats into this directory.
        #[arg(long, value_name = "DIR")]
        keylog: Option<PathBuf>,
    },
    /// Two gateways on loopback with smoltcp hosts behind them: a tunnel, a TCP transfer, the SAs.
    Demo,
    /// Show the IKE and Child SAs of a running gateway, like `swanctl --list-sas`.
    Status {
        /// Control socket of the gateway.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
        socket: PathBuf,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Start a connection now.
    Initiate {
        /// Connection name.
        name: String,
        /// Control socket of the gateway.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
        socket: PathBuf,
    },
    /// Close a connection's SAs.
    Terminate {
        /// Connection name.
        name: String,
        /// Control socket of the gateway.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL_SOCKET)]
        socket: PathBuf,
    },
    /// Validate a config file; every error names the line and the field.
    Check {
        /// Config file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check { config } => check(&config, &mut std::io::stdout(), &mut std::io::stderr()),
        Command::Run { config, keylog: _ } => {
            // Refuse to start on any config error, before anything else happens.
            if let Err(code) = load_or_report(&config, &mut std::io::stderr()) {
                return code;
            }
            not_implemented("run")
        }
        Command::Demo => not_implemented("demo"),
        Command::Status { .. } => not_implemented("status"),
        Command::Initiate { .. } => not_implemented("initiate"),
        Command::Terminate { .. } => not_implemented("terminate"),
    }
}

/// `check --config FILE`: prints `FILE: ok, N connections` to `out`, or every error and a count
/// to `err` (exit code 1).
pub fn check(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    match load_or_report(path, err) {
        Ok(c) => {
            let n = c.connections.len();
            let _ = writeln!(out, "{}: ok, {n} connection{}", path.display(), if n == 1 { "" } else { "s" });
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Load the config, or print every error to `err` and return exit code 1.
pub fn load_or_report(path: &Path, err: &mut dyn Write) -> Result<config::Config, ExitCode> {
    match config::load(path) {
        Ok(c) => Ok(c),
        Err(errors) => {
            let _ = writeln!(err, "{errors}");
            let n = errors.len();
            let _ = writeln!(err, "{}: {n} error{}", path.display(), if n == 1 { "" } else { "s" });
            Err(ExitCode::FAILURE)
        }
    }
}

fn not_implemented(what: &str) -> ExitCode {
    eprintln!("vpn-gateway {what}: not implemented yet");
    ExitCode::from(EXIT_NOT_IMPLEMENTED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_parse() {
        let c =
            Cli::try_parse_from(["vpn-gateway", "run", "--config", "gw.toml", "--keylog", "/tmp/k"]).unwrap();
        assert!(matches!(c.command, Command::Run { keylog: Some(_), .. }));
        let c = Cli::try_parse_from(["vpn-gateway", "status", "--json"]).unwrap();
        assert!(
            matches!(c.command, Command::Status { json: true, ref socket } if socket == Path::new(DEFAULT_CONTROL_SOCKET))
        );
        let c = Cli::try_parse_from(["vpn-gateway", "initiate", "dc1"]).unwrap();
        assert!(matches!(c.command, Command::Initiate { ref name, .. } if name == "dc1"));
        assert!(Cli::try_parse_from(["vpn-gateway", "check"]).is_err());
    }
}
