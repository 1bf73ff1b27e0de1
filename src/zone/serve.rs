//! Keeping each zone's serving view (`crate::view`) in step with the store:
//! built from the store at start-up (before READY), from the transfer stream
//! after a full transfer, from the previous view and the diff after an IXFR,
//! and laid over again with the NS settings whenever they change. The store
//! commits first, the view is swapped after, so a query sees the old or the
//! new version, never a mix. All CPU-heavy work runs off the async runtime.

use std::sync::Arc;
use std::time::Instant;

use super::notify_out::Announced;
use super::publish::{overlay, Settings};
use super::Engine;
use crate::store::nameservers;
use crate::store::zonedata::{self, Diff};
use crate::store::StoreError;
use crate::view::{ViewBuilder, ZoneSlot, ZoneView};
use crate::wire::Name;

/// An IXFR of at most this many records is applied to the view on the async
/// runtime (tens of microseconds); larger ones, which may also compact the
/// view, go to a blocking thread.
const INLINE_DIFF_RECORDS: usize = 2000;

/// A zone of at most this many records is built into its view on the async
/// runtime (a small zone takes microseconds, less than the hand-off to a
/// blocking thread); larger ones go to a blocking thread.
const INLINE_BUILD_RECORDS: usize = 500;

/// What a NOTIFY of `view` announces: its apex SOA.
fn announced(view: &ZoneView) -> Option<Announced> {
    let (ttl, soa) = view.apex_soa()?;
    Some(Announced { apex: view.apex.clone(), serial: view.serial, ttl, soa: soa.to_vec() })
}

/// The next view of a zone, built ahead of its commit.
pub(super) enum NextView {
    /// The zone is no longer served (deleted meanwhile).
    Gone,
    /// No view to build from (or it did not take the diffs): read the store.
    FromStore(Arc<ZoneSlot>),
    /// The view took the diffs; the adds that changed nothing (see
    /// [`ZoneView::with_diffs`]).
    Built(Arc<ZoneSlot>, ZoneView, Vec<(usize, usize)>),
}

impl Engine {
    /// The zone's slot in the serving map, if the zone is still ours (a zone
    /// deleted while its transfer ran is not brought back).
    pub fn zone_slot(&self, id: i64, name: &str) -> Option<Arc<ZoneSlot>> {
        let apex = Name::from_ascii(name).ok()?;
        self.views.get(id, &apex)
    }

    /// A zone was created (or found in the store at start-up): it is ours now
    /// (SERVFAIL until its first copy).
    pub fn zone_created(&self, id: i64, name: &str) -> Option<Arc<ZoneSlot>> {
        if let Some(c) = &self.catalog {
            c.changed();
        }
        let apex = Name::from_ascii(name).ok()?;
        Some(self.views.slot(id, &apex))
    }

    /// A zone was deleted: its names are no longer ours (REFUSED).
    pub fn zone_deleted(&self, name: &str) {
        if let Some(c) = &self.catalog {
            c.changed();
        }
        if let Ok(apex) = Name::from_ascii(name) {
            if let Some(slot) = self.views.find(&apex).filter(|s| s.name.eq_ignore_case(&apex)) {
                self.forget_settings(slot.id);
                self.notifier.forget(slot.id);
                self.downstreams.set_own(slot.id, Vec::new());
            }
            self.views.remove(&apex);
        }
    }

    /// The zone's NS settings: cached, else read from the store.
    pub(crate) async fn settings(&self, zone_id: i64) -> Result<Option<Arc<Settings>>, StoreError> {
        if let Some(s) = self.cached_settings(zone_id) {
            return Ok(s);
        }
        let epoch = self.settings_epoch();
        // On the reading connection, off the writer's queue.
        let ns = self.store.read(move |c| nameservers::zone_ns(c, zone_id)).await?;
        Ok(self.cache_settings(zone_id, epoch, ns.as_ref()))
    }

    /// The zone's NS settings if cached (`Some(None)`: cached, and it has none).
    pub(super) fn cached_settings(&self, zone_id: i64) -> Option<Option<Arc<Settings>>> {
        self.ns_settings.lock().unwrap_or_else(|e| e.into_inner()).get(&zone_id).cloned()
    }

    /// Taken before a read of NS settings from the store, for [`Self::cache_settings`].
    pub(super) fn settings_epoch(&self) -> u64 {
        self.settings_epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Caches NS settings read from the store after `epoch` was taken,
    /// unless settings were dropped meanwhile (the read may predate the
    /// change that dropped them), and returns them.
    pub(super) fn cache_settings(
        &self,
        zone_id: i64,
        epoch: u64,
        ns: Option<&nameservers::ZoneNs>,
    ) -> Option<Arc<Settings>> {
        let settings = ns.map(Settings::from_store).map(Arc::new);
        let mut cache = self.ns_settings.lock().unwrap_or_else(|e| e.into_inner());
        if self.settings_epoch() == epoch {
            cache.insert(zone_id, settings.clone());
        }
        settings
    }

    fn forget_settings(&self, zone_id: i64) {
        let mut cache = self.ns_settings.lock().unwrap_or_else(|e| e.into_inner());
        cache.remove(&zone_id);
        self.settings_epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    async fn publish(&self, slot: &ZoneSlot, view: ZoneView) -> Result<(), StoreError> {
        let settings = self.settings(slot.id).await?;
        let view = with_settings(view, settings.as_deref());
        // A new serial (or a zone back from expiry) is news for the downstreams.
        let news = slot.view().is_none_or(|old| old.serial != view.serial)
            || matches!(slot.serving(), crate::view::Serving::Expired);
        let announced = if news { announced(&view) } else { None };
        slot.publish(view);
        slot.set_expired(false);
        if let Some(a) = announced {
            let zone = slot.name.to_string().trim_end_matches('.').to_ascii_lowercase();
            self.notifier.changed(slot.id, &zone, a);
        }
        Ok(())
    }

    /// Builds every zone's view from the store; returns (zones, records).
    ///
    /// One pass on the store thread (nothing else uses the store before
    /// READY): each zone's records are read and sorted into its view there,
    /// with its NS settings, so 10,000 zones cost 10,000 queries, not 30,000
    /// round trips between threads.
    pub async fn load_views(&self) -> Result<(usize, u64), StoreError> {
        let loaded = self
            .store
            .call(|c| {
                // The tables first catch up with the journal (a stop between
                // an IXFR's commit and its fold).
                let folded = zonedata::fold_all(c)?;
                if folded > 0 {
                    tracing::info!(zones = folded, "records tables brought up to their journals");
                }
                let names = crate::store::zones::all_names(c)?;
                let mut out = Vec::new();
                for (id, st) in crate::store::zones::all_status(c)? {
                    let Some(name) = names.get(&id) else { continue };
                    if st.serial.is_none() {
                        out.push((id, name.clone(), st.expired, st.expires_at, None, 0));
                        continue;
                    }
                    let Ok(apex) = Name::from_ascii(name) else { continue };
                    let mut b = ViewBuilder::new(&apex);
                    let built = zonedata::for_each_record(c, id, |o, t, ttl, rd| b.push_parts(o, t, ttl, rd))
                        .and_then(|n| Ok((b.finish().map_err(StoreError::Corrupt)?, n)));
                    let settings = nameservers::zone_ns(c, id)?.as_ref().map(Settings::from_store);
                    match built {
                        Ok((view, n)) => {
                            out.push((id, name.clone(), st.expired, st.expires_at, Some((view, settings)), n))
                        }
                        Err(e) => {
                            tracing::error!(zone = %name, error = %e, "cannot load the zone for serving; it answers SERVFAIL");
                            out.push((id, name.clone(), st.expired, st.expires_at, None, 0));
                        }
                    }
                }
                Ok(out)
            })
            .await?;
        let (mut zones, mut records) = (0, 0);
        for (id, name, expired, expires_at, view, n) in loaded {
            let Some(slot) = self.zone_created(id, &name) else { continue };
            slot.set_expires_at(expires_at);
            if let Some((view, settings)) = view {
                if settings.is_some() {
                    // What downstreams got before the restart is unknown.
                    self.settings_changed_at(id, view.serial);
                }
                slot.publish(with_settings(view, settings.as_ref()));
                slot.set_expired(expired);
                zones += 1;
                records += n;
            }
        }
        Ok((zones, records))
    }

    /// After a full transfer committed: the view built from its records.
    pub(super) async fn serve_full(&self, zone_id: i64, name: &str, builder: ViewBuilder) {
        let Some(slot) = self.zone_slot(zone_id, name) else { return };
        let started = Instant::now();
        let built = if builder.len() <= INLINE_BUILD_RECORDS {
            Ok(builder.finish())
        } else {
            tokio::task::spawn_blocking(move || builder.finish()).await
        };
        match built {
            Ok(Ok(view)) => {
                let serial = view.serial;
                if let Err(e) = self.publish(&slot, view).await {
                    tracing::error!(zone = %name, error = %e, "cannot read the NS settings; the new version is not served");
                    return;
                }
                tracing::debug!(zone = %name, serial, build_ms = started.elapsed().as_millis() as u64, "serving the new version");
            }
            Ok(Err(e)) => tracing::error!(zone = %name, error = %e, "cannot build the view of the new version"),
            Err(e) => tracing::error!(zone = %name, error = %e, "the view builder failed"),
        }
    }

    /// Builds the view of a zone after `diffs` from the served one, without
    /// publishing it: the view checks the diffs against the current version
    /// (so the store need only journal them), and the caller publishes it
    /// ([`Engine::serve_next`]) once the store committed them.
    pub(super) async fn next_view(&self, zone_id: i64, name: &str, diffs: Arc<Vec<Diff>>) -> NextView {
        let Some(slot) = self.zone_slot(zone_id, name) else { return NextView::Gone };
        let Some(current) = slot.view() else { return NextView::FromStore(slot) };
        // The view must be the version the diffs start from (it is, unless
        // serving the last one failed): else the store checks them.
        if diffs.first().is_some_and(|d| d.from != current.serial) {
            tracing::warn!(zone = %name, served = current.serial, "the served view is not the stored version; the IXFR is checked by the store");
            return NextView::FromStore(slot);
        }
        let changes: usize = diffs.iter().map(|d| d.deleted.len() + d.added.len()).sum();
        let apply = move || current.with_diffs(diffs.iter().map(|d| (&d.deleted[..], &d.added[..])));
        // A few changes cost microseconds: no thread hand-off for them.
        let applied =
            if changes <= INLINE_DIFF_RECORDS { Ok(apply()) } else { tokio::task::spawn_blocking(apply).await };
        match applied {
            Ok(Ok((view, unchanged))) => NextView::Built(slot, view, unchanged),
            Ok(Err(e)) => {
                tracing::error!(zone = %name, error = %e, "the IXFR does not apply to the served view; rebuilding it from the store");
                NextView::FromStore(slot)
            }
            Err(e) => {
                tracing::error!(zone = %name, error = %e, "the view update failed; rebuilding it from the store");
                NextView::FromStore(slot)
            }
        }
    }

    /// Serves a view from [`Engine::next_view`], once its diffs are committed.
    pub(super) async fn serve_next(&self, name: &str, next: NextView) {
        let (slot, view) = match next {
            NextView::Gone => return,
            NextView::FromStore(slot) => return self.serve_from_store(&slot, name).await,
            NextView::Built(slot, view, _) => (slot, view),
        };
        let compact = view.wants_compaction().then(|| view.clone());
        if let Err(e) = self.publish(&slot, view).await {
            tracing::error!(zone = %name, error = %e, "cannot read the NS settings; the new version is not served");
            return;
        }
        // The new version is served; now fold its delta into a new base
        // (O(zone), off the runtime) and serve the same version from it.
        // The zone's next event waits for this one, so nothing newer can
        // be overwritten.
        if let Some(v) = compact {
            let started = Instant::now();
            match tokio::task::spawn_blocking(move || v.compacted()).await {
                Ok(Ok(c)) => {
                    if self.publish(&slot, c).await.is_ok() {
                        tracing::debug!(zone = %name, ms = started.elapsed().as_millis() as u64, "view compacted");
                    }
                }
                Ok(Err(e)) => tracing::warn!(zone = %name, error = %e, "cannot compact the view (the delta stays)"),
                Err(e) => tracing::warn!(zone = %name, error = %e, "the view compaction failed"),
            }
        }
    }

    async fn serve_from_store(&self, slot: &ZoneSlot, name: &str) {
        let (id, apex) = (slot.id, slot.name.clone());
        let built = self
            .store
            .call(move |c| {
                zonedata::fold_journal(c, id, None)?;
                let mut b = ViewBuilder::new(&apex);
                zonedata::for_each_record(c, id, |o, t, ttl, rd| b.push_parts(o, t, ttl, rd))?;
                Ok(b)
            })
            .await;
        match built {
            Ok(b) => self.serve_full(id, name, b).await,
            Err(e) => tracing::error!(zone = %name, error = %e, "cannot load the zone for serving"),
        }
    }

    /// The zone's NS settings changed: lay them over its current data again.
    pub async fn republish(&self, zone_id: i64, name: &str) {
        self.forget_settings(zone_id);
        let Some(slot) = self.zone_slot(zone_id, name) else { return };
        let Some(current) = slot.view() else { return };
        let expired = matches!(slot.serving(), crate::view::Serving::Expired);
        // The raw data is unchanged; only the overlay is recomputed.
        let base = ZoneView::clone(&current).without_overlay();
        if let Err(e) = self.publish(&slot, base).await {
            tracing::error!(zone = %name, error = %e, "cannot read the NS settings to publish");
        }
        slot.set_expired(expired);
        self.settings_changed_at(zone_id, current.serial);
    }

    /// The published records of a zone changed at `serial` without a new
    /// serial (its NS settings): a downstream at that serial or older cannot
    /// be brought up to date by the journal's diffs.
    fn settings_changed_at(&self, zone_id: i64, serial: u32) {
        self.settings_serial.lock().unwrap_or_else(|e| e.into_inner()).insert(zone_id, serial);
    }

    /// The serial at which the zone's NS settings last changed (this run, or
    /// its serial at start-up when it has settings).
    pub(crate) fn settings_serial(&self, zone_id: i64) -> Option<u32> {
        self.settings_serial.lock().unwrap_or_else(|e| e.into_inner()).get(&zone_id).copied()
    }

    /// Republishes every zone of an account (a nameserver set or custom
    /// nameserver changed, which may appear in any of them).
    pub async fn republish_account(&self, account: i64) {
        match self.store.call(move |c| crate::store::zones::ids_of_account(c, account)).await {
            Ok(zones) => {
                for (id, name) in zones {
                    self.republish(id, &name).await;
                }
            }
            Err(e) => tracing::error!(account, error = %e, "cannot list the account's zones to republish them"),
        }
    }

    /// The zone expired (SERVFAIL from now on, data kept).
    pub(super) fn serve_expired(&self, zone_id: i64, name: &str) {
        if let Some(slot) = self.zone_slot(zone_id, name) {
            slot.set_expired(true);
        }
    }

    /// The zone's expire timer, for EDNS EXPIRE answers.
    pub(super) fn serve_expiry(&self, zone_id: i64, name: &str, expires_at: Option<i64>) {
        if let Some(slot) = self.zone_slot(zone_id, name) {
            slot.set_expires_at(expires_at);
        }
    }

    /// A refresh succeeded: an expired zone is served again.
    pub(super) fn serve_refreshed(&self, zone_id: i64, name: &str) {
        if let Some(slot) = self.zone_slot(zone_id, name) {
            if slot.view().is_some() {
                slot.set_expired(false);
            }
        }
    }
}

/// The view with the zone's NS settings laid over the primary's data.
fn with_settings(view: ZoneView, settings: Option<&Settings>) -> ZoneView {
    match overlay(&view, settings) {
        o if o.is_empty() => view,
        o => view.with_overlay(o),
    }
}
