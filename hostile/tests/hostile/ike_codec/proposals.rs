//! Proposal and transform structure, protocol ids and SPI sizes.

use super::*;

/// The SA body of one IKE proposal with three transforms (RFC 7296 §3.3 layout, written out).
pub(super) fn ike_proposal_bytes() -> Vec<u8> {
    let mut b = vec![0, 0, 0, 36, 1, 1, 0, 3];
    b.extend_from_slice(&[3, 0, 0, 12, 1, 0, 0, 20, 0x80, 14, 1, 0]); // ENCR AES-GCM-16, 256 bits
    b.extend_from_slice(&[3, 0, 0, 8, 2, 0, 0, 5]); // PRF HMAC-SHA2-256
    b.extend_from_slice(&[0, 0, 0, 8, 4, 0, 0, 31]); // KE Curve25519
    b
}

pub(super) fn proposal_cases() -> Vec<Case> {
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

/// Protocol IDs 0, 1, 2 and above 3 and SPI sizes that disagree with the protocol, in Proposal,
/// Notify and Delete.
pub(super) fn protocol_cases() -> Vec<Case> {
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
