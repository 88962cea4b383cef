//! The Encrypted and Authenticated payload SK (RFC 7296 §3.14) and its fragment form SKF
//! (RFC 7383 §2.5): protecting a payload chain into a datagram and the reverse.
//!
//! AEAD ciphers follow RFC 5282 (AES-GCM) and RFC 7634 (ChaCha20-Poly1305): nonce = salt | 8-byte
//! IV, AAD = everything before the IV (IKE header, SK payload header, and for SKF the fragment
//! number and total), 16-byte ICV. The IV comes from a per-direction counter, so it never repeats.
//! AES-CBC with HMAC-SHA2 uses a 16-byte IV from the caller's RNG, pads to the block size with a
//! trailing pad length byte, and the ICV covers the whole message up to the ICV (RFC 7296 §3.14).

use alloc::vec::Vec;
use rand_core::CryptoRngCore;
use vpn_core::alg::EncrAlg;
use vpn_core::crypto::aead::{NONCE_LEN, TAG_LEN};
use vpn_core::crypto::{AeadCipher, AesCbc, Backend, CryptoError, Integ};
use vpn_core::secret::SecretVec;

use super::{IkeKeys, IkeSuite, KeyError};
use crate::message::{
    decode_payload_chain, encode_payload_chain, DecodeError, Header, Limits, Payload, PayloadType, Writer,
    HEADER_LEN,
};

/// Length of the generic payload header.
const GENERIC_LEN: usize = 4;
/// AEAD IV length in IKE (RFC 5282 §3.1, RFC 7634 §2).
const AEAD_IV_LEN: usize = 8;
/// AES-CBC IV length (RFC 3602 §3).
const CBC_IV_LEN: usize = 16;

/// Why a message could not be protected or unprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SkError {
    /// The message does not parse (the Notify to answer with is `DecodeError::notify`).
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    /// The payload chain inside a verified SK payload does not parse: answer with the notify
    /// of the error (RFC 7296 §2.21.2), since the message is authentic.
    #[error("malformed encrypted payloads: {0}")]
    InnerDecode(DecodeError),
    /// No SK (or SKF) payload where one was needed.
    #[error("message has no encrypted payload")]
    NotEncrypted,
    /// The encrypted payload is too short for its IV and ICV, or not whole blocks.
    #[error("encrypted payload of {0} bytes is malformed")]
    BadLength(usize),
    /// The ICV did not verify (the message is dropped silently, RFC 7296 §2.21.1).
    #[error("integrity check failed")]
    IntegrityFailed,
    /// The pad length byte points before the plaintext.
    #[error("pad length {0} is invalid")]
    BadPadding(u8),
    /// The AEAD IV counter is exhausted: the SA must be rekeyed.
    #[error("IV counter exhausted")]
    IvExhausted,
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Rng,
    /// A primitive failed.
    #[error("crypto primitive failed: {0}")]
    Crypto(CryptoError),
    /// The message does not fit in 64 KiB.
    #[error("message too large")]
    TooLarge,
}

impl From<CryptoError> for SkError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::AuthFailed => SkError::IntegrityFailed,
            other => SkError::Crypto(other),
        }
    }
}

/// One direction's cipher (one per SA direction; boxing would add a pointer chase per message).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Cipher {
    Aead { cipher: AeadCipher, salt: [u8; 4] },
    Cbc { cipher: AesCbc, integ: Integ },
}

impl Cipher {
    fn new(suite: &IkeSuite, sk_e: &[u8], sk_a: &[u8]) -> Result<Cipher, KeyError> {
        if suite.encr.is_aead() {
            let split = sk_e.len().checked_sub(4).ok_or(CryptoError::BadKeyLength { got: sk_e.len() })?;
            let (key, salt) = sk_e.split_at(split);
            let salt =
                <[u8; 4]>::try_from(salt).map_err(|_| CryptoError::BadKeyLength { got: sk_e.len() })?;
            Ok(Cipher::Aead { cipher: AeadCipher::new(Backend::RustCrypto, suite.encr, key)?, salt })
        } else if suite.encr == EncrAlg::AesCbc {
            Ok(Cipher::Cbc { cipher: AesCbc::new(sk_e)?, integ: Integ::new(suite.integ, sk_a)? })
        } else {
            Err(KeyError::Unsupported(super::AlgKind::Encr(suite.encr, suite.encr_key_bits)))
        }
    }

    fn iv_len(&self) -> usize {
        match self {
            Cipher::Aead { .. } => AEAD_IV_LEN,
            Cipher::Cbc { .. } => CBC_IV_LEN,
        }
    }

    fn icv_len(&self) -> usize {
        match self {
            Cipher::Aead { .. } => TAG_LEN,
            Cipher::Cbc { integ, .. } => integ.icv_len(),
        }
    }

    /// Pad length for `len` bytes of payload chain (the pad length byte itself not counted).
    fn pad_len(&self, len: usize) -> usize {
        match self {
            Cipher::Aead { .. } => 0,
            Cipher::Cbc { .. } => (CBC_IV_LEN - (len + 1) % CBC_IV_LEN) % CBC_IV_LEN,
        }
    }
}

fn nonce(salt: &[u8; 4], iv: &[u8]) -> Result<[u8; NONCE_LEN], SkError> {
    let mut n = [0u8; NONCE_LEN];
    n[..4].copy_from_slice(salt);
    n.get_mut(4..)
        .ok_or(SkError::BadLength(iv.len()))?
        .copy_from_slice(iv.get(..8).ok_or(SkError::BadLength(iv.len()))?);
    Ok(n)
}

/// The SK payload keys of one IKE SA: our sending direction, the peer's, and the AEAD IV counter.
#[derive(Debug)]
pub struct SkCrypto {
    send: Cipher,
    recv: Cipher,
    next_iv: u64,
}

/// The decrypted contents of one SKF fragment.
#[derive(Debug)]
pub struct FragmentPlain {
    /// Fragment Number (1-based).
    pub number: u16,
    /// Total Fragments.
    pub total: u16,
    /// Next Payload of the SKF payload: the first inner payload (meaningful in fragment 1).
    pub inner_first: PayloadType,
    /// The decrypted fragment of the payload chain, padding removed.
    pub data: SecretVec,
}

impl SkCrypto {
    /// Keys for one side of an IKE SA: the initiator sends with SK_ei/SK_ai, the responder with
    /// SK_er/SK_ar (RFC 7296 §2.14).
    pub fn new(suite: &IkeSuite, keys: &IkeKeys, initiator: bool) -> Result<SkCrypto, KeyError> {
        let i = Cipher::new(suite, keys.sk_ei.expose(), keys.sk_ai.expose())?;
        let r = Cipher::new(suite, keys.sk_er.expose(), keys.sk_ar.expose())?;
        let (send, recv) = if initiator { (i, r) } else { (r, i) };
        Ok(SkCrypto { send, recv, next_iv: 0 })
    }

    /// Bytes a protected message adds around its payload chain of `chain_len` bytes (header,
    /// SK header, IV, padding, ICV); `extra` is 4 for SKF.
    pub fn overhead(&self, chain_len: usize, extra: usize) -> usize {
        HEADER_LEN
            + GENERIC_LEN
            + extra
            + self.send.iv_len()
            + self.send.pad_len(chain_len)
            + 1
            + self.send.icv_len()
    }

    /// The largest payload-chain fragment that fits an SKF datagram of `budget` bytes.
    pub fn max_fragment_chunk(&self, budget: usize) -> usize {
        let fixed = HEADER_LEN + GENERIC_LEN + 4 + self.send.iv_len() + self.send.icv_len();
        let room = budget.saturating_sub(fixed);
        match self.send {
            Cipher::Aead { .. } => room.saturating_sub(1),
            Cipher::Cbc { .. } => (room / CBC_IV_LEN * CBC_IV_LEN).saturating_sub(1),
        }
    }

    fn next_iv(&mut self, rng: &mut dyn CryptoRngCore, out: &mut [u8]) -> Result<(), SkError> {
        match self.send {
            Cipher::Aead { .. } => {
                let iv = self.next_iv;
                self.next_iv = iv.checked_add(1).ok_or(SkError::IvExhausted)?;
                out.copy_from_slice(&iv.to_be_bytes());
                Ok(())
            }
            Cipher::Cbc { .. } => rng.try_fill_bytes(out).map_err(|_| SkError::Rng),
        }
    }

    /// Protects `inner` into a complete datagram: `header` with an SK payload (RFC 7296 §3.14).
    pub fn protect(
        &mut self,
        header: &Header,
        inner: &[Payload],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, SkError> {
        let mut buf = Vec::new();
        let first = encode_payload_chain(inner, &mut buf);
        let plain = SecretVec::new(buf);
        self.protect_raw(header, PayloadType::Sk, first, None, plain.expose(), rng)
    }

    /// Protects an already encoded inner payload chain whose first payload is `inner_first`
    /// (for hosts and fuzzers that build chains themselves).
    pub fn protect_chain(
        &mut self,
        header: &Header,
        inner_first: PayloadType,
        chain: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, SkError> {
        self.protect_raw(header, PayloadType::Sk, inner_first, None, chain, rng)
    }

    /// Protects one SKF fragment of a payload chain (RFC 7383 §2.5).
    pub fn protect_fragment(
        &mut self,
        header: &Header,
        inner_first: PayloadType,
        number: u16,
        total: u16,
        chunk: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, SkError> {
        // RFC 7383 §2.5: Next Payload is the first inner payload in fragment 1, zero otherwise.
        let next = if number == 1 { inner_first } else { PayloadType::NoNext };
        self.protect_raw(header, PayloadType::Skf, next, Some((number, total)), chunk, rng)
    }

    fn protect_raw(
        &mut self,
        header: &Header,
        outer: PayloadType,
        next: PayloadType,
        frag: Option<(u16, u16)>,
        chain: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, SkError> {
        let (iv_len, icv_len, pad) =
            (self.send.iv_len(), self.send.icv_len(), self.send.pad_len(chain.len()));
        let mut out = Vec::with_capacity(self.overhead(chain.len(), 4) + chain.len());
        let mut w = Writer::new(&mut out);
        let length = header.encode(&mut w, outer);
        let sk_start = w.position();
        w.u8(next.into());
        w.u8(0);
        let sk_len = w.len16();
        if let Some((number, total)) = frag {
            w.u16(number);
            w.u16(total);
        }
        let iv_start = out.len();
        out.resize(iv_start + iv_len, 0);
        let mut iv = [0u8; CBC_IV_LEN];
        self.next_iv(rng, &mut iv[..iv_len])?;
        out[iv_start..].copy_from_slice(&iv[..iv_len]);
        let ct_start = out.len();
        out.extend_from_slice(chain);
        // RFC 7296 §3.14: padding of any value, then the pad length byte.
        out.resize(out.len() + pad, 0);
        out.push(u8::try_from(pad).map_err(|_| SkError::TooLarge)?);
        let ct_end = out.len();
        out.resize(ct_end + icv_len, 0);
        if out.len() > usize::from(u16::MAX) {
            return Err(SkError::TooLarge);
        }
        let mut w = Writer::new(&mut out);
        w.patch_len16(sk_len, sk_start);
        w.patch_len32(length, 0);
        match &self.send {
            Cipher::Aead { cipher, salt } => {
                let n = nonce(salt, &iv[..AEAD_IV_LEN])?;
                let (aad, rest) = out.split_at_mut(iv_start);
                let (body, tag) = rest.split_at_mut(ct_end - iv_start);
                let mut t = [0u8; TAG_LEN];
                cipher.seal(&n, aad, &mut body[iv_len..], &mut t)?;
                tag.copy_from_slice(&t);
            }
            Cipher::Cbc { cipher, integ } => {
                cipher.encrypt(&iv, &mut out[ct_start..ct_end])?;
                let (signed, icv) = out.split_at_mut(ct_end);
                integ.compute(&[signed], icv)?;
            }
        }
        Ok(out)
    }

    /// Verifies and decrypts the last payload (SK or SKF) of `datagram`, returning the header,
    /// the plaintext payloads before it, and the decrypted plaintext with its first payload type
    /// and fragment numbering. The ICV is checked (in constant time) before anything is decrypted.
    fn open_raw(&self, datagram: &[u8], limits: &Limits) -> Result<Opened, SkError> {
        let (header, first) = Header::peek(datagram)?;
        let chain = datagram.get(HEADER_LEN..).unwrap_or_default();
        let mut outer = decode_payload_chain(first, chain, limits)?;
        let (inner_first, frag, body_len) = match outer.pop() {
            Some(Payload::Sk(sk)) => (sk.inner_first, None, sk.data.len()),
            Some(Payload::Skf(f)) => (f.inner_first, Some((f.number, f.total)), f.data.len()),
            _ => return Err(SkError::NotEncrypted),
        };
        let body_start = datagram.len().checked_sub(body_len).ok_or(SkError::BadLength(body_len))?;
        let (iv_len, icv_len) = (self.recv.iv_len(), self.recv.icv_len());
        let ct_start = body_start + iv_len;
        let ct_end = datagram.len().checked_sub(icv_len).ok_or(SkError::BadLength(body_len))?;
        if ct_end <= ct_start {
            return Err(SkError::BadLength(body_len));
        }
        let bad = SkError::BadLength(body_len);
        let iv = datagram.get(body_start..ct_start).ok_or(bad)?;
        let mut plain = SecretVec::new(datagram.get(ct_start..ct_end).ok_or(bad)?.to_vec());
        let icv = datagram.get(ct_end..).ok_or(bad)?;
        match &self.recv {
            Cipher::Aead { cipher, salt } => {
                let n = nonce(salt, iv)?;
                let tag = <&[u8; TAG_LEN]>::try_from(icv).map_err(|_| bad)?;
                let aad = datagram.get(..body_start).ok_or(bad)?;
                cipher.open(&n, aad, plain.expose_mut(), tag)?;
            }
            Cipher::Cbc { cipher, integ } => {
                // RFC 7296 §3.14: the ICV covers the message from the IKE header to the ICV.
                integ.verify(&[datagram.get(..ct_end).ok_or(bad)?], icv)?;
                if plain.len() % CBC_IV_LEN != 0 {
                    return Err(bad);
                }
                let iv = <&[u8; CBC_IV_LEN]>::try_from(iv).map_err(|_| bad)?;
                cipher.decrypt(iv, plain.expose_mut())?;
            }
        }
        let pad = *plain.expose().last().ok_or(bad)?;
        let keep = plain.len().checked_sub(usize::from(pad) + 1).ok_or(SkError::BadPadding(pad))?;
        let v = plain.expose().get(..keep).ok_or(SkError::BadPadding(pad))?.to_vec();
        Ok(Opened { header, outer, inner_first, frag, plain: SecretVec::new(v) })
    }

    /// Verifies and decrypts a datagram whose last payload is SK, returning its header and the
    /// payload chain inside (RFC 7296 §3.14).
    pub fn unprotect(&self, datagram: &[u8], limits: &Limits) -> Result<(Header, Vec<Payload>), SkError> {
        let o = self.open_raw(datagram, limits)?;
        if o.frag.is_some() {
            return Err(SkError::NotEncrypted);
        }
        let mut payloads = o.outer;
        payloads.extend(
            decode_payload_chain(o.inner_first, o.plain.expose(), limits).map_err(SkError::InnerDecode)?,
        );
        Ok((o.header, payloads))
    }

    /// Verifies and decrypts one SKF fragment (RFC 7383 §2.6.1: each is checked before it is kept).
    pub fn unprotect_fragment(
        &self,
        datagram: &[u8],
        limits: &Limits,
    ) -> Result<(Header, FragmentPlain), SkError> {
        let o = self.open_raw(datagram, limits)?;
        let (number, total) = o.frag.ok_or(SkError::NotEncrypted)?;
        Ok((o.header, FragmentPlain { number, total, inner_first: o.inner_first, data: o.plain }))
    }

    /// Fuzzing only: the next AEAD IV, so a harness can keep its IVs apart from the endpoint's.
    #[cfg(feature = "fuzzing")]
    pub fn set_next_iv_for_fuzzing(&mut self, iv: u64) {
        self.next_iv = iv;
    }

    #[cfg(test)]
    pub(crate) fn set_next_iv(&mut self, iv: u64) {
        self.next_iv = iv;
    }
}

struct Opened {
    header: Header,
    outer: Vec<Payload>,
    inner_first: PayloadType,
    frag: Option<(u16, u16)>,
    plain: SecretVec,
}

#[cfg(test)]
#[path = "sk_tests.rs"]
pub(crate) mod tests;
