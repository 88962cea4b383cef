//! A Linux TUN device: inner IP packets in and out of the kernel's network stack.
//!
//! Opened with `IFF_TUN | IFF_NO_PI`, so every read and write is one bare IP packet. Links,
//! addresses and routes are set with the `ip` command (iproute2), which is on every system
//! that has TUN devices and keeps this crate free of netlink code. The device is not
//! persistent: it, its addresses and its routes vanish when the [`Tun`] is dropped.
//! Needs `CAP_NET_ADMIN`.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::process::Command;

use crate::buf::PacketBatch;
use crate::sys;

/// An open TUN device.
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        let msg = String::from_utf8_lossy(&out.stderr);
        Err(io::Error::other(format!("ip {}: {}", args.join(" "), msg.trim())))
    }
}

impl Tun {
    /// Create (or attach to) the TUN interface `name`; a `%d` in it lets the kernel pick a
    /// free number (`"vpn%d"`). The device starts down, without addresses.
    pub fn open(name: &str) -> io::Result<Tun> {
        let (file, name) = sys::open_tun(name)?;
        tracing::debug!(%name, "opened TUN device");
        Ok(Tun { file, name })
    }

    /// The interface name the kernel gave it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Set the MTU: the largest inner packet. Leave room for ESP and the outer headers
    /// (about 73 bytes for AES-GCM over UDP and IPv4) below the outer path MTU.
    pub fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        ip(&["link", "set", "dev", &self.name, "mtu", &mtu.to_string()])
    }

    /// Set the transmit queue length: how many packets the kernel queues for us to read. The
    /// default 500 overflows when a fast TCP sender outruns one read per packet.
    pub fn set_txqueuelen(&self, len: u32) -> io::Result<()> {
        ip(&["link", "set", "dev", &self.name, "txqueuelen", &len.to_string()])
    }

    /// Bring the link up.
    pub fn set_up(&self) -> io::Result<()> {
        ip(&["link", "set", "dev", &self.name, "up"])
    }

    /// Add `addr/prefix_len` to the interface.
    pub fn add_address(&self, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        ip(&["addr", "add", &format!("{addr}/{prefix_len}"), "dev", &self.name])
    }

    /// Route `dest/prefix_len` into the device, with source address `src` if given (replacing
    /// a route to the same prefix).
    pub fn add_route(&self, dest: IpAddr, prefix_len: u8, src: Option<IpAddr>) -> io::Result<()> {
        let prefix = format!("{dest}/{prefix_len}");
        let src = src.map(|s| s.to_string());
        let mut args = vec!["route", "replace", &prefix, "dev", &self.name];
        if let Some(s) = &src {
            args.extend(["src", s.as_str()]);
        }
        ip(&args)
    }

    /// Remove the route to `dest/prefix_len` through the device.
    pub fn remove_route(&self, dest: IpAddr, prefix_len: u8) -> io::Result<()> {
        ip(&["route", "del", &format!("{dest}/{prefix_len}"), "dev", &self.name])
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
