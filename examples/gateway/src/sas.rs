//! The gateway's view of its SAs, built from the driver's events and the ESP counters, rendered
//! as a [`StatusReport`] (like `swanctl --list-sas`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use vpn_ike::config::Mode;
use vpn_ike::event::{ChildSaInfo, Event, IkeSaHandle};
use vpn_ike::keys::IkeSuite;
use vpn_ike::message::Identity;
use vpn_transport::driver::DriverEvent;
use vpn_transport::EspTunnel;

use crate::status::{
    encr_name, integ_name, ke_name, prf_name, ChildSaState, ChildSaStatus, IkeSaState, IkeSaStatus,
    IpsecMode, StatusReport,
};

/// `Identity` as strongSwan prints it: an address, a name, `user@domain`, or hex.
pub fn identity_text(id: &Identity) -> String {
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

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[derive(Debug, Clone)]
struct Child {
    unique_id: u32,
    spi_in: u32,
    spi_out: u32,
    encr: String,
    integ: Option<String>,
    mode: IpsecMode,
    local_ts: Vec<String>,
    remote_ts: Vec<String>,
}

#[derive(Debug, Clone)]
struct Ike {
    name: String,
    unique_id: u32,
    initiator: bool,
    local_addr: SocketAddr,
    remote_addr: SocketAddr,
    local_id: String,
    remote_id: String,
    spis: (u64, u64),
    suite: Option<IkeSuite>,
    established_at: Option<u64>,
    children: Vec<Child>,
}

/// The SAs of one gateway.
#[derive(Debug, Default)]
pub struct SaTable {
    ike: BTreeMap<IkeSaHandle, Ike>,
    next_id: u32,
}

impl SaTable {
    /// An empty table.
    pub fn new() -> Self {
        SaTable::default()
    }

    fn entry(&mut self, handle: IkeSaHandle) -> &mut Ike {
        let next = &mut self.next_id;
        self.ike.entry(handle).or_insert_with(|| {
            *next += 1;
            Ike {
                name: String::from("?"),
                unique_id: *next,
                initiator: false,
                local_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                remote_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                local_id: String::new(),
                remote_id: String::new(),
                spis: (0, 0),
                suite: None,
                established_at: None,
                children: Vec::new(),
            }
        })
    }

    /// Set the SPIs of an IKE SA (after a rekey). A handle is our SPI, so it tells our role:
    /// whoever started the rekey is the new SA's initiator (RFC 7296 §2.18).
    pub fn set_spis(&mut self, handle: IkeSaHandle, spis: (u64, u64)) {
        if let Some(e) = self.ike.get_mut(&handle) {
            e.spis = spis;
            e.initiator = spis.0 == handle.0;
        }
    }

    /// Name the connection an IKE SA belongs to, with our identity and the SA's SPIs
    /// (initiator's, responder's).
    pub fn describe(&mut self, handle: IkeSaHandle, name: &str, local_id: &Identity, spis: (u64, u64)) {
        let e = self.entry(handle);
        e.name = name.to_string();
        e.local_id = identity_text(local_id);
        e.spis = spis;
    }

    /// The connection name of an IKE SA.
    pub fn name(&self, handle: IkeSaHandle) -> Option<&str> {
        self.ike.get(&handle).map(|e| e.name.as_str())
    }

    /// Every IKE SA in the table.
    pub fn handles(&self) -> Vec<IkeSaHandle> {
        self.ike.keys().copied().collect()
    }

    /// The IKE SAs of connection `name`.
    pub fn handles_of(&self, name: &str) -> Vec<IkeSaHandle> {
        self.ike.iter().filter(|(_, e)| e.name == name).map(|(h, _)| *h).collect()
    }

    /// Take one driver event into account.
    pub fn on_event(&mut self, ev: &DriverEvent) {
        match ev {
            DriverEvent::Ike(Event::IkeSaUp { handle, initiator, remote_id, remote_addr, suite, .. }) => {
                let e = self.entry(*handle);
                e.initiator = *initiator;
                e.remote_id = identity_text(remote_id);
                e.remote_addr = *remote_addr;
                e.suite = Some(*suite);
                e.established_at = Some(unix_now());
            }
            DriverEvent::ChildSaInstalled(info) => self.child_up(info),
            DriverEvent::Ike(Event::IkeSaDown { handle, .. }) => {
                self.ike.remove(handle);
            }
            DriverEvent::Ike(Event::ChildSaDown { handle, spi_in, .. }) => {
                if let Some(e) = self.ike.get_mut(handle) {
                    e.children.retain(|c| c.spi_in != *spi_in);
                }
            }
            DriverEvent::Ike(Event::IkeSaRekeyed { old, new }) => {
                // RFC 7296 §2.18: the Child SAs move to the new IKE SA, which keeps the name.
                if let Some(mut e) = self.ike.remove(old) {
                    e.established_at = Some(unix_now());
                    let fresh = self.ike.remove(new);
                    if let Some(f) = fresh {
                        e.spis = f.spis;
                        e.children.extend(f.children);
                    }
                    self.ike.insert(*new, e);
                }
            }
            _ => {}
        }
    }

    fn child_up(&mut self, info: &ChildSaInfo) {
        self.next_id += 1;
        let unique_id = self.next_id;
        let e = self.entry(info.handle);
        e.local_addr = info.local_addr;
        e.children.push(Child {
            unique_id,
            spi_in: info.spi_in,
            spi_out: info.spi_out,
            encr: encr_name(info.encr, info.encr_key_bits),
            integ: (!info.encr.is_aead()).then(|| integ_name(info.integ)),
            mode: match info.mode {
                Mode::Tunnel => IpsecMode::Tunnel,
                Mode::Transport => IpsecMode::Transport,
            },
            local_ts: info.local_ts.iter().map(ToString::to_string).collect(),
            remote_ts: info.remote_ts.iter().map(ToString::to_string).collect(),
        });
    }

    /// The report, with traffic counters from the ESP SAs.
    pub fn report(&self, gateway: &str, esp: &EspTunnel) -> StatusReport {
        let ike_sas = self
            .ike
            .values()
            .map(|e| IkeSaStatus {
                name: e.name.clone(),
                unique_id: e.unique_id,
                state: if e.established_at.is_some() {
                    IkeSaState::Established
                } else {
                    IkeSaState::Connecting
                },
                initiator: e.initiator,
                local_addr: e.local_addr,
                remote_addr: e.remote_addr,
                local_id: e.local_id.clone(),
                remote_id: e.remote_id.clone(),
                spi_i: e.spis.0,
                spi_r: e.spis.1,
                encr: e.suite.map_or_else(String::new, |s| encr_name(s.encr, s.encr_key_bits)),
                integ: e.suite.filter(|s| !s.encr.is_aead()).map(|s| integ_name(s.integ)),
                prf: e.suite.map_or_else(String::new, |s| prf_name(s.prf)),
                ke: e.suite.map_or_else(String::new, |s| ke_name(s.ke)),
                established_at: e.established_at,
                rekey_in: None,
                children: e
                    .children
                    .iter()
                    .map(|c| {
                        let (bytes_in, packets_in) =
                            esp.sad().inbound(c.spi_in).map_or((0, 0), |s| s.counters());
                        let (bytes_out, packets_out) =
                            esp.sad().outbound(c.spi_out).map_or((0, 0), |s| s.counters());
                        ChildSaStatus {
                            name: e.name.clone(),
                            unique_id: c.unique_id,
                            state: ChildSaState::Installed,
                            mode: c.mode,
                            encr: c.encr.clone(),
                            integ: c.integ.clone(),
                            spi_in: c.spi_in,
                            spi_out: c.spi_out,
                            local_ts: c.local_ts.clone(),
                            remote_ts: c.remote_ts.clone(),
                            bytes_in,
                            bytes_out,
                            packets_in,
                            packets_out,
                            rekey_in: None,
                        }
                    })
                    .collect(),
            })
            .collect();
        StatusReport { gateway: gateway.to_string(), ike_sas }
    }
}
