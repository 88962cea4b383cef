//! Unknown and critical payloads, IKEv1 types, and the caps.

use super::*;

/// Unknown payloads, IKEv1 payload types, reserved bits, flags and versions.
pub(super) fn unknown_cases() -> Vec<Case> {
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
                    let port = if natt { vpn_ike::PortKind::NatT } else { vpn_ike::PortKind::Ike };
                    r.ep.handle_datagram(r.now, addr(local), addr(I_ADDR), port, &req);
                    let mut buf = vec![0u8; 70_000];
                    let t = r.ep.poll_transmit(&mut buf).ok_or("no reply")?;
                    ensure(r.ep.poll_transmit(&mut buf).is_none(), || "more than one reply".into())?;
                    expect_eq("reply framed for the socket it came to", t.port, port)?;
                    let bytes = &buf[..t.len];
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
pub(super) fn cap_cases() -> Vec<Case> {
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
