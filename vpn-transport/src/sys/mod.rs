//! The only place with `unsafe`: thin wrappers around the libc calls std does not offer
//! (`recvmmsg`, `sendmmsg`, the `UDP_SEGMENT` socket option and control message, `poll`, and the
//! TUN `ioctl`). Each wrapper has a safe signature; each `unsafe` block says why it is sound.

#[cfg(target_os = "linux")]
mod mmsg;
#[cfg(all(target_os = "linux", feature = "tun"))]
mod tun;

#[cfg(target_os = "linux")]
pub(crate) use mmsg::{enable_pktinfo, probe_gso, recv_mmsg, send_mmsg};
#[cfg(all(target_os = "linux", feature = "tun"))]
pub(crate) use tun::open_tun;

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// Most datagrams one `recvmmsg`/`sendmmsg` call moves (the arrays live on the stack).
pub(crate) const MAX_BATCH: usize = 64;

/// Where one received datagram went and who sent it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RecvSlot {
    /// Bytes received.
    pub(crate) len: usize,
    /// The sender.
    pub(crate) addr: Option<std::net::SocketAddr>,
    /// The datagram was longer than the buffer and was cut.
    pub(crate) truncated: bool,
    /// The destination address in its IP header (from `IP_PKTINFO`/`IPV6_PKTINFO`, when on).
    pub(crate) dst: Option<std::net::IpAddr>,
}

/// One datagram to send: `data` to `dst`, cut by the kernel into `segment`-byte datagrams when
/// `segment` is set (UDP GSO), from source address `src` when set (on a wildcard-bound socket).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendItem<'a> {
    pub(crate) dst: std::net::SocketAddr,
    pub(crate) src: Option<std::net::IpAddr>,
    pub(crate) data: &'a [u8],
    pub(crate) segment: Option<u16>,
}

/// Wait until one of `fds` is readable or `timeout` passes (`None`: forever). Returns whether
/// any is readable. An interrupted wait returns `Ok(false)`.
pub(crate) fn poll_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<bool> {
    poll(fds, libc::POLLIN, timeout)
}

/// Wait until one of `fds` is writable or `timeout` passes; as [`poll_readable`].
pub(crate) fn poll_writable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<bool> {
    poll(fds, libc::POLLOUT, timeout)
}

fn poll(fds: &[BorrowedFd<'_>], events: libc::c_short, timeout: Option<Duration>) -> io::Result<bool> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|fd| libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 }).collect();
    let ms = match timeout {
        None => -1,
        // Round up so a short timeout does not become a busy loop of zero-millisecond polls.
        Some(d) => i32::try_from(d.as_micros().div_ceil(1000)).unwrap_or(i32::MAX),
    };
    // SAFETY: `pfds` is a valid, exclusively borrowed array of `pfds.len()` pollfd structs for
    // the duration of the call; the descriptors are borrowed, hence open.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
    }
    Ok(r > 0)
}
