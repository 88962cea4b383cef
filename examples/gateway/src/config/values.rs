//! Small value types of the config file: durations, CIDR prefixes, listen and peer addresses.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use vpn_core::time::Duration;

/// Parse a duration written as a number and a unit: `500ms`, `45s`, `90m`, `8h`, `1d`.
/// A number without a unit is seconds, as in strongSwan.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "{s:?} is not a duration (expected e.g. \"45s\", \"90m\", \"8h\", \"1d\", \"500ms\")"
        ));
    }
    let n: u64 = num.parse().map_err(|_| format!("{s:?}: number too large"))?;
    let millis_per = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => return Err(format!("unknown duration unit {other:?} (expected ms, s, m, h or d)")),
    };
    let millis = n.checked_mul(millis_per).ok_or_else(|| format!("{s:?}: duration too large"))?;
    Ok(Duration::from_millis(millis))
}

/// Format a duration the way it is written in the config (`8h`, `90m`, `45s`, `500ms`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, per) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms >= per && ms % per == 0 {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

/// An interface address with its prefix length, e.g. `10.1.0.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpCidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (0..=32 or 0..=128).
    pub prefix_len: u8,
}

impl FromStr for IpCidr {
    type Err = String;

    /// `ADDR/PREFIX`; a bare address is a host prefix (/32 or /128).
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(a).map_err(|_| format!("{a:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match p {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("prefix length {p:?} is not in 0..={max}")),
            },
        };
        Ok(IpCidr { addr, prefix_len })
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// The IKE port (RFC 7296 §2).
pub const IKE_PORT: u16 = 500;
/// The NAT-T port (RFC 3948).
pub const NATT_PORT: u16 = 4500;

/// An address the gateway listens on for IKE and ESP-in-UDP.
///
/// A bare address (`192.0.2.1`) means the standard ports 500 and 4500. An address with a port
/// (`127.0.0.1:14500`, `[::1]:14500`) means that one UDP port carries both IKE and UDP-encapsulated
/// ESP, told apart by the non-ESP marker (RFC 3948): handy for unprivileged tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenAddr {
    /// The address.
    pub addr: IpAddr,
    /// `None`: ports 500 and 4500; `Some(p)`: port `p` only.
    pub port: Option<u16>,
}

impl ListenAddr {
    /// The port IKE_SA_INIT is received on.
    pub fn ike_port(&self) -> u16 {
        self.port.unwrap_or(IKE_PORT)
    }

    /// The port carrying NAT-T (UDP-encapsulated IKE and ESP).
    pub fn natt_port(&self) -> u16 {
        self.port.unwrap_or(NATT_PORT)
    }
}

fn parse_addr_port(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(a) = IpAddr::from_str(s) {
        return Ok((a, None));
    }
    match SocketAddr::from_str(s) {
        Ok(sa) if sa.port() != 0 => Ok((sa.ip(), Some(sa.port()))),
        Ok(_) => Err("port 0 is not allowed".to_string()),
        Err(_) => Err(format!("{s:?} is not an IP address or ADDRESS:PORT")),
    }
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, port) = parse_addr_port(s)?;
        Ok(ListenAddr { addr, port })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            None => write!(f, "{}", self.addr),
            Some(p) => write!(f, "{}", SocketAddr::new(self.addr, p)),
        }
    }
}

/// Where the peer is: an address (optionally with port, default 500) or `%any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoteAddress {
    /// `%any`: accept this peer from any address; we cannot initiate to it.
    Any,
    /// A fixed peer address.
    Addr(SocketAddr),
}

impl RemoteAddress {
    /// The peer's IP address, unless `%any`.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            RemoteAddress::Any => None,
            RemoteAddress::Addr(sa) => Some(sa.ip()),
        }
    }
}

impl FromStr for RemoteAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "%any" {
            return Ok(RemoteAddress::Any);
        }
        let (addr, port) =
            parse_addr_port(s).map_err(|_| format!("{s:?} is not an IP address or \"%any\""))?;
        Ok(RemoteAddress::Addr(SocketAddr::new(addr, port.unwrap_or(IKE_PORT))))
    }
}

impl fmt::Display for RemoteAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteAddress::Any => f.write_str("%any"),
            RemoteAddress::Addr(sa) if sa.port() == IKE_PORT => write!(f, "{}", sa.ip()),
            RemoteAddress::Addr(sa) => write!(f, "{sa}"),
        }
    }
}

/// Decode an even number of hex digits.
pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5y").unwrap_err().contains("unknown duration unit \"y\""));
        assert!(parse_duration("99999999999999999999s").is_err());
        assert!(parse_duration("999999999999999999d").is_err());
        for s in ["8h", "90m", "45s", "500ms", "1d", "1500ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn cidrs_and_addresses() {
        assert_eq!("10.1.0.1/32".parse::<IpCidr>().unwrap().to_string(), "10.1.0.1/32");
        assert_eq!("fd00::1".parse::<IpCidr>().unwrap().prefix_len, 128);
        assert!("10.1.0.1/33".parse::<IpCidr>().is_err());
        assert!("10.1.0/24".parse::<IpCidr>().is_err());
        let l: ListenAddr = "192.0.2.1".parse().unwrap();
        assert_eq!((l.ike_port(), l.natt_port()), (500, 4500));
        let l: ListenAddr = "[::1]:14500".parse().unwrap();
        assert_eq!((l.ike_port(), l.natt_port(), l.to_string()), (14500, 14500, "[::1]:14500".into()));
        assert!("127.0.0.1:0".parse::<ListenAddr>().is_err());
        assert_eq!("%any".parse::<RemoteAddress>(), Ok(RemoteAddress::Any));
        let r: RemoteAddress = "192.0.2.2".parse().unwrap();
        assert_eq!((r.to_string(), r.ip()), ("192.0.2.2".into(), Some("192.0.2.2".parse().unwrap())));
        assert_eq!("127.0.0.1:600".parse::<RemoteAddress>().unwrap().to_string(), "127.0.0.1:600");
        assert!("gw.example".parse::<RemoteAddress>().is_err());
    }
}
