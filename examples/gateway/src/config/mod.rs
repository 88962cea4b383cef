//! The gateway's TOML config file (issue 5): types, loading and validation.
//!
//! ```toml
//! [gateway]
//! name = "hub"
//! listen = ["192.0.2.1"]                  # IP (ports 500 + 4500) or IP:PORT (one port for both)
//! control_socket = "/run/vpn-gateway.sock" # optional, this is the default
//! tun = "vpn0"
//! tun_addresses = ["10.1.0.1/32"]         # optional
//! max_connecting = 4                      # optional: initiations under way at once
//!
//! [[connection]]
//! name = "dc1"
//! kind = "site-to-site"                   # site-to-site (default) | vnet-to-vnet
//! remote_address = "192.0.2.2"            # IP, IP:PORT or "%any"
//! local_id = "hub"                        # default: the local address IKE uses
//! remote_id = "dc1"                       # default: remote_address ("%any": any identity)
//! psk = "correct horse battery staple"    # or psk_file = "path" (relative to this file); "0x..." is hex
//! routing = "policy-based"                # policy-based (default) | route-based
//! connection_mode = "default"             # default | initiator-only | responder-only
//! local_selectors = ["10.1.0.0/24"]
//! remote_selectors = ["10.2.0.0/24"]
//! ike_proposals = ["aes256gcm16-prfsha256-x25519"]
//! esp_proposals = ["aes256gcm16"]
//! ike_lifetime = "8h"                     # IKE SA rekey interval, default 4h (strongSwan's rekey_time)
//! child_lifetime = "1h"                   # Child SA rekey interval, default 1h
//! dpd_timeout = "45s"                     # default: no DPD; "0s" also disables it
//! interface = "vti-east"                  # route-based only: its own TUN (default "vti-" + name)
//! local_address = "192.0.2.1"             # one of gateway.listen: initiate from / answer on it
//! ```
//!
//! [`load`] reports every problem it finds, each naming the file, line, column and field path;
//! a config with any error is rejected as a whole, so the gateway never runs half-configured.

mod error;
mod identity;
mod parse;
mod proposal;
mod psk;
mod values;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use vpn_core::secret::SecretVec;
use vpn_core::time::Duration;
use vpn_core::ts::TrafficSelector;

pub use error::{ConfigError, ConfigErrors};
pub use identity::{Identity, IdentityError};
pub use proposal::{
    prf_for_integ, Encryption, EspProposal, EspSuiteSpec, IkeProposal, IkeSuiteSpec, ProposalError,
    DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS,
};
pub use values::{format_duration, parse_duration, IpCidr, ListenAddr, RemoteAddress, IKE_PORT, NATT_PORT};

/// Default control socket path.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/vpn-gateway.sock";
/// Default IKE SA rekey interval (strongSwan's `rekey_time` for IKE SAs).
pub const DEFAULT_IKE_LIFETIME: Duration = Duration::from_secs(4 * 3600);
/// Default Child SA rekey interval (strongSwan's `rekey_time` for Child SAs).
pub const DEFAULT_CHILD_LIFETIME: Duration = Duration::from_secs(3600);
/// First IKE retransmission timeout (strongSwan's `retransmit_timeout`).
pub const DEFAULT_RETRANSMIT_TIMEOUT: Duration = Duration::from_secs(4);
/// IKE request sends before giving up (strongSwan's `retransmit_tries`).
pub const DEFAULT_RETRANSMIT_TRIES: u32 = 5;
/// Connections initiated at once by default.
pub const DEFAULT_MAX_CONNECTING: usize = 4;
/// Shortest pre-shared key accepted, in bytes.
pub const MIN_PSK_LEN: usize = 8;

/// A whole, validated config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `[gateway]` table.
    pub gateway: Gateway,
    /// The `[[connection]]` tables, in file order.
    pub connections: Vec<Connection>,
}

/// The `[gateway]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// Name of this gateway (logs, status).
    pub name: String,
    /// Addresses to receive IKE and ESP-in-UDP on.
    pub listen: Vec<ListenAddr>,
    /// Path of the control socket (`status`, `initiate`, `terminate`).
    pub control_socket: PathBuf,
    /// Name of the TUN device carrying inner traffic.
    pub tun: String,
    /// Addresses to put on the TUN device.
    pub tun_addresses: Vec<IpCidr>,
    /// First IKE retransmission timeout; each next one is 1.8 times longer (strongSwan's schedule).
    pub retransmit_timeout: Duration,
    /// Sends of a request before the peer is declared dead.
    pub retransmit_tries: u32,
    /// At most this many connections are being initiated at once (`max_connecting`, default
    /// 4): a gateway with a thousand connections paces its IKE_SA_INITs instead of setting off
    /// its peers' cookie and DoS thresholds (strongSwan blocks a source address with 5 half-open
    /// SAs, and asks for cookies beyond 10).
    pub max_connecting: usize,
}

macro_rules! keyword_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $kw:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $var,)* }

        impl $name {
            /// Every keyword accepted, for error messages.
            pub const KEYWORDS: &'static [&'static str] = &[$($kw),*];

            /// The keyword as written in the config.
            pub fn keyword(self) -> &'static str {
                match self { $($name::$var => $kw,)* }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($kw => Ok($name::$var),)*
                    _ => Err(format!("unknown value {:?} (expected {})", s, Self::KEYWORDS.join(" | "))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.keyword())
            }
        }
    };
}

keyword_enum! {
    /// What the peer is.
    ConnectionKind {
        /// A site's VPN device (strongSwan, a router): the usual case.
        SiteToSite = "site-to-site",
        /// Another `vpn-gateway` joining two virtual networks.
        VnetToVnet = "vnet-to-vnet",
    }
}

keyword_enum! {
    /// How traffic is steered into the tunnel.
    Routing {
        /// Negotiate the configured selectors; the SPD decides what enters the tunnel.
        PolicyBased = "policy-based",
        /// Negotiate 0.0.0.0/0 and ::/0; routes to `remote_selectors` via the TUN device decide.
        RouteBased = "route-based",
    }
}

keyword_enum! {
    /// Which side starts the IKE SA.
    ConnectionMode {
        /// Initiate at start (unless the peer is `%any`) and also answer.
        Default = "default",
        /// Only initiate; requests from this peer are refused.
        InitiatorOnly = "initiator-only",
        /// Only answer.
        ResponderOnly = "responder-only",
    }
}

/// Whom we accept as the peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RemoteId {
    /// Any identity that authenticates with the PSK (`remote_id = "%any"`, or no `remote_id` with
    /// `remote_address = "%any"`).
    Any,
    /// Exactly this identity.
    Is(Identity),
}

/// One `[[connection]]` table.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Unique name (CLI `initiate NAME`, status).
    pub name: String,
    /// What the peer is.
    pub kind: ConnectionKind,
    /// Where the peer is.
    pub remote_address: RemoteAddress,
    /// Our identity; `None`: the local address IKE uses (see [`Connection::local_identity`]).
    pub local_id: Option<Identity>,
    /// The peer's identity.
    pub remote_id: RemoteId,
    /// The pre-shared key (from `psk` or `psk_file`).
    pub psk: SecretVec,
    /// Policy- or route-based.
    pub routing: Routing,
    /// Initiator, responder or both.
    pub mode: ConnectionMode,
    /// Our side's networks.
    pub local_selectors: Vec<TrafficSelector>,
    /// The peer's networks (with route-based routing: what is routed into the tunnel).
    pub remote_selectors: Vec<TrafficSelector>,
    /// IKE proposals in order of preference.
    pub ike_proposals: Vec<IkeProposal>,
    /// ESP proposals in order of preference.
    pub esp_proposals: Vec<EspProposal>,
    /// IKE SA rekey interval.
    pub ike_lifetime: Duration,
    /// Child SA rekey interval.
    pub child_lifetime: Duration,
    /// Dead peer detection: probe after this long without inbound traffic; `None`: off.
    pub dpd_timeout: Option<Duration>,
    /// The tunnel interface of a route-based connection (`interface`, by default `vti-` and
    /// the name, cut to 15 characters); `None` for policy-based ones, which share gateway.tun.
    pub interface: Option<String>,
    /// The listen address to initiate from and to answer on (`local_address`); `None`: any, and
    /// initiations leave from the one the route to the peer goes out of.
    pub local_address: Option<IpAddr>,
    /// Line of the `[[connection]]` header, for messages.
    pub line: usize,
}

impl Connection {
    /// True when the gateway starts this connection itself at start-up.
    pub fn initiates(&self) -> bool {
        self.mode != ConnectionMode::ResponderOnly && self.remote_address != RemoteAddress::Any
    }

    /// True when the gateway answers this peer's requests.
    pub fn responds(&self) -> bool {
        self.mode != ConnectionMode::InitiatorOnly
    }

    /// Our identity when IKE uses local address `local`.
    pub fn local_identity(&self, local: IpAddr) -> Identity {
        self.local_id.clone().unwrap_or_else(|| local.into())
    }

    /// The traffic selectors to negotiate for our side.
    pub fn negotiated_local_ts(&self) -> Vec<TrafficSelector> {
        match self.routing {
            Routing::PolicyBased => self.local_selectors.clone(),
            Routing::RouteBased => vec![TrafficSelector::any_v4(), TrafficSelector::any_v6()],
        }
    }

    /// The traffic selectors to negotiate for the peer's side.
    pub fn negotiated_remote_ts(&self) -> Vec<TrafficSelector> {
        match self.routing {
            Routing::PolicyBased => self.remote_selectors.clone(),
            Routing::RouteBased => vec![TrafficSelector::any_v4(), TrafficSelector::any_v6()],
        }
    }

    /// Every IKE suite offered, in order of preference.
    pub fn ike_suites(&self) -> Vec<IkeSuiteSpec> {
        self.ike_proposals.iter().flat_map(IkeProposal::suites).collect()
    }

    /// Every ESP suite offered, in order of preference.
    pub fn esp_suites(&self) -> Vec<EspSuiteSpec> {
        self.esp_proposals.iter().flat_map(EspProposal::suites).collect()
    }
}

/// Read and validate the config file at `path`. `psk_file` paths are relative to its directory.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            position: None,
            path: String::new(),
            message: format!("cannot read: {e}"),
            offset: 0,
        }])
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_str(&text, &name, base)
}

/// Validate config `text`; `file` names it in errors and `base_dir` anchors `psk_file` paths.
pub fn parse_str(text: &str, file: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    parse::parse(text, file, base_dir)
}
