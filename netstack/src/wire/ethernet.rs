//! Ethernet II frames (IEEE 802.3 with an EtherType, RFC 894).
//!
//! The contract: [`EthernetFrame::new_checked`] accepts any buffer of at least
//! [`ETHERNET_HEADER_LEN`] bytes, after which no getter panics. The frame check
//! sequence is not part of the buffer (a TAP device strips it) and minimum-size
//! padding is left in the payload for the IP layer to cut off by its own length.
//! 802.1Q tags are not understood: a tagged frame parses with ethertype
//! `Unknown(0x8100)` and is dropped above.

use core::fmt;

use super::{Error, Result};

/// A 48-bit MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// Reads an address from the first six bytes of `bytes`.
    ///
    /// # Panics
    /// If `bytes` is shorter than six bytes; callers pass a field of a checked view.
    pub fn from_bytes(bytes: &[u8]) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&bytes[..6]);
        EthernetAddress(a)
    }

    /// The six address bytes.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Is this ff:ff:ff:ff:ff:ff?
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Is the group bit (least significant bit of the first octet) set?
    /// Broadcast counts as multicast here, as in IEEE 802.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// An individual address: group bit clear.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Is the locally-administered bit set (as for TAP devices' random MACs)?
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// The EtherType field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EthernetProtocol {
    /// 0x0800
    Ipv4,
    /// 0x0806
    Arp,
    /// 0x86dd
    Ipv6,
    /// Anything else, including 802.1Q tags and 802.3 length fields.
    Unknown(u16),
}

impl From<u16> for EthernetProtocol {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EthernetProtocol::Ipv4,
            0x0806 => EthernetProtocol::Arp,
            0x86dd => EthernetProtocol::Ipv6,
            other => EthernetProtocol::Unknown(other),
        }
    }
}

impl From<EthernetProtocol> for u16 {
    fn from(p: EthernetProtocol) -> u16 {
        match p {
            EthernetProtocol::Ipv4 => 0x0800,
            EthernetProtocol::Arp => 0x0806,
            EthernetProtocol::Ipv6 => 0x86dd,
            EthernetProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EthernetProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EthernetProtocol::Ipv4 => f.write_str("IPv4"),
            EthernetProtocol::Arp => f.write_str("ARP"),
            EthernetProtocol::Ipv6 => f.write_str("IPv6"),
            EthernetProtocol::Unknown(v) => write!(f, "0x{v:04x}"),
        }
    }
}

mod field {
    use core::ops::{Range, RangeFrom};
    pub(super) const DESTINATION: Range<usize> = 0..6;
    pub(super) const SOURCE: Range<usize> = 6..12;
    pub(super) const ETHERTYPE: Range<usize> = 12..14;
    pub(super) const PAYLOAD: RangeFrom<usize> = 14..;
}

/// Length of an Ethernet II header: two addresses and the EtherType.
pub const ETHERNET_HEADER_LEN: usize = field::PAYLOAD.start;

/// A read/write view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Same as [`ETHERNET_HEADER_LEN`], which needs no type parameter (this one is
    /// spelled `EthernetFrame::<&[u8]>::HEADER_LEN`).
    pub const HEADER_LEN: usize = ETHERNET_HEADER_LEN;

    /// Wraps a buffer without checking it. Use for buffers we fill ourselves.
    pub const fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// Wraps a received buffer: [`Error::Truncated`] if it cannot hold a header.
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks that the buffer holds a whole header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ETHERNET_HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives back the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC.
    pub fn dst_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::DESTINATION])
    }

    /// Source MAC.
    pub fn src_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::SOURCE])
    }

    /// The EtherType.
    pub fn ethertype(&self) -> EthernetProtocol {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        EthernetProtocol::from(u16::from_be_bytes([b[0], b[1]]))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> EthernetFrame<&'a T> {
    /// Everything after the header, padding included.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC.
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&addr.0)
    }

    /// Sets the source MAC.
    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&addr.0)
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, ethertype: EthernetProtocol) {
        let v: u16 = ethertype.into();
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&v.to_be_bytes())
    }

    /// The payload, for writing the next layer in place.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for EthernetFrame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The fields of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Source MAC.
    pub src_addr: EthernetAddress,
    /// Destination MAC.
    pub dst_addr: EthernetAddress,
    /// What the payload is.
    pub ethertype: EthernetProtocol,
}

impl EthernetRepr {
    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &EthernetFrame<&T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Header length: [`ETHERNET_HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        ETHERNET_HEADER_LEN
    }

    /// Writes the header; the payload is left alone.
    ///
    /// # Panics
    /// If the buffer is shorter than [`ETHERNET_HEADER_LEN`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) {
        frame.set_src_addr(self.src_addr);
        frame.set_dst_addr(self.dst_addr);
        frame.set_ethertype(self.ethertype);
    }
}

impl fmt::Display for EthernetRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ETH src={} dst={} type={}",
            self.src_addr, self.dst_addr, self.ethertype
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, hex};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn arp_frame_header() -> Result<()> {
        let bytes = hex(fixtures::ARP_REQUEST);
        let frame = EthernetFrame::new_checked(&bytes[..])?;
        assert_eq!(frame.dst_addr(), EthernetAddress::BROADCAST);
        assert_eq!(frame.src_addr(), EthernetAddress([2, 0, 0, 0, 0, 2]));
        assert_eq!(frame.ethertype(), EthernetProtocol::Arp);
        assert_eq!(frame.payload().len(), 28);
        let repr = EthernetRepr::parse(&frame)?;
        assert_eq!(
            repr,
            EthernetRepr {
                src_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
                dst_addr: EthernetAddress::BROADCAST,
                ethertype: EthernetProtocol::Arp,
            }
        );
        assert_eq!(
            repr.to_string(),
            "ETH src=02:00:00:00:00:02 dst=ff:ff:ff:ff:ff:ff type=ARP"
        );
        let mut out = vec![0u8; bytes.len()];
        let mut frame = EthernetFrame::new_unchecked(&mut out[..]);
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(&bytes[14..]);
        assert_eq!(out, bytes);
        Ok(())
    }

    #[test]
    fn loopback_frame_header() -> Result<()> {
        let bytes = hex(fixtures::SYN);
        let frame = EthernetFrame::new_checked(&bytes[..])?;
        let repr = EthernetRepr::parse(&frame)?;
        assert_eq!(repr.src_addr, EthernetAddress([0; 6]));
        assert_eq!(repr.ethertype, EthernetProtocol::Ipv4);
        assert_eq!(frame.payload(), &bytes[14..]);
        assert_eq!(frame.into_inner().len(), 74);
        Ok(())
    }

    #[test]
    fn truncated() {
        let bytes = hex(fixtures::ARP_REQUEST);
        for len in 0..ETHERNET_HEADER_LEN {
            assert_eq!(
                EthernetFrame::new_checked(&bytes[..len]).err(),
                Some(Error::Truncated)
            );
        }
        let frame = EthernetFrame::new_checked(&bytes[..ETHERNET_HEADER_LEN]);
        assert_eq!(frame.map(|f| f.payload().len()), Ok(0));
    }

    #[test]
    fn address_kinds() {
        let unicast = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
        assert!(unicast.is_unicast() && unicast.is_local() && !unicast.is_multicast());
        assert_eq!(unicast.to_string(), "02:00:00:00:00:01");
        let multicast = EthernetAddress([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(multicast.is_multicast() && !multicast.is_broadcast() && !multicast.is_unicast());
        assert!(
            EthernetAddress::BROADCAST.is_broadcast() && EthernetAddress::BROADCAST.is_multicast()
        );
        assert_eq!(
            EthernetAddress::from_bytes(&[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x11]),
            EthernetAddress([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
        );
    }

    #[test]
    fn ethertype_round_trip() {
        for (v, p) in [
            (0x0800, EthernetProtocol::Ipv4),
            (0x0806, EthernetProtocol::Arp),
            (0x86dd, EthernetProtocol::Ipv6),
            (0x8100, EthernetProtocol::Unknown(0x8100)),
        ] {
            assert_eq!(EthernetProtocol::from(v), p);
            assert_eq!(u16::from(p), v);
        }
        assert_eq!(EthernetProtocol::Unknown(0x88cc).to_string(), "0x88cc");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(frame) = EthernetFrame::new_checked(&bytes[..]) {
                let _ = EthernetRepr::parse(&frame);
                let _ = frame.payload();
            }
        }
    }
}
