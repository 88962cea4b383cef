//! Two smoltcp stacks, each behind a `TunnelDevice`, talk TCP through the ESP tunnel: packets
//! one stack sends are encapsulated by one site's `SaBinding`, decapsulated by the other's and
//! handed to the other stack. 1 MB crosses intact.
#![cfg(all(feature = "smoltcp", feature = "driver"))]

mod common;

use common::*;
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use vpn_core::time::Instant;
use vpn_transport::binding::InterfaceId;
use vpn_transport::smoltcp_device::TunnelDevice;
use vpn_transport::SaBinding;

const MTU: usize = 1400;
const TOTAL: usize = 1 << 20;

fn interface(dev: &mut TunnelDevice, addr: Ipv4Address, gateway: Ipv4Address, seed: u64) -> Interface {
    let mut config = Config::new(HardwareAddress::Ip);
    config.random_seed = seed;
    let mut iface = Interface::new(config, dev, SmolInstant::ZERO);
    iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::Ipv4(addr), 24)).unwrap());
    iface.routes_mut().add_default_ipv4_route(gateway).unwrap();
    iface
}

fn tcp_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 64 * 1024]), tcp::SocketBuffer::new(vec![0; 64 * 1024]))
}

/// Move every packet `from` sent through the tunnel into `to`; returns how many moved.
fn pump(from: &mut TunnelDevice, ta: &mut SaBinding, tb: &mut SaBinding, to: &mut TunnelDevice) -> usize {
    let mut buf = [0u8; 64 + MTU + 64];
    let mut n = 0;
    while let Some(len) = from.pop_tx(&mut buf, 64) {
        let d = ta.encapsulate(Instant::ZERO, InterfaceId(0), &mut buf, 64..64 + len).expect("protected");
        // It arrives from the sender's address, where the receiver's SA sends to.
        let from = ta.child(d.child).unwrap().local;
        let inner = tb.decapsulate(Instant::ZERO, from, &mut buf, d.range).unwrap().inner;
        assert!(to.push_rx(&buf[inner]), "receive queue full");
        n += 1;
    }
    n
}

fn pattern(i: usize) -> u8 {
    (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8
}

#[test]
fn tcp_carries_a_megabyte_through_the_tunnel() {
    let (mut ta, mut tb) = tunnel_pair("127.0.0.1:4500".parse().unwrap(), "127.0.0.1:4501".parse().unwrap());
    let (a_ip, b_ip) = (Ipv4Address::new(10, 1, 0, 1), Ipv4Address::new(10, 2, 0, 1));
    let mut dev_a = TunnelDevice::new(MTU, 128);
    let mut dev_b = TunnelDevice::new(MTU, 128);
    let mut ia = interface(&mut dev_a, a_ip, Ipv4Address::new(10, 1, 0, 254), 1);
    let mut ib = interface(&mut dev_b, b_ip, Ipv4Address::new(10, 2, 0, 254), 2);
    let mut sa = SocketSet::new(vec![]);
    let mut sb = SocketSet::new(vec![]);
    let client = sa.add(tcp_socket());
    let server = sb.add(tcp_socket());
    sb.get_mut::<tcp::Socket>(server).listen(5001).unwrap();
    sa.get_mut::<tcp::Socket>(client).connect(ia.context(), (IpAddress::Ipv4(b_ip), 5001), 49152).unwrap();

    let (mut sent, mut received) = (0usize, 0usize);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut now = SmolInstant::ZERO;
    let mut rounds = 0;
    while received < TOTAL {
        rounds += 1;
        assert!(rounds < 100_000, "stalled: sent {sent}, received {received}");
        ia.poll(now, &mut dev_a, &mut sa);
        ib.poll(now, &mut dev_b, &mut sb);
        let c = sa.get_mut::<tcp::Socket>(client);
        if c.can_send() && sent < TOTAL {
            let n = (TOTAL - sent).min(chunk.len());
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = pattern(sent + i);
            }
            sent += c.send_slice(&chunk[..n]).unwrap();
        }
        let s = sb.get_mut::<tcp::Socket>(server);
        while s.can_recv() {
            let n = s.recv_slice(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            for (i, b) in chunk[..n].iter().enumerate() {
                assert_eq!(*b, pattern(received + i), "byte {}", received + i);
            }
            received += n;
        }
        ia.poll(now, &mut dev_a, &mut sa);
        pump(&mut dev_a, &mut ta, &mut tb, &mut dev_b);
        ib.poll(now, &mut dev_b, &mut sb);
        pump(&mut dev_b, &mut tb, &mut ta, &mut dev_a);
        now += smoltcp::time::Duration::from_millis(1);
    }
    assert_eq!(received, TOTAL);
    sa.get_mut::<tcp::Socket>(client).close();
    let (_, (_, packets)) = ta.counters(A_SPIS[0]);
    assert!(packets as usize >= TOTAL / MTU, "{packets} ESP packets");
    assert_eq!(tb.counters(B_SPIS[0]).0 .1, packets, "all taken by B's inbound SA");
    assert_eq!(tb.sad().drops().total(), 0);
    assert_eq!(dev_b.stats().rx_dropped, 0);
    eprintln!("1 MB in {rounds} rounds, {packets} ESP packets A->B");
}

#[test]
fn queues_are_bounded() {
    let mut dev = TunnelDevice::new(100, 2);
    assert!(dev.push_rx(&[0x45; 20]));
    assert!(dev.push_rx(&[0x45; 20]));
    assert!(!dev.push_rx(&[0x45; 20]), "queue full");
    assert!(!TunnelDevice::new(100, 2).push_rx(&[0x45; 101]), "longer than the MTU");
    assert_eq!(dev.stats().rx_dropped, 1);
    assert_eq!(dev.rx_len(), 2);
    let mut buf = [0u8; 10];
    assert_eq!(dev.pop_tx(&mut buf, 0), None);
}
