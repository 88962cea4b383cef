//! The IKE_SA_INIT exchange (RFC 7296 §1.2): proposals, key exchange, nonces, INVALID_KE_PAYLOAD,
//! COOKIE (§2.6), NAT detection (§2.23) and the announcements of RFC 7383 and RFC 7427.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;
use vpn_core::alg::KeGroup;
use vpn_core::crypto::kex::KeyExchange as Kex;

use super::{Ctx, IkeSa, InitData, Path, SaKeys, State};
use crate::config::{PeerConfig, PortKind};
use crate::event::{DownReason, IkeSaHandle, NatState};
use crate::keys::sk::SkCrypto;
use crate::keys::{IkeKeys, IkeSuite};
use crate::message::{
    ExchangeType, Header, HeaderFlags, KeyExchange, Message, Nonce, Notify, NotifyData, NotifyType, Payload,
};
use crate::nat::{nat_hash, CookieJar};
use crate::proposal;

/// RFC 7427 §4 hash algorithms we announce: SHA2-256, SHA2-384, SHA2-512.
const HASH_ALGS: [u16; 3] = [2, 3, 4];
/// Cookie and INVALID_KE retries before giving up.
const MAX_INIT_RETRIES: u8 = 4;

pub(super) fn random_nonce(ctx: &mut Ctx<'_>) -> Option<Vec<u8>> {
    let mut n = vec![0u8; ctx.config.nonce_len.clamp(Nonce::MIN_LEN, Nonce::MAX_LEN)];
    ctx.rng.try_fill_bytes(&mut n).ok()?;
    Some(n)
}

fn notify(ty: NotifyType, data: NotifyData) -> Payload {
    Payload::from(Notify::new(ty, data))
}

/// The NAT_DETECTION_*, IKEV2_FRAGMENTATION_SUPPORTED and SIGNATURE_HASH_ALGORITHMS notifies.
/// `fake_source`: a random NAT_DETECTION_SOURCE_IP hash that makes the peer see a NAT (to force
/// UDP encapsulation, RFC 7296 §2.23).
fn common_notifies(
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
    fake_source: Option<[u8; 20]>,
) -> [Payload; 4] {
    let source = fake_source.unwrap_or_else(|| nat_hash(spi_i, spi_r, local));
    [
        notify(NotifyType::NatDetectionSourceIp, NotifyData::NatDetection(source)),
        notify(
            NotifyType::NatDetectionDestinationIp,
            NotifyData::NatDetection(nat_hash(spi_i, spi_r, remote)),
        ),
        Payload::from(Notify::status(NotifyType::Ikev2FragmentationSupported)),
        notify(NotifyType::SignatureHashAlgorithms, NotifyData::SignatureHashAlgorithms(HASH_ALGS.to_vec())),
    ]
}

/// A random NAT_DETECTION_SOURCE_IP hash when the endpoint forces UDP encapsulation.
fn fake_nat_source(ctx: &mut Ctx<'_>) -> Option<[u8; 20]> {
    if !ctx.config.force_udp_encap {
        return None;
    }
    let mut h = [0u8; 20];
    ctx.rng.try_fill_bytes(&mut h).ok()?;
    Some(h)
}

/// NAT detection from the peer's notifies (RFC 7296 §2.23): `None` when it sent none.
fn detect_nat(
    msg: &Message,
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
) -> Option<NatState> {
    let hashes = |ty| {
        msg.notifies().filter(move |n| n.notify_type == ty).filter_map(|n| match n.data {
            NotifyData::NatDetection(h) => Some(h),
            _ => None,
        })
    };
    let src = nat_hash(spi_i, spi_r, remote);
    let dst = nat_hash(spi_i, spi_r, local);
    let mut sources = hashes(NotifyType::NatDetectionSourceIp).peekable();
    sources.peek()?;
    let remote_behind_nat = !sources.any(|h| h == src);
    let local_behind_nat = !hashes(NotifyType::NatDetectionDestinationIp).any(|h| h == dst);
    Some(NatState { local_behind_nat, remote_behind_nat })
}

fn find_ke(msg: &Message) -> Option<&KeyExchange> {
    msg.payloads.iter().find_map(|p| match p {
        Payload::Ke(k) => Some(&k.body),
        _ => None,
    })
}

fn find_nonce(msg: &Message) -> Option<&[u8]> {
    msg.payloads.iter().find_map(|p| match p {
        Payload::Nonce(n) => Some(n.data.as_slice()),
        _ => None,
    })
}

fn find_sa(msg: &Message) -> Option<&crate::message::Sa> {
    msg.payloads.iter().find_map(|p| match p {
        Payload::Sa(s) => Some(&s.body),
        _ => None,
    })
}

/// Derives the IKE SA keys and the SK ciphers.
fn install_keys(
    ctx: &Ctx<'_>,
    sa: &mut IkeSa,
    suite: IkeSuite,
    gir: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> Option<()> {
    #[cfg(feature = "fuzzing")]
    let keys = if ctx.config.fuzzing_fixed_keys {
        IkeKeys::fixed_for_fuzzing(&suite).ok()?
    } else {
        IkeKeys::from_shared_secret(&suite, gir, ni, nr, sa.spi_i, sa.spi_r).ok()?
    };
    #[cfg(not(feature = "fuzzing"))]
    let keys = {
        let _ = ctx;
        IkeKeys::from_shared_secret(&suite, gir, ni, nr, sa.spi_i, sa.spi_r).ok()?
    };
    sa.sk = Some(SkCrypto::new(&suite, &keys, sa.initiator).ok()?);
    let exported = ctx
        .config
        .export_keys
        .then(|| Box::new([keys.sk_ei.clone(), keys.sk_er.clone(), keys.sk_ai.clone(), keys.sk_ar.clone()]));
    sa.keys = Some(SaKeys {
        sk_d: keys.sk_d.clone(),
        sk_pi: keys.sk_pi.clone(),
        sk_pr: keys.sk_pr.clone(),
        exported,
    });
    sa.suite = Some(suite);
    Some(())
}

impl IkeSa {
    /// A new initiator SA that has sent its IKE_SA_INIT request.
    pub(crate) fn connect(ctx: &mut Ctx<'_>, spi_i: u64, peer: Arc<PeerConfig>, path: Path) -> Option<IkeSa> {
        let (local, remote) = (path.local, path.remote);
        let group = peer.ike_suites.first()?.ke;
        let kex = Kex::generate(group, &mut ctx.rng).ok()?;
        let nonce_i = random_nonce(ctx)?;
        let child_spi = ctx.spis.esp()?;
        let mut sa = IkeSa::blank(IkeSaHandle(spi_i), true, local, remote);
        sa.spi_i = spi_i;
        sa.peer = Some(peer);
        // A host that sends from its NAT-T socket frames with the non-ESP marker from the start.
        if path.port == PortKind::NatT {
            sa.move_to_natt();
        }
        let init = InitData {
            kex,
            nonce_i,
            nonce_r: Vec::new(),
            msg_i: Vec::new(),
            msg_r: Vec::new(),
            cookie: None,
            retries: 0,
            child_spi,
            fake_nat_source: fake_nat_source(ctx),
        };
        sa.init = Some(Box::new(init));
        let msg = sa.init_request()?;
        sa.send_request(ctx, ExchangeType::IkeSaInit, &msg.payloads);
        sa.remember_request(msg);
        Some(sa)
    }

    fn init_request(&self) -> Option<Message> {
        let (init, peer) = (self.init.as_ref()?, self.peer.as_ref()?);
        let mut payloads = Vec::with_capacity(8);
        if let Some(c) = &init.cookie {
            // RFC 7296 §2.6: the COOKIE notify comes first.
            payloads.push(Payload::from(Notify::cookie(c.clone())));
        }
        payloads.push(Payload::from(proposal::ike_sa(&peer.ike_suites, &[])));
        payloads.push(Payload::from(KeyExchange::new(init.kex.group(), init.kex.public_value().to_vec())));
        payloads.push(Payload::from(Nonce::new(init.nonce_i.clone())));
        payloads.extend(common_notifies(self.spi_i, 0, self.local, self.remote, init.fake_nat_source));
        let header = Header::new(ExchangeType::IkeSaInit, self.spi_i, 0, 0, HeaderFlags::INITIATOR);
        Some(Message { header, payloads })
    }

    fn remember_request(&mut self, msg: Message) {
        if let Some(init) = self.init.as_mut() {
            init.msg_i = msg.encode();
        }
    }

    /// Sends the IKE_SA_INIT request again after a COOKIE or INVALID_KE_PAYLOAD reply.
    fn retry_init(&mut self, ctx: &mut Ctx<'_>) {
        let Some(msg) = self.init_request() else { return self.down(ctx, DownReason::Internal) };
        let bytes = msg.encode();
        self.remember_request(msg);
        self.resend_request_as(ctx, bytes);
    }

    /// Initiator: the IKE_SA_INIT response.
    pub(super) fn initiator_on_init_response(&mut self, ctx: &mut Ctx<'_>, datagram: &[u8]) {
        let Ok(msg) = Message::decode(datagram, &ctx.config.limits) else { return };
        let Some(init) = self.init.as_mut() else { return };
        // RFC 7296 §2.6: retry with the cookie.
        if let Some(NotifyData::Cookie(c)) = msg.find_notify(NotifyType::Cookie).map(|n| &n.data) {
            if init.cookie.as_ref() == Some(c) {
                return; // a duplicate of the reply we already followed
            }
            if init.retries < MAX_INIT_RETRIES {
                init.retries += 1;
                init.cookie = Some(c.clone());
                return self.retry_init(ctx);
            }
            return self.down(ctx, DownReason::PeerError(NotifyType::Cookie));
        }
        // RFC 7296 §1.2: retry with the group the responder wants, if we offered it.
        if let Some(n) = msg.find_notify(NotifyType::InvalidKePayload) {
            let offered =
                |g: KeGroup| self.peer.as_ref().is_some_and(|p| p.ike_suites.iter().any(|s| s.ke == g));
            if let NotifyData::InvalidKePayload(g) = n.data {
                if g == init.kex.group() {
                    return; // a duplicate of the reply we already followed
                }
                if offered(g) && init.retries < MAX_INIT_RETRIES {
                    match Kex::generate(g, &mut ctx.rng) {
                        Ok(k) => {
                            init.kex = k;
                            init.retries += 1;
                            return self.retry_init(ctx);
                        }
                        Err(_) => return self.down(ctx, DownReason::Internal),
                    }
                }
            }
            return self.down(ctx, DownReason::PeerError(NotifyType::InvalidKePayload));
        }
        if let Some(n) = msg.notifies().find(|n| n.notify_type.is_error()) {
            return self.down(ctx, DownReason::PeerError(n.notify_type));
        }
        let spi_r = msg.header.spi_r;
        let peer = self.peer.clone();
        let suite =
            peer.as_ref().zip(find_sa(&msg)).and_then(|(p, sa)| proposal::accepted_ike(&p.ike_suites, sa));
        let (Some(suite), Some(ke), Some(nr)) = (suite, find_ke(&msg), find_nonce(&msg)) else {
            return self.down(ctx, DownReason::Rejected(NotifyType::NoProposalChosen));
        };
        let Some(init) = self.init.as_mut() else { return };
        if spi_r == 0 || ke.group != suite.ke || ke.group != init.kex.group() {
            return self.down(ctx, DownReason::Rejected(NotifyType::InvalidSyntax));
        }
        let Ok(gir) = init.kex.shared_secret(&ke.data) else {
            return self.down(ctx, DownReason::Rejected(NotifyType::InvalidSyntax));
        };
        init.nonce_r = nr.to_vec();
        init.msg_r = datagram.to_vec();
        let ni = init.nonce_i.clone();
        let init_fake = init.fake_nat_source.is_some();
        self.spi_r = spi_r;
        if install_keys(ctx, self, suite, gir.expose(), &ni, nr).is_none() {
            return self.down(ctx, DownReason::Internal);
        }
        self.peer_fragmentation = msg.find_notify(NotifyType::Ikev2FragmentationSupported).is_some();
        if let Some(mut nat) = detect_nat(&msg, self.spi_i, spi_r, self.local, self.remote) {
            // Forcing encapsulation, we act as if we were behind a NAT ourselves.
            nat.local_behind_nat |= init_fake;
            self.nat = nat;
            if nat.local_behind_nat || nat.remote_behind_nat {
                self.move_to_natt();
            }
        }
        self.window.take_outstanding();
        self.send_auth_request(ctx);
    }
}

/// What the endpoint does with an IKE_SA_INIT request.
pub(crate) enum InitReply {
    /// A new half-open SA (its response is sent and cached).
    Created(Box<IkeSa>),
    /// A stateless reply was sent (COOKIE, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN, an error).
    Stateless,
    /// Dropped.
    Dropped,
}

fn stateless(ctx: &mut Ctx<'_>, req: &Header, path: Path, n: Notify) -> InitReply {
    // RFC 7296 §2.6, §1.2: the responder SPI is zero in these replies.
    let header = Header::new(ExchangeType::IkeSaInit, req.spi_i, 0, 0, HeaderFlags::RESPONSE);
    let bytes = Message { header, payloads: vec![Payload::from(n)] }.encode();
    ctx.out.push_back(super::Outgoing { local: path.local, remote: path.remote, port: path.port, bytes });
    InitReply::Stateless
}

/// Responder: an IKE_SA_INIT request for a new SA with our SPI `spi_r`; `cookies` is set when
/// a cookie is required (RFC 7296 §2.6).
pub(crate) fn respond_init(
    ctx: &mut Ctx<'_>,
    datagram: &[u8],
    path: Path,
    spi_r: u64,
    cookies: Option<&CookieJar>,
) -> InitReply {
    let (local, remote) = (path.local, path.remote);
    let msg = match Message::decode(datagram, &ctx.config.limits) {
        Ok(m) => m,
        Err(e) => match crate::message::Header::peek(datagram) {
            Ok((h, _)) => return stateless(ctx, &h, path, e.notify_payload()),
            Err(_) => return InitReply::Dropped,
        },
    };
    let h = msg.header;
    // RFC 7296 §3.1: SPIi MUST NOT be zero; a request carries no SPIr and message id 0.
    if h.message_id != 0 || h.spi_r != 0 || h.spi_i == 0 || !h.flags.initiator() {
        return InitReply::Dropped;
    }
    let (Some(offer), Some(ke), Some(ni)) = (find_sa(&msg), find_ke(&msg), find_nonce(&msg)) else {
        return stateless(ctx, &h, path, Notify::status(NotifyType::InvalidSyntax));
    };
    // RFC 7296 §3.3.1: in the initial IKE SA negotiation the proposals carry no SPI.
    if offer.proposals.iter().any(|p| !p.spi.is_empty()) {
        return stateless(ctx, &h, path, Notify::status(NotifyType::InvalidSyntax));
    }
    if let Some(jar) = cookies {
        // RFC 7296 §2.6: the COOKIE notify must come first.
        let got =
            msg.payloads.first().and_then(Payload::as_notify).filter(|n| n.notify_type == NotifyType::Cookie);
        let ok =
            matches!(got.map(|n| &n.data), Some(NotifyData::Cookie(c)) if jar.check(c, ni, remote, h.spi_i));
        if !ok {
            let fresh = jar.make(ni, remote, h.spi_i).to_vec();
            return stateless(ctx, &h, path, Notify::cookie(fresh));
        }
    }
    // RFC 7296 §2.15: the peer's identity (and so its connection) is known only in IKE_AUTH,
    // where the suite is checked against it; here any connection it may be counts.
    let candidates = ctx.config.peers.ike_suites(local, remote);
    let ours = candidates.as_ref().unwrap_or(&ctx.config.responder_ike_suites);
    let Some((suite, p)) = proposal::choose_ike_for_ke(ours, offer, ke.group) else {
        return stateless(ctx, &h, path, Notify::status(NotifyType::NoProposalChosen));
    };
    let number = p.number;
    if ke.group != suite.ke {
        let n = Notify::new(NotifyType::InvalidKePayload, NotifyData::InvalidKePayload(suite.ke));
        return stateless(ctx, &h, path, n);
    }
    let Ok(kex) = Kex::generate(suite.ke, &mut ctx.rng) else { return InitReply::Dropped };
    let Ok(gir) = kex.shared_secret(&ke.data) else {
        return stateless(ctx, &h, path, Notify::status(NotifyType::InvalidSyntax));
    };
    let Some(nr) = random_nonce(ctx) else { return InitReply::Dropped };
    let mut sa = IkeSa::blank(IkeSaHandle(spi_r), false, local, remote);
    sa.spi_i = h.spi_i;
    sa.spi_r = spi_r;
    if install_keys(ctx, &mut sa, suite, gir.expose(), ni, &nr).is_none() {
        return InitReply::Dropped;
    }
    sa.peer_fragmentation = msg.find_notify(NotifyType::Ikev2FragmentationSupported).is_some();
    let nat = detect_nat(&msg, h.spi_i, 0, local, remote);
    let mut payloads = vec![
        Payload::from(proposal::ike_reply(&suite, number)),
        Payload::from(KeyExchange::new(suite.ke, kex.public_value().to_vec())),
        Payload::from(Nonce::new(nr.clone())),
    ];
    let with_nat = nat.is_some();
    let fake = fake_nat_source(ctx);
    payloads.extend(common_notifies(h.spi_i, spi_r, local, remote, fake).into_iter().filter(|p| {
        with_nat
            || !matches!(
                p.as_notify().map(|n| n.notify_type),
                Some(NotifyType::NatDetectionSourceIp | NotifyType::NatDetectionDestinationIp)
            )
    }));
    let header = Header::new(ExchangeType::IkeSaInit, h.spi_i, spi_r, 0, HeaderFlags::RESPONSE);
    let bytes = Message { header, payloads }.encode();
    // A request that came to the NAT-T socket is answered there, after the non-ESP marker.
    sa.natt = path.port == PortKind::NatT;
    ctx.out.push_back(super::Outgoing { local, remote, port: path.port, bytes: bytes.clone() });
    let init = InitData {
        kex,
        nonce_i: ni.to_vec(),
        nonce_r: nr,
        msg_i: datagram.to_vec(),
        msg_r: bytes.clone(),
        cookie: None,
        retries: 0,
        child_spi: 0,
        fake_nat_source: fake,
    };
    sa.init = Some(Box::new(init));
    sa.cache_init_response(bytes);
    sa.state = State::InitReplied;
    sa.timers.arm_half_open(ctx.now + ctx.config.half_open_timeout);
    // RFC 7296 §2.23: the responder moves to 4500 when the initiator does (its IKE_AUTH arrives there).
    if let Some(mut nat) = nat {
        nat.local_behind_nat |= fake.is_some();
        sa.nat = nat;
    }
    InitReply::Created(Box::new(sa))
}
