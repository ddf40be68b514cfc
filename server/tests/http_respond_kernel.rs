//! Kernel tests of tapir's static-file responses (`server/src/respond/`):
//! validators and conditional requests, ranges and `multipart/byteranges`,
//! redirects, gzip on the fly and `.gz` sidecars, HEAD/OPTIONS/405/501,
//! path traversal, dotfiles, symlink policy, autoindex, error pages and
//! cache rules, all against the real `tapir` binary from the namespace's
//! kernel TCP with `curl` (and bash's `/dev/tcp` where a byte-level view of
//! the connection matters).
//!
//! Each test has its own namespace (see `common/mod.rs`), its own temporary
//! root with generated fixtures, and its own config; every command runs
//! under `timeout` and curl under `--max-time`. They need root and print
//! "skipped" without it. Message-level behaviour (limits, bodies, the access
//! log, pipelining) is `http_kernel.rs`'s.

#[macro_use]
mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::{config_with_root, curl, pattern, Netns, Tapir, TempDir, TAPIR_ADDR};

fn url(path: &str) -> String {
    format!("http://{TAPIR_ADDR}{path}")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Compressible text of at least `len` bytes.
fn prose(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(format!("line {i}: the tapir serves static files\n").as_bytes());
        i += 1;
    }
    out
}

/// Writes `root/rel` (creating parent directories).
fn put(root: &TempDir, rel: &str, bytes: &[u8]) {
    let path = root.path().join(rel);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("mkdir fixture dir");
    }
    fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// One response as curl saw it.
#[derive(Debug)]
struct Resp {
    /// `HTTP/1.1 200 OK`.
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// curl's stderr, for failure messages.
    stderr: String,
}

impl Resp {
    fn code(&self) -> u16 {
        self.status_line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// The value of header `name` (case-insensitive); panics if repeated.
    fn header(&self, name: &str) -> Option<&str> {
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = found.next();
        assert!(found.next().is_none(), "{name} repeated: {self}");
        first
    }

    /// The value of header `name`, which must be present.
    fn must(&self, name: &str) -> &str {
        self.header(name)
            .unwrap_or_else(|| panic!("no {name} header: {self}"))
    }

    /// The headers, without those that depend on the moment (`Date`,
    /// `Expires`), as `name: value` lines.
    fn stable_headers(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date") && !n.eq_ignore_ascii_case("expires"))
            .map(|(n, v)| format!("{n}: {v}"))
            .collect()
    }
}

impl std::fmt::Display for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.status_line)?;
        for (n, v) in &self.headers {
            writeln!(f, "{n}: {v}")?;
        }
        let shown = &self.body[..self.body.len().min(300)];
        writeln!(f, "\n{} body bytes: {:?}", self.body.len(), text(shown))?;
        write!(f, "curl: {}", self.stderr)
    }
}

/// Splits curl's `-i` output into the last response's head and its body.
/// curl prints the heads of interim (1xx) responses, and with `-L` of the
/// redirects it followed, without their bodies: those are skipped.
fn parse_included(out: &[u8], stderr: String) -> Resp {
    let resp = parse_one(out, stderr);
    let interim =
        resp.code() / 100 == 1 || (resp.code() / 100 == 3 && resp.header("Location").is_some());
    if interim && resp.body.starts_with(b"HTTP/1.1 ") {
        return parse_included(&resp.body, resp.stderr);
    }
    resp
}

fn parse_one(out: &[u8], stderr: String) -> Resp {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header section in {:?}\n{stderr}", text(out)));
    let head = text(&out[..split]);
    let body = out[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Resp {
        status_line,
        headers,
        body,
        stderr,
    }
}

/// `curl -i ARGS URL(path)`: the response's status line, headers and body
/// bytes (decoded only if `args` has `--compressed`).
fn get(ns: &Netns, path: &str, args: &[&str]) -> Resp {
    let target = url(path);
    let mut argv = vec!["-i"];
    argv.extend_from_slice(args);
    argv.push(&target);
    let out = curl(ns, &argv);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "curl {argv:?} failed: {stderr}");
    parse_included(&out.stdout, stderr)
}

/// Writes `request` (a `printf` format: `\r\n` escapes work) on one
/// connection and returns every byte tapir sends until it closes. The
/// last request should say `Connection: close`.
fn raw(ns: &Netns, request: &str) -> Vec<u8> {
    let script = format!(
        "exec 3<>/dev/tcp/{TAPIR_ADDR}/80 || exit 1; printf '{request}' >&3; timeout 10 cat <&3"
    );
    ns.exec(&["bash", "-c", &script]).stdout
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn gzip_best(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .filename("sidecar")
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("compress");
    enc.finish().expect("compress")
}

fn assert_status(r: &Resp, line: &str) {
    assert_eq!(r.status_line, line, "{r}");
}

#[test]
fn validators_and_conditional_requests() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    let body = pattern(5000);
    put(&root, "v.bin", &body);
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), ""));

    let r = get(&ns, "/v.bin", &[]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.body, body, "{r}");
    assert_eq!(r.must("Content-Length"), "5000");
    assert_eq!(r.must("Accept-Ranges"), "bytes");
    let etag = r.must("ETag").to_owned();
    let lm = r.must("Last-Modified").to_owned();
    // nginx's strong form: "<mtime hex>-<size hex>".
    assert!(
        etag.starts_with('"') && etag.ends_with("-1388\""),
        "ETag {etag}"
    );
    assert!(
        lm.ends_with(" GMT") && httpdate::parse_http_date(&lm).is_ok(),
        "{lm}"
    );

    let not_modified = |hdrs: &[String]| {
        let mut args = Vec::new();
        for h in hdrs {
            args.extend_from_slice(&["-H", h.as_str()]);
        }
        let r = get(&ns, "/v.bin", &args);
        assert_status(&r, "HTTP/1.1 304 Not Modified");
        assert!(r.body.is_empty(), "{hdrs:?}: {r}");
        assert_eq!(r.header("ETag"), Some(etag.as_str()), "{r}");
        assert_eq!(r.header("Content-Length"), None, "{r}");
        r
    };
    let inm = |v: &str| format!("If-None-Match: {v}");
    not_modified(&[inm(&etag)]);
    not_modified(&[inm(&format!("W/{etag}"))]);
    not_modified(&[inm(&format!("\"a\", {etag}, \"b\""))]);
    not_modified(&[inm("*")]);
    not_modified(&[format!("If-Modified-Since: {lm}")]);
    // A later date also means "not modified since".
    let later = httpdate::parse_http_date(&lm).expect("Last-Modified") + Duration::from_secs(60);
    not_modified(&[format!(
        "If-Modified-Since: {}",
        httpdate::fmt_http_date(later)
    )]);
    // Precedence (RFC 9110 §13.2.2): If-None-Match decides, If-Modified-Since
    // is ignored when it is present.
    not_modified(&[
        inm(&etag),
        "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT".to_owned(),
    ]);
    let r = get(
        &ns,
        "/v.bin",
        &[
            "-H",
            "If-None-Match: \"other\"",
            "-H",
            &format!("If-Modified-Since: {lm}"),
        ],
    );
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.body, body);
    // An old If-Modified-Since: modified since, full body.
    let r = get(
        &ns,
        "/v.bin",
        &["-H", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"],
    );
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.body, body);

    // If-Match: strong comparison; a weak tag or another tag fails.
    for (value, line) in [
        (etag.clone(), "HTTP/1.1 200 OK"),
        ("*".to_owned(), "HTTP/1.1 200 OK"),
        (format!("\"x\", {etag}"), "HTTP/1.1 200 OK"),
        ("\"nope\"".to_owned(), "HTTP/1.1 412 Precondition Failed"),
        (format!("W/{etag}"), "HTTP/1.1 412 Precondition Failed"),
    ] {
        let r = get(&ns, "/v.bin", &["-H", &format!("If-Match: {value}")]);
        assert_eq!(r.status_line, line, "If-Match: {value}: {r}");
    }
    let r = get(
        &ns,
        "/v.bin",
        &["-H", "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT"],
    );
    assert_status(&r, "HTTP/1.1 412 Precondition Failed");
    let r = get(
        &ns,
        "/v.bin",
        &["-H", &format!("If-Unmodified-Since: {lm}")],
    );
    assert_status(&r, "HTTP/1.1 200 OK");
    // If-Match wins over If-Unmodified-Since.
    let r = get(
        &ns,
        "/v.bin",
        &[
            "-H",
            &format!("If-Match: {etag}"),
            "-H",
            "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT",
        ],
    );
    assert_status(&r, "HTTP/1.1 200 OK");
    // If-Match fails before If-None-Match is looked at.
    let r = get(
        &ns,
        "/v.bin",
        &[
            "-H",
            "If-Match: \"nope\"",
            "-H",
            &format!("If-None-Match: {etag}"),
        ],
    );
    assert_status(&r, "HTTP/1.1 412 Precondition Failed");

    // The 304 has no body at all: a second request on the same connection is
    // answered right after its head.
    let got = raw(
        &ns,
        &format!(
            "GET /v.bin HTTP/1.1\\r\\nHost: x\\r\\nIf-None-Match: {etag}\\r\\n\\r\\n\
             GET /nope HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n"
        ),
    );
    let got = text(&got);
    assert!(got.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{got}");
    let second = got.find("\r\n\r\n").expect("304 head ends") + 4;
    assert!(
        got[second..].starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{got}"
    );
}

/// Parses a `multipart/byteranges` body into `(Content-Range, bytes)` parts.
fn multipart(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delim = format!("\r\n--{boundary}");
    let delim = delim.as_bytes();
    let find = |hay: &[u8], from: usize| {
        hay[from..]
            .windows(delim.len())
            .position(|w| w == delim)
            .map(|i| i + from)
    };
    // The body may start with the delimiter without its leading CRLF.
    let body = if body.starts_with(&delim[2..]) {
        [b"\r\n".as_slice(), body].concat()
    } else {
        body.to_vec()
    };
    let mut parts = Vec::new();
    let mut at = find(&body, 0).expect("first boundary");
    loop {
        let after = at + delim.len();
        if body[after..].starts_with(b"--") {
            assert_eq!(&body[after + 2..], b"\r\n", "epilogue");
            return parts;
        }
        assert!(body[after..].starts_with(b"\r\n"), "boundary line ends");
        let head_end = body[after..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part head")
            + after;
        let head = text(&body[after + 2..head_end]);
        let next = find(&body, head_end + 4).expect("next boundary");
        let range = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("Content-Range: "))
            .unwrap_or_else(|| panic!("part without Content-Range: {head}"))
            .to_owned();
        assert!(
            head.contains("Content-Type: application/octet-stream"),
            "{head}"
        );
        parts.push((range, body[head_end + 4..next].to_vec()));
        at = next;
    }
}

fn check_ranges(ns: &Netns, path: &str, body: &[u8]) {
    let len = body.len();
    for (spec, first, last) in [
        ("0-99", 0, 99),
        ("-100", len - 100, len - 1),
        ("100-", 100, len - 1),
        (&*format!("{}-{}", len - 10, len + 50), len - 10, len - 1),
    ] {
        let r = get(ns, path, &["-r", spec]);
        assert_status(&r, "HTTP/1.1 206 Partial Content");
        assert_eq!(
            r.must("Content-Range"),
            format!("bytes {first}-{last}/{len}"),
            "{spec}"
        );
        assert_eq!(r.must("Content-Length"), (last + 1 - first).to_string());
        assert!(r.body == body[first..=last], "{spec}: body differs: {r}");
    }

    let r = get(ns, path, &["-r", "0-9,20-29,100-"]);
    assert_status(&r, "HTTP/1.1 206 Partial Content");
    assert_eq!(r.header("Content-Range"), None, "{r}");
    let ct = r.must("Content-Type");
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("Content-Type {ct}"));
    assert_eq!(r.must("Content-Length"), r.body.len().to_string());
    let parts = multipart(&r.body, boundary);
    let want = [(0, 9), (20, 29), (100, len - 1)];
    assert_eq!(parts.len(), want.len(), "{r}");
    for ((range, bytes), (first, last)) in parts.iter().zip(want) {
        assert_eq!(range, &format!("bytes {first}-{last}/{len}"));
        assert!(bytes[..] == body[first..=last], "part {range} differs");
    }

    for spec in [format!("{len}-"), format!("{}-{}", len + 1, len + 9)] {
        let r = get(ns, path, &["-r", &spec]);
        assert_status(&r, "HTTP/1.1 416 Range Not Satisfiable");
        assert_eq!(r.must("Content-Range"), format!("bytes */{len}"), "{spec}");
    }
    // A syntactically invalid Range is ignored (§14.2): 200, whole body.
    let r = get(ns, path, &["-H", "Range: bytes=x-y"]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert!(r.body == body);
    let r = get(ns, path, &["-H", "Range: lines=1-2"]);
    assert_status(&r, "HTTP/1.1 200 OK");

    // If-Range: the current strong ETag lets the range through; an old one,
    // or a weak one, gets the whole representation.
    let etag = get(ns, path, &["-I"]).must("ETag").to_owned();
    let r = get(
        ns,
        path,
        &["-r", "0-99", "-H", &format!("If-Range: {etag}")],
    );
    assert_status(&r, "HTTP/1.1 206 Partial Content");
    assert!(r.body == body[..100]);
    for old in ["\"5f000000-10\"".to_owned(), format!("W/{etag}")] {
        let r = get(ns, path, &["-r", "0-99", "-H", &format!("If-Range: {old}")]);
        assert_status(&r, "HTTP/1.1 200 OK");
        assert_eq!(r.header("Content-Range"), None);
        assert!(r.body == body, "If-Range: {old}: body differs");
    }
    // HEAD ignores Range.
    let r = get(ns, path, &["-I", "-r", "0-99"]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.must("Content-Length"), len.to_string());
}

#[test]
fn byte_ranges_of_small_and_large_files() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    let small = pattern(1000);
    // Larger than the memory cache's 256 KiB: read from the file at send time.
    let large = pattern(300 * 1024 + 7);
    put(&root, "small.bin", &small);
    put(&root, "large.bin", &large);
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), ""));
    check_ranges(&ns, "/small.bin", &small);
    check_ranges(&ns, "/large.bin", &large);
}

/// Sets `path`'s modification time to 2020-01-02 03:04:05 UTC.
fn age(path: &Path) {
    let out = common::run(std::process::Command::new("touch").args([
        "-d",
        "2020-01-02 03:04:05 UTC",
        path.to_str().expect("utf-8 path"),
    ]));
    assert!(out.status.success(), "touch: {}", text(&out.stderr));
}

#[test]
fn range_and_conditional_edge_cases() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    let body = pattern(1000);
    put(&root, "old.bin", &body);
    put(&root, "empty.bin", b"");
    age(&root.path().join("old.bin"));
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), ""));

    let r = get(&ns, "/old.bin", &[]);
    let lm = r.must("Last-Modified").to_owned();
    assert_eq!(lm, "Thu, 02 Jan 2020 03:04:05 GMT");
    let etag = r.must("ETag").to_owned();
    assert_eq!(etag, "\"5e0d5da5-3e8\"");

    // If-Range with the exact (strong: long past) Last-Modified: 206; any
    // other date: 200.
    let r = get(
        &ns,
        "/old.bin",
        &["-r", "10-19", "-H", &format!("If-Range: {lm}")],
    );
    assert_status(&r, "HTTP/1.1 206 Partial Content");
    assert!(r.body == body[10..20]);
    let r = get(
        &ns,
        "/old.bin",
        &[
            "-r",
            "10-19",
            "-H",
            "If-Range: Thu, 02 Jan 2020 03:04:06 GMT",
        ],
    );
    assert_status(&r, "HTTP/1.1 200 OK");
    assert!(r.body == body);

    // If-Modified-Since: equal or later is 304, a second earlier is 200, an
    // invalid date is ignored.
    for (ims, line) in [
        (lm.as_str(), "HTTP/1.1 304 Not Modified"),
        ("Thu, 02 Jan 2020 03:04:06 GMT", "HTTP/1.1 304 Not Modified"),
        (
            "Thursday, 02-Jan-20 03:04:05 GMT",
            "HTTP/1.1 304 Not Modified",
        ),
        ("Thu Jan  2 03:04:05 2020", "HTTP/1.1 304 Not Modified"),
        ("Thu, 02 Jan 2020 03:04:04 GMT", "HTTP/1.1 200 OK"),
        ("yesterday", "HTTP/1.1 200 OK"),
    ] {
        let r = get(
            &ns,
            "/old.bin",
            &["-H", &format!("If-Modified-Since: {ims}")],
        );
        assert_eq!(r.status_line, line, "If-Modified-Since: {ims}: {r}");
    }
    // If-Unmodified-Since: equal passes, earlier fails, invalid is ignored.
    for (ius, line) in [
        (lm.as_str(), "HTTP/1.1 200 OK"),
        (
            "Thu, 02 Jan 2020 03:04:04 GMT",
            "HTTP/1.1 412 Precondition Failed",
        ),
        ("not a date", "HTTP/1.1 200 OK"),
    ] {
        let r = get(
            &ns,
            "/old.bin",
            &["-H", &format!("If-Unmodified-Since: {ius}")],
        );
        assert_eq!(r.status_line, line, "If-Unmodified-Since: {ius}: {r}");
    }
    // HEAD is conditional too; preconditions come before ranges.
    let r = get(
        &ns,
        "/old.bin",
        &["-I", "-H", &format!("If-None-Match: {etag}")],
    );
    assert_status(&r, "HTTP/1.1 304 Not Modified");
    let r = get(
        &ns,
        "/old.bin",
        &["-r", "0-9", "-H", &format!("If-None-Match: {etag}")],
    );
    assert_status(&r, "HTTP/1.1 304 Not Modified");
    let r = get(&ns, "/old.bin", &["-r", "0-9", "-H", "If-Match: \"nope\""]);
    assert_status(&r, "HTTP/1.1 412 Precondition Failed");
    let r = get(
        &ns,
        "/old.bin",
        &["-r", "0-9", "-H", &format!("If-Match: {etag}")],
    );
    assert_status(&r, "HTTP/1.1 206 Partial Content");

    // Range forms.
    for (range, status, content_range, bytes) in [
        // Unsatisfiable members are dropped when another one is satisfiable.
        (
            "bytes=0-9,5000-6000",
            206,
            Some("bytes 0-9/1000"),
            &body[0..10],
        ),
        // Overlapping and adjacent ranges coalesce into one.
        (
            "bytes=0-9,5-14,15-19",
            206,
            Some("bytes 0-19/1000"),
            &body[0..20],
        ),
        ("BYTES=990-", 206, Some("bytes 990-999/1000"), &body[990..]),
        ("bytes=-5000", 206, Some("bytes 0-999/1000"), &body[..]),
        (
            "bytes=999-999",
            206,
            Some("bytes 999-999/1000"),
            &body[999..],
        ),
        (
            "bytes=0-18446744073709551615",
            206,
            Some("bytes 0-999/1000"),
            &body[..],
        ),
        ("bytes=-0", 416, Some("bytes */1000"), &b""[..]),
        ("bytes=5-2", 200, None, &body[..]),
        ("bytes=", 200, None, &body[..]),
        ("bytes=1-2-3", 200, None, &body[..]),
    ] {
        let r = get(&ns, "/old.bin", &["-H", &format!("Range: {range}")]);
        assert_eq!(r.code(), status, "{range}: {r}");
        assert_eq!(r.header("Content-Range"), content_range, "{range}: {r}");
        if status != 416 {
            assert!(r.body == bytes, "{range}: body differs: {r}");
        }
    }
    // A flood of ranges is ignored rather than answered part by part.
    let many: Vec<String> = (0..150).map(|i| format!("{}-{}", i * 3, i * 3)).collect();
    let r = get(
        &ns,
        "/old.bin",
        &["-H", &format!("Range: bytes={}", many.join(","))],
    );
    assert_status(&r, "HTTP/1.1 200 OK");
    assert!(r.body == body);
    // Nothing of an empty file can be satisfied.
    let r = get(&ns, "/empty.bin", &["-r", "0-"]);
    assert_status(&r, "HTTP/1.1 416 Range Not Satisfiable");
    assert_eq!(r.must("Content-Range"), "bytes */0");
    let r = get(&ns, "/empty.bin", &[]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.must("Content-Length"), "0");
}

#[test]
fn redirect_rules_and_directory_slash() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    put(&root, "index.html", b"<p>home</p>\n");
    put(&root, "sub/index.html", b"<p>sub</p>\n");
    put(&root, "my dir/index.html", b"<p>spaced</p>\n");
    let rules = r#"
[[http.redirect]]
from = "/old"
to = "/index.html"
status = 301

[[http.redirect]]
from = "/docs/*"
to = "/manual/"

[[http.redirect]]
from = "/strip*"
to = "/"

[[http.redirect]]
from = "/found"
to = "/index.html"
status = 302

[[http.redirect]]
from = "/see"
to = "/index.html"
status = 303

[[http.redirect]]
from = "/temp"
to = "http://example.com/t?x=1"
status = 307

[[http.redirect]]
from = "/perm/*"
to = "https://example.com/p/"
status = 308
"#;
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), rules));

    for (path, line, location) in [
        ("/old", "HTTP/1.1 301 Moved Permanently", "/index.html"),
        (
            "/old?a=1",
            "HTTP/1.1 301 Moved Permanently",
            "/index.html?a=1",
        ),
        (
            "/docs/guide/intro.html?v=2&x=y",
            "HTTP/1.1 301 Moved Permanently",
            "/manual/guide/intro.html?v=2&x=y",
        ),
        ("/docs/", "HTTP/1.1 301 Moved Permanently", "/manual/"),
        (
            "/docs/a%20b.html",
            "HTTP/1.1 301 Moved Permanently",
            "/manual/a%20b.html",
        ),
        ("/found", "HTTP/1.1 302 Found", "/index.html"),
        ("/see", "HTTP/1.1 303 See Other", "/index.html"),
        (
            "/temp?y=2",
            "HTTP/1.1 307 Temporary Redirect",
            "http://example.com/t?x=1&y=2",
        ),
        (
            "/perm/a/b",
            "HTTP/1.1 308 Permanent Redirect",
            "https://example.com/p/a/b",
        ),
        ("/sub", "HTTP/1.1 301 Moved Permanently", "/sub/"),
        (
            "/sub?q=1&r=2",
            "HTTP/1.1 301 Moved Permanently",
            "/sub/?q=1&r=2",
        ),
    ] {
        let r = get(&ns, path, &[]);
        assert_eq!(r.status_line, line, "{path}: {r}");
        assert_eq!(r.header("Location"), Some(location), "{path}: {r}");
        assert_eq!(r.must("Content-Length"), r.body.len().to_string());
    }
    // The slash redirect keeps the target's encoding, also for absolute-form.
    let r = get(&ns, "/my%20dir?x=1", &[]);
    assert_status(&r, "HTTP/1.1 301 Moved Permanently");
    assert_eq!(r.must("Location"), "/my%20dir/?x=1");
    let r = get(&ns, "", &["--request-target", "http://x/sub?q=1"]);
    assert_status(&r, "HTTP/1.1 301 Moved Permanently");
    assert_eq!(r.must("Location"), "/sub/?q=1");
    let r = get(&ns, "/sub", &["-I"]);
    assert_status(&r, "HTTP/1.1 301 Moved Permanently");
    assert_eq!(r.must("Location"), "/sub/");
    // A Location built from the request never starts with `//`, which a
    // browser reads as another host (an open redirect).
    for path in ["//sub?q=1", "///sub", "//sub/..%2f"] {
        let r = get(&ns, path, &["--path-as-is"]);
        if r.code() == 301 {
            let loc = r.must("Location");
            assert!(
                loc.starts_with("/sub/") && !loc.starts_with("//"),
                "{path}: {r}"
            );
        }
    }
    assert_eq!(
        get(&ns, "//sub?q=1", &["--path-as-is"]).header("Location"),
        Some("/sub/?q=1")
    );
    let r = get(&ns, "", &["--request-target", "http://x//sub"]);
    assert_eq!(r.header("Location"), Some("/sub/"), "{r}");
    let r = get(&ns, "/strip/evil.example/x", &[]);
    assert_status(&r, "HTTP/1.1 301 Moved Permanently");
    assert_eq!(r.must("Location"), "/evil.example/x");
    // Exact rules match the path only; near misses fall through to files.
    assert_status(&get(&ns, "/old/", &[]), "HTTP/1.1 404 Not Found");
    assert_status(&get(&ns, "/older", &[]), "HTTP/1.1 404 Not Found");
    assert_status(&get(&ns, "/docs", &[]), "HTTP/1.1 404 Not Found");
    // Redirects apply to every method (nginx return).
    let r = get(&ns, "/old", &["-X", "POST"]);
    assert_status(&r, "HTTP/1.1 301 Moved Permanently");
    // Following them ends at the files.
    let r = get(&ns, "/old?z=9", &["-L"]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.body, b"<p>home</p>\n");
    let r = get(&ns, "/sub?q=1", &["-L"]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.body, b"<p>sub</p>\n");
}

#[test]
fn gzip_on_the_fly_and_static_sidecars() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    let page = prose(20_000);
    let doc = prose(3000);
    let sidecar = gzip_best(&doc);
    put(&root, "page.html", &page);
    put(&root, "doc.txt", &doc);
    put(&root, "doc.txt.gz", &sidecar);
    put(&root, "tiny.txt", b"short and small\n");
    put(&root, "blob.bin", &pattern(4000));
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), ""));

    // curl --compressed: gzip, decoded by curl to the file's exact bytes.
    let r = get(&ns, "/page.html", &["--compressed"]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.must("Content-Encoding"), "gzip");
    assert_eq!(r.must("Vary"), "Accept-Encoding");
    assert_eq!(r.must("Content-Type"), "text/html; charset=utf-8");
    assert!(r.body == page, "decoded body differs: {r}");
    let gz_etag = r.must("ETag").to_owned();
    assert!(gz_etag.starts_with("W/\""), "{gz_etag}");

    // The raw bytes: a valid gzip stream of the file, Content-Length exact.
    let r = get(&ns, "/page.html", &["-H", "Accept-Encoding: gzip"]);
    assert_eq!(r.must("Content-Encoding"), "gzip");
    assert_eq!(r.must("Content-Length"), r.body.len().to_string());
    assert!(r.body.len() < page.len() / 4, "{} bytes", r.body.len());
    assert!(gunzip(&r.body) == page);
    // And gzip(1) agrees.
    let dl = root.path().join("dl.gz");
    fs::write(&dl, &r.body).expect("write download");
    let out =
        common::run(std::process::Command::new("gzip").args(["-dc", dl.to_str().expect("utf-8")]));
    assert!(out.status.success(), "gzip -d: {}", text(&out.stderr));
    assert!(out.stdout == page);
    fs::remove_file(&dl).expect("rm download");

    // Identity for clients that refuse gzip or say nothing; still Vary.
    let identity = get(&ns, "/page.html", &[]);
    for ae in ["gzip;q=0", "identity", "br", "gzip;q=0, identity;q=0.5"] {
        let r = get(
            &ns,
            "/page.html",
            &["-H", &format!("Accept-Encoding: {ae}")],
        );
        assert_status(&r, "HTTP/1.1 200 OK");
        assert_eq!(r.header("Content-Encoding"), None, "{ae}: {r}");
        assert_eq!(r.must("Vary"), "Accept-Encoding", "{ae}");
        assert!(r.body == page, "{ae}: body differs");
    }
    assert_eq!(identity.header("Content-Encoding"), None);
    assert_eq!(identity.must("Vary"), "Accept-Encoding");
    let id_etag = identity.must("ETag").to_owned();
    assert_ne!(id_etag, gz_etag);
    // q-values: gzip preferred unless identity is weighted higher.
    let r = get(
        &ns,
        "/page.html",
        &["-H", "Accept-Encoding: identity;q=0.5, gzip;q=0.8"],
    );
    assert_eq!(r.header("Content-Encoding"), Some("gzip"), "{r}");
    let r = get(&ns, "/page.html", &["-H", "Accept-Encoding: *"]);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"), "{r}");

    // Neither representation's ETag validates the other.
    let r = get(
        &ns,
        "/page.html",
        &["-H", &format!("If-None-Match: {gz_etag}")],
    );
    assert_status(&r, "HTTP/1.1 200 OK");
    assert!(r.body == page);
    let r = get(
        &ns,
        "/page.html",
        &["--compressed", "-H", &format!("If-None-Match: {id_etag}")],
    );
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.must("Content-Encoding"), "gzip");
    // Each validates itself.
    let r = get(
        &ns,
        "/page.html",
        &["--compressed", "-H", &format!("If-None-Match: {gz_etag}")],
    );
    assert_status(&r, "HTTP/1.1 304 Not Modified");
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    let r = get(
        &ns,
        "/page.html",
        &["-H", &format!("If-None-Match: {id_etag}")],
    );
    assert_status(&r, "HTTP/1.1 304 Not Modified");

    // A `.gz` sidecar: served as is, with the original's type.
    let r = get(&ns, "/doc.txt", &["-H", "Accept-Encoding: gzip"]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.must("Content-Encoding"), "gzip");
    assert_eq!(r.must("Content-Type"), "text/plain; charset=utf-8");
    assert_eq!(r.must("Vary"), "Accept-Encoding");
    assert_eq!(r.must("Content-Length"), sidecar.len().to_string());
    assert!(r.body == sidecar, "sidecar bytes differ: {r}");
    let side_etag = r.must("ETag").to_owned();
    let r = get(&ns, "/doc.txt", &["--compressed"]);
    assert!(r.body == doc);
    let r = get(&ns, "/doc.txt", &[]);
    assert_eq!(r.header("Content-Encoding"), None);
    assert!(r.body == doc);
    assert_ne!(r.must("ETag"), side_etag);
    let r = get(
        &ns,
        "/doc.txt",
        &["-H", &format!("If-None-Match: {side_etag}")],
    );
    assert_status(&r, "HTTP/1.1 200 OK");
    assert!(r.body == doc);
    // Ranges apply to the sidecar's bytes.
    let r = get(
        &ns,
        "/doc.txt",
        &["-H", "Accept-Encoding: gzip", "-r", "0-9"],
    );
    assert_status(&r, "HTTP/1.1 206 Partial Content");
    assert!(r.body == sidecar[..10]);
    assert_eq!(
        r.must("Content-Range"),
        format!("bytes 0-9/{}", sidecar.len())
    );

    // Too small, or not compressible: identity and no Vary.
    for path in ["/tiny.txt", "/blob.bin"] {
        let r = get(&ns, path, &["-H", "Accept-Encoding: gzip"]);
        assert_status(&r, "HTTP/1.1 200 OK");
        assert_eq!(r.header("Content-Encoding"), None, "{path}: {r}");
        assert_eq!(r.header("Vary"), None, "{path}: {r}");
    }
    // HEAD of the gzip representation: the gzip length, no body.
    let g = get(&ns, "/page.html", &["-H", "Accept-Encoding: gzip"]);
    let h = get(&ns, "/page.html", &["-I", "-H", "Accept-Encoding: gzip"]);
    assert_eq!(h.stable_headers(), g.stable_headers());
    assert!(h.body.is_empty());
}

#[test]
fn gzip_off_serves_identity_without_vary() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    let page = prose(5000);
    put(&root, "page.html", &page);
    put(&root, "doc.txt", &page);
    put(&root, "doc.txt.gz", &gzip_best(&page));
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(
        &ns,
        &config_with_root(root.path(), "gzip = false\ngzip_static = false"),
    );
    for path in ["/page.html", "/doc.txt"] {
        let r = get(&ns, path, &["-H", "Accept-Encoding: gzip"]);
        assert_status(&r, "HTTP/1.1 200 OK");
        assert_eq!(r.header("Content-Encoding"), None, "{path}: {r}");
        assert_eq!(r.header("Vary"), None, "{path}: {r}");
        assert!(r.body == page);
    }
}

#[test]
fn gzip_min_length_is_honoured() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    put(&root, "mid.txt", &prose(5000));
    put(&root, "big.txt", &prose(12_000));
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(
        &ns,
        &config_with_root(root.path(), "gzip_min_length = 10000"),
    );
    let r = get(&ns, "/mid.txt", &["-H", "Accept-Encoding: gzip"]);
    assert_eq!(r.header("Content-Encoding"), None, "{r}");
    let r = get(&ns, "/big.txt", &["-H", "Accept-Encoding: gzip"]);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"), "{r}");
    assert!(gunzip(&r.body) == prose(12_000));
}

#[test]
fn head_options_and_other_methods() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    put(&root, "index.html", &prose(1000));
    put(&root, "a.bin", &pattern(777));
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), ""));

    for path in ["/", "/index.html", "/a.bin", "/missing"] {
        let g = get(&ns, path, &[]);
        let h = get(&ns, path, &["-I"]);
        assert_eq!(h.status_line, g.status_line, "{path}");
        assert_eq!(h.stable_headers(), g.stable_headers(), "{path}");
        assert_eq!(h.must("Content-Length"), g.body.len().to_string());
        assert!(h.body.is_empty(), "{path}: {h}");
    }

    for path in ["/index.html", "/missing", "/"] {
        let r = get(&ns, path, &["-X", "OPTIONS"]);
        assert_status(&r, "HTTP/1.1 204 No Content");
        assert_eq!(r.must("Allow"), "GET, HEAD, OPTIONS");
        assert_eq!(r.header("Content-Length"), None, "{r}");
        assert!(r.body.is_empty());
    }
    let r = get(&ns, "", &["-X", "OPTIONS", "--request-target", "*"]);
    assert_status(&r, "HTTP/1.1 204 No Content");
    assert_eq!(r.must("Allow"), "GET, HEAD, OPTIONS");

    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = get(&ns, "/index.html", &["-X", method, "-d", "x=1"]);
        assert_status(&r, "HTTP/1.1 405 Method Not Allowed");
        assert_eq!(r.must("Allow"), "GET, HEAD, OPTIONS", "{method}");
        assert_eq!(r.must("Content-Length"), r.body.len().to_string());
    }
    let r = get(&ns, "/index.html", &["-X", "DELETE"]);
    assert_status(&r, "HTTP/1.1 405 Method Not Allowed");
    for method in ["BREW", "get", "PROPFIND"] {
        let r = get(&ns, "/index.html", &["-X", method]);
        assert_status(&r, "HTTP/1.1 501 Not Implemented");
    }
    // The connection survives a 405 with a body and a 501.
    let got = text(&raw(
        &ns,
        "POST /a.bin HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 3\\r\\n\\r\\nabc\
         BREW /a.bin HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\
         HEAD /a.bin HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n",
    ));
    let statuses: Vec<&str> = got
        .match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| got.get(i + 9..i + 12))
        .collect();
    assert_eq!(statuses, ["405", "501", "200"], "{got}");
    assert!(got.ends_with("\r\n\r\n"), "HEAD has no body: {got}");
}

#[test]
fn traversal_is_refused_and_never_serves_outside_files() {
    require_root!();
    let outer = TempDir::new("tapir-test-outer");
    let root_dir = outer.path().join("root");
    fs::create_dir(&root_dir).expect("mkdir root");
    fs::write(outer.path().join("secret.txt"), b"TOP SECRET\n").expect("write secret");
    fs::write(root_dir.join("index.html"), b"<p>inside</p>\n").expect("write index");
    fs::write(root_dir.join("a.txt"), b"file a\n").expect("write a");
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(&root_dir, ""));
    for path in [
        "/../etc/passwd",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E/secret.txt",
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fetc/passwd",
        "/a/../../secret.txt",
        "/.%2e/secret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/..%5csecret.txt",
        "/a.txt%00.html",
        "/%00",
        "/secret.txt%00",
        "/%2",
        "/%zz",
        "//../secret.txt",
        "/./../secret.txt",
    ] {
        let r = get(&ns, path, &["--path-as-is"]);
        assert!(
            matches!(r.code(), 400 | 404),
            "{path}: expected 400 or 404: {r}"
        );
        let body = text(&r.body);
        assert!(
            !body.contains("TOP SECRET") && !body.contains("root:"),
            "{path} leaked: {r}"
        );
    }
    // Harmless dot segments inside the root are fine.
    for path in ["/./a.txt", "//a.txt", "/%61.txt", "/a.txt?../../secret.txt"] {
        let r = get(&ns, path, &["--path-as-is"]);
        assert_status(&r, "HTTP/1.1 200 OK");
        assert_eq!(r.body, b"file a\n", "{path}");
    }
    // Absolute-form targets get the same treatment.
    let r = get(
        &ns,
        "",
        &["--path-as-is", "--request-target", "http://x/../secret.txt"],
    );
    assert!(matches!(r.code(), 400 | 404), "{r}");
}

#[test]
fn dotfiles_hidden_by_default() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    put(&root, ".secret", b"dot secret\n");
    put(&root, ".git/config", b"[core]\n");
    put(&root, "sub/.env", b"KEY=1\n");
    put(&root, ".well-known/acme-challenge/tok", b"challenge\n");
    put(&root, "visible.txt", b"visible\n");
    let ns = Netns::new("tapir-test");
    let tapir = Tapir::start(&ns, &config_with_root(root.path(), ""));
    for path in [
        "/.secret",
        "/.git/config",
        "/.git/",
        "/sub/.env",
        "/%2esecret",
    ] {
        let r = get(&ns, path, &[]);
        assert_status(&r, "HTTP/1.1 404 Not Found");
    }
    let r = get(&ns, "/.well-known/acme-challenge/tok", &[]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.body, b"challenge\n");
    drop(tapir);

    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), "serve_dotfiles = true"));
    for (path, body) in [
        ("/.secret", &b"dot secret\n"[..]),
        ("/.git/config", b"[core]\n"),
        ("/sub/.env", b"KEY=1\n"),
    ] {
        let r = get(&ns, path, &[]);
        assert_status(&r, "HTTP/1.1 200 OK");
        assert_eq!(r.body, body, "{path}");
    }
}

/// Broken links, a link loop and a FIFO under the default policy: 404,
/// promptly (opening a FIFO must not block tapir).
fn check_special_files(ns: &Netns, root: &Path) {
    symlink("nowhere.txt", root.join("dangling.txt")).expect("symlink dangling");
    symlink("loop2", root.join("loop1")).expect("symlink loop1");
    symlink("loop1", root.join("loop2")).expect("symlink loop2");
    let fifo = root.join("fifo.txt");
    let out = common::run(std::process::Command::new("mkfifo").arg(&fifo));
    assert!(out.status.success(), "mkfifo: {}", text(&out.stderr));
    let tapir = Tapir::start(ns, &config_with_root(root, ""));
    for path in ["/dangling.txt", "/loop1", "/loop1/x", "/fifo.txt"] {
        let r = get(ns, path, &[]);
        assert_status(&r, "HTTP/1.1 404 Not Found");
    }
    // Still serving.
    assert_status(&get(ns, "/a.txt", &[]), "HTTP/1.1 200 OK");
    drop(tapir);
}

#[test]
fn changed_file_is_revalidated() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    put(&root, "f.txt", b"version one\n");
    age(&root.path().join("f.txt"));
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), ""));
    let r = get(&ns, "/f.txt", &[]);
    assert_eq!(r.body, b"version one\n");
    let old_etag = r.must("ETag").to_owned();
    put(&root, "f.txt", b"version two, longer\n");
    // The cache trusts an entry for a second; then the change shows.
    let deadline = common::now() + Duration::from_secs(5);
    loop {
        let r = get(
            &ns,
            "/f.txt",
            &["-H", &format!("If-None-Match: {old_etag}")],
        );
        if r.code() == 200 {
            assert_eq!(r.body, b"version two, longer\n", "{r}");
            assert_ne!(r.must("ETag"), old_etag);
            assert_eq!(r.must("Content-Length"), "20");
            break;
        }
        assert_status(&r, "HTTP/1.1 304 Not Modified");
        assert!(common::now() < deadline, "change never seen: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
    fs::remove_file(root.path().join("f.txt")).expect("rm");
    let deadline = common::now() + Duration::from_secs(5);
    while get(&ns, "/f.txt", &[]).code() != 404 {
        assert!(common::now() < deadline, "removal never seen");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn symlink_policy() {
    require_root!();
    let outside = TempDir::new("tapir-test-outside");
    fs::write(outside.path().join("secret.txt"), b"outside\n").expect("write outside");
    let root = TempDir::new("tapir-test-root");
    put(&root, "a.txt", b"file a\n");
    put(&root, "dir/b.txt", b"file b\n");
    let r = root.path();
    symlink("a.txt", r.join("in.txt")).expect("symlink in");
    symlink("dir", r.join("indir")).expect("symlink indir");
    symlink(outside.path().join("secret.txt"), r.join("out.txt")).expect("symlink out");
    symlink(outside.path(), r.join("outdir")).expect("symlink outdir");
    symlink("../../../../../../etc/passwd", r.join("passwd")).expect("symlink passwd");

    let ns = Netns::new("tapir-test");
    let tapir = Tapir::start(&ns, &config_with_root(r, ""));
    for (path, body) in [("/in.txt", &b"file a\n"[..]), ("/indir/b.txt", b"file b\n")] {
        let g = get(&ns, path, &[]);
        assert_status(&g, "HTTP/1.1 200 OK");
        assert_eq!(g.body, body, "{path}");
    }
    for path in ["/out.txt", "/outdir/secret.txt", "/passwd"] {
        let g = get(&ns, path, &[]);
        assert_status(&g, "HTTP/1.1 403 Forbidden");
        assert!(!text(&g.body).contains("outside"), "{g}");
    }
    drop(tapir);

    let tapir = Tapir::start(&ns, &config_with_root(r, "follow_symlinks = \"always\""));
    for path in ["/out.txt", "/outdir/secret.txt"] {
        let g = get(&ns, path, &[]);
        assert_status(&g, "HTTP/1.1 200 OK");
        assert_eq!(g.body, b"outside\n", "{path}");
    }
    drop(tapir);

    check_special_files(&ns, r);

    let _tapir = Tapir::start(&ns, &config_with_root(r, "follow_symlinks = \"never\""));
    for path in ["/in.txt", "/indir/b.txt", "/out.txt"] {
        let g = get(&ns, path, &[]);
        assert_status(&g, "HTTP/1.1 403 Forbidden");
    }
    let g = get(&ns, "/dir/b.txt", &[]);
    assert_status(&g, "HTTP/1.1 200 OK");
}

#[test]
fn autoindex_lists_escaped_names_or_403() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    put(&root, "list/plain.txt", b"p\n");
    put(&root, "list/a&b <c>.txt", b"x\n");
    put(&root, "list/q\"uote's.txt", b"q\n");
    put(&root, "list/100%.txt", b"percent\n");
    put(&root, "list/inner/z.txt", b"z\n");
    put(&root, "list/.hidden", b"h\n");
    put(&root, "withindex/index.html", b"<p>idx</p>\n");
    let ns = Netns::new("tapir-test");
    let tapir = Tapir::start(&ns, &config_with_root(root.path(), "autoindex = true"));

    let r = get(&ns, "/list/", &[]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert_eq!(r.must("Content-Type"), "text/html; charset=utf-8");
    let html = text(&r.body);
    for want in [
        "<a href=\"./plain.txt\">plain.txt</a>",
        // `&` may stay in a path; in an attribute it is `&amp;`.
        "<a href=\"./a&amp;b%20%3Cc%3E.txt\">a&amp;b &lt;c&gt;.txt</a>",
        "<a href=\"./100%25.txt\">100%.txt</a>",
        "<a href=\"./inner/\">inner/</a>",
        "<a href=\"../\">../</a>",
    ] {
        assert!(html.contains(want), "missing {want}:\n{html}");
    }
    assert!(
        html.contains("q&quot;uote&#39;s.txt") || html.contains("q&quot;uote&#x27;s.txt"),
        "{html}"
    );
    assert!(!html.contains("<c>") && !html.contains("a&b"), "{html}");
    assert!(!html.contains(".hidden"), "{html}");
    // Sorted: "a&b..." before "inner/" before "plain.txt".
    let pos = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(pos(">a&amp;b") < pos(">inner/") && pos(">inner/") < pos(">plain.txt"));
    // The links work.
    assert_eq!(get(&ns, "/list/a&b%20%3Cc%3E.txt", &[]).body, b"x\n");
    assert_eq!(get(&ns, "/list/100%25.txt", &[]).body, b"percent\n");
    // A directory named without its slash is redirected, listing or not.
    let r = get(&ns, "/list/inner?s=1", &[]);
    assert_status(&r, "HTTP/1.1 301 Moved Permanently");
    assert_eq!(r.must("Location"), "/list/inner/?s=1");
    // An index file still wins.
    assert_eq!(get(&ns, "/withindex/", &[]).body, b"<p>idx</p>\n");
    // The root lists too (without "../").
    let r = get(&ns, "/", &[]);
    assert_status(&r, "HTTP/1.1 200 OK");
    assert!(text(&r.body).contains("<a href=\"./list/\">list/</a>"));
    assert!(!text(&r.body).contains("../"));
    drop(tapir);

    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), ""));
    for path in ["/list/", "/list/inner/", "/"] {
        assert_status(&get(&ns, path, &[]), "HTTP/1.1 403 Forbidden");
    }
    assert_status(&get(&ns, "/withindex/", &[]), "HTTP/1.1 200 OK");
}

#[test]
fn custom_error_pages() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    let page = b"<h1>custom not found</h1>\n";
    put(&root, "errors/404.html", page);
    put(&root, "errors/403.html", b"<h1>custom forbidden</h1>\n");
    put(&root, "dir/x.txt", b"x\n");
    let extra = "[http.error_page]\n404 = \"/errors/404.html\"\n403 = \"/errors/403.html\"\n";
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), extra));
    for path in ["/missing", "/deep/missing.html", "/.hidden"] {
        let r = get(&ns, path, &[]);
        assert_status(&r, "HTTP/1.1 404 Not Found");
        assert_eq!(r.body, page, "{path}");
        assert_eq!(r.must("Content-Type"), "text/html; charset=utf-8");
        assert_eq!(r.must("Content-Length"), page.len().to_string());
    }
    let h = get(&ns, "/missing", &["-I"]);
    assert_status(&h, "HTTP/1.1 404 Not Found");
    assert_eq!(h.must("Content-Length"), page.len().to_string());
    assert!(h.body.is_empty());
    let r = get(&ns, "/dir/", &[]);
    assert_status(&r, "HTTP/1.1 403 Forbidden");
    assert_eq!(r.body, b"<h1>custom forbidden</h1>\n");
    // Statuses without an entry keep the built-in page.
    let r = get(&ns, "/x", &["-X", "POST"]);
    assert_status(&r, "HTTP/1.1 405 Method Not Allowed");
    assert!(text(&r.body).contains("405 Method Not Allowed"), "{r}");
    // The error page itself is served normally.
    let r = get(&ns, "/errors/404.html", &[]);
    assert_status(&r, "HTTP/1.1 200 OK");
}

#[test]
fn cache_rules_set_cache_control_and_expires() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    put(&root, "style.css", b"body { color: black }\n");
    put(&root, "css/deep.css", b"p { margin: 0 }\n");
    put(&root, "page.html", b"<p>page</p>\n");
    put(&root, "app.js", b"let x = 1;\n");
    let extra = "expires = \"off\"\n\n[[http.cache]]\nmatch = \"*.css\"\nmax_age = \"7d\"\n\n\
                 [[http.cache]]\nmatch = \"*.js\"\nmax_age = \"off\"\n";
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), extra));
    for path in ["/style.css", "/css/deep.css"] {
        let r = get(&ns, path, &[]);
        assert_status(&r, "HTTP/1.1 200 OK");
        assert_eq!(r.must("Cache-Control"), "max-age=604800", "{path}");
        let date = httpdate::parse_http_date(r.must("Date")).expect("Date");
        let expires = httpdate::parse_http_date(r.must("Expires")).expect("Expires");
        let ahead = expires
            .duration_since(date)
            .expect("Expires after Date")
            .as_secs();
        assert!((604_799..=604_801).contains(&ahead), "{path}: {r}");
        // A 304 repeats them (RFC 9110 §15.4.5).
        let etag = r.must("ETag").to_owned();
        let n = get(&ns, path, &["-H", &format!("If-None-Match: {etag}")]);
        assert_status(&n, "HTTP/1.1 304 Not Modified");
        assert_eq!(n.must("Cache-Control"), "max-age=604800");
        assert!(n.header("Expires").is_some(), "{n}");
    }
    for path in ["/page.html", "/app.js"] {
        let r = get(&ns, path, &[]);
        assert_status(&r, "HTTP/1.1 200 OK");
        assert_eq!(r.header("Cache-Control"), None, "{path}: {r}");
        assert_eq!(r.header("Expires"), None, "{path}: {r}");
    }
    // Error responses carry no caching headers.
    let r = get(&ns, "/missing.css", &[]);
    assert_status(&r, "HTTP/1.1 404 Not Found");
    assert_eq!(r.header("Cache-Control"), None, "{r}");
}

#[test]
fn default_expires_applies_where_no_rule_matches() {
    require_root!();
    let root = TempDir::new("tapir-test-root");
    put(&root, "style.css", b"body { color: black }\n");
    put(&root, "page.html", b"<p>page</p>\n");
    let extra = "expires = \"1h\"\n\n[[http.cache]]\nmatch = \"*.css\"\nmax_age = \"7d\"\n";
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with_root(root.path(), extra));
    assert_eq!(
        get(&ns, "/style.css", &[]).must("Cache-Control"),
        "max-age=604800"
    );
    let r = get(&ns, "/page.html", &[]);
    assert_eq!(r.must("Cache-Control"), "max-age=3600");
    assert!(r.header("Expires").is_some());
}
