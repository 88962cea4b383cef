//! A `smoltcp::phy::Device` whose packets are the tunnel's inner IP packets (medium IP).
//!
//! Two bounded queues connect it to the host's loop: packets that came out of the tunnel go in
//! with [`TunnelDevice::push_rx`] and smoltcp receives them; packets smoltcp sends wait in the
//! other queue until the host takes them with [`TunnelDevice::pop_tx`] and puts them into the
//! tunnel. A userspace TCP/IP stack thus talks through the VPN with no root and no kernel
//! device. Buffers are allocated once and recycled; each packet is copied once each way.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Counters of a [`TunnelDevice`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Packets pushed in from the tunnel.
    pub rx_packets: u64,
    /// Packets refused by [`TunnelDevice::push_rx`]: queue full or longer than the MTU.
    pub rx_dropped: u64,
    /// Packets smoltcp sent into the queue to the tunnel.
    pub tx_packets: u64,
    /// Packets smoltcp sent while that queue was full, dropped.
    pub tx_dropped: u64,
}

#[derive(Debug)]
struct Queue {
    packets: VecDeque<Vec<u8>>,
    free: Vec<Vec<u8>>,
    limit: usize,
}

impl Queue {
    fn new(limit: usize, mtu: usize) -> Self {
        Queue {
            packets: VecDeque::with_capacity(limit),
            free: (0..limit).map(|_| Vec::with_capacity(mtu)).collect(),
            limit,
        }
    }

    fn is_full(&self) -> bool {
        self.packets.len() >= self.limit
    }

    /// Queue a copy of what `fill` writes into a recycled buffer of `len` bytes.
    fn push_with<R>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut b = self.free.pop().unwrap_or_default();
        b.clear();
        b.resize(len, 0);
        let r = fill(&mut b);
        self.packets.push_back(b);
        r
    }

    fn pop_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let b = self.packets.pop_front()?;
        let r = f(&b);
        self.free.push(b);
        Some(r)
    }
}

/// The device. `mtu` is the largest inner packet; the queues hold up to `queue_len` packets
/// each.
#[derive(Debug)]
pub struct TunnelDevice {
    mtu: usize,
    rx: Queue,
    tx: Queue,
    scratch: Vec<u8>,
    stats: DeviceStats,
    checksum: phy::ChecksumCapabilities,
}

impl TunnelDevice {
    /// A device for inner packets of up to `mtu` bytes with queues of `queue_len` packets.
    pub fn new(mtu: usize, queue_len: usize) -> Self {
        TunnelDevice {
            mtu,
            rx: Queue::new(queue_len, mtu),
            tx: Queue::new(queue_len, mtu),
            scratch: Vec::with_capacity(mtu),
            stats: DeviceStats::default(),
            checksum: phy::ChecksumCapabilities::default(),
        }
    }

    /// The MTU.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// The counters.
    pub fn stats(&self) -> DeviceStats {
        self.stats
    }

    /// Let smoltcp skip computing and verifying checksums (the ESP ICV already protects the
    /// packets between the two ends of the tunnel). Off by default.
    pub fn skip_checksums(&mut self, skip: bool) {
        let mut c = phy::ChecksumCapabilities::default();
        if skip {
            c = phy::ChecksumCapabilities::ignored();
        }
        self.checksum = c;
    }

    /// Hand smoltcp an inner packet that came out of the tunnel. Returns `false` (and counts
    /// a drop) when the queue is full or the packet is longer than the MTU.
    pub fn push_rx(&mut self, packet: &[u8]) -> bool {
        if self.rx.is_full() || packet.len() > self.mtu {
            self.stats.rx_dropped += 1;
            return false;
        }
        self.rx.push_with(packet.len(), |b| b.copy_from_slice(packet));
        self.stats.rx_packets += 1;
        true
    }

    /// Whether [`TunnelDevice::push_rx`] would take another packet.
    pub fn rx_has_room(&self) -> bool {
        !self.rx.is_full()
    }

    /// Packets waiting for smoltcp.
    pub fn rx_len(&self) -> usize {
        self.rx.packets.len()
    }

    /// Packets waiting for the tunnel.
    pub fn tx_len(&self) -> usize {
        self.tx.packets.len()
    }

    /// Take the next packet smoltcp sent, copying it to `buf[at..]` (leave headroom there for
    /// ESP). Returns its length, or `None` when the queue is empty or the packet does not fit
    /// (it is then dropped and counted).
    pub fn pop_tx(&mut self, buf: &mut [u8], at: usize) -> Option<usize> {
        let stats = &mut self.stats;
        self.tx
            .pop_with(|p| match buf.get_mut(at..at + p.len()) {
                Some(dst) => {
                    dst.copy_from_slice(p);
                    Some(p.len())
                }
                None => {
                    stats.tx_dropped += 1;
                    None
                }
            })
            .flatten()
    }

    /// Take the next packet smoltcp sent and hand it to `f`.
    pub fn pop_tx_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.tx.pop_with(f)
    }
}

/// Receives one packet from the queue from the tunnel.
#[derive(Debug)]
pub struct RxToken<'a> {
    packet: Vec<u8>,
    free: &'a mut Vec<Vec<u8>>,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = f(&self.packet);
        self.free.push(self.packet);
        r
    }
}

/// Sends one packet into the queue to the tunnel.
#[derive(Debug)]
pub struct TxToken<'a> {
    tx: &'a mut Queue,
    scratch: &'a mut Vec<u8>,
    stats: &'a mut DeviceStats,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        if self.tx.is_full() {
            // Only a reply built while receiving gets here; drop it as a full link would.
            self.stats.tx_dropped += 1;
            self.scratch.clear();
            self.scratch.resize(len, 0);
            return f(self.scratch);
        }
        self.stats.tx_packets += 1;
        self.tx.push_with(len, f)
    }
}

impl Device for TunnelDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let packet = self.rx.packets.pop_front()?;
        Some((
            RxToken { packet, free: &mut self.rx.free },
            TxToken { tx: &mut self.tx, scratch: &mut self.scratch, stats: &mut self.stats },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        if self.tx.is_full() {
            return None;
        }
        Some(TxToken { tx: &mut self.tx, scratch: &mut self.scratch, stats: &mut self.stats })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps.checksum = self.checksum.clone();
        caps
    }
}
