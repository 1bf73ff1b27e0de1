//! The zones linked to each primary, kept in memory by SQLite itself.
//!
//! DNSimple's PrimaryServer object lists every zone linked to it
//! (`linked_secondary_zones`), and link and unlink answer with that object.
//! Read from the tables, that list costs a row per linked zone on every such
//! request, so loading 10,000 zones by create + link costs 50 million rows.
//! Instead the writer connection keeps an index of the links:
//!
//! - temporary triggers on `zone_primaries` report every link inserted or
//!   deleted to the function `sd_link_changed`, whatever the path: link,
//!   unlink, a catalog creating its members, and the cascades of deleting a
//!   zone or a primary;
//! - a transaction's changes wait until its commit (commit hook), or are
//!   dropped at its rollback (rollback hook);
//! - `sd_linked_zones(primary_id)` answers the JSON array of the primary's
//!   zone names, in name order (SQLite's BINARY collation, which is byte
//!   order, as `ORDER BY name` gives), rendered once after each change to
//!   that primary. Inside a transaction it includes the transaction's own
//!   changes.
//!
//! Only the writer connection changes links; the index is installed there
//! ([`install`]), and the other connections never read it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use super::StoreError;
use crate::model::ZoneNames;

/// A change to one link: the primary, the zone's name, added or removed.
type Change = (i64, Arc<str>, bool);

#[derive(Default)]
struct Index {
    primaries: HashMap<i64, Entry>,
    /// The changes of the open transaction.
    pending: Vec<Change>,
}

#[derive(Default)]
struct Entry {
    zones: BTreeSet<Arc<str>>,
    /// `zones` as a JSON array, once asked for.
    json: Option<Arc<str>>,
}

impl Index {
    fn apply(&mut self, (primary, zone, added): Change) {
        let entry = self.primaries.entry(primary).or_default();
        entry.json = None;
        if added {
            entry.zones.insert(zone);
        } else {
            entry.zones.remove(&zone);
            if entry.zones.is_empty() {
                self.primaries.remove(&primary);
            }
        }
    }

    fn json(&mut self, primary: i64) -> Arc<str> {
        if self.pending.iter().any(|(p, _, _)| *p == primary) {
            // Inside a transaction that changed this primary's links: its
            // list as the transaction sees it.
            let mut zones = self.primaries.get(&primary).map(|e| e.zones.clone()).unwrap_or_default();
            for (_, zone, added) in self.pending.iter().filter(|(p, _, _)| *p == primary) {
                if *added {
                    zones.insert(zone.clone());
                } else {
                    zones.remove(zone);
                }
            }
            return render(&zones);
        }
        match self.primaries.get_mut(&primary) {
            None => Arc::from("[]"),
            Some(entry) => entry.json.get_or_insert_with(|| render(&entry.zones)).clone(),
        }
    }
}

fn render(zones: &BTreeSet<Arc<str>>) -> Arc<str> {
    let names: Vec<&str> = zones.iter().map(|z| &**z).collect();
    // Serializing a list of strings cannot fail.
    Arc::from(serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_string()))
}

fn lock(index: &Mutex<Index>) -> MutexGuard<'_, Index> {
    index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Builds the index from the links stored, and installs the triggers, the
/// functions and the hooks that keep it, on the connection that writes.
pub fn install(conn: &mut Connection) -> Result<(), StoreError> {
    let index = Arc::new(Mutex::new(Index::default()));
    {
        let mut idx = lock(&index);
        let mut stmt = conn.prepare("SELECT primary_id, zone_name FROM zone_primaries")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (primary, zone) = row?;
            idx.apply((primary, Arc::from(zone), true));
        }
    }
    let changed = index.clone();
    conn.create_scalar_function("sd_link_changed", 3, FunctionFlags::SQLITE_UTF8, move |ctx| {
        let primary: i64 = ctx.get(0)?;
        let zone: String = ctx.get(1)?;
        let added: i64 = ctx.get(2)?;
        lock(&changed).pending.push((primary, Arc::from(zone), added > 0));
        Ok(0i64)
    })?;
    let read = index.clone();
    conn.create_scalar_function("sd_linked_zones", 1, FunctionFlags::SQLITE_UTF8, move |ctx| {
        let primary: i64 = ctx.get(0)?;
        Ok(lock(&read).json(primary).to_string())
    })?;
    let committed = index.clone();
    conn.commit_hook(Some(move || {
        let mut idx = lock(&committed);
        let pending = std::mem::take(&mut idx.pending);
        for change in pending {
            idx.apply(change);
        }
        false // let the commit go on
    }))?;
    let rolled_back = index;
    conn.rollback_hook(Some(move || lock(&rolled_back).pending.clear()))?;
    conn.execute_batch(
        "CREATE TEMP TRIGGER sd_link_added AFTER INSERT ON zone_primaries
         BEGIN SELECT sd_link_changed(NEW.primary_id, NEW.zone_name, 1); END;
         CREATE TEMP TRIGGER sd_link_removed AFTER DELETE ON zone_primaries
         BEGIN SELECT sd_link_changed(OLD.primary_id, OLD.zone_name, 0); END;",
    )?;
    Ok(())
}

/// The zones linked to `primary`, as a JSON array of names in name order.
pub fn linked_zones(conn: &Connection, primary: i64) -> Result<ZoneNames, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT sd_linked_zones(?1)")?;
    let json: String = stmt.query_row([primary], |r| r.get(0))?;
    Ok(ZoneNames::from_json_text(Arc::from(json)))
}
