//! Out-of-order range tracking for the receive path.
//!
//! An [`Assembler`] records which byte ranges past the front of the receive
//! window (offset 0 = `RCV.NXT`) have arrived. It is a sorted fixed array of
//! at most [`ASSEMBLER_MAX_RANGES`] disjoint, non-adjacent ranges: adding a
//! segment never allocates, and one that would need more ranges is refused
//! with [`TooManyHoles`] (the caller drops it; the peer retransmits).
//! Offsets are `u32` internally: a receive window is below 2^30 bytes
//! (RFC 7323 §2.3).

use core::fmt;

/// Most disjoint out-of-order ranges tracked at once. Linux keeps an
/// unbounded rbtree; a small bound drops out-of-order segments under heavy
/// reordering (a burst permuted in flight leaves many holes at once), which
/// turns reordering into loss. 32 ranges cost 256 bytes per socket.
pub const ASSEMBLER_MAX_RANGES: usize = 32;

/// A range could not be added: it would need more than
/// [`ASSEMBLER_MAX_RANGES`] ranges. The segment is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyHoles;

impl fmt::Display for TooManyHoles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many holes in the receive window; segment dropped")
    }
}

impl std::error::Error for TooManyHoles {}

/// Received ranges relative to the front of the receive window.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Assembler {
    /// `[start, end)` pairs, sorted, disjoint and not touching; only the
    /// first `count` are meaningful.
    ranges: [(u32, u32); ASSEMBLER_MAX_RANGES],
    count: u8,
}

impl fmt::Debug for Assembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.ranges().map(|(s, e)| s..e))
            .finish()
    }
}

impl Assembler {
    /// No ranges.
    pub const fn new() -> Assembler {
        Assembler {
            ranges: [(0, 0); ASSEMBLER_MAX_RANGES],
            count: 0,
        }
    }

    /// Whether no range is recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of disjoint ranges recorded.
    pub fn range_count(&self) -> usize {
        usize::from(self.count)
    }

    /// Forget every range.
    pub fn clear(&mut self) {
        self.count = 0;
    }

    fn live(&self) -> &[(u32, u32)] {
        &self.ranges[..usize::from(self.count)]
    }

    /// The recorded ranges as `(start, end)` offsets, ascending.
    pub fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.live().iter().map(|&(s, e)| (s as usize, e as usize))
    }

    /// The range containing or touching `offset`, if any.
    pub fn range_containing(&self, offset: usize) -> Option<(usize, usize)> {
        self.ranges().find(|&(s, e)| s <= offset && offset <= e)
    }

    /// Record that `[offset, offset + size)` has arrived, merging with
    /// ranges it overlaps or touches. On error nothing changes.
    pub fn add(&mut self, offset: usize, size: usize) -> Result<(), TooManyHoles> {
        if size == 0 {
            return Ok(());
        }
        let (Ok(mut start), Ok(mut end)) = (
            u32::try_from(offset),
            u32::try_from(offset.saturating_add(size)),
        ) else {
            return Err(TooManyHoles);
        };
        let count = usize::from(self.count);
        // ranges[first..last] overlap or touch the new one.
        let first = self
            .live()
            .iter()
            .position(|&(_, e)| e >= start)
            .unwrap_or(count);
        let last = first
            + self.live()[first..]
                .iter()
                .take_while(|&&(s, _)| s <= end)
                .count();
        if first < last {
            start = start.min(self.ranges[first].0);
            end = end.max(self.ranges[last - 1].1);
        }
        let new_count = count - (last - first) + 1;
        if new_count > ASSEMBLER_MAX_RANGES {
            return Err(TooManyHoles);
        }
        // Replace ranges[first..last] with the single merged range.
        if last == first {
            self.ranges.copy_within(first..count, first + 1);
        } else {
            self.ranges.copy_within(last..count, first + 1);
        }
        self.ranges[first] = (start, end);
        // NOTE(cast): new_count <= ASSEMBLER_MAX_RANGES, which fits in u8.
        self.count = new_count as u8;
        debug_assert!(self.is_well_formed());
        Ok(())
    }

    /// If a range starts at offset 0, remove it and return its length: the
    /// bytes now contiguous at the front. Remaining offsets shift down by
    /// that length. Otherwise return 0.
    pub fn remove_front(&mut self) -> usize {
        match self.live().first() {
            Some(&(0, end)) => {
                let count = usize::from(self.count);
                self.ranges.copy_within(1..count, 0);
                self.count -= 1;
                self.shift(end);
                end as usize
            }
            _ => 0,
        }
    }

    /// Add `[offset, offset + size)` then [`remove_front`](Self::remove_front).
    /// An in-order range (`offset == 0`) always succeeds, even when every
    /// slot is taken: the front moves up instead of a range being added.
    pub fn add_then_remove_front(
        &mut self,
        offset: usize,
        size: usize,
    ) -> Result<usize, TooManyHoles> {
        if offset == 0 {
            let before_first = match self.live().first() {
                None => true,
                Some(&(start, _)) => (size as u64) < u64::from(start),
            };
            if before_first {
                // NOTE(cast): size < first start (a u32), or there are no ranges
                // to shift, in which case the value is unused.
                self.shift(size.min(u32::MAX as usize) as u32);
                return Ok(size);
            }
        }
        self.add(offset, size)?;
        Ok(self.remove_front())
    }

    /// Move the front up by `n` bytes: forget everything below `n` (cutting
    /// a range that straddles it) and shift the rest down. For a sender's
    /// SACK scoreboard, whose front is SND.UNA.
    pub fn advance(&mut self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let count = usize::from(self.count);
        let gone = self.live().iter().take_while(|&&(_, e)| e <= n).count();
        self.ranges.copy_within(gone..count, 0);
        // NOTE(cast): gone <= count, a u8.
        self.count -= gone as u8;
        if let Some(first) = self.ranges[..usize::from(self.count)].first_mut() {
            first.0 = first.0.max(n);
        }
        self.shift(n);
        debug_assert!(self.is_well_formed());
    }

    /// Bytes recorded below offset `limit`.
    pub fn len_below(&self, limit: usize) -> usize {
        self.ranges()
            .map(|(s, e)| e.min(limit).saturating_sub(s))
            .sum()
    }

    /// The first range that ends after `offset` (it may contain `offset`).
    pub fn range_after(&self, offset: usize) -> Option<(usize, usize)> {
        self.ranges().find(|&(_, e)| e > offset)
    }

    /// Move the front of the window up by `n`; every range starts at or
    /// after `n`.
    fn shift(&mut self, n: u32) {
        let count = usize::from(self.count);
        for range in &mut self.ranges[..count] {
            debug_assert!(range.0 >= n);
            range.0 -= n;
            range.1 -= n;
        }
    }

    fn is_well_formed(&self) -> bool {
        let live = self.live();
        live.iter().all(|&(s, e)| s < e) && live.windows(2).all(|w| w[0].1 < w[1].0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ranges(a: &Assembler) -> Vec<(usize, usize)> {
        a.ranges().collect()
    }

    #[test]
    fn empty() {
        let mut a = Assembler::new();
        assert!(a.is_empty());
        assert_eq!(a.remove_front(), 0);
        assert_eq!(a.add(5, 0), Ok(()));
        assert!(a.is_empty());
    }

    #[test]
    fn disjoint_ranges_stay_sorted() {
        let mut a = Assembler::new();
        a.add(20, 5).unwrap();
        a.add(5, 5).unwrap();
        a.add(40, 1).unwrap();
        assert_eq!(ranges(&a), [(5, 10), (20, 25), (40, 41)]);
    }

    #[test]
    fn touching_ranges_merge() {
        let mut a = Assembler::new();
        a.add(5, 5).unwrap();
        a.add(10, 5).unwrap();
        a.add(0, 5).unwrap();
        assert_eq!(ranges(&a), [(0, 15)]);
    }

    #[test]
    fn overlapping_range_bridges_several() {
        let mut a = Assembler::new();
        a.add(10, 2).unwrap();
        a.add(20, 2).unwrap();
        a.add(30, 2).unwrap();
        a.add(50, 2).unwrap();
        a.add(11, 20).unwrap();
        assert_eq!(ranges(&a), [(10, 32), (50, 52)]);
    }

    #[test]
    fn contained_range_changes_nothing() {
        let mut a = Assembler::new();
        a.add(10, 20).unwrap();
        a.add(12, 3).unwrap();
        assert_eq!(ranges(&a), [(10, 30)]);
    }

    #[test]
    fn remove_front_shifts_the_rest() {
        let mut a = Assembler::new();
        a.add(0, 10).unwrap();
        a.add(15, 5).unwrap();
        assert_eq!(a.remove_front(), 10);
        assert_eq!(ranges(&a), [(5, 10)]);
        assert_eq!(a.remove_front(), 0);
    }

    #[test]
    fn too_many_holes_is_refused_without_change() {
        let mut a = Assembler::new();
        for i in 0..ASSEMBLER_MAX_RANGES {
            a.add(10 + 10 * i, 1).unwrap();
        }
        let before = a.clone();
        assert_eq!(a.add(1000, 1), Err(TooManyHoles));
        assert_eq!(a.add(12, 1), Err(TooManyHoles));
        assert_eq!(a, before);
        // Merging into an existing range still works.
        a.add(11, 1).unwrap();
        assert_eq!(a.range_count(), ASSEMBLER_MAX_RANGES);
    }

    #[test]
    fn in_order_add_succeeds_when_full() {
        let mut a = Assembler::new();
        for i in 0..ASSEMBLER_MAX_RANGES {
            a.add(10 + 10 * i, 1).unwrap();
        }
        assert_eq!(a.add_then_remove_front(0, 5), Ok(5));
        assert_eq!(a.ranges().next(), Some((5, 6)));
        // Filling up to the first range consumes it too.
        assert_eq!(a.add_then_remove_front(0, 5), Ok(6));
        assert_eq!(a.ranges().next(), Some((9, 10)));
    }

    #[test]
    fn add_then_remove_front_out_of_order() {
        let mut a = Assembler::new();
        assert_eq!(a.add_then_remove_front(5, 5), Ok(0));
        assert_eq!(a.add_then_remove_front(0, 5), Ok(10));
        assert!(a.is_empty());
    }

    #[test]
    fn range_containing() {
        let mut a = Assembler::new();
        a.add(10, 5).unwrap();
        assert_eq!(a.range_containing(12), Some((10, 15)));
        assert_eq!(a.range_containing(15), Some((10, 15)));
        assert_eq!(a.range_containing(16), None);
    }

    #[test]
    fn advance_drops_and_cuts() {
        let mut a = Assembler::new();
        a.add(10, 10).unwrap();
        a.add(30, 10).unwrap();
        a.add(50, 10).unwrap();
        a.advance(35);
        assert_eq!(ranges(&a), [(0, 5), (15, 25)]);
        assert_eq!(a.len_below(100), 15);
        assert_eq!(a.len_below(20), 10);
        assert_eq!(a.range_after(5), Some((15, 25)));
        assert_eq!(a.range_after(4), Some((0, 5)));
        a.advance(1000);
        assert!(a.is_empty());
    }

    #[test]
    fn huge_offsets_are_refused_not_wrapped() {
        let mut a = Assembler::new();
        assert_eq!(a.add(usize::MAX - 1, 10), Err(TooManyHoles));
    }

    proptest! {
        #[test]
        fn matches_a_bitmap(ops in proptest::collection::vec((0u8..5, 0usize..200, 0usize..30), 0..60)) {
            // The model: which absolute bytes have arrived, and the absolute
            // position of the assembler's offset 0.
            let mut arrived = vec![false; 4096];
            let mut front = 0usize;
            let mut a = Assembler::new();
            for (kind, offset, size) in ops {
                if kind == 4 {
                    // Advance the front by a small amount.
                    let n = offset / 8;
                    a.advance(n);
                    front += n;
                    prop_assert!(a.is_well_formed());
                    continue;
                }
                let then_remove = kind == 3;
                let result = if then_remove {
                    a.add_then_remove_front(offset, size)
                } else {
                    a.add(offset, size).map(|()| 0)
                };
                if let Ok(n) = result {
                    arrived[front + offset..front + offset + size].fill(true);
                    if then_remove {
                        let contiguous = arrived[front..].iter().take_while(|&&b| b).count();
                        prop_assert_eq!(n, contiguous);
                        front += n;
                    }
                }
                prop_assert!(a.is_well_formed());
                prop_assert!(a.range_count() <= ASSEMBLER_MAX_RANGES);
                // The ranges are exactly the maximal runs after the front.
                let mut runs = Vec::new();
                let mut i = front;
                while i < arrived.len() {
                    if arrived[i] {
                        let start = i;
                        while i < arrived.len() && arrived[i] { i += 1; }
                        runs.push((start - front, i - front));
                    } else {
                        i += 1;
                    }
                }
                prop_assert_eq!(ranges(&a), runs);
            }
        }
    }
}
