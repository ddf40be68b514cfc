//! Per-connection event counters, named after Linux's `netstat -s`
//! (`/proc/net/netstat` "TcpExt:" and `/proc/net/snmp` "Tcp:") fields.
//!
//! A socket counts what happens to it; the interface drains the counts
//! after every call into the socket ([`TcpSocket::take_counters`]) and adds
//! them to its own totals, so nothing is lost when a connection is freed.
//!
//! [`TcpSocket::take_counters`]: super::TcpSocket::take_counters

/// Events on one connection since the counters were last taken.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TcpCounters {
    /// RetransSegs: segments retransmitted (any cause).
    pub retrans_segs: u64,
    /// TCPTimeouts: retransmission timer expiries (SYN and data).
    pub timeouts: u64,
    /// TCPFastRetrans: fast retransmissions (duplicate ACKs or SACK).
    pub fast_retrans: u64,
    /// TCPSACKRecovery: loss recoveries entered with SACK.
    pub sack_recovery: u64,
    /// TCPRenoRecovery: loss recoveries entered without SACK.
    pub reno_recovery: u64,
    /// TCPLostRetransmit: retransmissions deemed lost again (by RACK).
    pub lost_retransmits: u64,
    /// TCPLossProbes: tail loss probes sent (RFC 8985 §7).
    pub tlp_probes: u64,
    /// TCPDSACKRecv: D-SACK blocks received (RFC 2883).
    pub dsack_recv: u64,
    /// TCPDSACKOldSent: D-SACK blocks sent for duplicate data.
    pub dsack_sent: u64,
    /// TCPSpuriousRTOs-like: recoveries undone as spurious (RFC 3522).
    pub spurious_undo: u64,
    /// TCPChallengeACK: challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// TCPChallengeACK suppressed by the rate limit (Linux has no separate
    /// counter; useful to see the limit acting).
    pub challenge_acks_limited: u64,
    /// PAWSEstab: segments dropped by PAWS (RFC 7323 §5).
    pub paws_estab: u64,
    /// TCPAbortOnTimeout: connections aborted because retransmissions,
    /// window probes or keepalive probes went unanswered.
    pub abort_on_timeout: u64,
    /// TCPAbortOnData: connections reset because data arrived after the
    /// application closed (RFC 1122 §4.2.2.13).
    pub abort_on_data: u64,
    /// TCPKeepAlive: keepalive probes sent.
    pub keepalive_probes: u64,
    /// Zero-window probes sent (TCPWinProbe).
    pub window_probes: u64,
    /// Segments dropped because they acknowledged data never sent.
    pub ack_unsent: u64,
    /// TCPPureAcks-style: delayed ACKs sent when the timer fired
    /// (DelayedACKs).
    pub delayed_acks: u64,
}

impl TcpCounters {
    /// Add `other` into `self`.
    pub fn add(&mut self, other: &TcpCounters) {
        let TcpCounters {
            retrans_segs,
            timeouts,
            fast_retrans,
            sack_recovery,
            reno_recovery,
            lost_retransmits,
            tlp_probes,
            dsack_recv,
            dsack_sent,
            spurious_undo,
            challenge_acks,
            challenge_acks_limited,
            paws_estab,
            abort_on_timeout,
            abort_on_data,
            keepalive_probes,
            window_probes,
            ack_unsent,
            delayed_acks,
        } = *other;
        self.retrans_segs += retrans_segs;
        self.timeouts += timeouts;
        self.fast_retrans += fast_retrans;
        self.sack_recovery += sack_recovery;
        self.reno_recovery += reno_recovery;
        self.lost_retransmits += lost_retransmits;
        self.tlp_probes += tlp_probes;
        self.dsack_recv += dsack_recv;
        self.dsack_sent += dsack_sent;
        self.spurious_undo += spurious_undo;
        self.challenge_acks += challenge_acks;
        self.challenge_acks_limited += challenge_acks_limited;
        self.paws_estab += paws_estab;
        self.abort_on_timeout += abort_on_timeout;
        self.abort_on_data += abort_on_data;
        self.keepalive_probes += keepalive_probes;
        self.window_probes += window_probes;
        self.ack_unsent += ack_unsent;
        self.delayed_acks += delayed_acks;
    }

    /// Whether nothing was counted.
    pub fn is_zero(&self) -> bool {
        *self == TcpCounters::default()
    }
}
