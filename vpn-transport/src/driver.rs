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
use vpn_esp::{
    EspKeys, InboundSa, LifetimeEvent, LifetimeLimits, Lifetimes, OutboundSa, Policy, PolicyAction, SaParams,
};
use vpn_ike::config::{Mode, PeerConfig};
use vpn_ike::endpoint::{ConnectError, Endpoint};
use vpn_ike::event::{ChildDownReason, ChildSaInfo, DownReason, Event, IkeSaHandle};

use crate::esp_tunnel::Outbound;
use crate::udp::{DatagramKind, DatagramMeta, GsoBatch, PortKind, Transmit, UdpEndpoint};
use crate::{EspTunnel, PacketBatch};

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
    /// Priority of the policies installed for Child SAs.
    pub policy_priority: u32,
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
            policy_priority: 100,
            soft_bytes: None,
            soft_packets: None,
        }
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
    /// A rekeyed Child SA's successor now carries our outbound traffic (the SPD points at it).
    OutboundSwitched {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// The old pair's inbound SPI (still installed until its `ChildSaRemoved`).
        old_spi_in: u32,
        /// The new outbound SPI.
        spi_out: u32,
    },
    /// The ESP SA pair of one Child SA was removed (rekeyed and deleted, or deleted).
    ChildSaRemoved {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// Inbound SPI.
        spi_in: u32,
        /// Outbound SPI.
        spi_out: u32,
        /// Why.
        reason: ChildDownReason,
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

/// One installed ESP SA pair; `tag` names its SPD policy, shared by a Child SA and its
/// rekeyed successors.
#[derive(Debug, Clone, Copy)]
struct Pair {
    spi_in: u32,
    spi_out: u32,
    tag: u64,
}

/// The installed ESP SA pairs of one IKE SA.
#[derive(Debug, Default)]
struct Installed {
    pairs: Vec<Pair>,
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
    /// Inbound SPI -> IKE SA, to report traffic and lifetimes to the endpoint.
    owners: BTreeMap<u32, IkeSaHandle>,
    /// Outbound SPI -> inbound SPI of the same pair.
    out_to_in: BTreeMap<u32, u32>,
    next_tag: u64,
    /// Inbound SPIs that carried traffic in this turn.
    heard: Vec<u32>,
    /// Inbound SPIs whose SA reached its soft lifetime (rekey asked of the endpoint).
    soft: Vec<u32>,
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
            owners: BTreeMap::new(),
            out_to_in: BTreeMap::new(),
            next_tag: 1,
            heard: Vec::new(),
            soft: Vec::new(),
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

    /// [`Driver::connect`] from our address `local` (on a host with several).
    pub fn connect_from(
        &mut self,
        peer: PeerConfig,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<IkeSaHandle, ConnectError> {
        let now = self.now();
        self.endpoint.connect_from(now, peer, local, remote)
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
        [self.endpoint.poll_timeout(), self.esp.sad().next_deadline()].into_iter().flatten().min()
    }

    /// Sleep until a socket or `inner` is readable, the next timer is due, or `limit` passed.
    pub fn wait(&self, inner: &impl InnerPort, limit: std::time::Duration) -> io::Result<()> {
        self.wait_with(inner, &[], limit)
    }

    /// [`Driver::wait`], also waking when one of `extra` (the caller's own descriptors, such as
    /// a control socket's) is readable.
    pub fn wait_with(
        &self,
        inner: &impl InnerPort,
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
        fds.extend(inner.poll_fd());
        fds.extend_from_slice(extra);
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
        self.report_esp(now);
        Ok(work)
    }

    /// Tells the endpoint which IKE SAs had inbound ESP (no liveness check needed) and which
    /// Child SAs reached a soft lifetime (rekey now, RFC 4301 §4.4.2.1).
    fn report_esp(&mut self, now: Instant) {
        while let Some((inbound, spi, e)) = self.esp.sad_mut().poll_lifetimes(now) {
            if e == LifetimeEvent::Soft {
                let spi_in = if inbound { Some(spi) } else { self.out_to_in.get(&spi).copied() };
                self.soft.extend(spi_in);
            }
        }
        self.heard.sort_unstable();
        self.heard.dedup();
        for spi in self.heard.drain(..) {
            if let Some(h) = self.owners.get(&spi) {
                self.endpoint.note_inbound_traffic(*h, now);
            }
        }
        self.soft.sort_unstable();
        self.soft.dedup();
        for spi in core::mem::take(&mut self.soft) {
            if let Some(h) = self.owners.get(&spi) {
                self.endpoint.rekey_child(now, *h, spi);
            }
        }
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
                        if self.heard.last() != Some(&d.spi) {
                            self.heard.push(d.spi);
                        }
                        if d.lifetime == Some(LifetimeEvent::Soft) {
                            self.soft.push(d.spi);
                        }
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
                Event::ChildSaRekeyed { handle, old_spi_in, new_spi_in } => {
                    self.switch_outbound(*handle, *old_spi_in, *new_spi_in)
                }
                Event::ChildSaDown { handle, spi_in, spi_out, reason } => {
                    self.remove_pair(*handle, *spi_in);
                    self.events.push_back(DriverEvent::ChildSaRemoved {
                        handle: *handle,
                        spi_in: *spi_in,
                        spi_out: *spi_out,
                        reason: *reason,
                    });
                }
                Event::IkeSaRekeyed { old, new } => {
                    if let Some(i) = self.installed.remove(old) {
                        for p in &i.pairs {
                            self.owners.insert(p.spi_in, *new);
                        }
                        self.installed.insert(*new, i);
                    }
                }
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
        // RFC 4301 §4.4.2.1: the IKE endpoint rekeys at the soft lifetime (with jitter) itself;
        // the SA ends at the hard one. Byte and packet soft limits are reported to it.
        p.lifetimes = Lifetimes {
            soft: LifetimeLimits {
                bytes: self.config.soft_bytes,
                packets: self.config.soft_packets,
                time: None,
            },
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
        // A rekey's successor shares its predecessor's policy, which keeps sending on the old
        // SA until `ChildSaRekeyed` (make-before-break); anything else gets a policy now.
        let installed = self.installed.entry(info.handle).or_default();
        let inherited = info.rekey_of.and_then(|old| installed.pairs.iter().find(|p| p.spi_in == old));
        let tag = match inherited {
            Some(p) => p.tag,
            None => {
                let tag = self.next_tag;
                self.next_tag += 1;
                self.esp.spd_mut().insert(Policy {
                    local: info.local_ts.clone(),
                    remote: info.remote_ts.clone(),
                    action: PolicyAction::Protect { spi: info.spi_out },
                    priority: self.config.policy_priority,
                    tag,
                });
                tag
            }
        };
        installed.pairs.push(Pair { spi_in: info.spi_in, spi_out: info.spi_out, tag });
        self.owners.insert(info.spi_in, info.handle);
        self.out_to_in.insert(info.spi_out, info.spi_in);
        tracing::info!(
            spi_in = format_args!("{:08x}", info.spi_in),
            spi_out = format_args!("{:08x}", info.spi_out),
            peer = %remote,
            "ESP SA pair installed"
        );
        self.events.push_back(DriverEvent::ChildSaInstalled(Box::new(info.clone())));
    }

    /// Points the policy of a rekeyed Child SA at its successor's outbound SA.
    fn switch_outbound(&mut self, handle: IkeSaHandle, old: u32, new: u32) {
        let Some(i) = self.installed.get(&handle) else { return };
        let (Some(o), Some(n)) =
            (i.pairs.iter().find(|p| p.spi_in == old), i.pairs.iter().find(|p| p.spi_in == new))
        else {
            return;
        };
        self.esp.spd_mut().retarget(o.tag, n.spi_out);
        self.events.push_back(DriverEvent::OutboundSwitched { handle, old_spi_in: old, spi_out: n.spi_out });
    }

    /// Removes one pair; its policy goes with the last pair sharing it, or moves to another.
    fn remove_pair(&mut self, handle: IkeSaHandle, spi_in: u32) {
        let Some(i) = self.installed.get_mut(&handle) else { return };
        let Some(at) = i.pairs.iter().position(|p| p.spi_in == spi_in) else { return };
        let gone = i.pairs.swap_remove(at);
        self.esp.remove_inbound(gone.spi_in);
        self.esp.remove_outbound(gone.spi_out);
        self.owners.remove(&gone.spi_in);
        self.out_to_in.remove(&gone.spi_out);
        let sharing = i.pairs.iter().rev().find(|p| p.tag == gone.tag).copied();
        let points_at_gone = self
            .esp
            .spd()
            .policies()
            .iter()
            .any(|p| p.tag == gone.tag && p.action == PolicyAction::Protect { spi: gone.spi_out });
        match sharing {
            None => {
                self.esp.spd_mut().remove_tag(gone.tag);
            }
            Some(p) if points_at_gone => self.esp.spd_mut().retarget(gone.tag, p.spi_out),
            Some(_) => {}
        }
        if i.pairs.is_empty() {
            self.installed.remove(&handle);
        }
    }

    fn uninstall(&mut self, handle: IkeSaHandle) -> Vec<(u32, u32)> {
        let pairs = self.installed.remove(&handle).map(|i| i.pairs).unwrap_or_default();
        for p in &pairs {
            self.esp.spd_mut().remove_tag(p.tag);
            self.esp.remove_inbound(p.spi_in);
            self.esp.remove_outbound(p.spi_out);
            self.owners.remove(&p.spi_in);
            self.out_to_in.remove(&p.spi_out);
        }
        pairs.iter().map(|p| (p.spi_in, p.spi_out)).collect()
    }

    fn inner_side(&mut self, now: Instant, inner: &mut impl InnerPort) -> io::Result<usize> {
        let n = inner.recv_batch(&mut self.from_inner)?;
        for i in 0..self.from_inner.len() {
            let (slot, range) = self.from_inner.slot_mut(i);
            if let Ok(Outbound::Esp(d)) = self.esp.encapsulate(now, slot, range) {
                if d.lifetime == Some(LifetimeEvent::Soft) {
                    self.soft.extend(self.out_to_in.get(&d.spi).copied());
                }
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
