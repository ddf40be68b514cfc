//! Test fixtures: real frames captured with `tcpdump -i lo` while `curl`
//! fetched `/` from `python3 -m http.server 8099 --bind 127.0.0.1`, plus a
//! `ping -c1 127.0.0.1`. Loopback Ethernet addresses are all zero.
//!
//! Linux leaves TCP checksums to (virtual) offload on loopback, so the
//! captured TCP checksum fields hold only the pseudo-header sum (tcpdump says
//! "incorrect"). Each TCP fixture below has its checksum field replaced with
//! the correct value tcpdump computed (shown in the comment); every other
//! byte is as captured. IPv4 and ICMP checksums are as captured.

/// Frame 1, 74 bytes. `127.0.0.1.43998 > 127.0.0.1.8099: Flags [S], cksum
/// 0x5e72, seq 1872118869, win 65495, options [mss 65495,sackOK,TS val
/// 2567756050 ecr 0,nop,wscale 10], length 0`; IPv4 id 63931, DF, ttl 64.
pub(crate) const SYN: &str = "000000000000000000000000080045000\
    03cf9bb4000400642fe7f0000017f000001abde1fa36f96445500000000a002ffd75e72\
    00000204ffd70402080a990cd912000000000103030a";

/// Frame 2, 74 bytes. `127.0.0.1.8099 > 127.0.0.1.43998: Flags [S.], cksum
/// 0xe737, seq 2717425665, ack 1872118870, win 65483, options [mss
/// 65495,sackOK,TS val 4078715422 ecr 2567756050,nop,wscale 10], length 0`;
/// IPv4 id 0, DF, ttl 64.
pub(crate) const SYN_ACK: &str = "000000000000000000000000080045000\
    03c0000400040063cba7f0000017f0000011fa3abdea1f8a0016f964456a012ffcbe737\
    00000204ffd70402080af31c421e990cd9120103030a";

/// Frame 4, 144 bytes. `127.0.0.1.43998 > 127.0.0.1.8099: Flags [P.], cksum
/// 0x89f5, seq 1:79 (relative), ack 1, win 64, options [nop,nop,TS val
/// 2567756051 ecr 4078715422], length 78`: the HTTP request.
pub(crate) const DATA: &str = "000000000000000000000000080045000\
    082f9bd4000400642b67f0000017f000001abde1fa36f964456a1f8a0028018004089f5\
    00000101080a990cd913f31c421e474554202f20485454502f312e310d0a486f73743a\
    203132372e302e302e313a383039390d0a557365722d4167656e743a206375726c2f37\
    2e38382e310d0a4163636570743a202a2f2a0d0a0d0a";

/// Frame 10, 66 bytes. `127.0.0.1.8099 > 127.0.0.1.43998: Flags [F.], cksum
/// 0x0404, seq 2910 (relative), ack 79, win 64, options [nop,nop,TS val
/// 4078715425 ecr 2567756054], length 0`; IPv4 id 59058.
pub(crate) const FIN: &str = "000000000000000000000000080045000\
    034e6b240004006560f7f0000017f0000011fa3abdea1f8ab5f6f9644a4801100400404\
    00000101080af31c4221990cd916";

/// Frame 13, 98 bytes. `127.0.0.1 > 127.0.0.1: ICMP echo request, id 7964,
/// seq 1, length 64`; IPv4 id 1484, DF.
pub(crate) const ECHO_REQUEST: &str = "000000000000000000000000080045000\
    05405cc4000400136db7f0000017f000001080019771f1c0001325d026b00000000cad0\
    010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c\
    2d2e2f3031323334353637";

/// Frame 14, 98 bytes. `127.0.0.1 > 127.0.0.1: ICMP echo reply, id 7964,
/// seq 1, length 64`; IPv4 id 1485, no DF.
pub(crate) const ECHO_REPLY: &str = "000000000000000000000000080045000\
    05405cd0000400176da7f0000017f000001000021771f1c0001325d026b00000000cad0\
    010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c\
    2d2e2f3031323334353637";

/// An ARP request in an Ethernet frame, hand-assembled from the RFC 826
/// layout (loopback carries no ARP): `who-has 10.7.0.1 tell 10.7.0.2`,
/// from 02:00:00:00:00:02 to broadcast.
pub(crate) const ARP_REQUEST: &str = "ffffffffffff0200000000020806\
    0001080006040001020000000002\
    0a070002000000000000\
    0a070001";

/// Decodes a hex string (whitespace ignored).
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => panic!("bad hex digit {b:?}"),
        })
        .collect();
    assert!(digits.len() & 1 == 0, "odd hex length");
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// The loopback address every fixture uses.
pub(crate) const LOCALHOST: super::Ipv4Address = super::Ipv4Address::new(127, 0, 0, 1);
