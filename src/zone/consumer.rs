//! Catalog zones we consume (RFC 9432): a secondary zone created with
//! `"catalog": true` lists member zones; after each new version of it, its
//! members become secondary zones of the catalog's account, linked to the
//! catalog's primaries in the same order, and members it no longer lists are
//! deleted with their data. A zone that exists already (created by hand, or
//! by another catalog) is never taken over. The `group` property of a member
//! is kept with it (`catalog_member.group`) and means nothing else yet.
//!
//! Only version 2 catalogs are read (`version.<catalog> TXT "2"`); another
//! version changes nothing and says so in the log.

use std::collections::HashMap;
use std::sync::Arc;

use super::Engine;
use crate::store::zones;
use crate::view::tree::decode_key;
use crate::view::ZoneView;
use crate::wire::{rtype, Name};

type ZoneId = i64;

/// New member zones created per store transaction.
const CREATE_BATCH: usize = 250;

/// A catalog's members: (normalized zone name, group), in the catalog's order.
fn members(view: &ZoneView) -> Result<Vec<(String, Option<String>)>, String> {
    let apex = &view.apex;
    let mut version = None;
    let mut found: Vec<(String, String)> = Vec::new(); // (unique id, zone)
    let mut groups: HashMap<String, String> = HashMap::new();
    let mut wire = Vec::new();
    for (key, node) in view.names.iter() {
        wire.clear();
        decode_key(key, &mut wire);
        let Ok(owner) = Name::from_wire(&wire) else { continue };
        let rel = owner.relative_to(apex).to_ascii_lowercase();
        let labels: Vec<&str> = rel.split('.').collect();
        let txt = || node.get(rtype::TXT).and_then(|s| s.rdatas().next()).map(txt_text);
        match labels.as_slice() {
            ["version"] => version = txt(),
            [id, "zones"] => {
                let Some(set) = node.get(rtype::PTR) else { continue };
                if set.count != 1 {
                    tracing::warn!(catalog = %apex, member = %owner, "a member with several PTR records is ignored (RFC 9432 §4.2)");
                    continue;
                }
                let Some(target) = set.rdatas().next().and_then(|rd| Name::from_wire(rd).ok()) else { continue };
                let name = target.to_string().trim_end_matches('.').to_ascii_lowercase();
                found.push((id.to_string(), name));
            }
            ["group", id, "zones"] => {
                if let Some(g) = txt() {
                    groups.insert(id.to_string(), g);
                }
            }
            _ => {}
        }
    }
    match version.as_deref() {
        Some("2") => {}
        Some(v) => return Err(format!("catalog version \"{v}\" is not supported (only version 2, RFC 9432)")),
        None => return Err("no version.<catalog> TXT record: not a catalog zone (RFC 9432 §4.3)".into()),
    }
    let mut out: Vec<(String, Option<String>)> = Vec::with_capacity(found.len());
    let mut seen = std::collections::HashSet::with_capacity(found.len());
    for (id, name) in found {
        // The same zone under two labels: the first one counts (RFC 9432 §5.1).
        if seen.insert(name.clone()) {
            out.push((name, groups.get(&id).cloned()));
        }
    }
    Ok(out)
}

/// The text of a one-string TXT RDATA (more strings are joined).
fn txt_text(rdata: &[u8]) -> String {
    let mut out = Vec::new();
    let mut rest = rdata;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        out.extend_from_slice(&tail[..n]);
        rest = &tail[n..];
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Engine {
    /// Reads which zones are catalogs we consume (start-up, after the views
    /// are loaded), and brings the members of each served one in line with
    /// it: a stop while its new members were being created (they are created
    /// a few hundred per transaction) is completed now, not at the catalog's
    /// next refresh.
    pub async fn load_consumed_catalogs(self: &Arc<Self>) -> Result<usize, crate::store::StoreError> {
        let catalogs = self.store.call(|c| zones::consumed_catalogs(c)).await?;
        let n = catalogs.len();
        {
            let mut set = self.consumed.lock().unwrap_or_else(|e| e.into_inner());
            for (id, _) in &catalogs {
                set.insert(*id, None);
            }
        }
        for (id, name) in catalogs {
            let engine = self.clone();
            tokio::spawn(async move { engine.follow_catalog(id, &name).await });
        }
        Ok(n)
    }

    /// A catalog zone we consume was created.
    pub fn consume_catalog(&self, zone_id: ZoneId) {
        self.consumed.lock().unwrap_or_else(|e| e.into_inner()).insert(zone_id, None);
    }

    /// A zone was deleted: if it was a catalog, it is no longer read.
    pub fn forget_catalog(&self, zone_id: ZoneId) {
        self.consumed.lock().unwrap_or_else(|e| e.into_inner()).remove(&zone_id);
    }

    /// After a successful refresh: a consumed catalog at a serial not read
    /// yet brings its member zones in line with it.
    pub(super) async fn follow_catalog(&self, zone_id: ZoneId, name: &str) {
        let Some(view) = self.zone_slot(zone_id, name).and_then(|s| s.view()) else { return };
        {
            let consumed = self.consumed.lock().unwrap_or_else(|e| e.into_inner());
            match consumed.get(&zone_id) {
                None => return,
                Some(Some(read)) if *read == view.serial => return,
                Some(_) => {}
            }
        }
        // Off the runtime: a catalog of 10,000 members is milliseconds of work.
        let serial = view.serial;
        let parsed = tokio::task::spawn_blocking(move || members(&view)).await;
        let list = match parsed.unwrap_or_else(|e| Err(format!("the catalog task failed: {e}"))) {
            Ok(l) => l,
            Err(why) => {
                tracing::error!(catalog = %name, serial, error = %why, "catalog not read; its member zones stay as they are");
                return;
            }
        };
        let n = list.len();
        // Special-use names are not created from a catalog either (unless the
        // config allows them), and are said so like any other skipped member.
        let (list, reserved): (Vec<_>, Vec<_>) = list.into_iter().partition(|(zone, _)| {
            self.config().transfer.allow_reserved_zones || crate::zone::name::reserved_zone_name(zone).is_none()
        });
        for (zone, _) in &reserved {
            let why = crate::zone::name::reserved_zone_name(zone).unwrap_or_default();
            tracing::warn!(catalog = %name, zone = %zone, reason = %format!("the name {why}"), "catalog member not created");
        }
        let changes = match self.store.call(move |c| zones::reconcile_members(c, zone_id, &list)).await {
            Ok(ch) => ch,
            Err(e) => {
                tracing::error!(catalog = %name, error = %e, "cannot apply the catalog's members (retried at its next version)");
                return;
            }
        };
        for (id, zone) in &changes.deleted {
            self.scheduler.remove(*id);
            self.zone_deleted(zone);
            tracing::info!(catalog = %name, zone = %zone, id, "member zone deleted: no longer in the catalog");
        }
        // New members in transactions of a few hundred: each is refreshed as
        // soon as its transaction commits.
        let (mut created, mut skipped) = (0, 0);
        for chunk in changes.to_create.chunks(CREATE_BATCH) {
            let chunk = chunk.to_vec();
            // Its only failure before its first change is the catalog's lookup.
            let made = match self.store.call_checked(move |c| zones::create_members(c, zone_id, &chunk)).await {
                Ok(made) => made,
                Err(e) => {
                    // Not marked read: the next refresh of the catalog tries again.
                    tracing::error!(catalog = %name, error = %e, "cannot create the catalog's new members (retried at its next refresh)");
                    return;
                }
            };
            for (id, zone) in &made.created {
                self.zone_created(*id, zone);
                self.request_refresh(*id, false);
                tracing::info!(catalog = %name, zone = %zone, id, "member zone created from the catalog");
            }
            for (zone, why) in &made.skipped {
                tracing::warn!(catalog = %name, zone = %zone, reason = %why, "catalog member not created");
            }
            created += made.created.len();
            skipped += made.skipped.len();
        }
        tracing::info!(catalog = %name, serial, members = n, created,
            deleted = changes.deleted.len(), skipped, "catalog read");
        if let Some(read) = self.consumed.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&zone_id) {
            *read = Some(serial);
        }
    }
}
