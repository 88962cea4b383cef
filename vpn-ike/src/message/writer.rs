//! A writer that appends to a `Vec<u8>` and patches length fields when a structure closes.

use alloc::vec::Vec;

/// Appends big-endian fields to a vector.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

/// A length field written as zeros, to be filled in by [`Writer::patch_len16`] or
/// [`Writer::patch_len32`] once the structure it measures is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a length placeholder must be patched"]
pub struct LengthField {
    at: usize,
}

impl<'a> Writer<'a> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Writer { buf }
    }

    /// Current length of the underlying vector (the position of the next byte).
    pub fn position(&self) -> usize {
        self.buf.len()
    }

    /// One octet.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A big-endian 16-bit integer.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian 32-bit integer.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian 64-bit integer.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Raw bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// Writes a 2-byte length placeholder.
    pub fn len16(&mut self) -> LengthField {
        let at = self.position();
        self.u16(0);
        LengthField { at }
    }

    /// Writes a 4-byte length placeholder.
    pub fn len32(&mut self) -> LengthField {
        let at = self.position();
        self.u32(0);
        LengthField { at }
    }

    /// Fills a 2-byte placeholder with the number of bytes written since `start`. A length beyond
    /// 65535 (which only a caller-built value can produce) is written as 65535.
    pub fn patch_len16(&mut self, field: LengthField, start: usize) {
        let len = u16::try_from(self.position().saturating_sub(start)).unwrap_or(u16::MAX);
        if let Some(slot) = self.buf.get_mut(field.at..field.at.saturating_add(2)) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
    }

    /// Fills a 4-byte placeholder with the number of bytes written since `start`.
    pub fn patch_len32(&mut self, field: LengthField, start: usize) {
        let len = u32::try_from(self.position().saturating_sub(start)).unwrap_or(u32::MAX);
        if let Some(slot) = self.buf.get_mut(field.at..field.at.saturating_add(4)) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
    }
}

/// `len` as a one-octet count or size field (saturating: only caller-built values overflow).
pub(crate) fn sat_u8(len: usize) -> u8 {
    u8::try_from(len).unwrap_or(u8::MAX)
}

/// `len` as a two-octet count or size field (saturating).
pub(crate) fn sat_u16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn patches_lengths() {
        let mut v = vec![0xaa];
        let mut w = Writer::new(&mut v);
        let start = w.position();
        w.u8(1);
        let l = w.len16();
        w.u32(0x0203_0405);
        w.patch_len16(l, start);
        let l32 = w.len32();
        w.u64(7);
        w.bytes(&[9]);
        w.patch_len32(l32, start);
        assert_eq!(v, [0xaa, 1, 0, 7, 2, 3, 4, 5, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 7, 9]);
    }
}
