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
mod lengths;
mod proposals;
mod unknown;
use crate::{expect_eq, Case};
use lengths::*;
use proposals::*;
use unknown::*;

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
