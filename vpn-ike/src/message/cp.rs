//! The Configuration payload (RFC 7296 §3.15).

use alloc::vec::Vec;

use super::writer::sat_u16;
use super::{check_cap, Cap, DecodeError, Limits, PayloadBody, Reader, Writer};

code_point! {
    /// CFG Type (RFC 7296 §3.15).
    CfgType(u8) {
        /// CFG_REQUEST.
        Request = 1,
        /// CFG_REPLY.
        Reply = 2,
        /// CFG_SET.
        Set = 3,
        /// CFG_ACK.
        Ack = 4,
    }
}

code_point! {
    /// Configuration attribute type, 15 bits (RFC 7296 §3.15.1, IANA "IKEv2 Configuration
    /// Payload Attribute Types").
    ConfigAttributeType(u16) {
        /// INTERNAL_IP4_ADDRESS.
        InternalIp4Address = 1,
        /// INTERNAL_IP4_NETMASK.
        InternalIp4Netmask = 2,
        /// INTERNAL_IP4_DNS.
        InternalIp4Dns = 3,
        /// INTERNAL_IP4_NBNS.
        InternalIp4Nbns = 4,
        /// INTERNAL_IP4_DHCP.
        InternalIp4Dhcp = 6,
        /// APPLICATION_VERSION.
        ApplicationVersion = 7,
        /// INTERNAL_IP6_ADDRESS.
        InternalIp6Address = 8,
        /// INTERNAL_IP6_DNS.
        InternalIp6Dns = 10,
        /// INTERNAL_IP6_DHCP.
        InternalIp6Dhcp = 12,
        /// INTERNAL_IP4_SUBNET.
        InternalIp4Subnet = 13,
        /// SUPPORTED_ATTRIBUTES.
        SupportedAttributes = 14,
        /// INTERNAL_IP6_SUBNET.
        InternalIp6Subnet = 15,
        /// INTERNAL_DNS_DOMAIN (RFC 8598).
        InternalDnsDomain = 25,
    }
}

/// One configuration attribute (RFC 7296 §3.15.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigAttribute {
    /// The reserved high bit of the type field, as received.
    pub reserved_bit: bool,
    /// Attribute Type.
    pub attr_type: ConfigAttributeType,
    /// Value (empty in a CFG_REQUEST asking for the attribute).
    pub value: Vec<u8>,
}

impl ConfigAttribute {
    /// An attribute.
    pub fn new(attr_type: ConfigAttributeType, value: Vec<u8>) -> ConfigAttribute {
        ConfigAttribute { reserved_bit: false, attr_type, value }
    }
}

/// The CP payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// CFG Type.
    pub cfg_type: CfgType,
    /// The three RESERVED octets, as received.
    pub reserved: [u8; 3],
    /// Configuration attributes.
    pub attributes: Vec<ConfigAttribute>,
}

impl Config {
    /// A CP payload with zero reserved octets.
    pub fn new(cfg_type: CfgType, attributes: Vec<ConfigAttribute>) -> Config {
        Config { cfg_type, reserved: [0; 3], attributes }
    }
}

impl PayloadBody for Config {
    fn decode_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self, DecodeError> {
        let cfg_type = CfgType::from(r.u8()?);
        let reserved = r.array()?;
        let mut attributes = Vec::new();
        while !r.is_empty() {
            check_cap(attributes.len(), limits.max_cp_attributes, Cap::CpAttributes)?;
            let raw_type = r.u16().map_err(|_| DecodeError::CpAttributeLength { length: 0 })?;
            let length = r.u16().map_err(|_| DecodeError::CpAttributeLength { length: 0 })?;
            let value = r.take(usize::from(length)).map_err(|_| DecodeError::CpAttributeLength { length })?;
            attributes.push(ConfigAttribute {
                reserved_bit: raw_type & 0x8000 != 0,
                attr_type: ConfigAttributeType::from(raw_type & 0x7fff),
                value: value.to_vec(),
            });
        }
        Ok(Config { cfg_type, reserved, attributes })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u8(self.cfg_type.into());
        w.bytes(&self.reserved);
        for a in &self.attributes {
            let r = if a.reserved_bit { 0x8000 } else { 0 };
            w.u16(r | (u16::from(a.attr_type) & 0x7fff));
            w.u16(sat_u16(a.value.len()));
            w.bytes(&a.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip() {
        let l = Limits::default();
        let mut c = Config::new(
            CfgType::Reply,
            vec![
                ConfigAttribute::new(ConfigAttributeType::InternalIp4Address, vec![10, 0, 0, 2]),
                ConfigAttribute::new(ConfigAttributeType::InternalIp4Dns, vec![10, 0, 0, 1]),
                ConfigAttribute::new(ConfigAttributeType::Unknown(0x7000), vec![]),
            ],
        );
        c.attributes[2].reserved_bit = true;
        let bytes = c.to_body_bytes();
        assert_eq!(&bytes[..8], &[2, 0, 0, 0, 0, 1, 0, 4]);
        assert_eq!(Config::from_body_bytes(&bytes, &l), Ok(c));
    }

    #[test]
    fn rejects_bad_attribute_lengths_and_caps() {
        let l = Limits::default();
        assert_eq!(
            Config::from_body_bytes(&[1, 0, 0, 0, 0, 1, 0, 4, 10, 0, 0], &l),
            Err(DecodeError::CpAttributeLength { length: 4 })
        );
        assert_eq!(
            Config::from_body_bytes(&[1, 0, 0, 0, 0, 1, 0], &l),
            Err(DecodeError::CpAttributeLength { length: 0 })
        );
        let c = Config::new(
            CfgType::Request,
            vec![ConfigAttribute::new(ConfigAttributeType::InternalIp4Dns, vec![]); 3],
        );
        assert_eq!(
            Config::from_body_bytes(&c.to_body_bytes(), &Limits { max_cp_attributes: 2, ..l }),
            Err(DecodeError::TooMany { what: Cap::CpAttributes, max: 2 })
        );
    }
}
