//! Secondary zones: `POST /secondary_dns/zones`, `GET /zones[/{zone}]`,
//! `DELETE /domains/{zone}`, and the transfer extensions: the `transfer`
//! status object, `distribution`, `refresh` and `retransfer`.
//! Zone objects are DNSimple's plus our `primaries` (in the order they are
//! tried) and `transfer`.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::input::{list_params, pagination, Body, RawBody};
use super::{data, listed, opt_timestamp, timestamp, App, Ctx, Many, One, QueryMap};
use crate::model::{self, Distribution, LastError, LastNotify, NotifyOut, Scheduled, ZoneEvent, ZoneState};
use crate::scheduler::ZoneSchedule;
use crate::store::zones::{self, StateFilter, Zone};
use crate::zone::name::{is_reverse_zone, normalize_zone_name, reserved_zone_name};
use crate::zone::timers::Clamps;

/// The zone's state for people: one word.
pub(crate) fn state_word(z: &Zone, sched: &ZoneSchedule) -> ZoneState {
    let st = &z.status;
    ZoneState::of(sched.running, st.expired, st.serial.is_some(), st.last_error.is_some())
}

pub(crate) fn to_model(app: &App, z: &Zone) -> model::Zone {
    let st = &z.status;
    let sched = app.engine.scheduler.zone(z.id);
    let clamps = Clamps::from_config(&app.config().transfer);
    let timers = st.soa_timers.map(|t| {
        let (refresh, retry, expire) = clamps.effective(t[0], t[1], t[2]);
        model::Timers { refresh, retry, expire, minimum: t[3] }
    });
    let last_transfer = st.last_xfr.as_deref().and_then(|s| serde_json::from_str(s).ok());
    // A failure the store could not record (a full disk) is newer than what it holds.
    let unrecorded = app.engine.unrecorded.lock().unwrap_or_else(|e| e.into_inner()).get(&z.id).cloned();
    let last_error = match &unrecorded {
        Some((primary, message, at)) => {
            Some(LastError { primary: primary.clone(), message: message.clone(), at: opt_timestamp(Some(*at)) })
        }
        None => st.last_error.as_ref().map(|message| LastError {
            primary: st.last_error_primary.clone(),
            message: message.clone(),
            at: opt_timestamp(st.last_error_at),
        }),
    };
    model::Zone {
        id: z.id,
        account_id: z.account_id,
        name: z.name.clone(),
        reverse: is_reverse_zone(&z.name),
        secondary: true,
        last_transferred_at: opt_timestamp(z.last_transferred_at),
        active: true,
        created_at: timestamp(z.created_at),
        updated_at: timestamp(z.updated_at),
        // Catalog zones (RFC 9432) we consume, and the members they created.
        catalog: z.is_catalog,
        catalog_member: z.member_of.map(|id| model::CatalogMember { catalog_id: id, group: z.catalog_group.clone() }),
        primaries: z
            .primaries
            .iter()
            .map(|p| model::ZonePrimary {
                id: p.id,
                name: p.name.clone(),
                ip: p.ip.clone(),
                port: p.port,
                last_used: st.last_primary.as_deref()
                    == Some(format!("{} ({})", p.name, addr_label(&p.ip, p.port)).as_str()),
            })
            .collect(),
        transfer: model::Transfer {
            state: match state_word(z, &sched) {
                ZoneState::Ok if unrecorded.is_some() => ZoneState::Retrying,
                state => state,
            },
            serial: st.serial,
            primary_serial: st.primary_serial,
            records: st.record_count,
            refreshing: sched.running,
            queued: sched.queued,
            attempts: st.attempts,
            last_attempt_at: opt_timestamp(st.last_attempt_at),
            last_success_at: opt_timestamp(st.last_success_at),
            last_primary: st.last_primary.clone(),
            last_transfer,
            last_error,
            next_refresh_at: opt_timestamp(st.next_refresh_at),
            expires_at: opt_timestamp(if st.serial.is_some() { st.expires_at } else { None }),
            backoff: st.backoff,
            timers,
            last_notify: st.last_notify.as_ref().map(|(from, serial, at)| LastNotify {
                from: from.clone(),
                serial: *serial,
                at: timestamp(*at),
            }),
            // NOTIFY to the downstreams, the last one per target.
            notify_out: app
                .engine
                .notifier
                .outcomes(z.id)
                .iter()
                .map(|o| NotifyOut {
                    target: o.target.to_string(),
                    serial: o.serial,
                    state: o.state.to_string(),
                    tries: o.tries,
                    error: o.error.clone(),
                    at: timestamp(o.at),
                })
                .collect(),
        },
    }
}

fn addr_label(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The zone as named in a path: case and a trailing dot do not matter.
pub(crate) fn path_zone(ctx: &Ctx) -> String {
    let z = ctx.param("zone");
    normalize_zone_name(z).unwrap_or_else(|_| z.to_string())
}

pub(crate) async fn load(app: &App, ctx: &Ctx) -> Result<Zone, ApiError> {
    let (account, zone) = (ctx.account, path_zone(ctx));
    Ok(app.store.read(move |c| zones::get(c, account, &zone)).await?)
}

pub async fn create(
    State(app): State<App>,
    ctx: Ctx,
    RawBody(body): RawBody,
) -> Result<(StatusCode, One<model::Zone>), ApiError> {
    let mut b = Body::parse(&body)?;
    let name = b.string("name", true).and_then(|n| match normalize_zone_name(&n) {
        Ok(n) => Some(n),
        Err(problem) => {
            b.error("name", problem);
            None
        }
    });
    let is_catalog = b.boolean("catalog").unwrap_or(false);
    // An extension: the primaries to link at once (ids or names), so that
    // adding a zone is one request and one transaction, not two.
    let primaries: Vec<String> = b
        .array("primaries")
        .map(|items| {
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.into_iter().enumerate() {
                match v {
                    serde_json::Value::String(s) if !s.is_empty() => out.push(s),
                    serde_json::Value::Number(n) if n.as_i64().is_some_and(|n| n > 0) => out.push(n.to_string()),
                    other => b.error(
                        "primaries",
                        format!(
                            "entry {} must be a primary server's id or name, got {}",
                            i + 1,
                            super::input::kind(&other)
                        ),
                    ),
                }
            }
            out
        })
        .unwrap_or_default();
    b.finish()?;
    let name = name.ok_or_else(|| ApiError::invalid("name", "can't be blank"))?;
    if app.config().catalog_zone.as_deref() == Some(name.as_str()) {
        return Err(ApiError::invalid("name", "is the name of our catalog zone ([catalog] zone)"));
    }
    if let Some(why) = reserved_zone_name(&name).filter(|_| !app.config().transfer.allow_reserved_zones) {
        return Err(ApiError::invalid(
            "name",
            format!("`{name}` {why}; the daemon's config allows it with transfer.allow_reserved_zones"),
        ));
    }
    let account = ctx.account;
    let links = primaries.clone();
    let z = app.store.call(move |c| zones::create_linked(c, account, &name, is_catalog, &links)).await?;
    app.engine.zone_created(z.id, &z.name);
    if is_catalog {
        app.engine.consume_catalog(z.id);
    }
    tracing::info!(account, zone = %z.name, id = z.id, primaries = ?primaries, "secondary zone created");
    if !primaries.is_empty() {
        app.engine.request_refresh(z.id, false);
    }
    Ok((StatusCode::CREATED, data(to_model(&app, &z))))
}

pub async fn list(State(app): State<App>, ctx: Ctx, QueryMap(q): QueryMap) -> Result<Many<model::Zone>, ApiError> {
    let (sort, page) = list_params(&q)?;
    let name_like = q.get("name_like").map(|s| s.to_ascii_lowercase());
    let state = match q.get("state").map(String::as_str) {
        None | Some("") => None,
        Some("ok") => Some(StateFilter::Ok),
        Some("bootstrapping") => Some(StateFilter::Bootstrapping),
        Some("retrying") => Some(StateFilter::Retrying),
        Some("expired") => Some(StateFilter::Expired),
        Some(other) => {
            return Err(ApiError::invalid(
                "state",
                format!("`{other}` is not one of ok, bootstrapping, retrying, expired"),
            ))
        }
    };
    let account = ctx.account;
    let (items, total) =
        app.store.read(move |c| zones::list(c, account, name_like.as_deref(), state, sort, page)).await?;
    Ok(listed(items.iter().map(|z| to_model(&app, z)).collect(), pagination(page, total)))
}

pub async fn show(State(app): State<App>, ctx: Ctx) -> Result<One<model::Zone>, ApiError> {
    let z = load(&app, &ctx).await?;
    Ok(data(to_model(&app, &z)))
}

pub async fn remove(State(app): State<App>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    let (account, zone) = (ctx.account, path_zone(&ctx));
    let (z, members) = app.store.call(move |c| zones::delete(c, account, &zone)).await?;
    for (id, name) in &members {
        app.engine.scheduler.remove(*id);
        app.engine.zone_deleted(name);
        tracing::info!(account, zone = %name, id, catalog = %z.name, "member zone deleted with its catalog");
    }
    app.engine.forget_catalog(z.id);
    app.engine.scheduler.remove(z.id);
    app.engine.zone_deleted(&z.name);
    tracing::info!(account, zone = %z.name, id = z.id, "secondary zone deleted with its data");
    Ok(StatusCode::NO_CONTENT)
}

async fn schedule(app: App, ctx: Ctx, force_axfr: bool) -> Result<(StatusCode, One<Scheduled>), ApiError> {
    let z = load(&app, &ctx).await?;
    app.engine.request_refresh(z.id, force_axfr);
    tracing::info!(zone = %z.name, force_axfr, "refresh requested over the API");
    let event = if force_axfr { ZoneEvent::Retransfer } else { ZoneEvent::Refresh };
    Ok((StatusCode::ACCEPTED, data(Scheduled { zone: z.name, event, attempts: z.status.attempts })))
}

/// `POST /zones/{zone}/refresh`: check the primary's serial now (202).
pub async fn refresh(State(app): State<App>, ctx: Ctx) -> Result<(StatusCode, One<Scheduled>), ApiError> {
    schedule(app, ctx, false).await
}

/// `POST /zones/{zone}/retransfer`: a full AXFR now, whatever the serial (202).
pub async fn retransfer(State(app): State<App>, ctx: Ctx) -> Result<(StatusCode, One<Scheduled>), ApiError> {
    schedule(app, ctx, true).await
}

/// `GET /zones/{zone}/distribution`: DNSimple's answer is only
/// `{"distributed": bool}` (or 504 when it cannot query), so the rule is:
/// true when we serve a copy (loaded, not expired) whose serial is the one
/// the first primary to answer has now; false, without asking anyone, when we
/// serve nothing for the zone (no copy yet, expired) or it has no primary to
/// compare with; false when the primary has another serial; 504 when primaries
/// are linked but none answers.
pub async fn distribution(State(app): State<App>, ctx: Ctx) -> Result<One<Distribution>, ApiError> {
    let z = load(&app, &ctx).await?;
    let Some(serial) = z.status.serial.filter(|_| !z.status.expired && !z.primaries.is_empty()) else {
        return Ok(data(Distribution { distributed: false }));
    };
    let primary_serial = app
        .engine
        .primary_serial(&z)
        .await
        .map_err(|e| ApiError::new(StatusCode::GATEWAY_TIMEOUT, format!("Could not query zone, {e}")))?;
    Ok(data(Distribution { distributed: serial == primary_serial }))
}
