//! The driver: the I/O loop around an IKE [`Endpoint`] and the [`SaBinding`] that owns the
//! ESP SAs. It pumps datagrams between the UDP sockets, the endpoint, the binding and the inner
//! ports ([`InnerPort`]: TUN devices or smoltcp devices, one per interface), and hands the
//! endpoint's events to the binding.
//!
//! One [`Driver::turn`] does whatever work is ready without blocking; [`Driver::wait`] sleeps
//! until a socket or the inner side is readable or the next timer is due. A host loop is:
//!
//! ```no_run
//! # fn run(mut driver: vpn_transport::driver::Driver<rand_core::OsRng>, mut tun: vpn_transport::tun::Tun) -> std::io::Result<()> {
//! loop {
//!     driver.turn(std::slice::from_mut(&mut tun))?;
//!     while let Some(event) = driver.poll_event() {
//!         println!("{event:?}");
//!     }
//!     driver.wait(std::slice::from_ref(&tun), std::time::Duration::from_secs(1))?;
//! }
//! # }
//! ```
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

use rand_core::CryptoRngCore;
use vpn_core::crypto::Backend;
use vpn_core::time::Instant;
use vpn_ike::config::{PeerConfig, PortKind};
use vpn_ike::endpoint::{ConnectError, Endpoint};
use vpn_ike::event::{Event, IkeSaHandle};

use crate::binding::{BindingConfig, BindingEvent, EndpointAction, InterfaceId, SaBinding};
use crate::udp::{DatagramKind, DatagramMeta, GsoBatch, Transmit, UdpEndpoint};
use crate::PacketBatch;

pub use crate::inner::InnerPort;

/// How the driver sets up ESP.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Crypto backend of the ESP SAs.
    pub backend: Backend,
    /// Anti-replay window of inbound SAs (packets).
    pub replay_window: u32,
    /// Datagrams or inner packets handled per batch.
    pub batch: usize,
    /// Rekey a Child SA once either of its ESP SAs carried this many bytes of inner traffic
    /// (RFC 4301 §4.4.2.1 soft lifetime; the driver asks the endpoint, `Endpoint::rekey_child`).
    pub soft_bytes: Option<u64>,
    /// Rekey a Child SA once either of its ESP SAs carried this many packets.
    pub soft_packets: Option<u64>,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            backend: Backend::fastest(),
            replay_window: 1024,
            batch: 64,
            soft_bytes: None,
            soft_packets: None,
        }
    }
}

/// What happened, for the host (status, logs, keylog).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DriverEvent {
    /// An IKE event, passed on as the endpoint gave it (after the binding followed it).
    Ike(Event),
    /// What the binding did with the ESP SAs.
    Sa(BindingEvent),
}

/// Pumps one gateway's sockets, IKE endpoint and SA binding.
pub struct Driver<R: CryptoRngCore> {
    endpoint: Endpoint<R>,
    udp: UdpEndpoint,
    binding: SaBinding,
    config: DriverConfig,
    origin: std::time::Instant,
    from_net: PacketBatch<DatagramMeta>,
    from_inner: PacketBatch<()>,
    to_net: GsoBatch,
    ike_buf: Vec<u8>,
    events: VecDeque<DriverEvent>,
}

impl<R: CryptoRngCore> std::fmt::Debug for Driver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("binding", &self.binding).finish_non_exhaustive()
    }
}

/// The headroom and tailroom a buffer slot needs for ESP in place: outer headers, IV and ICV,
/// padding.
const ROOM: usize = 96;

/// Room before an IKE message for the non-ESP marker.
const MARKER: usize = vpn_core::ipsec::NON_ESP_MARKER.len();

impl<R: CryptoRngCore> Driver<R> {
    /// A driver for `endpoint` on `udp`.
    pub fn new(endpoint: Endpoint<R>, udp: UdpEndpoint, config: DriverConfig) -> Self {
        let batch = config.batch.max(1);
        let binding = SaBinding::new(BindingConfig {
            backend: config.backend,
            replay_window: config.replay_window,
            soft_bytes: config.soft_bytes,
            soft_packets: config.soft_packets,
            raw_esp: false,
        });
        Driver {
            endpoint,
            udp,
            binding,
            origin: std::time::Instant::now(),
            from_net: PacketBatch::new(batch, ROOM, 9216, ROOM),
            from_inner: PacketBatch::new(batch, ROOM, 9216, ROOM),
            to_net: GsoBatch::new(512 * 1024, batch),
            ike_buf: vec![0u8; MARKER + 65_536],
            events: VecDeque::new(),
            config,
        }
    }

    /// Now, on the driver's clock (monotonic, from its creation).
    pub fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// The IKE endpoint.
    pub fn endpoint(&self) -> &Endpoint<R> {
        &self.endpoint
    }

    /// The SA binding: every installed ESP SA with its counters and policies.
    pub fn binding(&self) -> &SaBinding {
        &self.binding
    }

    /// The SA binding, to bind connections to interfaces before they come up.
    pub fn binding_mut(&mut self) -> &mut SaBinding {
        &mut self.binding
    }

    /// The UDP sockets.
    pub fn udp(&self) -> &UdpEndpoint {
        &self.udp
    }

    /// The configuration.
    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// Start an IKE SA with `peer` at `remote`; its messages go out on the next turn.
    pub fn connect(&mut self, peer: PeerConfig, remote: SocketAddr) -> Result<IkeSaHandle, ConnectError> {
        let now = self.now();
        self.endpoint.connect(now, peer, remote)
    }

    /// [`Driver::connect`] from our address `local` (on a host with several), framed for `port`.
    pub fn connect_from(
        &mut self,
        peer: PeerConfig,
        local: SocketAddr,
        remote: SocketAddr,
        port: PortKind,
    ) -> Result<IkeSaHandle, ConnectError> {
        let now = self.now();
        self.endpoint.connect_from(now, peer, local, remote, port)
    }

    /// Delete an IKE SA (the peer is told); its ESP SAs go when the endpoint reports it down.
    pub fn close(&mut self, handle: IkeSaHandle) {
        let now = self.now();
        self.endpoint.close(now, handle);
    }

    /// Rekey a Child SA now (by our inbound SPI); false when there is no such Child SA.
    pub fn rekey_child(&mut self, handle: IkeSaHandle, spi_in: u32) -> bool {
        let now = self.now();
        self.endpoint.rekey_child(now, handle, spi_in)
    }

    /// Rekey an IKE SA now; its Child SAs move to the new one (`IkeSaRekeyed`).
    pub fn rekey_ike(&mut self, handle: IkeSaHandle) -> bool {
        let now = self.now();
        self.endpoint.rekey_ike(now, handle)
    }

    /// Create another Child SA on an IKE SA with its peer configuration's selectors.
    pub fn create_child(&mut self, handle: IkeSaHandle) -> bool {
        let now = self.now();
        self.endpoint.create_child(now, handle)
    }

    /// Delete a Child SA (by our inbound SPI); its ESP SAs go when the delete completes.
    pub fn delete_child(&mut self, handle: IkeSaHandle, spi_in: u32) -> bool {
        let now = self.now();
        self.endpoint.delete_child(now, handle, spi_in)
    }

    /// The next event for the host.
    pub fn poll_event(&mut self) -> Option<DriverEvent> {
        self.events.pop_front()
    }

    /// When the driver next needs a turn even if nothing arrives.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.endpoint.poll_timeout(), self.binding.next_deadline()].into_iter().flatten().min()
    }

    /// Sleep until a socket or an inner port is readable, the next timer is due, or `limit`
    /// passed.
    pub fn wait<I: InnerPort>(&self, inner: &[I], limit: std::time::Duration) -> io::Result<()> {
        self.wait_with(inner, &[], limit)
    }

    /// [`Driver::wait`], also waking when one of `extra` is readable (a control socket, say).
    pub fn wait_with<I: InnerPort>(
        &self,
        inner: &[I],
        extra: &[BorrowedFd<'_>],
        limit: std::time::Duration,
    ) -> io::Result<()> {
        let now = self.now();
        let timeout = match self.next_deadline() {
            Some(t) if t <= now => return Ok(()),
            Some(t) => limit.min(t - now),
            None => limit,
        };
        let mut fds: Vec<BorrowedFd<'_>> = self.udp.fds().collect();
        fds.extend(inner.iter().filter_map(InnerPort::poll_fd));
        fds.extend(extra.iter().copied());
        crate::wait_readable(&fds, Some(timeout)).map(|_| ())
    }

    /// Do the work that is ready without blocking: timers, received datagrams (IKE to the
    /// endpoint, ESP through the binding to the inner port of its connection), IKE messages to
    /// send, endpoint events, and inner packets out as ESP. `inner[i]` is the port of
    /// [`InterfaceId`]`(i)`. Returns how many packets and datagrams were handled.
    pub fn turn<I: InnerPort>(&mut self, inner: &mut [I]) -> io::Result<usize> {
        let mut work = 0;
        let now = self.now();
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
        }
        self.binding.handle_timeout(now);
        work += self.network_side(now, inner)?;
        work += self.flush_ike()?;
        self.handle_events(now);
        work += self.flush_ike()?;
        for (i, port) in inner.iter_mut().enumerate() {
            let iface = InterfaceId(u16::try_from(i).unwrap_or(u16::MAX));
            work += self.inner_side(now, iface, port)?;
        }
        self.report_esp(now);
        work += self.flush_ike()?;
        self.handle_events(now);
        Ok(work)
    }

    /// Tells the endpoint what the ESP side saw: inbound traffic (no liveness check needed),
    /// soft lifetimes (rekey now, RFC 4301 §4.4.2.1) and peers at a new address (RFC 7296 §2.23).
    fn report_esp(&mut self, now: Instant) {
        while let Some(a) = self.binding.poll_action() {
            match a {
                EndpointAction::InboundTraffic(h) => self.endpoint.note_inbound_traffic(h, now),
                EndpointAction::RekeyChild { handle, spi_in } => {
                    self.endpoint.rekey_child(now, handle, spi_in);
                }
                EndpointAction::PeerMoved { handle, remote } => {
                    if self.endpoint.peer_moved(now, handle, remote) {
                        tracing::info!(ike_sa = format_args!("{:016x}", handle.0), %remote, "peer moved (NAT mapping changed)");
                    }
                }
            }
        }
    }

    fn network_side<I: InnerPort>(&mut self, now: Instant, inner: &mut [I]) -> io::Result<usize> {
        let n = self.udp.recv(&mut self.from_net)?;
        for i in 0..self.from_net.len() {
            let meta = *self.from_net.meta(i);
            let (slot, range) = self.from_net.slot_mut(i);
            match meta.kind {
                DatagramKind::Ike => {
                    // The transport knows the framing and took the non-ESP marker off.
                    self.endpoint.handle_datagram(now, meta.local, meta.remote, meta.port, &slot[range]);
                }
                DatagramKind::Esp => {
                    if let Ok(d) = self.binding.decapsulate(now, meta.remote, slot, range) {
                        if let Some(port) = inner.get_mut(usize::from(d.interface.0)) {
                            port.send(&slot[d.inner])?;
                        }
                    }
                }
                DatagramKind::Keepalive => {}
            }
        }
        self.from_net.clear();
        Ok(n)
    }

    fn flush_ike(&mut self) -> io::Result<usize> {
        let mut n = 0;
        while let Some(t) = self.endpoint.poll_transmit(&mut self.ike_buf[MARKER..]) {
            let Some(range) = UdpEndpoint::frame_ike(t.port, &mut self.ike_buf, MARKER..MARKER + t.len)
            else {
                continue;
            };
            let tx = Transmit::new(t.port, t.remote, &self.ike_buf[range]);
            let tx = if t.local.ip().is_unspecified() { tx } else { tx.from_ip(t.local.ip()) };
            if let Err(e) = self.udp.send(&[tx]) {
                tracing::warn!(remote = %t.remote, error = %e, "IKE datagram not sent");
            }
            n += 1;
        }
        Ok(n)
    }

    fn handle_events(&mut self, now: Instant) {
        while let Some(ev) = self.endpoint.poll_event() {
            self.binding.handle_event(now, &ev);
            while let Some(b) = self.binding.poll_event() {
                self.events.push_back(DriverEvent::Sa(b));
            }
            self.events.push_back(DriverEvent::Ike(ev));
        }
    }

    fn inner_side<I: InnerPort>(
        &mut self,
        now: Instant,
        iface: InterfaceId,
        inner: &mut I,
    ) -> io::Result<usize> {
        let n = inner.recv_batch(&mut self.from_inner)?;
        for i in 0..self.from_inner.len() {
            let (slot, range) = self.from_inner.slot_mut(i);
            if let Ok(d) = self.binding.encapsulate(now, iface, slot, range) {
                if !self.to_net.push_from(PortKind::NatT, d.local, d.remote, &slot[d.range.clone()]) {
                    self.udp.send_gso(&self.to_net, 0)?;
                    self.to_net.clear();
                    self.to_net.push_from(PortKind::NatT, d.local, d.remote, &slot[d.range]);
                }
            }
        }
        if !self.to_net.is_empty() {
            self.udp.send_gso(&self.to_net, 0)?;
            self.to_net.clear();
        }
        self.from_inner.clear();
        Ok(n)
    }
}
