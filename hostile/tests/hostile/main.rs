//! Runs every hostile case and prints `hostile: N cases, N passed`; a case that fails or panics
//! is named with its reason and the run fails. Open defects ([`defects`]) run too and are
//! reported as `defect (open): ...` and `hostile: M open defects`, without failing the run.
//!
//! The groups are the modules below (see the `vpn-hostile` crate doc); they live in this test
//! target, not the library, because the IKE groups need vpn-ike's `fuzzing` feature, which
//! comes only through `[dev-dependencies]`.

use std::panic::{catch_unwind, AssertUnwindSafe};

pub use vpn_hostile::{expect_eq, Case};

pub mod control_socket;
pub mod esp;
pub mod gateway_config;
pub mod ike_codec;
pub mod ike_endpoint;
pub mod ike_fragments;
pub mod ike_proposals;
pub mod ike_timers;
pub mod ike_util;
pub mod isolation;

/// Every case of every group.
pub fn all_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(esp::cases());
    v.extend(ike_codec::cases());
    v.extend(ike_endpoint::cases());
    v.extend(ike_fragments::cases());
    v.extend(ike_proposals::cases());
    v.extend(ike_timers::cases());
    v.extend(isolation::cases());
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

fn run(case: &Case) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| (case.run)())) {
        Ok(r) => r,
        Err(e) => Err(match (e.downcast_ref::<&str>(), e.downcast_ref::<String>()) {
            (Some(s), _) => format!("panicked: {s}"),
            (_, Some(s)) => format!("panicked: {s}"),
            _ => "panicked".to_string(),
        }),
    }
}

fn main() {
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let selected = |name: &str| filter.as_ref().is_none_or(|f| name.contains(f.as_str()));
    // Panics are reported per case; keep the default hook from printing each backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let cases = all_cases();
    let (mut ran, mut passed) = (0usize, 0usize);
    for case in cases.iter().filter(|c| selected(&c.name)) {
        ran += 1;
        match run(case) {
            Ok(()) => passed += 1,
            Err(why) => println!("FAILED {}: {why}", case.name),
        }
    }
    let (mut open, mut fixed) = (0usize, 0usize);
    for case in defects().iter().filter(|c| selected(&c.name)) {
        match run(case) {
            Ok(()) => {
                fixed += 1;
                println!("defect (fixed?) {}: passes now; move it into all_cases()", case.name);
            }
            Err(why) => {
                open += 1;
                println!("defect (open): {}: {why}", case.name);
            }
        }
    }
    println!("hostile: {ran} cases, {passed} passed");
    println!(
        "hostile: {open} open defects{}",
        if fixed > 0 { format!(", {fixed} now passing") } else { String::new() }
    );
    if passed != ran || ran == 0 {
        std::process::exit(1);
    }
}
