//! Primary servers of an account and their links to secondary zones.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::links;
use super::{now_secs, Page, Sort, StoreError};
use crate::model::ZoneNames;

/// A primary server as stored, with the names of the zones linked to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primary {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub ip: String,
    pub port: u16,
    pub tsig_key: Option<String>,
    pub notify_requires_tsig: bool,
    pub linked_zones: ZoneNames,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The validated fields of a new primary.
#[derive(Debug, Clone)]
pub struct NewPrimary {
    pub name: String,
    pub ip: String,
    pub port: u16,
    pub tsig_key: Option<String>,
    pub notify_requires_tsig: bool,
}

const COLUMNS: &str = "id, account_id, name, ip, port, tsig_key, created_at, updated_at, notify_requires_tsig";

fn from_row(row: &Row) -> rusqlite::Result<Primary> {
    Ok(Primary {
        id: row.get(0)?,
        account_id: row.get(1)?,
        name: row.get(2)?,
        ip: row.get(3)?,
        port: row.get(4)?,
        tsig_key: row.get(5)?,
        notify_requires_tsig: row.get(8)?,
        linked_zones: ZoneNames::default(),
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

fn with_links(mut p: Primary) -> Result<Primary, StoreError> {
    p.linked_zones = links::linked_zones(p.id)?;
    Ok(p)
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound { kind: "Primary server", id: id.to_string() }
}

pub fn create(conn: &mut Connection, account: i64, new: NewPrimary) -> Result<Primary, StoreError> {
    let tx = super::write_tx(conn)?;
    let taken: bool = tx
        .prepare_cached("SELECT 1 FROM primaries WHERE account_id = ?1 AND name = ?2")?
        .query_row(params![account, new.name], |_| Ok(()))
        .optional()?
        .is_some();
    if taken {
        return Err(StoreError::Invalid {
            field: "name",
            message: format!("has already been taken: this account already has a primary server named `{}`", new.name),
        });
    }
    let now = now_secs();
    tx.prepare_cached(
        "INSERT INTO primaries (account_id, name, ip, port, tsig_key, notify_requires_tsig, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![account, new.name, new.ip, new.port, new.tsig_key, new.notify_requires_tsig, now])?;
    let id = tx.last_insert_rowid();
    let p = get_by_id(&tx, account, id)?;
    tx.commit()?;
    Ok(p)
}

/// A primary by id or, when `key` is not a number, by name (what
/// `secondaryctl` lets people type), without its links.
pub(super) fn get_bare(conn: &Connection, account: i64, key: &str) -> Result<Primary, StoreError> {
    let found = match key.parse::<i64>() {
        Ok(id) => conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM primaries WHERE account_id = ?1 AND id = ?2"))?
            .query_row(params![account, id], from_row)
            .optional()?,
        Err(_) => conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM primaries WHERE account_id = ?1 AND name = ?2"))?
            .query_row(params![account, key], from_row)
            .optional()?,
    };
    found.ok_or_else(|| not_found(key))
}

fn get_by_id(conn: &Connection, account: i64, id: i64) -> Result<Primary, StoreError> {
    with_links(get_bare(conn, account, &id.to_string())?)
}

/// Finds a primary by id or, when `key` is not a number, by name.
pub fn get(conn: &Connection, account: i64, key: &str) -> Result<Primary, StoreError> {
    with_links(get_bare(conn, account, key)?)
}

pub fn list(conn: &Connection, account: i64, sort: Sort, page: Page) -> Result<(Vec<Primary>, u64), StoreError> {
    let total: i64 = conn
        .prepare_cached("SELECT count(*) FROM primaries WHERE account_id = ?1")?
        .query_row([account], |r| r.get(0))?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM primaries WHERE account_id = ?1 ORDER BY {} LIMIT ?2 OFFSET ?3",
        sort.order_by()
    ))?;
    let rows: Vec<Primary> =
        stmt.query_map(params![account, page.per_page, page.offset()], from_row)?.collect::<Result<_, _>>()?;
    let items = rows.into_iter().map(with_links).collect::<Result<_, _>>()?;
    Ok((items, total as u64))
}

/// Deletes a primary; its links go with it (the zones stay).
pub fn delete(conn: &mut Connection, account: i64, key: &str) -> Result<Primary, StoreError> {
    let tx = super::write_tx(conn)?;
    let p = get(&tx, account, key)?;
    tx.prepare_cached("DELETE FROM primaries WHERE id = ?1")?.execute([p.id])?;
    tx.commit()?;
    Ok(p)
}

fn zone_of_account(conn: &Connection, account: i64, zone: &str) -> Result<i64, StoreError> {
    let found: Option<(i64, i64)> = conn
        .prepare_cached("SELECT id, account_id FROM zones WHERE name = ?1")?
        .query_row([zone], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match found {
        Some((id, owner)) if owner == account => Ok(id),
        _ => Err(StoreError::Invalid {
            field: "zone",
            message: format!("`{zone}` is not a secondary zone of account {account}"),
        }),
    }
}

/// The link, after the zone's other primaries.
pub(super) const LINK_SQL: &str = "INSERT INTO zone_primaries (zone_id, primary_id, position, zone_name)
     VALUES (?1, ?2, (SELECT coalesce(max(position), 0) + 1 FROM zone_primaries WHERE zone_id = ?1), ?3)";

/// Links a zone to a primary, after the zone's existing primaries; returns
/// the primary and the zone's id.
pub fn link(conn: &mut Connection, account: i64, key: &str, zone: &str) -> Result<(Primary, i64), StoreError> {
    let tx = super::write_tx(conn)?;
    let p = get_bare(&tx, account, key)?;
    let zone_id = zone_of_account(&tx, account, zone)?;
    let linked = tx
        .prepare_cached("SELECT 1 FROM zone_primaries WHERE zone_id = ?1 AND primary_id = ?2")?
        .exists(params![zone_id, p.id])?;
    if linked {
        return Err(StoreError::Invalid {
            field: "zone",
            message: format!("`{zone}` is already linked to primary server `{}`", p.name),
        });
    }
    tx.prepare_cached(LINK_SQL)?.execute(params![zone_id, p.id, zone])?;
    tx.prepare_cached("UPDATE zones SET updated_at = ?2 WHERE id = ?1")?.execute(params![zone_id, now_secs()])?;
    tx.commit()?;
    Ok((with_links(p)?, zone_id))
}

pub fn unlink(conn: &mut Connection, account: i64, key: &str, zone: &str) -> Result<Primary, StoreError> {
    let tx = super::write_tx(conn)?;
    let p = get_bare(&tx, account, key)?;
    let zone_id = zone_of_account(&tx, account, zone)?;
    let removed = tx
        .prepare_cached("DELETE FROM zone_primaries WHERE zone_id = ?1 AND primary_id = ?2")?
        .execute(params![zone_id, p.id])?;
    if removed == 0 {
        return Err(StoreError::Invalid {
            field: "zone",
            message: format!("`{zone}` is not linked to primary server `{}`", p.name),
        });
    }
    tx.prepare_cached("UPDATE zones SET updated_at = ?2 WHERE id = ?1")?.execute(params![zone_id, now_secs()])?;
    tx.commit()?;
    with_links(p)
}
