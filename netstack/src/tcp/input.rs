//! Segment arrival: RFC 9293 §3.10.7 "SEGMENT ARRIVES", step by step, with
//! RFC 5961 (blind in-window attacks), RFC 7323 (timestamps, PAWS) and
//! RFC 5681/6582 (duplicate ACKs, NewReno) folded in where they apply.
//!
//! `process` only updates state and flags; every ACK and data segment goes
//! out through `dispatch`. The exceptions are RSTs, returned for the caller
//! to send at once: one answering a segment no connection of ours can
//! accept (RFC 9293 §3.10.7.1-3), and one aborting the connection because of
//! the segment (data for a released socket, RFC 1122 §4.2.2.13).

use tracing::{debug, trace};

use super::congestion::CongestionControl;
use super::recovery::AckInfo;
use super::socket::{Timer, PAWS_IDLE};
use super::txlog::Sent;
use super::{State, TcpError, TcpSocket};
use crate::time::{Duration, Instant};
use crate::wire::{TcpControl, TcpRepr, TcpSeqNumber, TcpTimestampRepr};

/// Signed distance from `b` to `a` in sequence space.
fn seq_diff(a: TcpSeqNumber, b: TcpSeqNumber) -> i64 {
    i64::from(a.0.wrapping_sub(b.0))
}

impl TcpSocket {
    /// Handle a segment for this connection (already demuxed and
    /// checksum-verified). Returns a segment the caller must send right away
    /// only for replies that carry no payload: a RST answering an
    /// unacceptable ACK in SYN-SENT or SYN-RECEIVED, any segment reaching a
    /// closed socket, or data reaching a released one. Every ACK and data
    /// segment goes out through [`dispatch`](TcpSocket::dispatch).
    pub fn process(&mut self, now: Instant, seg: &TcpRepr<'_>) -> Option<TcpRepr<'static>> {
        trace!(
            local = %self.tuple.local,
            remote = %self.tuple.remote,
            state = %self.state,
            seq = seg.seq_number.to_u32(),
            ack = seg.ack_number.map(|a| a.to_u32()),
            win = seg.window_len,
            len = seg.payload.len(),
            ctl = ?seg.control,
            "tcp process"
        );
        let reply = match self.state {
            // RFC 9293 §3.10.7.1: a segment for a closed connection gets a RST.
            State::Closed => self.rst_reply(seg),
            State::Listen => None,
            State::SynSent => self.process_syn_sent(now, seg),
            _ => self.process_synchronized(now, seg),
        };
        if self.rst_pending && self.state == State::Closed {
            // The segment made us abort (data for a released socket): the
            // RST is the reply, so it goes out even if the owner frees the
            // closed socket right away.
            self.rst_pending = false;
            return Some(self.rst_segment(now));
        }
        self.arm_timers(now);
        reply
    }

    /// Our RST aborting the connection (RFC 9293 §3.10.5): the highest
    /// sequence number sent, with an ACK as Linux sends it. With timestamps
    /// negotiated it carries them too (RFC 7323 §3.2: on every segment once
    /// agreed; Linux's `tcp_send_active_reset` does the same), so a peer
    /// doing PAWS on RSTs does not drop it.
    pub(super) fn rst_segment(&self, now: Instant) -> TcpRepr<'static> {
        TcpRepr {
            src_port: self.tuple.local.port,
            dst_port: self.tuple.remote.port,
            control: TcpControl::Rst,
            seq_number: self.snd_max,
            ack_number: Some(self.rcv_nxt),
            timestamp: self
                .timestamps
                .map(|ts| TcpTimestampRepr::new(self.tsval(now, ts.offset), ts.recent)),
            ..TcpRepr::default()
        }
    }

    /// Send a challenge ACK (RFC 5961 §3.2, §4.2, §5.2), at most
    /// `challenge_ack_limit` per second (RFC 5961 §7; 0: no limit).
    ///
    /// Linux counts against one limit per network namespace (1000/s, with a
    /// randomized budget since CVE-2016-5696 turned the shared counter into
    /// a side channel); ours is per connection, so one connection's
    /// challenges reveal nothing about another's and an attacker flooding
    /// one connection cannot silence the others' challenges. Counting is in
    /// windows of one second, a new one starting with the first challenge
    /// after the last window ended (Linux counts per second of its clock).
    fn challenge_ack(&mut self, now: Instant) {
        let limit = self.config.challenge_ack_limit;
        if limit != 0 {
            if now - self.challenge_start >= Duration::from_secs(1) {
                self.challenge_start = now;
                self.challenge_count = 0;
            }
            if self.challenge_count >= limit {
                trace!(local = %self.tuple.local, remote = %self.tuple.remote, limit, "challenge ACK rate-limited");
                self.counters.challenge_acks_limited += 1;
                return;
            }
            self.challenge_count += 1;
        }
        self.counters.challenge_acks += 1;
        self.ack_now = true;
    }

    /// A RST answering `seg` (RFC 9293 §3.10.7.1), or `None` if it is one.
    pub(super) fn rst_reply(&self, seg: &TcpRepr<'_>) -> Option<TcpRepr<'static>> {
        if seg.control == TcpControl::Rst {
            return None;
        }
        let (seq_number, ack_number) = match seg.ack_number {
            Some(ack) => (ack, None),
            None => (TcpSeqNumber(0), Some(seg.seq_number + seg.segment_len())),
        };
        Some(TcpRepr {
            src_port: self.tuple.local.port,
            dst_port: self.tuple.remote.port,
            control: TcpControl::Rst,
            seq_number,
            ack_number,
            ..TcpRepr::default()
        })
    }

    /// RFC 9293 §3.10.7.3: SYN-SENT.
    fn process_syn_sent(&mut self, now: Instant, seg: &TcpRepr<'_>) -> Option<TcpRepr<'static>> {
        let control = seg.control.quash_psh();
        // First: check the ACK.
        if let Some(ack) = seg.ack_number {
            if ack <= self.iss || ack > self.snd_max {
                debug!(local = %self.tuple.local, remote = %self.tuple.remote, ack = ack.to_u32(), "SYN-SENT: unacceptable ACK; reset");
                return self.rst_reply(seg);
            }
        }
        // Second: RST, acceptable only with an acceptable ACK (RFC 5961 §3.2 note).
        if control == TcpControl::Rst {
            if seg.ack_number.is_some() {
                self.abort_with(Some(TcpError::Refused));
                self.rst_pending = false;
            }
            return None;
        }
        // Fourth: SYN.
        if control != TcpControl::Syn {
            return None;
        }
        self.irs = seg.seq_number;
        self.rcv_nxt = seg.seq_number + 1;
        self.rcv_ack_sent = self.rcv_nxt;
        self.negotiate(seg, now);
        self.rcv_adv = self.rcv_nxt + self.syn_window();
        self.snd_wnd = usize::from(seg.window_len);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq_number;
        match seg.ack_number {
            Some(ack) => {
                self.snd_una = ack;
                self.snd_wl2 = ack;
                self.sample_rtt(seg, ack, now);
                self.heard_from_peer(now);
                self.on_established();
                // RFC 9293 §3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
                self.ack_now = true;
            }
            None => {
                // Simultaneous open: send SYN-ACK, reusing our ISS.
                self.set_state(State::SynReceived);
                self.snd_nxt = self.iss;
                self.rtt.discard_timing();
            }
        }
        None
    }

    /// RFC 9293 §3.10.7.4: SYN-RECEIVED and the synchronized states.
    fn process_synchronized(
        &mut self,
        now: Instant,
        seg: &TcpRepr<'_>,
    ) -> Option<TcpRepr<'static>> {
        let mut control = seg.control.quash_psh();
        let mut seq = seg.seq_number;

        if self.state == State::SynReceived && control == TcpControl::Syn {
            if seg.ack_number.is_none() && seq == self.irs {
                // The peer did not get our SYN-ACK: send it again.
                trace!(local = %self.tuple.local, remote = %self.tuple.remote, "duplicate SYN; SYN-ACK again");
                self.snd_nxt = self.iss;
                return None;
            }
            if !self.passive && seq + 1 == self.rcv_nxt && seg.ack_number == Some(self.iss + 1) {
                // Simultaneous open: the peer's SYN-ACK repeats its SYN.
                // Strip the SYN and take the ACK (as Linux does).
                control = TcpControl::None;
                seq = self.rcv_nxt;
            }
        }

        // RFC 7323 §5.3 R1: PAWS.
        if let (Some(ts), Some(seg_ts)) = (self.timestamps, seg.timestamp) {
            if control != TcpControl::Rst
                && (seg_ts.tsval.wrapping_sub(ts.recent) as i32) < 0
                && now - ts.recent_at < PAWS_IDLE
            {
                trace!(local = %self.tuple.local, remote = %self.tuple.remote, tsval = seg_ts.tsval, recent = ts.recent, "PAWS: old timestamp; ACK and drop");
                self.counters.paws_estab += 1;
                self.ack_now = true;
                return None;
            }
        }

        // TIME-WAIT: a retransmitted FIN is acknowledged again and restarts
        // the 2 MSL timer (RFC 9293 §3.10.7.4, eighth step).
        if self.state == State::TimeWait
            && control == TcpControl::Fin
            && seq + seg.payload.len() + 1 == self.rcv_nxt
        {
            self.ack_now = true;
            self.timer = Timer::Close {
                expires_at: now + self.config.msl * 2,
            };
            return None;
        }

        // First: sequence number acceptability (four cases).
        let seg_len = seg.payload.len() + control.len();
        let window = self.rcv_wnd();
        let mut text_ok = true;
        if !self.segment_acceptable(seq, seg_len, window) {
            if control == TcpControl::Rst {
                return None;
            }
            if window == 0 && seq == self.rcv_nxt {
                // RFC 9293 §3.10.7.4: with a zero window, still take valid
                // ACKs; the text is dropped (a bare FIN is kept).
                text_ok = seg.payload.is_empty();
            } else {
                trace!(local = %self.tuple.local, remote = %self.tuple.remote, seq = seq.to_u32(), "unacceptable segment; ACK");
                let end = seq + seg.payload.len();
                if !seg.payload.is_empty() && end <= self.rcv_nxt {
                    // RFC 2883 §4: an entirely duplicate segment.
                    self.note_duplicate(seq, end);
                }
                self.ack_now = true;
                return None;
            }
        }

        // RFC 7323 §4.3 (R3): record TS.Recent.
        if let (Some(ts), Some(seg_ts)) = (self.timestamps.as_mut(), seg.timestamp) {
            if (seg_ts.tsval.wrapping_sub(ts.recent) as i32) >= 0 && seq <= self.rcv_ack_sent {
                ts.recent = seg_ts.tsval;
                ts.recent_at = now;
            }
        }

        // Second: RST (RFC 5961 §3.2).
        if control == TcpControl::Rst {
            if seq == self.rcv_nxt {
                self.process_rst();
            } else {
                trace!(local = %self.tuple.local, remote = %self.tuple.remote, "RST in window; challenge ACK");
                self.challenge_ack(now);
            }
            return None;
        }

        // Fourth: SYN (RFC 5961 §4.2): challenge ACK, drop.
        if control == TcpControl::Syn {
            trace!(local = %self.tuple.local, remote = %self.tuple.remote, "SYN in synchronized state; challenge ACK");
            self.challenge_ack(now);
            return None;
        }

        // Fifth: ACK.
        let ack = seg.ack_number?;
        if self.state == State::SynReceived {
            if ack <= self.snd_una || ack > self.snd_max {
                debug!(local = %self.tuple.local, remote = %self.tuple.remote, ack = ack.to_u32(), "SYN-RECEIVED: unacceptable ACK; reset");
                return self.rst_reply(seg);
            }
            self.snd_una = self.iss + 1;
            self.sample_rtt(seg, ack, now);
            self.snd_wnd = usize::from(seg.window_len) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            self.on_established();
            if self.snd_una == self.snd_max {
                self.timer = Timer::Idle;
            }
        }
        if self
            .probe_end
            .is_some_and(|end| ack > self.snd_max && ack <= end)
        {
            // The peer took our window probe.
            self.snd_max = ack;
            self.probe_end = None;
        }
        if ack > self.snd_max {
            // RFC 9293 §3.10.7.4: ACK of something not yet sent; ACK, drop.
            trace!(local = %self.tuple.local, remote = %self.tuple.remote, ack = ack.to_u32(), "ACK of unsent data; ACK and drop");
            self.counters.ack_unsent += 1;
            self.ack_now = true;
            return None;
        }
        if seq_diff(self.snd_una, ack) > self.max_snd_wnd as i64 {
            // RFC 5961 §5.2: too old an ACK; challenge ACK, drop.
            trace!(local = %self.tuple.local, remote = %self.tuple.remote, ack = ack.to_u32(), "ACK too old; challenge ACK");
            self.challenge_ack(now);
            return None;
        }
        // The peer is alive: keepalive starts over (RFC 1122 §4.2.3.6). As
        // Linux (`rcv_tstamp`, set in `tcp_ack`), only a segment with an
        // acceptable ACK counts: a blind in-window RST or SYN does not.
        self.heard_from_peer(now);
        self.process_ack(now, seg, seq, ack, control);
        if self.state == State::Closed {
            return None;
        }

        // Seventh: segment text.
        let mut fin = control == TcpControl::Fin;
        if !text_ok {
            fin = false;
            if !seg.payload.is_empty() {
                self.ack_now = true;
            }
        } else if !seg.payload.is_empty() || fin {
            fin = self.process_text(now, seq, seg.payload, fin);
        }

        // Eighth: FIN.
        if fin {
            self.process_fin(now);
        }
        None
    }

    /// RFC 9293 §3.10.7.4, first check: is any of the segment inside the
    /// receive window?
    fn segment_acceptable(&self, seq: TcpSeqNumber, seg_len: usize, window: usize) -> bool {
        let rcv_nxt = self.rcv_nxt;
        let in_window = |s: TcpSeqNumber| s >= rcv_nxt && seq_diff(s, rcv_nxt) < window as i64;
        match (seg_len, window) {
            (0, 0) => seq == rcv_nxt,
            (0, _) => in_window(seq),
            (_, 0) => false,
            (_, _) => in_window(seq) || in_window(seq + (seg_len - 1)),
        }
    }

    /// An acceptable segment arrived: the peer is alive. Keepalive starts
    /// over (its timer re-armed by `arm_timers` from `last_recv`), and a
    /// recorded ICMP soft error is stale (Linux clears `sk_err_soft` on an
    /// ACK).
    fn heard_from_peer(&mut self, now: Instant) {
        self.last_recv = now;
        self.keepalive_sent = 0;
        self.keepalive_pending = false;
        self.soft_error = false;
        if matches!(self.timer, Timer::Keepalive { .. }) {
            self.timer = Timer::Idle;
        }
    }

    /// An acceptable RST with SEQ = RCV.NXT (RFC 9293 §3.10.7.4, second).
    fn process_rst(&mut self) {
        debug!(local = %self.tuple.local, remote = %self.tuple.remote, state = %self.state, "connection reset by peer");
        match self.state {
            State::SynReceived if !self.passive => self.error = Some(TcpError::Refused),
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => self.error = Some(TcpError::Reset),
            // RFC 1337 §3: a RST does not end TIME-WAIT (TIME-WAIT
            // assassination). With `rfc1337` off it does, as in Linux's
            // default (`tcp_rfc1337 = 0`, `tcp_timewait_state_process`).
            State::TimeWait if self.config.rfc1337 => return,
            _ => {}
        }
        self.rst_pending = false;
        self.set_state(State::Closed);
    }

    /// An ACK of new data: take an RTT sample (RFC 6298). The timed
    /// segment (microseconds, Karn's rule) is preferred; otherwise the
    /// echoed timestamp (RFC 7323 §4.1), unless it predates our last
    /// retransmission: such an echo comes from an ACK of a duplicate (its
    /// TS.Recent was not updated) and would measure the time since the
    /// original transmission, inflating SRTT by whole RTOs.
    fn sample_rtt(&mut self, seg: &TcpRepr<'_>, ack: TcpSeqNumber, now: Instant) {
        if self.rtt.on_ack(ack, now) {
            return;
        }
        let (Some(ts), Some(seg_ts)) = (self.timestamps, seg.timestamp) else {
            return;
        };
        if seg_ts.tsecr == 0 {
            return;
        }
        if self
            .last_retransmit_ts
            .is_some_and(|r| (seg_ts.tsecr.wrapping_sub(r) as i32) < 0)
        {
            return;
        }
        let elapsed = self.tsval(now, ts.offset).wrapping_sub(seg_ts.tsecr);
        // An echo from the future is bogus.
        if (elapsed as i32) >= 0 {
            self.rtt.sample(Duration::from_millis(u64::from(elapsed)));
        }
    }

    /// Our TSval at `now`.
    pub(super) fn tsval(&self, now: Instant, offset: u32) -> u32 {
        // NOTE(cast): the millisecond clock wraps modulo 2^32 (RFC 7323 §5.4).
        (now.total_millis() as u32).wrapping_add(offset)
    }

    /// RFC 9293 §3.10.7.4 fifth step for SND.UNA <= SEG.ACK <= SND.MAX:
    /// cumulative ACK, duplicate ACKs, window update, and the FIN states.
    fn process_ack(
        &mut self,
        now: Instant,
        seg: &TcpRepr<'_>,
        seq: TcpSeqNumber,
        ack: TcpSeqNumber,
        control: TcpControl,
    ) {
        let window = usize::from(seg.window_len) << self.snd_wscale;
        let mss = self.max_payload_base();

        // Any ACK answers our window probes (RFC 1122 §4.2.2.17).
        self.probes = 0;
        let info = self.update_scoreboard(now, seg, ack);
        let advanced = ack > self.snd_una;

        if ack > self.snd_una {
            let acked = ack - self.snd_una;
            let mut data_acked = acked;
            let fin_acked = self.fin_seq().is_some_and(|fin| ack == fin + 1);
            if fin_acked {
                data_acked -= 1;
            }
            debug_assert!(data_acked <= self.tx.len(), "ACK beyond queued data");
            let data_acked = data_acked.min(self.tx.len());
            self.tx.dequeue_allocated(data_acked);
            self.snd_una = ack;
            if self.snd_nxt < ack {
                self.snd_nxt = ack;
            }
            if data_acked > 0 {
                self.wakeup = true;
            }
            self.sample_rtt(seg, ack, now);
            self.retransmits = 0;
            if self.recover.is_some_and(|r| ack > r) {
                self.recover = None;
            }
            // RFC 3522 (Eifel detection): the first ACK of the retransmitted
            // segment echoes a TSval older than the retransmission: the
            // original arrived (it was reordered, not lost). Undo.
            let spurious = self.recovery.is_some()
                && self.recovery_ts.is_some_and(|sent| {
                    seg.timestamp
                        .is_some_and(|ts| ts.tsecr != 0 && (ts.tsecr.wrapping_sub(sent) as i32) < 0)
                });
            if spurious {
                self.counters.spurious_undo += 1;
                self.cc.on_spurious_recovery();
                self.recovery = None;
                self.recover = None;
                self.retransmit_front = false;
                // Linux's undo: nothing is deemed lost any more.
                self.txlog.unmark_lost();
                debug!(local = %self.tuple.local, remote = %self.tuple.remote, cwnd = self.cc.window(), "spurious fast retransmit; undone");
            }
            self.recovery_ts = None;
            // Congestion control.
            match self.recovery {
                Some(point) if ack >= point => {
                    // RFC 6582 §3.2 step 3: full ACK, leave fast recovery
                    // (SACK: RFC 6675, cwnd stays ssthresh, see
                    // `end_cwnd_reduction`). After an RTO the window has
                    // grown back by slow start and stays.
                    let after_rto = self.rto_recovery;
                    if self.sack_ok && !after_rto {
                        self.end_cwnd_reduction();
                    } else if !after_rto {
                        self.cc.on_exit_recovery(self.in_flight(), mss);
                    }
                    self.on_recovery_exit();
                    self.recovery = None;
                    self.dup_acks = 0;
                    debug!(local = %self.tuple.local, remote = %self.tuple.remote, cwnd = self.cc.window(), flight = self.in_flight(), after_rto, "recovery done");
                }
                Some(_) if self.sack_ok => {
                    // RFC 6675 §5 step (C): a partial ACK only updates the
                    // scoreboard; NextSeg picks what goes next (after an
                    // RTO cwnd grows in `on_sack_ack`).
                }
                Some(_) => {
                    // RFC 6582 §3.2 step 4: partial ACK; retransmit the next
                    // hole and reset the timer.
                    self.cc.on_partial_ack(acked, mss);
                    self.retransmit_front = true;
                    self.rtt.discard_timing();
                }
                None => {
                    self.dup_acks = 0;
                    self.cc.on_ack(data_acked, mss, now, self.rtt.srtt());
                }
            }
            // RFC 6298 §5.2, §5.3: stop the timer when everything is
            // acknowledged, else restart it.
            if self.snd_una == self.snd_max {
                if matches!(self.timer, Timer::Retransmit { .. }) {
                    self.timer = Timer::Idle;
                }
            } else if matches!(self.timer, Timer::Idle | Timer::Retransmit { .. }) {
                // (A persist timer is switched by `arm_timers`.)
                self.timer = Timer::Retransmit {
                    expires_at: now + self.rtt.rto(),
                };
            }

            if fin_acked {
                match self.state {
                    State::FinWait1 => self.set_state(State::FinWait2),
                    State::Closing => self.enter_time_wait(now),
                    State::LastAck => {
                        self.set_state(State::Closed);
                        return;
                    }
                    _ => {}
                }
            }
        } else if ack == self.snd_una
            && self.snd_max > self.snd_una
            && seg.payload.is_empty()
            && control == TcpControl::None
            && window == self.snd_wnd
            && self.snd_wnd > 0
        {
            // RFC 5681 §2: a duplicate ACK.
            self.dup_acks += 1;
            if self.sack_ok {
                // RFC 6675: no inflation; entry is decided by
                // `on_sack_ack` (DupThresh or IsLost).
            } else if self.recovery.is_some() {
                self.cc.on_dup_ack_in_recovery(mss);
            } else if self.dup_acks == 3 && self.recover.is_none_or(|r| ack > r) {
                // RFC 5681 §3.2 / RFC 6582 §3.2 step 2: fast retransmit.
                self.cc.on_enter_recovery(self.in_flight(), mss);
                self.recovery = Some(self.snd_max);
                self.recover = Some(self.snd_max);
                self.retransmit_front = true;
                self.recovery_entered = true;
                self.recovery_ts = None;
                self.rtt.discard_timing();
                self.counters.reno_recovery += 1;
                debug!(local = %self.tuple.local, remote = %self.tuple.remote, una = ack.to_u32(), cwnd = self.cc.window(), "fast retransmit");
            }
        }

        // Window update (RFC 9293 §3.10.7.4): only from a segment newer than
        // the one that last set it.
        if self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack) {
            if window != self.snd_wnd {
                trace!(local = %self.tuple.local, remote = %self.tuple.remote, old = self.snd_wnd, new = window, "send window");
            }
            self.snd_wnd = window;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
        }
        self.on_sack_ack(now, advanced, info);
    }

    /// Keep the SACK scoreboard (RFC 2018) and the transmission log: drop
    /// what the cumulative ACK covers, then add the blocks that lie between
    /// it and SND.MAX, telling RACK about every segment newly delivered
    /// (RFC 8985 §6.2 steps 1-3). A D-SACK (RFC 2883 §4) is counted and
    /// kept out; other blocks outside that range are ignored.
    fn update_scoreboard(&mut self, now: Instant, seg: &TcpRepr<'_>, ack: TcpSeqNumber) -> AckInfo {
        let mut info = AckInfo::default();
        if !self.sack_ok {
            return info;
        }
        let echo = self
            .timestamps
            .zip(seg.timestamp)
            .map(|(ts, seg_ts)| (seg_ts.tsecr, ts.offset));
        let cap = self.txlog_cap();
        let is_dsack = self.is_dsack(&seg.sack_ranges, ack);
        // The log is taken out so that RACK can be told as it is marked;
        // its flight state is worked on as a copy.
        let mut log = core::mem::take(&mut self.txlog);
        let mut flight = log.rack().copied().unwrap_or_default();
        let fack_before = flight.fack;
        let rack = &mut self.rack;
        let mut delivered = |s: &Sent| {
            info.delivered += s.len();
            rack.on_delivered(&mut flight, s, now, echo, fack_before);
        };
        if ack > self.snd_una {
            log.ack_to(ack, &mut delivered);
            self.sacked.advance(ack - self.snd_una);
            if self
                .sacked
                .ranges()
                .next()
                .is_some_and(|(start, _)| start == 0)
            {
                // The cumulative ACK stops at data the peer SACKed before:
                // it dropped it (reneged, RFC 2018 §8). Trust nothing.
                debug!(local = %self.tuple.local, remote = %self.tuple.remote, "peer reneged on SACKed data");
                self.sacked.clear();
                log.unsack_all();
            }
        }
        let base = self.snd_una.max(ack);
        info.has_sack = seg.sack_ranges[0].is_some();
        let skip = usize::from(is_dsack);
        if skip > 0 {
            info.dsack = seg.sack_ranges[0]
                .map(|(l, r)| (TcpSeqNumber::from_u32(l), TcpSeqNumber::from_u32(r)));
        }
        for &(left, right) in seg.sack_ranges.iter().skip(skip).flatten() {
            let (left, right) = (TcpSeqNumber::from_u32(left), TcpSeqNumber::from_u32(right));
            if base < left && left < right && right <= self.snd_max {
                // Only the parts not SACKed before are news for the log.
                let (lo, hi) = (left - base, right - base);
                let mut from = lo;
                for (start, end) in self.sacked.ranges() {
                    if end <= from {
                        continue;
                    }
                    if start >= hi {
                        break;
                    }
                    if start > from {
                        log.sack(base + from, base + start, cap, &mut delivered);
                    }
                    from = from.max(end);
                }
                if from < hi {
                    log.sack(base + from, base + hi, cap, &mut delivered);
                }
                // A full scoreboard just loses precision: go-back-N resends more.
                let _ = self.sacked.add(lo, hi - lo);
            }
        }
        if let Some(fl) = log.rack_mut() {
            *fl = flight;
        }
        self.txlog = log;
        if skip > 0 {
            self.on_dsack();
        }
        info
    }

    /// Seventh step: queue in-window text, reassembling out-of-order data.
    /// Returns whether a FIN (this segment's or one that arrived ahead of a
    /// hole) is now in order.
    fn process_text(&mut self, now: Instant, seq: TcpSeqNumber, payload: &[u8], fin: bool) -> bool {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            // After the peer's FIN (CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT)
            // there is no more text (RFC 9293 §3.10.7.4, seventh step).
            return false;
        }
        if self.released && !payload.is_empty() && !self.discard_input {
            // RFC 1122 §4.2.2.13: data after the application closed is lost;
            // say so with a RST.
            debug!(local = %self.tuple.local, remote = %self.tuple.remote, "data for a released socket; reset");
            self.counters.abort_on_data += 1;
            self.abort();
            return false;
        }
        let fin_seq = seq + payload.len();

        // Trim to the window: drop what is already received from the front,
        // and what lies beyond the right edge from the back (with the FIN).
        let behind = seq_diff(self.rcv_nxt, seq).max(0) as usize;
        if behind > payload.len() {
            // Everything, FIN included, is old.
            return false;
        }
        if behind > 0 {
            // RFC 2883 §4: the part below RCV.NXT arrived before.
            self.note_duplicate(seq, seq + behind);
        }
        let (offset, mut data) = if behind > 0 {
            (0, &payload[behind..])
        } else {
            (seq - self.rcv_nxt, payload)
        };
        let mut fin = fin;
        let room = self.rcv_wnd().saturating_sub(offset);
        if data.len() > room {
            data = &data[..room];
            fin = false;
        }

        if data.is_empty() {
            // A bare FIN (or one whose data is all old). It needs no buffer
            // space, so it is taken even at a zero window (as Linux does).
            if fin && offset > 0 {
                self.rcv_fin = Some(fin_seq);
                self.ack_now = true;
            }
            return fin && fin_seq == self.rcv_nxt;
        }

        if offset > 0
            && self
                .assembler
                .range_containing(offset)
                .is_some_and(|(start, end)| start <= offset && offset + data.len() <= end)
        {
            // RFC 2883 §4: out-of-order data we already hold.
            self.note_duplicate(self.rcv_nxt + offset, self.rcv_nxt + offset + data.len());
        }
        let written = self.rx.write_unallocated(offset, data);
        if written < data.len() {
            fin = false;
        }
        let had_holes = !self.assembler.is_empty();
        match self.assembler.add_then_remove_front(offset, written) {
            Ok(contiguous) => {
                if contiguous > 0 {
                    self.rx.enqueue_unallocated(contiguous);
                    self.rcv_nxt += contiguous;
                    self.wakeup = true;
                    if self.discard_input {
                        // A lingering close: taken, and thrown away.
                        let unread = self.rx.len();
                        self.rx.dequeue_allocated(unread);
                    }
                }
            }
            Err(err) => {
                debug!(local = %self.tuple.local, remote = %self.tuple.remote, %err, "drop: out-of-order segment");
                self.ack_now = true;
                return false;
            }
        }
        self.rcv_mss = self.rcv_mss.max(written).min(usize::from(self.config.mss));

        if offset > 0 {
            // RFC 5681 §4.2: acknowledge out-of-order data at once.
            self.sack_recent = Some(self.rcv_nxt + offset);
            self.ack_now = true;
            if fin {
                self.rcv_fin = Some(fin_seq);
            }
            return false;
        }
        if had_holes || written < data.len() {
            // RFC 5681 §4.2: a segment that fills (part of) a gap is
            // acknowledged at once; so is one we had no room for.
            self.ack_now = true;
        } else {
            self.schedule_ack(now, written);
        }
        if self.rcv_fin == Some(self.rcv_nxt) {
            self.rcv_fin = None;
            return true;
        }
        fin && fin_seq == self.rcv_nxt
    }

    /// In-order data arrived: acknowledge now or later (RFC 9293 §3.8.6.3,
    /// RFC 1122 §4.2.3.2): at least every second full-sized segment, at
    /// most `delayed_ack` late, at once in quick-ACK mode.
    fn schedule_ack(&mut self, now: Instant, bytes: usize) {
        self.rcv_unacked += bytes;
        if self.quickack > 0 {
            self.quickack -= 1;
            self.ack_now = true;
        } else if self.config.delayed_ack.is_zero() || self.rcv_unacked >= 2 * self.rcv_mss {
            self.ack_now = true;
        } else if self.ack_deadline.is_none() {
            self.ack_deadline = Some(now + self.config.delayed_ack);
        }
    }

    /// Eighth step: the peer's FIN, in order.
    fn process_fin(&mut self, now: Instant) {
        self.rcv_nxt += 1;
        self.fin_received = true;
        self.wakeup = true;
        debug!(local = %self.tuple.local, remote = %self.tuple.remote, state = %self.state, "FIN received");
        match self.state {
            State::SynReceived | State::Established => {
                // Delay the ACK (as Linux does): the application's own FIN
                // may carry it (RFC 9293 §3.10.4).
                self.set_state(State::CloseWait);
                if self.config.delayed_ack.is_zero() {
                    self.ack_now = true;
                } else if self.ack_deadline.is_none() {
                    self.ack_deadline = Some(now + self.config.delayed_ack);
                }
            }
            State::FinWait1 => {
                self.ack_now = true;
                self.set_state(State::Closing);
            }
            State::FinWait2 => {
                self.ack_now = true;
                self.enter_time_wait(now);
            }
            _ => self.ack_now = true,
        }
    }

    /// Enter TIME-WAIT for 2*MSL (RFC 9293 §3.4.2).
    pub(super) fn enter_time_wait(&mut self, now: Instant) {
        self.set_state(State::TimeWait);
        self.timer = Timer::Close {
            expires_at: now + self.config.msl * 2,
        };
    }
}
