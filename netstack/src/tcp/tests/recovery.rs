//! Loss recovery with SACK: RFC 6675 (IsLost, pipe, NextSeg), lost
//! retransmissions and the tail loss probe (RFC 8985), D-SACK (RFC 2883)
//! on both sides. Packet in, packet out, at explicit virtual times.
//!
//! The fixture is a SACK connection whose handshake gave an RTT sample of
//! 4 ms: RTO 200 ms (its floor), PTO 10 ms (2 * SRTT + 2 ms, while data
//! samples leave SRTT near 4 ms), reordering window 1 ms (its floor). Our segments are `MSS` bytes; `seg(i)` is the i-th. The
//! window arithmetic in the expectations is Reno's (ssthresh = FlightSize/2),
//! so the fixture runs Reno; CUBIC's own reductions are tested with it.

use super::*;

fn sack_socket() -> TcpSocket {
    let config = TcpConfig {
        sack: true,
        congestion: CongestionAlgorithm::Reno,
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
    // As if the handshake had taken 4 ms: SRTT 4 ms, so the probe timeout
    // (2 * SRTT + 2 ms) is 10 ms.
    s.rtt = RttEstimator::new(s.config.rto_initial, s.config.rto_min, s.config.rto_max);
    s.rtt.sample(Duration::from_millis(4));
    s.quickack = 0;
    s.take_counters();
    s
}

/// `n` segments queued, the first ten (the initial window) sent at 0.
fn sack_socket_sending(n: usize) -> (TcpSocket, Vec<u8>) {
    let mut s = sack_socket();
    let bulk = pattern(n * MSS);
    s.send_slice(&bulk).unwrap();
    assert_eq!(dispatch_all(&mut s, at(0)).len(), n.min(10));
    (s, bulk)
}

/// Our segment `i` of `bulk`.
fn seg(bulk: &[u8], i: usize) -> TcpRepr<'static> {
    our_data(i * MSS, leak(bulk[i * MSS..(i + 1) * MSS].to_vec()))
}

/// SACK blocks over our segments `[from, to)`.
fn sack(blocks: &[(usize, usize)]) -> [Option<(u32, u32)>; 4] {
    let base = LOCAL_SEQ + 1;
    let mut out = [None; 4];
    for (slot, &(from, to)) in out.iter_mut().zip(blocks) {
        *slot = Some(((base + from * MSS).to_u32(), (base + to * MSS).to_u32()));
    }
    out
}

/// The peer's ACK of `acked` segments with SACK blocks.
fn sack_ack(acked: usize, blocks: &[(usize, usize)]) -> TcpRepr<'static> {
    TcpRepr {
        sack_ranges: sack(blocks),
        ..peer_ack(acked * MSS)
    }
}

/// Queue `k` more segments of the pattern.
fn queue_more(s: &mut TcpSocket, bulk: &mut Vec<u8>, k: usize) {
    let more = pattern(bulk.len() + k * MSS)[bulk.len()..].to_vec();
    assert_eq!(s.send_slice(&more).unwrap(), more.len());
    bulk.extend_from_slice(&more);
}

/// Ten segments sent at 0; segment 0 lost; three duplicate ACKs SACK
/// segments 1-3 at 5 ms.
fn in_recovery() -> (TcpSocket, Vec<u8>) {
    let (mut s, bulk) = sack_socket_sending(10);
    for to in [2, 3] {
        send!(s, time 5, sack_ack(0, &[(1, to)]));
        recv_nothing!(s, time 5);
    }
    send!(s, time 5, sack_ack(0, &[(1, 4)]));
    recv!(s, time 5, [seg(&bulk, 0)]);
    (s, bulk)
}

#[test]
fn established_three_dupacks_with_sack_enters_recovery() {
    let (s, _) = in_recovery();
    // RFC 6675 §5 step 4: RecoveryPoint = HighData; cwnd = ssthresh =
    // FlightSize / 2, not inflated.
    assert_eq!(s.recovery, Some(LOCAL_SEQ + 1 + 10 * MSS));
    assert_eq!(s.cwnd(), 5 * MSS);
    assert_eq!(s.txlog.rtx_out_bytes(), MSS);
    // pipe: 10 sent - 3 SACKed - 1 lost + 1 retransmitted.
    assert_eq!(s.pipe(), 7 * MSS);
    let c = s.counters;
    assert_eq!(
        (
            c.sack_recovery,
            c.reno_recovery,
            c.fast_retrans,
            c.retrans_segs
        ),
        (1, 0, 1, 1)
    );
}

#[test]
fn established_sacked_data_above_una_enters_recovery_without_dupacks() {
    let (mut s, bulk) = sack_socket_sending(10);
    // RFC 6675 §5 (a): one ACK showing more than 2 SMSS SACKed above
    // SND.UNA: IsLost(HighACK + 1), recovery at once.
    send!(s, time 5, sack_ack(0, &[(1, 4)]));
    recv!(s, time 5, [seg(&bulk, 0)]);
    assert_eq!(s.dup_acks, 1);
    assert_eq!(s.counters.sack_recovery, 1);
}

#[test]
fn recovery_sends_next_hole_by_nextseg() {
    let (mut s, mut bulk) = sack_socket_sending(10);
    queue_more(&mut s, &mut bulk, 2);
    // Segments 0, 2 and 4 lost.
    send!(s, time 5, sack_ack(0, &[(5, 10), (3, 4), (1, 2)]));
    // Entry resends SND.UNA; NextSeg rule 1 then the other lost holes in
    // order, rule 2 new data, while cwnd (5) - pipe >= 1 SMSS: pipe is
    // 10 - 7 SACKed - 3 lost + retransmitted.
    recv!(s, time 5, [seg(&bulk, 0), seg(&bulk, 2), seg(&bulk, 4), seg(&bulk, 10), seg(&bulk, 11)]);
    assert_eq!(s.txlog.rtx_out_bytes(), 3 * MSS);
    assert_eq!(s.pipe(), 5 * MSS);
}

#[test]
fn recovery_pipe_limits_sending() {
    let (mut s, mut bulk) = in_recovery();
    queue_more(&mut s, &mut bulk, 2);
    // pipe = 10 - SACKed - 1 lost + 1 retransmitted; cwnd = 5 segments.
    for (t, to) in [(6, 5), (7, 6)] {
        send!(s, time t, sack_ack(0, &[(1, to)]));
        recv_nothing!(s, time t);
    }
    // pipe 4: one segment fits.
    send!(s, time 8, sack_ack(0, &[(1, 7)]));
    recv!(s, time 8, [seg(&bulk, 10)]);
    send!(s, time 9, sack_ack(0, &[(1, 8)]));
    recv!(s, time 9, [seg(&bulk, 11)]);
    assert_eq!(s.pipe(), 5 * MSS);
}

#[test]
fn recovery_partial_ack_sends_next_lost_hole() {
    let (mut s, bulk) = sack_socket_sending(10);
    // Segments 0 and 2 lost.
    send!(s, time 5, sack_ack(0, &[(3, 6), (1, 2)]));
    // pipe = 10 - 4 - 2 lost + 1 = 5 = cwnd: only the entry retransmission.
    recv!(s, time 5, [seg(&bulk, 0)]);
    // The retransmission arrives: a partial ACK; no deflation. It was sent
    // at 5 ms and delivered in 10 ms: segments 6-9, sent at 0 and not
    // SACKed by now, are lost too (RFC 8985 §6.2 step 5, reo_wnd 0 in
    // recovery). NextSeg sends the lost ones in order: pipe 8 - 3 - 5 = 0.
    send!(s, time 15, sack_ack(2, &[(3, 6)]));
    recv!(s, time 15, [seg(&bulk, 2), seg(&bulk, 6), seg(&bulk, 7), seg(&bulk, 8), seg(&bulk, 9)]);
    assert!(s.recovery.is_some());
    assert_eq!(s.cwnd(), 5 * MSS);
}

#[test]
fn recovery_full_ack_exits() {
    let (mut s, _) = in_recovery();
    send!(s, time 15, peer_ack(10 * MSS));
    assert!(s.recovery.is_none());
    // RFC 6675: cwnd stays ssthresh (FlightSize / 2); no deflation to
    // FlightSize + SMSS, which is NewReno's (RFC 6582 §3.2 step 3).
    assert_eq!(s.cwnd(), 5 * MSS);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn recovery_again_for_loss_at_the_old_recovery_point() {
    let (mut s, mut bulk) = in_recovery();
    queue_more(&mut s, &mut bulk, 6);
    // The full ACK ends recovery exactly at its point (SND.UNA ==
    // RecoveryPoint); cwnd stays ssthresh = 5 and new data follows.
    send!(s, time 10, peer_ack(10 * MSS));
    assert!(s.recovery.is_none());
    recv!(s, time 10, [seg(&bulk, 10), seg(&bulk, 11), seg(&bulk, 12), seg(&bulk, 13), seg(&bulk, 14)]);
    // Segment 10, the first byte past the old point, is lost. It was sent
    // after that recovery began, so RACK's mark starts a new recovery and
    // it goes at once (it used to wait for the RTO: SND.UNA <= recover
    // blocked the entry, and outside recovery nothing sends lost data).
    send!(s, time 15, sack_ack(10, &[(11, 14)]));
    recv!(s, time 15, [seg(&bulk, 10)]);
    assert!(s.recovery.is_some());
    assert_eq!(s.counters.sack_recovery, 2);
    assert_eq!(s.counters.timeouts, 0);
}

#[test]
fn established_lost_retransmission_detected_by_rack() {
    let (mut s, mut bulk) = in_recovery();
    queue_more(&mut s, &mut bulk, 4);
    // New data goes out as SACKs shrink the pipe: sent after the
    // retransmission of segment 0.
    send!(s, time 6, sack_ack(0, &[(1, 7)]));
    recv!(s, time 6, [seg(&bulk, 10)]);
    send!(s, time 7, sack_ack(0, &[(1, 10)]));
    recv!(s, time 7, [seg(&bulk, 11), seg(&bulk, 12), seg(&bulk, 13)]);
    // Three segments sent after the retransmission are SACKed, segment 0
    // is not: the retransmission was lost (RFC 8985 §6.2, by send order).
    // It goes again now, not after an RTO (nor a probe: the probe timer,
    // armed by the sends at 7 ms, is due at 17 ms).
    send!(s, time 15, sack_ack(0, &[(1, 13)]));
    recv!(s, time 15, [seg(&bulk, 0)]);
    assert_eq!(s.counters.timeouts, 0);
    assert_eq!(s.counters.retrans_segs, 2);
}

#[test]
fn established_tail_loss_probe_fires() {
    let (mut s, bulk) = sack_socket_sending(3);
    // Segments 1 and 2 (the tail) are lost. The ACK of segment 0 arms
    // the probe timer: PTO = 2 * SRTT + 2 ms = 10 ms (the sample is 4 ms
    // like SRTT).
    send!(s, time 4, peer_ack(MSS));
    assert_eq!(s.poll_at(), Some(at(14)));
    recv_nothing!(s, time 13);
    // RFC 8985 §7.3: no new data, so the last segment goes again.
    recv!(s, time 14, [seg(&bulk, 2)]);
    assert_eq!(s.tlp_end, Some(LOCAL_SEQ + 1 + 3 * MSS));
    // Its SACK shows segment 1 missing. Segment 1 was sent at 0, before
    // the probe, which came back in 4 ms (not sooner than min_RTT, so the
    // delivery counts, RFC 8985 §6.2 step 2): with a reordering window of
    // 1 ms it is lost (§6.2) and recovery resends it at once.
    send!(s, time 18, sack_ack(1, &[(2, 3)]));
    recv!(s, time 18, [seg(&bulk, 1)]);
    assert_eq!(s.counters.timeouts, 0);
    assert_eq!(s.counters.sack_recovery, 1);
    assert_eq!(s.counters.tlp_probes, 1);
}

#[test]
fn established_tail_loss_probe_sends_new_data_first() {
    let mut s = sack_socket();
    let bulk = pattern(12 * MSS);
    s.send_slice(&bulk).unwrap();
    assert_eq!(dispatch_all(&mut s, at(0)).len(), 10);
    // No ACK comes back; the probe is new data, beyond cwnd.
    recv!(s, time 10, [seg(&bulk, 10)]);
    recv_nothing!(s, time 11);
}

#[test]
fn established_duplicate_segment_sends_dsack() {
    let mut s = sack_socket();
    let base = (REMOTE_SEQ + 1).to_u32();
    send!(s, time 0, data(0, b"abc"));
    recv!(s, time 40, [TcpRepr { window_len: WIN - 3, ..ack_of(3) }]);
    // RFC 2883 §4: a duplicate below RCV.NXT is reported at once in the
    // first SACK block.
    send!(s, time 50, data(0, b"abc"));
    recv!(s, time 50, [TcpRepr {
        window_len: WIN - 3,
        sack_ranges: [Some((base, base + 3)), None, None, None],
        ..ack_of(3)
    }]);
    // Out-of-order data held twice: the D-SACK, then the block holding it.
    send!(s, time 60, data(10, b"klmn"));
    recv!(s, time 60, [TcpRepr { window_len: WIN - 3, sack_ranges: [Some((base + 10, base + 14)), None, None, None], ..ack_of(3) }]);
    send!(s, time 70, data(11, b"lm"));
    recv!(s, time 70, [TcpRepr {
        window_len: WIN - 3,
        sack_ranges: [Some((base + 11, base + 13)), Some((base + 10, base + 14)), None, None],
        ..ack_of(3)
    }]);
    assert_eq!(s.counters.dsack_sent, 2);
    // Once only.
    send!(s, time 80, data(20, b"u"));
    recv!(s, time 80, [TcpRepr {
        window_len: WIN - 3,
        sack_ranges: [Some((base + 20, base + 21)), Some((base + 10, base + 14)), None, None],
        ..ack_of(3)
    }]);
}

#[test]
fn established_dsack_received_counted() {
    let (mut s, _) = sack_socket_sending(4);
    // A D-SACK below the cumulative ACK: counted, kept off the scoreboard.
    send!(s, time 5, sack_ack(2, &[(0, 1)]));
    assert_eq!(s.counters.dsack_recv, 1);
    assert!(s.sacked.is_empty());
    // A D-SACK inside the second block (RFC 2883 §4.2): the second block
    // is data the peer holds.
    send!(s, time 6, sack_ack(2, &[(3, 4), (3, 4)]));
    assert_eq!(s.counters.dsack_recv, 2);
    assert_eq!(s.sacked.ranges().collect::<Vec<_>>(), vec![(MSS, 2 * MSS)]);
}

#[test]
fn established_reordering_within_reo_wnd_not_marked_lost() {
    let (mut s, _) = sack_socket_sending(10);
    // Segment 1 arrives before segment 0. Segment 0 was sent before it
    // and is lost only once RACK.rtt (5 ms) + reo_wnd (min_RTT / 4,
    // 1.25 ms) has passed: the reordering timer is armed for 6.25 ms.
    send!(s, time 5, sack_ack(0, &[(1, 2)]));
    recv_nothing!(s, time 5);
    assert_eq!(s.poll_at(), Some(Instant::from_micros(6250)));
    assert!(s.txlog.lost_bytes() == 0);
    // Segment 0 arrives inside the window: not lost, and reordering is
    // seen (RFC 8985 §6.2 step 3).
    send!(s, time 5, peer_ack(2 * MSS));
    recv_nothing!(s, time 6);
    assert!(s.rack.reordering_seen);
    assert_eq!((s.counters.retrans_segs, s.counters.sack_recovery), (0, 0));
}

#[test]
fn established_dsack_widens_reo_wnd_once_per_round() {
    let (mut s, _) = sack_socket_sending(4);
    assert_eq!(s.rack.reo_wnd_mult, 1);
    // RFC 8985 §6.2 step 4: a D-SACK grows the multiplier, once per round
    // trip (until SND.UNA passes SND.MAX of the first one).
    send!(s, time 5, sack_ack(2, &[(0, 1)]));
    assert_eq!((s.rack.reo_wnd_mult, s.rack.reo_wnd_persist), (2, 16));
    send!(s, time 6, sack_ack(2, &[(1, 2)]));
    assert_eq!(s.rack.reo_wnd_mult, 2);
    assert_eq!(s.counters.dsack_recv, 2);
}

#[test]
fn established_rto_skips_sacked_and_rack_repairs_lost_retransmission() {
    let (mut s, bulk) = sack_socket_sending(10);
    // Segments 0-4 lost: RACK marks them at once (5 SACKed, reo_wnd 0),
    // recovery resends them under cwnd = 5.
    send!(s, time 5, sack_ack(0, &[(5, 10)]));
    recv!(s, time 5, [seg(&bulk, 0), seg(&bulk, 1), seg(&bulk, 2), seg(&bulk, 3), seg(&bulk, 4)]);
    // Every retransmission is lost and nothing comes back. The probe
    // timer runs in recovery too: 2 * SRTT + 2 ms after the sends, the
    // last segment goes again (RFC 8985 §7.3) and restarts the RTO; a
    // second probe follows at twice the PTO (RFC 9002 §6.2.1).
    recv_nothing!(s, time 14);
    recv!(s, time 15, [seg(&bulk, 9)]);
    recv_nothing!(s, time 34);
    recv!(s, time 35, [seg(&bulk, 9)]);
    assert_eq!(s.counters.tlp_probes, 2);
    // Both probes are lost too: the RTO, 200 ms after the last.
    recv_nothing!(s, time 234);
    // RFC 8985 §6.3: everything not SACKed is lost; cwnd is one segment.
    recv!(s, time 235, [seg(&bulk, 0)]);
    assert_eq!(s.counters.timeouts, 1);
    // Slow start: two more, SACKed segments 5-9 skipped.
    send!(s, time 240, sack_ack(1, &[(5, 10)]));
    recv!(s, time 240, [seg(&bulk, 1), seg(&bulk, 2)]);
    // Segment 2 arrives, segment 1 (sent just before it) does not: RACK
    // finds the lost retransmission without a second RTO, and the window
    // (3) takes it and segments 3 and 4.
    send!(s, time 245, sack_ack(1, &[(2, 3), (5, 10)]));
    recv!(s, time 245, [seg(&bulk, 1), seg(&bulk, 3), seg(&bulk, 4)]);
    assert_eq!(s.counters.lost_retransmits, 1);
    send!(s, time 250, peer_ack(10 * MSS));
    assert_eq!(s.counters.timeouts, 1);
    assert!(s.recovery.is_none());
    assert_eq!(s.poll_at(), None);
}
