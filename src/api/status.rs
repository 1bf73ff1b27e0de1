//! `GET /v2/status`: the daemon at a glance, for the caller's accounts: zones
//! per state, events running and waiting, zones expiring within 24 h, the zones
//! that are not in sync and why, and NOTIFY counters.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::{Extension, Json};
use rusqlite::params;
use serde_json::{json, Value};

use super::error::ApiError;
use super::{data, opt_timestamp, Access, App};
use crate::store::now_secs;

/// At most this many zones are listed as not in sync.
const MAX_LISTED: i64 = 100;

pub async fn show(State(app): State<App>, Extension(access): Extension<Access>) -> Result<Json<Value>, ApiError> {
    let account = match access {
        Access::All => None,
        Access::Account(a) => Some(a),
    };
    let now = now_secs();
    let (counts, problems) = app
        .store
        .call(move |c| {
            let counts = c.query_row(
                "SELECT count(*),
                        coalesce(sum(serial IS NULL), 0),
                        coalesce(sum(serial IS NOT NULL AND expired = 0 AND last_error IS NULL), 0),
                        coalesce(sum(serial IS NOT NULL AND expired = 0 AND last_error IS NOT NULL), 0),
                        coalesce(sum(expired = 1), 0),
                        coalesce(sum(serial IS NOT NULL AND expired = 0 AND expires_at < ?2 + 86400), 0),
                        coalesce(sum(record_count), 0)
                 FROM zones WHERE ?1 IS NULL OR account_id = ?1",
                params![account, now],
                |r| Ok([r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?]),
            )?;
            let mut stmt = c.prepare(
                "SELECT name, account_id, serial, expired, last_error, last_error_at, expires_at FROM zones
                 WHERE (?1 IS NULL OR account_id = ?1) AND (serial IS NULL OR expired = 1 OR last_error IS NOT NULL)
                 ORDER BY expired DESC, name LIMIT ?2",
            )?;
            let problems: Vec<Value> = stmt
                .query_map(params![account, MAX_LISTED], |r| {
                    let serial: Option<i64> = r.get(2)?;
                    let expired: bool = r.get(3)?;
                    let state = if expired {
                        "expired"
                    } else if serial.is_none() {
                        "bootstrapping"
                    } else {
                        "retrying"
                    };
                    Ok(json!({
                        "name": r.get::<_, String>(0)?,
                        "account_id": r.get::<_, i64>(1)?,
                        "state": state,
                        "serial": serial,
                        "last_error": r.get::<_, Option<String>>(4)?,
                        "last_error_at": opt_timestamp(r.get(5)?),
                        "expires_at": opt_timestamp(r.get(6)?),
                    }))
                })?
                .collect::<Result<_, _>>()?;
            Ok((counts, problems))
        })
        .await?;
    let ev = app.engine.scheduler.counts();
    let dns = &app.dns;
    Ok(data(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "zones": {
            "total": counts[0],
            "bootstrapping": counts[1],
            "ok": counts[2],
            "retrying": counts[3],
            "expired": counts[4],
            "expiring_within_24h": counts[5],
            "records": counts[6],
        },
        "not_in_sync": problems,
        "events": {
            "running": ev.running,
            "waiting": ev.waiting,
            "scheduled": ev.scheduled,
            "peak_running": ev.peak_running,
            "concurrency": ev.concurrency,
        },
        "notify": {
            "accepted": dns.notify_accepted.load(Ordering::Relaxed),
            "refused": dns.notify_refused.load(Ordering::Relaxed),
            "malformed_dropped": dns.malformed.load(Ordering::Relaxed),
            "other_opcodes": dns.not_implemented.load(Ordering::Relaxed),
        },
        "queries": {
            "noerror": dns.answered[0].load(Ordering::Relaxed),
            "formerr": dns.answered[1].load(Ordering::Relaxed),
            "servfail": dns.answered[2].load(Ordering::Relaxed),
            "nxdomain": dns.answered[3].load(Ordering::Relaxed),
            "notimp": dns.answered[4].load(Ordering::Relaxed),
            "refused": dns.answered[5].load(Ordering::Relaxed),
            "other": dns.answered[6].load(Ordering::Relaxed),
            "rate_limit": {
                "enabled": dns.rrl.enabled(),
                "dropped": dns.rrl.dropped.load(Ordering::Relaxed),
                "slipped": dns.rrl.slipped.load(Ordering::Relaxed),
            },
        },
        // Zone transfers to downstreams: finished, refused (any error
        // answer), failed midway (the client went away or stalled).
        "transfers_out": {
            "finished": dns.transfers_out.load(Ordering::Relaxed),
            "refused": dns.transfers_out_refused.load(Ordering::Relaxed),
            "failed": dns.transfers_out_failed.load(Ordering::Relaxed),
        },
    })))
}
