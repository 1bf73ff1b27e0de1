//! `/v2/{account}/custom_ns`: custom (vanity) nameservers in the shape of
//! Cloudflare's account custom nameservers (seed 001), in the DNSimple
//! envelope: `{ns_name, ns_set, dns_records: [{type, value}]}`. The addresses
//! are published for the nameserver in every zone it lies inside of and
//! publishes it (see `zone::publish`).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::error::ApiError;
use super::input::{kind, list_params, pagination, Body, RawBody};
use super::{data, listed, timestamp, App, Ctx, Many, One, QueryMap};
use crate::model::{self, NsAddress};
use crate::store::nameservers::{self, Address, CustomNs, NewCustomNs};
use crate::zone::name::normalize_host_name;

/// At most this many addresses per nameserver (a delegation answer must still fit).
const MAX_ADDRESSES: usize = 16;

pub(crate) fn to_model(n: CustomNs) -> model::CustomNs {
    model::CustomNs {
        ns_name: n.ns_name,
        ns_set: n.set_id,
        dns_records: n.dns_records.into_iter().map(|a| NsAddress { kind: a.rtype, value: a.value }).collect(),
        created_at: timestamp(n.created_at),
        updated_at: timestamp(n.updated_at),
    }
}

/// Why an address cannot be published for a nameserver, if it cannot.
fn unusable(ip: IpAddr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("is the unspecified address")
    } else if ip.is_multicast() {
        Some("is a multicast address")
    } else if ip == IpAddr::V4(Ipv4Addr::BROADCAST) {
        Some("is the broadcast address")
    } else {
        None
    }
}

/// One `dns_records` entry: `{type: "A"|"AAAA", value}`, the value an address of that type.
fn address(entry: Value) -> Result<Address, String> {
    let Value::Object(mut fields) = entry else {
        return Err(format!("must be an object {{type, value}}, got {}", kind(&entry)));
    };
    let rtype = match fields.remove("type") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("A") => "A",
        Some(Value::String(t)) if t.eq_ignore_ascii_case("AAAA") => "AAAA",
        Some(Value::String(t)) => return Err(format!("type `{t}` is not A or AAAA")),
        None | Some(Value::Null) => return Err("type can't be blank (A or AAAA)".into()),
        Some(other) => return Err(format!("type must be a string, got {}", kind(&other))),
    };
    let value = match fields.remove("value") {
        Some(Value::String(v)) => v.trim().to_string(),
        None | Some(Value::Null) => return Err("value can't be blank".into()),
        Some(other) => return Err(format!("value must be a string, got {}", kind(&other))),
    };
    if let Some(unknown) = fields.keys().next() {
        return Err(format!("`{unknown}` is not a known field (type, value)"));
    }
    let ip = if rtype == "A" {
        value.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| format!("value `{value}` is not an IPv4 address"))?
    } else {
        value.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| format!("value `{value}` is not an IPv6 address"))?
    };
    if let Some(why) = unusable(ip) {
        return Err(format!("value `{value}` {why}"));
    }
    Ok(Address { rtype: rtype.to_string(), value: ip.to_string() })
}

pub async fn list(State(app): State<App>, ctx: Ctx, QueryMap(q): QueryMap) -> Result<Many<model::CustomNs>, ApiError> {
    let (sort, page) = list_params(&q)?;
    let set_id = match q.get("ns_set") {
        None => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| ApiError::invalid("ns_set", format!("must be a nameserver set id, got `{s}`")))?,
        ),
    };
    let account = ctx.account;
    let (items, total) = app.store.read(move |c| nameservers::list_ns(c, account, set_id, sort, page)).await?;
    Ok(listed(items.into_iter().map(to_model).collect(), pagination(page, total)))
}

pub async fn create(
    State(app): State<App>,
    ctx: Ctx,
    RawBody(body): RawBody,
) -> Result<(StatusCode, One<model::CustomNs>), ApiError> {
    let mut b = Body::parse(&body)?;
    let ns_name = b.string("ns_name", true).and_then(|n| match normalize_host_name(n.trim()) {
        Ok(n) => Some(n),
        Err(problem) => {
            b.error("ns_name", problem);
            None
        }
    });
    let set_id = b.integer("ns_set");
    if set_id.is_none() && !b.has_error("ns_set") {
        b.error("ns_set", "can't be blank: give the id of one of the account's nameserver sets");
    }
    let mut dns_records = Vec::new();
    let entries = b.array("dns_records").unwrap_or_default();
    if entries.len() > MAX_ADDRESSES {
        b.error("dns_records", format!("has {} entries; at most {MAX_ADDRESSES} are allowed", entries.len()));
    }
    let mut seen = HashSet::new();
    for (i, entry) in entries.into_iter().enumerate() {
        match address(entry) {
            Ok(a) if !seen.insert((a.rtype.clone(), a.value.clone())) => {
                b.error("dns_records", format!("entry {}: {} {} is listed twice", i + 1, a.rtype, a.value))
            }
            Ok(a) => dns_records.push(a),
            Err(problem) => b.error("dns_records", format!("entry {}: {problem}", i + 1)),
        }
    }
    b.finish()?;
    let (Some(ns_name), Some(set_id)) = (ns_name, set_id) else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "Validation failed"));
    };
    let account = ctx.account;
    let new = NewCustomNs { ns_name, set_id, dns_records };
    let n = app.store.call(move |c| nameservers::create_ns(c, account, new)).await?;
    tracing::info!(account, ns = %n.ns_name, set = n.set_id, "custom nameserver created");
    app.engine.republish_account(account).await;
    Ok((StatusCode::CREATED, data(to_model(n))))
}

/// The nameserver as named in the path: case and a trailing dot do not matter.
fn path_ns(ctx: &Ctx) -> String {
    let n = ctx.param("ns_name");
    normalize_host_name(n).unwrap_or_else(|_| n.to_string())
}

pub async fn show(State(app): State<App>, ctx: Ctx) -> Result<One<model::CustomNs>, ApiError> {
    let (account, name) = (ctx.account, path_ns(&ctx));
    let n = app.store.read(move |c| nameservers::get_ns(c, account, &name)).await?;
    Ok(data(to_model(n)))
}

/// `DELETE …/custom_ns/{ns_name}`: 204, or 409 when a zone would be left
/// without nameservers.
pub async fn remove(State(app): State<App>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    let (account, name) = (ctx.account, path_ns(&ctx));
    let n = app.store.call(move |c| nameservers::delete_ns(c, account, &name)).await?;
    tracing::info!(account, ns = %n.ns_name, set = n.set_id, "custom nameserver deleted");
    app.engine.republish_account(account).await;
    Ok(StatusCode::NO_CONTENT)
}
