//! TLS server connection on rustls, sans-IO: TLS records in and out, an
//! HTTP connection ([`HttpConn`]: HTTP/1.1 or HTTP/2 by ALPN) inside.
//!
//! Job: decrypt what TCP delivered, hand the plaintext to the HTTP
//! connection, encrypt what it produces, and report how the handshake went.
//!
//! Contract (the call order is [`crate::conn`]'s; rustls's own buffers are
//! the only ones besides a bounded plaintext queue):
//! - Input: records are fed with `read_tls`/`process_new_packets`;
//!   decrypted bytes queue (at most [`PLAINTEXT_MAX`]) until the HTTP
//!   connection consumes them. While it does not (a response in flight),
//!   further records stay in the TCP socket: backpressure reaches the peer.
//! - The HTTP connection is created when the handshake completes: ALPN `h2`
//!   makes it HTTP/2 (RFC 9113 §3.2), `http/1.1` HTTP/1.1 (RFC 7301), and
//!   no ALPN HTTP/1.1 unless the HTTP/2 preface comes first.
//! - Output: pending records (handshake, alerts) go first; then plaintext
//!   is pulled from the HTTP connection in records sized to the caller's
//!   room (at least [`MIN_RECORD`]); a record that does not fit waits in
//!   rustls and goes first next time, so rustls never buffers more than a
//!   record, and any room, however small, makes progress.
//! - A handshake or record error: the alert rustls queued is sent, then
//!   the connection lingers: input is read and discarded for up to
//!   [`LINGER`] or until the peer's FIN, and only then closes
//!   ([`CloseState::CloseAfterFlush`]); closing at once would answer the
//!   rest of a request sent in several segments with RST, which can destroy
//!   the alert in the peer's receive queue before it is read. The failure
//!   is reported once by [`TlsConn::take_outcome`]. A handshake that does
//!   not finish within `header_timeout` closes the connection.
//! - When the HTTP connection is done (`CloseAfterFlush`), `close_notify`
//!   is sent after its last bytes (RFC 8446 §6.1). A peer's `close_notify`
//!   is end of input for the HTTP connection.
//! - Never reads a clock: `now` comes in.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use netstack::time::Instant;
use rustls::{HandshakeKind, ProtocolVersion, ServerConfig, ServerConnection};
use tracing::debug;

use super::{CloseState, H1Settings, HttpConn, ServeCtx};
use crate::config::Http2Keys;

/// Decrypted bytes queued for the HTTP connection at most.
pub const PLAINTEXT_MAX: usize = 64 * 1024;
/// Largest TLS plaintext record (RFC 8446 §5.1).
const RECORD_MAX: usize = 16 * 1024;
/// Room kept for a record's header, nonce, tag and content type.
const RECORD_OVERHEAD: usize = 64;
/// How long a failed connection reads and discards input before closing.
pub const LINGER: Duration = Duration::from_secs(1);
/// Smallest record made when the caller's buffer has less room than that;
/// the rest of the record waits in rustls.
pub const MIN_RECORD: usize = 4096;

/// How a handshake ended, reported once per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Completed.
    Done {
        /// TLS 1.3 (else 1.2).
        tls13: bool,
        /// Resumed from a ticket or session ID.
        resumed: bool,
        /// ALPN chose `h2`.
        h2: bool,
    },
    /// rustls rejected the handshake (an alert was sent).
    Failed,
    /// The peer went away or timed out before the handshake completed.
    Abandoned,
}

/// A TLS server connection. See the module docs.
#[derive(Debug)]
pub struct TlsConn {
    tls: ServerConnection,
    inner: Option<HttpConn>,
    h1: H1Settings,
    h2: Http2Keys,
    plaintext: Vec<u8>,
    scratch: Vec<u8>,
    /// The handshake must finish by then.
    deadline: Option<Instant>,
    close: CloseState,
    /// The peer's close_notify or TCP FIN arrived.
    peer_eof: bool,
    eof_delivered: bool,
    close_notify_queued: bool,
    /// After an error: the alert is out, input is discarded until then.
    linger_until: Option<Instant>,
    outcome: Option<Outcome>,
    outcome_taken: bool,
}

impl TlsConn {
    /// A connection accepted at `now`; the handshake has `header_timeout`.
    pub fn new(
        now: Instant,
        config: Arc<ServerConfig>,
        settings: &H1Settings,
        h2: Http2Keys,
    ) -> Result<TlsConn, rustls::Error> {
        Ok(TlsConn {
            tls: ServerConnection::new(config)?,
            inner: None,
            h1: *settings,
            h2,
            plaintext: Vec::new(),
            scratch: Vec::new(),
            deadline: Some(now + settings.header_timeout),
            close: CloseState::Open,
            peer_eof: false,
            eof_delivered: false,
            close_notify_queued: false,
            linger_until: None,
            outcome: None,
            outcome_taken: false,
        })
    }

    /// The handshake's outcome, once, when it is known.
    pub fn take_outcome(&mut self) -> Option<Outcome> {
        if self.outcome_taken {
            return None;
        }
        let o = self.outcome?;
        self.outcome_taken = true;
        Some(o)
    }

    /// The HTTP connection inside, once the handshake is done.
    pub fn http(&self) -> Option<&HttpConn> {
        self.inner.as_ref()
    }

    /// The protocol inside, mutably (to answer a deferred request).
    pub fn http_mut(&mut self) -> Option<&mut HttpConn> {
        self.inner.as_mut()
    }

    /// TLS records from the peer; returns how many bytes were taken.
    pub fn handle_input(&mut self, now: Instant, data: &[u8], ctx: &mut ServeCtx) -> usize {
        if self.close != CloseState::Open || self.peer_eof || self.linger_until.is_some() {
            return data.len();
        }
        let mut used = 0;
        loop {
            self.deliver(now, ctx);
            if used == data.len() || self.close != CloseState::Open {
                break;
            }
            if self.plaintext.len() >= PLAINTEXT_MAX {
                break;
            }
            match self.tls.read_tls(&mut &data[used..]) {
                Ok(0) => {
                    // close_notify was received: nothing after it counts.
                    used = data.len();
                    break;
                }
                Ok(n) => used += n,
                Err(_) => {
                    // rustls's plaintext buffer is full: empty it first.
                    if !self.read_plaintext() {
                        break;
                    }
                    continue;
                }
            }
            match self.tls.process_new_packets() {
                Ok(state) => {
                    if state.peer_has_closed() {
                        self.peer_eof = true;
                    }
                }
                Err(e) => {
                    self.fail(now, &e);
                    return data.len();
                }
            }
            self.check_handshake(now);
            self.read_plaintext();
        }
        self.deliver(now, ctx);
        if self.close != CloseState::Open || self.linger_until.is_some() {
            return data.len();
        }
        used
    }

    /// The peer's FIN arrived and all input before it was consumed.
    pub fn handle_eof(&mut self, now: Instant, ctx: &mut ServeCtx) {
        self.peer_eof = true;
        if self.linger_until.is_some() {
            self.close = CloseState::CloseAfterFlush;
            return;
        }
        if self.inner.is_none() && self.close == CloseState::Open {
            debug!("peer closed during the TLS handshake");
            self.set_outcome(Outcome::Abandoned);
            self.close = CloseState::CloseAfterFlush;
        }
        self.deliver(now, ctx);
    }

    /// Writes TLS records into `out`; returns how many bytes.
    pub fn poll_transmit(&mut self, ctx: &mut ServeCtx, out: &mut [u8]) -> usize {
        let mut n = 0;
        loop {
            // Plaintext the HTTP side refused while busy (pipelined
            // requests) is offered again as soon as it may want it.
            if self.linger_until.is_none() {
                self.deliver(ctx.now, ctx);
            }
            while self.tls.wants_write() && n < out.len() {
                let mut w = &mut out[n..];
                match self.tls.write_tls(&mut w) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
            }
            if self.tls.wants_write()
                || self.close != CloseState::Open
                || self.linger_until.is_some()
            {
                break;
            }
            let Some(inner) = &mut self.inner else {
                break;
            };
            let room = out.len() - n;
            if room == 0 {
                break;
            }
            // A record sized to the room (at least MIN_RECORD): what does
            // not fit stays in rustls (one record at most) and goes first
            // next time. Returning nothing for a small room would stall: the
            // driver offers a ring buffer's contiguous tail, and waits for
            // an ACK that may never come if it got no bytes.
            let k = room
                .saturating_sub(RECORD_OVERHEAD)
                .clamp(MIN_RECORD, RECORD_MAX);
            if self.scratch.len() < k {
                self.scratch.resize(k, 0);
            }
            let m = inner.poll_transmit(ctx, &mut self.scratch[..k]);
            if m == 0 {
                break;
            }
            if self.tls.writer().write_all(&self.scratch[..m]).is_err() {
                self.close = CloseState::Abort;
                break;
            }
        }
        self.maybe_close_notify();
        if n < out.len() && self.tls.wants_write() && self.close_notify_queued {
            let mut w = &mut out[n..];
            if let Ok(k) = self.tls.write_tls(&mut w) {
                n += k;
            }
        }
        n
    }

    /// True while records wait or the HTTP connection has bytes to send.
    pub fn wants_transmit(&self) -> bool {
        self.tls.wants_write()
            || (self.close == CloseState::Open
                && self.linger_until.is_none()
                && self.inner.as_ref().is_some_and(|i| {
                    i.wants_transmit()
                        || !self.plaintext.is_empty()
                        || (!self.close_notify_queued
                            && i.close_state() == CloseState::CloseAfterFlush)
                }))
    }

    /// When [`TlsConn::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.linger_until.is_some() {
            return self.linger_until;
        }
        match &self.inner {
            None => self.deadline,
            Some(i) => i.poll_timeout(),
        }
    }

    /// Acts on the handshake deadline or the HTTP connection's timers.
    pub fn handle_timeout(&mut self, now: Instant, ctx: &mut ServeCtx) {
        if let Some(until) = self.linger_until {
            if now >= until && self.close == CloseState::Open {
                self.close = CloseState::CloseAfterFlush;
            }
            return;
        }
        match &mut self.inner {
            None => {
                if self.deadline.is_some_and(|d| now >= d) && self.close == CloseState::Open {
                    debug!("TLS handshake timed out");
                    self.set_outcome(Outcome::Abandoned);
                    self.close = CloseState::Timeout;
                }
            }
            Some(i) => i.handle_timeout(now, ctx),
        }
    }

    /// The TCP connection failed or was reset.
    pub fn handle_reset(&mut self, ctx: &mut ServeCtx) {
        match &mut self.inner {
            None => self.set_outcome(Outcome::Abandoned),
            Some(i) => i.handle_reset(ctx),
        }
        self.close = CloseState::Abort;
    }

    /// Server shutdown: HTTP/2 sends GOAWAY and finishes open streams.
    pub fn shutdown(&mut self, now: Instant, ctx: &mut ServeCtx) {
        match &mut self.inner {
            Some(i) => i.shutdown(now, ctx),
            None => {
                if self.close == CloseState::Open {
                    self.close = CloseState::CloseAfterFlush;
                }
            }
        }
    }

    /// What the driver should do with the TCP connection.
    pub fn close_state(&self) -> CloseState {
        if self.close != CloseState::Open || self.linger_until.is_some() {
            return self.close;
        }
        match &self.inner {
            None => CloseState::Open,
            Some(i) => match i.close_state() {
                // Only once close_notify is on its way.
                CloseState::CloseAfterFlush if !self.close_notify_queued => CloseState::Open,
                s => s,
            },
        }
    }

    fn set_outcome(&mut self, o: Outcome) {
        if self.outcome.is_none() {
            self.outcome = Some(o);
        }
    }

    /// rustls refused what the peer sent: its alert is queued; send it
    /// and close.
    fn fail(&mut self, now: Instant, e: &rustls::Error) {
        debug!(error = %e, handshaking = self.inner.is_none(), "TLS error; sending alert");
        if self.inner.is_none() {
            self.set_outcome(Outcome::Failed);
        }
        self.linger_until = Some(now + LINGER);
    }

    /// Creates the HTTP connection once the handshake has completed.
    fn check_handshake(&mut self, now: Instant) {
        if self.inner.is_some() || self.tls.is_handshaking() {
            return;
        }
        let h2 = self.tls.alpn_protocol() == Some(b"h2");
        let tls13 = self.tls.protocol_version() == Some(ProtocolVersion::TLSv1_3);
        let resumed = self.tls.handshake_kind() == Some(HandshakeKind::Resumed);
        debug!(
            h2,
            tls13,
            resumed,
            sni = self.tls.server_name(),
            "TLS handshake done"
        );
        self.set_outcome(Outcome::Done { tls13, resumed, h2 });
        self.deadline = None;
        // No ALPN at all: HTTP/1.1, or HTTP/2 if its preface comes first
        // (prior knowledge, RFC 9113 §3.3).
        let sniff = (self.tls.alpn_protocol().is_none() && self.h2.h2c).then_some(&self.h2);
        self.inner = Some(if h2 {
            HttpConn::h2(now, &self.h2, self.h1.send_timeout)
        } else {
            HttpConn::h1(now, &self.h1, sniff)
        });
    }

    /// Moves decrypted bytes from rustls into the queue; false if none came.
    fn read_plaintext(&mut self) -> bool {
        let mut any = false;
        while self.plaintext.len() < PLAINTEXT_MAX {
            let start = self.plaintext.len();
            self.plaintext.resize(PLAINTEXT_MAX, 0);
            let r = self.tls.reader().read(&mut self.plaintext[start..]);
            match r {
                Ok(0) => {
                    self.plaintext.truncate(start);
                    self.peer_eof = true;
                    break;
                }
                Ok(n) => {
                    self.plaintext.truncate(start + n);
                    any = true;
                }
                Err(_) => {
                    // WouldBlock: nothing decrypted; UnexpectedEof: no
                    // close_notify yet (the TCP FIN tells).
                    self.plaintext.truncate(start);
                    break;
                }
            }
        }
        any
    }

    /// Offers queued plaintext (and then end of input) to the HTTP side.
    fn deliver(&mut self, now: Instant, ctx: &mut ServeCtx) {
        let Some(inner) = &mut self.inner else {
            return;
        };
        if !self.plaintext.is_empty() {
            let n = inner.handle_input(now, &self.plaintext, ctx);
            self.plaintext.drain(..n);
        }
        if self.peer_eof && self.plaintext.is_empty() && !self.eof_delivered {
            self.eof_delivered = true;
            inner.handle_eof(now, ctx);
        }
    }

    /// Queues close_notify once the HTTP connection has said its last.
    fn maybe_close_notify(&mut self) {
        if self.close_notify_queued {
            return;
        }
        if let Some(i) = &self.inner {
            if i.close_state() == CloseState::CloseAfterFlush && !i.wants_transmit() {
                self.close_notify_queued = true;
                self.tls.send_close_notify();
            }
        }
    }
}
