//! Kernel tests: the real `tapir` binary on a real TAP inside a throwaway
//! network namespace, driven by the namespace's own kernel with `ping`,
//! `curl` and `wrk` (see `common/mod.rs` for the harness and its cleanup
//! guarantees).
//!
//! Each test has its own namespace, so they run in parallel. They need root;
//! without it they print "skipped" and pass. Run them with
//! `sudo bash scripts/test.sh` or `cargo test -p tapir --test kernel` as root.

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::thread;

use common::{curl, default_config, parse_wrk, run, www_file, Netns, Tapir, TempDir, TAPIR_ADDR};

fn url(path: &str) -> String {
    format!("http://{TAPIR_ADDR}{path}")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn ping_answers_three_of_three() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let out = ns.exec(&["ping", "-n", "-c3", "-i0.2", "-W1", TAPIR_ADDR]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("3 packets transmitted, 3 received"),
        "ping output:\n{stdout}{}",
        text(&out.stderr)
    );
}

#[test]
fn curl_root_is_byte_identical_to_index_html() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let out = curl(&ns, &["--fail", &url("/")]);
    assert!(out.status.success(), "curl: {}", text(&out.stderr));
    let want = www_file("index.html");
    assert!(
        out.stdout == want,
        "body differs from www/index.html: got {} bytes, want {}",
        out.stdout.len(),
        want.len()
    );
}

#[test]
fn missing_file_is_404() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let out = curl(
        &ns,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url("/no-such-file.html"),
        ],
    );
    assert!(out.status.success(), "curl: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "404");
}

#[test]
fn two_requests_on_one_curl_reuse_one_connection() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let out = curl(&ns, &["-v", "--fail", &url("/"), &url("/style.css")]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "curl:\n{stderr}");

    let mut want = www_file("index.html");
    want.extend_from_slice(&www_file("style.css"));
    assert!(
        out.stdout == want,
        "bodies differ from www/index.html + www/style.css: got {} bytes, want {}",
        out.stdout.len(),
        want.len()
    );

    // curl 7.x: "Re-using existing connection! (#0) with host ...";
    // curl 8.x: "Re-using existing connection with host ...".
    assert!(
        stderr.contains("Re-using existing connection"),
        "second request did not reuse the connection:\n{stderr}"
    );
    let connects = stderr.matches("Connected to").count();
    assert_eq!(connects, 1, "expected one TCP connection:\n{stderr}");
}

#[test]
fn wrk_keepalive_has_no_socket_errors() {
    require_root!();
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &default_config());
    let _ = www_file("1k.html"); // fail clearly if the fixture is missing
    let out = ns.exec(&[
        "timeout",
        "20",
        "wrk",
        "-t1",
        "-c20",
        "-d3s",
        &url("/1k.html"),
    ]);
    let report = parse_wrk(&text(&out.stdout));
    assert!(
        out.status.success(),
        "wrk failed:\n{}{}",
        report.raw,
        text(&out.stderr)
    );
    assert!(
        report.requests > 0,
        "no requests completed:\n{}",
        report.raw
    );
    assert_eq!(report.socket_errors, None, "\n{}", report.raw);
    assert_eq!(report.non_2xx, None, "\n{}", report.raw);
}

#[test]
fn bad_config_exits_nonzero_naming_file_line_and_key() {
    let dir = TempDir::new("tapir-test-conf");
    let config = default_config().replace(
        "keepalive_requests = 1000\n",
        "keepalive_requests = 1000\nbogus_key = 1\n",
    );
    let line = config
        .lines()
        .position(|l| l.starts_with("bogus_key"))
        .expect("bogus_key line")
        + 1;
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, &config).expect("write config");

    let out = run(Command::new(common::tapir_bin())
        .args(["--check", "--config"])
        .arg(&path));
    let output = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "--check accepted an unknown key:\n{output}"
    );
    let location = format!("{}:{line}:", path.display());
    assert!(
        output.contains(&location) && output.contains("bogus_key"),
        "error must name {location} and the key `bogus_key`:\n{output}"
    );
}

#[test]
fn check_accepts_default_config() {
    let root = common::repo_root();
    let conf = root.join("conf/tapir.toml");
    assert!(Path::new(&conf).exists(), "{} is missing", conf.display());
    let out = run(Command::new(common::tapir_bin())
        .current_dir(&root)
        .args(["--check", "--config"])
        .arg(&conf));
    assert!(
        out.status.success(),
        "--check rejected {}:\n{}{}",
        conf.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The harness itself: a panicking test still removes its namespace and
/// the processes it started there.
#[test]
fn harness_cleans_up_namespace_and_processes_on_panic() {
    require_root!();
    let (tx, rx) = mpsc::channel();
    let result = thread::spawn(move || {
        let ns = Netns::new("tapir-test");
        let dir = TempDir::new("tapir-test-harness");
        let pid = ns.spawn(&["sleep", "100"], &dir.path().join("sleep.log"));
        tx.send((ns.name().to_owned(), pid)).expect("send");
        panic!("deliberate panic to exercise cleanup");
    })
    .join();
    assert!(result.is_err(), "the thread was meant to panic");
    let (name, pid) = rx.recv().expect("namespace name");

    let list = run(Command::new("ip").args(["netns", "list"]));
    let list = text(&list.stdout);
    assert!(
        !list
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name.as_str())),
        "namespace {name} survived a panic:\n{list}"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} survived its namespace"
    );
}
