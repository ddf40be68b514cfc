//! Round-trip time estimation and the retransmission timeout (RFC 6298).
//!
//! The estimator keeps SRTT and RTTVAR, turns them into an RTO clamped to
//! `[rto_min, rto_max]`, and applies exponential backoff. Without
//! timestamps it times one segment at a time and follows Karn's rule
//! (RFC 6298 §3): a sample is never taken from a retransmitted segment, and
//! the backed-off RTO is kept until a valid sample arrives.

use crate::time::{Duration, Instant};
use crate::wire::TcpSeqNumber;

/// Clock granularity G of RFC 6298 §2: timestamps tick in milliseconds.
const CLOCK_GRANULARITY: Duration = Duration::from_millis(1);

/// RTO after a lost SYN or SYN-ACK when no sample exists (RFC 6298 §5.7).
pub const RTO_SYN_FALLBACK: Duration = Duration::from_secs(3);

/// Largest backoff exponent kept (2^16 times any RTO exceeds every sane
/// `rto_max`).
const MAX_BACKOFF: u32 = 16;

/// SRTT/RTTVAR state and the current RTO of one connection.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    /// The RTO before backoff.
    rto: Duration,
    backoff: u32,
    min: Duration,
    max: Duration,
    /// The segment being timed: the sequence number just past it, and when
    /// it was sent.
    timed: Option<(TcpSeqNumber, Instant)>,
}

impl RttEstimator {
    /// No samples yet: the RTO is `initial` (RFC 6298 §2.1).
    pub fn new(initial: Duration, min: Duration, max: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min, max.max(min)),
            backoff: 0,
            min,
            max: max.max(min),
            timed: None,
        }
    }

    /// The smoothed RTT, once a sample exists.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// RTTVAR (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// The RTO with backoff applied, at most `rto_max`.
    pub fn rto(&self) -> Duration {
        self.rto
            .checked_mul(1 << self.backoff)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The RTO before backoff, backed off `exponent` times, at most
    /// `rto_max` (for the persist timer, which keeps its own exponent).
    pub fn backed_off(&self, exponent: u32) -> Duration {
        self.rto
            .checked_mul(1 << exponent.min(MAX_BACKOFF))
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// How many times the timer has been backed off.
    pub fn backoff(&self) -> u32 {
        self.backoff
    }

    /// The timer expired: double the RTO (RFC 6298 §5.5) and stop timing
    /// (Karn: the timed segment will be retransmitted).
    pub fn back_off(&mut self) {
        self.backoff = (self.backoff + 1).min(MAX_BACKOFF);
        self.timed = None;
    }

    /// Feed one RTT measurement (RFC 6298 §2.2, §2.3) and reset the backoff
    /// (a valid sample ends Karn's hold on the backed-off RTO).
    pub fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                // RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|; SRTT <- 7/8 SRTT + 1/8 R'
                let delta = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
        // NOTE(unwrap-free): srtt was just set.
        let srtt = self.srtt.unwrap_or(rtt);
        let rto = srtt + (self.rttvar * 4).max(CLOCK_GRANULARITY);
        self.rto = rto.clamp(self.min, self.max);
        self.backoff = 0;
    }

    /// RFC 6298 §5.7: the SYN or SYN-ACK was retransmitted and no sample
    /// exists; use at least 3 s once data transmission begins.
    pub fn syn_fallback(&mut self) {
        if self.srtt.is_none() {
            self.rto = self.rto.max(RTO_SYN_FALLBACK).min(self.max);
            self.backoff = 0;
        }
    }

    /// A new (never retransmitted) segment ending at `end` was sent at
    /// `now`: time it if nothing is being timed.
    pub fn start_timing(&mut self, end: TcpSeqNumber, now: Instant) {
        if self.timed.is_none() {
            self.timed = Some((end, now));
        }
    }

    /// Whether a segment is being timed.
    pub fn is_timing(&self) -> bool {
        self.timed.is_some()
    }

    /// Karn's rule: the timed segment was (or may have been) retransmitted.
    pub fn discard_timing(&mut self) {
        self.timed = None;
    }

    /// An ACK of `ack` arrived at `now`: if it covers the timed segment,
    /// take the sample. Returns whether it did.
    pub fn on_ack(&mut self, ack: TcpSeqNumber, now: Instant) -> bool {
        match self.timed {
            Some((end, sent_at)) if ack >= end => {
                self.timed = None;
                self.sample(now - sent_at);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(120),
        )
    }

    #[test]
    fn initial_rto() {
        assert_eq!(est().rto(), Duration::from_secs(1));
    }

    #[test]
    fn first_sample_sets_srtt_and_rttvar() {
        let mut e = est();
        e.sample(Duration::from_millis(100));
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        // 100 + 4 * 50 = 300 ms
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn later_samples_smooth() {
        let mut e = est();
        e.sample(Duration::from_millis(100));
        e.sample(Duration::from_millis(200));
        // RTTVAR = 3/4 * 50 + 1/4 * 100 = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(112_500 + 250_000));
    }

    #[test]
    fn rto_is_clamped_to_min() {
        let mut e = est();
        e.sample(Duration::from_micros(100));
        assert_eq!(e.rto(), Duration::from_millis(200));
    }

    #[test]
    fn backoff_doubles_up_to_max_and_sample_resets_it() {
        let mut e = est();
        e.back_off();
        assert_eq!(e.rto(), Duration::from_secs(2));
        for _ in 0..20 {
            e.back_off();
        }
        assert_eq!(e.rto(), Duration::from_secs(120));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn karn_no_sample_after_discard() {
        let mut e = est();
        e.start_timing(TcpSeqNumber(100), Instant::from_millis(0));
        e.back_off();
        e.on_ack(TcpSeqNumber(100), Instant::from_millis(50));
        assert_eq!(e.srtt(), None);
        assert_eq!(e.rto(), Duration::from_secs(2));
    }

    #[test]
    fn timing_samples_when_ack_covers_segment() {
        let mut e = est();
        e.start_timing(TcpSeqNumber(100), Instant::from_millis(0));
        e.start_timing(TcpSeqNumber(200), Instant::from_millis(10));
        e.on_ack(TcpSeqNumber(50), Instant::from_millis(40));
        assert_eq!(e.srtt(), None);
        e.on_ack(TcpSeqNumber(100), Instant::from_millis(50));
        assert_eq!(e.srtt(), Some(Duration::from_millis(50)));
    }

    #[test]
    fn syn_fallback_only_without_samples() {
        let mut e = est();
        e.syn_fallback();
        assert_eq!(e.rto(), Duration::from_secs(3));
        let mut e = est();
        e.sample(Duration::from_millis(10));
        e.syn_fallback();
        assert_eq!(e.rto(), Duration::from_millis(200));
    }
}
