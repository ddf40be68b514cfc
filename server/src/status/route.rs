//! The status pages under `[status] path` (default `/_tapir`): which page a
//! request names, who may see it, and the response for it.
//!
//! Contract: [`route`] maps a request target to a [`Page`] or an HTTP
//! status (404 unknown page, 405 method, 400 bad query); [`Allow`] says
//! whether a client address may see the pages (403 otherwise);
//! [`response`] builds the answer from data the driver gathered. Pure.

use std::net::Ipv4Addr;
use std::rc::Rc;

use netstack::iface::Interface;
use netstack::time::Instant;

use super::ss::{connections_json, StateFilter};
use super::{prom, text, Snapshot};
use crate::respond::{Body, ContentType, Headers, Response};

/// The dashboard: one self-contained page (inline script and styles, no
/// external requests) that polls the JSON and metrics endpoints.
pub const DASHBOARD: &str = include_str!("dashboard.html");

/// Most rows `/connections` returns unless `limit=` says otherwise.
pub const DEFAULT_LIMIT: usize = 1000;

/// A status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// `PREFIX/`: the dashboard.
    Dashboard,
    /// `PREFIX/status`: nginx `stub_status`.
    Status,
    /// `PREFIX/metrics`: Prometheus exposition.
    Metrics,
    /// `PREFIX/connections[?state=S&limit=N&peer=A:P]`: the `ss` table as
    /// JSON.
    Connections {
        filter: StateFilter,
        limit: usize,
        peer: Option<String>,
    },
}

impl Page {
    /// Whether the page needs a counter [`Snapshot`].
    pub fn needs_snapshot(&self) -> bool {
        matches!(self, Page::Status | Page::Metrics)
    }
}

/// Client networks allowed to see the pages (`[status] allow`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allow(pub Vec<(Ipv4Addr, u8)>);

impl Allow {
    /// Whether `peer` is inside one of the networks.
    pub fn permits(&self, peer: Ipv4Addr) -> bool {
        self.0.iter().any(|&(net, prefix)| {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            u32::from(peer) & mask == u32::from(net) & mask
        })
    }
}

/// The page `target` names below `prefix`, for a request with method
/// `get_or_head`.
pub fn route(target: &[u8], prefix: &str, get_or_head: bool) -> Result<Page, u16> {
    let prefix = prefix.trim_end_matches('/');
    let rest = target.strip_prefix(prefix.as_bytes()).ok_or(404u16)?;
    let rest = std::str::from_utf8(rest).map_err(|_| 400u16)?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !get_or_head {
        return Err(405);
    }
    match path {
        "" | "/" | "/index.html" => Ok(Page::Dashboard),
        "/status" => Ok(Page::Status),
        "/metrics" => Ok(Page::Metrics),
        "/connections" => {
            let mut filter = StateFilter::ALL;
            let mut limit = DEFAULT_LIMIT;
            let mut peer = None;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                match k {
                    "state" => filter = StateFilter::parse(v).map_err(|_| 400u16)?,
                    "limit" => limit = v.parse().map_err(|_| 400u16)?,
                    "peer" => peer = Some(v.to_owned()),
                    _ => return Err(400),
                }
            }
            Ok(Page::Connections {
                filter,
                limit,
                peer,
            })
        }
        _ => Err(404),
    }
}

fn text_response(content_type: &'static str, body: String) -> Response {
    let bytes: Rc<[u8]> = Rc::from(body.into_bytes());
    Response {
        status: 200,
        headers: Headers {
            content_type: Some(ContentType::Static(content_type)),
            content_length: bytes.len() as u64,
            cache_control: Some(Rc::from("no-store")),
            ..Headers::default()
        },
        body: Body::Bytes(bytes),
    }
}

/// The response for `page`; `snapshot` must be given for pages that
/// [`Page::needs_snapshot`] (otherwise 500).
pub fn response(
    page: &Page,
    snapshot: Option<&Snapshot>,
    iface: &Interface,
    now: Instant,
) -> Response {
    match (page, snapshot) {
        (Page::Dashboard, _) => Response {
            status: 200,
            headers: Headers {
                content_type: Some(ContentType::HTML),
                content_length: DASHBOARD.len() as u64,
                cache_control: Some(Rc::from("no-store")),
                ..Headers::default()
            },
            body: Body::Static(DASHBOARD.as_bytes()),
        },
        (Page::Status, Some(s)) => text_response("text/plain", text::stub_status(s)),
        (Page::Metrics, Some(s)) => text_response(
            "text/plain; version=0.0.4; charset=utf-8",
            prom::exposition(s),
        ),
        (
            Page::Connections {
                filter,
                limit,
                peer,
            },
            _,
        ) => text_response(
            "application/json",
            connections_json(iface, now, *filter, *limit, peer.as_deref()),
        ),
        _ => Response::error(500),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_by_path() {
        assert_eq!(route(b"/_tapir", "/_tapir", true), Ok(Page::Dashboard));
        assert_eq!(route(b"/_tapir/", "/_tapir/", true), Ok(Page::Dashboard));
        assert_eq!(route(b"/_tapir/status", "/_tapir", true), Ok(Page::Status));
        assert_eq!(
            route(b"/_tapir/metrics?x", "/_tapir", true),
            Ok(Page::Metrics)
        );
        assert_eq!(route(b"/_tapir/nope", "/_tapir", true), Err(404));
        assert_eq!(route(b"/_tapir/status", "/_tapir", false), Err(405));
        assert_eq!(
            route(
                b"/_tapir/connections?state=time-wait&limit=5&peer=10.7.0.1:80",
                "/_tapir",
                true
            ),
            Ok(Page::Connections {
                filter: StateFilter::parse("time-wait").unwrap(),
                limit: 5,
                peer: Some("10.7.0.1:80".into()),
            })
        );
        assert_eq!(
            route(b"/_tapir/connections?limit=x", "/_tapir", true),
            Err(400)
        );
        assert_eq!(
            route(b"/_tapir/connections?state=bad", "/_tapir", true),
            Err(400)
        );
        assert_eq!(
            route(b"/_tapir/connections?what=1", "/_tapir", true),
            Err(400)
        );
        assert_eq!(route(b"/_tapir/\xff", "/_tapir", true), Err(400));
    }

    #[test]
    fn allow_list_matches_networks() {
        let allow = Allow(vec![
            (Ipv4Addr::new(10, 7, 0, 0), 24),
            (Ipv4Addr::LOCALHOST, 32),
        ]);
        assert!(allow.permits(Ipv4Addr::new(10, 7, 0, 1)));
        assert!(allow.permits(Ipv4Addr::LOCALHOST));
        assert!(!allow.permits(Ipv4Addr::new(10, 7, 1, 1)));
        assert!(!Allow::default().permits(Ipv4Addr::new(10, 7, 0, 1)));
        assert!(Allow(vec![(Ipv4Addr::UNSPECIFIED, 0)]).permits(Ipv4Addr::new(1, 2, 3, 4)));
    }

    #[test]
    fn dashboard_is_self_contained() {
        assert!(DASHBOARD.starts_with("<!DOCTYPE html>"));
        for external in [
            "http://",
            "https://",
            "//cdn",
            "<link",
            "src=\"http",
            "@import",
        ] {
            assert!(
                !DASHBOARD.contains(external),
                "external reference {external}"
            );
        }
        for endpoint in ["connections", "metrics"] {
            assert!(DASHBOARD.contains(endpoint));
        }
    }
}
