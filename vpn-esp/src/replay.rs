//! Anti-replay (RFC 4303 §3.4.3) with an RFC 6479 window: a ring of 64-bit blocks, so a jump
//! ahead clears blocks instead of shifting the bitmap. Extended sequence numbers' high bits are
//! inferred as in RFC 4303 appendix A.
//!
//! Use [`ReplayWindow::check`] before decrypting and [`ReplayWindow::accept`] once the ICV has
//! verified, so forged packets cannot move the window.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::DropReason;

/// The largest window accepted, in packets.
pub const MAX_REPLAY_WINDOW: u32 = 1 << 16;

/// The window used to infer ESN high bits when the replay check is off.
const INFERENCE_WINDOW: u32 = 1024;

/// An anti-replay window of a fixed size; size 0 switches the replay check off (the highest
/// sequence number is still tracked, for ESN inference).
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    size: u32,
    esn: bool,
    /// Highest sequence number accepted so far (0: none yet).
    top: u64,
    blocks: Vec<u64>,
}

impl ReplayWindow {
    /// A window of `size` packets (0 = off, at most [`MAX_REPLAY_WINDOW`]); `esn` selects 64-bit
    /// sequence numbers. Returns `None` for a size above the maximum.
    pub fn new(size: u32, esn: bool) -> Option<Self> {
        if size > MAX_REPLAY_WINDOW {
            return None;
        }
        // RFC 6479 §2: one block more than the window needs, a power of two for cheap masking.
        let nblocks = if size == 0 { 0 } else { (size.div_ceil(64) as usize + 1).next_power_of_two() };
        Some(ReplayWindow { size, esn, top: 0, blocks: vec![0u64; nblocks] })
    }

    /// The configured size.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The highest sequence number accepted so far.
    pub fn highest(&self) -> u64 {
        self.top
    }

    /// Infer the full sequence number of a packet carrying the low 32 bits `seq_low`
    /// (RFC 4303 appendix A3). Returns `None` when it would precede sequence number 0.
    pub fn infer(&self, seq_low: u32) -> Option<u64> {
        if !self.esn {
            return Some(u64::from(seq_low));
        }
        let w = if self.size == 0 { INFERENCE_WINDOW } else { self.size };
        let tl = self.top as u32;
        let th = (self.top >> 32) as u32;
        let bottom = tl.wrapping_sub(w - 1);
        let seq_high = if tl >= w - 1 {
            // Case A: the window lies within one 2^32 sub-space.
            if seq_low >= bottom {
                th
            } else {
                th.checked_add(1)?
            }
        } else if seq_low >= bottom {
            // Case B: the window spans two sub-spaces and the packet is in the lower one.
            th.checked_sub(1)?
        } else {
            th
        };
        Some((u64::from(seq_high) << 32) | u64::from(seq_low))
    }

    /// Check a received sequence number before decryption: infer its high bits and refuse
    /// replays and packets left of the window. Does not change the window.
    pub fn check(&self, seq_low: u32) -> Result<u64, DropReason> {
        let seq = self.infer(seq_low).ok_or(DropReason::TooOld)?;
        if seq == 0 {
            // Sequence number 0 is never sent (RFC 4303 §3.3.3).
            return Err(DropReason::TooOld);
        }
        if self.size == 0 || seq > self.top {
            return Ok(seq);
        }
        if seq <= self.top.saturating_sub(u64::from(self.size)) {
            return Err(DropReason::TooOld);
        }
        let (block, bit) = self.position(seq);
        match self.blocks.get(block) {
            Some(b) if b & bit != 0 => Err(DropReason::Replay),
            _ => Ok(seq),
        }
    }

    /// Record `seq` (from [`ReplayWindow::check`]) as received, once its ICV verified.
    pub fn accept(&mut self, seq: u64) {
        if seq > self.top {
            if !self.blocks.is_empty() {
                // Clear the blocks the window moves into (RFC 6479 §2.3).
                let old = self.top >> 6;
                let new = seq >> 6;
                let n = (new - old).min(self.blocks.len() as u64);
                let mask = self.blocks.len() as u64 - 1;
                for i in 1..=n {
                    if let Some(b) = self.blocks.get_mut(((old + i) & mask) as usize) {
                        *b = 0;
                    }
                }
            }
            self.top = seq;
        }
        if self.size != 0 {
            let (block, bit) = self.position(seq);
            if let Some(b) = self.blocks.get_mut(block) {
                *b |= bit;
            }
        }
    }

    fn position(&self, seq: u64) -> (usize, u64) {
        let mask = (self.blocks.len() as u64).saturating_sub(1);
        (((seq >> 6) & mask) as usize, 1u64 << (seq & 63))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(w: &mut ReplayWindow, seq: u32) -> Result<u64, DropReason> {
        let s = w.check(seq)?;
        w.accept(s);
        Ok(s)
    }

    #[test]
    fn duplicates_and_window_edges() {
        let mut w = ReplayWindow::new(64, false).unwrap();
        assert_eq!(take(&mut w, 0), Err(DropReason::TooOld));
        for s in 1..=100 {
            assert_eq!(take(&mut w, s), Ok(u64::from(s)));
        }
        assert_eq!(take(&mut w, 100), Err(DropReason::Replay));
        assert_eq!(take(&mut w, 37), Err(DropReason::Replay)); // 100-64+1 = 37: left edge, seen
        assert_eq!(take(&mut w, 36), Err(DropReason::TooOld)); // just outside
                                                               // A gap: after 150, 101..=149 are new and inside the window (150-64+1 = 87).
        assert_eq!(take(&mut w, 150), Ok(150));
        assert_eq!(take(&mut w, 101), Ok(101));
        assert_eq!(take(&mut w, 87), Err(DropReason::Replay));
        assert_eq!(take(&mut w, 86), Err(DropReason::TooOld));
        assert_eq!(take(&mut w, 149), Ok(149));
        assert_eq!(take(&mut w, 149), Err(DropReason::Replay));
    }

    #[test]
    fn check_alone_does_not_move_the_window() {
        let mut w = ReplayWindow::new(1024, false).unwrap();
        take(&mut w, 10).unwrap();
        assert_eq!(w.check(5000), Ok(5000)); // e.g. a forged packet whose ICV will fail
        assert_eq!(w.highest(), 10);
        assert_eq!(take(&mut w, 9), Ok(9));
    }

    #[test]
    fn large_jumps_clear_stale_bits() {
        for size in [32, 64, 1024, 4096, MAX_REPLAY_WINDOW] {
            let mut w = ReplayWindow::new(size, false).unwrap();
            for s in 1..=200 {
                take(&mut w, s).unwrap();
            }
            // Jump far ahead: nothing of the old bitmap may make new numbers look replayed.
            let far = 200 + 10 * size + 7;
            take(&mut w, far).unwrap();
            for s in (far - size + 1)..far {
                assert_eq!(w.check(s), Ok(u64::from(s)), "size {size} seq {s}");
            }
            assert_eq!(w.check(far - size), Err(DropReason::TooOld));
            // Jump by exactly one ring's worth of blocks.
            let next = far + (w.blocks.len() as u32) * 64;
            take(&mut w, next).unwrap();
            assert_eq!(w.check(next - 1), Ok(u64::from(next - 1)));
            assert_eq!(w.check(next), Err(DropReason::Replay));
        }
    }

    #[test]
    fn window_off_accepts_everything_but_zero() {
        let mut w = ReplayWindow::new(0, false).unwrap();
        assert_eq!(take(&mut w, 5), Ok(5));
        assert_eq!(take(&mut w, 5), Ok(5));
        assert_eq!(take(&mut w, 1), Ok(1));
        assert_eq!(take(&mut w, 0), Err(DropReason::TooOld));
        assert!(ReplayWindow::new(MAX_REPLAY_WINDOW + 1, false).is_none());
    }

    #[test]
    fn esn_rollover_across_2_pow_32() {
        let mut w = ReplayWindow::new(128, true).unwrap();
        let start = (1u64 << 32) - 100;
        // Get the window near the top of the first sub-space.
        w.accept(start);
        for low in (start as u32 + 1)..=u32::MAX {
            if low != u32::MAX - 3 {
                assert_eq!(take(&mut w, low), Ok(u64::from(low)));
            }
        }
        // Low bits wrap: inferred into the next sub-space (case A, seq below the window).
        assert_eq!(take(&mut w, 0), Ok(1u64 << 32));
        assert_eq!(take(&mut w, 5), Ok((1u64 << 32) + 5));
        // Now Tl = 5 < W-1: case B; a late packet from the old sub-space still maps there.
        assert_eq!(take(&mut w, u32::MAX - 3), Ok(u64::from(u32::MAX - 3)));
        assert_eq!(take(&mut w, u32::MAX - 3), Err(DropReason::Replay));
        // One further back than the window is read as ahead in the current sub-space
        // (RFC 4303 appendix A3); its ICV check, computed with those high bits, would refuse it.
        assert_eq!(w.check(u32::MAX - 200), Ok((1u64 << 32) + u64::from(u32::MAX - 200)));
        // New numbers in the current sub-space.
        assert_eq!(take(&mut w, 6), Ok((1u64 << 32) + 6));
    }

    #[test]
    fn esn_start_of_space_has_no_negative_subspace() {
        let w = ReplayWindow::new(64, true).unwrap();
        // Top 0, Tl < W-1 (case B), seq in the "previous" sub-space would need Th-1 < 0.
        assert_eq!(w.check(u32::MAX), Err(DropReason::TooOld));
        assert_eq!(w.check(1), Ok(1));
    }
}
