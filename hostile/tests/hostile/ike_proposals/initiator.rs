//! Forged IKE_SA_INIT responses to an initiator: what it must refuse.

use super::*;

pub(super) fn initiator_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let failing: Vec<EditResponse> = vec![
        (
            "suite-not-offered",
            DownReason::Rejected(NotifyType::NoProposalChosen),
            Box::new(|m| {
                let other = vpn_ike::IkeSuite { encr_key_bits: 128, ..suite() };
                replace_sa(m, vpn_ike::proposal::ike_reply(&other, 1));
            }),
        ),
        (
            "two-proposals",
            DownReason::Rejected(NotifyType::NoProposalChosen),
            Box::new(|m| {
                let mut sa = vpn_ike::proposal::ike_reply(&suite(), 1);
                sa.proposals.push(sa.proposals[0].clone());
                replace_sa(m, sa);
            }),
        ),
        (
            "wrong-proposal-number",
            DownReason::Rejected(NotifyType::NoProposalChosen),
            Box::new(|m| replace_sa(m, vpn_ike::proposal::ike_reply(&suite(), 7))),
        ),
        (
            "no-sa",
            DownReason::Rejected(NotifyType::NoProposalChosen),
            Box::new(|m| m.payloads.retain(|p| p.payload_type() != PayloadType::Sa)),
        ),
        (
            "no-ke",
            DownReason::Rejected(NotifyType::NoProposalChosen),
            Box::new(|m| m.payloads.retain(|p| p.payload_type() != PayloadType::Ke)),
        ),
        (
            "no-nonce",
            DownReason::Rejected(NotifyType::NoProposalChosen),
            Box::new(|m| m.payloads.retain(|p| p.payload_type() != PayloadType::Nonce)),
        ),
        ("spi-r-zero", DownReason::Rejected(NotifyType::InvalidSyntax), Box::new(|m| m.header.spi_r = 0)),
        (
            "ke-31-bytes",
            DownReason::Rejected(NotifyType::InvalidSyntax),
            Box::new(|m| {
                for p in m.payloads.iter_mut() {
                    if let Payload::Ke(k) = p {
                        k.body.data.pop();
                    }
                }
            }),
        ),
        (
            "ke-group-other-than-chosen",
            DownReason::Rejected(NotifyType::InvalidSyntax),
            Box::new(|m| {
                for p in m.payloads.iter_mut() {
                    if let Payload::Ke(k) = p {
                        k.body = KeyExchange::new(KeGroup::Ecp256, vec![4; 64])
                    }
                }
            }),
        ),
        (
            "no-proposal-chosen-notify",
            DownReason::PeerError(NotifyType::NoProposalChosen),
            Box::new(|m| m.payloads = vec![Payload::from(Notify::status(NotifyType::NoProposalChosen))]),
        ),
        (
            "unknown-error-notify",
            DownReason::PeerError(NotifyType::Unknown(9999)),
            Box::new(|m| m.payloads.push(Payload::from(Notify::status(NotifyType::Unknown(9999))))),
        ),
    ];
    for (k, (name, want, f)) in failing.into_iter().enumerate() {
        v.push(Case::new(
            format!("ike-proposals/initiator/init-response-{name}-ends-sa-with-{want:?}"),
            move || {
                let mut i = Init::new(100 + k as u64);
                let bad = i.with(|m| f(m));
                let out = i.give(&bad);
                ensure(out.is_empty(), || format!("initiator sent {} datagrams", out.len()))?;
                expect_eq("downs", downs(&i.events), vec![want])?;
                expect_eq("SAs", i.ep.sa_count(), 0)
            },
        ));
    }
    v.push(Case::new(
        "ike-proposals/initiator/undecodable-or-critical-init-responses-ignored-then-real-one-works",
        || {
            let mut i = Init::new(120);
            let good = i.response.encode();
            let mut truncated_len = good.clone();
            truncated_len[31] = truncated_len[31].wrapping_add(1);
            let critical = i.with(|m| {
                m.payloads.push(Payload::Unknown {
                    payload_type: PayloadType::from(200),
                    flags: PayloadFlags(0x80),
                    body: vec![1],
                })
            });
            let wrong_exchange = i.with(|m| m.header.exchange_type = ExchangeType::IkeAuth);
            let wrong_mid = i.with(|m| m.header.message_id = 1);
            let not_response = i.with(|m| m.header.flags = vpn_ike::message::HeaderFlags(0));
            for (what, b) in [
                ("payload length", &truncated_len),
                ("critical", &critical),
                ("exchange", &wrong_exchange),
                ("mid", &wrong_mid),
                ("R clear", &not_response),
                ("truncated", &good[..good.len() - 1].to_vec()),
            ] {
                let out = i.give(b);
                ensure(out.is_empty() && i.events.is_empty() && i.ep.sa_count() == 1, || {
                    format!("{what}: reacted ({} datagrams, {:?})", out.len(), i.events)
                })?;
            }
            let out = i.give(&good);
            expect_eq("IKE_AUTH sent", out.iter().map(|d| d[18]).collect::<Vec<_>>(), vec![35])
        },
    ));
    v.push(Case::new(
        "ike-proposals/initiator/invalid-ke-for-unoffered-group-ends-same-group-ignored",
        || {
            let mut i = Init::new(121);
            let same = i.stateless(Notify::new(
                NotifyType::InvalidKePayload,
                NotifyData::InvalidKePayload(KeGroup::Curve25519),
            ));
            ensure(i.give(&same).is_empty() && i.events.is_empty(), || {
                "INVALID_KE for our own group was acted on".into()
            })?;
            let other = i.stateless(Notify::new(
                NotifyType::InvalidKePayload,
                NotifyData::InvalidKePayload(KeGroup::Modp2048),
            ));
            ensure(i.give(&other).is_empty(), || "retried with a group it never offered".into())?;
            expect_eq("downs", downs(&i.events), vec![DownReason::PeerError(NotifyType::InvalidKePayload)])
        },
    ));
    v.push(Case::new("ike-proposals/initiator/cookie-loop-gives-up-after-4-retries", || {
        let mut i = Init::new(122);
        for k in 0..4u8 {
            let c = i.stateless(Notify::cookie(vec![k + 1; 16]));
            let out = i.give(&c);
            expect_eq(&format!("retry {k}"), out.len(), 1)?;
            let m = Message::decode(&out[0], &Limits::default()).map_err(|e| e.to_string())?;
            let first = m.payloads.first().and_then(Payload::as_notify).map(|n| n.data.clone());
            expect_eq("COOKIE first", first, Some(NotifyData::Cookie(vec![k + 1; 16])))?;
            // The same cookie again is a duplicate: ignored.
            ensure(i.give(&c).is_empty(), || "duplicate cookie followed".into())?;
        }
        let c = i.stateless(Notify::cookie(vec![9; 16]));
        ensure(i.give(&c).is_empty(), || "a fifth retry".into())?;
        expect_eq("downs", downs(&i.events), vec![DownReason::PeerError(NotifyType::Cookie)])?;
        let _ = &i.request;
        Ok(())
    }));
    v
}
