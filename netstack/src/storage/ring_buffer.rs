//! A byte ring for socket data, allocated lazily and released when drained.
//!
//! The ring has a fixed logical [`capacity`](RingBuffer::capacity) (the
//! socket buffer size; the TCP window is computed from it) and a physical
//! allocation that starts empty, grows by doubling from
//! [`INITIAL_ALLOCATION`] up to the capacity when data needs the room, and is
//! freed when the ring drains empty. Growth linearises the contents, so data
//! that wraps survives it.
//!
//! Two regions matter to TCP:
//! - the *allocated* region: queued bytes, read with [`dequeue_with`] or
//!   borrowed without consuming by [`get_allocated`] (for (re)transmission);
//! - the *unallocated* region after it: free space into which the receive
//!   path writes out-of-order data with [`write_unallocated`] and later
//!   commits it with [`enqueue_unallocated`]. The ring remembers how far such
//!   writes reach and keeps (and preserves across growth) that storage even
//!   when the allocated region is empty.
//!
//! Do not mix `write_unallocated` with `enqueue_slice`/`enqueue_with` on one
//! ring: an enqueue overwrites out-of-order bytes (a socket uses the first
//! pair on its receive ring and the second on its send ring).
//!
//! [`dequeue_with`]: RingBuffer::dequeue_with
//! [`get_allocated`]: RingBuffer::get_allocated
//! [`write_unallocated`]: RingBuffer::write_unallocated
//! [`enqueue_unallocated`]: RingBuffer::enqueue_unallocated

/// First allocation size (or the capacity, if smaller).
pub const INITIAL_ALLOCATION: usize = 4096;

/// A byte ring with a fixed capacity and a lazily grown allocation.
#[derive(Debug, Default)]
pub struct RingBuffer {
    /// The allocation; empty while the ring holds nothing.
    storage: Vec<u8>,
    /// Index in `storage` of the first queued byte.
    read_at: usize,
    /// Queued bytes.
    length: usize,
    /// Fixed logical size.
    capacity: usize,
    /// How far past the queued bytes `write_unallocated` has written data
    /// that may still be enqueued. Such bytes pin the allocation.
    unallocated_dirty: usize,
}

impl RingBuffer {
    /// An empty ring that may hold up to `capacity` bytes. Allocates nothing.
    pub const fn new(capacity: usize) -> RingBuffer {
        RingBuffer {
            storage: Vec::new(),
            read_at: 0,
            length: 0,
            capacity,
            unallocated_dirty: 0,
        }
    }

    /// The fixed logical size.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.length
    }

    /// Bytes that may still be queued: `capacity() - len()`.
    pub fn window(&self) -> usize {
        self.capacity - self.length
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Whether `len() == capacity()`.
    pub fn is_full(&self) -> bool {
        self.length == self.capacity
    }

    /// Bytes of memory currently allocated (for memory accounting and tests).
    pub fn allocated(&self) -> usize {
        self.storage.len()
    }

    /// Drop all queued and out-of-order data and release the allocation.
    pub fn clear(&mut self) {
        self.storage = Vec::new();
        self.read_at = 0;
        self.length = 0;
        self.unallocated_dirty = 0;
    }

    /// Map a logical index `read_at + offset` (less than twice the
    /// allocation) into `storage`.
    fn wrap(&self, index: usize) -> usize {
        debug_assert!(self.storage.is_empty() || index < 2 * self.storage.len());
        if index >= self.storage.len() {
            index - self.storage.len()
        } else {
            index
        }
    }

    /// Make the allocation at least `min(needed, capacity)` bytes, doubling
    /// from the current size. Queued bytes and out-of-order bytes are kept
    /// and moved to the start of the new allocation.
    fn reserve_total(&mut self, needed: usize) {
        let needed = needed.min(self.capacity);
        let old_size = self.storage.len();
        if old_size >= needed {
            return;
        }
        let mut size = if old_size == 0 {
            INITIAL_ALLOCATION.min(self.capacity)
        } else {
            old_size
        };
        while size < needed {
            size = size.saturating_mul(2).min(self.capacity);
        }
        let mut storage = vec![0u8; size];
        let keep = (self.length + self.unallocated_dirty).min(old_size);
        if keep > 0 {
            let first = keep.min(old_size - self.read_at);
            storage[..first].copy_from_slice(&self.storage[self.read_at..self.read_at + first]);
            storage[first..keep].copy_from_slice(&self.storage[..keep - first]);
        }
        self.storage = storage;
        self.read_at = 0;
    }

    /// Release the allocation if nothing in it is worth keeping.
    fn release_if_drained(&mut self) {
        if self.length == 0 && self.unallocated_dirty == 0 {
            self.storage = Vec::new();
            self.read_at = 0;
        }
    }

    /// Copy `data` into the ring starting `offset` bytes after `read_at`,
    /// wrapping. The caller has checked the allocation covers it.
    fn write_at(&mut self, offset: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        debug_assert!(offset + data.len() <= self.storage.len());
        let start = self.wrap(self.read_at + offset);
        let first = data.len().min(self.storage.len() - start);
        self.storage[start..start + first].copy_from_slice(&data[..first]);
        self.storage[..data.len() - first].copy_from_slice(&data[first..]);
    }

    /// Queue as much of `data` as fits; returns the number of bytes queued.
    pub fn enqueue_slice(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.window());
        if n == 0 {
            return 0;
        }
        self.reserve_total(self.length + n);
        self.write_at(self.length, &data[..n]);
        self.length += n;
        self.unallocated_dirty = self.unallocated_dirty.saturating_sub(n);
        n
    }

    /// Let `f` write straight into the contiguous free space after the
    /// queued bytes and queue the number of bytes it returns (clamped to the
    /// slice it was given). The slice may be shorter than `window()` (at
    /// the wrap, or before the allocation has grown); it is empty only when
    /// the ring is full. Grows the allocation when it is full.
    pub fn enqueue_with<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> (usize, R) {
        if self.window() == 0 {
            return f(&mut []);
        }
        if self.storage.len() == self.length {
            self.reserve_total(self.length + 1);
        }
        let size = self.storage.len();
        let write_at = self.wrap(self.read_at + self.length);
        let end = if write_at >= self.read_at && !(self.length > 0 && write_at == self.read_at) {
            size
        } else {
            self.read_at
        };
        let (n, r) = f(&mut self.storage[write_at..end]);
        debug_assert!(
            n <= end - write_at,
            "enqueue_with: closure claimed more than it was given"
        );
        let n = n.min(end - write_at);
        self.length += n;
        self.unallocated_dirty = self.unallocated_dirty.saturating_sub(n);
        (n, r)
    }

    /// Make at least `min(additional, window())` bytes of free space
    /// allocated, so that a following `enqueue_with` sees more room.
    pub fn reserve(&mut self, additional: usize) {
        self.reserve_total(self.length + additional.min(self.window()));
    }

    /// Let `f` read the contiguous queued bytes at the front and dequeue
    /// the number it returns (clamped). The slice may be shorter than
    /// `len()` at the wrap; it is empty only when the ring is empty.
    pub fn dequeue_with<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> (usize, R) {
        let avail = self.length.min(self.storage.len() - self.read_at);
        let (n, r) = f(&self.storage[self.read_at..self.read_at + avail]);
        debug_assert!(
            n <= avail,
            "dequeue_with: closure claimed more than it was given"
        );
        let n = n.min(avail);
        self.dequeue_allocated(n);
        (n, r)
    }

    /// Dequeue up to `buf.len()` bytes into `buf`; returns the count.
    pub fn dequeue_slice(&mut self, buf: &mut [u8]) -> usize {
        let n = self.read_allocated(0, buf);
        self.dequeue_allocated(n);
        n
    }

    /// Borrow up to `size` queued bytes starting `offset` bytes after the
    /// front, without dequeuing. Contiguous, so it may be shorter than asked
    /// at the wrap; empty if `offset >= len()`.
    pub fn get_allocated(&self, offset: usize, size: usize) -> &[u8] {
        if offset >= self.length {
            return &[];
        }
        let size = size.min(self.length - offset);
        let start = self.wrap(self.read_at + offset);
        let size = size.min(self.storage.len() - start);
        &self.storage[start..start + size]
    }

    /// Copy queued bytes starting `offset` after the front into `buf`,
    /// across the wrap, without dequeuing; returns the count.
    pub fn read_allocated(&self, offset: usize, buf: &mut [u8]) -> usize {
        let first = self.get_allocated(offset, buf.len());
        let n1 = first.len();
        buf[..n1].copy_from_slice(first);
        let second = self.get_allocated(offset + n1, buf.len() - n1);
        let n2 = second.len();
        buf[n1..n1 + n2].copy_from_slice(second);
        n1 + n2
    }

    /// Drop up to `n` bytes from the front; returns the count dropped.
    /// Releases the allocation when the ring drains empty (unless
    /// out-of-order data is pending past it).
    pub fn dequeue_allocated(&mut self, n: usize) -> usize {
        let n = n.min(self.length);
        if n == 0 {
            return 0;
        }
        self.read_at = self.wrap(self.read_at + n);
        self.length -= n;
        self.release_if_drained();
        n
    }

    /// Write `data` into the free region starting `offset` bytes after the
    /// queued bytes, without queuing it; returns how many bytes fit (those
    /// beyond `window()` are cut off).
    pub fn write_unallocated(&mut self, offset: usize, data: &[u8]) -> usize {
        let Some(room) = self.window().checked_sub(offset) else {
            return 0;
        };
        let n = data.len().min(room);
        if n == 0 {
            return 0;
        }
        self.reserve_total(self.length + offset + n);
        self.write_at(self.length + offset, &data[..n]);
        self.unallocated_dirty = self.unallocated_dirty.max(offset + n);
        n
    }

    /// Queue `n` bytes of the free region, previously filled by
    /// `write_unallocated`. Returns the count (clamped to `window()`).
    pub fn enqueue_unallocated(&mut self, n: usize) -> usize {
        debug_assert!(
            n <= self.window(),
            "enqueue_unallocated beyond the capacity"
        );
        let n = n.min(self.window());
        self.reserve_total(self.length + n);
        self.length += n;
        self.unallocated_dirty = self.unallocated_dirty.saturating_sub(n);
        n
    }

    /// Forget out-of-order bytes written past the queued data (they will
    /// not be enqueued), allowing the allocation to be released.
    pub fn discard_unallocated(&mut self) {
        self.unallocated_dirty = 0;
        self.release_if_drained();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[test]
    fn new_ring_allocates_nothing() {
        let ring = RingBuffer::new(1 << 20);
        assert_eq!(ring.capacity(), 1 << 20);
        assert_eq!(ring.window(), 1 << 20);
        assert_eq!(ring.allocated(), 0);
        assert!(ring.is_empty());
        assert!(!ring.is_full());
    }

    #[test]
    fn enqueue_allocates_initial_then_doubles() {
        let mut ring = RingBuffer::new(64 * 1024);
        assert_eq!(ring.enqueue_slice(&[1; 100]), 100);
        assert_eq!(ring.allocated(), INITIAL_ALLOCATION);
        assert_eq!(ring.enqueue_slice(&[2; 5000]), 5000);
        assert_eq!(ring.allocated(), 8192);
        assert_eq!(ring.enqueue_slice(&[3; 20000]), 20000);
        assert_eq!(ring.allocated(), 32768);
        assert_eq!(ring.len(), 25100);
    }

    #[test]
    fn allocation_never_exceeds_capacity() {
        let mut ring = RingBuffer::new(10_000);
        assert_eq!(ring.enqueue_slice(&[7; 20_000]), 10_000);
        assert_eq!(ring.allocated(), 10_000);
        assert!(ring.is_full());
        assert_eq!(ring.window(), 0);
        assert_eq!(ring.enqueue_slice(&[1]), 0);
    }

    #[test]
    fn small_capacity_allocates_only_capacity() {
        let mut ring = RingBuffer::new(100);
        ring.enqueue_slice(&[1]);
        assert_eq!(ring.allocated(), 100);
    }

    #[test]
    fn drain_releases_storage() {
        let mut ring = RingBuffer::new(1 << 16);
        ring.enqueue_slice(&[1; 3000]);
        let mut buf = [0; 3000];
        assert_eq!(ring.dequeue_slice(&mut buf), 3000);
        assert_eq!(ring.allocated(), 0);
        assert!(ring.is_empty());
    }

    #[test]
    fn growth_preserves_wrapped_data() {
        let mut ring = RingBuffer::new(1 << 16);
        let data: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
        assert_eq!(ring.enqueue_slice(&data), 4096);
        assert_eq!(ring.allocated(), 4096);
        assert_eq!(ring.dequeue_allocated(1000), 1000);
        // Wraps within the 4 KiB allocation.
        assert_eq!(ring.enqueue_slice(&data[..1000]), 1000);
        assert_eq!(ring.allocated(), 4096);
        // Needs more: grows while wrapped.
        assert_eq!(ring.enqueue_slice(&data[1000..1500]), 500);
        assert_eq!(ring.allocated(), 8192);
        let mut out = vec![0; 4596];
        assert_eq!(ring.dequeue_slice(&mut out), 4596);
        assert_eq!(&out[..3096], &data[1000..]);
        assert_eq!(&out[3096..4096], &data[..1000]);
        assert_eq!(&out[4096..], &data[1000..1500]);
    }

    #[test]
    fn get_allocated_is_contiguous_and_stops_at_wrap() {
        let mut ring = RingBuffer::new(4096);
        ring.enqueue_slice(&[1; 4000]);
        ring.dequeue_allocated(3000);
        ring.enqueue_slice(&[2; 1000]);
        // Data: 1000 bytes at 3000..4000, then 96 at 4000..4096, then 904 at 0..904.
        assert_eq!(ring.len(), 2000);
        assert_eq!(ring.get_allocated(0, 2000).len(), 1096);
        assert_eq!(ring.get_allocated(1096, 2000).len(), 904);
        assert_eq!(ring.get_allocated(500, 100), &[1; 100][..]);
        assert!(ring.get_allocated(2000, 10).is_empty());
        let mut buf = vec![0; 2000];
        assert_eq!(ring.read_allocated(0, &mut buf), 2000);
        assert_eq!(ring.len(), 2000, "read_allocated does not dequeue");
        assert_eq!(&buf[..1000], &[1; 1000][..]);
        assert_eq!(&buf[1000..], &[2; 1000][..]);
    }

    #[test]
    fn enqueue_with_gives_contiguous_free_space_and_grows_when_full() {
        let mut ring = RingBuffer::new(16384);
        let (n, ()) = ring.enqueue_with(|free| {
            assert_eq!(free.len(), INITIAL_ALLOCATION);
            free[..10].copy_from_slice(b"0123456789");
            (10, ())
        });
        assert_eq!(n, 10);
        let (n, len) = ring.enqueue_with(|free| (free.len(), free.len()));
        assert_eq!((n, len), (4086, 4086));
        assert_eq!(ring.allocated(), 4096);
        // Full allocation: the next call grows it.
        let (_, len) = ring.enqueue_with(|free| (0, free.len()));
        assert_eq!(len, 4096);
        assert_eq!(ring.allocated(), 8192);
        assert_eq!(ring.get_allocated(0, 10), b"0123456789");
    }

    #[test]
    fn enqueue_with_on_full_ring_gives_empty_slice() {
        let mut ring = RingBuffer::new(8);
        ring.enqueue_slice(&[0; 8]);
        let (n, len) = ring.enqueue_with(|free| (0, free.len()));
        assert_eq!((n, len), (0, 0));
    }

    #[test]
    fn enqueue_with_when_wrapped_stops_at_read_pointer() {
        let mut ring = RingBuffer::new(4096);
        ring.enqueue_slice(&[1; 4096]);
        ring.dequeue_allocated(100);
        ring.enqueue_slice(&[2; 50]);
        let (_, len) = ring.enqueue_with(|free| (0, free.len()));
        assert_eq!(len, 50);
    }

    #[test]
    fn dequeue_with_stops_at_wrap() {
        let mut ring = RingBuffer::new(4096);
        ring.enqueue_slice(&[1; 4096]);
        ring.dequeue_allocated(4000);
        ring.enqueue_slice(&[2; 10]);
        let (n, len) = ring.dequeue_with(|data| (data.len(), data.len()));
        assert_eq!((n, len), (96, 96));
        let (n, first) = ring.dequeue_with(|data| (data.len(), data[0]));
        assert_eq!((n, first), (10, 2));
        assert_eq!(ring.allocated(), 0);
    }

    #[test]
    fn write_unallocated_then_enqueue() {
        let mut ring = RingBuffer::new(8192);
        ring.enqueue_slice(b"abc");
        assert_eq!(ring.write_unallocated(3, b"ghi"), 3);
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.write_unallocated(0, b"def"), 3);
        assert_eq!(ring.enqueue_unallocated(6), 6);
        let mut buf = [0; 9];
        assert_eq!(ring.dequeue_slice(&mut buf), 9);
        assert_eq!(&buf, b"abcdefghi");
    }

    #[test]
    fn write_unallocated_is_clipped_to_window() {
        let mut ring = RingBuffer::new(10);
        ring.enqueue_slice(&[0; 4]);
        assert_eq!(ring.write_unallocated(4, &[1; 10]), 2);
        assert_eq!(ring.write_unallocated(6, &[1; 10]), 0);
        assert_eq!(ring.write_unallocated(100, &[1; 10]), 0);
    }

    #[test]
    fn out_of_order_data_pins_storage_when_drained() {
        let mut ring = RingBuffer::new(1 << 16);
        ring.enqueue_slice(b"in order");
        assert_eq!(ring.write_unallocated(100, b"later"), 5);
        ring.dequeue_allocated(8);
        assert!(ring.is_empty());
        assert!(
            ring.allocated() > 0,
            "out-of-order bytes must survive the drain"
        );
        assert_eq!(ring.write_unallocated(0, &[b'x'; 100]), 100);
        ring.enqueue_unallocated(105);
        assert_eq!(ring.get_allocated(100, 5), b"later");
        ring.dequeue_allocated(105);
        assert_eq!(ring.allocated(), 0);
    }

    #[test]
    fn out_of_order_data_survives_growth() {
        let mut ring = RingBuffer::new(1 << 16);
        ring.enqueue_slice(&[1; 4000]);
        ring.dequeue_allocated(3990);
        // 10 bytes queued at the end of a 4 KiB allocation; write OOO data
        // across the wrap, then force growth.
        assert_eq!(ring.write_unallocated(50, &[9; 100]), 100);
        assert_eq!(ring.write_unallocated(10_000, &[8; 10]), 10);
        assert!(ring.allocated() >= 10_020);
        assert_eq!(ring.write_unallocated(0, &[7; 50]), 50);
        ring.enqueue_unallocated(150);
        let mut buf = vec![0; 160];
        assert_eq!(ring.dequeue_slice(&mut buf), 160);
        assert_eq!(&buf[..10], &[1; 10]);
        assert_eq!(&buf[10..60], &[7; 50][..]);
        assert_eq!(&buf[60..160], &[9; 100][..]);
    }

    #[test]
    fn discard_unallocated_releases() {
        let mut ring = RingBuffer::new(1 << 16);
        ring.write_unallocated(10, b"x");
        assert!(ring.allocated() > 0);
        ring.discard_unallocated();
        assert_eq!(ring.allocated(), 0);
    }

    #[test]
    fn zero_capacity_ring_is_inert() {
        let mut ring = RingBuffer::new(0);
        assert_eq!(ring.enqueue_slice(b"x"), 0);
        assert_eq!(ring.enqueue_with(|f| (f.len(), ())).0, 0);
        assert_eq!(ring.write_unallocated(0, b"x"), 0);
        assert_eq!(ring.dequeue_with(|d| (d.len(), ())).0, 0);
        assert!(ring.is_full());
    }

    #[derive(Debug, Clone)]
    enum Op {
        EnqueueSlice(Vec<u8>),
        EnqueueWith(usize, u8),
        DequeueSlice(usize),
        DequeueWith(usize),
        GetAllocated(usize, usize),
        DequeueAllocated(usize),
        Reserve(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..9000).prop_map(Op::EnqueueSlice),
            (0usize..9000, any::<u8>()).prop_map(|(n, b)| Op::EnqueueWith(n, b)),
            (0usize..9000).prop_map(Op::DequeueSlice),
            (0usize..9000).prop_map(Op::DequeueWith),
            (0usize..20000, 0usize..9000).prop_map(|(o, s)| Op::GetAllocated(o, s)),
            (0usize..9000).prop_map(Op::DequeueAllocated),
            (0usize..20000).prop_map(Op::Reserve),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_vecdeque(capacity in 1usize..40000, ops in proptest::collection::vec(op(), 1..60)) {
            let mut ring = RingBuffer::new(capacity);
            let mut model: VecDeque<u8> = VecDeque::new();
            for op in ops {
                let was_empty = model.is_empty();
                match op {
                    Op::EnqueueSlice(data) => {
                        let n = ring.enqueue_slice(&data);
                        prop_assert_eq!(n, data.len().min(capacity - model.len()));
                        model.extend(&data[..n]);
                    }
                    Op::EnqueueWith(want, byte) => {
                        let (n, given) = ring.enqueue_with(|free| {
                            let n = want.min(free.len());
                            free[..n].fill(byte);
                            (n, free.len())
                        });
                        prop_assert!(given <= capacity - model.len());
                        prop_assert!(given > 0 || model.len() == capacity);
                        model.resize(model.len() + n, byte);
                    }
                    Op::DequeueSlice(want) => {
                        let mut buf = vec![0; want];
                        let n = ring.dequeue_slice(&mut buf);
                        prop_assert_eq!(n, want.min(model.len()));
                        let expect: Vec<u8> = model.drain(..n).collect();
                        prop_assert_eq!(&buf[..n], &expect[..]);
                    }
                    Op::DequeueWith(want) => {
                        let (n, data) = ring.dequeue_with(|d| (want.min(d.len()), d[..want.min(d.len())].to_vec()));
                        prop_assert!(n > 0 || want == 0 || model.is_empty());
                        let expect: Vec<u8> = model.drain(..n).collect();
                        prop_assert_eq!(data, expect);
                    }
                    Op::GetAllocated(offset, size) => {
                        let got = ring.get_allocated(offset, size);
                        if offset < model.len() && size > 0 {
                            prop_assert!(!got.is_empty());
                        }
                        let expect: Vec<u8> = model.iter().skip(offset).take(got.len()).copied().collect();
                        prop_assert_eq!(got, &expect[..]);
                        let mut buf = vec![0; size];
                        let n = ring.read_allocated(offset, &mut buf);
                        prop_assert_eq!(n, size.min(model.len().saturating_sub(offset)));
                        let expect: Vec<u8> = model.iter().skip(offset).take(n).copied().collect();
                        prop_assert_eq!(&buf[..n], &expect[..]);
                    }
                    Op::DequeueAllocated(n) => {
                        let n2 = ring.dequeue_allocated(n);
                        prop_assert_eq!(n2, n.min(model.len()));
                        model.drain(..n2);
                    }
                    Op::Reserve(n) => ring.reserve(n),
                }
                prop_assert_eq!(ring.len(), model.len());
                prop_assert_eq!(ring.window(), capacity - model.len());
                prop_assert!(ring.allocated() <= capacity);
                if model.is_empty() && !was_empty {
                    // Drained: the storage is released.
                    prop_assert_eq!(ring.allocated(), 0);
                }
            }
        }

        #[test]
        fn out_of_order_writes_reassemble(capacity in 1usize..20000, chunks in proptest::collection::vec((0usize..20000, 1usize..3000), 1..30), seed in any::<u8>()) {
            // Write chunks of a known stream at arbitrary offsets, then fill
            // everything in order: the result must be the stream.
            let stream: Vec<u8> = (0..capacity).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let mut ring = RingBuffer::new(capacity);
            for (offset, len) in chunks {
                let end = (offset + len).min(capacity);
                if offset >= end { continue; }
                let n = ring.write_unallocated(offset, &stream[offset..end]);
                prop_assert_eq!(n, end - offset);
            }
            prop_assert_eq!(ring.write_unallocated(0, &stream), capacity);
            prop_assert_eq!(ring.enqueue_unallocated(capacity), capacity);
            let mut out = vec![0; capacity];
            prop_assert_eq!(ring.dequeue_slice(&mut out), capacity);
            prop_assert_eq!(out, stream);
        }
    }
}
