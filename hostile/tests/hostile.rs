//! Runs every hostile case and prints `hostile: N cases, N passed`; a case that fails or panics
//! is named with its reason and the run fails.

use std::panic::{catch_unwind, AssertUnwindSafe};

fn main() {
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let cases = vpn_hostile::all_cases();
    let (mut ran, mut passed) = (0usize, 0usize);
    for case in cases.iter().filter(|c| filter.as_ref().is_none_or(|f| c.name.contains(f.as_str()))) {
        ran += 1;
        match catch_unwind(AssertUnwindSafe(|| (case.run)())) {
            Ok(Ok(())) => passed += 1,
            Ok(Err(why)) => println!("FAILED {}: {why}", case.name),
            Err(_) => println!("FAILED {}: panicked", case.name),
        }
    }
    println!("hostile: {ran} cases, {passed} passed");
    if passed != ran || ran == 0 {
        std::process::exit(1);
    }
}
