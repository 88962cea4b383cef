//! Crypto primitives behind small enums, so the packet path dispatches without allocation.
//!
//! - [`aead`]: AES-GCM (RFC 4106/5282) and ChaCha20-Poly1305 (RFC 7634) with detached tags.
//! - [`cbc`]: AES-CBC (RFC 3602) encryption in place.
//! - [`integ`]: truncated HMAC-SHA2 integrity (RFC 4868).
//! - [`prf`]: HMAC-SHA2 PRFs and IKEv2's prf+ (RFC 7296 §2.13).
//!
//! The default backend is RustCrypto; with the `ring` feature, [`Backend::Ring`] provides AEAD
//! from `ring`, which is faster on x86_64 hosts.

pub mod aead;
pub mod cbc;
pub mod integ;
pub mod kex;
pub mod prf;

pub use aead::AeadCipher;
pub use cbc::AesCbc;
pub use integ::Integ;
pub use kex::{KexError, KeyExchange};
pub use prf::Prf;

/// Which implementation provides a primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Backend {
    /// The pure-Rust RustCrypto crates (always available, no_std).
    #[default]
    RustCrypto,
    /// `ring` (AEAD only; feature `ring`).
    #[cfg(feature = "ring")]
    Ring,
}

impl Backend {
    /// The fastest backend compiled in.
    pub fn fastest() -> Self {
        #[cfg(feature = "ring")]
        {
            Backend::Ring
        }
        #[cfg(not(feature = "ring"))]
        {
            Backend::RustCrypto
        }
    }

    /// Every backend compiled in.
    pub fn all() -> &'static [Backend] {
        #[cfg(feature = "ring")]
        {
            &[Backend::RustCrypto, Backend::Ring]
        }
        #[cfg(not(feature = "ring"))]
        {
            &[Backend::RustCrypto]
        }
    }

    /// A short name for logs and benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            Backend::RustCrypto => "rustcrypto",
            #[cfg(feature = "ring")]
            Backend::Ring => "ring",
        }
    }
}

/// What went wrong in a crypto operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The algorithm is not implemented (by this backend).
    #[error("algorithm not supported")]
    Unsupported,
    /// A key of the wrong length for the algorithm.
    #[error("key of {got} bytes is the wrong length for this algorithm")]
    BadKeyLength {
        /// Length offered.
        got: usize,
    },
    /// A buffer that is not a whole number of cipher blocks.
    #[error("data of {0} bytes is not a whole number of blocks")]
    NotBlockAligned(usize),
    /// An output or tag buffer of the wrong length.
    #[error("buffer of {got} bytes, {needed} needed")]
    BadLength {
        /// Length offered.
        got: usize,
        /// Length needed.
        needed: usize,
    },
    /// Authentication (tag or ICV) did not verify.
    #[error("authentication failed")]
    AuthFailed,
}
