//! Authentic messages in the wrong state, wrong SPIs, damaged ICVs, replayed and far-ahead
//! message IDs, unknown payloads inside SK, Delete and Notify with odd protocol IDs, repeated
//! deletes, and responder SPIs never reused (issue 6 items 2-6). A real initiator and a real
//! responder run with the fixed all-zero SK keys of vpn-ike's `fuzzing` feature, so the case can
//! seal any payloads in a valid SK payload and open the encrypted replies.

use std::collections::BTreeSet;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vpn_core::time::Duration;
use vpn_ike::keys::sk::SkCrypto;
use vpn_ike::keys::IkeKeys;
use vpn_ike::message::{
    Delete, ExchangeType, Header, HeaderFlags, Limits, Message, Nonce, Notify, NotifyData, NotifyType,
    Payload, PayloadType, ProtocolId,
};
use vpn_ike::{DownReason, EndpointConfig, Event};

use crate::ike_util::*;
use crate::{expect_eq, Case};

fn established(seed: u64) -> Result<Hs, String> {
    let mut hs = Hs::new(seed);
    hs.establish()?;
    Ok(hs)
}

/// The responder still holds one half-open SA and said nothing.
fn still_half_open(hs: &Hs, what: &str) -> Result<(), String> {
    let got = (hs.r.sa_count(), hs.r.half_open_count(), hs.r_ups(), hs.r_downs().len());
    ensure(got == (1, 1, 0, 0), || format!("{what}: SAs/half-open/ups/downs {got:?}, want (1, 1, 0, 0)"))
}

fn raw_payload(ty: u8, flags: u8, body: &[u8]) -> Payload {
    Payload::Unknown {
        payload_type: PayloadType::from(ty),
        flags: vpn_ike::message::PayloadFlags(flags),
        body: body.to_vec(),
    }
}

fn wrong_state_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case::new(
        "ike-endpoint/state/encrypted-informational-before-ike-auth-dropped-then-auth-works",
        || {
            let mut hs = Hs::new(1);
            for payloads in [
                vec![],
                vec![Payload::from(Delete::ike())],
                vec![Payload::from(Notify::status(NotifyType::AuthenticationFailed))],
            ] {
                let m = hs.seal(ExchangeType::Informational, 1, &payloads);
                let out = hs.to_r(&m);
                ensure(out.is_empty(), || format!("INFORMATIONAL {payloads:?} answered"))?;
                still_half_open(&hs, "after INFORMATIONAL")?;
            }
            hs.establish()
        },
    ));
    v.push(Case::new("ike-endpoint/state/create-child-sa-before-ike-auth-dropped-then-auth-works", || {
        let mut hs = Hs::new(2);
        let sa = vpn_ike::proposal::esp_sa(&[vpn_ike::EspSuite::AES256GCM16], 0x0102_0304);
        let m = hs.seal(
            ExchangeType::CreateChildSa,
            1,
            &[Payload::from(sa), Payload::from(Nonce::new(vec![1; 32]))],
        );
        ensure(hs.to_r(&m).is_empty(), || "CREATE_CHILD_SA answered".into())?;
        still_half_open(&hs, "after CREATE_CHILD_SA")?;
        hs.establish()
    }));
    v.push(Case::new("ike-endpoint/state/ike-auth-twice-retransmission-gets-cache-new-one-dropped", || {
        let mut hs = Hs::new(3);
        let auth = hs.auth[0].clone();
        let first = hs.to_r(&auth);
        ensure(first.len() == 1 && hs.r_ups() == 1, || "first IKE_AUTH".into())?;
        let again = hs.to_r(&auth);
        expect_eq("the retransmission's answer", again, first)?;
        let payloads = hs.auth_payloads.clone();
        let second = hs.seal(ExchangeType::IkeAuth, 2, &payloads);
        ensure(hs.to_r(&second).is_empty(), || "a second IKE_AUTH (message ID 2) was answered".into())?;
        expect_eq("IkeSaUp events", hs.r_ups(), 1)?;
        expect_eq(
            "ChildSaUp events",
            hs.r_events.iter().filter(|e| matches!(e, Event::ChildSaUp(_))).count(),
            1,
        )?;
        hs.r_alive(2)
    }));
    v.push(Case::new("ike-endpoint/state/responses-that-answer-nothing-dropped", || {
        let mut hs = Hs::new(4);
        // Half-open: a "response" with each message ID near the window.
        for mid in [0u32, 1, 2] {
            let h = Header::new(ExchangeType::IkeAuth, hs.spi_i, hs.spi_r, mid, HeaderFlags(0x28));
            let m = hs.sk.protect(&h, &hs.auth_payloads.clone(), &mut hs.rng).map_err(|e| e.to_string())?;
            ensure(hs.to_r(&m).is_empty(), || format!("response {mid} answered"))?;
        }
        still_half_open(&hs, "after responses")?;
        hs.establish()?;
        for (ex, mid) in [
            (ExchangeType::Informational, 0u32),
            (ExchangeType::Informational, 2),
            (ExchangeType::CreateChildSa, 1),
        ] {
            let h = Header::new(ex, hs.spi_i, hs.spi_r, mid, HeaderFlags(0x28));
            let m =
                hs.sk.protect(&h, &[Payload::from(Delete::ike())], &mut hs.rng).map_err(|e| e.to_string())?;
            ensure(hs.to_r(&m).is_empty(), || format!("response {ex:?} {mid} answered"))?;
        }
        expect_eq("responder downs", hs.r_downs(), vec![])?;
        // The initiator, with nothing outstanding, gets "responses" too.
        for mid in [1u32, 2, 3] {
            let m = hs.seal_to_i(ExchangeType::Informational, mid, 0x20, &[Payload::from(Delete::ike())]);
            ensure(hs.to_i(&m).is_empty(), || format!("initiator answered response {mid}"))?;
        }
        expect_eq("initiator downs", hs.i_downs(), vec![])?;
        hs.r_alive(2)
    }));
    v.push(Case::new(
        "ike-endpoint/state/initiator-drops-auth-response-with-wrong-mid-or-exchange-then-real-one-works",
        || {
            let mut hs = Hs::new(5);
            let auth = hs.auth[0].clone();
            let real = hs.to_r(&auth);
            ensure(real.len() == 1, || "no IKE_AUTH response".into())?;
            let (_, p) = hs.open(&real[0])?;
            for (ex, mid) in [
                (ExchangeType::IkeAuth, 0u32),
                (ExchangeType::IkeAuth, 2),
                (ExchangeType::Informational, 1),
                (ExchangeType::CreateChildSa, 1),
                (ExchangeType::IkeSaInit, 1),
            ] {
                let m = hs.seal_to_i(ex, mid, 0x20, &p);
                ensure(hs.to_i(&m).is_empty(), || format!("initiator reacted to {ex:?} {mid}"))?;
                ensure(hs.i_ups() == 0 && hs.i_downs().is_empty(), || {
                    format!("initiator state moved on {ex:?} {mid}: {:?}", hs.i_events)
                })?;
            }
            ensure(hs.to_i(&real[0]).is_empty() && hs.i_ups() == 1, || {
                "the real response did not establish".into()
            })
        },
    ));
    v
}

fn spi_cases() -> Vec<Case> {
    let mut v = Vec::new();
    // RFC 7296 §2.21.4: a message for an unknown IKE SA MAY be answered with an unprotected
    // INVALID_IKE_SPI; this endpoint documents that it drops it silently (no reflection, no state).
    v.push(Case::new("ike-endpoint/spi/unknown-spis-dropped-silently-rfc7296-2.21.4", || {
        let mut hs = Hs::new(6);
        hs.establish()?;
        let (si, sr) = (hs.spi_i, hs.spi_r);
        for (spi_i, spi_r, flags, ex) in [
            (si, sr ^ 1, 0x08, ExchangeType::Informational),
            (si, 0xdead_beef, 0x08, ExchangeType::IkeAuth),
            (0x77, 0x88, 0x08, ExchangeType::CreateChildSa),
            (si ^ 1, sr, 0x20, ExchangeType::Informational),
        ] {
            let h = Header::new(ex, spi_i, spi_r, 2, HeaderFlags(flags));
            let m =
                hs.sk.protect(&h, &[Payload::from(Delete::ike())], &mut hs.rng).map_err(|e| e.to_string())?;
            ensure(hs.to_r(&m).is_empty(), || format!("SPIs {spi_i:x}/{spi_r:x} flags {flags:#x} answered"))?;
            // Unprotected, too.
            let plain = Message { header: h, payloads: vec![Payload::from(Delete::ike())] }.encode();
            ensure(hs.to_r(&plain).is_empty(), || "unprotected message answered".into())?;
        }
        expect_eq("SAs", (hs.r.sa_count(), hs.r_downs()), (1, vec![]))?;
        hs.r_alive(2)
    }));
    v.push(Case::new("ike-endpoint/spi/responder-spi-never-reused-over-1000-failed-exchanges", || {
        // One source address: the per-address limits are lifted for this case.
        let mut config = EndpointConfig {
            fuzzing_fixed_keys: true,
            cookie_threshold: 100_000,
            cookie_threshold_ip: 100_000,
            block_threshold: 100_000,
            ..responder_config()
        };
        config.half_open_timeout = Duration::from_secs(30);
        let mut r = Resp::with(config);
        let keys = IkeKeys::fixed_for_fuzzing(&suite()).map_err(|e| e.to_string())?;
        let mut sk = SkCrypto::new(&suite(), &keys, true).map_err(|e| e.to_string())?;
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let init = raw_message(RawH::init(), &good_init_payloads());
        let mut seen = BTreeSet::new();
        for round in 0..2u64 {
            for k in 0..500u64 {
                let spi_i = 0x1000_0000 + round * 1000 + k;
                let mut req = init.clone();
                req[..8].copy_from_slice(&spi_i.to_be_bytes());
                let out = r.ask(&req);
                ensure(out.len() == 1, || format!("request {k}: {} replies", out.len()))?;
                let spi_r = Header::peek(&out[0]).map_err(|e| e.to_string())?.0.spi_r;
                ensure(spi_r != 0 && seen.insert(spi_r), || {
                    format!("round {round} request {k}: SPIr {spi_r:#x} zero or reused")
                })?;
                // Fail the exchange: a garbage IKE_AUTH (answered INVALID_SYNTAX), a wrong AUTH
                // payload (AUTHENTICATION_FAILED), or nothing (half-open timeout).
                let h = Header::new(ExchangeType::IkeAuth, spi_i, spi_r, 1, HeaderFlags::INITIATOR);
                match k % 3 {
                    0 => {
                        let m = sk
                            .protect_chain(&h, PayloadType::IdI, &[0, 0, 0, 3], &mut rng)
                            .map_err(|e| e.to_string())?;
                        ensure(r.ask(&m).len() == 1, || "garbage IKE_AUTH not answered".into())?;
                    }
                    1 => {
                        let p = [
                            Payload::id_i(vpn_ike::message::Id::new(fqdn("peer.example"))),
                            Payload::from(vpn_ike::message::Auth::new(
                                vpn_ike::message::AuthMethod::SharedKeyMic,
                                vec![0; 32],
                            )),
                        ];
                        let m = sk.protect(&h, &p, &mut rng).map_err(|e| e.to_string())?;
                        ensure(r.ask(&m).len() == 1, || "bad AUTH not answered".into())?;
                    }
                    _ => {}
                }
            }
            // Let every SA expire (half-open timeout, then the lingering of failed ones).
            r.now += Duration::from_secs(400);
            r.ep.handle_timeout(r.now);
            r.drain();
            expect_eq("SAs left after expiry", (r.ep.sa_count(), r.ep.half_open_count()), (0, 0))?;
        }
        let rejected = r
            .events
            .iter()
            .filter(|e| matches!(e, Event::IkeSaDown { reason: DownReason::Rejected(_), .. }))
            .count();
        let timeouts = downs(&r.events).iter().filter(|d| **d == DownReason::HalfOpenTimeout).count();
        expect_eq("failed exchanges (rejected, half-open timeouts)", (rejected, timeouts), (668, 332))
    }));
    v
}

/// Flips one bit in every byte of the held IKE_AUTH (and more in the ICV), then delivers the
/// valid one.
fn icv_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case::new(
        "ike-endpoint/icv/every-byte-of-ike-auth-corrupted-dropped-then-valid-one-works",
        || {
            let mut hs = Hs::new(7);
            let auth = hs.auth[0].clone();
            for i in 0..auth.len() {
                for bit in [0x01u8, 0x80] {
                    let mut m = auth.clone();
                    m[i] ^= bit;
                    let out = hs.to_r(&m);
                    // The major version nibble: answered with INVALID_MAJOR_VERSION, nothing else changes.
                    if i == 23 && bit == 0x01 {
                        // Message ID 1 -> 0: the ID of the cached IKE_SA_INIT response, which is
                        // repeated (RFC 7296 §2.1 matches retransmissions by message ID).
                        expect_eq(
                            "message ID 0 answered from the cache",
                            out.clone(),
                            vec![hs.init_response.clone()],
                        )?;
                    } else if i == 17 && bit == 0x80 {
                        ensure(out.len() == 1, || "major version 10 not answered".into())?;
                        let n = Message::decode(&out[0], &Limits::default()).map_err(|e| e.to_string())?;
                        expect_eq(
                            "notify",
                            n.notifies().next().map(|n| n.notify_type),
                            Some(NotifyType::InvalidMajorVersion),
                        )?;
                    } else {
                        ensure(out.is_empty(), || format!("byte {i} bit {bit:#x} flipped: answered"))?;
                    }
                    still_half_open(&hs, &format!("byte {i} bit {bit:#x}"))?;
                }
            }
            // Every bit of the 16-byte ICV.
            for i in auth.len() - 16..auth.len() {
                for b in 0..8 {
                    let mut m = auth.clone();
                    m[i] ^= 1 << b;
                    ensure(hs.to_r(&m).is_empty(), || format!("ICV byte {i} bit {b}: answered"))?;
                }
            }
            // Truncated at every length.
            for n in 0..auth.len() {
                ensure(hs.to_r(&auth[..n]).is_empty(), || format!("truncated to {n}: answered"))?;
            }
            still_half_open(&hs, "after all")?;
            hs.establish()
        },
    ));
    v.push(Case::new(
        "ike-endpoint/icv/corrupted-informational-on-established-sa-dropped-state-unchanged",
        || {
            let mut hs = established(8)?;
            let m = hs.seal(ExchangeType::Informational, 2, &[Payload::from(Delete::ike())]);
            for i in 28..m.len() {
                let mut c = m.clone();
                c[i] ^= 0x10;
                ensure(hs.to_r(&c).is_empty(), || format!("byte {i} flipped: answered"))?;
            }
            expect_eq("downs", hs.r_downs(), vec![])?;
            // The genuine Delete still works afterwards.
            let out = hs.to_r(&m);
            let p = hs.one_response(&out, ExchangeType::Informational, 2)?;
            expect_eq("Delete answered empty", p.len(), 0)?;
            expect_eq("downs", hs.r_downs(), vec![DownReason::DeletedByPeer])
        },
    ));
    v
}

fn message_id_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case::new("ike-endpoint/message-id/replayed-request-gets-cached-reply-never-reprocessed", || {
        let mut hs = established(9)?;
        let req = hs.seal(ExchangeType::Informational, 2, &[]);
        let first = hs.to_r(&req);
        hs.one_response(&first, ExchangeType::Informational, 2)?;
        for _ in 0..3 {
            expect_eq("replayed request's answer", hs.to_r(&req), first.clone())?;
        }
        // A different request under the replayed message ID (a Delete!) is a retransmission too:
        // the cached answer again, and the SA is not deleted.
        let del = hs.seal(ExchangeType::Informational, 2, &[Payload::from(Delete::ike())]);
        expect_eq("Delete under a used message ID", hs.to_r(&del), first.clone())?;
        expect_eq("downs", hs.r_downs(), vec![])?;
        // The IKE_AUTH request (message ID 1) is no longer cached: dropped.
        let auth = hs.auth[0].clone();
        ensure(hs.to_r(&auth).is_empty(), || "an old IKE_AUTH was answered".into())?;
        expect_eq("IkeSaUp", hs.r_ups(), 1)?;
        hs.r_alive(3)
    }));
    v.push(Case::new("ike-endpoint/message-id/far-ahead-and-behind-dropped-window-unchanged", || {
        let mut hs = established(10)?;
        for mid in [0u32, 3, 4, 100, 1 << 31, u32::MAX] {
            let m = hs.seal(ExchangeType::Informational, mid, &[Payload::from(Delete::ike())]);
            ensure(hs.to_r(&m).is_empty(), || format!("message ID {mid} answered"))?;
        }
        expect_eq("downs", hs.r_downs(), vec![])?;
        hs.r_alive(2)?;
        hs.r_alive(3)
    }));
    v.push(Case::new("ike-endpoint/message-id/far-ahead-ike-auth-on-half-open-sa-dropped", || {
        let mut hs = Hs::new(11);
        let p = hs.auth_payloads.clone();
        for mid in [0u32, 2, 1000, u32::MAX] {
            let m = hs.seal(ExchangeType::IkeAuth, mid, &p);
            let out = hs.to_r(&m);
            if mid == 0 {
                // Message ID 0 is the IKE_SA_INIT's: its cached response is repeated (RFC 7296 §2.1).
                expect_eq("message ID 0", out, vec![hs.init_response.clone()])?;
            } else {
                ensure(out.is_empty(), || format!("IKE_AUTH with message ID {mid} answered"))?;
            }
            still_half_open(&hs, &format!("message ID {mid}"))?;
        }
        hs.establish()
    }));
    v
}

fn inner_payload_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for t in [1u8, 13, 49, 200] {
        v.push(Case::new(format!("ike-endpoint/sk/ike-auth-with-critical-type-{t}-answered-unsupported-critical-payload-sa-ends"), move || {
            let mut hs = Hs::new(12);
            let mut p = hs.auth_payloads.clone();
            p.insert(1, raw_payload(t, 0x80, &[1, 2, 3]));
            let m = hs.seal(ExchangeType::IkeAuth, 1, &p);
            let out = hs.to_r(&m);
            let reply = hs.one_response(&out, ExchangeType::IkeAuth, 1)?;
            expect_eq("notifies", notify_types(&reply), vec![NotifyType::UnsupportedCriticalPayload])?;
            expect_eq("notify data", first_notify_data(&reply), Some(NotifyData::UnsupportedCriticalPayload(t)))?;
            expect_eq("payloads", reply.len(), 1)?;
            expect_eq("responder downs", hs.r_downs(), vec![DownReason::Rejected(NotifyType::UnsupportedCriticalPayload)])?;
            expect_eq("IkeSaUp", hs.r_ups(), 0)?;
            // The retransmission gets the same answer; the genuine IKE_AUTH cannot revive the SA.
            expect_eq("retransmission", hs.to_r(&m), out.clone())?;
            let auth = hs.auth[0].clone();
            expect_eq("the genuine IKE_AUTH (same message ID) gets the cached error", hs.to_r(&auth), out)?;
            expect_eq("IkeSaUp", hs.r_ups(), 0)
        }));
        v.push(Case::new(
            format!("ike-endpoint/sk/ike-auth-with-non-critical-type-{t}-ignored-sa-established"),
            move || {
                let mut hs = Hs::new(13);
                let mut p = hs.auth_payloads.clone();
                p.insert(1, raw_payload(t, 0x00, &[1, 2, 3]));
                p.push(raw_payload(t, 0x7f, &[]));
                hs.auth = vec![hs.seal(ExchangeType::IkeAuth, 1, &p)];
                hs.establish()
            },
        ));
    }
    v.push(Case::new("ike-endpoint/sk/informational-with-unknown-critical-answered-sa-stays", || {
        let mut hs = established(14)?;
        let m = hs.seal(ExchangeType::Informational, 2, &[raw_payload(77, 0x80, &[9])]);
        let out = hs.to_r(&m);
        let reply = hs.one_response(&out, ExchangeType::Informational, 2)?;
        expect_eq(
            "notify data",
            first_notify_data(&reply),
            Some(NotifyData::UnsupportedCriticalPayload(77)),
        )?;
        expect_eq("downs", hs.r_downs(), vec![])?;
        hs.r_alive(3)
    }));
    v.push(Case::new(
        "ike-endpoint/sk/informational-with-malformed-inner-chain-answered-invalid-syntax-sa-stays",
        || {
            let mut hs = established(15)?;
            let bad_chains: Vec<(u8, Vec<u8>)> = vec![
                (41, vec![0, 0, 0, 3]),                      // Notify length 3
                (41, vec![0, 0, 0, 200, 0, 0, 0x40, 0]),     // past the end
                (42, vec![0, 0, 0, 9, 3, 4, 0, 2, 1]),       // Delete count/size mismatch
                (40, vec![0, 0, 0, 8, 1, 2, 3, 4]),          // 4-byte nonce
                (41, vec![0, 0, 0, 8, 0, 0, 0x40, 0, 0xff]), // trailing byte
            ];
            for (k, (first, chain)) in bad_chains.iter().enumerate() {
                let mid = 2 + k as u32;
                let m = hs.seal_raw(37, mid, 0x08, *first, chain);
                let out = hs.to_r(&m);
                let reply = hs
                    .one_response(&out, ExchangeType::Informational, mid)
                    .map_err(|e| format!("chain {k}: {e}"))?;
                expect_eq(
                    &format!("chain {k} notifies"),
                    notify_types(&reply),
                    vec![NotifyType::InvalidSyntax],
                )?;
            }
            expect_eq("downs", hs.r_downs(), vec![])?;
            hs.r_alive(2 + bad_chains.len() as u32)
        },
    ));
    v
}

fn delete_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case::new("ike-endpoint/delete/ike-sa-deleted-twice-in-one-message-one-event", || {
        let mut hs = established(16)?;
        let d = Payload::from(Delete::ike());
        let m = hs.seal(ExchangeType::Informational, 2, &[d.clone(), d.clone(), d]);
        let out = hs.to_r(&m);
        let p = hs.one_response(&out, ExchangeType::Informational, 2)?;
        expect_eq("response payloads", p.len(), 0)?;
        expect_eq("downs", hs.r_downs(), vec![DownReason::DeletedByPeer])?;
        expect_eq("SAs", hs.r.sa_count(), 0)
    }));
    v.push(Case::new("ike-endpoint/delete/ike-sa-deleted-again-in-later-messages-ignored", || {
        let mut hs = established(17)?;
        let d = [Payload::from(Delete::ike())];
        let first = hs.seal(ExchangeType::Informational, 2, &d);
        hs.ask_r(&first, ExchangeType::Informational, 2)?;
        for mid in [2u32, 3, 4] {
            let m = hs.seal(ExchangeType::Informational, mid, &d);
            ensure(hs.to_r(&m).is_empty(), || format!("Delete {mid} after the SA is gone: answered"))?;
        }
        ensure(hs.to_r(&first).is_empty(), || "the first Delete's retransmission: answered".into())?;
        expect_eq("downs", hs.r_downs(), vec![DownReason::DeletedByPeer])
    }));
    v.push(Case::new("ike-endpoint/delete/odd-protocols-and-spi-sizes-answered-empty-sa-stays", || {
        let mut hs = established(18)?;
        let deletes = vec![
            Delete { protocol: ProtocolId::None, spi_size: 0, spis: vec![] },
            Delete { protocol: ProtocolId::Unknown(4), spi_size: 4, spis: vec![vec![1, 2, 3, 4]] },
            Delete { protocol: ProtocolId::Unknown(255), spi_size: 0, spis: vec![] },
            Delete { protocol: ProtocolId::Esp, spi_size: 4, spis: vec![vec![0xde, 0xad, 0xbe, 0xef]; 2] },
            Delete { protocol: ProtocolId::Ah, spi_size: 4, spis: vec![vec![0, 0, 0, 1]] },
            Delete { protocol: ProtocolId::Esp, spi_size: 8, spis: vec![vec![7; 8]] },
            Delete { protocol: ProtocolId::Esp, spi_size: 0, spis: vec![vec![]; 3] },
        ];
        for (k, d) in deletes.into_iter().enumerate() {
            let mid = 2 + k as u32;
            let m = hs.seal(ExchangeType::Informational, mid, &[Payload::from(d.clone())]);
            let p = hs.ask_r(&m, ExchangeType::Informational, mid).map_err(|e| format!("{d:?}: {e}"))?;
            expect_eq(&format!("{d:?}: response"), p, vec![])?;
            expect_eq("downs", hs.r_downs(), vec![])?;
        }
        hs.r_alive(9)
    }));
    v.push(Case::new(
        "ike-endpoint/notify/status-notifies-with-odd-protocol-and-spi-ignored-sa-stays",
        || {
            let mut hs = established(19)?;
            let mut mid = 2;
            for (p, spi) in
                [(0u8, vec![]), (1, vec![1; 8]), (3, vec![1; 3]), (4, vec![2; 4]), (255, vec![9; 17])]
            {
                for ty in [NotifyType::InitialContact, NotifyType::Unknown(40000), NotifyType::RekeySa] {
                    let n = Notify {
                        protocol: ProtocolId::from(p),
                        spi: spi.clone(),
                        notify_type: ty,
                        data: NotifyData::None,
                    };
                    let m = hs.seal(ExchangeType::Informational, mid, &[Payload::from(n)]);
                    let r = hs
                        .ask_r(&m, ExchangeType::Informational, mid)
                        .map_err(|e| format!("protocol {p} {ty:?}: {e}"))?;
                    expect_eq("response", r, vec![])?;
                    mid += 1;
                }
            }
            expect_eq("downs", hs.r_downs(), vec![])?;
            hs.r_alive(mid)
        },
    ));
    v
}

/// A responder that asks every initiator for a cookie (RFC 7296 §2.6).
fn cookie_responder() -> Resp {
    Resp::with(EndpointConfig { cookie_threshold: 0, ..responder_config() })
}

/// The IKE_SA_INIT request with `cookie` (if any) as its first payload, from SPIi `spi` and nonce byte `n`.
fn init_with_cookie(spi: u64, n: u8, cookie: Option<Vec<u8>>) -> Vec<u8> {
    let mut ps = good_init_payloads();
    ps[2] = RawP::of(PayloadType::Nonce, &Nonce::new(vec![n; 32]));
    if let Some(c) = cookie {
        let mut body = vec![0, 0, 0x40, 0x06];
        body.extend_from_slice(&c);
        ps.insert(0, RawP::new(41, body));
    }
    raw_message(RawH { spi_i: spi, ..RawH::init() }, &ps)
}

fn get_cookie(r: &mut Resp, from: &str, spi: u64, n: u8) -> Result<Vec<u8>, String> {
    let out = r.ask_from(addr(from), addr(R_ADDR), &init_with_cookie(spi, n, None));
    ensure(out.len() == 1, || format!("{} replies", out.len()))?;
    match expect_stateless(&out[0], spi, NotifyType::Cookie)?.data {
        NotifyData::Cookie(c) => Ok(c),
        other => Err(format!("COOKIE data {other:?}")),
    }
}

/// Expects `req` from `from` to be answered with a fresh COOKIE (not accepted).
fn expect_new_cookie(r: &mut Resp, from: &str, spi: u64, req: &[u8], what: &str) -> Result<(), String> {
    let out = r.ask_from(addr(from), addr(R_ADDR), req);
    ensure(out.len() == 1, || format!("{what}: {} replies", out.len()))?;
    expect_stateless(&out[0], spi, NotifyType::Cookie).map_err(|e| format!("{what}: {e}"))?;
    ensure(r.ep.sa_count() == 0, || format!("{what}: an SA was created"))
}

fn cookie_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case::new("ike-endpoint/cookie/echoed-cookie-accepted-anything-else-gets-a-fresh-cookie", || {
        let mut r = cookie_responder();
        let c = get_cookie(&mut r, I_ADDR, SPI_I, 1)?;
        ensure((1..=64).contains(&c.len()), || format!("cookie of {} bytes", c.len()))?;
        // Bound to the address and port, SPIi and Ni; one bit off; not first.
        expect_new_cookie(
            &mut r,
            "192.0.2.77:500",
            SPI_I,
            &init_with_cookie(SPI_I, 1, Some(c.clone())),
            "another address",
        )?;
        expect_new_cookie(
            &mut r,
            "192.0.2.2:501",
            SPI_I,
            &init_with_cookie(SPI_I, 1, Some(c.clone())),
            "another port",
        )?;
        expect_new_cookie(
            &mut r,
            I_ADDR,
            SPI_I + 1,
            &init_with_cookie(SPI_I + 1, 1, Some(c.clone())),
            "another SPIi",
        )?;
        expect_new_cookie(&mut r, I_ADDR, SPI_I, &init_with_cookie(SPI_I, 2, Some(c.clone())), "another Ni")?;
        let mut flipped = c.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        expect_new_cookie(&mut r, I_ADDR, SPI_I, &init_with_cookie(SPI_I, 1, Some(flipped)), "one bit off")?;
        let mut late = init_with_cookie(SPI_I, 1, None);
        let mut body = vec![0, 0, 0x40, 0x06];
        body.extend_from_slice(&c);
        let mut ps = good_init_payloads();
        ps[2] = RawP::of(PayloadType::Nonce, &Nonce::new(vec![1; 32]));
        ps.push(RawP::new(41, body));
        late.clear();
        late.extend(raw_message(RawH::init(), &ps));
        expect_new_cookie(&mut r, I_ADDR, SPI_I, &late, "COOKIE not first")?;
        let out = r.ask(&init_with_cookie(SPI_I, 1, Some(c)));
        ensure(
            out.len() == 1 && Header::peek(&out[0]).map_or(0, |h| h.0.spi_r) != 0 && r.ep.sa_count() == 1,
            || "the echoed cookie was not accepted".into(),
        )
    }));
    v.push(Case::new("ike-endpoint/cookie/empty-or-65-byte-cookie-answered-invalid-syntax", || {
        for len in [0usize, 65, 300] {
            let mut r = cookie_responder();
            let out = r.ask(&init_with_cookie(SPI_I, 1, Some(vec![7; len])));
            ensure(out.len() == 1, || format!("{len}: {} replies", out.len()))?;
            expect_stateless(&out[0], SPI_I, NotifyType::InvalidSyntax)
                .map_err(|e| format!("{len}-byte cookie: {e}"))?;
        }
        Ok(())
    }));
    v.push(Case::new("ike-endpoint/cookie/valid-for-one-secret-rotation-not-two", || {
        let mut r = cookie_responder();
        let c = get_cookie(&mut r, I_ADDR, SPI_I, 1)?;
        r.now += Duration::from_secs(130);
        let out = r.ask(&init_with_cookie(SPI_I, 1, Some(c.clone())));
        ensure(out.len() == 1 && r.ep.sa_count() == 1, || "rejected after one rotation".into())?;
        let mut r = cookie_responder();
        let c = get_cookie(&mut r, I_ADDR, SPI_I, 1)?;
        r.now += Duration::from_secs(130);
        get_cookie(&mut r, "192.0.2.50:500", 5, 1)?; // a rotation
        r.now += Duration::from_secs(130);
        expect_new_cookie(&mut r, I_ADDR, SPI_I, &init_with_cookie(SPI_I, 1, Some(c)), "after two rotations")
    }));
    v
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(cookie_cases());
    v.extend(wrong_state_cases());
    v.extend(spi_cases());
    v.extend(icv_cases());
    v.extend(message_id_cases());
    v.extend(inner_payload_cases());
    v.extend(delete_cases());
    v
}

/// Cases of defects this suite found and that are fixed: kept as regression tests.
pub fn regressions() -> Vec<Case> {
    let mut v = Vec::new();
    // RFC 7296 §3.10.1: "Unrecognized error types in a request ... MUST be ignored".
    v.push(Case::new(
        "ike-endpoint/notify/unrecognized-error-type-in-informational-request-ignored-sa-stays",
        || {
            let mut hs = established(20)?;
            let n = Notify {
                protocol: ProtocolId::None,
                spi: vec![],
                notify_type: NotifyType::Unknown(12345),
                data: NotifyData::None,
            };
            let m = hs.seal(ExchangeType::Informational, 2, &[Payload::from(n)]);
            let p = hs.ask_r(&m, ExchangeType::Informational, 2)?;
            expect_eq("response", p, vec![])?;
            expect_eq("responder downs", hs.r_downs(), vec![])?;
            hs.r_alive(3)
        },
    ));
    // RFC 7296 §1.5, §3.10.1: INVALID_SPI about an ESP SPI concerns that Child SA, not the IKE SA.
    v.push(Case::new(
        "ike-endpoint/notify/invalid-spi-about-esp-in-informational-does-not-end-ike-sa",
        || {
            let mut hs = established(21)?;
            let n = Notify {
                protocol: ProtocolId::Esp,
                spi: vec![],
                notify_type: NotifyType::InvalidSpi,
                data: NotifyData::Raw(vec![1, 2, 3, 4]),
            };
            let m = hs.seal(ExchangeType::Informational, 2, &[Payload::from(n)]);
            let p = hs.ask_r(&m, ExchangeType::Informational, 2)?;
            expect_eq("response", p, vec![])?;
            expect_eq("responder downs", hs.r_downs(), vec![])?;
            hs.r_alive(3)
        },
    ));
    // RFC 7296 §1.4.1: "the recipient MUST ... respond with a Delete payload" for the paired
    // Child SA (its inbound SPI).
    v.push(Case::new("ike-endpoint/delete/esp-delete-of-the-child-sa-answered-with-the-paired-spi", || {
        let mut hs = established(22)?;
        let child = hs
            .r_events
            .iter()
            .find_map(|e| match e {
                Event::ChildSaUp(c) => Some((c.spi_in, c.spi_out)),
                _ => None,
            })
            .ok_or("no child")?;
        let m = hs.seal(ExchangeType::Informational, 2, &[Payload::from(Delete::esp(&[child.1]))]);
        let p = hs.ask_r(&m, ExchangeType::Informational, 2)?;
        let got: Vec<u32> = p
            .iter()
            .filter_map(|p| match p {
                Payload::Delete(d) if d.protocol == ProtocolId::Esp => Some(d.spis_u32().collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect();
        expect_eq("Delete(ESP) SPIs in the response", got, vec![child.0])
    }));
    // RFC 7296 §2.3/§3.1: a response must answer our request, exchange type included.
    v.push(Case::new(
        "ike-endpoint/state/response-with-wrong-exchange-type-does-not-complete-our-delete",
        || {
            let mut hs = established(23)?;
            let handle = hs
                .i_events
                .iter()
                .find_map(|e| match e {
                    Event::IkeSaUp { handle, .. } => Some(*handle),
                    _ => None,
                })
                .ok_or("no handle")?;
            let now = hs.now;
            hs.i.close(now, handle);
            let out = hs.from_i();
            ensure(out.len() == 1, || "no Delete sent".into())?;
            let mid = Header::peek(&out[0]).map_err(|e| e.to_string())?.0.message_id;
            for ex in [ExchangeType::CreateChildSa, ExchangeType::IkeAuth, ExchangeType::Unknown(99)] {
                let m = hs.seal_to_i(ex, mid, 0x20, &[]);
                hs.to_i(&m);
                expect_eq(&format!("initiator downs after a {ex:?} response"), hs.i_downs(), vec![])?;
            }
            Ok(())
        },
    ));
    // RFC 7296 §2.1/§3.1: the SA is named by both SPIs; a message with our SPIr and another SPIi
    // is not for this SA.
    v.push(Case::new("ike-endpoint/spi/message-with-right-spi-r-wrong-spi-i-dropped", || {
        let mut hs = established(24)?;
        // SPIi altered; and both SPIs swapped with the I flag clear (demultiplexed by SPIi).
        for (spi_i, spi_r, flags) in [(hs.spi_i ^ 0xff, hs.spi_r, 0x08), (hs.spi_r, hs.spi_i, 0x00)] {
            let h = Header::new(ExchangeType::Informational, spi_i, spi_r, 2, HeaderFlags(flags));
            let m =
                hs.sk.protect(&h, &[Payload::from(Delete::ike())], &mut hs.rng).map_err(|e| e.to_string())?;
            let out = hs.to_r(&m);
            ensure(out.is_empty(), || {
                format!(
                    "SPIs {spi_i:x}/{spi_r:x} flags {flags:#x}: answered ({} datagrams), downs {:?}",
                    out.len(),
                    hs.r_downs()
                )
            })?;
        }
        expect_eq("responder downs", hs.r_downs(), vec![])
    }));
    v
}
