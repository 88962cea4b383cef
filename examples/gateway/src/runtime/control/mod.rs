//! The control socket: a Unix stream socket where `vpn-gateway status|initiate|terminate` send
//! one request line and read one JSON response (like strongSwan's vici, much smaller).
//!
//! Requests: `status`, `initiate NAME`, `terminate NAME`. Responses: `{"ok":true,...}` or
//! `{"ok":false,"error":"..."}` on one line.
//!
//! This module holds the protocol and the client ([`request`]); [`server`] holds the gateway's
//! side, which serves clients on its own threads and hands their requests to the packet loop
//! through a queue ([`ControlServer::try_next`]) and a descriptor to poll ([`ControlServer::waker`]).

pub mod server;

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::status::StatusReport;

pub use server::{ControlServer, PendingRequest};

/// One request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The SA table.
    Status,
    /// Start a connection.
    Initiate(String),
    /// Close a connection's IKE SAs.
    Terminate(String),
}

impl Request {
    fn parse(line: &str) -> Result<Request, String> {
        let bad = || format!("bad request {line:?} (expected status | initiate NAME | terminate NAME)");
        // A NUL or another control character has no place in a request (a name with one would
        // only reach the logs); tabs separate words like spaces.
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err(bad());
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("status"), None, _) => Ok(Request::Status),
            (Some("initiate"), Some(n), None) => Ok(Request::Initiate(n.to_string())),
            (Some("terminate"), Some(n), None) => Ok(Request::Terminate(n.to_string())),
            _ => Err(bad()),
        }
    }

    fn line(&self) -> String {
        match self {
            Request::Status => "status".to_string(),
            Request::Initiate(n) => format!("initiate {n}"),
            Request::Terminate(n) => format!("terminate {n}"),
        }
    }
}

/// One response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A human-readable note (what was started or closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The SA table, for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusReport>,
}

impl Response {
    /// A success with a note.
    pub fn done(message: impl Into<String>) -> Self {
        Response { ok: true, error: None, message: Some(message.into()), status: None }
    }
    /// A failure.
    pub fn failed(error: impl Into<String>) -> Self {
        Response { ok: false, error: Some(error.into()), message: None, status: None }
    }
}

/// Send `req` to the gateway at `path` and read its response.
pub fn request(path: &Path, req: &Request) -> io::Result<Response> {
    let mut stream = UnixStream::connect(path)
        .map_err(|e| io::Error::new(e.kind(), format!("connecting to {}: {e}", path.display())))?;
    // Longer than the server's own limits (2 s to read the request, 10 s for the gateway's
    // answer), so that its "the gateway did not answer" arrives rather than a local timeout.
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    // A server that turns us away (`busy`, `permission denied`) answers and closes before it
    // reads: the write may then fail while its answer waits to be read.
    let sent = stream.write_all(format!("{}\n", req.line()).as_bytes());
    let mut line = String::new();
    let read = BufReader::new(&stream).read_line(&mut line);
    if line.is_empty() {
        sent?;
        read?;
    }
    serde_json::from_str(&line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_round_trip() {
        for r in [Request::Status, Request::Initiate("dc1".into()), Request::Terminate("dc1".into())] {
            assert_eq!(Request::parse(&r.line()), Ok(r));
        }
        assert!(Request::parse("initiate").is_err());
        assert!(Request::parse("status extra").is_err());
        assert!(Request::parse("reboot").is_err());
        assert!(Request::parse("status\0").is_err());
        assert!(Request::parse("initiate d\0c1").is_err());
        assert_eq!(Request::parse("initiate\tdc1"), Ok(Request::Initiate("dc1".into())));
    }
}
