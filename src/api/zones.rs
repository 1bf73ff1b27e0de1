//! Secondary zones: `POST /secondary_dns/zones`, `GET /zones[/{zone}]`,
//! `DELETE /domains/{zone}`. Zone objects are DNSimple's, plus our `primaries`
//! (the linked primaries in the order they are tried).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::input::{list_params, pagination, Body};
use super::{data, opt_timestamp, timestamp, App, Ctx, QueryMap};
use crate::store::zones::{self, Zone};
use crate::zone::name::{is_reverse_zone, normalize_zone_name};

pub(crate) fn to_json(z: &Zone) -> Value {
    json!({
        "id": z.id,
        "account_id": z.account_id,
        "name": z.name,
        "reverse": is_reverse_zone(&z.name),
        "secondary": true,
        "last_transferred_at": opt_timestamp(z.last_transferred_at),
        "active": true,
        "created_at": timestamp(z.created_at),
        "updated_at": timestamp(z.updated_at),
        "primaries": z.primaries.iter().map(|p| json!({
            "id": p.id, "name": p.name, "ip": p.ip, "port": p.port,
        })).collect::<Vec<_>>(),
    })
}

/// The zone as named in a path: case and a trailing dot do not matter.
fn path_zone(ctx: &Ctx) -> String {
    let z = ctx.param("zone");
    normalize_zone_name(z).unwrap_or_else(|_| z.to_string())
}

pub async fn create(State(app): State<App>, ctx: Ctx, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut b = Body::parse(&body)?;
    let name = b.string("name", true).and_then(|n| match normalize_zone_name(&n) {
        Ok(n) => Some(n),
        Err(problem) => {
            b.error("name", problem);
            None
        }
    });
    b.finish()?;
    let name = name.ok_or_else(|| ApiError::invalid("name", "can't be blank"))?;
    let account = ctx.account;
    let z = app.store.call(move |c| zones::create(c, account, &name)).await?;
    tracing::info!(account, zone = %z.name, id = z.id, "secondary zone created");
    Ok((StatusCode::CREATED, data(to_json(&z))))
}

pub async fn list(State(app): State<App>, ctx: Ctx, QueryMap(q): QueryMap) -> Result<Json<Value>, ApiError> {
    let (sort, page) = list_params(&q)?;
    let name_like = q.get("name_like").map(|s| s.to_ascii_lowercase());
    let account = ctx.account;
    let (items, total) = app.store.call(move |c| zones::list(c, account, name_like.as_deref(), sort, page)).await?;
    Ok(Json(json!({
        "data": items.iter().map(to_json).collect::<Vec<_>>(),
        "pagination": pagination(page, total),
    })))
}

pub async fn show(State(app): State<App>, ctx: Ctx) -> Result<Json<Value>, ApiError> {
    let (account, zone) = (ctx.account, path_zone(&ctx));
    let z = app.store.call(move |c| zones::get(c, account, &zone)).await?;
    Ok(data(to_json(&z)))
}

pub async fn remove(State(app): State<App>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    let (account, zone) = (ctx.account, path_zone(&ctx));
    let z = app.store.call(move |c| zones::delete(c, account, &zone)).await?;
    tracing::info!(account, zone = %z.name, id = z.id, "secondary zone deleted with its data");
    Ok(StatusCode::NO_CONTENT)
}
