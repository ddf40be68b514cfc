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
//! and old ACKs; RFC 1337 (no TIME-WAIT assassination); RFC 6191 (a newer
//! SYN reopens a TIME-WAIT tuple, `time_wait.rs`); RFC 6298 RTO with Karn's
//! rule; RFC 5681 Reno with RFC 6582 NewReno recovery and RFC 6928 IW10
//! (behind [`CongestionControl`]); RFC 3522 detection of spurious fast
//! retransmits, undone; Nagle, delayed ACKs with quick-ACK, SWS avoidance
//! on both sides; zero-window probing; window scaling, timestamps (RTT and
//! PAWS) and SACK (RFC 7323, RFC 2018): SACK blocks in our ACKs, and a
//! scoreboard of the peer's blocks so that going back after a timeout skips
//! what the peer holds (with reneging detection). With SACK, loss recovery
//! is RFC 6675 (IsLost, pipe, NextSeg; `recovery.rs`) with RACK-style loss
//! marking by time once reordering is seen, lost-retransmission detection
//! and a tail loss probe (RFC 8985, without per-segment send times), and
//! D-SACK (RFC 2883) both ways.
//!
//! Not yet: RFC 6675 rescue retransmission (rule 4), PRR (RFC 6937),
//! D-SACK-based undo (RFC 3708), keepalive,
//! challenge-ACK rate limits (RFC 5961 §7), ECN, path MTU discovery, undo
//! of spurious timeouts (RFC 4015; only fast retransmits are undone).
//!
//! Files: `socket.rs` (the control block and the application side),
//! `input.rs` (segment arrival), `output.rs` (dispatch and timers),
//! `recovery.rs` (SACK loss recovery),
//! `time_wait.rs`, `rtt.rs`, `congestion.rs`, `state.rs`, `config.rs`.

mod config;
mod congestion;
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

use core::fmt;

pub use config::{CongestionAlgorithm, TcpConfig};
pub use congestion::{initial_window, Congestion, CongestionControl, Reno};
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
