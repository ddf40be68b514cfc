//! Harness for kernel tests: a throwaway network namespace, a tapir process
//! running inside it on its TAP, and helpers that run `curl`, `ping` and `wrk`
//! from the namespace's kernel against tapir.
//!
//! Contract:
//! - [`Netns::new`] creates a uniquely named namespace (`PREFIX-PID-N`) with
//!   `lo` up. Its `Drop` kills every process it spawned and any other process
//!   still inside, then deletes the namespace, so nothing leaks even when a
//!   test panics. (A test process killed by SIGKILL cannot clean up;
//!   `scripts/test.sh` sweeps leftover `tapir-test-*` namespaces.)
//! - [`Tapir::start`] writes a config file, starts the `tapir` binary in the
//!   namespace with its output in a log file, and waits (bounded) until tapir
//!   answers ping. Its `Drop` stops tapir and, if the test is failing, prints
//!   the log.
//! - Every command runs under `timeout`, so no test can hang.
//!
//! Needs root. Without it, [`is_root`] is false and tests skip themselves.
//! `TAPIR_TEST_BIN=PATH` runs another binary in tapir's place (a release
//! build, or a stand-in when checking the harness itself).

// Each test crate that includes this module uses a subset of it.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The address tapir answers on inside the namespace (`[net] addr`).
pub const TAPIR_ADDR: &str = "10.7.0.2";

/// How long [`Tapir::start`] waits for tapir to answer ping.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Upper bound for any single helper command (curl has its own `--max-time`).
const COMMAND_TIMEOUT_SECS: u32 = 30;

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// The tapir binary Cargo built for this test run, unless `TAPIR_TEST_BIN`
/// names another (a release build, or a stand-in to check the harness).
pub fn tapir_bin() -> String {
    std::env::var("TAPIR_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tapir").to_owned())
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("server/ lives inside the workspace")
        .to_path_buf()
}

/// The `www/` directory tapir serves in tests.
pub fn www_root() -> PathBuf {
    repo_root().join("www")
}

/// The bytes of `www/<rel>`, or a panic that names the missing file.
pub fn www_file(rel: &str) -> Vec<u8> {
    let path = www_root().join(rel);
    fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The current time, for bounding waits in tests. The workspace forbids
/// `Instant::now` in the sans-IO core; test harness deadlines are not core.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
    Instant::now()
}

/// True if we run as root (effective uid 0), which every kernel test needs.
pub fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}

/// Return early from a test (after saying why) when not running as root.
/// (Include this module with `#[macro_use] mod common;`.)
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            eprintln!("skipped: kernel tests need root (run `sudo bash scripts/test.sh`)");
            return;
        }
    };
}

/// A scratch directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Create `$TMPDIR/<prefix>-<pid>-<n>`.
    pub fn new(prefix: &str) -> TempDir {
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Run `cmd`, panicking only if it cannot be spawned at all.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"))
}

/// Run `cmd` and panic with its output unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A named network namespace that is deleted, with everything in it, on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
    children: Mutex<Vec<Child>>,
}

impl Netns {
    /// Create namespace `<prefix>-<pid>-<n>` and bring its `lo` up.
    pub fn new(prefix: &str) -> Netns {
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        // From here on, Drop removes it even if the next step fails.
        let ns = Netns {
            name,
            children: Mutex::new(Vec::new()),
        };
        run_ok(&mut ns.command(&["ip", "link", "set", "lo", "up"]));
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `argv` inside the namespace under `timeout`.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name])
            .args(["timeout", "-k", "2", &COMMAND_TIMEOUT_SECS.to_string()])
            .args(argv);
        cmd
    }

    /// Run `argv` inside the namespace and wait for it (bounded by `timeout`).
    pub fn exec(&self, argv: &[&str]) -> Output {
        run(&mut self.command(argv))
    }

    /// Start `argv` inside the namespace in the background, stdout and stderr
    /// appended to `log`. Returns its pid; the process is killed on drop.
    ///
    /// `ip netns exec` execs the program in place, so the pid is the
    /// program's own.
    pub fn spawn(&self, argv: &[&str], log: &Path) -> u32 {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("opening {}: {e}", log.display()));
        let err = out.try_clone().expect("dup log fd");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {argv:?} in {}: {e}", self.name));
        let pid = child.id();
        self.children.lock().expect("children lock").push(child);
        pid
    }

    /// The exit status of spawned process `pid`, if it has exited.
    pub fn try_wait(&self, pid: u32) -> Option<ExitStatus> {
        let mut children = self.children.lock().expect("children lock");
        let child = children.iter_mut().find(|c| c.id() == pid)?;
        child.try_wait().ok().flatten()
    }

    /// Stop spawned process `pid`: SIGTERM, a short grace period, then
    /// SIGKILL. Returns its exit status.
    pub fn stop(&self, pid: u32) -> Option<ExitStatus> {
        let mut children = self.children.lock().expect("children lock");
        let idx = children.iter().position(|c| c.id() == pid)?;
        let mut child = children.swap_remove(idx);
        drop(children);
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
        for _ in 0..20 {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Pids of every process currently inside the namespace.
    pub fn pids(&self) -> Vec<u32> {
        let out = run(Command::new("ip").args(["netns", "pids", &self.name]));
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let children =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(|p| p.into_inner()));
        for mut child in children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Anything else still inside (a helper that outlived its timeout).
        for _ in 0..10 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            thread::sleep(Duration::from_millis(50));
        }
        let out = run(Command::new("ip").args(["netns", "del", &self.name]));
        if !out.status.success() {
            eprintln!(
                "warning: ip netns del {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The test configuration: same keys as `conf/tapir.toml`, serving the
/// repository's `www/`.
pub fn default_config() -> String {
    format!(
        r#"# tapir kernel-test configuration
[net]
tap = "tap0"
host_addr = "10.7.0.1/24"
addr = "{TAPIR_ADDR}"
mtu = 1500

[http]
port = 80
root = "{root}"
keepalive_timeout = "15s"
keepalive_requests = 1000
"#,
        root = www_root().display()
    )
}

/// A tapir process serving inside a [`Netns`]; stopped on drop.
#[derive(Debug)]
pub struct Tapir<'a> {
    netns: &'a Netns,
    pid: u32,
    dir: TempDir,
}

impl<'a> Tapir<'a> {
    /// Write `config` to a temporary file, start tapir with it inside
    /// `netns`, and wait until it answers ping at [`TAPIR_ADDR`].
    ///
    /// Panics (printing tapir's output) if tapir exits or does not answer
    /// within [`START_TIMEOUT`].
    pub fn start(netns: &'a Netns, config: &str) -> Tapir<'a> {
        let dir = TempDir::new("tapir-test");
        let conf = dir.path().join("tapir.toml");
        fs::write(&conf, config).expect("write config");
        let log = dir.path().join("tapir.log");
        let conf_str = conf.to_str().expect("utf-8 temp path");
        let bin = tapir_bin();
        let pid = netns.spawn(&[&bin, "--config", conf_str], &log);
        // Constructed before waiting, so a failed start still stops tapir.
        let tapir = Tapir { netns, pid, dir };
        tapir.wait_until_answering();
        tapir
    }

    fn wait_until_answering(&self) {
        let deadline = now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.netns.try_wait(self.pid) {
                panic!("tapir exited during start-up ({status}); its output is printed below");
            }
            let ping = self.netns.exec(&["ping", "-n", "-c1", "-W1", TAPIR_ADDR]);
            if ping.status.success() {
                return;
            }
            if now() >= deadline {
                panic!(
                    "tapir did not answer ping at {TAPIR_ADDR} within {START_TIMEOUT:?}; \
                     its output is printed below"
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything tapir printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("tapir.log"))
            .unwrap_or_else(|e| format!("(no log: {e})"))
    }
}

impl Drop for Tapir<'_> {
    fn drop(&mut self) {
        self.netns.stop(self.pid);
        if thread::panicking() {
            eprintln!("---- tapir output ----\n{}---- end ----", self.log());
        }
    }
}

/// `curl` with the options every test wants: quiet but show errors, bounded
/// time, never a proxy.
pub fn curl(netns: &Netns, args: &[&str]) -> Output {
    let mut argv = vec!["curl", "-sS", "--max-time", "5", "--noproxy", "*"];
    argv.extend_from_slice(args);
    netns.exec(&argv)
}

/// Result of one `wrk` run.
#[derive(Debug)]
pub struct WrkReport {
    pub requests: u64,
    pub socket_errors: Option<String>,
    pub non_2xx: Option<String>,
    pub raw: String,
}

/// Parse `wrk`'s text report.
pub fn parse_wrk(raw: &str) -> WrkReport {
    let requests = raw
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let line = |needle: &str| {
        raw.lines()
            .find(|l| l.contains(needle))
            .map(|l| l.trim().to_owned())
    };
    WrkReport {
        requests,
        socket_errors: line("Socket errors"),
        non_2xx: line("Non-2xx"),
        raw: raw.to_owned(),
    }
}

/// Write `text` to a fresh file in `dir` and return its path.
pub fn write_file(dir: &TempDir, name: &str, text: &str) -> io::Result<PathBuf> {
    let path = dir.path().join(name);
    fs::write(&path, text)?;
    Ok(path)
}

/// tapir's counters, `(section, name) -> value`, as printed on SIGUSR2.
pub type Counters = std::collections::HashMap<String, u64>;

/// Parse the last `tapir stats` block of a log: lines `Section: Name value …`.
pub fn parse_stats(log: &str) -> Option<Counters> {
    let start = log.rfind("tapir stats\n")?;
    let mut counters = Counters::new();
    for line in log[start..].lines().skip(1) {
        let Some((section, rest)) = line.split_once(": ") else {
            break;
        };
        if section.contains(' ') {
            break;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        for pair in words.chunks(2) {
            if let [name, value] = pair {
                if let Ok(v) = value.parse() {
                    counters.insert(format!("{section}.{name}"), v);
                }
            }
        }
    }
    Some(counters)
}

impl Tapir<'_> {
    /// Ask tapir for its counters (SIGUSR2) and wait, bounded, for them to
    /// appear in its log.
    pub fn stats(&self) -> Counters {
        let before = self.log().matches("tapir stats\n").count();
        let _ = Command::new("kill")
            .args(["-USR2", &self.pid().to_string()])
            .status();
        let deadline = now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if log.matches("tapir stats\n").count() > before && log.contains("Server: ") {
                if let Some(stats) = parse_stats(&log) {
                    return stats;
                }
            }
            assert!(now() < deadline, "tapir printed no stats after SIGUSR2");
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Print the counters a test wants on record (shown with `--nocapture` and
/// on failure).
pub fn print_counters(label: &str, stats: &Counters, names: &[&str]) {
    let shown: Vec<String> = names
        .iter()
        .map(|n| format!("{n}={}", stats.get(*n).copied().unwrap_or(0)))
        .collect();
    eprintln!("counters after {label}: {}", shown.join(" "));
}

/// A config like [`default_config`] serving `root`, with `extra` appended
/// after the `[http]` table (more `[http]` keys, then sub-tables or other
/// tables).
pub fn config_with_root(root: &Path, extra: &str) -> String {
    let base = default_config();
    let start = base.find("root = ").expect("default config has a root");
    let end = start + base[start..].find('\n').expect("root line ends");
    format!(
        "{}root = \"{}\"{}\n{extra}\n",
        &base[..start],
        root.display(),
        &base[end..]
    )
}

/// Deterministic, incompressible-looking content (xorshift32).
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_F491;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

impl Netns {
    /// Drop packets on `dev` at random with `probability` ("0.05") in both
    /// directions (`iptables -m statistic`; this kernel has no netem).
    pub fn drop_randomly(&self, dev: &str, probability: &str) {
        for (chain, dir) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
            let out = self.exec(&[
                "iptables",
                "-A",
                chain,
                dir,
                dev,
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                probability,
                "-j",
                "DROP",
            ]);
            assert!(
                out.status.success(),
                "iptables: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
