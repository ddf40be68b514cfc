//! Plain-text formats: `tapir stats` (netstat -s style), the per-second
//! rates of `tapir stats --watch`, and nginx's `stub_status`.
//!
//! Contract: pure functions of a [`Snapshot`] (or of two parsed stats
//! texts); [`parse_stats`] reads back exactly what [`stats`] writes.

use std::fmt::Write;

use super::{Snapshot, STATES};

/// Every counter and gauge, `netstat -s` style: a `Section:` line, then
/// one `    Name value` line per counter. Sections: the interface's (`Link`,
/// `Arp`, `Ip`, `Icmp`, `Tcp`, `TcpExt`), `Server`, `State` (connections
/// per TCP state) and `Listen` (queue depths per port).
pub fn stats(s: &Snapshot) -> String {
    let mut rows: Vec<(&str, String, u64)> = s
        .net
        .named()
        .into_iter()
        .map(|(sec, name, value)| (sec, name.to_owned(), value))
        .collect();
    let v = &s.server;
    for (name, value) in [
        ("Accepts", v.accepts),
        ("Handled", v.handled),
        ("Requests", v.requests),
        ("ActiveConnections", s.active),
        ("Reading", s.http.reading),
        ("Writing", s.http.writing),
        ("Waiting", s.http.waiting),
        ("TimeWaitBuckets", s.tw_buckets),
        ("TapWriteErrors", v.tap_write_errors),
        ("PcapFrames", v.pcap_frames),
        ("PcapErrors", v.pcap_errors),
        ("TraceEvents", v.trace_events),
        ("UptimeSeconds", s.uptime.as_secs()),
    ] {
        rows.push(("Server", name.to_owned(), value));
    }
    for (i, (_, name)) in STATES.iter().enumerate() {
        rows.push(("State", (*name).to_owned(), s.tcp_states[i]));
    }
    for l in &s.listeners {
        let p = l.port;
        rows.push(("Listen", format!("Port{p}SynQueue"), l.syn_queue as u64));
        rows.push(("Listen", format!("Port{p}SynBacklog"), l.syn_backlog as u64));
        rows.push((
            "Listen",
            format!("Port{p}AcceptQueue"),
            l.accept_queue as u64,
        ));
        rows.push(("Listen", format!("Port{p}Backlog"), l.backlog as u64));
    }
    let mut out = String::with_capacity(rows.len() * 40);
    let mut last = "";
    for (sec, name, value) in rows {
        if sec != last {
            let _ = writeln!(out, "{sec}:");
            last = sec;
        }
        let _ = writeln!(out, "    {name:<28} {value}");
    }
    out
}

/// Reads [`stats`] text back as `(section, name, value)`; lines that do
/// not parse are skipped.
pub fn parse_stats(text: &str) -> Vec<(String, String, u64)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(sec) = line.strip_suffix(':') {
            if !line.starts_with(' ') {
                section = sec.to_owned();
                continue;
            }
        }
        let mut words = line.split_whitespace();
        if let (Some(name), Some(value), None) = (words.next(), words.next(), words.next()) {
            if let Ok(value) = value.parse() {
                out.push((section.clone(), name.to_owned(), value));
            }
        }
    }
    out
}

/// Gauges: shown as values, never as rates.
fn is_gauge(section: &str, name: &str) -> bool {
    matches!(section, "State" | "Listen")
        || matches!(
            name,
            "CurrEstab"
                | "TW"
                | "ActiveConnections"
                | "Reading"
                | "Writing"
                | "Waiting"
                | "TimeWaitBuckets"
                | "UptimeSeconds"
        )
}

/// `tapir stats --watch`: counters that moved between two samples `secs`
/// apart, with their per-second rate, and every non-zero gauge.
pub fn rates(prev: &[(String, String, u64)], cur: &[(String, String, u64)], secs: f64) -> String {
    let mut out = String::new();
    let secs = if secs > 0.0 { secs } else { 1.0 };
    let _ = writeln!(
        out,
        "{:<36} {:>14} {:>12}",
        "counter", "value", "per second"
    );
    for (sec, name, value) in cur {
        let key = format!("{sec}:{name}");
        if is_gauge(sec, name) {
            if *value != 0 {
                let _ = writeln!(out, "{key:<36} {value:>14} {:>12}", "-");
            }
            continue;
        }
        let before = prev
            .iter()
            .find(|(s, n, _)| s == sec && n == name)
            .map_or(0, |(_, _, v)| *v);
        let delta = value.saturating_sub(before);
        if delta != 0 {
            let rate = delta as f64 / secs;
            let _ = writeln!(out, "{key:<36} {value:>14} {rate:>12.1}");
        }
    }
    out
}

/// nginx's `stub_status` page, byte for byte (trailing spaces included).
pub fn stub_status(s: &Snapshot) -> String {
    format!(
        "Active connections: {} \nserver accepts handled requests\n {} {} {} \nReading: {} Writing: {} Waiting: {} \n",
        s.active,
        s.server.accepts,
        s.server.handled,
        s.server.requests,
        s.http.reading,
        s.http.writing,
        s.http.waiting
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::snapshot;
    use super::*;

    #[test]
    fn stub_status_is_nginx_format() {
        assert_eq!(
            stub_status(&snapshot()),
            "Active connections: 2 \nserver accepts handled requests\n 7 7 20 \nReading: 0 Writing: 1 Waiting: 1 \n"
        );
    }

    #[test]
    fn stats_are_sectioned_and_read_back() {
        let text = stats(&snapshot());
        assert!(text.starts_with("Link:\n    RxFrames"), "{text}");
        assert!(text.contains("\nTcpExt:\n"));
        assert!(
            text.contains("    ListenOverflows              3\n"),
            "{text}"
        );
        assert!(text.contains("Server:\n    Accepts                      7\n"));
        assert!(text.contains("State:\n    ESTAB                        2\n"));
        assert!(text.contains("    Port80Backlog                511\n"));
        let parsed = parse_stats(&text);
        let get = |sec: &str, name: &str| {
            parsed
                .iter()
                .find(|(s, n, _)| s == sec && n == name)
                .map(|(_, _, v)| *v)
        };
        assert_eq!(get("TcpExt", "ListenOverflows"), Some(3));
        assert_eq!(get("Tcp", "RetransSegs"), Some(5));
        assert_eq!(get("State", "TIME-WAIT"), Some(4));
        assert_eq!(get("Server", "Requests"), Some(20));
        // Every interface counter is there.
        assert!(parsed.len() >= snapshot().net.named().len() + 13);
    }

    #[test]
    fn rates_show_moved_counters_and_gauges() {
        let a = parse_stats(&stats(&snapshot()));
        let mut later = snapshot();
        later.server.requests += 50;
        later.net.tcp.listen_overflows += 1;
        let b = parse_stats(&stats(&later));
        let out = rates(&a, &b, 2.0);
        assert!(out.contains("Server:Requests"), "{out}");
        assert!(out
            .lines()
            .any(|l| l.starts_with("Server:Requests") && l.ends_with(" 25.0")));
        assert!(out
            .lines()
            .any(|l| l.starts_with("TcpExt:ListenOverflows") && l.ends_with(" 0.5")));
        assert!(out.contains("State:ESTAB"), "gauges shown: {out}");
        assert!(
            !out.contains("Ip:InReceives"),
            "unchanged counters hidden: {out}"
        );
        // Bad input: nothing, no panic.
        assert_eq!(
            rates(&[], &parse_stats("garbage\n:\n  x y z\n"), 0.0)
                .lines()
                .count(),
            1
        );
    }
}
