//! The control socket: a Unix stream socket where `vpn-gateway status|initiate|terminate` send
//! one request line and read one JSON response (like strongSwan's vici, much smaller).
//!
//! Requests: `status`, `initiate NAME`, `terminate NAME`. Responses: `{"ok":true,...}` or
//! `{"ok":false,"error":"..."}` on one line.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::status::StatusReport;

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
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("status"), None, _) => Ok(Request::Status),
            (Some("initiate"), Some(n), None) => Ok(Request::Initiate(n.to_string())),
            (Some("terminate"), Some(n), None) => Ok(Request::Terminate(n.to_string())),
            _ => Err(format!("bad request {line:?} (expected status | initiate NAME | terminate NAME)")),
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

/// The gateway's listening side.
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlServer {
    /// Listen at `path` (a stale socket file from an earlier run is replaced; the directory
    /// must exist). The socket is readable by its owner only.
    pub fn bind(path: &Path) -> io::Result<Self> {
        if path.exists() && UnixStream::connect(path).is_err() {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(ControlServer { listener, path: path.to_path_buf() })
    }

    /// Serve every waiting client: read its request, answer with `handle`'s response.
    pub fn serve(&self, mut handle: impl FnMut(Request) -> Response) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut line = String::new();
            let mut reader = BufReader::new(&stream);
            let response = match reader.read_line(&mut line) {
                Ok(_) => match Request::parse(line.trim()) {
                    Ok(req) => handle(req),
                    Err(e) => Response::failed(e),
                },
                Err(e) => Response::failed(format!("reading the request: {e}")),
            };
            let mut w = &stream;
            let _ = serde_json::to_writer(&mut w, &response);
            let _ = w.write_all(b"\n");
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Send `req` to the gateway at `path` and read its response.
pub fn request(path: &Path, req: &Request) -> io::Result<Response> {
    let mut stream = UnixStream::connect(path)
        .map_err(|e| io::Error::new(e.kind(), format!("connecting to {}: {e}", path.display())))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(format!("{}\n", req.line()).as_bytes())?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
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
    }

    #[test]
    fn server_answers_a_client() {
        let dir = std::env::temp_dir().join(format!("vpn-gw-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ctl.sock");
        let server = ControlServer::bind(&path).unwrap();
        let p = path.clone();
        let client = std::thread::spawn(move || request(&p, &Request::Initiate("dc1".into())).unwrap());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut seen = None;
        while seen.is_none() && std::time::Instant::now() < deadline {
            server.serve(|r| {
                seen = Some(r);
                Response::done("started")
            });
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(seen, Some(Request::Initiate("dc1".into())));
        assert_eq!(client.join().unwrap(), Response::done("started"));
        drop(server);
        assert!(!path.exists(), "socket file removed");
        let _ = std::fs::remove_dir_all(dir);
    }
}
