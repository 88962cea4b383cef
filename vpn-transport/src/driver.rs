//! The driver: pumps datagrams between the UDP sockets, an IKE [`Endpoint`], the ESP SAD/SPD
//! ([`EspTunnel`]) and an inner side ([`InnerPort`]: a TUN device or a smoltcp device), and
//! installs and removes ESP SAs as the endpoint's events say.
//!
//! One [`Driver::turn`] does whatever work is ready without blocking; [`Driver::wait`] sleeps
//! until a socket or the inner side is readable or the next timer is due. A host loop is:
//!
//! ```no_run
//! # fn run(mut driver: vpn_transport::driver::Driver<rand_core::OsRng>, mut tun: vpn_transport::tun::Tun) -> std::io::Result<()> {
//! loop {
//!     driver.turn(&mut tun)?;
//!     while let Some(event) = driver.poll_event() {
//!         println!("{event:?}");
//!     }
//!     driver.wait(&tun, std::time::Duration::from_secs(1))?;
//! }
//! # }
//! ```
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

use rand_core::CryptoRngCore;
use vpn_core::crypto::Backend;
use vpn_core::time::Instant;
use vpn_esp::{EspKeys, InboundSa, LifetimeLimits, Lifetimes, OutboundSa, Policy, PolicyAction, SaParams};
use vpn_ike::config::{Mode, PeerConfig};
use vpn_ike::endpoint::{ConnectError, Endpoint};
use vpn_ike::event::{ChildSaInfo, DownReason, Event, IkeSaHandle};

use crate::esp_tunnel::Outbound;
use crate::udp::{DatagramKind, DatagramMeta, GsoBatch, PortKind, Transmit, UdpEndpoint};
use crate::{EspTunnel, PacketBatch};

/// Where inner packets come from and go to: a TUN device, a smoltcp device, ...
pub trait InnerPort {
    /// Read waiting inner packets into `batch` without blocking; returns how many.
    fn recv_batch(&mut self, batch: &mut PacketBatch<()>) -> io::Result<usize>;
    /// Deliver one inner packet that came out of the tunnel.
    fn send(&mut self, packet: &[u8]) -> io::Result<()>;
    /// A descriptor that is readable when packets wait, if there is one.
    fn poll_fd(&self) -> Option<BorrowedFd<'_>>;
}

#[cfg(all(feature = "tun", target_os = "linux"))]
impl InnerPort for crate::tun::Tun {
    fn recv_batch(&mut self, batch: &mut PacketBatch<()>) -> io::Result<usize> {
        crate::tun::Tun::recv_batch(self, batch)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        crate::tun::Tun::send(self, packet)
    }
    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(std::os::fd::AsFd::as_fd(self))
    }
}

#[cfg(feature = "smoltcp")]
impl InnerPort for crate::smoltcp_device::TunnelDevice {
    fn recv_batch(&mut self, batch: &mut PacketBatch<()>) -> io::Result<usize> {
        let mut n = 0;
        while !batch.is_full() && self.tx_len() > 0 {
            if batch.push_with(|area| self.pop_tx(area, 0).map(|len| (len, ()))) {
                n += 1;
            }
        }
        Ok(n)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        // A full queue drops the packet (counted by the device), as a link would.
        self.push_rx(packet);
        Ok(())
    }
    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

/// How the driver sets up ESP.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Crypto backend of the ESP SAs.
    pub backend: Backend,
    /// Anti-replay window of inbound SAs (packets).
    pub replay_window: u32,
    /// Datagrams or inner packets handled per batch.
    pub batch: usize,
    /// Priority of the policies installed for Child SAs.
    pub policy_priority: u32,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig { backend: Backend::fastest(), replay_window: 1024, batch: 64, policy_priority: 100 }
    }
}

/// What happened, for the host (status, logs, keylog).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DriverEvent {
    /// An IKE event, passed on as the endpoint gave it.
    Ike(Event),
    /// The ESP SA pair of a Child SA was installed.
    ChildSaInstalled(Box<ChildSaInfo>),
    /// A Child SA could not be installed (unsupported algorithm, bad keys).
    ChildSaRefused {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// Our inbound SPI.
        spi_in: u32,
        /// Why.
        reason: String,
    },
    /// The ESP SAs of an IKE SA were removed because it went down.
    ChildSasRemoved {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// (inbound, outbound) SPIs removed.
        spis: Vec<(u32, u32)>,
        /// Why the IKE SA went down.
        reason: DownReason,
    },
}

/// The installed ESP SA pairs of one IKE SA.
#[derive(Debug, Default)]
struct Installed {
    pairs: Vec<(u32, u32)>,
}

/// Pumps one gateway's sockets, IKE endpoint and ESP SAs.
pub struct Driver<R: CryptoRngCore> {
    endpoint: Endpoint<R>,
    udp: UdpEndpoint,
    esp: EspTunnel,
    config: DriverConfig,
    origin: std::time::Instant,
    from_net: PacketBatch<DatagramMeta>,
    from_inner: PacketBatch<()>,
    to_net: GsoBatch,
    ike_buf: Vec<u8>,
    installed: BTreeMap<IkeSaHandle, Installed>,
    events: VecDeque<DriverEvent>,
}

impl<R: CryptoRngCore> std::fmt::Debug for Driver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("installed", &self.installed).finish_non_exhaustive()
    }
}

/// The headroom and tailroom a buffer slot needs for ESP in place: outer headers, IV and ICV,
/// padding.
const ROOM: usize = 96;

impl<R: CryptoRngCore> Driver<R> {
    /// A driver for `endpoint` on `udp`.
    pub fn new(endpoint: Endpoint<R>, udp: UdpEndpoint, config: DriverConfig) -> Self {
        let batch = config.batch.max(1);
        Driver {
            endpoint,
            udp,
            esp: EspTunnel::new(),
            origin: std::time::Instant::now(),
            from_net: PacketBatch::new(batch, ROOM, 9216, ROOM),
            from_inner: PacketBatch::new(batch, ROOM, 9216, ROOM),
            to_net: GsoBatch::new(512 * 1024, batch),
            ike_buf: vec![0u8; 65_536],
            installed: BTreeMap::new(),
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

    /// The ESP SAD and SPD with their counters.
    pub fn esp(&self) -> &EspTunnel {
        &self.esp
    }

    /// The UDP sockets.
    pub fn udp(&self) -> &UdpEndpoint {
        &self.udp
    }

    /// Start an IKE SA with `peer` at `remote`; its messages go out on the next turn.
    pub fn connect(&mut self, peer: PeerConfig, remote: SocketAddr) -> Result<IkeSaHandle, ConnectError> {
        let now = self.now();
        self.endpoint.connect(now, peer, remote)
    }

    /// Delete an IKE SA (the peer is told); its ESP SAs go when the endpoint reports it down.
    pub fn close(&mut self, handle: IkeSaHandle) {
        let now = self.now();
        self.endpoint.close(now, handle);
    }

    /// The next event for the host.
    pub fn poll_event(&mut self) -> Option<DriverEvent> {
        self.events.pop_front()
    }

    /// When the driver next needs a turn even if nothing arrives.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.endpoint.poll_timeout(), self.esp.sad().next_deadline()].into_iter().flatten().min()
    }

    /// Sleep until a socket or `inner` is readable, the next timer is due, or `limit` passed.
    pub fn wait(&self, inner: &impl InnerPort, limit: std::time::Duration) -> io::Result<()> {
        let now = self.now();
        let timeout = match self.next_deadline() {
            Some(t) if t <= now => return Ok(()),
            Some(t) => limit.min(t - now),
            None => limit,
        };
        let mut fds: Vec<BorrowedFd<'_>> = self.udp.fds().collect();
        fds.extend(inner.poll_fd());
        crate::wait_readable(&fds, Some(timeout)).map(|_| ())
    }

    /// Do the work that is ready without blocking: timers, received datagrams (IKE to the
    /// endpoint, ESP to the SAD and on to `inner`), IKE messages to send, endpoint events, and
    /// inner packets out as ESP. Returns how many packets and datagrams were handled.
    pub fn turn(&mut self, inner: &mut impl InnerPort) -> io::Result<usize> {
        let mut work = 0;
        let now = self.now();
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
        }
        work += self.network_side(now, inner)?;
        work += self.flush_ike()?;
        self.handle_events(now);
        work += self.flush_ike()?;
        work += self.inner_side(now, inner)?;
        Ok(work)
    }

    fn network_side(&mut self, now: Instant, inner: &mut impl InnerPort) -> io::Result<usize> {
        let n = self.udp.recv(&mut self.from_net)?;
        for i in 0..self.from_net.len() {
            let meta = *self.from_net.meta(i);
            let (slot, range) = self.from_net.slot_mut(i);
            match meta.kind {
                DatagramKind::Ike => {
                    // The endpoint wants the non-ESP marker the socket layer stripped: it is
                    // still in the buffer just before the message.
                    let start = match meta.port {
                        PortKind::NatT => range.start.saturating_sub(4),
                        PortKind::Ike => range.start,
                    };
                    self.endpoint.handle_datagram(now, meta.local, meta.remote, &slot[start..range.end]);
                }
                DatagramKind::Esp => {
                    if let Ok(d) = self.esp.decapsulate(now, slot, range) {
                        inner.send(&slot[d.inner])?;
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
        while let Some(t) = self.endpoint.poll_transmit(&mut self.ike_buf) {
            let port = if self.udp.local_addr(PortKind::Ike, t.local.ip()).map(|a| a.port())
                == Some(t.local.port())
            {
                PortKind::Ike
            } else {
                PortKind::NatT
            };
            let bytes = &self.ike_buf[..t.len];
            let tx = Transmit::new(port, t.remote, bytes);
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
            match &ev {
                Event::ChildSaUp(info) => self.install(now, info),
                Event::IkeSaDown { handle, reason } => {
                    let spis = self.uninstall(*handle);
                    self.events.push_back(DriverEvent::ChildSasRemoved {
                        handle: *handle,
                        spis,
                        reason: *reason,
                    });
                }
                _ => {}
            }
            self.events.push_back(DriverEvent::Ike(ev));
        }
    }

    fn sa_params(&self, info: &ChildSaInfo, inbound: bool) -> Result<SaParams, String> {
        let keys = if inbound { &info.keys_in } else { &info.keys_out };
        let keys = EspKeys::new(info.encr, keys.encr.expose(), info.integ, keys.integ.expose())
            .map_err(|e| e.to_string())?;
        let (spi, local, remote) =
            (if inbound { info.spi_in } else { info.spi_out }, info.local_addr.ip(), info.remote_addr.ip());
        let mut p = match info.mode {
            Mode::Tunnel => SaParams::tunnel(spi, keys, local, remote),
            Mode::Transport => SaParams::transport(spi, keys, local, remote),
        };
        p.esn = info.esn;
        p.backend = self.config.backend;
        p.replay_window = self.config.replay_window;
        p.udp_encap = info
            .udp_encap
            .map(|u| vpn_esp::UdpEncap { local_port: u.local_port, remote_port: u.remote_port });
        p.local_ts = info.local_ts.clone();
        p.remote_ts = info.remote_ts.clone();
        // RFC 4301 §4.4.2.1: the IKE SA rekeys at the soft lifetime; the SA ends at the hard one.
        p.lifetimes = Lifetimes {
            soft: LifetimeLimits { time: Some(info.lifetimes.soft), ..Default::default() },
            hard: LifetimeLimits { time: Some(info.lifetimes.hard), ..Default::default() },
        };
        Ok(p)
    }

    fn install(&mut self, now: Instant, info: &ChildSaInfo) {
        let refused =
            |reason: String| DriverEvent::ChildSaRefused { handle: info.handle, spi_in: info.spi_in, reason };
        let (inp, outp) = match (self.sa_params(info, true), self.sa_params(info, false)) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => return self.events.push_back(refused(e)),
        };
        let (inb, out) = match (InboundSa::new_at(&inp, now), OutboundSa::new_at(&outp, now)) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => return self.events.push_back(refused(e.to_string())),
        };
        // ESP travels to the peer's NAT-T port (RFC 3948); without UDP encapsulation we would
        // need raw ESP sockets, which this driver does not open.
        let remote = match info.udp_encap {
            Some(u) => SocketAddr::new(info.remote_addr.ip(), u.remote_port),
            None => {
                tracing::warn!(peer = %info.remote_addr, "Child SA without UDP encapsulation: ESP sent over UDP anyway");
                info.remote_addr
            }
        };
        self.esp.insert_inbound(inb);
        self.esp.insert_outbound_from(
            out,
            Some(info.local_addr.ip()).filter(|ip| !ip.is_unspecified()),
            remote,
        );
        self.esp.spd_mut().insert(Policy {
            local: info.local_ts.clone(),
            remote: info.remote_ts.clone(),
            action: PolicyAction::Protect { spi: info.spi_out },
            priority: self.config.policy_priority,
            tag: info.handle.0,
        });
        self.installed.entry(info.handle).or_default().pairs.push((info.spi_in, info.spi_out));
        tracing::info!(
            spi_in = format_args!("{:08x}", info.spi_in),
            spi_out = format_args!("{:08x}", info.spi_out),
            peer = %remote,
            "ESP SA pair installed"
        );
        self.events.push_back(DriverEvent::ChildSaInstalled(Box::new(info.clone())));
    }

    fn uninstall(&mut self, handle: IkeSaHandle) -> Vec<(u32, u32)> {
        let pairs = self.installed.remove(&handle).map(|i| i.pairs).unwrap_or_default();
        self.esp.spd_mut().remove_tag(handle.0);
        for &(i, o) in &pairs {
            self.esp.remove_inbound(i);
            self.esp.remove_outbound(o);
        }
        pairs
    }

    fn inner_side(&mut self, now: Instant, inner: &mut impl InnerPort) -> io::Result<usize> {
        let n = inner.recv_batch(&mut self.from_inner)?;
        for i in 0..self.from_inner.len() {
            let (slot, range) = self.from_inner.slot_mut(i);
            if let Ok(Outbound::Esp(d)) = self.esp.encapsulate(now, slot, range) {
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
