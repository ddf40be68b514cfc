//! Prometheus text exposition (format 0.0.4) of every counter and gauge.
//!
//! Contract: one `# HELP` and one `# TYPE` line per metric family before
//! its samples; names match `[a-zA-Z_:][a-zA-Z0-9_:]*`; label values are
//! escaped; the latency histogram has cumulative `_bucket` samples ending
//! in `le="+Inf"` equal to `_count`, then `_sum` and `_count`.
//!
//! Names: interface counters follow node_exporter's netstat collector,
//! `tapir_netstat_<Section>_<Name>` (`tapir_netstat_TcpExt_ListenOverflows`);
//! the rest are `tapir_http_*`, `tapir_tcp_connections{state}`,
//! `tapir_listen_queue{port,queue}`, `tapir_listen_queue_limit{port,queue}`,
//! `tapir_request_duration_seconds` and `tapir_pcap_*`/`tapir_trace_*`.

use std::fmt::Write;

use super::{Snapshot, LATENCY_BUCKETS, STATES};

/// Interface counters that are gauges (levels, not event counts).
const NET_GAUGES: [&str; 2] = ["CurrEstab", "TW"];

/// The whole exposition.
pub fn exposition(s: &Snapshot) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for (sec, name, value) in s.net.named() {
        let kind = if NET_GAUGES.contains(&name) {
            "gauge"
        } else {
            "counter"
        };
        let metric = format!("tapir_netstat_{sec}_{name}");
        family(
            &mut out,
            &metric,
            kind,
            &format!("{sec} {name} (netstat -s)."),
        );
        let _ = writeln!(out, "{metric} {value}");
    }
    let v = &s.server;
    for (metric, kind, help, value) in [
        (
            "tapir_http_accepts_total",
            "counter",
            "Connections accepted.",
            v.accepts,
        ),
        (
            "tapir_http_handled_total",
            "counter",
            "Connections handled.",
            v.handled,
        ),
        (
            "tapir_http_requests_total",
            "counter",
            "Requests answered.",
            v.requests,
        ),
        (
            "tapir_http_connections_active",
            "gauge",
            "Connections being served.",
            s.active,
        ),
        (
            "tapir_tcp_time_wait_buckets",
            "gauge",
            "TIME-WAIT connections held as buckets.",
            s.tw_buckets,
        ),
        (
            "tapir_tap_write_errors_total",
            "counter",
            "Frames the TAP device refused.",
            v.tap_write_errors,
        ),
        (
            "tapir_pcap_frames_total",
            "counter",
            "Frames written to the pcap file.",
            v.pcap_frames,
        ),
        (
            "tapir_pcap_errors_total",
            "counter",
            "Frames the pcap file lost to write errors.",
            v.pcap_errors,
        ),
        (
            "tapir_trace_events_total",
            "counter",
            "ACK events written to the connection trace.",
            v.trace_events,
        ),
    ] {
        family(&mut out, metric, kind, help);
        let _ = writeln!(out, "{metric} {value}");
    }
    family(
        &mut out,
        "tapir_uptime_seconds",
        "gauge",
        "Seconds since tapir started.",
    );
    let _ = writeln!(out, "tapir_uptime_seconds {:.3}", s.uptime.as_secs_f64());
    family(
        &mut out,
        "tapir_http_connections",
        "gauge",
        "Connections by HTTP state (stub_status Reading/Writing/Waiting).",
    );
    for (state, n) in [
        ("reading", s.http.reading),
        ("writing", s.http.writing),
        ("waiting", s.http.waiting),
    ] {
        let _ = writeln!(out, "tapir_http_connections{{state=\"{state}\"}} {n}");
    }
    family(
        &mut out,
        "tapir_tcp_connections",
        "gauge",
        "TCP connections by state (ss names; TIME-WAIT includes buckets).",
    );
    for (i, (_, name)) in STATES.iter().enumerate() {
        let _ = writeln!(
            out,
            "tapir_tcp_connections{{state=\"{}\"}} {}",
            escape(name),
            s.tcp_states[i]
        );
    }
    family(
        &mut out,
        "tapir_listen_queue",
        "gauge",
        "Listener queue depth (syn: half-open, accept: established, not accepted).",
    );
    for l in &s.listeners {
        let _ = writeln!(
            out,
            "tapir_listen_queue{{port=\"{}\",queue=\"syn\"}} {}",
            l.port, l.syn_queue
        );
        let _ = writeln!(
            out,
            "tapir_listen_queue{{port=\"{}\",queue=\"accept\"}} {}",
            l.port, l.accept_queue
        );
    }
    family(
        &mut out,
        "tapir_listen_queue_limit",
        "gauge",
        "Listener queue limits (syn_backlog, backlog).",
    );
    for l in &s.listeners {
        let _ = writeln!(
            out,
            "tapir_listen_queue_limit{{port=\"{}\",queue=\"syn\"}} {}",
            l.port, l.syn_backlog
        );
        let _ = writeln!(
            out,
            "tapir_listen_queue_limit{{port=\"{}\",queue=\"accept\"}} {}",
            l.port, l.backlog
        );
    }
    let h = &v.latency;
    family(
        &mut out,
        "tapir_request_duration_seconds",
        "histogram",
        "Time from a request's head to its last response byte handed to TCP.",
    );
    let mut cumulative = 0;
    for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
        cumulative += h.buckets[i];
        let _ = writeln!(
            out,
            "tapir_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        out,
        "tapir_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        h.count
    );
    let _ = writeln!(
        out,
        "tapir_request_duration_seconds_sum {}",
        h.sum_micros as f64 / 1e6
    );
    let _ = writeln!(out, "tapir_request_duration_seconds_count {}", h.count);
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP {name} {}",
        help.replace('\\', "\\\\").replace('\n', "\\n")
    );
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value, escaped (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::super::tests::snapshot;
    use super::*;

    fn valid_name(n: &str) -> bool {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    /// A strict reader of the 0.0.4 text format: every sample belongs to
    /// the family declared just before it, names are valid, values parse,
    /// no family is declared twice.
    fn check(text: &str) -> Vec<(String, f64)> {
        let mut families = HashSet::new();
        let mut current = String::new();
        let mut kind = String::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(valid_name(name), "{line}");
                assert!(families.insert(name.to_owned()), "declared twice: {name}");
                current = name.to_owned();
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut w = rest.split(' ');
                assert_eq!(w.next(), Some(current.as_str()), "{line}");
                kind = w.next().unwrap().to_owned();
                assert!(
                    ["counter", "gauge", "histogram"].contains(&kind.as_str()),
                    "{line}"
                );
                continue;
            }
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            let name = series.split('{').next().unwrap();
            assert!(valid_name(name), "{line}");
            let base = if kind == "histogram" {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name)
            } else {
                name
            };
            assert_eq!(base, current, "sample outside its family: {line}");
            if let Some(labels) = series.strip_prefix(name) {
                if !labels.is_empty() {
                    assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                    for pair in labels[1..labels.len() - 1].split(',') {
                        let (k, v) = pair.split_once('=').unwrap();
                        assert!(
                            valid_name(k) && v.starts_with('"') && v.ends_with('"'),
                            "{line}"
                        );
                    }
                }
            }
            samples.push((series.to_owned(), value));
        }
        samples
    }

    #[test]
    fn exposition_parses_and_has_every_counter() {
        let s = snapshot();
        let text = exposition(&s);
        let samples = check(&text);
        let get = |series: &str| {
            samples
                .iter()
                .find(|(s, _)| s == series)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("{series} missing"))
        };
        assert_eq!(get("tapir_netstat_TcpExt_ListenOverflows"), 3.0);
        assert_eq!(get("tapir_http_requests_total"), 20.0);
        assert_eq!(get("tapir_uptime_seconds"), 10.0);
        assert_eq!(get("tapir_tcp_connections{state=\"TIME-WAIT\"}"), 4.0);
        assert_eq!(
            get("tapir_listen_queue_limit{port=\"80\",queue=\"accept\"}"),
            511.0
        );
        for (sec, name, _) in s.net.named() {
            get(&format!("tapir_netstat_{sec}_{name}"));
        }
        assert!(text.contains("# TYPE tapir_netstat_Tcp_CurrEstab gauge\n"));
        // The histogram: cumulative, +Inf = count.
        assert_eq!(
            get("tapir_request_duration_seconds_bucket{le=\"0.0001\"}"),
            1.0
        );
        assert_eq!(
            get("tapir_request_duration_seconds_bucket{le=\"0.005\"}"),
            2.0
        );
        assert_eq!(get("tapir_request_duration_seconds_bucket{le=\"5\"}"), 2.0);
        assert_eq!(
            get("tapir_request_duration_seconds_bucket{le=\"+Inf\"}"),
            3.0
        );
        assert_eq!(get("tapir_request_duration_seconds_count"), 3.0);
        assert!((get("tapir_request_duration_seconds_sum") - 9.00308).abs() < 1e-9);
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
