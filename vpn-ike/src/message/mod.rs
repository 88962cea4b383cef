//! The IKEv2 message codec: the header (RFC 7296 §3.1), the generic payload header (§3.2), every
//! payload of §3.3-§3.16 and the Encrypted Fragment payload of RFC 7383.
//!
//! Decoding checks every length against its container and rejects trailing bytes; it never
//! panics on input. Code points are enums with an `Unknown` arm and reserved fields are kept,
//! so anything that decodes re-encodes to exactly the same bytes:
//!
//! ```
//! use vpn_ike::message::{ExchangeType, Header, HeaderFlags, Limits, Message, Nonce, Payload};
//!
//! let header = Header::new(ExchangeType::Informational, 0x0102_0304_0506_0708, 9, 1, HeaderFlags::INITIATOR);
//! let msg = Message { header, payloads: vec![Payload::from(Nonce::new(vec![7; 32]))] };
//! let datagram = msg.encode();
//! assert_eq!(Message::decode(&datagram, &Limits::default())?, msg);
//! # Ok::<(), vpn_ike::message::DecodeError>(())
//! ```
//!
//! The SK and SKF payloads are kept as their raw encrypted bodies; once decrypted elsewhere, the
//! plaintext is a payload chain for [`decode_payload_chain`].

use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

/// Declares an IANA code point enum with an `Unknown` arm and lossless conversions.
macro_rules! code_point {
    ($(#[$m:meta])* $name:ident($repr:ty) { $($(#[$vm:meta])* $var:ident = $val:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $var,)*
            /// A value this implementation does not know (kept so that it round-trips). Build
            /// values with `From`, which never produces `Unknown` for a known value.
            Unknown($repr),
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                match v {
                    $($val => $name::$var,)*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                match v {
                    $($name::$var => $val,)*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

mod auth;
mod cert;
mod chain;
mod cp;
mod delete;
mod eap;
mod error;
mod header;
mod id;
mod ke;
mod nonce;
mod notify;
mod reader;
mod sa;
mod sk;
mod skf;
mod ts;
mod vendor;
mod writer;

pub use auth::{Auth, AuthMethod};
pub use cert::{Cert, CertEncoding, CertReq};
pub use chain::{decode_payload_chain, encode_payload_chain};
pub use cp::{CfgType, Config, ConfigAttribute, ConfigAttributeType};
pub use delete::Delete;
pub use eap::{Eap, EapCode};
pub use error::{Cap, DecodeError};
pub use header::{ExchangeType, Header, HeaderFlags, HEADER_LEN};
pub use id::{Id, IdType, Identity};
pub use ke::KeyExchange;
pub use nonce::Nonce;
pub use notify::{Notify, NotifyData, NotifyType};
pub use reader::Reader;
pub use sa::{Proposal, ProtocolId, Sa, Transform, TransformAttribute, ATTR_KEY_LENGTH};
pub use sk::Encrypted;
pub use skf::EncryptedFragment;
pub use ts::{TrafficSelectors, TsEntry, TsType};
pub use vendor::VendorId;
pub use writer::{LengthField, Writer};

code_point! {
    /// Payload type (RFC 7296 §3.2; RFC 7383 §2.5 for SKF).
    PayloadType(u8) {
        /// No Next Payload: the end of a chain.
        NoNext = 0,
        /// Security Association (SA).
        Sa = 33,
        /// Key Exchange (KE).
        Ke = 34,
        /// Identification - Initiator (IDi).
        IdI = 35,
        /// Identification - Responder (IDr).
        IdR = 36,
        /// Certificate (CERT).
        Cert = 37,
        /// Certificate Request (CERTREQ).
        CertReq = 38,
        /// Authentication (AUTH).
        Auth = 39,
        /// Nonce (Ni, Nr).
        Nonce = 40,
        /// Notify (N).
        Notify = 41,
        /// Delete (D).
        Delete = 42,
        /// Vendor ID (V).
        VendorId = 43,
        /// Traffic Selector - Initiator (TSi).
        TsI = 44,
        /// Traffic Selector - Responder (TSr).
        TsR = 45,
        /// Encrypted and Authenticated (SK).
        Sk = 46,
        /// Configuration (CP).
        Cp = 47,
        /// Extensible Authentication (EAP).
        Eap = 48,
        /// Encrypted and Authenticated Fragment (SKF, RFC 7383).
        Skf = 53,
    }
}

/// The second octet of a generic payload header: the critical bit and seven reserved bits
/// (RFC 7296 §3.2). Kept for known payloads so that they re-encode byte for byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PayloadFlags(pub u8);

impl PayloadFlags {
    /// The critical bit.
    pub const CRITICAL: u8 = 0x80;

    /// True when the critical bit is set.
    pub fn critical(self) -> bool {
        self.0 & Self::CRITICAL != 0
    }
}

/// A known payload's body with the flags octet of its generic header.
///
/// Derefs to the body, and `From<T>` gives it zero flags, so `nonce.into()` builds one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flagged<T> {
    /// Critical and reserved bits as received (zero when sending).
    pub flags: PayloadFlags,
    /// The payload body.
    pub body: T,
}

impl<T> From<T> for Flagged<T> {
    fn from(body: T) -> Self {
        Flagged { flags: PayloadFlags::default(), body }
    }
}

impl<T> Deref for Flagged<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.body
    }
}

impl<T> DerefMut for Flagged<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.body
    }
}

/// A payload body (what follows the 4-byte generic payload header) that can be decoded and
/// encoded on its own, e.g. to compute AUTH over the IDi body (RFC 7296 §2.15).
pub trait PayloadBody: Sized {
    /// Decodes a body from `r`, which holds exactly this payload's body. Caps in `limits` apply.
    fn decode_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self, DecodeError>;

    /// Appends the body.
    fn encode_body(&self, w: &mut Writer<'_>);

    /// Decodes a body that must fill all of `bytes`.
    fn from_body_bytes(bytes: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode_body(&mut r, limits)?;
        r.finish()?;
        Ok(v)
    }

    /// The encoded body.
    fn to_body_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_body(&mut Writer::new(&mut out));
        out
    }
}

/// One payload of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload {
    /// Security Association (RFC 7296 §3.3).
    Sa(Flagged<Sa>),
    /// Key Exchange (RFC 7296 §3.4).
    Ke(Flagged<KeyExchange>),
    /// Identification - Initiator (RFC 7296 §3.5).
    IdI(Flagged<Id>),
    /// Identification - Responder (RFC 7296 §3.5).
    IdR(Flagged<Id>),
    /// Certificate (RFC 7296 §3.6).
    Cert(Flagged<Cert>),
    /// Certificate Request (RFC 7296 §3.7).
    CertReq(Flagged<CertReq>),
    /// Authentication (RFC 7296 §3.8).
    Auth(Flagged<Auth>),
    /// Nonce (RFC 7296 §3.9).
    Nonce(Flagged<Nonce>),
    /// Notify (RFC 7296 §3.10).
    Notify(Flagged<Notify>),
    /// Delete (RFC 7296 §3.11).
    Delete(Flagged<Delete>),
    /// Vendor ID (RFC 7296 §3.12).
    VendorId(Flagged<VendorId>),
    /// Traffic Selector - Initiator (RFC 7296 §3.13).
    TsI(Flagged<TrafficSelectors>),
    /// Traffic Selector - Responder (RFC 7296 §3.13).
    TsR(Flagged<TrafficSelectors>),
    /// Encrypted and Authenticated (RFC 7296 §3.14); always the last payload of a chain.
    Sk(Flagged<Encrypted>),
    /// Encrypted and Authenticated Fragment (RFC 7383 §2.5); always the last payload.
    Skf(Flagged<EncryptedFragment>),
    /// Configuration (RFC 7296 §3.15).
    Cp(Flagged<Config>),
    /// Extensible Authentication (RFC 7296 §3.16).
    Eap(Flagged<Eap>),
    /// A payload type this implementation does not know, received without the critical bit.
    Unknown {
        /// Its payload type.
        payload_type: PayloadType,
        /// The flags octet (the critical bit is clear for anything that decoded).
        flags: PayloadFlags,
        /// The body, after the generic payload header.
        body: Vec<u8>,
    },
}

impl Payload {
    /// The payload type announced for this payload in the previous Next Payload field.
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::Sa,
            Payload::Ke(_) => PayloadType::Ke,
            Payload::IdI(_) => PayloadType::IdI,
            Payload::IdR(_) => PayloadType::IdR,
            Payload::Cert(_) => PayloadType::Cert,
            Payload::CertReq(_) => PayloadType::CertReq,
            Payload::Auth(_) => PayloadType::Auth,
            Payload::Nonce(_) => PayloadType::Nonce,
            Payload::Notify(_) => PayloadType::Notify,
            Payload::Delete(_) => PayloadType::Delete,
            Payload::VendorId(_) => PayloadType::VendorId,
            Payload::TsI(_) => PayloadType::TsI,
            Payload::TsR(_) => PayloadType::TsR,
            Payload::Sk(_) => PayloadType::Sk,
            Payload::Skf(_) => PayloadType::Skf,
            Payload::Cp(_) => PayloadType::Cp,
            Payload::Eap(_) => PayloadType::Eap,
            Payload::Unknown { payload_type, .. } => *payload_type,
        }
    }

    /// The flags octet of the generic payload header.
    pub fn flags(&self) -> PayloadFlags {
        match self {
            Payload::Sa(p) => p.flags,
            Payload::Ke(p) => p.flags,
            Payload::IdI(p) | Payload::IdR(p) => p.flags,
            Payload::Cert(p) => p.flags,
            Payload::CertReq(p) => p.flags,
            Payload::Auth(p) => p.flags,
            Payload::Nonce(p) => p.flags,
            Payload::Notify(p) => p.flags,
            Payload::Delete(p) => p.flags,
            Payload::VendorId(p) => p.flags,
            Payload::TsI(p) | Payload::TsR(p) => p.flags,
            Payload::Sk(p) => p.flags,
            Payload::Skf(p) => p.flags,
            Payload::Cp(p) => p.flags,
            Payload::Eap(p) => p.flags,
            Payload::Unknown { flags, .. } => *flags,
        }
    }

    /// An IDi payload.
    pub fn id_i(id: Id) -> Payload {
        Payload::IdI(id.into())
    }

    /// An IDr payload.
    pub fn id_r(id: Id) -> Payload {
        Payload::IdR(id.into())
    }

    /// A TSi payload.
    pub fn ts_i(ts: TrafficSelectors) -> Payload {
        Payload::TsI(ts.into())
    }

    /// A TSr payload.
    pub fn ts_r(ts: TrafficSelectors) -> Payload {
        Payload::TsR(ts.into())
    }

    /// The Notify body, if this is a Notify payload.
    pub fn as_notify(&self) -> Option<&Notify> {
        match self {
            Payload::Notify(n) => Some(n),
            _ => None,
        }
    }
}

macro_rules! payload_from {
    ($($ty:ident => $var:ident,)*) => {
        $(impl From<$ty> for Payload {
            fn from(body: $ty) -> Payload {
                Payload::$var(body.into())
            }
        })*
    };
}

payload_from! {
    Sa => Sa,
    KeyExchange => Ke,
    Cert => Cert,
    CertReq => CertReq,
    Auth => Auth,
    Nonce => Nonce,
    Notify => Notify,
    Delete => Delete,
    VendorId => VendorId,
    Encrypted => Sk,
    EncryptedFragment => Skf,
    Config => Cp,
    Eap => Eap,
}

/// Resource caps applied while decoding; exceeding one gives [`DecodeError::TooMany`] (or
/// [`DecodeError::MessageTooLarge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest datagram (or plaintext chain) accepted, in bytes.
    pub max_message_size: usize,
    /// Payloads per chain.
    pub max_payloads: usize,
    /// Notify payloads per chain.
    pub max_notifies: usize,
    /// Vendor ID payloads per chain.
    pub max_vendor_ids: usize,
    /// SPIs per Delete payload.
    pub max_delete_spis: usize,
    /// CERT payloads per chain (and CERTREQ payloads per chain).
    pub max_certs: usize,
    /// Proposals per SA payload.
    pub max_proposals: usize,
    /// Transforms per proposal.
    pub max_transforms: usize,
    /// Traffic selectors per TS payload.
    pub max_traffic_selectors: usize,
    /// Attributes per CP payload.
    pub max_cp_attributes: usize,
}

impl Limits {
    /// The defaults: 64 KiB messages, 64 payloads, 32 notifies, 16 vendor IDs, 256 SPIs per
    /// Delete, 8 certificates, 16 proposals, 32 transforms per proposal, 16 selectors per TS
    /// payload, 32 CP attributes.
    pub const DEFAULT: Limits = Limits {
        max_message_size: 64 * 1024,
        max_payloads: 64,
        max_notifies: 32,
        max_vendor_ids: 16,
        max_delete_spis: 256,
        max_certs: 8,
        max_proposals: 16,
        max_transforms: 32,
        max_traffic_selectors: 16,
        max_cp_attributes: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Fails with [`DecodeError::TooMany`] when `count` has reached `max`.
pub(crate) fn check_cap(count: usize, max: usize, what: Cap) -> Result<(), DecodeError> {
    if count >= max {
        Err(DecodeError::TooMany { what, max })
    } else {
        Ok(())
    }
}

/// An IKE message: the header and its payload chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The IKE header (Next Payload and Length are derived from `payloads` when encoding).
    pub header: Header,
    /// The payloads in order; an SK or SKF payload, if present, is last.
    pub payloads: Vec<Payload>,
}

impl Message {
    /// Decodes one datagram (RFC 7296 §3). The header's Length must equal `datagram.len()`.
    pub fn decode(datagram: &[u8], limits: &Limits) -> Result<Message, DecodeError> {
        if datagram.len() > limits.max_message_size {
            return Err(DecodeError::MessageTooLarge {
                length: datagram.len(),
                max: limits.max_message_size,
            });
        }
        let (header, first) = Header::peek(datagram)?;
        let chain = datagram.get(HEADER_LEN..).unwrap_or_default();
        let payloads = decode_payload_chain(first, chain, limits)?;
        Ok(Message { header, payloads })
    }

    /// The encoded message, with every Next Payload and Length field filled in.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded message to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let first = self.payloads.first().map_or(PayloadType::NoNext, Payload::payload_type);
        let length = self.header.encode(&mut Writer::new(out), first);
        encode_payload_chain(&self.payloads, out);
        Writer::new(out).patch_len32(length, start);
    }

    /// The Notify payloads, in order.
    pub fn notifies(&self) -> impl Iterator<Item = &Notify> {
        self.payloads.iter().filter_map(Payload::as_notify)
    }

    /// The first Notify payload of type `ty`.
    pub fn find_notify(&self, ty: NotifyType) -> Option<&Notify> {
        self.notifies().find(|n| n.notify_type == ty)
    }
}

#[cfg(test)]
mod tests;
