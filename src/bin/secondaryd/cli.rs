//! The command line of `secondaryd`: its options and help text, and nothing
//! else. `build.rs` compiles this file too (it depends on clap and std only),
//! to write the man page and the shell completions from it.

use std::path::PathBuf;

use clap::Parser;

/// A secondary DNS server: keeps copies of zones from their primaries by AXFR/IXFR.
#[derive(Parser)]
#[command(name = "secondaryd", version)]
pub struct Args {
    /// The config file (TOML); /etc/secondaryd/secondaryd.toml (etc/secondaryd.toml in the
    /// source) has every key with its default.
    #[arg(long, short, value_name = "FILE", required_unless_present = "dev", conflicts_with = "dev")]
    pub config: Option<PathBuf>,
    /// Run on the built-in development defaults: store and control socket under
    /// ./secondaryd-dev/, DNS on 127.0.0.1:5300; no root needed.
    #[arg(long)]
    pub dev: bool,
    /// Validate the config and exit.
    #[arg(long)]
    pub check_config: bool,
}
