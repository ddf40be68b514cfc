//! The transmission log: one entry per segment of data in flight (RFC 8985
//! §5.2 "per-segment variables"), for RACK's time-based loss detection.
//!
//! Job: remember, for every range of sequence space sent and not yet
//! cumulatively acknowledged, when it was last (re)transmitted and what is
//! known about it (SACKed, deemed lost, retransmitted, a retransmission in
//! flight), and keep running byte totals of each so that RFC 6675's pipe
//! is O(1).
//!
//! Contract:
//! - Entries are disjoint, sorted by sequence number and contiguous from
//!   SND.UNA to SND.MAX (data and FIN; the SYN is not logged). The socket
//!   logs every data segment it emits ([`TxLog::on_send`]) and every
//!   cumulative ACK ([`TxLog::ack_to`]); SACK blocks go through
//!   [`TxLog::sack`]. Entries are split where a retransmission or a SACK
//!   block cuts one (as Linux fragments an skb).
//! - Memory: nothing is allocated until data is sent, and the allocation
//!   is dropped when everything is acknowledged, as the send ring's. The
//!   number of entries is bounded by the caller's `cap` (about
//!   send_buffer / MSS): at the cap, new data extends the last entry and
//!   splits are refused (the log loses precision, never data: a refused
//!   split makes a retransmission cover its whole entry, and a SACK that
//!   covers only part of an entry is not recorded in it).
//! - Cost: O(1) amortized per segment sent and per segment acknowledged
//!   (entries leave from the front); SACK marking and splitting are
//!   O(log n) to find the entry plus the entries touched.

use std::collections::VecDeque;

use crate::time::{Duration, Instant};
use crate::wire::TcpSeqNumber;

/// The peer holds the segment (SACKed).
pub(super) const SACKED: u8 = 1;
/// Deemed lost (by RACK, a timeout or the DupThresh fallback) and not
/// delivered since. Stays set when the segment is retransmitted.
pub(super) const LOST: u8 = 2;
/// A retransmission of the segment is in flight (sent, and not deemed lost
/// since): pipe counts it once more (RFC 6675 §4 SetPipe).
pub(super) const RTX_OUT: u8 = 4;
/// Retransmitted at least once: its delivery is ambiguous (RFC 8985 §6.2
/// step 2) and says nothing about reordering (step 3).
pub(super) const RETRANS: u8 = 8;

/// One segment (or a range of them sent back to back, at the cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sent {
    pub(super) start: TcpSeqNumber,
    pub(super) end: TcpSeqNumber,
    /// Its latest (re)transmission time (RFC 8985 Segment.xmit_ts).
    pub(super) xmit: Instant,
    pub(super) flags: u8,
}

impl Sent {
    pub(super) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(super) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Deemed lost and not yet retransmitted since.
    pub(super) fn lost_pending(&self) -> bool {
        self.flags & (SACKED | LOST | RTX_OUT) == LOST
    }
}

/// What a [`TxLog::on_send`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SendKind {
    /// Some of the range had been sent before.
    pub(super) retransmission: bool,
    /// Some of the retransmitted range had a retransmission in flight
    /// already (a rule-3 or TLP retransmission sent again).
    pub(super) was_out: bool,
}

/// RACK state that only means something while data is in flight (RFC
/// 8985 §6.1); it lives with the log and goes when the log is freed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RackFlight {
    /// RACK.xmit_ts: latest send time of the most recently sent segment
    /// delivered so far; `None` before any delivery.
    pub(super) xmit_ts: Option<Instant>,
    /// RACK.end_seq: that segment's end.
    pub(super) end_seq: TcpSeqNumber,
    /// RACK.rtt: that segment's RTT (from its latest transmission).
    pub(super) rtt: Duration,
    /// RACK.fack: highest end of a delivered segment.
    pub(super) fack: TcpSeqNumber,
    /// RACK.dsack_round: the reordering window grows once per round trip.
    pub(super) dsack_round: Option<TcpSeqNumber>,
    /// Reordering timer (§6.3): the earliest deadline of a segment that
    /// will be lost unless delivered by then.
    pub(super) reo_timer: Option<Instant>,
}

/// The log and its byte totals (over entries not SACKed unless stated).
#[derive(Debug, Default)]
struct Inner {
    segs: VecDeque<Sent>,
    /// Bytes SACKED.
    sacked: usize,
    /// Entries SACKED (RFC 8985 RACK.segs_sacked).
    sacked_segs: usize,
    /// Bytes LOST.
    lost: usize,
    /// Bytes LOST with no retransmission in flight: NextSeg rule 1 work.
    lost_pending: usize,
    /// Bytes with a retransmission in flight (RTX_OUT).
    rtx_out: usize,
    /// Entries ever retransmitted (RETRANS), SACKed or not.
    retrans_segs: usize,
    rack: RackFlight,
}

/// The transmission log: nothing (one pointer) while no data is in flight.
#[derive(Debug, Default)]
pub(super) struct TxLog(Option<Box<Inner>>);

impl TxLog {
    /// The RACK state of the current flight, if data is in flight.
    pub(super) fn rack(&self) -> Option<&RackFlight> {
        self.0.as_deref().map(|inner| &inner.rack)
    }

    pub(super) fn rack_mut(&mut self) -> Option<&mut RackFlight> {
        self.0.as_deref_mut().map(|inner| &mut inner.rack)
    }

    /// Forget everything and free the allocation.
    pub(super) fn clear(&mut self) {
        self.0 = None;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| inner.segs.len())
    }

    pub(super) fn get(&self, i: usize) -> Option<Sent> {
        self.0.as_ref().and_then(|inner| inner.segs.get(i).copied())
    }

    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = &Sent> + '_ {
        self.0.iter().flat_map(|inner| inner.segs.iter())
    }

    pub(super) fn sacked_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| inner.sacked)
    }

    pub(super) fn sacked_segs(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| inner.sacked_segs)
    }

    pub(super) fn lost_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| inner.lost)
    }

    pub(super) fn lost_pending_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| inner.lost_pending)
    }

    pub(super) fn rtx_out_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| inner.rtx_out)
    }

    pub(super) fn retrans_segs(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| inner.retrans_segs)
    }

    /// `[start, end)` was sent at `now` (data and FIN). Logs new data at
    /// the back; marks what was sent before as retransmitted.
    pub(super) fn on_send(
        &mut self,
        start: TcpSeqNumber,
        end: TcpSeqNumber,
        now: Instant,
        cap: usize,
    ) -> SendKind {
        if start >= end {
            return SendKind::default();
        }
        let inner = self.0.get_or_insert_with(|| {
            Box::new(Inner {
                rack: RackFlight {
                    end_seq: start,
                    fack: start,
                    ..RackFlight::default()
                },
                ..Inner::default()
            })
        });
        inner.on_send(start, end, now, cap)
    }

    /// The cumulative ACK reached `una`: drop the entries below it, calling
    /// `delivered` with each that was not SACKed before. Frees the
    /// allocation when the log empties.
    pub(super) fn ack_to(&mut self, una: TcpSeqNumber, delivered: impl FnMut(&Sent)) {
        if let Some(inner) = self.0.as_deref_mut() {
            inner.ack_to(una, delivered);
            if inner.segs.is_empty() {
                self.0 = None;
            }
        }
    }

    /// The peer holds `[start, end)`: mark the entries inside it SACKED,
    /// calling `delivered` with each that was not SACKED before.
    pub(super) fn sack(
        &mut self,
        start: TcpSeqNumber,
        end: TcpSeqNumber,
        cap: usize,
        delivered: impl FnMut(&Sent),
    ) {
        if let Some(inner) = self.0.as_deref_mut() {
            inner.sack(start, end, cap, delivered);
        }
    }

    /// The peer reneged on its SACKs (RFC 2018 §8): nothing is SACKed.
    pub(super) fn unsack_all(&mut self) {
        if let Some(inner) = self.0.as_deref_mut() {
            inner.clear_flag(SACKED);
        }
    }

    /// Forget every loss mark (a recovery was undone as spurious).
    pub(super) fn unmark_lost(&mut self) {
        if let Some(inner) = self.0.as_deref_mut() {
            if inner.lost > 0 {
                inner.clear_flag(LOST);
            }
        }
    }

    /// Mark entry `i` lost (its retransmission, if one was out, too).
    /// Returns whether a retransmission in flight was deemed lost.
    pub(super) fn mark_lost(&mut self, i: usize) -> bool {
        self.0
            .as_deref_mut()
            .is_some_and(|inner| inner.mark_lost(i))
    }

    /// Mark every entry not SACKED lost (RFC 8985 §6.3, on an RTO).
    pub(super) fn mark_all_lost(&mut self) {
        if let Some(inner) = self.0.as_deref_mut() {
            for i in 0..inner.segs.len() {
                inner.mark_lost(i);
            }
        }
    }

    /// NextSeg rule 1 (RFC 6675 §4): the first entry deemed lost and not
    /// retransmitted since.
    pub(super) fn first_lost_pending(&self) -> Option<Sent> {
        let inner = self.0.as_deref().filter(|inner| inner.lost_pending > 0)?;
        inner.segs.iter().find(|s| s.lost_pending()).copied()
    }

    /// Check the totals against a recount (tests).
    #[cfg(test)]
    pub(super) fn check(&self) {
        if let Some(inner) = self.0.as_deref() {
            inner.check();
        }
    }
}

impl Inner {
    /// Add (`add`) or remove `s` from the totals.
    fn tally(&mut self, s: &Sent, add: bool) {
        let len = s.len();
        let f = |total: &mut usize, n: usize| {
            if add {
                *total += n;
            } else {
                *total -= n;
            }
        };
        if s.has(RETRANS) {
            f(&mut self.retrans_segs, 1);
        }
        if s.has(SACKED) {
            f(&mut self.sacked, len);
            f(&mut self.sacked_segs, 1);
            return;
        }
        if s.has(LOST) {
            f(&mut self.lost, len);
            if !s.has(RTX_OUT) {
                f(&mut self.lost_pending, len);
            }
        }
        if s.has(RTX_OUT) {
            f(&mut self.rtx_out, len);
        }
    }

    /// Replace entry `i` by `new` (same range), keeping the totals.
    fn set(&mut self, i: usize, new: Sent) {
        if let Some(&old) = self.segs.get(i) {
            self.tally(&old, false);
            self.segs[i] = new;
            self.tally(&new, true);
        }
    }

    fn get(&self, i: usize) -> Option<Sent> {
        self.segs.get(i).copied()
    }

    /// Clear `flag` on every entry.
    fn clear_flag(&mut self, flag: u8) {
        for i in 0..self.segs.len() {
            if let Some(s) = self.get(i).filter(|s| s.has(flag)) {
                self.set(
                    i,
                    Sent {
                        flags: s.flags & !flag,
                        ..s
                    },
                );
            }
        }
    }

    /// Index of the first entry ending after `seq`.
    fn index_after(&self, seq: TcpSeqNumber) -> usize {
        self.segs.partition_point(|s| s.end <= seq)
    }

    /// Make an entry start at `seq` if one contains it strictly, unless the
    /// log holds `cap` entries. Returns whether an entry now starts there
    /// (or `seq` lies outside the log).
    fn split_at(&mut self, seq: TcpSeqNumber, cap: usize) -> bool {
        let i = self.index_after(seq);
        let Some(&s) = self.segs.get(i) else {
            return true;
        };
        if s.start >= seq {
            return true;
        }
        if self.segs.len() >= cap {
            return false;
        }
        // Same flags on both halves: the byte totals stay, the counts of
        // entries grow.
        self.tally(&s, false);
        let (head, tail) = (Sent { end: seq, ..s }, Sent { start: seq, ..s });
        self.segs[i] = head;
        self.segs.insert(i + 1, tail);
        self.tally(&head, true);
        self.tally(&tail, true);
        true
    }

    /// `[start, end)` was sent at `now` (data and FIN). Logs new data at
    /// the back; marks what was sent before as retransmitted.
    fn on_send(
        &mut self,
        start: TcpSeqNumber,
        end: TcpSeqNumber,
        now: Instant,
        cap: usize,
    ) -> SendKind {
        let mut kind = SendKind::default();
        if start >= end {
            return kind;
        }
        let back_end = self.segs.back().map(|s| s.end);
        if let Some(back_end) = back_end.filter(|&b| start < b) {
            kind = self.retransmit(start, end.min(back_end), now, cap);
        }
        let new_from = back_end.map_or(start, |b| b.max(start));
        if new_from < end {
            let full = self.segs.len() >= cap;
            match self.segs.back_mut() {
                // At the cap, the new data joins the last plain entry: it
                // looks sent later than it was, which only delays its
                // loss detection.
                Some(back) if full && back.flags == 0 && back.end == new_from => {
                    back.end = end;
                    back.xmit = now;
                }
                _ => self.segs.push_back(Sent {
                    start: new_from,
                    end,
                    xmit: now,
                    flags: 0,
                }),
            }
        }
        kind
    }

    /// The logged range `[start, end)` went again at `now`.
    fn retransmit(
        &mut self,
        start: TcpSeqNumber,
        end: TcpSeqNumber,
        now: Instant,
        cap: usize,
    ) -> SendKind {
        self.split_at(start, cap);
        self.split_at(end, cap);
        let mut kind = SendKind {
            retransmission: true,
            was_out: false,
        };
        let mut i = self.index_after(start);
        while let Some(s) = self.get(i) {
            if s.start >= end {
                break;
            }
            kind.was_out |= s.has(RTX_OUT);
            self.set(
                i,
                Sent {
                    xmit: now,
                    flags: s.flags | RETRANS | RTX_OUT,
                    ..s
                },
            );
            i += 1;
        }
        kind
    }

    /// The cumulative ACK reached `una`: drop the entries below it, calling
    /// `delivered` with each that was not SACKed before. Frees the
    /// allocation when the log empties.
    fn ack_to(&mut self, una: TcpSeqNumber, mut delivered: impl FnMut(&Sent)) {
        while let Some(&s) = self.segs.front() {
            if s.start >= una {
                break;
            }
            if !s.has(SACKED) {
                delivered(&s);
            }
            if s.end <= una {
                self.tally(&s, false);
                self.segs.pop_front();
            } else {
                // Part of the entry was acknowledged (a resegmented
                // retransmission): keep the rest.
                self.set(0, Sent { start: una, ..s });
                break;
            }
        }
    }

    /// The peer holds `[start, end)`: mark the entries inside it SACKED,
    /// calling `delivered` with each that was not SACKED before.
    fn sack(
        &mut self,
        start: TcpSeqNumber,
        end: TcpSeqNumber,
        cap: usize,
        mut delivered: impl FnMut(&Sent),
    ) {
        if start >= end {
            return;
        }
        self.split_at(start, cap);
        self.split_at(end, cap);
        let mut i = self.index_after(start);
        while let Some(s) = self.get(i) {
            if s.start >= end {
                break;
            }
            // A refused split leaves an entry only partly covered: not
            // recorded (it may be sent again; it is never skipped).
            if s.start >= start && s.end <= end && !s.has(SACKED) {
                delivered(&s);
                self.set(
                    i,
                    Sent {
                        flags: (s.flags | SACKED) & !(LOST | RTX_OUT),
                        ..s
                    },
                );
            }
            i += 1;
        }
    }

    /// Mark entry `i` lost (its retransmission, if one was out, too).
    /// Returns whether a retransmission in flight was deemed lost.
    fn mark_lost(&mut self, i: usize) -> bool {
        let Some(s) = self.get(i).filter(|s| !s.has(SACKED)) else {
            return false;
        };
        self.set(
            i,
            Sent {
                flags: (s.flags | LOST) & !RTX_OUT,
                ..s
            },
        );
        s.has(RTX_OUT)
    }

    /// Check the totals against a recount (tests).
    #[cfg(test)]
    fn check(&self) {
        let mut fresh = Inner::default();
        for s in &self.segs {
            fresh.tally(s, true);
        }
        assert_eq!(
            (
                fresh.sacked,
                fresh.sacked_segs,
                fresh.lost,
                fresh.lost_pending,
                fresh.rtx_out,
                fresh.retrans_segs
            ),
            (
                self.sacked,
                self.sacked_segs,
                self.lost,
                self.lost_pending,
                self.rtx_out,
                self.retrans_segs
            )
        );
        for w in self.segs.iter().zip(self.segs.iter().skip(1)) {
            assert_eq!(w.0.end, w.1.start, "contiguous");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(n: usize) -> TcpSeqNumber {
        TcpSeqNumber(1000) + n
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn log_of(n: usize) -> TxLog {
        let mut log = TxLog::default();
        for i in 0..n {
            log.on_send(seq(i * 10), seq(i * 10 + 10), t(i as u64), 100);
        }
        log
    }

    #[test]
    fn acks_pop_from_the_front_and_free_when_empty() {
        let mut log = log_of(4);
        let mut got = Vec::new();
        log.ack_to(seq(25), |s| got.push(s.start));
        assert_eq!(got, vec![seq(0), seq(10), seq(20)]);
        assert_eq!(log.get(0).map(|s| s.start), Some(seq(25)));
        log.check();
        log.ack_to(seq(40), |_| {});
        assert!(log.is_empty());
    }

    #[test]
    fn retransmission_splits_and_sets_flags() {
        let mut log = log_of(3);
        log.mark_all_lost();
        assert_eq!(log.lost_pending_bytes(), 30);
        let kind = log.on_send(seq(10), seq(15), t(9), 100);
        assert!(kind.retransmission && !kind.was_out);
        log.check();
        assert_eq!(log.len(), 4);
        assert_eq!(log.lost_pending_bytes(), 25);
        assert_eq!(log.rtx_out_bytes(), 5);
        let s = log.get(1).unwrap();
        assert_eq!((s.start, s.end, s.xmit), (seq(10), seq(15), t(9)));
        assert_eq!(log.first_lost_pending().map(|s| s.start), Some(seq(0)));
        // Retransmission plus new data in one segment.
        let kind = log.on_send(seq(25), seq(40), t(10), 100);
        assert!(kind.retransmission);
        log.check();
        assert_eq!(
            log.iter().last().map(|s| (s.start, s.end)),
            Some((seq(30), seq(40)))
        );
    }

    #[test]
    fn sack_marks_only_new_entries_and_clears_lost() {
        let mut log = log_of(4);
        log.mark_lost(1);
        let mut got = Vec::new();
        log.sack(seq(10), seq(30), 100, |s| got.push(s.start));
        assert_eq!(got, vec![seq(10), seq(20)]);
        got.clear();
        log.sack(seq(0), seq(30), 100, |s| got.push(s.start));
        assert_eq!(got, vec![seq(0)]);
        assert_eq!((log.sacked_bytes(), log.lost_bytes()), (30, 0));
        log.check();
        log.unsack_all();
        assert_eq!(log.sacked_bytes(), 0);
        log.check();
    }

    #[test]
    fn cap_merges_new_data_and_refuses_splits() {
        let mut log = TxLog::default();
        for i in 0..5 {
            log.on_send(seq(i * 10), seq(i * 10 + 10), t(i as u64), 3);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(
            log.get(2).map(|s| (s.start, s.end, s.xmit)),
            Some((seq(20), seq(50), t(4)))
        );
        // A SACK of part of the merged entry is not recorded.
        log.sack(seq(30), seq(40), 3, |_| panic!("partial entry"));
        assert_eq!(log.sacked_bytes(), 0);
        // A retransmission of part of it covers all of it.
        log.on_send(seq(20), seq(30), t(9), 3);
        assert_eq!(log.rtx_out_bytes(), 30);
        log.check();
    }
}
