//! Packing datagrams to one peer back to back, so a run of equal-size datagrams (a bulk TCP
//! flow through the tunnel makes mostly full-size ESP packets) goes down as one UDP GSO send.
#![forbid(unsafe_code)]

use std::io;
use std::net::{IpAddr, SocketAddr};

use super::send::{Transmit, GSO_MAX_BYTES};
use super::{PortKind, UdpEndpoint, MAX_GSO_SEGMENTS};
use crate::sys::MAX_BATCH;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    port: PortKind,
    from: Option<IpAddr>,
    remote: SocketAddr,
    start: usize,
    end: usize,
    seg: usize,
    count: usize,
}

impl Run {
    /// Whether `len` more bytes to the same place extend this run: no shorter datagram yet
    /// (only the last may be short), not longer than the first, and within the GSO limits.
    fn takes(&self, port: PortKind, from: Option<IpAddr>, remote: SocketAddr, len: usize) -> bool {
        self.port == port
            && self.from == from
            && self.remote == remote
            && len <= self.seg
            && self.end - self.start == self.count * self.seg
            && self.count < MAX_GSO_SEGMENTS
            && self.end - self.start + len <= GSO_MAX_BYTES
    }
}

/// Datagrams copied into one buffer (allocated once), grouped into runs that one GSO send can
/// carry. Fill it with [`GsoBatch::push`], send it with [`UdpEndpoint::send_gso`], then
/// [`GsoBatch::clear`] it.
#[derive(Debug, Clone)]
pub struct GsoBatch {
    buf: Vec<u8>,
    used: usize,
    runs: Vec<Run>,
    max_runs: usize,
}

impl GsoBatch {
    /// Room for `bytes` bytes of datagrams in up to `max_runs` runs.
    pub fn new(bytes: usize, max_runs: usize) -> Self {
        GsoBatch { buf: vec![0; bytes], used: 0, runs: Vec::with_capacity(max_runs), max_runs }
    }

    /// Append a copy of `datagram`, to go from `port` to `remote`. Returns `false` when there
    /// is no room left (send and clear, then push again).
    pub fn push(&mut self, port: PortKind, remote: SocketAddr, datagram: &[u8]) -> bool {
        self.push_from(port, None, remote, datagram)
    }

    /// [`GsoBatch::push`] from a chosen local address (on a host with several).
    pub fn push_from(
        &mut self,
        port: PortKind,
        from: Option<IpAddr>,
        remote: SocketAddr,
        datagram: &[u8],
    ) -> bool {
        let len = datagram.len();
        let Some(dst) = self.buf.get_mut(self.used..self.used + len) else { return false };
        match self.runs.last_mut() {
            Some(r) if r.takes(port, from, remote, len) => {
                r.end += len;
                r.count += 1;
            }
            _ => {
                if self.runs.len() >= self.max_runs {
                    return false;
                }
                let start = self.used;
                self.runs.push(Run { port, from, remote, start, end: start + len, seg: len, count: 1 });
            }
        }
        dst.copy_from_slice(datagram);
        self.used += len;
        true
    }

    /// How many runs (system-call units) there are.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// How many datagrams there are.
    pub fn datagrams(&self) -> usize {
        self.runs.iter().map(|r| r.count).sum()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Run `i` as a transmit.
    pub fn transmit(&self, i: usize) -> Transmit<'_> {
        let r = &self.runs[i];
        let mut t = Transmit::new(r.port, r.remote, &self.buf[r.start..r.end]);
        if let Some(ip) = r.from {
            t = t.from_ip(ip);
        }
        if r.count > 1 {
            t.segments(r.seg)
        } else {
            t
        }
    }

    /// Empty it (the memory stays).
    pub fn clear(&mut self) {
        self.runs.clear();
        self.used = 0;
    }
}

impl UdpEndpoint {
    /// Send the runs of `batch` from run `from` on, as [`UdpEndpoint::send`] does; returns how
    /// many runs went (`from + n` is where to continue after `WouldBlock`).
    pub fn send_gso(&mut self, batch: &GsoBatch, from: usize) -> io::Result<usize> {
        let mut done = 0;
        let mut i = from;
        while i < batch.runs() {
            let n = (batch.runs() - i).min(MAX_BATCH);
            let mut tx = [Transmit::new(PortKind::NatT, batch.runs[i].remote, &[]); MAX_BATCH];
            for (k, t) in tx.iter_mut().enumerate().take(n) {
                *t = batch.transmit(i + k);
            }
            match self.send(&tx[..n]) {
                Ok(sent) => {
                    done += sent;
                    i += sent;
                    if sent < n {
                        break;
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_break_on_peer_size_and_limits() {
        let a: SocketAddr = "192.0.2.1:4500".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:4500".parse().unwrap();
        let mut g = GsoBatch::new(200_000, 8);
        for _ in 0..3 {
            assert!(g.push(PortKind::NatT, a, &[1; 1000]));
        }
        assert!(g.push(PortKind::NatT, a, &[2; 400])); // short last one ends the run ...
        assert!(g.push(PortKind::NatT, a, &[3; 1000])); // ... so this starts another
        assert!(g.push(PortKind::NatT, b, &[4; 1000])); // another peer
        assert!(g.push(PortKind::NatT, b, &[5; 1200])); // longer than the first
        assert_eq!(g.runs(), 4);
        assert_eq!(g.datagrams(), 7);
        let t = g.transmit(0);
        assert_eq!((t.contents.len(), t.segment_size, t.datagrams()), (3400, Some(1000), 4));
        assert_eq!(g.transmit(1).segment_size, None);
        // 64 segments at most, and no more than GSO_MAX_BYTES per run.
        g.clear();
        for _ in 0..70 {
            assert!(g.push(PortKind::NatT, a, &[0; 100]));
        }
        assert_eq!(g.runs(), 2);
        assert_eq!(g.transmit(0).datagrams(), 64);
        g.clear();
        for _ in 0..50 {
            assert!(g.push(PortKind::NatT, a, &[0; 1400]));
        }
        assert_eq!(g.transmit(0).datagrams(), GSO_MAX_BYTES / 1400);
        // Out of runs or bytes: refused.
        let mut small = GsoBatch::new(2500, 1);
        assert!(small.push(PortKind::NatT, a, &[0; 1000]));
        assert!(!small.push(PortKind::NatT, b, &[0; 1000]), "no run left");
        assert!(small.push(PortKind::NatT, a, &[0; 1000]));
        assert!(!small.push(PortKind::NatT, a, &[0; 1000]), "no bytes left");
    }
}
