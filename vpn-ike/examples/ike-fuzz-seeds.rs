//! Write seed inputs for the `ike_responder` and `ike_session` fuzz targets (default
//! `fuzz/corpus/ike_responder`, and `ike_session` beside it): the real initiator's IKE_AUTH sealed under the fixed keys (so
//! the fuzzer starts past AUTH), and variants that exercise INFORMATIONAL, CREATE_CHILD_SA,
//! replays, message ids far ahead and waiting out the timers.
//!
//! Run: `cargo run -p vpn-ike --features fuzzing --example ike-fuzz-seeds [DIR]`

use vpn_ike::fuzzing::{ResponderHarness, Step};

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus/ike_responder".to_string());
    std::fs::create_dir_all(&dir).expect("seed directory");
    let h = ResponderHarness::new().expect("IKE_SA_INIT between the fixed-key endpoints");
    let (first, chain) = h.auth_chain.clone().expect("the initiator's IKE_AUTH");
    let auth = Step::Sealed { exchange: 35, message_id: 1, flags: 0x08, first: u8::from(first), chain };
    let info = |id: u32, chain: Vec<u8>, first: u8| Step::Sealed {
        exchange: 37,
        message_id: id,
        flags: 0x08,
        first,
        chain,
    };
    // A Delete of the IKE SA (protocol 1, no SPIs) and an empty INFORMATIONAL (liveness check).
    let delete = vec![0, 0, 0, 8, 1, 0, 0, 0];
    let seeds: Vec<Vec<Step>> = vec![
        vec![auth.clone()],
        vec![auth.clone(), auth.clone()],
        vec![auth.clone(), info(2, vec![], 0)],
        vec![auth.clone(), info(2, delete.clone(), 42)],
        vec![auth.clone(), info(9, vec![], 0)],
        vec![info(1, vec![], 0)],
        vec![
            auth.clone(),
            Step::Sealed { exchange: 36, message_id: 2, flags: 0x08, first: 0, chain: vec![] },
        ],
        vec![Step::Wait(10), auth.clone(), Step::Wait(40)],
        vec![Step::WithSpis(vec![0; 28])],
    ];
    for (i, steps) in seeds.iter().enumerate() {
        let mut bytes = Vec::new();
        for s in steps {
            s.encode(&mut bytes);
        }
        assert_eq!(&Step::parse(&bytes), steps, "seed {i} parses back");
        std::fs::write(format!("{dir}/seed-{i:02}"), &bytes).expect("write seed");
    }
    println!("{} seeds in {dir}", seeds.len());

    // ike_session: the recorded session's later messages, whole and each prefix and suffix.
    let session_dir = std::path::Path::new(&dir).with_file_name("ike_session");
    std::fs::create_dir_all(&session_dir).expect("seed directory");
    let h = ResponderHarness::established().expect("an established SA");
    let session = h.recorded_session();
    let mut n = 0;
    for k in 1..=session.len() {
        for part in [&session[..k], &session[session.len() - k..]] {
            let mut bytes = Vec::new();
            part.iter().for_each(|s| s.encode(&mut bytes));
            std::fs::write(session_dir.join(format!("seed-{n:02}")), &bytes).expect("write seed");
            n += 1;
        }
    }
    println!("{n} seeds in {}", session_dir.display());
}
