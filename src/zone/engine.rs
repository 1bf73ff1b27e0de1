//! The zone engine: runs zone events for the [`Scheduler`] and derives each
//! zone's next timers from what is persisted (STYLE principles 2–4).
//!
//! ```text
//!   Bootstrapping ──transfer ok──► Serving{serial} ──expire timer──► Expired
//!        │   ▲                        │   ▲                             │
//!        └───┘ failure: back-off      └───┘ refresh / failure: retry    │
//!                                         ▲                             │
//!                                         └──── any successful refresh ─┘
//! ```
//! The state is derived from the store (`serial` unset → bootstrapping,
//! `expired` flag → expired); events are [`Event::Refresh`] and
//! [`Event::Expire`], one at a time per zone.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rand::Rng;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::refresh::{self, Current, Refreshed};
use super::timers::{self, Clamps};
use crate::config::Config;
use crate::scheduler::{Event, Handler, Limit, Plan, Priority, Scheduler, ZoneId};
use crate::store::zones::{self, LinkedPrimary, ZoneStatus};
use crate::store::{now_secs, zonedata, Store, StoreError};
use crate::wire::tsig::TsigKey;
use crate::xfr::client::TransferOptions;
use crate::xfr::interpret::Limits;

/// An accepted NOTIFY (RFC 1996 §3.11): who sent it and the serial its answer
/// section announced, if it had one.
#[derive(Debug, Clone, Copy)]
pub struct Notified {
    pub from: SocketAddr,
    pub serial: Option<u32>,
}

/// The configured TSIG keys, by normalized name.
pub type Keys = HashMap<String, TsigKey>;

/// The keys of a config, ready to sign and verify with.
fn keys_of(config: &Config) -> Result<Keys, String> {
    let mut keys = HashMap::new();
    for k in &config.tsig_keys {
        let secret = data_encoding::BASE64.encode(&k.secret);
        let key =
            TsigKey::from_parts(&k.name, &k.algorithm, &secret).map_err(|e| format!("tsig key `{}`: {e}", k.name))?;
        keys.insert(k.name.clone(), key);
    }
    Ok(keys)
}

/// The key of `keys` a received TSIG names (any case, trailing dot or not).
pub fn key_named<'k>(keys: &'k Keys, name: &crate::wire::Name) -> Option<&'k TsigKey> {
    keys.get(&crate::config::normalize_key_name(&name.to_string()))
}

/// A refresh failure the store could not record (a full disk), kept in
/// memory so the zone's status still says it: (primary, message, when).
pub type Unrecorded = (Option<String>, String, i64);

pub struct Engine {
    /// Failures the store could not write, by zone, until a write succeeds.
    pub unrecorded: Mutex<HashMap<i64, Unrecorded>>,
    /// The last write the store refused (a full disk, `store.max_size_mib`),
    /// until one succeeds again: /v2/status shows it.
    pub store_write_error: Mutex<Option<(String, i64)>>,
    pub store: Store,
    /// The settings in force; a config reload swaps them (`Engine::reconfigure`).
    config: ArcSwap<Config>,
    pub scheduler: Arc<Scheduler>,
    /// What the DNS listener answers from (kept in step by `zone::serve`).
    pub views: Arc<crate::view::Views>,
    /// NOTIFY to the downstreams after each new version.
    pub notifier: Arc<super::notify_out::Notifier>,
    /// Who may transfer each zone and gets its NOTIFYs.
    pub downstreams: Arc<super::downstreams::Downstreams>,
    /// The catalog zone of our zones, when configured.
    pub catalog: Option<Arc<super::catalog::Catalog>>,
    /// Transfers in, by type and outcome, for the metrics endpoint.
    pub transfer_stats: super::stats::TransferStats,
    keys: ArcSwap<Keys>,
    per_primary: Mutex<HashMap<SocketAddr, Arc<Limit>>>,
    /// When the next SOA query may go out (the global SOA query rate).
    soa_next: tokio::sync::Mutex<Instant>,
    /// The pace of SOA queries the API asks for (distribution checks).
    api_soa_next: tokio::sync::Mutex<Instant>,
    /// NOTIFYs accepted and not yet acted on, per zone: the refresh they
    /// schedule writes them to the store in its first transaction, so the
    /// NOTIFY → new version path pays one store round trip, not two.
    notified: Mutex<HashMap<ZoneId, Notified>>,
    /// Each zone's NS settings as last read from the store (`zone::serve`
    /// drops an entry whenever the API changes settings), so publishing a new
    /// version does not wait for a store round trip.
    pub(super) ns_settings: Mutex<HashMap<ZoneId, Option<Arc<super::publish::Settings>>>>,
    /// Bumped (under the `ns_settings` lock) whenever an entry is dropped, so
    /// that a store read that began before cannot put back what was dropped.
    pub(super) settings_epoch: std::sync::atomic::AtomicU64,
    /// Per zone, the serial it had when its NS settings last changed (see
    /// `Engine::settings_serial`).
    pub(super) settings_serial: Mutex<HashMap<ZoneId, u32>>,
    /// Catalog zones we consume, with the serial last read (`zone::consumer`).
    pub(super) consumed: Mutex<HashMap<ZoneId, Option<u32>>>,
}

impl Engine {
    /// Builds the engine; fails when a configured TSIG key cannot be used.
    pub fn new(store: Store, config: Arc<Config>, scheduler: Arc<Scheduler>) -> Result<Arc<Engine>, String> {
        let keys = Arc::new(keys_of(&config)?);
        let downstreams = Arc::new(super::downstreams::Downstreams::new(config.downstreams.clone()));
        let notifier =
            Arc::new(super::notify_out::Notifier::new(downstreams.clone(), keys.clone(), config.dns.transfer_out));
        let catalog = match &config.catalog_zone {
            Some(name) => Some(Arc::new(super::catalog::Catalog::new(name)?)),
            None => None,
        };
        Ok(Arc::new(Engine {
            catalog,
            downstreams,
            store,
            config: ArcSwap::new(config),
            scheduler,
            views: Arc::new(crate::view::Views::new()),
            notifier,
            keys: ArcSwap::new(keys),
            per_primary: Mutex::new(HashMap::new()),
            soa_next: tokio::sync::Mutex::new(Instant::now()),
            unrecorded: Mutex::new(HashMap::new()),
            store_write_error: Mutex::new(None),
            api_soa_next: tokio::sync::Mutex::new(Instant::now()),
            notified: Mutex::new(HashMap::new()),
            ns_settings: Mutex::new(HashMap::new()),
            settings_epoch: std::sync::atomic::AtomicU64::new(0),
            settings_serial: Mutex::new(HashMap::new()),
            consumed: Mutex::new(HashMap::new()),
            transfer_stats: super::stats::TransferStats::default(),
        }))
    }

    /// The settings in force now (a reload may swap them at any time, so a
    /// task that needs one consistent set keeps the `Arc`).
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// The configured TSIG keys, by normalized name.
    pub(crate) fn keys(&self) -> Arc<Keys> {
        self.keys.load_full()
    }

    pub(crate) fn key(&self, name: &str) -> Option<TsigKey> {
        self.keys.load().get(name).cloned()
    }

    fn clamps(&self) -> Clamps {
        Clamps::from_config(&self.config.load().transfer)
    }

    /// Puts a reloaded config in force: keys, downstreams, NOTIFY limits,
    /// transfer limits and clamps. Zones, their timers and running transfers
    /// are kept (a running transfer finishes with the settings it began with).
    /// Fails, changing nothing, when a key cannot be used.
    pub fn reconfigure(&self, config: Arc<Config>) -> Result<(), String> {
        let keys = Arc::new(keys_of(&config)?);
        let old = self.config.load_full();
        self.downstreams.set_config(config.downstreams.clone());
        self.notifier.reconfigure(keys.clone(), config.dns.transfer_out);
        self.scheduler.set_concurrency(config.transfer.concurrency);
        if old.transfer.per_primary != config.transfer.per_primary {
            for slot in self.per_primary.lock().unwrap_or_else(|e| e.into_inner()).values() {
                slot.resize(config.transfer.per_primary);
            }
        }
        self.keys.store(keys);
        self.config.store(config);
        Ok(())
    }

    pub(super) fn transfer_options(&self) -> TransferOptions {
        let config = self.config.load();
        let t = &config.transfer;
        TransferOptions {
            connect_timeout: t.connect_timeout,
            idle_timeout: t.idle_timeout,
            total_timeout: t.total_timeout,
            limits: Limits { max_records: t.max_records, max_bytes: t.max_bytes },
        }
    }

    /// The transfer slots of one primary (`transfer.per_primary`).
    pub(super) fn primary_slot(&self, addr: SocketAddr) -> Arc<Semaphore> {
        let mut map = self.per_primary.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(addr).or_insert_with(|| Arc::new(Limit::new(self.config.load().transfer.per_primary))).semaphore()
    }

    /// Remembers a write the store refused, for /v2/status.
    pub(crate) fn note_write_error(&self, e: &crate::store::StoreError) {
        *self.store_write_error.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((e.to_string(), crate::store::now_secs()));
    }

    /// Waits for this SOA query's turn under `transfer.soa_queries_per_second`.
    ///
    /// A token bucket holding one second's worth of queries: after a quiet
    /// spell a burst (NOTIFYs for a few zones) goes out at once, a sustained
    /// stream is paced at the configured rate.
    pub(super) async fn soa_turn(&self) {
        self.soa_turn_on(&self.soa_next).await
    }

    /// [`Engine::soa_turn`] on the bucket `next`.
    async fn soa_turn_on(&self, next: &tokio::sync::Mutex<Instant>) {
        let rate = self.config.load().transfer.soa_queries_per_second.max(1);
        let gap = Duration::from_secs(1) / rate;
        let now = Instant::now();
        let at = {
            let mut next = next.lock().await;
            let floor = now.checked_sub(gap * rate).unwrap_or(now);
            let at = (*next).max(floor);
            *next = at + gap;
            at
        };
        if at > now {
            tokio::time::sleep_until(at).await;
        }
    }

    /// The address to contact a primary at, if the outbound address policy
    /// (`transfer.allow_primaries` / `deny_primaries`) allows it. Every query
    /// and transfer to a primary asks this first: a primary stored before the
    /// policy changed is skipped, with the reason.
    pub(crate) fn primary_addr(&self, p: &LinkedPrimary) -> Result<SocketAddr, String> {
        let ip: IpAddr = p.ip.parse().map_err(|_| format!("`{}` is not an IP address", p.ip))?;
        self.config.load().transfer.primaries.check(ip).map_err(|e| e.to_string())?;
        Ok(SocketAddr::new(ip, p.port))
    }

    /// Asks the zone's primaries, in order, for their current serial (the
    /// `distribution` check); the first answer counts.
    pub async fn primary_serial(&self, zone: &crate::store::zones::Zone) -> Result<u32, String> {
        let origin = crate::wire::Name::from_ascii(&zone.name).map_err(|e| e.to_string())?;
        let mut errors = Vec::new();
        for p in &zone.primaries {
            let addr = match self.primary_addr(p) {
                Ok(a) => a,
                Err(e) => {
                    errors.push(format!("primary `{}`: {e}", p.name));
                    continue;
                }
            };
            let key = p.tsig_key.as_deref().and_then(|k| self.key(k));
            // The API's queries have a pace of their own: a tenant calling
            // /distribution in a loop cannot delay anyone's refreshes.
            self.soa_turn_on(&self.api_soa_next).await;
            match crate::xfr::client::query_soa(addr, &origin, key.as_ref(), self.config.load().transfer.soa_timeout)
                .await
            {
                Ok(soa) => return Ok(soa.serial),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if errors.is_empty() {
            Err("the zone has no primary servers linked".into())
        } else {
            Err(errors.join("; "))
        }
    }

    /// The scheduler's view of this engine.
    pub fn handler(self: &Arc<Self>) -> Handler {
        let me = self.clone();
        Arc::new(move |zone, event| {
            let me = me.clone();
            Box::pin(async move { me.handle(zone, event).await })
        })
    }

    /// Asks for a refresh now, ahead of routine ones (API, NOTIFY, a new link).
    /// A NOTIFY from `from` announced `serial` (newer than ours) for `zone`: the
    /// refresh it schedules tries that primary first and asks it for the IXFR
    /// straight away, without a SOA query (an IXFR answer says "up to date" by
    /// itself if the primary disagrees).
    pub fn notified(&self, zone: ZoneId, notice: Notified) {
        self.notified.lock().unwrap_or_else(|e| e.into_inner()).insert(zone, notice);
        self.request_refresh(zone, false);
    }

    /// Takes the latest NOTIFY of `zone` not yet written to the store, if any.
    pub(super) fn take_notified(&self, zone: ZoneId) -> Option<Notified> {
        self.notified.lock().unwrap_or_else(|e| e.into_inner()).remove(&zone)
    }

    pub fn request_refresh(&self, zone: ZoneId, force_axfr: bool) {
        self.scheduler.refresh(zone, Instant::now(), Priority::Urgent, force_axfr);
    }

    async fn handle(&self, zone: ZoneId, event: Event) -> Plan {
        match event {
            Event::Refresh { force_axfr } => {
                let attempt = Attempt {
                    started_at: now_secs(),
                    notice: self.take_notified(zone),
                    clamps: self.clamps(),
                    jitter: rand::rng().random(),
                    soa_expire: None,
                };
                let outcome = refresh::run(self, zone, force_axfr, &attempt).await;
                self.after_refresh(zone, outcome, &attempt).await
            }
            Event::Expire => self.expire(zone).await,
        }
    }

    /// Writes the attempt and the zone's next timers, in one transaction
    /// (unless the transfer's commit wrote them already), and puts the
    /// outcome in force.
    async fn after_refresh(&self, zone: ZoneId, outcome: Refreshed, attempt: &Attempt) -> Plan {
        let (ok, planned) = match outcome {
            Refreshed::Gone => return Plan::default(),
            Refreshed::Ok(Current { recorded: Some(recorded), .. }) => (true, Ok(*recorded)),
            outcome => {
                let current = match outcome {
                    Refreshed::Ok(current) => Some(current),
                    _ => None,
                };
                let (attempt, ok) = (*attempt, current.is_some());
                let planned = self
                    .store
                    .call(move |c| {
                        let tx = crate::store::write_tx(c)?;
                        let recorded = attempt.record(&tx, zone, current.as_ref())?;
                        tx.commit()?;
                        Ok(recorded)
                    })
                    .await;
                (ok, planned)
            }
        };
        match planned {
            Ok((name, st)) => {
                // The store writes again: what only memory held is on disk now
                // (or was overtaken by this attempt's outcome).
                self.unrecorded.lock().unwrap_or_else(|e| e.into_inner()).remove(&zone);
                if ok {
                    // A transfer committed: the store takes writes again.
                    *self.store_write_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                }
                self.serve_expiry(zone, &name, st.expires_at);
                if ok && !st.expired {
                    self.serve_refreshed(zone, &name);
                    self.follow_catalog(zone, &name).await;
                }
                plan_from(&st, now_secs())
            }
            Err(StoreError::NotFound { .. }) => Plan::default(),
            Err(e) => {
                self.note_write_error(&e);
                tracing::error!(zone_id = zone, error = %e, "cannot write the zone's timers to the store; retrying in a minute");
                Plan { refresh_at: Some(Instant::now() + Duration::from_secs(60)), expire_at: None }
            }
        }
    }

    async fn expire(&self, zone: ZoneId) -> Plan {
        let r = self
            .store
            .call(move |c| {
                let z = zones::by_id(c, zone)?;
                let due = z.status.expires_at.is_some_and(|at| at <= now_secs());
                if due && !z.status.expired && z.status.serial.is_some() {
                    zonedata::set_expired(c, zone)?;
                    tracing::warn!(zone = %z.name, serial = ?z.status.serial, last_success_at = ?z.status.last_success_at,
                        "zone expired: no successful refresh within SOA expire; no longer served, refreshes continue");
                }
                zones::by_id(c, zone).map(|z| (z.name, z.status))
            })
            .await;
        match r {
            Ok((name, st)) => {
                if st.expired {
                    self.serve_expired(zone, &name);
                }
                plan_from(&st, now_secs())
            }
            Err(_) => Plan::default(),
        }
    }

    /// Derives every zone's schedule from the store (start-up). Zones whose
    /// refresh came due while the daemon was down are spread over a window that
    /// the SOA query rate can serve, instead of all firing at once.
    pub async fn replan_all(&self) -> Result<usize, StoreError> {
        let all = self.store.call(|c| zones::all_status(c)).await?;
        let now = now_secs();
        let overdue = all.iter().filter(|(_, st)| st.next_refresh_at.is_none_or(|t| t <= now)).count();
        let window =
            (overdue as f64 / f64::from(self.config.load().transfer.soa_queries_per_second.max(1))).clamp(1.0, 300.0);
        let mut rng = rand::rng();
        for (id, st) in &all {
            let mut plan = plan_from(st, now);
            if st.next_refresh_at.is_none_or(|t| t <= now) {
                plan.refresh_at = Some(Instant::now() + Duration::from_secs_f64(rng.random::<f64>() * window));
            }
            self.scheduler.plan(*id, plan);
        }
        Ok(all.len())
    }
}

/// One refresh attempt, as the store records it when it ends: when it began,
/// the NOTIFY that asked for it, and what its next timers are computed with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    pub started_at: i64,
    pub notice: Option<Notified>,
    pub clamps: Clamps,
    pub jitter: f64,
    /// The primary's remaining expire time (RFC 7314) from its SOA answer,
    /// for a transfer whose own messages carry none (set by the refresh once
    /// it asked; the transfer's [`Current`] carries the one that counts).
    pub soa_expire: Option<u32>,
}

impl Attempt {
    /// Writes the attempt (its NOTIFY, count and time, a transfer's commit
    /// times) and the zone's next timers, in the caller's transaction:
    /// `current` is the refresh that succeeded, `None` a failure. Returns
    /// the zone's name and its status as written.
    pub(super) fn record(
        &self,
        tx: &rusqlite::Connection,
        zone: ZoneId,
        current: Option<&Current>,
    ) -> Result<(String, ZoneStatus), StoreError> {
        // The row is read first, for the timers; then written once.
        let z = zones::by_id_without_primaries(tx, zone)?;
        let now = now_secs();
        let st = &z.status;
        let times = current.and_then(|c| c.times);
        let (next, expires, backoff) = match current {
            Some(current) => {
                let soa = st.soa_timers.unwrap_or([3600, 600, 604_800, 300]);
                let t = timers::after_success(now, soa, &self.clamps, self.jitter, current.edns_expire);
                // Found up to date, the copy keeps what it had when that
                // is later (a primary that is a secondary itself may be
                // closer to expiry than our data, which came from elsewhere).
                let kept = st.expires_at.filter(|_| times.is_none() && !st.expired);
                (t.next_refresh_at, t.expires_at.max(kept), 0)
            }
            None => {
                let backoff = st.backoff.saturating_add(1);
                let delay = timers::retry_delay(st.soa_timers, backoff, &self.clamps, self.jitter);
                (now + delay as i64, st.expires_at, backoff)
            }
        };
        let notice = self.notice.map(|n| (n.from.to_string(), n.serial));
        zonedata::record_attempt(
            tx,
            zone,
            &zonedata::AttemptEnd {
                started_at: self.started_at,
                notice: notice.as_ref().map(|(from, serial)| (from.as_str(), *serial, now)),
                // The summary was written with the commit; add what the commit cost.
                times,
                next_refresh_at: next,
                expires_at: expires,
                backoff,
            },
        )?;
        let mut st = z.status;
        st.attempts += 1;
        st.last_attempt_at = Some(self.started_at);
        if let Some((from, serial)) = notice {
            st.last_notify = Some((from, serial, now));
        }
        st.next_refresh_at = Some(next);
        st.expires_at = expires;
        st.backoff = backoff;
        Ok((z.name, st))
    }
}

/// The schedule implied by a zone's persisted timers.
pub fn plan_from(st: &ZoneStatus, now: i64) -> Plan {
    let at = |secs: i64| Instant::now() + Duration::from_secs((secs - now).max(0) as u64);
    Plan {
        refresh_at: Some(st.next_refresh_at.map(at).unwrap_or_else(Instant::now)),
        expire_at: match (st.serial, st.expired, st.expires_at) {
            (Some(_), false, Some(t)) => Some(at(t)),
            _ => None,
        },
    }
}
