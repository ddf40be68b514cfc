//! The observability keys: `[control]`, `[status]`, `[trace]` and `[net]`
//! `pcap`/`pcap_max_bytes` (see `conf/tapir.toml`).
//!
//! Contract: as the rest of [`crate::config`]: every key optional with a
//! documented default, errors name `file:line: key`, relative paths are
//! relative to the configuration file.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::{dur_or, Checker, ConfigError, Opt, Size, Val};
use crate::status::route::Allow;

/// Default `[control] socket`.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/tapir/tapir.sock";
/// Default `[status] path`.
pub const DEFAULT_STATUS_PATH: &str = "/_tapir";
/// Longest `[status] path`.
pub const STATUS_PATH_MAX: usize = 64;
/// Default `[net] pcap_max_bytes`: 100 MiB.
pub const DEFAULT_PCAP_MAX_BYTES: u64 = 100 << 20;
/// Smallest `[net] pcap_max_bytes`: room for the header and a few frames.
pub const PCAP_MAX_BYTES_MIN: u64 = 64 * 1024;

/// Everything observability-related, from several tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserveConfig {
    pub control: ControlConfig,
    pub status: StatusConfig,
    pub trace: TraceConfig,
    pub pcap: PcapConfig,
}

/// `[control]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    /// The Unix control socket (`socket`, default
    /// `/run/tapir/tapir.sock`; `"off"`: none).
    pub socket: Option<PathBuf>,
    /// Longest a graceful stop may take (`shutdown_timeout`, default 10 s).
    pub shutdown_timeout: Duration,
}

/// `[status]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusConfig {
    /// Serve the status pages (`enabled`, default true).
    pub enabled: bool,
    /// Where (`path`, default `/_tapir`).
    pub path: String,
    /// Who may see them (`allow`, default loopback and private networks).
    pub allow: Allow,
}

/// `[trace]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceConfig {
    /// CSV of every ACK processed (`connections`, default `"off"`).
    pub connections: Option<PathBuf>,
}

/// `[net] pcap` and `pcap_max_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapConfig {
    /// Every frame in and out (`pcap`, default `"off"`).
    pub path: Option<PathBuf>,
    /// Rotate to `PATH.1` beyond this size (`pcap_max_bytes`, default 100m).
    pub max_bytes: u64,
}

impl Default for ObserveConfig {
    fn default() -> ObserveConfig {
        ObserveConfig {
            control: ControlConfig {
                socket: Some(PathBuf::from(DEFAULT_CONTROL_SOCKET)),
                shutdown_timeout: Duration::from_secs(10),
            },
            status: StatusConfig {
                enabled: true,
                path: DEFAULT_STATUS_PATH.to_owned(),
                allow: default_allow(),
            },
            trace: TraceConfig { connections: None },
            pcap: PcapConfig {
                path: None,
                max_bytes: DEFAULT_PCAP_MAX_BYTES,
            },
        }
    }
}

/// Loopback and the RFC 1918 networks.
fn default_allow() -> Allow {
    Allow(vec![
        (Ipv4Addr::new(127, 0, 0, 0), 8),
        (Ipv4Addr::new(10, 0, 0, 0), 8),
        (Ipv4Addr::new(172, 16, 0, 0), 12),
        (Ipv4Addr::new(192, 168, 0, 0), 16),
    ])
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawControl {
    socket: Opt<String>,
    shutdown_timeout: Opt<super::Dur>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStatus {
    enabled: Opt<bool>,
    path: Opt<String>,
    allow: Opt<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTrace {
    connections: Opt<String>,
}

/// `ADDRESS[/PREFIX]`, prefix 0..=32.
fn parse_net(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (addr, prefix) = s.split_once('/').unwrap_or((s, "32"));
    let addr =
        Ipv4Addr::from_str(addr).map_err(|_| format!("{s:?} is not ADDRESS or ADDRESS/PREFIX"))?;
    match u8::from_str(prefix) {
        Ok(p) if p <= 32 => Ok((addr, p)),
        _ => Err(format!("{s:?}: prefix length must be 0..=32")),
    }
}

impl Checker<'_> {
    /// `"off"` or a path (relative to the configuration file).
    fn off_or_path(&self, key: &str, v: &Val<String>) -> Result<Option<PathBuf>, ConfigError> {
        match v.value.as_str() {
            "off" => Ok(None),
            "" => Err(self.err(key, v, "must be \"off\" or a file path")),
            path => Ok(Some(self.base_dir().join(path))),
        }
    }

    pub(super) fn observe(
        &self,
        pcap: Opt<String>,
        pcap_max_bytes: Opt<Size>,
        control: RawControl,
        status: RawStatus,
        trace: RawTrace,
    ) -> Result<ObserveConfig, ConfigError> {
        let d = ObserveConfig::default();
        let socket = Val::or(control.socket, DEFAULT_CONTROL_SOCKET.to_owned());
        let shutdown_timeout = dur_or(control.shutdown_timeout, d.control.shutdown_timeout);
        self.ensure(
            !shutdown_timeout.value.is_zero(),
            "control.shutdown_timeout",
            &shutdown_timeout,
            "must be longer than zero",
        )?;
        let socket = self.off_or_path("control.socket", &socket)?;

        let enabled = Val::or(status.enabled, true).value;
        let path = Val::or(status.path, DEFAULT_STATUS_PATH.to_owned());
        let p = &path.value;
        self.ensure(
            p.starts_with('/')
                && p.len() > 1
                && p.len() <= STATUS_PATH_MAX
                && p.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'%' && b != b'#'),
            "status.path",
            &path,
            format!("{p:?} must be an absolute path like \"/_tapir\" (no '?', '%', '#', spaces; at most {STATUS_PATH_MAX} bytes)"),
        )?;
        let allow = match status.allow {
            None => d.status.allow,
            Some(list) => {
                let v = Val::or(Some(list), Vec::new());
                let mut nets = Vec::new();
                for s in &v.value {
                    nets.push(parse_net(s).map_err(|e| self.err("status.allow", &v, e))?);
                }
                Allow(nets)
            }
        };

        let connections = Val::or(trace.connections, "off".to_owned());
        let connections = self.off_or_path("trace.connections", &connections)?;

        let pcap = Val::or(pcap, "off".to_owned());
        let pcap = self.off_or_path("net.pcap", &pcap)?;
        let max = Val::or(pcap_max_bytes, Size(DEFAULT_PCAP_MAX_BYTES));
        self.ensure(
            max.value.0 >= PCAP_MAX_BYTES_MIN,
            "net.pcap_max_bytes",
            &max,
            format!("must be at least {PCAP_MAX_BYTES_MIN} bytes"),
        )?;
        Ok(ObserveConfig {
            control: ControlConfig {
                socket,
                shutdown_timeout: shutdown_timeout.value,
            },
            status: StatusConfig {
                enabled,
                path: path.value,
                allow,
            },
            trace: TraceConfig { connections },
            pcap: PcapConfig {
                path: pcap,
                max_bytes: max.value.0,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::from_str(text, Path::new("/etc/tapir/tapir.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        // `root` must exist: point it at this crate.
        let root = format!("[http]\nroot = {:?}\n", env!("CARGO_MANIFEST_DIR"));
        let c = parse(&root).unwrap();
        assert_eq!(c.observe, ObserveConfig::default());
        assert!(c.observe.status.allow.permits(Ipv4Addr::new(10, 7, 0, 1)));
        assert!(!c.observe.status.allow.permits(Ipv4Addr::new(8, 8, 8, 8)));
    }

    #[test]
    fn keys_are_read_relative_to_the_file() {
        let text = format!(
            "[http]\nroot = {:?}\n[net]\npcap = \"cap/tapir.pcap\"\npcap_max_bytes = \"1m\"\n\
             [control]\nsocket = \"off\"\nshutdown_timeout = \"3s\"\n\
             [status]\nenabled = false\npath = \"/s\"\nallow = [\"10.7.0.1\", \"0.0.0.0/0\"]\n\
             [trace]\nconnections = \"/tmp/t.csv\"\n",
            env!("CARGO_MANIFEST_DIR")
        );
        let o = parse(&text).unwrap().observe;
        assert_eq!(
            o.pcap.path,
            Some(PathBuf::from("/etc/tapir/cap/tapir.pcap"))
        );
        assert_eq!(o.pcap.max_bytes, 1 << 20);
        assert_eq!(o.control.socket, None);
        assert_eq!(o.control.shutdown_timeout, Duration::from_secs(3));
        assert!(!o.status.enabled);
        assert_eq!(o.status.path, "/s");
        assert_eq!(
            o.status.allow.0,
            vec![(Ipv4Addr::new(10, 7, 0, 1), 32), (Ipv4Addr::UNSPECIFIED, 0)]
        );
        assert_eq!(o.trace.connections, Some(PathBuf::from("/tmp/t.csv")));
    }

    #[test]
    fn errors_name_line_and_key() {
        let root = format!("[http]\nroot = {:?}\n", env!("CARGO_MANIFEST_DIR"));
        let cases = [
            (
                "[status]\npath = \"_tapir\"\n",
                "/etc/tapir/tapir.toml:4: key `status.path`",
            ),
            (
                "[status]\nallow = [\"10.0.0.0/33\"]\n",
                "/etc/tapir/tapir.toml:4: key `status.allow`: \"10.0.0.0/33\": prefix",
            ),
            (
                "[control]\nshutdown_timeout = \"0s\"\n",
                "/etc/tapir/tapir.toml:4: key `control.shutdown_timeout`",
            ),
            (
                "[net]\npcap_max_bytes = 10\n",
                "/etc/tapir/tapir.toml:4: key `net.pcap_max_bytes`",
            ),
            (
                "[net]\npcap = \"\"\n",
                "/etc/tapir/tapir.toml:4: key `net.pcap`: must be \"off\"",
            ),
            (
                "[trace]\nconnection = \"x\"\n",
                "/etc/tapir/tapir.toml:4: key `trace.connection`: unknown key",
            ),
        ];
        for (text, want) in cases {
            let err = parse(&format!("{root}{text}")).unwrap_err();
            assert!(err.starts_with(want), "{err}\nwanted {want}");
        }
    }
}
