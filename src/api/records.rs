//! The zone's records, read-only: `GET /zones/{zone}/records` as DNSimple
//! ZoneRecord objects, and `GET /zones/{zone}/file` as an RFC 1035 master file.
//! Both show the current version only (never a transfer in progress), as we
//! publish it: with the zone's NS settings applied by [`publish`] (records
//! the overlay adds are `system_record`s with ids from [`SYNTHETIC_ID_BASE`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::input::{list_params, pagination};
use super::zones::load;
use super::{listed, opt_timestamp, App, Ctx, Many, QueryMap};
use crate::model;
use crate::store::nameservers;
use crate::store::zonedata::{self, RecordFilter, StoredRecord};
use crate::store::zones::Zone;
use crate::wire::text;
use crate::wire::{rtype, Name, Record};
use crate::zone::publish::{publish, Settings, SYNTHETIC_ID_BASE};

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

/// A published record as a ZoneRecord; `at` is the zone's last transfer time.
pub(crate) fn to_model(r: &StoredRecord, zone: &str, at: &Option<String>) -> model::Record {
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
    model::Record {
        id: r.id,
        zone_id: zone.to_string(),
        parent_id: None,
        system_record: r.rtype == rtype::SOA || (r.rtype == rtype::NS && name.is_empty()) || r.id >= SYNTHETIC_ID_BASE,
        name,
        content,
        ttl: r.ttl,
        priority,
        kind: text::type_name(r.rtype).to_string(),
        regions: vec!["global".to_string()],
        created_at: at.clone(),
        updated_at: at.clone(),
    }
}

/// The zone's apex as a DNS name.
pub(crate) fn apex(z: &Zone) -> Result<Name, ApiError> {
    Name::from_ascii(&z.name).map_err(|e| {
        tracing::error!(zone = %z.name, error = %e, "stored zone name is not a domain name");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("zone `{}` has an unusable name: {e}", z.name))
    })
}

/// Whether a published record passes a listing's filter (the same rule as the
/// store's: exact owner relative to the zone, case-insensitive; exact type).
fn matches(filter: &RecordFilter, zone: &str, r: &StoredRecord) -> bool {
    let name_ok = filter.name.as_ref().is_none_or(|n| {
        let n = n.trim_end_matches('.').to_ascii_lowercase();
        let want = if n.is_empty() { format!("{zone}.") } else { format!("{n}.{zone}.") };
        r.owner.eq_ignore_ascii_case(&want)
    });
    name_ok && filter.rtype.is_none_or(|t| r.rtype == t)
}

/// What one read of the store gives: a page of a zone without NS settings (no
/// overlay, paginated by SQL), or every matching record plus the settings.
enum Read {
    Page(Vec<StoredRecord>, u64),
    Overlay(Vec<StoredRecord>, Settings),
}

async fn read(app: &App, z: &Zone, filter: RecordFilter, limit: i64, offset: i64) -> Result<Read, ApiError> {
    let id = z.id;
    // An IXFR just committed may not be in the records table yet (it catches
    // up right after the new version is served): bring it up first.
    if app.store.read(move |c| zonedata::fold_pending(c, id)).await? {
        app.store.call(move |c| zonedata::fold_journal(c, id, None)).await?;
    }
    // On the reading connection: a 1M-record zone read on the writer's
    // thread would hold every other store job (and transfer) back.
    let read = app
        .store
        .read(move |c| match nameservers::zone_ns(c, id)? {
            None => {
                let (rows, total) = zonedata::records(c, id, &filter, limit, offset)?;
                Ok(Read::Page(rows, total))
            }
            Some(ns) => {
                let (rows, _) = zonedata::records(c, id, &filter, -1, 0)?;
                Ok(Read::Overlay(rows, Settings::from_store(&ns)))
            }
        })
        .await?;
    Ok(read)
}

/// The zone's published records that match `filter`, all of them. A zone
/// never transferred publishes nothing unless `even_unloaded` (the NS
/// endpoints show what it will publish once it has data).
pub(crate) async fn published(
    app: &App,
    z: &Zone,
    filter: RecordFilter,
    even_unloaded: bool,
) -> Result<Vec<StoredRecord>, ApiError> {
    match read(app, z, filter.clone(), -1, 0).await? {
        Read::Page(rows, _) => Ok(rows),
        Read::Overlay(rows, _) if z.status.serial.is_none() && !even_unloaded => Ok(rows),
        Read::Overlay(rows, settings) => {
            let out = publish(&apex(z)?, rows, Some(&settings));
            Ok(out.into_iter().filter(|r| matches(&filter, &z.name, r)).collect())
        }
    }
}

pub async fn list(State(app): State<App>, ctx: Ctx, QueryMap(q): QueryMap) -> Result<Many<model::Record>, ApiError> {
    let (_, page) = list_params(&q)?;
    let rtype = match q.get("type") {
        None => None,
        Some(t) => Some(
            text::type_from_name(t).ok_or_else(|| ApiError::invalid("type", format!("`{t}` is not a record type")))?,
        ),
    };
    let filter = RecordFilter { name: q.get("name").cloned(), rtype };
    let z = load(&app, &ctx).await?;
    let (per_page, offset) = (i64::from(page.per_page), page.offset());
    let (rows, total) = match read(&app, &z, filter.clone(), per_page, offset).await? {
        Read::Page(rows, total) => (rows, total),
        Read::Overlay(rows, _) if z.status.serial.is_none() => (rows, 0),
        Read::Overlay(rows, settings) => {
            let all: Vec<StoredRecord> = publish(&apex(&z)?, rows, Some(&settings))
                .into_iter()
                .filter(|r| matches(&filter, &z.name, r))
                .collect();
            let total = all.len() as u64;
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            (all.into_iter().skip(start).take(page.per_page as usize).collect(), total)
        }
    };
    let at = opt_timestamp(z.last_transferred_at);
    Ok(listed(rows.iter().map(|r| to_model(r, &z.name, &at)).collect(), pagination(page, total)))
}

/// Bytes of zone text per chunk of a `/file` answer, and chunks in flight.
const FILE_CHUNK: usize = 64 * 1024;
const FILE_QUEUE: usize = 4;

/// `GET /zones/{zone}/file`: `{"data": {"zone": "<master file>"}}` (DNSimple's
/// ZoneFile), written from the served view (the published zone, one
/// consistent version, the records a full transfer sends, in its order) on a
/// blocking thread in chunks of [`FILE_CHUNK`] bytes, a few at a time: a
/// million-record zone costs neither its size in memory nor the store's time,
/// and a slow reader only slows its own answer.
pub async fn file(State(app): State<App>, ctx: Ctx) -> Result<Response, ApiError> {
    let z = load(&app, &ctx).await?;
    // A zone never transferred publishes nothing yet.
    let view = app.engine.zone_slot(z.id, &z.name).and_then(|s| s.view()).filter(|_| z.status.serial.is_some());
    let origin = z.name.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(FILE_QUEUE);
    tokio::task::spawn_blocking(move || {
        let mut text = String::with_capacity(FILE_CHUNK + 1024);
        text.push_str(&format!("$ORIGIN {origin}.\n"));
        // The JSON string's content, escaped chunk by chunk (an escape never
        // spans two chunks: each chunk is whole lines).
        let send = |text: &mut String, head: &str, tail: &str| -> Result<(), ()> {
            let quoted = serde_json::to_string(text.as_str()).map_err(|_| ())?;
            let body = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default();
            text.clear();
            tx.blocking_send(Bytes::from(format!("{head}{body}{tail}"))).map_err(|_| ())
        };
        let mut head = r#"{"data":{"zone":""#;
        let written: Result<(), ()> = match &view {
            Some(view) => view.for_each_record(|owner, rt, ttl, rd| {
                let owner = Name::from_wire(owner).map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
                text.push_str(&format!("{owner} {ttl} IN {} {}\n", text::type_name(rt), text::rdata_to_text(rt, rd)));
                if text.len() >= FILE_CHUNK {
                    send(&mut text, head, "")?;
                    head = "";
                }
                Ok(())
            }),
            None => Ok(()),
        };
        // Gone: the client went away.
        if written.is_ok() {
            let _ = send(&mut text, head, r#""}}"#);
        }
    });
    let body = axum::body::Body::new(ChunkBody(rx));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// An HTTP body of the chunks a producer sends (ends when it drops its sender).
struct ChunkBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChunkBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|c| Ok(hyper::body::Frame::data(c))))
    }
}
