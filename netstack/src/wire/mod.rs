//! Wire formats: zero-copy views and parsed values for every protocol tapir speaks.
//!
//! Each protocol has two types, after smoltcp's `wire` module:
//!
//! - `XxxPacket<T: AsRef<[u8]>>` is a *view* over a byte buffer. Its
//!   `new_checked` validates lengths once; after that no getter panics, whatever
//!   the bytes. Setters exist only where `T: AsMut<[u8]>`. Field positions are
//!   named constants in a private `field` module.
//! - `XxxRepr` is a *value*: the header fields a layer above cares about, with
//!   flag bits turned into enums and impossible combinations rejected.
//!   `parse` reads a checked view; `emit` writes a view whose buffer is at
//!   least `buffer_len()` long.
//!
//! The contract for untrusted input: `new_checked` then `Repr::parse` returns
//! `Err` for anything we will not act on and never panics. `new_unchecked`
//! views are for buffers we built ourselves (emitting); reading one that is
//! too short may panic.
//!
//! Nothing here allocates. The `Display` impls on the `Repr` types are the
//! one-line packet summaries used in `trace!` events.
//!
//! What is not here: IPv6, UDP, IPv4 options on emit, IPv4 reassembly
//! (fragments are reported as [`Error::Unsupported`]).

use core::fmt;

mod arp;
pub mod checksum;
mod ethernet;
#[cfg(test)]
mod fixtures;
mod icmpv4;
mod ipv4;
mod tcp;

pub use arp::*;
pub use ethernet::*;
pub use icmpv4::*;
pub use ipv4::*;
pub use tcp::*;

/// Why a buffer could not be parsed. Every variant means the packet is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the header or than a length field says.
    Truncated,
    /// A field holds a value the protocol forbids (bad version, impossible flags, ...).
    Malformed,
    /// The checksum does not match the contents.
    Checksum,
    /// Well-formed, but something we do not implement (fragments, non-Ethernet ARP, ...).
    Unsupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "packet truncated; dropped",
            Error::Malformed => "packet malformed; dropped",
            Error::Checksum => "checksum mismatch; dropped",
            Error::Unsupported => "packet uses an unsupported feature; dropped",
        })
    }
}

impl std::error::Error for Error {}

/// The result of parsing wire bytes.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_says_the_consequence() {
        assert_eq!(Error::Truncated.to_string(), "packet truncated; dropped");
        assert_eq!(Error::Checksum.to_string(), "checksum mismatch; dropped");
        for e in [
            Error::Truncated,
            Error::Malformed,
            Error::Checksum,
            Error::Unsupported,
        ] {
            let s = e.to_string();
            assert!(s.ends_with("; dropped"), "{s}");
            assert_eq!(s, s.to_lowercase());
        }
    }

    /// One frame through every layer, as the interface does it.
    #[test]
    fn full_frame_layers() -> Result<()> {
        let bytes = fixtures::hex(fixtures::DATA);
        let frame = EthernetFrame::new_checked(&bytes[..])?;
        let eth = EthernetRepr::parse(&frame)?;
        assert_eq!(eth.ethertype, EthernetProtocol::Ipv4);
        let ip = Ipv4Packet::new_checked(frame.payload())?;
        let ip_repr = Ipv4Repr::parse(&ip, true)?;
        let tcp = TcpPacket::new_checked(ip.payload())?;
        let tcp_repr = TcpRepr::parse(&tcp, &ip_repr.src_addr, &ip_repr.dst_addr, true)?;
        assert!(tcp_repr.payload.starts_with(b"GET / HTTP/1.1\r\n"));
        Ok(())
    }
}
