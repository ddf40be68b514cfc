//! Packet-in/packet-out tests of the interface: inject a frame at a
//! virtual time, assert the exact frames emitted and the counters.

use super::*;
use crate::wire::{Icmpv4Packet, TcpTimestampRepr};

const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const OUR_IP: Ipv4Address = Ipv4Address([10, 7, 0, 2]);
const PEER_IP: Ipv4Address = Ipv4Address([10, 7, 0, 1]);

fn iface() -> Interface {
    Interface::new(InterfaceConfig::new(OUR_MAC, Ipv4Cidr::new(OUR_IP, 24)))
}

fn emitted(iface: &mut Interface, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    iface.dispatch(now, |f| out.push(f.to_vec()));
    out
}

fn arp_frame(op: ArpOperation, target_ip: Ipv4Address, dst_mac: EthernetAddress) -> Vec<u8> {
    let arp = ArpRepr::EthernetIpv4 {
        operation: op,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target_ip,
    };
    let mut buf = vec![0; ETH_HEADER_LEN + arp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: dst_mac,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut eth);
    arp.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    buf
}

fn ip_frame(dst_mac: EthernetAddress, ip: &Ipv4Repr, payload: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut buf = vec![0; ETH_HEADER_LEN + IPV4_HEADER_LEN + ip.payload_len];
    let packet = write_eth_ipv4(&mut buf, PEER_MAC, dst_mac, ip);
    payload(&mut packet[IPV4_HEADER_LEN..]);
    buf
}

fn tcp_frame(seg: &TcpRepr<'_>) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: OUR_IP,
        next_header: IpProtocol::Tcp,
        payload_len: seg.buffer_len(),
        hop_limit: 64,
    };
    ip_frame(OUR_MAC, &ip, |p| {
        seg.emit(&mut TcpPacket::new_unchecked(p), &PEER_IP, &OUR_IP)
    })
}

fn parse_tcp(frame: &[u8]) -> (EthernetRepr, TcpRepr<'_>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let eth_repr = EthernetRepr::parse(&eth).unwrap();
    let ip = Ipv4Packet::new_checked(&frame[ETH_HEADER_LEN..]).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip, true).unwrap();
    assert_eq!((ip_repr.src_addr, ip_repr.dst_addr), (OUR_IP, PEER_IP));
    let tcp = TcpPacket::new_checked(&frame[ETH_HEADER_LEN + IPV4_HEADER_LEN..]).unwrap();
    (
        eth_repr,
        TcpRepr::parse(&tcp, &OUR_IP, &PEER_IP, true).unwrap(),
    )
}

fn syn(dst_port: u16) -> TcpRepr<'static> {
    TcpRepr {
        src_port: 40000,
        dst_port,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(1000),
        window_len: 64240,
        max_seg_size: Some(1460),
        timestamp: Some(TcpTimestampRepr { tsval: 1, tsecr: 0 }),
        ..TcpRepr::default()
    }
}

#[test]
fn arp_request_for_our_address_is_answered() {
    let mut iface = iface();
    iface.handle_frame(
        Instant::ZERO,
        &arp_frame(ArpOperation::Request, OUR_IP, EthernetAddress::BROADCAST),
    );
    let out = emitted(&mut iface, Instant::ZERO);
    assert_eq!(out.len(), 1);
    let eth = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(eth.dst_addr(), PEER_MAC);
    let reply = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!(
        reply,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: OUR_MAC,
            source_protocol_addr: OUR_IP,
            target_hardware_addr: PEER_MAC,
            target_protocol_addr: PEER_IP,
        }
    );
    assert_eq!(iface.stats().arp.requests_answered, 1);
}

#[test]
fn arp_request_for_another_address_is_dropped_and_counted() {
    let mut iface = iface();
    iface.handle_frame(
        Instant::ZERO,
        &arp_frame(
            ArpOperation::Request,
            Ipv4Address([10, 7, 0, 9]),
            EthernetAddress::BROADCAST,
        ),
    );
    assert!(emitted(&mut iface, Instant::ZERO).is_empty());
    assert_eq!(iface.stats().arp.dropped, 1);
}

#[test]
fn frame_for_another_mac_is_dropped_and_counted() {
    let mut iface = iface();
    iface.handle_frame(
        Instant::ZERO,
        &arp_frame(
            ArpOperation::Request,
            OUR_IP,
            EthernetAddress([2, 9, 9, 9, 9, 9]),
        ),
    );
    assert!(emitted(&mut iface, Instant::ZERO).is_empty());
    assert_eq!(iface.stats().ethernet.rx_not_for_us, 1);
}

#[test]
fn icmp_echo_request_gets_echo_reply_with_same_data() {
    let mut iface = iface();
    let echo = Icmpv4Repr::EchoRequest {
        ident: 7,
        seq_no: 3,
        data: b"tapir ping",
    };
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: OUR_IP,
        next_header: IpProtocol::Icmp,
        payload_len: echo.buffer_len(),
        hop_limit: 64,
    };
    iface.handle_frame(
        Instant::ZERO,
        &ip_frame(OUR_MAC, &ip, |p| {
            echo.emit(&mut Icmpv4Packet::new_unchecked(p))
        }),
    );
    let out = emitted(&mut iface, Instant::ZERO);
    assert_eq!(out.len(), 1);
    let ip_packet = Ipv4Packet::new_checked(&out[0][ETH_HEADER_LEN..]).unwrap();
    let reply_ip = Ipv4Repr::parse(&ip_packet, true).unwrap();
    assert_eq!((reply_ip.src_addr, reply_ip.dst_addr), (OUR_IP, PEER_IP));
    let icmp = Icmpv4Packet::new_checked(ip_packet.payload()).unwrap();
    assert_eq!(
        Icmpv4Repr::parse(&icmp, true).unwrap(),
        Icmpv4Repr::EchoReply {
            ident: 7,
            seq_no: 3,
            data: b"tapir ping"
        }
    );
    assert_eq!(iface.stats().icmp.out_echo_reps, 1);
}

#[test]
fn ipv4_bad_header_checksum_is_dropped_and_counted() {
    let mut iface = iface();
    let mut frame = tcp_frame(&syn(80));
    frame[ETH_HEADER_LEN + 10] ^= 0xff;
    iface.handle_frame(Instant::ZERO, &frame);
    assert!(emitted(&mut iface, Instant::ZERO).is_empty());
    assert_eq!(iface.stats().ipv4.in_csum_errors, 1);
}

#[test]
fn tcp_bad_checksum_is_dropped_never_answered() {
    let mut iface = iface();
    let mut frame = tcp_frame(&syn(81));
    let last = frame.len() - 1;
    frame[last] ^= 0xff; // corrupts an option byte, so the TCP checksum fails
    iface.handle_frame(Instant::ZERO, &frame);
    assert!(emitted(&mut iface, Instant::ZERO).is_empty());
    assert_eq!(iface.stats().tcp.in_csum_errors, 1);
    assert_eq!(iface.stats().tcp.out_rsts, 0);
}

#[test]
fn closed_port_syn_gets_rst_ack_to_sender() {
    // RFC 9293 §3.10.7.1: no ACK on the segment → <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    let mut iface = iface();
    iface.handle_frame(Instant::ZERO, &tcp_frame(&syn(81)));
    let out = emitted(&mut iface, Instant::ZERO);
    assert_eq!(out.len(), 1);
    let (eth, rst) = parse_tcp(&out[0]);
    assert_eq!(eth.dst_addr, PEER_MAC);
    assert_eq!(rst.control, TcpControl::Rst);
    assert_eq!(rst.seq_number, TcpSeqNumber(0));
    assert_eq!(rst.ack_number, Some(TcpSeqNumber(1001)));
    assert_eq!((rst.src_port, rst.dst_port), (81, 40000));
    assert_eq!(iface.stats().tcp.out_rsts, 1);
}

#[test]
fn closed_port_ack_gets_rst_with_its_ack_as_seq() {
    // RFC 9293 §3.10.7.1: with an ACK → <SEQ=SEG.ACK><CTL=RST>.
    let mut iface = iface();
    let stray = TcpRepr {
        control: TcpControl::None,
        ack_number: Some(TcpSeqNumber(5555)),
        max_seg_size: None,
        timestamp: None,
        ..syn(81)
    };
    iface.handle_frame(Instant::ZERO, &tcp_frame(&stray));
    let out = emitted(&mut iface, Instant::ZERO);
    let (_, rst) = parse_tcp(&out[0]);
    assert_eq!(
        (rst.control, rst.seq_number, rst.ack_number),
        (TcpControl::Rst, TcpSeqNumber(5555), None)
    );
}

#[test]
fn closed_port_rst_is_not_answered() {
    let mut iface = iface();
    let rst = TcpRepr {
        control: TcpControl::Rst,
        max_seg_size: None,
        timestamp: None,
        ..syn(81)
    };
    iface.handle_frame(Instant::ZERO, &tcp_frame(&rst));
    assert!(emitted(&mut iface, Instant::ZERO).is_empty());
}

#[test]
fn listen_syn_gets_synack_once_neighbour_resolves() {
    let mut iface = iface();
    iface.listen(80, 8, 8).unwrap();
    iface.handle_frame(Instant::ZERO, &tcp_frame(&syn(80)));
    // The peer's MAC is unknown: an ARP request goes out and the SYN-ACK waits.
    let out = emitted(&mut iface, Instant::ZERO);
    assert_eq!(out.len(), 1);
    assert_eq!(
        EthernetFrame::new_checked(&out[0][..]).unwrap().ethertype(),
        EthernetProtocol::Arp
    );
    assert_eq!(iface.stats().tcp.passive_opens, 1);
    // The ARP reply releases the held SYN-ACK.
    iface.handle_frame(
        Instant::from_millis(1),
        &arp_frame(ArpOperation::Reply, OUR_IP, OUR_MAC),
    );
    let out = emitted(&mut iface, Instant::from_millis(1));
    assert_eq!(out.len(), 1);
    let (eth, synack) = parse_tcp(&out[0]);
    assert_eq!(eth.dst_addr, PEER_MAC);
    assert_eq!(synack.control, TcpControl::Syn);
    assert_eq!(synack.ack_number, Some(TcpSeqNumber(1001)));
    assert_eq!(synack.max_seg_size, Some(1460));
}

#[test]
fn listen_full_syn_queue_without_cookies_drops_syn_and_counts() {
    let mut iface = iface();
    iface
        .listen_with(
            80,
            ListenConfig {
                syncookies: SynCookies::Off,
                ..ListenConfig::new(8, 1)
            },
        )
        .unwrap();
    iface.handle_frame(Instant::ZERO, &tcp_frame(&syn(80)));
    iface.handle_frame(
        Instant::ZERO,
        &tcp_frame(&TcpRepr {
            src_port: 40001,
            ..syn(80)
        }),
    );
    assert_eq!(iface.stats().tcp.passive_opens, 1);
    assert_eq!(iface.stats().tcp.listen_drops, 1);
    assert_eq!(iface.sockets().len(), 1);
}

#[test]
fn handshake_ack_moves_connection_to_accept_queue() {
    let mut iface = iface();
    iface.listen(80, 8, 8).unwrap();
    iface.handle_frame(
        Instant::ZERO,
        &arp_frame(ArpOperation::Request, OUR_IP, EthernetAddress::BROADCAST),
    );
    iface.handle_frame(Instant::ZERO, &tcp_frame(&syn(80)));
    let out = emitted(&mut iface, Instant::ZERO);
    let synack_seq = out
        .iter()
        .map(|f| f.as_slice())
        .filter(|f| f[12..14] == [0x08, 0x00])
        .map(|f| parse_tcp(f).1.seq_number)
        .next()
        .unwrap();
    let ack = TcpRepr {
        control: TcpControl::None,
        seq_number: TcpSeqNumber(1001),
        ack_number: Some(synack_seq + 1),
        max_seg_size: None,
        timestamp: None,
        ..syn(80)
    };
    iface.handle_frame(Instant::from_millis(1), &tcp_frame(&ack));
    assert_eq!(iface.poll_event(), Some(Event::Acceptable(80)));
    let handle = iface.accept(80).expect("an established connection");
    assert_eq!(iface.socket(handle).unwrap().state(), State::Established);
    assert_eq!(iface.stats().tcp.curr_estab, 1);
}

/// An interface that knows the peer's MAC (so replies go out at once).
fn iface_with_neighbour(listen: ListenConfig) -> Interface {
    let mut iface = iface();
    iface.listen_with(80, listen).unwrap();
    iface.handle_frame(
        Instant::ZERO,
        &arp_frame(ArpOperation::Request, OUR_IP, EthernetAddress::BROADCAST),
    );
    emitted(&mut iface, Instant::ZERO);
    iface
}

/// The TCP segments among `frames`, parsed.
fn tcp_segments(frames: &[Vec<u8>]) -> Vec<TcpRepr<'static>> {
    frames
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x00])
        .map(|f| {
            let (_, seg) = parse_tcp(f);
            TcpRepr {
                payload: &[],
                ..seg
            }
        })
        .collect()
}

fn ack_of_synack(src_port: u16, synack: &TcpRepr<'_>, payload: &'static [u8]) -> TcpRepr<'static> {
    TcpRepr {
        src_port,
        control: TcpControl::None,
        seq_number: TcpSeqNumber(1001),
        ack_number: Some(synack.seq_number + 1),
        max_seg_size: None,
        timestamp: synack.timestamp.map(|ts| TcpTimestampRepr {
            tsval: 2,
            tsecr: ts.tsval,
        }),
        payload,
        ..syn(80)
    }
}

#[test]
fn listen_full_syn_queue_answers_with_cookie_and_cookie_ack_opens() {
    let mut iface = iface_with_neighbour(ListenConfig::new(8, 1));
    iface.handle_frame(Instant::ZERO, &tcp_frame(&syn(80)));
    let flood = TcpRepr {
        src_port: 40001,
        ..syn(80)
    };
    iface.handle_frame(Instant::ZERO, &tcp_frame(&flood));
    let out = tcp_segments(&emitted(&mut iface, Instant::ZERO));
    assert_eq!(out.len(), 2, "two SYN-ACKs: {out:?}");
    assert_eq!(iface.sockets().len(), 1, "the cookie kept no state");
    assert_eq!(iface.stats().tcp.syncookies_sent, 1);
    let cookie_synack = out.iter().find(|s| s.dst_port == 40001).unwrap();
    assert_eq!(cookie_synack.ack_number, Some(TcpSeqNumber(1001)));

    let ack = ack_of_synack(40001, cookie_synack, b"GET / HTTP/1.1\r\n\r\n");
    iface.handle_frame(Instant::from_millis(1), &tcp_frame(&ack));
    assert_eq!(iface.stats().tcp.syncookies_recv, 1);
    assert_eq!(iface.poll_event(), Some(Event::Acceptable(80)));
    let handle = iface.accept(80).expect("connection opened by cookie");
    assert_eq!(iface.socket(handle).unwrap().state(), State::Established);
    assert_eq!(iface.socket(handle).unwrap().recv_queue(), 18);
    assert_eq!(iface.stats().tcp.curr_estab, 1);
}

#[test]
fn listen_forged_cookie_ack_is_reset_and_counted() {
    let mut iface = iface_with_neighbour(ListenConfig {
        syncookies: SynCookies::Always,
        ..ListenConfig::new(8, 8)
    });
    let forged = TcpRepr {
        control: TcpControl::None,
        seq_number: TcpSeqNumber(1001),
        ack_number: Some(TcpSeqNumber(123_456)),
        max_seg_size: None,
        timestamp: None,
        ..syn(80)
    };
    iface.handle_frame(Instant::ZERO, &tcp_frame(&forged));
    let out = tcp_segments(&emitted(&mut iface, Instant::ZERO));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].control, TcpControl::Rst);
    assert_eq!(out[0].seq_number, TcpSeqNumber(123_456));
    assert_eq!(iface.stats().tcp.syncookies_failed, 1);
    assert!(iface.sockets().is_empty());
}

/// Fill the accept queue (backlog 1) with one connection, then complete a
/// second handshake; returns the second SYN-ACK.
fn second_handshake_meets_full_accept_queue(iface: &mut Interface) -> TcpRepr<'static> {
    for port in [40000, 40001] {
        let syn = TcpRepr {
            src_port: port,
            ..syn(80)
        };
        iface.handle_frame(Instant::ZERO, &tcp_frame(&syn));
    }
    let out = tcp_segments(&emitted(iface, Instant::ZERO));
    let first = out.iter().find(|s| s.dst_port == 40000).unwrap();
    iface.handle_frame(Instant::ZERO, &tcp_frame(&ack_of_synack(40000, first, b"")));
    assert_eq!(iface.accept_queue_len(80), 1);
    out.into_iter().find(|s| s.dst_port == 40001).unwrap()
}

#[test]
fn syn_received_ack_meeting_full_accept_queue_is_dropped_and_synack_retransmitted() {
    let mut iface = iface_with_neighbour(ListenConfig::new(1, 8));
    let synack = second_handshake_meets_full_accept_queue(&mut iface);
    iface.handle_frame(
        Instant::from_millis(1),
        &tcp_frame(&ack_of_synack(40001, &synack, b"")),
    );
    assert!(tcp_segments(&emitted(&mut iface, Instant::from_millis(1))).is_empty());
    assert_eq!(iface.stats().tcp.listen_overflows, 1);
    assert_eq!(iface.stats().tcp.listen_drops, 1);
    // Still half-open: the SYN-ACK is retransmitted after the initial RTO.
    let out = tcp_segments(&emitted(&mut iface, Instant::from_millis(1000)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].control, TcpControl::Syn);
    assert_eq!(out[0].dst_port, 40001);
    // Once the application accepts, the client's next ACK completes it.
    iface.accept(80).unwrap();
    iface.handle_frame(
        Instant::from_millis(1001),
        &tcp_frame(&ack_of_synack(40001, &synack, b"")),
    );
    assert_eq!(iface.accept_queue_len(80), 1);
}

#[test]
fn syn_received_ack_meeting_full_accept_queue_is_reset_with_abort_on_overflow() {
    let mut iface = iface_with_neighbour(ListenConfig {
        abort_on_overflow: true,
        ..ListenConfig::new(1, 8)
    });
    let synack = second_handshake_meets_full_accept_queue(&mut iface);
    iface.handle_frame(
        Instant::from_millis(1),
        &tcp_frame(&ack_of_synack(40001, &synack, b"")),
    );
    let out = tcp_segments(&emitted(&mut iface, Instant::from_millis(1)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].control, TcpControl::Rst);
    assert_eq!(iface.stats().tcp.listen_overflows, 1);
    assert_eq!(
        iface.sockets().len(),
        1,
        "only the accepted-queue connection is left"
    );
}

/// Open a connection, let the app close and release it after the peer's
/// FIN, so that it ends in TIME-WAIT as an orphan.
fn connection_in_time_wait(iface: &mut Interface) {
    iface.handle_frame(Instant::ZERO, &tcp_frame(&syn(80)));
    let synack = tcp_segments(&emitted(iface, Instant::ZERO)).remove(0);
    iface.handle_frame(
        Instant::ZERO,
        &tcp_frame(&ack_of_synack(40000, &synack, b"")),
    );
    let handle = iface.accept(80).unwrap();
    iface.close(handle);
    iface.release(handle);
    let fin = tcp_segments(&emitted(iface, Instant::ZERO)).remove(0);
    assert_eq!(fin.control, TcpControl::Fin);
    let peer_fin = TcpRepr {
        control: TcpControl::Fin,
        ack_number: Some(fin.seq_number + 1),
        ..ack_of_synack(40000, &synack, b"")
    };
    iface.handle_frame(Instant::from_millis(1), &tcp_frame(&peer_fin));
    let out = tcp_segments(&emitted(iface, Instant::from_millis(1)));
    assert_eq!(out.len(), 1, "the ACK of the peer's FIN");
}

#[test]
fn time_wait_orphan_becomes_small_bucket_and_refacks_fin() {
    let mut iface = iface_with_neighbour(ListenConfig::new(8, 8));
    connection_in_time_wait(&mut iface);
    assert!(iface.sockets().is_empty(), "the socket is freed");
    assert_eq!(iface.time_wait_buckets(), 1);
    assert_eq!(iface.stats().tcp.time_wait, 1);
    // A retransmitted FIN is ACKed again from the bucket.
    let again = TcpRepr {
        control: TcpControl::Fin,
        seq_number: TcpSeqNumber(1001),
        ack_number: None,
        ..syn(80)
    };
    let again = TcpRepr {
        ack_number: Some(TcpSeqNumber(0)),
        timestamp: Some(TcpTimestampRepr { tsval: 3, tsecr: 0 }),
        max_seg_size: None,
        ..again
    };
    iface.handle_frame(Instant::from_millis(5), &tcp_frame(&again));
    let out = tcp_segments(&emitted(&mut iface, Instant::from_millis(5)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack_number, Some(TcpSeqNumber(1002)));
    // 2 MSL later it is gone.
    let end = Instant::from_millis(5) + iface.config().tcp.msl * 2;
    assert!(iface.poll_at().is_some_and(|at| at <= end));
    emitted(&mut iface, end - Duration::from_millis(1));
    assert_eq!(iface.time_wait_buckets(), 1);
    assert_eq!(iface.poll_at(), Some(end));
    emitted(&mut iface, end);
    assert_eq!(iface.time_wait_buckets(), 0);
    assert_eq!(iface.stats().tcp.time_wait, 0);
}

#[test]
fn time_wait_beyond_max_tw_buckets_closes_at_once() {
    let mut config = InterfaceConfig::new(OUR_MAC, Ipv4Cidr::new(OUR_IP, 24));
    config.max_tw_buckets = 0;
    let mut iface = Interface::new(config);
    iface.listen_with(80, ListenConfig::new(8, 8)).unwrap();
    iface.handle_frame(
        Instant::ZERO,
        &arp_frame(ArpOperation::Request, OUR_IP, EthernetAddress::BROADCAST),
    );
    emitted(&mut iface, Instant::ZERO);
    connection_in_time_wait(&mut iface);
    assert!(iface.sockets().is_empty());
    assert_eq!(iface.time_wait_buckets(), 0);
    assert_eq!(iface.stats().tcp.tw_overflow, 1);
    assert_eq!(iface.stats().tcp.time_wait, 0);
}

/// An ICMP destination-unreachable from the peer quoting `quoted`.
fn icmp_unreachable_frame(code: u8, next_hop_mtu: u16, quoted: &[u8]) -> Vec<u8> {
    let icmp = Icmpv4Repr::DstUnreachable {
        code,
        next_hop_mtu,
        invoking: quoted,
    };
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: OUR_IP,
        next_header: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        hop_limit: 64,
    };
    ip_frame(OUR_MAC, &ip, |p| {
        icmp.emit(&mut Icmpv4Packet::new_unchecked(p))
    })
}

/// An accepted connection with 4000 bytes sent and unacknowledged; returns
/// its handle and the first data frame.
fn connection_with_data_in_flight(iface: &mut Interface) -> (SocketHandle, Vec<u8>) {
    iface.handle_frame(Instant::ZERO, &tcp_frame(&syn(80)));
    let synack = tcp_segments(&emitted(iface, Instant::ZERO)).remove(0);
    iface.handle_frame(
        Instant::ZERO,
        &tcp_frame(&ack_of_synack(40000, &synack, b"")),
    );
    let handle = iface.accept(80).unwrap();
    iface.send_slice(handle, &[7u8; 4000]).unwrap();
    let frames = emitted(iface, Instant::from_millis(1));
    let data = frames
        .into_iter()
        .find(|f| f.len() > 1000)
        .expect("a full-sized data frame");
    (handle, data)
}

#[test]
fn established_icmp_frag_needed_lowers_segment_size() {
    let mut iface = iface_with_neighbour(ListenConfig::new(8, 8));
    let (handle, data) = connection_with_data_in_flight(&mut iface);
    // The router quotes our IP header and the start of the TCP segment.
    let quoted = &data[ETH_HEADER_LEN..ETH_HEADER_LEN + IPV4_HEADER_LEN + 28];
    iface.handle_frame(
        Instant::from_millis(2),
        &icmp_unreachable_frame(unreachable::FRAG_NEEDED, 1000, quoted),
    );
    assert_eq!(iface.stats().icmp.pmtu_updates, 1);
    let out = emitted(&mut iface, Instant::from_millis(2));
    assert!(
        !out.is_empty(),
        "the data is resent at once in smaller segments"
    );
    for frame in &out {
        assert!(
            frame.len() - ETH_HEADER_LEN <= 1000,
            "IP packet of {} bytes exceeds the path MTU",
            frame.len() - ETH_HEADER_LEN
        );
    }
    assert_eq!(iface.socket(handle).unwrap().state(), State::Established);
}

#[test]
fn established_icmp_error_quoting_unsent_sequence_is_ignored() {
    let mut iface = iface_with_neighbour(ListenConfig::new(8, 8));
    let (_, mut data) = connection_with_data_in_flight(&mut iface);
    // Rewrite the quoted sequence number far beyond SND.MAX.
    let seq_at = ETH_HEADER_LEN + IPV4_HEADER_LEN + 4;
    data[seq_at] ^= 0x80;
    let quoted = &data[ETH_HEADER_LEN..ETH_HEADER_LEN + IPV4_HEADER_LEN + 28];
    iface.handle_frame(
        Instant::from_millis(2),
        &icmp_unreachable_frame(unreachable::FRAG_NEEDED, 576, quoted),
    );
    assert_eq!(iface.stats().icmp.pmtu_updates, 0);
    assert_eq!(iface.stats().icmp.ignored_errors, 1);
    assert!(emitted(&mut iface, Instant::from_millis(2)).is_empty());
}

#[test]
fn established_icmp_host_unreachable_does_not_abort() {
    let mut iface = iface_with_neighbour(ListenConfig::new(8, 8));
    let (handle, data) = connection_with_data_in_flight(&mut iface);
    let quoted = &data[ETH_HEADER_LEN..ETH_HEADER_LEN + IPV4_HEADER_LEN + 8];
    iface.handle_frame(
        Instant::from_millis(2),
        &icmp_unreachable_frame(unreachable::HOST, 0, quoted),
    );
    assert_eq!(iface.stats().icmp.in_dest_unreachs, 1);
    let socket = iface.socket(handle).unwrap();
    assert_eq!(socket.state(), State::Established);
    assert!(socket.soft_error());
}

// ===== introspection: TcpInfo, listeners, TIME-WAIT buckets, traces =====

#[test]
fn info_reports_bytes_windows_rtt_and_time_in_state() {
    let mut iface = iface_with_neighbour(ListenConfig::new(8, 8));
    iface.set_trace(true);
    let (handle, data) = connection_with_data_in_flight(&mut iface);
    let seg = parse_tcp(&data).1;
    let info = iface.sockets().info(handle).unwrap();
    assert_eq!(info.state, State::Established);
    assert_eq!(info.state_since, Instant::ZERO);
    assert_eq!(info.send_q, 4000);
    assert!(info.in_flight >= 1000, "data is in flight: {info:?}");
    assert_eq!(info.bytes_acked, 0);
    assert!(info.cwnd >= 10 * 1000, "IW10: {info:?}");
    // The peer acknowledges everything 20 ms after it was sent.
    let ack = TcpRepr {
        control: TcpControl::None,
        seq_number: TcpSeqNumber(1001),
        ack_number: Some(seg.seq_number + 4000),
        max_seg_size: None,
        timestamp: None,
        payload: b"GET / HTTP/1.1\r\n\r\n",
        ..syn(80)
    };
    iface.handle_frame(Instant::from_millis(21), &tcp_frame(&ack));
    emitted(&mut iface, Instant::from_millis(21));
    let info = iface.sockets().info(handle).unwrap();
    assert_eq!(info.bytes_acked, 4000);
    assert_eq!(info.bytes_sent, 4000);
    assert_eq!(info.bytes_received, 18);
    assert_eq!(info.recv_q, 18);
    assert_eq!((info.send_q, info.in_flight), (0, 0));
    assert_eq!(info.snd_una, 4001, "relative to the ISS, past the SYN");
    assert!(info.srtt.is_some(), "an RTT sample was taken");
    assert!(info.delivery_rate > 0, "{info:?}");
    assert!(info.rcv_wnd > 0 && info.snd_wnd > 0);
    assert_eq!(
        info.time_in_state(Instant::from_millis(1021)),
        Duration::from_millis(1021)
    );
    // Every ACK processed was traced.
    let mut trace = Vec::new();
    iface.take_trace(&mut trace);
    assert!(trace.len() >= 2, "{trace:?}");
    let last = trace.last().unwrap();
    assert_eq!((last.handle, last.info.snd_una), (handle, 4001));
    let mut again = Vec::new();
    iface.take_trace(&mut again);
    assert!(again.is_empty(), "drained");
}

#[test]
fn listener_rows_show_queues_against_limits() {
    let mut iface = iface_with_neighbour(ListenConfig::new(8, 16));
    iface.handle_frame(Instant::ZERO, &tcp_frame(&syn(80)));
    let rows = iface.listeners();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].port, rows[0].syn_queue, rows[0].syn_backlog),
        (80, 1, 16)
    );
    assert_eq!((rows[0].accept_queue, rows[0].backlog), (0, 8));
    // Unlistening resets the half-open connection and frees it.
    assert!(iface.unlisten(Instant::ZERO, 80));
    assert!(iface.listeners().is_empty());
    let out = tcp_segments(&emitted(&mut iface, Instant::ZERO));
    assert!(out.iter().any(|s| s.control == TcpControl::Rst), "{out:?}");
    assert!(iface.sockets().is_empty());
    assert!(!iface.unlisten(Instant::ZERO, 80));
}

#[test]
fn time_wait_buckets_are_listed_with_a_cursor() {
    let mut iface = iface_with_neighbour(ListenConfig::new(8, 8));
    connection_in_time_wait(&mut iface);
    let all: Vec<_> = iface.time_wait_from(0).collect();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1.tuple.remote.port, 40000);
    assert!(all[0].1.expires_at > Instant::from_millis(1));
    assert_eq!(iface.time_wait_from(all[0].0 + 1).count(), 0);
}

#[test]
fn connection_cursor_resumes_after_the_last_index() {
    let mut iface = iface_with_neighbour(ListenConfig::new(8, 8));
    iface.handle_frame(Instant::ZERO, &tcp_frame(&syn(80)));
    iface.handle_frame(
        Instant::ZERO,
        &tcp_frame(&TcpRepr {
            src_port: 40001,
            ..syn(80)
        }),
    );
    let first: Vec<_> = iface.sockets().infos_from(0).take(1).collect();
    let rest: Vec<_> = iface.sockets().infos_from(first[0].0 + 1).collect();
    assert_eq!(first.len() + rest.len(), 2);
    assert_ne!(first[0].2.tuple, rest[0].2.tuple);
}
