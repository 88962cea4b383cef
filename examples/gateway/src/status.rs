//! The IKE and Child SAs of a gateway as plain data, rendered like `swanctl --list-sas` or as
//! JSON (the form the control socket carries).
//!
//! ```text
//! dc1: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r
//!   local  'hub' @ 192.0.2.1[500]
//!   remote 'dc1' @ 192.0.2.2[500]
//!   AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519
//!   established 23s ago, rekeying in 13667s
//!   dc1: #1, INSTALLED, TUNNEL, ESP:AES_GCM_16-256
//!     rekeying in 3283s
//!     in  c6fd9ca0,   1234 bytes,    10 packets
//!     out c2fa1b0c,   5678 bytes,    12 packets
//!     local  10.1.0.0/24
//!     remote 10.2.0.0/24
//! ```

use std::fmt::Write as _;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use vpn_core::alg::{EncrAlg, IntegAlg, KeGroup, PrfAlg};

/// The version of the JSON schema of [`StatusReport`] (`vpn-gateway status --json`). Fields
/// are only ever added within a version; a removal or a change of meaning bumps it.
pub const SCHEMA_VERSION: u32 = 2;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConnectionState {
    /// Terminated by the operator: stays down until `initiate`.
    Down,
    /// Waiting for the peer to initiate (responder-only, `%any`).
    Waiting,
    /// A retry is scheduled (`next_retry_in`).
    Scheduled,
    /// An IKE SA is being negotiated.
    Connecting,
    /// Up.
    Established,
    /// Up, with an IKE or Child SA rekey in flight.
    Rekeying,
    /// Its IKE SAs are being deleted.
    Deleting,
}

impl ConnectionState {
    /// The name the text form prints.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Down => "DOWN",
            ConnectionState::Waiting => "WAITING",
            ConnectionState::Scheduled => "SCHEDULED",
            ConnectionState::Connecting => "CONNECTING",
            ConnectionState::Established => "ESTABLISHED",
            ConnectionState::Rekeying => "REKEYING",
            ConnectionState::Deleting => "DELETING",
        }
    }
}

/// One configured connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    /// Its name.
    pub name: String,
    /// `site-to-site` or `vnet-to-vnet`.
    pub kind: String,
    /// `policy-based` or `route-based`.
    pub routing: String,
    /// The interface its traffic uses (gateway.tun, or its own for route-based).
    pub interface: String,
    /// `default`, `initiator-only` or `responder-only`.
    pub mode: String,
    /// State.
    pub state: ConnectionState,
    /// Attempts since it was last up (0 when up).
    pub attempt: u32,
    /// Seconds until the next attempt, when one is scheduled.
    pub next_retry_in: Option<u64>,
    /// Why it last went down or failed to come up.
    pub last_error: Option<String>,
    /// Seconds it has been up.
    pub established_for: Option<u64>,
    /// Its IKE SAs (any state).
    pub ike_sas: usize,
    /// Its installed Child SAs.
    pub child_sas: usize,
}

/// State of an IKE SA (strongSwan's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IkeSaState {
    /// IKE_SA_INIT or IKE_AUTH in progress.
    Connecting,
    /// Authenticated and usable.
    Established,
    /// Being rekeyed.
    Rekeying,
    /// Replaced by a rekeyed SA, about to be deleted.
    Rekeyed,
    /// Being deleted.
    Deleting,
}

/// State of a Child SA (strongSwan's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChildSaState {
    /// Being negotiated.
    Installing,
    /// In the SAD and carrying traffic.
    Installed,
    /// Being rekeyed.
    Rekeying,
    /// Replaced by a rekeyed SA, about to be deleted.
    Rekeyed,
    /// Being deleted.
    Deleting,
}

/// IPsec mode of a Child SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IpsecMode {
    /// Tunnel mode.
    Tunnel,
    /// Transport mode.
    Transport,
}

/// One IKE SA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IkeSaStatus {
    /// Connection name.
    pub name: String,
    /// Unique id of this SA in the gateway (`#1`).
    pub unique_id: u32,
    /// State.
    pub state: IkeSaState,
    /// True when we were the original initiator (the `*` after `_i` in the text form).
    pub initiator: bool,
    /// Our address and port.
    pub local_addr: SocketAddr,
    /// The peer's address and port.
    pub remote_addr: SocketAddr,
    /// Our identity, as text.
    pub local_id: String,
    /// The peer's identity, as text.
    pub remote_id: String,
    /// Initiator's SPI.
    #[serde(with = "hex_u64")]
    pub spi_i: u64,
    /// Responder's SPI (0 until known).
    #[serde(with = "hex_u64")]
    pub spi_r: u64,
    /// Encryption, strongSwan-style (see [`encr_name`]).
    pub encr: String,
    /// Integrity, strongSwan-style; `None` with AEAD.
    pub integ: Option<String>,
    /// PRF, strongSwan-style.
    pub prf: String,
    /// Key exchange method, strongSwan-style.
    pub ke: String,
    /// When it was established, in seconds since the Unix epoch; `None` while connecting.
    pub established_at: Option<u64>,
    /// Seconds until the next rekey, if one is scheduled.
    pub rekey_in: Option<u64>,
    /// Seconds until it is deleted unless rekeyed (hard lifetime).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Its Child SAs.
    pub children: Vec<ChildSaStatus>,
}

/// One Child SA (an inbound/outbound ESP SA pair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildSaStatus {
    /// Connection name.
    pub name: String,
    /// Unique id of this Child SA in the gateway.
    pub unique_id: u32,
    /// State.
    pub state: ChildSaState,
    /// Tunnel or transport.
    pub mode: IpsecMode,
    /// Encryption, strongSwan-style.
    pub encr: String,
    /// Integrity, strongSwan-style; `None` with AEAD.
    pub integ: Option<String>,
    /// Inbound SPI (ours).
    #[serde(with = "hex_u32")]
    pub spi_in: u32,
    /// Outbound SPI (the peer's).
    #[serde(with = "hex_u32")]
    pub spi_out: u32,
    /// Our traffic selectors, as text.
    pub local_ts: Vec<String>,
    /// The peer's traffic selectors, as text.
    pub remote_ts: Vec<String>,
    /// Bytes decrypted.
    pub bytes_in: u64,
    /// Bytes encrypted.
    pub bytes_out: u64,
    /// Packets decrypted.
    pub packets_in: u64,
    /// Packets encrypted.
    pub packets_out: u64,
    /// Seconds until the next rekey, if one is scheduled.
    pub rekey_in: Option<u64>,
    /// Seconds until it is deleted unless rekeyed (hard lifetime).
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// Everything `vpn-gateway status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusReport {
    /// The schema version ([`SCHEMA_VERSION`]).
    #[serde(default)]
    pub version: u32,
    /// Gateway name.
    pub gateway: String,
    /// Every configured connection, in config order.
    #[serde(default)]
    pub connections: Vec<ConnectionStatus>,
    /// IKE SAs with their Child SAs.
    pub ike_sas: Vec<IkeSaStatus>,
}

impl StatusReport {
    /// The text table, with ages computed against `now` (seconds since the Unix epoch).
    pub fn render_text(&self, now: u64) -> String {
        let mut out = String::new();
        for sa in &self.ike_sas {
            sa.render(&mut out, now);
        }
        if !self.connections.is_empty() {
            out.push_str("connections:\n");
        }
        for c in &self.connections {
            c.render(&mut out);
        }
        out
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("status serializes")
    }

    /// Parse the JSON form (as received over the control socket).
    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}

impl IkeSaState {
    /// The name swanctl prints.
    pub fn name(self) -> &'static str {
        match self {
            IkeSaState::Connecting => "CONNECTING",
            IkeSaState::Established => "ESTABLISHED",
            IkeSaState::Rekeying => "REKEYING",
            IkeSaState::Rekeyed => "REKEYED",
            IkeSaState::Deleting => "DELETING",
        }
    }
}

impl ChildSaState {
    /// The name swanctl prints.
    pub fn name(self) -> &'static str {
        match self {
            ChildSaState::Installing => "INSTALLING",
            ChildSaState::Installed => "INSTALLED",
            ChildSaState::Rekeying => "REKEYING",
            ChildSaState::Rekeyed => "REKEYED",
            ChildSaState::Deleting => "DELETING",
        }
    }
}

impl IpsecMode {
    /// The name swanctl prints.
    pub fn name(self) -> &'static str {
        match self {
            IpsecMode::Tunnel => "TUNNEL",
            IpsecMode::Transport => "TRANSPORT",
        }
    }
}

/// `Identity` as strongSwan prints it: an address, a name, `user@domain`, or hex.
pub fn identity_text(id: &vpn_ike::message::Identity) -> String {
    use vpn_ike::message::Identity;
    match id {
        Identity::Ipv4(a) => a.to_string(),
        Identity::Ipv6(a) => a.to_string(),
        Identity::Fqdn(b) | Identity::Rfc822(b) => String::from_utf8_lossy(b).into_owned(),
        Identity::KeyId(b) | Identity::DerAsn1Dn(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Identity::Other { data, .. } => data.iter().map(|x| format!("{x:02x}")).collect(),
        #[allow(unreachable_patterns)]
        _ => String::from("?"),
    }
}

/// `192.0.2.1[500]`, `2001:db8::1[4500]`, as swanctl prints endpoints.
fn endpoint(a: &SocketAddr) -> String {
    format!("{}[{}]", a.ip(), a.port())
}

impl ConnectionStatus {
    fn render(&self, out: &mut String) {
        let mut line = format!(
            "  {}: {}, {}, {}, {}",
            self.name,
            self.state.name(),
            self.routing,
            self.interface,
            self.mode
        );
        if self.state == ConnectionState::Established || self.state == ConnectionState::Rekeying {
            let _ = write!(line, ", {} IKE SA(s), {} Child SA(s)", self.ike_sas, self.child_sas);
        }
        if self.attempt > 0 {
            let _ = write!(line, ", attempt {}", self.attempt);
        }
        if let Some(t) = self.next_retry_in {
            let _ = write!(line, ", next try in {t}s");
        }
        if let Some(e) = &self.last_error {
            let _ = write!(line, ", last error: {e}");
        }
        let _ = writeln!(out, "{line}");
    }
}

impl IkeSaStatus {
    fn render(&self, out: &mut String, now: u64) {
        let (mi, mr) = if self.initiator { ("*", "") } else { ("", "*") };
        let _ = writeln!(
            out,
            "{}: #{}, {}, IKEv2, {:016x}_i{mi} {:016x}_r{mr}",
            self.name,
            self.unique_id,
            self.state.name(),
            self.spi_i,
            self.spi_r
        );
        let _ = writeln!(out, "  local  '{}' @ {}", self.local_id, endpoint(&self.local_addr));
        let _ = writeln!(out, "  remote '{}' @ {}", self.remote_id, endpoint(&self.remote_addr));
        let mut algs = vec![self.encr.as_str()];
        algs.extend(self.integ.as_deref());
        algs.push(&self.prf);
        algs.push(&self.ke);
        let _ = writeln!(out, "  {}", algs.join("/"));
        let mut times = Vec::new();
        if let Some(at) = self.established_at {
            times.push(format!("established {}s ago", now.saturating_sub(at)));
        }
        if let Some(r) = self.rekey_in {
            times.push(format!("rekeying in {r}s"));
        }
        if let Some(r) = self.expires_in {
            times.push(format!("expires in {r}s"));
        }
        if !times.is_empty() {
            let _ = writeln!(out, "  {}", times.join(", "));
        }
        for c in &self.children {
            c.render(out);
        }
    }
}

impl ChildSaStatus {
    fn render(&self, out: &mut String) {
        let mut algs = self.encr.clone();
        if let Some(i) = &self.integ {
            algs.push('/');
            algs.push_str(i);
        }
        let _ = writeln!(
            out,
            "  {}: #{}, {}, {}, ESP:{algs}",
            self.name,
            self.unique_id,
            self.state.name(),
            self.mode.name()
        );
        match (self.rekey_in, self.expires_in) {
            (Some(r), Some(e)) => {
                let _ = writeln!(out, "    rekeying in {r}s, expires in {e}s");
            }
            (Some(r), None) => {
                let _ = writeln!(out, "    rekeying in {r}s");
            }
            (None, Some(e)) => {
                let _ = writeln!(out, "    expires in {e}s");
            }
            (None, None) => {}
        }
        let _ = writeln!(
            out,
            "    in  {:08x}, {:>6} bytes, {:>5} packets",
            self.spi_in, self.bytes_in, self.packets_in
        );
        let _ = writeln!(
            out,
            "    out {:08x}, {:>6} bytes, {:>5} packets",
            self.spi_out, self.bytes_out, self.packets_out
        );
        let _ = writeln!(out, "    local  {}", self.local_ts.join(" "));
        let _ = writeln!(out, "    remote {}", self.remote_ts.join(" "));
    }
}

/// strongSwan's name for an encryption transform: `AES_CBC-256`, `AES_GCM_16-128`,
/// `CHACHA20_POLY1305` (fixed key size, printed without one, as swanctl does).
pub fn encr_name(alg: EncrAlg, key_bits: u16) -> String {
    let base = match alg {
        EncrAlg::AesCbc => "AES_CBC",
        EncrAlg::AesGcm16 => "AES_GCM_16",
        EncrAlg::AesGcm12 => "AES_GCM_12",
        EncrAlg::AesGcm8 => "AES_GCM_8",
        EncrAlg::AesCtr => "AES_CTR",
        // A fixed key size: swanctl prints no size for it.
        EncrAlg::ChaCha20Poly1305 => return "CHACHA20_POLY1305".into(),
        EncrAlg::TripleDes => return "3DES_CBC".into(),
        EncrAlg::Null => return "NULL".into(),
        other => return format!("ENCR_{}", u16::from(other)),
    };
    format!("{base}-{key_bits}")
}

/// strongSwan's name for an integrity transform: `HMAC_SHA2_256_128`.
pub fn integ_name(alg: IntegAlg) -> String {
    match alg {
        IntegAlg::None => "NONE".into(),
        IntegAlg::HmacMd5_96 => "HMAC_MD5_96".into(),
        IntegAlg::HmacSha1_96 => "HMAC_SHA1_96".into(),
        IntegAlg::AesXcbc96 => "AES_XCBC_96".into(),
        IntegAlg::HmacSha256_128 => "HMAC_SHA2_256_128".into(),
        IntegAlg::HmacSha384_192 => "HMAC_SHA2_384_192".into(),
        IntegAlg::HmacSha512_256 => "HMAC_SHA2_512_256".into(),
        other => format!("INTEG_{}", u16::from(other)),
    }
}

/// strongSwan's name for a PRF: `PRF_HMAC_SHA2_256`.
pub fn prf_name(alg: PrfAlg) -> String {
    match alg {
        PrfAlg::HmacMd5 => "PRF_HMAC_MD5".into(),
        PrfAlg::HmacSha1 => "PRF_HMAC_SHA1".into(),
        PrfAlg::Aes128Xcbc => "PRF_AES128_XCBC".into(),
        PrfAlg::HmacSha256 => "PRF_HMAC_SHA2_256".into(),
        PrfAlg::HmacSha384 => "PRF_HMAC_SHA2_384".into(),
        PrfAlg::HmacSha512 => "PRF_HMAC_SHA2_512".into(),
        other => format!("PRF_{}", u16::from(other)),
    }
}

/// strongSwan's name for a key exchange method: `CURVE_25519`, `ECP_256`, `MODP_2048`.
pub fn ke_name(group: KeGroup) -> String {
    match group {
        KeGroup::None => "NONE".into(),
        KeGroup::Modp1024 => "MODP_1024".into(),
        KeGroup::Modp2048 => "MODP_2048".into(),
        KeGroup::Modp3072 => "MODP_3072".into(),
        KeGroup::Modp4096 => "MODP_4096".into(),
        KeGroup::Ecp256 => "ECP_256".into(),
        KeGroup::Ecp384 => "ECP_384".into(),
        KeGroup::Ecp521 => "ECP_521".into(),
        KeGroup::Curve25519 => "CURVE_25519".into(),
        KeGroup::Curve448 => "CURVE_448".into(),
        other => format!("KE_{}", u16::from(other)),
    }
}

mod hex_u64 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        u64::from_str_radix(&s, 16).map_err(D::Error::custom)
    }
}

mod hex_u32 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:08x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let s = String::deserialize(d)?;
        u32::from_str_radix(&s, 16).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StatusReport {
        StatusReport {
            version: SCHEMA_VERSION,
            gateway: "hub".into(),
            connections: Vec::new(),
            ike_sas: vec![IkeSaStatus {
                name: "dc1".into(),
                unique_id: 1,
                state: IkeSaState::Established,
                initiator: true,
                local_addr: "192.0.2.1:500".parse().unwrap(),
                remote_addr: "192.0.2.2:500".parse().unwrap(),
                local_id: "hub".into(),
                remote_id: "dc1".into(),
                spi_i: 0x0123_4567_89ab_cdef,
                spi_r: 0xfedc_ba98_7654_3210,
                encr: encr_name(EncrAlg::AesGcm16, 256),
                integ: None,
                prf: prf_name(PrfAlg::HmacSha256),
                ke: ke_name(KeGroup::Curve25519),
                established_at: Some(1_000),
                rekey_in: Some(13667),
                expires_in: None,
                children: vec![ChildSaStatus {
                    name: "dc1".into(),
                    unique_id: 1,
                    state: ChildSaState::Installed,
                    mode: IpsecMode::Tunnel,
                    encr: encr_name(EncrAlg::AesCbc, 256),
                    integ: Some(integ_name(IntegAlg::HmacSha256_128)),
                    spi_in: 0xc6fd_9ca0,
                    spi_out: 0x02fa_1b0c,
                    local_ts: vec!["10.1.0.0/24".into()],
                    remote_ts: vec!["10.2.0.0/24".into(), "10.3.0.0/24".into()],
                    bytes_in: 1234,
                    bytes_out: 5678,
                    packets_in: 10,
                    packets_out: 12,
                    rekey_in: Some(3283),
                    expires_in: None,
                }],
            }],
        }
    }

    #[test]
    fn text_is_like_swanctl_list_sas() {
        let text = sample().render_text(1_023);
        let expected = "\
dc1: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r
  local  'hub' @ 192.0.2.1[500]
  remote 'dc1' @ 192.0.2.2[500]
  AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519
  established 23s ago, rekeying in 13667s
  dc1: #1, INSTALLED, TUNNEL, ESP:AES_CBC-256/HMAC_SHA2_256_128
    rekeying in 3283s
    in  c6fd9ca0,   1234 bytes,    10 packets
    out 02fa1b0c,   5678 bytes,    12 packets
    local  10.1.0.0/24
    remote 10.2.0.0/24 10.3.0.0/24
";
        assert_eq!(text, expected);
    }

    #[test]
    fn responder_star_and_connecting() {
        let mut r = sample();
        r.ike_sas[0].initiator = false;
        r.ike_sas[0].state = IkeSaState::Connecting;
        r.ike_sas[0].established_at = None;
        r.ike_sas[0].rekey_in = None;
        r.ike_sas[0].children.clear();
        let text = r.render_text(0);
        assert!(text.starts_with("dc1: #1, CONNECTING, IKEv2, 0123456789abcdef_i fedcba9876543210_r*\n"));
        assert_eq!(text.lines().count(), 4);
    }

    #[test]
    fn json_round_trips_with_hex_spis() {
        let r = sample();
        let json = r.to_json();
        assert!(json.contains("\"spi_i\": \"0123456789abcdef\""));
        assert!(json.contains("\"spi_out\": \"02fa1b0c\""));
        assert!(json.contains("\"state\": \"ESTABLISHED\""));
        assert_eq!(StatusReport::from_json(&json).unwrap(), r);
    }

    #[test]
    fn algorithm_names_match_strongswan() {
        assert_eq!(encr_name(EncrAlg::ChaCha20Poly1305, 256), "CHACHA20_POLY1305");
        assert_eq!(encr_name(EncrAlg::AesGcm16, 128), "AES_GCM_16-128");
        assert_eq!(integ_name(IntegAlg::HmacSha512_256), "HMAC_SHA2_512_256");
        assert_eq!(prf_name(PrfAlg::HmacSha384), "PRF_HMAC_SHA2_384");
        assert_eq!(ke_name(KeGroup::Ecp256), "ECP_256");
        assert_eq!(ke_name(KeGroup::Modp2048), "MODP_2048");
    }
}
