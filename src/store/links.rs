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
//! - [`linked_zones`] answers the primary's zone names in name order
//!   (SQLite's BINARY collation, which is byte order, as `ORDER BY name`
//!   gives), kept in chunks of at most [`CHUNK`] names, each with its JSON
//!   text: a link changes one chunk, whose text is rendered again at the
//!   next read, and the answer is the chunks' texts, shared (never copied
//!   per request). Inside a transaction it includes the transaction's own
//!   changes.
//!
//! Only the writer connection changes links; the index is installed there
//! ([`install`]), on the thread that owns that connection, and is read only
//! there.

use std::collections::{BTreeMap, HashMap};
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

/// Names in a chunk, at most: one that grows past it is split in two.
///
/// A link re-renders its chunk's text (a few KB) instead of the list (at
/// 10,000 zones, splicing a name into the whole text and copying it for the
/// answer was a tenth of the writer's work while they were being added),
/// and an answer is a few dozen shared pieces.
const CHUNK: usize = 256;

/// One primary's zones, sorted, in chunks keyed by their first name.
#[derive(Default)]
struct Entry {
    chunks: BTreeMap<Arc<str>, Chunk>,
    /// The list as handed out, until the next change.
    shared: Option<ZoneNames>,
}

#[derive(Default)]
struct Chunk {
    names: Vec<Arc<str>>,
    /// The names' JSON text, until the next change of this chunk.
    text: Option<Arc<str>>,
}

impl Entry {
    fn new(mut zones: Vec<Arc<str>>) -> Entry {
        zones.sort_unstable();
        zones.dedup();
        // Half full, so that the first links after a start split nothing.
        let chunks = zones
            .chunks(CHUNK / 2)
            .map(|names| (names[0].clone(), Chunk { names: names.to_vec(), text: None }))
            .collect();
        Entry { chunks, shared: None }
    }

    /// The first name of the chunk `zone` is in, or goes in: the last chunk
    /// starting at or before it, else the first.
    fn home(&self, zone: &str) -> Option<Arc<str>> {
        let before = self.chunks.range::<str, _>((Bound::Unbounded, Bound::Included(zone))).next_back();
        before.or_else(|| self.chunks.iter().next()).map(|(k, _)| k.clone())
    }

    /// Puts back a chunk taken out to change its first name or its size.
    fn put(&mut self, mut chunk: Chunk) {
        if chunk.names.len() > CHUNK {
            let tail = chunk.names.split_off(chunk.names.len() / 2);
            self.chunks.insert(tail[0].clone(), Chunk { names: tail, text: None });
        }
        if let Some(first) = chunk.names.first() {
            self.chunks.insert(first.clone(), chunk);
        }
    }

    /// Adds `zone`; false when it was there already.
    fn add(&mut self, zone: Arc<str>) -> bool {
        let Some(key) = self.home(&zone) else {
            self.shared = None;
            self.chunks.insert(zone.clone(), Chunk { names: vec![zone], text: None });
            return true;
        };
        let Some(chunk) = self.chunks.get_mut(&key) else { return false };
        let Err(at) = chunk.names.binary_search(&zone) else { return false };
        chunk.names.insert(at, zone);
        chunk.text = None;
        self.shared = None;
        if at == 0 || chunk.names.len() > CHUNK {
            if let Some(chunk) = self.chunks.remove(&key) {
                self.put(chunk);
            }
        }
        true
    }

    /// Removes `zone`; false when it was not there.
    fn remove(&mut self, zone: &str) -> bool {
        let Some(key) = self.home(zone) else { return false };
        let Some(chunk) = self.chunks.get_mut(&key) else { return false };
        let Ok(at) = chunk.names.binary_search_by(|n| (**n).cmp(zone)) else { return false };
        chunk.names.remove(at);
        chunk.text = None;
        self.shared = None;
        if at == 0 {
            if let Some(chunk) = self.chunks.remove(&key) {
                self.put(chunk);
            }
        }
        true
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The names, shared until the next change.
    fn read(&mut self) -> ZoneNames {
        let chunks = &mut self.chunks;
        self.shared
            .get_or_insert_with(|| {
                ZoneNames::from_pieces(
                    chunks
                        .values_mut()
                        .map(|c| c.text.get_or_insert_with(|| Arc::from(ZoneNames::piece(&c.names))).clone())
                        .collect(),
                )
            })
            .clone()
    }
}

impl Index {
    /// Applies a change; false when it changes nothing.
    fn apply(&mut self, (primary, zone, added): &Change) -> bool {
        if *added {
            self.primaries.entry(*primary).or_insert_with(|| Entry::new(Vec::new())).add(zone.clone())
        } else if let Some(entry) = self.primaries.get_mut(primary) {
            let removed = entry.remove(zone);
            if entry.is_empty() {
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

    fn names(&mut self, primary: i64) -> ZoneNames {
        self.primaries.get_mut(&primary).map(Entry::read).unwrap_or_default()
    }
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

/// The zones linked to `primary`, in name order.
/// Read on the thread of the writer connection, which holds the index.
pub fn linked_zones(primary: i64) -> Result<ZoneNames, StoreError> {
    let index = INSTALLED.with(|i| i.borrow().as_ref().map(|(index, _)| index.clone())).ok_or_else(|| {
        StoreError::Setup("the link index is read on the thread of the writer connection only".to_string())
    })?;
    let names = lock(&index).names(primary);
    Ok(names)
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

    fn text(names: &[Arc<str>]) -> String {
        serde_json::to_string(&names.iter().map(|n| &**n).collect::<Vec<_>>()).expect("a list of strings")
    }

    /// Checks the entry against the names it should hold, and its chunks' shape.
    fn check(e: &mut Entry, names: &[Arc<str>], what: &str) {
        assert_eq!(e.read().as_json(), text(names), "{what}");
        let held: Vec<Arc<str>> = e.chunks.values().flat_map(|c| c.names.iter().cloned()).collect();
        assert_eq!(held, names, "{what}: the chunks in order");
        for (first, c) in &e.chunks {
            assert!(!c.names.is_empty() && c.names.len() <= CHUNK, "{what}: chunk of {}", c.names.len());
            assert_eq!(first, &c.names[0], "{what}: a chunk is keyed by its first name");
        }
    }

    #[test]
    fn adding_and_removing_names_gives_the_text_a_full_render_gives() {
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
                assert_eq!(e.add(name.clone()), !names.contains(&name));
                if !names.contains(&name) {
                    names.push(name.clone());
                }
            } else {
                assert!(e.remove(&name));
                names.retain(|n| *n != name);
            }
            names.sort();
            check(&mut e, &names, &format!("after {name} ({add})"));
        }
        // A name JSON must escape.
        e.add(Arc::from("we\"ird.example"));
        names.push(Arc::from("we\"ird.example"));
        names.sort();
        check(&mut e, &names, "an escaped name");
        let parsed: Vec<String> = serde_json::from_str(&e.read().as_json()).expect("valid JSON");
        assert_eq!(parsed.len(), names.len());
        assert!(e.remove("we\"ird.example"));
        names.retain(|n| &**n != "we\"ird.example");
        check(&mut e, &names, "the escaped name removed");
        assert!(!e.remove("absent.example"), "a name not there is not removed");
    }

    #[test]
    fn thousands_of_names_in_any_order_split_into_chunks_that_read_as_one_list() {
        let mut e = Entry::new((0..300).map(|i| Arc::from(format!("start{i}.example"))).collect());
        let mut names: Vec<Arc<str>> = (0..300).map(|i| Arc::from(format!("start{i}.example"))).collect();
        names.sort();
        check(&mut e, &names, "built from the store");
        // Out of order (byte order is not creation order: z10 before z9),
        // with a read only now and then, as a catalog adds its members.
        for i in (0..1500).rev().chain(1500..3000) {
            let name: Arc<str> = Arc::from(format!("z{i}.example"));
            assert!(e.add(name.clone()));
            names.push(name);
            if i % 700 == 0 {
                names.sort();
                check(&mut e, &names, &format!("after z{i}"));
            }
        }
        names.sort();
        check(&mut e, &names, "3,300 names");
        assert!(e.chunks.len() > 3300 / CHUNK, "split into chunks: {}", e.chunks.len());
        // Removing every other one, the first names of chunks among them.
        let gone: Vec<Arc<str>> = names.iter().step_by(2).cloned().collect();
        for n in &gone {
            assert!(e.remove(n));
        }
        names.retain(|n| !gone.contains(n));
        check(&mut e, &names, "half removed");
        for n in names.clone() {
            assert!(e.remove(&n));
        }
        assert!(e.is_empty());
        assert_eq!(e.read().as_json(), "[]");
    }

    #[test]
    fn a_read_shares_the_text_of_chunks_no_link_changed() {
        let mut e = Entry::new((0..1000).map(|i| Arc::from(format!("z{i:04}.example"))).collect());
        let before = e.read();
        assert!(e.add(Arc::from("z0500a.example")));
        let after = e.read();
        let same = before.pieces().iter().zip(after.pieces()).filter(|(a, b)| Arc::ptr_eq(a, b)).count();
        assert_eq!(same, before.pieces().len() - 1, "one chunk rendered again, the others shared");
        assert!(Arc::ptr_eq(&after.pieces()[0], &e.read().pieces()[0]), "a read without a change renders nothing");
    }
}
