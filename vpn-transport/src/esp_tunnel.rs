//! The ESP step between the inner side (TUN, smoltcp) and the outer side (UDP): an inner packet
//! goes through the SPD to its outbound SA and becomes an ESP datagram for the NAT-T port; an
//! ESP datagram goes through the SAD back to an inner packet, or is dropped with a counted
//! reason. Both work in place in the caller's buffer.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use vpn_core::packet::{self, PacketError};
use vpn_core::time::Instant;
use vpn_esp::sad::SadEncapError;
use vpn_esp::{
    Decapsulated, DropReason, Framing, InboundSa, LifetimeEvent, OutboundSa, PolicyAction, Sad, Spd,
};

/// An ESP datagram ready to send from the NAT-T port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspDatagram {
    /// Where it lies in the buffer (SPI first: [`Framing::Esp`]).
    pub range: Range<usize>,
    /// Our address to send it from, when the SA names one.
    pub local: Option<IpAddr>,
    /// Where to send it.
    pub remote: SocketAddr,
    /// The outbound SA that protected it.
    pub spi: u32,
    /// Its sequence number.
    pub seq: u64,
    /// A lifetime limit the SA crossed with this packet (time to rekey), reported once.
    pub lifetime: Option<LifetimeEvent>,
}

/// What to do with an outbound inner packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Send this ESP datagram.
    Esp(EspDatagram),
    /// A bypass policy: the packet goes out unprotected, as it is.
    Bypass,
}

/// Why an outbound inner packet was not sent. Each is counted in [`TunnelStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// Not an IP packet the SPD can look at.
    #[error("not a valid IP packet: {0}")]
    BadPacket(PacketError),
    /// A discard policy matched, or none did (RFC 4301 §4.4.1: default deny).
    #[error("discarded by policy")]
    PolicyDiscard,
    /// The policy names an outbound SA with no peer address (not installed, or removed).
    #[error("no outbound SA 0x{0:08x} with a peer address")]
    NoSa(u32),
    /// The SA refused the packet (buffer too small, expired, sequence numbers exhausted, ...).
    #[error(transparent)]
    Encap(SadEncapError),
}

/// Counters of the outbound direction (inbound drops are in [`Sad::drops`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunnelStats {
    /// Packets encapsulated.
    pub encapsulated: u64,
    /// Packets decapsulated.
    pub decapsulated: u64,
    /// Packets passed by a bypass policy.
    pub bypassed: u64,
    /// Packets that were not IP.
    pub bad_packets: u64,
    /// Packets a discard policy (or no policy) dropped.
    pub policy_discards: u64,
    /// Packets whose policy named a missing SA.
    pub no_sa: u64,
    /// Packets the SA refused.
    pub encap_errors: u64,
}

/// A SAD and SPD plus where each outbound SA's packets go.
#[derive(Debug, Default)]
pub struct EspTunnel {
    sad: Sad,
    spd: Spd,
    /// Per outbound SPI: our source address (when the host has several) and the peer's.
    remotes: BTreeMap<u32, (Option<IpAddr>, SocketAddr)>,
    stats: TunnelStats,
}

impl EspTunnel {
    /// An empty tunnel: no SAs, no policies (so everything is discarded).
    pub fn new() -> Self {
        EspTunnel::default()
    }

    /// A tunnel over an existing SPD and SAD. Outbound SAs already in `sad` need a peer
    /// address from [`EspTunnel::set_remote`] before they carry packets.
    pub fn with(sad: Sad, spd: Spd) -> Self {
        EspTunnel { sad, spd, remotes: BTreeMap::new(), stats: TunnelStats::default() }
    }

    /// The SAD.
    pub fn sad(&self) -> &Sad {
        &self.sad
    }

    /// The SAD, to install or remove inbound SAs and read counters.
    pub fn sad_mut(&mut self) -> &mut Sad {
        &mut self.sad
    }

    /// The SPD.
    pub fn spd(&self) -> &Spd {
        &self.spd
    }

    /// The SPD, to add, remove or retarget policies.
    pub fn spd_mut(&mut self) -> &mut Spd {
        &mut self.spd
    }

    /// The counters.
    pub fn stats(&self) -> TunnelStats {
        self.stats
    }

    /// Install an inbound SA (replacing one with the same SPI).
    pub fn insert_inbound(&mut self, sa: InboundSa) -> Option<InboundSa> {
        self.sad.insert_inbound(sa)
    }

    /// Install an outbound SA whose packets go to `remote` (the peer's NAT-T address as we
    /// see it).
    pub fn insert_outbound(&mut self, sa: OutboundSa, remote: SocketAddr) -> Option<OutboundSa> {
        self.insert_outbound_from(sa, None, remote)
    }

    /// [`EspTunnel::insert_outbound`], sending from our address `local` (a host with several
    /// addresses must use the one the SA was negotiated on).
    pub fn insert_outbound_from(
        &mut self,
        sa: OutboundSa,
        local: Option<IpAddr>,
        remote: SocketAddr,
    ) -> Option<OutboundSa> {
        self.remotes.insert(sa.spi(), (local, remote));
        self.sad.insert_outbound(sa)
    }

    /// Change where the outbound SA `spi` sends (the peer moved behind a NAT, RFC 7296 §2.23).
    pub fn set_remote(&mut self, spi: u32, remote: SocketAddr) {
        if let Some(e) = self.remotes.get_mut(&spi) {
            e.1 = remote;
        }
    }

    /// Where the outbound SA `spi` sends.
    pub fn remote(&self, spi: u32) -> Option<SocketAddr> {
        self.remotes.get(&spi).map(|e| e.1)
    }

    /// Remove the outbound SA `spi` and its address.
    pub fn remove_outbound(&mut self, spi: u32) -> Option<OutboundSa> {
        self.remotes.remove(&spi);
        self.sad.remove_outbound(spi)
    }

    /// Remove the inbound SA `spi`.
    pub fn remove_inbound(&mut self, spi: u32) -> Option<InboundSa> {
        self.sad.remove_inbound(spi)
    }

    /// Protect the inner IP packet at `buf[range]`: find its policy and, for a protect policy,
    /// encapsulate it in place (it needs the SA's headroom before and tailroom after it).
    pub fn encapsulate(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        range: Range<usize>,
    ) -> Result<Outbound, OutboundError> {
        let r = self.encapsulate_uncounted(now, buf, range);
        let s = &mut self.stats;
        match &r {
            Ok(Outbound::Esp(_)) => s.encapsulated += 1,
            Ok(Outbound::Bypass) => s.bypassed += 1,
            Err(OutboundError::BadPacket(_)) => s.bad_packets += 1,
            Err(OutboundError::PolicyDiscard) => s.policy_discards += 1,
            Err(OutboundError::NoSa(_)) => s.no_sa += 1,
            Err(OutboundError::Encap(_)) => s.encap_errors += 1,
        }
        r
    }

    fn encapsulate_uncounted(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        range: Range<usize>,
    ) -> Result<Outbound, OutboundError> {
        let pkt = buf
            .get(range.clone())
            .ok_or(OutboundError::BadPacket(PacketError::Truncated { needed: range.end, got: buf.len() }))?;
        let tuple = packet::five_tuple(pkt).map_err(OutboundError::BadPacket)?;
        let spi = match self.spd.outbound_action(&tuple) {
            PolicyAction::Protect { spi } => spi,
            PolicyAction::Bypass => return Ok(Outbound::Bypass),
            PolicyAction::Discard => return Err(OutboundError::PolicyDiscard),
        };
        let (local, remote) = self.remotes.get(&spi).copied().ok_or(OutboundError::NoSa(spi))?;
        let e = self.sad.encapsulate(now, spi, buf, range, Framing::Esp).map_err(|e| match e {
            SadEncapError::NoSa(spi) => OutboundError::NoSa(spi),
            e => OutboundError::Encap(e),
        })?;
        Ok(Outbound::Esp(EspDatagram {
            range: e.range,
            local,
            remote,
            spi,
            seq: e.seq,
            lifetime: e.lifetime,
        }))
    }

    /// Decapsulate the ESP datagram at `buf[range]` (SPI first, as received on the NAT-T port)
    /// in place. The inner packet is at `result.inner`; a drop is counted in
    /// [`Sad::drops`] and its reason returned.
    pub fn decapsulate(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        range: Range<usize>,
    ) -> Result<Decapsulated, DropReason> {
        let r = self.sad.decapsulate(now, buf, range, Framing::Esp);
        if r.is_ok() {
            self.stats.decapsulated += 1;
        }
        r
    }
}
