//! Segment departure and timers: `dispatch` and `poll_at`.
//!
//! One function, `plan`, decides what the next segment is; `poll_at` asks it
//! whether anything is due now and `dispatch` builds and emits it, so the two
//! cannot disagree: after `dispatch` returns `Ok(false)`, `poll_at` is later
//! than `now` (or `None`). Timers are data (`Timer` plus the delayed-ACK
//! deadline); an expired timer is handled at the start of `dispatch`, and
//! handling is idempotent: calling `dispatch` early changes nothing.

use tracing::debug;

use super::congestion::CongestionControl;
use super::socket::Timer;
use super::{State, TcpError, TcpSocket};
use crate::time::Instant;
use crate::wire::{TcpControl, TcpRepr, TcpSeqNumber, TcpTimestampRepr};

/// What the next segment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rst,
    /// SYN, or SYN-ACK in SYN-RECEIVED.
    Syn,
    /// Data and/or FIN.
    Data,
    /// A bare ACK (or window update).
    Ack,
    /// A keepalive probe: an ACK with SEQ = SND.NXT - 1 (RFC 1122
    /// §4.2.3.6), which the peer must answer.
    Keepalive,
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    kind: Kind,
    seq: TcpSeqNumber,
    /// Offset of the payload in the send buffer.
    offset: usize,
    len: usize,
    fin: bool,
    /// Fast retransmit / NewReno partial-ACK retransmission of SND.UNA.
    front: bool,
    /// Zero-window probe.
    probe: bool,
    /// Tail loss probe (RFC 8985 §7.3).
    tlp: bool,
}

impl Plan {
    fn control(kind: Kind, seq: TcpSeqNumber) -> Plan {
        Plan {
            kind,
            seq,
            offset: 0,
            len: 0,
            fin: false,
            front: false,
            probe: false,
            tlp: false,
        }
    }

    /// Data from `seq` to `end` (bytes of the send buffer starting at
    /// `tx_start`), with the FIN if `fin`.
    fn data(seq: TcpSeqNumber, tx_start: TcpSeqNumber, len: usize, fin: bool) -> Plan {
        Plan {
            kind: Kind::Data,
            seq,
            offset: if seq > tx_start { seq - tx_start } else { 0 },
            len,
            fin,
            front: false,
            probe: false,
            tlp: false,
        }
    }
}

impl TcpSocket {
    /// Emit the next segment due at `now`, if any. `emit` builds the frame
    /// around the segment (the payload is borrowed from the send buffer) and
    /// sends it; if it fails, nothing changes and the error is returned.
    /// Returns `Ok(true)` if a segment was emitted: call again until
    /// `Ok(false)`. Expired timers are handled first; calling early is
    /// harmless.
    pub fn dispatch<E>(
        &mut self,
        now: Instant,
        emit: impl FnOnce(&TcpRepr<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        self.arm_timers(now);
        self.handle_timers(now);
        self.handle_recovery_timers(now);
        self.idle_restart(now);
        let ack_due = self.ack_now || self.ack_deadline.is_some_and(|at| at <= now);
        let Some(plan) = self.plan(ack_due) else {
            return Ok(false);
        };
        let plan = {
            let (repr, plan) = self.build(plan, now);
            emit(&repr)?;
            plan
        };
        // Linux's DelayedACKs: a pure ACK sent because the delayed-ACK timer
        // expired (not one owed at once, nor one riding on data).
        let delayed_ack = plan.kind == Kind::Ack
            && !self.ack_now
            && self.ack_deadline.is_some_and(|at| at <= now);
        self.after_emit(plan, now);
        if delayed_ack {
            self.counters.delayed_acks += 1;
        }
        Ok(true)
    }

    /// When `dispatch` must next be called: `None` when nothing is pending;
    /// a time at or before now (`Instant::ZERO`) when a segment is ready.
    /// Covers data, ACKs and FIN ready to send, the delayed-ACK deadline,
    /// retransmission, persist, keepalive, TIME-WAIT and FIN-WAIT-2 timers,
    /// and a final RST after `Closed`.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.rst_pending {
            return Some(Instant::ZERO);
        }
        if self.state == State::Closed {
            return None;
        }
        if self.timer_to_arm(Instant::ZERO).is_some() || self.plan(false).is_some() {
            return Some(Instant::ZERO);
        }
        [
            self.timer.expires_at(),
            self.ack_deadline,
            self.recovery_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- timers -----

    /// The timer that should run but does not yet (its deadline counted from
    /// `now`), if any.
    fn timer_to_arm(&self, now: Instant) -> Option<Timer> {
        match self.state {
            State::FinWait2 if self.released && !matches!(self.timer, Timer::Close { .. }) => {
                Some(Timer::Close {
                    expires_at: now + self.config.fin_timeout,
                })
            }
            State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck => {
                // RFC 9293 §3.8.6.1: probe a zero window while data waits.
                let persist = self.snd_wnd == 0 && !self.tx.is_empty();
                let outstanding = self.snd_max > self.snd_una;
                // RFC 1122 §4.2.3.6: keepalive only on an idle connection
                // (as Linux: in ESTABLISHED and CLOSE-WAIT, where our side
                // may still have something to say).
                let keepalive = self.config.keepalive
                    && !persist
                    && !outstanding
                    && matches!(self.state, State::Established | State::CloseWait);
                let idle = if keepalive {
                    Timer::Keepalive {
                        expires_at: self.keepalive_deadline(now),
                    }
                } else {
                    Timer::Idle
                };
                match self.timer {
                    Timer::Persist { .. } if !persist => Some(if outstanding {
                        Timer::Retransmit {
                            expires_at: now + self.rtt.rto(),
                        }
                    } else {
                        idle
                    }),
                    Timer::Idle | Timer::Retransmit { .. } | Timer::Keepalive { .. } if persist => {
                        Some(Timer::Persist {
                            expires_at: now + self.rtt.backed_off(self.persist_backoff),
                        })
                    }
                    // RFC 6298 §5.1: anything outstanding runs the timer.
                    Timer::Idle | Timer::Keepalive { .. } if outstanding => {
                        Some(Timer::Retransmit {
                            expires_at: now + self.rtt.rto(),
                        })
                    }
                    Timer::Idle if keepalive => Some(idle),
                    Timer::Keepalive { .. } if !keepalive => Some(Timer::Idle),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Start or switch timers that state changes without a clock (the
    /// application's calls, window changes) call for.
    pub(super) fn arm_timers(&mut self, now: Instant) {
        if let Some(timer) = self.timer_to_arm(now) {
            if matches!(self.timer, Timer::Persist { .. })
                && !matches!(timer, Timer::Persist { .. })
            {
                // The window opened. Whatever was sent past the zero window
                // (probes) and not acknowledged was dropped: resend from
                // SND.UNA.
                self.persist_backoff = 0;
                self.probe_pending = false;
                self.probe_end = None;
                self.snd_nxt = self.snd_una;
            }
            self.timer = timer;
        }
    }

    fn handle_timers(&mut self, now: Instant) {
        let open = self.state != State::Closed;
        match self.timer {
            Timer::Retransmit { expires_at } if now >= expires_at => {
                self.on_retransmit_timeout(now)
            }
            Timer::Persist { expires_at } if now >= expires_at => self.on_persist_timeout(now),
            Timer::Close { expires_at } if now >= expires_at => self.on_close_timeout(),
            Timer::Keepalive { expires_at } if now >= expires_at => self.on_keepalive_timeout(now),
            _ => {}
        }
        if self.state == State::Closed && self.error == Some(TcpError::TimedOut) && open {
            // TCPAbortOnTimeout: retransmissions (SYN, data, FIN), window
            // probes or keepalive probes went unanswered.
            debug!(local = %self.tuple.local, remote = %self.tuple.remote, soft_error = self.soft_error, "connection timed out");
            self.counters.abort_on_timeout += 1;
        }
    }

    /// When the keepalive timer expires if armed now: `keepalive_time`
    /// after the peer was last heard from, or `keepalive_intvl` after now
    /// while probes are unanswered (Linux `tcp_keepalive_timer`).
    fn keepalive_deadline(&self, now: Instant) -> Instant {
        if self.keepalive_sent == 0 {
            self.last_recv + self.config.keepalive_time
        } else {
            now + self.config.keepalive_intvl
        }
    }

    /// RFC 1122 §4.2.3.6: the connection was idle for `keepalive_time`, or
    /// the last probe went unanswered for `keepalive_intvl`. Send a probe,
    /// or after `keepalive_probes` unanswered ones abort with a RST (as
    /// Linux: `tcp_keepalive_timer` sends `tcp_send_active_reset`).
    fn on_keepalive_timeout(&mut self, now: Instant) {
        if self.keepalive_sent >= self.config.keepalive_probes {
            debug!(local = %self.tuple.local, remote = %self.tuple.remote, probes = self.keepalive_sent, "keepalive probes unanswered; giving up");
            self.abort_with(Some(TcpError::TimedOut));
            return;
        }
        self.keepalive_sent += 1;
        self.keepalive_pending = true;
        self.timer = Timer::Keepalive {
            expires_at: now + self.config.keepalive_intvl,
        };
    }

    /// RFC 6298 §5.4-5.7: retransmit the earliest unacknowledged segment
    /// (we go back to SND.UNA), back off, restart the timer; give up after
    /// the configured number of retries.
    fn on_retransmit_timeout(&mut self, now: Instant) {
        if self.snd_max == self.snd_una && !(self.syn_unacked() && self.snd_max == self.iss + 1) {
            self.timer = Timer::Idle;
            return;
        }
        let limit = match self.state {
            State::SynSent => self.config.syn_retries,
            State::SynReceived => self.config.synack_retries,
            // Nobody waits for an orphan: Linux `tcp_orphan_retries`.
            _ if self.released => self.config.orphan_retries,
            _ => self.config.retries2,
        };
        if self.retransmits >= limit {
            debug!(
                local = %self.tuple.local,
                remote = %self.tuple.remote,
                state = %self.state,
                retransmits = self.retransmits,
                "retransmission limit reached; giving up"
            );
            match self.state {
                // A half-open connection is dropped silently (as Linux
                // does); an unanswered SYN has nobody to reset.
                State::SynSent | State::SynReceived => {
                    self.error = Some(TcpError::TimedOut);
                    self.set_state(State::Closed);
                }
                _ => self.abort_with(Some(TcpError::TimedOut)),
            }
            return;
        }
        self.retransmits += 1;
        self.counters.timeouts += 1;
        self.rtt.back_off();
        if self.syn_unacked() {
            self.syn_retransmitted = true;
            self.snd_nxt = self.iss;
        } else {
            let flight = self.snd_max - self.snd_una;
            self.cc
                .on_retransmit_timeout(flight, self.max_payload_base(), self.retransmits == 1);
            self.recovery = None;
            self.dup_acks = 0;
            // RFC 6582 §3.2 step 1 after a timeout: no fast retransmit for
            // data sent before it.
            self.recover = Some(self.snd_max);
            self.retransmit_front = false;
            self.recovery_entered = false;
            self.recovery_ts = None;
            self.rto_recovery = false;
            // SACK: RFC 8985 §6.3, the lost segments go again from the
            // log; otherwise go back to SND.UNA (RFC 5681 §3.1).
            if !self.enter_rto_recovery() {
                self.snd_nxt = self.snd_una;
            }
        }
        self.timer = Timer::Retransmit {
            expires_at: now + self.rtt.rto(),
        };
        debug!(
            local = %self.tuple.local,
            remote = %self.tuple.remote,
            una = self.snd_una.to_u32(),
            retransmits = self.retransmits,
            rto_ms = self.rtt.rto().as_millis() as u64,
            "retransmission timeout"
        );
    }

    /// The persist timer fired: send a one-byte probe and back off. The
    /// connection stays open as long as probes are answered (RFC 1122
    /// §4.2.2.17); `retries2` unanswered probes abort it (`orphan_retries`
    /// once released, as Linux's `tcp_probe_timer`).
    fn on_persist_timeout(&mut self, now: Instant) {
        let limit = if self.released {
            self.config.orphan_retries
        } else {
            self.config.retries2
        };
        if self.probes >= limit {
            debug!(local = %self.tuple.local, remote = %self.tuple.remote, probes = self.probes, "window probes unanswered; giving up");
            self.abort_with(Some(TcpError::TimedOut));
            return;
        }
        self.probes += 1;
        // TCPWinProbe; counted here, the probe goes out on this dispatch.
        self.counters.window_probes += 1;
        self.persist_backoff = (self.persist_backoff + 1).min(16);
        // Bytes past a zero window were not accepted: probe from SND.UNA.
        self.snd_nxt = self.snd_una;
        self.probe_pending = true;
        self.timer = Timer::Persist {
            expires_at: now + self.rtt.backed_off(self.persist_backoff),
        };
    }

    fn on_close_timeout(&mut self) {
        match self.state {
            State::TimeWait => self.set_state(State::Closed),
            // Linux resets an orphan whose peer never sends its FIN.
            State::FinWait2 => self.abort_with(None),
            _ => self.timer = Timer::Idle,
        }
    }

    /// RFC 5681 §4.1: after an idle period longer than the RTO, restart
    /// from at most the initial window.
    fn idle_restart(&mut self, now: Instant) {
        if self.snd_max == self.snd_una
            && !self.syn_unacked()
            && self.unsent() > 0
            && now - self.last_send > self.rtt.rto()
        {
            self.cc.on_idle_restart(self.max_payload_base());
        }
    }

    // ----- what to send -----

    /// SACK blocks for our next ACK (RFC 2018 §4): the block holding the
    /// most recent out-of-order segment first, then the others in order.
    /// A pending D-SACK (RFC 2883 §4) goes first, followed by the block
    /// holding it if the duplicate lies above RCV.NXT.
    fn sack_blocks(&self) -> [Option<(u32, u32)>; 4] {
        let mut blocks = [None; 4];
        let dsack = self.dsack.filter(|_| self.sack_ok);
        if !self.sack_ok || (self.assembler.is_empty() && dsack.is_none()) {
            return blocks;
        }
        let max = if self.timestamps.is_some() { 3 } else { 4 };
        let to_seq = |(start, end): (usize, usize)| {
            (
                (self.rcv_nxt + start).to_u32(),
                (self.rcv_nxt + end).to_u32(),
            )
        };
        let recent = self
            .sack_recent
            .filter(|&r| r >= self.rcv_nxt)
            .and_then(|r| self.assembler.range_containing(r - self.rcv_nxt));
        let mut n = 0;
        let mut holding = None;
        if let Some((start, end)) = dsack {
            blocks[0] = Some((start.to_u32(), end.to_u32()));
            n = 1;
            if start >= self.rcv_nxt {
                holding = self
                    .assembler
                    .range_containing(start - self.rcv_nxt)
                    .filter(|&(_, e)| self.rcv_nxt + e >= end);
            }
        }
        let first = holding.or(recent);
        if let Some(range) = first {
            blocks[n] = Some(to_seq(range));
            n += 1;
        }
        for range in self.assembler.ranges() {
            if n == max {
                break;
            }
            if Some(range) != first {
                blocks[n] = Some(to_seq(range));
                n += 1;
            }
        }
        blocks
    }

    /// Largest payload of our next segment: the MSS less the options it
    /// carries (RFC 9293 §3.7.1).
    fn max_payload(&self) -> usize {
        let sacks = self.sack_blocks().iter().flatten().count();
        let sack_len = if sacks > 0 { 4 + 8 * sacks } else { 0 };
        self.max_payload_base() - sack_len
    }

    /// Whether the window opened enough to be worth a segment of its own:
    /// by at least the SWS threshold (RFC 9293 §3.8.6.2.2) and to at least
    /// twice what the peer still sees (Linux `tcp_cleanup_rbuf`).
    fn window_update_due(&self) -> bool {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return false;
        }
        // Only reading opens the window; without a read there is nothing to
        // announce (not even the jump from the unscaled SYN-ACK window).
        if !self.rx_read {
            return false;
        }
        let current = self.rcv_wnd();
        let new = self.window_to_advertise();
        new >= current + self.sws_threshold() && new >= 2 * current
    }

    /// The next segment, if one is due; `ack_due` when the delayed ACK has
    /// expired.
    fn plan(&self, ack_due: bool) -> Option<Plan> {
        if self.rst_pending {
            return Some(Plan::control(Kind::Rst, self.snd_max));
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent => {
                return (self.snd_nxt == self.iss).then(|| Plan::control(Kind::Syn, self.iss));
            }
            State::SynReceived if self.snd_nxt == self.iss => {
                return Some(Plan::control(Kind::Syn, self.iss));
            }
            State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck => {
                if let Some(plan) = self.plan_data() {
                    return Some(plan);
                }
            }
            State::SynReceived | State::FinWait2 | State::TimeWait => {}
        }
        if self.keepalive_pending
            && self.snd_max == self.snd_una
            && matches!(self.state, State::Established | State::CloseWait)
        {
            // RFC 1122 §4.2.3.6: <SEQ=SND.NXT-1><ACK=RCV.NXT>, no data (as
            // Linux's `tcp_xmit_probe_skb`): an old sequence number the peer
            // must answer with an ACK. It carries our ACK too.
            return Some(Plan::control(Kind::Keepalive, self.snd_max - 1));
        }
        if ack_due || self.ack_now || self.window_update_due() {
            // RFC 9293 §3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, where
            // the RFC's SND.NXT is our highest sent: after a go-back-N
            // `snd_nxt` is behind the peer's RCV.NXT, and an ACK carrying it
            // would be unacceptable there (each side answering the other's
            // "old" ACK with another: an ACK war).
            return Some(Plan::control(Kind::Ack, self.snd_max));
        }
        None
    }

    /// Data and/or FIN to send now, under the peer's window, the congestion
    /// window, Nagle and sender-side SWS avoidance. In SACK recovery the
    /// order is RFC 6675 §4 NextSeg: (1) a lost segment, (2) new data, both
    /// while cwnd - pipe >= 1 SMSS (§5 (C)).
    fn plan_data(&self) -> Option<Plan> {
        let max_payload = self.max_payload();
        let tx_start = self.tx_start();
        let data_end = self.tx_end();
        let fin_sent = self.fin_queued && self.snd_max > data_end;
        // A retransmission from `seq`, at most to `hole_end` (the next
        // SACKed byte or SND.MAX), with the FIN if it reaches it.
        let rxt = |seq: TcpSeqNumber, hole_end: TcpSeqNumber| {
            let outstanding_data = if data_end > seq { data_end - seq } else { 0 };
            let room = if hole_end > seq { hole_end - seq } else { 0 };
            let len = outstanding_data.min(max_payload).min(room);
            let fin = fin_sent && seq + len == data_end && hole_end > data_end;
            (len > 0 || fin).then(|| Plan::data(seq, tx_start, len, fin))
        };

        if self.retransmit_front && self.snd_max > self.snd_una {
            // RFC 6675 §5 step 4.3: the first lost segment goes at once,
            // whatever the pipe.
            if let Some(plan) = self.next_seg().and_then(|(seq, end)| rxt(seq, end)) {
                return Some(Plan {
                    front: true,
                    ..plan
                });
            }
            // RFC 5681 §3.2 step 2 / RFC 6582 §3.2 step 4: resend SND.UNA
            // (up to the first SACKed byte).
            let hole_end = match self.sacked.ranges().next() {
                Some((start, _)) if start > 0 => self.snd_una + start,
                _ => self.snd_max,
            };
            if let Some(plan) = rxt(self.snd_una, hole_end) {
                return Some(Plan {
                    front: true,
                    ..plan
                });
            }
        }
        if self.tlp_pending {
            if let Some(plan) = self.plan_tail_probe(max_payload, tx_start, data_end, fin_sent) {
                return Some(plan);
            }
        }
        let sack_recovery = self.in_sack_recovery();
        let mut cwnd_open = true;
        if sack_recovery {
            cwnd_open = self.send_window_cc() >= self.pipe() + self.max_payload_base();
            if cwnd_open {
                if let Some(plan) = self.next_seg().and_then(|(seq, end)| rxt(seq, end)) {
                    return Some(plan);
                }
            }
        }
        // RFC 6675 NextSeg rule 3 (holes not yet deemed lost) is left out,
        // as Linux does: RACK marks reordered data lost only once its
        // window has passed, and the tail loss probe covers the tail;
        // rule 3 turned every reordered segment into a spurious
        // retransmission.
        self.plan_send(max_payload, tx_start, data_end, cwnd_open)
    }

    /// RFC 8985 §7.3: the probe is one segment of new data if the peer's
    /// window allows, else the last segment sent again.
    fn plan_tail_probe(
        &self,
        max_payload: usize,
        tx_start: TcpSeqNumber,
        data_end: TcpSeqNumber,
        fin_sent: bool,
    ) -> Option<Plan> {
        if self.snd_max <= self.snd_una {
            return None;
        }
        let probe = |plan: Plan| Plan { tlp: true, ..plan };
        let seq = self.snd_max;
        let unsent = if data_end > seq { data_end - seq } else { 0 };
        let window_end = self.snd_una + self.snd_wnd;
        let room = if window_end > seq {
            window_end - seq
        } else {
            0
        };
        if self.snd_nxt == self.snd_max && unsent > 0 && room > 0 {
            let len = unsent.min(max_payload).min(room);
            let fin = self.fin_queued && len == unsent;
            return Some(probe(Plan::data(seq, tx_start, len, fin)));
        }
        if self.fin_queued && !fin_sent && unsent == 0 && seq == data_end {
            return Some(probe(Plan::data(seq, tx_start, 0, true)));
        }
        let last_data_end = if fin_sent { data_end } else { self.snd_max };
        let start = if last_data_end - self.snd_una > max_payload {
            last_data_end - max_payload
        } else {
            self.snd_una
        };
        let len = last_data_end - start;
        Some(probe(Plan::data(start, tx_start, len, fin_sent)))
    }

    /// New data (or data again after going back to SND.UNA on a timeout)
    /// under the windows; `cwnd_open` is false in SACK recovery while
    /// cwnd - pipe < 1 SMSS.
    fn plan_send(
        &self,
        max_payload: usize,
        tx_start: TcpSeqNumber,
        data_end: TcpSeqNumber,
        cwnd_open: bool,
    ) -> Option<Plan> {
        let mut seq = self.snd_nxt;
        // Going back after a timeout: skip what the peer has SACKed, and
        // stop before the next SACKed range. The left edge itself is always
        // resent (RFC 2018 §8).
        let mut sack_limit = usize::MAX;
        if seq < self.snd_max && !self.sacked.is_empty() {
            let mut off = seq - self.snd_una;
            if off > 0 {
                if let Some((start, end)) = self.sacked.range_after(off) {
                    if start <= off {
                        off = end;
                        seq = self.snd_una + end;
                    }
                }
            }
            if let Some((start, _)) = self.sacked.range_after(off) {
                if start > off {
                    sack_limit = start - off;
                }
            }
        }
        let unsent = if data_end > seq { data_end - seq } else { 0 };

        if self.probe_pending && self.snd_wnd == 0 && unsent > 0 {
            // RFC 9293 §3.8.6.1: one byte past the zero window.
            return Some(Plan {
                probe: true,
                ..Plan::data(seq, tx_start, 1, false)
            });
        }

        let fin_unsent = self.fin_queued && seq <= data_end;
        if unsent == 0 && !fin_unsent {
            return None;
        }
        // The peer's window counts from SND.UNA (RFC 9293 §3.8.6.2.1).
        let window_end = self.snd_una + self.snd_wnd;
        let rwnd_room = if window_end > seq {
            window_end - seq
        } else {
            0
        };
        // Congestion window: outside recovery SACKed bytes are not in
        // flight; in SACK recovery the RFC 6675 pipe counts; NewReno's
        // inflation already counts the segments that left the network.
        let flight = if self.in_sack_recovery() {
            self.pipe()
        } else if self.recovery.is_some() {
            self.in_flight()
        } else {
            self.in_flight() - self.sacked.len_below(self.in_flight())
        };
        let cwnd_room = if cwnd_open {
            self.send_window_cc().saturating_sub(flight)
        } else {
            0
        };
        let allowed = rwnd_room.min(cwnd_room);
        let len = unsent.min(allowed).min(max_payload).min(sack_limit);
        let fin = fin_unsent && len == unsent;
        if len == 0 && !fin {
            return None;
        }
        if len > 0 && len < max_payload && !fin {
            // RFC 9293 §3.7.4 (Nagle) and §3.8.6.2.1 (sender SWS avoidance):
            // a short segment goes out only if nothing is in flight, or it
            // empties the queue and Nagle allows it, or it is at least half
            // the largest window the peer offered, or it is a
            // retransmission. Nagle here is Minshall's variant (as Linux):
            // hold a short segment only while another short one is
            // unacknowledged, so the tail of a whole response written at
            // once never waits for the ACK of the full segments before it
            // (the Nagle/delayed-ACK stall). (With nothing in flight no ACK
            // will come to change anything, so a window-limited short
            // segment goes too: this stands in for the override timeout of
            // §3.8.6.2.1.)
            let idle = self.in_flight() == 0;
            let small_unacked = self.snd_sml > self.snd_una;
            let nagle_ok = len == unsent && (self.config.nodelay || !small_unacked);
            let sws_ok = self.max_snd_wnd > 0 && len >= self.max_snd_wnd / 2;
            let retransmission = seq < self.snd_max;
            if !(idle || nagle_ok || sws_ok || retransmission) {
                return None;
            }
        }
        Some(Plan::data(seq, tx_start, len, fin))
    }

    /// The segment for `plan`; the payload may come back shorter (the send
    /// ring's wrap), so the adjusted plan is returned too.
    fn build(&self, mut plan: Plan, now: Instant) -> (TcpRepr<'_>, Plan) {
        let mut repr = TcpRepr {
            src_port: self.tuple.local.port,
            dst_port: self.tuple.remote.port,
            control: TcpControl::None,
            seq_number: plan.seq,
            ack_number: Some(self.rcv_nxt),
            window_len: 0,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            payload: &[],
        };
        let tsval = |recent: u32| {
            self.timestamps
                .map(|ts| TcpTimestampRepr::new(self.tsval(now, ts.offset), recent))
        };
        match plan.kind {
            Kind::Rst => return (self.rst_segment(now), plan),
            Kind::Syn => {
                repr.control = TcpControl::Syn;
                // NOTE(cast): syn_window() is at most u16::MAX.
                repr.window_len = self.syn_window() as u16;
                repr.max_seg_size = Some(self.config.mss);
                if self.state == State::SynSent {
                    repr.ack_number = None;
                    repr.window_scale = self.config.window_scaling.then_some(self.rcv_wscale);
                    repr.sack_permitted = self.config.sack;
                    repr.timestamp = tsval(0);
                } else {
                    repr.window_scale = self.window_scaling.then_some(self.rcv_wscale);
                    repr.sack_permitted = self.sack_ok;
                    repr.timestamp = tsval(self.timestamps.map_or(0, |ts| ts.recent));
                }
                return (repr, plan);
            }
            Kind::Data => {
                let payload = self.tx.get_allocated(plan.offset, plan.len);
                if payload.len() < plan.len {
                    plan.len = payload.len();
                    plan.fin = false;
                }
                repr.payload = payload;
                if plan.fin {
                    repr.control = TcpControl::Fin;
                }
            }
            Kind::Ack | Kind::Keepalive => {}
        }
        let window = self.window_to_advertise() >> self.rcv_wscale;
        // NOTE(cast): window_to_advertise() is at most u16::MAX << rcv_wscale.
        repr.window_len = window.min(usize::from(u16::MAX)) as u16;
        repr.timestamp = tsval(self.timestamps.map_or(0, |ts| ts.recent));
        repr.sack_ranges = self.sack_blocks();
        (repr, plan)
    }

    /// Bookkeeping after `emit` succeeded.
    fn after_emit(&mut self, plan: Plan, now: Instant) {
        match plan.kind {
            Kind::Rst => {
                self.rst_pending = false;
                return;
            }
            Kind::Syn => {
                let first = self.snd_max == self.iss;
                if !first {
                    self.counters.retrans_segs += 1;
                }
                self.snd_nxt = self.iss + 1;
                if self.snd_max < self.snd_nxt {
                    self.snd_max = self.snd_nxt;
                }
                if first && !self.syn_retransmitted {
                    self.rtt.start_timing(self.snd_nxt, now);
                }
                if !matches!(self.timer, Timer::Retransmit { .. }) {
                    self.timer = Timer::Retransmit {
                        expires_at: now + self.rtt.rto(),
                    };
                }
                if self.state == State::SynSent {
                    return;
                }
            }
            Kind::Data if plan.probe => {
                // A probe is not counted as sent: the peer most likely drops
                // it, and SND.MAX past a zero window would make our ACKs
                // unacceptable there. An ACK that covers it is still
                // accepted (`probe_end`).
                let end = plan.seq + plan.len;
                if end > self.snd_max {
                    self.probe_end = Some(end);
                }
                self.probe_pending = false;
            }
            Kind::Data => {
                let end = plan.seq + plan.len + usize::from(plan.fin);
                let retransmission = plan.seq < self.snd_max;
                if !plan.front && end > self.snd_nxt {
                    self.snd_nxt = end;
                }
                if end > self.snd_max {
                    self.snd_max = end;
                }
                if self.sack_ok {
                    // RFC 8985 §6.1: the segment's send time and state.
                    let cap = self.txlog_cap();
                    self.txlog.on_send(plan.seq, end, now, cap);
                }
                if retransmission {
                    self.last_retransmit_ts = self.timestamps.map(|ts| self.tsval(now, ts.offset));
                    self.counters.retrans_segs += 1;
                    // Karn (RFC 6298 §3): an ACK covering the timed segment
                    // may now be for a retransmission ahead of it.
                    self.rtt.discard_timing();
                    // Linux counts retransmissions in the Loss state (after
                    // an RTO) as slow-start ones, not fast.
                    if self.recovery.is_some() && !self.rto_recovery {
                        self.counters.fast_retrans += 1;
                    }
                } else {
                    self.rtt.start_timing(end, now);
                }
                if plan.front {
                    self.retransmit_front = false;
                    if self.recovery_entered {
                        self.recovery_entered = false;
                        self.recovery_ts = self.timestamps.map(|ts| self.tsval(now, ts.offset));
                    }
                }
                if plan.tlp {
                    // RFC 8985 §7.3: the probe restarts the RTO; a second
                    // probe may follow (`on_probe_sent`).
                    self.tlp_pending = false;
                    self.tlp_end = Some(self.snd_max);
                    self.tlp_retrans = retransmission;
                    self.counters.tlp_probes += 1;
                    self.timer = Timer::Retransmit {
                        expires_at: now + self.rtt.rto(),
                    };
                    self.on_probe_sent(now);
                } else if self.timer == Timer::Idle {
                    self.timer = Timer::Retransmit {
                        expires_at: now + self.rtt.rto(),
                    };
                }
                if plan.len > 0 {
                    self.last_send = now;
                }
                if plan.len > 0 && plan.len < self.max_payload_base() && !retransmission {
                    self.snd_sml = end;
                }
                if !plan.tlp && (!retransmission || self.in_sack_recovery()) {
                    // RFC 8985 §7.2: new data (re)arms the probe timer; in
                    // recovery a retransmission does too (see `rearm_pto`).
                    self.rearm_pto(now);
                }
            }
            Kind::Keepalive => {
                // Not counted as sent: SND.NXT and SND.MAX stay.
                self.keepalive_pending = false;
                self.counters.keepalive_probes += 1;
            }
            Kind::Ack => {}
        }
        // The segment carried our ACK and window.
        let window = if plan.kind == Kind::Syn {
            self.syn_window()
        } else {
            self.window_to_advertise()
        };
        let edge = self.rcv_nxt + window;
        if edge > self.rcv_adv {
            self.rcv_adv = edge;
        }
        if self.dsack.take().is_some() && self.sack_ok {
            self.counters.dsack_sent += 1;
        }
        self.ack_now = false;
        self.ack_deadline = None;
        self.rcv_unacked = 0;
        self.rx_read = false;
        self.rcv_ack_sent = self.rcv_nxt;
    }
}
