//! `GET /v2/status`: the daemon at a glance, for the caller's accounts: zones
//! per state, events running and waiting, zones expiring within 24 h, the zones
//! that are not in sync and why, and NOTIFY counters.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::Extension;
use rusqlite::params;

use super::error::ApiError;
use super::{data, opt_timestamp, timestamp, Access, App, One};
use crate::model::{
    EventCounts, NotInSync, NotifyCounters, QueryCounters, RateLimit, Status, StoreWriteError, TransfersOut,
    ZoneCounts, ZoneState,
};
use crate::store::now_secs;

/// At most this many zones are listed as not in sync.
const MAX_LISTED: i64 = 100;

pub async fn show(State(app): State<App>, Extension(access): Extension<Access>) -> Result<One<Status>, ApiError> {
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
            let problems: Vec<NotInSync> = stmt
                .query_map(params![account, MAX_LISTED], |r| {
                    let serial: Option<i64> = r.get(2)?;
                    let expired: bool = r.get(3)?;
                    let state = if expired {
                        ZoneState::Expired
                    } else if serial.is_none() {
                        ZoneState::Bootstrapping
                    } else {
                        ZoneState::Retrying
                    };
                    Ok(NotInSync {
                        name: r.get(0)?,
                        account_id: r.get(1)?,
                        state,
                        serial: serial.map(|s| s as u32),
                        last_error: r.get(4)?,
                        last_error_at: opt_timestamp(r.get(5)?),
                        expires_at: opt_timestamp(r.get(6)?),
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok((counts, problems))
        })
        .await?;
    let ev = app.engine.scheduler.counts();
    let dns = &app.dns;
    let count = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    // Daemon-wide figures only where every account is reachable.
    let all = account.is_none();
    Ok(data(Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        zones: ZoneCounts {
            total: counts[0],
            bootstrapping: counts[1],
            ok: counts[2],
            retrying: counts[3],
            expired: counts[4],
            expiring_within_24h: counts[5],
            records: counts[6],
        },
        not_in_sync: problems,
        events: all.then_some(EventCounts {
            running: ev.running as u64,
            waiting: ev.waiting as u64,
            scheduled: ev.scheduled as u64,
            peak_running: ev.peak_running as u64,
            concurrency: ev.concurrency as u64,
        }),
        notify: all.then_some(NotifyCounters {
            accepted: count(&dns.notify_accepted),
            refused: dns.notify_refused_total(),
            malformed_dropped: count(&dns.malformed),
            other_opcodes: count(&dns.not_implemented),
        }),
        queries: all.then_some(QueryCounters {
            noerror: count(&dns.answered[0]),
            formerr: count(&dns.answered[1]),
            servfail: count(&dns.answered[2]),
            nxdomain: count(&dns.answered[3]),
            notimp: count(&dns.answered[4]),
            refused: count(&dns.answered[5]),
            other: count(&dns.answered[6]),
            rate_limit: RateLimit {
                enabled: dns.rrl.enabled(),
                dropped: count(&dns.rrl.dropped),
                slipped: count(&dns.rrl.slipped),
            },
        }),
        // Zone transfers to downstreams: finished, refused (any error
        // answer), failed midway (the client went away or stalled).
        store_write_error: if all {
            app.engine
                .store_write_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|(message, at)| StoreWriteError { message: message.clone(), at: timestamp(*at) })
        } else {
            None
        },
        transfers_out: all.then_some(TransfersOut {
            finished: count(&dns.transfers_out),
            refused: count(&dns.transfers_out_refused),
            failed: count(&dns.transfers_out_failed),
        }),
    }))
}
