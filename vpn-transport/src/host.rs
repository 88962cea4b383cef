//! A userspace host behind a tunnel: a smoltcp interface on a [`TunnelDevice`], with TCP
//! sockets, so a program can talk through the VPN with no root and no kernel device (the
//! gateway's `demo` and the end-to-end tests use it).
#![forbid(unsafe_code)]

use std::net::Ipv4Addr;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use crate::smoltcp_device::TunnelDevice;

/// A smoltcp host whose only link is the tunnel.
pub struct SmolHost {
    /// The device the gateway reads and writes (its [`InnerPort`](crate::driver::InnerPort)).
    pub dev: TunnelDevice,
    iface: Interface,
    sockets: SocketSet<'static>,
    origin: std::time::Instant,
}

impl std::fmt::Debug for SmolHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmolHost").field("addrs", &self.iface.ip_addrs()).finish_non_exhaustive()
    }
}

impl SmolHost {
    /// A host at `addr/prefix_len` whose default route points into the tunnel, with link MTU
    /// `mtu`; `seed` makes its TCP sequence numbers reproducible.
    pub fn new(addr: Ipv4Addr, prefix_len: u8, mtu: usize, seed: u64) -> Self {
        let mut dev = TunnelDevice::new(mtu, 512);
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, SmolInstant::ZERO);
        let a: Ipv4Address = addr;
        iface.update_ip_addrs(|v| {
            let _ = v.push(IpCidr::new(IpAddress::Ipv4(a), prefix_len));
        });
        // On a point-to-point link any next hop does: use the host's own address.
        let _ = iface.routes_mut().add_default_ipv4_route(a);
        SmolHost { dev, iface, sockets: SocketSet::new(vec![]), origin: std::time::Instant::now() }
    }

    fn now(&self) -> SmolInstant {
        SmolInstant::from_micros(self.origin.elapsed().as_micros() as i64)
    }

    /// Let the stack process received packets and timers and queue what it sends.
    pub fn poll(&mut self) {
        let now = self.now();
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
    }

    fn socket(bufsize: usize) -> tcp::Socket<'static> {
        tcp::Socket::new(tcp::SocketBuffer::new(vec![0; bufsize]), tcp::SocketBuffer::new(vec![0; bufsize]))
    }

    /// A TCP socket listening on `port`.
    pub fn tcp_listen(&mut self, port: u16, bufsize: usize) -> SocketHandle {
        let mut s = Self::socket(bufsize);
        // A listen on a fresh socket cannot fail (port 0 is the only refusal).
        let _ = s.listen(port.max(1));
        self.sockets.add(s)
    }

    /// A TCP socket connecting to `remote:port` from `local_port`.
    pub fn tcp_connect(
        &mut self,
        remote: Ipv4Addr,
        port: u16,
        local_port: u16,
        bufsize: usize,
    ) -> SocketHandle {
        let mut s = Self::socket(bufsize);
        let _ = s.connect(self.iface.context(), (IpAddress::Ipv4(remote), port), local_port);
        self.sockets.add(s)
    }

    /// The TCP socket `h`.
    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }
}
