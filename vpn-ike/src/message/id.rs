//! The Identification payloads IDi and IDr (RFC 7296 §3.5).

use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};

use super::{DecodeError, Limits, PayloadBody, Reader, Writer};

code_point! {
    /// ID type (RFC 7296 §3.5, IANA "IKEv2 Identification Payload ID Types").
    IdType(u8) {
        /// ID_IPV4_ADDR: a four-octet IPv4 address.
        Ipv4Addr = 1,
        /// ID_FQDN: a fully qualified domain name.
        Fqdn = 2,
        /// ID_RFC822_ADDR: an email address.
        Rfc822Addr = 3,
        /// ID_IPV6_ADDR: a sixteen-octet IPv6 address.
        Ipv6Addr = 5,
        /// ID_DER_ASN1_DN: a DER-encoded X.500 Distinguished Name.
        DerAsn1Dn = 9,
        /// ID_DER_ASN1_GN: a DER-encoded X.509 GeneralName.
        DerAsn1Gn = 10,
        /// ID_KEY_ID: an opaque octet stream.
        KeyId = 11,
        /// ID_FC_NAME (RFC 4595).
        FcName = 12,
        /// ID_NULL (RFC 7619).
        Null = 13,
    }
}

/// An identity, typed where RFC 7296 §3.5 gives the data a structure.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// ID_IPV4_ADDR.
    Ipv4(Ipv4Addr),
    /// ID_FQDN (ASCII, no terminator; kept as bytes so that anything received round-trips).
    Fqdn(Vec<u8>),
    /// ID_RFC822_ADDR (kept as bytes).
    Rfc822(Vec<u8>),
    /// ID_IPV6_ADDR.
    Ipv6(Ipv6Addr),
    /// ID_DER_ASN1_DN: the DER encoding of a Name.
    DerAsn1Dn(Vec<u8>),
    /// ID_KEY_ID.
    KeyId(Vec<u8>),
    /// Any other ID type, with its raw data.
    Other {
        /// The ID type.
        id_type: IdType,
        /// Identification data.
        data: Vec<u8>,
    },
}

impl Identity {
    /// The ID type on the wire.
    pub fn id_type(&self) -> IdType {
        match self {
            Identity::Ipv4(_) => IdType::Ipv4Addr,
            Identity::Fqdn(_) => IdType::Fqdn,
            Identity::Rfc822(_) => IdType::Rfc822Addr,
            Identity::Ipv6(_) => IdType::Ipv6Addr,
            Identity::DerAsn1Dn(_) => IdType::DerAsn1Dn,
            Identity::KeyId(_) => IdType::KeyId,
            Identity::Other { id_type, .. } => *id_type,
        }
    }

    /// The FQDN or RFC 822 address as text, if it is one and is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Identity::Fqdn(b) | Identity::Rfc822(b) => core::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// The IDi / IDr payload body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Id {
    /// The identity.
    pub identity: Identity,
    /// The three RESERVED octets, as received.
    pub reserved: [u8; 3],
}

impl Id {
    /// An ID payload with zero reserved octets.
    pub fn new(identity: Identity) -> Id {
        Id { identity, reserved: [0; 3] }
    }
}

impl From<Identity> for Id {
    fn from(identity: Identity) -> Id {
        Id::new(identity)
    }
}

impl PayloadBody for Id {
    fn decode_body(r: &mut Reader<'_>, _: &Limits) -> Result<Self, DecodeError> {
        let raw_type = r.u8()?;
        let reserved = r.array()?;
        let data = r.rest();
        let wrong_length = || DecodeError::IdDataLength { id_type: raw_type, length: data.len() };
        let identity = match IdType::from(raw_type) {
            IdType::Ipv4Addr => {
                Identity::Ipv4(Ipv4Addr::from(<[u8; 4]>::try_from(data).map_err(|_| wrong_length())?))
            }
            IdType::Ipv6Addr => {
                Identity::Ipv6(Ipv6Addr::from(<[u8; 16]>::try_from(data).map_err(|_| wrong_length())?))
            }
            IdType::Fqdn => Identity::Fqdn(data.to_vec()),
            IdType::Rfc822Addr => Identity::Rfc822(data.to_vec()),
            IdType::DerAsn1Dn => Identity::DerAsn1Dn(data.to_vec()),
            IdType::KeyId => Identity::KeyId(data.to_vec()),
            id_type => Identity::Other { id_type, data: data.to_vec() },
        };
        Ok(Id { identity, reserved })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u8(self.identity.id_type().into());
        w.bytes(&self.reserved);
        match &self.identity {
            Identity::Ipv4(a) => w.bytes(&a.octets()),
            Identity::Ipv6(a) => w.bytes(&a.octets()),
            Identity::Fqdn(d)
            | Identity::Rfc822(d)
            | Identity::DerAsn1Dn(d)
            | Identity::KeyId(d)
            | Identity::Other { data: d, .. } => w.bytes(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip_every_type() {
        let l = Limits::default();
        let ids = [
            Identity::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            Identity::Fqdn(b"vpn.example.com".to_vec()),
            Identity::Rfc822(b"alice@example.com".to_vec()),
            Identity::Ipv6("2001:db8::1".parse().unwrap()),
            Identity::DerAsn1Dn(vec![0x30, 0x00]),
            Identity::KeyId(vec![1, 2, 3]),
            Identity::Other { id_type: IdType::Null, data: vec![] },
            Identity::Other { id_type: IdType::Unknown(200), data: vec![5] },
        ];
        for identity in ids {
            let id = Id::new(identity);
            let bytes = id.to_body_bytes();
            assert_eq!(bytes[0], u8::from(id.identity.id_type()));
            assert_eq!(Id::from_body_bytes(&bytes, &l), Ok(id));
        }
        let id = Id::from_body_bytes(&[2, 9, 8, 7, b'a'], &l).unwrap();
        assert_eq!(id.identity.as_str(), Some("a"));
        assert_eq!(id.reserved, [9, 8, 7]);
        assert_eq!(id.to_body_bytes(), [2, 9, 8, 7, b'a']);
    }

    #[test]
    fn rejects_bad_address_lengths() {
        let l = Limits::default();
        assert_eq!(
            Id::from_body_bytes(&[1, 0, 0, 0, 10, 0, 0], &l),
            Err(DecodeError::IdDataLength { id_type: 1, length: 3 })
        );
        assert_eq!(
            Id::from_body_bytes(&[5, 0, 0, 0, 10, 0, 0, 1], &l),
            Err(DecodeError::IdDataLength { id_type: 5, length: 4 })
        );
        assert_eq!(Id::from_body_bytes(&[1, 0, 0], &l), Err(DecodeError::Truncated));
    }
}
