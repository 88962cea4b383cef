//! The hostile-input campaign (issue 6): cases drawn from the classes of bugs IKE and IPsec
//! implementations have had (lengths trusted before checking, messages in the wrong state,
//! assertions on peer-controlled values, lax crypto checks, resource exhaustion).
//!
//! Every case asserts an exact outcome: dropped with this reason, answered with this notify, SA
//! state unchanged. `cargo test -p vpn-hostile` runs them all and ends with
//! `hostile: N cases, N passed`.

pub mod esp;

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
    v
}
