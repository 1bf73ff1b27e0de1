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
//! - a transaction's changes are applied at once (only the writer's own
//!   thread reads the index, so it sees its own transaction), kept in order
//!   until the commit (commit hook), and undone at a rollback (rollback
//!   hook) or at a rollback to a savepoint (the writer's `rolled_back_to`:
//!   SQLite has no hook for that);
//! - [`linked_zones`] answers the JSON array of the primary's zone names, in
//!   name order (SQLite's BINARY collation, which is byte order, as `ORDER
//!   BY name` gives), kept as text and changed in place by each link, and
//!   shared (the answer's bytes are the index's own, never copied per
//!   request). Inside a transaction it includes the transaction's own
//!   changes.
//!
//! Only the writer connection changes links; the index is installed there
//! ([`install`]), on the thread that owns that connection, and is read only
//! there.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
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
    /// The changes of the open transaction, already applied (the index is
    /// read only by the connection that makes them, so it sees its own
    /// transaction), in order: undone from the end at a rollback.
    pending: Vec<Change>,
}

/// One primary's zones, sorted, and their JSON array, kept up to date by
/// splicing: a link changes the text where the name goes, instead of
/// rendering every name again (at 10,000 zones, a render per link was a
/// quarter of the writer's work while they were being added). A run of
/// changes with no read between (a catalog creating its 10,000 members in one
/// transaction) drops the text instead, and the next read renders it once:
/// splicing each of them would move the whole text each time.
struct Entry {
    zones: BTreeSet<Arc<str>>,
    /// The JSON array of `zones`, unless a run of changes dropped it.
    json: Option<String>,
    /// `json` as handed out, until the next change.
    shared: Option<Arc<str>>,
    /// Every name is written as it is between quotes (no JSON escapes), so
    /// a name's place in `json` follows from the lengths before it.
    plain: bool,
    /// Changes since the text was last read.
    unread: usize,
}

/// Changes spliced into the text between two reads; more drop it.
const SPLICED_UNREAD: usize = 8;

/// A name that JSON writes as it is between quotes.
fn is_plain(name: &str) -> bool {
    name.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

impl Entry {
    fn new(zones: Vec<Arc<str>>) -> Entry {
        let zones: BTreeSet<Arc<str>> = zones.into_iter().collect();
        let plain = zones.iter().all(|z| is_plain(z));
        Entry { json: Some(render(&zones)), zones, plain, shared: None, unread: 0 }
    }

    /// Where the opening quote of `zone` (plain names only) is, or goes, in
    /// the text: after the names before it, each with its quotes and comma.
    fn offset(&self, zone: &str) -> usize {
        1 + self.zones.range::<str, _>((Bound::Unbounded, Bound::Excluded(zone))).map(|z| z.len() + 3).sum::<usize>()
    }

    /// The text to splice into, if this change may be spliced; else the text
    /// is dropped until the next read.
    fn splicing(&mut self, plain: bool) -> Option<String> {
        self.shared = None;
        self.unread += 1;
        let json = self.json.take();
        json.filter(|_| plain && self.unread <= SPLICED_UNREAD)
    }

    /// Adds `zone`; false when it was there already.
    fn add(&mut self, zone: Arc<str>) -> bool {
        if self.zones.contains(&zone) {
            return false;
        }
        self.plain = self.plain && is_plain(&zone);
        if let Some(mut json) = self.splicing(self.plain) {
            let at_end = self.zones.last().is_none_or(|last| *last < zone);
            let text = if self.zones.is_empty() {
                format!("\"{zone}\"")
            } else if at_end {
                format!(",\"{zone}\"")
            } else {
                format!("\"{zone}\",")
            };
            let at = if at_end { json.len() - 1 } else { self.offset(&zone) };
            json.insert_str(at, &text);
            self.json = Some(json);
        }
        self.zones.insert(zone);
        true
    }

    /// Removes `zone`; false when it was not there.
    fn remove(&mut self, zone: &str) -> bool {
        if !self.zones.contains(zone) {
            return false;
        }
        if let Some(mut json) = self.splicing(self.plain) {
            let len = zone.len() + 2;
            let (from, to) = if self.zones.len() == 1 {
                (1, 1 + len)
            } else if self.zones.last().is_some_and(|last| **last == *zone) {
                // The last name goes with the comma before it.
                let at = self.offset(zone);
                (at - 1, at + len)
            } else {
                let at = self.offset(zone);
                (at, at + len + 1)
            };
            json.replace_range(from..to, "");
            self.json = Some(json);
        }
        self.zones.remove(zone);
        if !self.plain {
            self.plain = self.zones.iter().all(|z| is_plain(z));
        }
        true
    }

    /// The JSON array, shared until the next change.
    fn read(&mut self) -> Arc<str> {
        self.unread = 0;
        let (json, zones) = (&mut self.json, &self.zones);
        self.shared.get_or_insert_with(|| Arc::from(json.get_or_insert_with(|| render(zones)).as_str())).clone()
    }
}

impl Index {
    /// Applies a change; false when it changes nothing.
    fn apply(&mut self, (primary, zone, added): &Change) -> bool {
        if *added {
            self.primaries.entry(*primary).or_insert_with(|| Entry::new(Vec::new())).add(zone.clone())
        } else if let Some(entry) = self.primaries.get_mut(primary) {
            let removed = entry.remove(zone);
            if entry.zones.is_empty() {
                self.primaries.remove(primary);
            }
            removed
        } else {
            false
        }
    }

    /// A change made by the open transaction.
    fn change(&mut self, change: Change) {
        if self.apply(&change) {
            self.pending.push(change);
        }
    }

    /// Undoes the open transaction's changes after the first `keep`.
    fn undo_to(&mut self, keep: usize) {
        while self.pending.len() > keep {
            if let Some((primary, zone, added)) = self.pending.pop() {
                self.apply(&(primary, zone, !added));
            }
        }
    }

    fn json(&mut self, primary: i64) -> Arc<str> {
        match self.primaries.get_mut(&primary) {
            None => Arc::from("[]"),
            Some(entry) => entry.read(),
        }
    }
}

fn render(zones: &BTreeSet<Arc<str>>) -> String {
    let names: Vec<&str> = zones.iter().map(|z| &**z).collect();
    // Serializing a list of strings cannot fail.
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_string())
}

fn lock(index: &Mutex<Index>) -> MutexGuard<'_, Index> {
    index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Builds the index from the links stored, and installs the triggers, the
/// functions and the hooks that keep it, on the connection that writes.
pub fn install(conn: &mut Connection) -> Result<Arc<super::notify_acl::NotifyAcl>, StoreError> {
    // The NOTIFY ACL rides on the same hooks (a connection has one commit hook).
    let (acl, tracker) = super::notify_acl::install(conn)?;
    let index = Arc::new(Mutex::new(Index::default()));
    {
        let mut by_primary: HashMap<i64, Vec<Arc<str>>> = HashMap::new();
        let mut stmt = conn.prepare("SELECT primary_id, zone_name FROM zone_primaries")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (primary, zone) = row?;
            by_primary.entry(primary).or_default().push(Arc::from(zone));
        }
        lock(&index).primaries = by_primary.into_iter().map(|(p, zones)| (p, Entry::new(zones))).collect();
    }
    let changed = index.clone();
    conn.create_scalar_function("sd_link_changed", 3, FunctionFlags::SQLITE_UTF8, move |ctx| {
        let primary: i64 = ctx.get(0)?;
        let zone: String = ctx.get(1)?;
        let added: i64 = ctx.get(2)?;
        lock(&changed).change((primary, Arc::from(zone), added > 0));
        Ok(0i64)
    })?;
    INSTALLED.with(|i| *i.borrow_mut() = Some((index.clone(), tracker.clone())));
    let committed = index.clone();
    let acl_tracker = tracker.clone();
    conn.commit_hook(Some(move || {
        lock(&committed).pending.clear();
        tracker.commit();
        false // let the commit go on
    }))?;
    let rolled_back = index;
    let tracker = acl_tracker;
    conn.rollback_hook(Some(move || {
        lock(&rolled_back).undo_to(0);
        tracker.rollback();
    }))?;
    conn.execute_batch(
        "CREATE TEMP TRIGGER sd_link_added AFTER INSERT ON zone_primaries
         BEGIN SELECT sd_link_changed(NEW.primary_id, NEW.zone_name, 1); END;
         CREATE TEMP TRIGGER sd_link_removed AFTER DELETE ON zone_primaries
         BEGIN SELECT sd_link_changed(OLD.primary_id, OLD.zone_name, 0); END;",
    )?;
    Ok(acl)
}

/// The zones linked to `primary`, as a JSON array of names in name order.
/// Read on the thread of the writer connection, which holds the index.
pub fn linked_zones(primary: i64) -> Result<ZoneNames, StoreError> {
    let index = INSTALLED.with(|i| i.borrow().as_ref().map(|(index, _)| index.clone())).ok_or_else(|| {
        StoreError::Setup("the link index is read on the thread of the writer connection only".to_string())
    })?;
    let json = lock(&index).json(primary);
    Ok(ZoneNames::from_json_text(json))
}

type Installed = (Arc<Mutex<Index>>, Arc<super::notify_acl::Tracker>);

thread_local! {
    /// The index and the NOTIFY ACL tracker of the writer connection owned
    /// by this thread (set by [`install`], which runs on that thread).
    static INSTALLED: std::cell::RefCell<Option<Installed>> = const { std::cell::RefCell::new(None) };
}

/// How far the changes waiting for the commit went, at a savepoint: what
/// [`rolled_back_to`] keeps when the savepoint is rolled back (SQLite calls
/// no hook for that, only for the whole transaction).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mark {
    links: usize,
    acl: usize,
}

/// The mark of this thread's writer connection now (nothing pending when
/// this thread has none).
pub(crate) fn mark() -> Mark {
    INSTALLED.with(|i| match &*i.borrow() {
        Some((index, tracker)) => Mark { links: lock(index).pending.len(), acl: tracker.mark() },
        None => Mark::default(),
    })
}

/// Drops the pending changes made after `mark`.
pub(crate) fn rolled_back_to(mark: Mark) {
    INSTALLED.with(|i| {
        if let Some((index, tracker)) = &*i.borrow() {
            lock(index).undo_to(mark.links);
            tracker.truncate(mark.acl);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splicing_a_name_in_and_out_gives_the_text_a_full_render_gives() {
        let mut e = Entry::new(Vec::new());
        let mut names: Vec<Arc<str>> = Vec::new();
        // Inserts at the start, the end and in between, removals of the first,
        // the last and a middle one, down to empty and up again.
        let steps: &[(&str, bool)] = &[
            ("m.example", true),
            ("a.example", true),
            ("z.example", true),
            ("f.example", true),
            ("f.example", true),
            ("a.example", false),
            ("z.example", false),
            ("f.example", false),
            ("m.example", false),
            ("q.example", true),
            ("b.example", true),
        ];
        for &(name, add) in steps {
            let name: Arc<str> = Arc::from(name);
            if add {
                e.add(name.clone());
                if !names.contains(&name) {
                    names.push(name.clone());
                }
            } else {
                e.remove(&name);
                names.retain(|n| *n != name);
            }
            names.sort();
            assert_eq!(e.json.as_deref(), Some(text(&names).as_str()), "after {name} ({add})");
            assert_eq!(&*e.read(), text(&names));
            assert_eq!(e.zones.iter().cloned().collect::<Vec<_>>(), names);
        }
        // A name JSON must escape turns splicing off, and the text stays right.
        e.add(Arc::from("we\"ird.example"));
        names.push(Arc::from("we\"ird.example"));
        names.sort();
        assert!(!e.plain);
        assert_eq!(&*e.read(), text(&names));
        let parsed: Vec<String> = serde_json::from_str(&e.read()).expect("valid JSON");
        assert_eq!(parsed.len(), names.len());
        // Removing it turns splicing on again.
        e.remove("we\"ird.example");
        names.retain(|n| &**n != "we\"ird.example");
        assert!(e.plain);
        assert_eq!(&*e.read(), text(&names));
    }

    fn text(names: &[Arc<str>]) -> String {
        serde_json::to_string(&names.iter().map(|n| &**n).collect::<Vec<_>>()).expect("a list of strings")
    }

    #[test]
    fn a_run_of_changes_without_a_read_drops_the_text_and_the_next_read_renders_it() {
        let mut e = Entry::new(vec![Arc::from("b.example")]);
        let mut names: Vec<Arc<str>> = vec![Arc::from("b.example")];
        // A catalog's members, in no particular order, with no read between.
        for i in (0..200).rev().chain(200..400) {
            let name: Arc<str> = Arc::from(format!("z{i}.example"));
            assert!(e.add(name.clone()));
            names.push(name);
        }
        assert!(e.json.is_none(), "200 changes without a read are not spliced in one by one");
        assert!(e.remove("z7.example"));
        names.retain(|n| &**n != "z7.example");
        names.sort();
        assert_eq!(&*e.read(), text(&names));
        // After a read, single changes are spliced again.
        assert!(e.add(Arc::from("a.example")));
        names.insert(0, Arc::from("a.example"));
        assert_eq!(e.json.as_deref(), Some(text(&names).as_str()));
        assert!(!e.add(Arc::from("a.example")), "a name is listed once");
    }
}
