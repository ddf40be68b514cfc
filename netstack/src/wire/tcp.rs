//! TCP segments (RFC 9293 §3.1) and the options tapir speaks: MSS (RFC 9293
//! §3.2), window scale and timestamps (RFC 7323), SACK (RFC 2018).
//!
//! The contract: [`TcpPacket::new_checked`] accepts a buffer that holds the
//! whole header, options included; after that no getter panics. The buffer is
//! the IP payload exactly (its length is the TCP length in the checksum's
//! pseudo-header). [`TcpRepr::parse`] turns flags into a [`TcpControl`],
//! rejects impossible flag combinations and never fails on options: see
//! [`TcpRepr::parse`] for the option rules. [`TcpRepr::emit`] writes options
//! in the order Linux does, so a SYN we emit looks like one Linux emits.
//!
//! Sequence numbers live in [`TcpSeqNumber`], which compares modulo 2^32
//! (RFC 9293 §3.4).
//!
//! Not here: the urgent pointer is read and written but never interpreted
//! (RFC 9293 §3.8.5 / RFC 6093: new applications should not use it), ECN
//! flags are exposed but not acted on, TCP-AO/MD5 and Fast Open options are
//! treated as unknown options.

use core::{cmp, fmt, ops};

use super::checksum;
use super::{Error, IpProtocol, Ipv4Address, Result};

/// A TCP sequence number: arithmetic and comparison are modulo 2^32 (RFC 9293
/// §3.4). `a < b` means `b` is less than 2^31 ahead of `a`; this order is only
/// meaningful for numbers within 2^31 of each other, which holds for any two
/// numbers inside one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpSeqNumber(pub i32);

impl TcpSeqNumber {
    /// The number as it appears on the wire.
    pub const fn to_u32(self) -> u32 {
        self.0 as u32
    }

    /// From the on-the-wire value.
    pub const fn from_u32(v: u32) -> TcpSeqNumber {
        TcpSeqNumber(v as i32)
    }
}

impl fmt::Display for TcpSeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0 as u32)
    }
}

impl ops::Add<usize> for TcpSeqNumber {
    type Output = TcpSeqNumber;

    /// Advances by `rhs` bytes, wrapping at 2^32. `rhs` must be below 2^31
    /// (a larger step makes the result compare *less* than `self`).
    fn add(self, rhs: usize) -> TcpSeqNumber {
        debug_assert!(rhs <= i32::MAX as usize, "sequence step {rhs} >= 2^31");
        TcpSeqNumber(self.0.wrapping_add(rhs as u32 as i32))
    }
}

impl ops::Sub<usize> for TcpSeqNumber {
    type Output = TcpSeqNumber;

    /// Steps back by `rhs` bytes, wrapping at 2^32. `rhs` must be below 2^31.
    fn sub(self, rhs: usize) -> TcpSeqNumber {
        debug_assert!(rhs <= i32::MAX as usize, "sequence step {rhs} >= 2^31");
        TcpSeqNumber(self.0.wrapping_sub(rhs as u32 as i32))
    }
}

impl ops::AddAssign<usize> for TcpSeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl ops::Sub for TcpSeqNumber {
    type Output = usize;

    /// The distance from `rhs` up to `self`, in bytes. `self` must not be
    /// before `rhs` (checked in debug builds).
    fn sub(self, rhs: TcpSeqNumber) -> usize {
        debug_assert!(self >= rhs, "sequence {self} is before {rhs}");
        self.0.wrapping_sub(rhs.0) as u32 as usize
    }
}

impl PartialOrd for TcpSeqNumber {
    fn partial_cmp(&self, other: &TcpSeqNumber) -> Option<cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TcpSeqNumber {
    /// Serial-number order (RFC 9293 §3.4, RFC 1982): by the sign of the
    /// wrapping difference. Not transitive across more than 2^31.
    fn cmp(&self, other: &TcpSeqNumber) -> cmp::Ordering {
        self.0.wrapping_sub(other.0).cmp(&0)
    }
}

/// The one control flag a segment carries (RFC 9293 §3.1). ACK is not here:
/// it is `ack_number.is_some()`. URG, ECE and CWR are not interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TcpControl {
    /// No SYN, FIN, RST or PSH.
    #[default]
    None,
    /// PSH alone. The state machine treats it as `None`; see [`Self::quash_psh`].
    Psh,
    /// SYN: occupies one sequence number.
    Syn,
    /// FIN: occupies one sequence number.
    Fin,
    /// RST.
    Rst,
}

impl TcpControl {
    /// How much sequence space the flag occupies: 1 for SYN and FIN.
    pub const fn len(self) -> usize {
        match self {
            TcpControl::Syn | TcpControl::Fin => 1,
            _ => 0,
        }
    }

    /// Does the flag occupy no sequence space?
    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// `Psh` becomes `None`; everything else is unchanged. PSH is a hint to
    /// deliver data promptly (RFC 9293 §3.9.1); tapir always does.
    pub const fn quash_psh(self) -> TcpControl {
        match self {
            TcpControl::Psh => TcpControl::None,
            other => other,
        }
    }
}

/// The timestamps option's values (RFC 7323 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpTimestampRepr {
    /// The sender's clock.
    pub tsval: u32,
    /// The echoed `tsval` of the peer (valid only with ACK).
    pub tsecr: u32,
}

impl TcpTimestampRepr {
    /// Both values.
    pub const fn new(tsval: u32, tsecr: u32) -> TcpTimestampRepr {
        TcpTimestampRepr { tsval, tsecr }
    }
}

mod kind {
    pub(super) const END: u8 = 0;
    pub(super) const NOP: u8 = 1;
    pub(super) const MSS: u8 = 2;
    pub(super) const WS: u8 = 3;
    pub(super) const SACK_PERM: u8 = 4;
    pub(super) const SACK: u8 = 5;
    pub(super) const TS: u8 = 8;
}

/// The largest window shift (RFC 7323 §2.3); larger values are clamped to it.
pub const TCP_MAX_WINDOW_SCALE: u8 = 14;

/// The most option bytes a header can carry (data offset 15 × 4 − 20).
pub const TCP_MAX_OPTIONS_LEN: usize = 40;

/// One TCP option (RFC 9293 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// Kind 0: no options follow.
    EndOfList,
    /// Kind 1: padding.
    NoOperation,
    /// Kind 2: maximum segment size (RFC 9293 §3.7.1).
    MaxSegmentSize(u16),
    /// Kind 3: window shift count (RFC 7323 §2), as received (not clamped here).
    WindowScale(u8),
    /// Kind 4: SACK permitted (RFC 2018 §2).
    SackPermitted,
    /// Kind 5: up to four SACK blocks, `(left, right)` edges (RFC 2018 §3).
    SackRange([Option<(u32, u32)>; 4]),
    /// Kind 8: timestamps (RFC 7323 §3).
    TimeStamp {
        /// Sender's clock.
        tsval: u32,
        /// Echoed peer clock.
        tsecr: u32,
    },
    /// Any other kind, or a known kind with the wrong length (which Linux,
    /// too, skips rather than acting on).
    Unknown {
        /// The kind byte.
        kind: u8,
        /// The bytes after kind and length.
        data: &'a [u8],
    },
}

fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl<'a> TcpOption<'a> {
    /// Reads the first option in `buffer` and returns the bytes after it.
    ///
    /// - [`Error::Truncated`] if the buffer is empty, ends after the kind byte
    ///   of a multi-byte option, or is shorter than the option's length byte;
    /// - [`Error::Malformed`] for a length below 2 (RFC 9293 MUST-7: an
    ///   illegal length; the caller cannot find the next option and stops).
    pub fn parse(buffer: &'a [u8]) -> Result<(&'a [u8], TcpOption<'a>)> {
        let (&kind, rest) = buffer.split_first().ok_or(Error::Truncated)?;
        match kind {
            kind::END => return Ok((rest, TcpOption::EndOfList)),
            kind::NOP => return Ok((rest, TcpOption::NoOperation)),
            _ => {}
        }
        let &length = rest.first().ok_or(Error::Truncated)?;
        let length = length as usize;
        if length < 2 {
            return Err(Error::Malformed);
        }
        if length > buffer.len() {
            return Err(Error::Truncated);
        }
        let data = &buffer[2..length];
        let rest = &buffer[length..];
        let option = match (kind, length) {
            (kind::MSS, 4) => TcpOption::MaxSegmentSize(be_u16(data)),
            (kind::WS, 3) => TcpOption::WindowScale(data[0]),
            (kind::SACK_PERM, 2) => TcpOption::SackPermitted,
            (kind::SACK, 10 | 18 | 26 | 34) => {
                let mut ranges = [None; 4];
                for (slot, block) in ranges.iter_mut().zip(data.chunks_exact(8)) {
                    *slot = Some((be_u32(&block[..4]), be_u32(&block[4..])));
                }
                TcpOption::SackRange(ranges)
            }
            (kind::TS, 10) => TcpOption::TimeStamp {
                tsval: be_u32(&data[..4]),
                tsecr: be_u32(&data[4..]),
            },
            (kind, _) => TcpOption::Unknown { kind, data },
        };
        Ok((rest, option))
    }

    /// Bytes the option takes on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::SackRange(r) => 2 + 8 * r.iter().flatten().count(),
            TcpOption::TimeStamp { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the start of `buffer` and returns the bytes after it.
    ///
    /// # Panics
    /// If `buffer` is shorter than [`buffer_len`](Self::buffer_len), or an
    /// `Unknown` option's data exceeds 253 bytes.
    pub fn emit<'b>(&self, buffer: &'b mut [u8]) -> &'b mut [u8] {
        let len = self.buffer_len();
        let (out, rest) = buffer.split_at_mut(len);
        match *self {
            TcpOption::EndOfList => out[0] = kind::END,
            TcpOption::NoOperation => out[0] = kind::NOP,
            TcpOption::MaxSegmentSize(mss) => {
                out[..2].copy_from_slice(&[kind::MSS, 4]);
                out[2..].copy_from_slice(&mss.to_be_bytes());
            }
            TcpOption::WindowScale(shift) => out.copy_from_slice(&[kind::WS, 3, shift]),
            TcpOption::SackPermitted => out.copy_from_slice(&[kind::SACK_PERM, 2]),
            TcpOption::SackRange(ranges) => {
                out[..2].copy_from_slice(&[kind::SACK, len as u8]);
                for (block, (left, right)) in
                    out[2..].chunks_exact_mut(8).zip(ranges.iter().flatten())
                {
                    block[..4].copy_from_slice(&left.to_be_bytes());
                    block[4..].copy_from_slice(&right.to_be_bytes());
                }
            }
            TcpOption::TimeStamp { tsval, tsecr } => {
                out[..2].copy_from_slice(&[kind::TS, 10]);
                out[2..6].copy_from_slice(&tsval.to_be_bytes());
                out[6..].copy_from_slice(&tsecr.to_be_bytes());
            }
            TcpOption::Unknown { kind, data } => {
                assert!(len <= 255, "TCP option data too long");
                out[0] = kind;
                out[1] = len as u8;
                out[2..].copy_from_slice(data);
            }
        }
        rest
    }
}

mod field {
    use core::ops::Range;
    pub(super) const SRC_PORT: Range<usize> = 0..2;
    pub(super) const DST_PORT: Range<usize> = 2..4;
    pub(super) const SEQ_NUM: Range<usize> = 4..8;
    pub(super) const ACK_NUM: Range<usize> = 8..12;
    pub(super) const FLAGS: Range<usize> = 12..14;
    pub(super) const WIN_SIZE: Range<usize> = 14..16;
    pub(super) const CHECKSUM: Range<usize> = 16..18;
    pub(super) const URGENT: Range<usize> = 18..20;
    pub(super) const OPTIONS_START: usize = 20;

    // Low 12 bits of the data-offset/flags word.
    pub(super) const FLG_FIN: u16 = 0x001;
    pub(super) const FLG_SYN: u16 = 0x002;
    pub(super) const FLG_RST: u16 = 0x004;
    pub(super) const FLG_PSH: u16 = 0x008;
    pub(super) const FLG_ACK: u16 = 0x010;
    pub(super) const FLG_URG: u16 = 0x020;
    pub(super) const FLG_ECE: u16 = 0x040;
    pub(super) const FLG_CWR: u16 = 0x080;
}

/// Length of a TCP header without options.
pub const TCP_HEADER_LEN: usize = field::OPTIONS_START;

/// A read/write view of a TCP segment. The buffer is the whole segment
/// (header, options, payload) and nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

macro_rules! flag_getters {
    ($($(#[$doc:meta])* $get:ident, $set:ident, $bit:ident;)*) => {
        impl<T: AsRef<[u8]>> TcpPacket<T> {
            $( $(#[$doc])* pub fn $get(&self) -> bool {
                self.flags_word() & field::$bit != 0
            } )*
        }
        impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
            $( $(#[$doc])* pub fn $set(&mut self, value: bool) {
                let raw = self.flags_word();
                let raw = if value { raw | field::$bit } else { raw & !field::$bit };
                self.set_u16_at(field::FLAGS, raw)
            } )*
        }
    };
}

flag_getters! {
    /// FIN: no more data from the sender.
    fin, set_fin, FLG_FIN;
    /// SYN: synchronize sequence numbers.
    syn, set_syn, FLG_SYN;
    /// RST: reset the connection.
    rst, set_rst, FLG_RST;
    /// PSH: push function.
    psh, set_psh, FLG_PSH;
    /// ACK: the acknowledgment number is valid.
    ack, set_ack, FLG_ACK;
    /// URG: the urgent pointer is valid.
    urg, set_urg, FLG_URG;
    /// ECE: ECN echo (RFC 3168).
    ece, set_ece, FLG_ECE;
    /// CWR: congestion window reduced (RFC 3168).
    cwr, set_cwr, FLG_CWR;
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Same as [`TCP_HEADER_LEN`], which needs no type parameter (this one is
    /// spelled `TcpPacket::<&[u8]>::HEADER_LEN`).
    pub const HEADER_LEN: usize = TCP_HEADER_LEN;

    /// Wraps a buffer without checking it. Use for buffers we fill ourselves.
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// Wraps a received buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks what every getter relies on: 20 bytes present
    /// ([`Error::Truncated`]), a data offset of at least 5 words
    /// ([`Error::Malformed`]), and the whole header with its options present
    /// ([`Error::Truncated`]).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < TCP_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len() as usize;
        if header_len < TCP_HEADER_LEN {
            return Err(Error::Malformed);
        }
        if header_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Gives back the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, r: ops::Range<usize>) -> u16 {
        be_u16(&self.buffer.as_ref()[r])
    }

    fn u32_at(&self, r: ops::Range<usize>) -> u32 {
        be_u32(&self.buffer.as_ref()[r])
    }

    fn flags_word(&self) -> u16 {
        self.u16_at(field::FLAGS)
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }

    /// Sequence number of the first byte (or of the SYN).
    pub fn seq_number(&self) -> TcpSeqNumber {
        TcpSeqNumber::from_u32(self.u32_at(field::SEQ_NUM))
    }

    /// Acknowledgment number (meaningful only if [`ack`](Self::ack)).
    pub fn ack_number(&self) -> TcpSeqNumber {
        TcpSeqNumber::from_u32(self.u32_at(field::ACK_NUM))
    }

    /// Header length in bytes, options included (data offset × 4).
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::FLAGS.start] >> 4) * 4
    }

    /// The raw 8 flag bits (CWR ECE URG ACK PSH RST SYN FIN).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS.start + 1]
    }

    /// The window field, unscaled.
    pub fn window_len(&self) -> u16 {
        self.u16_at(field::WIN_SIZE)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// The urgent pointer field.
    pub fn urgent_at(&self) -> u16 {
        self.u16_at(field::URGENT)
    }

    /// The option bytes, between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS_START..self.header_len() as usize]
    }

    /// Payload length plus one for SYN and one for FIN: the sequence space
    /// the segment occupies (RFC 9293 §3.4, SEG.LEN).
    pub fn segment_len(&self) -> usize {
        let payload_len = self.buffer.as_ref().len() - self.header_len() as usize;
        payload_len + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// Is the checksum over the pseudo-header and the whole buffer right?
    pub fn verify_checksum(&self, src: &Ipv4Address, dst: &Ipv4Address) -> bool {
        let data = self.buffer.as_ref();
        checksum::combine(&[
            checksum::pseudo_header_v4(src, dst, IpProtocol::Tcp, data.len() as u32),
            checksum::data(data),
        ]) == !0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// The payload, after the options.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len() as usize..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn set_u16_at(&mut self, r: ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes())
    }

    fn set_u32_at(&mut self, r: ops::Range<usize>, v: u32) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes())
    }

    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        self.set_u16_at(field::SRC_PORT, port)
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        self.set_u16_at(field::DST_PORT, port)
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, seq: TcpSeqNumber) {
        self.set_u32_at(field::SEQ_NUM, seq.to_u32())
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, ack: TcpSeqNumber) {
        self.set_u32_at(field::ACK_NUM, ack.to_u32())
    }

    /// Clears all flag bits and the reserved bits; keeps the data offset.
    pub fn clear_flags(&mut self) {
        let raw = self.flags_word() & 0xf000;
        self.set_u16_at(field::FLAGS, raw)
    }

    /// Sets the header length in bytes; must be a multiple of 4 in 20..=60.
    pub fn set_header_len(&mut self, len: u8) {
        debug_assert!(len & 3 == 0 && (20..=60).contains(&len));
        let b = &mut self.buffer.as_mut()[field::FLAGS.start];
        *b = (*b & 0x0f) | ((len / 4) << 4);
    }

    /// Sets the window field (already scaled down by our shift).
    pub fn set_window_len(&mut self, window: u16) {
        self.set_u16_at(field::WIN_SIZE, window)
    }

    /// Sets the checksum field as is; see [`fill_checksum`](Self::fill_checksum).
    pub fn set_checksum(&mut self, checksum: u16) {
        self.set_u16_at(field::CHECKSUM, checksum)
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, at: u16) {
        self.set_u16_at(field::URGENT, at)
    }

    /// Computes and stores the checksum over the pseudo-header and the whole
    /// buffer. Call last.
    pub fn fill_checksum(&mut self, src: &Ipv4Address, dst: &Ipv4Address) {
        self.set_checksum(0);
        let sum = {
            let data = self.buffer.as_ref();
            checksum::combine(&[
                checksum::pseudo_header_v4(src, dst, IpProtocol::Tcp, data.len() as u32),
                checksum::data(data),
            ])
        };
        self.set_checksum(!sum)
    }

    /// The option bytes, for writing (set the header length first).
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len() as usize;
        &mut self.buffer.as_mut()[field::OPTIONS_START..end]
    }

    /// The payload, for writing (set the header length first).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len() as usize;
        &mut self.buffer.as_mut()[start..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for TcpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A TCP segment's meaning: what the state machine reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpRepr<'a> {
    /// Source port (never 0 after `parse`).
    pub src_port: u16,
    /// Destination port (never 0 after `parse`).
    pub dst_port: u16,
    /// SYN, FIN, RST, PSH or none.
    pub control: TcpControl,
    /// SEG.SEQ.
    pub seq_number: TcpSeqNumber,
    /// SEG.ACK, present iff the ACK flag is set.
    pub ack_number: Option<TcpSeqNumber>,
    /// The window field, unscaled.
    pub window_len: u16,
    /// Window scale option, clamped to 14 on parse (meaningful on SYN only).
    pub window_scale: Option<u8>,
    /// MSS option (meaningful on SYN only).
    pub max_seg_size: Option<u16>,
    /// SACK-permitted option (meaningful on SYN only).
    pub sack_permitted: bool,
    /// SACK blocks `(left, right)`, most recent first (RFC 2018 §4).
    pub sack_ranges: [Option<(u32, u32)>; 4],
    /// Timestamps option.
    pub timestamp: Option<TcpTimestampRepr>,
    /// The data.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Reads a checked segment.
    ///
    /// - [`Error::Checksum`] if `verify_checksum` and the checksum is wrong
    ///   (RFC 9293 §3.10.7: a segment failing the checksum is dropped).
    /// - [`Error::Malformed`] for source or destination port 0, and for
    ///   SYN+FIN, SYN+RST or FIN+RST: no legitimate stack sends them and each
    ///   would need a rule to pick one flag (they are port-scan probes).
    /// - `control` is the one of SYN, FIN, RST that is set, else `Psh` if PSH
    ///   is, else `None`; `ack_number` is `Some` iff ACK is set.
    ///
    /// Options (RFC 9293 §3.2, MUST-6, MUST-7): unknown kinds, and known kinds
    /// with the wrong length, are skipped by their length. An option whose
    /// length is below 2 or runs past the header ends option parsing, and the
    /// segment is kept with the options read so far (Linux's
    /// `tcp_parse_options` does the same). MSS and window scale are read on
    /// every segment; the caller uses them on SYN only. An MSS of 0 is ignored
    /// (as Linux does) so the caller's default applies. A window scale above 14
    /// is clamped to 14 (RFC 7323 §2.3).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&'a T>,
        src: &Ipv4Address,
        dst: &Ipv4Address,
        verify_checksum: bool,
    ) -> Result<TcpRepr<'a>> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        if packet.src_port() == 0 || packet.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        let control = match (packet.syn(), packet.fin(), packet.rst()) {
            (false, false, false) if packet.psh() => TcpControl::Psh,
            (false, false, false) => TcpControl::None,
            (true, false, false) => TcpControl::Syn,
            (false, true, false) => TcpControl::Fin,
            (false, false, true) => TcpControl::Rst,
            _ => return Err(Error::Malformed),
        };
        let ack_number = packet.ack().then(|| packet.ack_number());

        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            control,
            seq_number: packet.seq_number(),
            ack_number,
            window_len: packet.window_len(),
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            payload: packet.payload(),
        };

        let mut options = packet.options();
        while !options.is_empty() {
            let Ok((rest, option)) = TcpOption::parse(options) else {
                break;
            };
            match option {
                TcpOption::EndOfList => break,
                TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
                TcpOption::MaxSegmentSize(0) => {}
                TcpOption::MaxSegmentSize(mss) => repr.max_seg_size = Some(mss),
                TcpOption::WindowScale(shift) => {
                    repr.window_scale = Some(shift.min(TCP_MAX_WINDOW_SCALE))
                }
                TcpOption::SackPermitted => repr.sack_permitted = true,
                TcpOption::SackRange(ranges) => repr.sack_ranges = ranges,
                TcpOption::TimeStamp { tsval, tsecr } => {
                    repr.timestamp = Some(TcpTimestampRepr { tsval, tsecr })
                }
            }
            options = rest;
        }
        Ok(repr)
    }

    /// Option bytes before SACK blocks, in the layout `emit` writes.
    fn fixed_options_len(&self) -> usize {
        let mut len = 0;
        if self.max_seg_size.is_some() {
            len += 4;
        }
        if self.timestamp.is_some() {
            len += 12; // SACK-permitted + TS, or NOP NOP TS
        } else if self.sack_permitted {
            len += 4; // NOP NOP SACK-permitted
        }
        if self.window_scale.is_some() {
            len += 4; // NOP WS
        }
        len
    }

    /// How many SACK blocks fit after the other options (RFC 2018 §3: at
    /// most 3 alongside timestamps, 4 without).
    fn sack_blocks_emitted(&self) -> usize {
        let wanted = self.sack_ranges.iter().flatten().count();
        let room = TCP_MAX_OPTIONS_LEN.saturating_sub(self.fixed_options_len() + 4) / 8;
        wanted.min(room)
    }

    /// Header length `emit` writes: 20 bytes plus options padded to a
    /// multiple of 4.
    pub fn header_len(&self) -> usize {
        let sacks = self.sack_blocks_emitted();
        let sack_len = if sacks > 0 { 4 + 8 * sacks } else { 0 };
        TCP_HEADER_LEN + self.fixed_options_len() + sack_len
    }

    /// Header plus payload: the buffer `emit` needs.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Sequence space the segment occupies: payload plus SYN/FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len() + self.control.len()
    }

    /// The sequence number just after this segment (SEG.SEQ + SEG.LEN).
    pub fn seq_end(&self) -> TcpSeqNumber {
        self.seq_number + self.segment_len()
    }

    /// No payload and no SYN, FIN or RST: a bare ACK or window update.
    pub fn is_empty(&self) -> bool {
        matches!(self.control, TcpControl::None | TcpControl::Psh) && self.payload.is_empty()
    }

    /// Writes the whole segment and its checksum into the first
    /// [`buffer_len`](Self::buffer_len) bytes of `packet` (pass a buffer of
    /// exactly that length: the view's own checksum helpers cover all of it).
    ///
    /// Options go in Linux's order and padding (`tcp_options_write`), each
    /// group 4-byte aligned: MSS; SACK-permitted + TS (or NOP NOP TS, or NOP
    /// NOP SACK-permitted); NOP WS; NOP NOP SACK blocks. SACK blocks that do
    /// not fit in 40 option bytes are left off, the first (most recent)
    /// kept (RFC 2018 §4). PSH is set when the payload is non-empty or
    /// `control` is `Psh`; ACK when `ack_number` is `Some`. URG, ECE, CWR
    /// and the urgent pointer are zero.
    ///
    /// # Panics
    /// If the buffer is shorter than `buffer_len()`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut TcpPacket<T>,
        src: &Ipv4Address,
        dst: &Ipv4Address,
    ) {
        let header_len = self.header_len();
        let buffer_len = header_len + self.payload.len();
        assert!(
            packet.buffer.as_ref().len() >= buffer_len,
            "TCP emit buffer too short"
        );
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number.unwrap_or_default());
        packet.set_header_len(header_len as u8);
        packet.clear_flags();
        match self.control {
            TcpControl::None => {}
            TcpControl::Psh => packet.set_psh(true),
            TcpControl::Syn => packet.set_syn(true),
            TcpControl::Fin => packet.set_fin(true),
            TcpControl::Rst => packet.set_rst(true),
        }
        if !self.payload.is_empty() {
            packet.set_psh(true);
        }
        packet.set_ack(self.ack_number.is_some());
        packet.set_window_len(self.window_len);
        packet.set_urgent_at(0);

        let mut out = &mut packet.buffer.as_mut()[TCP_HEADER_LEN..header_len];
        if let Some(mss) = self.max_seg_size {
            out = TcpOption::MaxSegmentSize(mss).emit(out);
        }
        match (self.timestamp, self.sack_permitted) {
            (Some(ts), true) => {
                out = TcpOption::SackPermitted.emit(out);
                out = ts_option(ts).emit(out);
            }
            (Some(ts), false) => {
                out = TcpOption::NoOperation.emit(out);
                out = TcpOption::NoOperation.emit(out);
                out = ts_option(ts).emit(out);
            }
            (None, true) => {
                out = TcpOption::NoOperation.emit(out);
                out = TcpOption::NoOperation.emit(out);
                out = TcpOption::SackPermitted.emit(out);
            }
            (None, false) => {}
        }
        if let Some(shift) = self.window_scale {
            out = TcpOption::NoOperation.emit(out);
            out = TcpOption::WindowScale(shift).emit(out);
        }
        let sacks = self.sack_blocks_emitted();
        if sacks > 0 {
            let mut ranges = [None; 4];
            for (slot, range) in ranges
                .iter_mut()
                .zip(self.sack_ranges.iter().flatten())
                .take(sacks)
            {
                *slot = Some(*range);
            }
            out = TcpOption::NoOperation.emit(out);
            out = TcpOption::NoOperation.emit(out);
            out = TcpOption::SackRange(ranges).emit(out);
        }
        debug_assert!(out.is_empty(), "TCP options length mismatch");

        let segment = &mut packet.buffer.as_mut()[..buffer_len];
        segment[header_len..].copy_from_slice(self.payload);
        let mut view = TcpPacket::new_unchecked(segment);
        view.fill_checksum(src, dst);
    }
}

fn ts_option(ts: TcpTimestampRepr) -> TcpOption<'static> {
    TcpOption::TimeStamp {
        tsval: ts.tsval,
        tsecr: ts.tsecr,
    }
}

impl fmt::Display for TcpRepr<'_> {
    /// `TCP src=40000 dst=80 seq=1 ack=2 win=512 len=0 SYN ACK mss=1460 ws=7 sackOK ts=1/0 sack=[5-9]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TCP src={} dst={} seq={}",
            self.src_port, self.dst_port, self.seq_number
        )?;
        if let Some(ack) = self.ack_number {
            write!(f, " ack={ack}")?;
        }
        write!(f, " win={} len={}", self.window_len, self.payload.len())?;
        match self.control {
            TcpControl::None => {}
            TcpControl::Psh => f.write_str(" PSH")?,
            TcpControl::Syn => f.write_str(" SYN")?,
            TcpControl::Fin => f.write_str(" FIN")?,
            TcpControl::Rst => f.write_str(" RST")?,
        }
        if self.ack_number.is_some() {
            f.write_str(" ACK")?;
        }
        if let Some(mss) = self.max_seg_size {
            write!(f, " mss={mss}")?;
        }
        if let Some(ws) = self.window_scale {
            write!(f, " ws={ws}")?;
        }
        if self.sack_permitted {
            f.write_str(" sackOK")?;
        }
        if let Some(ts) = self.timestamp {
            write!(f, " ts={}/{}", ts.tsval, ts.tsecr)?;
        }
        let mut first = true;
        for (left, right) in self.sack_ranges.iter().flatten() {
            f.write_str(if first { " sack=[" } else { " " })?;
            write!(f, "{left}-{right}")?;
            first = false;
        }
        if !first {
            f.write_str("]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, hex, LOCALHOST};
    use super::super::{EthernetFrame, Ipv4Packet, Ipv4Repr};
    use super::*;
    use proptest::prelude::*;

    const ETH_IP: usize = 14 + 20;

    /// The TCP segment of a fixture frame (no IPv4 options in any fixture).
    fn segment(fixture: &str) -> Vec<u8> {
        hex(fixture)[ETH_IP..].to_vec()
    }

    /// Parses a whole frame the way the interface will.
    fn parse_frame(bytes: &[u8]) -> Result<TcpRepr<'_>> {
        let frame = EthernetFrame::new_checked(bytes)?;
        let ip = Ipv4Packet::new_checked(frame.payload())?;
        let ip_repr = Ipv4Repr::parse(&ip, true)?;
        let tcp = TcpPacket::new_checked(ip.payload())?;
        TcpRepr::parse(&tcp, &ip_repr.src_addr, &ip_repr.dst_addr, true)
    }

    fn parse(bytes: &[u8]) -> Result<TcpRepr<'_>> {
        TcpRepr::parse(
            &TcpPacket::new_checked(bytes)?,
            &LOCALHOST,
            &LOCALHOST,
            true,
        )
    }

    /// Emits `repr` into a fresh buffer of exactly `buffer_len()` bytes.
    fn emit(repr: &TcpRepr<'_>) -> Vec<u8> {
        let mut buf = vec![0xa5; repr.buffer_len()];
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut buf[..]),
            &LOCALHOST,
            &LOCALHOST,
        );
        buf
    }

    /// Edits a segment's bytes and fixes its checksum.
    fn edited(fixture: &str, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut bytes = segment(fixture);
        edit(&mut bytes);
        TcpPacket::new_unchecked(&mut bytes[..]).fill_checksum(&LOCALHOST, &LOCALHOST);
        bytes
    }

    #[test]
    fn syn_view_getters() -> Result<()> {
        let bytes = segment(fixtures::SYN);
        let p = TcpPacket::new_checked(&bytes[..])?;
        assert_eq!(p.src_port(), 43998);
        assert_eq!(p.dst_port(), 8099);
        assert_eq!(p.seq_number(), TcpSeqNumber::from_u32(1872118869));
        assert_eq!(p.ack_number(), TcpSeqNumber(0));
        assert_eq!(p.header_len(), 40);
        assert!(p.syn() && !p.ack() && !p.fin() && !p.rst() && !p.psh());
        assert!(!p.urg() && !p.ece() && !p.cwr());
        assert_eq!(p.flags(), 0x02);
        assert_eq!(p.window_len(), 65495);
        assert_eq!(p.checksum(), 0x5e72);
        assert_eq!(p.urgent_at(), 0);
        assert_eq!(p.options().len(), 20);
        assert_eq!(p.payload(), b"");
        assert_eq!(p.segment_len(), 1);
        assert!(p.verify_checksum(&LOCALHOST, &LOCALHOST));
        assert!(!p.verify_checksum(&LOCALHOST, &Ipv4Address::new(127, 0, 0, 2)));
        Ok(())
    }

    #[test]
    fn syn_fixture() -> Result<()> {
        let bytes = hex(fixtures::SYN);
        let repr = parse_frame(&bytes)?;
        assert_eq!(
            repr,
            TcpRepr {
                src_port: 43998,
                dst_port: 8099,
                control: TcpControl::Syn,
                seq_number: TcpSeqNumber::from_u32(1872118869),
                ack_number: None,
                window_len: 65495,
                window_scale: Some(10),
                max_seg_size: Some(65495),
                sack_permitted: true,
                sack_ranges: [None; 4],
                timestamp: Some(TcpTimestampRepr::new(2567756050, 0)),
                payload: &[],
            }
        );
        assert_eq!(repr.header_len(), 40);
        assert_eq!(repr.segment_len(), 1);
        assert_eq!(repr.seq_end(), TcpSeqNumber::from_u32(1872118870));
        assert!(!repr.is_empty());
        assert_eq!(emit(&repr), &bytes[ETH_IP..]);
        Ok(())
    }

    #[test]
    fn syn_ack_fixture() -> Result<()> {
        let bytes = hex(fixtures::SYN_ACK);
        let repr = parse_frame(&bytes)?;
        assert_eq!(
            repr,
            TcpRepr {
                src_port: 8099,
                dst_port: 43998,
                control: TcpControl::Syn,
                seq_number: TcpSeqNumber::from_u32(2717425665),
                ack_number: Some(TcpSeqNumber::from_u32(1872118870)),
                window_len: 65483,
                window_scale: Some(10),
                max_seg_size: Some(65495),
                sack_permitted: true,
                sack_ranges: [None; 4],
                timestamp: Some(TcpTimestampRepr::new(4078715422, 2567756050)),
                payload: &[],
            }
        );
        assert_eq!(emit(&repr), &bytes[ETH_IP..]);
        Ok(())
    }

    #[test]
    fn data_fixture() -> Result<()> {
        let bytes = hex(fixtures::DATA);
        let repr = parse_frame(&bytes)?;
        let request: &[u8] =
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8099\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
        assert_eq!(
            repr,
            TcpRepr {
                src_port: 43998,
                dst_port: 8099,
                control: TcpControl::Psh,
                seq_number: TcpSeqNumber::from_u32(1872118870),
                ack_number: Some(TcpSeqNumber::from_u32(2717425666)),
                window_len: 64,
                window_scale: None,
                max_seg_size: None,
                sack_permitted: false,
                sack_ranges: [None; 4],
                timestamp: Some(TcpTimestampRepr::new(2567756051, 4078715422)),
                payload: request,
            }
        );
        assert_eq!(repr.payload.len(), 78);
        assert_eq!(repr.header_len(), 32);
        assert_eq!(repr.seq_end(), repr.seq_number + 78);
        assert_eq!(emit(&repr), &bytes[ETH_IP..]);
        // PSH is set for any payload, so a `None` repr emits the same bytes.
        let none = TcpRepr {
            control: TcpControl::None,
            ..repr
        };
        assert_eq!(emit(&none), &bytes[ETH_IP..]);
        Ok(())
    }

    #[test]
    fn fin_fixture() -> Result<()> {
        let bytes = hex(fixtures::FIN);
        let repr = parse_frame(&bytes)?;
        assert_eq!(repr.control, TcpControl::Fin);
        assert_eq!(repr.seq_number, TcpSeqNumber::from_u32(2717428575));
        assert_eq!(repr.ack_number, Some(TcpSeqNumber::from_u32(1872118948)));
        assert_eq!(repr.segment_len(), 1);
        assert_eq!(
            repr.timestamp,
            Some(TcpTimestampRepr::new(4078715425, 2567756054))
        );
        assert_eq!(emit(&repr), &bytes[ETH_IP..]);
        Ok(())
    }

    #[test]
    fn every_truncation_is_an_error() {
        for fixture in [
            fixtures::SYN,
            fixtures::SYN_ACK,
            fixtures::DATA,
            fixtures::FIN,
        ] {
            let bytes = hex(fixture);
            assert!(parse_frame(&bytes).is_ok());
            for len in 0..bytes.len() {
                assert!(parse_frame(&bytes[..len]).is_err(), "frame prefix {len}");
            }
            // The TCP view alone: short of the header is Truncated; a short
            // payload fails the checksum (TCP has no length field of its own).
            let seg = &bytes[ETH_IP..];
            for len in 0..seg.len() {
                let err = parse(&seg[..len]).err();
                let header_len = usize::from(seg[12] >> 4) * 4;
                let want = if len < header_len {
                    Error::Truncated
                } else {
                    Error::Checksum
                };
                assert_eq!(err, Some(want), "segment prefix {len}");
            }
        }
    }

    #[test]
    fn bad_checksum() -> Result<()> {
        let mut bytes = segment(fixtures::DATA);
        bytes[40] ^= 0x01;
        assert_eq!(parse(&bytes), Err(Error::Checksum));
        let p = TcpPacket::new_checked(&bytes[..])?;
        assert!(TcpRepr::parse(&p, &LOCALHOST, &LOCALHOST, false).is_ok());
        Ok(())
    }

    #[test]
    fn bad_data_offset() {
        let mut bytes = segment(fixtures::SYN);
        bytes[12] = 0x40; // data offset 4
        assert_eq!(
            TcpPacket::new_checked(&bytes[..]).err(),
            Some(Error::Malformed)
        );
        bytes[12] = 0xf0; // 60 bytes of header in a 40-byte segment
        assert_eq!(
            TcpPacket::new_checked(&bytes[..]).err(),
            Some(Error::Truncated)
        );
    }

    #[test]
    fn impossible_flags_rejected() {
        for (flags, what) in [
            (0x03, "SYN+FIN"),
            (0x06, "SYN+RST"),
            (0x05, "FIN+RST"),
            (0x07, "all"),
        ] {
            let bytes = edited(fixtures::SYN, |b| b[13] = flags);
            assert_eq!(parse(&bytes), Err(Error::Malformed), "{what}");
        }
        let rst = edited(fixtures::SYN, |b| b[13] = 0x14);
        let repr = parse(&rst);
        assert_eq!(
            repr.map(|r| (r.control, r.ack_number.is_some())),
            Ok((TcpControl::Rst, true))
        );
        let syn_psh = edited(fixtures::SYN, |b| b[13] = 0x0a);
        assert_eq!(parse(&syn_psh).map(|r| r.control), Ok(TcpControl::Syn));
    }

    #[test]
    fn zero_ports_rejected() {
        let src = edited(fixtures::SYN, |b| b[0..2].copy_from_slice(&[0, 0]));
        assert_eq!(parse(&src), Err(Error::Malformed));
        let dst = edited(fixtures::SYN, |b| b[2..4].copy_from_slice(&[0, 0]));
        assert_eq!(parse(&dst), Err(Error::Malformed));
    }

    // The SYN's options, at offsets from the segment start:
    // 20 MSS(4) | 24 SACK-permitted(2) | 26 TS(10) | 36 NOP | 37 WS(3) | 40 end.

    #[test]
    fn option_length_zero_stops_parsing() -> Result<()> {
        let bytes = edited(fixtures::SYN, |b| b[27] = 0);
        let repr = parse(&bytes)?;
        assert_eq!(repr.max_seg_size, Some(65495));
        assert!(repr.sack_permitted);
        assert_eq!(repr.timestamp, None);
        assert_eq!(repr.window_scale, None);
        Ok(())
    }

    #[test]
    fn option_length_one_stops_parsing() -> Result<()> {
        let bytes = edited(fixtures::SYN, |b| b[25] = 1);
        let repr = parse(&bytes)?;
        assert_eq!(repr.max_seg_size, Some(65495));
        assert!(!repr.sack_permitted);
        assert_eq!(repr.timestamp, None);
        assert_eq!(repr.window_scale, None);
        Ok(())
    }

    #[test]
    fn option_past_header_stops_parsing() -> Result<()> {
        let bytes = edited(fixtures::SYN, |b| b[38] = 4);
        let repr = parse(&bytes)?;
        assert_eq!(repr.max_seg_size, Some(65495));
        assert!(repr.sack_permitted);
        assert!(repr.timestamp.is_some());
        assert_eq!(repr.window_scale, None);
        // A kind byte as the very last option byte, with no room for a length.
        let bytes = edited(fixtures::SYN, |b| b[36..40].copy_from_slice(&[1, 1, 1, 3]));
        assert_eq!(parse(&bytes)?.window_scale, None);
        Ok(())
    }

    #[test]
    fn unknown_options_are_skipped() -> Result<()> {
        // MSS and SACK-permitted become one unknown 6-byte option (kind 253,
        // RFC 4727 experimental).
        let bytes = edited(fixtures::SYN, |b| {
            b[20..26].copy_from_slice(&[253, 6, 1, 2, 3, 4])
        });
        let repr = parse(&bytes)?;
        assert_eq!(repr.max_seg_size, None);
        assert!(!repr.sack_permitted);
        assert_eq!(repr.timestamp, Some(TcpTimestampRepr::new(2567756050, 0)));
        assert_eq!(repr.window_scale, Some(10));
        // A known kind with the wrong length is skipped the same way.
        let bytes = edited(fixtures::SYN, |b| {
            b[20..26].copy_from_slice(&[2, 6, 1, 2, 3, 4])
        });
        let repr = parse(&bytes)?;
        assert_eq!(repr.max_seg_size, None);
        assert_eq!(repr.window_scale, Some(10));
        Ok(())
    }

    #[test]
    fn end_of_list_stops_parsing() -> Result<()> {
        let bytes = edited(fixtures::SYN, |b| b[36] = 0);
        let repr = parse(&bytes)?;
        assert!(repr.timestamp.is_some());
        assert_eq!(repr.window_scale, None);
        Ok(())
    }

    #[test]
    fn window_scale_clamped_and_mss_zero_ignored() -> Result<()> {
        let bytes = edited(fixtures::SYN, |b| {
            b[39] = 15;
            b[22..24].copy_from_slice(&[0, 0]);
        });
        let repr = parse(&bytes)?;
        assert_eq!(repr.window_scale, Some(14));
        assert_eq!(repr.max_seg_size, None);
        Ok(())
    }

    #[test]
    fn option_parse_and_emit() -> Result<()> {
        let cases: [(&[u8], TcpOption<'_>); 8] = [
            (&[0], TcpOption::EndOfList),
            (&[1], TcpOption::NoOperation),
            (&[2, 4, 0x05, 0xb4], TcpOption::MaxSegmentSize(1460)),
            (&[3, 3, 7], TcpOption::WindowScale(7)),
            (&[4, 2], TcpOption::SackPermitted),
            (
                &[
                    5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 5,
                ],
                TcpOption::SackRange([Some((1, 2)), Some((0xffff_fff0, 5)), None, None]),
            ),
            (
                &[8, 10, 0, 0, 0, 9, 0x80, 0, 0, 0],
                TcpOption::TimeStamp {
                    tsval: 9,
                    tsecr: 0x8000_0000,
                },
            ),
            (
                &[34, 3, 0xaa],
                TcpOption::Unknown {
                    kind: 34,
                    data: &[0xaa],
                },
            ),
        ];
        for (bytes, option) in cases {
            let mut with_tail = bytes.to_vec();
            with_tail.push(0x77);
            let (rest, parsed) = TcpOption::parse(&with_tail)?;
            assert_eq!(parsed, option);
            assert_eq!(rest, &[0x77]);
            assert_eq!(option.buffer_len(), bytes.len());
            let mut out = vec![0; bytes.len() + 1];
            let rest = option.emit(&mut out);
            assert_eq!(rest.len(), 1);
            assert_eq!(&out[..bytes.len()], bytes);
        }
        assert_eq!(TcpOption::parse(&[]), Err(Error::Truncated));
        assert_eq!(TcpOption::parse(&[2]), Err(Error::Truncated));
        assert_eq!(TcpOption::parse(&[2, 4, 0]), Err(Error::Truncated));
        assert_eq!(TcpOption::parse(&[2, 0]), Err(Error::Malformed));
        assert_eq!(TcpOption::parse(&[2, 1]), Err(Error::Malformed));
        Ok(())
    }

    fn data_repr(payload: &[u8]) -> TcpRepr<'_> {
        TcpRepr {
            src_port: 80,
            dst_port: 40000,
            seq_number: TcpSeqNumber(-5),
            ack_number: Some(TcpSeqNumber(1000)),
            window_len: 512,
            payload,
            ..TcpRepr::default()
        }
    }

    #[test]
    fn sack_blocks_limited_to_option_space() -> Result<()> {
        let ranges = [Some((1, 2)), Some((3, 4)), Some((5, 6)), Some((7, 8))];
        let mut repr = TcpRepr {
            sack_ranges: ranges,
            ..data_repr(b"")
        };
        // Without timestamps all four fit: 20 + NOP NOP + 2 + 32.
        assert_eq!(repr.header_len(), 56);
        let bytes = emit(&repr);
        assert_eq!(&bytes[20..24], &[1, 1, 5, 34]);
        assert_eq!(parse(&bytes)?.sack_ranges, ranges);
        // With timestamps (12 bytes) only three do (RFC 2018 §3).
        repr.timestamp = Some(TcpTimestampRepr::new(1, 2));
        assert_eq!(repr.header_len(), 60);
        let parsed_ranges = parse(&emit(&repr))?.sack_ranges;
        assert_eq!(
            parsed_ranges,
            [Some((1, 2)), Some((3, 4)), Some((5, 6)), None]
        );
        // Gaps in the array are closed up.
        repr.sack_ranges = [None, Some((9, 10)), None, Some((11, 12))];
        let parsed_ranges = parse(&emit(&repr))?.sack_ranges;
        assert_eq!(parsed_ranges, [Some((9, 10)), Some((11, 12)), None, None]);
        Ok(())
    }

    #[test]
    fn option_layouts_match_linux() {
        let mut repr = TcpRepr {
            control: TcpControl::Syn,
            max_seg_size: Some(1460),
            ..data_repr(b"")
        };
        let opts = |r: &TcpRepr<'_>| emit(r)[20..r.header_len()].to_vec();
        assert_eq!(opts(&repr), [2, 4, 5, 180]);
        repr.sack_permitted = true;
        assert_eq!(opts(&repr), [2, 4, 5, 180, 1, 1, 4, 2]);
        repr.window_scale = Some(7);
        assert_eq!(opts(&repr), [2, 4, 5, 180, 1, 1, 4, 2, 1, 3, 3, 7]);
        repr.sack_permitted = false;
        repr.timestamp = Some(TcpTimestampRepr::new(1, 0));
        assert_eq!(
            opts(&repr),
            [2, 4, 5, 180, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]
        );
    }

    #[test]
    fn emit_flags() -> Result<()> {
        let bytes = emit(&data_repr(b"hello"));
        let p = TcpPacket::new_checked(&bytes[..])?;
        assert!(p.psh() && p.ack() && !p.syn() && !p.fin());
        assert_eq!(p.payload(), b"hello");
        assert_eq!(p.seq_number(), TcpSeqNumber(-5));
        assert_eq!(p.ack_number(), TcpSeqNumber(1000));
        let bare = emit(&TcpRepr {
            ack_number: None,
            control: TcpControl::Rst,
            ..data_repr(b"")
        });
        let p = TcpPacket::new_checked(&bare[..])?;
        assert_eq!(p.flags(), 0x04);
        assert_eq!(p.ack_number(), TcpSeqNumber(0));
        assert!(data_repr(b"").is_empty());
        assert!(!data_repr(b"x").is_empty());
        Ok(())
    }

    #[test]
    fn emit_into_longer_buffer_checksums_only_the_segment() -> Result<()> {
        let repr = data_repr(b"abc");
        let mut buf = vec![0xee; repr.buffer_len() + 7];
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut buf[..]),
            &LOCALHOST,
            &LOCALHOST,
        );
        assert_eq!(&buf[..repr.buffer_len()], &emit(&repr)[..]);
        assert_eq!(&buf[repr.buffer_len()..], &[0xee; 7]);
        Ok(())
    }

    #[test]
    fn display() -> Result<()> {
        let bytes = hex(fixtures::SYN_ACK);
        let repr = parse_frame(&bytes)?;
        assert_eq!(
            repr.to_string(),
            "TCP src=8099 dst=43998 seq=2717425665 ack=1872118870 win=65483 len=0 \
             SYN ACK mss=65495 ws=10 sackOK ts=4078715422/2567756050"
        );
        let repr = TcpRepr {
            sack_ranges: [Some((1, 2)), Some((3, 4)), None, None],
            ..data_repr(b"xy")
        };
        assert_eq!(
            repr.to_string(),
            "TCP src=80 dst=40000 seq=4294967291 ack=1000 win=512 len=2 ACK sack=[1-2 3-4]"
        );
        Ok(())
    }

    #[test]
    fn seq_number_wraps_at_2_pow_32() {
        let top = TcpSeqNumber::from_u32(u32::MAX);
        let zero = TcpSeqNumber(0);
        assert_eq!(top + 1, zero);
        assert_eq!(zero - 1, top);
        assert!(top < zero);
        assert!(zero > top);
        assert_eq!(zero - top, 1);
        assert_eq!((top + 10) - top, 10);
        let mut s = top;
        s += 2;
        assert_eq!(s, TcpSeqNumber(1));
        assert_eq!(s.to_string(), "1");
        assert_eq!(top.to_string(), "4294967295");
        assert_eq!(cmp::max(top, zero), zero);
        assert_eq!(cmp::min(top, zero), top);
        assert_eq!(top.max(zero), zero);
    }

    #[test]
    fn seq_number_compares_across_2_pow_31() {
        let below = TcpSeqNumber::from_u32(0x7fff_ffff);
        let above = TcpSeqNumber::from_u32(0x8000_0000);
        assert!(below < above);
        assert_eq!(above - below, 1);
        assert_eq!(below + 1, above);
        // Within 2^31 - 1 ahead: greater.
        let a = TcpSeqNumber(0);
        assert!(a + (i32::MAX as usize) > a);
        assert_eq!((a + (i32::MAX as usize)) - a, i32::MAX as usize);
        // Exactly 2^31 apart the order is decided by the sign bit alone.
        assert!(TcpSeqNumber(i32::MIN) < TcpSeqNumber(0));
        assert_eq!(TcpSeqNumber(5).cmp(&TcpSeqNumber(5)), cmp::Ordering::Equal);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "is before")]
    fn seq_number_negative_distance_asserts() {
        let _ = TcpSeqNumber(1) - TcpSeqNumber(2);
    }

    #[test]
    fn control_helpers() {
        assert_eq!(TcpControl::Syn.len(), 1);
        assert_eq!(TcpControl::Fin.len(), 1);
        assert_eq!(TcpControl::Rst.len(), 0);
        assert!(TcpControl::Psh.is_empty());
        assert_eq!(TcpControl::Psh.quash_psh(), TcpControl::None);
        assert_eq!(TcpControl::Fin.quash_psh(), TcpControl::Fin);
    }

    fn arb_control() -> impl Strategy<Value = TcpControl> {
        prop_oneof![
            Just(TcpControl::None),
            Just(TcpControl::Psh),
            Just(TcpControl::Syn),
            Just(TcpControl::Fin),
            Just(TcpControl::Rst),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100), verify: bool) {
            if let Ok(p) = TcpPacket::new_checked(&bytes[..]) {
                let _ = p.segment_len();
                let _ = TcpRepr::parse(&p, &LOCALHOST, &LOCALHOST, verify);
            }
            let mut rest = &bytes[..];
            while let Ok((next, _)) = TcpOption::parse(rest) {
                rest = next;
            }
        }

        #[test]
        fn arbitrary_options_never_panic(options in proptest::collection::vec(any::<u8>(), 0..=40)) {
            let header_len = 20 + options.len().div_ceil(4) * 4;
            let mut bytes = vec![0u8; header_len];
            bytes[..4].copy_from_slice(&[0, 1, 0, 2]);
            bytes[12] = (header_len as u8 / 4) << 4;
            bytes[20..20 + options.len()].copy_from_slice(&options);
            let p = TcpPacket::new_checked(&bytes[..]);
            prop_assert!(p.is_ok());
            if let Ok(p) = p {
                prop_assert!(TcpRepr::parse(&p, &LOCALHOST, &LOCALHOST, false).is_ok());
            }
        }

        #[test]
        fn emit_parse_round_trip(
            src_port in 1u16..,
            dst_port in 1u16..,
            control in arb_control(),
            seq in any::<i32>(),
            ack in proptest::option::of(any::<i32>()),
            window_len: u16,
            window_scale in proptest::option::of(0u8..=14),
            max_seg_size in proptest::option::of(1u16..),
            sack_permitted: bool,
            sack in proptest::collection::vec(any::<(u32, u32)>(), 0..=4),
            timestamp in proptest::option::of(any::<(u32, u32)>()),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut sack_ranges = [None; 4];
            for (slot, r) in sack_ranges.iter_mut().zip(&sack) {
                *slot = Some(*r);
            }
            let repr = TcpRepr {
                src_port,
                dst_port,
                control,
                seq_number: TcpSeqNumber(seq),
                ack_number: ack.map(TcpSeqNumber),
                window_len,
                window_scale,
                max_seg_size,
                sack_permitted,
                sack_ranges,
                timestamp: timestamp.map(|(v, e)| TcpTimestampRepr::new(v, e)),
                payload: &payload,
            };
            let bytes = emit(&repr);
            prop_assert!(repr.header_len() <= 60);
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            let parsed = parse(&bytes);
            prop_assert!(parsed.is_ok(), "{:?}", parsed);
            let parsed = parsed.unwrap_or_default();

            // What emit cannot carry: PSH appears with any payload, and SACK
            // blocks past the 40 option bytes are left off.
            let mut expected = repr;
            if expected.control == TcpControl::None && !payload.is_empty() {
                expected.control = TcpControl::Psh;
            }
            for slot in expected.sack_ranges.iter_mut().skip(repr.sack_blocks_emitted()) {
                *slot = None;
            }
            prop_assert_eq!(parsed, expected);
        }
    }
}
