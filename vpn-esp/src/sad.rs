//! The Security Association Database (RFC 4301 §4.4.2): inbound SAs by our SPI, outbound SAs
//! by a key the host chooses (never the SPI the peer chose: two peers may choose the same one),
//! and drop counters.

use alloc::collections::BTreeMap;
use core::ops::Range;

use vpn_core::time::Instant;

use crate::error::{DropCounters, DropReason, EncapError};
use crate::framing::{parse_outer, Framing};
use crate::inbound::{Decapsulated, InboundSa};
use crate::lifetime::LifetimeEvent;
use crate::outbound::{Encapsulated, OutboundSa};
use crate::wire;

/// Inbound and outbound SAs and the counters of what was dropped.
#[derive(Debug, Default)]
pub struct Sad {
    inbound: BTreeMap<u32, InboundSa>,
    /// Outbound SAs by the host's key (the SPD's `Protect { sa }`).
    outbound: BTreeMap<u32, OutboundSa>,
    drops: DropCounters,
}

impl Sad {
    /// An empty SAD.
    pub fn new() -> Self {
        Sad::default()
    }

    /// Install an inbound SA, replacing one with the same SPI (returned).
    pub fn insert_inbound(&mut self, sa: InboundSa) -> Option<InboundSa> {
        self.inbound.insert(sa.spi(), sa)
    }

    /// Install an outbound SA under the host's `key` (a policy's `Protect { sa: key }` sends
    /// with it), replacing one with the same key (returned).
    pub fn insert_outbound(&mut self, key: u32, sa: OutboundSa) -> Option<OutboundSa> {
        self.outbound.insert(key, sa)
    }

    /// Remove the inbound SA with `spi`.
    pub fn remove_inbound(&mut self, spi: u32) -> Option<InboundSa> {
        self.inbound.remove(&spi)
    }

    /// Remove the outbound SA under `key`.
    pub fn remove_outbound(&mut self, key: u32) -> Option<OutboundSa> {
        self.outbound.remove(&key)
    }

    /// The inbound SA with `spi`.
    pub fn inbound(&self, spi: u32) -> Option<&InboundSa> {
        self.inbound.get(&spi)
    }

    /// The outbound SA under `key`.
    pub fn outbound(&self, key: u32) -> Option<&OutboundSa> {
        self.outbound.get(&key)
    }

    /// The outbound SA under `key`, mutably.
    pub fn outbound_mut(&mut self, key: u32) -> Option<&mut OutboundSa> {
        self.outbound.get_mut(&key)
    }

    /// All inbound SAs.
    pub fn inbound_sas(&self) -> impl Iterator<Item = &InboundSa> {
        self.inbound.values()
    }

    /// All outbound SAs.
    pub fn outbound_sas(&self) -> impl Iterator<Item = &OutboundSa> {
        self.outbound.values()
    }

    /// Counts of dropped packets by reason.
    pub fn drops(&self) -> &DropCounters {
        &self.drops
    }

    /// Count a drop decided outside the SAD (for example by the SPD).
    pub fn record_drop(&mut self, reason: DropReason) {
        self.drops.record(reason);
    }

    /// Find the SA for the packet in `buf[range]` by its SPI and decapsulate it; every drop is
    /// counted.
    pub fn decapsulate(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        range: Range<usize>,
        framing: Framing,
    ) -> Result<Decapsulated, DropReason> {
        let r = self.decapsulate_uncounted(now, buf, range, framing);
        if let Err(reason) = r {
            self.drops.record(reason);
        }
        r
    }

    fn decapsulate_uncounted(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        range: Range<usize>,
        framing: Framing,
    ) -> Result<Decapsulated, DropReason> {
        let outer = parse_outer(buf, range, framing)?;
        let esp = outer.esp;
        // RFC 4303 §2.1: the SPI, first in the ESP header, selects the SA; the SA checks the rest.
        let spi = buf.get(esp.clone()).and_then(wire::spi_of).ok_or(DropReason::Truncated)?;
        // RFC 4303 §2.1: SPI 0 is reserved and never sent.
        if spi == 0 {
            return Err(DropReason::ReservedSpi);
        }
        let sa = self.inbound.get_mut(&spi).ok_or(DropReason::UnknownSpi)?;
        sa.decapsulate_esp(now, buf, esp, outer.ip.as_ref())
    }

    /// Encapsulate with the outbound SA under `key`.
    pub fn encapsulate(
        &mut self,
        now: Instant,
        key: u32,
        buf: &mut [u8],
        range: Range<usize>,
        framing: Framing,
    ) -> Result<Encapsulated, SadEncapError> {
        let sa = self.outbound.get_mut(&key).ok_or(SadEncapError::NoSa(key))?;
        sa.encapsulate(now, buf, range, framing).map_err(SadEncapError::Encap)
    }

    /// Time lifetimes reached by any SA: (is_inbound, SPI or outbound key, event), at most one
    /// per call.
    pub fn poll_lifetimes(&mut self, now: Instant) -> Option<(bool, u32, LifetimeEvent)> {
        for (spi, sa) in self.inbound.iter_mut() {
            if let Some(e) = sa.poll_lifetime(now) {
                return Some((true, *spi, e));
            }
        }
        for (spi, sa) in self.outbound.iter_mut() {
            if let Some(e) = sa.poll_lifetime(now) {
                return Some((false, *spi, e));
            }
        }
        None
    }

    /// The earliest time lifetime deadline of any SA.
    pub fn next_deadline(&self) -> Option<Instant> {
        let i = self.inbound.values().filter_map(InboundSa::next_deadline);
        let o = self.outbound.values().filter_map(OutboundSa::next_deadline);
        i.chain(o).min()
    }
}

/// Why [`Sad::encapsulate`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SadEncapError {
    /// No outbound SA under this key.
    #[error("no outbound SA 0x{0:08x}")]
    NoSa(u32),
    /// The SA refused the packet.
    #[error(transparent)]
    Encap(EncapError),
}
