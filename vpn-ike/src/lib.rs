//! IKEv2 (RFC 7296) for the VPN crates: the message codec and, later, the sans-IO endpoint.
//!
//! `vpn-ike` is `#![no_std]` (with `alloc`) and does no I/O.
//!
//! - [`message`]: the IKEv2 header and every payload as a typed value with `decode` and
//!   `encode`; what decodes re-encodes to the same bytes.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod message;
