//! The connection table: `ss -tin`-style lines, state filters, a cursor
//! that produces the table in bounded pieces, and JSON rows.
//!
//! Contract: [`TableCursor::fill`] appends at most `max_rows` lines per
//! call and resumes where it stopped (slot indices of the socket set, then
//! of the TIME-WAIT table), so the driver can stream a table of 100k
//! connections while serving traffic; the table is not a snapshot (like
//! `/proc/net/tcp`, rows reflect the moment each piece was made).
//! [`ss_line`] and friends are pure.

use std::fmt::Write;
use std::net::Ipv4Addr;

use netstack::iface::{Interface, ListenerInfo, TimeWaitInfo};
use netstack::tcp::{CongestionAlgorithm, State, TcpInfo};
use netstack::time::{Duration, Instant};
use serde::Serialize;

use super::{ss_state_name, STATES};

/// Which states a table shows: a bit per entry of [`STATES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateFilter(u16);

impl StateFilter {
    /// Every state, listeners included.
    pub const ALL: StateFilter = StateFilter((1 << STATES.len()) - 1);

    /// Whether `state` is shown.
    pub fn matches(self, state: State) -> bool {
        STATES
            .iter()
            .position(|(s, _)| *s == state)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// Parse `ss`'s state names, comma-separated: `established`,
    /// `syn-sent`, `syn-recv`, `fin-wait-1`, `fin-wait-2`, `time-wait`,
    /// `closed`, `close-wait`, `last-ack`, `listening`, `closing`, and the
    /// groups `all`, `connected` (all but listening and closed),
    /// `synchronized` (connected but syn-sent).
    pub fn parse(text: &str) -> Result<StateFilter, String> {
        let mut bits = 0u16;
        for word in text.split(',').map(str::trim) {
            let one = |s: State| 1u16 << STATES.iter().position(|(x, _)| *x == s).unwrap_or(0);
            bits |= match word.to_ascii_lowercase().as_str() {
                "all" => StateFilter::ALL.0,
                "connected" => StateFilter::ALL.0 & !one(State::Listen) & !one(State::Closed),
                "synchronized" => {
                    StateFilter::ALL.0
                        & !one(State::Listen)
                        & !one(State::Closed)
                        & !one(State::SynSent)
                }
                "established" | "estab" => one(State::Established),
                "syn-sent" => one(State::SynSent),
                "syn-recv" | "syn-received" => one(State::SynReceived),
                "fin-wait-1" => one(State::FinWait1),
                "fin-wait-2" => one(State::FinWait2),
                "time-wait" => one(State::TimeWait),
                "closed" | "close" | "unconn" => one(State::Closed),
                "close-wait" => one(State::CloseWait),
                "last-ack" => one(State::LastAck),
                "listening" | "listen" => one(State::Listen),
                "closing" => one(State::Closing),
                _ => {
                    return Err(format!(
                        "unknown state {word:?}; use all, connected, synchronized, established, \
                         syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, \
                         close-wait, last-ack, listening or closing"
                    ))
                }
            };
        }
        Ok(StateFilter(bits))
    }
}

/// The table's header line.
pub const HEADER: &str =
    "State      Recv-Q Send-Q Local Address:Port    Peer Address:Port     Details\n";

fn columns(out: &mut String, state: &str, recv_q: usize, send_q: usize, local: &str, peer: &str) {
    let _ = write!(
        out,
        "{state:<10} {recv_q:<6} {send_q:<6} {local:<21} {peer:<21}"
    );
}

/// Milliseconds with three decimals, as `ss` prints RTTs.
fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// A rate in bits per second, `ss`'s way (`12.3Mbps`).
pub fn bps(bytes_per_sec: u64) -> String {
    let bits = bytes_per_sec as f64 * 8.0;
    if bits >= 1e9 {
        format!("{:.1}Gbps", bits / 1e9)
    } else if bits >= 1e6 {
        format!("{:.1}Mbps", bits / 1e6)
    } else if bits >= 1e3 {
        format!("{:.1}Kbps", bits / 1e3)
    } else {
        format!("{bits:.0}bps")
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// `ssthresh` is unset (infinite) until the first loss.
fn ssthresh_set(info: &TcpInfo) -> bool {
    info.ssthresh < (u32::MAX as usize) / 2
}

/// One connection, one line, like `ss -tin` joins its two lines: state,
/// queues, addresses, then `cubic wscale:S,R rto:MS rtt:SRTT/RTTVAR mss:
/// rcvmss: cwnd:SEGS ssthresh:SEGS unacked:SEGS inflight:BYTES bytes_sent:
/// bytes_acked: bytes_received: retrans:NOW/TOTAL snd_wnd: rcv_wnd:
/// delivery_rate: age:` (age = time in the current state).
pub fn ss_line(info: &TcpInfo, now: Instant) -> String {
    let mut out = String::with_capacity(320);
    columns(
        &mut out,
        ss_state_name(info.state),
        info.recv_q,
        info.send_q,
        &info.tuple.local.to_string(),
        &info.tuple.remote.to_string(),
    );
    let mss = info.snd_mss.max(1);
    out.push(' ');
    out.push_str(match info.congestion {
        CongestionAlgorithm::Cubic => "cubic",
        CongestionAlgorithm::Reno => "reno",
    });
    if info.sack {
        out.push_str(" sack");
    }
    if info.timestamps {
        out.push_str(" ts");
    }
    if info.wscale_ok {
        let _ = write!(out, " wscale:{},{}", info.snd_wscale, info.rcv_wscale);
    }
    let _ = write!(out, " rto:{}", info.rto.as_millis());
    if info.backoff > 0 {
        let _ = write!(out, " backoff:{}", info.backoff);
    }
    if let Some(srtt) = info.srtt {
        let _ = write!(out, " rtt:{}/{}", ms(srtt), ms(info.rttvar));
    }
    let _ = write!(
        out,
        " mss:{} rcvmss:{} cwnd:{}",
        info.snd_mss,
        info.rcv_mss,
        info.cwnd / mss
    );
    if ssthresh_set(info) {
        let _ = write!(out, " ssthresh:{}", info.ssthresh / mss);
    }
    let _ = write!(
        out,
        " unacked:{} inflight:{} bytes_sent:{} bytes_acked:{} bytes_received:{} retrans:{}/{} snd_wnd:{} rcv_wnd:{}",
        info.in_flight.div_ceil(mss),
        info.in_flight,
        info.bytes_sent,
        info.bytes_acked,
        info.bytes_received,
        info.retransmits,
        info.total_retrans,
        info.snd_wnd,
        info.rcv_wnd,
    );
    if let Some(srtt) = info.srtt.filter(|d| !d.is_zero()) {
        let send = (info.cwnd as f64 / srtt.as_secs_f64()) as u64;
        let _ = write!(out, " send:{}", bps(send));
    }
    let _ = write!(
        out,
        " delivery_rate:{} age:{}",
        bps(info.delivery_rate),
        secs(info.time_in_state(now))
    );
    out.push('\n');
    out
}

/// A listener: Recv-Q is the accept queue, Send-Q its limit (`backlog`),
/// as in `ss -lt`; then the SYN queue against `syn_backlog`.
pub fn listener_line(l: &ListenerInfo, addr: Ipv4Addr) -> String {
    let mut out = String::with_capacity(120);
    columns(
        &mut out,
        "LISTEN",
        l.accept_queue,
        l.backlog,
        &format!("{addr}:{}", l.port),
        "0.0.0.0:*",
    );
    let _ = writeln!(
        out,
        " synq:{}/{} acceptq:{}/{}",
        l.syn_queue, l.syn_backlog, l.accept_queue, l.backlog
    );
    out
}

/// A released connection in TIME-WAIT (a bucket, not a socket).
pub fn time_wait_line(tw: &TimeWaitInfo, now: Instant) -> String {
    let mut out = String::with_capacity(120);
    columns(
        &mut out,
        "TIME-WAIT",
        0,
        0,
        &tw.tuple.local.to_string(),
        &tw.tuple.remote.to_string(),
    );
    let _ = writeln!(
        out,
        " timer:(timewait,{}) bucket",
        secs(tw.expires_at.saturating_duration_since(now))
    );
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    Listeners,
    Sockets(usize),
    TimeWait(usize),
    Done,
}

/// Produces the table in pieces (see the module docs).
#[derive(Debug, Clone)]
pub struct TableCursor {
    filter: StateFilter,
    addr: Ipv4Addr,
    phase: Phase,
    /// Rows written so far.
    pub rows: u64,
}

impl TableCursor {
    /// A table of the connections `filter` selects; listeners show `addr`.
    pub fn new(filter: StateFilter, addr: Ipv4Addr) -> TableCursor {
        TableCursor {
            filter,
            addr,
            phase: Phase::Header,
            rows: 0,
        }
    }

    /// Whether every row has been written.
    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Append up to `max_rows` rows (looking at no more than 4 × `max_rows`
    /// connections) to `out`; returns whether the table is complete.
    pub fn fill(
        &mut self,
        iface: &Interface,
        now: Instant,
        out: &mut Vec<u8>,
        max_rows: usize,
    ) -> bool {
        let mut budget = max_rows.max(1);
        let mut scan = budget * 4;
        while budget > 0 && scan > 0 {
            match self.phase {
                Phase::Header => {
                    out.extend_from_slice(HEADER.as_bytes());
                    self.phase = Phase::Listeners;
                }
                Phase::Listeners => {
                    if self.filter.matches(State::Listen) {
                        for l in iface.listeners() {
                            out.extend_from_slice(listener_line(&l, self.addr).as_bytes());
                            self.rows += 1;
                        }
                    }
                    self.phase = Phase::Sockets(0);
                }
                Phase::Sockets(from) => {
                    let mut next = None;
                    for (i, _, info) in iface.sockets().infos_from(from) {
                        if budget == 0 || scan == 0 {
                            next = Some(i);
                            break;
                        }
                        scan -= 1;
                        if self.filter.matches(info.state) {
                            out.extend_from_slice(ss_line(&info, now).as_bytes());
                            self.rows += 1;
                            budget -= 1;
                        }
                    }
                    self.phase = match next {
                        Some(i) => Phase::Sockets(i),
                        None if self.filter.matches(State::TimeWait) => Phase::TimeWait(0),
                        None => Phase::Done,
                    };
                }
                Phase::TimeWait(from) => {
                    let mut next = None;
                    for (k, tw) in iface.time_wait_from(from) {
                        if budget == 0 {
                            next = Some(k);
                            break;
                        }
                        out.extend_from_slice(time_wait_line(&tw, now).as_bytes());
                        self.rows += 1;
                        budget -= 1;
                    }
                    self.phase = next.map_or(Phase::Done, Phase::TimeWait);
                }
                Phase::Done => return true,
            }
        }
        self.done()
    }
}

/// One connection as JSON (`/_tapir/connections`); times in
/// milliseconds, sizes in bytes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConnRow {
    pub state: &'static str,
    pub local: String,
    pub peer: String,
    pub recv_q: usize,
    pub send_q: usize,
    pub rtt_ms: Option<f64>,
    pub rttvar_ms: f64,
    pub rto_ms: u64,
    pub cwnd: usize,
    pub ssthresh: Option<usize>,
    pub in_flight: usize,
    pub mss: usize,
    pub snd_wnd: usize,
    pub snd_wscale: u8,
    pub rcv_wnd: usize,
    pub rcv_wscale: u8,
    pub retrans: u32,
    pub total_retrans: u64,
    pub bytes_sent: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub delivery_rate_bps: u64,
    pub age_ms: u64,
}

impl ConnRow {
    /// The row of one connection.
    pub fn new(info: &TcpInfo, now: Instant) -> ConnRow {
        ConnRow {
            state: ss_state_name(info.state),
            local: info.tuple.local.to_string(),
            peer: info.tuple.remote.to_string(),
            recv_q: info.recv_q,
            send_q: info.send_q,
            rtt_ms: info.srtt.map(|d| d.as_secs_f64() * 1000.0),
            rttvar_ms: info.rttvar.as_secs_f64() * 1000.0,
            rto_ms: info.rto.as_millis() as u64,
            cwnd: info.cwnd,
            ssthresh: ssthresh_set(info).then_some(info.ssthresh),
            in_flight: info.in_flight,
            mss: info.snd_mss,
            snd_wnd: info.snd_wnd,
            snd_wscale: info.snd_wscale,
            rcv_wnd: info.rcv_wnd,
            rcv_wscale: info.rcv_wscale,
            retrans: info.retransmits,
            total_retrans: info.total_retrans,
            bytes_sent: info.bytes_sent,
            bytes_acked: info.bytes_acked,
            bytes_received: info.bytes_received,
            delivery_rate_bps: info.delivery_rate * 8,
            age_ms: info.time_in_state(now).as_millis() as u64,
        }
    }
}

/// `/_tapir/connections`: `{"connections": [...], "time_wait_buckets": N,
/// "listeners": [...], "truncated": bool}` with at most `limit` rows of
/// the states `filter` selects, or only the connection with this `peer`
/// address.
pub fn connections_json(
    iface: &Interface,
    now: Instant,
    filter: StateFilter,
    limit: usize,
    peer: Option<&str>,
) -> String {
    #[derive(Serialize)]
    struct Listener {
        port: u16,
        syn_queue: usize,
        syn_backlog: usize,
        accept_queue: usize,
        backlog: usize,
    }
    #[derive(Serialize)]
    struct Table {
        connections: Vec<ConnRow>,
        time_wait_buckets: usize,
        listeners: Vec<Listener>,
        truncated: bool,
    }
    let mut rows = Vec::new();
    let mut truncated = false;
    for (_, _, info) in iface.sockets().infos_from(0) {
        if !filter.matches(info.state) {
            continue;
        }
        if peer.is_some_and(|p| info.tuple.remote.to_string() != p) {
            continue;
        }
        if rows.len() >= limit {
            truncated = true;
            break;
        }
        rows.push(ConnRow::new(&info, now));
    }
    let table = Table {
        connections: rows,
        time_wait_buckets: iface.time_wait_buckets(),
        listeners: iface
            .listeners()
            .into_iter()
            .map(|l| Listener {
                port: l.port,
                syn_queue: l.syn_queue,
                syn_backlog: l.syn_backlog,
                accept_queue: l.accept_queue,
                backlog: l.backlog,
            })
            .collect(),
        truncated,
    };
    serde_json::to_string(&table).unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use netstack::tcp::{FourTuple, SocketAddr};
    use netstack::wire::Ipv4Address;

    use super::*;

    fn info() -> TcpInfo {
        TcpInfo {
            tuple: FourTuple {
                local: SocketAddr::new(Ipv4Address([10, 7, 0, 2]), 80),
                remote: SocketAddr::new(Ipv4Address([10, 7, 0, 1]), 45678),
            },
            state: State::Established,
            state_since: Instant::from_millis(500),
            recv_q: 0,
            send_q: 2896,
            srtt: Some(Duration::from_micros(1234)),
            rttvar: Duration::from_micros(617),
            rto: Duration::from_millis(201),
            backoff: 0,
            cwnd: 14480,
            ssthresh: usize::MAX,
            in_flight: 2896,
            snd_mss: 1448,
            rcv_mss: 536,
            snd_wnd: 64256,
            snd_wscale: 7,
            rcv_wnd: 262144,
            rcv_wscale: 3,
            wscale_ok: true,
            sack: true,
            timestamps: true,
            congestion: CongestionAlgorithm::Cubic,
            snd_una: 1,
            snd_nxt: 2897,
            retransmits: 0,
            total_retrans: 2,
            bytes_acked: 100_000,
            bytes_sent: 102_896,
            bytes_received: 78,
            delivery_rate: 1_250_000,
        }
    }

    #[test]
    fn ss_line_has_every_field() {
        let line = ss_line(&info(), Instant::from_millis(2000));
        assert_eq!(
            line,
            "ESTAB      0      2896   10.7.0.2:80           10.7.0.1:45678        \
             cubic sack ts wscale:7,3 rto:201 rtt:1.234/0.617 mss:1448 rcvmss:536 cwnd:10 \
             unacked:2 inflight:2896 bytes_sent:102896 bytes_acked:100000 bytes_received:78 \
             retrans:0/2 snd_wnd:64256 rcv_wnd:262144 send:93.9Mbps delivery_rate:10.0Mbps age:1.5s\n"
        );
        let mut lossy = info();
        lossy.ssthresh = 7240;
        lossy.backoff = 2;
        let line = ss_line(&lossy, Instant::from_millis(2000));
        assert!(line.contains(" cwnd:10 ssthresh:5 "), "{line}");
        assert!(line.contains(" backoff:2 "), "{line}");
    }

    #[test]
    fn listener_and_time_wait_lines() {
        let l = ListenerInfo {
            port: 80,
            syn_queue: 3,
            syn_backlog: 1024,
            accept_queue: 5,
            backlog: 8,
        };
        assert_eq!(
            listener_line(&l, Ipv4Addr::new(10, 7, 0, 2)),
            "LISTEN     5      8      10.7.0.2:80           0.0.0.0:*             synq:3/1024 acceptq:5/8\n"
        );
        let tw = TimeWaitInfo {
            tuple: info().tuple,
            expires_at: Instant::from_secs(61),
        };
        assert_eq!(
            time_wait_line(&tw, Instant::from_secs(1)),
            "TIME-WAIT  0      0      10.7.0.2:80           10.7.0.1:45678        timer:(timewait,60.0s) bucket\n"
        );
    }

    #[test]
    fn state_filters_parse_ss_names() {
        let tw = StateFilter::parse("time-wait").unwrap();
        assert!(tw.matches(State::TimeWait) && !tw.matches(State::Established));
        let c = StateFilter::parse("connected").unwrap();
        assert!(c.matches(State::Established) && c.matches(State::TimeWait));
        assert!(!c.matches(State::Listen));
        let two = StateFilter::parse("ESTABLISHED, listening").unwrap();
        assert!(two.matches(State::Established) && two.matches(State::Listen));
        assert!(StateFilter::ALL.matches(State::Closing));
        let err = StateFilter::parse("timewait").unwrap_err();
        assert!(err.contains("unknown state \"timewait\""), "{err}");
    }

    #[test]
    fn json_row_serialises() {
        let row = ConnRow::new(&info(), Instant::from_millis(2000));
        let v: serde_json::Value = serde_json::to_value(&row).unwrap();
        assert_eq!(v["state"], "ESTAB");
        assert_eq!(v["peer"], "10.7.0.1:45678");
        assert_eq!(v["ssthresh"], serde_json::Value::Null);
        assert_eq!(v["cwnd"], 14480);
        assert_eq!(v["delivery_rate_bps"], 10_000_000);
        assert_eq!(v["age_ms"], 1500);
    }

    #[test]
    fn cursor_streams_in_bounded_pieces() {
        use netstack::iface::{InterfaceConfig, ListenConfig};
        use netstack::wire::{EthernetAddress, Ipv4Cidr};
        let mut iface = Interface::new(InterfaceConfig::new(
            EthernetAddress([2, 0, 0, 0, 0, 2]),
            Ipv4Cidr::new(Ipv4Address([10, 7, 0, 2]), 24),
        ));
        iface.listen_with(80, ListenConfig::new(8, 8)).unwrap();
        let now = Instant::ZERO;
        for port in 0..10 {
            iface
                .connect(
                    now,
                    SocketAddr::new(Ipv4Address([10, 7, 0, 1]), 1000 + port),
                )
                .unwrap();
        }
        let mut cursor = TableCursor::new(StateFilter::ALL, Ipv4Addr::new(10, 7, 0, 2));
        let mut out = Vec::new();
        let mut calls = 0;
        while !cursor.fill(&iface, now, &mut out, 3) {
            calls += 1;
            assert!(calls < 20, "the cursor makes progress");
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1 + 1 + 10, "{text}");
        assert_eq!(text.matches("SYN-SENT").count(), 10);
        assert!(calls >= 3, "pieces of at most 3 rows");
        let mut only = TableCursor::new(
            StateFilter::parse("time-wait").unwrap(),
            Ipv4Addr::LOCALHOST,
        );
        let mut out = Vec::new();
        while !only.fill(&iface, now, &mut out, 100) {}
        assert_eq!(String::from_utf8(out).unwrap(), HEADER);
        let json = connections_json(&iface, now, StateFilter::ALL, 4, None);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["connections"].as_array().unwrap().len(), 4);
        assert_eq!(v["truncated"], true);
        assert_eq!(v["listeners"][0]["backlog"], 8);
        let one = connections_json(&iface, now, StateFilter::ALL, 100, Some("10.7.0.1:1003"));
        let v: serde_json::Value = serde_json::from_str(&one).unwrap();
        assert_eq!(v["connections"].as_array().unwrap().len(), 1);
    }
}
