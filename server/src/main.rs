//! `tapir`: command line and start-up only. The loop lives in `driver`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tapir::config::Config;
use tapir::driver::Driver;
use tracing_subscriber::EnvFilter;

/// A web server on its own user-space TCP/IP stack over a Linux TAP device.
#[derive(Debug, Parser)]
#[command(name = "tapir", version, about)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', default_value = "conf/tapir.toml")]
    config: PathBuf,
    /// Validate the configuration and exit: 0 if valid, 1 with `file:line: key ...` if not.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();

    let mut driver = match Driver::new(&config) {
        Ok(driver) => driver,
        Err(err) => {
            eprintln!("tapir: cannot start on TAP `{}`: {err}", config.net.tap);
            return ExitCode::FAILURE;
        }
    };
    match driver.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tapir: event loop failed: {err}");
            ExitCode::FAILURE
        }
    }
}
