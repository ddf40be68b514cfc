//! The driver's observability hooks: the control socket, status pages,
//! pcap and trace files, request counters, reload and graceful stop.
//!
//! Job: the I/O side of what `control`, `status`, `pcap` and `trace`
//! format. Everything here runs on the loop and never blocks it: control
//! clients are non-blocking, tables are streamed, pcap and trace files are
//! written in buffered whole records.
//!
//! Graceful stop (`tapir stop`, SIGTERM, SIGINT): connections that
//! finished their handshake are accepted, the listener is removed (new
//! SYNs get RST), every connection's next response says
//! `Connection: close` and is then closed with FIN; connections idle
//! between requests get [`IDLE_GRACE`] to send one more request (a
//! request already on the wire is answered, not cut off), then FIN. The
//! loop exits once every connection has closed and our FINs are
//! acknowledged, or at `shutdown_timeout`.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use mio::{Registry, Token};
use netstack::iface::{AckTrace, Interface};
use netstack::tcp::State;
use netstack::time::Instant;
use tracing::{info, warn};

use super::{tcp_config, Conn, Driver};
use crate::access_log::{AccessLog, LogSink};
use crate::config::{Config, StatusConfig};
use crate::conn::h1::H1Settings;
use crate::conn::ServeCtx;
use crate::control::{reload_plan, ClientId, ControlServer, Request};
use crate::pcap::PcapWriter;
use crate::respond::{CacheLimits, Response, Site};
use crate::status::{route, text, HttpStates, ServerStats, Snapshot};
use crate::trace::TraceWriter;

/// First mio token of the control socket (its clients follow).
const CONTROL_TOKEN: usize = 1 << 20;
/// How long a connection idle between requests may still send one when a
/// stop begins.
pub const IDLE_GRACE: Duration = Duration::from_millis(500);

/// Buffered pcap records and trace lines reach the file at least this often.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// A log-level changer (the tracing subscriber's reload handle).
pub type LogReload = Box<dyn FnMut(&str) -> Result<(), String>>;

#[derive(Debug, Clone, Copy)]
struct Stopping {
    idle_close_at: Instant,
    deadline: Instant,
}

/// Observability state owned by the driver.
pub(super) struct Observe {
    /// The configuration in force (reload compares against it).
    pub(super) config: Config,
    control: Option<ControlServer>,
    pcap: Option<PcapWriter>,
    trace: Option<TraceWriter>,
    trace_buf: Vec<AckTrace>,
    /// Connections whose status-page request waits for an answer.
    deferred: Vec<netstack::iface::SocketHandle>,
    stopping: Option<Stopping>,
    stop_waiters: Vec<ClientId>,
    log_reload: Option<LogReload>,
    /// When pcap and trace buffers were last written out.
    flushed_at: Instant,
}

impl std::fmt::Debug for Observe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observe")
            .field("control", &self.control.is_some())
            .field("pcap", &self.pcap.is_some())
            .field("trace", &self.trace.is_some())
            .finish()
    }
}

/// HTTP/1 settings with the status prefix deferred to the driver.
pub(super) fn h1_settings(config: &Config) -> H1Settings {
    let status = &config.observe.status;
    H1Settings {
        deferred_prefix: status.enabled.then(|| static_prefix(&status.path)),
        ..H1Settings::from_config(&config.http)
    }
}

/// `path` as a `&'static str`: leaked once per distinct value (a reload
/// that changes `[status] path` leaks a few bytes).
fn static_prefix(path: &str) -> &'static str {
    thread_local! {
        static LAST: std::cell::Cell<&'static str> = const { std::cell::Cell::new("") };
    }
    LAST.with(|last| {
        if last.get() != path {
            last.set(Box::leak(path.to_owned().into_boxed_str()));
        }
        last.get()
    })
}

/// Count requests a connection started and time finished responses.
pub(super) fn count_requests(conn: &mut Conn, server: &mut ServerStats, now: Instant) {
    let served = conn.http.requests_served();
    if served != conn.served_seen {
        server.requests += served.wrapping_sub(conn.served_seen);
        conn.served_seen = served;
        conn.request_at.get_or_insert(now);
    }
    if !conn.http.wants_transmit() {
        if let Some(at) = conn.request_at.take() {
            server.latency.observe(now.saturating_duration_since(at));
        }
    }
}

impl Observe {
    /// Whether a graceful stop is under way.
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping.is_some()
    }

    /// Open what the configuration asks for. A control socket that cannot
    /// be bound is a warning (the server runs without it); pcap and trace
    /// files that cannot be created are errors.
    pub(super) fn new(
        config: &Config,
        registry: &Registry,
        iface: &mut Interface,
    ) -> io::Result<Observe> {
        let o = &config.observe;
        let control = o.control.socket.as_ref().and_then(|path| {
            match ControlServer::bind(path, registry, CONTROL_TOKEN) {
                Ok(c) => Some(c),
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "control socket unavailable; tapir stats/ss/reload/stop will not reach this server");
                    None
                }
            }
        });
        let pcap =
            match &o.pcap.path {
                Some(path) => Some(PcapWriter::create(path, o.pcap.max_bytes).map_err(|e| {
                    io::Error::new(e.kind(), format!("pcap {}: {e}", path.display()))
                })?),
                None => None,
            };
        let trace = match &o.trace.connections {
            Some(path) => {
                iface.set_trace(true);
                Some(TraceWriter::create(path).map_err(|e| {
                    io::Error::new(e.kind(), format!("trace {}: {e}", path.display()))
                })?)
            }
            None => None,
        };
        Ok(Observe {
            config: config.clone(),
            control,
            pcap,
            trace,
            trace_buf: Vec::new(),
            deferred: Vec::new(),
            stopping: None,
            stop_waiters: Vec::new(),
            log_reload: None,
            flushed_at: Instant::ZERO,
        })
    }

    pub(super) fn owns(&self, token: Token) -> bool {
        self.control.as_ref().is_some_and(|c| c.owns(token))
    }

    /// A frame went in or out (O(frame length), buffered).
    pub(super) fn capture(&mut self, unix_micros: u64, frame: &[u8], server: &mut ServerStats) {
        if let Some(p) = &mut self.pcap {
            p.record(unix_micros, frame);
            server.pcap_frames = p.frames;
            server.pcap_errors = p.errors;
        }
    }

    /// Write buffered pcap records and trace lines out.
    pub(super) fn flush_files(&mut self) {
        if let Some(p) = &mut self.pcap {
            p.flush();
        }
        if let Some(t) = &mut self.trace {
            t.flush();
        }
    }

    fn has_pending(&self) -> bool {
        self.pcap.as_ref().is_some_and(PcapWriter::has_pending)
            || self.trace.as_ref().is_some_and(TraceWriter::has_pending)
    }

    /// The next stop deadline, if stopping, or when buffered pcap records
    /// and trace lines are due on disk (at most a second after capture).
    pub(super) fn poll_at(&self) -> Option<Instant> {
        let flush = self
            .has_pending()
            .then_some(self.flushed_at + FLUSH_INTERVAL);
        let stop = self.stopping.map(|s| s.idle_close_at.min(s.deadline));
        [flush, stop].into_iter().flatten().min()
    }

    pub(super) fn defer(&mut self, handle: netstack::iface::SocketHandle) {
        self.deferred.push(handle);
    }

    fn status(&self) -> &StatusConfig {
        &self.config.observe.status
    }
}

impl Drop for Observe {
    fn drop(&mut self) {
        if let Some(c) = &self.control {
            c.unlink();
        }
    }
}

impl Driver {
    /// Let `[log] level` change on reload through `reload`.
    pub fn set_log_reload(&mut self, reload: LogReload) {
        self.observe.log_reload = Some(reload);
    }

    /// Counters, gauges and queue depths now (O(connections)).
    pub(super) fn snapshot(&self, now: Instant) -> Snapshot {
        let mut http = HttpStates::default();
        for conn in self.conns.iter().flatten() {
            if conn.http.wants_transmit() {
                http.writing += 1;
            } else if conn.http.is_idle() {
                http.waiting += 1;
            } else if conn.http.is_reading() {
                http.reading += 1;
            } else {
                http.writing += 1;
            }
        }
        let mut server = self.server.clone();
        server.tap_write_errors = self.tx_errors;
        server.trace_events = self.observe.trace.as_ref().map_or(0, |t| t.events);
        Snapshot {
            now,
            net: self.iface.stats().clone(),
            server,
            tcp_states: Snapshot::tcp_states(&self.iface),
            active: self.open_conns as u64,
            http,
            listeners: self.iface.listeners(),
            tw_buckets: self.iface.time_wait_buckets() as u64,
            uptime: Duration::from_micros(now.total_micros()),
        }
    }

    /// Answer the status-page requests that connections deferred.
    pub(super) fn answer_status_pages(&mut self, now: Instant) {
        if self.observe.deferred.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.observe.deferred);
        let mut snapshot = None;
        let unix_secs = self.clock.unix_secs(now);
        for handle in pending {
            let index = handle.index() as usize;
            let Some(Some(conn)) = self.conns.get(index) else {
                continue;
            };
            let Some(d) = conn.http.deferred().filter(|_| conn.handle == handle) else {
                continue;
            };
            let peer = self
                .iface
                .socket(handle)
                .map_or(Ipv4Addr::UNSPECIFIED, |s| {
                    Ipv4Addr::from(s.tuple().remote.addr.0)
                });
            let status = self.observe.status();
            let resp = if !status.allow.permits(peer) {
                Response::error(403)
            } else {
                match route::route(&d.target, &status.path, d.get_or_head) {
                    Ok(page) => {
                        if page.needs_snapshot() && snapshot.is_none() {
                            snapshot = Some(self.snapshot(now));
                        }
                        route::response(&page, snapshot.as_ref(), &self.iface, now)
                    }
                    Err(code) => Response::error(code),
                }
            };
            let Driver {
                conns,
                site,
                settings,
                date,
                access_log,
                ..
            } = self;
            if let Some(Some(conn)) = conns.get_mut(index) {
                let mut ctx = ServeCtx {
                    site,
                    settings,
                    date,
                    now_unix_secs: unix_secs,
                    now,
                    log: access_log,
                    peer,
                };
                conn.http.answer_deferred(now, resp, &mut ctx);
            }
            self.serve(now, handle);
        }
    }

    /// After frames went out: write ACK traces; put pcap records and
    /// trace lines on disk once a second (readers see whole records).
    pub(super) fn after_dispatch(&mut self, now: Instant) {
        let o = &mut self.observe;
        if let Some(t) = &mut o.trace {
            self.iface.take_trace(&mut o.trace_buf);
            if !o.trace_buf.is_empty() {
                t.write(&o.trace_buf);
                o.trace_buf.clear();
            }
        }
        if now >= o.flushed_at + FLUSH_INTERVAL && o.has_pending() {
            o.flush_files();
            o.flushed_at = now;
        }
    }

    /// Readiness on the control socket or a control client.
    pub(super) fn control_event(&mut self, token: Token) {
        let now = self.clock.now();
        let addr = Ipv4Addr::from(self.iface.config().ip_cidr.address().0);
        let Some(control) = self.observe.control.as_mut() else {
            return;
        };
        let asks = control.handle(token, self.poll.registry(), &self.iface, now, addr);
        for (id, request) in asks {
            let answer = match request {
                Request::Stats => text::stats(&self.snapshot(now)),
                Request::Reload => match self.reload() {
                    Ok(report) => report,
                    Err(e) => format!("error: {e}\nthe old configuration stays in force\n"),
                },
                Request::Stop => {
                    self.observe.stop_waiters.push(id);
                    self.begin_stop(now);
                    continue;
                }
                // Tables are served by the control server itself.
                Request::Ss(_) => continue,
            };
            if let Some(c) = self.observe.control.as_mut() {
                c.reply(id, &answer, self.poll.registry());
            }
        }
    }

    /// SIGHUP: reload and log the outcome.
    pub(super) fn reload_logged(&mut self) {
        match self.reload() {
            Ok(report) => {
                info!(report = %report.trim_end().replace('\n', "; "), "configuration reloaded")
            }
            Err(e) => warn!(error = %e, "reload rejected; the old configuration stays in force"),
        }
    }

    /// Re-read the configuration file and apply what can change live
    /// (see [`reload_plan`]). On any error nothing is applied.
    fn reload(&mut self) -> Result<String, String> {
        let old = &self.observe.config;
        let new = Config::load(&old.path).map_err(|e| e.to_string())?;
        let plan = reload_plan(old, &new);
        // Fallible steps first.
        let site = if new.http.root != old.http.root || new.http.site != old.http.site {
            Some(
                Site::with_options(
                    new.http.root.clone(),
                    new.http.site.clone(),
                    CacheLimits::default(),
                )
                .map_err(|e| format!("{}: http.root: {e}", new.path.display()))?,
            )
        } else {
            None
        };
        let sink = if new.http.access_log != old.http.access_log {
            Some(
                LogSink::open(&new.http.access_log)
                    .map_err(|e| format!("{}: http.access_log: {e}", new.path.display()))?,
            )
        } else {
            None
        };
        if new.log.level != old.log.level {
            if std::env::var_os("RUST_LOG").is_some() {
                warn!("log.level changed but RUST_LOG overrides it");
            } else if let Some(reload) = self.observe.log_reload.as_mut() {
                reload(&new.log.level)
                    .map_err(|e| format!("{}: log.level: {e}", new.path.display()))?;
            }
        }
        if let Some(site) = site {
            self.site = site;
        }
        if let Some(sink) = sink {
            self.flush_access_log(self.clock.now());
            self.access_log = AccessLog::new(!matches!(sink, LogSink::Off));
            self.log_sink = sink;
        }
        // Keys that need a restart keep their old values.
        let mut effective = new.clone();
        let old = &self.observe.config;
        effective.net = old.net.clone();
        effective.http.port = old.http.port;
        effective.tcp.backlog = old.tcp.backlog;
        effective.tcp.syn_backlog = old.tcp.syn_backlog;
        effective.tcp.syncookies = old.tcp.syncookies;
        effective.tcp.abort_on_overflow = old.tcp.abort_on_overflow;
        effective.tcp.max_tw_buckets = old.tcp.max_tw_buckets;
        effective.observe.control.socket = old.observe.control.socket.clone();
        effective.observe.trace = old.observe.trace.clone();
        effective.observe.pcap = old.observe.pcap.clone();
        self.settings = h1_settings(&effective);
        if self.observe.stopping.is_some() {
            self.settings.keepalive_requests = 0;
        }
        self.iface.set_tcp_config(tcp_config(&effective));
        self.max_connections = effective.tcp.max_connections;
        self.reset_timedout = effective.tcp.reset_timedout_connection;
        self.observe.config = effective;
        Ok(plan.report())
    }

    /// Begin a graceful stop (see the module docs); idempotent.
    pub(super) fn begin_stop(&mut self, now: Instant) {
        if self.observe.stopping.is_some() {
            return;
        }
        let timeout = self.observe.config.observe.control.shutdown_timeout;
        // Connections that completed their handshake may carry a request.
        let ports: Vec<u16> = self.ports().collect();
        for port in ports {
            while let Some(handle) = self.iface.accept(port) {
                self.open_conn(now, handle);
            }
            self.iface.unlisten(now, port);
        }
        // Every next response closes its connection.
        self.settings.keepalive_requests = 0;
        self.observe.stopping = Some(Stopping {
            idle_close_at: now + IDLE_GRACE.min(timeout / 2),
            deadline: now + timeout,
        });
        info!(connections = self.open_conns, timeout = ?timeout, "stop: no new connections; finishing responses in flight");
        // HTTP/2 connections learn it from a GOAWAY (RFC 9113 §6.8).
        self.shutdown_conns(now);
    }

    /// While stopping: close idle connections after the grace, everything
    /// at the deadline. True when the loop may exit.
    pub(super) fn stop_finished(&mut self, now: Instant) -> bool {
        let Some(stop) = self.observe.stopping else {
            return false;
        };
        let deadline = now >= stop.deadline;
        if now >= stop.idle_close_at || deadline {
            let closing: Vec<_> = self
                .conns
                .iter()
                .flatten()
                .filter(|c| deadline || c.http.is_idle())
                .map(|c| c.handle)
                .collect();
            for handle in closing {
                self.iface.close(handle);
                self.close_conn(handle);
            }
        }
        if deadline {
            self.dispatch(now);
            warn!(
                connections = self.iface.sockets().len(),
                "shutdown_timeout reached; exiting"
            );
            return true;
        }
        self.open_conns == 0
            && !self.iface.sockets().iter().any(|(_, s)| {
                matches!(
                    s.state(),
                    State::FinWait1
                        | State::Closing
                        | State::LastAck
                        | State::Established
                        | State::CloseWait
                        | State::SynReceived
                )
            })
    }

    /// The stop is complete: tell `tapir stop` clients.
    pub(super) fn finish_stop(&mut self) {
        self.observe.flush_files();
        let waiters = std::mem::take(&mut self.observe.stop_waiters);
        if let Some(c) = self.observe.control.as_mut() {
            for id in waiters {
                c.reply(id, "stopped\n", self.poll.registry());
            }
        }
        info!("stopped");
    }
}
