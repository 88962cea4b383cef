//! The CREATE_CHILD_SA exchange for Child SAs (RFC 7296 §1.3.1): additional Child SAs and their
//! rekeying (§1.3.3), with optional PFS (KE payloads, INVALID_KE_PAYLOAD), and the collision of
//! two rekeys of one Child SA (§2.8.1).

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use vpn_core::alg::KeGroup;
use vpn_core::crypto::kex::KeyExchange as Kex;
use vpn_core::time::Duration;
use vpn_core::ts::{covered_by, narrow, TrafficSelector};

use super::child::{child_keys, ChildRequest, ChildState, NewChild};
use super::ike_auth::selectors;
use super::ike_sa_init::random_nonce;
use super::tasks::{Exchange, Task};
use super::{Ctx, IkeSa};
use crate::config::Mode;
use crate::event::{ChildDownReason, DownReason};
use crate::message::{
    ExchangeType, Header, KeyExchange, Nonce, Notify, NotifyData, NotifyType, Payload, ProtocolId, Sa,
    TrafficSelectors,
};
use crate::proposal;

/// INVALID_KE_PAYLOAD retries of one request.
const MAX_KE_RETRIES: u8 = 2;

/// The payloads of a CREATE_CHILD_SA message we look at.
#[derive(Default)]
pub(super) struct ChildPayloads<'a> {
    pub(super) sa: Option<&'a Sa>,
    pub(super) nonce: Option<&'a [u8]>,
    pub(super) ke: Option<&'a KeyExchange>,
    tsi: Option<&'a TrafficSelectors>,
    tsr: Option<&'a TrafficSelectors>,
    /// The SPI of a REKEY_SA notify for ESP (the sender's inbound SPI).
    rekey: Option<u32>,
    transport: bool,
    pub(super) error: Option<(NotifyType, Option<KeGroup>)>,
}

pub(super) fn parse(payloads: &[Payload]) -> ChildPayloads<'_> {
    let mut c = ChildPayloads::default();
    for p in payloads {
        match p {
            Payload::Sa(x) => c.sa = Some(x),
            Payload::Nonce(n) => c.nonce = Some(n.data.as_slice()),
            Payload::Ke(k) => c.ke = Some(k),
            Payload::TsI(x) => c.tsi = Some(x),
            Payload::TsR(x) => c.tsr = Some(x),
            Payload::Notify(n) if n.notify_type == NotifyType::RekeySa && n.protocol == ProtocolId::Esp => {
                c.rekey = <[u8; 4]>::try_from(n.spi.as_slice()).ok().map(u32::from_be_bytes)
            }
            Payload::Notify(n) if n.notify_type == NotifyType::UseTransportMode => c.transport = true,
            Payload::Notify(n) if n.notify_type.is_error() && c.error.is_none() => {
                let g = match n.data {
                    NotifyData::InvalidKePayload(g) => Some(g),
                    _ => None,
                };
                c.error = Some((n.notify_type, g))
            }
            _ => {}
        }
    }
    c
}

fn lowest<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
    if a <= b {
        a
    } else {
        b
    }
}

impl IkeSa {
    /// Sends CREATE_CHILD_SA {[N(REKEY_SA)], [N(USE_TRANSPORT_MODE)], SA, Ni, [KEi], TSi, TSr}
    /// for a new Child SA or, with `rekey`, the successor of that one (RFC 7296 §1.3.1, §1.3.3).
    pub(super) fn request_child(&mut self, ctx: &mut Ctx<'_>, rekey: Option<u32>) {
        let Some(peer) = self.peer.clone() else { return };
        let (mode, local_ts, remote_ts) = match rekey {
            Some(old) => match self.child_by_in(old) {
                Some(c) if c.state == ChildState::Installed => {
                    c.state = ChildState::Rekeying;
                    (c.mode, c.local_ts.clone(), c.remote_ts.clone())
                }
                _ => return, // gone or busy meanwhile
            },
            None => (peer.mode, peer.local_ts.clone(), peer.remote_ts.clone()),
        };
        let group = peer.esp_suites.first().and_then(|s| s.ke);
        let kex = match group.map(|g| Kex::generate(g, &mut ctx.rng)) {
            Some(Ok(k)) => Some(k),
            Some(Err(_)) => return self.down(ctx, DownReason::Internal),
            None => None,
        };
        let (Some(spi_in), Some(nonce)) = (ctx.spis.esp(), random_nonce(ctx)) else {
            return self.down(ctx, DownReason::Internal);
        };
        let req = ChildRequest {
            spi_in,
            rekey,
            nonce,
            kex,
            suites: peer.esp_suites.clone(),
            mode,
            local_ts,
            remote_ts,
            retries: 0,
            collision: None,
        };
        self.send_child_request(ctx, req);
    }

    fn send_child_request(&mut self, ctx: &mut Ctx<'_>, req: ChildRequest) {
        let mut p = Vec::with_capacity(7);
        if let Some(old) = req.rekey {
            p.push(Payload::from(Notify::rekey_sa(ProtocolId::Esp, old.to_be_bytes().to_vec())));
        }
        if req.mode == Mode::Transport {
            p.push(Payload::from(Notify::status(NotifyType::UseTransportMode)));
        }
        p.push(Payload::from(proposal::esp_sa(&req.suites, req.spi_in)));
        p.push(Payload::from(Nonce::new(req.nonce.clone())));
        if let Some(k) = &req.kex {
            p.push(Payload::from(KeyExchange::new(k.group(), k.public_value().to_vec())));
        }
        p.push(Payload::ts_i(TrafficSelectors::new(req.local_ts.iter().copied())));
        p.push(Payload::ts_r(TrafficSelectors::new(req.remote_ts.iter().copied())));
        self.send_request(ctx, ExchangeType::CreateChildSa, &p);
        self.tasks.started(Exchange::CreateChild(Box::new(req)));
    }

    /// A CREATE_CHILD_SA request: an IKE SA rekey when its SA payload is for IKE, else a Child SA.
    pub(super) fn on_create_child_request(&mut self, ctx: &mut Ctx<'_>, h: &Header, payloads: &[Payload]) {
        let c = parse(payloads);
        let ike = c.sa.and_then(|s| s.proposals.first()).is_some_and(|p| p.protocol == ProtocolId::Ike);
        let reply = if ike { self.answer_ike_rekey(ctx, &c) } else { self.answer_child(ctx, &c) };
        let out = reply.unwrap_or_else(|(n, g)| {
            let data = g.map_or(NotifyData::None, NotifyData::InvalidKePayload);
            vec![Payload::from(Notify::new(n, data))]
        });
        self.send_response(ctx, ExchangeType::CreateChildSa, h.message_id, &out);
    }

    /// Responder: a new or rekeyed Child SA; the reply payloads or an error notify.
    fn answer_child(
        &mut self,
        ctx: &mut Ctx<'_>,
        c: &ChildPayloads<'_>,
    ) -> Result<Vec<Payload>, (NotifyType, Option<KeGroup>)> {
        let err = |n: NotifyType| (n, None);
        let (Some(sa), Some(ni), Some(peer)) = (c.sa, c.nonce, self.peer.clone()) else {
            return Err(err(NotifyType::InvalidSyntax));
        };
        // A cap on what an authenticated peer can make us hold (replaced SAs included).
        if self.children.is_full() {
            return Err(err(NotifyType::NoAdditionalSas));
        }
        // RFC 7296 §1.3.3: the REKEY_SA SPI is the peer's inbound SPI, our outbound.
        let old = match c.rekey {
            Some(spi) => match self.children.by_out(spi) {
                Some(x) if matches!(x.state, ChildState::Installed | ChildState::Rekeying) => Some(x.clone()),
                // RFC 7296 §2.25: being deleted or replaced already.
                Some(_) => return Err(err(NotifyType::TemporaryFailure)),
                None => return Err(err(NotifyType::ChildSaNotFound)),
            },
            None => None,
        };
        let (suite, prop) = proposal::choose_esp_for_ke(&peer.esp_suites, sa, c.ke.map(|k| k.group))
            .ok_or(err(NotifyType::NoProposalChosen))?;
        let number = prop.number;
        let spi_out = <[u8; 4]>::try_from(prop.spi.as_slice())
            .map(u32::from_be_bytes)
            .map_err(|_| err(NotifyType::InvalidSyntax))?;
        // RFC 7296 §1.3: a KE payload of the chosen group, or INVALID_KE_PAYLOAD naming it.
        let (kex, gir) = match suite.ke {
            Some(g) => {
                let Some(ke) = c.ke.filter(|k| k.group == g) else {
                    return Err((NotifyType::InvalidKePayload, Some(g)));
                };
                let kex = Kex::generate(g, &mut ctx.rng).map_err(|_| err(NotifyType::NoAdditionalSas))?;
                let gir = kex.shared_secret(&ke.data).map_err(|_| err(NotifyType::InvalidSyntax))?;
                (Some(kex), Some(gir))
            }
            None => (None, None),
        };
        // RFC 7296 §2.9: narrow TSi to what we allow of the peer's side, TSr to ours.
        let tsi = narrow(&selectors(c.tsi), &peer.remote_ts);
        let tsr = narrow(&selectors(c.tsr), &peer.local_ts);
        if tsi.is_empty() || tsr.is_empty() {
            return Err(err(NotifyType::TsUnacceptable));
        }
        let mode = match &old {
            Some(o) => o.mode,
            None if c.transport && peer.mode == Mode::Transport => Mode::Transport,
            None => Mode::Tunnel,
        };
        let (Some(spi_in), Some(nr), Some(prf), Some(keys)) =
            (ctx.spis.esp(), random_nonce(ctx), self.prf(), self.keys.as_ref())
        else {
            return Err(err(NotifyType::NoAdditionalSas));
        };
        let gir_bytes = gir.as_ref().map(|g| g.expose());
        let k = child_keys(prf, keys.sk_d.expose(), gir_bytes, ni, &nr, &suite)
            .ok_or(err(NotifyType::NoAdditionalSas))?;
        let mut out = Vec::with_capacity(6);
        if mode == Mode::Transport {
            out.push(Payload::from(Notify::status(NotifyType::UseTransportMode)));
        }
        out.push(Payload::from(proposal::esp_reply(&suite, number, spi_in)));
        out.push(Payload::from(Nonce::new(nr.clone())));
        if let Some(k) = &kex {
            out.push(Payload::from(KeyExchange::new(k.group(), k.public_value().to_vec())));
        }
        out.push(Payload::ts_i(TrafficSelectors::new(tsi.iter().copied())));
        out.push(Payload::ts_r(TrafficSelectors::new(tsr.iter().copied())));
        let rekey_of = old.as_ref().map(|o| o.spi_in);
        let new = NewChild {
            suite,
            spi_in,
            spi_out,
            mode,
            local_ts: tsr,
            remote_ts: tsi,
            keys: k,
            rekey_of,
            we_initiated: false,
        };
        self.child_up(ctx, new);
        if let Some(o) = old {
            if o.state == ChildState::Rekeying {
                // RFC 7296 §2.8.1: our rekey of the same SA is in flight; decide when it ends.
                if let Some(req) = self.tasks.child_request_mut() {
                    req.collision = Some((spi_in, lowest(ni, &nr).to_vec()));
                }
            }
            // The peer deletes the old SA; we send on the new one when it does.
            self.replaced(ctx, o.spi_in, spi_in, false);
        }
        Ok(out)
    }

    /// Initiator: the CREATE_CHILD_SA response for a Child SA.
    pub(super) fn on_create_child_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        mut req: ChildRequest,
        p: &[Payload],
    ) {
        let c = parse(p);
        if let Some((n, g)) = c.error {
            return self.child_failed(ctx, req, n, g);
        }
        match self.accept_child_reply(&req, &c) {
            Ok(new) => {
                let spi_in = new.spi_in;
                let nonce_min = c.nonce.map(|nr| lowest(&req.nonce, nr).to_vec()).unwrap_or_default();
                self.child_up(ctx, new);
                let Some(old) = req.rekey else { return };
                match req.collision.take() {
                    // RFC 7296 §2.8.1: the SA created with the lowest nonce is redundant; whoever
                    // initiated its exchange deletes it.
                    Some((theirs, their_min)) if nonce_min < their_min => {
                        if let Some(x) = self.child_by_in(spi_in) {
                            x.state = ChildState::Deleting { redundant: true };
                        }
                        self.replaced(ctx, old, theirs, false);
                        self.tasks.queue_front(Task::DeleteChildren(vec![spi_in]));
                    }
                    Some((theirs, _)) => {
                        // Ours wins: the peer deletes its SA (theirs); we delete the old one.
                        if let Some(x) = self.child_by_in(theirs) {
                            x.state = ChildState::Rekeyed { new: spi_in, switched: true };
                        }
                        self.replaced(ctx, old, spi_in, true);
                        self.tasks.queue_front(Task::DeleteChildren(vec![old]));
                    }
                    None => {
                        self.replaced(ctx, old, spi_in, true);
                        self.tasks.queue_front(Task::DeleteChildren(vec![old]));
                    }
                }
            }
            Err(n) => {
                // A reply we cannot accept: we install nothing (the peer's half is not deleted
                // explicitly; it goes with its lifetime or the IKE SA).
                self.child_failed(ctx, req, n, None)
            }
        }
    }

    fn accept_child_reply(
        &mut self,
        req: &ChildRequest,
        c: &ChildPayloads<'_>,
    ) -> Result<NewChild, NotifyType> {
        let (Some(sa), Some(nr)) = (c.sa, c.nonce) else { return Err(NotifyType::InvalidSyntax) };
        let (suite, spi_out) =
            proposal::accepted_esp(&req.suites, sa, true).ok_or(NotifyType::NoProposalChosen)?;
        let gir = match (suite.ke, &req.kex, c.ke) {
            (None, _, _) => None,
            (Some(g), Some(kex), Some(ke)) if kex.group() == g && ke.group == g => {
                Some(kex.shared_secret(&ke.data).map_err(|_| NotifyType::InvalidSyntax)?)
            }
            _ => return Err(NotifyType::InvalidSyntax),
        };
        let (tsi, tsr) = (selectors(c.tsi), selectors(c.tsr));
        // RFC 7296 §2.9: the responder may only narrow what we proposed.
        let within = |got: &[TrafficSelector], ours: &[TrafficSelector]| {
            !got.is_empty() && got.iter().all(|t| covered_by(t, ours))
        };
        if !within(&tsi, &req.local_ts) || !within(&tsr, &req.remote_ts) {
            return Err(NotifyType::TsUnacceptable);
        }
        let (Some(prf), Some(keys)) = (self.prf(), self.keys.as_ref()) else {
            return Err(NotifyType::NoAdditionalSas);
        };
        let gir_bytes = gir.as_ref().map(|g| g.expose());
        let k = child_keys(prf, keys.sk_d.expose(), gir_bytes, &req.nonce, nr, &suite)
            .ok_or(NotifyType::NoAdditionalSas)?;
        Ok(NewChild {
            suite,
            spi_in: req.spi_in,
            spi_out,
            mode: req.mode,
            local_ts: tsi,
            remote_ts: tsr,
            keys: k,
            rekey_of: req.rekey,
            we_initiated: true,
        })
    }

    /// Our Child SA request failed with `n`: retry with another group, later, or give up.
    fn child_failed(&mut self, ctx: &mut Ctx<'_>, mut req: ChildRequest, n: NotifyType, g: Option<KeGroup>) {
        // RFC 7296 §1.3: retry with the group the responder asked for, if we offered it.
        if let (NotifyType::InvalidKePayload, Some(g)) = (n, g) {
            let offered = req.suites.iter().any(|s| s.ke == Some(g));
            if offered && req.retries < MAX_KE_RETRIES && req.kex.as_ref().map(|k| k.group()) != Some(g) {
                if let Ok(k) = Kex::generate(g, &mut ctx.rng) {
                    req.kex = Some(k);
                    req.retries += 1;
                    req.collision = None;
                    return self.send_child_request(ctx, req);
                }
            }
        }
        let Some(old) = req.rekey else { return };
        if n == NotifyType::ChildSaNotFound {
            // RFC 7296 §2.25: the peer has no such SA; ours is of no use.
            return self.child_down(ctx, old, ChildDownReason::NotFound);
        }
        // TEMPORARY_FAILURE (a collision, RFC 7296 §2.25) or a refusal: try again a little later,
        // unless the peer rekeyed or deletes it meanwhile.
        let wait = Duration::from_secs(2 + ctx.rng.next_u64() % 8);
        let now = ctx.now;
        if let Some(x) = self.child_by_in(old) {
            if x.state == ChildState::Rekeying {
                x.state = ChildState::Installed;
                x.rekey_at = (now + wait).min(x.expire_at);
            }
        }
        if let Some((theirs, _)) = req.collision {
            // Only the peer's rekey happened: its successor takes over when the peer deletes the old SA.
            self.replaced(ctx, old, theirs, false);
        }
    }
}
