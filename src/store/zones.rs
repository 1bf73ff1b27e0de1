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
}

/// A primary of a zone, as the zone sees it (in link order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedPrimary {
    pub id: i64,
    pub name: String,
    pub ip: String,
    pub port: u16,
    pub tsig_key: Option<String>,
}

const COLUMNS: &str = "id, account_id, name, last_transferred_at, created_at, updated_at";

fn from_row(row: &Row) -> rusqlite::Result<Zone> {
    Ok(Zone {
        id: row.get(0)?,
        account_id: row.get(1)?,
        name: row.get(2)?,
        last_transferred_at: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        primaries: Vec::new(),
    })
}

fn with_primaries(conn: &Connection, mut z: Zone) -> Result<Zone, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, p.name, p.ip, p.port, p.tsig_key FROM zone_primaries zp JOIN primaries p ON p.id = zp.primary_id
         WHERE zp.zone_id = ?1 ORDER BY zp.position",
    )?;
    z.primaries = stmt
        .query_map([z.id], |r| {
            Ok(LinkedPrimary { id: r.get(0)?, name: r.get(1)?, ip: r.get(2)?, port: r.get(3)?, tsig_key: r.get(4)? })
        })?
        .collect::<Result<_, _>>()?;
    Ok(z)
}

/// Creates a zone; `name` must already be normalized (see `zone::name`).
pub fn create(conn: &mut Connection, account: i64, name: &str) -> Result<Zone, StoreError> {
    let tx = conn.transaction()?;
    let taken = tx.query_row("SELECT 1 FROM zones WHERE name = ?1", [name], |_| Ok(())).optional()?.is_some();
    if taken {
        return Err(StoreError::Invalid {
            field: "name",
            message: format!("has already been taken: zone `{name}` exists"),
        });
    }
    let now = now_secs();
    tx.execute(
        "INSERT INTO zones (account_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        params![account, name, now],
    )?;
    let id = tx.last_insert_rowid();
    let z = tx.query_row(&format!("SELECT {COLUMNS} FROM zones WHERE id = ?1"), [id], from_row)?;
    tx.commit()?;
    Ok(z)
}

/// Finds a zone of the account by (normalized) name, or by numeric id.
pub fn get(conn: &Connection, account: i64, key: &str) -> Result<Zone, StoreError> {
    let by_name = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM zones WHERE account_id = ?1 AND name = ?2"),
            params![account, key],
            from_row,
        )
        .optional()?;
    let found = match (by_name, key.parse::<i64>()) {
        (Some(z), _) => Some(z),
        (None, Ok(id)) => conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM zones WHERE account_id = ?1 AND id = ?2"),
                params![account, id],
                from_row,
            )
            .optional()?,
        (None, Err(_)) => None,
    };
    let z = found.ok_or_else(|| StoreError::NotFound { kind: "Zone", id: key.to_string() })?;
    with_primaries(conn, z)
}

/// Lists an account's zones; `name_like` filters on a substring of the name.
pub fn list(
    conn: &Connection,
    account: i64,
    name_like: Option<&str>,
    sort: Sort,
    page: Page,
) -> Result<(Vec<Zone>, u64), StoreError> {
    let pattern = name_like.map(|s| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let filter = "account_id = ?1 AND (?2 IS NULL OR name LIKE ?2 ESCAPE '\\')";
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

/// Deletes a zone with its links (and, once transfers exist, its data).
pub fn delete(conn: &mut Connection, account: i64, key: &str) -> Result<Zone, StoreError> {
    let tx = conn.transaction()?;
    let z = get(&tx, account, key)?;
    tx.execute("DELETE FROM zones WHERE id = ?1", [z.id])?;
    tx.commit()?;
    Ok(z)
}
