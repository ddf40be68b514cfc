//! `[net] pcap`: every frame in and out of the TAP, in the classic pcap
//! format (libpcap 2.4, microsecond timestamps, LINKTYPE_ETHERNET), as
//! tcpdump -w writes it.
//!
//! Contract: [`global_header`] and [`record_header`] are pure and
//! byte-identical to tcpdump's (tested against a file tcpdump wrote).
//! [`PcapWriter::record`] is O(frame length): it appends to an in-memory
//! buffer that goes to the file in whole records (when 1 MiB is buffered,
//! and on [`PcapWriter::flush`], which the driver calls at least once a
//! second), so tcpdump and Wireshark can read the file while it grows and
//! never see half a record. Beyond `max_bytes` the file is rotated: renamed
//! to `PATH.1` (replacing an older one) and started afresh with a header.
//! Write errors drop frames and are counted, never fatal.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Frames are captured whole up to this length (tcpdump's default).
pub const SNAPLEN: u32 = 262_144;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Buffered bytes that trigger a write.
pub const BUFFER: usize = 1024 * 1024;

/// The 24-byte file header.
pub fn global_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs: 0.
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    h
}

/// The 16-byte header of a record captured `unix_micros` after the epoch,
/// with `captured` of `len` bytes stored.
pub fn record_header(unix_micros: u64, captured: usize, len: usize) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&((unix_micros / 1_000_000) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&((unix_micros % 1_000_000) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(captured as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(len as u32).to_le_bytes());
    h
}

/// A pcap file being written (see the module docs).
#[derive(Debug)]
pub struct PcapWriter {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// Bytes in the current file, buffered ones included.
    size: u64,
    max_bytes: u64,
    /// Frames recorded and frames lost to write errors.
    pub frames: u64,
    pub errors: u64,
}

impl PcapWriter {
    /// Create (truncate) `path` and write the header.
    pub fn create(path: &Path, max_bytes: u64) -> io::Result<PcapWriter> {
        let file = File::create(path)?;
        let mut w = PcapWriter {
            path: path.to_owned(),
            file,
            buf: Vec::with_capacity(BUFFER + 16 * 1024),
            size: 0,
            max_bytes,
            frames: 0,
            errors: 0,
        };
        w.buf.extend_from_slice(&global_header());
        w.size = 24;
        w.flush();
        Ok(w)
    }

    /// Record one frame seen at `unix_micros`.
    pub fn record(&mut self, unix_micros: u64, frame: &[u8]) {
        let captured = frame.len().min(SNAPLEN as usize);
        let need = 16 + captured as u64;
        if self.size + need > self.max_bytes && self.size > 24 {
            self.rotate();
        }
        self.buf
            .extend_from_slice(&record_header(unix_micros, captured, frame.len()));
        self.buf.extend_from_slice(&frame[..captured]);
        self.size += need;
        self.frames += 1;
        if self.buf.len() >= BUFFER {
            self.flush();
        }
    }

    /// Whether records wait in the buffer.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Write buffered records to the file.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            // Count the frames lost (roughly: the buffer's records).
            self.errors += 1;
            tracing::warn!(error = %e, path = %self.path.display(), "pcap write failed; frames dropped");
        }
        self.buf.clear();
    }

    /// Move the file to `PATH.1` and start a new one.
    fn rotate(&mut self) {
        self.flush();
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        let renamed = std::fs::rename(&self.path, &old);
        match File::create(&self.path) {
            Ok(file) if renamed.is_ok() => {
                self.file = file;
                self.buf.extend_from_slice(&global_header());
                self.size = 24;
            }
            _ => {
                self.errors += 1;
                // Keep appending to what we have; try again next time.
                self.size = 24;
            }
        }
    }
}

impl Drop for PcapWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two ICMP echo frames on `lo`, written by `tcpdump -w`.
    const GOLDEN: &[u8] = include_bytes!("../tests/data/ping.pcap");

    /// The records of a pcap file: (micros, captured bytes, original length).
    fn records(file: &[u8]) -> Vec<(u64, Vec<u8>, usize)> {
        let mut out = Vec::new();
        let mut at = 24;
        while at + 16 <= file.len() {
            let u = |i: usize| u32::from_le_bytes(file[at + i..at + i + 4].try_into().unwrap());
            let (sec, usec, cap, len) = (u(0), u(4), u(8) as usize, u(12) as usize);
            out.push((
                u64::from(sec) * 1_000_000 + u64::from(usec),
                file[at + 16..at + 16 + cap].to_vec(),
                len,
            ));
            at += 16 + cap;
        }
        assert_eq!(at, file.len(), "whole records");
        out
    }

    #[test]
    fn headers_match_a_file_tcpdump_wrote() {
        assert_eq!(global_header(), GOLDEN[..24]);
        let recs = records(GOLDEN);
        assert_eq!(recs.len(), 2);
        // Re-encode the same frames: byte for byte the same file.
        let mut ours = global_header().to_vec();
        for (micros, data, len) in &recs {
            ours.extend_from_slice(&record_header(*micros, data.len(), *len));
            ours.extend_from_slice(data);
        }
        assert_eq!(ours, GOLDEN);
    }

    #[test]
    fn writer_buffers_whole_records_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcap");
        let mut w = PcapWriter::create(&path, 24 + 3 * (16 + 100)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), global_header());
        for i in 0..3u8 {
            w.record(1_700_000_000_000_123 + u64::from(i), &[i; 100]);
        }
        // Buffered until flushed.
        assert_eq!(std::fs::read(&path).unwrap().len(), 24);
        w.flush();
        let file = std::fs::read(&path).unwrap();
        let recs = records(&file);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2], (1_700_000_000_000_125, vec![2; 100], 100));
        // The fourth frame does not fit: rotation.
        w.record(1_700_000_001_000_000, &[9; 100]);
        w.flush();
        assert_eq!(
            records(&std::fs::read(dir.path().join("t.pcap.1")).unwrap()).len(),
            3
        );
        let fresh = std::fs::read(&path).unwrap();
        assert_eq!(
            records(&fresh),
            vec![(1_700_000_001_000_000, vec![9; 100], 100)]
        );
        assert_eq!((w.frames, w.errors), (4, 0));
    }

    #[test]
    fn oversized_frames_are_cut_at_snaplen() {
        let h = record_header(1_500_000, SNAPLEN as usize, 300_000);
        assert_eq!(&h[..4], &1u32.to_le_bytes());
        assert_eq!(&h[4..8], &500_000u32.to_le_bytes());
        assert_eq!(&h[12..], &300_000u32.to_le_bytes());
    }
}
