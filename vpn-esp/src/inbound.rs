//! The inbound SA: decapsulation in place (RFC 4303 §3.4) and the checks after it
//! (RFC 4301 §5.2).

use core::ops::Range;

use vpn_core::crypto::aead::TAG_LEN;
use vpn_core::packet::{
    self, FiveTuple, IpInfo, Ipv4Packet, Ipv6Packet, IPV6_HEADER_LEN, PROTO_IPV4, PROTO_IPV6, PROTO_NONE,
};
use vpn_core::time::Instant;
use vpn_core::ts::SelectorSet;

use crate::cipher::EspCipher;
use crate::error::{DropReason, SaError};
use crate::framing::{parse_outer, Framing};
use crate::lifetime::LifetimeEvent;
use crate::outbound::aad;
use crate::replay::ReplayWindow;
use crate::sa::{Mode, SaCore, SaParams, UdpEncap};
use crate::wire::{EspPacket, EspRepr, TrailerRepr, HEADER_LEN};

/// A packet that was decapsulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decapsulated {
    /// Where the inner packet lies in the buffer: the inner IP packet in tunnel mode; in
    /// transport mode the rebuilt IP packet ([`Framing::Ip`]) or the upper-layer payload
    /// ([`Framing::Esp`]).
    pub inner: Range<usize>,
    /// The ESP next header (4 or 41 in tunnel mode, the upper-layer protocol in transport mode).
    pub next_header: u8,
    /// SPI of the SA that took it.
    pub spi: u32,
    /// The full sequence number.
    pub seq: u64,
    /// A lifetime limit crossed by this packet, reported once.
    pub lifetime: Option<LifetimeEvent>,
}

/// An inbound ESP SA.
#[derive(Debug)]
pub struct InboundSa {
    core: SaCore,
    replay: ReplayWindow,
    local_ts: SelectorSet,
    remote_ts: SelectorSet,
}

impl InboundSa {
    /// Build the SA from `params` (`params.spi` is the SPI we chose).
    pub fn new(params: &SaParams) -> Result<Self, SaError> {
        Self::new_at(params, Instant::ZERO)
    }

    /// Build the SA, counting its time lifetimes from `now`.
    pub fn new_at(params: &SaParams, now: Instant) -> Result<Self, SaError> {
        Ok(InboundSa {
            core: SaCore::new(params, now)?,
            replay: ReplayWindow::new(params.replay_window, params.esn)
                .ok_or(SaError::ReplayWindowTooLarge(params.replay_window))?,
            local_ts: SelectorSet::new(&params.local_ts),
            remote_ts: SelectorSet::new(&params.remote_ts),
        })
    }

    /// The SPI this SA receives.
    pub fn spi(&self) -> u32 {
        self.core.spi
    }

    /// The highest sequence number received.
    pub fn highest_seq(&self) -> u64 {
        self.replay.highest()
    }

    /// Treat `seq` as the highest sequence number received so far (it is marked as seen). For
    /// tests, such as ESN packets far into the sequence space.
    pub fn set_highest_seq(&mut self, seq: u64) {
        self.replay.accept(seq);
    }

    /// Bytes and packets received.
    pub fn counters(&self) -> (u64, u64) {
        (self.core.usage.bytes, self.core.usage.packets)
    }

    /// Algorithm names: (cipher, key bits, integrity or "").
    pub fn algorithms(&self) -> (&'static str, u16, &'static str) {
        self.core.keys_desc
    }

    /// The UDP encapsulation the SA was set up with.
    pub fn udp_encap(&self) -> Option<UdpEncap> {
        self.core.udp
    }

    /// Report a time lifetime reached without traffic; call at [`InboundSa::next_deadline`].
    pub fn poll_lifetime(&mut self, now: Instant) -> Option<LifetimeEvent> {
        self.core.usage.poll(now)
    }

    /// When a time lifetime will next fire.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.core.usage.next_deadline()
    }

    /// Verify, decrypt and check the packet in `buf[range]` in place.
    pub fn decapsulate(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        range: Range<usize>,
        framing: Framing,
    ) -> Result<Decapsulated, DropReason> {
        let outer = parse_outer(buf, range, framing)?;
        self.decapsulate_esp(now, buf, outer.esp, outer.ip.as_ref())
    }

    /// Decapsulate the ESP packet at `buf[esp]`; `ip` is the outer IP header when the buffer
    /// holds whole IP packets.
    pub(crate) fn decapsulate_esp(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        esp: Range<usize>,
        ip: Option<&(usize, IpInfo)>,
    ) -> Result<Decapsulated, DropReason> {
        let iv_len = self.core.cipher.iv_len();
        let icv_len = self.core.cipher.icv_len();
        let pkt = buf.get(esp.clone()).ok_or(DropReason::Truncated)?;
        // RFC 4303 §2: header, IV, at least the two trailer bytes, and the ICV.
        if pkt.len() < HEADER_LEN + iv_len + 2 + icv_len {
            return Err(DropReason::Truncated);
        }
        let hdr = EspRepr::parse(&EspPacket::new_checked(pkt).map_err(|_| DropReason::Truncated)?);
        let (spi, seq_low) = (hdr.spi, hdr.seq);
        if spi != self.core.spi {
            return Err(DropReason::UnknownSpi);
        }
        if self.core.usage.hard_expired(now) {
            return Err(DropReason::Expired);
        }
        // RFC 4303 §3.4.3: the replay check comes before the ICV check.
        let seq = self.replay.check(seq_low)?;
        let seq_high = (seq >> 32) as u32;
        let iv_start = esp.start + HEADER_LEN;
        let ct = iv_start + iv_len..esp.end - icv_len;
        if ct.len() & (self.core.cipher.align() - 1) != 0 {
            return Err(DropReason::Misaligned);
        }
        match &self.core.cipher {
            EspCipher::Aead { cipher, salt } => {
                let nonce = EspCipher::nonce(salt, &buf[iv_start..ct.start]);
                let mut tag = [0u8; TAG_LEN];
                tag.copy_from_slice(&buf[ct.end..esp.end]);
                let (aad, aad_len) = aad(spi, seq_low, seq_high, self.core.esn);
                cipher
                    .open(&nonce, &aad[..aad_len], &mut buf[ct.clone()], &tag)
                    .map_err(|_| DropReason::BadIcv)?;
            }
            EspCipher::CbcHmac { cbc, integ } => {
                let hi = seq_high.to_be_bytes();
                let parts: [&[u8]; 2] = [&buf[esp.start..ct.end], if self.core.esn { &hi } else { &[] }];
                integ.verify(&parts, &buf[ct.end..esp.end]).map_err(|_| DropReason::BadIcv)?;
                let mut iv = [0u8; 16];
                iv.copy_from_slice(&buf[iv_start..ct.start]);
                cbc.decrypt(&iv, &mut buf[ct.clone()]).map_err(|_| DropReason::Misaligned)?;
            }
        }
        // Authentic: now the window may move (RFC 4303 §3.4.3).
        self.replay.accept(seq);
        let (trailer, payload_len) = TrailerRepr::parse(&buf[ct.clone()])?;
        let payload = ct.start..ct.start + payload_len;
        if trailer.next_header == PROTO_NONE {
            // RFC 4303 §2.6: dummy packets are discarded silently.
            return Err(DropReason::Dummy);
        }
        let inner = match self.core.mode {
            Mode::Tunnel => self.check_tunnel(buf, payload, trailer.next_header)?,
            Mode::Transport => self.check_transport(buf, payload, trailer.next_header, ip)?,
        };
        let lifetime = self.core.usage.count(now, inner.len());
        Ok(Decapsulated { inner, next_header: trailer.next_header, spi, seq, lifetime })
    }

    fn selectors_allow(&self, t: &FiveTuple) -> bool {
        // Inbound traffic flows from the peer's selectors to ours (RFC 4301 §5.2 step 4).
        SelectorSet::packet_matches(&self.remote_ts, &self.local_ts, t)
    }

    fn check_tunnel(
        &self,
        buf: &[u8],
        payload: Range<usize>,
        next_header: u8,
    ) -> Result<Range<usize>, DropReason> {
        let want_version = match next_header {
            PROTO_IPV4 => 4,
            PROTO_IPV6 => 6,
            _ => return Err(DropReason::BadNextHeader),
        };
        let p = &buf[payload.clone()];
        if p.first().map(|b| b >> 4) != Some(want_version) {
            return Err(DropReason::BadInnerPacket);
        }
        // Bytes beyond the inner packet's length are TFC padding (RFC 4303 §2.7).
        let total = packet::packet_len(p).map_err(|_| DropReason::BadInnerPacket)?;
        let inner = payload.start..payload.start + total;
        let allowed = if self.local_ts.is_any() && self.remote_ts.is_any() {
            true
        } else if want_version == 4 {
            SelectorSet::ipv4_packet_matches(&self.remote_ts, &self.local_ts, &p[..total]).unwrap_or(false)
        } else {
            let info = packet::parse_ip(p).map_err(|_| DropReason::BadInnerPacket)?;
            self.selectors_allow(&info.five_tuple(p))
        };
        if !allowed {
            return Err(DropReason::SelectorMismatch);
        }
        Ok(inner)
    }

    fn check_transport(
        &self,
        buf: &mut [u8],
        payload: Range<usize>,
        next_header: u8,
        ip: Option<&(usize, IpInfo)>,
    ) -> Result<Range<usize>, DropReason> {
        let (src, dst) = match ip {
            Some((_, info)) => (info.src, info.dst),
            None => (self.core.remote, self.core.local),
        };
        let ports = packet::upper_layer_ports(next_header, &buf[payload.clone()]);
        let t = FiveTuple { src, dst, protocol: next_header, ports };
        if !self.selectors_allow(&t) {
            return Err(DropReason::SelectorMismatch);
        }
        let Some((ip_start, info)) = ip else { return Ok(payload) };
        // Rebuild the IP packet: the header moves up to the payload (RFC 4303 §3.4.4 end).
        let hlen = info.header_len;
        let new_start = payload.start - hlen;
        buf.copy_within(*ip_start..ip_start + hlen, new_start);
        if let Some(p) = buf.get_mut(new_start + info.protocol_offset) {
            *p = next_header;
        }
        let pkt = buf.get_mut(new_start..payload.end).ok_or(DropReason::Truncated)?;
        let total = pkt.len();
        if info.version == 4 {
            let mut h = Ipv4Packet::new_checked(pkt).map_err(|_| DropReason::BadOuterHeader)?;
            // RFC 791 §3.1: total length covers header and data; the checksum covers the header.
            h.set_total_len(total as u16);
            h.fill_checksum();
        } else {
            let mut h = Ipv6Packet::new_checked(pkt).map_err(|_| DropReason::BadOuterHeader)?;
            // RFC 8200 §3: the payload length counts everything after the fixed header.
            h.set_payload_len((total - IPV6_HEADER_LEN) as u16);
        }
        Ok(new_start..payload.end)
    }
}
