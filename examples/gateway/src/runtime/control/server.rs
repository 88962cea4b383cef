//! The gateway's side of the control socket.
//!
//! [`ControlServer::spawn`] binds the socket and accepts on its own thread; every client gets a
//! thread of its own (at most [`MAX_CLIENTS`] at once) that checks who the peer is, reads one
//! bounded request line under a deadline, and answers malformed requests itself. A well-formed
//! request goes into a queue for the packet loop, which polls [`ControlServer::waker`] alongside
//! its sockets and takes requests with [`ControlServer::try_next`] without ever blocking; the
//! client thread waits (at most [`ANSWER_DEADLINE`]) for [`PendingRequest::respond`].
//!
//! So no client, however slow or silent, holds up the packet loop or another client.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::net::SendFlags;

use super::{Request, Response};

/// The longest request line, its `\n` included.
pub const MAX_REQUEST: usize = 4096;
/// How long a client has, from being accepted, to send its request line.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
/// How long a client thread waits for the packet loop's answer.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(10);
/// Clients served at once; one more is answered `busy` and closed.
pub const MAX_CLIENTS: usize = 16;

/// The error a client gets when the packet loop does not answer in time (or is stopping).
pub const NO_ANSWER: &str = "the gateway did not answer";
/// How long writing a response may take before the client is dropped.
const WRITE_DEADLINE: Duration = Duration::from_secs(2);

/// A request taken from the queue; answer it with [`PendingRequest::respond`]. Dropping it
/// unanswered answers the client [`NO_ANSWER`] at once.
#[derive(Debug)]
pub struct PendingRequest {
    /// What the client asked.
    pub request: Request,
    reply: mpsc::Sender<Response>,
}

impl PendingRequest {
    /// Send the response to the client (if it is still waiting).
    pub fn respond(self, r: Response) {
        let _ = self.reply.send(r);
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<PendingRequest>,
    /// The server is being dropped: nobody will take requests any more.
    stopped: bool,
}

/// What the accept thread, the client threads and the server share.
struct Shared {
    /// Pushed to (with a byte to `waker_tx`) and popped (draining the waker when it empties)
    /// under this lock only, so the waker is readable exactly while the queue is non-empty.
    queue: Mutex<Queue>,
    waker_tx: UnixStream,
    /// Client threads running.
    active: AtomicUsize,
    stop: AtomicBool,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The gateway's listening side: see the module documentation.
pub struct ControlServer {
    shared: Arc<Shared>,
    /// Non-blocking; readable while a request waits.
    waker_rx: UnixStream,
    /// Dropped to wake the accept thread.
    stop_tx: Option<UnixStream>,
    accept: Option<JoinHandle<()>>,
    path: PathBuf,
    /// Device and inode of the socket file we bound, so that Drop removes only our own.
    file_id: Option<(u64, u64)>,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("path", &self.path)
            .field("active_clients", &self.active_clients())
            .finish_non_exhaustive()
    }
}

impl ControlServer {
    /// Listen at `path` and accept clients on a thread of our own. The socket file is created
    /// with mode 0600 (no moment where it is open to others, see [`bind_private`]); a stale
    /// socket file from an earlier run is replaced, a socket someone still listens on is an
    /// `AddrInUse` error and anything else at `path` an `AlreadyExists` one. The directory
    /// must exist.
    pub fn spawn(path: &Path) -> io::Result<ControlServer> {
        let listener = bind_private(path)?;
        listener.set_nonblocking(true)?;
        let file_id = fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()));
        let (waker_rx, waker_tx) = UnixStream::pair()?;
        waker_rx.set_nonblocking(true)?;
        waker_tx.set_nonblocking(true)?;
        let (stop_rx, stop_tx) = UnixStream::pair()?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            waker_tx,
            active: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept = std::thread::Builder::new()
            .name("vpn-ctl-accept".into())
            .spawn(move || accept_loop(&listener, &stop_rx, &s))?;
        Ok(ControlServer {
            shared,
            waker_rx,
            stop_tx: Some(stop_tx),
            accept: Some(accept),
            path: path.to_path_buf(),
            file_id,
        })
    }

    /// A descriptor that is readable while a request waits in the queue: poll it with the
    /// packet loop's sockets.
    pub fn waker(&self) -> BorrowedFd<'_> {
        self.waker_rx.as_fd()
    }

    /// Take the oldest waiting request, without blocking.
    pub fn try_next(&self) -> Option<PendingRequest> {
        let mut q = self.shared.queue();
        let next = q.items.pop_front();
        // Drain only when something was taken: the packet loop calls this every turn, and an
        // empty queue has an empty waker, so no system call is needed then.
        if next.is_some() && q.items.is_empty() {
            self.drain_waker();
        }
        next
    }

    /// Client threads running now (each holds one of the [`MAX_CLIENTS`] places).
    pub fn active_clients(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn drain_waker(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.waker_rx).read(&mut buf), Ok(n) if n > 0) {}
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            // Unanswered requests are dropped: their clients hear NO_ANSWER now, and client
            // threads still reading (for at most REQUEST_DEADLINE) answer it too. Those threads
            // are not joined; each ends within that deadline.
            let mut q = self.shared.queue();
            q.stopped = true;
            q.items.clear();
            self.drain_waker();
        }
        // Closing our end makes the accept thread's poll return.
        drop(self.stop_tx.take());
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let ours = fs::symlink_metadata(&self.path).ok().map(|m| (m.dev(), m.ino()));
        if ours.is_some() && ours == self.file_id {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Bind a listener at `path` whose file is never reachable by anyone but us.
///
/// `bind()` creates the socket file with mode 0777 less the umask, and a chmod after it leaves a
/// window where another user could connect. Setting the umask instead would change it for the
/// whole process, every thread included, for that moment. So the socket is bound in a fresh
/// directory of mode 0700 next to `path` (same file system), chmod'ed to 0600 there where
/// nobody else can reach it, and renamed onto `path` — which also replaces a stale socket file
/// atomically. The directory is removed again; its name is `.vpn-ctl.PID.N` beside `path`, so
/// the path of the temporary socket is about 22 bytes longer than `path` itself (a Unix
/// socket path has at most 107 bytes).
///
/// Between the check that a socket at `path` is stale and the rename, another gateway starting
/// at the same moment could bind `path` and have its socket replaced; as before, we do not
/// guard against two gateways racing for one socket.
pub fn bind_private(path: &Path) -> io::Result<UnixListener> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: a gateway is listening there already", path.display()),
                ));
            }
            // Stale: nobody listens. The rename below replaces it.
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if path.file_name().is_none() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{}: no file name", path.display())));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut n = 0u32;
    let dir = loop {
        let d = parent.join(format!(".vpn-ctl.{}.{n}", std::process::id()));
        match fs::DirBuilder::new().mode(0o700).create(&d) {
            Ok(()) => break d,
            // Never reuse a directory we did not just create.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    };
    let tmp = dir.join("s");
    let bound = UnixListener::bind(&tmp).and_then(|l| {
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
        fs::rename(&tmp, path)?;
        Ok(l)
    });
    let _ = fs::remove_file(&tmp);
    let _ = fs::remove_dir(&dir);
    bound
}

fn accept_loop(listener: &UnixListener, stop_rx: &UnixStream, shared: &Arc<Shared>) {
    let own = rustix::process::geteuid().as_raw();
    loop {
        // Readable: a client waits, or the server closed `stop_tx`. The timeout is a backstop.
        let _ =
            vpn_transport::wait_readable(&[listener.as_fd(), stop_rx.as_fd()], Some(Duration::from_secs(1)));
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        loop {
            match listener.accept() {
                Ok((stream, _)) => admit(stream, own, shared),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors, say: do not spin on a listener that stays readable.
                    tracing::warn!(error = %e, "control socket: accept failed");
                    std::thread::sleep(Duration::from_millis(50));
                    break;
                }
            }
        }
    }
}

/// Whether a peer with user ID `peer` may use the control socket of a gateway running as `own`.
fn allowed(peer: u32, own: u32) -> bool {
    peer == own || peer == 0
}

/// Check the peer and the number of clients, then serve it on a thread of its own.
fn admit(stream: UnixStream, own: u32, shared: &Arc<Shared>) {
    let accepted = Instant::now();
    // Accepted sockets do not inherit the listener's O_NONBLOCK on Linux; make sure.
    if stream.set_nonblocking(false).is_err() || stream.set_write_timeout(Some(WRITE_DEADLINE)).is_err() {
        return;
    }
    match rustix::net::sockopt::socket_peercred(&stream) {
        Ok(cred) if allowed(cred.uid.as_raw(), own) => {}
        Ok(cred) => {
            let uid = cred.uid.as_raw();
            tracing::warn!(uid, pid = cred.pid.as_raw_nonzero().get(), "control socket: peer refused");
            return reply(&stream, &Response::failed(format!("permission denied: uid {uid}")));
        }
        Err(e) => return reply(&stream, &Response::failed(format!("permission denied: {e}"))),
    }
    if shared.active.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
        shared.active.fetch_sub(1, Ordering::SeqCst);
        return reply(&stream, &Response::failed("busy"));
    }
    let s = shared.clone();
    let spawned = std::thread::Builder::new().name("vpn-ctl-client".into()).spawn(move || {
        let _place = Place(&s);
        serve_client(&stream, accepted, &s);
    });
    if spawned.is_err() {
        // The closure (and with it the stream and the place) is gone unrun: give the place back.
        shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One of the MAX_CLIENTS places, given back when the client thread ends.
struct Place<'a>(&'a Shared);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why no request line came.
#[derive(Debug)]
enum ReadError {
    TimedOut,
    TooLong,
    Io(io::Error),
}

/// Read up to the first `\n` (or the end of the stream), at most MAX_REQUEST bytes, by `deadline`.
fn read_line(mut stream: &UnixStream, deadline: Instant) -> Result<String, ReadError> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; MAX_REQUEST];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::TimedOut);
        }
        stream.set_read_timeout(Some(left)).map_err(ReadError::Io)?;
        // Never read past MAX_REQUEST bytes in all.
        let room = MAX_REQUEST - buf.len();
        match stream.read(&mut chunk[..room]) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(i) = chunk[..n].iter().position(|b| *b == b'\n') {
                    buf.extend_from_slice(&chunk[..i]);
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() >= MAX_REQUEST {
                    return Err(ReadError::TooLong);
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(ReadError::TimedOut)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    // Not UTF-8: lossy, so that the parser's `bad request` shows what came.
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn serve_client(stream: &UnixStream, accepted: Instant, shared: &Shared) {
    let response = match read_line(stream, accepted + REQUEST_DEADLINE) {
        Err(ReadError::TimedOut) => Response::failed("request timed out"),
        Err(ReadError::TooLong) => Response::failed("request too long"),
        Err(ReadError::Io(e)) => Response::failed(format!("reading the request: {e}")),
        Ok(line) => match Request::parse(line.trim()) {
            Err(e) => Response::failed(e),
            Ok(request) => ask_gateway(request, shared),
        },
    };
    reply(stream, &response);
}

/// Queue `request` for the packet loop and wait for its answer.
fn ask_gateway(request: Request, shared: &Shared) -> Response {
    let (tx, rx) = mpsc::channel();
    {
        let mut q = shared.queue();
        if q.stopped {
            return Response::failed(NO_ANSWER);
        }
        q.items.push_back(PendingRequest { request, reply: tx });
        // A full pipe already makes the waker readable: a failed write changes nothing.
        let _ = rustix::net::send(&shared.waker_tx, &[1], SendFlags::NOSIGNAL | SendFlags::DONTWAIT);
    }
    rx.recv_timeout(ANSWER_DEADLINE).unwrap_or_else(|_| Response::failed(NO_ANSWER))
}

/// Write `r` as one JSON line; a client that went away is not our concern (no SIGPIPE).
fn reply(stream: &UnixStream, r: &Response) {
    let Ok(mut line) = serde_json::to_vec(r) else { return };
    line.push(b'\n');
    let mut rest = &line[..];
    while !rest.is_empty() {
        match rustix::net::send(stream, rest, SendFlags::NOSIGNAL) {
            Ok(0) => return,
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::request;
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// A directory of our own for one test's socket, removed at the end.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!("vpn-gw-ctl-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
        fn sock(&self) -> PathBuf {
            self.0.join("ctl.sock")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Answer every request with `done("x")` until `stop`, as the packet loop would.
    fn fake_loop(server: &ControlServer, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            let _ = vpn_transport::wait_readable(&[server.waker()], Some(Duration::from_millis(20)));
            while let Some(p) = server.try_next() {
                p.respond(Response::done("x"));
            }
        }
    }

    fn read_response(s: &UnixStream) -> Response {
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    fn readable(fd: BorrowedFd<'_>) -> bool {
        vpn_transport::wait_readable(&[fd], Some(Duration::ZERO)).unwrap()
    }

    #[test]
    fn server_answers_a_client() {
        let dir = TempDir::new("answers");
        let path = dir.sock();
        let server = ControlServer::spawn(&path).unwrap();
        assert!(!readable(server.waker()), "nothing waits yet");
        assert!(server.try_next().is_none());
        let p = path.clone();
        let client = std::thread::spawn(move || request(&p, &Request::Initiate("dc1".into())).unwrap());
        assert!(vpn_transport::wait_readable(&[server.waker()], Some(Duration::from_secs(5))).unwrap());
        let pending = server.try_next().expect("a request waits");
        assert_eq!(pending.request, Request::Initiate("dc1".into()));
        assert!(!readable(server.waker()), "the waker is drained with the queue");
        pending.respond(Response::done("started"));
        assert_eq!(client.join().unwrap(), Response::done("started"));
        drop(server);
        assert!(!path.exists(), "socket file removed");
    }

    #[test]
    fn an_unanswered_request_is_refused_when_dropped() {
        let dir = TempDir::new("unanswered");
        let path = dir.sock();
        let server = ControlServer::spawn(&path).unwrap();
        let p = path.clone();
        let client = std::thread::spawn(move || request(&p, &Request::Status).unwrap());
        assert!(vpn_transport::wait_readable(&[server.waker()], Some(Duration::from_secs(5))).unwrap());
        let started = Instant::now();
        drop(server.try_next().unwrap());
        assert_eq!(client.join().unwrap(), Response::failed(NO_ANSWER));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_long_line_is_refused() {
        let dir = TempDir::new("long");
        let server = ControlServer::spawn(&dir.sock()).unwrap();
        let mut s = UnixStream::connect(dir.sock()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut line = vec![b'a'; 5000];
        line.push(b'\n');
        s.write_all(&line).unwrap();
        assert_eq!(read_response(&s), Response::failed("request too long"));
        // A line of exactly MAX_REQUEST bytes, its newline included, is read and parsed.
        let mut s = UnixStream::connect(dir.sock()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut line = vec![b'a'; MAX_REQUEST - 1];
        line.push(b'\n');
        s.write_all(&line).unwrap();
        let r = read_response(&s);
        assert!(r.error.as_deref().is_some_and(|e| e.starts_with("bad request")), "{r:?}");
        assert!(server.try_next().is_none(), "nothing reached the packet loop");
    }

    #[test]
    fn a_silent_client_times_out_without_delaying_another() {
        let dir = TempDir::new("silent");
        let server = ControlServer::spawn(&dir.sock()).unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| fake_loop(&server, &stop));
            let started = Instant::now();
            let silent = UnixStream::connect(dir.sock()).unwrap();
            silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            assert_eq!(request(&dir.sock(), &Request::Status).unwrap(), Response::done("x"));
            assert!(started.elapsed() < Duration::from_secs(1), "answered while the silent one waits");
            assert_eq!(read_response(&silent), Response::failed("request timed out"));
            let waited = started.elapsed();
            assert!(waited >= Duration::from_millis(1900) && waited < Duration::from_secs(3), "{waited:?}");
            stop.store(true, Ordering::SeqCst);
        });
    }

    #[test]
    fn the_socket_file_is_0600_and_no_directory_is_left() {
        let dir = TempDir::new("mode");
        let server = ControlServer::spawn(&dir.sock()).unwrap();
        let m = fs::symlink_metadata(dir.sock()).unwrap();
        assert!(m.file_type().is_socket());
        assert_eq!(m.permissions().mode() & 0o7777, 0o600);
        let names: Vec<_> = fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("ctl.sock")]);
        drop(server);
    }

    #[test]
    fn a_stale_socket_is_replaced_a_live_one_or_a_file_is_not() {
        let dir = TempDir::new("stale");
        let path = dir.sock();
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "a stale socket file is left behind");
        let server = ControlServer::spawn(&path).unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| fake_loop(&server, &stop));
            assert_eq!(request(&path, &Request::Status).unwrap(), Response::done("x"));
            let e = ControlServer::spawn(&path).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
            assert_eq!(request(&path, &Request::Status).unwrap(), Response::done("x"), "still ours");
            stop.store(true, Ordering::SeqCst);
        });
        drop(server);
        assert!(!path.exists());
        fs::write(&path, b"not a socket").unwrap();
        assert_eq!(ControlServer::spawn(&path).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"not a socket");
    }

    #[test]
    fn drop_stops_the_accept_thread() {
        let dir = TempDir::new("drop");
        let server = ControlServer::spawn(&dir.sock()).unwrap();
        let started = Instant::now();
        drop(server);
        assert!(started.elapsed() < Duration::from_millis(500), "the accept thread woke at once");
        assert!(!dir.sock().exists());
    }

    #[test]
    fn a_foreign_uid_is_refused() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("not root: cannot act as another user; skipped");
            return;
        }
        let dir = TempDir::new("foreign");
        let server = ControlServer::spawn(&dir.sock()).unwrap();
        // The mode keeps other users out already; open it to reach the SO_PEERCRED check.
        fs::set_permissions(dir.sock(), fs::Permissions::from_mode(0o666)).unwrap();
        let path = dir.sock();
        // Only this thread's credentials change (the raw system call, not libc's setuid).
        let r = std::thread::spawn(move || {
            rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(65534)).unwrap();
            request(&path, &Request::Status).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(r, Response::failed("permission denied: uid 65534"));
        assert!(server.try_next().is_none());
    }

    #[test]
    fn only_our_uid_or_root() {
        assert!(allowed(1000, 1000));
        assert!(allowed(0, 1000));
        assert!(!allowed(1001, 1000));
        assert!(!allowed(1000, 0));
    }
}
