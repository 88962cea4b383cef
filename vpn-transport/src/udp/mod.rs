//! UDP sockets on the IKE port (500) and the NAT-T port (4500), IPv4 and IPv6.
//!
//! On the IKE port every datagram is IKE. On the NAT-T port (RFC 3948 §2.2) a datagram that
//! starts with the four-zero-byte non-ESP marker is IKE (the marker is stripped on receive and
//! added on send), a single 0xFF byte is a NAT keepalive, and anything else of 8 bytes or more
//! is ESP. On Linux datagrams move in batches with `recvmmsg`/`sendmmsg`, and a run of
//! equal-size datagrams to one peer goes down as one UDP GSO send (`UDP_SEGMENT`) when the
//! kernel has it; elsewhere, or when switched off, one system call per datagram.
#![forbid(unsafe_code)]

mod gso;
mod keepalive;
mod send;

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use vpn_esp::udp::{classify, UdpPayload, NON_ESP_MARKER};

use crate::buf::PacketBatch;
use crate::sys;

pub use gso::GsoBatch;
pub use keepalive::NatKeepalive;
pub use send::Transmit;

pub use vpn_core::ipsec::{IKE_PORT, NAT_T_PORT};
/// The most segments one GSO send may carry (the kernel's `UDP_MAX_SEGMENTS`).
pub const MAX_GSO_SEGMENTS: usize = 64;

/// Which of the two ports a socket serves (the vocabulary IKE shares).
pub use vpn_core::ipsec::PortKind;

/// What a received datagram carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatagramKind {
    /// An IKE message (on the NAT-T port, the marker already stripped).
    Ike,
    /// An ESP packet, SPI first (RFC 3948 §2.1).
    Esp,
    /// A NAT keepalive (RFC 3948 §2.3).
    Keepalive,
}

/// Where a received datagram came from and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramMeta {
    /// What it carries.
    pub kind: DatagramKind,
    /// The port it arrived on.
    pub port: PortKind,
    /// The local address it was sent to: the socket's bound address, or on a socket bound to an
    /// unspecified address the destination in the datagram's IP header (Linux, batched path;
    /// the one-at-a-time path reports the unspecified address).
    pub local: SocketAddr,
    /// The sender.
    pub remote: SocketAddr,
}

/// How to open a [`UdpEndpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpConfig {
    /// Local addresses to bind, IPv4 and/or IPv6 (an unspecified address binds them all of
    /// that family).
    pub addrs: Vec<IpAddr>,
    /// The IKE port; 500 by default, 0 for an ephemeral port (tests).
    pub ike_port: u16,
    /// The NAT-T port; 4500 by default, 0 for an ephemeral port (tests). Equal to `ike_port`:
    /// one socket carries IKE (behind the non-ESP marker, RFC 3948 §2.2), ESP and keepalives.
    pub nat_t_port: u16,
    /// Use `recvmmsg`/`sendmmsg` where available (Linux). Off: one call per datagram.
    pub batch_syscalls: bool,
    /// Use UDP GSO where the kernel has it. Off: GSO transmits are split in userspace.
    pub gso: bool,
    /// Socket receive and send buffer sizes to ask for (`SO_RCVBUF`/`SO_SNDBUF`).
    pub socket_buffer: Option<usize>,
}

impl UdpConfig {
    /// Ports 500 and 4500 on `addrs`, batching and GSO on.
    pub fn new(addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        UdpConfig {
            addrs: addrs.into_iter().collect(),
            ike_port: IKE_PORT,
            nat_t_port: NAT_T_PORT,
            batch_syscalls: true,
            gso: true,
            socket_buffer: Some(4 << 20),
        }
    }

    /// The same with both ports ephemeral (for tests: read them back with
    /// [`UdpEndpoint::local_addr`]).
    pub fn ephemeral(addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        UdpConfig { ike_port: 0, nat_t_port: 0, ..Self::new(addrs) }
    }
}

/// Counters of a [`UdpEndpoint`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Datagrams received and handed over.
    pub received: u64,
    /// Datagrams received and dropped: not IKE, ESP or a keepalive (RFC 3948 §2.2), or no sender.
    pub invalid: u64,
    /// Datagrams longer than a batch slot, dropped.
    pub truncated: u64,
    /// Datagrams sent (each GSO segment counts).
    pub sent: u64,
    /// System calls that sent with GSO.
    pub gso_sends: u64,
    /// Datagrams the kernel refused (other than "would block"), dropped.
    pub send_errors: u64,
}

#[derive(Debug)]
struct Sock {
    socket: UdpSocket,
    local: SocketAddr,
    kind: PortKind,
    gso: bool,
}

/// The UDP sockets of a gateway: one on the IKE port and one on the NAT-T port for each local
/// address. Non-blocking; wait with [`UdpEndpoint::wait`] or poll the descriptors from
/// [`UdpEndpoint::fds`] in your own loop.
#[derive(Debug)]
pub struct UdpEndpoint {
    sockets: Vec<Sock>,
    batch_syscalls: bool,
    next: usize,
    stats: UdpStats,
}

fn open_socket(addr: SocketAddr, cfg: &UdpConfig) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // Keep IPv4 off IPv6 sockets so both families can bind the same port.
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    if let Some(size) = cfg.socket_buffer {
        // The kernel caps these at net.core.{r,w}mem_max; a refusal is not fatal.
        let _ = s.set_recv_buffer_size(size);
        let _ = s.set_send_buffer_size(size);
    }
    s.bind(&addr.into())?;
    Ok(s.into())
}

impl UdpEndpoint {
    /// Bind the IKE and NAT-T sockets on every address of `cfg`.
    pub fn bind(cfg: &UdpConfig) -> io::Result<Self> {
        if cfg.addrs.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no local address to bind"));
        }
        let mut sockets = Vec::new();
        for &ip in &cfg.addrs {
            for (kind, port) in [(PortKind::Ike, cfg.ike_port), (PortKind::NatT, cfg.nat_t_port)] {
                if kind == PortKind::Ike && port == cfg.nat_t_port && port != 0 {
                    // One port for everything: IKE behind the non-ESP marker, as on 4500.
                    continue;
                }
                let socket = open_socket(SocketAddr::new(ip, port), cfg)?;
                let local = socket.local_addr()?;
                let gso = cfg.gso && probe_gso(&socket);
                if ip.is_unspecified() {
                    // Learn each datagram's destination address (only the batched path can).
                    enable_pktinfo(&socket, ip.is_ipv6())?;
                }
                tracing::debug!(%local, ?kind, gso, "bound UDP socket");
                sockets.push(Sock { socket, local, kind, gso });
            }
        }
        Ok(UdpEndpoint {
            sockets,
            batch_syscalls: cfg.batch_syscalls && cfg!(target_os = "linux"),
            next: 0,
            stats: UdpStats::default(),
        })
    }

    /// The bound address of the socket for `kind` in `ip`'s family (and with `ip` itself when
    /// several addresses of that family are bound).
    pub fn local_addr(&self, kind: PortKind, ip: IpAddr) -> Option<SocketAddr> {
        self.find(kind, Some(ip), ip.is_ipv6()).map(|i| self.sockets[i].local)
    }

    /// Every bound socket: its port kind and address.
    pub fn local_addrs(&self) -> impl Iterator<Item = (PortKind, SocketAddr)> + '_ {
        self.sockets.iter().map(|s| (s.kind, s.local))
    }

    /// Whether any socket sends with UDP GSO.
    pub fn gso_enabled(&self) -> bool {
        self.sockets.iter().any(|s| s.gso)
    }

    /// The counters.
    pub fn stats(&self) -> UdpStats {
        self.stats
    }

    /// The socket descriptors, to wait on in an event loop.
    pub fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> + '_ {
        self.sockets.iter().map(|s| s.socket.as_fd())
    }

    /// Wait until a socket is readable or `timeout` passes; returns whether one is readable.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let fds: Vec<BorrowedFd<'_>> = self.fds().collect();
        sys::poll_readable(&fds, timeout)
    }

    /// Index of the socket for `kind`, of the family `v6`, preferring one bound to `ip`.
    fn find(&self, kind: PortKind, ip: Option<IpAddr>, v6: bool) -> Option<usize> {
        let mut fallback = None;
        for (i, s) in self.sockets.iter().enumerate() {
            if s.kind != kind || s.local.is_ipv6() != v6 {
                continue;
            }
            match ip {
                Some(ip) if s.local.ip() == ip => return Some(i),
                _ if fallback.is_none() => fallback = Some(i),
                _ => {}
            }
        }
        fallback
    }

    /// Receive what is waiting on every socket, without blocking, into the free slots of
    /// `batch` (each datagram at the slot's headroom). Returns how many datagrams were added;
    /// 0 when nothing was waiting. Sockets take turns being read first, so one busy socket
    /// does not starve the others.
    pub fn recv(&mut self, batch: &mut PacketBatch<DatagramMeta>) -> io::Result<usize> {
        let before = batch.len();
        let n = self.sockets.len();
        for k in 0..n {
            if batch.is_full() {
                break;
            }
            self.recv_socket((self.next + k) % n, batch)?;
        }
        self.next = (self.next + 1) % n.max(1);
        Ok(batch.len() - before)
    }

    fn recv_socket(&mut self, i: usize, batch: &mut PacketBatch<DatagramMeta>) -> io::Result<()> {
        let mut slots = [sys::RecvSlot::default(); sys::MAX_BATCH];
        while !batch.is_full() {
            let (stride, headroom, cap) = (batch.stride(), batch.headroom(), batch.capacity());
            let base = batch.next_index();
            let (area, free) = batch.free_area();
            let want = free.min(sys::MAX_BATCH);
            let got = match self.recv_raw(i, area, stride, headroom, cap, &mut slots[..want]) {
                Ok(g) => g,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP error queued on the socket; the next call receives normally.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            for (j, slot) in slots[..got].iter().enumerate() {
                // A dropped datagram leaves a hole: later ones move down to close it.
                if let Some((range, meta)) = self.classify_slot(i, slot, batch, base + j, headroom) {
                    let to = batch.next_index();
                    batch.move_slot(base + j, to);
                    batch.commit(range, meta);
                    self.stats.received += 1;
                }
            }
            // A short batch means the socket is drained (one at a time: wait for WouldBlock).
            if self.batch_syscalls && got < want {
                return Ok(());
            }
        }
        Ok(())
    }

    fn recv_raw(
        &self,
        i: usize,
        area: &mut [u8],
        stride: usize,
        offset: usize,
        cap: usize,
        out: &mut [sys::RecvSlot],
    ) -> io::Result<usize> {
        let s = &self.sockets[i].socket;
        #[cfg(target_os = "linux")]
        if self.batch_syscalls {
            return sys::recv_mmsg(s.as_fd(), area, stride, offset, cap, out);
        }
        let _ = stride;
        let Some(first) = out.first_mut() else { return Ok(0) };
        // Portable path: one datagram per call. A datagram longer than the buffer is cut
        // without notice, so read one byte more than the slot takes to see it.
        let end = (offset + cap + 1).min(area.len());
        let (len, from) = s.recv_from(&mut area[offset..end])?;
        *first = sys::RecvSlot { len: len.min(cap), addr: Some(from), truncated: len > cap, dst: None };
        Ok(1)
    }

    /// Decide what the datagram in slot `idx` is; `None` drops it (counted).
    fn classify_slot(
        &mut self,
        sock: usize,
        slot: &sys::RecvSlot,
        batch: &PacketBatch<DatagramMeta>,
        idx: usize,
        headroom: usize,
    ) -> Option<(Range<usize>, DatagramMeta)> {
        if slot.truncated {
            self.stats.truncated += 1;
            return None;
        }
        let Some(remote) = slot.addr else {
            self.stats.invalid += 1;
            return None;
        };
        let s = &self.sockets[sock];
        let payload = &batch.raw_slot(idx)[headroom..headroom + slot.len];
        let (kind, skip) = match s.kind {
            PortKind::Ike => (DatagramKind::Ike, 0),
            PortKind::NatT => match classify(payload) {
                UdpPayload::Ike => (DatagramKind::Ike, NON_ESP_MARKER.len()),
                UdpPayload::Esp => (DatagramKind::Esp, 0),
                UdpPayload::Keepalive => (DatagramKind::Keepalive, 0),
                _ => {
                    self.stats.invalid += 1;
                    return None;
                }
            },
        };
        let local = SocketAddr::new(slot.dst.unwrap_or(s.local.ip()), s.local.port());
        let meta = DatagramMeta { kind, port: s.kind, local, remote };
        Some((headroom + skip..headroom + slot.len, meta))
    }

    /// Make the IKE message at `buf[range]` ready to send on `port`: on the NAT-T port the
    /// non-ESP marker goes into the 4 bytes before it (RFC 3948 §2.2). Returns the datagram's
    /// range, or `None` when there is no room before the message.
    pub fn frame_ike(port: PortKind, buf: &mut [u8], range: Range<usize>) -> Option<Range<usize>> {
        match port {
            PortKind::Ike => buf.get(range.clone()).map(|_| range),
            PortKind::NatT => {
                let start = range.start.checked_sub(NON_ESP_MARKER.len())?;
                buf.get(range.clone())?;
                buf[start..range.start].copy_from_slice(&NON_ESP_MARKER);
                Some(start..range.end)
            }
        }
    }

    /// Send one IKE message at `buf[range]` from `port` to `remote`, adding the non-ESP marker
    /// on the NAT-T port (so leave 4 bytes before `range`).
    pub fn send_ike(
        &mut self,
        port: PortKind,
        remote: SocketAddr,
        buf: &mut [u8],
        range: Range<usize>,
    ) -> io::Result<()> {
        let r = Self::frame_ike(port, buf, range)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no room for the non-ESP marker"))?;
        self.send(&[Transmit::new(port, remote, &buf[r])]).map(|_| ())
    }
}

fn enable_pktinfo(_socket: &UdpSocket, _v6: bool) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    sys::enable_pktinfo(_socket.as_fd(), _v6)?;
    Ok(())
}

fn probe_gso(_socket: &UdpSocket) -> bool {
    #[cfg(target_os = "linux")]
    {
        sys::probe_gso(_socket.as_fd())
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}
