//! The operating-system edge of the stack: the Linux TAP device and the
//! ioctls that configure the kernel's side of it.
//!
//! This is the only module in `netstack` that makes system calls. Everything
//! above it sees frames as byte slices; this module moves those slices in and
//! out of `/dev/net/tun` (and, for tests, of packet sockets).
//!
//! ```text
//!   tapir (user space)                         kernel
//!   TapDevice::recv ◀── frame ── TAP "tap0" ◀── ARP/IP from the namespace
//!   TapDevice::send ─── frame ──▶ TAP "tap0" ──▶ kernel stack (host_addr)
//! ```
//!
//! [`PacketSocket`] (an `AF_PACKET` raw socket) is the test-side tool: it
//! sends and receives frames on the *kernel's* end of an interface, so the
//! probe tests can talk to tapir with hand-made frames.
//!
//! Contract:
//! - [`TapDevice::open`] creates (or attaches to) a TAP interface with
//!   `IFF_TAP | IFF_NO_PI`: every `read` is exactly one Ethernet frame without
//!   a packet-information prefix, every `write` must be exactly one frame. The
//!   descriptor is non-blocking and close-on-exec; the interface is not
//!   persistent, so it disappears when the last descriptor closes.
//! - [`configure_link`] gives the *kernel* side of the TAP its address, prefix
//!   and MTU and sets it up. Call it after `open` (the interface must exist)
//!   and while the device is open. tapir's own address is not configured here:
//!   it lives in user space, inside `iface`.
//! - Every system call goes through [`syscall!`], which turns `-1` into
//!   [`io::Error::last_os_error`]; callers see plain `io::Result`s.

// The workspace denies `unsafe_code`. This module is the one exception
// (ARCHITECTURE.md "phy/sys"): opening /dev/net/tun and configuring the link
// need `open`, `ioctl`, `read` and `write`, which exist only as unsafe FFI in
// `libc`. Every unsafe block states why it is sound in a `// SAFETY:` comment.
#![allow(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::io;

/// Call a `libc` function and turn its `-1` error return into
/// [`io::Error::last_os_error`] (the pattern of mio's `syscall!`).
///
/// Every call site carries its own `// SAFETY:` comment explaining why the
/// arguments are valid for that call.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: the soundness of the arguments is argued at each call site
        // of `syscall!`, next to the call.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

mod link;
#[cfg(test)]
mod netns_test;
mod packet_socket;
mod tap;

pub use link::{configure_link, link_hw_addr};
pub use packet_socket::{PacketDirection, PacketSocket, Received};
pub use tap::TapDevice;

/// Build an `ifreq` naming interface `name`, with a zeroed request union.
///
/// Fails with `InvalidInput` if `name` is empty, contains a NUL byte or does
/// not fit in `IFNAMSIZ - 1` bytes (the kernel needs the terminating NUL).
fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "interface name {name:?} must be 1 to {} bytes without NUL",
                libc::IFNAMSIZ - 1
            ),
        ));
    }
    // SAFETY: `ifreq` is a plain C struct (a name array and a union of
    // integers, sockaddrs and a raw pointer); all-zero bytes are a valid value
    // of every field.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in ifr.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// The interface name stored in an `ifreq` (up to the first NUL).
fn ifreq_name(ifr: &libc::ifreq) -> String {
    let bytes: Vec<u8> = ifr
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_rejects_bad_names() {
        assert!(ifreq_for("").is_err());
        assert!(ifreq_for("a\0b").is_err());
        assert!(ifreq_for("0123456789abcdef").is_err()); // 16 bytes: no room for NUL
        let ifr = ifreq_for("0123456789abcde").unwrap(); // 15 bytes: fits
        assert_eq!(ifreq_name(&ifr), "0123456789abcde");
    }

    #[test]
    fn syscall_maps_minus_one_to_last_os_error() {
        // close(-1) fails with EBADF and touches nothing.
        let err = syscall!(close(-1)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }
}
