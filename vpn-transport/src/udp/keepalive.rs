//! NAT keepalives (RFC 3948 §2.3, §4): a single 0xFF byte on the NAT-T port, sent to a peer
//! behind or in front of a NAT when nothing else has been sent to it for an interval, so the
//! NAT keeps the mapping open.
#![forbid(unsafe_code)]

use std::io;
use std::net::{IpAddr, SocketAddr};

use vpn_core::time::{Duration, Instant};
use vpn_esp::udp::NAT_KEEPALIVE;

use super::{PortKind, Transmit, UdpEndpoint};

/// The usual keepalive interval (strongSwan and Libreswan default to 20 s).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Peer {
    src: Option<IpAddr>,
    remote: SocketAddr,
    due: Instant,
}

/// Keepalive timers for a set of peers. The driver calls [`NatKeepalive::poll`] with the time
/// when [`NatKeepalive::next_timeout`] comes, and [`NatKeepalive::on_sent`] whenever it sends
/// anything else on the NAT-T port to a peer (RFC 3948 §4: keepalives are needed only when no
/// other packet goes).
#[derive(Debug, Clone)]
pub struct NatKeepalive {
    interval: Duration,
    peers: Vec<Peer>,
}

impl NatKeepalive {
    /// Timers that fire every `interval`.
    pub fn new(interval: Duration) -> Self {
        NatKeepalive { interval, peers: Vec::new() }
    }

    /// The interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Start sending keepalives to `remote` (from local address `src`, if given), the first one
    /// an interval after `now`. Adding a peer again restarts its timer.
    pub fn add_peer(&mut self, now: Instant, src: Option<IpAddr>, remote: SocketAddr) {
        self.remove_peer(remote);
        self.peers.push(Peer { src, remote, due: now + self.interval });
    }

    /// Stop sending keepalives to `remote`. Returns whether it was there.
    pub fn remove_peer(&mut self, remote: SocketAddr) -> bool {
        let before = self.peers.len();
        self.peers.retain(|p| p.remote != remote);
        self.peers.len() != before
    }

    /// The peers, in the order added.
    pub fn peers(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.peers.iter().map(|p| p.remote)
    }

    /// Something else was sent to `remote` at `now`: push its keepalive back.
    pub fn on_sent(&mut self, now: Instant, remote: SocketAddr) {
        if let Some(p) = self.peers.iter_mut().find(|p| p.remote == remote) {
            p.due = now + self.interval;
        }
    }

    /// When the next keepalive is due.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.peers.iter().map(|p| p.due).min()
    }

    /// The peers whose keepalive is due at `now`; each one's timer restarts. For hosts that
    /// send by other means; [`NatKeepalive::poll`] sends them itself.
    pub fn due(&mut self, now: Instant, mut f: impl FnMut(Option<IpAddr>, SocketAddr)) -> usize {
        let mut n = 0;
        for p in self.peers.iter_mut().filter(|p| p.due <= now) {
            f(p.src, p.remote);
            p.due = now + self.interval;
            n += 1;
        }
        n
    }

    /// Send the keepalives due at `now` from the NAT-T socket of `udp`; returns how many went.
    /// A keepalive that cannot go now (socket buffer full) is skipped until the next interval.
    pub fn poll(&mut self, now: Instant, udp: &mut UdpEndpoint) -> io::Result<usize> {
        let mut first_err = None;
        let mut sent = 0;
        self.due(now, |src, remote| {
            let mut t = Transmit::new(PortKind::NatT, remote, &NAT_KEEPALIVE);
            t.src = src;
            match udp.send(&[t]) {
                Ok(_) => sent += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        });
        match first_err {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }
}

impl Default for NatKeepalive {
    fn default() -> Self {
        NatKeepalive::new(DEFAULT_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_per_interval_and_reset_on_traffic() {
        let a: SocketAddr = "192.0.2.1:4500".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:4500".parse().unwrap();
        let mut k = NatKeepalive::new(Duration::from_secs(10));
        k.add_peer(Instant::ZERO, None, a);
        k.add_peer(Instant::from_secs(5), None, b);
        assert_eq!(k.next_timeout(), Some(Instant::from_secs(10)));
        let mut fired = Vec::new();
        assert_eq!(k.due(Instant::from_secs(9), |_, r| fired.push(r)), 0);
        assert_eq!(k.due(Instant::from_secs(10), |_, r| fired.push(r)), 1);
        assert_eq!(fired, vec![a]);
        assert_eq!(k.next_timeout(), Some(Instant::from_secs(15)));
        k.on_sent(Instant::from_secs(14), b);
        assert_eq!(k.next_timeout(), Some(Instant::from_secs(20)));
        assert!(k.remove_peer(a));
        assert!(!k.remove_peer(a));
        assert_eq!(k.next_timeout(), Some(Instant::from_secs(24)));
        assert_eq!(k.peers().collect::<Vec<_>>(), vec![b]);
    }
}
