//! IKEv2 (RFC 7296) for the VPN crates: the message codec and the sans-IO endpoint.
//!
//! `vpn-ike` is `#![no_std]` (with `alloc`) and does no I/O: time comes in as
//! [`vpn_core::time::Instant`] arguments and randomness from the caller's RNG.
//!
//! - [`message`]: the IKEv2 header and every payload as a typed value with `decode` and
//!   `encode`; what decodes re-encodes to the same bytes.
//! - [`keys`]: SKEYSEED, the SK_* keys and Child SA KEYMAT (RFC 7296 §2.13-2.18), the SK
//!   payload ([`keys::sk`]) and IKE fragmentation ([`keys::frag`], RFC 7383).
//! - [`auth`]: PSK authentication (RFC 7296 §2.15).
//! - [`proposal`]: building and choosing SA proposals; [`nat`]: NAT detection and cookies.
//! - [`endpoint`]: the [`Endpoint`] a host drives, shaped like `quinn-proto`'s; [`config`] and
//!   [`event`] are what goes in and comes out. After establishment it keeps the IKE SA alive:
//!   CREATE_CHILD_SA for more Child SAs and for Child SA and IKE SA rekeys (soft lifetimes with
//!   jitter, or the host's `rekey_child` / `rekey_ike`), Deletes (`delete_child`, `close`, hard
//!   lifetimes), liveness checks (`dpd_interval`, `note_inbound_traffic`), and the collisions of
//!   RFC 7296 §2.8.1-§2.8.2. Rekeys are make-before-break: `ChildSaUp { rekey_of }`, then
//!   `ChildSaRekeyed` (send on the new SA), then `ChildSaDown` (remove the old one).
//!
//! Two endpoints establishing an IKE SA and its first Child SA in memory:
//!
//! ```
//! use std::sync::Arc;
//! use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
//! use vpn_core::time::Instant;
//! use vpn_ike::message::Identity;
//! use vpn_ike::{Endpoint, EndpointConfig, Event, PeerConfig};
//!
//! let (a, b) = ("192.0.2.1:500".parse()?, "192.0.2.2:500".parse()?);
//! let alice = Identity::Fqdn(b"alice.example".to_vec());
//! let gw = Identity::Fqdn(b"gw.example".to_vec());
//! let mut initiator =
//!     Endpoint::new(EndpointConfig { local_addr: a, ..Default::default() }, ChaCha20Rng::seed_from_u64(1));
//! // The responder finds its peers through a `PeerLookup`; a `Vec<PeerConfig>` is one.
//! let peers = vec![PeerConfig::psk(gw.clone(), Some(alice.clone()), b"secret")];
//! let config = EndpointConfig { local_addr: b, peers: Arc::new(peers), ..Default::default() };
//! let mut responder = Endpoint::new(config, ChaCha20Rng::seed_from_u64(2));
//!
//! let now = Instant::from_secs(1);
//! initiator.connect(now, PeerConfig::psk(alice, Some(gw), b"secret"), b)?;
//! let mut buf = vec![0u8; 65_540];
//! for _ in 0..4 {
//!     while let Some(t) = initiator.poll_transmit(&mut buf) {
//!         responder.handle_datagram(now, t.remote, t.local, t.port, &buf[..t.len]);
//!     }
//!     while let Some(t) = responder.poll_transmit(&mut buf) {
//!         initiator.handle_datagram(now, t.remote, t.local, t.port, &buf[..t.len]);
//!     }
//! }
//! let child = std::iter::from_fn(|| initiator.poll_event())
//!     .find_map(|e| if let Event::ChildSaUp(c) = e { Some(c) } else { None })
//!     .expect("a Child SA");
//! let theirs = std::iter::from_fn(|| responder.poll_event())
//!     .find_map(|e| if let Event::ChildSaUp(c) = e { Some(c) } else { None })
//!     .expect("a Child SA");
//! assert_eq!((child.spi_out, &child.keys_out.encr), (theirs.spi_in, &theirs.keys_in.encr));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod auth;
pub mod config;
pub mod endpoint;
pub mod event;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod info;
pub mod keys;
pub mod message;
pub mod nat;
pub mod proposal;
mod sa;
mod spi;

pub use config::{
    ConnectionId, EndpointConfig, EspSuite, Lifetimes, Mode, PeerConfig, PeerLookup, PortKind,
    RetransmitConfig,
};
pub use endpoint::{ConnectError, Endpoint};
pub use event::{
    ChildDownReason, ChildKeys, ChildSaInfo, DownReason, Event, IkeSaHandle, NatState, Transmit, UdpEncap,
};
pub use info::{ChildSaSnapshot, ChildSaState, IkeSaInfo, IkeSaState};
pub use keys::IkeSuite;
