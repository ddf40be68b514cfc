//! Per-connection protocol state: bytes from TCP in, bytes for TCP out.
//!
//! Job: speak HTTP on one accepted TCP connection. Today that is HTTP/1.1
//! ([`h1::H1Conn`]); TLS and HTTP/2 will sit beside it and share
//! [`ServeCtx`] and [`CloseState`].
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

use std::net::Ipv4Addr;

use netstack::time::Instant;

use crate::access_log::AccessLog;
use crate::date::DateCache;
use crate::respond::Site;

pub use h1::{H1Conn, H1Settings};

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
