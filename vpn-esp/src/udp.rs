//! UDP encapsulation of ESP and IKE on port 4500 (RFC 3948).
//!
//! On port 4500 one socket carries three things: ESP (a non-zero SPI first), IKE (behind the
//! four-zero-byte non-ESP marker) and NAT keepalives (a single 0xFF byte).

pub use vpn_core::ipsec::{NAT_KEEPALIVE, NAT_T_PORT, NON_ESP_MARKER};

/// What a UDP datagram on port 4500 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpPayload {
    /// ESP: starts with a non-zero SPI (RFC 3948 §2.2).
    Esp,
    /// IKE after the non-ESP marker; the message starts 4 bytes in.
    Ike,
    /// A NAT keepalive (RFC 3948 §2.3).
    Keepalive,
    /// Too short to be any of them (RFC 3948 §2.2: anything under 8 bytes that is not a
    /// keepalive), to be dropped.
    Invalid,
}

/// Classify a UDP payload received on port 4500.
pub fn classify(payload: &[u8]) -> UdpPayload {
    match payload {
        [0xff] => UdpPayload::Keepalive,
        [0, 0, 0, 0, rest @ ..] if !rest.is_empty() => UdpPayload::Ike,
        p if p.len() >= 8 && p[..4] != NON_ESP_MARKER => UdpPayload::Esp,
        _ => UdpPayload::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_esp_ike_and_keepalives_apart() {
        assert_eq!(classify(&[0xff]), UdpPayload::Keepalive);
        assert_eq!(classify(&[0, 0, 0, 0, 1, 2, 3]), UdpPayload::Ike);
        assert_eq!(classify(&[0, 0, 1, 0, 0, 0, 0, 1]), UdpPayload::Esp);
        assert_eq!(classify(&[0, 0, 1, 0, 0, 0, 0]), UdpPayload::Invalid);
        assert_eq!(classify(&[0, 0, 0, 0]), UdpPayload::Invalid);
        assert_eq!(classify(&[]), UdpPayload::Invalid);
    }
}
