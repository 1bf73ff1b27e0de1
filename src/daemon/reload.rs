//! Reloading the config without a restart (SIGHUP, `POST /v2/reload`,
//! `secondaryctl reload`): the file is read and validated as at start-up; a
//! file that does not validate, or that removes a TSIG key a stored primary or
//! zone downstream still names, is refused and the settings in force stay.
//! Otherwise the keys, tokens, downstreams, limits and clamps, `[dns]`
//! answers, the TCP API's certificate and the log level take effect at once;
//! zones, their timers and running transfers are kept (a running transfer
//! finishes with the settings it began with). What only a restart can change
//! (the store, the listening addresses, the catalog zone) is reported, and
//! left as it runs.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::dns::DnsServer;
use crate::model::Reloaded;
use crate::tls::ServerConfigs;
use crate::zone::Engine;

pub struct Reloader {
    /// The config file; `None` on the built-in development defaults.
    path: Option<PathBuf>,
    engine: Arc<Engine>,
    dns: Arc<DnsServer>,
    /// The TCP API's certificate and key, when it speaks HTTPS.
    tls: Option<ServerConfigs>,
    /// One reload at a time.
    running: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(path: Option<PathBuf>, engine: Arc<Engine>, dns: Arc<DnsServer>, tls: Option<ServerConfigs>) -> Self {
        Reloader { path, engine, dns, tls, running: tokio::sync::Mutex::new(()) }
    }

    /// Re-reads the config file and puts what it changes in force; on error
    /// nothing changed, and the message says why (it is logged too).
    pub async fn reload(&self) -> Result<Reloaded, String> {
        let result = self.try_reload().await;
        match &result {
            Ok(r) => tracing::info!(
                config = %r.config,
                applied = ?r.applied,
                restart_needed = ?r.restart_needed,
                notes = ?r.notes,
                "config reloaded"
            ),
            Err(e) => tracing::error!(error = %e, "config reload refused; the settings in force stay"),
        }
        result
    }

    async fn try_reload(&self) -> Result<Reloaded, String> {
        let _one = self.running.lock().await;
        let Some(path) = self.path.clone() else {
            return Err("the daemon runs on the built-in development defaults (--dev): there is no config file to \
                        reload; start it with --config FILE"
                .into());
        };
        let new = tokio::task::spawn_blocking(move || Config::load(&path))
            .await
            .map_err(|e| format!("reading the config failed: {e}"))?
            .map_err(|e| e.to_string())?;
        let old = self.engine.config();
        self.check_keys_in_use(&new).await?;

        let mut report = Reloaded { config: new.source.clone(), ..Reloaded::default() };
        for (what, same) in [
            ("store.path", old.store_path == new.store_path),
            ("store.max_size_mib", old.store_max_bytes == new.store_max_bytes),
            ("control.socket", old.control_socket == new.control_socket),
            ("control.listen", old.control_listen == new.control_listen),
            ("control.tls_cert/tls_key (HTTPS on or off)", old.control_tls.is_some() == new.control_tls.is_some()),
            ("dns.listen", old.dns_listen == new.dns_listen),
            ("dns.workers", old.dns.workers == new.dns.workers),
            ("catalog.zone", old.catalog_zone == new.catalog_zone),
            ("metrics.listen", old.metrics_listen == new.metrics_listen),
        ] {
            if !same {
                report.restart_needed.push(what.to_string());
            }
        }
        let keys = |c: &Config| -> Vec<(String, String, Vec<u8>, Option<i64>)> {
            c.tsig_keys.iter().map(|k| (k.name.clone(), k.algorithm.clone(), k.secret.clone(), k.account)).collect()
        };
        let tokens =
            |c: &Config| -> Vec<(i64, String)> { c.tokens.iter().map(|t| (t.account, t.secret.clone())).collect() };
        let dns = |c: &Config| {
            let mut d = c.dns.clone();
            d.listen.clear();
            d.workers = None;
            format!("{d:?}")
        };
        for (what, changed) in [
            ("tsig_key", keys(&old) != keys(&new)),
            ("token", tokens(&old) != tokens(&new)),
            ("downstream", old.downstreams != new.downstreams),
            ("transfer", format!("{:?}", old.transfer) != format!("{:?}", new.transfer)),
            ("dns", dns(&old) != dns(&new)),
            ("log.level", old.log_level != new.log_level),
        ] {
            if changed {
                report.applied.push(what.to_string());
            }
        }

        let new = Arc::new(new);
        // The engine first: it is the one part that can still refuse.
        self.engine.reconfigure(new.clone())?;
        self.dns.reconfigure(&new.dns);
        if let (Some(configs), Some(tls)) = (&self.tls, &new.control_tls) {
            configs.store(tls.server.clone());
            report.applied.push("control.tls_cert/tls_key (re-read)".to_string());
        }
        if old.log_level != new.log_level {
            match super::LOG_FILTER.get() {
                Some(handle) => match tracing_subscriber::EnvFilter::try_new(&new.log_level) {
                    Ok(filter) => {
                        if let Err(e) = handle.reload(filter) {
                            report.notes.push(format!("log.level not applied: {e}"));
                        }
                    }
                    Err(e) => report.notes.push(format!("log.level not applied: {e}")),
                },
                None => report.notes.push("log.level not applied: RUST_LOG chooses the log filter".to_string()),
            }
        }
        Ok(report)
    }

    /// A key that stored primaries or zone downstreams name must stay: without
    /// it their transfers and NOTIFYs would fail (or go unsigned).
    async fn check_keys_in_use(&self, new: &Config) -> Result<(), String> {
        let used = self.engine.store.call(crate::store::keys_in_use).await.map_err(|e| e.to_string())?;
        let missing: Vec<String> = used
            .into_iter()
            .filter(|(key, _)| new.tsig_key(key).is_none())
            .map(|(key, by)| format!("`{key}` (used by {by})"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "config {}: the TSIG keys {} are gone from the file but still in use; change or delete their users first",
                new.source,
                missing.join(", ")
            ))
        }
    }
}
