//! tapir: a web server on its own user-space TCP/IP stack.
//!
//! - [`access_log`]: nginx "combined" lines, buffered; the driver writes them.
//! - [`config`]: the typed configuration, errors with file:line and key.
//! - [`conn`]: per-connection protocol state machines (HTTP/1.1, HTTP/2, TLS), sans-IO.
//! - [`respond`]: protocol-neutral responses (files, MIME, errors).
//! - [`date`]: the `Date` header, formatted once per second.
//! - [`driver`]: the mio loop; the only code that reads the clock or touches the TAP.
//! - [`tls_setup`]: the rustls configuration `[tls]` asks for (start-up only).
#![deny(unsafe_code)]

pub mod access_log;
pub mod config;
pub mod conn;
pub mod control;
pub mod date;
pub mod driver;
pub mod pcap;
pub mod plot;
pub mod respond;
pub mod status;
pub mod tls_setup;
pub mod trace;
