//! From the config file to the IKE endpoint's vocabulary: peer configurations, suites,
//! identities, and the lookup a responder uses to find the connection a peer belongs to.

use std::net::{IpAddr, SocketAddr};

use vpn_ike::config::{EspSuite, Lifetimes, Mode, PeerConfig, PeerLookup};
use vpn_ike::keys::IkeSuite;
use vpn_ike::message::Identity;

use crate::config::{self, Connection, RemoteAddress, RemoteId};

/// The endpoint's identity type for a config identity.
pub fn identity(id: &config::Identity) -> Identity {
    match id {
        config::Identity::Ipv4(a) => Identity::Ipv4(*a),
        config::Identity::Ipv6(a) => Identity::Ipv6(*a),
        config::Identity::Fqdn(s) => Identity::Fqdn(s.as_bytes().to_vec()),
        config::Identity::Rfc822(s) => Identity::Rfc822(s.as_bytes().to_vec()),
        config::Identity::KeyId(b) => Identity::KeyId(b.clone()),
    }
}

/// The IKE suites of a connection, in its configured order.
pub fn ike_suites(c: &Connection) -> Vec<IkeSuite> {
    c.ike_suites()
        .into_iter()
        .map(|s| IkeSuite {
            encr: s.encr.alg,
            encr_key_bits: s.encr.key_bits,
            prf: s.prf,
            integ: s.integ,
            ke: s.ke,
        })
        .collect()
}

/// The ESP suites of a connection, in its configured order. (PFS groups apply to
/// CREATE_CHILD_SA; the first Child SA takes its keys from the IKE SA, RFC 7296 §1.2.)
pub fn esp_suites(c: &Connection) -> Vec<EspSuite> {
    c.esp_suites()
        .into_iter()
        .map(|s| EspSuite {
            encr: s.encr.alg,
            encr_key_bits: s.encr.key_bits,
            integ: s.integ,
            esn: s.esn,
            ke: s.ke,
        })
        .collect()
}

/// The endpoint's peer configuration for a connection, seen from `local` (our address on the
/// path to the peer, which is also our default identity).
pub fn peer_config(c: &Connection, local: IpAddr) -> PeerConfig {
    PeerConfig {
        local_id: identity(&c.local_identity(local)),
        remote_id: match &c.remote_id {
            RemoteId::Any => None,
            RemoteId::Is(id) => Some(identity(id)),
        },
        psk: c.psk.clone(),
        ike_suites: ike_suites(c),
        esp_suites: esp_suites(c),
        local_ts: c.negotiated_local_ts(),
        remote_ts: c.negotiated_remote_ts(),
        mode: Mode::Tunnel,
        initial_contact: true,
        // RFC 7296 §2.8: rekey at the configured lifetime; the SA is gone 10% later.
        child_lifetimes: Lifetimes { soft: c.child_lifetime, hard: c.child_lifetime + c.child_lifetime / 10 },
        ike_lifetimes: Lifetimes { soft: c.ike_lifetime, hard: c.ike_lifetime + c.ike_lifetime / 10 },
        dpd_interval: c.dpd_timeout,
    }
}

/// The connections a responder may match a peer against.
#[derive(Debug, Clone)]
pub struct ConfigPeers {
    /// (connection, our address for it) of every connection that answers.
    conns: Vec<(Connection, IpAddr)>,
}

impl ConfigPeers {
    /// The answering connections of a config; `local` is our first listen address.
    pub fn new(connections: &[Connection], local: IpAddr) -> Self {
        ConfigPeers {
            conns: connections.iter().filter(|c| c.responds()).map(|c| (c.clone(), local)).collect(),
        }
    }

    /// The connection a peer with `id` at `remote` belongs to.
    pub fn find(&self, id: Option<&Identity>, remote: SocketAddr) -> Option<&Connection> {
        self.conns
            .iter()
            .map(|(c, _)| c)
            .filter(|c| match c.remote_address {
                RemoteAddress::Any => true,
                RemoteAddress::Addr(a) => a.ip() == remote.ip(),
            })
            .find(|c| match (&c.remote_id, id) {
                (RemoteId::Any, _) | (_, None) => true,
                (RemoteId::Is(want), Some(got)) => identity(want) == *got,
            })
    }
}

impl PeerLookup for ConfigPeers {
    fn by_id(&self, id: &Identity, remote: SocketAddr) -> Option<PeerConfig> {
        let local = self.conns.first().map(|(_, l)| *l)?;
        self.find(Some(id), remote).map(|c| peer_config(c, local))
    }

    fn by_addr(&self, remote: SocketAddr) -> Option<PeerConfig> {
        let local = self.conns.first().map(|(_, l)| *l)?;
        self.find(None, remote).map(|c| peer_config(c, local))
    }
}
