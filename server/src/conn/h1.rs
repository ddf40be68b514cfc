//! HTTP/1.1 server connection (RFC 9112), sans-IO.
//!
//! Job: turn request bytes into response bytes for one connection: parse
//! request heads with httparse, ask [`Site`](crate::respond::Site) for the
//! response, frame it, and decide when the connection ends.
//!
//! Contract (see [`crate::conn`] for the call order):
//! - Untrusted bytes never panic. Parsing separates "need more bytes"
//!   (buffer and wait, up to the [`H1Settings`] limits) from "bad request"
//!   (answer 400/413/414/431/505 with `Connection: close`, then close).
//!   Limits: request line over `max_request_line` → 414; head over
//!   `max_header_size` or more than `max_headers` fields → 431;
//!   `Content-Length` over `max_body_size` → 413 (nginx's defaults).
//! - Requests are answered in order. While a response is being written no
//!   further request is parsed; its bytes stay in the socket (so a client
//!   that pipelines too much meets TCP flow control, not our memory).
//! - A response's head and as much body as fits go into one `out` slice, so
//!   a small response leaves as one segment.
//! - Persistence (RFC 9112 §9.3): HTTP/1.1 keeps the connection unless
//!   `Connection: close`; HTTP/1.0 closes unless `Connection: keep-alive`.
//!   The `keepalive_requests`-th response says `Connection: close`.
//! - Timers: a new connection has `header_timeout` to deliver its first
//!   request; an idle keep-alive connection `keepalive_timeout` to start the
//!   next; both close silently on expiry ([`CloseState::Timeout`], as nginx
//!   does). A started request head has `header_timeout` to finish, else 408
//!   and close. A response that makes no progress for `send_timeout` aborts
//!   the connection.
//! - Request bodies (`Content-Length` or chunked, RFC 9112 §6.3) are read
//!   and discarded while and after the response is written, so the
//!   connection stays usable. `Expect: 100-continue` gets `100 Continue`
//!   before the final response. CL with TE, differing CLs, TE without
//!   `chunked` last (or `chunked` twice) → 400 and close: no smuggling.
//!   A chunked body that breaks §7.1 or grows past `max_body_size` closes
//!   the connection, answered 400/413 if none of the response went out yet.
//! - Keep-alive with a 1 KiB cached file allocates nothing per request: the
//!   head is formatted into a reused buffer and the body is an `Rc` clone.

use std::mem::{self, MaybeUninit};
use std::time::Duration;

use httparse::Status;
use netstack::time::Instant;
use tracing::{debug, trace};

pub use super::{CloseState, ServeCtx};
use crate::config::HttpConfig;
use crate::respond::{reason, Body, Method, Request, Response};

/// Upper bound of `max_headers`: the header array lives on the stack,
/// uninitialised, so its size costs nothing per request.
pub const MAX_HEADERS_LIMIT: usize = 1000;
/// Longest chunk-size line (size and extensions) in a chunked body, and the
/// most trailer bytes accepted. Longer: the connection is closed.
pub const MAX_CHUNK_LINE: usize = 4 * 1024;
/// A head buffer that grew past this is freed rather than kept for reuse.
const HEAD_BUF_KEEP: usize = 4 * 1024;
/// The interim response sent before reading a body that the client holds
/// back behind `Expect: 100-continue` (RFC 9110 §10.1.1, §15.2.1).
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// HTTP/1 settings, from `[http]` in the configuration. Defaults follow
/// nginx (the directive each one mirrors is named).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H1Settings {
    /// Idle time allowed between requests on a persistent connection;
    /// zero turns keep-alive off (`keepalive_timeout`, 15 s).
    pub keepalive_timeout: Duration,
    /// Requests served on one connection before it is closed, at least 1
    /// (`keepalive_requests`, 1000).
    pub keepalive_requests: u32,
    /// Time allowed for a request head to arrive once expected
    /// (`client_header_timeout`, 60 s).
    pub header_timeout: Duration,
    /// A response that makes no write progress for this long is aborted
    /// (`send_timeout`, 60 s).
    pub send_timeout: Duration,
    /// Longest request line (method, target, version); longer is 414
    /// (the buffer size of `large_client_header_buffers 4 8k`: 8 KiB).
    pub max_request_line: usize,
    /// Largest header section including the request line; larger is 431
    /// (all of `large_client_header_buffers 4 8k`: 32 KiB).
    pub max_header_size: usize,
    /// Most header fields in one request, at most [`MAX_HEADERS_LIMIT`];
    /// more is 431 (nginx counts bytes only; 100 is Apache's and Go's
    /// order of magnitude and far above what browsers send).
    pub max_headers: usize,
    /// Largest request body; a larger `Content-Length` is answered 413 and
    /// the connection closed, a longer chunked body closes the connection.
    /// Zero: no limit (`client_max_body_size`, 1 MiB).
    pub max_body_size: u64,
    /// Requests whose path is this prefix or under it (`[status] path`)
    /// are not resolved against the site: they wait as a
    /// [`H1Conn::deferred`] request until the driver answers them with
    /// [`H1Conn::answer_deferred`] (live status pages). `None`: off.
    pub deferred_prefix: Option<&'static str>,
}

impl Default for H1Settings {
    fn default() -> H1Settings {
        H1Settings {
            keepalive_timeout: Duration::from_secs(15),
            keepalive_requests: 1000,
            header_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            max_request_line: 8 * 1024,
            max_header_size: 32 * 1024,
            max_headers: 100,
            max_body_size: 1024 * 1024,
            deferred_prefix: None,
        }
    }
}

impl H1Settings {
    /// The settings `[http]` asks for.
    pub fn from_config(http: &HttpConfig) -> H1Settings {
        H1Settings {
            keepalive_timeout: http.keepalive_timeout,
            keepalive_requests: http.keepalive_requests,
            header_timeout: http.header_timeout,
            send_timeout: http.send_timeout,
            max_request_line: http.max_request_line,
            max_header_size: http.max_header_size,
            max_headers: http.max_headers,
            max_body_size: http.max_body_size,
            deferred_prefix: None,
        }
    }

    /// True if a body of `len` bytes is over `max_body_size`.
    fn body_too_large(&self, len: u64) -> bool {
        self.max_body_size != 0 && len > self.max_body_size
    }
}

/// Whether `target`'s path is `prefix` or below it (`/_tapir`,
/// `/_tapir/`, `/_tapir/x?y`, not `/_tapirx`).
fn under_prefix(target: &[u8], prefix: &[u8]) -> bool {
    let prefix = prefix.strip_suffix(b"/").unwrap_or(prefix);
    target.starts_with(prefix) && matches!(target.get(prefix.len()), None | Some(b'/' | b'?'))
}

/// Where the connection is between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first byte of a request.
    Idle,
    /// Part of a request head is buffered in `head_buf`.
    Head,
    /// A response is being written.
    Responding,
    /// The response is written; the request body is still arriving.
    DrainBody,
    /// Nothing more will happen; see `close`.
    Done,
}

/// Why a request is answered with an error and a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestError {
    /// Not HTTP/1.x syntax: 400.
    Malformed(httparse::Error),
    /// Request line over `max_request_line`: 414.
    LineTooLong,
    /// Head over `max_header_size` or more than `max_headers` fields: 431.
    HeadTooLarge,
    /// `Content-Length` over `max_body_size`: 413.
    BodyTooLarge,
    /// The head did not arrive within `header_timeout`: 408.
    Timeout,
    /// A chunked body that breaks RFC 9112 §7.1, noticed before any of the
    /// response went out: 400.
    BadChunkedBody,
    /// Missing or repeated `Host` (RFC 9112 §3.2): 400.
    BadHost,
    /// `Content-Length` not a number, or two different ones: 400.
    BadContentLength,
    /// `Transfer-Encoding` with `Content-Length`, in HTTP/1.0, or without
    /// `chunked` last (RFC 9112 §6.1, §6.3): 400.
    BadTransferEncoding,
}

impl RequestError {
    fn status(self) -> u16 {
        match self {
            RequestError::Malformed(httparse::Error::Version) => 505,
            RequestError::Malformed(httparse::Error::TooManyHeaders) => 431,
            RequestError::LineTooLong => 414,
            RequestError::HeadTooLarge => 431,
            RequestError::BodyTooLarge => 413,
            RequestError::Timeout => 408,
            _ => 400,
        }
    }
}

/// The request body still to be read and thrown away.
#[derive(Debug)]
enum Discard {
    None,
    Length(u64),
    Chunked(ChunkedDiscard),
}

/// A request left for the driver to answer (see
/// [`H1Settings::deferred_prefix`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// The request target as sent (path and query).
    pub target: Vec<u8>,
    /// The method was `HEAD`: the answer's body is dropped.
    pub head: bool,
    /// The method was `GET` or `HEAD`.
    pub get_or_head: bool,
    keep: bool,
    version: u8,
}

/// An HTTP/1.1 server connection. See the module docs.
#[derive(Debug)]
pub struct H1Conn {
    /// A request waiting for the driver's answer.
    deferred: Option<Box<Deferred>>,
    phase: Phase,
    close: CloseState,
    deadline: Option<Instant>,
    /// A request head split across inputs (empty on the fast path).
    head_buf: Vec<u8>,
    /// The response head being written, and how much of it is out.
    wbuf: Vec<u8>,
    wpos: usize,
    /// The response body and how much of it is out.
    body: Body,
    body_sent: u64,
    discard: Discard,
    peer_eof: bool,
    served: u32,
    /// For the access log (only filled while it is on): the request line,
    /// `Referer` and `User-Agent` of the response in flight, one after the
    /// other (split at `log_ref_at` and `log_ua_at`), and its status. Empty
    /// request line: the request could not be parsed (logged as `-`).
    log_fields: Vec<u8>,
    log_ref_at: usize,
    log_ua_at: usize,
    log_status: u16,
}

impl H1Conn {
    /// A connection accepted at `now`: it has `header_timeout` to send its
    /// first request.
    pub fn new(now: Instant, settings: &H1Settings) -> H1Conn {
        H1Conn {
            deferred: None,
            phase: Phase::Idle,
            close: CloseState::Open,
            deadline: Some(now + settings.header_timeout),
            head_buf: Vec::new(),
            wbuf: Vec::new(),
            wpos: 0,
            body: Body::Empty,
            body_sent: 0,
            discard: Discard::None,
            peer_eof: false,
            served: 0,
            log_fields: Vec::new(),
            log_ref_at: 0,
            log_ua_at: 0,
            log_status: 0,
        }
    }

    /// Bytes from the peer: the socket's contiguous receive data. Returns
    /// how many were consumed; the rest must be offered again later (after
    /// the current response is written). Only a partial request head is
    /// copied. Once the connection is closing, all input is consumed and
    /// discarded.
    pub fn handle_input(&mut self, now: Instant, data: &[u8], ctx: &mut ServeCtx) -> usize {
        if self.close != CloseState::Open {
            return data.len();
        }
        let mut used = 0;
        loop {
            // The current request's body comes first; it may arrive while
            // its response is being written.
            if !matches!(self.discard, Discard::None) {
                used += self.discard_body(now, &data[used..], ctx);
                if self.close != CloseState::Open {
                    return data.len();
                }
                if !matches!(self.discard, Discard::None) {
                    if self.phase == Phase::DrainBody && used > 0 {
                        self.deadline = Some(now + ctx.settings.header_timeout);
                    }
                    break;
                }
                if self.phase == Phase::DrainBody {
                    self.enter_idle(now, ctx.settings);
                }
            }
            if matches!(self.phase, Phase::Responding | Phase::Done) || used == data.len() {
                break;
            }
            let n = self.read_head(now, &data[used..], ctx);
            if self.close != CloseState::Open {
                return data.len();
            }
            if n == 0 {
                break;
            }
            used += n;
        }
        used
    }

    /// The peer sent FIN and every byte before it has been consumed: no
    /// request will follow. The response in flight is finished, then the
    /// connection closes.
    pub fn handle_eof(&mut self, _now: Instant) {
        self.peer_eof = true;
        if self.close != CloseState::Open {
            return;
        }
        match self.phase {
            Phase::Responding => {}
            Phase::Head => {
                debug!(buffered = self.head_buf.len(), "peer closed mid-request");
                self.finish(CloseState::CloseAfterFlush);
            }
            Phase::Idle | Phase::DrainBody | Phase::Done => {
                self.finish(CloseState::CloseAfterFlush);
            }
        }
        self.close = match self.close {
            CloseState::Open => CloseState::CloseAfterFlush,
            other => other,
        };
    }

    /// Writes pending response bytes into `out` (the send buffer's free
    /// space); returns how many. Call while it returns more than zero.
    pub fn poll_transmit(&mut self, ctx: &mut ServeCtx, out: &mut [u8]) -> usize {
        if self.phase != Phase::Responding || self.deferred.is_some() {
            return 0;
        }
        let mut n = 0;
        if self.wpos < self.wbuf.len() {
            let k = out.len().min(self.wbuf.len() - self.wpos);
            out[..k].copy_from_slice(&self.wbuf[self.wpos..self.wpos + k]);
            self.wpos += k;
            n = k;
        }
        if self.wpos == self.wbuf.len() {
            let left = self.body.len() - self.body_sent;
            // `k` fits in `out`, so in usize.
            let k = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(out.len() - n);
            if k > 0 {
                let dst = &mut out[n..n + k];
                if let Err(e) = copy_body(&self.body, self.body_sent, dst) {
                    debug!(error = %e, sent = self.body_sent, "response body unreadable; aborting");
                    self.log_response(ctx);
                    self.finish(CloseState::Abort);
                    return n;
                }
                self.body_sent += k as u64;
                n += k;
            }
            if self.body_sent == self.body.len() {
                self.log_response(ctx);
                self.finish_response(ctx.now, ctx.settings);
                return n;
            }
        }
        if n > 0 {
            self.deadline = Some(ctx.now + ctx.settings.send_timeout);
        }
        n
    }

    /// True while a response has bytes left to write.
    pub fn wants_transmit(&self) -> bool {
        self.phase == Phase::Responding
    }

    /// True if [`H1Conn::handle_input`] would consume bytes now; false while
    /// a response is in flight and the next request must wait.
    pub fn wants_input(&self) -> bool {
        self.close != CloseState::Open
            || self.phase != Phase::Responding
            || !matches!(self.discard, Discard::None)
    }

    /// When [`H1Conn::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Acts on an expired timer; does nothing before the deadline.
    pub fn handle_timeout(&mut self, now: Instant, ctx: &mut ServeCtx) {
        match self.deadline {
            Some(deadline) if now >= deadline => {}
            _ => return,
        }
        match self.phase {
            Phase::Idle => {
                trace!(served = self.served, "idle timeout");
                self.finish(CloseState::Timeout);
            }
            Phase::Head => {
                // Part of a head arrived but not all of it in time (a slow
                // client, or slowloris): 408 and close (RFC 9110 §15.5.9).
                // nginx closes silently here; a 408 tells a real client why.
                debug!(buffered = self.head_buf.len(), "request head timed out");
                self.reject(now, RequestError::Timeout, ctx);
            }
            Phase::DrainBody => {
                // The response is out; a body that stalls is not worth one.
                debug!("request body timed out");
                self.finish(CloseState::Timeout);
            }
            Phase::Responding => {
                debug!(sent = self.body_sent, "send_timeout; aborting");
                self.log_response(ctx);
                self.finish(CloseState::Abort);
            }
            Phase::Done => self.deadline = None,
        }
    }

    /// The peer reset the connection or it failed: the driver drops it.
    /// Logs the response that was in flight, if any.
    pub fn handle_reset(&mut self, ctx: &mut ServeCtx) {
        if self.phase == Phase::Responding {
            self.log_response(ctx);
        }
        self.finish(CloseState::Abort);
    }

    /// What the driver should do with the TCP connection.
    pub fn close_state(&self) -> CloseState {
        self.close
    }

    /// Waiting between requests (nginx's "Waiting" in `stub_status`).
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle && self.close == CloseState::Open
    }

    /// Part of a request head has arrived (nginx's "Reading").
    pub fn is_reading(&self) -> bool {
        self.phase == Phase::Head
    }

    /// The request waiting for the driver's answer, if any.
    pub fn deferred(&self) -> Option<&Deferred> {
        self.deferred.as_deref()
    }

    /// Answer the [`H1Conn::deferred`] request with `resp` (its body is
    /// dropped for `HEAD`); the response then goes out as any other.
    pub fn answer_deferred(&mut self, now: Instant, resp: Response, ctx: &mut ServeCtx) {
        let Some(d) = self.deferred.take() else {
            return;
        };
        let resp = if d.head { resp.into_head() } else { resp };
        self.start_response(now, resp, d.keep, d.version, false, ctx);
    }

    /// Responses started on this connection (errors included).
    pub fn requests_served(&self) -> u32 {
        self.served
    }

    // -- reading ------------------------------------------------------------

    /// Parses (part of) a request head from `input`; returns bytes consumed.
    fn read_head(&mut self, now: Instant, input: &[u8], ctx: &mut ServeCtx) -> usize {
        if self.head_buf.is_empty() {
            // Fast path: the whole head is in the socket buffer.
            return match self.parse_and_serve(now, input, ctx) {
                Parsed::Complete(n) => n,
                Parsed::Partial => {
                    if let Err(e) = check_partial(input, ctx.settings) {
                        self.reject(now, e, ctx);
                        return input.len();
                    }
                    self.head_buf.extend_from_slice(input);
                    self.enter_head(now, ctx.settings);
                    input.len()
                }
                Parsed::Rejected => input.len(),
            };
        }

        let old = self.head_buf.len();
        let limit = ctx.settings.max_header_size;
        let take = input.len().min((limit + 1).saturating_sub(old));
        self.head_buf.extend_from_slice(&input[..take]);
        // Parse again only if the new bytes may end the head (a blank line).
        let tail = &self.head_buf[old.saturating_sub(3)..];
        let may_end =
            tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n");
        if !may_end {
            if let Err(e) = check_partial(&self.head_buf, ctx.settings) {
                self.reject(now, e, ctx);
            }
            return take;
        }
        let buf = mem::take(&mut self.head_buf);
        let parsed = self.parse_and_serve(now, &buf, ctx);
        self.head_buf = buf;
        match parsed {
            Parsed::Complete(n) => {
                self.clear_head_buf();
                // Bytes past the head were only lent: give them back.
                n.saturating_sub(old)
            }
            Parsed::Partial => {
                if let Err(e) = check_partial(&self.head_buf, ctx.settings) {
                    self.reject(now, e, ctx);
                }
                take
            }
            Parsed::Rejected => {
                self.clear_head_buf();
                take
            }
        }
    }

    /// Parses `buf` as a request head and, if complete, starts its response.
    fn parse_and_serve(&mut self, now: Instant, buf: &[u8], ctx: &mut ServeCtx) -> Parsed {
        // Uninitialised: only the fields present are written, so a large
        // `max_headers` costs nothing per request.
        let mut headers = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS_LIMIT];
        let max_headers = ctx.settings.max_headers.clamp(1, MAX_HEADERS_LIMIT);
        let mut req = httparse::Request::new(&mut []);
        match req.parse_with_uninit_headers(buf, &mut headers[..max_headers]) {
            Ok(Status::Complete(n)) => {
                if request_line_len(buf) > ctx.settings.max_request_line {
                    self.reject(now, RequestError::LineTooLong, ctx);
                } else if n > ctx.settings.max_header_size {
                    self.reject(now, RequestError::HeadTooLarge, ctx);
                } else {
                    self.serve(now, &req, ctx);
                }
                if self.close == CloseState::Open {
                    Parsed::Complete(n)
                } else {
                    // Closing: nothing after this head will be read.
                    Parsed::Rejected
                }
            }
            Ok(Status::Partial) => Parsed::Partial,
            Err(e) => {
                self.reject(now, RequestError::Malformed(e), ctx);
                Parsed::Rejected
            }
        }
    }

    /// Answers one complete, syntactically valid request head.
    fn serve(&mut self, now: Instant, req: &httparse::Request, ctx: &mut ServeCtx) {
        let version = req.version.unwrap_or(1);
        let method = req.method.unwrap_or("");
        let target = req.path.unwrap_or("");
        if ctx.log.enabled() {
            self.stash_log_fields(method, target, version, req.headers);
        }
        let fields = match Fields::scan(req.headers, version) {
            Ok(f) => f,
            Err(e) => return self.reject(now, e, ctx),
        };

        let declared = if fields.chunked {
            None
        } else {
            Some(fields.content_length.unwrap_or(0))
        };
        // nginx `client_max_body_size`: a declared body over the limit is
        // refused before any of it is read; the close (RFC 9110 §15.5.14)
        // tells the client not to send it here.
        if declared.is_some_and(|n| ctx.settings.body_too_large(n)) {
            return self.reject(now, RequestError::BodyTooLarge, ctx);
        }

        // RFC 9112 §9.3: persistence by version and `Connection`.
        let mut keep = if version >= 1 {
            !fields.close
        } else {
            fields.keep_alive && !fields.close
        };
        self.served = self.served.saturating_add(1);
        if self.served >= ctx.settings.keepalive_requests
            || ctx.settings.keepalive_timeout.is_zero()
        {
            keep = false;
        }

        let mut interim = false;
        if declared != Some(0) {
            // The body is read and discarded so the connection stays
            // usable (nginx discards it the same way). RFC 9110 §10.1.1: a
            // client that sent `Expect: 100-continue` waits for a 100 before
            // sending it, so say 100 first (as nginx does when it starts
            // discarding); in HTTP/1.0 the expectation MUST be ignored.
            interim = fields.expect_continue && version >= 1;
            self.discard = match declared {
                Some(n) => Discard::Length(n),
                None => Discard::Chunked(ChunkedDiscard::new(ctx.settings.max_body_size)),
            };
        }

        let mut request = Request::new(Method::from_bytes(method.as_bytes()), target.as_bytes());
        for h in req.headers.iter() {
            request.add_field(h.name.as_bytes(), h.value);
        }
        if let Some(prefix) = ctx.settings.deferred_prefix {
            if under_prefix(target.as_bytes(), prefix.as_bytes()) {
                let m = Method::from_bytes(method.as_bytes());
                self.deferred = Some(Box::new(Deferred {
                    target: target.as_bytes().to_vec(),
                    head: method == "HEAD",
                    get_or_head: m.is_get_or_head(),
                    keep,
                    version,
                }));
                self.wbuf.clear();
                self.wpos = 0;
                self.body = Body::Empty;
                self.body_sent = 0;
                self.phase = Phase::Responding;
                self.deadline = Some(now + ctx.settings.send_timeout);
                return;
            }
        }
        let resp = ctx.site.resolve(&request, ctx.now_unix_secs);
        trace!(
            method,
            target,
            version,
            status = resp.status,
            keep,
            "request"
        );
        self.start_response(now, resp, keep, version, interim, ctx);
    }

    /// Answers a bad request with `status` and closes.
    fn reject(&mut self, now: Instant, e: RequestError, ctx: &mut ServeCtx) {
        let status = e.status();
        debug!(error = ?e, status, "bad request");
        self.discard = Discard::None;
        self.clear_head_buf();
        self.served = self.served.saturating_add(1);
        self.start_response(now, Response::error(status), false, 1, false, ctx);
    }

    /// Consumes request-body bytes from `input`; returns how many.
    fn discard_body(&mut self, now: Instant, input: &[u8], ctx: &mut ServeCtx) -> usize {
        match &mut self.discard {
            Discard::None => 0,
            Discard::Length(left) => {
                let k = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                *left -= k as u64;
                if *left == 0 {
                    self.discard = Discard::None;
                }
                k
            }
            Discard::Chunked(chunked) => match chunked.feed(input) {
                Ok((k, done)) => {
                    if done {
                        self.discard = Discard::None;
                    }
                    k
                }
                Err(e) => {
                    debug!(error = ?e, "bad chunked request body; closing");
                    self.discard = Discard::None;
                    if self.phase == Phase::Responding && self.wpos == 0 {
                        // None of the response is out yet: answer the
                        // broken framing instead (RFC 9112 §7.1: 400; over
                        // `max_body_size`: 413), then close.
                        let err = if e == ChunkError::TooLarge {
                            RequestError::BodyTooLarge
                        } else {
                            RequestError::BadChunkedBody
                        };
                        self.served = self.served.saturating_sub(1);
                        self.reject(now, err, ctx);
                    } else if self.phase == Phase::Responding {
                        // The response goes out whole; then close.
                        self.close = CloseState::CloseAfterFlush;
                    } else {
                        self.finish(CloseState::CloseAfterFlush);
                    }
                    input.len()
                }
            },
        }
    }

    // -- writing ------------------------------------------------------------

    /// Formats the head of `resp` into `wbuf` (after a `100 Continue` if
    /// `interim`) and makes it the response in flight.
    fn start_response(
        &mut self,
        now: Instant,
        resp: Response,
        keep: bool,
        version: u8,
        interim: bool,
        ctx: &ServeCtx,
    ) {
        let w = &mut self.wbuf;
        w.clear();
        if interim {
            w.extend_from_slice(CONTINUE);
        }
        let mut num = itoa::Buffer::new();
        // RFC 9110 §6.2: answer with our highest version, also to HTTP/1.0.
        w.extend_from_slice(b"HTTP/1.1 ");
        w.extend_from_slice(num.format(resp.status).as_bytes());
        w.push(b' ');
        w.extend_from_slice(reason(resp.status).as_bytes());
        w.extend_from_slice(b"\r\nServer: tapir\r\nDate: ");
        w.extend_from_slice(ctx.date.date().as_bytes());
        resp.for_each_field(|name, value| {
            w.extend_from_slice(b"\r\n");
            w.extend_from_slice(name.as_bytes());
            w.extend_from_slice(b": ");
            w.extend_from_slice(value);
        });
        if !keep {
            w.extend_from_slice(b"\r\nConnection: close");
        } else if version == 0 {
            w.extend_from_slice(b"\r\nConnection: keep-alive");
        }
        w.extend_from_slice(b"\r\n\r\n");
        self.wpos = 0;
        self.log_status = resp.status;
        self.body = resp.body;
        self.body_sent = 0;
        self.phase = Phase::Responding;
        self.deadline = Some(now + ctx.settings.send_timeout);
        if !keep {
            self.close = CloseState::CloseAfterFlush;
        }
    }

    /// Keeps what the access log needs from a request until its response
    /// is done (copied into a reused buffer: no allocation per request).
    fn stash_log_fields(
        &mut self,
        method: &str,
        target: &str,
        version: u8,
        headers: &[httparse::Header],
    ) {
        let f = &mut self.log_fields;
        f.clear();
        f.extend_from_slice(method.as_bytes());
        f.push(b' ');
        f.extend_from_slice(target.as_bytes());
        f.extend_from_slice(if version == 0 {
            b" HTTP/1.0"
        } else {
            b" HTTP/1.1"
        });
        let find = |name: &[u8]| {
            headers
                .iter()
                .find(|h| h.name.as_bytes().eq_ignore_ascii_case(name))
                .map_or(&b""[..], |h| trim(h.value))
        };
        self.log_ref_at = f.len();
        f.extend_from_slice(find(b"referer"));
        self.log_ua_at = f.len();
        f.extend_from_slice(find(b"user-agent"));
    }

    /// Appends the access-log line of the response in flight (with the
    /// body bytes sent so far) and forgets its request.
    fn log_response(&mut self, ctx: &mut ServeCtx) {
        if !ctx.log.enabled() {
            return;
        }
        let f = &self.log_fields;
        let (ref_at, ua_at) = (self.log_ref_at.min(f.len()), self.log_ua_at.min(f.len()));
        let ua_at = ua_at.max(ref_at);
        ctx.log.record(
            ctx.peer,
            &f[..ref_at],
            self.log_status,
            self.body_sent,
            &f[ref_at..ua_at],
            &f[ua_at..],
        );
        if self.log_fields.capacity() > HEAD_BUF_KEEP {
            self.log_fields = Vec::new();
        } else {
            self.log_fields.clear();
        }
        self.log_ref_at = 0;
        self.log_ua_at = 0;
    }

    /// The response is fully written: wait for the next request (or close).
    fn finish_response(&mut self, now: Instant, settings: &H1Settings) {
        self.wbuf.clear();
        self.wpos = 0;
        self.body = Body::Empty;
        self.body_sent = 0;
        if self.close != CloseState::Open || self.peer_eof {
            let close = match self.close {
                CloseState::Open => CloseState::CloseAfterFlush,
                other => other,
            };
            self.phase = Phase::Done;
            self.finish(close);
        } else if !matches!(self.discard, Discard::None) {
            self.phase = Phase::DrainBody;
            self.deadline = Some(now + settings.header_timeout);
        } else {
            self.enter_idle(now, settings);
        }
    }

    fn enter_idle(&mut self, now: Instant, settings: &H1Settings) {
        self.phase = Phase::Idle;
        self.deadline = Some(now + settings.keepalive_timeout);
    }

    fn enter_head(&mut self, now: Instant, settings: &H1Settings) {
        if self.phase != Phase::Head {
            self.phase = Phase::Head;
            self.deadline = Some(now + settings.header_timeout);
        }
    }

    fn clear_head_buf(&mut self) {
        if self.head_buf.capacity() > HEAD_BUF_KEEP {
            self.head_buf = Vec::new();
        } else {
            self.head_buf.clear();
        }
    }

    /// Ends the connection's work with `close`; drops what is in flight
    /// unless `close` flushes it.
    fn finish(&mut self, close: CloseState) {
        if close != CloseState::CloseAfterFlush || self.phase != Phase::Responding {
            self.phase = Phase::Done;
            self.deadline = None;
            self.body = Body::Empty;
            self.wbuf = Vec::new();
            self.wpos = 0;
        }
        self.head_buf = Vec::new();
        self.discard = Discard::None;
        self.close = close;
    }
}

/// Outcome of one parse attempt.
enum Parsed {
    /// A head of this many bytes was parsed and answered.
    Complete(usize),
    /// More bytes are needed.
    Partial,
    /// The request was answered with an error; the connection is closing.
    Rejected,
}

/// Limits on a head that is not complete yet.
fn check_partial(buf: &[u8], settings: &H1Settings) -> Result<(), RequestError> {
    // The request line first: an over-long target is 414 even when it
    // also fills the whole head budget (nginx answers 414 there too).
    if request_line_len(buf) > settings.max_request_line {
        return Err(RequestError::LineTooLong);
    }
    if buf.len() > settings.max_header_size {
        return Err(RequestError::HeadTooLarge);
    }
    Ok(())
}

/// Length of the request line without its CRLF (after any leading blank
/// lines), or of all of `buf` if the line has not ended yet.
fn request_line_len(buf: &[u8]) -> usize {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let rest = &buf[start..];
    match rest.iter().position(|&b| b == b'\n') {
        Some(lf) if lf > 0 && rest[lf - 1] == b'\r' => lf - 1,
        Some(lf) => lf,
        None => rest.len(),
    }
}

/// Copies body bytes `[sent, sent + dst.len())` into `dst`.
fn copy_body(body: &Body, sent: u64, dst: &mut [u8]) -> std::io::Result<()> {
    body.read_at(sent, dst)
}

/// What the header fields say about framing and persistence.
#[derive(Debug, Default)]
struct Fields {
    close: bool,
    keep_alive: bool,
    content_length: Option<u64>,
    chunked: bool,
    expect_continue: bool,
}

impl Fields {
    fn scan(headers: &[httparse::Header], version: u8) -> Result<Fields, RequestError> {
        let mut f = Fields::default();
        let mut hosts = 0;
        let mut transfer_encoding = false;
        let mut chunked_codings = 0;
        for h in headers {
            let name = h.name.as_bytes();
            let value = trim(h.value);
            if name.eq_ignore_ascii_case(b"connection") {
                for token in value.split(|&b| b == b',').map(trim) {
                    if token.eq_ignore_ascii_case(b"close") {
                        f.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        f.keep_alive = true;
                    }
                }
            } else if name.eq_ignore_ascii_case(b"content-length") {
                let n = parse_content_length(value).ok_or(RequestError::BadContentLength)?;
                if f.content_length.is_some_and(|m| m != n) {
                    return Err(RequestError::BadContentLength);
                }
                f.content_length = Some(n);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                transfer_encoding = true;
                // The last coding of the last field is the final one.
                for coding in value.split(|&b| b == b',').map(trim) {
                    f.chunked = coding.eq_ignore_ascii_case(b"chunked");
                    chunked_codings += usize::from(f.chunked);
                }
            } else if name.eq_ignore_ascii_case(b"host") {
                hosts += 1;
            } else if name.eq_ignore_ascii_case(b"expect") {
                f.expect_continue = value.eq_ignore_ascii_case(b"100-continue");
            }
        }
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one before.
        if hosts > 1 || (version >= 1 && hosts == 0) {
            return Err(RequestError::BadHost);
        }
        if transfer_encoding {
            // RFC 9112 §6.1: TE with CL is a smuggling attempt or a broken
            // client; TE in HTTP/1.0 is faulty framing. §6.3: chunked must
            // be the final coding; RFC 9112 §7: and applied only once.
            if f.content_length.is_some() || version == 0 || !f.chunked || chunked_codings > 1 {
                return Err(RequestError::BadTransferEncoding);
            }
        } else {
            f.chunked = false;
        }
        Ok(f)
    }
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6), without overflow.
fn parse_content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn trim(v: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = v.iter().position(|b| !is_ws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !is_ws(b)).map_or(start, |i| i + 1);
    &v[start..end]
}

// -- chunked request bodies -------------------------------------------------

/// Why a chunked body cannot be read; the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkError {
    /// Bytes that do not follow RFC 9112 §7.1's grammar.
    Syntax,
    /// A chunk size that does not fit 64 bits.
    Overflow,
    /// A body over `max_body_size`.
    TooLarge,
    /// A chunk-size line or trailer section over [`MAX_CHUNK_LINE`].
    LineTooLong,
}

/// Where a chunked-body reader is (RFC 9112 §7.1):
/// `*(chunk-size [ext] CRLF data CRLF) 0 [ext] CRLF *(trailer CRLF) CRLF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading hex digits of a chunk size.
    Size { digits: u8 },
    /// In chunk extensions (ignored) or whitespace after the size.
    Ext,
    /// Got CR after the size line; LF next.
    SizeLf,
    /// Inside chunk data; this many bytes left.
    Data(u64),
    /// After chunk data; CR next.
    DataCr,
    /// After chunk data and CR; LF next.
    DataLf,
    /// At the start of a trailer line (or of the final CRLF).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// Got CR ending a trailer line; LF next.
    TrailerLf,
    /// Got CR of the final empty line; LF next.
    EndLf,
    /// The body is complete.
    Done,
}

/// Reads and discards a chunked body, byte-exactly, so the next request on
/// the connection starts where this body ends.
#[derive(Debug)]
struct ChunkedDiscard {
    state: ChunkState,
    /// The chunk size being read.
    size: u64,
    /// Bytes of the current size line or of the trailer section.
    line: usize,
    /// Data bytes so far.
    total: u64,
    /// Most data bytes accepted (`max_body_size`; 0: no limit).
    limit: u64,
}

impl ChunkedDiscard {
    /// A reader for a body of at most `limit` data bytes (0: no limit).
    fn new(limit: u64) -> ChunkedDiscard {
        ChunkedDiscard {
            state: ChunkState::Size { digits: 0 },
            size: 0,
            line: 0,
            total: 0,
            limit,
        }
    }

    /// Consumes bytes of the body from `input`; returns how many, and
    /// whether the body ended (then no byte after its end was consumed).
    fn feed(&mut self, input: &[u8]) -> Result<(usize, bool), ChunkError> {
        use ChunkState::*;
        let mut i = 0;
        while i < input.len() && self.state != Done {
            if let Data(left) = self.state {
                let k = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                i += k;
                let left = left - k as u64;
                self.state = if left == 0 { DataCr } else { Data(left) };
                continue;
            }
            let b = input[i];
            i += 1;
            self.state = match (self.state, b) {
                (Size { digits }, _) if b.is_ascii_hexdigit() => {
                    if digits >= 16 {
                        return Err(ChunkError::Overflow);
                    }
                    // NOTE(unwrap): `b` was just checked to be a hex digit.
                    let d = u64::from((b as char).to_digit(16).unwrap());
                    self.size = self.size << 4 | d;
                    self.line += 1;
                    Size { digits: digits + 1 }
                }
                (Size { digits }, b';' | b' ' | b'\t') if digits > 0 => Ext,
                (Size { digits }, b'\r') if digits > 0 => SizeLf,
                (Ext, b'\r') => SizeLf,
                (Ext, b'\n') => return Err(ChunkError::Syntax),
                (Ext, _) => {
                    self.line += 1;
                    if self.line > MAX_CHUNK_LINE {
                        return Err(ChunkError::LineTooLong);
                    }
                    Ext
                }
                (SizeLf, b'\n') => {
                    self.line = 0;
                    let size = mem::take(&mut self.size);
                    if size == 0 {
                        TrailerStart
                    } else {
                        self.total = self.total.saturating_add(size);
                        if self.limit != 0 && self.total > self.limit {
                            return Err(ChunkError::TooLarge);
                        }
                        Data(size)
                    }
                }
                (DataCr, b'\r') => DataLf,
                (DataLf, b'\n') => Size { digits: 0 },
                (TrailerStart, b'\r') => EndLf,
                (TrailerStart | Trailer, b'\n') => return Err(ChunkError::Syntax),
                (Trailer, b'\r') => TrailerLf,
                (TrailerStart | Trailer, _) => {
                    self.line += 1;
                    if self.line > MAX_CHUNK_LINE {
                        return Err(ChunkError::LineTooLong);
                    }
                    Trailer
                }
                (TrailerLf, b'\n') => TrailerStart,
                (EndLf, b'\n') => Done,
                _ => return Err(ChunkError::Syntax),
            };
        }
        Ok((i, self.state == Done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::AccessLog;
    use crate::date::DateCache;
    use crate::respond::Site;
    use proptest::prelude::*;
    use std::fs;
    use std::net::Ipv4Addr;
    use std::time::UNIX_EPOCH;

    /// Wall clock of every test: Tue, 14 Nov 2023 22:13:20 GMT.
    const NOW_UNIX: u64 = 1_700_000_000;
    /// Every file's mtime: Fri, 01 Jan 2021 00:00:00 GMT.
    const MTIME: u64 = 1_609_459_200;
    const DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
    const LM: &str = "Fri, 01 Jan 2021 00:00:00 GMT";
    const BIG: usize = 300 * 1024;
    const PEER: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);

    fn site_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, bytes: &[u8]| {
            let path = dir.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, bytes).unwrap();
            let f = fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME))
                .unwrap();
        };
        write("index.html", b"hello");
        write("1k.html", &[b'k'; 1024]);
        write("docs/index.html", b"docs");
        let big: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
        write("big.bin", &big);
        dir
    }

    /// A connection with its site, driven like the driver would.
    struct Harness {
        _dir: tempfile::TempDir,
        site: Site,
        settings: H1Settings,
        date: DateCache,
        log: AccessLog,
        conn: H1Conn,
        now: Instant,
        /// Received but not yet consumed input.
        rx: Vec<u8>,
        /// Everything transmitted.
        tx: Vec<u8>,
        /// Size of each `out` slice.
        out_size: usize,
        /// Number of poll_transmit calls that wrote something.
        writes: usize,
    }

    impl Harness {
        fn new() -> Harness {
            Harness::with(H1Settings::default(), 64 * 1024)
        }

        fn with(settings: H1Settings, out_size: usize) -> Harness {
            let dir = site_dir();
            let site = Site::new(dir.path().to_owned()).unwrap();
            let now = Instant::from_secs(1000);
            Harness {
                _dir: dir,
                site,
                settings,
                date: DateCache::new(NOW_UNIX),
                log: AccessLog::off(),
                conn: H1Conn::new(now, &settings),
                now,
                rx: Vec::new(),
                tx: Vec::new(),
                out_size,
                writes: 0,
            }
        }

        /// Delivers `bytes` and runs the connection until it is stuck.
        fn send(&mut self, bytes: &[u8]) {
            self.rx.extend_from_slice(bytes);
            self.pump();
        }

        fn pump(&mut self) {
            let mut out = vec![0; self.out_size];
            loop {
                let mut ctx = ServeCtx {
                    site: &mut self.site,
                    settings: &self.settings,
                    date: &self.date,
                    now_unix_secs: NOW_UNIX,
                    now: self.now,
                    log: &mut self.log,
                    peer: PEER,
                };
                let mut progress = false;
                if !self.rx.is_empty() && self.conn.wants_input() {
                    let n = self.conn.handle_input(self.now, &self.rx, &mut ctx);
                    assert!(n <= self.rx.len());
                    self.rx.drain(..n);
                    progress |= n > 0;
                }
                loop {
                    let n = self.conn.poll_transmit(&mut ctx, &mut out);
                    if n == 0 {
                        break;
                    }
                    self.writes += 1;
                    self.tx.extend_from_slice(&out[..n]);
                    progress = true;
                }
                if !progress {
                    break;
                }
            }
        }

        fn eof(&mut self) {
            assert!(self.rx.is_empty() || !self.conn.wants_input());
            self.conn.handle_eof(self.now);
            self.pump();
        }

        fn take(&mut self) -> String {
            String::from_utf8_lossy(&mem::take(&mut self.tx)).into_owned()
        }

        fn advance(&mut self, d: Duration) {
            self.now += d;
            let mut ctx = ServeCtx {
                site: &mut self.site,
                settings: &self.settings,
                date: &self.date,
                now_unix_secs: NOW_UNIX,
                now: self.now,
                log: &mut self.log,
                peer: PEER,
            };
            self.conn.handle_timeout(self.now, &mut ctx);
            self.pump();
        }
    }

    fn ok_index(extra: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nServer: tapir\r\nDate: {DATE}\r\n\
             Content-Type: text/html; charset=utf-8\r\nContent-Length: 5\r\n\
             Last-Modified: {LM}\r\nETag: \"5fee6600-5\"\r\nAccept-Ranges: bytes\r\n{extra}\r\nhello"
        )
    }

    fn error(status: &str, extra: &str) -> String {
        let code: u16 = status[..3].parse().unwrap();
        let page = crate::respond::page(code);
        format!(
            "HTTP/1.1 {status}\r\nServer: tapir\r\nDate: {DATE}\r\n\
             Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n{extra}\r\n{page}",
            page.len()
        )
    }

    const GET_INDEX: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";

    #[test]
    fn get_whole_request() {
        let mut h = Harness::new();
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index(""));
        assert_eq!(h.conn.close_state(), CloseState::Open);
        assert_eq!(h.conn.requests_served(), 1);
        assert!(!h.conn.wants_transmit());
        // Head and body went out in one write.
        assert_eq!(h.writes, 1);
    }

    #[test]
    fn byte_by_byte_input_gives_the_same_bytes() {
        let mut h = Harness::new();
        for &b in GET_INDEX {
            h.send(&[b]);
        }
        assert_eq!(h.take(), ok_index(""));
        assert!(h.rx.is_empty());
        // And the next request on the same connection.
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index(""));
    }

    #[test]
    fn tiny_out_slices_give_the_same_bytes() {
        for size in [1, 7, 100] {
            let mut h = Harness::with(H1Settings::default(), size);
            h.send(GET_INDEX);
            assert_eq!(h.take(), ok_index(""), "out size {size}");
        }
    }

    #[test]
    fn pipelined_requests_are_answered_in_order() {
        let mut h = Harness::new();
        let mut three = Vec::new();
        three.extend_from_slice(b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
        three.extend_from_slice(b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n");
        three.extend_from_slice(b"HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n");

        // One step at a time: the second request waits for the first response.
        let mut ctx = ServeCtx {
            site: &mut h.site,
            settings: &h.settings,
            date: &h.date,
            now_unix_secs: NOW_UNIX,
            now: h.now,
            log: &mut h.log,
            peer: PEER,
        };
        let n = h.conn.handle_input(h.now, &three, &mut ctx);
        assert_eq!(n, GET_INDEX.len());
        assert!(!h.conn.wants_input());
        assert_eq!(h.conn.handle_input(h.now, &three[n..], &mut ctx), 0);

        let mut h = Harness::new();
        h.send(&three);
        let expected =
            ok_index("") + &error("404 Not Found", "") + &ok_index("").replace("hello", "");
        assert_eq!(h.take(), expected);
        assert_eq!(h.conn.requests_served(), 3);
    }

    #[test]
    fn pipelined_byte_by_byte_with_small_out() {
        let mut h = Harness::with(H1Settings::default(), 3);
        let two = [GET_INDEX, GET_INDEX].concat();
        for &b in &two {
            h.send(&[b]);
        }
        assert_eq!(h.take(), ok_index("") + &ok_index(""));
    }

    #[test]
    fn head_has_get_headers_and_no_body() {
        let mut h = Harness::new();
        h.send(b"HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(h.take(), ok_index("").replace("hello", ""));
    }

    #[test]
    fn not_found_and_method_not_allowed() {
        let mut h = Harness::new();
        h.send(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(h.take(), error("404 Not Found", ""));
        h.send(b"DELETE /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(
            h.take(),
            error("405 Method Not Allowed", "Allow: GET, HEAD, OPTIONS\r\n")
        );
        assert_eq!(h.conn.close_state(), CloseState::Open);
    }

    #[test]
    fn directory_without_slash_redirects() {
        let mut h = Harness::new();
        h.send(b"GET /docs?a=b HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(
            h.take(),
            error("301 Moved Permanently", "Location: /docs/?a=b\r\n")
        );
    }

    #[test]
    fn malformed_request_gets_400_and_close() {
        let mut h = Harness::new();
        h.send(b"GET /index.html HTTP/1.1\r\nHo st: x\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        assert_eq!(h.take(), error("400 Bad Request", "Connection: close\r\n"));
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
        assert!(!h.conn.wants_transmit());
        assert!(h.rx.is_empty(), "input after a bad request is swallowed");
        h.send(GET_INDEX);
        assert_eq!(h.take(), "");
    }

    #[test]
    fn garbage_gets_400() {
        let mut h = Harness::new();
        h.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
        assert_eq!(h.take(), error("400 Bad Request", "Connection: close\r\n"));
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
    }

    #[test]
    fn http2_preface_gets_505() {
        let mut h = Harness::new();
        h.send(b"GET / HTTP/2.0\r\n\r\n");
        assert_eq!(
            h.take(),
            error("505 HTTP Version Not Supported", "Connection: close\r\n")
        );
    }

    #[test]
    fn missing_or_double_host_is_400() {
        let mut h = Harness::new();
        h.send(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(h.take(), error("400 Bad Request", "Connection: close\r\n"));
        let mut h = Harness::new();
        h.send(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        assert_eq!(h.take(), error("400 Bad Request", "Connection: close\r\n"));
        // HTTP/1.0 needs none.
        let mut h = Harness::new();
        h.send(b"GET /index.html HTTP/1.0\r\n\r\n");
        assert_eq!(h.take(), ok_index("Connection: close\r\n"));
    }

    const MAX_REQUEST_LINE: usize = 8 * 1024;
    const MAX_HEAD: usize = 32 * 1024;
    const MAX_HEADERS: usize = 100;

    #[test]
    fn request_line_limit_is_414() {
        let mut h = Harness::new();
        let line = format!(
            "GET /{} HTTP/1.1\r\nHost: t\r\n\r\n",
            "a".repeat(MAX_REQUEST_LINE)
        );
        h.send(line.as_bytes());
        assert_eq!(h.take(), error("414 URI Too Long", "Connection: close\r\n"));
        // Also when it arrives in pieces and never ends.
        let mut h = Harness::new();
        h.send(b"GET /");
        for _ in 0..MAX_REQUEST_LINE / 1024 + 1 {
            h.send(&[b'a'; 1024]);
        }
        assert_eq!(h.take(), error("414 URI Too Long", "Connection: close\r\n"));
    }

    #[test]
    fn header_section_limits_are_431() {
        let mut h = Harness::new();
        let mut req = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
        while req.len() <= MAX_HEAD {
            req.extend_from_slice(format!("X-Pad: {}\r\n", "p".repeat(1000)).as_bytes());
        }
        // Arrives in pieces: never complete, rejected once over the limit.
        for chunk in req.chunks(1000) {
            h.send(chunk);
        }
        assert_eq!(
            h.take(),
            error(
                "431 Request Header Fields Too Large",
                "Connection: close\r\n"
            )
        );

        let mut h = Harness::new();
        let mut req = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            req.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        h.send(&req);
        assert_eq!(
            h.take(),
            error(
                "431 Request Header Fields Too Large",
                "Connection: close\r\n"
            )
        );
    }

    #[test]
    fn configured_limits_are_enforced() {
        let settings = H1Settings {
            max_request_line: 300,
            max_header_size: 1024,
            max_headers: 3,
            ..H1Settings::default()
        };
        let line = |n: usize| format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(n));
        // "GET /" + n + " HTTP/1.1" is n + 14 bytes.
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(line(286).as_bytes());
        assert_eq!(h.take(), error("404 Not Found", ""));
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(line(287).as_bytes());
        assert_eq!(h.take(), error("414 URI Too Long", "Connection: close\r\n"));

        let fields = |n: usize| {
            let mut r = b"GET /index.html HTTP/1.1\r\nHost: t\r\n".to_vec();
            for i in 1..n {
                r.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
            }
            r.extend_from_slice(b"\r\n");
            r
        };
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(&fields(3));
        assert_eq!(h.take(), ok_index(""));
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(&fields(4));
        let too_large = error(
            "431 Request Header Fields Too Large",
            "Connection: close\r\n",
        );
        assert_eq!(h.take(), too_large);

        // A head of exactly max_header_size is accepted; one byte more not.
        let head = |size: usize| {
            let fixed = "GET /index.html HTTP/1.1\r\nHost: t\r\nX: \r\n\r\n".len();
            format!(
                "GET /index.html HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
                "v".repeat(size - fixed)
            )
        };
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(head(1024).as_bytes());
        assert_eq!(h.take(), ok_index(""));
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(head(1025).as_bytes());
        assert_eq!(h.take(), too_large);
        // Also byte by byte.
        let mut h = Harness::with(settings, 64 * 1024);
        for &b in head(1025).as_bytes() {
            h.send(&[b]);
        }
        assert_eq!(h.take(), too_large);
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
    }

    #[test]
    fn header_timeout_is_408_only_once_a_request_started() {
        let settings = H1Settings {
            header_timeout: Duration::from_secs(1),
            ..H1Settings::default()
        };
        // Slowloris: a byte now and then, never a whole head.
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(b"GET / HTTP/1.1\r\n");
        h.advance(Duration::from_millis(500));
        h.send(b"X-a: b\r\n");
        assert_eq!(h.take(), "");
        h.advance(Duration::from_millis(500));
        assert_eq!(
            h.take(),
            error("408 Request Timeout", "Connection: close\r\n")
        );
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
        // Nothing sent at all: closed without a word.
        let mut h = Harness::with(settings, 64 * 1024);
        h.advance(Duration::from_secs(1));
        assert_eq!(h.take(), "");
        assert_eq!(h.conn.close_state(), CloseState::Timeout);
        // A stalled request body after the response: closed silently.
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(b"GET /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab");
        assert_eq!(h.take(), ok_index(""));
        h.advance(Duration::from_secs(1));
        assert_eq!(h.take(), "");
        assert_eq!(h.conn.close_state(), CloseState::Timeout);
    }

    #[test]
    fn requests_under_the_deferred_prefix_wait_for_the_driver() {
        let settings = H1Settings {
            deferred_prefix: Some("/_tapir"),
            ..H1Settings::default()
        };
        let mut h = Harness::with(settings, 64 * 1024);
        // Not under the prefix: served from the site as usual.
        h.send(b"GET /_tapirx HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(h.take().starts_with("HTTP/1.1 404"));
        // Under it: nothing goes out, and a pipelined request waits too.
        h.send(b"HEAD /_tapir/status?x=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(h.take(), "");
        let d = h.conn.deferred().unwrap().clone();
        assert_eq!(
            (d.target.as_slice(), d.head, d.get_or_head),
            (&b"/_tapir/status?x=1"[..], true, true)
        );
        assert!(!h.conn.is_idle() && !h.conn.is_reading());
        let mut ctx = ServeCtx {
            site: &mut h.site,
            settings: &h.settings,
            date: &h.date,
            now_unix_secs: NOW_UNIX,
            now: h.now,
            log: &mut h.log,
            peer: PEER,
        };
        h.conn
            .answer_deferred(h.now, Response::error(404), &mut ctx);
        h.pump();
        let out = h.take();
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
        assert!(
            out.ends_with(&ok_index("")),
            "the pipelined request follows: {out}"
        );
        assert!(h.conn.deferred().is_none() && h.conn.is_idle());
    }

    #[test]
    fn under_prefix_matches_whole_segments() {
        for (t, yes) in [
            (&b"/_tapir"[..], true),
            (b"/_tapir/", true),
            (b"/_tapir/metrics", true),
            (b"/_tapir?a", true),
            (b"/_tapirx", false),
            (b"/x/_tapir", false),
        ] {
            assert_eq!(under_prefix(t, b"/_tapir"), yes, "{t:?}");
            assert_eq!(under_prefix(t, b"/_tapir/"), yes, "{t:?}");
        }
    }

    #[test]
    fn keepalive_requests_limit_closes() {
        let settings = H1Settings {
            keepalive_requests: 2,
            ..H1Settings::default()
        };
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index(""));
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index("Connection: close\r\n"));
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
        assert_eq!(h.conn.poll_timeout(), None);
    }

    #[test]
    fn connection_close_is_honoured() {
        let mut h = Harness::new();
        h.send(b"GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: Keep-Alive, CLOSE\r\n\r\n");
        assert_eq!(h.take(), ok_index("Connection: close\r\n"));
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
    }

    #[test]
    fn http10_closes_unless_keep_alive() {
        let mut h = Harness::new();
        h.send(b"GET /index.html HTTP/1.0\r\n\r\n");
        assert_eq!(h.take(), ok_index("Connection: close\r\n"));
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);

        let mut h = Harness::new();
        h.send(b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(h.take(), ok_index("Connection: keep-alive\r\n"));
        assert_eq!(h.conn.close_state(), CloseState::Open);
        h.send(b"GET /index.html HTTP/1.0\r\n\r\n");
        assert_eq!(h.take(), ok_index("Connection: close\r\n"));
    }

    #[test]
    fn keepalive_timeout_after_last_response() {
        let mut h = Harness::new();
        // A new connection has header_timeout to send something.
        assert_eq!(h.conn.poll_timeout(), Some(Instant::from_secs(1000 + 60)));
        h.advance(Duration::from_secs(5));
        h.send(GET_INDEX);
        h.take();
        let idle_until = Instant::from_secs(1005 + 15);
        assert_eq!(h.conn.poll_timeout(), Some(idle_until));
        h.advance(Duration::from_millis(14_999));
        assert_eq!(h.conn.close_state(), CloseState::Open);
        h.advance(Duration::from_millis(1));
        assert_eq!(h.conn.close_state(), CloseState::Timeout);
        assert_eq!(h.conn.poll_timeout(), None);
        // Spurious calls change nothing.
        h.advance(Duration::from_secs(100));
        assert_eq!(h.conn.close_state(), CloseState::Timeout);
    }

    #[test]
    fn new_connection_without_request_times_out() {
        let mut h = Harness::new();
        h.advance(Duration::from_secs(60));
        assert_eq!(h.conn.close_state(), CloseState::Timeout);
        assert_eq!(h.take(), "");
    }

    #[test]
    fn partial_head_gets_header_timeout() {
        let mut h = Harness::new();
        h.send(GET_INDEX);
        h.take();
        h.advance(Duration::from_secs(10));
        h.send(b"GET /index.html HTTP/1.1\r\n");
        // Now the header timeout runs, not the keep-alive one.
        assert_eq!(h.conn.poll_timeout(), Some(Instant::from_secs(1010 + 60)));
        h.advance(Duration::from_secs(30));
        h.send(b"Host: t\r\n");
        assert_eq!(h.conn.poll_timeout(), Some(Instant::from_secs(1010 + 60)));
        h.advance(Duration::from_secs(30));
        // Part of a request arrived: 408, then close.
        assert_eq!(
            h.take(),
            error("408 Request Timeout", "Connection: close\r\n")
        );
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
        assert!(!h.conn.wants_transmit());
    }

    #[test]
    fn keepalive_timeout_zero_disables_keepalive() {
        let settings = H1Settings {
            keepalive_timeout: Duration::ZERO,
            ..H1Settings::default()
        };
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index("Connection: close\r\n"));
    }

    #[test]
    fn content_length_with_transfer_encoding_is_400_and_close() {
        let mut h = Harness::new();
        h.send(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\
              Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        );
        assert_eq!(h.take(), error("400 Bad Request", "Connection: close\r\n"));
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
    }

    #[test]
    fn bad_framing_headers_are_400() {
        for req in [
            &b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5x\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\
              Transfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\
              Content-Length: 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 1\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let mut h = Harness::new();
            h.send(req);
            assert_eq!(
                h.take(),
                error("400 Bad Request", "Connection: close\r\n"),
                "{req:?}"
            );
        }
    }

    #[test]
    fn content_length_body_is_discarded() {
        let mut h = Harness::new();
        let mut req =
            b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n".to_vec();
        req.extend_from_slice(b"0123456789");
        req.extend_from_slice(GET_INDEX);
        h.send(&req);
        assert_eq!(
            h.take(),
            error("405 Method Not Allowed", "Allow: GET, HEAD, OPTIONS\r\n") + &ok_index("")
        );
        // Body split across inputs, arriving after the response is written.
        let mut h = Harness::new();
        h.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab");
        assert_eq!(
            h.take(),
            error("405 Method Not Allowed", "Allow: GET, HEAD, OPTIONS\r\n")
        );
        h.send(b"cd");
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index(""));
    }

    #[test]
    fn chunked_body_is_discarded() {
        let mut h = Harness::new();
        let mut req = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend_from_slice(b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n");
        req.extend_from_slice(GET_INDEX);
        let expected =
            error("405 Method Not Allowed", "Allow: GET, HEAD, OPTIONS\r\n") + &ok_index("");
        h.send(&req);
        assert_eq!(h.take(), expected);
        let mut h = Harness::new();
        for &b in &req {
            h.send(&[b]);
        }
        assert_eq!(h.take(), expected);
    }

    #[test]
    fn bad_chunked_body_is_400_and_close() {
        let head = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
        for body in [
            &b"zz\r\n"[..],
            b"5\r\nhelloX",
            b"1ffffffffffffffff\r\n",
            b"5\nhello\r\n",
            b"0\r\nX: y\n\r\n",
        ] {
            // With the head: the 405 never left, so the framing error is
            // what gets answered.
            let mut h = Harness::new();
            h.send(&[&head[..], body].concat());
            assert_eq!(
                h.take(),
                error("400 Bad Request", "Connection: close\r\n"),
                "{body:?}"
            );
            assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
            // After the response went out: it stays whole, then close.
            let mut h = Harness::new();
            h.send(head);
            assert_eq!(
                h.take(),
                error("405 Method Not Allowed", "Allow: GET, HEAD, OPTIONS\r\n")
            );
            h.send(body);
            assert_eq!(h.take(), "");
            assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
        }
    }

    #[test]
    fn body_over_max_body_size_is_413_and_close() {
        // Declared: refused before reading it, also on a GET.
        for req in [
            &b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n"[..],
            b"GET /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\n",
            b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n",
        ] {
            let mut h = Harness::new();
            h.send(req);
            assert_eq!(
                h.take(),
                error("413 Content Too Large", "Connection: close\r\n"),
                "{req:?}"
            );
            assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
        }
        // Exactly the limit is fine.
        let mut h = Harness::new();
        h.send(b"GET /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n");
        assert_eq!(h.take(), ok_index(""));
        h.send(&vec![b'x'; 1 << 20]);
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index(""));
        // Chunked: the total counts; noticed with the head, it is a 413.
        let settings = H1Settings {
            max_body_size: 10,
            ..H1Settings::default()
        };
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n6\r\nworld!\r\n",
        );
        assert_eq!(
            h.take(),
            error("413 Content Too Large", "Connection: close\r\n")
        );
        // max_body_size = 0: no limit.
        let settings = H1Settings {
            max_body_size: 0,
            ..H1Settings::default()
        };
        let mut h = Harness::with(settings, 64 * 1024);
        h.send(b"GET /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n");
        assert_eq!(h.take(), ok_index(""));
        assert_eq!(h.conn.close_state(), CloseState::Open);
    }

    #[test]
    fn expect_100_continue_gets_interim_response_then_body_is_read() {
        let mut h = Harness::new();
        h.send(
            b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\
              Expect: 100-continue\r\n\r\n",
        );
        assert_eq!(
            h.take(),
            "HTTP/1.1 100 Continue\r\n\r\n".to_owned()
                + &error("405 Method Not Allowed", "Allow: GET, HEAD, OPTIONS\r\n")
        );
        h.send(b"abc");
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index(""));
        // Chunked, and any case of the token (RFC 9110 §10.1.1).
        let mut h = Harness::new();
        h.send(
            b"GET /index.html HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\
              Expect: 100-Continue\r\n\r\n",
        );
        assert_eq!(
            h.take(),
            "HTTP/1.1 100 Continue\r\n\r\n".to_owned() + &ok_index("")
        );
        h.send(b"0\r\n\r\n");
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index(""));
        // No body, or HTTP/1.0 (MUST ignore): no 100.
        let mut h = Harness::new();
        h.send(b"GET /index.html HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n");
        assert_eq!(h.take(), ok_index(""));
        let mut h = Harness::new();
        h.send(
            b"GET /index.html HTTP/1.0\r\nContent-Length: 1\r\n\
              Expect: 100-continue\r\n\r\nx",
        );
        assert_eq!(h.take(), ok_index("Connection: close\r\n"));
    }

    #[test]
    fn large_file_is_streamed_in_pieces() {
        let mut h = Harness::with(H1Settings::default(), 1000);
        h.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        let tx = mem::take(&mut h.tx);
        let head = format!(
            "HTTP/1.1 200 OK\r\nServer: tapir\r\nDate: {DATE}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {BIG}\r\n\
             Last-Modified: {LM}\r\nETag: \"5fee6600-4b000\"\r\nAccept-Ranges: bytes\r\n\r\n"
        );
        assert_eq!(&tx[..head.len()], head.as_bytes());
        let body = &tx[head.len()..];
        assert_eq!(body.len(), BIG);
        assert!(body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        assert_eq!(h.writes, (head.len() + BIG).div_ceil(1000));
        assert_eq!(h.conn.close_state(), CloseState::Open);
    }

    #[test]
    fn multipart_ranges_are_streamed_in_pieces() {
        let mut h = Harness::with(H1Settings::default(), 100);
        h.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,-2\r\n\r\n");
        let tx = mem::take(&mut h.tx);
        let text = String::from_utf8_lossy(&tx);
        assert!(
            text.starts_with("HTTP/1.1 206 Partial Content\r\n"),
            "{text}"
        );
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(tx.len() - head.len() - 4, len);
        assert!(body.contains(&format!(
            "Content-Range: bytes {}-{}/{BIG}",
            BIG - 2,
            BIG - 1
        )));
        assert!(h.writes > 2);
        assert_eq!(h.conn.close_state(), CloseState::Open);
        // The connection goes on.
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index(""));
    }

    #[test]
    fn eof_after_pipelined_requests_answers_them_then_closes() {
        let mut h = Harness::new();
        h.send(&[GET_INDEX, GET_INDEX].concat());
        h.eof();
        assert_eq!(h.take(), ok_index("") + &ok_index(""));
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
        assert!(!h.conn.wants_transmit());
    }

    #[test]
    fn eof_mid_request_closes_without_answer() {
        let mut h = Harness::new();
        h.send(b"GET / HTTP/1.1\r\n");
        h.eof();
        assert_eq!(h.take(), "");
        assert_eq!(h.conn.close_state(), CloseState::CloseAfterFlush);
    }

    #[test]
    fn send_timeout_aborts_a_stuck_response() {
        let settings = H1Settings {
            send_timeout: Duration::from_secs(7),
            ..H1Settings::default()
        };
        let mut h = Harness::with(settings, 0);
        h.send(GET_INDEX);
        assert!(h.conn.wants_transmit());
        assert_eq!(h.conn.poll_timeout(), Some(h.now + settings.send_timeout));
        h.advance(Duration::from_millis(6999));
        assert_eq!(h.conn.close_state(), CloseState::Open);
        h.advance(Duration::from_millis(1));
        assert_eq!(h.conn.close_state(), CloseState::Abort);
        assert!(!h.conn.wants_transmit());
    }

    #[test]
    fn leading_blank_lines_are_ignored() {
        // RFC 9112 §2.2: at least one empty line before a request is ignored.
        let mut h = Harness::new();
        h.send(b"\r\n");
        h.send(GET_INDEX);
        assert_eq!(h.take(), ok_index(""));
    }

    #[test]
    fn chunked_decoder_stops_at_the_end() {
        let mut d = ChunkedDiscard::new(1 << 20);
        assert_eq!(d.feed(b"3\r\nabc\r\n0\r\n\r\nGET"), Ok((13, true)));
        let mut d = ChunkedDiscard::new(1 << 20);
        assert_eq!(d.feed(b"fffffffffffffffff\r\n"), Err(ChunkError::Overflow));
        let mut d = ChunkedDiscard::new(1 << 20);
        assert_eq!(d.feed(b"200000\r\n"), Err(ChunkError::TooLarge));
        let mut d = ChunkedDiscard::new(1 << 20);
        assert_eq!(d.feed(b"\r\n"), Err(ChunkError::Syntax));
        let mut d = ChunkedDiscard::new(1 << 20);
        assert_eq!(d.feed(b"3\r\nabcX"), Err(ChunkError::Syntax));
    }

    #[test]
    fn keepalive_fast_path_does_not_allocate() {
        let mut h = Harness::new();
        let req = b"GET /1k.html HTTP/1.1\r\nHost: t\r\nUser-Agent: bench\r\n\r\n";
        let mut out = vec![0u8; 64 * 1024];
        let run = |h: &mut Harness, out: &mut [u8]| {
            let mut ctx = ServeCtx {
                site: &mut h.site,
                settings: &h.settings,
                date: &h.date,
                now_unix_secs: NOW_UNIX,
                now: h.now,
                log: &mut h.log,
                peer: PEER,
            };
            assert_eq!(h.conn.handle_input(h.now, req, &mut ctx), req.len());
            let n = h.conn.poll_transmit(&mut ctx, out);
            assert!(n > 1024 && !h.conn.wants_transmit());
        };
        // Warm up: the first request fills the file cache and the buffers
        // (and shows the counter counts).
        let warm = allocation_counter::measure(|| run(&mut h, &mut out));
        assert!(warm.count_total > 0);
        let info = allocation_counter::measure(|| {
            for _ in 0..100 {
                run(&mut h, &mut out);
            }
        });
        assert_eq!(info.count_total, 0, "{info:?}");
        assert_eq!(h.conn.requests_served(), 101);
    }

    #[test]
    fn access_log_lines_in_combined_format() {
        let mut h = Harness::new();
        h.log = AccessLog::new(true);
        h.log.set_time(NOW_UNIX);
        h.send(
            b"GET /index.html HTTP/1.1\r\nHost: t\r\nReferer: http://x/\"q\r\n\
              User-Agent:  curl/8 \r\n\r\n",
        );
        h.send(b"HEAD /1k.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        h.send(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
        h.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9999999\r\n\r\n");
        let page = |s| crate::respond::page(s).len();
        let t = "[14/Nov/2023:22:13:20 +0000]";
        assert_eq!(
            String::from_utf8_lossy(h.log.pending()),
            format!(
                "10.7.0.1 - - {t} \"GET /index.html HTTP/1.1\" 200 5 \"http://x/\\x22q\" \"curl/8\"\n\
                 10.7.0.1 - - {t} \"HEAD /1k.html HTTP/1.0\" 200 0 \"-\" \"-\"\n\
                 10.7.0.1 - - {t} \"GET /nope HTTP/1.1\" 404 {} \"-\" \"-\"\n\
                 10.7.0.1 - - {t} \"POST / HTTP/1.1\" 413 {} \"-\" \"-\"\n",
                page(404),
                page(413)
            )
        );
        // Unparseable: the request is "-"; a timed-out head too.
        let mut h = Harness::new();
        h.log = AccessLog::new(true);
        h.log.set_time(NOW_UNIX);
        h.send(b"\x16\x03\x01\r\n\r\n");
        let mut h2 = Harness::new();
        h2.log = AccessLog::new(true);
        h2.log.set_time(NOW_UNIX);
        h2.send(b"GET / HTTP/1.1\r\n");
        h2.advance(Duration::from_secs(60));
        assert_eq!(
            String::from_utf8_lossy(h.log.pending()).to_string()
                + &String::from_utf8_lossy(h2.log.pending()),
            format!(
                "10.7.0.1 - - {t} \"-\" 400 {} \"-\" \"-\"\n\
                 10.7.0.1 - - {t} \"-\" 408 {} \"-\" \"-\"\n",
                page(400),
                page(408)
            )
        );
        // An aborted response logs the bytes that went out.
        let mut h = Harness::with(H1Settings::default(), 0);
        h.log = AccessLog::new(true);
        h.send(GET_INDEX);
        h.advance(Duration::from_secs(60));
        assert!(String::from_utf8_lossy(h.log.pending())
            .ends_with("\"GET /index.html HTTP/1.1\" 200 0 \"-\" \"-\"\n"),);
    }

    #[test]
    fn keepalive_fast_path_with_access_log_does_not_allocate() {
        let mut h = Harness::new();
        h.log = AccessLog::new(true);
        let req = b"GET /1k.html HTTP/1.1\r\nHost: t\r\nUser-Agent: bench\r\n\r\n";
        let mut out = vec![0u8; 64 * 1024];
        let run = |h: &mut Harness, out: &mut [u8]| {
            let mut ctx = ServeCtx {
                site: &mut h.site,
                settings: &h.settings,
                date: &h.date,
                now_unix_secs: NOW_UNIX,
                now: h.now,
                log: &mut h.log,
                peer: PEER,
            };
            assert_eq!(h.conn.handle_input(h.now, req, &mut ctx), req.len());
            let n = h.conn.poll_transmit(&mut ctx, out);
            assert!(n > 1024 && !h.conn.wants_transmit());
        };
        run(&mut h, &mut out);
        h.log.clear();
        let info = allocation_counter::measure(|| {
            for _ in 0..100 {
                run(&mut h, &mut out);
            }
        });
        assert_eq!(info.count_total, 0, "{info:?}");
        assert_eq!(h.log.pending().iter().filter(|&&b| b == b'\n').count(), 100);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any bytes, cut anywhere, with any `out` size and small limits: no
        /// panic, and after EOF the connection has written everything it
        /// had and is closing; without EOF, the timers close it.
        #[test]
        fn arbitrary_input_never_panics(
            input in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(1usize..64, 1..16),
            out_size in 1usize..2048,
            small in any::<bool>(),
            eof in any::<bool>(),
        ) {
            let settings = if small {
                H1Settings {
                    max_request_line: 20,
                    max_header_size: 60,
                    max_headers: 2,
                    max_body_size: 8,
                    ..H1Settings::default()
                }
            } else {
                H1Settings::default()
            };
            let mut h = Harness::with(settings, out_size);
            h.log = AccessLog::new(true);
            let mut rest = &input[..];
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, tail) = rest.split_at((*cut).min(rest.len()));
                h.send(piece);
                rest = tail;
            }
            if !eof {
                // No FIN ever: keep-alive, header, body and send timers
                // must still end it (each at most 60 s here).
                for _ in 0..4 {
                    h.advance(Duration::from_secs(61));
                }
                prop_assert!(!h.conn.wants_transmit());
                prop_assert_ne!(h.conn.close_state(), CloseState::Open);
                return Ok(());
            }
            if h.conn.wants_input() {
                h.conn.handle_eof(h.now);
            }
            h.pump();
            prop_assert!(!h.conn.wants_transmit());
            if h.conn.close_state() == CloseState::Open {
                // Only a pipelined request still waiting for its turn.
                prop_assert!(!h.rx.is_empty());
            }
            // Every response started was logged once.
            let lines = h.log.pending().iter().filter(|&&b| b == b'\n').count();
            prop_assert_eq!(lines, h.conn.requests_served() as usize);
        }

        /// Valid requests mixed with garbage, pipelined: every answer is a
        /// complete HTTP/1.1 response.
        #[test]
        fn pipelined_mixtures_answer_in_order(
            picks in proptest::collection::vec(0usize..4, 1..8),
            cut in 1usize..100,
        ) {
            let reqs: [&[u8]; 4] = [
                GET_INDEX,
                b"HEAD /1k.html HTTP/1.1\r\nHost: t\r\n\r\n",
                b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
            ];
            let input: Vec<u8> = picks.iter().flat_map(|&i| reqs[i].iter().copied()).collect();
            let mut h = Harness::with(H1Settings::default(), 500);
            for piece in input.chunks(cut) {
                h.send(piece);
            }
            let tx = h.take();
            prop_assert_eq!(tx.matches("HTTP/1.1 ").count(), picks.len());
            prop_assert_eq!(h.conn.requests_served() as usize, picks.len());
            prop_assert_eq!(h.conn.close_state(), CloseState::Open);
        }
    }
}
