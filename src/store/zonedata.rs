//! Zone contents in versions, and the refresh state of each zone.
//!
//! A zone of at most [`PACKED_ZONE`] records (most zones: a few dozen) is one
//! row of `zone_packed`, its records in one blob: a full transfer of it writes
//! one row, not a row and an index entry per record ([`replace_small`]).
//! Other small zones (up to [`LARGE_ZONE`] records) live together in
//! `zone_records`, a row per record; a full transfer of one replaces its rows
//! in one transaction. Creating a table per small zone would not scale: every
//! schema change makes SQLite re-read the whole schema, and with 10,000 zones
//! that is most of the time spent.
//!
//! A large zone has a table per version, `records_<zone>_<version>`;
//! `zones.version` names the current one (0 = the shared table). Its full
//! transfer creates the next version's table and fills it in batches, each its
//! own transaction (so the API keeps answering during a large transfer, and the
//! inserts go without index maintenance), then [`commit_full`] makes it current
//! in one small transaction, and [`finish_full`] indexes it in one sorted pass
//! and drops the old table in bounded steps, other writes going between them.
//!
//! An incremental transfer (IXFR) that the serving view has checked and taken
//! commits to the journal alone ([`append_diffs`]: a few pages, whatever the
//! zone's size), and the table catches up once the new version is served
//! ([`fold_journal`]; `zones.fold_from` marks a table behind its journal, and
//! every reader of the table folds first). One the view could not check is
//! applied to the table and journaled in one transaction ([`apply_diffs`]).
//! Either way the cost follows the diff (for a packed zone, its blob is
//! rewritten: at most about 50 KB). A transfer
//! that fails leaves the current version untouched; [`discard`] drops what it
//! wrote. Records keep their wire-format RDATA: no text round trip, no loss.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::{now_secs, StoreError};
use crate::wire::Record;

/// A record as stored and read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub id: i64,
    /// Absolute owner name in presentation form, case as received.
    pub owner: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

/// One IXFR step: records to delete, then records to add (RFC 1995 §4).
#[derive(Debug, Clone, Default)]
pub struct Diff {
    pub from: u32,
    pub to: u32,
    pub deleted: Vec<Record>,
    pub added: Vec<Record>,
}

/// What a successful transfer leaves in the zone's row.
#[derive(Debug, Clone)]
pub struct Committed {
    pub serial: u32,
    /// REFRESH, RETRY, EXPIRE, MINIMUM of the new SOA.
    pub soa: [u32; 4],
    /// Display name and address of the primary, for the status.
    pub primary: String,
    /// The primary the version came from: the commit happens only while it is
    /// still linked to the zone ([`linked_version`]).
    pub primary_id: i64,
    /// The `last_transfer` object of the status, as JSON text.
    pub summary_json: String,
}

/// A stable 64-bit key of a record's identity (owner case-folded, type, class,
/// RDATA in canonical form, `wire::canonical_rdata`), persisted and indexed to
/// find the row an IXFR deletes and the copies of a duplicate. FNV-1a: it must
/// never change between builds, unlike std's hasher. (Before RDATA was
/// canonical here, a record with upper case in the names of its RDATA was
/// keyed on them as received: [`legacy_key`] finds such rows.)
pub fn record_key(r: &Record) -> i64 {
    key_of(r, &crate::wire::canonical_rdata(r.rtype, &r.rdata))
}

/// The key rows stored before [`record_key`] was canonical have.
pub(super) fn legacy_key(r: &Record) -> i64 {
    key_of(r, &r.rdata)
}

fn key_of(r: &Record, rdata: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for &b in r.owner.as_wire() {
        eat(b.to_ascii_lowercase());
    }
    for b in r.rtype.to_be_bytes().into_iter().chain(r.class.to_be_bytes()) {
        eat(b);
    }
    for &b in rdata {
        eat(b);
    }
    h as i64
}

/// The records without duplicates (RFC 2181 §5: the same record twice is one
/// record, [`Record::same_record`]): the first copy of each stays, TTL and all.
pub fn without_duplicates(records: &[Record]) -> Vec<&Record> {
    let keep = first_copies(records, record_key, |r| r);
    records.iter().zip(keep).filter_map(|(r, keep)| keep.then_some(r)).collect()
}

/// Which of `items` are the first copy of their record (false for a later one).
fn first_copies<T>(items: &[T], key: impl Fn(&T) -> i64, record: impl Fn(&T) -> &Record) -> Vec<bool> {
    let mut seen: HashMap<i64, Vec<usize>> = HashMap::with_capacity(items.len());
    let mut keep = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let kept = seen.entry(key(item)).or_default();
        let copy = kept.iter().any(|&k| record(&items[k]).same_record(record(item)));
        if !copy {
            kept.push(i);
        }
        keep.push(!copy);
    }
    keep
}

/// A record made ready for its INSERT where it arrived (a transfer's task):
/// its [`record_key`] and owner text computed there, not on the writer
/// thread, which every change of every zone waits for (they were a tenth of
/// its work while 10,000 small zones loaded, and a large load computed each
/// key twice).
#[derive(Debug, Clone)]
pub struct Row {
    pub key: i64,
    owner: String,
    pub record: Record,
}

impl Row {
    pub fn new(record: Record) -> Row {
        Row { key: record_key(&record), owner: record.owner.to_string(), record }
    }

    /// A row of a small load, keyed but without its owner text: a packed
    /// zone needs none, and [`SmallLoad::new`] writes it for rows (as
    /// [`Row::with_owner`] does).
    pub fn keyed(record: Record) -> Row {
        Row { key: record_key(&record), owner: String::new(), record }
    }

    /// The row with its owner text (a name's text is never empty).
    pub fn with_owner(mut self) -> Row {
        if self.owner.is_empty() {
            self.owner = self.record.owner.to_string();
        }
        self
    }

    /// Rows of copies of `records`.
    pub fn all(records: &[Record]) -> Vec<Row> {
        records.iter().cloned().map(Row::new).collect()
    }
}

/// A full load's rows without duplicates (RFC 2181 §5, as
/// [`without_duplicates`]), made ready off the writer thread.
#[derive(Debug)]
pub struct Rows(Vec<Row>);

impl Rows {
    pub fn unique(rows: Vec<Row>) -> Rows {
        let keep = first_copies(&rows, |r| r.key, |r| &r.record);
        Rows(rows.into_iter().zip(keep).filter_map(|(r, keep)| keep.then_some(r)).collect())
    }
}

/// A small full load made ready off the writer thread ([`replace_small`]):
/// packed into one blob when it has at most [`PACKED_ZONE`] records, else
/// rows of `zone_records`.
#[derive(Debug)]
pub enum SmallLoad {
    Packed { blob: Vec<u8>, count: usize },
    Rows(Rows),
}

impl SmallLoad {
    /// `rows` without duplicates (as [`Rows::unique`]), in the form its size
    /// calls for.
    pub fn new(rows: Vec<Row>) -> SmallLoad {
        let rows = Rows::unique(rows);
        if rows.0.len() > PACKED_ZONE {
            return SmallLoad::Rows(Rows(rows.0.into_iter().map(Row::with_owner).collect()));
        }
        let mut blob = Vec::with_capacity(rows.0.iter().map(|r| 16 + r.record.rdata.len()).sum());
        for r in &rows.0 {
            encode_record(&mut blob, &r.record);
        }
        SmallLoad::Packed { blob, count: rows.0.len() }
    }

    fn len(&self) -> usize {
        match self {
            SmallLoad::Packed { count, .. } => *count,
            SmallLoad::Rows(rows) => rows.0.len(),
        }
    }
}

/// The records of one version as an IXFR step changes them ([`apply_step`]):
/// a table of the store, or a packed zone held in memory. A record's place
/// is its row id in the table, its position in the packed zone.
trait RecordSet {
    /// The first place holding the same record as `r` (RFC 2181 §5).
    fn find(&mut self, r: &Record) -> Result<Option<i64>, StoreError>;
    fn delete(&mut self, at: i64) -> Result<(), StoreError>;
    /// Adds `r`: at place `at` (a record deleted in the same step), or last.
    fn insert(&mut self, at: Option<i64>, r: &Record) -> Result<(), StoreError>;
}

/// A records table of the store (`t`, from [`indexed_table`]), with the
/// text of its look-up and delete (written once per step, not per record).
struct TableSet<'c> {
    tx: &'c Connection,
    t: String,
    zone_id: i64,
    find_sql: String,
    delete_sql: String,
}

impl<'c> TableSet<'c> {
    fn new(tx: &'c Connection, t: String, zone_id: i64) -> TableSet<'c> {
        // The rows that may be a record: its key (and the key it had before
        // keys were canonical), type, class and owner; RDATA is compared
        // canonically after.
        let find_sql = format!(
            "SELECT id, rdata FROM {t} WHERE zone_id = ?1 AND rkey IN (?2, ?3) AND rtype = ?4 AND class = ?5
               AND lower(owner) = lower(?6) ORDER BY id"
        );
        let delete_sql = format!("DELETE FROM {t} WHERE id = ?1");
        TableSet { tx, t, zone_id, find_sql, delete_sql }
    }
}

impl RecordSet for TableSet<'_> {
    fn find(&mut self, r: &Record) -> Result<Option<i64>, StoreError> {
        let mut candidates = self.tx.prepare_cached(&self.find_sql)?;
        let rows = candidates.query_map(
            params![self.zone_id, record_key(r), legacy_key(r), r.rtype, r.class, r.owner.to_string()],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
        )?;
        for row in rows {
            let (id, rdata) = row?;
            if crate::wire::same_rdata(r.rtype, &rdata, &r.rdata) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    fn delete(&mut self, at: i64) -> Result<(), StoreError> {
        self.tx.prepare_cached(&self.delete_sql)?.execute([at])?;
        Ok(())
    }

    fn insert(&mut self, at: Option<i64>, r: &Record) -> Result<(), StoreError> {
        match at {
            Some(id) => insert_row_at(self.tx, &self.t, self.zone_id, id, r),
            None => insert_rows(self.tx, &self.t, self.zone_id, [(record_key(r), r.owner.to_string().as_str(), r)]),
        }
    }
}

/// A packed zone decoded: its records in order (`None` where one was
/// deleted), and where each record key is.
#[derive(Debug, Default)]
struct PackedSet {
    records: Vec<Option<Record>>,
    by_key: HashMap<i64, Vec<usize>>,
}

/// Calls `each` with every record of a packed zone's blob, in order, its
/// owner checked to be a name; a blob that does not decode is an error.
fn each_packed<'a>(
    zone_id: i64,
    blob: &'a [u8],
    mut each: impl FnMut(RawRecord<'a>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let bad = || StoreError::Corrupt(format!("zone {zone_id}: its packed records do not decode"));
    let mut p = 0;
    while p < blob.len() {
        let r = decode_record(blob, &mut p).ok_or_else(bad)?;
        crate::wire::Name::from_wire(r.owner).map_err(|_| bad())?;
        each(r)?;
    }
    Ok(())
}

/// The records of a packed zone's blob, in order.
fn unpack(zone_id: i64, blob: &[u8]) -> Result<Vec<Record>, StoreError> {
    let mut out = Vec::new();
    each_packed(zone_id, blob, |raw| {
        let r = raw.to_record().ok_or_else(|| StoreError::Corrupt(format!("zone {zone_id}: a packed owner")))?;
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}

impl PackedSet {
    fn decode(zone_id: i64, blob: &[u8]) -> Result<PackedSet, StoreError> {
        let mut set = PackedSet::default();
        for r in unpack(zone_id, blob)? {
            set.push(r);
        }
        Ok(set)
    }

    fn push(&mut self, r: Record) {
        self.by_key.entry(record_key(&r)).or_default().push(self.records.len());
        self.records.push(Some(r));
    }

    fn live(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().flatten()
    }

    fn encode(&self) -> Vec<u8> {
        let mut blob = Vec::new();
        for r in self.live() {
            encode_record(&mut blob, r);
        }
        blob
    }
}

impl RecordSet for PackedSet {
    fn find(&mut self, r: &Record) -> Result<Option<i64>, StoreError> {
        let Some(places) = self.by_key.get(&record_key(r)) else { return Ok(None) };
        Ok(places
            .iter()
            .filter(|&&i| self.records.get(i).and_then(Option::as_ref).is_some_and(|have| have.same_record(r)))
            .min()
            .map(|&i| i as i64))
    }

    fn delete(&mut self, at: i64) -> Result<(), StoreError> {
        let at = usize::try_from(at).unwrap_or(usize::MAX);
        if let Some(slot) = self.records.get_mut(at) {
            if let Some(r) = slot.take() {
                if let Some(places) = self.by_key.get_mut(&record_key(&r)) {
                    places.retain(|&i| i != at);
                }
            }
        }
        Ok(())
    }

    fn insert(&mut self, at: Option<i64>, r: &Record) -> Result<(), StoreError> {
        let free = at.and_then(|a| usize::try_from(a).ok()).filter(|&a| matches!(self.records.get(a), Some(None)));
        match free {
            Some(a) => {
                self.by_key.entry(record_key(r)).or_default().push(a);
                self.records[a] = Some(r.clone());
            }
            None => self.push(r.clone()),
        }
        Ok(())
    }
}

impl Diff {
    /// This step without a record deleted or added twice (it is one record),
    /// or `None` when it has no such duplicate.
    pub fn deduped(&self) -> Option<Diff> {
        let (deleted, added) = (without_duplicates(&self.deleted), without_duplicates(&self.added));
        if deleted.len() == self.deleted.len() && added.len() == self.added.len() {
            return None;
        }
        Some(Diff {
            from: self.from,
            to: self.to,
            deleted: deleted.into_iter().cloned().collect(),
            added: added.into_iter().cloned().collect(),
        })
    }
}

/// A full transfer with more records than this gets a table of its own.
pub const LARGE_ZONE: usize = 50_000;

/// A full transfer with at most this many records is kept packed: one row of
/// `zone_packed` holds them all, in [`encode_record`]'s form (most zones have
/// a few dozen records, and one row costs a fraction of a row and an index
/// entry per record). An IXFR rewrites the row ([`fold_journal`]), so the
/// bound keeps that small (about 50 KB); a zone that IXFRs take past twice
/// the bound moves to `zone_records`.
pub const PACKED_ZONE: usize = 1_000;

/// `zones.version` of a packed zone (0: `zone_records`, above: a table).
const PACKED: i64 = -1;

const SHARED: &str = "zone_records";

/// The table of one version of a zone (both numbers come from the store, never
/// from input); version 0 is the shared table.
fn table(zone_id: i64, version: i64) -> String {
    if version == 0 {
        SHARED.to_string()
    } else {
        format!("records_{zone_id}_{version}")
    }
}

fn current_version(conn: &Connection, zone_id: i64) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT version FROM zones WHERE id = ?1")?
        .query_row([zone_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound { kind: "Zone", id: zone_id.to_string() })
}

/// Every record table of `zone_id` (any version).
fn tables_of(conn: &Connection, zone_id: Option<i64>) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'records_*_*'")?;
    let names: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(names
        .into_iter()
        .filter_map(|n| {
            let mut parts = n.strip_prefix("records_")?.split('_');
            let z = parts.next()?.parse().ok()?;
            let v = parts.next()?.parse().ok()?;
            Some((n, z, v))
        })
        .filter(|(_, z, _)| zone_id.is_none_or(|id| id == *z))
        .collect())
}

/// Drops every record of a zone (it is being deleted).
pub fn drop_tables(conn: &Connection, zone_id: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM zone_records WHERE zone_id = ?1")?.execute([zone_id])?;
    conn.prepare_cached("DELETE FROM zone_packed WHERE zone_id = ?1")?.execute([zone_id])?;
    for (name, _, _) in tables_of(conn, Some(zone_id))? {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {name}"))?;
    }
    Ok(())
}

/// How a refresh attempt ended, for [`record_attempt`].
#[derive(Debug, Clone, Copy)]
pub struct AttemptEnd<'a> {
    /// When it began.
    pub started_at: i64,
    /// The NOTIFY that asked for it: sender, serial, when it came.
    pub notice: Option<(&'a str, Option<u32>, i64)>,
    /// A transfer's commit and total milliseconds, added to the summary its
    /// commit wrote (`last_xfr`).
    pub times: Option<(u64, u64)>,
    pub next_refresh_at: i64,
    pub expires_at: Option<i64>,
    pub backoff: u32,
}

/// Counts a refresh attempt and writes what it leaves: the NOTIFY that asked
/// for it, the transfer's times and the zone's next timers; one statement.
pub fn record_attempt(conn: &Connection, zone_id: i64, a: &AttemptEnd<'_>) -> Result<(), StoreError> {
    let (from, serial, at) = match a.notice {
        Some((from, serial, at)) => (Some(from), serial, Some(at)),
        None => (None, None, None),
    };
    let (commit_ms, total_ms) = match a.times {
        Some((c, t)) => (Some(c as i64), Some(t as i64)),
        None => (None, None),
    };
    conn.prepare_cached(
        "UPDATE zones SET attempts = attempts + 1, last_attempt_at = ?2,
             last_notify_from = CASE WHEN ?3 IS NULL THEN last_notify_from ELSE ?3 END,
             last_notify_serial = CASE WHEN ?3 IS NULL THEN last_notify_serial ELSE ?4 END,
             last_notify_at = CASE WHEN ?3 IS NULL THEN last_notify_at ELSE ?5 END,
             last_xfr = CASE WHEN ?6 IS NULL THEN last_xfr
                             ELSE json_set(last_xfr, '$.commit_ms', ?6, '$.total_ms', ?7) END,
             next_refresh_at = ?8, expires_at = ?9, backoff = ?10
         WHERE id = ?1",
    )?
    .execute(params![
        zone_id,
        a.started_at,
        from,
        serial,
        at,
        commit_ms,
        total_ms,
        a.next_refresh_at,
        a.expires_at,
        a.backoff
    ])?;
    Ok(())
}

/// Starts a full load and returns the version it writes, in a new empty table.
/// Tables of earlier loads that never committed (a crash, a failure) go first.
pub fn begin_full(conn: &mut Connection, zone_id: i64) -> Result<i64, StoreError> {
    let version = current_version(conn, zone_id)?;
    for (name, _, v) in tables_of(conn, Some(zone_id))? {
        if v > version {
            conn.execute_batch(&format!("DROP TABLE IF EXISTS {name}"))?;
        }
    }
    let new = version.max(0) + 1;
    conn.execute_batch(&format!(
        "CREATE TABLE {} (id INTEGER PRIMARY KEY, zone_id INTEGER NOT NULL, rkey INTEGER NOT NULL, owner TEXT NOT NULL,
           rtype INTEGER NOT NULL, class INTEGER NOT NULL, ttl INTEGER NOT NULL, rdata BLOB NOT NULL)",
        table(zone_id, new)
    ))?;
    Ok(new)
}

/// Inserts one record at row `id` (an IXFR's new SOA takes the old one's row,
/// so the SOA stays first in stored order, as after a full transfer).
fn insert_row_at(conn: &Connection, table: &str, zone_id: i64, id: i64, r: &Record) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO {table} (id, zone_id, rkey, owner, rtype, class, ttl, rdata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?
    .execute(params![id, zone_id, record_key(r), r.owner.to_string(), r.rtype, r.class, r.ttl, r.rdata])?;
    Ok(())
}

fn insert_rows<'a>(
    conn: &Connection,
    table: &str,
    zone_id: i64,
    rows: impl IntoIterator<Item = (i64, &'a str, &'a Record)>,
) -> Result<(), StoreError> {
    // One prepared row at a time: an INSERT of several rows (VALUES (…),
    // (…)) runs as a compound SELECT in SQLite, and cost more per row.
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO {table} (zone_id, rkey, owner, rtype, class, ttl, rdata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?;
    for (key, owner, r) in rows {
        stmt.execute(params![zone_id, key, owner, r.rtype, r.class, r.ttl, r.rdata])?;
    }
    Ok(())
}

fn parts(rows: &[Row]) -> impl Iterator<Item = (i64, &str, &Record)> {
    rows.iter().map(|r| (r.key, r.owner.as_str(), &r.record))
}

/// Writes one batch of a large full load (invisible until [`commit_full`]).
pub fn insert_batch(conn: &mut Connection, zone_id: i64, version: i64, rows: &[Row]) -> Result<(), StoreError> {
    let tx = super::write_tx(conn)?;
    insert_rows(&tx, &table(zone_id, version), zone_id, parts(rows))?;
    tx.commit()?;
    Ok(())
}

/// Replaces a zone's records with a small full load, in one transaction, and
/// makes it current; returns the superseded version for [`finish_full`].
/// Refused ([`StoreError::Unlinked`]) when its primary is no longer linked.
pub fn replace_small(
    conn: &mut Connection,
    zone_id: i64,
    records: &[Record],
    c: &Committed,
) -> Result<i64, StoreError> {
    let load = SmallLoad::new(Row::all(records));
    replace_small_then(conn, zone_id, &load, c, |_| Ok(())).map(|(old, ())| old)
}

/// [`replace_small`], and `then` in the same transaction (the refresh writes
/// its attempt and the zone's next timers with the commit: one store job per
/// transfer, not two). Its only failure before its first change is the link
/// check, and `then` must keep it so (the refresh runs it as
/// [`super::Store::call_checked`]).
pub fn replace_small_then<T>(
    conn: &mut Connection,
    zone_id: i64,
    load: &SmallLoad,
    c: &Committed,
    then: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<(i64, T), StoreError> {
    let tx = super::write_tx(conn)?;
    let (old, _) = linked_version(&tx, zone_id, c.primary_id)?;
    // Cached statements: at 10,000 small zones loading, preparing each one
    // anew is a good part of the work.
    tx.prepare_cached("DELETE FROM zone_records WHERE zone_id = ?1")?.execute([zone_id])?;
    let version = match load {
        SmallLoad::Packed { blob, .. } => {
            tx.prepare_cached("INSERT OR REPLACE INTO zone_packed (zone_id, records) VALUES (?1, ?2)")?
                .execute(params![zone_id, blob])?;
            PACKED
        }
        SmallLoad::Rows(rows) => {
            tx.prepare_cached("DELETE FROM zone_packed WHERE zone_id = ?1")?.execute([zone_id])?;
            insert_rows(&tx, SHARED, zone_id, parts(&rows.0))?;
            0
        }
    };
    commit_state(&tx, zone_id, c, load.len() as i64, Made::Version(version))?;
    tx.prepare_cached("DELETE FROM zone_journal WHERE zone_id = ?1")?.execute([zone_id])?;
    let then = then(&tx)?;
    tx.commit()?;
    Ok((old, then))
}

/// The [`record_key`]s that more than one of `keys` has (a sort; no I/O, so
/// it can run off the store thread).
pub fn shared_keys(mut keys: Vec<i64>) -> Vec<i64> {
    keys.sort_unstable();
    let mut shared: Vec<i64> = keys.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    shared.dedup();
    shared
}

/// Removes the later copies of duplicate records from a large full load
/// before it is committed; `shared` are the keys several of its records have
/// ([`shared_keys`]). Returns how many rows went. Reads only the rows of
/// those keys, in one pass.
pub fn dedupe_full(conn: &mut Connection, zone_id: i64, version: i64, shared: &[i64]) -> Result<u64, StoreError> {
    if shared.is_empty() {
        return Ok(0);
    }
    let t = table(zone_id, version);
    let tx = super::write_tx(conn)?;
    tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS dup_keys (k INTEGER PRIMARY KEY); DELETE FROM dup_keys;")?;
    {
        let mut ins = tx.prepare_cached("INSERT OR IGNORE INTO dup_keys (k) VALUES (?1)")?;
        for k in shared {
            ins.execute([k])?;
        }
    }
    let rows: Vec<(i64, i64, Record)> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT id, rkey, owner, rtype, class, ttl, rdata FROM {t} WHERE rkey IN (SELECT k FROM dup_keys) ORDER BY id"
        ))?;
        let mapped = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        let mut rows = Vec::new();
        for row in mapped {
            let (id, key, owner, rtype, class, ttl, rdata) = row?;
            let owner = crate::wire::Name::from_ascii(&owner)
                .map_err(|e| StoreError::Corrupt(format!("zone {zone_id}: stored owner `{owner}`: {e}")))?;
            rows.push((id, key, Record { owner, rtype, class, ttl, rdata }));
        }
        rows
    };
    let mut kept: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut gone = Vec::new();
    for (i, (id, key, r)) in rows.iter().enumerate() {
        let same = kept.entry(*key).or_default();
        if same.iter().any(|&j| rows[j].2.same_record(r)) {
            gone.push(*id);
        } else {
            same.push(i);
        }
    }
    {
        let mut del = tx.prepare(&format!("DELETE FROM {t} WHERE id = ?1"))?;
        for id in &gone {
            del.execute([id])?;
        }
    }
    tx.execute_batch("DELETE FROM dup_keys;")?;
    tx.commit()?;
    Ok(gone.len() as u64)
}

/// Drops the table of a large full load that will not be committed.
pub fn discard(conn: &mut Connection, zone_id: i64, version: i64) -> Result<(), StoreError> {
    if version == 0 || current_version(conn, zone_id).is_ok_and(|v| v == version) {
        return Ok(()); // never drop what is being served
    }
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", table(zone_id, version)))?;
    Ok(())
}

/// Refuses a commit whose primary is no longer linked to the zone (unlinked or
/// deleted while its transfer ran); called inside the commit's transaction, so
/// no unlink can slip in between the check and the commit.
/// The zone's version and record count, read only while `primary_id` is
/// still linked to it (else [`StoreError::Unlinked`]): a commit's one read.
fn linked_version(conn: &Connection, zone_id: i64, primary_id: i64) -> Result<(i64, i64), StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT version, record_count,
                    EXISTS (SELECT 1 FROM zone_primaries WHERE zone_id = ?1 AND primary_id = ?2)
             FROM zones WHERE id = ?1",
        )?
        .query_row(params![zone_id, primary_id], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, bool>(2)?)))
        .optional()?;
    match row {
        None => Err(StoreError::NotFound { kind: "Zone", id: zone_id.to_string() }),
        Some((_, _, false)) => Err(StoreError::Unlinked { zone_id, primary_id }),
        Some((version, count, true)) => Ok((version, count)),
    }
}

/// Which records a commit makes current ([`commit_state`]).
#[derive(Clone, Copy)]
enum Made {
    /// A full load, the zone's records now in this version's table (0: the
    /// shared `zone_records`), every journal step folded.
    Version(i64),
    /// IXFR steps journaled from this step id on, the records table still
    /// without them ([`append_diffs`]).
    Journaled(Option<i64>),
    /// IXFR steps applied to the records table.
    Applied,
}

/// The zone's row after a commit: the new serial and SOA timers, the
/// transfer's summary, and which records are current (`made`); one statement
/// (a commit writes the zone's row once).
fn commit_state(
    conn: &Connection,
    zone_id: i64,
    c: &Committed,
    record_count: i64,
    made: Made,
) -> Result<(), StoreError> {
    let now = now_secs();
    let (version, fold_from) = match made {
        Made::Version(v) => (Some(v), None),
        Made::Journaled(first) => (None, first),
        Made::Applied => (None, None),
    };
    conn.prepare_cached(
        "UPDATE zones SET serial = ?2, record_count = ?3, soa_refresh = ?4, soa_retry = ?5, soa_expire = ?6,
             soa_minimum = ?7, primary_serial = ?2, last_success_at = ?8, last_transferred_at = ?8,
             last_primary = ?9, last_xfr = ?10, last_error = NULL, last_error_primary = NULL, last_error_at = NULL,
             backoff = 0, expired = 0, updated_at = ?8,
             version = coalesce(?11, version),
             fold_from = CASE WHEN ?11 IS NOT NULL THEN NULL ELSE coalesce(fold_from, ?12) END
         WHERE id = ?1",
    )?
    .execute(params![
        zone_id,
        c.serial,
        record_count,
        c.soa[0],
        c.soa[1],
        c.soa[2],
        c.soa[3],
        now,
        c.primary,
        c.summary_json,
        version,
        fold_from
    ])?;
    Ok(())
}

/// Makes a full load current, atomically; returns the superseded version for
/// [`finish_full`]. Nothing heavy happens here, so the new zone is visible as
/// soon as the last record is written.
pub fn commit_full(
    conn: &mut Connection,
    zone_id: i64,
    version: i64,
    records: u64,
    c: &Committed,
) -> Result<i64, StoreError> {
    commit_full_then(conn, zone_id, version, records, c, |_| Ok(())).map(|(old, ())| old)
}

/// [`commit_full`], and `then` in the same transaction (as [`replace_small_then`]).
pub fn commit_full_then<T>(
    conn: &mut Connection,
    zone_id: i64,
    version: i64,
    records: u64,
    c: &Committed,
    then: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<(i64, T), StoreError> {
    let tx = super::write_tx(conn)?;
    let (old, _) = linked_version(&tx, zone_id, c.primary_id)?;
    tx.prepare_cached("DELETE FROM zone_records WHERE zone_id = ?1")?.execute([zone_id])?;
    tx.prepare_cached("DELETE FROM zone_packed WHERE zone_id = ?1")?.execute([zone_id])?;
    commit_state(&tx, zone_id, c, records as i64, Made::Version(version))?;
    // An AXFR ends the IXFR history: the journal cannot bridge it.
    tx.prepare_cached("DELETE FROM zone_journal WHERE zone_id = ?1")?.execute([zone_id])?;
    let then = then(&tx)?;
    tx.commit()?;
    Ok((old, then))
}

/// Rows of a superseded version deleted per writer job (about 10 ms of work).
const DROP_STEP: i64 = 20_000;

/// Housekeeping after [`commit_full`]: indexes the new version for IXFR (one
/// sorted pass, far cheaper than keeping an index up to date through a million
/// inserts in random key order: about 0.6 s per million records), then drops
/// the old version's index and empties its table [`DROP_STEP`] rows at a time
/// (about 15 ms each) before dropping it.
/// Each step is a job of its own on the writer, so other writes (another
/// zone's commit, the API) wait for one step at most, never for the whole.
pub async fn finish_full(store: &super::Store, zone_id: i64, version: i64, old: i64) -> Result<(), StoreError> {
    if version > 0 {
        store
            .call(move |c| match c.execute_batch(&index_sql(&table(zone_id, version))) {
                // The zone was deleted meanwhile, and its tables with it.
                Err(e) if is_gone(&e) => Ok(()),
                done => Ok(done?),
            })
            .await?;
    }
    if old > 0 && old != version {
        let t = table(zone_id, old);
        // The index first (a drop frees its pages in one pass: about 0.1 s per
        // million records); the rows deleted through it would cost a random
        // index update each (10 s per million).
        let index = format!("{t}_rkey");
        store.call(move |c| Ok(c.execute_batch(&format!("DROP INDEX IF EXISTS {index}"))?)).await?;
        loop {
            let t = t.clone();
            let deleted = store
                .call(move |c| {
                    let sql = format!("DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} LIMIT {DROP_STEP})");
                    match c.execute(&sql, []) {
                        Ok(n) => Ok(n),
                        // Gone already (a restart's garbage collection, the zone deleted).
                        Err(e) if is_gone(&e) => Ok(0),
                        Err(e) => Err(e.into()),
                    }
                })
                .await?;
            if deleted == 0 {
                break;
            }
        }
        store.call(move |c| Ok(c.execute_batch(&format!("DROP TABLE IF EXISTS {t}"))?)).await?;
    }
    Ok(())
}

fn ensure_index(conn: &Connection, t: &str) -> Result<(), StoreError> {
    conn.execute_batch(&index_sql(t))?;
    Ok(())
}

/// The `rkey` index of a version's table, an IXFR's look-ups use.
fn index_sql(t: &str) -> String {
    format!("CREATE INDEX IF NOT EXISTS {t}_rkey ON {t} (rkey)")
}

/// A statement met a version's table that is no longer there (SQLite has no
/// code of its own for it, only the message).
fn is_gone(e: &rusqlite::Error) -> bool {
    e.to_string().contains("no such table")
}

/// Why a diff could not be applied: the primary's IXFR does not match our copy.
#[derive(Debug)]
pub enum DiffError {
    Store(StoreError),
    /// A record the diff deletes is not in our copy (or one it adds is already there).
    Mismatch(String),
}

impl From<StoreError> for DiffError {
    fn from(e: StoreError) -> Self {
        DiffError::Store(e)
    }
}

impl From<rusqlite::Error> for DiffError {
    fn from(e: rusqlite::Error) -> Self {
        DiffError::Store(StoreError::Db(e))
    }
}

/// Applies IXFR steps in one transaction and makes the result current; keeps
/// each step in the journal (at most `journal_max` = (diffs, bytes) per zone,
/// oldest dropped first). Any mismatch rolls everything back. Steps the
/// journal holds but the table does not yet ([`append_diffs`]) are folded in
/// first. This is the path of an IXFR that the served view could not check;
/// one it took goes through [`append_diffs`].
pub fn apply_diffs(
    conn: &mut Connection,
    zone_id: i64,
    diffs: &[Diff],
    c: &Committed,
    journal_max: (u32, u64),
) -> Result<u64, DiffError> {
    let tx = super::write_tx(conn)?;
    linked_version(&tx, zone_id, c.primary_id)?;
    let (version, mut count) = version_and_count(&tx, zone_id)?;
    change_records(&tx, zone_id, version, |set| {
        fold_steps(&tx, zone_id, set)?;
        for d in diffs {
            let deduped = d.deduped();
            let d = deduped.as_ref().unwrap_or(d);
            let (added, change) = apply_step(set, d, true)?;
            count += change;
            journal_insert(&tx, zone_id, d.from, d.to, &d.deleted.iter().collect::<Vec<_>>(), &added)?;
        }
        Ok(())
    })?;
    commit_state(&tx, zone_id, c, count, Made::Applied)?;
    trim_journal(&tx, zone_id, journal_max)?;
    tx.commit()?;
    Ok(count as u64)
}

/// Commits IXFR steps that the served view has already checked against the
/// current version and applied (`diffs` as they took effect: no record added
/// that was there already, nor deleted twice): the steps go to the journal and
/// the zone's row takes the new serial, a few pages whatever the zone's size;
/// the records table catches up in [`fold_journal`], after the new version is
/// served. Until then `zones.fold_from` names the first step it lacks, and
/// whatever reads the table folds first (the API's record list, a rebuild of
/// the view, start-up), so no reader sees the table behind the serial.
pub fn append_diffs(conn: &mut Connection, zone_id: i64, diffs: &[Diff], c: &Committed) -> Result<u64, StoreError> {
    append_diffs_then(conn, zone_id, diffs, c, |_| Ok(())).map(|(count, ())| count)
}

/// [`append_diffs`], and `then` in the same transaction (as [`replace_small_then`]).
pub fn append_diffs_then<T>(
    conn: &mut Connection,
    zone_id: i64,
    diffs: &[Diff],
    c: &Committed,
    then: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<(u64, T), StoreError> {
    let tx = super::write_tx(conn)?;
    let (_, mut count) = linked_version(&tx, zone_id, c.primary_id)?;
    let mut first = None;
    for d in diffs {
        let id = journal_insert(
            &tx,
            zone_id,
            d.from,
            d.to,
            &d.deleted.iter().collect::<Vec<_>>(),
            &d.added.iter().collect::<Vec<_>>(),
        )?;
        first.get_or_insert(id);
        count += d.added.len() as i64 - d.deleted.len() as i64;
    }
    commit_state(&tx, zone_id, c, count, Made::Journaled(first))?;
    let then = then(&tx)?;
    tx.commit()?;
    Ok((count as u64, then))
}

/// Whether the zone's records table lacks journal steps ([`append_diffs`]).
pub fn fold_pending(conn: &Connection, zone_id: i64) -> Result<bool, StoreError> {
    Ok(fold_from(conn, zone_id)?.is_some())
}

/// The id of the first journal step the zone's records table lacks.
fn fold_from(conn: &Connection, zone_id: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT fold_from FROM zones WHERE id = ?1")?
        .query_row([zone_id], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Brings the zone's records table up to its serial with the journal steps it
/// lacks ([`append_diffs`]), in one transaction, then keeps the journal within
/// `trim` = (diffs, bytes) when given. Returns how many steps were folded.
pub fn fold_journal(conn: &mut Connection, zone_id: i64, trim: Option<(u32, u64)>) -> Result<usize, StoreError> {
    let tx = super::write_tx(conn)?;
    let folded = fold_in(&tx, zone_id)?;
    if let Some(max) = trim {
        trim_journal(&tx, zone_id, max)?;
    }
    tx.commit()?;
    Ok(folded)
}

/// Folds every zone's pending journal steps (at start-up, before the views
/// are built from the tables); returns how many zones had some.
pub fn fold_all(conn: &mut Connection) -> Result<usize, StoreError> {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM zones WHERE fold_from IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for &id in &ids {
        fold_journal(conn, id, None)?;
    }
    Ok(ids.len())
}

/// [`fold_journal`] inside the caller's transaction.
fn fold_in(tx: &Connection, zone_id: i64) -> Result<usize, StoreError> {
    if fold_from(tx, zone_id)?.is_none() {
        return Ok(0);
    }
    let (version, _) = version_and_count(tx, zone_id)?;
    change_records(tx, zone_id, version, |set| Ok(fold_steps(tx, zone_id, set)?)).map_err(|e| match e {
        DiffError::Store(e) => e,
        DiffError::Mismatch(why) => StoreError::Corrupt(why),
    })
}

/// Applies to `set` the journal steps its zone's records lack. The view
/// took these steps, so they apply; should the records still disagree (a
/// delete that finds nothing, an add already there), they follow the steps
/// as the view did and the disagreement is logged.
fn fold_steps(tx: &Connection, zone_id: i64, set: &mut dyn RecordSet) -> Result<usize, StoreError> {
    let Some(from) = fold_from(tx, zone_id)? else { return Ok(0) };
    let steps: Vec<(u32, u32, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT serial_from, serial_to, diff FROM zone_journal WHERE zone_id = ?1 AND id >= ?2 ORDER BY id",
        )?
        .query_map(params![zone_id, from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (from, to, blob) in &steps {
        let (deleted, added) = decode_diff(blob)?;
        let d = Diff { from: *from, to: *to, deleted, added };
        match apply_step(set, &d, false) {
            Ok(_) => {}
            Err(DiffError::Store(e)) => return Err(e),
            Err(DiffError::Mismatch(why)) => tracing::error!(zone_id, why, "journal step folded with a mismatch"),
        }
    }
    tx.prepare_cached("UPDATE zones SET fold_from = NULL WHERE id = ?1")?.execute([zone_id])?;
    Ok(steps.len())
}

/// Runs `f` on the zone's current records inside the caller's transaction:
/// on its table, or on its packed records read into memory and written back
/// when `f` succeeds (into `zone_records`, should IXFRs have taken the zone
/// past twice [`PACKED_ZONE`]).
fn change_records<T>(
    tx: &Connection,
    zone_id: i64,
    version: i64,
    f: impl FnOnce(&mut dyn RecordSet) -> Result<T, DiffError>,
) -> Result<T, DiffError> {
    if version != PACKED {
        let mut set = TableSet::new(tx, indexed_table(tx, zone_id, version)?, zone_id);
        return f(&mut set);
    }
    let mut set = PackedSet::decode(zone_id, &packed_blob(tx, zone_id)?)?;
    let out = f(&mut set)?;
    if set.live().count() > 2 * PACKED_ZONE {
        let rows: Vec<Row> = set.live().cloned().map(Row::new).collect();
        tx.prepare_cached("DELETE FROM zone_packed WHERE zone_id = ?1")?.execute([zone_id])?;
        tx.prepare_cached("DELETE FROM zone_records WHERE zone_id = ?1")?.execute([zone_id])?;
        insert_rows(tx, SHARED, zone_id, parts(&rows))?;
        tx.prepare_cached("UPDATE zones SET version = 0 WHERE id = ?1")?.execute([zone_id])?;
    } else {
        tx.prepare_cached("UPDATE zone_packed SET records = ?2 WHERE zone_id = ?1")?
            .execute(params![zone_id, set.encode()])?;
    }
    Ok(out)
}

/// The packed records of a zone whose version is [`PACKED`].
fn packed_blob(conn: &Connection, zone_id: i64) -> Result<Vec<u8>, StoreError> {
    conn.prepare_cached("SELECT records FROM zone_packed WHERE zone_id = ?1")?
        .query_row([zone_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("zone {zone_id} is packed but its records are missing")))
}

/// The table of a version, with the `rkey` index an IXFR's look-ups use
/// (normally built right after the load; this covers a crash in between).
fn indexed_table(tx: &Connection, zone_id: i64, version: i64) -> Result<String, StoreError> {
    let t = table(zone_id, version);
    if version > 0 {
        ensure_index(tx, &t)?;
    }
    Ok(t)
}

fn version_and_count(tx: &Connection, zone_id: i64) -> Result<(i64, i64), StoreError> {
    tx.prepare_cached("SELECT version, record_count FROM zones WHERE id = ?1")?
        .query_row([zone_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound { kind: "Zone", id: zone_id.to_string() })
}

/// Applies one IXFR step to `set`: returns the records it added as it took
/// effect (one the zone had already is the same record, RFC 2181 §5: nothing
/// changes) and the change in the record count. `strict`: a deleted record
/// the zone lacks is a [`DiffError::Mismatch`]; otherwise the step's first
/// such record is reported and the rest applies.
fn apply_step<'d>(set: &mut dyn RecordSet, d: &'d Diff, strict: bool) -> Result<(Vec<&'d Record>, i64), DiffError> {
    let mut change = 0i64;
    let mut missing = None;
    // The place of the SOA this step deletes, for the SOA it adds (the SOA
    // stays first in stored order, as after a full transfer).
    let mut soa_place = None;
    for r in &d.deleted {
        let Some(at) = set.find(r)? else {
            let why = format!(
                "the IXFR step {}→{} deletes `{} {}`, which our copy does not have",
                d.from,
                d.to,
                r.owner,
                crate::wire::text::type_name(r.rtype)
            );
            if strict {
                return Err(DiffError::Mismatch(why));
            }
            missing.get_or_insert(why);
            continue;
        };
        set.delete(at)?;
        if r.rtype == crate::wire::rtype::SOA {
            soa_place = Some(at);
        }
        change -= 1;
    }
    let mut added = Vec::with_capacity(d.added.len());
    for r in &d.added {
        if set.find(r)?.is_some() {
            continue;
        }
        let at = if r.rtype == crate::wire::rtype::SOA { soa_place.take() } else { None };
        set.insert(at, r)?;
        change += 1;
        added.push(r);
    }
    match missing {
        Some(why) => Err(DiffError::Mismatch(why)),
        None => Ok((added, change)),
    }
}

/// Keeps one step in the zone's journal; returns its id.
fn journal_insert(
    tx: &Connection,
    zone_id: i64,
    from: u32,
    to: u32,
    deleted: &[&Record],
    added: &[&Record],
) -> Result<i64, StoreError> {
    let mut blob = Vec::new();
    encode_diff(&mut blob, deleted, added);
    tx.prepare_cached(
        "INSERT INTO zone_journal (zone_id, serial_from, serial_to, deleted, added, diff, bytes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        zone_id,
        from,
        to,
        deleted.len() as i64,
        added.len() as i64,
        blob,
        blob.len() as i64,
        now_secs()
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Keeps the newest steps of the zone's journal within both bounds of
/// `journal_max` = (steps, bytes), dropping the oldest. Both checks read the
/// covering index only.
fn trim_journal(conn: &Connection, zone_id: i64, journal_max: (u32, u64)) -> Result<(), StoreError> {
    let (steps, bytes): (i64, i64) = conn
        .prepare_cached("SELECT count(*), coalesce(sum(bytes), 0) FROM zone_journal WHERE zone_id = ?1")?
        .query_row([zone_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if steps <= i64::from(journal_max.0) && bytes as u64 <= journal_max.1 {
        return Ok(());
    }
    // A running sum from the newest step.
    conn.prepare_cached(
        "DELETE FROM zone_journal WHERE zone_id = ?1 AND id NOT IN (
           SELECT id FROM (SELECT id, row_number() OVER w AS n, sum(bytes) OVER w AS total
                           FROM zone_journal WHERE zone_id = ?1 WINDOW w AS (ORDER BY id DESC))
           WHERE n <= ?2 AND total <= ?3)",
    )?
    .execute(params![zone_id, journal_max.0, journal_max.1 as i64])?;
    Ok(())
}

/// Journal encoding of one step: per record, 1 op byte (0 delete, 1 add),
/// then the record as [`encode_record`] writes it.
fn encode_diff(out: &mut Vec<u8>, deleted: &[&Record], added: &[&Record]) {
    for (op, records) in [(0u8, deleted), (1u8, added)] {
        for r in records {
            out.push(op);
            encode_record(out, r);
        }
    }
}

/// One record as the journal and a packed zone keep it: owner length + wire
/// owner, type, class, TTL, RDATA length + RDATA (big-endian).
fn encode_record(out: &mut Vec<u8>, r: &Record) {
    let owner = r.owner.as_wire();
    out.push(owner.len() as u8);
    out.extend_from_slice(owner);
    out.extend_from_slice(&r.rtype.to_be_bytes());
    out.extend_from_slice(&r.class.to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    out.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&r.rdata);
}

/// A record of [`encode_record`]'s form, its parts borrowed from the bytes.
struct RawRecord<'a> {
    owner: &'a [u8],
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: &'a [u8],
}

impl RawRecord<'_> {
    fn to_record(&self) -> Option<Record> {
        let owner = crate::wire::Name::from_wire(self.owner).ok()?;
        Some(Record { owner, rtype: self.rtype, class: self.class, ttl: self.ttl, rdata: self.rdata.to_vec() })
    }
}

/// Reads the record at `*p` (the inverse of [`encode_record`]) and moves past
/// it; `None` when the bytes end inside it.
fn decode_record<'a>(blob: &'a [u8], p: &mut usize) -> Option<RawRecord<'a>> {
    let mut take = |n: usize| -> Option<&'a [u8]> {
        let s = blob.get(*p..p.checked_add(n)?)?;
        *p += n;
        Some(s)
    };
    let owner_len = usize::from(*take(1)?.first()?);
    let owner = take(owner_len)?;
    let f = take(10)?;
    let len = usize::from(u16::from_be_bytes([f[8], f[9]]));
    Some(RawRecord {
        owner,
        rtype: u16::from_be_bytes([f[0], f[1]]),
        class: u16::from_be_bytes([f[2], f[3]]),
        ttl: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
        rdata: take(len)?,
    })
}

/// Reads one journal step back (the inverse of [`encode_diff`]).
fn decode_diff(blob: &[u8]) -> Result<(Vec<Record>, Vec<Record>), StoreError> {
    let bad = || StoreError::Corrupt("a journal step does not decode".into());
    let (mut deleted, mut added) = (Vec::new(), Vec::new());
    let mut p = 0usize;
    while let Some(&op) = blob.get(p) {
        p += 1;
        let r = decode_record(blob, &mut p).and_then(|raw| raw.to_record()).ok_or_else(bad)?;
        match op {
            0 => deleted.push(r),
            1 => added.push(r),
            _ => return Err(bad()),
        }
    }
    Ok((deleted, added))
}

/// Where an unbroken chain of steps (serial from, serial to), oldest first,
/// leads from serial `from` to serial `to`: the index of its first step and
/// how many steps it has. Shared by the zones' journal and the catalog's.
pub fn chain_span(steps: impl IntoIterator<Item = (u32, u32)>, from: u32, to: u32) -> Option<(usize, usize)> {
    let mut start = None;
    let mut at = from;
    for (i, (f, t)) in steps.into_iter().enumerate() {
        match start {
            None if f == from => start = Some(i),
            None => continue,
            Some(_) if f != at => return None,
            Some(_) => {}
        }
        at = t;
        if at == to {
            return start.map(|s| (s, i + 1 - s));
        }
    }
    None
}

/// The journal's steps from serial `from` to serial `to`, in order, if the
/// journal holds an unbroken chain between them (for an IXFR out).
pub fn journal_chain(conn: &Connection, zone_id: i64, from: u32, to: u32) -> Result<Option<Vec<Diff>>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, serial_from, serial_to FROM zone_journal WHERE zone_id = ?1 ORDER BY id")?;
    let steps: Vec<(i64, u32, u32)> =
        stmt.query_map([zone_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
    let Some((start, len)) = chain_span(steps.iter().map(|s| (s.1, s.2)), from, to) else { return Ok(None) };
    let chain = &steps[start..start + len];
    let mut blob = conn.prepare_cached("SELECT diff FROM zone_journal WHERE id = ?1")?;
    let mut out = Vec::with_capacity(chain.len());
    for &(id, from, to) in chain {
        let bytes: Vec<u8> = blob.query_row([id], |r| r.get(0))?;
        let (deleted, added) = decode_diff(&bytes)?;
        out.push(Diff { from, to, deleted, added });
    }
    Ok(Some(out))
}

/// Records a refresh that found the zone up to date at `primary_serial`.
pub fn record_up_to_date(
    conn: &Connection,
    zone_id: i64,
    primary: &str,
    primary_serial: u32,
) -> Result<(), StoreError> {
    let now = now_secs();
    conn.prepare_cached(
        "UPDATE zones SET primary_serial = ?2, last_success_at = ?3, last_primary = ?4, last_error = NULL,
             last_error_primary = NULL, last_error_at = NULL, backoff = 0, expired = 0 WHERE id = ?1",
    )?
    .execute(params![zone_id, primary_serial, now, primary])?;
    Ok(())
}

/// Records a failed refresh; the data and serial stay as they were.
pub fn record_failure(conn: &Connection, zone_id: i64, primary: Option<&str>, message: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE zones SET last_error = ?2, last_error_primary = ?3, last_error_at = ?4 WHERE id = ?1")?
        .execute(params![zone_id, message, primary, now_secs()])?;
    Ok(())
}

/// Marks the zone expired (RFC 1034 §4.3.5): it keeps its data but is no
/// longer served; refreshes go on.
pub fn set_expired(conn: &Connection, zone_id: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE zones SET expired = 1 WHERE id = ?1")?.execute([zone_id])?;
    Ok(())
}

/// Filters of a record listing.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Exact owner, relative to the zone (`""` = apex), case-insensitive.
    pub name: Option<String>,
    pub rtype: Option<u16>,
}

/// The zone's current records in transfer order, optionally filtered, one page.
pub fn records(
    conn: &Connection,
    zone_id: i64,
    filter: &RecordFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StoredRecord>, u64), StoreError> {
    let (zone_name, version): (String, i64) = conn
        .prepare_cached("SELECT name, version FROM zones WHERE id = ?1")?
        .query_row([zone_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound { kind: "Zone", id: zone_id.to_string() })?;
    let owner = filter.name.as_ref().map(|n| {
        let n = without_final_dot(n).to_ascii_lowercase();
        if n.is_empty() {
            format!("{zone_name}.")
        } else {
            format!("{n}.{zone_name}.")
        }
    });
    if version == PACKED {
        return packed_records(conn, zone_id, owner.as_deref(), filter.rtype, limit, offset);
    }
    let t = table(zone_id, version);
    let filter_sql = "zone_id = ?5 AND (?1 IS NULL OR lower(owner) = ?1) AND (?2 IS NULL OR rtype = ?2)";
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM {t} WHERE {filter_sql}"),
        params![owner, filter.rtype, None::<i64>, None::<i64>, zone_id],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, owner, rtype, class, ttl, rdata FROM {t} WHERE {filter_sql} ORDER BY id LIMIT ?3 OFFSET ?4"
    ))?;
    let rows = stmt
        .query_map(params![owner, filter.rtype, limit, offset, zone_id], |r| {
            Ok(StoredRecord {
                id: r.get(0)?,
                owner: r.get(1)?,
                rtype: r.get(2)?,
                class: r.get(3)?,
                ttl: r.get(4)?,
                rdata: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<StoredRecord>, _>>()?;
    let rows = rows
        .into_iter()
        .map(|mut r| {
            r.id = api_id(&r);
            r
        })
        .collect();
    Ok((rows, total as u64))
}

/// [`records`] of a packed zone: the same filters (`owner` in lower case,
/// absolute) and pages, applied in memory; a record's place is its position.
fn packed_records(
    conn: &Connection,
    zone_id: i64,
    owner: Option<&str>,
    rtype: Option<u16>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StoredRecord>, u64), StoreError> {
    let matching: Vec<StoredRecord> = unpack(zone_id, &packed_blob(conn, zone_id)?)?
        .iter()
        .enumerate()
        .filter(|(_, r)| rtype.is_none_or(|t| r.rtype == t))
        .map(|(i, r)| StoredRecord {
            id: i as i64 + 1,
            owner: r.owner.to_string(),
            rtype: r.rtype,
            class: r.class,
            ttl: r.ttl,
            rdata: r.rdata.clone(),
        })
        .filter(|r| owner.is_none_or(|o| r.owner.to_ascii_lowercase() == o))
        .collect();
    let total = matching.len() as u64;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let page = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .take(limit)
        .map(|mut r| {
            r.id = api_id(&r);
            r
        })
        .collect();
    Ok((page, total))
}

/// The largest record id [`api_id`] gives (the ids the published overlay
/// adds lie above it; both stay below 2^53, exact in JavaScript numbers).
pub const MAX_RECORD_ID: i64 = (1 << 52) - 1;

/// A record's id in the API: derived from what the record is (owner, type,
/// class, RDATA; the SOA by its owner alone, as a zone has one), so it stays
/// the same while the record exists, across full transfers and restarts, and
/// a client that keeps ids never finds another record under one.
fn api_id(r: &StoredRecord) -> i64 {
    let rdata = if r.rtype == crate::wire::rtype::SOA { Vec::new() } else { r.rdata.clone() };
    match crate::wire::Name::from_ascii(&r.owner) {
        Ok(owner) => {
            let key = record_key(&Record { owner, rtype: r.rtype, class: r.class, ttl: 0, rdata });
            (key & MAX_RECORD_ID).max(1)
        }
        // Not a name we wrote: the row number, as before.
        Err(_) => r.id,
    }
}

/// `name` without its final dot, unless that dot is escaped (`dot\.`, a
/// label ending in a dot).
fn without_final_dot(name: &str) -> &str {
    match name.strip_suffix('.') {
        Some(rest) if rest.chars().rev().take_while(|&c| c == '\\').count() % 2 == 0 => rest,
        _ => name,
    }
}

/// Feeds the zone's current records to `push` (owner wire, type, TTL, RDATA),
/// in storage order: how the serving view is built at start-up.
pub fn for_each_record(
    conn: &Connection,
    zone_id: i64,
    mut push: impl FnMut(&[u8], u16, u32, &[u8]) -> Result<(), String>,
) -> Result<u64, StoreError> {
    let version = current_version(conn, zone_id)?;
    if version == PACKED {
        let mut n = 0u64;
        each_packed(zone_id, &packed_blob(conn, zone_id)?, |r| {
            n += 1;
            push(r.owner, r.rtype, r.ttl, r.rdata).map_err(|e| StoreError::Corrupt(format!("zone {zone_id}: {e}")))
        })?;
        return Ok(n);
    }
    let t = table(zone_id, version);
    let mut stmt = conn.prepare_cached(&format!("SELECT owner, rtype, ttl, rdata FROM {t} WHERE zone_id = ?1"))?;
    let mut rows = stmt.query([zone_id])?;
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        let owner: String = row.get(0)?;
        let name = crate::wire::Name::from_ascii(&owner)
            .map_err(|e| StoreError::Corrupt(format!("zone {zone_id}: stored owner `{owner}`: {e}")))?;
        let rdata = row.get_ref(3)?.as_blob().unwrap_or_default();
        push(name.as_wire(), row.get(1)?, row.get(2)?, rdata)
            .map_err(|e| StoreError::Corrupt(format!("zone {zone_id}: {e}")))?;
        n += 1;
    }
    Ok(n)
}

/// Drops record tables no zone version names (left by a crash mid-transfer or
/// by a deleted zone). Run at start-up; returns how many were dropped.
pub fn collect_garbage(conn: &mut Connection) -> Result<u64, StoreError> {
    let mut dropped = conn
        .prepare_cached("DELETE FROM zone_records WHERE zone_id NOT IN (SELECT id FROM zones WHERE version = 0)")?
        .execute([])? as u64;
    dropped += conn
        .prepare_cached("DELETE FROM zone_packed WHERE zone_id NOT IN (SELECT id FROM zones WHERE version = ?1)")?
        .execute([PACKED])? as u64;
    for (name, zone, version) in tables_of(conn, None)? {
        let current: Option<i64> = conn
            .prepare_cached("SELECT version FROM zones WHERE id = ?1")?
            .query_row([zone], |r| r.get(0))
            .optional()?;
        if current != Some(version) {
            conn.execute_batch(&format!("DROP TABLE IF EXISTS {name}"))?;
            dropped += 1;
        }
    }
    Ok(dropped)
}
