//! The hostile-input campaign (issue 6): cases drawn from the classes of bugs IKE and IPsec
//! implementations have had (lengths trusted before checking, messages in the wrong state,
//! assertions on peer-controlled values, lax crypto checks, resource exhaustion).
//!
//! Every case asserts an exact outcome: dropped with this reason, answered with this notify, SA
//! state unchanged. `cargo test -p vpn-hostile` runs them all and ends with
//! `hostile: N cases, N passed`.
//!
//! Groups: `esp` (item 8); `ike_codec` (items 1-3: payload lengths, TS/proposal contents, KE
//! sizes and values, protocol IDs and SPI sizes, unknown payloads, flags, versions, caps, in the
//! codec and through a responder); `ike_endpoint` (items 2-6: cookies, wrong state, SPIs, ICVs,
//! message IDs, payloads inside SK, Delete/Notify); `ike_fragments` (item 7); `ike_proposals`
//! (proposal semantics, IKE_AUTH contents, forged IKE_SA_INIT responses); `ike_timers` (item 9:
//! retransmission schedule, half-open and linger timers, floods); `gateway_config` (item 10);
//! `control_socket` (the gateway's control socket: silent, overlong, malformed and too many clients).
//! IKE cases use vpn-ike's `fuzzing` feature (fixed all-zero SK keys) to seal chosen payloads.
//!
//! Cases for defects not fixed yet live in [`defects`]: they assert the correct behaviour, are
//! run and reported as `defect (open): ...` with `hostile: M open defects`, and do not fail the
//! run. A fixed defect's case moves into its group's `cases()`.

pub mod control_socket;
pub mod esp;
pub mod gateway_config;
pub mod ike_codec;
pub mod ike_endpoint;
pub mod ike_fragments;
pub mod ike_proposals;
pub mod ike_timers;
pub mod ike_util;

/// One case: a name and a check that says what went wrong.
pub struct Case {
    /// Group and case, e.g. `esp/aes128gcm16/icv-bit-flips`.
    pub name: String,
    /// Runs the case.
    pub run: Box<dyn Fn() -> Result<(), String>>,
}

impl Case {
    /// A case from a name and a check.
    pub fn new(name: impl Into<String>, run: impl Fn() -> Result<(), String> + 'static) -> Self {
        Case { name: name.into(), run: Box::new(run) }
    }
}

/// Fail with a message unless `got == want`.
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Every case of every group.
pub fn all_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(esp::cases());
    v.extend(ike_codec::cases());
    v.extend(ike_endpoint::cases());
    v.extend(ike_fragments::cases());
    v.extend(ike_proposals::cases());
    v.extend(ike_timers::cases());
    v.extend(gateway_config::cases());
    v.extend(control_socket::cases());
    // Defects this suite found, fixed since: their cases stay as regression tests.
    v.extend(ike_codec::regressions());
    v.extend(ike_endpoint::regressions());
    v.extend(ike_fragments::regressions());
    v.extend(ike_proposals::regressions());
    v.extend(ike_timers::regressions());
    v.extend(gateway_config::regressions());
    v.extend(control_socket::regressions());
    v
}

/// Open defects: cases that assert the correct behaviour and currently fail. The runner runs
/// them, prints each as `defect (open): NAME: WHY` and `hostile: M open defects`, and does not
/// fail the run for them. Once the code is fixed a case passes here (the runner says so): move
/// it into its group's `cases()`.
pub fn defects() -> Vec<Case> {
    // None open: the 12 found so far are fixed and run in `all_cases()` as regressions.
    Vec::new()
}
