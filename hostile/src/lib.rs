//! The hostile-input campaign (issue 6): cases drawn from the classes of bugs IKE and IPsec
//! implementations have had (lengths trusted before checking, messages in the wrong state,
//! assertions on peer-controlled values, lax crypto checks, resource exhaustion).
//!
//! Every case asserts an exact outcome: dropped with this reason, answered with this notify, SA
//! state unchanged. `cargo test -p vpn-hostile` runs them all and ends with
//! `hostile: N cases, N passed`.
//!
//! The cases live in the integration test `tests/hostile/` (its `main.rs` lists the groups and
//! runs them), not in this library: the IKE cases use vpn-ike's `fuzzing` feature (fixed
//! all-zero SK keys) to seal chosen payloads, and that feature comes only through
//! `[dev-dependencies]`, so a plain `cargo build` builds no fuzzing hooks. This library holds
//! only the runner's [`Case`] and [`expect_eq`].
//!
//! Groups: `esp` (item 8); `ike_codec` (items 1-3: payload lengths, TS/proposal contents, KE
//! sizes and values, protocol IDs and SPI sizes, unknown payloads, flags, versions, caps, in the
//! codec and through a responder); `ike_endpoint` (items 2-6: cookies, wrong state, SPIs, ICVs,
//! message IDs, payloads inside SK, Delete/Notify); `ike_fragments` (item 7); `ike_proposals`
//! (proposal semantics, IKE_AUTH contents, forged IKE_SA_INIT responses); `ike_timers` (item 9:
//! retransmission schedule, half-open and linger timers, floods); `isolation` (between
//! connections: ESP SAs of peers that chose the same SPI, an IKE suite outside the authenticated
//! connection's, INITIAL_CONTACT clearing only its own connection's SAs); `gateway_config`
//! (item 10); `control_socket` (the gateway's control socket: silent, overlong, malformed and too
//! many clients).
//!
//! Cases for defects not fixed yet live in the test's `defects()`: they assert the correct
//! behaviour, are run and reported as `defect (open): ...` with `hostile: M open defects`, and
//! do not fail the run. A fixed defect's case moves into its group's `cases()`.

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
