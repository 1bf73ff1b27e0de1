//! The config file as written on disk. Every key has a named default (the
//! `default_*` functions, documented in `etc/secondaryd.toml`), unknown keys are
//! rejected, and [`ConfigFile::validate`] turns it into a [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::policy::{parse_network, AddressPolicy};
use super::{
    normalize_key_name, Config, ConfigError, ControlTls, DnsConfig, Token, TransferConfig, TsigKeyConfig,
    TSIG_ALGORITHMS,
};
use crate::tls::TlsFile;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub store: StoreSpec,
    #[serde(default)]
    pub control: ControlSpec,
    #[serde(default)]
    pub dns: DnsSpec,
    #[serde(default)]
    pub transfer: TransferSpec,
    #[serde(default)]
    pub tsig_key: Vec<TsigKeySpec>,
    #[serde(default)]
    pub token: Vec<TokenSpec>,
    #[serde(default)]
    pub downstream: Vec<DownstreamSpec>,
    #[serde(default)]
    pub catalog: CatalogSpec,
    #[serde(default)]
    pub log: LogSpec,
    #[serde(default)]
    pub metrics: MetricsSpec,
}

/// What the daemon logs (`[log]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// A `tracing` filter: a level (`info`) or per-module directives
    /// (`info,secondaryd::dns=debug`). `RUST_LOG`, when set, takes its place.
    #[serde(default = "default_log_level")]
    pub level: String,
}

pub fn default_log_level() -> String {
    "info".to_string()
}

impl Default for LogSpec {
    fn default() -> Self {
        LogSpec { level: default_log_level() }
    }
}

/// The Prometheus endpoint (`[metrics]`), off by default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    /// TCP address of `GET /metrics`, e.g. `127.0.0.1:9153`.
    #[serde(default)]
    pub listen: Option<String>,
}

/// A catalog zone of our zones (`[catalog]`, RFC 9432), off by default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSpec {
    #[serde(default)]
    pub zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSpec {
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// The most the database may grow to, in MiB (default: no bound but the
    /// disk's).
    #[serde(default)]
    pub max_size_mib: Option<u64>,
}

pub fn default_store_path() -> PathBuf {
    PathBuf::from("/var/lib/secondaryd/secondaryd.db")
}

impl Default for StoreSpec {
    fn default() -> Self {
        StoreSpec { path: default_store_path(), max_size_mib: None }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSpec {
    #[serde(default = "default_control_socket")]
    pub socket: PathBuf,
    /// Optional TCP address of the API; every request there needs a bearer token.
    #[serde(default)]
    pub listen: Option<String>,
    /// The TCP API's certificate chain (PEM); with `tls_key`, it speaks HTTPS only.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM: PKCS#8, RSA or SEC1).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
}

pub fn default_control_socket() -> PathBuf {
    PathBuf::from("/run/secondaryd/control.sock")
}

impl Default for ControlSpec {
    fn default() -> Self {
        ControlSpec { socket: default_control_socket(), listen: None, tls_cert: None, tls_key: None }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSpec {
    #[serde(default = "default_dns_listen")]
    pub listen: Vec<String>,
    #[serde(default = "default_max_udp_payload")]
    pub max_udp_payload: u64,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub identity: Option<String>,
    #[serde(default)]
    pub nsid: Option<String>,
    #[serde(default)]
    pub workers: u64,
    #[serde(default = "default_tcp_idle_timeout")]
    pub tcp_idle_timeout: u64,
    #[serde(default = "default_tcp_connections")]
    pub tcp_connections: u64,
    #[serde(default = "default_tcp_connections_per_client")]
    pub tcp_connections_per_client: u64,
    #[serde(default = "default_tcp_max_lifetime")]
    pub tcp_max_lifetime: u64,
    #[serde(default)]
    pub rate_limit: u64,
    #[serde(default = "default_rate_limit_slip")]
    pub rate_limit_slip: u64,
    #[serde(default = "default_rate_limit_ipv4_prefix")]
    pub rate_limit_ipv4_prefix: u64,
    #[serde(default = "default_rate_limit_ipv6_prefix")]
    pub rate_limit_ipv6_prefix: u64,
    #[serde(default)]
    pub transfer_out: TransferOutSpec,
}

/// Outgoing transfers and NOTIFY (`[dns.transfer_out]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferOutSpec {
    #[serde(default = "default_transfers_out")]
    pub max_concurrent: u64,
    #[serde(default = "default_transfers_out_per_client")]
    pub max_per_client: u64,
    #[serde(default = "default_notify_rate")]
    pub notify_rate: u64,
    #[serde(default = "default_notify_tries")]
    pub notify_tries: u64,
}

/// BIND's `transfers-out` is 10, sized for 1990s links; a fleet following a
/// catalog of thousands of zones needs more, and each transfer only reads a
/// shared snapshot.
pub fn default_transfers_out() -> u64 {
    100
}
pub fn default_transfers_out_per_client() -> u64 {
    20
}
/// NOTIFY messages sent per second at most (BIND's `notify-rate` is 20; a
/// NOTIFY is one small datagram).
pub fn default_notify_rate() -> u64 {
    100
}
/// RFC 1996 §4.1 suggests a few retransmissions; BIND tries 5 times.
pub fn default_notify_tries() -> u64 {
    5
}

impl Default for TransferOutSpec {
    fn default() -> Self {
        TransferOutSpec {
            max_concurrent: default_transfers_out(),
            max_per_client: default_transfers_out_per_client(),
            notify_rate: default_notify_rate(),
            notify_tries: default_notify_tries(),
        }
    }
}

/// A downstream secondary allowed to transfer our zones (`[[downstream]]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownstreamSpec {
    pub address: String,
    #[serde(default)]
    pub tsig_key: Option<String>,
    #[serde(default)]
    pub notify: Option<String>,
    #[serde(default)]
    pub zones: Option<Vec<String>>,
}

/// RFC 7766 §6.2.3 suggests a few seconds; BIND's `tcp-idle-timeout` is 30 s, Knot's 10 s.
pub fn default_tcp_idle_timeout() -> u64 {
    10
}
/// BIND's `tcp-clients` is 150.
pub fn default_tcp_connections() -> u64 {
    150
}
/// One client may need several (a downstream's transfers run on connections
/// of their own, up to `dns.transfer_out.max_per_client`, 20), yet no client
/// can hold more than a few of the 150 slots.
pub fn default_tcp_connections_per_client() -> u64 {
    20
}
/// RFC 7766 §6.2 leaves the bound to the server; two minutes lets a client
/// reuse a connection for many queries, not hold it for good.
pub fn default_tcp_max_lifetime() -> u64 {
    120
}
/// BIND's and Knot's default slip.
pub fn default_rate_limit_slip() -> u64 {
    2
}
pub fn default_rate_limit_ipv4_prefix() -> u64 {
    24
}
pub fn default_rate_limit_ipv6_prefix() -> u64 {
    56
}

/// The DNS Flag Day 2020 size: no IP fragmentation on common paths (BIND's and
/// Knot's default too).
pub fn default_max_udp_payload() -> u64 {
    1232
}

pub fn default_dns_listen() -> Vec<String> {
    vec!["0.0.0.0:53".to_string(), "[::]:53".to_string()]
}

impl Default for DnsSpec {
    fn default() -> Self {
        DnsSpec {
            listen: default_dns_listen(),
            max_udp_payload: default_max_udp_payload(),
            version: None,
            identity: None,
            nsid: None,
            workers: 0,
            tcp_idle_timeout: default_tcp_idle_timeout(),
            tcp_connections: default_tcp_connections(),
            tcp_connections_per_client: default_tcp_connections_per_client(),
            tcp_max_lifetime: default_tcp_max_lifetime(),
            rate_limit: 0,
            rate_limit_slip: default_rate_limit_slip(),
            rate_limit_ipv4_prefix: default_rate_limit_ipv4_prefix(),
            rate_limit_ipv6_prefix: default_rate_limit_ipv6_prefix(),
            transfer_out: TransferOutSpec::default(),
        }
    }
}

/// Transfer limits and SOA timer clamps. Durations are whole seconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSpec {
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u64,
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: u64,
    #[serde(default = "default_total_timeout")]
    pub total_timeout: u64,
    #[serde(default = "default_soa_timeout")]
    pub soa_timeout: u64,
    #[serde(default = "default_max_records")]
    pub max_records: u64,
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    #[serde(default = "default_concurrency")]
    pub concurrency: u64,
    #[serde(default = "default_per_primary")]
    pub per_primary: u64,
    #[serde(default = "default_soa_queries_per_second")]
    pub soa_queries_per_second: u64,
    #[serde(default = "default_refresh_min")]
    pub refresh_min: u64,
    #[serde(default = "default_refresh_max")]
    pub refresh_max: u64,
    #[serde(default = "default_retry_min")]
    pub retry_min: u64,
    #[serde(default = "default_retry_max")]
    pub retry_max: u64,
    #[serde(default = "default_expire_min")]
    pub expire_min: u64,
    #[serde(default = "default_expire_max")]
    pub expire_max: u64,
    #[serde(default = "default_journal_max_diffs")]
    pub journal_max_diffs: u64,
    #[serde(default = "default_journal_max_bytes")]
    pub journal_max_bytes: u64,
    #[serde(default = "default_max_ixfr_records")]
    pub max_ixfr_records: u64,
    #[serde(default = "default_allow_primaries")]
    pub allow_primaries: Vec<String>,
    #[serde(default)]
    pub deny_primaries: Vec<String>,
    #[serde(default)]
    pub allow_reserved_zones: bool,
}

pub fn default_connect_timeout() -> u64 {
    10
}
pub fn default_idle_timeout() -> u64 {
    30
}
pub fn default_total_timeout() -> u64 {
    7200
}
pub fn default_soa_timeout() -> u64 {
    5
}
pub fn default_max_records() -> u64 {
    10_000_000
}
pub fn default_max_bytes() -> u64 {
    1 << 30
}
/// See etc/secondaryd.toml: what a primary sees at these defaults is in the
/// README ("What a primary sees").
pub fn default_concurrency() -> u64 {
    50
}
/// BIND's `transfers-out` (what a BIND primary serves at once) is 10.
pub fn default_per_primary() -> u64 {
    10
}
pub fn default_soa_queries_per_second() -> u64 {
    100
}
/// BIND's `min-refresh-time` (300 s) and `max-refresh-time` (4 weeks).
pub fn default_refresh_min() -> u64 {
    300
}
pub fn default_refresh_max() -> u64 {
    2_419_200
}
/// BIND's `min-retry-time` (500 s) and `max-retry-time` (2 weeks).
pub fn default_retry_min() -> u64 {
    500
}
pub fn default_retry_max() -> u64 {
    1_209_600
}
/// Knot's `expire-min-interval` is 3 s; an hour keeps a typo from expiring zones at once.
pub fn default_expire_min() -> u64 {
    3600
}
/// RFC 1912 suggests 2–4 weeks; 1 year bounds a silly SOA.
pub fn default_expire_max() -> u64 {
    31_536_000
}
pub fn default_journal_max_diffs() -> u64 {
    100
}
/// Knot's `journal-max-usage` is 100 MiB; 64 MiB per zone keeps many zones affordable.
/// An IXFR is held in memory until it commits (it must apply whole); past
/// this many changed records the whole zone is fetched instead, which is
/// written to disk as it arrives.
pub fn default_max_ixfr_records() -> u64 {
    100_000
}
pub fn default_journal_max_bytes() -> u64 {
    64 << 20
}

/// Every address: a self-hoster's primaries are often on private networks.
pub fn default_allow_primaries() -> Vec<String> {
    vec!["0.0.0.0/0".to_string(), "::/0".to_string()]
}

impl Default for TransferSpec {
    fn default() -> Self {
        TransferSpec {
            connect_timeout: default_connect_timeout(),
            idle_timeout: default_idle_timeout(),
            total_timeout: default_total_timeout(),
            soa_timeout: default_soa_timeout(),
            max_records: default_max_records(),
            max_bytes: default_max_bytes(),
            concurrency: default_concurrency(),
            per_primary: default_per_primary(),
            soa_queries_per_second: default_soa_queries_per_second(),
            refresh_min: default_refresh_min(),
            refresh_max: default_refresh_max(),
            retry_min: default_retry_min(),
            retry_max: default_retry_max(),
            expire_min: default_expire_min(),
            expire_max: default_expire_max(),
            journal_max_diffs: default_journal_max_diffs(),
            journal_max_bytes: default_journal_max_bytes(),
            max_ixfr_records: default_max_ixfr_records(),
            allow_primaries: default_allow_primaries(),
            deny_primaries: Vec::new(),
            allow_reserved_zones: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigKeySpec {
    pub name: String,
    #[serde(default = "default_tsig_algorithm")]
    pub algorithm: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// The account whose API tokens may use the key (default: none, the Unix
    /// socket only).
    #[serde(default)]
    pub account: Option<i64>,
}

pub fn default_tsig_algorithm() -> String {
    "hmac-sha256".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub account: i64,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// Bearer tokens shorter than this are refused: they would be guessable.
pub const MIN_TOKEN_LEN: usize = 16;

struct Checker<'a> {
    file: &'a str,
    base: &'a Path,
}

impl Checker<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { file: self.file.to_string(), key: Some(key.into()), message: message.into() }
    }

    fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn addr(&self, key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
        s.parse()
            .map_err(|_| self.err(key, format!("`{s}` is not an address and port such as 127.0.0.1:53 or [::1]:53")))
    }

    fn networks(&self, key: &str, list: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        list.iter().enumerate().map(|(i, s)| parse_network(s).map_err(|e| self.err(format!("{key}[{i}]"), e))).collect()
    }

    fn secs(&self, key: &str, v: u64, min: u64) -> Result<Duration, ConfigError> {
        if v < min {
            return Err(self.err(key, format!("must be at least {min} (seconds), got {v}")));
        }
        Ok(Duration::from_secs(v))
    }

    fn secret(&self, key: &str, inline: &Option<String>, file: &Option<PathBuf>) -> Result<String, ConfigError> {
        match (inline, file) {
            (Some(_), Some(_)) => Err(self.err(key, "set either `secret` or `secret_file`, not both")),
            (None, None) => Err(self.err(key, "needs `secret` or `secret_file`")),
            (Some(s), None) => Ok(s.trim().to_string()),
            (None, Some(f)) => {
                let path = self.path(f);
                std::fs::read_to_string(&path)
                    .map(|s| s.trim().to_string())
                    .map_err(|e| self.err(format!("{key}.secret_file"), format!("cannot read {}: {e}", path.display())))
            }
        }
    }
}

fn ordered(c: &Checker, lo_key: &str, lo: Duration, hi_key: &str, hi: Duration) -> Result<(), ConfigError> {
    if lo > hi {
        return Err(c.err(lo_key, format!("must not exceed `{hi_key}` ({} s > {} s)", lo.as_secs(), hi.as_secs())));
    }
    Ok(())
}

impl ConfigFile {
    pub fn validate(self, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let c = Checker { file, base };
        if self.store.path.as_os_str().is_empty() {
            return Err(c.err("store.path", "must not be empty"));
        }
        if self.control.socket.as_os_str().is_empty() {
            return Err(c.err("control.socket", "must not be empty"));
        }
        let control_listen = match &self.control.listen {
            Some(s) => Some(c.addr("control.listen", s)?),
            None => None,
        };
        let control_tls = match (&self.control.tls_cert, &self.control.tls_key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(c.err("control.tls_key", "must be set with `control.tls_cert`: HTTPS needs both"))
            }
            (None, Some(_)) => {
                return Err(c.err("control.tls_cert", "must be set with `control.tls_key`: HTTPS needs both"))
            }
            (Some(cert), Some(key)) => {
                let (cert, key) = (c.path(cert), c.path(key));
                let server = crate::tls::server_config(&cert, &key).map_err(|(which, e)| match which {
                    TlsFile::Cert => c.err("control.tls_cert", e),
                    TlsFile::Key => c.err("control.tls_key", e),
                })?;
                Some(ControlTls { cert, key, server })
            }
        };
        let mut dns_listen = Vec::new();
        for (i, s) in self.dns.listen.iter().enumerate() {
            dns_listen.push(c.addr(&format!("dns.listen[{i}]"), s)?);
        }

        let max_udp_payload = match u16::try_from(self.dns.max_udp_payload) {
            Ok(v) if v >= 512 => v,
            _ => return Err(c.err("dns.max_udp_payload", "must be from 512 to 65535 (bytes)")),
        };
        let text = |key: &str, v: &Option<String>| -> Result<Option<String>, ConfigError> {
            match v {
                Some(s) if s.len() > 255 => Err(c.err(key, "must be at most 255 bytes")),
                Some(s) if s.is_empty() => Ok(None),
                other => Ok(other.clone()),
            }
        };
        let dns = DnsConfig {
            listen: dns_listen.clone(),
            max_udp_payload,
            version: text("dns.version", &self.dns.version)?,
            identity: text("dns.identity", &self.dns.identity)?,
            nsid: text("dns.nsid", &self.dns.nsid)?,
            workers: match self.dns.workers {
                0 => None,
                n @ 1..=1024 => Some(n as usize),
                _ => return Err(c.err("dns.workers", "must be from 0 (one per CPU) to 1024")),
            },
            tcp_idle_timeout: c.secs("dns.tcp_idle_timeout", self.dns.tcp_idle_timeout, 1)?,
            tcp_connections: match self.dns.tcp_connections {
                n @ 1..=65_535 => n as usize,
                _ => return Err(c.err("dns.tcp_connections", "must be from 1 to 65535")),
            },
            tcp_connections_per_client: match self.dns.tcp_connections_per_client {
                n @ 1..=65_535 => n as usize,
                _ => return Err(c.err("dns.tcp_connections_per_client", "must be from 1 to 65535")),
            },
            tcp_max_lifetime: c.secs("dns.tcp_max_lifetime", self.dns.tcp_max_lifetime, 1)?,
            rate_limit: super::RateLimitConfig {
                responses_per_second: u32::try_from(self.dns.rate_limit)
                    .map_err(|_| c.err("dns.rate_limit", "is too large"))?,
                slip: match self.dns.rate_limit_slip {
                    n @ 0..=10 => n as u32,
                    _ => return Err(c.err("dns.rate_limit_slip", "must be from 0 (drop all) to 10")),
                },
                ipv4_prefix: match self.dns.rate_limit_ipv4_prefix {
                    n @ 8..=32 => n as u8,
                    _ => return Err(c.err("dns.rate_limit_ipv4_prefix", "must be from 8 to 32 (bits)")),
                },
                ipv6_prefix: match self.dns.rate_limit_ipv6_prefix {
                    n @ 16..=128 => n as u8,
                    _ => return Err(c.err("dns.rate_limit_ipv6_prefix", "must be from 16 to 128 (bits)")),
                },
            },
            transfer_out: {
                let t = &self.dns.transfer_out;
                let range = |key: &str, v: u64, max: u64| -> Result<u64, ConfigError> {
                    if (1..=max).contains(&v) {
                        Ok(v)
                    } else {
                        Err(c.err(format!("dns.transfer_out.{key}"), format!("must be from 1 to {max}")))
                    }
                };
                super::TransferOutConfig {
                    max_concurrent: range("max_concurrent", t.max_concurrent, 100_000)? as usize,
                    max_per_client: range("max_per_client", t.max_per_client, 100_000)? as usize,
                    notify_rate: range("notify_rate", t.notify_rate, 1_000_000)? as u32,
                    notify_tries: range("notify_tries", t.notify_tries, 20)? as u32,
                }
            },
        };
        let t = &self.transfer;
        let positive = |key: &str, v: u64| -> Result<u64, ConfigError> {
            if v == 0 {
                Err(c.err(format!("transfer.{key}"), "must be at least 1"))
            } else {
                Ok(v)
            }
        };
        let transfer = TransferConfig {
            connect_timeout: c.secs("transfer.connect_timeout", t.connect_timeout, 1)?,
            idle_timeout: c.secs("transfer.idle_timeout", t.idle_timeout, 1)?,
            total_timeout: c.secs("transfer.total_timeout", t.total_timeout, 1)?,
            soa_timeout: c.secs("transfer.soa_timeout", t.soa_timeout, 1)?,
            max_records: positive("max_records", t.max_records)?,
            max_bytes: positive("max_bytes", t.max_bytes)?,
            concurrency: positive("concurrency", t.concurrency)? as usize,
            per_primary: positive("per_primary", t.per_primary)? as usize,
            soa_queries_per_second: u32::try_from(positive("soa_queries_per_second", t.soa_queries_per_second)?)
                .map_err(|_| c.err("transfer.soa_queries_per_second", "is too large"))?,
            refresh_min: c.secs("transfer.refresh_min", t.refresh_min, 1)?,
            refresh_max: c.secs("transfer.refresh_max", t.refresh_max, 1)?,
            retry_min: c.secs("transfer.retry_min", t.retry_min, 1)?,
            retry_max: c.secs("transfer.retry_max", t.retry_max, 1)?,
            expire_min: c.secs("transfer.expire_min", t.expire_min, 1)?,
            expire_max: c.secs("transfer.expire_max", t.expire_max, 1)?,
            journal_max_diffs: u32::try_from(t.journal_max_diffs)
                .map_err(|_| c.err("transfer.journal_max_diffs", "is too large"))?,
            journal_max_bytes: t.journal_max_bytes,
            max_ixfr_records: t.max_ixfr_records.max(1),
            primaries: AddressPolicy {
                allow: c.networks("transfer.allow_primaries", &t.allow_primaries)?,
                deny: c.networks("transfer.deny_primaries", &t.deny_primaries)?,
            },
            allow_reserved_zones: t.allow_reserved_zones,
        };
        ordered(&c, "transfer.refresh_min", transfer.refresh_min, "transfer.refresh_max", transfer.refresh_max)?;
        ordered(&c, "transfer.retry_min", transfer.retry_min, "transfer.retry_max", transfer.retry_max)?;
        ordered(&c, "transfer.expire_min", transfer.expire_min, "transfer.expire_max", transfer.expire_max)?;

        let mut tsig_keys: Vec<TsigKeyConfig> = Vec::new();
        for (i, k) in self.tsig_key.iter().enumerate() {
            let key = format!("tsig_key[{i}]");
            let name = normalize_key_name(&k.name);
            if name.is_empty() || !name.split('.').all(|l| !l.is_empty() && l.len() <= 63) || name.len() > 253 {
                return Err(c.err(format!("{key}.name"), format!("`{}` is not a valid key name", k.name)));
            }
            if tsig_keys.iter().any(|o| o.name == name) {
                return Err(c.err(format!("{key}.name"), format!("key `{name}` is defined twice")));
            }
            let algorithm = k.algorithm.to_ascii_lowercase();
            if !TSIG_ALGORITHMS.contains(&algorithm.as_str()) {
                return Err(c.err(
                    format!("{key}.algorithm"),
                    format!("`{}` is not one of {}", k.algorithm, TSIG_ALGORITHMS.join(", ")),
                ));
            }
            let text = c.secret(&key, &k.secret, &k.secret_file)?;
            let secret = data_encoding::BASE64
                .decode(text.as_bytes())
                .map_err(|_| c.err(format!("{key}.secret"), "is not valid base64 (as written by `tsig-keygen`)"))?;
            if secret.is_empty() {
                return Err(c.err(format!("{key}.secret"), "must not be empty"));
            }
            if k.account.is_some_and(|a| a < 1) {
                return Err(c.err(format!("{key}.account"), "must be an account id (1 or more)"));
            }
            tsig_keys.push(TsigKeyConfig { name, algorithm, secret, account: k.account });
        }

        let mut tokens: Vec<Token> = Vec::new();
        for (i, t) in self.token.iter().enumerate() {
            let key = format!("token[{i}]");
            if t.account < 1 {
                return Err(c.err(format!("{key}.account"), "must be a positive account id"));
            }
            let secret = c.secret(&key, &t.secret, &t.secret_file)?;
            if secret.len() < MIN_TOKEN_LEN || secret.chars().any(|ch| !ch.is_ascii_graphic()) {
                return Err(c.err(
                    format!("{key}.secret"),
                    format!("must be at least {MIN_TOKEN_LEN} printable ASCII characters without spaces"),
                ));
            }
            if tokens.iter().any(|o| o.secret == secret) {
                return Err(c.err(format!("{key}.secret"), "the same token is configured twice"));
            }
            tokens.push(Token { account: t.account, secret });
        }
        let mut downstreams = Vec::new();
        for (i, d) in self.downstream.iter().enumerate() {
            let key = format!("downstream[{i}]");
            let mut entry =
                super::DownstreamConfig::parse(&d.address, d.tsig_key.as_deref(), d.notify.as_deref(), &tsig_keys)
                    .map_err(|(field, e)| c.err(format!("{key}.{field}"), e))?;
            let zones = match &d.zones {
                Some(list) => Some(
                    list.iter()
                        .enumerate()
                        .map(|(j, z)| {
                            crate::zone::name::normalize_zone_name(z)
                                .map_err(|e| c.err(format!("{key}.zones[{j}]"), format!("`{z}`: {e}")))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                None => None,
            };
            entry.zones = zones;
            downstreams.push(entry);
        }
        let catalog_zone = match &self.catalog.zone {
            Some(z) => Some(
                crate::zone::name::normalize_zone_name(z).map_err(|e| c.err("catalog.zone", format!("`{z}`: {e}")))?,
            ),
            None => None,
        };
        let log_level = self.log.level.trim().to_string();
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&log_level) {
            return Err(c.err(
                "log.level",
                format!(
                    "`{}` is not a log filter (e.g. `info`, `debug`, `info,secondaryd::dns=debug`): {e}",
                    self.log.level
                ),
            ));
        }
        let metrics_listen = match &self.metrics.listen {
            Some(s) => Some(c.addr("metrics.listen", s)?),
            None => None,
        };
        if control_listen.is_some() && tokens.is_empty() {
            return Err(c.err("control.listen", "a TCP control API needs at least one [[token]]"));
        }

        Ok(Config {
            source: file.to_string(),
            file: None,
            store_path: c.path(&self.store.path),
            store_max_bytes: self.store.max_size_mib.map(|m| m.saturating_mul(1 << 20)),
            control_socket: c.path(&self.control.socket),
            control_listen,
            control_tls,
            dns_listen,
            dns,
            transfer,
            tsig_keys,
            tokens,
            downstreams,
            catalog_zone,
            log_level,
            metrics_listen,
        })
    }
}
