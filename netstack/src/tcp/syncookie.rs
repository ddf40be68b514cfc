//! SYN cookies (RFC 4987 §3.6): answering a SYN without keeping state, so
//! that a flood of SYNs cannot fill the SYN queue and lock out real clients.
//!
//! Contract: [`syn_cookie_synack`] turns a SYN into the SYN-ACK to send,
//! whose sequence number (the cookie) encodes everything needed later;
//! [`accept_cookie_ack`] checks the ACK that completes such a handshake and,
//! if the cookie is genuine and fresh, returns an ESTABLISHED socket that
//! has already taken the ACK (and any data on it). Both are pure: the secret
//! and the time come in.
//!
//! The encoding is Linux's (`net/ipv4/syncookies.c`), so captures read the
//! same:
//!
//! ```text
//! cookie = H(tuple, secret, 0) + client ISN + (count << 24)
//!          + ((H(tuple, secret, count) + mss_index) mod 2^24)
//! ```
//!
//! `count` is a 64-second clock; a cookie is accepted for two counts. The
//! two bits of `mss_index` choose from [`MSS_TABLE`]. When the client sent
//! timestamps, the low six bits of our TSval carry its window scale (four
//! bits, 15 = none) and SACK-permitted (one bit), and its ACK echoes them
//! back; without timestamps there is nowhere to keep them, so the SYN-ACK
//! offers neither (as Linux does).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::{FourTuple, State, TcpConfig, TcpSocket};
use crate::time::Instant;
use crate::wire::{TcpControl, TcpRepr, TcpSeqNumber, TcpTimestampRepr, TCP_MAX_WINDOW_SCALE};

/// MSS values a cookie can carry (Linux `msstab` for IPv4): the largest not
/// above the client's MSS is used.
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
/// Bits of the cookie below the counter.
const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;
/// Length of one count of the cookie clock, in seconds (Linux uses 60 s).
const COUNT_SECS: u64 = 64;
/// Counts a cookie stays valid (Linux `MAX_SYNCOOKIE_AGE`).
const MAX_AGE: u32 = 2;
/// Low TSval bits that carry the options.
const TS_OPTION_BITS: u32 = 6;
const TS_OPTION_MASK: u32 = (1 << TS_OPTION_BITS) - 1;
const TS_WSCALE_NONE: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;

/// The cookie clock at `now`.
fn count_at(now: Instant) -> u32 {
    // NOTE(cast): the counter wraps; only differences modulo 2^8 matter.
    (now.total_micros() / 1_000_000 / COUNT_SECS) as u32
}

/// Keyed hash of the 4-tuple and `count` (`c` separates the two uses).
fn cookie_hash(secret: &[u8; 16], tuple: &FourTuple, count: u32, c: u8) -> u32 {
    let mut hasher = DefaultHasher::new();
    secret.hash(&mut hasher);
    c.hash(&mut hasher);
    tuple.hash(&mut hasher);
    count.hash(&mut hasher);
    // NOTE(cast): any 32 bits of the 64-bit hash do.
    hasher.finish() as u32
}

/// The cookie for a SYN with sequence number `client_isn`.
fn make_cookie(
    secret: &[u8; 16],
    tuple: &FourTuple,
    client_isn: TcpSeqNumber,
    count: u32,
    mss_index: u32,
) -> TcpSeqNumber {
    let value = cookie_hash(secret, tuple, 0, 0)
        .wrapping_add(client_isn.to_u32())
        .wrapping_add(count << COOKIE_BITS)
        .wrapping_add(cookie_hash(secret, tuple, count, 1).wrapping_add(mss_index) & COOKIE_MASK);
    TcpSeqNumber::from_u32(value)
}

/// The MSS index a cookie carries, if it is genuine and at most
/// [`MAX_AGE`] counts old.
fn check_cookie(
    secret: &[u8; 16],
    tuple: &FourTuple,
    client_isn: TcpSeqNumber,
    cookie: TcpSeqNumber,
    count: u32,
) -> Option<usize> {
    let reduced = cookie
        .to_u32()
        .wrapping_sub(cookie_hash(secret, tuple, 0, 0).wrapping_add(client_isn.to_u32()));
    let age = count.wrapping_sub(reduced >> COOKIE_BITS) & (u32::MAX >> COOKIE_BITS);
    if age >= MAX_AGE {
        return None;
    }
    let index =
        reduced.wrapping_sub(cookie_hash(secret, tuple, count.wrapping_sub(age), 1)) & COOKIE_MASK;
    let index = usize::try_from(index).ok()?;
    (index < MSS_TABLE.len()).then_some(index)
}

/// Index of the largest table MSS not above `mss` (the smallest if none).
fn mss_index(mss: u16) -> u32 {
    let mut index = 0;
    for (i, &m) in MSS_TABLE.iter().enumerate() {
        if m <= mss {
            // NOTE(cast): the table has four entries.
            index = i as u32;
        }
    }
    index
}

/// The SYN-ACK answering `syn` statelessly: sequence number = cookie,
/// options as a SYN-RECEIVED socket would send them, TSval carrying the
/// window scale and SACK-permitted. Without timestamps from the client,
/// window scaling and SACK are not offered.
pub fn syn_cookie_synack(
    config: &TcpConfig,
    secret: &[u8; 16],
    tuple: FourTuple,
    syn: &TcpRepr<'_>,
    now: Instant,
) -> TcpRepr<'static> {
    let client_mss = syn.max_seg_size.unwrap_or(MSS_TABLE[0]);
    let index = mss_index(client_mss.min(config.mss));
    let cookie = make_cookie(secret, &tuple, syn.seq_number, count_at(now), index);
    let timestamps = config.timestamps && syn.timestamp.is_some();
    let mut offered = *syn;
    offered.payload = &[];
    if !timestamps {
        offered.window_scale = None;
        offered.sack_permitted = false;
    }
    // A socket that never goes anywhere builds the SYN-ACK, so that it
    // matches what a stateful SYN-RECEIVED socket sends (no allocation: its
    // buffers are allocated on first use).
    let mut socket = TcpSocket::accept_syn(config, tuple, &offered, cookie, now);
    let mut synack = TcpRepr::default();
    let _ = socket.dispatch(now, |seg: &TcpRepr<'_>| {
        synack = TcpRepr {
            payload: &[],
            ..*seg
        };
        Ok::<(), ()>(())
    });
    synack.max_seg_size = Some(MSS_TABLE[index as usize]);
    if let Some(ts) = synack.timestamp.as_mut() {
        let mut options = syn
            .window_scale
            .filter(|_| config.window_scaling)
            .map_or(TS_WSCALE_NONE, |s| u32::from(s.min(TCP_MAX_WINDOW_SCALE)));
        if syn.sack_permitted && config.sack {
            options |= TS_SACK;
        }
        // Linux `cookie_init_timestamp`: replace the low bits, never
        // moving the clock forward.
        let encoded = (ts.tsval & !TS_OPTION_MASK) | options;
        ts.tsval = if encoded > ts.tsval {
            encoded.wrapping_sub(1 << TS_OPTION_BITS)
        } else {
            encoded
        };
    }
    synack
}

/// Why a cookie ACK did not open a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// Not a bare ACK-bearing segment (SYN, RST, or no ACK).
    NotAnAck,
    /// The cookie is forged, mangled or too old.
    Invalid,
}

/// Check the ACK `seg` that may complete a cookie handshake; on success the
/// returned socket is ESTABLISHED and has processed `seg` (its data is
/// readable, its ACK owed by the next dispatch).
pub fn accept_cookie_ack(
    config: &TcpConfig,
    secret: &[u8; 16],
    tuple: FourTuple,
    seg: &TcpRepr<'_>,
    now: Instant,
) -> Result<TcpSocket, CookieError> {
    let Some(ack) = seg.ack_number else {
        return Err(CookieError::NotAnAck);
    };
    if matches!(seg.control, TcpControl::Syn | TcpControl::Rst) {
        return Err(CookieError::NotAnAck);
    }
    let client_isn = seg.seq_number - 1;
    let cookie = ack - 1;
    let index = check_cookie(secret, &tuple, client_isn, cookie, count_at(now))
        .ok_or(CookieError::Invalid)?;
    // The options come back in the echoed TSval; without it there are none.
    let echoed = seg
        .timestamp
        .filter(|_| config.timestamps)
        .map(|ts| ts.tsecr & TS_OPTION_MASK);
    let window_scale = echoed.and_then(|o| {
        let shift = o & TS_WSCALE_NONE;
        // NOTE(cast): at most 14 after the check.
        (shift <= u32::from(TCP_MAX_WINDOW_SCALE)).then_some(shift as u8)
    });
    let syn = TcpRepr {
        src_port: seg.src_port,
        dst_port: seg.dst_port,
        control: TcpControl::Syn,
        seq_number: client_isn,
        ack_number: None,
        window_len: seg.window_len,
        window_scale,
        max_seg_size: Some(MSS_TABLE[index]),
        sack_permitted: echoed.is_some_and(|o| o & TS_SACK != 0),
        timestamp: seg.timestamp.map(|ts| TcpTimestampRepr {
            tsval: ts.tsval,
            tsecr: 0,
        }),
        sack_ranges: [None; 4],
        payload: &[],
    };
    let mut socket = TcpSocket::accept_syn(config, tuple, &syn, cookie, now);
    // Our SYN-ACK went out (statelessly): SND.NXT is past it.
    socket.snd_nxt = cookie + 1;
    socket.snd_max = cookie + 1;
    let reply = socket.process(now, seg);
    if reply.is_some() || socket.state() != State::Established && socket.state() != State::CloseWait
    {
        return Err(CookieError::Invalid);
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::SocketAddr;
    use crate::time::Duration;
    use crate::wire::Ipv4Address;

    const SECRET: [u8; 16] = *b"0123456789abcdef";
    const TUPLE: FourTuple = FourTuple {
        local: SocketAddr::new(Ipv4Address([10, 7, 0, 2]), 80),
        remote: SocketAddr::new(Ipv4Address([10, 7, 0, 1]), 40000),
    };

    fn syn(ts: bool) -> TcpRepr<'static> {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            control: TcpControl::Syn,
            seq_number: TcpSeqNumber(5000),
            window_len: 64240,
            max_seg_size: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: ts.then_some(TcpTimestampRepr {
                tsval: 777,
                tsecr: 0,
            }),
            ..TcpRepr::default()
        }
    }

    fn ack_for(synack: &TcpRepr<'_>, payload: &'static [u8]) -> TcpRepr<'static> {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            control: TcpControl::None,
            seq_number: TcpSeqNumber(5001),
            ack_number: Some(synack.seq_number + 1),
            window_len: 502,
            timestamp: synack.timestamp.map(|ts| TcpTimestampRepr {
                tsval: 778,
                tsecr: ts.tsval,
            }),
            payload,
            ..TcpRepr::default()
        }
    }

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    #[test]
    fn listen_cookie_synack_carries_options_in_timestamp() {
        let config = TcpConfig::default();
        let synack = syn_cookie_synack(&config, &SECRET, TUPLE, &syn(true), at(1000));
        assert_eq!(synack.control, TcpControl::Syn);
        assert_eq!(synack.ack_number, Some(TcpSeqNumber(5001)));
        assert_eq!(synack.max_seg_size, Some(1460));
        assert!(synack.window_scale.is_some());
        assert!(synack.sack_permitted);
        let ts = synack.timestamp.expect("timestamps echoed");
        assert_eq!(ts.tsecr, 777);
        assert_eq!(ts.tsval & TS_OPTION_MASK, 7 | TS_SACK);
    }

    #[test]
    fn listen_cookie_synack_without_timestamps_offers_no_scale_or_sack() {
        let config = TcpConfig::default();
        let synack = syn_cookie_synack(&config, &SECRET, TUPLE, &syn(false), at(1000));
        assert_eq!(synack.window_scale, None);
        assert!(!synack.sack_permitted);
        assert_eq!(synack.timestamp, None);
        assert_eq!(synack.max_seg_size, Some(1460));
    }

    #[test]
    fn listen_cookie_ack_opens_established_connection_with_options() {
        let config = TcpConfig::default();
        let synack = syn_cookie_synack(&config, &SECRET, TUPLE, &syn(true), at(1000));
        let ack = ack_for(&synack, b"GET / HTTP/1.1\r\n\r\n");
        let mut socket =
            accept_cookie_ack(&config, &SECRET, TUPLE, &ack, at(1001)).expect("valid cookie");
        assert_eq!(socket.state(), State::Established);
        assert_eq!(socket.snd_wscale, 7);
        assert!(socket.sack_ok);
        assert!(socket.timestamps.is_some());
        assert_eq!(socket.snd_wnd, 502 << 7);
        let mut buf = [0u8; 64];
        let n = socket.recv_slice(&mut buf).expect("data delivered");
        assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn listen_cookie_ack_small_mss_rounds_down_the_table() {
        let config = TcpConfig::default();
        let mut small = syn(true);
        small.max_seg_size = Some(1400);
        let synack = syn_cookie_synack(&config, &SECRET, TUPLE, &small, at(0));
        assert_eq!(synack.max_seg_size, Some(1300));
        let socket = accept_cookie_ack(&config, &SECRET, TUPLE, &ack_for(&synack, b""), at(0))
            .expect("valid cookie");
        assert_eq!(socket.snd_mss, 1300);
    }

    #[test]
    fn listen_cookie_ack_with_wrong_cookie_is_rejected() {
        let config = TcpConfig::default();
        let synack = syn_cookie_synack(&config, &SECRET, TUPLE, &syn(true), at(1000));
        let mut ack = ack_for(&synack, b"");
        ack.ack_number = Some(synack.seq_number + 2);
        assert_eq!(
            accept_cookie_ack(&config, &SECRET, TUPLE, &ack, at(1000)).err(),
            Some(CookieError::Invalid)
        );
        // Another client's port: the hash differs.
        let other = FourTuple {
            remote: SocketAddr::new(TUPLE.remote.addr, 40001),
            ..TUPLE
        };
        let mut ack = ack_for(&synack, b"");
        ack.src_port = 40001;
        assert!(accept_cookie_ack(&config, &SECRET, other, &ack, at(1000)).is_err());
    }

    #[test]
    fn listen_cookie_ack_expires_after_two_counts() {
        let config = TcpConfig::default();
        let synack = syn_cookie_synack(&config, &SECRET, TUPLE, &syn(true), at(1000));
        let ack = ack_for(&synack, b"");
        assert!(accept_cookie_ack(&config, &SECRET, TUPLE, &ack, at(1000 + 64)).is_ok());
        assert_eq!(
            accept_cookie_ack(&config, &SECRET, TUPLE, &ack, at(1000 + 3 * 64)).err(),
            Some(CookieError::Invalid)
        );
    }

    #[test]
    fn listen_cookie_rst_or_syn_is_not_an_ack() {
        let config = TcpConfig::default();
        let synack = syn_cookie_synack(&config, &SECRET, TUPLE, &syn(true), at(0));
        let mut ack = ack_for(&synack, b"");
        ack.control = TcpControl::Rst;
        assert_eq!(
            accept_cookie_ack(&config, &SECRET, TUPLE, &ack, at(0)).err(),
            Some(CookieError::NotAnAck)
        );
    }
}
