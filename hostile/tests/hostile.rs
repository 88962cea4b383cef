//! Runs every hostile case and prints `hostile: N cases, N passed`; a case that fails or panics
//! is named with its reason and the run fails. Open defects (`vpn_hostile::defects()`) run too
//! and are reported as `defect (open): ...` and `hostile: M open defects`, without failing the run.

use std::panic::{catch_unwind, AssertUnwindSafe};

fn run(case: &vpn_hostile::Case) -> Result<(), String> {
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
    let cases = vpn_hostile::all_cases();
    let (mut ran, mut passed) = (0usize, 0usize);
    for case in cases.iter().filter(|c| selected(&c.name)) {
        ran += 1;
        match run(case) {
            Ok(()) => passed += 1,
            Err(why) => println!("FAILED {}: {why}", case.name),
        }
    }
    let (mut open, mut fixed) = (0usize, 0usize);
    for case in vpn_hostile::defects().iter().filter(|c| selected(&c.name)) {
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
