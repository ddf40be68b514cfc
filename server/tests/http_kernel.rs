//! Kernel tests of HTTP/1.1 message handling: limits (414, 431, 413),
//! timeouts (408), request bodies and `Expect: 100-continue`, smuggling
//! attempts, pipelining, keep-alive limits, HEAD and the access log, all
//! against the real `tapir` binary from the namespace's kernel TCP with
//! `curl` and raw sockets (bash's `/dev/tcp`).
//!
//! Each test has its own namespace (see `common/mod.rs`); they need root and
//! print "skipped" without it.

#[macro_use]
mod common;

use std::fs;
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::{curl, default_config, now, www_file, Netns, Tapir, TempDir, TAPIR_ADDR};

fn url(path: &str) -> String {
    format!("http://{TAPIR_ADDR}{path}")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The default test configuration with more `[http]` keys (the table is
/// the last one in it).
fn config_with(http_keys: &str) -> String {
    format!("{}{http_keys}\n", default_config())
}

/// Opens a TCP connection to tapir from the namespace, writes `request`
/// (a `printf` format: `\r\n` escapes work), optionally waits, then
/// prints everything tapir sends until it closes (bounded by `timeout`).
fn raw(ns: &Netns, request: &str, pause_secs: u32) -> String {
    let script = format!(
        "exec 3<>/dev/tcp/{TAPIR_ADDR}/80 || exit 1; printf '{request}' >&3; \
         sleep {pause_secs}; timeout 10 cat <&3"
    );
    let out = ns.exec(&["bash", "-c", &script]);
    text(&out.stdout)
}

/// The status code curl saw (`-w %{http_code}`), body discarded.
fn status(ns: &Netns, args: &[&str]) -> String {
    let mut argv = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    argv.extend_from_slice(args);
    let out = curl(ns, &argv);
    text(&out.stdout)
}

#[test]
fn long_request_line_is_414_and_big_header_section_431() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let long = url(&format!("/{}", "a".repeat(9000)));
    assert_eq!(status(&ns, &[&long]), "414");
    let big = format!("X-Big: {}", "b".repeat(33 * 1024));
    assert_eq!(status(&ns, &["-H", &big, &url("/")]), "431");
    let many: Vec<String> = (0..100).map(|i| format!("X-F{i}: v")).collect();
    let mut args = Vec::new();
    for h in &many {
        args.extend_from_slice(&["-H", h.as_str()]);
    }
    let target = url("/");
    args.push(&target);
    // curl adds Host, User-Agent and Accept: 103 fields.
    assert_eq!(status(&ns, &args), "431");
    // Within the limits: fine.
    assert_eq!(status(&ns, &["-H", "X-Ok: 1", &url("/")]), "200");
}

#[test]
fn configured_limits_apply() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(
        &ns,
        &config_with("max_request_line = 512\nmax_header_size = \"2k\"\nmax_headers = 10"),
    );
    assert_eq!(
        status(&ns, &[&url(&format!("/{}", "a".repeat(600)))]),
        "414"
    );
    let mid = format!("X-Mid: {}", "m".repeat(1500));
    assert_eq!(status(&ns, &["-H", &mid, &url("/")]), "200");
    let big = format!("X-Big: {}", "b".repeat(2100));
    assert_eq!(status(&ns, &["-H", &big, &url("/")]), "431");
}

#[test]
fn slow_header_section_gets_408_then_close() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with("header_timeout = \"1s\""));
    let started = now();
    let got = raw(&ns, "GET / HTTP/1.1\\r\\nHost: x\\r\\n", 2);
    assert!(
        got.starts_with("HTTP/1.1 408 Request Timeout\r\n")
            && got.contains("Connection: close\r\n"),
        "{got}"
    );
    // cat returned: tapir closed the connection (well before cat's 10 s).
    assert!(started.elapsed() < Duration::from_secs(8));
    // An idle connection that never sent a byte is closed without a word.
    let got = raw(&ns, "", 2);
    assert_eq!(got, "");
}

#[test]
fn content_length_with_transfer_encoding_is_400_and_close() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    // A classic CL.TE smuggling attempt: the "body" hides a second request.
    let got = raw(
        &ns,
        "POST / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 44\\r\\n\
         Transfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n\
         GET /index.html HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n",
        0,
    );
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    assert!(got.contains("Connection: close\r\n"), "{got}");
    assert_eq!(
        got.matches("HTTP/1.1 ").count(),
        1,
        "smuggled request answered:\n{got}"
    );
    // Differing Content-Lengths, TE not ending in chunked: the same.
    for req in [
        "POST / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 1\\r\\nContent-Length: 2\\r\\n\\r\\nab",
        "POST / HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked, gzip\\r\\n\\r\\n",
    ] {
        let got = raw(&ns, req, 0);
        assert!(
            got.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{req}: {got}"
        );
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let got = raw(
        &ns,
        "GET /index.html HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\
         GET /nope HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\
         HEAD /style.css HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n",
        0,
    );
    // Status lines (index.html itself mentions "HTTP/1.1 ").
    let statuses: Vec<&str> = got
        .match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| got.get(i + 9..i + 12))
        .filter(|code| code.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert_eq!(statuses, ["200", "404", "200"], "{got}");
    let index = text(&www_file("index.html"));
    assert!(got.contains(&index), "first body missing:\n{got}");
    assert!(got.ends_with("\r\n\r\n"), "HEAD has no body:\n{got}");
}

#[test]
fn http10_keep_alive_on_request() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let got = raw(
        &ns,
        "GET /index.html HTTP/1.0\\r\\nConnection: keep-alive\\r\\n\\r\\n\
         GET /index.html HTTP/1.0\\r\\n\\r\\n",
        0,
    );
    assert_eq!(got.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{got}");
    let first = got.find("Connection: keep-alive\r\n").expect("keep-alive");
    let second = got.find("Connection: close\r\n").expect("close");
    assert!(first < second, "{got}");
}

#[test]
fn keepalive_requests_limit_closes_after_the_last() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(
        &ns,
        &default_config().replace("keepalive_requests = 1000", "keepalive_requests = 2"),
    );
    let out = curl(&ns, &["-v", "--fail", &url("/"), &url("/"), &url("/")]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let close = stderr
        .find("< Connection: close")
        .expect("second response closes");
    let responses: Vec<usize> = stderr
        .match_indices("< HTTP/1.1 200")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(responses.len(), 3, "{stderr}");
    assert!(responses[1] < close && close < responses[2], "{stderr}");
    assert_eq!(stderr.matches("Connected to").count(), 2, "{stderr}");
}

#[test]
fn body_over_max_body_size_is_413() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config_with("max_body_size = \"1k\""));
    // Declared and refused before it is sent.
    let got = raw(
        &ns,
        "POST /index.html HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 5000\\r\\n\\r\\n",
        0,
    );
    assert!(
        got.starts_with("HTTP/1.1 413 Content Too Large\r\n"),
        "{got}"
    );
    assert!(got.contains("Connection: close\r\n"), "{got}");
    // curl holding the body back behind Expect: 100-continue.
    let dir = TempDir::new("tapir-test-body");
    let file = dir.path().join("body.bin");
    fs::write(&file, vec![b'x'; 4096]).expect("write body");
    let data = format!("@{}", file.display());
    assert_eq!(
        status(
            &ns,
            &[
                "-H",
                "Expect: 100-continue",
                "--data-binary",
                &data,
                &url("/")
            ]
        ),
        "413"
    );
    // Sent at once (no Expect): the 413 still reaches curl (tapir closes;
    // the kernel client gets the response before any reset).
    for size in [4096, 2_000_000] {
        fs::write(&file, vec![b'x'; size]).expect("write body");
        assert_eq!(
            status(&ns, &["-H", "Expect:", "--data-binary", &data, &url("/")]),
            "413",
            "{size}-byte body"
        );
    }
    // Within the limit: read and discarded, the connection stays usable.
    fs::write(&file, vec![b'x'; 1000]).expect("write body");
    let out = curl(&ns, &["-v", "--data-binary", &data, &url("/"), &url("/")]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Re-using existing connection"), "{stderr}");
}

#[test]
fn expect_100_continue_gets_interim_response() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let dir = TempDir::new("tapir-test-body");
    let file = dir.path().join("body.bin");
    fs::write(&file, vec![b'y'; 100_000]).expect("write body");
    let data = format!("@{}", file.display());
    // A GET with a body (a 405 would make curl stop sending and close).
    let out = curl(
        &ns,
        &[
            "-v",
            "-o",
            "/dev/null",
            "-X",
            "GET",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            &data,
            &url("/index.html"),
            "--next",
            "-o",
            "/dev/null",
            &url("/index.html"),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("< HTTP/1.1 100 Continue"), "{stderr}");
    // The body was sent after the 100, read and discarded; the next request
    // reuses the connection and gets its answer.
    assert!(stderr.contains("Re-using existing connection"), "{stderr}");
    assert_eq!(stderr.matches("< HTTP/1.1 200 OK").count(), 2, "{stderr}");
}

#[test]
fn head_has_headers_without_body() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let out = curl(&ns, &["-sS", "-I", &url("/index.html")]);
    let head = text(&out.stdout);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let len = www_file("index.html").len();
    assert!(
        head.contains(&format!("Content-Length: {len}\r\n")),
        "{head}"
    );
    assert!(head.ends_with("\r\n\r\n"), "{head}");
}

/// Polls `path` until it contains `needle` (bounded); returns its text.
fn wait_for_line(path: &std::path::Path, needle: &str) -> String {
    let deadline = now() + Duration::from_secs(5);
    loop {
        let got = fs::read_to_string(path).unwrap_or_default();
        if got.contains(needle) {
            return got;
        }
        assert!(
            now() < deadline,
            "{} never got {needle:?}:\n{got}",
            path.display()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn access_log_combined_format_and_reopen_on_sigusr1() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let dir = TempDir::new("tapir-test-log");
    let log = dir.path().join("access.log");
    let tapir = Tapir::start(
        &ns,
        &config_with(&format!("access_log = \"{}\"", log.display())),
    );
    let out = curl(
        &ns,
        &[
            "--fail",
            "-o",
            "/dev/null",
            "-A",
            "tapir-test/1",
            "-e",
            "http://ref/\"q",
            &url("/index.html"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let len = www_file("index.html").len();
    let want =
        format!("\"GET /index.html HTTP/1.1\" 200 {len} \"http://ref/\\x22q\" \"tapir-test/1\"\n");
    let got = wait_for_line(&log, &want);
    let line = got.lines().next().expect("a line");
    // 10.7.0.1 - - [01/Dec/2026:05:30:00 +0000] "GET ...
    assert!(line.starts_with("10.7.0.1 - - ["), "{line}");
    let time = &line[14..line.find(']').expect("]")];
    assert_eq!(time.len(), 26, "{line}");
    assert!(
        time.ends_with(" +0000") && &time[2..3] == "/" && &time[11..12] == ":",
        "{line}"
    );

    // Rotation: move the file away, SIGUSR1, and the next line goes to a new
    // file under the old name.
    let rotated = dir.path().join("access.log.1");
    fs::rename(&log, &rotated).expect("rotate");
    let _ = Command::new("kill")
        .args(["-USR1", &tapir.pid().to_string()])
        .status();
    let deadline = now() + Duration::from_secs(5);
    while !tapir.log().contains("access log reopened") {
        assert!(
            now() < deadline,
            "no reopen after SIGUSR1:\n{}",
            tapir.log()
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        log.exists(),
        "SIGUSR1 did not create a new {}",
        log.display()
    );
    assert_eq!(status(&ns, &[&url("/nope")]), "404");
    wait_for_line(&log, "\"GET /nope HTTP/1.1\" 404 ");
    let old = fs::read_to_string(&rotated).expect("rotated file");
    assert!(
        !old.contains("/nope"),
        "line went to the rotated file:\n{old}"
    );
}
