//! Command line: `vpn-gateway <run|demo|status|initiate|terminate|check>`.
//!
//! Each subcommand is a function here returning the process exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, DEFAULT_CONTROL_SOCKET};
use crate::runtime::control::{Request, Response};

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
        Command::Run { config, keylog } => {
            // Refuse to start on any config error, before anything else happens.
            match load_or_report(&config, &mut std::io::stderr()) {
                Ok(c) => crate::runtime::run(c, keylog.as_deref()),
                Err(code) => code,
            }
        }
        Command::Demo => crate::demo::run(&mut std::io::stdout()),
        Command::Status { socket, json } => status(&socket, json),
        Command::Initiate { name, socket } => control(&socket, Request::Initiate(name)),
        Command::Terminate { name, socket } => control(&socket, Request::Terminate(name)),
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

/// `status [--json]`: the running gateway's SAs.
fn status(socket: &Path, json: bool) -> ExitCode {
    match crate::runtime::control::request(socket, &Request::Status) {
        Ok(Response { ok: true, status: Some(report), .. }) => {
            if json {
                println!("{}", report.to_json());
            } else {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                print!("{}", report.render_text(now));
            }
            ExitCode::SUCCESS
        }
        Ok(r) => {
            eprintln!("vpn-gateway status: {}", r.error.unwrap_or_else(|| "no status in the answer".into()));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("vpn-gateway status: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `initiate NAME` / `terminate NAME`.
fn control(socket: &Path, req: Request) -> ExitCode {
    match crate::runtime::control::request(socket, &req) {
        Ok(Response { ok: true, message, .. }) => {
            println!("{}", message.unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(r) => {
            eprintln!("vpn-gateway: {}", r.error.unwrap_or_default());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("vpn-gateway: {e}");
            ExitCode::FAILURE
        }
    }
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
