//! The driver: the only code that reads the clock, touches the TAP device
//! and waits in `mio::Poll`.
//!
//! One loop, in this order each turn:
//! 1. read frames from the TAP until `WouldBlock` (bounded per turn) and
//!    hand each to the interface;
//! 2. let every connection the interface reports (new, readable, writable,
//!    closed) run its HTTP state machine against its socket buffers;
//! 3. run connection timers (keep-alive, header time-outs) that expired;
//! 4. let the interface emit every frame that is due, written to the TAP;
//! 5. write the access log buffer out if it is full or a second old;
//! 6. sleep until the TAP is readable, a signal arrives, or the earliest
//!    deadline.
//!
//! Signals (as nginx): SIGUSR1 reopens the access log file (rotation),
//! SIGUSR2 prints the counters, SIGHUP reloads the configuration,
//! SIGTERM/SIGINT stop gracefully (as `tapir stop`): no new connections,
//! HTTP/2 connections get GOAWAY (RFC 9113 §6.8), responses in flight
//! finish, then the counters are printed.
//!
//! Listeners: `[http] port` (HTTP/1.1, or h2c when the HTTP/2 preface
//! comes first) and, with `[tls]`, `[tls] port` (TLS, then HTTP/2 or
//! HTTP/1.1 by ALPN). The per-kind state machines are in [`crate::conn`];
//! here they are one [`Proto`] each.
//!
//! Observability hooks (the work is in `driver/observe.rs` and the pure
//! modules it calls): the control socket's events, status pages deferred
//! by HTTP connections, every frame to the pcap file, ACK traces to the
//! trace file, request counters and latency, reload and graceful stop.
//!
//! Connections are netstack socket handles; mio tokens are only for real
//! file descriptors (the TAP).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use netstack::iface::{Event, Interface, InterfaceConfig, ListenConfig, SocketHandle};
use netstack::phy::sys::{configure_link, TapDevice};
use netstack::tcp::{RecvError, State, TcpConfig};
use netstack::time::Instant;
use netstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_mio::v1_0::Signals;
use tracing::{debug, debug_span, info};

use crate::access_log::{AccessLog, LogSink, FLUSH_AT};
use crate::config::Http2Keys;
use crate::config::{AccessLogTarget, Config};
use crate::conn::h1::{CloseState, H1Settings, ServeCtx};
use crate::conn::tls::Outcome;
use crate::conn::{HttpConn, Proto, TlsConn};
use crate::date::DateCache;
use crate::respond::{CacheLimits, Redirect, Site};
use crate::status::ServerStats;

mod observe;

use observe::Observe;

const TAP: Token = Token(0);
/// The signal pipe: SIGUSR1 reopens the access log, SIGUSR2 prints the
/// counters, SIGTERM/SIGINT print them and stop.
const SIGNALS: Token = Token(1);
/// Frames read per turn before the loop dispatches and serves connections,
/// so a flood of input cannot starve output.
const MAX_FRAMES_PER_TURN: usize = 256;
/// Ethernet header plus the largest MTU we accept (config bounds it at 9000).
const MAX_FRAME: usize = 14 + 9000;
/// Buffered access-log lines are written out at least this often.
const LOG_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// TLS and HTTP/2 counters (the `Tls:` line of the statistics).
#[derive(Debug, Default, Clone, Copy)]
struct TlsStats {
    /// Handshakes completed.
    handshakes: u64,
    /// ... of them resumed (ticket or session ID).
    resumed: u64,
    /// ... of them TLS 1.3 / TLS 1.2.
    tls13: u64,
    tls12: u64,
    /// ... of them with ALPN `h2`.
    alpn_h2: u64,
    /// Handshakes rustls refused (an alert was sent).
    failures: u64,
    /// Handshakes the peer left unfinished (FIN, RST or timeout).
    abandoned: u64,
    /// HTTP/2 connections with prior knowledge on the plain port.
    h2c: u64,
}

/// The wall and monotonic clocks, read only here.
#[derive(Debug)]
struct Clock {
    start: std::time::Instant,
    start_unix: u64,
    /// The wall clock at `start`, in microseconds (pcap timestamps).
    start_unix_micros: u64,
}

impl Clock {
    #[allow(clippy::disallowed_methods)] // The driver is the one place that reads clocks.
    fn new() -> Clock {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock {
            start: std::time::Instant::now(),
            start_unix: since_epoch.as_secs(),
            start_unix_micros: since_epoch.as_micros() as u64,
        }
    }

    #[allow(clippy::disallowed_methods)] // The driver is the one place that reads clocks.
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn unix_secs(&self, now: Instant) -> u64 {
        self.start_unix + now.total_micros() / 1_000_000
    }

    fn unix_micros(&self, now: Instant) -> u64 {
        self.start_unix_micros + now.total_micros()
    }
}

/// A connection's HTTP state next to the socket it runs on.
#[derive(Debug)]
struct Conn {
    handle: SocketHandle,
    http: Proto,
    /// Counted as h2c already.
    h2c_counted: bool,
    /// We asked the socket to close (FIN) or abort; waiting to release.
    closing: bool,
    /// Earliest deadline registered in the driver's timer heap.
    timer_at: Option<Instant>,
    /// Requests counted so far, and when the response in progress began
    /// (for the request counter and latency histogram).
    served_seen: u64,
    request_at: Option<Instant>,
}

/// Everything the loop owns.
pub struct Driver {
    clock: Clock,
    poll: Poll,
    signals: Signals,
    tap: TapDevice,
    iface: Interface,
    site: Site,
    settings: H1Settings,
    date: DateCache,
    http_port: u16,
    /// `[tls]`: its port and rustls configuration.
    tls: Option<(u16, Arc<rustls::ServerConfig>)>,
    /// `[tls] redirect_http`: the plain port answers every request with
    /// 301 to `https://` from this site instead of `site`.
    redirect_site: Option<Site>,
    http2: Http2Keys,
    tls_stats: TlsStats,
    /// Connections indexed by socket slot; the handle inside guards reuse.
    conns: Vec<Option<Conn>>,
    timers: BinaryHeap<Reverse<(Instant, SocketHandle)>>,
    rx_buf: Vec<u8>,
    tx_errors: u64,
    /// Connections being served (`conns` entries that are `Some`).
    open_conns: usize,
    /// `[tcp] max_connections`: beyond it, connections wait in the accept
    /// queue (and then the listener's overflow rules apply).
    max_connections: usize,
    /// `[tcp] reset_timedout_connection`: RST rather than FIN on timeouts.
    reset_timedout: bool,
    /// Access-log lines waiting to be written, and where they go.
    access_log: AccessLog,
    log_sink: LogSink,
    /// When the access log buffer was last written out.
    log_flushed_at: Instant,
    /// Write errors are reported once per this many (and the first).
    log_errors: u64,
    /// The server's own counters (requests, latency, pcap, ...).
    server: ServerStats,
    /// Control socket, pcap, traces, status pages, reload and stop.
    observe: Observe,
}

impl Driver {
    /// Open and configure the TAP, build the interface, listen on the HTTP port.
    pub fn new(config: &Config) -> io::Result<Driver> {
        let net = &config.net;
        let tap = TapDevice::open(&net.tap)?;
        let (host_ip, prefix_len) = net.host_addr;
        configure_link(&net.tap, host_ip.octets(), prefix_len, u32::from(net.mtu))?;
        let secret = random_bytes::<24>()?;
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&secret[16..22]);
        mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
        let mut isn_secret = [0u8; 16];
        isn_secret.copy_from_slice(&secret[..16]);

        let addr = Ipv4Address::from(net.addr);
        let mut iface_config =
            InterfaceConfig::new(EthernetAddress(mac), Ipv4Cidr::new(addr, prefix_len));
        iface_config.gateway = Some(Ipv4Address::from(net.gateway.unwrap_or(host_ip)));
        iface_config.mtu = usize::from(net.mtu);
        iface_config.isn_secret = isn_secret;
        iface_config.tcp = tcp_config(config);
        iface_config.max_tw_buckets = config.tcp.max_tw_buckets;
        let mut iface = Interface::new(iface_config);
        let listen = ListenConfig {
            backlog: config.tcp.backlog,
            syn_backlog: config.tcp.syn_backlog,
            syncookies: config.tcp.syncookies,
            abort_on_overflow: config.tcp.abort_on_overflow,
        };
        iface
            .listen_with(config.http.port, listen)
            .map_err(|e| io::Error::new(io::ErrorKind::AddrInUse, e))?;
        let tls = match &config.tls {
            None => None,
            Some(keys) => {
                let server = crate::tls_setup::server_config(keys, net.addr)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                iface
                    .listen_with(keys.port, listen)
                    .map_err(|e| io::Error::new(io::ErrorKind::AddrInUse, e))?;
                info!(port = keys.port, "TLS listening");
                Some((keys.port, server))
            }
        };
        let redirect_site = match &config.tls {
            Some(keys) if keys.redirect_http => {
                let mut opts = config.http.site.clone();
                let authority = if keys.port == 443 {
                    net.addr.to_string()
                } else {
                    format!("{}:{}", net.addr, keys.port)
                };
                opts.redirects.insert(
                    0,
                    Redirect {
                        from: "/*".into(),
                        to: format!("https://{authority}/").into(),
                        status: 301,
                    },
                );
                Some(Site::with_options(
                    config.http.root.clone(),
                    opts,
                    CacheLimits::default(),
                )?)
            }
            _ => None,
        };

        let poll = Poll::new()?;
        poll.registry()
            .register(&mut SourceFd(&tap.as_raw_fd()), TAP, Interest::READABLE)?;
        let log_sink = LogSink::open(&config.http.access_log).map_err(|e| {
            let what = match &config.http.access_log {
                AccessLogTarget::File(path) => path.display().to_string(),
                other => format!("{other:?}"),
            };
            io::Error::new(e.kind(), format!("access log {what}: {e}"))
        })?;
        let mut signals = Signals::new([SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let site = Site::with_options(
            config.http.root.clone(),
            config.http.site.clone(),
            CacheLimits::default(),
        )?;
        let observe = Observe::new(config, poll.registry(), &mut iface)?;
        let clock = Clock::new();
        let mut date = DateCache::default();
        date.update(clock.start_unix);
        info!(
            tap = %net.tap, addr = %addr, mac = %EthernetAddress(mac), port = config.http.port,
            root = %config.http.root.display(), "tapir listening"
        );
        Ok(Driver {
            clock,
            poll,
            tap,
            signals,
            iface,
            site,
            settings: observe::h1_settings(config),
            date,
            http_port: config.http.port,
            tls,
            redirect_site,
            http2: config.http2,
            tls_stats: TlsStats::default(),
            conns: Vec::new(),
            timers: BinaryHeap::new(),
            rx_buf: vec![0; MAX_FRAME],
            tx_errors: 0,
            open_conns: 0,
            max_connections: config.tcp.max_connections,
            reset_timedout: config.tcp.reset_timedout_connection,
            access_log: AccessLog::new(!matches!(log_sink, LogSink::Off)),
            log_sink,
            log_flushed_at: Instant::from_micros(0),
            log_errors: 0,
            server: ServerStats::default(),
            observe,
        })
    }

    /// Print every counter to stderr, `netstat -s` style (see README,
    /// "Statistics").
    pub fn print_stats(&self) {
        let t = &self.tls_stats;
        eprint!(
            "tapir stats\n{}Server: OpenConnections {} TimeWaitBuckets {} TapWriteErrors {} Requests {}\n\
             Tls: Handshakes {} Resumed {} Tls13 {} Tls12 {} AlpnH2 {} HandshakeFailures {} \
             HandshakesAbandoned {} H2cConnections {}\n",
            self.iface.stats(),
            self.open_conns,
            self.iface.time_wait_buckets(),
            self.tx_errors,
            self.server.requests,
            t.handshakes,
            t.resumed,
            t.tls13,
            t.tls12,
            t.alpn_h2,
            t.failures,
            t.abandoned,
            t.h2c,
        );
    }

    /// Run the loop until SIGTERM/SIGINT (`Ok`) or an unrecoverable I/O
    /// error.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        let mut tap_backlog = true;
        loop {
            let now = self.clock.now();
            self.date.update(self.clock.unix_secs(now));
            self.access_log.set_time(self.clock.unix_secs(now));
            if tap_backlog {
                tap_backlog = self.read_frames(now)?;
            }
            self.serve_events(now);
            self.expire_conn_timers(now);
            self.answer_status_pages(now);
            let ports: Vec<u16> = self.ports().collect();
            for port in ports {
                if self.open_conns < self.max_connections && self.iface.accept_queue_len(port) > 0 {
                    // Room again after closes: take connections that waited.
                    self.accept_conns(now, port);
                    self.serve_events(now);
                }
            }
            self.dispatch(now);
            self.after_dispatch(now);
            if self.stop_finished(now) {
                self.print_stats();
                self.flush_access_log(now);
                self.finish_stop();
                return Ok(());
            }
            let log_due = self.log_flushed_at + LOG_FLUSH_INTERVAL;
            if self.access_log.pending().len() >= FLUSH_AT
                || (now >= log_due && !self.access_log.pending().is_empty())
            {
                self.flush_access_log(now);
            }

            let timeout = if tap_backlog {
                Some(Duration::ZERO)
            } else {
                let log_at = if self.access_log.pending().is_empty() {
                    None
                } else {
                    Some(self.log_flushed_at + LOG_FLUSH_INTERVAL)
                };
                let deadline = [
                    self.iface.poll_at(),
                    self.next_conn_timer(),
                    log_at,
                    self.observe.poll_at(),
                ]
                .into_iter()
                .flatten()
                .min();
                let now = self.clock.now();
                deadline.map(|at| at.saturating_duration_since(now))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if events.iter().any(|e| e.token() == TAP) {
                tap_backlog = true;
            }
            for event in events.iter() {
                if self.observe.owns(event.token()) {
                    self.control_event(event.token());
                }
            }
            if events.iter().any(|e| e.token() == SIGNALS) {
                let pending: Vec<i32> = self.signals.pending().collect();
                for signal in pending {
                    if signal == SIGUSR1 {
                        // Rotation: what is buffered still belongs in the
                        // old file.
                        self.flush_access_log(self.clock.now());
                        self.log_sink.reopen();
                        info!("access log reopened");
                        continue;
                    }
                    if signal == SIGHUP {
                        self.reload_logged();
                        continue;
                    }
                    if signal == SIGUSR2 {
                        self.print_stats();
                        continue;
                    }
                    info!(signal, "stopping gracefully");
                    self.begin_stop(self.clock.now());
                }
            }
        }
    }

    /// Write the buffered access-log lines out; on error drop them and say
    /// so (the first time and every 1000th).
    fn flush_access_log(&mut self, now: Instant) {
        self.log_flushed_at = now;
        self.observe.flush_files();
        if let Err(e) = self.log_sink.flush(&mut self.access_log) {
            if self.log_errors.checked_rem(1000) == Some(0) {
                tracing::warn!(error = %e, errors = self.log_errors + 1, "access log write failed; lines dropped");
            }
            self.log_errors += 1;
        }
    }

    /// Read frames until `WouldBlock` or the per-turn bound. Returns whether
    /// frames may still be waiting (the bound was hit).
    fn read_frames(&mut self, now: Instant) -> io::Result<bool> {
        for _ in 0..MAX_FRAMES_PER_TURN {
            match self.tap.recv(&mut self.rx_buf) {
                Ok(n) => {
                    let frame = &self.rx_buf[..n];
                    self.observe
                        .capture(self.clock.unix_micros(now), frame, &mut self.server);
                    self.iface.handle_frame(now, frame);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn dispatch(&mut self, now: Instant) {
        let unix_micros = self.clock.unix_micros(now);
        let Driver {
            iface,
            tap,
            tx_errors,
            observe,
            server,
            ..
        } = self;
        iface.dispatch(now, |frame| {
            observe.capture(unix_micros, frame, server);
            if let Err(err) = tap.send(frame) {
                *tx_errors += 1;
                debug!(%err, len = frame.len(), "drop: TAP write failed");
            }
        });
    }

    fn serve_events(&mut self, now: Instant) {
        while let Some(event) = self.iface.poll_event() {
            match event {
                Event::Acceptable(port) => self.accept_conns(now, port),
                Event::Socket(handle) => self.serve(now, handle),
            }
        }
    }

    /// The ports we listen on.
    fn ports(&self) -> impl Iterator<Item = u16> {
        std::iter::once(self.http_port).chain(self.tls.as_ref().map(|(p, _)| *p))
    }

    /// Server shutdown: every connection learns it (HTTP/2 sends GOAWAY).
    fn shutdown_conns(&mut self, now: Instant) {
        let handles: Vec<SocketHandle> = self.conns.iter().flatten().map(|c| c.handle).collect();
        for handle in handles {
            if let Some(Some(conn)) = self.conns.get_mut(handle.index() as usize) {
                let unix_secs = self.clock.unix_secs(now);
                let mut ctx = ServeCtx {
                    site: &mut self.site,
                    settings: &self.settings,
                    date: &self.date,
                    now_unix_secs: unix_secs,
                    now,
                    log: &mut self.access_log,
                    peer: Ipv4Addr::UNSPECIFIED,
                };
                conn.http.shutdown(now, &mut ctx);
            }
            self.serve(now, handle);
        }
    }

    /// Accept waiting connections while under `max_connections`.
    fn accept_conns(&mut self, now: Instant, port: u16) {
        if self.observe.is_stopping() {
            return;
        }
        while self.open_conns < self.max_connections {
            let Some(handle) = self.iface.accept(port) else {
                break;
            };
            self.open_conn(now, handle);
        }
    }

    fn open_conn(&mut self, now: Instant, handle: SocketHandle) {
        let index = handle.index() as usize;
        if self.conns.len() <= index {
            self.conns.resize_with(index + 1, || None);
        }
        let port = self.iface.socket(handle).map(|s| s.tuple().local.port);
        let http = match &self.tls {
            Some((tls_port, config)) if port == Some(*tls_port) => {
                match TlsConn::new(now, config.clone(), &self.settings, self.http2) {
                    Ok(c) => Proto::Tls(Box::new(c)),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start a TLS connection");
                        self.iface.abort(handle);
                        self.iface.release(handle);
                        return;
                    }
                }
            }
            _ => {
                let sniff = self.http2.h2c.then_some(&self.http2);
                Proto::Plain(HttpConn::h1(now, &self.settings, sniff))
            }
        };
        self.open_conns += 1;
        self.server.accepts += 1;
        self.server.handled += 1;
        self.conns[index] = Some(Conn {
            handle,
            http,
            h2c_counted: false,
            closing: false,
            timer_at: None,
            served_seen: 0,
            request_at: None,
        });
        self.serve(now, handle);
    }

    fn close_conn(&mut self, handle: SocketHandle) {
        if let Some(slot) = self.conns.get_mut(handle.index() as usize) {
            if slot.as_ref().is_some_and(|c| c.handle == handle) {
                *slot = None;
                self.open_conns -= 1;
            }
        }
        // Input the HTTP side left unread (the rest of a refused body, a
        // smuggled request) means the client is still sending: close
        // lingering (nginx `lingering_close`), so that its input does not
        // turn the close into a RST that destroys the response still in the
        // send buffer. Otherwise a plain release: data after it gets the
        // RST of RFC 1122 §4.2.2.13, as from Linux under nginx.
        let unread = self.iface.socket(handle).map_or(0, |s| s.recv_queue());
        if unread > 0 {
            self.iface.release_discarding(handle);
        } else {
            self.iface.release(handle);
        }
    }

    /// Run one connection's HTTP state machine against its socket: read
    /// what arrived, write what is ready, close when the protocol says so.
    fn serve(&mut self, now: Instant, handle: SocketHandle) {
        self.serve_conn(now, handle, false);
    }

    /// [`Driver::serve`], first letting the connection act on its expired
    /// timer if `timer_fired`.
    fn serve_conn(&mut self, now: Instant, handle: SocketHandle, timer_fired: bool) {
        // One span per connection: every event logged while serving it carries its handle.
        let _span = debug_span!("conn", %handle).entered();
        let unix_secs = self.clock.unix_secs(now);
        let Driver {
            iface,
            conns,
            site,
            redirect_site,
            settings,
            date,
            timers,
            reset_timedout,
            access_log,
            tls_stats,
            server,
            observe,
            ..
        } = self;
        let Some(Some(conn)) = conns.get_mut(handle.index() as usize) else {
            return;
        };
        if conn.handle != handle {
            return;
        }
        let peer = iface.socket(handle).map_or(Ipv4Addr::UNSPECIFIED, |s| {
            Ipv4Addr::from(s.tuple().remote.addr.0)
        });
        let site = match (&conn.http, redirect_site.as_mut()) {
            (Proto::Plain(_), Some(redirect)) => redirect,
            _ => site,
        };
        let mut ctx = ServeCtx {
            site,
            settings,
            date,
            now_unix_secs: unix_secs,
            now,
            log: access_log,
            peer,
        };
        if timer_fired {
            conn.http.handle_timeout(now, &mut ctx);
        }
        let mut gone = false;
        loop {
            let mut progress = false;
            // Input.
            if !conn.closing {
                loop {
                    match iface.recv_with(handle, |data| {
                        let n = if data.is_empty() {
                            0
                        } else {
                            conn.http.handle_input(now, data, &mut ctx)
                        };
                        (n, n)
                    }) {
                        Ok(0) => break,
                        Ok(_) => progress = true,
                        Err(RecvError::Finished) => {
                            conn.http.handle_eof(now, &mut ctx);
                            break;
                        }
                        Err(_) => {
                            gone = true;
                            break;
                        }
                    }
                }
            }
            if gone {
                break;
            }
            // Output, written straight into the send buffer.
            while conn.http.wants_transmit() {
                match iface.send_with(handle, |buf| {
                    let n = conn.http.poll_transmit(&mut ctx, buf);
                    (n, n)
                }) {
                    Ok(0) => break,
                    Ok(_) => progress = true,
                    Err(_) => {
                        gone = true;
                        break;
                    }
                }
            }
            if gone || !progress {
                break;
            }
        }
        count_outcome(tls_stats, conn);
        observe::count_requests(conn, server, now);
        if conn.http.deferred().is_some() {
            observe.defer(handle);
        }
        let state = iface.socket(handle).map(|s| s.state());
        if gone || matches!(state, None | Some(State::Closed)) {
            conn.http.handle_reset(&mut ctx);
            debug!(%handle, "connection ended by the peer");
            self.close_conn(handle);
            return;
        }
        if !conn.closing {
            match conn.http.close_state() {
                CloseState::Open => {}
                CloseState::CloseAfterFlush if conn.http.wants_transmit() => {}
                CloseState::Timeout if *reset_timedout => {
                    // nginx `reset_timedout_connection`: an abortive close,
                    // no TIME-WAIT on our side.
                    conn.closing = true;
                    iface.abort(handle);
                }
                CloseState::CloseAfterFlush | CloseState::Timeout => {
                    conn.closing = true;
                    iface.close(handle);
                }
                CloseState::Abort => {
                    conn.closing = true;
                    iface.abort(handle);
                }
            }
        }
        if conn.closing {
            // The stack finishes the teardown (FIN retransmission, TIME-WAIT) on its own.
            self.close_conn(handle);
            return;
        }
        if let Some(at) = conn.http.poll_timeout() {
            if conn.timer_at.is_none_or(|t| at < t) {
                conn.timer_at = Some(at);
                timers.push(Reverse((at, handle)));
            }
        }
    }

    fn expire_conn_timers(&mut self, now: Instant) {
        while let Some(&Reverse((at, handle))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(Some(conn)) = self.conns.get_mut(handle.index() as usize) else {
                continue;
            };
            if conn.handle != handle {
                continue;
            }
            conn.timer_at = None;
            self.serve_conn(now, handle, true);
        }
    }

    fn next_conn_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("tap", &self.tap.name())
            .field("tx_errors", &self.tx_errors)
            .finish()
    }
}

/// Counts a TLS handshake's outcome and h2c connections, once each.
fn count_outcome(stats: &mut TlsStats, conn: &mut Conn) {
    match &mut conn.http {
        Proto::Tls(tls) => match tls.take_outcome() {
            Some(Outcome::Done { tls13, resumed, h2 }) => {
                stats.handshakes += 1;
                stats.resumed += u64::from(resumed);
                if tls13 {
                    stats.tls13 += 1;
                } else {
                    stats.tls12 += 1;
                }
                stats.alpn_h2 += u64::from(h2);
            }
            Some(Outcome::Failed) => stats.failures += 1,
            Some(Outcome::Abandoned) => stats.abandoned += 1,
            None => {}
        },
        Proto::Plain(http) => {
            if !conn.h2c_counted && http.is_h2() {
                conn.h2c_counted = true;
                stats.h2c += 1;
            }
        }
    }
}

/// TCP settings for new connections from the `[tcp]` and `[net]` tables.
pub fn tcp_config(config: &Config) -> TcpConfig {
    let keys = &config.tcp;
    TcpConfig {
        mss: config.net.mtu.saturating_sub(40),
        recv_buffer: keys.recv_buffer,
        send_buffer: keys.send_buffer,
        nodelay: keys.nodelay,
        delayed_ack: keys.delayed_ack,
        rto_min: keys.rto_min,
        retries2: keys.retries2,
        synack_retries: keys.synack_retries,
        msl: keys.msl,
        fin_timeout: keys.fin_timeout,
        congestion: keys.congestion,
        window_scaling: keys.window_scaling,
        timestamps: keys.timestamps,
        sack: keys.sack,
        challenge_ack_limit: keys.challenge_ack_limit,
        keepalive: keys.keepalive,
        keepalive_time: keys.keepalive_time,
        keepalive_intvl: keys.keepalive_intvl,
        keepalive_probes: keys.keepalive_probes,
        orphan_retries: keys.orphan_retries,
        rfc1337: keys.rfc1337,
        ..TcpConfig::default()
    }
}

/// Random bytes from the kernel, for secrets and our MAC address.
fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    use std::io::Read;
    let mut out = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut out)?;
    Ok(out)
}
