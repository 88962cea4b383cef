//! Authentication of the IKE_AUTH exchange with a pre-shared key (RFC 7296 §2.15).
//!
//! AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>), where the initiator's
//! SignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload) and the
//! responder's = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload).

use vpn_core::crypto::prf::MAX_PRF_LEN;
use vpn_core::crypto::Prf;
use vpn_core::secret::{ct_eq, SecretBytes};
use zeroize::Zeroize;

use crate::keys::KeyError;

/// The pad string of RFC 7296 §2.15.
const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// What one side signs (RFC 7296 §2.15).
#[derive(Debug, Clone, Copy)]
pub struct SignedOctets<'a> {
    /// The signer's first message as sent (IKE_SA_INIT request or response).
    pub real_message: &'a [u8],
    /// The peer's nonce data (Nr for the initiator, Ni for the responder).
    pub peer_nonce: &'a [u8],
    /// SK_pi for the initiator, SK_pr for the responder.
    pub sk_p: &'a [u8],
    /// The signer's ID payload body (ID Type, RESERVED and data, without the generic header).
    pub id_body: &'a [u8],
}

/// The AUTH payload data for a pre-shared key (Auth Method 2, Shared Key MIC).
pub fn psk_auth(prf: Prf, psk: &[u8], signed: &SignedOctets<'_>) -> Result<SecretBytes, KeyError> {
    let n = prf.output_len();
    let mut maced_id = [0u8; MAX_PRF_LEN];
    let mut key = [0u8; MAX_PRF_LEN];
    let mut auth = [0u8; MAX_PRF_LEN];
    let result = (|| {
        let m = maced_id.get_mut(..n).ok_or(KeyError::KeyTooLong(n))?;
        prf.compute(signed.sk_p, &[signed.id_body], m)?;
        let k = key.get_mut(..n).ok_or(KeyError::KeyTooLong(n))?;
        prf.compute(psk, &[KEY_PAD], k)?;
        let a = auth.get_mut(..n).ok_or(KeyError::KeyTooLong(n))?;
        prf.compute(k, &[signed.real_message, signed.peer_nonce, m], a)?;
        SecretBytes::new(a).map_err(|e| KeyError::KeyTooLong(e.len))
    })();
    key.zeroize();
    auth.zeroize();
    result
}

/// Checks a received PSK AUTH payload in constant time.
pub fn verify_psk_auth(
    prf: Prf,
    psk: &[u8],
    signed: &SignedOctets<'_>,
    received: &[u8],
) -> Result<bool, KeyError> {
    let want = psk_auth(prf, psk, signed)?;
    Ok(ct_eq(want.expose(), received))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition_and_rejects_changes() {
        let s = SignedOctets {
            real_message: b"message one",
            peer_nonce: &[7; 32],
            sk_p: &[9; 32],
            id_body: &[2, 0, 0, 0, b'a'],
        };
        for prf in [Prf::HmacSha256, Prf::HmacSha384, Prf::HmacSha512] {
            let n = prf.output_len();
            let a = psk_auth(prf, b"secret", &s).unwrap();
            let (mut m, mut k, mut want) = ([0u8; 64], [0u8; 64], [0u8; 64]);
            prf.compute(&[9; 32], &[&[2, 0, 0, 0, b'a']], &mut m[..n]).unwrap();
            prf.compute(b"secret", &[b"Key Pad for IKEv2"], &mut k[..n]).unwrap();
            let input = [&b"message one"[..], &[7; 32], &m[..n]].concat();
            prf.compute(&k[..n], &[&input], &mut want[..n]).unwrap();
            assert_eq!(a.expose(), &want[..n]);
            assert!(verify_psk_auth(prf, b"secret", &s, a.expose()).unwrap());
            assert!(!verify_psk_auth(prf, b"secreT", &s, a.expose()).unwrap());
            let other = SignedOctets { id_body: &[2, 0, 0, 0, b'b'], ..s };
            assert!(!verify_psk_auth(prf, b"secret", &other, a.expose()).unwrap());
            assert!(!verify_psk_auth(prf, b"secret", &s, &a.expose()[1..]).unwrap());
        }
    }
}
