//! netstack: tapir's user-space TCP/IP stack.
//!
//! ```text
//!   phy      frames in and out of a device (TAP, in-memory link, impairment, pcap)
//!    │
//!   iface    Ethernet → ARP (neighbour cache) | IPv4 → ICMP echo | TCP demux by 4-tuple
//!    │
//!   tcp      per-connection state machine (RFC 9293), listeners, timers
//!    │
//!   storage  ring buffers and the out-of-order assembler behind each socket
//!
//!   wire     zero-copy packet views (`XxxPacket<T>`) and values (`XxxRepr`) for every layer
//!   time     `Instant`/`Duration` given by the caller
//! ```
//!
//! The contract: everything except [`phy::sys`] is sans-IO. No function here
//! reads a clock, sleeps, or makes a system call; time comes in as `now`,
//! frames come in as byte slices, and frames go out through buffers the
//! caller lends. The driver (in the `tapir` server) owns the device and the
//! clock and asks [`iface::Interface::poll_at`] when to call again.
#![deny(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod iface;
pub mod phy;
pub mod storage;
pub mod tcp;
pub mod time;
pub mod wire;
