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
    // 2: zone data, the refresh state, and the IXFR journal.
    //
    // Records of small zones live in `zone_records`; a large zone has its own
    // table per version, `records_<zone id>_<version>`, named by
    // `zones.version` (0 = the shared table; see store::zonedata). Readers see
    // the old or the new zone, never a mix.
    r#"
    ALTER TABLE zones ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE zones ADD COLUMN serial INTEGER;
    ALTER TABLE zones ADD COLUMN record_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE zones ADD COLUMN soa_refresh INTEGER;
    ALTER TABLE zones ADD COLUMN soa_retry INTEGER;
    ALTER TABLE zones ADD COLUMN soa_expire INTEGER;
    ALTER TABLE zones ADD COLUMN soa_minimum INTEGER;
    ALTER TABLE zones ADD COLUMN primary_serial INTEGER;
    ALTER TABLE zones ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE zones ADD COLUMN last_attempt_at INTEGER;
    ALTER TABLE zones ADD COLUMN last_success_at INTEGER;
    ALTER TABLE zones ADD COLUMN last_primary TEXT;
    ALTER TABLE zones ADD COLUMN last_error TEXT;
    ALTER TABLE zones ADD COLUMN last_error_primary TEXT;
    ALTER TABLE zones ADD COLUMN last_error_at INTEGER;
    ALTER TABLE zones ADD COLUMN last_xfr TEXT;
    ALTER TABLE zones ADD COLUMN next_refresh_at INTEGER;
    ALTER TABLE zones ADD COLUMN expires_at INTEGER;
    ALTER TABLE zones ADD COLUMN backoff INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE zones ADD COLUMN expired INTEGER NOT NULL DEFAULT 0;

    CREATE TABLE zone_records (
        id       INTEGER PRIMARY KEY,
        zone_id  INTEGER NOT NULL,
        rkey     INTEGER NOT NULL,
        owner    TEXT NOT NULL,
        rtype    INTEGER NOT NULL,
        class    INTEGER NOT NULL,
        ttl      INTEGER NOT NULL,
        rdata    BLOB NOT NULL
    );
    CREATE INDEX zone_records_key ON zone_records (zone_id, rkey);

    CREATE TABLE zone_journal (
        id           INTEGER PRIMARY KEY,
        zone_id      INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
        serial_from  INTEGER NOT NULL,
        serial_to    INTEGER NOT NULL,
        deleted      INTEGER NOT NULL,
        added        INTEGER NOT NULL,
        diff         BLOB NOT NULL,
        created_at   INTEGER NOT NULL
    );
    CREATE INDEX zone_journal_zone ON zone_journal (zone_id, id);
    "#,
    // 3: NOTIFY: per-primary "signed NOTIFY only", and the last NOTIFY per zone.
    r#"
    ALTER TABLE primaries ADD COLUMN notify_requires_tsig INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE zones ADD COLUMN last_notify_from TEXT;
    ALTER TABLE zones ADD COLUMN last_notify_serial INTEGER;
    ALTER TABLE zones ADD COLUMN last_notify_at INTEGER;
    "#,
    // 4: nameserver sets, custom (vanity) nameservers with their addresses, and
    // the nameservers a zone publishes instead of its primary's apex NS.
    //
    // A zone's `zone_ns_config` rows are its `ns_names` (set_id NULL) and its
    // `ns_set_ids` (ns_name NULL) in `position` order; no rows = the primary's NS.
    // Sets are never deleted while nameservers or zones refer to them (checked
    // with a message by the store; the foreign keys are the backstop).
    r#"
    CREATE TABLE nameserver_sets (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id    INTEGER NOT NULL,
        name          TEXT NOT NULL,
        hostmaster    TEXT,
        ns_ttl        INTEGER NOT NULL CHECK (ns_ttl BETWEEN 0 AND 2147483647),
        ip_ttl        INTEGER NOT NULL CHECK (ip_ttl BETWEEN 0 AND 2147483647),
        external_ref  TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        UNIQUE (account_id, name)
    );
    CREATE TABLE nameservers (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id  INTEGER NOT NULL,
        set_id      INTEGER NOT NULL REFERENCES nameserver_sets (id),
        ns_name     TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        UNIQUE (account_id, ns_name)
    );
    CREATE INDEX nameservers_set ON nameservers (set_id, id);
    CREATE TABLE nameserver_addresses (
        nameserver_id  INTEGER NOT NULL REFERENCES nameservers (id) ON DELETE CASCADE,
        position       INTEGER NOT NULL,
        rtype          TEXT NOT NULL CHECK (rtype IN ('A', 'AAAA')),
        address        TEXT NOT NULL,
        PRIMARY KEY (nameserver_id, position)
    );
    CREATE TABLE zone_ns_config (
        zone_id   INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        ns_name   TEXT,
        set_id    INTEGER REFERENCES nameserver_sets (id),
        PRIMARY KEY (zone_id, position),
        CHECK ((ns_name IS NULL) <> (set_id IS NULL))
    );
    CREATE INDEX zone_ns_config_set ON zone_ns_config (set_id) WHERE set_id IS NOT NULL;
    "#,
    // 5: the journal's step sizes in a covering index, so keeping the journal
    // within its bounds after each IXFR reads neither the steps nor the table.
    r#"
    ALTER TABLE zone_journal ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
    UPDATE zone_journal SET bytes = length(diff);
    DROP INDEX zone_journal_zone;
    CREATE INDEX zone_journal_zone ON zone_journal (zone_id, id, bytes);
    "#,
    // 6: the serial of the catalog zone of our zones (its members are the
    // zones table itself).
    r#"
    CREATE TABLE catalogs (
        name    TEXT PRIMARY KEY,
        serial  INTEGER NOT NULL
    );
    "#,
    // 7: catalog zones we consume (RFC 9432): the flag, and for each member
    // zone the catalog that created it and its `group` property.
    r#"
    ALTER TABLE zones ADD COLUMN is_catalog INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE zones ADD COLUMN member_of INTEGER REFERENCES zones (id) ON DELETE SET NULL;
    ALTER TABLE zones ADD COLUMN catalog_group TEXT;
    CREATE INDEX zones_member_of ON zones (member_of) WHERE member_of IS NOT NULL;
    "#,
    // 8: a zone's own downstreams (beside the config's [[downstream]]).
    r#"
    CREATE TABLE zone_downstreams (
        zone_id   INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        address   TEXT NOT NULL,
        tsig_key  TEXT,
        notify    TEXT,
        PRIMARY KEY (zone_id, position)
    );
    "#,
    // 9: a link carries its zone's name (zone names never change), so the
    // zones linked to a primary are one range of a covering index, in name
    // order, without a join or a sort (store::links builds its index from it).
    r#"
    ALTER TABLE zone_primaries ADD COLUMN zone_name TEXT NOT NULL DEFAULT '';
    UPDATE zone_primaries SET zone_name = (SELECT name FROM zones WHERE zones.id = zone_primaries.zone_id);
    DROP INDEX zone_primaries_primary;
    CREATE INDEX zone_primaries_by_primary ON zone_primaries (primary_id, zone_name);
    "#,
    // 10: an IXFR the serving view checked commits to the journal only; the
    // zone's records table catches up after the new version is served
    // (store::zonedata::append_diffs). The first journal step it lacks.
    r#"
    ALTER TABLE zones ADD COLUMN fold_from INTEGER;
    "#,
    // 11: a small zone's records in one row (store::zonedata::PACKED_ZONE):
    // a full load of a few dozen records writes one row, not a row and an
    // index entry per record. Zones loaded before stay in `zone_records`
    // until their next full transfer.
    r#"
    CREATE TABLE zone_packed (
        zone_id  INTEGER PRIMARY KEY,
        records  BLOB NOT NULL
    );
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
