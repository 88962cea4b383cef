//! Routes into the TUN device for each connection's remote selectors, with the source address
//! taken from the first TUN address inside the local selectors; removed on exit.

use std::net::IpAddr;

use vpn_transport::tun::Tun;

use crate::config::{Connection, IpCidr};

/// The routes this gateway added.
#[derive(Debug, Default)]
pub struct Routes {
    added: Vec<(IpAddr, u8)>,
}

impl Routes {
    /// Route `c`'s remote selectors into `tun`.
    pub fn install(&mut self, tun: &Tun, c: &Connection, tun_addresses: &[IpCidr]) -> std::io::Result<()> {
        for ts in &c.remote_selectors {
            let Some(prefix) = ts.prefix_len() else {
                tracing::warn!(connection = %c.name, selector = %ts, "not a prefix: no route added");
                continue;
            };
            let dest = ts.start_addr();
            let src = tun_addresses.iter().map(|a| a.addr).find(|a| {
                a.is_ipv4() == dest.is_ipv4() && c.local_selectors.iter().any(|l| l.contains_addr(*a))
            });
            tun.add_route(dest, prefix, src)?;
            tracing::info!(connection = %c.name, route = %ts, ?src, "route added");
            self.added.push((dest, prefix));
        }
        Ok(())
    }

    /// Remove every route added.
    pub fn remove_all(&mut self, tun: &Tun) {
        for (dest, prefix) in self.added.drain(..) {
            if let Err(e) = tun.remove_route(dest, prefix) {
                tracing::warn!(%dest, prefix, error = %e, "route not removed");
            }
        }
    }
}
