//! Configuration: the on-disk TOML spec and the validated runtime [`Config`].
//!
//! The file format is [`spec::ConfigFile`]: every key has a named default and an
//! unknown key is an error. [`Config::load`] reads a file, checks every value and
//! resolves secrets, so that the rest of the daemon only ever sees valid settings.
//! Errors name the file and the key (`config /etc/secondaryd/secondaryd.toml: key
//! `dns.listen[0]`: …`).

pub mod policy;
pub mod spec;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A configuration problem, for an operator: which file, which key, what is wrong.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub key: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Some(key) => write!(f, "config {}: key `{}`: {}", self.file, key, self.message),
            None => write!(f, "config {}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The validated settings the daemon runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the settings came from (a path, or `built-in development defaults`).
    pub source: String,
    /// The file they were read from (what a reload reads again); `None` for
    /// the built-in development defaults.
    pub file: Option<PathBuf>,
    pub store_path: PathBuf,
    /// `store.max_size_mib` in bytes: past it, writes fail as on a full disk.
    pub store_max_bytes: Option<u64>,
    pub control_socket: PathBuf,
    pub control_listen: Option<SocketAddr>,
    /// HTTPS on `control_listen` (`control.tls_cert`, `control.tls_key`); plain HTTP when `None`.
    pub control_tls: Option<ControlTls>,
    pub dns_listen: Vec<SocketAddr>,
    pub dns: DnsConfig,
    pub transfer: TransferConfig,
    pub tsig_keys: Vec<TsigKeyConfig>,
    pub tokens: Vec<Token>,
    /// Who may transfer our zones and gets our NOTIFYs (`[[downstream]]`).
    pub downstreams: Vec<DownstreamConfig>,
    /// The catalog zone of our zones (RFC 9432), when `[catalog] zone` is set.
    pub catalog_zone: Option<String>,
    /// `log.level`: the `tracing` filter when `RUST_LOG` is not set.
    pub log_level: String,
    /// Where `GET /metrics` (Prometheus) is served (`metrics.listen`); off when `None`.
    pub metrics_listen: Option<SocketAddr>,
}

/// The TCP API's certificate and key, loaded (`[control] tls_cert`, `tls_key`).
#[derive(Clone)]
pub struct ControlTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub server: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ControlTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlTls").field("cert", &self.cert).field("key", &self.key).finish_non_exhaustive()
    }
}

/// A downstream secondary (`[[downstream]]`): clients in `address` may
/// transfer the zones in `zones` (all when `None`), signed with `tsig_key`
/// when it is set; `notify` gets a NOTIFY after each new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownstreamConfig {
    pub address: ipnet::IpNet,
    /// A normalized `[[tsig_key]]` name.
    pub tsig_key: Option<String>,
    pub notify: Option<SocketAddr>,
    /// Normalized zone names.
    pub zones: Option<Vec<String>>,
}

impl DownstreamConfig {
    /// Checks one entry's `address`, `tsig_key` (one of `keys`) and `notify`
    /// (IP:PORT; by default a single address on port 53, a network none);
    /// an error names the field.
    pub fn parse(
        address: &str,
        tsig_key: Option<&str>,
        notify: Option<&str>,
        keys: &[TsigKeyConfig],
    ) -> Result<DownstreamConfig, (&'static str, String)> {
        let address = policy::parse_network(address).map_err(|e| ("address", e))?;
        let tsig_key = match tsig_key {
            Some(k) => {
                let name = normalize_key_name(k);
                if !keys.iter().any(|t| t.name == name) {
                    return Err(("tsig_key", format!("no [[tsig_key]] is named `{k}`")));
                }
                Some(name)
            }
            None => None,
        };
        let single = address.prefix_len() == address.max_prefix_len();
        let notify = match notify {
            Some(text) => Some(
                text.parse::<SocketAddr>()
                    .map_err(|_| ("notify", format!("`{text}` is not IP:PORT (e.g. 127.0.0.1:5301 or [::1]:53)")))?,
            ),
            None if single => Some(SocketAddr::new(address.addr(), 53)),
            None => None,
        };
        Ok(DownstreamConfig { address, tsig_key, notify, zones: None })
    }
}

/// Limits of outgoing transfers and NOTIFY (`[dns.transfer_out]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferOutConfig {
    pub max_concurrent: usize,
    pub max_per_client: usize,
    /// NOTIFY messages per second, all zones and targets together.
    pub notify_rate: u32,
    /// Sends of one NOTIFY before giving up.
    pub notify_tries: u32,
}

/// The DNS listener's answers (`[dns]`).
#[derive(Debug, Clone)]
pub struct DnsConfig {
    pub listen: Vec<SocketAddr>,
    /// The largest UDP answer we send (and advertise in OPT).
    pub max_udp_payload: u16,
    /// CHAOS TXT `version.bind` / `version.server`; REFUSED when unset.
    pub version: Option<String>,
    /// CHAOS TXT `hostname.bind` / `id.server`; REFUSED when unset.
    pub identity: Option<String>,
    /// The NSID option (RFC 5001) sent to clients that ask; none when unset.
    pub nsid: Option<String>,
    /// Worker threads (they answer queries and run the rest of the daemon)
    /// and UDP sockets per address; `None`: one per CPU.
    pub workers: Option<usize>,
    /// A TCP client that sends nothing for this long is disconnected.
    pub tcp_idle_timeout: Duration,
    /// Open TCP connections at most, all addresses together; when all are
    /// taken, a new one closes the longest-idle.
    pub tcp_connections: usize,
    /// Open TCP connections at most from one client address; more are closed.
    pub tcp_connections_per_client: usize,
    /// A TCP connection is closed after this long, however busy (checked
    /// between messages, so a transfer under way is not cut; RFC 7766 §6.2).
    pub tcp_max_lifetime: Duration,
    /// Response rate limiting of UDP answers (off when the rate is 0).
    pub rate_limit: RateLimitConfig,
    pub transfer_out: TransferOutConfig,
}

/// Response rate limiting (`dns.rate_limit*`; see `dns::rrl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Responses per second per client prefix; 0: off.
    pub responses_per_second: u32,
    /// Every slip-th limited response goes out truncated; 0: all dropped.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
}

/// Limits and timeouts of incoming zone transfers (README: "Transfers, refresh and NOTIFY").
#[derive(Debug, Clone)]
pub struct TransferConfig {
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub total_timeout: Duration,
    pub soa_timeout: Duration,
    pub max_records: u64,
    pub max_bytes: u64,
    pub concurrency: usize,
    pub per_primary: usize,
    pub soa_queries_per_second: u32,
    pub refresh_min: Duration,
    pub refresh_max: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub expire_min: Duration,
    pub expire_max: Duration,
    pub journal_max_diffs: u32,
    /// Bytes of IXFR journal kept per zone (oldest diffs go first).
    pub journal_max_bytes: u64,
    /// Changed records an IXFR may hold in memory; past it, AXFR instead.
    pub max_ixfr_records: u64,
    /// Which addresses primaries may have (checked when one is stored and
    /// before every query or transfer).
    pub primaries: policy::AddressPolicy,
    /// Whether zones with special-use names (single labels such as TLDs,
    /// `localhost`, `invalid`, `arpa`, `in-addr.arpa`, `ip6.arpa`) may be
    /// created.
    pub allow_reserved_zones: bool,
}

/// A TSIG key (RFC 8945) as configured: a lower-case absolute-less name, an
/// algorithm name as BIND's `tsig-keygen` writes it, and the decoded secret.
#[derive(Clone)]
pub struct TsigKeyConfig {
    pub name: String,
    pub algorithm: String,
    pub secret: Vec<u8>,
    /// The account whose tokens may name this key over the TCP API; `None`:
    /// the Unix socket only (operators), so one tenant cannot transfer with
    /// another tenant's key.
    pub account: Option<i64>,
}

impl std::fmt::Debug for TsigKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKeyConfig")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .field("account", &self.account)
            .finish()
    }
}

/// The TSIG algorithms we accept (RFC 8945 §6; HMAC-MD5 is deliberately
/// absent, and HMAC-SHA224 too: the crypto library has no SHA-224 HMAC).
/// The same list `wire::tsig::Algorithm` parses, so a config that passes
/// `--check-config` also starts.
pub const TSIG_ALGORITHMS: &[&str] = &["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"];

/// An API bearer token: grants exactly one account over TCP.
#[derive(Clone)]
pub struct Token {
    pub account: i64,
    pub secret: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("account", &self.account).field("secret", &"<redacted>").finish()
    }
}

/// The directory the development defaults keep their state in, relative to the
/// working directory: `secondaryd --dev` and `secondaryctl --dev` agree on it.
pub const DEV_DIR: &str = "secondaryd-dev";

impl Config {
    /// Reads and validates a config file. Relative paths in the file are taken
    /// relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            key: None,
            message: format!("cannot read the file: {e}"),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut config = Self::from_toml(&text, &file, &base)?;
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates TOML text; `file` names it in errors, `base` anchors relative paths.
    pub fn from_toml(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let spec: spec::ConfigFile = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_string(),
            key: None,
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        spec.validate(file, base)
    }

    /// The embedded development defaults: state and control socket under
    /// `./secondaryd-dev/`, DNS on unprivileged 127.0.0.1:5300, no root needed.
    pub fn dev() -> Config {
        let dir = PathBuf::from(DEV_DIR);
        let text = format!(
            "[store]\npath = \"{d}/secondaryd.db\"\n[control]\nsocket = \"{d}/control.sock\"\n[dns]\nlisten = [\"127.0.0.1:5300\"]\n",
            d = dir.display()
        );
        match Self::from_toml(&text, "built-in development defaults", Path::new("")) {
            Ok(config) => config,
            // The embedded text is a constant known to be valid; a failure here is a bug
            // caught by the unit test below, never a runtime input problem.
            Err(e) => unreachable!("built-in development config is invalid: {e}"),
        }
    }

    /// Finds a TSIG key by name (case-insensitive, trailing dot optional).
    pub fn tsig_key(&self, name: &str) -> Option<&TsigKeyConfig> {
        let wanted = normalize_key_name(name);
        self.tsig_keys.iter().find(|k| k.name == wanted)
    }

    /// The keys a caller may name: every key on the Unix socket (`None`),
    /// only the account's own over TCP (`Some(account)`).
    pub fn tsig_keys_for(&self, account: Option<i64>) -> Vec<TsigKeyConfig> {
        self.tsig_keys.iter().filter(|k| account.is_none() || k.account == account).cloned().collect()
    }
}

/// Key names compare case-insensitively and without the trailing dot.
pub fn normalize_key_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
