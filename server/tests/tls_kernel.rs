//! Kernel tests of TLS and HTTP/2 against real clients: `curl --http2` and
//! `--http1.1` over TLS, `curl --http2-prior-knowledge` on the plain port,
//! `openssl s_client` with TLS 1.2 and 1.3 and ALPN, `nghttp -nv`, and
//! `h2load` with many streams over TLS and h2c; the self-signed certificate
//! generated when `[tls]` names none, a configured certificate verified by
//! curl, `redirect_http`, and the handshake counters.
//!
//! Each test has its own namespace (see `common/mod.rs`); they need root and
//! print "skipped" without it.

#[macro_use]
mod common;

use std::process::Command;

use common::{curl, default_config, print_counters, www_file, Netns, Tapir, TempDir, TAPIR_ADDR};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The test configuration with a `[tls]` table (and more keys for it).
fn tls_config(tls_keys: &str) -> String {
    format!("{}\n[tls]\nport = 443\n{tls_keys}\n", default_config())
}

/// curl's body and `%{http_version}` for `args`.
fn fetch(ns: &Netns, args: &[&str]) -> (Vec<u8>, String) {
    let dir = TempDir::new("tapir-tls-body");
    let file = dir.path().join("body");
    let file = file.to_str().unwrap();
    let mut argv = vec!["-o", file, "-w", "%{http_version} %{http_code}"];
    argv.extend_from_slice(args);
    let out = curl(ns, &argv);
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        text(&out.stderr)
    );
    // No body (304): curl writes no file.
    (std::fs::read(file).unwrap_or_default(), text(&out.stdout))
}

#[test]
fn https_h2_and_http11_and_h2c_return_index_byte_exact() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let tapir = Tapir::start(&ns, &tls_config(""));
    let index = www_file("index.html");
    let https = format!("https://{TAPIR_ADDR}/");
    let (body, what) = fetch(&ns, &["-k", "--http2", &https]);
    assert_eq!(what, "2 200");
    assert!(body == index, "HTTP/2 over TLS body differs");
    let (body, what) = fetch(&ns, &["-k", "--http1.1", &https]);
    assert_eq!(what, "1.1 200");
    assert!(body == index, "HTTP/1.1 over TLS body differs");
    let plain = format!("http://{TAPIR_ADDR}/");
    let (body, what) = fetch(&ns, &["--http2-prior-knowledge", &plain]);
    assert_eq!(what, "2 200");
    assert!(body == index, "h2c body differs");
    let (body, what) = fetch(&ns, &[&plain]);
    assert_eq!(what, "1.1 200");
    assert!(body == index);
    // Conditionals over HTTP/2 come from the same code as HTTP/1.1.
    let out = curl(&ns, &["-k", "--http2", "-sI", &https]);
    let head = text(&out.stdout);
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap_or_else(|| panic!("no etag in {head}"))
        .trim()
        .to_owned();
    let (_, what) = fetch(
        &ns,
        &[
            "-k",
            "--http2",
            "-H",
            &format!("If-None-Match: {etag}"),
            &https,
        ],
    );
    assert_eq!(what, "2 304");
    let (body, what) = fetch(&ns, &["-k", "--http2", "-r", "0-9", &https]);
    assert_eq!(what, "2 206");
    assert_eq!(body, &index[..10]);

    assert!(
        tapir
            .log()
            .contains("generated a self-signed TLS certificate"),
        "{}",
        tapir.log()
    );
    let stats = tapir.stats();
    print_counters(
        "curl",
        &stats,
        &[
            "Tls.Handshakes",
            "Tls.AlpnH2",
            "Tls.Tls13",
            "Tls.H2cConnections",
        ],
    );
    assert!(stats["Tls.Handshakes"] >= 5);
    assert!(stats["Tls.AlpnH2"] >= 4);
    assert_eq!(stats["Tls.H2cConnections"], 1);
    assert_eq!(stats["Tls.HandshakeFailures"], 0);
}

#[test]
fn openssl_negotiates_tls12_and_tls13_with_alpn() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let tapir = Tapir::start(&ns, &tls_config(""));
    let connect = format!("{TAPIR_ADDR}:443");
    for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        for alpn in ["h2", "http/1.1"] {
            let out = ns.exec(&[
                "openssl",
                "s_client",
                "-connect",
                &connect,
                flag,
                "-alpn",
                alpn,
                "-servername",
                "localhost",
            ]);
            let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(all.contains(version), "{flag} {alpn}: {all}");
            assert!(
                all.contains(&format!("ALPN protocol: {alpn}")),
                "{flag} {alpn}: {all}"
            );
        }
    }
    // TLS 1.2 handshakes use ECDHE only.
    let out = ns.exec(&[
        "openssl",
        "s_client",
        "-connect",
        &connect,
        "-tls1_2",
        "-cipher",
        "AES256-GCM-SHA384",
    ]);
    assert!(!out.status.success(), "a non-ECDHE suite was accepted");
    let stats = tapir.stats();
    print_counters(
        "openssl",
        &stats,
        &[
            "Tls.Handshakes",
            "Tls.Tls12",
            "Tls.Tls13",
            "Tls.HandshakeFailures",
        ],
    );
    assert_eq!(stats["Tls.Tls12"], 2);
    assert_eq!(stats["Tls.Tls13"], 2);
    assert_eq!(stats["Tls.HandshakeFailures"], 1);
}

#[test]
fn nghttp_over_tls_and_h2c() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &tls_config(""));
    for url in [
        format!("https://{TAPIR_ADDR}/"),
        format!("http://{TAPIR_ADDR}/"),
    ] {
        let out = ns.exec(&["nghttp", "-nv", &url]);
        let all = text(&out.stdout);
        assert!(
            out.status.success(),
            "nghttp {url}: {all}{}",
            text(&out.stderr)
        );
        assert!(all.contains(":status: 200"), "{all}");
        assert!(all.contains("recv SETTINGS frame"), "{all}");
    }
}

/// Runs h2load and returns its report, asserting 0 failed and 0 errored.
fn h2load(ns: &Netns, url: &str) -> String {
    let out = ns.exec(&[
        "h2load", "-n", "20000", "-c", "20", "-m", "50", "-t", "1", url,
    ]);
    let report = text(&out.stdout);
    assert!(
        out.status.success(),
        "h2load {url}: {report}{}",
        text(&out.stderr)
    );
    let line = report
        .lines()
        .find(|l| l.starts_with("requests:"))
        .unwrap_or_else(|| panic!("no requests line: {report}"));
    assert!(
        line.contains("20000 succeeded, 0 failed, 0 errored, 0 timeout"),
        "{url}: {line}\n{report}"
    );
    let finished = report
        .lines()
        .find(|l| l.starts_with("finished in"))
        .unwrap_or("");
    eprintln!("h2load {url}: {finished}\n  {line}");
    report
}

#[test]
fn h2load_many_streams_over_tls_and_h2c_without_errors() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let tapir = Tapir::start(&ns, &tls_config(""));
    h2load(&ns, &format!("https://{TAPIR_ADDR}/"));
    h2load(&ns, &format!("http://{TAPIR_ADDR}/"));
    let stats = tapir.stats();
    print_counters(
        "h2load",
        &stats,
        &[
            "Tls.Handshakes",
            "Tls.AlpnH2",
            "Tls.H2cConnections",
            "Tcp.RetransSegs",
        ],
    );
    assert_eq!(stats["Tls.AlpnH2"], 20);
    assert_eq!(stats["Tls.H2cConnections"], 20);
}

#[test]
fn configured_certificate_is_verified_and_garbage_is_counted() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let dir = TempDir::new("tapir-tls-cert");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=tapir-test"])
        .args([
            "-addext",
            &format!("subjectAltName=IP:{TAPIR_ADDR},DNS:localhost"),
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = tls_config(&format!(
        "cert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    ));
    let tapir = Tapir::start(&ns, &config);
    assert!(!tapir.log().contains("generated a self-signed"));
    let cacert = cert.to_str().unwrap();
    let (body, what) = fetch(
        &ns,
        &[
            "--cacert",
            cacert,
            "--http2",
            &format!("https://{TAPIR_ADDR}/"),
        ],
    );
    assert_eq!(what, "2 200");
    assert_eq!(body, www_file("index.html"));
    // Plain HTTP to the TLS port: rustls's alert, then close.
    let script = format!(
        "exec 3<>/dev/tcp/{TAPIR_ADDR}/443 || exit 1; \
         printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3; timeout 5 cat <&3 | od -An -tx1 | head -1"
    );
    let out = ns.exec(&["bash", "-c", &script]);
    assert!(
        text(&out.stdout).trim_start().starts_with("15 03"),
        "expected an alert record: {}",
        text(&out.stdout)
    );
    let stats = tapir.stats();
    assert_eq!(stats["Tls.HandshakeFailures"], 1);
    assert_eq!(stats["Tls.Handshakes"], 1);
}

#[test]
fn redirect_http_sends_plain_requests_to_https() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &tls_config("redirect_http = true"));
    let out = curl(
        &ns,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            &format!("http://{TAPIR_ADDR}/a/b.html?x=1"),
        ],
    );
    assert_eq!(
        text(&out.stdout),
        format!("301 https://{TAPIR_ADDR}/a/b.html?x=1")
    );
    let (body, what) = fetch(&ns, &["-k", "-L", &format!("http://{TAPIR_ADDR}/")]);
    assert_eq!(what, "2 200");
    assert_eq!(body, www_file("index.html"));
}

/// h2spec-style checks (`tests/h2checks.py`: raw frames from Python's
/// standard library) over h2c and TLS; every one must pass. The checks
/// where the `h2` crate deviates from the RFCs are not among them.
#[test]
fn h2spec_style_checks_pass_over_h2c_and_tls() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &tls_config(""));
    let script = common::repo_root().join("server/tests/h2checks.py");
    let index = common::www_root().join("index.html");
    for (port, mode) in [("80", "h2c"), ("443", "tls")] {
        let out = ns.exec(&[
            "python3",
            script.to_str().unwrap(),
            TAPIR_ADDR,
            port,
            mode,
            index.to_str().unwrap(),
        ]);
        let report = text(&out.stdout);
        eprintln!("{report}");
        assert!(
            out.status.success() && !report.contains("FAIL"),
            "h2checks over {mode}:\n{report}{}",
            text(&out.stderr)
        );
    }
}

/// Large bodies through many streams: the windows are h2load's (1 GiB),
/// so only our own pumping moves them; and a big file byte-exact over
/// HTTP/2 with TLS and over HTTP/1.1 with TLS.
#[test]
fn large_bodies_over_many_streams_tls_and_h2c() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let root = TempDir::new("tapir-tls-root");
    let mut x: u32 = 0x9e37_79b9;
    let big: Vec<u8> = (0..300_001)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(root.path().join("big.bin"), &big).unwrap();
    std::fs::write(root.path().join("index.html"), b"hi\n").unwrap();
    let config = tls_config("").replace(
        &common::www_root().display().to_string(),
        &root.path().display().to_string(),
    );
    let _tapir = Tapir::start(&ns, &config);
    for url in [
        format!("https://{TAPIR_ADDR}/big.bin"),
        format!("http://{TAPIR_ADDR}/big.bin"),
    ] {
        let out = ns.exec(&["h2load", "-n", "400", "-c", "4", "-m", "8", &url]);
        let report = text(&out.stdout);
        assert!(
            report.contains("400 succeeded, 0 failed, 0 errored, 0 timeout"),
            "{url}: {report}{}",
            text(&out.stderr)
        );
    }
    for proto in ["--http2", "--http1.1"] {
        let (body, what) = fetch(
            &ns,
            &["-k", proto, &format!("https://{TAPIR_ADDR}/big.bin")],
        );
        assert!(what.ends_with("200"), "{what}");
        assert!(body == big, "{proto}: {} bytes", body.len());
    }
}
