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
#[derive(Debug, Clone)]
pub(crate) struct Usage {
    pub(crate) installed: Instant,
    pub(crate) bytes: u64,
    pub(crate) packets: u64,
    soft_reported: bool,
    hard_reported: bool,
    pub(crate) lifetimes: Lifetimes,
}

fn reached(l: &LifetimeLimits, bytes: u64, packets: u64, age: Duration) -> bool {
    l.bytes.is_some_and(|b| bytes >= b)
        || l.packets.is_some_and(|p| packets >= p)
        || l.time.is_some_and(|t| age >= t)
}

impl Usage {
    pub(crate) fn new(now: Instant, lifetimes: Lifetimes) -> Self {
        Usage { installed: now, bytes: 0, packets: 0, soft_reported: false, hard_reported: false, lifetimes }
    }

    /// True when a hard limit has been reached.
    pub(crate) fn hard_expired(&self, now: Instant) -> bool {
        reached(&self.lifetimes.hard, self.bytes, self.packets, now - self.installed)
    }

    /// Count a packet of `bytes` inner bytes; report a limit the first time it is crossed.
    pub(crate) fn count(&mut self, now: Instant, bytes: usize) -> Option<LifetimeEvent> {
        self.bytes = self.bytes.saturating_add(bytes as u64);
        self.packets = self.packets.saturating_add(1);
        self.poll(now)
    }

    /// Report a limit reached by time alone (or by earlier counting) that was not reported yet.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<LifetimeEvent> {
        let age = now - self.installed;
        if !self.hard_reported && reached(&self.lifetimes.hard, self.bytes, self.packets, age) {
            self.hard_reported = true;
            self.soft_reported = true;
            return Some(LifetimeEvent::Hard);
        }
        if !self.soft_reported && reached(&self.lifetimes.soft, self.bytes, self.packets, age) {
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
        let soft = (!self.soft_reported).then_some(self.lifetimes.soft.time).flatten();
        let hard = (!self.hard_reported).then_some(self.lifetimes.hard.time).flatten();
        [soft, hard].into_iter().flatten().map(|d| self.installed + d).min()
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
