//! From the config file to the IKE endpoint's vocabulary: peer configurations, suites,
//! identities, and the lookup a responder uses to find the connection a peer belongs to.

use std::net::{IpAddr, SocketAddr};

use vpn_ike::config::{ConnectionId, EspSuite, Lifetimes, Mode, PeerConfig, PeerLookup};
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

/// The endpoint's peer configuration for connection number `index` of the config, seen from
/// `local` (our address on the path to the peer, which is also our default identity).
pub fn peer_config(index: usize, c: &Connection, local: IpAddr) -> PeerConfig {
    PeerConfig {
        connection: ConnectionId(u32::try_from(index).unwrap_or(u32::MAX)),
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

/// The connections a responder may match a peer against, with their index in the config.
#[derive(Debug, Clone)]
pub struct ConfigPeers {
    conns: Vec<(usize, Connection)>,
}

impl ConfigPeers {
    /// The answering connections of a config.
    pub fn new(connections: &[Connection]) -> Self {
        ConfigPeers {
            conns: connections
                .iter()
                .enumerate()
                .filter(|(_, c)| c.responds())
                .map(|(i, c)| (i, c.clone()))
                .collect(),
        }
    }

    /// The connections a peer at `remote` reaching our `local` may be: its address and our
    /// listen address must fit.
    fn candidates(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> impl Iterator<Item = &(usize, Connection)> {
        self.conns.iter().filter(move |(_, c)| {
            let addr_ok = match c.remote_address {
                RemoteAddress::Any => true,
                RemoteAddress::Addr(a) => a.ip() == remote.ip(),
            };
            let local_ok = c.local_address.is_none_or(|l| l == local.ip() || local.ip().is_unspecified());
            addr_ok && local_ok
        })
    }

    /// The connection a peer with `id` at `remote` reaching `local` belongs to: one naming
    /// exactly that identity first (an exact id beats a wildcard, as in strongSwan), then one
    /// that accepts any.
    pub fn find(
        &self,
        id: Option<&Identity>,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<(usize, &Connection)> {
        let exact = self.candidates(local, remote).find(|(_, c)| match (&c.remote_id, id) {
            (RemoteId::Is(want), Some(got)) => identity(want) == *got,
            _ => false,
        });
        let any = || {
            self.candidates(local, remote).find(|(_, c)| matches!(c.remote_id, RemoteId::Any) || id.is_none())
        };
        exact.or_else(any).map(|(i, c)| (*i, c))
    }
}

impl PeerLookup for ConfigPeers {
    fn by_id(&self, id: &Identity, local: SocketAddr, remote: SocketAddr) -> Option<PeerConfig> {
        // Our identity defaults to the address the peer reached (its own family).
        self.find(Some(id), local, remote).map(|(i, c)| peer_config(i, c, local.ip()))
    }

    fn ike_suites(&self, local: SocketAddr, remote: SocketAddr) -> Option<Vec<IkeSuite>> {
        let mut v: Vec<IkeSuite> = Vec::new();
        for s in self.candidates(local, remote).flat_map(|(_, c)| ike_suites(c)) {
            if !v.contains(&s) {
                v.push(s);
            }
        }
        // No candidate at all: nothing is acceptable (NO_PROPOSAL_CHOSEN), not the defaults.
        Some(v)
    }
}
