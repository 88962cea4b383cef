//! What an ESP SA is built from: SPI, keys, mode, outer addresses, UDP encapsulation, ESN, the
//! replay window, lifetimes and traffic selectors.

use alloc::vec::Vec;
use core::net::IpAddr;

use vpn_core::crypto::Backend;
use vpn_core::ts::TrafficSelector;

use vpn_core::time::Instant;

use crate::cipher::{EspCipher, EspKeys};
use crate::error::SaError;
use crate::lifetime::{Lifetimes, Usage};

/// The default anti-replay window, in packets.
pub const DEFAULT_REPLAY_WINDOW: u32 = 1024;

pub use vpn_core::ipsec::{Mode, UdpEncap};

/// Everything an ESP SA is built from, seen from this host (the outbound SA uses `spi` as the
/// peer's SPI, the inbound SA as ours).
#[derive(Debug, Clone)]
pub struct SaParams {
    /// The SPI (RFC 4303 §2.1); 0 is reserved.
    pub spi: u32,
    /// Algorithms and keys.
    pub keys: EspKeys,
    /// Tunnel or transport.
    pub mode: Mode,
    /// Our outer address (tunnel endpoint, or the host in transport mode).
    pub local: IpAddr,
    /// The peer's outer address.
    pub remote: IpAddr,
    /// UDP encapsulation (RFC 3948), if any.
    pub udp_encap: Option<UdpEncap>,
    /// Extended (64-bit) sequence numbers (RFC 4303 §2.2.1).
    pub esn: bool,
    /// Anti-replay window in packets for the inbound SA; 0 switches the check off.
    pub replay_window: u32,
    /// Soft and hard lifetimes.
    pub lifetimes: Lifetimes,
    /// Selectors of our side; empty means any.
    pub local_ts: Vec<TrafficSelector>,
    /// Selectors of the peer's side; empty means any.
    pub remote_ts: Vec<TrafficSelector>,
    /// Which crypto backend to use.
    pub backend: Backend,
}

impl SaParams {
    /// A tunnel-mode SA between `local` and `remote` with default settings: no UDP
    /// encapsulation, 32-bit sequence numbers, a 1024-packet replay window, no lifetimes and
    /// any selectors.
    pub fn tunnel(spi: u32, keys: EspKeys, local: IpAddr, remote: IpAddr) -> Self {
        SaParams {
            spi,
            keys,
            mode: Mode::Tunnel,
            local,
            remote,
            udp_encap: None,
            esn: false,
            replay_window: DEFAULT_REPLAY_WINDOW,
            lifetimes: Lifetimes::default(),
            local_ts: Vec::new(),
            remote_ts: Vec::new(),
            backend: Backend::default(),
        }
    }

    /// A transport-mode SA between hosts `local` and `remote`, otherwise as [`SaParams::tunnel`].
    pub fn transport(spi: u32, keys: EspKeys, local: IpAddr, remote: IpAddr) -> Self {
        SaParams { mode: Mode::Transport, ..SaParams::tunnel(spi, keys, local, remote) }
    }

    /// The same SA seen from the peer: addresses, ports and selectors swapped.
    pub fn reversed(mut self) -> Self {
        core::mem::swap(&mut self.local, &mut self.remote);
        core::mem::swap(&mut self.local_ts, &mut self.remote_ts);
        if let Some(u) = self.udp_encap.as_mut() {
            core::mem::swap(&mut u.local_port, &mut u.remote_port);
        }
        self
    }
}

/// What both directions of an SA hold: identity, cipher, endpoints and usage.
#[derive(Debug)]
pub(crate) struct SaCore {
    pub(crate) spi: u32,
    pub(crate) cipher: EspCipher,
    pub(crate) keys_desc: (&'static str, u16, &'static str),
    pub(crate) mode: Mode,
    pub(crate) local: IpAddr,
    pub(crate) remote: IpAddr,
    pub(crate) udp: Option<UdpEncap>,
    pub(crate) esn: bool,
    pub(crate) usage: Usage,
}

impl SaCore {
    /// Check `params` and key the cipher; time lifetimes count from `now`.
    pub(crate) fn new(params: &SaParams, now: Instant) -> Result<Self, SaError> {
        if params.spi == 0 {
            // RFC 4303 §2.1: SPI 0 is reserved for local use and never sent.
            return Err(SaError::ReservedSpi);
        }
        if params.local.is_ipv4() != params.remote.is_ipv4() {
            return Err(SaError::FamilyMismatch);
        }
        Ok(SaCore {
            spi: params.spi,
            cipher: EspCipher::new(params.backend, &params.keys)?,
            keys_desc: EspKeys::describe(&params.keys),
            mode: params.mode,
            local: params.local,
            remote: params.remote,
            udp: params.udp_encap,
            esn: params.esn,
            usage: Usage::new(now, params.lifetimes),
        })
    }
}
