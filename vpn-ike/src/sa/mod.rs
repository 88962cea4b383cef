//! One IKE SA's state machine: message IDs, retransmission, the response cache, protection of
//! messages, and the exchanges (one file each).

mod child;
mod create_child_sa;
mod ike_auth;
mod ike_sa_init;
mod informational;
mod rekey;
mod tasks;
mod timers;
mod window;

pub(crate) use ike_sa_init::{respond_init, InitReply};
pub(crate) use tasks::Task;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;
use rand_core::CryptoRngCore;
use vpn_core::crypto::kex::KeyExchange as Kex;
use vpn_core::secret::SecretBytes;
use vpn_core::time::Instant;

use crate::config::{EndpointConfig, PeerConfig, PortKind};
use crate::event::{DownReason, Event, IkeSaHandle, NatState};
use crate::keys::frag::{fragment, FragError, Reassembly};
use crate::keys::sk::{SkCrypto, SkError};
use crate::keys::IkeSuite;
use crate::message::{
    encode_payload_chain, ExchangeType, Header, HeaderFlags, Message, Notify, NotifyType, Payload,
    PayloadType, HEADER_LEN,
};

/// A datagram waiting for `poll_transmit`.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) port: PortKind,
    pub(crate) bytes: Vec<u8>,
}

/// What an SA needs from its endpoint while it handles an input.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) rng: &'a mut dyn CryptoRngCore,
    pub(crate) config: &'a EndpointConfig,
    pub(crate) out: &'a mut VecDeque<Outgoing>,
    pub(crate) events: &'a mut VecDeque<Event>,
    pub(crate) spis: &'a mut crate::spi::SpiGenerator,
    /// IKE SAs born from a rekey, for the endpoint to take over.
    pub(crate) spawned: &'a mut Vec<IkeSa>,
}

/// Where an IKE SA is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Initiator: IKE_SA_INIT request sent.
    InitSent,
    /// Initiator: IKE_AUTH request sent.
    AuthSent,
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH (half-open).
    InitReplied,
    /// Authenticated.
    Established,
    /// A Delete or error INFORMATIONAL is out; the SA ends when it is answered.
    Deleting(DownReason),
    /// Ended (the host was told) but kept until `linger_until` to answer retransmissions of
    /// the request that ended it from the response cache.
    Lingering,
    /// Replaced by a rekeyed IKE SA (RFC 7296 §2.18): it only finishes the Delete exchange.
    Rekeyed,
    /// Ended; the endpoint removes it.
    Dead,
}

/// IKE_SA_INIT material kept until IKE_AUTH completes.
pub(crate) struct InitData {
    pub(crate) kex: Kex,
    pub(crate) nonce_i: Vec<u8>,
    pub(crate) nonce_r: Vec<u8>,
    /// The initiator's IKE_SA_INIT request as last sent (RealMessage1).
    pub(crate) msg_i: Vec<u8>,
    /// The responder's IKE_SA_INIT response (RealMessage2).
    pub(crate) msg_r: Vec<u8>,
    pub(crate) cookie: Option<Vec<u8>>,
    pub(crate) retries: u8,
    /// The initiator's inbound Child SA SPI proposed in IKE_AUTH.
    pub(crate) child_spi: u32,
    /// A random NAT_DETECTION_SOURCE_IP hash, when UDP encapsulation is forced.
    pub(crate) fake_nat_source: Option<[u8; 20]>,
}

/// Keys kept after the SK payload ciphers are set up.
pub(crate) struct SaKeys {
    pub(crate) sk_d: SecretBytes,
    pub(crate) sk_pi: SecretBytes,
    pub(crate) sk_pr: SecretBytes,
    /// SK_ei, SK_er, SK_ai, SK_ar, kept only when the host asked to export them.
    pub(crate) exported: Option<Box<[SecretBytes; 4]>>,
}

/// One IKE SA.
pub(crate) struct IkeSa {
    pub(crate) handle: IkeSaHandle,
    initiator: bool,
    pub(crate) spi_i: u64,
    pub(crate) spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
    /// Moved to port 4500 with the non-ESP marker (RFC 7296 §2.23).
    natt: bool,
    nat: NatState,
    state: State,
    peer: Option<Arc<PeerConfig>>,
    pub(crate) suite: Option<IkeSuite>,
    pub(crate) keys: Option<SaKeys>,
    sk: Option<SkCrypto>,
    init: Option<Box<InitData>>,
    /// Message IDs, our request in flight and our cached response.
    window: window::Window,
    reassembly: Reassembly,
    peer_fragmentation: bool,
    /// The endpoint's index key (initiator address, SPIi) of a responder SA.
    pub(crate) init_key: Option<(SocketAddr, u64)>,
    /// The endpoint's INITIAL_CONTACT index key once authenticated.
    pub(crate) id_key: Option<crate::endpoint::IdKey>,
    /// The peer's authenticated identity.
    remote_id: Option<crate::message::Id>,
    /// The peer sent INITIAL_CONTACT (RFC 7296 §2.4).
    pub(crate) initial_contact: bool,
    /// Our Child SAs.
    children: child::ChildTable,
    /// Requests waiting for the window, and what the one in flight is about.
    tasks: tasks::TaskQueue,
    /// Lifetimes, liveness, the half-open limit and lingering.
    timers: timers::Timers,
}

/// Where a datagram came from and arrived at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Path {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    /// How the transport framed it (the non-ESP marker on the NAT-T socket).
    pub(crate) port: PortKind,
}

impl core::fmt::Debug for IkeSa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IkeSa")
            .field("handle", &self.handle)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

use vpn_core::ipsec::{IKE_PORT, NAT_T_PORT};

impl IkeSa {
    pub(crate) fn blank(
        handle: IkeSaHandle,
        initiator: bool,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> IkeSa {
        IkeSa {
            handle,
            initiator,
            spi_i: 0,
            spi_r: 0,
            local,
            remote,
            natt: false,
            nat: NatState::default(),
            state: if initiator { State::InitSent } else { State::InitReplied },
            peer: None,
            suite: None,
            keys: None,
            sk: None,
            init: None,
            window: window::Window::default(),
            reassembly: Reassembly::default(),
            peer_fragmentation: false,
            init_key: None,
            id_key: None,
            remote_id: None,
            initial_contact: false,
            children: child::ChildTable::default(),
            tasks: tasks::TaskQueue::default(),
            timers: timers::Timers::default(),
        }
    }

    /// The next instant this SA wants `handle_timeout`.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        if self.state == State::Lingering {
            return self.timers.linger_until();
        }
        let r = self.window.next_timeout();
        let life = match self.state {
            State::Established => self.lifetime_timeout(),
            State::Rekeyed => self.timers.expire_at(),
            _ => None,
        };
        [r, self.timers.half_open_deadline(), life].into_iter().flatten().min()
    }

    /// The peer's identity once the SA is authenticated.
    pub(crate) fn authenticated_id(&self) -> Option<&crate::message::Id> {
        match self.state {
            State::Established | State::Deleting(_) => self.remote_id.as_ref(),
            _ => None,
        }
    }

    /// What INITIAL_CONTACT from this SA's peer may clear (RFC 7296 §2.4): the SAs of the same
    /// connection between the same two identities, never another connection's.
    pub(crate) fn initial_contact_scope(&self) -> Option<crate::endpoint::IdKey> {
        use crate::message::PayloadBody;
        let id = self.authenticated_id()?;
        let peer = self.peer.as_ref()?;
        let ours = crate::message::Id::new(peer.local_id.clone()).to_body_bytes();
        Some((peer.connection, ours, id.to_body_bytes()))
    }

    /// The host's snapshot of this SA.
    pub(crate) fn info(&self) -> crate::info::IkeSaInfo {
        use crate::info::IkeSaState as S;
        let state = match self.state {
            State::InitSent | State::AuthSent | State::InitReplied => S::Connecting,
            State::Established if self.rekeying_ike() => S::Rekeying,
            State::Established => S::Established,
            State::Rekeyed => S::Rekeyed,
            State::Deleting(_) | State::Lingering | State::Dead => S::Deleting,
        };
        crate::info::IkeSaInfo {
            handle: self.handle,
            connection: self.peer.as_ref().map(|p| p.connection),
            state,
            initiator: self.initiator,
            local: self.local,
            remote: self.remote,
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            suite: self.suite,
            local_id: self.peer.as_ref().map(|p| p.local_id.clone()),
            remote_id: self.remote_id.as_ref().map(|i| i.identity.clone()),
            rekey_at: self.timers.rekey_at(),
            expire_at: self.timers.expire_at(),
            children: self.child_snapshots(),
        }
    }

    /// The host saw authentic ESP of this SA from `remote` (RFC 7296 §2.23: a NAT in front of
    /// the peer gave it a new mapping). Followed only when the peer is behind a NAT.
    pub(crate) fn peer_moved(&mut self, ctx: &mut Ctx<'_>, remote: SocketAddr) -> bool {
        if self.state != State::Established
            || !self.natt
            || !self.nat.remote_behind_nat
            || remote == self.remote
        {
            return false;
        }
        self.remote = remote;
        ctx.events.push_back(Event::PathChanged { handle: self.handle, local: self.local, remote });
        true
    }

    /// The host saw authentic inbound ESP at `now`; false when that is not news.
    pub(crate) fn heard_traffic(&mut self, now: Instant) -> bool {
        self.timers.heard_traffic(now)
    }

    pub(crate) fn is_established(&self) -> bool {
        self.state == State::Established
    }

    pub(crate) fn is_half_open(&self) -> bool {
        self.state == State::InitReplied
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.state == State::Dead
    }

    /// Ends the SA and tells the host.
    pub(crate) fn down(&mut self, ctx: &mut Ctx<'_>, reason: DownReason) {
        if !matches!(self.state, State::Dead | State::Lingering | State::Rekeyed) {
            ctx.events.push_back(Event::IkeSaDown { handle: self.handle, reason });
        }
        self.state = State::Dead;
        self.window.take_outstanding();
        self.init = None;
        self.children.clear();
        self.tasks.clear();
    }

    /// Ends the SA after answering a request with an error: the host is told now, and the SA
    /// stays (as long as a peer with our retransmission settings would retry) only to repeat
    /// that answer to retransmissions, so the
    /// peer learns why even if the first answer is lost (RFC 7296 §2.21.2).
    pub(crate) fn down_lingering(&mut self, ctx: &mut Ctx<'_>, reason: DownReason) {
        self.down(ctx, reason);
        self.state = State::Lingering;
        self.shed_keys();
        self.timers.linger(ctx.now + ctx.config.retransmit.total());
    }

    /// Key material nobody needs once the SA only repeats a cached answer.
    fn shed_keys(&mut self) {
        self.keys = None;
        self.sk = None;
        self.peer = None;
        self.reassembly.clear();
    }

    /// The framing of this SA's messages.
    pub(crate) fn port(&self) -> PortKind {
        if self.natt {
            PortKind::NatT
        } else {
            PortKind::Ike
        }
    }

    fn emit(&self, ctx: &mut Ctx<'_>, bytes: Vec<u8>) {
        ctx.out.push_back(Outgoing { local: self.local, remote: self.remote, port: self.port(), bytes });
    }

    /// Moves both ends to port 4500 (RFC 7296 §2.23, RFC 3948). A host listening on one other
    /// port for everything keeps it.
    pub(crate) fn move_to_natt(&mut self) {
        self.natt = true;
        if self.local.port() == IKE_PORT {
            self.local.set_port(NAT_T_PORT);
        }
        if self.remote.port() == IKE_PORT {
            self.remote.set_port(NAT_T_PORT);
        }
    }

    fn header(&self, exchange: ExchangeType, message_id: u32, response: bool) -> Header {
        let mut flags = if self.initiator { HeaderFlags::INITIATOR } else { HeaderFlags(0) };
        if response {
            flags = flags | HeaderFlags::RESPONSE;
        }
        Header::new(exchange, self.spi_i, self.spi_r, message_id, flags)
    }

    /// Encodes a message, protected with SK (and split into SKF fragments when it is too big
    /// and the peer supports RFC 7383) once keys exist.
    fn build(&mut self, ctx: &mut Ctx<'_>, header: &Header, payloads: &[Payload]) -> Option<Vec<Vec<u8>>> {
        let Some(sk) = self.sk.as_mut() else {
            return Some(alloc::vec![Message { header: *header, payloads: payloads.to_vec() }.encode()]);
        };
        let budget = ctx.config.fragmentation.message_budget(self.natt);
        let mut chain = Vec::new();
        encode_payload_chain(payloads, &mut chain);
        let chain = vpn_core::secret::SecretVec::new(chain);
        let whole = chain.len() + sk.overhead(chain.len(), 0);
        // RFC 7383 §2.5.1: fragment only messages that would exceed the budget, and never
        // IKE_SA_INIT.
        if self.peer_fragmentation && whole > budget && header.exchange_type != ExchangeType::IkeSaInit {
            let max = ctx.config.fragmentation.max_fragments;
            return fragment(sk, header, payloads, budget, max, ctx.rng).ok();
        }
        sk.protect(header, payloads, ctx.rng).ok().map(|m| alloc::vec![m])
    }

    /// Sends a new request and arms retransmission.
    pub(crate) fn send_request(&mut self, ctx: &mut Ctx<'_>, exchange: ExchangeType, payloads: &[Payload]) {
        let header = self.header(exchange, self.window.next_request_id(), false);
        let Some(datagrams) = self.build(ctx, &header, payloads) else {
            return self.down(ctx, DownReason::Internal);
        };
        for d in &datagrams {
            self.emit(ctx, d.clone());
        }
        let next_at = ctx.now + ctx.config.retransmit.timeout_after(0);
        self.window.sent_request(exchange, datagrams, next_at);
    }

    /// Replaces the outstanding request's bytes (a changed IKE_SA_INIT retry) and sends them.
    pub(crate) fn resend_request_as(&mut self, ctx: &mut Ctx<'_>, datagram: Vec<u8>) {
        self.emit(ctx, datagram.clone());
        let next_at = ctx.now + ctx.config.retransmit.timeout_after(0);
        self.window.replace_request(datagram, next_at);
    }

    /// Sends a one-shot request that is not retransmitted (an error notification after which
    /// the SA ends, RFC 7296 §2.21.2).
    pub(crate) fn send_oneshot(&mut self, ctx: &mut Ctx<'_>, exchange: ExchangeType, payloads: &[Payload]) {
        let header = self.header(exchange, self.window.next_request_id(), false);
        if let Some(datagrams) = self.build(ctx, &header, payloads) {
            self.window.sent_oneshot();
            for d in datagrams {
                self.emit(ctx, d);
            }
        }
    }

    /// Sends (and caches) the response to request `message_id`.
    pub(crate) fn send_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        exchange: ExchangeType,
        message_id: u32,
        payloads: &[Payload],
    ) {
        let header = self.header(exchange, message_id, true);
        let Some(datagrams) = self.build(ctx, &header, payloads) else { return };
        for d in &datagrams {
            self.emit(ctx, d.clone());
        }
        self.window.cache_response(message_id, datagrams);
    }

    /// Stores an IKE_SA_INIT response sent by the endpoint for retransmission.
    pub(crate) fn cache_init_response(&mut self, datagram: Vec<u8>) {
        self.window.cache_response(0, alloc::vec![datagram]);
    }

    /// Runs the timers due at `ctx.now`: half-open expiry, request retransmission (RFC 7296
    /// §2.1), lifetimes and liveness checks; then starts queued requests.
    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        self.retransmit_timeout(ctx);
        match self.state {
            State::Established => self.run_lifetimes(ctx),
            // A rekeyed SA the peer never deleted.
            State::Rekeyed if self.timers.is_expired(ctx.now) => self.state = State::Dead,
            _ => {}
        }
        self.drive(ctx);
    }

    fn retransmit_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if self.state == State::Lingering {
            if self.timers.linger_over(ctx.now) {
                self.state = State::Dead;
            }
            return;
        }
        if self.timers.take_half_open_due(ctx.now) && self.state == State::InitReplied {
            return self.down(ctx, DownReason::HalfOpenTimeout);
        }
        match self.window.due(ctx.now, &ctx.config.retransmit) {
            None => {}
            Some(window::Retransmit::GiveUp) => {
                let reason = match self.state {
                    State::Deleting(r) => r,
                    _ => DownReason::Timeout,
                };
                self.down(ctx, reason);
            }
            Some(window::Retransmit::Resend(datagrams)) => {
                for d in datagrams {
                    self.emit(ctx, d);
                }
            }
        }
    }

    /// Handles a datagram addressed to this SA (`header` already peeked).
    pub(crate) fn handle(&mut self, ctx: &mut Ctx<'_>, path: Path, header: &Header, datagram: &[u8]) {
        let remote = path.remote;
        // RFC 7296 §3.1: the I flag is set by the original initiator only, and both SPIs name
        // this SA (SPIr is still zero in IKE_SA_INIT: unknown to an initiator waiting for the
        // response, absent from a retransmitted request).
        let spi_r_ok = header.spi_r == self.spi_r
            || matches!(self.state, State::InitSent)
            || (header.spi_r == 0 && header.exchange_type == ExchangeType::IkeSaInit);
        if header.flags.initiator() == self.initiator || header.spi_i != self.spi_i || !spi_r_ok {
            return;
        }
        if header.flags.response() {
            if !self.window.response_matches(header.message_id, header.exchange_type) {
                return; // not the response we wait for (RFC 7296 §2.3)
            }
            match (self.state, header.exchange_type) {
                (State::InitSent, ExchangeType::IkeSaInit) => self.initiator_on_init_response(ctx, datagram),
                (State::AuthSent, ExchangeType::IkeAuth) => {
                    if let Some(p) = self.open(ctx, header, datagram) {
                        self.window.take_outstanding();
                        self.initiator_on_auth_response(ctx, remote, p);
                    }
                }
                (State::Established | State::Deleting(_) | State::Rekeyed, _) => {
                    if let Some(p) = self.open(ctx, header, datagram) {
                        self.window.take_outstanding();
                        self.timers.heard(ctx.now);
                        match self.tasks.take_in_flight() {
                            Some(x) => {
                                self.on_response(ctx, x, &p);
                                // A close that waited for the window.
                                if matches!(self.state, State::Deleting(_)) && !self.window.in_flight() {
                                    self.send_delete_ike(ctx);
                                }
                            }
                            None => self.on_informational_response(ctx, header, &p),
                        }
                        self.drive(ctx);
                    }
                }
                _ => {}
            }
            return;
        }
        // A retransmitted request gets the cached response (RFC 7296 §2.1); for fragmented
        // requests only fragment 1 triggers it (RFC 7383 §2.6.1).
        if let Some(datagrams) = self.window.retransmitted(header.message_id) {
            if is_first_fragment_or_whole(datagram) {
                let ds = datagrams.to_vec();
                for d in ds {
                    self.emit(ctx, d);
                }
            }
            return;
        }
        if !self.window.is_expected(header.message_id) || self.sk.is_none() {
            return;
        }
        let Some(payloads) = self.open(ctx, header, datagram) else { return };
        // RFC 7296 §2.23: follow the peer to port 4500 (and a NAT's new mapping) once authentic.
        if path.port == PortKind::NatT && (!self.natt || self.remote != path.remote) {
            let moved = self.natt && self.state == State::Established;
            self.natt = true;
            self.local = path.local;
            self.remote = path.remote;
            if moved {
                ctx.events.push_back(Event::PathChanged {
                    handle: self.handle,
                    local: self.local,
                    remote: self.remote,
                });
            }
        }
        self.timers.heard(ctx.now);
        match (self.state, header.exchange_type) {
            (State::InitReplied, ExchangeType::IkeAuth) => {
                self.responder_on_auth(ctx, remote, header, payloads)
            }
            (State::Established | State::Deleting(_) | State::Rekeyed, ExchangeType::Informational) => {
                self.on_informational_request(ctx, header, &payloads)
            }
            (State::Established, ExchangeType::CreateChildSa) => {
                self.on_create_child_request(ctx, header, &payloads)
            }
            (State::Deleting(_) | State::Rekeyed, ExchangeType::CreateChildSa) => {
                // RFC 7296 §2.25: no new SAs on an IKE SA that is going away.
                let n = [Payload::from(Notify::status(NotifyType::TemporaryFailure))];
                self.send_response(ctx, ExchangeType::CreateChildSa, header.message_id, &n);
            }
            _ => {}
        }
        self.drive(ctx);
    }

    /// Verifies and decrypts an SK message or collects an SKF fragment. An authentic message
    /// with a malformed inner chain is answered (requests) or ends the SA (responses).
    fn open(&mut self, ctx: &mut Ctx<'_>, header: &Header, datagram: &[u8]) -> Option<Vec<Payload>> {
        let sk = self.sk.as_ref()?;
        let limits = &ctx.config.limits;
        let first = datagram.get(16).copied().map(PayloadType::from);
        let result = if first == Some(PayloadType::Skf) {
            match sk.unprotect_fragment(datagram, limits) {
                Ok((h, f)) => self.reassembly.push(&h, f, &ctx.config.fragmentation, limits),
                Err(e) => Err(FragError::Sk(e)),
            }
        } else {
            sk.unprotect(datagram, limits).map(|(_, p)| Some(p)).map_err(FragError::Sk)
        };
        let err = match result {
            Ok(p) => return p,
            Err(FragError::Sk(SkError::InnerDecode(e)) | FragError::Decode(e)) => e,
            Err(_) => return None, // unauthenticated: drop silently (RFC 7296 §2.21.1)
        };
        let n = [Payload::from(err.notify_payload())];
        if header.flags.response() {
            self.down(ctx, DownReason::Rejected(err.notify()));
        } else {
            self.send_response(ctx, header.exchange_type, header.message_id, &n);
            if matches!(header.exchange_type, ExchangeType::IkeAuth) {
                self.down_lingering(ctx, DownReason::Rejected(err.notify()));
            }
        }
        None
    }
}

/// True unless `datagram` is an SKF fragment other than number 1.
fn is_first_fragment_or_whole(datagram: &[u8]) -> bool {
    if datagram.get(16).copied().map(PayloadType::from) != Some(PayloadType::Skf) {
        return true;
    }
    match datagram.get(HEADER_LEN + 4..HEADER_LEN + 6) {
        Some(n) => n == [0, 1],
        None => true,
    }
}
