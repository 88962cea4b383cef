//! NAT detection (RFC 7296 §2.23) and stateless cookies (RFC 7296 §2.6).

use core::net::{IpAddr, SocketAddr};
use rand_core::CryptoRngCore;
use sha1::{Digest, Sha1};
use vpn_core::crypto::Prf;
use vpn_core::time::{Duration, Instant};
use zeroize::Zeroize;

/// NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | IP address | port) (RFC 7296 §2.23).
pub fn nat_hash(spi_i: u64, spi_r: u64, addr: SocketAddr) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(spi_i.to_be_bytes());
    h.update(spi_r.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(a) => h.update(a.octets()),
        IpAddr::V6(a) => h.update(a.octets()),
    }
    h.update(addr.port().to_be_bytes());
    h.finalize().into()
}

/// The responder's cookie secrets (RFC 7296 §2.6): the current one and the one before, so that
/// cookies handed out just before a change still work. The version byte names the secret.
pub(crate) struct CookieJar {
    current: [u8; 32],
    previous: Option<[u8; 32]>,
    version: u8,
    since: Option<Instant>,
}

impl core::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CookieJar([redacted])")
    }
}

impl Drop for CookieJar {
    fn drop(&mut self) {
        self.current.zeroize();
        self.previous.zeroize();
    }
}

impl CookieJar {
    pub(crate) fn new(secret: [u8; 32]) -> Self {
        CookieJar { current: secret, previous: None, version: 0, since: None }
    }

    /// Starts a new secret when the current one is older than `lifetime`.
    pub(crate) fn rotate(&mut self, now: Instant, lifetime: Duration, rng: &mut dyn CryptoRngCore) {
        let since = *self.since.get_or_insert(now);
        if now.saturating_duration_since(since) < lifetime {
            return;
        }
        let mut next = [0u8; 32];
        if rng.try_fill_bytes(&mut next).is_err() {
            return;
        }
        self.previous = Some(core::mem::replace(&mut self.current, next));
        self.version = self.version.wrapping_add(1);
        self.since = Some(now);
    }

    /// The cookie to hand out now.
    pub(crate) fn make(&self, ni: &[u8], remote: SocketAddr, spi_i: u64) -> [u8; COOKIE_LEN] {
        cookie(&self.current, self.version, ni, remote, spi_i)
    }

    /// True when `got` is a cookie of the current or the previous secret (compared in constant time).
    pub(crate) fn check(&self, got: &[u8], ni: &[u8], remote: SocketAddr, spi_i: u64) -> bool {
        let secret = match got.first() {
            Some(&v) if v == self.version => &self.current,
            Some(&v) if v == self.version.wrapping_sub(1) => match &self.previous {
                Some(p) => p,
                None => return false,
            },
            _ => return false,
        };
        let want = cookie(secret, got.first().copied().unwrap_or_default(), ni, remote, spi_i);
        vpn_core::secret::ct_eq(&want, got)
    }
}

/// Length of our cookies: a version byte and 16 bytes of MAC.
pub const COOKIE_LEN: usize = 17;

/// Cookie = VersionIDofSecret | prf(secret, Ni | IPi | SPIi) truncated (RFC 7296 §2.6).
pub fn cookie(secret: &[u8], version: u8, ni: &[u8], remote: SocketAddr, spi_i: u64) -> [u8; COOKIE_LEN] {
    let mut mac = [0u8; 32];
    let ip = match remote.ip() {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    };
    // HMAC-SHA-256 accepts any key length, so this cannot fail with a 32-byte output.
    let _ = Prf::HmacSha256.compute(
        secret,
        &[ni, &ip, &remote.port().to_be_bytes(), &spi_i.to_be_bytes()],
        &mut mac,
    );
    let mut out = [0u8; COOKIE_LEN];
    out[0] = version;
    out[1..].copy_from_slice(&mac[..COOKIE_LEN - 1]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_cover_every_input() {
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let b: SocketAddr = "192.0.2.1:4500".parse().unwrap();
        assert_ne!(nat_hash(1, 2, a), nat_hash(1, 2, b));
        assert_ne!(nat_hash(1, 2, a), nat_hash(1, 3, a));
        assert_eq!(nat_hash(1, 2, a), nat_hash(1, 2, a));
        let c = cookie(b"k", 1, b"nonce", a, 7);
        assert_eq!(c[0], 1);
        assert_ne!(c, cookie(b"k", 1, b"nonce", b, 7));
        assert_ne!(c, cookie(b"j", 1, b"nonce", a, 7));
    }

    #[test]
    fn cookie_secrets_rotate_and_the_previous_one_still_works() {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let mut jar = CookieJar::new([1; 32]);
        let life = Duration::from_secs(60);
        jar.rotate(Instant::from_secs(0), life, &mut rng);
        let old = jar.make(b"ni", a, 9);
        assert!(jar.check(&old, b"ni", a, 9));
        assert!(!jar.check(&old, b"nj", a, 9));
        assert!(!jar.check(&old[..16], b"ni", a, 9));
        jar.rotate(Instant::from_secs(30), life, &mut rng);
        assert_eq!(jar.make(b"ni", a, 9), old, "not yet due");
        jar.rotate(Instant::from_secs(61), life, &mut rng);
        let new = jar.make(b"ni", a, 9);
        assert_ne!(new, old);
        assert!(jar.check(&new, b"ni", a, 9) && jar.check(&old, b"ni", a, 9));
        jar.rotate(Instant::from_secs(122), life, &mut rng);
        assert!(!jar.check(&old, b"ni", a, 9), "two changes ago");
        assert!(jar.check(&new, b"ni", a, 9));
    }
}
