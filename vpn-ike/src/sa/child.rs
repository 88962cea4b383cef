//! The Child SAs an IKE SA keeps (RFC 7296 §1.3), their keys (§2.17) and lifetimes with jitter
//! (§2.8).

use alloc::boxed::Box;
use alloc::vec::Vec;
use vpn_core::crypto::kex::KeyExchange as Kex;
use vpn_core::crypto::Prf;
use vpn_core::secret::SecretBytes;
use vpn_core::time::{Duration, Instant};
use vpn_core::ts::TrafficSelector;

use super::tasks::{Exchange, Task};
use super::{Ctx, IkeSa, State};
use crate::config::{EspSuite, Lifetimes, Mode};
use crate::event::{ChildDownReason, ChildKeys, ChildSaInfo, Event, UdpEncap};
use crate::keys::{child_keymat, encr_key_len, integ_key_len};
use crate::message::{ExchangeType, Payload};

/// Where a Child SA is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildState {
    /// Carrying traffic.
    Installed,
    /// Our CREATE_CHILD_SA rekeying it is in flight.
    Rekeying,
    /// Replaced by the Child SA with inbound SPI `new`; it goes with the Delete that follows
    /// the rekey (sent by the rekey's initiator, RFC 7296 §2.8).
    Rekeyed {
        /// The successor's inbound SPI.
        new: u32,
        /// The host was told to send on the successor (`ChildSaRekeyed`).
        switched: bool,
    },
    /// Our Delete of it is in flight (or queued).
    Deleting {
        /// A redundant SA from simultaneous rekeys (RFC 7296 §2.8.1).
        redundant: bool,
    },
}

/// One Child SA (an ESP SA pair).
#[derive(Debug, Clone)]
pub(crate) struct ChildSa {
    pub(crate) spi_in: u32,
    pub(crate) spi_out: u32,
    pub(crate) mode: Mode,
    pub(crate) local_ts: Vec<TrafficSelector>,
    pub(crate) remote_ts: Vec<TrafficSelector>,
    pub(crate) state: ChildState,
    pub(crate) rekey_at: Instant,
    pub(crate) expire_at: Instant,
    /// Its hard lifetime passed and its Delete is queued or in flight.
    pub(crate) expired: bool,
}

/// Child SAs one IKE SA may hold; a peer asking for more gets NO_ADDITIONAL_SAS (RFC 7296 §1.3).
const MAX_CHILD_SAS: usize = 64;

/// The Child SAs of one IKE SA (replaced and dying ones included).
#[derive(Default)]
pub(crate) struct ChildTable {
    sas: Vec<ChildSa>,
}

impl ChildTable {
    pub(crate) fn insert(&mut self, c: ChildSa) {
        self.sas.push(c);
    }

    pub(crate) fn iter(&self) -> core::slice::Iter<'_, ChildSa> {
        self.sas.iter()
    }

    /// The Child SA with our inbound SPI `spi_in`.
    pub(crate) fn by_in(&self, spi_in: u32) -> Option<&ChildSa> {
        self.sas.iter().find(|c| c.spi_in == spi_in)
    }

    pub(crate) fn by_in_mut(&mut self, spi_in: u32) -> Option<&mut ChildSa> {
        self.sas.iter_mut().find(|c| c.spi_in == spi_in)
    }

    /// The Child SA with outbound SPI `spi_out`: the SPI the peer names it by (RFC 7296 §1.4.1).
    pub(crate) fn by_out(&self, spi_out: u32) -> Option<&ChildSa> {
        self.sas.iter().find(|c| c.spi_out == spi_out)
    }

    pub(crate) fn contains(&self, spi_in: u32) -> bool {
        self.by_in(spi_in).is_some()
    }

    /// No room for another Child SA (RFC 7296 §1.3: NO_ADDITIONAL_SAS).
    pub(crate) fn is_full(&self) -> bool {
        self.sas.len() >= MAX_CHILD_SAS
    }

    /// Takes the Child SA with inbound SPI `spi_in` out of the table.
    pub(crate) fn remove(&mut self, spi_in: u32) -> Option<ChildSa> {
        let i = self.sas.iter().position(|c| c.spi_in == spi_in)?;
        Some(self.sas.swap_remove(i))
    }

    pub(crate) fn clear(&mut self) {
        self.sas.clear();
    }

    /// The next lifetime timer that will act (RFC 7296 §2.8).
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        // Only what will act: expired ones and ones being deleted wait for their Delete.
        self.sas
            .iter()
            .filter(|c| !c.expired)
            .filter_map(|c| match c.state {
                ChildState::Installed => Some(c.rekey_at.min(c.expire_at)),
                ChildState::Deleting { .. } => None,
                _ => Some(c.expire_at),
            })
            .min()
    }

    /// The work due at `now`: rekeys at the soft lifetime, deletes at the hard one (RFC 7296 §2.8).
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Task> {
        let mut tasks = Vec::new();
        let mut expired = Vec::new();
        for c in self.sas.iter_mut().filter(|c| !c.expired) {
            if c.expire_at <= now && !matches!(c.state, ChildState::Deleting { .. }) {
                c.expired = true;
                expired.push(c.spi_in);
            } else if c.state == ChildState::Installed && c.rekey_at <= now {
                // Once queued, it is not queued again until the rekey fails.
                c.rekey_at = c.expire_at;
                tasks.push(Task::RekeyChild(c.spi_in));
            }
        }
        if !expired.is_empty() {
            tasks.push(Task::DeleteChildren(expired));
        }
        tasks
    }
}

/// Our CREATE_CHILD_SA request for a Child SA, with what its response needs.
pub(crate) struct ChildRequest {
    pub(crate) spi_in: u32,
    /// The inbound SPI of the Child SA being rekeyed.
    pub(crate) rekey: Option<u32>,
    pub(crate) nonce: Vec<u8>,
    pub(crate) kex: Option<Kex>,
    pub(crate) suites: Vec<EspSuite>,
    pub(crate) mode: Mode,
    pub(crate) local_ts: Vec<TrafficSelector>,
    pub(crate) remote_ts: Vec<TrafficSelector>,
    pub(crate) retries: u8,
    /// The peer rekeyed the same Child SA meanwhile (RFC 7296 §2.8.1): the inbound SPI of the
    /// SA that created and the lowest nonce of that exchange.
    pub(crate) collision: Option<(u32, Vec<u8>)>,
}

/// ESP keys from KEYMAT = prf+(SK_d, [g^ir (new)] | Ni | Nr): i->r encryption and integrity,
/// then r->i (RFC 7296 §2.17).
pub(crate) fn child_keys(
    prf: Prf,
    sk_d: &[u8],
    gir: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    suite: &EspSuite,
) -> Option<(ChildKeys, ChildKeys)> {
    let e = encr_key_len(suite.encr, suite.encr_key_bits).ok()?;
    let a = integ_key_len(suite.encr, suite.integ).ok()?;
    let km = child_keymat(prf, sk_d, gir, ni, nr, 2 * (e + a)).ok()?;
    let k = km.expose();
    let part = |from: usize, len: usize| k.get(from..from + len).and_then(|b| SecretBytes::new(b).ok());
    let i_to_r = ChildKeys { encr: part(0, e)?, integ: part(e, a)? };
    let r_to_i = ChildKeys { encr: part(e + a, e)?, integ: part(2 * e + a, a)? };
    Some((i_to_r, r_to_i))
}

/// `soft` shortened at random by up to a tenth, so both ends do not rekey at once (RFC 7296 §2.8).
pub(crate) fn jittered(ctx: &mut Ctx<'_>, soft: Duration) -> Duration {
    let tenth = u64::try_from(soft.as_nanos() / 10).unwrap_or(u64::MAX);
    let cut = if tenth == 0 { 0 } else { ctx.rng.next_u64() % tenth };
    soft.saturating_sub(Duration::from_nanos(cut))
}

/// What a new Child SA is made of.
pub(crate) struct NewChild {
    pub(crate) suite: EspSuite,
    pub(crate) spi_in: u32,
    pub(crate) spi_out: u32,
    pub(crate) mode: Mode,
    pub(crate) local_ts: Vec<TrafficSelector>,
    pub(crate) remote_ts: Vec<TrafficSelector>,
    /// (i->r, r->i) keys.
    pub(crate) keys: (ChildKeys, ChildKeys),
    /// The inbound SPI of the Child SA it replaces.
    pub(crate) rekey_of: Option<u32>,
    /// We initiated the exchange that created it: KEYMAT's first keys are ours outbound
    /// (RFC 7296 §2.17).
    pub(crate) we_initiated: bool,
}

impl IkeSa {
    pub(crate) fn prf(&self) -> Option<Prf> {
        self.suite.and_then(|s| s.prf().ok())
    }

    fn child_lifetimes(&self) -> Lifetimes {
        self.peer.as_ref().map(|p| p.child_lifetimes).unwrap_or_default()
    }

    /// Records a new Child SA and tells the host (`ChildSaUp`).
    pub(crate) fn child_up(&mut self, ctx: &mut Ctx<'_>, c: NewChild) {
        let (i_to_r, r_to_i) = c.keys;
        let (keys_out, keys_in) = if c.we_initiated { (i_to_r, r_to_i) } else { (r_to_i, i_to_r) };
        // RFC 3948, RFC 7296 §2.23: ESP is UDP-encapsulated when a NAT was detected.
        let nat = self.nat.local_behind_nat || self.nat.remote_behind_nat;
        let udp_encap = (self.natt && nat)
            .then_some(UdpEncap { local_port: self.local.port(), remote_port: self.remote.port() });
        let lifetimes = self.child_lifetimes();
        let soft = jittered(ctx, lifetimes.soft);
        self.children.insert(ChildSa {
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            mode: c.mode,
            local_ts: c.local_ts.clone(),
            remote_ts: c.remote_ts.clone(),
            state: ChildState::Installed,
            rekey_at: ctx.now + soft,
            expire_at: ctx.now + lifetimes.hard,
            expired: false,
        });
        let connection = self.peer.as_ref().map(|p| p.connection).unwrap_or_default();
        ctx.events.push_back(Event::ChildSaUp(Box::new(ChildSaInfo {
            handle: self.handle,
            connection,
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            encr: c.suite.encr,
            encr_key_bits: c.suite.encr_key_bits,
            integ: c.suite.integ,
            keys_in,
            keys_out,
            esn: c.suite.esn,
            mode: c.mode,
            udp_encap,
            local_addr: self.local,
            remote_addr: self.remote,
            local_ts: c.local_ts,
            remote_ts: c.remote_ts,
            lifetimes,
            rekey_of: c.rekey_of,
        })));
    }

    /// The host's view of the Child SAs.
    pub(crate) fn child_snapshots(&self) -> Vec<crate::info::ChildSaSnapshot> {
        use crate::info::ChildSaState as S;
        self.children
            .iter()
            .map(|c| crate::info::ChildSaSnapshot {
                spi_in: c.spi_in,
                spi_out: c.spi_out,
                state: match c.state {
                    ChildState::Installed => S::Installed,
                    ChildState::Rekeying => S::Rekeying,
                    ChildState::Rekeyed { .. } => S::Rekeyed,
                    ChildState::Deleting { .. } => S::Deleting,
                },
                rekey_at: c.rekey_at,
                expire_at: c.expire_at,
            })
            .collect()
    }

    /// Whether our IKE SA rekey is in flight.
    pub(crate) fn rekeying_ike(&self) -> bool {
        self.tasks.rekeying_ike()
    }

    pub(crate) fn child_by_in(&mut self, spi_in: u32) -> Option<&mut ChildSa> {
        self.children.by_in_mut(spi_in)
    }

    /// Whether a Child SA has inbound SPI `spi_in`.
    pub(crate) fn has_child(&self, spi_in: u32) -> bool {
        self.children.contains(spi_in)
    }

    /// The (inbound, outbound) SPIs of the Child SAs.
    pub(crate) fn child_spis(&self) -> Vec<(u32, u32)> {
        self.children.iter().map(|c| (c.spi_in, c.spi_out)).collect()
    }

    /// Forgets a Child SA and tells the host (`ChildSaDown`); a Child SA replaced by a rekey
    /// first has its successor take over outbound traffic (`ChildSaRekeyed`).
    pub(crate) fn child_down(&mut self, ctx: &mut Ctx<'_>, spi_in: u32, reason: ChildDownReason) {
        let Some(c) = self.children.remove(spi_in) else { return };
        let reason = match c.state {
            ChildState::Rekeyed { new, switched } => {
                if !switched && self.children.contains(new) {
                    let handle = self.handle;
                    ctx.events.push_back(Event::ChildSaRekeyed {
                        handle,
                        old_spi_in: spi_in,
                        new_spi_in: new,
                    });
                }
                ChildDownReason::Rekeyed
            }
            ChildState::Deleting { redundant: true } => ChildDownReason::Redundant,
            _ => reason,
        };
        ctx.events.push_back(Event::ChildSaDown {
            handle: self.handle,
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            reason,
        });
    }

    /// Marks `old` as replaced by `new`; `switch`: the host sends on `new` from now on.
    pub(crate) fn replaced(&mut self, ctx: &mut Ctx<'_>, old: u32, new: u32, switch: bool) {
        let handle = self.handle;
        if let Some(c) = self.child_by_in(old) {
            c.state = ChildState::Rekeyed { new, switched: switch };
            if switch {
                ctx.events.push_back(Event::ChildSaRekeyed { handle, old_spi_in: old, new_spi_in: new });
            }
        }
    }

    /// Queues a task unless the same is queued already.
    pub(crate) fn queue(&mut self, t: Task) {
        self.tasks.queue(t);
    }

    /// The Child SAs' and the IKE SA's own lifetime timers, and the liveness check.
    pub(crate) fn lifetime_timeout(&self) -> Option<Instant> {
        let c = self.children.next_timeout();
        // Queued work an IKE SA inherited from its predecessor starts at once.
        let queued =
            (!self.window.in_flight() && self.tasks.has_queued()).then_some(self.timers.last_heard());
        let ike = [self.timers.next_lifetime(), self.dpd_at(), queued].into_iter().flatten();
        c.into_iter().chain(ike).min()
    }

    /// Runs due lifetime timers: rekeys at the soft lifetime, deletes at the hard one.
    pub(crate) fn run_lifetimes(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        for t in self.children.due(now) {
            self.queue(t);
        }
        if self.timers.take_expiry_due(now) {
            // RFC 7296 §2.8: the hard lifetime passed without a successful rekey.
            self.close_with(ctx, crate::event::DownReason::Expired);
            return;
        }
        if self.timers.take_rekey_due(now) {
            self.queue(Task::RekeyIke);
        }
        if self.dpd_at().is_some_and(|t| t <= now) && !self.tasks.has_queued() {
            self.queue(Task::Dpd);
        }
    }

    /// When a liveness check is due: `dpd_interval` after the last sign of life, if idle.
    pub(crate) fn dpd_at(&self) -> Option<Instant> {
        let interval = self.peer.as_ref()?.dpd_interval?;
        if self.window.in_flight() || self.tasks.has_queued() || self.state != State::Established {
            return None;
        }
        Some(self.timers.liveness_due_at(interval))
    }

    /// Host request: rekey the Child SA with inbound SPI `spi_in`.
    pub(crate) fn host_rekey_child(&mut self, spi_in: u32) -> bool {
        let Some(c) = self.child_by_in(spi_in) else { return false };
        if c.state == ChildState::Installed {
            c.rekey_at = c.expire_at;
            self.queue(Task::RekeyChild(spi_in));
        }
        true
    }

    /// Starts the next queued request when the window is free (RFC 7296 §2.3).
    pub(crate) fn drive(&mut self, ctx: &mut Ctx<'_>) {
        while !self.window.in_flight() && self.state == State::Established {
            let Some(t) = self.tasks.pop() else { return };
            self.start(ctx, t);
        }
    }

    /// Sends the request of `task`.
    fn start(&mut self, ctx: &mut Ctx<'_>, task: Task) {
        match task {
            Task::CreateChild => self.request_child(ctx, None),
            Task::RekeyChild(spi) => self.request_child(ctx, Some(spi)),
            Task::DeleteChildren(spis) => self.request_delete_children(ctx, spis),
            Task::RekeyIke => self.request_ike_rekey(ctx),
            Task::Dpd => {
                self.tasks.started(Exchange::Dpd);
                self.send_request(ctx, ExchangeType::Informational, &[]);
            }
        }
    }

    /// The answer to our request of exchange `x`.
    pub(super) fn on_response(&mut self, ctx: &mut Ctx<'_>, x: Exchange, p: &[Payload]) {
        match x {
            Exchange::CreateChild(req) => self.on_create_child_response(ctx, *req, p),
            Exchange::DeleteChildren(spis) => self.on_delete_children_response(ctx, &spis, p),
            Exchange::Dpd => {}
            Exchange::RekeyIke(req) => self.on_ike_rekey_response(ctx, *req, p),
        }
    }
}
