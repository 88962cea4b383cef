//! The status report from the live state, so it cannot drift from it: the endpoint's IKE SAs
//! (the one source of truth for IKE state and timers), the binding's Child SAs (ESP counters),
//! and, for the gateway, the supervisor's view of each connection.

use std::collections::BTreeMap;

use rand_core::CryptoRngCore;
use vpn_core::time::Instant;
use vpn_ike::event::IkeSaHandle;
use vpn_ike::info::{ChildSaState as IkeChildState, IkeSaState as IkeState};
use vpn_transport::driver::Driver;

use crate::status::{
    encr_name, identity_text, integ_name, ke_name, prf_name, ChildSaState, ChildSaStatus, IkeSaState,
    IkeSaStatus, IpsecMode,
};

/// What the host knows about its IKE SAs that the endpoint does not: names and display ids.
pub struct Labels<'a> {
    /// The connection name of an IKE SA.
    pub name: &'a dyn Fn(IkeSaHandle) -> Option<String>,
    /// Unique display ids (`#1`): IKE SAs by handle, Child SAs by `spi_in | 1 << 63`.
    pub ids: &'a BTreeMap<u64, u32>,
    /// When each IKE SA was established, in Unix seconds.
    pub established: &'a BTreeMap<IkeSaHandle, u64>,
}

/// Seconds from `now` until `t` (0 when passed).
fn secs_until(now: Instant, t: Instant) -> u64 {
    if t > now {
        (t - now).as_secs()
    } else {
        0
    }
}

/// Every IKE SA of the driver's endpoint with its Child SAs and their counters.
pub fn ike_sas<R: CryptoRngCore>(driver: &Driver<R>, labels: &Labels<'_>) -> Vec<IkeSaStatus> {
    let now = driver.now();
    let ep = driver.endpoint();
    let binding = driver.binding();
    ep.handles()
        .filter_map(|h| ep.ike_sa_info(h))
        .map(|info| {
            let name = (labels.name)(info.handle).unwrap_or_else(|| "?".into());
            let state = match info.state {
                IkeState::Connecting => IkeSaState::Connecting,
                IkeState::Established => IkeSaState::Established,
                IkeState::Rekeying => IkeSaState::Rekeying,
                IkeState::Rekeyed => IkeSaState::Rekeyed,
                _ => IkeSaState::Deleting,
            };
            let live = matches!(info.state, IkeState::Established | IkeState::Rekeying);
            let children = info
                .children
                .iter()
                .filter_map(|c| {
                    let b = binding.child(c.spi_in)?;
                    let ((bytes_in, packets_in), (bytes_out, packets_out)) = binding.counters(c.spi_in);
                    Some(ChildSaStatus {
                        name: name.clone(),
                        unique_id: labels.ids.get(&(u64::from(c.spi_in) | 1 << 63)).copied().unwrap_or(0),
                        state: match c.state {
                            IkeChildState::Installed => ChildSaState::Installed,
                            IkeChildState::Rekeying => ChildSaState::Rekeying,
                            IkeChildState::Rekeyed => ChildSaState::Rekeyed,
                            _ => ChildSaState::Deleting,
                        },
                        mode: match b.mode {
                            vpn_core::ipsec::Mode::Tunnel => IpsecMode::Tunnel,
                            vpn_core::ipsec::Mode::Transport => IpsecMode::Transport,
                        },
                        encr: encr_name(b.encr, b.encr_key_bits),
                        integ: (!b.encr.is_aead()).then(|| integ_name(b.integ)),
                        spi_in: c.spi_in,
                        spi_out: c.spi_out,
                        local_ts: b.local_ts.iter().map(ToString::to_string).collect(),
                        remote_ts: b.remote_ts.iter().map(ToString::to_string).collect(),
                        bytes_in,
                        bytes_out,
                        packets_in,
                        packets_out,
                        rekey_in: (c.state == IkeChildState::Installed).then(|| secs_until(now, c.rekey_at)),
                        expires_in: Some(secs_until(now, c.expire_at)),
                    })
                })
                .collect();
            let suite = info.suite;
            IkeSaStatus {
                name,
                unique_id: labels.ids.get(&info.handle.0).copied().unwrap_or(0),
                state,
                initiator: info.initiator,
                local_addr: info.local,
                remote_addr: info.remote,
                local_id: info.local_id.as_ref().map(identity_text).unwrap_or_default(),
                remote_id: info.remote_id.as_ref().map(identity_text).unwrap_or_default(),
                spi_i: info.spi_i,
                spi_r: info.spi_r,
                encr: suite.map_or_else(String::new, |s| encr_name(s.encr, s.encr_key_bits)),
                integ: suite.filter(|s| !s.encr.is_aead()).map(|s| integ_name(s.integ)),
                prf: suite.map_or_else(String::new, |s| prf_name(s.prf)),
                ke: suite.map_or_else(String::new, |s| ke_name(s.ke)),
                established_at: labels.established.get(&info.handle).copied(),
                rekey_in: info.rekey_at.filter(|_| live).map(|t| secs_until(now, t)),
                expires_in: info.expire_at.filter(|_| live).map(|t| secs_until(now, t)),
                children,
            }
        })
        .collect()
}
