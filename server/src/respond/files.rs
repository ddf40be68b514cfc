//! Static files under a root directory, with an open-file cache.
//!
//! Job: map `GET`/`HEAD` of a request target to a file under the root and
//! describe the response: status, `Content-Type` (by extension),
//! `Content-Length`, `Last-Modified`, and the body's source.
//!
//! Rules:
//! - The target is percent-decoded, its query dropped and its path
//!   normalised ([`super::path`]); `..` segments, NUL and backslashes are
//!   400. Symlinks are followed only if they resolve inside the root
//!   (otherwise 404), so nothing outside the root is served.
//! - A directory is served by its `index.html`; a directory named without
//!   a trailing slash is redirected (301) to the slashed path.
//! - Missing files are 404, unreadable ones 403, other methods 405 with
//!   `Allow: GET, HEAD`. There is no directory listing.
//!
//! The cache (like nginx's `open_file_cache`): files up to
//! [`CacheLimits::max_file_size`] are kept in memory, larger ones as an open
//! file that is read in chunks at send time (never whole). A cache hit makes
//! no system call: an entry is revalidated (one `stat`) at most once per
//! [`REVALIDATE_SECS`] of `now_unix_secs`, and a changed or vanished file is
//! reloaded or forgotten then. The cache is bounded in entries and bytes
//! and evicts the least recently used entry.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use tracing::{debug, trace, warn};

use super::path::{normalize, Target};
use super::{Body, ContentType, Headers, Method, Response, ALLOW};
use crate::date::HttpDate;

/// Largest file kept in memory by default (nginx-like "small file").
pub const SMALL_FILE_MAX: u64 = 256 * 1024;
/// Default bound on cache entries (each large-file entry holds an open fd).
pub const CACHE_MAX_ENTRIES: usize = 4096;
/// Default bound on bytes of file contents held in memory.
pub const CACHE_MAX_BYTES: usize = 64 * 1024 * 1024;
/// An entry is trusted for this many seconds before it is checked again.
pub const REVALIDATE_SECS: u64 = 1;
/// The file served for a directory.
pub const INDEX_FILE: &str = "index.html";

/// Bounds of the open-file cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most entries (small and large files together).
    pub max_entries: usize,
    /// Most bytes of small-file contents in memory.
    pub max_bytes: usize,
    /// Files up to this size are held in memory; larger ones are streamed.
    pub max_file_size: u64,
}

impl Default for CacheLimits {
    fn default() -> CacheLimits {
        CacheLimits {
            max_entries: CACHE_MAX_ENTRIES,
            max_bytes: CACHE_MAX_BYTES,
            max_file_size: SMALL_FILE_MAX,
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
}

/// A document root and its file cache. One per event loop (not `Sync`).
#[derive(Debug)]
pub struct Site {
    /// Canonical root.
    root: PathBuf,
    limits: CacheLimits,
    entries: HashMap<Box<[u8]>, Entry>,
    stats: CacheStats,
    /// Counter giving each use a recency stamp (for LRU eviction).
    clock: u64,
    /// Reused buffer for the decoded path.
    scratch: Vec<u8>,
}

/// What identifies a file version: if any of these change, reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ident {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
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
    ident: Ident,
    checked_at: u64,
    last_use: u64,
    content_type: ContentType,
    last_modified: HttpDate,
    data: Data,
}

#[derive(Debug)]
enum Data {
    Small(Rc<[u8]>),
    Large(Rc<File>),
}

impl Entry {
    fn response(&self, method: Method) -> Response {
        let headers = Headers {
            content_type: Some(self.content_type.clone()),
            content_length: self.ident.size,
            last_modified: Some(self.last_modified),
            ..Headers::default()
        };
        let body = match (method, &self.data) {
            (Method::Head, _) => Body::Empty,
            (_, Data::Small(bytes)) => Body::Bytes(bytes.clone()),
            (_, Data::Large(file)) => Body::File {
                file: file.clone(),
                offset: 0,
                len: self.ident.size,
            },
        };
        Response {
            status: 200,
            headers,
            body,
        }
    }

    fn bytes(&self) -> usize {
        match &self.data {
            Data::Small(b) => b.len(),
            Data::Large(_) => 0,
        }
    }
}

impl Site {
    /// Serves files under `root`, which must be an existing directory.
    pub fn new(root: PathBuf) -> io::Result<Site> {
        Site::with_limits(root, CacheLimits::default())
    }

    /// [`Site::new`] with explicit cache bounds.
    pub fn with_limits(root: PathBuf, limits: CacheLimits) -> io::Result<Site> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "site root is not a directory",
            ));
        }
        Ok(Site {
            root,
            limits,
            entries: HashMap::new(),
            stats: CacheStats::default(),
            clock: 0,
            scratch: Vec::new(),
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
            ..self.stats
        }
    }

    /// The response to `method` on `target` (the raw request target, e.g.
    /// `/a%20b.html?x=1`). Call once per request with the wall clock's
    /// current second; it does no I/O on a fresh cache hit.
    pub fn resolve(&mut self, method: Method, target: &[u8], now_unix_secs: u64) -> Response {
        let resp = self.resolve_get(method, target, now_unix_secs);
        match method {
            Method::Head => resp.into_head(),
            _ => resp,
        }
    }

    fn resolve_get(&mut self, method: Method, target: &[u8], now: u64) -> Response {
        if method == Method::Other {
            let mut resp = Response::error(405);
            resp.headers.allow = Some(ALLOW);
            return resp;
        }
        let mut key = std::mem::take(&mut self.scratch);
        let resp = match normalize(target, &mut key) {
            Ok(t) => self.lookup(&key, method, target, t, now),
            Err(e) => {
                debug!(request_target = %String::from_utf8_lossy(target), error = %e, "bad request target");
                Response::error(400)
            }
        };
        self.scratch = key;
        resp
    }

    fn lookup(
        &mut self,
        key: &[u8],
        method: Method,
        target: &[u8],
        t: Target,
        now: u64,
    ) -> Response {
        self.clock += 1;
        if let Some(entry) = self.entries.get_mut(key) {
            // `now < checked_at`: the wall clock stepped back; check again.
            let fresh = now >= entry.checked_at && now - entry.checked_at < REVALIDATE_SECS;
            let valid = fresh || {
                self.stats.revalidations += 1;
                match fs::metadata(&entry.full) {
                    Ok(m) if Ident::of(&m) == entry.ident => {
                        entry.checked_at = now;
                        true
                    }
                    _ => false,
                }
            };
            if valid {
                self.stats.hits += 1;
                entry.last_use = self.clock;
                return entry.response(method);
            }
            trace!(path = %entry.full.display(), "cache entry changed; reloading");
            if let Some(old) = self.entries.remove(key) {
                self.stats.bytes -= old.bytes();
            }
        }
        self.stats.misses += 1;
        self.open(key, method, target, t, now)
    }

    /// The slow path: open, check, read, and cache.
    fn open(&mut self, key: &[u8], method: Method, target: &[u8], t: Target, now: u64) -> Response {
        let mut full = self.root.join(OsStr::from_bytes(key));
        if t.trailing_slash {
            full.push(INDEX_FILE);
        }
        let opened = OpenOptions::new()
            .read(true)
            // A FIFO swapped in under a name must not block the event loop.
            .custom_flags(libc::O_NONBLOCK)
            .open(&full)
            .and_then(|f| f.metadata().map(|m| (f, m)));
        let (mut file, meta) = match opened {
            Ok(fm) => fm,
            Err(e) => return io_error_response(&full, &e),
        };
        // Symlinks may point anywhere: serve only what resolves inside root.
        match fs::canonicalize(&full) {
            Ok(real) if real.starts_with(&self.root) => {}
            Ok(real) => {
                debug!(path = %full.display(), real = %real.display(), "outside the root: 404");
                return Response::error(404);
            }
            Err(e) => return io_error_response(&full, &e),
        }
        if meta.is_dir() {
            if t.trailing_slash {
                // `index.html` is itself a directory.
                return Response::error(404);
            }
            return redirect_to_slash(target, t);
        }
        if !meta.is_file() {
            debug!(path = %full.display(), "not a regular file: 404");
            return Response::error(404);
        }

        let ident = Ident::of(&meta);
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        // RFC 9110 §8.8.2.1: never claim a modification in the future.
        let last_modified = HttpDate::from_unix_secs(mtime.min(now));
        let content_type = content_type(&full);
        let data = if ident.size <= self.limits.max_file_size {
            let mut bytes = Vec::with_capacity(ident.size as usize);
            if let Err(e) = (&mut file).take(ident.size).read_to_end(&mut bytes) {
                return io_error_response(&full, &e);
            }
            if bytes.len() as u64 != ident.size {
                // Shrunk while we read: serve what we have, cache nothing.
                debug!(path = %full.display(), "file changed while read; not cached");
                let len = bytes.len() as u64;
                let entry = Entry {
                    full,
                    ident: Ident { size: len, ..ident },
                    checked_at: now,
                    last_use: self.clock,
                    content_type,
                    last_modified,
                    data: Data::Small(bytes.into()),
                };
                return entry.response(method);
            }
            Data::Small(bytes.into())
        } else {
            Data::Large(Rc::new(file))
        };
        let entry = Entry {
            full,
            ident,
            checked_at: now,
            last_use: self.clock,
            content_type,
            last_modified,
            data,
        };
        let resp = entry.response(method);
        self.insert(key, entry);
        resp
    }

    fn insert(&mut self, key: &[u8], entry: Entry) {
        let need = entry.bytes();
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
                self.stats.bytes -= old.bytes();
                self.stats.evictions += 1;
            }
        }
        self.stats.bytes += need;
        self.entries.insert(key.into(), entry);
    }
}

/// 301 to the same target with a `/` after the path (query kept).
fn redirect_to_slash(target: &[u8], t: Target) -> Response {
    let mut location = Vec::with_capacity(target.len() + 1);
    location.extend_from_slice(&target[t.path_start..t.path_end]);
    if location.is_empty() {
        location.push(b'/');
    }
    location.push(b'/');
    // Keep the query, drop a fragment (never sent by browsers anyway).
    let rest = &target[t.path_end..];
    if rest.first() == Some(&b'?') {
        let end = rest.iter().position(|&b| b == b'#').unwrap_or(rest.len());
        location.extend_from_slice(&rest[..end]);
    }
    let mut resp = Response::error(301);
    // The target came from a parsed request line: visible ASCII. Anything
    // else would be mangled here, never sent raw.
    resp.headers.location = Some(
        String::from_utf8_lossy(&location)
            .into_owned()
            .into_boxed_str(),
    );
    resp
}

/// The error status for a failed open/stat.
fn io_error_response(path: &Path, e: &io::Error) -> Response {
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
    Response::error(status)
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
    use super::*;
    use std::os::unix::fs::FileExt;
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
            let dir = tempfile::tempdir().unwrap();
            let site = Site::with_limits(dir.path().to_owned(), limits).unwrap();
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
            self.site.resolve(Method::Get, target.as_bytes(), NOW)
        }
    }

    fn body(r: &Response) -> Vec<u8> {
        match &r.body {
            Body::Empty => Vec::new(),
            Body::Static(b) => b.to_vec(),
            Body::Bytes(b) => b.to_vec(),
            Body::File { file, offset, len } => {
                let mut v = vec![0; *len as usize];
                file.read_exact_at(&mut v, *offset).unwrap();
                v
            }
        }
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
        let r = f.site.resolve(Method::Head, b"/index.html", NOW);
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.content_length, 13);
        assert!(matches!(r.body, Body::Empty));
        let r = f.site.resolve(Method::Head, b"/missing", NOW);
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
        fs::create_dir(f.dir.path().join("empty")).unwrap();
        assert_eq!(f.get("/empty/").status, 404);
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
        let r = f.site.resolve(Method::Other, b"/index.html", NOW);
        assert_eq!(r.status, 405);
        assert_eq!(r.headers.allow, Some("GET, HEAD"));
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
        assert_eq!(f.get("/leak").status, 404);
        assert_eq!(f.get("/leakdir/secret").status, 404);
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
        assert_eq!(
            f.site.resolve(Method::Get, b"/style.css", NOW + 1).status,
            404
        );
        let s = f.site.stats();
        assert_eq!((s.revalidations, s.entries, s.bytes), (1, 0, 0));
    }

    #[test]
    fn changed_files_are_reloaded_on_revalidation() {
        let mut f = Fixture::new();
        assert_eq!(body(&f.get("/index.html")), b"<h1>home</h1>");
        f.write("index.html", b"new!");
        assert_eq!(body(&f.get("/index.html")), b"<h1>home</h1>");
        let r = f.site.resolve(Method::Get, b"/index.html", NOW + 1);
        assert_eq!(body(&r), b"new!");
        assert_eq!(r.headers.content_length, 4);
        // Unchanged: one stat, then trusted for another second.
        let _ = f.site.resolve(Method::Get, b"/index.html", NOW + 2);
        let _ = f.site.resolve(Method::Get, b"/index.html", NOW + 2);
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
        let r = f.site.resolve(Method::Get, b"/index.html", MTIME - 10);
        assert_eq!(
            r.headers.last_modified,
            Some(HttpDate::from_unix_secs(MTIME - 10))
        );
    }
}
