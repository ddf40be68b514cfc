//! Two whole stacks (ARP, IPv4, TCP) over a deterministic in-memory link
//! with seeded loss, duplication, reordering and delay. Time is virtual and
//! jumps to the next event; nothing sleeps. Bytes out must equal bytes in.
//!
//! Contract of the loss-recovery matrix: every combination of seed, loss
//! (0, 1, 5, 20 %), reordering and duplication moves 4 MiB each way
//! byte-exact within a stated virtual-time bound. The goodput table
//! (`snapshots/goodput.txt`) is compared with what this build measures;
//! `UPDATE_SNAPSHOTS=1` rewrites it. Runs are deterministic: the link is
//! seeded and time is virtual.

use netstack::iface::{Event, Interface, InterfaceConfig, SocketHandle};
use netstack::phy::link::{Impairment, Rng, SimLink};
use netstack::tcp::{CongestionAlgorithm, RecvError, SocketAddr, State, TcpConfig, TcpCounters};
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
            let open = self
                .iface
                .socket(h)
                .is_some_and(|s| matches!(s.state(), State::Established | State::CloseWait));
            if self.sent == self.to_send.len() && !self.closed_write && open {
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
    /// When both sides had received every byte (before the closing
    /// handshake finished).
    done_at: Instant,
    /// Both interfaces' TCP counters, summed.
    counters: TcpCounters,
    client_state: State,
    server_state: State,
}

/// Move `len` bytes each way through a link with `imp` in both directions.
fn transfer(len: usize, imp: Impairment, seed: u64, limit: Duration) -> Outcome {
    transfer_with(len, len, imp, seed, limit, TcpConfig::default())
}

/// Move `up` bytes client to server and `down` bytes server to client,
/// with `tcp` on both sides.
fn transfer_with(
    up: usize,
    down: usize,
    imp: Impairment,
    seed: u64,
    limit: Duration,
    tcp: TcpConfig,
) -> Outcome {
    let mut rng = Rng::new(seed ^ 0xdead_beef);
    let mut data = |n: usize| (0..n).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>();
    let (client_data, server_data) = (data(up), data(down));
    let mut client = Peer::new(CLIENT_IP, 1, client_data.clone());
    let mut server = Peer::new(SERVER_IP, 2, server_data.clone());
    client.iface.set_tcp_config(tcp);
    server.iface.set_tcp_config(tcp);
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
    let mut done_at = None;
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
            && client.received.len() == down
            && server.received.len() == up;
        if done && done_at.is_none() {
            done_at = Some(now);
        }
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
        up,
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
    let mut counters = client.iface.stats().tcp.conn;
    counters.add(&server.iface.stats().tcp.conn);
    Outcome {
        end: now,
        done_at: done_at.unwrap_or(now),
        counters,
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

/// One cell of the matrix: an impairment in both directions.
fn matrix_impairment(loss: f64, reorder: bool, duplicate: bool) -> Impairment {
    Impairment {
        loss,
        duplicate: if duplicate { 0.01 } else { 0.0 },
        reorder: if reorder { 0.03 } else { 0.0 },
        reorder_delay: Duration::from_millis(3),
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(1),
    }
}

/// Virtual-time bound for 4 MiB each way at `loss` (RTT about 10 ms).
fn matrix_bound(loss: f64) -> Duration {
    Duration::from_secs(match loss {
        l if l < 0.005 => 5,
        l if l < 0.02 => 10,
        l if l < 0.1 => 15,
        _ => 1200,
    })
}

#[test]
fn loss_matrix_moves_four_mib_each_way_byte_exact() {
    const LEN: usize = 4 << 20;
    for loss in [0.0, 0.01, 0.05, 0.20] {
        let seeds: &[u64] = if loss >= 0.2 { &[1] } else { &[1, 2] };
        for reorder in [false, true] {
            for duplicate in [false, true] {
                for &seed in seeds {
                    let imp = matrix_impairment(loss, reorder, duplicate);
                    let out = transfer_with(
                        LEN,
                        LEN,
                        imp,
                        seed,
                        matrix_bound(loss),
                        TcpConfig::default(),
                    );
                    let c = out.counters;
                    eprintln!(
                        "loss {loss:4} reorder {reorder:5} dup {duplicate:5} seed {seed}: done at {:?} (retrans {}, timeouts {}, fast {}, sack_rec {}, dsack r/s {}/{}, undo {}, lost_rtx {}, tlp {})",
                        out.done_at, c.retrans_segs, c.timeouts, c.fast_retrans, c.sack_recovery, c.dsack_recv, c.dsack_sent, c.spurious_undo, c.lost_retransmits, c.tlp_probes
                    );
                    assert!(out.done_at <= Instant::ZERO + matrix_bound(loss));
                }
            }
        }
    }
}

/// Virtual-time goodput of a 4 MiB download (server to client) in MB/s,
/// mean over three seeds, per loss rate and congestion algorithm, on the
/// matrix's 5 ms link and on a sub-millisecond one (50 µs one way, no
/// jitter, like the veth/TAP of `benches/loss.sh`, where a probe or
/// retransmission timer floor costs dozens of round trips). The table is
/// a snapshot: a change in recovery or congestion control shows up as a
/// diff; `UPDATE_SNAPSHOTS=1` rewrites it.
#[test]
fn goodput_table_matches_snapshot() {
    const LEN: usize = 4 << 20;
    let mut table = String::from(
        "# Virtual-time goodput, 4 MiB download, 5 ms one-way delay + 1 ms jitter,\n\
         # loss in both directions, mean of seeds 1-3 (MB/s = 10^6 bytes/s).\n\
         # Regenerate: UPDATE_SNAPSHOTS=1 cargo test -p netstack --test link goodput\n\
         loss    reno     cubic\n",
    );
    let links = [
        (Duration::from_millis(5), Duration::from_millis(1)),
        (Duration::from_micros(50), Duration::ZERO),
    ];
    for (i, &(delay, jitter)) in links.iter().enumerate() {
        if i > 0 {
            table.push_str(&format!(
                "# The same over {} us one-way delay, no jitter (sub-millisecond RTT).\n\
                 loss    reno     cubic\n",
                delay.as_micros()
            ));
        }
        for loss in [0.0, 0.01, 0.05, 0.10, 0.20] {
            table.push_str(&format!("{:>4}%", loss * 100.0));
            for algorithm in [CongestionAlgorithm::Reno, CongestionAlgorithm::Cubic] {
                let tcp = TcpConfig {
                    congestion: algorithm,
                    ..TcpConfig::default()
                };
                let mut rate = 0.0;
                for seed in 1..=3u64 {
                    let imp = Impairment {
                        delay,
                        jitter,
                        ..matrix_impairment(loss, false, false)
                    };
                    let out = transfer_with(0, LEN, imp, seed, Duration::from_secs(3000), tcp);
                    let secs = out.done_at.total_micros() as f64 / 1e6;
                    rate += LEN as f64 / secs / 1e6 / 3.0;
                }
                table.push_str(&format!("  {rate:7.3}"));
            }
            table.push('\n');
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/goodput.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"))
            .expect("create snapshot directory");
        std::fs::write(path, &table).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        table, want,
        "goodput table differs from {path}; rerun with UPDATE_SNAPSHOTS=1 if intended"
    );
}
