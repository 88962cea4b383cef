//! IKE and ESP proposals in strongSwan's keyword syntax (`aes256gcm16-prfsha256-x25519`).
//!
//! A proposal is keywords joined by `-`; several algorithms of one type may be listed and each
//! combination is offered, as in strongSwan. Supported keywords:
//!
//! | type | keywords |
//! |------|----------|
//! | encryption | `aes128` `aes192` `aes256` (CBC), `aes128gcm16` `aes192gcm16` `aes256gcm16` (also without `16`), `chacha20poly1305` |
//! | integrity | `sha256` `sha384` `sha512` (also `sha2_256`...): HMAC-SHA2-256-128, -384-192, -512-256 |
//! | PRF (IKE only) | `prfsha256` `prfsha384` `prfsha512` |
//! | key exchange | `x25519` (`curve25519`), `ecp256`, `ecp384`, `modp2048` |
//! | ESN (ESP only) | `esn`, `noesn` (the default) |
//!
//! IKE proposals need a key exchange method; with an AEAD cipher they need a PRF, otherwise the
//! PRF defaults to the integrity algorithm's hash (as strongSwan does). In an ESP proposal a key
//! exchange method means PFS for CREATE_CHILD_SA.

use std::fmt;
use std::str::FromStr;

use vpn_core::alg::{EncrAlg, EsnMode, IntegAlg, KeGroup, PrfAlg};

/// An encryption transform: the algorithm and its key length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Encryption {
    /// The algorithm.
    pub alg: EncrAlg,
    /// Key length in bits (without the AEAD salt).
    pub key_bits: u16,
}

impl Encryption {
    /// True for AEAD (combined-mode) ciphers.
    pub fn is_aead(&self) -> bool {
        self.alg.is_aead()
    }

    /// The Key Length attribute to send (AES only; ChaCha20-Poly1305 has none).
    pub fn key_length_attr(&self) -> Option<u16> {
        matches!(self.alg, EncrAlg::AesCbc | EncrAlg::AesGcm16).then_some(self.key_bits)
    }

    /// strongSwan's keyword for this transform.
    pub fn keyword(&self) -> &'static str {
        match (self.alg, self.key_bits) {
            (EncrAlg::AesCbc, 128) => "aes128",
            (EncrAlg::AesCbc, 192) => "aes192",
            (EncrAlg::AesCbc, 256) => "aes256",
            (EncrAlg::AesGcm16, 128) => "aes128gcm16",
            (EncrAlg::AesGcm16, 192) => "aes192gcm16",
            (EncrAlg::AesGcm16, 256) => "aes256gcm16",
            (EncrAlg::ChaCha20Poly1305, _) => "chacha20poly1305",
            _ => "unknown",
        }
    }
}

/// One transform a keyword stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    Encr(Encryption),
    Integ(IntegAlg),
    Prf(PrfAlg),
    Ke(KeGroup),
    Esn(EsnMode),
}

fn keyword(s: &str) -> Option<Keyword> {
    let enc = |alg, key_bits| Keyword::Encr(Encryption { alg, key_bits });
    Some(match s {
        "aes128" => enc(EncrAlg::AesCbc, 128),
        "aes192" => enc(EncrAlg::AesCbc, 192),
        "aes256" => enc(EncrAlg::AesCbc, 256),
        "aes128gcm16" | "aes128gcm" => enc(EncrAlg::AesGcm16, 128),
        "aes192gcm16" | "aes192gcm" => enc(EncrAlg::AesGcm16, 192),
        "aes256gcm16" | "aes256gcm" => enc(EncrAlg::AesGcm16, 256),
        "chacha20poly1305" => enc(EncrAlg::ChaCha20Poly1305, 256),
        "sha256" | "sha2_256" => Keyword::Integ(IntegAlg::HmacSha256_128),
        "sha384" | "sha2_384" => Keyword::Integ(IntegAlg::HmacSha384_192),
        "sha512" | "sha2_512" => Keyword::Integ(IntegAlg::HmacSha512_256),
        "prfsha256" => Keyword::Prf(PrfAlg::HmacSha256),
        "prfsha384" => Keyword::Prf(PrfAlg::HmacSha384),
        "prfsha512" => Keyword::Prf(PrfAlg::HmacSha512),
        "x25519" | "curve25519" => Keyword::Ke(KeGroup::Curve25519),
        "ecp256" => Keyword::Ke(KeGroup::Ecp256),
        "ecp384" => Keyword::Ke(KeGroup::Ecp384),
        "modp2048" => Keyword::Ke(KeGroup::Modp2048),
        "esn" => Keyword::Esn(EsnMode::Yes),
        "noesn" => Keyword::Esn(EsnMode::No),
        _ => return None,
    })
}

/// strongSwan keywords we recognise but deliberately do not implement.
const UNSUPPORTED: &[&str] = &[
    "3des",
    "des",
    "blowfish",
    "cast128",
    "null",
    "md5",
    "sha1",
    "sha",
    "aesxcbc",
    "prfmd5",
    "prfsha1",
    "prfaesxcbc",
    "modp768",
    "modp1024",
    "modp1536",
    "modp3072",
    "modp4096",
    "ecp521",
    "x448",
    "curve448",
    "aes128ctr",
    "aes192ctr",
    "aes256ctr",
    "aes128gcm8",
    "aes256gcm8",
    "aes128gcm12",
    "aes256gcm12",
    "aes128ccm16",
    "aes256ccm16",
];

/// A problem in one proposal string, at a byte offset into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalError {
    /// Byte offset of the offending keyword in the proposal string (0 for the whole proposal).
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

fn integ_keyword(i: IntegAlg) -> &'static str {
    match i {
        IntegAlg::HmacSha256_128 => "sha256",
        IntegAlg::HmacSha384_192 => "sha384",
        IntegAlg::HmacSha512_256 => "sha512",
        _ => "unknown",
    }
}

fn prf_keyword(p: PrfAlg) -> &'static str {
    match p {
        PrfAlg::HmacSha256 => "prfsha256",
        PrfAlg::HmacSha384 => "prfsha384",
        PrfAlg::HmacSha512 => "prfsha512",
        _ => "unknown",
    }
}

fn ke_keyword(k: KeGroup) -> &'static str {
    match k {
        KeGroup::Curve25519 => "x25519",
        KeGroup::Ecp256 => "ecp256",
        KeGroup::Ecp384 => "ecp384",
        KeGroup::Modp2048 => "modp2048",
        _ => "unknown",
    }
}

/// The PRF strongSwan pairs with an integrity algorithm when a proposal names no PRF.
pub fn prf_for_integ(i: IntegAlg) -> Option<PrfAlg> {
    match i {
        IntegAlg::HmacSha256_128 => Some(PrfAlg::HmacSha256),
        IntegAlg::HmacSha384_192 => Some(PrfAlg::HmacSha384),
        IntegAlg::HmacSha512_256 => Some(PrfAlg::HmacSha512),
        _ => None,
    }
}

/// The transforms of one proposal, in the order written, before the IKE/ESP rules are applied.
#[derive(Default)]
struct Parsed {
    encr: Vec<Encryption>,
    integ: Vec<IntegAlg>,
    prf: Vec<PrfAlg>,
    ke: Vec<KeGroup>,
    esn: Vec<EsnMode>,
    first_integ_at: usize,
}

fn parse_keywords(s: &str, ike: bool, errors: &mut Vec<ProposalError>) -> Parsed {
    let mut p = Parsed::default();
    if s.is_empty() {
        errors.push(ProposalError { offset: 0, message: "empty proposal".into() });
        return p;
    }
    let mut seen: Vec<Keyword> = Vec::new();
    let mut offset = 0;
    for word in s.split('-') {
        let at = offset;
        offset += word.len() + 1;
        let mut err = |message: String| errors.push(ProposalError { offset: at, message });
        if word.is_empty() {
            err("empty keyword (two \"-\" in a row, or a \"-\" at an end)".into());
            continue;
        }
        let Some(k) = keyword(word) else {
            if UNSUPPORTED.contains(&word) {
                err(format!("unsupported algorithm {word:?}"));
            } else {
                err(format!("unknown keyword {word:?}"));
            }
            continue;
        };
        if seen.contains(&k) {
            err(format!("duplicate keyword {word:?}"));
            continue;
        }
        seen.push(k);
        match k {
            Keyword::Encr(e) => p.encr.push(e),
            Keyword::Integ(i) => {
                if p.integ.is_empty() {
                    p.first_integ_at = at;
                }
                p.integ.push(i);
            }
            Keyword::Prf(_) if !ike => err(format!("PRF {word:?} is not allowed in an ESP proposal")),
            Keyword::Prf(f) => p.prf.push(f),
            Keyword::Ke(g) => p.ke.push(g),
            Keyword::Esn(_) if ike => err(format!("{word:?} is only allowed in an ESP proposal")),
            Keyword::Esn(e) => p.esn.push(e),
        }
    }
    if !errors.is_empty() {
        return p;
    }
    let whole = |message: &str| ProposalError { offset: 0, message: message.into() };
    if p.encr.is_empty() {
        errors.push(whole("no encryption algorithm (e.g. aes256gcm16 or aes256)"));
        return p;
    }
    let aead = p.encr.iter().filter(|e| e.is_aead()).count();
    if aead != 0 && aead != p.encr.len() {
        errors.push(whole("AEAD and non-AEAD encryption algorithms cannot share a proposal; write two"));
    } else if aead != 0 && !p.integ.is_empty() {
        errors.push(ProposalError {
            offset: p.first_integ_at,
            message: format!(
                "integrity algorithm {:?} cannot be used with an AEAD cipher",
                integ_keyword(p.integ[0])
            ),
        });
    } else if aead == 0 && p.integ.is_empty() {
        errors.push(whole("a non-AEAD cipher needs an integrity algorithm (e.g. sha256)"));
    }
    if ike {
        if p.ke.is_empty() {
            errors.push(whole("IKE proposal needs a key exchange method (e.g. x25519)"));
        }
        if aead != 0 && p.prf.is_empty() {
            errors.push(whole("IKE proposal with an AEAD cipher needs a PRF (e.g. prfsha256)"));
        }
    }
    p
}

/// An IKE proposal: every combination of the listed transforms is offered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IkeProposal {
    /// Encryption transforms.
    pub encr: Vec<Encryption>,
    /// Integrity transforms (empty with AEAD ciphers).
    pub integ: Vec<IntegAlg>,
    /// PRFs (defaulted from the integrity algorithms when none was written).
    pub prf: Vec<PrfAlg>,
    /// Key exchange methods.
    pub ke: Vec<KeGroup>,
}

/// One fully specified IKE SA suite: a single transform of each type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IkeSuiteSpec {
    /// Encryption.
    pub encr: Encryption,
    /// PRF.
    pub prf: PrfAlg,
    /// Integrity ([`IntegAlg::None`] with AEAD).
    pub integ: IntegAlg,
    /// Key exchange method.
    pub ke: KeGroup,
}

impl IkeProposal {
    /// Parse, reporting every problem.
    pub fn parse(s: &str) -> Result<Self, Vec<ProposalError>> {
        let mut errors = Vec::new();
        let p = parse_keywords(s, true, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut prf = p.prf;
        if prf.is_empty() {
            for i in &p.integ {
                if let Some(f) = prf_for_integ(*i) {
                    if !prf.contains(&f) {
                        prf.push(f);
                    }
                }
            }
        }
        Ok(IkeProposal { encr: p.encr, integ: p.integ, prf, ke: p.ke })
    }

    /// Every suite this proposal offers, in order of preference.
    pub fn suites(&self) -> Vec<IkeSuiteSpec> {
        let integ = if self.integ.is_empty() { vec![IntegAlg::None] } else { self.integ.clone() };
        let mut out = Vec::new();
        for &encr in &self.encr {
            for &i in &integ {
                for &prf in &self.prf {
                    for &ke in &self.ke {
                        out.push(IkeSuiteSpec { encr, prf, integ: i, ke });
                    }
                }
            }
        }
        out
    }
}

impl FromStr for IkeProposal {
    type Err = Vec<ProposalError>;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IkeProposal::parse(s)
    }
}

impl fmt::Display for IkeProposal {
    /// Back in keyword syntax, with the defaulted PRF written out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self
            .encr
            .iter()
            .map(Encryption::keyword)
            .chain(self.integ.iter().map(|i| integ_keyword(*i)))
            .chain(self.prf.iter().map(|p| prf_keyword(*p)))
            .chain(self.ke.iter().map(|k| ke_keyword(*k)))
            .collect();
        f.write_str(&words.join("-"))
    }
}

/// An ESP proposal: every combination of the listed transforms is offered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EspProposal {
    /// Encryption transforms.
    pub encr: Vec<Encryption>,
    /// Integrity transforms (empty with AEAD ciphers).
    pub integ: Vec<IntegAlg>,
    /// Key exchange methods for PFS; empty for no PFS.
    pub ke: Vec<KeGroup>,
    /// ESN modes offered (`[No]` unless `esn` was written).
    pub esn: Vec<EsnMode>,
}

/// One fully specified ESP suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EspSuiteSpec {
    /// Encryption.
    pub encr: Encryption,
    /// Integrity ([`IntegAlg::None`] with AEAD).
    pub integ: IntegAlg,
    /// PFS group for CREATE_CHILD_SA, if any.
    pub ke: Option<KeGroup>,
    /// Extended sequence numbers.
    pub esn: bool,
}

impl EspProposal {
    /// Parse, reporting every problem.
    pub fn parse(s: &str) -> Result<Self, Vec<ProposalError>> {
        let mut errors = Vec::new();
        let p = parse_keywords(s, false, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let esn = if p.esn.is_empty() { vec![EsnMode::No] } else { p.esn };
        Ok(EspProposal { encr: p.encr, integ: p.integ, ke: p.ke, esn })
    }

    /// True when the proposal asks for PFS.
    pub fn pfs(&self) -> bool {
        !self.ke.is_empty()
    }

    /// Every suite this proposal offers, in order of preference.
    pub fn suites(&self) -> Vec<EspSuiteSpec> {
        let integ = if self.integ.is_empty() { vec![IntegAlg::None] } else { self.integ.clone() };
        let ke: Vec<Option<KeGroup>> =
            if self.ke.is_empty() { vec![None] } else { self.ke.iter().copied().map(Some).collect() };
        let mut out = Vec::new();
        for &encr in &self.encr {
            for &i in &integ {
                for &k in &ke {
                    for &e in &self.esn {
                        out.push(EspSuiteSpec { encr, integ: i, ke: k, esn: e == EsnMode::Yes });
                    }
                }
            }
        }
        out
    }
}

impl FromStr for EspProposal {
    type Err = Vec<ProposalError>;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EspProposal::parse(s)
    }
}

impl fmt::Display for EspProposal {
    /// Back in keyword syntax; `noesn` is left implicit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let esn: Vec<&str> = if self.esn == [EsnMode::No] {
            Vec::new()
        } else {
            self.esn.iter().map(|e| if *e == EsnMode::Yes { "esn" } else { "noesn" }).collect()
        };
        let words: Vec<&str> = self
            .encr
            .iter()
            .map(Encryption::keyword)
            .chain(self.integ.iter().map(|i| integ_keyword(*i)))
            .chain(self.ke.iter().map(|k| ke_keyword(*k)))
            .chain(esn)
            .collect();
        f.write_str(&words.join("-"))
    }
}

/// The IKE proposals used when a connection names none.
pub const DEFAULT_IKE_PROPOSALS: &[&str] = &[
    "aes256gcm16-aes128gcm16-chacha20poly1305-prfsha256-prfsha384-x25519-ecp256-ecp384-modp2048",
    "aes256-aes128-sha256-sha384-x25519-ecp256-ecp384-modp2048",
];

/// The ESP proposals used when a connection names none (no PFS, as strongSwan's default).
pub const DEFAULT_ESP_PROPOSALS: &[&str] =
    &["aes256gcm16-aes128gcm16-chacha20poly1305", "aes256-aes128-sha256-sha384"];

#[cfg(test)]
mod tests {
    use super::*;

    fn ike_err(s: &str) -> Vec<(usize, String)> {
        IkeProposal::parse(s).unwrap_err().into_iter().map(|e| (e.offset, e.message)).collect()
    }

    fn esp_err(s: &str) -> Vec<(usize, String)> {
        EspProposal::parse(s).unwrap_err().into_iter().map(|e| (e.offset, e.message)).collect()
    }

    #[test]
    fn issue_proposals_parse() {
        let p = IkeProposal::parse("aes256gcm16-prfsha256-x25519").unwrap();
        assert_eq!(
            p.suites(),
            [IkeSuiteSpec {
                encr: Encryption { alg: EncrAlg::AesGcm16, key_bits: 256 },
                prf: PrfAlg::HmacSha256,
                integ: IntegAlg::None,
                ke: KeGroup::Curve25519,
            }]
        );
        let p = IkeProposal::parse("aes256-sha256-modp2048").unwrap();
        assert_eq!(p.prf, [PrfAlg::HmacSha256], "PRF defaults to the integrity hash");
        assert_eq!(p.to_string(), "aes256-sha256-prfsha256-modp2048");
        assert_eq!(p.encr[0].key_length_attr(), Some(256));
        let p = IkeProposal::parse("chacha20poly1305-prfsha256-curve25519").unwrap();
        assert_eq!(p.encr[0].key_length_attr(), None);
        assert_eq!(
            IkeProposal::parse("aes128gcm-prfsha384-ecp256").unwrap().to_string(),
            "aes128gcm16-prfsha384-ecp256"
        );
        let e = EspProposal::parse("aes256gcm16").unwrap();
        assert_eq!((e.pfs(), e.esn.as_slice()), (false, [EsnMode::No].as_slice()));
        let e = EspProposal::parse("aes256-sha512-x25519-esn-noesn").unwrap();
        assert!(e.pfs());
        assert_eq!(e.suites().len(), 2);
        assert_eq!(e.to_string(), "aes256-sha512-x25519-esn-noesn");
    }

    #[test]
    fn combinations_are_expanded() {
        let p = IkeProposal::parse("aes128-aes256-sha256-sha384-x25519-ecp256").unwrap();
        assert_eq!(p.prf, [PrfAlg::HmacSha256, PrfAlg::HmacSha384]);
        assert_eq!(p.suites().len(), 2 * 2 * 2 * 2);
    }

    #[test]
    fn defaults_parse() {
        for s in DEFAULT_IKE_PROPOSALS {
            IkeProposal::parse(s).unwrap();
        }
        for s in DEFAULT_ESP_PROPOSALS {
            EspProposal::parse(s).unwrap();
        }
    }

    #[test]
    fn errors_name_the_keyword_and_its_offset() {
        assert_eq!(esp_err("aes999"), [(0, "unknown keyword \"aes999\"".to_string())]);
        assert_eq!(esp_err("aes256-sha1"), [(7, "unsupported algorithm \"sha1\"".to_string())]);
        assert_eq!(esp_err("aes256--sha256")[0].0, 7);
        assert_eq!(
            esp_err("aes256gcm16-prfsha256")[0],
            (12, "PRF \"prfsha256\" is not allowed in an ESP proposal".into())
        );
        assert_eq!(ike_err("aes256gcm16-prfsha256-x25519-esn")[0].0, 29);
        assert_eq!(esp_err("aes256-aes256-sha256")[0], (7, "duplicate keyword \"aes256\"".into()));
        assert_eq!(esp_err(""), [(0, "empty proposal".to_string())]);
        assert!(esp_err("sha256")[0].1.starts_with("no encryption algorithm"));
        assert!(esp_err("aes256")[0].1.starts_with("a non-AEAD cipher needs an integrity"));
        assert_eq!(esp_err("aes256gcm16-sha256")[0].0, 12);
        assert!(esp_err("aes256gcm16-aes256-sha256")[0].1.starts_with("AEAD and non-AEAD"));
        assert_eq!(
            ike_err("aes256gcm16-x25519"),
            [(0, "IKE proposal with an AEAD cipher needs a PRF (e.g. prfsha256)".to_string())]
        );
        assert_eq!(
            ike_err("aes256gcm16-prfsha256"),
            [(0, "IKE proposal needs a key exchange method (e.g. x25519)".to_string())]
        );
        // Every problem is reported, not just the first.
        assert_eq!(esp_err("aes999-sha999").len(), 2);
    }
}
