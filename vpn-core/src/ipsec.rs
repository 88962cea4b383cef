//! IPsec vocabulary that IKE, ESP and the transports share: the mode of an SA, UDP
//! encapsulation, the two ports and the non-ESP marker that tells them apart on port 4500.

/// The IKE port (RFC 7296 §2).
pub const IKE_PORT: u16 = 500;
/// The NAT traversal port (RFC 3948 §2, RFC 7296 §2.23).
pub const NAT_T_PORT: u16 = 4500;
/// The non-ESP marker that precedes IKE on the NAT-T port (RFC 3948 §2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// A NAT keepalive payload (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: [u8; 1] = [0xff];

/// IPsec mode of a Child SA (RFC 4301 §4.1; negotiated with USE_TRANSPORT_MODE, RFC 7296 §1.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The whole inner IP packet is protected and a new outer header carries it (the default).
    Tunnel,
    /// The upper-layer payload is protected; the original IP header stays in front.
    Transport,
}

/// UDP encapsulation of ESP (RFC 3948): the ports of the outer UDP header, from this host's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpEncap {
    /// Our port (4500 unless configured otherwise).
    pub local_port: u16,
    /// The peer's port as we see it (a NAT may have rewritten it).
    pub remote_port: u16,
}

impl Default for UdpEncap {
    fn default() -> Self {
        UdpEncap { local_port: NAT_T_PORT, remote_port: NAT_T_PORT }
    }
}

/// How an IKE message travels in UDP: the transport knows it from the socket it used, so the
/// IKE layer never guesses it from a port number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// The IKE port framing: the datagram is the IKE message (RFC 7296 §2).
    Ike,
    /// The NAT-T framing: on the wire the message follows the non-ESP marker, which the
    /// transport strips on receive and adds on send (RFC 3948 §2.2).
    NatT,
}
