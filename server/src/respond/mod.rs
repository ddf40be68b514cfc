//! Protocol-neutral responses: what to answer, not how to frame it.
//!
//! Job: given a request's method and target, decide the status, the header
//! values and where the body comes from. HTTP/1.1 (`conn::h1`) frames the
//! result today; HTTP/2 will reuse it unchanged.
//!
//! Contract:
//! - [`Site::resolve`] never panics on any target bytes and never serves
//!   anything outside the site root (see [`files`]).
//! - A [`Response`] owns everything it needs (`Rc` clones of cached bytes or
//!   of an open file), so the connection can send it over many writes.
//! - `headers.content_length` is the length of the selected representation.
//!   For `HEAD` the body is [`Body::Empty`] while `content_length` still says
//!   how long a `GET` body would be (RFC 9110 §9.3.2).
//! - Nothing here reads a clock: the current second comes in as
//!   `now_unix_secs`.

pub mod files;
mod path;

use std::fs::File;
use std::rc::Rc;

use crate::date::HttpDate;

pub use files::{CacheLimits, CacheStats, Site};

/// The request method, as far as responses care (RFC 9110 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: `GET`'s headers without the body.
    Head,
    /// Any other method; answered with 405.
    Other,
}

impl Method {
    /// Classifies a method token. Methods are case-sensitive (RFC 9110 §9.1).
    pub fn from_bytes(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            _ => Method::Other,
        }
    }
}

/// The `Allow` value for every resource we serve.
pub const ALLOW: &str = "GET, HEAD";

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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers {
    /// `Content-Type`.
    pub content_type: Option<ContentType>,
    /// `Content-Length`: length of the representation (also for `HEAD`).
    pub content_length: u64,
    /// `Last-Modified`.
    pub last_modified: Option<HttpDate>,
    /// `Allow` (with 405).
    pub allow: Option<&'static str>,
    /// `Location` (with 3xx).
    pub location: Option<Box<str>>,
}

/// Where the body bytes come from.
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
}

impl Body {
    /// Number of body bytes to send.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Static(b) => b.len() as u64,
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    /// True if there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    304 "Not Modified",
    400 "Bad Request",
    403 "Forbidden",
    404 "Not Found",
    405 "Method Not Allowed",
    408 "Request Timeout",
    411 "Length Required",
    413 "Content Too Large",
    414 "URI Too Long",
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
        assert_eq!(Method::from_bytes(b"POST"), Method::Other);
        assert_eq!(reason(431), "Request Header Fields Too Large");
        assert_eq!(reason(999), "");
    }
}
