//! UDP encapsulation of ESP and IKE on port 4500 (RFC 3948).
//!
//! On port 4500 one socket carries three things: ESP (a non-zero SPI first), IKE (behind the
//! four-zero-byte non-ESP marker) and NAT keepalives (a single 0xFF byte).

/// The NAT traversal port (RFC 3948 §2).
pub const NAT_T_PORT: u16 = 4500;
/// The non-ESP marker that precedes IKE on port 4500 (RFC 3948 §2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// A NAT keepalive payload (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: [u8; 1] = [0xff];

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

/// The IKE message inside a port-4500 datagram, if it carries one.
pub fn ike_message(payload: &[u8]) -> Option<&[u8]> {
    match classify(payload) {
        UdpPayload::Ike => payload.get(NON_ESP_MARKER.len()..),
        _ => None,
    }
}

/// Prepend the non-ESP marker to an IKE message of `len` bytes at `buf[4..4 + len]`, for
/// sending on port 4500. Returns the datagram length, or `None` if the buffer is too short.
pub fn add_non_esp_marker(buf: &mut [u8], len: usize) -> Option<usize> {
    let total = len.checked_add(4)?;
    buf.get_mut(..4)?.copy_from_slice(&NON_ESP_MARKER);
    (total <= buf.len()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_esp_ike_and_keepalives_apart() {
        assert_eq!(classify(&[0xff]), UdpPayload::Keepalive);
        assert_eq!(classify(&[0, 0, 0, 0, 1, 2, 3]), UdpPayload::Ike);
        assert_eq!(ike_message(&[0, 0, 0, 0, 9, 9]), Some(&[9u8, 9][..]));
        assert_eq!(classify(&[0, 0, 1, 0, 0, 0, 0, 1]), UdpPayload::Esp);
        assert_eq!(classify(&[0, 0, 1, 0, 0, 0, 0]), UdpPayload::Invalid);
        assert_eq!(classify(&[0, 0, 0, 0]), UdpPayload::Invalid);
        assert_eq!(classify(&[]), UdpPayload::Invalid);
        assert_eq!(ike_message(&[1, 2, 3, 4, 5, 6, 7, 8]), None);
        let mut b = [9u8; 10];
        assert_eq!(add_non_esp_marker(&mut b, 6), Some(10));
        assert_eq!(&b[..4], &[0, 0, 0, 0]);
        assert_eq!(add_non_esp_marker(&mut b, 7), None);
    }
}
