//! Messages in the wrong state, SPIs that do not match, and corrupted ICVs.

use super::*;

pub(super) fn wrong_state_cases() -> Vec<Case> {
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

pub(super) fn spi_cases() -> Vec<Case> {
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
pub(super) fn icv_cases() -> Vec<Case> {
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
