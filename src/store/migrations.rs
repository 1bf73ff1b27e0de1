//! Schema migrations, applied in order at open; `PRAGMA user_version` records
//! how many have run. Append new steps; never edit a step that has shipped.

use rusqlite::Connection;

use super::StoreError;

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: accounts' primary servers, secondary zones and the ordered links between them.
    r#"
    CREATE TABLE primaries (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id  INTEGER NOT NULL,
        name        TEXT NOT NULL,
        ip          TEXT NOT NULL,
        port        INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        tsig_key    TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        UNIQUE (account_id, name)
    );
    CREATE TABLE zones (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id          INTEGER NOT NULL,
        name                TEXT NOT NULL UNIQUE,
        last_transferred_at INTEGER,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
    );
    CREATE INDEX zones_account ON zones (account_id, name);
    CREATE TABLE zone_primaries (
        zone_id     INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
        primary_id  INTEGER NOT NULL REFERENCES primaries (id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        PRIMARY KEY (zone_id, primary_id)
    );
    CREATE INDEX zone_primaries_primary ON zone_primaries (primary_id);
    "#,
];

/// The schema version this build writes.
pub const CURRENT: u32 = MIGRATIONS.len() as u32;

pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > CURRENT {
        return Err(StoreError::Setup(format!(
            "the database has schema version {version}, newer than this secondaryd understands ({CURRENT}); \
             run a newer secondaryd or restore a backup"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "store schema migrated");
    }
    Ok(())
}
