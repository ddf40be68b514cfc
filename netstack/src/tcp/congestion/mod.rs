//! Congestion control: how much unacknowledged data the network may hold.
//!
//! The socket detects events (new data acknowledged, duplicate ACKs, loss
//! recovery entered and left, retransmission timeout) and reports them
//! through [`CongestionControl`]; an algorithm turns them into a congestion
//! window. Two algorithms exist:
//!
//! - [`Reno`] (`reno.rs`): RFC 5681 with the NewReno recovery of RFC 6582.
//! - [`Cubic`] (`cubic.rs`): RFC 9438, Linux's default; the window grows
//!   as a cubic function of the time since the last reduction.
//!
//! Both start from an initial window of ten segments (RFC 6928), use the
//! same slow start and the same NewReno inflation/deflation during fast
//! recovery; they differ in congestion avoidance and in how far a loss
//! lowers ssthresh. [`Congestion`] is the enum a socket holds, built by
//! [`Congestion::new`] from [`TcpConfig::congestion`](super::TcpConfig):
//! no allocation, no dynamic dispatch.
//!
//! The contract: sans-IO like the rest of the stack. An algorithm never
//! reads a clock; time comes in as `now` with each ACK, with the RTT
//! estimate the socket holds. Sizes are bytes. No input may make an
//! algorithm panic: arithmetic saturates, and floating point results are
//! clamped before they become window sizes.

mod cubic;
mod reno;

pub use cubic::Cubic;
pub use reno::Reno;

use super::config::CongestionAlgorithm;
use crate::time::{Duration, Instant};

/// What a congestion control algorithm is told. Sizes are bytes; `mss` is
/// the sender's current segment size.
pub trait CongestionControl {
    /// The congestion window (cwnd).
    fn window(&self) -> usize;
    /// The slow-start threshold (ssthresh).
    fn ssthresh(&self) -> usize;
    /// The handshake completed; set the initial window. `syn_lost` when the
    /// SYN or SYN-ACK had to be retransmitted.
    fn on_established(&mut self, mss: usize, syn_lost: bool);
    /// `acked` bytes of new data were cumulatively acknowledged outside loss
    /// recovery, at `now`. `rtt` is the smoothed RTT once a sample exists
    /// (CUBIC aims its window one RTT ahead, RFC 9438 §4.2).
    fn on_ack(&mut self, acked: usize, mss: usize, now: Instant, rtt: Option<Duration>);
    /// The third duplicate ACK started fast retransmit / fast recovery with
    /// `flight_size` bytes outstanding.
    fn on_enter_recovery(&mut self, flight_size: usize, mss: usize);
    /// Another duplicate ACK arrived during fast recovery.
    fn on_dup_ack_in_recovery(&mut self, mss: usize);
    /// A partial ACK (RFC 6582) acknowledged `acked` bytes during recovery.
    fn on_partial_ack(&mut self, acked: usize, mss: usize);
    /// A full ACK ended fast recovery with `flight_size` bytes still out.
    fn on_exit_recovery(&mut self, flight_size: usize, mss: usize);
    /// The retransmission timer expired with `flight_size` bytes out;
    /// `first` unless the same data already timed out before.
    fn on_retransmit_timeout(&mut self, flight_size: usize, mss: usize, first: bool);
    /// Sending resumes after an idle period longer than the RTO.
    fn on_idle_restart(&mut self, mss: usize);
    /// The fast retransmit that began the current recovery was spurious
    /// (RFC 3522 detection): undo the reduction (RFC 4015 §3).
    fn on_spurious_recovery(&mut self);
}

/// The initial window, RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)).
pub fn initial_window(mss: usize) -> usize {
    (10 * mss).min((2 * mss).max(14600))
}

/// The algorithm a socket runs. One variant per algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Congestion {
    /// RFC 5681 + RFC 6582.
    Reno(Reno),
    /// RFC 9438.
    Cubic(Cubic),
}

impl Congestion {
    /// A fresh controller running `algorithm`.
    pub fn new(algorithm: CongestionAlgorithm) -> Congestion {
        match algorithm {
            CongestionAlgorithm::Reno => Congestion::Reno(Reno::new()),
            CongestionAlgorithm::Cubic => Congestion::Cubic(Cubic::new()),
        }
    }

    /// Which algorithm this is.
    pub fn algorithm(&self) -> CongestionAlgorithm {
        match self {
            Congestion::Reno(_) => CongestionAlgorithm::Reno,
            Congestion::Cubic(_) => CongestionAlgorithm::Cubic,
        }
    }
}

impl Default for Congestion {
    /// The configured default ([`CongestionAlgorithm::default`], CUBIC).
    fn default() -> Congestion {
        Congestion::new(CongestionAlgorithm::default())
    }
}

macro_rules! delegate {
    ($self:ident, $cc:ident => $e:expr) => {
        match $self {
            Congestion::Reno($cc) => $e,
            Congestion::Cubic($cc) => $e,
        }
    };
}

impl CongestionControl for Congestion {
    fn window(&self) -> usize {
        delegate!(self, cc => cc.window())
    }
    fn ssthresh(&self) -> usize {
        delegate!(self, cc => cc.ssthresh())
    }
    fn on_established(&mut self, mss: usize, syn_lost: bool) {
        delegate!(self, cc => cc.on_established(mss, syn_lost))
    }
    fn on_ack(&mut self, acked: usize, mss: usize, now: Instant, rtt: Option<Duration>) {
        delegate!(self, cc => cc.on_ack(acked, mss, now, rtt))
    }
    fn on_enter_recovery(&mut self, flight_size: usize, mss: usize) {
        delegate!(self, cc => cc.on_enter_recovery(flight_size, mss))
    }
    fn on_dup_ack_in_recovery(&mut self, mss: usize) {
        delegate!(self, cc => cc.on_dup_ack_in_recovery(mss))
    }
    fn on_partial_ack(&mut self, acked: usize, mss: usize) {
        delegate!(self, cc => cc.on_partial_ack(acked, mss))
    }
    fn on_exit_recovery(&mut self, flight_size: usize, mss: usize) {
        delegate!(self, cc => cc.on_exit_recovery(flight_size, mss))
    }
    fn on_retransmit_timeout(&mut self, flight_size: usize, mss: usize, first: bool) {
        delegate!(self, cc => cc.on_retransmit_timeout(flight_size, mss, first))
    }
    fn on_idle_restart(&mut self, mss: usize) {
        delegate!(self, cc => cc.on_idle_restart(mss))
    }
    fn on_spurious_recovery(&mut self) {
        delegate!(self, cc => cc.on_spurious_recovery())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_per_rfc_6928() {
        assert_eq!(initial_window(1460), 14600);
        assert_eq!(initial_window(536), 5360);
        assert_eq!(initial_window(9000), 18000);
    }

    #[test]
    fn new_runs_the_configured_algorithm() {
        assert_eq!(
            Congestion::new(CongestionAlgorithm::Reno).algorithm(),
            CongestionAlgorithm::Reno
        );
        assert_eq!(
            Congestion::new(CongestionAlgorithm::Cubic).algorithm(),
            CongestionAlgorithm::Cubic
        );
        assert_eq!(
            Congestion::default().algorithm(),
            CongestionAlgorithm::Cubic
        );
    }
}
