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
mod session;
mod state;
use crate::{expect_eq, Case};
use session::*;
use state::*;

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
