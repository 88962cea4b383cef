//! A recorded session's later messages, mutated: the responder holds an established IKE SA (the
//! real initiator's IKE_AUTH went through, under the fixed keys of the `fuzzing` feature) and the
//! input is a list of steps whose seeds are a recorded session (CREATE_CHILD_SA new and rekey,
//! Delete, IKE SA rekey, Delete of the IKE SA, see `ResponderHarness::recorded_session`); the
//! fuzzer mutates them. Nothing may panic and every reply must decode (checked by the harness).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpn_ike::fuzzing::{ResponderHarness, Step};

fuzz_target!(|data: &[u8]| {
    let Some(mut h) = ResponderHarness::established() else { return };
    for step in Step::parse(data).iter().take(32) {
        h.step(step);
    }
});
