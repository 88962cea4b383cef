//! `recvmmsg`, `sendmmsg` and UDP GSO (`UDP_SEGMENT`) on Linux.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr;

use super::{RecvSlot, SendItem, MAX_BATCH};

/// Room for the control messages of one datagram, aligned for `cmsghdr`: on send a
/// `UDP_SEGMENT` (CMSG_SPACE(2) = 24 bytes) and an `IPV6_PKTINFO` (CMSG_SPACE(20) = 40 bytes);
/// on receive one `IP_PKTINFO` or `IPV6_PKTINFO`.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct CmsgBuf([u8; 64]);

/// `CMSG_SPACE(len)`.
fn cmsg_space(len: usize) -> usize {
    // SAFETY: CMSG_SPACE only computes a size.
    unsafe { libc::CMSG_SPACE(len as u32) as usize }
}

/// `CMSG_LEN(len)`.
fn cmsg_len(len: usize) -> usize {
    // SAFETY: CMSG_LEN only computes a size.
    unsafe { libc::CMSG_LEN(len as u32) as usize }
}

/// The destination address of a received datagram, from its `IP_PKTINFO`/`IPV6_PKTINFO`
/// control message.
fn read_pktinfo(h: &libc::msghdr) -> Option<IpAddr> {
    if h.msg_control.is_null() || h.msg_flags & libc::MSG_CTRUNC != 0 {
        return None;
    }
    // SAFETY: msg_control and msg_controllen describe a live control buffer the kernel filled
    // with well-formed cmsghdrs; CMSG_FIRSTHDR/CMSG_NXTHDR stay inside it (or return null).
    // Each payload is read unaligned after checking cmsg_len covers it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            let (level, ty, len) = ((*c).cmsg_level, (*c).cmsg_type, (*c).cmsg_len as usize);
            if level == libc::IPPROTO_IP
                && ty == libc::IP_PKTINFO
                && len >= cmsg_len(size_of::<libc::in_pktinfo>())
            {
                let info: libc::in_pktinfo = ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Some(IpAddr::V4(Ipv4Addr::from(info.ipi_addr.s_addr.to_ne_bytes())));
            }
            if level == libc::IPPROTO_IPV6
                && ty == libc::IPV6_PKTINFO
                && len >= cmsg_len(size_of::<libc::in6_pktinfo>())
            {
                let info: libc::in6_pktinfo = ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

/// Ask for the destination address of each datagram (`IP_PKTINFO` or `IPV6_RECVPKTINFO`), for
/// sockets bound to an unspecified address.
pub(crate) fn enable_pktinfo(fd: BorrowedFd<'_>, v6: bool) -> io::Result<()> {
    let one: libc::c_int = 1;
    let (level, name) =
        if v6 { (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO) } else { (libc::IPPROTO_IP, libc::IP_PKTINFO) };
    // SAFETY: the option value points at a live c_int whose size is passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
fn zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain old data; all-zero bytes are a valid value.
    unsafe { zeroed() }
}

/// Write `addr` into a `sockaddr_storage`, returning the length used.
fn write_sockaddr(addr: &SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and at least as aligned as sockaddr_in
            // (that is its purpose), and `out` is a valid exclusive reference.
            unsafe { ptr::write((out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(), sin) };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo().to_be(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { ptr::write((out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(), sin6) };
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Read the address the kernel wrote into `s` (`len` bytes).
fn read_sockaddr(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(s.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, the kernel wrote at
            // least that many bytes, and sockaddr_storage is suitably aligned.
            let sin = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Receive up to `out.len()` (at most [`MAX_BATCH`]) datagrams without blocking. Datagram `i`
/// lands in `storage[i * stride + offset..][..cap]`; `out[i]` says how long it is and who sent
/// it. Returns how many were received (`WouldBlock` when none waited).
pub(crate) fn recv_mmsg(
    fd: BorrowedFd<'_>,
    storage: &mut [u8],
    stride: usize,
    offset: usize,
    cap: usize,
    out: &mut [RecvSlot],
) -> io::Result<usize> {
    if stride == 0 || offset.checked_add(cap).is_none_or(|end| end > stride) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "slot layout does not fit the stride"));
    }
    let n = out.len().min(MAX_BATCH).min(storage.len() / stride);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: iovec, sockaddr_storage and mmsghdr are plain old data; zero is a valid value
    // (null pointers and zero lengths).
    let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { zeroed() };
    let mut names: [libc::sockaddr_storage; MAX_BATCH] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { zeroed() };
    let mut ctrls = [CmsgBuf([0; 64]); MAX_BATCH];
    for (iov, chunk) in iovs.iter_mut().zip(storage.chunks_exact_mut(stride)).take(n) {
        let b = &mut chunk[offset..offset + cap];
        *iov = libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: b.len() };
    }
    let parts = iovs.iter_mut().zip(names.iter_mut()).zip(ctrls.iter_mut());
    for (h, ((iov, name), ctrl)) in hdrs.iter_mut().zip(parts).take(n) {
        h.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
        h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_control = ctrl.0.as_mut_ptr().cast();
        h.msg_hdr.msg_controllen = ctrl.0.len() as _;
    }
    // SAFETY: the first `n` headers point at `n` live iovecs, each covering a disjoint part of
    // `storage` (exclusively borrowed for this call), at `n` live sockaddr_storage buffers
    // whose size is in msg_namelen, and at `n` live control buffers whose size is in
    // msg_controllen. The arrays outlive the call. MSG_DONTWAIT keeps it
    // non-blocking; a null timeout is allowed.
    let r = unsafe {
        libc::recvmmsg(fd.as_raw_fd(), hdrs.as_mut_ptr(), n as _, libc::MSG_DONTWAIT as _, ptr::null_mut())
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let got = r as usize;
    for ((slot, h), name) in out.iter_mut().zip(hdrs.iter()).zip(names.iter()).take(got) {
        *slot = RecvSlot {
            len: (h.msg_len as usize).min(cap),
            addr: read_sockaddr(name, h.msg_hdr.msg_namelen),
            truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
            dst: read_pktinfo(&h.msg_hdr),
        };
    }
    Ok(got)
}

/// Send up to [`MAX_BATCH`] of `items` in one `sendmmsg` call without blocking; items with a
/// `segment` carry a `UDP_SEGMENT` control message. Returns how many items the kernel took
/// (`WouldBlock` when none).
pub(crate) fn send_mmsg(fd: BorrowedFd<'_>, items: &[SendItem<'_>]) -> io::Result<usize> {
    let n = items.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: plain old data; zero is valid (see `recv_mmsg`).
    let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { zeroed() };
    let mut names: [libc::sockaddr_storage; MAX_BATCH] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { zeroed() };
    let mut cmsgs = [CmsgBuf([0; 64]); MAX_BATCH];
    for i in 0..n {
        let item = &items[i];
        // The kernel only reads through iov_base for a send.
        iovs[i] = libc::iovec { iov_base: item.data.as_ptr() as *mut libc::c_void, iov_len: item.data.len() };
        let namelen = write_sockaddr(&item.dst, &mut names[i]);
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = namelen;
        h.msg_iov = &mut iovs[i];
        h.msg_iovlen = 1;
        let src_len = match item.src {
            Some(IpAddr::V4(_)) => size_of::<libc::in_pktinfo>(),
            Some(IpAddr::V6(_)) => size_of::<libc::in6_pktinfo>(),
            None => 0,
        };
        let space = item.segment.map_or(0, |_| cmsg_space(size_of::<u16>()))
            + if src_len > 0 { cmsg_space(src_len) } else { 0 };
        if space == 0 {
            continue;
        }
        assert!(space <= cmsgs[i].0.len(), "control messages overflow their buffer");
        h.msg_control = cmsgs[i].0.as_mut_ptr().cast();
        h.msg_controllen = space as _;
        // SAFETY: msg_control points at `space` zeroed, 8-aligned bytes (at most 64, the
        // buffer's size) that outlive the call, and msg_controllen says so. CMSG_FIRSTHDR and
        // CMSG_NXTHDR return headers inside that space (or null, checked) since `space` is
        // the sum of the CMSG_SPACE of each message written; each payload is written
        // unaligned within its CMSG_LEN.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(h);
            if let Some(seg) = item.segment {
                if c.is_null() {
                    continue;
                }
                (*c).cmsg_level = libc::SOL_UDP;
                (*c).cmsg_type = libc::UDP_SEGMENT;
                (*c).cmsg_len = cmsg_len(size_of::<u16>()) as _;
                ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg);
                c = libc::CMSG_NXTHDR(h, c);
            }
            if !c.is_null() {
                match item.src {
                    Some(IpAddr::V4(a)) => {
                        (*c).cmsg_level = libc::IPPROTO_IP;
                        (*c).cmsg_type = libc::IP_PKTINFO;
                        (*c).cmsg_len = cmsg_len(src_len) as _;
                        let info = libc::in_pktinfo {
                            ipi_ifindex: 0,
                            ipi_spec_dst: libc::in_addr { s_addr: u32::from_ne_bytes(a.octets()) },
                            ipi_addr: libc::in_addr { s_addr: 0 },
                        };
                        ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in_pktinfo>(), info);
                    }
                    Some(IpAddr::V6(a)) => {
                        (*c).cmsg_level = libc::IPPROTO_IPV6;
                        (*c).cmsg_type = libc::IPV6_PKTINFO;
                        (*c).cmsg_len = cmsg_len(src_len) as _;
                        let info = libc::in6_pktinfo {
                            ipi6_addr: libc::in6_addr { s6_addr: a.octets() },
                            ipi6_ifindex: 0,
                        };
                        ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>(), info);
                    }
                    None => {}
                }
            }
        }
    }
    // SAFETY: the first `n` headers point at live iovecs over borrowed, unmodified `items` data
    // (the kernel only reads them for a send), at initialised socket addresses with their
    // lengths, and at control buffers built above. All arrays outlive the call.
    let r = unsafe { libc::sendmmsg(fd.as_raw_fd(), hdrs.as_mut_ptr(), n as _, libc::MSG_DONTWAIT as _) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as usize)
}

/// Whether the kernel knows `UDP_SEGMENT` (UDP GSO, Linux 4.18+): setting the socket's default
/// segment size to 0 (no segmentation) succeeds only then, and changes nothing.
pub(crate) fn probe_gso(fd: BorrowedFd<'_>) -> bool {
    let zero: libc::c_int = 0;
    // SAFETY: the option value points at a live c_int whose size is passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            (&zero as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    r == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_round_trip() {
        for a in ["192.0.2.1:4500", "[2001:db8::1]:500", "[fe80::1%3]:1"] {
            let a: SocketAddr = a.parse().unwrap();
            let mut s = zeroed_storage();
            let len = write_sockaddr(&a, &mut s);
            assert_eq!(read_sockaddr(&s, len), Some(a));
        }
        assert_eq!(read_sockaddr(&zeroed_storage(), 0), None);
    }
}
