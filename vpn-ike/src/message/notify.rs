//! The Notify payload (RFC 7296 §3.10) and its message types (§3.10.1).

use alloc::vec::Vec;
use vpn_core::alg::KeGroup;

use super::writer::sat_u8;
use super::{DecodeError, Limits, PayloadBody, ProtocolId, Reader, Writer};

code_point! {
    /// Notify message type (RFC 7296 §3.10.1, IANA "IKEv2 Notify Message Types"). Values below
    /// 16384 are errors, the rest status.
    NotifyType(u16) {
        /// UNSUPPORTED_CRITICAL_PAYLOAD; data: the one-octet payload type.
        UnsupportedCriticalPayload = 1,
        /// INVALID_IKE_SPI.
        InvalidIkeSpi = 4,
        /// INVALID_MAJOR_VERSION.
        InvalidMajorVersion = 5,
        /// INVALID_SYNTAX.
        InvalidSyntax = 7,
        /// INVALID_MESSAGE_ID; data: the four-octet message ID.
        InvalidMessageId = 9,
        /// INVALID_SPI; data: the SPI.
        InvalidSpi = 11,
        /// NO_PROPOSAL_CHOSEN.
        NoProposalChosen = 14,
        /// INVALID_KE_PAYLOAD; data: the two-octet accepted group.
        InvalidKePayload = 17,
        /// AUTHENTICATION_FAILED.
        AuthenticationFailed = 24,
        /// SINGLE_PAIR_REQUIRED.
        SinglePairRequired = 34,
        /// NO_ADDITIONAL_SAS.
        NoAdditionalSas = 35,
        /// INTERNAL_ADDRESS_FAILURE.
        InternalAddressFailure = 36,
        /// FAILED_CP_REQUIRED.
        FailedCpRequired = 37,
        /// TS_UNACCEPTABLE.
        TsUnacceptable = 38,
        /// INVALID_SELECTORS; data: the offending packet's IP header.
        InvalidSelectors = 39,
        /// UNACCEPTABLE_ADDRESSES (RFC 4555).
        UnacceptableAddresses = 40,
        /// UNEXPECTED_NAT_DETECTED (RFC 4555).
        UnexpectedNatDetected = 41,
        /// USE_ASSIGNED_HoA (RFC 5026).
        UseAssignedHoa = 42,
        /// TEMPORARY_FAILURE.
        TemporaryFailure = 43,
        /// CHILD_SA_NOT_FOUND.
        ChildSaNotFound = 44,
        /// INVALID_GROUP_ID (RFC 6407).
        InvalidGroupId = 45,
        /// AUTHORIZATION_FAILED (RFC 6407).
        AuthorizationFailed = 46,
        /// STATE_NOT_FOUND (RFC 9370).
        StateNotFound = 47,
        /// INITIAL_CONTACT.
        InitialContact = 16384,
        /// SET_WINDOW_SIZE; data: the four-octet window size.
        SetWindowSize = 16385,
        /// ADDITIONAL_TS_POSSIBLE.
        AdditionalTsPossible = 16386,
        /// IPCOMP_SUPPORTED.
        IpcompSupported = 16387,
        /// NAT_DETECTION_SOURCE_IP; data: a 20-octet SHA-1 hash.
        NatDetectionSourceIp = 16388,
        /// NAT_DETECTION_DESTINATION_IP; data: a 20-octet SHA-1 hash.
        NatDetectionDestinationIp = 16389,
        /// COOKIE; data: 1 to 64 octets.
        Cookie = 16390,
        /// USE_TRANSPORT_MODE.
        UseTransportMode = 16391,
        /// HTTP_CERT_LOOKUP_SUPPORTED.
        HttpCertLookupSupported = 16392,
        /// REKEY_SA; the SPI field names the SA being rekeyed.
        RekeySa = 16393,
        /// ESP_TFC_PADDING_NOT_SUPPORTED.
        EspTfcPaddingNotSupported = 16394,
        /// NON_FIRST_FRAGMENTS_ALSO.
        NonFirstFragmentsAlso = 16395,
        /// MOBIKE_SUPPORTED (RFC 4555).
        MobikeSupported = 16396,
        /// ADDITIONAL_IP4_ADDRESS (RFC 4555).
        AdditionalIp4Address = 16397,
        /// ADDITIONAL_IP6_ADDRESS (RFC 4555).
        AdditionalIp6Address = 16398,
        /// NO_ADDITIONAL_ADDRESSES (RFC 4555).
        NoAdditionalAddresses = 16399,
        /// UPDATE_SA_ADDRESSES (RFC 4555).
        UpdateSaAddresses = 16400,
        /// COOKIE2 (RFC 4555).
        Cookie2 = 16401,
        /// NO_NATS_ALLOWED (RFC 4555).
        NoNatsAllowed = 16402,
        /// AUTH_LIFETIME (RFC 4478).
        AuthLifetime = 16403,
        /// MULTIPLE_AUTH_SUPPORTED (RFC 4739).
        MultipleAuthSupported = 16404,
        /// ANOTHER_AUTH_FOLLOWS (RFC 4739).
        AnotherAuthFollows = 16405,
        /// REDIRECT_SUPPORTED (RFC 5685).
        RedirectSupported = 16406,
        /// REDIRECT (RFC 5685).
        Redirect = 16407,
        /// REDIRECTED_FROM (RFC 5685).
        RedirectedFrom = 16408,
        /// TICKET_LT_OPAQUE (RFC 5723).
        TicketLtOpaque = 16409,
        /// TICKET_REQUEST (RFC 5723).
        TicketRequest = 16410,
        /// TICKET_ACK (RFC 5723).
        TicketAck = 16411,
        /// TICKET_NACK (RFC 5723).
        TicketNack = 16412,
        /// TICKET_OPAQUE (RFC 5723).
        TicketOpaque = 16413,
        /// LINK_ID (RFC 5739).
        LinkId = 16414,
        /// USE_WESP_MODE (RFC 5840).
        UseWespMode = 16415,
        /// ROHC_SUPPORTED (RFC 5857).
        RohcSupported = 16416,
        /// EAP_ONLY_AUTHENTICATION (RFC 5998).
        EapOnlyAuthentication = 16417,
        /// CHILDLESS_IKEV2_SUPPORTED (RFC 6023).
        ChildlessIkev2Supported = 16418,
        /// QUICK_CRASH_DETECTION (RFC 6290).
        QuickCrashDetection = 16419,
        /// IKEV2_MESSAGE_ID_SYNC_SUPPORTED (RFC 6311).
        Ikev2MessageIdSyncSupported = 16420,
        /// IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED (RFC 6311).
        IpsecReplayCounterSyncSupported = 16421,
        /// IKEV2_MESSAGE_ID_SYNC (RFC 6311).
        Ikev2MessageIdSync = 16422,
        /// IPSEC_REPLAY_COUNTER_SYNC (RFC 6311).
        IpsecReplayCounterSync = 16423,
        /// SECURE_PASSWORD_METHODS (RFC 6467).
        SecurePasswordMethods = 16424,
        /// PSK_PERSIST (RFC 6631).
        PskPersist = 16425,
        /// PSK_CONFIRM (RFC 6631).
        PskConfirm = 16426,
        /// ERX_SUPPORTED (RFC 6867).
        ErxSupported = 16427,
        /// IFOM_CAPABILITY.
        IfomCapability = 16428,
        /// SENDER_REQUEST_ID.
        SenderRequestId = 16429,
        /// IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383).
        Ikev2FragmentationSupported = 16430,
        /// SIGNATURE_HASH_ALGORITHMS (RFC 7427); data: a list of two-octet hash algorithm ids.
        SignatureHashAlgorithms = 16431,
        /// CLONE_IKE_SA_SUPPORTED (RFC 7791).
        CloneIkeSaSupported = 16432,
        /// CLONE_IKE_SA (RFC 7791).
        CloneIkeSa = 16433,
        /// PUZZLE (RFC 8019).
        Puzzle = 16434,
        /// USE_PPK (RFC 8784).
        UsePpk = 16435,
        /// PPK_IDENTITY (RFC 8784).
        PpkIdentity = 16436,
        /// NO_PPK_AUTH (RFC 8784).
        NoPpkAuth = 16437,
        /// INTERMEDIATE_EXCHANGE_SUPPORTED (RFC 9242).
        IntermediateExchangeSupported = 16438,
    }
}

impl NotifyType {
    /// True for error types (0..16383, RFC 7296 §3.10.1).
    pub fn is_error(self) -> bool {
        u16::from(self) < 16384
    }
}

/// Notification data, typed where the RFCs define its form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyData {
    /// No data.
    None,
    /// UNSUPPORTED_CRITICAL_PAYLOAD: the payload type not understood.
    UnsupportedCriticalPayload(u8),
    /// INVALID_KE_PAYLOAD: the group the responder wants.
    InvalidKePayload(KeGroup),
    /// INVALID_MESSAGE_ID: the message ID received.
    InvalidMessageId(u32),
    /// COOKIE (RFC 7296 §2.6): 1 to 64 octets.
    Cookie(Vec<u8>),
    /// NAT_DETECTION_SOURCE_IP / NAT_DETECTION_DESTINATION_IP (RFC 7296 §2.23): SHA-1 of
    /// SPIs, address and port.
    NatDetection([u8; 20]),
    /// SET_WINDOW_SIZE (RFC 7296 §2.3): the window size.
    SetWindowSize(u32),
    /// SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4): hash algorithm identifiers.
    SignatureHashAlgorithms(Vec<u16>),
    /// Data of a type without a typed form, kept as received.
    Raw(Vec<u8>),
}

/// The Notify payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    /// Protocol ID (0 when the notification is not about an SA).
    pub protocol: ProtocolId,
    /// SPI (empty when not about an SA).
    pub spi: Vec<u8>,
    /// Notify Message Type.
    pub notify_type: NotifyType,
    /// Notification Data.
    pub data: NotifyData,
}

impl Notify {
    /// A notify about no particular SA.
    pub fn new(notify_type: NotifyType, data: NotifyData) -> Notify {
        Notify { protocol: ProtocolId::None, spi: Vec::new(), notify_type, data }
    }

    /// A notify without data about no particular SA (e.g. INITIAL_CONTACT).
    pub fn status(notify_type: NotifyType) -> Notify {
        Notify::new(notify_type, NotifyData::None)
    }

    /// COOKIE.
    pub fn cookie(cookie: Vec<u8>) -> Notify {
        Notify::new(NotifyType::Cookie, NotifyData::Cookie(cookie))
    }

    /// REKEY_SA for the Child SA with `spi` (RFC 7296 §1.3.3).
    pub fn rekey_sa(protocol: ProtocolId, spi: Vec<u8>) -> Notify {
        Notify { protocol, spi, notify_type: NotifyType::RekeySa, data: NotifyData::None }
    }
}

/// Types data by notify type (RFC 7296 §3.10.1, RFC 7427 §4).
fn decode_data(ty: NotifyType, data: &[u8]) -> Result<NotifyData, DecodeError> {
    let wrong = || DecodeError::NotifyDataLength { notify: ty, length: data.len() };
    Ok(match ty {
        NotifyType::UnsupportedCriticalPayload => match data {
            [t] => NotifyData::UnsupportedCriticalPayload(*t),
            _ => return Err(wrong()),
        },
        NotifyType::InvalidKePayload => {
            NotifyData::InvalidKePayload(u16::from_be_bytes(data.try_into().map_err(|_| wrong())?).into())
        }
        NotifyType::InvalidMessageId => {
            NotifyData::InvalidMessageId(u32::from_be_bytes(data.try_into().map_err(|_| wrong())?))
        }
        NotifyType::SetWindowSize => {
            NotifyData::SetWindowSize(u32::from_be_bytes(data.try_into().map_err(|_| wrong())?))
        }
        NotifyType::NatDetectionSourceIp | NotifyType::NatDetectionDestinationIp => {
            NotifyData::NatDetection(data.try_into().map_err(|_| wrong())?)
        }
        // RFC 7296 §2.6: a cookie is 1 to 64 octets.
        NotifyType::Cookie if (1..=64).contains(&data.len()) => NotifyData::Cookie(data.to_vec()),
        NotifyType::Cookie => return Err(wrong()),
        NotifyType::SignatureHashAlgorithms if data.len() % 2 == 0 => {
            let mut r = Reader::new(data);
            let mut list = Vec::with_capacity(data.len() / 2);
            while !r.is_empty() {
                list.push(r.u16()?);
            }
            NotifyData::SignatureHashAlgorithms(list)
        }
        NotifyType::SignatureHashAlgorithms => return Err(wrong()),
        _ if data.is_empty() => NotifyData::None,
        _ => NotifyData::Raw(data.to_vec()),
    })
}

impl PayloadBody for Notify {
    fn decode_body(r: &mut Reader<'_>, _: &Limits) -> Result<Self, DecodeError> {
        let protocol = ProtocolId::from(r.u8()?);
        let spi_size = r.u8()?;
        let notify_type = NotifyType::from(r.u16()?);
        let spi = r.take(usize::from(spi_size))?.to_vec();
        let data = decode_data(notify_type, r.rest())?;
        Ok(Notify { protocol, spi, notify_type, data })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u8(self.protocol.into());
        w.u8(sat_u8(self.spi.len()));
        w.u16(self.notify_type.into());
        w.bytes(&self.spi);
        match &self.data {
            NotifyData::None => {}
            NotifyData::UnsupportedCriticalPayload(t) => w.u8(*t),
            NotifyData::InvalidKePayload(g) => w.u16((*g).into()),
            NotifyData::InvalidMessageId(v) | NotifyData::SetWindowSize(v) => w.u32(*v),
            NotifyData::Cookie(d) | NotifyData::Raw(d) => w.bytes(d),
            NotifyData::NatDetection(h) => w.bytes(h),
            NotifyData::SignatureHashAlgorithms(list) => list.iter().for_each(|h| w.u16(*h)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn rt(n: Notify) {
        let bytes = n.to_body_bytes();
        assert_eq!(Notify::from_body_bytes(&bytes, &Limits::default()), Ok(n));
    }

    #[test]
    fn round_trip_typed_data() {
        rt(Notify::status(NotifyType::InitialContact));
        rt(Notify::new(NotifyType::UnsupportedCriticalPayload, NotifyData::UnsupportedCriticalPayload(99)));
        rt(Notify::new(NotifyType::InvalidKePayload, NotifyData::InvalidKePayload(KeGroup::Ecp256)));
        rt(Notify::new(NotifyType::InvalidMessageId, NotifyData::InvalidMessageId(77)));
        rt(Notify::cookie(vec![1; 64]));
        rt(Notify::new(NotifyType::NatDetectionSourceIp, NotifyData::NatDetection([3; 20])));
        rt(Notify::new(NotifyType::NatDetectionDestinationIp, NotifyData::NatDetection([4; 20])));
        rt(Notify::new(NotifyType::SetWindowSize, NotifyData::SetWindowSize(10)));
        rt(Notify::new(
            NotifyType::SignatureHashAlgorithms,
            NotifyData::SignatureHashAlgorithms(vec![2, 3, 4]),
        ));
        rt(Notify::rekey_sa(ProtocolId::Esp, vec![0xc0, 0xff, 0xee, 0x01]));
        rt(Notify::new(NotifyType::InvalidSpi, NotifyData::Raw(vec![1, 2, 3, 4])));
        rt(Notify::new(NotifyType::Unknown(40000), NotifyData::Raw(vec![1])));
        rt(Notify::status(NotifyType::Unknown(12345)));
        rt(Notify::new(NotifyType::InitialContact, NotifyData::Raw(vec![0])));
    }

    #[test]
    fn rfc7634_set_window_size_body() {
        // RFC 7634 appendix B: the plaintext notify is 0000000c 00004001 0000000a.
        let n = Notify::from_body_bytes(&[0, 0, 0x40, 0x01, 0, 0, 0, 0x0a], &Limits::default()).unwrap();
        assert_eq!(n.notify_type, NotifyType::SetWindowSize);
        assert_eq!(n.data, NotifyData::SetWindowSize(10));
        assert!(!n.notify_type.is_error());
    }

    #[test]
    fn rejects_wrong_data_lengths() {
        let l = Limits::default();
        let bad = |ty: u16, data: &[u8]| {
            let mut b = vec![0, 0];
            b.extend_from_slice(&ty.to_be_bytes());
            b.extend_from_slice(data);
            Notify::from_body_bytes(&b, &l)
        };
        let e = |ty: NotifyType, length| Err(DecodeError::NotifyDataLength { notify: ty, length });
        assert_eq!(bad(16388, &[0; 19]), e(NotifyType::NatDetectionSourceIp, 19));
        assert_eq!(bad(16389, &[0; 21]), e(NotifyType::NatDetectionDestinationIp, 21));
        assert_eq!(bad(16390, &[]), e(NotifyType::Cookie, 0));
        assert_eq!(bad(16390, &[0; 65]), e(NotifyType::Cookie, 65));
        assert_eq!(bad(17, &[0]), e(NotifyType::InvalidKePayload, 1));
        assert_eq!(bad(16385, &[0; 3]), e(NotifyType::SetWindowSize, 3));
        assert_eq!(bad(16431, &[0; 3]), e(NotifyType::SignatureHashAlgorithms, 3));
        assert_eq!(bad(1, &[]), e(NotifyType::UnsupportedCriticalPayload, 0));
        // SPI size past the end.
        assert_eq!(Notify::from_body_bytes(&[3, 4, 0x40, 0x09, 1], &l), Err(DecodeError::Truncated));
    }

    #[test]
    fn code_points_round_trip() {
        for v in (0..=100u16).chain(16380..=16450) {
            assert_eq!(u16::from(NotifyType::from(v)), v);
        }
        assert_eq!(NotifyType::from(16431), NotifyType::SignatureHashAlgorithms);
        assert_eq!(NotifyType::from(16430), NotifyType::Ikev2FragmentationSupported);
        assert!(NotifyType::TsUnacceptable.is_error());
    }
}
