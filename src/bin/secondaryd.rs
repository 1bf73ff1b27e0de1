//! `secondaryd`: parse arguments, load the config, run the daemon, map errors
//! to exit codes (0 ok, 1 runtime failure, 2 bad configuration).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use secondaryd::config::Config;

/// A secondary DNS server: keeps copies of zones from their primaries by AXFR/IXFR.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The config file (TOML); see etc/secondaryd.toml for every key and its default.
    #[arg(long, short, value_name = "FILE", required_unless_present = "dev", conflicts_with = "dev")]
    config: Option<PathBuf>,
    /// Run on the built-in development defaults: store and control socket under
    /// ./secondaryd-dev/, DNS on 127.0.0.1:5300; no root needed.
    #[arg(long)]
    dev: bool,
    /// Validate the config and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("secondaryd: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::dev(),
    };
    if args.check_config {
        println!("secondaryd: config {} is valid", config.source);
        return ExitCode::SUCCESS;
    }
    secondaryd::daemon::init_logging(&config.log_level);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = config.dns.workers {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("secondaryd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(secondaryd::daemon::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "secondaryd failed");
            eprintln!("secondaryd: {e}");
            ExitCode::FAILURE
        }
    }
}
