//! [`PacketSocket`]: a raw `AF_PACKET` socket bound to one interface, for
//! sending and receiving whole Ethernet frames on the *kernel's* side of a
//! link. tapir itself does not use it; the black-box probe tests do (they
//! talk to tapir through the kernel side of its TAP).
//!
//! Contract:
//! - [`PacketSocket::open`] creates a `SOCK_RAW` socket for `ETH_P_ALL` in
//!   the caller's network namespace, bound to the interface by index; it is
//!   non-blocking and close-on-exec. [`PacketSocket::open_in_netns`] does
//!   the same inside a named namespace (`/run/netns/NAME`, as `ip netns add`
//!   makes them) from a helper thread, so the calling thread's namespace is
//!   untouched; the socket stays in the namespace it was made in.
//! - [`PacketSocket::send`] writes one complete frame (destination MAC
//!   first) out of the interface.
//! - [`PacketSocket::recv`] waits (bounded by a timeout, with `poll`) for one
//!   frame and reports whether the kernel saw it as outgoing
//!   (`PACKET_OUTGOING`): a packet socket also sees the frames it sent
//!   itself and everything the kernel sends on the interface.
//!
//! Needs `CAP_NET_RAW` (and `CAP_SYS_ADMIN` for `open_in_netns`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::thread;
use std::time::Duration;

/// `ETH_P_ALL` in network byte order, as `socket` and `sockaddr_ll` want it.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// Who a received frame was for, from `sockaddr_ll.sll_pkttype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketDirection {
    /// Arriving on the interface (`PACKET_HOST`, `_BROADCAST`, `_MULTICAST`,
    /// `_OTHERHOST`): for the kernel side of a TAP, a frame the TAP's user
    /// wrote.
    Incoming,
    /// Leaving through the interface (`PACKET_OUTGOING`): sent by the kernel
    /// or by a packet socket, including this one.
    Outgoing,
}

/// One received frame's length and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written into the caller's buffer (the frame, possibly truncated
    /// to the buffer).
    pub len: usize,
    /// Which way the frame went.
    pub direction: PacketDirection,
}

/// A raw packet socket bound to one interface. Closed on drop.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: libc::c_int,
}

impl PacketSocket {
    /// Open a packet socket on interface `ifname` in the current network
    /// namespace.
    pub fn open(ifname: &str) -> io::Result<PacketSocket> {
        let name = CString::new(ifname).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "interface name contains NUL")
        })?;
        // SAFETY: `name` is a valid NUL-terminated C string that outlives the
        // call; `if_nametoindex` only reads it.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        let ifindex = libc::c_int::try_from(index)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "ifindex out of range"))?;

        // SAFETY: plain integer arguments.
        let raw = syscall!(socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::c_int::from(ETH_P_ALL_BE),
        ))?;
        // SAFETY: `socket` succeeded, so `raw` is a fresh descriptor owned by
        // nobody else; `OwnedFd` closes it on drop (also on the error path).
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let addr = sockaddr_ll(ifindex);
        // SAFETY: `addr` is a valid `sockaddr_ll` that lives across the call,
        // and the length passed is exactly its size.
        syscall!(bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        ))?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// Open a packet socket on `ifname` inside the network namespace whose
    /// handle is the file `netns` (e.g. `/run/netns/NAME`). The work runs on
    /// a short-lived helper thread that enters the namespace, so the caller's
    /// thread stays where it is.
    pub fn open_in_netns(netns: &Path, ifname: &str) -> io::Result<PacketSocket> {
        let ns_file = std::fs::File::open(netns)?;
        let ifname = ifname.to_owned();
        thread::spawn(move || {
            // SAFETY: `ns_file` is an open namespace file; CLONE_NEWNET asks
            // the kernel to check it is a network namespace. `setns` changes
            // only this helper thread's namespace, and the thread ends below.
            syscall!(setns(ns_file.as_raw_fd(), libc::CLONE_NEWNET))?;
            PacketSocket::open(&ifname)
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// The interface index the socket is bound to.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// Send one complete Ethernet frame out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: `frame` is valid for reads of `frame.len()` bytes for the
        // duration of the call; the socket is bound, so no address is needed.
        let n = syscall!(send(
            self.fd.as_raw_fd(),
            frame.as_ptr().cast::<libc::c_void>(),
            frame.len(),
            0,
        ))?;
        // `send` returns -1 (handled above) or a count no larger than the frame.
        Ok(n as usize)
    }

    /// Wait up to `timeout` for one frame and copy it into `buf`.
    ///
    /// Returns `Ok(None)` if nothing arrived in time. A zero `timeout` only
    /// checks for a queued frame. Frames longer than `buf` are truncated.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<Received>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Round up so a sub-millisecond remainder still waits.
        let millis = timeout
            .as_micros()
            .div_ceil(1000)
            .min(libc::c_int::MAX as u128) as libc::c_int;
        // SAFETY: `pfd` is one valid, exclusively borrowed `pollfd` and the
        // count passed is 1.
        let ready = match syscall!(poll(&mut pfd as *mut libc::pollfd, 1, millis)) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        if ready == 0 {
            return Ok(None);
        }
        let mut from = sockaddr_ll(0);
        let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `from` is a
        // valid `sockaddr_ll` and `from_len` holds its size, both exclusively
        // borrowed for the call.
        let res = syscall!(recvfrom(
            self.fd.as_raw_fd(),
            buf.as_mut_ptr().cast::<libc::c_void>(),
            buf.len(),
            0,
            (&mut from as *mut libc::sockaddr_ll).cast::<libc::sockaddr>(),
            &mut from_len as *mut libc::socklen_t,
        ));
        let n = match res {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        let direction = if from.sll_pkttype == libc::PACKET_OUTGOING {
            PacketDirection::Outgoing
        } else {
            PacketDirection::Incoming
        };
        Ok(Some(Received {
            len: n.min(buf.len()),
            direction,
        }))
    }
}

/// A `sockaddr_ll` for all protocols on interface `ifindex` (0: any).
fn sockaddr_ll(ifindex: libc::c_int) -> libc::sockaddr_ll {
    libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as libc::c_ushort,
        sll_protocol: ETH_P_ALL_BE,
        sll_ifindex: ifindex,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_rejects_nul_and_unknown_interfaces() {
        let err = PacketSocket::open("a\0b").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(PacketSocket::open("no-such-if-42").is_err());
    }
}
