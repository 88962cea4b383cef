//! Key material that zeroizes on drop and prints as `[redacted]`.

use alloc::vec::Vec;
use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The largest key held inline by [`SecretBytes`]: a SHA-512 sized PRF key.
pub const MAX_INLINE_SECRET: usize = 64;

/// A short secret (a key, salt or SK_* value) held inline, zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes {
    buf: [u8; MAX_INLINE_SECRET],
    len: u8,
}

/// A secret was longer than [`MAX_INLINE_SECRET`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("secret of {len} bytes is longer than the {max}-byte maximum")]
pub struct SecretTooLong {
    /// Length offered.
    pub len: usize,
    /// Maximum accepted.
    pub max: usize,
}

impl SecretBytes {
    /// Copy `bytes` into a new secret.
    pub fn new(bytes: &[u8]) -> Result<Self, SecretTooLong> {
        if bytes.len() > MAX_INLINE_SECRET {
            return Err(SecretTooLong { len: bytes.len(), max: MAX_INLINE_SECRET });
        }
        let mut buf = [0u8; MAX_INLINE_SECRET];
        buf[..bytes.len()].copy_from_slice(bytes);
        Ok(SecretBytes { buf, len: bytes.len() as u8 })
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl PartialEq for SecretBytes {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        self.expose().ct_eq(other.expose()).into()
    }
}
impl Eq for SecretBytes {}

/// A secret of any length (a pre-shared key, a shared DH value), zeroized on drop.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretVec(Vec<u8>);

impl SecretVec {
    /// Take ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretVec(bytes)
    }

    /// Copy `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        SecretVec(bytes.to_vec())
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Mutable access, for filling the secret in place.
    pub fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl PartialEq for SecretVec {
    /// Constant-time comparison (length is not secret).
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for SecretVec {}

/// Compare two byte strings in constant time (for ICVs and AUTH payloads).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_is_redacted_and_length_checked() {
        let s = SecretBytes::new(b"key").unwrap();
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), b"key");
        assert_eq!(format!("{:?}", SecretVec::from_slice(b"psk")), "[redacted]");
        assert_eq!(SecretBytes::new(&[0u8; 65]).unwrap_err(), SecretTooLong { len: 65, max: 64 });
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
