//! A responder under attack, for the `ike_responder` fuzz target (feature `fuzzing`, never in
//! production): a real initiator runs IKE_SA_INIT against a responder, both with the fixed
//! all-zero keys of [`IkeKeys::fixed_for_fuzzing`], so fuzzer input can be sent as raw datagrams
//! or as payload chains sealed in valid SK payloads, reaching the code behind the integrity
//! check. Everything the responder sends back must decode, and encrypted replies must decrypt.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vpn_core::time::{Duration, Instant};

use crate::config::PortKind;
use crate::config::{EndpointConfig, PeerConfig};
use crate::endpoint::Endpoint;
use crate::keys::sk::SkCrypto;
use crate::keys::{IkeKeys, IkeSuite};
use crate::message::{
    Delete, ExchangeType, Header, HeaderFlags, Identity, Limits, Message, Nonce, Notify, Payload,
    PayloadType, ProtocolId, TrafficSelectors,
};

/// The PSK both sides use.
pub const PSK: &[u8] = b"fuzzing pre-shared key";

/// One step of a fuzz input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bytes as they are, from the initiator's address.
    Raw(Vec<u8>),
    /// Bytes with the SA's SPIs written over the first 16 (so they reach the SA).
    WithSpis(Vec<u8>),
    /// A payload chain sealed in an SK payload under the fixed keys.
    Sealed {
        /// Exchange type.
        exchange: u8,
        /// Message ID.
        message_id: u32,
        /// Header flags.
        flags: u8,
        /// First inner payload type.
        first: u8,
        /// The inner payload chain.
        chain: Vec<u8>,
    },
    /// Let this many seconds pass.
    Wait(u8),
}

impl Step {
    /// Split fuzzer bytes into steps: `[op, len_hi, len_lo, body...]` repeated.
    pub fn parse(mut data: &[u8]) -> Vec<Step> {
        let mut steps = Vec::new();
        while let [op, hi, lo, rest @ ..] = data {
            let len = (usize::from(*hi) << 8 | usize::from(*lo)).min(rest.len()).min(8192);
            let (body, tail) = rest.split_at(len);
            data = tail;
            steps.push(match op % 4 {
                0 => Step::Raw(body.to_vec()),
                1 => Step::WithSpis(body.to_vec()),
                2 => match body {
                    [exchange, m0, m1, flags, first, chain @ ..] => Step::Sealed {
                        exchange: *exchange,
                        message_id: u32::from(*m0) << 8 | u32::from(*m1),
                        flags: *flags,
                        first: *first,
                        chain: chain.to_vec(),
                    },
                    _ => continue,
                },
                _ => Step::Wait(body.first().copied().unwrap_or(1)),
            });
        }
        steps
    }

    /// The bytes of this step as [`Step::parse`] reads them.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (op, body) = match self {
            Step::Raw(b) => (0u8, b.clone()),
            Step::WithSpis(b) => (1, b.clone()),
            Step::Sealed { exchange, message_id, flags, first, chain } => {
                let mut b = vec![*exchange, (message_id >> 8) as u8, *message_id as u8, *flags, *first];
                b.extend_from_slice(chain);
                (2, b)
            }
            Step::Wait(s) => (3, vec![*s]),
        };
        out.push(op);
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(&body);
    }
}

/// The responder with a half-open IKE SA from a real initiator.
pub struct ResponderHarness {
    /// The responder under test.
    pub responder: Endpoint<ChaCha20Rng>,
    /// The initiator's view of the SK keys (to seal and to open replies).
    sk: SkCrypto,
    spis: (u64, u64),
    rng: ChaCha20Rng,
    now: Instant,
    buf: Vec<u8>,
    /// The IKE_AUTH request the real initiator sent (decrypted chain), for seeds.
    pub auth_chain: Option<(PayloadType, Vec<u8>)>,
    local: SocketAddr,
    remote: SocketAddr,
}

fn fqdn(s: &str) -> Identity {
    Identity::Fqdn(s.as_bytes().to_vec())
}

impl ResponderHarness {
    /// Run IKE_SA_INIT between a fixed-key initiator and responder.
    pub fn new() -> Option<Self> {
        let (local, remote): (SocketAddr, SocketAddr) =
            ("192.0.2.1:500".parse().ok()?, "192.0.2.2:500".parse().ok()?);
        let suite = IkeSuite::AES256GCM16_SHA256_X25519;
        let mut peer = PeerConfig::psk(fqdn("gw.example"), Some(fqdn("peer.example")), PSK);
        peer.local_ts = vec!["10.1.0.0/24".parse().ok()?];
        peer.remote_ts = vec!["10.2.0.0/24".parse().ok()?];
        let config = EndpointConfig {
            local_addr: local,
            peers: Arc::new(vec![peer]),
            fuzzing_fixed_keys: true,
            ..EndpointConfig::default()
        };
        let mut responder = Endpoint::new(config, ChaCha20Rng::seed_from_u64(1));
        let iconfig =
            EndpointConfig { local_addr: remote, fuzzing_fixed_keys: true, ..EndpointConfig::default() };
        let mut initiator = Endpoint::new(iconfig, ChaCha20Rng::seed_from_u64(2));
        let mut ipeer = PeerConfig::psk(fqdn("peer.example"), Some(fqdn("gw.example")), PSK);
        ipeer.local_ts = vec!["10.2.0.0/24".parse().ok()?];
        ipeer.remote_ts = vec!["10.1.0.0/24".parse().ok()?];
        let now = Instant::from_secs(1);
        initiator.connect(now, ipeer, local).ok()?;
        let mut buf = vec![0u8; 65_540];
        let t = initiator.poll_transmit(&mut buf)?;
        responder.handle_datagram(now, local, remote, t.port, &buf[..t.len]);
        let t = responder.poll_transmit(&mut buf)?;
        let (h, _) = Header::peek(&buf[..t.len]).ok()?;
        initiator.handle_datagram(now, remote, local, t.port, &buf[..t.len]);
        let sk = SkCrypto::new(&suite, &IkeKeys::fixed_for_fuzzing(&suite).ok()?, true).ok()?;
        // The initiator's IKE_AUTH, decrypted: a valid seed for the fuzzer.
        let auth_chain = initiator.poll_transmit(&mut buf).and_then(|t| {
            let (_, payloads) = sk_open(&suite, true, &buf[..t.len])?;
            let mut chain = Vec::new();
            let first = crate::message::encode_payload_chain(&payloads, &mut chain);
            Some((first, chain))
        });
        Some(ResponderHarness {
            responder,
            sk,
            spis: (h.spi_i, h.spi_r),
            rng: ChaCha20Rng::seed_from_u64(3),
            now,
            buf,
            auth_chain,
            local,
            remote,
        })
    }

    /// The harness after the real initiator's IKE_AUTH went through: an established IKE SA with
    /// its first Child SA, ready for later exchanges.
    pub fn established() -> Option<Self> {
        let mut h = Self::new()?;
        let (first, chain) = h.auth_chain.clone()?;
        h.step(&Step::Sealed { exchange: 35, message_id: 1, flags: 0x08, first: u8::from(first), chain });
        Some(h)
    }

    /// A recorded session's later messages, for an [`ResponderHarness::established`] harness:
    /// a second Child SA, a rekey of the first (REKEY_SA, RFC 7296 §1.3.3), the Delete of the
    /// old one, an IKE SA rekey (§1.3.2) and the Delete of the old IKE SA.
    pub fn recorded_session(&self) -> Vec<Step> {
        let first_out = self
            .responder
            .handles()
            .next()
            .and_then(|h| self.responder.child_sas(h).first().map(|c| c.1))
            .unwrap_or(1);
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let ke = crate::message::KeyExchange::new(
            vpn_core::alg::KeGroup::Curve25519,
            vpn_core::crypto::kex::KeyExchange::generate(vpn_core::alg::KeGroup::Curve25519, &mut rng)
                .map(|k| k.public_value().to_vec())
                .unwrap_or_default(),
        );
        let ike = [
            Payload::from(crate::proposal::ike_sa(
                &[IkeSuite::AES256GCM16_SHA256_X25519],
                &7u64.to_be_bytes(),
            )),
            Payload::from(Nonce::new(vec![9; 32])),
            Payload::from(ke),
        ];
        vec![
            sealed(36, 2, &child_request(0x1111_1111, None)),
            sealed(36, 3, &child_request(0x2222_2222, Some(first_out))),
            sealed(37, 4, &[Payload::from(Delete::esp(&[first_out, 0x9999_9999]))]),
            sealed(36, 5, &ike),
            sealed(37, 6, &[Payload::from(Delete::ike())]),
        ]
    }

    /// Feed one step and check every reply.
    pub fn step(&mut self, step: &Step) {
        let datagram = match step {
            Step::Raw(b) => b.clone(),
            Step::WithSpis(b) => {
                let mut b = b.clone();
                if let Some(h) = b.get_mut(..16) {
                    h[..8].copy_from_slice(&self.spis.0.to_be_bytes());
                    h[8..].copy_from_slice(&self.spis.1.to_be_bytes());
                }
                b
            }
            Step::Sealed { exchange, message_id, flags, first, chain } => {
                let header = Header::new(
                    ExchangeType::from(*exchange),
                    self.spis.0,
                    self.spis.1,
                    *message_id,
                    HeaderFlags(*flags),
                );
                match self.sk.protect_chain(&header, PayloadType::from(*first), chain, &mut self.rng) {
                    Ok(d) => d,
                    Err(_) => return,
                }
            }
            Step::Wait(s) => {
                self.now += Duration::from_secs(u64::from(*s));
                self.responder.handle_timeout(self.now);
                self.drain();
                return;
            }
        };
        self.responder.handle_datagram(self.now, self.local, self.remote, PortKind::Ike, &datagram);
        self.drain();
    }

    /// Everything the responder sends must be a well-formed IKE message; what it encrypts
    /// must decrypt and decode under the fixed keys.
    fn drain(&mut self) {
        let suite = IkeSuite::AES256GCM16_SHA256_X25519;
        while let Some(t) = self.responder.poll_transmit(&mut self.buf) {
            let bytes = &self.buf[..t.len];
            let msg = Message::decode(bytes, &Limits::default());
            assert!(msg.is_ok(), "the responder sent a malformed message: {:?}", msg.err());
            if let Ok(m) = msg {
                let sealed = m.payloads.iter().any(|p| p.payload_type() == PayloadType::Sk);
                if sealed && m.header.spi_i == self.spis.0 {
                    assert!(sk_open(&suite, false, bytes).is_some(), "an SK reply that does not open");
                }
            }
        }
        while self.responder.poll_event().is_some() {}
    }
}

fn sealed(exchange: u8, message_id: u32, payloads: &[Payload]) -> Step {
    let mut chain = Vec::new();
    let first = crate::message::encode_payload_chain(payloads, &mut chain);
    Step::Sealed { exchange, message_id, flags: 0x08, first: u8::from(first), chain }
}

/// A CREATE_CHILD_SA request for a new Child SA, or a rekey of `rekey` (our outbound SPI).
fn child_request(spi: u32, rekey: Option<u32>) -> Vec<Payload> {
    let mut p = Vec::new();
    if let Some(old) = rekey {
        p.push(Payload::from(Notify::rekey_sa(ProtocolId::Esp, old.to_be_bytes().to_vec())));
    }
    p.push(Payload::from(crate::proposal::esp_sa(&[crate::config::EspSuite::AES256GCM16], spi)));
    p.push(Payload::from(Nonce::new(vec![7; 32])));
    let ts = |s: &str| s.parse().ok().into_iter().collect::<Vec<vpn_core::ts::TrafficSelector>>();
    p.push(Payload::ts_i(TrafficSelectors::new(ts("10.2.0.0/24"))));
    p.push(Payload::ts_r(TrafficSelectors::new(ts("10.1.0.0/24"))));
    p
}

/// Open an SK message sent by the responder (`from_initiator` false) with the fixed keys.
fn sk_open(
    suite: &IkeSuite,
    from_initiator: bool,
    bytes: &[u8],
) -> Option<(Header, Vec<crate::message::Payload>)> {
    let keys = IkeKeys::fixed_for_fuzzing(suite).ok()?;
    // The receiving side's view: the initiator opens the responder's messages and vice versa.
    let sk = SkCrypto::new(suite, &keys, !from_initiator).ok()?;
    sk.unprotect(bytes, &Limits::default()).ok()
}
