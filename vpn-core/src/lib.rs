//! Shared vocabulary of the VPN crates.
//!
//! `vpn-core` is `#![no_std]` (with `alloc`) and does no I/O: time comes in as [`time::Instant`]
//! values from the caller and randomness from a caller-supplied [`rand_core::CryptoRng`].
//!
//! - [`time`]: a monotonic [`time::Instant`] the host supplies.
//! - [`alg`]: IANA transform identifiers (RFC 7296 §3.3.2) with an `Unknown` arm.
//! - [`ipsec`]: SA mode, UDP encapsulation, the IKE and NAT-T ports and their framing.
//! - [`ts`]: traffic selectors, narrowing (RFC 7296 §2.9) and packet matching for the SPD.
//! - [`packet`]: the little IPv4/IPv6 parsing both IKE and ESP need (5-tuples, length checks).
//! - [`secret`]: key material that zeroizes on drop and never prints.
//! - [`crypto`]: AEAD, AES-CBC, HMAC integrity and PRF/prf+ with RustCrypto and optional `ring`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod alg;
pub mod crypto;
pub mod ipsec;
pub mod packet;
pub mod secret;
pub mod time;
pub mod ts;

pub use rand_core;
