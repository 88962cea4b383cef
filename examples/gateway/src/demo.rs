//! `vpn-gateway demo`: two gateways on loopback, each with a userspace (smoltcp) host behind it.
//! The west gateway opens an IKEv2 tunnel to the east one, the west host sends the east host a
//! TCP stream through it for a few seconds, and the SAs and the throughput are printed. No root,
//! no config, no kernel device.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::OsRng;
use vpn_ike::config::PortKind;
use vpn_ike::config::{EndpointConfig, PeerConfig};
use vpn_ike::endpoint::Endpoint;
use vpn_ike::event::{Event, IkeSaHandle};
use vpn_ike::message::Identity;
use vpn_transport::binding::{BindingEvent, Removal};
use vpn_transport::driver::{Driver, DriverConfig, DriverEvent};
use vpn_transport::host::SmolHost;
use vpn_transport::udp::{UdpConfig, UdpEndpoint};

/// How long the TCP transfer runs.
const TRANSFER: Duration = Duration::from_secs(3);
/// How long the tunnel may take to come up.
const SETUP: Duration = Duration::from_secs(10);

struct Site {
    name: &'static str,
    driver: Driver<OsRng>,
    host: SmolHost,
    /// The peer's name, for the status table.
    peer_name: &'static str,
    /// Display ids and establishment times, for the status table.
    ids: std::collections::BTreeMap<u64, u32>,
    established: std::collections::BTreeMap<IkeSaHandle, u64>,
    addr: SocketAddr,
    handle: Option<IkeSaHandle>,
}

fn fqdn(s: &str) -> Identity {
    Identity::Fqdn(s.as_bytes().to_vec())
}

fn peer(local: &str, remote: &str, local_ts: &str, remote_ts: &str) -> PeerConfig {
    let mut p = PeerConfig::psk(fqdn(local), Some(fqdn(remote)), b"demo pre-shared key, not for production");
    p.local_ts = vec![local_ts.parse().expect("selector")];
    p.remote_ts = vec![remote_ts.parse().expect("selector")];
    p
}

fn site(
    name: &'static str,
    peer_name: &'static str,
    host_ip: Ipv4Addr,
    peers: Vec<PeerConfig>,
) -> std::io::Result<Site> {
    let lo = "127.0.0.1".parse().expect("address");
    let udp = UdpEndpoint::bind(&UdpConfig::ephemeral([lo]))?;
    let addr = udp.local_addr(PortKind::NatT, lo).expect("bound");
    let config = EndpointConfig {
        local_addr: addr,
        // One ephemeral socket carries IKE behind the non-ESP marker, ESP and keepalives.
        local_port: PortKind::NatT,
        peers: Arc::new(peers),
        force_udp_encap: true,
        ..EndpointConfig::default()
    };
    let driver = Driver::new(Endpoint::new(config, OsRng), udp, DriverConfig::default());
    Ok(Site {
        name,
        driver,
        host: SmolHost::new(host_ip, 24, 1400, u64::from(host_ip.octets()[1])),
        peer_name,
        ids: Default::default(),
        established: Default::default(),
        addr,
        handle: None,
    })
}

impl Site {
    fn turn(&mut self) -> std::io::Result<Vec<DriverEvent>> {
        self.driver.turn(std::slice::from_mut(&mut self.host.dev))?;
        let mut evs = Vec::new();
        while let Some(e) = self.driver.poll_event() {
            match &e {
                DriverEvent::Ike(Event::IkeSaUp { handle, .. }) => {
                    let n = self.ids.len() as u32 + 1;
                    self.ids.insert(handle.0, n);
                    let t = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    self.established.insert(*handle, t);
                }
                DriverEvent::Sa(BindingEvent::Installed(info)) => {
                    let n = self.ids.len() as u32 + 1;
                    self.ids.insert(u64::from(info.spi_in) | 1 << 63, n);
                }
                _ => {}
            }
            evs.push(e);
        }
        Ok(evs)
    }

    /// This gateway's SAs, as `vpn-gateway status` shows them.
    fn report(&self) -> crate::status::StatusReport {
        let peer = self.peer_name;
        let name = move |_: IkeSaHandle| Some(peer.to_string());
        let labels = crate::report::Labels { name: &name, ids: &self.ids, established: &self.established };
        crate::status::StatusReport {
            version: crate::status::SCHEMA_VERSION,
            gateway: self.name.into(),
            connections: Vec::new(),
            ike_sas: crate::report::ike_sas(&self.driver, &labels),
        }
    }
}

/// Run the demo, writing what happens to `out`.
pub fn run(out: &mut dyn Write) -> ExitCode {
    match demo(out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(out, "demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo(out: &mut dyn Write) -> Result<(), Box<dyn std::error::Error>> {
    let (west_host, east_host) = (Ipv4Addr::new(10, 1, 0, 2), Ipv4Addr::new(10, 2, 0, 2));
    let mut west = site("west", "east", west_host, vec![])?;
    let mut east = site(
        "east",
        "west",
        east_host,
        vec![peer("east.example", "west.example", "10.2.0.0/24", "10.1.0.0/24")],
    )?;
    writeln!(out, "vpn-gateway demo: two gateways on loopback, a smoltcp host behind each")?;
    writeln!(out, "  west gateway {} with host {west_host} (10.1.0.0/24)", west.addr)?;
    writeln!(out, "  east gateway {} with host {east_host} (10.2.0.0/24)", east.addr)?;

    // 1. IKE_SA_INIT and IKE_AUTH, then the ESP SAs installed on both sides.
    let west_peer = peer("west.example", "east.example", "10.1.0.0/24", "10.2.0.0/24");
    let start = Instant::now();
    west.handle = Some(west.driver.connect(west_peer, east.addr)?);
    let mut installed = (false, false);
    while !(installed.0 && installed.1) {
        if start.elapsed() > SETUP {
            return Err("the tunnel did not come up in time".into());
        }
        for e in west.turn()? {
            installed.0 |= matches!(e, DriverEvent::Sa(BindingEvent::Installed(_)));
            if let DriverEvent::Ike(Event::IkeSaDown { reason, .. }) = e {
                return Err(format!("west: IKE SA down: {reason:?}").into());
            }
        }
        for e in east.turn()? {
            installed.1 |= matches!(e, DriverEvent::Sa(BindingEvent::Installed(_)));
            if let DriverEvent::Ike(Event::IkeSaUp { handle, .. }) = e {
                east.handle = Some(handle);
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let wh = west.handle.ok_or("no west SA")?;
    east.handle.ok_or("no east SA")?;
    writeln!(out, "tunnel up in {:.1} ms", start.elapsed().as_secs_f64() * 1e3)?;

    // 2. A TCP stream from the west host to the east host through the tunnel.
    let server = east.host.tcp_listen(5001, 1 << 20);
    let client = west.host.tcp_connect(east_host, 5001, 40000, 1 << 20);
    let pattern: Vec<u8> = (0..65536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let (mut sent, mut received) = (0usize, 0usize);
    let mut buf = vec![0u8; 65536];
    let t0 = Instant::now();
    while t0.elapsed() < TRANSFER || received < sent {
        if t0.elapsed() > TRANSFER + Duration::from_secs(5) {
            return Err(format!("transfer stalled: {received} of {sent} bytes arrived").into());
        }
        west.host.poll();
        let c = west.host.tcp(client);
        while t0.elapsed() < TRANSFER && c.can_send() {
            let off = sent % pattern.len();
            let n = c.send_slice(&pattern[off..])?;
            if n == 0 {
                break;
            }
            sent += n;
        }
        west.host.poll();
        west.turn()?;
        east.turn()?;
        east.host.poll();
        let s = east.host.tcp(server);
        while s.can_recv() {
            let n = s.recv_slice(&mut buf)?;
            if n == 0 {
                break;
            }
            let mut k = 0;
            while k < n {
                let off = (received + k) % pattern.len();
                let m = (n - k).min(pattern.len() - off);
                if buf[k..k + m] != pattern[off..off + m] {
                    return Err(format!("data corrupted near byte {}", received + k).into());
                }
                k += m;
            }
            received += n;
        }
        east.host.poll();
        east.turn()?;
        west.turn()?;
    }
    let secs = t0.elapsed().as_secs_f64();
    west.host.tcp(client).close();

    // 3. The SAs as each gateway sees them.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for s in [&west, &east] {
        writeln!(out, "\n{} gateway:", s.name)?;
        write!(out, "{}", s.report().render_text(now))?;
    }
    let drops = east.driver.binding().sad().drops().total() + west.driver.binding().sad().drops().total();
    writeln!(out)?;
    writeln!(
        out,
        "demo: {:.1} MB of TCP carried west -> east in {secs:.2} s = {:.0} Mbit/s through the tunnel, {drops} ESP drops",
        received as f64 / 1e6,
        received as f64 * 8.0 / secs / 1e6
    )?;

    // 4. Close: the west gateway deletes the IKE SA; the east one hears it and removes its SAs.
    west.driver.close(wh);
    let t1 = Instant::now();
    let mut closed = false;
    while !closed && t1.elapsed() < Duration::from_secs(5) {
        west.turn()?;
        for e in east.turn()? {
            closed |= matches!(e, DriverEvent::Sa(BindingEvent::Removed { reason: Removal::IkeSa(_), .. }));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    writeln!(
        out,
        "closed: {}",
        if closed { "east removed its SAs after west's Delete" } else { "no Delete seen" }
    )?;
    Ok(())
}
