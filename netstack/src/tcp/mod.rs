//! TCP (RFC 9293): the per-connection state machine.
//!
//! A [`TcpSocket`] is one connection, sans-IO: segments come in through
//! [`TcpSocket::process`], go out through [`TcpSocket::dispatch`], and the
//! owner asks [`TcpSocket::poll_at`] when to call again. Listening,
//! demultiplexing and IP framing belong to the interface (`iface`), which
//! creates a socket with [`TcpSocket::accept_syn`] when a SYN reaches a
//! listening port.
//!
//! What is implemented: the RFC 9293 state machine with both opens (and
//! simultaneous open) and all closes; RFC 5961 challenge ACKs for RST, SYN
//! and old ACKs, rate-limited per connection (§7); RFC 1337 (no TIME-WAIT
//! assassination, switchable); RFC 6191 (a newer SYN reopens a TIME-WAIT
//! tuple, `time_wait.rs`, `time_wait_bucket.rs`); RFC 6298 RTO with Karn's
//! rule; CUBIC (RFC 9438, default) and Reno (RFC 5681) behind
//! [`CongestionControl`], IW10 (RFC 6928); NewReno recovery (RFC 6582) for
//! peers without SACK and RFC 6675 SACK recovery (IsLost, pipe, NextSeg)
//! for those with it, plus RACK-style time-based loss marking, detection of
//! lost retransmissions and a tail loss probe (after RFC 8985, see
//! `recovery.rs` for how it differs); D-SACK both ways (RFC 2883); RFC 3522
//! undo of spurious fast retransmits; Nagle, delayed ACKs with quick-ACK,
//! SWS avoidance on both sides; zero-window probing; window scaling,
//! timestamps (RTT and PAWS) and SACK (RFC 7323, RFC 2018); keepalive (RFC
//! 1122 §4.2.3.6); path MTU from ICMP (RFC 1191, validated per RFC 5927 by
//! the interface); orphan retry limits; SYN cookies (`syncookie.rs`).
//!
//! Not yet: PRR (RFC 6937), undo of spurious timeouts (RFC 4015), ECN,
//! full per-segment RACK send times.
//!
//! Files: `socket.rs` (the control block and the application side),
//! `input.rs` (segment arrival), `output.rs` (dispatch and timers),
//! `recovery.rs` (SACK scoreboard and loss detection), `congestion/`
//! (Reno, CUBIC), `syncookie.rs`, `time_wait.rs` and `time_wait_bucket.rs`,
//! `rtt.rs`, `stats.rs` (per-connection counters), `info.rs` (`TcpInfo`,
//! the `ss -ti` snapshot), `state.rs`, `config.rs`.

mod config;
mod congestion;
mod info;
mod input;
mod output;
mod recovery;
mod rtt;
mod socket;
mod state;
mod stats;
pub mod syncookie;
#[cfg(test)]
mod tests;
mod time_wait;
mod time_wait_bucket;
mod txlog;

use core::fmt;

pub use config::{CongestionAlgorithm, TcpConfig};
pub use congestion::{initial_window, Congestion, CongestionControl, Cubic, Reno};
pub use info::{InfoTrack, TcpInfo};
pub use rtt::RttEstimator;
pub use socket::{RecvError, SendError, TcpError, TcpSocket};
pub use state::State;
pub use stats::TcpCounters;
pub use time_wait_bucket::{TimeWaitAction, TimeWaitBucket};

use crate::wire::Ipv4Address;

/// An IPv4 address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketAddr {
    /// The address.
    pub addr: Ipv4Address,
    /// The port.
    pub port: u16,
}

impl SocketAddr {
    /// `addr:port`.
    pub const fn new(addr: Ipv4Address, port: u16) -> SocketAddr {
        SocketAddr { addr, port }
    }
}

impl fmt::Display for SocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.addr, self.port)
    }
}

/// A connection's addresses, from our side: the demultiplexing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourTuple {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
}

impl fmt::Display for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <-> {}", self.local, self.remote)
    }
}
