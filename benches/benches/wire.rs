//! Micro-benchmarks for `netstack::wire`: the per-packet work on the hot path.
//!
//! - `checksum/data_1460`: the Internet checksum over one full-MSS payload.
//! - `parse/eth_ipv4_tcp_1460`: a whole 1514-byte data frame through
//!   Ethernet, IPv4 and TCP parsing, both checksums verified (what the
//!   interface does for every received segment).
//! - `emit/eth_ipv4_tcp_1460`: building that frame: Ethernet and IPv4 headers,
//!   TCP header with timestamps, payload copy and TCP checksum.
//!
//! Run with `cargo bench -p tapir-benches --bench wire`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netstack::wire::{
    checksum, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpProtocol,
    Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    TcpTimestampRepr, ETHERNET_HEADER_LEN, IPV4_HEADER_LEN,
};

const MSS: usize = 1460;
const SRC: Ipv4Address = Ipv4Address::new(10, 7, 0, 1);
const DST: Ipv4Address = Ipv4Address::new(10, 7, 0, 2);

fn payload() -> Vec<u8> {
    (0..MSS).map(|i| (i * 7 + 3) as u8).collect()
}

fn tcp_repr(payload: &[u8]) -> TcpRepr<'_> {
    TcpRepr {
        src_port: 443,
        dst_port: 51234,
        control: TcpControl::None,
        seq_number: TcpSeqNumber(0x1234_5678),
        ack_number: Some(TcpSeqNumber(-42)),
        window_len: 502,
        timestamp: Some(TcpTimestampRepr::new(1_000_000, 2_000_000)),
        payload,
        ..TcpRepr::default()
    }
}

/// Writes a whole Ethernet + IPv4 + TCP frame into `frame` (which must be
/// exactly the right length) and returns nothing: the work being measured.
fn emit_frame(frame: &mut [u8], tcp: &TcpRepr<'_>) {
    let eth = EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        ethertype: EthernetProtocol::Ipv4,
    };
    let ip = Ipv4Repr {
        src_addr: SRC,
        dst_addr: DST,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let mut eth_frame = EthernetFrame::new_unchecked(frame);
    eth.emit(&mut eth_frame);
    let mut ip_packet = Ipv4Packet::new_unchecked(eth_frame.payload_mut());
    ip.emit(&mut ip_packet);
    tcp.emit(
        &mut TcpPacket::new_unchecked(ip_packet.payload_mut()),
        &SRC,
        &DST,
    );
}

fn frame_len(tcp: &TcpRepr<'_>) -> usize {
    ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + tcp.buffer_len()
}

fn bench_checksum(c: &mut Criterion) {
    let data = payload();
    let mut group = c.benchmark_group("checksum");
    group.throughput(Throughput::Bytes(MSS as u64));
    group.bench_function("data_1460", |b| b.iter(|| checksum::data(black_box(&data))));
    group.finish();
}

fn bench_parse(c: &mut Criterion) {
    let data = payload();
    let tcp = tcp_repr(&data);
    let mut frame = vec![0u8; frame_len(&tcp)];
    emit_frame(&mut frame, &tcp);

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("eth_ipv4_tcp_1460", |b| {
        b.iter(|| {
            let frame = black_box(&frame[..]);
            let eth = EthernetFrame::new_checked(frame)?;
            let _ = EthernetRepr::parse(&eth)?;
            let ip = Ipv4Packet::new_checked(eth.payload())?;
            let ip_repr = Ipv4Repr::parse(&ip, true)?;
            let tcp = TcpPacket::new_checked(ip.payload())?;
            TcpRepr::parse(&tcp, &ip_repr.src_addr, &ip_repr.dst_addr, true)
                .map(|r| r.payload.len())
        })
    });
    group.finish();
}

fn bench_emit(c: &mut Criterion) {
    let data = payload();
    let tcp = tcp_repr(&data);
    let mut frame = vec![0u8; frame_len(&tcp)];

    let mut group = c.benchmark_group("emit");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("eth_ipv4_tcp_1460", |b| {
        b.iter(|| emit_frame(black_box(&mut frame), black_box(&tcp)))
    });
    group.finish();
}

criterion_group!(benches, bench_checksum, bench_parse, bench_emit);
criterion_main!(benches);
