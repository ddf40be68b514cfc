//! `idle_conns`: open many keep-alive HTTP/1.1 connections, make one request
//! on each, then hold them all idle, so a script can measure what an idle
//! connection costs the server (see `benches/idle_mem.sh`).
//!
//! ```text
//! idle_conns ADDR[:PORT] COUNT [PATH] [HOLD_SECS]
//! ```
//!
//! For each of COUNT connections: connect, send `GET PATH` (default
//! `/1k.html`), read the whole response (by `Content-Length`) and keep the
//! socket open. Then print `ready OPEN FAILED` on stdout and hold the
//! sockets for HOLD_SECS (default 60) or until killed. Exits 1 if nothing
//! could be opened. Standard library only; blocking sockets, one at a time.

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

/// Upper bound on a response head we are willing to buffer.
const MAX_HEAD: usize = 16 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, count) = match (
        args.first(),
        args.get(1).and_then(|c| c.parse::<usize>().ok()),
    ) {
        (Some(a), Some(c)) => (a.clone(), c),
        _ => {
            eprintln!("usage: idle_conns ADDR[:PORT] COUNT [PATH] [HOLD_SECS]");
            return ExitCode::from(2);
        }
    };
    let path = args.get(2).map_or("/1k.html", String::as_str);
    let hold = args
        .get(3)
        .and_then(|h| h.parse().ok())
        .map_or(Duration::from_secs(60), Duration::from_secs);

    let target = match resolve(&addr) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("idle_conns: {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    let host = target.ip().to_string();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: idle_conns\r\n\r\n");

    let mut open = Vec::with_capacity(count);
    let mut failed = 0usize;
    let mut first_error = None;
    for _ in 0..count {
        match open_one(target, request.as_bytes()) {
            Ok(stream) => open.push(stream),
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        eprintln!("idle_conns: {failed} of {count} connections failed; first error: {e}");
    }
    println!("ready {} {failed}", open.len());
    let _ = io::stdout().flush();
    if open.is_empty() {
        return ExitCode::from(1);
    }
    thread::sleep(hold);
    drop(open);
    ExitCode::SUCCESS
}

fn resolve(addr: &str) -> io::Result<SocketAddr> {
    let with_port = if addr.contains(':') {
        addr.to_owned()
    } else {
        format!("{addr}:80")
    };
    with_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
}

/// Connect, send `request`, read one full response, return the open socket.
fn open_one(target: SocketAddr, request: &[u8]) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(request)?;
    read_response(&mut stream)?;
    Ok(stream)
}

/// Read a response head and a `Content-Length` body; fail on anything else.
fn read_response(stream: &mut TcpStream) -> io::Result<()> {
    let mut reader = io::BufReader::new(&mut *stream);
    let mut head_len = 0;
    let mut content_length = None;
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    if !status_line.starts_with("HTTP/1.1 200") {
        return Err(bad(format!("unexpected status line {status_line:?}")));
    }
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        head_len += n;
        if n == 0 {
            return Err(bad("connection closed inside the response head".into()));
        }
        if head_len > MAX_HEAD {
            return Err(bad("response head too long".into()));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse::<u64>().ok();
            } else if name.eq_ignore_ascii_case("connection")
                && value.trim().eq_ignore_ascii_case("close")
            {
                return Err(bad("server answered Connection: close".into()));
            }
        }
    }
    let len = content_length.ok_or_else(|| bad("response without Content-Length".into()))?;
    let copied = io::copy(&mut reader.by_ref().take(len), &mut io::sink())?;
    if copied != len {
        return Err(bad(format!("body ended after {copied} of {len} bytes")));
    }
    // The BufReader read only what the response needed, unless the server
    // sent more than one response: that would be a protocol error anyway.
    if !reader.buffer().is_empty() {
        return Err(bad("bytes after the response".into()));
    }
    Ok(())
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}
