//! The access log: one line per response in nginx's "combined" format.
//!
//! Job: turn finished responses into log lines and get them to a file or
//! stdout without a syscall per request.
//!
//! Contract:
//! - [`AccessLog`] is sans-IO: connections append records to its buffer
//!   through [`crate::conn::ServeCtx`]; it never touches a file or a clock
//!   (the driver passes the wall-clock second to [`AccessLog::set_time`]).
//!   Formatting writes into the one reused buffer: nothing is allocated per
//!   request once the buffer has grown.
//! - [`LogSink`] is the I/O half, used only by the driver: it writes the
//!   buffer out when it holds [`FLUSH_AT`] bytes and at least once a second,
//!   and reopens its file on SIGUSR1 (log rotation, as `nginx -s reopen`).
//!   Write errors are reported (rate-limited) and the lines dropped; serving
//!   never stops for the log.
//! - Line format (nginx `log_format combined`):
//!   `$remote_addr - - [$time_local] "$request" $status $body_bytes_sent
//!   "$http_referer" "$http_user_agent"`, with `-` for an empty value and
//!   `"`, `\` and bytes outside printable ASCII escaped as `\xHH` (as
//!   nginx does). `$time_local` is UTC: `01/Dec/2026:05:30:00 +0000`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::PathBuf;

use tracing::warn;

use crate::config::AccessLogTarget;

/// Buffered bytes at which the driver writes the buffer out.
pub const FLUSH_AT: usize = 32 * 1024;
/// Length of `$time_local`: `01/Dec/2026:05:30:00 +0000`.
const TIME_LEN: usize = 26;

/// The sans-IO half: a buffer of finished log lines.
#[derive(Debug)]
pub struct AccessLog {
    enabled: bool,
    buf: Vec<u8>,
    time_secs: u64,
    time: [u8; TIME_LEN],
}

impl AccessLog {
    /// An access log that records lines if `enabled`.
    pub fn new(enabled: bool) -> AccessLog {
        let mut log = AccessLog {
            enabled,
            buf: Vec::new(),
            time_secs: u64::MAX,
            time: [b' '; TIME_LEN],
        };
        if enabled {
            log.buf.reserve(2 * FLUSH_AT);
        }
        log.set_time(0);
        log
    }

    /// A disabled log (records nothing).
    pub fn off() -> AccessLog {
        AccessLog::new(false)
    }

    /// True if records are kept; connections skip all log work otherwise.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The wall-clock second for `$time_local`; formats only on change.
    pub fn set_time(&mut self, unix_secs: u64) {
        if unix_secs != self.time_secs {
            self.time_secs = unix_secs;
            self.time = time_local(unix_secs);
        }
    }

    /// Appends one line. `request` (the request line), `referer` and
    /// `user_agent` are raw bytes from the request, escaped here; empty
    /// means `-`.
    pub fn record(
        &mut self,
        peer: Ipv4Addr,
        request: &[u8],
        status: u16,
        body_bytes_sent: u64,
        referer: &[u8],
        user_agent: &[u8],
    ) {
        if !self.enabled {
            return;
        }
        let b = &mut self.buf;
        let mut num = itoa::Buffer::new();
        for (i, octet) in peer.octets().iter().enumerate() {
            if i > 0 {
                b.push(b'.');
            }
            b.extend_from_slice(num.format(*octet).as_bytes());
        }
        b.extend_from_slice(b" - - [");
        b.extend_from_slice(&self.time);
        b.extend_from_slice(b"] \"");
        escape_into(b, request);
        b.extend_from_slice(b"\" ");
        b.extend_from_slice(num.format(status).as_bytes());
        b.push(b' ');
        b.extend_from_slice(num.format(body_bytes_sent).as_bytes());
        b.extend_from_slice(b" \"");
        escape_into(b, referer);
        b.extend_from_slice(b"\" \"");
        escape_into(b, user_agent);
        b.extend_from_slice(b"\"\n");
    }

    /// The buffered lines.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets the buffered lines (after they were written), keeping the
    /// buffer's memory.
    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

/// Appends `v` with nginx's log escaping; `-` if empty.
fn escape_into(out: &mut Vec<u8>, v: &[u8]) {
    if v.is_empty() {
        out.push(b'-');
        return;
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in v {
        if c == b'"' || c == b'\\' || !(0x20..0x7f).contains(&c) {
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]);
        } else {
            out.push(c);
        }
    }
}

/// `$time_local` for `unix_secs`, in UTC: `01/Dec/2026:05:30:00 +0000`.
fn time_local(unix_secs: u64) -> [u8; TIME_LEN] {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let two = |n: u64| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
    let mut t = [b' '; TIME_LEN];
    t[0..2].copy_from_slice(&two(day));
    t[2] = b'/';
    t[3..6].copy_from_slice(MONTHS[(month - 1) as usize % 12]);
    t[6] = b'/';
    let y = year.min(9999);
    t[7..9].copy_from_slice(&two(y / 100));
    t[9..11].copy_from_slice(&two(y % 100));
    t[11] = b':';
    t[12..14].copy_from_slice(&two(secs / 3600));
    t[14] = b':';
    t[15..17].copy_from_slice(&two(secs / 60 % 60));
    t[17] = b':';
    t[18..20].copy_from_slice(&two(secs % 60));
    t[20..26].copy_from_slice(b" +0000");
    t
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic
/// Gregorian (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The I/O half, owned by the driver: where buffered lines are written.
#[derive(Debug)]
pub enum LogSink {
    /// Logging is off.
    Off,
    /// Standard output.
    Stdout,
    /// A file opened for appending, and its path for reopening.
    File {
        /// The open file.
        file: File,
        /// Its path.
        path: PathBuf,
    },
}

impl LogSink {
    /// Opens the target `access_log` names (creating the file).
    pub fn open(target: &AccessLogTarget) -> io::Result<LogSink> {
        Ok(match target {
            AccessLogTarget::Off => LogSink::Off,
            AccessLogTarget::Stdout => LogSink::Stdout,
            AccessLogTarget::File(path) => LogSink::File {
                file: open_append(path)?,
                path: path.clone(),
            },
        })
    }

    /// Writes out and clears `log`'s buffer. On error the lines are
    /// dropped and the error returned.
    pub fn flush(&mut self, log: &mut AccessLog) -> io::Result<()> {
        let bytes = log.pending();
        if bytes.is_empty() {
            return Ok(());
        }
        let result = match self {
            LogSink::Off => Ok(()),
            LogSink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            LogSink::File { file, .. } => file.write_all(bytes),
        };
        log.clear();
        result
    }

    /// Opens the file again under its path (after a rotation moved it);
    /// keeps the old one if that fails.
    pub fn reopen(&mut self) {
        if let LogSink::File { file, path } = self {
            match open_append(path) {
                Ok(f) => *file = f,
                Err(e) => warn!(path = %path.display(), error = %e, "cannot reopen access log"),
            }
        }
    }
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_local_is_nginx_format_in_utc() {
        assert_eq!(&time_local(0), b"01/Jan/1970:00:00:00 +0000");
        // 2026-12-01T05:30:00Z
        assert_eq!(&time_local(1_796_103_000), b"01/Dec/2026:05:30:00 +0000");
        // A leap day.
        assert_eq!(&time_local(951_782_400), b"29/Feb/2000:00:00:00 +0000");
        assert_eq!(&time_local(1_700_000_000), b"14/Nov/2023:22:13:20 +0000");
    }

    #[test]
    fn combined_line_with_escaping_and_dashes() {
        let mut log = AccessLog::new(true);
        log.set_time(1_700_000_000);
        log.record(
            Ipv4Addr::new(10, 7, 0, 1),
            b"GET /a\"b\\c\x01\xff HTTP/1.1",
            200,
            1024,
            b"",
            b"curl/7.88.1",
        );
        assert_eq!(
            std::str::from_utf8(log.pending()).unwrap(),
            "10.7.0.1 - - [14/Nov/2023:22:13:20 +0000] \"GET /a\\x22b\\x5Cc\\x01\\xFF HTTP/1.1\" \
             200 1024 \"-\" \"curl/7.88.1\"\n"
        );
        log.clear();
        assert!(log.pending().is_empty());
        let mut off = AccessLog::off();
        off.record(Ipv4Addr::LOCALHOST, b"GET / HTTP/1.1", 200, 1, b"", b"");
        assert!(off.pending().is_empty());
    }
}
