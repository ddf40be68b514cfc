//! Per-connection protocol state: bytes from TCP in, bytes for TCP out.
//!
//! Job: speak HTTP on one accepted TCP connection: HTTP/1.1
//! ([`h1::H1Conn`]), HTTP/2 ([`h2::H2Conn`], h2c with prior knowledge on the
//! plain port), and either inside TLS ([`tls::TlsConn`], chosen by ALPN).
//! [`HttpConn`] is the plain-port connection: it starts as HTTP/1.1 and
//! becomes HTTP/2 if the first bytes are the HTTP/2 preface
//! (RFC 9113 §3.3). All of them share [`ServeCtx`] and [`CloseState`] and
//! the call order below.
//!
//! Contract (sans-IO, like quinn-proto): a connection never reads a clock
//! and never touches a socket. The driver owns the TCP socket and calls, in
//! this order whenever something changes:
//!
//! 1. `handle_input(now, data, ctx)` with the socket's contiguous received
//!    bytes while `wants_input()`; it returns how many bytes it consumed
//!    (the driver removes exactly those from the receive buffer).
//! 2. `poll_transmit(ctx, out)` with the send buffer's free space while it
//!    returns more than zero; then `handle_input` again if unconsumed input
//!    remains (pipelined requests wait until the response before them has
//!    been written).
//! 3. `handle_eof(now)` once the peer's FIN has arrived and every byte before
//!    it has been consumed.
//! 4. `handle_timeout(now, ctx)` at or after `poll_timeout()` (it may start
//!    a response, e.g. 408, so `poll_transmit` follows); spurious calls do
//!    nothing.
//! 5. `handle_reset(ctx)` if the TCP connection failed or was reset; the
//!    connection is dropped afterwards.
//! 6. `close_state()` after each of the above to learn whether to close.
//!
//! A connection does no I/O for logging either: it appends access-log
//! lines to [`ServeCtx::log`], and the driver writes them out.

pub mod h1;
pub mod h2;
pub mod tls;

use std::net::Ipv4Addr;

use std::time::Duration;

use netstack::time::Instant;

use crate::access_log::AccessLog;
use crate::config::Http2Keys;
use crate::date::DateCache;
use crate::respond::{Response, Site};

pub use h1::{Deferred, H1Conn, H1Settings};
pub use h2::H2Conn;
pub use tls::TlsConn;

/// The client connection preface (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An HTTP connection of either version, with the same calls as
/// [`H1Conn`].
// HTTP/1.1 is the common case and lives inline; HTTP/2's larger state is
// boxed once per connection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum HttpConn {
    /// HTTP/1.1. With `sniff`, the first bytes are checked for the HTTP/2
    /// preface first (h2c prior knowledge): while they are a proper prefix
    /// of it nothing is consumed, so they stay in the socket.
    H1 {
        /// The HTTP/1.1 state (its header timer runs while sniffing).
        conn: H1Conn,
        /// `[http2]` settings if the preface is still to be looked for.
        sniff: Option<(Http2Keys, Duration)>,
    },
    /// HTTP/2.
    H2(Box<H2Conn>),
}

impl HttpConn {
    /// HTTP/1.1; with `sniff`, HTTP/2 if the preface arrives first.
    pub fn h1(now: Instant, settings: &H1Settings, sniff: Option<&Http2Keys>) -> HttpConn {
        HttpConn::H1 {
            conn: H1Conn::new(now, settings),
            sniff: sniff.map(|k| (*k, settings.send_timeout)),
        }
    }

    /// HTTP/2 from the first byte (ALPN `h2`).
    pub fn h2(now: Instant, keys: &Http2Keys, send_timeout: Duration) -> HttpConn {
        HttpConn::H2(Box::new(H2Conn::new(now, keys, send_timeout)))
    }

    /// True once this is an HTTP/2 connection.
    pub fn is_h2(&self) -> bool {
        matches!(self, HttpConn::H2(_))
    }

    /// See [`H1Conn::handle_input`].
    pub fn handle_input(&mut self, now: Instant, data: &[u8], ctx: &mut ServeCtx) -> usize {
        if let HttpConn::H1 { sniff, .. } = self {
            if let Some((keys, send_timeout)) = *sniff {
                let n = data.len().min(H2_PREFACE.len());
                if data[..n] != H2_PREFACE[..n] {
                    *sniff = None;
                } else if n < H2_PREFACE.len() {
                    return 0;
                } else {
                    *self = HttpConn::h2(now, &keys, send_timeout);
                }
            }
        }
        match self {
            HttpConn::H1 { conn, .. } => conn.handle_input(now, data, ctx),
            HttpConn::H2(c) => c.handle_input(now, data, ctx),
        }
    }

    /// See [`H1Conn::handle_eof`].
    pub fn handle_eof(&mut self, now: Instant, ctx: &mut ServeCtx) {
        match self {
            HttpConn::H1 { conn, .. } => conn.handle_eof(now),
            HttpConn::H2(c) => c.handle_eof(now, ctx),
        }
    }

    /// See [`H1Conn::poll_transmit`].
    pub fn poll_transmit(&mut self, ctx: &mut ServeCtx, out: &mut [u8]) -> usize {
        match self {
            HttpConn::H1 { conn, .. } => conn.poll_transmit(ctx, out),
            HttpConn::H2(c) => c.poll_transmit(ctx, out),
        }
    }

    /// See [`H1Conn::wants_transmit`].
    pub fn wants_transmit(&self) -> bool {
        match self {
            HttpConn::H1 { conn, .. } => conn.wants_transmit(),
            HttpConn::H2(c) => c.wants_transmit(),
        }
    }

    /// See [`H1Conn::poll_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            HttpConn::H1 { conn, .. } => conn.poll_timeout(),
            HttpConn::H2(c) => c.poll_timeout(),
        }
    }

    /// See [`H1Conn::handle_timeout`].
    pub fn handle_timeout(&mut self, now: Instant, ctx: &mut ServeCtx) {
        match self {
            HttpConn::H1 { conn, .. } => conn.handle_timeout(now, ctx),
            HttpConn::H2(c) => c.handle_timeout(now, ctx),
        }
    }

    /// See [`H1Conn::handle_reset`].
    pub fn handle_reset(&mut self, ctx: &mut ServeCtx) {
        match self {
            HttpConn::H1 { conn, .. } => conn.handle_reset(ctx),
            HttpConn::H2(c) => c.handle_reset(ctx),
        }
    }

    /// Requests answered so far on this connection.
    pub fn requests_served(&self) -> u64 {
        match self {
            HttpConn::H1 { conn, .. } => u64::from(conn.requests_served()),
            HttpConn::H2(c) => c.requests_served(),
        }
    }

    /// Between requests with nothing in flight (HTTP/1.1; an HTTP/2
    /// connection is never closed as idle by a stop: GOAWAY ends it).
    pub fn is_idle(&self) -> bool {
        match self {
            HttpConn::H1 { conn, .. } => conn.is_idle(),
            HttpConn::H2(_) => false,
        }
    }

    /// Reading a request head (HTTP/1.1).
    pub fn is_reading(&self) -> bool {
        match self {
            HttpConn::H1 { conn, .. } => conn.is_reading(),
            HttpConn::H2(_) => false,
        }
    }

    /// A request the driver must answer (status pages; HTTP/1.1 only).
    pub fn deferred(&self) -> Option<&Deferred> {
        match self {
            HttpConn::H1 { conn, .. } => conn.deferred(),
            HttpConn::H2(_) => None,
        }
    }

    /// Answer the deferred request with `resp`.
    pub fn answer_deferred(&mut self, now: Instant, resp: Response, ctx: &mut ServeCtx) {
        if let HttpConn::H1 { conn, .. } = self {
            conn.answer_deferred(now, resp, ctx);
        }
    }

    /// Server shutdown: HTTP/2 sends GOAWAY and lets open streams finish
    /// (RFC 9113 §6.8); HTTP/1.1 finishes the response in flight.
    pub fn shutdown(&mut self, now: Instant, ctx: &mut ServeCtx) {
        if let HttpConn::H2(c) = self {
            c.shutdown(now, ctx);
        }
    }

    /// See [`H1Conn::close_state`].
    pub fn close_state(&self) -> CloseState {
        match self {
            HttpConn::H1 { conn, .. } => conn.close_state(),
            HttpConn::H2(c) => c.close_state(),
        }
    }
}

/// What a connection borrows from its event loop while it runs.
#[derive(Debug)]
pub struct ServeCtx<'a> {
    /// The document root and its file cache.
    pub site: &'a mut Site,
    /// HTTP/1 limits and timeouts.
    pub settings: &'a H1Settings,
    /// The current `Date` header value (updated by the driver once a second).
    pub date: &'a DateCache,
    /// Wall-clock seconds since the Unix epoch (for the file cache and
    /// `Last-Modified`).
    pub now_unix_secs: u64,
    /// The driver's monotonic time (for deadlines set while writing).
    pub now: Instant,
    /// The access log buffer: a line per finished response goes here when
    /// it is enabled (the driver writes it out).
    pub log: &'a mut AccessLog,
    /// The peer's address (`$remote_addr`).
    pub peer: Ipv4Addr,
}

/// What the driver should do with the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseState {
    /// Keep going.
    Open,
    /// Send what `poll_transmit` still produces, then close (FIN) once
    /// `wants_transmit()` is false. Further input is read and discarded.
    CloseAfterFlush,
    /// A timer expired with nothing to send (idle keep-alive, or a request
    /// that never arrived in full): close (FIN) now.
    Timeout,
    /// The response cannot be completed (file read error, peer not reading):
    /// reset the connection (RST); what was sent is incomplete.
    Abort,
}

/// A connection on either listener: plain (HTTP/1.1 or h2c) or TLS.
// Plain connections are the common case and live inline; TLS state is
// boxed once per connection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Proto {
    /// The plain port.
    Plain(HttpConn),
    /// The TLS port.
    Tls(Box<TlsConn>),
}

impl Proto {
    /// See [`H1Conn::handle_input`].
    pub fn handle_input(&mut self, now: Instant, data: &[u8], ctx: &mut ServeCtx) -> usize {
        match self {
            Proto::Plain(c) => c.handle_input(now, data, ctx),
            Proto::Tls(c) => c.handle_input(now, data, ctx),
        }
    }

    /// See [`H1Conn::handle_eof`].
    pub fn handle_eof(&mut self, now: Instant, ctx: &mut ServeCtx) {
        match self {
            Proto::Plain(c) => c.handle_eof(now, ctx),
            Proto::Tls(c) => c.handle_eof(now, ctx),
        }
    }

    /// See [`H1Conn::poll_transmit`].
    pub fn poll_transmit(&mut self, ctx: &mut ServeCtx, out: &mut [u8]) -> usize {
        match self {
            Proto::Plain(c) => c.poll_transmit(ctx, out),
            Proto::Tls(c) => c.poll_transmit(ctx, out),
        }
    }

    /// See [`H1Conn::wants_transmit`].
    pub fn wants_transmit(&self) -> bool {
        match self {
            Proto::Plain(c) => c.wants_transmit(),
            Proto::Tls(c) => c.wants_transmit(),
        }
    }

    /// See [`H1Conn::poll_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Proto::Plain(c) => c.poll_timeout(),
            Proto::Tls(c) => c.poll_timeout(),
        }
    }

    /// See [`H1Conn::handle_timeout`].
    pub fn handle_timeout(&mut self, now: Instant, ctx: &mut ServeCtx) {
        match self {
            Proto::Plain(c) => c.handle_timeout(now, ctx),
            Proto::Tls(c) => c.handle_timeout(now, ctx),
        }
    }

    /// See [`H1Conn::handle_reset`].
    pub fn handle_reset(&mut self, ctx: &mut ServeCtx) {
        match self {
            Proto::Plain(c) => c.handle_reset(ctx),
            Proto::Tls(c) => c.handle_reset(ctx),
        }
    }

    /// See [`HttpConn::shutdown`].
    pub fn shutdown(&mut self, now: Instant, ctx: &mut ServeCtx) {
        match self {
            Proto::Plain(c) => c.shutdown(now, ctx),
            Proto::Tls(c) => c.shutdown(now, ctx),
        }
    }

    /// See [`H1Conn::close_state`].
    pub fn close_state(&self) -> CloseState {
        match self {
            Proto::Plain(c) => c.close_state(),
            Proto::Tls(c) => c.close_state(),
        }
    }

    /// See [`HttpConn::requests_served`].
    pub fn requests_served(&self) -> u64 {
        match self {
            Proto::Plain(c) => c.requests_served(),
            Proto::Tls(c) => c.http().map_or(0, HttpConn::requests_served),
        }
    }

    /// See [`HttpConn::is_idle`] (a TLS connection still in its handshake
    /// counts as idle).
    pub fn is_idle(&self) -> bool {
        match self {
            Proto::Plain(c) => c.is_idle(),
            Proto::Tls(c) => c.http().is_none_or(HttpConn::is_idle),
        }
    }

    /// See [`HttpConn::is_reading`].
    pub fn is_reading(&self) -> bool {
        match self {
            Proto::Plain(c) => c.is_reading(),
            Proto::Tls(c) => c.http().is_some_and(HttpConn::is_reading),
        }
    }

    /// See [`HttpConn::deferred`].
    pub fn deferred(&self) -> Option<&Deferred> {
        match self {
            Proto::Plain(c) => c.deferred(),
            Proto::Tls(c) => c.http().and_then(HttpConn::deferred),
        }
    }

    /// See [`HttpConn::answer_deferred`].
    pub fn answer_deferred(&mut self, now: Instant, resp: Response, ctx: &mut ServeCtx) {
        match self {
            Proto::Plain(c) => c.answer_deferred(now, resp, ctx),
            Proto::Tls(c) => {
                if let Some(inner) = c.http_mut() {
                    inner.answer_deferred(now, resp, ctx);
                }
            }
        }
    }

    /// True if HTTP/2 runs on it (h2c, or TLS with ALPN `h2`).
    pub fn is_h2(&self) -> bool {
        match self {
            Proto::Plain(c) => c.is_h2(),
            Proto::Tls(c) => c.http().is_some_and(HttpConn::is_h2),
        }
    }
}

#[cfg(test)]
mod pipe_tests;
