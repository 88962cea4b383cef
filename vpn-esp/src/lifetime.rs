//! SA lifetimes (RFC 4301 §4.4.2.1): soft limits ask for a rekey, hard limits end the SA.

use vpn_core::time::{Duration, Instant};

/// Limits of one kind (soft or hard); `None` means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifetimeLimits {
    /// Bytes of inner traffic.
    pub bytes: Option<u64>,
    /// Packets.
    pub packets: Option<u64>,
    /// Time since the SA was installed.
    pub time: Option<Duration>,
}

/// Soft and hard lifetimes of an SA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lifetimes {
    /// When reached, the SA asks for a rekey ([`LifetimeEvent::Soft`]).
    pub soft: LifetimeLimits,
    /// When reached, the SA refuses to carry more traffic ([`LifetimeEvent::Hard`]).
    pub hard: LifetimeLimits,
}

/// What a lifetime check found, reported once per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifetimeEvent {
    /// A soft limit was reached: rekey now.
    Soft,
    /// A hard limit was reached: the SA is expired.
    Hard,
}

/// Usage of one SA against its lifetimes.
///
/// The packet path compares integers only: time limits are kept as absolute nanosecond
/// deadlines, so no `Duration` is built (and no division done) per packet.
#[derive(Debug, Clone)]
pub(crate) struct Usage {
    pub(crate) bytes: u64,
    pub(crate) packets: u64,
    soft_reported: bool,
    hard_reported: bool,
    soft: Limits,
    hard: Limits,
}

/// One kind of limit as absolute thresholds (`u64::MAX`: none).
#[derive(Debug, Clone, Copy)]
struct Limits {
    bytes: u64,
    packets: u64,
    deadline_ns: u64,
}

impl Limits {
    fn new(l: &LifetimeLimits, installed: Instant) -> Self {
        Limits {
            bytes: l.bytes.unwrap_or(u64::MAX),
            packets: l.packets.unwrap_or(u64::MAX),
            deadline_ns: l.time.map_or(u64::MAX, |t| (installed + t).as_nanos()),
        }
    }

    fn reached(&self, bytes: u64, packets: u64, now: Instant) -> bool {
        bytes >= self.bytes || packets >= self.packets || now.as_nanos() >= self.deadline_ns
    }
}

impl Usage {
    pub(crate) fn new(now: Instant, lifetimes: Lifetimes) -> Self {
        Usage {
            bytes: 0,
            packets: 0,
            soft_reported: false,
            hard_reported: false,
            soft: Limits::new(&lifetimes.soft, now),
            hard: Limits::new(&lifetimes.hard, now),
        }
    }

    /// True when a hard limit has been reached.
    #[inline]
    pub(crate) fn hard_expired(&self, now: Instant) -> bool {
        self.hard.reached(self.bytes, self.packets, now)
    }

    /// Count a packet of `bytes` inner bytes; report a limit the first time it is crossed.
    #[inline]
    pub(crate) fn count(&mut self, now: Instant, bytes: usize) -> Option<LifetimeEvent> {
        self.bytes = self.bytes.saturating_add(bytes as u64);
        self.packets = self.packets.saturating_add(1);
        if self.soft_reported && self.hard_reported {
            return None;
        }
        self.poll(now)
    }

    /// Report a limit reached by time alone (or by earlier counting) that was not reported yet.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<LifetimeEvent> {
        if !self.hard_reported && self.hard.reached(self.bytes, self.packets, now) {
            self.hard_reported = true;
            self.soft_reported = true;
            return Some(LifetimeEvent::Hard);
        }
        if !self.soft_reported && self.soft.reached(self.bytes, self.packets, now) {
            self.soft_reported = true;
            return Some(LifetimeEvent::Soft);
        }
        None
    }

    /// Ask for a rekey for another reason (sequence numbers running out).
    pub(crate) fn force_soft(&mut self) -> Option<LifetimeEvent> {
        if self.soft_reported {
            None
        } else {
            self.soft_reported = true;
            Some(LifetimeEvent::Soft)
        }
    }

    /// The next instant at which a time limit will fire, if any is pending.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let soft =
            (!self.soft_reported && self.soft.deadline_ns != u64::MAX).then_some(self.soft.deadline_ns);
        let hard =
            (!self.hard_reported && self.hard.deadline_ns != u64::MAX).then_some(self.hard.deadline_ns);
        [soft, hard].into_iter().flatten().min().map(Instant::from_nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_then_hard_each_reported_once() {
        let l = Lifetimes {
            soft: LifetimeLimits { packets: Some(2), ..Default::default() },
            hard: LifetimeLimits {
                bytes: Some(300),
                time: Some(Duration::from_secs(60)),
                ..Default::default()
            },
        };
        let t0 = Instant::from_secs(100);
        let mut u = Usage::new(t0, l);
        assert_eq!(u.count(t0, 100), None);
        assert_eq!(u.count(t0, 100), Some(LifetimeEvent::Soft));
        assert_eq!(u.count(t0, 50), None);
        assert!(!u.hard_expired(t0));
        assert_eq!(u.count(t0, 50), Some(LifetimeEvent::Hard));
        assert!(u.hard_expired(t0));
        assert_eq!(u.poll(t0), None);
    }

    #[test]
    fn time_limits_fire_from_poll() {
        let l = Lifetimes {
            soft: LifetimeLimits { time: Some(Duration::from_secs(10)), ..Default::default() },
            hard: LifetimeLimits { time: Some(Duration::from_secs(20)), ..Default::default() },
        };
        let mut u = Usage::new(Instant::ZERO, l);
        assert_eq!(u.next_deadline(), Some(Instant::from_secs(10)));
        assert_eq!(u.poll(Instant::from_secs(9)), None);
        assert_eq!(u.poll(Instant::from_secs(10)), Some(LifetimeEvent::Soft));
        assert_eq!(u.next_deadline(), Some(Instant::from_secs(20)));
        assert_eq!(u.poll(Instant::from_secs(25)), Some(LifetimeEvent::Hard));
        assert_eq!(u.next_deadline(), None);
    }
}
