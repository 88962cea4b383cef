//! The SA binding: the one place that owns every installed ESP SA of every connection, and
//! follows the IKE endpoint's events (installed, rekeyed, deleted, path changed). Sans-IO, shaped
//! like boringtun's `Tunn`: the host hands it events and packets in its own buffers; it hands
//! back datagrams to send, inner packets to deliver, and the actions the endpoint needs
//! ([`EndpointAction`]). Status, metrics, the keylog and tests read it.
//!
//! - Inbound SAs are keyed by our own SPIs, which the endpoint makes unique gateway-wide.
//! - Outbound SAs are keyed by our handle of the Child SA (its inbound SPI), never by the SPI the
//!   peer chose: two peers may choose the same one.
//! - Each connection is bound to an inner interface ([`InterfaceId`]): policy-based connections
//!   share one, each route-based connection has its own (like an XFRM/VTI interface). Each
//!   interface has its own SPD, its policies ordered most specific first; a packet read from an
//!   interface can only enter that interface's tunnels, and a decapsulated packet comes out of
//!   the interface of the connection it arrived on.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::Backend;
use vpn_core::ipsec::Mode;
use vpn_core::packet::{self, PacketError};
use vpn_core::time::Instant;
use vpn_core::ts::TrafficSelector;
use vpn_esp::sad::SadEncapError;
use vpn_esp::{
    DropReason, EspKeys, Framing, InboundSa, LifetimeEvent, LifetimeLimits, Lifetimes, OutboundSa, Policy,
    PolicyAction, SaParams, Sad, Spd,
};
use vpn_ike::config::ConnectionId;
use vpn_ike::event::{ChildDownReason, ChildSaInfo, DownReason, Event, IkeSaHandle};

/// An inner interface of the host: index 0 is the shared one of policy-based connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct InterfaceId(pub u16);

/// How the binding builds ESP SAs.
#[derive(Debug, Clone)]
pub struct BindingConfig {
    /// Crypto backend of the ESP SAs.
    pub backend: Backend,
    /// Anti-replay window of inbound SAs (packets).
    pub replay_window: u32,
    /// Rekey a Child SA once either of its ESP SAs carried this many bytes of inner traffic
    /// (RFC 4301 §4.4.2.1 soft lifetime; asked of the endpoint as [`EndpointAction::RekeyChild`]).
    pub soft_bytes: Option<u64>,
    /// Rekey a Child SA once either of its ESP SAs carried this many packets.
    pub soft_packets: Option<u64>,
    /// The host can send and receive plain ESP (IP protocol 50, raw sockets). Off (the UDP
    /// transports here): a Child SA without UDP encapsulation is refused.
    pub raw_esp: bool,
}

impl Default for BindingConfig {
    fn default() -> Self {
        BindingConfig {
            backend: Backend::fastest(),
            replay_window: 1024,
            soft_bytes: None,
            soft_packets: None,
            raw_esp: false,
        }
    }
}

/// What the IKE endpoint should be told, as the ESP side saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointAction {
    /// Authentic ESP of this IKE SA arrived: no liveness check is needed
    /// (`Endpoint::note_inbound_traffic`).
    InboundTraffic(IkeSaHandle),
    /// A Child SA reached a soft byte or packet lifetime (`Endpoint::rekey_child`).
    RekeyChild {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// The Child SA (our inbound SPI).
        spi_in: u32,
    },
    /// Authentic ESP came from another address or port than the SA sends to: a NAT in front
    /// of the peer changed its mapping (`Endpoint::peer_moved`, which decides).
    PeerMoved {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// Where the ESP came from.
        remote: SocketAddr,
    },
}

/// What happened to the SAs, for the host (logs, keylog).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BindingEvent {
    /// The ESP SA pair of a Child SA was installed.
    Installed(Box<ChildSaInfo>),
    /// A Child SA could not be installed (unsupported algorithm, bad keys, SPI in use).
    Refused {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// Our inbound SPI.
        spi_in: u32,
        /// Why.
        reason: String,
    },
    /// A rekeyed Child SA's successor now carries our outbound traffic.
    OutboundSwitched {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// The old pair's inbound SPI (still installed until it is removed).
        old_spi_in: u32,
        /// The new pair's inbound SPI.
        new_spi_in: u32,
    },
    /// The ESP SA pair of one Child SA was removed.
    Removed {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// Inbound SPI.
        spi_in: u32,
        /// Outbound SPI.
        spi_out: u32,
        /// Why.
        reason: Removal,
    },
    /// The ESP of an IKE SA's Child SAs goes to a new peer address from now on.
    PathChanged {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// The new destination.
        remote: SocketAddr,
    },
}

/// Why a Child SA's ESP SAs were removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The Child SA ended.
    Child(ChildDownReason),
    /// Its IKE SA ended.
    IkeSa(DownReason),
}

/// One installed Child SA: an inbound and an outbound ESP SA and where they go.
#[derive(Debug, Clone)]
pub struct BoundChild {
    /// The IKE SA it belongs to now.
    pub handle: IkeSaHandle,
    /// The connection.
    pub connection: ConnectionId,
    /// The inner interface its packets come from and go to.
    pub interface: InterfaceId,
    /// Our inbound SPI (the Child SA's handle, and its outbound SA's key).
    pub spi_in: u32,
    /// The peer's inbound SPI.
    pub spi_out: u32,
    /// Encryption.
    pub encr: EncrAlg,
    /// Key length in bits.
    pub encr_key_bits: u16,
    /// Integrity (`None` with AEAD).
    pub integ: IntegAlg,
    /// Tunnel or transport.
    pub mode: Mode,
    /// Our side's selectors.
    pub local_ts: Vec<TrafficSelector>,
    /// The peer's side's selectors.
    pub remote_ts: Vec<TrafficSelector>,
    /// Our outer address (ESP leaves from it).
    pub local: SocketAddr,
    /// Where its ESP goes (the peer's NAT-T address as we see it).
    pub remote: SocketAddr,
    /// The SPD policy it shares with its predecessors and successors.
    tag: u64,
    /// Its policy sends on it (false for a rekey's successor until the switch, and for the
    /// predecessor after it).
    pub sending: bool,
}

#[derive(Debug, Clone)]
struct BoundIke {
    connection: ConnectionId,
    interface: InterfaceId,
}

/// An ESP datagram ready to send from the NAT-T socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspDatagram {
    /// Where it lies in the buffer (SPI first: [`Framing::Esp`]).
    pub range: Range<usize>,
    /// Our address to send it from.
    pub local: Option<IpAddr>,
    /// Where to send it.
    pub remote: SocketAddr,
    /// The Child SA that protected it (our inbound SPI).
    pub child: u32,
    /// Its sequence number.
    pub seq: u64,
}

/// An inner packet that came out of the tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Where it lies in the buffer.
    pub inner: Range<usize>,
    /// The interface to deliver it to.
    pub interface: InterfaceId,
    /// The inbound SA that took it.
    pub spi: u32,
}

/// Why an outbound inner packet was not sent. Each is counted in [`BindingStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// Not an IP packet the SPD can look at.
    #[error("not a valid IP packet: {0}")]
    BadPacket(PacketError),
    /// A discard policy matched, or none did (RFC 4301 §4.4.1: default deny).
    #[error("discarded by policy")]
    PolicyDiscard,
    /// A bypass policy matched: the host sends it in the clear, if it does that at all.
    #[error("bypass")]
    Bypass,
    /// The policy names a Child SA that is not installed.
    #[error("no outbound SA for Child SA 0x{0:08x}")]
    NoSa(u32),
    /// The SA refused the packet (buffer too small, expired, sequence numbers exhausted, ...).
    #[error(transparent)]
    Encap(SadEncapError),
}

/// Counters of the binding (inbound drops by reason are in [`Sad::drops`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BindingStats {
    /// Packets encapsulated.
    pub encapsulated: u64,
    /// Packets decapsulated.
    pub decapsulated: u64,
    /// Packets that were not IP.
    pub bad_packets: u64,
    /// Packets a discard policy (or no policy) dropped.
    pub policy_discards: u64,
    /// Packets a bypass policy matched.
    pub bypassed: u64,
    /// Packets whose policy named a missing SA.
    pub no_sa: u64,
    /// Packets the SA refused.
    pub encap_errors: u64,
}

/// Every installed ESP SA of every connection.
#[derive(Debug, Default)]
pub struct SaBinding {
    config: BindingConfig,
    sad: Sad,
    /// One SPD per interface.
    spds: BTreeMap<InterfaceId, Spd>,
    children: BTreeMap<u32, BoundChild>,
    ikes: BTreeMap<IkeSaHandle, BoundIke>,
    /// The interface of each connection; unlisted ones use `InterfaceId(0)`.
    interfaces: BTreeMap<ConnectionId, InterfaceId>,
    next_tag: u64,
    actions: VecDeque<EndpointAction>,
    /// IKE SAs heard from since the last `poll_action`, and peers seen at a new address.
    heard: Vec<IkeSaHandle>,
    moved: Vec<(IkeSaHandle, SocketAddr)>,
    events: VecDeque<BindingEvent>,
    stats: BindingStats,
}

/// How specific a selector list of one address family is, for ordering policies: the log2 of
/// the number of addresses its widest selector covers, then whether it narrows the protocol,
/// then the ports.
fn breadth(ts: &[TrafficSelector]) -> u64 {
    ts.iter()
        .map(|t| {
            let span = u64::from(t.address_span_log2());
            span * 4 + 2 * u64::from(t.ip_proto() == 0) + u64::from(t.is_any_port())
        })
        .max()
        .unwrap_or(u64::from(u16::MAX))
}

/// RFC 4301 §4.4.1: the SPD is ordered; policies of different connections are ordered most
/// specific first (the peer's side, then ours), then by connection, never by when they came up.
fn priority(local: &[TrafficSelector], remote: &[TrafficSelector], connection: ConnectionId) -> u64 {
    (breadth(remote) << 44) | (breadth(local) << 32) | u64::from(connection.0)
}

impl SaBinding {
    /// An empty binding.
    pub fn new(config: BindingConfig) -> Self {
        SaBinding { config, next_tag: 1, ..Default::default() }
    }

    /// Bind `connection`'s Child SAs to `interface` (before they come up).
    pub fn bind_connection(&mut self, connection: ConnectionId, interface: InterfaceId) {
        self.interfaces.insert(connection, interface);
    }

    /// The interface of `connection`.
    pub fn interface_of(&self, connection: ConnectionId) -> InterfaceId {
        self.interfaces.get(&connection).copied().unwrap_or_default()
    }

    /// The SAD: SAs with their counters, and the inbound drops by reason.
    pub fn sad(&self) -> &Sad {
        &self.sad
    }

    /// The SPD of an interface.
    pub fn spd(&self, interface: InterfaceId) -> Option<&Spd> {
        self.spds.get(&interface)
    }

    /// The counters.
    pub fn stats(&self) -> BindingStats {
        self.stats
    }

    /// Every installed Child SA.
    pub fn children(&self) -> impl Iterator<Item = &BoundChild> {
        self.children.values()
    }

    /// The Child SA with our inbound SPI `spi_in`.
    pub fn child(&self, spi_in: u32) -> Option<&BoundChild> {
        self.children.get(&spi_in)
    }

    /// Bytes and packets of a Child SA: (in, out), each (bytes, packets).
    pub fn counters(&self, spi_in: u32) -> ((u64, u64), (u64, u64)) {
        let i = self.sad.inbound(spi_in).map_or((0, 0), InboundSa::counters);
        let o = self.sad.outbound(spi_in).map_or((0, 0), OutboundSa::counters);
        (i, o)
    }

    /// The Child SAs of an IKE SA.
    pub fn children_of(&self, handle: IkeSaHandle) -> impl Iterator<Item = &BoundChild> {
        self.children.values().filter(move |c| c.handle == handle)
    }

    /// The next event for the host.
    pub fn poll_event(&mut self) -> Option<BindingEvent> {
        self.events.pop_front()
    }

    /// The next thing to tell the endpoint.
    pub fn poll_action(&mut self) -> Option<EndpointAction> {
        if self.actions.is_empty() {
            for h in self.heard.drain(..) {
                self.actions.push_back(EndpointAction::InboundTraffic(h));
            }
            for (handle, remote) in self.moved.drain(..) {
                self.actions.push_back(EndpointAction::PeerMoved { handle, remote });
            }
        }
        self.actions.pop_front()
    }

    /// When a time lifetime of an SA is next due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.sad.next_deadline()
    }

    /// Follow one endpoint event.
    pub fn handle_event(&mut self, now: Instant, ev: &Event) {
        match ev {
            Event::IkeSaUp { handle, connection, .. } => {
                let interface = self.interface_of(*connection);
                self.ikes.insert(*handle, BoundIke { connection: *connection, interface });
            }
            Event::ChildSaUp(info) => self.install(now, info),
            Event::ChildSaRekeyed { handle, old_spi_in, new_spi_in } => {
                self.switch_outbound(*handle, *old_spi_in, *new_spi_in)
            }
            Event::ChildSaDown { spi_in, reason, .. } => self.remove(*spi_in, Removal::Child(*reason)),
            Event::IkeSaRekeyed { old, new } => {
                if let Some(i) = self.ikes.remove(old) {
                    self.ikes.insert(*new, i);
                }
                for c in self.children.values_mut().filter(|c| c.handle == *old) {
                    c.handle = *new;
                }
            }
            Event::IkeSaDown { handle, reason } => {
                self.ikes.remove(handle);
                let gone: Vec<u32> = self.children_of(*handle).map(|c| c.spi_in).collect();
                for spi in gone {
                    self.remove(spi, Removal::IkeSa(*reason));
                }
            }
            Event::PathChanged { handle, local, remote } => {
                let mut any = false;
                for c in self.children.values_mut().filter(|c| c.handle == *handle) {
                    c.local = *local;
                    c.remote = *remote;
                    any = true;
                }
                if any {
                    self.events.push_back(BindingEvent::PathChanged { handle: *handle, remote: *remote });
                }
            }
            _ => {}
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
        p.udp_encap = info.udp_encap;
        p.local_ts = info.local_ts.clone();
        p.remote_ts = info.remote_ts.clone();
        // RFC 4301 §4.4.2.1: the IKE endpoint rekeys at the soft time lifetime (with jitter)
        // itself; the SA ends at the hard one. Byte and packet soft limits are reported to it.
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
            |reason: String| BindingEvent::Refused { handle: info.handle, spi_in: info.spi_in, reason };
        // Our SPIs are unique gateway-wide; a second SA under one would swap traffic.
        if self.children.contains_key(&info.spi_in) || self.sad.inbound(info.spi_in).is_some() {
            return self.events.push_back(refused(format!("inbound SPI {:08x} is in use", info.spi_in)));
        }
        let (inp, outp) = match (self.sa_params(info, true), self.sa_params(info, false)) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => return self.events.push_back(refused(e)),
        };
        let (inb, out) = match (InboundSa::new_at(&inp, now), OutboundSa::new_at(&outp, now)) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => return self.events.push_back(refused(e.to_string())),
        };
        // ESP travels to the peer's NAT-T port (RFC 3948); without UDP encapsulation it would
        // need raw ESP sockets, which the transports here do not open.
        let remote = match info.udp_encap {
            Some(u) => SocketAddr::new(info.remote_addr.ip(), u.remote_port),
            // Plain ESP has no port (RFC 4303); only a host with raw ESP sockets sends it.
            None if self.config.raw_esp => SocketAddr::new(info.remote_addr.ip(), 0),
            None => {
                return self.events.push_back(refused(
                    "ESP without UDP encapsulation needs raw ESP sockets, which this transport lacks \
                     (set EndpointConfig::force_udp_encap)"
                        .into(),
                ))
            }
        };
        let (connection, interface) = match self.ikes.get(&info.handle) {
            Some(i) => (i.connection, i.interface),
            None => (info.connection, self.interface_of(info.connection)),
        };
        // A rekey's successor shares its predecessor's policy, which keeps sending on the old
        // SA until `ChildSaRekeyed` (make-before-break); anything else gets a policy now.
        let inherited = info.rekey_of.and_then(|old| {
            let lineage = |c: &&BoundChild| {
                c.handle == info.handle && c.local_ts == info.local_ts && c.remote_ts == info.remote_ts
            };
            // Its predecessor may be gone already (the peer deleted it while the rekeys
            // collided, RFC 7296 §2.8.1): it then joins the Child SA that replaced it, which
            // carries the same traffic.
            self.children.get(&old).or_else(|| self.children.values().find(lineage)).map(|c| c.tag)
        });
        let tag = match inherited {
            Some(t) => t,
            None => {
                let tag = self.next_tag;
                self.next_tag += 1;
                let spd = self.spds.entry(interface).or_default();
                // One policy per address family, each ordered by its own specificity (an IPv6
                // range would otherwise rank a dual-stack connection's IPv4 policy).
                for v4 in [true, false] {
                    let fam = |v: &[TrafficSelector]| -> Vec<TrafficSelector> {
                        v.iter().filter(|t| t.is_ipv4() == v4).copied().collect()
                    };
                    let (local, remote) = (fam(&info.local_ts), fam(&info.remote_ts));
                    if local.is_empty() || remote.is_empty() {
                        continue;
                    }
                    let priority = priority(&local, &remote, connection);
                    spd.insert(Policy {
                        local,
                        remote,
                        action: PolicyAction::Protect { sa: info.spi_in },
                        priority,
                        tag,
                    });
                }
                tag
            }
        };
        self.sad.insert_inbound(inb);
        self.sad.insert_outbound(info.spi_in, out);
        self.children.insert(
            info.spi_in,
            BoundChild {
                handle: info.handle,
                connection,
                interface,
                spi_in: info.spi_in,
                spi_out: info.spi_out,
                encr: info.encr,
                encr_key_bits: info.encr_key_bits,
                integ: info.integ,
                mode: info.mode,
                local_ts: info.local_ts.clone(),
                remote_ts: info.remote_ts.clone(),
                local: info.local_addr,
                remote,
                tag,
                sending: inherited.is_none(),
            },
        );
        self.events.push_back(BindingEvent::Installed(Box::new(info.clone())));
    }

    /// Points the policy of a rekeyed Child SA at its successor.
    fn switch_outbound(&mut self, handle: IkeSaHandle, old: u32, new: u32) {
        let (Some(o), Some(n)) = (self.children.get(&old), self.children.get(&new)) else { return };
        if o.tag != n.tag {
            return;
        }
        let (tag, interface) = (o.tag, o.interface);
        if let Some(spd) = self.spds.get_mut(&interface) {
            spd.retarget(tag, new);
        }
        if let Some(c) = self.children.get_mut(&old) {
            c.sending = false;
        }
        if let Some(c) = self.children.get_mut(&new) {
            c.sending = true;
        }
        self.events.push_back(BindingEvent::OutboundSwitched { handle, old_spi_in: old, new_spi_in: new });
    }

    /// Removes one Child SA; its policy goes with the last one sharing it, or moves to another.
    fn remove(&mut self, spi_in: u32, reason: Removal) {
        let Some(gone) = self.children.remove(&spi_in) else { return };
        self.sad.remove_inbound(gone.spi_in);
        self.sad.remove_outbound(gone.spi_in);
        let heir = self.children.values_mut().filter(|c| c.tag == gone.tag).max_by_key(|c| c.sending);
        if let Some(spd) = self.spds.get_mut(&gone.interface) {
            match heir {
                None => {
                    spd.remove_tag(gone.tag);
                }
                Some(h) if gone.sending => {
                    spd.retarget(gone.tag, h.spi_in);
                    h.sending = true;
                }
                Some(_) => {}
            }
        }
        self.events.push_back(BindingEvent::Removed {
            handle: gone.handle,
            spi_in: gone.spi_in,
            spi_out: gone.spi_out,
            reason,
        });
    }

    /// Protect the inner IP packet at `buf[range]` read from `interface`: find its policy in
    /// that interface's SPD and encapsulate it in place (it needs headroom before and tailroom
    /// after it).
    pub fn encapsulate(
        &mut self,
        now: Instant,
        interface: InterfaceId,
        buf: &mut [u8],
        range: Range<usize>,
    ) -> Result<EspDatagram, OutboundError> {
        let r = self.encapsulate_uncounted(now, interface, buf, range);
        let s = &mut self.stats;
        match &r {
            Ok(_) => s.encapsulated += 1,
            Err(OutboundError::BadPacket(_)) => s.bad_packets += 1,
            Err(OutboundError::PolicyDiscard) => s.policy_discards += 1,
            Err(OutboundError::Bypass) => s.bypassed += 1,
            Err(OutboundError::NoSa(_)) => s.no_sa += 1,
            Err(OutboundError::Encap(_)) => s.encap_errors += 1,
        }
        r
    }

    fn encapsulate_uncounted(
        &mut self,
        now: Instant,
        interface: InterfaceId,
        buf: &mut [u8],
        range: Range<usize>,
    ) -> Result<EspDatagram, OutboundError> {
        let pkt = buf
            .get(range.clone())
            .ok_or(OutboundError::BadPacket(PacketError::Truncated { needed: range.end, got: buf.len() }))?;
        let tuple = packet::five_tuple(pkt).map_err(OutboundError::BadPacket)?;
        let spd = self.spds.get(&interface).ok_or(OutboundError::PolicyDiscard)?;
        let child = match spd.outbound_action(&tuple) {
            PolicyAction::Protect { sa } => sa,
            PolicyAction::Bypass => return Err(OutboundError::Bypass),
            PolicyAction::Discard => return Err(OutboundError::PolicyDiscard),
        };
        let c = self.children.get(&child).ok_or(OutboundError::NoSa(child))?;
        let (local, remote, handle) = (c.local.ip(), c.remote, c.handle);
        let e = self.sad.encapsulate(now, child, buf, range, Framing::Esp).map_err(|e| match e {
            SadEncapError::NoSa(k) => OutboundError::NoSa(k),
            e => OutboundError::Encap(e),
        })?;
        if e.lifetime == Some(LifetimeEvent::Soft) {
            self.actions.push_back(EndpointAction::RekeyChild { handle, spi_in: child });
        }
        Ok(EspDatagram {
            range: e.range,
            local: Some(local).filter(|ip| !ip.is_unspecified()),
            remote,
            child,
            seq: e.seq,
        })
    }

    /// Decapsulate the ESP datagram at `buf[range]` (SPI first, as received on the NAT-T
    /// socket) that came from `from`, in place. The inner packet is at `result.inner`, for
    /// `result.interface`; a drop is counted in [`Sad::drops`] and its reason returned.
    pub fn decapsulate(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &mut [u8],
        range: Range<usize>,
    ) -> Result<Delivered, DropReason> {
        let d = self.sad.decapsulate(now, buf, range, Framing::Esp)?;
        self.stats.decapsulated += 1;
        let Some(c) = self.children.get(&d.spi) else {
            return Ok(Delivered { inner: d.inner, interface: InterfaceId::default(), spi: d.spi });
        };
        let (handle, interface) = (c.handle, c.interface);
        if self.heard.last() != Some(&handle) && !self.heard.contains(&handle) {
            self.heard.push(handle);
        }
        if from != c.remote && !self.moved.contains(&(handle, from)) {
            self.moved.push((handle, from));
        }
        if d.lifetime == Some(LifetimeEvent::Soft) {
            self.actions.push_back(EndpointAction::RekeyChild { handle, spi_in: d.spi });
        }
        Ok(Delivered { inner: d.inner, interface, spi: d.spi })
    }

    /// Asks for rekeys of SAs whose soft time lifetime passed (the endpoint usually rekeys
    /// first, with jitter).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((_, key, e)) = self.sad.poll_lifetimes(now) {
            if e == LifetimeEvent::Soft {
                if let Some(c) = self.children.get(&key) {
                    self.actions.push_back(EndpointAction::RekeyChild { handle: c.handle, spi_in: key });
                }
            }
        }
    }
}
