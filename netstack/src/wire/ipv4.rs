//! IPv4 (RFC 791): addresses, CIDR prefixes, and the header.
//!
//! The contract: [`Ipv4Packet::new_checked`] accepts a buffer only if it holds
//! the whole header and the whole `total_len` (the buffer may be longer, for
//! Ethernet minimum-size padding); after that no getter panics. [`Ipv4Repr`]
//! keeps only what the layers above need, and [`Ipv4Repr::parse`] refuses
//! fragments: tapir does not reassemble (RFC 791 §3.2 makes reassembly a host
//! requirement; we choose to drop, as every peer we serve does PMTU discovery
//! and sets DF). Options are skipped on receive and never emitted.

use core::fmt;
use core::str::FromStr;

use super::checksum;
use super::{Error, Result};

/// A 32-bit IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ipv4Address(pub [u8; 4]);

impl Ipv4Address {
    /// 0.0.0.0
    pub const UNSPECIFIED: Ipv4Address = Ipv4Address([0; 4]);
    /// 255.255.255.255, the limited broadcast address.
    pub const BROADCAST: Ipv4Address = Ipv4Address([255; 4]);

    /// `a.b.c.d`
    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Ipv4Address {
        Ipv4Address([a, b, c, d])
    }

    /// Reads an address from the first four bytes of `bytes`.
    ///
    /// # Panics
    /// If `bytes` is shorter than four bytes; callers pass a field of a checked view.
    pub fn from_bytes(bytes: &[u8]) -> Ipv4Address {
        let mut a = [0u8; 4];
        a.copy_from_slice(&bytes[..4]);
        Ipv4Address(a)
    }

    /// The four address bytes, network order.
    pub const fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }

    /// The address as a host-order integer.
    pub const fn to_bits(self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// The address from a host-order integer.
    pub const fn from_bits(bits: u32) -> Ipv4Address {
        Ipv4Address(bits.to_be_bytes())
    }

    /// Neither broadcast, multicast nor unspecified.
    pub fn is_unicast(&self) -> bool {
        !(self.is_broadcast() || self.is_multicast() || self.is_unspecified())
    }

    /// 255.255.255.255 (a subnet's directed broadcast needs its prefix: see
    /// [`Ipv4Cidr::broadcast`]).
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// 224.0.0.0/4 (RFC 5771).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0xf0 == 224
    }

    /// 0.0.0.0
    pub fn is_unspecified(&self) -> bool {
        *self == Self::UNSPECIFIED
    }

    /// 127.0.0.0/8 (RFC 1122 §3.2.1.3).
    pub fn is_loopback(&self) -> bool {
        self.0[0] == 127
    }

    /// 169.254.0.0/16 (RFC 3927).
    pub fn is_link_local(&self) -> bool {
        self.0[0] == 169 && self.0[1] == 254
    }
}

impl fmt::Display for Ipv4Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3])
    }
}

/// Why an address or prefix string did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrParseError {
    /// Not four dotted decimal octets.
    Address,
    /// The part after `/` is missing, not a number, or above 32.
    PrefixLen,
}

impl fmt::Display for AddrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddrParseError::Address => "invalid IPv4 address (want a.b.c.d)",
            AddrParseError::PrefixLen => "invalid prefix length (want /0 to /32)",
        })
    }
}

impl std::error::Error for AddrParseError {}

impl FromStr for Ipv4Address {
    type Err = AddrParseError;

    /// Strict dotted quad, as `std` parses it (no leading zeros, no shorthand).
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        s.parse::<std::net::Ipv4Addr>()
            .map(Ipv4Address::from)
            .map_err(|_| AddrParseError::Address)
    }
}

impl From<std::net::Ipv4Addr> for Ipv4Address {
    fn from(a: std::net::Ipv4Addr) -> Self {
        Ipv4Address(a.octets())
    }
}

impl From<Ipv4Address> for std::net::Ipv4Addr {
    fn from(a: Ipv4Address) -> Self {
        std::net::Ipv4Addr::from(a.0)
    }
}

/// An address with a prefix length, e.g. `10.7.0.1/24`: an interface address
/// and the subnet it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    address: Ipv4Address,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// # Panics
    /// If `prefix_len > 32` (a programming error; strings go through `FromStr`).
    pub const fn new(address: Ipv4Address, prefix_len: u8) -> Ipv4Cidr {
        assert!(prefix_len <= 32, "IPv4 prefix length above 32");
        Ipv4Cidr {
            address,
            prefix_len,
        }
    }

    /// The address as given (host bits kept).
    pub const fn address(&self) -> Ipv4Address {
        self.address
    }

    /// The prefix length, 0..=32.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask, e.g. 255.255.255.0 for /24.
    pub const fn netmask(&self) -> Ipv4Address {
        Ipv4Address::from_bits(self.mask_bits())
    }

    const fn mask_bits(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len)
        }
    }

    /// The network address (host bits cleared), as a /prefix_len prefix.
    pub const fn network(&self) -> Ipv4Cidr {
        Ipv4Cidr {
            address: Ipv4Address::from_bits(self.address.to_bits() & self.mask_bits()),
            prefix_len: self.prefix_len,
        }
    }

    /// The directed broadcast address (host bits set). A /31 or /32 has none
    /// (RFC 3021 §2.2: both /31 addresses are hosts), so for those this is the
    /// limited broadcast 255.255.255.255, which a host accepts anyway.
    pub const fn broadcast(&self) -> Ipv4Address {
        if self.prefix_len >= 31 {
            return Ipv4Address::BROADCAST;
        }
        Ipv4Address::from_bits(self.address.to_bits() | !self.mask_bits())
    }

    /// Is `addr` inside this prefix?
    pub fn contains_addr(&self, addr: &Ipv4Address) -> bool {
        let m = self.mask_bits();
        addr.to_bits() & m == self.address.to_bits() & m
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = AddrParseError;

    /// `a.b.c.d/n` with `n` in 0..=32.
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        let (addr, len) = s.split_once('/').ok_or(AddrParseError::PrefixLen)?;
        let address = addr.parse()?;
        // Decimal digits only, no sign and no leading zero, as `std` parses
        // the address part.
        let digits_ok = !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok || len.len() > 2 || (len.len() > 1 && len.starts_with('0')) {
            return Err(AddrParseError::PrefixLen);
        }
        let prefix_len: u8 = len.parse().map_err(|_| AddrParseError::PrefixLen)?;
        if prefix_len > 32 {
            return Err(AddrParseError::PrefixLen);
        }
        Ok(Ipv4Cidr::new(address, prefix_len))
    }
}

/// The IP protocol number (IANA "Assigned Internet Protocol Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// 1
    Icmp,
    /// 6
    Tcp,
    /// 17
    Udp,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpProtocol::Icmp => f.write_str("ICMP"),
            IpProtocol::Tcp => f.write_str("TCP"),
            IpProtocol::Udp => f.write_str("UDP"),
            IpProtocol::Unknown(v) => write!(f, "proto {v}"),
        }
    }
}

mod field {
    use core::ops::Range;
    pub(super) const VER_IHL: usize = 0;
    pub(super) const DSCP_ECN: usize = 1;
    pub(super) const LENGTH: Range<usize> = 2..4;
    pub(super) const IDENT: Range<usize> = 4..6;
    pub(super) const FLG_OFF: Range<usize> = 6..8;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: Range<usize> = 10..12;
    pub(super) const SRC_ADDR: Range<usize> = 12..16;
    pub(super) const DST_ADDR: Range<usize> = 16..20;
}

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = field::DST_ADDR.end;

/// The minimum MTU every IPv4 link must carry (RFC 791 §3.1: "every internet
/// module must be able to forward a datagram of 68 octets"); hosts must accept
/// 576-byte datagrams (RFC 1122 §3.3.3).
pub const IPV4_MIN_MTU: usize = 68;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Same as [`IPV4_HEADER_LEN`], which needs no type parameter (this one is
    /// spelled `Ipv4Packet::<&[u8]>::HEADER_LEN`).
    pub const HEADER_LEN: usize = IPV4_HEADER_LEN;

    /// Wraps a buffer without checking it. Use for buffers we fill ourselves.
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wraps a received buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks what every getter relies on:
    /// - the buffer holds 20 bytes, else [`Error::Truncated`];
    /// - version is 4 and IHL at least 5, else [`Error::Malformed`];
    /// - `header_len <= total_len`, else [`Error::Malformed`];
    /// - the buffer holds `header_len` and `total_len` bytes, else
    ///   [`Error::Truncated`]. Extra bytes after `total_len` are allowed
    ///   (Ethernet pads short frames to 60 bytes) and dropped by `payload`.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < IPV4_HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::Malformed);
        }
        let header_len = self.header_len() as usize;
        if header_len < IPV4_HEADER_LEN {
            return Err(Error::Malformed);
        }
        let total_len = self.total_len() as usize;
        if total_len < header_len {
            return Err(Error::Malformed);
        }
        if len < header_len || len < total_len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Gives back the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The version field (4 for a checked packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated services code point (RFC 2474).
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit congestion notification bits (RFC 3168).
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length: header plus payload, in bytes.
    pub fn total_len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }

    /// Identification (only meaningful for fragments; RFC 6864).
    pub fn ident(&self) -> u16 {
        self.u16_at(field::IDENT)
    }

    /// Don't Fragment.
    pub fn dont_frag(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_DF != 0
    }

    /// More Fragments.
    pub fn more_frags(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (self.u16_at(field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// Time to live.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol of the payload.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Address {
        Ipv4Address::from_bytes(&self.buffer.as_ref()[field::SRC_ADDR])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Address {
        Ipv4Address::from_bytes(&self.buffer.as_ref()[field::DST_ADDR])
    }

    /// Is the header checksum (over the header, options included) right?
    pub fn verify_checksum(&self) -> bool {
        let header = &self.buffer.as_ref()[..self.header_len() as usize];
        checksum::data(header) == !0
    }

    /// The options bytes, between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[IPV4_HEADER_LEN..self.header_len() as usize]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The payload: from `header_len` to `total_len`, so options are skipped
    /// and link-layer padding is dropped.
    pub fn payload(&self) -> &'a [u8] {
        let range = self.header_len() as usize..self.total_len() as usize;
        &self.buffer.as_ref()[range]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn set_u16_at(&mut self, r: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes())
    }

    /// Sets the version nibble.
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets the header length in bytes; must be a multiple of 4 in 20..=60.
    pub fn set_header_len(&mut self, len: u8) {
        debug_assert!(len & 3 == 0 && (20..=60).contains(&len));
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) & 0x0f);
    }

    /// Sets the DSCP (6 bits).
    pub fn set_dscp(&mut self, dscp: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (dscp << 2);
    }

    /// Sets the ECN bits (2 bits).
    pub fn set_ecn(&mut self, ecn: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & !0x03) | (ecn & 0x03);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        self.set_u16_at(field::LENGTH, len)
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, ident: u16) {
        self.set_u16_at(field::IDENT, ident)
    }

    /// Clears DF, MF and the fragment offset.
    pub fn clear_flags(&mut self) {
        self.set_u16_at(field::FLG_OFF, 0)
    }

    /// Sets or clears Don't Fragment.
    pub fn set_dont_frag(&mut self, value: bool) {
        let raw = self.u16_at(field::FLG_OFF);
        let raw = if value { raw | FLAG_DF } else { raw & !FLAG_DF };
        self.set_u16_at(field::FLG_OFF, raw)
    }

    /// Sets or clears More Fragments.
    pub fn set_more_frags(&mut self, value: bool) {
        let raw = self.u16_at(field::FLG_OFF);
        let raw = if value { raw | FLAG_MF } else { raw & !FLAG_MF };
        self.set_u16_at(field::FLG_OFF, raw)
    }

    /// Sets the fragment offset in bytes (a multiple of 8).
    pub fn set_frag_offset(&mut self, offset: u16) {
        debug_assert!(offset & 7 == 0);
        let raw = self.u16_at(field::FLG_OFF);
        let raw = (raw & !OFFSET_MASK) | ((offset >> 3) & OFFSET_MASK);
        self.set_u16_at(field::FLG_OFF, raw)
    }

    /// Sets the time to live.
    pub fn set_hop_limit(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl
    }

    /// Sets the payload protocol.
    pub fn set_next_header(&mut self, proto: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = proto.into()
    }

    /// Sets the checksum field as is; see [`fill_checksum`](Self::fill_checksum).
    pub fn set_checksum(&mut self, checksum: u16) {
        self.set_u16_at(field::CHECKSUM, checksum)
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Address) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.0)
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Address) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.0)
    }

    /// Computes and stores the header checksum. Call after every other field is set.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = {
            let header = &self.buffer.as_ref()[..self.header_len() as usize];
            checksum::data(header)
        };
        self.set_checksum(!sum)
    }

    /// The payload (from `header_len` to `total_len`), for writing in place.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len() as usize..self.total_len() as usize;
        &mut self.buffer.as_mut()[range]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The fields of an IPv4 header that the layers above use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Address,
    /// Destination address.
    pub dst_addr: Ipv4Address,
    /// The payload protocol.
    pub next_header: IpProtocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub hop_limit: u8,
}

impl Ipv4Repr {
    /// Reads a checked packet.
    ///
    /// - [`Error::Checksum`] if `verify_checksum` and the header checksum is
    ///   wrong (RFC 1122 §3.2.1.2: silently discard).
    /// - [`Error::Unsupported`] for a fragment (MF set or a non-zero offset):
    ///   we do not reassemble, so the datagram is dropped; a sender doing PMTU
    ///   discovery (RFC 1191) never fragments.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Ipv4Packet<&T>,
        verify_checksum: bool,
    ) -> Result<Ipv4Repr> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        if packet.more_frags() || packet.frag_offset() != 0 {
            return Err(Error::Unsupported);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: packet.total_len() as usize - packet.header_len() as usize,
            hop_limit: packet.hop_limit(),
        })
    }

    /// Length of the header we emit: 20 bytes, no options.
    pub const fn buffer_len(&self) -> usize {
        IPV4_HEADER_LEN
    }

    /// Writes a 20-byte header: no options, DSCP/ECN 0, DF set (RFC 1191 PMTU
    /// discovery), ident 0 (RFC 6864 §4.1: atomic datagrams may use any ident),
    /// TTL = `hop_limit`, and the checksum. The payload is left alone.
    ///
    /// # Panics
    /// If the buffer is shorter than 20 bytes, or `payload_len + 20` exceeds 65535.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) {
        // NOTE(unwrap): a payload that does not fit the 16-bit total length is
        // a bug in the caller (TCP segments are sized by the MSS), not input.
        let total_len = u16::try_from(IPV4_HEADER_LEN + self.payload_len)
            .expect("IPv4 payload_len above 65515");
        packet.set_version(4);
        packet.set_header_len(IPV4_HEADER_LEN as u8);
        packet.set_dscp(0);
        packet.set_ecn(0);
        packet.set_total_len(total_len);
        packet.set_ident(0);
        packet.clear_flags();
        packet.set_dont_frag(true);
        packet.set_hop_limit(self.hop_limit);
        packet.set_next_header(self.next_header);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

impl fmt::Display for Ipv4Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv4 src={} dst={} proto={} len={} ttl={}",
            self.src_addr, self.dst_addr, self.next_header, self.payload_len, self.hop_limit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, hex, LOCALHOST};
    use super::*;
    use proptest::prelude::*;

    /// The IPv4 packet of a fixture frame.
    fn packet(fixture: &str) -> Vec<u8> {
        hex(fixture)[14..].to_vec()
    }

    /// Edits a header and fixes its checksum.
    fn edited(fixture: &str, edit: impl FnOnce(&mut Ipv4Packet<&mut [u8]>)) -> Vec<u8> {
        let mut bytes = packet(fixture);
        let mut p = Ipv4Packet::new_unchecked(&mut bytes[..]);
        edit(&mut p);
        p.fill_checksum();
        bytes
    }

    fn parse(bytes: &[u8]) -> Result<Ipv4Repr> {
        Ipv4Repr::parse(&Ipv4Packet::new_checked(bytes)?, true)
    }

    #[test]
    fn syn_header_getters() -> Result<()> {
        let bytes = packet(fixtures::SYN);
        let p = Ipv4Packet::new_checked(&bytes[..])?;
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.dscp(), 0);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.total_len(), 60);
        assert_eq!(p.ident(), 63931);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.next_header(), IpProtocol::Tcp);
        assert_eq!(p.checksum(), 0x42fe);
        assert_eq!(p.src_addr(), LOCALHOST);
        assert_eq!(p.dst_addr(), LOCALHOST);
        assert!(p.verify_checksum());
        assert_eq!(p.options(), &[] as &[u8]);
        assert_eq!(p.payload(), &bytes[20..]);
        Ok(())
    }

    #[test]
    fn syn_ack_round_trip_is_byte_exact() -> Result<()> {
        // Linux sends a SYN-ACK with ident 0 and DF, exactly what we emit.
        let bytes = packet(fixtures::SYN_ACK);
        let repr = parse(&bytes)?;
        assert_eq!(
            repr,
            Ipv4Repr {
                src_addr: LOCALHOST,
                dst_addr: LOCALHOST,
                next_header: IpProtocol::Tcp,
                payload_len: 40,
                hop_limit: 64,
            }
        );
        assert_eq!(repr.buffer_len(), 20);
        let mut out = vec![0xffu8; 20];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, &bytes[..20]);
        Ok(())
    }

    #[test]
    fn data_round_trip_differs_only_in_ident() -> Result<()> {
        let bytes = packet(fixtures::DATA);
        let repr = parse(&bytes)?;
        assert_eq!(repr.payload_len, 110);
        let mut out = bytes.clone();
        let mut p = Ipv4Packet::new_unchecked(&mut out[..]);
        repr.emit(&mut p);
        p.set_ident(63933);
        p.fill_checksum();
        assert_eq!(out, bytes);
        Ok(())
    }

    #[test]
    fn echo_reply_without_df() -> Result<()> {
        let bytes = packet(fixtures::ECHO_REPLY);
        let p = Ipv4Packet::new_checked(&bytes[..])?;
        assert!(!p.dont_frag());
        assert_eq!(p.next_header(), IpProtocol::Icmp);
        assert_eq!(parse(&bytes)?.payload_len, 64);
        Ok(())
    }

    #[test]
    fn ethernet_padding_is_dropped() -> Result<()> {
        let mut bytes = packet(fixtures::FIN);
        let total = bytes.len();
        bytes.extend_from_slice(&[0; 6]);
        let p = Ipv4Packet::new_checked(&bytes[..])?;
        assert_eq!(p.payload().len(), total - 20);
        assert_eq!(parse(&bytes)?.payload_len, total - 20);
        Ok(())
    }

    #[test]
    fn options_are_skipped() -> Result<()> {
        // IHL 6: a 4-byte option (NOP NOP NOP EOL) between header and payload.
        let orig = packet(fixtures::FIN);
        let mut bytes = orig[..20].to_vec();
        bytes.extend_from_slice(&[1, 1, 1, 0]);
        bytes.extend_from_slice(&orig[20..]);
        let mut p = Ipv4Packet::new_unchecked(&mut bytes[..]);
        p.set_header_len(24);
        p.set_total_len(orig.len() as u16 + 4);
        p.fill_checksum();
        let p = Ipv4Packet::new_checked(&bytes[..])?;
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &orig[20..]);
        assert_eq!(Ipv4Repr::parse(&p, true)?.payload_len, orig.len() - 20);
        Ok(())
    }

    #[test]
    fn every_truncation_is_an_error() {
        for fixture in [fixtures::SYN, fixtures::DATA, fixtures::ECHO_REQUEST] {
            let bytes = packet(fixture);
            for len in 0..bytes.len() {
                let err = parse(&bytes[..len]).err();
                assert_eq!(err, Some(Error::Truncated), "prefix {len}");
            }
        }
    }

    #[test]
    fn bad_header_fields() {
        let bad_version = edited(fixtures::SYN, |p| p.set_version(6));
        assert_eq!(parse(&bad_version), Err(Error::Malformed));
        let mut bad_ihl = packet(fixtures::SYN);
        bad_ihl[0] = 0x44;
        assert_eq!(parse(&bad_ihl), Err(Error::Malformed));
        let short_total = edited(fixtures::SYN, |p| p.set_total_len(19));
        assert_eq!(parse(&short_total), Err(Error::Malformed));
        let long_total = edited(fixtures::SYN, |p| p.set_total_len(61));
        assert_eq!(parse(&long_total), Err(Error::Truncated));
        let long_ihl = edited(fixtures::SYN, |p| {
            p.set_header_len(60);
            p.set_total_len(60);
        });
        assert!(parse(&long_ihl).is_ok());
        let too_long_ihl = edited(fixtures::SYN, |p| {
            p.set_header_len(60);
            p.set_total_len(40);
        });
        assert_eq!(parse(&too_long_ihl), Err(Error::Malformed));
    }

    #[test]
    fn bad_checksum() -> Result<()> {
        let mut bytes = packet(fixtures::SYN);
        bytes[8] = 63; // TTL changed without fixing the checksum
        assert_eq!(parse(&bytes), Err(Error::Checksum));
        let p = Ipv4Packet::new_checked(&bytes[..])?;
        assert!(!p.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&p, false)?.hop_limit, 63);
        Ok(())
    }

    #[test]
    fn fragments_unsupported() {
        let first = edited(fixtures::SYN, |p| p.set_more_frags(true));
        assert_eq!(parse(&first), Err(Error::Unsupported));
        let later = edited(fixtures::SYN, |p| {
            p.set_dont_frag(false);
            p.set_frag_offset(1480);
        });
        assert_eq!(parse(&later), Err(Error::Unsupported));
        let p = Ipv4Packet::new_unchecked(&later[..]);
        assert_eq!(p.frag_offset(), 1480);
        assert!(!p.dont_frag());
    }

    #[test]
    fn setters_round_trip() {
        let mut bytes = [0u8; 24];
        let mut p = Ipv4Packet::new_unchecked(&mut bytes[..]);
        p.set_version(4);
        p.set_header_len(20);
        p.set_dscp(46);
        p.set_ecn(2);
        p.set_total_len(24);
        p.set_ident(0xbeef);
        p.set_dont_frag(true);
        p.set_hop_limit(3);
        p.set_next_header(IpProtocol::Unknown(99));
        p.set_src_addr(Ipv4Address::new(1, 2, 3, 4));
        p.set_dst_addr(Ipv4Address::new(5, 6, 7, 8));
        p.fill_checksum();
        p.payload_mut().copy_from_slice(b"abcd");
        let p = Ipv4Packet::new_unchecked(&bytes[..]);
        assert_eq!(
            (p.dscp(), p.ecn(), p.ident(), p.hop_limit()),
            (46, 2, 0xbeef, 3)
        );
        assert_eq!(p.next_header(), IpProtocol::Unknown(99));
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), b"abcd");
    }

    #[test]
    fn display() -> Result<()> {
        let repr = parse(&packet(fixtures::DATA))?;
        assert_eq!(
            repr.to_string(),
            "IPv4 src=127.0.0.1 dst=127.0.0.1 proto=TCP len=110 ttl=64"
        );
        Ok(())
    }

    #[test]
    fn address() {
        let a = Ipv4Address::new(10, 7, 0, 2);
        assert_eq!(a.to_string(), "10.7.0.2");
        assert_eq!("10.7.0.2".parse(), Ok(a));
        assert_eq!(
            "10.7.0".parse::<Ipv4Address>(),
            Err(AddrParseError::Address)
        );
        assert_eq!(
            "10.7.0.256".parse::<Ipv4Address>(),
            Err(AddrParseError::Address)
        );
        let std: std::net::Ipv4Addr = a.into();
        assert_eq!(std, std::net::Ipv4Addr::new(10, 7, 0, 2));
        assert_eq!(Ipv4Address::from(std), a);
        assert_eq!(
            Ipv4Address::from_bytes(&[1, 2, 3, 4, 5]).as_bytes(),
            &[1, 2, 3, 4]
        );
        assert!(a.is_unicast() && !a.is_loopback());
        assert!(LOCALHOST.is_loopback());
        assert!(Ipv4Address::new(224, 0, 0, 1).is_multicast());
        assert!(Ipv4Address::new(239, 255, 255, 250).is_multicast());
        assert!(!Ipv4Address::new(240, 0, 0, 1).is_multicast());
        assert!(Ipv4Address::BROADCAST.is_broadcast() && !Ipv4Address::BROADCAST.is_unicast());
        assert!(
            Ipv4Address::UNSPECIFIED.is_unspecified() && !Ipv4Address::UNSPECIFIED.is_unicast()
        );
        assert!(Ipv4Address::new(10, 0, 0, 1) < Ipv4Address::new(10, 0, 1, 0));
    }

    #[test]
    fn cidr() {
        let c: Ipv4Cidr = match "10.7.0.1/24".parse() {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.address(), Ipv4Address::new(10, 7, 0, 1));
        assert_eq!(c.prefix_len(), 24);
        assert_eq!(c.netmask(), Ipv4Address::new(255, 255, 255, 0));
        assert_eq!(c.broadcast(), Ipv4Address::new(10, 7, 0, 255));
        assert_eq!(
            c.network(),
            Ipv4Cidr::new(Ipv4Address::new(10, 7, 0, 0), 24)
        );
        assert!(c.contains_addr(&Ipv4Address::new(10, 7, 0, 200)));
        assert!(!c.contains_addr(&Ipv4Address::new(10, 7, 1, 1)));
        assert_eq!(c.to_string(), "10.7.0.1/24");

        let all = Ipv4Cidr::new(Ipv4Address::UNSPECIFIED, 0);
        assert_eq!(all.netmask(), Ipv4Address::UNSPECIFIED);
        assert!(all.contains_addr(&Ipv4Address::new(8, 8, 8, 8)));
        let host = Ipv4Cidr::new(Ipv4Address::new(10, 0, 0, 1), 32);
        assert_eq!(host.netmask(), Ipv4Address::BROADCAST);
        assert_eq!(host.broadcast(), Ipv4Address::BROADCAST);
        assert!(!host.contains_addr(&Ipv4Address::new(10, 0, 0, 2)));
        let p2p = Ipv4Cidr::new(Ipv4Address::new(10, 0, 0, 0), 31);
        assert_eq!(p2p.broadcast(), Ipv4Address::BROADCAST);
        assert!(p2p.contains_addr(&Ipv4Address::new(10, 0, 0, 1)));

        for bad in [
            "10.7.0.1/33",
            "10.7.0.1",
            "10.7.0.1/",
            "10.7.0.1/x",
            "10.7.0.1/+8",
            "10.7.0.1/024",
        ] {
            assert_eq!(
                bad.parse::<Ipv4Cidr>(),
                Err(AddrParseError::PrefixLen),
                "{bad}"
            );
        }
        assert_eq!("10.7.0/8".parse::<Ipv4Cidr>(), Err(AddrParseError::Address));
    }

    #[test]
    fn protocol_numbers() {
        for (v, p) in [
            (1, IpProtocol::Icmp),
            (6, IpProtocol::Tcp),
            (17, IpProtocol::Udp),
            (58, IpProtocol::Unknown(58)),
        ] {
            assert_eq!(IpProtocol::from(v), p);
            assert_eq!(u8::from(p), v);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80), verify: bool) {
            if let Ok(p) = Ipv4Packet::new_checked(&bytes[..]) {
                let _ = p.verify_checksum();
                let _ = p.payload();
                let _ = p.options();
                let _ = Ipv4Repr::parse(&p, verify);
            }
        }

        #[test]
        fn plausible_headers_never_panic(
            ver_ihl in 0x40u8..0x50,
            total_len in 0u16..80,
            flags: u16,
            tail in proptest::collection::vec(any::<u8>(), 0..60),
        ) {
            let mut bytes = vec![ver_ihl, 0];
            bytes.extend_from_slice(&total_len.to_be_bytes());
            bytes.extend_from_slice(&[0, 0]);
            bytes.extend_from_slice(&flags.to_be_bytes());
            bytes.extend_from_slice(&tail);
            if let Ok(p) = Ipv4Packet::new_checked(&bytes[..]) {
                prop_assert!(p.header_len() as usize <= p.total_len() as usize);
                let _ = Ipv4Repr::parse(&p, false);
                let _ = p.payload();
            }
        }

        #[test]
        fn emit_parse_round_trip(src: [u8; 4], dst: [u8; 4], proto: u8, payload_len in 0usize..2000, ttl: u8) {
            let repr = Ipv4Repr {
                src_addr: Ipv4Address(src),
                dst_addr: Ipv4Address(dst),
                next_header: IpProtocol::from(proto),
                payload_len,
                hop_limit: ttl,
            };
            let mut bytes = vec![0u8; 20 + payload_len];
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut bytes[..]));
            prop_assert_eq!(parse(&bytes), Ok(repr));
        }
    }
}
