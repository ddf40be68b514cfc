//! The interface: one Ethernet link, one IPv4 address, and the TCP
//! connections on it.
//!
//! Job: take frames from the device, answer ARP and ICMP echo, demultiplex
//! TCP segments to connections by 4-tuple in O(1), create connections for
//! SYNs to listening ports, answer everything else with RST, and emit the
//! frames the connections and the interface owe the wire.
//!
//! Contract (sans-IO; call order for the driver):
//! 1. [`Interface::handle_frame`] for every frame read from the device.
//! 2. [`Interface::poll_event`] until `None`, letting the application
//!    [`accept`](Interface::accept), [`recv_with`](Interface::recv_with),
//!    [`send_with`](Interface::send_with), [`close`](Interface::close).
//! 3. [`Interface::dispatch`] with `now`, writing every frame it hands out.
//! 4. Sleep until [`Interface::poll_at`] or until the device is readable.
//!
//! No allocation per packet once warm: frames are parsed in place, outgoing
//! frames are built in one reused buffer, and the few frames that must wait
//! (replies produced while handling input, frames waiting for ARP) live in
//! pooled buffers.

mod neighbor;
mod socket_set;
mod stats;
mod time_wait_table;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use tracing::{debug, trace};

pub use neighbor::{Lookup, NeighborCache};
pub use socket_set::{Owner, SocketHandle, SocketSet};
pub use stats::{ArpStats, EthernetStats, IcmpStats, Ipv4Stats, Stats, TcpStats};

use crate::tcp::syncookie::{self, CookieError};
use crate::tcp::{
    FourTuple, RecvError, SendError, SocketAddr, State, TcpConfig, TcpInfo, TcpSocket,
    TimeWaitAction,
};
use crate::time::{Duration, Instant};
use crate::wire::{
    self, unreachable, ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr, Icmpv4Invoking, Icmpv4Packet, Icmpv4Repr, IpProtocol,
    Ipv4Address, Ipv4Cidr, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};
use time_wait_table::TimeWaitTable;

use crate::wire::{ETHERNET_HEADER_LEN as ETH_HEADER_LEN, IPV4_HEADER_LEN};
/// TTL of packets we originate (Linux's `ip_default_ttl`).
const DEFAULT_TTL: u8 = 64;
/// Frames that may wait at once: replies produced while handling input plus
/// frames waiting for ARP resolution (Linux's `unres_qlen` is 101 per
/// neighbour; we keep one small pool for the interface).
const MAX_QUEUED_FRAMES: usize = 256;

/// How an interface is set up.
#[derive(Debug, Clone)]
pub struct InterfaceConfig {
    /// Our MAC address.
    pub hw_addr: EthernetAddress,
    /// Our address and the on-link prefix.
    pub ip_cidr: Ipv4Cidr,
    /// Where to send packets for off-link addresses.
    pub gateway: Option<Ipv4Address>,
    /// IP MTU of the link (Ethernet payload size).
    pub mtu: usize,
    /// Settings for every new TCP connection.
    pub tcp: TcpConfig,
    /// Per-boot secret for initial sequence numbers (RFC 6528).
    pub isn_secret: [u8; 16],
    /// How long a neighbour entry stays valid.
    pub neighbor_ttl: Duration,
    /// Most neighbour entries kept.
    pub neighbor_capacity: usize,
    /// Most connections kept in TIME-WAIT once their application let go
    /// (Linux `tcp_max_tw_buckets`); beyond it a closing connection skips
    /// TIME-WAIT and is counted in `tw_overflow`.
    pub max_tw_buckets: usize,
}

impl InterfaceConfig {
    /// A configuration with Linux-like defaults for everything but the addresses.
    pub fn new(hw_addr: EthernetAddress, ip_cidr: Ipv4Cidr) -> InterfaceConfig {
        InterfaceConfig {
            hw_addr,
            ip_cidr,
            gateway: None,
            mtu: 1500,
            tcp: TcpConfig::default(),
            isn_secret: [0; 16],
            neighbor_ttl: Duration::from_secs(60),
            neighbor_capacity: 1024,
            max_tw_buckets: 262_144,
        }
    }
}

/// Something the application should act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A listener on this port has a connection to accept.
    Acceptable(u16),
    /// A connection changed in a way the application can act on: data to
    /// read, room to write, end of stream, reset, or time-out.
    Socket(SocketHandle),
}

/// Why `listen` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenError {
    /// Someone already listens on this port.
    AddrInUse,
}

impl core::fmt::Display for ListenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ListenError::AddrInUse => {
                f.write_str("address in use: a listener already has this port")
            }
        }
    }
}

impl std::error::Error for ListenError {}

/// Why `connect` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// No free local port for this remote address.
    NoLocalPort,
}

/// When a listener answers a SYN with a cookie instead of a SYN-queue
/// entry (Linux `tcp_syncookies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SynCookies {
    /// Only when the SYN queue is full (Linux `tcp_syncookies = 1`).
    #[default]
    Auto,
    /// For every SYN (`tcp_syncookies = 2`).
    Always,
    /// Never: a SYN meeting a full SYN queue is dropped (`= 0`).
    Off,
}

/// How a listener queues connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenConfig {
    /// Established connections waiting for `accept` (the listen(2)
    /// backlog).
    pub backlog: usize,
    /// Half-open connections (SYN-RECEIVED) kept (Linux
    /// `tcp_max_syn_backlog`).
    pub syn_backlog: usize,
    /// SYN cookies when the SYN queue is full.
    pub syncookies: SynCookies,
    /// When the accept queue is full, answer the handshake's final ACK with
    /// RST (`true`) instead of dropping it so that the SYN-ACK is
    /// retransmitted and the client retries (`false`, Linux's default
    /// `tcp_abort_on_overflow = 0`).
    pub abort_on_overflow: bool,
}

impl ListenConfig {
    /// Linux-like defaults for the two queue lengths given.
    pub fn new(backlog: usize, syn_backlog: usize) -> ListenConfig {
        ListenConfig {
            backlog,
            syn_backlog,
            syncookies: SynCookies::Auto,
            abort_on_overflow: false,
        }
    }
}

/// A cookie ACK is only looked for this long after the last cookie was
/// sent (Linux `tcp_synq_no_recent_overflow`: two cookie-clock counts).
const COOKIE_WINDOW: Duration = Duration::from_secs(128);

#[derive(Debug)]
struct Listener {
    config: ListenConfig,
    /// When this listener last answered a SYN with a cookie.
    last_cookie_at: Option<Instant>,
    /// Connections in SYN-RECEIVED that came from this listener.
    half_open: usize,
    /// Established connections the application has not accepted yet.
    accept_queue: VecDeque<SocketHandle>,
}

/// A complete frame waiting to go out, in a pooled buffer.
#[derive(Debug)]
struct QueuedFrame {
    /// `Some(ip)`: the destination MAC is not known yet; resolve `ip` first.
    next_hop: Option<Ipv4Address>,
    frame: Vec<u8>,
}

/// One Ethernet interface with its IPv4 address and TCP connections.
#[derive(Debug)]
pub struct Interface {
    config: InterfaceConfig,
    neighbors: NeighborCache,
    sockets: SocketSet,
    listeners: HashMap<u16, Listener>,
    events: VecDeque<Event>,
    queued: VecDeque<QueuedFrame>,
    pool: Vec<Vec<u8>>,
    tx_buf: Vec<u8>,
    next_ephemeral: u16,
    time_wait: TimeWaitTable,
    stats: Stats,
    /// ACK-processing events for `[trace] connections`, while on.
    trace: Option<Vec<AckTrace>>,
}

/// A listener's queues against their limits (for `ss` listener rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerInfo {
    /// The port.
    pub port: u16,
    /// Connections in SYN-RECEIVED (the SYN queue) and its limit.
    pub syn_queue: usize,
    pub syn_backlog: usize,
    /// Established connections waiting for `accept` and the limit.
    pub accept_queue: usize,
    pub backlog: usize,
}

/// A connection in TIME-WAIT held as a bucket (released by the
/// application), for status tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWaitInfo {
    /// The connection's addresses.
    pub tuple: FourTuple,
    /// When TIME-WAIT ends.
    pub expires_at: Instant,
}

/// One ACK processed by a connection, with the connection's state after it
/// (see [`Interface::set_trace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckTrace {
    /// When the segment was processed.
    pub at: Instant,
    /// The connection.
    pub handle: SocketHandle,
    /// Its state afterwards.
    pub info: TcpInfo,
}

impl Interface {
    /// A new interface with no connections and an empty neighbour cache.
    pub fn new(config: InterfaceConfig) -> Interface {
        let frame_len = config.mtu + ETH_HEADER_LEN;
        Interface {
            neighbors: NeighborCache::new(config.neighbor_capacity, config.neighbor_ttl),
            sockets: SocketSet::default(),
            listeners: HashMap::new(),
            events: VecDeque::new(),
            queued: VecDeque::new(),
            pool: Vec::new(),
            tx_buf: vec![0; frame_len],
            next_ephemeral: 32768,
            time_wait: TimeWaitTable::new(config.max_tw_buckets),
            stats: Stats::default(),
            trace: None,
            config,
        }
    }

    /// The interface's settings.
    pub fn config(&self) -> &InterfaceConfig {
        &self.config
    }

    /// Change the settings applied to TCP connections created from now on.
    pub fn set_tcp_config(&mut self, tcp: TcpConfig) {
        self.config.tcp = tcp;
    }

    /// All counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The connections.
    pub fn sockets(&self) -> &SocketSet {
        &self.sockets
    }

    /// The socket behind a handle, for queries.
    pub fn socket(&self, handle: SocketHandle) -> Option<&TcpSocket> {
        self.sockets.socket(handle)
    }

    // ----- application side -------------------------------------------------

    /// Listen for connections on `port` with an accept queue of `backlog`
    /// and a SYN (half-open) queue of `syn_backlog`.
    pub fn listen(
        &mut self,
        port: u16,
        backlog: usize,
        syn_backlog: usize,
    ) -> Result<(), ListenError> {
        self.listen_with(port, ListenConfig::new(backlog, syn_backlog))
    }

    /// Listen for connections on `port`, queueing them as `config` says.
    pub fn listen_with(&mut self, port: u16, config: ListenConfig) -> Result<(), ListenError> {
        if self.listeners.contains_key(&port) {
            return Err(ListenError::AddrInUse);
        }
        self.listeners.insert(
            port,
            Listener {
                config,
                last_cookie_at: None,
                half_open: 0,
                accept_queue: VecDeque::new(),
            },
        );
        Ok(())
    }

    /// Connections waiting in the accept queue of the listener on `port`.
    pub fn accept_queue_len(&self, port: u16) -> usize {
        self.listeners
            .get(&port)
            .map_or(0, |l| l.accept_queue.len())
    }

    /// Connections in TIME-WAIT held as small buckets (released by the
    /// application; those it still holds are full sockets).
    pub fn time_wait_buckets(&self) -> usize {
        self.time_wait.len()
    }

    /// Every listener's queue depths and limits, by port.
    pub fn listeners(&self) -> Vec<ListenerInfo> {
        let mut out: Vec<ListenerInfo> = self
            .listeners
            .iter()
            .map(|(&port, l)| ListenerInfo {
                port,
                syn_queue: l.half_open,
                syn_backlog: l.config.syn_backlog,
                accept_queue: l.accept_queue.len(),
                backlog: l.config.backlog,
            })
            .collect();
        out.sort_by_key(|l| l.port);
        out
    }

    /// Stop listening on `port`: new SYNs are answered with RST, half-open
    /// connections of the listener are reset, and connections still in its
    /// accept queue are reset too (accept them first to keep them).
    /// Returns whether a listener was there.
    pub fn unlisten(&mut self, now: Instant, port: u16) -> bool {
        if self.listeners.remove(&port).is_none() {
            return false;
        }
        let orphans: Vec<SocketHandle> = self
            .sockets
            .iter_slots()
            .filter(|(_, slot)| slot.owner == Owner::Listener(port))
            .map(|(handle, _)| handle)
            .collect();
        for handle in orphans {
            if let Some(slot) = self.sockets.get_mut(handle) {
                slot.owner = Owner::Orphan;
                slot.socket.abort();
            }
            self.sockets.mark_due(handle);
            self.after_socket_activity(now, handle);
        }
        true
    }

    /// TIME-WAIT buckets whose table key is at least `from`, in key order,
    /// as `(key, info)`: a cursor like [`SocketSet::infos_from`].
    pub fn time_wait_from(&self, from: usize) -> impl Iterator<Item = (usize, TimeWaitInfo)> + '_ {
        self.time_wait.iter_from(from).map(|(key, b)| {
            (
                key,
                TimeWaitInfo {
                    tuple: b.tuple,
                    expires_at: b.expires_at,
                },
            )
        })
    }

    /// Record every ACK a connection processes ([`AckTrace`]) until turned
    /// off; the owner drains them with [`Interface::take_trace`]. Off by
    /// default; when on, one push per ACK.
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on.then(Vec::new);
    }

    /// Move the recorded ACK events into `out` (in order).
    pub fn take_trace(&mut self, out: &mut Vec<AckTrace>) {
        if let Some(trace) = &mut self.trace {
            out.append(trace);
        }
    }

    /// Take the next established connection from the listener on `port`.
    pub fn accept(&mut self, port: u16) -> Option<SocketHandle> {
        let listener = self.listeners.get_mut(&port)?;
        while let Some(handle) = listener.accept_queue.pop_front() {
            if let Some(slot) = self.sockets.get_mut(handle) {
                slot.owner = Owner::App;
                return Some(handle);
            }
        }
        None
    }

    /// Open a connection to `remote` (active open) from an ephemeral port.
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
    ) -> Result<SocketHandle, ConnectError> {
        let local_addr = self.config.ip_cidr.address();
        for _ in 0..(u16::MAX - 32768) {
            let port = self.next_ephemeral;
            self.next_ephemeral = if port == u16::MAX { 32768 } else { port + 1 };
            let tuple = FourTuple {
                local: SocketAddr {
                    addr: local_addr,
                    port,
                },
                remote,
            };
            if self.sockets.find(&tuple).is_some()
                || self.time_wait.find(&tuple).is_some()
                || self.listeners.contains_key(&port)
            {
                continue;
            }
            let iss = self.isn(&tuple, now);
            let socket = TcpSocket::connect(&self.config.tcp, tuple, iss, now);
            let Some(handle) = self.sockets.insert(socket, Owner::App) else {
                continue;
            };
            self.stats.tcp.active_opens += 1;
            self.sockets.mark_due(handle);
            return Ok(handle);
        }
        Err(ConnectError::NoLocalPort)
    }

    /// Read from a connection: `f` gets the contiguous received bytes and
    /// returns how many it consumed.
    pub fn recv_with<R>(
        &mut self,
        handle: SocketHandle,
        f: impl FnOnce(&[u8]) -> (usize, R),
    ) -> Result<R, RecvError> {
        let slot = self
            .sockets
            .get_mut(handle)
            .ok_or(RecvError::InvalidState)?;
        let result = slot.socket.recv_with(f);
        // Reading may open the window: let dispatch decide on a window update.
        self.sockets.mark_due(handle);
        result
    }

    /// Write to a connection: `f` gets the contiguous free space of the
    /// send buffer and returns how many bytes it wrote there.
    pub fn send_with<R>(
        &mut self,
        handle: SocketHandle,
        f: impl FnOnce(&mut [u8]) -> (usize, R),
    ) -> Result<R, SendError> {
        let slot = self
            .sockets
            .get_mut(handle)
            .ok_or(SendError::InvalidState)?;
        let result = slot.socket.send_with(f);
        self.sockets.mark_due(handle);
        result
    }

    /// Write `data` to a connection; returns how much fitted.
    pub fn send_slice(&mut self, handle: SocketHandle, data: &[u8]) -> Result<usize, SendError> {
        let slot = self
            .sockets
            .get_mut(handle)
            .ok_or(SendError::InvalidState)?;
        let result = slot.socket.send_slice(data);
        self.sockets.mark_due(handle);
        result
    }

    /// Read into `buf`; returns how much was read.
    pub fn recv_slice(&mut self, handle: SocketHandle, buf: &mut [u8]) -> Result<usize, RecvError> {
        let slot = self
            .sockets
            .get_mut(handle)
            .ok_or(RecvError::InvalidState)?;
        let result = slot.socket.recv_slice(buf);
        self.sockets.mark_due(handle);
        result
    }

    /// Close our side of a connection: FIN after the queued data.
    pub fn close(&mut self, handle: SocketHandle) {
        if let Some(slot) = self.sockets.get_mut(handle) {
            slot.socket.close();
            self.sockets.mark_due(handle);
        }
    }

    /// Abort a connection: RST now.
    pub fn abort(&mut self, handle: SocketHandle) {
        if let Some(slot) = self.sockets.get_mut(handle) {
            slot.socket.abort();
            self.sockets.mark_due(handle);
        }
    }

    /// The application lets go of a connection. The stack finishes its
    /// teardown (FIN retransmission, TIME-WAIT) and frees it when CLOSED.
    /// The handle is invalid afterwards.
    pub fn release(&mut self, handle: SocketHandle) {
        if let Some(slot) = self.sockets.get_mut(handle) {
            slot.owner = Owner::Orphan;
            slot.socket.release();
            self.sockets.mark_due(handle);
        }
    }

    /// Like [`release`](Self::release), as a lingering close: input from now
    /// on is acknowledged and discarded rather than answered with RST (see
    /// `TcpSocket::release_discarding`).
    pub fn release_discarding(&mut self, handle: SocketHandle) {
        if let Some(slot) = self.sockets.get_mut(handle) {
            slot.owner = Owner::Orphan;
            slot.socket.release_discarding();
            self.sockets.mark_due(handle);
        }
    }

    /// Set Nagle off (`true`) or on for one connection.
    pub fn set_nodelay(&mut self, handle: SocketHandle, nodelay: bool) {
        if let Some(slot) = self.sockets.get_mut(handle) {
            slot.socket.set_nodelay(nodelay);
        }
    }

    /// The next thing the application should act on.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if let Event::Socket(handle) = event {
            if let Some(slot) = self.sockets.get_mut(handle) {
                slot.event_queued = false;
            }
        }
        Some(event)
    }

    // ----- device side --------------------------------------------------------

    /// When [`dispatch`](Self::dispatch) must be called next: `None` if
    /// nothing is pending; a time at or before `now` means immediately.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.sockets.has_due() || self.queued.iter().any(|q| q.next_hop.is_none()) {
            return Some(Instant::ZERO);
        }
        match (self.sockets.next_timer(), self.time_wait.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handle one frame received from the device at `now`.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        self.stats.ethernet.rx_frames += 1;
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.stats.ethernet.rx_truncated += 1;
            debug!(
                len = frame.len(),
                "drop: frame shorter than an Ethernet header"
            );
            return;
        };
        let Ok(eth_repr) = EthernetRepr::parse(&eth) else {
            self.stats.ethernet.rx_truncated += 1;
            return;
        };
        if eth_repr.dst_addr != self.config.hw_addr && !eth_repr.dst_addr.is_broadcast() {
            self.stats.ethernet.rx_not_for_us += 1;
            trace!(dst = %eth_repr.dst_addr, "drop: frame not for us");
            return;
        }
        match eth_repr.ethertype {
            EthernetProtocol::Arp => self.handle_arp(now, eth.payload()),
            EthernetProtocol::Ipv4 => self.handle_ipv4(now, eth_repr.src_addr, eth.payload()),
            other => {
                self.stats.ethernet.rx_unknown_ethertype += 1;
                trace!(ethertype = ?other, "drop: ethertype not handled");
            }
        }
    }

    /// Emit every frame due at `now` through `emit`, and run the timers that
    /// expired. Call after handling input and after the application acted.
    pub fn dispatch(&mut self, now: Instant, mut emit: impl FnMut(&[u8])) {
        self.sockets.expire_timers(now);
        let expired = self.time_wait.expire(now);
        self.stats.tcp.time_wait -= expired as u64;
        self.flush_queued(now, &mut emit);
        while let Some(handle) = self.sockets.pop_due() {
            self.dispatch_socket(now, handle, &mut emit);
            self.after_socket_activity(now, handle);
        }
    }

    // ----- internals ----------------------------------------------------------

    fn handle_arp(&mut self, now: Instant, payload: &[u8]) {
        let repr = match ArpPacket::new_checked(payload).and_then(|p| ArpRepr::parse(&p)) {
            Ok(repr) => repr,
            Err(err) => {
                self.stats.arp.dropped += 1;
                debug!(%err, "drop: ARP packet");
                return;
            }
        };
        let ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        } = repr;
        let our_ip = self.config.ip_cidr.address();
        let for_us = target_protocol_addr == our_ip;
        if !source_hardware_addr.is_unicast()
            || !self.config.ip_cidr.contains_addr(&source_protocol_addr)
        {
            self.stats.arp.dropped += 1;
            debug!(src = %source_protocol_addr, "drop: ARP from an unusable source");
            return;
        }
        // RFC 826 "Packet Reception": merge the sender if known; add it if the packet is for us.
        let merged = self
            .neighbors
            .refresh(source_protocol_addr, source_hardware_addr, now);
        if for_us && !merged {
            self.neighbors
                .fill(source_protocol_addr, source_hardware_addr, now);
        }
        if merged || for_us {
            // Frames that waited for this neighbour can go now.
            for q in self
                .queued
                .iter_mut()
                .filter(|q| q.next_hop == Some(source_protocol_addr))
            {
                q.frame[0..6].copy_from_slice(&source_hardware_addr.0);
                q.next_hop = None;
            }
        }
        if (merged || for_us) && operation == ArpOperation::Reply {
            self.stats.arp.replies_received += 1;
        }
        if for_us && operation == ArpOperation::Request {
            let reply = ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: self.config.hw_addr,
                source_protocol_addr: our_ip,
                target_hardware_addr: source_hardware_addr,
                target_protocol_addr: source_protocol_addr,
            };
            self.stats.arp.requests_answered += 1;
            self.queue_arp(source_hardware_addr, &reply);
        } else if !for_us && !merged {
            self.stats.arp.dropped += 1;
        }
    }

    fn handle_ipv4(&mut self, now: Instant, eth_src: EthernetAddress, payload: &[u8]) {
        self.stats.ipv4.in_receives += 1;
        let packet = match Ipv4Packet::new_checked(payload) {
            Ok(p) => p,
            Err(err) => {
                self.stats.ipv4.in_hdr_errors += 1;
                debug!(%err, "drop: IPv4 header");
                return;
            }
        };
        let ip_repr = match Ipv4Repr::parse(&packet, true) {
            Ok(r) => r,
            Err(wire::Error::Checksum) => {
                self.stats.ipv4.in_csum_errors += 1;
                debug!("drop: IPv4 header checksum");
                return;
            }
            Err(wire::Error::Unsupported) => {
                self.stats.ipv4.reasm_fails += 1;
                debug!("drop: IPv4 fragment (no reassembly)");
                return;
            }
            Err(err) => {
                self.stats.ipv4.in_hdr_errors += 1;
                debug!(%err, "drop: IPv4 header");
                return;
            }
        };
        let our_ip = self.config.ip_cidr.address();
        let broadcast =
            ip_repr.dst_addr.is_broadcast() || ip_repr.dst_addr == self.config.ip_cidr.broadcast();
        if ip_repr.dst_addr != our_ip && !broadcast {
            self.stats.ipv4.in_addr_errors += 1;
            trace!(dst = %ip_repr.dst_addr, "drop: IPv4 not for us");
            return;
        }
        let ip_payload = packet.payload();
        match ip_repr.next_header {
            IpProtocol::Icmp => {
                self.stats.ipv4.in_delivers += 1;
                self.handle_icmp(now, eth_src, &ip_repr, ip_payload, broadcast);
            }
            IpProtocol::Tcp if !broadcast => {
                self.stats.ipv4.in_delivers += 1;
                self.handle_tcp(now, eth_src, &ip_repr, ip_payload);
            }
            other => {
                self.stats.ipv4.in_unknown_protos += 1;
                trace!(protocol = ?other, "drop: IP protocol not handled");
            }
        }
    }

    fn handle_icmp(
        &mut self,
        now: Instant,
        eth_src: EthernetAddress,
        ip_repr: &Ipv4Repr,
        payload: &[u8],
        broadcast: bool,
    ) {
        self.stats.icmp.in_msgs += 1;
        let repr =
            match Icmpv4Packet::new_checked(payload).and_then(|p| Icmpv4Repr::parse(&p, true)) {
                Ok(r) => r,
                Err(err) => {
                    self.stats.icmp.in_errors += 1;
                    debug!(%err, "drop: ICMP message");
                    return;
                }
            };
        match repr {
            // RFC 1122 §3.2.2.6: echo requests to a broadcast address may be ignored; we do.
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } if !broadcast => {
                self.stats.icmp.in_echos += 1;
                let reply = Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let reply_ip = Ipv4Repr {
                    src_addr: self.config.ip_cidr.address(),
                    dst_addr: ip_repr.src_addr,
                    next_header: IpProtocol::Icmp,
                    payload_len: reply.buffer_len(),
                    hop_limit: DEFAULT_TTL,
                };
                if IPV4_HEADER_LEN + reply.buffer_len() > self.config.mtu {
                    self.stats.icmp.in_errors += 1;
                    return;
                }
                let Some(mut frame) = self.take_buffer() else {
                    return;
                };
                let len = ETH_HEADER_LEN + IPV4_HEADER_LEN + reply.buffer_len();
                frame.resize(len, 0);
                let ip = write_eth_ipv4(&mut frame, self.config.hw_addr, eth_src, &reply_ip);
                reply.emit(&mut Icmpv4Packet::new_unchecked(&mut ip[IPV4_HEADER_LEN..]));
                self.stats.icmp.out_msgs += 1;
                self.stats.icmp.out_echo_reps += 1;
                self.stats.ipv4.out_requests += 1;
                self.queued.push_back(QueuedFrame {
                    next_hop: None,
                    frame,
                });
            }
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                invoking,
            } => {
                self.stats.icmp.in_dest_unreachs += 1;
                let frag_needed = (code == unreachable::FRAG_NEEDED).then_some(next_hop_mtu);
                self.handle_icmp_error(now, invoking, frag_needed);
            }
            Icmpv4Repr::TimeExceeded { invoking, .. } => {
                self.stats.icmp.in_time_excds += 1;
                self.handle_icmp_error(now, invoking, None);
            }
            _ => {}
        }
    }

    /// An ICMP error about one of our TCP segments. RFC 5927 §4.1: act only
    /// if the quoted sequence number is in flight (a blind attacker cannot
    /// know it). "Fragmentation needed" lowers the path MTU (RFC 1191 §6.2);
    /// anything else is a soft error, which never aborts a connection
    /// (RFC 9293 MUST-56, RFC 1122 §4.2.3.9).
    fn handle_icmp_error(&mut self, now: Instant, invoking: &[u8], frag_needed: Option<u16>) {
        let Ok(quoted) = Icmpv4Invoking::parse(invoking) else {
            self.stats.icmp.in_errors += 1;
            return;
        };
        if quoted.src_addr != self.config.ip_cidr.address()
            || quoted.next_header != IpProtocol::Tcp
            || quoted.payload.len() < 8
        {
            self.stats.icmp.ignored_errors += 1;
            return;
        }
        let port = |at: usize| u16::from_be_bytes([quoted.payload[at], quoted.payload[at + 1]]);
        let seq = TcpSeqNumber::from_u32(u32::from_be_bytes([
            quoted.payload[4],
            quoted.payload[5],
            quoted.payload[6],
            quoted.payload[7],
        ]));
        let tuple = FourTuple {
            local: SocketAddr::new(quoted.src_addr, port(0)),
            remote: SocketAddr::new(quoted.dst_addr, port(2)),
        };
        let Some(handle) = self.sockets.find(&tuple) else {
            self.stats.icmp.ignored_errors += 1;
            return;
        };
        let Some(slot) = self.sockets.get_mut(handle) else {
            return;
        };
        if !slot.socket.seq_in_flight(seq) {
            self.stats.icmp.ignored_errors += 1;
            debug!(%handle, seq = seq.to_u32(), "ICMP error quoting a sequence number not in flight; ignored");
            return;
        }
        match frag_needed {
            // RFC 791: every host takes 68 bytes; a smaller (or zero,
            // pre-RFC 1191 router) MTU is not believed.
            Some(mtu) if mtu >= 68 => {
                self.stats.icmp.pmtu_updates += 1;
                debug!(%handle, mtu, "fragmentation needed: lowering the path MTU");
                slot.socket.handle_path_mtu(now, usize::from(mtu));
            }
            Some(_) => self.stats.icmp.ignored_errors += 1,
            None => slot.socket.handle_icmp_soft_error(),
        }
        self.sockets.mark_due(handle);
        self.after_socket_activity(now, handle);
    }

    fn handle_tcp(
        &mut self,
        now: Instant,
        eth_src: EthernetAddress,
        ip_repr: &Ipv4Repr,
        payload: &[u8],
    ) {
        self.stats.tcp.in_segs += 1;
        let repr = match TcpPacket::new_checked(payload)
            .and_then(|p| TcpRepr::parse(&p, &ip_repr.src_addr, &ip_repr.dst_addr, true))
        {
            Ok(r) => r,
            Err(err) => {
                if err == wire::Error::Checksum {
                    self.stats.tcp.in_csum_errors += 1;
                }
                self.stats.tcp.in_errs += 1;
                debug!(%err, src = %ip_repr.src_addr, "drop: TCP segment");
                return;
            }
        };
        trace!(src = %ip_repr.src_addr, seg = %repr, "tcp rx");
        let tuple = FourTuple {
            local: SocketAddr {
                addr: ip_repr.dst_addr,
                port: repr.dst_port,
            },
            remote: SocketAddr {
                addr: ip_repr.src_addr,
                port: repr.src_port,
            },
        };
        if let Some(handle) = self.sockets.find(&tuple) {
            let Some(slot) = self.sockets.get_mut(handle) else {
                return;
            };
            let reopen = repr.control == TcpControl::Syn
                && repr.ack_number.is_none()
                && self.listeners.contains_key(&repr.dst_port)
                && slot.socket.time_wait_accepts_syn(&repr);
            if reopen {
                // RFC 6191: the new SYN ends TIME-WAIT; the listener takes it.
                if slot.counted_time_wait {
                    self.stats.tcp.time_wait -= 1;
                }
                self.stats.tcp.tw_recycled += 1;
                debug!(%handle, remote = %tuple.remote, "TIME-WAIT reopened by a new SYN");
                self.sockets.remove(handle);
                return self.handle_listen_syn(now, eth_src, &tuple, &repr);
            }
            if let Owner::Listener(port) = slot.owner {
                if slot.socket.state() == State::SynReceived
                    && repr.ack_number.is_some()
                    && !matches!(repr.control, TcpControl::Syn | TcpControl::Rst)
                    && self.handshake_overflows(port)
                {
                    return self.handle_accept_overflow(now, handle, port);
                }
            }
            let Some(slot) = self.sockets.get_mut(handle) else {
                return;
            };
            if let Some(reply) = slot.socket.process(now, &repr) {
                self.queue_tcp(eth_src, &tuple, &reply);
            }
            self.after_socket_activity(now, handle);
            if let (Some(trace), Some(_)) = (&mut self.trace, repr.ack_number) {
                if let Some(info) = self.sockets.info(handle) {
                    trace.push(AckTrace {
                        at: now,
                        handle,
                        info,
                    });
                }
            }
            return;
        }
        if let Some(key) = self.time_wait.find(&tuple) {
            return self.handle_time_wait(now, eth_src, &tuple, key, &repr);
        }
        self.handle_listen_syn(now, eth_src, &tuple, &repr);
    }

    /// A segment for no connection: a SYN to a listener opens one (RFC 9293
    /// §3.10.7.2), statefully or with a SYN cookie; an ACK to a listener may
    /// complete a cookie handshake; anything else is answered with RST
    /// (§3.10.7.1).
    fn handle_listen_syn(
        &mut self,
        now: Instant,
        eth_src: EthernetAddress,
        tuple: &FourTuple,
        repr: &TcpRepr<'_>,
    ) {
        let tuple = *tuple;
        let port = repr.dst_port;
        let Some(listener) = self.listeners.get_mut(&port) else {
            return self.reset_stray(eth_src, &tuple, repr);
        };
        let config = listener.config;
        match (repr.control, repr.ack_number) {
            (TcpControl::Syn, None) => {}
            (TcpControl::Rst, _) => return,
            (_, Some(_)) => {
                let cookies_recent = config.syncookies == SynCookies::Always
                    || listener
                        .last_cookie_at
                        .is_some_and(|at| now - at < COOKIE_WINDOW);
                if cookies_recent {
                    return self.handle_cookie_ack(now, eth_src, &tuple, repr);
                }
                return self.reset_stray(eth_src, &tuple, repr);
            }
            // A segment without ACK and without SYN: RFC 9293 §3.10.7.2
            // drops it.
            (_, None) => return,
        }
        if listener.accept_queue.len() >= config.backlog {
            // Linux (tcp_conn_request): a SYN meeting a full accept queue is
            // dropped, cookies or not; the client retries.
            self.stats.tcp.listen_overflows += 1;
            self.stats.tcp.listen_drops += 1;
            debug!(remote = %tuple.remote, "drop: SYN, accept queue full");
            return;
        }
        let syn_queue_full = listener.half_open >= config.syn_backlog;
        let want_cookie = match config.syncookies {
            SynCookies::Always => true,
            SynCookies::Auto => syn_queue_full,
            SynCookies::Off => false,
        };
        if want_cookie {
            listener.last_cookie_at = Some(now);
            let synack = syncookie::syn_cookie_synack(
                &self.config.tcp,
                &self.config.isn_secret,
                tuple,
                repr,
                now,
            );
            self.stats.tcp.syncookies_sent += 1;
            trace!(remote = %tuple.remote, "SYN queue full: SYN cookie");
            self.queue_tcp(eth_src, &tuple, &synack);
            return;
        }
        if syn_queue_full {
            self.stats.tcp.listen_drops += 1;
            debug!(remote = %tuple.remote, "drop: SYN, SYN queue full");
            return;
        }
        listener.half_open += 1;
        let iss = self.isn(&tuple, now);
        let socket = TcpSocket::accept_syn(&self.config.tcp, tuple, repr, iss, now);
        match self.sockets.insert(socket, Owner::Listener(port)) {
            Some(handle) => {
                self.stats.tcp.passive_opens += 1;
                debug!(%handle, remote = %tuple.remote, "passive open");
                self.after_socket_activity(now, handle);
            }
            None => {
                if let Some(l) = self.listeners.get_mut(&port) {
                    l.half_open -= 1;
                }
            }
        }
    }

    /// An ACK to a listener that answered SYNs with cookies lately: a valid
    /// cookie opens the connection straight into ESTABLISHED (and the
    /// accept queue); an invalid one is counted and reset like any stray
    /// ACK.
    fn handle_cookie_ack(
        &mut self,
        now: Instant,
        eth_src: EthernetAddress,
        tuple: &FourTuple,
        repr: &TcpRepr<'_>,
    ) {
        let port = repr.dst_port;
        let socket = match syncookie::accept_cookie_ack(
            &self.config.tcp,
            &self.config.isn_secret,
            *tuple,
            repr,
            now,
        ) {
            Ok(socket) => socket,
            Err(CookieError::Invalid) => {
                self.stats.tcp.syncookies_failed += 1;
                debug!(remote = %tuple.remote, "invalid SYN cookie");
                return self.reset_stray(eth_src, tuple, repr);
            }
            Err(CookieError::NotAnAck) => return self.reset_stray(eth_src, tuple, repr),
        };
        let Some(listener) = self.listeners.get_mut(&port) else {
            return;
        };
        if listener.accept_queue.len() >= listener.config.backlog {
            self.stats.tcp.listen_overflows += 1;
            self.stats.tcp.listen_drops += 1;
            debug!(remote = %tuple.remote, "drop: cookie ACK, accept queue full");
            if listener.config.abort_on_overflow {
                self.reset_stray(eth_src, tuple, repr);
            }
            return;
        }
        // Counted as half-open for an instant, so that the move to
        // ESTABLISHED goes through the same bookkeeping as a stateful
        // handshake (accept queue, CurrEstab, the app's event).
        listener.half_open += 1;
        match self.sockets.insert(socket, Owner::Listener(port)) {
            Some(handle) => {
                self.stats.tcp.syncookies_recv += 1;
                self.stats.tcp.passive_opens += 1;
                if let Some(slot) = self.sockets.get_mut(handle) {
                    slot.last_state = State::SynReceived;
                }
                debug!(%handle, remote = %tuple.remote, "passive open by SYN cookie");
                self.after_socket_activity(now, handle);
            }
            None => {
                if let Some(l) = self.listeners.get_mut(&port) {
                    l.half_open -= 1;
                }
            }
        }
    }

    /// RFC 9293 §3.10.7.1: a RST for a segment no connection takes.
    fn reset_stray(&mut self, eth_src: EthernetAddress, tuple: &FourTuple, repr: &TcpRepr<'_>) {
        self.stats.tcp.no_port += 1;
        if let Some(rst) = rst_for_closed_port(repr) {
            self.queue_tcp(eth_src, tuple, &rst);
        }
    }

    /// Whether the listener on `port` cannot take another established
    /// connection: its accept queue is full.
    fn handshake_overflows(&self, port: u16) -> bool {
        self.listeners
            .get(&port)
            .is_some_and(|l| l.accept_queue.len() >= l.config.backlog)
    }

    /// The final ACK of a handshake met a full accept queue (Linux
    /// `tcp_check_req` → `listen_overflow`): by default the ACK is dropped
    /// and the connection stays in SYN-RECEIVED, so the SYN-ACK is
    /// retransmitted and the client's retransmissions complete the
    /// handshake once there is room; with `abort_on_overflow` it is reset.
    fn handle_accept_overflow(&mut self, now: Instant, handle: SocketHandle, port: u16) {
        self.stats.tcp.listen_overflows += 1;
        self.stats.tcp.listen_drops += 1;
        let abort = self
            .listeners
            .get(&port)
            .is_some_and(|l| l.config.abort_on_overflow);
        debug!(%handle, abort, "handshake ACK dropped: accept queue full");
        if abort {
            if let Some(slot) = self.sockets.get_mut(handle) {
                slot.socket.abort();
            }
            self.after_socket_activity(now, handle);
        }
    }

    /// A segment for a connection in a TIME-WAIT bucket.
    fn handle_time_wait(
        &mut self,
        now: Instant,
        eth_src: EthernetAddress,
        tuple: &FourTuple,
        key: usize,
        repr: &TcpRepr<'_>,
    ) {
        let two_msl = self.config.tcp.msl * 2;
        let Some(bucket) = self.time_wait.get_mut(key) else {
            return;
        };
        match bucket.process(now, repr, two_msl) {
            TimeWaitAction::Drop => {}
            TimeWaitAction::Ack(ack) => self.queue_tcp(eth_src, tuple, &ack),
            TimeWaitAction::AckAndRestart(ack) => {
                self.time_wait.rearm(key);
                self.queue_tcp(eth_src, tuple, &ack);
            }
            TimeWaitAction::Close => {
                self.time_wait.remove(key);
                self.stats.tcp.time_wait -= 1;
                debug!(remote = %tuple.remote, "TIME-WAIT ended by RST");
            }
            TimeWaitAction::Reopen => {
                if self.listeners.contains_key(&repr.dst_port) {
                    // RFC 6191: the new SYN ends TIME-WAIT; the listener takes it.
                    self.time_wait.remove(key);
                    self.stats.tcp.time_wait -= 1;
                    self.stats.tcp.tw_recycled += 1;
                    debug!(remote = %tuple.remote, "TIME-WAIT reopened by a new SYN");
                    self.handle_listen_syn(now, eth_src, tuple, repr);
                } else if let Some(bucket) = self.time_wait.get_mut(key) {
                    // Nobody listens: the SYN is an old duplicate to us.
                    let ack = bucket.ack(now);
                    self.queue_tcp(eth_src, tuple, &ack);
                }
            }
        }
    }

    /// Bookkeeping after a connection processed input, dispatched, or was
    /// touched by the application: counters, the accept queue, app events,
    /// freeing closed orphans, and re-arming its timer.
    fn after_socket_activity(&mut self, now: Instant, handle: SocketHandle) {
        let Some(slot) = self.sockets.get_mut(handle) else {
            return;
        };
        let state = slot.socket.state();
        let prev = slot.last_state;
        slot.last_state = state;
        let wakeup = slot.socket.take_wakeup();
        let owner = slot.owner;
        let counters = slot.socket.take_counters();
        slot.info.track(&slot.socket, now, &counters);
        // Nothing left to send (a final RST or ACK goes out first).
        let quiet = slot.socket.poll_at().is_none_or(|at| at > now);
        if !counters.is_zero() {
            self.stats.tcp.conn.add(&counters);
        }
        if state != prev {
            let estab = matches!(state, State::Established | State::CloseWait);
            if estab != slot.counted_estab {
                slot.counted_estab = estab;
                if estab {
                    self.stats.tcp.curr_estab += 1;
                } else {
                    self.stats.tcp.curr_estab -= 1;
                }
            }
            let tw = state == State::TimeWait;
            if tw != slot.counted_time_wait {
                slot.counted_time_wait = tw;
                if tw {
                    self.stats.tcp.time_wait += 1;
                } else {
                    self.stats.tcp.time_wait -= 1;
                }
            }
            if state == State::Closed {
                match prev {
                    State::Established | State::CloseWait => self.stats.tcp.estab_resets += 1,
                    State::SynSent | State::SynReceived => self.stats.tcp.attempt_fails += 1,
                    _ => {}
                }
            }
            if let Owner::Listener(port) = owner {
                if prev == State::SynReceived {
                    if let Some(listener) = self.listeners.get_mut(&port) {
                        listener.half_open = listener.half_open.saturating_sub(1);
                        if state != State::Closed {
                            listener.accept_queue.push_back(handle);
                            self.events.push_back(Event::Acceptable(port));
                        }
                    }
                }
            }
        }
        match owner {
            Owner::App if wakeup => {
                if let Some(slot) = self.sockets.get_mut(handle) {
                    if !slot.event_queued {
                        slot.event_queued = true;
                        self.events.push_back(Event::Socket(handle));
                    }
                }
            }
            Owner::Listener(port) if state == State::Closed && quiet => {
                if let Some(listener) = self.listeners.get_mut(&port) {
                    listener.accept_queue.retain(|h| *h != handle);
                }
                self.sockets.remove(handle);
                return;
            }
            Owner::Orphan if state == State::Closed && quiet => {
                self.sockets.remove(handle);
                debug!(%handle, "connection freed");
                return;
            }
            Owner::Orphan if state == State::TimeWait && quiet => {
                // Nobody needs the socket any more: keep only a TIME-WAIT
                // bucket (or nothing, beyond the cap).
                let Some(slot) = self.sockets.remove(handle) else {
                    return;
                };
                let kept = slot
                    .socket
                    .time_wait_bucket(now)
                    .is_some_and(|bucket| self.time_wait.insert(bucket));
                if !kept {
                    self.stats.tcp.tw_overflow += 1;
                    self.stats.tcp.time_wait -= 1;
                    debug!(%handle, "TIME-WAIT bucket table full; connection closed at once");
                }
                return;
            }
            _ => {}
        }
        self.sockets.reschedule(handle, now);
    }

    fn dispatch_socket(
        &mut self,
        now: Instant,
        handle: SocketHandle,
        emit: &mut impl FnMut(&[u8]),
    ) {
        let Some(slot) = self.sockets.get(handle) else {
            return;
        };
        let tuple = slot.socket.tuple();
        let next_hop = self.next_hop(tuple.remote.addr);
        let dst_mac = match next_hop.map(|ip| (ip, self.neighbors.lookup(ip, now))) {
            Some((_, Lookup::Found(mac))) => Some(mac),
            Some((ip, Lookup::RequestNow)) => {
                self.send_arp_request(ip, emit);
                None
            }
            Some((_, Lookup::Pending)) => None,
            None => {
                self.stats.ipv4.out_no_routes += 1;
                None
            }
        };
        let Interface {
            sockets,
            tx_buf,
            stats,
            config,
            queued,
            pool,
            ..
        } = self;
        let Some(slot) = sockets.get_mut(handle) else {
            return;
        };
        loop {
            let mut frame_len = 0;
            let sent = slot.socket.dispatch(now, |seg: &TcpRepr<'_>| {
                frame_len = build_tcp_frame(
                    tx_buf,
                    config,
                    dst_mac.unwrap_or(EthernetAddress([0; 6])),
                    &tuple,
                    seg,
                )?;
                if seg.control == TcpControl::Rst {
                    stats.tcp.out_rsts += 1;
                }
                trace!(dst = %tuple.remote, seg = %seg, "tcp tx");
                Ok::<(), FrameTooLarge>(())
            });
            match sent {
                Ok(true) => {}
                Ok(false) => break,
                Err(FrameTooLarge) => {
                    debug_assert!(false, "TCP produced a segment larger than the MTU");
                    break;
                }
            }
            stats.tcp.out_segs += 1;
            stats.ipv4.out_requests += 1;
            match dst_mac {
                Some(_) => {
                    stats.ethernet.tx_frames += 1;
                    emit(&tx_buf[..frame_len]);
                }
                None => match next_hop {
                    // Hold the frame until the neighbour answers (bounded); TCP
                    // retransmits whatever the bound drops.
                    Some(ip) if queued.len() < MAX_QUEUED_FRAMES => {
                        let mut frame = pool.pop().unwrap_or_default();
                        frame.clear();
                        frame.extend_from_slice(&tx_buf[..frame_len]);
                        queued.push_back(QueuedFrame {
                            next_hop: Some(ip),
                            frame,
                        });
                    }
                    _ => stats.arp.pending_dropped += 1,
                },
            }
        }
    }

    /// The on-link address to send to for `dst`: itself if on-link, else the gateway.
    fn next_hop(&self, dst: Ipv4Address) -> Option<Ipv4Address> {
        if self.config.ip_cidr.contains_addr(&dst) {
            Some(dst)
        } else {
            self.config.gateway
        }
    }

    fn flush_queued(&mut self, now: Instant, emit: &mut impl FnMut(&[u8])) {
        let mut waiting = self.queued.len();
        while waiting > 0 {
            waiting -= 1;
            let Some(mut q) = self.queued.pop_front() else {
                break;
            };
            if let Some(ip) = q.next_hop {
                match self.neighbors.lookup(ip, now) {
                    Lookup::Found(mac) => q.frame[0..6].copy_from_slice(&mac.0),
                    Lookup::RequestNow => {
                        self.send_arp_request(ip, emit);
                        self.queued.push_back(q);
                        continue;
                    }
                    Lookup::Pending => {
                        self.queued.push_back(q);
                        continue;
                    }
                }
            }
            self.stats.ethernet.tx_frames += 1;
            emit(&q.frame);
            self.pool.push(q.frame);
        }
    }

    fn send_arp_request(&mut self, ip: Ipv4Address, emit: &mut impl FnMut(&[u8])) {
        let request = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: self.config.hw_addr,
            source_protocol_addr: self.config.ip_cidr.address(),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: ip,
        };
        let len = ETH_HEADER_LEN + request.buffer_len();
        let buf = &mut self.tx_buf[..len];
        let mut eth = EthernetFrame::new_unchecked(&mut *buf);
        EthernetRepr {
            src_addr: self.config.hw_addr,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        }
        .emit(&mut eth);
        request.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
        self.stats.arp.requests_sent += 1;
        self.stats.ethernet.tx_frames += 1;
        debug!(%ip, "ARP request");
        emit(&self.tx_buf[..len]);
    }

    fn queue_arp(&mut self, dst_mac: EthernetAddress, repr: &ArpRepr) {
        let Some(mut frame) = self.take_buffer() else {
            return;
        };
        frame.resize(ETH_HEADER_LEN + repr.buffer_len(), 0);
        let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
        EthernetRepr {
            src_addr: self.config.hw_addr,
            dst_addr: dst_mac,
            ethertype: EthernetProtocol::Arp,
        }
        .emit(&mut eth);
        repr.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
        self.queued.push_back(QueuedFrame {
            next_hop: None,
            frame,
        });
    }

    /// Queue a stateless TCP reply (a RST) to the sender of the frame we are handling.
    fn queue_tcp(&mut self, dst_mac: EthernetAddress, tuple: &FourTuple, repr: &TcpRepr<'_>) {
        let Some(mut frame) = self.take_buffer() else {
            return;
        };
        frame.resize(self.config.mtu + ETH_HEADER_LEN, 0);
        match build_tcp_frame(&mut frame, &self.config, dst_mac, tuple, repr) {
            Ok(len) => frame.truncate(len),
            Err(FrameTooLarge) => {
                self.pool.push(frame);
                return;
            }
        }
        if repr.control == TcpControl::Rst {
            self.stats.tcp.out_rsts += 1;
        }
        self.stats.tcp.out_segs += 1;
        self.stats.ipv4.out_requests += 1;
        trace!(dst = %tuple.remote, seg = %repr, "tcp tx (reply)");
        self.queued.push_back(QueuedFrame {
            next_hop: None,
            frame,
        });
    }

    /// A pooled frame buffer, or `None` (counted) if too many frames wait.
    fn take_buffer(&mut self) -> Option<Vec<u8>> {
        if self.queued.len() >= MAX_QUEUED_FRAMES {
            self.stats.arp.pending_dropped += 1;
            return None;
        }
        let mut frame = self.pool.pop().unwrap_or_default();
        frame.clear();
        Some(frame)
    }

    /// RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock, F a keyed hash.
    fn isn(&self, tuple: &FourTuple, now: Instant) -> TcpSeqNumber {
        let mut hasher = DefaultHasher::new();
        self.config.isn_secret.hash(&mut hasher);
        tuple.hash(&mut hasher);
        let keyed = hasher.finish() as u32;
        let clock = (now.total_micros() / 4) as u32;
        TcpSeqNumber(clock.wrapping_add(keyed) as i32)
    }
}

/// RFC 9293 §3.10.7.1: a segment to a CLOSED port. An incoming RST is
/// dropped; if the segment has an ACK, send <SEQ=SEG.ACK><CTL=RST>;
/// otherwise <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
fn rst_for_closed_port(seg: &TcpRepr<'_>) -> Option<TcpRepr<'static>> {
    if seg.control == TcpControl::Rst {
        return None;
    }
    let (seq_number, ack_number) = match seg.ack_number {
        Some(ack) => (ack, None),
        None => (TcpSeqNumber(0), Some(seg.seq_number + seg.segment_len())),
    };
    Some(TcpRepr {
        src_port: seg.dst_port,
        dst_port: seg.src_port,
        control: TcpControl::Rst,
        seq_number,
        ack_number,
        ..TcpRepr::default()
    })
}

#[derive(Debug, Clone, Copy)]
struct FrameTooLarge;

/// Write Ethernet and IPv4 headers into `buf` and return the IP packet
/// (header included) as a mutable slice of exactly `ip.payload_len + 20` bytes.
fn write_eth_ipv4<'b>(
    buf: &'b mut [u8],
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    ip: &Ipv4Repr,
) -> &'b mut [u8] {
    let end = ETH_HEADER_LEN + IPV4_HEADER_LEN + ip.payload_len;
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..end]);
    EthernetRepr {
        src_addr: src_mac,
        dst_addr: dst_mac,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut eth);
    ip.emit(&mut Ipv4Packet::new_unchecked(
        &mut buf[ETH_HEADER_LEN..end],
    ));
    &mut buf[ETH_HEADER_LEN..end]
}

/// Build a whole Ethernet/IPv4/TCP frame for `seg` in `buf`; returns its length.
fn build_tcp_frame(
    buf: &mut [u8],
    config: &InterfaceConfig,
    dst_mac: EthernetAddress,
    tuple: &FourTuple,
    seg: &TcpRepr<'_>,
) -> Result<usize, FrameTooLarge> {
    let tcp_len = seg.buffer_len();
    if IPV4_HEADER_LEN + tcp_len > config.mtu
        || ETH_HEADER_LEN + IPV4_HEADER_LEN + tcp_len > buf.len()
    {
        return Err(FrameTooLarge);
    }
    let ip = Ipv4Repr {
        src_addr: tuple.local.addr,
        dst_addr: tuple.remote.addr,
        next_header: IpProtocol::Tcp,
        payload_len: tcp_len,
        hop_limit: DEFAULT_TTL,
    };
    let packet = write_eth_ipv4(buf, config.hw_addr, dst_mac, &ip);
    seg.emit(
        &mut TcpPacket::new_unchecked(&mut packet[IPV4_HEADER_LEN..]),
        &ip.src_addr,
        &ip.dst_addr,
    );
    Ok(ETH_HEADER_LEN + IPV4_HEADER_LEN + tcp_len)
}

#[cfg(test)]
mod tests;
