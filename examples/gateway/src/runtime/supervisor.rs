//! The connection supervisor: decides when each configured connection is (re)initiated.
//!
//! Connections that initiate (`connection_mode = "default"` or `"initiator-only"` with a fixed
//! remote address, [`Restart::Always`]) are always-on: whenever no IKE SA serves them any more,
//! for any reason but a local `terminate`, they are scheduled again with an exponential backoff
//! with jitter. Responder-only connections and those with `remote_address = "%any"`
//! ([`Restart::Never`]) just wait for the peer. Initiations are paced: at most `max_connecting`
//! connections are in the Connecting state at a time, so a gateway with a thousand connections
//! does not fire a thousand IKE_SA_INITs at once (and trip the peers' cookie or DoS thresholds).
//!
//! The supervisor is a pure, deterministic state machine: it does no I/O and reads no clock,
//! every method takes `now`, and the jitter comes from a ChaCha8 generator seeded by the caller.
//! The caller's loop: [`Supervisor::due`] names the connections to initiate now; for each, the
//! caller starts an IKE SA and reports [`Supervisor::initiating`] (or
//! [`Supervisor::failed_to_start`]); it reports the endpoint's events with [`Supervisor::up`],
//! [`Supervisor::down`] and [`Supervisor::rekeyed`], the operator's commands with
//! [`Supervisor::terminate`] and [`Supervisor::initiate`], and it wakes at
//! [`Supervisor::next_deadline`] at the latest.
//!
//! Backoff rule: the n-th consecutive loss (n ≥ 1: a failed or timed-out attempt, or the loss of
//! an established connection) schedules the next attempt after
//! `min(60 s, min(2^(n-1) s, 60 s) × f)` with `f` uniform in [0.8, 1.2] (in parts per million),
//! so the delays run about 1, 2, 4, 8, 16, 32 s, then stay within [48 s, 60 s]. `up()` resets n.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use vpn_ike::event::IkeSaHandle;

/// First retry delay (before jitter).
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay (after jitter too).
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A Connecting entry older than this is treated as failed (safety net: normally the IKE
/// endpoint reports a Timeout `down()` well before).
pub const CONNECTING_TIMEOUT: Duration = Duration::from_secs(300);
/// Default for `max_connecting`.
pub const DEFAULT_MAX_CONNECTING: usize = 16;

/// Jitter factor bounds, in parts per million.
const JITTER_MIN_PPM: u64 = 800_000;
const JITTER_SPAN_PPM: u64 = 400_000;

/// Whether a connection is re-established by us when it goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Always-on: `default` or `initiator-only` with a fixed remote address.
    Always,
    /// Wait for the peer: `responder-only`, or a remote address of `%any`.
    Never,
}

impl Restart {
    /// The policy of a configured connection.
    pub fn of(connection: &crate::config::Connection) -> Restart {
        if connection.initiates() {
            Restart::Always
        } else {
            Restart::Never
        }
    }
}

/// What a connection is doing, as the status table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Terminated by the operator: stays down until `initiate`.
    Down,
    /// Waiting for the peer to initiate (responder-only, `%any`).
    Waiting,
    /// An attempt is scheduled at `next_retry` (or waits for a free pacing slot).
    Scheduled,
    /// An attempt of ours is under way.
    Connecting,
    /// At least one IKE SA of the connection is authenticated.
    Established,
}

/// A snapshot of one connection for the status table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnStatus {
    /// See [`ConnState`].
    pub state: ConnState,
    /// Consecutive losses since the connection was last up (the backoff exponent).
    pub attempt: u32,
    /// When the next attempt is due (state Scheduled only).
    pub next_retry: Option<Instant>,
    /// Why it last failed or went down (kept after it recovers).
    pub last_error: Option<String>,
    /// Since when it has been established without interruption.
    pub established_since: Option<Instant>,
    /// Its IKE SAs, connecting or up, in handle order.
    pub handles: Vec<IkeSaHandle>,
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing scheduled: Down (admin) or Waiting (for the peer).
    Idle,
    /// In the queue under this key.
    Queued(QueueKey),
    /// An attempt is under way since `since`; `awaiting_handle` until `initiating()` names its SA.
    Connecting { since: Instant, seq: u64, awaiting_handle: bool },
    /// Some SA is up.
    Established,
}

/// Order of the queue: operator requests first, then by due time, then first queued first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct QueueKey {
    class: Class,
    at: Instant,
    seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// `initiate()` by the operator: due at once, ahead of the retries.
    Operator,
    /// A start or retry due at `at`.
    Timer,
}

#[derive(Debug)]
struct Entry {
    restart: Restart,
    admin_down: bool,
    phase: Phase,
    attempt: u32,
    last_error: Option<String>,
    established_since: Option<Instant>,
    /// Its IKE SAs: true once authenticated.
    handles: BTreeMap<IkeSaHandle, bool>,
}

impl Entry {
    fn any_up(&self) -> bool {
        self.handles.values().any(|&up| up)
    }
}

/// The supervisor of all connections; see the module documentation.
#[derive(Debug)]
pub struct Supervisor {
    rng: ChaCha8Rng,
    max_connecting: usize,
    seq: u64,
    entries: BTreeMap<String, Entry>,
    /// Scheduled connections.
    queue: BTreeMap<QueueKey, String>,
    /// Connecting connections by (since, seq), for pacing and the safety net.
    connecting: BTreeSet<(Instant, u64, String)>,
}

impl Supervisor {
    /// A supervisor with jitter seeded by `seed`, allowing `max_connecting` (at least 1)
    /// connections in the Connecting state at a time.
    pub fn new(seed: u64, max_connecting: usize) -> Self {
        Supervisor {
            rng: ChaCha8Rng::seed_from_u64(seed),
            max_connecting: max_connecting.max(1),
            seq: 0,
            entries: BTreeMap::new(),
            queue: BTreeMap::new(),
            connecting: BTreeSet::new(),
        }
    }

    /// Adds a connection: Always ones are due at once (subject to pacing, in the order added),
    /// Never ones wait for the peer. Adding a known name only changes its policy (config reload).
    pub fn add(&mut self, name: &str, restart: Restart, now: Instant) {
        if let Some(entry) = self.entries.get_mut(name) {
            entry.restart = restart;
            let (admin_down, phase) = (entry.admin_down, entry.phase);
            match (restart, phase) {
                // Became always-on while idle: start it.
                (Restart::Always, Phase::Idle) if !admin_down => self.enqueue(name, Class::Timer, now),
                // No longer ours to start: wait for the peer instead.
                (Restart::Never, Phase::Queued(_)) => self.set_phase(name, Phase::Idle),
                _ => {}
            }
            return;
        }
        self.entries.insert(
            name.to_string(),
            Entry {
                restart,
                admin_down: false,
                phase: Phase::Idle,
                attempt: 0,
                last_error: None,
                established_since: None,
                handles: BTreeMap::new(),
            },
        );
        if restart == Restart::Always {
            self.enqueue(name, Class::Timer, now);
        }
    }

    /// Forgets a connection entirely (its schedule, handles and history). The caller closes its
    /// SAs; their later `down()` is ignored.
    pub fn remove(&mut self, name: &str) {
        self.set_phase(name, Phase::Idle);
        self.entries.remove(name);
    }

    /// The connections to initiate now, best first, at most as many as free pacing slots. Each
    /// is Connecting from here on; the caller reports `initiating()` or `failed_to_start()`.
    /// Connecting entries older than [`CONNECTING_TIMEOUT`] are failed first (safety net).
    pub fn due(&mut self, now: Instant) -> Vec<String> {
        self.expire_connecting(now);
        let mut out = Vec::new();
        let mut free = self.max_connecting.saturating_sub(self.connecting.len());
        let mut keys = self.queue.iter();
        while free > 0 {
            let Some((key, name)) = keys.next() else { break };
            if key.at > now {
                // Timers are in due order: none later is due either. (Operator entries are due
                // at once; one stamped in the future comes only from a clock going backwards.)
                if key.class == Class::Timer {
                    break;
                }
                continue;
            }
            out.push(name.clone());
            free -= 1;
        }
        for name in &out {
            let seq = self.next_seq();
            self.set_phase(name, Phase::Connecting { since: now, seq, awaiting_handle: true });
        }
        out
    }

    /// The caller started IKE SA `handle` for `name` (normally right after `due()` named it).
    pub fn initiating(&mut self, name: &str, handle: IkeSaHandle, now: Instant) {
        let Some(entry) = self.entries.get_mut(name) else { return };
        entry.handles.entry(handle).or_insert(false);
        match entry.phase {
            Phase::Connecting { since, seq, .. } => {
                entry.phase = Phase::Connecting { since, seq, awaiting_handle: false };
            }
            Phase::Established => {}
            // Started outside `due()`: it is connecting all the same, and counts for pacing.
            Phase::Idle | Phase::Queued(_) => {
                let seq = self.next_seq();
                self.set_phase(name, Phase::Connecting { since: now, seq, awaiting_handle: false });
            }
        }
    }

    /// The attempt `due()` handed out could not even start (no route, no socket): a failure.
    pub fn failed_to_start(&mut self, name: &str, error: String, now: Instant) {
        let Some(entry) = self.entries.get_mut(name) else { return };
        entry.last_error = Some(error);
        if let Phase::Connecting { since, seq, .. } = entry.phase {
            entry.phase = Phase::Connecting { since, seq, awaiting_handle: false };
            self.settle(name, now);
        }
    }

    /// IKE SA `handle` of `name` authenticated (ours or the peer's): Established, backoff reset.
    pub fn up(&mut self, name: &str, handle: IkeSaHandle, now: Instant) {
        let Some(entry) = self.entries.get_mut(name) else { return };
        entry.handles.insert(handle, true);
        // A successful connection resets the backoff.
        entry.attempt = 0;
        if entry.phase != Phase::Established {
            entry.established_since = Some(now);
            // Frees the pacing slot, or cancels a scheduled retry (the peer was first).
            self.set_phase(name, Phase::Established);
        }
    }

    /// IKE SA `handle` of `name` ended (known or not: a peer's SA we never saw come up is fine).
    /// If another SA still serves the connection, nothing changes; otherwise Always connections
    /// are scheduled again with backoff, unless terminated by the operator.
    pub fn down(&mut self, name: &str, handle: IkeSaHandle, reason: &str, now: Instant) {
        let Some(entry) = self.entries.get_mut(name) else { return };
        entry.handles.remove(&handle);
        // Another authenticated SA still serves it (the peer's and ours, a rekey): nothing to do.
        if entry.any_up() {
            return;
        }
        entry.last_error = Some(reason.to_string());
        self.settle(name, now);
    }

    /// RFC 7296 §2.18: the IKE SA `old` was rekeyed into `new`; the connection stays up.
    pub fn rekeyed(&mut self, name: &str, old: IkeSaHandle, new: IkeSaHandle) {
        let Some(entry) = self.entries.get_mut(name) else { return };
        // The new SA is authenticated by inheritance, whatever we knew of the old one.
        entry.handles.remove(&old);
        entry.handles.insert(new, true);
    }

    /// Administratively down: nothing is scheduled until `initiate()`. The caller closes the
    /// SAs; their `down()` then leaves the connection Down.
    pub fn terminate(&mut self, name: &str) {
        let Some(entry) = self.entries.get_mut(name) else { return };
        entry.admin_down = true;
        match entry.phase {
            Phase::Queued(_) => self.set_phase(name, Phase::Idle),
            // An attempt without an SA yet: dropped at once (frees its pacing slot).
            Phase::Connecting { .. } if entry.handles.is_empty() => self.set_phase(name, Phase::Idle),
            _ => {}
        }
    }

    /// Clears an administrative down and starts the connection at once, ahead of the retries
    /// (still within the pacing limit). The backoff starts over. Nothing if already connecting
    /// or established.
    pub fn initiate(&mut self, name: &str, now: Instant) {
        let Some(entry) = self.entries.get_mut(name) else { return };
        entry.admin_down = false;
        entry.attempt = 0;
        if let Phase::Idle | Phase::Queued(_) = entry.phase {
            self.enqueue(name, Class::Operator, now);
        }
    }

    /// When `due()` may next return something new (or fail a stale attempt); in the past means
    /// at once. None when nothing is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let safety = self.connecting.first().map(|(since, _, _)| *since + CONNECTING_TIMEOUT);
        if self.connecting.len() >= self.max_connecting {
            // No slot: only a reported event or the safety net frees one.
            return safety;
        }
        let operator = self.queue.keys().find(|k| k.class == Class::Operator).map(|k| k.at);
        let timer = self.queue.keys().find(|k| k.class == Class::Timer).map(|k| k.at);
        [safety, operator, timer].into_iter().flatten().min()
    }

    /// The status of `name`, if known.
    pub fn status(&self, name: &str) -> Option<ConnStatus> {
        let entry = self.entries.get(name)?;
        let (state, next_retry) = match entry.phase {
            Phase::Idle if entry.admin_down => (ConnState::Down, None),
            Phase::Idle => (ConnState::Waiting, None),
            Phase::Queued(key) => (ConnState::Scheduled, Some(key.at)),
            Phase::Connecting { .. } => (ConnState::Connecting, None),
            Phase::Established => (ConnState::Established, None),
        };
        Some(ConnStatus {
            state,
            attempt: entry.attempt,
            next_retry,
            last_error: entry.last_error.clone(),
            established_since: entry.established_since,
            handles: entry.handles.keys().copied().collect(),
        })
    }

    /// The names known, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Fails the Connecting entries older than [`CONNECTING_TIMEOUT`].
    fn expire_connecting(&mut self, now: Instant) {
        while let Some((since, _, name)) = self.connecting.first() {
            if *since + CONNECTING_TIMEOUT > now {
                break;
            }
            let name = name.clone();
            let Some(entry) = self.entries.get_mut(&name) else {
                self.connecting.retain(|(_, _, n)| *n != name);
                continue;
            };
            // Its unauthenticated SAs are written off (a late `up()` still counts).
            entry.handles.retain(|_, up| *up);
            if entry.any_up() {
                // Only if the caller reported a rekey (an authenticated SA) but never `up()`.
                entry.established_since.get_or_insert(now);
                self.set_phase(&name, Phase::Established);
                continue;
            }
            entry.last_error = Some(format!("no answer in {} s", CONNECTING_TIMEOUT.as_secs()));
            if let Phase::Connecting { since, seq, .. } = entry.phase {
                entry.phase = Phase::Connecting { since, seq, awaiting_handle: false };
            }
            // No handle remains and none is awaited: this leaves Connecting (retry or idle).
            self.settle(&name, now);
        }
    }

    /// Recomputes the phase of `name` after it lost an SA or an attempt.
    fn settle(&mut self, name: &str, now: Instant) {
        let Some(entry) = self.entries.get_mut(name) else { return };
        if entry.any_up() {
            return;
        }
        let connecting = !entry.handles.is_empty();
        match entry.phase {
            // Another attempt of ours is still under way (or `initiating()` has yet to name it).
            Phase::Connecting { awaiting_handle, .. } if connecting || awaiting_handle => return,
            // Already scheduled or idle: a stray SA (the peer's, never up) changes nothing.
            Phase::Queued(_) | Phase::Idle => return,
            // The last authenticated SA went, but an attempt of ours is in flight: Connecting.
            Phase::Established if connecting => {
                entry.established_since = None;
                let seq = self.next_seq();
                self.set_phase(name, Phase::Connecting { since: now, seq, awaiting_handle: false });
                return;
            }
            Phase::Connecting { .. } | Phase::Established => {}
        }
        entry.established_since = None;
        // Terminated by the operator, or not ours to start: no retry.
        if entry.admin_down || entry.restart == Restart::Never {
            self.set_phase(name, Phase::Idle);
            return;
        }
        // Every loss (failed attempt, timeout, lost connection) counts toward the backoff.
        entry.attempt = entry.attempt.saturating_add(1);
        let delay = backoff(&mut self.rng, entry.attempt);
        self.enqueue(name, Class::Timer, now + delay);
    }

    /// Queues `name` in `class` due at `at`, replacing its phase.
    fn enqueue(&mut self, name: &str, class: Class, at: Instant) {
        let seq = self.next_seq();
        self.set_phase(name, Phase::Queued(QueueKey { class, at, seq }));
    }

    /// Moves `name` to `phase`, keeping the queue and the connecting index in step.
    fn set_phase(&mut self, name: &str, phase: Phase) {
        let Some(entry) = self.entries.get_mut(name) else { return };
        match entry.phase {
            Phase::Queued(key) => {
                self.queue.remove(&key);
            }
            Phase::Connecting { since, seq, .. } => {
                self.connecting.remove(&(since, seq, name.to_string()));
            }
            Phase::Idle | Phase::Established => {}
        }
        entry.phase = phase;
        match phase {
            Phase::Queued(key) => {
                self.queue.insert(key, name.to_string());
            }
            Phase::Connecting { since, seq, .. } => {
                self.connecting.insert((since, seq, name.to_string()));
            }
            Phase::Idle | Phase::Established => {}
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// The delay before the next attempt after the `attempt`-th consecutive loss (see the module
/// documentation): `min(60 s, min(2^(attempt-1) s, 60 s) × f)`, `f` uniform in [0.8, 1.2].
fn backoff(rng: &mut ChaCha8Rng, attempt: u32) -> Duration {
    let base = BACKOFF_BASE.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(BACKOFF_MAX);
    let ppm = JITTER_MIN_PPM + u64::from(rng.next_u32()) % (JITTER_SPAN_PPM + 1);
    let nanos = u64::try_from(base.as_nanos()).unwrap_or(u64::MAX).saturating_mul(ppm) / 1_000_000;
    Duration::from_nanos(nanos).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: IkeSaHandle = IkeSaHandle(1);
    const H2: IkeSaHandle = IkeSaHandle(2);
    const H3: IkeSaHandle = IkeSaHandle(3);

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn state(s: &Supervisor, name: &str) -> ConnState {
        s.status(name).unwrap().state
    }

    fn retry_in(s: &Supervisor, name: &str, now: Instant) -> Duration {
        s.status(name).unwrap().next_retry.unwrap() - now
    }

    #[test]
    fn supervisor_backoff_sequence() {
        let mut s = Supervisor::new(7, 16);
        let mut now = Instant::now();
        s.add("a", Restart::Always, now);
        let expected = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0];
        for (i, base) in expected.iter().enumerate() {
            assert_eq!(s.due(now), vec!["a".to_string()]);
            let h = IkeSaHandle(i as u64 + 1);
            s.initiating("a", h, now);
            s.down("a", h, "Timeout", now);
            let st = s.status("a").unwrap();
            assert_eq!(st.state, ConnState::Scheduled);
            assert_eq!(st.attempt, i as u32 + 1);
            assert_eq!(st.last_error.as_deref(), Some("Timeout"));
            let d = retry_in(&s, "a", now);
            assert!(d >= secs(base * 0.8) && d <= secs(base * 1.2).min(BACKOFF_MAX), "{i}: {d:?}");
            // Not due before its time.
            assert!(s.due(now + d - Duration::from_millis(1)).is_empty());
            assert_eq!(s.next_deadline(), Some(now + d));
            now += d;
        }
    }

    #[test]
    fn supervisor_backoff_is_deterministic_by_seed() {
        let run = |seed| {
            let mut s = Supervisor::new(seed, 16);
            let now = Instant::now();
            s.add("a", Restart::Always, now);
            let mut delays = Vec::new();
            let mut t = now;
            for _ in 0..8 {
                s.due(t);
                s.failed_to_start("a", "no route".into(), t);
                let d = retry_in(&s, "a", t);
                delays.push(d);
                t += d;
            }
            delays
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn supervisor_failed_to_start_backs_off() {
        let mut s = Supervisor::new(1, 16);
        let now = Instant::now();
        s.add("a", Restart::Always, now);
        assert_eq!(s.due(now).len(), 1);
        s.failed_to_start("a", "no route to host".into(), now);
        let st = s.status("a").unwrap();
        assert_eq!(st.state, ConnState::Scheduled);
        assert_eq!(st.attempt, 1);
        assert_eq!(st.last_error.as_deref(), Some("no route to host"));
    }

    #[test]
    fn supervisor_timeout_while_connecting_is_a_failure_and_up_resets() {
        let mut s = Supervisor::new(1, 16);
        let mut now = Instant::now();
        s.add("a", Restart::Always, now);
        for i in 0..3u64 {
            s.due(now);
            s.initiating("a", IkeSaHandle(i), now);
            assert_eq!(state(&s, "a"), ConnState::Connecting);
            s.down("a", IkeSaHandle(i), "Timeout", now + secs(30.0));
            now += secs(30.0);
            assert_eq!(s.status("a").unwrap().attempt, i as u32 + 1);
            now += retry_in(&s, "a", now);
        }
        s.due(now);
        s.initiating("a", H3, now);
        s.up("a", H3, now);
        let st = s.status("a").unwrap();
        assert_eq!(st.state, ConnState::Established);
        assert_eq!(st.attempt, 0);
        assert_eq!(st.established_since, Some(now));
        assert_eq!(st.handles, vec![H3]);
        // Lost later (DPD): back to the first step of the backoff.
        let later = now + secs(3600.0);
        s.down("a", H3, "DPD: peer dead", later);
        let st = s.status("a").unwrap();
        assert_eq!((st.state, st.attempt), (ConnState::Scheduled, 1));
        assert_eq!(st.established_since, None);
        assert!(retry_in(&s, "a", later) <= secs(1.2));
    }

    #[test]
    fn supervisor_other_sa_keeps_connection_up() {
        let mut s = Supervisor::new(1, 16);
        let now = Instant::now();
        s.add("a", Restart::Always, now);
        s.due(now);
        s.initiating("a", H1, now);
        s.up("a", H1, now);
        // The peer's own SA for the same connection.
        s.up("a", H2, now + secs(1.0));
        assert_eq!(s.status("a").unwrap().established_since, Some(now));
        s.down("a", H1, "Replaced", now + secs(2.0));
        let st = s.status("a").unwrap();
        assert_eq!(st.state, ConnState::Established);
        assert_eq!(st.handles, vec![H2]);
        assert_eq!(st.last_error, None);
        assert_eq!(st.established_since, Some(now));
        assert_eq!(s.next_deadline(), None);
        s.down("a", H2, "DeletedByPeer", now + secs(3.0));
        assert_eq!(state(&s, "a"), ConnState::Scheduled);
    }

    #[test]
    fn supervisor_rekey_changes_handle() {
        let mut s = Supervisor::new(1, 16);
        let now = Instant::now();
        s.add("a", Restart::Always, now);
        s.due(now);
        s.initiating("a", H1, now);
        s.up("a", H1, now);
        s.rekeyed("a", H1, H2);
        assert_eq!(s.status("a").unwrap().handles, vec![H2]);
        // The old SA's end (if reported) changes nothing.
        s.down("a", H1, "Closed", now + secs(5.0));
        assert_eq!(state(&s, "a"), ConnState::Established);
        s.down("a", H2, "Expired", now + secs(10.0));
        assert_eq!(state(&s, "a"), ConnState::Scheduled);
        assert_eq!(s.status("a").unwrap().last_error.as_deref(), Some("Expired"));
    }

    #[test]
    fn supervisor_peer_initiated_sa() {
        let mut s = Supervisor::new(1, 16);
        let now = Instant::now();
        s.add("a", Restart::Always, now);
        s.due(now);
        s.failed_to_start("a", "no route".into(), now);
        assert_eq!(state(&s, "a"), ConnState::Scheduled);
        // The peer got there first with an SA the supervisor never saw initiated.
        s.up("a", IkeSaHandle(99), now + secs(0.5));
        let st = s.status("a").unwrap();
        assert_eq!((st.state, st.attempt, st.next_retry), (ConnState::Established, 0, None));
        assert!(s.due(now + secs(10.0)).is_empty());
        s.down("a", IkeSaHandle(99), "DeletedByPeer", now + secs(20.0));
        assert_eq!(state(&s, "a"), ConnState::Scheduled);
        // A peer's SA that never came up (unknown handle) while we wait: the schedule stands.
        let at = s.status("a").unwrap().next_retry;
        s.down("a", IkeSaHandle(100), "HalfOpenTimeout", now + secs(20.5));
        assert_eq!(s.status("a").unwrap().next_retry, at);
        // ... and while we connect: our attempt stands.
        s.due(now + secs(30.0));
        s.initiating("a", H1, now + secs(30.0));
        s.down("a", IkeSaHandle(101), "HalfOpenTimeout", now + secs(30.5));
        let st = s.status("a").unwrap();
        assert_eq!((st.state, st.handles), (ConnState::Connecting, vec![H1]));
    }

    #[test]
    fn supervisor_responder_only_waits() {
        let mut s = Supervisor::new(1, 16);
        let now = Instant::now();
        s.add("r", Restart::Never, now);
        assert_eq!(state(&s, "r"), ConnState::Waiting);
        assert!(s.due(now).is_empty());
        assert_eq!(s.next_deadline(), None);
        s.up("r", H1, now);
        assert_eq!(state(&s, "r"), ConnState::Established);
        s.down("r", H1, "DeletedByPeer", now);
        let st = s.status("r").unwrap();
        assert_eq!((st.state, st.next_retry), (ConnState::Waiting, None));
        assert!(s.due(now + secs(100.0)).is_empty());
    }

    #[test]
    fn supervisor_terminate_and_initiate() {
        let mut s = Supervisor::new(1, 16);
        let now = Instant::now();
        s.add("a", Restart::Always, now);
        s.due(now);
        s.initiating("a", H1, now);
        s.up("a", H1, now);
        s.terminate("a");
        // The caller closes the SA; its end does not reschedule.
        s.down("a", H1, "Closed", now + secs(1.0));
        let st = s.status("a").unwrap();
        assert_eq!((st.state, st.next_retry), (ConnState::Down, None));
        assert!(s.due(now + secs(1000.0)).is_empty());
        assert_eq!(s.next_deadline(), None);
        // Terminating a scheduled connection cancels its retry.
        s.add("b", Restart::Always, now);
        s.due(now);
        s.failed_to_start("b", "no route".into(), now);
        s.terminate("b");
        assert_eq!(state(&s, "b"), ConnState::Down);
        assert!(s.due(now + secs(1000.0)).is_empty());
        // initiate() brings it back.
        let t = now + secs(1000.0);
        s.initiate("a", t);
        assert_eq!(state(&s, "a"), ConnState::Scheduled);
        assert_eq!(s.next_deadline(), Some(t));
        assert_eq!(s.due(t), vec!["a".to_string()]);
        s.initiating("a", H2, t);
        s.down("a", H2, "Timeout", t + secs(30.0));
        // ... as always-on again.
        assert_eq!(state(&s, "a"), ConnState::Scheduled);
    }

    #[test]
    fn supervisor_terminate_while_connecting() {
        let mut s = Supervisor::new(1, 1);
        let now = Instant::now();
        s.add("a", Restart::Always, now);
        s.add("b", Restart::Always, now);
        assert_eq!(s.due(now), vec!["a".to_string()]);
        s.initiating("a", H1, now);
        s.terminate("a");
        assert_eq!(state(&s, "a"), ConnState::Connecting);
        s.down("a", H1, "Closed", now);
        assert_eq!(state(&s, "a"), ConnState::Down);
        // Its slot is free for the next.
        assert_eq!(s.due(now), vec!["b".to_string()]);
    }

    #[test]
    fn supervisor_initiate_goes_first() {
        let mut s = Supervisor::new(1, 2);
        let now = Instant::now();
        for i in 0..5 {
            s.add(&format!("c{i}"), Restart::Always, now);
        }
        s.add("r", Restart::Never, now);
        s.initiate("c4", now);
        s.initiate("r", now);
        assert_eq!(s.due(now), vec!["c4".to_string(), "r".to_string()]);
        // A responder-only connection started by the operator goes back to waiting.
        s.failed_to_start("r", "no route".into(), now);
        assert_eq!(state(&s, "r"), ConnState::Waiting);
        assert_eq!(s.due(now), vec!["c0".to_string()]);
    }

    #[test]
    fn supervisor_pacing_1000() {
        let mut s = Supervisor::new(42, DEFAULT_MAX_CONNECTING);
        let now = Instant::now();
        let names: Vec<String> = (0..1000).map(|i| format!("conn{i:04}")).collect();
        for n in &names {
            s.add(n, Restart::Always, now);
        }
        let first = s.due(now);
        assert_eq!(first, names[..16].to_vec());
        for (i, n) in first.iter().enumerate() {
            s.initiating(n, IkeSaHandle(i as u64), now);
        }
        // No more until a slot frees, however late.
        assert!(s.due(now + secs(60.0)).is_empty());
        assert_eq!(s.next_deadline(), Some(now + CONNECTING_TIMEOUT));
        let t = now + secs(1.0);
        s.up(&first[0], IkeSaHandle(0), t);
        assert_eq!(s.next_deadline(), Some(now));
        assert_eq!(s.due(t), vec![names[16].clone()]);
        s.initiating(&names[16], IkeSaHandle(16), t);
        s.down(&first[1], IkeSaHandle(1), "Timeout", t);
        assert_eq!(s.due(t), vec![names[17].clone()]);
        s.failed_to_start(&names[17], "no route".into(), t);
        assert_eq!(s.due(t), vec![names[18].clone()]);
        assert!(s.due(t).is_empty());
        // Resolve what is outstanding, then bring up whatever is handed out, round by round:
        // never more than 16 at a time, and all 1000 end up established.
        for (i, n) in first.iter().enumerate().skip(2) {
            s.up(n, IkeSaHandle(i as u64), t);
        }
        s.up(&names[16], IkeSaHandle(16), t);
        s.failed_to_start(&names[18], "no route".into(), t);
        let mut h = 1000u64;
        let mut t = t;
        for _ in 0..100 {
            t += secs(1.0);
            let batch = s.due(t);
            assert!(batch.len() <= DEFAULT_MAX_CONNECTING);
            for n in batch {
                h += 1;
                s.initiating(&n, IkeSaHandle(h), t);
                s.up(&n, IkeSaHandle(h), t);
            }
        }
        assert!(names.iter().all(|n| state(&s, n) == ConnState::Established));
    }

    #[test]
    fn supervisor_pacing_all_1000_in_rounds() {
        let mut s = Supervisor::new(3, 16);
        let now = Instant::now();
        let names: Vec<String> = (0..1000).map(|i| format!("c{i:04}")).collect();
        for n in &names {
            s.add(n, Restart::Always, now);
        }
        let mut t = now;
        let mut established = 0;
        let mut h = 0u64;
        let mut rounds = 0;
        // Every round: new ones are handed out, at most 16, and all of them come up.
        while established < 1000 {
            let batch = s.due(t);
            assert!(!batch.is_empty() && batch.len() <= 16);
            let handles: Vec<IkeSaHandle> = batch
                .iter()
                .map(|n| {
                    h += 1;
                    s.initiating(n, IkeSaHandle(h), t);
                    IkeSaHandle(h)
                })
                .collect();
            assert!(s.due(t).is_empty());
            for (n, handle) in batch.iter().zip(handles) {
                s.up(n, handle, t);
                established += 1;
            }
            t += secs(0.1);
            rounds += 1;
        }
        assert_eq!(rounds, 63);
        assert!(names.iter().all(|n| state(&s, n) == ConnState::Established));
        assert!(s.due(t).is_empty());
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn supervisor_connecting_safety_net() {
        let mut s = Supervisor::new(1, 16);
        let now = Instant::now();
        s.add("a", Restart::Always, now);
        s.add("b", Restart::Always, now);
        assert_eq!(s.due(now).len(), 2);
        s.initiating("a", H1, now);
        // "b" never gets initiating() nor failed_to_start().
        assert_eq!(s.next_deadline(), Some(now + CONNECTING_TIMEOUT));
        assert!(s.due(now + CONNECTING_TIMEOUT - secs(1.0)).is_empty());
        assert_eq!(state(&s, "a"), ConnState::Connecting);
        let t = now + CONNECTING_TIMEOUT;
        assert!(s.due(t).is_empty());
        for n in ["a", "b"] {
            let st = s.status(n).unwrap();
            assert_eq!((st.state, st.attempt), (ConnState::Scheduled, 1));
            assert_eq!(st.last_error.as_deref(), Some("no answer in 300 s"));
            assert!(st.handles.is_empty());
        }
        // A late report of the written-off SA does not count twice.
        let at = s.status("a").unwrap().next_retry;
        s.down("a", H1, "Timeout", t + secs(0.1));
        assert_eq!(s.status("a").unwrap().next_retry, at);
        assert_eq!(s.status("a").unwrap().attempt, 1);
    }

    #[test]
    fn supervisor_remove_forgets() {
        let mut s = Supervisor::new(1, 1);
        let now = Instant::now();
        s.add("a", Restart::Always, now);
        s.add("b", Restart::Always, now);
        assert_eq!(s.due(now), vec!["a".to_string()]);
        s.initiating("a", H1, now);
        s.remove("a");
        assert!(s.status("a").is_none());
        // Its late events are ignored, and its slot is free.
        s.down("a", H1, "Closed", now);
        s.up("a", H2, now);
        assert!(s.status("a").is_none());
        assert_eq!(s.due(now), vec!["b".to_string()]);
        s.remove("b");
        assert_eq!(s.next_deadline(), None);
        assert!(s.queue.is_empty() && s.connecting.is_empty());
        // Added again: a fresh start.
        s.add("a", Restart::Always, now);
        let st = s.status("a").unwrap();
        assert_eq!((st.state, st.attempt, st.last_error), (ConnState::Scheduled, 0, None));
    }

    #[test]
    fn supervisor_add_again_changes_policy() {
        let mut s = Supervisor::new(1, 16);
        let now = Instant::now();
        s.add("a", Restart::Never, now);
        s.add("a", Restart::Always, now);
        assert_eq!(s.due(now), vec!["a".to_string()]);
        s.failed_to_start("a", "no route".into(), now);
        s.add("a", Restart::Never, now);
        assert_eq!(state(&s, "a"), ConnState::Waiting);
        assert!(s.due(now + secs(100.0)).is_empty());
    }

    #[test]
    fn supervisor_jitter_spreads_simultaneous_failures() {
        let mut s = Supervisor::new(9, 1000);
        let now = Instant::now();
        let names: Vec<String> = (0..1000).map(|i| format!("c{i:04}")).collect();
        for n in &names {
            s.add(n, Restart::Always, now);
        }
        let batch = s.due(now);
        assert_eq!(batch.len(), 1000);
        for (i, n) in batch.iter().enumerate() {
            s.initiating(n, IkeSaHandle(i as u64), now);
        }
        // The peer went away: every attempt times out at the same instant.
        let t = now + secs(30.0);
        for (i, n) in batch.iter().enumerate() {
            s.down(n, IkeSaHandle(i as u64), "Timeout", t);
        }
        let delays: Vec<Duration> = names.iter().map(|n| retry_in(&s, n, t)).collect();
        let min = delays.iter().min().copied().unwrap();
        let max = delays.iter().max().copied().unwrap();
        assert!(min >= secs(0.8) && max <= secs(1.2));
        assert!(max - min >= secs(0.35), "spread {:?}", max - min);
        let distinct: BTreeSet<Duration> = delays.iter().copied().collect();
        assert!(distinct.len() >= 990, "{} distinct", distinct.len());
        // Roughly uniform: each 100 ms bucket of [0.8 s, 1.2 s] holds about a quarter.
        let mut buckets = [0usize; 4];
        for d in &delays {
            buckets[((d.as_secs_f64() - 0.8) / 0.1).floor().clamp(0.0, 3.0) as usize] += 1;
        }
        assert!(buckets.iter().all(|&b| (180..=320).contains(&b)), "{buckets:?}");
        // And their retries are paced like the first start, no storm even at max_connecting.
        let mut s2 = Supervisor::new(9, 16);
        for n in &names {
            s2.add(n, Restart::Always, now);
        }
        assert_eq!(s2.due(now).len(), 16);
    }

    #[test]
    fn supervisor_backoff_function_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for attempt in 1..=40 {
            let base = BACKOFF_BASE.saturating_mul(1 << (attempt - 1).min(16)).min(BACKOFF_MAX);
            for _ in 0..100 {
                let d = backoff(&mut rng, attempt);
                assert!(d >= base.mul_f64(0.8) && d <= base.mul_f64(1.2).min(BACKOFF_MAX), "{attempt}");
            }
        }
        assert!(backoff(&mut rng, u32::MAX) <= BACKOFF_MAX);
    }
}
