//! Two whole stacks (ARP, IPv4, TCP) over a deterministic in-memory link
//! with seeded loss, duplication, reordering and delay. Time is virtual and
//! jumps to the next event; nothing sleeps. Bytes out must equal bytes in.

use netstack::iface::{Event, Interface, InterfaceConfig, SocketHandle};
use netstack::phy::link::{Impairment, Rng, SimLink};
use netstack::tcp::{RecvError, SocketAddr, State};
use netstack::time::{Duration, Instant};
use netstack::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

const SERVER_IP: Ipv4Address = Ipv4Address([10, 7, 0, 2]);
const CLIENT_IP: Ipv4Address = Ipv4Address([10, 7, 0, 1]);
const PORT: u16 = 80;

struct Peer {
    iface: Interface,
    handle: Option<SocketHandle>,
    to_send: Vec<u8>,
    sent: usize,
    received: Vec<u8>,
    eof: bool,
    closed_write: bool,
}

impl Peer {
    fn new(ip: Ipv4Address, mac: u8, data: Vec<u8>) -> Peer {
        let mut config =
            InterfaceConfig::new(EthernetAddress([2, 0, 0, 0, 0, mac]), Ipv4Cidr::new(ip, 24));
        config.isn_secret = [mac; 16];
        Peer {
            iface: Interface::new(config),
            handle: None,
            to_send: data,
            sent: 0,
            received: Vec::new(),
            eof: false,
            closed_write: false,
        }
    }

    /// The application: accept, send everything, read everything, close after both.
    fn run_app(&mut self) {
        while let Some(event) = self.iface.poll_event() {
            if let Event::Acceptable(port) = event {
                if let Some(h) = self.iface.accept(port) {
                    self.handle = Some(h);
                }
            }
        }
        let Some(h) = self.handle else { return };
        loop {
            let mut progress = false;
            if self.sent < self.to_send.len() {
                let rest = &self.to_send[self.sent..];
                if let Ok(n) = self.iface.send_slice(h, rest) {
                    self.sent += n;
                    progress |= n > 0;
                }
            }
            if !self.eof {
                let mut buf = [0u8; 4096];
                match self.iface.recv_slice(h, &mut buf) {
                    Ok(n) => {
                        self.received.extend_from_slice(&buf[..n]);
                        progress |= n > 0;
                    }
                    Err(RecvError::Finished) => self.eof = true,
                    Err(_) => {}
                }
            }
            if self.sent == self.to_send.len() && !self.closed_write {
                self.iface.close(h);
                self.closed_write = true;
            }
            if !progress {
                break;
            }
        }
    }
}

struct Outcome {
    end: Instant,
    client_state: State,
    server_state: State,
}

/// Move `len` bytes each way through a link with `imp` in both directions.
fn transfer(len: usize, imp: Impairment, seed: u64, limit: Duration) -> Outcome {
    let mut rng = Rng::new(seed ^ 0xdead_beef);
    let mut data = |n: usize| (0..n).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>();
    let (client_data, server_data) = (data(len), data(len));
    let mut client = Peer::new(CLIENT_IP, 1, client_data.clone());
    let mut server = Peer::new(SERVER_IP, 2, server_data.clone());
    server.iface.listen(PORT, 16, 16).unwrap();
    let mut c2s = SimLink::new(imp, seed);
    let mut s2c = SimLink::new(imp, seed.wrapping_add(1));

    let mut now = Instant::ZERO;
    let h = client
        .iface
        .connect(
            now,
            SocketAddr {
                addr: SERVER_IP,
                port: PORT,
            },
        )
        .unwrap();
    client.handle = Some(h);
    let deadline = now + limit;
    loop {
        while let Some(frame) = c2s.recv(now) {
            server.iface.handle_frame(now, &frame);
        }
        while let Some(frame) = s2c.recv(now) {
            client.iface.handle_frame(now, &frame);
        }
        client.run_app();
        server.run_app();
        client.iface.dispatch(now, |f| c2s.send(now, f));
        server.iface.dispatch(now, |f| s2c.send(now, f));

        let done = client.eof
            && server.eof
            && client.received.len() == len
            && server.received.len() == len;
        let next = [
            client.iface.poll_at(),
            server.iface.poll_at(),
            c2s.poll_at(),
            s2c.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            _ if done
                && c2s.in_flight() == 0
                && s2c.in_flight() == 0
                && next.is_none_or(|t| t > now + Duration::from_secs(1)) =>
            {
                break
            }
            None if done => break,
            None => {
                let state = |p: &Peer| p.handle.and_then(|h| p.iface.socket(h)).map(|s| s.state());
                panic!(
                    "stalled at {now:?} (seed {seed}, {imp:?}): client {:?} sent {} got {}, server {:?} sent {} got {}",
                    state(&client), client.sent, client.received.len(), state(&server), server.sent, server.received.len()
                );
            }
            Some(t) => now = now.max(t),
        }
        assert!(
            now <= deadline,
            "transfer did not finish by {deadline:?} (seed {seed}, {imp:?})"
        );
    }
    assert_eq!(
        server.received.len(),
        len,
        "server got all bytes (seed {seed})"
    );
    assert!(
        server.received == client_data,
        "server bytes equal client bytes (seed {seed})"
    );
    assert!(
        client.received == server_data,
        "client bytes equal server bytes (seed {seed})"
    );
    let state = |p: &Peer| {
        p.iface
            .socket(p.handle.unwrap())
            .map(|s| s.state())
            .unwrap_or(State::Closed)
    };
    Outcome {
        end: now,
        client_state: state(&client),
        server_state: state(&server),
    }
}

fn impairment(loss: f64) -> Impairment {
    Impairment {
        loss,
        duplicate: 0.01,
        reorder: 0.02,
        reorder_delay: Duration::from_millis(3),
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(1),
    }
}

#[test]
fn clean_link_moves_one_mib_each_way_and_both_close() {
    let out = transfer(1 << 20, Impairment::default(), 1, Duration::from_secs(30));
    // Both sides closed: one is in TIME-WAIT (or CLOSED), neither is stuck half-open.
    for state in [out.client_state, out.server_state] {
        assert!(
            matches!(state, State::TimeWait | State::Closed),
            "final state {state}"
        );
    }
}

#[test]
fn lossy_links_move_one_mib_each_way_byte_exact() {
    for (loss, limit_s) in [(0.0, 60), (0.01, 120), (0.05, 300), (0.20, 1800)] {
        for seed in 1..=3u64 {
            let out = transfer(
                1 << 20,
                impairment(loss),
                seed,
                Duration::from_secs(limit_s),
            );
            eprintln!("loss {loss}: seed {seed} finished at {:?}", out.end);
        }
    }
}
