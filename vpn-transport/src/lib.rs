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
//! [`esp_tunnel::EspTunnel`] is the step between them: inner packet -> SPD -> ESP datagram, and
//! ESP datagram -> SAD -> inner packet.
//!
//! All `unsafe` code lives in the private `sys` module, which wraps the few libc calls std lacks.
//!
//! One turn of a gateway's ESP loop (IKE and the SA set-up are left out):
//!
//! ```no_run
//! # #[cfg(all(feature = "udp", feature = "tun"))] fn main() -> std::io::Result<()> {
//! use vpn_core::time::Instant;
//! use vpn_transport::esp_tunnel::Outbound;
//! use vpn_transport::udp::{DatagramKind, DatagramMeta, GsoBatch, PortKind, UdpConfig, UdpEndpoint};
//! use vpn_transport::{tun::Tun, EspTunnel, PacketBatch};
//!
//! let mut udp = UdpEndpoint::bind(&UdpConfig::new(["192.0.2.1".parse().unwrap()]))?;
//! let mut tun = Tun::open("vpn%d")?;
//! let mut esp = EspTunnel::new(); // install SAs and policies from the IKE endpoint's events
//! let mut from_net: PacketBatch<DatagramMeta> = PacketBatch::with_defaults(64, 2048);
//! let mut from_tun: PacketBatch<()> = PacketBatch::with_defaults(64, 1500);
//! let mut to_net = GsoBatch::new(256 * 1024, 64);
//! let now = Instant::ZERO; // from your clock
//!
//! // Outer side: ESP in, inner packets out to the kernel.
//! udp.recv(&mut from_net)?;
//! for i in 0..from_net.len() {
//!     let kind = from_net.meta(i).kind;
//!     let (slot, range) = from_net.slot_mut(i);
//!     match kind {
//!         DatagramKind::Esp => {
//!             if let Ok(d) = esp.decapsulate(now, slot, range) {
//!                 tun.send(&slot[d.inner])?;
//!             }
//!         }
//!         DatagramKind::Ike => { /* endpoint.handle_datagram(now, local, remote, &mut slot[range]) */ }
//!         DatagramKind::Keepalive => {}
//!     }
//! }
//! from_net.clear();
//!
//! // Inner side: packets from the kernel out as ESP, equal sizes in GSO runs.
//! tun.recv_batch(&mut from_tun)?;
//! for i in 0..from_tun.len() {
//!     let (slot, range) = from_tun.slot_mut(i);
//!     if let Ok(Outbound::Esp(d)) = esp.encapsulate(now, slot, range) {
//!         to_net.push(PortKind::NatT, d.remote, &slot[d.range]);
//!     }
//! }
//! udp.send_gso(&to_net, 0)?;
//! to_net.clear();
//! from_tun.clear();
//! # Ok(()) }
//! # #[cfg(not(all(feature = "udp", feature = "tun")))] fn main() {}
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod buf;
#[cfg(feature = "driver")]
pub mod driver;
pub mod esp_tunnel;
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

pub use buf::PacketBatch;
pub use esp_tunnel::EspTunnel;

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
