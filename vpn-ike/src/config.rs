//! Configuration of an [`Endpoint`](crate::endpoint::Endpoint) and of the peers it talks to.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use vpn_core::alg::{EncrAlg, IntegAlg, KeGroup, PrfAlg};
use vpn_core::secret::SecretVec;
use vpn_core::time::Duration;
use vpn_core::ts::TrafficSelector;

use crate::keys::frag::FragmentConfig;
use crate::keys::IkeSuite;
use crate::message::{Identity, Limits};

/// One ESP proposal: a transform of each type (RFC 7296 §3.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EspSuite {
    /// Encryption algorithm.
    pub encr: EncrAlg,
    /// Encryption key length in bits.
    pub encr_key_bits: u16,
    /// Integrity algorithm ([`IntegAlg::None`] with AEAD ciphers).
    pub integ: IntegAlg,
    /// Extended sequence numbers.
    pub esn: bool,
    /// PFS: the key exchange of CREATE_CHILD_SA exchanges (RFC 7296 §1.3); `None` for no PFS.
    /// The first Child SA takes its keys from the IKE SA and ignores it (RFC 7296 §1.2).
    pub ke: Option<KeGroup>,
}

impl EspSuite {
    /// AES-256-GCM-16 without ESN.
    pub const AES256GCM16: EspSuite =
        EspSuite { encr: EncrAlg::AesGcm16, encr_key_bits: 256, integ: IntegAlg::None, esn: false, ke: None };
    /// AES-128-GCM-16 without ESN.
    pub const AES128GCM16: EspSuite = EspSuite { encr_key_bits: 128, ..Self::AES256GCM16 };
    /// ChaCha20-Poly1305 without ESN.
    pub const CHACHA20POLY1305: EspSuite = EspSuite { encr: EncrAlg::ChaCha20Poly1305, ..Self::AES256GCM16 };
    /// AES-256-CBC with HMAC-SHA2-256-128 without ESN.
    pub const AES256_SHA256: EspSuite = EspSuite {
        encr: EncrAlg::AesCbc,
        encr_key_bits: 256,
        integ: IntegAlg::HmacSha256_128,
        esn: false,
        ke: None,
    };

    /// The same suite without PFS.
    pub fn without_ke(self) -> EspSuite {
        EspSuite { ke: None, ..self }
    }
}

impl IkeSuite {
    /// `aes256gcm16-prfsha256-x25519`, a common modern choice.
    pub const AES256GCM16_SHA256_X25519: IkeSuite = IkeSuite {
        encr: EncrAlg::AesGcm16,
        encr_key_bits: 256,
        prf: PrfAlg::HmacSha256,
        integ: IntegAlg::None,
        ke: KeGroup::Curve25519,
    };
}

pub use vpn_core::ipsec::{Mode, PortKind};

/// Names the host's connection a peer configuration belongs to. The endpoint scopes
/// INITIAL_CONTACT (RFC 7296 §2.4) to it and reports it in [`Event::IkeSaUp`](crate::Event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ConnectionId(pub u32);

/// Child SA lifetimes, for the host to enforce in the SAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lifetimes {
    /// Rekey after this long.
    pub soft: Duration,
    /// Delete after this long.
    pub hard: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        // strongSwan: rekey_time 1h, life_time 1.1 * rekey_time.
        Lifetimes { soft: Duration::from_secs(3600), hard: Duration::from_secs(3960) }
    }
}

impl Lifetimes {
    /// strongSwan's IKE SA defaults: rekey after 4 h, gone after 4.4 h.
    pub const IKE_DEFAULT: Lifetimes =
        Lifetimes { soft: Duration::from_secs(4 * 3600), hard: Duration::from_secs(4 * 3600 + 1440) };
}

/// Everything about one peer: identities, the PSK, proposals, selectors and mode.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The host's connection this configuration belongs to.
    pub connection: ConnectionId,
    /// Our identity (IDi as initiator, IDr as responder).
    pub local_id: Identity,
    /// The peer's identity; `None` accepts any (as initiator: any IDr).
    pub remote_id: Option<Identity>,
    /// The pre-shared key (RFC 7296 §2.15).
    pub psk: SecretVec,
    /// IKE proposals in order of preference.
    pub ike_suites: Vec<IkeSuite>,
    /// ESP proposals in order of preference.
    pub esp_suites: Vec<EspSuite>,
    /// Our side's traffic selectors (TSi as initiator, TSr as responder).
    pub local_ts: Vec<TrafficSelector>,
    /// The peer's side's traffic selectors.
    pub remote_ts: Vec<TrafficSelector>,
    /// Tunnel or transport mode.
    pub mode: Mode,
    /// Send INITIAL_CONTACT in IKE_AUTH (initiator, RFC 7296 §2.4).
    pub initial_contact: bool,
    /// Child SA lifetimes: the endpoint rekeys at `soft` (up to 10% earlier, at random, so
    /// both ends do not rekey at once) and deletes at `hard`; also handed to the host.
    pub child_lifetimes: Lifetimes,
    /// IKE SA lifetimes: rekeyed at `soft` (with the same jitter), deleted at `hard`.
    pub ike_lifetimes: Lifetimes,
    /// Send a liveness check (an empty INFORMATIONAL, RFC 7296 §1.4) after this long without
    /// an IKE message or reported inbound ESP traffic from the peer; `None`: never.
    pub dpd_interval: Option<Duration>,
}

impl PeerConfig {
    /// A PSK peer with the default proposals, any-to-any IPv4 selectors and tunnel mode.
    pub fn psk(local_id: Identity, remote_id: Option<Identity>, psk: &[u8]) -> PeerConfig {
        PeerConfig {
            connection: ConnectionId::default(),
            local_id,
            remote_id,
            psk: SecretVec::from_slice(psk),
            ike_suites: vec![IkeSuite::AES256GCM16_SHA256_X25519],
            esp_suites: vec![EspSuite::AES256GCM16],
            local_ts: vec![TrafficSelector::any_v4()],
            remote_ts: vec![TrafficSelector::any_v4()],
            mode: Mode::Tunnel,
            initial_contact: true,
            child_lifetimes: Lifetimes::default(),
            ike_lifetimes: Lifetimes::IKE_DEFAULT,
            dpd_interval: None,
        }
    }
}

/// How a responder finds the configuration of the peer it talks to. The host implements it.
pub trait PeerLookup {
    /// The peer that authenticates as `id`, reaching our address `local` from `remote`
    /// (IKE_AUTH, RFC 7296 §2.15). Its proposals are checked against the IKE SA's.
    fn by_id(&self, id: &Identity, local: SocketAddr, remote: SocketAddr) -> Option<PeerConfig>;
    /// The IKE suites a responder accepts in IKE_SA_INIT from `remote` at `local`, in order of
    /// preference: those of every connection the peer may turn out to be, since its identity
    /// is not known yet. `None` uses [`EndpointConfig::responder_ike_suites`].
    fn ike_suites(&self, local: SocketAddr, remote: SocketAddr) -> Option<Vec<IkeSuite>>;
}

/// A static list: `by_id` takes the first entry whose `remote_id` is `id`, else the first
/// with `None` (any identity: an exact id beats a wildcard, as in strongSwan); IKE_SA_INIT
/// accepts [`EndpointConfig::responder_ike_suites`], and IKE_AUTH then requires the suite to be
/// one of the authenticated entry's.
impl PeerLookup for Vec<PeerConfig> {
    fn by_id(&self, id: &Identity, _: SocketAddr, _: SocketAddr) -> Option<PeerConfig> {
        self.iter()
            .find(|p| p.remote_id.as_ref() == Some(id))
            .or_else(|| self.iter().find(|p| p.remote_id.is_none()))
            .cloned()
    }
    fn ike_suites(&self, _: SocketAddr, _: SocketAddr) -> Option<Vec<IkeSuite>> {
        None
    }
}

/// Retransmission of requests (RFC 7296 §2.1); the defaults are strongSwan's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetransmitConfig {
    /// First timeout (4 s).
    pub timeout: Duration,
    /// Each timeout is the previous times `backoff_permille / 1000` (1800: factor 1.8).
    pub backoff_permille: u32,
    /// Retransmissions before giving up (5).
    pub tries: u32,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        RetransmitConfig { timeout: Duration::from_secs(4), backoff_permille: 1800, tries: 5 }
    }
}

impl RetransmitConfig {
    /// The time from the first transmission until giving up.
    pub fn total(&self) -> Duration {
        (0..=self.tries).fold(Duration::ZERO, |t, n| t.saturating_add(self.timeout_after(n)))
    }

    /// The wait after transmission number `n` (0 = the first).
    pub fn timeout_after(&self, n: u32) -> Duration {
        let mut nanos = u128::from(u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX));
        for _ in 0..n {
            nanos = nanos.saturating_mul(u128::from(self.backoff_permille)) / 1000;
        }
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Configuration of an endpoint.
#[derive(Clone)]
pub struct EndpointConfig {
    /// The address [`Endpoint::connect`](crate::Endpoint::connect) sends from (used for NAT
    /// detection and as `Transmit::local`).
    pub local_addr: SocketAddr,
    /// How the socket at `local_addr` frames IKE: [`PortKind::Ike`] for a port-500 socket,
    /// [`PortKind::NatT`] for a socket that carries everything behind the non-ESP marker.
    pub local_port: PortKind,
    /// Finds the peer configuration when we are the responder.
    pub peers: Arc<dyn PeerLookup + Send + Sync>,
    /// IKE proposals a responder accepts when `PeerLookup::by_addr` finds nothing.
    pub responder_ike_suites: Vec<IkeSuite>,
    /// Ask for a COOKIE (RFC 7296 §2.6) once this many responder SAs are half-open.
    pub cookie_threshold: usize,
    /// Half-open SAs from one address above which that address must return a cookie
    /// (strongSwan's `cookie_threshold_ip`, 3).
    pub cookie_threshold_ip: usize,
    /// Half-open SAs from one address above which its IKE_SA_INIT requests are dropped
    /// (strongSwan's `block_threshold`, 5).
    pub block_threshold: usize,
    /// How long one cookie secret is used before the next (RFC 7296 §2.6; the previous one is
    /// still accepted for one more period).
    pub cookie_secret_lifetime: Duration,
    /// Refuse new IKE_SA_INIT requests beyond this many half-open SAs.
    pub max_half_open: usize,
    /// A responder drops an SA that is not authenticated within this time.
    pub half_open_timeout: Duration,
    /// Request retransmission.
    pub retransmit: RetransmitConfig,
    /// IKE fragmentation (RFC 7383).
    pub fragmentation: FragmentConfig,
    /// Decoding caps.
    pub limits: Limits,
    /// Nonce length in bytes (RFC 7296 §2.10: at least half the PRF key size; 32 by default).
    pub nonce_len: usize,
    /// Keep copies of SK_ei/SK_er/SK_ai/SK_ar so
    /// [`Endpoint::ike_sa_keys`](crate::endpoint::Endpoint::ike_sa_keys) can hand them out (for a
    /// Wireshark keylog). Off by default.
    pub export_keys: bool,
    /// Always encapsulate ESP in UDP, as if a NAT were found: our NAT_DETECTION_SOURCE_IP is a
    /// random hash (RFC 7296 §2.23 allows faking it; strongSwan's `encap = yes` does the same),
    /// so both ends move to the NAT-T port. For hosts without raw ESP sockets.
    pub force_udp_encap: bool,
    /// Fuzzing only (feature `fuzzing`): every IKE SA gets the all-zero keys of
    /// `IkeKeys::fixed_for_fuzzing`, so a fuzzer can reach the contents of SK payloads.
    #[cfg(feature = "fuzzing")]
    pub fuzzing_fixed_keys: bool,
}

impl core::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("local_addr", &self.local_addr)
            .field("cookie_threshold", &self.cookie_threshold)
            .field("retransmit", &self.retransmit)
            .finish_non_exhaustive()
    }
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            local_addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 500)),
            local_port: PortKind::Ike,
            peers: Arc::new(Vec::<PeerConfig>::new()),
            responder_ike_suites: default_ike_suites(),
            cookie_threshold: 30,
            cookie_threshold_ip: 3,
            block_threshold: 5,
            cookie_secret_lifetime: Duration::from_secs(120),
            max_half_open: 10_000,
            half_open_timeout: Duration::from_secs(30),
            retransmit: RetransmitConfig::default(),
            fragmentation: FragmentConfig::default(),
            limits: Limits::default(),
            nonce_len: 32,
            export_keys: false,
            force_udp_encap: false,
            #[cfg(feature = "fuzzing")]
            fuzzing_fixed_keys: false,
        }
    }
}

/// The IKE proposals of issue 3: AES-GCM-16 (256, 128), ChaCha20-Poly1305 and AES-256-CBC with
/// HMAC-SHA2-256, each with PRF HMAC-SHA2-256/384/512, Curve25519/ECP-256/ECP-384/MODP-2048.
pub fn default_ike_suites() -> Vec<IkeSuite> {
    let ciphers = [
        (EncrAlg::AesGcm16, 256, IntegAlg::None),
        (EncrAlg::AesGcm16, 128, IntegAlg::None),
        (EncrAlg::ChaCha20Poly1305, 256, IntegAlg::None),
        (EncrAlg::AesCbc, 256, IntegAlg::HmacSha256_128),
    ];
    let mut v = Vec::new();
    for ke in [KeGroup::Curve25519, KeGroup::Ecp256, KeGroup::Ecp384, KeGroup::Modp2048] {
        for prf in [PrfAlg::HmacSha256, PrfAlg::HmacSha384, PrfAlg::HmacSha512] {
            for (encr, encr_key_bits, integ) in ciphers {
                v.push(IkeSuite { encr, encr_key_bits, prf, integ, ke });
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_matches_strongswan() {
        let r = RetransmitConfig::default();
        assert_eq!(r.timeout_after(0), Duration::from_secs(4));
        assert_eq!(r.timeout_after(1), Duration::from_millis(7200));
        assert_eq!(r.timeout_after(2), Duration::from_millis(12960));
        assert_eq!(default_ike_suites().len(), 48);
        assert_eq!(r.total().as_millis(), 165_061); // 4 + 7.2 + 12.96 + 23.33 + 41.99 + 75.58 s
    }
}
