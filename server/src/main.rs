//! `tapir`: command line and start-up only. The loop lives in `driver`.
//!
//! `tapir [--config PATH]` runs the server; `tapir --check` validates the
//! configuration. The other subcommands talk to a running server over its
//! control socket (`[control] socket` in the same configuration file):
//! `stats [--watch]`, `ss [--state S]`, `reload`, `stop`. `plot` draws a
//! trace file and needs no server.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tapir::config::Config;
use tapir::driver::Driver;
use tapir::status::text::{parse_stats, rates};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, reload, EnvFilter};

/// A web server on its own user-space TCP/IP stack over a Linux TAP device.
#[derive(Debug, Parser)]
#[command(name = "tapir", version, about)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', default_value = "conf/tapir.toml", global = true)]
    config: PathBuf,
    /// Validate the configuration and exit: 0 if valid, 1 with `file:line: key ...` if not.
    #[arg(long)]
    check: bool,
    /// Talk to this control socket instead of the configuration's
    /// `[control] socket`.
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every counter, `netstat -s` style.
    Stats {
        /// Print per-second rates every SECS seconds (default 1) until
        /// interrupted.
        #[arg(long, num_args = 0..=1, default_missing_value = "1")]
        watch: Option<f64>,
        /// With --watch: stop after this many samples.
        #[arg(long)]
        count: Option<u64>,
    },
    /// One line per connection, like `ss -tin`, listeners with their queues.
    Ss {
        /// Only these states (ss names, comma-separated: time-wait,
        /// established, listening, connected, all, ...).
        #[arg(long, default_value = "all")]
        state: String,
    },
    /// Re-read the configuration and apply what can change live (SIGHUP).
    Reload,
    /// Stop gracefully: finish responses in flight, close with FIN (SIGTERM).
    Stop,
    /// Draw a `[trace] connections` CSV as an SVG.
    Plot {
        /// The trace file.
        trace: PathBuf,
        /// Output SVG.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// The connection (peer address:port); default: the busiest.
        #[arg(long)]
        conn: Option<String>,
        /// Title of the figure.
        #[arg(long)]
        title: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Plot {
        trace,
        output,
        conn,
        title,
    }) = &cli.command
    {
        return plot(trace, output, conn.as_deref(), title.as_deref());
    }
    if let Some(command) = &cli.command {
        // A client needs only the socket: a configuration broken since the
        // server started (a rejected reload) must not lock it out.
        let (socket, timeout) = match Config::load(&cli.config) {
            Ok(c) => (c.observe.control.socket, c.observe.control.shutdown_timeout),
            Err(err) => {
                let socket = lenient_socket(&cli.config);
                if cli.socket.is_none() {
                    eprintln!(
                        "tapir: warning: {err}; using control socket {}",
                        socket.as_deref().unwrap_or(Path::new("off")).display()
                    );
                }
                (socket, Duration::from_secs(60))
            }
        };
        let Some(socket) = cli.socket.clone().or(socket) else {
            eprintln!("tapir: [control] socket is off in {}", cli.config.display());
            return ExitCode::FAILURE;
        };
        return client(command, &socket, timeout + Duration::from_secs(5));
    }
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tapir: {err}");
            return ExitCode::FAILURE;
        }
    };
    if cli.check {
        println!("tapir: {}: configuration ok", cli.config.display());
        return ExitCode::SUCCESS;
    }
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let (filter, handle) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_target(false))
        .init();

    let mut driver = match Driver::new(&config) {
        Ok(driver) => driver,
        Err(err) => {
            eprintln!("tapir: cannot start on TAP `{}`: {err}", config.net.tap);
            return ExitCode::FAILURE;
        }
    };
    driver.set_log_reload(Box::new(move |level| {
        let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
        handle.reload(filter).map_err(|e| e.to_string())
    }));
    match driver.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tapir: event loop failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `[control] socket` from a file that does not load as a whole: the
/// `socket = "..."` line of its `[control]` table, else the default.
fn lenient_socket(config: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(config).unwrap_or_default();
    let mut table = "";
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            table = line;
        } else if table == "[control]" {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "socket" {
                    let v = v.split('#').next().unwrap_or("").trim();
                    found = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .map(str::to_owned);
                }
            }
        }
    }
    let value = found.unwrap_or_else(|| tapir::config::DEFAULT_CONTROL_SOCKET.to_owned());
    if value == "off" {
        return None;
    }
    let dir = config
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(dir.join(value))
}

/// Send one request line and return the whole answer.
fn ask(socket: &Path, line: &str, wait: Duration) -> Result<String, String> {
    let what = || format!("control socket {}", socket.display());
    let mut stream = UnixStream::connect(socket).map_err(|e| {
        format!(
            "{}: {e} (is tapir running with this configuration?)",
            what()
        )
    })?;
    stream
        .set_read_timeout(Some(wait))
        .and_then(|()| stream.set_write_timeout(Some(wait)))
        .map_err(|e| format!("{}: {e}", what()))?;
    stream
        .write_all(format!("{line}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", what()))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("{}: no complete answer: {e}", what()))?;
    Ok(answer)
}

fn client(command: &Command, socket: &Path, wait: Duration) -> ExitCode {
    let short = Duration::from_secs(30);
    let result = match command {
        Command::Stats { watch: None, .. } => ask(socket, "stats", short),
        Command::Stats {
            watch: Some(secs),
            count,
        } => return watch(socket, *secs, *count),
        Command::Ss { state } => {
            // Stream the table to stdout as it arrives.
            return stream_table(socket, state, short);
        }
        Command::Reload => ask(socket, "reload", short),
        Command::Stop => ask(socket, "stop", wait),
        Command::Plot { .. } => unreachable!("handled before the configuration is read"),
    };
    match result {
        Ok(answer) if answer.starts_with("error:") => {
            eprint!("tapir: {answer}");
            ExitCode::FAILURE
        }
        Ok(answer) => {
            print!("{answer}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tapir: {e}");
            ExitCode::FAILURE
        }
    }
}

fn stream_table(socket: &Path, state: &str, wait: Duration) -> ExitCode {
    let run = || -> Result<bool, String> {
        let what = || format!("control socket {}", socket.display());
        let mut stream = UnixStream::connect(socket).map_err(|e| {
            format!(
                "{}: {e} (is tapir running with this configuration?)",
                what()
            )
        })?;
        stream
            .set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(format!("ss {state}\n").as_bytes())
            .map_err(|e| format!("{}: {e}", what()))?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = std::io::stdout().lock();
        let mut first = true;
        loop {
            let n = stream
                .read(&mut buf)
                .map_err(|e| format!("{}: {e}", what()))?;
            if n == 0 {
                return Ok(true);
            }
            if first && buf[..n].starts_with(b"error:") {
                eprint!("tapir: {}", String::from_utf8_lossy(&buf[..n]));
                return Ok(false);
            }
            first = false;
            if out.write_all(&buf[..n]).is_err() {
                // stdout closed (e.g. `| head`): stop quietly.
                return Ok(true);
            }
        }
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tapir: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parsed `stats` text.
type Counters = Vec<(String, String, u64)>;

// The CLI client times its own samples; it is not the server's core.
#[allow(clippy::disallowed_methods)]
fn watch(socket: &Path, secs: f64, count: Option<u64>) -> ExitCode {
    if !(secs.is_finite() && secs > 0.0) {
        eprintln!("tapir: --watch needs a positive number of seconds");
        return ExitCode::FAILURE;
    }
    let mut prev: Option<(Instant, Counters)> = None;
    let mut samples = 0;
    loop {
        let text = match ask(socket, "stats", Duration::from_secs(30)) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("tapir: {e}");
                return ExitCode::FAILURE;
            }
        };
        let now = Instant::now();
        let cur = parse_stats(&text);
        if let Some((at, before)) = &prev {
            print!(
                "{}",
                rates(before, &cur, now.duration_since(*at).as_secs_f64())
            );
            println!();
            samples += 1;
            if count.is_some_and(|c| samples >= c) {
                return ExitCode::SUCCESS;
            }
        }
        prev = Some((now, cur));
        std::thread::sleep(Duration::from_secs_f64(secs));
    }
}

fn plot(trace: &Path, output: &Path, conn: Option<&str>, title: Option<&str>) -> ExitCode {
    let csv = match std::fs::read_to_string(trace) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tapir: {}: {e}", trace.display());
            return ExitCode::FAILURE;
        }
    };
    let svg = match tapir::plot::plot(&csv, conn, title) {
        Ok(svg) => svg,
        Err(e) => {
            eprintln!("tapir: {}: {e}", trace.display());
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(output, svg) {
        eprintln!("tapir: {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    println!("tapir: wrote {}", output.display());
    ExitCode::SUCCESS
}
