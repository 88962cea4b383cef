//! AES-CBC encryption in place (RFC 3602), with the key schedule computed once per SA.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use aes::{Aes128, Aes192, Aes256};

use super::CryptoError;

/// The AES block size.
pub const BLOCK_LEN: usize = 16;

/// A keyed AES-CBC cipher (128 or 256-bit key).
#[derive(Clone)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)]
pub enum AesCbc {
    /// AES-128.
    Aes128(Aes128),
    /// AES-192.
    Aes192(Aes192),
    /// AES-256.
    Aes256(Aes256),
}

impl core::fmt::Debug for AesCbc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AesCbc([redacted])")
    }
}

fn blocks(buf: &mut [u8]) -> Result<&mut [aes::Block], CryptoError> {
    if buf.len() % BLOCK_LEN != 0 {
        return Err(CryptoError::NotBlockAligned(buf.len()));
    }
    let (chunks, rest) = aes::cipher::inout::InOutBuf::from(buf).into_chunks();
    debug_assert!(rest.is_empty());
    Ok(chunks.into_out())
}

impl AesCbc {
    /// Key AES-CBC with a 16-, 24- or 32-byte key.
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        let bad = CryptoError::BadKeyLength { got: key.len() };
        match key.len() {
            16 => Ok(AesCbc::Aes128(Aes128::new_from_slice(key).map_err(|_| bad)?)),
            24 => Ok(AesCbc::Aes192(Aes192::new_from_slice(key).map_err(|_| bad)?)),
            32 => Ok(AesCbc::Aes256(Aes256::new_from_slice(key).map_err(|_| bad)?)),
            _ => Err(bad),
        }
    }

    /// Encrypt the whole blocks of `buf` in place, chaining from `iv`.
    pub fn encrypt(&self, iv: &[u8; BLOCK_LEN], buf: &mut [u8]) -> Result<(), CryptoError> {
        let b = blocks(buf)?;
        let iv = aes::cipher::generic_array::GenericArray::from_slice(iv);
        match self {
            AesCbc::Aes128(c) => cbc::Encryptor::<Aes128>::inner_iv_init(c.clone(), iv).encrypt_blocks_mut(b),
            AesCbc::Aes192(c) => cbc::Encryptor::<Aes192>::inner_iv_init(c.clone(), iv).encrypt_blocks_mut(b),
            AesCbc::Aes256(c) => cbc::Encryptor::<Aes256>::inner_iv_init(c.clone(), iv).encrypt_blocks_mut(b),
        }
        Ok(())
    }

    /// Decrypt the whole blocks of `buf` in place, chaining from `iv`.
    pub fn decrypt(&self, iv: &[u8; BLOCK_LEN], buf: &mut [u8]) -> Result<(), CryptoError> {
        let b = blocks(buf)?;
        let iv = aes::cipher::generic_array::GenericArray::from_slice(iv);
        match self {
            AesCbc::Aes128(c) => cbc::Decryptor::<Aes128>::inner_iv_init(c.clone(), iv).decrypt_blocks_mut(b),
            AesCbc::Aes192(c) => cbc::Decryptor::<Aes192>::inner_iv_init(c.clone(), iv).decrypt_blocks_mut(b),
            AesCbc::Aes256(c) => cbc::Decryptor::<Aes256>::inner_iv_init(c.clone(), iv).decrypt_blocks_mut(b),
        }
        Ok(())
    }

    /// Encrypt one block with the raw block cipher (for IV generation, NIST SP 800-38A appendix C).
    pub fn encrypt_block(&self, block: &mut [u8; BLOCK_LEN]) {
        use aes::cipher::BlockEncrypt;
        let b = aes::Block::from_mut_slice(block);
        match self {
            AesCbc::Aes128(c) => c.encrypt_block(b),
            AesCbc::Aes192(c) => c.encrypt_block(b),
            AesCbc::Aes256(c) => c.encrypt_block(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3602_case_1() {
        // RFC 3602 §4, case #1: one block with a 128-bit key.
        let key = hex::decode("06a9214036b8a15b512e03d534120006").unwrap();
        let iv: [u8; 16] = hex::decode("3dafba429d9eb430b422da802c9fac41").unwrap().try_into().unwrap();
        let mut buf = *b"Single block msg";
        let c = AesCbc::new(&key).unwrap();
        c.encrypt(&iv, &mut buf).unwrap();
        assert_eq!(hex::encode(buf), "e353779c1079aeb82708942dbe77181a");
        c.decrypt(&iv, &mut buf).unwrap();
        assert_eq!(&buf, b"Single block msg");
        assert_eq!(c.encrypt(&iv, &mut [0u8; 15]), Err(CryptoError::NotBlockAligned(15)));
    }
}
