//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::IpAddr;
#[cfg(feature = "udp")]
use std::time::{Duration, Instant};

#[cfg(feature = "udp")]
use vpn_transport::udp::{DatagramMeta, UdpConfig, UdpEndpoint};
#[cfg(feature = "udp")]
use vpn_transport::PacketBatch;

pub const LOOPBACK: &str = "127.0.0.1";

pub fn lo() -> IpAddr {
    LOOPBACK.parse().unwrap()
}

#[cfg(feature = "udp")]
/// An endpoint on 127.0.0.1 with ephemeral ports.
pub fn endpoint() -> UdpEndpoint {
    UdpEndpoint::bind(&UdpConfig::ephemeral([lo()])).unwrap()
}

#[cfg(feature = "udp")]
/// Receive until `batch` holds `n` datagrams or two seconds pass.
pub fn recv_n(ep: &mut UdpEndpoint, batch: &mut PacketBatch<DatagramMeta>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while batch.len() < n {
        let now = Instant::now();
        assert!(now < deadline, "only {} of {n} datagrams arrived", batch.len());
        ep.wait(Some(deadline - now)).unwrap();
        ep.recv(batch).unwrap();
    }
}

/// An IPv4 UDP packet from `src` to `dst` (ports 40000 -> 9) with `payload`.
pub fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let ulen = 8 + payload.len();
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p[2..4].copy_from_slice(&((20 + ulen) as u16).to_be_bytes());
    let c = vpn_core::packet::checksum(0, &p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&(ulen as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]); // no checksum (allowed for IPv4, RFC 768)
    p.extend_from_slice(payload);
    p
}

/// An IPv6 UDP packet from `src` to `dst` with `payload` (checksum left zero: nothing checks it
/// on the way through the tunnel).
pub fn ipv6_udp(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let ulen = 8 + payload.len();
    let mut p = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
    p[4..6].copy_from_slice(&(ulen as u16).to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&(ulen as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

#[cfg(feature = "driver")]
#[allow(unused_imports)] // not every test uses them
pub use sa::*;

/// Building SA bindings from synthetic endpoint events, as the IKE endpoint would report them.
#[cfg(feature = "driver")]
mod sa {
    use std::net::SocketAddr;

    use vpn_core::alg::{EncrAlg, IntegAlg};
    use vpn_core::secret::SecretBytes;
    use vpn_core::time::Instant;
    use vpn_ike::config::{ConnectionId, Lifetimes, Mode};
    use vpn_ike::event::{ChildKeys, ChildSaInfo, Event, IkeSaHandle, NatState, UdpEncap};
    use vpn_ike::message::Identity;
    use vpn_ike::IkeSuite;
    use vpn_transport::binding::{BindingConfig, BindingEvent};
    use vpn_transport::SaBinding;

    /// Site A's inbound SPIs of its two Child SAs (its handles of them, and the SPIs on the wire
    /// of B -> A traffic), then site B's (the SPIs on the wire of A -> B traffic).
    pub const A_SPIS: [u32; 2] = [0xa001, 0xa002];
    pub const B_SPIS: [u32; 2] = [0xb001, 0xb002];

    /// The ESP transforms of a Child SA.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Suite {
        /// AES-256-GCM-16 (36 key bytes with the salt, no integrity key).
        Gcm,
        /// AES-256-CBC with HMAC-SHA-256-128 (32 + 32 key bytes).
        CbcSha256,
    }

    /// One end of an IKE SA: its handle and connection, and the outer addresses (our NAT-T
    /// address and the peer's).
    #[derive(Debug, Clone, Copy)]
    pub struct End {
        pub handle: u64,
        pub connection: u32,
        pub local: SocketAddr,
        pub remote: SocketAddr,
    }

    /// `Event::IkeSaUp` for `end`.
    pub fn ike_up(end: &End) -> Event {
        Event::IkeSaUp {
            handle: IkeSaHandle(end.handle),
            connection: ConnectionId(end.connection),
            initiator: true,
            local_addr: end.local,
            remote_id: Identity::Fqdn(b"peer.example".to_vec()),
            remote_addr: end.remote,
            suite: IkeSuite::AES256GCM16_SHA256_X25519,
            nat: NatState::default(),
        }
    }

    /// The keys of the ESP SA that carries SPI `spi` on the wire; `seed` tells apart pairs that
    /// happen to use the same SPI (two peers choosing the same one).
    pub fn esp_keys(suite: Suite, seed: u8, spi: u32) -> ChildKeys {
        let bytes = |n: usize, salt: u8| -> Vec<u8> {
            let s = spi.to_be_bytes();
            (0..n).map(|i| s[i % 4] ^ (i as u8).wrapping_mul(31) ^ seed ^ salt).collect()
        };
        let secret = |b: &[u8]| SecretBytes::new(b).unwrap();
        match suite {
            Suite::Gcm => ChildKeys { encr: secret(&bytes(36, 0x11)), integ: secret(&[]) },
            Suite::CbcSha256 => ChildKeys { encr: secret(&bytes(32, 0x22)), integ: secret(&bytes(32, 0x33)) },
        }
    }

    /// The `ChildSaInfo` of `end`'s Child SA with our inbound SPI `spi_in` and the peer's
    /// `spi_out`, selectors `local_ts` <-> `remote_ts`, UDP-encapsulated between the ports of
    /// `end`'s addresses. Its keys match those of the peer's `child_sa` with the SPIs swapped
    /// and the same `seed`.
    pub fn child_sa(
        end: &End,
        (spi_in, spi_out): (u32, u32),
        suite: Suite,
        seed: u8,
        (local_ts, remote_ts): (&str, &str),
    ) -> ChildSaInfo {
        let (encr, integ) = match suite {
            Suite::Gcm => (EncrAlg::AesGcm16, IntegAlg::None),
            Suite::CbcSha256 => (EncrAlg::AesCbc, IntegAlg::HmacSha256_128),
        };
        ChildSaInfo {
            handle: IkeSaHandle(end.handle),
            connection: ConnectionId(end.connection),
            spi_in,
            spi_out,
            encr,
            encr_key_bits: 256,
            integ,
            keys_in: esp_keys(suite, seed, spi_in),
            keys_out: esp_keys(suite, seed, spi_out),
            esn: false,
            mode: Mode::Tunnel,
            udp_encap: Some(UdpEncap { local_port: end.local.port(), remote_port: end.remote.port() }),
            local_addr: end.local,
            remote_addr: end.remote,
            local_ts: local_ts.split(',').map(|t| t.parse().unwrap()).collect(),
            remote_ts: remote_ts.split(',').map(|t| t.parse().unwrap()).collect(),
            lifetimes: Lifetimes::default(),
            rekey_of: None,
        }
    }

    /// Hand `info` to `binding` as `Event::ChildSaUp` and check that it was installed.
    pub fn install(binding: &mut SaBinding, info: ChildSaInfo) {
        let spi = info.spi_in;
        binding.handle_event(Instant::ZERO, &Event::ChildSaUp(Box::new(info)));
        let mut installed = false;
        while let Some(e) = binding.poll_event() {
            match e {
                BindingEvent::Installed(i) => installed |= i.spi_in == spi,
                BindingEvent::Refused { reason, .. } => panic!("Child SA {spi:08x} refused: {reason}"),
                _ => {}
            }
        }
        assert!(installed, "Child SA {spi:08x} not installed");
    }

    /// The selectors of the two pairs: AES-256-GCM for 10.1.0.0/24 <-> 10.2.0.0/24 and
    /// AES-256-CBC with HMAC-SHA-256 for fd00:1::/64 <-> fd00:2::/64.
    const NETS: [(&str, &str, Suite); 2] =
        [("10.1.0.0/24", "10.2.0.0/24", Suite::Gcm), ("fd00:1::/64", "fd00:2::/64", Suite::CbcSha256)];

    /// Two sites joined by two Child SA pairs, each of its own IKE SA and connection (pair `k`:
    /// handle and connection `k + 1`), installed from synthetic endpoint events: AES-256-GCM for
    /// 10.1.0.0/24 <-> 10.2.0.0/24 and AES-256-CBC with HMAC-SHA-256 for fd00:1::/64 <->
    /// fd00:2::/64. `a` and `b` are the sites' NAT-T addresses. A's pair `k` is its Child SA
    /// `A_SPIS[k]`, sending with `B_SPIS[k]`; B's the other way round.
    pub fn tunnel_pair(a: SocketAddr, b: SocketAddr) -> (SaBinding, SaBinding) {
        let mut ta = SaBinding::new(BindingConfig::default());
        let mut tb = SaBinding::new(BindingConfig::default());
        for (k, (na, nb, suite)) in NETS.iter().enumerate() {
            let id = k as u64 + 1;
            let ea = End { handle: id, connection: id as u32, local: a, remote: b };
            let eb = End { handle: id, connection: id as u32, local: b, remote: a };
            ta.handle_event(Instant::ZERO, &ike_up(&ea));
            tb.handle_event(Instant::ZERO, &ike_up(&eb));
            install(&mut ta, child_sa(&ea, (A_SPIS[k], B_SPIS[k]), *suite, 0, (na, nb)));
            install(&mut tb, child_sa(&eb, (B_SPIS[k], A_SPIS[k]), *suite, 0, (nb, na)));
        }
        (ta, tb)
    }
}
