//! Secondary zones of an account. Names are unique across all accounts (one
//! server serves each name once).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{now_secs, Page, Sort, StoreError};

/// A secondary zone as stored, with its primaries in link order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub last_transferred_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub primaries: Vec<LinkedPrimary>,
    pub status: ZoneStatus,
    /// A catalog zone (RFC 9432) whose members become zones of the account.
    pub is_catalog: bool,
    /// The catalog zone that created this zone, and the member's `group`.
    pub member_of: Option<i64>,
    pub catalog_group: Option<String>,
}

/// The persisted refresh state of a zone: persisted timers are the truth, the
/// schedule is derived from them (see scheduler).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneStatus {
    /// The serial we hold; `None` until the first transfer.
    pub serial: Option<u32>,
    pub record_count: u64,
    /// SOA REFRESH, RETRY, EXPIRE, MINIMUM of the copy we hold.
    pub soa_timers: Option<[u32; 4]>,
    /// The newest serial a primary reported to us.
    pub primary_serial: Option<u32>,
    pub attempts: u64,
    pub last_attempt_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_primary: Option<String>,
    pub last_error: Option<String>,
    pub last_error_primary: Option<String>,
    pub last_error_at: Option<i64>,
    /// JSON text of the last transfer's summary.
    pub last_xfr: Option<String>,
    pub next_refresh_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub backoff: u32,
    pub expired: bool,
    /// The last NOTIFY accepted for the zone: source, SOA serial hint, time.
    pub last_notify: Option<(String, Option<u32>, i64)>,
}

/// A primary of a zone, as the zone sees it (in link order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedPrimary {
    pub id: i64,
    pub name: String,
    pub ip: String,
    pub port: u16,
    pub tsig_key: Option<String>,
    /// Unsigned NOTIFY from this primary is refused.
    pub notify_requires_tsig: bool,
}

const COLUMNS: &str = "id, account_id, name, last_transferred_at, created_at, updated_at, serial, record_count, \
    soa_refresh, soa_retry, soa_expire, soa_minimum, primary_serial, attempts, last_attempt_at, last_success_at, \
    last_primary, last_error, last_error_primary, last_error_at, last_xfr, next_refresh_at, expires_at, backoff, expired, \
    last_notify_from, last_notify_serial, last_notify_at, is_catalog, member_of, catalog_group";

fn from_row(row: &Row) -> rusqlite::Result<Zone> {
    Ok(Zone {
        id: row.get(0)?,
        account_id: row.get(1)?,
        name: row.get(2)?,
        last_transferred_at: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        primaries: Vec::new(),
        is_catalog: row.get(28)?,
        member_of: row.get(29)?,
        catalog_group: row.get(30)?,
        status: ZoneStatus {
            serial: row.get::<_, Option<i64>>(6)?.map(|s| s as u32),
            record_count: row.get::<_, i64>(7)? as u64,
            soa_timers: match (row.get::<_, Option<u32>>(8)?, row.get(9)?, row.get(10)?, row.get(11)?) {
                (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
                _ => None,
            },
            primary_serial: row.get::<_, Option<i64>>(12)?.map(|s| s as u32),
            attempts: row.get::<_, i64>(13)? as u64,
            last_attempt_at: row.get(14)?,
            last_success_at: row.get(15)?,
            last_primary: row.get(16)?,
            last_error: row.get(17)?,
            last_error_primary: row.get(18)?,
            last_error_at: row.get(19)?,
            last_xfr: row.get(20)?,
            next_refresh_at: row.get(21)?,
            expires_at: row.get(22)?,
            backoff: row.get(23)?,
            expired: row.get(24)?,
            last_notify: match (row.get::<_, Option<String>>(25)?, row.get::<_, Option<i64>>(26)?, row.get(27)?) {
                (Some(from), serial, Some(at)) => Some((from, serial.map(|s| s as u32), at)),
                _ => None,
            },
        },
    })
}

/// A zone's primaries, in order.
pub(super) const LINKED_PRIMARIES_SQL: &str = "SELECT p.id, p.name, p.ip, p.port, p.tsig_key, p.notify_requires_tsig
     FROM zone_primaries zp JOIN primaries p ON p.id = zp.primary_id WHERE zp.zone_id = ?1 ORDER BY zp.position";

fn with_primaries(conn: &Connection, mut z: Zone) -> Result<Zone, StoreError> {
    let mut stmt = conn.prepare_cached(LINKED_PRIMARIES_SQL)?;
    z.primaries = stmt
        .query_map([z.id], |r| {
            Ok(LinkedPrimary {
                id: r.get(0)?,
                name: r.get(1)?,
                ip: r.get(2)?,
                port: r.get(3)?,
                tsig_key: r.get(4)?,
                notify_requires_tsig: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(z)
}

/// Creates a zone; `name` must already be normalized (see `zone::name`).
pub fn create(conn: &mut Connection, account: i64, name: &str, is_catalog: bool) -> Result<Zone, StoreError> {
    create_linked(conn, account, name, is_catalog, &[])
}

/// [`create`], linked to `primaries` (ids or names of the account's primary
/// servers, in the order they are tried) in the same transaction: all or
/// nothing.
pub fn create_linked(
    conn: &mut Connection,
    account: i64,
    name: &str,
    is_catalog: bool,
    primaries: &[String],
) -> Result<Zone, StoreError> {
    let tx = super::write_tx(conn)?;
    let taken =
        tx.prepare_cached("SELECT 1 FROM zones WHERE name = ?1")?.query_row([name], |_| Ok(())).optional()?.is_some();
    if taken {
        return Err(StoreError::Invalid {
            field: "name",
            message: format!("has already been taken: zone `{name}` exists"),
        });
    }
    let now = now_secs();
    tx.prepare_cached(
        "INSERT INTO zones (account_id, name, created_at, updated_at, is_catalog) VALUES (?1, ?2, ?3, ?3, ?4)",
    )?
    .execute(params![account, name, now, is_catalog])?;
    let id = tx.last_insert_rowid();
    let mut linked = Vec::with_capacity(primaries.len());
    for key in primaries {
        let p = super::primaries::get_bare(&tx, account, key).map_err(|e| match e {
            StoreError::NotFound { .. } => {
                StoreError::Invalid { field: "primaries", message: format!("primary server `{key}` not found") }
            }
            e => e,
        })?;
        if linked.contains(&p.id) {
            return Err(StoreError::Invalid {
                field: "primaries",
                message: format!("primary server `{key}` is listed twice"),
            });
        }
        linked.push(p.id);
        tx.prepare_cached(
            "INSERT INTO zone_primaries (zone_id, primary_id, position, zone_name) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, p.id, linked.len() as i64, name])?;
    }
    let z = tx.prepare_cached(&format!("SELECT {COLUMNS} FROM zones WHERE id = ?1"))?.query_row([id], from_row)?;
    let z = if primaries.is_empty() { z } else { with_primaries(&tx, z)? };
    tx.commit()?;
    Ok(z)
}

/// Finds a zone of the account by (normalized) name, or by numeric id.
pub fn get(conn: &Connection, account: i64, key: &str) -> Result<Zone, StoreError> {
    // Prepared once per connection: the column list alone takes SQLite
    // longer to parse than the look-up takes to run.
    let by_name = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM zones WHERE account_id = ?1 AND name = ?2"))?
        .query_row(params![account, key], from_row)
        .optional()?;
    let found = match (by_name, key.parse::<i64>()) {
        (Some(z), _) => Some(z),
        (None, Ok(id)) => conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM zones WHERE account_id = ?1 AND id = ?2"))?
            .query_row(params![account, id], from_row)
            .optional()?,
        (None, Err(_)) => None,
    };
    let z = found.ok_or_else(|| StoreError::NotFound { kind: "Zone", id: key.to_string() })?;
    with_primaries(conn, z)
}

/// Every zone's id with its status, for the start-up replan.
pub fn all_status(conn: &Connection) -> Result<Vec<(i64, ZoneStatus)>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM zones ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?.map(|z| z.map(|z| (z.id, z.status))).collect::<Result<_, _>>()?;
    Ok(rows)
}

/// What the metrics endpoint shows of a zone (`crate::metrics`).
#[derive(Debug, Clone)]
pub struct ZoneGauges {
    pub id: i64,
    pub name: String,
    pub serial: Option<u32>,
    pub expired: bool,
    /// The last attempt failed (`last_error` is set).
    pub failed: bool,
    pub last_success_at: Option<i64>,
    pub expires_at: Option<i64>,
}

/// Every zone's [`ZoneGauges`], by name: one short row each.
pub fn all_gauges(conn: &Connection) -> Result<Vec<ZoneGauges>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, serial, expired, last_error IS NOT NULL, last_success_at, expires_at FROM zones ORDER BY name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ZoneGauges {
                id: r.get(0)?,
                name: r.get(1)?,
                serial: r.get::<_, Option<i64>>(2)?.map(|s| s as u32),
                expired: r.get(3)?,
                failed: r.get(4)?,
                last_success_at: r.get(5)?,
                expires_at: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Every zone's id and name (the serving map at start-up).
pub fn all_names(conn: &Connection) -> Result<std::collections::HashMap<i64, String>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, name FROM zones")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The ids and names of one account's zones.
pub fn ids_of_account(conn: &Connection, account: i64) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, name FROM zones WHERE account_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([account], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A zone by id alone (the zone handler's view), with its primaries.
pub fn by_id(conn: &Connection, id: i64) -> Result<Zone, StoreError> {
    with_primaries(conn, by_id_without_primaries(conn, id)?)
}

/// A zone by id, its `primaries` left empty: the status after a refresh
/// (one query, where [`by_id`] takes two).
pub fn by_id_without_primaries(conn: &Connection, id: i64) -> Result<Zone, StoreError> {
    // Cached statements: these run on the NOTIFY → refresh path.
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM zones WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound { kind: "Zone", id: id.to_string() })
}

/// A zone by name in any account (NOTIFY does not know accounts).
pub fn by_name(conn: &Connection, name: &str) -> Result<Option<Zone>, StoreError> {
    let z = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM zones WHERE name = ?1"))?
        .query_row([name], from_row)
        .optional()?;
    z.map(|z| with_primaries(conn, z)).transpose()
}

/// Records an accepted NOTIFY.
pub fn record_notify(conn: &Connection, id: i64, from: &str, serial: Option<u32>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE zones SET last_notify_from = ?2, last_notify_serial = ?3, last_notify_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, from, serial, super::now_secs()])?;
    Ok(())
}

/// The zone states a list can be filtered on (`refreshing` is live, not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    Ok,
    Bootstrapping,
    Retrying,
    Expired,
}

impl StateFilter {
    fn sql(self) -> &'static str {
        match self {
            StateFilter::Ok => "serial IS NOT NULL AND expired = 0 AND last_error IS NULL",
            StateFilter::Bootstrapping => "serial IS NULL",
            StateFilter::Retrying => "serial IS NOT NULL AND expired = 0 AND last_error IS NOT NULL",
            StateFilter::Expired => "expired = 1",
        }
    }
}

/// Lists an account's zones; `name_like` filters on a substring of the name.
pub fn list(
    conn: &Connection,
    account: i64,
    name_like: Option<&str>,
    state: Option<StateFilter>,
    sort: Sort,
    page: Page,
) -> Result<(Vec<Zone>, u64), StoreError> {
    let pattern = name_like.map(|s| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let filter = format!(
        "account_id = ?1 AND (?2 IS NULL OR name LIKE ?2 ESCAPE '\\') AND ({})",
        state.map(StateFilter::sql).unwrap_or("1")
    );
    let total: i64 =
        conn.query_row(&format!("SELECT count(*) FROM zones WHERE {filter}"), params![account, pattern], |r| r.get(0))?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM zones WHERE {filter} ORDER BY {} LIMIT ?3 OFFSET ?4",
        sort.order_by()
    ))?;
    let rows: Vec<Zone> =
        stmt.query_map(params![account, pattern, page.per_page, page.offset()], from_row)?.collect::<Result<_, _>>()?;
    let items = rows.into_iter().map(|z| with_primaries(conn, z)).collect::<Result<_, _>>()?;
    Ok((items, total as u64))
}

/// Deletes a zone with its data; a catalog zone takes its member zones with
/// it (returned too, to be unserved).
pub fn delete(conn: &mut Connection, account: i64, key: &str) -> Result<(Zone, Vec<(i64, String)>), StoreError> {
    let tx = super::write_tx(conn)?;
    let z = get(&tx, account, key)?;
    let members: Vec<(i64, String)> = members_of(&tx, z.id)?.into_iter().map(|(id, name, _)| (id, name)).collect();
    for id in members.iter().map(|(id, _)| *id).chain(std::iter::once(z.id)) {
        tx.prepare_cached("DELETE FROM zones WHERE id = ?1")?.execute([id])?;
        super::zonedata::drop_tables(&tx, id)?;
    }
    tx.commit()?;
    Ok((z, members))
}

/// The member zones of `catalog`: (id, name, group), in id order.
fn members_of(conn: &Connection, catalog: i64) -> Result<Vec<(i64, String, Option<String>)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, name, catalog_group FROM zones WHERE member_of = ?1 ORDER BY id")?;
    let rows = stmt.query_map([catalog], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// What [`reconcile_members`] did, and what it left to [`create_members`].
#[derive(Debug, Default)]
pub struct Reconciled {
    /// Members no longer listed, deleted: (id, name).
    pub deleted: Vec<(i64, String)>,
    /// New members: (name, group).
    pub to_create: Vec<(String, Option<String>)>,
}

/// What [`create_members`] did.
#[derive(Debug, Default)]
pub struct Created {
    pub created: Vec<(i64, String)>,
    /// Members not created: (name, why).
    pub skipped: Vec<(String, String)>,
}

/// Makes the zones created by catalog zone `catalog` the `members` it lists
/// now (normalized names, each with its `group`): members gone are deleted
/// with their data, groups are updated, and the new members are returned in
/// `to_create`, for [`create_members`] to create in transactions of a few
/// hundred, so that the first of 10,000 new members is transferring while the
/// rest are being created. One transaction.
pub fn reconcile_members(
    conn: &mut Connection,
    catalog: i64,
    members: &[(String, Option<String>)],
) -> Result<Reconciled, StoreError> {
    let tx = super::write_tx(conn)?;
    let current = members_of(&tx, catalog)?;
    // By name, so that a catalog of 10,000 members costs 10,000 lookups, not
    // 10,000 scans.
    let by_name: std::collections::HashMap<&str, (i64, Option<&str>)> =
        current.iter().map(|(id, name, group)| (name.as_str(), (*id, group.as_deref()))).collect();
    let listed: std::collections::HashSet<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
    let mut out = Reconciled::default();
    for (name, group) in members {
        match by_name.get(name.as_str()) {
            Some(&(id, stored)) => {
                if stored != group.as_deref() {
                    tx.prepare_cached("UPDATE zones SET catalog_group = ?2 WHERE id = ?1")?
                        .execute(params![id, group])?;
                }
            }
            None => out.to_create.push((name.clone(), group.clone())),
        }
    }
    for (id, name, _) in &current {
        if !listed.contains(name.as_str()) {
            tx.prepare_cached("DELETE FROM zones WHERE id = ?1")?.execute([id])?;
            super::zonedata::drop_tables(&tx, *id)?;
            out.deleted.push((*id, name.clone()));
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Creates `members` of catalog zone `catalog` (from
/// [`Reconciled::to_create`]) as zones of the catalog's account, linked to
/// its primaries in their order; a zone of the same name that exists already
/// (created by hand or by another catalog) is never taken over, only listed
/// in `skipped`. One transaction; its only failure before its first change
/// is the catalog's lookup (it runs as [`super::Store::call_checked`]).
pub fn create_members(
    conn: &mut Connection,
    catalog: i64,
    members: &[(String, Option<String>)],
) -> Result<Created, StoreError> {
    let tx = super::write_tx(conn)?;
    let cat = by_id(&tx, catalog)?;
    let mut out = Created::default();
    let now = now_secs();
    for (name, group) in members {
        let owner: Option<Option<i64>> = tx
            .prepare_cached("SELECT member_of FROM zones WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        if let Some(owner) = owner {
            // Created by this catalog meanwhile (twice in the list is taken once).
            if owner != Some(catalog) {
                out.skipped.push((name.clone(), "a zone of this name exists already and is not this catalog's".into()));
            }
            continue;
        }
        tx.prepare_cached(
            "INSERT INTO zones (account_id, name, created_at, updated_at, member_of, catalog_group)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
        )?
        .execute(params![cat.account_id, name, now, catalog, group])?;
        let id = tx.last_insert_rowid();
        for (position, p) in cat.primaries.iter().enumerate() {
            tx.prepare_cached(
                "INSERT INTO zone_primaries (zone_id, primary_id, position, zone_name) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, p.id, position as i64 + 1, name])?;
        }
        out.created.push((id, name.clone()));
    }
    tx.commit()?;
    Ok(out)
}

/// The catalog zones we consume: (id, name).
pub fn consumed_catalogs(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, name FROM zones WHERE is_catalog = 1")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    Ok(rows)
}
