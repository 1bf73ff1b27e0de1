//! `/v2/{account}/secondary_dns/primaries`: DNSimple PrimaryServer objects,
//! plus our `tsig_key` (the name of a `[[tsig_key]]` from the config).

use std::collections::HashMap;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::input::{list_params, pagination, Body, RawBody};
use super::{listed, timestamp, App, Ctx, Many, QueryMap};
use crate::model::{Data, PrimaryServer};
use crate::store::notify_acl::canonical_ip;
use crate::store::primaries::{self, NewPrimary, Primary};
use crate::zone::name::normalize_zone_name;

/// Longest primary name we accept (a label for people, not a DNS name).
const MAX_NAME_LEN: usize = 255;

pub(crate) fn to_model(p: Primary) -> PrimaryServer {
    PrimaryServer {
        id: p.id,
        account_id: p.account_id,
        name: p.name,
        ip: p.ip,
        port: p.port,
        tsig_key: p.tsig_key,
        notify_requires_tsig: p.notify_requires_tsig,
        linked_secondary_zones: p.linked_zones,
        created_at: timestamp(p.created_at),
        updated_at: timestamp(p.updated_at),
    }
}

pub async fn list(State(app): State<App>, ctx: Ctx, QueryMap(q): QueryMap) -> Result<Many<PrimaryServer>, ApiError> {
    let (sort, page) = list_params(&q)?;
    let account = ctx.account;
    let (items, total) = app.store.call(move |c| primaries::list(c, account, sort, page)).await?;
    Ok(listed(items.into_iter().map(to_model).collect(), pagination(page, total)))
}

pub async fn create(State(app): State<App>, ctx: Ctx, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let mut b = Body::parse(&body)?;
    let name = b.string("name", true).map(|s| s.trim().to_string());
    if let Some(n) = &name {
        if n.chars().count() > MAX_NAME_LEN {
            b.error("name", format!("is too long (at most {MAX_NAME_LEN} characters)"));
        }
        if n.parse::<i64>().is_ok() {
            // Primaries are addressed by id or name; an all-digit name would be ambiguous.
            b.error("name", "must not be a number (primaries are looked up by id or name)");
        }
    }
    // Stored in canonical form (`::ffff:192.0.2.1` as `192.0.2.1`): it is what NOTIFY sources
    // are compared with, and what the policy and the transfers see.
    let ip = b.string("ip", true).and_then(|s| match s.trim().parse::<IpAddr>() {
        Ok(ip) => match app.config().transfer.primaries.check(ip) {
            Ok(()) => Some(canonical_ip(ip).to_string()),
            Err(refusal) => {
                b.error("ip", refusal.to_string());
                None
            }
        },
        Err(_) => {
            b.error("ip", format!("`{s}` is not a valid IPv4 or IPv6 address"));
            None
        }
    });
    let port = match b.integer_or_digits("port") {
        None => 53,
        Some(p) => u16::try_from(p).ok().filter(|p| *p >= 1).unwrap_or_else(|| {
            b.error("port", format!("must be from 1 to 65535, got {p}"));
            0
        }),
    };
    let keys = ctx.tsig_keys(&app.config());
    let tsig_key = b.string("tsig_key", false).and_then(|k| {
        let wanted = crate::config::normalize_key_name(&k);
        match keys.iter().find(|key| key.name == wanted) {
            Some(key) => Some(key.name.clone()),
            // The same words whether the key is another account's or unknown.
            None => {
                b.error(
                    "tsig_key",
                    format!("`{k}` is not a key of this account in the daemon's config ([[tsig_key]])"),
                );
                None
            }
        }
    });
    let notify_requires_tsig = b.boolean("notify_requires_tsig").unwrap_or(false);
    if notify_requires_tsig && tsig_key.is_none() {
        b.error("notify_requires_tsig", "needs a tsig_key to check NOTIFY signatures with");
    }
    b.finish()?;
    let (Some(name), Some(ip)) = (name, ip) else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "Validation failed"));
    };
    let account = ctx.account;
    let new = NewPrimary { name, ip, port, tsig_key, notify_requires_tsig };
    let p = app.store.call(move |c| primaries::create(c, account, new)).await?;
    tracing::info!(account, primary = %p.name, id = p.id, ip = %p.ip, port = p.port, "primary server created");
    Ok(answer(StatusCode::CREATED, to_model(p)))
}

pub async fn show(State(app): State<App>, ctx: Ctx) -> Result<Response, ApiError> {
    let (account, id) = (ctx.account, ctx.param("id").to_string());
    let p = app.store.call(move |c| primaries::get(c, account, &id)).await?;
    Ok(answer(StatusCode::OK, to_model(p)))
}

/// `{"data": PrimaryServer}` as the answer's bytes, with the linked zones'
/// text written in as the store's index keeps it: one copy of the list,
/// not a string per zone (a primary's list is every zone linked to it, and
/// link and unlink answer with it).
fn answer(status: StatusCode, mut p: PrimaryServer) -> Response {
    let names = std::mem::take(&mut p.linked_secondary_zones);
    let body = match serde_json::to_vec(&Data { data: &p }) {
        Ok(b) => b,
        Err(e) => {
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write the answer: {e}"))
                .into_response()
        }
    };
    // The key comes after every field a client chose (name, ip), and a
    // quote inside those is escaped, so the last match is the key itself.
    // The list's pieces are copied in between the object's two halves, into
    // one buffer: at 10,000 zones it is 170 KB in a few dozen pieces, and
    // one write of it costs less than a write per few pieces (the HTTP
    // writer's vectored writes take 16 buffers at a time) and as many
    // wake-ups of the reader.
    const KEY: &[u8] = b"\"linked_secondary_zones\":[]";
    let body = match body.windows(KEY.len()).rposition(|w| w == KEY) {
        Some(at) => {
            let (before, after) = body.split_at(at + KEY.len() - 2);
            let mut out = Vec::with_capacity(body.len());
            out.extend_from_slice(before);
            names.write_json(&mut out);
            out.extend_from_slice(&after[2..]);
            out
        }
        None => body,
    };
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn remove(State(app): State<App>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    let (account, id) = (ctx.account, ctx.param("id").to_string());
    let p = app.store.call(move |c| primaries::delete(c, account, &id)).await?;
    tracing::info!(account, primary = %p.name, id = p.id, unlinked = %p.linked_zones.as_json(), "primary server deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The `zone` of link/unlink, from the query string (where DNSimple's
/// official clients send it), the JSON body, or both when they agree.
fn zone_field(body: &Bytes, query: &HashMap<String, String>) -> Result<String, ApiError> {
    let mut b = Body::parse_with_query(body, query)?;
    let zone = b.string("zone", true).and_then(|z| match normalize_zone_name(&z) {
        Ok(z) => Some(z),
        Err(problem) => {
            b.error("zone", problem);
            None
        }
    });
    b.finish()?;
    zone.ok_or_else(|| ApiError::invalid("zone", "can't be blank"))
}

pub async fn link(
    State(app): State<App>,
    ctx: Ctx,
    QueryMap(q): QueryMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let zone = zone_field(&body, &q)?;
    let (account, id) = (ctx.account, ctx.param("id").to_string());
    let z = zone.clone();
    let (p, zone_id) = app.store.call(move |c| primaries::link(c, account, &id, &z)).await?;
    tracing::info!(account, primary = %p.name, zone = %zone, "primary linked to zone");
    // A new primary may have the zone (or a newer copy): check now.
    app.engine.request_refresh(zone_id, false);
    Ok(answer(StatusCode::OK, to_model(p)))
}

pub async fn unlink(
    State(app): State<App>,
    ctx: Ctx,
    QueryMap(q): QueryMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let zone = zone_field(&body, &q)?;
    let (account, id) = (ctx.account, ctx.param("id").to_string());
    let z = zone.clone();
    let p = app.store.call(move |c| primaries::unlink(c, account, &id, &z)).await?;
    tracing::info!(account, primary = %p.name, zone = %zone, "primary unlinked from zone");
    Ok(answer(StatusCode::OK, to_model(p)))
}
