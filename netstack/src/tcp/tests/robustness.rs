//! Per-connection robustness rules and timers: RFC 5961 challenge ACKs and
//! their rate limit (§7), PAWS, RFC 1337, keepalive (RFC 1122 §4.2.3.6),
//! orphan retries, FIN-WAIT-2 reassembly, path MTU (RFC 1191), ICMP soft
//! errors, timestamps on RSTs, and the counters each one bumps.
//!
//! Already covered in `tests/mod.rs` (not repeated here): RST exact /
//! in-window / out-of-window, SYN in ESTABLISHED, ACK of unsent data, very
//! old ACK, the retransmission, persist, delayed-ACK, FIN-WAIT-2 and
//! TIME-WAIT timers, TIME-WAIT FIN re-ACK with timer restart and RST
//! ignored, zero-window probe backoff, receiver SWS, delayed ACK on every
//! second full segment and on timeout, Nagle on and off, and the passive
//! close whose FIN carries the delayed ACK.

use super::*;

fn ts(val: u32, ecr: u32) -> Option<TcpTimestampRepr> {
    Some(TcpTimestampRepr::new(val, ecr))
}

/// ESTABLISHED with timestamps; the peer's last TSval is 110 (at 10 ms).
/// Returns the socket and our timestamp offset.
fn socket_established_ts() -> (TcpSocket, u32) {
    let mut s = TcpSocket::accept_syn(
        &TcpConfig {
            timestamps: true,
            ..config()
        },
        TUPLE,
        &TcpRepr {
            timestamp: ts(100, 0),
            ..syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    let off = s.timestamps.expect("timestamps negotiated").offset;
    dispatch_all(&mut s, at(0));
    send!(s, time 10, TcpRepr { timestamp: ts(110, off), ..peer_ack(0) });
    assert_eq!(s.state(), State::Established);
    s.quickack = 0;
    (s, off)
}

fn syn_in_window() -> TcpRepr<'static> {
    TcpRepr {
        control: TcpControl::Syn,
        seq_number: REMOTE_SEQ + 50,
        ack_number: None,
        ..SEND_TEMPL
    }
}

fn our_rst(seq: TcpSeqNumber, ack: usize) -> TcpRepr<'static> {
    TcpRepr {
        control: TcpControl::Rst,
        seq_number: seq,
        window_len: 0,
        ..ack_of(ack)
    }
}

// ===== challenge ACKs (RFC 5961) =====

#[test]
fn established_challenge_acks_counted() {
    let mut s = socket_established();
    // RFC 5961 §3.2, §4.2, §5.2: the three challenges, one each.
    send!(s, time 0, rst(REMOTE_SEQ + 100));
    recv!(s, time 0, [ack_of(0)]);
    send!(s, time 1, syn_in_window());
    recv!(s, time 1, [ack_of(0)]);
    send!(s, time 2, TcpRepr { ack_number: Some(LOCAL_SEQ - 100_000), ..data(0, b"x") });
    recv!(s, time 2, [ack_of(0)]);
    let counters = s.take_counters();
    assert_eq!(
        (counters.challenge_acks, counters.challenge_acks_limited),
        (3, 0)
    );
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_challenge_ack_rate_limited() {
    let mut s = socket_established_with(&TcpConfig {
        challenge_ack_limit: 2,
        ..config()
    });
    send!(s, time 0, rst(REMOTE_SEQ + 100));
    recv!(s, time 0, [ack_of(0)]);
    send!(s, time 100, syn_in_window());
    recv!(s, time 100, [ack_of(0)]);
    // RFC 5961 §7: the third in the same second is suppressed.
    send!(s, time 200, rst(REMOTE_SEQ + 100));
    recv_nothing!(s, time 200);
    send!(s, time 999, rst(REMOTE_SEQ + 100));
    recv_nothing!(s, time 999);
    let counters = s.take_counters();
    assert_eq!(
        (counters.challenge_acks, counters.challenge_acks_limited),
        (2, 2)
    );
    // A second after the window began, challenges go out again.
    send!(s, time 1000, rst(REMOTE_SEQ + 100));
    recv!(s, time 1000, [ack_of(0)]);
    assert_eq!(s.take_counters().challenge_acks, 1);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_challenge_ack_limit_zero_is_unlimited() {
    let mut s = socket_established_with(&TcpConfig {
        challenge_ack_limit: 0,
        ..config()
    });
    for t in 0..5 {
        send!(s, time t, rst(REMOTE_SEQ + 100));
        recv!(s, time t, [ack_of(0)]);
    }
    assert_eq!(s.take_counters().challenge_acks, 5);
}

// ===== counted drops =====

#[test]
fn established_paws_drop_counted() {
    let (mut s, off) = socket_established_ts();
    // RFC 7323 §5.3 R1: older than TS.Recent (110): ACK and drop.
    send!(s, time 20, TcpRepr { timestamp: ts(105, off), ..data(0, b"old") });
    recv!(s, time 20, [TcpRepr { timestamp: ts(off + 20, 110), ..ack_of(0) }]);
    assert_eq!(s.recv_queue(), 0);
    assert_eq!(s.take_counters().paws_estab, 1);
}

#[test]
fn established_ack_of_unsent_data_counted() {
    let mut s = socket_established();
    send!(s, time 0, peer_ack(1));
    // RFC 9293 §3.10.7.4: ACK, drop; no challenge.
    recv!(s, time 0, [ack_of(0)]);
    let counters = s.take_counters();
    assert_eq!((counters.ack_unsent, counters.challenge_acks), (1, 0));
}

#[test]
fn fin_wait_2_released_data_counted_as_abort_on_data() {
    let mut s = socket_fin_wait_2();
    s.release();
    send!(s, time 20, TcpRepr { ack_number: Some(LOCAL_SEQ + 2), ..data(0, b"late") }
        => Some(our_rst(LOCAL_SEQ + 2, 0)));
    assert_eq!(s.take_counters().abort_on_data, 1);
}

#[test]
fn established_delayed_ack_timeout_counted() {
    let mut s = socket_established();
    send!(s, time 0, data(0, b"abc"));
    recv!(s, time 40, [TcpRepr { window_len: WIN - 3, ..ack_of(3) }]);
    assert_eq!(s.take_counters().delayed_acks, 1);
    // An ACK sent at once (second full segment) is not a delayed ACK.
    let seg = leak(pattern(MSS));
    send!(s, time 50, data(3, seg));
    send!(s, time 51, data(3 + MSS, seg));
    recv!(s, time 51, [TcpRepr { window_len: WIN - 3 - 2 * MSS as u16, ..ack_of(3 + 2 * MSS) }]);
    // Nor is one carried by data before the deadline.
    send!(s, time 60, data(3 + 2 * MSS, b"d"));
    s.send_slice(b"reply").unwrap();
    recv!(s, time 61, [TcpRepr {
        ack_number: Some(REMOTE_SEQ + 1 + 4 + 2 * MSS),
        window_len: WIN - 4 - 2 * MSS as u16,
        ..our_data(0, b"reply")
    }]);
    recv_nothing!(s, time 100);
    assert_eq!(s.take_counters().delayed_acks, 0);
}

// ===== timers =====

#[test]
fn established_zero_window_probes_counted() {
    let mut s = socket_established();
    send!(s, time 0, TcpRepr { window_len: 0, ..peer_ack(0) });
    s.send_slice(b"abcdef").unwrap();
    recv_nothing!(s, time 0);
    recv!(s, time 200, [our_data(0, b"a")]);
    recv!(s, time 600, [our_data(0, b"a")]);
    assert_eq!(s.take_counters().window_probes, 2);
}

#[test]
fn established_rto_abort_counted() {
    let mut s = socket_established_with(&TcpConfig {
        retries2: 2,
        ..config()
    });
    s.send_slice(b"abc").unwrap();
    recv!(s, time 0, [our_data(0, b"abc")]);
    recv!(s, time 200, [our_data(0, b"abc")]);
    recv!(s, time 600, [our_data(0, b"abc")]);
    recv!(s, time 1400, [our_rst(LOCAL_SEQ + 4, 0)]);
    assert_eq!(s.take_error(), Some(TcpError::TimedOut));
    assert_eq!(s.take_counters().abort_on_timeout, 1);
}

fn keepalive_config() -> TcpConfig {
    TcpConfig {
        keepalive: true,
        keepalive_time: Duration::from_secs(10),
        keepalive_intvl: Duration::from_secs(1),
        keepalive_probes: 3,
        ..config()
    }
}

/// Our keepalive probe: SEQ = SND.NXT - 1, no data (RFC 1122 §4.2.3.6).
fn keepalive_probe(snd_nxt_offset: usize, ack: usize) -> TcpRepr<'static> {
    TcpRepr {
        seq_number: LOCAL_SEQ + snd_nxt_offset,
        ..ack_of(ack)
    }
}

#[test]
fn established_keepalive_probe_answered() {
    let mut s = socket_established_with(&keepalive_config());
    // The handshake's ACK arrived at 0: idle since then.
    assert_eq!(s.poll_at(), Some(at(10_000)));
    recv_nothing!(s, time 9_999);
    recv!(s, time 10_000, [keepalive_probe(0, 0)]);
    // A probe is not sent data: SND.NXT and SND.MAX stay.
    assert_eq!((s.snd_nxt, s.snd_max), (LOCAL_SEQ + 1, LOCAL_SEQ + 1));
    assert_eq!(s.poll_at(), Some(at(11_000)));
    // The peer answers with an ACK: idle time starts over.
    send!(s, time 10_050, peer_ack(0));
    recv_nothing!(s, time 10_050);
    assert_eq!(s.poll_at(), Some(at(20_050)));
    recv!(s, time 20_050, [keepalive_probe(0, 0)]);
    assert_eq!(s.take_counters().keepalive_probes, 2);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_keepalive_unanswered_aborts() {
    let mut s = socket_established_with(&keepalive_config());
    recv!(s, time 10_000, [keepalive_probe(0, 0)]);
    recv!(s, time 11_000, [keepalive_probe(0, 0)]);
    recv!(s, time 12_000, [keepalive_probe(0, 0)]);
    recv_nothing!(s, time 12_999);
    // Three unanswered probes: RST and TimedOut (as Linux).
    recv!(s, time 13_000, [our_rst(LOCAL_SEQ + 1, 0)]);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.take_error(), Some(TcpError::TimedOut));
    assert_eq!(s.poll_at(), None);
    let counters = s.take_counters();
    assert_eq!(
        (counters.keepalive_probes, counters.abort_on_timeout),
        (3, 1)
    );
}

#[test]
fn established_keepalive_postponed_by_traffic() {
    let mut s = socket_established_with(&keepalive_config());
    send!(s, time 5_000, data(0, b"ping"));
    recv!(s, time 5_040, [TcpRepr { window_len: WIN - 4, ..ack_of(4) }]);
    assert_eq!(s.poll_at(), Some(at(15_000)));
    // Our own data does not count as hearing from the peer; its ACK does.
    s.send_slice(b"pong").unwrap();
    recv!(s, time 6_000, [TcpRepr { ack_number: Some(REMOTE_SEQ + 5), window_len: WIN - 4, ..our_data(0, b"pong") }]);
    assert_eq!(
        s.poll_at(),
        Some(at(6_200)),
        "retransmission timer while data is out"
    );
    send!(s, time 6_010, TcpRepr { seq_number: REMOTE_SEQ + 5, ..peer_ack(4) });
    assert_eq!(s.poll_at(), Some(at(16_010)));
    // One probe unanswered, then the peer speaks: the count starts over.
    recv!(s, time 16_010, [TcpRepr { seq_number: LOCAL_SEQ + 4, window_len: WIN - 4, ..ack_of(4) }]);
    send!(s, time 16_500, TcpRepr { seq_number: REMOTE_SEQ + 5, ..peer_ack(4) });
    assert_eq!((s.keepalive_sent, s.poll_at()), (0, Some(at(26_500))));
}

#[test]
fn established_set_keepalive_arms_and_disarms() {
    let mut s = socket_established();
    assert_eq!(s.poll_at(), None);
    s.set_keepalive(true);
    recv_nothing!(s, time 100);
    // Default keepalive_time: 2 h after the peer was last heard from (0).
    assert_eq!(s.poll_at(), Some(at(2 * 3600 * 1000)));
    s.set_keepalive(false);
    recv_nothing!(s, time 200);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn close_wait_keepalive_probes() {
    let mut s = socket_close_wait();
    s.set_keepalive(true);
    s.config.keepalive_time = Duration::from_secs(10);
    recv_nothing!(s, time 100);
    // The peer's FIN at 0 was the last segment heard.
    recv!(s, time 10_000, [TcpRepr { seq_number: LOCAL_SEQ, ack_number: Some(REMOTE_SEQ + 2), window_len: WIN - 1, ..RECV_TEMPL }]);
}

#[test]
fn fin_wait_1_orphan_fin_retries_then_reset() {
    let mut s = socket_established_with(&TcpConfig {
        orphan_retries: 2,
        ..config()
    });
    s.release();
    let fin = TcpRepr {
        control: TcpControl::Fin,
        ..our_data(0, b"")
    };
    recv!(s, time 0, [fin]);
    recv!(s, time 200, [fin]);
    recv!(s, time 600, [fin]);
    recv_nothing!(s, time 1399);
    // Linux `tcp_orphan_retries` instead of `retries2` (15): dropped with a
    // RST after the second retransmission goes unanswered.
    recv!(s, time 1400, [our_rst(LOCAL_SEQ + 2, 0)]);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.poll_at(), None);
    assert_eq!(s.take_counters().abort_on_timeout, 1);
}

#[test]
fn fin_wait_1_not_released_uses_retries2() {
    let mut s = socket_established_with(&TcpConfig {
        orphan_retries: 2,
        ..config()
    });
    s.close();
    for t in [0, 200, 600, 1400] {
        recv!(s, time t, [TcpRepr { control: TcpControl::Fin, ..our_data(0, b"") }]);
    }
    assert_eq!(s.state(), State::FinWait1);
}

// ===== FIN-WAIT-2 and TIME-WAIT =====

#[test]
fn fin_wait_2_out_of_order_data_and_fin_held_until_in_order() {
    let mut s = socket_fin_wait_2();
    let from_peer = |offset, payload, control| TcpRepr {
        control,
        ack_number: Some(LOCAL_SEQ + 2),
        ..data(offset, payload)
    };
    send!(s, time 20, from_peer(3, b"def", TcpControl::Fin));
    // RFC 5681 §4.2: a duplicate ACK at once; the FIN waits for the hole.
    recv!(s, time 20, [TcpRepr { seq_number: LOCAL_SEQ + 2, ..ack_of(0) }]);
    assert_eq!(s.state(), State::FinWait2);
    assert!(!s.can_recv());
    send!(s, time 21, from_peer(0, b"abc", TcpControl::None));
    assert_eq!(s.state(), State::TimeWait);
    recv!(s, time 21, [TcpRepr { seq_number: LOCAL_SEQ + 2, window_len: WIN - 7, ..ack_of(7) }]);
    assert_eq!(recv_all(&mut s), b"abcdef");
    assert_eq!(s.recv_slice(&mut [0; 4]), Err(RecvError::Finished));
    assert_eq!(s.poll_at(), Some(at(60_021)));
}

fn time_wait_ack() -> TcpRepr<'static> {
    TcpRepr {
        seq_number: LOCAL_SEQ + 2,
        ack_number: Some(REMOTE_SEQ + 2),
        window_len: WIN - 1,
        ..RECV_TEMPL
    }
}

#[test]
fn time_wait_rst_ends_it_without_rfc1337() {
    let mut s = socket_time_wait();
    s.config.rfc1337 = false;
    // Not exactly at RCV.NXT: challenged, TIME-WAIT stays.
    send!(s, time 100, rst(REMOTE_SEQ + 10));
    recv!(s, time 100, [time_wait_ack()]);
    assert_eq!(s.state(), State::TimeWait);
    // At RCV.NXT: ends TIME-WAIT (Linux's default, `tcp_rfc1337 = 0`).
    send!(s, time 200, rst(REMOTE_SEQ + 2));
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.take_error(), None);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn time_wait_rst_at_rcv_nxt_ignored_with_rfc1337() {
    let mut s = socket_time_wait();
    assert!(s.config.rfc1337, "the default");
    send!(s, time 100, rst(REMOTE_SEQ + 2));
    recv_nothing!(s, time 100);
    assert_eq!(s.state(), State::TimeWait);
    assert_eq!(s.poll_at(), Some(at(60_020)));
}

#[test]
fn time_wait_old_syn_gets_last_ack_again() {
    let mut s = socket_time_wait();
    let old_syn = TcpRepr {
        control: TcpControl::Syn,
        seq_number: REMOTE_SEQ,
        ack_number: None,
        ..SEND_TEMPL
    };
    // Not newer than the old connection: no reopening (RFC 6191)...
    assert!(!s.time_wait_accepts_syn(&old_syn));
    // ...but the last ACK again (RFC 9293 §3.10.7.4), the timer untouched.
    send!(s, time 1_000, old_syn);
    recv!(s, time 1_000, [time_wait_ack()]);
    assert_eq!(s.state(), State::TimeWait);
    assert_eq!(s.poll_at(), Some(at(60_020)));
}

// ===== sender SWS =====

#[test]
fn established_sender_sws_holds_tiny_segment() {
    let mut s = socket_established();
    s.set_nodelay(true);
    send!(s, time 0, TcpRepr { window_len: MSS as u16 + 10, ..peer_ack(0) });
    let bulk = pattern(3000);
    s.send_slice(&bulk).unwrap();
    // RFC 9293 §3.8.6.2.1: after a full segment, the 10 bytes the window
    // still allows are not worth a segment (not even with Nagle off).
    recv!(s, time 1, [our_data(0, leak(bulk[..MSS].to_vec()))]);
    recv_nothing!(s, time 2);
    send!(s, time 10, TcpRepr { window_len: MSS as u16 + 10, ..peer_ack(MSS) });
    recv!(s, time 10, [our_data(MSS, leak(bulk[MSS..2 * MSS].to_vec()))]);
    recv_nothing!(s, time 11);
}

// ===== path MTU and ICMP =====

#[test]
fn established_path_mtu_lowers_segment_size_and_resends() {
    let mut s = socket_established();
    let bulk = pattern(2 * MSS);
    s.send_slice(&bulk).unwrap();
    assert_eq!(dispatch_all(&mut s, at(0)).len(), 2);
    let cwnd = s.cwnd();
    assert!(s.seq_in_flight(LOCAL_SEQ + 1));
    assert!(s.seq_in_flight(LOCAL_SEQ + 2 * MSS));
    assert!(!s.seq_in_flight(LOCAL_SEQ + 1 + 2 * MSS));
    assert!(!s.seq_in_flight(LOCAL_SEQ));
    // ICMP "fragmentation needed", MTU 1000: MSS 960; everything in flight
    // is resent at once in the new size (Linux `tcp_simple_retransmit`).
    s.handle_path_mtu(at(5), 1000);
    let chunk = |a: usize, b: usize| our_data(a, leak(bulk[a..b].to_vec()));
    recv!(s, time 5, [
        chunk(0, 960),
        chunk(960, 1920),
        chunk(1920, 2880),
        chunk(2880, 2920),
    ]);
    // No congestion response; the timer restarted for the resent data.
    assert_eq!(s.cwnd(), cwnd);
    assert_eq!(s.poll_at(), Some(at(205)));
    // New data uses the new size too.
    send!(s, time 10, peer_ack(2 * MSS));
    let more = pattern(1000);
    s.send_slice(&more).unwrap();
    let out = dispatch_all(&mut s, at(11));
    assert_eq!(
        out.iter().map(|seg| seg.payload.len()).collect::<Vec<_>>(),
        [960, 40]
    );
}

#[test]
fn established_path_mtu_floor_and_no_increase() {
    let mut s = socket_established();
    s.handle_path_mtu(at(0), 68);
    // Never below 88 (Linux TCP_MIN_MSS): 48 bytes of data after 40 of options.
    assert_eq!(s.snd_mss, 88);
    s.handle_path_mtu(at(1), 1500);
    assert_eq!(s.snd_mss, 88, "RFC 1191: an ICMP never raises the MSS");
    s.send_slice(&pattern(100)).unwrap();
    let out = dispatch_all(&mut s, at(2));
    assert_eq!(out[0].payload.len(), 88);
}

#[test]
fn established_icmp_soft_error_does_not_abort() {
    let mut s = socket_established();
    s.send_slice(b"abc").unwrap();
    recv!(s, time 0, [our_data(0, b"abc")]);
    assert!(s.seq_in_flight(LOCAL_SEQ + 1));
    s.handle_icmp_soft_error();
    assert!(s.soft_error());
    // RFC 9293 MUST-56 / RFC 1122 §4.2.3.9: no abort; retransmit as usual.
    assert_eq!(s.state(), State::Established);
    recv!(s, time 200, [our_data(0, b"abc")]);
    send!(s, time 250, peer_ack(3));
    assert!(!s.soft_error(), "hearing from the peer clears it");
    assert_eq!(s.state(), State::Established);
    assert_eq!(s.take_error(), None);
}

// ===== timestamps on RSTs =====

#[test]
fn established_rst_carries_timestamps() {
    let (mut s, off) = socket_established_ts();
    s.abort();
    // RFC 7323 §3.2: once negotiated, on every segment (Linux's
    // `tcp_send_active_reset` too).
    recv!(s, time 20, [TcpRepr { timestamp: ts(off + 20, 110), ..our_rst(LOCAL_SEQ + 1, 0) }]);
}

#[test]
fn established_released_data_rst_carries_timestamps() {
    let (mut s, off) = socket_established_ts();
    s.close();
    recv!(s, time 20, [TcpRepr { control: TcpControl::Fin, timestamp: ts(off + 20, 110), ..our_data(0, b"") }]);
    s.release();
    send!(s, time 30, TcpRepr { timestamp: ts(130, off + 20), ..data(0, b"late") }
        => Some(TcpRepr { timestamp: ts(off + 30, 130), ..our_rst(LOCAL_SEQ + 2, 0) }));
}

// ===== arbitrary input with every robustness knob on =====

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Event {
        /// A segment from the peer near RCV.NXT / SND.UNA.
        Segment {
            seq: i32,
            ack: Option<i32>,
            control: u8,
            window: u16,
            len: usize,
            tsval: Option<u32>,
        },
        Send(usize),
        Recv(usize),
        Close,
        Release,
        Keepalive(bool),
        PathMtu(usize),
        SoftError,
        Wait(u64),
    }

    fn event() -> impl Strategy<Value = Event> {
        let segment = (
            -3000..3000i32,
            proptest::option::weighted(0.9, -3000..3000i32),
            0u8..5,
            prop_oneof![Just(0u16), any::<u16>()],
            prop_oneof![Just(0usize), 1..100usize, 1000..3000usize],
            proptest::option::of(0u32..1000),
        )
            .prop_map(|(seq, ack, control, window, len, tsval)| Event::Segment {
                seq,
                ack,
                control,
                window,
                len,
                tsval,
            });
        prop_oneof![
            6 => segment,
            2 => (0usize..20_000).prop_map(Event::Send),
            2 => (0usize..20_000).prop_map(Event::Recv),
            1 => Just(Event::Close),
            1 => Just(Event::Release),
            1 => any::<bool>().prop_map(Event::Keepalive),
            1 => (0usize..2000).prop_map(Event::PathMtu),
            1 => Just(Event::SoftError),
            4 => prop_oneof![0u64..500, 0u64..30_000].prop_map(Event::Wait),
        ]
    }

    fn start(kind: u8) -> TcpSocket {
        let config = TcpConfig {
            challenge_ack_limit: 2,
            orphan_retries: 2,
            retries2: 4,
            rfc1337: kind != 1 && kind != 3,
            ..keepalive_config()
        };
        match kind {
            0 | 1 => socket_established_with(&config),
            2 => {
                let mut s = socket_close_wait();
                s.config = config;
                s
            }
            3 => {
                let mut s = socket_time_wait();
                s.config = config;
                s
            }
            _ => {
                let (mut s, _) = socket_established_ts();
                s.config = TcpConfig {
                    timestamps: true,
                    ..config
                };
                s
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn robustness_knobs_keep_the_poll_at_contract(kind in 0u8..5, events in proptest::collection::vec(event(), 1..60)) {
            static PAYLOAD: [u8; 3000] = [0xa5; 3000];
            let mut s = start(kind);
            let mut now = 100u64;
            for event in events {
                match event {
                    Event::Segment { seq, ack, control, window, len, tsval } => {
                        let control = match control {
                            0 => TcpControl::None,
                            1 => TcpControl::Syn,
                            2 => TcpControl::Fin,
                            3 => TcpControl::Rst,
                            _ => TcpControl::Psh,
                        };
                        let seg = TcpRepr {
                            control,
                            seq_number: TcpSeqNumber(s.rcv_nxt.0.wrapping_add(seq)),
                            ack_number: ack.map(|a| TcpSeqNumber(s.snd_una.0.wrapping_add(a))),
                            window_len: window,
                            timestamp: tsval.map(|v| TcpTimestampRepr::new(v, 0)),
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
                    Event::Release => s.release(),
                    Event::Keepalive(on) => s.set_keepalive(on),
                    Event::PathMtu(mtu) => s.handle_path_mtu(at(now), mtu),
                    Event::SoftError => s.handle_icmp_soft_error(),
                    Event::Wait(ms) => {
                        now += ms;
                        if let Some(t) = s.poll_at() {
                            now = now.min(t.total_millis().max(now - ms));
                        }
                    }
                }
                // dispatch_all checks that poll_at is in the future after.
                let out = dispatch_all(&mut s, at(now));
                for seg in &out {
                    let options = if seg.timestamp.is_some() { 12 } else { 0 };
                    prop_assert!(seg.payload.len() + options <= s.snd_mss);
                }
                prop_assert!(s.snd_una <= s.snd_nxt && s.snd_nxt <= s.snd_max);
                prop_assert!(s.snd_mss >= 88);
            }
        }
    }
}
