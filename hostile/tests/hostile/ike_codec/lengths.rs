//! Payload, traffic selector and KE lengths that disagree with their contents.

use super::*;

pub(super) fn length_cases() -> Vec<Case> {
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
pub(super) fn ts_cases() -> Vec<Case> {
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

/// KE data of the wrong size or an invalid value for its group: INVALID_SYNTAX (RFC 7296
/// §2.21.1: a malformed message; INVALID_KE_PAYLOAD is only for a group other than the chosen
/// one, §1.2), and a group mismatch: INVALID_KE_PAYLOAD naming the chosen group.
pub(super) fn ke_cases() -> Vec<Case> {
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
pub(super) fn modp2048_p() -> Vec<u8> {
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
