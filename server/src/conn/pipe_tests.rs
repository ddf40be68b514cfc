//! Tests of the TLS and HTTP/2 pumps over an in-memory pipe: a real rustls
//! client and a real `h2` client on one side, our [`Proto`] on the other,
//! bytes moved by hand (no sockets, no runtime), bodies compared byte for
//! byte.

use std::future::Future;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use netstack::time::Instant;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::h2::Pipe;
use super::{CloseState, H1Settings, HttpConn, Proto, ServeCtx, TlsConn};
use crate::access_log::AccessLog;
use crate::config::Http2Keys;
use crate::date::DateCache;
use crate::respond::Site;

const NOW_UNIX: u64 = 1_700_000_000;
const PEER: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);
const INDEX: &[u8] = b"<!DOCTYPE html>\n<html><body>hello over tls</body></html>\n";

/// A deterministic incompressible-ish body of `n` bytes.
fn big_body(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

const BIG_LEN: usize = 700_001;

/// Our server side: a connection and what it borrows.
struct Server {
    _dir: tempfile::TempDir,
    site: Site,
    settings: H1Settings,
    date: DateCache,
    log: AccessLog,
    now: Instant,
    conn: Proto,
    /// Largest write the "socket" takes per call.
    out_size: usize,
}

impl Server {
    fn new(make: impl FnOnce(Instant, &H1Settings) -> Proto) -> Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), INDEX).unwrap();
        std::fs::write(dir.path().join("big.bin"), big_body(BIG_LEN)).unwrap();
        let site = Site::new(dir.path().to_path_buf()).unwrap();
        let settings = H1Settings::default();
        let now = Instant::from_micros(1_000_000);
        let conn = make(now, &settings);
        Server {
            _dir: dir,
            site,
            settings,
            date: DateCache::new(NOW_UNIX),
            log: AccessLog::new(true),
            now,
            conn,
            out_size: 7000,
        }
    }

    fn ctx(&mut self) -> (ServeCtx<'_>, &mut Proto) {
        (
            ServeCtx {
                site: &mut self.site,
                settings: &self.settings,
                date: &self.date,
                now_unix_secs: NOW_UNIX,
                now: self.now,
                log: &mut self.log,
                peer: PEER,
            },
            &mut self.conn,
        )
    }

    /// Offers `rx` (the socket's receive queue) and drains what was taken.
    /// Returns whether anything was consumed.
    fn input(&mut self, rx: &mut Vec<u8>) -> bool {
        if rx.is_empty() {
            return false;
        }
        let now = self.now;
        let (mut ctx, conn) = self.ctx();
        let n = conn.handle_input(now, rx, &mut ctx);
        rx.drain(..n);
        n > 0
    }

    /// Everything the connection wants to send now.
    fn output(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut out = vec![0u8; self.out_size];
        let (mut ctx, conn) = self.ctx();
        while conn.wants_transmit() {
            let n = conn.poll_transmit(&mut ctx, &mut out);
            if n == 0 {
                break;
            }
            all.extend_from_slice(&out[..n]);
        }
        all
    }
}

// -- TLS -------------------------------------------------------------------

fn tls_server(version: &'static rustls::SupportedProtocolVersion) -> (Server, ClientConnection) {
    tls_server_alpn(version, &[b"http/1.1"])
}

fn tls_server_alpn(
    version: &'static rustls::SupportedProtocolVersion,
    alpn: &[&[u8]],
) -> (Server, ClientConnection) {
    let (cert, key) = crate::tls_setup::generate(Ipv4Addr::new(10, 7, 0, 2)).unwrap();
    let server_config = crate::tls_setup::config_for(cert.clone(), key).unwrap();
    let client = client_for(cert, version, alpn);
    let server = Server::new(|now, settings| {
        Proto::Tls(Box::new(
            TlsConn::new(now, server_config, settings, Http2Keys::default()).unwrap(),
        ))
    });
    (server, client)
}

fn client_for(
    cert: CertificateDer<'static>,
    version: &'static rustls::SupportedProtocolVersion,
    alpn: &[&[u8]],
) -> ClientConnection {
    let config = client_config(cert, version, alpn);
    ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap()
}

fn client_config(
    cert: CertificateDer<'static>,
    version: &'static rustls::SupportedProtocolVersion,
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Moves records both ways until neither side has anything to say;
/// returns the plaintext the client received.
fn tls_exchange(server: &mut Server, client: &mut ClientConnection) -> Vec<u8> {
    let mut plain = Vec::new();
    let mut to_server = Vec::new();
    for _ in 0..10_000 {
        let mut progress = false;
        while client.wants_write() {
            client.write_tls(&mut to_server).unwrap();
        }
        progress |= server.input(&mut to_server);
        let from_server = server.output();
        if !from_server.is_empty() {
            progress = true;
            let mut rd = &from_server[..];
            while !rd.is_empty() {
                client.read_tls(&mut rd).unwrap();
                client.process_new_packets().unwrap();
                read_plain(client, &mut plain);
            }
        }
        read_plain(client, &mut plain);
        if !progress && !client.wants_write() {
            break;
        }
    }
    plain
}

fn read_plain(client: &mut ClientConnection, plain: &mut Vec<u8>) {
    let mut buf = [0u8; 16384];
    loop {
        match client.reader().read(&mut buf) {
            Ok(0) => break,
            Ok(n) => plain.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
}

/// Splits an HTTP/1.1 response into head and body.
fn split_response(bytes: &[u8]) -> (String, &[u8]) {
    let at = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    (
        String::from_utf8_lossy(&bytes[..at]).into_owned(),
        &bytes[at + 4..],
    )
}

fn tls_outcome(server: &mut Server) -> Option<super::tls::Outcome> {
    match &mut server.conn {
        Proto::Tls(t) => t.take_outcome(),
        Proto::Plain(_) => None,
    }
}

#[test]
fn tls13_and_tls12_serve_http1_byte_exact() {
    for (version, tls13) in [
        (&rustls::version::TLS13, true),
        (&rustls::version::TLS12, false),
    ] {
        let (mut server, mut client) = tls_server(version);
        client
            .writer()
            .write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let got = tls_exchange(&mut server, &mut client);
        let (head, body) = split_response(&got);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(body, INDEX);
        assert_eq!(
            tls_outcome(&mut server),
            Some(super::tls::Outcome::Done {
                tls13,
                resumed: false,
                h2: false
            })
        );
        assert_eq!(client.alpn_protocol(), Some(&b"http/1.1"[..]));

        // A large file on the same connection, then close_notify.
        client
            .writer()
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let got = tls_exchange(&mut server, &mut client);
        let (head, body) = split_response(&got);
        assert!(
            head.contains(&format!("Content-Length: {BIG_LEN}")),
            "{head}"
        );
        assert!(
            body == big_body(BIG_LEN),
            "big body differs ({} bytes)",
            body.len()
        );
        assert_eq!(server.conn.close_state(), CloseState::CloseAfterFlush);
        assert!(!server.conn.wants_transmit());
        // The client saw close_notify.
        let mut buf = [0u8; 1];
        assert_eq!(client.reader().read(&mut buf).unwrap(), 0);
    }
}

#[test]
fn pipelined_requests_in_one_record_are_all_answered() {
    let (mut server, mut client) = tls_server(&rustls::version::TLS13);
    let mut three = Vec::new();
    for _ in 0..3 {
        three.extend_from_slice(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n");
    }
    client.writer().write_all(&three).unwrap();
    let got = tls_exchange(&mut server, &mut client);
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
}

#[test]
fn garbage_gets_an_alert_and_a_close_and_is_counted() {
    let (mut server, _client) = tls_server(&rustls::version::TLS13);
    let mut rx = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    server.input(&mut rx);
    assert!(rx.is_empty());
    let out = server.output();
    // An alert record (content type 21), then nothing more.
    assert_eq!(out.first(), Some(&21), "{out:?}");
    assert_eq!(tls_outcome(&mut server), Some(super::tls::Outcome::Failed));
    assert_eq!(tls_outcome(&mut server), None);
    // The rest of the request is read and discarded for a while, then the
    // connection closes.
    let mut rx = b"more request bytes".to_vec();
    server.input(&mut rx);
    assert!(rx.is_empty());
    assert!(server.output().is_empty());
    assert_eq!(server.conn.close_state(), CloseState::Open);
    let at = server.conn.poll_timeout().unwrap();
    assert_eq!(at, server.now + super::tls::LINGER);
    server.now = at;
    let now = server.now;
    let (mut ctx, conn) = server.ctx();
    conn.handle_timeout(now, &mut ctx);
    assert_eq!(server.conn.close_state(), CloseState::CloseAfterFlush);
    assert!(!server.conn.wants_transmit());
}

#[test]
fn handshake_times_out() {
    let (mut server, _client) = tls_server(&rustls::version::TLS13);
    let at = server.conn.poll_timeout().expect("a handshake deadline");
    server.now = at;
    let now = server.now;
    let (mut ctx, conn) = server.ctx();
    conn.handle_timeout(now, &mut ctx);
    assert_eq!(server.conn.close_state(), CloseState::Timeout);
    assert_eq!(
        tls_outcome(&mut server),
        Some(super::tls::Outcome::Abandoned)
    );
}

#[test]
fn tls_resumes_with_a_ticket() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let (cert, key) = crate::tls_setup::generate(Ipv4Addr::new(10, 7, 0, 2)).unwrap();
        let server_config = crate::tls_setup::config_for(cert.clone(), key).unwrap();
        let config = client_config(cert, version, &[b"http/1.1"]);
        for resumed in [false, true] {
            let mut client =
                ClientConnection::new(config.clone(), ServerName::try_from("localhost").unwrap())
                    .unwrap();
            let mut server = Server::new(|now, settings| {
                Proto::Tls(Box::new(
                    TlsConn::new(now, server_config.clone(), settings, Http2Keys::default())
                        .unwrap(),
                ))
            });
            client
                .writer()
                .write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let got = tls_exchange(&mut server, &mut client);
            assert_eq!(split_response(&got).1, INDEX);
            match tls_outcome(&mut server) {
                Some(super::tls::Outcome::Done { resumed: r, .. }) => {
                    assert_eq!(r, resumed, "{version:?}")
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

// -- HTTP/2 ----------------------------------------------------------------

#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// How the h2 client's bytes reach the server: directly (h2c) or through
/// a rustls client (h2 over TLS).
enum Transport {
    Plain,
    Tls(Box<ClientConnection>),
}

/// An `h2` client driven by hand against a [`Server`].
struct H2Client {
    pipe: Pipe,
    transport: Transport,
    conn: Pin<Box<h2::client::Connection<Pipe, Bytes>>>,
    send: h2::client::SendRequest<Bytes>,
    waker: Waker,
}

impl H2Client {
    fn connect(
        server: &mut Server,
        transport: Transport,
        builder: h2::client::Builder,
    ) -> H2Client {
        let pipe = Pipe::default();
        let waker = Waker::from(Arc::new(Flag::default()));
        let mut hs = Box::pin(builder.handshake::<Pipe, Bytes>(pipe.clone()));
        let mut transport = transport;
        let mut result = None;
        for _ in 0..1000 {
            let mut cx = Context::from_waker(&waker);
            if let Poll::Ready(r) = hs.as_mut().poll(&mut cx) {
                result = Some(r.unwrap());
                break;
            }
            move_bytes(server, &pipe, &mut transport);
        }
        let (send, conn) = result.expect("h2 client handshake");
        H2Client {
            pipe,
            transport,
            conn: Box::pin(conn),
            send,
            waker,
        }
    }

    /// Runs until `done` or nothing moves any more.
    fn run_until(&mut self, server: &mut Server, mut done: impl FnMut(&mut Context<'_>) -> bool) {
        let waker = self.waker.clone();
        for _ in 0..100_000 {
            let mut cx = Context::from_waker(&waker);
            if let Poll::Ready(r) = self.conn.as_mut().poll(&mut cx) {
                r.expect("client connection");
            }
            if done(&mut cx) {
                return;
            }
            let moved = move_bytes(server, &self.pipe, &mut self.transport);
            let mut cx = Context::from_waker(&waker);
            let _ = self.conn.as_mut().poll(&mut cx);
            if done(&mut cx) {
                return;
            }
            if !moved && self.pipe.pending_tx() == 0 {
                // Give the client one more turn, then give up.
                let _ = self.conn.as_mut().poll(&mut cx);
                if !move_bytes(server, &self.pipe, &mut self.transport) && done(&mut cx) {
                    return;
                }
            }
        }
        panic!("h2 exchange did not finish");
    }

    /// Sends `req` and returns the response head and the whole body.
    fn get(
        &mut self,
        server: &mut Server,
        req: http::Request<()>,
    ) -> (http::response::Parts, Vec<u8>) {
        let mut send = self.send.clone();
        let mut ready = false;
        self.run_until(server, |cx| {
            ready = matches!(send.poll_ready(cx), Poll::Ready(Ok(())));
            ready
        });
        let (mut fut, _) = send.send_request(req, true).unwrap();
        let mut head = None;
        self.run_until(server, |cx| match Pin::new(&mut fut).poll(cx) {
            Poll::Ready(r) => {
                head = Some(r.expect("response"));
                true
            }
            Poll::Pending => false,
        });
        let (parts, mut body) = head.unwrap().into_parts();
        let mut bytes = Vec::new();
        let mut finished = body.is_end_stream();
        if !finished {
            self.run_until(server, |cx| loop {
                match body.poll_data(cx) {
                    Poll::Ready(Some(Ok(d))) => {
                        let _ = body.flow_control().release_capacity(d.len());
                        bytes.extend_from_slice(&d);
                    }
                    Poll::Ready(Some(Err(e))) => panic!("body: {e}"),
                    Poll::Ready(None) => {
                        finished = true;
                        return true;
                    }
                    Poll::Pending => return false,
                }
            });
        }
        assert!(finished);
        (parts, bytes)
    }
}

/// Client's pipe → (TLS) → server → (TLS) → client's pipe. True if any
/// byte moved.
fn move_bytes(server: &mut Server, pipe: &Pipe, transport: &mut Transport) -> bool {
    let mut moved = false;
    let mut from_client = pipe.take_tx();
    match transport {
        Transport::Plain => {
            let mut rx = std::mem::take(&mut from_client);
            moved |= !rx.is_empty();
            while server.input(&mut rx) {}
            // Whatever the server did not take goes back first in line.
            pipe.unread_tx(rx);
            let out = server.output();
            moved |= !out.is_empty();
            pipe.give_rx(&out);
        }
        Transport::Tls(client) => {
            if !from_client.is_empty() {
                client.writer().write_all(&from_client).unwrap();
                moved = true;
            }
            let mut rx = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut rx).unwrap();
            }
            while server.input(&mut rx) {}
            assert!(rx.is_empty(), "server left TLS bytes unread in this test");
            let out = server.output();
            moved |= !out.is_empty();
            let mut rd = &out[..];
            let mut plain = Vec::new();
            while !rd.is_empty() {
                client.read_tls(&mut rd).unwrap();
                client.process_new_packets().unwrap();
                read_plain(client, &mut plain);
            }
            read_plain(client, &mut plain);
            pipe.give_rx(&plain);
        }
    }
    moved
}

fn h2c_server() -> Server {
    Server::new(|now, settings| {
        Proto::Plain(HttpConn::h1(now, settings, Some(&Http2Keys::default())))
    })
}

fn get(path: &str) -> http::Request<()> {
    http::Request::get(format!("http://localhost{path}"))
        .body(())
        .unwrap()
}

#[test]
fn h2c_prior_knowledge_serves_byte_exact_bodies() {
    let mut server = h2c_server();
    let mut client = H2Client::connect(&mut server, Transport::Plain, h2::client::Builder::new());
    let (head, body) = client.get(&mut server, get("/index.html"));
    assert!(server.conn.is_h2());
    assert_eq!(head.status, 200);
    assert_eq!(body, INDEX);
    assert_eq!(
        head.headers["content-length"],
        INDEX.len().to_string().as_str()
    );
    assert_eq!(head.headers["server"], "tapir");
    let etag = head.headers["etag"].clone();

    let (head, body) = client.get(&mut server, get("/big.bin"));
    assert_eq!(head.status, 200);
    assert!(
        body == big_body(BIG_LEN),
        "big body differs ({} bytes)",
        body.len()
    );

    // Validators, ranges and errors come from the same response code.
    let mut req = get("/index.html");
    req.headers_mut().insert("if-none-match", etag);
    let (head, body) = client.get(&mut server, req);
    assert_eq!(head.status, 304);
    assert!(body.is_empty());
    let mut req = get("/big.bin");
    req.headers_mut()
        .insert("range", "bytes=100-199".parse().unwrap());
    let (head, body) = client.get(&mut server, req);
    assert_eq!(head.status, 206);
    assert_eq!(body, &big_body(BIG_LEN)[100..200]);
    let (head, _) = client.get(&mut server, get("/missing"));
    assert_eq!(head.status, 404);
    let mut req = get("/index.html");
    *req.method_mut() = http::Method::HEAD;
    let (head, body) = client.get(&mut server, req);
    assert_eq!(head.status, 200);
    assert!(body.is_empty());
    let log = String::from_utf8_lossy(server.log.pending()).into_owned();
    assert!(
        log.contains("\"GET /big.bin HTTP/2.0\" 200 700001"),
        "{log}"
    );
}

#[test]
fn h2_respects_small_windows_and_streams_in_chunks() {
    let mut server = h2c_server();
    let mut b = h2::client::Builder::new();
    b.initial_window_size(1000)
        .initial_connection_window_size(70_000);
    let mut client = H2Client::connect(&mut server, Transport::Plain, b);
    let (head, body) = client.get(&mut server, get("/big.bin"));
    assert_eq!(head.status, 200);
    assert!(
        body == big_body(BIG_LEN),
        "big body differs ({} bytes)",
        body.len()
    );
}

#[test]
fn h2_over_tls_by_alpn() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let (mut server, client) = tls_server_alpn(version, &[b"h2", b"http/1.1"]);
        let mut h2 = H2Client::connect(
            &mut server,
            Transport::Tls(Box::new(client)),
            h2::client::Builder::new(),
        );
        let (head, body) = h2.get(&mut server, get("/index.html"));
        assert!(server.conn.is_h2());
        assert_eq!(head.status, 200);
        assert_eq!(body, INDEX);
        let (_, body) = h2.get(&mut server, get("/big.bin"));
        assert!(body == big_body(BIG_LEN));
        assert!(matches!(
            tls_outcome(&mut server),
            Some(super::tls::Outcome::Done { h2: true, .. })
        ));
    }
}

#[test]
fn h2_many_concurrent_streams() {
    let mut server = h2c_server();
    let mut client = H2Client::connect(&mut server, Transport::Plain, h2::client::Builder::new());
    let mut futs = Vec::new();
    for i in 0..100 {
        let path = if i % 2 == 0 {
            "/index.html"
        } else {
            "/big.bin"
        };
        let mut send = client.send.clone();
        client.run_until(&mut server, |cx| {
            matches!(send.poll_ready(cx), Poll::Ready(Ok(())))
        });
        futs.push((path, send.send_request(get(path), true).unwrap().0));
    }
    let mut bodies: Vec<Option<(&str, h2::RecvStream, Vec<u8>)>> = Vec::new();
    for (path, mut fut) in futs {
        let mut resp = None;
        client.run_until(&mut server, |cx| match Pin::new(&mut fut).poll(cx) {
            Poll::Ready(r) => {
                resp = Some(r.unwrap());
                true
            }
            Poll::Pending => false,
        });
        bodies.push(Some((path, resp.unwrap().into_body(), Vec::new())));
    }
    let mut left = bodies.len();
    let mut done = Vec::new();
    client.run_until(&mut server, |cx| {
        for slot in bodies.iter_mut() {
            if let Some((_, body, bytes)) = slot {
                loop {
                    match body.poll_data(cx) {
                        Poll::Ready(Some(Ok(d))) => {
                            let _ = body.flow_control().release_capacity(d.len());
                            bytes.extend_from_slice(&d);
                        }
                        Poll::Ready(None) => {
                            let (path, _, bytes) = slot.take().unwrap();
                            done.push((path, bytes));
                            left -= 1;
                            break;
                        }
                        Poll::Ready(Some(Err(e))) => panic!("{e}"),
                        Poll::Pending => break,
                    }
                }
            }
        }
        left == 0
    });
    let big = big_body(BIG_LEN);
    for (path, bytes) in done {
        if path == "/big.bin" {
            assert!(bytes == big);
        } else {
            assert_eq!(bytes, INDEX);
        }
    }
}

#[test]
fn plain_port_without_preface_stays_http1() {
    let mut server = h2c_server();
    // A proper prefix of the preface is kept in the socket.
    let mut rx = b"PRI * HTTP/2".to_vec();
    assert!(!server.input(&mut rx));
    assert_eq!(rx.len(), 12);
    let mut rx = b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
    server.input(&mut rx);
    let out = server.output();
    let (head, body) = split_response(&out);
    assert!(head.starts_with("HTTP/1.1 200 OK"));
    assert_eq!(body, INDEX);
    assert!(!server.conn.is_h2());
}

#[test]
fn h2_idle_timeout_sends_goaway_and_closes() {
    let mut server = h2c_server();
    let mut client = H2Client::connect(&mut server, Transport::Plain, h2::client::Builder::new());
    let (head, _) = client.get(&mut server, get("/index.html"));
    assert_eq!(head.status, 200);
    let at = server.conn.poll_timeout().expect("idle deadline");
    assert_eq!(at, server.now + Duration::from_secs(180));
    server.now = at;
    let now = server.now;
    let (mut ctx, conn) = server.ctx();
    conn.handle_timeout(now, &mut ctx);
    let out = server.output();
    // A GOAWAY frame (type 7) with NO_ERROR.
    assert!(out.len() >= 17 && out[3] == 7, "{out:?}");
    client.pipe.give_rx(&out);
    // The client answers h2's PING; then the final GOAWAY and the close.
    let waker = client.waker.clone();
    for _ in 0..20 {
        let mut cx = Context::from_waker(&waker);
        let _ = client.conn.as_mut().poll(&mut cx);
        move_bytes(&mut server, &client.pipe, &mut client.transport);
    }
    assert_eq!(server.conn.close_state(), CloseState::CloseAfterFlush);
    assert!(!server.conn.wants_transmit());
}

// -- raw frames (h2spec-style checks of what is ours, not the crate's) -----

/// One frame: length, type, flags, stream id, payload (RFC 9113 §4.1).
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// `GET /index.html` as an HPACK block of static-table references and one
/// literal (RFC 7541 §6.1, §6.2.2).
fn get_index_block() -> Vec<u8> {
    let mut b = vec![0x82, 0x86, 0x04, 11];
    b.extend_from_slice(b"/index.html");
    b.extend_from_slice(&[0x01, 9]);
    b.extend_from_slice(b"localhost");
    b
}

/// The frames in `bytes`: (type, flags, stream, payload).
fn frames(bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 9 <= bytes.len() {
        let len = (usize::from(bytes[at]) << 16)
            | (usize::from(bytes[at + 1]) << 8)
            | usize::from(bytes[at + 2]);
        let stream = u32::from_be_bytes(bytes[at + 5..at + 9].try_into().unwrap()) & 0x7fff_ffff;
        out.push((
            bytes[at + 3],
            bytes[at + 4],
            stream,
            bytes[at + 9..at + 9 + len].to_vec(),
        ));
        at += 9 + len;
    }
    out
}

/// Sends the preface, `settings` and `rest`; returns the frames answered.
fn raw_h2(
    server: &mut Server,
    settings: &[(u16, u32)],
    rest: &[u8],
) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut rx = super::H2_PREFACE.to_vec();
    let mut p = Vec::new();
    for (id, v) in settings {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    rx.extend(frame(4, 0, 0, &p));
    rx.extend(frame(4, 1, 0, &[]));
    rx.extend_from_slice(rest);
    while server.input(&mut rx) {}
    assert!(rx.is_empty());
    frames(&server.output())
}

#[test]
fn window_of_one_byte_gets_a_one_byte_data_frame() {
    // h2spec 6.9.1: SETTINGS_INITIAL_WINDOW_SIZE = 1, then a request.
    let mut server = h2c_server();
    let got = raw_h2(
        &mut server,
        &[(4, 1)],
        &frame(1, 0x5, 1, &get_index_block()),
    );
    let data: Vec<_> = got.iter().filter(|f| f.0 == 0 && f.2 == 1).collect();
    assert_eq!(data.len(), 1, "{got:?}");
    assert_eq!(data[0].3, &INDEX[..1]);
    assert!(
        got.iter().any(|f| f.0 == 1 && f.2 == 1),
        "HEADERS expected: {got:?}"
    );
    // A WINDOW_UPDATE lets the rest through, byte-exact.
    let mut rx = frame(8, 0, 1, &1_000_000u32.to_be_bytes());
    rx.extend(frame(8, 0, 0, &1_000_000u32.to_be_bytes()));
    while server.input(&mut rx) {}
    let more = frames(&server.output());
    let rest: Vec<u8> = more
        .iter()
        .filter(|f| f.0 == 0)
        .flat_map(|f| f.3.clone())
        .collect();
    assert_eq!(rest, &INDEX[1..]);
    assert!(
        more.iter().any(|f| f.0 == 0 && f.1 & 1 == 1),
        "END_STREAM expected"
    );
}

#[test]
fn window_raised_after_headers_releases_data() {
    // h2spec 6.9.2: window 0, request, then SETTINGS raising it to 1.
    let mut server = h2c_server();
    let got = raw_h2(
        &mut server,
        &[(4, 0)],
        &frame(1, 0x5, 1, &get_index_block()),
    );
    assert!(
        got.iter().all(|f| f.0 != 0),
        "no DATA with a zero window: {got:?}"
    );
    let mut p = 4u16.to_be_bytes().to_vec();
    p.extend_from_slice(&1u32.to_be_bytes());
    let mut rx = frame(4, 0, 0, &p);
    while server.input(&mut rx) {}
    let got = frames(&server.output());
    let data: Vec<_> = got.iter().filter(|f| f.0 == 0).collect();
    assert_eq!(data.len(), 1, "{got:?}");
    assert_eq!(data[0].3.len(), 1);
}

#[test]
fn streams_over_the_limit_are_refused() {
    // h2spec 5.1.2: with window 0 no response can finish; stream 129 is
    // one too many.
    let mut server = h2c_server();
    let mut rest = Vec::new();
    for i in 0..=128u32 {
        rest.extend(frame(1, 0x5, 1 + 2 * i, &get_index_block()));
    }
    let got = raw_h2(&mut server, &[(4, 0)], &rest);
    let resets: Vec<_> = got.iter().filter(|f| f.0 == 3).collect();
    assert_eq!(resets.len(), 1, "{got:?}");
    let code = u32::from_be_bytes(resets[0].3[..4].try_into().unwrap());
    assert!(
        code == 0x7 || code == 0x1,
        "REFUSED_STREAM or PROTOCOL_ERROR, got {code}"
    );
    assert_eq!(resets[0].2, 1 + 2 * 128);
}

#[test]
fn ping_is_acknowledged_and_post_gets_an_answer() {
    let mut server = h2c_server();
    let mut rest = frame(6, 0, 0, b"12345678");
    // POST with a body: 405 comes back; the body's window is released.
    let mut block = vec![0x83, 0x86, 0x84, 0x01, 9];
    block.extend_from_slice(b"localhost");
    rest.extend(frame(1, 0x4, 1, &block));
    rest.extend(frame(0, 0x1, 1, &[b'x'; 100]));
    let got = raw_h2(&mut server, &[], &rest);
    assert!(
        got.iter()
            .any(|f| f.0 == 6 && f.1 == 1 && f.3 == b"12345678"),
        "{got:?}"
    );
    assert!(
        got.iter().any(|f| f.0 == 1 && f.2 == 1),
        "HEADERS expected: {got:?}"
    );
    let body: Vec<u8> = got
        .iter()
        .filter(|f| f.0 == 0 && f.2 == 1)
        .flat_map(|f| f.3.clone())
        .collect();
    assert_eq!(body, crate::respond::page(405).as_bytes());
}

#[test]
fn graceful_shutdown_lets_open_streams_finish() {
    let mut server = h2c_server();
    let got = raw_h2(
        &mut server,
        &[(4, 0)],
        &frame(1, 0x5, 1, &get_index_block()),
    );
    assert!(got.iter().all(|f| f.0 != 0));
    let now = server.now;
    let (mut ctx, conn) = server.ctx();
    conn.shutdown(now, &mut ctx);
    let got = frames(&server.output());
    assert!(got.iter().any(|f| f.0 == 7), "GOAWAY expected: {got:?}");
    assert_eq!(server.conn.close_state(), CloseState::Open);
    // The open stream still completes once the window allows.
    let mut p = 4u16.to_be_bytes().to_vec();
    p.extend_from_slice(&65535u32.to_be_bytes());
    let mut rx = frame(4, 0, 0, &p);
    // h2's graceful shutdown waits for a PING round trip.
    rx.extend(frame(
        6,
        1,
        0,
        &[0x0b, 0x7b, 0xa2, 0xf0, 0x8b, 0x9b, 0xfe, 0x54],
    ));
    while server.input(&mut rx) {}
    let got = frames(&server.output());
    let body: Vec<u8> = got
        .iter()
        .filter(|f| f.0 == 0)
        .flat_map(|f| f.3.clone())
        .collect();
    assert_eq!(body, INDEX, "{got:?}");
}

#[test]
fn a_request_is_answered_when_it_ends_and_its_stream_stays_open_meanwhile() {
    // HEADERS without END_STREAM: no answer yet, and the stream is open, so
    // a window overflow on it is the stream's error (RFC 9113 §6.9.1,
    // h2spec 6.9.1/3).
    let mut server = h2c_server();
    let got = raw_h2(&mut server, &[], &frame(1, 0x4, 1, &get_index_block()));
    assert!(
        got.iter().all(|f| f.0 != 1 && f.0 != 0),
        "no answer yet: {got:?}"
    );
    assert_eq!(
        server.conn.poll_timeout(),
        Some(server.now + Duration::from_secs(180)),
        "waiting for a request body is idle, not a stalled send"
    );
    let mut rx = frame(8, 0, 1, &0x7fff_ffffu32.to_be_bytes());
    rx.extend(frame(8, 0, 1, &0x7fff_ffffu32.to_be_bytes()));
    while server.input(&mut rx) {}
    let got = frames(&server.output());
    let rst = got.iter().find(|f| f.0 == 3).expect("RST_STREAM");
    assert_eq!(u32::from_be_bytes(rst.3[..4].try_into().unwrap()), 0x3);

    // Another request whose body ends: answered then, byte-exact.
    let mut rx = frame(1, 0x4, 3, &get_index_block());
    rx.extend(frame(0, 0x0, 3, b"abc"));
    while server.input(&mut rx) {}
    assert!(frames(&server.output()).iter().all(|f| f.2 != 3));
    let mut rx = frame(0, 0x1, 3, b"def");
    while server.input(&mut rx) {}
    let got = frames(&server.output());
    assert!(got.iter().any(|f| f.0 == 1 && f.2 == 3), "{got:?}");
    let body: Vec<u8> = got
        .iter()
        .filter(|f| f.0 == 0 && f.2 == 3)
        .flat_map(|f| f.3.clone())
        .collect();
    assert_eq!(body, INDEX);
}

#[test]
fn a_request_body_over_max_body_size_is_413() {
    let mut server = h2c_server();
    server.settings.max_body_size = 100;
    let mut rest = frame(1, 0x4, 1, &get_index_block());
    rest.extend(frame(0, 0x0, 1, &[b'x'; 150]));
    let got = raw_h2(&mut server, &[], &rest);
    let body: Vec<u8> = got
        .iter()
        .filter(|f| f.0 == 0 && f.2 == 1)
        .flat_map(|f| f.3.clone())
        .collect();
    assert_eq!(body, crate::respond::page(413).as_bytes());
}

#[test]
fn tls_without_alpn_takes_prior_knowledge_http2() {
    let (mut server, client) = tls_server_alpn(&rustls::version::TLS13, &[]);
    let mut h2 = H2Client::connect(
        &mut server,
        Transport::Tls(Box::new(client)),
        h2::client::Builder::new(),
    );
    let (head, body) = h2.get(&mut server, get("/index.html"));
    assert_eq!(head.status, 200);
    assert_eq!(body, INDEX);
    assert!(server.conn.is_h2());
}

#[test]
fn h2_large_windows_and_socket_sized_writes_never_stall() {
    // h2load's shape: 1 GiB windows (no WINDOW_UPDATE ever needed), several
    // large bodies at once, and writes as large as the transmit side, so a
    // write can drain it exactly; the next pieces must still be fed.
    for out_size in [super::h2::TX_HIGH, 4096, 65536] {
        let mut server = h2c_server();
        server.out_size = out_size;
        let mut b = h2::client::Builder::new();
        b.initial_window_size((1 << 30) - 1)
            .initial_connection_window_size((1 << 30) - 1);
        let mut client = H2Client::connect(&mut server, Transport::Plain, b);
        let mut futs = Vec::new();
        for _ in 0..8 {
            let mut send = client.send.clone();
            client.run_until(&mut server, |cx| {
                matches!(send.poll_ready(cx), Poll::Ready(Ok(())))
            });
            futs.push(send.send_request(get("/big.bin"), true).unwrap().0);
        }
        let big = big_body(BIG_LEN);
        for mut fut in futs {
            let mut resp = None;
            client.run_until(&mut server, |cx| match Pin::new(&mut fut).poll(cx) {
                Poll::Ready(r) => {
                    resp = Some(r.unwrap());
                    true
                }
                Poll::Pending => false,
            });
            let mut body = resp.unwrap().into_body();
            let mut bytes = Vec::new();
            client.run_until(&mut server, |cx| loop {
                match body.poll_data(cx) {
                    Poll::Ready(Some(Ok(d))) => {
                        let _ = body.flow_control().release_capacity(d.len());
                        bytes.extend_from_slice(&d);
                    }
                    Poll::Ready(None) => return true,
                    Poll::Ready(Some(Err(e))) => panic!("{e}"),
                    Poll::Pending => return false,
                }
            });
            assert!(bytes == big, "out_size {out_size}: {} bytes", bytes.len());
        }
    }
}

#[test]
fn tls_makes_progress_in_any_room() {
    // The driver offers the send ring's contiguous free space, which can be
    // a few bytes at the wrap; every call must still move the stream on.
    for out_size in [1, 100, 511, 4100, 16_500] {
        let (mut server, mut client) = tls_server(&rustls::version::TLS13);
        server.out_size = out_size;
        client
            .writer()
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let got = tls_exchange(&mut server, &mut client);
        let (_, body) = split_response(&got);
        assert!(
            body == big_body(BIG_LEN),
            "out_size {out_size}: {} bytes",
            body.len()
        );
    }
}
