//! What the endpoint tells its host: [`Event`]s and outgoing [`Transmit`]s.

use alloc::vec::Vec;
use core::net::SocketAddr;
use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::secret::SecretBytes;
use vpn_core::ts::TrafficSelector;

use crate::config::{ConnectionId, Lifetimes, Mode, PortKind};
use crate::keys::IkeSuite;
use crate::message::{Identity, NotifyType};

/// Names one IKE SA of an endpoint (our SPI of it, which is never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IkeSaHandle(pub u64);

/// One IKE message to send; its bytes were written to the buffer given to `poll_transmit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Source address.
    pub local: SocketAddr,
    /// Destination address.
    pub remote: SocketAddr,
    /// Bytes written (the IKE message; the transport adds the non-ESP marker for
    /// [`PortKind::NatT`]).
    pub len: usize,
    /// The framing: which of the two sockets sends it (RFC 3948 §2.2).
    pub port: PortKind,
}

/// Why an IKE SA ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownReason {
    /// We rejected the peer's message with this error notify (RFC 7296 §2.21).
    Rejected(NotifyType),
    /// The peer answered (or told us) with this error notify.
    PeerError(NotifyType),
    /// IKE_AUTH succeeded but the first Child SA failed with this notify, so the IKE SA was deleted.
    ChildSaFailed(NotifyType),
    /// A request went unanswered after every retransmission.
    Timeout,
    /// A responder's SA was not authenticated in time.
    HalfOpenTimeout,
    /// The peer deleted the IKE SA.
    DeletedByPeer,
    /// The host closed it.
    Closed,
    /// Its hard lifetime passed before a rekey succeeded (deleted).
    Expired,
    /// The same peer authenticated a new IKE SA with INITIAL_CONTACT (RFC 7296 §2.4).
    Replaced,
    /// Something failed locally (RNG, crypto backend).
    Internal,
}

impl DownReason {
    /// The error notify involved, if any.
    pub fn notify(&self) -> Option<NotifyType> {
        match self {
            DownReason::Rejected(n) | DownReason::PeerError(n) | DownReason::ChildSaFailed(n) => Some(*n),
            _ => None,
        }
    }
}

/// NAT situation found by NAT detection (RFC 7296 §2.23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatState {
    /// We are behind a NAT.
    pub local_behind_nat: bool,
    /// The peer is behind a NAT.
    pub remote_behind_nat: bool,
}

/// ESP keys of one direction.
#[derive(Debug, Clone)]
pub struct ChildKeys {
    /// Encryption key (with the 4-byte salt at the end for AEAD ciphers).
    pub encr: SecretBytes,
    /// Integrity key (empty for AEAD ciphers).
    pub integ: SecretBytes,
}

pub use vpn_core::ipsec::UdpEncap;

/// Everything the host needs to install an ESP SA pair.
#[derive(Debug, Clone)]
pub struct ChildSaInfo {
    /// The IKE SA it belongs to.
    pub handle: IkeSaHandle,
    /// The host's connection the IKE SA authenticated as.
    pub connection: ConnectionId,
    /// Our inbound SPI.
    pub spi_in: u32,
    /// The peer's inbound SPI (our outbound).
    pub spi_out: u32,
    /// Encryption algorithm.
    pub encr: EncrAlg,
    /// Encryption key length in bits (without salt).
    pub encr_key_bits: u16,
    /// Integrity algorithm.
    pub integ: IntegAlg,
    /// Inbound keys.
    pub keys_in: ChildKeys,
    /// Outbound keys.
    pub keys_out: ChildKeys,
    /// Extended sequence numbers.
    pub esn: bool,
    /// Tunnel or transport.
    pub mode: Mode,
    /// UDP encapsulation, when a NAT was found.
    pub udp_encap: Option<UdpEncap>,
    /// Our address (tunnel endpoint).
    pub local_addr: SocketAddr,
    /// The peer's address.
    pub remote_addr: SocketAddr,
    /// Our side's selectors after narrowing.
    pub local_ts: Vec<TrafficSelector>,
    /// The peer's side's selectors after narrowing.
    pub remote_ts: Vec<TrafficSelector>,
    /// Lifetimes.
    pub lifetimes: Lifetimes,
    /// A rekey: the inbound SPI of the Child SA this one replaces (RFC 7296 §1.3.3). Install
    /// both SAs but keep sending on the old one until `Event::ChildSaRekeyed`.
    pub rekey_of: Option<u32>,
}

/// Why a Child SA ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildDownReason {
    /// It was replaced by a rekey, and the Delete that follows a rekey completed.
    Rekeyed,
    /// The peer deleted it.
    DeletedByPeer,
    /// We deleted it (host request).
    Deleted,
    /// Its hard lifetime passed before a rekey succeeded.
    Expired,
    /// The peer no longer has it (CHILD_SA_NOT_FOUND, RFC 7296 §2.25).
    NotFound,
    /// A redundant SA from simultaneous rekeys, deleted (RFC 7296 §2.8.1).
    Redundant,
}

/// The SK_e and SK_a keys of an IKE SA, for a host that logs keys for Wireshark
/// ([`EndpointConfig::export_keys`](crate::config::EndpointConfig::export_keys)).
#[derive(Debug, Clone)]
pub struct IkeSaKeys {
    /// The initiator's SPI.
    pub spi_i: u64,
    /// The responder's SPI.
    pub spi_r: u64,
    /// The negotiated transforms.
    pub suite: IkeSuite,
    /// SK_ei (with the salt for AEAD ciphers).
    pub sk_ei: SecretBytes,
    /// SK_er.
    pub sk_er: SecretBytes,
    /// SK_ai (empty for AEAD ciphers).
    pub sk_ai: SecretBytes,
    /// SK_ar.
    pub sk_ar: SecretBytes,
}

/// Something the host should know about.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// An IKE SA is authenticated.
    IkeSaUp {
        /// Which SA.
        handle: IkeSaHandle,
        /// The host's connection the peer authenticated as (from its [`PeerConfig`](crate::PeerConfig)).
        connection: ConnectionId,
        /// We initiated it.
        initiator: bool,
        /// Our address.
        local_addr: SocketAddr,
        /// The peer's authenticated identity.
        remote_id: Identity,
        /// The peer's address (port 4500 after NAT detection).
        remote_addr: SocketAddr,
        /// The negotiated transforms.
        suite: IkeSuite,
        /// NAT detection result.
        nat: NatState,
    },
    /// A Child SA is ready to install.
    ChildSaUp(alloc::boxed::Box<ChildSaInfo>),
    /// A rekeyed Child SA's successor takes over: send on the new SA's `spi_out` from now on.
    /// Keep the old inbound SA until `ChildSaDown` for `old_spi_in`.
    ChildSaRekeyed {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// The old Child SA's inbound SPI.
        old_spi_in: u32,
        /// The new Child SA's inbound SPI.
        new_spi_in: u32,
    },
    /// A Child SA ended: remove both of its ESP SAs.
    ChildSaDown {
        /// The IKE SA.
        handle: IkeSaHandle,
        /// Our inbound SPI.
        spi_in: u32,
        /// Our outbound SPI.
        spi_out: u32,
        /// Why.
        reason: ChildDownReason,
    },
    /// An IKE SA was rekeyed (RFC 7296 §2.18): its Child SAs now belong to `new`, and `old` is
    /// gone (no `IkeSaDown` follows for it).
    IkeSaRekeyed {
        /// The old handle.
        old: IkeSaHandle,
        /// The new handle.
        new: IkeSaHandle,
    },
    /// The peer of an established IKE SA moved: an authentic IKE message came from a new
    /// address or port (RFC 7296 §2.23, a NAT's new mapping), or the host reported authentic
    /// ESP from there ([`Endpoint::peer_moved`](crate::Endpoint::peer_moved)). Send its ESP to
    /// `remote` from now on.
    PathChanged {
        /// Which SA.
        handle: IkeSaHandle,
        /// Our address.
        local: SocketAddr,
        /// The peer's new address.
        remote: SocketAddr,
    },
    /// An IKE SA (and its Child SAs) ended.
    IkeSaDown {
        /// Which SA.
        handle: IkeSaHandle,
        /// Why.
        reason: DownReason,
    },
}
