//! Traffic selectors (RFC 7296 §3.13.1, RFC 4301 §4.4.1): an address range, an IP protocol and a
//! port range. One implementation serves IKE narrowing (RFC 7296 §2.9) and the ESP SPD and
//! inbound selector checks (RFC 4301 §5.2).

use alloc::vec::Vec;
use core::cmp::{max, min};
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

use crate::packet::{FiveTuple, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// Why a traffic selector cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsError {
    /// Start and end addresses are of different families.
    #[error("start and end addresses are of different families")]
    FamilyMismatch,
    /// The start address is above the end address.
    #[error("start address is above end address")]
    AddressRangeInverted,
    /// The start port is above the end port (and the range is not OPAQUE, 65535-0).
    #[error("start port is above end port")]
    PortRangeInverted,
    /// A prefix length beyond 32 (IPv4) or 128 (IPv6).
    #[error("prefix length {0} is too long for the address family")]
    BadPrefix(u8),
    /// Text that is not a selector.
    #[error("not a traffic selector (expected ADDR, ADDR/PREFIX or ADDR-ADDR, optionally [PROTO/PORT])")]
    Syntax,
}

/// One traffic selector: addresses `start_addr..=end_addr`, protocol (0 = any) and ports
/// `start_port..=end_port`. Ports 65535..0 mean OPAQUE (RFC 4301 §4.4.1.1): only packets whose
/// ports cannot be seen match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrafficSelector {
    start_addr: IpAddr,
    end_addr: IpAddr,
    ip_proto: u8,
    start_port: u16,
    end_port: u16,
}

/// An address as (family, integer), so ranges of either family compare alike.
fn key(a: IpAddr) -> (u8, u128) {
    match a {
        IpAddr::V4(v4) => (4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (6, u128::from(v6)),
    }
}

fn from_key(family: u8, v: u128) -> IpAddr {
    if family == 4 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

impl TrafficSelector {
    /// A selector from its fields, as carried in a TS payload.
    pub fn new(
        start_addr: IpAddr,
        end_addr: IpAddr,
        ip_proto: u8,
        start_port: u16,
        end_port: u16,
    ) -> Result<Self, TsError> {
        let (fs, s) = key(start_addr);
        let (fe, e) = key(end_addr);
        if fs != fe {
            return Err(TsError::FamilyMismatch);
        }
        if s > e {
            return Err(TsError::AddressRangeInverted);
        }
        if start_port > end_port && !(start_port == 0xffff && end_port == 0) {
            return Err(TsError::PortRangeInverted);
        }
        Ok(TrafficSelector { start_addr, end_addr, ip_proto, start_port, end_port })
    }

    /// All addresses of `addr/prefix_len`, any protocol, any port.
    pub fn from_prefix(addr: IpAddr, prefix_len: u8) -> Result<Self, TsError> {
        let (fam, v) = key(addr);
        let bits: u8 = if fam == 4 { 32 } else { 128 };
        if prefix_len > bits {
            return Err(TsError::BadPrefix(prefix_len));
        }
        let host_bits = u32::from(bits - prefix_len);
        let host_mask: u128 = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
        let start = v & !host_mask;
        let end = start | host_mask;
        Ok(TrafficSelector {
            start_addr: from_key(fam, start),
            end_addr: from_key(fam, end),
            ip_proto: 0,
            start_port: 0,
            end_port: 0xffff,
        })
    }

    /// One address, any protocol, any port.
    pub fn from_addr(addr: IpAddr) -> Self {
        TrafficSelector { start_addr: addr, end_addr: addr, ip_proto: 0, start_port: 0, end_port: 0xffff }
    }

    /// Every IPv4 address (0.0.0.0/0).
    pub fn any_v4() -> Self {
        TrafficSelector {
            start_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            end_addr: IpAddr::V4(Ipv4Addr::BROADCAST),
            ip_proto: 0,
            start_port: 0,
            end_port: 0xffff,
        }
    }

    /// Every IPv6 address (::/0).
    pub fn any_v6() -> Self {
        TrafficSelector {
            start_addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            end_addr: IpAddr::V6(Ipv6Addr::from(u128::MAX)),
            ip_proto: 0,
            start_port: 0,
            end_port: 0xffff,
        }
    }

    /// The same addresses restricted to `ip_proto` and ports `start..=end`.
    pub fn with_protocol(self, ip_proto: u8, start_port: u16, end_port: u16) -> Result<Self, TsError> {
        TrafficSelector::new(self.start_addr, self.end_addr, ip_proto, start_port, end_port)
    }

    /// First address.
    pub fn start_addr(&self) -> IpAddr {
        self.start_addr
    }
    /// Last address.
    pub fn end_addr(&self) -> IpAddr {
        self.end_addr
    }
    /// IP protocol, 0 for any.
    pub fn ip_proto(&self) -> u8 {
        self.ip_proto
    }
    /// How many addresses the range covers, as the ceiling of its log2 (0 for one address,
    /// 32 for all of IPv4, 128 for all of IPv6): a measure of how specific it is.
    pub fn address_span_log2(&self) -> u8 {
        let (_, s) = key(self.start_addr);
        let (_, e) = key(self.end_addr);
        let n = e.saturating_sub(s);
        (128 - n.leading_zeros()) as u8
    }

    /// First port.
    pub fn start_port(&self) -> u16 {
        self.start_port
    }
    /// Last port.
    pub fn end_port(&self) -> u16 {
        self.end_port
    }
    /// True for an IPv4 selector.
    pub fn is_ipv4(&self) -> bool {
        self.start_addr.is_ipv4()
    }
    /// True when the port range is OPAQUE (RFC 4301 §4.4.1.1).
    pub fn is_opaque_ports(&self) -> bool {
        self.start_port == 0xffff && self.end_port == 0
    }
    /// True when every port matches.
    pub fn is_any_port(&self) -> bool {
        self.start_port == 0 && self.end_port == 0xffff
    }

    /// True when `addr` lies in the address range.
    pub fn contains_addr(&self, addr: IpAddr) -> bool {
        let (f, v) = key(addr);
        let (fs, s) = key(self.start_addr);
        let (_, e) = key(self.end_addr);
        f == fs && s <= v && v <= e
    }

    /// True when a packet of protocol `proto` and port `port` (None: ports not visible)
    /// matches the protocol and port parts.
    pub fn matches_proto_port(&self, proto: u8, port: Option<u16>) -> bool {
        if self.ip_proto != 0 && self.ip_proto != proto {
            return false;
        }
        if self.is_any_port() {
            return true;
        }
        match port {
            None => self.is_opaque_ports(),
            Some(p) => !self.is_opaque_ports() && self.start_port <= p && p <= self.end_port,
        }
    }

    /// The selector both `self` and `other` allow, if any (RFC 7296 §2.9 narrowing).
    pub fn intersect(&self, other: &TrafficSelector) -> Option<TrafficSelector> {
        let (fa, sa) = key(self.start_addr);
        let (fb, sb) = key(other.start_addr);
        if fa != fb {
            return None;
        }
        let (_, ea) = key(self.end_addr);
        let (_, eb) = key(other.end_addr);
        let (s, e) = (max(sa, sb), min(ea, eb));
        if s > e {
            return None;
        }
        let ip_proto = match (self.ip_proto, other.ip_proto) {
            (0, p) | (p, 0) => p,
            (a, b) if a == b => a,
            _ => return None,
        };
        let (start_port, end_port) = match (self.is_opaque_ports(), other.is_opaque_ports()) {
            (true, true) => (0xffff, 0),
            (true, false) if other.is_any_port() => (0xffff, 0),
            (false, true) if self.is_any_port() => (0xffff, 0),
            (true, false) | (false, true) => return None,
            (false, false) => {
                let (ps, pe) = (max(self.start_port, other.start_port), min(self.end_port, other.end_port));
                if ps > pe {
                    return None;
                }
                (ps, pe)
            }
        };
        Some(TrafficSelector {
            start_addr: from_key(fa, s),
            end_addr: from_key(fa, e),
            ip_proto,
            start_port,
            end_port,
        })
    }

    /// True when every packet `self` matches is also matched by `other`.
    pub fn is_subset_of(&self, other: &TrafficSelector) -> bool {
        self.intersect(other).as_ref() == Some(self)
    }

    /// The prefix length if the address range is exactly one CIDR block.
    pub fn prefix_len(&self) -> Option<u8> {
        let (fam, s) = key(self.start_addr);
        let (_, e) = key(self.end_addr);
        let bits: u32 = if fam == 4 { 32 } else { 128 };
        let span = e ^ s;
        // span must be 2^k - 1 with s aligned.
        if span.wrapping_add(1) & span != 0 || s & span != 0 {
            return None;
        }
        let host_bits = 128 - span.leading_zeros();
        u8::try_from(bits - host_bits).ok()
    }
}

/// RFC 7296 §2.9 narrowing: the parts of the `proposed` selectors that `policy` allows, in the
/// order proposed. Empty means TS_UNACCEPTABLE.
pub fn narrow(proposed: &[TrafficSelector], policy: &[TrafficSelector]) -> Vec<TrafficSelector> {
    let mut out: Vec<TrafficSelector> = Vec::new();
    for p in proposed {
        for q in policy {
            if let Some(i) = p.intersect(q) {
                if !out.iter().any(|o| i.is_subset_of(o)) {
                    out.retain(|o| !o.is_subset_of(&i));
                    out.push(i);
                }
            }
        }
    }
    out
}

/// True when some selector in `set` contains every packet of `ts`.
pub fn covered_by(ts: &TrafficSelector, set: &[TrafficSelector]) -> bool {
    set.iter().any(|s| ts.is_subset_of(s))
}

/// True when a packet with this 5-tuple, travelling from the `src_side` selectors to the
/// `dst_side` selectors, matches both (RFC 4301 §4.4.1: source fields against one side's
/// selectors, destination fields against the other's).
pub fn packet_matches(src_side: &[TrafficSelector], dst_side: &[TrafficSelector], t: &FiveTuple) -> bool {
    let (sp, dp) = match t.ports {
        Some((s, d)) => (Some(s), Some(d)),
        None => (None, None),
    };
    src_side.iter().any(|s| s.contains_addr(t.src) && s.matches_proto_port(t.protocol, sp))
        && dst_side.iter().any(|d| d.contains_addr(t.dst) && d.matches_proto_port(t.protocol, dp))
}

/// A set of selectors compiled for the packet path: integer ranges per family, matched against
/// a packet's header bytes without building addresses. An empty set matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectorSet {
    v4: Vec<Compiled<u32>>,
    v6: Vec<Compiled<u128>>,
    any: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Compiled<A> {
    start: A,
    end: A,
    proto: u8,
    ports: (u16, u16),
}

impl<A: PartialOrd + Copy> Compiled<A> {
    #[inline]
    fn matches(&self, a: A, proto: u8, port: Option<u16>) -> bool {
        if a < self.start || a > self.end || (self.proto != 0 && self.proto != proto) {
            return false;
        }
        match (self.ports, port) {
            ((0, 0xffff), _) => true,
            ((0xffff, 0), p) => p.is_none(),
            ((lo, hi), Some(p)) => lo <= p && p <= hi,
            (_, None) => false,
        }
    }
}

impl SelectorSet {
    /// Compile `set` (empty: match everything).
    pub fn new(set: &[TrafficSelector]) -> Self {
        let mut s = SelectorSet { any: set.is_empty(), ..Default::default() };
        for ts in set {
            let ports = (ts.start_port, ts.end_port);
            match (key(ts.start_addr), key(ts.end_addr)) {
                ((4, a), (_, b)) => {
                    s.v4.push(Compiled { start: a as u32, end: b as u32, proto: ts.ip_proto, ports })
                }
                ((_, a), (_, b)) => s.v6.push(Compiled { start: a, end: b, proto: ts.ip_proto, ports }),
            }
        }
        s
    }

    /// True when the set is empty and so matches everything.
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// True when an IPv4 address with this protocol and port is in the set.
    #[inline]
    pub fn matches_v4(&self, addr: u32, proto: u8, port: Option<u16>) -> bool {
        self.any || self.v4.iter().any(|c| c.matches(addr, proto, port))
    }

    /// True when an IPv6 address with this protocol and port is in the set.
    #[inline]
    pub fn matches_v6(&self, addr: u128, proto: u8, port: Option<u16>) -> bool {
        self.any || self.v6.iter().any(|c| c.matches(addr, proto, port))
    }

    /// True when `addr` with this protocol and port is in the set.
    pub fn matches(&self, addr: IpAddr, proto: u8, port: Option<u16>) -> bool {
        match addr {
            IpAddr::V4(a) => self.matches_v4(u32::from(a), proto, port),
            IpAddr::V6(a) => self.matches_v6(u128::from(a), proto, port),
        }
    }

    /// True when a packet with this 5-tuple goes from `src_side` to `dst_side`
    /// (RFC 4301 §4.4.1), as [`packet_matches`] decides.
    pub fn packet_matches(src_side: &SelectorSet, dst_side: &SelectorSet, t: &FiveTuple) -> bool {
        let (sp, dp) = match t.ports {
            Some((s, d)) => (Some(s), Some(d)),
            None => (None, None),
        };
        src_side.matches(t.src, t.protocol, sp) && dst_side.matches(t.dst, t.protocol, dp)
    }

    /// Check an IPv4 packet straight from its header bytes: source in `src_side`, destination in
    /// `dst_side`. `None` when the header is too short to tell (the caller validated lengths).
    #[inline]
    pub fn ipv4_packet_matches(src_side: &SelectorSet, dst_side: &SelectorSet, p: &[u8]) -> Option<bool> {
        let h = p.get(..20)?;
        let ihl = usize::from(h[0] & 0x0f) * 4;
        let proto = h[9];
        let src = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
        let dst = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
        let non_initial = u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0;
        let ports = if non_initial { None } else { crate::packet::upper_layer_ports(proto, p.get(ihl..)?) };
        let (sp, dp) = match ports {
            Some((s, d)) => (Some(s), Some(d)),
            None => (None, None),
        };
        Some(src_side.matches_v4(src, proto, sp) && dst_side.matches_v4(dst, proto, dp))
    }
}

fn proto_name(p: u8) -> Option<&'static str> {
    Some(match p {
        PROTO_ICMP => "icmp",
        PROTO_TCP => "tcp",
        PROTO_UDP => "udp",
        PROTO_ICMPV6 => "ipv6-icmp",
        _ => return None,
    })
}

impl fmt::Display for TrafficSelector {
    /// strongSwan-like: `10.1.0.0/24`, `10.0.0.1..10.0.0.9`, with `[tcp/80]` when restricted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len() {
            Some(p) => write!(f, "{}/{}", self.start_addr, p)?,
            None => write!(f, "{}..{}", self.start_addr, self.end_addr)?,
        }
        if self.ip_proto != 0 || !self.is_any_port() {
            f.write_str("[")?;
            match proto_name(self.ip_proto) {
                Some(n) => f.write_str(n)?,
                None => write!(f, "{}", self.ip_proto)?,
            }
            if self.is_opaque_ports() {
                f.write_str("/OPAQUE")?;
            } else if !self.is_any_port() {
                if self.start_port == self.end_port {
                    write!(f, "/{}", self.start_port)?;
                } else {
                    write!(f, "/{}-{}", self.start_port, self.end_port)?;
                }
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

impl FromStr for TrafficSelector {
    type Err = TsError;

    /// Parses `ADDR`, `ADDR/PREFIX` or `ADDR-ADDR` (also `ADDR..ADDR`), optionally followed by
    /// `[PROTO]`, `[PROTO/PORT]` or `[PROTO/LOW-HIGH]`, where PROTO is a number or one of
    /// `tcp`, `udp`, `icmp`, `ipv6-icmp`.
    fn from_str(s: &str) -> Result<Self, TsError> {
        let s = s.trim();
        let (addr_part, proto_part) = match s.find('[') {
            Some(i) => {
                let rest = s[i + 1..].strip_suffix(']').ok_or(TsError::Syntax)?;
                (&s[..i], Some(rest))
            }
            None => (s, None),
        };
        let ts = if let Some((a, p)) = addr_part.split_once('/') {
            let addr = IpAddr::from_str(a).map_err(|_| TsError::Syntax)?;
            let plen = u8::from_str(p).map_err(|_| TsError::Syntax)?;
            TrafficSelector::from_prefix(addr, plen)?
        } else if let Some((a, b)) = addr_part.split_once("..").or_else(|| addr_part.split_once('-')) {
            let a = IpAddr::from_str(a).map_err(|_| TsError::Syntax)?;
            let b = IpAddr::from_str(b).map_err(|_| TsError::Syntax)?;
            TrafficSelector::new(a, b, 0, 0, 0xffff)?
        } else {
            TrafficSelector::from_addr(IpAddr::from_str(addr_part).map_err(|_| TsError::Syntax)?)
        };
        let Some(pp) = proto_part else { return Ok(ts) };
        let (proto_s, port_s) = match pp.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (pp, None),
        };
        let proto = match proto_s {
            "tcp" => PROTO_TCP,
            "udp" => PROTO_UDP,
            "icmp" => PROTO_ICMP,
            "ipv6-icmp" | "icmpv6" => PROTO_ICMPV6,
            "" | "any" => 0,
            n => u8::from_str(n).map_err(|_| TsError::Syntax)?,
        };
        let (lo, hi) = match port_s {
            None | Some("") | Some("any") => (0, 0xffff),
            Some("OPAQUE") | Some("opaque") => (0xffff, 0),
            Some(p) => match p.split_once('-') {
                Some((a, b)) => (
                    u16::from_str(a).map_err(|_| TsError::Syntax)?,
                    u16::from_str(b).map_err(|_| TsError::Syntax)?,
                ),
                None => {
                    let v = u16::from_str(p).map_err(|_| TsError::Syntax)?;
                    (v, v)
                }
            },
        };
        ts.with_protocol(proto, lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn ts(s: &str) -> TrafficSelector {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(ts("10.1.0.0/24").to_string(), "10.1.0.0/24");
        assert_eq!(ts("10.1.0.7/24").to_string(), "10.1.0.0/24");
        assert_eq!(ts("10.0.0.1-10.0.0.9").to_string(), "10.0.0.1..10.0.0.9");
        assert_eq!(ts("10.0.0.0/8[tcp/80]").to_string(), "10.0.0.0/8[tcp/80]");
        assert_eq!(ts("::/0").to_string(), "::/0");
        assert_eq!(ts("2001:db8::/32[udp/500-4500]").to_string(), "2001:db8::/32[udp/500-4500]");
        assert_eq!("10.0.0.9-10.0.0.1".parse::<TrafficSelector>(), Err(TsError::AddressRangeInverted));
        assert_eq!("10.0.0.1-::1".parse::<TrafficSelector>(), Err(TsError::FamilyMismatch));
        assert_eq!("10.0.0.0/33".parse::<TrafficSelector>(), Err(TsError::BadPrefix(33)));
        assert_eq!("10.0.0.0/8[tcp/90-80]".parse::<TrafficSelector>(), Err(TsError::PortRangeInverted));
        assert_eq!("banana".parse::<TrafficSelector>(), Err(TsError::Syntax));
        assert_eq!(ts("0.0.0.0/0"), TrafficSelector::any_v4());
        assert_eq!(ts("::/0"), TrafficSelector::any_v6());
    }

    #[test]
    fn intersection_narrows_addresses_protocol_and_ports() {
        let a = ts("10.0.0.0/8");
        let b = ts("10.1.0.0/16[tcp/1000-2000]");
        assert_eq!(a.intersect(&b), Some(b));
        let c = ts("10.1.0.0/16[tcp/1500-3000]");
        assert_eq!(b.intersect(&c), Some(ts("10.1.0.0/16[tcp/1500-2000]")));
        assert_eq!(b.intersect(&ts("10.1.0.0/16[udp]")), None);
        assert_eq!(a.intersect(&ts("192.168.0.0/16")), None);
        assert_eq!(a.intersect(&ts("::/0")), None);
        assert!(b.is_subset_of(&a));
        assert!(!a.is_subset_of(&b));
    }

    #[test]
    fn narrowing_follows_rfc7296_2_9() {
        // Initiator proposes 0.0.0.0/0; the responder's policy allows two subnets.
        let proposed = [TrafficSelector::any_v4(), TrafficSelector::any_v6()];
        let policy = [ts("10.1.0.0/24"), ts("10.3.0.0/24")];
        assert_eq!(narrow(&proposed, &policy), [ts("10.1.0.0/24"), ts("10.3.0.0/24")]);
        // Nothing in common: empty, i.e. TS_UNACCEPTABLE.
        assert!(narrow(&[ts("192.168.0.0/16")], &policy).is_empty());
        // Duplicates and contained results collapse.
        let n = narrow(&[ts("10.1.0.0/24"), ts("10.1.0.0/25")], &[ts("10.0.0.0/8")]);
        assert_eq!(n, [ts("10.1.0.0/24")]);
    }

    #[test]
    fn packet_matching() {
        let local = [ts("10.1.0.0/24")];
        let remote = [ts("10.2.0.0/24[tcp/80]")];
        let mut t = FiveTuple {
            src: "10.1.0.5".parse().unwrap(),
            dst: "10.2.0.9".parse().unwrap(),
            protocol: PROTO_TCP,
            ports: Some((40000, 80)),
        };
        assert!(packet_matches(&local, &remote, &t));
        t.ports = Some((40000, 81));
        assert!(!packet_matches(&local, &remote, &t));
        t.ports = None; // non-initial fragment: only ANY or OPAQUE port selectors match
        assert!(!packet_matches(&local, &remote, &t));
        assert!(packet_matches(&local, &[ts("10.2.0.0/24[tcp/OPAQUE]")], &t));
        t.ports = Some((40000, 80));
        t.dst = "10.3.0.1".parse().unwrap();
        assert!(!packet_matches(&local, &remote, &t));
    }

    #[test]
    fn compiled_sets_agree_with_packet_matches() {
        let local = [ts("10.1.0.0/24"), ts("fd00:1::/64[udp]")];
        let remote = [ts("10.2.0.0/24[tcp/80]"), ts("10.3.0.1"), ts("fd00:2::/64[udp/53]")];
        let (l, r) = (SelectorSet::new(&local), SelectorSet::new(&remote));
        let addrs = ["10.1.0.5", "10.2.0.9", "10.3.0.1", "10.3.0.2", "fd00:1::1", "fd00:2::1", "::1"];
        for src in addrs {
            for dst in addrs {
                for protocol in [PROTO_TCP, PROTO_UDP, PROTO_ICMP] {
                    for ports in [None, Some((1000, 80)), Some((1000, 53)), Some((80, 81))] {
                        let t = FiveTuple {
                            src: src.parse().unwrap(),
                            dst: dst.parse().unwrap(),
                            protocol,
                            ports,
                        };
                        assert_eq!(
                            SelectorSet::packet_matches(&l, &r, &t),
                            packet_matches(&local, &remote, &t),
                            "{t:?}"
                        );
                    }
                }
            }
        }
        let any = SelectorSet::new(&[]);
        assert!(any.is_any() && any.matches("1.2.3.4".parse().unwrap(), 6, None));
    }

    #[test]
    fn prefix_len_detection() {
        assert_eq!(ts("10.1.0.0/24").prefix_len(), Some(24));
        assert_eq!(TrafficSelector::any_v6().prefix_len(), Some(0));
        assert_eq!(ts("10.0.0.5").prefix_len(), Some(32));
        assert_eq!(ts("10.0.0.1-10.0.0.2").prefix_len(), None);
    }
}
