//! Rules for a connection in TIME-WAIT meeting a new SYN for its 4-tuple.
//!
//! RFC 9293 §3.10.7.4 would answer any SYN in TIME-WAIT with an ACK, but
//! then a client that reuses a port within 2 MSL (every `Connection: close`
//! load generator does) waits a full SYN retransmission time. RFC 1122
//! §4.2.2.13 and RFC 6191 let a new SYN reopen the 4-tuple when it cannot
//! be confused with the old connection; Linux does the same
//! (`tcp_timewait_state_process` returning `TCP_TW_SYN`).

use super::{State, TcpSocket};
use crate::wire::TcpRepr;

impl TcpSocket {
    /// Whether `syn` may end this TIME-WAIT and open a new connection on
    /// the same 4-tuple. Call only for a SYN without ACK.
    ///
    /// RFC 6191 §2: with timestamps in use on both, the SYN's TSval must be
    /// newer than TS.Recent; otherwise (RFC 1122 §4.2.2.13) its sequence
    /// number must be beyond RCV.NXT. An older SYN is left to the state
    /// machine, which answers it with the last ACK again.
    pub fn time_wait_accepts_syn(&self, syn: &TcpRepr<'_>) -> bool {
        if self.state != State::TimeWait {
            return false;
        }
        match (&self.timestamps, syn.timestamp) {
            (Some(ts), Some(seg_ts)) => (seg_ts.tsval.wrapping_sub(ts.recent) as i32) > 0,
            _ => syn.seq_number > self.rcv_nxt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{FourTuple, SocketAddr, TcpConfig};
    use crate::time::Instant;
    use crate::wire::{Ipv4Address, TcpControl, TcpSeqNumber, TcpTimestampRepr};

    fn tuple() -> FourTuple {
        FourTuple {
            local: SocketAddr {
                addr: Ipv4Address([10, 7, 0, 2]),
                port: 80,
            },
            remote: SocketAddr {
                addr: Ipv4Address([10, 7, 0, 1]),
                port: 40000,
            },
        }
    }

    fn syn(seq: i32, tsval: Option<u32>) -> TcpRepr<'static> {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            control: TcpControl::Syn,
            seq_number: TcpSeqNumber(seq),
            timestamp: tsval.map(|tsval| TcpTimestampRepr { tsval, tsecr: 0 }),
            window_len: 64240,
            ..TcpRepr::default()
        }
    }

    fn in_time_wait(first_syn: &TcpRepr<'_>) -> TcpSocket {
        let mut s = TcpSocket::accept_syn(
            &TcpConfig::default(),
            tuple(),
            first_syn,
            TcpSeqNumber(1000),
            Instant::ZERO,
        );
        s.state = State::TimeWait;
        s
    }

    #[test]
    fn time_wait_syn_with_newer_timestamp_reopens() {
        let s = in_time_wait(&syn(100, Some(5000)));
        assert!(
            s.time_wait_accepts_syn(&syn(50, Some(5001))),
            "newer TSval wins even with a lower sequence number"
        );
        assert!(
            !s.time_wait_accepts_syn(&syn(500, Some(5000))),
            "same TSval is not newer"
        );
        assert!(
            !s.time_wait_accepts_syn(&syn(500, Some(4000))),
            "older TSval"
        );
    }

    #[test]
    fn time_wait_syn_without_timestamps_needs_higher_sequence() {
        let s = in_time_wait(&syn(100, None));
        assert!(s.time_wait_accepts_syn(&syn(500, None)));
        assert!(
            !s.time_wait_accepts_syn(&syn(101, None)),
            "RCV.NXT itself is not beyond RCV.NXT"
        );
        assert!(!s.time_wait_accepts_syn(&syn(50, None)));
    }

    #[test]
    fn established_never_accepts_a_new_syn() {
        let mut s = in_time_wait(&syn(100, None));
        s.state = State::Established;
        assert!(!s.time_wait_accepts_syn(&syn(500, None)));
    }
}
