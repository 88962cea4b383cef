//! Routes for each connection's remote selectors into its interface (gateway.tun for
//! policy-based connections, its own TUN device for route-based ones), with the source address
//! taken from the first gateway.tun address inside the local selectors (or of the family, when
//! a route-based connection names none); removed on exit.

use std::net::IpAddr;

use vpn_transport::tun::Tun;

use crate::config::{Connection, IpCidr};

/// The routes this gateway added: (interface index, destination, prefix length).
#[derive(Debug, Default)]
pub struct Routes {
    added: Vec<(usize, IpAddr, u8)>,
}

impl Routes {
    /// Route `c`'s remote selectors into `tun`.
    pub fn install(
        &mut self,
        iface: usize,
        tun: &Tun,
        c: &Connection,
        tun_addresses: &[IpCidr],
    ) -> std::io::Result<()> {
        for ts in &c.remote_selectors {
            let Some(prefix) = ts.prefix_len() else {
                tracing::warn!(connection = %c.name, selector = %ts, "not a prefix: no route added");
                continue;
            };
            let dest = ts.start_addr();
            let family = tun_addresses.iter().map(|a| a.addr).filter(|a| a.is_ipv4() == dest.is_ipv4());
            let inside = family.clone().find(|a| c.local_selectors.iter().any(|l| l.contains_addr(*a)));
            let src = if c.local_selectors.is_empty() { family.clone().next() } else { inside };
            tun.add_route(dest, prefix, src)?;
            tracing::info!(connection = %c.name, route = %ts, dev = %tun.name(), ?src, "route added");
            self.added.push((iface, dest, prefix));
        }
        Ok(())
    }

    /// Remove every route added into interface `iface` (`tun`).
    pub fn remove_all_of(&mut self, iface: usize, tun: &Tun) {
        self.added.retain(|(i, dest, prefix)| {
            if *i != iface {
                return true;
            }
            if let Err(e) = tun.remove_route(*dest, *prefix) {
                tracing::warn!(%dest, prefix, error = %e, "route not removed");
            }
            false
        });
    }
}
