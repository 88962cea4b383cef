//! Payload chains: generic payload headers (RFC 7296 §3.2) linking typed payload bodies.

use alloc::vec::Vec;

use super::{
    check_cap, Auth, Cap, Cert, CertReq, Config, DecodeError, Delete, Eap, Encrypted, EncryptedFragment,
    Flagged, Id, KeyExchange, Limits, Nonce, Notify, Payload, PayloadBody, PayloadFlags, PayloadType, Reader,
    Sa, TrafficSelectors, VendorId, Writer,
};

/// Size of the generic payload header.
const GENERIC_HEADER_LEN: u16 = 4;

/// Smallest body of each payload type: its fixed fields (RFC 7296 §3.3-§3.16, RFC 7383 §2.5).
fn min_body_len(ty: PayloadType) -> u16 {
    match ty {
        PayloadType::Sa => 8,                           // one proposal header
        PayloadType::Ke | PayloadType::Auth => 4,       // group/method and reserved
        PayloadType::IdI | PayloadType::IdR => 4,       // ID type and reserved
        PayloadType::Cert | PayloadType::CertReq => 1,  // encoding
        PayloadType::Nonce => 16,                       // RFC 7296 §3.9
        PayloadType::Notify | PayloadType::Delete => 4, // protocol, SPI size, type/count
        PayloadType::TsI | PayloadType::TsR => 4,       // count and reserved
        PayloadType::Cp | PayloadType::Eap => 4,        // type and reserved / EAP header
        PayloadType::Skf => 4,                          // fragment number and total
        _ => 0,
    }
}

/// Per-chain counters for the caps of [`Limits`].
#[derive(Default)]
struct Counts {
    notifies: usize,
    vendor_ids: usize,
    certs: usize,
    cert_reqs: usize,
}

fn body<T: PayloadBody>(
    flags: PayloadFlags,
    r: &mut Reader<'_>,
    l: &Limits,
) -> Result<Flagged<T>, DecodeError> {
    Ok(Flagged { flags, body: T::decode_body(r, l)? })
}

fn decode_one(
    ty: PayloadType,
    next: PayloadType,
    flags: PayloadFlags,
    r: &mut Reader<'_>,
    l: &Limits,
    counts: &mut Counts,
) -> Result<Payload, DecodeError> {
    Ok(match ty {
        PayloadType::Sa => Payload::Sa(body::<Sa>(flags, r, l)?),
        PayloadType::Ke => Payload::Ke(body::<KeyExchange>(flags, r, l)?),
        PayloadType::IdI => Payload::IdI(body::<Id>(flags, r, l)?),
        PayloadType::IdR => Payload::IdR(body::<Id>(flags, r, l)?),
        PayloadType::Cert => {
            check_cap(counts.certs, l.max_certs, Cap::Certs)?;
            counts.certs += 1;
            Payload::Cert(body::<Cert>(flags, r, l)?)
        }
        PayloadType::CertReq => {
            check_cap(counts.cert_reqs, l.max_certs, Cap::Certs)?;
            counts.cert_reqs += 1;
            Payload::CertReq(body::<CertReq>(flags, r, l)?)
        }
        PayloadType::Auth => Payload::Auth(body::<Auth>(flags, r, l)?),
        PayloadType::Nonce => Payload::Nonce(body::<Nonce>(flags, r, l)?),
        PayloadType::Notify => {
            check_cap(counts.notifies, l.max_notifies, Cap::Notifies)?;
            counts.notifies += 1;
            Payload::Notify(body::<Notify>(flags, r, l)?)
        }
        PayloadType::Delete => Payload::Delete(body::<Delete>(flags, r, l)?),
        PayloadType::VendorId => {
            check_cap(counts.vendor_ids, l.max_vendor_ids, Cap::VendorIds)?;
            counts.vendor_ids += 1;
            Payload::VendorId(body::<VendorId>(flags, r, l)?)
        }
        PayloadType::TsI => Payload::TsI(body::<TrafficSelectors>(flags, r, l)?),
        PayloadType::TsR => Payload::TsR(body::<TrafficSelectors>(flags, r, l)?),
        PayloadType::Sk => Payload::Sk(Flagged { flags, body: Encrypted::decode(next, r) }),
        PayloadType::Skf => Payload::Skf(Flagged { flags, body: EncryptedFragment::decode(next, r)? }),
        PayloadType::Cp => Payload::Cp(body::<Config>(flags, r, l)?),
        PayloadType::Eap => Payload::Eap(body::<Eap>(flags, r, l)?),
        // RFC 7296 §2.5: an unknown payload with the critical bit set rejects the message.
        PayloadType::NoNext | PayloadType::Unknown(_) if flags.critical() => {
            return Err(DecodeError::UnsupportedCriticalPayload(ty.into()));
        }
        // RFC 7296 §3.2: an unknown payload without the critical bit is skipped (and kept).
        PayloadType::NoNext | PayloadType::Unknown(_) => {
            Payload::Unknown { payload_type: ty, flags, body: r.rest().to_vec() }
        }
    })
}

/// Decodes a payload chain whose first payload has type `first` and which fills all of `bytes`:
/// the payloads of a message after its header, or the plaintext of an SK payload.
///
/// Errors on a bad length, a body that does not decode, an unknown critical payload, bytes after
/// the last payload, an SK/SKF payload that is not the last, or a cap of `limits` exceeded.
pub fn decode_payload_chain(
    first: PayloadType,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<Payload>, DecodeError> {
    if bytes.len() > limits.max_message_size {
        return Err(DecodeError::MessageTooLarge { length: bytes.len(), max: limits.max_message_size });
    }
    let mut r = Reader::new(bytes);
    let mut counts = Counts::default();
    let mut payloads = Vec::new();
    let mut ty = first;
    while ty != PayloadType::NoNext {
        check_cap(payloads.len(), limits.max_payloads, Cap::Payloads)?;
        let truncated = |_| DecodeError::PayloadTruncated { payload: ty };
        let next = PayloadType::from(r.u8().map_err(truncated)?);
        let flags = PayloadFlags(r.u8().map_err(truncated)?);
        let length = r.u16().map_err(truncated)?;
        // RFC 7296 §3.2: Payload Length includes the generic header.
        let bad_length = DecodeError::PayloadLength { payload: ty, length };
        if length < GENERIC_HEADER_LEN.saturating_add(min_body_len(ty)) {
            return Err(bad_length);
        }
        let mut body = r.sub(usize::from(length - GENERIC_HEADER_LEN)).map_err(|_| bad_length)?;
        let payload =
            decode_one(ty, next, flags, &mut body, limits, &mut counts).map_err(|e| e.in_payload(ty))?;
        body.finish().map_err(|e| e.in_payload(ty))?;
        payloads.push(payload);
        if matches!(ty, PayloadType::Sk | PayloadType::Skf) {
            // RFC 7296 §3.14, RFC 7383 §2.5: the encrypted payload is the last one; its Next
            // Payload field names the first payload inside it.
            if !r.is_empty() {
                return Err(DecodeError::EncryptedNotLast { payload: ty });
            }
            return Ok(payloads);
        }
        ty = next;
    }
    r.finish()?;
    Ok(payloads)
}

/// Appends the payloads with their generic headers to `out`, linking them through the Next
/// Payload fields, and returns the type of the first (for the IKE header, or for the SK
/// payload's Next Payload field). An SK or SKF payload must be last: its Next Payload field
/// carries its `inner_first`.
pub fn encode_payload_chain(payloads: &[Payload], out: &mut Vec<u8>) -> PayloadType {
    let mut w = Writer::new(out);
    for (i, p) in payloads.iter().enumerate() {
        let next = match p {
            Payload::Sk(sk) => sk.inner_first,
            Payload::Skf(skf) => skf.inner_first,
            _ => payloads.get(i + 1).map_or(PayloadType::NoNext, Payload::payload_type),
        };
        let start = w.position();
        w.u8(next.into());
        w.u8(p.flags().0);
        let length = w.len16();
        match p {
            Payload::Sa(b) => b.encode_body(&mut w),
            Payload::Ke(b) => b.encode_body(&mut w),
            Payload::IdI(b) | Payload::IdR(b) => b.encode_body(&mut w),
            Payload::Cert(b) => b.encode_body(&mut w),
            Payload::CertReq(b) => b.encode_body(&mut w),
            Payload::Auth(b) => b.encode_body(&mut w),
            Payload::Nonce(b) => b.encode_body(&mut w),
            Payload::Notify(b) => b.encode_body(&mut w),
            Payload::Delete(b) => b.encode_body(&mut w),
            Payload::VendorId(b) => b.encode_body(&mut w),
            Payload::TsI(b) | Payload::TsR(b) => b.encode_body(&mut w),
            Payload::Sk(b) => b.encode(&mut w),
            Payload::Skf(b) => b.encode(&mut w),
            Payload::Cp(b) => b.encode_body(&mut w),
            Payload::Eap(b) => b.encode_body(&mut w),
            Payload::Unknown { body, .. } => w.bytes(body),
        }
        w.patch_len16(length, start);
    }
    payloads.first().map_or(PayloadType::NoNext, Payload::payload_type)
}
