//! Configuring the kernel's side of the TAP with the classic `SIOC*` ioctls
//! on an `AF_INET` datagram socket (what `ifconfig` does; no netlink, no
//! shelling out to `ip`).
//!
//! Call [`configure_link`] once after [`super::TapDevice::open`], while the
//! device is open; [`link_hw_addr`] any time after, for logging.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::ifreq_for;

/// Give the kernel side of TAP `name` the address `host_addr/prefix_len` and
/// the MTU `mtu`, and bring it up.
///
/// Idempotent: running it again with the same values succeeds (`EEXIST` from
/// the kernel is taken as "already so"). Fails with `InvalidInput` if
/// `prefix_len > 32` or `mtu` does not fit in a C `int`.
pub fn configure_link(name: &str, host_addr: [u8; 4], prefix_len: u8, mtu: u32) -> io::Result<()> {
    if prefix_len > 32 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("prefix length {prefix_len} is longer than 32"),
        ));
    }
    let mtu = libc::c_int::try_from(mtu).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("mtu {mtu} is too large"),
        )
    })?;
    let mask = prefix_mask(prefix_len);
    let sock = inet_dgram_socket()?;

    // SIOCSIFADDR first: SIOCSIFNETMASK needs an address to attach the mask
    // to. Setting the address also installs a classful mask, which the next
    // call replaces.
    let mut ifr = ifreq_for(name)?;
    ifr.ifr_ifru.ifru_addr = sockaddr_in(host_addr);
    ioctl_ifreq(&sock, libc::SIOCSIFADDR, &mut ifr).or_else(already_so)?;

    let mut ifr = ifreq_for(name)?;
    ifr.ifr_ifru.ifru_netmask = sockaddr_in(mask);
    ioctl_ifreq(&sock, libc::SIOCSIFNETMASK, &mut ifr).or_else(already_so)?;

    let mut ifr = ifreq_for(name)?;
    ifr.ifr_ifru.ifru_mtu = mtu;
    ioctl_ifreq(&sock, libc::SIOCSIFMTU, &mut ifr)?;

    let mut ifr = ifreq_for(name)?;
    ioctl_ifreq(&sock, libc::SIOCGIFFLAGS, &mut ifr)?;
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel filled `ifru_flags`; the
    // union field is a plain `c_short` and any bit pattern is valid.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags };
    let up = libc::IFF_UP as libc::c_short;
    if flags & up == 0 {
        ifr.ifr_ifru.ifru_flags = flags | up;
        ioctl_ifreq(&sock, libc::SIOCSIFFLAGS, &mut ifr)?;
    }
    Ok(())
}

/// The Ethernet address of the kernel's side of interface `name`
/// (`SIOCGIFHWADDR`). For logging; tapir's own MAC is chosen in user space.
pub fn link_hw_addr(name: &str) -> io::Result<[u8; 6]> {
    let sock = inet_dgram_socket()?;
    let mut ifr = ifreq_for(name)?;
    ioctl_ifreq(&sock, libc::SIOCGIFHWADDR, &mut ifr)?;
    // SAFETY: SIOCGIFHWADDR succeeded, so the kernel filled `ifru_hwaddr`, a
    // plain `sockaddr` whose every bit pattern is valid.
    let hw = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (dst, &src) in mac.iter_mut().zip(hw.sa_data.iter()) {
        *dst = src as u8;
    }
    Ok(mac)
}

/// A close-on-exec `AF_INET` datagram socket, the handle the `SIOC*` ioctls
/// need. It sends nothing.
fn inet_dgram_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments.
    let raw = syscall!(socket(
        libc::AF_INET,
        libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
        0
    ))?;
    // SAFETY: `socket` succeeded, so `raw` is a fresh descriptor owned by
    // nobody else; `OwnedFd` closes it on drop.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Run one interface ioctl that reads and/or writes `ifr`.
fn ioctl_ifreq(sock: &OwnedFd, request: libc::Ioctl, ifr: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: every request passed here (SIOC[GS]IF*) reads or writes exactly
    // one `struct ifreq`; `ifr` is a valid, exclusively borrowed `libc::ifreq`
    // that lives across the call, and `sock` is an open socket.
    syscall!(ioctl(sock.as_raw_fd(), request, ifr as *mut libc::ifreq))?;
    Ok(())
}

/// Treat `EEXIST` as success: the kernel already has what we asked for.
fn already_so(err: io::Error) -> io::Result<()> {
    if err.raw_os_error() == Some(libc::EEXIST) {
        Ok(())
    } else {
        Err(err)
    }
}

/// The IPv4 netmask with the top `prefix_len` bits set (`prefix_len <= 32`).
fn prefix_mask(prefix_len: u8) -> [u8; 4] {
    debug_assert!(prefix_len <= 32);
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0);
    bits.to_be_bytes()
}

/// A `sockaddr` holding the IPv4 address `addr` (port 0), as the `SIOCSIF*`
/// ioctls expect it.
fn sockaddr_in(addr: [u8; 4]) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sockaddr_in` and `sockaddr` are both 16-byte plain C structs
    // (asserted below at compile time); every bit pattern is a valid
    // `sockaddr`. This is the C idiom the kernel expects in `ifr_addr`.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

const _: () =
    assert!(std::mem::size_of::<libc::sockaddr_in>() == std::mem::size_of::<libc::sockaddr>());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_masks() {
        assert_eq!(prefix_mask(0), [0, 0, 0, 0]);
        assert_eq!(prefix_mask(8), [255, 0, 0, 0]);
        assert_eq!(prefix_mask(24), [255, 255, 255, 0]);
        assert_eq!(prefix_mask(30), [255, 255, 255, 252]);
        assert_eq!(prefix_mask(32), [255, 255, 255, 255]);
    }

    #[test]
    fn sockaddr_in_layout() {
        let sa = sockaddr_in([10, 7, 0, 1]);
        assert_eq!(i32::from(sa.sa_family), libc::AF_INET);
        // sa_data = port (2 bytes, zero) then the address in network order.
        let data: Vec<u8> = sa.sa_data[..6].iter().map(|&c| c as u8).collect();
        assert_eq!(data, [0, 0, 10, 7, 0, 1]);
    }

    #[test]
    fn rejects_bad_arguments() {
        let err = configure_link("tap-none", [10, 0, 0, 1], 33, 1500).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = configure_link("tap-none", [10, 0, 0, 1], 24, u32::MAX).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
