//! The Internet checksum (RFC 1071): a 16-bit ones'-complement sum.
//!
//! [`data`] and [`combine`] return the *uninverted* sum, so partial sums over
//! a pseudo-header and a payload can be added with [`combine`]. To fill a
//! checksum field, store `!combine(..)`; to verify, check that the sum over
//! everything, checksum field included, is `0xffff`.

use super::{IpProtocol, Ipv4Address};

/// Folds a wide accumulator to 16 bits with end-around carry (RFC 1071 §2(C)).
#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The ones'-complement sum of `bytes` read as big-endian 16-bit words, not
/// inverted. An odd final byte is padded with a zero byte (RFC 1071 §1).
///
/// Fast path (RFC 1071 §2): the sum is independent of byte order and of word
/// width if carries are folded back in at the end, so this adds native-endian
/// 32-bit words into two 64-bit accumulators, 16 bytes per step, then folds to
/// 16 bits and swaps to network order. No accumulator can overflow: each
/// gains less than 2^33 per step, and a buffer would need 2^31 steps.
pub fn data(bytes: &[u8]) -> u16 {
    #[inline(always)]
    fn word(b: &[u8]) -> u64 {
        u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    let (mut a, mut b) = (0u64, 0u64);
    let mut chunks = bytes.chunks_exact(16);
    for c in &mut chunks {
        a += word(&c[0..4]) + word(&c[4..8]);
        b += word(&c[8..12]) + word(&c[12..16]);
    }
    let mut acc = a + b;
    let mut rest = chunks.remainder();
    while rest.len() >= 4 {
        acc += word(rest);
        rest = &rest[4..];
    }
    if rest.len() >= 2 {
        acc += u64::from(u16::from_ne_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    if let Some(&last) = rest.first() {
        acc += u64::from(u16::from_ne_bytes([last, 0]));
    }
    u16::from_be(fold(acc))
}

/// Adds partial sums from [`data`] or [`pseudo_header_v4`]; not inverted.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The sum over the IPv4 pseudo-header that TCP and UDP checksums cover
/// (RFC 9293 §3.1): source, destination, zero, protocol, and the TCP length
/// (header plus payload) in bytes.
pub fn pseudo_header_v4(
    src: &Ipv4Address,
    dst: &Ipv4Address,
    proto: IpProtocol,
    length: u32,
) -> u16 {
    let s = src.0;
    let d = dst.0;
    let acc = u64::from(u16::from_be_bytes([s[0], s[1]]))
        + u64::from(u16::from_be_bytes([s[2], s[3]]))
        + u64::from(u16::from_be_bytes([d[0], d[1]]))
        + u64::from(u16::from_be_bytes([d[2], d[3]]))
        + u64::from(u8::from(proto))
        + u64::from(length >> 16)
        + u64::from(length & 0xffff);
    fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain definition: 16-bit words, one at a time.
    fn reference(bytes: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for c in bytes.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            acc += u32::from(w);
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&bytes), 0xddf2);
        assert_eq!(data(&bytes[..7]), reference(&bytes[..7]));
    }

    #[test]
    fn empty_and_odd() {
        assert_eq!(data(&[]), 0);
        assert_eq!(data(&[0xab]), 0xab00);
        assert_eq!(data(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
    }

    #[test]
    fn combine_folds_carries() {
        assert_eq!(combine(&[0xffff, 0x0001]), 0x0001);
        assert_eq!(combine(&[0x8000, 0x8000]), 0x0001);
        assert_eq!(combine(&[]), 0);
    }

    #[test]
    fn pseudo_header_matches_bytes() {
        let src = Ipv4Address::new(10, 7, 0, 1);
        let dst = Ipv4Address::new(192, 168, 200, 254);
        let bytes = [10, 7, 0, 1, 192, 168, 200, 254, 0, 6, 0x05, 0xdc];
        assert_eq!(
            pseudo_header_v4(&src, &dst, IpProtocol::Tcp, 1500),
            data(&bytes)
        );
    }

    proptest! {
        #[test]
        fn fast_sum_matches_reference(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            prop_assert_eq!(data(&bytes), reference(&bytes));
        }

        #[test]
        fn split_at_even_offset_combines(bytes in proptest::collection::vec(any::<u8>(), 0..200), cut in 0usize..100) {
            let cut = (cut * 2).min(bytes.len() & !1);
            let (a, b) = bytes.split_at(cut);
            prop_assert_eq!(combine(&[data(a), data(b)]), data(&bytes));
        }
    }
}
