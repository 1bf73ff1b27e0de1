//! The zone's records, read-only: `GET /zones/{zone}/records` as DNSimple
//! ZoneRecord objects, and `GET /zones/{zone}/file` as an RFC 1035 master file.
//! Both show the current version only (never a transfer in progress).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::input::{list_params, pagination};
use super::zones::load;
use super::{data, opt_timestamp, App, Ctx, QueryMap};
use crate::store::zonedata::{self, RecordFilter, StoredRecord};
use crate::xfr::text;
use crate::xfr::wire::{rtype, Name, Record};

/// `name` relative to the zone (`""` for the apex), as DNSimple shows it.
fn relative(owner: &str, zone: &str) -> String {
    let o = owner.trim_end_matches('.');
    let lower = o.to_ascii_lowercase();
    if lower == zone {
        String::new()
    } else if lower.ends_with(&format!(".{zone}")) {
        o[..o.len() - zone.len() - 1].to_string()
    } else {
        o.to_string()
    }
}

fn record_json(r: &StoredRecord, zone: &str, at: &Value) -> Value {
    let rec = Name::from_ascii(&r.owner).ok().map(|owner| Record {
        owner,
        rtype: r.rtype,
        class: r.class,
        ttl: r.ttl,
        rdata: r.rdata.clone(),
    });
    let (content, priority) = match &rec {
        Some(rec) => text::dnsimple_content(rec),
        None => (text::rdata_to_text(r.rtype, &r.rdata), None),
    };
    let name = relative(&r.owner, zone);
    json!({
        "id": r.id,
        "zone_id": zone,
        "parent_id": null,
        "name": name,
        "content": content,
        "ttl": r.ttl,
        "priority": priority,
        "type": text::type_name(r.rtype),
        "regions": ["global"],
        "system_record": r.rtype == rtype::SOA || (r.rtype == rtype::NS && name.is_empty()),
        "created_at": at,
        "updated_at": at,
    })
}

pub async fn list(State(app): State<App>, ctx: Ctx, QueryMap(q): QueryMap) -> Result<Json<Value>, ApiError> {
    let (_, page) = list_params(&q)?;
    let rtype = match q.get("type") {
        None => None,
        Some(t) => Some(
            text::type_from_name(t).ok_or_else(|| ApiError::invalid("type", format!("`{t}` is not a record type")))?,
        ),
    };
    let filter = RecordFilter { name: q.get("name").cloned(), rtype };
    let z = load(&app, &ctx).await?;
    let (id, per_page, offset) = (z.id, i64::from(page.per_page), page.offset());
    let (rows, total) = app.store.call(move |c| zonedata::records(c, id, &filter, per_page, offset)).await?;
    let at = opt_timestamp(z.last_transferred_at);
    Ok(Json(json!({
        "data": rows.iter().map(|r| record_json(r, &z.name, &at)).collect::<Vec<_>>(),
        "pagination": pagination(page, total),
    })))
}

pub async fn file(State(app): State<App>, ctx: Ctx) -> Result<Json<Value>, ApiError> {
    let z = load(&app, &ctx).await?;
    let id = z.id;
    let (rows, _) = app.store.call(move |c| zonedata::records(c, id, &RecordFilter::default(), -1, 0)).await?;
    let mut out = String::with_capacity(rows.len() * 64 + 64);
    out.push_str(&format!("$ORIGIN {}.\n", z.name));
    for r in &rows {
        out.push_str(&r.owner);
        out.push(' ');
        out.push_str(&r.ttl.to_string());
        out.push(' ');
        out.push_str(&text::class_name(r.class));
        out.push(' ');
        out.push_str(&text::type_name(r.rtype));
        out.push(' ');
        out.push_str(&text::rdata_to_text(r.rtype, &r.rdata));
        out.push('\n');
    }
    Ok(data(json!({ "zone": out })))
}
