//! The running gateway's status report: each configured connection as the supervisor and its
//! SAs say it is, and every IKE and Child SA from the endpoint and the binding
//! ([`crate::report`]).

use std::collections::HashMap;
use std::time::Instant;

use vpn_ike::event::IkeSaHandle;

use super::{supervisor, Gateway};

impl Gateway {
    /// The status report: every connection with its state, and every IKE and Child SA.
    pub fn status(&self) -> crate::status::StatusReport {
        use crate::status::{ConnectionState, ConnectionStatus, IkeSaState, StatusReport, SCHEMA_VERSION};
        use supervisor::ConnState;
        let name = |h: IkeSaHandle| self.connection_of(h).map(|c| c.name.clone());
        let labels = crate::report::Labels { name: &name, ids: &self.ids, established: &self.established };
        let ike_sas = crate::report::ike_sas(&self.driver, &labels);
        let now = Instant::now();
        // Each IKE SA's entry carries its connection's name (names are unique): group once.
        let mut by_name: HashMap<&str, Vec<&crate::status::IkeSaStatus>> = HashMap::new();
        for s in &ike_sas {
            by_name.entry(s.name.as_str()).or_default().push(s);
        }
        let connections = self
            .config
            .connections
            .iter()
            .map(|c| {
                let st = self.supervisor.status(&c.name);
                let mine = by_name.get(c.name.as_str()).map_or(&[][..], Vec::as_slice);
                let rekeying = mine.iter().any(|s| {
                    s.state == IkeSaState::Rekeying
                        || s.children.iter().any(|ch| ch.state == crate::status::ChildSaState::Rekeying)
                });
                let deleting = !mine.is_empty() && mine.iter().all(|s| s.state == IkeSaState::Deleting);
                let state = match st.as_ref().map(|s| s.state) {
                    _ if deleting => ConnectionState::Deleting,
                    Some(ConnState::Established) if rekeying => ConnectionState::Rekeying,
                    Some(ConnState::Established) => ConnectionState::Established,
                    Some(ConnState::Connecting) => ConnectionState::Connecting,
                    Some(ConnState::Scheduled) => ConnectionState::Scheduled,
                    Some(ConnState::Down) => ConnectionState::Down,
                    Some(ConnState::Waiting) | None => ConnectionState::Waiting,
                };
                let iface = c.interface.clone().unwrap_or_else(|| self.config.gateway.tun.clone());
                ConnectionStatus {
                    name: c.name.clone(),
                    kind: c.kind.to_string(),
                    routing: c.routing.to_string(),
                    interface: iface,
                    mode: c.mode.to_string(),
                    state,
                    attempt: st.as_ref().map_or(0, |s| s.attempt),
                    next_retry_in: st
                        .as_ref()
                        .and_then(|s| s.next_retry)
                        .map(|t| t.saturating_duration_since(now).as_secs()),
                    last_error: st.as_ref().and_then(|s| s.last_error.clone()),
                    established_for: st
                        .as_ref()
                        .and_then(|s| s.established_since)
                        .map(|t| now.saturating_duration_since(t).as_secs()),
                    ike_sas: mine.len(),
                    child_sas: mine.iter().map(|s| s.children.len()).sum(),
                }
            })
            .collect();
        StatusReport {
            version: SCHEMA_VERSION,
            gateway: self.config.gateway.name.clone(),
            connections,
            ike_sas,
        }
    }
}
