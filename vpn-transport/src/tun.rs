//! A Linux TUN device: inner IP packets in and out of the kernel's network stack.
//!
//! Opened with `IFF_TUN | IFF_NO_PI`, so every read and write is one bare IP packet. Links,
//! addresses and routes are set through rtnetlink (the crate's `netlink` module), in the
//! network namespace of the calling thread. The device is not persistent: it, its addresses
//! and its routes vanish when the [`Tun`] is dropped. Needs `CAP_NET_ADMIN`.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::OnceLock;

use crate::buf::PacketBatch;
use crate::netlink::{self, LinkChange};
use crate::sys;

/// An open TUN device.
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
    index: OnceLock<u32>,
}

/// `e` with what was being done in front: "adding route 10.2.0.0/24 via vpn0: File exists
/// (os error 17)".
fn failed(what: impl std::fmt::Display) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl Tun {
    /// Create (or attach to) the TUN interface `name`; a `%d` in it lets the kernel pick a
    /// free number (`"vpn%d"`). The device starts down, without addresses.
    pub fn open(name: &str) -> io::Result<Tun> {
        let (file, name) = sys::open_tun(name)?;
        tracing::debug!(%name, "opened TUN device");
        Ok(Tun { file, name, index: OnceLock::new() })
    }

    /// The interface name the kernel gave it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface index, looked up once by name.
    pub fn index(&self) -> io::Result<u32> {
        if let Some(&i) = self.index.get() {
            return Ok(i);
        }
        let i = netlink::link_index(&self.name).map_err(failed(format_args!("looking up {}", self.name)))?;
        Ok(*self.index.get_or_init(|| i))
    }

    /// Set the MTU: the largest inner packet. Leave room for ESP and the outer headers
    /// (about 73 bytes for AES-GCM over UDP and IPv4) below the outer path MTU.
    pub fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        netlink::set_link(self.index()?, LinkChange::Mtu(mtu))
            .map_err(failed(format_args!("setting the MTU of {} to {mtu}", self.name)))
    }

    /// Set the transmit queue length: how many packets the kernel queues for us to read. The
    /// default 500 overflows when a fast TCP sender outruns one read per packet.
    pub fn set_txqueuelen(&self, len: u32) -> io::Result<()> {
        netlink::set_link(self.index()?, LinkChange::TxQueueLen(len))
            .map_err(failed(format_args!("setting the txqueuelen of {} to {len}", self.name)))
    }

    /// Bring the link up.
    pub fn set_up(&self) -> io::Result<()> {
        netlink::set_link(self.index()?, LinkChange::Up)
            .map_err(failed(format_args!("bringing up {}", self.name)))
    }

    /// Add `addr/prefix_len` to the interface (an error if it is there already).
    pub fn add_address(&self, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        netlink::add_address(self.index()?, addr, prefix_len)
            .map_err(failed(format_args!("adding address {addr}/{prefix_len} to {}", self.name)))
    }

    /// Route `dest/prefix_len` into the device, with source address `src` if given (replacing
    /// a route to the same prefix).
    pub fn add_route(&self, dest: IpAddr, prefix_len: u8, src: Option<IpAddr>) -> io::Result<()> {
        netlink::replace_route(self.index()?, dest, prefix_len, src)
            .map_err(failed(format_args!("adding route {dest}/{prefix_len} via {}", self.name)))
    }

    /// Remove the route to `dest/prefix_len` through the device.
    pub fn remove_route(&self, dest: IpAddr, prefix_len: u8) -> io::Result<()> {
        netlink::delete_route(self.index()?, dest, prefix_len)
            .map_err(failed(format_args!("removing route {dest}/{prefix_len} via {}", self.name)))
    }

    /// Read one packet into `buf[at..]` without blocking; returns its length (`WouldBlock`
    /// when none is waiting).
    pub fn recv(&mut self, buf: &mut [u8], at: usize) -> io::Result<usize> {
        let area = buf
            .get_mut(at..)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset beyond the buffer"))?;
        self.file.read(area)
    }

    /// Read waiting packets into the free slots of `batch` (each at the slot's headroom)
    /// until none waits or the batch is full; returns how many were added.
    pub fn recv_batch(&mut self, batch: &mut PacketBatch<()>) -> io::Result<usize> {
        let mut n = 0;
        loop {
            let mut err = None;
            let added = batch.push_with(|area| match self.file.read(area) {
                Ok(len) => Some((len, ())),
                Err(e) => {
                    err = Some(e);
                    None
                }
            });
            match err {
                Some(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(n),
                Some(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Some(e) => return if n > 0 { Ok(n) } else { Err(e) },
                None if added => n += 1,
                None => return Ok(n),
            }
        }
    }

    /// Write one inner IP packet to the kernel.
    pub fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.file.write(packet).map(|_| ())
    }

    /// Wait until a packet can be read or `timeout` passes; returns whether one can.
    pub fn wait(&self, timeout: Option<std::time::Duration>) -> io::Result<bool> {
        sys::poll_readable(&[self.file.as_fd()], timeout)
    }
}

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
