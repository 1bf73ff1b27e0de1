//! The nameservers of a zone: `PUT /zones/{zone}/ns_records` (DNSimple, seed
//! 000) sets which NS records we publish, `DELETE` goes back to the primary's,
//! `GET` shows the published NS records and the settings (our extension), and
//! `GET /zones/{zone}/nameservers` (seed 002) lists where the zone should be
//! delegated, priority 1 being the SOA MNAME.
//!
//! The settings never touch the transferred data; the records we publish are
//! computed from both by `zone::publish` whenever the zone is read.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::error::ApiError;
use super::input::{Body, RawBody};
use super::records::{apex, published, to_model};
use super::zones::{load, path_zone};
use super::{data, opt_timestamp, App, Ctx, One};
use crate::model::{Delegation, NsRecords, NsSettings, Record};
use crate::store::nameservers::{self, ZoneNs};
use crate::store::zonedata::{RecordFilter, StoredRecord};
use crate::store::zones::Zone;
use crate::store::StoreError;
use crate::wire::rtype;
use crate::zone::name::normalize_host_name;
use crate::zone::publish::delegation;

/// At most this many explicit names and sets (a referral must still fit in a UDP answer).
const MAX_ENTRIES: usize = 32;

/// The published apex NS and SOA of a zone (what the NS endpoints show).
async fn apex_records(app: &App, z: &Zone, rtype: Option<u16>) -> Result<Vec<StoredRecord>, ApiError> {
    published(app, z, RecordFilter { name: Some(String::new()), rtype }, true).await
}

async fn ns_records(app: &App, z: &Zone) -> Result<Vec<Record>, ApiError> {
    let at = opt_timestamp(z.last_transferred_at);
    let records = apex_records(app, z, Some(rtype::NS)).await?;
    Ok(records.iter().map(|r| to_model(r, &z.name, &at)).collect())
}

fn settings(ns: &ZoneNs) -> NsSettings {
    NsSettings { ns_names: ns.ns_names.clone(), ns_set_ids: ns.set_ids() }
}

/// Reads and checks `{ns_names?, ns_set_ids?}`; every problem names its field.
fn parse_settings(body: &Bytes) -> Result<(Vec<String>, Vec<i64>), ApiError> {
    let mut b = Body::parse(body)?;
    let mut names = Vec::new();
    let given = b.string_list("ns_names").unwrap_or_default();
    if given.len() > MAX_ENTRIES {
        b.error("ns_names", format!("has {} entries; at most {MAX_ENTRIES} are allowed", given.len()));
    }
    let mut seen = HashSet::new();
    for (i, n) in given.iter().enumerate() {
        match normalize_host_name(n.trim()) {
            Ok(n) if !seen.insert(n.clone()) => b.error("ns_names", format!("entry {}: `{n}` is listed twice", i + 1)),
            Ok(n) => names.push(n),
            Err(problem) => b.error("ns_names", format!("entry {} (`{n}`): {problem}", i + 1)),
        }
    }
    let ids = b.integer_list("ns_set_ids").unwrap_or_default();
    if ids.len() > MAX_ENTRIES {
        b.error("ns_set_ids", format!("has {} entries; at most {MAX_ENTRIES} are allowed", ids.len()));
    }
    let mut seen = HashSet::new();
    for id in &ids {
        if !seen.insert(*id) {
            b.error("ns_set_ids", format!("set {id} is listed twice"));
        }
    }
    if given.is_empty() && ids.is_empty() && !b.has_error("ns_names") && !b.has_error("ns_set_ids") {
        b.error(
            "ns_names",
            "can't be blank: give ns_names, ns_set_ids or both (DELETE …/ns_records publishes the primary's NS again)",
        );
    }
    b.finish()?;
    Ok((names, ids))
}

/// `PUT /zones/{zone}/ns_records`: 200 with the NS records the zone now publishes.
pub async fn update(State(app): State<App>, ctx: Ctx, RawBody(body): RawBody) -> Result<One<Vec<Record>>, ApiError> {
    let (names, ids) = parse_settings(&body)?;
    let (account, zone) = (ctx.account, path_zone(&ctx));
    let (z, ns) = app.store.call(move |c| nameservers::set_zone_ns(c, account, &zone, &names, &ids)).await.map_err(
        |e| match e {
            StoreError::NotFound { kind: kind @ "Nameserver set", id } => {
                let mut err = ApiError::not_found(kind, &id);
                err.errors.insert("ns_set_ids".into(), vec![format!("`{id}` is not a nameserver set of this account")]);
                err
            }
            other => other.into(),
        },
    )?;
    tracing::info!(
        account, zone = %z.name, nameservers = ?ns.nameservers(), sets = ?ns.set_ids(),
        "zone NS records set"
    );
    app.engine.republish(z.id, &z.name).await;
    Ok(data(ns_records(&app, &z).await?))
}

/// `GET /zones/{zone}/ns_records` (extension): the NS records the zone
/// publishes, and its settings (`null`: the primary's NS).
pub async fn show(State(app): State<App>, ctx: Ctx) -> Result<Json<NsRecords>, ApiError> {
    let z = load(&app, &ctx).await?;
    let id = z.id;
    let ns = app.store.read(move |c| nameservers::zone_ns(c, id)).await?;
    Ok(Json(NsRecords { data: ns_records(&app, &z).await?, settings: ns.as_ref().map(settings) }))
}

/// `DELETE /zones/{zone}/ns_records`: publish the primary's NS again (204).
pub async fn clear(State(app): State<App>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    let (account, zone) = (ctx.account, path_zone(&ctx));
    let z = app.store.call(move |c| nameservers::clear_zone_ns(c, account, &zone)).await?;
    tracing::info!(account, zone = %z.name, "zone NS records cleared: the primary's are published");
    app.engine.republish(z.id, &z.name).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /zones/{zone}/nameservers`: `[{hostname, priority}]`, where the zone
/// should be delegated, in priority order; priority 1 is the SOA MNAME.
pub async fn nameservers(State(app): State<App>, ctx: Ctx) -> Result<One<Vec<Delegation>>, ApiError> {
    let z = load(&app, &ctx).await?;
    let records = apex_records(&app, &z, None).await?;
    let names = delegation(&apex(&z)?, &records);
    Ok(data((1..).zip(names).map(|(priority, n)| Delegation { hostname: n, priority }).collect()))
}
