//! The shapes of the control API: every request and response body as a
//! serde struct, the one definition that the handlers ([`crate::api`])
//! produce and `secondaryctl`, [`crate::client`] and the tests consume, so a
//! field exists in one place and the compiler finds every user.
//!
//! Field names and nesting are the contract (DNSimple's names where DNSimple
//! has the object, our extensions beside them): do not rename a field to
//! taste. A field that can be empty is an `Option` written as `null`, never
//! left out, so clients can rely on every key being present. Times are
//! RFC 3339 UTC strings (`2021-03-17T23:44:27Z`), except the Unix seconds of
//! [`LastTransfer::at`].
//!
//! Responses are `{"data": …}` ([`Data`]); lists add `pagination` ([`List`]);
//! errors are [`ErrorBody`]. The daemon does not read request bodies into the
//! request structs: it reads them field by field (`api::input`) so that every
//! problem is reported naming its field. The request structs are what clients
//! send; an optional field left `None` is not sent.
//!
//! This module imports nothing of ours, so every part can use it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A list of zone names, kept as JSON text in pieces: the daemon's index of
/// links keeps a primary's names in chunks, each with its text, and a
/// response copies those pieces in as they are ([`ZoneNames::write_json`]: a
/// primary with 10,000 zones costs no string per zone per request, and a
/// link re-renders one chunk, not the list); clients read [`ZoneNames::names`].
///
/// Each piece is names as JSON strings separated by commas (`"a","b"`), none
/// empty; the array is `[`, the pieces joined by commas, `]`.
#[derive(Debug, Clone, Default)]
pub struct ZoneNames(std::sync::Arc<[std::sync::Arc<str>]>);

impl ZoneNames {
    /// From the pieces of the array's text, in order (as the daemon's index
    /// renders them; see [`ZoneNames::piece`]).
    pub fn from_pieces(pieces: Vec<std::sync::Arc<str>>) -> ZoneNames {
        ZoneNames(pieces.into_iter().filter(|p| !p.is_empty()).collect())
    }

    pub fn from_names<S: AsRef<str>>(names: &[S]) -> ZoneNames {
        ZoneNames::from_pieces(vec![ZoneNames::piece(names).into()])
    }

    /// The text of `names` as one piece: JSON strings separated by commas.
    pub fn piece<S: AsRef<str>>(names: &[S]) -> String {
        let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        // A list of strings always serializes, to `[…]`.
        let text = serde_json::to_string(&names).unwrap_or_else(|_| "[]".into());
        text.get(1..text.len() - 1).unwrap_or_default().to_string()
    }

    pub fn names(&self) -> Vec<String> {
        serde_json::from_str(&self.as_json()).unwrap_or_default()
    }

    /// The pieces of the text, shared (without the brackets and the commas
    /// between pieces).
    pub fn pieces(&self) -> &[std::sync::Arc<str>] {
        &self.0
    }

    /// Appends the JSON array to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.reserve(2 + self.0.iter().map(|p| p.len() + 1).sum::<usize>());
        out.push(b'[');
        for (i, piece) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(piece.as_bytes());
        }
        out.push(b']');
    }

    /// The JSON array.
    pub fn as_json(&self) -> String {
        let mut text = Vec::new();
        self.write_json(&mut text);
        // Pieces of `str` joined by ASCII are UTF-8.
        String::from_utf8(text).unwrap_or_else(|_| "[]".to_string())
    }
}

impl PartialEq for ZoneNames {
    fn eq(&self, other: &ZoneNames) -> bool {
        self.as_json() == other.as_json()
    }
}

impl Eq for ZoneNames {}

impl Serialize for ZoneNames {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        // The common case, names without escapes (`"a.example","b.example"`):
        // the names are the text between the quotes, written as they are,
        // without parsing (and checking) the whole list on every answer.
        if self.0.iter().all(|p| !p.contains('\\')) {
            let mut seq = s.serialize_seq(None)?;
            for piece in self.0.iter() {
                if let Some(names) = piece.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                    for name in names.split("\",\"") {
                        seq.serialize_element(name)?;
                    }
                }
            }
            return seq.end();
        }
        let raw = serde_json::value::RawValue::from_string(self.as_json()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ZoneNames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ZoneNames::from_names(&Vec::<String>::deserialize(d)?))
    }
}

/// `{"data": …}`: the envelope of every success body but lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data<T> {
    pub data: T,
}

/// `{"data": […], "pagination": …}`: one page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// Where a page lies in a list (DNSimple's `pagination`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    pub current_page: u32,
    pub per_page: u32,
    pub total_entries: u64,
    pub total_pages: u64,
}

/// Every error body: a message for people and, for invalid input, the
/// problems per field (left out when there are none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, Vec<String>>,
}

/// `GET /v2/whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    /// The token's account; `null` on the Unix socket, which reaches every account.
    pub account: Option<Account>,
    /// Always `null`: there are no users, only accounts.
    pub user: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
}

// ---------------------------------------------------------------------------
// Primary servers: `/v2/{account}/secondary_dns/primaries`

/// DNSimple's PrimaryServer, plus `tsig_key` and `notify_requires_tsig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryServer {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub ip: String,
    pub port: u16,
    /// The name of a `[[tsig_key]]` of the daemon's config.
    pub tsig_key: Option<String>,
    pub notify_requires_tsig: bool,
    /// The zones it is linked to, by name, in name order.
    pub linked_secondary_zones: ZoneNames,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST …/secondary_dns/primaries`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPrimaryServer {
    pub name: String,
    pub ip: String,
    /// 53 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_requires_tsig: Option<bool>,
}

/// `PUT …/primaries/{id}/link` and `…/unlink`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneLink {
    pub zone: String,
}

// ---------------------------------------------------------------------------
// Zones: `POST …/secondary_dns/zones`, `GET …/zones[/{zone}]`

/// DNSimple's Zone, plus our `catalog`, `catalog_member`, `primaries` (in
/// the order they are tried) and `transfer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub reverse: bool,
    pub secondary: bool,
    pub last_transferred_at: Option<String>,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// A catalog zone (RFC 9432) that we consume.
    pub catalog: bool,
    /// The catalog that created this zone, if one did.
    pub catalog_member: Option<CatalogMember>,
    pub primaries: Vec<ZonePrimary>,
    pub transfer: Transfer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogMember {
    pub catalog_id: i64,
    pub group: Option<String>,
}

/// A primary of a zone, as the zone sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZonePrimary {
    pub id: i64,
    pub name: String,
    pub ip: String,
    pub port: u16,
    /// The last transfer or SOA check went to this one.
    pub last_used: bool,
}

/// A zone's state in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneState {
    /// No copy yet.
    Bootstrapping,
    Ok,
    /// An event of the zone is running now.
    Refreshing,
    /// The last attempt failed; the copy we hold is served.
    Retrying,
    /// Not refreshed within SOA EXPIRE: the zone answers SERVFAIL.
    Expired,
}

impl ZoneState {
    /// The one word for a zone whose event is `running` (or not), `expired`
    /// (or not), that holds a copy (`has_copy`) and whose last attempt
    /// `failed`: the zone listing's and the metrics' rule.
    pub fn of(running: bool, expired: bool, has_copy: bool, failed: bool) -> ZoneState {
        if running {
            ZoneState::Refreshing
        } else if expired {
            ZoneState::Expired
        } else if !has_copy {
            ZoneState::Bootstrapping
        } else if failed {
            ZoneState::Retrying
        } else {
            ZoneState::Ok
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ZoneState::Bootstrapping => "bootstrapping",
            ZoneState::Ok => "ok",
            ZoneState::Refreshing => "refreshing",
            ZoneState::Retrying => "retrying",
            ZoneState::Expired => "expired",
        }
    }
}

impl fmt::Display for ZoneState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `transfer` object of a zone: where its copy stands and what happens next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub state: ZoneState,
    /// The serial we hold.
    pub serial: Option<u32>,
    /// The newest serial a primary reported.
    pub primary_serial: Option<u32>,
    pub records: u64,
    pub refreshing: bool,
    pub queued: bool,
    pub attempts: u64,
    pub last_attempt_at: Option<String>,
    pub last_success_at: Option<String>,
    /// `name (ip:port)` of the primary of the last success.
    pub last_primary: Option<String>,
    pub last_transfer: Option<LastTransfer>,
    pub last_error: Option<LastError>,
    pub next_refresh_at: Option<String>,
    pub expires_at: Option<String>,
    /// Failures in a row.
    pub backoff: u32,
    /// The SOA timers in effect (after the config's clamps) and MINIMUM.
    pub timers: Option<Timers>,
    pub last_notify: Option<LastNotify>,
    /// The last NOTIFY to each downstream.
    pub notify_out: Vec<NotifyOut>,
}

/// The summary of the last transfer that was committed. The daemon stores it
/// with the zone and shows it as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastTransfer {
    /// `AXFR`, `IXFR`, or `IXFR→AXFR` (an IXFR request answered with the whole zone).
    #[serde(rename = "type")]
    pub kind: String,
    pub primary: String,
    pub serial_from: Option<u32>,
    pub serial_to: u32,
    pub messages: u64,
    pub records: u64,
    pub bytes: u64,
    /// Receiving the transfer.
    pub duration_ms: u64,
    /// Unix seconds.
    pub at: i64,
    /// Committing it, until the new version was served. A small zone's load
    /// and an IXFR record it in their commit's own transaction, up to its
    /// end (the view serves them microseconds after); a large load's, once
    /// its commit and its view are done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_ms: Option<u64>,
    /// From the start until the new version was served (as `commit_ms`); written with `commit_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    pub primary: Option<String>,
    pub message: String,
    pub at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timers {
    /// Seconds.
    pub refresh: u64,
    pub retry: u64,
    pub expire: u64,
    /// SOA MINIMUM, as the primary gives it.
    pub minimum: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastNotify {
    pub from: String,
    pub serial: Option<u32>,
    pub at: String,
}

/// The last NOTIFY to one downstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyOut {
    pub target: String,
    pub serial: u32,
    /// `sending`, `acknowledged`, `refused` or `unanswered`.
    pub state: String,
    pub tries: u32,
    pub error: Option<String>,
    pub at: String,
}

/// `POST …/secondary_dns/zones`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewZone {
    pub name: String,
    /// A catalog zone to consume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<bool>,
    /// An extension: primary servers (ids or names) linked at once, in the
    /// order they are tried, so adding a zone is one request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primaries: Vec<String>,
}

/// What `POST …/zones/{zone}/refresh` and `…/retransfer` schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneEvent {
    /// A SOA check, and a transfer if the primary's serial is newer.
    Refresh,
    /// A full AXFR whatever the serial.
    Retransfer,
}

impl ZoneEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneEvent::Refresh => "refresh",
            ZoneEvent::Retransfer => "retransfer",
        }
    }
}

impl fmt::Display for ZoneEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer (202) of `POST …/zones/{zone}/refresh` and `…/retransfer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub zone: String,
    pub event: ZoneEvent,
    /// The zone's attempts before this one: it has run once they are more.
    pub attempts: u64,
}

/// `GET …/zones/{zone}/distribution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distribution {
    pub distributed: bool,
}

/// `GET …/zones/{zone}/file`: the zone as an RFC 1035 master file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneFile {
    pub zone: String,
}

/// DNSimple's ZoneRecord, as we publish it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: i64,
    /// The zone's name.
    pub zone_id: String,
    pub parent_id: Option<i64>,
    /// Relative to the zone; `""` at the apex.
    pub name: String,
    pub content: String,
    pub ttl: u32,
    pub priority: Option<u32>,
    #[serde(rename = "type")]
    pub kind: String,
    pub regions: Vec<String>,
    /// The SOA, the apex NS and what the zone's NS settings add.
    pub system_record: bool,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

// ---------------------------------------------------------------------------
// Nameservers: sets, custom nameservers, a zone's NS settings

/// `/v2/{account}/nameserver_sets`: nameservers grouped with the TTLs and
/// the hostmaster published with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameserverSet {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub hostmaster: Option<String>,
    pub ns_ttl: u32,
    pub ip_ttl: u32,
    pub external_ref: Option<String>,
    pub in_use: bool,
    /// Its custom nameservers, by name.
    pub nameservers: Vec<String>,
    /// The zones that publish it, by name.
    pub zones: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST …/nameserver_sets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewNameserverSet {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostmaster: Option<String>,
    /// 86400 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns_ttl: Option<u32>,
    /// 3600 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
}

/// `PUT …/nameserver_sets/{id}`: `None` leaves a field as it is;
/// `Some(None)` sends `null`, which clears `hostmaster` or `external_ref`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameserverSetChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub hostmaster: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns_ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub external_ref: Option<Option<String>>,
}

/// A field that is present: `null` is `Some(None)`, not `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `/v2/{account}/custom_ns`: a custom (vanity) nameserver of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomNs {
    pub ns_name: String,
    /// The id of its nameserver set.
    pub ns_set: i64,
    pub dns_records: Vec<NsAddress>,
    pub created_at: String,
    pub updated_at: String,
}

/// An address of a custom nameserver: `{type: "A"|"AAAA", value}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsAddress {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// `POST …/custom_ns`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCustomNs {
    pub ns_name: String,
    pub ns_set: i64,
    #[serde(default)]
    pub dns_records: Vec<NsAddress>,
}

/// `PUT …/zones/{zone}/ns_records`: the nameservers a zone publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsSettings {
    #[serde(default)]
    pub ns_names: Vec<String>,
    #[serde(default)]
    pub ns_set_ids: Vec<i64>,
}

/// `GET …/zones/{zone}/ns_records`: the NS records the zone publishes, and
/// its settings (`null`: the primary's NS are published).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsRecords {
    pub data: Vec<Record>,
    pub settings: Option<NsSettings>,
}

/// `GET …/zones/{zone}/nameservers`: where to delegate the zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    pub hostname: String,
    /// 1 is the SOA MNAME.
    pub priority: u32,
}

/// One of a zone's own downstream secondaries (`…/zones/{zone}/downstreams`).
/// In an answer, `notify` is the NOTIFY target in effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downstream {
    /// An IP address or a network that may transfer the zone.
    pub address: String,
    #[serde(default)]
    pub tsig_key: Option<String>,
    /// IP:PORT that gets a NOTIFY after each new version.
    #[serde(default)]
    pub notify: Option<String>,
}

/// `PUT …/zones/{zone}/downstreams`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downstreams {
    pub downstreams: Vec<Downstream>,
}

// ---------------------------------------------------------------------------
// The daemon: `POST /v2/reload`

/// What a config reload did: the file re-read, the sections whose changes
/// are in force, those that wait for a restart, and remarks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Reloaded {
    pub config: String,
    pub applied: Vec<String>,
    pub restart_needed: Vec<String>,
    pub notes: Vec<String>,
}

// The daemon: `GET /v2/status`

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub zones: ZoneCounts,
    /// At most 100, expired first.
    pub not_in_sync: Vec<NotInSync>,
    /// The daemon-wide figures below are `null` for an account's token (over
    /// TCP): they count every account's zones and traffic.
    pub events: Option<EventCounts>,
    pub notify: Option<NotifyCounters>,
    pub queries: Option<QueryCounters>,
    pub transfers_out: Option<TransfersOut>,
    /// The last write the store refused (a full disk, `store.max_size_mib`),
    /// while it refuses them: `null` when it writes. Daemon-wide, so `null`
    /// for an account's token too.
    pub store_write_error: Option<StoreWriteError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreWriteError {
    pub message: String,
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneCounts {
    pub total: i64,
    pub bootstrapping: i64,
    pub ok: i64,
    pub retrying: i64,
    pub expired: i64,
    pub expiring_within_24h: i64,
    pub records: i64,
}

/// A zone without a copy, expired, or whose last attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotInSync {
    pub name: String,
    pub account_id: i64,
    pub state: ZoneState,
    pub serial: Option<u32>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub expires_at: Option<String>,
}

/// Zone events of the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    pub running: u64,
    pub waiting: u64,
    pub scheduled: u64,
    pub peak_running: u64,
    pub concurrency: u64,
}

/// NOTIFY received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyCounters {
    pub accepted: u64,
    pub refused: u64,
    pub malformed_dropped: u64,
    pub other_opcodes: u64,
}

/// Queries answered, per rcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryCounters {
    pub noerror: u64,
    pub formerr: u64,
    pub servfail: u64,
    pub nxdomain: u64,
    pub notimp: u64,
    pub refused: u64,
    pub other: u64,
    pub rate_limit: RateLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub enabled: bool,
    pub dropped: u64,
    pub slipped: u64,
}

/// Zone transfers to downstreams: finished, refused (any error answer),
/// failed midway (the client went away or stalled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransfersOut {
    pub finished: u64,
    pub refused: u64,
    pub failed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_change_sends_null_to_clear_and_leaves_out_what_stays() {
        let change = NameserverSetChange { hostmaster: Some(None), ns_ttl: Some(60), ..Default::default() };
        let text = serde_json::to_string(&change).expect("serialize");
        assert_eq!(text, r#"{"hostmaster":null,"ns_ttl":60}"#);
        assert_eq!(serde_json::from_str::<NameserverSetChange>(&text).expect("deserialize"), change);
    }

    #[test]
    fn an_error_without_field_errors_is_only_a_message() {
        let e = ErrorBody { message: "Not found".into(), errors: BTreeMap::new() };
        assert_eq!(serde_json::to_string(&e).expect("serialize"), r#"{"message":"Not found"}"#);
        let back: ErrorBody = serde_json::from_str(r#"{"message":"Not found"}"#).expect("deserialize");
        assert_eq!(back, e);
    }

    #[test]
    fn a_last_transfer_stored_before_its_commit_time_reads_and_writes_without_it() {
        let stored = r#"{"type":"IXFR→AXFR","primary":"p (127.0.0.1:53)","serial_from":1,"serial_to":2,"messages":3,"records":4,"bytes":5,"duration_ms":6,"at":7}"#;
        let t: LastTransfer = serde_json::from_str(stored).expect("deserialize");
        assert_eq!((t.kind.as_str(), t.commit_ms), ("IXFR→AXFR", None));
        assert_eq!(serde_json::to_string(&t).expect("serialize"), stored);
    }
}

#[cfg(test)]
mod zone_names_tests {
    use super::ZoneNames;

    #[test]
    fn zone_names_serialize_as_the_list_they_hold() {
        for names in [vec![], vec!["a.example"], vec!["a.example", "b.example", "c-d.example"], vec!["we\"ird", "x"]] {
            let z = ZoneNames::from_names(&names);
            let json = serde_json::to_string(&z).expect("serialize");
            assert_eq!(json, serde_json::to_string(&names).expect("names"), "{names:?}");
            let back: ZoneNames = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back.names(), names);
        }
        assert_eq!(serde_json::to_string(&ZoneNames::default()).expect("empty"), "[]");
        // In pieces, as the link index hands them out.
        let z = ZoneNames::from_pieces(vec![ZoneNames::piece(&["a", "b"]).into(), ZoneNames::piece(&["c"]).into()]);
        assert_eq!(z.as_json(), r#"["a","b","c"]"#);
        assert_eq!(serde_json::to_string(&z).expect("serialize"), r#"["a","b","c"]"#);
        let z = ZoneNames::from_pieces(vec![ZoneNames::piece(&["a"]).into(), ZoneNames::piece(&["we\"ird"]).into()]);
        assert_eq!(serde_json::to_string(&z).expect("serialize"), r#"["a","we\"ird"]"#);
        assert_eq!(z.names(), ["a", "we\"ird"]);
    }
}
