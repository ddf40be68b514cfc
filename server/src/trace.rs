//! `[trace] connections`: one CSV line per ACK a connection processes,
//! for `tapir plot` and spreadsheets.
//!
//! Columns: `time` (seconds since tapir started, µs precision), `conn`
//! (the peer's address:port), `state`, `snd_una` and `snd_nxt` (relative
//! to the ISS, as Wireshark shows them), `cwnd` and `ssthresh` (bytes;
//! empty while ssthresh is unset), `srtt` and `rto` (milliseconds; srtt
//! empty before the first sample), `in_flight` and `rwnd` (the peer's
//! window, bytes).
//!
//! Contract: [`csv_line`] is pure; [`TraceWriter`] buffers and writes whole
//! lines (at 64 KiB and on [`TraceWriter::flush`], called by the driver at
//! least once a second). Off by default; when off the interface records
//! nothing.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use netstack::iface::AckTrace;

use crate::status::ss_state_name;

/// The CSV header line.
pub const HEADER: &str = "time,conn,state,snd_una,snd_nxt,cwnd,ssthresh,srtt,rto,in_flight,rwnd\n";

/// One event as a CSV line.
pub fn csv_line(t: &AckTrace) -> String {
    let i = &t.info;
    let mut line = String::with_capacity(96);
    let us = t.at.total_micros();
    let _ = write!(
        line,
        "{}.{:06},{},{},{},{},{},",
        us / 1_000_000,
        us % 1_000_000,
        i.tuple.remote,
        ss_state_name(i.state),
        i.snd_una,
        i.snd_nxt,
        i.cwnd
    );
    if i.ssthresh < (u32::MAX as usize) / 2 {
        let _ = write!(line, "{}", i.ssthresh);
    }
    line.push(',');
    if let Some(srtt) = i.srtt {
        let _ = write!(line, "{:.3}", srtt.as_secs_f64() * 1000.0);
    }
    let _ = writeln!(
        line,
        ",{:.3},{},{}",
        i.rto.as_secs_f64() * 1000.0,
        i.in_flight,
        i.snd_wnd
    );
    line
}

/// The trace file being written.
#[derive(Debug)]
pub struct TraceWriter {
    file: File,
    buf: Vec<u8>,
    /// Events written.
    pub events: u64,
}

impl TraceWriter {
    /// Create (truncate) `path` and write the header.
    pub fn create(path: &Path) -> io::Result<TraceWriter> {
        let mut file = File::create(path)?;
        file.write_all(HEADER.as_bytes())?;
        Ok(TraceWriter {
            file,
            buf: Vec::with_capacity(80 * 1024),
            events: 0,
        })
    }

    /// Append events.
    pub fn write(&mut self, events: &[AckTrace]) {
        for e in events {
            self.buf.extend_from_slice(csv_line(e).as_bytes());
        }
        self.events += events.len() as u64;
        if self.buf.len() >= 64 * 1024 {
            self.flush();
        }
    }

    /// Whether lines wait in the buffer.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Write buffered lines out.
    pub fn flush(&mut self) {
        if !self.buf.is_empty() {
            if let Err(e) = self.file.write_all(&self.buf) {
                tracing::warn!(error = %e, "trace write failed; events dropped");
            }
            self.buf.clear();
        }
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use netstack::iface::{Interface, InterfaceConfig};
    use netstack::tcp::SocketAddr;
    use netstack::time::Instant;
    use netstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

    use super::*;

    #[test]
    fn csv_line_has_every_column() {
        let mut iface = Interface::new(InterfaceConfig::new(
            EthernetAddress([2, 0, 0, 0, 0, 2]),
            Ipv4Cidr::new(Ipv4Address([10, 7, 0, 2]), 24),
        ));
        let h = iface
            .connect(
                Instant::ZERO,
                SocketAddr::new(Ipv4Address([10, 7, 0, 1]), 80),
            )
            .unwrap();
        let info = iface.sockets().info(h).unwrap();
        let t = AckTrace {
            at: Instant::from_micros(12_345_678),
            handle: h,
            info,
        };
        let line = csv_line(&t);
        assert_eq!(
            line,
            "12.345678,10.7.0.1:80,SYN-SENT,0,0,5360,,,1000.000,0,0\n"
        );
        assert_eq!(line.split(',').count(), HEADER.split(',').count());
    }
}
