//! `/v2/{account}/nameserver_sets`: DNScaster-style nameserver sets (seed 003)
//! in the DNSimple envelope. A set groups custom nameservers and gives the TTLs
//! and the hostmaster published with them. `in_use` is computed; our
//! extensions `nameservers` and `zones` say what uses the set.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::input::{list_params, pagination, Body, RawBody};
use super::{data, listed, timestamp, App, Ctx, Many, One, QueryMap};
use crate::model;
use crate::store::nameservers::{self, NameserverSet, NewSet, SetChange, DEFAULT_IP_TTL, DEFAULT_NS_TTL, MAX_TTL};
use crate::zone::name::normalize_email;

/// Longest set name and `external_ref` we accept.
const MAX_TEXT_LEN: usize = 255;

pub(crate) fn to_model(s: NameserverSet) -> model::NameserverSet {
    model::NameserverSet {
        in_use: s.in_use(),
        id: s.id,
        account_id: s.account_id,
        name: s.name,
        hostmaster: s.hostmaster,
        ns_ttl: s.ns_ttl,
        ip_ttl: s.ip_ttl,
        external_ref: s.external_ref,
        nameservers: s.nameservers,
        zones: s.zones,
        created_at: timestamp(s.created_at),
        updated_at: timestamp(s.updated_at),
    }
}

fn check_name(b: &mut Body, name: String) -> Option<String> {
    let name = name.trim().to_string();
    if name.chars().count() > MAX_TEXT_LEN {
        b.error("name", format!("is too long (at most {MAX_TEXT_LEN} characters)"));
        return None;
    }
    if name.parse::<i64>().is_ok() {
        // Sets are addressed by id or name; an all-digit name would be ambiguous.
        b.error("name", "must not be a number (nameserver sets are looked up by id or name)");
        return None;
    }
    Some(name)
}

fn check_hostmaster(b: &mut Body, h: String) -> Option<String> {
    match normalize_email(h.trim()) {
        Ok(h) => Some(h),
        Err(problem) => {
            b.error("hostmaster", problem);
            None
        }
    }
}

fn check_ttl(b: &mut Body, field: &str) -> Option<u32> {
    let t = b.integer(field)?;
    match u32::try_from(t).ok().filter(|t| *t <= MAX_TTL) {
        Some(t) => Some(t),
        None => {
            b.error(field, format!("must be from 0 to {MAX_TTL} seconds, got {t}"));
            None
        }
    }
}

fn check_external_ref(b: &mut Body, r: String) -> Option<String> {
    if r.chars().count() > MAX_TEXT_LEN {
        b.error("external_ref", format!("is too long (at most {MAX_TEXT_LEN} characters)"));
        return None;
    }
    Some(r)
}

pub async fn list(
    State(app): State<App>,
    ctx: Ctx,
    QueryMap(q): QueryMap,
) -> Result<Many<model::NameserverSet>, ApiError> {
    let (sort, page) = list_params(&q)?;
    let external_ref = q.get("external_ref").cloned();
    let account = ctx.account;
    let (items, total) =
        app.store.read(move |c| nameservers::list_sets(c, account, external_ref.as_deref(), sort, page)).await?;
    Ok(listed(items.into_iter().map(to_model).collect(), pagination(page, total)))
}

pub async fn create(
    State(app): State<App>,
    ctx: Ctx,
    RawBody(body): RawBody,
) -> Result<(StatusCode, One<model::NameserverSet>), ApiError> {
    let mut b = Body::parse(&body)?;
    let name = b.string("name", true).and_then(|n| check_name(&mut b, n));
    let hostmaster = b.nullable_string("hostmaster").flatten().and_then(|h| check_hostmaster(&mut b, h));
    let ns_ttl = check_ttl(&mut b, "ns_ttl");
    let ip_ttl = check_ttl(&mut b, "ip_ttl");
    let external_ref = b.nullable_string("external_ref").flatten().and_then(|r| check_external_ref(&mut b, r));
    b.finish()?;
    let name = name.ok_or_else(|| ApiError::invalid("name", "can't be blank"))?;
    let new = NewSet {
        name,
        hostmaster,
        ns_ttl: ns_ttl.unwrap_or(DEFAULT_NS_TTL),
        ip_ttl: ip_ttl.unwrap_or(DEFAULT_IP_TTL),
        external_ref,
    };
    let account = ctx.account;
    let s = app.store.call(move |c| nameservers::create_set(c, account, new)).await?;
    tracing::info!(account, set = %s.name, id = s.id, "nameserver set created");
    Ok((StatusCode::CREATED, data(to_model(s))))
}

pub async fn show(State(app): State<App>, ctx: Ctx) -> Result<One<model::NameserverSet>, ApiError> {
    let (account, id) = (ctx.account, ctx.param("id").to_string());
    let s = app.store.read(move |c| nameservers::get_set(c, account, &id)).await?;
    Ok(data(to_model(s)))
}

/// `PUT …/nameserver_sets/{id}`: changes the fields given; `null` clears
/// `hostmaster` and `external_ref`.
pub async fn update(
    State(app): State<App>,
    ctx: Ctx,
    RawBody(body): RawBody,
) -> Result<One<model::NameserverSet>, ApiError> {
    let mut b = Body::parse(&body)?;
    let name = match b.nullable_string("name") {
        None => None,
        Some(None) => {
            b.error("name", "can't be blank");
            None
        }
        Some(Some(n)) => check_name(&mut b, n),
    };
    let hostmaster = match b.nullable_string("hostmaster") {
        None => None,
        Some(None) => Some(None),
        Some(Some(h)) => check_hostmaster(&mut b, h).map(Some),
    };
    let ns_ttl = check_ttl(&mut b, "ns_ttl");
    let ip_ttl = check_ttl(&mut b, "ip_ttl");
    let external_ref = match b.nullable_string("external_ref") {
        None => None,
        Some(None) => Some(None),
        Some(Some(r)) => check_external_ref(&mut b, r).map(Some),
    };
    b.finish()?;
    let change = SetChange { name, hostmaster, ns_ttl, ip_ttl, external_ref };
    let (account, id) = (ctx.account, ctx.param("id").to_string());
    let s = app.store.call(move |c| nameservers::update_set(c, account, &id, change)).await?;
    tracing::info!(account, set = %s.name, id = s.id, "nameserver set updated");
    app.engine.republish_account(account).await;
    Ok(data(to_model(s)))
}

/// `DELETE …/nameserver_sets/{id}`: 204, or 409 naming what uses the set.
pub async fn remove(State(app): State<App>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    let (account, id) = (ctx.account, ctx.param("id").to_string());
    let s = app.store.call(move |c| nameservers::delete_set(c, account, &id)).await?;
    tracing::info!(account, set = %s.name, id = s.id, "nameserver set deleted");
    app.engine.republish_account(account).await;
    Ok(StatusCode::NO_CONTENT)
}
