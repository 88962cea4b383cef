//! `vpn-gateway run`: the gateway in the foreground. It binds the IKE/ESP sockets, opens the
//! gateway's TUN device (shared by the policy-based connections) and one TUN device per
//! route-based connection, routes each connection's remote selectors into its device, keeps
//! the always-on connections up (the [`supervisor`]), and pumps the driver until SIGINT or
//! SIGTERM; the control socket is served on its own thread. On the way out it deletes its IKE
//! SAs (telling the peers) and removes its routes.

pub mod control;
pub mod peers;
mod routes;
mod status;
pub mod supervisor;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};
use vpn_ike::config::{ConnectionId, EndpointConfig, PortKind};
use vpn_ike::endpoint::Endpoint;
use vpn_ike::event::{ChildDownReason, ChildSaInfo, DownReason, Event, IkeSaHandle};
use vpn_transport::binding::{BindingEvent, InterfaceId, Removal};
use vpn_transport::driver::{Driver, DriverConfig, DriverEvent};
use vpn_transport::tun::Tun;
use vpn_transport::udp::{UdpConfig, UdpEndpoint};

use crate::config::{Config, Connection, RemoteAddress, Routing};
use crate::keylog::{self, KeylogWriter};
use control::{ControlServer, Request, Response};
use peers::ConfigPeers;
use supervisor::{Restart, Supervisor};

/// The outer path MTU the TUN devices' MTU is derived from.
pub const PATH_MTU: u32 = 1500;

/// MTU of the TUN devices: the path MTU less the outer headers (IPv4 20 or IPv6 40, UDP 8, RFC
/// 3948) and the worst ESP overhead among the configured ESP proposals
/// ([`vpn_esp::max_overhead`]).
pub fn tun_mtu(config: &Config) -> u32 {
    let ip = if config.gateway.listen.iter().all(|l| l.addr.is_ipv4()) { 20 } else { 40 };
    let esp = config
        .connections
        .iter()
        .flat_map(|c| c.esp_suites())
        .filter_map(|s| vpn_esp::max_overhead(s.encr.alg, s.integ))
        .max()
        .unwrap_or(8 + 16 + 15 + 2 + 32);
    PATH_MTU.saturating_sub(ip + 8 + u32::try_from(esp).unwrap_or(u32::MAX))
}
/// Packets the kernel may queue on a TUN device for us (its default, 500, drops under a
/// fast TCP sender and makes TCP back off).
pub const TUN_QUEUE: u32 = 5000;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A socket, a TUN device, a route or the control socket could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being set up.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The config has no listen address.
    #[error("no listen address")]
    NoListen,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let what = what.into();
    move |source| StartError::Io { what, source }
}

/// Opens a TUN device with the gateway's MTU and queue, its addresses, and brings it up.
fn open_tun(name: &str, mtu: u32, addresses: &[crate::config::IpCidr]) -> Result<Tun, StartError> {
    let tun = Tun::open(name).map_err(io(format!("opening TUN device {name}")))?;
    tun.set_mtu(mtu).map_err(io(format!("setting the MTU of {name}")))?;
    tun.set_txqueuelen(TUN_QUEUE).map_err(io(format!("setting the queue length of {name}")))?;
    for a in addresses {
        tun.add_address(a.addr, a.prefix_len)
            .map_err(io(format!("adding address {}/{} to {name}", a.addr, a.prefix_len)))?;
    }
    tun.set_up().map_err(io(format!("bringing {name} up")))?;
    Ok(tun)
}

/// A running gateway.
pub struct Gateway {
    config: Config,
    driver: Driver<OsRng>,
    /// The inner interfaces: `tuns[0]` is gateway.tun, shared by the policy-based connections;
    /// each route-based connection has its own after it.
    tuns: Vec<Tun>,
    routes: routes::Routes,
    supervisor: Supervisor,
    keylog: Option<KeylogWriter>,
    control: Option<ControlServer>,
    /// The connection (index into the config) of each IKE SA we know one for.
    owner: BTreeMap<IkeSaHandle, usize>,
    /// When each IKE SA was established (Unix seconds), for status.
    established: BTreeMap<IkeSaHandle, u64>,
    /// Unique ids for status (`#1`), per IKE SA and per Child SA.
    ids: BTreeMap<u64, u32>,
    next_id: u32,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Gateway {
    /// Set everything up; the supervisor starts the initiating connections.
    pub fn start(config: Config, keylog_dir: Option<&Path>) -> Result<Gateway, StartError> {
        let first = config.gateway.listen.first().ok_or(StartError::NoListen)?;
        let local = first.addr;
        let mut udp_config = UdpConfig::new(config.gateway.listen.iter().map(|l| l.addr));
        // One port for everything: IKE behind the non-ESP marker, as on 4500 (RFC 3948 §2.2).
        let single_port = first.port.is_some();
        if let Some(p) = first.port {
            udp_config.ike_port = p;
            udp_config.nat_t_port = p;
        }
        let udp = UdpEndpoint::bind(&udp_config).map_err(io("binding the IKE/ESP sockets"))?;
        let peers = ConfigPeers::new(&config.connections);
        let endpoint_config = EndpointConfig {
            local_addr: SocketAddr::new(local, first.ike_port()),
            local_port: if single_port { PortKind::NatT } else { PortKind::Ike },
            peers: Arc::new(peers),
            // Only UDP sockets here, no raw ESP: always encapsulate (RFC 3948).
            force_udp_encap: true,
            export_keys: keylog_dir.is_some(),
            retransmit: vpn_ike::RetransmitConfig {
                timeout: config.gateway.retransmit_timeout,
                tries: config.gateway.retransmit_tries,
                ..Default::default()
            },
            ..EndpointConfig::default()
        };
        let mut driver = Driver::new(Endpoint::new(endpoint_config, OsRng), udp, DriverConfig::default());
        let mtu = tun_mtu(&config);
        let mut tuns = vec![open_tun(&config.gateway.tun, mtu, &config.gateway.tun_addresses)?];
        let mut routes = routes::Routes::default();
        for (i, c) in config.connections.iter().enumerate() {
            let iface = match (&c.routing, &c.interface) {
                (Routing::RouteBased, Some(name)) => {
                    // Like an XFRM/VTI interface: the kernel's routing table picks the tunnel.
                    tuns.push(open_tun(name, mtu, &[])?);
                    tuns.len() - 1
                }
                _ => 0,
            };
            driver.binding_mut().bind_connection(
                ConnectionId(u32::try_from(i).unwrap_or(u32::MAX)),
                InterfaceId(u16::try_from(iface).unwrap_or(u16::MAX)),
            );
            routes
                .install(iface, &tuns[iface], c, &config.gateway.tun_addresses)
                .map_err(io(format!("routes of {}", c.name)))?;
        }
        let control = ControlServer::spawn(&config.gateway.control_socket)
            .map_err(io(format!("control socket {}", config.gateway.control_socket.display())))?;
        let keylog = match keylog_dir {
            Some(d) => {
                Some(KeylogWriter::create(d).map_err(io(format!("keylog directory {}", d.display())))?)
            }
            None => None,
        };
        let mut supervisor = Supervisor::new(OsRng.next_u64(), config.gateway.max_connecting);
        let now = Instant::now();
        for c in &config.connections {
            supervisor.add(&c.name, Restart::of(c), now);
        }
        tracing::info!(gateway = %config.gateway.name, tun = %tuns[0].name(), interfaces = tuns.len(), connections = config.connections.len(), "started");
        Ok(Gateway {
            config,
            driver,
            tuns,
            routes,
            supervisor,
            keylog,
            control: Some(control),
            owner: BTreeMap::new(),
            established: BTreeMap::new(),
            ids: BTreeMap::new(),
            next_id: 0,
        })
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.config.connections.iter().position(|c| c.name == name)
    }

    fn connection_of(&self, handle: IkeSaHandle) -> Option<&Connection> {
        self.owner.get(&handle).and_then(|i| self.config.connections.get(*i))
    }

    /// The IKE SAs of connection number `index`.
    fn handles_of(&self, index: usize) -> Vec<IkeSaHandle> {
        self.owner.iter().filter(|(_, i)| **i == index).map(|(h, _)| *h).collect()
    }

    /// Starts an IKE SA for connection `name` now (the supervisor decided it is due).
    fn start_connection(&mut self, name: &str) -> Result<IkeSaHandle, String> {
        let index = self.index_of(name).ok_or_else(|| format!("no connection {name:?}"))?;
        let c = &self.config.connections[index];
        let RemoteAddress::Addr(remote) = c.remote_address else {
            return Err(format!("{name}: the peer's address is %any; it must initiate"));
        };
        let (local, port) = self.source_for(c, remote);
        // Our default identity is the address we speak from.
        let mut peer = peers::peer_config(index, c, local.ip());
        // RFC 7296 §2.4: INITIAL_CONTACT only when we hold no other IKE SA of this connection.
        peer.initial_contact = self.handles_of(index).is_empty();
        let h = self.driver.connect_from(peer, local, remote, port).map_err(|e| format!("{name}: {e}"))?;
        tracing::info!(connection = %name, %local, peer = %remote, "initiating");
        self.owner.insert(h, index);
        Ok(h)
    }

    /// Our address for talking to `remote`: the connection's `local_address`, else the listen
    /// address the kernel's route to it goes out of (a connected UDP socket tells, nothing is
    /// sent), else the first one of its family; with the framing of that socket.
    fn source_for(&self, c: &Connection, remote: SocketAddr) -> (SocketAddr, PortKind) {
        let listen = &self.config.gateway.listen;
        let routed = || {
            let any: IpAddr = if remote.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            };
            std::net::UdpSocket::bind(SocketAddr::new(any, 0))
                .and_then(|s| s.connect(remote).and_then(|_| s.local_addr()))
                .ok()
                .map(|a| a.ip())
        };
        let want = c.local_address.or_else(routed);
        let pick = listen
            .iter()
            .find(|l| Some(l.addr) == want)
            .or_else(|| {
                listen.iter().find(|l| l.addr.is_unspecified() && l.addr.is_ipv4() == remote.is_ipv4())
            })
            .or_else(|| listen.iter().find(|l| l.addr.is_ipv4() == remote.is_ipv4()))
            .or(listen.first());
        let Some(l) = pick else { return (SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 500), PortKind::Ike) };
        // A wildcard listen address sends from the chosen address (IP_PKTINFO).
        let ip = if l.addr.is_unspecified() { want.unwrap_or(l.addr) } else { l.addr };
        let port = if l.port.is_some() { PortKind::NatT } else { PortKind::Ike };
        (SocketAddr::new(ip, l.ike_port()), port)
    }

    /// Operator: start connection `name` (also after `terminate`).
    pub fn initiate(&mut self, name: &str) -> Result<String, String> {
        if self.index_of(name).is_none() {
            return Err(format!("no connection {name:?}"));
        }
        self.supervisor.initiate(name, Instant::now());
        self.run_supervisor();
        Ok(format!("initiating {name}"))
    }

    /// Operator: close the IKE SAs of connection `name` and keep it down until `initiate`.
    pub fn terminate(&mut self, name: &str) -> Result<usize, String> {
        let index = self.index_of(name).ok_or_else(|| format!("no connection {name:?}"))?;
        self.supervisor.terminate(name);
        let handles = self.handles_of(index);
        for h in &handles {
            self.driver.close(*h);
        }
        Ok(handles.len())
    }

    /// Starts what the supervisor says is due.
    fn run_supervisor(&mut self) {
        let now = Instant::now();
        for name in self.supervisor.due(now) {
            match self.start_connection(&name) {
                Ok(h) => self.supervisor.initiating(&name, h, now),
                Err(e) => {
                    tracing::warn!(connection = %name, error = %e, "not started");
                    self.supervisor.failed_to_start(&name, e, now);
                }
            }
        }
    }

    /// Do the work that is ready, or wait up to `max_wait` for some.
    pub fn step(&mut self, max_wait: Duration) -> std::io::Result<()> {
        let work = self.driver.turn(&mut self.tuns)?;
        while let Some(ev) = self.driver.poll_event() {
            self.on_event(&ev);
        }
        if let Some(control) = self.control.take() {
            while let Some(p) = control.try_next() {
                let resp = self.carry_out(p.request.clone());
                p.respond(resp);
            }
            self.control = Some(control);
        }
        self.run_supervisor();
        if work == 0 {
            let limit = match self.supervisor.next_deadline() {
                Some(t) => max_wait.min(t.saturating_duration_since(Instant::now())),
                None => max_wait,
            };
            let extra: Vec<std::os::fd::BorrowedFd<'_>> = self.control.iter().map(|c| c.waker()).collect();
            self.driver.wait_with(&self.tuns, &extra, limit)?;
        }
        Ok(())
    }

    fn carry_out(&mut self, r: Request) -> Response {
        match r {
            Request::Status => {
                let mut resp = Response::done("");
                resp.status = Some(self.status());
                resp
            }
            Request::Initiate(n) => match self.initiate(&n) {
                Ok(m) => Response::done(m),
                Err(e) => Response::failed(e),
            },
            Request::Terminate(n) => match self.terminate(&n) {
                Ok(k) => Response::done(format!("closing {k} IKE SA(s) of {n}")),
                Err(e) => Response::failed(e),
            },
        }
    }

    fn unique_id(&mut self, key: u64) -> u32 {
        let next = &mut self.next_id;
        *self.ids.entry(key).or_insert_with(|| {
            *next += 1;
            *next
        })
    }

    fn on_event(&mut self, ev: &DriverEvent) {
        let now = Instant::now();
        match ev {
            DriverEvent::Ike(Event::IkeSaUp { handle, connection, remote_addr, suite, .. }) => {
                let index = usize::try_from(connection.0).unwrap_or(usize::MAX);
                let Some(c) = self.config.connections.get(index) else { return };
                let name = c.name.clone();
                self.owner.insert(*handle, index);
                self.established.insert(*handle, unix_now());
                self.unique_id(handle.0);
                let algs = format!(
                    "{}/{}/{}",
                    crate::status::encr_name(suite.encr, suite.encr_key_bits),
                    crate::status::prf_name(suite.prf),
                    crate::status::ke_name(suite.ke)
                );
                tracing::info!(connection = %name, peer = %remote_addr, %algs, "IKE SA established");
                self.log_ike_keys(*handle);
                self.supervisor.up(&name, *handle, now);
                // The connection is up: an initiation of ours still under way for it would only
                // make a duplicate, so drop it.
                let pending: Vec<IkeSaHandle> = self
                    .handles_of(index)
                    .into_iter()
                    .filter(|h| *h != *handle && !self.established.contains_key(h))
                    .collect();
                for h in pending {
                    tracing::info!(connection = %name, "dropping our own pending initiation: the SA is up");
                    self.driver.close(h);
                }
            }
            DriverEvent::Sa(BindingEvent::Installed(info)) => {
                self.unique_id(u64::from(info.spi_in) | 1 << 63);
                self.log_esp_keys(info);
            }
            DriverEvent::Ike(Event::IkeSaRekeyed { old, new }) => {
                if let Some(index) = self.owner.remove(old) {
                    self.owner.insert(*new, index);
                    if let Some(c) = self.config.connections.get(index) {
                        let name = c.name.clone();
                        self.supervisor.rekeyed(&name, *old, *new);
                    }
                }
                if let Some(id) = self.ids.remove(&old.0) {
                    self.ids.insert(new.0, id);
                }
                self.established.remove(old);
                self.established.insert(*new, unix_now());
                self.log_ike_keys(*new);
                tracing::info!(connection = ?self.connection_of(*new).map(|c| &c.name), "IKE SA rekeyed");
            }
            DriverEvent::Sa(BindingEvent::Removed { handle, spi_in, reason, .. }) => {
                self.ids.remove(&(u64::from(*spi_in) | 1 << 63));
                tracing::info!(spi_in = format_args!("{spi_in:08x}"), ?reason, "Child SA removed");
                // Always-on: a Child SA that went away for good (not replaced by a rekey) while
                // its IKE SA stays is created again.
                let lost = matches!(
                    reason,
                    Removal::Child(
                        ChildDownReason::DeletedByPeer | ChildDownReason::Expired | ChildDownReason::NotFound
                    )
                );
                let always = self.connection_of(*handle).is_some_and(|c| Restart::of(c) == Restart::Always);
                if lost && always && self.driver.binding().children_of(*handle).next().is_none() {
                    tracing::info!(connection = ?self.connection_of(*handle).map(|c| &c.name), "no Child SA left: creating one again");
                    self.driver.create_child(*handle);
                }
            }
            DriverEvent::Sa(BindingEvent::Refused { reason, .. }) => {
                tracing::warn!(%reason, "Child SA not installed")
            }
            DriverEvent::Sa(BindingEvent::PathChanged { handle, remote }) => {
                tracing::info!(connection = ?self.connection_of(*handle).map(|c| &c.name), %remote, "ESP follows the peer to a new address");
            }
            DriverEvent::Ike(Event::IkeSaDown { handle, reason }) => {
                self.established.remove(handle);
                self.ids.remove(&handle.0);
                let Some(index) = self.owner.remove(handle) else { return };
                let Some(c) = self.config.connections.get(index) else { return };
                let name = c.name.clone();
                tracing::info!(connection = %name, ?reason, "IKE SA down");
                self.supervisor.down(&name, *handle, &down_text(reason), now);
            }
            _ => {}
        }
    }

    fn log_ike_keys(&self, handle: IkeSaHandle) {
        let (Some(w), Some(k)) = (&self.keylog, self.driver.endpoint().ike_sa_keys(handle)) else { return };
        let line = keylog::IkeKeys {
            spi_i: k.spi_i,
            spi_r: k.spi_r,
            encr: k.suite.encr,
            encr_key_bits: k.suite.encr_key_bits,
            integ: k.suite.integ,
            sk_ei: k.sk_ei.expose(),
            sk_er: k.sk_er.expose(),
            sk_ai: k.sk_ai.expose(),
            sk_ar: k.sk_ar.expose(),
        };
        if let Err(e) = w.log_ike(&line) {
            tracing::warn!(error = %e, "IKE keys not logged");
        }
    }

    fn log_esp_keys(&self, info: &ChildSaInfo) {
        let Some(w) = &self.keylog else { return };
        let (l, r) = (info.local_addr.ip(), info.remote_addr.ip());
        for (src, dst, spi, keys) in
            [(r, l, info.spi_in, &info.keys_in), (l, r, info.spi_out, &info.keys_out)]
        {
            let k = keylog::EspKeys {
                src,
                dst,
                spi,
                encr: info.encr,
                encr_key_bits: info.encr_key_bits,
                integ: info.integ,
                encr_key: keys.encr.expose(),
                integ_key: keys.integ.expose(),
            };
            if let Err(e) = w.log_esp(&k) {
                tracing::warn!(error = %e, spi = format_args!("{spi:08x}"), "ESP keys not logged");
            }
        }
    }

    /// Delete every IKE SA (telling the peers, for up to `grace`), then remove the routes.
    pub fn shutdown(mut self, grace: Duration) {
        let names: Vec<String> = self.config.connections.iter().map(|c| c.name.clone()).collect();
        for n in &names {
            self.supervisor.terminate(n);
        }
        let handles: Vec<IkeSaHandle> = self.driver.endpoint().handles().collect();
        for h in handles {
            self.driver.close(h);
        }
        let until = Instant::now() + grace;
        while Instant::now() < until && self.driver.endpoint().sa_count() > 0 {
            if self.step(Duration::from_millis(20)).is_err() {
                break;
            }
        }
        for (i, t) in self.tuns.iter().enumerate() {
            self.routes.remove_all_of(i, t);
        }
        tracing::info!("stopped");
    }
}

/// A reason an IKE SA went down, as the status shows it.
fn down_text(r: &DownReason) -> String {
    match r {
        DownReason::Timeout => "peer did not answer (timeout)".into(),
        DownReason::DeletedByPeer => "deleted by the peer".into(),
        DownReason::Closed => "closed".into(),
        DownReason::Expired => "hard lifetime expired".into(),
        DownReason::Replaced => "replaced (INITIAL_CONTACT)".into(),
        DownReason::HalfOpenTimeout => "not authenticated in time".into(),
        other => match other.notify() {
            Some(n) => format!("{other:?}: {n:?}"),
            None => format!("{other:?}"),
        },
    }
}

/// `vpn-gateway run --config FILE [--keylog DIR]`.
pub fn run(config: Config, keylog_dir: Option<&Path>) -> std::process::ExitCode {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("vpn-gateway: cannot handle signal {sig}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let mut gw = match Gateway::start(config, keylog_dir) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("vpn-gateway: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = gw.step(Duration::from_millis(100)) {
            tracing::error!(error = %e, "I/O error");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    gw.shutdown(Duration::from_secs(2));
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, esp: &str) -> Config {
        let remote = if listen.contains(':') { "2001:db8::2" } else { "192.0.2.2" };
        let text = format!(
            "[gateway]\nname = \"gw\"\nlisten = [\"{listen}\"]\ntun = \"vpn0\"\n\n[[connection]]\nname = \"c\"\n\
             remote_address = \"{remote}\"\npsk = \"a long enough psk\"\nlocal_selectors = [\"10.1.0.0/24\"]\n\
             remote_selectors = [\"10.2.0.0/24\"]\nesp_proposals = [\"{esp}\"]\n"
        );
        crate::config::parse_str(&text, "gw.toml", std::path::Path::new(".")).unwrap()
    }

    #[test]
    fn tun_mtu_leaves_room_for_the_worst_esp_overhead() {
        // 1500 - IPv4 20 - UDP 8 - ESP 8 - (IV 8 + padding 3 + trailer 2 + ICV 16) = 1435.
        assert_eq!(tun_mtu(&config("192.0.2.1", "aes256gcm16")), 1435);
        // AES-CBC with HMAC-SHA2-512: IV 16, padding up to 15, ICV 32.
        assert_eq!(tun_mtu(&config("192.0.2.1", "aes256gcm16\", \"aes256-sha512")), 1399);
        // An IPv6 outer header is 20 bytes longer.
        assert_eq!(tun_mtu(&config("2001:db8::1", "aes256gcm16")), 1415);
    }
}
