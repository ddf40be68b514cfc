//! Static files under a root directory, with an open-file cache.
//!
//! Job: answer a [`Request`] for a path under the root: pick the
//! representation (identity, a precompressed `FILE.gz`, or gzip made on the
//! fly), evaluate preconditions and ranges against it, and describe the
//! response: status, header values, and the body's source.
//!
//! Order of decisions (each step may answer):
//! 1. Unknown method: 501 (RFC 9110 §9.1). `OPTIONS *`: 204.
//! 2. The target is percent-decoded, its query dropped and its path
//!    normalised (`path`); `..` segments, NUL and backslashes are
//!    400.
//! 3. `[[http.redirect]]` rules, first match, for every known method.
//! 4. `OPTIONS`: 204 with `Allow`; other known methods but GET/HEAD: 405.
//! 5. A segment starting with `.` is 404 unless `serve_dotfiles`
//!    (`/.well-known/` is always served: RFC 8615, ACME challenges).
//! 6. The file: a directory with a trailing slash is served by its first
//!    existing `index` file, else listed (`autoindex`) or 403 (nginx's
//!    answer); without the slash it is redirected (301) to the slashed path.
//!    Symlinks follow `follow_symlinks` (a refused one is 403). Missing files
//!    are 404, unreadable ones 403.
//! 7. Representation: with `Accept-Encoding` allowing gzip, `FILE.gz`
//!    (`gzip_static`) or an on-the-fly gzip body (`gzip`, compressible
//!    types, at least `gzip_min_length` bytes, files held in memory only:
//!    larger ones are sent identity rather than compressed on the event
//!    loop).
//! 8. Preconditions (RFC 9110 §13.2.2; `cond`): 304 or 412.
//! 9. `Range` on GET (§14.2; `range`): 206, multipart 206, or 416;
//!    not on an on-the-fly gzip body.
//! 10. An error status with an `[http.error_page]` entry gets that file's
//!     body, keeping the status.
//!
//! Validators: a strong `ETag` in nginx's form `"<mtime hex>-<size hex>"`
//! and `Last-Modified`, both formatted once per cached file. An on-the-fly
//! gzip body gets the weak `W/"<mtime hex>-<size hex>-gzip"`: its bytes
//! depend on the zlib build, and its opaque tag differs from identity's, so
//! neither representation's tag can ever validate (304) the other. A
//! `FILE.gz` has its own file's validators.
//!
//! The cache (like nginx's `open_file_cache`): files up to
//! [`CacheLimits::max_file_size`] are kept in memory, larger ones as an open
//! file that is read in chunks at send time (never whole). A cache hit makes
//! no system call: an entry is revalidated (one `stat`, two with
//! `gzip_static`) at most once per [`REVALIDATE_SECS`] of `now_unix_secs`,
//! and a changed or vanished file is reloaded or forgotten then. The cache
//! is bounded in entries and bytes and evicts the least recently used
//! entry. Compressed bodies live in a second LRU bounded by
//! [`CacheLimits::max_gzip_bytes`].

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use tracing::{debug, trace, warn};

use super::cond::{self, Precondition};
use super::encoding::{self, GzipCache};
use super::options::{Expiry, FollowSymlinks, SiteOptions};
use super::path::{normalize, push_encoded, Target};
use super::range::{self, Ranges, Source};
use super::{autoindex, Body, ContentType, Headers, Method, Request, Response, ALLOW};
use crate::date::HttpDate;

/// Largest file kept in memory by default (nginx-like "small file").
pub const SMALL_FILE_MAX: u64 = 256 * 1024;
/// Default bound on cache entries (each large-file entry holds an open fd).
pub const CACHE_MAX_ENTRIES: usize = 4096;
/// Default bound on bytes of file contents held in memory.
pub const CACHE_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Default bound on bytes of compressed bodies held in memory.
pub const GZIP_CACHE_MAX_BYTES: usize = 16 * 1024 * 1024;
/// An entry is trusted for this many seconds before it is checked again.
pub const REVALIDATE_SECS: u64 = 1;

/// Bounds of the open-file cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most entries (small and large files together).
    pub max_entries: usize,
    /// Most bytes of small-file contents in memory.
    pub max_bytes: usize,
    /// Files up to this size are held in memory; larger ones are streamed.
    pub max_file_size: u64,
    /// Most bytes of gzip bodies made on the fly kept in memory.
    pub max_gzip_bytes: usize,
}

impl Default for CacheLimits {
    fn default() -> CacheLimits {
        CacheLimits {
            max_entries: CACHE_MAX_ENTRIES,
            max_bytes: CACHE_MAX_BYTES,
            max_file_size: SMALL_FILE_MAX,
            max_gzip_bytes: GZIP_CACHE_MAX_BYTES,
        }
    }
}

/// Cache counters (for the status endpoint and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache without touching the file system.
    pub hits: u64,
    /// Lookups that opened the file.
    pub misses: u64,
    /// `stat` calls made to revalidate entries.
    pub revalidations: u64,
    /// Entries dropped to stay within the limits.
    pub evictions: u64,
    /// Entries now held.
    pub entries: usize,
    /// Bytes of file contents now held.
    pub bytes: usize,
    /// Bodies compressed on the fly (each once per file version).
    pub compressions: u64,
    /// Bytes of compressed bodies now held.
    pub gzip_bytes: usize,
}

/// A document root and its file cache. One per event loop (not `Sync`).
#[derive(Debug)]
pub struct Site {
    /// Canonical root.
    root: PathBuf,
    limits: CacheLimits,
    opts: SiteOptions,
    entries: HashMap<Box<[u8]>, Entry>,
    stats: CacheStats,
    /// Counter giving each use a recency stamp (for LRU eviction).
    clock: u64,
    /// Reused buffer for the decoded path.
    scratch: Vec<u8>,
    gzip: GzipCache,
    /// `Cache-Control` per `[[http.cache]]` rule, the default last.
    expiry: Vec<ExpiryMemo>,
    /// `[http.error_page]`, paths normalised to cache keys.
    error_pages: Vec<(u16, Rc<[u8]>)>,
    /// Numbers multipart boundaries.
    boundaries: u64,
}

/// The caching headers of one expiry rule; `Expires` is formatted at most
/// once per second.
#[derive(Debug)]
struct ExpiryMemo {
    max_age: u64,
    cache_control: Rc<str>,
    at: Option<u64>,
    expires: HttpDate,
}

/// What identifies a file version: if any of these change, reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ident {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) mtime: i64,
    pub(crate) mtime_nsec: i64,
}

impl Ident {
    fn of(m: &Metadata) -> Ident {
        Ident {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    /// The file's full path, for revalidation.
    full: PathBuf,
    checked_at: u64,
    last_use: u64,
    rep: Rep,
}

/// One file version as served: everything a response needs, cheap to clone
/// (reference counts only).
#[derive(Debug, Clone)]
struct Rep {
    ident: Ident,
    content_type: ContentType,
    last_modified: HttpDate,
    /// `last_modified` in seconds, for comparisons.
    lm_secs: u64,
    etag: Rc<str>,
    data: Data,
    /// Index into `Site::expiry`; `None`: no caching headers.
    expiry: Option<usize>,
    /// May be compressed on the fly.
    gzip_ok: bool,
    /// Cache key of a `FILE.gz` beside it (`gzip_static`).
    gz_key: Option<Rc<[u8]>>,
}

#[derive(Debug, Clone)]
enum Data {
    Small(Rc<[u8]>),
    Large(Rc<File>),
}

impl Rep {
    /// More than one representation exists: responses say `Vary`.
    fn varies(&self) -> bool {
        self.gzip_ok || self.gz_key.is_some()
    }

    fn bytes(&self) -> usize {
        match &self.data {
            Data::Small(b) => b.len(),
            Data::Large(_) => 0,
        }
    }
}

/// The representation chosen for one response.
struct Selected {
    data: Data,
    len: u64,
    etag: Rc<str>,
    last_modified: HttpDate,
    lm_secs: u64,
    encoding: Option<&'static str>,
    /// Ranges may be served from it (not from on-the-fly gzip).
    ranges: bool,
}

impl Selected {
    fn body(&self) -> Body {
        match &self.data {
            Data::Small(b) => Body::Bytes(Rc::clone(b)),
            Data::Large(f) => Body::File {
                file: Rc::clone(f),
                offset: 0,
                len: self.len,
            },
        }
    }
}

/// The outcome of looking up a path.
enum Found {
    /// A regular file to serve.
    File(Rep),
    /// Already answered (error, redirect, listing).
    Done(Response),
}

impl Site {
    /// Serves files under `root`, which must be an existing directory, with
    /// the default options.
    pub fn new(root: PathBuf) -> io::Result<Site> {
        Site::with_options(root, SiteOptions::default(), CacheLimits::default())
    }

    /// [`Site::new`] with explicit cache bounds.
    pub fn with_limits(root: PathBuf, limits: CacheLimits) -> io::Result<Site> {
        Site::with_options(root, SiteOptions::default(), limits)
    }

    /// A site with the configured `opts` and cache bounds.
    pub fn with_options(root: PathBuf, opts: SiteOptions, limits: CacheLimits) -> io::Result<Site> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "site root is not a directory",
            ));
        }
        let mut expiry: Vec<ExpiryMemo> = opts.cache.iter().map(|r| memo(r.expiry)).collect();
        expiry.push(memo(opts.expires));
        let mut error_pages = Vec::new();
        for (status, path) in &opts.error_pages {
            let mut key = Vec::new();
            match normalize(path.as_bytes(), &mut key) {
                Ok(_) => error_pages.push((*status, key.into())),
                Err(e) => warn!(status, path = %path, error = %e, "error page ignored"),
            }
        }
        Ok(Site {
            root,
            limits,
            gzip: GzipCache::new(limits.max_gzip_bytes),
            opts,
            entries: HashMap::new(),
            stats: CacheStats::default(),
            clock: 0,
            scratch: Vec::new(),
            expiry,
            error_pages,
            boundaries: 0,
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Cache counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len(),
            gzip_bytes: self.gzip.bytes(),
            ..self.stats
        }
    }

    /// The response to `req`. Call once per request with the wall clock's
    /// current second; it does no I/O on a fresh cache hit. Never panics,
    /// whatever the request's bytes.
    pub fn resolve(&mut self, req: &Request, now_unix_secs: u64) -> Response {
        let mut resp = self.respond(req, now_unix_secs);
        if resp.status >= 400 {
            resp = self.with_error_page(resp, now_unix_secs);
        }
        match req.method {
            Method::Head => resp.into_head(),
            _ => resp,
        }
    }

    /// The page for an error `status`: the configured `error_page` if any,
    /// else the built-in one. For errors found outside [`Site::resolve`]
    /// (e.g. a connection's 400/431).
    pub fn error_response(&mut self, status: u16, now_unix_secs: u64) -> Response {
        self.with_error_page(Response::error(status), now_unix_secs)
    }

    fn respond(&mut self, req: &Request, now: u64) -> Response {
        match req.method {
            // RFC 9110 §9.1: a method we do not recognise is 501.
            Method::Other => return Response::error(501),
            // §9.3.7: `OPTIONS *` asks about the server itself.
            Method::Options if req.target == b"*" => return options(),
            _ => {}
        }
        let mut key = std::mem::take(&mut self.scratch);
        let resp = match normalize(req.target, &mut key) {
            Ok(t) => self.route(req, &key, t, now),
            Err(e) => {
                debug!(request_target = %String::from_utf8_lossy(req.target), error = %e, "bad request target");
                Response::error(400)
            }
        };
        self.scratch = key;
        resp
    }

    fn route(&mut self, req: &Request, key: &[u8], t: Target, now: u64) -> Response {
        if let Some(resp) = self.redirect(req.target, key, t) {
            return resp;
        }
        match req.method {
            Method::Get | Method::Head => {}
            Method::Options => return options(),
            _ => {
                let mut resp = Response::error(405);
                resp.headers.allow = Some(ALLOW);
                return resp;
            }
        }
        if !self.opts.serve_dotfiles && has_dot_segment(key) {
            debug!(path = %String::from_utf8_lossy(key), "dotfile: 404");
            return Response::error(404);
        }
        self.serve_file(req, key, t, now)
    }

    /// The first `[[http.redirect]]` rule matching the decoded path.
    fn redirect(&self, target: &[u8], key: &[u8], t: Target) -> Option<Response> {
        for rule in &self.opts.redirects {
            // `from` starts with `/`; `key` is the path without it.
            let from = rule.from.as_bytes().get(1..).unwrap_or(b"");
            let rest = match from.strip_suffix(b"*") {
                Some(prefix) => match key.strip_prefix(prefix) {
                    Some(rest) => rest,
                    None => continue,
                },
                None if from == key => b"",
                None => continue,
            };
            let mut loc = rule.to.as_bytes().to_vec();
            // `to = "/"` with `from = "/old*"`: `/old/evil.example` must give
            // `/evil.example`, not `//evil.example` (another host).
            let rest = match rest.strip_prefix(b"/") {
                Some(r) if loc.ends_with(b"/") => r,
                _ => rest,
            };
            push_encoded(&mut loc, rest);
            if let Some(q) = query(target, t) {
                loc.push(if rule.to.contains('?') { b'&' } else { b'?' });
                push_sanitized(&mut loc, q.get(1..).unwrap_or(b""));
            }
            let mut resp = Response::error(rule.status);
            resp.headers.location = Some(ascii(loc));
            return Some(resp);
        }
        None
    }

    fn serve_file(&mut self, req: &Request, key: &[u8], t: Target, now: u64) -> Response {
        let rep = match self.find(key, t, req.target, now) {
            Found::File(rep) => rep,
            Found::Done(resp) => return resp,
        };
        let varies = rep.varies();
        let mut sel = Selected {
            data: rep.data.clone(),
            len: rep.ident.size,
            etag: Rc::clone(&rep.etag),
            last_modified: rep.last_modified,
            lm_secs: rep.lm_secs,
            encoding: None,
            ranges: true,
        };
        if varies && encoding::wants_gzip(req.accept_encoding.as_deref()) {
            if let Some(gz) = self.gzip_static(&rep, now) {
                sel = gz;
            } else if let (true, Data::Small(bytes)) = (rep.gzip_ok, &rep.data) {
                sel = self.gzip_dynamic(key, &rep, bytes);
            }
        }

        let mut headers = Headers {
            content_type: Some(rep.content_type.clone()),
            content_length: sel.len,
            content_encoding: sel.encoding,
            last_modified: Some(sel.last_modified),
            etag: Some(Rc::clone(&sel.etag)),
            // RFC 9110 §12.5.5: the response depends on Accept-Encoding
            // whenever another coding could have been chosen, whichever one
            // this client gets. Files we would never compress (too small,
            // incompressible type, no .gz) do not vary, so they do not say
            // so (as nginx, whose gzip_vary only applies where gzip does).
            vary: varies.then_some("Accept-Encoding"),
            accept_ranges: sel.ranges.then_some("bytes"),
            ..Headers::default()
        };
        if let Some(i) = rep.expiry {
            let (cc, expires) = self.expiry_headers(i, now);
            headers.cache_control = Some(cc);
            headers.expires = Some(expires);
        }

        match cond::evaluate(req, &sel.etag, sel.lm_secs, req.method.is_get_or_head()) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                // RFC 9110 §15.4.5: ETag, Vary, Cache-Control, Expires (and
                // Last-Modified, useful to caches); no content metadata.
                let h = Headers {
                    content_type: None,
                    content_length: 0,
                    content_encoding: None,
                    accept_ranges: None,
                    ..headers
                };
                return Response {
                    status: 304,
                    headers: h,
                    body: Body::Empty,
                };
            }
            Precondition::Failed => return Response::error(412),
        }

        // RFC 9110 §14.2: ranges are defined for GET only.
        if let (Method::Get, true, Some(range)) = (req.method, sel.ranges, &req.range) {
            let honoured = req
                .if_range
                .as_deref()
                .is_none_or(|v| cond::if_range_allows(v, &sel.etag, sel.lm_secs, now));
            if honoured {
                match range::parse(range, sel.len) {
                    Ranges::Ignore => {}
                    Ranges::Unsatisfiable => {
                        let mut resp = Response::error(416);
                        resp.headers.content_range = Some(format!("bytes */{}", sel.len).into());
                        return resp;
                    }
                    Ranges::Satisfiable(rs) => {
                        if let Some(resp) = self.partial(headers.clone(), &sel, &rs) {
                            return resp;
                        }
                    }
                }
            }
        }
        Response {
            status: 200,
            body: sel.body(),
            headers,
        }
    }

    /// A 206 for `ranges` of `sel` (RFC 9110 §15.3.7), or `None` to send the
    /// whole representation instead.
    fn partial(
        &mut self,
        mut headers: Headers,
        sel: &Selected,
        ranges: &[std::ops::Range<u64>],
    ) -> Option<Response> {
        let source = match &sel.data {
            Data::Small(b) => Source::Bytes(b),
            Data::Large(f) => Source::File(f),
        };
        let body = match ranges {
            [r] => {
                headers.content_range = Some(range::content_range(r, sel.len).into());
                match &sel.data {
                    Data::Large(f) => Body::File {
                        file: Rc::clone(f),
                        offset: r.start,
                        len: r.end - r.start,
                    },
                    Data::Small(_) => Body::parts(vec![source.part(r)]),
                }
            }
            _ => {
                // Several ranges of a content-coded representation would put
                // Content-Encoding on the multipart wrapper, which is wrong;
                // §14.2 lets us ignore the Range instead.
                if sel.encoding.is_some() {
                    return None;
                }
                self.boundaries += 1;
                let boundary = format!("{:020}", self.boundaries);
                let ct = headers
                    .content_type
                    .take()
                    .unwrap_or(ContentType::Static("application/octet-stream"));
                let parts = range::multipart(ranges, sel.len, ct.as_str(), &boundary, &source);
                headers.content_type = Some(ContentType::Shared(
                    format!("multipart/byteranges; boundary={boundary}").into(),
                ));
                Body::parts(parts)
            }
        };
        headers.content_length = body.len();
        Some(Response {
            status: 206,
            headers,
            body,
        })
    }

    /// `FILE.gz` as the selected representation, if it exists, is a
    /// regular file we may serve, and its tag differs from identity's.
    fn gzip_static(&mut self, rep: &Rep, now: u64) -> Option<Selected> {
        let key = rep.gz_key.clone()?;
        let t = Target {
            path_start: 0,
            path_end: 0,
            trailing_slash: false,
        };
        let Found::File(gz) = self.find(&key, t, b"", now) else {
            return None;
        };
        if gz.etag == rep.etag {
            // Same size and mtime as the original: its tag could validate
            // the wrong representation. Serve identity.
            return None;
        }
        Some(Selected {
            len: gz.ident.size,
            etag: gz.etag,
            last_modified: gz.last_modified,
            lm_secs: gz.lm_secs,
            data: gz.data,
            encoding: Some("gzip"),
            ranges: true,
        })
    }

    /// `bytes` compressed (once per file version, then from the cache).
    fn gzip_dynamic(&mut self, key: &[u8], rep: &Rep, bytes: &[u8]) -> Selected {
        let (data, etag) = match self.gzip.get(key, rep.ident) {
            Some(hit) => hit,
            None => {
                self.stats.compressions += 1;
                let data: Rc<[u8]> = encoding::gzip(bytes).into();
                let etag: Rc<str> = format!(
                    "W/\"{:x}-{:x}-gzip\"",
                    rep.ident.mtime.max(0),
                    rep.ident.size
                )
                .into();
                self.gzip
                    .insert(key, rep.ident, Rc::clone(&data), Rc::clone(&etag));
                (data, etag)
            }
        };
        Selected {
            len: data.len() as u64,
            data: Data::Small(data),
            etag,
            last_modified: rep.last_modified,
            lm_secs: rep.lm_secs,
            encoding: Some("gzip"),
            ranges: false,
        }
    }

    /// `Cache-Control` and `Expires` of expiry rule `i` at `now`.
    fn expiry_headers(&mut self, i: usize, now: u64) -> (Rc<str>, HttpDate) {
        let m = &mut self.expiry[i];
        if m.at != Some(now) {
            m.at = Some(now);
            m.expires = HttpDate::from_unix_secs(now.saturating_add(m.max_age));
        }
        (Rc::clone(&m.cache_control), m.expires)
    }

    /// Replaces the body of error `resp` with the configured page, if any.
    fn with_error_page(&mut self, mut resp: Response, now: u64) -> Response {
        let Some(key) = self
            .error_pages
            .iter()
            .find(|(s, _)| *s == resp.status)
            .map(|(_, k)| Rc::clone(k))
        else {
            return resp;
        };
        let t = Target {
            path_start: 0,
            path_end: 0,
            trailing_slash: key.is_empty() || key.ends_with(b"/"),
        };
        match self.find(&key, t, b"", now) {
            Found::File(page) => {
                let sel = Selected {
                    len: page.ident.size,
                    data: page.data,
                    etag: page.etag,
                    last_modified: page.last_modified,
                    lm_secs: page.lm_secs,
                    encoding: None,
                    ranges: false,
                };
                resp.headers.content_type = Some(page.content_type);
                resp.headers.content_length = sel.len;
                resp.body = sel.body();
            }
            Found::Done(_) => {
                debug!(
                    status = resp.status,
                    "error page not servable; built-in page used"
                );
            }
        }
        resp
    }

    /// The file for `key`, from the cache or the file system.
    fn find(&mut self, key: &[u8], t: Target, target: &[u8], now: u64) -> Found {
        self.clock += 1;
        let gzip_static = self.opts.gzip_static;
        if let Some(entry) = self.entries.get_mut(key) {
            // `now < checked_at`: the wall clock stepped back; check again.
            let fresh = now >= entry.checked_at && now - entry.checked_at < REVALIDATE_SECS;
            let valid = fresh || {
                self.stats.revalidations += 1;
                match fs::metadata(&entry.full) {
                    Ok(m) if Ident::of(&m) == entry.rep.ident => {
                        entry.checked_at = now;
                        if gzip_static {
                            entry.rep.gz_key = gz_sibling(&self.root, &entry.full);
                        }
                        true
                    }
                    _ => false,
                }
            };
            if valid {
                self.stats.hits += 1;
                entry.last_use = self.clock;
                return Found::File(entry.rep.clone());
            }
            trace!(path = %entry.full.display(), "cache entry changed; reloading");
            if let Some(old) = self.entries.remove(key) {
                self.stats.bytes -= old.rep.bytes();
            }
        }
        self.stats.misses += 1;
        self.open(key, t, target, now)
    }

    /// The slow path: find the file, check it, read it, and cache it.
    fn open(&mut self, key: &[u8], t: Target, target: &[u8], now: u64) -> Found {
        let full = self.root.join(OsStr::from_bytes(key));
        if !t.trailing_slash {
            return match self.open_file(key, full, now) {
                Ok(Some(found)) => found,
                // A directory named without its slash (RFC 9110 §10.2.2
                // allows the relative Location).
                Ok(None) => Found::Done(redirect_to_slash(target, t)),
                Err((path, e)) => Found::Done(io_error_response(&path, &e)),
            };
        }
        for i in 0..self.opts.index.len() {
            let file = full.join(&*self.opts.index[i]);
            match self.open_file(key, file, now) {
                Ok(Some(found)) => return found,
                // An index name that is a directory does not count.
                Ok(None) => {}
                Err((_, e)) if is_missing(&e) => {}
                Err((path, e)) => return Found::Done(io_error_response(&path, &e)),
            }
        }
        // No index file.
        match fs::metadata(&full) {
            Ok(m) if m.is_dir() => {
                if let Err(status) = self.check_symlinks(&full) {
                    return Found::Done(Response::error(status));
                }
                if !self.opts.autoindex {
                    // nginx: "directory index of ... is forbidden".
                    debug!(path = %full.display(), "no index file: 403");
                    return Found::Done(Response::error(403));
                }
                match autoindex::listing(&full, key, self.opts.serve_dotfiles) {
                    Ok(html) => {
                        let len = html.len() as u64;
                        Found::Done(Response {
                            status: 200,
                            headers: Headers {
                                content_type: Some(ContentType::HTML),
                                content_length: len,
                                ..Headers::default()
                            },
                            body: Body::Bytes(html.into()),
                        })
                    }
                    Err(e) => Found::Done(io_error_response(&full, &e)),
                }
            }
            Ok(_) => Found::Done(Response::error(404)),
            Err(e) => Found::Done(io_error_response(&full, &e)),
        }
    }

    /// Opens `full` for cache key `key`. `Ok(None)`: it is a directory.
    fn open_file(
        &mut self,
        key: &[u8],
        full: PathBuf,
        now: u64,
    ) -> Result<Option<Found>, (PathBuf, io::Error)> {
        let opened = OpenOptions::new()
            .read(true)
            // A FIFO swapped in under a name must not block the event loop.
            .custom_flags(libc::O_NONBLOCK)
            .open(&full)
            .and_then(|f| f.metadata().map(|m| (f, m)));
        let (mut file, meta) = match opened {
            Ok(fm) => fm,
            Err(e) => return Err((full, e)),
        };
        if let Err(status) = self.check_symlinks(&full) {
            return Ok(Some(Found::Done(Response::error(status))));
        }
        if meta.is_dir() {
            return Ok(None);
        }
        if !meta.is_file() {
            debug!(path = %full.display(), "not a regular file: 404");
            return Ok(Some(Found::Done(Response::error(404))));
        }

        let ident = Ident::of(&meta);
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        // RFC 9110 §8.8.2.1: never claim a modification in the future.
        let lm_secs = mtime.min(now);
        let content_type = content_type(&full);
        let name = full.file_name().map_or(&[][..], |n| n.as_bytes());
        let expiry = match self.opts.cache.iter().position(|r| r.matches(name)) {
            Some(i) => (self.opts.cache[i].expiry != Expiry::Off).then_some(i),
            None => (self.opts.expires != Expiry::Off).then_some(self.opts.cache.len()),
        };
        let small = ident.size <= self.limits.max_file_size;
        let gzip_ok = small
            && self.opts.gzip
            && ident.size >= self.opts.gzip_min_length
            && encoding::compressible(content_type.as_str());
        let gz_key = if self.opts.gzip_static {
            gz_sibling(&self.root, &full)
        } else {
            None
        };
        let mut ident = ident;
        let mut cacheable = true;
        let data = if small {
            let mut bytes = Vec::with_capacity(ident.size as usize);
            if let Err(e) = (&mut file).take(ident.size).read_to_end(&mut bytes) {
                return Err((full, e));
            }
            if bytes.len() as u64 != ident.size {
                // Shrunk while we read: serve what we have, cache nothing.
                debug!(path = %full.display(), "file changed while read; not cached");
                ident.size = bytes.len() as u64;
                cacheable = false;
            }
            Data::Small(bytes.into())
        } else {
            Data::Large(Rc::new(file))
        };
        let rep = Rep {
            ident,
            content_type,
            last_modified: HttpDate::from_unix_secs(lm_secs),
            lm_secs,
            // nginx's strong ETag: mtime and size in hex.
            etag: format!("\"{mtime:x}-{:x}\"", ident.size).into(),
            data,
            expiry,
            gzip_ok: gzip_ok && cacheable,
            gz_key,
        };
        if !cacheable {
            return Ok(Some(Found::File(rep)));
        }
        let entry = Entry {
            full,
            checked_at: now,
            last_use: self.clock,
            rep: rep.clone(),
        };
        self.insert(key, entry);
        Ok(Some(Found::File(rep)))
    }

    /// Applies `follow_symlinks` to `full` (root joined with a normalised
    /// path, so it names no symlink exactly when it equals its canonical
    /// form).
    fn check_symlinks(&self, full: &Path) -> Result<(), u16> {
        let policy = self.opts.follow_symlinks;
        if policy == FollowSymlinks::Always {
            return Ok(());
        }
        match fs::canonicalize(full) {
            Ok(real) if policy == FollowSymlinks::Never && real != full => {
                debug!(path = %full.display(), "symlink refused: 403");
                Err(403)
            }
            Ok(real) if !real.starts_with(&self.root) => {
                debug!(path = %full.display(), real = %real.display(), "outside the root: 403");
                Err(403)
            }
            Ok(_) => Ok(()),
            Err(e) => Err(io_error_status(full, &e)),
        }
    }

    fn insert(&mut self, key: &[u8], entry: Entry) {
        let need = entry.rep.bytes();
        if need > self.limits.max_bytes || self.limits.max_entries == 0 {
            return;
        }
        while self.entries.len() >= self.limits.max_entries
            || self.stats.bytes + need > self.limits.max_bytes
        {
            // Evict the least recently used entry. O(entries), but only on a
            // miss, which already costs several system calls.
            let Some(victim) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_use)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(old) = self.entries.remove(&victim) {
                self.stats.bytes -= old.rep.bytes();
                self.stats.evictions += 1;
            }
        }
        self.stats.bytes += need;
        self.entries.insert(key.into(), entry);
    }
}

/// 204 to `OPTIONS` (RFC 9110 §9.3.7).
fn options() -> Response {
    Response {
        status: 204,
        headers: Headers {
            allow: Some(ALLOW),
            ..Headers::default()
        },
        body: Body::Empty,
    }
}

fn memo(expiry: Expiry) -> ExpiryMemo {
    let max_age = match expiry {
        Expiry::Off => 0,
        Expiry::MaxAge(s) => s,
    };
    ExpiryMemo {
        max_age,
        cache_control: format!("max-age={max_age}").into(),
        at: None,
        expires: HttpDate::from_unix_secs(0),
    }
}

/// Cache key of `full.gz` if it is a regular file (following symlinks; the
/// policy is applied when it is opened).
fn gz_sibling(root: &Path, full: &Path) -> Option<Rc<[u8]>> {
    let mut gz = OsString::from(full.as_os_str());
    gz.push(".gz");
    let gz = PathBuf::from(gz);
    if !fs::metadata(&gz).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let rel = gz.strip_prefix(root).ok()?;
    Some(rel.as_os_str().as_bytes().into())
}

/// True if a segment of the normalised path starts with `.`, except a
/// leading `.well-known` (RFC 8615).
fn has_dot_segment(key: &[u8]) -> bool {
    key.split(|&b| b == b'/')
        .enumerate()
        .any(|(i, seg)| seg.first() == Some(&b'.') && !(i == 0 && seg == b".well-known"))
}

/// The `?query` of the target, without a fragment; `None` if there is none.
fn query(target: &[u8], t: Target) -> Option<&[u8]> {
    let rest = target.get(t.path_end..)?;
    if rest.first() != Some(&b'?') {
        return None;
    }
    let end = rest.iter().position(|&b| b == b'#').unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Appends `bytes`, percent-encoding anything that is not visible ASCII (a
/// header value must never carry a control byte).
fn push_sanitized(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_graphic() {
            out.push(b);
        } else {
            push_encoded(out, &[b]);
        }
    }
}

/// `bytes` (visible ASCII by construction) as a string.
fn ascii(bytes: Vec<u8>) -> Box<str> {
    String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        .into_boxed_str()
}

/// 301 to the same target with a `/` after the path (query kept).
fn redirect_to_slash(target: &[u8], t: Target) -> Response {
    let mut location = Vec::with_capacity(target.len() + 1);
    let path = target.get(t.path_start..t.path_end).unwrap_or(b"");
    // `//host/dir` must not become `Location: //host/dir/`, which names
    // another host (an open redirect): leading slashes collapse to one, as
    // nginx's merge_slashes does.
    let path = match path.iter().position(|&b| b != b'/') {
        Some(i) if i > 1 => &path[i - 1..],
        _ => path,
    };
    push_sanitized(&mut location, path);
    if location.is_empty() {
        location.push(b'/');
    }
    location.push(b'/');
    // Keep the query, drop a fragment (never sent by browsers anyway).
    if let Some(q) = query(target, t) {
        push_sanitized(&mut location, q);
    }
    let mut resp = Response::error(301);
    resp.headers.location = Some(ascii(location));
    resp
}

fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// The error response for a failed open/stat.
fn io_error_response(path: &Path, e: &io::Error) -> Response {
    Response::error(io_error_status(path, e))
}

/// The error status for a failed open/stat.
fn io_error_status(path: &Path, e: &io::Error) -> u16 {
    let status = match e.kind() {
        io::ErrorKind::NotFound => 404,
        io::ErrorKind::PermissionDenied => 403,
        _ => match e.raw_os_error() {
            Some(libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG) => 404,
            _ => 500,
        },
    };
    if status == 500 {
        warn!(path = %path.display(), error = %e, "cannot open file: 500");
    } else {
        debug!(path = %path.display(), error = %e, status, "cannot open file");
    }
    status
}

/// `Content-Type` by extension; text types get `; charset=utf-8`.
fn content_type(path: &Path) -> ContentType {
    let mime = mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    ContentType::Static(match mime {
        "text/html" => "text/html; charset=utf-8",
        "text/css" => "text/css; charset=utf-8",
        "text/plain" => "text/plain; charset=utf-8",
        "text/javascript" => "text/javascript; charset=utf-8",
        "application/javascript" => "application/javascript; charset=utf-8",
        "image/svg+xml" => "image/svg+xml; charset=utf-8",
        "text/xml" => "text/xml; charset=utf-8",
        "application/xml" => "application/xml; charset=utf-8",
        "text/csv" => "text/csv; charset=utf-8",
        "text/markdown" => "text/markdown; charset=utf-8",
        m if m.starts_with("text/") => {
            return ContentType::Shared(format!("{m}; charset=utf-8").into());
        }
        m => m,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{CacheRule, Redirect};
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// 2021-01-01T00:00:00Z, used as every test file's mtime.
    const MTIME: u64 = 1_609_459_200;
    const NOW: u64 = 1_700_000_000;

    struct Fixture {
        dir: tempfile::TempDir,
        site: Site,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture::with_limits(CacheLimits::default())
        }
        fn with_limits(limits: CacheLimits) -> Fixture {
            Fixture::with_options(SiteOptions::default(), limits)
        }
        fn with_opts(opts: SiteOptions) -> Fixture {
            Fixture::with_options(opts, CacheLimits::default())
        }
        fn with_options(opts: SiteOptions, limits: CacheLimits) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let site = Site::with_options(dir.path().to_owned(), opts, limits).unwrap();
            let f = Fixture { dir, site };
            f.write("index.html", b"<h1>home</h1>");
            f.write("style.css", b"body{}");
            f.write("docs/index.html", b"docs");
            f.write("a b.txt", b"spaced");
            f.write("data.bin", &[1, 2, 3]);
            f
        }
        fn write(&self, rel: &str, bytes: &[u8]) {
            let path = self.dir.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, bytes).unwrap();
            let file = File::options().write(true).open(&path).unwrap();
            file.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME))
                .unwrap();
        }
        fn get(&mut self, target: &str) -> Response {
            self.call(Method::Get, target.as_bytes(), NOW)
        }
        fn call(&mut self, method: Method, target: &[u8], now: u64) -> Response {
            self.site.resolve(&Request::new(method, target), now)
        }
        /// `GET target` with header fields.
        fn with(&mut self, target: &str, fields: &[(&str, &str)]) -> Response {
            self.req(Method::Get, target, fields)
        }
        fn req(&mut self, method: Method, target: &str, fields: &[(&str, &str)]) -> Response {
            let mut req = Request::new(method, target.as_bytes());
            for (n, v) in fields {
                req.add_field(n.as_bytes(), v.as_bytes());
            }
            self.site.resolve(&req, NOW)
        }
    }

    fn body(r: &Response) -> Vec<u8> {
        let mut v = vec![0; r.body.len() as usize];
        r.body.read_at(0, &mut v).unwrap();
        v
    }

    #[test]
    fn serves_a_file_with_headers() {
        let mut f = Fixture::new();
        let r = f.get("/style.css");
        assert_eq!(r.status, 200);
        assert_eq!(
            r.headers.content_type.as_ref().unwrap().as_str(),
            "text/css; charset=utf-8"
        );
        assert_eq!(r.headers.content_length, 6);
        assert_eq!(
            r.headers.last_modified.unwrap().as_str(),
            "Fri, 01 Jan 2021 00:00:00 GMT"
        );
        assert_eq!(body(&r), b"body{}");
        let r = f.get("/data.bin");
        assert_eq!(
            r.headers.content_type.as_ref().unwrap().as_str(),
            "application/octet-stream"
        );
    }

    #[test]
    fn head_has_headers_but_no_body() {
        let mut f = Fixture::new();
        let r = f.call(Method::Head, b"/index.html", NOW);
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.content_length, 13);
        assert!(matches!(r.body, Body::Empty));
        let r = f.call(Method::Head, b"/missing", NOW);
        assert_eq!(r.status, 404);
        assert!(matches!(r.body, Body::Empty));
        assert!(r.headers.content_length > 0);
    }

    #[test]
    fn directories_serve_index_html() {
        let mut f = Fixture::new();
        assert_eq!(body(&f.get("/")), b"<h1>home</h1>");
        assert_eq!(body(&f.get("/docs/")), b"docs");
        let r = f.get("/docs/?x=1");
        assert_eq!(
            r.headers.content_type.unwrap().as_str(),
            "text/html; charset=utf-8"
        );
        let r = f.get("/docs");
        assert_eq!(r.status, 301);
        assert_eq!(r.headers.location.as_deref(), Some("/docs/"));
        let r = f.get("/docs?x=1#f");
        assert_eq!(r.headers.location.as_deref(), Some("/docs/?x=1"));
        // Never `//docs/`: a browser would take `docs` for a host.
        for target in ["//docs", "///docs", "http://h//docs"] {
            let r = f.get(target);
            assert_eq!(r.headers.location.as_deref(), Some("/docs/"), "{target}");
        }
        assert_eq!(
            f.get("/./docs?q").headers.location.as_deref(),
            Some("/./docs/?q")
        );
        fs::create_dir(f.dir.path().join("empty")).unwrap();
        // nginx: a directory without an index file is forbidden.
        assert_eq!(f.get("/empty/").status, 403);
    }

    #[test]
    fn statuses_for_bad_targets_and_methods() {
        let mut f = Fixture::new();
        assert_eq!(f.get("/nope.html").status, 404);
        assert_eq!(f.get("/index.html/").status, 404);
        assert_eq!(f.get("/../etc/passwd").status, 400);
        assert_eq!(f.get("/docs/%2e%2e/%2e%2e/etc/passwd").status, 400);
        assert_eq!(f.get("/a%00").status, 400);
        assert_eq!(f.get("/a\\b").status, 400);
        assert_eq!(f.get("*").status, 400);
        assert_eq!(body(&f.get("/a%20b.txt?q")), b"spaced");
        let r = f.call(Method::Delete, b"/index.html", NOW);
        assert_eq!(r.status, 405);
        assert_eq!(r.headers.allow, Some("GET, HEAD, OPTIONS"));
        assert_eq!(f.call(Method::Other, b"/index.html", NOW).status, 501);
    }

    #[test]
    fn symlinks_out_of_root_are_not_followed() {
        let mut f = Fixture::new();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"secret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), f.dir.path().join("leak"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), f.dir.path().join("leakdir")).unwrap();
        std::os::unix::fs::symlink(f.dir.path().join("style.css"), f.dir.path().join("ok.css"))
            .unwrap();
        assert_eq!(f.get("/leak").status, 403);
        assert_eq!(f.get("/leakdir/secret").status, 403);
        assert_eq!(body(&f.get("/ok.css")), b"body{}");
    }

    #[test]
    fn cache_hits_do_not_touch_the_file_system_within_a_second() {
        let mut f = Fixture::new();
        assert_eq!(body(&f.get("/style.css")), b"body{}");
        assert_eq!(f.site.stats().misses, 1);
        // Gone from disk, but the same second: served from memory.
        fs::remove_file(f.dir.path().join("style.css")).unwrap();
        for _ in 0..3 {
            assert_eq!(body(&f.get("/style.css")), b"body{}");
        }
        let s = f.site.stats();
        assert_eq!(
            (s.hits, s.misses, s.revalidations, s.entries, s.bytes),
            (3, 1, 0, 1, 6)
        );
        // A second later the entry is revalidated and the file is gone.
        assert_eq!(f.call(Method::Get, b"/style.css", NOW + 1).status, 404);
        let s = f.site.stats();
        assert_eq!((s.revalidations, s.entries, s.bytes), (1, 0, 0));
    }

    #[test]
    fn changed_files_are_reloaded_on_revalidation() {
        let mut f = Fixture::new();
        assert_eq!(body(&f.get("/index.html")), b"<h1>home</h1>");
        f.write("index.html", b"new!");
        assert_eq!(body(&f.get("/index.html")), b"<h1>home</h1>");
        let r = f.call(Method::Get, b"/index.html", NOW + 1);
        assert_eq!(body(&r), b"new!");
        assert_eq!(r.headers.content_length, 4);
        // Unchanged: one stat, then trusted for another second.
        let _ = f.call(Method::Get, b"/index.html", NOW + 2);
        let _ = f.call(Method::Get, b"/index.html", NOW + 2);
        let s = f.site.stats();
        assert_eq!((s.misses, s.revalidations, s.hits), (2, 2, 3));
    }

    #[test]
    fn large_files_are_streamed_from_an_open_file() {
        let limits = CacheLimits {
            max_file_size: 4,
            ..CacheLimits::default()
        };
        let mut f = Fixture::with_limits(limits);
        f.write("big.bin", &[7; 100]);
        let r = f.get("/big.bin");
        match &r.body {
            Body::File {
                offset: 0,
                len: 100,
                ..
            } => {}
            other => panic!("expected a file body, got {other:?}"),
        }
        assert_eq!(body(&r), vec![7; 100]);
        let r2 = f.get("/big.bin");
        assert!(matches!(r2.body, Body::File { .. }));
        let s = f.site.stats();
        assert_eq!((s.misses, s.hits, s.bytes), (1, 1, 0));
    }

    #[test]
    fn cache_is_bounded_and_evicts_least_recently_used() {
        let limits = CacheLimits {
            max_entries: 2,
            max_bytes: 20,
            ..CacheLimits::default()
        };
        let mut f = Fixture::with_limits(limits);
        f.get("/index.html"); // 13 bytes
        f.get("/style.css"); // 6 bytes
        assert_eq!(f.site.stats().entries, 2);
        f.get("/index.html"); // index.html is now the most recent
        f.get("/data.bin"); // 3 bytes: evicts style.css
        let s = f.site.stats();
        assert_eq!((s.entries, s.bytes, s.evictions), (2, 16, 1));
        f.get("/index.html");
        assert_eq!(f.site.stats().hits, 2);
        f.get("/style.css");
        assert_eq!(f.site.stats().misses, 4);
        // Something larger than the whole budget is served but not cached.
        f.write("fat.html", &[b'x'; 21]);
        assert_eq!(f.get("/fat.html").headers.content_length, 21);
        assert!(f.site.stats().bytes <= 20);
    }

    #[test]
    fn last_modified_is_never_in_the_future() {
        let mut f = Fixture::new();
        let r = f.call(Method::Get, b"/index.html", MTIME - 10);
        assert_eq!(
            r.headers.last_modified,
            Some(HttpDate::from_unix_secs(MTIME - 10))
        );
    }

    fn hdr(r: &Response) -> String {
        let mut out = format!("{}\n", r.status);
        r.for_each_field(|n, v| {
            out.push_str(&format!("{n}: {}\n", String::from_utf8_lossy(v)));
        });
        out
    }

    fn gunzip(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(z), &mut out).unwrap();
        out
    }

    const LM: &str = "Fri, 01 Jan 2021 00:00:00 GMT";

    #[test]
    fn validators_and_not_modified() {
        let mut f = Fixture::new();
        let r = f.get("/style.css");
        assert_eq!(
            hdr(&r),
            format!(
                "200\nContent-Type: text/css; charset=utf-8\nContent-Length: 6\n\
                 Last-Modified: {LM}\nETag: \"5fee6600-6\"\nAccept-Ranges: bytes\n"
            )
        );
        for fields in [
            &[("If-None-Match", "\"5fee6600-6\"")][..],
            &[("If-None-Match", "W/\"x\", W/\"5fee6600-6\"")],
            &[("If-None-Match", "*")],
            &[("If-Modified-Since", LM)],
            &[("If-Modified-Since", "Sat, 02 Jan 2021 00:00:00 GMT")],
        ] {
            let r = f.with("/style.css", fields);
            assert_eq!(
                hdr(&r),
                format!("304\nLast-Modified: {LM}\nETag: \"5fee6600-6\"\n"),
                "{fields:?}"
            );
            assert!(r.body.is_empty());
        }
        let r = f.req(
            Method::Head,
            "/style.css",
            &[("If-None-Match", "\"5fee6600-6\"")],
        );
        assert_eq!(r.status, 304);
        // Not matching, or older date: the full response.
        for fields in [
            &[("If-None-Match", "\"5fee6600-7\"")][..],
            &[("If-Modified-Since", "Thu, 31 Dec 2020 23:59:59 GMT")],
            &[("If-Modified-Since", "garbage")],
            // If-None-Match present: If-Modified-Since is not consulted.
            &[("If-None-Match", "\"no\""), ("If-Modified-Since", LM)],
        ] {
            assert_eq!(f.with("/style.css", fields).status, 200, "{fields:?}");
        }
        // If-Match / If-Unmodified-Since failures: 412, even for a match
        // that would otherwise be 304.
        for fields in [
            &[("If-Match", "\"nope\"")][..],
            &[("If-Match", "W/\"5fee6600-6\"")],
            &[("If-Unmodified-Since", "Thu, 31 Dec 2020 00:00:00 GMT")],
            &[("If-Match", "\"nope\""), ("If-None-Match", "*")],
        ] {
            assert_eq!(f.with("/style.css", fields).status, 412, "{fields:?}");
        }
        assert_eq!(f.with("/style.css", &[("If-Match", "*")]).status, 200);
        // Preconditions do not apply to errors (RFC 9110 §13.2.1).
        assert_eq!(f.with("/nope", &[("If-Match", "\"x\"")]).status, 404);
    }

    #[test]
    fn methods() {
        let mut f = Fixture::new();
        for target in ["/style.css", "*", "/nope"] {
            let r = f.call(Method::Options, target.as_bytes(), NOW);
            assert_eq!(hdr(&r), "204\nAllow: GET, HEAD, OPTIONS\n", "{target}");
            assert!(r.body.is_empty());
        }
        for m in [
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Patch,
            Method::Connect,
            Method::Trace,
        ] {
            let r = f.call(m, b"/style.css", NOW);
            assert_eq!(r.status, 405);
            assert_eq!(r.headers.allow, Some(ALLOW));
        }
        assert_eq!(f.call(Method::Other, b"/style.css", NOW).status, 501);
        let r = f.call(Method::Head, b"/style.css", NOW);
        assert_eq!(hdr(&r), hdr(&f.get("/style.css")));
        assert!(r.body.is_empty());
    }

    #[test]
    fn single_ranges() {
        let limits = CacheLimits {
            max_file_size: 50,
            ..CacheLimits::default()
        };
        let mut f = Fixture::with_limits(limits);
        let digits: Vec<u8> = (0..100u8).map(|i| b'0' + i % 10).collect();
        f.write("small.bin", &digits[..40]);
        f.write("big.bin", &digits);
        for (path, len) in [("/small.bin", 40u64), ("/big.bin", 100)] {
            let r = f.with(path, &[("Range", "bytes=2-5")]);
            assert_eq!(r.status, 206, "{path}");
            assert_eq!(
                r.headers.content_range.as_deref(),
                Some(format!("bytes 2-5/{len}").as_str())
            );
            assert_eq!(r.headers.content_length, 4);
            assert_eq!(body(&r), b"2345");
            assert_eq!(
                r.headers.etag.as_deref(),
                Some(&*format!("\"5fee6600-{len:x}\""))
            );
            let r = f.with(path, &[("Range", "bytes=-3")]);
            assert_eq!(body(&r), &digits[len as usize - 3..len as usize]);
            let r = f.with(path, &[("Range", "bytes=37-")]);
            assert_eq!(body(&r), &digits[37..len as usize]);
            let r = f.with(path, &[("Range", "bytes=100-")]);
            assert_eq!(r.status, 416);
            assert_eq!(
                r.headers.content_range.as_deref(),
                Some(format!("bytes */{len}").as_str())
            );
            // Invalid syntax: ignored.
            let r = f.with(path, &[("Range", "bytes=5-2")]);
            assert_eq!((r.status, r.headers.content_length), (200, len));
            // HEAD: ranges are for GET only.
            let r = f.req(Method::Head, path, &[("Range", "bytes=0-1")]);
            assert_eq!(r.status, 200);
        }
        // Large file bodies stay a file slice.
        let r = f.with("/big.bin", &[("Range", "bytes=10-19")]);
        assert!(matches!(
            r.body,
            Body::File {
                offset: 10,
                len: 10,
                ..
            }
        ));
    }

    #[test]
    fn if_range() {
        let mut f = Fixture::new();
        let ranged = |f: &mut Fixture, v: &str| {
            f.with("/index.html", &[("Range", "bytes=0-3"), ("If-Range", v)])
                .status
        };
        assert_eq!(ranged(&mut f, "\"5fee6600-d\""), 206);
        assert_eq!(ranged(&mut f, LM), 206);
        assert_eq!(ranged(&mut f, "\"5fee6600-e\""), 200);
        assert_eq!(ranged(&mut f, "W/\"5fee6600-d\""), 200);
        assert_eq!(ranged(&mut f, "Sat, 02 Jan 2021 00:00:00 GMT"), 200);
        assert_eq!(ranged(&mut f, "junk"), 200);
    }

    #[test]
    fn multipart_ranges_have_exact_length() {
        let limits = CacheLimits {
            max_file_size: 50,
            ..CacheLimits::default()
        };
        let mut f = Fixture::with_limits(limits);
        let digits: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        f.write("big.txt", &digits);
        let r = f.with("/big.txt", &[("Range", "bytes=0-1, 10-12,-2")]);
        assert_eq!(r.status, 206);
        let ct = r.headers.content_type.as_ref().unwrap().as_str().to_owned();
        let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
        assert_eq!(boundary.len(), 20);
        let b = body(&r);
        assert_eq!(r.headers.content_length, b.len() as u64);
        assert_eq!(r.headers.content_range, None);
        let part = |range: &str, data: &str| {
            format!(
                "\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Range: bytes {range}/100\r\n\r\n{data}"
            )
        };
        let expected = part("0-1", "ab")
            + &part("10-12", "klm")
            + &part("98-99", "uv")
            + &format!("\r\n--{boundary}--\r\n");
        assert_eq!(String::from_utf8(b).unwrap(), expected);
        // Overlapping ranges are coalesced into one: a plain 206.
        let r = f.with("/big.txt", &[("Range", "bytes=5-9,0-6")]);
        assert_eq!(r.headers.content_range.as_deref(), Some("bytes 0-9/100"));
        assert_eq!(body(&r), &digits[..10]);
    }

    fn compressible_opts() -> SiteOptions {
        SiteOptions::default()
    }

    #[test]
    fn gzip_on_the_fly_is_cached_and_has_its_own_weak_etag() {
        let mut f = Fixture::with_opts(compressible_opts());
        let text = b"tapir serves text; ".repeat(40); // 760 bytes
        f.write("page.html", &text);
        let r = f.with("/page.html", &[("Accept-Encoding", "gzip, br")]);
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.content_encoding, Some("gzip"));
        assert_eq!(r.headers.vary, Some("Accept-Encoding"));
        assert_eq!(r.headers.accept_ranges, None);
        assert_eq!(r.headers.etag.as_deref(), Some("W/\"5fee6600-2f8-gzip\""));
        let z = body(&r);
        assert_eq!(r.headers.content_length, z.len() as u64);
        assert!(z.len() < text.len());
        assert_eq!(gunzip(&z), text);
        // Served from the compressed cache the second time.
        let r2 = f.with("/page.html", &[("Accept-Encoding", "gzip")]);
        assert_eq!(body(&r2), z);
        let s = f.site.stats();
        assert_eq!((s.compressions, s.gzip_bytes), (1, z.len()));
        // Identity for clients that do not ask, still with Vary.
        for ae in [
            None,
            Some("identity"),
            Some("gzip;q=0"),
            Some("identity;q=0"),
        ] {
            let fields: Vec<(&str, &str)> =
                ae.map(|v| ("Accept-Encoding", v)).into_iter().collect();
            let r = f.with("/page.html", &fields);
            assert_eq!(r.headers.content_encoding, None, "{ae:?}");
            assert_eq!(r.headers.vary, Some("Accept-Encoding"));
            assert_eq!(r.headers.etag.as_deref(), Some("\"5fee6600-2f8\""));
            assert_eq!(body(&r), text);
        }
        // Neither tag validates the other representation.
        let gz = [
            ("Accept-Encoding", "gzip"),
            ("If-None-Match", "\"5fee6600-2f8\""),
        ];
        assert_eq!(f.with("/page.html", &gz).status, 200);
        let id = [("If-None-Match", "W/\"5fee6600-2f8-gzip\"")];
        assert_eq!(f.with("/page.html", &id).status, 200);
        let gz = [
            ("Accept-Encoding", "gzip"),
            ("If-None-Match", "W/\"5fee6600-2f8-gzip\""),
        ];
        let r = f.with("/page.html", &gz);
        assert_eq!(r.status, 304);
        assert_eq!(r.headers.vary, Some("Accept-Encoding"));
        // No ranges on the compressed body: the whole of it.
        let r = f.with(
            "/page.html",
            &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-9")],
        );
        assert_eq!((r.status, body(&r)), (200, z.clone()));
        // A changed file is recompressed.
        f.write("page.html", &b"changed! ".repeat(40));
        let r = f.site.resolve(
            &{
                let mut q = Request::new(Method::Get, b"/page.html");
                q.add_field(b"accept-encoding", b"gzip");
                q
            },
            NOW + 1,
        );
        assert_eq!(gunzip(&body(&r)), b"changed! ".repeat(40));
        assert_eq!(f.site.stats().compressions, 2);
    }

    #[test]
    fn small_or_incompressible_files_do_not_vary() {
        let mut f = Fixture::new();
        f.write("pic.png", &[0u8; 1000]);
        for path in ["/style.css", "/pic.png"] {
            let r = f.with(path, &[("Accept-Encoding", "gzip")]);
            assert_eq!((r.headers.content_encoding, r.headers.vary), (None, None));
        }
        let mut f = Fixture::with_opts(SiteOptions {
            gzip: false,
            ..SiteOptions::default()
        });
        f.write("page.html", &[b'x'; 1000]);
        let r = f.with("/page.html", &[("Accept-Encoding", "gzip")]);
        assert_eq!((r.headers.content_encoding, r.headers.vary), (None, None));
    }

    #[test]
    fn gzip_static_serves_the_gz_file() {
        let mut f = Fixture::new();
        let js = b"function f() { return 1; }\n".repeat(20);
        let gz = encoding::gzip(&js);
        f.write("app.js", &js);
        f.write("app.js.gz", &gz);
        let r = f.with("/app.js", &[("Accept-Encoding", "gzip")]);
        assert_eq!(
            hdr(&r),
            format!(
                "200\nContent-Type: text/javascript; charset=utf-8\n\
                 Content-Length: {}\nContent-Encoding: gzip\nLast-Modified: {LM}\n\
                 ETag: \"5fee6600-{:x}\"\nVary: Accept-Encoding\nAccept-Ranges: bytes\n",
                gz.len(),
                gz.len()
            )
        );
        assert_eq!(body(&r), gz);
        assert_eq!(f.site.stats().compressions, 0);
        // Ranges apply to the .gz bytes.
        let r = f.with(
            "/app.js",
            &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-1")],
        );
        assert_eq!((r.status, body(&r)), (206, gz[..2].to_vec()));
        let r = f.with("/app.js", &[]);
        assert_eq!((r.headers.content_encoding, body(&r)), (None, js.clone()));
        assert_eq!(r.headers.vary, Some("Accept-Encoding"));
        // A .gz outside the symlink policy is not used.
        let mut f = Fixture::new();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("x.gz"), b"secret").unwrap();
        f.write("b.txt", b"plain");
        std::os::unix::fs::symlink(outside.path().join("x.gz"), f.dir.path().join("b.txt.gz"))
            .unwrap();
        let r = f.with("/b.txt", &[("Accept-Encoding", "gzip")]);
        assert_eq!((r.status, body(&r)), (200, b"plain".to_vec()));
        // gzip_static off: no Vary for a small file.
        let mut f = Fixture::with_opts(SiteOptions {
            gzip_static: false,
            ..SiteOptions::default()
        });
        f.write("app.js", b"x");
        f.write("app.js.gz", b"y");
        let r = f.with("/app.js", &[("Accept-Encoding", "gzip")]);
        assert_eq!((r.headers.vary, body(&r)), (None, b"x".to_vec()));
    }

    #[test]
    fn redirects() {
        let mut f = Fixture::with_opts(SiteOptions {
            redirects: vec![
                Redirect {
                    from: "/old".into(),
                    to: "/index.html".into(),
                    status: 301,
                },
                Redirect {
                    from: "/blog/*".into(),
                    to: "https://blog.example/posts/".into(),
                    status: 308,
                },
                Redirect {
                    from: "/strip*".into(),
                    to: "/".into(),
                    status: 301,
                },
                Redirect {
                    from: "/style.css".into(),
                    to: "/s?v=2".into(),
                    status: 302,
                },
            ],
            ..SiteOptions::default()
        });
        let r = f.get("/old?a=1");
        assert_eq!(r.status, 301);
        assert_eq!(r.headers.location.as_deref(), Some("/index.html?a=1"));
        assert!(r.headers.content_length > 0);
        assert_eq!(f.get("/old/").status, 404);
        let r = f.get("/blog/2020/a%20b?x#frag");
        assert_eq!(r.status, 308);
        assert_eq!(
            r.headers.location.as_deref(),
            Some("https://blog.example/posts/2020/a%20b?x")
        );
        let r = f.call(Method::Post, b"/blog/", NOW);
        assert_eq!(r.status, 308);
        assert_eq!(
            r.headers.location.as_deref(),
            Some("https://blog.example/posts/")
        );
        let r = f.get("/style.css?q=1");
        assert_eq!(
            (r.status, r.headers.location.as_deref()),
            (302, Some("/s?v=2&q=1"))
        );
        assert_eq!(f.get("/blog").status, 404);
        // The rest joins `to` without doubling its slash: `//evil.example`
        // would name another host.
        for (target, location) in [
            ("/strip/evil.example/x", "/evil.example/x"),
            ("/strip//evil.example", "/evil.example"),
            ("/strip", "/"),
            ("/stripped", "/ped"),
        ] {
            let r = f.get(target);
            assert_eq!(r.headers.location.as_deref(), Some(location), "{target}");
        }
    }

    #[test]
    fn dotfiles_are_hidden_unless_served() {
        let mut f = Fixture::new();
        f.write(".env", b"SECRET=1");
        f.write(".git/config", b"x");
        f.write("a/.hidden/b.txt", b"x");
        f.write(".well-known/acme-challenge/tok", b"tok");
        for p in [
            "/.env",
            "/.git/config",
            "/a/.hidden/b.txt",
            "/%2egit/config",
        ] {
            assert_eq!(f.get(p).status, 404, "{p}");
        }
        assert_eq!(body(&f.get("/.well-known/acme-challenge/tok")), b"tok");
        let mut f = Fixture::with_opts(SiteOptions {
            serve_dotfiles: true,
            ..SiteOptions::default()
        });
        f.write(".env", b"SECRET=1");
        assert_eq!(f.get("/.env").status, 200);
    }

    #[test]
    fn symlink_policies() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"secret").unwrap();
        let setup = |policy| {
            let f = Fixture::with_opts(SiteOptions {
                follow_symlinks: policy,
                ..SiteOptions::default()
            });
            let link = |to: &Path, name: &str| {
                std::os::unix::fs::symlink(to, f.dir.path().join(name)).unwrap()
            };
            link(&outside.path().join("secret"), "leak");
            link(&f.dir.path().join("style.css"), "ok.css");
            link(&f.dir.path().join("docs"), "docs2");
            f
        };
        let mut f = setup(FollowSymlinks::Always);
        assert_eq!(body(&f.get("/leak")), b"secret");
        assert_eq!(body(&f.get("/ok.css")), b"body{}");
        let mut f = setup(FollowSymlinks::InsideRoot);
        assert_eq!(f.get("/leak").status, 403);
        assert_eq!(body(&f.get("/ok.css")), b"body{}");
        assert_eq!(body(&f.get("/docs2/")), b"docs");
        let mut f = setup(FollowSymlinks::Never);
        assert_eq!(f.get("/leak").status, 403);
        assert_eq!(f.get("/ok.css").status, 403);
        assert_eq!(f.get("/docs2/").status, 403);
        assert_eq!(f.get("/docs2/index.html").status, 403);
        assert_eq!(body(&f.get("/style.css")), b"body{}");
    }

    #[test]
    fn index_list_and_autoindex() {
        let mut f = Fixture::new();
        f.write("old/index.htm", b"htm");
        f.write("list/b.txt", b"b");
        f.write("list/.secret", b"s");
        assert_eq!(body(&f.get("/old/")), b"htm");
        assert_eq!(f.get("/list/").status, 403);
        let mut f = Fixture::with_opts(SiteOptions {
            autoindex: true,
            index: vec!["default.html".into()],
            ..SiteOptions::default()
        });
        f.write("list/b.txt", b"b");
        f.write("list/.secret", b"s");
        let r = f.get("/list/");
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.content_type, Some(ContentType::HTML));
        let html = String::from_utf8(body(&r)).unwrap();
        assert!(html.contains("<a href=\"./b.txt\">b.txt</a>") && !html.contains("secret"));
        // index.html is no longer an index name here: the root is listed.
        assert!(String::from_utf8(body(&f.get("/")))
            .unwrap()
            .contains("index.html"));
        assert_eq!(f.get("/nope/").status, 404);
    }

    #[test]
    fn error_pages_keep_the_status() {
        let mut f = Fixture::with_opts(SiteOptions {
            error_pages: vec![
                (404, "/errors/404.html".into()),
                (403, "/missing.html".into()),
            ],
            ..SiteOptions::default()
        });
        f.write("errors/404.html", b"<p>lost</p>");
        let r = f.get("/nope");
        assert_eq!(r.status, 404);
        assert_eq!(body(&r), b"<p>lost</p>");
        assert_eq!(r.headers.content_length, 11);
        assert_eq!(r.headers.etag, None);
        let r = f.call(Method::Head, b"/nope", NOW);
        assert_eq!((r.status, r.headers.content_length), (404, 11));
        assert!(r.body.is_empty());
        // A page that cannot be served: the built-in one.
        fs::create_dir(f.dir.path().join("empty")).unwrap();
        let r = f.get("/empty/");
        assert_eq!(r.status, 403);
        assert_eq!(body(&r), super::super::page(403).as_bytes());
        assert_eq!(f.site.error_response(404, NOW).headers.content_length, 11);
    }

    #[test]
    fn cache_rules_set_cache_control_and_expires() {
        let mut f = Fixture::with_opts(SiteOptions {
            expires: Expiry::MaxAge(60),
            cache: vec![
                CacheRule {
                    pattern: "*.css".into(),
                    expiry: Expiry::MaxAge(7 * 86400),
                },
                CacheRule {
                    pattern: "*.bin".into(),
                    expiry: Expiry::Off,
                },
            ],
            ..SiteOptions::default()
        });
        let r = f.get("/style.css");
        assert_eq!(r.headers.cache_control.as_deref(), Some("max-age=604800"));
        assert_eq!(
            r.headers.expires,
            Some(HttpDate::from_unix_secs(NOW + 7 * 86400))
        );
        let r = f.with("/style.css", &[("If-None-Match", "\"5fee6600-6\"")]);
        assert_eq!(r.status, 304);
        assert_eq!(r.headers.cache_control.as_deref(), Some("max-age=604800"));
        assert!(r.headers.expires.is_some());
        let r = f.get("/index.html");
        assert_eq!(r.headers.cache_control.as_deref(), Some("max-age=60"));
        let r = f.get("/data.bin");
        assert_eq!((r.headers.cache_control, r.headers.expires), (None, None));
        // The Expires date follows the clock.
        let r = f.call(Method::Get, b"/index.html", NOW + 5);
        assert_eq!(r.headers.expires, Some(HttpDate::from_unix_secs(NOW + 65)));
    }

    #[test]
    fn hot_requests_do_not_allocate() {
        let mut f = Fixture::new();
        f.write("page.html", &b"some text here ".repeat(70));
        let mut gz = Request::new(Method::Get, b"/page.html");
        gz.add_field(b"Accept-Encoding", b"gzip, deflate");
        let plain = Request::new(Method::Get, b"/index.html");
        let _ = f.site.resolve(&gz, NOW);
        let _ = f.site.resolve(&plain, NOW);
        let info = allocation_counter::measure(|| {
            for _ in 0..50 {
                let r = f.site.resolve(&gz, NOW);
                assert_eq!(r.headers.content_encoding, Some("gzip"));
                let r = f.site.resolve(&plain, NOW);
                assert_eq!(r.status, 200);
            }
        });
        assert_eq!(info.count_total, 0, "{info:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Arbitrary field bytes never panic `resolve`, and every answer is
        /// self-consistent.
        #[test]
        fn arbitrary_request_fields_never_panic(
            method in 0usize..4,
            target in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
            fields in proptest::collection::vec(
                (0usize..7, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)),
                0..6,
            ),
        ) {
            thread_local! {
                static FIX: std::cell::RefCell<Option<Fixture>> = const { std::cell::RefCell::new(None) };
            }
            const NAMES: [&[u8]; 7] = [
                b"if-match", b"if-none-match", b"if-modified-since",
                b"if-unmodified-since", b"range", b"if-range", b"accept-encoding",
            ];
            let method = [Method::Get, Method::Head, Method::Options, Method::Post][method];
            let targets: [&[u8]; 3] = [b"/index.html", b"/page.html", &target];
            FIX.with(|fix| {
                let mut fix = fix.borrow_mut();
                let f = fix.get_or_insert_with(|| {
                    let f = Fixture::new();
                    f.write("page.html", &b"0123456789".repeat(50));
                    f
                });
                for t in targets {
                    let mut req = Request::new(method, t);
                    for (n, v) in &fields {
                        req.add_field(NAMES[*n], v);
                    }
                    let r = f.site.resolve(&req, NOW);
                    if method == Method::Get {
                        assert_eq!(r.body.len(), match r.status {
                            304 => 0,
                            _ => r.headers.content_length,
                        });
                        let mut v = vec![0; r.body.len() as usize];
                        assert!(r.body.read_at(0, &mut v).is_ok());
                    }
                    r.for_each_field(|_, v| assert!(v.iter().all(|b| (0x20..0x7f).contains(b))));
                }
            });
        }
    }
}
