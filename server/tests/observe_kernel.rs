//! Kernel tests of what tapir shows about itself: `tapir ss`, `tapir
//! stats`, the status endpoints, the pcap file, traces and `tapir plot`,
//! `tapir reload` and `tapir stop`, and the dashboard in headless Chromium.
//!
//! Each test runs tapir in its own namespace with its control socket, pcap
//! and trace files in a scratch directory, and drives it from the
//! namespace's kernel with curl and wrk. The CLI runs outside the
//! namespace (a Unix socket needs no network).
//!
//! Optional outputs for the docs: `TAPIR_DASHBOARD_PNG=PATH` keeps the
//! dashboard screenshot, `TAPIR_LOSS_PLOT=PATH` runs a 5%-loss transfer
//! with a trace and writes its `tapir plot` SVG there. The browser test
//! skips itself when `chromium` is not installed.

#[macro_use]
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

use common::{curl, now, parse_wrk, tapir_bin, www_root, Netns, Tapir, TempDir, TAPIR_ADDR};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A test server: its scratch directory (config, socket, pcap, trace).
struct Setup {
    dir: TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            dir: TempDir::new("tapir-test-observe"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A configuration with the control socket, pcap and trace in the
    /// scratch directory, serving `root`, plus `extra` keys for `[http]`
    /// and whole tables after them.
    fn config(&self, root: &Path, http_extra: &str, tables: &str) -> String {
        format!(
            "[net]\ntap = \"tap0\"\nhost_addr = \"10.7.0.1/24\"\naddr = \"{TAPIR_ADDR}\"\n\
             pcap = \"{pcap}\"\n\n[http]\nport = 80\nroot = \"{root}\"\n{http_extra}\n\
             [control]\nsocket = \"{sock}\"\nshutdown_timeout = \"5s\"\n\n\
             [trace]\nconnections = \"{trace}\"\n\n{tables}\n",
            pcap = self.path("tapir.pcap").display(),
            root = root.display(),
            sock = self.path("tapir.sock").display(),
            trace = self.path("trace.csv").display(),
        )
    }

    /// Write the configuration the CLI reads (the same the server got).
    fn write_config(&self, config: &str) -> PathBuf {
        let p = self.path("cli.toml");
        fs::write(&p, config).expect("write config");
        p
    }

    /// `tapir ARGS --config cli.toml`, bounded.
    fn cli(&self, args: &[&str]) -> Output {
        let conf = self.path("cli.toml");
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "2", "30", &tapir_bin()])
            .args(args)
            .arg("--config")
            .arg(&conf);
        cmd.output().expect("run tapir CLI")
    }

    fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "tapir {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

/// A counter from `tapir stats` text (`Section:` then `    Name value`).
fn stat(stats: &str, section: &str, name: &str) -> u64 {
    let mut in_section = false;
    for line in stats.lines() {
        if !line.starts_with(' ') {
            in_section = line == format!("{section}:");
            continue;
        }
        let mut w = line.split_whitespace();
        if in_section && w.next() == Some(name) {
            return w.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    panic!("{section}:{name} not in stats:\n{stats}");
}

fn get(ns: &Netns, path: &str) -> String {
    let out = curl(ns, &[&format!("http://{TAPIR_ADDR}{path}")]);
    assert!(out.status.success(), "GET {path}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// A metric's value from Prometheus text.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} not in metrics"))
}

fn root_with_file(name: &str, len: usize) -> TempDir {
    let root = TempDir::new("tapir-test-observe-root");
    fs::write(root.path().join(name), vec![b'x'; len]).expect("write fixture");
    fs::copy(www_root().join("1k.html"), root.path().join("1k.html")).expect("copy 1k.html");
    root
}

#[test]
fn ss_stats_endpoints_pcap_and_plot_on_a_live_server() {
    require_root!();
    let s = Setup::new();
    let root = root_with_file("big.bin", 6 << 20);
    let config = s.config(root.path(), "", "");
    s.write_config(&config);
    let ns = Netns::new("tapir-test");
    let tapir = Tapir::start(&ns, &config);

    // A download paced by curl keeps one connection busy for ~3 s.
    let download = {
        let ns_name = ns.name().to_owned();
        thread::spawn(move || {
            Command::new("ip")
                .args(["netns", "exec", &ns_name, "timeout", "20", "curl", "-sS"])
                .args(["--noproxy", "*", "--limit-rate", "2M", "-o", "/dev/null"])
                .args(["-w", "%{http_code}"])
                .arg(format!("http://{TAPIR_ADDR}/big.bin"))
                .output()
                .expect("curl")
        })
    };
    let deadline = now() + Duration::from_secs(5);
    let line = loop {
        let table = s.cli_ok(&["ss", "--state", "established"]);
        if let Some(l) = table
            .lines()
            .find(|l| l.starts_with("ESTAB") && l.contains("rtt:"))
        {
            break l.to_owned();
        }
        assert!(now() < deadline, "no ESTAB row with an RTT:\n{table}");
        thread::sleep(Duration::from_millis(100));
    };
    eprintln!("tapir ss: {line}");
    let field = |name: &str| -> String {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} missing in {line}"))
            .to_owned()
    };
    let rtt_ms: f64 = field("rtt:").split('/').next().unwrap().parse().unwrap();
    assert!(rtt_ms > 0.0 && rtt_ms < 200.0, "rtt {rtt_ms} ms: {line}");
    let cwnd: u64 = field("cwnd:").parse().unwrap();
    assert!((2..100_000).contains(&cwnd), "cwnd {cwnd}: {line}");
    assert!(line.contains(&format!("{TAPIR_ADDR}:80")));
    for f in [
        "rto:",
        "mss:",
        "ssthresh",
        "inflight:",
        "bytes_acked:",
        "retrans:",
        "snd_wnd:",
        "rcv_wnd:",
        "delivery_rate:",
        "age:",
    ] {
        if f != "ssthresh" {
            field(f);
        }
    }
    // Listener rows carry their queues.
    let all = s.cli_ok(&["ss"]);
    assert!(
        all.lines().any(|l| l.starts_with("LISTEN")
            && l.contains("synq:0/1024")
            && l.contains("acceptq:0/511")),
        "{all}"
    );

    // The endpoints.
    let status = get(&ns, "/_tapir/status");
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(lines.len(), 4, "{status:?}");
    assert!(lines[0].starts_with("Active connections: ") && lines[0].ends_with(' '));
    assert_eq!(lines[1], "server accepts handled requests");
    assert!(lines[3].starts_with("Reading: ") && lines[3].contains(" Writing: "));
    let metrics = get(&ns, "/_tapir/metrics");
    assert!(metric(&metrics, "tapir_tcp_connections{state=\"ESTAB\"}") >= 1.0);
    let python = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n\
             n = sum(len(f.samples) for f in p(sys.stdin.read()))\nprint(n)",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    match python {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(metrics.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            if text(&out.stderr).contains("No module named") {
                eprintln!("python3-prometheus-client missing: exposition parser check skipped");
            } else {
                assert!(
                    out.status.success(),
                    "prometheus_client rejects the exposition: {}",
                    text(&out.stderr)
                );
                let samples: usize = text(&out.stdout).trim().parse().unwrap();
                assert!(samples > 80, "{samples} samples");
            }
        }
        Err(e) => eprintln!("python3 missing ({e}): exposition parser check skipped"),
    }
    let json = get(&ns, "/_tapir/connections?state=established");
    let v: serde_json::Value = serde_json::from_str(&json).expect("connections JSON");
    let conns = v["connections"].as_array().unwrap();
    assert!(
        conns
            .iter()
            .any(|c| c["state"] == "ESTAB" && c["cwnd"].as_u64() > Some(0)),
        "{json}"
    );
    assert_eq!(v["listeners"][0]["backlog"], 511);

    let out = download.join().unwrap();
    assert_eq!(text(&out.stdout), "200", "{}", text(&out.stderr));
    let stats = s.cli_ok(&["stats"]);
    assert!(stat(&stats, "Tcp", "PassiveOpens") >= 1);
    assert!(stat(&stats, "Server", "Requests") >= 4);
    assert!(stat(&stats, "Server", "PcapFrames") > 1000);

    // The pcap is readable while tapir writes it (flushed within a second).
    thread::sleep(Duration::from_millis(1200));
    let dump = Command::new("tcpdump")
        .args(["-nr"])
        .arg(s.path("tapir.pcap"))
        .arg("tcp port 80")
        .output()
        .expect("tcpdump");
    let dump = text(&dump.stdout);
    let syn = format!("> {TAPIR_ADDR}.80: Flags [S],");
    let synack = format!("IP {TAPIR_ADDR}.80 > ");
    assert!(dump.lines().any(|l| l.contains(&syn)), "no SYN in pcap");
    assert!(
        dump.lines()
            .any(|l| l.contains(&synack) && l.contains("Flags [S.]")),
        "no SYN-ACK in pcap"
    );

    // The trace plots.
    let svg = s.path("plot.svg");
    let out = Command::new(tapir_bin())
        .arg("plot")
        .arg(s.path("trace.csv"))
        .arg("-o")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(out.status.success(), "plot: {}", text(&out.stderr));
    let svg = fs::read_to_string(svg).unwrap();
    assert!(svg.contains("<svg") && svg.matches("<circle").count() > 100);
    drop(tapir);
}

#[test]
fn time_wait_rows_match_the_tw_counter() {
    require_root!();
    let s = Setup::new();
    let config = s.config(&www_root(), "", "");
    s.write_config(&config);
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config);
    let out = ns.exec(&[
        "wrk",
        "-t1",
        "-c10",
        "-d2s",
        "-H",
        "Connection: close",
        &format!("http://{TAPIR_ADDR}/1k.html"),
    ]);
    let report = parse_wrk(&text(&out.stdout));
    assert!(report.requests > 100, "{}", report.raw);
    // Let the last closes settle (wrk's exit resets what it still held).
    let mut tw = u64::MAX;
    for _ in 0..20 {
        thread::sleep(Duration::from_millis(200));
        let now_tw = stat(&s.cli_ok(&["stats"]), "TcpExt", "TW");
        if now_tw == tw {
            break;
        }
        tw = now_tw;
    }
    let table = s.cli_ok(&["ss", "--state", "time-wait"]);
    let rows = table.lines().filter(|l| l.starts_with("TIME-WAIT")).count() as u64;
    let stats = s.cli_ok(&["stats"]);
    let tw = stat(&stats, "TcpExt", "TW");
    eprintln!(
        "TIME-WAIT rows {rows}, TW {tw}, buckets {}",
        stat(&stats, "Server", "TimeWaitBuckets")
    );
    assert!(tw > 100, "tapir closes first under Connection: close");
    assert_eq!(rows, tw);
    assert_eq!(stat(&stats, "State", "TIME-WAIT"), tw);
}

#[test]
fn listen_overflows_grow_in_stats_and_metrics() {
    require_root!();
    let s = Setup::new();
    let config = s.config(&www_root(), "", "[tcp]\nmax_connections = 4\nbacklog = 2\n");
    s.write_config(&config);
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config);
    let before = stat(&s.cli_ok(&["stats"]), "TcpExt", "ListenOverflows");
    ns.exec(&[
        "wrk",
        "-t1",
        "-c100",
        "-d2s",
        "--timeout",
        "2s",
        &format!("http://{TAPIR_ADDR}/1k.html"),
    ]);
    let stats = s.cli_ok(&["stats"]);
    let after = stat(&stats, "TcpExt", "ListenOverflows");
    eprintln!("ListenOverflows {before} -> {after}");
    assert!(after > before, "{stats}");
    let metrics = get(&ns, "/_tapir/metrics");
    assert!(metric(&metrics, "tapir_netstat_TcpExt_ListenOverflows") >= after as f64);
    assert_eq!(
        metric(
            &metrics,
            "tapir_listen_queue_limit{port=\"80\",queue=\"accept\"}"
        ),
        2.0
    );
}

/// Two requests on one connection: the response headers curl saw.
fn two_requests(ns: &Netns) -> String {
    let url = format!("http://{TAPIR_ADDR}/1k.html");
    let out = curl(
        ns,
        &["-v", "-o", "/dev/null", "-o", "/dev/null", &url, &url],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stderr)
}

#[test]
fn reload_applies_keepalive_requests_and_rejects_a_broken_config() {
    require_root!();
    let s = Setup::new();
    let config = s.config(&www_root(), "keepalive_requests = 1000", "");
    // The server reads the CLI's file, so a rewrite is what reload sees.
    let conf = s.write_config(&config);
    let ns = Netns::new("tapir-test");
    let _tapir = {
        // Tapir::start writes its own copy; start from ours instead.
        let log = s.path("tapir.log");
        let pid = ns.spawn(&[&tapir_bin(), "--config", conf.to_str().unwrap()], &log);
        let deadline = now() + Duration::from_secs(10);
        while !ns
            .exec(&["ping", "-n", "-c1", "-W1", TAPIR_ADDR])
            .status
            .success()
        {
            assert!(
                now() < deadline,
                "tapir did not start: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        pid
    };
    let before = two_requests(&ns);
    assert!(before.contains("Re-using existing connection"), "{before}");
    assert!(!before.contains("Connection: close"), "{before}");

    fs::write(
        &conf,
        config.replace("keepalive_requests = 1000", "keepalive_requests = 1"),
    )
    .unwrap();
    let report = s.cli_ok(&["reload"]);
    assert!(
        report.contains("applied: http.keepalive_requests"),
        "{report}"
    );
    let after = two_requests(&ns);
    assert!(after.contains("< Connection: close"), "{after}");

    // A broken file: rejected with its line, the old configuration serves on.
    fs::write(
        &conf,
        config.replace("keepalive_requests = 1000", "keepalive_requests = \"many\""),
    )
    .unwrap();
    let out = s.cli(&["reload"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!("{}:", conf.display())) && err.contains("http.keepalive_requests"),
        "{err}"
    );
    assert!(err.contains("old configuration stays"), "{err}");
    let still = two_requests(&ns);
    assert!(
        still.contains("< HTTP/1.1 200 OK") && still.contains("< Connection: close"),
        "{still}"
    );
    // SIGHUP reloads too (and is logged).
    fs::write(&conf, &config).unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &_tapir.to_string()])
        .status();
    let deadline = now() + Duration::from_secs(5);
    while !fs::read_to_string(s.path("tapir.log"))
        .unwrap_or_default()
        .contains("configuration reloaded")
    {
        assert!(now() < deadline, "no reload logged after SIGHUP");
        thread::sleep(Duration::from_millis(50));
    }
    assert!(!two_requests(&ns).contains("Connection: close"));
    let out = s.cli(&["stop"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn stop_during_wrk_loses_no_response() {
    require_root!();
    let s = Setup::new();
    let config = s.config(&www_root(), "", "");
    s.write_config(&config);
    let ns = Netns::new("tapir-test");
    let tapir = Tapir::start(&ns, &config);
    let wrk = {
        let ns_name = ns.name().to_owned();
        thread::spawn(move || {
            Command::new("ip")
                .args(["netns", "exec", &ns_name, "timeout", "20"])
                .args(["wrk", "-t2", "-c40", "-d4s", "--timeout", "3s"])
                .arg(format!("http://{TAPIR_ADDR}/1k.html"))
                .output()
                .expect("wrk")
        })
    };
    thread::sleep(Duration::from_millis(1500));
    let started = now();
    let out = s.cli(&["stop"]);
    let took = now() - started;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "stopped\n");
    assert!(
        took < Duration::from_secs(5),
        "stop took {took:?} (shutdown_timeout 5s)"
    );
    let status = ns.try_wait(tapir.pid());
    let deadline = now() + Duration::from_secs(2);
    let mut status = status;
    while status.is_none() && now() < deadline {
        thread::sleep(Duration::from_millis(50));
        status = ns.try_wait(tapir.pid());
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "tapir exited: {status:?}"
    );
    let report = parse_wrk(&text(&wrk.join().unwrap().stdout));
    eprintln!(
        "stop after {took:?}; wrk: {} requests, {:?}, {:?}",
        report.requests, report.socket_errors, report.non_2xx
    );
    assert!(report.requests > 100, "{}", report.raw);
    assert!(report.non_2xx.is_none(), "{}", report.raw);
    // New connections are refused once stopping (connect errors); no
    // request that reached tapir went unanswered or was cut off (read
    // errors), none timed out.
    if let Some(errors) = &report.socket_errors {
        let count = |what: &str| -> u64 {
            errors
                .split(',')
                .find_map(|p| p.trim().strip_prefix(what)?.trim().parse().ok())
                .unwrap_or(0)
        };
        assert_eq!(count("read"), 0, "{}", report.raw);
        assert_eq!(count("timeout"), 0, "{}", report.raw);
        // Write errors are new connections' requests after tapir left
        // (nothing was sent, nothing lost).
    }
    let log = tapir.log();
    assert!(
        log.contains("stop: no new connections") && log.contains("stopped"),
        "{log}"
    );
}

#[test]
fn dashboard_renders_in_headless_chromium() {
    require_root!();
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|b| {
        Command::new("which")
            .arg(b)
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(chromium) = chromium else {
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
        return;
    };
    let s = Setup::new();
    let root = root_with_file("big.bin", 32 << 20);
    let config = s.config(root.path(), "", "");
    s.write_config(&config);
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config);
    let load = |args: &[&str]| {
        let ns_name = ns.name().to_owned();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        thread::spawn(move || {
            Command::new("ip")
                .args(["netns", "exec", &ns_name, "timeout", "30"])
                .args(&args)
                .output()
        })
    };
    let url = |p: &str| format!("http://{TAPIR_ADDR}{p}");
    let wrk = load(&["wrk", "-t1", "-c20", "-d12s", &url("/1k.html")]);
    let big = load(&[
        "curl",
        "-s",
        "--limit-rate",
        "4M",
        "-o",
        "/dev/null",
        &url("/big.bin"),
    ]);
    thread::sleep(Duration::from_millis(800));
    let png = s.path("dashboard.png");
    let profile = s.path("chromium-profile");
    let chrome_args = |extra: &[String]| {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns.name(), "timeout", "60", chromium])
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--window-size=1300,1000",
                "--virtual-time-budget=9000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(url("/_tapir/"));
        cmd
    };
    let shot = chrome_args(&[format!("--screenshot={}", png.display())])
        .output()
        .expect("chromium");
    assert!(png.exists(), "no screenshot: {}", text(&shot.stderr));
    let dom = chrome_args(&["--dump-dom".to_owned()])
        .output()
        .expect("chromium");
    let dom = text(&dom.stdout);
    let _ = wrk.join();
    let _ = big.join();
    // Every chart drew samples.
    let points: Vec<u64> = dom
        .match_indices("data-points=\"")
        .map(|(i, m)| {
            dom[i + m.len()..]
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(points.len(), 5, "five charts: {dom}");
    assert!(
        points.iter().all(|&n| n >= 2),
        "every chart has samples: {points:?}"
    );
    assert!(
        dom.contains("10.7.0.1:"),
        "the connection table lists peers"
    );
    let size = fs::metadata(&png).unwrap().len();
    assert!(size > 30_000, "screenshot of {size} bytes looks empty");
    // The page loaded everything from tapir, and nothing from elsewhere
    // (it lists the origins of its resources, as the browser saw them).
    let origins = dom
        .split("data-origins=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no data-origins: {dom}"));
    assert_eq!(origins, format!("http://{TAPIR_ADDR}"), "{dom}");
    if let Ok(keep) = std::env::var("TAPIR_DASHBOARD_PNG") {
        fs::copy(&png, keep).expect("keep screenshot");
    }
}

/// `TAPIR_LOSS_PLOT=PATH`: a 5%-loss transfer, traced and plotted.
#[test]
fn loss_transfer_trace_plots() {
    require_root!();
    let Ok(out_svg) = std::env::var("TAPIR_LOSS_PLOT") else {
        eprintln!("skipped: set TAPIR_LOSS_PLOT=PATH to draw a 5%-loss transfer");
        return;
    };
    let s = Setup::new();
    let root = root_with_file("2m.bin", 2 << 20);
    let config = s.config(root.path(), "", "");
    s.write_config(&config);
    let ns = Netns::new("tapir-test");
    let _tapir = Tapir::start(&ns, &config);
    ns.drop_randomly("tap0", "0.05");
    // A 20 ms path makes the graph readable.
    ns.exec(&[
        "tc", "qdisc", "add", "dev", "tap0", "root", "netem", "delay", "20ms",
    ]);
    let out = curl(
        &ns,
        &[
            "--max-time",
            "60",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{TAPIR_ADDR}/2m.bin"),
        ],
    );
    assert_eq!(text(&out.stdout), "200", "{}", text(&out.stderr));
    thread::sleep(Duration::from_millis(1200));
    let out = Command::new(tapir_bin())
        .arg("plot")
        .arg(s.path("trace.csv"))
        .args([
            "-o",
            &out_svg,
            "--title",
            "tapir: 2 MiB download over a TAP with 5% loss each way (CUBIC, SACK; RTT about 0.1 ms)",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stats = s.cli_ok(&["stats"]);
    eprintln!(
        "RetransSegs {} TCPSACKRecovery {} TCPTimeouts {}",
        stat(&stats, "Tcp", "RetransSegs"),
        stat(&stats, "TcpExt", "TCPSACKRecovery"),
        stat(&stats, "TcpExt", "TCPTimeouts")
    );
}
