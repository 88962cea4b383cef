//! The IKE_AUTH exchange (RFC 7296 §1.2) with PSK authentication (§2.15), INITIAL_CONTACT
//! (§2.4), and the first Child SA: ESP proposals, USE_TRANSPORT_MODE (§1.3.1) and traffic
//! selector narrowing (§2.9).

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;
use vpn_core::secret::SecretBytes;
use vpn_core::ts::{covered_by, narrow, TrafficSelector};

use super::child::{child_keys, NewChild};
use super::{Ctx, IkeSa, State};
use crate::auth::{psk_auth, verify_psk_auth, SignedOctets};
use crate::config::{EspSuite, Mode, PeerConfig};
use crate::event::{DownReason, Event};
use crate::message::{
    Auth, AuthMethod, Delete, ExchangeType, Header, Id, Notify, NotifyType, Payload, PayloadBody,
    TrafficSelectors,
};
use crate::proposal;

/// The payloads of an IKE_AUTH message we look at.
#[derive(Default)]
struct AuthPayloads<'a> {
    id: Option<&'a Id>,
    auth: Option<&'a Auth>,
    sa: Option<&'a crate::message::Sa>,
    tsi: Option<&'a TrafficSelectors>,
    tsr: Option<&'a TrafficSelectors>,
    transport: bool,
    initial_contact: bool,
    error: Option<NotifyType>,
}

fn parse(payloads: &[Payload], initiator_id: bool) -> AuthPayloads<'_> {
    let mut a = AuthPayloads::default();
    for p in payloads {
        match p {
            Payload::IdI(id) if initiator_id => a.id = Some(id),
            Payload::IdR(id) if !initiator_id => a.id = Some(id),
            Payload::Auth(x) => a.auth = Some(x),
            Payload::Sa(x) => a.sa = Some(x),
            Payload::TsI(x) => a.tsi = Some(x),
            Payload::TsR(x) => a.tsr = Some(x),
            Payload::Notify(n) if n.notify_type == NotifyType::UseTransportMode => a.transport = true,
            Payload::Notify(n) if n.notify_type == NotifyType::InitialContact => a.initial_contact = true,
            Payload::Notify(n) if n.notify_type.is_error() && a.error.is_none() => {
                a.error = Some(n.notify_type)
            }
            _ => {}
        }
    }
    a
}

pub(super) fn selectors(ts: Option<&TrafficSelectors>) -> Vec<TrafficSelector> {
    ts.map(|t| t.ip_selectors().copied().collect()).unwrap_or_default()
}

impl IkeSa {
    /// Our AUTH payload data over our IKE_SA_INIT message (RFC 7296 §2.15).
    fn our_auth(&self, id_body: &[u8]) -> Option<SecretBytes> {
        let (init, keys, peer) = (self.init.as_ref()?, self.keys.as_ref()?, self.peer.as_ref()?);
        let signed = if self.initiator {
            SignedOctets {
                real_message: &init.msg_i,
                peer_nonce: &init.nonce_r,
                sk_p: keys.sk_pi.expose(),
                id_body,
            }
        } else {
            SignedOctets {
                real_message: &init.msg_r,
                peer_nonce: &init.nonce_i,
                sk_p: keys.sk_pr.expose(),
                id_body,
            }
        };
        psk_auth(self.prf()?, peer.psk.expose(), &signed).ok()
    }

    /// Checks the peer's AUTH payload in constant time.
    fn peer_auth_ok(&self, id: &Id, auth: &Auth) -> bool {
        let (Some(init), Some(keys), Some(peer), Some(prf)) =
            (self.init.as_ref(), self.keys.as_ref(), self.peer.as_ref(), self.prf())
        else {
            return false;
        };
        if auth.method != AuthMethod::SharedKeyMic {
            return false;
        }
        let body = id.to_body_bytes();
        let signed = if self.initiator {
            SignedOctets {
                real_message: &init.msg_r,
                peer_nonce: &init.nonce_i,
                sk_p: keys.sk_pr.expose(),
                id_body: &body,
            }
        } else {
            SignedOctets {
                real_message: &init.msg_i,
                peer_nonce: &init.nonce_r,
                sk_p: keys.sk_pi.expose(),
                id_body: &body,
            }
        };
        verify_psk_auth(prf, peer.psk.expose(), &signed, &auth.data).unwrap_or(false)
    }

    /// Initiator: sends IKE_AUTH {IDi, [N(INITIAL_CONTACT)], AUTH, [N(USE_TRANSPORT_MODE)], SA, TSi, TSr}.
    pub(super) fn send_auth_request(&mut self, ctx: &mut Ctx<'_>) {
        let (Some(peer), Some(init)) = (self.peer.clone(), self.init.as_ref()) else { return };
        let id = Id::new(peer.local_id.clone());
        let Some(auth) = self.our_auth(&id.to_body_bytes()) else {
            return self.down(ctx, DownReason::Internal);
        };
        let mut p = vec![Payload::id_i(id)];
        if peer.initial_contact {
            p.push(Payload::from(Notify::status(NotifyType::InitialContact)));
        }
        if let Some(r) = &peer.remote_id {
            p.push(Payload::id_r(Id::new(r.clone())));
        }
        p.push(Payload::from(Auth::new(AuthMethod::SharedKeyMic, auth.expose().to_vec())));
        if peer.mode == Mode::Transport {
            p.push(Payload::from(Notify::status(NotifyType::UseTransportMode)));
        }
        p.push(Payload::from(proposal::esp_sa_no_pfs(&peer.esp_suites, init.child_spi)));
        p.push(Payload::ts_i(TrafficSelectors::new(peer.local_ts.iter().copied())));
        p.push(Payload::ts_r(TrafficSelectors::new(peer.remote_ts.iter().copied())));
        self.state = State::AuthSent;
        self.send_request(ctx, ExchangeType::IkeAuth, &p);
    }

    fn up_event(&mut self, ctx: &mut Ctx<'_>, remote_id: &Id) {
        self.remote_id = Some(remote_id.clone());
        self.timers.heard(ctx.now);
        self.set_ike_lifetime(ctx);
        if let Some(suite) = self.suite {
            let connection = self.peer.as_ref().map(|p| p.connection).unwrap_or_default();
            ctx.events.push_back(Event::IkeSaUp {
                handle: self.handle,
                connection,
                initiator: self.initiator,
                local_addr: self.local,
                remote_id: remote_id.identity.clone(),
                remote_addr: self.remote,
                suite,
                nat: self.nat,
            });
        }
    }

    /// The first Child SA, keyed from the IKE SA's SK_d and nonces (RFC 7296 §2.17).
    #[allow(clippy::too_many_arguments)]
    fn child_event(
        &mut self,
        ctx: &mut Ctx<'_>,
        suite: &EspSuite,
        spi_in: u32,
        spi_out: u32,
        mode: Mode,
        local_ts: Vec<TrafficSelector>,
        remote_ts: Vec<TrafficSelector>,
    ) -> bool {
        let (Some(init), Some(keys), Some(prf)) = (self.init.as_ref(), self.keys.as_ref(), self.prf()) else {
            return false;
        };
        let Some(k) = child_keys(prf, keys.sk_d.expose(), None, &init.nonce_i, &init.nonce_r, suite) else {
            return false;
        };
        let c = NewChild {
            suite: *suite,
            spi_in,
            spi_out,
            mode,
            local_ts,
            remote_ts,
            keys: k,
            rekey_of: None,
            we_initiated: self.initiator,
        };
        self.child_up(ctx, c);
        true
    }

    /// Responder: the IKE_AUTH request.
    pub(super) fn responder_on_auth(
        &mut self,
        ctx: &mut Ctx<'_>,
        remote: SocketAddr,
        h: &Header,
        payloads: Vec<Payload>,
    ) {
        let a = parse(&payloads, true);
        let mid = h.message_id;
        let fail = |sa: &mut IkeSa, ctx: &mut Ctx<'_>, n: NotifyType| {
            sa.send_response(ctx, ExchangeType::IkeAuth, mid, &[Payload::from(Notify::status(n))]);
            sa.down_lingering(ctx, DownReason::Rejected(n));
        };
        let (Some(id), Some(auth)) = (a.id, a.auth) else {
            return fail(self, ctx, NotifyType::InvalidSyntax);
        };
        // RFC 7296 §2.15: the peer's configuration comes from its identity.
        let Some(peer) = ctx.config.peers.by_id(&id.identity, self.local, remote) else {
            return fail(self, ctx, NotifyType::AuthenticationFailed);
        };
        if peer.remote_id.as_ref().is_some_and(|r| *r != id.identity) {
            return fail(self, ctx, NotifyType::AuthenticationFailed);
        }
        // The IKE suite was chosen in IKE_SA_INIT before the peer was known: the connection it
        // authenticates as must allow it too, or it could get a suite its own connection refuses.
        if !self.suite.is_some_and(|s| peer.ike_suites.contains(&s)) {
            return fail(self, ctx, NotifyType::AuthenticationFailed);
        }
        self.peer = Some(Arc::new(peer));
        if !self.peer_auth_ok(id, auth) {
            return fail(self, ctx, NotifyType::AuthenticationFailed);
        }
        let Some(peer) = self.peer.clone() else { return };
        let our_id = Id::new(peer.local_id.clone());
        let Some(our_auth) = self.our_auth(&our_id.to_body_bytes()) else {
            return self.down(ctx, DownReason::Internal);
        };
        let mut out = vec![
            Payload::id_r(our_id),
            Payload::from(Auth::new(AuthMethod::SharedKeyMic, our_auth.expose().to_vec())),
        ];
        // The first Child SA (RFC 7296 §1.2); its failure leaves the IKE SA up (§2.21.2).
        let child = self.choose_child(ctx, &peer, &a);
        match &child {
            Ok((suite, number, spi_in, _, mode, tsi, tsr)) => {
                if *mode == Mode::Transport {
                    out.push(Payload::from(Notify::status(NotifyType::UseTransportMode)));
                }
                out.push(Payload::from(proposal::esp_reply(suite, *number, *spi_in)));
                out.push(Payload::ts_i(TrafficSelectors::new(tsi.iter().copied())));
                out.push(Payload::ts_r(TrafficSelectors::new(tsr.iter().copied())));
            }
            Err(n) => out.push(Payload::from(Notify::status(*n))),
        }
        self.send_response(ctx, ExchangeType::IkeAuth, mid, &out);
        self.state = State::Established;
        self.timers.disarm_half_open();
        self.initial_contact = a.initial_contact;
        self.up_event(ctx, id);
        if let Ok((suite, _, spi_in, spi_out, mode, tsi, tsr)) = child {
            // TSi is the initiator's side: the peer's, from here.
            self.child_event(ctx, &suite, spi_in, spi_out, mode, tsr, tsi);
        }
        self.init = None;
    }

    #[allow(clippy::type_complexity)]
    fn choose_child(
        &self,
        ctx: &mut Ctx<'_>,
        peer: &PeerConfig,
        a: &AuthPayloads<'_>,
    ) -> Result<(EspSuite, u8, u32, u32, Mode, Vec<TrafficSelector>, Vec<TrafficSelector>), NotifyType> {
        let sa = a.sa.ok_or(NotifyType::NoProposalChosen)?;
        let (suite, p) =
            proposal::choose_esp(&peer.esp_suites, sa, false).ok_or(NotifyType::NoProposalChosen)?;
        let spi_out = <[u8; 4]>::try_from(p.spi.as_slice())
            .map(u32::from_be_bytes)
            .map_err(|_| NotifyType::InvalidSyntax)?;
        // RFC 7296 §2.9: narrow TSi to what we allow of the peer's side, TSr to ours.
        let tsi = narrow(&selectors(a.tsi), &peer.remote_ts);
        let tsr = narrow(&selectors(a.tsr), &peer.local_ts);
        if tsi.is_empty() || tsr.is_empty() {
            return Err(NotifyType::TsUnacceptable);
        }
        let spi_in = ctx.spis.esp().ok_or(NotifyType::NoAdditionalSas)?;
        let mode = if a.transport && peer.mode == Mode::Transport { Mode::Transport } else { Mode::Tunnel };
        Ok((suite, p.number, spi_in, spi_out, mode, tsi, tsr))
    }

    /// Initiator: the IKE_AUTH response.
    pub(super) fn initiator_on_auth_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        _remote: SocketAddr,
        payloads: Vec<Payload>,
    ) {
        let a = parse(&payloads, false);
        let (Some(id), Some(auth)) = (a.id, a.auth) else {
            let n = a.error.unwrap_or(NotifyType::InvalidSyntax);
            return self.down(ctx, DownReason::PeerError(n));
        };
        let Some(peer) = self.peer.clone() else { return };
        let id_ok = match &peer.remote_id {
            Some(r) => *r == id.identity,
            None => true,
        };
        if !id_ok || !self.peer_auth_ok(id, auth) {
            // RFC 7296 §2.21.2: tell the responder in a separate INFORMATIONAL exchange.
            let n = [Payload::from(Notify::status(NotifyType::AuthenticationFailed))];
            self.send_oneshot(ctx, ExchangeType::Informational, &n);
            return self.down(ctx, DownReason::Rejected(NotifyType::AuthenticationFailed));
        }
        self.state = State::Established;
        self.up_event(ctx, id);
        let child = self.accept_child(&peer, &a);
        match child {
            Ok((suite, spi_out, mode, tsi, tsr)) => {
                let spi_in = self.init.as_ref().map_or(0, |i| i.child_spi);
                self.child_event(ctx, &suite, spi_in, spi_out, mode, tsi, tsr);
                self.init = None;
            }
            Err(n) => {
                // No Child SA: delete the IKE SA rather than keep an idle one (as strongSwan does).
                self.init = None;
                self.state = State::Deleting(DownReason::ChildSaFailed(n));
                self.send_request(ctx, ExchangeType::Informational, &[Payload::from(Delete::ike())]);
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn accept_child(
        &self,
        peer: &PeerConfig,
        a: &AuthPayloads<'_>,
    ) -> Result<(EspSuite, u32, Mode, Vec<TrafficSelector>, Vec<TrafficSelector>), NotifyType> {
        if let Some(n) = a.error {
            return Err(n);
        }
        let sa = a.sa.ok_or(NotifyType::NoProposalChosen)?;
        let (suite, spi_out) =
            proposal::accepted_esp(&peer.esp_suites, sa, false).ok_or(NotifyType::NoProposalChosen)?;
        let (tsi, tsr) = (selectors(a.tsi), selectors(a.tsr));
        // RFC 7296 §2.9: the responder may only narrow what we proposed.
        let within = |got: &[TrafficSelector], ours: &[TrafficSelector]| {
            !got.is_empty() && got.iter().all(|t| covered_by(t, ours))
        };
        if !within(&tsi, &peer.local_ts) || !within(&tsr, &peer.remote_ts) {
            return Err(NotifyType::TsUnacceptable);
        }
        let mode = if a.transport && peer.mode == Mode::Transport { Mode::Transport } else { Mode::Tunnel };
        Ok((suite, spi_out, mode, tsi, tsr))
    }
}
