//! The Security Policy Database (RFC 4301 §4.4.1): ordered policies that decide, for each
//! packet, whether it is protected by an SA, bypasses IPsec, or is discarded.

use alloc::vec::Vec;

use vpn_core::packet::FiveTuple;
use vpn_core::ts::{SelectorSet, TrafficSelector};

/// What to do with a packet a policy matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyAction {
    /// Protect with the outbound SA under this SAD key (inbound: must have arrived through IPsec).
    Protect {
        /// The outbound SA's key in the [`Sad`](crate::Sad).
        sa: u32,
    },
    /// Pass in the clear.
    Bypass,
    /// Drop.
    Discard,
}

/// One policy: packets from the `local` selectors to the `remote` selectors get `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Our side's selectors.
    pub local: Vec<TrafficSelector>,
    /// The peer side's selectors.
    pub remote: Vec<TrafficSelector>,
    /// What to do.
    pub action: PolicyAction,
    /// Lower runs first; equal priorities keep insertion order.
    pub priority: u64,
    /// An identifier the host chooses (a connection or Child SA id) to find the policy again.
    pub tag: u64,
}

/// Ordered policies. A packet no policy matches is discarded (RFC 4301 §4.4.1: default deny).
#[derive(Debug, Clone, Default)]
pub struct Spd {
    policies: Vec<Policy>,
    /// Each policy's (local, remote) selectors compiled for the packet path, same order.
    compiled: Vec<(SelectorSet, SelectorSet)>,
}

impl Spd {
    /// An empty SPD.
    pub fn new() -> Self {
        Spd::default()
    }

    /// Add a policy in priority order (after others of the same priority).
    pub fn insert(&mut self, p: Policy) {
        let at = self.policies.iter().position(|q| q.priority > p.priority).unwrap_or(self.policies.len());
        self.compiled.insert(at, (SelectorSet::new(&p.local), SelectorSet::new(&p.remote)));
        self.policies.insert(at, p);
    }

    /// Remove every policy with `tag`; returns how many.
    pub fn remove_tag(&mut self, tag: u64) -> usize {
        let before = self.policies.len();
        let mut keep = self.policies.iter().map(|p| p.tag != tag);
        self.compiled.retain(|_| keep.next().unwrap_or(true));
        self.policies.retain(|p| p.tag != tag);
        before - self.policies.len()
    }

    /// Point every `Protect` policy with `tag` at another outbound SA (after a rekey).
    pub fn retarget(&mut self, tag: u64, sa: u32) {
        for p in self.policies.iter_mut().filter(|p| p.tag == tag) {
            if let PolicyAction::Protect { .. } = p.action {
                p.action = PolicyAction::Protect { sa };
            }
        }
    }

    /// The policies in order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The first policy for a packet we send (source in `local`, destination in `remote`).
    pub fn lookup_outbound(&self, t: &FiveTuple) -> Option<&Policy> {
        let i = self
            .compiled
            .iter()
            .position(|(l, r)| !is_empty(l, r) && SelectorSet::packet_matches(l, r, t))?;
        self.policies.get(i)
    }

    /// The first policy for a packet we receive (source in `remote`, destination in `local`).
    pub fn lookup_inbound(&self, t: &FiveTuple) -> Option<&Policy> {
        let i = self
            .compiled
            .iter()
            .position(|(l, r)| !is_empty(l, r) && SelectorSet::packet_matches(r, l, t))?;
        self.policies.get(i)
    }

    /// The action for an outbound packet, [`PolicyAction::Discard`] when nothing matches.
    pub fn outbound_action(&self, t: &FiveTuple) -> PolicyAction {
        self.lookup_outbound(t).map_or(PolicyAction::Discard, |p| p.action)
    }

    /// Whether a packet that arrived in the clear may be accepted (RFC 4301 §5.2: a packet a
    /// Protect policy covers must have come through IPsec).
    pub fn accept_cleartext(&self, t: &FiveTuple) -> bool {
        matches!(self.lookup_inbound(t).map(|p| p.action), Some(PolicyAction::Bypass))
    }
}

/// A policy with no selectors on a side matches nothing (as `packet_matches` on an empty list
/// decides), while a compiled empty set would match everything.
fn is_empty(local: &SelectorSet, remote: &SelectorSet) -> bool {
    local.is_any() || remote.is_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use vpn_core::packet::PROTO_UDP;

    fn ts(s: &str) -> TrafficSelector {
        s.parse().unwrap()
    }

    fn tuple(src: &str, dst: &str, dport: u16) -> FiveTuple {
        FiveTuple {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: PROTO_UDP,
            ports: Some((999, dport)),
        }
    }

    fn reply(src: &str, dst: &str, sport: u16) -> FiveTuple {
        FiveTuple {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: PROTO_UDP,
            ports: Some((sport, 999)),
        }
    }

    #[test]
    fn first_match_in_priority_order_and_default_deny() {
        let mut spd = Spd::new();
        spd.insert(Policy {
            local: vec![ts("10.1.0.0/24")],
            remote: vec![ts("10.2.0.0/24")],
            action: PolicyAction::Protect { sa: 7 },
            priority: 10,
            tag: 1,
        });
        spd.insert(Policy {
            local: vec![ts("10.1.0.0/24")],
            remote: vec![ts("10.2.0.0/24[udp/53]")],
            action: PolicyAction::Bypass,
            priority: 5,
            tag: 2,
        });
        assert_eq!(spd.outbound_action(&tuple("10.1.0.1", "10.2.0.1", 53)), PolicyAction::Bypass);
        assert_eq!(spd.outbound_action(&tuple("10.1.0.1", "10.2.0.1", 54)), PolicyAction::Protect { sa: 7 });
        assert_eq!(spd.outbound_action(&tuple("10.1.0.1", "10.3.0.1", 54)), PolicyAction::Discard);
        // Inbound direction swaps the sides.
        assert!(spd.accept_cleartext(&reply("10.2.0.1", "10.1.0.1", 53)));
        assert!(!spd.accept_cleartext(&reply("10.2.0.1", "10.1.0.1", 54)));
        spd.retarget(1, 9);
        assert_eq!(spd.outbound_action(&tuple("10.1.0.1", "10.2.0.1", 54)), PolicyAction::Protect { sa: 9 });
        assert_eq!(spd.remove_tag(2), 1);
        assert_eq!(spd.outbound_action(&tuple("10.1.0.1", "10.2.0.1", 53)), PolicyAction::Protect { sa: 9 });
    }
}
