//! Encapsulation and decapsulation allocate nothing: a counting global allocator watches a loop
//! over every cipher, mode and framing (the SAs are built before counting starts).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use vpn_core::crypto::Backend;
use vpn_core::time::Instant;
use vpn_esp::{Framing, InboundSa, OutboundSa, Sad};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn packet_path_does_not_allocate() {
    // The counter itself works.
    COUNTING.store(true, Ordering::SeqCst);
    let probe = std::hint::black_box(Box::new(7u64));
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(ALLOCATIONS.swap(0, Ordering::SeqCst), 1);
    drop(probe);
    // Build everything first.
    let mut setups = Vec::new();
    for &backend in Backend::all() {
        for c in 0..CIPHERS.len() {
            for tunnel in [true, false] {
                for udp in [false, true] {
                    for framing in [Framing::Esp, Framing::Ip] {
                        let p = params(c, tunnel, false, c % 2 == 0, udp, backend);
                        let out = OutboundSa::new(&p).unwrap();
                        let mut sad = Sad::new();
                        sad.insert_inbound(InboundSa::new(&p.clone().reversed()).unwrap());
                        let pkt = if tunnel {
                            udp_packet("10.1.0.1".parse().unwrap(), "10.2.0.1".parse().unwrap(), 1400)
                        } else {
                            udp_packet(p.local, p.remote, 1400)
                        };
                        setups.push((out, sad, pkt, framing));
                    }
                }
            }
        }
    }
    let mut buf = vec![0u8; 2048];
    let mut ok = 0usize;
    COUNTING.store(true, Ordering::SeqCst);
    for (out, sad, pkt, framing) in setups.iter_mut() {
        for _ in 0..50 {
            buf[HEAD..HEAD + pkt.len()].copy_from_slice(pkt);
            let e = out.encapsulate(Instant::ZERO, &mut buf, HEAD..HEAD + pkt.len(), *framing).unwrap();
            let d = sad.decapsulate(Instant::ZERO, &mut buf, e.range.clone(), *framing).unwrap();
            ok += usize::from(!d.inner.is_empty());
            // Drops are allocation-free too.
            let _ = sad.decapsulate(Instant::ZERO, &mut buf, e.range, *framing);
        }
    }
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(ok, setups.len() * 50);
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0, "allocations on the packet path");
}
