//! ESP (RFC 4303) for IPsec: wire format, security associations, anti-replay, and the SAD/SPD.
//!
//! `vpn-esp` is `#![no_std]` (with `alloc` for SA set-up only) and does no I/O. The packet path
//! allocates nothing: [`OutboundSa::encapsulate`] and [`InboundSa::decapsulate`] work in place in a
//! buffer the caller owns, with headroom for the ESP header (and outer headers) and tailroom for
//! padding and the ICV. Every packet that is refused carries a [`DropReason`] the caller can count.
//!
//! ```
//! use vpn_core::{alg::{EncrAlg, IntegAlg}, time::Instant};
//! use vpn_esp::{Framing, InboundSa, OutboundSa, SaParams, EspKeys};
//!
//! let keys = EspKeys::new(EncrAlg::AesGcm16, &[7u8; 36], IntegAlg::None, &[]).unwrap();
//! let params = SaParams::tunnel(0x1234, keys, "192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
//! let mut out = OutboundSa::new(&params).unwrap();
//! let mut inb = InboundSa::new(&params.clone().reversed()).unwrap();
//!
//! // An inner IPv4 packet, placed after headroom for the ESP header.
//! let inner = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 59, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1];
//! let mut buf = [0u8; 128];
//! buf[32..52].copy_from_slice(&inner);
//! let sent = out.encapsulate(Instant::ZERO, &mut buf, 32..52, Framing::Esp).unwrap();
//! let got = inb.decapsulate(Instant::ZERO, &mut buf, sent.range, Framing::Esp).unwrap();
//! assert_eq!(&buf[got.inner], &inner);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod cipher;
mod error;
mod framing;
mod inbound;
#[cfg(test)]
mod kat;
pub mod lifetime;
mod outbound;
pub mod replay;
mod sa;
pub mod sad;
pub mod spd;
pub mod udp;
pub mod wire;

pub use cipher::{max_overhead, EspKeys};
pub use error::{DropCounters, DropReason, EncapError, SaError};
pub use framing::Framing;
pub use inbound::{Decapsulated, InboundSa};
pub use lifetime::{LifetimeEvent, LifetimeLimits, Lifetimes};
pub use outbound::{Encapsulated, OutboundSa};
pub use sa::{Mode, SaParams, UdpEncap};
pub use sad::Sad;
pub use spd::{Policy, PolicyAction, Spd};
