//! The command line of `secondaryctl`: every command, option and help text,
//! and nothing else. `build.rs` compiles this file too (it depends on clap and
//! std only), to write the man page and the shell completions from it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Manage a running secondaryd over its control socket.
#[derive(Parser)]
#[command(name = "secondaryctl", version)]
pub struct Args {
    /// The daemon's control socket [default: $SECONDARYD_SOCKET, else control.socket
    /// of --config, else ./secondaryd-dev/control.sock with --dev, else /run/secondaryd/control.sock]
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Read the socket path and default account from this daemon config file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Talk to a daemon started with `secondaryd --dev`.
    #[arg(long, global = true)]
    pub dev: bool,
    /// The account to act on [default: $SECONDARYD_ACCOUNT, else the only token
    /// account of --config, else 1]
    #[arg(long, global = true, value_name = "N")]
    pub account: Option<i64>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Primary servers: the servers zones are transferred from.
    #[command(subcommand)]
    Primary(PrimaryCmd),
    /// Secondary zones.
    #[command(subcommand)]
    Zone(ZoneCmd),
    /// The daemon at a glance: zones per state, zones not in sync and why, transfers.
    Status {
        /// One line and a monitoring-plugin exit status: 0 every zone in sync,
        /// 1 some retrying, 2 some expired or never loaded, 3 daemon unreachable.
        #[arg(long)]
        check: bool,
    },
    /// Re-read the daemon's config file: keys, tokens, downstreams, limits and
    /// the log level change without a restart; a file that does not validate
    /// is refused (exit 1, with the reason) and the running settings stay.
    Reload,
    /// Nameserver sets: nameservers grouped with the NS/address TTLs and the
    /// hostmaster published with them.
    #[command(subcommand)]
    Nsset(NssetCmd),
    /// Custom (vanity) nameservers: host names in a set, with their addresses.
    #[command(subcommand)]
    Ns(NsCmd),
    /// Link a primary (id or name) to a secondary zone; primaries are tried in link order.
    Link { primary: String, zone: String },
    /// Unlink a primary (id or name) from a secondary zone.
    Unlink { primary: String, zone: String },
}

#[derive(Subcommand)]
pub enum PrimaryCmd {
    /// Create a primary server.
    Add {
        name: String,
        ip: String,
        #[arg(long, default_value_t = 53)]
        port: u16,
        /// Name of a [[tsig_key]] from the daemon's config, used for SOA queries and transfers.
        #[arg(long)]
        tsig_key: Option<String>,
        /// Refuse unsigned NOTIFY from this primary (needs --tsig-key).
        #[arg(long)]
        notify_requires_tsig: bool,
    },
    /// List primary servers.
    List {
        /// id:asc, id:desc, name:asc or name:desc
        #[arg(long, default_value = "id:asc")]
        sort: String,
    },
    /// Show one primary server (by id or name).
    Show { primary: String },
    /// Delete a primary server (by id or name); its links go with it.
    #[command(alias = "delete")]
    Rm { primary: String },
}

#[derive(Subcommand)]
pub enum ZoneCmd {
    /// Create secondary zones, and link them to --primary.
    ///
    /// With one ZONE and no other option: creates it and shows it. Otherwise
    /// every ZONE and those of --from, four requests at a time, with a summary;
    /// one that fails is reported and the others go on (exit 1). A zone that is
    /// there already and linked to --primary (or, without it, is there) counts as done.
    Add {
        /// The zone names.
        #[arg(value_name = "ZONE", required_unless_present = "from")]
        names: Vec<String>,
        /// Link each zone to this primary (id or name).
        #[arg(long, value_name = "PRIMARY")]
        primary: Option<String>,
        /// Read zone names from this file (`-`: standard input), one per line;
        /// blank lines and `#` comments are skipped.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
    /// List secondary zones.
    List {
        /// Only zones whose name contains this text.
        #[arg(long)]
        name_like: Option<String>,
        /// Only zones in this state: ok, bootstrapping, retrying or expired.
        #[arg(long)]
        state: Option<String>,
        /// id:asc, id:desc, name:asc or name:desc
        #[arg(long, default_value = "name:asc")]
        sort: String,
    },
    /// Show one zone.
    Show { zone: String },
    /// Show a zone's transfer status: state, serials, last transfer, last error, timers.
    Status { zone: String },
    /// Print the zone as an RFC 1035 master file.
    Export { zone: String },
    /// Check the primary's serial now and transfer if it is newer.
    Refresh {
        zone: String,
        /// Wait until this refresh has finished and print its outcome (exit 1 if it failed).
        #[arg(long)]
        wait: bool,
    },
    /// Transfer the whole zone now (AXFR), whatever the serial.
    Retransfer {
        zone: String,
        /// Wait until this transfer has finished and print its outcome (exit 1 if it failed).
        #[arg(long)]
        wait: bool,
    },
    /// Delete a zone and all its data.
    #[command(alias = "delete")]
    Rm { zone: String },
    /// The nameservers a zone publishes (its apex NS, their addresses, the SOA MNAME/RNAME).
    #[command(subcommand)]
    Ns(ZoneNsCmd),
}

#[derive(Subcommand)]
pub enum ZoneNsCmd {
    /// Publish these nameservers for the zone instead of the primary's NS:
    /// the --name ones first, then each --set's nameservers, in order.
    Set {
        zone: String,
        /// A nameserver host name; repeat for several.
        #[arg(long = "name", value_name = "NS_NAME")]
        names: Vec<String>,
        /// A nameserver set (id or name); repeat for several.
        #[arg(long = "set", value_name = "SET")]
        sets: Vec<String>,
    },
    /// Publish the primary's NS records again.
    Clear { zone: String },
    /// Show the zone's nameservers in priority order and its settings.
    Show { zone: String },
}

#[derive(Subcommand)]
pub enum NssetCmd {
    /// Create a nameserver set.
    Add {
        name: String,
        /// E-mail address published as the SOA RNAME of the zones using the set.
        #[arg(long)]
        hostmaster: Option<String>,
        /// TTL of the NS records [default: 86400]
        #[arg(long)]
        ns_ttl: Option<u32>,
        /// TTL of the nameservers' A/AAAA records [default: 3600]
        #[arg(long)]
        ip_ttl: Option<u32>,
        /// Your own identifier for the set.
        #[arg(long)]
        external_ref: Option<String>,
    },
    /// List nameserver sets.
    List {
        /// Only sets with this external_ref.
        #[arg(long)]
        external_ref: Option<String>,
        /// id:asc, id:desc, name:asc or name:desc
        #[arg(long, default_value = "id:asc")]
        sort: String,
    },
    /// Show one set (by id or name).
    Show { set: String },
    /// Change a set's fields (by id or name); fields not given stay.
    Update {
        set: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "no_hostmaster")]
        hostmaster: Option<String>,
        /// Remove the hostmaster (zones keep the primary's SOA RNAME).
        #[arg(long)]
        no_hostmaster: bool,
        #[arg(long)]
        ns_ttl: Option<u32>,
        #[arg(long)]
        ip_ttl: Option<u32>,
        #[arg(long, conflicts_with = "no_external_ref")]
        external_ref: Option<String>,
        #[arg(long)]
        no_external_ref: bool,
    },
    /// Delete a set (by id or name); refused while it has nameservers or zones use it.
    #[command(alias = "delete")]
    Rm { set: String },
}

#[derive(Subcommand)]
pub enum NsCmd {
    /// Create a custom nameserver in a set.
    Add {
        /// The nameserver's host name, e.g. ns1.example.com.
        ns_name: String,
        /// The set (id or name) it belongs to.
        #[arg(long)]
        set: String,
        /// An IPv4 (A) or IPv6 (AAAA) address; repeat for several.
        #[arg(long = "address", value_name = "IP")]
        addresses: Vec<String>,
    },
    /// List custom nameservers.
    List {
        /// Only the nameservers of this set (id or name).
        #[arg(long)]
        set: Option<String>,
        /// id:asc, id:desc, name:asc or name:desc
        #[arg(long, default_value = "name:asc")]
        sort: String,
    },
    /// Show one custom nameserver.
    Show { ns_name: String },
    /// Delete a custom nameserver.
    #[command(alias = "delete")]
    Rm { ns_name: String },
}
