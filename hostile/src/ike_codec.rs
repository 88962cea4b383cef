//! IKE codec and unauthenticated IKE_SA_INIT (issue 6 items 1, 2, 3): every payload type with a
//! Payload Length shorter than its fixed part, past the end of the message, and off by one, both
//! in `Message::decode` (the exact `DecodeError`) and through a responder (a stateless
//! INVALID_SYNTAX reply, no state); traffic selector and proposal/transform lengths that disagree
//! with their contents; KE data of the wrong size or value for its group; protocol IDs and SPI
//! sizes in Proposal, Notify and Delete; unknown payloads, critical or not, IKEv1 payload types,
//! reserved bits, header flags and major versions.

use vpn_core::alg::KeGroup;
use vpn_ike::message::{
    Cap, DecodeError, KeyExchange, Limits, Message, NotifyData, NotifyType, Payload, PayloadType, ProtocolId,
};

use crate::ike_util::*;
use crate::{expect_eq, Case};

/// A sample body of each payload type whose last field has a variable length, the smallest valid
/// Payload Length of the type (generic header + fixed part), and the error when the Payload
/// Length is one short (the body loses its last byte, which is then left over).
fn samples() -> Vec<(&'static str, u8, Vec<u8>, u16, DecodeError)> {
    use DecodeError as E;
    let sa = vpn_ike::proposal::ike_sa(&[suite()], &[]);
    let sa_body = vpn_ike::message::PayloadBody::to_body_bytes(&sa);
    let prop_len = sa_body.len() as u16;
    let ts = vec![1, 0, 0, 0, 7, 0, 0, 16, 0, 0, 0xff, 0xff, 10, 0, 0, 0, 10, 0, 0, 255];
    let t = E::TrailingBytes;
    vec![
        ("sa", 33, sa_body, 12, E::ProposalLength { length: prop_len }),
        ("ke", 34, [vec![0, 31, 0, 0], vec![9; 32]].concat(), 8, t),
        ("idi", 35, [vec![2, 0, 0, 0], b"a.example".to_vec()].concat(), 8, t),
        ("idr", 36, [vec![2, 0, 0, 0], b"a.example".to_vec()].concat(), 8, t),
        ("cert", 37, vec![4, 1, 2, 3], 5, t),
        ("certreq", 38, [vec![4], vec![7; 20]].concat(), 5, t),
        ("auth", 39, [vec![2, 0, 0, 0], vec![5; 32]].concat(), 8, t),
        ("nonce", 40, vec![0x4e; 32], 20, t),
        ("notify", 41, vec![0, 0, 0x9c, 0x40, 1, 2, 3, 4], 8, t),
        (
            "delete",
            42,
            vec![3, 4, 0, 2, 1, 1, 1, 1, 2, 2, 2, 2],
            8,
            E::DeleteLength { spi_size: 4, count: 2 },
        ),
        ("vendor-id", 43, vec![0x56; 16], 4, t),
        ("tsi", 44, ts.clone(), 8, E::TsLength { ts_type: 7, length: 16 }),
        ("tsr", 45, ts, 8, E::TsLength { ts_type: 7, length: 16 }),
        ("sk", 46, vec![0x33; 40], 4, E::EncryptedNotLast { payload: PayloadType::Sk }),
        ("cp", 47, vec![1, 0, 0, 0, 0, 1, 0, 4, 10, 0, 0, 1], 8, E::CpAttributeLength { length: 4 }),
        ("eap", 48, vec![1, 7, 0, 5, 1], 8, E::EapLength { length: 5, actual: 4 }),
        (
            "skf",
            53,
            [vec![0, 1, 0, 1], vec![0x33; 40]].concat(),
            8,
            E::EncryptedNotLast { payload: PayloadType::Skf },
        ),
    ]
}

fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    Message::decode(bytes, &Limits::default())
}

/// The message with one payload of type `ty` and `body`, its Payload Length set to `len`.
fn single(ty: u8, body: &[u8], len: Option<u16>) -> Vec<u8> {
    raw_message(RawH::init(), &[RawP { ty, flags: 0, body: body.to_vec(), len }])
}

/// A valid IKE_SA_INIT request followed by the payload `ty`/`body` with Payload Length `len`.
fn init_plus(ty: u8, body: &[u8], len: Option<u16>) -> Vec<u8> {
    let mut ps = good_init_payloads();
    ps.push(RawP { ty, flags: 0, body: body.to_vec(), len });
    raw_message(RawH::init(), &ps)
}

/// The Payload Lengths that must be rejected for a payload of `actual` bytes with smallest
/// valid length `min`: each below the fixed part, one past the end, and the largest.
fn bad_lengths(min: u16, actual: u16) -> Vec<u16> {
    (0..min).chain([actual + 1, actual + 2, 0xffff]).collect()
}

fn length_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (name, ty, body, min, minus_one) in samples() {
        let actual = body.len() as u16 + 4;
        let pt = PayloadType::from(ty);
        let (b, m1) = (body.clone(), minus_one);
        v.push(Case::new(
            format!("ike-codec/length/{name}/short-long-off-by-one-give-exact-error"),
            move || {
                expect_eq("the sample decodes", decode(&single(ty, &b, None)).map(|_| ()), Ok(()))?;
                for len in bad_lengths(min, actual) {
                    let got = decode(&single(ty, &b, Some(len))).map(|_| ());
                    expect_eq(
                        &format!("Payload Length {len}"),
                        got,
                        Err(DecodeError::PayloadLength { payload: pt, length: len }),
                    )?;
                }
                let got = decode(&single(ty, &b, Some(actual - 1))).map(|_| ());
                expect_eq(&format!("Payload Length {} (one short)", actual - 1), got, Err(m1))
            },
        ));
        let b = body.clone();
        v.push(Case::new(
            format!("ike-endpoint/length/{name}/short-long-off-by-one-answered-invalid-syntax"),
            move || {
                if ty != 46 && ty != 53 {
                    expect_accepted(&init_plus(ty, &b, None))
                        .map_err(|e| format!("the valid request: {e}"))?;
                }
                for len in bad_lengths(min, actual).into_iter().chain([actual - 1]) {
                    expect_rejected(&init_plus(ty, &b, Some(len)), NotifyType::InvalidSyntax)
                        .map_err(|e| format!("Payload Length {len}: {e}"))?;
                }
                Ok(())
            },
        ));
    }
    v.push(Case::new("ike-codec/length/header-shorter-than-28-and-length-field-mismatch", || {
        let good = single(40, &[0x4e; 32], None);
        for n in 0..28 {
            expect_eq(&format!("{n} bytes"), decode(&good[..n]).map(|_| ()), Err(DecodeError::Truncated))?;
        }
        for delta in [-1i64, 1, 1000] {
            let mut b = good.clone();
            let l = (good.len() as i64 + delta) as u32;
            b[24..28].copy_from_slice(&l.to_be_bytes());
            expect_eq(
                &format!("Length {l}"),
                decode(&b).map(|_| ()),
                Err(DecodeError::MessageLength { header: l, datagram: good.len() }),
            )?;
        }
        // Truncated inside a generic payload header.
        let got = decode(&raw_with_chain(RawH::init(), 40, &[0, 0])).map(|_| ());
        expect_eq(
            "2 bytes of a payload header",
            got,
            Err(DecodeError::PayloadTruncated { payload: PayloadType::Nonce }),
        )
    }));
    v.push(Case::new("ike-endpoint/length/header-length-field-mismatch-dropped-silently", || {
        let good = raw_message(RawH::init(), &good_init_payloads());
        for delta in [-1i64, 1, -28] {
            let mut b = good.clone();
            let l = (good.len() as i64 + delta) as u32;
            b[24..28].copy_from_slice(&l.to_be_bytes());
            let mut r = Resp::new();
            let out = r.ask(&b);
            ensure(out.is_empty() && r.ep.sa_count() == 0, || {
                format!("Length {l}: {} replies, {} SAs", out.len(), r.ep.sa_count())
            })?;
            // A truncated datagram (the Length claims more than arrived).
            let out = r.ask(&good[..good.len() - 1]);
            ensure(out.is_empty() && r.ep.sa_count() == 0, || "truncated datagram answered".into())?;
        }
        Ok(())
    }));
    v.push(Case::new("ike-codec/length/nonce-outside-16-to-256", || {
        for n in [0usize, 15] {
            let got = decode(&single(40, &vec![1; n], None)).map(|_| ());
            expect_eq(
                &format!("{n}-byte nonce"),
                got,
                Err(DecodeError::PayloadLength { payload: PayloadType::Nonce, length: n as u16 + 4 }),
            )?;
        }
        let got = decode(&single(40, &[1; 257], None)).map(|_| ());
        expect_eq("257-byte nonce", got, Err(DecodeError::NonceLength { length: 257 }))?;
        for n in [16usize, 256] {
            expect_eq(
                &format!("{n}-byte nonce"),
                decode(&single(40, &vec![1; n], None)).map(|_| ()),
                Ok(()),
            )?;
        }
        Ok(())
    }));
    v
}

/// TS payload bodies whose counts and selector lengths disagree with their contents.
fn ts_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let v4 = |len: u8| vec![7, 0, 0, len, 0, 0, 0xff, 0xff, 10, 0, 0, 0, 10, 0, 0, 255];
    let v6 = {
        let mut s = vec![8, 0, 0, 40, 0, 0, 0xff, 0xff];
        s.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        s.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff]);
        s
    };
    let table: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        ("count-2-with-1", [vec![2, 0, 0, 0], v4(16)].concat(), DecodeError::TsCount { declared: 2 }),
        ("count-0-with-1", [vec![0, 0, 0, 0], v4(16)].concat(), DecodeError::TsCount { declared: 0 }),
        ("count-1-with-2", [vec![1, 0, 0, 0], v4(16), v4(16)].concat(), DecodeError::TsCount { declared: 1 }),
        ("count-255-with-1", [vec![255, 0, 0, 0], v4(16)].concat(), DecodeError::TsCount { declared: 255 }),
        (
            "ipv4-selector-length-15",
            [vec![1, 0, 0, 0], v4(15)].concat(),
            DecodeError::TsLength { ts_type: 7, length: 15 },
        ),
        (
            "ipv4-selector-length-17",
            [vec![1, 0, 0, 0], v4(17), vec![0]].concat(),
            DecodeError::TsLength { ts_type: 7, length: 17 },
        ),
        (
            "ipv4-selector-length-40",
            [vec![1, 0, 0, 0], v4(40)].concat(),
            DecodeError::TsLength { ts_type: 7, length: 40 },
        ),
        (
            "ipv4-selector-length-3",
            [vec![1, 0, 0, 0], v4(3)].concat(),
            DecodeError::TsLength { ts_type: 7, length: 3 },
        ),
        (
            "ipv6-selector-length-16",
            [vec![1, 0, 0, 0], {
                let mut s = v6.clone();
                s[3] = 16;
                s
            }]
            .concat(),
            DecodeError::TsLength { ts_type: 8, length: 16 },
        ),
        (
            "ipv6-selector-length-39",
            [vec![1, 0, 0, 0], {
                let mut s = v6.clone();
                s[3] = 39;
                s
            }]
            .concat(),
            DecodeError::TsLength { ts_type: 8, length: 39 },
        ),
        (
            "selector-past-the-end",
            [vec![1, 0, 0, 0], v4(16)[..10].to_vec()].concat(),
            DecodeError::TsLength { ts_type: 7, length: 16 },
        ),
        (
            "inverted-address-range",
            [vec![1, 0, 0, 0], {
                let mut s = v4(16);
                s[8] = 11;
                s
            }]
            .concat(),
            DecodeError::InvalidSelector(vpn_core::ts::TsError::AddressRangeInverted),
        ),
        (
            "inverted-port-range",
            [vec![1, 0, 0, 0], {
                let mut s = v4(16);
                s[4..8].copy_from_slice(&[0, 9, 0, 8]);
                s
            }]
            .concat(),
            DecodeError::InvalidSelector(vpn_core::ts::TsError::PortRangeInverted),
        ),
    ];
    v.push(Case::new("ike-codec/ts/well-formed-v4-v6-decode", move || {
        let body = [vec![2, 0, 0, 0], v4(16), v6.clone()].concat();
        expect_eq("TSi", decode(&single(44, &body, None)).map(|_| ()), Ok(()))
    }));
    for (name, body, want) in table {
        v.push(Case::new(format!("ike-codec/ts/{name}-gives-exact-error"), move || {
            for ty in [44u8, 45] {
                let got = decode(&single(ty, &body, None)).map(|_| ());
                expect_eq(&format!("payload {ty}"), got, Err(want))?;
            }
            Ok(())
        }));
    }
    v
}

/// The SA body of one IKE proposal with three transforms (RFC 7296 §3.3 layout, written out).
fn ike_proposal_bytes() -> Vec<u8> {
    let mut b = vec![0, 0, 0, 36, 1, 1, 0, 3];
    b.extend_from_slice(&[3, 0, 0, 12, 1, 0, 0, 20, 0x80, 14, 1, 0]); // ENCR AES-GCM-16, 256 bits
    b.extend_from_slice(&[3, 0, 0, 8, 2, 0, 0, 5]); // PRF HMAC-SHA2-256
    b.extend_from_slice(&[0, 0, 0, 8, 4, 0, 0, 31]); // KE Curve25519
    b
}

fn proposal_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = ike_proposal_bytes();
        f(&mut b);
        b
    };
    let table: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        ("proposal-length-7", edit(&|b| b[3] = 7), DecodeError::ProposalLength { length: 7 }),
        ("proposal-length-0", edit(&|b| b[3] = 0), DecodeError::ProposalLength { length: 0 }),
        ("proposal-length-one-past", edit(&|b| b[3] = 37), DecodeError::ProposalLength { length: 37 }),
        ("proposal-length-one-short", edit(&|b| b[3] = 35), DecodeError::LastSubstructure { value: 0 }),
        ("transform-count-4-with-3", edit(&|b| b[7] = 4), DecodeError::LastSubstructure { value: 0 }),
        ("transform-count-2-with-3", edit(&|b| b[7] = 2), DecodeError::LastSubstructure { value: 3 }),
        ("transform-count-0-with-3", edit(&|b| b[7] = 0), DecodeError::TransformCount { declared: 0 }),
        (
            "transform-count-255",
            edit(&|b| b[7] = 255),
            DecodeError::TooMany { what: Cap::Transforms, max: 32 },
        ),
        ("last-substruc-2-on-only-proposal", edit(&|b| b[0] = 2), DecodeError::LastSubstructure { value: 2 }),
        ("last-substruc-1", edit(&|b| b[0] = 1), DecodeError::LastSubstructure { value: 1 }),
        ("transform-length-7", edit(&|b| b[11] = 7), DecodeError::TransformLength { length: 7 }),
        (
            "transform-length-past-proposal",
            edit(&|b| b[11] = 48),
            DecodeError::TransformLength { length: 48 },
        ),
        (
            "transform-length-cuts-tv-attribute",
            edit(&|b| b[11] = 10),
            DecodeError::AttributeLength { length: 4 },
        ),
        ("transform-length-leaves-1-byte", edit(&|b| b[11] = 13), DecodeError::AttributeLength { length: 0 }),
        (
            "tlv-attribute-length-past-transform",
            edit(&|b| {
                b[16] = 0x00;
                b[18] = 0x01;
                b[19] = 0x00
            }),
            DecodeError::AttributeLength { length: 256 },
        ),
        (
            "spi-size-past-proposal",
            edit(&|b| b[6] = 200),
            DecodeError::PayloadTruncated { payload: PayloadType::Sa },
        ),
        ("spi-size-eats-transforms", edit(&|b| b[6] = 4), DecodeError::LastSubstructure { value: 1 }),
    ];
    for (name, body, want) in table {
        let b2 = body.clone();
        v.push(Case::new(format!("ike-codec/proposal/{name}-gives-exact-error"), move || {
            expect_eq("decode", decode(&single(33, &body, None)).map(|_| ()), Err(want))
        }));
        v.push(Case::new(format!("ike-endpoint/proposal/{name}-answered-invalid-syntax"), move || {
            let mut ps = good_init_payloads();
            ps[0] = RawP::new(33, b2.clone());
            expect_rejected(&raw_message(RawH::init(), &ps), NotifyType::InvalidSyntax).map(|_| ())
        }));
    }
    v.push(Case::new("ike-codec/proposal/17-proposals-over-the-cap", || {
        let one = ike_proposal_bytes();
        let mut body = Vec::new();
        for i in 0..17 {
            let mut p = one.clone();
            p[0] = if i == 16 { 0 } else { 2 };
            p[4] = i as u8 + 1;
            body.extend_from_slice(&p);
        }
        expect_eq(
            "decode",
            decode(&single(33, &body, None)).map(|_| ()),
            Err(DecodeError::TooMany { what: Cap::Proposals, max: 16 }),
        )
    }));
    v.push(Case::new("ike-endpoint/proposal/written-out-proposal-is-accepted", || {
        let mut ps = good_init_payloads();
        ps[0] = RawP::new(33, ike_proposal_bytes());
        expect_accepted(&raw_message(RawH::init(), &ps)).map(|_| ())
    }));
    v
}

/// KE data of the wrong size or an invalid value for its group: INVALID_SYNTAX (RFC 7296
/// §2.21.1: a malformed message; INVALID_KE_PAYLOAD is only for a group other than the chosen
/// one, §1.2), and a group mismatch: INVALID_KE_PAYLOAD naming the chosen group.
fn ke_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let with_ke = |group: KeGroup, offered: KeGroup, data: Vec<u8>| {
        let mut s = suite();
        s.ke = offered;
        let mut ps = good_init_payloads();
        ps[0] = RawP::of(PayloadType::Sa, &vpn_ike::proposal::ike_sa(&[s], &[]));
        ps[1] = RawP::of(PayloadType::Ke, &KeyExchange::new(group, data));
        raw_message(RawH::init(), &ps)
    };
    // The responder accepts all four groups.
    let all_groups = || {
        let mut c = responder_config();
        c.responder_ike_suites = [KeGroup::Curve25519, KeGroup::Ecp256, KeGroup::Ecp384, KeGroup::Modp2048]
            .iter()
            .map(|g| vpn_ike::IkeSuite { ke: *g, ..suite() })
            .collect();
        c
    };
    let sizes: Vec<(KeGroup, usize)> = vec![
        (KeGroup::Curve25519, 32),
        (KeGroup::Ecp256, 64),
        (KeGroup::Ecp384, 96),
        (KeGroup::Modp2048, 256),
    ];
    for (g, n) in sizes {
        v.push(Case::new(format!("ike-endpoint/ke/{g:?}-wrong-sizes-answered-invalid-syntax"), move || {
            for len in [0, 1, n - 1, n + 1, 2 * n, 1000] {
                let mut r = Resp::with(all_groups());
                let mut data = public_of(g, 3);
                data.resize(len, 0x42);
                let out = r.ask(&with_ke(g, g, data));
                ensure(out.len() == 1, || format!("{len} bytes: {} replies", out.len()))?;
                expect_stateless(&out[0], SPI_I, NotifyType::InvalidSyntax)
                    .map_err(|e| format!("{len} bytes: {e}"))?;
                ensure(r.ep.sa_count() == 0, || format!("{len} bytes: an SA was created"))?;
            }
            let mut r = Resp::with(all_groups());
            let out = r.ask(&with_ke(g, g, public_of(g, 3)));
            ensure(out.len() == 1 && r.ep.half_open_count() == 1, || "the right size is accepted".into())
        }));
    }
    // Values of the right size that are not valid public values.
    let mut bad: Vec<(&str, KeGroup, Vec<u8>)> = vec![
        // RFC 8031 §2.3: an all-zero X25519 result (low-order public values) MUST be rejected.
        ("curve25519-zero-u", KeGroup::Curve25519, vec![0; 32]),
        ("curve25519-u-1", KeGroup::Curve25519, {
            let mut d = vec![0; 32];
            d[0] = 1;
            d
        }),
        ("curve25519-order-8-point", KeGroup::Curve25519, {
            let mut d = vec![0u8; 32];
            for (i, b) in "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"
                .as_bytes()
                .chunks(2)
                .enumerate()
            {
                d[i] = u8::from_str_radix(std::str::from_utf8(b).unwrap_or("00"), 16).unwrap_or(0);
            }
            d
        }),
        ("ecp256-point-not-on-curve", KeGroup::Ecp256, vec![1; 64]),
        ("ecp256-all-zero", KeGroup::Ecp256, vec![0; 64]),
        ("ecp384-point-not-on-curve", KeGroup::Ecp384, vec![1; 96]),
        ("modp2048-zero", KeGroup::Modp2048, vec![0; 256]),
        ("modp2048-one", KeGroup::Modp2048, {
            let mut d = vec![0; 256];
            d[255] = 1;
            d
        }),
        ("modp2048-all-ones-above-p", KeGroup::Modp2048, vec![0xff; 256]),
    ];
    bad.push(("modp2048-p-minus-1", KeGroup::Modp2048, {
        let mut p = modp2048_p();
        p[255] -= 1;
        p
    }));
    bad.push(("modp2048-p", KeGroup::Modp2048, modp2048_p()));
    for (name, g, data) in bad {
        v.push(Case::new(format!("ike-endpoint/ke/{name}-answered-invalid-syntax"), move || {
            let mut r = Resp::with(all_groups());
            let out = r.ask(&with_ke(g, g, data.clone()));
            ensure(out.len() == 1, || format!("{} replies", out.len()))?;
            expect_stateless(&out[0], SPI_I, NotifyType::InvalidSyntax)?;
            ensure(r.ep.sa_count() == 0, || "an SA was created".into())
        }));
    }
    v.push(Case::new(
        "ike-endpoint/ke/group-other-than-chosen-answered-invalid-ke-payload-with-group",
        move || {
            for (ke_group, data_len) in [
                (KeGroup::Ecp256, 64),
                (KeGroup::Modp2048, 256),
                (KeGroup::Unknown(999), 32),
                (KeGroup::Unknown(0), 0),
            ] {
                // Only Curve25519 offered and accepted.
                let out = expect_rejected(
                    &with_ke(ke_group, KeGroup::Curve25519, vec![7; data_len]),
                    NotifyType::InvalidKePayload,
                )
                .map_err(|e| format!("KE group {ke_group:?}: {e}"))?;
                expect_eq(
                    "INVALID_KE_PAYLOAD data",
                    out.data,
                    NotifyData::InvalidKePayload(KeGroup::Curve25519),
                )?;
            }
            Ok(())
        },
    ));
    v.push(Case::new("ike-endpoint/ke/no-ke-or-no-nonce-or-no-sa-answered-invalid-syntax", || {
        for drop in 0..3 {
            let mut ps = good_init_payloads();
            ps.remove(drop);
            expect_rejected(&raw_message(RawH::init(), &ps), NotifyType::InvalidSyntax)
                .map_err(|e| format!("without payload {drop}: {e}"))?;
        }
        Ok(())
    }));
    v
}

/// The MODP-2048 prime (RFC 3526 §3).
fn modp2048_p() -> Vec<u8> {
    const P: &str = concat!(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
        "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
        "15728E5A8AACAA68FFFFFFFFFFFFFFFF"
    );
    (0..P.len()).step_by(2).map(|i| u8::from_str_radix(&P[i..i + 2], 16).expect("hex")).collect()
}

/// Protocol IDs 0, 1, 2 and above 3 and SPI sizes that disagree with the protocol, in Proposal,
/// Notify and Delete.
fn protocol_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case::new("ike-codec/protocol-id/every-value-round-trips-in-proposal-notify-delete", || {
        for p in 0..=255u8 {
            let prop = {
                let mut b = ike_proposal_bytes();
                b[5] = p;
                b
            };
            let m = decode(&single(33, &prop, None)).map_err(|e| format!("proposal protocol {p}: {e}"))?;
            match &m.payloads[0] {
                Payload::Sa(sa) => expect_eq("proposal protocol", u8::from(sa.proposals[0].protocol), p)?,
                other => return Err(format!("not an SA: {other:?}")),
            }
            let m = decode(&single(41, &[p, 0, 0x40, 0x00], None))
                .map_err(|e| format!("notify protocol {p}: {e}"))?;
            expect_eq("notify protocol", m.notifies().next().map(|n| u8::from(n.protocol)), Some(p))?;
            let m =
                decode(&single(42, &[p, 0, 0, 0], None)).map_err(|e| format!("delete protocol {p}: {e}"))?;
            expect_eq("re-encoded", m.encode(), single(42, &[p, 0, 0, 0], None))?;
        }
        Ok(())
    }));
    v.push(Case::new("ike-codec/spi-size/past-the-end-in-notify-and-delete", || {
        let got = decode(&single(41, &[3, 4, 0x40, 0x00, 1, 2], None)).map(|_| ());
        expect_eq(
            "notify SPI size 4 with 2 bytes",
            got,
            Err(DecodeError::PayloadTruncated { payload: PayloadType::Notify }),
        )?;
        let got = decode(&single(41, &[1, 255, 0x40, 0x00], None)).map(|_| ());
        expect_eq(
            "notify SPI size 255",
            got,
            Err(DecodeError::PayloadTruncated { payload: PayloadType::Notify }),
        )?;
        for (size, count, extra) in [(4u8, 2u16, 4usize), (8, 1, 4), (4, 1, 5), (0, 3, 1), (255, 1, 4)] {
            let mut body = vec![3, size];
            body.extend_from_slice(&count.to_be_bytes());
            body.extend(std::iter::repeat_n(9, extra));
            let got = decode(&single(42, &body, None)).map(|_| ());
            expect_eq(
                &format!("delete size {size} count {count} with {extra} bytes"),
                got,
                Err(DecodeError::DeleteLength { spi_size: size, count }),
            )?;
        }
        let got = decode(&single(42, &[3, 4, 1, 1], None)).map(|_| ());
        expect_eq("delete 257 SPIs", got, Err(DecodeError::TooMany { what: Cap::DeleteSpis, max: 256 }))
    }));
    for p in [0u8, 2, 3, 4, 200, 255] {
        v.push(Case::new(
            format!("ike-endpoint/protocol-id/proposal-protocol-{p}-in-init-answered-no-proposal-chosen"),
            move || {
                let mut b = ike_proposal_bytes();
                b[5] = p;
                let mut ps = good_init_payloads();
                ps[0] = RawP::new(33, b);
                expect_rejected(&raw_message(RawH::init(), &ps), NotifyType::NoProposalChosen).map(|_| ())
            },
        ));
    }
    for (p, size) in [(0u8, 4u8), (1, 0), (1, 4), (2, 3), (3, 8), (4, 1), (255, 16)] {
        v.push(Case::new(
            format!("ike-endpoint/protocol-id/status-notify-protocol-{p}-spi-size-{size}-in-init-ignored"),
            move || {
                let mut body = vec![p, size, 0x9c, 0x40]; // unknown status type 40000
                body.extend(std::iter::repeat_n(0xaa, size as usize));
                let mut ps = good_init_payloads();
                ps.push(RawP::new(41, body.clone()));
                // Also on a known status type the endpoint reads (IKEV2_FRAGMENTATION_SUPPORTED).
                let mut body2 = body.clone();
                body2[2..4].copy_from_slice(&16430u16.to_be_bytes());
                ps[3] = RawP::new(41, body2);
                expect_accepted(&raw_message(RawH::init(), &ps)).map(|_| ())
            },
        ));
    }
    v
}

/// Unknown payloads, IKEv1 payload types, reserved bits, flags and versions.
fn unknown_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let unknown_types: Vec<u8> = (1..=13).chain([14, 32, 49, 52, 54, 127, 128, 200, 255]).collect();
    v.push(Case::new("ike-codec/unknown-payload/non-critical-kept-critical-rejected-with-type", {
        let unknown_types = unknown_types.clone();
        move || {
            for &t in &unknown_types {
                let m = decode(&single(t, &[1, 2, 3], None)).map_err(|e| format!("type {t}: {e}"))?;
                match &m.payloads[0] {
                    Payload::Unknown { payload_type, body, .. } => {
                        expect_eq("type", u8::from(*payload_type), t)?;
                        expect_eq("body", body.clone(), vec![1, 2, 3])?;
                    }
                    other => return Err(format!("type {t} decoded as {other:?}")),
                }
                let b =
                    raw_message(RawH::init(), &[RawP { ty: t, flags: 0x80, body: vec![1, 2, 3], len: None }]);
                expect_eq(
                    &format!("critical type {t}"),
                    decode(&b).map(|_| ()),
                    Err(DecodeError::UnsupportedCriticalPayload(t)),
                )?;
                let e = DecodeError::UnsupportedCriticalPayload(t);
                expect_eq(
                    "its notify data",
                    e.notify_payload().data,
                    NotifyData::UnsupportedCriticalPayload(t),
                )?;
            }
            Ok(())
        }
    }));
    for t in unknown_types {
        v.push(Case::new(format!("ike-endpoint/unknown-payload/type-{t}-critical-answered-unsupported-critical-payload-with-type"), move || {
            for at in [0usize, 2, 4] {
                let mut ps = good_init_payloads();
                ps.insert(at, RawP { ty: t, flags: 0x80, body: vec![0xee; 5], len: None });
                let n = expect_rejected(&raw_message(RawH::init(), &ps), NotifyType::UnsupportedCriticalPayload)
                    .map_err(|e| format!("at position {at}: {e}"))?;
                expect_eq("notify data", n.data, NotifyData::UnsupportedCriticalPayload(t))?;
            }
            Ok(())
        }));
        v.push(Case::new(
            format!("ike-endpoint/unknown-payload/type-{t}-non-critical-ignored-exchange-proceeds"),
            move || {
                for (at, flags) in [(0usize, 0u8), (2, 0x7f), (4, 0x01)] {
                    let mut ps = good_init_payloads();
                    ps.insert(at, RawP { ty: t, flags, body: vec![0xee; 5], len: None });
                    expect_accepted(&raw_message(RawH::init(), &ps))
                        .map_err(|e| format!("at {at} flags {flags:#x}: {e}"))?;
                }
                Ok(())
            },
        ));
    }
    v.push(Case::new(
        "ike-endpoint/reserved/payload-flag-bits-and-critical-on-known-payloads-ignored",
        || {
            for flags in [0x01u8, 0x7f, 0x80, 0xff] {
                let mut ps = good_init_payloads();
                for p in &mut ps {
                    p.flags = flags;
                }
                expect_accepted(&raw_message(RawH::init(), &ps))
                    .map_err(|e| format!("flags {flags:#x}: {e}"))?;
            }
            Ok(())
        },
    ));
    v.push(Case::new("ike-endpoint/reserved/reserved-fields-in-proposal-transform-ke-ignored", || {
        let mut b = ike_proposal_bytes();
        b[1] = 0xff; // proposal RESERVED
        b[9] = 0xff; // transform RESERVED
        b[13] = 0xff; // transform RESERVED2
        let mut ps = good_init_payloads();
        ps[0] = RawP::new(33, b);
        ps[1].body[2] = 0xff; // KE RESERVED
        ps[1].body[3] = 0xff;
        expect_accepted(&raw_message(RawH::init(), &ps)).map(|_| ())
    }));
    v.push(Case::new("ike-endpoint/header/reserved-flag-bits-and-v-ignored-reply-clears-them", || {
        for extra in [0x01u8, 0x02, 0x04, 0x10, 0x40, 0x80, 0xd7] {
            let mut h = RawH::init();
            h.flags = 0x08 | extra;
            let m = expect_accepted(&raw_message(h, &good_init_payloads()))
                .map_err(|e| format!("flags {:#x}: {e}", h.flags))?;
            expect_eq("reply flags", m.header.flags.0, 0x20)?;
        }
        Ok(())
    }));
    v.push(Case::new("ike-endpoint/header/minor-version-ignored-reply-is-2.0", || {
        for version in [0x21u8, 0x2f] {
            let mut h = RawH::init();
            h.version = version;
            let m = expect_accepted(&raw_message(h, &good_init_payloads()))?;
            expect_eq("reply minor version", m.header.minor_version, 0)?;
        }
        Ok(())
    }));
    v.push(Case::new(
        "ike-endpoint/header/init-request-with-r-or-without-i-or-nonzero-mid-dropped-silently",
        || {
            let variants: Vec<(&str, RawH)> = vec![
                ("R set", RawH { flags: 0x28, ..RawH::init() }),
                ("R only", RawH { flags: 0x20, ..RawH::init() }),
                ("I clear", RawH { flags: 0x00, ..RawH::init() }),
                ("mid 1", RawH { mid: 1, ..RawH::init() }),
                ("mid 0xffffffff", RawH { mid: u32::MAX, ..RawH::init() }),
                ("SPIr set", RawH { spi_r: 5, ..RawH::init() }),
                ("exchange 99", RawH { exchange: 99, ..RawH::init() }),
                ("exchange IKE_AUTH", RawH { exchange: 35, ..RawH::init() }),
            ];
            for (what, h) in variants {
                let mut r = Resp::new();
                let out = r.ask(&raw_message(h, &good_init_payloads()));
                ensure(out.is_empty() && r.ep.sa_count() == 0 && r.events.is_empty(), || {
                    format!("{what}: {} replies, {} SAs", out.len(), r.ep.sa_count())
                })?;
            }
            Ok(())
        },
    ));
    for major in [0u8, 1, 3, 4, 15] {
        v.push(Case::new(
            format!("ike-endpoint/header/major-version-{major}-answered-invalid-major-version"),
            move || {
                for (h, local) in [
                    (RawH::init(), R_ADDR),
                    (RawH { exchange: 37, spi_r: 9, mid: 7, flags: 0x08, ..RawH::init() }, R_ADDR),
                    (RawH::init(), "192.0.2.1:4500"),
                ] {
                    let mut h = h;
                    h.version = major << 4;
                    let req = raw_message(h, &good_init_payloads());
                    let mut r = Resp::new();
                    let natt = local.ends_with("4500");
                    let datagram = if natt { [vec![0; 4], req.clone()].concat() } else { req.clone() };
                    r.ep.handle_datagram(r.now, addr(local), addr(I_ADDR), &datagram);
                    let mut buf = vec![0u8; 70_000];
                    let t = r.ep.poll_transmit(&mut buf).ok_or("no reply")?;
                    ensure(r.ep.poll_transmit(&mut buf).is_none(), || "more than one reply".into())?;
                    expect_eq("reply carries the non-ESP marker", t.non_esp_marker, natt)?;
                    let bytes = &buf[if natt { 4 } else { 0 }..t.len];
                    let m = Message::decode(bytes, &Limits::default())
                        .map_err(|e| format!("reply does not decode: {e}"))?;
                    let got = (
                        m.header.spi_i,
                        m.header.spi_r,
                        u8::from(m.header.exchange_type),
                        m.header.message_id,
                        m.header.flags.0,
                        m.header.minor_version,
                    );
                    expect_eq("reply header", got, (h.spi_i, h.spi_r, h.exchange, h.mid, 0x20, 0))?;
                    expect_eq("reply version octet", bytes[17], 0x20)?;
                    expect_eq(
                        "reply notifies",
                        m.notifies().map(|n| (n.notify_type, n.protocol, n.spi.len())).collect::<Vec<_>>(),
                        vec![(NotifyType::InvalidMajorVersion, ProtocolId::None, 0)],
                    )?;
                    ensure(r.ep.sa_count() == 0, || "state created".into())?;
                }
                // A response of another major version is never answered.
                let mut h = RawH { flags: 0x20, ..RawH::init() };
                h.version = major << 4;
                let mut r = Resp::new();
                ensure(r.ask(&raw_message(h, &good_init_payloads())).is_empty(), || {
                    "a response was answered".into()
                })
            },
        ));
    }
    v.push(Case::new("ike-endpoint/header/ikev1-main-mode-packet-answered-invalid-major-version", || {
        // An IKEv1 Main Mode first packet: version 1.0, exchange type 2, an SA payload (type 1).
        let h = RawH { version: 0x10, exchange: 2, flags: 0, ..RawH::init() };
        let req = raw_message(h, &[RawP::new(1, vec![0, 0, 0, 1, 0, 0, 0, 1])]);
        let mut r = Resp::new();
        let out = r.ask(&req);
        ensure(out.len() == 1, || format!("{} replies", out.len()))?;
        let m = Message::decode(&out[0], &Limits::default()).map_err(|e| e.to_string())?;
        expect_eq(
            "notify",
            m.notifies().next().map(|n| n.notify_type),
            Some(NotifyType::InvalidMajorVersion),
        )?;
        expect_eq("SAs", r.ep.sa_count(), 0)
    }));
    v.push(Case::new("ike-endpoint/header/datagrams-shorter-than-a-header-dropped-silently", || {
        let req = raw_message(RawH { version: 0x30, ..RawH::init() }, &[]);
        let mut r = Resp::new();
        for n in 0..28 {
            ensure(r.ask(&req[..n]).is_empty(), || format!("{n} bytes answered"))?;
        }
        Ok(())
    }));
    v
}

/// Per-chain caps of `Limits`: one over each is a `TooMany` error and, through the responder,
/// a stateless INVALID_SYNTAX.
fn cap_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let table: Vec<(&str, RawP, usize, Cap, usize)> = vec![
        ("payloads", RawP::new(200, vec![1]), 64, Cap::Payloads, 64),
        ("notifies", RawP::new(41, vec![0, 0, 0x9c, 0x40]), 32, Cap::Notifies, 32),
        ("vendor-ids", RawP::new(43, vec![1; 4]), 16, Cap::VendorIds, 16),
        ("certs", RawP::new(37, vec![4, 1]), 8, Cap::Certs, 8),
        ("certreqs", RawP::new(38, vec![4, 1]), 8, Cap::Certs, 8),
    ];
    for (name, p, max, cap, limit) in table {
        v.push(Case::new(format!("ike-codec/caps/{name}-one-over-the-cap-rejected"), move || {
            // The valid request already holds 4 payloads, one of them a Notify.
            let base = good_init_payloads();
            let already = match cap {
                Cap::Payloads => base.len(),
                Cap::Notifies => 1,
                _ => 0,
            };
            let mut at_cap = base.clone();
            at_cap.extend(std::iter::repeat_n(p.clone(), max - already));
            expect_eq("at the cap", decode(&raw_message(RawH::init(), &at_cap)).map(|_| ()), Ok(()))?;
            let mut over = at_cap.clone();
            over.push(p.clone());
            let bytes = raw_message(RawH::init(), &over);
            expect_eq(
                "one over",
                decode(&bytes).map(|_| ()),
                Err(DecodeError::TooMany { what: cap, max: limit }),
            )?;
            expect_rejected(&bytes, NotifyType::InvalidSyntax).map(|_| ())
        }));
    }
    v
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(cap_cases());
    v.extend(length_cases());
    v.extend(ts_cases());
    v.extend(proposal_cases());
    v.extend(ke_cases());
    v.extend(protocol_cases());
    v.extend(unknown_cases());
    v
}

/// Cases of defects this suite found and that are fixed: kept as regression tests.
pub fn regressions() -> Vec<Case> {
    let mut v = Vec::new();
    // RFC 7296 §3.1: the IKE SA Initiator's SPI "MUST NOT be zero".
    v.push(Case::new("ike-endpoint/header/init-request-with-spi-i-zero-dropped-silently", || {
        let mut r = Resp::new();
        let out = r.ask(&raw_message(RawH { spi_i: 0, ..RawH::init() }, &good_init_payloads()));
        ensure(out.is_empty() && r.ep.sa_count() == 0, || {
            format!(
                "{} replies, {} SAs created (half-open {})",
                out.len(),
                r.ep.sa_count(),
                r.ep.half_open_count()
            )
        })
    }));
    // RFC 7296 §3.3.1: "For an initial IKE SA negotiation, this field [SPI Size] MUST be zero".
    v.push(Case::new(
        "ike-endpoint/protocol-id/ike-proposal-with-spi-in-init-answered-invalid-syntax",
        || {
            for size in [4u8, 8] {
                let mut b = ike_proposal_bytes();
                b[6] = size;
                b.splice(8..8, std::iter::repeat_n(0xab, size as usize));
                b[3] += size;
                let mut ps = good_init_payloads();
                ps[0] = RawP::new(33, b);
                expect_rejected(&raw_message(RawH::init(), &ps), NotifyType::InvalidSyntax)
                    .map_err(|e| format!("SPI size {size}: {e}"))?;
            }
            Ok(())
        },
    ));
    v
}
