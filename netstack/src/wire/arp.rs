//! ARP (RFC 826) for IPv4 over Ethernet.
//!
//! The contract: [`ArpPacket::new_checked`] accepts a buffer that holds the
//! fixed part and both address pairs at the lengths the packet declares, after
//! which no getter panics. [`ArpRepr::parse`] accepts only Ethernet/IPv4
//! (hardware type 1, protocol 0x0800, lengths 6 and 4) and returns
//! [`Error::Unsupported`] for anything else. Gratuitous ARP and probes
//! (RFC 5227) are ordinary requests/replies here; the neighbour cache decides.

use core::fmt;

use super::{Error, EthernetAddress, EthernetProtocol, Ipv4Address, Result};

/// The ARP operation code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    /// 1
    Request,
    /// 2
    Reply,
    /// Anything else (RARP, InARP, ...).
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(op: ArpOperation) -> u16 {
        match op {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(other) => other,
        }
    }
}

/// Hardware type 1: Ethernet (RFC 826; IANA "Hardware Types").
pub const ARP_HARDWARE_ETHERNET: u16 = 1;

mod field {
    use core::ops::Range;
    pub(super) const HTYPE: Range<usize> = 0..2;
    pub(super) const PTYPE: Range<usize> = 2..4;
    pub(super) const HLEN: usize = 4;
    pub(super) const PLEN: usize = 5;
    pub(super) const OPER: Range<usize> = 6..8;
    pub(super) const ADDRS: usize = 8;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_ETHERNET_IPV4_LEN: usize = field::ADDRS + 2 * (6 + 4);

/// A read/write view of an ARP packet with any address lengths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps a buffer without checking it. Use for buffers we fill ourselves.
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Wraps a received buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// [`Error::Truncated`] unless the buffer holds the 8-byte fixed part and
    /// both address pairs at the declared lengths. Trailing bytes (Ethernet
    /// padding) are allowed.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < field::ADDRS || len < self.total_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    fn total_len(&self) -> usize {
        field::ADDRS + 2 * (self.hardware_len() as usize + self.protocol_len() as usize)
    }

    /// Gives back the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Hardware type (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        self.u16_at(field::HTYPE)
    }

    /// Protocol type, an EtherType (0x0800 for IPv4).
    pub fn protocol_type(&self) -> EthernetProtocol {
        EthernetProtocol::from(self.u16_at(field::PTYPE))
    }

    /// Hardware address length.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// The operation.
    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(self.u16_at(field::OPER))
    }

    fn sha(&self) -> core::ops::Range<usize> {
        let start = field::ADDRS;
        start..start + self.hardware_len() as usize
    }

    fn spa(&self) -> core::ops::Range<usize> {
        let start = self.sha().end;
        start..start + self.protocol_len() as usize
    }

    fn tha(&self) -> core::ops::Range<usize> {
        let start = self.spa().end;
        start..start + self.hardware_len() as usize
    }

    fn tpa(&self) -> core::ops::Range<usize> {
        let start = self.tha().end;
        start..start + self.protocol_len() as usize
    }

    /// Sender hardware address bytes.
    pub fn source_hardware_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.sha()]
    }

    /// Sender protocol address bytes.
    pub fn source_protocol_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.spa()]
    }

    /// Target hardware address bytes.
    pub fn target_hardware_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.tha()]
    }

    /// Target protocol address bytes.
    pub fn target_protocol_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.tpa()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    fn set_u16_at(&mut self, r: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes())
    }

    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, v: u16) {
        self.set_u16_at(field::HTYPE, v)
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, v: EthernetProtocol) {
        self.set_u16_at(field::PTYPE, v.into())
    }

    /// Sets the hardware address length (set before the addresses).
    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v
    }

    /// Sets the protocol address length (set before the addresses).
    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, op: ArpOperation) {
        self.set_u16_at(field::OPER, op.into())
    }

    /// Sets the sender hardware address; `addr` must be `hardware_len` long.
    pub fn set_source_hardware_addr(&mut self, addr: &[u8]) {
        let r = self.sha();
        self.buffer.as_mut()[r].copy_from_slice(addr)
    }

    /// Sets the sender protocol address; `addr` must be `protocol_len` long.
    pub fn set_source_protocol_addr(&mut self, addr: &[u8]) {
        let r = self.spa();
        self.buffer.as_mut()[r].copy_from_slice(addr)
    }

    /// Sets the target hardware address; `addr` must be `hardware_len` long.
    pub fn set_target_hardware_addr(&mut self, addr: &[u8]) {
        let r = self.tha();
        self.buffer.as_mut()[r].copy_from_slice(addr)
    }

    /// Sets the target protocol address; `addr` must be `protocol_len` long.
    pub fn set_target_protocol_addr(&mut self, addr: &[u8]) {
        let r = self.tpa();
        self.buffer.as_mut()[r].copy_from_slice(addr)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for ArpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An ARP packet we understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpRepr {
    /// IPv4 over Ethernet.
    EthernetIpv4 {
        /// Request or reply.
        operation: ArpOperation,
        /// Sender MAC.
        source_hardware_addr: EthernetAddress,
        /// Sender IPv4 address.
        source_protocol_addr: Ipv4Address,
        /// Target MAC (zero in a request).
        target_hardware_addr: EthernetAddress,
        /// Target IPv4 address.
        target_protocol_addr: Ipv4Address,
    },
}

impl ArpRepr {
    /// Reads a checked packet. [`Error::Unsupported`] unless it is
    /// Ethernet (1) / IPv4 (0x0800) with lengths 6 and 4.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &ArpPacket<&T>) -> Result<ArpRepr> {
        packet.check_len()?;
        if packet.hardware_type() != ARP_HARDWARE_ETHERNET
            || packet.protocol_type() != EthernetProtocol::Ipv4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Unsupported);
        }
        Ok(ArpRepr::EthernetIpv4 {
            operation: packet.operation(),
            source_hardware_addr: EthernetAddress::from_bytes(packet.source_hardware_addr()),
            source_protocol_addr: Ipv4Address::from_bytes(packet.source_protocol_addr()),
            target_hardware_addr: EthernetAddress::from_bytes(packet.target_hardware_addr()),
            target_protocol_addr: Ipv4Address::from_bytes(packet.target_protocol_addr()),
        })
    }

    /// Bytes `emit` writes: 28.
    pub const fn buffer_len(&self) -> usize {
        match self {
            ArpRepr::EthernetIpv4 { .. } => ARP_ETHERNET_IPV4_LEN,
        }
    }

    /// Writes the packet.
    ///
    /// # Panics
    /// If the buffer is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) {
        match *self {
            ArpRepr::EthernetIpv4 {
                operation,
                source_hardware_addr,
                source_protocol_addr,
                target_hardware_addr,
                target_protocol_addr,
            } => {
                packet.set_hardware_type(ARP_HARDWARE_ETHERNET);
                packet.set_protocol_type(EthernetProtocol::Ipv4);
                packet.set_hardware_len(6);
                packet.set_protocol_len(4);
                packet.set_operation(operation);
                packet.set_source_hardware_addr(&source_hardware_addr.0);
                packet.set_source_protocol_addr(&source_protocol_addr.0);
                packet.set_target_hardware_addr(&target_hardware_addr.0);
                packet.set_target_protocol_addr(&target_protocol_addr.0);
            }
        }
    }
}

impl fmt::Display for ArpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArpRepr::EthernetIpv4 {
                operation,
                source_hardware_addr,
                source_protocol_addr,
                target_hardware_addr,
                target_protocol_addr,
            } => match operation {
                ArpOperation::Request => write!(
                    f,
                    "ARP who-has {target_protocol_addr} tell {source_protocol_addr} ({source_hardware_addr})"
                ),
                ArpOperation::Reply => write!(
                    f,
                    "ARP {source_protocol_addr} is-at {source_hardware_addr} (to {target_protocol_addr} {target_hardware_addr})"
                ),
                ArpOperation::Unknown(op) => write!(
                    f,
                    "ARP op={op} sha={source_hardware_addr} spa={source_protocol_addr} tha={target_hardware_addr} tpa={target_protocol_addr}"
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, hex};
    use super::*;
    use proptest::prelude::*;

    fn packet() -> Vec<u8> {
        hex(fixtures::ARP_REQUEST)[14..].to_vec()
    }

    fn request() -> ArpRepr {
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            source_protocol_addr: Ipv4Address::new(10, 7, 0, 2),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Address::new(10, 7, 0, 1),
        }
    }

    #[test]
    fn request_fixture() -> Result<()> {
        let bytes = packet();
        let p = ArpPacket::new_checked(&bytes[..])?;
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), EthernetProtocol::Ipv4);
        assert_eq!((p.hardware_len(), p.protocol_len()), (6, 4));
        assert_eq!(p.operation(), ArpOperation::Request);
        assert_eq!(p.source_hardware_addr(), &[2, 0, 0, 0, 0, 2]);
        assert_eq!(p.source_protocol_addr(), &[10, 7, 0, 2]);
        assert_eq!(p.target_hardware_addr(), &[0; 6]);
        assert_eq!(p.target_protocol_addr(), &[10, 7, 0, 1]);
        let repr = ArpRepr::parse(&p)?;
        assert_eq!(repr, request());
        assert_eq!(repr.buffer_len(), 28);
        let mut out = vec![0xffu8; 28];
        repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
        assert_eq!(out, bytes);
        assert_eq!(
            repr.to_string(),
            "ARP who-has 10.7.0.1 tell 10.7.0.2 (02:00:00:00:00:02)"
        );
        Ok(())
    }

    #[test]
    fn padded_request_parses() -> Result<()> {
        // A minimum-size Ethernet frame pads the 28 bytes to 46.
        let mut bytes = packet();
        bytes.resize(46, 0);
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_checked(&bytes[..])?)?,
            request()
        );
        Ok(())
    }

    #[test]
    fn reply_round_trip() -> Result<()> {
        let reply = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            source_protocol_addr: Ipv4Address::new(10, 7, 0, 1),
            target_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            target_protocol_addr: Ipv4Address::new(10, 7, 0, 2),
        };
        let mut out = [0u8; 28];
        reply.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
        assert_eq!(&out[6..8], &[0, 2]);
        assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&out[..])?)?, reply);
        assert_eq!(
            reply.to_string(),
            "ARP 10.7.0.1 is-at 02:00:00:00:00:01 (to 10.7.0.2 02:00:00:00:00:02)"
        );
        Ok(())
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = packet();
        for len in 0..bytes.len() {
            assert_eq!(
                ArpPacket::new_checked(&bytes[..len]).err(),
                Some(Error::Truncated),
                "prefix {len}"
            );
        }
    }

    #[test]
    fn other_hardware_or_protocol_unsupported() -> Result<()> {
        for (at, value) in [(1, 6), (2, 0x86), (4, 8), (5, 16)] {
            let mut bytes = packet();
            bytes[at] = value;
            bytes.resize(80, 0);
            let p = ArpPacket::new_checked(&bytes[..])?;
            assert_eq!(ArpRepr::parse(&p), Err(Error::Unsupported), "byte {at}");
        }
        let mut bytes = packet();
        bytes[7] = 9;
        let p = ArpPacket::new_checked(&bytes[..])?;
        assert!(matches!(
            ArpRepr::parse(&p),
            Ok(ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Unknown(9),
                ..
            })
        ));
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = ArpPacket::new_checked(&bytes[..]) {
                let _ = p.source_hardware_addr();
                let _ = p.target_protocol_addr();
                let _ = ArpRepr::parse(&p);
            }
        }
    }
}
