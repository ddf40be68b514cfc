//! What a site serves and how: the `[http]` keys that shape responses.
//!
//! Job: carry the checked configuration (`config.rs` parses and validates
//! it, with file:line errors) to [`super::Site`]. Plain data, no I/O.
//!
//! Contract: values here are already valid — redirect statuses are one of
//! 301/302/303/307/308, `from` and error-page paths start with `/`, index
//! names and cache patterns contain no `/`.

/// What to do with a symlink met on the way to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowSymlinks {
    /// Follow every symlink (nginx's default, `disable_symlinks off`).
    Always,
    /// Follow only symlinks whose target resolves inside the root; others
    /// are 403.
    #[default]
    InsideRoot,
    /// Any symlink in the path is 403 (nginx `disable_symlinks on`).
    Never,
}

/// `Cache-Control`/`Expires` for a file (nginx's `expires`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// Neither header.
    #[default]
    Off,
    /// `Cache-Control: max-age=N` and `Expires` N seconds after the
    /// response's date.
    MaxAge(u64),
}

/// A `[[http.cache]]` rule: files whose name matches `pattern` get `expiry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRule {
    /// A file-name glob where `*` matches any run of bytes (`*.css`).
    pub pattern: Box<str>,
    /// What matching files get.
    pub expiry: Expiry,
}

impl CacheRule {
    /// True if the file name `name` matches the rule's glob.
    pub fn matches(&self, name: &[u8]) -> bool {
        glob(self.pattern.as_bytes(), name)
    }
}

/// A `[[http.redirect]]` rule, checked before the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The decoded path to match, starting with `/`; a trailing `*` makes it
    /// a prefix (the `*` is kept here).
    pub from: Box<str>,
    /// Where to send the client: an absolute path or URL. With a prefix rule
    /// the rest of the request path is appended.
    pub to: Box<str>,
    /// 301, 302, 303, 307 or 308.
    pub status: u16,
}

/// Everything about responses that the configuration decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteOptions {
    /// Files tried, in order, for a directory (nginx `index`).
    pub index: Vec<Box<str>>,
    /// List a directory that has no index file (nginx `autoindex`).
    pub autoindex: bool,
    /// Serve names starting with `.` (otherwise 404; `/.well-known/` is
    /// always served, RFC 8615).
    pub serve_dotfiles: bool,
    /// Symlink policy.
    pub follow_symlinks: FollowSymlinks,
    /// Default `Cache-Control`/`Expires` for files no rule matches.
    pub expires: Expiry,
    /// Per-name rules; the first match wins.
    pub cache: Vec<CacheRule>,
    /// Compress compressible responses on the fly (nginx `gzip`).
    pub gzip: bool,
    /// Smallest file compressed on the fly, in bytes (nginx
    /// `gzip_min_length`).
    pub gzip_min_length: u64,
    /// Serve `FILE.gz` beside `FILE` to clients that accept gzip (nginx
    /// `gzip_static`).
    pub gzip_static: bool,
    /// Redirect rules, first match wins.
    pub redirects: Vec<Redirect>,
    /// Status → page path inside the root (nginx `error_page`).
    pub error_pages: Vec<(u16, Box<str>)>,
}

/// Default `gzip_min_length`: bodies under 256 bytes leave in one segment
/// with their head either way, and gzip's 18 bytes of framing plus the
/// deflate block header eat most of what it could save on them (nginx's
/// default, 20, compresses bodies that often grow).
pub const GZIP_MIN_LENGTH: u64 = 256;

impl Default for SiteOptions {
    fn default() -> SiteOptions {
        SiteOptions {
            index: vec!["index.html".into(), "index.htm".into()],
            autoindex: false,
            serve_dotfiles: false,
            follow_symlinks: FollowSymlinks::InsideRoot,
            expires: Expiry::Off,
            cache: Vec::new(),
            gzip: true,
            gzip_min_length: GZIP_MIN_LENGTH,
            gzip_static: true,
            redirects: Vec::new(),
            error_pages: Vec::new(),
        }
    }
}

/// Glob match where `*` matches any (possibly empty) run of bytes and every
/// other byte matches itself. Iterative with one backtrack point, so it is
/// linear-ish and cannot blow up on many stars.
pub(crate) fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(b"*.css", b"a.css"));
        assert!(glob(b"*.css", b".css"));
        assert!(!glob(b"*.css", b"a.css.map"));
        assert!(glob(b"*.min.*", b"app.min.js"));
        assert!(glob(b"logo.png", b"logo.png"));
        assert!(!glob(b"logo.png", b"logo.pn"));
        assert!(glob(b"*", b""));
        assert!(glob(b"a*b*c", b"aXXbYYc"));
        assert!(!glob(b"a*b*c", b"aXXbYY"));
        assert!(!glob(b"", b"x"));
        assert!(glob(&[b'*'; 50], &[b'x'; 100]));
    }

    #[test]
    fn defaults_mirror_the_shipped_config() {
        let d = SiteOptions::default();
        assert_eq!(d.index.len(), 2);
        assert!(d.gzip && d.gzip_static && !d.autoindex && !d.serve_dotfiles);
        assert_eq!(d.follow_symlinks, FollowSymlinks::InsideRoot);
        assert_eq!(d.expires, Expiry::Off);
    }
}
