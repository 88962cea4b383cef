//! The Traffic Selector payloads TSi and TSr (RFC 7296 §3.13).

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vpn_core::ts::TrafficSelector;

use super::writer::{sat_u16, sat_u8};
use super::{check_cap, Cap, DecodeError, Limits, PayloadBody, Reader, Writer};

code_point! {
    /// Traffic selector type (RFC 7296 §3.13.1, IANA "IKEv2 Traffic Selector Types").
    TsType(u8) {
        /// TS_IPV4_ADDR_RANGE.
        Ipv4AddrRange = 7,
        /// TS_IPV6_ADDR_RANGE.
        Ipv6AddrRange = 8,
        /// TS_FC_ADDR_RANGE (RFC 4595).
        FcAddrRange = 9,
        /// TS_SECLABEL (RFC 9478).
        SecLabel = 10,
    }
}

/// One traffic selector substructure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TsEntry {
    /// TS_IPV4_ADDR_RANGE or TS_IPV6_ADDR_RANGE.
    Ip(TrafficSelector),
    /// Another TS type, kept raw so that it round-trips.
    Other {
        /// TS Type.
        ts_type: TsType,
        /// The octet after TS Type (IP Protocol ID for address ranges, reserved for others).
        second_octet: u8,
        /// Everything after the Selector Length field.
        data: Vec<u8>,
    },
}

/// The TSi / TSr payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficSelectors {
    /// The selectors, in order.
    pub selectors: Vec<TsEntry>,
    /// The three RESERVED octets, as received.
    pub reserved: [u8; 3],
}

impl TrafficSelectors {
    /// A TS payload of IP selectors.
    pub fn new(selectors: impl IntoIterator<Item = TrafficSelector>) -> TrafficSelectors {
        TrafficSelectors { selectors: selectors.into_iter().map(TsEntry::Ip).collect(), reserved: [0; 3] }
    }

    /// The IP selectors (other types skipped).
    pub fn ip_selectors(&self) -> impl Iterator<Item = &TrafficSelector> {
        self.selectors.iter().filter_map(|e| match e {
            TsEntry::Ip(ts) => Some(ts),
            TsEntry::Other { .. } => None,
        })
    }
}

fn decode_entry(r: &mut Reader<'_>) -> Result<TsEntry, DecodeError> {
    let raw_type = r.u8()?;
    let second_octet = r.u8()?;
    let length = r.u16()?;
    let bad_length = || DecodeError::TsLength { ts_type: raw_type, length };
    let body_len = usize::from(length).checked_sub(4).ok_or_else(bad_length)?;
    let mut body = r.sub(body_len).map_err(|_| bad_length())?;
    let ts_type = TsType::from(raw_type);
    // RFC 7296 §3.13.1: 16 octets for IPv4 ranges, 40 for IPv6.
    let (start, end) = match ts_type {
        TsType::Ipv4AddrRange if length == 16 => {
            let ports = (body.u16()?, body.u16()?);
            let s: [u8; 4] = body.array()?;
            let e: [u8; 4] = body.array()?;
            (ports, (IpAddr::V4(Ipv4Addr::from(s)), IpAddr::V4(Ipv4Addr::from(e))))
        }
        TsType::Ipv6AddrRange if length == 40 => {
            let ports = (body.u16()?, body.u16()?);
            let s: [u8; 16] = body.array()?;
            let e: [u8; 16] = body.array()?;
            (ports, (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(e))))
        }
        TsType::Ipv4AddrRange | TsType::Ipv6AddrRange => return Err(bad_length()),
        _ => return Ok(TsEntry::Other { ts_type, second_octet, data: body.rest().to_vec() }),
    };
    let ((start_port, end_port), (start_addr, end_addr)) = (start, end);
    TrafficSelector::new(start_addr, end_addr, second_octet, start_port, end_port)
        .map(TsEntry::Ip)
        .map_err(DecodeError::InvalidSelector)
}

impl PayloadBody for TrafficSelectors {
    fn decode_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self, DecodeError> {
        let declared = r.u8()?;
        let reserved = r.array()?;
        let mut selectors = Vec::new();
        for _ in 0..declared {
            check_cap(selectors.len(), limits.max_traffic_selectors, Cap::TrafficSelectors)?;
            if r.is_empty() {
                return Err(DecodeError::TsCount { declared });
            }
            selectors.push(decode_entry(r)?);
        }
        if !r.is_empty() {
            return Err(DecodeError::TsCount { declared });
        }
        Ok(TrafficSelectors { selectors, reserved })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u8(sat_u8(self.selectors.len()));
        w.bytes(&self.reserved);
        for entry in &self.selectors {
            match entry {
                TsEntry::Ip(ts) => {
                    let v4 = ts.is_ipv4();
                    w.u8(if v4 { TsType::Ipv4AddrRange } else { TsType::Ipv6AddrRange }.into());
                    w.u8(ts.ip_proto());
                    w.u16(if v4 { 16 } else { 40 });
                    w.u16(ts.start_port());
                    w.u16(ts.end_port());
                    for addr in [ts.start_addr(), ts.end_addr()] {
                        match addr {
                            IpAddr::V4(a) => w.bytes(&a.octets()),
                            IpAddr::V6(a) => w.bytes(&a.octets()),
                        }
                    }
                }
                TsEntry::Other { ts_type, second_octet, data } => {
                    w.u8((*ts_type).into());
                    w.u8(*second_octet);
                    w.u16(sat_u16(data.len().saturating_add(4)));
                    w.bytes(data);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use vpn_core::ts::TsError;

    fn ts(s: &str) -> TrafficSelector {
        s.parse().unwrap()
    }

    #[test]
    fn round_trip_v4_v6_and_unknown() {
        let l = Limits::default();
        let mut p = TrafficSelectors::new([ts("10.1.0.0/24"), ts("2001:db8::/32[tcp/80]"), ts("0.0.0.0/0")]);
        p.selectors.push(TsEntry::Other { ts_type: TsType::SecLabel, second_octet: 0, data: vec![1, 2, 3] });
        p.reserved = [1, 2, 3];
        let bytes = p.to_body_bytes();
        assert_eq!(&bytes[..4], &[4, 1, 2, 3]);
        assert_eq!(&bytes[4..8], &[7, 0, 0, 16]);
        let back = TrafficSelectors::from_body_bytes(&bytes, &l).unwrap();
        assert_eq!(back.ip_selectors().count(), 3);
        assert_eq!(back, p);
    }

    #[test]
    fn rfc_layout_of_an_ipv4_selector() {
        // One TS_IPV4_ADDR_RANGE: UDP ports 500-4500, 192.0.2.0 - 192.0.2.255.
        let b = hex::decode(concat!("01000000", "07110010", "01f41194", "c0000200", "c00002ff")).unwrap();
        let p = TrafficSelectors::from_body_bytes(&b, &Limits::default()).unwrap();
        assert_eq!(p.selectors, [TsEntry::Ip(ts("192.0.2.0/24[udp/500-4500]"))]);
        assert_eq!(p.to_body_bytes(), b);
    }

    #[test]
    fn rejects_bad_lengths_counts_and_ranges() {
        let l = Limits::default();
        let good = TrafficSelectors::new([ts("10.0.0.0/8")]).to_body_bytes();
        let mut b = good.clone();
        b[7] = 15;
        assert_eq!(
            TrafficSelectors::from_body_bytes(&b, &l),
            Err(DecodeError::TsLength { ts_type: 7, length: 15 })
        );
        b[7] = 17;
        assert_eq!(
            TrafficSelectors::from_body_bytes(&b, &l),
            Err(DecodeError::TsLength { ts_type: 7, length: 17 })
        );
        b[7] = 3;
        assert_eq!(
            TrafficSelectors::from_body_bytes(&b, &l),
            Err(DecodeError::TsLength { ts_type: 7, length: 3 })
        );
        let mut b = good.clone();
        b[0] = 2;
        assert_eq!(TrafficSelectors::from_body_bytes(&b, &l), Err(DecodeError::TsCount { declared: 2 }));
        b[0] = 0;
        assert_eq!(TrafficSelectors::from_body_bytes(&b, &l), Err(DecodeError::TsCount { declared: 0 }));
        let mut b = good.clone();
        b[12] = 11; // start address 11.0.0.0 above end 10.255.255.255
        assert_eq!(
            TrafficSelectors::from_body_bytes(&b, &l),
            Err(DecodeError::InvalidSelector(TsError::AddressRangeInverted))
        );
        let many = TrafficSelectors::new([ts("10.0.0.0/8"), ts("10.0.0.0/9")]).to_body_bytes();
        assert_eq!(
            TrafficSelectors::from_body_bytes(&many, &Limits { max_traffic_selectors: 1, ..l }),
            Err(DecodeError::TooMany { what: Cap::TrafficSelectors, max: 1 })
        );
    }
}
