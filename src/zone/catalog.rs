//! The catalog zone of our zones (RFC 9432, version 2, producer): a zone
//! whose members are the zones we serve, so that a downstream that consumes
//! catalogs (BIND 9.18 `catalog-zones`, Knot `catalog-role: interpret`,
//! another secondaryd) adds and removes them by itself.
//!
//! ```text
//! <catalog>                  0 SOA invalid. invalid. <serial> 60 60 2147483646 0
//! <catalog>                  0 NS  invalid.
//! version.<catalog>          0 TXT "2"
//! z<id>.zones.<catalog>      0 PTR <member zone>.
//! ```
//!
//! - The member label is `z` and the zone's row id: unique, and new when a
//!   zone is deleted and created again (RFC 9432 §5.6: a new label resets the
//!   member at the consumer).
//! - Every change of the zone list is a new version, at most one per
//!   [`SETTLE`] (a burst of API calls makes one): the serial is stored before
//!   the version is served, so it only ever grows, restarts included.
//! - It is served like any zone (answers, AXFR, and IXFR from an in-memory
//!   journal of its last versions; after a restart an IXFR gets the whole
//!   catalog) and announced by NOTIFY to the downstreams that cover it.
//! - Refresh 60 s, so a downstream that missed a NOTIFY catches up within a
//!   minute; an expire of 68 years, so that a catalog consumer never drops
//!   every member zone because secondaryd was down for a while.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::OptionalExtension;
use tokio::sync::Notify;

use super::notify_out::Announced;
use super::Engine;
use crate::store::zonedata::Diff;
use crate::store::StoreError;
use crate::view::{ViewBuilder, ZoneView};
use crate::wire::serial::Serial;
use crate::wire::{class, rtype, Name, Record};

/// The slot id of the catalog in the serving map (zone ids start at 1).
pub const CATALOG_ID: i64 = 0;
/// Changes within this long of each other make one new version.
const SETTLE: Duration = Duration::from_millis(100);
/// Versions kept for IXFR.
const JOURNAL: usize = 100;
const TIMERS: [u32; 4] = [60, 60, 2_147_483_646, 0];

pub struct Catalog {
    pub apex: Name,
    /// The normalized name.
    pub name: String,
    state: Mutex<State>,
    poke: Notify,
}

#[derive(Default)]
struct State {
    serial: u32,
    members: BTreeMap<i64, Name>,
    journal: VecDeque<Diff>,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Catalog {
    pub fn new(name: &str) -> Result<Catalog, String> {
        let apex = Name::from_ascii(name).map_err(|e| format!("catalog zone `{name}`: {e}"))?;
        Ok(Catalog { apex, name: name.to_string(), state: Mutex::new(State::default()), poke: Notify::new() })
    }

    /// The zone list changed: a new version follows shortly.
    pub fn changed(&self) {
        self.poke.notify_one();
    }

    fn soa(&self, serial: u32) -> Record {
        let invalid = Name::from_ascii("invalid").unwrap_or_else(|_| Name::root());
        let mut rdata = Vec::new();
        rdata.extend_from_slice(invalid.as_wire());
        rdata.extend_from_slice(invalid.as_wire());
        for v in [serial, TIMERS[0], TIMERS[1], TIMERS[2], TIMERS[3]] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        Record { owner: self.apex.clone(), rtype: rtype::SOA, class: class::IN, ttl: 0, rdata }
    }

    fn member(&self, id: i64, zone: &Name) -> Option<Record> {
        let owner = Name::from_ascii(&format!("z{id}.zones.{}", self.name)).ok()?;
        Some(Record { owner, rtype: rtype::PTR, class: class::IN, ttl: 0, rdata: zone.as_wire().to_vec() })
    }

    /// Every record of the version with `serial` and `members`.
    fn records(&self, serial: u32, members: &BTreeMap<i64, Name>) -> Vec<Record> {
        let invalid = Name::from_ascii("invalid").unwrap_or_else(|_| Name::root());
        let mut out = vec![
            self.soa(serial),
            Record {
                owner: self.apex.clone(),
                rtype: rtype::NS,
                class: class::IN,
                ttl: 0,
                rdata: invalid.as_wire().to_vec(),
            },
        ];
        if let Ok(version) = Name::from_ascii(&format!("version.{}", self.name)) {
            out.push(Record { owner: version, rtype: rtype::TXT, class: class::IN, ttl: 0, rdata: vec![1, b'2'] });
        }
        out.extend(members.iter().filter_map(|(id, z)| self.member(*id, z)));
        out
    }

    fn view(&self, serial: u32, members: &BTreeMap<i64, Name>) -> Result<ZoneView, String> {
        let mut b = ViewBuilder::new(&self.apex);
        for r in self.records(serial, members) {
            b.push(&r)?;
        }
        b.finish()
    }

    /// [`Catalog::view`] on a blocking thread (a catalog of 10,000 zones is
    /// milliseconds of sorting).
    async fn view_off_runtime(
        self: &Arc<Self>,
        serial: u32,
        members: BTreeMap<i64, Name>,
    ) -> Result<ZoneView, StoreError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.view(serial, &members))
            .await
            .map_err(|e| StoreError::Corrupt(format!("the catalog task failed: {e}")))?
            .map_err(StoreError::Corrupt)
    }

    /// The steps from serial `from` to serial `to`, if the journal has them all.
    pub fn diffs(&self, from: u32, to: u32) -> Option<Vec<Diff>> {
        let st = lock(&self.state);
        let (start, len) = crate::store::zonedata::chain_span(st.journal.iter().map(|d| (d.from, d.to)), from, to)?;
        Some(st.journal.iter().skip(start).take(len).cloned().collect())
    }
}

/// The zones the catalog lists: every zone of the store but itself.
fn members_from(names: std::collections::HashMap<i64, String>, catalog: &str) -> BTreeMap<i64, Name> {
    names
        .into_iter()
        .filter(|(_, n)| n != catalog)
        .filter_map(|(id, n)| Name::from_ascii(&n).ok().map(|name| (id, name)))
        .collect()
}

impl Engine {
    /// Builds and serves the catalog from the store, then follows the zone
    /// list until the daemon stops. Does nothing without `[catalog]`.
    pub async fn start_catalog(self: &Arc<Self>) -> Result<(), StoreError> {
        let Some(cat) = self.catalog.clone() else { return Ok(()) };
        let name = cat.name.clone();
        let (serial, names) = self
            .store
            .call(move |c| {
                let serial: Option<u32> =
                    c.query_row("SELECT serial FROM catalogs WHERE name = ?1", [&name], |r| r.get(0)).optional()?;
                Ok((serial, crate::store::zones::all_names(c)?))
            })
            .await?;
        if names.values().any(|n| *n == cat.name) {
            tracing::error!(catalog = %cat.name, "a secondary zone has the catalog's name; the catalog is not served");
            return Ok(());
        }
        let members = members_from(names, &cat.name);
        let serial = match serial {
            Some(s) => s,
            None => self.store_catalog_serial(next_serial(None)).await?,
        };
        let view = cat.view_off_runtime(serial, members.clone()).await?;
        let n = members.len();
        {
            let mut st = lock(&cat.state);
            st.serial = serial;
            st.members = members;
        }
        self.views.slot(CATALOG_ID, &cat.apex).publish(view);
        tracing::info!(catalog = %cat.name, serial, members = n, "catalog zone served");
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                cat.poke.notified().await;
                tokio::time::sleep(SETTLE).await;
                if let Err(e) = me.rebuild_catalog(&cat).await {
                    tracing::error!(catalog = %cat.name, error = %e, "cannot update the catalog zone (retried on the next change)");
                }
            }
        });
        Ok(())
    }

    async fn store_catalog_serial(&self, serial: u32) -> Result<u32, StoreError> {
        let Some(cat) = &self.catalog else { return Ok(serial) };
        let name = cat.name.clone();
        self.store
            .call(move |c| {
                c.execute(
                    "INSERT INTO catalogs (name, serial) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET serial = ?2",
                    rusqlite::params![name, serial],
                )?;
                Ok(serial)
            })
            .await
    }

    /// A new version when the zone list differs from the served one.
    async fn rebuild_catalog(&self, cat: &Arc<Catalog>) -> Result<(), StoreError> {
        let names = self.store.call(|c| crate::store::zones::all_names(c)).await?;
        let members = members_from(names, &cat.name);
        let (old_serial, old_members) = {
            let st = lock(&cat.state);
            (st.serial, st.members.clone())
        };
        if members == old_members {
            return Ok(());
        }
        let serial = self.store_catalog_serial(next_serial(Some(old_serial))).await?;
        let mut deleted = vec![cat.soa(old_serial)];
        deleted.extend(
            old_members.iter().filter(|(id, _)| !members.contains_key(id)).filter_map(|(id, z)| cat.member(*id, z)),
        );
        let mut added = vec![cat.soa(serial)];
        added.extend(
            members.iter().filter(|(id, _)| !old_members.contains_key(id)).filter_map(|(id, z)| cat.member(*id, z)),
        );
        let view = cat.view_off_runtime(serial, members.clone()).await?;
        let soa = cat.soa(serial);
        let (n_added, n_deleted) = (added.len() - 1, deleted.len() - 1);
        {
            let mut st = lock(&cat.state);
            st.serial = serial;
            st.members = members.clone();
            st.journal.push_back(Diff { from: old_serial, to: serial, deleted, added });
            while st.journal.len() > JOURNAL {
                st.journal.pop_front();
            }
        }
        self.views.slot(CATALOG_ID, &cat.apex).publish(view);
        tracing::info!(catalog = %cat.name, serial, members = members.len(), added = n_added, removed = n_deleted, "catalog zone updated");
        self.notifier.changed(
            CATALOG_ID,
            &cat.name,
            Announced { apex: cat.apex.clone(), serial, ttl: soa.ttl, soa: soa.rdata },
        );
        Ok(())
    }
}

/// The next serial: the clock's seconds when they are ahead (readable, and
/// ahead of any serial an earlier install used), else one more (RFC 1982).
fn next_serial(old: Option<u32>) -> u32 {
    let now = crate::store::now_secs() as u32;
    match old {
        Some(o) if !Serial(now).is_newer_than(Serial(o)) => o.wrapping_add(1),
        _ => now,
    }
}
