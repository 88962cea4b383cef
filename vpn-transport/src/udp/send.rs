//! Sending: batches through `sendmmsg`, UDP GSO, and the one-at-a-time fallback.
#![forbid(unsafe_code)]

use std::io;
use std::net::{IpAddr, SocketAddr};
#[cfg(target_os = "linux")]
use std::os::fd::AsFd;

use super::{PortKind, UdpEndpoint, MAX_GSO_SEGMENTS};
use crate::sys::{self, SendItem, MAX_BATCH};

/// Largest payload of one GSO send: UDP lengths are 16 bits (the IPv4 total length too).
pub(super) const GSO_MAX_BYTES: usize = 65_000;

/// One datagram to send or, with a segment size, a run of datagrams to one peer laid out back
/// to back (every one `segment_size` bytes but the last, which may be shorter), sent with one
/// UDP GSO system call where the kernel has it and split in userspace where not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// The port to send from.
    pub port: PortKind,
    /// The local address to send from: picks the socket bound to it when several are bound,
    /// and on a socket bound to an unspecified address asks the kernel for it as the source
    /// (Linux, batched path). `None`: the first socket of the family, the kernel's choice.
    pub src: Option<IpAddr>,
    /// The destination.
    pub remote: SocketAddr,
    /// The bytes: one datagram, or several of `segment_size` bytes.
    pub contents: &'a [u8],
    /// Datagram size when `contents` holds several, at most [`MAX_GSO_SEGMENTS`] of them.
    pub segment_size: Option<usize>,
}

impl<'a> Transmit<'a> {
    /// One datagram `contents` from `port` to `remote`.
    pub fn new(port: PortKind, remote: SocketAddr, contents: &'a [u8]) -> Self {
        Transmit { port, src: None, remote, contents, segment_size: None }
    }

    /// `contents` holds datagrams of `size` bytes back to back (the last may be shorter).
    pub fn segments(mut self, size: usize) -> Self {
        self.segment_size = Some(size);
        self
    }

    /// Send from local address `ip`.
    pub fn from_ip(mut self, ip: IpAddr) -> Self {
        self.src = Some(ip);
        self
    }

    /// The segment size if `contents` holds more than one datagram.
    fn seg(&self) -> Option<usize> {
        self.segment_size.filter(|&s| s > 0 && s < self.contents.len())
    }

    /// How many datagrams this transmit puts on the wire.
    pub fn datagrams(&self) -> usize {
        self.seg().map_or(1, |s| self.contents.len().div_ceil(s))
    }
}

const EMPTY: SendItem<'static> = SendItem {
    dst: SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0)),
    src: None,
    data: &[],
    segment: None,
};

/// Cut `t` into system-call items: GSO items of up to [`GSO_MAX_BYTES`], or one per datagram.
/// `src` is the source address to ask for (sockets bound to an unspecified address).
fn pieces<'a>(t: &Transmit<'a>, gso: bool, src: Option<IpAddr>, mut push: impl FnMut(SendItem<'a>)) {
    let Some(seg) = t.seg() else {
        push(SendItem { dst: t.remote, src, data: t.contents, segment: None });
        return;
    };
    let per = if gso && seg <= usize::from(u16::MAX) {
        (GSO_MAX_BYTES / seg).clamp(1, MAX_GSO_SEGMENTS) * seg
    } else {
        seg
    };
    for chunk in t.contents.chunks(per) {
        let segment = (chunk.len() > seg).then_some(seg as u16);
        push(SendItem { dst: t.remote, src, data: chunk, segment });
    }
}

fn count_pieces(t: &Transmit<'_>, gso: bool) -> usize {
    let mut n = 0;
    pieces(t, gso, None, |_| n += 1);
    n
}

fn is_gso_refused(e: &io::Error) -> bool {
    // A device without checksum offload cannot segment (quinn-udp sees the same).
    e.raw_os_error() == Some(libc::EIO)
}

fn is_segment_too_big(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMSGSIZE) | Some(libc::EINVAL))
}

impl UdpEndpoint {
    fn route(&self, t: &Transmit<'_>) -> Option<usize> {
        self.find(t.port, t.src, t.remote.is_ipv6())
    }

    /// Send `transmits` in order without blocking. Returns how many were dealt with: all of
    /// them, or fewer when the socket buffer filled (send the rest later, after
    /// [`crate::wait_writable`]); `WouldBlock` when not even the first went. A datagram the
    /// kernel refuses (unreachable network, too big) or that no bound socket can send is
    /// dropped and counted in [`super::UdpStats::send_errors`], as the network would drop it.
    ///
    /// A transmit split in userspace that fills the socket buffer half way is counted as not
    /// sent and will be sent whole next time: its first datagrams go twice (ESP's replay
    /// window drops the copies).
    pub fn send(&mut self, transmits: &[Transmit<'_>]) -> io::Result<usize> {
        for t in transmits {
            if let Some(seg) = t.seg() {
                if t.contents.len().div_ceil(seg) > MAX_GSO_SEGMENTS {
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, "more than 64 segments"));
                }
            }
        }
        let mut t = 0;
        'batch: while t < transmits.len() {
            let Some(sock) = self.route(&transmits[t]) else {
                self.stats.send_errors += transmits[t].datagrams() as u64;
                tracing::debug!(remote = %transmits[t].remote, "no socket to send from");
                t += 1;
                continue;
            };
            let gso = self.sockets[sock].gso;
            let wildcard = self.sockets[sock].local.ip().is_unspecified();
            let mut items = [EMPTY; MAX_BATCH];
            let mut owner = [0usize; MAX_BATCH];
            let mut n = 0;
            let mut u = t;
            while u < transmits.len() && self.route(&transmits[u]) == Some(sock) {
                let tr = &transmits[u];
                if n + count_pieces(tr, gso) > MAX_BATCH {
                    break;
                }
                let src = if wildcard { tr.src } else { None };
                pieces(tr, gso, src, |item| {
                    items[n] = item;
                    owner[n] = u;
                    n += 1;
                });
                u += 1;
            }
            let mut off = 0;
            while off < n {
                match self.send_raw(sock, &items[off..n]) {
                    Ok(r) if r > 0 => {
                        for it in &items[off..off + r] {
                            match it.segment {
                                Some(s) => {
                                    self.stats.sent += it.data.len().div_ceil(usize::from(s)) as u64;
                                    self.stats.gso_sends += 1;
                                }
                                None => self.stats.sent += 1,
                            }
                        }
                        off += r;
                    }
                    Ok(_) => return partial(owner[off], io::ErrorKind::WouldBlock.into()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return partial(owner[off], e),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if items[off].segment.is_some() && is_gso_refused(&e) => {
                        tracing::info!(local = %self.sockets[sock].local, "UDP GSO refused; sending without it");
                        self.sockets[sock].gso = false;
                        t = owner[off];
                        continue 'batch;
                    }
                    Err(e) if items[off].segment.is_some() && is_segment_too_big(&e) => {
                        // A segment longer than the path MTU (the kernel does not fragment GSO
                        // segments): send this run as separate datagrams, which the kernel may
                        // fragment like any other.
                        self.send_split(sock, items[off]);
                        off += 1;
                    }
                    Err(e) => {
                        let it = &items[off];
                        tracing::debug!(remote = %it.dst, error = %e, "datagram not sent");
                        self.stats.send_errors +=
                            it.segment.map_or(1, |s| it.data.len().div_ceil(usize::from(s))) as u64;
                        off += 1;
                    }
                }
            }
            t = u;
        }
        Ok(transmits.len())
    }

    /// Send a GSO item's datagrams one at a time, dropping (and counting) any the kernel refuses.
    fn send_split(&mut self, sock: usize, item: SendItem<'_>) {
        let seg = item.segment.map_or(item.data.len(), usize::from).max(1);
        for chunk in item.data.chunks(seg) {
            let one = SendItem { dst: item.dst, src: item.src, data: chunk, segment: None };
            match self.send_raw(sock, &[one]) {
                Ok(_) => self.stats.sent += 1,
                Err(e) => {
                    tracing::debug!(remote = %item.dst, error = %e, "datagram not sent");
                    self.stats.send_errors += 1;
                }
            }
        }
    }

    fn send_raw(&self, sock: usize, items: &[SendItem<'_>]) -> io::Result<usize> {
        let s = &self.sockets[sock].socket;
        #[cfg(target_os = "linux")]
        if self.batch_syscalls {
            return sys::send_mmsg(s.as_fd(), items);
        } else if items[0].segment.is_some() || items[0].src.is_some() {
            return sys::send_mmsg(s.as_fd(), &items[..1]);
        }
        let it = &items[0];
        s.send_to(it.data, it.dst).map(|_| 1)
    }
}

fn partial(done: usize, e: io::Error) -> io::Result<usize> {
    if done > 0 {
        Ok(done)
    } else {
        Err(e)
    }
}
