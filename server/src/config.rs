//! The configuration file: `tapir --config PATH`.
//!
//! Job: read a TOML file into the typed [`Config`] the rest of the server
//! uses, filling every missing table and key with its default, and reject
//! anything else with an error an operator can act on.
//!
//! Contract:
//! - Every table (`[net]`, `[http]`, `[http2]`, `[tcp]`, `[log]`,
//!   `[control]`, `[status]`, `[trace]`) and every key is optional;
//!   `conf/tapir.toml` documents each key and its default. `[tls]` is
//!   optional too, but its absence means something: no TLS listener (an
//!   empty `[tls]` table serves HTTPS on 443 with a generated self-signed
//!   certificate).
//! - Unknown keys, wrong types and bad values are errors. Their `Display` is
//!   `PATH:LINE: key `table.key`: what is wrong`, where LINE is the line of
//!   the offending key or value. A semantic error about a key the file does
//!   not set (a default that does not fit) has no line: `PATH: key `...`: ...`.
//! - Relative paths (`http.root`) are relative to the directory holding the
//!   configuration file; `root` is resolved to an absolute path and must be
//!   an existing directory when the configuration is loaded.
//! - Durations are strings with a unit, as humantime reads them: `"40ms"`,
//!   `"15s"`, `"2h"`, `"1m 30s"`.
//!
//! Loading is the only I/O here: reading the file and checking `root`.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use netstack::iface::SynCookies;
use netstack::tcp::{CongestionAlgorithm, TcpConfig};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use toml::Spanned;

mod observe;

pub use observe::{
    ControlConfig, ObserveConfig, PcapConfig, StatusConfig, TraceConfig, DEFAULT_CONTROL_SOCKET,
};

use crate::conn::h1::{H1Settings, MAX_HEADERS_LIMIT};
use crate::respond::{CacheRule, Expiry, FollowSymlinks, Redirect, SiteOptions};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it came from (as given on the command line).
    pub path: PathBuf,
    /// `[net]`: the TAP device and tapir's address on it.
    pub net: NetConfig,
    /// `[http]`: the web server.
    pub http: HttpConfig,
    /// `[tcp]`: the user-space TCP stack.
    pub tcp: TcpKeys,
    /// `[log]`: tracing output.
    pub log: LogConfig,
    /// `[control]`, `[status]`, `[trace]`, `[net] pcap`: observability.
    pub observe: ObserveConfig,
    /// `[tls]`: the HTTPS listener; `None` if the table is absent.
    pub tls: Option<TlsKeys>,
    /// `[http2]`: HTTP/2 limits (over TLS and h2c).
    pub http2: Http2Keys,
}

/// `[tls]`: an HTTPS listener beside the plain one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsKeys {
    /// TCP port of the TLS listener (`port`, default 443).
    pub port: u16,
    /// PEM certificate chain and PEM private key (`cert`, `key`): both or
    /// neither; neither means a self-signed certificate generated at
    /// start-up for `net.addr` and `localhost`.
    pub cert_key: Option<(PathBuf, PathBuf)>,
    /// More certificates chosen by SNI (`[[tls.sni]]` with `name`, `cert`,
    /// `key`); a client naming none of them gets the default one.
    pub sni: Vec<SniCert>,
    /// Answer plain-port requests with 301 to `https://` (`redirect_http`,
    /// default false).
    pub redirect_http: bool,
}

/// One `[[tls.sni]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniCert {
    /// The server name (lower-case DNS name) this certificate is for.
    pub name: String,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// `[http2]`: limits of the HTTP/2 connections (RFC 9113 §6.5.2 settings we
/// advertise and the `h2` crate's abuse limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Keys {
    /// Detect the HTTP/2 preface on the plain port (h2c with prior
    /// knowledge, RFC 9113 §3.3) (`h2c`, default true).
    pub h2c: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS (`max_concurrent_streams`, 128).
    pub max_concurrent_streams: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE in bytes (`max_header_list_size`,
    /// 16 KiB): bounds what HPACK may expand to (HPACK bomb).
    pub max_header_list_size: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE for request bodies
    /// (`initial_window_size`, 65535, the RFC default).
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE we accept (`max_frame_size`, 16384).
    pub max_frame_size: u32,
    /// Streams the peer may reset before we accept them, then GOAWAY
    /// (`max_pending_accept_reset_streams`, 20: Rapid Reset).
    pub max_pending_accept_reset_streams: usize,
    /// Streams we may reset for the peer's errors, then GOAWAY
    /// (`max_local_error_reset_streams`, 1024).
    pub max_local_error_reset_streams: usize,
    /// A connection with no response to send for this long gets GOAWAY and
    /// is closed (`idle_timeout`, 3 min, nginx's `http2_idle_timeout`).
    pub idle_timeout: Duration,
}

impl Default for Http2Keys {
    fn default() -> Http2Keys {
        Http2Keys {
            h2c: true,
            max_concurrent_streams: 128,
            max_header_list_size: 16 * 1024,
            initial_window_size: 65_535,
            max_frame_size: 16_384,
            max_pending_accept_reset_streams: 20,
            max_local_error_reset_streams: 1024,
            idle_timeout: Duration::from_secs(180),
        }
    }
}

/// `[net]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// TAP interface name (`tap`, default `"tap0"`).
    pub tap: String,
    /// The host side's address and prefix length (`host_addr`, default
    /// `"10.7.0.1/24"`): assigned to the TAP interface in the kernel.
    pub host_addr: (Ipv4Addr, u8),
    /// tapir's own address (`addr`, default `"10.7.0.2"`), inside
    /// `host_addr`'s subnet.
    pub addr: Ipv4Addr,
    /// Link MTU in bytes (`mtu`, default 1500, 576..=9000).
    pub mtu: u16,
    /// Next hop for off-subnet destinations (`gateway`, default the address
    /// in `host_addr`).
    pub gateway: Option<Ipv4Addr>,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// TCP port to listen on (`port`, default 80).
    pub port: u16,
    /// Document root, absolute and canonical (`root`, default `"www"`).
    pub root: PathBuf,
    /// How files are served: `index`, `autoindex`, `serve_dotfiles`,
    /// `follow_symlinks`, `expires`, `gzip`, `gzip_min_length`,
    /// `gzip_static`, `[[http.cache]]`, `[[http.redirect]]`,
    /// `[http.error_page]` (defaults: [`SiteOptions::default`]).
    pub site: SiteOptions,
    /// Idle time allowed between keep-alive requests (`keepalive_timeout`,
    /// default 15 s; `"0s"` turns keep-alive off).
    pub keepalive_timeout: Duration,
    /// Requests served on one connection before closing it
    /// (`keepalive_requests`, default 1000).
    pub keepalive_requests: u32,
    /// Time allowed to receive a request's header section
    /// (`header_timeout`, default 60 s; nginx's `client_header_timeout`).
    pub header_timeout: Duration,
    /// A response making no write progress for this long is aborted
    /// (`send_timeout`, default 60 s; nginx's key).
    pub send_timeout: Duration,
    /// Longest request line in bytes; longer is 414 (`max_request_line`,
    /// default 8 KiB; nginx's `large_client_header_buffers` size).
    pub max_request_line: usize,
    /// Largest request header section in bytes; larger is 431
    /// (`max_header_size`, default 32 KiB; nginx's 4 × 8k buffers).
    pub max_header_size: usize,
    /// Most header fields in a request; more is 431 (`max_headers`,
    /// default 100).
    pub max_headers: usize,
    /// Largest request body in bytes, 0 for no limit; larger is 413
    /// (`max_body_size`, default 1 MiB; nginx's `client_max_body_size`).
    pub max_body_size: u64,
    /// Where the access log goes (`access_log`, default off).
    pub access_log: AccessLogTarget,
}

/// `http.access_log`: `"off"`, `"stdout"` or a file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// No access log.
    Off,
    /// Standard output.
    Stdout,
    /// Appended to this file (absolute; relative paths are resolved against
    /// the configuration file's directory), reopened on SIGUSR1.
    File(PathBuf),
}

/// `[tcp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpKeys {
    /// Receive buffer per connection in bytes (`recv_buffer`, default 262144).
    pub recv_buffer: usize,
    /// Send buffer per connection in bytes (`send_buffer`, default 262144).
    pub send_buffer: usize,
    /// Disable Nagle's algorithm (`nodelay`, default false).
    pub nodelay: bool,
    /// Delayed-ACK timer (`delayed_ack`, default 40 ms).
    pub delayed_ack: Duration,
    /// Lower bound of the retransmission timeout (`rto_min`, default 200 ms).
    pub rto_min: Duration,
    /// Retransmissions of data before giving up (`retries2`, default 15).
    pub retries2: u32,
    /// SYN-ACK retransmissions (`synack_retries`, default 5).
    pub synack_retries: u32,
    /// Maximum segment lifetime; TIME-WAIT lasts 2×MSL (`msl`, default 30 s).
    pub msl: Duration,
    /// FIN-WAIT-2 timeout (`fin_timeout`, default 60 s).
    pub fin_timeout: Duration,
    /// Accept queue length (`backlog`, default 511).
    pub backlog: usize,
    /// Half-open (SYN-RECEIVED) queue length (`syn_backlog`, default 1024).
    pub syn_backlog: usize,
    /// SYN cookies (`syncookies`, default auto).
    pub syncookies: SynCookies,
    /// RST the handshake's final ACK when the accept queue is full
    /// (`abort_on_overflow`, default false).
    pub abort_on_overflow: bool,
    /// Established connections the server serves at once
    /// (`max_connections`, default 65536).
    pub max_connections: usize,
    /// TIME-WAIT entries kept (`max_tw_buckets`, default 262144).
    pub max_tw_buckets: usize,
    /// Congestion control (`congestion`, default cubic).
    pub congestion: CongestionAlgorithm,
    /// RFC 7323 window scaling, timestamps; RFC 2018 SACK (default on).
    pub window_scaling: bool,
    pub timestamps: bool,
    pub sack: bool,
    /// Challenge ACKs per second per connection (`challenge_ack_limit`,
    /// default 1000).
    pub challenge_ack_limit: u32,
    /// Keepalive probing (`keepalive`, default false) and its timing.
    pub keepalive: bool,
    pub keepalive_time: Duration,
    pub keepalive_intvl: Duration,
    pub keepalive_probes: u32,
    /// FIN retransmissions after the server let go (`orphan_retries`,
    /// default 8).
    pub orphan_retries: u32,
    /// Ignore RSTs in TIME-WAIT (`rfc1337`, default true).
    pub rfc1337: bool,
    /// RST instead of FIN for connections closed on a timeout
    /// (`reset_timedout_connection`, default false; nginx's key).
    pub reset_timedout_connection: bool,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A tracing `EnvFilter` directive (`level`, default `"info"`);
    /// `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        NetConfig {
            tap: "tap0".to_owned(),
            host_addr: (Ipv4Addr::new(10, 7, 0, 1), 24),
            addr: Ipv4Addr::new(10, 7, 0, 2),
            mtu: 1500,
            gateway: None,
        }
    }
}

impl Default for TcpKeys {
    /// The stack's own defaults ([`TcpConfig::default`]) for the per-connection
    /// keys, so the two cannot drift apart; the listener and server keys are
    /// set here.
    fn default() -> TcpKeys {
        let tcp = TcpConfig::default();
        TcpKeys {
            recv_buffer: tcp.recv_buffer,
            send_buffer: tcp.send_buffer,
            nodelay: tcp.nodelay,
            delayed_ack: tcp.delayed_ack,
            rto_min: tcp.rto_min,
            retries2: tcp.retries2,
            synack_retries: tcp.synack_retries,
            msl: tcp.msl,
            fin_timeout: tcp.fin_timeout,
            backlog: 511,
            syn_backlog: 1024,
            syncookies: SynCookies::Auto,
            abort_on_overflow: false,
            max_connections: 65_536,
            max_tw_buckets: 262_144,
            congestion: tcp.congestion,
            window_scaling: tcp.window_scaling,
            timestamps: tcp.timestamps,
            sack: tcp.sack,
            challenge_ack_limit: tcp.challenge_ack_limit,
            keepalive: tcp.keepalive,
            keepalive_time: tcp.keepalive_time,
            keepalive_intvl: tcp.keepalive_intvl,
            keepalive_probes: tcp.keepalive_probes,
            orphan_retries: tcp.orphan_retries,
            rfc1337: tcp.rfc1337,
            reset_timedout_connection: false,
        }
    }
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            level: "info".to_owned(),
        }
    }
}

/// Default `http.root`, relative to the configuration file's directory.
pub const DEFAULT_ROOT: &str = "www";
/// Smallest accepted `net.mtu`: the IPv4 minimum datagram size every host
/// must accept (RFC 791).
pub const MTU_MIN: u16 = 576;
/// Largest accepted `net.mtu`: a common jumbo-frame size.
pub const MTU_MAX: u16 = 9000;
/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const TAP_NAME_MAX: usize = 15;
/// Smallest accepted socket buffer.
pub const TCP_BUFFER_MIN: usize = 1024;
/// Largest accepted socket buffer: the largest window RFC 7323 window
/// scaling can advertise (2^30 bytes).
pub const TCP_BUFFER_MAX: usize = 1 << 30;
/// Bounds of `http.max_header_size`: a head must fit a request line and a
/// few fields; the upper bound caps what one slow client can make us buffer.
pub const HEADER_SIZE_MIN: u64 = 1024;
pub const HEADER_SIZE_MAX: u64 = 1024 * 1024;
/// Smallest accepted `http.max_request_line`.
pub const REQUEST_LINE_MIN: u64 = 256;
/// Upper bound of `http2.max_concurrent_streams`.
pub const MAX_STREAMS_LIMIT: u32 = 10_000;
/// RFC 1122 §4.2.3.2: an ACK must not be delayed by more than 0.5 s.
pub const DELAYED_ACK_MAX: Duration = Duration::from_millis(500);

/// Why a configuration could not be loaded. The server refuses to start.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error's kind.
        kind: io::ErrorKind,
        /// The I/O error's text.
        message: String,
    },
    /// The text is not TOML (bad syntax, duplicate keys).
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// What the parser expected.
        message: String,
    },
    /// A key is unknown, has the wrong type, or a value that does not fit.
    Key {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key or value; `None` if the file does not set
        /// the key and its default is what does not fit.
        line: Option<usize>,
        /// Dotted key, e.g. `http.port`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, message, .. } => {
                write!(
                    f,
                    "{}: cannot read configuration: {message}",
                    path.display()
                )
            }
            ConfigError::Syntax {
                path,
                line,
                message,
            } => {
                write!(f, "{}:{line}: invalid TOML: {message}", path.display())
            }
            ConfigError::Key {
                path,
                line: Some(line),
                key,
                message,
            } => {
                write!(f, "{}:{line}: key `{key}`: {message}", path.display())
            }
            ConfigError::Key {
                path,
                line: None,
                key,
                message,
            } => {
                write!(f, "{}: key `{key}`: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and checks the file at `path`. Call once at start-up.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            kind: e.kind(),
            message: e.to_string(),
        })?;
        Config::from_str(&text, path)
    }

    /// Parses and checks `text` as if read from `path`: `path` names the
    /// file in errors and its directory anchors relative paths.
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_path_to_error::deserialize(toml::Deserializer::new(text))
            .map_err(|e| serde_error(text, path, e))?;
        Checker { text, path }.check(raw)
    }
}

/// Turns a deserialisation error into a [`ConfigError`] naming line and key.
fn serde_error(
    text: &str,
    path: &Path,
    err: serde_path_to_error::Error<toml::de::Error>,
) -> ConfigError {
    // `toml::Spanned` shows up in the path as private field names; drop them.
    let mut key = String::new();
    for seg in err.path().iter().map(|seg| seg.to_string()) {
        if seg.starts_with("$__") {
            continue;
        }
        // Array elements read `http.redirect[0]`, not `http.redirect.[0]`.
        if !key.is_empty() && !seg.starts_with('[') {
            key.push('.');
        }
        key.push_str(&seg);
    }
    let inner = err.into_inner();
    let line = inner.span().map_or(1, |span| line_of(text, span.start));
    let message = inner.message().trim().replace('\n', ": ");
    if key.is_empty() || key == "?" {
        return ConfigError::Syntax {
            path: path.to_owned(),
            line,
            message,
        };
    }
    let message = match message.strip_prefix("unknown field ") {
        Some(rest) => format!("unknown key {rest}"),
        None => message,
    };
    ConfigError::Key {
        path: path.to_owned(),
        line: Some(line),
        key,
        message,
    }
}

/// 1-based line number of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    let end = at.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

// ---------------------------------------------------------------------------
// The file as written: every leaf optional and spanned, so semantic checks
// can name the line.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    net: RawNet,
    http: RawHttp,
    tcp: RawTcp,
    log: RawLog,
    control: observe::RawControl,
    status: observe::RawStatus,
    trace: observe::RawTrace,
    tls: Option<RawTls>,
    http2: RawHttp2,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTls {
    port: Opt<u16>,
    cert: Opt<PathBuf>,
    key: Opt<PathBuf>,
    redirect_http: Opt<bool>,
    sni: Vec<RawSni>,
}

/// One `[[tls.sni]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSni {
    name: Spanned<String>,
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawHttp2 {
    h2c: Opt<bool>,
    max_concurrent_streams: Opt<u32>,
    max_header_list_size: Opt<Size>,
    initial_window_size: Opt<u32>,
    max_frame_size: Opt<u32>,
    max_pending_accept_reset_streams: Opt<usize>,
    max_local_error_reset_streams: Opt<usize>,
    idle_timeout: Opt<Dur>,
}

type Opt<T> = Option<Spanned<T>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawNet {
    tap: Opt<String>,
    host_addr: Opt<Cidr>,
    addr: Opt<Ipv4Addr>,
    mtu: Opt<u16>,
    gateway: Opt<Ipv4Addr>,
    pcap: Opt<String>,
    pcap_max_bytes: Opt<Size>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    port: Opt<u16>,
    root: Opt<PathBuf>,
    index: Opt<Vec<String>>,
    autoindex: Opt<bool>,
    serve_dotfiles: Opt<bool>,
    follow_symlinks: Opt<String>,
    expires: Opt<String>,
    gzip: Opt<bool>,
    gzip_min_length: Opt<u64>,
    gzip_static: Opt<bool>,
    cache: Vec<RawCacheRule>,
    redirect: Vec<RawRedirect>,
    error_page: BTreeMap<String, Spanned<String>>,
    keepalive_timeout: Opt<Dur>,
    keepalive_requests: Opt<u32>,
    header_timeout: Opt<Dur>,
    send_timeout: Opt<Dur>,
    max_request_line: Opt<Size>,
    max_header_size: Opt<Size>,
    max_headers: Opt<usize>,
    max_body_size: Opt<Size>,
    access_log: Opt<String>,
}

/// One `[[http.cache]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCacheRule {
    #[serde(rename = "match")]
    pattern: Spanned<String>,
    max_age: Spanned<String>,
}

/// One `[[http.redirect]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedirect {
    from: Spanned<String>,
    to: Spanned<String>,
    status: Opt<u16>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTcp {
    recv_buffer: Opt<usize>,
    send_buffer: Opt<usize>,
    nodelay: Opt<bool>,
    delayed_ack: Opt<Dur>,
    rto_min: Opt<Dur>,
    retries2: Opt<u32>,
    synack_retries: Opt<u32>,
    msl: Opt<Dur>,
    fin_timeout: Opt<Dur>,
    backlog: Opt<usize>,
    syn_backlog: Opt<usize>,
    syncookies: Opt<String>,
    abort_on_overflow: Opt<bool>,
    max_connections: Opt<usize>,
    max_tw_buckets: Opt<usize>,
    congestion: Opt<String>,
    window_scaling: Opt<bool>,
    timestamps: Opt<bool>,
    sack: Opt<bool>,
    challenge_ack_limit: Opt<u32>,
    keepalive: Opt<bool>,
    keepalive_time: Opt<Dur>,
    keepalive_intvl: Opt<Dur>,
    keepalive_probes: Opt<u32>,
    orphan_retries: Opt<u32>,
    rfc1337: Opt<bool>,
    reset_timedout_connection: Opt<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    level: Opt<String>,
}

/// A duration written with a unit (`"15s"`), read by humantime.
#[derive(Debug, Clone, Copy)]
struct Dur(Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, like \"15s\", \"40ms\" or \"2h\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                humantime::parse_duration(s).map(Dur).map_err(|e| {
                    E::custom(format_args!(
                        "invalid duration {s:?} ({e}); write a number and a unit, \
                         like \"15s\", \"40ms\" or \"2h\""
                    ))
                })
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// A byte count: an integer, or a string with nginx's suffixes `"8k"`,
/// `"1m"`, `"1g"` (powers of 1024).
#[derive(Debug, Clone, Copy)]
struct Size(u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes, like 8192, \"8k\" or \"1m\"")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Size, E> {
                u64::try_from(n)
                    .map(Size)
                    .map_err(|_| E::custom(format_args!("size {n} is negative")))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Size, E> {
                Ok(Size(n))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Size, E> {
                parse_size(s).map(Size).ok_or_else(|| {
                    E::custom(format_args!(
                        "invalid size {s:?}; write bytes or a number with k, m or g, \
                         like \"8k\" or \"1m\""
                    ))
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `"1m"` → 1048576; `None` if not a number with an optional k/m/g suffix.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// An IPv4 address with a prefix length: `"10.7.0.1/24"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Cidr {
    fn mask(self) -> u32 {
        match self.prefix {
            0 => 0,
            p => u32::MAX << (32 - u32::from(p.min(32))),
        }
    }

    fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }

    /// The subnet's network or broadcast address (which no host may use),
    /// for prefixes that have them (RFC 3021: a /31 has neither).
    fn is_network_or_broadcast(self, ip: Ipv4Addr) -> bool {
        if self.prefix >= 31 {
            return false;
        }
        let host_bits = u32::from(ip) & !self.mask();
        host_bits == 0 || host_bits == !self.mask()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("expected ADDRESS/PREFIX like \"10.7.0.1/24\", got {s:?}");
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr = Ipv4Addr::from_str(addr).map_err(|_| bad())?;
        let prefix = u8::from_str(prefix).map_err(|_| bad())?;
        if !(1..=31).contains(&prefix) {
            return Err(format!("prefix length /{prefix} must be between 1 and 31"));
        }
        Ok(Cidr { addr, prefix })
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        Cidr::from_str(&s).map_err(de::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// Semantic checks after deserialising.

/// A value with the span it came from (`None`: the default).
struct Val<T> {
    value: T,
    span: Option<Range<usize>>,
}

impl<T> Val<T> {
    fn or(raw: Opt<T>, default: T) -> Val<T> {
        match raw {
            Some(s) => {
                let span = s.span();
                Val {
                    value: s.into_inner(),
                    span: Some(span),
                }
            }
            None => Val {
                value: default,
                span: None,
            },
        }
    }
}

fn dur_or(raw: Opt<Dur>, default: Duration) -> Val<Duration> {
    let v = Val::or(raw, Dur(default));
    Val {
        value: v.value.0,
        span: v.span,
    }
}

struct Checker<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Checker<'_> {
    fn err<T>(&self, key: &str, v: &Val<T>, message: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            path: self.path.to_owned(),
            line: v.span.as_ref().map(|s| line_of(self.text, s.start)),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// `Ok` if `ok`, otherwise an error about `key`.
    fn ensure<T>(
        &self,
        ok: bool,
        key: &str,
        v: &Val<T>,
        msg: impl Into<String>,
    ) -> Result<(), ConfigError> {
        if ok {
            Ok(())
        } else {
            Err(self.err(key, v, msg))
        }
    }

    fn check(&self, mut raw: RawConfig) -> Result<Config, ConfigError> {
        let (pcap, pcap_max_bytes) = (raw.net.pcap.take(), raw.net.pcap_max_bytes.take());
        let http = self.http(raw.http)?;
        let tls = match raw.tls {
            Some(t) => Some(self.tls(t, http.port)?),
            None => None,
        };
        Ok(Config {
            path: self.path.to_owned(),
            net: self.net(raw.net)?,
            http,
            tcp: self.tcp(raw.tcp)?,
            log: self.log(raw.log)?,
            observe: self.observe(pcap, pcap_max_bytes, raw.control, raw.status, raw.trace)?,
            tls,
            http2: self.http2(raw.http2)?,
        })
    }

    /// `[tls]`: files must exist and hold PEM of the right kind, so a bad
    /// path is reported here with its line rather than at start-up.
    fn tls(&self, raw: RawTls, http_port: u16) -> Result<TlsKeys, ConfigError> {
        let port = Val::or(raw.port, 443);
        self.ensure(
            port.value != 0,
            "tls.port",
            &port,
            "port 0 cannot be listened on",
        )?;
        self.ensure(
            port.value != http_port,
            "tls.port",
            &port,
            format!("{} is http.port already", port.value),
        )?;
        let redirect_http = Val::or(raw.redirect_http, false).value;
        let cert_key = match (raw.cert, raw.key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let cert = self.pem_file("tls.cert", spanned(cert), PemKind::Certs)?;
                let key = self.pem_file("tls.key", spanned(key), PemKind::Key)?;
                Some((cert, key))
            }
            (Some(c), None) => {
                return Err(self.err("tls.cert", &spanned(c), "needs tls.key beside it"))
            }
            (None, Some(k)) => {
                return Err(self.err("tls.key", &spanned(k), "needs tls.cert beside it"))
            }
        };
        let mut sni = Vec::new();
        for (i, e) in raw.sni.into_iter().enumerate() {
            let name = spanned(e.name);
            let n = &name.value;
            self.ensure(
                !n.is_empty()
                    && n.len() <= 253
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
                &format!("tls.sni[{i}].name"),
                &name,
                format!("{n:?} is not a DNS name"),
            )?;
            sni.push(SniCert {
                name: name.value.to_ascii_lowercase(),
                cert: self.pem_file(
                    &format!("tls.sni[{i}].cert"),
                    spanned(e.cert),
                    PemKind::Certs,
                )?,
                key: self.pem_file(&format!("tls.sni[{i}].key"), spanned(e.key), PemKind::Key)?,
            });
        }
        Ok(TlsKeys {
            port: port.value,
            cert_key,
            sni,
            redirect_http,
        })
    }

    /// Resolves a PEM file path and checks it holds what `kind` says.
    fn pem_file(&self, key: &str, v: Val<PathBuf>, kind: PemKind) -> Result<PathBuf, ConfigError> {
        let path = self.base_dir().join(&v.value);
        let bytes = std::fs::read(&path)
            .map_err(|e| self.err(key, &v, format!("cannot read {}: {e}", path.display())))?;
        let ok = match kind {
            PemKind::Certs => rustls_pemfile::certs(&mut &bytes[..])
                .collect::<Result<Vec<_>, _>>()
                .is_ok_and(|c| !c.is_empty()),
            PemKind::Key => matches!(rustls_pemfile::private_key(&mut &bytes[..]), Ok(Some(_))),
        };
        let what = match kind {
            PemKind::Certs => "no PEM certificate",
            PemKind::Key => "no PEM private key (PKCS#8, PKCS#1 or SEC1)",
        };
        self.ensure(ok, key, &v, format!("{} holds {what}", path.display()))?;
        Ok(path)
    }

    fn http2(&self, raw: RawHttp2) -> Result<Http2Keys, ConfigError> {
        let d = Http2Keys::default();
        let max_concurrent_streams = Val::or(raw.max_concurrent_streams, d.max_concurrent_streams);
        let list = Val::or(
            raw.max_header_list_size,
            Size(u64::from(d.max_header_list_size)),
        );
        let list = Val {
            value: list.value.0,
            span: list.span,
        };
        let window = Val::or(raw.initial_window_size, d.initial_window_size);
        let frame = Val::or(raw.max_frame_size, d.max_frame_size);
        let idle = dur_or(raw.idle_timeout, d.idle_timeout);
        self.ensure(
            (1..=MAX_STREAMS_LIMIT).contains(&max_concurrent_streams.value),
            "http2.max_concurrent_streams",
            &max_concurrent_streams,
            format!("must be between 1 and {MAX_STREAMS_LIMIT}"),
        )?;
        self.ensure(
            (1024..=HEADER_SIZE_MAX).contains(&list.value),
            "http2.max_header_list_size",
            &list,
            format!("must be between 1024 and {HEADER_SIZE_MAX} bytes"),
        )?;
        // RFC 9113 §6.5.2: windows up to 2^31-1, frames 2^14..=2^24-1.
        self.ensure(
            window.value < (1 << 31),
            "http2.initial_window_size",
            &window,
            "must be at most 2147483647 (RFC 9113 §6.5.2)",
        )?;
        self.ensure(
            ((1 << 14)..=(1 << 24) - 1).contains(&frame.value),
            "http2.max_frame_size",
            &frame,
            "must be between 16384 and 16777215 (RFC 9113 §6.5.2)",
        )?;
        self.ensure(
            !idle.value.is_zero(),
            "http2.idle_timeout",
            &idle,
            "must be longer than zero",
        )?;
        Ok(Http2Keys {
            h2c: Val::or(raw.h2c, d.h2c).value,
            max_concurrent_streams: max_concurrent_streams.value,
            max_header_list_size: u32::try_from(list.value).unwrap_or(u32::MAX),
            initial_window_size: window.value,
            max_frame_size: frame.value,
            max_pending_accept_reset_streams: Val::or(
                raw.max_pending_accept_reset_streams,
                d.max_pending_accept_reset_streams,
            )
            .value,
            max_local_error_reset_streams: Val::or(
                raw.max_local_error_reset_streams,
                d.max_local_error_reset_streams,
            )
            .value,
            idle_timeout: idle.value,
        })
    }

    fn net(&self, raw: RawNet) -> Result<NetConfig, ConfigError> {
        let d = NetConfig::default();
        let tap = Val::or(raw.tap, d.tap);
        let host = Val::or(
            raw.host_addr,
            Cidr {
                addr: d.host_addr.0,
                prefix: d.host_addr.1,
            },
        );
        let addr = Val::or(raw.addr, d.addr);
        let mtu = Val::or(raw.mtu, d.mtu);
        let gateway = raw.gateway.map(|g| Val::or(Some(g), Ipv4Addr::UNSPECIFIED));

        let name = &tap.value;
        self.ensure(
            !name.is_empty()
                && name.len() <= TAP_NAME_MAX
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':'),
            "net.tap",
            &tap,
            format!(
                "{name:?} is not a Linux interface name \
                 (1 to {TAP_NAME_MAX} printable characters, no '/' or ':')"
            ),
        )?;

        let h = host.value;
        self.ensure(
            !h.is_network_or_broadcast(h.addr),
            "net.host_addr",
            &host,
            format!("{} is the network or broadcast address of {h}", h.addr),
        )?;

        // Blame whichever of the two keys the file sets (addr if both).
        let (key, blame) = if addr.span.is_some() || host.span.is_none() {
            ("net.addr", &addr as &dyn Spannable)
        } else {
            ("net.host_addr", &host as &dyn Spannable)
        };
        let a = addr.value;
        let err = |msg: String| ConfigError::Key {
            path: self.path.to_owned(),
            line: blame.span().map(|s| line_of(self.text, s.start)),
            key: key.to_owned(),
            message: msg,
        };
        if !h.contains(a) {
            return Err(err(format!("{a} is outside host_addr's subnet {h}")));
        }
        if a == h.addr {
            return Err(err(format!(
                "{a} is host_addr's own address; tapir needs another one"
            )));
        }
        if h.is_network_or_broadcast(a) {
            return Err(err(format!(
                "{a} is the network or broadcast address of {h}"
            )));
        }

        self.ensure(
            (MTU_MIN..=MTU_MAX).contains(&mtu.value),
            "net.mtu",
            &mtu,
            format!("{} is outside {MTU_MIN}..={MTU_MAX}", mtu.value),
        )?;

        let gateway = match gateway {
            None => None,
            Some(g) => {
                self.ensure(
                    h.contains(g.value) && g.value != a,
                    "net.gateway",
                    &g,
                    format!("{} must be a neighbour inside {h} other than addr", g.value),
                )?;
                Some(g.value)
            }
        };
        Ok(NetConfig {
            tap: tap.value,
            host_addr: (h.addr, h.prefix),
            addr: a,
            mtu: mtu.value,
            gateway: gateway.or(Some(h.addr)),
        })
    }

    fn http(&self, mut raw: RawHttp) -> Result<HttpConfig, ConfigError> {
        let site = self.site(&mut raw)?;
        let port = Val::or(raw.port, 80);
        let root = Val::or(raw.root, PathBuf::from(DEFAULT_ROOT));
        let keepalive_timeout = dur_or(raw.keepalive_timeout, Duration::from_secs(15));
        let keepalive_requests = Val::or(raw.keepalive_requests, 1000);
        let header_timeout = dur_or(raw.header_timeout, Duration::from_secs(60));
        let h1 = H1Settings::default();
        let send_timeout = dur_or(raw.send_timeout, h1.send_timeout);
        let size_or = |raw: Opt<Size>, default: u64| {
            let v = Val::or(raw, Size(default));
            Val {
                value: v.value.0,
                span: v.span,
            }
        };
        let max_request_line = size_or(raw.max_request_line, h1.max_request_line as u64);
        let max_header_size = size_or(raw.max_header_size, h1.max_header_size as u64);
        let max_headers = Val::or(raw.max_headers, h1.max_headers);
        let max_body_size = size_or(raw.max_body_size, h1.max_body_size);
        let access_log = Val::or(raw.access_log, "off".to_owned());

        self.ensure(
            port.value != 0,
            "http.port",
            &port,
            "port 0 cannot be listened on",
        )?;
        self.ensure(
            keepalive_requests.value >= 1,
            "http.keepalive_requests",
            &keepalive_requests,
            "must be at least 1",
        )?;
        self.ensure(
            !header_timeout.value.is_zero(),
            "http.header_timeout",
            &header_timeout,
            "must be longer than zero",
        )?;
        self.ensure(
            !send_timeout.value.is_zero(),
            "http.send_timeout",
            &send_timeout,
            "must be longer than zero",
        )?;
        self.ensure(
            (HEADER_SIZE_MIN..=HEADER_SIZE_MAX).contains(&max_header_size.value),
            "http.max_header_size",
            &max_header_size,
            format!("must be between {HEADER_SIZE_MIN} and {HEADER_SIZE_MAX} bytes"),
        )?;
        self.ensure(
            (REQUEST_LINE_MIN..=max_header_size.value).contains(&max_request_line.value),
            "http.max_request_line",
            &max_request_line,
            format!(
                "must be between {REQUEST_LINE_MIN} bytes and max_header_size ({} bytes)",
                max_header_size.value
            ),
        )?;
        self.ensure(
            (1..=MAX_HEADERS_LIMIT as u64).contains(&(max_headers.value as u64)),
            "http.max_headers",
            &max_headers,
            format!("must be between 1 and {MAX_HEADERS_LIMIT}"),
        )?;
        let access_log_value = match access_log.value.as_str() {
            "off" => AccessLogTarget::Off,
            "stdout" => AccessLogTarget::Stdout,
            "" => {
                return Err(self.err(
                    "http.access_log",
                    &access_log,
                    "must be \"off\", \"stdout\" or a file path",
                ))
            }
            path => AccessLogTarget::File(self.base_dir().join(path)),
        };

        let joined = self.base_dir().join(&root.value);
        let resolved = std::fs::canonicalize(&joined).map_err(|e| {
            self.err(
                "http.root",
                &root,
                format!("cannot use {}: {e}", joined.display()),
            )
        })?;
        self.ensure(
            resolved.is_dir(),
            "http.root",
            &root,
            format!("{} is not a directory", resolved.display()),
        )?;

        Ok(HttpConfig {
            port: port.value,
            root: resolved,
            site,
            keepalive_timeout: keepalive_timeout.value,
            keepalive_requests: keepalive_requests.value,
            header_timeout: header_timeout.value,
            send_timeout: send_timeout.value,
            max_request_line: usize::try_from(max_request_line.value).unwrap_or(usize::MAX),
            max_header_size: usize::try_from(max_header_size.value).unwrap_or(usize::MAX),
            max_headers: max_headers.value,
            max_body_size: max_body_size.value,
            access_log: access_log_value,
        })
    }

    /// The directory relative paths in the file are relative to.
    fn base_dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    /// The `[http]` keys that shape responses ([`SiteOptions`]).
    fn site(&self, raw: &mut RawHttp) -> Result<SiteOptions, ConfigError> {
        let d = SiteOptions::default();
        let flag = |raw: Opt<bool>, default: bool| Val::or(raw, default).value;

        let index = Val::or(
            raw.index.take(),
            d.index.iter().map(|s| s.to_string()).collect(),
        );
        for name in &index.value {
            self.ensure(
                is_file_name(name),
                "http.index",
                &index,
                format!("{name:?} is not a file name (not empty, no '/', not \".\" or \"..\")"),
            )?;
        }

        let follow = Val::or(raw.follow_symlinks.take(), "inside_root".to_owned());
        let follow_symlinks = match follow.value.as_str() {
            "always" => FollowSymlinks::Always,
            "inside_root" => FollowSymlinks::InsideRoot,
            "never" => FollowSymlinks::Never,
            other => {
                return Err(self.err(
                    "http.follow_symlinks",
                    &follow,
                    format!("{other:?} is not one of \"always\", \"inside_root\", \"never\""),
                ))
            }
        };

        let expires = Val::or(raw.expires.take(), "off".to_owned());
        let expires =
            parse_expiry(&expires.value).map_err(|m| self.err("http.expires", &expires, m))?;

        let mut cache = Vec::new();
        for (i, rule) in std::mem::take(&mut raw.cache).into_iter().enumerate() {
            let pattern = spanned(rule.pattern);
            self.ensure(
                is_file_name(&pattern.value),
                &format!("http.cache[{i}].match"),
                &pattern,
                format!(
                    "{:?} is not a file-name pattern like \"*.css\" (not empty, no '/')",
                    pattern.value
                ),
            )?;
            let max_age = spanned(rule.max_age);
            let expiry = parse_expiry(&max_age.value)
                .map_err(|m| self.err(&format!("http.cache[{i}].max_age"), &max_age, m))?;
            cache.push(CacheRule {
                pattern: pattern.value.into(),
                expiry,
            });
        }

        let mut redirects = Vec::new();
        for (i, rule) in std::mem::take(&mut raw.redirect).into_iter().enumerate() {
            let from = spanned(rule.from);
            let f = &from.value;
            let star = f.find('*');
            self.ensure(
                f.starts_with('/') && star.is_none_or(|s| s == f.len() - 1),
                &format!("http.redirect[{i}].from"),
                &from,
                format!(
                    "{f:?} must be a path starting with \"/\", or a prefix ending in \"*\" \
                     (\"*\" only at the end)"
                ),
            )?;
            let to = spanned(rule.to);
            let t = &to.value;
            self.ensure(
                (t.starts_with('/') || t.starts_with("http://") || t.starts_with("https://"))
                    && t.bytes().all(|b| b.is_ascii_graphic()),
                &format!("http.redirect[{i}].to"),
                &to,
                format!(
                    "{t:?} must be an absolute path (\"/new\") or an http:// or https:// URL, \
                     in visible ASCII (percent-encode the rest)"
                ),
            )?;
            let status = Val::or(rule.status, 301);
            self.ensure(
                matches!(status.value, 301 | 302 | 303 | 307 | 308),
                &format!("http.redirect[{i}].status"),
                &status,
                format!("{} is not one of 301, 302, 303, 307, 308", status.value),
            )?;
            redirects.push(Redirect {
                from: from.value.into(),
                to: to.value.into(),
                status: status.value,
            });
        }

        let mut error_pages = Vec::new();
        for (code, page) in std::mem::take(&mut raw.error_page) {
            let key = format!("http.error_page.{code}");
            let page = spanned(page);
            let status = code.parse::<u16>().ok().filter(|s| (400..=599).contains(s));
            let Some(status) = status else {
                return Err(self.err(
                    &key,
                    &page,
                    format!("{code:?} is not an error status (400 to 599)"),
                ));
            };
            let p = &page.value;
            self.ensure(
                p.starts_with('/')
                    && p.bytes().all(|b| b.is_ascii_graphic())
                    && !p.split('/').any(|seg| seg == ".."),
                &key,
                &page,
                format!("{p:?} must be a path inside the root starting with \"/\", without \"..\""),
            )?;
            error_pages.push((status, page.value.into()));
        }

        Ok(SiteOptions {
            index: index.value.into_iter().map(Into::into).collect(),
            autoindex: flag(raw.autoindex.take(), d.autoindex),
            serve_dotfiles: flag(raw.serve_dotfiles.take(), d.serve_dotfiles),
            follow_symlinks,
            expires,
            cache,
            gzip: flag(raw.gzip.take(), d.gzip),
            gzip_min_length: Val::or(raw.gzip_min_length.take(), d.gzip_min_length).value,
            gzip_static: flag(raw.gzip_static.take(), d.gzip_static),
            redirects,
            error_pages,
        })
    }

    fn tcp(&self, raw: RawTcp) -> Result<TcpKeys, ConfigError> {
        let d = TcpKeys::default();
        let recv_buffer = Val::or(raw.recv_buffer, d.recv_buffer);
        let send_buffer = Val::or(raw.send_buffer, d.send_buffer);
        let nodelay = Val::or(raw.nodelay, d.nodelay);
        let delayed_ack = dur_or(raw.delayed_ack, d.delayed_ack);
        let rto_min = dur_or(raw.rto_min, d.rto_min);
        let retries2 = Val::or(raw.retries2, d.retries2);
        let synack_retries = Val::or(raw.synack_retries, d.synack_retries);
        let msl = dur_or(raw.msl, d.msl);
        let fin_timeout = dur_or(raw.fin_timeout, d.fin_timeout);
        let backlog = Val::or(raw.backlog, d.backlog);
        let syn_backlog = Val::or(raw.syn_backlog, d.syn_backlog);
        let syncookies = Val::or(raw.syncookies, "auto".to_owned());
        let max_connections = Val::or(raw.max_connections, d.max_connections);
        let congestion = Val::or(raw.congestion, "cubic".to_owned());
        let keepalive_time = dur_or(raw.keepalive_time, d.keepalive_time);
        let keepalive_intvl = dur_or(raw.keepalive_intvl, d.keepalive_intvl);
        let keepalive_probes = Val::or(raw.keepalive_probes, d.keepalive_probes);
        let flag = |raw: Opt<bool>, default: bool| Val::or(raw, default).value;

        let range = format!("must be between {TCP_BUFFER_MIN} and {TCP_BUFFER_MAX} bytes");
        let buf_ok = |n: usize| (TCP_BUFFER_MIN..=TCP_BUFFER_MAX).contains(&n);
        self.ensure(
            buf_ok(recv_buffer.value),
            "tcp.recv_buffer",
            &recv_buffer,
            &*range,
        )?;
        self.ensure(
            buf_ok(send_buffer.value),
            "tcp.send_buffer",
            &send_buffer,
            &*range,
        )?;
        self.ensure(
            delayed_ack.value <= DELAYED_ACK_MAX,
            "tcp.delayed_ack",
            &delayed_ack,
            "RFC 1122 §4.2.3.2 allows at most 500ms",
        )?;
        self.ensure(
            !rto_min.value.is_zero(),
            "tcp.rto_min",
            &rto_min,
            "must be longer than zero",
        )?;
        self.ensure(
            retries2.value >= 1,
            "tcp.retries2",
            &retries2,
            "must be at least 1",
        )?;
        self.ensure(
            !msl.value.is_zero(),
            "tcp.msl",
            &msl,
            "must be longer than zero",
        )?;
        self.ensure(
            !fin_timeout.value.is_zero(),
            "tcp.fin_timeout",
            &fin_timeout,
            "must be longer than zero",
        )?;
        self.ensure(
            backlog.value >= 1,
            "tcp.backlog",
            &backlog,
            "must be at least 1",
        )?;
        self.ensure(
            syn_backlog.value >= 1,
            "tcp.syn_backlog",
            &syn_backlog,
            "must be at least 1",
        )?;
        self.ensure(
            max_connections.value >= 1,
            "tcp.max_connections",
            &max_connections,
            "must be at least 1",
        )?;
        let syncookies_value = match syncookies.value.as_str() {
            "auto" => SynCookies::Auto,
            "always" => SynCookies::Always,
            "off" => SynCookies::Off,
            other => {
                return Err(self.err(
                    "tcp.syncookies",
                    &syncookies,
                    format!("{other:?} is not one of \"auto\", \"always\", \"off\""),
                ))
            }
        };
        let congestion_value = match congestion.value.as_str() {
            "cubic" => CongestionAlgorithm::Cubic,
            "reno" => CongestionAlgorithm::Reno,
            other => {
                return Err(self.err(
                    "tcp.congestion",
                    &congestion,
                    format!("{other:?} is not one of \"cubic\", \"reno\""),
                ))
            }
        };
        self.ensure(
            !keepalive_time.value.is_zero(),
            "tcp.keepalive_time",
            &keepalive_time,
            "must be longer than zero",
        )?;
        self.ensure(
            !keepalive_intvl.value.is_zero(),
            "tcp.keepalive_intvl",
            &keepalive_intvl,
            "must be longer than zero",
        )?;
        self.ensure(
            keepalive_probes.value >= 1,
            "tcp.keepalive_probes",
            &keepalive_probes,
            "must be at least 1",
        )?;

        Ok(TcpKeys {
            recv_buffer: recv_buffer.value,
            send_buffer: send_buffer.value,
            nodelay: nodelay.value,
            delayed_ack: delayed_ack.value,
            rto_min: rto_min.value,
            retries2: retries2.value,
            synack_retries: synack_retries.value,
            msl: msl.value,
            fin_timeout: fin_timeout.value,
            backlog: backlog.value,
            syn_backlog: syn_backlog.value,
            syncookies: syncookies_value,
            abort_on_overflow: flag(raw.abort_on_overflow, d.abort_on_overflow),
            max_connections: max_connections.value,
            max_tw_buckets: Val::or(raw.max_tw_buckets, d.max_tw_buckets).value,
            congestion: congestion_value,
            window_scaling: flag(raw.window_scaling, d.window_scaling),
            timestamps: flag(raw.timestamps, d.timestamps),
            sack: flag(raw.sack, d.sack),
            challenge_ack_limit: Val::or(raw.challenge_ack_limit, d.challenge_ack_limit).value,
            keepalive: flag(raw.keepalive, d.keepalive),
            keepalive_time: keepalive_time.value,
            keepalive_intvl: keepalive_intvl.value,
            keepalive_probes: keepalive_probes.value,
            orphan_retries: Val::or(raw.orphan_retries, d.orphan_retries).value,
            rfc1337: flag(raw.rfc1337, d.rfc1337),
            reset_timedout_connection: flag(
                raw.reset_timedout_connection,
                d.reset_timedout_connection,
            ),
        })
    }

    fn log(&self, raw: RawLog) -> Result<LogConfig, ConfigError> {
        let level = Val::or(raw.level, LogConfig::default().level);
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&level.value) {
            return Err(self.err("log.level", &level, format!("{:?}: {e}", level.value)));
        }
        Ok(LogConfig { level: level.value })
    }
}

/// What a PEM file named in `[tls]` must hold.
#[derive(Clone, Copy)]
enum PemKind {
    Certs,
    Key,
}

/// A required key's value with its span.
fn spanned<T>(s: Spanned<T>) -> Val<T> {
    let span = s.span();
    Val {
        value: s.into_inner(),
        span: Some(span),
    }
}

/// `"off"` or a duration (`"7d"`) for `expires` and `max_age`.
fn parse_expiry(s: &str) -> Result<Expiry, String> {
    if s == "off" {
        return Ok(Expiry::Off);
    }
    humantime::parse_duration(s)
        .map(|d| Expiry::MaxAge(d.as_secs()))
        .map_err(|e| format!("invalid value {s:?} ({e}); write \"off\" or a duration like \"7d\""))
}

/// A single path segment: not empty, no `/`, not `.` or `..`.
fn is_file_name(s: &str) -> bool {
    !s.is_empty() && !s.contains('/') && s != "." && s != ".."
}

/// Lets one error site blame either of two differently typed values.
trait Spannable {
    fn span(&self) -> Option<&Range<usize>>;
}

impl<T> Spannable for Val<T> {
    fn span(&self) -> Option<&Range<usize>> {
        self.span.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory with `www/` inside and a config path in it.
    struct Dir(tempfile::TempDir);

    impl Dir {
        fn new() -> Dir {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("www")).unwrap();
            Dir(dir)
        }
        fn conf(&self) -> PathBuf {
            self.0.path().join("tapir.toml")
        }
        fn parse(&self, text: &str) -> Result<Config, ConfigError> {
            Config::from_str(text, &self.conf())
        }
        /// The error's Display with the directory replaced by `DIR`.
        fn err(&self, text: &str) -> String {
            let e = self.parse(text).expect_err("config should be rejected");
            e.to_string()
                .replace(&self.0.path().display().to_string(), "DIR")
        }
    }

    #[test]
    fn empty_file_gives_defaults() {
        let dir = Dir::new();
        let c = dir.parse("").unwrap();
        assert_eq!(
            c.net,
            NetConfig {
                gateway: Some(Ipv4Addr::new(10, 7, 0, 1)),
                ..Default::default()
            }
        );
        assert_eq!(c.http.port, 80);
        assert_eq!(
            c.http.root,
            std::fs::canonicalize(dir.0.path().join("www")).unwrap()
        );
        assert_eq!(c.http.keepalive_timeout, Duration::from_secs(15));
        assert_eq!(c.http.keepalive_requests, 1000);
        assert_eq!(c.http.header_timeout, Duration::from_secs(60));
        assert_eq!(c.http.send_timeout, Duration::from_secs(60));
        assert_eq!(c.http.max_request_line, 8192);
        assert_eq!(c.http.max_header_size, 32768);
        assert_eq!(c.http.max_headers, 100);
        assert_eq!(c.http.max_body_size, 1 << 20);
        assert_eq!(c.http.access_log, AccessLogTarget::Off);
        assert_eq!(H1Settings::from_config(&c.http), H1Settings::default());
        assert_eq!(c.http.site, SiteOptions::default());
        assert_eq!(c.tcp, TcpKeys::default());
        assert_eq!(c.log.level, "info");
        assert_eq!(c.path, dir.conf());
    }

    #[test]
    fn contract_keys_are_read() {
        let dir = Dir::new();
        std::fs::create_dir(dir.0.path().join("site")).unwrap();
        let c = dir
            .parse(
                r#"
[net]
tap = "tap7"
host_addr = "192.168.50.1/24"
addr = "192.168.50.9"
mtu = 9000
[http]
port = 8080
root = "site"
keepalive_timeout = "2m"
keepalive_requests = 3
header_timeout = "1500ms"
[tcp]
recv_buffer = 65536
nodelay = true
delayed_ack = "0s"
msl = "1h"
[log]
level = "info,netstack=debug"
"#,
            )
            .unwrap();
        assert_eq!(c.net.tap, "tap7");
        assert_eq!(c.net.host_addr, (Ipv4Addr::new(192, 168, 50, 1), 24));
        assert_eq!(c.net.addr, Ipv4Addr::new(192, 168, 50, 9));
        assert_eq!(c.net.gateway, Some(Ipv4Addr::new(192, 168, 50, 1)));
        assert_eq!(c.net.mtu, 9000);
        assert_eq!(c.http.port, 8080);
        assert!(c.http.root.ends_with("site"));
        assert_eq!(c.http.keepalive_timeout, Duration::from_secs(120));
        assert_eq!(c.http.keepalive_requests, 3);
        assert_eq!(c.http.header_timeout, Duration::from_millis(1500));
        assert_eq!(c.tcp.recv_buffer, 65536);
        assert!(c.tcp.nodelay);
        assert_eq!(c.tcp.delayed_ack, Duration::ZERO);
        assert_eq!(c.tcp.msl, Duration::from_secs(3600));
        assert_eq!(c.log.level, "info,netstack=debug");
    }

    #[test]
    fn shipped_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/tapir.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(
            c.http.root,
            std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../www")).unwrap()
        );
        // The shipped file spells out the defaults.
        assert_eq!(
            c.net,
            NetConfig {
                gateway: Some(Ipv4Addr::new(10, 7, 0, 1)),
                ..Default::default()
            }
        );
        assert_eq!(c.tcp, TcpKeys::default());
        assert_eq!(c.http.port, 80);
        assert_eq!(H1Settings::from_config(&c.http), H1Settings::default());
        assert_eq!(c.http.access_log, AccessLogTarget::Off);
        assert_eq!(c.http.site, SiteOptions::default());
        assert_eq!(c.log, LogConfig::default());
        assert_eq!(c.observe, ObserveConfig::default());
        // The default config serves HTTPS with a generated certificate.
        assert_eq!(
            c.tls,
            Some(TlsKeys {
                port: 443,
                cert_key: None,
                sni: Vec::new(),
                redirect_http: false,
            })
        );
        assert_eq!(c.http2, Http2Keys::default());
    }

    #[test]
    fn tls_and_http2_keys_are_read_and_checked() {
        let dir = Dir::new();
        assert_eq!(dir.parse("").unwrap().tls, None);
        let (cert, key) = crate::tls_setup::generate(Ipv4Addr::new(10, 7, 0, 2)).unwrap();
        let pem = |label: &str, der: &[u8]| {
            use std::fmt::Write;
            const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut out = format!("-----BEGIN {label}-----\n");
            let mut line = String::new();
            for chunk in der.chunks(3) {
                let b = [
                    chunk[0],
                    *chunk.get(1).unwrap_or(&0),
                    *chunk.get(2).unwrap_or(&0),
                ];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                for i in 0..4 {
                    if i <= chunk.len() {
                        line.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
                    } else {
                        line.push('=');
                    }
                }
                if line.len() >= 64 {
                    let _ = writeln!(out, "{line}");
                    line.clear();
                }
            }
            if !line.is_empty() {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(out, "-----END {label}-----");
            out
        };
        std::fs::write(dir.0.path().join("c.pem"), pem("CERTIFICATE", &cert)).unwrap();
        std::fs::write(
            dir.0.path().join("k.pem"),
            pem("PRIVATE KEY", key.secret_der()),
        )
        .unwrap();
        let c = dir
            .parse(
                r#"
[tls]
port = 8443
cert = "c.pem"
key = "k.pem"
redirect_http = true
[[tls.sni]]
name = "WWW.example.org"
cert = "c.pem"
key = "k.pem"
[http2]
h2c = false
max_concurrent_streams = 10
max_header_list_size = "32k"
initial_window_size = 1048576
max_frame_size = 32768
max_pending_accept_reset_streams = 5
max_local_error_reset_streams = 50
idle_timeout = "30s"
"#,
            )
            .unwrap();
        let tls = c.tls.unwrap();
        assert_eq!(tls.port, 8443);
        assert!(tls.redirect_http);
        assert_eq!(
            tls.cert_key,
            Some((dir.0.path().join("c.pem"), dir.0.path().join("k.pem")))
        );
        assert_eq!(tls.sni[0].name, "www.example.org");
        assert_eq!(
            c.http2,
            Http2Keys {
                h2c: false,
                max_concurrent_streams: 10,
                max_header_list_size: 32 * 1024,
                initial_window_size: 1 << 20,
                max_frame_size: 32768,
                max_pending_accept_reset_streams: 5,
                max_local_error_reset_streams: 50,
                idle_timeout: Duration::from_secs(30),
            }
        );
        // The keys load into a working rustls configuration.
        crate::tls_setup::server_config(&tls, Ipv4Addr::new(10, 7, 0, 2)).unwrap();

        assert_eq!(
            dir.err("[tls]\ncert = \"c.pem\"\n"),
            "DIR/tapir.toml:2: key `tls.cert`: needs tls.key beside it"
        );
        assert_eq!(
            dir.err("[tls]\ncert = \"k.pem\"\nkey = \"k.pem\"\n"),
            "DIR/tapir.toml:2: key `tls.cert`: DIR/k.pem holds no PEM certificate"
        );
        assert!(dir
            .err("[tls]\ncert = \"nope.pem\"\nkey = \"k.pem\"\n")
            .starts_with("DIR/tapir.toml:2: key `tls.cert`: cannot read DIR/nope.pem"));
        assert_eq!(
            dir.err("[tls]\nport = 80\n"),
            "DIR/tapir.toml:2: key `tls.port`: 80 is http.port already"
        );
        assert_eq!(
            dir.err("[tls]\nbogus = 1\n"),
            "DIR/tapir.toml:2: key `tls.bogus`: unknown key `bogus`, expected one of `port`, `cert`, `key`, `redirect_http`, `sni`"
        );
        assert_eq!(
            dir.err("[http2]\nmax_frame_size = 100\n"),
            "DIR/tapir.toml:2: key `http2.max_frame_size`: must be between 16384 and 16777215 (RFC 9113 §6.5.2)"
        );
        assert_eq!(
            dir.err("[http2]\nmax_concurrent_streams = 0\n"),
            "DIR/tapir.toml:2: key `http2.max_concurrent_streams`: must be between 1 and 10000"
        );
    }

    #[test]
    fn site_keys_are_read() {
        let dir = Dir::new();
        let c = dir
            .parse(
                r#"
[http]
index = ["default.htm"]
autoindex = true
serve_dotfiles = true
follow_symlinks = "never"
expires = "1h"
gzip = false
gzip_min_length = 1000
gzip_static = false

[[http.cache]]
match = "*.css"
max_age = "7d"

[[http.cache]]
match = "*.html"
max_age = "off"

[[http.redirect]]
from = "/old"
to = "/index.html"

[[http.redirect]]
from = "/blog/*"
to = "https://blog.example/"
status = 308

[http.error_page]
404 = "/errors/404.html"
500 = "/errors/50x.html"
"#,
            )
            .unwrap();
        let s = c.http.site;
        assert_eq!(s.index, vec![Box::from("default.htm")]);
        assert!(s.autoindex && s.serve_dotfiles && !s.gzip && !s.gzip_static);
        assert_eq!(s.follow_symlinks, FollowSymlinks::Never);
        assert_eq!(s.expires, Expiry::MaxAge(3600));
        assert_eq!(s.gzip_min_length, 1000);
        assert_eq!(
            s.cache,
            vec![
                CacheRule {
                    pattern: "*.css".into(),
                    expiry: Expiry::MaxAge(7 * 86400)
                },
                CacheRule {
                    pattern: "*.html".into(),
                    expiry: Expiry::Off
                },
            ]
        );
        assert_eq!(
            s.redirects,
            vec![
                Redirect {
                    from: "/old".into(),
                    to: "/index.html".into(),
                    status: 301
                },
                Redirect {
                    from: "/blog/*".into(),
                    to: "https://blog.example/".into(),
                    status: 308
                },
            ]
        );
        assert_eq!(
            s.error_pages,
            vec![
                (404, "/errors/404.html".into()),
                (500, "/errors/50x.html".into())
            ]
        );
    }

    #[test]
    fn site_key_errors_name_line_and_key() {
        let dir = Dir::new();
        let cases: &[(&str, &str)] = &[
            (
                "[http]\nindex = [\"a/b\"]\n",
                "DIR/tapir.toml:2: key `http.index`: \"a/b\" is not a file name \
                 (not empty, no '/', not \".\" or \"..\")",
            ),
            (
                "[http]\nfollow_symlinks = \"yes\"\n",
                "DIR/tapir.toml:2: key `http.follow_symlinks`: \"yes\" is not one of \
                 \"always\", \"inside_root\", \"never\"",
            ),
            (
                "[http]\n\nexpires = \"soon\"\n",
                "DIR/tapir.toml:3: key `http.expires`: invalid value \"soon\" (expected number \
                 at 0); write \"off\" or a duration like \"7d\"",
            ),
            (
                "[http]\ngzip_min_length = -1\n",
                "DIR/tapir.toml:2: key `http.gzip_min_length`: invalid value: integer `-1`, \
                 expected u64",
            ),
            (
                "[[http.cache]]\nmatch = \"css/*.css\"\nmax_age = \"1d\"\n",
                "DIR/tapir.toml:2: key `http.cache[0].match`: \"css/*.css\" is not a \
                 file-name pattern like \"*.css\" (not empty, no '/')",
            ),
            (
                "[[http.cache]]\nmatch = \"*.css\"\nmax_age = \"1d\"\n\
                 [[http.cache]]\nmatch = \"*.js\"\nmax_age = \"forever\"\n",
                "DIR/tapir.toml:6: key `http.cache[1].max_age`: invalid value \"forever\" \
                 (expected number at 0); write \"off\" or a duration like \"7d\"",
            ),
            (
                "[[http.cache]]\nmatch = \"*.css\"\n",
                "DIR/tapir.toml:1: key `http.cache[0]`: missing field `max_age`",
            ),
            (
                "[[http.cache]]\nmatch = \"*.css\"\nmax_age = \"1d\"\nexpires = \"1d\"\n",
                "DIR/tapir.toml:4: key `http.cache[0].expires`: unknown key `expires`, \
                 expected `match` or `max_age`",
            ),
            (
                "[[http.redirect]]\nfrom = \"old\"\nto = \"/new\"\n",
                "DIR/tapir.toml:2: key `http.redirect[0].from`: \"old\" must be a path \
                 starting with \"/\", or a prefix ending in \"*\" (\"*\" only at the end)",
            ),
            (
                "[[http.redirect]]\nfrom = \"/a*b\"\nto = \"/new\"\n",
                "DIR/tapir.toml:2: key `http.redirect[0].from`: \"/a*b\" must be a path \
                 starting with \"/\", or a prefix ending in \"*\" (\"*\" only at the end)",
            ),
            (
                "[[http.redirect]]\nfrom = \"/a\"\nto = \"new page\"\n",
                "DIR/tapir.toml:3: key `http.redirect[0].to`: \"new page\" must be an \
                 absolute path (\"/new\") or an http:// or https:// URL, in visible ASCII \
                 (percent-encode the rest)",
            ),
            (
                "[[http.redirect]]\nfrom = \"/a\"\nto = \"/b\"\n\n\
                 [[http.redirect]]\nfrom = \"/c\"\nto = \"/d\"\nstatus = 304\n",
                "DIR/tapir.toml:8: key `http.redirect[1].status`: 304 is not one of \
                 301, 302, 303, 307, 308",
            ),
            (
                "[http.error_page]\n404 = \"/e/404.html\"\n200 = \"/ok.html\"\n",
                "DIR/tapir.toml:3: key `http.error_page.200`: \"200\" is not an error status \
                 (400 to 599)",
            ),
            (
                "[http.error_page]\n404 = \"errors/404.html\"\n",
                "DIR/tapir.toml:2: key `http.error_page.404`: \"errors/404.html\" must be a \
                 path inside the root starting with \"/\", without \"..\"",
            ),
            (
                "[http.error_page]\n404 = \"/../404.html\"\n",
                "DIR/tapir.toml:2: key `http.error_page.404`: \"/../404.html\" must be a \
                 path inside the root starting with \"/\", without \"..\"",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(dir.err(text), *want, "{text}");
        }
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let dir = Dir::new();
        let e = Config::load(&dir.0.path().join("nope.toml")).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Read {
                    kind: io::ErrorKind::NotFound,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("nope.toml: cannot read configuration: "),
            "{e}"
        );
    }

    #[test]
    fn syntax_error_names_line() {
        let dir = Dir::new();
        assert_eq!(
            dir.err("[http]\nport = 80\n[net\n"),
            "DIR/tapir.toml:3: invalid TOML: invalid table header: expected `.`, `]`"
        );
        assert_eq!(
            dir.err("[http]\nport = 80\nport = 81\n"),
            "DIR/tapir.toml:3: invalid TOML: duplicate key `port` in table `http`"
        );
    }

    #[test]
    fn tcp_choice_keys_name_line_and_choices() {
        let dir = Dir::new();
        assert_eq!(
            dir.err("[tcp]\nbacklog = 5\nsyncookies = \"sometimes\"\n"),
            "DIR/tapir.toml:3: key `tcp.syncookies`: \"sometimes\" is not one of \"auto\", \"always\", \"off\""
        );
        assert_eq!(
            dir.err("[tcp]\ncongestion = \"bbr\"\n"),
            "DIR/tapir.toml:2: key `tcp.congestion`: \"bbr\" is not one of \"cubic\", \"reno\""
        );
        assert_eq!(
            dir.err("[tcp]\nkeepalive_probes = 0\n"),
            "DIR/tapir.toml:2: key `tcp.keepalive_probes`: must be at least 1"
        );
    }

    #[test]
    fn unknown_keys_name_line_and_key() {
        let dir = Dir::new();
        assert_eq!(
            dir.err("[http]\nport = 80\n\nprot = 81\n"),
            "DIR/tapir.toml:4: key `http.prot`: unknown key `prot`, expected one of \
             `port`, `root`, `index`, `autoindex`, `serve_dotfiles`, `follow_symlinks`, \
             `expires`, `gzip`, `gzip_min_length`, `gzip_static`, `cache`, `redirect`, \
             `error_page`, `keepalive_timeout`, `keepalive_requests`, `header_timeout`, \
             `send_timeout`, `max_request_line`, `max_header_size`, `max_headers`, \
             `max_body_size`, `access_log`"
        );
        assert_eq!(
            dir.err("# comment\n[htp]\n"),
            "DIR/tapir.toml:2: key `htp`: unknown key `htp`, expected one of \
             `net`, `http`, `tcp`, `log`, `control`, `status`, `trace`, `tls`, `http2`"
        );
        assert_eq!(
            dir.err("net.mtu = 1500\nnet.speed = 1\n"),
            "DIR/tapir.toml:2: key `net.speed`: unknown key `speed`, expected one of \
             `tap`, `host_addr`, `addr`, `mtu`, `gateway`, `pcap`, `pcap_max_bytes`"
        );
    }

    #[test]
    fn wrong_types_name_line_and_key() {
        let dir = Dir::new();
        assert_eq!(
            dir.err("[http]\nport = \"eighty\"\n"),
            "DIR/tapir.toml:2: key `http.port`: invalid type: string \"eighty\", expected u16"
        );
        assert_eq!(
            dir.err("[http]\n\nport = 70000\n"),
            "DIR/tapir.toml:3: key `http.port`: invalid value: integer `70000`, expected u16"
        );
        assert_eq!(
            dir.err("[tcp]\nnodelay = 1\n"),
            "DIR/tapir.toml:2: key `tcp.nodelay`: invalid type: integer `1`, expected a boolean"
        );
        assert_eq!(
            dir.err("http = 5\n"),
            "DIR/tapir.toml:1: key `http`: invalid type: integer `5`, expected struct RawHttp"
        );
        assert_eq!(
            dir.err("[net]\naddr = \"10.7.0.300\"\n"),
            "DIR/tapir.toml:2: key `net.addr`: invalid IPv4 address syntax"
        );
    }

    #[test]
    fn bad_durations_name_line_and_key() {
        let dir = Dir::new();
        assert_eq!(
            dir.err("[http]\nkeepalive_timeout = \"15 parsecs\"\n"),
            "DIR/tapir.toml:2: key `http.keepalive_timeout`: invalid duration \"15 parsecs\" \
             (unknown time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, \
             days, weeks, months, years (and few variations)); write a number and a unit, \
             like \"15s\", \"40ms\" or \"2h\""
        );
        assert_eq!(
            dir.err("[tcp]\nrto_min = 200\n"),
            "DIR/tapir.toml:2: key `tcp.rto_min`: invalid type: integer `200`, expected \
             a duration with a unit, like \"15s\", \"40ms\" or \"2h\""
        );
        assert_eq!(
            dir.err("[tcp]\n\ndelayed_ack = \"1s\"\n"),
            "DIR/tapir.toml:3: key `tcp.delayed_ack`: RFC 1122 §4.2.3.2 allows at most 500ms"
        );
        assert_eq!(
            dir.err("[http]\nheader_timeout = \"0s\"\n"),
            "DIR/tapir.toml:2: key `http.header_timeout`: must be longer than zero"
        );
    }

    #[test]
    fn addresses_are_checked_against_the_subnet() {
        let dir = Dir::new();
        assert_eq!(
            dir.err("[net]\nhost_addr = \"10.7.0.1\"\n"),
            "DIR/tapir.toml:2: key `net.host_addr`: expected ADDRESS/PREFIX like \
             \"10.7.0.1/24\", got \"10.7.0.1\""
        );
        assert_eq!(
            dir.err("[net]\nhost_addr = \"10.7.0.1/32\"\n"),
            "DIR/tapir.toml:2: key `net.host_addr`: prefix length /32 must be between 1 and 31"
        );
        assert_eq!(
            dir.err("[net]\nhost_addr = \"10.7.0.0/24\"\n"),
            "DIR/tapir.toml:2: key `net.host_addr`: 10.7.0.0 is the network or broadcast \
             address of 10.7.0.0/24"
        );
        assert_eq!(
            dir.err("[net]\nhost_addr = \"10.7.0.1/24\"\naddr = \"10.8.0.2\"\n"),
            "DIR/tapir.toml:3: key `net.addr`: 10.8.0.2 is outside host_addr's subnet 10.7.0.1/24"
        );
        assert_eq!(
            dir.err("[net]\naddr = \"10.7.0.1\"\n"),
            "DIR/tapir.toml:2: key `net.addr`: 10.7.0.1 is host_addr's own address; \
             tapir needs another one"
        );
        assert_eq!(
            dir.err("[net]\naddr = \"10.7.0.255\"\n"),
            "DIR/tapir.toml:2: key `net.addr`: 10.7.0.255 is the network or broadcast \
             address of 10.7.0.1/24"
        );
        // addr left at its default: the error points at host_addr.
        assert_eq!(
            dir.err("[net]\n\nhost_addr = \"192.168.1.1/24\"\n"),
            "DIR/tapir.toml:3: key `net.host_addr`: 10.7.0.2 is outside host_addr's subnet \
             192.168.1.1/24"
        );
        assert_eq!(
            dir.err("[net]\ngateway = \"10.9.0.1\"\n"),
            "DIR/tapir.toml:2: key `net.gateway`: 10.9.0.1 must be a neighbour inside \
             10.7.0.1/24 other than addr"
        );
        // A /31 (RFC 3021) has no network or broadcast address.
        let c = dir
            .parse("[net]\nhost_addr = \"10.7.0.0/31\"\naddr = \"10.7.0.1\"\n")
            .unwrap();
        assert_eq!(c.net.gateway, Some(Ipv4Addr::new(10, 7, 0, 0)));
    }

    #[test]
    fn ranges_are_checked() {
        let dir = Dir::new();
        assert_eq!(
            dir.err("[net]\nmtu = 575\n"),
            "DIR/tapir.toml:2: key `net.mtu`: 575 is outside 576..=9000"
        );
        assert_eq!(
            dir.err("[net]\ntap = \"a/b\"\n"),
            "DIR/tapir.toml:2: key `net.tap`: \"a/b\" is not a Linux interface name \
             (1 to 15 printable characters, no '/' or ':')"
        );
        assert_eq!(
            dir.err("[http]\nport = 0\n"),
            "DIR/tapir.toml:2: key `http.port`: port 0 cannot be listened on"
        );
        assert_eq!(
            dir.err("[http]\nkeepalive_requests = 0\n"),
            "DIR/tapir.toml:2: key `http.keepalive_requests`: must be at least 1"
        );
        assert_eq!(
            dir.err("[tcp]\nsend_buffer = 10\n"),
            "DIR/tapir.toml:2: key `tcp.send_buffer`: must be between 1024 and 1073741824 bytes"
        );
        assert_eq!(
            dir.err("[tcp]\nbacklog = 0\n"),
            "DIR/tapir.toml:2: key `tcp.backlog`: must be at least 1"
        );
        let e = dir.err("[log]\nlevel = \"info,=[\"\n");
        assert!(
            e.starts_with("DIR/tapir.toml:2: key `log.level`: \"info,=[\": "),
            "{e}"
        );
    }

    #[test]
    fn http_limits_are_read_and_checked() {
        let dir = Dir::new();
        let c = dir
            .parse(
                "[http]\nmax_request_line = \"2k\"\nmax_header_size = 4096\n\
                 max_headers = 7\nmax_body_size = \"0\"\nsend_timeout = \"5s\"\n\
                 access_log = \"logs/access.log\"\n",
            )
            .unwrap();
        assert_eq!(c.http.max_request_line, 2048);
        assert_eq!(c.http.max_header_size, 4096);
        assert_eq!(c.http.max_headers, 7);
        assert_eq!(c.http.max_body_size, 0);
        assert_eq!(c.http.send_timeout, Duration::from_secs(5));
        assert_eq!(
            c.http.access_log,
            AccessLogTarget::File(dir.0.path().join("logs/access.log"))
        );
        let c = dir
            .parse("[http]\nmax_body_size = \"1G\"\naccess_log = \"stdout\"\n")
            .unwrap();
        assert_eq!(c.http.max_body_size, 1 << 30);
        assert_eq!(c.http.access_log, AccessLogTarget::Stdout);
        assert_eq!(
            dir.err("[http]\n\nmax_body_size = \"1 MB\"\n"),
            "DIR/tapir.toml:3: key `http.max_body_size`: invalid size \"1 MB\"; write bytes \
             or a number with k, m or g, like \"8k\" or \"1m\""
        );
        assert_eq!(
            dir.err("[http]\nmax_body_size = -1\n"),
            "DIR/tapir.toml:2: key `http.max_body_size`: size -1 is negative"
        );
        assert_eq!(
            dir.err("[http]\nmax_header_size = \"2m\"\n"),
            "DIR/tapir.toml:2: key `http.max_header_size`: must be between 1024 and 1048576 bytes"
        );
        assert_eq!(
            dir.err("[http]\nmax_request_line = \"64k\"\n"),
            "DIR/tapir.toml:2: key `http.max_request_line`: must be between 256 bytes and \
             max_header_size (32768 bytes)"
        );
        assert_eq!(
            dir.err("[http]\nmax_headers = 1001\n"),
            "DIR/tapir.toml:2: key `http.max_headers`: must be between 1 and 1000"
        );
        assert_eq!(
            dir.err("[http]\nsend_timeout = \"0s\"\n"),
            "DIR/tapir.toml:2: key `http.send_timeout`: must be longer than zero"
        );
        assert_eq!(
            dir.err("[http]\naccess_log = \"\"\n"),
            "DIR/tapir.toml:2: key `http.access_log`: must be \"off\", \"stdout\" or a file path"
        );
    }

    #[test]
    fn root_must_exist_relative_to_the_config_file() {
        let dir = Dir::new();
        let e = dir.err("[http]\nroot = \"nowhere\"\n");
        assert!(
            e.starts_with("DIR/tapir.toml:2: key `http.root`: cannot use DIR/nowhere: "),
            "{e}"
        );
        std::fs::write(dir.0.path().join("file"), b"x").unwrap();
        assert_eq!(
            dir.err("[http]\nroot = \"file\"\n"),
            "DIR/tapir.toml:2: key `http.root`: DIR/file is not a directory"
        );
        // The default root is checked too, without a line to point at.
        std::fs::remove_dir(dir.0.path().join("www")).unwrap();
        let e = dir.err("");
        assert!(
            e.starts_with("DIR/tapir.toml: key `http.root`: cannot use DIR/www: "),
            "{e}"
        );
    }
}
