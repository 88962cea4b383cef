//! `vpn-gateway run`: the gateway in the foreground. It binds the IKE/ESP sockets, opens the TUN
//! device with its addresses and routes, starts the connections that initiate, and pumps the
//! driver until SIGINT or SIGTERM, serving the control socket as it goes. On the way out it
//! deletes its IKE SAs (telling the peers) and removes its routes.

pub mod control;
pub mod peers;
mod routes;
pub mod supervisor;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::OsRng;
use vpn_ike::config::EndpointConfig;
use vpn_ike::endpoint::Endpoint;
use vpn_ike::event::{ChildSaInfo, DownReason, Event, IkeSaHandle};
use vpn_transport::driver::{Driver, DriverConfig, DriverEvent};
use vpn_transport::tun::Tun;
use vpn_transport::udp::{UdpConfig, UdpEndpoint};

use crate::config::{Config, Connection, RemoteAddress};
use crate::keylog::{self, KeylogWriter};
use crate::sas::SaTable;
use control::{ControlServer, Request, Response};
use peers::ConfigPeers;

/// The outer path MTU the TUN device's MTU is derived from.
pub const PATH_MTU: u32 = 1500;

/// MTU of the TUN device: the path MTU less the ESP-in-UDP overhead of the worst case among the
/// configured ESP proposals and listen address families (RFC 4303 §2: SPI and sequence 8, the IV,
/// padding up to the block, pad length and next header 2, the ICV; RFC 3948: UDP 8).
pub fn tun_mtu(config: &Config) -> u32 {
    let ip = if config.gateway.listen.iter().all(|l| l.addr.is_ipv4()) { 20 } else { 40 };
    let esp = config
        .connections
        .iter()
        .flat_map(|c| c.esp_suites())
        .map(|s| {
            let (iv, align, icv) =
                if s.encr.alg.is_aead() { (8, 4, 16) } else { (16, 16, s.integ.icv_len().unwrap_or(32)) };
            iv + (align - 1) + 2 + icv as u32
        })
        .max()
        .unwrap_or(16 + 15 + 2 + 32);
    PATH_MTU - ip - 8 - 8 - esp
}
/// Packets the kernel may queue on the TUN device for us (its default, 500, drops under a
/// fast TCP sender and makes TCP back off).
pub const TUN_QUEUE: u32 = 5000;
/// How long to wait before initiating a connection again after its IKE SA failed.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A socket, the TUN device, a route or the control socket could not be set up.
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

/// A running gateway.
pub struct Gateway {
    config: Config,
    driver: Driver<OsRng>,
    tun: Tun,
    routes: routes::Routes,
    table: SaTable,
    peers: ConfigPeers,
    keylog: Option<KeylogWriter>,
    control: Option<ControlServer>,
    local: IpAddr,
    /// Connections we started, by the IKE SA's handle.
    initiated: BTreeMap<IkeSaHandle, String>,
    /// Connections to start again, and when.
    retry: BTreeMap<String, Instant>,
    /// IKE SAs closed on request: not to be started again.
    closing: Vec<IkeSaHandle>,
}

impl Gateway {
    /// Set everything up and start the initiating connections.
    pub fn start(config: Config, keylog_dir: Option<&Path>) -> Result<Gateway, StartError> {
        let first = config.gateway.listen.first().ok_or(StartError::NoListen)?;
        let local = first.addr;
        let mut udp_config = UdpConfig::new(config.gateway.listen.iter().map(|l| l.addr));
        if let Some(p) = first.port {
            udp_config.ike_port = p;
            udp_config.nat_t_port = p;
        }
        let udp = UdpEndpoint::bind(&udp_config).map_err(io("binding the IKE/ESP sockets"))?;
        let peers = ConfigPeers::new(&config.connections, local);
        let endpoint_config = EndpointConfig {
            local_addr: SocketAddr::new(local, first.ike_port()),
            peers: Arc::new(peers.clone()),
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
        let driver = Driver::new(Endpoint::new(endpoint_config, OsRng), udp, DriverConfig::default());
        let tun = Tun::open(&config.gateway.tun)
            .map_err(io(format!("opening TUN device {}", config.gateway.tun)))?;
        tun.set_mtu(tun_mtu(&config)).map_err(io("setting the TUN MTU"))?;
        tun.set_txqueuelen(TUN_QUEUE).map_err(io("setting the TUN queue length"))?;
        for a in &config.gateway.tun_addresses {
            tun.add_address(a.addr, a.prefix_len)
                .map_err(io(format!("adding address {}/{}", a.addr, a.prefix_len)))?;
        }
        tun.set_up().map_err(io("bringing the TUN device up"))?;
        let mut routes = routes::Routes::default();
        for c in &config.connections {
            routes
                .install(&tun, c, &config.gateway.tun_addresses)
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
        tracing::info!(gateway = %config.gateway.name, tun = %tun.name(), connections = config.connections.len(), "started");
        let mut gw = Gateway {
            config,
            driver,
            tun,
            routes,
            table: SaTable::new(),
            peers,
            keylog,
            control: Some(control),
            local,
            initiated: BTreeMap::new(),
            retry: BTreeMap::new(),
            closing: Vec::new(),
        };
        let starting: Vec<String> =
            gw.config.connections.iter().filter(|c| c.initiates()).map(|c| c.name.clone()).collect();
        for name in starting {
            if let Err(e) = gw.initiate(&name) {
                tracing::warn!(connection = %name, error = %e, "not started");
            }
        }
        Ok(gw)
    }

    fn connection(&self, name: &str) -> Option<&Connection> {
        self.config.connections.iter().find(|c| c.name == name)
    }

    /// Start connection `name` now.
    pub fn initiate(&mut self, name: &str) -> Result<IkeSaHandle, String> {
        let c = self.connection(name).ok_or_else(|| format!("no connection {name:?}"))?;
        let RemoteAddress::Addr(remote) = c.remote_address else {
            return Err(format!("{name}: the peer's address is %any; it must initiate"));
        };
        let local = self.source_for(remote);
        // Our default identity is the address we speak from.
        let mut peer = peers::peer_config(c, local.ip());
        // RFC 7296 §2.4: INITIAL_CONTACT only when we hold no other IKE SA with this peer.
        peer.initial_contact = self.table.handles_of(name).is_empty();
        let h = self.driver.connect_from(peer, local, remote).map_err(|e| format!("{name}: {e:?}"))?;
        tracing::info!(connection = %name, %local, peer = %remote, "initiating");
        self.initiated.insert(h, name.to_string());
        self.retry.remove(name);
        Ok(h)
    }

    /// Our address for talking to `remote`: the listen address the kernel's route to it goes
    /// out of (a connected UDP socket tells, nothing is sent), else the first one of its family.
    fn source_for(&self, remote: SocketAddr) -> SocketAddr {
        let listen = &self.config.gateway.listen;
        let routed = std::net::UdpSocket::bind(SocketAddr::new(
            if remote.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            },
            0,
        ))
        .and_then(|s| s.connect(remote).and_then(|_| s.local_addr()))
        .ok()
        .map(|a| a.ip());
        let pick = listen
            .iter()
            .find(|l| Some(l.addr) == routed)
            .or_else(|| listen.iter().find(|l| l.addr.is_ipv4() == remote.is_ipv4()))
            .or(listen.first());
        pick.map_or(SocketAddr::new(self.local, 500), |l| SocketAddr::new(l.addr, l.ike_port()))
    }

    /// Close the IKE SAs of connection `name`.
    pub fn terminate(&mut self, name: &str) -> Result<usize, String> {
        if self.connection(name).is_none() {
            return Err(format!("no connection {name:?}"));
        }
        let handles = self.table.handles_of(name);
        for h in &handles {
            self.closing.push(*h);
            self.driver.close(*h);
        }
        self.retry.remove(name);
        Ok(handles.len())
    }

    /// The SA table.
    pub fn status(&self) -> crate::status::StatusReport {
        self.table.report(&self.config.gateway.name, self.driver.esp())
    }

    /// Do the work that is ready, or wait up to `max_wait` for some.
    pub fn step(&mut self, max_wait: Duration) -> std::io::Result<()> {
        let work = self.driver.turn(&mut self.tun)?;
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
        let now = Instant::now();
        let due: Vec<String> =
            self.retry.iter().filter(|(_, t)| **t <= now).map(|(n, _)| n.clone()).collect();
        for name in due {
            if let Err(e) = self.initiate(&name) {
                tracing::warn!(connection = %name, error = %e, "retry failed");
                self.retry.insert(name, now + RETRY_AFTER);
            }
        }
        if work == 0 {
            let control = self.control.as_ref().map(ControlServer::waker);
            self.driver.wait_with(&self.tun, control.as_slice(), max_wait)?;
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
                Ok(h) => Response::done(format!("initiating {n} (IKE SA {:016x})", h.0)),
                Err(e) => Response::failed(e),
            },
            Request::Terminate(n) => match self.terminate(&n) {
                Ok(k) => Response::done(format!("closing {k} IKE SA(s) of {n}")),
                Err(e) => Response::failed(e),
            },
        }
    }

    fn on_event(&mut self, ev: &DriverEvent) {
        // The table forgets an SA that goes down: ask its name first.
        let known = match ev {
            DriverEvent::Ike(Event::IkeSaDown { handle, .. }) => self.table.name(*handle).map(str::to_string),
            _ => None,
        };
        self.table.on_event(ev);
        match ev {
            DriverEvent::Ike(Event::IkeSaUp { handle, remote_id, remote_addr, suite, .. }) => {
                let name = match self.initiated.get(handle) {
                    Some(n) => n.clone(),
                    None => self
                        .peers
                        .find(Some(remote_id), *remote_addr)
                        .map_or_else(|| "?".to_string(), |c| c.name.clone()),
                };
                let local_id = self
                    .connection(&name)
                    .map(|c| peers::identity(&c.local_identity(self.local)))
                    .unwrap_or(vpn_ike::message::Identity::Ipv4(std::net::Ipv4Addr::UNSPECIFIED));
                let spis = self.driver.endpoint().ike_sa_spis(*handle).unwrap_or((handle.0, 0));
                self.table.describe(*handle, &name, &local_id, spis);
                let algs = format!(
                    "{}/{}/{}",
                    crate::status::encr_name(suite.encr, suite.encr_key_bits),
                    crate::status::prf_name(suite.prf),
                    crate::status::ke_name(suite.ke)
                );
                tracing::info!(connection = %name, peer = %remote_addr, %algs, "IKE SA established");
                self.log_ike_keys(*handle);
                // The connection is up: an initiation of ours still under way for it would only
                // make a duplicate (and its INITIAL_CONTACT would replace this SA), so drop it.
                let pending: Vec<IkeSaHandle> = self
                    .initiated
                    .iter()
                    .filter(|(h, n)| **h != *handle && **n == name && self.table.name(**h).is_none())
                    .map(|(h, _)| *h)
                    .collect();
                for h in pending {
                    tracing::info!(connection = %name, "dropping our own pending initiation: the SA is up");
                    self.closing.push(h);
                    self.driver.close(h);
                }
                self.retry.remove(&name);
            }
            DriverEvent::ChildSaInstalled(info) => self.log_esp_keys(info),
            DriverEvent::Ike(Event::IkeSaRekeyed { old, new }) => {
                if let Some(name) = self.initiated.remove(old) {
                    self.initiated.insert(*new, name);
                }
                if let Some(spis) = self.driver.endpoint().ike_sa_spis(*new) {
                    self.table.set_spis(*new, spis);
                }
                self.log_ike_keys(*new);
                tracing::info!(connection = ?self.table.name(*new), "IKE SA rekeyed");
            }
            DriverEvent::Ike(Event::ChildSaDown { spi_in, reason, .. }) => {
                tracing::info!(spi_in = format_args!("{spi_in:08x}"), ?reason, "Child SA removed");
            }
            DriverEvent::ChildSaRefused { reason, .. } => tracing::warn!(%reason, "Child SA not installed"),
            DriverEvent::Ike(Event::IkeSaDown { handle, reason }) => {
                let initiated = self.initiated.remove(handle);
                let closed = self.closing.contains(handle);
                self.closing.retain(|h| h != handle);
                let shown = initiated.clone().or(known.clone()).unwrap_or_else(|| "?".into());
                tracing::info!(connection = %shown, ?reason, "IKE SA down");
                // Start again after a failure, unless we or the peer closed it on purpose, a newer
                // SA replaced it (RFC 7296 §2.4 INITIAL_CONTACT), or another SA still serves it.
                let on_purpose =
                    matches!(reason, DownReason::Closed | DownReason::Replaced | DownReason::DeletedByPeer);
                if let Some(name) = initiated.or(known) {
                    let again = self.connection(&name).is_some_and(|c| c.initiates());
                    let served = !self.table.handles_of(&name).is_empty();
                    if again && !closed && !on_purpose && !served {
                        self.retry.insert(name, Instant::now() + RETRY_AFTER);
                    }
                }
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
        let handles: Vec<IkeSaHandle> = self.initiated.keys().copied().chain(self.table.handles()).collect();
        for h in handles {
            self.driver.close(h);
        }
        let until = Instant::now() + grace;
        while Instant::now() < until && self.driver.endpoint().sa_count() > 0 {
            if self.step(Duration::from_millis(20)).is_err() {
                break;
            }
        }
        self.routes.remove_all(&self.tun);
        tracing::info!("stopped");
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
