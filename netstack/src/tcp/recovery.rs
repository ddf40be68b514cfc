//! SACK-based loss recovery: the RFC 6675 scoreboard queries (IsLost,
//! SetPipe, NextSeg), entering recovery, RACK-style loss marking
//! (RFC 8985 §6) and the tail loss probe (RFC 8985 §7), and D-SACK
//! (RFC 2883) on both sides.
//!
//! Contract: everything here is pure bookkeeping over the control block;
//! `input.rs` calls in after each ACK, `output.rs` asks what to retransmit
//! and when the recovery timers (reordering window, PTO) expire. Timers
//! are deadlines that `poll_at` reports; nothing here reads a clock.
//!
//! The scoreboard is `sacked`, SACKed ranges relative to SND.UNA (an
//! [`Assembler`](crate::storage::Assembler)), plus three sequence numbers:
//! `high_rxt` (RFC 6675 HighRxt), `lost_mark` (RACK: holes below were sent
//! before data delivered a reordering window ago) and `rxt_fence` (SND.MAX
//! when the last retransmission went out). There are no per-segment send
//! times (the control block has a size budget), so RACK's "sent before a
//! delivered segment" is decided by sequence order for original
//! transmissions and by `rxt_fence` for retransmissions: once more than
//! DupThresh-1 segments sent after every retransmission are SACKed, the
//! retransmissions still unacknowledged are lost too, and go again.
//!
//! Non-SACK connections keep NewReno (RFC 6582) in `input.rs`.

use tracing::debug;

use super::congestion::CongestionControl;
use super::TcpSocket;
use crate::time::{Duration, Instant};
use crate::wire::TcpSeqNumber;

/// RFC 6675 §2 DupThresh.
pub(super) const DUP_THRESH: usize = 3;
/// Upper bound of the reordering window multiplier (RFC 8985 §6.2 step 4
/// bounds reo_wnd by SRTT; 4 * SRTT/4 = SRTT).
const REO_WND_MULT_MAX: u8 = 4;
/// Shortest reordering window: our clock granularity for RTT (1 ms
/// timestamps), so that jitter of a tick is not taken for loss.
const REO_WND_MIN: Duration = Duration::from_millis(1);
/// Shortest probe timeout (Linux `TCP_TIMEOUT_MIN` is 2 jiffies; 10 ms
/// keeps a probe from racing the ACK of a segment sent an instant ago).
const PTO_MIN: Duration = Duration::from_millis(10);
/// RFC 8985 §7.2 WCDelAckT: the peer's worst-case delayed ACK, added when
/// one segment is in flight (its ACK may be delayed).
const WC_DEL_ACK: Duration = Duration::from_millis(200);

impl TcpSocket {
    /// In RFC 6675 loss recovery (SACK negotiated; otherwise `recovery`
    /// means NewReno).
    pub(super) fn in_sack_recovery(&self) -> bool {
        self.sack_ok && self.recovery.is_some()
    }

    /// The congestion window to send by: during SACK recovery cwnd =
    /// ssthresh (RFC 6675 §5 step 4.2: no inflation; the algorithm's
    /// inflated window is not used).
    pub(super) fn send_window_cc(&self) -> usize {
        if self.in_sack_recovery() {
            self.cc.ssthresh().min(self.cc.window())
        } else {
            self.cc.window()
        }
    }

    /// Offset from SND.UNA just past the highest SACKed byte (0 if none).
    pub(super) fn highest_sacked(&self) -> usize {
        self.sacked.ranges().last().map_or(0, |(_, end)| end)
    }

    /// Offset from SND.UNA below which every unSACKed byte is lost: RFC
    /// 6675 §4 IsLost (DupThresh SACKed ranges, or more than
    /// (DupThresh - 1) * SMSS SACKed bytes, above it), or RACK's mark.
    /// Once reordering was seen only RACK's mark counts (RFC 8985 §6.2).
    pub(super) fn lost_edge(&self) -> usize {
        let mark = self.offset_of(self.lost_mark).min(self.highest_sacked());
        if self.reordering_seen {
            return mark;
        }
        let mss = self.max_payload_base();
        let total = self.sacked.len_below(usize::MAX);
        let count = self.sacked.range_count();
        let mut edge = 0;
        let mut below = 0;
        for (i, (start, end)) in self.sacked.ranges().enumerate() {
            // IsLost is monotone: it holds for every start up to the last
            // one it holds for.
            if count - i >= DUP_THRESH || total - below > (DUP_THRESH - 1) * mss {
                edge = start;
            }
            below += end - start;
        }
        edge.max(mark)
    }

    /// `seq` as an offset from SND.UNA, 0 when below it, at most SND.MAX.
    fn offset_of(&self, seq: TcpSeqNumber) -> usize {
        if seq > self.snd_una {
            (seq - self.snd_una).min(self.flight_size())
        } else {
            0
        }
    }

    /// HighData - HighACK: every byte sent and not cumulatively acked.
    fn flight_size(&self) -> usize {
        if self.snd_max > self.snd_una {
            self.snd_max - self.snd_una
        } else {
            0
        }
    }

    /// RFC 6675 §4 SetPipe: bytes still in the network. An unSACKed byte
    /// counts once unless lost, once more if retransmitted.
    pub(super) fn pipe(&self) -> usize {
        let flight = self.flight_size();
        let edge = self.lost_edge();
        let lost = edge - self.sacked.len_below(edge);
        let rxt_off = self.offset_of(self.high_rxt);
        let retransmitted = rxt_off - self.sacked.len_below(rxt_off);
        (flight + retransmitted).saturating_sub(self.sacked.len_below(usize::MAX) + lost)
    }

    /// RFC 6675 §4 NextSeg rules 1 (`lost_only`) and 3: the first unSACKed
    /// byte above HighRxt and below the highest SACKed byte (and lost, for
    /// rule 1). Returns its sequence number and the end of the hole it
    /// starts (the next SACKed byte), for a segment of at most one SMSS.
    pub(super) fn next_seg(&self, lost_only: bool) -> Option<(TcpSeqNumber, TcpSeqNumber)> {
        let limit = if lost_only {
            self.lost_edge()
        } else {
            self.highest_sacked()
        };
        let mut off = self.offset_of(self.high_rxt);
        for (start, end) in self.sacked.ranges() {
            if off >= limit {
                return None;
            }
            if off < start {
                return Some((self.snd_una + off, self.snd_una + start));
            }
            off = off.max(end);
        }
        None
    }

    /// RFC 6675 §5 step 4: enter loss recovery. RecoveryPoint = HighData;
    /// ssthresh = cwnd = FlightSize / 2 (the algorithm sets ssthresh; we
    /// send by it, see `send_window_cc`); the first hole goes at once.
    fn enter_sack_recovery(&mut self) {
        let mss = self.max_payload_base();
        self.cc.on_enter_recovery(self.flight_size(), mss);
        self.recovery = Some(self.snd_max);
        self.recover = Some(self.snd_max);
        self.high_rxt = self.snd_una;
        self.rxt_fence = self.snd_max;
        self.retransmit_front = true;
        self.recovery_entered = true;
        self.recovery_ts = None;
        self.pto_at = None;
        self.tlp_pending = false;
        self.rtt.discard_timing();
        self.counters.sack_recovery += 1;
        debug!(local = %self.tuple.local, remote = %self.tuple.remote, una = self.snd_una.to_u32(), recovery_point = self.snd_max.to_u32(), ssthresh = self.cc.ssthresh(), pipe = self.pipe(), "SACK recovery");
    }

    /// RFC 6675 §5 (a): DupThresh duplicate ACKs, or IsLost(HighACK + 1);
    /// not again for data sent before the last recovery or timeout began
    /// (RFC 6675 §5.1, RFC 6582 §3.2 step 2).
    pub(super) fn maybe_enter_sack_recovery(&mut self) {
        if !self.sack_ok
            || self.recovery.is_some()
            || self.snd_max <= self.snd_una
            || self.recover.is_some_and(|r| self.snd_una <= r)
        {
            return;
        }
        let dup_thresh = !self.reordering_seen && self.dup_acks as usize >= DUP_THRESH;
        if dup_thresh || self.lost_edge() > 0 {
            self.enter_sack_recovery();
        }
    }

    /// After an ACK on a SACK connection (the scoreboard is up to date):
    /// detect lost retransmissions, run the RACK reordering timer, enter
    /// recovery if a loss shows, and re-arm the tail loss probe.
    pub(super) fn on_sack_ack(&mut self, now: Instant, advanced: bool) {
        if !self.sack_ok {
            return;
        }
        if self.snd_una >= self.snd_max {
            self.reo_timer = None;
            self.pto_at = None;
            return;
        }
        let mss = self.max_payload_base();
        // Lost retransmissions (RFC 8985 §6.2 by ordering): more than
        // DupThresh-1 segments sent after every retransmission so far are
        // SACKed while retransmitted holes remain: those were lost again.
        if self.in_sack_recovery() && self.high_rxt > self.snd_una {
            let fence = self.offset_of(self.rxt_fence);
            let above = self.sacked.len_below(usize::MAX) - self.sacked.len_below(fence);
            if above > (DUP_THRESH - 1) * mss {
                let rxt_off = self.offset_of(self.high_rxt);
                if self.sacked.len_below(rxt_off) < rxt_off {
                    debug!(local = %self.tuple.local, remote = %self.tuple.remote, high_rxt = self.high_rxt.to_u32(), "retransmission lost; again");
                    self.lost_mark = self.lost_mark.max(self.snd_una + fence);
                    self.high_rxt = self.snd_una;
                }
                self.rxt_fence = self.snd_max;
            }
        }
        // RACK reordering window (RFC 8985 §6.2, §6.3): holes below SACKed
        // data are lost once the window has passed without them arriving.
        let highest = self.highest_sacked();
        if highest > 0 && self.reo_timer.is_none() {
            let from = self.lost_edge().max(self.offset_of(self.high_rxt));
            let sacked_above = self.sacked.len_below(highest) - self.sacked.len_below(from);
            if from < highest && sacked_above < highest - from {
                if let Some(srtt) = self.rtt.srtt() {
                    let reo_wnd = (srtt / 4 * u32::from(self.reo_wnd_mult))
                        .min(srtt)
                        .max(REO_WND_MIN);
                    self.reo_timer = Some((now + reo_wnd, self.snd_una + highest));
                }
            }
        }
        self.maybe_enter_sack_recovery();
        if advanced {
            self.rearm_pto(now);
        }
    }

    /// RFC 8985 §7.2: arm the probe timer (PTO = 2 * SRTT, plus the peer's
    /// delayed ACK when one segment is out, no later than the RTO) when
    /// not in recovery, not backed off, and no probe is out.
    pub(super) fn rearm_pto(&mut self, now: Instant) {
        self.pto_at = None;
        if !self.sack_ok
            || self.recovery.is_some()
            || self.retransmits > 0
            || self.tlp_end.is_some()
            || self.snd_max <= self.snd_una
            || !self.may_send_data()
        {
            return;
        }
        let Some(srtt) = self.rtt.srtt() else {
            return;
        };
        let mut pto = (srtt * 2).max(PTO_MIN);
        if self.flight_size() <= self.max_payload_base() {
            pto += WC_DEL_ACK;
        }
        let at = now + pto;
        self.pto_at = Some(match self.timer.expires_at() {
            Some(rto_at) => at.min(rto_at),
            None => at,
        });
    }

    /// States in which data (and so probes) may still go out.
    fn may_send_data(&self) -> bool {
        use super::State;
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }

    /// The earliest recovery deadline (reordering window, probe timeout).
    pub(super) fn recovery_deadline(&self) -> Option<Instant> {
        match (self.reo_timer.map(|(at, _)| at), self.pto_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handle expired recovery deadlines (idempotent).
    pub(super) fn handle_recovery_timers(&mut self, now: Instant) {
        if let Some((at, mark)) = self.reo_timer {
            if now >= at {
                self.reo_timer = None;
                if mark > self.lost_mark {
                    self.lost_mark = mark;
                }
                self.maybe_enter_sack_recovery();
            }
        }
        if let Some(at) = self.pto_at {
            if now >= at {
                self.pto_at = None;
                if self.recovery.is_none()
                    && self.tlp_end.is_none()
                    && self.snd_max > self.snd_una
                    && self.may_send_data()
                {
                    debug!(local = %self.tuple.local, remote = %self.tuple.remote, una = self.snd_una.to_u32(), "tail loss probe");
                    self.tlp_pending = true;
                }
            }
        }
    }

    /// Forget recovery state after a retransmission timeout (RFC 6675
    /// §5.1: go-back-N over the scoreboard takes over).
    pub(super) fn reset_sack_recovery(&mut self) {
        self.high_rxt = self.snd_una;
        self.rxt_fence = self.snd_una;
        self.lost_mark = self.snd_una;
        self.reo_timer = None;
        self.pto_at = None;
        self.tlp_pending = false;
        self.tlp_end = None;
    }

    /// Receiver side of RFC 2883: `[start, end)` arrived again; report it
    /// in the next ACK, sent at once.
    pub(super) fn note_duplicate(&mut self, start: TcpSeqNumber, end: TcpSeqNumber) {
        if self.sack_ok && start < end {
            self.dsack = Some((start, end));
            self.ack_now = true;
        }
    }

    /// Sender side of RFC 2883 §4: the first block is a D-SACK if it lies
    /// below the cumulative ACK or inside the second block. Returns whether
    /// it is (it must not enter the scoreboard).
    pub(super) fn is_dsack(&self, blocks: &[Option<(u32, u32)>; 4], ack: TcpSeqNumber) -> bool {
        let Some((left, right)) = blocks[0] else {
            return false;
        };
        let (left, right) = (TcpSeqNumber::from_u32(left), TcpSeqNumber::from_u32(right));
        if left >= right {
            return false;
        }
        if right <= ack {
            return true;
        }
        blocks[1].is_some_and(|(l2, r2)| {
            let (l2, r2) = (TcpSeqNumber::from_u32(l2), TcpSeqNumber::from_u32(r2));
            l2 <= left && right <= r2
        })
    }

    /// RFC 8985 §6.2 step 3, before the scoreboard takes an ACK of `ack`
    /// with SACK `blocks`: if bytes never retransmitted are newly delivered
    /// below the highest SACKed byte, they arrived out of order.
    pub(super) fn detect_reordering(
        &mut self,
        ack: TcpSeqNumber,
        blocks: impl Iterator<Item = (TcpSeqNumber, TcpSeqNumber)>,
    ) {
        let fack = self.highest_sacked();
        if self.reordering_seen || fack == 0 {
            return;
        }
        // Bytes from here up may have been sent only once.
        let original_from = if self.recovery.is_some() {
            self.offset_of(self.high_rxt)
        } else if self.recover.is_some() || self.tlp_end.is_some() {
            // After a timeout or probe anything may have gone twice.
            return;
        } else {
            0
        };
        let holes_in = |lo: usize, hi: usize| {
            let hi = hi.min(fack);
            lo < hi && self.sacked.len_below(hi) - self.sacked.len_below(lo) < hi - lo
        };
        let mut seen = holes_in(original_from, self.offset_of(ack));
        for (left, right) in blocks {
            if left > self.snd_una && left < right {
                seen |= holes_in(
                    self.offset_of(left).max(original_from),
                    self.offset_of(right),
                );
            }
        }
        if seen {
            debug!(local = %self.tuple.local, remote = %self.tuple.remote, "reordering seen; loss by time only");
            self.reordering_seen = true;
        }
    }

    /// A D-SACK arrived: the peer saw data twice, so a retransmission was
    /// unneeded (reordering or a lost ACK): widen the reordering window
    /// (RFC 8985 §6.2 step 4).
    pub(super) fn on_dsack(&mut self) {
        self.counters.dsack_recv += 1;
        self.reo_wnd_mult = (self.reo_wnd_mult + 1).min(REO_WND_MULT_MAX);
    }
}
