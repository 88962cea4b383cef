//! A bounds-checked reader over received bytes (the shape of rustls' `codec::Reader`).
//!
//! Every accessor checks the length first and returns [`DecodeError::Truncated`] instead of
//! panicking; [`Reader::finish`] rejects bytes that were not consumed.

use super::DecodeError;

/// A cursor over a byte slice that consumes from the front.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over all of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// True when everything has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, tail) = self.buf.split_at_checked(n).ok_or(DecodeError::Truncated)?;
        self.buf = tail;
        Ok(head)
    }

    /// A reader over the next `n` bytes (a nested structure with its own length).
    pub fn sub(&mut self, n: usize) -> Result<Reader<'a>, DecodeError> {
        self.take(n).map(Reader::new)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        <[u8; N]>::try_from(s).map_err(|_| DecodeError::Truncated)
    }

    /// One octet.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        self.array::<1>().map(|[b]| b)
    }

    /// A big-endian 16-bit integer.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian 32-bit integer.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    /// A big-endian 64-bit integer.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    /// Succeeds only when every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_checks_lengths() {
        let mut r = Reader::new(&[1, 0, 2, 0, 0, 0, 3, 9]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u32(), Ok(3));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes));
        assert_eq!(r.u16(), Err(DecodeError::Truncated));
        // A failed read consumes nothing.
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.take(2), Err(DecodeError::Truncated));
        assert_eq!(r.rest(), &[9]);
        assert_eq!(r.finish(), Ok(()));
        assert_eq!(r.u64(), Err(DecodeError::Truncated));
    }

    #[test]
    fn sub_reader_is_bounded() {
        let mut r = Reader::new(&[0, 1, 2, 3]);
        let mut s = r.sub(2).unwrap();
        assert_eq!(s.u16(), Ok(1));
        assert_eq!(s.u8(), Err(DecodeError::Truncated));
        assert_eq!(r.u16(), Ok(0x0203));
        assert!(r.sub(1).is_err());
    }
}
