//! Byte ranges (RFC 9110 §14): parsing `Range` and building 206 bodies.
//!
//! Job: turn a `Range` field value and a representation length into the
//! byte ranges to send, and lay out a `multipart/byteranges` body
//! (§14.6) whose length is known before the first byte is sent.
//!
//! Contract:
//! - [`parse`] never panics. A value that is not a valid `bytes` ranges
//!   specifier is [`Ranges::Ignore`]d (§14.2: the server serves 200, as if
//!   there were no `Range`); so is a unit other than `bytes`, and a set of
//!   more than [`MAX_RANGES`] ranges (§14.2 allows ignoring them).
//! - Satisfiable ranges are clamped to the representation; overlapping or
//!   adjacent ranges are coalesced (§15.3.7.2 allows it; then the parts
//!   come in ascending order), otherwise the request's order is kept.
//! - [`multipart`] returns parts whose lengths add up exactly to the body
//!   length that goes in `Content-Length`; file data stays in the file.

use std::ops::Range;
use std::rc::Rc;

use super::Part;

/// Most range-specs honoured in one `Range`; more and the header is ignored
/// (a flood of tiny ranges costs far more to answer than to ask).
pub(crate) const MAX_RANGES: usize = 100;

/// What a `Range` field asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ranges {
    /// Invalid or not understood: answer 200 with the whole representation.
    Ignore,
    /// Valid, but no range overlaps the representation: 416.
    Unsatisfiable,
    /// These byte ranges (half-open, non-empty, within the length).
    Satisfiable(Vec<Range<u64>>),
}

/// Parses `value` (e.g. `bytes=0-99, -500`) against a representation of
/// `len` bytes (RFC 9110 §14.1.1).
pub(crate) fn parse(value: &[u8], len: u64) -> Ranges {
    let value = super::trim_ows(value);
    let Some(eq) = value.iter().position(|&b| b == b'=') else {
        return Ranges::Ignore;
    };
    // Range units are case-insensitive (§14.1).
    if !value[..eq].eq_ignore_ascii_case(b"bytes") {
        return Ranges::Ignore;
    }
    let mut out = Vec::new();
    let mut specs = 0;
    for spec in value[eq + 1..].split(|&b| b == b',') {
        let spec = super::trim_ows(spec);
        if spec.is_empty() {
            continue; // empty list elements are allowed (§5.6.1)
        }
        specs += 1;
        if specs > MAX_RANGES {
            return Ranges::Ignore;
        }
        let Some(dash) = spec.iter().position(|&b| b == b'-') else {
            return Ranges::Ignore;
        };
        let (first, last) = (&spec[..dash], &spec[dash + 1..]);
        if first.is_empty() {
            // suffix-range: the last N bytes; satisfiable if N > 0 (§14.1.3).
            let Some(n) = number(last) else {
                return Ranges::Ignore;
            };
            if n > 0 && len > 0 {
                out.push(len - n.min(len)..len);
            }
            continue;
        }
        let Some(first) = number(first) else {
            return Ranges::Ignore;
        };
        let last = if last.is_empty() {
            None
        } else {
            match number(last) {
                Some(l) if l >= first => Some(l),
                // last < first makes the whole specifier invalid (§14.1.1).
                _ => return Ranges::Ignore,
            }
        };
        if first < len {
            let end = last.map_or(len, |l| l.saturating_add(1).min(len));
            out.push(first..end);
        }
    }
    if specs == 0 {
        return Ranges::Ignore;
    }
    if out.is_empty() {
        return Ranges::Unsatisfiable;
    }
    Ranges::Satisfiable(coalesce(out))
}

/// `1*DIGIT`; saturates instead of overflowing (a huge first-pos is simply
/// past the end, a huge last-pos or suffix means "to the end").
fn number(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Keeps the request's order unless some ranges overlap or touch; then
/// sorts and merges them all (RFC 9110 §15.3.7.2).
fn coalesce(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    let mut sorted: Vec<&Range<u64>> = ranges.iter().collect();
    sorted.sort_by_key(|r| r.start);
    if sorted.windows(2).all(|w| w[0].end < w[1].start) {
        return ranges;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// `bytes FIRST-LAST/LEN` for a 206 (or a multipart part).
pub(crate) fn content_range(r: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", r.start, r.end - 1)
}

/// Where a representation's bytes are, to cut ranges from.
pub(crate) enum Source<'a> {
    /// In memory.
    Bytes(&'a Rc<[u8]>),
    /// In an open file.
    File(&'a Rc<std::fs::File>),
}

impl Source<'_> {
    /// The part holding bytes `r` of the representation.
    pub(crate) fn part(&self, r: &Range<u64>) -> Part {
        match self {
            // `r` lies within the in-memory length, so within usize.
            Source::Bytes(b) => Part::Bytes {
                bytes: Rc::clone(b),
                offset: usize::try_from(r.start).unwrap_or(usize::MAX),
                len: usize::try_from(r.end - r.start).unwrap_or(0),
            },
            Source::File(f) => Part::File {
                file: Rc::clone(f),
                offset: r.start,
                len: r.end - r.start,
            },
        }
    }
}

/// The parts of a `multipart/byteranges` body (RFC 9110 §14.6) with
/// `boundary`, one part per range, each with its own `Content-Type` and
/// `Content-Range`. Laid out as nginx does: every delimiter is preceded by
/// CRLF (the first one after an empty preamble), and the close delimiter
/// ends with CRLF. All part headers share one allocation.
pub(crate) fn multipart(
    ranges: &[Range<u64>],
    len: u64,
    content_type: &str,
    boundary: &str,
    source: &Source,
) -> Vec<Part> {
    let mut text = Vec::new();
    let mut spans = Vec::with_capacity(ranges.len() + 1);
    for r in ranges {
        let start = text.len();
        text.extend_from_slice(b"\r\n--");
        text.extend_from_slice(boundary.as_bytes());
        text.extend_from_slice(b"\r\nContent-Type: ");
        text.extend_from_slice(content_type.as_bytes());
        text.extend_from_slice(b"\r\nContent-Range: ");
        text.extend_from_slice(content_range(r, len).as_bytes());
        text.extend_from_slice(b"\r\n\r\n");
        spans.push(start..text.len());
    }
    let start = text.len();
    text.extend_from_slice(b"\r\n--");
    text.extend_from_slice(boundary.as_bytes());
    text.extend_from_slice(b"--\r\n");
    spans.push(start..text.len());

    let text: Rc<[u8]> = text.into();
    let head = |s: &Range<usize>| Part::Bytes {
        bytes: Rc::clone(&text),
        offset: s.start,
        len: s.end - s.start,
    };
    let mut parts = Vec::with_capacity(2 * ranges.len() + 1);
    for (r, s) in ranges.iter().zip(&spans) {
        parts.push(head(s));
        parts.push(source.part(r));
    }
    if let Some(s) = spans.last() {
        parts.push(head(s));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::super::Body;
    use super::*;
    use proptest::prelude::*;

    fn sat(v: &str, len: u64) -> Vec<(u64, u64)> {
        match parse(v.as_bytes(), len) {
            Ranges::Satisfiable(r) => r.into_iter().map(|r| (r.start, r.end)).collect(),
            other => panic!("{v}: {other:?}"),
        }
    }

    #[test]
    fn single_suffix_and_open_ranges() {
        assert_eq!(sat("bytes=0-499", 1000), [(0, 500)]);
        assert_eq!(sat("bytes=500-", 1000), [(500, 1000)]);
        assert_eq!(sat("bytes=-500", 1000), [(500, 1000)]);
        assert_eq!(sat("bytes=-5000", 1000), [(0, 1000)]);
        assert_eq!(sat("bytes=900-5000", 1000), [(900, 1000)]);
        assert_eq!(sat("BYTES = 1-1".replace(' ', "").as_str(), 10), [(1, 2)]);
        assert_eq!(sat(" bytes=0-0 ", 1), [(0, 1)]);
        assert_eq!(sat("bytes=0-99999999999999999999999", 10), [(0, 10)]);
    }

    #[test]
    fn several_ranges_keep_order_unless_they_overlap() {
        assert_eq!(sat("bytes=500-599, 0-99", 1000), [(500, 600), (0, 100)]);
        assert_eq!(
            sat("bytes=0-99,,50-149, 900-", 1000),
            [(0, 150), (900, 1000)]
        );
        // Adjacent ranges merge too.
        assert_eq!(sat("bytes=10-19,0-9", 100), [(0, 20)]);
        // Unsatisfiable members are dropped.
        assert_eq!(sat("bytes=0-1, 2000-3000", 1000), [(0, 2)]);
    }

    #[test]
    fn unsatisfiable_and_invalid() {
        assert_eq!(parse(b"bytes=1000-", 1000), Ranges::Unsatisfiable);
        assert_eq!(parse(b"bytes=-0", 1000), Ranges::Unsatisfiable);
        assert_eq!(parse(b"bytes=0-", 0), Ranges::Unsatisfiable);
        assert_eq!(parse(b"bytes=-10", 0), Ranges::Unsatisfiable);
        for bad in [
            "bytes=5-1",
            "bytes=",
            "bytes=,",
            "bytes=abc",
            "bytes=1-2-3",
            "bytes=-",
            "bytes=0x1-2",
            "items=0-1",
            "bytes 0-1",
            "",
            "bytes=0-1, 5-2",
            "bytes=+1-2",
        ] {
            assert_eq!(parse(bad.as_bytes(), 1000), Ranges::Ignore, "{bad}");
        }
        let many = format!("bytes={}", vec!["0-0"; MAX_RANGES + 1].join(","));
        assert_eq!(parse(many.as_bytes(), 1000), Ranges::Ignore);
    }

    #[test]
    fn multipart_layout_is_exact() {
        let data: Rc<[u8]> = (0..=99u8).collect::<Vec<_>>().into();
        let ranges = [0..2, 10..13];
        let parts = multipart(&ranges, 100, "text/plain", "B", &Source::Bytes(&data));
        let body = Body::parts(parts);
        let mut v = vec![0; body.len() as usize];
        body.read_at(0, &mut v).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&v),
            "\r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/100\r\n\r\n\x00\x01\
             \r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-12/100\r\n\r\n\x0a\x0b\x0c\
             \r\n--B--\r\n"
        );
        assert!(body.read_at(1, &mut v).is_err());
        assert_eq!(content_range(&(5..6), 9), "bytes 5-5/9");
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_stays_in_bounds(
            v in proptest::collection::vec(any::<u8>(), 0..40),
            len in 0u64..2000,
        ) {
            let mut value = b"bytes=".to_vec();
            value.extend_from_slice(&v);
            if let Ranges::Satisfiable(rs) = parse(&value, len) {
                prop_assert!(!rs.is_empty());
                for r in rs {
                    prop_assert!(r.start < r.end && r.end <= len);
                }
            }
        }
    }
}
