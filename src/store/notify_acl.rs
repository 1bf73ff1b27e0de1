//! What the NOTIFY check needs, in memory: each zone's id and its primaries'
//! addresses, TSIG keys and `notify_requires_tsig`, so that a NOTIFY (a UDP
//! packet from any source) is checked without a store round trip.
//!
//! It is kept the way [`super::links`] keeps its index, on the writer
//! connection: temporary triggers on `zones`, `primaries` and `zone_primaries`
//! report every change (whatever the path: the API, a catalog creating its
//! members, the cascades of a delete) to `sd_acl_changed`; a transaction's
//! changes are applied at its commit (the links index's commit hook calls
//! [`Tracker::commit`]) or dropped at its rollback. Each commit publishes a new
//! snapshot behind one atomic pointer; the maps are persistent (imbl), so a
//! commit costs its changes, not a copy. When the API call that linked a
//! primary returns, its NOTIFYs are accepted.
//!
//! Addresses are kept in canonical form (IPv4-mapped IPv6 as IPv4), whatever
//! form an older row has.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use super::StoreError;

/// A primary as the NOTIFY check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclPrimary {
    pub id: i64,
    /// `None` when the stored text is not an address (never matches).
    pub ip: Option<IpAddr>,
    pub tsig_key: Option<String>,
    pub notify_requires_tsig: bool,
}

/// A zone: its id and its primaries' ids.
#[derive(Debug, Clone, Default)]
pub struct AclZone {
    pub id: i64,
    /// Shared, not a `Vec`: a change to the map copies the nodes on its path,
    /// and with them every zone they hold (each `Vec` allocated again).
    primaries: Arc<[i64]>,
}

/// One snapshot of the whole ACL.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    zones: imbl::HashMap<Arc<str>, AclZone>,
    primaries: imbl::HashMap<i64, Arc<AclPrimary>>,
}

impl Acl {
    /// The zone of that (normalized) name.
    pub fn zone(&self, name: &str) -> Option<&AclZone> {
        self.zones.get(name)
    }

    /// The zone's primaries.
    pub fn primaries<'a>(&'a self, zone: &'a AclZone) -> impl Iterator<Item = &'a AclPrimary> + 'a {
        zone.primaries.iter().filter_map(|id| self.primaries.get(id).map(|p| &**p))
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::Zone { id, name, added: true } => {
                self.zones.insert(name, AclZone { id, primaries: Arc::new([]) });
            }
            Change::Zone { name, added: false, .. } => {
                self.zones.remove(&name);
            }
            Change::Primary { id, primary: Some(p) } => {
                self.primaries.insert(id, Arc::new(p));
            }
            Change::Primary { id, primary: None } => {
                self.primaries.remove(&id);
            }
            Change::Link { zone_id, zone, primary, added: true } => {
                let z = self.zones.entry(zone).or_insert_with(|| AclZone { id: zone_id, primaries: Arc::new([]) });
                z.primaries = without(&z.primaries, primary).chain([primary]).collect();
            }
            // A cascade may remove the links after the zone itself: nothing to re-create.
            Change::Link { zone, primary, added: false, .. } => {
                if let Some(z) = self.zones.get_mut(&zone) {
                    z.primaries = without(&z.primaries, primary).collect();
                }
            }
        }
    }
}

/// The ids of `primaries` but `primary`, in order (a zone's new list is
/// built, not edited: it is shared between snapshots).
fn without(primaries: &[i64], primary: i64) -> impl Iterator<Item = i64> + '_ {
    primaries.iter().copied().filter(move |&p| p != primary)
}

/// The address in canonical form: IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse().ok().map(canonical_ip)
}

#[derive(Debug)]
enum Change {
    Zone { id: i64, name: Arc<str>, added: bool },
    Primary { id: i64, primary: Option<AclPrimary> },
    Link { zone_id: i64, zone: Arc<str>, primary: i64, added: bool },
}

/// The published ACL, read by the DNS listener.
#[derive(Default)]
pub struct NotifyAcl {
    current: ArcSwap<Acl>,
}

impl NotifyAcl {
    /// The current snapshot (lock-free).
    pub fn load(&self) -> Arc<Acl> {
        self.current.load_full()
    }
}

/// The writer-side half: the open transaction's changes.
pub(super) struct Tracker {
    acl: Arc<NotifyAcl>,
    pending: Mutex<Vec<Change>>,
}

impl Tracker {
    fn pending(&self) -> MutexGuard<'_, Vec<Change>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes the committed transaction's changes.
    pub(super) fn commit(&self) {
        let changes = std::mem::take(&mut *self.pending());
        if changes.is_empty() {
            return;
        }
        let mut next = Acl::clone(&self.acl.current.load());
        for c in changes {
            next.apply(c);
        }
        self.acl.current.store(Arc::new(next));
    }

    pub(super) fn rollback(&self) {
        self.pending().clear();
    }

    /// How many changes are pending (see [`super::links::Mark`]).
    pub(super) fn mark(&self) -> usize {
        self.pending().len()
    }

    /// Forgets the changes after `mark` (their savepoint was rolled back).
    pub(super) fn truncate(&self, mark: usize) {
        self.pending().truncate(mark);
    }
}

/// Loads the ACL from the store and installs the triggers that keep it, on the
/// writer connection. The caller's commit and rollback hooks must call the
/// tracker's [`Tracker::commit`] and [`Tracker::rollback`].
pub(super) fn install(conn: &mut Connection) -> Result<(Arc<NotifyAcl>, Arc<Tracker>), StoreError> {
    let mut acl = Acl::default();
    {
        let mut stmt = conn.prepare("SELECT id, ip, tsig_key, notify_requires_tsig FROM primaries")?;
        let rows = stmt.query_map([], |r| {
            Ok(AclPrimary {
                id: r.get(0)?,
                ip: parse_ip(&r.get::<_, String>(1)?),
                tsig_key: r.get(2)?,
                notify_requires_tsig: r.get(3)?,
            })
        })?;
        for p in rows {
            let p = p?;
            acl.apply(Change::Primary { id: p.id, primary: Some(p) });
        }
        let mut stmt = conn.prepare("SELECT id, name FROM zones")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for z in rows {
            let (id, name) = z?;
            acl.apply(Change::Zone { id, name: Arc::from(name), added: true });
        }
        let mut stmt = conn.prepare("SELECT zone_id, zone_name, primary_id FROM zone_primaries ORDER BY position")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
        for l in rows {
            let (zone_id, zone, primary) = l?;
            acl.apply(Change::Link { zone_id, zone: Arc::from(zone), primary, added: true });
        }
    }
    let published = Arc::new(NotifyAcl { current: ArcSwap::from_pointee(acl) });
    let tracker = Arc::new(Tracker { acl: published.clone(), pending: Mutex::new(Vec::new()) });
    let t = tracker.clone();
    // sd_acl_changed(kind, id, text, other, added): kind 'z' (zone id, name),
    // 'p' (primary id, ip, tsig_key, notify_requires_tsig), 'l' (zone id, zone
    // name, primary id).
    conn.create_scalar_function("sd_acl_changed", 6, FunctionFlags::SQLITE_UTF8, move |ctx| {
        let kind: String = ctx.get(0)?;
        let id: i64 = ctx.get(1)?;
        let text: String = ctx.get(2)?;
        let added = ctx.get::<i64>(5)? > 0;
        let change = match kind.as_str() {
            "z" => Change::Zone { id, name: Arc::from(text), added },
            "p" => Change::Primary {
                id,
                primary: added.then(|| AclPrimary {
                    id,
                    ip: parse_ip(&text),
                    tsig_key: ctx.get::<Option<String>>(3).ok().flatten(),
                    notify_requires_tsig: ctx.get::<i64>(4).is_ok_and(|v| v != 0),
                }),
            },
            _ => Change::Link { zone_id: id, zone: Arc::from(text), primary: ctx.get(3)?, added },
        };
        t.pending().push(change);
        Ok(0i64)
    })?;
    conn.execute_batch(
        "CREATE TEMP TRIGGER sd_acl_zone_added AFTER INSERT ON zones
         BEGIN SELECT sd_acl_changed('z', NEW.id, NEW.name, NULL, 0, 1); END;
         CREATE TEMP TRIGGER sd_acl_zone_removed AFTER DELETE ON zones
         BEGIN SELECT sd_acl_changed('z', OLD.id, OLD.name, NULL, 0, 0); END;
         CREATE TEMP TRIGGER sd_acl_primary_added AFTER INSERT ON primaries
         BEGIN SELECT sd_acl_changed('p', NEW.id, NEW.ip, NEW.tsig_key, NEW.notify_requires_tsig, 1); END;
         CREATE TEMP TRIGGER sd_acl_primary_changed AFTER UPDATE ON primaries
         BEGIN SELECT sd_acl_changed('p', NEW.id, NEW.ip, NEW.tsig_key, NEW.notify_requires_tsig, 1); END;
         CREATE TEMP TRIGGER sd_acl_primary_removed AFTER DELETE ON primaries
         BEGIN SELECT sd_acl_changed('p', OLD.id, OLD.ip, NULL, 0, 0); END;
         CREATE TEMP TRIGGER sd_acl_link_added AFTER INSERT ON zone_primaries
         BEGIN SELECT sd_acl_changed('l', NEW.zone_id, NEW.zone_name, NEW.primary_id, 0, 1); END;
         CREATE TEMP TRIGGER sd_acl_link_removed AFTER DELETE ON zone_primaries
         BEGIN SELECT sd_acl_changed('l', OLD.zone_id, OLD.zone_name, OLD.primary_id, 0, 0); END;",
    )?;
    Ok((published, tracker))
}
