//! The TAP device against the real kernel, inside a throwaway network
//! namespace.
//!
//! `unshare(CLONE_NEWNET)` moves only the calling *thread* into a new,
//! anonymous namespace, so each test runs its body on a fresh thread: the
//! TAP, the ioctl socket and any child process (`ping`, `ip`) it spawns live
//! there, and the namespace vanishes when the thread ends. Nothing reaches
//! the host's network, and nothing needs cleaning up by name.
//!
//! Needs root (CAP_SYS_ADMIN for unshare, CAP_NET_ADMIN for the TAP); without
//! it the tests print why and pass vacuously. `scripts/test.sh` runs as root.

use std::io;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use super::{configure_link, link_hw_addr, TapDevice};

const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV4: u16 = 0x0800;
const HOST: [u8; 4] = [10, 99, 0, 1];
const PEER: [u8; 4] = [10, 99, 0, 2];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x99, 0x02];

/// Run `body` on a new thread inside a new network namespace. Returns `None`
/// (after saying so) if we lack the privilege to create one.
fn in_fresh_netns<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let joined = thread::spawn(move || {
        // SAFETY: plain integer flag; affects only this thread's namespaces.
        match syscall!(unshare(libc::CLONE_NEWNET)) {
            Ok(_) => Some(body()),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                eprintln!("skipped: unshare(CLONE_NEWNET) needs root ({e})");
                None
            }
            Err(e) => panic!("unshare(CLONE_NEWNET): {e}"),
        }
    })
    .join();
    match joined {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Wait (bounded: about `tries` × 10 ms) for a frame the predicate accepts.
fn wait_for_frame(tap: &TapDevice, tries: u32, want: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
    let mut buf = [0u8; 2048];
    for _ in 0..tries {
        match tap.recv(&mut buf) {
            Ok(n) if want(&buf[..n]) => return Some(buf[..n].to_vec()),
            Ok(_) => {} // IPv6 router solicitations, MLD reports, ...
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
    None
}

fn ethertype(frame: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]))
}

fn command_output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn open_rejects_bad_name_before_any_syscall() {
    let err = TapDevice::open("name-that-is-far-too-long").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn tap_carries_kernel_arp_and_our_reply() {
    in_fresh_netns(|| {
        let tap = TapDevice::open("tapt0").expect("open TAP");
        assert_eq!(tap.name(), "tapt0");
        configure_link(tap.name(), HOST, 24, 1400).expect("configure");
        configure_link(tap.name(), HOST, 24, 1400).expect("configure is idempotent");

        let mac = link_hw_addr(tap.name()).expect("hw addr");
        assert_ne!(mac, [0; 6]);
        assert_eq!(mac[0] & 1, 0, "kernel MAC must be unicast: {mac:02x?}");

        // Check the result with `ip` (reading only; configuring is ours).
        let addr =
            command_output(Command::new("ip").args(["-o", "-4", "addr", "show", "dev", "tapt0"]));
        assert!(addr.contains("10.99.0.1/24"), "{addr}");
        let link = command_output(Command::new("ip").args(["-o", "link", "show", "dev", "tapt0"]));
        assert!(link.contains("mtu 1400") && link.contains("UP"), "{link}");

        // The namespace's kernel wants 10.99.0.2: it must ARP out of our TAP.
        let mut ping = Command::new("ping")
            .args(["-c1", "-W2", "10.99.0.2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ping (iputils-ping installed?)");

        let arp = wait_for_frame(&tap, 300, |f| ethertype(f) == Some(ETHERTYPE_ARP));
        let arp = arp.expect("no ARP request on the TAP within 3 s");
        assert!(arp.len() >= 42, "short ARP frame: {arp:02x?}");
        assert_eq!(&arp[0..6], &[0xff; 6], "ARP request is broadcast");
        assert_eq!(&arp[6..12], &mac, "sent from the kernel side's MAC");
        assert_eq!(&arp[20..22], &[0, 1], "opcode request");
        assert_eq!(&arp[28..32], &HOST, "sender protocol address");
        assert_eq!(&arp[38..42], &PEER, "target protocol address");

        // Answer it; the kernel then releases the queued echo request to us.
        let reply = arp_reply(mac);
        assert_eq!(tap.send(&reply).expect("send ARP reply"), reply.len());
        let echo = wait_for_frame(&tap, 300, |f| {
            ethertype(f) == Some(ETHERTYPE_IPV4) && f.len() >= 34 && f[23] == 1
        });
        let _ = ping.kill();
        let _ = ping.wait();
        let echo = echo.expect("no ICMP echo request after our ARP reply");
        assert_eq!(&echo[0..6], &PEER_MAC, "echo sent to the MAC we announced");
        assert_eq!(&echo[30..34], &PEER);
    });
}

/// An ARP reply "10.99.0.2 is at PEER_MAC", addressed to `to`.
fn arp_reply(to: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&to);
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 2]); // Ethernet/IPv4, reply
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&to);
    f.extend_from_slice(&HOST);
    f
}
