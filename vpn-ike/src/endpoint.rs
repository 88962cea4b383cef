//! The sans-IO IKE endpoint a host drives (shaped like `quinn-proto`'s `Endpoint`): it owns every
//! IKE SA, demultiplexes datagrams by SPI, answers retransmitted requests from a cache, applies
//! cookies and half-open limits (RFC 7296 §2.6), and asks the host's [`PeerLookup`] for peers.
//!
//! [`PeerLookup`]: crate::config::PeerLookup

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use rand_core::CryptoRngCore;
use vpn_core::crypto::kex::public_value_len;
use vpn_core::time::Instant;

use crate::config::{ConnectionId, EndpointConfig, PeerConfig, PortKind};
use crate::event::{DownReason, Event, IkeSaHandle, Transmit};
use crate::message::{
    DecodeError, ExchangeType, Header, HeaderFlags, Message, Notify, NotifyType, Payload, HEADER_LEN,
};
use crate::nat::CookieJar;
use crate::sa::{respond_init, Ctx, IkeSa, InitReply, Outgoing, Path, Task};
use crate::spi::SpiGenerator;

/// Why `connect` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The peer configuration has no IKE or no ESP proposal.
    #[error("the peer configuration has no IKE or no ESP proposal")]
    NoProposals,
    /// A configured IKE or ESP proposal uses an algorithm (or key length) this crate does not implement.
    #[error("a configured IKE or ESP proposal is not supported")]
    UnsupportedProposal,
    /// The RNG or a crypto primitive failed.
    #[error("internal failure (RNG or crypto)")]
    Internal,
}

/// The scope of INITIAL_CONTACT: the connection, our identity and the peer's, encoded.
pub(crate) type IdKey = (ConnectionId, Vec<u8>, Vec<u8>);

/// Owns the IKE SAs of one host.
pub struct Endpoint<R: CryptoRngCore> {
    config: EndpointConfig,
    rng: R,
    sas: BTreeMap<u64, IkeSa>,
    /// Responder SAs by (initiator address, SPIi), to spot retransmitted IKE_SA_INIT requests.
    by_init: BTreeMap<(SocketAddr, u64), u64>,
    /// Responder SAs waiting for IKE_AUTH.
    /// Half-open responder SAs and the address each came from.
    half_open: BTreeMap<u64, IpAddr>,
    /// Half-open SAs per source address.
    half_open_by_ip: BTreeMap<IpAddr, usize>,
    /// Authenticated SAs by connection and both encoded identities (INITIAL_CONTACT, RFC 7296
    /// §2.4, clears only those of the same connection and identities).
    by_id: BTreeMap<IdKey, BTreeSet<u64>>,
    timers: BTreeSet<(Instant, u64)>,
    armed: BTreeMap<u64, Instant>,
    out: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    cookies: CookieJar,
    spis: SpiGenerator,
    /// IKE SAs born from a rekey during the current input.
    spawned: Vec<IkeSa>,
}

impl<R: CryptoRngCore> core::fmt::Debug for Endpoint<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("sas", &self.sas.len())
            .field("half_open", &self.half_open.len())
            .finish()
    }
}

impl<R: CryptoRngCore> Endpoint<R> {
    /// An endpoint drawing every random value (SPIs, nonces, keys, IVs, cookie secret) from `rng`.
    pub fn new(config: EndpointConfig, mut rng: R) -> Self {
        let (mut cookie_secret, mut spi_key) = ([0u8; 32], [0u8; 16]);
        let _ = rng.try_fill_bytes(&mut cookie_secret);
        let _ = rng.try_fill_bytes(&mut spi_key);
        Endpoint {
            config,
            rng,
            sas: BTreeMap::new(),
            by_init: BTreeMap::new(),
            half_open: BTreeMap::new(),
            half_open_by_ip: BTreeMap::new(),
            by_id: BTreeMap::new(),
            timers: BTreeSet::new(),
            armed: BTreeMap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            cookies: CookieJar::new(cookie_secret),
            spis: SpiGenerator::new(spi_key),
            spawned: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Number of IKE SAs held (any state).
    pub fn sa_count(&self) -> usize {
        self.sas.len()
    }

    /// Number of responder SAs waiting for IKE_AUTH.
    pub fn half_open_count(&self) -> usize {
        self.half_open.len()
    }

    fn fresh_spi(&mut self) -> Option<u64> {
        // Never reused (a permutation of a counter), so never held already.
        self.spis.ike().filter(|s| !self.sas.contains_key(s))
    }

    /// The context an SA handles an input in, and the SA table (disjoint borrows).
    fn split(&mut self, now: Instant) -> (Ctx<'_>, &mut BTreeMap<u64, IkeSa>) {
        let ctx = Ctx {
            now,
            rng: &mut self.rng,
            config: &self.config,
            out: &mut self.out,
            events: &mut self.events,
            spis: &mut self.spis,
            spawned: &mut self.spawned,
        };
        (ctx, &mut self.sas)
    }

    /// Starts an IKE SA with `peer` at `remote` (sends IKE_SA_INIT).
    pub fn connect(
        &mut self,
        now: Instant,
        peer: PeerConfig,
        remote: SocketAddr,
    ) -> Result<IkeSaHandle, ConnectError> {
        let (local, port) = (self.config.local_addr, self.config.local_port);
        self.connect_from(now, peer, local, remote, port)
    }

    /// [`Endpoint::connect`] from a chosen local address (a host with several addresses uses
    /// the one its route to the peer goes out of, so the peer sees the address it expects),
    /// sending with `port`'s framing.
    pub fn connect_from(
        &mut self,
        now: Instant,
        peer: PeerConfig,
        local: SocketAddr,
        remote: SocketAddr,
        port: PortKind,
    ) -> Result<IkeSaHandle, ConnectError> {
        if peer.ike_suites.is_empty() || peer.esp_suites.is_empty() {
            return Err(ConnectError::NoProposals);
        }
        let supported = peer.ike_suites.iter().all(|s| {
            s.prf().is_ok()
                && s.encr_key_len().is_ok()
                && s.integ_key_len().is_ok()
                && public_value_len(s.ke).is_some()
        });
        let esp_supported = peer.esp_suites.iter().all(|s| {
            crate::keys::encr_key_len(s.encr, s.encr_key_bits).is_ok()
                && crate::keys::integ_key_len(s.encr, s.integ).is_ok()
        });
        if !supported || !esp_supported {
            return Err(ConnectError::UnsupportedProposal);
        }
        let spi = self.fresh_spi().ok_or(ConnectError::Internal)?;
        let (mut ctx, _) = self.split(now);
        let sa = IkeSa::connect(&mut ctx, spi, Arc::new(peer), Path { local, remote, port })
            .ok_or(ConnectError::Internal)?;
        self.sas.insert(spi, sa);
        self.after(spi);
        Ok(IkeSaHandle(spi))
    }

    /// The (initiator, responder) SPIs of an IKE SA.
    pub fn ike_sa_spis(&self, handle: IkeSaHandle) -> Option<(u64, u64)> {
        self.sas.get(&handle.0).map(|sa| (sa.spi_i, sa.spi_r))
    }

    /// The SK_e and SK_a keys of an established IKE SA, when
    /// [`EndpointConfig::export_keys`](crate::config::EndpointConfig::export_keys) is on.
    pub fn ike_sa_keys(&self, handle: IkeSaHandle) -> Option<crate::event::IkeSaKeys> {
        let sa = self.sas.get(&handle.0)?;
        let [ei, er, ai, ar] = sa.keys.as_ref()?.exported.as_deref()?.clone();
        Some(crate::event::IkeSaKeys {
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            suite: sa.suite?,
            sk_ei: ei,
            sk_er: er,
            sk_ai: ai,
            sk_ar: ar,
        })
    }

    /// Deletes an IKE SA (INFORMATIONAL Delete, RFC 7296 §1.4.1); `IkeSaDown` follows.
    pub fn close(&mut self, now: Instant, handle: IkeSaHandle) {
        let (mut ctx, sas) = self.split(now);
        if let Some(sa) = sas.get_mut(&handle.0) {
            sa.close(&mut ctx);
        }
        self.after(handle.0);
    }

    /// Runs a host action on an established SA; false when there is no such SA.
    fn act(&mut self, now: Instant, handle: IkeSaHandle, f: impl FnOnce(&mut IkeSa) -> bool) -> bool {
        let (mut ctx, sas) = self.split(now);
        let Some(sa) = sas.get_mut(&handle.0).filter(|sa| sa.is_established()) else { return false };
        let done = f(sa);
        sa.drive(&mut ctx);
        self.after(handle.0);
        done
    }

    /// Creates another Child SA on an IKE SA with the peer configuration's proposals, selectors
    /// and mode (CREATE_CHILD_SA, RFC 7296 §1.3.1); `ChildSaUp` follows.
    pub fn create_child(&mut self, now: Instant, handle: IkeSaHandle) -> bool {
        self.act(now, handle, |sa| {
            sa.queue(Task::CreateChild);
            true
        })
    }

    /// Rekeys the Child SA with inbound SPI `spi_in` now (RFC 7296 §1.3.3), e.g. when the ESP
    /// SA reports its soft byte or packet lifetime; `ChildSaUp`, `ChildSaRekeyed` and
    /// `ChildSaDown` for the old SA follow. False when there is no such Child SA.
    pub fn rekey_child(&mut self, now: Instant, handle: IkeSaHandle, spi_in: u32) -> bool {
        self.act(now, handle, |sa| sa.host_rekey_child(spi_in))
    }

    /// Deletes the Child SA with inbound SPI `spi_in` (INFORMATIONAL Delete, RFC 7296 §1.4.1);
    /// `ChildSaDown` follows. False when there is no such Child SA.
    pub fn delete_child(&mut self, now: Instant, handle: IkeSaHandle, spi_in: u32) -> bool {
        self.act(now, handle, |sa| {
            let known = sa.has_child(spi_in);
            if known {
                sa.queue(Task::DeleteChildren(alloc::vec![spi_in]));
            }
            known
        })
    }

    /// Rekeys the IKE SA now (RFC 7296 §1.3.2); `IkeSaRekeyed` follows.
    pub fn rekey_ike(&mut self, now: Instant, handle: IkeSaHandle) -> bool {
        self.act(now, handle, |sa| {
            sa.queue(Task::RekeyIke);
            true
        })
    }

    /// The host saw authentic inbound ESP traffic of this IKE SA at `now`: a liveness check is
    /// not needed before `dpd_interval` passes again.
    pub fn note_inbound_traffic(&mut self, handle: IkeSaHandle, now: Instant) {
        if let Some(sa) = self.sas.get_mut(&handle.0) {
            if sa.heard_traffic(now) {
                self.rearm(handle.0);
            }
        }
    }

    /// A snapshot of an IKE SA and its Child SAs (state, addresses, suite, timers).
    pub fn ike_sa_info(&self, handle: IkeSaHandle) -> Option<crate::info::IkeSaInfo> {
        self.sas.get(&handle.0).filter(|sa| !sa.is_dead()).map(IkeSa::info)
    }

    /// The host saw authentic inbound ESP of this IKE SA's Child SAs arrive from `remote`, a new
    /// address or port: a NAT in front of the peer changed its mapping (RFC 7296 §2.23, RFC
    /// 3948). When the peer is behind a NAT the SA follows it and `PathChanged` reports the new
    /// path; returns whether it moved.
    pub fn peer_moved(&mut self, now: Instant, handle: IkeSaHandle, remote: SocketAddr) -> bool {
        let (mut ctx, sas) = self.split(now);
        let Some(sa) = sas.get_mut(&handle.0) else { return false };
        let moved = sa.peer_moved(&mut ctx, remote);
        self.after(handle.0);
        moved
    }

    /// The (inbound, outbound) SPIs of the Child SAs of an IKE SA, including ones being
    /// replaced or deleted.
    pub fn child_sas(&self, handle: IkeSaHandle) -> Vec<(u32, u32)> {
        self.sas.get(&handle.0).map(IkeSa::child_spis).unwrap_or_default()
    }

    /// The handles of the IKE SAs held (any state).
    pub fn handles(&self) -> impl Iterator<Item = IkeSaHandle> + '_ {
        self.sas.keys().map(|k| IkeSaHandle(*k))
    }

    fn rearm(&mut self, spi: u64) {
        if let Some(t) = self.armed.remove(&spi) {
            self.timers.remove(&(t, spi));
        }
        if let Some(t) = self.sas.get(&spi).and_then(IkeSa::next_timeout) {
            self.armed.insert(spi, t);
            self.timers.insert((t, spi));
        }
    }

    /// Processes one received IKE message addressed to `local`. `port` is the framing the
    /// transport found: on the NAT-T socket it has already taken off the non-ESP marker (and
    /// kept ESP, which has a non-zero SPI there, for its SAD; RFC 3948 §2.2).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        port: PortKind,
        data: &[u8],
    ) {
        let header = match Header::peek(data) {
            Ok((h, _)) => h,
            Err(DecodeError::InvalidMajorVersion(_)) => {
                return self.reject_version(local, remote, port, data)
            }
            Err(_) => return,
        };
        let path = Path { local, remote, port };
        let initiator_sent = header.flags.initiator();
        let ours = if !header.flags.response()
            && initiator_sent
            && header.exchange_type == ExchangeType::IkeSaInit
            && header.spi_r == 0
        {
            match self.by_init.get(&(remote, header.spi_i)) {
                // A retransmission: the SA answers from its cache.
                Some(&spi) => spi,
                None => return self.on_init_request(now, path, &header, data),
            }
        } else if initiator_sent {
            // Our SPI: SPIr in messages from the original initiator, SPIi otherwise.
            header.spi_r
        } else {
            header.spi_i
        };
        let (mut ctx, sas) = self.split(now);
        if let Some(sa) = sas.get_mut(&ours) {
            sa.handle(&mut ctx, path, &header, data);
            self.after(ours);
        }
    }

    /// RFC 7296 §1.5: answer a request of another major version with INVALID_MAJOR_VERSION.
    fn reject_version(&mut self, local: SocketAddr, remote: SocketAddr, port: PortKind, data: &[u8]) {
        let (Some(spi_i), Some(spi_r), Some(&exch), Some(&flags), Some(mid)) = (
            data.get(0..8).and_then(|b| <[u8; 8]>::try_from(b).ok()),
            data.get(8..16).and_then(|b| <[u8; 8]>::try_from(b).ok()),
            data.get(18),
            data.get(19),
            data.get(20..24).and_then(|b| <[u8; 4]>::try_from(b).ok()),
        ) else {
            return;
        };
        if HeaderFlags(flags).response() || data.len() < HEADER_LEN {
            return;
        }
        let header = Header::new(
            ExchangeType::from(exch),
            u64::from_be_bytes(spi_i),
            u64::from_be_bytes(spi_r),
            u32::from_be_bytes(mid),
            HeaderFlags::RESPONSE,
        );
        let n = Payload::from(Notify::status(NotifyType::InvalidMajorVersion));
        let bytes = Message { header, payloads: alloc::vec![n] }.encode();
        self.out.push_back(Outgoing { local, remote, port, bytes });
    }

    fn on_init_request(&mut self, now: Instant, path: Path, header: &Header, data: &[u8]) {
        let from = path.remote.ip();
        let from_ip = self.half_open_by_ip.get(&from).copied().unwrap_or(0);
        // RFC 7296 §2.6 and strongSwan's limits: a hard cap, a per-address block, then cookies
        // when half-open SAs pass the global or the per-address threshold.
        if self.half_open.len() >= self.config.max_half_open || from_ip >= self.config.block_threshold {
            return;
        }
        let Some(spi_r) = self.fresh_spi() else { return };
        let need_cookie = self.half_open.len() >= self.config.cookie_threshold
            || from_ip >= self.config.cookie_threshold_ip;
        if need_cookie {
            self.cookies.rotate(now, self.config.cookie_secret_lifetime, &mut self.rng);
        }
        let key = (path.remote, header.spi_i);
        let jar = &self.cookies;
        let mut ctx = Ctx {
            now,
            rng: &mut self.rng,
            config: &self.config,
            out: &mut self.out,
            events: &mut self.events,
            spis: &mut self.spis,
            spawned: &mut self.spawned,
        };
        if let InitReply::Created(mut sa) =
            respond_init(&mut ctx, data, path, spi_r, need_cookie.then_some(jar))
        {
            sa.init_key = Some(key);
            self.by_init.insert(key, spi_r);
            self.half_open.insert(spi_r, from);
            *self.half_open_by_ip.entry(from).or_default() += 1;
            self.sas.insert(spi_r, *sa);
            self.after(spi_r);
        }
    }

    /// Bookkeeping after an SA handled an input: drop it when dead, track half-open SAs and
    /// identities, apply INITIAL_CONTACT, and re-arm its timer.
    fn after(&mut self, spi: u64) {
        // IKE SAs a rekey created join the table first (RFC 7296 §2.18).
        while let Some(sa) = self.spawned.pop() {
            let new = sa.handle.0;
            self.sas.insert(new, sa);
            self.after(new);
        }
        if let Some(t) = self.armed.remove(&spi) {
            self.timers.remove(&(t, spi));
        }
        if self.sas.get(&spi).is_some_and(|sa| !sa.is_half_open()) {
            self.no_longer_half_open(spi);
        }
        let Some(sa) = self.sas.get_mut(&spi) else { return };
        if sa.is_dead() {
            if let Some(sa) = self.sas.remove(&spi) {
                self.forget(&sa);
            }
            return;
        }
        if let Some(t) = sa.next_timeout() {
            self.armed.insert(spi, t);
            self.timers.insert((t, spi));
        }
        if sa.id_key.is_none() {
            if let Some(k) = sa.initial_contact_scope() {
                sa.id_key = Some(k.clone());
                let others = self.by_id.entry(k).or_default();
                // RFC 7296 §2.4: INITIAL_CONTACT means the peer lost every other IKE SA with us.
                let replaced: Vec<u64> =
                    if sa.initial_contact { others.iter().copied().collect() } else { Vec::new() };
                others.insert(spi);
                for old in replaced {
                    self.replace(old);
                }
            }
        }
    }

    /// Drops an SA the peer replaced with INITIAL_CONTACT (no Delete: the peer has no state).
    fn replace(&mut self, spi: u64) {
        if let Some(t) = self.armed.remove(&spi) {
            self.timers.remove(&(t, spi));
        }
        if let Some(sa) = self.sas.remove(&spi) {
            self.events
                .push_back(Event::IkeSaDown { handle: IkeSaHandle(spi), reason: DownReason::Replaced });
            self.forget(&sa);
        }
    }

    fn no_longer_half_open(&mut self, spi: u64) {
        if let Some(ip) = self.half_open.remove(&spi) {
            if let Some(n) = self.half_open_by_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.half_open_by_ip.remove(&ip);
                }
            }
        }
    }

    fn forget(&mut self, sa: &IkeSa) {
        let spi = sa.handle.0;
        self.no_longer_half_open(spi);
        if let Some(k) = &sa.init_key {
            self.by_init.remove(k);
        }
        if let Some(k) = &sa.id_key {
            if let Some(set) = self.by_id.get_mut(k) {
                set.remove(&spi);
                if set.is_empty() {
                    self.by_id.remove(k);
                }
            }
        }
    }

    /// The next IKE message to send, written to `buf` (without the non-ESP marker, which the
    /// transport adds for [`PortKind::NatT`]). A message larger than `buf` is dropped; 65,536
    /// bytes always suffice.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some(o) = self.out.pop_front() {
            let len = o.bytes.len();
            let Some(dst) = buf.get_mut(..len) else { continue };
            dst.copy_from_slice(&o.bytes);
            return Some(Transmit { local: o.local, remote: o.remote, len, port: o.port });
        }
        None
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Runs the timers due at `now` (retransmissions, half-open expiry).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, spi)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, spi));
            self.armed.remove(&spi);
            let (mut ctx, sas) = self.split(now);
            if let Some(sa) = sas.get_mut(&spi) {
                sa.handle_timeout(&mut ctx);
            }
            self.after(spi);
        }
    }

    /// The next event for the host.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
