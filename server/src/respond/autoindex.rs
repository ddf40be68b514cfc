//! Directory listings (nginx's `autoindex`).
//!
//! Job: render one directory as a small HTML page of links, for a directory
//! that has no index file when `autoindex = true`.
//!
//! Contract: names are HTML-escaped in text and percent-encoded in links,
//! so no file name can inject markup; entries are sorted bytewise,
//! directories carry a trailing `/`; names starting with `.` are left out
//! unless dotfiles are served. At most [`MAX_ENTRIES`] names are listed.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::path::push_encoded;

/// Most names listed; a larger directory's listing is cut (and says so).
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// The listing of `dir`, shown as the decoded request path `shown`
/// (e.g. `docs/`; empty for the root).
pub(crate) fn listing(dir: &Path, shown: &[u8], dotfiles: bool) -> io::Result<Vec<u8>> {
    let mut names: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut cut = false;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().as_bytes().to_vec();
        if !dotfiles && name.first() == Some(&b'.') {
            continue;
        }
        if names.len() == MAX_ENTRIES {
            cut = true;
            break;
        }
        // Follows symlinks so a linked directory shows as one; whether it
        // may be entered is decided when it is requested.
        let is_dir = fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        names.push((name, is_dir));
    }
    names.sort();

    let mut title = b"Index of /".to_vec();
    title.extend_from_slice(shown);
    let mut out = b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>".to_vec();
    push_html(&mut out, &title);
    out.extend_from_slice(b"</title></head>\n<body><h1>");
    push_html(&mut out, &title);
    out.extend_from_slice(b"</h1><hr><pre>\n");
    if !shown.is_empty() {
        out.extend_from_slice(b"<a href=\"../\">../</a>\n");
    }
    for (name, is_dir) in &names {
        // `./` keeps a name like `a:b` from reading as a URI scheme.
        let mut href = b"./".to_vec();
        push_encoded(&mut href, name);
        if *is_dir {
            href.push(b'/');
        }
        out.extend_from_slice(b"<a href=\"");
        push_html(&mut out, &href);
        out.extend_from_slice(b"\">");
        push_html(
            &mut out,
            &String::from_utf8_lossy(name).into_owned().into_bytes(),
        );
        if *is_dir {
            out.push(b'/');
        }
        out.extend_from_slice(b"</a>\n");
    }
    if cut {
        out.extend_from_slice(b"(listing cut)\n");
    }
    out.extend_from_slice(b"</pre><hr><p>tapir</p></body></html>\n");
    Ok(out)
}

/// Appends `text` with `&<>"'` escaped.
fn push_html(out: &mut Vec<u8>, text: &[u8]) {
    for &b in text {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&#39;"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_escaped_and_dotfiles_hidden() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.txt", "<a>&\"'.html", ".hidden", "z z"] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        fs::create_dir(dir.path().join("sub")).unwrap();
        let html = String::from_utf8(listing(dir.path(), b"d/", false).unwrap()).unwrap();
        assert!(html.contains("<title>Index of /d/</title>"), "{html}");
        assert!(html.contains("<a href=\"../\">../</a>"));
        assert!(html.contains(
            "<a href=\"./%3Ca%3E&amp;%22&#39;.html\">&lt;a&gt;&amp;&quot;&#39;.html</a>"
        ));
        assert!(html.contains("<a href=\"./sub/\">sub/</a>"));
        assert!(html.contains("<a href=\"./z%20z\">z z</a>"));
        assert!(!html.contains("hidden"));
        let a = html.find("&lt;a").unwrap();
        let b = html.find(">b.txt").unwrap();
        let s = html.find(">sub/").unwrap();
        assert!(a < b && b < s);
        let html = String::from_utf8(listing(dir.path(), b"", true).unwrap()).unwrap();
        assert!(html.contains(".hidden") && !html.contains("../"));
    }
}
