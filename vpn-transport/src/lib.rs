//! std adapters that connect the sans-IO VPN crates to the operating system.
//!
//! Each adapter sits behind a cargo feature (all on by default):
//!
//! - `udp`: [`udp::UdpEndpoint`], sockets on the IKE port (500) and the NAT-T port (4500), IPv4
//!   and IPv6, telling IKE, ESP and NAT keepalives apart (RFC 3948), with batched
//!   `recvmmsg`/`sendmmsg` and UDP GSO on Linux, into caller-owned [`buf::PacketBatch`]es.
//! - `tun`: [`tun::Tun`], a Linux TUN device that reads and writes inner IP packets.
//! - `smoltcp`: [`smoltcp_device::TunnelDevice`], a `smoltcp::phy::Device` whose packets are the
//!   tunnel's inner packets, so a userspace TCP/IP stack can talk through the VPN without root.
//!
//! [`binding::SaBinding`] is the step between them and the IKE endpoint: it owns every
//! installed ESP SA of every connection and follows the endpoint's events; inner packet -> the
//! SPD of its interface -> ESP datagram, and ESP datagram -> SAD -> inner packet for the
//! interface of its connection. [`driver::Driver`] is the I/O loop around both.
//!
//! All `unsafe` code lives in the private `sys` module, which wraps the few libc calls std lacks.
//!
//! One turn of a gateway's ESP loop (IKE and the SA set-up are left out):
//!
//! ```no_run
//! # #[cfg(all(feature = "udp", feature = "tun", feature = "driver"))] fn main() -> std::io::Result<()> {
//! use vpn_core::time::Instant;
//! use vpn_transport::binding::{BindingConfig, InterfaceId};
//! use vpn_transport::udp::{DatagramKind, DatagramMeta, GsoBatch, PortKind, UdpConfig, UdpEndpoint};
//! use vpn_transport::{tun::Tun, PacketBatch, SaBinding};
//!
//! let mut udp = UdpEndpoint::bind(&UdpConfig::new(["192.0.2.1".parse().unwrap()]))?;
//! let mut tun = Tun::open("vpn%d")?;
//! // Hand it the IKE endpoint's events (`binding.handle_event(now, &event)`) to install SAs.
//! let mut binding = SaBinding::new(BindingConfig::default());
//! let mut from_net: PacketBatch<DatagramMeta> = PacketBatch::with_defaults(64, 2048);
//! let mut from_tun: PacketBatch<()> = PacketBatch::with_defaults(64, 1500);
//! let mut to_net = GsoBatch::new(256 * 1024, 64);
//! let now = Instant::ZERO; // from your clock
//!
//! // Outer side: ESP in, inner packets out to the kernel.
//! udp.recv(&mut from_net)?;
//! for i in 0..from_net.len() {
//!     let meta = *from_net.meta(i);
//!     let (slot, range) = from_net.slot_mut(i);
//!     match meta.kind {
//!         DatagramKind::Esp => {
//!             if let Ok(d) = binding.decapsulate(now, meta.remote, slot, range) {
//!                 tun.send(&slot[d.inner])?;
//!             }
//!         }
//!         DatagramKind::Ike => { /* endpoint.handle_datagram(now, meta.local, meta.remote, meta.port, &slot[range]) */ }
//!         DatagramKind::Keepalive => {}
//!     }
//! }
//! from_net.clear();
//!
//! // Inner side: packets from the kernel out as ESP, equal sizes in GSO runs.
//! tun.recv_batch(&mut from_tun)?;
//! for i in 0..from_tun.len() {
//!     let (slot, range) = from_tun.slot_mut(i);
//!     if let Ok(d) = binding.encapsulate(now, InterfaceId(0), slot, range) {
//!         to_net.push(PortKind::NatT, d.remote, &slot[d.range]);
//!     }
//! }
//! udp.send_gso(&to_net, 0)?;
//! to_net.clear();
//! from_tun.clear();
//! # Ok(()) }
//! # #[cfg(not(all(feature = "udp", feature = "tun", feature = "driver")))] fn main() {}
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "binding")]
pub mod binding;
pub mod buf;
#[cfg(feature = "driver")]
pub mod driver;
#[cfg(feature = "smoltcp")]
pub mod host;
#[cfg(feature = "driver")]
pub mod inner;
#[cfg(all(feature = "tun", target_os = "linux"))]
mod netlink;
#[cfg(feature = "smoltcp")]
pub mod smoltcp_device;
#[allow(unsafe_code)]
#[cfg_attr(not(all(feature = "udp", feature = "tun")), allow(dead_code, unused_imports))]
mod sys;
#[cfg(all(feature = "tun", target_os = "linux"))]
pub mod tun;
#[cfg(feature = "udp")]
pub mod udp;

#[cfg(feature = "binding")]
pub use binding::SaBinding;
pub use buf::PacketBatch;

/// Wait until one of `fds` is readable or `timeout` passes (`None`: wait forever); returns
/// whether any is readable. A wait interrupted by a signal returns `Ok(false)`.
pub fn wait_readable(
    fds: &[std::os::fd::BorrowedFd<'_>],
    timeout: Option<std::time::Duration>,
) -> std::io::Result<bool> {
    sys::poll_readable(fds, timeout)
}

/// Wait until one of `fds` is writable or `timeout` passes (`None`: wait forever); returns
/// whether any is writable. A wait interrupted by a signal returns `Ok(false)`.
pub fn wait_writable(
    fds: &[std::os::fd::BorrowedFd<'_>],
    timeout: Option<std::time::Duration>,
) -> std::io::Result<bool> {
    sys::poll_writable(fds, timeout)
}
