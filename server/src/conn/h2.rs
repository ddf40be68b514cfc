//! HTTP/2 server connection (RFC 9113) on the `h2` crate, sans-IO.
//!
//! Job: turn HTTP/2 bytes from the peer into HTTP/2 bytes for the peer,
//! answering every request stream with [`Site::resolve`] like HTTP/1.1
//! does, so validators, 304/412, ranges, redirects, gzip and error pages
//! behave the same.
//!
//! How the `h2` crate runs without a runtime:
//! - Its I/O is a [`Pipe`]: two byte buffers shared (`Rc<RefCell>`) between
//!   this pump and the `tokio::io::{AsyncRead, AsyncWrite}` object `h2`
//!   owns. [`H2Conn::handle_input`] appends TCP bytes to the receive side
//!   (bounded: what does not fit stays in the TCP socket, so the peer meets
//!   TCP flow control); [`H2Conn::poll_transmit`] moves the transmit side
//!   into the TCP send buffer. A read with nothing buffered and a write
//!   into a full transmit side return `Pending`; nothing needs to be woken
//!   for those because the driver calls back exactly when input arrives or
//!   send space frees.
//! - Its futures are polled with our own [`Waker`]: a [`Flag`]
//!   (`Arc<AtomicBool>`, [`std::task::Wake`]) that `h2` sets when a stream
//!   gained window, data was queued, or the connection task must run again.
//!   [`H2Conn`] polls the connection and its streams in rounds until a round
//!   ends with the flag clear, so no wake-up is ever lost: a set flag also
//!   makes `wants_transmit()` true, which brings the driver back.
//!
//! Contract (the call order is [`crate::conn`]'s):
//! - Response bodies are streamed: a stream gets at most [`CHUNK`] bytes
//!   at a time, only what its window and the connection window allow
//!   (`SendStream::capacity`, RFC 9113 §5.2), and only while the transmit
//!   side holds less than [`TX_HIGH`] bytes; a file is read with `pread` in
//!   those pieces and never held whole.
//! - A request with a body is answered once the body has ended (so the
//!   stream stays open, and flow-controlled, while the client sends it);
//!   the body is read and discarded, its window released. A body over
//!   `max_body_size` is answered 413 at once, as in HTTP/1.1.
//! - Limits from `[http2]` ([`Http2Keys`]) are the SETTINGS we send and the
//!   `h2` crate's abuse limits (Rapid Reset, reset floods, CONTINUATION
//!   and HPACK floods are bounded by `max_header_list_size`).
//! - No response to send for `idle_timeout`: GOAWAY (graceful, RFC 9113
//!   §6.8), then close once the peer has seen it and its streams are done,
//!   or 10 s later regardless. A response body that makes no progress for
//!   `send_timeout` aborts the connection. [`H2Conn::shutdown`] does the
//!   same at once for a server shutdown and lets open streams finish.
//! - Connection errors are answered by `h2` with GOAWAY and the error code
//!   (RFC 9113 §5.4.1), then the connection closes after the flush.
//! - Never reads a clock: `now` comes in.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use h2::server::{Connection, Handshake, SendResponse};
use h2::{RecvStream, SendStream};
use http::header::{HeaderName, HeaderValue};
use netstack::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tracing::{debug, trace};

use super::{CloseState, ServeCtx};
use crate::access_log::AccessLog;
use crate::config::Http2Keys;
use crate::respond::{Body, Method, Request, Response};

/// Largest piece of a response body handed to `h2` at once per stream.
pub const CHUNK: usize = 64 * 1024;
/// Streams are fed only while fewer bytes than this wait in the transmit
/// side, so memory per connection is bounded whatever the peer's windows.
pub const TX_HIGH: usize = 128 * 1024;
/// `h2`'s writes return `Pending` beyond this many waiting bytes.
const TX_MAX: usize = 256 * 1024;
/// Received bytes buffered for `h2` at most; the rest waits in TCP.
const RX_MAX: usize = 64 * 1024;
/// Rounds of polling per call before yielding to the driver (which comes
/// back because the flag is still set).
const MAX_ROUNDS: usize = 4096;
/// After a GOAWAY for idleness or shutdown, how long the peer has before
/// the connection is closed regardless.
const GOAWAY_GRACE: Duration = Duration::from_secs(10);

/// The byte buffers between the pump and `h2`.
#[derive(Debug, Default)]
struct PipeBufs {
    rx: Vec<u8>,
    rx_pos: usize,
    eof: bool,
    tx: Vec<u8>,
    tx_pos: usize,
}

/// `h2`'s transport: `AsyncRead`/`AsyncWrite` over [`PipeBufs`].
#[derive(Debug, Clone, Default)]
pub struct Pipe(Rc<RefCell<PipeBufs>>);

impl Pipe {
    fn tx_len(&self) -> usize {
        let b = self.0.borrow();
        b.tx.len() - b.tx_pos
    }

    /// Appends what fits of `data` to the receive side; returns how much.
    fn push_rx(&self, data: &[u8]) -> usize {
        let mut b = self.0.borrow_mut();
        if b.rx_pos == b.rx.len() {
            b.rx.clear();
            b.rx_pos = 0;
        }
        let room = RX_MAX.saturating_sub(b.rx.len() - b.rx_pos);
        let n = room.min(data.len());
        b.rx.extend_from_slice(&data[..n]);
        n
    }

    /// Moves transmit bytes into `out`; returns how many.
    fn pull_tx(&self, out: &mut [u8]) -> usize {
        let mut b = self.0.borrow_mut();
        let avail = &b.tx[b.tx_pos..];
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        b.tx_pos += n;
        if b.tx_pos == b.tx.len() {
            b.tx.clear();
            b.tx_pos = 0;
        }
        n
    }
}

#[cfg(test)]
impl Pipe {
    /// Test side: the bytes written so far (the pipe's transmit side).
    pub(crate) fn take_tx(&self) -> Vec<u8> {
        let mut b = self.0.borrow_mut();
        let pos = b.tx_pos;
        b.tx_pos = 0;
        let mut v = std::mem::take(&mut b.tx);
        v.drain(..pos);
        v
    }

    /// Test side: puts untaken bytes back in front of the transmit side.
    pub(crate) fn unread_tx(&self, mut front: Vec<u8>) {
        let mut b = self.0.borrow_mut();
        let pos = b.tx_pos;
        front.extend_from_slice(&b.tx[pos..]);
        b.tx = front;
        b.tx_pos = 0;
    }

    /// Test side: appends bytes to the receive side, unbounded.
    pub(crate) fn give_rx(&self, data: &[u8]) {
        let mut b = self.0.borrow_mut();
        b.rx.extend_from_slice(data);
    }

    /// Bytes waiting on the transmit side.
    pub(crate) fn pending_tx(&self) -> usize {
        self.tx_len()
    }
}

impl AsyncRead for Pipe {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut b = self.0.borrow_mut();
        let avail = b.rx.len() - b.rx_pos;
        if avail > 0 {
            let n = avail.min(buf.remaining());
            let from = b.rx_pos;
            buf.put_slice(&b.rx[from..from + n]);
            b.rx_pos += n;
            Poll::Ready(Ok(()))
        } else if b.eof {
            // Zero bytes read: end of stream.
            Poll::Ready(Ok(()))
        } else {
            // The driver calls back when input arrives; no waker needed.
            Poll::Pending
        }
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut b = self.0.borrow_mut();
        let waiting = b.tx.len() - b.tx_pos;
        if waiting >= TX_MAX {
            // The driver drains the transmit side and polls again.
            return Poll::Pending;
        }
        let n = buf.len().min(TX_MAX - waiting);
        b.tx.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are the driver's to send; nothing sits in between.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The waker `h2` gets: setting a flag is all a wake-up does.
#[derive(Debug, Default)]
pub struct Flag(AtomicBool);

impl Flag {
    fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

enum State {
    Handshake(Pin<Box<Handshake<Pipe, Bytes>>>),
    Open(Box<Connection<Pipe, Bytes>>),
    Done,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Handshake(_) => "Handshake",
            State::Open(_) => "Open",
            State::Done => "Done",
        })
    }
}

/// A response being streamed.
#[derive(Debug)]
struct Stream {
    /// The response head, until the request has ended and it is sent.
    head: Option<(SendResponse<Bytes>, http::Response<()>)>,
    /// The response body's stream, once the head is sent.
    send: Option<SendStream<Bytes>>,
    body: Body,
    sent: u64,
    /// The request body, drained so its window is released.
    recv: Option<RecvStream>,
    /// Request body bytes drained so far.
    received: u64,
    log: LogLine,
}

impl Stream {
    /// A response body is waiting for window (what the send timer watches).
    fn sending(&self) -> bool {
        self.send.is_some() && self.sent < self.body.len()
    }
}

/// What the access log needs of one request (empty if the log is off).
#[derive(Debug, Default)]
struct LogLine {
    request: Vec<u8>,
    referer: Vec<u8>,
    user_agent: Vec<u8>,
    status: u16,
}

impl LogLine {
    fn record(&self, log: &mut AccessLog, peer: Ipv4Addr, sent: u64) {
        log.record(
            peer,
            &self.request,
            self.status,
            sent,
            &self.referer,
            &self.user_agent,
        );
    }
}

/// The `h2` server settings `[http2]` asks for.
pub fn builder(keys: &Http2Keys) -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.max_concurrent_streams(keys.max_concurrent_streams)
        .max_header_list_size(keys.max_header_list_size)
        .initial_window_size(keys.initial_window_size)
        .initial_connection_window_size(keys.initial_window_size.max(1 << 20))
        .max_frame_size(keys.max_frame_size)
        .max_pending_accept_reset_streams(keys.max_pending_accept_reset_streams)
        .max_local_error_reset_streams(Some(keys.max_local_error_reset_streams))
        .max_send_buffer_size(CHUNK);
    b
}

/// An HTTP/2 server connection. See the module docs.
pub struct H2Conn {
    pipe: Pipe,
    state: State,
    streams: Vec<Stream>,
    flag: Arc<Flag>,
    waker: Waker,
    close: CloseState,
    idle_timeout: Duration,
    send_timeout: Duration,
    /// No response body waiting to be sent since then (idle timer).
    idle_since: Option<Instant>,
    /// Last write progress while streams are open (send timeout).
    progress_at: Instant,
    /// GOAWAY sent for idleness or shutdown: close at this time anyway.
    goaway_deadline: Option<Instant>,
    served: u64,
}

impl std::fmt::Debug for H2Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Conn")
            .field("state", &self.state)
            .field("streams", &self.streams.len())
            .field("close", &self.close)
            .field("served", &self.served)
            .finish()
    }
}

impl H2Conn {
    /// A connection whose first bytes (the client preface, RFC 9113 §3.4)
    /// are about to arrive through [`H2Conn::handle_input`]. A response
    /// that makes no write progress for `send_timeout` aborts
    /// the connection.
    pub fn new(now: Instant, keys: &Http2Keys, send_timeout: Duration) -> H2Conn {
        let pipe = Pipe::default();
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let hs = builder(keys).handshake::<Pipe, Bytes>(pipe.clone());
        H2Conn {
            pipe,
            state: State::Handshake(Box::pin(hs)),
            streams: Vec::new(),
            flag,
            waker,
            close: CloseState::Open,
            idle_timeout: keys.idle_timeout,
            send_timeout,
            idle_since: Some(now),
            progress_at: now,
            goaway_deadline: None,
            served: 0,
        }
    }

    /// Bytes from the peer; returns how many were taken (the rest stays in
    /// TCP until `h2` has read what is buffered).
    pub fn handle_input(&mut self, now: Instant, data: &[u8], ctx: &mut ServeCtx) -> usize {
        if matches!(self.state, State::Done) {
            return data.len();
        }
        let mut used = 0;
        loop {
            let n = self.pipe.push_rx(&data[used..]);
            used += n;
            self.drive(now, ctx);
            if n == 0 || used == data.len() || matches!(self.state, State::Done) {
                break;
            }
        }
        if matches!(self.state, State::Done) {
            return data.len();
        }
        used
    }

    /// The peer sent FIN: `h2` reads end of stream once the buffer is empty.
    pub fn handle_eof(&mut self, now: Instant, ctx: &mut ServeCtx) {
        self.pipe.0.borrow_mut().eof = true;
        self.drive(now, ctx);
    }

    /// Writes HTTP/2 frames into `out`; returns how many bytes.
    pub fn poll_transmit(&mut self, ctx: &mut ServeCtx, out: &mut [u8]) -> usize {
        let now = ctx.now;
        let mut n = 0;
        loop {
            if self.pipe.tx_len() < TX_HIGH || self.flag.is_set() {
                self.drive(now, ctx);
            }
            let k = self.pipe.pull_tx(&mut out[n..]);
            n += k;
            if k == 0 || n == out.len() {
                break;
            }
        }
        if n > 0 {
            self.progress_at = now;
        }
        // Refill the transmit side for next time: with it drained to below
        // TX_HIGH by this call, the streams must be fed again now, or
        // `wants_transmit()` would be false with bodies still to send.
        if self.pipe.tx_len() < TX_HIGH {
            self.drive(now, ctx);
        }
        n
    }

    /// True while frames wait to be written or `h2` asked to run again (a
    /// stream with capacity to fill sets the flag too).
    pub fn wants_transmit(&self) -> bool {
        self.pipe.tx_len() > 0 || (self.flag.is_set() && !matches!(self.state, State::Done))
    }

    /// When [`H2Conn::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::Done) {
            return None;
        }
        let mut at = self.goaway_deadline;
        if let Some(since) = self.idle_since {
            if self.goaway_deadline.is_none() {
                at = Some(since + self.idle_timeout);
            }
        } else {
            let send = self.progress_at + self.send_timeout;
            at = Some(at.map_or(send, |a| a.min(send)));
        }
        at
    }

    /// Acts on the idle, GOAWAY and send timers; early calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant, ctx: &mut ServeCtx) {
        if self.goaway_deadline.is_some_and(|at| now >= at) {
            debug!("GOAWAY grace over; closing");
            self.finish_all(ctx);
            self.close = CloseState::Timeout;
            return;
        }
        match self.idle_since {
            Some(since) if self.goaway_deadline.is_none() && now >= since + self.idle_timeout => {
                trace!("http2 idle timeout; GOAWAY");
                self.shutdown(now, ctx);
            }
            None if now >= self.progress_at + self.send_timeout => {
                debug!(streams = self.streams.len(), "send_timeout; aborting");
                self.finish_all(ctx);
                self.close = CloseState::Abort;
                self.state = State::Done;
            }
            _ => {}
        }
    }

    /// Graceful shutdown (RFC 9113 §6.8): GOAWAY, no new streams, open ones
    /// finish; the connection closes when they have (or after a grace time).
    pub fn shutdown(&mut self, now: Instant, ctx: &mut ServeCtx) {
        if self.goaway_deadline.is_some() {
            return;
        }
        self.goaway_deadline = Some(now + GOAWAY_GRACE);
        match &mut self.state {
            State::Open(conn) => conn.graceful_shutdown(),
            State::Handshake(_) => {
                self.state = State::Done;
                self.close = CloseState::CloseAfterFlush;
            }
            State::Done => {}
        }
        self.drive(now, ctx);
    }

    /// The TCP connection failed: log the responses cut short.
    pub fn handle_reset(&mut self, ctx: &mut ServeCtx) {
        self.finish_all(ctx);
        self.state = State::Done;
        self.close = CloseState::Abort;
    }

    /// What the driver should do with the TCP connection.
    pub fn close_state(&self) -> CloseState {
        self.close
    }

    /// Requests answered so far.
    pub fn requests_served(&self) -> u64 {
        self.served
    }

    /// Logs and drops every stream in flight.
    fn finish_all(&mut self, ctx: &mut ServeCtx) {
        for s in self.streams.drain(..) {
            if ctx.log.enabled() {
                s.log.record(ctx.log, ctx.peer, s.sent);
            }
        }
    }

    /// Polls the connection and feeds the streams until nothing moves.
    fn drive(&mut self, now: Instant, ctx: &mut ServeCtx) {
        for _ in 0..MAX_ROUNDS {
            self.flag.take();
            let waker = self.waker.clone();
            let mut cx = Context::from_waker(&waker);
            let mut again = false;
            match &mut self.state {
                State::Done => return,
                State::Handshake(hs) => match hs.as_mut().poll(&mut cx) {
                    Poll::Ready(Ok(conn)) => {
                        trace!("http2 connection preface received");
                        self.state = State::Open(Box::new(conn));
                        again = true;
                    }
                    Poll::Ready(Err(e)) => {
                        debug!(error = %e, "http2 handshake failed");
                        self.end();
                    }
                    Poll::Pending => {}
                },
                // One request per round: answering it needs `self`.
                State::Open(conn) => match conn.poll_accept(&mut cx) {
                    Poll::Ready(Some(Ok((req, respond)))) => {
                        self.start_stream(now, req, respond, ctx);
                        again = true;
                    }
                    Poll::Ready(Some(Err(e))) => {
                        debug!(error = %e, "http2 connection error");
                        self.finish_all(ctx);
                        self.end();
                    }
                    Poll::Ready(None) => {
                        trace!("http2 connection closed");
                        self.finish_all(ctx);
                        self.end();
                    }
                    Poll::Pending => {}
                },
            }
            if matches!(self.state, State::Open(_)) && self.pipe.tx_len() < TX_HIGH {
                self.feed_streams(&mut cx, ctx);
            }
            // Streams that only wait for the rest of a request body are
            // idle as far as the timers go: nothing of ours is stuck.
            if !self.streams.iter().any(Stream::sending) {
                self.idle_since.get_or_insert(now);
            } else if self.idle_since.take().is_some() {
                self.progress_at = now;
            }
            if !again && !self.flag.is_set() {
                trace!(
                    tx = self.pipe.tx_len(),
                    streams = self.streams.len(),
                    sending = self.streams.iter().filter(|s| s.sending()).count(),
                    capacity = self
                        .streams
                        .iter()
                        .filter_map(|s| s.send.as_ref().map(|t| t.capacity()))
                        .sum::<usize>(),
                    "http2 drive idle"
                );
                return;
            }
        }
        // Out of rounds with work left: keep `wants_transmit()` true so the
        // driver comes back.
        self.flag.0.store(true, Ordering::Release);
    }

    fn end(&mut self) {
        self.state = State::Done;
        if self.close == CloseState::Open {
            self.close = CloseState::CloseAfterFlush;
        }
    }

    /// Answers a new request stream (RFC 9113 §8.1).
    fn start_stream(
        &mut self,
        now: Instant,
        req: http::Request<RecvStream>,
        mut respond: SendResponse<Bytes>,
        ctx: &mut ServeCtx,
    ) {
        self.served += 1;
        if self.idle_since.is_some() {
            // A request is activity even if its answer is done at once.
            self.idle_since = Some(now);
        }
        let (parts, recv) = req.into_parts();
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .as_bytes();
        let method = Method::from_bytes(parts.method.as_str().as_bytes());
        let mut request = Request::new(method, target);
        for (name, value) in parts.headers.iter() {
            request.add_field(name.as_str().as_bytes(), value.as_bytes());
        }
        let resp = ctx.site.resolve(&request, ctx.now_unix_secs);
        trace!(
            stream = respond.stream_id().as_u32(),
            method = parts.method.as_str(),
            target = parts.uri.path(),
            status = resp.status,
            "request"
        );
        let mut log = LogLine::default();
        if ctx.log.enabled() {
            let r = &mut log.request;
            r.extend_from_slice(parts.method.as_str().as_bytes());
            r.push(b' ');
            r.extend_from_slice(target);
            r.extend_from_slice(b" HTTP/2.0");
            let field = |n: &str| parts.headers.get(n).map(|v| v.as_bytes().to_vec());
            log.referer = field("referer").unwrap_or_default();
            log.user_agent = field("user-agent").unwrap_or_default();
            log.status = resp.status;
        }
        let head = response_head(&resp, ctx);
        let end = resp.body.is_empty();
        if !recv.is_end_stream() {
            // The answer waits for the end of the request (RFC 9113 §8.1:
            // the stream is "open" until then).
            self.progress_at = now;
            self.streams.push(Stream {
                head: Some((respond, head)),
                send: None,
                body: resp.body,
                sent: 0,
                recv: Some(recv),
                received: 0,
                log,
            });
            return;
        }
        let send = match respond.send_response(head, end) {
            Ok(send) => send,
            Err(e) => {
                debug!(error = %e, "stream gone before its response");
                if ctx.log.enabled() {
                    log.record(ctx.log, ctx.peer, 0);
                }
                return;
            }
        };
        if end {
            if ctx.log.enabled() {
                log.record(ctx.log, ctx.peer, 0);
            }
            return;
        }
        self.progress_at = now;
        self.streams.push(Stream {
            head: None,
            send: Some(send),
            body: resp.body,
            sent: 0,
            recv: None,
            received: 0,
            log,
        });
    }

    /// Gives each stream one piece of body as far as the windows allow, and
    /// drains request bodies; drops finished and reset streams.
    fn feed_streams(&mut self, cx: &mut Context<'_>, ctx: &mut ServeCtx) {
        let mut i = 0;
        while i < self.streams.len() {
            let s = &mut self.streams[i];
            let mut gone = false;
            if let Some(recv) = &mut s.recv {
                loop {
                    match recv.poll_data(cx) {
                        Poll::Ready(Some(Ok(data))) => {
                            s.received += data.len() as u64;
                            let _ = recv.flow_control().release_capacity(data.len());
                        }
                        Poll::Ready(Some(Err(_))) => {
                            // Reset or malformed: `h2` answered it already.
                            s.recv = None;
                            gone = true;
                            break;
                        }
                        Poll::Ready(None) => {
                            s.recv = None;
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
            }
            let limit = ctx.settings.max_body_size;
            if s.head.is_some() && s.recv.is_some() && limit != 0 && s.received > limit {
                debug!(
                    received = s.received,
                    limit, "request body over max_body_size; 413"
                );
                let resp = Response::error(413);
                if let Some((respond, _)) = s.head.take() {
                    s.head = Some((respond, response_head(&resp, ctx)));
                }
                s.log.status = 413;
                s.body = resp.body;
                s.recv = None;
            }
            if !gone && s.recv.is_none() {
                if let Some((mut respond, head)) = s.head.take() {
                    match respond.send_response(head, s.body.is_empty()) {
                        Ok(send) => s.send = Some(send),
                        Err(_) => gone = true,
                    }
                }
            }
            let len = s.body.len();
            if let (false, Some(send)) = (gone, s.send.as_mut().filter(|_| s.sent < len)) {
                let left = usize::try_from(len - s.sent).unwrap_or(usize::MAX);
                send.reserve_capacity(left.min(CHUNK));
                let mut cap = send.capacity();
                // Until there is capacity or the waker is registered: a
                // Ready that reports an increase already spent leaves no
                // waker behind, and the next increase would go unnoticed.
                while cap == 0 {
                    match send.poll_capacity(cx) {
                        Poll::Ready(Some(Ok(_))) => cap = send.capacity(),
                        Poll::Ready(Some(Err(_)) | None) => {
                            gone = true;
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
                let n = cap.min(left).min(CHUNK);
                if n > 0 && !gone {
                    let mut buf = vec![0u8; n];
                    match s.body.read_at(s.sent, &mut buf) {
                        Ok(()) => {
                            let last = s.sent + n as u64 == len;
                            match send.send_data(Bytes::from(buf), last) {
                                Ok(()) => s.sent += n as u64,
                                Err(_) => gone = true,
                            }
                        }
                        Err(e) => {
                            debug!(error = %e, sent = s.sent, "response body unreadable; resetting stream");
                            send.send_reset(h2::Reason::INTERNAL_ERROR);
                            gone = true;
                        }
                    }
                }
                if !gone && s.sent < len {
                    if send.poll_reset(cx).is_ready() {
                        gone = true;
                    } else {
                        // More to send: ask for the next piece now and leave
                        // a waker with `h2` (or come back at once if the
                        // capacity is there already), so that capacity
                        // freed by writing this piece out is noticed.
                        let left = usize::try_from(len - s.sent).unwrap_or(usize::MAX);
                        send.reserve_capacity(left.min(CHUNK));
                        while send.capacity() == 0 {
                            match send.poll_capacity(cx) {
                                Poll::Ready(Some(Ok(_))) => {}
                                Poll::Ready(Some(Err(_)) | None) => {
                                    gone = true;
                                    break;
                                }
                                Poll::Pending => break,
                            }
                        }
                        if send.capacity() > 0 {
                            self.flag.0.store(true, Ordering::Release);
                        }
                    }
                }
            }
            let body_done = s.sent == len && s.head.is_none();
            if gone || (body_done && s.recv.is_none()) {
                let s = self.streams.swap_remove(i);
                if ctx.log.enabled() {
                    s.log.record(ctx.log, ctx.peer, s.sent);
                }
            } else {
                i += 1;
            }
        }
    }
}

/// The `:status` and fields of `resp` for `h2` (names lower-cased; no
/// connection-specific fields, RFC 9113 §8.2.2).
fn response_head(resp: &Response, ctx: &ServeCtx) -> http::Response<()> {
    let mut head = http::Response::new(());
    *head.status_mut() =
        http::StatusCode::from_u16(resp.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = head.headers_mut();
    headers.insert(http::header::SERVER, HeaderValue::from_static("tapir"));
    if let Ok(v) = HeaderValue::from_bytes(ctx.date.date().as_bytes()) {
        headers.insert(http::header::DATE, v);
    }
    resp.for_each_field(|name, value| {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(n, v);
        }
    });
    head
}
