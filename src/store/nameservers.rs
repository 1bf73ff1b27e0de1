//! Nameserver sets, custom (vanity) nameservers and the nameservers a zone
//! publishes (issue 5; seeds 000–003).
//!
//! - A *nameserver set* (DNScaster) groups nameservers and carries what the
//!   published records need besides names: the NS TTL, the TTL of the
//!   nameservers' address records, and the hostmaster of the SOA.
//! - A *custom nameserver* (Cloudflare `custom_ns`) is a host name in one set,
//!   with the A/AAAA addresses published for it when it lies inside a zone.
//! - A zone's *NS settings* (DNSimple `ns_records`) are explicit `ns_names`
//!   and `ns_set_ids`; no settings = the primary's NS are published unchanged.
//!
//! The store keeps only the settings; `zone::publish` applies them to the
//! transferred records when they are read, so the data a primary sent is never
//! modified and every refresh is published with the settings re-applied.
//!
//! Invariants kept here, each check inside the transaction that would break it:
//! a set that has nameservers or is used by a zone cannot be deleted; a zone
//! with settings always resolves to at least one nameserver.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{now_secs, zones, Page, Sort, StoreError};

/// TTL of the NS records of a set unless given (one day, as most registries
/// publish delegations).
pub const DEFAULT_NS_TTL: u32 = 86_400;
/// TTL of the nameservers' A/AAAA records unless given (one hour, so an
/// address change propagates within the hour).
pub const DEFAULT_IP_TTL: u32 = 3_600;
/// The largest TTL (RFC 2181 §8: the top bit is not used).
pub const MAX_TTL: u32 = 2_147_483_647;

/// A nameserver set as stored, with what uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameserverSet {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    /// An e-mail address (validated by the API), published as the SOA RNAME.
    pub hostmaster: Option<String>,
    pub ns_ttl: u32,
    pub ip_ttl: u32,
    pub external_ref: Option<String>,
    /// Names of the set's nameservers, in the order they were added.
    pub nameservers: Vec<String>,
    /// Zones whose NS settings name the set.
    pub zones: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl NameserverSet {
    /// DNScaster's `in_use`: it has nameservers or zones use it, so it cannot be deleted.
    pub fn in_use(&self) -> bool {
        !self.nameservers.is_empty() || !self.zones.is_empty()
    }
}

/// The validated fields of a new set (defaults already applied).
#[derive(Debug, Clone)]
pub struct NewSet {
    pub name: String,
    pub hostmaster: Option<String>,
    pub ns_ttl: u32,
    pub ip_ttl: u32,
    pub external_ref: Option<String>,
}

/// A partial update of a set: `None` keeps a field, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct SetChange {
    pub name: Option<String>,
    pub hostmaster: Option<Option<String>>,
    pub ns_ttl: Option<u32>,
    pub ip_ttl: Option<u32>,
    pub external_ref: Option<Option<String>>,
}

/// An address record of a custom nameserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `"A"` or `"AAAA"`.
    pub rtype: String,
    /// The address in canonical text form.
    pub value: String,
}

/// A custom nameserver as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomNs {
    pub id: i64,
    pub account_id: i64,
    /// Lower-case host name without the trailing dot.
    pub ns_name: String,
    pub set_id: i64,
    pub dns_records: Vec<Address>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The validated fields of a new custom nameserver.
#[derive(Debug, Clone)]
pub struct NewCustomNs {
    pub ns_name: String,
    pub set_id: i64,
    pub dns_records: Vec<Address>,
}

/// A zone's NS settings with everything needed to publish them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneNs {
    /// Explicit nameserver names, in the order given.
    pub ns_names: Vec<String>,
    /// The sets, in the order given, with their nameservers.
    pub sets: Vec<NameserverSet>,
    /// The addresses of every custom nameserver of the account that the names
    /// above (explicit or from the sets) refer to, with its set's `ip_ttl`.
    pub addresses: Vec<NsAddresses>,
}

/// The address records of one custom nameserver, as the overlay publishes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsAddresses {
    pub ns_name: String,
    pub ip_ttl: u32,
    pub records: Vec<Address>,
}

impl ZoneNs {
    /// The zone's nameservers in priority order: the explicit names first, then
    /// each set's nameservers; a name listed twice counts once, where it first
    /// appears. The first one is the SOA MNAME.
    pub fn nameservers(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.ns_names
            .iter()
            .chain(self.sets.iter().flat_map(|s| s.nameservers.iter()))
            .filter(|n| seen.insert(n.to_ascii_lowercase()))
            .cloned()
            .collect()
    }

    pub fn set_ids(&self) -> Vec<i64> {
        self.sets.iter().map(|s| s.id).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Nameserver sets

const SET_COLUMNS: &str = "id, account_id, name, hostmaster, ns_ttl, ip_ttl, external_ref, created_at, updated_at";

fn set_from_row(row: &Row) -> rusqlite::Result<NameserverSet> {
    Ok(NameserverSet {
        id: row.get(0)?,
        account_id: row.get(1)?,
        name: row.get(2)?,
        hostmaster: row.get(3)?,
        ns_ttl: row.get(4)?,
        ip_ttl: row.get(5)?,
        external_ref: row.get(6)?,
        nameservers: Vec::new(),
        zones: Vec::new(),
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

fn with_users(conn: &Connection, mut s: NameserverSet) -> Result<NameserverSet, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT ns_name FROM nameservers WHERE set_id = ?1 ORDER BY id")?;
    s.nameservers = stmt.query_map([s.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT z.name FROM zone_ns_config c JOIN zones z ON z.id = c.zone_id WHERE c.set_id = ?1 ORDER BY z.name",
    )?;
    s.zones = stmt.query_map([s.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(s)
}

fn set_not_found(id: &str) -> StoreError {
    StoreError::NotFound { kind: "Nameserver set", id: id.to_string() }
}

fn set_name_taken(conn: &Connection, account: i64, name: &str, except: Option<i64>) -> Result<(), StoreError> {
    let other: Option<i64> = conn
        .prepare_cached("SELECT id FROM nameserver_sets WHERE account_id = ?1 AND name = ?2")?
        .query_row(params![account, name], |r| r.get(0))
        .optional()?;
    match other {
        Some(id) if Some(id) != except => Err(StoreError::Invalid {
            field: "name",
            message: format!("has already been taken: this account already has a nameserver set named `{name}`"),
        }),
        _ => Ok(()),
    }
}

pub fn create_set(conn: &mut Connection, account: i64, new: NewSet) -> Result<NameserverSet, StoreError> {
    let tx = super::write_tx(conn)?;
    set_name_taken(&tx, account, &new.name, None)?;
    let now = now_secs();
    tx.prepare_cached("INSERT INTO nameserver_sets (account_id, name, hostmaster, ns_ttl, ip_ttl, external_ref, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)")?.execute(params![account, new.name, new.hostmaster, new.ns_ttl, new.ip_ttl, new.external_ref, now],
    )?;
    let s = set_by_id(&tx, account, tx.last_insert_rowid())?;
    tx.commit()?;
    Ok(s)
}

fn set_by_id(conn: &Connection, account: i64, id: i64) -> Result<NameserverSet, StoreError> {
    let s = conn
        .query_row(
            &format!("SELECT {SET_COLUMNS} FROM nameserver_sets WHERE account_id = ?1 AND id = ?2"),
            params![account, id],
            set_from_row,
        )
        .optional()?
        .ok_or_else(|| set_not_found(&id.to_string()))?;
    with_users(conn, s)
}

/// Finds a set by id or, when `key` is not a number, by name.
pub fn get_set(conn: &Connection, account: i64, key: &str) -> Result<NameserverSet, StoreError> {
    if let Ok(id) = key.parse::<i64>() {
        return set_by_id(conn, account, id).map_err(|e| match e {
            StoreError::NotFound { .. } => set_not_found(key),
            other => other,
        });
    }
    let s = conn
        .query_row(
            &format!("SELECT {SET_COLUMNS} FROM nameserver_sets WHERE account_id = ?1 AND name = ?2"),
            params![account, key],
            set_from_row,
        )
        .optional()?
        .ok_or_else(|| set_not_found(key))?;
    with_users(conn, s)
}

/// Lists an account's sets, optionally only those with this `external_ref`.
pub fn list_sets(
    conn: &Connection,
    account: i64,
    external_ref: Option<&str>,
    sort: Sort,
    page: Page,
) -> Result<(Vec<NameserverSet>, u64), StoreError> {
    let filter = "account_id = ?1 AND (?2 IS NULL OR external_ref = ?2)";
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM nameserver_sets WHERE {filter}"),
        params![account, external_ref],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {SET_COLUMNS} FROM nameserver_sets WHERE {filter} ORDER BY {} LIMIT ?3 OFFSET ?4",
        sort.order_by()
    ))?;
    let rows: Vec<NameserverSet> = stmt
        .query_map(params![account, external_ref, page.per_page, page.offset()], set_from_row)?
        .collect::<Result<_, _>>()?;
    let items = rows.into_iter().map(|s| with_users(conn, s)).collect::<Result<_, _>>()?;
    Ok((items, total as u64))
}

pub fn update_set(
    conn: &mut Connection,
    account: i64,
    key: &str,
    change: SetChange,
) -> Result<NameserverSet, StoreError> {
    let tx = super::write_tx(conn)?;
    let mut s = get_set(&tx, account, key)?;
    if let Some(name) = change.name {
        set_name_taken(&tx, account, &name, Some(s.id))?;
        s.name = name;
    }
    if let Some(h) = change.hostmaster {
        s.hostmaster = h;
    }
    if let Some(t) = change.ns_ttl {
        s.ns_ttl = t;
    }
    if let Some(t) = change.ip_ttl {
        s.ip_ttl = t;
    }
    if let Some(r) = change.external_ref {
        s.external_ref = r;
    }
    tx.prepare_cached(
        "UPDATE nameserver_sets SET name = ?2, hostmaster = ?3, ns_ttl = ?4, ip_ttl = ?5, external_ref = ?6,
             updated_at = ?7 WHERE id = ?1",
    )?
    .execute(params![s.id, s.name, s.hostmaster, s.ns_ttl, s.ip_ttl, s.external_ref, now_secs()])?;
    let s = set_by_id(&tx, account, s.id)?;
    tx.commit()?;
    Ok(s)
}

/// `a, b and c` for messages.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Deletes a set that nothing uses; a set in use is refused with what uses it.
pub fn delete_set(conn: &mut Connection, account: i64, key: &str) -> Result<NameserverSet, StoreError> {
    let tx = super::write_tx(conn)?;
    let s = get_set(&tx, account, key)?;
    if s.in_use() {
        let mut users = Vec::new();
        match s.nameservers.len() {
            0 => {}
            1 => users.push(format!("it has the nameserver {}", and_list(&s.nameservers))),
            _ => users.push(format!("it has the nameservers {}", and_list(&s.nameservers))),
        }
        match s.zones.len() {
            0 => {}
            1 => users.push(format!("zone {} uses it", and_list(&s.zones))),
            _ => users.push(format!("zones {} use it", and_list(&s.zones))),
        }
        return Err(StoreError::InUse {
            message: format!(
                "Nameserver set `{}` (id {}) is in use: {}. Delete its nameservers and change the zones' NS records first",
                s.name,
                s.id,
                users.join("; ")
            ),
        });
    }
    tx.prepare_cached("DELETE FROM nameserver_sets WHERE id = ?1")?.execute([s.id])?;
    tx.commit()?;
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Custom nameservers

const NS_COLUMNS: &str = "id, account_id, ns_name, set_id, created_at, updated_at";

fn ns_from_row(row: &Row) -> rusqlite::Result<CustomNs> {
    Ok(CustomNs {
        id: row.get(0)?,
        account_id: row.get(1)?,
        ns_name: row.get(2)?,
        set_id: row.get(3)?,
        dns_records: Vec::new(),
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

fn with_addresses(conn: &Connection, mut n: CustomNs) -> Result<CustomNs, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT rtype, address FROM nameserver_addresses WHERE nameserver_id = ?1 ORDER BY position")?;
    n.dns_records =
        stmt.query_map([n.id], |r| Ok(Address { rtype: r.get(0)?, value: r.get(1)? }))?.collect::<Result<_, _>>()?;
    Ok(n)
}

fn ns_not_found(name: &str) -> StoreError {
    StoreError::NotFound { kind: "Custom nameserver", id: name.to_string() }
}

/// Creates a custom nameserver in one of the account's sets.
pub fn create_ns(conn: &mut Connection, account: i64, new: NewCustomNs) -> Result<CustomNs, StoreError> {
    let tx = super::write_tx(conn)?;
    let set_exists = tx
        .prepare_cached("SELECT 1 FROM nameserver_sets WHERE account_id = ?1 AND id = ?2")?
        .query_row(params![account, new.set_id], |_| Ok(()))
        .optional()?
        .is_some();
    if !set_exists {
        return Err(StoreError::Invalid {
            field: "ns_set",
            message: format!("`{}` is not a nameserver set of account {account}", new.set_id),
        });
    }
    let taken = tx
        .prepare_cached("SELECT 1 FROM nameservers WHERE account_id = ?1 AND ns_name = ?2")?
        .query_row(params![account, new.ns_name], |_| Ok(()))
        .optional()?
        .is_some();
    if taken {
        return Err(StoreError::Invalid {
            field: "ns_name",
            message: format!(
                "has already been taken: `{}` is already a custom nameserver of this account",
                new.ns_name
            ),
        });
    }
    let now = now_secs();
    tx.prepare_cached(
        "INSERT INTO nameservers (account_id, set_id, ns_name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![account, new.set_id, new.ns_name, now])?;
    let id = tx.last_insert_rowid();
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO nameserver_addresses (nameserver_id, position, rtype, address) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (i, a) in new.dns_records.iter().enumerate() {
            stmt.execute(params![id, i as i64, a.rtype, a.value])?;
        }
    }
    tx.prepare_cached("UPDATE nameserver_sets SET updated_at = ?2 WHERE id = ?1")?.execute(params![new.set_id, now])?;
    let n = get_ns(&tx, account, &new.ns_name)?;
    tx.commit()?;
    Ok(n)
}

/// Finds a custom nameserver by its (normalized) name.
pub fn get_ns(conn: &Connection, account: i64, ns_name: &str) -> Result<CustomNs, StoreError> {
    let n = conn
        .query_row(
            &format!("SELECT {NS_COLUMNS} FROM nameservers WHERE account_id = ?1 AND ns_name = ?2"),
            params![account, ns_name],
            ns_from_row,
        )
        .optional()?
        .ok_or_else(|| ns_not_found(ns_name))?;
    with_addresses(conn, n)
}

/// Lists an account's custom nameservers, optionally of one set; sorting by
/// `name` sorts by `ns_name`.
pub fn list_ns(
    conn: &Connection,
    account: i64,
    set_id: Option<i64>,
    sort: Sort,
    page: Page,
) -> Result<(Vec<CustomNs>, u64), StoreError> {
    let from = "(SELECT *, ns_name AS name FROM nameservers WHERE account_id = ?1 AND (?2 IS NULL OR set_id = ?2))";
    let total: i64 = conn.query_row(&format!("SELECT count(*) FROM {from}"), params![account, set_id], |r| r.get(0))?;
    let mut stmt =
        conn.prepare(&format!("SELECT {NS_COLUMNS} FROM {from} ORDER BY {} LIMIT ?3 OFFSET ?4", sort.order_by()))?;
    let rows: Vec<CustomNs> = stmt
        .query_map(params![account, set_id, page.per_page, page.offset()], ns_from_row)?
        .collect::<Result<_, _>>()?;
    let items = rows.into_iter().map(|n| with_addresses(conn, n)).collect::<Result<_, _>>()?;
    Ok((items, total as u64))
}

/// Deletes a custom nameserver. Refused when a zone would be left without any
/// nameserver (its settings name only this nameserver's set, and the set has no other).
pub fn delete_ns(conn: &mut Connection, account: i64, ns_name: &str) -> Result<CustomNs, StoreError> {
    let tx = super::write_tx(conn)?;
    let n = get_ns(&tx, account, ns_name)?;
    tx.prepare_cached("DELETE FROM nameservers WHERE id = ?1")?.execute([n.id])?;
    let users: Vec<(i64, String)> = {
        let mut stmt = tx.prepare(
            "SELECT DISTINCT z.id, z.name FROM zone_ns_config c JOIN zones z ON z.id = c.zone_id
             WHERE c.set_id = ?1 ORDER BY z.name",
        )?;
        let rows = stmt.query_map([n.set_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        rows
    };
    let mut stranded = Vec::new();
    for (zone_id, zone) in users {
        if zone_ns(&tx, zone_id)?.is_some_and(|ns| ns.nameservers().is_empty()) {
            stranded.push(zone);
        }
    }
    if !stranded.is_empty() {
        return Err(StoreError::InUse {
            message: format!(
                "Custom nameserver `{}` is the last nameserver of {} {}: deleting it would leave no NS records. \
                 Change the zone's NS records first",
                n.ns_name,
                if stranded.len() == 1 { "zone" } else { "zones" },
                and_list(&stranded),
            ),
        });
    }
    tx.prepare_cached("UPDATE nameserver_sets SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![n.set_id, now_secs()])?;
    tx.commit()?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// Zone NS settings

/// The zone's NS settings, or `None` when it publishes its primary's NS.
pub fn zone_ns(conn: &Connection, zone_id: i64) -> Result<Option<ZoneNs>, StoreError> {
    let rows: Vec<(Option<String>, Option<i64>)> = {
        let mut stmt =
            conn.prepare_cached("SELECT ns_name, set_id FROM zone_ns_config WHERE zone_id = ?1 ORDER BY position")?;
        let rows = stmt.query_map([zone_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        rows
    };
    if rows.is_empty() {
        return Ok(None);
    }
    let mut ns = ZoneNs { ns_names: Vec::new(), sets: Vec::new(), addresses: Vec::new() };
    for (name, set_id) in rows {
        match (name, set_id) {
            (Some(name), _) => ns.ns_names.push(name),
            (None, Some(id)) => {
                let s = conn.query_row(
                    &format!("SELECT {SET_COLUMNS} FROM nameserver_sets WHERE id = ?1"),
                    [id],
                    set_from_row,
                )?;
                ns.sets.push(with_users(conn, s)?);
            }
            (None, None) => {}
        }
    }
    let account: i64 =
        conn.prepare_cached("SELECT account_id FROM zones WHERE id = ?1")?.query_row([zone_id], |r| r.get(0))?;
    let wanted: HashSet<String> = ns.nameservers().iter().map(|n| n.to_ascii_lowercase()).collect();
    let mut stmt = conn.prepare_cached(
        "SELECT n.ns_name, s.ip_ttl, a.rtype, a.address FROM nameservers n
           JOIN nameserver_sets s ON s.id = n.set_id
           JOIN nameserver_addresses a ON a.nameserver_id = n.id
         WHERE n.account_id = ?1 ORDER BY n.id, a.position",
    )?;
    let mut rows = stmt.query([account])?;
    while let Some(r) = rows.next()? {
        let name: String = r.get(0)?;
        if !wanted.contains(&name) {
            continue;
        }
        let address = Address { rtype: r.get(2)?, value: r.get(3)? };
        match ns.addresses.last_mut() {
            Some(last) if last.ns_name == name => last.records.push(address),
            _ => ns.addresses.push(NsAddresses { ns_name: name, ip_ttl: r.get(1)?, records: vec![address] }),
        }
    }
    Ok(Some(ns))
}

/// Replaces a zone's NS settings. Refused, changing nothing, when the zone or a
/// set is not in the account (404) or the result has no nameserver (400).
/// `ns_names` must already be validated host names.
pub fn set_zone_ns(
    conn: &mut Connection,
    account: i64,
    zone: &str,
    ns_names: &[String],
    set_ids: &[i64],
) -> Result<(zones::Zone, ZoneNs), StoreError> {
    let tx = super::write_tx(conn)?;
    let z = zones::get(&tx, account, zone)?;
    for id in set_ids {
        set_by_id(&tx, account, *id)?;
    }
    tx.prepare_cached("DELETE FROM zone_ns_config WHERE zone_id = ?1")?.execute([z.id])?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO zone_ns_config (zone_id, position, ns_name, set_id) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let entries =
            ns_names.iter().map(|n| (Some(n.as_str()), None)).chain(set_ids.iter().map(|id| (None, Some(*id))));
        for (position, (name, set_id)) in entries.enumerate() {
            stmt.execute(params![z.id, position as i64, name, set_id])?;
        }
    }
    let ns = zone_ns(&tx, z.id)?.unwrap_or(ZoneNs { ns_names: Vec::new(), sets: Vec::new(), addresses: Vec::new() });
    if ns.nameservers().is_empty() {
        let (field, message) = if set_ids.is_empty() {
            ("ns_names", "can't be blank: give ns_names or ns_set_ids".to_string())
        } else {
            (
                "ns_set_ids",
                format!(
                    "name sets without nameservers and no ns_names are given: zone `{}` would have no NS records",
                    z.name
                ),
            )
        };
        return Err(StoreError::Invalid { field, message });
    }
    tx.prepare_cached("UPDATE zones SET updated_at = ?2 WHERE id = ?1")?.execute(params![z.id, now_secs()])?;
    tx.commit()?;
    Ok((z, ns))
}

/// Removes a zone's NS settings: it publishes its primary's NS again.
pub fn clear_zone_ns(conn: &mut Connection, account: i64, zone: &str) -> Result<zones::Zone, StoreError> {
    let tx = super::write_tx(conn)?;
    let z = zones::get(&tx, account, zone)?;
    let removed = tx.prepare_cached("DELETE FROM zone_ns_config WHERE zone_id = ?1")?.execute([z.id])?;
    if removed > 0 {
        tx.prepare_cached("UPDATE zones SET updated_at = ?2 WHERE id = ?1")?.execute(params![z.id, now_secs()])?;
    }
    tx.commit()?;
    Ok(z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{migrations, SortColumn};

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().expect("in-memory db");
        conn.pragma_update(None, "foreign_keys", "ON").expect("pragma");
        migrations::migrate(&mut conn).expect("migrate");
        conn
    }

    const ALL: Page = Page { page: 1, per_page: 100 };

    fn new_set(name: &str) -> NewSet {
        NewSet {
            name: name.into(),
            hostmaster: None,
            ns_ttl: DEFAULT_NS_TTL,
            ip_ttl: DEFAULT_IP_TTL,
            external_ref: None,
        }
    }

    fn add_ns(c: &mut Connection, account: i64, name: &str, set_id: i64) -> CustomNs {
        let a = Address { rtype: "A".into(), value: "192.0.2.1".into() };
        create_ns(c, account, NewCustomNs { ns_name: name.into(), set_id, dns_records: vec![a] }).expect("custom ns")
    }

    #[test]
    fn a_set_in_use_cannot_be_deleted_and_the_refusal_names_its_users() {
        let mut c = db();
        let s = create_set(&mut c, 1, new_set("main")).expect("set");
        assert!(!s.in_use());
        add_ns(&mut c, 1, "ns1.example.net", s.id);
        zones::create(&mut c, 1, "example.com", false).expect("zone");
        set_zone_ns(&mut c, 1, "example.com", &[], &[s.id]).expect("settings");
        let before = get_set(&c, 1, "main").expect("set");
        assert!(before.in_use());
        assert_eq!(before.zones, ["example.com"]);
        let e = delete_set(&mut c, 1, "main").expect_err("in use");
        let StoreError::InUse { message } = e else { panic!("not InUse: {e}") };
        assert!(message.contains("ns1.example.net") && message.contains("example.com"), "{message}");
        assert_eq!(get_set(&c, 1, &s.id.to_string()).expect("still there"), before);

        clear_zone_ns(&mut c, 1, "example.com").expect("clear");
        delete_ns(&mut c, 1, "ns1.example.net").expect("delete ns");
        delete_set(&mut c, 1, "main").expect("unused set deleted");
        assert!(matches!(get_set(&c, 1, "main"), Err(StoreError::NotFound { kind: "Nameserver set", .. })));
    }

    #[test]
    fn zone_settings_resolve_names_first_then_sets_and_refusals_change_nothing() {
        let mut c = db();
        let a = create_set(&mut c, 1, new_set("a")).expect("set");
        let b = create_set(&mut c, 1, new_set("b")).expect("set");
        let other = create_set(&mut c, 2, new_set("theirs")).expect("set");
        add_ns(&mut c, 1, "ns1.example.net", a.id);
        add_ns(&mut c, 1, "ns2.example.net", a.id);
        add_ns(&mut c, 1, "ns3.example.net", b.id);
        let z = zones::create(&mut c, 1, "example.com", false).expect("zone");
        assert_eq!(zone_ns(&c, z.id).expect("read"), None);

        let names = vec!["ns.provider.test".to_string(), "ns2.example.net".to_string()];
        let (_, ns) = set_zone_ns(&mut c, 1, "example.com", &names, &[b.id, a.id]).expect("settings");
        assert_eq!(
            ns.nameservers(),
            ["ns.provider.test", "ns2.example.net", "ns3.example.net", "ns1.example.net"],
            "explicit names, then set b, then set a; ns2 once"
        );
        assert_eq!(ns.set_ids(), [b.id, a.id]);
        assert_eq!(ns.addresses.len(), 3, "the custom nameservers named have their addresses");
        let stored = zone_ns(&c, z.id).expect("read");
        assert_eq!(stored.as_ref(), Some(&ns));

        let missing = set_zone_ns(&mut c, 1, "example.com", &[], &[other.id]).expect_err("other account's set");
        assert!(matches!(missing, StoreError::NotFound { kind: "Nameserver set", .. }), "{missing}");
        let empty_set = create_set(&mut c, 1, new_set("empty")).expect("set");
        let empty = set_zone_ns(&mut c, 1, "example.com", &[], &[empty_set.id]).expect_err("no nameservers");
        assert!(matches!(empty, StoreError::Invalid { field: "ns_set_ids", .. }), "{empty}");
        let nozone = set_zone_ns(&mut c, 1, "nope.example", &names, &[]).expect_err("no zone");
        assert!(matches!(nozone, StoreError::NotFound { kind: "Zone", .. }));
        assert_eq!(zone_ns(&c, z.id).expect("read"), stored, "refused requests changed nothing");

        zones::delete(&mut c, 1, "example.com").expect("delete zone");
        assert!(get_set(&c, 1, "a").expect("set").zones.is_empty(), "a deleted zone no longer uses the set");
    }

    #[test]
    fn the_last_nameserver_a_zone_depends_on_cannot_be_deleted() {
        let mut c = db();
        let s = create_set(&mut c, 1, new_set("only")).expect("set");
        add_ns(&mut c, 1, "ns1.example.net", s.id);
        add_ns(&mut c, 1, "ns2.example.net", s.id);
        zones::create(&mut c, 1, "example.com", false).expect("zone");
        set_zone_ns(&mut c, 1, "example.com", &[], &[s.id]).expect("settings");
        delete_ns(&mut c, 1, "ns1.example.net").expect("one of two");
        let e = delete_ns(&mut c, 1, "ns2.example.net").expect_err("the last one");
        assert!(matches!(&e, StoreError::InUse { message } if message.contains("example.com")), "{e}");
        assert_eq!(get_ns(&c, 1, "ns2.example.net").expect("kept").set_id, s.id);
    }

    #[test]
    fn custom_nameservers_are_unique_per_account_and_need_a_set_of_the_account() {
        let mut c = db();
        let mine = create_set(&mut c, 1, new_set("mine")).expect("set");
        let theirs = create_set(&mut c, 2, new_set("theirs")).expect("set");
        let n = add_ns(&mut c, 1, "ns1.example.net", mine.id);
        assert_eq!(n.dns_records, [Address { rtype: "A".into(), value: "192.0.2.1".into() }]);
        let dup = NewCustomNs { ns_name: "ns1.example.net".into(), set_id: mine.id, dns_records: vec![] };
        assert!(matches!(create_ns(&mut c, 1, dup.clone()), Err(StoreError::Invalid { field: "ns_name", .. })));
        let foreign = NewCustomNs { ns_name: "ns9.example.net".into(), set_id: theirs.id, dns_records: vec![] };
        assert!(matches!(create_ns(&mut c, 1, foreign), Err(StoreError::Invalid { field: "ns_set", .. })));
        add_ns(&mut c, 2, "ns1.example.net", theirs.id);
        let (mine_listed, total) = list_ns(&c, 1, None, Sort::DEFAULT, ALL).expect("list");
        assert_eq!((mine_listed.len(), total), (1, 1));
        assert!(matches!(create_set(&mut c, 1, new_set("mine")), Err(StoreError::Invalid { field: "name", .. })));
    }

    #[test]
    fn set_lists_filter_on_external_ref_sort_and_paginate() {
        let mut c = db();
        for (name, r) in [("b", Some("crm-1")), ("c", None), ("a", Some("crm-1"))] {
            create_set(&mut c, 1, NewSet { external_ref: r.map(str::to_string), ..new_set(name) }).expect("set");
        }
        let by_name = Sort { column: SortColumn::Name, descending: false };
        let (items, total) = list_sets(&c, 1, Some("crm-1"), by_name, ALL).expect("list");
        assert_eq!(total, 2);
        assert_eq!(items.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let (items, total) = list_sets(&c, 1, None, Sort::DEFAULT, Page { page: 2, per_page: 2 }).expect("list");
        assert_eq!((total, items.len()), (3, 1));
        let changed = update_set(
            &mut c,
            1,
            "c",
            SetChange { ns_ttl: Some(60), external_ref: Some(Some("x".into())), ..SetChange::default() },
        )
        .expect("update");
        assert_eq!((changed.ns_ttl, changed.ip_ttl, changed.external_ref.as_deref()), (60, DEFAULT_IP_TTL, Some("x")));
        let renamed = update_set(&mut c, 1, "c", SetChange { name: Some("a".into()), ..SetChange::default() });
        assert!(matches!(renamed, Err(StoreError::Invalid { field: "name", .. })));
    }
}
