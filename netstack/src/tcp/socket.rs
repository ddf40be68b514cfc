//! The per-connection state: the transmission control block (RFC 9293
//! §3.3.1), its constructors, and the application side.
//!
//! Input (`process`) lives in `input.rs`, output (`dispatch`, `poll_at`) in
//! `output.rs`; both are `impl TcpSocket` blocks over the fields here.

use core::fmt;

use tracing::debug;

use super::congestion::{Congestion, CongestionControl};
use super::recovery::Rack;
use super::rtt::RttEstimator;
use super::txlog::TxLog;
use super::{FourTuple, State, TcpConfig, TcpCounters};
use crate::storage::{Assembler, RingBuffer};
use crate::time::{Duration, Instant};
use crate::wire::{TcpRepr, TcpSeqNumber, TCP_MAX_WINDOW_SCALE};

/// MSS assumed when the peer's SYN carries none (RFC 9293 §3.7.1, RFC 1122).
pub(super) const DEFAULT_MSS: usize = 536;
/// Smallest peer MSS we honour; smaller announcements are raised to it
/// (Linux `TCP_MIN_MSS`). Leaves room for 40 bytes of options.
pub(super) const MIN_MSS: usize = 88;
/// Segments acknowledged at once after the first data arrives (Linux
/// `TCP_MAX_QUICKACKS`), so the peer's slow start is not slowed by delayed
/// ACKs.
pub(super) const QUICKACK_SEGMENTS: u32 = 16;
/// Bytes of the timestamps option with its padding (RFC 7323 §3).
pub(super) const TIMESTAMP_OPTION_LEN: usize = 12;
/// How long TS.Recent stays valid for PAWS (RFC 7323 §5.5: 24 days).
pub(super) const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// Why a connection ended, for the application ([`TcpSocket::take_error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TcpError {
    /// The peer reset the connection.
    Reset,
    /// Retransmissions, window probes or keepalive probes went unanswered;
    /// we sent a RST (none for an unanswered SYN or SYN-ACK).
    TimedOut,
    /// The peer refused our SYN with a RST.
    Refused,
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpError::Reset => "connection reset by peer",
            TcpError::TimedOut => "connection timed out; reset sent",
            TcpError::Refused => "connection refused by peer",
        })
    }
}

impl std::error::Error for TcpError {}

/// Why data could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecvError {
    /// The connection is in a state with nothing to read (not yet
    /// established, or closed without a FIN).
    InvalidState,
    /// The peer closed its side and every byte has been read.
    Finished,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvError::InvalidState => "connection cannot receive in this state",
            RecvError::Finished => "peer closed the connection; all data read",
        })
    }
}

impl std::error::Error for RecvError {}

/// Why data could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is not established, or our side is already closed.
    InvalidState,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection cannot send in this state")
    }
}

impl std::error::Error for SendError {}

/// The one timer a connection runs besides the delayed ACK. Which one
/// follows from the state: at most one applies at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    Idle,
    /// SYN, SYN-ACK, data or FIN is unacknowledged (RFC 6298 §5).
    Retransmit {
        expires_at: Instant,
    },
    /// The peer's window is zero and we have data (RFC 9293 §3.8.6.1).
    Persist {
        expires_at: Instant,
    },
    /// TIME-WAIT's 2*MSL, or FIN-WAIT-2's `fin_timeout` once released.
    Close {
        expires_at: Instant,
    },
    /// Keepalive (RFC 1122 §4.2.3.6): the connection is idle (ESTABLISHED or
    /// CLOSE-WAIT, nothing unacknowledged, no zero window) and `keepalive`
    /// is on. Expires `keepalive_time` after the last segment received, then
    /// every `keepalive_intvl` while probes go unanswered.
    Keepalive {
        expires_at: Instant,
    },
}

impl Timer {
    pub(super) fn expires_at(self) -> Option<Instant> {
        match self {
            Timer::Idle => None,
            Timer::Retransmit { expires_at }
            | Timer::Persist { expires_at }
            | Timer::Close { expires_at }
            | Timer::Keepalive { expires_at } => Some(expires_at),
        }
    }
}

/// Timestamps option state (RFC 7323 §4.3), present once negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timestamps {
    /// Added to our millisecond clock so TSval does not reveal uptime and
    /// differs per connection (RFC 7323 §5.4, §7.1).
    pub(super) offset: u32,
    /// TS.Recent: the peer's TSval to echo.
    pub(super) recent: u32,
    /// When TS.Recent was last updated (PAWS idle rule, RFC 7323 §5.5).
    pub(super) recent_at: Instant,
}

/// One TCP connection: its control block and buffers. Sans-IO: segments
/// come in through [`process`](TcpSocket::process) and go out through
/// [`dispatch`](TcpSocket::dispatch); time comes in as `now`.
///
/// Call order for the owner: `process` for each arriving segment (send the
/// reply it returns, if any), then `dispatch` until it returns `Ok(false)`,
/// then arm a timer for [`poll_at`](TcpSocket::poll_at). After any
/// application call (`send_*`, `recv_*`, `close`, `abort`, `release`),
/// re-read `poll_at`. A socket is finished when `state()` is `Closed` and
/// `poll_at()` is `None` (a final RST may still be due after `Closed`).
#[derive(Debug)]
pub struct TcpSocket {
    pub(super) config: TcpConfig,
    pub(super) state: State,
    pub(super) tuple: FourTuple,
    /// Opened by `accept_syn` (passive) rather than `connect`.
    pub(super) passive: bool,

    // Send sequence space (RFC 9293 §3.3.1).
    pub(super) iss: TcpSeqNumber,
    pub(super) snd_una: TcpSeqNumber,
    /// Next sequence number to send; moves back to SND.UNA on a
    /// retransmission timeout (go-back-N).
    pub(super) snd_nxt: TcpSeqNumber,
    /// Highest sequence number sent so far (Linux's `snd_nxt`).
    pub(super) snd_max: TcpSeqNumber,
    /// The peer's window in bytes (scaled).
    pub(super) snd_wnd: usize,
    /// Largest window the peer has offered (RFC 9293 §3.8.6.2.1, RFC 5961 §5.2).
    pub(super) max_snd_wnd: usize,
    pub(super) snd_wl1: TcpSeqNumber,
    pub(super) snd_wl2: TcpSeqNumber,
    /// Shift applied to the peer's window fields.
    pub(super) snd_wscale: u8,
    /// Window scaling offered (SYN-SENT) or agreed by both sides.
    pub(super) window_scaling: bool,
    /// Largest segment the peer accepts (MSS option, capped by ours).
    pub(super) snd_mss: usize,
    /// End of the last short (less than full-sized) segment sent: Nagle
    /// holds a new short segment only while this one is unacknowledged
    /// (Minshall's variant, as Linux's `tcp_minshall_check`).
    pub(super) snd_sml: TcpSeqNumber,
    /// `close()` was called: a FIN follows the queued data.
    pub(super) fin_queued: bool,
    /// `close()` in SYN-RECEIVED: close once established (RFC 9293 §3.10.4).
    pub(super) close_pending: bool,

    // Receive sequence space.
    pub(super) irs: TcpSeqNumber,
    pub(super) rcv_nxt: TcpSeqNumber,
    /// Right edge of the window we last advertised (RCV.NXT + RCV.WND then).
    pub(super) rcv_adv: TcpSeqNumber,
    /// Shift applied to the window fields we send.
    pub(super) rcv_wscale: u8,
    /// The ACK number we last sent (Last.ACK.sent of RFC 7323 §4.3).
    pub(super) rcv_ack_sent: TcpSeqNumber,
    /// The peer's FIN arrived ahead of a hole, at this sequence number.
    pub(super) rcv_fin: Option<TcpSeqNumber>,
    /// The peer's FIN has been received in order.
    pub(super) fin_received: bool,
    /// Estimate of the peer's segment size, for ACK pacing and SWS.
    pub(super) rcv_mss: usize,
    /// The application read data since our last segment: the window may
    /// have opened enough for an update (Linux `tcp_cleanup_rbuf`).
    pub(super) rx_read: bool,
    /// Bytes of free receive ring not offered in the window, so that
    /// rounding the scaled window up never offers more than fits.
    pub(super) rx_slack: usize,

    pub(super) rx: RingBuffer,
    pub(super) tx: RingBuffer,
    pub(super) assembler: Assembler,
    /// Start of the out-of-order segment received last: its range is
    /// reported first among SACK blocks (RFC 2018 §4).
    pub(super) sack_recent: Option<TcpSeqNumber>,

    // Negotiated options.
    /// The peer accepts SACK blocks.
    pub(super) sack_ok: bool,
    pub(super) timestamps: Option<Timestamps>,

    // Acknowledgements we owe.
    /// An ACK must go out on the next dispatch.
    pub(super) ack_now: bool,
    /// A delayed ACK is due at this time.
    pub(super) ack_deadline: Option<Instant>,
    /// In-order bytes received since our last ACK.
    pub(super) rcv_unacked: usize,
    /// Remaining segments to acknowledge at once.
    pub(super) quickack: u32,

    // Timers and retransmission.
    pub(super) timer: Timer,
    pub(super) rtt: RttEstimator,
    /// Consecutive timeouts of the retransmission timer.
    pub(super) retransmits: u32,
    /// Window probes sent without an ACK coming back.
    pub(super) probes: u32,
    /// Exponent of the persist timer.
    pub(super) persist_backoff: u32,
    /// The persist timer fired: send one byte past the window.
    pub(super) probe_pending: bool,
    /// Our TSval on the fast retransmission that began the current
    /// recovery, for spurious-retransmission detection (RFC 3522).
    pub(super) recovery_ts: Option<u32>,
    /// Fast recovery just began; its retransmission is not sent yet.
    pub(super) recovery_entered: bool,
    /// Our TSval when we last retransmitted (see `sample_rtt`).
    pub(super) last_retransmit_ts: Option<u32>,
    /// End of the last window probe, when past SND.MAX: an ACK up to here
    /// is valid although SND.MAX is not advanced for probes.
    pub(super) probe_end: Option<TcpSeqNumber>,
    /// Our SYN or SYN-ACK was retransmitted.
    pub(super) syn_retransmitted: bool,
    /// When we last sent a segment with data (idle restart, RFC 5681 §4.1).
    pub(super) last_send: Instant,
    /// When the last acceptable segment arrived (keepalive idle time, as
    /// Linux's `rcv_tstamp`).
    pub(super) last_recv: Instant,
    /// Keepalive probes sent since the peer was last heard from.
    pub(super) keepalive_sent: u32,
    /// The keepalive timer fired: send a probe on the next dispatch.
    pub(super) keepalive_pending: bool,
    /// Start of the current one-second challenge-ACK window (RFC 5961 §7).
    pub(super) challenge_start: Instant,
    /// Challenge ACKs sent in the current window.
    pub(super) challenge_count: u32,
    /// An ICMP soft error arrived since the peer was last heard from (Linux
    /// `sk_err_soft`); diagnostics only, it never aborts.
    pub(super) soft_error: bool,

    // Congestion control and loss recovery.
    pub(super) cc: Congestion,
    pub(super) dup_acks: u32,
    /// In fast recovery until SND.UNA reaches this (RFC 6582 `recover`).
    pub(super) recovery: Option<TcpSeqNumber>,
    /// Highest sequence sent when the last recovery or timeout began; no new
    /// fast retransmit until SND.UNA passes it (RFC 6582 §3.2 step 2).
    pub(super) recover: Option<TcpSeqNumber>,
    /// Retransmit the first unacknowledged segment on the next dispatch.
    pub(super) retransmit_front: bool,
    /// The peer's SACK blocks (RFC 2018), relative to SND.UNA: data it holds
    /// beyond the cumulative ACK (the RFC 6675 scoreboard).
    pub(super) sacked: Assembler,
    /// In recovery after a retransmission timeout (Linux's Loss state):
    /// cwnd is the algorithm's, restarting from one segment (`recovery.rs`).
    pub(super) rto_recovery: bool,
    /// Per-segment send times and states of the data in flight (SACK
    /// connections only; allocated while data is outstanding).
    pub(super) txlog: TxLog,
    /// RACK loss detection state (RFC 8985 §6.1).
    pub(super) rack: Rack,
    /// Tail loss probe timer (RFC 8985 §7.2), SACK connections only.
    pub(super) pto_at: Option<Instant>,
    /// A tail loss probe is out, ending here (RFC 8985 §7.3 TLP.end_seq):
    /// no other probe until an ACK covers it.
    pub(super) tlp_end: Option<TcpSeqNumber>,
    /// The probe out is a retransmission (RFC 8985 §7.3 TLP.is_retrans).
    pub(super) tlp_retrans: bool,
    /// The probe timer fired: the next dispatch sends a probe.
    pub(super) tlp_pending: bool,
    /// Probes sent since SND.UNA last advanced (at most `MAX_PROBES`).
    pub(super) tlp_sent: u8,
    /// A duplicate segment arrived: its range goes first in our next ACK
    /// as a D-SACK block (RFC 2883 §4), once.
    pub(super) dsack: Option<(TcpSeqNumber, TcpSeqNumber)>,

    // Application interface.
    pub(super) wakeup: bool,
    pub(super) error: Option<TcpError>,
    /// The application let go; the socket lives on only to finish closing.
    pub(super) released: bool,
    /// Released with [`TcpSocket::release_discarding`]: input is ACKed and
    /// thrown away instead of answered with RST (a lingering close).
    pub(super) discard_input: bool,
    /// A RST is owed (abort, timeout): sent by the next dispatch.
    pub(super) rst_pending: bool,
    /// Events since the owner last took them.
    pub(super) counters: TcpCounters,
}

/// The window shift that lets `buffer` bytes be advertised (RFC 7323 §2.3).
fn window_shift_for(buffer: usize) -> u8 {
    let mut shift = 0;
    while shift < TCP_MAX_WINDOW_SCALE && (buffer >> shift) > usize::from(u16::MAX) {
        shift += 1;
    }
    shift
}

impl TcpSocket {
    fn new(
        config: &TcpConfig,
        tuple: FourTuple,
        iss: TcpSeqNumber,
        state: State,
        now: Instant,
    ) -> TcpSocket {
        let rcv_wscale = if config.window_scaling {
            window_shift_for(config.recv_buffer)
        } else {
            0
        };
        let rx_slack = (1usize << rcv_wscale) - 1;
        let snd_mss = usize::from(config.mss).clamp(MIN_MSS, DEFAULT_MSS);
        let socket = TcpSocket {
            config: *config,
            state,
            tuple,
            passive: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: TcpSeqNumber::default(),
            snd_wl2: iss,
            snd_wscale: 0,
            window_scaling: config.window_scaling,
            snd_mss,
            snd_sml: iss,
            fin_queued: false,
            close_pending: false,
            irs: TcpSeqNumber::default(),
            rcv_nxt: TcpSeqNumber::default(),
            rcv_adv: TcpSeqNumber::default(),
            rcv_wscale,
            rcv_ack_sent: TcpSeqNumber::default(),
            rcv_fin: None,
            fin_received: false,
            rcv_mss: snd_mss,
            rx_slack,
            rx_read: false,
            rx: RingBuffer::new(config.recv_buffer + rx_slack),
            tx: RingBuffer::new(config.send_buffer),
            assembler: Assembler::new(),
            sack_recent: None,
            sack_ok: false,
            timestamps: None,
            ack_now: false,
            ack_deadline: None,
            rcv_unacked: 0,
            quickack: 0,
            timer: Timer::Idle,
            rtt: RttEstimator::new(config.rto_initial, config.rto_min, config.rto_max),
            retransmits: 0,
            probes: 0,
            persist_backoff: 0,
            probe_pending: false,
            probe_end: None,
            last_retransmit_ts: None,
            recovery_ts: None,
            recovery_entered: false,
            syn_retransmitted: false,
            last_send: now,
            last_recv: now,
            keepalive_sent: 0,
            keepalive_pending: false,
            challenge_start: now,
            challenge_count: 0,
            soft_error: false,
            cc: Congestion::new(config.congestion),
            dup_acks: 0,
            recovery: None,
            recover: None,
            retransmit_front: false,
            sacked: Assembler::new(),
            rto_recovery: false,
            txlog: TxLog::default(),
            rack: Rack::default(),
            pto_at: None,
            tlp_end: None,
            tlp_retrans: false,
            tlp_pending: false,
            tlp_sent: 0,
            dsack: None,
            wakeup: false,
            error: None,
            released: false,
            discard_input: false,
            rst_pending: false,
            counters: TcpCounters::default(),
        };
        debug!(local = %tuple.local, remote = %tuple.remote, state = %state, "tcp open");
        socket
    }

    /// Passive open: a SYN arrived on a listening port. Returns a socket in
    /// SYN-RECEIVED whose SYN-ACK goes out on the next dispatch. Negotiates
    /// MSS, window scale, SACK-permitted and timestamps from the SYN. Data
    /// carried by the SYN is not accepted (the peer retransmits it).
    pub fn accept_syn(
        config: &TcpConfig,
        tuple: FourTuple,
        syn: &TcpRepr<'_>,
        iss: TcpSeqNumber,
        now: Instant,
    ) -> TcpSocket {
        let mut socket = TcpSocket::new(config, tuple, iss, State::SynReceived, now);
        socket.passive = true;
        socket.irs = syn.seq_number;
        socket.rcv_nxt = syn.seq_number + 1;
        socket.rcv_ack_sent = socket.rcv_nxt;
        socket.negotiate(syn, now);
        // RFC 7323 §2.2: the window of a SYN is never scaled.
        socket.snd_wnd = usize::from(syn.window_len);
        socket.max_snd_wnd = socket.snd_wnd;
        socket.snd_wl1 = syn.seq_number;
        socket.snd_wl2 = iss;
        socket.rcv_adv = socket.rcv_nxt + socket.syn_window();
        socket
    }

    /// Active open: a socket in SYN-SENT whose SYN goes out on the next
    /// dispatch.
    pub fn connect(
        config: &TcpConfig,
        tuple: FourTuple,
        iss: TcpSeqNumber,
        now: Instant,
    ) -> TcpSocket {
        let mut socket = TcpSocket::new(config, tuple, iss, State::SynSent, now);
        if config.timestamps {
            socket.timestamps = Some(Timestamps {
                offset: ts_offset(iss),
                recent: 0,
                recent_at: now,
            });
        }
        socket
    }

    /// Take the options of the peer's SYN (or SYN-ACK): RFC 9293 §3.7.1
    /// (MSS), RFC 7323 §2.2 (window scale only if both sent it) and §3.2
    /// (timestamps only if both sent them), RFC 2018 §2 (SACK-permitted).
    pub(super) fn negotiate(&mut self, syn: &TcpRepr<'_>, now: Instant) {
        let peer_mss = syn.max_seg_size.map_or(DEFAULT_MSS, usize::from);
        self.snd_mss = peer_mss.min(usize::from(self.config.mss)).max(MIN_MSS);
        match syn.window_scale {
            Some(shift) if self.config.window_scaling => {
                self.snd_wscale = shift.min(TCP_MAX_WINDOW_SCALE);
            }
            _ => {
                self.window_scaling = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.sack_ok = self.config.sack && syn.sack_permitted;
        self.timestamps = match syn.timestamp {
            Some(ts) if self.config.timestamps => Some(Timestamps {
                offset: self
                    .timestamps
                    .map_or_else(|| ts_offset(self.iss), |t| t.offset),
                recent: ts.tsval,
                recent_at: now,
            }),
            _ => None,
        };
        self.rcv_mss = self.max_payload_base();
    }

    /// All state changes go through here.
    pub(super) fn set_state(&mut self, state: State) {
        if self.state == state {
            return;
        }
        debug!(
            local = %self.tuple.local,
            remote = %self.tuple.remote,
            from = %self.state,
            to = %state,
            "tcp state"
        );
        self.state = state;
        self.wakeup = true;
        match state {
            State::Closed => {
                // Unsent data and out-of-order data are lost; in-order data
                // already received stays readable.
                self.timer = Timer::Idle;
                self.ack_now = false;
                self.ack_deadline = None;
                self.probe_pending = false;
                self.retransmit_front = false;
                self.tx.clear();
                self.sacked.clear();
                self.txlog.clear();
                self.assembler.clear();
                self.rx.discard_unallocated();
            }
            State::TimeWait => {
                self.tx.clear();
                self.txlog.clear();
                self.assembler.clear();
                self.rx.discard_unallocated();
            }
            _ => {}
        }
    }

    /// The handshake completed (from SYN-SENT or SYN-RECEIVED).
    pub(super) fn on_established(&mut self) {
        self.set_state(State::Established);
        self.cc
            .on_established(self.max_payload_base(), self.syn_retransmitted);
        if self.syn_retransmitted {
            self.rtt.syn_fallback();
        }
        self.retransmits = 0;
        self.quickack = QUICKACK_SEGMENTS;
        if self.close_pending {
            self.close_pending = false;
            self.fin_queued = true;
            self.set_state(State::FinWait1);
        }
    }

    /// Abort with `error`: RST owed if the peer may hold state.
    pub(super) fn abort_with(&mut self, error: Option<TcpError>) {
        let send_rst = matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        );
        if error.is_some() {
            self.error = error;
        }
        self.rst_pending = send_rst;
        self.set_state(State::Closed);
    }

    // ----- derived quantities shared by input and output -----

    /// Our SYN is not yet acknowledged.
    pub(super) fn syn_unacked(&self) -> bool {
        matches!(self.state, State::SynSent | State::SynReceived)
    }

    /// Sequence number of the first byte in the send buffer.
    pub(super) fn tx_start(&self) -> TcpSeqNumber {
        if self.syn_unacked() {
            self.iss + 1
        } else {
            self.snd_una
        }
    }

    /// Sequence number just past the last queued byte (the FIN's, if
    /// queued).
    pub(super) fn tx_end(&self) -> TcpSeqNumber {
        self.tx_start() + self.tx.len()
    }

    /// The FIN's sequence number, once `close()` queued it.
    pub(super) fn fin_seq(&self) -> Option<TcpSeqNumber> {
        self.fin_queued.then(|| self.tx_end())
    }

    /// Bytes sent and not acknowledged (SYN and FIN count).
    pub(super) fn in_flight(&self) -> usize {
        if self.snd_nxt > self.snd_una {
            self.snd_nxt - self.snd_una
        } else {
            0
        }
    }

    /// Queued bytes not yet sent (from SND.NXT).
    pub(super) fn unsent(&self) -> usize {
        let end = self.tx_end();
        let start = self.snd_nxt.max(self.tx_start());
        if end > start {
            end - start
        } else {
            0
        }
    }

    /// The window we still offer: RCV.ADV - RCV.NXT.
    pub(super) fn rcv_wnd(&self) -> usize {
        if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        }
    }

    /// Window field of a SYN or SYN-ACK (never scaled, RFC 7323 §2.2).
    pub(super) fn syn_window(&self) -> usize {
        self.rx
            .window()
            .saturating_sub(self.rx_slack)
            .min(usize::from(u16::MAX))
    }

    /// Bytes of TCP options every segment after the SYN carries.
    pub(super) fn fixed_option_len(&self) -> usize {
        if self.timestamps.is_some() {
            TIMESTAMP_OPTION_LEN
        } else {
            0
        }
    }

    /// Largest payload of a segment without SACK blocks (RFC 9293 §3.7.1:
    /// the MSS counts options against the segment).
    pub(super) fn max_payload_base(&self) -> usize {
        self.snd_mss - self.fixed_option_len()
    }

    /// The window to advertise now, in bytes (a multiple of the scale unit
    /// unless the right edge is kept where it was). RFC 9293 §3.8.6.2.2:
    /// never move the right edge left, and only move it right by at least
    /// min(buffer/2, MSS) (receiver-side silly window avoidance).
    pub(super) fn window_to_advertise(&self) -> usize {
        let unit = 1usize << self.rcv_wscale;
        let max = usize::from(u16::MAX) << self.rcv_wscale;
        let free = self.rx.window().saturating_sub(self.rx_slack).min(max);
        let current = self.rcv_wnd();
        let kept = current.div_ceil(unit).saturating_mul(unit).min(max);
        if free >= current + self.sws_threshold() {
            (free / unit * unit).max(kept)
        } else {
            kept
        }
    }

    /// Smallest worthwhile window opening (RFC 9293 §3.8.6.2.2).
    pub(super) fn sws_threshold(&self) -> usize {
        ((self.rx.capacity() - self.rx_slack) / 2)
            .min(self.rcv_mss)
            .max(1)
    }

    // ----- application side -----

    /// The connection's state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The connection's addresses (the demux key).
    pub fn tuple(&self) -> FourTuple {
        self.tuple
    }

    /// Read the contiguous received bytes: `f` gets them (possibly fewer
    /// than `recv_queue()`, at the ring's wrap; possibly none) and returns
    /// how many it consumed. [`RecvError::Finished`] once the peer's FIN has
    /// arrived and everything is read.
    pub fn recv_with<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> Result<R, RecvError> {
        if self.rx.is_empty() {
            if self.fin_received {
                return Err(RecvError::Finished);
            }
            if !self.may_recv() {
                return Err(RecvError::InvalidState);
            }
        }
        let (read, result) = self.rx.dequeue_with(f);
        if read > 0 {
            self.rx_read = true;
        }
        Ok(result)
    }

    /// Copy received bytes into `buf`; returns the count (0 if none yet).
    pub fn recv_slice(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        let mut total = 0;
        while total < buf.len() {
            let n = self.recv_with(|data| {
                let n = data.len().min(buf.len() - total);
                buf[total..total + n].copy_from_slice(&data[..n]);
                (n, n)
            });
            match n {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(_) if total > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Write straight into the send buffer's contiguous free space: `f`
    /// returns how many bytes it wrote. The slice may be empty (buffer full)
    /// or shorter than `send_capacity() - send_queue()`.
    pub fn send_with<R>(
        &mut self,
        f: impl FnOnce(&mut [u8]) -> (usize, R),
    ) -> Result<R, SendError> {
        if !self.may_send() {
            return Err(SendError::InvalidState);
        }
        let (_, result) = self.tx.enqueue_with(f);
        Ok(result)
    }

    /// Queue as much of `data` as fits; returns the count.
    pub fn send_slice(&mut self, data: &[u8]) -> Result<usize, SendError> {
        if !self.may_send() {
            return Err(SendError::InvalidState);
        }
        Ok(self.tx.enqueue_slice(data))
    }

    /// Size of the send buffer.
    pub fn send_capacity(&self) -> usize {
        self.tx.capacity()
    }

    /// Bytes queued to send and not yet acknowledged.
    pub fn send_queue(&self) -> usize {
        self.tx.len()
    }

    /// Bytes received and not yet read.
    pub fn recv_queue(&self) -> usize {
        self.rx.len()
    }

    /// Whether our side is open for sending (ESTABLISHED or CLOSE-WAIT).
    pub fn may_send(&self) -> bool {
        matches!(self.state, State::Established | State::CloseWait)
    }

    /// Whether data may still arrive or is waiting to be read.
    pub fn may_recv(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) || !self.rx.is_empty()
    }

    /// Whether `send_*` would queue at least one byte.
    pub fn can_send(&self) -> bool {
        self.may_send() && self.tx.window() > 0
    }

    /// Whether `recv_*` would return at least one byte.
    pub fn can_recv(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Shut down our side: a FIN follows the queued data (RFC 9293 §3.10.4).
    /// Receiving continues until the peer's FIN.
    pub fn close(&mut self) {
        match self.state {
            State::Closed | State::Listen | State::SynSent => self.set_state(State::Closed),
            State::SynReceived => self.close_pending = true,
            State::Established => {
                self.fin_queued = true;
                self.set_state(State::FinWait1);
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.set_state(State::LastAck);
            }
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => {}
        }
    }

    /// Reset the connection now (RFC 9293 §3.10.5): a RST goes out on the
    /// next dispatch and the state becomes Closed.
    pub fn abort(&mut self) {
        self.abort_with(None);
    }

    /// The application has let go. The socket finishes closing on its own:
    /// our FIN is queued if it was not, its retransmissions (and window
    /// probes) give up after `orphan_retries` instead of `retries2` (Linux
    /// `tcp_orphan_retries`), FIN-WAIT-2 times out after `fin_timeout`, and
    /// the owner frees it once `state()` is `Closed` and
    /// `poll_at()` is `None`. Unread data, or data arriving later, resets the
    /// connection (RFC 1122 §4.2.2.13).
    pub fn release(&mut self) {
        self.released = true;
        if !self.rx.is_empty() {
            debug!(local = %self.tuple.local, remote = %self.tuple.remote, unread = self.rx.len(), "released with unread data; reset");
            self.abort();
            return;
        }
        self.close();
    }

    /// Let go like [`release`](Self::release), but as a *lingering close*
    /// (nginx `lingering_close`): unread data and data arriving later are
    /// acknowledged and thrown away instead of answered with RST, so a
    /// response already queued (say, a 413 while the client still sends its
    /// body) reaches the client before the connection ends. FIN-WAIT-2's
    /// `fin_timeout` bounds how long this lasts. Use it when the
    /// application has decided to ignore further input.
    pub fn release_discarding(&mut self) {
        self.discard_input = true;
        let unread = self.rx.len();
        self.rx.dequeue_allocated(unread);
        self.release();
    }

    /// Whether something the application can act on changed since the last
    /// call: data arrived, send space was freed, the FIN arrived, the state
    /// changed, or the connection was reset or timed out.
    pub fn take_wakeup(&mut self) -> bool {
        core::mem::take(&mut self.wakeup)
    }

    /// The events counted since the last call, resetting them: the owner
    /// adds them to its totals.
    pub fn take_counters(&mut self) -> TcpCounters {
        core::mem::take(&mut self.counters)
    }

    /// Why the connection ended, once (if it ended abnormally).
    pub fn take_error(&mut self) -> Option<TcpError> {
        self.error.take()
    }

    /// Turn Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.config.nodelay = nodelay;
    }

    /// Turn keepalive probes (`SO_KEEPALIVE`, RFC 1122 §4.2.3.6) on or off.
    /// With keepalive on, an idle connection is probed after
    /// `keepalive_time` without a segment from the peer, then every
    /// `keepalive_intvl`; `keepalive_probes` unanswered probes abort it with
    /// [`TcpError::TimedOut`].
    pub fn set_keepalive(&mut self, on: bool) {
        self.config.keepalive = on;
    }

    /// Whether `seq` lies in what we have sent and the peer has not yet
    /// acknowledged (SND.UNA <= seq < SND.MAX). The interface checks the
    /// sequence number quoted in an ICMP error with this before calling
    /// [`handle_path_mtu`](TcpSocket::handle_path_mtu) or
    /// [`handle_icmp_soft_error`](TcpSocket::handle_icmp_soft_error)
    /// (RFC 5927 §4.1: an ICMP error about data not in flight is forged or
    /// stale).
    pub fn seq_in_flight(&self, seq: TcpSeqNumber) -> bool {
        self.snd_una <= seq && seq < self.snd_max
    }

    /// The path MTU dropped to `mtu` bytes (an ICMP "fragmentation needed"
    /// or ICMPv6 "packet too big", RFC 1191 §6.3 / RFC 8201 §5.2, already
    /// validated by the caller). Lowers the send MSS to `mtu - 40` and, if
    /// data is in flight, sends it again at once in segments of the new
    /// size: the old ones were dropped on the path.
    ///
    /// As Linux's `tcp_simple_retransmit`, this goes back to SND.UNA
    /// without a congestion response (no data was lost to congestion; the
    /// segments were too big) and without an RTT sample from the resent
    /// data (Karn). Only a decrease is taken: an increase waits for the
    /// caller's PMTU aging (RFC 1191 §6.3), which reopens a path by other
    /// means. The MSS never drops below 88 bytes (Linux's `TCP_MIN_MSS`, the
    /// floor we already apply to the peer's MSS option): 40 bytes of options
    /// and 48 of data (Linux's `tcp_min_snd_mss`), so a forged ICMP cannot
    /// shrink segments to a few bytes each (RFC 5927 §7.2, CVE-2019-11479).
    pub fn handle_path_mtu(&mut self, now: Instant, mtu: usize) {
        // IPv4 (20) and TCP (20) headers without options.
        let mss = mtu.saturating_sub(40).max(MIN_MSS);
        if mss >= self.snd_mss
            || matches!(self.state, State::Closed | State::Listen | State::TimeWait)
        {
            return;
        }
        debug!(
            local = %self.tuple.local,
            remote = %self.tuple.remote,
            mtu,
            old_mss = self.snd_mss,
            new_mss = mss,
            "path MTU lowered"
        );
        self.snd_mss = mss;
        if !self.syn_unacked() && self.snd_max > self.snd_una {
            // Linux `tcp_simple_retransmit`: resend from SND.UNA, keep cwnd;
            // the resent data gets a full RTO (RFC 6298 §5.3).
            self.snd_nxt = self.snd_una;
            self.rtt.discard_timing();
            if matches!(self.timer, Timer::Retransmit { .. }) {
                self.timer = Timer::Retransmit {
                    expires_at: now + self.rtt.rto(),
                };
            }
        }
    }

    /// An ICMP soft error (destination unreachable codes 0, 1 and 5, time
    /// exceeded, parameter problem) arrived for data in flight. Recorded for
    /// diagnostics ([`soft_error`](TcpSocket::soft_error)); the connection is
    /// never aborted for it (RFC 9293 §3.9.2.2 MUST-56, RFC 1122 §4.2.3.9):
    /// it retransmits and times out as usual.
    pub fn handle_icmp_soft_error(&mut self) {
        debug!(local = %self.tuple.local, remote = %self.tuple.remote, state = %self.state, "ICMP soft error");
        self.soft_error = true;
    }

    /// Whether an ICMP soft error arrived since the peer was last heard
    /// from (Linux's `sk_err_soft`, cleared the same way).
    pub fn soft_error(&self) -> bool {
        self.soft_error
    }

    /// The current retransmission timeout (for statistics and tests).
    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    /// The congestion window in bytes (for statistics and tests): during
    /// SACK recovery ssthresh (RFC 6675 §5 step 4.2, no inflation).
    pub fn cwnd(&self) -> usize {
        self.send_window_cc()
    }
}

/// Per-connection timestamp offset (RFC 7323 §5.4 recommends a random one):
/// derived from the ISS, which the caller chooses unpredictably.
fn ts_offset(iss: TcpSeqNumber) -> u32 {
    iss.to_u32().wrapping_mul(0x9E37_79B9).rotate_left(13)
}
