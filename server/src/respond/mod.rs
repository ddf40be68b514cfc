//! Protocol-neutral responses: what to answer, not how to frame it.
//!
//! Job: given a [`Request`] (method, target, and the header fields that
//! shape a static response), decide the status, the header values and
//! where the body comes from. HTTP/1.1 (`conn::h1`) frames the result
//! today; HTTP/2 will reuse it unchanged: nothing here knows about framing,
//! connection headers or field-name case on the wire.
//!
//! Parts: [`files`] (the site: lookup, cache, the order of decisions),
//! `cond` (RFC 9110 §13 preconditions), `range` (§14 ranges and
//! `multipart/byteranges`), `encoding` (gzip negotiation and compression),
//! `path` (target normalisation), `autoindex` (listings), [`options`]
//! (the configured behaviour).
//!
//! Contract:
//! - [`Site::resolve`] never panics on any request bytes and never serves
//!   anything outside the site root (see [`files`]).
//! - A protocol fills a [`Request`] with [`Request::add_field`] for each
//!   received field, writes the head with [`Response::for_each_field`], and
//!   the body with [`Body::read_at`]; none of them allocates.
//! - A [`Response`] owns everything it needs (`Rc` clones of cached bytes or
//!   of an open file), so the connection can send it over many writes.
//! - `headers.content_length` is the length of the selected representation.
//!   For `HEAD` the body is [`Body::Empty`] while `content_length` still says
//!   how long a `GET` body would be (RFC 9110 §9.3.2). 204 and 304 have no
//!   body and no `Content-Length` field.
//! - Nothing here reads a clock: the current second comes in as
//!   `now_unix_secs`.

mod autoindex;
mod cond;
mod encoding;
pub mod files;
pub mod options;
mod path;
mod range;

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::rc::Rc;

use crate::date::HttpDate;

pub use files::{CacheLimits, CacheStats, Site};
pub use options::{CacheRule, Expiry, FollowSymlinks, Redirect, SiteOptions};

/// The request method, as far as responses care (RFC 9110 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// `GET`.
    #[default]
    Get,
    /// `HEAD`: `GET`'s headers without the body.
    Head,
    /// `OPTIONS`: answered with 204 and `Allow`.
    Options,
    /// `POST`, answered with 405.
    Post,
    /// `PUT`, answered with 405.
    Put,
    /// `DELETE`, answered with 405.
    Delete,
    /// `PATCH` (RFC 5789), answered with 405.
    Patch,
    /// `CONNECT`, answered with 405.
    Connect,
    /// `TRACE`, answered with 405.
    Trace,
    /// A method token we do not know; answered with 501 (RFC 9110 §9.1).
    Other,
}

impl Method {
    /// Classifies a method token. Methods are case-sensitive (RFC 9110 §9.1).
    pub fn from_bytes(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"OPTIONS" => Method::Options,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"PATCH" => Method::Patch,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            _ => Method::Other,
        }
    }

    /// `GET` or `HEAD`: the methods that read a file.
    pub fn is_get_or_head(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

/// The `Allow` value for every resource we serve.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// One request as responses see it, whatever protocol carried it.
///
/// Header values are the raw field values with surrounding whitespace
/// removed; a field that appears more than once is combined into one
/// comma-separated value in order (RFC 9110 §5.3), which is the only place
/// that allocates. Fields responses do not use are not kept. Fill it with
/// [`Request::new`] and [`Request::add_field`] for each received field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The raw request target (origin-form `/a%20b?q`, absolute-form, `*`).
    pub target: &'a [u8],
    /// `If-Match` (RFC 9110 §13.1.1).
    pub if_match: Option<Cow<'a, [u8]>>,
    /// `If-None-Match` (§13.1.2).
    pub if_none_match: Option<Cow<'a, [u8]>>,
    /// `If-Modified-Since` (§13.1.3).
    pub if_modified_since: Option<Cow<'a, [u8]>>,
    /// `If-Unmodified-Since` (§13.1.4).
    pub if_unmodified_since: Option<Cow<'a, [u8]>>,
    /// `If-Range` (§13.1.5).
    pub if_range: Option<Cow<'a, [u8]>>,
    /// `Range` (§14.2).
    pub range: Option<Cow<'a, [u8]>>,
    /// `Accept-Encoding` (§12.5.3).
    pub accept_encoding: Option<Cow<'a, [u8]>>,
}

impl<'a> Request<'a> {
    /// A request without header fields.
    pub fn new(method: Method, target: &'a [u8]) -> Request<'a> {
        Request {
            method,
            target,
            ..Request::default()
        }
    }

    /// Records one received field line. Names are case-insensitive; unknown
    /// names are ignored; a repeated field is appended with `", "`
    /// (RFC 9110 §5.3).
    pub fn add_field(&mut self, name: &[u8], value: &'a [u8]) {
        let slot = match name.len() {
            5 if name.eq_ignore_ascii_case(b"range") => &mut self.range,
            8 if name.eq_ignore_ascii_case(b"if-match") => &mut self.if_match,
            8 if name.eq_ignore_ascii_case(b"if-range") => &mut self.if_range,
            13 if name.eq_ignore_ascii_case(b"if-none-match") => &mut self.if_none_match,
            15 if name.eq_ignore_ascii_case(b"accept-encoding") => &mut self.accept_encoding,
            17 if name.eq_ignore_ascii_case(b"if-modified-since") => &mut self.if_modified_since,
            19 if name.eq_ignore_ascii_case(b"if-unmodified-since") => {
                &mut self.if_unmodified_since
            }
            _ => return,
        };
        let value = trim_ows(value);
        match slot {
            None => *slot = Some(Cow::Borrowed(value)),
            Some(old) => {
                let old = old.to_mut();
                old.extend_from_slice(b", ");
                old.extend_from_slice(value);
            }
        }
    }
}

/// Strips optional whitespace (SP, HTAB) from both ends (RFC 9110 §5.6.3).
pub(crate) fn trim_ows(v: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = v.iter().position(|b| !is_ws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !is_ws(b)).map_or(start, |i| i + 1);
    &v[start..end]
}

/// A `Content-Type` value: a static string for the common types, shared
/// text for the rest. Cloning never allocates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentType {
    /// A value known at compile time.
    Static(&'static str),
    /// A value built at run time (a text type with `; charset=utf-8`).
    Shared(Rc<str>),
}

impl ContentType {
    /// `text/html; charset=utf-8`, used by error pages.
    pub const HTML: ContentType = ContentType::Static("text/html; charset=utf-8");

    /// The header value.
    pub fn as_str(&self) -> &str {
        match self {
            ContentType::Static(s) => s,
            ContentType::Shared(s) => s,
        }
    }
}

/// The header values a response carries besides the protocol's own
/// (`Date`, `Server`, `Connection` are the connection's business).
/// Write them with [`Response::for_each_field`]. Every value is ASCII
/// without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers {
    /// `Content-Type`.
    pub content_type: Option<ContentType>,
    /// `Content-Length`: length of the selected representation (also for
    /// `HEAD`); not sent with 1xx, 204 and 304 (RFC 9110 §8.6).
    pub content_length: u64,
    /// `Content-Encoding` (`gzip`).
    pub content_encoding: Option<&'static str>,
    /// `Content-Range` (with 206, and 416's `bytes */LEN`).
    pub content_range: Option<Box<str>>,
    /// `Last-Modified`.
    pub last_modified: Option<HttpDate>,
    /// `ETag`, with its quotes (and `W/` if weak).
    pub etag: Option<Rc<str>>,
    /// `Cache-Control`.
    pub cache_control: Option<Rc<str>>,
    /// `Expires`.
    pub expires: Option<HttpDate>,
    /// `Vary`.
    pub vary: Option<&'static str>,
    /// `Accept-Ranges`.
    pub accept_ranges: Option<&'static str>,
    /// `Allow` (with 405, 204 to `OPTIONS`, 501).
    pub allow: Option<&'static str>,
    /// `Location` (with 3xx).
    pub location: Option<Box<str>>,
}

/// One piece of a [`Body::Parts`] body.
#[derive(Debug, Clone)]
pub enum Part {
    /// `len` bytes of `bytes` from `offset`.
    Bytes {
        /// Shared bytes (cached file contents, or multipart part headers).
        bytes: Rc<[u8]>,
        /// First byte.
        offset: usize,
        /// Number of bytes.
        len: usize,
    },
    /// `len` bytes of an open file from `offset` (read at send time).
    File {
        /// The open file, shared with the file cache.
        file: Rc<File>,
        /// First byte.
        offset: u64,
        /// Number of bytes.
        len: u64,
    },
}

impl Part {
    fn len(&self) -> u64 {
        match self {
            Part::Bytes { len, .. } => *len as u64,
            Part::File { len, .. } => *len,
        }
    }

    /// Copies the part's bytes `[at, at + dst.len())` into `dst`.
    fn read_at(&self, at: u64, dst: &mut [u8]) -> io::Result<()> {
        match self {
            Part::Bytes { bytes, offset, len } => {
                let at = usize::try_from(at).map_err(|_| io::ErrorKind::UnexpectedEof)?;
                let src = bytes
                    .get(*offset..offset + len)
                    .and_then(|s| s.get(at..at.checked_add(dst.len())?))
                    .ok_or(io::ErrorKind::UnexpectedEof)?;
                dst.copy_from_slice(src);
                Ok(())
            }
            // pread: the file position is shared by every response using
            // this cached file, so never use it.
            Part::File { file, offset, .. } => file.read_exact_at(dst, offset + at),
        }
    }
}

/// Where the body bytes come from. Nothing here holds a large file in
/// memory: files are read in pieces at send time with [`Body::read_at`].
#[derive(Debug, Clone)]
pub enum Body {
    /// No body (HEAD, or a status without one).
    Empty,
    /// Bytes compiled into the binary (error pages).
    Static(&'static [u8]),
    /// Bytes in memory, shared with the file cache.
    Bytes(Rc<[u8]>),
    /// `len` bytes of an open file from `offset`: read (pread) in chunks at
    /// send time, never loaded whole.
    File {
        /// The open file, shared with the file cache.
        file: Rc<File>,
        /// First byte to send.
        offset: u64,
        /// Number of bytes to send.
        len: u64,
    },
    /// Pieces sent one after another (a `multipart/byteranges` body, or a
    /// slice of cached bytes).
    Parts {
        /// The pieces, in order.
        parts: Rc<[Part]>,
        /// Their total length.
        len: u64,
    },
}

impl Body {
    /// Number of body bytes to send.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Static(b) => b.len() as u64,
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } | Body::Parts { len, .. } => *len,
        }
    }

    /// True if there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A body made of `parts`.
    pub fn parts(parts: Vec<Part>) -> Body {
        let len = parts.iter().map(Part::len).sum();
        Body::Parts {
            parts: parts.into(),
            len,
        }
    }

    /// Copies body bytes `[pos, pos + dst.len())` into `dst`: files are
    /// read with `pread`, so many responses can share one open file. An
    /// error (a file that shrank, a read failure, a range past the end)
    /// means the body cannot be completed.
    pub fn read_at(&self, pos: u64, dst: &mut [u8]) -> io::Result<()> {
        let from = usize::try_from(pos).unwrap_or(usize::MAX);
        let src: &[u8] = match self {
            Body::Empty => &[],
            Body::Static(b) => b,
            Body::Bytes(b) => b,
            Body::File { file, offset, len } => {
                if pos.saturating_add(dst.len() as u64) > *len {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                return file.read_exact_at(dst, offset + pos);
            }
            Body::Parts { parts, .. } => {
                let mut start = 0u64;
                let mut pos = pos;
                let mut dst = dst;
                for part in parts.iter() {
                    let end = start + part.len();
                    if pos < end && !dst.is_empty() {
                        let k = usize::try_from(end - pos)
                            .unwrap_or(usize::MAX)
                            .min(dst.len());
                        let (now, rest) = dst.split_at_mut(k);
                        part.read_at(pos - start, now)?;
                        pos += k as u64;
                        dst = rest;
                    }
                    start = end;
                }
                return if dst.is_empty() {
                    Ok(())
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        };
        let end = from.checked_add(dst.len());
        match end.and_then(|end| src.get(from..end)) {
            Some(s) => {
                dst.copy_from_slice(s);
                Ok(())
            }
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

/// A complete answer to one request.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code (RFC 9110 §15).
    pub status: u16,
    /// Header values.
    pub headers: Headers,
    /// Body source.
    pub body: Body,
}

impl Response {
    /// The error (or redirect) page for `status`: a small HTML body.
    /// For `HEAD`, callers drop the body with [`Response::into_head`].
    pub fn error(status: u16) -> Response {
        let page = page(status).as_bytes();
        Response {
            status,
            headers: Headers {
                content_type: Some(ContentType::HTML),
                content_length: page.len() as u64,
                ..Headers::default()
            },
            body: Body::Static(page),
        }
    }

    /// The same response without its body (for `HEAD`); the headers keep
    /// the length a `GET` would get.
    pub fn into_head(mut self) -> Response {
        self.body = Body::Empty;
        self
    }

    /// Calls `f(name, value)` for each header field in a fixed order, with
    /// names in their registered capitalisation (HTTP/2 lower-cases them).
    /// `Content-Length` is left out where RFC 9110 §8.6 forbids or advises
    /// against it (1xx, 204, 304). Allocates nothing.
    pub fn for_each_field(&self, mut f: impl FnMut(&'static str, &[u8])) {
        let h = &self.headers;
        if let Some(ct) = &h.content_type {
            f("Content-Type", ct.as_str().as_bytes());
        }
        if !matches!(self.status, 100..=199 | 204 | 304) {
            let mut num = itoa::Buffer::new();
            f("Content-Length", num.format(h.content_length).as_bytes());
        }
        if let Some(v) = h.content_encoding {
            f("Content-Encoding", v.as_bytes());
        }
        if let Some(v) = &h.content_range {
            f("Content-Range", v.as_bytes());
        }
        if let Some(v) = &h.last_modified {
            f("Last-Modified", v.as_bytes());
        }
        if let Some(v) = &h.etag {
            f("ETag", v.as_bytes());
        }
        if let Some(v) = &h.cache_control {
            f("Cache-Control", v.as_bytes());
        }
        if let Some(v) = &h.expires {
            f("Expires", v.as_bytes());
        }
        if let Some(v) = h.vary {
            f("Vary", v.as_bytes());
        }
        if let Some(v) = h.accept_ranges {
            f("Accept-Ranges", v.as_bytes());
        }
        if let Some(v) = &h.location {
            f("Location", v.as_bytes());
        }
        if let Some(v) = h.allow {
            f("Allow", v.as_bytes());
        }
    }
}

/// Generates [`reason`] and [`page`] from one table so they cannot drift.
macro_rules! statuses {
    ($($code:literal $reason:literal,)*) => {
        /// The reason phrase for `status` (RFC 9110 §15), `""` if unknown.
        pub fn reason(status: u16) -> &'static str {
            match status {
                $($code => $reason,)*
                _ => "",
            }
        }

        /// The HTML page sent with an error or redirect status.
        pub fn page(status: u16) -> &'static str {
            match status {
                $($code => concat!(
                    "<!DOCTYPE html>\n<html><head><title>", $code, " ", $reason,
                    "</title></head>\n<body><h1>", $code, " ", $reason,
                    "</h1><hr><p>tapir</p></body></html>\n"
                ),)*
                _ => "<!DOCTYPE html>\n<html><head><title>error</title></head>\n\
                      <body><h1>error</h1><hr><p>tapir</p></body></html>\n",
            }
        }
    };
}

statuses! {
    100 "Continue",
    200 "OK",
    204 "No Content",
    206 "Partial Content",
    301 "Moved Permanently",
    302 "Found",
    303 "See Other",
    304 "Not Modified",
    307 "Temporary Redirect",
    308 "Permanent Redirect",
    400 "Bad Request",
    403 "Forbidden",
    404 "Not Found",
    405 "Method Not Allowed",
    408 "Request Timeout",
    411 "Length Required",
    412 "Precondition Failed",
    413 "Content Too Large",
    414 "URI Too Long",
    416 "Range Not Satisfiable",
    431 "Request Header Fields Too Large",
    500 "Internal Server Error",
    501 "Not Implemented",
    503 "Service Unavailable",
    505 "HTTP Version Not Supported",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_are_small_html() {
        let r = Response::error(404);
        assert_eq!(r.status, 404);
        assert_eq!(r.headers.content_type, Some(ContentType::HTML));
        let Body::Static(b) = r.body else {
            panic!("static body expected")
        };
        assert_eq!(r.headers.content_length, b.len() as u64);
        assert!(std::str::from_utf8(b)
            .unwrap()
            .contains("<title>404 Not Found</title>"));
        let head = Response::error(404).into_head();
        assert!(head.body.is_empty());
        assert_eq!(head.headers.content_length, b.len() as u64);
    }

    #[test]
    fn methods_are_case_sensitive() {
        assert_eq!(Method::from_bytes(b"GET"), Method::Get);
        assert_eq!(Method::from_bytes(b"HEAD"), Method::Head);
        assert_eq!(Method::from_bytes(b"get"), Method::Other);
        assert_eq!(Method::from_bytes(b"POST"), Method::Post);
        assert_eq!(Method::from_bytes(b"OPTIONS"), Method::Options);
        assert_eq!(Method::from_bytes(b"BREW"), Method::Other);
        assert_eq!(reason(431), "Request Header Fields Too Large");
        assert_eq!(reason(999), "");
    }

    #[test]
    fn request_fields_are_matched_trimmed_and_combined() {
        let mut r = Request::new(Method::Get, b"/");
        r.add_field(b"IF-NONE-MATCH", b" \"a\" ");
        r.add_field(b"if-none-match", b"\"b\"\t");
        r.add_field(b"Range", b"bytes=0-1");
        r.add_field(b"Accept-Encoding", b"gzip");
        r.add_field(b"X-Other", b"ignored");
        r.add_field(b"If-Match", b"");
        assert_eq!(r.if_none_match.as_deref(), Some(&b"\"a\", \"b\""[..]));
        assert!(matches!(r.range, Some(Cow::Borrowed(b"bytes=0-1"))));
        assert_eq!(r.accept_encoding.as_deref(), Some(&b"gzip"[..]));
        assert_eq!(r.if_match.as_deref(), Some(&b""[..]));
        assert_eq!(r.if_range, None);
    }

    #[test]
    fn fields_in_order_and_no_length_on_204_304() {
        let mut r = Response::error(404);
        r.headers.etag = Some("\"x\"".into());
        r.headers.allow = Some(ALLOW);
        let mut seen = Vec::new();
        r.for_each_field(|n, v| seen.push(format!("{n}: {}", String::from_utf8_lossy(v))));
        assert_eq!(
            seen,
            [
                "Content-Type: text/html; charset=utf-8".to_owned(),
                format!("Content-Length: {}", page(404).len()),
                "ETag: \"x\"".to_owned(),
                "Allow: GET, HEAD, OPTIONS".to_owned(),
            ]
        );
        for status in [204, 304] {
            r.status = status;
            let mut names = Vec::new();
            r.for_each_field(|n, _| names.push(n));
            assert!(!names.contains(&"Content-Length"), "{status}");
        }
    }

    #[test]
    fn parts_read_across_boundaries() {
        let a: Rc<[u8]> = b"0123456789".to_vec().into();
        let body = Body::parts(vec![
            Part::Bytes {
                bytes: a.clone(),
                offset: 2,
                len: 3,
            },
            Part::Bytes {
                bytes: a,
                offset: 7,
                len: 3,
            },
        ]);
        assert_eq!(body.len(), 6);
        let mut v = [0; 4];
        body.read_at(1, &mut v).unwrap();
        assert_eq!(&v, b"3478");
        assert!(body.read_at(3, &mut v).is_err());
        let mut all = [0; 6];
        body.read_at(0, &mut all).unwrap();
        assert_eq!(&all, b"234789");
        assert!(Body::Static(b"ab").read_at(1, &mut [0; 2]).is_err());
        assert!(Body::Empty.read_at(0, &mut []).is_ok());
    }
}
