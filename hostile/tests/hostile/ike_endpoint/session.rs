//! Message ids, payloads inside SK, Deletes and cookies on a live SA.

use super::*;

pub(super) fn message_id_cases() -> Vec<Case> {
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

pub(super) fn inner_payload_cases() -> Vec<Case> {
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

pub(super) fn delete_cases() -> Vec<Case> {
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
pub(super) fn cookie_responder() -> Resp {
    Resp::with(EndpointConfig { cookie_threshold: 0, ..responder_config() })
}

/// The IKE_SA_INIT request with `cookie` (if any) as its first payload, from SPIi `spi` and nonce byte `n`.
pub(super) fn init_with_cookie(spi: u64, n: u8, cookie: Option<Vec<u8>>) -> Vec<u8> {
    let mut ps = good_init_payloads();
    ps[2] = RawP::of(PayloadType::Nonce, &Nonce::new(vec![n; 32]));
    if let Some(c) = cookie {
        let mut body = vec![0, 0, 0x40, 0x06];
        body.extend_from_slice(&c);
        ps.insert(0, RawP::new(41, body));
    }
    raw_message(RawH { spi_i: spi, ..RawH::init() }, &ps)
}

pub(super) fn get_cookie(r: &mut Resp, from: &str, spi: u64, n: u8) -> Result<Vec<u8>, String> {
    let out = r.ask_from(addr(from), addr(R_ADDR), &init_with_cookie(spi, n, None));
    ensure(out.len() == 1, || format!("{} replies", out.len()))?;
    match expect_stateless(&out[0], spi, NotifyType::Cookie)?.data {
        NotifyData::Cookie(c) => Ok(c),
        other => Err(format!("COOKIE data {other:?}")),
    }
}

/// Expects `req` from `from` to be answered with a fresh COOKIE (not accepted).
pub(super) fn expect_new_cookie(
    r: &mut Resp,
    from: &str,
    spi: u64,
    req: &[u8],
    what: &str,
) -> Result<(), String> {
    let out = r.ask_from(addr(from), addr(R_ADDR), req);
    ensure(out.len() == 1, || format!("{what}: {} replies", out.len()))?;
    expect_stateless(&out[0], spi, NotifyType::Cookie).map_err(|e| format!("{what}: {e}"))?;
    ensure(r.ep.sa_count() == 0, || format!("{what}: an SA was created"))
}

pub(super) fn cookie_cases() -> Vec<Case> {
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
