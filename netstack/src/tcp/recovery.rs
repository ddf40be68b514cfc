//! SACK-based loss recovery: RACK-TLP (RFC 8985) loss detection over the
//! per-segment transmission log, RFC 6675's pipe and NextSeg as the
//! sending rule, recovery after a retransmission timeout, and D-SACK
//! (RFC 2883) on both sides.
//!
//! Contract: everything here is bookkeeping over the control block;
//! `input.rs` feeds each ACK in (`update_scoreboard` marks the log and
//! calls [`Rack::on_delivered`], then `on_sack_ack`), `output.rs` asks what
//! to retransmit (`next_seg`), how much may be in flight (`pipe`,
//! `send_window_cc`) and when the recovery timers (reordering window,
//! PTO) expire. Timers are deadlines that `poll_at` reports; nothing here
//! reads a clock.
//!
//! State: the transmission log (`txlog.rs`: per segment its latest send
//! time and SACKED / LOST / retransmitted flags), the SACK scoreboard
//! `sacked` (byte ranges relative to SND.UNA, for the go-back paths and
//! HighSACK), and [`Rack`]. A segment is lost when RACK says so (sent
//! before the most recently sent delivered segment, and a reordering
//! window older than that segment's RTT, §6.2), when the DupThresh
//! fallback says so (duplicate ACKs without SACK information), or after
//! an RTO (all of them, §6.3). Retransmissions are segments like any
//! other: a lost retransmission is found by the same rule, about an RTT
//! after it was sent, and goes again without waiting for the RTO.
//!
//! Recovery has two flavours, both with `recovery = Some(point)`: fast
//! recovery (RFC 6675: cwnd = ssthresh, no inflation) and, after an RTO,
//! Linux's Loss state (`rto_recovery`: cwnd from one segment in slow
//! start, lost segments first). Both end when SND.UNA reaches the point.
//!
//! Non-SACK connections keep NewReno (RFC 6582) in `input.rs` and
//! go-back-N after an RTO in `output.rs`; they keep no log.

use tracing::debug;

use super::congestion::CongestionControl;
use super::txlog::{RackFlight, Sent, RETRANS, SACKED};
use super::TcpSocket;
use crate::time::{Duration, Instant};
use crate::wire::TcpSeqNumber;

/// RFC 6675 §2 DupThresh.
pub(super) const DUP_THRESH: usize = 3;
/// Slack added to 2 * SRTT in the probe timeout so that a probe does not
/// race the ACK of a segment sent an instant ago (Linux adds
/// `TCP_TIMEOUT_MIN_US`, 2 ms). A floor instead (10 ms before) made every
/// tail loss at a sub-millisecond RTT cost 10 ms, dozens of RTTs.
const PTO_SLACK: Duration = Duration::from_millis(2);
/// Probes per silence before the RTO. RFC 8985 §7.3 sends one; a second
/// goes after twice the PTO, as QUIC's PTO backs off and probes again
/// (RFC 9002 §6.2.1). With loss in both directions a probe or its ACK is
/// lost about as often as any segment, and at a sub-millisecond RTT each
/// such loss otherwise costs a whole RTO (200 ms or more).
const MAX_PROBES: u8 = 2;
/// RFC 8985 §7.2 WCDelAckT: the peer's worst-case delayed ACK, added when
/// one segment is in flight (its ACK may be delayed).
const WC_DEL_ACK: Duration = Duration::from_millis(200);
/// Shortest non-zero reordering window: below a millisecond, the jitter of
/// the peer's ACK timing (and of millisecond timestamps) is taken for
/// loss. Linux gets the same from its timer granularity.
const REO_WND_MIN: Duration = Duration::from_millis(1);
/// RFC 8985 §6.2 step 4: DSACK-free recoveries before the reordering
/// window multiplier returns to 1.
const REO_WND_PERSIST: u8 = 16;

/// RACK state that outlives a flight (RFC 8985 §6.1); the rest
/// ([`RackFlight`]) lives in the transmission log.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rack {
    /// RACK.min_RTT in microseconds (u32::MAX: none yet), from unambiguous
    /// per-segment samples.
    min_rtt_us: u32,
    /// RACK.reordering_seen: an original transmission was delivered below
    /// RACK.fack. From then on the reordering window is never zero.
    pub(super) reordering_seen: bool,
    /// RACK.reo_wnd_mult (§6.2 step 4), raised by D-SACKs.
    pub(super) reo_wnd_mult: u8,
    /// RACK.reo_wnd_persist: recoveries left before the multiplier resets.
    pub(super) reo_wnd_persist: u8,
}

impl Default for Rack {
    fn default() -> Rack {
        Rack {
            min_rtt_us: u32::MAX,
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
        }
    }
}

/// RFC 8985 RACK_sent_after(t1, seq1, t2, seq2) with the RACK segment as
/// the second: whether a segment sent at `xmit` ending at `end` went after
/// it (true when nothing was delivered yet).
fn sent_after_rack(fl: &RackFlight, xmit: Instant, end: TcpSeqNumber) -> bool {
    match fl.xmit_ts {
        None => true,
        Some(ts) => xmit > ts || (xmit == ts && end > fl.end_seq),
    }
}

impl Rack {
    pub(super) fn min_rtt(&self) -> Option<Duration> {
        (self.min_rtt_us != u32::MAX).then(|| Duration::from_micros(u64::from(self.min_rtt_us)))
    }

    /// RFC 8985 §6.2 steps 1-3 for one newly delivered segment (cumulatively
    /// or selectively). `echo` is the ACK's TSecr and our TSval offset when
    /// timestamps are on; `fack_before` RACK.fack before this ACK.
    pub(super) fn on_delivered(
        &mut self,
        fl: &mut RackFlight,
        s: &Sent,
        now: Instant,
        echo: Option<(u32, u32)>,
        fack_before: TcpSeqNumber,
    ) {
        let retransmitted = s.has(RETRANS);
        // Step 3: an original transmission delivered below data delivered
        // before it arrived out of order (independent of the order the
        // segments of one ACK are visited in).
        if !retransmitted && s.end < fack_before {
            if !self.reordering_seen {
                debug!(
                    end = s.end.to_u32(),
                    fack = fack_before.to_u32(),
                    "reordering seen"
                );
            }
            self.reordering_seen = true;
        }
        if s.end > fl.fack {
            fl.fack = s.end;
        }
        // Step 2: skip deliveries that may be of an earlier transmission.
        let rtt = now - s.xmit;
        if retransmitted {
            if let Some((tsecr, offset)) = echo {
                // NOTE(cast): the millisecond clock wraps modulo 2^32.
                let sent = (s.xmit.total_millis() as u32).wrapping_add(offset);
                if tsecr != 0 && (tsecr.wrapping_sub(sent) as i32) < 0 {
                    return;
                }
            }
            if self.min_rtt().is_some_and(|min| rtt < min) {
                return;
            }
        } else {
            // Step 1: RACK.min_RTT from unambiguous samples.
            let us = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX - 1);
            self.min_rtt_us = self.min_rtt_us.min(us);
        }
        if sent_after_rack(fl, s.xmit, s.end) {
            fl.xmit_ts = Some(s.xmit);
            fl.end_seq = s.end;
            fl.rtt = rtt;
        }
    }
}

/// What one ACK told the SACK machinery (from `update_scoreboard`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct AckInfo {
    /// Bytes newly delivered: cumulatively acknowledged or SACKed.
    pub(super) delivered: usize,
    /// The D-SACK block it carried (RFC 2883), if any.
    pub(super) dsack: Option<(TcpSeqNumber, TcpSeqNumber)>,
    /// It carried SACK blocks (D-SACK included).
    pub(super) has_sack: bool,
}

impl TcpSocket {
    /// In loss recovery on a SACK connection: fast recovery or the Loss
    /// state after an RTO (otherwise `recovery` means NewReno).
    pub(super) fn in_sack_recovery(&self) -> bool {
        self.sack_ok && self.recovery.is_some()
    }

    /// The congestion window to send by: in fast recovery cwnd = ssthresh
    /// (RFC 6675 §5 step 4.2: no inflation; the algorithm's inflated
    /// window is not used); after an RTO the algorithm's window, which
    /// restarts from one segment in slow start.
    pub(super) fn send_window_cc(&self) -> usize {
        if self.in_sack_recovery() && !self.rto_recovery {
            self.cc.ssthresh().min(self.cc.window())
        } else {
            self.cc.window()
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

    /// Most entries the transmission log keeps (about one per segment of a
    /// full send buffer; see `txlog.rs` for what happens at the bound).
    pub(super) fn txlog_cap(&self) -> usize {
        (self.config.send_buffer / self.max_payload_base().max(1)).max(16) + 16
    }

    /// RFC 6675 §4 SetPipe: bytes still in the network. An unSACKed byte
    /// counts once unless lost, once more if a retransmission of it is out.
    pub(super) fn pipe(&self) -> usize {
        let log = &self.txlog;
        (self.flight_size() + log.rtx_out_bytes())
            .saturating_sub(log.sacked_bytes() + log.lost_bytes())
    }

    /// RFC 6675 §4 NextSeg rule 1: the first segment deemed lost and not
    /// retransmitted since. Returns its start and end; the caller sends at
    /// most one SMSS of it.
    pub(super) fn next_seg(&self) -> Option<(TcpSeqNumber, TcpSeqNumber)> {
        self.txlog.first_lost_pending().map(|s| (s.start, s.end))
    }

    /// RFC 6675 §5 step 4: enter loss recovery. RecoveryPoint = HighData;
    /// ssthresh = cwnd = FlightSize / 2 (the algorithm sets ssthresh; we
    /// send by it, see `send_window_cc`); the first lost segment goes at
    /// once.
    fn enter_sack_recovery(&mut self) {
        let mss = self.max_payload_base();
        let (cwnd, flight) = (self.cc.window(), self.flight_size());
        self.cc.on_enter_recovery(self.flight_size(), mss);
        self.recovery = Some(self.snd_max);
        self.recover = Some(self.snd_max);
        self.rto_recovery = false;
        self.retransmit_front = true;
        self.recovery_entered = true;
        self.recovery_ts = None;
        self.pto_at = None;
        self.tlp_pending = false;
        self.tlp_sent = 0;
        // The reduction covers any loss a probe repaired (Linux clears
        // tlp_high_seq in tcp_init_cwnd_reduction).
        self.tlp_end = None;
        self.rtt.discard_timing();
        self.counters.sack_recovery += 1;
        debug!(local = %self.tuple.local, remote = %self.tuple.remote, una = self.snd_una.to_u32(), recovery_point = self.snd_max.to_u32(), cwnd, flight, ssthresh = self.cc.ssthresh(), pipe = self.pipe(), lost = self.txlog.lost_bytes(), sacked = self.txlog.sacked_bytes(), "SACK recovery");
    }

    /// Enter recovery once a segment is deemed lost; not again for data
    /// sent before the last recovery or timeout began (RFC 6675 §5.1,
    /// RFC 6582 §3.2 step 2).
    ///
    /// "Sent before" is SND.UNA < RecoveryPoint: a segment RACK marks lost
    /// when SND.UNA is exactly at the old point went after that recovery
    /// began (everything sent before it is acknowledged), so it starts a
    /// new one, as Linux returns to Open once `snd_una >= high_seq`.
    /// (Blocking it too left the loss marked but never retransmitted
    /// outside recovery: only the RTO could repair it.) Only the
    /// duplicate-ACK fallback keeps RFC 6582's strict "more than recover",
    /// since its duplicate ACKs may be caused by that recovery's
    /// retransmissions.
    pub(super) fn maybe_enter_sack_recovery(&mut self) {
        if !self.sack_ok
            || self.recovery.is_some()
            || self.snd_max <= self.snd_una
            || self.recover.is_some_and(|r| self.snd_una < r)
        {
            return;
        }
        // DupThresh fallback: duplicate ACKs that carry no SACK
        // information (RFC 6675 §5 (a)); RACK needs SACKs to see anything.
        if self.dup_acks as usize >= DUP_THRESH
            && self.recover.is_none_or(|r| self.snd_una > r)
            && self.sacked.is_empty()
            && !self.rack.reordering_seen
            && self.txlog.lost_pending_bytes() == 0
        {
            self.txlog.mark_lost(0);
        }
        if self.txlog.lost_pending_bytes() > 0 {
            self.enter_sack_recovery();
        }
    }

    /// The end of a SACK recovery's (or a repairing probe's) reduction:
    /// cwnd = ssthresh. RFC 6675 §5 step 4.2 sets cwnd = ssthresh for the
    /// recovery and nothing deflates it at the end (Linux's
    /// `tcp_end_cwnd_reduction` does the same); RFC 6582's
    /// min(ssthresh, FlightSize + SMSS) is NewReno's burst guard after an
    /// inflated window. At sub-millisecond RTTs FlightSize is about zero
    /// when the full ACK arrives, so that rule left two segments after
    /// every recovery.
    pub(super) fn end_cwnd_reduction(&mut self) {
        let mss = self.max_payload_base();
        self.cc.on_exit_recovery(self.cc.ssthresh(), mss);
    }

    /// SND.UNA reached the recovery point (RFC 8985 §6.2 step 4: one more
    /// recovery without D-SACK).
    pub(super) fn on_recovery_exit(&mut self) {
        self.rto_recovery = false;
        let rack = &mut self.rack;
        rack.reo_wnd_persist = rack.reo_wnd_persist.saturating_sub(1);
        if rack.reo_wnd_persist == 0 {
            rack.reo_wnd_mult = 1;
        }
    }

    /// RFC 8985 §6.2 step 4 RACK.reo_wnd: zero in recovery or once
    /// DupThresh segments are SACKed, unless reordering was seen;
    /// otherwise reo_wnd_mult * min_RTT / 4, at most SRTT, at least
    /// `REO_WND_MIN`.
    fn reo_wnd(&self) -> Duration {
        if !self.rack.reordering_seen
            && (self.recovery.is_some() || self.txlog.sacked_segs() >= DUP_THRESH)
        {
            return Duration::ZERO;
        }
        let srtt = self.rtt.srtt();
        let Some(min_rtt) = self.rack.min_rtt().or(srtt) else {
            return Duration::ZERO;
        };
        let wnd = min_rtt / 4 * u32::from(self.rack.reo_wnd_mult);
        srtt.map_or(wnd, |srtt| wnd.min(srtt)).max(REO_WND_MIN)
    }

    /// RFC 8985 §6.2 step 5 RACK_detect_loss: every segment not delivered
    /// and not already waiting for retransmission that was sent before the
    /// RACK segment is lost once RACK.rtt + reo_wnd has passed since its
    /// (latest) transmission; the earliest deadline not yet reached arms
    /// the reordering timer (§6.3).
    fn rack_detect_loss(&mut self, now: Instant) {
        let Some(fl) = self.txlog.rack().copied() else {
            return;
        };
        if let Some(fl) = self.txlog.rack_mut() {
            fl.reo_timer = None;
        }
        // Without SACKs, retransmissions or recovery nothing can have been
        // sent before the RACK segment: it is the highest acknowledged
        // original, and every original above it went later.
        if fl.xmit_ts.is_none()
            || (self.recovery.is_none()
                && self.txlog.sacked_bytes() == 0
                && self.txlog.retrans_segs() == 0)
        {
            return;
        }
        let wait = fl.rtt + self.reo_wnd();
        let mut timer: Option<Instant> = None;
        let mut lost_rtx = 0;
        let mut marked = 0;
        for i in 0..self.txlog.len() {
            let Some(s) = self.txlog.get(i) else { break };
            if s.has(SACKED) || s.lost_pending() || sent_after_rack(&fl, s.xmit, s.end) {
                continue;
            }
            let deadline = s.xmit + wait;
            if now >= deadline {
                marked += 1;
                if self.txlog.mark_lost(i) {
                    lost_rtx += 1;
                }
            } else {
                timer = Some(timer.map_or(deadline, |t| t.min(deadline)));
            }
        }
        if marked > 0 {
            debug!(local = %self.tuple.local, remote = %self.tuple.remote, marked, lost_retransmits = lost_rtx, rack_rtt_us = fl.rtt.as_micros() as u64, "RACK: lost");
        }
        self.counters.lost_retransmits += lost_rtx;
        if let Some(fl) = self.txlog.rack_mut() {
            fl.reo_timer = timer;
        }
    }

    /// After an ACK on a SACK connection (the log and scoreboard are up to
    /// date): the tail loss probe's outcome, RACK loss detection, entering
    /// recovery, and re-arming the probe timer.
    pub(super) fn on_sack_ack(&mut self, now: Instant, advanced: bool, info: AckInfo) {
        if !self.sack_ok {
            return;
        }
        self.on_tlp_ack(advanced, info);
        if self.rto_recovery && info.delivered > 0 {
            // Linux's Loss state: cwnd grows (slow start) by what was
            // delivered, cumulatively or selectively.
            let mss = self.max_payload_base();
            self.cc.on_ack(info.delivered, mss, now, self.rtt.srtt());
        }
        if self.snd_una >= self.snd_max {
            self.pto_at = None;
            return;
        }
        let una = self.snd_una;
        if let Some(fl) = self.txlog.rack_mut().filter(|fl| fl.fack < una) {
            fl.fack = una;
        }
        self.rack_detect_loss(now);
        self.maybe_enter_sack_recovery();
        if advanced {
            self.tlp_sent = 0;
            self.rearm_pto(now);
        }
    }

    /// RFC 8985 §7.4.2 TLP_process_ack: once the ACK covers the probe, a
    /// probe that was a retransmission either showed both copies arriving
    /// (D-SACK, or a pure duplicate ACK) or repaired a loss, which gets a
    /// congestion response (cwnd halved, as Linux's CWR).
    fn on_tlp_ack(&mut self, advanced: bool, info: AckInfo) {
        let Some(end) = self.tlp_end else {
            return;
        };
        if self.snd_una < end {
            return;
        }
        if !self.tlp_retrans || info.dsack.is_some_and(|(_, right)| right == end) {
            self.tlp_end = None;
        } else if self.snd_una > end {
            self.tlp_end = None;
            if self.recovery.is_none() {
                // The reduction is from cwnd, as Linux's
                // tcp_init_cwnd_reduction: by the time the probe's ACK
                // arrives the flight it repaired is gone (FlightSize is
                // about one segment), and halving that would leave two.
                let mss = self.max_payload_base();
                self.cc.on_enter_recovery(self.cc.window(), mss);
                self.end_cwnd_reduction();
                debug!(local = %self.tuple.local, remote = %self.tuple.remote, cwnd = self.cc.window(), "tail loss probe repaired a loss");
            }
        } else if !advanced && !info.has_sack {
            self.tlp_end = None;
        }
    }

    /// RFC 8985 §7.2: arm the probe timer (PTO = 2 * SRTT, plus the peer's
    /// delayed ACK when one segment is out or `PTO_SLACK` otherwise, as
    /// Linux's `tcp_schedule_loss_probe`; no later than the RTO) when not
    /// backed off and no probe is out.
    ///
    /// Unlike RFC 8985 §7.2 (and Linux), the timer runs in fast recovery
    /// too, as QUIC's PTO does (RFC 9002 §6.2): with a small cwnd the
    /// recovery's retransmission and the few segments after it are often
    /// answered by one ACK (a Linux receiver compresses SACKs), and when
    /// that ACK is lost nothing else is in flight to bring news. RACK's
    /// reordering timer cannot help (nothing new was delivered), so only
    /// the RTO (200 ms or more against a sub-millisecond RTT) was left.
    /// The probe goes regardless of cwnd, as any TLP.
    pub(super) fn rearm_pto(&mut self, now: Instant) {
        self.pto_at = None;
        if self.tlp_end.is_some_and(|end| self.snd_una >= end) {
            // Everything the probe covered is acknowledged and no ACK told
            // whether it repaired anything: let it go.
            self.tlp_end = None;
        }
        if !self.sack_ok
            || self.retransmits > 0
            || self.tlp_end.is_some()
            || self.snd_max <= self.snd_una
            || !self.may_send_data()
        {
            return;
        }
        if let Some(pto) = self.pto() {
            self.arm_pto(now + pto);
        }
    }

    /// PTO = 2 * SRTT plus WCDelAckT for one segment in flight, else
    /// `PTO_SLACK` (RFC 8985 §7.2); none before an RTT sample.
    fn pto(&self) -> Option<Duration> {
        let srtt = self.rtt.srtt()?;
        let extra = if self.flight_size() <= self.max_payload_base() {
            WC_DEL_ACK
        } else {
            PTO_SLACK
        };
        Some(srtt * 2 + extra)
    }

    /// Set the probe timer for `at`, no later than the RTO.
    fn arm_pto(&mut self, at: Instant) {
        self.pto_at = Some(match self.timer.expires_at() {
            Some(rto_at) => at.min(rto_at),
            None => at,
        });
    }

    /// A probe went out: unless `MAX_PROBES` have, arm the timer for the
    /// next one at twice the PTO (RFC 9002 §6.2.1 backoff); the RTO,
    /// restarted by the probe, stays the last resort.
    pub(super) fn on_probe_sent(&mut self, now: Instant) {
        self.tlp_sent = self.tlp_sent.saturating_add(1);
        self.pto_at = None;
        if self.tlp_sent < MAX_PROBES {
            if let Some(pto) = self.pto() {
                self.arm_pto(now + pto * 2);
            }
        }
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
        match (self.txlog.rack().and_then(|fl| fl.reo_timer), self.pto_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handle expired recovery deadlines (idempotent).
    pub(super) fn handle_recovery_timers(&mut self, now: Instant) {
        if self
            .txlog
            .rack()
            .and_then(|fl| fl.reo_timer)
            .is_some_and(|at| now >= at)
        {
            // RFC 8985 §6.3 RACK_reo_timeout: detect again.
            self.rack_detect_loss(now);
            self.maybe_enter_sack_recovery();
        }
        if let Some(at) = self.pto_at {
            if now >= at {
                self.pto_at = None;
                if self.tlp_sent < MAX_PROBES && self.snd_max > self.snd_una && self.may_send_data()
                {
                    debug!(local = %self.tuple.local, remote = %self.tuple.remote, una = self.snd_una.to_u32(), "tail loss probe");
                    self.tlp_pending = true;
                }
            }
        }
    }

    /// A retransmission timeout on a SACK connection (RFC 8985 §6.3
    /// "upon RTO expiration", Linux's Loss state): every segment not
    /// SACKed is lost; they go again in order as cwnd (one segment, then
    /// slow start) allows, SACKed data skipped, new data after them, and
    /// RACK keeps watching the retransmissions. Returns false when there is
    /// no log to work from (the caller goes back to SND.UNA instead).
    pub(super) fn enter_rto_recovery(&mut self) -> bool {
        if let Some(fl) = self.txlog.rack_mut() {
            fl.reo_timer = None;
        }
        self.pto_at = None;
        self.tlp_pending = false;
        self.tlp_end = None;
        if !self.sack_ok || self.txlog.is_empty() {
            return false;
        }
        self.txlog.mark_all_lost();
        self.recovery = Some(self.snd_max);
        self.rto_recovery = true;
        true
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

    /// A D-SACK arrived: the peer saw data twice, so a retransmission was
    /// unneeded (reordering or a lost ACK). RFC 8985 §6.2 step 4: widen the
    /// reordering window, once per round trip, and keep it wide for the
    /// next 16 recoveries.
    pub(super) fn on_dsack(&mut self) {
        self.counters.dsack_recv += 1;
        let (una, max) = (self.snd_una, self.snd_max);
        // The round lives with the flight: with nothing in flight, any
        // earlier round is over.
        let new_round = match self.txlog.rack_mut() {
            Some(fl) if fl.dsack_round.is_some_and(|round| una < round) => false,
            Some(fl) => {
                fl.dsack_round = Some(max);
                true
            }
            None => true,
        };
        if new_round {
            let rack = &mut self.rack;
            rack.reo_wnd_mult = rack.reo_wnd_mult.saturating_add(1);
            rack.reo_wnd_persist = REO_WND_PERSIST;
        }
    }
}
