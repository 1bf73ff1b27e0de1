//! A zone's own downstreams (`/zones/{zone}/downstreams`), as validated text:
//! the address or network, the key name and the NOTIFY target.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::StoreError;

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDownstream {
    pub address: String,
    pub tsig_key: Option<String>,
    pub notify: Option<String>,
}

/// Every zone's entries, by zone id (start-up).
pub fn all(conn: &Connection) -> Result<HashMap<i64, Vec<StoredDownstream>>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT zone_id, address, tsig_key, notify FROM zone_downstreams ORDER BY zone_id, position")?;
    let mut out: HashMap<i64, Vec<StoredDownstream>> = HashMap::new();
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, StoredDownstream { address: r.get(1)?, tsig_key: r.get(2)?, notify: r.get(3)? }))
    })?;
    for row in rows {
        let (zone, d) = row?;
        out.entry(zone).or_default().push(d);
    }
    Ok(out)
}

/// Replaces a zone's entries (an empty list removes them).
pub fn set(conn: &mut Connection, zone_id: i64, entries: &[StoredDownstream]) -> Result<(), StoreError> {
    let tx = super::write_tx(conn)?;
    tx.prepare_cached("DELETE FROM zone_downstreams WHERE zone_id = ?1")?.execute([zone_id])?;
    for (i, d) in entries.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO zone_downstreams (zone_id, position, address, tsig_key, notify) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![zone_id, i as i64, d.address, d.tsig_key, d.notify])?;
    }
    tx.prepare_cached("UPDATE zones SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![zone_id, super::now_secs()])?;
    tx.commit()?;
    Ok(())
}
