//! ICMP for IPv4 (RFC 792): echo, and the errors a TCP host acts on.
//!
//! The contract: [`Icmpv4Packet::new_checked`] accepts any buffer of at least
//! 8 bytes (type, code, checksum, and the 4-byte rest of header), after which
//! no getter panics. The buffer is the IP payload exactly: the checksum covers
//! all of it. [`Icmpv4Repr::parse`] gives echo request/reply, destination
//! unreachable (with the RFC 1191 next-hop MTU) and time exceeded their own
//! variants; everything else is [`Icmpv4Repr::Other`], which the interface
//! ignores (RFC 1122 §3.2.2: unknown types MUST be silently discarded).
//! [`Icmpv4Invoking::parse`] reads the quoted datagram inside an error.

use core::fmt;

use super::checksum;
use super::{Error, IpProtocol, Ipv4Address, Result};

/// The ICMP message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Message {
    /// 0
    EchoReply,
    /// 3
    DstUnreachable,
    /// 5
    Redirect,
    /// 8
    EchoRequest,
    /// 11
    TimeExceeded,
    /// 12
    ParamProblem,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for Icmpv4Message {
    fn from(v: u8) -> Self {
        match v {
            0 => Icmpv4Message::EchoReply,
            3 => Icmpv4Message::DstUnreachable,
            5 => Icmpv4Message::Redirect,
            8 => Icmpv4Message::EchoRequest,
            11 => Icmpv4Message::TimeExceeded,
            12 => Icmpv4Message::ParamProblem,
            other => Icmpv4Message::Unknown(other),
        }
    }
}

impl From<Icmpv4Message> for u8 {
    fn from(m: Icmpv4Message) -> u8 {
        match m {
            Icmpv4Message::EchoReply => 0,
            Icmpv4Message::DstUnreachable => 3,
            Icmpv4Message::Redirect => 5,
            Icmpv4Message::EchoRequest => 8,
            Icmpv4Message::TimeExceeded => 11,
            Icmpv4Message::ParamProblem => 12,
            Icmpv4Message::Unknown(other) => other,
        }
    }
}

/// Destination-unreachable codes tapir names (RFC 792, RFC 1122 §3.2.2.1).
pub mod unreachable {
    /// Network unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Protocol unreachable.
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable.
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set; carries the next-hop MTU (RFC 1191 §4).
    pub const FRAG_NEEDED: u8 = 4;
}

mod field {
    use core::ops::{Range, RangeFrom};
    pub(super) const TYPE: usize = 0;
    pub(super) const CODE: usize = 1;
    pub(super) const CHECKSUM: Range<usize> = 2..4;
    pub(super) const ECHO_IDENT: Range<usize> = 4..6;
    pub(super) const ECHO_SEQNO: Range<usize> = 6..8;
    pub(super) const UNUSED: Range<usize> = 4..6;
    pub(super) const MTU: Range<usize> = 6..8;
    pub(super) const DATA: RangeFrom<usize> = 8..;
}

/// Length of the ICMP header: type, code, checksum and the 4-byte rest of header.
pub const ICMPV4_HEADER_LEN: usize = field::DATA.start;

/// A read/write view of an ICMPv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Same as [`ICMPV4_HEADER_LEN`], which needs no type parameter (this one is
    /// spelled `Icmpv4Packet::<&[u8]>::HEADER_LEN`).
    pub const HEADER_LEN: usize = ICMPV4_HEADER_LEN;

    /// Wraps a buffer without checking it. Use for buffers we fill ourselves.
    pub const fn new_unchecked(buffer: T) -> Icmpv4Packet<T> {
        Icmpv4Packet { buffer }
    }

    /// Wraps a received buffer: [`Error::Truncated`] below 8 bytes.
    pub fn new_checked(buffer: T) -> Result<Icmpv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the 8-byte header is present.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ICMPV4_HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives back the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The type.
    pub fn msg_type(&self) -> Icmpv4Message {
        Icmpv4Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// Echo identifier (echo request/reply only).
    pub fn echo_ident(&self) -> u16 {
        self.u16_at(field::ECHO_IDENT)
    }

    /// Echo sequence number (echo request/reply only).
    pub fn echo_seq_no(&self) -> u16 {
        self.u16_at(field::ECHO_SEQNO)
    }

    /// Next-hop MTU (destination unreachable, code 4 only; RFC 1191 §4).
    /// Zero from routers older than RFC 1191.
    pub fn next_hop_mtu(&self) -> u16 {
        self.u16_at(field::MTU)
    }

    /// Is the checksum over the whole message right?
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == !0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv4Packet<&'a T> {
    /// The bytes after the 8-byte header: echo data, or the invoking datagram.
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::DATA]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    fn set_u16_at(&mut self, r: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes())
    }

    /// Sets the type.
    pub fn set_msg_type(&mut self, t: Icmpv4Message) {
        self.buffer.as_mut()[field::TYPE] = t.into()
    }

    /// Sets the code.
    pub fn set_msg_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code
    }

    /// Sets the checksum field as is; see [`fill_checksum`](Self::fill_checksum).
    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16_at(field::CHECKSUM, v)
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, v: u16) {
        self.set_u16_at(field::ECHO_IDENT, v)
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, v: u16) {
        self.set_u16_at(field::ECHO_SEQNO, v)
    }

    /// Sets the next-hop MTU (and zeroes the unused half of the word).
    pub fn set_next_hop_mtu(&mut self, v: u16) {
        self.set_u16_at(field::UNUSED, 0);
        self.set_u16_at(field::MTU, v)
    }

    /// The data, for writing in place.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }

    /// Computes and stores the checksum over the whole buffer. Call last.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(!sum)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Icmpv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An ICMP message's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Repr<'a> {
    /// Type 8, code 0.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data, echoed back unchanged (RFC 1122 §3.2.2.6).
        data: &'a [u8],
    },
    /// Type 0, code 0.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data.
        data: &'a [u8],
    },
    /// Type 3.
    DstUnreachable {
        /// See [`unreachable`](mod@unreachable).
        code: u8,
        /// Next-hop MTU for code 4 (RFC 1191 §4); 0 otherwise or from old routers.
        next_hop_mtu: u16,
        /// The original IP header and at least 8 bytes of its payload (RFC 792);
        /// read it with [`Icmpv4Invoking::parse`].
        invoking: &'a [u8],
    },
    /// Type 11.
    TimeExceeded {
        /// 0: TTL exceeded in transit; 1: reassembly time exceeded.
        code: u8,
        /// The original IP header and at least 8 bytes of its payload.
        invoking: &'a [u8],
    },
    /// Any other type, or echo with a non-zero code: ignored by tapir.
    Other {
        /// The type byte.
        msg_type: u8,
        /// The code byte.
        code: u8,
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Reads a checked message. [`Error::Checksum`] if `verify_checksum` and the
    /// checksum is wrong (RFC 1122 §3.2.2: silently discarded).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv4Packet<&'a T>,
        verify_checksum: bool,
    ) -> Result<Icmpv4Repr<'a>> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        let code = packet.msg_code();
        Ok(match (packet.msg_type(), code) {
            (Icmpv4Message::EchoRequest, 0) => Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            },
            (Icmpv4Message::EchoReply, 0) => Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            },
            (Icmpv4Message::DstUnreachable, code) => Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: packet.next_hop_mtu(),
                invoking: packet.data(),
            },
            (Icmpv4Message::TimeExceeded, code) => Icmpv4Repr::TimeExceeded {
                code,
                invoking: packet.data(),
            },
            (msg_type, code) => Icmpv4Repr::Other {
                msg_type: msg_type.into(),
                code,
            },
        })
    }

    /// Bytes `emit` writes: 8 plus the data or invoking bytes.
    pub fn buffer_len(&self) -> usize {
        ICMPV4_HEADER_LEN
            + match self {
                Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => {
                    data.len()
                }
                Icmpv4Repr::DstUnreachable { invoking, .. }
                | Icmpv4Repr::TimeExceeded { invoking, .. } => invoking.len(),
                Icmpv4Repr::Other { .. } => 0,
            }
    }

    /// Writes the message into the first [`buffer_len`](Self::buffer_len)
    /// bytes and fills the checksum over exactly those bytes. `Other` writes
    /// type and code with a zero rest-of-header.
    ///
    /// # Panics
    /// If the buffer is shorter than `buffer_len()`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Icmpv4Packet<T>) {
        let len = self.buffer_len();
        let mut view = Icmpv4Packet::new_unchecked(&mut packet.buffer.as_mut()[..len]);
        let (msg_type, code, body): (Icmpv4Message, u8, &[u8]) = match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                view.set_echo_ident(ident);
                view.set_echo_seq_no(seq_no);
                (Icmpv4Message::EchoRequest, 0, data)
            }
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                view.set_echo_ident(ident);
                view.set_echo_seq_no(seq_no);
                (Icmpv4Message::EchoReply, 0, data)
            }
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                invoking,
            } => {
                view.set_next_hop_mtu(next_hop_mtu);
                (Icmpv4Message::DstUnreachable, code, invoking)
            }
            Icmpv4Repr::TimeExceeded { code, invoking } => {
                view.set_next_hop_mtu(0);
                (Icmpv4Message::TimeExceeded, code, invoking)
            }
            Icmpv4Repr::Other { msg_type, code } => {
                view.set_next_hop_mtu(0);
                (Icmpv4Message::from(msg_type), code, &[][..])
            }
        };
        view.set_msg_type(msg_type);
        view.set_msg_code(code);
        view.data_mut().copy_from_slice(body);
        view.fill_checksum();
    }
}

impl fmt::Display for Icmpv4Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP echo request id={ident} seq={seq_no} len={}",
                data.len()
            ),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP echo reply id={ident} seq={seq_no} len={}",
                data.len()
            ),
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                invoking,
            } => write!(
                f,
                "ICMP unreachable code={code} mtu={next_hop_mtu} len={}",
                invoking.len()
            ),
            Icmpv4Repr::TimeExceeded { code, invoking } => {
                write!(f, "ICMP time exceeded code={code} len={}", invoking.len())
            }
            Icmpv4Repr::Other { msg_type, code } => {
                write!(f, "ICMP type={msg_type} code={code}")
            }
        }
    }
}

/// The datagram quoted in an ICMP error: whom it was from and to, and the
/// first bytes of its payload (for TCP: ports and sequence number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icmpv4Invoking<'a> {
    /// Source of the original datagram (us, if it is about our packet).
    pub src_addr: Ipv4Address,
    /// Destination of the original datagram.
    pub dst_addr: Ipv4Address,
    /// Its protocol.
    pub next_header: IpProtocol,
    /// The quoted payload bytes: at least 8 (RFC 792), possibly more
    /// (RFC 1812 §4.3.2.3 quotes up to 576 bytes in all).
    pub payload: &'a [u8],
}

impl<'a> Icmpv4Invoking<'a> {
    /// Reads the invoking bytes of a `DstUnreachable` or `TimeExceeded`. The
    /// quoted datagram is usually cut short, so its total length is not
    /// checked. [`Error::Truncated`] if the IP header or 8 bytes of payload are
    /// missing; [`Error::Malformed`] for a version other than 4 or IHL below 5.
    pub fn parse(invoking: &'a [u8]) -> Result<Icmpv4Invoking<'a>> {
        if invoking.len() < super::IPV4_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = usize::from(invoking[0] & 0x0f) * 4;
        if invoking[0] >> 4 != 4 || header_len < super::IPV4_HEADER_LEN {
            return Err(Error::Malformed);
        }
        if invoking.len() < header_len + 8 {
            return Err(Error::Truncated);
        }
        let header = super::Ipv4Packet::new_unchecked(invoking);
        Ok(Icmpv4Invoking {
            src_addr: header.src_addr(),
            dst_addr: header.dst_addr(),
            next_header: header.next_header(),
            payload: &invoking[header_len..],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, hex};
    use super::super::{Ipv4Packet, Ipv4Repr};
    use super::*;
    use proptest::prelude::*;

    /// The ICMP message of a fixture frame.
    fn message(fixture: &str) -> Vec<u8> {
        hex(fixture)[34..].to_vec()
    }

    fn parse(bytes: &[u8]) -> Result<Icmpv4Repr<'_>> {
        Icmpv4Repr::parse(&Icmpv4Packet::new_checked(bytes)?, true)
    }

    fn emit(repr: &Icmpv4Repr<'_>) -> Vec<u8> {
        let mut out = vec![0xa5; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
        out
    }

    #[test]
    fn echo_request_fixture() -> Result<()> {
        let bytes = message(fixtures::ECHO_REQUEST);
        let p = Icmpv4Packet::new_checked(&bytes[..])?;
        assert_eq!(p.msg_type(), Icmpv4Message::EchoRequest);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0x1977);
        assert_eq!(p.echo_ident(), 7964);
        assert_eq!(p.echo_seq_no(), 1);
        assert!(p.verify_checksum());
        assert_eq!(p.data().len(), 56);
        let repr = parse(&bytes)?;
        assert_eq!(
            repr,
            Icmpv4Repr::EchoRequest {
                ident: 7964,
                seq_no: 1,
                data: &bytes[8..],
            }
        );
        assert_eq!(repr.buffer_len(), 64);
        assert_eq!(emit(&repr), bytes);
        assert_eq!(repr.to_string(), "ICMP echo request id=7964 seq=1 len=56");
        Ok(())
    }

    #[test]
    fn echo_reply_is_what_we_would_answer() -> Result<()> {
        let request = message(fixtures::ECHO_REQUEST);
        let reply = message(fixtures::ECHO_REPLY);
        let Icmpv4Repr::EchoRequest {
            ident,
            seq_no,
            data,
        } = parse(&request)?
        else {
            panic!("not an echo request");
        };
        // RFC 792 / RFC 1122 §3.2.2.6: same identifier, sequence and data.
        let answer = Icmpv4Repr::EchoReply {
            ident,
            seq_no,
            data,
        };
        assert_eq!(parse(&reply)?, answer);
        assert_eq!(emit(&answer), reply);
        Ok(())
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = hex(fixtures::ECHO_REQUEST);
        for len in 0..bytes.len() {
            let res = Ipv4Packet::new_checked(&bytes[14..len.max(14)])
                .and_then(|ip| Ipv4Repr::parse(&ip, true).map(|_| ip))
                .and_then(|ip| parse(ip.payload()).map(|_| ()));
            assert!(res.is_err(), "prefix {len}");
        }
        let icmp = message(fixtures::ECHO_REQUEST);
        for len in 0..8 {
            assert_eq!(parse(&icmp[..len]), Err(Error::Truncated));
        }
        for len in 8..icmp.len() {
            assert_eq!(parse(&icmp[..len]), Err(Error::Checksum), "prefix {len}");
        }
    }

    #[test]
    fn bad_checksum() -> Result<()> {
        let mut bytes = message(fixtures::ECHO_REQUEST);
        bytes[20] ^= 0x80;
        assert_eq!(parse(&bytes), Err(Error::Checksum));
        let p = Icmpv4Packet::new_checked(&bytes[..])?;
        assert!(Icmpv4Repr::parse(&p, false).is_ok());
        Ok(())
    }

    /// A frag-needed error about the SYN fixture, as a router would send it.
    #[test]
    fn frag_needed_round_trip() -> Result<()> {
        let syn = hex(fixtures::SYN);
        let invoking = &syn[14..14 + 28];
        let repr = Icmpv4Repr::DstUnreachable {
            code: unreachable::FRAG_NEEDED,
            next_hop_mtu: 1400,
            invoking,
        };
        let bytes = emit(&repr);
        assert_eq!(&bytes[..8], &[3, 4, bytes[2], bytes[3], 0, 0, 0x05, 0x78]);
        let p = Icmpv4Packet::new_checked(&bytes[..])?;
        assert_eq!(p.next_hop_mtu(), 1400);
        let parsed = parse(&bytes)?;
        assert_eq!(parsed, repr);
        assert_eq!(
            parsed.to_string(),
            "ICMP unreachable code=4 mtu=1400 len=28"
        );
        let Icmpv4Repr::DstUnreachable { invoking, .. } = parsed else {
            panic!("not unreachable");
        };
        let quoted = Icmpv4Invoking::parse(invoking)?;
        assert_eq!(quoted.src_addr, fixtures::LOCALHOST);
        assert_eq!(quoted.next_header, IpProtocol::Tcp);
        // Source port 43998, destination 8099, then the sequence number.
        assert_eq!(&quoted.payload[..4], &[0xab, 0xde, 0x1f, 0xa3]);
        Ok(())
    }

    #[test]
    fn invoking_checks() {
        let syn = hex(fixtures::SYN);
        let ip = &syn[14..];
        for len in 0..28 {
            assert_eq!(
                Icmpv4Invoking::parse(&ip[..len]),
                Err(Error::Truncated),
                "{len}"
            );
        }
        assert!(Icmpv4Invoking::parse(&ip[..28]).is_ok());
        let mut v6 = ip.to_vec();
        v6[0] = 0x65;
        assert_eq!(Icmpv4Invoking::parse(&v6), Err(Error::Malformed));
        let mut ihl4 = ip.to_vec();
        ihl4[0] = 0x44;
        assert_eq!(Icmpv4Invoking::parse(&ihl4), Err(Error::Malformed));
        let mut ihl15 = ip.to_vec();
        ihl15[0] = 0x4f;
        ihl15.resize(67, 0); // 60-byte header, 7 bytes of payload
        assert_eq!(Icmpv4Invoking::parse(&ihl15[..67]), Err(Error::Truncated));
    }

    #[test]
    fn other_messages() -> Result<()> {
        let time_exceeded = Icmpv4Repr::TimeExceeded {
            code: 0,
            invoking: &[0x45; 28],
        };
        assert_eq!(parse(&emit(&time_exceeded))?, time_exceeded);
        for (msg_type, code) in [(5, 1), (12, 0), (13, 0), (8, 1), (0, 3)] {
            let other = Icmpv4Repr::Other { msg_type, code };
            let bytes = emit(&other);
            assert_eq!(bytes.len(), 8);
            assert_eq!(parse(&bytes)?, other);
        }
        assert_eq!(Icmpv4Message::from(5), Icmpv4Message::Redirect);
        assert_eq!(Icmpv4Message::from(12), Icmpv4Message::ParamProblem);
        assert_eq!(u8::from(Icmpv4Message::Unknown(42)), 42);
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), verify: bool) {
            if let Ok(p) = Icmpv4Packet::new_checked(&bytes[..]) {
                if let Ok(Icmpv4Repr::DstUnreachable { invoking, .. } | Icmpv4Repr::TimeExceeded { invoking, .. }) =
                    Icmpv4Repr::parse(&p, verify)
                {
                    let _ = Icmpv4Invoking::parse(invoking);
                }
            }
            let _ = Icmpv4Invoking::parse(&bytes);
        }

        #[test]
        fn echo_round_trip(request: bool, ident: u16, seq_no: u16, data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let repr = if request {
                Icmpv4Repr::EchoRequest { ident, seq_no, data: &data }
            } else {
                Icmpv4Repr::EchoReply { ident, seq_no, data: &data }
            };
            let bytes = emit(&repr);
            prop_assert_eq!(parse(&bytes), Ok(repr));
        }
    }
}
