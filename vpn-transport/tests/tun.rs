//! The TUN adapter against the kernel: packets the kernel routes into the device are read,
//! packets written to it reach a socket, routes come and go, and the device goes with the
//! `Tun`. Needs root (CAP_NET_ADMIN) and /dev/net/tun; skipped otherwise.
#![cfg(all(feature = "tun", target_os = "linux"))]

mod common;

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::ipv4_udp;
use vpn_transport::tun::Tun;
use vpn_transport::PacketBatch;

fn open_or_skip(name: &str) -> Option<Tun> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("skipping TUN test: /dev/net/tun is missing");
        return None;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("skipping TUN test: the `ip` command (iproute2) is missing");
        return None;
    }
    match Tun::open(name) {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!("skipping TUN test: cannot create a TUN device (needs root): {e}");
            None
        }
    }
}

/// Read from the device until a UDP packet to `dst:port` comes (the kernel may also send
/// IPv6 router solicitations and the like); returns the packet.
fn read_udp_to(tun: &mut Tun, dst: Ipv4Addr, port: u16) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut batch: PacketBatch<()> = PacketBatch::with_defaults(8, 1500);
    loop {
        let now = Instant::now();
        assert!(now < deadline, "no packet to {dst}:{port} came out of the TUN device");
        tun.wait(Some(deadline - now)).unwrap();
        batch.clear();
        tun.recv_batch(&mut batch).unwrap();
        for (_, p) in batch.iter() {
            let Ok(info) = vpn_core::packet::parse_ip(p) else { continue };
            let dport =
                p.get(info.header_len + 2..info.header_len + 4).map(|b| u16::from_be_bytes([b[0], b[1]]));
            if info.dst == IpAddr::V4(dst) && info.protocol == 17 && dport == Some(port) {
                assert_eq!(batch.range(0).start, batch.headroom(), "packets land after the headroom");
                return p.to_vec();
            }
        }
    }
}

#[test]
fn packets_cross_the_kernel_both_ways() {
    // A subnet of our own per process, so parallel runs do not collide.
    let x = (std::process::id() % 200) as u8 + 20;
    let Some(mut tun) = open_or_skip("vpnt%d") else { return };
    let name = tun.name().to_string();
    assert!(name.starts_with("vpnt"), "{name}");
    let ours = Ipv4Addr::new(10, 213, x, 1);
    let theirs = Ipv4Addr::new(10, 213, x, 2);
    tun.set_mtu(1400).unwrap();
    tun.add_address(ours.into(), 24).unwrap();
    tun.set_up().unwrap();

    // Kernel -> TUN: a datagram to the far side of the device.
    let sock = UdpSocket::bind((ours, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    sock.send_to(b"out through tun", (theirs, 7777)).unwrap();
    let p = read_udp_to(&mut tun, theirs, 7777);
    assert_eq!(&p[28..], b"out through tun");

    // TUN -> kernel: a datagram from the far side reaches the socket.
    let port = sock.local_addr().unwrap().port();
    let pkt = ipv4_udp(theirs.octets(), ours.octets(), 7777, port, b"in through tun");
    tun.send(&pkt).unwrap();
    let mut buf = [0u8; 100];
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"in through tun");
    assert_eq!(from, (theirs, 7777).into());

    // A route into the device, then gone again.
    let far = Ipv4Addr::new(10, 214, x, 0);
    tun.add_route(far.into(), 24, Some(ours.into())).unwrap();
    sock.send_to(b"routed", (Ipv4Addr::new(10, 214, x, 5), 7778)).unwrap();
    let p = read_udp_to(&mut tun, Ipv4Addr::new(10, 214, x, 5), 7778);
    assert_eq!(&p[12..16], &ours.octets(), "source address from the route");
    tun.remove_route(far.into(), 24).unwrap();
    assert!(tun.remove_route(far.into(), 24).is_err(), "already removed");

    // Reading at an offset keeps headroom for ESP.
    sock.send_to(b"offset", (theirs, 7779)).unwrap();
    let mut raw = [0u8; 1600];
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        assert!(Instant::now() < deadline);
        tun.wait(Some(Duration::from_millis(100))).unwrap();
        match tun.recv(&mut raw, 64) {
            Ok(n) if raw[64] >> 4 == 4 && raw[64 + 9] == 17 => {
                assert_eq!(&raw[64 + 28..64 + n], b"offset");
                break;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }

    drop(tun);
    let gone = Command::new("ip").args(["link", "show", "dev", &name]).output().unwrap();
    assert!(!gone.status.success(), "{name} still exists after drop");
}

/// A GSO run whose segments exceed the device MTU is refused by the kernel (EINVAL); the
/// endpoint then sends the datagrams one by one and the kernel fragments them.
#[cfg(feature = "udp")]
#[test]
fn gso_run_larger_than_the_path_mtu_is_split() {
    use vpn_transport::udp::{PortKind, Transmit, UdpConfig, UdpEndpoint};
    let x = (std::process::id() % 200) as u8 + 20;
    let Some(mut tun) = open_or_skip("vpng%d") else { return };
    let ours = Ipv4Addr::new(10, 215, x, 1);
    let far = Ipv4Addr::new(10, 215, x, 2);
    tun.set_mtu(1280).unwrap();
    tun.add_address(ours.into(), 24).unwrap();
    tun.set_up().unwrap();
    let mut ep = UdpEndpoint::bind(&UdpConfig::ephemeral([IpAddr::V4(ours)])).unwrap();
    let run = vec![7u8; 3 * 1400];
    let t = Transmit::new(PortKind::NatT, (far, 4500).into(), &run).segments(1400);
    assert_eq!(ep.send(&[t]).unwrap(), 1);
    let s = ep.stats();
    assert_eq!((s.sent, s.send_errors, s.gso_sends), (3, 0, 0), "{s:?}");
    // Three datagrams, two fragments each.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut fragments = 0;
    let mut batch: PacketBatch<()> = PacketBatch::with_defaults(16, 1500);
    while fragments < 6 {
        assert!(Instant::now() < deadline, "only {fragments} fragments came out");
        tun.wait(Some(Duration::from_millis(100))).unwrap();
        batch.clear();
        tun.recv_batch(&mut batch).unwrap();
        for (_, p) in batch.iter() {
            if p.len() >= 20 && p[0] >> 4 == 4 && p[9] == 17 && p[16..20] == far.octets() {
                assert!(p.len() <= 1280);
                fragments += 1;
            }
        }
    }
}
