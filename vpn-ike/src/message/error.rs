//! Decoding errors and the Notify each one is answered with (RFC 7296 §2.5, §3.10.1).

use alloc::vec;
use vpn_core::ts::TsError;

use super::notify::{Notify, NotifyData, NotifyType};
use super::{PayloadType, ProtocolId};

/// A resource cap of [`Limits`](super::Limits) that an input exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cap {
    /// Payloads in one chain.
    Payloads,
    /// Notify payloads in one chain.
    Notifies,
    /// Vendor ID payloads in one chain.
    VendorIds,
    /// SPIs in one Delete payload.
    DeleteSpis,
    /// CERT payloads (and, separately, CERTREQ payloads) in one chain.
    Certs,
    /// Proposals in one SA payload.
    Proposals,
    /// Transforms in one proposal.
    Transforms,
    /// Traffic selectors in one TS payload.
    TrafficSelectors,
    /// Attributes in one CP payload.
    CpAttributes,
}

/// Why a message, payload chain or payload body could not be decoded.
///
/// [`DecodeError::notify`] names the Notify to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a fixed-size field (the IKE header, or a field of a body read
    /// outside a payload chain).
    #[error("input ended inside a field")]
    Truncated,
    /// Bytes follow the last payload of a chain (or the end of a body read outside a chain).
    #[error("bytes left over after the last payload")]
    TrailingBytes,
    /// The datagram (or chain) is larger than [`Limits::max_message_size`](super::Limits).
    #[error("message of {length} bytes is over the limit of {max}")]
    MessageTooLarge {
        /// Size of the input.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// The header's major version is not 2 (RFC 7296 §3.1).
    #[error("IKE major version {0} is not supported")]
    InvalidMajorVersion(u8),
    /// The header's Length field differs from the datagram length (RFC 7296 §3.1).
    #[error("header length {header} differs from the datagram length {datagram}")]
    MessageLength {
        /// Length in the header.
        header: u32,
        /// Bytes received.
        datagram: usize,
    },
    /// A generic payload header's length is below the payload's fixed part or runs past the
    /// end of the message (RFC 7296 §3.2).
    #[error("{payload:?} payload length {length} is invalid")]
    PayloadLength {
        /// The payload.
        payload: PayloadType,
        /// Its Payload Length field.
        length: u16,
    },
    /// A payload's body ended inside one of its fields.
    #[error("{payload:?} payload body ends inside a field")]
    PayloadTruncated {
        /// The payload.
        payload: PayloadType,
    },
    /// A payload's body has bytes after its last field.
    #[error("{payload:?} payload body has trailing bytes")]
    PayloadTrailingBytes {
        /// The payload.
        payload: PayloadType,
    },
    /// An unknown payload type with the critical bit set (RFC 7296 §2.5).
    #[error("unsupported critical payload type {0}")]
    UnsupportedCriticalPayload(u8),
    /// An SK or SKF payload is followed by more payloads (RFC 7296 §3.14, RFC 7383 §2.5).
    #[error("{payload:?} payload is not the last payload")]
    EncryptedNotLast {
        /// SK or SKF.
        payload: PayloadType,
    },
    /// A resource cap was exceeded.
    #[error("too many {what:?} (limit {max})")]
    TooMany {
        /// Which cap.
        what: Cap,
        /// Its value.
        max: usize,
    },
    /// A proposal substructure's length is below 8 or does not match its contents (RFC 7296 §3.3.1).
    #[error("proposal length {length} is invalid")]
    ProposalLength {
        /// The Proposal Length field.
        length: u16,
    },
    /// A transform substructure's length is below 8 or does not match its contents (RFC 7296 §3.3.2).
    #[error("transform length {length} is invalid")]
    TransformLength {
        /// The Transform Length field.
        length: u16,
    },
    /// A transform attribute runs past the end of its transform (RFC 7296 §3.3.5).
    #[error("transform attribute length {length} is invalid")]
    AttributeLength {
        /// The attribute's length (TLV) or 4 (TV).
        length: u16,
    },
    /// A "Last Substruc" field is not 0 on the last substructure and 2 (proposals) or 3
    /// (transforms) before it (RFC 7296 §3.3.1, §3.3.2).
    #[error("last substructure field {value} does not match the position")]
    LastSubstructure {
        /// The field's value.
        value: u8,
    },
    /// A proposal's "# of Transforms" does not match the transforms present (RFC 7296 §3.3.1).
    #[error("proposal declares {declared} transforms")]
    TransformCount {
        /// The declared count.
        declared: u8,
    },
    /// Nonce data outside 16..=256 bytes (RFC 7296 §3.9).
    #[error("nonce of {length} bytes")]
    NonceLength {
        /// Bytes of nonce data.
        length: usize,
    },
    /// Identification data of the wrong size for its type (RFC 7296 §3.5).
    #[error("identification type {id_type} with {length} bytes of data")]
    IdDataLength {
        /// The ID type.
        id_type: u8,
        /// Bytes of identification data.
        length: usize,
    },
    /// Notification data of the wrong size for its type (RFC 7296 §3.10.1).
    #[error("{notify:?} notification with {length} bytes of data")]
    NotifyDataLength {
        /// The notify type.
        notify: NotifyType,
        /// Bytes of notification data.
        length: usize,
    },
    /// A Delete payload's SPI count and size do not match its length (RFC 7296 §3.11).
    #[error("delete payload with {count} SPIs of {spi_size} bytes does not match its length")]
    DeleteLength {
        /// The SPI Size field.
        spi_size: u8,
        /// The Num of SPIs field.
        count: u16,
    },
    /// A TS payload's "Number of TSs" does not match the selectors present (RFC 7296 §3.13).
    #[error("TS payload declares {declared} selectors")]
    TsCount {
        /// The declared count.
        declared: u8,
    },
    /// A traffic selector's Selector Length is wrong for its type (RFC 7296 §3.13.1).
    #[error("traffic selector type {ts_type} with length {length}")]
    TsLength {
        /// TS type.
        ts_type: u8,
        /// Selector Length field.
        length: u16,
    },
    /// A traffic selector's ranges are inverted (RFC 7296 §3.13.1).
    #[error("invalid traffic selector: {0}")]
    InvalidSelector(TsError),
    /// A configuration attribute runs past the end of its CP payload (RFC 7296 §3.15.1).
    #[error("configuration attribute length {length} is invalid")]
    CpAttributeLength {
        /// The attribute's Length field.
        length: u16,
    },
    /// An EAP message's Length field differs from the payload, or is too short for its code
    /// (RFC 3748 §4).
    #[error("EAP length {length} but {actual} bytes in the payload")]
    EapLength {
        /// The EAP Length field.
        length: u16,
        /// Bytes present.
        actual: usize,
    },
    /// A fragment number of 0 or above the total (RFC 7383 §2.5).
    #[error("fragment {number} of {total}")]
    FragmentNumber {
        /// Fragment Number.
        number: u16,
        /// Total Fragments.
        total: u16,
    },
}

impl DecodeError {
    /// The notify type to answer this error with (RFC 7296 §2.5, §3.10.1).
    pub fn notify(&self) -> NotifyType {
        match self {
            DecodeError::InvalidMajorVersion(_) => NotifyType::InvalidMajorVersion,
            DecodeError::UnsupportedCriticalPayload(_) => NotifyType::UnsupportedCriticalPayload,
            _ => NotifyType::InvalidSyntax,
        }
    }

    /// The whole Notify payload to answer with; for UNSUPPORTED_CRITICAL_PAYLOAD its data is the
    /// one-octet payload type (RFC 7296 §3.10.1).
    pub fn notify_payload(&self) -> Notify {
        let data = match self {
            DecodeError::UnsupportedCriticalPayload(t) => NotifyData::UnsupportedCriticalPayload(*t),
            _ => NotifyData::None,
        };
        Notify { protocol: ProtocolId::None, spi: vec![], notify_type: self.notify(), data }
    }

    /// Gives a body-level `Truncated`/`TrailingBytes` the payload it happened in.
    pub(crate) fn in_payload(self, payload: PayloadType) -> DecodeError {
        match self {
            DecodeError::Truncated => DecodeError::PayloadTruncated { payload },
            DecodeError::TrailingBytes => DecodeError::PayloadTrailingBytes { payload },
            other => other,
        }
    }
}
