//! The control socket: `tapir stats`, `ss`, `reload` and `stop` talk to a
//! running server over a Unix stream socket served by the driver's loop.
//!
//! Protocol (one request per connection, text): the client writes one
//! line, the server answers with text and closes.
//!
//! | request            | answer |
//! |--------------------|--------|
//! | `stats`            | every counter, `netstat -s` style ([`crate::status::text::stats`]) |
//! | `ss [FILTER]`      | the connection table, streamed ([`crate::status::ss`]); FILTER as `ss state` |
//! | `reload`           | `reloaded` and what changed, or `error: file:line: ...` |
//! | `stop`             | `stopping ...`, then `stopped ...` when the server exits |
//!
//! An answer that starts with `error:` is a failure (the CLI exits 1).
//!
//! Contract: [`parse_request`] and [`reload_plan`] are pure. The
//! [`ControlServer`] never blocks: the listener and every client are
//! non-blocking and registered with mio (edge-triggered); a table is
//! produced [`ROWS_PER_FILL`] rows at a time, only when the client has
//! taken what was written before (back-pressure), so a slow reader of a
//! 100k-row table costs the loop nothing while it is not reading.

use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use netstack::iface::Interface;
use netstack::time::Instant;
use slab::Slab;
use tracing::{debug, warn};

use crate::config::Config;
use crate::status::ss::{StateFilter, TableCursor};

/// Longest request line accepted.
pub const MAX_REQUEST: usize = 1024;
/// Table rows produced per step while the client keeps reading.
pub const ROWS_PER_FILL: usize = 512;
/// Clients served at once; beyond it a client still silent about its
/// request is dropped to make room, else the newcomer is refused.
pub const MAX_CLIENTS: usize = 64;

/// A control request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Stats,
    Ss(StateFilter),
    Reload,
    Stop,
}

/// Parse one request line.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let rest: Vec<&str> = words.collect();
    let no_args = |r: Request| {
        if rest.is_empty() {
            Ok(r)
        } else {
            Err(format!("`{cmd}` takes no arguments"))
        }
    };
    match cmd {
        "stats" => no_args(Request::Stats),
        "reload" => no_args(Request::Reload),
        "stop" => no_args(Request::Stop),
        "ss" => match rest.as_slice() {
            [] => Ok(Request::Ss(StateFilter::ALL)),
            [filter] => StateFilter::parse(filter).map(Request::Ss),
            _ => Err("`ss` takes one state filter (e.g. `ss time-wait`)".to_owned()),
        },
        "" => Err("empty request; send one of: stats, ss [STATE], reload, stop".to_owned()),
        other => Err(format!(
            "unknown request {other:?}; send one of: stats, ss [STATE], reload, stop"
        )),
    }
}

/// What a reload changes: keys applied at once, and keys that only take
/// effect after a restart (they keep their old value until then).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    pub live: Vec<String>,
    pub restart: Vec<String>,
}

macro_rules! diff_fields {
    ($out:expr, $old:expr, $new:expr, $table:literal, [$($field:ident),* $(,)?]) => {
        $(if $old.$field != $new.$field {
            $out.push(concat!($table, ".", stringify!($field)).to_owned());
        })*
    };
}

/// Compare two configurations key by key. Live: `[http]` (but `port`),
/// `[tcp]` settings of new connections, `max_connections`,
/// `reset_timedout_connection`, `[log] level`, `[status]`,
/// `[control] shutdown_timeout`. Restart: `[net]` (TAP, addresses, MTU,
/// pcap), `http.port`, the listener's queues (`backlog`, `syn_backlog`,
/// `syncookies`, `abort_on_overflow`), `max_tw_buckets`,
/// `[control] socket`, `[trace]`.
pub fn reload_plan(old: &Config, new: &Config) -> ReloadPlan {
    let mut live = Vec::new();
    let mut restart = Vec::new();
    let (o, n) = (&old.http, &new.http);
    diff_fields!(
        live,
        o,
        n,
        "http",
        [
            root,
            site,
            keepalive_timeout,
            keepalive_requests,
            header_timeout,
            send_timeout,
            max_request_line,
            max_header_size,
            max_headers,
            max_body_size,
            access_log,
        ]
    );
    diff_fields!(restart, o, n, "http", [port]);
    let (o, n) = (&old.tcp, &new.tcp);
    diff_fields!(
        live,
        o,
        n,
        "tcp",
        [
            recv_buffer,
            send_buffer,
            nodelay,
            delayed_ack,
            rto_min,
            retries2,
            synack_retries,
            msl,
            fin_timeout,
            max_connections,
            congestion,
            window_scaling,
            timestamps,
            sack,
            challenge_ack_limit,
            keepalive,
            keepalive_time,
            keepalive_intvl,
            keepalive_probes,
            orphan_retries,
            rfc1337,
            reset_timedout_connection,
        ]
    );
    diff_fields!(
        restart,
        o,
        n,
        "tcp",
        [
            backlog,
            syn_backlog,
            syncookies,
            abort_on_overflow,
            max_tw_buckets,
        ]
    );
    diff_fields!(
        restart,
        old.net,
        new.net,
        "net",
        [tap, host_addr, addr, mtu, gateway]
    );
    diff_fields!(live, old.log, new.log, "log", [level]);
    let (o, n) = (&old.observe, &new.observe);
    diff_fields!(live, o.status, n.status, "status", [enabled, path, allow]);
    diff_fields!(live, o.control, n.control, "control", [shutdown_timeout]);
    diff_fields!(restart, o.control, n.control, "control", [socket]);
    diff_fields!(restart, o.trace, n.trace, "trace", [connections]);
    if o.pcap.path != n.pcap.path {
        restart.push("net.pcap".to_owned());
    }
    if o.pcap.max_bytes != n.pcap.max_bytes {
        restart.push("net.pcap_max_bytes".to_owned());
    }
    ReloadPlan { live, restart }
}

impl ReloadPlan {
    /// The answer to `reload`.
    pub fn report(&self) -> String {
        let list = |keys: &[String]| {
            if keys.is_empty() {
                "none".to_owned()
            } else {
                keys.join(", ")
            }
        };
        format!(
            "reloaded\napplied: {}\nneeds restart (old value kept): {}\n",
            list(&self.live),
            list(&self.restart)
        )
    }
}

/// Identifies a client waiting for the driver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientId(usize);

#[derive(Debug)]
enum Job {
    /// Reading the request line.
    Request,
    /// Streaming a table.
    Table(TableCursor),
    /// The driver is preparing the answer.
    Waiting,
    /// Write what is buffered, then close.
    Flush,
}

#[derive(Debug)]
struct Client {
    stream: UnixStream,
    input: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    job: Job,
}

/// The listening control socket and its clients (see the module docs).
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    base: usize,
    clients: Slab<Client>,
}

impl ControlServer {
    /// Bind `path` (creating its directory; replacing a stale socket, but
    /// not one a live server answers on), mode 0600, and register it with
    /// tokens from `base` up.
    pub fn bind(path: &Path, registry: &Registry, base: usize) -> io::Result<ControlServer> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running server", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let mut listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        registry.register(&mut listener, Token(base), Interest::READABLE)?;
        Ok(ControlServer {
            listener,
            path: path.to_owned(),
            base,
            clients: Slab::new(),
        })
    }

    /// Whether `token` is the listener's or a client's.
    pub fn owns(&self, token: Token) -> bool {
        token.0 >= self.base && token.0 <= self.base + MAX_CLIENTS
    }

    /// React to readiness on `token`. Returns requests the driver must
    /// answer with [`ControlServer::reply`] (stats, reload, stop); tables
    /// are served here from `iface`.
    pub fn handle(
        &mut self,
        token: Token,
        registry: &Registry,
        iface: &Interface,
        now: Instant,
        addr: Ipv4Addr,
    ) -> Vec<(ClientId, Request)> {
        let mut asks = Vec::new();
        if token.0 == self.base {
            self.accept(registry);
            return asks;
        }
        let key = token.0 - self.base - 1;
        if let Some(req) = self.pump(key, registry, iface, now, addr) {
            asks.push((ClientId(key), req));
        }
        asks
    }

    fn accept(&mut self, registry: &Registry) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    if self.clients.len() >= MAX_CLIENTS {
                        // A client that never sent its request gives way.
                        let idle = self
                            .clients
                            .iter()
                            .find(|(_, c)| matches!(c.job, Job::Request))
                            .map(|(k, _)| k);
                        match idle {
                            Some(key) => self.remove(key, registry),
                            None => {
                                let _ = stream.write(b"error: too many control clients\n");
                                continue;
                            }
                        }
                    }
                    let entry = self.clients.vacant_entry();
                    let token = Token(self.base + 1 + entry.key());
                    if let Err(e) = registry.register(
                        &mut stream,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        warn!(error = %e, "control client not registered");
                        continue;
                    }
                    entry.insert(Client {
                        stream,
                        input: Vec::new(),
                        out: Vec::new(),
                        sent: 0,
                        job: Job::Request,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    warn!(error = %e, "control accept failed");
                    return;
                }
            }
        }
    }

    /// Send `text` to a waiting client, then close it.
    pub fn reply(&mut self, id: ClientId, text: &str, registry: &Registry) {
        if let Some(c) = self.clients.get_mut(id.0) {
            c.out.extend_from_slice(text.as_bytes());
            c.job = Job::Flush;
        }
        // Nothing to fill: an empty interface is enough.
        self.drive(id.0, registry, None, Instant::ZERO, Ipv4Addr::UNSPECIFIED);
    }

    /// Read, parse, write: everything that can happen without blocking.
    fn pump(
        &mut self,
        key: usize,
        registry: &Registry,
        iface: &Interface,
        now: Instant,
        addr: Ipv4Addr,
    ) -> Option<Request> {
        let c = self.clients.get_mut(key)?;
        if matches!(c.job, Job::Request) {
            let mut buf = [0u8; 512];
            let mut eof = false;
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => c.input.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        self.remove(key, registry);
                        return None;
                    }
                }
                if c.input.len() > MAX_REQUEST {
                    break;
                }
            }
            let line_end = c.input.iter().position(|&b| b == b'\n');
            if line_end.is_none() && !eof && c.input.len() <= MAX_REQUEST {
                return None;
            }
            let line = &c.input[..line_end.unwrap_or(c.input.len())];
            let parsed = if c.input.len() > MAX_REQUEST && line_end.is_none() {
                Err(format!("request longer than {MAX_REQUEST} bytes"))
            } else {
                std::str::from_utf8(line)
                    .map_err(|_| "request is not UTF-8".to_owned())
                    .and_then(parse_request)
            };
            debug!(request = ?parsed, "control request");
            match parsed {
                Ok(Request::Ss(filter)) => c.job = Job::Table(TableCursor::new(filter, addr)),
                Ok(req) => {
                    c.job = Job::Waiting;
                    return Some(req);
                }
                Err(e) => {
                    c.out.extend_from_slice(format!("error: {e}\n").as_bytes());
                    c.job = Job::Flush;
                }
            }
        }
        self.drive(key, registry, Some(iface), now, addr);
        None
    }

    /// Write what is buffered; refill tables while the client keeps up;
    /// close when done or on error.
    fn drive(
        &mut self,
        key: usize,
        registry: &Registry,
        iface: Option<&Interface>,
        now: Instant,
        _addr: Ipv4Addr,
    ) {
        let Some(c) = self.clients.get_mut(key) else {
            return;
        };
        loop {
            while c.sent < c.out.len() {
                match c.stream.write(&c.out[c.sent..]) {
                    Ok(0) => return self.remove(key, registry),
                    Ok(n) => c.sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return self.remove(key, registry),
                }
            }
            c.out.clear();
            c.sent = 0;
            match (&mut c.job, iface) {
                (Job::Table(cursor), Some(iface)) if !cursor.done() => {
                    cursor.fill(iface, now, &mut c.out, ROWS_PER_FILL);
                }
                (Job::Table(cursor), _) if cursor.done() => return self.remove(key, registry),
                (Job::Flush, _) => return self.remove(key, registry),
                _ => return,
            }
        }
    }

    fn remove(&mut self, key: usize, registry: &Registry) {
        if let Some(mut c) = self.clients.try_remove(key) {
            let _ = registry.deregister(&mut c.stream);
        }
    }

    /// Remove the socket file (at exit).
    pub fn unlink(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        assert_eq!(parse_request("stats\n"), Ok(Request::Stats));
        assert_eq!(parse_request(" reload "), Ok(Request::Reload));
        assert_eq!(parse_request("stop"), Ok(Request::Stop));
        assert_eq!(parse_request("ss"), Ok(Request::Ss(StateFilter::ALL)));
        assert_eq!(
            parse_request("ss time-wait"),
            Ok(Request::Ss(StateFilter::parse("time-wait").unwrap()))
        );
        assert!(parse_request("ss bogus")
            .unwrap_err()
            .contains("unknown state"));
        assert!(parse_request("ss a b").is_err());
        assert!(parse_request("stats now")
            .unwrap_err()
            .contains("takes no arguments"));
        assert!(parse_request("").unwrap_err().contains("empty request"));
        assert!(parse_request("halt")
            .unwrap_err()
            .contains("unknown request \"halt\""));
    }

    /// A real socket and poll loop: requests are parsed, a table of
    /// thousands of rows streams to a client that reads slowly, replies
    /// reach waiting clients, bad requests get `error:`.
    #[test]
    fn server_streams_tables_and_answers_requests() {
        use netstack::iface::{InterfaceConfig, ListenConfig};
        use netstack::tcp::SocketAddr;
        use netstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};
        use std::io::{Read, Write};
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/ctl.sock");
        let mut poll = mio::Poll::new().unwrap();
        let mut server = ControlServer::bind(&path, poll.registry(), 100).unwrap();
        assert!(
            ControlServer::bind(&path, poll.registry(), 200).is_err(),
            "a live socket is not taken over"
        );
        let mut iface = Interface::new(InterfaceConfig::new(
            EthernetAddress([2, 0, 0, 0, 0, 2]),
            Ipv4Cidr::new(Ipv4Address([10, 7, 0, 2]), 24),
        ));
        iface.listen_with(80, ListenConfig::new(8, 8)).unwrap();
        for i in 0..3000u32 {
            let remote = SocketAddr::new(
                Ipv4Address([10, 7, 0, 1 + (i / 20000) as u8]),
                1 + (i % 20000) as u16,
            );
            iface.connect(Instant::ZERO, remote).unwrap();
        }
        let client = |line: &'static str, slow: bool| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
                s.write_all(line.as_bytes()).unwrap();
                let mut out = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf[..n]);
                    if slow {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
                String::from_utf8(out).unwrap()
            })
        };
        let table = client("ss all\n", true);
        let stats = client("stats\n", false);
        let bad = client("frobnicate\n", false);
        let mut events = mio::Events::with_capacity(64);
        let mut answered = 0;
        // At most 1000 turns of 20 ms (no clock reads outside the driver).
        let mut turns = 0;
        while !(table.is_finished() && stats.is_finished() && bad.is_finished()) {
            turns += 1;
            assert!(turns < 1000, "control clients did not finish");
            poll.poll(&mut events, Some(Duration::from_millis(20)))
                .unwrap();
            for e in events.iter() {
                assert!(server.owns(e.token()));
                for (id, req) in server.handle(
                    e.token(),
                    poll.registry(),
                    &iface,
                    Instant::ZERO,
                    Ipv4Addr::new(10, 7, 0, 2),
                ) {
                    assert_eq!(req, Request::Stats);
                    server.reply(id, "Tcp:\n    InSegs 1\n", poll.registry());
                    answered += 1;
                }
            }
        }
        let table = table.join().unwrap();
        assert_eq!(table.lines().count(), 1 + 1 + 3000);
        assert!(table.lines().nth(1).unwrap().starts_with("LISTEN"));
        assert_eq!(table.matches("SYN-SENT").count(), 3000);
        assert_eq!(stats.join().unwrap(), "Tcp:\n    InSegs 1\n");
        assert!(bad
            .join()
            .unwrap()
            .starts_with("error: unknown request \"frobnicate\""));
        assert_eq!(answered, 1);
        assert!(server.clients.is_empty(), "every client was closed");
        server.unlink();
        assert!(!path.exists());
    }

    fn config(text: &str) -> Config {
        let text = format!("[http]\nroot = {:?}\n{text}", env!("CARGO_MANIFEST_DIR"));
        Config::from_str(&text, Path::new("/x/tapir.toml")).unwrap()
    }

    #[test]
    fn reload_plan_splits_live_and_restart_keys() {
        let old = config("");
        assert_eq!(reload_plan(&old, &old), ReloadPlan::default());
        let new = config(
            "keepalive_requests = 5\nport = 8080\n[tcp]\nnodelay = true\nbacklog = 8\n\
             [log]\nlevel = \"debug\"\n[net]\nmtu = 9000\npcap = \"x.pcap\"\n",
        );
        let plan = reload_plan(&old, &new);
        assert_eq!(
            plan.live,
            ["http.keepalive_requests", "tcp.nodelay", "log.level"]
        );
        assert_eq!(
            plan.restart,
            ["http.port", "tcp.backlog", "net.mtu", "net.pcap"]
        );
        let report = plan.report();
        assert!(report
            .starts_with("reloaded\napplied: http.keepalive_requests, tcp.nodelay, log.level\n"));
        assert!(report.ends_with(
            "needs restart (old value kept): http.port, tcp.backlog, net.mtu, net.pcap\n"
        ));
        assert_eq!(
            ReloadPlan::default().report(),
            "reloaded\napplied: none\nneeds restart (old value kept): none\n"
        );
    }
}
