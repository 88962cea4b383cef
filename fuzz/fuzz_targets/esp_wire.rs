//! The ESP header and trailer views: parse then emit must give back the same bytes, and no
//! accessor may panic once `new_checked` succeeded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpn_esp::udp;
use vpn_esp::wire::{EspPacket, EspRepr, TrailerRepr};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = EspPacket::new_checked(data) {
        let repr = EspRepr::parse(&p);
        let mut out = vec![0u8; data.len()];
        let mut q = EspPacket::new_unchecked(&mut out[..]);
        repr.emit(&mut q);
        q.payload_mut().copy_from_slice(p.payload());
        assert_eq!(out, data);
    }
    if let Ok((t, payload_len)) = TrailerRepr::parse(data) {
        let mut out = data.to_vec();
        t.emit(&mut out[..]);
        assert_eq!(out, data, "a trailer that parsed re-emits identically");
        assert_eq!(payload_len + usize::from(t.pad_len) + 2, data.len());
    }
    // RFC 3948 §2.2: IKE behind the marker, ESP with a non-zero SPI and 8 bytes at least.
    match udp::classify(data) {
        udp::UdpPayload::Ike => assert!(data.len() > 4 && data[..4] == udp::NON_ESP_MARKER),
        udp::UdpPayload::Esp => assert!(data.len() >= 8 && data[..4] != udp::NON_ESP_MARKER),
        udp::UdpPayload::Keepalive => assert_eq!(data, udp::NAT_KEEPALIVE),
        udp::UdpPayload::Invalid => {}
    }
    let _ = vpn_core::packet::five_tuple(data);
});
