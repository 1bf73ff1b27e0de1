//! `secondaryd`: parse arguments, load the config, run the daemon, map errors
//! to exit codes (0 ok, 1 runtime failure, 2 bad configuration). The
//! command line itself is in `cli`, which build.rs reads too.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::Args;
use secondaryd::config::Config;

/// jemalloc (Cargo.toml says why; .cargo/config.toml tunes it).
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
