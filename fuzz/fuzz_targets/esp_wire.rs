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
    match udp::classify(data) {
        udp::UdpPayload::Ike => assert_eq!(udp::ike_message(data), data.get(4..)),
        _ => assert_eq!(udp::ike_message(data), None),
    }
    let _ = vpn_core::packet::five_tuple(data);
});
