//! Reno with NewReno loss recovery (RFC 5681, RFC 6582).
//!
//! Slow start with appropriate byte counting (RFC 3465, L = 2*SMSS),
//! congestion avoidance of one SMSS per window acknowledged, ssthresh of
//! half the flight size on loss. Reno keeps no clock: the `now` and `rtt`
//! that [`CongestionControl::on_ack`] carries are ignored.

use super::{initial_window, CongestionControl};
use crate::time::{Duration, Instant};

/// Reno / NewReno (RFC 5681, RFC 6582).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew
    /// (appropriate byte counting, RFC 3465 §2.1).
    bytes_acked: usize,
    /// cwnd and ssthresh before the last reduction, for an undo.
    prior: (usize, usize),
}

impl Reno {
    /// Before the handshake: one segment of the default MSS; ssthresh
    /// "arbitrarily high" (RFC 5681 §3.1).
    pub fn new() -> Reno {
        Reno {
            cwnd: initial_window(536),
            ssthresh: usize::MAX,
            bytes_acked: 0,
            prior: (0, usize::MAX),
        }
    }
}

impl Default for Reno {
    fn default() -> Reno {
        Reno::new()
    }
}

impl CongestionControl for Reno {
    fn window(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn on_established(&mut self, mss: usize, syn_lost: bool) {
        // RFC 6928 §2 / RFC 5681 §3.1: after a lost SYN or SYN-ACK the
        // initial window is one segment.
        self.cwnd = if syn_lost { mss } else { initial_window(mss) };
    }

    fn on_ack(&mut self, acked: usize, mss: usize, _now: Instant, _rtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 slow start, with RFC 3465's limit L = 2*SMSS per ACK.
            self.cwnd = self
                .cwnd
                .saturating_add(acked.min(2 * mss))
                .min(self.ssthresh.max(self.cwnd));
            if self.cwnd < self.ssthresh {
                return;
            }
            self.bytes_acked = 0;
        } else {
            // RFC 5681 §3.1 congestion avoidance: one SMSS per cwnd acknowledged.
            self.bytes_acked += acked;
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(mss);
            }
        }
    }

    fn on_enter_recovery(&mut self, flight_size: usize, mss: usize) {
        // RFC 5681 §3.2 steps 2 and 3 (equation 4).
        self.prior = (self.cwnd, self.ssthresh);
        self.ssthresh = (flight_size / 2).max(2 * mss);
        self.cwnd = self.ssthresh + 3 * mss;
        self.bytes_acked = 0;
    }

    fn on_dup_ack_in_recovery(&mut self, mss: usize) {
        // RFC 5681 §3.2 step 4: inflate.
        self.cwnd = self.cwnd.saturating_add(mss);
    }

    fn on_partial_ack(&mut self, acked: usize, mss: usize) {
        // RFC 6582 §3.2 step 5: deflate by the amount acknowledged; add back
        // one SMSS if at least one SMSS was acknowledged.
        self.cwnd = self.cwnd.saturating_sub(acked);
        if acked >= mss {
            self.cwnd += mss;
        }
        self.cwnd = self.cwnd.max(mss);
    }

    fn on_exit_recovery(&mut self, flight_size: usize, mss: usize) {
        // RFC 6582 §3.2 step 3, option 1: min(ssthresh, max(FlightSize, SMSS) + SMSS).
        self.cwnd = self.ssthresh.min(flight_size.max(mss) + mss);
        self.bytes_acked = 0;
    }

    fn on_retransmit_timeout(&mut self, flight_size: usize, mss: usize, first: bool) {
        // RFC 5681 §3.1 equation 4 and the loss window of one segment; ssthresh
        // is not lowered again for the same data timing out twice.
        if first {
            self.ssthresh = (flight_size / 2).max(2 * mss);
        }
        self.cwnd = mss;
        self.bytes_acked = 0;
    }

    fn on_idle_restart(&mut self, mss: usize) {
        // RFC 5681 §4.1: restart window = min(IW, cwnd).
        self.cwnd = self.cwnd.min(initial_window(mss));
    }

    fn on_spurious_recovery(&mut self) {
        // As Linux's tcp_undo_cwnd_reduction: back to at least the values
        // before the reduction.
        self.cwnd = self.cwnd.max(self.prior.0);
        self.ssthresh = self.ssthresh.max(self.prior.1);
        self.bytes_acked = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    #[test]
    fn lost_syn_gives_one_segment() {
        let mut r = Reno::new();
        r.on_established(MSS, true);
        assert_eq!(r.window(), MSS);
    }

    #[test]
    fn slow_start_grows_per_ack_limited_to_two_segments() {
        let mut r = Reno::new();
        r.on_established(MSS, false);
        r.on_ack(MSS, MSS, Instant::ZERO, None);
        assert_eq!(r.window(), 11 * MSS);
        r.on_ack(5 * MSS, MSS, Instant::ZERO, None);
        assert_eq!(r.window(), 13 * MSS);
    }

    #[test]
    fn congestion_avoidance_grows_one_mss_per_window() {
        let mut r = Reno::new();
        r.on_established(MSS, false);
        r.on_enter_recovery(20 * MSS, MSS);
        r.on_exit_recovery(10 * MSS, MSS);
        assert_eq!(r.window(), 10 * MSS);
        assert_eq!(r.ssthresh(), 10 * MSS);
        for _ in 0..9 {
            r.on_ack(MSS, MSS, Instant::ZERO, None);
        }
        assert_eq!(r.window(), 10 * MSS);
        r.on_ack(MSS, MSS, Instant::ZERO, None);
        assert_eq!(r.window(), 11 * MSS);
    }

    #[test]
    fn slow_start_stops_at_ssthresh() {
        let mut r = Reno::new();
        r.on_established(MSS, false);
        r.on_retransmit_timeout(24 * MSS, MSS, true);
        assert_eq!(r.window(), MSS);
        assert_eq!(r.ssthresh(), 12 * MSS);
        for _ in 0..20 {
            r.on_ack(2 * MSS, MSS, Instant::ZERO, None);
        }
        assert!(r.window() >= 12 * MSS && r.window() < 16 * MSS);
    }

    #[test]
    fn recovery_inflates_and_partial_ack_deflates() {
        let mut r = Reno::new();
        r.on_established(MSS, false);
        r.on_enter_recovery(10 * MSS, MSS);
        assert_eq!(r.ssthresh(), 5 * MSS);
        assert_eq!(r.window(), 8 * MSS);
        r.on_dup_ack_in_recovery(MSS);
        assert_eq!(r.window(), 9 * MSS);
        r.on_partial_ack(3 * MSS, MSS);
        assert_eq!(r.window(), 7 * MSS);
    }

    #[test]
    fn spurious_recovery_is_undone() {
        let mut r = Reno::new();
        r.on_established(MSS, false);
        r.on_enter_recovery(10 * MSS, MSS);
        r.on_spurious_recovery();
        assert_eq!(r.window(), 10 * MSS);
        assert_eq!(r.ssthresh(), usize::MAX);
    }

    #[test]
    fn second_timeout_keeps_ssthresh() {
        let mut r = Reno::new();
        r.on_established(MSS, false);
        r.on_retransmit_timeout(20 * MSS, MSS, true);
        r.on_retransmit_timeout(MSS, MSS, false);
        assert_eq!(r.ssthresh(), 10 * MSS);
    }

    #[test]
    fn idle_restart_caps_at_initial_window() {
        let mut r = Reno::new();
        r.on_established(MSS, false);
        for _ in 0..20 {
            r.on_ack(2 * MSS, MSS, Instant::ZERO, None);
        }
        r.on_idle_restart(MSS);
        assert_eq!(r.window(), 10 * MSS);
    }
}
