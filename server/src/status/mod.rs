//! What tapir shows about itself: counters, the connection table and the
//! status pages, as text, Prometheus exposition and JSON.
//!
//! Job: turn the interface's counters and connection state, plus the
//! server's own counters ([`ServerStats`]), into the formats operators
//! read: `netstat -s` text (`tapir stats`), `ss -tin` lines (`tapir ss`),
//! nginx `stub_status`, Prometheus text exposition, JSON, and the
//! dashboard page.
//!
//! Contract: everything here is pure. Formatters take a [`Snapshot`] (or
//! single rows) and `now`, write into a buffer and never touch a socket,
//! a file or the clock; the driver builds the snapshot and does the I/O.
//! Large tables are produced in bounded pieces by [`ss::TableCursor`], so
//! the driver can stream them with back-pressure.
//!
//! - [`text`]: `stats` (netstat -s), rates for `--watch`, `stub_status`.
//! - [`prom`]: Prometheus text exposition format 0.0.4.
//! - [`ss`]: `ss` lines, state filters, the streaming cursor, JSON rows.
//! - [`route`]: `/_tapir/...` paths and the `[status] allow` check.

pub mod prom;
pub mod route;
pub mod ss;
pub mod text;

use netstack::iface::{Interface, ListenerInfo, Stats};
use netstack::tcp::State;
use netstack::time::{Duration, Instant};

/// Upper bounds (seconds) of the request latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A fixed-bucket histogram of durations (Prometheus `histogram`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Observations per bucket of [`LATENCY_BUCKETS`] (not cumulative),
    /// the last one for everything above.
    pub buckets: [u64; LATENCY_BUCKETS.len() + 1],
    /// Sum of observations in microseconds.
    pub sum_micros: u64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// Count one observation.
    pub fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i] += 1;
        self.sum_micros += d.as_micros() as u64;
        self.count += 1;
    }
}

/// The server's own counters (plain integers: one loop, no atomics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections taken from the accept queue (nginx `accepts`).
    pub accepts: u64,
    /// Connections served (nginx `handled`; equal to `accepts`: tapir
    /// never accepts a connection it then drops).
    pub handled: u64,
    /// Requests answered (nginx `requests`).
    pub requests: u64,
    /// Time from a request's head to its last byte handed to TCP.
    pub latency: Histogram,
    /// Frames the TAP refused.
    pub tap_write_errors: u64,
    /// Frames written to the pcap file, and frames it dropped (errors).
    pub pcap_frames: u64,
    pub pcap_errors: u64,
    /// ACK events written to the connection trace.
    pub trace_events: u64,
}

/// Connections being served by state of their HTTP exchange (nginx
/// `stub_status` Reading / Writing / Waiting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStates {
    pub reading: u64,
    pub writing: u64,
    pub waiting: u64,
}

/// States in table order, with their `ss` names.
pub const STATES: [(State, &str); 11] = [
    (State::Established, "ESTAB"),
    (State::SynSent, "SYN-SENT"),
    (State::SynReceived, "SYN-RECV"),
    (State::FinWait1, "FIN-WAIT-1"),
    (State::FinWait2, "FIN-WAIT-2"),
    (State::TimeWait, "TIME-WAIT"),
    (State::Closed, "UNCONN"),
    (State::CloseWait, "CLOSE-WAIT"),
    (State::LastAck, "LAST-ACK"),
    (State::Listen, "LISTEN"),
    (State::Closing, "CLOSING"),
];

/// The `ss` name of a state.
pub fn ss_state_name(state: State) -> &'static str {
    STATES
        .iter()
        .find(|(s, _)| *s == state)
        .map_or("UNKNOWN", |(_, n)| n)
}

/// Everything the counter formatters show, gathered at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When it was taken (driver clock) and the Unix time then.
    pub now: Instant,
    /// The interface's counters.
    pub net: Stats,
    /// The server's counters.
    pub server: ServerStats,
    /// Connections by TCP state, in [`STATES`] order; TIME-WAIT includes
    /// the buckets of released connections.
    pub tcp_states: [u64; STATES.len()],
    /// Connections the server is serving, and their HTTP states.
    pub active: u64,
    pub http: HttpStates,
    /// Listener queues.
    pub listeners: Vec<ListenerInfo>,
    /// TIME-WAIT buckets held (part of `tcp_states`' TIME-WAIT).
    pub tw_buckets: u64,
    /// Seconds since start.
    pub uptime: Duration,
}

impl Snapshot {
    /// Count connections by state over the interface: O(connections),
    /// for status pages only.
    pub fn tcp_states(iface: &Interface) -> [u64; STATES.len()] {
        let mut by_state = [0u64; STATES.len()];
        for (_, socket) in iface.sockets().iter() {
            if let Some(i) = STATES.iter().position(|(s, _)| *s == socket.state()) {
                by_state[i] += 1;
            }
        }
        by_state[5] += iface.time_wait_buckets() as u64;
        by_state
    }

    /// Connections in `state` (TIME-WAIT includes buckets).
    pub fn in_state(&self, state: State) -> u64 {
        STATES
            .iter()
            .position(|(s, _)| *s == state)
            .map_or(0, |i| self.tcp_states[i])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A snapshot with recognisable numbers for formatter tests.
    pub(crate) fn snapshot() -> Snapshot {
        let mut net = Stats::default();
        net.tcp.passive_opens = 7;
        net.tcp.listen_overflows = 3;
        net.tcp.curr_estab = 2;
        net.tcp.time_wait = 4;
        net.tcp.conn.retrans_segs = 5;
        net.ipv4.in_receives = 100;
        let mut server = ServerStats {
            accepts: 7,
            handled: 7,
            requests: 20,
            ..ServerStats::default()
        };
        server.latency.observe(Duration::from_micros(80));
        server.latency.observe(Duration::from_millis(3));
        server.latency.observe(Duration::from_secs(9));
        let mut tcp_states = [0; STATES.len()];
        tcp_states[0] = 2;
        tcp_states[5] = 4;
        Snapshot {
            now: Instant::from_secs(10),
            net,
            server,
            tcp_states,
            active: 2,
            http: HttpStates {
                reading: 0,
                writing: 1,
                waiting: 1,
            },
            listeners: vec![ListenerInfo {
                port: 80,
                syn_queue: 1,
                syn_backlog: 1024,
                accept_queue: 0,
                backlog: 511,
            }],
            tw_buckets: 3,
            uptime: Duration::from_secs(10),
        }
    }

    #[test]
    fn histogram_buckets_by_upper_bound() {
        let s = snapshot();
        let b = &s.server.latency.buckets;
        assert_eq!((b[0], b[5], b[LATENCY_BUCKETS.len()]), (1, 1, 1));
        assert_eq!(s.server.latency.count, 3);
        assert_eq!(s.server.latency.sum_micros, 9_003_080);
        assert_eq!(s.in_state(State::TimeWait), 4);
    }
}
