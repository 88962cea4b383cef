//! The Security Association payload: proposals, transforms and attributes (RFC 7296 §3.3).

use alloc::vec::Vec;
use vpn_core::alg::{EncrAlg, EsnMode, IntegAlg, KeGroup, PrfAlg, TransformType};

use super::writer::{sat_u16, sat_u8};
use super::{check_cap, Cap, DecodeError, Limits, PayloadBody, Reader, Writer};

/// The Key Length transform attribute type, sent in TV format (RFC 7296 §3.3.5).
pub const ATTR_KEY_LENGTH: u16 = 14;

/// "Last Substruc" value of a proposal that is followed by another (RFC 7296 §3.3.1).
const MORE_PROPOSALS: u8 = 2;
/// "Last Substruc" value of a transform that is followed by another (RFC 7296 §3.3.2).
const MORE_TRANSFORMS: u8 = 3;
/// Attribute Format bit: set for TV, clear for TLV (RFC 7296 §3.3.5).
const AF_TV: u16 = 0x8000;

code_point! {
    /// Security protocol identifier (RFC 7296 §3.3.1, §3.10, §3.11).
    ProtocolId(u8) {
        /// No protocol (a Notify about no particular SA).
        None = 0,
        /// IKE.
        Ike = 1,
        /// AH.
        Ah = 2,
        /// ESP.
        Esp = 3,
    }
}

/// The SA payload body: one or more proposals (RFC 7296 §3.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sa {
    /// Proposals in order of preference.
    pub proposals: Vec<Proposal>,
}

/// A proposal substructure (RFC 7296 §3.3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Proposal Num (the first is 1; a responder echoes the accepted one).
    pub number: u8,
    /// Protocol ID.
    pub protocol: ProtocolId,
    /// SPI (empty for an initial IKE SA negotiation, 8 bytes for IKE rekeys, 4 for ESP/AH).
    pub spi: Vec<u8>,
    /// Transforms.
    pub transforms: Vec<Transform>,
    /// The RESERVED octet, as received.
    pub reserved: u8,
}

/// A transform substructure (RFC 7296 §3.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transform {
    /// Transform Type.
    pub transform_type: TransformType,
    /// Transform ID, to read as the enum of `transform_type` (e.g. [`EncrAlg`]).
    pub id: u16,
    /// Transform attributes.
    pub attributes: Vec<TransformAttribute>,
    /// The two RESERVED octets (after Last Substruc and after Transform Type), as received.
    pub reserved: [u8; 2],
}

/// A transform attribute (RFC 7296 §3.3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransformAttribute {
    /// Type/Value format (AF = 1): a 2-byte value.
    Tv {
        /// Attribute type (15 bits).
        attr_type: u16,
        /// Value.
        value: u16,
    },
    /// Type/Length/Value format (AF = 0).
    Tlv {
        /// Attribute type (15 bits).
        attr_type: u16,
        /// Value.
        value: Vec<u8>,
    },
}

impl Proposal {
    /// A proposal with no SPI and zero reserved octet.
    pub fn new(number: u8, protocol: ProtocolId, transforms: Vec<Transform>) -> Proposal {
        Proposal { number, protocol, spi: Vec::new(), transforms, reserved: 0 }
    }

    /// The transforms of one type.
    pub fn transforms_of(&self, ty: TransformType) -> impl Iterator<Item = &Transform> {
        self.transforms.iter().filter(move |t| t.transform_type == ty)
    }
}

impl Transform {
    /// A transform without attributes.
    pub fn new(transform_type: TransformType, id: u16) -> Transform {
        Transform { transform_type, id, attributes: Vec::new(), reserved: [0; 2] }
    }

    /// An encryption transform with an optional Key Length attribute (in bits).
    pub fn encr(alg: EncrAlg, key_bits: Option<u16>) -> Transform {
        let mut t = Transform::new(TransformType::Encr, alg.into());
        if let Some(bits) = key_bits {
            t.attributes.push(TransformAttribute::Tv { attr_type: ATTR_KEY_LENGTH, value: bits });
        }
        t
    }

    /// A PRF transform.
    pub fn prf(alg: PrfAlg) -> Transform {
        Transform::new(TransformType::Prf, alg.into())
    }

    /// An integrity transform.
    pub fn integ(alg: IntegAlg) -> Transform {
        Transform::new(TransformType::Integ, alg.into())
    }

    /// A key exchange method transform.
    pub fn ke(group: KeGroup) -> Transform {
        Transform::new(TransformType::Ke, group.into())
    }

    /// An ESN transform.
    pub fn esn(mode: EsnMode) -> Transform {
        Transform::new(TransformType::Esn, mode.into())
    }

    /// The Key Length attribute, in bits, if present.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a {
            TransformAttribute::Tv { attr_type: ATTR_KEY_LENGTH, value } => Some(*value),
            _ => None,
        })
    }
}

impl TransformAttribute {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let raw_type = r.u16().map_err(|_| DecodeError::AttributeLength { length: 0 })?;
        let attr_type = raw_type & !AF_TV;
        if raw_type & AF_TV != 0 {
            let value = r.u16().map_err(|_| DecodeError::AttributeLength { length: 4 })?;
            Ok(TransformAttribute::Tv { attr_type, value })
        } else {
            let length = r.u16().map_err(|_| DecodeError::AttributeLength { length: 0 })?;
            let value = r.take(usize::from(length)).map_err(|_| DecodeError::AttributeLength { length })?;
            Ok(TransformAttribute::Tlv { attr_type, value: value.to_vec() })
        }
    }

    fn encode(&self, w: &mut Writer<'_>) {
        match self {
            TransformAttribute::Tv { attr_type, value } => {
                w.u16(AF_TV | attr_type);
                w.u16(*value);
            }
            TransformAttribute::Tlv { attr_type, value } => {
                w.u16(attr_type & !AF_TV);
                w.u16(sat_u16(value.len()));
                w.bytes(value);
            }
        }
    }
}

/// Reads one substructure's header (Last Substruc, RESERVED, Length) and the body its length
/// covers; `min` is the header's own size.
fn substructure<'a>(
    r: &mut Reader<'a>,
    min: u16,
    bad_length: fn(u16) -> DecodeError,
) -> Result<(u8, u8, Reader<'a>), DecodeError> {
    let last = r.u8()?;
    let reserved = r.u8()?;
    let length = r.u16()?;
    if length < min {
        return Err(bad_length(length));
    }
    let body = r.sub(usize::from(length - 4)).map_err(|_| bad_length(length))?;
    Ok((last, reserved, body))
}

fn decode_transform(r: &mut Reader<'_>, is_last: bool) -> Result<Transform, DecodeError> {
    let length_err = |length| DecodeError::TransformLength { length };
    let (last, reserved0, mut body) = substructure(r, 8, length_err)?;
    // RFC 7296 §3.3.2: Last Substruc is 0 on the last transform and 3 otherwise.
    if last != if is_last { 0 } else { MORE_TRANSFORMS } {
        return Err(DecodeError::LastSubstructure { value: last });
    }
    let transform_type = TransformType::from(u16::from(body.u8()?));
    let reserved1 = body.u8()?;
    let id = body.u16()?;
    let mut attributes = Vec::new();
    while !body.is_empty() {
        attributes.push(TransformAttribute::decode(&mut body)?);
    }
    Ok(Transform { transform_type, id, attributes, reserved: [reserved0, reserved1] })
}

fn decode_proposal(r: &mut Reader<'_>, limits: &Limits) -> Result<Proposal, DecodeError> {
    let length_err = |length| DecodeError::ProposalLength { length };
    let (last, reserved, mut body) = substructure(r, 8, length_err)?;
    let is_last = r.is_empty();
    // RFC 7296 §3.3.1: Last Substruc is 0 on the last proposal and 2 otherwise.
    if last != if is_last { 0 } else { MORE_PROPOSALS } {
        return Err(DecodeError::LastSubstructure { value: last });
    }
    let number = body.u8()?;
    let protocol = ProtocolId::from(body.u8()?);
    let spi_size = body.u8()?;
    let declared = body.u8()?;
    let spi = body.take(usize::from(spi_size))?.to_vec();
    if usize::from(declared) > limits.max_transforms {
        return Err(DecodeError::TooMany { what: Cap::Transforms, max: limits.max_transforms });
    }
    let mut transforms = Vec::with_capacity(usize::from(declared));
    for i in 0..declared {
        if body.is_empty() {
            return Err(DecodeError::TransformCount { declared });
        }
        transforms.push(decode_transform(&mut body, i + 1 == declared)?);
    }
    if !body.is_empty() {
        return Err(DecodeError::TransformCount { declared });
    }
    Ok(Proposal { number, protocol, spi, transforms, reserved })
}

impl PayloadBody for Sa {
    fn decode_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self, DecodeError> {
        let mut proposals = Vec::new();
        while !r.is_empty() {
            check_cap(proposals.len(), limits.max_proposals, Cap::Proposals)?;
            proposals.push(decode_proposal(r, limits)?);
        }
        Ok(Sa { proposals })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        for (i, p) in self.proposals.iter().enumerate() {
            let start = w.position();
            w.u8(if i + 1 == self.proposals.len() { 0 } else { MORE_PROPOSALS });
            w.u8(p.reserved);
            let len = w.len16();
            w.u8(p.number);
            w.u8(p.protocol.into());
            w.u8(sat_u8(p.spi.len()));
            w.u8(sat_u8(p.transforms.len()));
            w.bytes(&p.spi);
            for (j, t) in p.transforms.iter().enumerate() {
                let t_start = w.position();
                w.u8(if j + 1 == p.transforms.len() { 0 } else { MORE_TRANSFORMS });
                w.u8(t.reserved[0]);
                let t_len = w.len16();
                w.u8(u16::from(t.transform_type).to_be_bytes()[1]);
                w.u8(t.reserved[1]);
                w.u16(t.id);
                for a in &t.attributes {
                    a.encode(w);
                }
                w.patch_len16(t_len, t_start);
            }
            w.patch_len16(len, start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn ike_proposal() -> Sa {
        Sa {
            proposals: vec![Proposal::new(
                1,
                ProtocolId::Ike,
                vec![
                    Transform::encr(EncrAlg::AesGcm16, Some(256)),
                    Transform::prf(PrfAlg::HmacSha256),
                    Transform::ke(KeGroup::Curve25519),
                ],
            )],
        }
    }

    // SA body of strongSwan's aes256gcm16-prfsha256-x25519 proposal, written out by hand from
    // RFC 7296 §3.3.1-§3.3.5.
    const IKE_PROPOSAL: &str = concat!(
        "00000024", "01010003", // last, reserved, length 36; #1, IKE, no SPI, 3 transforms
        "0300000c", "01000014", "800e0100", // ENCR AES-GCM-16, key length 256
        "03000008", "02000005", // PRF HMAC-SHA2-256
        "00000008", "0400001f", // KE Curve25519
    );

    #[test]
    fn round_trip_ike_proposal() {
        let bytes = hex::decode(IKE_PROPOSAL).unwrap();
        let sa = Sa::from_body_bytes(&bytes, &Limits::default()).unwrap();
        assert_eq!(sa, ike_proposal());
        assert_eq!(sa.proposals[0].transforms[0].key_length(), Some(256));
        assert_eq!(sa.to_body_bytes(), bytes);
    }

    #[test]
    fn round_trip_esp_proposals_with_spi_tlv_and_reserved() {
        let mut esp = Proposal::new(
            2,
            ProtocolId::Esp,
            vec![Transform::encr(EncrAlg::AesCbc, Some(128)), Transform::esn(EsnMode::No)],
        );
        esp.spi = vec![1, 2, 3, 4];
        esp.reserved = 0x55;
        esp.transforms[1].reserved = [0x11, 0x22];
        esp.transforms[1].attributes.push(TransformAttribute::Tlv { attr_type: 99, value: vec![9, 9, 9] });
        let sa = Sa { proposals: vec![ike_proposal().proposals.remove(0), esp] };
        let bytes = sa.to_body_bytes();
        assert_eq!(Sa::from_body_bytes(&bytes, &Limits::default()), Ok(sa));
    }

    #[test]
    fn rejects_bad_lengths_and_counts() {
        let good = hex::decode(IKE_PROPOSAL).unwrap();
        let l = Limits::default();
        let mut b = good.clone();
        b[3] = 7; // proposal length below its fixed part
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::ProposalLength { length: 7 }));
        b[3] = 37; // one past the end
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::ProposalLength { length: 37 }));
        b[3] = 35; // one short: the last transform no longer fits
        assert!(Sa::from_body_bytes(&b, &l).is_err());
        let mut b = good.clone();
        b[7] = 4; // declares 4 transforms, has 3: the third one says it is the last
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::LastSubstructure { value: 0 }));
        b[28] = 3; // ... and with a third that says more follow, the bytes run out
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::TransformCount { declared: 4 }));
        b[28] = 0;
        b[7] = 2; // declares 2: the second one says more follow
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::LastSubstructure { value: 3 }));
        let mut b = good.clone();
        b[0] = 2; // says another proposal follows
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::LastSubstructure { value: 2 }));
        let mut b = good.clone();
        b[11] = 0x30; // transform length 48 runs past the proposal
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::TransformLength { length: 48 }));
        b[11] = 0x0d; // transform length 13 leaves one byte, not an attribute
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::AttributeLength { length: 0 }));
        let mut b = good.clone();
        b[11] = 0x0a; // transform length 10 cuts the TV attribute in half
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::AttributeLength { length: 4 }));
        let mut b = good;
        b[11] = 0x07;
        assert_eq!(Sa::from_body_bytes(&b, &l), Err(DecodeError::TransformLength { length: 7 }));
    }

    #[test]
    fn caps_proposals_and_transforms() {
        let bytes = hex::decode(IKE_PROPOSAL).unwrap();
        let l = Limits { max_transforms: 2, ..Limits::default() };
        assert_eq!(
            Sa::from_body_bytes(&bytes, &l),
            Err(DecodeError::TooMany { what: Cap::Transforms, max: 2 })
        );
        let mut two = ike_proposal();
        two.proposals.push(two.proposals[0].clone());
        let l = Limits { max_proposals: 1, ..Limits::default() };
        assert_eq!(
            Sa::from_body_bytes(&two.to_body_bytes(), &l),
            Err(DecodeError::TooMany { what: Cap::Proposals, max: 1 })
        );
    }
}
