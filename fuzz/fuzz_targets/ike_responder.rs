//! Arbitrary datagrams into a responder that has a half-open IKE SA from a real initiator, with
//! the fixed keys of the `fuzzing` feature so inputs can also be payload chains sealed in valid
//! SK payloads (reaching IKE_AUTH, INFORMATIONAL and CREATE_CHILD_SA handling). Nothing may
//! panic, and every reply must be a well-formed message (checked by the harness).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpn_ike::fuzzing::{ResponderHarness, Step};

fuzz_target!(|data: &[u8]| {
    let Some(mut h) = ResponderHarness::new() else { return };
    for step in Step::parse(data).iter().take(32) {
        h.step(step);
    }
});
