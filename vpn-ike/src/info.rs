//! What a host can read about an IKE SA at any moment ([`Endpoint::ike_sa_info`]): its state,
//! addresses, SPIs, suite and timers, and its Child SAs' states and timers, for status displays
//! and metrics. A snapshot: the endpoint keeps the one source of truth.
//!
//! [`Endpoint::ike_sa_info`]: crate::Endpoint::ike_sa_info

use alloc::vec::Vec;
use core::net::SocketAddr;
use vpn_core::time::Instant;

use crate::config::ConnectionId;
use crate::event::IkeSaHandle;
use crate::keys::IkeSuite;
use crate::message::Identity;

/// Where an IKE SA is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IkeSaState {
    /// IKE_SA_INIT or IKE_AUTH in progress (either role).
    Connecting,
    /// Authenticated and usable.
    Established,
    /// Established, with our rekey of it in flight (RFC 7296 §1.3.2).
    Rekeying,
    /// Replaced by a rekeyed IKE SA; it only finishes the Delete exchange (RFC 7296 §2.18).
    Rekeyed,
    /// Our Delete (or error notification) is out; it ends when answered (RFC 7296 §1.4.1).
    Deleting,
}

/// Where a Child SA is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChildSaState {
    /// Carrying traffic.
    Installed,
    /// Our rekey of it is in flight (RFC 7296 §1.3.3).
    Rekeying,
    /// Replaced by a rekeyed successor; it goes with the Delete that follows.
    Rekeyed,
    /// Our Delete of it is in flight or queued.
    Deleting,
}

/// A Child SA of an IKE SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSaSnapshot {
    /// Our inbound SPI (names the Child SA gateway-wide).
    pub spi_in: u32,
    /// The peer's inbound SPI.
    pub spi_out: u32,
    /// State.
    pub state: ChildSaState,
    /// When it is rekeyed (soft lifetime with jitter).
    pub rekey_at: Instant,
    /// When it is deleted if not rekeyed (hard lifetime).
    pub expire_at: Instant,
}

/// One IKE SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeSaInfo {
    /// Which SA.
    pub handle: IkeSaHandle,
    /// The host's connection, once known (initiator: from the start; responder: after IKE_AUTH).
    pub connection: Option<ConnectionId>,
    /// State.
    pub state: IkeSaState,
    /// We are the original initiator of this SA (after a rekey: of the rekey).
    pub initiator: bool,
    /// Our address.
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The initiator's SPI.
    pub spi_i: u64,
    /// The responder's SPI (0 until known).
    pub spi_r: u64,
    /// The negotiated suite, once IKE_SA_INIT completed.
    pub suite: Option<IkeSuite>,
    /// Our identity (once the peer's configuration is known).
    pub local_id: Option<Identity>,
    /// The peer's authenticated identity.
    pub remote_id: Option<Identity>,
    /// When the IKE SA is rekeyed (soft lifetime with jitter).
    pub rekey_at: Option<Instant>,
    /// When it is deleted if not rekeyed (hard lifetime).
    pub expire_at: Option<Instant>,
    /// Its Child SAs.
    pub children: Vec<ChildSaSnapshot>,
}
