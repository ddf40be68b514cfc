//! Packet-in / packet-out tests of the state machine with a virtual clock.
//!
//! Fixtures build a socket in each state; `send!` feeds it a segment from
//! the peer at a time, `recv!` asserts the exact segments `dispatch` emits
//! at a time (and that `poll_at` then lies in the future), `recv_nothing!`
//! that it emits none. Templates are filled with struct update syntax, so a
//! test reads like the segment diagrams of RFC 9293.

use super::*;
use crate::time::{Duration, Instant};
use crate::wire::{Ipv4Address, TcpControl, TcpRepr, TcpSeqNumber, TcpTimestampRepr};

const LOCAL_PORT: u16 = 80;
const REMOTE_PORT: u16 = 49500;
const LOCAL_SEQ: TcpSeqNumber = TcpSeqNumber(10_000);
/// Close to 2^32, so tests cross the sequence number wrap.
const REMOTE_SEQ: TcpSeqNumber = TcpSeqNumber(-1_000);
const MSS: usize = 1460;
/// Our window in the default test config (no scaling).
const WIN: u16 = 32768;

const TUPLE: FourTuple = FourTuple {
    local: SocketAddr {
        addr: Ipv4Address([10, 0, 0, 1]),
        port: LOCAL_PORT,
    },
    remote: SocketAddr {
        addr: Ipv4Address([10, 0, 0, 2]),
        port: REMOTE_PORT,
    },
};

/// A segment from the peer.
const SEND_TEMPL: TcpRepr<'static> = TcpRepr {
    src_port: REMOTE_PORT,
    dst_port: LOCAL_PORT,
    control: TcpControl::None,
    seq_number: TcpSeqNumber(0),
    ack_number: Some(TcpSeqNumber(0)),
    window_len: 64000,
    window_scale: None,
    max_seg_size: None,
    sack_permitted: false,
    sack_ranges: [None; 4],
    timestamp: None,
    payload: &[],
};

/// A segment from us.
const RECV_TEMPL: TcpRepr<'static> = TcpRepr {
    src_port: LOCAL_PORT,
    dst_port: REMOTE_PORT,
    control: TcpControl::None,
    seq_number: TcpSeqNumber(0),
    ack_number: Some(TcpSeqNumber(0)),
    window_len: WIN,
    window_scale: None,
    max_seg_size: None,
    sack_permitted: false,
    sack_ranges: [None; 4],
    timestamp: None,
    payload: &[],
};

/// Options off, 32 KiB buffers: windows are plain numbers.
fn config() -> TcpConfig {
    TcpConfig {
        recv_buffer: usize::from(WIN),
        send_buffer: 64 * 1024,
        window_scaling: false,
        timestamps: false,
        sack: false,
        ..TcpConfig::default()
    }
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Run `dispatch` until it has nothing more, collecting the segments
/// (payloads leaked: tests only). Checks the `poll_at` contract after.
fn dispatch_all(s: &mut TcpSocket, now: Instant) -> Vec<TcpRepr<'static>> {
    let mut out = Vec::new();
    loop {
        let mut seg = None;
        let sent = s
            .dispatch(now, |repr| {
                let payload: &'static [u8] = Box::leak(repr.payload.to_vec().into_boxed_slice());
                seg = Some(TcpRepr { payload, ..*repr });
                Ok::<(), ()>(())
            })
            .expect("emit never fails here");
        if !sent {
            break;
        }
        out.push(seg.expect("dispatch said it sent"));
        assert!(out.len() < 1000, "dispatch does not stop");
    }
    if let Some(when) = s.poll_at() {
        assert!(
            when > now,
            "poll_at {when} is not after now {now} although dispatch had nothing to send"
        );
    }
    out
}

macro_rules! send {
    ($s:expr, time $t:expr, $seg:expr) => {
        send!($s, time $t, $seg => None)
    };
    ($s:expr, time $t:expr, $seg:expr => $reply:expr) => {{
        let seg: TcpRepr<'_> = $seg;
        let reply = $s.process(at($t), &seg);
        assert_eq!(reply, $reply, "reply to {}", seg);
    }};
}

macro_rules! recv {
    ($s:expr, time $t:expr, [$($seg:expr),* $(,)?]) => {{
        let got = dispatch_all(&mut $s, at($t));
        let want: Vec<TcpRepr<'static>> = vec![$($seg),*];
        assert_eq!(got, want, "segments emitted at {} ms", $t);
    }};
}

macro_rules! recv_nothing {
    ($s:expr, time $t:expr) => {
        recv!($s, time $t, [])
    };
}

fn recv_all(s: &mut TcpSocket) -> Vec<u8> {
    let mut out = vec![0; 1 << 20];
    let n = s.recv_slice(&mut out).unwrap_or(0);
    out.truncate(n);
    out
}

fn syn() -> TcpRepr<'static> {
    TcpRepr {
        control: TcpControl::Syn,
        seq_number: REMOTE_SEQ,
        ack_number: None,
        max_seg_size: Some(MSS as u16),
        ..SEND_TEMPL
    }
}

fn synack() -> TcpRepr<'static> {
    TcpRepr {
        control: TcpControl::Syn,
        seq_number: LOCAL_SEQ,
        ack_number: Some(REMOTE_SEQ + 1),
        max_seg_size: Some(MSS as u16),
        ..RECV_TEMPL
    }
}

// ----- fixtures -----

fn socket_syn_received_with(config: &TcpConfig) -> TcpSocket {
    let mut s = TcpSocket::accept_syn(config, TUPLE, &syn(), LOCAL_SEQ, at(0));
    assert_eq!(s.state(), State::SynReceived);
    let out = dispatch_all(&mut s, at(0));
    assert_eq!(out.len(), 1);
    s
}

fn socket_syn_received() -> TcpSocket {
    socket_syn_received_with(&config())
}

fn socket_established_with(config: &TcpConfig) -> TcpSocket {
    let mut s = socket_syn_received_with(config);
    send!(s, time 0, TcpRepr { seq_number: REMOTE_SEQ + 1, ack_number: Some(LOCAL_SEQ + 1), ..SEND_TEMPL });
    assert_eq!(s.state(), State::Established);
    // Steady state: quick-ACK mode over.
    s.quickack = 0;
    s.take_wakeup();
    s
}

/// ESTABLISHED, nothing in flight, SRTT 0 so the RTO is `rto_min` (200 ms).
fn socket_established() -> TcpSocket {
    socket_established_with(&config())
}

fn socket_close_wait() -> TcpSocket {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { control: TcpControl::Fin, seq_number: REMOTE_SEQ + 1, ack_number: Some(LOCAL_SEQ + 1), ..SEND_TEMPL });
    assert_eq!(s.state(), State::CloseWait);
    recv!(s, time 40, [TcpRepr { seq_number: LOCAL_SEQ + 1, ack_number: Some(REMOTE_SEQ + 2), ..RECV_TEMPL }]);
    s
}

fn socket_last_ack() -> TcpSocket {
    let mut s = socket_close_wait();
    s.close();
    recv!(s, time 50, [TcpRepr { control: TcpControl::Fin, seq_number: LOCAL_SEQ + 1, ack_number: Some(REMOTE_SEQ + 2), ..RECV_TEMPL }]);
    assert_eq!(s.state(), State::LastAck);
    s
}

/// FIN-WAIT-1 with our FIN (seq LOCAL_SEQ + 1) sent at 0.
fn socket_fin_wait_1() -> TcpSocket {
    let mut s = socket_established();
    s.close();
    assert_eq!(s.state(), State::FinWait1);
    recv!(s, time 0, [TcpRepr { control: TcpControl::Fin, seq_number: LOCAL_SEQ + 1, ack_number: Some(REMOTE_SEQ + 1), ..RECV_TEMPL }]);
    s
}

fn socket_fin_wait_2() -> TcpSocket {
    let mut s = socket_fin_wait_1();
    send!(s, time 10, TcpRepr { seq_number: REMOTE_SEQ + 1, ack_number: Some(LOCAL_SEQ + 2), ..SEND_TEMPL });
    assert_eq!(s.state(), State::FinWait2);
    recv_nothing!(s, time 10);
    s
}

fn socket_closing() -> TcpSocket {
    let mut s = socket_fin_wait_1();
    send!(s, time 10, TcpRepr { control: TcpControl::Fin, seq_number: REMOTE_SEQ + 1, ack_number: Some(LOCAL_SEQ + 1), ..SEND_TEMPL });
    assert_eq!(s.state(), State::Closing);
    recv!(s, time 10, [TcpRepr { seq_number: LOCAL_SEQ + 2, ack_number: Some(REMOTE_SEQ + 2), ..RECV_TEMPL }]);
    s
}

/// TIME-WAIT entered at 20 ms.
fn socket_time_wait() -> TcpSocket {
    let mut s = socket_fin_wait_2();
    send!(s, time 20, TcpRepr { control: TcpControl::Fin, seq_number: REMOTE_SEQ + 1, ack_number: Some(LOCAL_SEQ + 2), ..SEND_TEMPL });
    assert_eq!(s.state(), State::TimeWait);
    recv!(s, time 20, [TcpRepr { seq_number: LOCAL_SEQ + 2, ack_number: Some(REMOTE_SEQ + 2), ..RECV_TEMPL }]);
    s
}

fn socket_syn_sent() -> TcpSocket {
    let mut s = TcpSocket::connect(&config(), TUPLE, LOCAL_SEQ, at(0));
    assert_eq!(s.state(), State::SynSent);
    recv!(s, time 0, [TcpRepr {
        control: TcpControl::Syn,
        seq_number: LOCAL_SEQ,
        ack_number: None,
        max_seg_size: Some(MSS as u16),
        ..RECV_TEMPL
    }]);
    s
}

/// A data segment from the peer at `offset` bytes into its stream.
fn data(offset: usize, payload: &'static [u8]) -> TcpRepr<'static> {
    TcpRepr {
        seq_number: REMOTE_SEQ + 1 + offset,
        ack_number: Some(LOCAL_SEQ + 1),
        payload,
        ..SEND_TEMPL
    }
}

/// Our ACK of `offset` bytes of the peer's stream.
fn ack_of(offset: usize) -> TcpRepr<'static> {
    TcpRepr {
        seq_number: LOCAL_SEQ + 1,
        ack_number: Some(REMOTE_SEQ + 1 + offset),
        ..RECV_TEMPL
    }
}

/// The peer's ACK of `offset` bytes of our stream.
fn peer_ack(offset: usize) -> TcpRepr<'static> {
    TcpRepr {
        seq_number: REMOTE_SEQ + 1,
        ack_number: Some(LOCAL_SEQ + 1 + offset),
        ..SEND_TEMPL
    }
}

/// Our data segment at `offset` bytes into our stream.
fn our_data(offset: usize, payload: &'static [u8]) -> TcpRepr<'static> {
    TcpRepr {
        seq_number: LOCAL_SEQ + 1 + offset,
        ack_number: Some(REMOTE_SEQ + 1),
        payload,
        ..RECV_TEMPL
    }
}

fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

// ===== passive open =====

#[test]
fn listen_syn_sends_synack() {
    let mut s = TcpSocket::accept_syn(&config(), TUPLE, &syn(), LOCAL_SEQ, at(0));
    recv!(s, time 0, [synack()]);
    recv_nothing!(s, time 1);
}

#[test]
fn listen_syn_sends_synack_with_options() {
    let config = TcpConfig::default();
    let syn = TcpRepr {
        max_seg_size: Some(1400),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some(TcpTimestampRepr::new(777, 0)),
        ..syn()
    };
    let mut s = TcpSocket::accept_syn(&config, TUPLE, &syn, LOCAL_SEQ, at(5));
    let offset = s.timestamps.expect("timestamps negotiated").offset;
    recv!(s, time 5, [TcpRepr {
        // 256 KiB needs shift 3 to be advertised whole (RFC 7323 §2.3);
        // the SYN-ACK's own window is unscaled.
        window_len: 65535,
        window_scale: Some(3),
        sack_permitted: true,
        timestamp: Some(TcpTimestampRepr::new(5u32.wrapping_add(offset), 777)),
        ..synack()
    }]);
    assert_eq!(s.snd_mss, 1400);
    assert_eq!(s.snd_wscale, 7);
    assert!(s.sack_ok);
}

#[test]
fn listen_syn_without_options_uses_defaults() {
    let config = TcpConfig::default();
    let syn = TcpRepr {
        max_seg_size: None,
        ..syn()
    };
    let mut s = TcpSocket::accept_syn(&config, TUPLE, &syn, LOCAL_SEQ, at(0));
    // No window scale, SACK or timestamps offered: none in the SYN-ACK, and
    // the window is capped at 65535 (RFC 7323 §2.2).
    recv!(s, time 0, [TcpRepr { window_len: 65535, ..synack() }]);
    // RFC 9293 §3.7.1: 536 when the peer sent no MSS.
    assert_eq!(s.snd_mss, 536);
    assert!(s.timestamps.is_none());
    assert!(!s.sack_ok);
}

#[test]
fn syn_received_ack_completes_handshake() {
    let mut s = socket_syn_received();
    send!(s, time 10, TcpRepr { seq_number: REMOTE_SEQ + 1, ack_number: Some(LOCAL_SEQ + 1), ..SEND_TEMPL });
    assert_eq!(s.state(), State::Established);
    assert!(s.take_wakeup());
    recv_nothing!(s, time 10);
    assert_eq!(s.poll_at(), None);
    // The handshake gave an RTT sample of 10 ms: RTO = rto_min.
    assert_eq!(s.rto(), Duration::from_millis(200));
}

#[test]
fn syn_received_ack_with_data_completes_handshake_and_delivers() {
    let mut s = socket_syn_received();
    send!(s, time 10, TcpRepr { payload: b"GET /", ..data(0, b"") });
    assert_eq!(s.state(), State::Established);
    assert_eq!(recv_all(&mut s), b"GET /");
    // Quick-ACK mode just after the handshake. Reading 5 bytes does not
    // move the right edge (less than an MSS).
    recv!(s, time 10, [TcpRepr { window_len: WIN - 5, ..ack_of(5) }]);
}

#[test]
fn syn_received_synack_retransmits_with_backoff() {
    let mut s = socket_syn_received();
    recv_nothing!(s, time 999);
    recv!(s, time 1000, [synack()]);
    recv_nothing!(s, time 2999);
    recv!(s, time 3000, [synack()]);
    recv!(s, time 7000, [synack()]);
    recv!(s, time 15000, [synack()]);
}

#[test]
fn syn_received_gives_up_after_synack_retries() {
    let mut s = socket_syn_received();
    // RFC 6298 §5.5 backoff from 1 s: retransmissions at 1, 3, 7, 15, 31 s.
    for t in [1000, 3000, 7000, 15000, 31000] {
        recv!(s, time t, [synack()]);
    }
    recv_nothing!(s, time 62999);
    assert_eq!(s.state(), State::SynReceived);
    // A half-open connection is dropped without a RST.
    recv_nothing!(s, time 63000);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.take_error(), Some(TcpError::TimedOut));
    assert_eq!(s.poll_at(), None);
}

#[test]
fn syn_received_duplicate_syn_resends_synack() {
    let mut s = socket_syn_received();
    send!(s, time 100, syn());
    recv!(s, time 100, [synack()]);
    recv_nothing!(s, time 101);
}

#[test]
fn syn_received_rst_closes() {
    let mut s = socket_syn_received();
    send!(s, time 10, TcpRepr { control: TcpControl::Rst, seq_number: REMOTE_SEQ + 1, ack_number: None, ..SEND_TEMPL });
    assert_eq!(s.state(), State::Closed);
    recv_nothing!(s, time 10);
}

#[test]
fn syn_received_unacceptable_ack_sends_rst() {
    let mut s = socket_syn_received();
    send!(s, time 10, TcpRepr { seq_number: REMOTE_SEQ + 1, ack_number: Some(LOCAL_SEQ + 100), ..SEND_TEMPL }
    => Some(TcpRepr {
        control: TcpControl::Rst,
        seq_number: LOCAL_SEQ + 100,
        ack_number: None,
        window_len: 0,
        ..RECV_TEMPL
    }));
    assert_eq!(s.state(), State::SynReceived);
}

#[test]
fn syn_received_close_sends_fin_once_established() {
    let mut s = socket_syn_received();
    s.close();
    assert_eq!(s.state(), State::SynReceived);
    send!(s, time 10, peer_ack(0));
    assert_eq!(s.state(), State::FinWait1);
    recv!(s, time 10, [TcpRepr { control: TcpControl::Fin, ..our_data(0, b"") }]);
}

// ===== active open =====

#[test]
fn syn_sent_synack_establishes() {
    let mut s = socket_syn_sent();
    send!(s, time 30, TcpRepr {
        control: TcpControl::Syn,
        seq_number: REMOTE_SEQ,
        ack_number: Some(LOCAL_SEQ + 1),
        max_seg_size: Some(1000),
        ..SEND_TEMPL
    });
    assert_eq!(s.state(), State::Established);
    recv!(s, time 30, [ack_of(0)]);
    assert_eq!(s.snd_mss, 1000);
    assert_eq!(s.rtt.srtt(), Some(Duration::from_millis(30)));
}

#[test]
fn syn_sent_rst_with_ack_is_refused() {
    let mut s = socket_syn_sent();
    send!(s, time 10, TcpRepr { control: TcpControl::Rst, seq_number: TcpSeqNumber(0), ack_number: Some(LOCAL_SEQ + 1), ..SEND_TEMPL });
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.take_error(), Some(TcpError::Refused));
    recv_nothing!(s, time 10);
}

#[test]
fn syn_sent_rst_without_ack_is_ignored() {
    let mut s = socket_syn_sent();
    send!(s, time 10, TcpRepr { control: TcpControl::Rst, seq_number: TcpSeqNumber(0), ack_number: None, ..SEND_TEMPL });
    assert_eq!(s.state(), State::SynSent);
}

#[test]
fn syn_sent_bad_ack_sends_rst() {
    let mut s = socket_syn_sent();
    send!(s, time 10, TcpRepr { control: TcpControl::Syn, seq_number: REMOTE_SEQ, ack_number: Some(LOCAL_SEQ + 5), ..SEND_TEMPL }
        => Some(TcpRepr { control: TcpControl::Rst, seq_number: LOCAL_SEQ + 5, ack_number: None, window_len: 0, ..RECV_TEMPL }));
    assert_eq!(s.state(), State::SynSent);
}

#[test]
fn syn_sent_simultaneous_open() {
    let mut s = socket_syn_sent();
    // RFC 9293 Figure 8: both sides send SYN.
    send!(s, time 10, TcpRepr { max_seg_size: Some(MSS as u16), ..syn() });
    assert_eq!(s.state(), State::SynReceived);
    recv!(s, time 10, [synack()]);
    // The peer's SYN-ACK repeats its SYN.
    send!(s, time 20, TcpRepr {
        control: TcpControl::Syn,
        seq_number: REMOTE_SEQ,
        ack_number: Some(LOCAL_SEQ + 1),
        max_seg_size: Some(MSS as u16),
        ..SEND_TEMPL
    });
    assert_eq!(s.state(), State::Established);
    recv_nothing!(s, time 20);
}

#[test]
fn syn_sent_retransmits_then_times_out() {
    let mut s = socket_syn_sent();
    let syn_seg = TcpRepr {
        control: TcpControl::Syn,
        seq_number: LOCAL_SEQ,
        ack_number: None,
        max_seg_size: Some(MSS as u16),
        ..RECV_TEMPL
    };
    let mut t = 0;
    for i in 0..6 {
        t += 1000 << i;
        recv!(s, time t, [syn_seg]);
    }
    t += 1000 << 6;
    recv_nothing!(s, time t);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.take_error(), Some(TcpError::TimedOut));
}

#[test]
fn syn_lost_gives_initial_window_of_one_segment() {
    let mut s = socket_syn_received();
    recv!(s, time 1000, [synack()]);
    send!(s, time 1010, peer_ack(0));
    assert_eq!(s.cwnd(), MSS);
    // RFC 6298 §5.7: no sample (Karn) and a lost SYN-ACK: RTO 3 s.
    assert_eq!(s.rto(), Duration::from_secs(3));
}

// ===== receiving =====

#[test]
fn established_in_order_data_acked_after_delay() {
    let mut s = socket_established();
    send!(s, time 0, data(0, b"abcdef"));
    assert!(s.take_wakeup());
    recv_nothing!(s, time 0);
    assert_eq!(s.poll_at(), Some(at(40)));
    recv_nothing!(s, time 39);
    recv!(s, time 40, [TcpRepr { window_len: WIN - 6, ..ack_of(6) }]);
    assert_eq!(recv_all(&mut s), b"abcdef");
}

#[test]
fn established_delayed_ack_zero_acks_every_segment() {
    let mut s = socket_established_with(&TcpConfig {
        delayed_ack: Duration::ZERO,
        ..config()
    });
    send!(s, time 0, data(0, b"abcdef"));
    recv!(s, time 0, [TcpRepr { window_len: WIN - 6, ..ack_of(6) }]);
}

#[test]
fn established_second_full_segment_acked_immediately() {
    let mut s = socket_established();
    let seg = leak(pattern(MSS));
    send!(s, time 0, data(0, seg));
    recv_nothing!(s, time 0);
    send!(s, time 5, data(MSS, seg));
    recv!(s, time 5, [TcpRepr { window_len: WIN - 2 * MSS as u16, ..ack_of(2 * MSS) }]);
    recv_nothing!(s, time 100);
}

#[test]
fn established_quickack_acks_first_segments_immediately() {
    let mut s = socket_established();
    s.quickack = 2;
    send!(s, time 0, data(0, b"a"));
    recv!(s, time 0, [TcpRepr { window_len: WIN - 1, ..ack_of(1) }]);
    send!(s, time 1, data(1, b"b"));
    recv!(s, time 1, [TcpRepr { window_len: WIN - 2, ..ack_of(2) }]);
    send!(s, time 2, data(2, b"c"));
    recv_nothing!(s, time 2);
    recv!(s, time 42, [TcpRepr { window_len: WIN - 3, ..ack_of(3) }]);
}

#[test]
fn established_out_of_order_acked_immediately_and_reassembled() {
    let mut s = socket_established();
    send!(s, time 0, data(6, b"ghijkl"));
    // RFC 5681 §4.2: an out-of-order segment is acknowledged at once (a
    // duplicate ACK). The window still counts from RCV.NXT.
    recv!(s, time 0, [ack_of(0)]);
    assert!(!s.can_recv());
    send!(s, time 1, data(0, b"abcdef"));
    // Filling the hole is acknowledged at once too.
    recv!(s, time 1, [TcpRepr { window_len: WIN - 12, ..ack_of(12) }]);
    assert_eq!(recv_all(&mut s), b"abcdefghijkl");
}

#[test]
fn established_out_of_order_reports_sack_blocks() {
    let mut s = socket_established_with(&TcpConfig {
        sack: true,
        ..config()
    });
    // The fixture's SYN had no SACK-permitted; pretend it had.
    s.sack_ok = true;
    send!(s, time 0, data(10, b"kl"));
    let base = (REMOTE_SEQ + 1).to_u32();
    recv!(s, time 0, [TcpRepr { sack_ranges: [Some((base + 10, base + 12)), None, None, None], ..ack_of(0) }]);
    send!(s, time 1, data(20, b"uv"));
    // The newest block first (RFC 2018 §4).
    recv!(s, time 1, [TcpRepr {
        sack_ranges: [Some((base + 20, base + 22)), Some((base + 10, base + 12)), None, None],
        ..ack_of(0)
    }]);
    send!(s, time 2, data(0, b"abcdefghij"));
    recv!(s, time 2, [TcpRepr {
        window_len: WIN - 12,
        sack_ranges: [Some((base + 20, base + 22)), None, None, None],
        ..ack_of(12)
    }]);
}

#[test]
fn established_duplicate_segment_acked() {
    let mut s = socket_established();
    send!(s, time 0, data(0, b"abc"));
    recv!(s, time 40, [TcpRepr { window_len: WIN - 3, ..ack_of(3) }]);
    // A retransmission of data we have: unacceptable, ACK at once.
    send!(s, time 50, data(0, b"abc"));
    recv!(s, time 50, [TcpRepr { window_len: WIN - 3, ..ack_of(3) }]);
    assert_eq!(recv_all(&mut s), b"abc");
}

#[test]
fn established_partial_overlap_trimmed() {
    let mut s = socket_established();
    send!(s, time 0, data(0, b"abc"));
    send!(s, time 1, data(1, b"bcdef"));
    assert_eq!(recv_all(&mut s), b"abcdef");
}

#[test]
fn established_data_beyond_window_trimmed() {
    let mut s = socket_established();
    let big = leak(pattern(usize::from(WIN) + 100));
    send!(s, time 0, data(0, big));
    assert_eq!(s.recv_queue(), usize::from(WIN));
    recv!(s, time 0, [TcpRepr { window_len: 0, ..ack_of(usize::from(WIN)) }]);
    // Zero window: new data is not accepted, but is answered.
    send!(s, time 1, data(usize::from(WIN), b"x"));
    recv!(s, time 1, [TcpRepr { window_len: 0, ..ack_of(usize::from(WIN)) }]);
    assert_eq!(recv_all(&mut s), &big[..usize::from(WIN)]);
}

#[test]
fn established_window_update_on_recv() {
    let mut s = socket_established();
    let chunk = leak(pattern(20000));
    send!(s, time 0, data(0, chunk));
    recv!(s, time 0, [TcpRepr { window_len: WIN - 20000, ..ack_of(20000) }]);
    // Reading a little opens the window by less than an MSS: no update
    // (receiver SWS avoidance, RFC 9293 §3.8.6.2.2).
    let mut buf = [0; 1000];
    assert_eq!(s.recv_slice(&mut buf), Ok(1000));
    recv_nothing!(s, time 1);
    // Reading the rest doubles what the peer sees: update at once.
    assert_eq!(recv_all(&mut s).len(), 19000);
    recv!(s, time 2, [TcpRepr { window_len: WIN, ..ack_of(20000) }]);
}

#[test]
fn established_window_never_shrinks() {
    let mut s = socket_established();
    send!(s, time 0, data(0, leak(pattern(30000))));
    recv!(s, time 0, [TcpRepr { window_len: WIN - 30000, ..ack_of(30000) }]);
    // Read 100 bytes: the edge may not move by less than an MSS, and must
    // not move left: the window stays at what is left of the old one.
    let mut buf = [0; 100];
    s.recv_slice(&mut buf).unwrap();
    send!(s, time 1, data(30000, b"z"));
    recv!(s, time 41, [TcpRepr { window_len: WIN - 30001, ..ack_of(30001) }]);
}

#[test]
fn established_fin_out_of_order_waits_for_hole() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { control: TcpControl::Fin, ..data(3, b"def") });
    recv!(s, time 0, [ack_of(0)]);
    assert_eq!(s.state(), State::Established);
    send!(s, time 1, data(0, b"abc"));
    assert_eq!(s.state(), State::CloseWait);
    assert_eq!(recv_all(&mut s), b"abcdef");
    assert_eq!(s.recv_slice(&mut [0; 8]), Err(RecvError::Finished));
}
