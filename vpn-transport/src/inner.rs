//! Where a gateway's inner packets come from and go to: the [`InnerPort`] a
//! [`Driver`](crate::driver::Driver) pumps, for a TUN device and for a smoltcp device.
#![forbid(unsafe_code)]

use std::io;
use std::os::fd::BorrowedFd;

use crate::PacketBatch;

/// Where inner packets come from and go to: a TUN device, a smoltcp device, ...
pub trait InnerPort {
    /// Read waiting inner packets into `batch` without blocking; returns how many.
    fn recv_batch(&mut self, batch: &mut PacketBatch<()>) -> io::Result<usize>;
    /// Deliver one inner packet that came out of the tunnel.
    fn send(&mut self, packet: &[u8]) -> io::Result<()>;
    /// A descriptor that is readable when packets wait, if there is one.
    fn poll_fd(&self) -> Option<BorrowedFd<'_>>;
}

#[cfg(all(feature = "tun", target_os = "linux"))]
impl InnerPort for crate::tun::Tun {
    fn recv_batch(&mut self, batch: &mut PacketBatch<()>) -> io::Result<usize> {
        crate::tun::Tun::recv_batch(self, batch)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        crate::tun::Tun::send(self, packet)
    }
    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(std::os::fd::AsFd::as_fd(self))
    }
}

#[cfg(feature = "smoltcp")]
impl InnerPort for crate::smoltcp_device::TunnelDevice {
    fn recv_batch(&mut self, batch: &mut PacketBatch<()>) -> io::Result<usize> {
        let mut n = 0;
        while !batch.is_full() && self.tx_len() > 0 {
            if batch.push_with(|area| self.pop_tx(area, 0).map(|len| (len, ()))) {
                n += 1;
            }
        }
        Ok(n)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        // A full queue drops the packet (counted by the device), as a link would.
        self.push_rx(packet);
        Ok(())
    }
    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}
