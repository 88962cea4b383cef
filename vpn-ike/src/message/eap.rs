//! The EAP payload (RFC 7296 §3.16): one EAP message (RFC 3748 §4), kept raw.

use alloc::vec::Vec;

use super::{DecodeError, Limits, PayloadBody, Reader, Writer};

code_point! {
    /// EAP Code (RFC 3748 §4).
    EapCode(u8) {
        /// Request.
        Request = 1,
        /// Response.
        Response = 2,
        /// Success.
        Success = 3,
        /// Failure.
        Failure = 4,
    }
}

/// The EAP payload body: a whole EAP message whose header has been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eap {
    message: Vec<u8>,
}

impl Eap {
    /// Wraps an EAP message, checking its Code, Identifier and Length fields.
    pub fn new(message: Vec<u8>) -> Result<Eap, DecodeError> {
        check(&message)?;
        Ok(Eap { message })
    }

    /// The whole EAP message.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// Code.
    pub fn code(&self) -> EapCode {
        EapCode::from(self.message.first().copied().unwrap_or(0))
    }

    /// Identifier.
    pub fn identifier(&self) -> u8 {
        self.message.get(1).copied().unwrap_or(0)
    }

    /// Type, for requests and responses.
    pub fn eap_type(&self) -> Option<u8> {
        match self.code() {
            EapCode::Request | EapCode::Response => self.message.get(4).copied(),
            _ => None,
        }
    }
}

/// RFC 3748 §4: Code, Identifier, Length (the whole packet), then Data; requests and
/// responses carry at least a Type octet, Success and Failure nothing.
fn check(message: &[u8]) -> Result<(), DecodeError> {
    let mut r = Reader::new(message);
    let code = EapCode::from(r.u8()?);
    let _identifier = r.u8()?;
    let length = r.u16()?;
    let min = match code {
        EapCode::Request | EapCode::Response => 5,
        _ => 4,
    };
    if usize::from(length) != message.len() || length < min {
        return Err(DecodeError::EapLength { length, actual: message.len() });
    }
    Ok(())
}

impl PayloadBody for Eap {
    fn decode_body(r: &mut Reader<'_>, _: &Limits) -> Result<Self, DecodeError> {
        Eap::new(r.rest().to_vec())
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.bytes(&self.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip_and_checks() {
        let l = Limits::default();
        // EAP-Request/Identity, identifier 7.
        let req = vec![1, 7, 0, 5, 1];
        let e = Eap::from_body_bytes(&req, &l).unwrap();
        assert_eq!((e.code(), e.identifier(), e.eap_type()), (EapCode::Request, 7, Some(1)));
        assert_eq!(e.to_body_bytes(), req);
        let ok = Eap::from_body_bytes(&[3, 7, 0, 4], &l).unwrap();
        assert_eq!((ok.code(), ok.eap_type()), (EapCode::Success, None));
        assert_eq!(
            Eap::from_body_bytes(&[1, 7, 0, 4], &l),
            Err(DecodeError::EapLength { length: 4, actual: 4 })
        );
        assert_eq!(
            Eap::from_body_bytes(&[1, 7, 0, 6, 1], &l),
            Err(DecodeError::EapLength { length: 6, actual: 5 })
        );
        assert_eq!(
            Eap::from_body_bytes(&[3, 7, 0, 4, 0], &l),
            Err(DecodeError::EapLength { length: 4, actual: 5 })
        );
        assert_eq!(Eap::from_body_bytes(&[3, 7, 0], &l), Err(DecodeError::Truncated));
        assert_eq!(Eap::new(vec![9, 1, 0, 4]).unwrap().code(), EapCode::Unknown(9));
    }
}
