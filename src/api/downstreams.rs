//! A zone's own downstream secondaries (our extension): `GET`, `PUT` and
//! `DELETE /zones/{zone}/downstreams`. Each entry is what a `[[downstream]]`
//! of the config is, for this zone only: `address` (an IP or a network) may
//! transfer the zone, signed with `tsig_key` when it is set, and `notify`
//! (IP:PORT; by default a single address on port 53) gets a NOTIFY after each
//! new version. A NOTIFY target must pass the outbound address policy
//! (`transfer.allow_primaries` / `deny_primaries`), as primaries must.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::error::ApiError;
use super::input::{Body, RawBody};
use super::zones::load;
use super::{data, App, Ctx, One};
use crate::config::DownstreamConfig;
use crate::model::Downstream;
use crate::store::downstreams::{self, StoredDownstream};

/// At most this many entries per zone.
const MAX_ENTRIES: usize = 32;

fn to_model(d: &StoredDownstream, effective: Option<&DownstreamConfig>) -> Downstream {
    Downstream {
        address: d.address.clone(),
        tsig_key: d.tsig_key.clone(),
        notify: effective.and_then(|e| e.notify).map(|n| n.to_string()),
    }
}

/// Reads and checks `{downstreams: [{address, tsig_key?, notify?}]}`; every
/// problem names its field (`downstreams[1].notify`).
fn parse(app: &App, ctx: &Ctx, body: &Bytes) -> Result<Vec<(StoredDownstream, DownstreamConfig)>, ApiError> {
    let mut b = Body::parse(body)?;
    let list = b.array("downstreams");
    b.finish()?;
    let list = list.ok_or_else(|| ApiError::invalid("downstreams", "can't be blank"))?;
    if list.len() > MAX_ENTRIES {
        return Err(ApiError::invalid("downstreams", format!("has {} entries; at most {MAX_ENTRIES}", list.len())));
    }
    let keys = ctx.tsig_keys(&app.config());
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let field = |f: &str| format!("downstreams[{i}].{f}");
        let text = |f: &str| -> Result<Option<String>, ApiError> {
            match v.get(f) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ApiError::invalid(&field(f), "must be a string")),
            }
        };
        if !v.is_object() {
            return Err(ApiError::invalid(&format!("downstreams[{i}]"), "must be an object"));
        }
        if let Some(k) =
            v.as_object().and_then(|o| o.keys().find(|k| !["address", "tsig_key", "notify"].contains(&k.as_str())))
        {
            return Err(ApiError::invalid(&field(k), "is not a field of a downstream (address, tsig_key, notify)"));
        }
        let stored = StoredDownstream {
            address: text("address")?.ok_or_else(|| ApiError::invalid(&field("address"), "can't be blank"))?,
            tsig_key: text("tsig_key")?,
            notify: text("notify")?,
        };
        let entry =
            DownstreamConfig::parse(&stored.address, stored.tsig_key.as_deref(), stored.notify.as_deref(), &keys)
                .map_err(|(f, e)| ApiError::invalid(&field(f), e))?;
        if let Some(target) = entry.notify {
            app.config().transfer.primaries.check(target.ip()).map_err(|e| {
                ApiError::invalid(
                    &field("notify"),
                    format!("{} is refused by the outbound address policy: {e}", target.ip()),
                )
            })?;
        }
        out.push((stored, entry));
    }
    Ok(out)
}

/// `GET /zones/{zone}/downstreams`: the zone's own entries.
pub async fn show(State(app): State<App>, ctx: Ctx) -> Result<One<Vec<Downstream>>, ApiError> {
    let z = load(&app, &ctx).await?;
    let id = z.id;
    let stored = app.store.read(move |c| downstreams::all(c).map(|mut m| m.remove(&id).unwrap_or_default())).await?;
    let effective = app.engine.downstreams.own(z.id);
    Ok(data(stored.iter().enumerate().map(|(i, d)| to_model(d, effective.get(i))).collect()))
}

/// `PUT /zones/{zone}/downstreams`: replaces the zone's own entries.
pub async fn update(
    State(app): State<App>,
    ctx: Ctx,
    RawBody(body): RawBody,
) -> Result<One<Vec<Downstream>>, ApiError> {
    let z = load(&app, &ctx).await?;
    let entries = parse(&app, &ctx, &body)?;
    let stored: Vec<StoredDownstream> = entries.iter().map(|(s, _)| s.clone()).collect();
    let id = z.id;
    let to_store = stored.clone();
    app.store.call(move |c| downstreams::set(c, id, &to_store)).await?;
    let effective: Vec<DownstreamConfig> = entries.into_iter().map(|(_, e)| e).collect();
    let out: Vec<Downstream> = stored.iter().zip(&effective).map(|(s, e)| to_model(s, Some(e))).collect();
    tracing::info!(account = ctx.account, zone = %z.name, downstreams = out.len(), "zone downstreams set");
    app.engine.downstreams.set_own(z.id, effective);
    Ok(data(out))
}

/// `DELETE /zones/{zone}/downstreams`: only the config's entries apply (204).
pub async fn clear(State(app): State<App>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    let z = load(&app, &ctx).await?;
    let id = z.id;
    app.store.call(move |c| downstreams::set(c, id, &[])).await?;
    app.engine.downstreams.set_own(z.id, Vec::new());
    tracing::info!(account = ctx.account, zone = %z.name, "zone downstreams removed");
    Ok(StatusCode::NO_CONTENT)
}
