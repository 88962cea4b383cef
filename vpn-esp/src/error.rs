//! Errors of the ESP layer: why a packet was dropped, why one could not be sent, why an SA
//! could not be built.

use vpn_core::crypto::CryptoError;
use vpn_core::packet::PacketError;

/// Why an inbound packet was dropped. Every drop has one, so the caller can count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than the ESP header, IV, trailer and ICV (RFC 4303 §2).
    #[error("truncated ESP packet")]
    Truncated,
    /// The outer IP or UDP header is malformed.
    #[error("malformed outer header")]
    BadOuterHeader,
    /// The outer packet is not ESP (another protocol, or UDP not on the encapsulation port).
    #[error("not an ESP packet")]
    NotEsp,
    /// SPI 0, reserved (RFC 4303 §2.1).
    #[error("reserved SPI")]
    ReservedSpi,
    /// No inbound SA has this SPI.
    #[error("unknown SPI")]
    UnknownSpi,
    /// Sequence number already received (RFC 4303 §3.4.3).
    #[error("replayed sequence number")]
    Replay,
    /// Sequence number to the left of the replay window (RFC 4303 §3.4.3).
    #[error("sequence number older than the replay window")]
    TooOld,
    /// The ICV did not verify (RFC 4303 §3.4.4).
    #[error("integrity check failed")]
    BadIcv,
    /// The ciphertext is not a multiple of the cipher block or of 4 bytes (RFC 4303 §2.4).
    #[error("ciphertext not aligned to the cipher block")]
    Misaligned,
    /// The pad length is beyond the payload (RFC 4303 §2.5).
    #[error("pad length beyond the payload")]
    BadPadLength,
    /// The padding bytes are not 1, 2, 3, ... (RFC 4303 §2.4).
    #[error("padding bytes are not 1, 2, 3, ...")]
    BadPadding,
    /// A dummy packet, next header 59 (RFC 4303 §2.6); dropped quietly.
    #[error("dummy packet")]
    Dummy,
    /// A next header this SA's mode does not carry.
    #[error("unexpected next header")]
    BadNextHeader,
    /// The decrypted inner packet is malformed or its length disagrees with its header.
    #[error("malformed inner packet")]
    BadInnerPacket,
    /// The inner packet lies outside the SA's traffic selectors (RFC 4301 §5.2).
    #[error("inner packet outside the SA's selectors")]
    SelectorMismatch,
    /// The SA's hard lifetime has been reached.
    #[error("SA expired")]
    Expired,
    /// A crypto backend error other than a failed ICV.
    #[error("crypto error")]
    Crypto,
}

impl DropReason {
    /// Every reason, in [`DropReason::index`] order.
    pub const ALL: [DropReason; 17] = [
        DropReason::Truncated,
        DropReason::BadOuterHeader,
        DropReason::NotEsp,
        DropReason::ReservedSpi,
        DropReason::UnknownSpi,
        DropReason::Replay,
        DropReason::TooOld,
        DropReason::BadIcv,
        DropReason::Misaligned,
        DropReason::BadPadLength,
        DropReason::BadPadding,
        DropReason::Dummy,
        DropReason::BadNextHeader,
        DropReason::BadInnerPacket,
        DropReason::SelectorMismatch,
        DropReason::Expired,
        DropReason::Crypto,
    ];

    /// A dense index, for counter arrays.
    pub fn index(self) -> usize {
        DropReason::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }

    /// A short stable name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::BadOuterHeader => "bad-outer-header",
            DropReason::NotEsp => "not-esp",
            DropReason::ReservedSpi => "reserved-spi",
            DropReason::UnknownSpi => "unknown-spi",
            DropReason::Replay => "replay",
            DropReason::TooOld => "too-old",
            DropReason::BadIcv => "bad-icv",
            DropReason::Misaligned => "misaligned",
            DropReason::BadPadLength => "bad-pad-length",
            DropReason::BadPadding => "bad-padding",
            DropReason::Dummy => "dummy",
            DropReason::BadNextHeader => "bad-next-header",
            DropReason::BadInnerPacket => "bad-inner-packet",
            DropReason::SelectorMismatch => "selector-mismatch",
            DropReason::Expired => "expired",
            DropReason::Crypto => "crypto",
        }
    }
}

/// Counts of dropped packets by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounters {
    counts: [u64; DropReason::ALL.len()],
}

impl DropCounters {
    /// Count one drop.
    pub fn record(&mut self, reason: DropReason) {
        if let Some(c) = self.counts.get_mut(reason.index()) {
            *c = c.saturating_add(1);
        }
    }

    /// How many drops for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts.get(reason.index()).copied().unwrap_or(0)
    }

    /// Total drops.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Non-zero counters with their names.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().zip(self.counts.iter()).filter(|(_, c)| **c > 0).map(|(r, c)| (*r, *c))
    }
}

/// Why an outbound packet could not be encapsulated. The buffer is left untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncapError {
    /// The buffer lacks room before or after the packet.
    #[error("buffer too small: {headroom} bytes of headroom and {tailroom} of tailroom needed")]
    BufferTooSmall {
        /// Bytes needed before the packet.
        headroom: usize,
        /// Bytes needed after the packet.
        tailroom: usize,
    },
    /// The packet range lies outside the buffer.
    #[error("packet range outside the buffer")]
    BadRange,
    /// The sequence number space is used up; the SA must be rekeyed (RFC 4303 §3.3.3).
    #[error("sequence numbers exhausted: rekey the SA")]
    SequenceExhausted,
    /// The SA's hard lifetime has been reached.
    #[error("SA expired")]
    Expired,
    /// The packet to protect is not a valid IP packet.
    #[error("invalid packet to protect: {0}")]
    BadPacket(PacketError),
    /// The packet's address family does not fit the SA's outer addresses (transport mode).
    #[error("packet address family differs from the SA's")]
    FamilyMismatch,
    /// The crypto backend failed.
    #[error("crypto error: {0}")]
    Crypto(CryptoError),
}

/// Why an SA could not be built from its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaError {
    /// The cipher or integrity algorithm is not supported here.
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// A key of the wrong length.
    #[error("key of {got} bytes, {expected} expected")]
    BadKeyLength {
        /// Length offered.
        got: usize,
        /// Length expected.
        expected: usize,
    },
    /// SPI 0 is reserved (RFC 4303 §2.1).
    #[error("SPI 0 is reserved")]
    ReservedSpi,
    /// The replay window is larger than supported.
    #[error("replay window {0} exceeds the maximum")]
    ReplayWindowTooLarge(u32),
    /// Outer addresses of different families.
    #[error("local and remote addresses are of different families")]
    FamilyMismatch,
    /// A crypto backend error.
    #[error("crypto error: {0}")]
    Crypto(CryptoError),
}
