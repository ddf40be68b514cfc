//! Read-only connection introspection: [`TcpInfo`], tapir's `tcp_info`.
//!
//! Job: give status tables (`tapir ss`, `/_tapir/connections`, traces) one
//! snapshot of everything `ss -ti` shows for a Linux socket: state, queues,
//! RTT estimator, congestion window, windows with their scales,
//! retransmissions, byte counts, delivery rate and time in state.
//!
//! Contract: [`TcpSocket::info`] never changes the socket and reads only
//! fields the socket keeps anyway. The few values nothing else keeps
//! (64-bit byte counts, total retransmissions, when the state last changed,
//! the delivery rate) live in an [`InfoTrack`] *beside* the socket, in the
//! interface's slot (the control block stays within its size budget); the
//! interface advances it after every call into the socket
//! ([`InfoTrack::track`]: O(1), a handful of integer operations, no
//! allocation) and [`InfoTrack::apply`] completes a snapshot. Byte counts follow Linux: `bytes_acked` and
//! `bytes_received` count sequence space (a FIN counts one), `bytes_sent`
//! counts bytes sent for the first time (retransmissions are in
//! `total_retrans`, as segments).

use super::congestion::CongestionControl;
use super::{CongestionAlgorithm, FourTuple, State, TcpCounters, TcpSocket};
use crate::time::{Duration, Instant};
use crate::wire::TcpSeqNumber;

/// What the interface remembers per connection only for [`TcpInfo`]:
/// 56 bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct InfoTrack {
    bytes_acked: u64,
    bytes_received: u64,
    bytes_sent: u64,
    /// Segments retransmitted over the connection's life.
    total_retrans: u32,
    /// Delivery rate in bytes per second, from the last sample.
    delivery_rate: u32,
    /// When the state last changed (as seen by `track_info`).
    state_since: Instant,
    /// Start of the current delivery-rate sample and `bytes_acked` then.
    rate_at: Instant,
    rate_base: u64,
    /// The state `track_info` saw last; `None` before its first call.
    seen: Option<State>,
}

/// A snapshot of one connection, like Linux's `struct tcp_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// The connection's addresses.
    pub tuple: FourTuple,
    pub state: State,
    /// When the connection entered `state` (as far as the interface saw).
    pub state_since: Instant,
    /// Bytes received and not yet read by the application (Recv-Q).
    pub recv_q: usize,
    /// Bytes queued and not yet acknowledged (Send-Q).
    pub send_q: usize,
    /// Smoothed RTT, once a sample exists.
    pub srtt: Option<Duration>,
    /// RTT variation (RFC 6298 RTTVAR).
    pub rttvar: Duration,
    /// Current retransmission timeout, with backoff.
    pub rto: Duration,
    /// Times the retransmission timer has been backed off.
    pub backoff: u32,
    /// Congestion window in bytes.
    pub cwnd: usize,
    /// Slow-start threshold in bytes (`usize::MAX` while unset).
    pub ssthresh: usize,
    /// Bytes sent and not acknowledged (SYN and FIN count).
    pub in_flight: usize,
    /// Our send MSS and the peer's estimated one.
    pub snd_mss: usize,
    pub rcv_mss: usize,
    /// The peer's window in bytes and the shift applied to it.
    pub snd_wnd: usize,
    pub snd_wscale: u8,
    /// The window we offer in bytes and the shift we apply.
    pub rcv_wnd: usize,
    pub rcv_wscale: u8,
    /// Window scaling, SACK and timestamps in use.
    pub wscale_ok: bool,
    pub sack: bool,
    pub timestamps: bool,
    pub congestion: CongestionAlgorithm,
    /// SND.UNA and SND.NXT relative to the ISS (what Wireshark shows).
    pub snd_una: u32,
    pub snd_nxt: u32,
    /// Consecutive retransmission timeouts now (ss `retrans:N/…`).
    pub retransmits: u32,
    /// Segments retransmitted over the connection's life (ss `…/N`).
    pub total_retrans: u64,
    /// Sequence space acknowledged by the peer, sent for the first time,
    /// and received from the peer.
    pub bytes_acked: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Bytes per second acknowledged over the last sample (at least one
    /// smoothed RTT and 10 ms with ACKs in it; kept through idle periods).
    pub delivery_rate: u64,
}

impl TcpInfo {
    /// Time spent in the current state.
    pub fn time_in_state(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.state_since)
    }
}

impl TcpSocket {
    /// A snapshot of the connection for status tables and traces.
    /// Without an [`InfoTrack`] the byte counts are taken from the sequence
    /// numbers (exact below 4 GiB), `total_retrans` is the current
    /// `retransmits`, and time in state and delivery rate are unknown (0).
    pub fn info(&self) -> TcpInfo {
        let una = self.snd_una.to_u32().wrapping_sub(self.iss.to_u32());
        let nxt = self.snd_nxt.to_u32().wrapping_sub(self.iss.to_u32());
        TcpInfo {
            tuple: self.tuple,
            state: self.state,
            state_since: Instant::ZERO,
            recv_q: self.recv_queue(),
            send_q: self.send_queue(),
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            rto: self.rtt.rto(),
            backoff: self.rtt.backoff(),
            cwnd: self.cwnd(),
            ssthresh: self.cc.ssthresh(),
            in_flight: self.in_flight(),
            snd_mss: self.snd_mss,
            rcv_mss: self.rcv_mss,
            snd_wnd: self.snd_wnd,
            snd_wscale: self.snd_wscale,
            rcv_wnd: self.rcv_wnd(),
            rcv_wscale: self.rcv_wscale,
            wscale_ok: self.window_scaling,
            sack: self.sack_ok,
            timestamps: self.timestamps.is_some(),
            congestion: self.cc.algorithm(),
            snd_una: una,
            snd_nxt: nxt,
            retransmits: self.retransmits,
            total_retrans: u64::from(self.retransmits),
            bytes_acked: u64::from(self.seq_bytes(self.snd_una, self.iss)),
            bytes_sent: u64::from(self.seq_bytes(self.snd_max, self.iss)),
            bytes_received: if self.passive || self.rcv_nxt != self.irs {
                u64::from(self.seq_bytes(self.rcv_nxt, self.irs))
            } else {
                0
            },
            delivery_rate: 0,
        }
    }

    /// Sequence space from just past `start` (the SYN) to `seq`, mod 2^32.
    fn seq_bytes(&self, seq: TcpSeqNumber, start: TcpSeqNumber) -> u32 {
        let d = seq.to_u32().wrapping_sub(start.to_u32());
        if d >= 1 << 31 {
            0
        } else {
            d.saturating_sub(1)
        }
    }
}

impl InfoTrack {
    /// Complete `info` (from [`TcpSocket::info`]) with what is tracked here.
    pub fn apply(&self, info: &mut TcpInfo) {
        info.state_since = self.state_since;
        info.total_retrans = u64::from(self.total_retrans);
        info.bytes_acked = self.bytes_acked;
        info.bytes_sent = self.bytes_sent;
        info.bytes_received = self.bytes_received;
        info.delivery_rate = u64::from(self.delivery_rate);
    }

    /// Advance after a call into `socket` at `now` whose events were
    /// `counters` (the interface calls this from its bookkeeping; O(1)).
    pub fn track(&mut self, socket: &TcpSocket, now: Instant, counters: &TcpCounters) {
        let state = socket.state;
        let synced = !matches!(state, State::SynSent | State::SynReceived | State::Closed)
            || socket.snd_una != socket.iss;
        let t = self;
        if t.seen != Some(state) {
            if t.seen.is_none() {
                t.rate_at = now;
            }
            t.seen = Some(state);
            t.state_since = now;
        }
        t.total_retrans = t
            .total_retrans
            .saturating_add(u32::try_from(counters.retrans_segs).unwrap_or(u32::MAX));
        if !synced {
            return;
        }
        // Each count, modulo 2^32, is the distance of a sequence number from
        // its start: add how far the sequence number moved since.
        let base = socket.iss.to_u32().wrapping_add(1);
        let advance = |count: &mut u64, seq: u32, base: u32| {
            let delta = seq.wrapping_sub(base).wrapping_sub(*count as u32);
            // Sequence numbers only move forward, by less than 2^31.
            if delta < 1 << 31 {
                *count += u64::from(delta);
            }
        };
        advance(&mut t.bytes_acked, socket.snd_una.to_u32(), base);
        advance(&mut t.bytes_sent, socket.snd_max.to_u32(), base);
        let rbase = socket.irs.to_u32().wrapping_add(1);
        if socket.passive || socket.rcv_nxt != socket.irs {
            advance(&mut t.bytes_received, socket.rcv_nxt.to_u32(), rbase);
        }
        // Delivery rate: bytes acknowledged over at least one smoothed RTT
        // (at least 10 ms, so a burst of ACKs is not a sample).
        let window = socket
            .rtt
            .srtt()
            .unwrap_or(Duration::from_millis(100))
            .max(Duration::from_millis(10));
        let elapsed = now.saturating_duration_since(t.rate_at);
        if elapsed >= window {
            let acked = t.bytes_acked - t.rate_base;
            let rate = u128::from(acked) * 1_000_000 / elapsed.as_micros().max(1);
            // A period without ACKs (idle, or application-limited) is no
            // sample of the path: the last rate stands, as in Linux.
            if acked > 0 {
                t.delivery_rate = u32::try_from(rate).unwrap_or(u32::MAX);
            }
            t.rate_at = now;
            t.rate_base = t.bytes_acked;
        }
    }
}
