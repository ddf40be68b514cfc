//! Conditional requests (RFC 9110 §13) against one representation.
//!
//! Job: given the request's precondition fields and the selected
//! representation's validators (its `ETag` and `Last-Modified` second),
//! say whether to answer normally, with 304, or with 412; and whether an
//! `If-Range` lets a range request through.
//!
//! Contract: pure functions over bytes; any bytes are safe. A field that
//! does not parse is treated as RFC 9110 says for invalid values: an invalid
//! date is ignored (§13.1.3, §13.1.4); an entity-tag list stops at the first
//! malformed member, so only members before it can match.

use super::Request;
use crate::date::parse_http_date;

/// What the preconditions decided (RFC 9110 §13.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Answer as if there were no preconditions.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions of `req` in RFC 9110 §13.2.2's order against
/// a representation with entity tag `etag` (as sent, quotes included) and
/// last-modification second `last_modified`. `get_or_head` selects 304 over
/// 412 for a failed `If-None-Match`.
pub(crate) fn evaluate(
    req: &Request,
    etag: &str,
    last_modified: u64,
    get_or_head: bool,
) -> Precondition {
    // Step 1: If-Match, strong comparison (§13.1.1). `*` matches any current
    // representation, and ours exists.
    if let Some(v) = &req.if_match {
        if !is_star(v) && !list_matches(v, etag.as_bytes(), true) {
            return Precondition::Failed;
        }
    } else if let Some(date) = req.if_unmodified_since.as_deref().and_then(parse_http_date) {
        // Step 2 (§13.1.4): only without If-Match; an invalid date is
        // ignored.
        if last_modified > date {
            return Precondition::Failed;
        }
    }
    // Step 3: If-None-Match, weak comparison (§13.1.2).
    if let Some(v) = &req.if_none_match {
        if is_star(v) || list_matches(v, etag.as_bytes(), false) {
            return if get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if get_or_head {
        // Step 4 (§13.1.3): only without If-None-Match, only for GET/HEAD.
        // "earlier or equal" is RFC 9110's rule (nginx's default
        // `if_modified_since exact` wants equality; the RFC leaves no
        // choice here, so we follow it, as nginx's `before` mode does).
        if let Some(date) = req.if_modified_since.as_deref().and_then(parse_http_date) {
            if last_modified <= date {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// RFC 9110 §13.1.5: may a range be sent, given `If-Range: value`? An
/// entity tag must match strongly (a weak tag never does); a date must equal
/// `last_modified` exactly, and only counts if that date is strong: at least
/// a second before `now` (§8.8.2.2), so the file cannot have changed again
/// within the same second unnoticed.
pub(crate) fn if_range_allows(value: &[u8], etag: &str, last_modified: u64, now: u64) -> bool {
    let value = super::trim_ows(value);
    if value.first() == Some(&b'"') || value.starts_with(b"W/") {
        return match parse_tag(value) {
            Some((tag, [])) => strong_eq(tag, etag.as_bytes()),
            _ => false,
        };
    }
    match parse_http_date(value) {
        Some(date) => date == last_modified && last_modified < now,
        None => false,
    }
}

fn is_star(v: &[u8]) -> bool {
    super::trim_ows(v) == b"*"
}

/// True if any entity tag in the comma-separated `list` matches `ours`,
/// strongly or weakly (RFC 9110 §8.8.3.2).
fn list_matches(list: &[u8], ours: &[u8], strong: bool) -> bool {
    let mut rest = list;
    loop {
        // Skip empty list elements and whitespace (§5.6.1).
        let skip = rest
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b','))
            .unwrap_or(rest.len());
        rest = &rest[skip..];
        if rest.is_empty() {
            return false;
        }
        let Some((tag, after)) = parse_tag(rest) else {
            return false;
        };
        let hit = if strong {
            strong_eq(tag, ours)
        } else {
            weak_eq(tag, ours)
        };
        if hit {
            return true;
        }
        let after = super::trim_ows(after);
        // Another member must follow a comma.
        match after.first() {
            None => return false,
            Some(b',') => rest = after,
            Some(_) => return false,
        }
    }
}

/// Splits one `entity-tag` (`W/"x"` or `"x"`, §8.8.3) off the front of `v`:
/// returns the tag (with `W/` and quotes) and what follows.
fn parse_tag(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let open = if v.starts_with(b"W/") { 2 } else { 0 };
    if v.get(open) != Some(&b'"') {
        return None;
    }
    let body = &v[open + 1..];
    let close = body.iter().position(|&b| b == b'"')?;
    // etagc = %x21 / %x23-7E / obs-text: no controls, spaces or DQUOTE.
    if body[..close].iter().any(|&b| b <= b' ' || b == 0x7f) {
        return None;
    }
    let end = open + 1 + close + 1;
    Some((&v[..end], &v[end..]))
}

/// `(weak, opaque-tag)` of a well-formed tag.
fn split_weak(tag: &[u8]) -> (bool, &[u8]) {
    match tag.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    }
}

/// Strong comparison: neither weak, same opaque tag.
fn strong_eq(a: &[u8], b: &[u8]) -> bool {
    let (wa, a) = split_weak(a);
    let (wb, b) = split_weak(b);
    !wa && !wb && a == b
}

/// Weak comparison: same opaque tag, weakness ignored.
fn weak_eq(a: &[u8], b: &[u8]) -> bool {
    split_weak(a).1 == split_weak(b).1
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"5fee6600-5\"";
    /// Fri, 01 Jan 2021 00:00:00 GMT.
    const LM: u64 = 1_609_459_200;
    const LM_STR: &[u8] = b"Fri, 01 Jan 2021 00:00:00 GMT";
    const LATER: &[u8] = b"Sat, 02 Jan 2021 00:00:00 GMT";
    const EARLIER: &[u8] = b"Thu, 31 Dec 2020 00:00:00 GMT";

    fn req<'a>(fields: &[(&str, &'a [u8])]) -> Request<'a> {
        let mut r = Request::new(super::super::Method::Get, b"/");
        for (n, v) in fields {
            r.add_field(n.as_bytes(), v);
        }
        r
    }

    fn eval(fields: &[(&str, &[u8])]) -> Precondition {
        evaluate(&req(fields), ETAG, LM, true)
    }

    use Precondition::*;

    #[test]
    fn if_match_is_strong_and_takes_lists_and_star() {
        assert_eq!(eval(&[("If-Match", b"\"5fee6600-5\"")]), Proceed);
        assert_eq!(eval(&[("If-Match", b"\"x\", \"5fee6600-5\"")]), Proceed);
        assert_eq!(eval(&[("If-Match", b"*")]), Proceed);
        assert_eq!(eval(&[("If-Match", b"W/\"5fee6600-5\"")]), Failed);
        assert_eq!(eval(&[("If-Match", b"\"other\"")]), Failed);
        assert_eq!(eval(&[("If-Match", b"garbage")]), Failed);
        // Weak current tags never match strongly.
        let r = req(&[("If-Match", b"W/\"a\"")]);
        assert_eq!(evaluate(&r, "W/\"a\"", LM, true), Failed);
        // Repeated fields are one list (RFC 9110 §5.3).
        assert_eq!(
            eval(&[("If-Match", b"\"x\""), ("if-match", b"\"5fee6600-5\"")]),
            Proceed
        );
    }

    #[test]
    fn if_unmodified_since_only_without_if_match() {
        assert_eq!(eval(&[("If-Unmodified-Since", EARLIER)]), Failed);
        assert_eq!(eval(&[("If-Unmodified-Since", LM_STR)]), Proceed);
        assert_eq!(eval(&[("If-Unmodified-Since", LATER)]), Proceed);
        assert_eq!(eval(&[("If-Unmodified-Since", b"not a date")]), Proceed);
        // If-Match wins (§13.2.2 step 2 is skipped).
        assert_eq!(
            eval(&[("If-Match", b"*"), ("If-Unmodified-Since", EARLIER)]),
            Proceed
        );
    }

    #[test]
    fn if_none_match_is_weak_and_gives_304_or_412() {
        assert_eq!(eval(&[("If-None-Match", b"\"5fee6600-5\"")]), NotModified);
        assert_eq!(eval(&[("If-None-Match", b"W/\"5fee6600-5\"")]), NotModified);
        assert_eq!(
            eval(&[("If-None-Match", b"\"a\" , ,W/\"5fee6600-5\"")]),
            NotModified
        );
        assert_eq!(eval(&[("If-None-Match", b"*")]), NotModified);
        assert_eq!(eval(&[("If-None-Match", b"\"5fee6600-5-gzip\"")]), Proceed);
        assert_eq!(eval(&[("If-None-Match", b"5fee6600-5")]), Proceed);
        assert_eq!(eval(&[("If-None-Match", b"")]), Proceed);
        let r = req(&[("If-None-Match", b"\"5fee6600-5\"")]);
        assert_eq!(evaluate(&r, ETAG, LM, false), Failed);
        // A gzip representation's tag does not validate identity's.
        let r = req(&[("If-None-Match", b"W/\"5fee6600-5-gzip\"")]);
        assert_eq!(evaluate(&r, ETAG, LM, true), Proceed);
        assert_eq!(evaluate(&r, "W/\"5fee6600-5-gzip\"", LM, true), NotModified);
    }

    #[test]
    fn if_modified_since_only_without_if_none_match() {
        assert_eq!(eval(&[("If-Modified-Since", LM_STR)]), NotModified);
        assert_eq!(eval(&[("If-Modified-Since", LATER)]), NotModified);
        assert_eq!(eval(&[("If-Modified-Since", EARLIER)]), Proceed);
        assert_eq!(eval(&[("If-Modified-Since", b"junk")]), Proceed);
        // Two members (a repeated field) are not a valid date: ignored.
        assert_eq!(
            eval(&[("If-Modified-Since", LM_STR), ("If-Modified-Since", LM_STR)]),
            Proceed
        );
        // If-None-Match present and not matching: IMS is not consulted.
        assert_eq!(
            eval(&[("If-None-Match", b"\"x\""), ("If-Modified-Since", LATER)]),
            Proceed
        );
        // Not for other methods.
        let r = req(&[("If-Modified-Since", LATER)]);
        assert_eq!(evaluate(&r, ETAG, LM, false), Proceed);
    }

    #[test]
    fn precedence_if_match_failure_beats_not_modified() {
        assert_eq!(
            eval(&[("If-Match", b"\"x\""), ("If-None-Match", b"*")]),
            Failed
        );
        assert_eq!(
            eval(&[
                ("If-Unmodified-Since", EARLIER),
                ("If-Modified-Since", LATER)
            ]),
            Failed
        );
    }

    #[test]
    fn if_range() {
        let now = LM + 100;
        assert!(if_range_allows(b"\"5fee6600-5\"", ETAG, LM, now));
        assert!(!if_range_allows(b"W/\"5fee6600-5\"", ETAG, LM, now));
        assert!(!if_range_allows(b"\"5fee6600-5\" x", ETAG, LM, now));
        assert!(!if_range_allows(b"\"other\"", ETAG, LM, now));
        assert!(if_range_allows(LM_STR, ETAG, LM, now));
        assert!(!if_range_allows(LATER, ETAG, LM, now));
        assert!(!if_range_allows(EARLIER, ETAG, LM, now));
        // Modified within the current second: the date is weak.
        assert!(!if_range_allows(LM_STR, ETAG, LM, LM));
        assert!(!if_range_allows(b"", ETAG, LM, now));
    }
}
