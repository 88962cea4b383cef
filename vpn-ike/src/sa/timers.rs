//! The IKE SA's own timers: its lifetimes (RFC 7296 §2.8), the liveness of the peer (§1.4,
//! §2.4), the half-open limit of a responder (§2.6) and how long an ended SA lingers (§2.21.2).

use vpn_core::time::{Duration, Instant};

/// When the IKE SA acts on its own.
pub(crate) struct Timers {
    /// Rekey at the soft lifetime, with jitter (RFC 7296 §2.8).
    rekey_at: Option<Instant>,
    /// Delete at the hard lifetime (RFC 7296 §2.8).
    expire_at: Option<Instant>,
    /// The last authentic message from the peer, or inbound ESP the host reported.
    last_heard: Instant,
    /// A responder's half-open SA is dropped when IKE_AUTH does not come (RFC 7296 §2.6).
    half_open_deadline: Option<Instant>,
    /// When a lingering SA is finally dropped.
    linger_until: Option<Instant>,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            rekey_at: None,
            expire_at: None,
            last_heard: Instant::from_nanos(0),
            half_open_deadline: None,
            linger_until: None,
        }
    }
}

impl Timers {
    /// An authentic message from the peer arrived at `now`.
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// The host saw authentic ESP at `now`; false when that is not news.
    pub(crate) fn heard_traffic(&mut self, now: Instant) -> bool {
        if self.last_heard < now {
            self.last_heard = now;
            return true;
        }
        false
    }

    /// The last sign of life of the peer.
    pub(crate) fn last_heard(&self) -> Instant {
        self.last_heard
    }

    /// A liveness check is due `interval` after the last sign of life (RFC 7296 §1.4).
    pub(crate) fn liveness_due_at(&self, interval: Duration) -> Instant {
        self.last_heard + interval
    }

    /// Arms the rekey (soft) and delete (hard) lifetimes (RFC 7296 §2.8).
    pub(crate) fn set_lifetime(&mut self, rekey_at: Instant, expire_at: Instant) {
        self.rekey_at = Some(rekey_at);
        self.expire_at = Some(expire_at);
    }

    /// When the IKE SA is rekeyed.
    pub(crate) fn rekey_at(&self) -> Option<Instant> {
        self.rekey_at
    }

    /// When the IKE SA is deleted.
    pub(crate) fn expire_at(&self) -> Option<Instant> {
        self.expire_at
    }

    /// The earlier of the lifetime timers.
    pub(crate) fn next_lifetime(&self) -> Option<Instant> {
        [self.rekey_at, self.expire_at].into_iter().flatten().min()
    }

    /// A refused rekey is tried again at `at` (RFC 7296 §2.25).
    pub(crate) fn retry_rekey_at(&mut self, at: Instant) {
        self.rekey_at = Some(at);
    }

    /// A replaced IKE SA is kept until `at` at the latest, for the peer's Delete (RFC 7296 §2.18).
    pub(crate) fn keep_until(&mut self, at: Instant) {
        self.expire_at = Some(at);
    }

    /// True (once) when the soft lifetime has passed at `now`.
    pub(crate) fn take_rekey_due(&mut self, now: Instant) -> bool {
        let due = self.rekey_at.is_some_and(|t| t <= now);
        if due {
            self.rekey_at = None;
        }
        due
    }

    /// True (once) when the hard lifetime has passed at `now`.
    pub(crate) fn take_expiry_due(&mut self, now: Instant) -> bool {
        let due = self.is_expired(now);
        if due {
            self.expire_at = None;
        }
        due
    }

    /// Whether the hard lifetime has passed at `now`.
    pub(crate) fn is_expired(&self, now: Instant) -> bool {
        self.expire_at.is_some_and(|t| t <= now)
    }

    /// A responder's half-open SA waits for IKE_AUTH until `deadline` (RFC 7296 §2.6).
    pub(crate) fn arm_half_open(&mut self, deadline: Instant) {
        self.half_open_deadline = Some(deadline);
    }

    /// The SA is no longer half-open.
    pub(crate) fn disarm_half_open(&mut self) {
        self.half_open_deadline = None;
    }

    /// When the half-open limit runs out.
    pub(crate) fn half_open_deadline(&self) -> Option<Instant> {
        self.half_open_deadline
    }

    /// True (once) when the half-open limit has run out at `now`.
    pub(crate) fn take_half_open_due(&mut self, now: Instant) -> bool {
        let due = self.half_open_deadline.is_some_and(|d| d <= now);
        if due {
            self.half_open_deadline = None;
        }
        due
    }

    /// The ended SA stays until `until` only to repeat its last answer (RFC 7296 §2.21.2).
    pub(crate) fn linger(&mut self, until: Instant) {
        self.half_open_deadline = None;
        self.linger_until = Some(until);
    }

    /// When a lingering SA is dropped.
    pub(crate) fn linger_until(&self) -> Option<Instant> {
        self.linger_until
    }

    /// Whether a lingering SA may be dropped at `now`.
    pub(crate) fn linger_over(&self, now: Instant) -> bool {
        self.linger_until.is_some_and(|t| t <= now)
    }
}
