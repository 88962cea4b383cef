//! The Encrypted and Authenticated payload SK (RFC 7296 §3.14), kept encrypted: the cipher
//! work happens in the `keys` module.

use alloc::vec::Vec;

use super::{PayloadType, Reader, Writer};

/// The SK payload: the type of the first inner payload (carried in the SK payload's own Next
/// Payload field) and the raw body `IV || ciphertext || ICV`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encrypted {
    /// Type of the first payload inside the ciphertext (RFC 7296 §3.14).
    pub inner_first: PayloadType,
    /// Initialization Vector, encrypted payloads with padding and pad length, and the
    /// Integrity Checksum Data, as on the wire.
    pub data: Vec<u8>,
}

impl Encrypted {
    pub(crate) fn decode(inner_first: PayloadType, r: &mut Reader<'_>) -> Encrypted {
        Encrypted { inner_first, data: r.rest().to_vec() }
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) {
        w.bytes(&self.data);
    }
}
