//! The fuzz harnesses reach CREATE_CHILD_SA and the IKE SA rekey: after the real IKE_AUTH
//! (sealed under the fixed keys), the recorded session's later messages create, rekey and delete
//! Child SAs and rekey the IKE SA. These steps are the `ike_session` target's seeds (written by
//! the `ike-fuzz-seeds` example).
#![cfg(feature = "fuzzing")]

use vpn_ike::fuzzing::ResponderHarness;

#[test]
fn the_recorded_session_creates_rekeys_and_deletes() {
    let mut h = ResponderHarness::established().unwrap();
    let handle = h.responder.handles().next().unwrap();
    assert_eq!(h.responder.child_sas(handle).len(), 1, "IKE_AUTH made the first Child SA");
    let session = h.recorded_session();
    assert_eq!(session.len(), 5);
    // A second Child SA, a rekey of the first, then the Delete of the old one.
    h.step(&session[0]);
    assert_eq!(h.responder.child_sas(handle).len(), 2);
    h.step(&session[1]);
    assert_eq!(h.responder.child_sas(handle).len(), 3);
    h.step(&session[2]);
    assert_eq!(h.responder.child_sas(handle).len(), 2);
    // An IKE SA rekey: the new IKE SA joins the old one and takes its Child SAs.
    h.step(&session[3]);
    let handles: Vec<_> = h.responder.handles().collect();
    assert_eq!(handles.len(), 2, "the new IKE SA joined the old one");
    let new = handles.into_iter().find(|x| *x != handle).unwrap();
    assert_eq!(h.responder.child_sas(new).len(), 2, "the Child SAs moved");
    // The old one goes with its Delete.
    h.step(&session[4]);
    assert_eq!(h.responder.handles().collect::<Vec<_>>(), vec![new]);
}
