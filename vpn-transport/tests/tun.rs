//! The TUN adapter against the kernel: packets the kernel routes into the device are read,
//! packets written to it reach a socket, links, addresses and routes set over netlink take
//! effect, and the device goes with the `Tun`. Each test runs in a network namespace of its
//! own, made for it and gone with it. Needs root (CAP_NET_ADMIN) and /dev/net/tun; skipped
//! otherwise. The `ip` command only reads back what the library set.
#![cfg(all(feature = "tun", target_os = "linux"))]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::ipv4_udp;
use vpn_transport::tun::Tun;
use vpn_transport::PacketBatch;

/// Run `body` on a thread of its own in a new network namespace. The namespace belongs to that
/// thread alone (and to the `ip` commands it starts), so it, its devices, addresses and routes
/// are gone when the thread ends. Skips when no namespace can be made (not root); fails when
/// the body takes longer than 30 s.
fn in_new_netns(body: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        // SAFETY: unshare(2) takes no pointers; CLONE_NEWNET moves only this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            let _ = tx.send(Err(std::io::Error::last_os_error()));
            return;
        }
        body();
        let _ = tx.send(Ok(()));
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(())) => thread.join().unwrap(),
        Ok(Err(e)) => eprintln!("skipping TUN test: cannot make a network namespace (needs root): {e}"),
        // The body panicked: hand its panic on.
        Err(mpsc::RecvTimeoutError::Disconnected) => std::panic::resume_unwind(thread.join().unwrap_err()),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the test body took more than 30 s"),
    }
}

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
    in_new_netns(packets_cross_the_kernel_both_ways_here);
}

fn packets_cross_the_kernel_both_ways_here() {
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
    // The kernel removes the device when its last descriptor closes; give it a moment.
    let exists =
        || Command::new("ip").args(["link", "show", "dev", &name]).output().unwrap().status.success();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!exists(), "{name} still exists after drop");
}

/// A GSO run whose segments exceed the device MTU is refused by the kernel (EINVAL); the
/// endpoint then sends the datagrams one by one and the kernel fragments them.
#[cfg(feature = "udp")]
#[test]
fn gso_run_larger_than_the_path_mtu_is_split() {
    in_new_netns(gso_run_larger_than_the_path_mtu_is_split_here);
}

#[cfg(feature = "udp")]
fn gso_run_larger_than_the_path_mtu_is_split_here() {
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

/// `ip -j ARGS` (in the calling thread's namespace) as JSON; no output is an empty list.
fn ip_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new("ip").arg("-j").args(args).output().unwrap();
    assert!(out.status.success(), "ip -j {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Array(Vec::new());
    }
    serde_json::from_slice(&out.stdout).unwrap()
}

fn link(name: &str) -> serde_json::Value {
    ip_json(&["link", "show", "dev", name])[0].clone()
}

/// The device's addresses as (address, prefix length).
fn addresses(name: &str) -> Vec<(IpAddr, u64)> {
    let out = ip_json(&["addr", "show", "dev", name]);
    out[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["local"].as_str().unwrap().parse().unwrap(), a["prefixlen"].as_u64().unwrap()))
        .collect()
}

/// The preferred source addresses of the main table's routes to `dest/len` through the device,
/// one entry per route (`None`: a route without one). Each is checked to be what
/// `ip route replace DEST dev DEV` makes: a unicast route of protocol `boot`, scope `link` for
/// IPv4 and `global` for IPv6.
fn routes_to(name: &str, dest: IpAddr, len: u8) -> Vec<Option<IpAddr>> {
    let family = if dest.is_ipv4() { "-4" } else { "-6" };
    let scope = if dest.is_ipv4() { "link" } else { "global" };
    let prefix = format!("{dest}/{len}");
    ip_json(&["-d", family, "route", "show", "dev", name])
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["dst"].as_str() == Some(&prefix))
        .map(|r| {
            assert_eq!(
                (&r["type"], &r["protocol"], &r["scope"]),
                (&"unicast".into(), &"boot".into(), &scope.into()),
                "{r}"
            );
            r["prefsrc"].as_str().map(|s| s.parse().unwrap())
        })
        .collect()
}

/// What the library sets over netlink is what the kernel then reports: MTU, queue length, link
/// up, IPv4 and IPv6 addresses, routes with and without a source address, a route replaced,
/// a route removed, and errors that name the operation, the device and the errno.
#[test]
fn links_addresses_and_routes_take_effect() {
    in_new_netns(links_addresses_and_routes_take_effect_here);
}

fn links_addresses_and_routes_take_effect_here() {
    let Some(tun) = open_or_skip("vpnl%d") else { return };
    let name = tun.name().to_string();
    let before = link(&name);
    assert_eq!(u64::from(tun.index().unwrap()), before["ifindex"].as_u64().unwrap());
    let up = |l: &serde_json::Value| l["flags"].as_array().unwrap().iter().any(|f| f == "UP");
    assert!(!up(&before), "{before}");

    tun.set_mtu(1420).unwrap();
    tun.set_txqueuelen(5000).unwrap();
    tun.set_up().unwrap();
    let after = link(&name);
    assert_eq!(after["mtu"], 1420, "{after}");
    assert_eq!(after["txqlen"], 5000, "{after}");
    assert!(up(&after), "{after}");
    let e = tun.set_mtu(1).unwrap_err();
    assert_eq!(e.to_string(), format!("setting the MTU of {name} to 1: Invalid argument (os error 22)"));

    let v4 = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1));
    let v6 = IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1));
    tun.add_address(v4, 24).unwrap();
    tun.add_address(v6, 64).unwrap();
    let addrs = addresses(&name);
    assert!(addrs.contains(&(v4, 24)) && addrs.contains(&(v6, 64)), "{addrs:?}");
    let e = tun.add_address(v4, 24).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(e.to_string(), format!("adding address 10.1.0.1/24 to {name}: File exists (os error 17)"));

    let v4_far: IpAddr = Ipv4Addr::new(10, 2, 0, 0).into();
    let v4_other: IpAddr = Ipv4Addr::new(10, 3, 0, 0).into();
    let v6_far: IpAddr = Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 0).into();
    let v6_other: IpAddr = Ipv6Addr::new(0xfd00, 3, 0, 0, 0, 0, 0, 0).into();
    for (far, len, other, other_len, src) in [(v4_far, 24, v4_other, 16, v4), (v6_far, 64, v6_other, 32, v6)]
    {
        tun.add_route(far, len, Some(src)).unwrap();
        assert_eq!(routes_to(&name, far, len), [Some(src)]);
        // The same prefix again replaces the route, with a source address or without.
        tun.add_route(far, len, None).unwrap();
        assert_eq!(routes_to(&name, far, len), [None]);
        tun.add_route(far, len, Some(src)).unwrap();
        assert_eq!(routes_to(&name, far, len), [Some(src)]);
        // A new route without a source address.
        tun.add_route(other, other_len, None).unwrap();
        assert_eq!(routes_to(&name, other, other_len), [None]);

        tun.remove_route(far, len).unwrap();
        assert_eq!(routes_to(&name, far, len), []);
        assert_eq!(routes_to(&name, other, other_len), [None], "only the one route removed");
        let e = tun.remove_route(far, len).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("removing route {far}/{len} via {name}: No such process (os error 3)")
        );
        tun.remove_route(other, other_len).unwrap();
        assert_eq!(routes_to(&name, other, other_len), []);

        // A source address of the other family is refused before the kernel is asked.
        let wrong = if src.is_ipv4() { v6 } else { v4 };
        let e = tun.add_route(far, len, Some(wrong)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().starts_with(&format!("adding route {far}/{len} via {name}: ")), "{e}");
    }

    // A source address the host does not have is the kernel's EINVAL, named.
    let e = tun.add_route(v4_far, 24, Some(Ipv4Addr::new(10, 9, 9, 9).into())).unwrap_err();
    assert_eq!(e.to_string(), format!("adding route 10.2.0.0/24 via {name}: Invalid argument (os error 22)"));

    drop(tun);
    // The kernel removes the device when its last descriptor closes; give it a moment.
    let exists =
        || Command::new("ip").args(["link", "show", "dev", &name]).output().unwrap().status.success();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!exists(), "{name} still exists after drop");
}
