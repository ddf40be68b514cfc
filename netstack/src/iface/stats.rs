//! Counters for every layer, in one plain struct per layer.
//!
//! Names follow Linux's `netstat -s` / SNMP MIB fields where one exists
//! (`InReceives`, `InHdrErrors`, `OutRsts`, …) so that people who read
//! Linux counters can read ours. The loop is single-threaded, so these are
//! plain integers: no atomics, no locks; the server reads them directly.

use crate::tcp::TcpCounters;

/// Link-layer (Ethernet) counters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EthernetStats {
    /// Frames handed to the interface.
    pub rx_frames: u64,
    /// Frames the interface emitted.
    pub tx_frames: u64,
    /// Frames shorter than an Ethernet header.
    pub rx_truncated: u64,
    /// Frames addressed to another unicast MAC or to a multicast group.
    pub rx_not_for_us: u64,
    /// Frames of an EtherType we do not speak (IPv6 included).
    pub rx_unknown_ethertype: u64,
}

/// ARP and neighbour-cache counters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArpStats {
    /// ARP requests for our address that we answered.
    pub requests_answered: u64,
    /// ARP requests we sent to resolve a neighbour.
    pub requests_sent: u64,
    /// ARP replies received.
    pub replies_received: u64,
    /// ARP packets dropped: malformed, unsupported, or not for us.
    pub dropped: u64,
    /// Outgoing frames dropped because the pending-resolution queue was full.
    pub pending_dropped: u64,
}

/// IPv4 counters (`netstat -s` "Ip:" section names).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ipv4Stats {
    /// InReceives: IPv4 packets received.
    pub in_receives: u64,
    /// InHdrErrors: bad version, header length or total length.
    pub in_hdr_errors: u64,
    /// InCsumErrors: bad header checksum.
    pub in_csum_errors: u64,
    /// InAddrErrors: destination is not our address.
    pub in_addr_errors: u64,
    /// InUnknownProtos: a protocol we do not handle (UDP included).
    pub in_unknown_protos: u64,
    /// ReasmFails: fragments, which we drop (no reassembly).
    pub reasm_fails: u64,
    /// InDelivers: packets handed to ICMP or TCP.
    pub in_delivers: u64,
    /// OutRequests: packets we sent.
    pub out_requests: u64,
    /// OutNoRoutes: nothing to send to (no gateway for an off-link address).
    pub out_no_routes: u64,
}

/// ICMPv4 counters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IcmpStats {
    /// InMsgs.
    pub in_msgs: u64,
    /// InErrors: malformed or bad checksum.
    pub in_errors: u64,
    /// InEchos.
    pub in_echos: u64,
    /// InDestUnreachs.
    pub in_dest_unreachs: u64,
    /// InTimeExcds.
    pub in_time_excds: u64,
    /// ICMP errors not acted on: not about a connection of ours, or quoting
    /// a sequence number that is not in flight (RFC 5927 §4.1), or an
    /// unbelievable MTU.
    pub ignored_errors: u64,
    /// "Fragmentation needed" messages that lowered a connection's path MTU.
    pub pmtu_updates: u64,
    /// OutMsgs.
    pub out_msgs: u64,
    /// OutEchoReps.
    pub out_echo_reps: u64,
}

/// TCP counters at the interface level (`netstat -s` "Tcp:" names).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TcpStats {
    /// ActiveOpens.
    pub active_opens: u64,
    /// PassiveOpens.
    pub passive_opens: u64,
    /// AttemptFails: connections that went from SYN-RECEIVED/SYN-SENT to CLOSED.
    pub attempt_fails: u64,
    /// EstabResets: connections reset from ESTABLISHED or CLOSE-WAIT.
    pub estab_resets: u64,
    /// CurrEstab: connections now in ESTABLISHED or CLOSE-WAIT.
    pub curr_estab: u64,
    /// InSegs: segments received, including erroneous ones.
    pub in_segs: u64,
    /// OutSegs: segments sent.
    pub out_segs: u64,
    /// InErrs: segments dropped as malformed.
    pub in_errs: u64,
    /// InCsumErrors.
    pub in_csum_errors: u64,
    /// OutRsts: RST segments sent.
    pub out_rsts: u64,
    /// Segments to a port nobody listens on (answered with RST).
    pub no_port: u64,
    /// ListenOverflows: the accept queue was full.
    pub listen_overflows: u64,
    /// ListenDrops: SYNs or handshake ACKs dropped at a listener.
    pub listen_drops: u64,
    /// Sockets now in TIME-WAIT (`TW` in /proc/net/sockstat).
    pub time_wait: u64,
    /// TWRecycled: TIME-WAIT connections reopened by a new SYN (RFC 6191).
    pub tw_recycled: u64,
    /// TCPTimeWaitOverflow: connections that skipped TIME-WAIT because
    /// `max_tw_buckets` was reached.
    pub tw_overflow: u64,
    /// SyncookiesSent: SYN-ACKs carrying a cookie.
    pub syncookies_sent: u64,
    /// SyncookiesRecv: valid cookie ACKs (connections opened by cookie).
    pub syncookies_recv: u64,
    /// SyncookiesFailed: ACKs to a listener whose cookie did not check out.
    pub syncookies_failed: u64,
    /// Per-connection events (RetransSegs, TCPTimeouts, …), summed over
    /// every connection, past and present.
    pub conn: TcpCounters,
}

/// All counters of one interface.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub ethernet: EthernetStats,
    pub arp: ArpStats,
    pub ipv4: Ipv4Stats,
    pub icmp: IcmpStats,
    pub tcp: TcpStats,
}

impl Stats {
    /// Every counter as `(section, name, value)`, with Linux's `netstat -s`
    /// (nstat) names where one exists: sections `Link`, `Arp`, `Ip`,
    /// `Icmp`, `Tcp`, `TcpExt`.
    pub fn named(&self) -> Vec<(&'static str, &'static str, u64)> {
        let e = &self.ethernet;
        let a = &self.arp;
        let ip = &self.ipv4;
        let ic = &self.icmp;
        let t = &self.tcp;
        let c = &t.conn;
        vec![
            ("Link", "RxFrames", e.rx_frames),
            ("Link", "TxFrames", e.tx_frames),
            ("Link", "RxTruncated", e.rx_truncated),
            ("Link", "RxNotForUs", e.rx_not_for_us),
            ("Link", "RxUnknownEthertype", e.rx_unknown_ethertype),
            ("Arp", "RequestsAnswered", a.requests_answered),
            ("Arp", "RequestsSent", a.requests_sent),
            ("Arp", "RepliesReceived", a.replies_received),
            ("Arp", "Dropped", a.dropped),
            ("Arp", "PendingDropped", a.pending_dropped),
            ("Ip", "InReceives", ip.in_receives),
            ("Ip", "InHdrErrors", ip.in_hdr_errors),
            ("Ip", "InCsumErrors", ip.in_csum_errors),
            ("Ip", "InAddrErrors", ip.in_addr_errors),
            ("Ip", "InUnknownProtos", ip.in_unknown_protos),
            ("Ip", "ReasmFails", ip.reasm_fails),
            ("Ip", "InDelivers", ip.in_delivers),
            ("Ip", "OutRequests", ip.out_requests),
            ("Ip", "OutNoRoutes", ip.out_no_routes),
            ("Icmp", "InMsgs", ic.in_msgs),
            ("Icmp", "InErrors", ic.in_errors),
            ("Icmp", "InEchos", ic.in_echos),
            ("Icmp", "InDestUnreachs", ic.in_dest_unreachs),
            ("Icmp", "InTimeExcds", ic.in_time_excds),
            ("Icmp", "IgnoredErrors", ic.ignored_errors),
            ("Icmp", "PmtuUpdates", ic.pmtu_updates),
            ("Icmp", "OutMsgs", ic.out_msgs),
            ("Icmp", "OutEchoReps", ic.out_echo_reps),
            ("Tcp", "ActiveOpens", t.active_opens),
            ("Tcp", "PassiveOpens", t.passive_opens),
            ("Tcp", "AttemptFails", t.attempt_fails),
            ("Tcp", "EstabResets", t.estab_resets),
            ("Tcp", "CurrEstab", t.curr_estab),
            ("Tcp", "InSegs", t.in_segs),
            ("Tcp", "OutSegs", t.out_segs),
            ("Tcp", "RetransSegs", c.retrans_segs),
            ("Tcp", "InErrs", t.in_errs),
            ("Tcp", "InCsumErrors", t.in_csum_errors),
            ("Tcp", "OutRsts", t.out_rsts),
            ("TcpExt", "NoPort", t.no_port),
            ("TcpExt", "ListenOverflows", t.listen_overflows),
            ("TcpExt", "ListenDrops", t.listen_drops),
            ("TcpExt", "SyncookiesSent", t.syncookies_sent),
            ("TcpExt", "SyncookiesRecv", t.syncookies_recv),
            ("TcpExt", "SyncookiesFailed", t.syncookies_failed),
            ("TcpExt", "TW", t.time_wait),
            ("TcpExt", "TWRecycled", t.tw_recycled),
            ("TcpExt", "TCPTimeWaitOverflow", t.tw_overflow),
            ("TcpExt", "TCPTimeouts", c.timeouts),
            ("TcpExt", "TCPFastRetrans", c.fast_retrans),
            ("TcpExt", "TCPSACKRecovery", c.sack_recovery),
            ("TcpExt", "TCPRenoRecovery", c.reno_recovery),
            ("TcpExt", "TCPLostRetransmit", c.lost_retransmits),
            ("TcpExt", "TCPLossProbes", c.tlp_probes),
            ("TcpExt", "TCPDSACKRecv", c.dsack_recv),
            ("TcpExt", "TCPDSACKOldSent", c.dsack_sent),
            ("TcpExt", "TCPSpuriousUndo", c.spurious_undo),
            ("TcpExt", "TCPChallengeACK", c.challenge_acks),
            ("TcpExt", "TCPChallengeACKLimited", c.challenge_acks_limited),
            ("TcpExt", "PAWSEstab", c.paws_estab),
            ("TcpExt", "TCPAbortOnTimeout", c.abort_on_timeout),
            ("TcpExt", "TCPAbortOnData", c.abort_on_data),
            ("TcpExt", "TCPKeepAlive", c.keepalive_probes),
            ("TcpExt", "TCPWinProbe", c.window_probes),
            ("TcpExt", "TCPAckUnsent", c.ack_unsent),
            ("TcpExt", "DelayedACKs", c.delayed_acks),
        ]
    }
}

impl core::fmt::Display for Stats {
    /// `netstat -s`-like text: one line per section, `Section: Name value …`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut section = "";
        for (sec, name, value) in self.named() {
            if sec != section {
                if !section.is_empty() {
                    writeln!(f)?;
                }
                write!(f, "{sec}:")?;
                section = sec;
            }
            write!(f, " {name} {value}")?;
        }
        writeln!(f)
    }
}
