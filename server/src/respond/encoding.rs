//! Content codings (RFC 9110 §8.4, §12.5.3): gzip negotiation, on-the-fly
//! compression, and a bounded cache of compressed bodies.
//!
//! Job: decide from `Accept-Encoding` whether a client gets gzip, say which
//! media types are worth compressing, and compress a body once so a hot
//! file is not recompressed per request.
//!
//! Contract:
//! - [`wants_gzip`] never panics and allocates nothing.
//! - [`GzipCache`] holds at most `max_bytes` of compressed bodies; an entry
//!   is keyed by the request path and checked against the file's identity
//!   (device, inode, size, mtime), so a changed file is recompressed, never
//!   served stale. Eviction is least-recently-used.

use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Compression level for on-the-fly gzip. Each body is compressed once and
/// then served from [`GzipCache`], so we spend zlib's default effort (nginx
/// uses level 1 because it recompresses on every request).
const LEVEL: u32 = 6;

/// Whether `Accept-Encoding` asks for gzip over identity (RFC 9110 §12.5.3).
///
/// - No field: identity. The RFC lets us pick any coding then, but old
///   clients that send nothing often cannot decode gzip (nginx agrees).
/// - `gzip` (or its alias `x-gzip`, §8.4.1.3) or `*` with `q > 0`: gzip,
///   unless `identity` is listed with a higher q-value.
/// - `q=0` refuses a coding. When every coding we have is refused —
///   `identity;q=0` with no acceptable gzip — we still send identity:
///   §12.1 lets a server disregard the field rather than answer 406, and a
///   406 helps no one (nginx does the same).
pub(crate) fn wants_gzip(accept_encoding: Option<&[u8]>) -> bool {
    let Some(v) = accept_encoding else {
        return false;
    };
    let (mut gzip, mut star, mut identity) = (None, None, None);
    for member in v.split(|&b| b == b',') {
        let mut params = member.split(|&b| b == b';');
        let coding = super::trim_ows(params.next().unwrap_or(&[]));
        if coding.is_empty() {
            continue;
        }
        let mut q = Some(1000);
        for p in params {
            let p = super::trim_ows(p);
            if p.len() >= 2 && p[..2].eq_ignore_ascii_case(b"q=") {
                q = qvalue(&p[2..]);
            }
        }
        // A member with a malformed weight is ignored.
        let Some(q) = q else { continue };
        if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            gzip = Some(gzip.map_or(q, |g: u16| g.max(q)));
        } else if coding == b"*" {
            star = Some(q);
        } else if coding.eq_ignore_ascii_case(b"identity") {
            identity = Some(q);
        }
    }
    let q_gzip = gzip.or(star).unwrap_or(0);
    q_gzip > 0 && identity.is_none_or(|i| q_gzip >= i)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110
/// §12.4.2), in thousandths.
fn qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &[][..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// True for media types that compress well: text, JSON, JavaScript, XML,
/// SVG, and a few uncompressed font and icon formats. Parameters
/// (`; charset=...`) are ignored. Images, audio, video, archives and
/// woff/woff2 fonts are already compressed.
pub(crate) fn compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .as_bytes();
    let is = |t: &str| essence.eq_ignore_ascii_case(t.as_bytes());
    let ends = |t: &str| {
        essence.len() >= t.len()
            && essence[essence.len() - t.len()..].eq_ignore_ascii_case(t.as_bytes())
    };
    (essence.len() > 5 && essence[..5].eq_ignore_ascii_case(b"text/"))
        || ends("+json")
        || ends("+xml")
        || [
            "application/json",
            "application/javascript",
            "application/x-javascript",
            "application/xml",
            "application/wasm",
            "application/x-font-ttf",
            "application/vnd.ms-fontobject",
            "font/ttf",
            "font/otf",
            "image/x-icon",
            "image/vnd.microsoft.icon",
            "image/bmp",
        ]
        .into_iter()
        .any(is)
}

/// `data` compressed as a gzip member (RFC 1952) with zero mtime, so the
/// output depends only on the input.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 3 + 64),
        Compression::new(LEVEL),
    );
    // Writing into a Vec cannot fail.
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .unwrap_or_default()
}

/// One compressed body.
#[derive(Debug)]
struct GzEntry {
    /// The source file's identity when compressed.
    ident: super::files::Ident,
    data: Rc<[u8]>,
    etag: Rc<str>,
    last_use: u64,
}

/// Compressed bodies by request path, bounded in bytes, LRU.
#[derive(Debug)]
pub(crate) struct GzipCache {
    entries: HashMap<Box<[u8]>, GzEntry>,
    bytes: usize,
    max_bytes: usize,
    clock: u64,
}

impl GzipCache {
    pub(crate) fn new(max_bytes: usize) -> GzipCache {
        GzipCache {
            entries: HashMap::new(),
            bytes: 0,
            max_bytes,
            clock: 0,
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The compressed body and its entity tag for `key`, if cached for the
    /// file version `ident`.
    pub(crate) fn get(
        &mut self,
        key: &[u8],
        ident: super::files::Ident,
    ) -> Option<(Rc<[u8]>, Rc<str>)> {
        self.clock += 1;
        let e = self.entries.get_mut(key)?;
        if e.ident != ident {
            return None;
        }
        e.last_use = self.clock;
        Some((Rc::clone(&e.data), Rc::clone(&e.etag)))
    }

    /// Stores a compressed body, evicting the least recently used ones to
    /// stay within the budget. A body larger than the whole budget is not
    /// kept.
    pub(crate) fn insert(
        &mut self,
        key: &[u8],
        ident: super::files::Ident,
        data: Rc<[u8]>,
        etag: Rc<str>,
    ) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= old.data.len();
        }
        let need = data.len();
        if need > self.max_bytes {
            return;
        }
        while self.bytes + need > self.max_bytes {
            // O(entries), but only when a body was just compressed, which
            // costs far more.
            let Some(victim) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_use)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(old) = self.entries.remove(&victim) {
                self.bytes -= old.data.len();
            }
        }
        self.bytes += need;
        self.clock += 1;
        self.entries.insert(
            key.into(),
            GzEntry {
                ident,
                data,
                etag,
                last_use: self.clock,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn ae(v: &str) -> bool {
        wants_gzip(Some(v.as_bytes()))
    }

    #[test]
    fn accept_encoding_with_q_values() {
        assert!(!wants_gzip(None));
        assert!(!ae(""));
        assert!(ae("gzip"));
        assert!(ae("GZip"));
        assert!(ae("x-gzip"));
        assert!(ae("gzip, deflate, br"));
        assert!(ae("br;q=1.0, gzip;q=0.8, *;q=0.1"));
        assert!(ae("*"));
        assert!(!ae("gzip;q=0"));
        assert!(!ae("gzip;q=0.000"));
        assert!(!ae("*;q=0"));
        assert!(!ae("gzip;q=0, *"));
        assert!(ae("gzip;q=0.001"));
        assert!(!ae("br, deflate"));
        assert!(!ae("identity"));
        // identity preferred explicitly.
        assert!(!ae("gzip;q=0.5, identity"));
        assert!(ae("gzip, identity;q=0.5"));
        // identity refused and gzip refused: we still send identity.
        assert!(!ae("identity;q=0"));
        assert!(ae("identity;q=0, gzip"));
        // Malformed weights drop the member.
        assert!(!ae("gzip;q=2"));
        assert!(!ae("gzip;q=0.5555"));
        assert!(!ae("gzip;q=abc"));
        assert!(ae("gzip ; Q=1.000"));
        assert!(ae("deflate;q=x, gzip"));
    }

    #[test]
    fn compressible_types() {
        for t in [
            "text/html; charset=utf-8",
            "text/css",
            "application/json",
            "application/javascript; charset=utf-8",
            "image/svg+xml; charset=utf-8",
            "application/xml",
            "application/ld+json",
            "application/wasm",
        ] {
            assert!(compressible(t), "{t}");
        }
        for t in [
            "image/png",
            "application/octet-stream",
            "font/woff2",
            "video/mp4",
            "",
        ] {
            assert!(!compressible(t), "{t}");
        }
    }

    #[test]
    fn gzip_round_trips_and_is_deterministic() {
        let data = b"hello hello hello hello hello hello".repeat(20);
        let z = gzip(&data);
        assert!(z.len() < data.len());
        assert_eq!(z, gzip(&data));
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn cache_is_bounded_lru_and_checks_identity() {
        use super::super::files::Ident;
        let id = |size| Ident {
            dev: 1,
            ino: 2,
            size,
            mtime: 3,
            mtime_nsec: 0,
        };
        let mut c = GzipCache::new(10);
        let b = |n: usize| -> Rc<[u8]> { vec![0; n].into() };
        c.insert(b"a", id(1), b(4), "\"a\"".into());
        c.insert(b"b", id(1), b(4), "\"b\"".into());
        assert!(c.get(b"a", id(1)).is_some()); // a is now the most recent
        c.insert(b"c", id(1), b(4), "\"c\"".into()); // evicts b
        assert!(c.get(b"b", id(1)).is_none());
        assert!(c.get(b"a", id(1)).is_some());
        assert_eq!(c.bytes(), 8);
        // A changed file is a miss.
        assert!(c.get(b"a", id(2)).is_none());
        // Too big for the budget: not kept.
        c.insert(b"d", id(1), b(11), "\"d\"".into());
        assert!(c.get(b"d", id(1)).is_none());
        assert!(c.bytes() <= 10);
    }
}
