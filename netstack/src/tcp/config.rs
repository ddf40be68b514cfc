//! Per-connection TCP settings, with Linux-like defaults.

use crate::time::Duration;

/// Settings a connection is created with. `Default` gives Linux-like
/// values; each field names the sysctl or RFC it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConfig {
    /// MSS we advertise (MTU - 40). Default 1460. We also never send larger
    /// segments than this (RFC 9293 §3.7.1).
    pub mss: u16,
    /// Receive buffer in bytes; the window scale is chosen so that the whole
    /// buffer can be advertised (RFC 7323 §2.3). Default 256 KiB.
    pub recv_buffer: usize,
    /// Send buffer in bytes. Default 256 KiB.
    pub send_buffer: usize,
    /// Disable Nagle's algorithm (RFC 9293 §3.7.4). Default false.
    pub nodelay: bool,
    /// Longest delay of an ACK (RFC 9293 §3.8.6.3 allows up to 0.5 s; Linux
    /// uses 40 ms). `ZERO` acknowledges every segment at once.
    pub delayed_ack: Duration,
    /// RTO before the first RTT sample (RFC 6298 §2.1). Default 1 s.
    pub rto_initial: Duration,
    /// Lower bound of the RTO (Linux `TCP_RTO_MIN`). Default 200 ms.
    pub rto_min: Duration,
    /// Upper bound of the RTO and of backed-off timers (Linux
    /// `TCP_RTO_MAX`). Default 120 s.
    pub rto_max: Duration,
    /// Retransmissions of data (or unanswered window probes) before the
    /// connection is aborted (Linux `tcp_retries2`). Default 15.
    pub retries2: u32,
    /// SYN-ACK retransmissions before a half-open connection is dropped
    /// (Linux `tcp_synack_retries`). Default 5.
    pub synack_retries: u32,
    /// SYN retransmissions before an active open fails (Linux
    /// `tcp_syn_retries`). Default 6.
    pub syn_retries: u32,
    /// Maximum segment lifetime; TIME-WAIT lasts `2 * msl` (RFC 9293
    /// §3.4.2). Default 30 s (Linux's TIME-WAIT is 60 s).
    pub msl: Duration,
    /// FIN-WAIT-2 lifetime once the application has released the socket
    /// (Linux `tcp_fin_timeout`). Default 60 s.
    pub fin_timeout: Duration,
    /// Offer/accept window scaling (RFC 7323 §2). Default true.
    pub window_scaling: bool,
    /// Offer/accept timestamps (RFC 7323 §3). Default true.
    pub timestamps: bool,
    /// Offer/accept SACK-permitted (RFC 2018). Default true.
    pub sack: bool,
    /// Congestion control algorithm (Linux `tcp_congestion_control`).
    /// Default CUBIC (RFC 9438).
    pub congestion: CongestionAlgorithm,
    /// Challenge ACKs (RFC 5961 §7) a connection sends per second at most
    /// (Linux `tcp_challenge_ack_limit`). Default 1000; 0 means no limit.
    pub challenge_ack_limit: u32,
    /// Send keepalive probes on an idle connection (`SO_KEEPALIVE`, RFC
    /// 1122 §4.2.3.6). Default false.
    pub keepalive: bool,
    /// Idle time before the first keepalive probe (Linux
    /// `tcp_keepalive_time`). Default 2 h.
    pub keepalive_time: Duration,
    /// Time between unanswered keepalive probes (Linux
    /// `tcp_keepalive_intvl`). Default 75 s.
    pub keepalive_intvl: Duration,
    /// Unanswered probes before the connection is dropped (Linux
    /// `tcp_keepalive_probes`). Default 9.
    pub keepalive_probes: u32,
    /// Retransmissions of data or FIN, once the application has released
    /// the connection, before it is dropped (Linux `tcp_orphan_retries`,
    /// whose 0 means 8). Default 8.
    pub orphan_retries: u32,
    /// Ignore a RST in TIME-WAIT (RFC 1337 §3). `false` lets a RST end
    /// TIME-WAIT early, which is Linux's default (`tcp_rfc1337 = 0`).
    /// Default true.
    pub rfc1337: bool,
}

/// Which congestion control a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CongestionAlgorithm {
    /// CUBIC (RFC 9438), Linux's default.
    #[default]
    Cubic,
    /// Reno with NewReno recovery (RFC 5681, RFC 6582).
    Reno,
}

impl Default for TcpConfig {
    fn default() -> TcpConfig {
        TcpConfig {
            mss: 1460,
            recv_buffer: 256 * 1024,
            send_buffer: 256 * 1024,
            nodelay: false,
            delayed_ack: Duration::from_millis(40),
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            retries2: 15,
            synack_retries: 5,
            syn_retries: 6,
            msl: Duration::from_secs(30),
            fin_timeout: Duration::from_secs(60),
            window_scaling: true,
            timestamps: true,
            sack: true,
            congestion: CongestionAlgorithm::Cubic,
            challenge_ack_limit: 1000,
            keepalive: false,
            keepalive_time: Duration::from_secs(2 * 3600),
            keepalive_intvl: Duration::from_secs(75),
            keepalive_probes: 9,
            orphan_retries: 8,
            rfc1337: true,
        }
    }
}
