//! TIME-WAIT without the socket: once the application has let go of a
//! connection in TIME-WAIT, all that must survive its 2×MSL is the 4-tuple,
//! the two sequence numbers, the window and the timestamp state: about 48
//! bytes instead of a full control block (Linux's `inet_timewait_sock`).
//! Under `Connection: close` load a server keeps tens of thousands of them.
//!
//! Contract: [`TcpSocket::time_wait_bucket`] takes the snapshot;
//! [`TimeWaitBucket::process`] is pure and says what to do with a segment
//! (the interface owns the table, the timer queue and the cap).

use super::{FourTuple, State, TcpSocket};
use crate::time::{Duration, Instant};
use crate::wire::{TcpControl, TcpRepr, TcpSeqNumber, TcpTimestampRepr};

/// The part of a connection that lives on in TIME-WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWaitBucket {
    /// The connection's addresses.
    pub tuple: FourTuple,
    /// Our highest sequence number sent (the FIN's plus one).
    snd_nxt: TcpSeqNumber,
    /// Just past the peer's FIN.
    rcv_nxt: TcpSeqNumber,
    /// The window field our ACKs carry (already scaled down).
    window_field: u16,
    /// Timestamps negotiated: our offset and the peer's last TSval.
    ts_offset: u32,
    ts_recent: u32,
    timestamps: bool,
    /// Ignore RSTs (RFC 1337) rather than end TIME-WAIT early.
    rfc1337: bool,
    /// When TIME-WAIT ends.
    pub expires_at: Instant,
}

/// What to do with a segment that reached a TIME-WAIT bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeWaitAction {
    /// Absorb it silently.
    Drop,
    /// Send this ACK (the last ACK again).
    Ack(TcpRepr<'static>),
    /// Send this ACK and keep TIME-WAIT for another 2×MSL from now (a
    /// retransmitted FIN: our last ACK was lost).
    AckAndRestart(TcpRepr<'static>),
    /// End TIME-WAIT now (a RST, with `rfc1337` off).
    Close,
    /// A new SYN may reopen the 4-tuple (RFC 6191): end TIME-WAIT and let
    /// a listener take the SYN.
    Reopen,
}

impl TcpSocket {
    /// The TIME-WAIT bucket of this connection, if it is in TIME-WAIT. It
    /// expires when the socket's own TIME-WAIT timer would have.
    pub fn time_wait_bucket(&self, now: Instant) -> Option<TimeWaitBucket> {
        if self.state != State::TimeWait {
            return None;
        }
        let expires_at = self.timer.expires_at().unwrap_or(now + self.config.msl * 2);
        // NOTE(cast): window_to_advertise() is at most u16::MAX << rcv_wscale.
        let window_field =
            (self.window_to_advertise() >> self.rcv_wscale).min(usize::from(u16::MAX)) as u16;
        Some(TimeWaitBucket {
            tuple: self.tuple,
            snd_nxt: self.snd_max,
            rcv_nxt: self.rcv_nxt,
            window_field,
            ts_offset: self.timestamps.map_or(0, |ts| ts.offset),
            ts_recent: self.timestamps.map_or(0, |ts| ts.recent),
            timestamps: self.timestamps.is_some(),
            rfc1337: self.config.rfc1337,
            expires_at,
        })
    }
}

impl TimeWaitBucket {
    /// Handle a segment for this 4-tuple at `now` (RFC 9293 §3.10.7.4 in
    /// TIME-WAIT, RFC 1337, RFC 6191, RFC 7323 §5). `two_msl` is the
    /// TIME-WAIT length for a restart.
    pub fn process(
        &mut self,
        now: Instant,
        seg: &TcpRepr<'_>,
        two_msl: Duration,
    ) -> TimeWaitAction {
        let control = seg.control.quash_psh();
        // Signed distance of the segment's TSval from TS.Recent.
        let ts_delta = seg
            .timestamp
            .filter(|_| self.timestamps)
            .map(|ts| ts.tsval.wrapping_sub(self.ts_recent) as i32);
        match control {
            TcpControl::Rst => {
                // RFC 1337 §3: with the fix, a RST cannot end TIME-WAIT
                // (assassination); without it (Linux's default), an exact
                // RST does. RFC 5961 §3.2 asks for the exact sequence number.
                if !self.rfc1337 && seg.seq_number == self.rcv_nxt {
                    return TimeWaitAction::Close;
                }
                return TimeWaitAction::Drop;
            }
            TcpControl::Syn if seg.ack_number.is_none() => {
                // RFC 6191 §2: a newer timestamp, or without timestamps a
                // sequence number beyond RCV.NXT (RFC 1122 §4.2.2.13),
                // reopens; an old duplicate gets the last ACK again.
                let newer = match ts_delta {
                    Some(delta) => delta > 0,
                    None => seg.seq_number > self.rcv_nxt,
                };
                if newer {
                    return TimeWaitAction::Reopen;
                }
                return TimeWaitAction::Ack(self.ack(now));
            }
            _ => {}
        }
        // RFC 7323 §5.3 R1: PAWS. An old duplicate is answered with an ACK.
        if ts_delta.is_some_and(|delta| delta < 0) {
            return TimeWaitAction::Ack(self.ack(now));
        }
        if let Some(ts) = seg.timestamp.filter(|_| self.timestamps) {
            if seg.seq_number <= self.rcv_nxt {
                self.ts_recent = ts.tsval;
            }
        }
        let fin_end = seg.seq_number + seg.payload.len() + 1;
        if control == TcpControl::Fin && fin_end == self.rcv_nxt {
            // RFC 9293 §3.10.7.4, eighth step: a retransmitted FIN is
            // acknowledged again and restarts the 2 MSL timeout.
            self.expires_at = now + two_msl;
            return TimeWaitAction::AckAndRestart(self.ack(now));
        }
        if seg.seq_number == self.rcv_nxt && seg.payload.is_empty() && control == TcpControl::None {
            // A bare ACK in window (the peer's last ACK repeated): nothing
            // to say.
            return TimeWaitAction::Drop;
        }
        // Anything else is unacceptable here: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
        TimeWaitAction::Ack(self.ack(now))
    }

    /// Our ACK: SND.NXT, RCV.NXT, the last window, and timestamps.
    pub fn ack(&self, now: Instant) -> TcpRepr<'static> {
        TcpRepr {
            src_port: self.tuple.local.port,
            dst_port: self.tuple.remote.port,
            control: TcpControl::None,
            seq_number: self.snd_nxt,
            ack_number: Some(self.rcv_nxt),
            window_len: self.window_field,
            timestamp: self.timestamps.then(|| TcpTimestampRepr {
                // NOTE(cast): the millisecond clock wraps (RFC 7323 §5.4).
                tsval: (now.total_millis() as u32).wrapping_add(self.ts_offset),
                tsecr: self.ts_recent,
            }),
            ..TcpRepr::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{SocketAddr, TcpConfig};
    use crate::wire::Ipv4Address;

    const TUPLE: FourTuple = FourTuple {
        local: SocketAddr::new(Ipv4Address([10, 7, 0, 2]), 80),
        remote: SocketAddr::new(Ipv4Address([10, 7, 0, 1]), 40000),
    };
    const TWO_MSL: Duration = Duration::from_secs(60);

    fn bucket(rfc1337: bool) -> TimeWaitBucket {
        TimeWaitBucket {
            tuple: TUPLE,
            snd_nxt: TcpSeqNumber(2000),
            rcv_nxt: TcpSeqNumber(5000),
            window_field: 512,
            ts_offset: 100,
            ts_recent: 7000,
            timestamps: true,
            rfc1337,
            expires_at: Instant::ZERO + TWO_MSL,
        }
    }

    fn seg(control: TcpControl, seq: i32, tsval: u32) -> TcpRepr<'static> {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            control,
            seq_number: TcpSeqNumber(seq),
            ack_number: (control != TcpControl::Syn).then_some(TcpSeqNumber(2000)),
            window_len: 1000,
            timestamp: Some(TcpTimestampRepr { tsval, tsecr: 0 }),
            ..TcpRepr::default()
        }
    }

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    #[test]
    fn time_wait_bucket_retransmitted_fin_reacked_and_restarted() {
        let mut b = bucket(true);
        let action = b.process(at(10), &seg(TcpControl::Fin, 4999, 7001), TWO_MSL);
        let TimeWaitAction::AckAndRestart(ack) = action else {
            panic!("expected an ACK and restart, got {action:?}");
        };
        assert_eq!(ack.seq_number, TcpSeqNumber(2000));
        assert_eq!(ack.ack_number, Some(TcpSeqNumber(5000)));
        assert_eq!(ack.window_len, 512);
        assert_eq!(
            ack.timestamp,
            Some(TcpTimestampRepr {
                tsval: 10_000 + 100,
                tsecr: 7001
            })
        );
        assert_eq!(b.expires_at, at(10) + TWO_MSL);
    }

    #[test]
    fn time_wait_bucket_rst_ignored_with_rfc1337() {
        let mut b = bucket(true);
        let rst = seg(TcpControl::Rst, 5000, 7001);
        assert_eq!(b.process(at(1), &rst, TWO_MSL), TimeWaitAction::Drop);
    }

    #[test]
    fn time_wait_bucket_exact_rst_ends_it_without_rfc1337() {
        let mut b = bucket(false);
        assert_eq!(
            b.process(at(1), &seg(TcpControl::Rst, 5000, 7001), TWO_MSL),
            TimeWaitAction::Close
        );
        assert_eq!(
            b.process(at(1), &seg(TcpControl::Rst, 5001, 7001), TWO_MSL),
            TimeWaitAction::Drop,
            "not at RCV.NXT"
        );
    }

    #[test]
    fn time_wait_bucket_newer_syn_reopens_older_gets_ack() {
        let mut b = bucket(true);
        assert_eq!(
            b.process(at(1), &seg(TcpControl::Syn, 100, 7002), TWO_MSL),
            TimeWaitAction::Reopen
        );
        assert!(matches!(
            b.process(at(1), &seg(TcpControl::Syn, 9000, 6000), TWO_MSL),
            TimeWaitAction::Ack(_)
        ));
    }

    #[test]
    fn time_wait_bucket_old_timestamp_gets_ack() {
        let mut b = bucket(true);
        assert!(matches!(
            b.process(at(1), &seg(TcpControl::None, 5000, 6999), TWO_MSL),
            TimeWaitAction::Ack(_)
        ));
    }

    #[test]
    fn time_wait_bucket_bare_ack_absorbed_data_answered() {
        let mut b = bucket(true);
        assert_eq!(
            b.process(at(1), &seg(TcpControl::None, 5000, 7001), TWO_MSL),
            TimeWaitAction::Drop
        );
        let mut data = seg(TcpControl::None, 5000, 7001);
        data.payload = b"late";
        assert!(matches!(
            b.process(at(1), &data, TWO_MSL),
            TimeWaitAction::Ack(_)
        ));
    }

    #[test]
    fn time_wait_bucket_snapshot_of_a_socket() {
        let syn = seg(TcpControl::Syn, 4000, 6000);
        let mut s = TcpSocket::accept_syn(
            &TcpConfig::default(),
            TUPLE,
            &syn,
            TcpSeqNumber(1000),
            Instant::ZERO,
        );
        assert_eq!(s.time_wait_bucket(at(1)), None, "not in TIME-WAIT");
        s.rcv_nxt = TcpSeqNumber(5000);
        s.snd_max = TcpSeqNumber(2000);
        s.enter_time_wait(at(1));
        let b = s.time_wait_bucket(at(1)).expect("in TIME-WAIT");
        assert_eq!(
            (b.snd_nxt, b.rcv_nxt),
            (TcpSeqNumber(2000), TcpSeqNumber(5000))
        );
        assert!(b.timestamps);
        assert_eq!(b.expires_at, at(1) + TcpConfig::default().msl * 2);
    }
}
