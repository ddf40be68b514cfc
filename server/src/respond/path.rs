//! Request target → a relative path under the site root.
//!
//! Job: take the raw request target (RFC 9112 §3.2) and produce a
//! normalised, percent-decoded path relative to the root, or say why the
//! target is unacceptable.
//!
//! Contract: on success the output holds `/`-separated segments, none of
//! them empty, `.` or `..`, and no NUL or backslash, so joining it to the
//! root cannot name anything outside the root lexically (symlinks are the
//! caller's check). A target that ends in `/` (or is the root) keeps one
//! trailing `/` in the output so directory requests are told apart from
//! file requests. The query and fragment are dropped. Any bytes are safe:
//! nothing here panics.

use std::fmt;

/// Why a target is refused; every variant is answered with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetError {
    /// Neither origin-form (`/path`) nor absolute-form (`http://host/path`).
    NotOriginForm,
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
    /// A decoded NUL byte.
    Nul,
    /// A backslash, literal or decoded (a Windows separator; refused).
    Backslash,
    /// A `..` segment.
    DotDot,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetError::NotOriginForm => "target is not an absolute path: 400",
            TargetError::BadPercentEncoding => "malformed percent-encoding: 400",
            TargetError::Nul => "NUL byte in path: 400",
            TargetError::Backslash => "backslash in path: 400",
            TargetError::DotDot => "`..` segment in path: 400",
        })
    }
}

/// Where the path part sits in the raw target (for redirects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    /// Start of the path in the raw target.
    pub path_start: usize,
    /// End of the path (start of `?query`, `#fragment`, or the end).
    pub path_end: usize,
    /// The path names a directory: it ends in `/` (or is the root).
    pub trailing_slash: bool,
}

/// Decodes and normalises `target` into `out` (cleared first).
pub(crate) fn normalize(target: &[u8], out: &mut Vec<u8>) -> Result<Target, TargetError> {
    out.clear();
    let path_start = path_start(target)?;
    let path_end = target[path_start..]
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .map_or(target.len(), |i| path_start + i);

    let raw = &target[path_start..path_end];
    let mut seg_start = 0;
    let mut i = 0;
    while i < raw.len() {
        let mut b = raw[i];
        i += 1;
        if b == b'%' {
            let hi = raw
                .get(i)
                .copied()
                .and_then(hex)
                .ok_or(TargetError::BadPercentEncoding)?;
            let lo = raw
                .get(i + 1)
                .copied()
                .and_then(hex)
                .ok_or(TargetError::BadPercentEncoding)?;
            b = hi << 4 | lo;
            i += 2;
        }
        match b {
            0 => return Err(TargetError::Nul),
            b'\\' => return Err(TargetError::Backslash),
            b'/' => {
                end_segment(out, seg_start)?;
                if out.len() > seg_start {
                    out.push(b'/');
                }
                seg_start = out.len();
            }
            _ => out.push(b),
        }
    }
    end_segment(out, seg_start)?;
    let trailing_slash = out.is_empty() || out.ends_with(b"/");
    Ok(Target {
        path_start,
        path_end,
        trailing_slash,
    })
}

/// Checks the segment `out[start..]`: drops it if empty or `.`, refuses `..`.
fn end_segment(out: &mut Vec<u8>, start: usize) -> Result<(), TargetError> {
    match &out[start..] {
        b"" | b"." => {
            out.truncate(start);
            Ok(())
        }
        b".." => Err(TargetError::DotDot),
        _ => Ok(()),
    }
}

/// Offset of the path: 0 for origin-form, after the authority for
/// absolute-form (RFC 9112 §3.2.2: servers must accept it).
fn path_start(target: &[u8]) -> Result<usize, TargetError> {
    if target.first() == Some(&b'/') {
        return Ok(0);
    }
    let scheme_len = if starts_with_ignore_case(target, b"http://") {
        7
    } else if starts_with_ignore_case(target, b"https://") {
        8
    } else {
        return Err(TargetError::NotOriginForm);
    };
    let rest = &target[scheme_len..];
    let authority_len = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    // An empty path in absolute-form means "/" (RFC 9112 §3.2.1); `normalize`
    // treats an empty path as the root.
    Ok(scheme_len + authority_len)
}

/// Appends `bytes` to `out` percent-encoded for a URI path: unreserved
/// characters, sub-delims, `:`, `@` and `/` stay (RFC 3986 §3.3), every
/// other byte becomes `%XX`. The output is visible ASCII.
pub(crate) fn push_encoded(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
            );
        if keep {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(target: &str) -> Result<(String, bool), TargetError> {
        let mut out = Vec::new();
        let t = normalize(target.as_bytes(), &mut out)?;
        Ok((String::from_utf8(out).unwrap(), t.trailing_slash))
    }

    #[test]
    fn plain_paths() {
        assert_eq!(norm("/"), Ok(("".into(), true)));
        assert_eq!(norm("/index.html"), Ok(("index.html".into(), false)));
        assert_eq!(norm("/a/b/"), Ok(("a/b/".into(), true)));
        assert_eq!(norm("/a/b"), Ok(("a/b".into(), false)));
    }

    #[test]
    fn query_and_fragment_are_dropped() {
        assert_eq!(norm("/a.html?x=../../etc"), Ok(("a.html".into(), false)));
        assert_eq!(norm("/a/?q"), Ok(("a/".into(), true)));
        assert_eq!(norm("/a#frag"), Ok(("a".into(), false)));
        let mut out = Vec::new();
        let t = normalize(b"/dir?x=1", &mut out).unwrap();
        assert_eq!((t.path_start, t.path_end), (0, 4));
    }

    #[test]
    fn empty_and_dot_segments_collapse() {
        assert_eq!(norm("//a///b"), Ok(("a/b".into(), false)));
        assert_eq!(norm("/./a/./b/."), Ok(("a/b/".into(), true)));
        assert_eq!(norm("/%2e/a"), Ok(("a".into(), false)));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            norm("/hello%20world.txt"),
            Ok(("hello world.txt".into(), false))
        );
        assert_eq!(norm("/a%2Fb"), Ok(("a/b".into(), false)));
        assert_eq!(norm("/%41%62"), Ok(("Ab".into(), false)));
        assert_eq!(norm("/%"), Err(TargetError::BadPercentEncoding));
        assert_eq!(norm("/%4"), Err(TargetError::BadPercentEncoding));
        assert_eq!(norm("/%zz"), Err(TargetError::BadPercentEncoding));
    }

    #[test]
    fn escapes_are_refused() {
        assert_eq!(norm("/../etc/passwd"), Err(TargetError::DotDot));
        assert_eq!(norm("/a/.."), Err(TargetError::DotDot));
        assert_eq!(norm("/a/%2e%2e/b"), Err(TargetError::DotDot));
        assert_eq!(norm("/a/.%2E"), Err(TargetError::DotDot));
        assert_eq!(norm("/a%2f..%2fb"), Err(TargetError::DotDot));
        assert_eq!(norm("/a\\..\\b"), Err(TargetError::Backslash));
        assert_eq!(norm("/a%5cb"), Err(TargetError::Backslash));
        assert_eq!(norm("/a%00.html"), Err(TargetError::Nul));
        // Dots that are not whole segments are ordinary names.
        assert_eq!(norm("/...a/..b/c.."), Ok(("...a/..b/c..".into(), false)));
    }

    #[test]
    fn forms_other_than_origin() {
        assert_eq!(norm("*"), Err(TargetError::NotOriginForm));
        assert_eq!(norm("index.html"), Err(TargetError::NotOriginForm));
        assert_eq!(norm(""), Err(TargetError::NotOriginForm));
        assert_eq!(norm("http://example.com/a/b"), Ok(("a/b".into(), false)));
        assert_eq!(norm("HTTPS://example.com"), Ok(("".into(), true)));
        assert_eq!(norm("http://example.com?q=1"), Ok(("".into(), true)));
    }

    #[test]
    fn percent_encoding_round_trips() {
        let mut out = Vec::new();
        push_encoded(&mut out, "a b/ü?#%\"<x>".as_bytes());
        assert_eq!(out, b"a%20b/%C3%BC%3F%23%25%22%3Cx%3E");
        let mut target = b"/".to_vec();
        target.extend_from_slice(&out);
        assert_eq!(
            norm(std::str::from_utf8(&target).unwrap()),
            Ok(("a b/ü?#%\"<x>".into(), false))
        );
    }

    proptest! {
        #[test]
        fn output_never_escapes(target in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            if let Ok(t) = normalize(&target, &mut out) {
                prop_assert!(t.path_start <= t.path_end && t.path_end <= target.len());
                prop_assert!(!out.starts_with(b"/"));
                prop_assert!(!out.contains(&0) && !out.contains(&b'\\'));
                let body = out.strip_suffix(b"/").unwrap_or(&out);
                if !body.is_empty() {
                    for seg in body.split(|&b| b == b'/') {
                        prop_assert!(!seg.is_empty() && seg != b"." && seg != b"..");
                    }
                }
            }
        }

        #[test]
        fn dot_dot_segments_always_refused(prefix in "[a-z/]{0,8}", suffix in "[a-z/]{0,8}") {
            let target = format!("/{prefix}/../{suffix}");
            prop_assert_eq!(norm(&target), Err(TargetError::DotDot));
        }
    }
}
