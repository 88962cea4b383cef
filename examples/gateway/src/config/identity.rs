//! IKE identities written the way strongSwan writes them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::values::decode_hex;

/// An IKE identity (RFC 7296 §3.5), parsed from strongSwan's notation:
///
/// | written                 | identity                                    |
/// |-------------------------|---------------------------------------------|
/// | `192.0.2.1`, `2001:db8::1` | [`Identity::Ipv4`], [`Identity::Ipv6`]  |
/// | `@#0a1b2c`              | [`Identity::KeyId`] (hex bytes)             |
/// | `@vpn.example.com`      | [`Identity::Fqdn`] (the `@` is dropped)     |
/// | `user@example.com`      | [`Identity::Rfc822`]                        |
/// | `hub`, `vpn.example.com`| [`Identity::Fqdn`] (anything else, as strongSwan does) |
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// ID_IPV4_ADDR.
    Ipv4(Ipv4Addr),
    /// ID_IPV6_ADDR.
    Ipv6(Ipv6Addr),
    /// ID_FQDN.
    Fqdn(String),
    /// ID_RFC822_ADDR.
    Rfc822(String),
    /// ID_KEY_ID (opaque bytes).
    KeyId(Vec<u8>),
}

/// Why a string is not an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The string is empty.
    #[error("identity is empty")]
    Empty,
    /// `@#` followed by something that is not an even number of hex digits.
    #[error("key id after \"@#\" must be an even number of hex digits")]
    BadKeyId,
    /// Whitespace or control characters.
    #[error("identity contains whitespace or control characters")]
    BadCharacter,
    /// `%any` and other `%` keywords are not identities (`%any` is allowed in `remote_id` only).
    #[error("{0:?} is not an identity (\"%any\" is only allowed as remote_id)")]
    Keyword(String),
    /// `@` alone, or `user@` without a domain.
    #[error("identity has nothing after \"@\"")]
    MissingDomain,
}

impl Identity {
    /// The IKEv2 ID type number (RFC 7296 §3.5).
    pub fn id_type(&self) -> u8 {
        match self {
            Identity::Ipv4(_) => 1,
            Identity::Fqdn(_) => 2,
            Identity::Rfc822(_) => 3,
            Identity::Ipv6(_) => 5,
            Identity::KeyId(_) => 11,
        }
    }

    /// The identification data as carried in an ID payload.
    pub fn data(&self) -> Vec<u8> {
        match self {
            Identity::Ipv4(a) => a.octets().to_vec(),
            Identity::Ipv6(a) => a.octets().to_vec(),
            Identity::Fqdn(s) | Identity::Rfc822(s) => s.as_bytes().to_vec(),
            Identity::KeyId(b) => b.clone(),
        }
    }
}

impl From<IpAddr> for Identity {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(v4) => Identity::Ipv4(v4),
            IpAddr::V6(v6) => Identity::Ipv6(v6),
        }
    }
}

impl FromStr for Identity {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, IdentityError> {
        if s.is_empty() {
            return Err(IdentityError::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(IdentityError::BadCharacter);
        }
        if s.starts_with('%') {
            return Err(IdentityError::Keyword(s.to_string()));
        }
        if let Ok(a) = IpAddr::from_str(s) {
            return Ok(a.into());
        }
        if let Some(hex) = s.strip_prefix("@#") {
            return decode_hex(hex).map(Identity::KeyId).ok_or(IdentityError::BadKeyId);
        }
        if let Some(fqdn) = s.strip_prefix('@') {
            if fqdn.is_empty() {
                return Err(IdentityError::MissingDomain);
            }
            return Ok(Identity::Fqdn(fqdn.to_string()));
        }
        if let Some((_, domain)) = s.split_once('@') {
            if domain.is_empty() {
                return Err(IdentityError::MissingDomain);
            }
            return Ok(Identity::Rfc822(s.to_string()));
        }
        Ok(Identity::Fqdn(s.to_string()))
    }
}

impl fmt::Display for Identity {
    /// As strongSwan prints identities: addresses, FQDNs and emails as text, key ids as `@#hex`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Ipv4(a) => write!(f, "{a}"),
            Identity::Ipv6(a) => write!(f, "{a}"),
            Identity::Fqdn(s) | Identity::Rfc822(s) => f.write_str(s),
            Identity::KeyId(b) => {
                f.write_str("@#")?;
                b.iter().try_for_each(|x| write!(f, "{x:02x}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strongswan_forms() {
        let p = |s: &str| s.parse::<Identity>();
        assert_eq!(p("192.0.2.1"), Ok(Identity::Ipv4(Ipv4Addr::new(192, 0, 2, 1))));
        assert_eq!(p("2001:db8::1"), Ok(Identity::Ipv6("2001:db8::1".parse().unwrap())));
        assert_eq!(p("@vpn.example.com"), Ok(Identity::Fqdn("vpn.example.com".into())));
        assert_eq!(p("hub"), Ok(Identity::Fqdn("hub".into())));
        assert_eq!(p("user@example.com"), Ok(Identity::Rfc822("user@example.com".into())));
        assert_eq!(p("@#0A1b"), Ok(Identity::KeyId(vec![0x0a, 0x1b])));
        assert_eq!(p(""), Err(IdentityError::Empty));
        assert_eq!(p("@#abc"), Err(IdentityError::BadKeyId));
        assert_eq!(p("@#zz"), Err(IdentityError::BadKeyId));
        assert_eq!(p("@"), Err(IdentityError::MissingDomain));
        assert_eq!(p("user@"), Err(IdentityError::MissingDomain));
        assert_eq!(p("a b"), Err(IdentityError::BadCharacter));
        assert_eq!(p("%any"), Err(IdentityError::Keyword("%any".into())));
    }

    #[test]
    fn wire_form_and_display() {
        let id: Identity = "@#0a1b".parse().unwrap();
        assert_eq!((id.id_type(), id.data()), (11, vec![0x0a, 0x1b]));
        assert_eq!(id.to_string(), "@#0a1b");
        let id: Identity = "10.0.0.1".parse().unwrap();
        assert_eq!((id.id_type(), id.data()), (1, vec![10, 0, 0, 1]));
        assert_eq!(Identity::Fqdn("hub".into()).to_string(), "hub");
    }
}
