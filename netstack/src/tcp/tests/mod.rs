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
    // The FIN takes a sequence number but no buffer space; the right edge
    // does not move for one byte.
    recv!(s, time 40, [TcpRepr { seq_number: LOCAL_SEQ + 1, ack_number: Some(REMOTE_SEQ + 2), window_len: WIN - 1, ..RECV_TEMPL }]);
    s
}

fn socket_last_ack() -> TcpSocket {
    let mut s = socket_close_wait();
    s.close();
    recv!(s, time 50, [TcpRepr { control: TcpControl::Fin, seq_number: LOCAL_SEQ + 1, ack_number: Some(REMOTE_SEQ + 2), window_len: WIN - 1, ..RECV_TEMPL }]);
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
    recv!(s, time 10, [TcpRepr { seq_number: LOCAL_SEQ + 2, ack_number: Some(REMOTE_SEQ + 2), window_len: WIN - 1, ..RECV_TEMPL }]);
    s
}

/// TIME-WAIT entered at 20 ms.
fn socket_time_wait() -> TcpSocket {
    let mut s = socket_fin_wait_2();
    send!(s, time 20, TcpRepr { control: TcpControl::Fin, seq_number: REMOTE_SEQ + 1, ack_number: Some(LOCAL_SEQ + 2), ..SEND_TEMPL });
    assert_eq!(s.state(), State::TimeWait);
    recv!(s, time 20, [TcpRepr { seq_number: LOCAL_SEQ + 2, ack_number: Some(REMOTE_SEQ + 2), window_len: WIN - 1, ..RECV_TEMPL }]);
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

// ===== sending =====

#[test]
fn established_send_data_and_ack() {
    let mut s = socket_established();
    assert_eq!(s.send_slice(b"abcdef"), Ok(6));
    recv!(s, time 0, [our_data(0, b"abcdef")]);
    assert_eq!(s.send_queue(), 6);
    send!(s, time 10, peer_ack(6));
    assert_eq!(s.send_queue(), 0);
    assert!(s.take_wakeup(), "send space freed");
    recv_nothing!(s, time 10);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn established_send_with_writes_into_buffer() {
    let mut s = socket_established();
    let r = s.send_with(|buf| {
        buf[..5].copy_from_slice(b"hello");
        (5, 42)
    });
    assert_eq!(r, Ok(42));
    recv!(s, time 0, [our_data(0, b"hello")]);
}

#[test]
fn established_data_acks_piggyback() {
    let mut s = socket_established();
    send!(s, time 0, data(0, b"GET"));
    s.send_slice(b"200").unwrap();
    recv!(s, time 1, [TcpRepr { ack_number: Some(REMOTE_SEQ + 4), window_len: WIN - 3, ..our_data(0, b"200") }]);
    // The delayed ACK was carried: nothing more at the deadline.
    recv_nothing!(s, time 40);
}

#[test]
fn established_nagle_holds_small_segment() {
    let mut s = socket_established();
    s.send_slice(b"a").unwrap();
    recv!(s, time 0, [our_data(0, b"a")]);
    s.send_slice(b"b").unwrap();
    s.send_slice(b"c").unwrap();
    // RFC 9293 §3.7.4: a small segment waits while data is unacknowledged.
    recv_nothing!(s, time 1);
    send!(s, time 10, peer_ack(1));
    recv!(s, time 10, [our_data(1, b"bc")]);
}

#[test]
fn established_nagle_sends_tail_of_a_whole_response_at_once() {
    let mut s = socket_established();
    let response = pattern(3000);
    s.send_slice(&response).unwrap();
    // Minshall's Nagle: no short segment is unacknowledged, so the tail
    // goes with the full segments (no wait for the peer's delayed ACK).
    recv!(s, time 0, [
        our_data(0, leak(response[..MSS].to_vec())),
        our_data(MSS, leak(response[MSS..2 * MSS].to_vec())),
        our_data(2 * MSS, leak(response[2 * MSS..].to_vec()))
    ]);
    // A second short write waits while that short tail is unacknowledged.
    s.send_slice(b"more").unwrap();
    send!(s, time 5, peer_ack(2 * MSS));
    recv_nothing!(s, time 5);
    send!(s, time 6, peer_ack(3000));
    recv!(s, time 6, [our_data(3000, b"more")]);
}

#[test]
fn established_nodelay_sends_small_segment() {
    let mut s = socket_established();
    s.set_nodelay(true);
    s.send_slice(b"a").unwrap();
    recv!(s, time 0, [our_data(0, b"a")]);
    s.send_slice(b"b").unwrap();
    recv!(s, time 1, [our_data(1, b"b")]);
}

#[test]
fn established_fin_is_never_held_by_nagle() {
    let mut s = socket_established();
    s.send_slice(b"a").unwrap();
    recv!(s, time 0, [our_data(0, b"a")]);
    s.send_slice(b"b").unwrap();
    s.close();
    recv!(s, time 1, [TcpRepr { control: TcpControl::Fin, ..our_data(1, b"b") }]);
}

#[test]
fn established_initial_window_is_ten_segments() {
    let mut s = socket_established();
    let bulk = pattern(30 * MSS);
    s.send_slice(&bulk).unwrap();
    let out = dispatch_all(&mut s, at(0));
    // RFC 6928: min(10*MSS, max(2*MSS, 14600)).
    assert_eq!(out.len(), 10);
    assert!(out.iter().all(|seg| seg.payload.len() == MSS));
    // Slow start: an ACK of two segments opens the window by two (RFC 3465 L=2).
    send!(s, time 10, peer_ack(2 * MSS));
    assert_eq!(s.cwnd(), 12 * MSS);
    let out = dispatch_all(&mut s, at(10));
    assert_eq!(out.len(), 4);
    assert_eq!(out[0].seq_number, LOCAL_SEQ + 1 + 10 * MSS);
}

#[test]
fn established_segments_limited_by_peer_mss() {
    let mut s = TcpSocket::accept_syn(
        &config(),
        TUPLE,
        &TcpRepr {
            max_seg_size: None,
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    recv!(s, time 0, [synack()]);
    send!(s, time 0, peer_ack(0));
    s.send_slice(&pattern(1000)).unwrap();
    let out = dispatch_all(&mut s, at(0));
    // RFC 9293 §3.7.1: 536 without an MSS option; the short tail goes too
    // (no other short segment is unacknowledged: Minshall's Nagle).
    assert_eq!(
        out.iter().map(|seg| seg.payload.len()).collect::<Vec<_>>(),
        [536, 464]
    );
}

#[test]
fn established_peer_window_respected() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { window_len: 1000, ..peer_ack(0) });
    s.send_slice(&pattern(3000)).unwrap();
    let out = dispatch_all(&mut s, at(1));
    // Nothing is in flight, so the window-limited short segment goes.
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload.len(), 1000);
    send!(s, time 10, TcpRepr { window_len: 1000, ..peer_ack(1000) });
    let out = dispatch_all(&mut s, at(10));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq_number, LOCAL_SEQ + 1001);
}

#[test]
fn established_peer_window_scale_respected() {
    let config = TcpConfig {
        window_scaling: true,
        ..config()
    };
    let mut s = TcpSocket::accept_syn(
        &config,
        TUPLE,
        &TcpRepr {
            window_scale: Some(2),
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    recv!(s, time 0, [TcpRepr { window_scale: Some(0), ..synack() }]);
    // RFC 7323 §2.2: windows after the SYN are scaled.
    send!(s, time 0, TcpRepr { window_len: 1000, ..peer_ack(0) });
    assert_eq!(s.snd_wnd, 4000);
    s.send_slice(&pattern(5000)).unwrap();
    let out = dispatch_all(&mut s, at(0));
    let sent: usize = out.iter().map(|seg| seg.payload.len()).sum();
    assert!(sent <= 4000);
    assert_eq!(out[0].payload.len(), MSS);
}

#[test]
fn established_our_window_is_scaled() {
    let config = TcpConfig {
        window_scaling: true,
        recv_buffer: 256 * 1024,
        ..config()
    };
    let mut s = TcpSocket::accept_syn(
        &config,
        TUPLE,
        &TcpRepr {
            window_scale: Some(0),
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    recv!(s, time 0, [TcpRepr { window_len: 65535, window_scale: Some(3), ..synack() }]);
    send!(s, time 0, peer_ack(0));
    send!(s, time 0, data(0, b"12345678"));
    // 256 KiB - 8 bytes, in units of 8.
    recv!(s, time 40, [TcpRepr { window_len: ((256 * 1024 - 8) >> 3) as u16, ..ack_of(8) }]);
}

// ===== retransmission =====

#[test]
fn established_rto_retransmits_with_backoff() {
    let mut s = socket_established();
    s.send_slice(b"abc").unwrap();
    recv!(s, time 0, [our_data(0, b"abc")]);
    recv_nothing!(s, time 199);
    recv!(s, time 200, [our_data(0, b"abc")]);
    recv_nothing!(s, time 599);
    recv!(s, time 600, [our_data(0, b"abc")]);
    recv_nothing!(s, time 1399);
    recv!(s, time 1400, [our_data(0, b"abc")]);
    send!(s, time 1500, peer_ack(3));
    assert_eq!(s.poll_at(), None);
}

#[test]
fn established_rto_goes_back_to_snd_una() {
    let mut s = socket_established();
    s.send_slice(&pattern(3 * MSS)).unwrap();
    assert_eq!(dispatch_all(&mut s, at(0)).len(), 3);
    send!(s, time 10, peer_ack(MSS));
    // The timer restarted at 10 (RFC 6298 §5.3); after it fires one
    // segment (cwnd = 1 MSS) goes, from SND.UNA.
    let out = dispatch_all(&mut s, at(210));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq_number, LOCAL_SEQ + 1 + MSS);
    assert_eq!(s.cwnd(), MSS);
}

#[test]
fn established_rto_aborts_after_retries2() {
    let mut s = socket_established();
    s.send_slice(b"abc").unwrap();
    recv!(s, time 0, [our_data(0, b"abc")]);
    for _ in 0..15 {
        let t = s.poll_at().unwrap().total_millis();
        recv!(s, time t, [our_data(0, b"abc")]);
    }
    let t = s.poll_at().unwrap().total_millis();
    recv!(s, time t, [TcpRepr { control: TcpControl::Rst, seq_number: LOCAL_SEQ + 4, window_len: 0, ..ack_of(0) }]);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.take_error(), Some(TcpError::TimedOut));
    assert_eq!(s.poll_at(), None);
    // Backoff is capped at rto_max (120 s).
    assert!(t < 15 * 120_000);
}

#[test]
fn established_karn_ignores_retransmitted_sample() {
    let mut s = socket_established();
    s.send_slice(b"abc").unwrap();
    recv!(s, time 0, [our_data(0, b"abc")]);
    recv!(s, time 200, [our_data(0, b"abc")]);
    // An ACK of a retransmitted segment is no sample (RFC 6298 §3), and the
    // backed-off RTO stays.
    send!(s, time 250, peer_ack(3));
    assert_eq!(s.rtt.srtt(), Some(Duration::ZERO));
    assert_eq!(s.rto(), Duration::from_millis(400));
    // A fresh segment gives a sample, which ends the backoff.
    s.send_slice(b"def").unwrap();
    recv!(s, time 300, [our_data(3, b"def")]);
    send!(s, time 400, peer_ack(6));
    assert_eq!(s.rtt.srtt(), Some(Duration::from_micros(12_500)));
    assert_eq!(s.rto(), Duration::from_millis(200));
}

#[test]
fn established_three_dupacks_fast_retransmit() {
    // The cwnd figures below are Reno's (ssthresh = FlightSize / 2).
    let mut s = socket_established_with(&TcpConfig {
        congestion: CongestionAlgorithm::Reno,
        ..config()
    });
    let bulk = pattern(5 * MSS);
    s.send_slice(&bulk).unwrap();
    assert_eq!(dispatch_all(&mut s, at(0)).len(), 5);
    send!(s, time 10, peer_ack(MSS));
    recv_nothing!(s, time 10);
    for t in [11, 12] {
        send!(s, time t, peer_ack(MSS));
        recv_nothing!(s, time t);
    }
    send!(s, time 13, peer_ack(MSS));
    // RFC 5681 §3.2: the third duplicate ACK retransmits at once.
    recv!(s, time 13, [our_data(MSS, leak(bulk[MSS..2 * MSS].to_vec()))]);
    // ssthresh = FlightSize/2 = 2 MSS, cwnd = ssthresh + 3 MSS.
    assert_eq!(s.cwnd(), 5 * MSS);
    // RFC 6582: a partial ACK retransmits the next hole.
    send!(s, time 20, peer_ack(2 * MSS));
    recv!(s, time 20, [our_data(2 * MSS, leak(bulk[2 * MSS..3 * MSS].to_vec()))]);
    // A full ACK ends recovery.
    send!(s, time 30, peer_ack(5 * MSS));
    assert!(s.recovery.is_none());
    assert_eq!(s.cwnd(), 2 * MSS);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn established_dupacks_with_window_change_are_not_duplicates() {
    let mut s = socket_established();
    s.send_slice(&pattern(5 * MSS)).unwrap();
    dispatch_all(&mut s, at(0));
    send!(s, time 10, peer_ack(MSS));
    for (t, win) in [(11, 60000), (12, 61000), (13, 62000)] {
        send!(s, time t, TcpRepr { window_len: win, ..peer_ack(MSS) });
    }
    recv_nothing!(s, time 13);
}

// ===== zero window =====

#[test]
fn established_zero_window_probe_with_backoff() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { window_len: 0, ..peer_ack(0) });
    s.send_slice(b"abcdef").unwrap();
    recv_nothing!(s, time 0);
    assert_eq!(s.poll_at(), Some(at(200)));
    // RFC 9293 §3.8.6.1: one byte past the zero window, backing off.
    recv!(s, time 200, [our_data(0, b"a")]);
    send!(s, time 210, TcpRepr { window_len: 0, ..peer_ack(0) });
    recv_nothing!(s, time 599);
    recv!(s, time 600, [our_data(0, b"a")]);
    recv_nothing!(s, time 1399);
    recv!(s, time 1400, [our_data(0, b"a")]);
    // The window opens: everything goes, from SND.UNA.
    send!(s, time 1500, peer_ack(0));
    recv!(s, time 1500, [our_data(0, b"abcdef")]);
}

#[test]
fn established_zero_window_probe_accepted() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { window_len: 0, ..peer_ack(0) });
    s.send_slice(b"abcdef").unwrap();
    recv_nothing!(s, time 0);
    recv!(s, time 200, [our_data(0, b"a")]);
    // The receiver had room for the probe after all.
    send!(s, time 210, TcpRepr { window_len: 100, ..peer_ack(1) });
    recv!(s, time 210, [our_data(1, b"bcdef")]);
}

#[test]
fn established_zero_window_stays_open_while_probes_answered() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { window_len: 0, ..peer_ack(0) });
    s.send_slice(b"abcdef").unwrap();
    dispatch_all(&mut s, at(0));
    for _ in 0..40 {
        let t = s.poll_at().unwrap().total_millis();
        recv!(s, time t, [our_data(0, b"a")]);
        send!(s, time t + 1, TcpRepr { window_len: 0, ..peer_ack(0) });
    }
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_zero_window_unanswered_probes_abort() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { window_len: 0, ..peer_ack(0) });
    s.send_slice(b"abcdef").unwrap();
    dispatch_all(&mut s, at(0));
    let mut probes = 0;
    while s.state() != State::Closed {
        let t = s.poll_at().unwrap();
        let out = dispatch_all(&mut s, t);
        if out.iter().any(|seg| seg.control == TcpControl::Rst) {
            break;
        }
        probes += out.len();
        assert!(probes < 100);
    }
    assert_eq!(probes, 15);
    assert_eq!(s.take_error(), Some(TcpError::TimedOut));
}

// ===== RST, SYN and ACK checks =====

fn rst(seq: TcpSeqNumber) -> TcpRepr<'static> {
    TcpRepr {
        control: TcpControl::Rst,
        seq_number: seq,
        ack_number: None,
        window_len: 0,
        ..SEND_TEMPL
    }
}

#[test]
fn established_rst_exact_seq_resets() {
    let mut s = socket_established();
    send!(s, time 0, rst(REMOTE_SEQ + 1));
    assert_eq!(s.state(), State::Closed);
    assert!(s.take_wakeup());
    assert_eq!(s.take_error(), Some(TcpError::Reset));
    recv_nothing!(s, time 0);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn established_rst_in_window_challenge_ack() {
    let mut s = socket_established();
    send!(s, time 0, rst(REMOTE_SEQ + 100));
    assert_eq!(s.state(), State::Established);
    // RFC 5961 §3.2: challenge ACK.
    recv!(s, time 0, [ack_of(0)]);
}

#[test]
fn established_rst_out_of_window_ignored() {
    let mut s = socket_established();
    send!(s, time 0, rst(REMOTE_SEQ + 100_000));
    send!(s, time 0, rst(REMOTE_SEQ - 5));
    assert_eq!(s.state(), State::Established);
    recv_nothing!(s, time 0);
}

#[test]
fn established_syn_challenge_ack() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { control: TcpControl::Syn, seq_number: REMOTE_SEQ + 50, ack_number: None, ..SEND_TEMPL });
    assert_eq!(s.state(), State::Established);
    // RFC 5961 §4.2.
    recv!(s, time 0, [ack_of(0)]);
}

#[test]
fn established_ack_of_unsent_data_is_acked_and_dropped() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { payload: b"xyz", ..peer_ack(100) });
    recv!(s, time 0, [ack_of(0)]);
    assert_eq!(s.recv_queue(), 0);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_very_old_ack_challenged() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { ack_number: Some(LOCAL_SEQ - 100_000), payload: b"xyz", ..data(0, b"") });
    // RFC 5961 §5.2: an ACK older than the largest window is challenged.
    recv!(s, time 0, [ack_of(0)]);
    assert_eq!(s.recv_queue(), 0);
}

#[test]
fn established_segment_without_ack_dropped() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { ack_number: None, ..data(0, b"abc") });
    assert_eq!(s.recv_queue(), 0);
}

// ===== closing =====

#[test]
fn established_fin_enters_close_wait() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { control: TcpControl::Fin, ..data(0, b"bye") });
    assert_eq!(s.state(), State::CloseWait);
    assert!(s.take_wakeup());
    // The ACK of a FIN waits (the application's FIN may carry it).
    recv_nothing!(s, time 0);
    recv!(s, time 40, [TcpRepr { window_len: WIN - 4, ..ack_of(4) }]);
    assert_eq!(recv_all(&mut s), b"bye");
    assert_eq!(s.recv_slice(&mut [0; 4]), Err(RecvError::Finished));
    assert!(s.may_send());
}

#[test]
fn close_wait_close_sends_fin_with_ack() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { control: TcpControl::Fin, ..data(0, b"") });
    s.close();
    assert_eq!(s.state(), State::LastAck);
    // One segment: our FIN carries the ACK of theirs.
    recv!(s, time 1, [TcpRepr { control: TcpControl::Fin, window_len: WIN - 1, ..ack_of(1) }]);
    recv_nothing!(s, time 40);
}

#[test]
fn close_wait_send_then_close() {
    let mut s = socket_close_wait();
    s.send_slice(b"data").unwrap();
    s.close();
    recv!(s, time 50, [TcpRepr { control: TcpControl::Fin, ack_number: Some(REMOTE_SEQ + 2), window_len: WIN - 1, ..our_data(0, b"data") }]);
}

#[test]
fn last_ack_ack_closes() {
    let mut s = socket_last_ack();
    send!(s, time 60, TcpRepr { seq_number: REMOTE_SEQ + 2, ..peer_ack(1) });
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.take_error(), None);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn last_ack_fin_retransmitted_on_rto() {
    let mut s = socket_last_ack();
    recv!(s, time 250, [TcpRepr { control: TcpControl::Fin, ack_number: Some(REMOTE_SEQ + 2), window_len: WIN - 1, ..our_data(0, b"") }]);
}

#[test]
fn established_close_sends_fin_after_data() {
    let mut s = socket_established();
    s.send_slice(b"abc").unwrap();
    s.close();
    assert_eq!(s.state(), State::FinWait1);
    assert_eq!(s.send_slice(b"x"), Err(SendError::InvalidState));
    recv!(s, time 0, [TcpRepr { control: TcpControl::Fin, ..our_data(0, b"abc") }]);
    send!(s, time 10, peer_ack(3));
    assert_eq!(s.state(), State::FinWait1);
    send!(s, time 11, peer_ack(4));
    assert_eq!(s.state(), State::FinWait2);
}

#[test]
fn established_close_sends_fin_after_window_limited_data() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { window_len: 2000, ..peer_ack(0) });
    s.send_slice(&pattern(3000)).unwrap();
    s.close();
    let out = dispatch_all(&mut s, at(0));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].control, TcpControl::None);
    send!(s, time 10, TcpRepr { window_len: 2000, ..peer_ack(MSS) });
    let out = dispatch_all(&mut s, at(10));
    assert_eq!(out.last().unwrap().control, TcpControl::Fin);
    assert_eq!(out.last().unwrap().seq_end(), LOCAL_SEQ + 1 + 3001);
}

#[test]
fn fin_wait_1_ack_enters_fin_wait_2() {
    let mut s = socket_fin_wait_1();
    send!(s, time 10, peer_ack(1));
    assert_eq!(s.state(), State::FinWait2);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn fin_wait_1_fin_retransmitted_on_rto() {
    let mut s = socket_fin_wait_1();
    recv!(s, time 200, [TcpRepr { control: TcpControl::Fin, ..our_data(0, b"") }]);
}

#[test]
fn fin_wait_1_fin_enters_closing() {
    let s = socket_closing();
    assert_eq!(s.state(), State::Closing);
}

#[test]
fn fin_wait_1_fin_with_ack_enters_time_wait() {
    let mut s = socket_fin_wait_1();
    send!(s, time 10, TcpRepr { control: TcpControl::Fin, ..peer_ack(1) });
    assert_eq!(s.state(), State::TimeWait);
    recv!(s, time 10, [TcpRepr { seq_number: LOCAL_SEQ + 2, window_len: WIN - 1, ..ack_of(1) }]);
}

#[test]
fn fin_wait_2_still_receives() {
    let mut s = socket_fin_wait_2();
    send!(s, time 20, TcpRepr { ack_number: Some(LOCAL_SEQ + 2), ..data(0, b"more") });
    assert_eq!(recv_all(&mut s), b"more");
}

#[test]
fn fin_wait_2_fin_enters_time_wait() {
    let s = socket_time_wait();
    assert_eq!(s.state(), State::TimeWait);
}

#[test]
fn fin_wait_2_stays_without_release() {
    let mut s = socket_fin_wait_2();
    assert_eq!(s.poll_at(), None);
    recv_nothing!(s, time 1_000_000);
    assert_eq!(s.state(), State::FinWait2);
}

#[test]
fn fin_wait_2_times_out_when_released() {
    let mut s = socket_fin_wait_2();
    s.release();
    recv_nothing!(s, time 100);
    assert_eq!(s.poll_at(), Some(at(60_100)));
    recv_nothing!(s, time 60_099);
    // Linux resets an orphan whose peer never closes.
    recv!(s, time 60_100, [TcpRepr { control: TcpControl::Rst, seq_number: LOCAL_SEQ + 2, window_len: 0, ..ack_of(0) }]);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn closing_ack_enters_time_wait() {
    let mut s = socket_closing();
    send!(s, time 20, TcpRepr { seq_number: REMOTE_SEQ + 2, ..peer_ack(1) });
    assert_eq!(s.state(), State::TimeWait);
}

#[test]
fn time_wait_expires_after_2msl() {
    let mut s = socket_time_wait();
    assert_eq!(s.poll_at(), Some(at(60_020)));
    recv_nothing!(s, time 60_019);
    assert_eq!(s.state(), State::TimeWait);
    recv_nothing!(s, time 60_020);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn time_wait_retransmitted_fin_reacked_and_timer_restarts() {
    let mut s = socket_time_wait();
    send!(s, time 30_000, TcpRepr { control: TcpControl::Fin, seq_number: REMOTE_SEQ + 1, ack_number: Some(LOCAL_SEQ + 2), ..SEND_TEMPL });
    recv!(s, time 30_000, [TcpRepr { seq_number: LOCAL_SEQ + 2, ack_number: Some(REMOTE_SEQ + 2), window_len: WIN - 1, ..RECV_TEMPL }]);
    assert_eq!(s.poll_at(), Some(at(90_000)));
    recv_nothing!(s, time 60_020);
    assert_eq!(s.state(), State::TimeWait);
    recv_nothing!(s, time 90_000);
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn time_wait_rst_ignored() {
    let mut s = socket_time_wait();
    send!(s, time 100, rst(REMOTE_SEQ + 2));
    // RFC 1337: no TIME-WAIT assassination.
    assert_eq!(s.state(), State::TimeWait);
}

#[test]
fn established_abort_sends_rst() {
    let mut s = socket_established();
    s.send_slice(b"abc").unwrap();
    recv!(s, time 0, [our_data(0, b"abc")]);
    s.abort();
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.poll_at(), Some(Instant::ZERO));
    recv!(s, time 1, [TcpRepr { control: TcpControl::Rst, seq_number: LOCAL_SEQ + 4, window_len: 0, ..ack_of(0) }]);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn established_release_with_unread_data_resets() {
    let mut s = socket_established();
    send!(s, time 0, data(0, b"unread"));
    s.release();
    assert_eq!(s.state(), State::Closed);
    recv!(s, time 1, [TcpRepr { control: TcpControl::Rst, seq_number: LOCAL_SEQ + 1, window_len: 0, ..ack_of(6) }]);
}

#[test]
fn fin_wait_released_data_resets_at_once() {
    let mut s = socket_fin_wait_2();
    s.release();
    // RFC 1122 §4.2.2.13: data for a socket nobody reads is answered with
    // a RST, returned by `process` so that it goes out even though the
    // socket is now closed and may be freed.
    send!(s, time 20, TcpRepr { ack_number: Some(LOCAL_SEQ + 2), ..data(0, b"late") }
        => Some(TcpRepr { control: TcpControl::Rst, seq_number: LOCAL_SEQ + 2, window_len: 0, ..ack_of(0) }));
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn fin_wait_released_discarding_data_is_acked_and_dropped() {
    let mut s = socket_fin_wait_2();
    s.release_discarding();
    // A lingering close: late input is acknowledged and thrown away, no RST.
    send!(s, time 20, TcpRepr { ack_number: Some(LOCAL_SEQ + 2), ..data(0, b"late") });
    assert_eq!(s.state(), State::FinWait2);
    assert_eq!(s.recv_queue(), 0);
    // Acknowledged like any in-order data (here by the delayed ACK).
    let out = dispatch_all(&mut s, at(60));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].control, TcpControl::None);
    assert_eq!(out[0].ack_number, Some(REMOTE_SEQ + 1 + 4));
    assert_eq!(s.take_counters().abort_on_data, 0);
}

#[test]
fn established_release_sends_fin() {
    let mut s = socket_established();
    s.release();
    assert_eq!(s.state(), State::FinWait1);
    recv!(s, time 0, [TcpRepr { control: TcpControl::Fin, ..our_data(0, b"") }]);
}

#[test]
fn closed_socket_answers_with_rst() {
    let mut s = socket_established();
    send!(s, time 0, rst(REMOTE_SEQ + 1));
    send!(s, time 1, data(0, b"x") => Some(TcpRepr { control: TcpControl::Rst, seq_number: LOCAL_SEQ + 1, ack_number: None, window_len: 0, ..RECV_TEMPL }));
}

// ===== options =====

fn ts_config() -> TcpConfig {
    TcpConfig {
        timestamps: true,
        ..config()
    }
}

#[test]
fn established_timestamps_on_every_segment() {
    let ts = |val, ecr| Some(TcpTimestampRepr::new(val, ecr));
    let mut s = TcpSocket::accept_syn(
        &ts_config(),
        TUPLE,
        &TcpRepr {
            timestamp: ts(100, 0),
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    let off = s.timestamps.unwrap().offset;
    recv!(s, time 0, [TcpRepr { timestamp: ts(off, 100), ..synack() }]);
    send!(s, time 10, TcpRepr { timestamp: ts(110, off), ..peer_ack(0) });
    assert_eq!(s.rtt.srtt(), Some(Duration::from_millis(10)));
    s.quickack = 0;
    send!(s, time 20, TcpRepr { timestamp: ts(120, off + 10), ..data(0, b"req") });
    // RFC 7323 §3.2: every segment carries TSval and echoes TS.Recent.
    recv!(s, time 60, [TcpRepr { window_len: WIN - 3, timestamp: ts(off + 60, 120), ..ack_of(3) }]);
    s.send_slice(b"resp").unwrap();
    recv!(s, time 70, [TcpRepr { ack_number: Some(REMOTE_SEQ + 4), window_len: WIN - 3, timestamp: ts(off + 70, 120), ..our_data(0, b"resp") }]);
    s.close();
    recv!(s, time 80, [TcpRepr {
        control: TcpControl::Fin,
        ack_number: Some(REMOTE_SEQ + 4),
        window_len: WIN - 3,
        timestamp: ts(off + 80, 120),
        ..our_data(4, b"")
    }]);
    // Segments are 12 bytes shorter to make room for the option.
    assert_eq!(s.max_payload_base(), MSS - 12);
}

#[test]
fn established_paws_drops_old_timestamp() {
    let ts = |val, ecr| Some(TcpTimestampRepr::new(val, ecr));
    let mut s = TcpSocket::accept_syn(
        &ts_config(),
        TUPLE,
        &TcpRepr {
            timestamp: ts(100, 0),
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    let off = s.timestamps.unwrap().offset;
    dispatch_all(&mut s, at(0));
    send!(s, time 10, TcpRepr { timestamp: ts(200, off), ..peer_ack(0) });
    // RFC 7323 §5.3: an older TSval is a wrapped old duplicate; ACK, drop.
    send!(s, time 20, TcpRepr { timestamp: ts(150, off), ..data(0, b"old") });
    assert_eq!(s.recv_queue(), 0);
    recv!(s, time 20, [TcpRepr { timestamp: ts(off + 20, 200), ..ack_of(0) }]);
}

#[test]
fn timestamps_not_used_unless_both_offer() {
    let mut s = TcpSocket::accept_syn(&ts_config(), TUPLE, &syn(), LOCAL_SEQ, at(0));
    recv!(s, time 0, [synack()]);
    assert!(s.timestamps.is_none());
    let mut s = TcpSocket::accept_syn(
        &config(),
        TUPLE,
        &TcpRepr {
            timestamp: Some(TcpTimestampRepr::new(1, 0)),
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    recv!(s, time 0, [synack()]);
}

// ===== application interface =====

#[test]
fn wakeup_on_each_app_visible_change() {
    let mut s = socket_established();
    assert!(!s.take_wakeup());
    send!(s, time 0, data(0, b"x"));
    assert!(s.take_wakeup(), "data arrived");
    assert!(!s.take_wakeup());
    s.send_slice(b"y").unwrap();
    dispatch_all(&mut s, at(0));
    send!(s, time 1, TcpRepr { ack_number: Some(LOCAL_SEQ + 2), ..data(1, b"") });
    assert!(s.take_wakeup(), "send space freed");
    send!(s, time 2, TcpRepr { control: TcpControl::Fin, ack_number: Some(LOCAL_SEQ + 2), ..data(1, b"") });
    assert!(s.take_wakeup(), "FIN");
}

#[test]
fn recv_and_send_state_errors() {
    let mut s = socket_syn_sent();
    assert_eq!(s.send_slice(b"x"), Err(SendError::InvalidState));
    assert_eq!(s.recv_slice(&mut [0; 4]), Err(RecvError::InvalidState));
    let mut s = socket_established();
    assert_eq!(s.recv_slice(&mut [0; 4]), Ok(0));
    assert!(s.can_send());
    assert!(s.may_recv());
    assert!(!s.can_recv());
}

#[test]
fn idle_connection_holds_no_buffer_memory() {
    let mut s = socket_established();
    send!(s, time 0, data(0, b"request"));
    recv_all(&mut s);
    s.send_slice(&pattern(5000)).unwrap();
    dispatch_all(&mut s, at(0));
    send!(s, time 10, TcpRepr { seq_number: REMOTE_SEQ + 8, ..peer_ack(3 * MSS) });
    dispatch_all(&mut s, at(10));
    send!(s, time 20, TcpRepr { seq_number: REMOTE_SEQ + 8, ..peer_ack(5000) });
    dispatch_all(&mut s, at(20));
    assert_eq!(
        (s.rx.allocated(), s.tx.allocated(), s.send_queue()),
        (0, 0, 0)
    );
    eprintln!(
        "size_of::<TcpSocket>() = {}",
        core::mem::size_of::<TcpSocket>()
    );
    // Budget for the control block of an idle connection (benches/idle_mem.sh
    // measures the whole cost per connection). About 200 bytes of it are the
    // per-connection copy of `TcpConfig`, which could become shared.
    assert!(core::mem::size_of::<TcpSocket>() <= 1600);
}

// ===== regressions found by the pair test =====

#[test]
fn established_ack_after_go_back_uses_highest_seq() {
    let mut s = socket_established();
    s.send_slice(&pattern(3 * MSS)).unwrap();
    assert_eq!(dispatch_all(&mut s, at(0)).len(), 3);
    // RTO: back to SND.UNA, one segment.
    assert_eq!(dispatch_all(&mut s, at(200)).len(), 1);
    // Data from the peer: our ACK must carry the highest sequence number
    // sent, or the peer (whose RCV.NXT may be past SND.UNA) finds it
    // unacceptable and answers with an ACK of its own: an ACK war.
    send!(s, time 201, TcpRepr { ack_number: Some(LOCAL_SEQ + 1), ..data(0, b"x") });
    recv!(s, time 241, [TcpRepr { seq_number: LOCAL_SEQ + 1 + 3 * MSS, window_len: WIN - 1, ..ack_of(1) }]);
}

#[test]
fn stale_timestamp_echo_is_no_rtt_sample() {
    let ts = |val, ecr| Some(TcpTimestampRepr::new(val, ecr));
    let mut s = TcpSocket::accept_syn(
        &ts_config(),
        TUPLE,
        &TcpRepr {
            timestamp: ts(100, 0),
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    let off = s.timestamps.unwrap().offset;
    dispatch_all(&mut s, at(0));
    send!(s, time 10, TcpRepr { timestamp: ts(110, off), ..peer_ack(0) });
    s.send_slice(b"abc").unwrap();
    dispatch_all(&mut s, at(20));
    dispatch_all(&mut s, at(220));
    // The ACK echoes the first transmission (sent at 20): it predates the
    // retransmission at 220, so it says nothing reliable about the RTT.
    send!(s, time 5000, TcpRepr { timestamp: ts(120, off + 20), ..peer_ack(3) });
    assert_eq!(s.rtt.srtt(), Some(Duration::from_millis(10)));
}

// ===== robustness: arbitrary input never panics =====

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Event {
        /// A segment from the peer; numbers relative to our RCV.NXT and
        /// SND.UNA when `near`, else absolute.
        Segment {
            near: bool,
            seq: i32,
            ack: Option<i32>,
            control: u8,
            window: u16,
            len: usize,
            wscale: Option<u8>,
            mss: Option<u16>,
            ts: Option<(u32, u32)>,
            sack: bool,
        },
        Send(usize),
        Recv(usize),
        Close,
        Abort,
        Release,
        NoDelay(bool),
        Wait(u64),
    }

    fn event() -> impl Strategy<Value = Event> {
        let segment = (
            any::<bool>(),
            prop_oneof![-70_000..70_000i32, any::<i32>()],
            proptest::option::weighted(0.9, prop_oneof![-70_000..70_000i32, any::<i32>()]),
            0u8..5,
            any::<u16>(),
            prop_oneof![Just(0usize), 1..100usize, 1000..3000usize],
            proptest::option::of(0u8..20),
            proptest::option::of(any::<u16>()),
            proptest::option::of((any::<u32>(), any::<u32>())),
            any::<bool>(),
        )
            .prop_map(
                |(near, seq, ack, control, window, len, wscale, mss, ts, sack)| Event::Segment {
                    near,
                    seq,
                    ack,
                    control,
                    window,
                    len,
                    wscale,
                    mss,
                    ts,
                    sack,
                },
            );
        prop_oneof![
            6 => segment,
            2 => (0usize..100_000).prop_map(Event::Send),
            2 => (0usize..100_000).prop_map(Event::Recv),
            1 => Just(Event::Close),
            1 => Just(Event::Release),
            1 => any::<bool>().prop_map(Event::NoDelay),
            3 => (0u64..300_000).prop_map(Event::Wait),
            1 => Just(Event::Abort),
        ]
    }

    fn start(kind: u8) -> TcpSocket {
        match kind {
            0 => socket_syn_received(),
            1 => socket_established(),
            2 => socket_syn_sent(),
            3 => socket_established_with(&TcpConfig::default()),
            4 => socket_fin_wait_2(),
            5 => socket_close_wait(),
            _ => {
                let syn = TcpRepr {
                    window_scale: Some(7),
                    sack_permitted: true,
                    timestamp: Some(TcpTimestampRepr::new(1, 0)),
                    ..syn()
                };
                let mut s =
                    TcpSocket::accept_syn(&TcpConfig::default(), TUPLE, &syn, LOCAL_SEQ, at(0));
                dispatch_all(&mut s, at(0));
                s
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_segments_and_calls_never_panic(kind in 0u8..7, events in proptest::collection::vec(event(), 1..80)) {
            static PAYLOAD: [u8; 3000] = [0x5a; 3000];
            let mut s = start(kind);
            let mut now = 0u64;
            for event in events {
                match event {
                    Event::Segment { near, seq, ack, control, window, len, wscale, mss, ts, sack } => {
                        let seq_number = if near { s.rcv_nxt + 0 } else { TcpSeqNumber(0) };
                        let seq_number = TcpSeqNumber(seq_number.0.wrapping_add(seq));
                        let ack_number = ack.map(|a| {
                            let base = if near { s.snd_una.0 } else { 0 };
                            TcpSeqNumber(base.wrapping_add(a))
                        });
                        let control = match control {
                            0 => TcpControl::None,
                            1 => TcpControl::Psh,
                            2 => TcpControl::Syn,
                            3 => TcpControl::Fin,
                            _ => TcpControl::Rst,
                        };
                        let seg = TcpRepr {
                            control,
                            seq_number,
                            ack_number,
                            window_len: window,
                            window_scale: wscale,
                            max_seg_size: mss,
                            sack_permitted: sack,
                            timestamp: ts.map(|(a, b)| TcpTimestampRepr::new(a, b)),
                            payload: &PAYLOAD[..len],
                            ..SEND_TEMPL
                        };
                        let _ = s.process(at(now), &seg);
                    }
                    Event::Send(n) => {
                        let _ = s.send_slice(&PAYLOAD[..n.min(PAYLOAD.len())]);
                    }
                    Event::Recv(n) => {
                        let mut buf = vec![0; n];
                        let _ = s.recv_slice(&mut buf);
                    }
                    Event::Close => s.close(),
                    Event::Abort => s.abort(),
                    Event::Release => s.release(),
                    Event::NoDelay(b) => s.set_nodelay(b),
                    Event::Wait(ms) => {
                        now += ms;
                        // Jump to the next deadline if it is sooner.
                        if let Some(t) = s.poll_at() {
                            now = now.min(t.total_millis().max(now.saturating_sub(ms)));
                        }
                    }
                }
                // dispatch_all checks that poll_at is in the future after.
                dispatch_all(&mut s, at(now));
                prop_assert!(s.rx.len() <= s.rx.capacity());
                prop_assert!(s.snd_una <= s.snd_max);
            }
        }
    }
}

#[test]
fn established_spurious_fast_retransmit_undone() {
    let ts = |val, ecr| Some(TcpTimestampRepr::new(val, ecr));
    let mut s = TcpSocket::accept_syn(
        &ts_config(),
        TUPLE,
        &TcpRepr {
            timestamp: ts(100, 0),
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    let off = s.timestamps.unwrap().offset;
    dispatch_all(&mut s, at(0));
    send!(s, time 10, TcpRepr { timestamp: ts(110, off), ..peer_ack(0) });
    let mss = MSS - 12;
    s.send_slice(&pattern(5 * mss)).unwrap();
    assert_eq!(dispatch_all(&mut s, at(100)).len(), 5);
    let cwnd = s.cwnd();
    // Segment 2 is late, not lost: three duplicate ACKs, fast retransmit.
    // One new ACK, then three duplicates.
    for t in [104, 105, 106, 107] {
        send!(s, time t, TcpRepr { timestamp: ts(120, off + 100), ..peer_ack(mss) });
    }
    assert_eq!(dispatch_all(&mut s, at(110)).len(), 1);
    assert!(s.cwnd() < cwnd);
    // Then it arrives: the ACK echoes the original transmission (sent at
    // 100), older than the retransmission (110). RFC 3522: spurious; undo.
    send!(s, time 111, TcpRepr { timestamp: ts(121, off + 100), ..peer_ack(5 * mss) });
    assert!(s.recovery.is_none());
    assert!(s.cwnd() >= cwnd);
}

#[test]
fn established_genuine_fast_retransmit_not_undone() {
    let ts = |val, ecr| Some(TcpTimestampRepr::new(val, ecr));
    let mut s = TcpSocket::accept_syn(
        &ts_config(),
        TUPLE,
        &TcpRepr {
            timestamp: ts(100, 0),
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    let off = s.timestamps.unwrap().offset;
    dispatch_all(&mut s, at(0));
    send!(s, time 10, TcpRepr { timestamp: ts(110, off), ..peer_ack(0) });
    let mss = MSS - 12;
    s.send_slice(&pattern(5 * mss)).unwrap();
    dispatch_all(&mut s, at(100));
    let cwnd = s.cwnd();
    // One new ACK, then three duplicates.
    for t in [104, 105, 106, 107] {
        send!(s, time t, TcpRepr { timestamp: ts(120, off + 100), ..peer_ack(mss) });
    }
    dispatch_all(&mut s, at(110));
    // The retransmission filled the hole: the ACK echoes its TSval.
    send!(s, time 121, TcpRepr { timestamp: ts(131, off + 110), ..peer_ack(5 * mss) });
    assert!(s.recovery.is_none());
    assert!(s.cwnd() < cwnd);
}

#[test]
fn established_rto_skips_sacked_data() {
    let config = TcpConfig {
        sack: true,
        ..config()
    };
    let mut s = TcpSocket::accept_syn(
        &config,
        TUPLE,
        &TcpRepr {
            sack_permitted: true,
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    recv!(s, time 0, [TcpRepr { sack_permitted: true, ..synack() }]);
    send!(s, time 0, peer_ack(0));
    let bulk = pattern(4 * MSS);
    s.send_slice(&bulk).unwrap();
    assert_eq!(dispatch_all(&mut s, at(0)).len(), 4);
    // Segments 1 and 2 are lost; the peer SACKs 3 and 4.
    let base = (LOCAL_SEQ + 1).to_u32();
    let sack = [
        Some((base + 2 * MSS as u32, base + 4 * MSS as u32)),
        None,
        None,
        None,
    ];
    send!(s, time 10, TcpRepr { sack_ranges: sack, ..peer_ack(0) });
    // RTO: the left edge goes again (RFC 2018 §8), one segment (cwnd 1).
    recv!(s, time 200, [our_data(0, leak(bulk[..MSS].to_vec()))]);
    // Then only the hole: the SACKed segments are skipped.
    send!(s, time 210, TcpRepr { sack_ranges: sack, ..peer_ack(MSS) });
    recv!(s, time 210, [our_data(MSS, leak(bulk[MSS..2 * MSS].to_vec()))]);
    send!(s, time 220, peer_ack(4 * MSS));
    assert_eq!(s.send_queue(), 0);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn established_sack_reneging_clears_scoreboard() {
    let config = TcpConfig {
        sack: true,
        ..config()
    };
    let mut s = TcpSocket::accept_syn(
        &config,
        TUPLE,
        &TcpRepr {
            sack_permitted: true,
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    dispatch_all(&mut s, at(0));
    send!(s, time 0, peer_ack(0));
    s.send_slice(&pattern(4 * MSS)).unwrap();
    dispatch_all(&mut s, at(0));
    let base = (LOCAL_SEQ + 1).to_u32();
    let sack = [
        Some((base + 2 * MSS as u32, base + 4 * MSS as u32)),
        None,
        None,
        None,
    ];
    send!(s, time 10, TcpRepr { sack_ranges: sack, ..peer_ack(0) });
    assert!(!s.sacked.is_empty());
    // The cumulative ACK stops exactly where the SACKed data began, without
    // covering it, and no SACK block repeats it: the peer dropped it.
    send!(s, time 20, peer_ack(2 * MSS));
    assert!(s.sacked.is_empty());
}

mod recovery;
mod robustness;
