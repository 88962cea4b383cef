//! The outbound SA: encapsulation in place (RFC 4303 §3.1-3.3).

use core::net::IpAddr;
use core::ops::Range;

use vpn_core::crypto::aead::TAG_LEN;
use vpn_core::packet::{
    self, Ipv4Packet, Ipv6Packet, UdpPacket, UdpRepr, IPV6_HEADER_LEN, PROTO_ESP, PROTO_IPV4, PROTO_IPV6,
    PROTO_UDP, UDP_HEADER_LEN,
};
use vpn_core::time::Instant;

use crate::cipher::EspCipher;
use crate::error::{EncapError, SaError};
use crate::framing::{ip_header_len, write_outer, Framing};
use crate::lifetime::LifetimeEvent;
use crate::sa::{Mode, SaCore, SaParams, UdpEncap};
use crate::wire::{EspPacket, EspRepr, TrailerRepr, HEADER_LEN};

/// Below this many remaining 32-bit sequence numbers the SA asks for a rekey.
const SEQ_SOFT_MARGIN: u64 = 1 << 20;

/// A packet that was encapsulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encapsulated {
    /// Where the packet to send now lies in the buffer.
    pub range: Range<usize>,
    /// The sequence number it carries (all 64 bits with ESN).
    pub seq: u64,
    /// A lifetime limit crossed by this packet, reported once.
    pub lifetime: Option<LifetimeEvent>,
}

/// An outbound ESP SA.
#[derive(Debug)]
pub struct OutboundSa {
    core: SaCore,
    /// The sequence number of the last packet sent (0: none yet).
    seq: u64,
}

pub(crate) struct Layout {
    /// Where the output starts (outer headers or ESP header).
    pub(crate) out_start: usize,
    /// Where the ESP header starts.
    pub(crate) esp_start: usize,
    /// The plaintext payload to protect.
    pub(crate) payload: Range<usize>,
    pub(crate) next_header: u8,
    pub(crate) pad: u8,
    /// Transport mode with [`Framing::Ip`]: the original IP header to move and its protocol byte.
    pub(crate) moved_header: Option<(Range<usize>, usize)>,
}

impl OutboundSa {
    /// Build the SA from `params` (`params.spi` is the SPI the peer chose).
    pub fn new(params: &SaParams) -> Result<Self, SaError> {
        Self::new_at(params, Instant::ZERO)
    }

    /// Build the SA, counting its time lifetimes from `now`.
    pub fn new_at(params: &SaParams, now: Instant) -> Result<Self, SaError> {
        Ok(OutboundSa { core: SaCore::new(params, now)?, seq: 0 })
    }

    /// The SPI this SA sends.
    pub fn spi(&self) -> u32 {
        self.core.spi
    }

    /// The sequence number of the last packet sent.
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// Continue numbering after `seq` (the next packet carries `seq + 1`). For tests and for
    /// hosts that restore an SA; never move it backwards on a live SA (RFC 4303 §3.3.3).
    pub fn set_last_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Bytes and packets sent.
    pub fn counters(&self) -> (u64, u64) {
        (self.core.usage.bytes, self.core.usage.packets)
    }

    /// Algorithm names: (cipher, key bits, integrity or "").
    pub fn algorithms(&self) -> (&'static str, u16, &'static str) {
        self.core.keys_desc
    }

    /// Headroom and tailroom an encapsulation may need around the packet, for sizing buffers.
    pub fn overhead(&self, framing: Framing) -> (usize, usize) {
        let outer = match framing {
            Framing::Esp => 0,
            Framing::Ip => {
                ip_header_len(self.core.local) + if self.core.udp.is_some() { UDP_HEADER_LEN } else { 0 }
            }
        };
        (
            outer + HEADER_LEN + self.core.cipher.iv_len(),
            self.core.cipher.align() - 1 + 2 + self.core.cipher.icv_len(),
        )
    }

    /// Report a time lifetime reached without traffic; call at [`OutboundSa::next_deadline`].
    pub fn poll_lifetime(&mut self, now: Instant) -> Option<LifetimeEvent> {
        self.core.usage.poll(now)
    }

    /// When a time lifetime will next fire.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.core.usage.next_deadline()
    }

    fn next_seq(&self) -> Result<u64, EncapError> {
        let limit = if self.core.esn { u64::MAX } else { u64::from(u32::MAX) };
        if self.seq >= limit {
            // RFC 4303 §3.3.3: the counter must not cycle; a new SA is needed.
            return Err(EncapError::SequenceExhausted);
        }
        Ok(self.seq + 1)
    }

    fn layout(&self, buf: &[u8], range: Range<usize>, framing: Framing) -> Result<Layout, EncapError> {
        let pkt = buf.get(range.clone()).ok_or(EncapError::BadRange)?;
        let esp_hdr = HEADER_LEN + self.core.cipher.iv_len();
        let udp_len = if self.core.udp.is_some() { UDP_HEADER_LEN } else { 0 };
        let need_head = |n: usize| {
            range.start.checked_sub(n).ok_or(EncapError::BufferTooSmall { headroom: n, tailroom: 0 })
        };
        match self.core.mode {
            Mode::Tunnel => {
                let next_header = match pkt.first().map(|b| b >> 4) {
                    Some(4) => PROTO_IPV4,
                    Some(6) => PROTO_IPV6,
                    Some(v) => return Err(EncapError::BadPacket(packet::PacketError::BadVersion(v))),
                    None => {
                        return Err(EncapError::BadPacket(packet::PacketError::Truncated {
                            needed: 1,
                            got: 0,
                        }))
                    }
                };
                let outer = match framing {
                    Framing::Esp => 0,
                    Framing::Ip => ip_header_len(self.core.local) + udp_len,
                };
                let esp_start = need_head(esp_hdr)?;
                let out_start = need_head(esp_hdr + outer)?;
                let pad = TrailerRepr::pad_for(pkt.len(), self.core.cipher.align());
                Ok(Layout { out_start, esp_start, payload: range, next_header, pad, moved_header: None })
            }
            Mode::Transport => {
                let info = packet::parse_ip(pkt).map_err(EncapError::BadPacket)?;
                if info.src.is_ipv4() != self.core.local.is_ipv4() {
                    return Err(EncapError::FamilyMismatch);
                }
                let payload = range.start + info.header_len..range.start + info.total_len;
                let pad = TrailerRepr::pad_for(payload.len(), self.core.cipher.align());
                match framing {
                    Framing::Esp => {
                        // The socket supplies the IP header: ESP replaces the original one.
                        let esp_start =
                            payload.start.checked_sub(esp_hdr).ok_or(EncapError::BufferTooSmall {
                                headroom: esp_hdr.saturating_sub(info.header_len),
                                tailroom: 0,
                            })?;
                        Ok(Layout {
                            out_start: esp_start,
                            esp_start,
                            payload,
                            next_header: info.protocol,
                            pad,
                            moved_header: None,
                        })
                    }
                    Framing::Ip => {
                        let out_start = need_head(esp_hdr + udp_len)?;
                        Ok(Layout {
                            out_start,
                            esp_start: payload.start - esp_hdr,
                            payload,
                            next_header: info.protocol,
                            pad,
                            moved_header: Some((
                                range.start..range.start + info.header_len,
                                info.protocol_offset,
                            )),
                        })
                    }
                }
            }
        }
    }

    /// Protect the packet at `buf[range]` in place: an inner IP packet in tunnel mode, the IP
    /// packet to protect in transport mode. The result lies in `buf[result.range]`; on error the
    /// buffer is untouched.
    pub fn encapsulate(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        range: Range<usize>,
        framing: Framing,
    ) -> Result<Encapsulated, EncapError> {
        if self.core.usage.hard_expired(now) {
            return Err(EncapError::Expired);
        }
        let seq = self.next_seq()?;
        let l = self.layout(buf, range, framing)?;
        let end = l.payload.end + usize::from(l.pad) + 2 + self.core.cipher.icv_len();
        if end > buf.len() {
            let (head, _) = self.overhead(framing);
            return Err(EncapError::BufferTooSmall { headroom: head, tailroom: end - l.payload.end });
        }
        self.seal(now, buf, l, seq, framing, None)
    }

    /// Write padding, trailer, ESP header and IV, encrypt, and add outer headers, for a layout
    /// whose space was checked. `iv` overrides the IV (known-answer tests only).
    pub(crate) fn seal(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        l: Layout,
        seq: u64,
        framing: Framing,
        iv_override: Option<&[u8]>,
    ) -> Result<Encapsulated, EncapError> {
        let iv_len = self.core.cipher.iv_len();
        let icv_len = self.core.cipher.icv_len();
        let ct_start = l.esp_start + HEADER_LEN + iv_len;
        let ct_end = l.payload.end + usize::from(l.pad) + 2;
        let end = ct_end + icv_len;
        if buf.len() < end || l.out_start > l.esp_start || ct_start > l.payload.start {
            return Err(EncapError::BadRange);
        }
        // With the ranges checked, nothing below fails: the buffer is written.
        if let Some((hdr, proto_off)) = &l.moved_header {
            // Transport mode (RFC 4303 §3.1.1): the IP header moves in front of ESP.
            let hlen = hdr.len();
            buf.copy_within(hdr.clone(), l.out_start);
            if let Some(p) = buf.get_mut(l.out_start + proto_off) {
                *p = if self.core.udp.is_some() { PROTO_UDP } else { PROTO_ESP };
            }
            debug_assert_eq!(
                l.out_start + hlen + if self.core.udp.is_some() { UDP_HEADER_LEN } else { 0 },
                l.esp_start
            );
        }
        TrailerRepr { pad_len: l.pad, next_header: l.next_header }.emit(&mut buf[l.payload.start..ct_end]);
        let seq_low = seq as u32;
        let seq_high = (seq >> 32) as u32;
        // RFC 4303 §2.1-2.2: SPI, then the low 32 bits of the sequence number.
        let mut esp = EspPacket::new_checked(&mut buf[l.esp_start..end]).map_err(|_| EncapError::BadRange)?;
        EspRepr { spi: self.core.spi, seq: seq_low }.emit(&mut esp);
        let iv_start = l.esp_start + HEADER_LEN;
        match &self.core.cipher {
            EspCipher::Aead { cipher, salt } => {
                // RFC 4106 §3.1: the IV must not repeat under a key; the sequence number never does.
                let mut iv = seq.to_be_bytes();
                if let Some(o) = iv_override {
                    iv.copy_from_slice(o);
                }
                buf[iv_start..ct_start].copy_from_slice(&iv);
                let (aad, aad_len) = aad(self.core.spi, seq_low, seq_high, self.core.esn);
                let nonce = EspCipher::nonce(salt, &iv);
                let mut tag = [0u8; TAG_LEN];
                if let Err(e) = cipher.seal(&nonce, &aad[..aad_len], &mut buf[ct_start..ct_end], &mut tag) {
                    return Err(EncapError::Crypto(e));
                }
                buf[ct_end..end].copy_from_slice(&tag);
            }
            EspCipher::CbcHmac { cbc, integ } => {
                // RFC 3602 §2 wants an unpredictable IV: the sequence number enciphered under the
                // SA's key (NIST SP 800-38A appendix C).
                let mut iv = [0u8; 16];
                iv[8..].copy_from_slice(&seq.to_be_bytes());
                iv[..4].copy_from_slice(&self.core.spi.to_be_bytes());
                cbc.encrypt_block(&mut iv);
                if let Some(o) = iv_override {
                    iv.copy_from_slice(o);
                }
                buf[iv_start..ct_start].copy_from_slice(&iv);
                cbc.encrypt(&iv, &mut buf[ct_start..ct_end]).map_err(EncapError::Crypto)?;
                let (authed, icv) = buf[l.esp_start..end].split_at_mut(ct_end - l.esp_start);
                // RFC 4303 §2.2.1: with ESN the high 32 bits are authenticated, not sent.
                let hi = seq_high.to_be_bytes();
                let parts: [&[u8]; 2] = [authed, if self.core.esn { &hi } else { &[] }];
                integ.compute(&parts, icv).map_err(EncapError::Crypto)?;
            }
        }
        match (framing, &l.moved_header) {
            (Framing::Ip, None) => write_outer(
                buf,
                l.out_start,
                self.core.local,
                self.core.remote,
                self.core.udp,
                end - l.esp_start,
            )?,
            (Framing::Ip, Some((hdr, _))) => {
                finish_transport_header(buf, l.out_start, hdr.len(), end, self.core.udp)?
            }
            (Framing::Esp, _) => {}
        }
        self.seq = seq;
        let mut event = self.core.usage.count(now, l.payload.len());
        if event.is_none() && !self.core.esn && u64::from(u32::MAX) - seq < SEQ_SOFT_MARGIN {
            event = self.core.usage.force_soft();
        }
        Ok(Encapsulated { range: l.out_start..end, seq, lifetime: event })
    }
}

/// The AAD of an AEAD ESP packet: SPI and sequence number, the high half too with ESN
/// (RFC 4106 §5, RFC 7634 §2.1).
pub(crate) fn aad(spi: u32, seq_low: u32, seq_high: u32, esn: bool) -> ([u8; 12], usize) {
    let mut a = [0u8; 12];
    a[..4].copy_from_slice(&spi.to_be_bytes());
    if esn {
        a[4..8].copy_from_slice(&seq_high.to_be_bytes());
        a[8..12].copy_from_slice(&seq_low.to_be_bytes());
        (a, 12)
    } else {
        a[4..8].copy_from_slice(&seq_low.to_be_bytes());
        (a, 8)
    }
}

/// Fix lengths and checksum of a transport-mode IP header at `buf[at..at + hlen]` whose packet
/// now ends at `end`, and write the UDP header if encapsulated.
fn finish_transport_header(
    buf: &mut [u8],
    at: usize,
    hlen: usize,
    end: usize,
    udp: Option<UdpEncap>,
) -> Result<(), EncapError> {
    let pkt = buf.get_mut(at..end).ok_or(EncapError::BadRange)?;
    let total = pkt.len();
    let (src, dst): (IpAddr, IpAddr) = if pkt.first().map(|b| b >> 4) == Some(4) {
        let mut ip = Ipv4Packet::new_checked(&mut *pkt).map_err(EncapError::BadPacket)?;
        // RFC 791 §3.1: total length covers header and data; the checksum covers the header.
        ip.set_total_len(total as u16);
        ip.fill_checksum();
        (ip.src_addr().into(), ip.dst_addr().into())
    } else {
        let mut ip = Ipv6Packet::new_checked(&mut *pkt).map_err(EncapError::BadPacket)?;
        // RFC 8200 §3: the payload length counts everything after the fixed header.
        ip.set_payload_len((total - IPV6_HEADER_LEN) as u16);
        (ip.src_addr().into(), ip.dst_addr().into())
    };
    if let Some(u) = udp {
        let dgram = pkt.get_mut(hlen..).ok_or(EncapError::BadRange)?;
        let payload_len = dgram.len().saturating_sub(UDP_HEADER_LEN);
        // RFC 3948 §2.1: the UDP header of the NAT-T socket pair, in front of ESP.
        let mut uh = UdpPacket::new_output(dgram).map_err(EncapError::BadPacket)?;
        UdpRepr { src_port: u.local_port, dst_port: u.remote_port, payload_len }.emit(&mut uh);
        if src.is_ipv6() {
            // IPv6 UDP needs a checksum (RFC 8200 §8.1); IPv4 may send zero (RFC 3948 §2.1).
            uh.fill_checksum(src, dst);
        }
    }
    Ok(())
}
