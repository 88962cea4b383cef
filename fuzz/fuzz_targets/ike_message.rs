//! Decodes arbitrary bytes as an IKE message and as a payload chain: decoding must never
//! panic, and whatever decodes must re-encode to exactly the input bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpn_ike::message::{decode_payload_chain, encode_payload_chain, Limits, Message, PayloadType};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();

    if let Ok(msg) = Message::decode(data, &limits) {
        assert_eq!(msg.encode(), data, "message re-encodes to the input");
    }

    // The plaintext-of-SK variant: first byte is the first payload type, the rest the chain.
    if let Some((&first, chain)) = data.split_first() {
        if let Ok(payloads) = decode_payload_chain(PayloadType::from(first), chain, &limits) {
            let mut out = Vec::new();
            let first_again = encode_payload_chain(&payloads, &mut out);
            assert_eq!(u8::from(first_again), first, "chain re-encodes its first type");
            assert_eq!(out, chain, "chain re-encodes to the input");
        }
    }
});
