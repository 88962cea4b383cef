//! Building SA payloads from configured suites and choosing from a peer's (RFC 7296 §2.7, §3.3).
//!
//! Suites are grouped into as few proposals as possible: one for AEAD ciphers and one for the
//! others (RFC 7296 §3.3: combined-mode ciphers are not mixed with integrity transforms), each
//! listing every transform its suites use.

use alloc::vec::Vec;
use vpn_core::alg::{EncrAlg, EsnMode, IntegAlg, KeGroup, PrfAlg, TransformType};

use crate::config::EspSuite;
use crate::keys::IkeSuite;
use crate::message::{Proposal, ProtocolId, Sa, Transform, TransformAttribute, ATTR_KEY_LENGTH};

fn push_unique(v: &mut Vec<Transform>, t: Transform) {
    if !v.contains(&t) {
        v.push(t);
    }
}

fn encr_transform(encr: EncrAlg, bits: u16) -> Transform {
    // RFC 7634 §3: ChaCha20-Poly1305 has a fixed key length and no Key Length attribute.
    let attr = if encr == EncrAlg::ChaCha20Poly1305 { None } else { Some(bits) };
    Transform::encr(encr, attr)
}

/// RFC 7296 §3.3.6: a proposal with a transform type we do not understand is unacceptable, and
/// so is one whose transforms carry attributes we do not understand (only Key Length exists).
fn understood(p: &Proposal, types: &[TransformType]) -> bool {
    p.transforms.iter().all(|t| {
        types.contains(&t.transform_type)
            && t.attributes
                .iter()
                .all(|a| matches!(a, TransformAttribute::Tv { attr_type: ATTR_KEY_LENGTH, .. }))
    })
}

fn has_encr(p: &Proposal, encr: EncrAlg, bits: u16) -> bool {
    p.transforms_of(TransformType::Encr).any(|t| {
        EncrAlg::from(t.id) == encr
            && match (encr, t.key_length()) {
                (EncrAlg::ChaCha20Poly1305, None | Some(256)) => true,
                (_, k) => k == Some(bits),
            }
    })
}

fn has(p: &Proposal, ty: TransformType, id: u16) -> bool {
    p.transforms_of(ty).any(|t| t.id == id && t.attributes.is_empty())
}

/// Integrity: AEAD proposals carry none or NONE (RFC 7296 §3.3.3).
fn has_integ(p: &Proposal, integ: IntegAlg) -> bool {
    if integ == IntegAlg::None {
        p.transforms_of(TransformType::Integ).all(|t| t.id == 0)
    } else {
        has(p, TransformType::Integ, integ.into())
    }
}

fn groups<T: Copy>(suites: &[T], aead: impl Fn(&T) -> bool) -> [Vec<T>; 2] {
    let (a, b): (Vec<T>, Vec<T>) = suites.iter().partition(|s| aead(s));
    [a, b]
}

fn numbered(protocol: ProtocolId, spi: &[u8], list: Vec<Vec<Transform>>) -> Sa {
    let proposals = list
        .into_iter()
        .filter(|t| !t.is_empty())
        .zip(1u8..)
        .map(|(transforms, n)| Proposal { spi: spi.to_vec(), ..Proposal::new(n, protocol, transforms) })
        .collect();
    Sa { proposals }
}

/// The SA payload offering `suites` for an IKE SA (`spi` empty in IKE_SA_INIT).
pub fn ike_sa(suites: &[IkeSuite], spi: &[u8]) -> Sa {
    let list = groups(suites, |s| s.encr.is_aead())
        .into_iter()
        .map(|g| {
            let mut t = Vec::new();
            g.iter().for_each(|s| push_unique(&mut t, encr_transform(s.encr, s.encr_key_bits)));
            g.iter().for_each(|s| push_unique(&mut t, Transform::prf(s.prf)));
            g.iter()
                .filter(|s| s.integ != IntegAlg::None)
                .for_each(|s| push_unique(&mut t, Transform::integ(s.integ)));
            g.iter().for_each(|s| push_unique(&mut t, Transform::ke(s.ke)));
            t
        })
        .collect();
    numbered(ProtocolId::Ike, spi, list)
}

/// The SA payload offering `suites` for an ESP Child SA with our inbound `spi`; their PFS
/// groups become KE transforms (with NONE when some suites have none, RFC 7296 §3.3.2).
pub fn esp_sa(suites: &[EspSuite], spi: u32) -> Sa {
    let list = groups(suites, |s| s.encr.is_aead())
        .into_iter()
        .map(|g| {
            let mut t = Vec::new();
            g.iter().for_each(|s| push_unique(&mut t, encr_transform(s.encr, s.encr_key_bits)));
            g.iter()
                .filter(|s| s.integ != IntegAlg::None)
                .for_each(|s| push_unique(&mut t, Transform::integ(s.integ)));
            g.iter().for_each(|s| {
                push_unique(&mut t, Transform::esn(if s.esn { EsnMode::Yes } else { EsnMode::No }))
            });
            if g.iter().any(|s| s.ke.is_some()) {
                g.iter().for_each(|s| push_unique(&mut t, Transform::ke(s.ke.unwrap_or(KeGroup::None))));
            }
            t
        })
        .collect();
    numbered(ProtocolId::Esp, &spi.to_be_bytes(), list)
}

/// The ESP offer of IKE_AUTH: without PFS groups, which the first Child SA does not use
/// (RFC 7296 §1.2).
pub fn esp_sa_no_pfs(suites: &[EspSuite], spi: u32) -> Sa {
    let mut plain: Vec<EspSuite> = Vec::new();
    suites.iter().map(|s| s.without_ke()).for_each(|s| {
        if !plain.contains(&s) {
            plain.push(s)
        }
    });
    esp_sa(&plain, spi)
}

/// The PFS group a proposal allows for `ke`: `None` matches no KE transform or NONE.
fn has_ke(p: &Proposal, ke: Option<KeGroup>) -> bool {
    match ke {
        Some(g) => has(p, TransformType::Ke, g.into()),
        None => {
            let mut kes = p.transforms_of(TransformType::Ke).peekable();
            kes.peek().is_none() || p.transforms_of(TransformType::Ke).any(|t| t.id == 0)
        }
    }
}

fn ike_matches(p: &Proposal, s: &IkeSuite) -> bool {
    use TransformType::{Encr, Integ, Ke, Prf};
    p.protocol == ProtocolId::Ike
        && understood(p, &[Encr, Prf, Integ, Ke])
        && has_encr(p, s.encr, s.encr_key_bits)
        && has(p, TransformType::Prf, s.prf.into())
        && has_integ(p, s.integ)
        && has(p, TransformType::Ke, s.ke.into())
}

fn esp_matches(p: &Proposal, s: &EspSuite) -> bool {
    esp_matches_pfs(p, s, true)
}

/// `pfs` false: KE transforms are ignored (IKE_AUTH, RFC 7296 §1.2).
fn esp_matches_pfs(p: &Proposal, s: &EspSuite, pfs: bool) -> bool {
    let esn: u16 = if s.esn { EsnMode::Yes.into() } else { EsnMode::No.into() };
    p.protocol == ProtocolId::Esp
        && understood(p, &[TransformType::Encr, TransformType::Integ, TransformType::Ke, TransformType::Esn])
        && (!pfs || has_ke(p, s.ke))
        && p.spi.len() == 4
        && has_encr(p, s.encr, s.encr_key_bits)
        && has_integ(p, s.integ)
        && (has(p, TransformType::Esn, esn)
            || (!s.esn && p.transforms_of(TransformType::Esn).next().is_none()))
}

/// Responder: the first of `ours` (our order of preference) that some proposal in `offer`
/// allows, with the proposal it came from (RFC 7296 §2.7).
pub fn choose_ike<'a>(ours: &[IkeSuite], offer: &'a Sa) -> Option<(IkeSuite, &'a Proposal)> {
    ours.iter().find_map(|s| offer.proposals.iter().find(|p| ike_matches(p, s)).map(|p| (*s, p)))
}

/// Responder: like [`choose_ike`], but when the chosen suite's group differs from `ke` (the
/// group of the initiator's KE payload) and the same suite with `ke` is also acceptable, take
/// that one and spare an INVALID_KE_PAYLOAD round trip (as strongSwan does).
pub fn choose_ike_for_ke<'a>(
    ours: &[IkeSuite],
    offer: &'a Sa,
    ke: KeGroup,
) -> Option<(IkeSuite, &'a Proposal)> {
    let (first, p) = choose_ike(ours, offer)?;
    if first.ke == ke {
        return Some((first, p));
    }
    let alt = IkeSuite { ke, ..first };
    if ours.contains(&alt) {
        if let Some(q) = offer.proposals.iter().find(|q| ike_matches(q, &alt)) {
            return Some((alt, q));
        }
    }
    Some((first, p))
}

/// Responder: the ESP suite chosen from `offer`, with the proposal. `pfs`: PFS groups count
/// (CREATE_CHILD_SA); otherwise they are ignored (IKE_AUTH, RFC 7296 §1.2).
pub fn choose_esp<'a>(ours: &[EspSuite], offer: &'a Sa, pfs: bool) -> Option<(EspSuite, &'a Proposal)> {
    let strip = |s: &EspSuite| if pfs { *s } else { s.without_ke() };
    ours.iter().map(strip).find_map(|s| {
        offer.proposals.iter().find(|p| peer_spi_ok(p) && esp_matches_pfs(p, &s, pfs)).map(|p| (s, p))
    })
}

/// RFC 4303 §2.1: the peer's ESP SPI must not be the reserved 0.
fn peer_spi_ok(p: &Proposal) -> bool {
    p.spi.len() == 4 && p.spi != [0, 0, 0, 0]
}

/// Responder of CREATE_CHILD_SA: like [`choose_esp`] with PFS, but when the chosen suite's group
/// differs from `ke` (the group of the initiator's KE payload) and the same suite with `ke` is
/// acceptable too, take that one (sparing an INVALID_KE_PAYLOAD round trip).
pub fn choose_esp_for_ke<'a>(
    ours: &[EspSuite],
    offer: &'a Sa,
    ke: Option<KeGroup>,
) -> Option<(EspSuite, &'a Proposal)> {
    let (first, p) = choose_esp(ours, offer, true)?;
    if first.ke == ke || first.ke.is_none() {
        return Some((first, p));
    }
    let alt = EspSuite { ke, ..first };
    if ours.contains(&alt) {
        if let Some(q) = offer.proposals.iter().find(|q| peer_spi_ok(q) && esp_matches(q, &alt)) {
            return Some((alt, q));
        }
    }
    Some((first, p))
}

/// The reply SA payload: the accepted proposal with exactly one transform of each type.
pub fn ike_reply(suite: &IkeSuite, number: u8) -> Sa {
    let mut t = alloc::vec![encr_transform(suite.encr, suite.encr_key_bits), Transform::prf(suite.prf)];
    if suite.integ != IntegAlg::None {
        t.push(Transform::integ(suite.integ));
    }
    t.push(Transform::ke(suite.ke));
    Sa { proposals: alloc::vec![Proposal::new(number, ProtocolId::Ike, t)] }
}

/// The reply ESP SA payload with our inbound `spi`.
pub fn esp_reply(suite: &EspSuite, number: u8, spi: u32) -> Sa {
    let mut t = alloc::vec![encr_transform(suite.encr, suite.encr_key_bits)];
    if suite.integ != IntegAlg::None {
        t.push(Transform::integ(suite.integ));
    }
    t.push(Transform::esn(if suite.esn { EsnMode::Yes } else { EsnMode::No }));
    if let Some(g) = suite.ke {
        t.push(Transform::ke(g));
    }
    let p = Proposal { spi: spi.to_be_bytes().to_vec(), ..Proposal::new(number, ProtocolId::Esp, t) };
    Sa { proposals: alloc::vec![p] }
}

fn single(p: &Proposal, ty: TransformType) -> Option<&Transform> {
    let mut it = p.transforms_of(ty);
    let t = it.next();
    if it.next().is_some() {
        None
    } else {
        t
    }
}

/// Initiator: the suite the responder chose, if it is one transform of each type from what we
/// offered (RFC 7296 §2.7: anything else is a protocol error).
pub fn accepted_ike(ours: &[IkeSuite], reply: &Sa) -> Option<IkeSuite> {
    let [p] = reply.proposals.as_slice() else { return None };
    let e = single(p, TransformType::Encr)?;
    let encr = EncrAlg::from(e.id);
    let bits = e.key_length().unwrap_or(if encr == EncrAlg::ChaCha20Poly1305 { 256 } else { 0 });
    let prf = PrfAlg::from(single(p, TransformType::Prf)?.id);
    let integ = match p.transforms_of(TransformType::Integ).count() {
        0 => IntegAlg::None,
        _ => IntegAlg::from(single(p, TransformType::Integ)?.id),
    };
    let ke = KeGroup::from(single(p, TransformType::Ke)?.id);
    let s = IkeSuite { encr, encr_key_bits: bits, prf, integ, ke };
    let offered = ike_sa(ours, &[]);
    let ok = offered.proposals.iter().any(|o| o.number == p.number && ike_matches(o, &s));
    ok.then_some(s)
}

/// Initiator: the ESP suite and the responder's inbound SPI, if the reply is valid for our offer
/// (`pfs`: the offer carried PFS groups, as in CREATE_CHILD_SA).
pub fn accepted_esp(ours: &[EspSuite], reply: &Sa, pfs: bool) -> Option<(EspSuite, u32)> {
    let [p] = reply.proposals.as_slice() else { return None };
    let e = single(p, TransformType::Encr)?;
    let encr = EncrAlg::from(e.id);
    let bits = e.key_length().unwrap_or(if encr == EncrAlg::ChaCha20Poly1305 { 256 } else { 0 });
    let integ = match p.transforms_of(TransformType::Integ).count() {
        0 => IntegAlg::None,
        _ => IntegAlg::from(single(p, TransformType::Integ)?.id),
    };
    let esn = match p.transforms_of(TransformType::Esn).count() {
        0 => false,
        _ => EsnMode::from(single(p, TransformType::Esn)?.id) == EsnMode::Yes,
    };
    let ke = match p.transforms_of(TransformType::Ke).count() {
        0 => None,
        _ => Some(KeGroup::from(single(p, TransformType::Ke)?.id)).filter(|g| *g != KeGroup::None),
    };
    let spi = u32::from_be_bytes(<[u8; 4]>::try_from(p.spi.as_slice()).ok()?);
    if spi == 0 {
        // RFC 4303 §2.1: SPI 0 is reserved; the peer cannot receive on it.
        return None;
    }
    let s = EspSuite { encr, encr_key_bits: bits, integ, esn, ke: if pfs { ke } else { None } };
    let offered = if pfs { esp_sa(ours, 0) } else { esp_sa_no_pfs(ours, 0) };
    let ok = offered.proposals.iter().any(|o| o.number == p.number && esp_matches(o, &s));
    ok.then_some((s, spi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_ike_suites;

    #[test]
    fn grouped_offer_and_choice() {
        let all = default_ike_suites();
        let sa = ike_sa(&all, &[]);
        assert_eq!(sa.proposals.len(), 2);
        // The responder prefers its own order.
        let mine = [all[47], all[0]];
        let (s, p) = choose_ike(&mine, &sa).unwrap();
        assert_eq!(s, all[47]);
        let reply = ike_reply(&s, p.number);
        assert_eq!(accepted_ike(&all, &reply), Some(s));
        assert_eq!(accepted_ike(&all[..1], &reply), None, "not offered");
        assert!(choose_ike(&mine, &ike_sa(&all[1..2], &[])).is_none());
        // The initiator's KE group wins when the same suite with it is acceptable.
        let (s, _) = choose_ike_for_ke(&all, &sa, KeGroup::Ecp384).unwrap();
        assert_eq!(s, IkeSuite { ke: KeGroup::Ecp384, ..all[0] });
        let (s, _) = choose_ike_for_ke(&all[..4], &sa, KeGroup::Ecp384).unwrap();
        assert_eq!(s, all[0], "not acceptable to us: INVALID_KE_PAYLOAD follows");

        let esp = [
            EspSuite::AES256GCM16,
            EspSuite::AES256_SHA256,
            EspSuite { esn: true, ..EspSuite::CHACHA20POLY1305 },
        ];
        let offer = esp_sa(&esp, 0x1234_5678);
        let (s, p) = choose_esp(&[esp[2], esp[1]], &offer, true).unwrap();
        assert_eq!((s, p.spi.as_slice()), (esp[2], &[0x12, 0x34, 0x56, 0x78][..]));
        assert_eq!(accepted_esp(&esp, &esp_reply(&s, p.number, 99), true), Some((esp[2], 99)));
        let (s, _) = choose_esp(&[esp[1]], &offer, true).unwrap();
        assert_eq!(s, EspSuite::AES256_SHA256);
        assert!(choose_esp(&[EspSuite::AES128GCM16], &offer, true).is_none());
    }

    #[test]
    fn esp_pfs_groups() {
        let x = EspSuite { ke: Some(KeGroup::Curve25519), ..EspSuite::AES256GCM16 };
        let e = EspSuite { ke: Some(KeGroup::Ecp256), ..EspSuite::AES256GCM16 };
        let offer = esp_sa(&[x, e], 7);
        // PFS counts in CREATE_CHILD_SA: our preference wins unless the KE payload's group fits.
        assert_eq!(choose_esp(&[e, x], &offer, true).unwrap().0, e);
        assert_eq!(choose_esp_for_ke(&[e, x], &offer, Some(KeGroup::Curve25519)).unwrap().0, x);
        assert_eq!(choose_esp_for_ke(&[e], &offer, Some(KeGroup::Curve25519)).unwrap().0, e);
        assert!(choose_esp(&[EspSuite::AES256GCM16], &offer, true).is_none(), "PFS required");
        let reply = esp_reply(&e, 1, 9);
        assert_eq!(accepted_esp(&[x, e], &reply, true), Some((e, 9)));
        // IKE_AUTH ignores PFS groups.
        let first = esp_sa_no_pfs(&[x, e], 7);
        assert_eq!(first.proposals[0].transforms_of(TransformType::Ke).count(), 0);
        let (s, p) = choose_esp(&[x], &first, false).unwrap();
        assert_eq!(s, EspSuite::AES256GCM16);
        assert_eq!(accepted_esp(&[x, e], &esp_reply(&s, p.number, 9), false), Some((s, 9)));
        // Mixed: NONE is offered too.
        let mixed = esp_sa(&[x, EspSuite::AES256GCM16], 7);
        assert_eq!(choose_esp(&[EspSuite::AES256GCM16], &mixed, true).unwrap().0, EspSuite::AES256GCM16);
    }
}
