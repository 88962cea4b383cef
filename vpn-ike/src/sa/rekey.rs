//! Rekeying the IKE SA with CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18): new SPIs, SKEYSEED from
//! the old SK_d, the Child SAs move to the new IKE SA, the old one is deleted; and the collision
//! of two IKE rekeys (§2.8.2).

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use vpn_core::alg::KeGroup;
use vpn_core::crypto::kex::KeyExchange as Kex;
use vpn_core::time::Duration;

use super::child::jittered;
use super::create_child_sa::{parse, ChildPayloads};
use super::ike_sa_init::random_nonce;
use super::tasks::Exchange;
use super::{Ctx, IkeSa, SaKeys, State};
use crate::event::{DownReason, Event, IkeSaHandle};
use crate::keys::sk::SkCrypto;
use crate::keys::{rekey_skeyseed, IkeKeys, IkeSuite};
use crate::message::{ExchangeType, KeyExchange, Nonce, NotifyType, Payload, ProtocolId, Sa};
use crate::proposal;

/// INVALID_KE_PAYLOAD retries of one IKE rekey.
const MAX_KE_RETRIES: u8 = 2;

/// Our IKE SA rekey request in flight.
pub(crate) struct IkeRekeyRequest {
    /// Our SPI of the new IKE SA (its SPIi).
    spi: u64,
    nonce: Vec<u8>,
    kex: Kex,
    retries: u8,
    /// The peer rekeyed the IKE SA meanwhile (RFC 7296 §2.8.2): the new IKE SA that made
    /// (not yet handed to the endpoint) and the lowest nonce of that exchange.
    pub(super) collision: Option<(Box<IkeSa>, Vec<u8>)>,
}

fn the_spi(sa: &Sa) -> Option<u64> {
    let p = sa.proposals.first()?;
    <[u8; 8]>::try_from(p.spi.as_slice()).ok().map(u64::from_be_bytes)
}

impl IkeSa {
    /// Sends CREATE_CHILD_SA {SA, Ni, KEi} for a new IKE SA (RFC 7296 §1.3.2).
    pub(super) fn request_ike_rekey(&mut self, ctx: &mut Ctx<'_>) {
        let Some(group) = self.suite.map(|s| s.ke) else { return };
        let (Some(spi), Some(nonce)) = (ctx.spis.ike(), random_nonce(ctx)) else {
            return self.down(ctx, DownReason::Internal);
        };
        let Ok(kex) = Kex::generate(group, &mut ctx.rng) else { return self.down(ctx, DownReason::Internal) };
        self.send_ike_rekey(ctx, IkeRekeyRequest { spi, nonce, kex, retries: 0, collision: None });
    }

    fn send_ike_rekey(&mut self, ctx: &mut Ctx<'_>, req: IkeRekeyRequest) {
        let Some(peer) = self.peer.clone() else { return };
        // Our current suite first, then the configured ones.
        let mut suites: Vec<IkeSuite> = self.suite.into_iter().collect();
        suites.extend(peer.ike_suites.iter().filter(|s| Some(**s) != self.suite));
        let p = [
            Payload::from(proposal::ike_sa(&suites, &req.spi.to_be_bytes())),
            Payload::from(Nonce::new(req.nonce.clone())),
            Payload::from(KeyExchange::new(req.kex.group(), req.kex.public_value().to_vec())),
        ];
        self.send_request(ctx, ExchangeType::CreateChildSa, &p);
        self.tasks.started(Exchange::RekeyIke(Box::new(req)));
    }

    /// The new IKE SA from a rekey: keys from the old SK_d (RFC 7296 §2.18), our role and SPIs.
    #[allow(clippy::too_many_arguments)]
    fn successor(
        &self,
        ctx: &mut Ctx<'_>,
        suite: IkeSuite,
        gir: &[u8],
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
        initiator: bool,
    ) -> Option<IkeSa> {
        let (prf, keys) = (self.prf()?, self.keys.as_ref()?);
        let seed = rekey_skeyseed(prf, keys.sk_d.expose(), gir, ni, nr).ok()?;
        #[cfg(feature = "fuzzing")]
        let k = if ctx.config.fuzzing_fixed_keys {
            // The fuzz target can then reach the new IKE SA too.
            IkeKeys::fixed_for_fuzzing(&suite).ok()?
        } else {
            IkeKeys::derive(&suite, seed.expose(), ni, nr, spi_i, spi_r).ok()?
        };
        #[cfg(not(feature = "fuzzing"))]
        let k = IkeKeys::derive(&suite, seed.expose(), ni, nr, spi_i, spi_r).ok()?;
        let ours = if initiator { spi_i } else { spi_r };
        let mut sa = IkeSa::blank(IkeSaHandle(ours), initiator, self.local, self.remote);
        sa.spi_i = spi_i;
        sa.spi_r = spi_r;
        sa.natt = self.natt;
        sa.nat = self.nat;
        sa.state = State::Established;
        sa.peer = self.peer.clone();
        sa.sk = Some(SkCrypto::new(&suite, &k, initiator).ok()?);
        let exported = ctx
            .config
            .export_keys
            .then(|| Box::new([k.sk_ei.clone(), k.sk_er.clone(), k.sk_ai.clone(), k.sk_ar.clone()]));
        sa.keys =
            Some(SaKeys { sk_d: k.sk_d.clone(), sk_pi: k.sk_pi.clone(), sk_pr: k.sk_pr.clone(), exported });
        sa.suite = Some(suite);
        sa.peer_fragmentation = self.peer_fragmentation;
        sa.remote_id = self.remote_id.clone();
        sa.timers.heard(ctx.now);
        sa.set_ike_lifetime(ctx);
        Some(sa)
    }

    /// Arms the IKE SA's rekey (soft lifetime with jitter) and delete (hard lifetime) timers.
    pub(crate) fn set_ike_lifetime(&mut self, ctx: &mut Ctx<'_>) {
        let Some(l) = self.peer.as_ref().map(|p| p.ike_lifetimes) else { return };
        let rekey_at = ctx.now + jittered(ctx, l.soft);
        self.timers.set_lifetime(rekey_at, ctx.now + l.hard);
    }

    /// Hands the Child SAs to `new`, tells the host, and leaves this SA to the Delete exchange.
    pub(super) fn hand_over(&mut self, ctx: &mut Ctx<'_>, mut new: IkeSa) {
        new.children = core::mem::take(&mut self.children);
        // Queued Child SA work (a Delete after a Child SA rekey, say) continues there.
        new.tasks.inherit(&mut self.tasks);
        ctx.events.push_back(Event::IkeSaRekeyed { old: self.handle, new: new.handle });
        self.state = State::Rekeyed;
        // Kept until the peer deletes it, or as long as that may take.
        self.timers.keep_until(ctx.now + ctx.config.retransmit.total());
        ctx.spawned.push(new);
    }

    /// Responder: the peer rekeys the IKE SA; the reply payloads or an error notify.
    pub(super) fn answer_ike_rekey(
        &mut self,
        ctx: &mut Ctx<'_>,
        c: &ChildPayloads<'_>,
    ) -> Result<Vec<Payload>, (NotifyType, Option<KeGroup>)> {
        let err = |n: NotifyType| (n, None);
        // RFC 7296 §2.25: not while one of our Child SA exchanges is in flight.
        if self.tasks.child_exchange_in_flight() {
            return Err(err(NotifyType::TemporaryFailure));
        }
        let (Some(sa), Some(ni), Some(ke), Some(peer)) = (c.sa, c.nonce, c.ke, self.peer.clone()) else {
            return Err(err(NotifyType::InvalidSyntax));
        };
        // The suite in use is acceptable too (it may have come from the endpoint's defaults).
        let mut ours: Vec<IkeSuite> = peer.ike_suites.clone();
        ours.extend(self.suite.filter(|s| !peer.ike_suites.contains(s)));
        let (suite, p) =
            proposal::choose_ike_for_ke(&ours, sa, ke.group).ok_or(err(NotifyType::NoProposalChosen))?;
        if ke.group != suite.ke {
            return Err((NotifyType::InvalidKePayload, Some(suite.ke)));
        }
        let number = p.number;
        let spi_i = the_spi(sa).filter(|s| *s != 0).ok_or(err(NotifyType::InvalidSyntax))?;
        let kex = Kex::generate(suite.ke, &mut ctx.rng).map_err(|_| err(NotifyType::NoAdditionalSas))?;
        let gir = kex.shared_secret(&ke.data).map_err(|_| err(NotifyType::InvalidSyntax))?;
        let (Some(spi_r), Some(nr)) = (ctx.spis.ike(), random_nonce(ctx)) else {
            return Err(err(NotifyType::NoAdditionalSas));
        };
        let new = self
            .successor(ctx, suite, gir.expose(), ni, &nr, spi_i, spi_r, false)
            .ok_or(err(NotifyType::NoAdditionalSas))?;
        let mut reply = proposal::ike_reply(&suite, number);
        if let Some(p) = reply.proposals.first_mut() {
            p.spi = spi_r.to_be_bytes().to_vec();
        }
        let out = vec![
            Payload::from(reply),
            Payload::from(Nonce::new(nr.clone())),
            Payload::from(KeyExchange::new(suite.ke, kex.public_value().to_vec())),
        ];
        let lowest = if ni <= nr.as_slice() { ni.to_vec() } else { nr };
        match self.tasks.ike_rekey_mut() {
            // RFC 7296 §2.8.2: our own rekey is in flight; its response decides.
            Some(req) => req.collision = Some((Box::new(new), lowest)),
            None => self.hand_over(ctx, new),
        }
        Ok(out)
    }

    /// Initiator: the response to our IKE SA rekey.
    pub(super) fn on_ike_rekey_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        mut req: IkeRekeyRequest,
        p: &[Payload],
    ) {
        let c = parse(p);
        let new = match self.accept_ike_rekey(ctx, &req, &c) {
            Ok(n) => n,
            Err((n, g)) => {
                if let (NotifyType::InvalidKePayload, Some(g)) = (n, g) {
                    let offered = self.peer.as_ref().is_some_and(|p| p.ike_suites.iter().any(|s| s.ke == g));
                    if offered && req.retries < MAX_KE_RETRIES && req.kex.group() != g {
                        if let Ok(k) = Kex::generate(g, &mut ctx.rng) {
                            req.kex = k;
                            req.retries += 1;
                            return self.send_ike_rekey(ctx, req);
                        }
                    }
                }
                if let Some((theirs, _)) = req.collision {
                    // Only the peer's rekey happened (it refused ours): follow it.
                    return self.hand_over(ctx, *theirs);
                }
                // Refused (TEMPORARY_FAILURE after a collision, RFC 7296 §2.25): try later.
                let wait = Duration::from_secs(2 + ctx.rng.next_u64() % 8);
                self.timers.retry_rekey_at(ctx.now + wait);
                return;
            }
        };
        let (ours, nonce_min) = new;
        match req.collision {
            // RFC 7296 §2.8.2: the new IKE SA made with the lowest nonce is redundant; its
            // initiator deletes it, and the winner's initiator deletes the old one.
            Some((theirs, their_min)) if nonce_min < their_min => {
                let mut ours = ours;
                ours.state = State::Rekeyed;
                ours.timers.keep_until(ctx.now + ctx.config.retransmit.total());
                ours.send_delete_ike(ctx);
                ctx.spawned.push(ours);
                self.hand_over(ctx, *theirs);
            }
            Some((mut theirs, _)) => {
                // The peer deletes its redundant SA; keep it quiet until then.
                theirs.state = State::Rekeyed;
                theirs.timers.keep_until(ctx.now + ctx.config.retransmit.total());
                ctx.spawned.push(*theirs);
                self.hand_over(ctx, ours);
                self.send_delete_ike(ctx);
            }
            None => {
                self.hand_over(ctx, ours);
                self.send_delete_ike(ctx);
            }
        }
    }

    /// The new IKE SA from the response, and the lowest nonce of the exchange.
    fn accept_ike_rekey(
        &mut self,
        ctx: &mut Ctx<'_>,
        req: &IkeRekeyRequest,
        c: &ChildPayloads<'_>,
    ) -> Result<(IkeSa, Vec<u8>), (NotifyType, Option<KeGroup>)> {
        if let Some(e) = c.error {
            return Err(e);
        }
        let err = |n: NotifyType| (n, None);
        let (Some(sa), Some(nr), Some(ke), Some(peer)) = (c.sa, c.nonce, c.ke, self.peer.clone()) else {
            return Err(err(NotifyType::InvalidSyntax));
        };
        let mut suites: Vec<IkeSuite> = self.suite.into_iter().collect();
        suites.extend(peer.ike_suites.iter().copied());
        let suite = proposal::accepted_ike(&suites, sa).ok_or(err(NotifyType::NoProposalChosen))?;
        let ok_protocol = sa.proposals.first().is_some_and(|p| p.protocol == ProtocolId::Ike);
        let spi_r = the_spi(sa).filter(|s| *s != 0 && ok_protocol).ok_or(err(NotifyType::InvalidSyntax))?;
        if ke.group != suite.ke || ke.group != req.kex.group() {
            return Err(err(NotifyType::InvalidSyntax));
        }
        let gir = req.kex.shared_secret(&ke.data).map_err(|_| err(NotifyType::InvalidSyntax))?;
        let new = self
            .successor(ctx, suite, gir.expose(), &req.nonce, nr, req.spi, spi_r, true)
            .ok_or(err(NotifyType::NoAdditionalSas))?;
        let lowest = if req.nonce.as_slice() <= nr { req.nonce.clone() } else { nr.to_vec() };
        Ok((new, lowest))
    }
}
