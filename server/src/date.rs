//! HTTP dates (RFC 9110 §5.6.7), formatted once and copied many times.
//!
//! Job: turn a count of seconds since the Unix epoch into the fixed 29-byte
//! IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`) used by the `Date` and
//! `Last-Modified` headers, and keep the current `Date` value in a
//! [`DateCache`] so the response path copies 29 bytes instead of formatting.
//!
//! Contract: nothing here reads a clock. The driver calls
//! [`DateCache::update`] with the wall-clock second it read; the value is
//! reformatted only when the second changes. Times before the epoch clamp to
//! the epoch and times past year 9999 clamp to its last second, so no input
//! panics.

use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const HTTP_DATE_LEN: usize = 29;

/// The last second an IMF-fixdate can express (9999-12-31T23:59:59Z).
const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// One formatted IMF-fixdate, stored inline (no allocation, `Copy`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HttpDate {
    bytes: [u8; HTTP_DATE_LEN],
}

impl HttpDate {
    /// Formats `unix_secs` (seconds since 1970-01-01T00:00:00Z).
    pub fn from_unix_secs(unix_secs: u64) -> HttpDate {
        let secs = unix_secs.min(MAX_UNIX_SECS);
        let date = httpdate::HttpDate::from(UNIX_EPOCH + Duration::from_secs(secs));
        let mut w = FixedWriter {
            bytes: [b' '; HTTP_DATE_LEN],
            len: 0,
        };
        // NOTE(unwrap): an in-range HttpDate always formats to exactly
        // HTTP_DATE_LEN bytes, so the fixed writer never runs out of room.
        fmt::write(&mut w, format_args!("{date}")).unwrap();
        debug_assert_eq!(w.len, HTTP_DATE_LEN);
        HttpDate { bytes: w.bytes }
    }

    /// The 29 ASCII bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The date as text.
    pub fn as_str(&self) -> &str {
        // The bytes come from httpdate's formatter: always ASCII.
        std::str::from_utf8(&self.bytes).unwrap_or("Thu, 01 Jan 1970 00:00:00 GMT")
    }
}

impl fmt::Debug for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses an HTTP-date in any of the three forms recipients must accept
/// (RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime) into seconds since the
/// epoch; `None` if `value` is not exactly one valid date.
pub fn parse_http_date(value: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(value).ok()?;
    let t = httpdate::parse_http_date(s.trim_matches([' ', '\t'])).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// A `fmt::Write` into a fixed array; fails instead of growing.
struct FixedWriter {
    bytes: [u8; HTTP_DATE_LEN],
    len: usize,
}

impl fmt::Write for FixedWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The current `Date` header value, reformatted at most once per second.
///
/// The driver owns one per event loop, calls [`DateCache::update`] after
/// reading the clock, and lends it to connections through `ServeCtx`.
#[derive(Debug, Clone)]
pub struct DateCache {
    unix_secs: u64,
    date: HttpDate,
}

impl Default for DateCache {
    /// A cache showing the epoch; the driver updates it before first use.
    fn default() -> DateCache {
        DateCache::new(0)
    }
}

impl DateCache {
    /// A cache holding `unix_secs`.
    pub fn new(unix_secs: u64) -> DateCache {
        DateCache {
            unix_secs,
            date: HttpDate::from_unix_secs(unix_secs),
        }
    }

    /// Moves the cache to `unix_secs`; formats only if the second changed.
    /// Call once per loop iteration with the wall clock's second.
    pub fn update(&mut self, unix_secs: u64) {
        if unix_secs != self.unix_secs {
            self.unix_secs = unix_secs;
            self.date = HttpDate::from_unix_secs(unix_secs);
        }
    }

    /// The second the cached value shows.
    pub fn unix_secs(&self) -> u64 {
        self.unix_secs
    }

    /// The formatted value.
    pub fn date(&self) -> &HttpDate {
        &self.date
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc_example() {
        // RFC 9110 §5.6.7's example date.
        assert_eq!(
            HttpDate::from_unix_secs(784_111_777).as_str(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            HttpDate::from_unix_secs(0).as_str(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn parses_all_three_forms() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s.as_bytes()), Some(784_111_777), "{s}");
        }
        assert_eq!(parse_http_date(b"yesterday"), None);
        assert_eq!(parse_http_date(b"\xff\xfe"), None);
        assert_eq!(
            parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT"),
            None
        );
    }

    #[test]
    fn out_of_range_clamps_instead_of_panicking() {
        assert_eq!(
            HttpDate::from_unix_secs(u64::MAX).as_str(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn cache_reformats_only_on_a_new_second() {
        let mut cache = DateCache::new(784_111_777);
        cache.update(784_111_777);
        assert_eq!(cache.date().as_str(), "Sun, 06 Nov 1994 08:49:37 GMT");
        cache.update(784_111_778);
        assert_eq!(cache.unix_secs(), 784_111_778);
        assert_eq!(cache.date().as_str(), "Sun, 06 Nov 1994 08:49:38 GMT");
    }
}
