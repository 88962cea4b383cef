//! Shared tools of the IKE groups: raw message building (so lengths and fields can be wrong on
//! purpose), a bare responder endpoint, and a fixed-key handshake between a real initiator and a
//! real responder (feature `fuzzing` of vpn-ike: all SK keys zero) so authentic encrypted
//! messages with chosen contents can be injected and encrypted replies opened.

use std::net::SocketAddr;
use std::sync::Arc;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vpn_core::alg::KeGroup;
use vpn_core::crypto::kex::KeyExchange as Kex;
use vpn_core::time::Instant;
use vpn_ike::keys::sk::SkCrypto;
use vpn_ike::keys::IkeKeys;
use vpn_ike::message::{
    ExchangeType, Header, HeaderFlags, Identity, KeyExchange, Limits, Message, Nonce, Notify, NotifyData,
    NotifyType, Payload, PayloadBody, PayloadType,
};
use vpn_ike::PortKind;
use vpn_ike::{DownReason, Endpoint, EndpointConfig, Event, IkeSuite, PeerConfig};

/// The responder's address.
pub const R_ADDR: &str = "192.0.2.1:500";
/// The initiator's address.
pub const I_ADDR: &str = "192.0.2.2:500";
/// The PSK of both sides.
pub const PSK: &[u8] = b"hostile pre-shared key";
/// SPIi of hand-made IKE_SA_INIT requests.
pub const SPI_I: u64 = 0x1122_3344_5566_7788;

/// The framing of the socket at `to`, as a transport would know it: bare IKE on port 500,
/// behind the non-ESP marker (taken off before the endpoint sees it) on any other.
pub fn port_of(to: SocketAddr) -> PortKind {
    if to.port() == 500 {
        PortKind::Ike
    } else {
        PortKind::NatT
    }
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

pub fn fqdn(s: &str) -> Identity {
    Identity::Fqdn(s.as_bytes().to_vec())
}

pub fn suite() -> IkeSuite {
    IkeSuite::AES256GCM16_SHA256_X25519
}

/// One payload written by hand: type, flags octet, body, and optionally a wrong Payload Length.
#[derive(Clone, Debug)]
pub struct RawP {
    pub ty: u8,
    pub flags: u8,
    pub body: Vec<u8>,
    pub len: Option<u16>,
}

impl RawP {
    pub fn new(ty: u8, body: Vec<u8>) -> RawP {
        RawP { ty, flags: 0, body, len: None }
    }
    pub fn of(ty: PayloadType, body: &impl PayloadBody) -> RawP {
        RawP::new(ty.into(), body.to_body_bytes())
    }
}

/// A payload chain from `ps`, each Next Payload naming the following one; returns the first type.
pub fn raw_chain(ps: &[RawP]) -> (u8, Vec<u8>) {
    let mut out = Vec::new();
    for (i, p) in ps.iter().enumerate() {
        out.push(ps.get(i + 1).map_or(0, |n| n.ty));
        out.push(p.flags);
        let len = p.len.unwrap_or((p.body.len() + 4) as u16);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&p.body);
    }
    (ps.first().map_or(0, |p| p.ty), out)
}

/// A header's raw fields.
#[derive(Clone, Copy, Debug)]
pub struct RawH {
    pub spi_i: u64,
    pub spi_r: u64,
    pub version: u8,
    pub exchange: u8,
    pub flags: u8,
    pub mid: u32,
}

impl RawH {
    /// The first IKE_SA_INIT request of SPIi [`SPI_I`].
    pub fn init() -> RawH {
        RawH { spi_i: SPI_I, spi_r: 0, version: 0x20, exchange: 34, flags: 0x08, mid: 0 }
    }
}

/// A datagram: header then the chain; the Length field is the true length.
pub fn raw_message(h: RawH, ps: &[RawP]) -> Vec<u8> {
    let (first, chain) = raw_chain(ps);
    raw_with_chain(h, first, &chain)
}

pub fn raw_with_chain(h: RawH, first: u8, chain: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(28 + chain.len());
    v.extend_from_slice(&h.spi_i.to_be_bytes());
    v.extend_from_slice(&h.spi_r.to_be_bytes());
    v.extend_from_slice(&[first, h.version, h.exchange, h.flags]);
    v.extend_from_slice(&h.mid.to_be_bytes());
    v.extend_from_slice(&((28 + chain.len()) as u32).to_be_bytes());
    v.extend_from_slice(chain);
    v
}

/// A fresh X25519 public value of a hand-made initiator.
pub fn x25519_public(seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    Kex::generate(KeGroup::Curve25519, &mut rng).expect("keygen").public_value().to_vec()
}

/// A public value of `group` from a hand-made initiator.
pub fn public_of(group: KeGroup, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    Kex::generate(group, &mut rng).expect("keygen").public_value().to_vec()
}

/// The payloads of a valid IKE_SA_INIT request offering only [`suite`]: SA, KE, Ni,
/// IKEV2_FRAGMENTATION_SUPPORTED.
pub fn good_init_payloads() -> Vec<RawP> {
    vec![
        RawP::of(PayloadType::Sa, &vpn_ike::proposal::ike_sa(&[suite()], &[])),
        RawP::of(PayloadType::Ke, &KeyExchange::new(KeGroup::Curve25519, x25519_public(7))),
        RawP::of(PayloadType::Nonce, &Nonce::new(vec![0x4e; 32])),
        RawP::of(PayloadType::Notify, &Notify::status(NotifyType::Ikev2FragmentationSupported)),
    ]
}

/// A bare responder endpoint (real keys) that knows `peer.example`.
pub struct Resp {
    pub ep: Endpoint<ChaCha20Rng>,
    pub now: Instant,
    pub events: Vec<Event>,
}

pub fn responder_peer() -> PeerConfig {
    PeerConfig::psk(fqdn("gw.example"), Some(fqdn("peer.example")), PSK)
}

pub fn initiator_peer() -> PeerConfig {
    PeerConfig::psk(fqdn("peer.example"), Some(fqdn("gw.example")), PSK)
}

pub fn responder_config() -> EndpointConfig {
    EndpointConfig {
        local_addr: addr(R_ADDR),
        peers: Arc::new(vec![responder_peer()]),
        responder_ike_suites: vec![suite()],
        ..EndpointConfig::default()
    }
}

impl Resp {
    pub fn new() -> Resp {
        Resp::with(responder_config())
    }
    pub fn with(config: EndpointConfig) -> Resp {
        Resp {
            ep: Endpoint::new(config, ChaCha20Rng::seed_from_u64(11)),
            now: Instant::from_secs(100),
            events: vec![],
        }
    }
    /// Delivers `bytes` from the initiator's address; returns every datagram sent in reply
    /// (without a non-ESP marker).
    pub fn ask(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.ask_from(addr(I_ADDR), addr(R_ADDR), bytes)
    }
    pub fn ask_from(&mut self, from: SocketAddr, to: SocketAddr, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.ep.handle_datagram(self.now, to, from, port_of(to), bytes);
        self.drain()
    }
    pub fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; 70_000];
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_transmit(&mut buf) {
            out.push(buf[..t.len].to_vec());
        }
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
        out
    }
}

impl Default for Resp {
    fn default() -> Self {
        Resp::new()
    }
}

/// Checks `reply` is a well-formed unprotected IKE_SA_INIT response to the request of SPIi
/// `spi_i` (responder SPI 0, message ID 0, R set, I clear) holding exactly one Notify of type
/// `want`; returns that Notify.
pub fn expect_stateless(reply: &[u8], spi_i: u64, want: NotifyType) -> Result<Notify, String> {
    let m = Message::decode(reply, &Limits::default()).map_err(|e| format!("reply does not decode: {e}"))?;
    let h = m.header;
    if h.spi_r != 0 && !m.notifies().any(|n| n.notify_type.is_error()) {
        return Err(format!(
            "accepted: answered with a full IKE_SA_INIT response (SPIr {:#x}), want a stateless {want:?}",
            h.spi_r
        ));
    }
    let shape = (h.spi_i, h.spi_r, h.message_id, h.exchange_type, h.flags.0, m.payloads.len());
    let want_shape = (spi_i, 0, 0, ExchangeType::IkeSaInit, 0x20, 1);
    if shape != want_shape {
        return Err(format!("reply header/payload count {shape:?}, want {want_shape:?}"));
    }
    let n = m.payloads[0].as_notify().ok_or("reply payload is not a Notify")?.clone();
    if n.notify_type != want {
        return Err(format!("reply notify {:?} ({:?}), want {want:?}", n.notify_type, n.data));
    }
    if n.protocol != vpn_ike::message::ProtocolId::None || !n.spi.is_empty() {
        return Err(format!("reply notify names protocol {:?} SPI {:?}", n.protocol, n.spi));
    }
    Ok(n)
}

/// Sends `bytes` to a fresh responder and expects exactly one stateless reply with `want` and no
/// SA left behind.
pub fn expect_rejected(bytes: &[u8], want: NotifyType) -> Result<Notify, String> {
    let mut r = Resp::new();
    let out = r.ask(bytes);
    if out.len() != 1 {
        return Err(format!("{} replies, want 1", out.len()));
    }
    let n = expect_stateless(&out[0], SPI_I, want)?;
    if r.ep.sa_count() != 0 || r.ep.half_open_count() != 0 || !r.events.is_empty() {
        return Err(format!("state left behind: {} SAs, events {:?}", r.ep.sa_count(), r.events));
    }
    Ok(n)
}

/// Sends `bytes` to a fresh responder and expects an IKE_SA_INIT response that creates a
/// half-open SA (the request was accepted).
pub fn expect_accepted(bytes: &[u8]) -> Result<Message, String> {
    let mut r = Resp::new();
    let out = r.ask(bytes);
    if out.len() != 1 {
        return Err(format!("{} replies, want 1", out.len()));
    }
    let m =
        Message::decode(&out[0], &Limits::default()).map_err(|e| format!("reply does not decode: {e}"))?;
    if m.header.spi_r == 0 || m.header.flags.0 != 0x20 || m.notifies().any(|n| n.notify_type.is_error()) {
        return Err(format!(
            "not an accepting IKE_SA_INIT response: {:?} {:?}",
            m.header,
            m.notifies().collect::<Vec<_>>()
        ));
    }
    let has = |t: PayloadType| m.payloads.iter().any(|p| p.payload_type() == t);
    if !(has(PayloadType::Sa) && has(PayloadType::Ke) && has(PayloadType::Nonce)) {
        return Err("response lacks SA, KE or Nr".into());
    }
    if (r.ep.sa_count(), r.ep.half_open_count()) != (1, 1) {
        return Err(format!("{} SAs / {} half-open, want 1/1", r.ep.sa_count(), r.ep.half_open_count()));
    }
    Ok(m)
}

/// A real initiator and a real responder, both with the fixed all-zero SK keys, after
/// IKE_SA_INIT: the initiator's IKE_AUTH request is held back in `auth`.
pub struct Hs {
    pub r: Endpoint<ChaCha20Rng>,
    pub i: Endpoint<ChaCha20Rng>,
    pub now: Instant,
    pub spi_i: u64,
    pub spi_r: u64,
    /// The initiator's IKE_AUTH datagram(s), not delivered yet.
    pub auth: Vec<Vec<u8>>,
    /// The responder's IKE_SA_INIT response (what it repeats for message ID 0).
    pub init_response: Vec<u8>,
    /// Its decrypted payloads.
    pub auth_payloads: Vec<Payload>,
    /// The initiator's view of the SK keys: seals requests to the responder, opens its replies.
    pub sk: SkCrypto,
    /// The responder's view: seals messages to the initiator.
    pub sk_resp: SkCrypto,
    pub rng: ChaCha20Rng,
    pub r_events: Vec<Event>,
    pub i_events: Vec<Event>,
}

impl Hs {
    pub fn new(seed: u64) -> Hs {
        Hs::with(seed, |_| {}, |_| {})
    }

    /// With changes to the responder's and the initiator's configs.
    pub fn with(seed: u64, rc: impl FnOnce(&mut EndpointConfig), ic: impl FnOnce(&mut EndpointConfig)) -> Hs {
        let mut rconf = EndpointConfig { fuzzing_fixed_keys: true, ..responder_config() };
        rc(&mut rconf);
        let mut iconf = EndpointConfig {
            local_addr: addr(I_ADDR),
            fuzzing_fixed_keys: true,
            ..EndpointConfig::default()
        };
        ic(&mut iconf);
        let r = Endpoint::new(rconf, ChaCha20Rng::seed_from_u64(seed));
        let i = Endpoint::new(iconf, ChaCha20Rng::seed_from_u64(seed ^ 0xabcdef));
        let keys = IkeKeys::fixed_for_fuzzing(&suite()).expect("keys");
        let mut sk = SkCrypto::new(&suite(), &keys, true).expect("sk");
        sk.set_next_iv_for_fuzzing(1 << 40);
        let mut sk_resp = SkCrypto::new(&suite(), &keys, false).expect("sk");
        sk_resp.set_next_iv_for_fuzzing(1 << 41);
        let mut hs = Hs {
            r,
            i,
            now: Instant::from_secs(1000),
            spi_i: 0,
            spi_r: 0,
            auth: vec![],
            init_response: vec![],
            auth_payloads: vec![],
            sk,
            sk_resp,
            rng: ChaCha20Rng::seed_from_u64(seed ^ 0x5555),
            r_events: vec![],
            i_events: vec![],
        };
        let now = hs.now;
        hs.i.connect(now, initiator_peer(), addr(R_ADDR)).expect("connect");
        let init = hs.from_i();
        assert_eq!(init.len(), 1, "one IKE_SA_INIT request");
        let resp = hs.to_r(&init[0]);
        assert_eq!(resp.len(), 1, "one IKE_SA_INIT response");
        let h = Header::peek(&resp[0]).expect("response header").0;
        hs.spi_i = h.spi_i;
        hs.spi_r = h.spi_r;
        hs.init_response = resp[0].clone();
        hs.auth = hs.to_i(&resp[0]);
        assert!(!hs.auth.is_empty(), "the initiator sends IKE_AUTH");
        if hs.auth.len() == 1 {
            let keys = IkeKeys::fixed_for_fuzzing(&suite()).expect("keys");
            let resp_view = SkCrypto::new(&suite(), &keys, false).expect("sk");
            hs.auth_payloads =
                resp_view.unprotect(&hs.auth[0], &Limits::default()).expect("IKE_AUTH opens").1;
        }
        hs
    }

    fn collect(ep: &mut Endpoint<ChaCha20Rng>, events: &mut Vec<Event>) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; 70_000];
        let mut out = Vec::new();
        while let Some(t) = ep.poll_transmit(&mut buf) {
            out.push(buf[..t.len].to_vec());
        }
        while let Some(e) = ep.poll_event() {
            events.push(e);
        }
        out
    }

    /// What the initiator has to send.
    pub fn from_i(&mut self) -> Vec<Vec<u8>> {
        Hs::collect(&mut self.i, &mut self.i_events)
    }

    /// What the responder has to send.
    pub fn from_r(&mut self) -> Vec<Vec<u8>> {
        Hs::collect(&mut self.r, &mut self.r_events)
    }

    /// Delivers to the responder (from the initiator's address); returns its replies.
    pub fn to_r(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.r.handle_datagram(self.now, addr(R_ADDR), addr(I_ADDR), PortKind::Ike, bytes);
        self.from_r()
    }

    /// Delivers to the initiator (from the responder's address); returns its replies.
    pub fn to_i(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.i.handle_datagram(self.now, addr(I_ADDR), addr(R_ADDR), PortKind::Ike, bytes);
        self.from_i()
    }

    /// Delivers the held IKE_AUTH and its response: both sides are up.
    pub fn establish(&mut self) -> Result<(), String> {
        let auth = self.auth.clone();
        let mut replies = Vec::new();
        for d in &auth {
            replies.extend(self.to_r(d));
        }
        if replies.len() != 1 {
            return Err(format!("{} IKE_AUTH responses, want 1", replies.len()));
        }
        let more = self.to_i(&replies[0]);
        if !more.is_empty() {
            return Err(format!("initiator sent {} more datagrams after IKE_AUTH", more.len()));
        }
        if self.r_ups() != 1 || self.i_ups() != 1 {
            return Err(format!("IkeSaUp: responder {}, initiator {}", self.r_ups(), self.i_ups()));
        }
        Ok(())
    }

    pub fn r_ups(&self) -> usize {
        self.r_events.iter().filter(|e| matches!(e, Event::IkeSaUp { .. })).count()
    }
    pub fn i_ups(&self) -> usize {
        self.i_events.iter().filter(|e| matches!(e, Event::IkeSaUp { .. })).count()
    }
    pub fn r_downs(&self) -> Vec<DownReason> {
        downs(&self.r_events)
    }
    pub fn i_downs(&self) -> Vec<DownReason> {
        downs(&self.i_events)
    }

    /// An authentic request from the initiator to the responder with `payloads` inside SK.
    pub fn seal(&mut self, exchange: ExchangeType, mid: u32, payloads: &[Payload]) -> Vec<u8> {
        let h = Header::new(exchange, self.spi_i, self.spi_r, mid, HeaderFlags::INITIATOR);
        self.sk.protect(&h, payloads, &mut self.rng).expect("protect")
    }

    /// Like [`Hs::seal`] with any header flags and a raw inner chain.
    pub fn seal_raw(&mut self, exchange: u8, mid: u32, flags: u8, first: u8, chain: &[u8]) -> Vec<u8> {
        let h = Header::new(ExchangeType::from(exchange), self.spi_i, self.spi_r, mid, HeaderFlags(flags));
        self.sk.protect_chain(&h, PayloadType::from(first), chain, &mut self.rng).expect("protect")
    }

    /// An authentic message from the responder to the initiator (flags chosen: R for responses).
    pub fn seal_to_i(
        &mut self,
        exchange: ExchangeType,
        mid: u32,
        flags: u8,
        payloads: &[Payload],
    ) -> Vec<u8> {
        let h = Header::new(exchange, self.spi_i, self.spi_r, mid, HeaderFlags(flags));
        self.sk_resp.protect(&h, payloads, &mut self.rng).expect("protect")
    }

    /// Opens a message of the responder.
    pub fn open(&self, bytes: &[u8]) -> Result<(Header, Vec<Payload>), String> {
        self.sk.unprotect(bytes, &Limits::default()).map_err(|e| format!("reply does not open: {e}"))
    }

    /// Expects exactly one encrypted response to request `mid` of `exchange`; returns its payloads.
    pub fn one_response(
        &self,
        out: &[Vec<u8>],
        exchange: ExchangeType,
        mid: u32,
    ) -> Result<Vec<Payload>, String> {
        if out.len() != 1 {
            return Err(format!("{} replies, want 1", out.len()));
        }
        let (h, p) = self.open(&out[0])?;
        let got = (h.exchange_type, h.message_id, h.flags.0, h.spi_i, h.spi_r);
        let want = (exchange, mid, 0x20, self.spi_i, self.spi_r);
        if got != want {
            return Err(format!("response header {got:?}, want {want:?}"));
        }
        Ok(p)
    }

    /// Delivers a request to the responder and expects exactly one encrypted response.
    pub fn ask_r(&mut self, req: &[u8], exchange: ExchangeType, mid: u32) -> Result<Vec<Payload>, String> {
        let out = self.to_r(req);
        self.one_response(&out, exchange, mid)
    }

    /// Is the responder's SA established? (an empty INFORMATIONAL with `mid` is answered empty)
    pub fn r_alive(&mut self, mid: u32) -> Result<(), String> {
        let req = self.seal(ExchangeType::Informational, mid, &[]);
        let out = self.to_r(&req);
        let p = self
            .one_response(&out, ExchangeType::Informational, mid)
            .map_err(|e| format!("liveness check mid {mid}: {e}"))?;
        if !p.is_empty() {
            return Err(format!("liveness check answered with {p:?}"));
        }
        Ok(())
    }
}

pub fn downs(events: &[Event]) -> Vec<DownReason> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::IkeSaDown { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

/// The notify types of `payloads`, in order.
pub fn notify_types(payloads: &[Payload]) -> Vec<NotifyType> {
    payloads.iter().filter_map(Payload::as_notify).map(|n| n.notify_type).collect()
}

/// The first Notify's data.
pub fn first_notify_data(payloads: &[Payload]) -> Option<NotifyData> {
    payloads.iter().filter_map(Payload::as_notify).next().map(|n| n.data.clone())
}

/// Fail unless `cond`.
pub fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}
