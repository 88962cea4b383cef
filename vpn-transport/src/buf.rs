//! Pre-allocated packet buffers: a batch of equal slots, each with headroom before the packet
//! and tailroom after it, so ESP can be added or removed in place (no allocation per packet).
#![forbid(unsafe_code)]

use std::ops::Range;

/// Default headroom: room for the ESP header and IV (8 + 16 bytes) with space to spare.
pub const DEFAULT_HEADROOM: usize = 64;
/// Default tailroom: ESP padding (up to 15 bytes), the pad length and next header bytes, and
/// an ICV of up to 32 bytes, with space to spare.
pub const DEFAULT_TAILROOM: usize = 64;

/// A fixed number of equal slots in one allocation, filled from the front. Slot `i` holds one
/// packet at `range(i)` (relative to the slot) and its metadata `M` (for UDP, who sent it).
///
/// Indexing a slot that is not filled (`i >= len()`) panics, as slice indexing does.
#[derive(Debug, Clone)]
pub struct PacketBatch<M> {
    storage: Vec<u8>,
    stride: usize,
    headroom: usize,
    capacity: usize,
    slots: usize,
    entries: Vec<(Range<usize>, M)>,
}

impl<M: Copy> PacketBatch<M> {
    /// `slots` slots, each taking a packet of up to `capacity` bytes at offset `headroom`, with
    /// `tailroom` bytes after it.
    pub fn new(slots: usize, headroom: usize, capacity: usize, tailroom: usize) -> Self {
        let stride = headroom + capacity + tailroom;
        PacketBatch {
            storage: vec![0; stride * slots],
            stride,
            headroom,
            capacity,
            slots,
            entries: Vec::with_capacity(slots),
        }
    }

    /// `slots` slots for packets up to `capacity` bytes with the default headroom and tailroom.
    pub fn with_defaults(slots: usize, capacity: usize) -> Self {
        Self::new(slots, DEFAULT_HEADROOM, capacity, DEFAULT_TAILROOM)
    }

    /// How many slots there are.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// How many slots are filled.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no slot is filled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether every slot is filled.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.slots
    }

    /// Empty the batch (the memory stays).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Bytes before each packet as it is received or read.
    pub fn headroom(&self) -> usize {
        self.headroom
    }

    /// The largest packet a slot takes when it is received or read.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes per slot (headroom + capacity + tailroom).
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Metadata of packet `i`.
    pub fn meta(&self, i: usize) -> &M {
        &self.entries[i].1
    }

    /// Where packet `i` lies inside its slot.
    pub fn range(&self, i: usize) -> Range<usize> {
        self.entries[i].0.clone()
    }

    /// Packet `i`.
    pub fn packet(&self, i: usize) -> &[u8] {
        let (r, _) = &self.entries[i];
        &self.slot_bytes(i)[r.clone()]
    }

    /// The whole slot of packet `i` and where the packet lies in it: hand both to
    /// `encapsulate`/`decapsulate` to transform the packet in place, then record where the
    /// result lies with [`PacketBatch::set_range`].
    pub fn slot_mut(&mut self, i: usize) -> (&mut [u8], Range<usize>) {
        let r = self.entries[i].0.clone();
        let s = i * self.stride;
        (&mut self.storage[s..s + self.stride], r)
    }

    /// Record that packet `i` now lies at `range` in its slot.
    ///
    /// # Panics
    /// If `range` does not fit in the slot.
    pub fn set_range(&mut self, i: usize, range: Range<usize>) {
        assert!(range.start <= range.end && range.end <= self.stride, "range outside the slot");
        self.entries[i].0 = range;
    }

    /// Iterate over (metadata, packet) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&M, &[u8])> + '_ {
        self.entries.iter().enumerate().map(move |(i, (r, m))| (m, &self.slot_bytes(i)[r.clone()]))
    }

    /// Fill the next free slot: `fill` gets the packet area (`capacity` bytes at the headroom)
    /// and returns the length written and the metadata, or `None` to leave the slot free.
    /// Returns whether a packet was added (`false` also when the batch is full).
    pub fn push_with(&mut self, fill: impl FnOnce(&mut [u8]) -> Option<(usize, M)>) -> bool {
        if self.is_full() {
            return false;
        }
        let s = self.entries.len() * self.stride + self.headroom;
        let area = &mut self.storage[s..s + self.capacity];
        match fill(area) {
            Some((len, meta)) => {
                let len = len.min(self.capacity);
                self.entries.push((self.headroom..self.headroom + len, meta));
                true
            }
            None => false,
        }
    }

    /// Copy `packet` into the next free slot at the headroom. Returns `false` if the batch is
    /// full or the packet is longer than [`PacketBatch::capacity`].
    pub fn push(&mut self, packet: &[u8], meta: M) -> bool {
        if packet.len() > self.capacity {
            return false;
        }
        self.push_with(|area| {
            area[..packet.len()].copy_from_slice(packet);
            Some((packet.len(), meta))
        })
    }

    fn slot_bytes(&self, i: usize) -> &[u8] {
        let s = i * self.stride;
        &self.storage[s..s + self.stride]
    }
}

/// What the UDP receive path needs to fill slots in place.
#[cfg(feature = "udp")]
impl<M: Copy> PacketBatch<M> {
    /// The storage from the first free slot on, and the number of free slots.
    pub(crate) fn free_area(&mut self) -> (&mut [u8], usize) {
        let first = self.entries.len();
        (&mut self.storage[first * self.stride..], self.slots - first)
    }

    /// Slot `idx`, filled or not.
    pub(crate) fn raw_slot(&self, idx: usize) -> &[u8] {
        self.slot_bytes(idx)
    }

    /// Index the next committed packet will get.
    pub(crate) fn next_index(&self) -> usize {
        self.entries.len()
    }

    /// Move the contents of slot `from` (a free slot, already written) to slot `to`.
    pub(crate) fn move_slot(&mut self, from: usize, to: usize) {
        if from != to {
            self.storage.copy_within(from * self.stride..(from + 1) * self.stride, to * self.stride);
        }
    }

    /// Mark the next free slot filled, with its packet at `range`.
    pub(crate) fn commit(&mut self, range: Range<usize>, meta: M) {
        debug_assert!(!self.is_full() && range.end <= self.stride);
        self.entries.push((range, meta));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_fill_from_the_front_and_keep_headroom() {
        let mut b: PacketBatch<u8> = PacketBatch::new(3, 16, 100, 8);
        assert_eq!(b.stride(), 124);
        assert!(b.push(&[1, 2, 3], 7));
        assert!(!b.push(&[0; 101], 8), "longer than the capacity");
        assert!(b.push_with(|a| {
            a[..2].copy_from_slice(&[9, 9]);
            Some((2, 8))
        }));
        assert!(!b.push_with(|_| None));
        assert_eq!(b.len(), 2);
        assert_eq!(b.packet(0), &[1, 2, 3]);
        assert_eq!(b.range(1), 16..18);
        assert_eq!(*b.meta(1), 8);
        let (slot, r) = b.slot_mut(0);
        assert_eq!(slot.len(), 124);
        slot[r.start - 1] = 0xee;
        b.set_range(0, 15..19);
        assert_eq!(b.packet(0), &[0xee, 1, 2, 3]);
        assert!(b.push(&[4], 9));
        assert!(b.is_full());
        assert!(!b.push(&[5], 9));
        let all: Vec<_> = b.iter().map(|(m, p)| (*m, p.len())).collect();
        assert_eq!(all, vec![(7, 4), (8, 2), (9, 1)]);
        b.clear();
        assert!(b.is_empty());
    }
}
