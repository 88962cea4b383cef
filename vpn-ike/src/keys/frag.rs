//! IKE fragmentation (RFC 7383): splitting a protected message into SKF fragments that fit a
//! datagram budget, and reassembling received fragments.

use alloc::vec::Vec;
use rand_core::CryptoRngCore;
use vpn_core::secret::SecretVec;

use super::sk::{FragmentPlain, SkCrypto, SkError};
use crate::message::{
    decode_payload_chain, encode_payload_chain, DecodeError, Header, Limits, Payload, PayloadType,
};

/// Fragmentation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentConfig {
    /// Largest IP packet carrying an IKE message (default 1280, the IPv6 minimum MTU).
    pub max_packet: usize,
    /// Most fragments accepted for one message (default 32).
    pub max_fragments: u16,
    /// Most reassembled bytes for one message (default 64 KiB).
    pub max_reassembly: usize,
}

impl Default for FragmentConfig {
    fn default() -> Self {
        FragmentConfig { max_packet: 1280, max_fragments: 32, max_reassembly: 64 * 1024 }
    }
}

impl FragmentConfig {
    /// Bytes left for the IKE message after IPv6 and UDP headers (40 + 8) and, on port 4500,
    /// the non-ESP marker (RFC 7383 §2.5.1 asks for the worst case).
    pub fn message_budget(&self, non_esp_marker: bool) -> usize {
        self.max_packet.saturating_sub(48 + if non_esp_marker { 4 } else { 0 })
    }
}

/// Why fragmenting or reassembling failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FragError {
    /// Protecting or unprotecting a fragment failed.
    #[error("fragment protection: {0}")]
    Sk(#[from] SkError),
    /// The reassembled chain does not decode.
    #[error("reassembled message: {0}")]
    Decode(#[from] DecodeError),
    /// The budget leaves no room for data in a fragment.
    #[error("datagram budget of {0} bytes is too small for a fragment")]
    BudgetTooSmall(usize),
    /// More fragments than allowed.
    #[error("{total} fragments, at most {max} accepted")]
    TooManyFragments {
        /// Fragments needed or announced.
        total: usize,
        /// The cap.
        max: u16,
    },
    /// More bytes than allowed.
    #[error("reassembly of more than {0} bytes")]
    TooLarge(usize),
}

/// Splits the payload chain `inner` into SKF-protected datagrams of at most `budget` bytes
/// (RFC 7383 §2.5). Every fragment carries `header` with its own IV and ICV.
pub fn fragment(
    sk: &mut SkCrypto,
    header: &Header,
    inner: &[Payload],
    budget: usize,
    max_fragments: u16,
    rng: &mut dyn CryptoRngCore,
) -> Result<Vec<Vec<u8>>, FragError> {
    let mut buf = Vec::new();
    let first = encode_payload_chain(inner, &mut buf);
    let chain = SecretVec::new(buf);
    let chunk = sk.max_fragment_chunk(budget);
    if chunk == 0 {
        return Err(FragError::BudgetTooSmall(budget));
    }
    let count = chain.len().div_ceil(chunk).max(1);
    let total = u16::try_from(count)
        .ok()
        .filter(|t| *t <= max_fragments)
        .ok_or(FragError::TooManyFragments { total: count, max: max_fragments })?;
    let mut out = Vec::with_capacity(count);
    let pieces: Vec<&[u8]> =
        if chain.is_empty() { alloc::vec![&[][..]] } else { chain.expose().chunks(chunk).collect() };
    for (n, piece) in (1..=total).zip(pieces) {
        out.push(sk.protect_fragment(header, first, n, total, piece, rng)?);
    }
    Ok(out)
}

/// Fragments of one message being collected.
#[derive(Debug)]
struct Partial {
    message_id: u32,
    response: bool,
    total: u16,
    inner_first: PayloadType,
    parts: Vec<Option<SecretVec>>,
    bytes: usize,
}

/// Collects SKF fragments by message ID until a message is complete (RFC 7383 §2.6). Tolerates
/// duplicates and any order; caps the number of fragments and the reassembled size.
#[derive(Debug, Default)]
pub struct Reassembly {
    partials: Vec<Partial>,
}

/// Messages reassembled at once per IKE SA (one request and one response in flight).
const MAX_PARTIALS: usize = 2;

impl Reassembly {
    /// Drops every partial message.
    pub fn clear(&mut self) {
        self.partials.clear();
    }

    /// True when nothing is being collected.
    pub fn is_empty(&self) -> bool {
        self.partials.is_empty()
    }

    /// Adds a verified fragment; returns the complete payload chain once every fragment of
    /// its message is in.
    pub fn push(
        &mut self,
        header: &Header,
        frag: FragmentPlain,
        config: &FragmentConfig,
        limits: &Limits,
    ) -> Result<Option<Vec<Payload>>, FragError> {
        let total = frag.total;
        if total > config.max_fragments {
            return Err(FragError::TooManyFragments { total: usize::from(total), max: config.max_fragments });
        }
        let (id, response) = (header.message_id, header.flags.response());
        let pos = self.partials.iter().position(|p| p.message_id == id && p.response == response);
        let idx = match pos {
            // RFC 7383 §2.6: a larger Total Fragments restarts collection, a smaller one is dropped.
            Some(i) if self.partials.get(i).is_some_and(|p| total < p.total) => return Ok(None),
            Some(i) if self.partials.get(i).is_some_and(|p| total > p.total) => {
                self.partials.remove(i);
                self.start(id, response, total)
            }
            Some(i) => i,
            None => self.start(id, response, total),
        };
        let Some(p) = self.partials.get_mut(idx) else { return Ok(None) };
        let Some(slot) = p.parts.get_mut(usize::from(frag.number).wrapping_sub(1)) else {
            return Ok(None);
        };
        if slot.is_some() {
            return Ok(None); // duplicate
        }
        let bytes = p.bytes.saturating_add(frag.data.len());
        if bytes > config.max_reassembly {
            self.partials.remove(idx);
            return Err(FragError::TooLarge(config.max_reassembly));
        }
        p.bytes = bytes;
        if frag.number == 1 {
            p.inner_first = frag.inner_first;
        }
        *slot = Some(frag.data);
        if p.parts.iter().any(Option::is_none) {
            return Ok(None);
        }
        let p = self.partials.remove(idx);
        let mut v = Vec::with_capacity(p.bytes);
        for part in p.parts.iter().flatten() {
            v.extend_from_slice(part.expose());
        }
        let chain = SecretVec::new(v);
        Ok(Some(decode_payload_chain(p.inner_first, chain.expose(), limits)?))
    }

    fn start(&mut self, message_id: u32, response: bool, total: u16) -> usize {
        if self.partials.len() >= MAX_PARTIALS {
            self.partials.remove(0);
        }
        let mut parts = Vec::new();
        parts.resize_with(usize::from(total), || None);
        self.partials.push(Partial {
            message_id,
            response,
            total,
            inner_first: PayloadType::NoNext,
            parts,
            bytes: 0,
        });
        self.partials.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::sk::tests::suites;
    use crate::keys::IkeKeys;
    use crate::message::{ExchangeType, HeaderFlags, Nonce, VendorId};
    use alloc::vec;
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    fn big_chain() -> Vec<Payload> {
        (0..6u8)
            .map(|i| Payload::from(VendorId::new(vec![i; 700])))
            .chain([Payload::from(Nonce::new(vec![1; 32]))])
            .collect()
    }

    #[test]
    fn split_shuffle_duplicate_reassemble() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let cfg = FragmentConfig::default();
        for suite in suites() {
            let k = IkeKeys::from_shared_secret(&suite, &[5; 32], &[1; 32], &[2; 32], 11, 22).unwrap();
            let mut i = SkCrypto::new(&suite, &k, true).unwrap();
            let r = SkCrypto::new(&suite, &k, false).unwrap();
            let h = Header::new(ExchangeType::IkeAuth, 11, 22, 1, HeaderFlags::INITIATOR);
            let budget = cfg.message_budget(true);
            let frags = fragment(&mut i, &h, &big_chain(), budget, 32, &mut rng).unwrap();
            assert!(frags.len() >= 4);
            assert!(frags.iter().all(|f| f.len() <= budget));
            // Reverse order with every fragment sent twice.
            let mut order: Vec<usize> = (0..frags.len()).rev().chain(0..frags.len()).collect();
            let len = order.len();
            order.swap(0, (rng.next_u32() as usize) % len);
            let mut re = Reassembly::default();
            let mut done = None;
            for (n, &ix) in order.iter().enumerate() {
                let (hh, f) = r.unprotect_fragment(&frags[ix], &Limits::default()).unwrap();
                if let Some(m) = re.push(&hh, f, &cfg, &Limits::default()).unwrap() {
                    // Duplicates after completion start over; the owner drops old message IDs.
                    done.get_or_insert((n, m));
                }
            }
            let (n, m) = done.expect("complete");
            assert!(n + 1 >= frags.len());
            assert_eq!(m, big_chain());
            // Too small a cap.
            let few = fragment(&mut i, &h, &big_chain(), budget, 2, &mut rng);
            assert!(matches!(few, Err(FragError::TooManyFragments { max: 2, .. })));
            assert!(matches!(
                fragment(&mut i, &h, &big_chain(), 40, 32, &mut rng),
                Err(FragError::BudgetTooSmall(40))
            ));
        }
    }

    #[test]
    fn caps_and_total_changes() {
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        let suite = suites()[0];
        let k = IkeKeys::from_shared_secret(&suite, &[5; 32], &[1; 32], &[2; 32], 11, 22).unwrap();
        let mut i = SkCrypto::new(&suite, &k, true).unwrap();
        let r = SkCrypto::new(&suite, &k, false).unwrap();
        let h = Header::new(ExchangeType::IkeAuth, 11, 22, 1, HeaderFlags::INITIATOR);
        let open = |d: &[u8]| r.unprotect_fragment(d, &Limits::default()).unwrap();
        let cfg = FragmentConfig { max_fragments: 4, max_reassembly: 100, ..Default::default() };
        let mut re = Reassembly::default();
        let f = i.protect_fragment(&h, PayloadType::Nonce, 1, 5, &[0; 10], &mut rng).unwrap();
        let (hh, p) = open(&f);
        assert!(matches!(re.push(&hh, p, &cfg, &Limits::default()), Err(FragError::TooManyFragments { .. })));
        let f = i.protect_fragment(&h, PayloadType::Nonce, 1, 2, &[0; 60], &mut rng).unwrap();
        let (hh, p) = open(&f);
        assert_eq!(re.push(&hh, p, &cfg, &Limits::default()).unwrap(), None);
        let f = i.protect_fragment(&h, PayloadType::Nonce, 2, 2, &[0; 60], &mut rng).unwrap();
        let (hh, p) = open(&f);
        assert!(matches!(re.push(&hh, p, &cfg, &Limits::default()), Err(FragError::TooLarge(100))));
        // A larger total restarts; a smaller one is ignored.
        let mut nonce_chain = Vec::new();
        encode_payload_chain(&[Payload::from(Nonce::new(vec![3; 40]))], &mut nonce_chain);
        let (a, b) = nonce_chain.split_at(20);
        let f = i.protect_fragment(&h, PayloadType::Nonce, 1, 3, a, &mut rng).unwrap();
        let (hh, p) = open(&f);
        assert_eq!(re.push(&hh, p, &cfg, &Limits::default()).unwrap(), None);
        for (n, piece) in [(1, a), (2, b)] {
            let f = i.protect_fragment(&h, PayloadType::Nonce, n, 2, piece, &mut rng).unwrap();
            let (hh, p) = open(&f);
            assert_eq!(re.push(&hh, p, &cfg, &Limits::default()).unwrap(), None, "smaller total ignored");
        }
        let f = i.protect_fragment(&h, PayloadType::Nonce, 3, 4, &[], &mut rng).unwrap();
        let (hh, p) = open(&f);
        assert_eq!(re.push(&hh, p, &cfg, &Limits::default()).unwrap(), None);
        for (n, piece) in [(1, a), (2, b), (4, &[][..])] {
            let f = i.protect_fragment(&h, PayloadType::Nonce, n, 4, piece, &mut rng).unwrap();
            let (hh, p) = open(&f);
            let got = re.push(&hh, p, &cfg, &Limits::default()).unwrap();
            assert_eq!(got.is_some(), n == 4);
        }
    }
}
