//! The gateway's control socket under hostile clients: silent ones, overlong or malformed lines,
//! and more clients at once than it serves. Each case binds its own server in a temp directory
//! it removes, and a tiny fake packet loop answers every request `done("x")`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vpn_gateway::runtime::control::server::MAX_CLIENTS;
use vpn_gateway::runtime::control::{request, ControlServer, Request, Response};

use crate::ike_util::ensure;
use crate::{expect_eq, Case};

const TIMED_OUT: &str = r#"{"ok":false,"error":"request timed out"}"#;
const TOO_LONG: &str = r#"{"ok":false,"error":"request too long"}"#;
const BUSY: &str = r#"{"ok":false,"error":"busy"}"#;

/// A directory for one case's socket, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(case: &str) -> Result<Self, String> {
        let d = std::env::temp_dir().join(format!("vpn-hostile-ctl-{}-{case}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        Ok(TempDir(d))
    }
    fn sock(&self) -> PathBuf {
        self.0.join("ctl.sock")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `f` against a server at a fresh socket, with a fake packet loop answering `done("x")`.
fn with_server(
    case: &str,
    f: impl FnOnce(&Path, &ControlServer) -> Result<(), String>,
) -> Result<(), String> {
    let dir = TempDir::new(case)?;
    let path = dir.sock();
    let server = ControlServer::spawn(&path).map_err(|e| format!("spawn: {e}"))?;
    let stop = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                while let Some(p) = server.try_next() {
                    p.respond(Response::done("x"));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let r = f(&path, &server);
        stop.store(true, Ordering::SeqCst);
        r
    });
    drop(server);
    ensure(!path.exists(), || "the socket file is not removed with the server".into())?;
    result
}

fn connect(path: &Path) -> Result<UnixStream, String> {
    let s = UnixStream::connect(path).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    Ok(s)
}

/// The one line the server answers, without its `\n`.
fn answer(s: &UnixStream) -> Result<String, String> {
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).map_err(|e| format!("reading the answer: {e}"))?;
    line.strip_suffix('\n').map(str::to_string).ok_or_else(|| format!("no whole line: {line:?}"))
}

/// Send `bytes` and read the answer.
fn exchange(path: &Path, bytes: &[u8]) -> Result<String, String> {
    let mut s = connect(path)?;
    s.write_all(bytes).map_err(|e| format!("write: {e}"))?;
    answer(&s)
}

fn silent_client_times_out_while_another_is_answered() -> Result<(), String> {
    with_server("silent", |path, _| {
        let started = Instant::now();
        let silent = connect(path)?;
        std::thread::sleep(Duration::from_millis(100));
        let status = request(path, &Request::Status).map_err(|e| format!("status: {e}"))?;
        expect_eq("status answered meanwhile", status, Response::done("x"))?;
        ensure(started.elapsed() < Duration::from_secs(1), || "status not answered within 1 s".into())?;
        expect_eq("the silent client's answer", answer(&silent)?.as_str(), TIMED_OUT)?;
        let waited = started.elapsed();
        ensure(waited >= Duration::from_millis(1900) && waited < Duration::from_secs(3), || {
            format!("timed out after {waited:?}, want 2 s (under 3 s)")
        })
    })
}

fn long_line_is_refused() -> Result<(), String> {
    with_server("long", |path, _| {
        let mut line = vec![b'a'; 5000];
        line.push(b'\n');
        expect_eq("answer to a 5000-byte line", exchange(path, &line)?.as_str(), TOO_LONG)
    })
}

fn bad_request(line: &[u8], want: &str) -> Result<(), String> {
    with_server("bad", |path, _| expect_eq("answer", exchange(path, line)?.as_str(), want))
}

fn more_clients_than_places() -> Result<(), String> {
    with_server("busy", |path, server| {
        let mut clients = Vec::new();
        for _ in 0..20 {
            clients.push(connect(path)?);
        }
        // The first MAX_CLIENTS hold their places (no answer yet: they have 2 s to send); the
        // others are told `busy` at once.
        for (i, c) in clients.iter().enumerate().skip(MAX_CLIENTS) {
            expect_eq(&format!("client {}", i + 1), answer(c)?.as_str(), BUSY)?;
        }
        expect_eq("clients served", server.active_clients(), MAX_CLIENTS)?;
        for (i, c) in clients.iter().enumerate().take(MAX_CLIENTS) {
            c.set_nonblocking(true).map_err(|e| e.to_string())?;
            let mut buf = [0u8; 1];
            let got = std::io::Read::read(&mut &*c, &mut buf);
            ensure(got.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), || {
                format!("client {} has an answer already: {got:?}", i + 1)
            })?;
        }
        drop(clients);
        let deadline = Instant::now() + Duration::from_secs(1);
        while server.active_clients() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        expect_eq("clients served after closing them", server.active_clients(), 0)?;
        let status = request(path, &Request::Status).map_err(|e| format!("status: {e}"))?;
        expect_eq("a real request afterwards", status, Response::done("x"))
    })
}

/// The cases.
pub fn cases() -> Vec<Case> {
    const EXPECTED: &str = "(expected status | initiate NAME | terminate NAME)";
    vec![
        Case::new("control-socket/silent-client-times-out-while-another-is-answered", || {
            silent_client_times_out_while_another_is_answered()
        }),
        Case::new("control-socket/5000-byte-line-is-too-long", long_line_is_refused),
        Case::new("control-socket/nul-in-line-is-a-bad-request", || {
            bad_request(
                b"status\0\n",
                &format!(r#"{{"ok":false,"error":"bad request \"status\\0\" {EXPECTED}"}}"#),
            )
        }),
        Case::new("control-socket/nul-in-name-is-a-bad-request", || {
            bad_request(
                b"initiate d\0c1\n",
                &format!(r#"{{"ok":false,"error":"bad request \"initiate d\\0c1\" {EXPECTED}"}}"#),
            )
        }),
        Case::new("control-socket/unknown-verb-is-a-bad-request", || {
            bad_request(
                b"reboot now\n",
                &format!(r#"{{"ok":false,"error":"bad request \"reboot now\" {EXPECTED}"}}"#),
            )
        }),
        Case::new("control-socket/20-silent-clients-the-17th-on-are-busy", more_clients_than_places),
    ]
}

/// Defects found here and fixed since.
pub fn regressions() -> Vec<Case> {
    Vec::new()
}
