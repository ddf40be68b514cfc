//! [`TapDevice`]: one queue of a Linux TAP interface, opened on
//! `/dev/net/tun`.
//!
//! Call [`TapDevice::open`] once at start-up, register [`AsRawFd::as_raw_fd`]
//! with the event loop (it is non-blocking), then call [`TapDevice::recv`]
//! until it returns `WouldBlock` whenever the descriptor is readable, and
//! [`TapDevice::send`] for each outgoing frame.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::{ifreq_for, ifreq_name};

/// The clone device; each open of it yields a fresh, unattached queue.
const TUN_CLONE_DEVICE: &CStr = c"/dev/net/tun";

/// An open TAP interface: frames written here appear on the kernel's side of
/// the interface, frames the kernel sends out of it are read here.
///
/// Dropping it closes the descriptor; the interface is not persistent, so the
/// kernel removes it when the last descriptor closes.
#[derive(Debug)]
pub struct TapDevice {
    fd: OwnedFd,
    name: String,
}

impl TapDevice {
    /// Open `/dev/net/tun` and create (or attach to) the TAP interface `name`
    /// with `IFF_TAP | IFF_NO_PI`. The descriptor is non-blocking and
    /// close-on-exec.
    ///
    /// Call once at start-up, before [`super::configure_link`]. Needs
    /// `CAP_NET_ADMIN` in the current network namespace (or ownership of a
    /// persistent TAP). A `name` with `%d` lets the kernel pick the number;
    /// [`TapDevice::name`] returns the name it chose.
    pub fn open(name: &str) -> io::Result<TapDevice> {
        let mut ifr = ifreq_for(name)?;
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;

        // SAFETY: the path is a NUL-terminated C string literal that outlives
        // the call; the flags are plain integers.
        let raw = syscall!(open(
            TUN_CLONE_DEVICE.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        ))?;
        // SAFETY: `open` succeeded, so `raw` is a fresh descriptor that nothing
        // else owns; `OwnedFd` takes sole ownership and closes it on drop (also
        // on the error path below).
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // SAFETY: TUNSETIFF reads and writes one `struct ifreq`; `ifr` is a
        // valid, exclusively borrowed `libc::ifreq` that lives across the call.
        syscall!(ioctl(
            fd.as_raw_fd(),
            libc::TUNSETIFF,
            &mut ifr as *mut libc::ifreq,
        ))?;

        // The kernel writes back the final name (it expands `%d`).
        let name = ifreq_name(&ifr);
        Ok(TapDevice { fd, name })
    }

    /// The interface's name as the kernel knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Read one frame into `buf` and return its length.
    ///
    /// Returns `Err(WouldBlock)` when no frame is queued. A frame longer than
    /// `buf` is truncated by the kernel, so lend a buffer of at least MTU + 14
    /// bytes.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes and is
        // exclusively borrowed for the duration of the call.
        let n = syscall!(read(
            self.fd.as_raw_fd(),
            buf.as_mut_ptr().cast::<libc::c_void>(),
            buf.len(),
        ))?;
        // `read` returns -1 (handled above) or a count no larger than `buf.len()`.
        Ok(n as usize)
    }

    /// Write one complete Ethernet frame; returns the number of bytes taken
    /// (the whole frame on success).
    ///
    /// Returns `Err(WouldBlock)` if the kernel cannot take it now; the caller
    /// may drop the frame (TCP will retransmit) or retry when writable.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: `frame` is valid for reads of `frame.len()` bytes for the
        // duration of the call.
        let n = syscall!(write(
            self.fd.as_raw_fd(),
            frame.as_ptr().cast::<libc::c_void>(),
            frame.len(),
        ))?;
        // `write` returns -1 (handled above) or a count no larger than `frame.len()`.
        Ok(n as usize)
    }
}

impl AsRawFd for TapDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TapDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
